/* SPDX-License-Identifier: MIT */
/* Several workers on one PostgreSQL state store: runs, leases and the
 * limits they share (see state.h).  Every call is one statement, so
 * pg_run() may send it again after a reconnect; a claim whose answer was
 * lost only leaves an orphan lease that no heartbeat renews (heartbeats
 * name the mailboxes the worker really runs), so it runs out and another
 * worker takes the mailbox.  Times are the server's clock, never the
 * workers': machines need not agree on the time.
 *
 * A lease says who may start a mailbox; the session advisory lock that
 * mailbox_begin takes (state_pg.c) says who is in it now.  Both are
 * needed: the lease survives a database restart (advisory locks do not),
 * the lock is dropped by the server the moment a killed worker's
 * connection closes.  Connection slots are advisory locks too, so a dead
 * worker never keeps them. */
#include <config.h>
#include "state_pg_p.h"
#include "log.h"

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_S "extract(epoch from clock_timestamp())::bigint"
#define NOW_F "extract(epoch from clock_timestamp())::float8"

/* A PostgreSQL array literal of texts or of integers. */
static char *text_array(const char *const *v, size_t n)
{
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += 2 * strlen(v[i]) + 3;
	char *s = mf_xmalloc(len), *o = s;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (const char *c = v[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return s;
}

static char *int_array(const int64_t *v, size_t n)
{
	char *s = mf_xmalloc(n * 21 + 3), *o = s;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s%lld", i > 0 ? "," : "", (long long)v[i]);
	*o++ = '}';
	*o = '\0';
	return s;
}

int pg_run_join(struct state_db *base, const char *key, const char *const *names, size_t n,
		unsigned lease_s, int64_t *run_id_r, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, key);
	/* Open the run or join the open one: the partial unique index lets
	 * one run per key be open, so workers starting at once agree.  The
	 * run may end between the two statements: then open a new one. */
	int64_t run = 0;
	for (int attempt = 0; run == 0 && attempt < 5; attempt++) {
		int st = pg_run_only(db, "join run",
				     "INSERT INTO runs(key, started) VALUES($1, " NOW_S ")"
				     " ON CONFLICT (key) WHERE finished IS NULL DO NOTHING",
				     &p, err);
		if (st != MF_OK)
			return st;
		PGresult *r =
			pg_run(db, "join run",
			       "SELECT id FROM runs WHERE key=$1 AND finished IS NULL", &p, err);
		if (r == NULL)
			return err->status;
		if (PQntuples(r) == 1)
			run = pg_int(r, 0, 0);
		PQclear(r);
	}
	if (run == 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_LATER,
				    "state %s: cannot open a run: it keeps ending", db->display);
	char *arr = text_array(names, n);
	p.n = 0;
	pg_param_int(&p, run);
	pg_param_text(&p, arr);
	int st = pg_run_only(db, "join run",
			     "UPDATE mailboxes SET run_id=$1 WHERE name = ANY($2::text[])"
			     " AND run_id IS DISTINCT FROM $1",
			     &p, err);
	free(arr);
	if (st != MF_OK)
		return st;
	p.n = 0;
	pg_param_text(&p, state_worker_name());
	pg_param_int(&p, run);
	pg_param_int(&p, lease_s);
	st = pg_run_only(db, "join run",
			 "INSERT INTO workers(name, run_id, started, heartbeat, lease_s)"
			 " VALUES($1, $2, " NOW_S ", " NOW_S ", $3) ON CONFLICT(name) DO UPDATE"
			 " SET run_id=$2, started=EXCLUDED.started, heartbeat=EXCLUDED.heartbeat,"
			 " lease_s=$3, left_at=NULL",
			 &p, err);
	if (st == MF_OK)
		*run_id_r = run;
	return st;
}

/* Nothing claimable: the run has ended (nothing left: close it), or the
 * rest is leased; ask again when the first lease could run out. */
static int nothing_claimable(struct pg_state *db, int64_t run_id, size_t n_skip,
			     enum state_claim *c_r, struct state_claimed *m_r, struct mf_error *err)
{
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, run_id);
	PGresult *r = pg_run(db, "claim mailbox",
			     "SELECT count(*), coalesce(min(lease_until) - " NOW_S ", 0)"
			     " FROM mailboxes WHERE run_id=$1 AND run_done IS DISTINCT FROM $1",
			     &p, err);
	if (r == NULL)
		return err->status;
	int64_t left = pg_int(r, 0, 0), expiry = pg_int(r, 0, 1);
	PQclear(r);
	if (left == 0) {
		*c_r = STATE_CLAIM_NONE;
		return pg_run_only(db, "end run",
				   "UPDATE runs SET finished=" NOW_S
				   " WHERE id=$1 AND finished IS NULL",
				   &p, err);
	}
	*c_r = STATE_CLAIM_WAIT;
	/* A skipped mailbox (its lock held) is asked about again soon. */
	int64_t ms = n_skip > 0 ? 2000 : (expiry + 1) * 1000;
	m_r->wait_ms = ms < 500 ? 500 : ms > 5000 ? 5000 : (unsigned)ms;
	return MF_OK;
}

