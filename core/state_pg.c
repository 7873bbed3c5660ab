/* SPDX-License-Identifier: MIT */
/* The PostgreSQL state store (--state postgresql://...), for several
 * workers on one migration: the same tables and meanings as the SQLite
 * store (state_sqlite.c), over libpq.  Every call is one statement in
 * autocommit, so it is committed when it returns and may be sent again
 * after a dropped connection: pg_run() reconnects (PQreset, back-off) and
 * repeats it.  A mailbox is worked on by one job at a time across all
 * workers: mailbox_begin takes a session advisory lock on it, which the
 * server drops by itself when the worker's connection ends (kill -9, a
 * lost machine), and refuses a mailbox another worker holds, naming it.
 * The URL may carry a password (so may PGPASSWORD or ~/.pgpass): it is
 * handed to libpq only; messages name the server as user@host:port/db. */
#include <config.h>
#include "state_pg_p.h"
#include "host.h"
#include "log.h"

#include <mailferry/util.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)
/* pg_advisory_lock(class, key) classes: ours, not another program's. */
#define LOCK_SCHEMA "1835430001, 0"

/* schema_steps[k - 1] takes a version k database to version k + 1. */
static const char *const schema_steps[] = {
	/* 1 -> 2: leases and runs for several workers (the new tables come
	 * from schema_sql, which runs after the steps). */
	"ALTER TABLE mailboxes ADD COLUMN IF NOT EXISTS lease_until bigint,"
	" ADD COLUMN IF NOT EXISTS heartbeat bigint, ADD COLUMN IF NOT EXISTS run_id bigint,"
	" ADD COLUMN IF NOT EXISTS run_done bigint",
	NULL,
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY, value text);"
	"CREATE TABLE IF NOT EXISTS mailboxes("
	" id bigserial PRIMARY KEY, name text UNIQUE NOT NULL, source_uri text, sink_uri text,"
	" enabled boolean NOT NULL DEFAULT true, status text NOT NULL DEFAULT 'pending',"
	" last_error text, started bigint, finished bigint, worker text,"
	" lease_until bigint, heartbeat bigint, run_id bigint, run_done bigint);"
	"CREATE INDEX IF NOT EXISTS mailboxes_run ON mailboxes(run_id, run_done);"
	"CREATE TABLE IF NOT EXISTS runs(id bigserial PRIMARY KEY, key text NOT NULL,"
	" started bigint NOT NULL, finished bigint);"
	"CREATE UNIQUE INDEX IF NOT EXISTS runs_open ON runs(key) WHERE finished IS NULL;"
	"CREATE TABLE IF NOT EXISTS workers(name text PRIMARY KEY, run_id bigint,"
	" started bigint, heartbeat bigint, left_at bigint, lease_s integer);"
	"CREATE TABLE IF NOT EXISTS buckets(name text PRIMARY KEY, tokens float8 NOT NULL,"
	" updated float8 NOT NULL);"
	"CREATE TABLE IF NOT EXISTS folders("
	" id bigserial PRIMARY KEY, mailbox_id bigint NOT NULL REFERENCES mailboxes(id),"
	" path text NOT NULL, target_path text, uidvalidity bigint NOT NULL DEFAULT 0,"
	" last_uid bigint NOT NULL DEFAULT 0, sync_state text, status text, last_error text,"
	" UNIQUE(mailbox_id, path));"
	"CREATE TABLE IF NOT EXISTS messages("
	" folder_id bigint NOT NULL REFERENCES folders(id), uidvalidity bigint NOT NULL,"
	" source_id text NOT NULL, status text NOT NULL, size bigint, digest bytea,"
	" target_folder text, target_id text, error text, permanent boolean NOT NULL DEFAULT false,"
	" attempts integer NOT NULL DEFAULT 0, updated bigint,"
	" PRIMARY KEY(folder_id, uidvalidity, source_id));"
	"CREATE INDEX IF NOT EXISTS messages_digest ON messages(folder_id, digest);"
	"CREATE INDEX IF NOT EXISTS messages_status ON messages(folder_id, status);"
	"CREATE INDEX IF NOT EXISTS messages_updated ON messages(updated, status, size);"
	"INSERT INTO meta VALUES('schema_version', '" STR(
		PG_SCHEMA_VERSION) "')"
				   " ON CONFLICT DO NOTHING;";

