/* SPDX-License-Identifier: MIT */
/* The scheduler: runs one job per mailbox, N at a time. */
#ifndef MF_CORE_SCHEDULER_H
#define MF_CORE_SCHEDULER_H

#include <stdbool.h>
#include <mailferry/plugin.h>

#include "folder_map.h"
#include "events.h"
#include "retry.h"
#include "uri.h"

struct plugin_registry;
struct throttle;

struct run_config {
	struct plugin_registry *registry;
	const char *state_path;
	const struct folder_map *folders;
	struct throttle *throttle;
	struct run_events events; /* hooks of the front end; any may be NULL */
	struct retry_policy retry;
	size_t spool_mem_limit;
	const char *tmpdir;
	unsigned jobs;    /* mailboxes at once */
	unsigned streams; /* sessions per side per mailbox (0: 1); used only
			    * when source and sink allow parallel sessions */
	/* Sink sessions per stream when the sink's appends each wait a
	 * round trip (ABI 1.8 appends_wait; 0: 1), and the cap on one
	 * account's sessions per side, streams and lanes together (0:
	 * none). */
	unsigned append_lanes;
	unsigned conn_per_account;
	bool dry_run;
	/* migrate --only-failed: visit only mailboxes with failed folders or
	 * messages recorded, in them only those folders, and send only the
	 * messages recorded failed or pending (a failed folder is resumed
	 * as a whole); the folders' cursors are left as they were. */
	bool only_failed;
	/* A shared state store (several workers): how long a claim on a
	 * mailbox lasts without a heartbeat before another worker may take
	 * it over (0: 60 s). */
	unsigned lease_s;
};

enum job_result {
	JOB_DONE,     /* every folder handled (some messages may have failed) */
	JOB_FAILED,   /* the mailbox could not be completed */
	JOB_DISABLED, /* skipped: disabled in the state store */
	JOB_CANCELED,
	JOB_NOTHING_FAILED, /* --only-failed: nothing recorded as failed, skipped */
	JOB_HELD,           /* another worker's session holds it: asked for again later */
	JOB_ELSEWHERE,      /* finished by another worker of a shared run */
};

struct job {
	char *name; /* mailbox key in the state store */
	struct account_spec source, sink;
	const struct folder_map *folders; /* per-job override or NULL */
	bool owns_folders;                /* free folders with the job */
	bool force_disabled;              /* the accounts file says enabled=no */
	/* results */
	enum job_result result;
	enum mf_status status; /* of the error that ended it, if any */
	char error[512];
	struct job_counters counters;
};

void job_free(struct job *job);

/* Runs every job; returns when all are finished or canceled. */
void scheduler_run(const struct run_config *cfg, struct job *jobs, size_t n);

#endif
