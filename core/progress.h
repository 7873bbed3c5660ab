/* SPDX-License-Identifier: MIT */
/* Progress reporting: a live line on a terminal, JSON-lines events for
 * machines (--json), and the final summary. Thread-safe. */
#ifndef MF_CORE_PROGRESS_H
#define MF_CORE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct job_counters {
	uint64_t copied, copied_bytes; /* appended by this run */
	uint64_t skipped;              /* already there from an earlier run */
	uint64_t failed;               /* recorded as failed by this run */
	uint64_t folders, folders_failed;
	uint64_t expected;             /* messages the source announced, if known */
};

enum progress_outcome { OUTCOME_COPIED, OUTCOME_SKIPPED, OUTCOME_FAILED };

struct progress;

/* json: JSON lines on out; live: redraw a status line on stderr. */
struct progress *progress_new(FILE *out, bool json, bool live);
void progress_free(struct progress **p);

void progress_mailbox_start(struct progress *p, const char *mailbox, const char *source,
			    const char *sink);
void progress_folder(struct progress *p, const char *mailbox, const char *folder,
		     const char *target, uint64_t messages);
void progress_message(struct progress *p, const char *mailbox, const char *folder,
		      const char *source_id, enum progress_outcome outcome, uint64_t bytes,
		      const char *error, const struct job_counters *c);
void progress_folder_failed(struct progress *p, const char *mailbox, const char *folder,
			    const char *error);
void progress_mailbox_done(struct progress *p, const char *mailbox, const char *status,
			   const char *error, const struct job_counters *c, double seconds);
void progress_summary(struct progress *p, size_t mailboxes, size_t failed_mailboxes,
		      const struct job_counters *total, double seconds, bool dry_run);

/* "1.2 MiB" into buf */
const char *progress_human_bytes(uint64_t n, char *buf, size_t len);

#endif
