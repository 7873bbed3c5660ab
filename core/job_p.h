/* SPDX-License-Identifier: MIT */
/* Private to the job files (scheduler.c -> job_folder.c -> job_session.c):
 * the live state of one mailbox job (sessions, state connection, spool). */
#ifndef MF_CORE_JOB_P_H
#define MF_CORE_JOB_P_H

#include <pthread.h>

#include "plugin_loader.h"
#include "pool.h"
#include "scheduler.h"
#include "spool.h"
#include "state.h"

/* --only-failed: the folders of a mailbox with work left by earlier runs
 * (state_retry_folders), read once before the mailbox starts. */
struct retry_folder {
	char *path;
	bool failed;       /* the folder itself ended "failed": resume it whole */
	uint64_t messages; /* messages recorded failed or pending in it */
};
struct retry_folders {
	struct retry_folder *v;
	size_t n;
};

/* A mailbox's place among the --jobs copying at once (pool_gate),
 * taken once its sessions are open and its folders listed, and given
 * back when its first stream runs out of folders: what is left is its
 * tail (the other streams' last folders, the answers in flight,
 * logouts).  One mailbox at a time (opening) logs in and lists ahead,
 * while the others copy. */
struct job_place {
	struct pool_gate *gate;    /* NULL: not gated */
	struct pool_gate *opening; /* held from the job's start until gate */
	bool held;                 /* gate; under the job's lock */
	bool opening_held;         /* opening; the job's first thread only */
};

struct job_ctx {
	const struct run_config *cfg;
	struct job *job;
	const struct folder_map *fmap;
	struct loaded_plugin *src_plugin, *snk_plugin;
	struct mf_source *src;
	struct mf_sink *snk;
	/* The accounts lent to the open sessions (password NULL once
	 * open() returned): plugin.h says valid until close(). */
	struct mf_account src_acct, snk_acct;
	bool slots_held; /* connection slots of both hosts */
	struct state_db *db;
	/* The pipelined writer's own connection (a SQLite connection is
	 * used by one thread at a time), opened at the first folder and kept
	 * for the next ones: a PostgreSQL session costs the server tens of
	 * milliseconds to start.  NULL until then; closed with db. */
	struct state_db *writer_db;
	int64_t mailbox_id;
	struct spool spool;
	uint64_t rng;
	/* The job's counters and error text, shared by its streams (each
	 * a job_ctx of its own: sessions, state connection, spool). */
	pthread_mutex_t *lock;
	/* --only-failed: the folders to visit (NULL: every wanted folder). */
	const struct retry_folders *retry;
	struct job_place *place; /* shared by the job's streams */
	/* Further sink sessions of this stream, for a sink whose appends
	 * each wait a round trip (appends_wait, ABI 1.8): lane k's context
	 * holds its sink session, its state connection (db) and its slot
	 * on the sink's host; the stream's writer sends each message
	 * through one of them (job_lanes.c).  Opened at the first folder
	 * that needs them, kept for the next, closed after a failure. */
	struct job_ctx **lanes;
	unsigned nlanes;
	bool lanes_tried;
	/* The sink session opening on a thread of its own while this one
	 * opens the source (job_open_sink_start): one login's round trips
	 * hidden behind the other's. */
	struct {
		pthread_t thread;
		bool running;
		int st;
		struct mf_error err;
	} opener;
};

/* job_session.c.  The job's connection slots (both hosts), taken before
 * its first connection; false if canceled while waiting. */
bool job_acquire_slots(struct job_ctx *j);
/* The same for a further stream of the job: false at once if a host is
 * at its connection cap. */
bool job_try_acquire_slots(struct job_ctx *j);
void job_release_slots(struct job_ctx *j);
/* Open (or reopen after a failure) one side, within the per-host cap. */
int job_open_source(struct job_ctx *j, struct mf_error *err);
void job_close_source(struct job_ctx *j);
int job_open_sink(struct job_ctx *j, struct mf_error *err);
void job_close_sink(struct job_ctx *j);
/* job_open_sink() on a thread of its own; _finish waits for it and
 * returns what it returned.  Between the two the job's sink is the
 * opener's: only the source may be used. */
void job_open_sink_start(struct job_ctx *j);
int job_open_sink_finish(struct job_ctx *j, struct mf_error *err);

/* job_lanes.c.  Open the stream's further sink sessions if its sink's
 * appends wait (once; fewer if the host or the account cap says so, or
 * the server refuses some); close them (they reopen at the next call). */
void job_lanes_open(struct job_ctx *j);
void job_lanes_close(struct job_ctx *j);