static const struct state_store_ops state_pg_ops;

/* postgresql://user@host:port/db from the URL's parts, without its
 * password: the name every message uses. */
static char *display_name(const char *location)
{
	char *perr = NULL;
	PQconninfoOption *o = PQconninfoParse(location, &perr);
	/* libpq's parse message may quote the URL (and so a password). */
	PQfreemem(perr);
	if (o == NULL)
		return mf_xstrdup("postgresql://(unparsable URL)");
	const char *user = NULL, *host = NULL, *port = NULL, *dbname = NULL;
	for (PQconninfoOption *i = o; i->keyword != NULL; i++) {
		if (i->val == NULL || i->val[0] == '\0')
			continue;
		if (strcmp(i->keyword, "user") == 0)
			user = i->val;
		else if (strcmp(i->keyword, "host") == 0 ||
			 (strcmp(i->keyword, "hostaddr") == 0 && host == NULL))
			host = i->val;
		else if (strcmp(i->keyword, "port") == 0)
			port = i->val;
		else if (strcmp(i->keyword, "dbname") == 0)
			dbname = i->val;
	}
	char *s = mf_xasprintf("postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
			       host ? host : "localhost", port ? ":" : "", port ? port : "",
			       dbname ? dbname : "");
	PQconninfoFree(o);
	return s;
}

static void pg_close(struct state_db *base);

/* The server's NOTICEs ("relation already exists, skipping") go to the
 * debug log, not to the terminal as libpq would print them. */
static void on_notice(void *arg, const char *message)
{
	const struct pg_state *db = arg;
	log_msg(MF_LOG_DEBUG, "state %s: %.*s", db->display, (int)strcspn(message, "\n"), message);
}

static int open_error(struct pg_state *db, struct mf_error *err, const char *what)
{
	char buf[400];
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "state %s: %s: %s", db->display,
			    what, pg_one_line(db->conn, buf, sizeof(buf)));
}

static bool exec_ok(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

/* Create or check the tables, one worker at a time (several starting at
 * once would race on CREATE TABLE), in one transaction: a refused or
 * failed upgrade leaves the database as it was. */
static int setup_schema(struct pg_state *db, struct mf_error *err)
{
	if (!exec_ok(db->conn, "BEGIN") ||
	    !exec_ok(db->conn, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")"))
		return open_error(db, err, "cannot start the schema check");
	bool fresh = false;
	int st = state_pg_schema_check(db->conn, db->display, PG_SCHEMA_VERSION, schema_steps,
				       &fresh, err);
	/* CREATE ... IF NOT EXISTS also on a stamped database: cheap, and an
	 * index added within one version appears. */
	if (st == MF_OK && !exec_ok(db->conn, schema_sql))
		st = open_error(db, err, "cannot create the tables");
	if (st == MF_OK && !exec_ok(db->conn, "COMMIT"))
		st = open_error(db, err, "cannot create the tables");
	if (st != MF_OK)
		exec_ok(db->conn, "ROLLBACK");
	return st;
}

int state_pg_open(const char *location, struct state_db **db_r, struct mf_error *err)
{
	*db_r = NULL;
	struct pg_state *db = mf_xcalloc(1, sizeof(*db));
	db->base.ops = &state_pg_ops;
	db->location = mf_xstrdup(location);
	db->display = display_name(location);
	/* Defaults the URL may override (it comes last): a dead server is
	 * noticed within minutes, not at the kernel's TCP timeout. */
	const char *const keys[] = { "fallback_application_name",
				     "connect_timeout",
				     "keepalives_idle",
				     "keepalives_interval",
				     "keepalives_count",
				     "dbname",
				     NULL };
	const char *const vals[] = { "mailferry", "15", "30", "10", "3", location, NULL };
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK)
		pg_connect_wait(db);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		int st = open_error(db, err, "cannot connect");
		pg_close(&db->base);
		return st;
	}
	PQsetNoticeProcessor(db->conn, on_notice, db);
	pg_session_setup(db);
	int st = setup_schema(db, err);
	if (st != MF_OK) {
		pg_close(&db->base);
		return st;
	}
	*db_r = &db->base;
	return MF_OK;
}

