/* SPDX-License-Identifier: MIT */
/* State store: resume bookkeeping, the pending -> copied protocol,
 * UIDVALIDITY matching by digest, enable/disable, derived counters, that a
 * second connection (another process) sees committed rows, and schema
 * versions: a newer file refused untouched, an older one moved forward in
 * one transaction.  Every case runs on SQLite, and on PostgreSQL when
 * check_state_pg.sh gives a server (check_state_backend.h), which adds
 * its own: a dropped connection is reconnected, a mailbox another worker
 * holds is refused, a password never shows in an error. */
#include <config.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "check_state_backend.h"
#include "state.h"
#include "state_pg_p.h"
#include "state_sqlite_schema.h"

static char path[512];
static struct state_db *db;
static struct mf_error err;

static void setup(void)
{
	backend_setup(path, sizeof(path), "mf-state");
	ck_assert_msg(state_open(path, &db, &err) == MF_OK, "%s", err.text);
}

static void teardown(void)
{
	state_close(&db);
	backend_teardown(path);
}

static void digest_of(unsigned char d[32], int seed)
{
	for (int i = 0; i < 32; i++)
		d[i] = (unsigned char)(seed * 31 + i);
}

START_TEST(copied_message_is_had_pending_is_not)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	unsigned char d[32];
	digest_of(d, 1);
	ck_assert_int_eq(state_mailbox_begin(db, "alice", "mbox:/a", "maildir:/b", &mb, &enabled,
					     &err),
			 MF_OK);
	ck_assert(enabled);
	ck_assert_int_eq(state_folder_begin(db, mb, "INBOX", &f, &err), MF_OK);
	ck_assert(!state_message_have(db, f.id, 7, "1"));
	ck_assert_int_eq(state_message_pending(db, f.id, 7, "1", 100, d, &err), MF_OK);
	ck_assert_int_eq(state_message_status(db, f.id, 7, "1"), STATE_MSG_PENDING);
	ck_assert(!state_message_have(db, f.id, 7, "1"));
	ck_assert_int_eq(state_message_copied(db, f.id, 7, "1", 100, d, "INBOX", "t1", &err),
			 MF_OK);
	ck_assert(state_message_have(db, f.id, 7, "1"));
	/* Same id under another UIDVALIDITY is a different message. */
	ck_assert(!state_message_have(db, f.id, 8, "1"));
	state_folder_clear(&f);
}
END_TEST

START_TEST(transient_failure_is_retried_permanent_is_not)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	state_mailbox_begin(db, "bob", "s", "t", &mb, &enabled, &err);
	state_folder_begin(db, mb, "INBOX", &f, &err);
	ck_assert_int_eq(state_message_failed(db, f.id, 0, "a", 5, false, "timeout", &err), MF_OK);
	ck_assert(!state_message_have(db, f.id, 0, "a"));
	ck_assert_int_eq(state_message_failed(db, f.id, 0, "b", 5, true, "too big", &err), MF_OK);
	ck_assert(state_message_have(db, f.id, 0, "b"));
	state_folder_clear(&f);
}
END_TEST

START_TEST(folder_cursor_round_trips)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	state_mailbox_begin(db, "carol", "s", "t", &mb, &enabled, &err);
	state_folder_begin(db, mb, "Sent", &f, &err);
	ck_assert_uint_eq(f.uidvalidity, 0);
	ck_assert_ptr_null(f.sync_state);
	ck_assert_int_eq(state_folder_save(db, f.id, 1234, 99, "tok-1", "Sent", "done", NULL, &err),
			 MF_OK);
	/* NULL sync state keeps the previous one. */
	ck_assert_int_eq(state_folder_save(db, f.id, 1234, 120, NULL, NULL, "done", NULL, &err),
			 MF_OK);
	int64_t id = f.id;
	state_folder_clear(&f);
	state_folder_begin(db, mb, "Sent", &f, &err);
	ck_assert_int_eq(f.id, id);
	ck_assert_uint_eq(f.uidvalidity, 1234);
	ck_assert_uint_eq(f.last_uid, 120);
	ck_assert_str_eq(f.sync_state, "tok-1");
	state_folder_clear(&f);
}
END_TEST

