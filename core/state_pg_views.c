/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store's answers to the dashboard (mailferry serve), the
 * same as state_sqlite_views.c gives: one page of mailboxes filtered and
 * sorted in SQL, the run's totals, messages copied over time, and the
 * pending rows a run starts with.  Names sort bytewise (COLLATE "C"), as
 * in SQLite, whatever the database's locale. */
#include <config.h>
#include "state_pg_p.h"

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per INSERT: 3 parameters each, far below libpq's 65535. */
#define DECLARE_BATCH 500

int pg_mailboxes_declare(struct state_db *base, const struct state_mailbox_decl *v, size_t n,
			 struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	/* A few statements of DECLARE_BATCH rows, not one per mailbox; each
	 * stands alone (ON CONFLICT DO NOTHING), so sending one again after a
	 * dropped connection does no harm. */
	const char **vals = mf_xcalloc(3 * DECLARE_BATCH, sizeof(*vals));
	int rc = MF_OK;
	for (size_t at = 0; rc == MF_OK && at < n; at += DECLARE_BATCH) {
		size_t k = n - at < DECLARE_BATCH ? n - at : DECLARE_BATCH;
		size_t cap = 96 + k * 32, len = 0;
		char *sql = mf_xmalloc(cap);
		len += (size_t)snprintf(sql, cap,
					"INSERT INTO mailboxes(name,source_uri,sink_uri) "
					"VALUES");
		for (size_t i = 0; i < k; i++) {
			len += (size_t)snprintf(sql + len, cap - len, "%s($%zu,$%zu,$%zu)",
						i ? "," : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
			vals[3 * i] = v[at + i].name;
			vals[3 * i + 1] = v[at + i].source_uri;
			vals[3 * i + 2] = v[at + i].sink_uri;
		}
		snprintf(sql + len, cap - len, " ON CONFLICT(name) DO NOTHING");
		PGresult *r =
			pg_run_v(db, "declare mailboxes", sql, (int)(3 * k), vals, NULL, NULL, err);
		free(sql);
		if (r == NULL)
			rc = err->status;
		PQclear(r);
	}
	free(vals);
	return rc;
}

#define FILTER                                                        \
	" ($1::text IS NULL OR strpos(lower(b.name), lower($1)) > 0"  \
	"  OR strpos(lower(coalesce(b.sink_uri,'')), lower($1)) > 0)" \
	" AND ($2::text IS NULL OR b.status=$2 OR ($2='disabled' AND NOT b.enabled))"
void pg_status_row(const PGresult *r, int i, struct state_mailbox_status *s)
{
	*s = (struct state_mailbox_status){
		.name = pg_text(r, i, 0),
		.source_uri = pg_text(r, i, 1),
		.sink_uri = pg_text(r, i, 2),
		.status = pg_text(r, i, 3),
		.last_error = pg_text(r, i, 4),
		.enabled = pg_int(r, i, 5) != 0,
		.started = pg_int(r, i, 6),
		.finished = pg_int(r, i, 7),
		.folders = (uint64_t)pg_int(r, i, 8),
		.copied = (uint64_t)pg_int(r, i, 9),
		.copied_bytes = (uint64_t)pg_int(r, i, 10),
		.failed = (uint64_t)pg_int(r, i, 11),
		.pending = (uint64_t)pg_int(r, i, 12),
		.worker = pg_text(r, i, 13),
		.heartbeat = pg_int(r, i, 14),
		.lease_until = pg_int(r, i, 15),
	};
}

/* ORDER BY text from a fixed table, never from the request. */
static void order_by(const struct state_mailbox_query *q, char *buf, size_t len)
{
	static const char *const keys[] = {
		[STATE_SORT_NAME] = "b.name COLLATE \"C\"",
		[STATE_SORT_STATUS] = "b.status COLLATE \"C\"",
		[STATE_SORT_STARTED] = "coalesce(b.started,0)",
		[STATE_SORT_FINISHED] = "coalesce(b.finished,0)",
		[STATE_SORT_COPIED] = "10",
		[STATE_SORT_BYTES] = "11",
		[STATE_SORT_FAILED] = "12",
	};
	unsigned k = (unsigned)q->sort < sizeof(keys) / sizeof(keys[0]) ? (unsigned)q->sort : 0;
	snprintf(buf, len, " ORDER BY %s%s%s", keys[k], q->descending ? " DESC" : "",
		 k == STATE_SORT_NAME ? "" : ", b.name COLLATE \"C\"");
}

int pg_mailbox_page(struct state_db *base, const struct state_mailbox_query *q, uint64_t *matched_r,
		    state_status_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	char order[96];
	order_by(q, order, sizeof(order));
	bool by_counter = q->sort >= STATE_SORT_COPIED;
	char *sql;
	if (by_counter)
		sql = mf_xasprintf(PG_STATUS_COLUMNS " FROM mailboxes b" PG_STATUS_JOINS
						     " WHERE" FILTER PG_STATUS_GROUP
						     "%s LIMIT $3::bigint OFFSET $4::bigint",
				   order);
	else
		sql = mf_xasprintf(
			PG_STATUS_COLUMNS
			" FROM (SELECT * FROM mailboxes b WHERE" FILTER
			"%s LIMIT $3::bigint OFFSET $4::bigint) b" PG_STATUS_JOINS PG_STATUS_GROUP
			"%s",
			order, order);
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, q->search != NULL && q->search[0] != '\0' ? q->search : NULL);
	pg_param_text(&p, q->status != NULL && q->status[0] != '\0' ? q->status : NULL);
	/* The count and the page are two statements: a row a running job
	 * adds in between shows on the next refresh. */
	PGresult *r = pg_run(db, "read mailboxes", "SELECT count(*) FROM mailboxes b WHERE" FILTER,
			     &p, err);
	if (r == NULL) {
		free(sql);
		return err->status;
	}
	*matched_r = (uint64_t)pg_int(r, 0, 0);
	PQclear(r);
	if (q->limit > 0 && q->limit < INT64_MAX)
		pg_param_int(&p, (int64_t)q->limit);
	else
		pg_param_text(&p, NULL);
	pg_param_int(&p, q->offset < INT64_MAX ? (int64_t)q->offset : 0);
	r = pg_run(db, "read mailboxes", sql, &p, err);
	free(sql);
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

int pg_totals(struct state_db *base, struct state_totals *t_r, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	memset(t_r, 0, sizeof(*t_r));
	/* One statement: one snapshot of both tables. */
	PGresult *r = pg_run(
		db, "read totals",
		"SELECT * FROM (SELECT count(*), count(*) FILTER (WHERE status='pending'),"
		" count(*) FILTER (WHERE status='running'), count(*) FILTER (WHERE status='done'),"
		" count(*) FILTER (WHERE status='failed'), count(*) FILTER (WHERE status='disabled'),"
		" coalesce(min(started),0), coalesce(max(finished),0) FROM mailboxes) a,"
		" (SELECT count(*) FILTER (WHERE status='copied'),"
		" coalesce(sum(size) FILTER (WHERE status='copied'),0),"
		" count(*) FILTER (WHERE status='failed'), count(*) FILTER (WHERE status='pending')"
		" FROM messages) m",
		NULL, err);
	if (r == NULL)
		return err->status;
	uint64_t *m[] = { &t_r->mailboxes, &t_r->pending, &t_r->running,
			  &t_r->done,      &t_r->failed,  &t_r->disabled };
	for (int i = 0; i < 6; i++)
		*m[i] = (uint64_t)pg_int(r, 0, i);
	t_r->first_started = pg_int(r, 0, 6);
	t_r->last_finished = pg_int(r, 0, 7);
	uint64_t known = t_r->pending + t_r->running + t_r->done + t_r->failed + t_r->disabled;
	t_r->other = t_r->mailboxes > known ? t_r->mailboxes - known : 0;
	t_r->copied = (uint64_t)pg_int(r, 0, 8);
	t_r->copied_bytes = (uint64_t)pg_int(r, 0, 9);
	t_r->failed_messages = (uint64_t)pg_int(r, 0, 10);
	t_r->pending_messages = (uint64_t)pg_int(r, 0, 11);
	PQclear(r);
	return MF_OK;
}

int pg_throughput(struct state_db *base, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		  void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	if (bucket_seconds == 0)
		bucket_seconds = 1;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, since);
	pg_param_int(&p, (int64_t)bucket_seconds);
	PGresult *r = pg_run(db, "read throughput",
			     "SELECT (updated/$2::bigint)*$2::bigint AS t, count(*),"
			     " coalesce(sum(size),0) FROM messages WHERE updated>=$1::bigint"
			     " AND status='copied' GROUP BY t ORDER BY t",
			     &p, err);
	if (r == NULL)
		return err->status;
	int rc = MF_OK;
	for (int i = 0; rc == MF_OK && i < PQntuples(r); i++) {
		struct state_rate_sample s = { pg_int(r, i, 0), (uint64_t)pg_int(r, i, 1),
					       (uint64_t)pg_int(r, i, 2) };
		rc = cb(&s, aux);
	}
	PQclear(r);
	return rc;
}
