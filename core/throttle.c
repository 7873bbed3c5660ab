/* SPDX-License-Identifier: MIT */
/* Throttle: token buckets (bytes/s, messages/s) and the per-host
 * connection cap, shared by all jobs.  The scheduler calls it from inside
 * the message pipeline, so plugins never pace themselves. */
#include <config.h>
#include "throttle.h"

#include <mailferry/util.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t throttle_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void token_bucket_init(struct token_bucket *b, double rate, double burst, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst > 0 ? burst : rate;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

uint64_t token_bucket_take(struct token_bucket *b, double n, uint64_t now_ns)
{
	if (b->rate <= 0)
		return 0;
	if (now_ns > b->last_ns) {
		b->tokens += b->rate * (double)(now_ns - b->last_ns) / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= n;
	if (b->tokens >= 0)
		return 0;
	return (uint64_t)(-b->tokens / b->rate * 1e9);
}

struct host_slot {
	char *host;
	unsigned in_use;
	/* The run-wide slots (throttle_shared) this process holds for host:
	 * any is given back on release, they are alike.  Under share_lock. */
	int *shared;
	unsigned n_shared;
	struct host_slot *next;
};

struct throttle {
	pthread_mutex_t lock;
	pthread_cond_t conn_freed;
	struct token_bucket bytes, messages;
	unsigned per_host;
	struct host_slot *hosts;
	/* Sharing with other workers: the hooks, and the tokens this
	 * process took from the run-wide buckets ahead of use (taken in
	 * chunks of an eighth of a second's worth, so the store is asked a
	 * few times a second, not once per write). */
	pthread_mutex_t share_lock;
	struct throttle_shared share;
	bool sharing;
	double ahead_bytes, ahead_messages;
};

struct throttle *throttle_new(uint64_t bytes_per_sec, double messages_per_sec,
			      unsigned connections_per_host)
{
	struct throttle *t = mf_xcalloc(1, sizeof(*t));
	uint64_t now = throttle_now_ns();
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->conn_freed, NULL);
	pthread_mutex_init(&t->share_lock, NULL);
	/* Burst of a quarter second keeps the pace smooth without starving
	 * a message larger than the burst: debt handles that. */
	token_bucket_init(&t->bytes, (double)bytes_per_sec, (double)bytes_per_sec / 4, now);
	token_bucket_init(&t->messages, messages_per_sec,
			  messages_per_sec < 4 ? 1 : messages_per_sec / 4, now);
	t->per_host = connections_per_host;
	return t;
}

void throttle_free(struct throttle **tp)
{
	struct throttle *t = *tp;
	if (t == NULL)
		return;
	while (t->hosts != NULL) {
		struct host_slot *h = t->hosts;
		t->hosts = h->next;
		free(h->host);
		free(h->shared);
		free(h);
	}
	pthread_mutex_destroy(&t->share_lock);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->conn_freed);
	free(t);
	*tp = NULL;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	while (nanosleep(&ts, &ts) != 0)
		;
}

void throttle_share(struct throttle *t, const struct throttle_shared *s)
{
	pthread_mutex_lock(&t->share_lock);
	t->sharing = s != NULL;
	t->share = s != NULL ? *s : (struct throttle_shared){ 0 };
	t->ahead_bytes = t->ahead_messages = 0;
	pthread_mutex_unlock(&t->share_lock);
}

/* The run-wide bucket instead of this process's own: true if it did. */
static bool take_shared(struct throttle *t, const struct token_bucket *b, double n)
{
	pthread_mutex_lock(&t->share_lock);
	if (!t->sharing) {
		pthread_mutex_unlock(&t->share_lock);
		return false;
	}
	bool bytes = b == &t->bytes;
	double *ahead = bytes ? &t->ahead_bytes : &t->ahead_messages;
	double wait = 0;
	if (*ahead < n) {
		double chunk = b->rate / 8 > n - *ahead ? b->rate / 8 : n - *ahead;
		wait = t->share.take(t->share.ctx, bytes ? "bytes" : "messages", b->rate, b->burst,
				     chunk);
		*ahead += chunk;
	}
	*ahead -= n;
	pthread_mutex_unlock(&t->share_lock);
	if (wait > 0)
		sleep_ns((uint64_t)(wait * 1e9));
	return true;
}

static void take(struct throttle *t, struct token_bucket *b, double n)
{
	if (t == NULL || b->rate <= 0 || take_shared(t, b, n))
		return;
	pthread_mutex_lock(&t->lock);
	uint64_t wait = token_bucket_take(b, n, throttle_now_ns());
	pthread_mutex_unlock(&t->lock);
	if (wait > 0)
		sleep_ns(wait);
}

void throttle_bytes(struct throttle *t, uint64_t n)
{
	if (t != NULL)
		take(t, &t->bytes, (double)n);
}

void throttle_message(struct throttle *t)
{
	if (t != NULL)
		take(t, &t->messages, 1);
}

static struct host_slot *slot_for(struct throttle *t, const char *host)
{
	for (struct host_slot *h = t->hosts; h != NULL; h = h->next)
		if (strcmp(h->host, host) == 0)
			return h;
	struct host_slot *h = mf_xcalloc(1, sizeof(*h));
	h->host = mf_xstrdup(host);
	h->next = t->hosts;
	t->hosts = h;
	return h;
}

