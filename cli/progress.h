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

/* The engine's hooks, drawing on p. */
struct run_events progress_events(struct progress *p);
void progress_summary(struct progress *p, size_t mailboxes, size_t failed_mailboxes,
		      const struct job_counters *total, double seconds, bool dry_run);

/* "1.2 MiB" into buf */
const char *progress_human_bytes(uint64_t n, char *buf, size_t len);

#endif
