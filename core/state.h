/* SPDX-License-Identifier: MIT */
/* The state store, as the engine calls it: runs, mailboxes, folders and
 * one row per message handled.  state_open() picks the implementation by
 * the location (core/state_store.h has the interface an implementation
 * fills; SQLite, core/state_sqlite.c, is the embedded default).  A message becomes "copied"
 * only after the sink confirmed it; a "pending" row written just before
 * the append lets a re-run after a crash ask the sink instead of copying
 * twice. */
#ifndef MF_CORE_STATE_H
#define MF_CORE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>

struct state_db;

/* location: a file path (SQLite), or a postgresql:// (postgres://) URL
 * for a store several workers share; another scheme is refused by name. */
int state_open(const char *location, struct state_db **db_r, struct mf_error *err);
void state_close(struct state_db **db);

/* The name this process writes as a mailbox's worker: "host:pid" unless
 * the front end set one (--worker, MAILFERRY_WORKER) before the first
 * state call.  Not thread-safe to set; read from any thread after. */
void state_set_worker_name(const char *name);
const char *state_worker_name(void);

/* Mailboxes are keyed by the operator's account name.  A shared store
 * refuses a mailbox another worker's session holds: MF_ERR_ACCOUNT,
 * MF_RETRY_LATER, err->sys_errno = EBUSY, *id_r left 0. */
int state_mailbox_begin(struct state_db *db, const char *name, const char *source_uri,
			const char *sink_uri, int64_t *id_r, bool *enabled_r, struct mf_error *err);
/* status: "pending", "running", "done", "failed", "disabled" */
int state_mailbox_finish(struct state_db *db, int64_t mailbox_id, const char *status,
			 const char *last_error, struct mf_error *err);
int state_mailbox_set_enabled(struct state_db *db, const char *name, bool enabled,
			      struct mf_error *err);

struct state_folder {
	int64_t id;
	uint32_t uidvalidity;
	uint64_t last_uid;
	char *sync_state; /* malloc'd or NULL */
};
int state_folder_begin(struct state_db *db, int64_t mailbox_id, const char *path,
		       struct state_folder *f_r, struct mf_error *err);
void state_folder_clear(struct state_folder *f);
int state_folder_save(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
		      uint64_t last_uid, const char *sync_state, const char *target_path,
		      const char *status, const char *last_error, struct mf_error *err);

enum state_msg_status {
	STATE_MSG_NONE,    /* never seen, or failed in a retryable way */
	STATE_MSG_PENDING, /* an append was started, outcome unknown */
	STATE_MSG_COPIED,
	STATE_MSG_FAILED, /* failed permanently: not retried */
};
enum state_msg_status state_message_status(struct state_db *db, int64_t folder_id,
					   uint32_t uidvalidity, const char *source_id);
/* True if the message needs no more work (copied or failed for good). */
bool state_message_have(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			const char *source_id);
int state_message_pending(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			  const char *source_id, uint64_t size, const unsigned char digest[32],
			  struct mf_error *err);
int state_message_copied(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 const char *source_id, uint64_t size, const unsigned char digest[32],
			 const char *target_folder, const char *target_id, struct mf_error *err);
int state_message_failed(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 const char *source_id, uint64_t size, bool permanent,
			 const char *error_text, struct mf_error *err);

/* After a UIDVALIDITY change: a message copied under another uidvalidity
 * with this digest and not yet claimed under the new one. */
bool state_digest_match(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			const unsigned char digest[32], char target_id[128]);

struct state_mailbox_status {
	const char *name, *source_uri, *sink_uri, *status, *last_error;
	bool enabled;
	int64_t started, finished; /* unix seconds, 0 if never */
	/* A shared store's (PostgreSQL's) lease: the worker that holds the
	 * mailbox or held it last, its last heartbeat and when the lease
	 * runs out (unix seconds, 0 if none); NULL and 0 in SQLite. */
	const char *worker;
	int64_t heartbeat, lease_until;
	uint64_t folders, copied, copied_bytes, failed, pending;
};
typedef int state_status_cb(const struct state_mailbox_status *st, void *aux);
int state_status_foreach(struct state_db *db, const char *only_name, state_status_cb *cb, void *aux,
			 struct mf_error *err);