static void pg_close(struct state_db *base)
{
	struct pg_state *db = (struct pg_state *)base;
	PQfinish(db->conn);
	if (db->location != NULL)
		explicit_bzero(db->location, strlen(db->location));
	free(db->location);
	free(db->slots);
	free(db->display);
	free(db);
}

static int pg_mailbox_begin(struct state_db *base, const char *name, const char *source_uri,
			    const char *sink_uri, int64_t *id_r, bool *enabled_r,
			    struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, name);
	pg_param_text(&p, source_uri);
	pg_param_text(&p, sink_uri);
	PGresult *r = pg_run(db, "record mailbox",
			     "INSERT INTO mailboxes(name,source_uri,sink_uri) VALUES($1,$2,$3)"
			     " ON CONFLICT(name) DO UPDATE SET source_uri=EXCLUDED.source_uri,"
			     " sink_uri=EXCLUDED.sink_uri RETURNING id, enabled, worker",
			     &p, err);
	if (r == NULL)
		return err->status;
	int64_t id = pg_int(r, 0, 0);
	bool enabled = pg_int(r, 0, 1) != 0;
	p.n = 0;
	pg_param_int(&p, id & 0x7fffffff);
	PGresult *l = pg_run(db, "lock mailbox",
			     "SELECT pg_try_advisory_lock(" LOCK_MAILBOX ", $1::int)", &p, err);
	if (l == NULL) {
		PQclear(r);
		return err->status;
	}
	bool locked = PQntuples(l) == 1 && PQgetvalue(l, 0, 0)[0] == 't';
	PQclear(l);
	if (!locked) {
		/* Not *id_r: the caller's finish must not touch the row the
		 * other worker is writing. */
		int st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				      "state %s: mailbox %s is being migrated by another worker "
				      "(%s); skipped here",
				      db->display, name,
				      pg_text(r, 0, 2) ? pg_text(r, 0, 2) : "unknown");
		err->sys_errno = EBUSY;
		PQclear(r);
		return st;
	}
	PQclear(r);
	db->locked_mailbox = id;
	*id_r = id;
	*enabled_r = enabled;
	p.n = 0;
	pg_param_int(&p, id);
	if (!enabled) {
		int st = pg_run_only(db, "record mailbox",
				     "UPDATE mailboxes SET status='disabled' WHERE id=$1", &p, err);
		PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock_all()"));
		db->locked_mailbox = 0;
		return st;
	}
	pg_param_int(&p, (int64_t)time(NULL));
	pg_param_text(&p, state_worker_name());
	int st = pg_run_only(db, "record mailbox",
			     "UPDATE mailboxes SET status='running', last_error=NULL, started=$2,"
			     " finished=NULL, worker=$3 WHERE id=$1",
			     &p, err);
	return st;
}

static int pg_mailbox_finish(struct state_db *base, int64_t mailbox_id, const char *status,
			     const char *last_error, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, mailbox_id);
	pg_param_text(&p, status);
	pg_param_text(&p, last_error);
	pg_param_int(&p, (int64_t)time(NULL));
	pg_param_text(&p, state_worker_name());
	/* Only while this worker holds it: one that lost its lease (the
	 * database was away longer than the lease) must not overwrite what
	 * the worker that took the mailbox over records. */
	int st =
		pg_run_only(db, "record mailbox",
			    "UPDATE mailboxes SET status=$2, last_error=$3, finished=$4 WHERE id=$1"
			    " AND (worker IS NULL OR worker=$5)",
			    &p, err);
	if (db->locked_mailbox == mailbox_id) {
		PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock_all()"));
		db->locked_mailbox = 0;
	}
	return st;
}

