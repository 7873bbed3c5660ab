/* SPDX-License-Identifier: MIT */
/* The SQLite state store (the embedded default behind core/state.h).  WAL journal with synchronous=NORMAL: every commit
 * survives a killed process (kill -9), which is the failure the resume
 * logic is built for; the sinks fsync the mail itself.  Counters shown by
 * "mailferry status" are derived from the message rows, never stored
 * twice.  One connection per job; SQLite's busy timeout serialises writers
 * of parallel jobs. */
#include <config.h>
#include "state_sqlite_p.h"
#include "state_sqlite_schema.h"

#include <mailferry/util.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* schema_steps[k - 1] takes a version k file to version k + 1. */
static const char *const schema_steps[] = { NULL };

static const struct state_store_ops state_sqlite_ops;

static const char *const stmt_sql[ST_COUNT] = {
	[ST_STATUS] = "SELECT status, permanent FROM messages"
		      " WHERE folder_id=?1 AND uidvalidity=?2 AND source_id=?3",
	[ST_UPSERT_MSG] =
		"INSERT INTO messages(folder_id,uidvalidity,source_id,status,size,digest,"
		"target_folder,target_id,error,permanent,attempts,updated)"
		" VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,1,?11)"
		" ON CONFLICT(folder_id,uidvalidity,source_id) DO UPDATE SET status=?4,"
		" size=?5, digest=coalesce(?6,digest), target_folder=?7, target_id=?8, error=?9,"
		" permanent=?10, attempts=attempts+(?4<>'copied'), updated=?11",
	[ST_DIGEST] = "SELECT target_id FROM messages m WHERE folder_id=?1 AND digest=?3"
		      " AND uidvalidity<>?2 AND status='copied' AND NOT EXISTS("
		      " SELECT 1 FROM messages n WHERE n.folder_id=?1 AND n.uidvalidity=?2"
		      " AND n.target_id=m.target_id) LIMIT 1",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS mailboxes("
	" id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, source_uri TEXT, sink_uri TEXT,"
	" enabled INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL DEFAULT 'pending',"
	" last_error TEXT, started INTEGER, finished INTEGER);"
	"CREATE TABLE IF NOT EXISTS folders("
	" id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" path TEXT NOT NULL, target_path TEXT, uidvalidity INTEGER NOT NULL DEFAULT 0,"
	" last_uid INTEGER NOT NULL DEFAULT 0, sync_state TEXT, status TEXT, last_error TEXT,"
	" UNIQUE(mailbox_id, path));"
	"CREATE TABLE IF NOT EXISTS messages("
	" folder_id INTEGER NOT NULL REFERENCES folders(id), uidvalidity INTEGER NOT NULL,"
	" source_id TEXT NOT NULL, status TEXT NOT NULL, size INTEGER, digest BLOB,"
	" target_folder TEXT, target_id TEXT, error TEXT, permanent INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0, updated INTEGER,"
	" PRIMARY KEY(folder_id, uidvalidity, source_id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS messages_digest ON messages(folder_id, digest);"
	"CREATE INDEX IF NOT EXISTS messages_status ON messages(folder_id, status);"
	/* The dashboard's throughput over time (state_throughput) and totals:
	 * covering, so neither reads the table itself. */
	"CREATE INDEX IF NOT EXISTS messages_updated ON messages(updated, status, size);"
	"INSERT OR IGNORE INTO meta VALUES('schema_version', '" STR(SQLITE_SCHEMA_VERSION) "');";

/* SQLite says "database or disk is full" for ENOSPC on the file, its WAL
 * or its -shm: say which disk, and that a re-run after freeing space is
 * safe (an append not recorded as copied is still "pending" and is looked
 * up in the target before anything is appended again). */
static const char *full_hint(sqlite3 *h)
{
	return h != NULL && (sqlite3_extended_errcode(h) & 0xff) == SQLITE_FULL
		       ? " (no space left where the state file is: free space there and run "
			 "again)"
		       : "";
}

static int db_error(struct sqlite_state *db, struct mf_error *err, const char *what)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "state %s: %s: %s%s", db->path, what,
			    sqlite3_errmsg(db->db), full_hint(db->db));
}

