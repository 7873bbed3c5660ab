/* SPDX-License-Identifier: MIT */
/* One run shared by several worker processes through a shared state
 * store (PostgreSQL): which mailbox this worker takes next (a lease from
 * the store), a heartbeat that keeps its leases, and the run-wide limits
 * (bytes/s, messages/s, connections per host) handed to the throttle.
 * With a store of one process (SQLite) there is nothing to share and the
 * scheduler keeps its own queue. */
#ifndef MF_CORE_RUN_SHARED_H
#define MF_CORE_RUN_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

struct run_shared;

/* jobs must outlive the run.  NULL when cfg's store is not shared (or cannot be reached: the jobs
 * then report that themselves). */
struct run_shared *run_shared_start(const struct run_config *cfg, const struct job *jobs, size_t n);
/* The index of the next job this worker runs, or SIZE_MAX when the run
 * is over (every mailbox done by some worker) or canceled.  Waits while
 * the rest is leased to live workers. */
size_t run_shared_next(struct run_shared *r);
/* Job i has ended: done for the run, or (JOB_HELD) given back. */
void run_shared_finished(struct run_shared *r, size_t i);
/* After the last run_shared_next: true if the run ended (every mailbox
 * done by some worker); else why this worker stopped (in why). */
bool run_shared_ended(struct run_shared *r, char *why, size_t len);
/* Leave the run (leases this worker still holds end now) and free. */
void run_shared_stop(struct run_shared **r);

#endif