START_TEST(digest_match_claims_each_old_copy_once)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	unsigned char d[32], other[32];
	char target[128];
	digest_of(d, 5);
	digest_of(other, 6);
	state_mailbox_begin(db, "dave", "s", "t", &mb, &enabled, &err);
	state_folder_begin(db, mb, "INBOX", &f, &err);
	/* Two identical messages copied under UIDVALIDITY 1. */
	state_message_copied(db, f.id, 1, "10", 9, d, "INBOX", "tA", &err);
	state_message_copied(db, f.id, 1, "11", 9, d, "INBOX", "tB", &err);
	/* After renumbering to 2, each is matched once, a third is new. */
	ck_assert(state_digest_match(db, f.id, 2, d, target));
	state_message_copied(db, f.id, 2, "1", 9, d, "INBOX", target, &err);
	char second[128];
	ck_assert(state_digest_match(db, f.id, 2, d, second));
	ck_assert_str_ne(second, target);
	state_message_copied(db, f.id, 2, "2", 9, d, "INBOX", second, &err);
	ck_assert(!state_digest_match(db, f.id, 2, d, target));
	ck_assert(!state_digest_match(db, f.id, 2, other, target));
	state_folder_clear(&f);
}
END_TEST

struct seen {
	int n;
	uint64_t copied, failed, bytes;
	char status[32];
};

static int count_cb(const struct state_mailbox_status *s, void *aux)
{
	struct seen *seen = aux;
	seen->n++;
	seen->copied = s->copied;
	seen->failed = s->failed;
	seen->bytes = s->copied_bytes;
	snprintf(seen->status, sizeof(seen->status), "%s", s->status);
	return MF_OK;
}

START_TEST(status_counts_and_disable_survive_reopen)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	unsigned char d[32];
	digest_of(d, 2);
	state_mailbox_begin(db, "erin", "s", "t", &mb, &enabled, &err);
	state_folder_begin(db, mb, "INBOX", &f, &err);
	state_message_copied(db, f.id, 0, "x", 1000, d, "INBOX", "1", &err);
	state_message_copied(db, f.id, 0, "y", 24, d, "INBOX", "2", &err);
	state_message_failed(db, f.id, 0, "z", 5, true, "refused", &err);
	state_mailbox_finish(db, mb, "done", NULL, &err);
	state_folder_clear(&f);

	/* Another connection, as "mailferry status" in another process. */
	struct state_db *db2;
	ck_assert_int_eq(state_open(path, &db2, &err), MF_OK);
	struct seen seen = { 0 };
	ck_assert_int_eq(state_status_foreach(db2, "erin", count_cb, &seen, &err), MF_OK);
	ck_assert_int_eq(seen.n, 1);
	ck_assert_uint_eq(seen.copied, 2);
	ck_assert_uint_eq(seen.bytes, 1024);
	ck_assert_uint_eq(seen.failed, 1);
	ck_assert_str_eq(seen.status, "done");
	ck_assert_int_eq(state_mailbox_set_enabled(db2, "erin", false, &err), MF_OK);
	ck_assert_int_ne(state_mailbox_set_enabled(db2, "nobody", false, &err), MF_OK);
	ck_assert_ptr_nonnull(strstr(err.text, "nobody"));
	state_close(&db2);

	ck_assert_int_eq(state_mailbox_begin(db, "erin", "s", "t", &mb, &enabled, &err), MF_OK);
	ck_assert(!enabled);
}
END_TEST

START_TEST(unwritable_path_is_a_clear_error)
{
	struct state_db *bad = NULL;
	if (backend_pg_url() != NULL) {
		/* A server that is not there: named, its password not (and
		 * not waited for: a restarting server is, for a minute). */
		setenv("MAILFERRY_STATE_WAIT", "0", 1);
		ck_assert_int_eq(state_open("postgresql://mf:s3cret-pw@127.0.0.1:1/mf", &bad, &err),
				 MF_ERR_FATAL);
		ck_assert_ptr_null(bad);
		ck_assert_msg(strstr(err.text, "postgresql://mf@127.0.0.1:1/mf") != NULL &&
				      strstr(err.text, "s3cret") == NULL,
			      "%s", err.text);
		ck_assert_int_eq(state_open("postgres://u@127.0.0.1:1/d?password=s3cret-pw", &bad,
					    &err),
				 MF_ERR_FATAL);
		ck_assert_msg(strstr(err.text, "s3cret") == NULL, "%s", err.text);
		unsetenv("MAILFERRY_STATE_WAIT");
		return;
	}
	ck_assert_int_eq(state_open("/nonexistent-dir/x/state.db", &bad, &err), MF_ERR_FATAL);
	ck_assert_ptr_null(bad);
	ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent-dir/x/state.db"));
}
END_TEST

