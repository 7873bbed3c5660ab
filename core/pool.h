/* SPDX-License-Identifier: MIT */
/* The thread pool the scheduler and preflight share: N threads running
 * one function, and the counter they take the next item from. */
#ifndef MF_CORE_POOL_H
#define MF_CORE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Items 0..n-1, handed out once each, in order. */
struct pool_counter {
	size_t next, n;
	pthread_mutex_t lock;
};
void pool_counter_init(struct pool_counter *c, size_t n);
void pool_counter_destroy(struct pool_counter *c);
/* The next item, or SIZE_MAX when all are handed out or the run is
 * canceled (mf_cancel_requested). */
size_t pool_counter_next(struct pool_counter *c);

/* Up to n holders at once.  A holder may leave before its work ends:
 * the scheduler lets a mailbox go once its first stream runs out of
 * folders, so the next one starts while its last messages are in flight. */
struct pool_gate {
	unsigned free;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};
void pool_gate_init(struct pool_gate *g, unsigned n);
void pool_gate_destroy(struct pool_gate *g);
void pool_gate_enter(struct pool_gate *g);
/* Enter if a place is free now; false otherwise. */
bool pool_gate_try_enter(struct pool_gate *g);
void pool_gate_leave(struct pool_gate *g);

/* Run fn(arg) on up to nthreads threads and wait for them all.  Fewer
 * when the system refuses one (logged, naming what); with none to be had,
 * fn runs once on the caller's thread: the same work, one at a time. */
void pool_run(unsigned nthreads, void *(*fn)(void *), void *arg, const char *what);

#endif
