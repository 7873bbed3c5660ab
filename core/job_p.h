/* SPDX-License-Identifier: MIT */
/* Private to the job files (scheduler.c -> job_folder.c -> job_session.c):
 * the live state of one mailbox job (sessions, state connection, spool). */
#ifndef MF_CORE_JOB_P_H
#define MF_CORE_JOB_P_H

#include <pthread.h>

#include "plugin_loader.h"
#include "scheduler.h"
#include "spool.h"
#include "state.h"

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
	bool slots_held;  /* connection slots of both hosts */
	struct state_db *db;
	int64_t mailbox_id;
	struct spool spool;
	uint64_t rng;
	/* The job's counters and error text, shared by its streams (each
	 * a job_ctx of its own: sessions, state connection, spool). */
	pthread_mutex_t *lock;
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

/* Sleep for a retry delay, waking early on cancel; false if canceled. */
bool job_backoff(struct job_ctx *j, const struct mf_error *err, unsigned attempt);

/* job_folder.c.  Copy one folder.  Returns MF_OK, MF_ERR_FOLDER (recorded, go on) or an
 * error that ends the mailbox. */
int job_copy_folder(struct job_ctx *j, const struct mf_folder *folder, struct mf_error *err);

#endif
