/* SPDX-License-Identifier: MIT */
/* The SQLite store's answers to the dashboard (mailferry serve): one page
 * of mailboxes filtered and sorted in SQL, the run's totals, and messages
 * copied over time.  Read-only except state_mailboxes_declare, which
 * writes the pending rows a run starts with.  A page sorted by a
 * mailbox's own column is cut before its counters are summed, so a page
 * of 5,000 mailboxes costs what its 50 rows cost; sorting by a counter
 * has to sum them all. */
#include <config.h>
#include "state_sqlite_p.h"

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int view_error(struct sqlite_state *db, struct mf_error *err, const char *what)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "state %s: %s: %s", db->path, what,
			    sqlite3_errmsg(db->db));
}

static const char *text_or_null(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? (const char *)t : NULL;
}

int sq_mailboxes_declare(struct state_db *base, const struct state_mailbox_decl *v, size_t n,
			 struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	if (n == 0)
		return MF_OK;
	/* One transaction: 5,000 rows commit once, not 5,000 times. */
	if (sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return view_error(db, err, "declare mailboxes");
	if (sqlite3_prepare_v2(db->db,
			       "INSERT OR IGNORE INTO mailboxes(name,source_uri,sink_uri)"
			       " VALUES(?1,?2,?3)",
			       -1, &q, NULL) != SQLITE_OK) {
		int st = view_error(db, err, "prepare");
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return st;
	}
	int rc = SQLITE_DONE;
	for (size_t i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, v[i].source_uri, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, v[i].sink_uri, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int st = view_error(db, err, "declare mailboxes");
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return st;
	}
	return MF_OK;
}

#define FILTER                                                       \
	" (?1 IS NULL OR instr(lower(b.name), lower(?1)) > 0"        \
	"  OR instr(lower(coalesce(b.sink_uri,'')), lower(?1)) > 0)" \
	" AND (?2 IS NULL OR b.status=?2 OR (?2='disabled' AND NOT b.enabled))"
#define COLUMNS                                                                       \
	"SELECT b.name, b.source_uri, b.sink_uri, b.status, b.last_error, b.enabled," \
	" coalesce(b.started,0), coalesce(b.finished,0),"                             \
	" (SELECT count(*) FROM folders f2 WHERE f2.mailbox_id=b.id),"                \
	" coalesce(sum(m.status='copied'),0),"                                        \
	" coalesce(sum(CASE WHEN m.status='copied' THEN m.size END),0),"              \
	" coalesce(sum(m.status='failed'),0), coalesce(sum(m.status='pending'),0)"
#define JOINS " LEFT JOIN folders f ON f.mailbox_id=b.id LEFT JOIN messages m ON m.folder_id=f.id"

/* ORDER BY text from a fixed table, never from the request. */
static void order_by(const struct state_mailbox_query *q, char *buf, size_t len)
{
	static const char *const keys[] = {
		[STATE_SORT_NAME] = "b.name",
		[STATE_SORT_STATUS] = "b.status",
		[STATE_SORT_STARTED] = "coalesce(b.started,0)",
		[STATE_SORT_FINISHED] = "coalesce(b.finished,0)",
		[STATE_SORT_COPIED] = "10",
		[STATE_SORT_BYTES] = "11",
		[STATE_SORT_FAILED] = "12",
	};
	unsigned k = (unsigned)q->sort < sizeof(keys) / sizeof(keys[0]) ? (unsigned)q->sort : 0;
	snprintf(buf, len, " ORDER BY %s%s%s", keys[k], q->descending ? " DESC" : "",
		 k == STATE_SORT_NAME ? "" : ", b.name");
}

static int count_matches(struct sqlite_state *db, const struct state_mailbox_query *q,
			 uint64_t *matched_r, struct mf_error *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM mailboxes b WHERE" FILTER, -1, &st,
			       NULL) != SQLITE_OK)
		return view_error(db, err, "prepare");
	if (q->search != NULL && q->search[0] != '\0')
		sqlite3_bind_text(st, 1, q->search, -1, SQLITE_TRANSIENT);
	if (q->status != NULL && q->status[0] != '\0')
		sqlite3_bind_text(st, 2, q->status, -1, SQLITE_TRANSIENT);
	*matched_r = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return MF_OK;
}

