/* SPDX-License-Identifier: MIT */
/* The thread pool (see pool.h). */
#include <config.h>
#include "pool.h"

#include <mailferry/util.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

void pool_counter_init(struct pool_counter *c, size_t n)
{
	c->next = 0;
	c->n = n;
	pthread_mutex_init(&c->lock, NULL);
}

void pool_counter_destroy(struct pool_counter *c)
{
	pthread_mutex_destroy(&c->lock);
}

size_t pool_counter_next(struct pool_counter *c)
{
	pthread_mutex_lock(&c->lock);
	size_t i = c->next < c->n && !atomic_load(&mf_cancel_requested) ? c->next++ : SIZE_MAX;
	pthread_mutex_unlock(&c->lock);
	return i;
}

void pool_gate_init(struct pool_gate *g, unsigned n)
{
	g->free = n;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
}

void pool_gate_destroy(struct pool_gate *g)
{
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
}

void pool_gate_enter(struct pool_gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (g->free == 0)
		pthread_cond_wait(&g->cv, &g->mu);
	g->free--;
	pthread_mutex_unlock(&g->mu);
}

bool pool_gate_try_enter(struct pool_gate *g)
{
	pthread_mutex_lock(&g->mu);
	bool in = g->free > 0;
	g->free -= in;
	pthread_mutex_unlock(&g->mu);
	return in;
}

void pool_gate_leave(struct pool_gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->free++;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void pool_run(unsigned nthreads, void *(*fn)(void *), void *arg, const char *what)
{
	if (nthreads <= 1) {
		fn(arg);
		return;
	}
	pthread_t *t = mf_xcalloc(nthreads, sizeof(*t));
	unsigned started = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		int e = pthread_create(&t[started], NULL, fn, arg);
		if (e == 0) {
			started++;
			continue;
		}
		/* Fewer at once, same result: the threads take their work
		 * from one queue. */
		log_msg(MF_LOG_WARN, "cannot start %s thread %u of %u (%s): running %u", what,
			i + 1, nthreads, strerror(e), started);
		break;
	}
	if (started == 0)
		fn(arg);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
}