/* Sleep for a retry delay, waking early on cancel; false if canceled. */
bool job_backoff(struct job_ctx *j, const struct mf_error *err, unsigned attempt);

/* job_retry.c.  --only-failed: the ids of one folder's messages recorded
 * failed or pending, each marked once this run has taken it on. */
struct retry_id {
	char *id;
	bool taken; /* written by the source's thread only */
};
struct retry_set {
	struct retry_id *v; /* sorted by id */
	size_t n;
	bool loaded;
};
int retry_set_load(struct retry_set *rs, struct state_db *db, int64_t folder_id,
		   uint32_t uidvalidity, struct mf_error *err);
/* NULL if id is not in the set.  Safe from any thread once loaded. */
struct retry_id *retry_set_find(const struct retry_set *rs, const char *id);
void retry_set_free(struct retry_set *rs);

/* job_keys.c.  Names for a source without MF_CAP_STABLE_IDS: the next
 * message of one fetch with this content is "sha256:<hex>/<n>", n = 1 for
 * the first with that digest, 2 for an identical second, ... */
#define CONTENT_KEY_SIZE 96
struct content_slot;
struct content_keys {
	struct content_slot *v;
	size_t cap, used;
};
void content_key_next(struct content_keys *k, const unsigned char digest[32],
		      char key[CONTENT_KEY_SIZE]);
/* A new fetch counts identical messages from 1 again. */
void content_keys_reset(struct content_keys *k);
void content_keys_free(struct content_keys *k);
/* The target id recorded when the sink gave none (no MF_CAP_RETURNS_ID,
 * or an empty target_id): unique per (uidvalidity, source_id). */
void core_target_id(uint32_t uidvalidity, const char *source_id, char out[128]);

/* job_split.c.  A folder cut by uid into parts (mf_source_ops.split,
 * ABI 1.7) that the mailbox's streams copy at once.  parts, left and the
 * outcomes are read and written under the job's lock. */
/* A part smaller than this is not worth a session's round trips. */
#define SPLIT_MIN_PART 20
struct folder_split {
	const struct mf_folder *folder;
	uint64_t since;    /* the folder's cursor when it was cut */
	unsigned parts;    /* bounds has parts - 1 uids */
	unsigned left;     /* parts not ended yet */
	uint64_t *bounds;  /* part k: uids in (bounds[k-1], bounds[k]] */
	uint64_t *reached; /* per part: every uid up to it is settled */
	int status;        /* the first part's failure, MF_OK if none */
	struct mf_error err;
};
/* Cut folder for up to streams streams, if it holds more than
 * fair_share messages and the plugins allow it; NULL: copy it whole. */
struct folder_split *job_split_folder(struct job_ctx *j, const struct mf_folder *folder,
				      unsigned streams, uint64_t fair_share);
/* Part k's bounds for mf_cursor.from_uid / until_uid (0: open). */
uint64_t split_part_from(const struct folder_split *s, unsigned k);
uint64_t split_part_until(const struct folder_split *s, unsigned k);
/* Part k ended with st (err) settled up to uid reached.  True if it
 * was the last part: then *cursor_r is the folder's new cursor and
 * *status_r / *err_r how the folder as a whole ended.  Under the lock. */
bool split_part_ended(struct folder_split *s, unsigned k, int st, const struct mf_error *err,
		      uint64_t reached, uint64_t *cursor_r, int *status_r, struct mf_error *err_r);
void job_split_free(struct folder_split *s);

/* job_folder.c.  Copy one folder.  Returns MF_OK, MF_ERR_FOLDER (recorded, go on) or an
 * error that ends the mailbox. */
int job_copy_folder(struct job_ctx *j, const struct mf_folder *folder, struct mf_error *err);
/* --only-failed: retry one folder of j->retry.  A folder that ended
 * "failed" is first resumed as job_copy_folder() would; then only the
 * messages recorded failed or pending are fetched and sent again, the
 * folder's cursor left as it was.  Same returns as job_copy_folder(). */
int job_retry_folder(struct job_ctx *j, const struct mf_folder *folder,
		     const struct retry_folder *rf, struct mf_error *err);
/* Copy part k of a split folder.  *last_r: whether it was the last part
 * to end; if so the return says how the folder ended, as
 * job_copy_folder()'s does; if not, MF_OK or an error that ends the
 * mailbox. */
int job_copy_part(struct job_ctx *j, struct folder_split *s, unsigned k, bool *last_r,
		  struct mf_error *err);

#endif