static void sq_close(struct state_db *base);

int state_sqlite_open(const char *path, struct state_db **db_r, struct mf_error *err)
{
	struct sqlite_state *db = mf_xcalloc(1, sizeof(*db));
	db->base.ops = &state_sqlite_ops;
	db->path = mf_xstrdup(path);
	*db_r = NULL;
	if (sqlite3_open_v2(path, &db->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		int st = db_error(db, err, "cannot open");
		sq_close(&db->base);
		return st;
	}
	sqlite3_busy_timeout(db->db, 30000);
	char *msg = NULL;
	if (sqlite3_exec(db->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON;",
			 NULL, NULL, &msg) != SQLITE_OK) {
		int st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				      "state %s: cannot initialise: %s%s", path,
				      msg ? msg : "unknown error", full_hint(db->db));
		sqlite3_free(msg);
		sq_close(&db->base);
		return st;
	}
	/* Before creating anything: a newer file is refused untouched. */
	int up =
		state_sqlite_schema_upgrade(db->db, path, SQLITE_SCHEMA_VERSION, schema_steps, err);
	if (up != MF_OK) {
		sq_close(&db->base);
		return up;
	}
	if (sqlite3_exec(db->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		int st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				      "state %s: cannot initialise: %s%s", path,
				      msg ? msg : "unknown error", full_hint(db->db));
		sqlite3_free(msg);
		sq_close(&db->base);
		return st;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v2(db->db, stmt_sql[i], -1, &db->stmt[i], NULL) != SQLITE_OK) {
			int st = db_error(db, err, "prepare");
			sq_close(&db->base);
			return st;
		}
	}
	*db_r = &db->base;
	return MF_OK;
}

static void sq_close(struct state_db *base)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->stmt[i]);
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

/* Run a one-off statement with text/int parameters described by types:
 * 't' text, 'i' int64, 'n' null. */
static int exec_params(struct sqlite_state *db, struct mf_error *err, const char *sql,
		       const char *types, ...)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't') {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				sqlite3_bind_null(st, i + 1);
			else
				sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
		} else if (types[i] == 'i') {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else {
			sqlite3_bind_null(st, i + 1);
		}
	}
	va_end(ap);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_error(db, err, "write");
	return MF_OK;
}

static int sq_mailbox_begin(struct state_db *base, const char *name, const char *source_uri,
			    const char *sink_uri, int64_t *id_r, bool *enabled_r,
			    struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	int st = exec_params(db, err,
			     "INSERT INTO mailboxes(name,source_uri,sink_uri) VALUES(?1,?2,?3)"
			     " ON CONFLICT(name) DO UPDATE SET source_uri=?2, sink_uri=?3",
			     "ttt", name, source_uri, sink_uri);
	if (st != MF_OK)
		return st;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db->db, "SELECT id, enabled FROM mailboxes WHERE name=?1", -1, &q,
			       NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return db_error(db, err, "read mailbox");
	}
	*id_r = sqlite3_column_int64(q, 0);
	*enabled_r = sqlite3_column_int(q, 1) != 0;
	sqlite3_finalize(q);
	if (!*enabled_r)
		return exec_params(db, err, "UPDATE mailboxes SET status='disabled' WHERE id=?1",
				   "i", *id_r);
	return exec_params(db, err,
			   "UPDATE mailboxes SET status='running', last_error=NULL, started=?2,"
			   " finished=NULL WHERE id=?1",
			   "ii", *id_r, (int64_t)time(NULL));
}

static int sq_mailbox_finish(struct state_db *base, int64_t mailbox_id, const char *status,
			     const char *last_error, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	return exec_params(db, err,
			   "UPDATE mailboxes SET status=?2, last_error=?3, finished=?4 WHERE id=?1",
			   "itti", mailbox_id, status, last_error, (int64_t)time(NULL));
}