/* The schema version this binary writes, for the backend under test. */
static int current_version(void)
{
	return backend_pg_url() != NULL ? PG_SCHEMA_VERSION : SQLITE_SCHEMA_VERSION;
}

static void set_version(const char *v)
{
	if (backend_pg_url() != NULL) {
		char sql[128];
		snprintf(sql, sizeof(sql), "UPDATE meta SET value='%s' WHERE key='schema_version'",
			 v);
		backend_pg_exec(sql);
		return;
	}
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
	char *sql = sqlite3_mprintf("UPDATE meta SET value=%Q WHERE key='schema_version'", v);
	ck_assert_int_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
	sqlite3_close(raw);
}

START_TEST(newer_schema_is_refused_naming_both_versions)
{
	int64_t mb;
	bool enabled;
	ck_assert_int_eq(state_mailbox_begin(db, "alice", "s", "t", &mb, &enabled, &err), MF_OK);
	state_close(&db);
	set_version("7");
	struct state_db *again = NULL;
	ck_assert_int_eq(state_open(path, &again, &err), MF_ERR_FATAL);
	ck_assert_ptr_null(again);
	char up_to[32];
	snprintf(up_to, sizeof(up_to), "up to %d", current_version());
	ck_assert_msg(strstr(err.text, "schema version 7") != NULL &&
			      strstr(err.text, up_to) != NULL,
		      "%s", err.text);
	set_version("seven");
	ck_assert_int_eq(state_open(path, &again, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, "unreadable schema version"));
	/* Back at the known version it opens, data intact. */
	char cur[16];
	snprintf(cur, sizeof(cur), "%d", current_version());
	set_version(cur);
	ck_assert_int_eq(state_open(path, &db, &err), MF_OK);
	ck_assert_int_eq(state_mailbox_begin(db, "alice", "s", "t", &mb, &enabled, &err), MF_OK);
}
END_TEST

