/* SPDX-License-Identifier: MIT */
/* Inside the PostgreSQL state store: the handle its files share
 * (state_pg.c: connecting, reconnecting and the engine's reads and
 * writes; state_pg_schema.c: schema versions; state_pg_views.c: the
 * dashboard's queries). */
#ifndef MF_CORE_STATE_PG_P_H
#define MF_CORE_STATE_PG_P_H

#include "state_store.h"

#include <libpq-fe.h>

struct pg_state {
	struct state_db base; /* first: the interface's handle */
	PGconn *conn;
	char *location; /* as given; may hold a password: never printed */
	char *display;  /* postgresql://user@host:port/db, for messages */
	/* The mailbox whose advisory lock this connection holds (see
	 * state_pg.c), 0 if none: taken again after a reconnect. */
	int64_t locked_mailbox;
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
/* libpq's message on one line (in buf), without its trailing newline. */
const char *pg_one_line(PGconn *conn, char *buf, size_t len);
/* Take the mailbox's advisory lock on this connection; false if another
 * session holds it. */
bool pg_take_mailbox_lock(struct pg_state *db, int64_t id);
/* Run one statement, reconnecting (PQreset with back-off) if the link to
 * the server dropped and running it again: every statement the store
 * sends stands alone, so running it twice does no harm.  Returns the
 * result (PQclear it) or NULL with err set, naming what failed. */
PGresult *pg_run(struct pg_state *db, const char *what, const char *sql, const struct pg_params *p,
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

/* state_pg_views.c */
int pg_mailboxes_declare(struct state_db *base, const struct state_mailbox_decl *v, size_t n,
			 struct mf_error *err);
int pg_mailbox_page(struct state_db *base, const struct state_mailbox_query *q, uint64_t *matched_r,
		    state_status_cb *cb, void *aux, struct mf_error *err);
int pg_totals(struct state_db *base, struct state_totals *t_r, struct mf_error *err);
int pg_throughput(struct state_db *base, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		  void *aux, struct mf_error *err);

#endif
