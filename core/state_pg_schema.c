/* SPDX-License-Identifier: MIT */
/* Which schema a PostgreSQL state database holds, and moving an older
 * one forward (the PostgreSQL twin of state_sqlite_schema.c).  The
 * database is stamped with its schema version in meta; a binary refuses
 * a newer one, naming both versions (its writer may rely on columns or
 * meanings this one would break: with several workers, an old one left
 * running after an upgrade must stop, not write), and upgrades an older
 * one step by step.  The caller holds a transaction and the schema lock,
 * so a failed upgrade leaves the database as it was and two workers
 * never upgrade at once. */
#include <config.h>
#include "state_pg_p.h"

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1: no meta table (a new database); -2: a stamp that is not a version;
 * -3: the query failed. */
static int read_version(PGconn *conn)
{
	PGresult *r = PQexec(conn, "SELECT to_regclass('meta') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -3;
	}
	bool have = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!have)
		return -1;
	r = PQexec(conn, "SELECT value FROM meta WHERE key='schema_version'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -3;
	}
	int v = -1;
	if (PQntuples(r) == 1) {
		const char *t = PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
		char *end = NULL;
		long n = t != NULL ? strtol(t, &end, 10) : -1;
		v = t != NULL && *t != '\0' && *end == '\0' && n >= 1 && n < 1000000 ? (int)n : -2;
	}
	PQclear(r);
	return v;
}

static const char *first_line(PGconn *conn, char *buf, size_t len)
{
	snprintf(buf, len, "%s", PQerrorMessage(conn));
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int state_pg_schema_check(PGconn *conn, const char *display, int known, const char *const *steps,
			  bool *fresh_r, struct mf_error *err)
{
	char buf[400];
	*fresh_r = false;
	int v = read_version(conn);
	if (v == -3)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: cannot read the schema version: %s", display,
				    first_line(conn, buf, sizeof(buf)));
	if (v == -1) {
		*fresh_r = true;
		return MF_OK; /* created from scratch at the current version */
	}
	if (v == -2)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: unreadable schema version: not a mailferry state "
				    "database, or a damaged one",
				    display);
	if (v > known)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: schema version %d, written by a newer mailferry; "
				    "this one (%s) knows schema versions up to %d: run the newer "
				    "mailferry on it (every worker), or use another database",
				    display, v, PACKAGE_VERSION, known);
	for (int from = v; from < known; from++) {
		PGresult *r = PQexec(conn, steps[from - 1]);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
			  PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (!ok)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "state %s: cannot upgrade schema %d to %d: %s (the "
					    "database is unchanged)",
					    display, v, known, first_line(conn, buf, sizeof(buf)));
	}
	if (v < known) {
		char *sql = mf_xasprintf("UPDATE meta SET value='%d' WHERE key='schema_version'",
					 known);
		PGresult *r = PQexec(conn, sql);
		free(sql);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "state %s: cannot upgrade schema %d to %d: %s (the "
					    "database is unchanged)",
					    display, v, known, first_line(conn, buf, sizeof(buf)));
	}
	return MF_OK;
}