static int pg_column_count(PGconn *c, const char *table)
{
	const char *v[] = { table };
	PGresult *r = PQexecParams(c,
				   "SELECT count(*) FROM information_schema.columns"
				   " WHERE table_name=$1 AND table_schema=current_schema()",
				   1, NULL, v, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static bool pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok;
}

/* The PostgreSQL twin of the case below: the check runs in the caller's
 * transaction, as state_pg.c runs it. */
static void pg_older_schema(void)
{
	state_close(&db);
	PGconn *c = backend_pg_connect();
	/* A database as version 1 wrote it (before leases) is moved to the
	 * current version by opening it, rows kept. */
	ck_assert(pg_ok(c, "INSERT INTO mailboxes(name) VALUES('v1-row')"));
	ck_assert(pg_ok(c, "ALTER TABLE mailboxes DROP COLUMN lease_until, DROP COLUMN heartbeat,"
			   " DROP COLUMN run_id, DROP COLUMN run_done"));
	ck_assert(pg_ok(c, "DROP TABLE runs, workers, buckets"));
	ck_assert(pg_ok(c, "UPDATE meta SET value='1' WHERE key='schema_version'"));
	int v1_columns = pg_column_count(c, "mailboxes");
	ck_assert_int_eq(state_open(path, &db, &err), MF_OK);
	ck_assert_int_eq(pg_column_count(c, "mailboxes"), v1_columns + 4);
	ck_assert_int_eq(pg_column_count(c, "runs"), 4);
	PGresult *r =
		PQexec(c, "SELECT value FROM meta WHERE key='schema_version'"
			  " UNION ALL SELECT count(*)::text FROM mailboxes WHERE name='v1-row'");
	ck_assert_int_eq(PQntuples(r), 2);
	ck_assert_int_eq((int)strtol(PQgetvalue(r, 0, 0), NULL, 10), PG_SCHEMA_VERSION);
	ck_assert_str_eq(PQgetvalue(r, 1, 0), "1");
	PQclear(r);
	state_close(&db);
	int before = pg_column_count(c, "mailboxes");
	bool fresh = true;
	/* Two steps past the current version: steps[v - 1] takes v on. */
	const int cur = PG_SCHEMA_VERSION, known = cur + 2;
	const char *bad[PG_SCHEMA_VERSION + 2] = { NULL };
	bad[cur - 1] = "ALTER TABLE mailboxes ADD COLUMN x_test_a text";
	bad[cur] = "ALTER TABLE no_such_table ADD COLUMN x int";
	char want[64];
	snprintf(want, sizeof(want), "cannot upgrade schema %d to %d", cur, known);
	ck_assert(pg_ok(c, "BEGIN"));
	ck_assert_int_eq(state_pg_schema_check(c, "pg-test", known, bad, &fresh, &err),
			 MF_ERR_FATAL);
	ck_assert(pg_ok(c, "ROLLBACK"));
	ck_assert_msg(strstr(err.text, want) != NULL, "%s", err.text);
	ck_assert(!fresh);
	ck_assert_int_eq(pg_column_count(c, "mailboxes"), before);
	const char *good[PG_SCHEMA_VERSION + 2] = { NULL };
	good[cur - 1] = "ALTER TABLE mailboxes ADD COLUMN x_test_a text";
	good[cur] = "ALTER TABLE mailboxes ADD COLUMN x_test_b bigint";
	ck_assert(pg_ok(c, "BEGIN"));
	ck_assert_int_eq(state_pg_schema_check(c, "pg-test", known, good, &fresh, &err), MF_OK);
	ck_assert(pg_ok(c, "COMMIT"));
	ck_assert_int_eq(pg_column_count(c, "mailboxes"), before + 2);
	ck_assert(pg_ok(c, "BEGIN"));
	ck_assert_int_eq(state_pg_schema_check(c, "pg-test", known, good, &fresh, &err), MF_OK);
	ck_assert(pg_ok(c, "COMMIT"));
	PQfinish(c);
	ck_assert_int_eq(state_open(path, &db, &err), MF_ERR_FATAL);
	snprintf(want, sizeof(want), "schema version %d", known);
	ck_assert_ptr_nonnull(strstr(err.text, want));
	db = NULL;
}

static int column_count(sqlite3 *raw, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM pragma_table_info(%Q)", table);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return n;
}

START_TEST(older_schema_moves_forward_or_stays_as_it_was)
{
	if (backend_pg_url() != NULL) {
		pg_older_schema();
		return;
	}
	state_close(&db);
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
	int before = column_count(raw, "mailboxes");
	/* A failing step: nothing of the upgrade remains. */
	static const char *const bad[] = { "ALTER TABLE mailboxes ADD COLUMN lease TEXT",
					   "ALTER TABLE no_such_table ADD COLUMN x" };
	ck_assert_int_eq(state_sqlite_schema_upgrade(raw, path, 3, bad, &err), MF_ERR_FATAL);
	ck_assert_msg(strstr(err.text, "cannot upgrade schema 1 to 3") != NULL, "%s", err.text);
	ck_assert_int_eq(column_count(raw, "mailboxes"), before);
	/* Good steps: every one applied, the stamp moved. */
	static const char *const good[] = { "ALTER TABLE mailboxes ADD COLUMN lease TEXT",
					    "ALTER TABLE mailboxes ADD COLUMN heartbeat INTEGER" };
	ck_assert_int_eq(state_sqlite_schema_upgrade(raw, path, 3, good, &err), MF_OK);
	ck_assert_int_eq(column_count(raw, "mailboxes"), before + 2);
	ck_assert_int_eq(state_sqlite_schema_upgrade(raw, path, 3, good, &err),
			 MF_OK); /* idempotent */
	sqlite3_close(raw);
	/* And this binary (schema 1) now refuses the upgraded file. */
	ck_assert_int_eq(state_open(path, &db, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, "schema version 3"));
	db = NULL;
}
END_TEST

/* The server ends this store's session (as a restart or a dropped link
 * would): the next call reconnects and succeeds, and the mailbox lock of
 * the old session is taken again. */
START_TEST(dropped_connection_is_reconnected)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	unsigned char d[32];
	digest_of(d, 3);
	ck_assert_int_eq(state_mailbox_begin(db, "gina", "s", "t", &mb, &enabled, &err), MF_OK);
	ck_assert_int_eq(state_folder_begin(db, mb, "INBOX", &f, &err), MF_OK);
	backend_pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
			" WHERE application_name='mailferry' AND pid<>pg_backend_pid()");
	ck_assert_msg(state_message_copied(db, f.id, 1, "1", 10, d, "INBOX", "t1", &err) == MF_OK,
		      "%s", err.text);
	ck_assert_int_eq(state_message_status(db, f.id, 1, "1"), STATE_MSG_COPIED);
	/* Another worker still cannot have the mailbox. */
	struct state_db *other;
	ck_assert_int_eq(state_open(path, &other, &err), MF_OK);
	int64_t mb2 = 0;
	ck_assert_int_eq(state_mailbox_begin(other, "gina", "s", "t", &mb2, &enabled, &err),
			 MF_ERR_ACCOUNT);
	state_close(&other);
	state_folder_clear(&f);
}
END_TEST

