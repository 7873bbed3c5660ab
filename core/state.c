/* SPDX-License-Identifier: MIT */
/* The state interface: picks a store by its location and forwards every
 * call to it.  Nothing here knows SQL; each store (SQLite for a file,
 * PostgreSQL for several workers) is one entry in state_open(), not a
 * branch in the engine. */
#include <config.h>
#include "state_store.h"

#include <mailferry/util.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int state_open(const char *location, struct state_db **db_r, struct mf_error *err)
{
	*db_r = NULL;
	if (strncmp(location, "postgresql://", 13) == 0 ||
	    strncmp(location, "postgres://", 11) == 0)
		return state_pg_open(location, db_r, err);
	const char *colon = strstr(location, "://");
	if (colon != NULL) {
		/* Another URL: a file of that name is surely not what the
		 * operator meant.  Only the scheme is named: the rest may hold
		 * a password. */
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "state %.*s://...: no state store for '%.*s' in this build "
				    "(postgresql:// is one; a file path is kept in SQLite)",
				    (int)(colon - location), location, (int)(colon - location),
				    location);
	}
	return state_sqlite_open(location, db_r, err);
}

void state_close(struct state_db **db)
{
	if (*db == NULL)
		return;
	(*db)->ops->close(*db);
	*db = NULL;
}

int state_mailbox_begin(struct state_db *db, const char *name, const char *source_uri,
			const char *sink_uri, int64_t *id_r, bool *enabled_r, struct mf_error *err)
{
	return db->ops->mailbox_begin(db, name, source_uri, sink_uri, id_r, enabled_r, err);
}

int state_mailbox_finish(struct state_db *db, int64_t mailbox_id, const char *status,
			 const char *last_error, struct mf_error *err)
{
	return db->ops->mailbox_finish(db, mailbox_id, status, last_error, err);
}

int state_mailbox_set_enabled(struct state_db *db, const char *name, bool enabled,
			      struct mf_error *err)
{
	return db->ops->mailbox_set_enabled(db, name, enabled, err);
}

int state_folder_begin(struct state_db *db, int64_t mailbox_id, const char *path,
		       struct state_folder *f_r, struct mf_error *err)
{
	return db->ops->folder_begin(db, mailbox_id, path, f_r, err);
}

void state_folder_clear(struct state_folder *f)
{
	free(f->sync_state);
	memset(f, 0, sizeof(*f));
}

int state_folder_save(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
		      uint64_t last_uid, const char *sync_state, const char *target_path,
		      const char *status, const char *last_error, struct mf_error *err)
{
	return db->ops->folder_save(db, folder_id, uidvalidity, last_uid, sync_state, target_path,
				    status, last_error, err);
}

enum state_msg_status state_message_status(struct state_db *db, int64_t folder_id,
					   uint32_t uidvalidity, const char *source_id)
{
	return db->ops->message_status(db, folder_id, uidvalidity, source_id);
}

bool state_message_have(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			const char *source_id)
{
	enum state_msg_status s = state_message_status(db, folder_id, uidvalidity, source_id);
	return s == STATE_MSG_COPIED || s == STATE_MSG_FAILED;
}

int state_message_pending(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			  const char *source_id, uint64_t size, const unsigned char digest[32],
			  struct mf_error *err)
{
	return db->ops->message_pending(db, folder_id, uidvalidity, source_id, size, digest, err);
}

int state_message_copied(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 const char *source_id, uint64_t size, const unsigned char digest[32],
			 const char *target_folder, const char *target_id, struct mf_error *err)
{
	return db->ops->message_copied(db, folder_id, uidvalidity, source_id, size, digest,
				       target_folder, target_id, err);
}

int state_message_failed(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 const char *source_id, uint64_t size, bool permanent,
			 const char *error_text, struct mf_error *err)
{
	return db->ops->message_failed(db, folder_id, uidvalidity, source_id, size, permanent,
				       error_text, err);
}

bool state_digest_match(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			const unsigned char digest[32], char target_id[128])
{
	return db->ops->digest_match(db, folder_id, uidvalidity, digest, target_id);
}

int state_status_foreach(struct state_db *db, const char *only_name, state_status_cb *cb, void *aux,
			 struct mf_error *err)
{
	return db->ops->status_foreach(db, only_name, cb, aux, err);
}

int state_failures_foreach(struct state_db *db, const char *mailbox_name, state_failure_cb *cb,
			   void *aux, struct mf_error *err)
{
	return db->ops->failures_foreach(db, mailbox_name, cb, aux, err);
}

int state_retry_folders(struct state_db *db, const char *mailbox_name, state_retry_folder_cb *cb,
			void *aux, struct mf_error *err)
{
	return db->ops->retry_folders(db, mailbox_name, cb, aux, err);
}