static int pg_mailbox_set_enabled(struct state_db *base, const char *name, bool enabled,
				  struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, name);
	pg_param_text(&p, enabled ? "t" : "f");
	PGresult *r = pg_run(db, "record mailbox",
			     "UPDATE mailboxes SET enabled=$2::boolean, status=CASE WHEN NOT"
			     " $2::boolean THEN 'disabled' WHEN status='disabled' THEN 'pending'"
			     " ELSE status END WHERE name=$1",
			     &p, err);
	if (r == NULL)
		return err->status;
	bool none = strcmp(PQcmdTuples(r), "0") == 0;
	PQclear(r);
	if (none)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: no mailbox named '%s'", db->display, name);
	return MF_OK;
}

static int pg_folder_begin(struct state_db *base, int64_t mailbox_id, const char *path,
			   struct state_folder *f_r, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	memset(f_r, 0, sizeof(*f_r));
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, mailbox_id);
	pg_param_text(&p, path);
	int st = pg_run_only(
		db, "record folder",
		"INSERT INTO folders(mailbox_id,path) VALUES($1,$2) ON CONFLICT DO NOTHING", &p,
		err);
	if (st != MF_OK)
		return st;
	PGresult *r = pg_run(db, "read folder",
			     "SELECT id, uidvalidity, last_uid, sync_state FROM folders"
			     " WHERE mailbox_id=$1 AND path=$2",
			     &p, err);
	if (r == NULL)
		return err->status;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %s: read folder: %s vanished", db->display, path);
	}
	f_r->id = pg_int(r, 0, 0);
	f_r->uidvalidity = (uint32_t)pg_int(r, 0, 1);
	f_r->last_uid = (uint64_t)pg_int(r, 0, 2);
	const char *ss = pg_text(r, 0, 3);
	f_r->sync_state = ss != NULL ? mf_xstrdup(ss) : NULL;
	PQclear(r);
	return MF_OK;
}

static int pg_folder_save(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			  uint64_t last_uid, const char *sync_state, const char *target_path,
			  const char *status, const char *last_error, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, folder_id);
	pg_param_int(&p, uidvalidity);
	pg_param_int(&p, (int64_t)last_uid);
	pg_param_text(&p, sync_state);
	pg_param_text(&p, target_path);
	pg_param_text(&p, status);
	pg_param_text(&p, last_error);
	return pg_run_only(
		db, "record folder",
		"UPDATE folders SET uidvalidity=$2, last_uid=$3,"
		" sync_state=coalesce($4, sync_state), target_path=coalesce($5, target_path),"
		" status=$6, last_error=$7 WHERE id=$1",
		&p, err);
}

static void key_params(struct pg_params *p, int64_t folder_id, uint32_t uidvalidity,
		       const char *source_id)
{
	p->n = 0;
	pg_param_int(p, folder_id);
	pg_param_int(p, uidvalidity);
	pg_param_text(p, source_id);
}

static enum state_msg_status pg_message_status(struct state_db *base, int64_t folder_id,
					       uint32_t uidvalidity, const char *source_id)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p;
	struct mf_error err;
	key_params(&p, folder_id, uidvalidity, source_id);
	/* On an error NONE: the next write (pending) fails too and stops the
	 * folder before anything is appended. */
	PGresult *r = pg_run(db, "read message",
			     "SELECT status, permanent FROM messages"
			     " WHERE folder_id=$1 AND uidvalidity=$2 AND source_id=$3",
			     &p, &err);
	enum state_msg_status s = STATE_MSG_NONE;
	if (r != NULL && PQntuples(r) == 1) {
		const char *t = PQgetvalue(r, 0, 0);
		if (strcmp(t, "copied") == 0)
			s = STATE_MSG_COPIED;
		else if (strcmp(t, "pending") == 0)
			s = STATE_MSG_PENDING;
		else if (pg_int(r, 0, 1) != 0)
			s = STATE_MSG_FAILED;
	}
	PQclear(r);
	return s;
}