/* Two workers on one mailbox would copy its messages side by side: the
 * second is refused, naming the first; once the first is done (or its
 * connection ends) the mailbox is free. */
START_TEST(mailbox_held_by_another_worker_is_refused)
{
	int64_t mb, mb2 = 0;
	bool enabled;
	ck_assert_int_eq(state_mailbox_begin(db, "hank", "s", "t", &mb, &enabled, &err), MF_OK);
	struct state_db *other;
	ck_assert_int_eq(state_open(path, &other, &err), MF_OK);
	ck_assert_int_eq(state_mailbox_begin(other, "hank", "s", "t", &mb2, &enabled, &err),
			 MF_ERR_ACCOUNT);
	ck_assert_int_eq(mb2, 0);
	char me[300];
	snprintf(me, sizeof(me), ":%ld)", (long)getpid());
	ck_assert_msg(strstr(err.text, "another worker") != NULL && strstr(err.text, me) != NULL,
		      "%s", err.text);
	/* Other mailboxes are free. */
	ck_assert_int_eq(state_mailbox_begin(other, "ida", "s", "t", &mb2, &enabled, &err), MF_OK);
	ck_assert_int_eq(state_mailbox_finish(db, mb, "done", NULL, &err), MF_OK);
	ck_assert_int_eq(state_mailbox_begin(other, "hank", "s", "t", &mb2, &enabled, &err), MF_OK);
	ck_assert_int_eq(mb2, mb);
	state_close(&other);
	/* The closed connection let go of it: the server releases a session's
	 * locks as its backend exits, a moment after the client hung up. */
	int st = MF_ERR_ACCOUNT;
	for (int i = 0; i < 100 && st == MF_ERR_ACCOUNT; i++) {
		st = state_mailbox_begin(db, "hank", "s", "t", &mb, &enabled, &err);
		if (st == MF_ERR_ACCOUNT)
			usleep(50 * 1000);
	}
	ck_assert_int_eq(st, MF_OK);
}
END_TEST

static Suite *state_suite(void)
{
	bool pg = backend_pg_url() != NULL;
	Suite *s = suite_create(pg ? "state_db (postgresql)" : "state_db (sqlite)");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, copied_message_is_had_pending_is_not);
	tcase_add_test(tc, transient_failure_is_retried_permanent_is_not);
	tcase_add_test(tc, folder_cursor_round_trips);
	tcase_add_test(tc, digest_match_claims_each_old_copy_once);
	tcase_add_test(tc, status_counts_and_disable_survive_reopen);
	tcase_add_test(tc, unwritable_path_is_a_clear_error);
	tcase_add_test(tc, newer_schema_is_refused_naming_both_versions);
	tcase_add_test(tc, older_schema_moves_forward_or_stays_as_it_was);
	if (pg) {
		tcase_add_test(tc, dropped_connection_is_reconnected);
		tcase_add_test(tc, mailbox_held_by_another_worker_is_refused);
	}
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(state_suite)
