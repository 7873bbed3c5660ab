/* SPDX-License-Identifier: MIT */
/* Retry policy: which failures are retried, and how long to wait. */
#ifndef MF_CORE_RETRY_H
#define MF_CORE_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <mailferry/plugin.h>

struct retry_policy {
	uint32_t base_ms;      /* delay before the first retry */
	uint32_t max_ms;       /* cap on any single delay */
	unsigned max_attempts; /* attempts in all, first one included */
};

#define RETRY_POLICY_DEFAULT                                       \
	{                                                          \
		.base_ms = 500, .max_ms = 60000, .max_attempts = 6 \
	}

/* Un-jittered exponential delay before retry number attempt (1-based):
 * base * 2^(attempt-1), capped at max_ms. */
uint32_t retry_next_delay(const struct retry_policy *p, unsigned attempt);

/* Whether err, after attempts tries, deserves another. */
bool retry_should_retry(const struct retry_policy *p, const struct mf_error *err,
			unsigned attempts);

/* The delay to actually sleep: a server's own request (retry_after_ms)
 * wins; otherwise "equal jitter" in [d/2, d] so that many mailboxes hitting
 * one server do not retry in lock step.  *rng is a per-job xorshift state. */
uint32_t retry_delay(const struct retry_policy *p, const struct mf_error *err, unsigned attempt,
		     uint64_t *rng);

#endif
