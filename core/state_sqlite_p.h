/* SPDX-License-Identifier: MIT */
/* Inside the SQLite state store: the handle its files share
 * (state_sqlite.c: the engine's reads and writes; state_sqlite_views.c:
 * the dashboard's queries). */
#ifndef MF_CORE_STATE_SQLITE_P_H
#define MF_CORE_STATE_SQLITE_P_H

#include "state_store.h"

#include <sqlite3.h>

enum stmt_id { ST_STATUS, ST_UPSERT_MSG, ST_DIGEST, ST_COUNT };

struct sqlite_state {
	struct state_db base; /* first: the interface's handle */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_COUNT];
};

/* state_sqlite_views.c */
int sq_mailboxes_declare(struct state_db *base, const struct state_mailbox_decl *v, size_t n,
			 struct mf_error *err);
int sq_mailbox_page(struct state_db *base, const struct state_mailbox_query *q, uint64_t *matched_r,
		    state_status_cb *cb, void *aux, struct mf_error *err);
int sq_totals(struct state_db *base, struct state_totals *t_r, struct mf_error *err);
int sq_throughput(struct state_db *base, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		  void *aux, struct mf_error *err);

#endif