static int sq_mailbox_set_enabled(struct state_db *base, const char *name, bool enabled,
				  struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	int st =
		exec_params(db, err,
			    "UPDATE mailboxes SET enabled=?2, status=CASE WHEN ?2=0 THEN 'disabled'"
			    " WHEN status='disabled' THEN 'pending' ELSE status END WHERE name=?1",
			    "ti", name, (int64_t)enabled);
	if (st != MF_OK)
		return st;
	if (sqlite3_changes(db->db) == 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: no mailbox named '%s'", db->path, name);
	return MF_OK;
}

static int sq_folder_begin(struct state_db *base, int64_t mailbox_id, const char *path,
			   struct state_folder *f_r, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	memset(f_r, 0, sizeof(*f_r));
	int st =
		exec_params(db, err, "INSERT OR IGNORE INTO folders(mailbox_id,path) VALUES(?1,?2)",
			    "it", mailbox_id, path);
	if (st != MF_OK)
		return st;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT id, uidvalidity, last_uid, sync_state FROM folders"
			       " WHERE mailbox_id=?1 AND path=?2",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_int64(q, 1, mailbox_id);
	sqlite3_bind_text(q, 2, path, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return db_error(db, err, "read folder");
	}
	f_r->id = sqlite3_column_int64(q, 0);
	f_r->uidvalidity = (uint32_t)sqlite3_column_int64(q, 1);
	f_r->last_uid = (uint64_t)sqlite3_column_int64(q, 2);
	const unsigned char *ss = sqlite3_column_text(q, 3);
	f_r->sync_state = ss != NULL ? mf_xstrdup((const char *)ss) : NULL;
	sqlite3_finalize(q);
	return MF_OK;
}

static int sq_folder_save(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			  uint64_t last_uid, const char *sync_state, const char *target_path,
			  const char *status, const char *last_error, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	return exec_params(
		db, err,
		"UPDATE folders SET uidvalidity=?2, last_uid=?3,"
		" sync_state=coalesce(?4, sync_state), target_path=coalesce(?5, target_path),"
		" status=?6, last_error=?7 WHERE id=?1",
		"iiittt"
		"t",
		folder_id, (int64_t)uidvalidity, (int64_t)last_uid, sync_state, target_path, status,
		last_error);
}

static void bind_key(sqlite3_stmt *st, int64_t folder_id, uint32_t uidvalidity,
		     const char *source_id)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_text(st, 3, source_id, -1, SQLITE_STATIC);
}

static enum state_msg_status sq_message_status(struct state_db *base, int64_t folder_id,
					       uint32_t uidvalidity, const char *source_id)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st = db->stmt[ST_STATUS];
	enum state_msg_status r = STATE_MSG_NONE;
	bind_key(st, folder_id, uidvalidity, source_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(s, "copied") == 0)
			r = STATE_MSG_COPIED;
		else if (strcmp(s, "pending") == 0)
			r = STATE_MSG_PENDING;
		else if (sqlite3_column_int(st, 1) != 0)
			r = STATE_MSG_FAILED;
	}
	sqlite3_reset(st);
	return r;
}

