/* SPDX-License-Identifier: MIT */
/* Retry policy: growth, cap, jitter bounds, server-requested delays, and
 * which failures are never retried. */
#include <config.h>
#include <check.h>

#include "check_main.h"
#include "retry.h"

static const struct retry_policy policy = { .base_ms = 200, .max_ms = 30000, .max_attempts = 5 };

START_TEST(backoff_doubles_then_is_capped)
{
	ck_assert_uint_eq(retry_next_delay(&policy, 1), 200);
	ck_assert_uint_eq(retry_next_delay(&policy, 2), 400);
	ck_assert_uint_eq(retry_next_delay(&policy, 5), 3200);
	ck_assert_uint_eq(retry_next_delay(&policy, 20), 30000);
	ck_assert_uint_eq(retry_next_delay(&policy, 4000000000u), 30000);
}
END_TEST

START_TEST(jitter_stays_between_half_and_full_delay)
{
	uint64_t rng = 42;
	struct mf_error err = { .status = MF_ERR_ACCOUNT, .retry = MF_RETRY_LATER };
	bool saw_low = false, saw_high = false;
	for (int i = 0; i < 2000; i++) {
		uint32_t d = retry_delay(&policy, &err, 3, &rng);
		ck_assert_uint_ge(d, 400);
		ck_assert_uint_le(d, 800);
		saw_low |= d < 500;
		saw_high |= d > 700;
	}
	ck_assert(saw_low && saw_high);
}
END_TEST

START_TEST(server_requested_delay_wins)
{
	uint64_t rng = 1;
	struct mf_error err = { .status = MF_ERR_ACCOUNT,
				.retry = MF_RETRY_LATER,
				.retry_after_ms = 5000 };
	ck_assert_uint_eq(retry_delay(&policy, &err, 1, &rng), 5000);
	err.retry_after_ms = 4000000000u; /* absurd: capped at ten times max */
	ck_assert_uint_eq(retry_delay(&policy, &err, 1, &rng), 300000);
}
END_TEST

START_TEST(first_retry_now_is_immediate)
{
	uint64_t rng = 1;
	struct mf_error err = { .status = MF_ERR_ACCOUNT, .retry = MF_RETRY_NOW };
	ck_assert_uint_eq(retry_delay(&policy, &err, 1, &rng), 0);
	ck_assert_uint_ge(retry_delay(&policy, &err, 2, &rng), 200);
}
END_TEST

START_TEST(auth_and_permanent_errors_are_not_retried)
{
	struct mf_error auth = { .status = MF_ERR_AUTH, .retry = MF_RETRY_LATER };
	struct mf_error perm = { .status = MF_ERR_MESSAGE, .retry = MF_RETRY_NEVER };
	struct mf_error fatal = { .status = MF_ERR_FATAL, .retry = MF_RETRY_NOW };
	struct mf_error busy = { .status = MF_ERR_ACCOUNT, .retry = MF_RETRY_LATER };
	ck_assert(!retry_should_retry(&policy, &auth, 1));
	ck_assert(!retry_should_retry(&policy, &perm, 1));
	ck_assert(!retry_should_retry(&policy, &fatal, 1));
	ck_assert(retry_should_retry(&policy, &busy, 1));
	ck_assert(retry_should_retry(&policy, &busy, 4));
	ck_assert(!retry_should_retry(&policy, &busy, 5));
}
END_TEST

static Suite *retry_suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, backoff_doubles_then_is_capped);
	tcase_add_test(tc, jitter_stays_between_half_and_full_delay);
	tcase_add_test(tc, server_requested_delay_wins);
	tcase_add_test(tc, first_retry_now_is_immediate);
	tcase_add_test(tc, auth_and_permanent_errors_are_not_retried);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(retry_suite)
