/* SPDX-License-Identifier: MIT */
/* Retry policy: exponential back-off with jitter, capped in delay and in
 * attempts.  Only the status/retry classes of an error are consulted; the
 * scheduler owns the loop and the sleeping (interruptible by cancel). */
#include <config.h>
#include "retry.h"

uint32_t retry_next_delay(const struct retry_policy *p, unsigned attempt)
{
	uint64_t d = p->base_ms;
	for (unsigned i = 1; i < attempt && d < p->max_ms; i++)
		d *= 2;
	return d > p->max_ms ? p->max_ms : (uint32_t)d;
}

bool retry_should_retry(const struct retry_policy *p, const struct mf_error *err, unsigned attempts)
{
	if (attempts >= p->max_attempts)
		return false;
	/* Refused credentials are never retried automatically: Alibaba Mail
	 * (and most servers) lock an account after repeated failures. */
	if (err->status == MF_ERR_AUTH || err->status == MF_ERR_FATAL ||
	    err->status == MF_ERR_CANCELED || err->status == MF_OK)
		return false;
	return err->retry != MF_RETRY_NEVER;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

uint32_t retry_delay(const struct retry_policy *p, const struct mf_error *err, unsigned attempt,
		     uint64_t *rng)
{
	if (err != NULL && err->retry_after_ms > 0)
		return err->retry_after_ms > p->max_ms * 10u ? p->max_ms * 10u
							     : err->retry_after_ms;
	if (err != NULL && err->retry == MF_RETRY_NOW && attempt <= 1)
		return 0;
	uint32_t d = retry_next_delay(p, attempt);
	uint32_t half = d / 2;
	return half + (uint32_t)(xorshift64(rng) % ((uint64_t)(d - half) + 1));
}