int sq_mailbox_page(struct state_db *base, const struct state_mailbox_query *q, uint64_t *matched_r,
		    state_status_cb *cb, void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	char order[96];
	order_by(q, order, sizeof(order));
	bool by_counter = q->sort >= STATE_SORT_COPIED;
	char *sql;
	if (by_counter)
		sql = mf_xasprintf(COLUMNS " FROM mailboxes b" JOINS " WHERE" FILTER
					   " GROUP BY b.id%s LIMIT ?3 OFFSET ?4",
				   order);
	else
		sql = mf_xasprintf(COLUMNS " FROM (SELECT * FROM mailboxes b WHERE" FILTER
					   "%s LIMIT ?3 OFFSET ?4) b" JOINS " GROUP BY b.id%s",
				   order, order);
	/* Count and page from one snapshot of a file a run is writing. */
	sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL);
	int rc = count_matches(db, q, matched_r, err);
	sqlite3_stmt *st = NULL;
	if (rc == MF_OK && sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
		rc = view_error(db, err, "prepare");
	free(sql);
	if (rc == MF_OK) {
		if (q->search != NULL && q->search[0] != '\0')
			sqlite3_bind_text(st, 1, q->search, -1, SQLITE_TRANSIENT);
		if (q->status != NULL && q->status[0] != '\0')
			sqlite3_bind_text(st, 2, q->status, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3,
				   q->limit > 0 && q->limit < INT64_MAX ? (int64_t)q->limit : -1);
		sqlite3_bind_int64(st, 4, q->offset < INT64_MAX ? (int64_t)q->offset : 0);
	}
	int step;
	while (rc == MF_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_mailbox_status s = {
			.name = text_or_null(st, 0),
			.source_uri = text_or_null(st, 1),
			.sink_uri = text_or_null(st, 2),
			.status = text_or_null(st, 3),
			.last_error = text_or_null(st, 4),
			.enabled = sqlite3_column_int(st, 5) != 0,
			.started = sqlite3_column_int64(st, 6),
			.finished = sqlite3_column_int64(st, 7),
			.folders = (uint64_t)sqlite3_column_int64(st, 8),
			.copied = (uint64_t)sqlite3_column_int64(st, 9),
			.copied_bytes = (uint64_t)sqlite3_column_int64(st, 10),
			.failed = (uint64_t)sqlite3_column_int64(st, 11),
			.pending = (uint64_t)sqlite3_column_int64(st, 12),
		};
		rc = cb(&s, aux);
	}
	if (rc == MF_OK && st != NULL && step != SQLITE_DONE)
		rc = view_error(db, err, "read mailboxes");
	sqlite3_finalize(st);
	sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int sq_totals(struct state_db *base, struct state_totals *t_r, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	static const char mailboxes_sql[] =
		"SELECT count(*), coalesce(sum(status='pending'),0),"
		" coalesce(sum(status='running'),0), coalesce(sum(status='done'),0),"
		" coalesce(sum(status='failed'),0), coalesce(sum(status='disabled'),0),"
		" coalesce(min(started),0), coalesce(max(finished),0) FROM mailboxes";
	static const char messages_sql[] =
		"SELECT coalesce(sum(status='copied'),0),"
		" coalesce(sum(CASE WHEN status='copied' THEN size END),0),"
		" coalesce(sum(status='failed'),0), coalesce(sum(status='pending'),0) FROM messages";
	memset(t_r, 0, sizeof(*t_r));
	sqlite3_stmt *a = NULL, *b = NULL;
	sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL);
	int rc = MF_OK;
	if (sqlite3_prepare_v2(db->db, mailboxes_sql, -1, &a, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->db, messages_sql, -1, &b, NULL) != SQLITE_OK)
		rc = view_error(db, err, "prepare");
	if (rc == MF_OK && (sqlite3_step(a) != SQLITE_ROW || sqlite3_step(b) != SQLITE_ROW))
		rc = view_error(db, err, "read totals");
	if (rc == MF_OK) {
		uint64_t *m[] = { &t_r->mailboxes, &t_r->pending, &t_r->running,
				  &t_r->done,      &t_r->failed,  &t_r->disabled };
		for (int i = 0; i < 6; i++)
			*m[i] = (uint64_t)sqlite3_column_int64(a, i);
		t_r->first_started = sqlite3_column_int64(a, 6);
		t_r->last_finished = sqlite3_column_int64(a, 7);
		uint64_t known =
			t_r->pending + t_r->running + t_r->done + t_r->failed + t_r->disabled;
		t_r->other = t_r->mailboxes > known ? t_r->mailboxes - known : 0;
		t_r->copied = (uint64_t)sqlite3_column_int64(b, 0);
		t_r->copied_bytes = (uint64_t)sqlite3_column_int64(b, 1);
		t_r->failed_messages = (uint64_t)sqlite3_column_int64(b, 2);
		t_r->pending_messages = (uint64_t)sqlite3_column_int64(b, 3);
	}
	sqlite3_finalize(a);
	sqlite3_finalize(b);
	sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int sq_throughput(struct state_db *base, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		  void *aux, struct mf_error *err)
{
	struct sqlite_state *db = (struct sqlite_state *)base;
	sqlite3_stmt *q;
	if (bucket_seconds == 0)
		bucket_seconds = 1;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT (updated/?2)*?2 AS t, count(*), coalesce(sum(size),0)"
			       " FROM messages WHERE updated>=?1 AND status='copied'"
			       " GROUP BY t ORDER BY t",
			       -1, &q, NULL) != SQLITE_OK)
		return view_error(db, err, "prepare");
	sqlite3_bind_int64(q, 1, since);
	sqlite3_bind_int64(q, 2, (int64_t)bucket_seconds);
	int rc = MF_OK;
	while (rc == MF_OK && sqlite3_step(q) == SQLITE_ROW) {
		struct state_rate_sample s = { sqlite3_column_int64(q, 0),
					       (uint64_t)sqlite3_column_int64(q, 1),
					       (uint64_t)sqlite3_column_int64(q, 2) };
		rc = cb(&s, aux);
	}
	sqlite3_finalize(q);
	return rc;
}
