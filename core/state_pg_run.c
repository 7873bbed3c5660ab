/* SPDX-License-Identifier: MIT */
/* Running statements on the PostgreSQL state store: parameters, results,
 * and the reconnect (PQreset with back-off) that lets every call be sent
 * again after a dropped link.  Below both state_pg.c and state_pg_views.c,
 * so neither calls the other. */
#include <config.h>
#include "state_pg_p.h"
#include "host.h"
#include "log.h"

#include <mailferry/util.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a dropped (or not yet made) connection is tried again before
 * the call fails: MAILFERRY_STATE_WAIT seconds, default a minute. */
static unsigned reconnect_budget_ms(void)
{
	const char *v = getenv("MAILFERRY_STATE_WAIT");
	char *end = NULL;
	long s = v != NULL ? strtol(v, &end, 10) : -1;
	return v != NULL && *v != '\0' && *end == '\0' && s >= 0 && s <= 86400 ? (unsigned)s * 1000
									       : 60000;
}

void pg_param_text(struct pg_params *p, const char *s)
{
	p->len[p->n] = 0;
	p->v[p->n++] = s;
}

void pg_param_int(struct pg_params *p, int64_t v)
{
	snprintf(p->buf[p->n], sizeof(p->buf[p->n]), "%lld", (long long)v);
	p->len[p->n] = 0;
	p->v[p->n] = p->buf[p->n];
	p->n++;
}

void pg_param_bytes(struct pg_params *p, const unsigned char *b, int len)
{
	p->len[p->n] = b != NULL ? len : 0;
	p->v[p->n++] = (const char *)b;
}

int64_t pg_int(const PGresult *r, int row, int col)
{
	const char *t = PQgetvalue(r, row, col);
	if (t[0] == 't' || t[0] == 'f') /* boolean */
		return t[0] == 't';
	return strtoll(t, NULL, 10);
}

const char *pg_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* libpq's message on one line, without its trailing newline. */
const char *pg_one_line(PGconn *conn, char *buf, size_t len)
{
	snprintf(buf, len, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n')
			*p = p[1] != '\0' ? ' ' : '\0';
	return buf[0] != '\0' ? buf : "unknown error";
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

bool pg_take_mailbox_lock(struct pg_state *db, int64_t id)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(" LOCK_MAILBOX ", %d)",
		 (int)(id & 0x7fffffff));
	PGresult *r = PQexec(db->conn, sql);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		  PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return ok;
}

void pg_session_setup(struct pg_state *db)
{
	/* Quiet NOTICEs; and the server's side of a lost machine: its
	 * backend (and so the mailbox and slot locks it holds) is dropped
	 * within about a minute, not after the kernel's two hours. */
	PQclear(PQexec(db->conn, "SET client_min_messages=warning; SET tcp_keepalives_idle=30;"
				 " SET tcp_keepalives_interval=10; SET tcp_keepalives_count=3;"
				 " SET tcp_user_timeout=60000"));
}

/* A refusal that waiting does not cure: wrong credentials or names. */
static bool final_refusal(PGconn *conn)
{
	const char *m = PQerrorMessage(conn);
	return strstr(m, "authentication failed") != NULL || strstr(m, "does not exist") != NULL ||
	       strstr(m, "no password supplied") != NULL || strstr(m, "not permitted") != NULL ||
	       strstr(m, "invalid") != NULL;
}

void pg_connect_wait(struct pg_state *db)
{
	unsigned delay = 250, spent = 0, budget = reconnect_budget_ms();
	bool told = false;
	while (PQstatus(db->conn) != CONNECTION_OK && !final_refusal(db->conn) && spent < budget &&
	       !atomic_load(&mf_cancel_requested)) {
		if (!told) {
			char buf[400];
			log_msg(MF_LOG_WARN, "state %s: cannot connect (%s); trying again for %u s",
				db->display, pg_one_line(db->conn, buf, sizeof(buf)),
				budget / 1000);
			told = true;
		}
		sleep_ms(delay);
		spent += delay;
		delay = delay * 2 > 8000 ? 8000 : delay * 2;
		PQreset(db->conn);
	}
}

bool pg_take_slots_again(struct pg_state *db)
{
	bool all = true;
	for (size_t i = 0; i < db->n_slots; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(" LOCK_SLOT ", %d)",
			 db->slots[i]);
		PGresult *r = PQexec(db->conn, sql);
		all &= PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		       PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
	}
	return all;
}

/* The link is gone: PQreset with back-off until it is back, the time
 * budget is spent or the run is canceled; then the mailbox lock the old
 * session held is taken again (another worker may have it by now). */
static int reconnect(struct pg_state *db, const char *what, struct mf_error *err)
{
	char first[400];
	pg_one_line(db->conn, first, sizeof(first));
	unsigned delay = 250, spent = 0, attempts = 0;
	while (PQstatus(db->conn) != CONNECTION_OK) {
		if (spent >= reconnect_budget_ms() || atomic_load(&mf_cancel_requested)) {
			char now[400];
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_LATER,
					    "state %s: %s: connection to the server lost (%s) and "
					    "not back after %u attempts over %u s: %s",
					    db->display, what, first, attempts, spent / 1000,
					    pg_one_line(db->conn, now, sizeof(now)));
		}
		sleep_ms(delay);
		spent += delay;
		delay = delay * 2 > 8000 ? 8000 : delay * 2;
		attempts++;
		PQreset(db->conn);
	}
	log_msg(MF_LOG_WARN,
		"state %s: connection to the server lost (%s); back after %u "
		"attempt%s",
		db->display, first, attempts, attempts == 1 ? "" : "s");
	pg_session_setup(db);
	if (!pg_take_slots_again(db))
		log_msg(MF_LOG_WARN,
			"state %s: a connection slot this worker held was taken by another "
			"while the database was away: over the shared cap until one is released",
			db->display);
	if (db->locked_mailbox != 0 && !pg_take_mailbox_lock(db, db->locked_mailbox))
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				    "state %s: %s: the connection dropped and another worker "
				    "took this mailbox over meanwhile; this one stops on it",
				    db->display, what);
	return MF_OK;
}

PGresult *pg_run_v(struct pg_state *db, const char *what, const char *sql, int n,
		   const char *const *v, const int *len, const int *fmt, struct mf_error *err)
{
	for (;;) {
		PGresult *r = PQexecParams(db->conn, sql, n, NULL, v, len, fmt, 0);
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
			return r;
		PQclear(r);
		if (PQstatus(db->conn) == CONNECTION_OK) {
			char buf[400];
			mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "state %s: %s: %s",
				     db->display, what, pg_one_line(db->conn, buf, sizeof(buf)));
			return NULL;
		}
		if (reconnect(db, what, err) != MF_OK)
			return NULL;
	}
}

int pg_run_only(struct pg_state *db, const char *what, const char *sql, const struct pg_params *p,
		struct mf_error *err)
{
	PGresult *r = pg_run(db, what, sql, p, err);
	if (r == NULL)
		return err->status;
	PQclear(r);
	return MF_OK;
}

PGresult *pg_run(struct pg_state *db, const char *what, const char *sql, const struct pg_params *p,
		 struct mf_error *err)
{
	static const struct pg_params none = { .n = 0 };
	if (p == NULL)
		p = &none;
	int fmt[16];
	for (int i = 0; i < p->n; i++)
		fmt[i] = p->len[i] > 0;
	return pg_run_v(db, what, sql, p->n, p->v, p->len, fmt, err);
}
