/* SPDX-License-Identifier: MIT */
/* Progress reporting: a live line on a terminal, JSON-lines events for
 * machines (--json), and the final summary. Thread-safe. */
#ifndef MF_CLI_PROGRESS_H
#define MF_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

struct progress;

/* json: JSON lines on out; live: redraw a status line on stderr. */
struct progress *progress_new(FILE *out, bool json, bool live);
void progress_free(struct progress **p);

/* migrate --only-failed: mailbox lines and the summary say how many
 * messages were retried and how many succeeded now. */
void progress_set_only_failed(struct progress *p);
/* --only-failed, before the summary: one message that still fails. */
void progress_still_failing(struct progress *p, const char *mailbox, const char *folder,
			    const char *source_id, const char *error);
/* The engine's hooks, drawing on p. */
struct run_events progress_events(struct progress *p);
void progress_summary(struct progress *p, size_t mailboxes, size_t failed_mailboxes,
		      const struct job_counters *total, double seconds, bool dry_run);

/* "1.2 MiB" into buf */
const char *progress_human_bytes(uint64_t n, char *buf, size_t len);

#endif
