/* SPDX-License-Identifier: MIT */
/* What the engine tells its front end while a run goes on.  The engine
 * prints nothing: it calls these hooks (from worker threads, so a front
 * end serialises what it shares) and the front end draws a terminal line
 * (cli/progress.c), writes JSON events, or updates a dashboard.  Every
 * hook may be NULL. */
#ifndef MF_CORE_EVENTS_H
#define MF_CORE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes one side's sessions moved (plugin ABI 1.4 io_stats): plain is the
 * protocol's data, wire what crossed the network after COMPRESS=DEFLATE.
 * All zero when the plugin does not count. */
struct job_io {
	uint64_t plain_in, plain_out, wire_in, wire_out;
	bool compressed;
};

struct job_counters {
	uint64_t copied, copied_bytes; /* appended by this run */
	uint64_t skipped;              /* already there from an earlier run */
	uint64_t failed;               /* recorded as failed by this run */
	uint64_t folders, folders_failed;
	uint64_t expected; /* messages the source announced, if known */
	/* migrate --only-failed: messages recorded failed or pending by an
	 * earlier run that this one tried again, and how many of those are
	 * now on the target (counted in copied or skipped too). */
	uint64_t retried, recovered;
	/* Messages copied without their keywords: the sink lacks
	 * MF_CAP_KEYWORDS (logged per folder; not a failure). */
	uint64_t keywords_dropped;
	struct job_io source_io, sink_io;
};

/* Add b to a (summaries over sessions and mailboxes). */
static inline void job_io_add(struct job_io *a, const struct job_io *b)
{
	a->plain_in += b->plain_in;
	a->plain_out += b->plain_out;
	a->wire_in += b->wire_in;
	a->wire_out += b->wire_out;
	a->compressed = a->compressed || b->compressed;
}

enum progress_outcome { OUTCOME_COPIED, OUTCOME_SKIPPED, OUTCOME_FAILED };

struct run_events {
	void *ctx;
	void (*mailbox_start)(void *ctx, const char *mailbox, const char *source, const char *sink);
	void (*folder)(void *ctx, const char *mailbox, const char *folder, const char *target,
		       uint64_t messages);
	/* c: the mailbox's counters after this message. */
	void (*message)(void *ctx, const char *mailbox, const char *folder, const char *source_id,
			enum progress_outcome outcome, uint64_t bytes, const char *error,
			const struct job_counters *c);
	void (*folder_failed)(void *ctx, const char *mailbox, const char *folder,
			      const char *error);
	/* status: "done", "failed", "disabled", "canceled", or "skipped"
	 * (--only-failed: nothing recorded as failed in it). */
	void (*mailbox_done)(void *ctx, const char *mailbox, const char *status, const char *error,
			     const struct job_counters *c, double seconds);
};

#endif
