/* SPDX-License-Identifier: MIT */
/* Inside the PostgreSQL state store: the handle its files share
 * (state_pg.c: connecting, reconnecting and the engine's reads and
 * writes; state_pg_schema.c: schema versions; state_pg_views.c: the
 * dashboard's queries). */
#ifndef MF_CORE_STATE_PG_P_H
#define MF_CORE_STATE_PG_P_H

#include "state_store.h"

#include <libpq-fe.h>

/* Bump with a step in state_pg.c's schema_steps whenever the tables
 * change. */
#define PG_SCHEMA_VERSION 2

struct pg_state {
	struct state_db base; /* first: the interface's handle */
	PGconn *conn;
	char *location; /* as given; may hold a password: never printed */
	char *display;  /* postgresql://user@host:port/db, for messages */
	/* The mailbox whose advisory lock this connection holds (see
	 * state_pg.c), 0 if none: taken again after a reconnect. */
	int64_t locked_mailbox;
	/* Connection slots (advisory lock keys, state_pg_lease.c) this
	 * session holds: taken again after a reconnect. */
	int *slots;
	size_t n_slots;
};

/* Up to 16 parameters, text unless len[i] > 0 (binary of that length);
 * NULL values are SQL NULL. */
struct pg_params {
	int n;
	const char *v[16];
	int len[16];
	char buf[16][24]; /* room for numbers */
};
void pg_param_text(struct pg_params *p, const char *s);
void pg_param_int(struct pg_params *p, int64_t v);
void pg_param_bytes(struct pg_params *p, const unsigned char *b, int len);

/* pg_advisory_lock class of the per-mailbox locks: ours, not another
 * program's. */
#define LOCK_MAILBOX "1835430002"
/* ... and of connection slots (state_pg_lease.c). */
#define LOCK_SLOT "1835430003"
/* libpq's message on one line (in buf), without its trailing newline. */
const char *pg_one_line(PGconn *conn, char *buf, size_t len);
/* Take the mailbox's advisory lock on this connection; false if another
 * session holds it. */
bool pg_take_mailbox_lock(struct pg_state *db, int64_t id);
/* After a reconnect: the connection slots the old session held, locked
 * again; false if another worker took one meanwhile. */
bool pg_take_slots_again(struct pg_state *db);
/* Session settings, on every new or re-made connection. */
void pg_session_setup(struct pg_state *db);
/* A first connection that failed: tried again with back-off for the
 * reconnect budget (a database restarting, a worker started before its
 * database), unless the server refused for good (credentials, names). */
void pg_connect_wait(struct pg_state *db);
/* Run one statement, reconnecting (PQreset with back-off) if the link to
 * the server dropped and running it again: every statement the store
 * sends stands alone, so running it twice does no harm.  Returns the
 * result (PQclear it) or NULL with err set, naming what failed. */
PGresult *pg_run(struct pg_state *db, const char *what, const char *sql, const struct pg_params *p,
		 struct mf_error *err);
/* pg_run for a statement whose rows are not wanted: MF_OK or err's status. */
int pg_run_only(struct pg_state *db, const char *what, const char *sql, const struct pg_params *p,
		struct mf_error *err);
/* The same with n text parameters (len and fmt may be NULL). */
PGresult *pg_run_v(struct pg_state *db, const char *what, const char *sql, int n,
		   const char *const *v, const int *len, const int *fmt, struct mf_error *err);
int64_t pg_int(const PGresult *r, int row, int col);
const char *pg_text(const PGresult *r, int row, int col); /* NULL if SQL NULL */

/* state_pg_schema.c: check the database's stamped schema version against
 * known, inside a transaction that holds the store's schema lock: refuse
 * a newer one (naming both) or an unreadable one, run steps[v-1] ..
 * steps[known-2] on an older one and stamp it known.  A database without
 * the tables is new: *fresh_r = true, nothing done. */
int state_pg_schema_check(PGconn *conn, const char *display, int known, const char *const *steps,
			  bool *fresh_r, struct mf_error *err);

/* state_pg_lease.c: several workers (see state.h) */
int pg_run_join(struct state_db *base, const char *key, const char *const *names, size_t n,
		unsigned lease_s, int64_t *run_id_r, struct mf_error *err);
int pg_run_claim(struct state_db *base, int64_t run_id, unsigned lease_s, const int64_t *skip,
		 size_t n_skip, enum state_claim *c_r, struct state_claimed *m_r,
		 struct mf_error *err);
int pg_run_unclaim(struct state_db *base, int64_t mailbox_id, struct mf_error *err);
int pg_run_done(struct state_db *base, int64_t run_id, int64_t mailbox_id, struct mf_error *err);
int pg_run_heartbeat(struct state_db *base, const int64_t *held, size_t n, unsigned lease_s,
		     state_lost_cb *lost_cb, void *aux, struct mf_error *err);
int pg_run_leave(struct state_db *base, struct mf_error *err);
int pg_tokens_take(struct state_db *base, const char *bucket, double rate, double burst, double n,
		   double *wait_s_r, struct mf_error *err);
int pg_slot_take(struct state_db *base, const char *host, unsigned cap, int *slot_r,
		 struct mf_error *err);
int pg_slot_release(struct state_db *base, const char *host, int slot, struct mf_error *err);
int pg_workers_foreach(struct state_db *base, state_worker_cb *cb, void *aux, struct mf_error *err);

/* state_pg_views.c */
/* One row of mailbox status: the columns, over "mailboxes b" with the
 * joins, grouped; pg_status_row() reads a row of them. */
#define PG_STATUS_COLUMNS                                                             \
	"SELECT b.name, b.source_uri, b.sink_uri, b.status, b.last_error, b.enabled," \
	" coalesce(b.started,0), coalesce(b.finished,0),"                             \
	" (SELECT count(*) FROM folders f2 WHERE f2.mailbox_id=b.id),"                \
	" count(m.status) FILTER (WHERE m.status='copied'),"                          \
	" coalesce(sum(m.size) FILTER (WHERE m.status='copied'),0),"                  \
	" count(m.status) FILTER (WHERE m.status='failed'),"                          \
	" count(m.status) FILTER (WHERE m.status='pending'),"                         \
	" b.worker, coalesce(b.heartbeat,0), coalesce(b.lease_until,0)"
#define PG_STATUS_JOINS \
	" LEFT JOIN folders f ON f.mailbox_id=b.id LEFT JOIN messages m ON m.folder_id=f.id"
#define PG_STATUS_GROUP                                                             \
	" GROUP BY b.id, b.name, b.source_uri, b.sink_uri, b.status, b.last_error," \
	" b.enabled, b.started, b.finished, b.worker, b.heartbeat, b.lease_until"
void pg_status_row(const PGresult *r, int i, struct state_mailbox_status *s);
int pg_mailboxes_declare(struct state_db *base, const struct state_mailbox_decl *v, size_t n,
			 struct mf_error *err);
int pg_mailbox_page(struct state_db *base, const struct state_mailbox_query *q, uint64_t *matched_r,
		    state_status_cb *cb, void *aux, struct mf_error *err);
int pg_totals(struct state_db *base, struct state_totals *t_r, struct mf_error *err);
int pg_throughput(struct state_db *base, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		  void *aux, struct mf_error *err);

#endif
