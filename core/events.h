/* SPDX-License-Identifier: MIT */
/* What the engine tells its front end while a run goes on.  The engine
 * prints nothing: it calls these hooks (from worker threads, so a front
 * end serialises what it shares) and the front end draws a terminal line
 * (cli/progress.c), writes JSON events, or updates a dashboard.  Every
 * hook may be NULL. */
#ifndef MF_CORE_EVENTS_H
#define MF_CORE_EVENTS_H

#include <stdint.h>

struct job_counters {
	uint64_t copied, copied_bytes; /* appended by this run */
	uint64_t skipped;              /* already there from an earlier run */
	uint64_t failed;               /* recorded as failed by this run */
	uint64_t folders, folders_failed;
	uint64_t expected;             /* messages the source announced, if known */
};

enum progress_outcome { OUTCOME_COPIED, OUTCOME_SKIPPED, OUTCOME_FAILED };

struct run_events {
	void *ctx;
	void (*mailbox_start)(void *ctx, const char *mailbox, const char *source,
			      const char *sink);
	void (*folder)(void *ctx, const char *mailbox, const char *folder, const char *target,
		       uint64_t messages);
	/* c: the mailbox's counters after this message. */
	void (*message)(void *ctx, const char *mailbox, const char *folder, const char *source_id,
			enum progress_outcome outcome, uint64_t bytes, const char *error,
			const struct job_counters *c);
	void (*folder_failed)(void *ctx, const char *mailbox, const char *folder,
			      const char *error);
	/* status: "done", "failed", "disabled" or "canceled". */
	void (*mailbox_done)(void *ctx, const char *mailbox, const char *status, const char *error,
			     const struct job_counters *c, double seconds);
};

#endif