static bool pair_free(struct throttle *t, struct host_slot *a, struct host_slot *b)
{
	if (a != NULL && b != NULL && a == b)
		return a->in_use + 2 <= t->per_host;
	return (a == NULL || a->in_use < t->per_host) && (b == NULL || b->in_use < t->per_host);
}

/* The slots a pair needs; with a cap of 1 a job whose both sides are one
 * host takes one slot, or it could never run. */
static void pair_slots(struct throttle *t, const char *host_a, const char *host_b,
		       struct host_slot **a_r, struct host_slot **b_r)
{
	*a_r = host_a ? slot_for(t, host_a) : NULL;
	*b_r = host_b ? slot_for(t, host_b) : NULL;
	if (*a_r != NULL && *a_r == *b_r && t->per_host < 2)
		*b_r = NULL;
}

static void push_shared(struct host_slot *h, int slot)
{
	h->shared = mf_xrealloc(h->shared, (h->n_shared + 1) * sizeof(*h->shared));
	h->shared[h->n_shared++] = slot;
}

/* The run-wide slots for a pair this process has local slots for; true
 * when not sharing. */
static bool take_shared_pair(struct throttle *t, struct host_slot *a, struct host_slot *b)
{
	pthread_mutex_lock(&t->share_lock);
	bool ok = true;
	if (t->sharing) {
		int sa = -1, sb = -1;
		ok = a == NULL || t->share.slot_take(t->share.ctx, a->host, t->per_host, &sa);
		if (ok && b != NULL) {
			ok = t->share.slot_take(t->share.ctx, b->host, t->per_host, &sb);
			if (!ok && a != NULL)
				t->share.slot_release(t->share.ctx, a->host, sa);
		}
		if (ok && a != NULL)
			push_shared(a, sa);
		if (ok && b != NULL)
			push_shared(b, sb);
	}
	pthread_mutex_unlock(&t->share_lock);
	return ok;
}

static void release_shared(struct throttle *t, struct host_slot *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&t->share_lock);
	if (h->n_shared > 0) {
		int slot = h->shared[--h->n_shared];
		if (t->sharing)
			t->share.slot_release(t->share.ctx, h->host, slot);
	}
	pthread_mutex_unlock(&t->share_lock);
}

static void timed_wait(struct throttle *t)
{
	/* Timed so a cancel request (or a run-wide slot freed by another
	 * worker, which signals nothing here) is noticed promptly. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&t->conn_freed, &t->lock, &ts);
}

static bool acquire_pair(struct throttle *t, const char *host_a, const char *host_b,
			 const atomic_int *canceled, bool wait)
{
	if (t == NULL || t->per_host == 0)
		return true;
	pthread_mutex_lock(&t->lock);
	struct host_slot *a, *b;
	pair_slots(t, host_a, host_b, &a, &b);
	for (;;) {
		while (!pair_free(t, a, b)) {
			if (!wait || (canceled != NULL && atomic_load(canceled))) {
				pthread_mutex_unlock(&t->lock);
				return false;
			}
			timed_wait(t);
		}
		if (a != NULL)
			a->in_use++;
		if (b != NULL)
			b->in_use++;
		pthread_mutex_unlock(&t->lock);
		if (take_shared_pair(t, a, b))
			return true;
		/* Other workers hold the run-wide slots: give the local ones
		 * back and wait, or a job here could starve one elsewhere. */
		pthread_mutex_lock(&t->lock);
		if (a != NULL)
			a->in_use--;
		if (b != NULL)
			b->in_use--;
		pthread_cond_broadcast(&t->conn_freed);
		if (!wait || (canceled != NULL && atomic_load(canceled))) {
			pthread_mutex_unlock(&t->lock);
			return false;
		}
		timed_wait(t);
	}
}

bool throttle_conn_acquire_pair(struct throttle *t, const char *host_a, const char *host_b,
				const atomic_int *canceled)
{
	return acquire_pair(t, host_a, host_b, canceled, true);
}

bool throttle_conn_try_acquire_pair(struct throttle *t, const char *host_a, const char *host_b)
{
	return acquire_pair(t, host_a, host_b, NULL, false);
}

bool throttle_conn_acquire(struct throttle *t, const char *host, const atomic_int *canceled)
{
	return throttle_conn_acquire_pair(t, host, NULL, canceled);
}

void throttle_conn_release_pair(struct throttle *t, const char *host_a, const char *host_b)
{
	if (t == NULL || t->per_host == 0)
		return;
	pthread_mutex_lock(&t->lock);
	struct host_slot *a, *b;
	pair_slots(t, host_a, host_b, &a, &b);
	if (a != NULL && a->in_use > 0)
		a->in_use--;
	if (b != NULL && b->in_use > 0)
		b->in_use--;
	pthread_cond_broadcast(&t->conn_freed);
	pthread_mutex_unlock(&t->lock);
	release_shared(t, a);
	release_shared(t, b);
}

void throttle_conn_release(struct throttle *t, const char *host)
{
	throttle_conn_release_pair(t, host, NULL);
}