struct state_failure {
	const char *folder, *source_id, *error;
};
typedef int state_failure_cb(const struct state_failure *f, void *aux);
int state_failures_foreach(struct state_db *db, const char *mailbox_name, state_failure_cb *cb,
			   void *aux, struct mf_error *err);

/* migrate --only-failed: the folders of a mailbox with work left by
 * earlier runs (the folder ended "failed", or messages in it are recorded
 * failed, or pending: an append whose outcome is not known yet), ordered
 * by path.  A mailbox with none has nothing to retry. */
struct state_retry_folder {
	const char *path, *status; /* status: the folder's last outcome, NULL if none */
	uint64_t failed, pending;  /* message rows under the folder's uidvalidity */
};
typedef int state_retry_folder_cb(const struct state_retry_folder *f, void *aux);
int state_retry_folders(struct state_db *db, const char *mailbox_name, state_retry_folder_cb *cb,
			void *aux, struct mf_error *err);
/* The source ids of one folder's messages recorded failed (for good or
 * not) or pending under uidvalidity, in no particular order. */
typedef int state_id_cb(const char *source_id, void *aux);
int state_retry_messages(struct state_db *db, int64_t folder_id, uint32_t uidvalidity,
			 state_id_cb *cb, void *aux, struct mf_error *err);

/* Every folder of a mailbox with where it went and how many of its
 * messages are recorded as failed. */
struct state_folder_target {
	const char *path, *target_path; /* target_path NULL if never copied */
	uint64_t copied, failed;
	const char *status, *last_error; /* the folder's last outcome; NULL if none */
};
typedef int state_folder_target_cb(const struct state_folder_target *t, void *aux);
int state_folder_targets(struct state_db *db, const char *mailbox_name, state_folder_target_cb *cb,
			 void *aux, struct mf_error *err);

/* The dashboard's views (mailferry serve), answered by the store so that
 * 5,000 mailboxes cost one page's work, not a scan per request.
 * Every mailbox of a run is declared "pending" before the first starts,
 * so the ones still waiting are visible; an existing row is left as it
 * is. */
struct state_mailbox_decl {
	const char *name, *source_uri, *sink_uri;
};
int state_mailboxes_declare(struct state_db *db, const struct state_mailbox_decl *v, size_t n,
			    struct mf_error *err);

enum state_sort {
	STATE_SORT_NAME,
	STATE_SORT_STATUS,
	STATE_SORT_STARTED,
	STATE_SORT_FINISHED,
	STATE_SORT_COPIED,
	STATE_SORT_BYTES,
	STATE_SORT_FAILED,
};
struct state_mailbox_query {
	const char *search; /* NULL, or a substring of the name or sink URI (any case) */
	const char *status; /* NULL, or only mailboxes in this status; "disabled" also
			     * matches one disabled while it ran (it ends "done" or
			     * "failed" but is left out of later runs) */
	enum state_sort sort;
	bool descending;
	uint64_t offset, limit; /* limit 0: all */
};
/* The rows of one page, in order; *matched_r: how many match in all. */
int state_mailbox_page(struct state_db *db, const struct state_mailbox_query *q,
		       uint64_t *matched_r, state_status_cb *cb, void *aux, struct mf_error *err);

struct state_totals {
	uint64_t mailboxes, pending, running, done, failed, disabled, other;
	uint64_t copied, copied_bytes, failed_messages, pending_messages;
	int64_t first_started, last_finished; /* unix seconds, 0 if none */
};
int state_totals(struct state_db *db, struct state_totals *t_r, struct mf_error *err);

/* Messages copied per bucket of bucket_seconds since the unix time since,
 * oldest first; empty buckets are left out. */
