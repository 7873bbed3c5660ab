/* SPDX-License-Identifier: MIT */
/* For implementers of a state store (not for its callers, who include
 * state.h): the operations behind every state_* call.  A store's handle
 * embeds struct state_db first; state.c dispatches through its ops.  The
 * semantics every store keeps: a message is "copied" only once the sink
 * confirmed it, "pending" is written before the append, and each call
 * commits before it returns (a killed process loses nothing recorded). */
#ifndef MF_CORE_STATE_STORE_H
#define MF_CORE_STATE_STORE_H

#include "state.h"

struct state_store_ops {
	const char *name;
	void (*close)(struct state_db *db);
	int (*mailbox_begin)(struct state_db *db, const char *name, const char *source_uri,
			     const char *sink_uri, int64_t *id_r, bool *enabled_r,
			     struct mf_error *err);
	int (*mailbox_finish)(struct state_db *db, int64_t mailbox_id, const char *status,
			      const char *last_error, struct mf_error *err);
	int (*mailbox_set_enabled)(struct state_db *db, const char *name, bool enabled,
				   struct mf_error *err);
	int (*folder_begin)(struct state_db *db, int64_t mailbox_id, const char *path,
			    struct state_folder *f_r, struct mf_error *err);
	int (*folder_save)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			   uint64_t last_uid, const char *sync_state, const char *target_path,
			   const char *status, const char *last_error, struct mf_error *err);
	enum state_msg_status (*message_status)(struct state_db *db, int64_t folder_id,
						uint32_t uidvalidity, const char *source_id);
	int (*message_pending)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			       const char *source_id, uint64_t size, const unsigned char digest[32],
			       struct mf_error *err);
	int (*message_copied)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			      const char *source_id, uint64_t size, const unsigned char digest[32],
			      const char *target_folder, const char *target_id,
			      struct mf_error *err);
	int (*message_failed)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			      const char *source_id, uint64_t size, bool permanent,
			      const char *error_text, struct mf_error *err);
	bool (*digest_match)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			     const unsigned char digest[32], char target_id[128]);
	int (*status_foreach)(struct state_db *db, const char *only_name, state_status_cb *cb,
			      void *aux, struct mf_error *err);
	int (*failures_foreach)(struct state_db *db, const char *mailbox_name, state_failure_cb *cb,
				void *aux, struct mf_error *err);
	int (*folder_targets)(struct state_db *db, const char *mailbox_name,
			      state_folder_target_cb *cb, void *aux, struct mf_error *err);
	/* migrate --only-failed; see state.h. */
	int (*retry_folders)(struct state_db *db, const char *mailbox_name,
			     state_retry_folder_cb *cb, void *aux, struct mf_error *err);
	int (*retry_messages)(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			      state_id_cb *cb, void *aux, struct mf_error *err);
	/* The dashboard's views; see state.h. */
	int (*mailboxes_declare)(struct state_db *db, const struct state_mailbox_decl *v, size_t n,
				 struct mf_error *err);
	int (*mailbox_page)(struct state_db *db, const struct state_mailbox_query *q,
			    uint64_t *matched_r, state_status_cb *cb, void *aux,
			    struct mf_error *err);
	int (*totals)(struct state_db *db, struct state_totals *t_r, struct mf_error *err);
	int (*throughput)(struct state_db *db, int64_t since, unsigned bucket_seconds,
			  state_rate_cb *cb, void *aux, struct mf_error *err);
	/* A shared store's (see state.h); all NULL in a store of one process. */
	int (*run_join)(struct state_db *db, const char *key, const char *const *names, size_t n,
			unsigned lease_s, int64_t *run_id_r, struct mf_error *err);
	int (*run_claim)(struct state_db *db, int64_t run_id, unsigned lease_s, const int64_t *skip,
			 size_t n_skip, enum state_claim *c_r, struct state_claimed *m_r,
			 struct mf_error *err);
	int (*run_unclaim)(struct state_db *db, int64_t mailbox_id, struct mf_error *err);
	int (*run_done)(struct state_db *db, int64_t run_id, int64_t mailbox_id,
			struct mf_error *err);
	int (*run_heartbeat)(struct state_db *db, const int64_t *held, size_t n, unsigned lease_s,
			     state_lost_cb *lost_cb, void *aux, struct mf_error *err);
	int (*run_leave)(struct state_db *db, struct mf_error *err);
	int (*tokens_take)(struct state_db *db, const char *bucket, double rate, double burst,
			   double n, double *wait_s_r, struct mf_error *err);
	int (*slot_take)(struct state_db *db, const char *host, unsigned cap, int *slot_r,
			 struct mf_error *err);
	int (*slot_release)(struct state_db *db, const char *host, int slot, struct mf_error *err);
	int (*workers_foreach)(struct state_db *db, state_worker_cb *cb, void *aux,
			       struct mf_error *err);
};

struct state_db {
	const struct state_store_ops *ops;
};

/* The implementations this build has. */
int state_sqlite_open(const char *path, struct state_db **db_r, struct mf_error *err);
/* location: a postgresql:// or postgres:// URL (libpq's syntax). */
int state_pg_open(const char *location, struct state_db **db_r, struct mf_error *err);

#endif