static int upsert(struct sqlite_state *db, int64_t folder_id, uint32_t uidvalidity,
		  const char *source_id, const char *status, uint64_t size,
		  const unsigned char *digest, const char *target_folder, const char *target_id,
		  const char *error, bool permanent, struct mf_error *err)
{
	sqlite3_stmt *st = db->stmt[ST_UPSERT_MSG];
	bind_key(st, folder_id, uidvalidity, source_id);
	sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)size);
	if (digest != NULL)
		sqlite3_bind_blob(st, 6, digest, 32, SQLITE_STATIC);
	if (target_folder != NULL)
		sqlite3_bind_text(st, 7, target_folder, -1, SQLITE_STATIC);
	if (target_id != NULL)
		sqlite3_bind_text(st, 8, target_id, -1, SQLITE_STATIC);
	if (error != NULL)
		sqlite3_bind_text(st, 9, error, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 10, permanent ? 1 : 0);
	sqlite3_bind_int64(st, 11, (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(db, err, "record message");
	return MF_OK;
}

static int sq_message_pending(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			      const char *source_id, uint64_t size, const unsigned char digest[32],
			      struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	return upsert(db, folder_id, uidvalidity, source_id, "pending", size, digest, NULL, NULL,
		      NULL, false, err);
}

static int sq_message_copied(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     const char *source_id, uint64_t size, const unsigned char digest[32],
			     const char *target_folder, const char *target_id, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	return upsert(db, folder_id, uidvalidity, source_id, "copied", size, digest, target_folder,
		      target_id, NULL, false, err);
}

static int sq_message_failed(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     const char *source_id, uint64_t size, bool permanent,
			     const char *error_text, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	return upsert(db, folder_id, uidvalidity, source_id, "failed", size, NULL, NULL, NULL,
		      error_text, permanent, err);
}

static bool sq_digest_match(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			    const unsigned char digest[32], char target_id[128])
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *st = db->stmt[ST_DIGEST];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_blob(st, 3, digest, 32, SQLITE_STATIC);
	bool found = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(target_id, 128, "%s", t ? (const char *)t : "");
		found = true;
	}
	sqlite3_reset(st);
	return found;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? (const char *)t : NULL;
}

static int sq_status_foreach(struct state_db *base, const char *only_name, state_status_cb *cb,
			     void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	static const char sql[] =
		"SELECT b.name, b.source_uri, b.sink_uri, b.status, b.last_error, b.enabled,"
		" coalesce(b.started,0), coalesce(b.finished,0),"
		" (SELECT count(*) FROM folders f WHERE f.mailbox_id=b.id),"
		" coalesce(sum(m.status='copied'),0), coalesce(sum(CASE WHEN m.status='copied'"
		"  THEN m.size END),0), coalesce(sum(m.status='failed'),0),"
		" coalesce(sum(m.status='pending'),0)"
		" FROM mailboxes b LEFT JOIN folders f ON f.mailbox_id=b.id"
		" LEFT JOIN messages m ON m.folder_id=f.id"
		" WHERE ?1 IS NULL OR b.name=?1 GROUP BY b.id ORDER BY b.name";
	if (sqlite3_prepare_v2(db->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	if (only_name != NULL)
		sqlite3_bind_text(q, 1, only_name, -1, SQLITE_TRANSIENT);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW) {
		struct state_mailbox_status s = {
			.name = col_text(q, 0),
			.source_uri = col_text(q, 1),
			.sink_uri = col_text(q, 2),
			.status = col_text(q, 3),
			.last_error = col_text(q, 4),
			.enabled = sqlite3_column_int(q, 5) != 0,
			.started = sqlite3_column_int64(q, 6),
			.finished = sqlite3_column_int64(q, 7),
			.folders = (uint64_t)sqlite3_column_int64(q, 8),
			.copied = (uint64_t)sqlite3_column_int64(q, 9),
			.copied_bytes = (uint64_t)sqlite3_column_int64(q, 10),
			.failed = (uint64_t)sqlite3_column_int64(q, 11),
			.pending = (uint64_t)sqlite3_column_int64(q, 12),
		};
		rc = cb(&s, aux);
	}
	sqlite3_finalize(q);
	return rc;
}

static int sq_failures_foreach(struct state_db *base, const char *mailbox_name,
			       state_failure_cb *cb, void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
		    db->db,
		    "SELECT f.path, m.source_id, m.error FROM messages m"
		    " JOIN folders f ON f.id=m.folder_id JOIN mailboxes b ON b.id=f.mailbox_id"
		    " WHERE b.name=?1 AND m.status='failed' ORDER BY f.path, m.source_id",
		    -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_text(q, 1, mailbox_name, -1, SQLITE_TRANSIENT);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW) {
		struct state_failure f = { col_text(q, 0), col_text(q, 1), col_text(q, 2) };
		rc = cb(&f, aux);
	}
	sqlite3_finalize(q);
	return rc;
}