int pg_run_claim(struct state_db *base, int64_t run_id, unsigned lease_s, const int64_t *skip,
		 size_t n_skip, enum state_claim *c_r, struct state_claimed *m_r,
		 struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	char *arr = int_array(skip, n_skip);
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, run_id);
	pg_param_text(&p, arr);
	pg_param_text(&p, state_worker_name());
	pg_param_int(&p, lease_s);
	/* In the order declared; one a dead worker left is taken over when
	 * its lease has run out, or at once by a worker of the same name (a
	 * restarted pod: its old session is gone, or the mailbox lock that
	 * mailbox_begin takes will say it is not). */
	PGresult *r =
		pg_run(db, "claim mailbox",
		       "WITH c AS (SELECT id, worker AS prev, status AS prev_status"
		       "  FROM mailboxes WHERE run_id=$1 AND run_done IS DISTINCT FROM $1"
		       "  AND (lease_until IS NULL OR lease_until < " NOW_S " OR worker=$3)"
		       "  AND NOT (id = ANY($2::bigint[]))"
		       "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		       " UPDATE mailboxes m SET worker=$3, lease_until=" NOW_S " + $4::bigint,"
		       " heartbeat=" NOW_S " FROM c WHERE m.id=c.id"
		       " RETURNING m.id, m.name, c.prev, c.prev_status",
		       &p, err);
	free(arr);
	if (r == NULL)
		return err->status;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return nothing_claimable(db, run_id, n_skip, c_r, m_r, err);
	}
	*c_r = STATE_CLAIM_GOT;
	m_r->id = pg_int(r, 0, 0);
	m_r->name = mf_xstrdup(pg_text(r, 0, 1));
	const char *prev = pg_text(r, 0, 2), *prev_status = pg_text(r, 0, 3);
	if (prev != NULL && strcmp(prev, state_worker_name()) != 0 && prev_status != NULL &&
	    strcmp(prev_status, "running") == 0)
		m_r->taken_from = mf_xstrdup(prev);
	PQclear(r);
	return MF_OK;
}

int pg_run_unclaim(struct state_db *base, int64_t mailbox_id, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, mailbox_id);
	pg_param_text(&p, state_worker_name());
	return pg_run_only(db, "release mailbox",
			   "UPDATE mailboxes SET lease_until=NULL WHERE id=$1 AND worker=$2", &p,
			   err);
}

int pg_run_done(struct state_db *base, int64_t run_id, int64_t mailbox_id, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, run_id);
	pg_param_int(&p, mailbox_id);
	pg_param_text(&p, state_worker_name());
	return pg_run_only(db, "finish mailbox",
			   "UPDATE mailboxes SET run_done=$1, lease_until=NULL, heartbeat=" NOW_S
			   " WHERE id=$2 AND worker=$3",
			   &p, err);
}

int pg_run_heartbeat(struct state_db *base, const int64_t *held, size_t n, unsigned lease_s,
		     state_lost_cb *lost_cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, state_worker_name());
	int st = pg_run_only(db, "heartbeat",
			     "UPDATE workers SET heartbeat=" NOW_S " WHERE name=$1", &p, err);
	if (st != MF_OK || n == 0)
		return st;
	char *arr = int_array(held, n);
	pg_param_text(&p, arr);
	pg_param_int(&p, lease_s);
	/* A lease that ran out while the database was away is taken back
	 * unless another worker has leased the mailbox since. */
	PGresult *r = pg_run(db, "heartbeat",
			     "UPDATE mailboxes SET worker=$1, lease_until=" NOW_S " + $3::bigint,"
			     " heartbeat=" NOW_S " WHERE id = ANY($2::bigint[]) AND (worker=$1"
			     " OR lease_until IS NULL OR lease_until < " NOW_S ") RETURNING id",
			     &p, err);
	free(arr);
	if (r == NULL)
		return err->status;
	for (size_t i = 0; i < n; i++) {
		bool renewed = false;
		for (int k = 0; !renewed && k < PQntuples(r); k++)
			renewed = pg_int(r, k, 0) == held[i];
		if (!renewed && lost_cb != NULL)
			lost_cb(held[i], aux);
	}
	PQclear(r);
	return MF_OK;
}

int pg_run_leave(struct state_db *base, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, state_worker_name());
	int st = pg_run_only(db, "leave run",
			     "UPDATE mailboxes SET lease_until=NULL WHERE worker=$1"
			     " AND lease_until IS NOT NULL",
			     &p, err);
	if (st == MF_OK)
		st = pg_run_only(db, "leave run",
				 "UPDATE workers SET left_at=" NOW_S ", heartbeat=" NOW_S
				 " WHERE name=$1",
				 &p, err);
	return st;
}

