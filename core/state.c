/* SPDX-License-Identifier: MIT */
/* The state interface: picks a store by its location and forwards every
 * call to it.  Nothing here knows SQL; each store (SQLite for a file,
 * PostgreSQL for several workers) is one entry in state_open(), not a
 * branch in the engine. */
#include <config.h>
#include "state_store.h"

#include <stdlib.h>
#include <string.h>

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