static int sq_folder_targets(struct state_db *base, const char *mailbox_name,
			     state_folder_target_cb *cb, void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT f.path, f.target_path,"
			       " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
			       "  AND m.status='copied'),"
			       " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
			       "  AND m.status='failed'), f.status, f.last_error"
			       " FROM folders f JOIN mailboxes b ON b.id=f.mailbox_id"
			       " WHERE b.name=?1 ORDER BY f.path",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_text(q, 1, mailbox_name, -1, SQLITE_TRANSIENT);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW) {
		struct state_folder_target t = { col_text(q, 0),
						 col_text(q, 1),
						 (uint64_t)sqlite3_column_int64(q, 2),
						 (uint64_t)sqlite3_column_int64(q, 3),
						 col_text(q, 4),
						 col_text(q, 5) };
		rc = cb(&t, aux);
	}
	sqlite3_finalize(q);
	return rc;
}

static int sq_retry_folders(struct state_db *base, const char *mailbox_name,
			    state_retry_folder_cb *cb, void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	/* Rows of an older uidvalidity name messages the source no longer
	 * numbers that way; the folder's own one is what a retry can find. */
	if (sqlite3_prepare_v2(
		    db->db,
		    "SELECT path, status, nf, np FROM (SELECT f.path, f.status,"
		    " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
		    "  AND m.uidvalidity=f.uidvalidity AND m.status='failed') nf,"
		    " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
		    "  AND m.uidvalidity=f.uidvalidity AND m.status='pending') np"
		    " FROM folders f JOIN mailboxes b ON b.id=f.mailbox_id WHERE b.name=?1)"
		    " WHERE status='failed' OR nf>0 OR np>0 ORDER BY path",
		    -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_text(q, 1, mailbox_name, -1, SQLITE_TRANSIENT);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW) {
		struct state_retry_folder f = { col_text(q, 0), col_text(q, 1),
						(uint64_t)sqlite3_column_int64(q, 2),
						(uint64_t)sqlite3_column_int64(q, 3) };
		rc = cb(&f, aux);
	}
	sqlite3_finalize(q);
	return rc;
}

static int sq_retry_messages(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     state_id_cb *cb, void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
		    db->db,
		    "SELECT source_id FROM messages WHERE folder_id=?1 AND uidvalidity=?2"
		    " AND status IN ('failed','pending')",
		    -1, &q, NULL) != SQLITE_OK)
		return db_error(db, err, "prepare");
	sqlite3_bind_int64(q, 1, folder_id);
	sqlite3_bind_int64(q, 2, uidvalidity);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW)
		rc = cb(col_text(q, 0), aux);
	sqlite3_finalize(q);
	return rc;
}

static const struct state_store_ops state_sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.mailbox_begin = sq_mailbox_begin,
	.mailbox_finish = sq_mailbox_finish,
	.mailbox_set_enabled = sq_mailbox_set_enabled,
	.folder_begin = sq_folder_begin,
	.folder_save = sq_folder_save,
	.message_status = sq_message_status,
	.message_pending = sq_message_pending,
	.message_copied = sq_message_copied,
	.message_failed = sq_message_failed,
	.digest_match = sq_digest_match,
	.status_foreach = sq_status_foreach,
	.failures_foreach = sq_failures_foreach,
	.folder_targets = sq_folder_targets,
	.retry_folders = sq_retry_folders,
	.retry_messages = sq_retry_messages,
	.mailboxes_declare = sq_mailboxes_declare,
	.mailbox_page = sq_mailbox_page,
	.totals = sq_totals,
	.throughput = sq_throughput,
};