int pg_tokens_take(struct state_db *base, const char *bucket, double rate, double burst, double n,
		   double *wait_s_r, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	char b[24], rt[24], nn[24];
	snprintf(b, sizeof(b), "%.3f", burst);
	snprintf(rt, sizeof(rt), "%.3f", rate);
	snprintf(nn, sizeof(nn), "%.3f", n);
	struct pg_params p = { .n = 0 };
	pg_param_text(&p, bucket);
	pg_param_text(&p, b);
	pg_param_text(&p, rt);
	pg_param_text(&p, nn);
	/* Refill by the time since the last take, at most to the burst, then
	 * take: a negative balance is debt the taker waits off. */
	PGresult *r =
		pg_run(db, "shared limit",
		       "INSERT INTO buckets(name, tokens, updated)"
		       " VALUES($1, $2::float8 - $4::float8, " NOW_F ")"
		       " ON CONFLICT(name) DO UPDATE SET tokens = least($2::float8,"
		       " buckets.tokens + greatest(" NOW_F " - buckets.updated, 0) * $3::float8)"
		       " - $4::float8, updated=" NOW_F " RETURNING tokens",
		       &p, err);
	if (r == NULL)
		return err->status;
	double tokens = strtod(PQgetvalue(r, 0, 0), NULL);
	PQclear(r);
	*wait_s_r = tokens < 0 && rate > 0 ? -tokens / rate : 0;
	return MF_OK;
}

/* The advisory lock key of slot k of host: 21 bits of the host's hash,
 * 10 of the slot (a cap above 1,024 is no cap). */
static int slot_key(const char *host, int k)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = host; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return (int)(((h & 0x1fffffu) << 10) | ((unsigned)k & 0x3ffu));
}

int pg_slot_take(struct state_db *base, const char *host, unsigned cap, int *slot_r,
		 struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	*slot_r = -1;
	if (cap > 1024)
		cap = 1024;
	/* The slots this session holds already are not asked for again
	 * (an advisory lock is re-entrant within a session). */
	int64_t mine[1024];
	size_t n_mine = 0;
	for (size_t i = 0; i < db->n_slots && n_mine < 1024; i++)
		if ((db->slots[i] >> 10) == (slot_key(host, 0) >> 10))
			mine[n_mine++] = db->slots[i] & 0x3ff;
	char *arr = int_array(mine, n_mine);
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, slot_key(host, 0));
	pg_param_int(&p, cap);
	pg_param_text(&p, arr);
	PGresult *r = pg_run(db, "connection slot",
			     "SELECT k FROM generate_series(0, $2::int - 1) k"
			     " WHERE NOT (k = ANY($3::int[]))"
			     " AND pg_try_advisory_lock(" LOCK_SLOT ", $1::int | k) LIMIT 1",
			     &p, err);
	free(arr);
	if (r == NULL)
		return err->status;
	if (PQntuples(r) == 1) {
		*slot_r = (int)pg_int(r, 0, 0);
		db->slots = mf_xrealloc(db->slots, (db->n_slots + 1) * sizeof(*db->slots));
		db->slots[db->n_slots++] = slot_key(host, *slot_r);
	}
	PQclear(r);
	return MF_OK;
}

int pg_slot_release(struct state_db *base, const char *host, int slot, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	int key = slot_key(host, slot);
	for (size_t i = 0; i < db->n_slots; i++)
		if (db->slots[i] == key) {
			db->slots[i] = db->slots[--db->n_slots];
			break;
		}
	struct pg_params p = { .n = 0 };
	pg_param_int(&p, key);
	return pg_run_only(db, "connection slot",
			   "SELECT pg_advisory_unlock(" LOCK_SLOT ", $1::int)", &p, err);
}

int pg_workers_foreach(struct state_db *base, state_worker_cb *cb, void *aux, struct mf_error *err)
{
	struct pg_state *db = (struct pg_state *)base;
	PGresult *r = pg_run(db, "read workers",
			     "SELECT w.name, coalesce(w.started,0), coalesce(w.heartbeat,0),"
			     " coalesce(w.left_at,0), (SELECT count(*) FROM mailboxes m"
			     "  WHERE m.worker=w.name AND m.lease_until IS NOT NULL),"
			     " coalesce(w.lease_s,0), " NOW_S ""
			     " FROM workers w ORDER BY w.name COLLATE \"C\"",
			     NULL, err);
	if (r == NULL)
		return err->status;
	int st = MF_OK;
	for (int i = 0; st == MF_OK && i < PQntuples(r); i++) {
		struct state_worker w = { .name = pg_text(r, i, 0),
					  .started = pg_int(r, i, 1),
					  .heartbeat = pg_int(r, i, 2),
					  .left = pg_int(r, i, 3),
					  .holding = (uint64_t)pg_int(r, i, 4),
					  .lease_s = (unsigned)pg_int(r, i, 5),
					  .now = pg_int(r, i, 6) };
		st = cb(&w, aux);
	}
	PQclear(r);
	return st;
}
