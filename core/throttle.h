/* SPDX-License-Identifier: MIT */
/* Run-wide throttling shared by every job and plugin: token buckets for
 * bytes/s and messages/s, and a cap on connections per host. */
#ifndef MF_CORE_THROTTLE_H
#define MF_CORE_THROTTLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A token bucket with debt: taking more than is there is allowed and
 * returns how long the caller must wait, so one large message is paced
 * rather than refused. rate 0 = unlimited. Not thread-safe by itself. */
struct token_bucket {
	double rate;   /* tokens per second */
	double burst;  /* most tokens that can accumulate */
	double tokens; /* may go negative (debt) */
	uint64_t last_ns;
};

void token_bucket_init(struct token_bucket *b, double rate, double burst, uint64_t now_ns);
/* Take n tokens at now_ns; returns nanoseconds to wait before going on. */
uint64_t token_bucket_take(struct token_bucket *b, double n, uint64_t now_ns);

struct throttle;

/* 0 = unlimited for either rate. */
struct throttle *throttle_new(uint64_t bytes_per_sec, double messages_per_sec,
			      unsigned connections_per_host);
void throttle_free(struct throttle **t);

/* Block (sleep) as long as the buckets say; thread-safe. */
void throttle_bytes(struct throttle *t, uint64_t n);
void throttle_message(struct throttle *t);

/* Wait for a connection slot to host (blocking, polling cancel via
 * *canceled); false if canceled.  Release exactly once per acquire. */
bool throttle_conn_acquire(struct throttle *t, const char *host, const atomic_int *canceled);
/* Both slots at once (one job's source and sink), so that jobs each
 * holding one slot can never wait on each other for the second.  A NULL
 * host needs no slot; the same host twice needs two. */
bool throttle_conn_acquire_pair(struct throttle *t, const char *host_a, const char *host_b,
				const atomic_int *canceled);
void throttle_conn_release(struct throttle *t, const char *host);
/* The same without waiting: false if either host is at its cap. */
bool throttle_conn_try_acquire_pair(struct throttle *t, const char *host_a, const char *host_b);
void throttle_conn_release_pair(struct throttle *t, const char *host_a, const char *host_b);

/* Limits shared with other worker processes (a shared state store keeps
 * them, run_shared.c): the buckets' rates then hold for all workers
 * together (the run-wide buckets replace this throttle's own), and the
 * per-host cap both here and run-wide.
 * take: n tokens from the run-wide bucket "bytes" or "messages"; returns
 * the seconds to wait.  slot_take: one of cap run-wide slots of host
 * (*slot_r), false if all are taken.  NULL stops sharing.  The hooks are
 * called without the throttle's main lock held and must be thread-safe. */
struct throttle_shared {
	void *ctx;
	double (*take)(void *ctx, const char *bucket, double rate, double burst, double n);
	bool (*slot_take)(void *ctx, const char *host, unsigned cap, int *slot_r);
	void (*slot_release)(void *ctx, const char *host, int slot);
};
void throttle_share(struct throttle *t, const struct throttle_shared *s);

uint64_t throttle_now_ns(void);

#endif