struct state_rate_sample {
	int64_t start; /* unix seconds, a multiple of bucket_seconds */
	uint64_t messages, bytes;
};
typedef int state_rate_cb(const struct state_rate_sample *s, void *aux);
int state_throughput(struct state_db *db, int64_t since, unsigned bucket_seconds, state_rate_cb *cb,
		     void *aux, struct mf_error *err);

/* Several workers on one shared store (PostgreSQL; the SQLite file has
 * one process and none of this: state_is_shared() is false and the rest
 * is not called).  The workers of one accounts list join one run, keyed
 * by that list; a worker claims a mailbox with a lease (FOR UPDATE SKIP
 * LOCKED), keeps it alive by heartbeats, marks it done for the run; a
 * lease not renewed runs out and another worker takes the mailbox over.
 * The run ends when no mailbox of it is left. */
bool state_is_shared(struct state_db *db);
/* Join (or open) the run keyed by key and make names its mailboxes
 * (declared before); registers this worker and the lease it keeps. */
int state_run_join(struct state_db *db, const char *key, const char *const *names, size_t n,
		   unsigned lease_s, int64_t *run_id_r, struct mf_error *err);
enum state_claim {
	STATE_CLAIM_GOT,  /* *name_r is ours for lease_s seconds */
	STATE_CLAIM_WAIT, /* the rest is leased to live workers: ask again */
	STATE_CLAIM_NONE, /* every mailbox of the run is done: the run ended */
};
struct state_claimed {
	int64_t id;
	char *name;       /* malloc'd */
	char *taken_from; /* malloc'd: a worker whose lease ran out, or NULL */
	unsigned wait_ms; /* STATE_CLAIM_WAIT: when to ask again */
};
/* skip: mailbox ids this worker will not take now (held elsewhere, or
 * not in its own list). */
int state_run_claim(struct state_db *db, int64_t run_id, unsigned lease_s, const int64_t *skip,
		    size_t n_skip, enum state_claim *c_r, struct state_claimed *m_r,
		    struct mf_error *err);
void state_claimed_clear(struct state_claimed *m);
/* Give a claim back unworked (the mailbox's session lock was held). */
int state_run_unclaim(struct state_db *db, int64_t mailbox_id, struct mf_error *err);
/* The mailbox is finished for this run (done, failed or disabled). */
int state_run_done(struct state_db *db, int64_t run_id, int64_t mailbox_id, struct mf_error *err);
/* Renew the leases on held[0..n) (taking back any no one else leased
 * meanwhile); lost_cb is called for each that another worker holds now. */
typedef void state_lost_cb(int64_t mailbox_id, void *aux);
int state_run_heartbeat(struct state_db *db, const int64_t *held, size_t n, unsigned lease_s,
			state_lost_cb *lost_cb, void *aux, struct mf_error *err);
/* This worker stops: its leases end now, so others need not wait. */
int state_run_leave(struct state_db *db, struct mf_error *err);

/* Limits shared by every worker of a run.  A token bucket in the store
 * (rate per second, burst): take n tokens; *wait_s_r is how long the
 * caller must wait before going on (the bucket allows debt). */
int state_tokens_take(struct state_db *db, const char *bucket, double rate, double burst, double n,
		      double *wait_s_r, struct mf_error *err);
/* One of cap connection slots of host, held by this store's session (a
 * worker that dies frees its slots with its connection); *slot_r -1 when
 * all cap are taken. */
int state_slot_take(struct state_db *db, const char *host, unsigned cap, int *slot_r,
		    struct mf_error *err);
int state_slot_release(struct state_db *db, const char *host, int slot, struct mf_error *err);

/* The workers a shared store knows: name, last heartbeat, when it left
 * (0 while it runs), how many mailboxes it holds now and its lease; now:
 * the store's clock (heartbeats are the store's time too). */
struct state_worker {
	const char *name;
	int64_t started, heartbeat, left, now;
	uint64_t holding;
	unsigned lease_s;
};
typedef int state_worker_cb(const struct state_worker *w, void *aux);
int state_workers_foreach(struct state_db *db, state_worker_cb *cb, void *aux,
			  struct mf_error *err);

#endif
