/* SPDX-License-Identifier: MIT */
/* Which schema a SQLite state file holds, and moving an older one
 * forward.  A file is stamped with its schema version in meta; a binary
 * refuses a file newer than it knows (its writer may rely on columns or
 * meanings this one would break), naming both versions, and upgrades an
 * older one by running the steps between them in one transaction, so a
 * failed upgrade leaves the file as it was. */
#include <config.h>
#include "state_sqlite_schema.h"

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1: no stamp (a new file); -2: a stamp that is not a version. */
static int read_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st,
			       NULL) != SQLITE_OK)
		return -1; /* no meta table: nothing written yet */
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		char *end = NULL;
		long n = t != NULL ? strtol(t, &end, 10) : -1;
		v = t != NULL && *t != '\0' && *end == '\0' && n >= 1 && n < 1000000 ? (int)n : -2;
	}
	sqlite3_finalize(st);
	return v;
}

int state_sqlite_schema_upgrade(sqlite3 *db, const char *path, int known, const char *const *steps,
				struct mf_error *err)
{
	int v = read_version(db);
	if (v == -1)
		return MF_OK; /* created from scratch at the current version */
	if (v == -2)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: unreadable schema version: not a mailferry state "
				    "file, or a damaged one",
				    path);
	if (v > known)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: schema version %d, written by a newer mailferry; "
				    "this one (%s) knows schema versions up to %d: run the newer "
				    "mailferry on it, or start a new --state file",
				    path, v, PACKAGE_VERSION, known);
	if (v == known)
		return MF_OK;
	char *msg = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	for (int from = v; rc == SQLITE_OK && from < known; from++)
		rc = sqlite3_exec(db, steps[from - 1], NULL, NULL, &msg);
	if (rc == SQLITE_OK) {
		char *sql = mf_xasprintf("UPDATE meta SET value='%d' WHERE key='schema_version'",
					 known);
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
		free(sql);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				      "state %s: cannot upgrade schema %d to %d: %s (the file is "
				      "unchanged)",
				      path, v, known, msg != NULL ? msg : "error");
		sqlite3_free(msg);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return st;
	}
	return MF_OK;
}