static int upsert(struct pg_state *db, int64_t folder_id, uint32_t uidvalidity,
		  const char *source_id, const char *status, uint64_t size,
		  const unsigned char *digest, const char *target_folder, const char *target_id,
		  const char *error, bool permanent, struct mf_error *err)
{
	struct pg_params p;
	key_params(&p, folder_id, uidvalidity, source_id);
	pg_param_text(&p, status);
	pg_param_int(&p, (int64_t)size);
	pg_param_bytes(&p, digest, 32);
	pg_param_text(&p, target_folder);
	pg_param_text(&p, target_id);
	pg_param_text(&p, error);
	pg_param_text(&p, permanent ? "t" : "f");
	pg_param_int(&p, (int64_t)time(NULL));
	return pg_run_only(
		db, "record message",
		"INSERT INTO messages(folder_id,uidvalidity,source_id,status,size,digest,"
		"target_folder,target_id,error,permanent,attempts,updated)"
		" VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::boolean,1,$11)"
		" ON CONFLICT(folder_id,uidvalidity,source_id) DO UPDATE SET"
		" status=EXCLUDED.status, size=EXCLUDED.size,"
		" digest=coalesce(EXCLUDED.digest, messages.digest),"
		" target_folder=EXCLUDED.target_folder, target_id=EXCLUDED.target_id,"
		" error=EXCLUDED.error, permanent=EXCLUDED.permanent,"
		" attempts=messages.attempts+(EXCLUDED.status<>'copied')::int,"
		" updated=EXCLUDED.updated",
		&p, err);
}

static int pg_message_pending(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			      const char *source_id, uint64_t size, const unsigned char digest[32],
			      struct mf_error *err)
{
	return upsert((struct pg_state *)base, folder_id, uidvalidity, source_id, "pending", size,
		      digest, NULL, NULL, NULL, false, err);
}

static int pg_message_copied(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     const char *source_id, uint64_t size, const unsigned char digest[32],
			     const char *target_folder, const char *target_id, struct mf_error *err)
{
	return upsert((struct pg_state *)base, folder_id, uidvalidity, source_id, "copied", size,
		      digest, target_folder, target_id, NULL, false, err);
}

static int pg_message_failed(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     const char *source_id, uint64_t size, bool permanent,
			     const char *error_text, struct mf_error *err)
{
	return upsert((struct pg_state *)base, folder_id, uidvalidity, source_id, "failed", size,
		      NULL, NULL, NULL, error_text, permanent, err);
}

static bool pg_digest_match(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			    const unsigned char digest[32], char target_id[128])
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	struct mf_error err;
	pg_param_int(&p, folder_id);
	pg_param_int(&p, uidvalidity);
	pg_param_bytes(&p, digest, 32);
	PGresult *r = pg_run(db, "read message",
			     "SELECT target_id FROM messages m WHERE folder_id=$1 AND digest=$3"
			     " AND uidvalidity<>$2 AND status='copied' AND NOT EXISTS("
			     " SELECT 1 FROM messages n WHERE n.folder_id=$1 AND n.uidvalidity=$2"
			     " AND n.target_id=m.target_id) LIMIT 1",
			     &p, &err);
	bool found = r != NULL && PQntuples(r) == 1;
	if (found)
		snprintf(target_id, 128, "%s", pg_text(r, 0, 0) ? pg_text(r, 0, 0) : "");
	PQclear(r);
	return found;
}

static int pg_status_foreach(struct state_db *base, const char *only_name, state_status_cb *cb,
			     void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, only_name);
	PGresult *r =
		pg_run(db, "read status",
		       PG_STATUS_COLUMNS " FROM mailboxes b" PG_STATUS_JOINS
					 " WHERE $1::text IS NULL OR b.name=$1" PG_STATUS_GROUP
					 " ORDER BY b.name COLLATE \"C\"",
		       &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++) {
		struct state_mailbox_status s;
		pg_status_row(r, i, &s);
		rc = cb(&s, aux);
	}
	PQclear(r);
	return rc;
}

static int pg_failures_foreach(struct state_db *base, const char *mailbox_name,
			       state_failure_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, mailbox_name);
	PGresult *r =
		pg_run(db, "read failures",
		       "SELECT f.path, m.source_id, m.error FROM messages m"
		       " JOIN folders f ON f.id=m.folder_id JOIN mailboxes b ON b.id=f.mailbox_id"
		       " WHERE b.name=$1 AND m.status='failed'"
		       " ORDER BY f.path COLLATE \"C\", m.source_id COLLATE \"C\"",
		       &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++) {
		struct state_failure f = { pg_text(r, i, 0), pg_text(r, i, 1), pg_text(r, i, 2) };
		rc = cb(&f, aux);
	}
	PQclear(r);
	return rc;
}