int state_retry_messages(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 state_id_cb *cb, void *aux, struct mf_error *err)
{
	return db->ops->retry_messages(db, folder_id, uidvalidity, cb, aux, err);
}

int state_folder_targets(struct state_db *db, const char *mailbox_name, state_folder_target_cb *cb,
			 void *aux, struct mf_error *err)
{
	return db->ops->folder_targets(db, mailbox_name, cb, aux, err);
}

int state_mailboxes_declare(struct state_db *db, const struct state_mailbox_decl *v, size_t n,
			    struct mf_error *err)
{
	return db->ops->mailboxes_declare(db, v, n, err);
}

int state_mailbox_page(struct state_db *db, const struct state_mailbox_query *q,
		       uint64_t *matched_r, state_status_cb *cb, void *aux, struct mf_error *err)
{
	return db->ops->mailbox_page(db, q, matched_r, cb, aux, err);
}

int state_totals(struct state_db *db, struct state_totals *t_r, struct mf_error *err)
{
	return db->ops->totals(db, t_r, err);
}

int state_throughput(struct state_db *db, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		     void *aux, struct mf_error *err)
{
	return db->ops->throughput(db, since, bucket_seconds, cb, aux, err);
}

bool state_is_shared(struct state_db *db)
{
	return db != NULL && db->ops->run_claim != NULL;
}

/* The shared-run calls on a store of one process: a caller's mistake. */
static int not_shared(struct mf_error *err, const char *call)
{
	return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			    "state: %s needs a shared state store (postgresql://)", call);
}

int state_run_join(struct state_db *db, const char *key, const char *const *names, size_t n,
		   unsigned lease_s, int64_t *run_id_r, struct mf_error *err)
{
	if (db->ops->run_join == NULL)
		return not_shared(err, "run_join");
	return db->ops->run_join(db, key, names, n, lease_s, run_id_r, err);
}

int state_run_claim(struct state_db *db, int64_t run_id, unsigned lease_s, const int64_t *skip,
		    size_t n_skip, enum state_claim *c_r, struct state_claimed *m_r,
		    struct mf_error *err)
{
	memset(m_r, 0, sizeof(*m_r));
	if (db->ops->run_claim == NULL)
		return not_shared(err, "run_claim");
	return db->ops->run_claim(db, run_id, lease_s, skip, n_skip, c_r, m_r, err);
}

void state_claimed_clear(struct state_claimed *m)
{
	free(m->name);
	free(m->taken_from);
	memset(m, 0, sizeof(*m));
}

int state_run_unclaim(struct state_db *db, int64_t mailbox_id, struct mf_error *err)
{
	if (db->ops->run_unclaim == NULL)
		return not_shared(err, "run_unclaim");
	return db->ops->run_unclaim(db, mailbox_id, err);
}

int state_run_done(struct state_db *db, int64_t run_id, int64_t mailbox_id, struct mf_error *err)
{
	if (db->ops->run_done == NULL)
		return not_shared(err, "run_done");
	return db->ops->run_done(db, run_id, mailbox_id, err);
}

int state_run_heartbeat(struct state_db *db, const int64_t *held, size_t n, unsigned lease_s,
			state_lost_cb *lost_cb, void *aux, struct mf_error *err)
{
	if (db->ops->run_heartbeat == NULL)
		return not_shared(err, "run_heartbeat");
	return db->ops->run_heartbeat(db, held, n, lease_s, lost_cb, aux, err);
}

int state_run_leave(struct state_db *db, struct mf_error *err)
{
	if (db->ops->run_leave == NULL)
		return not_shared(err, "run_leave");
	return db->ops->run_leave(db, err);
}

int state_tokens_take(struct state_db *db, const char *bucket, double rate, double burst, double n,
		      double *wait_s_r, struct mf_error *err)
{
	*wait_s_r = 0;
	if (db->ops->tokens_take == NULL)
		return not_shared(err, "tokens_take");
	return db->ops->tokens_take(db, bucket, rate, burst, n, wait_s_r, err);
}

int state_slot_take(struct state_db *db, const char *host, unsigned cap, int *slot_r,
		    struct mf_error *err)
{
	*slot_r = -1;
	if (db->ops->slot_take == NULL)
		return not_shared(err, "slot_take");
	return db->ops->slot_take(db, host, cap, slot_r, err);
}

int state_slot_release(struct state_db *db, const char *host, int slot, struct mf_error *err)
{
	if (db->ops->slot_release == NULL)
		return not_shared(err, "slot_release");
	return db->ops->slot_release(db, host, slot, err);
}

int state_workers_foreach(struct state_db *db, state_worker_cb *cb, void *aux, struct mf_error *err)
{
	if (db->ops->workers_foreach == NULL)
		return MF_OK; /* one process: no workers to list */
	return db->ops->workers_foreach(db, cb, aux, err);
}