static int pg_folder_targets(struct state_db *base, const char *mailbox_name,
			     state_folder_target_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, mailbox_name);
	PGresult *r = pg_run(db, "read folders",
			     "SELECT f.path, f.target_path,"
			     " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
			     "  AND m.status='copied'),"
			     " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
			     "  AND m.status='failed'), f.status, f.last_error"
			     " FROM folders f JOIN mailboxes b ON b.id=f.mailbox_id"
			     " WHERE b.name=$1 ORDER BY f.path COLLATE \"C\"",
			     &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++) {
		struct state_folder_target t = {
			pg_text(r, i, 0),          pg_text(r, i, 1), (uint64_t)pg_int(r, i, 2),
			(uint64_t)pg_int(r, i, 3), pg_text(r, i, 4), pg_text(r, i, 5)
		};
		rc = cb(&t, aux);
	}
	PQclear(r);
	return rc;
}

static int pg_retry_folders(struct state_db *base, const char *mailbox_name,
			    state_retry_folder_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, mailbox_name);
	/* As the SQLite store: only rows under the folder's own uidvalidity. */
	PGresult *r =
		pg_run(db, "read failures",
		       "SELECT path, status, nf, np FROM (SELECT f.path, f.status,"
		       " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
		       "  AND m.uidvalidity=f.uidvalidity AND m.status='failed') nf,"
		       " (SELECT count(*) FROM messages m WHERE m.folder_id=f.id"
		       "  AND m.uidvalidity=f.uidvalidity AND m.status='pending') np"
		       " FROM folders f JOIN mailboxes b ON b.id=f.mailbox_id WHERE b.name=$1) x"
		       " WHERE status='failed' OR nf>0 OR np>0 ORDER BY path COLLATE \"C\"",
		       &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++) {
		struct state_retry_folder f = { pg_text(r, i, 0), pg_text(r, i, 1),
						(uint64_t)pg_int(r, i, 2),
						(uint64_t)pg_int(r, i, 3) };
		rc = cb(&f, aux);
	}
	PQclear(r);
	return rc;
}

static int pg_retry_messages(struct state_db *base, int64_t folder_id, uint32_t uidvalidity,
			     state_id_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, folder_id);
	pg_param_int(&p, uidvalidity);
	PGresult *r = pg_run(db, "read failures",
			     "SELECT source_id FROM messages WHERE folder_id=$1 AND uidvalidity=$2"
			     " AND status IN ('failed','pending')",
			     &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++)
		rc = cb(PQgetvalue(r, i, 0), aux);
	PQclear(r);
	return rc;
}

static const struct state_store_ops state_pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.mailbox_begin = pg_mailbox_begin,
	.mailbox_finish = pg_mailbox_finish,
	.mailbox_set_enabled = pg_mailbox_set_enabled,
	.folder_begin = pg_folder_begin,
	.folder_save = pg_folder_save,
	.message_status = pg_message_status,
	.message_pending = pg_message_pending,
	.message_copied = pg_message_copied,
	.message_failed = pg_message_failed,
	.digest_match = pg_digest_match,
	.status_foreach = pg_status_foreach,
	.failures_foreach = pg_failures_foreach,
	.folder_targets = pg_folder_targets,
	.retry_folders = pg_retry_folders,
	.retry_messages = pg_retry_messages,
	.mailboxes_declare = pg_mailboxes_declare,
	.mailbox_page = pg_mailbox_page,
	.totals = pg_totals,
	.throughput = pg_throughput,
	.run_join = pg_run_join,
	.run_claim = pg_run_claim,
	.run_unclaim = pg_run_unclaim,
	.run_done = pg_run_done,
	.run_heartbeat = pg_run_heartbeat,
	.run_leave = pg_run_leave,
	.tokens_take = pg_tokens_take,
	.slot_take = pg_slot_take,
	.slot_release = pg_slot_release,
	.workers_foreach = pg_workers_foreach,
};
