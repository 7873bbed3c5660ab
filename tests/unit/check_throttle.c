/* SPDX-License-Identifier: MIT */
/* Token buckets on a synthetic clock (no sleeping, no timing flakiness)
 * and the per-host connection cap. */
#include <config.h>
#include <check.h>
#include <stdatomic.h>
#include <pthread.h>

#include "check_main.h"
#include "throttle.h"

#define SEC 1000000000ull

START_TEST(bucket_allows_burst_then_paces)
{
	struct token_bucket b;
	token_bucket_init(&b, 1000, 500, 0); /* 1000/s, burst 500 */
	ck_assert_uint_eq(token_bucket_take(&b, 500, 0), 0);
	/* 500 more with an empty bucket: half a second of debt. */
	ck_assert_uint_eq(token_bucket_take(&b, 500, 0), SEC / 2);
	/* After that half second the debt is paid: the next 100 wait 0.1 s. */
	ck_assert_uint_eq(token_bucket_take(&b, 100, SEC / 2), SEC / 10);
}
END_TEST

START_TEST(bucket_refill_is_capped_at_burst)
{
	struct token_bucket b;
	token_bucket_init(&b, 100, 100, 0);
	ck_assert_uint_eq(token_bucket_take(&b, 100, 0), 0);
	/* An hour idle does not bank an hour of tokens. */
	ck_assert_uint_eq(token_bucket_take(&b, 100, 3600 * SEC), 0);
	ck_assert_uint_gt(token_bucket_take(&b, 50, 3600 * SEC), 0);
}
END_TEST

START_TEST(zero_rate_means_unlimited)
{
	struct token_bucket b;
	token_bucket_init(&b, 0, 0, 0);
	ck_assert_uint_eq(token_bucket_take(&b, 1e12, 0), 0);
}
END_TEST

START_TEST(long_run_rate_matches_configuration)
{
	struct token_bucket b;
	token_bucket_init(&b, 2e6, 5e5, 0);
	uint64_t now = 0;
	/* 100 MB in 64 KiB pieces, sleeping exactly as told. */
	for (uint64_t sent = 0; sent < 100000000; sent += 65536)
		now += token_bucket_take(&b, 65536, now);
	double secs = (double)now / 1e9;
	ck_assert_double_ge(secs, 49.5);
	ck_assert_double_le(secs, 50.5);
}
END_TEST

struct conn_arg {
	struct throttle *t;
	int *active, *peak;
	pthread_mutex_t *lock;
};

static void *hold_connection(void *p)
{
	struct conn_arg *a = p;
	ck_assert(throttle_conn_acquire(a->t, "imap.example", NULL));
	pthread_mutex_lock(a->lock);
	if (++*a->active > *a->peak)
		*a->peak = *a->active;
	pthread_mutex_unlock(a->lock);
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	pthread_mutex_lock(a->lock);
	--*a->active;
	pthread_mutex_unlock(a->lock);
	throttle_conn_release(a->t, "imap.example");
	return NULL;
}

START_TEST(connections_per_host_are_capped)
{
	struct throttle *t = throttle_new(0, 0, 2);
	int active = 0, peak = 0;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct conn_arg a = { t, &active, &peak, &lock };
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hold_connection, &a), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(peak, 2);
	/* Another host has its own allowance. */
	ck_assert(throttle_conn_acquire(t, "other.example", NULL));
	ck_assert(throttle_conn_acquire(t, "other.example", NULL));
	throttle_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(cancel_releases_a_waiter)
{
	struct throttle *t = throttle_new(0, 0, 1);
	atomic_int canceled = 1;
	ck_assert(throttle_conn_acquire(t, "h", &canceled));
	ck_assert(!throttle_conn_acquire(t, "h", &canceled));
	throttle_free(&t);
}
END_TEST

struct pair_arg {
	struct throttle *t;
	int *done;
	pthread_mutex_t *lock;
};

static void *hold_pair(void *p)
{
	struct pair_arg *a = p;
	/* Source and sink on one host, as when migrating within a server. */
	ck_assert(throttle_conn_acquire_pair(a->t, "mail.example", "mail.example", NULL));
	struct timespec ts = { 0, 5000000 };
	nanosleep(&ts, NULL);
	throttle_conn_release_pair(a->t, "mail.example", "mail.example");
	pthread_mutex_lock(a->lock);
	++*a->done;
	pthread_mutex_unlock(a->lock);
	return NULL;
}

START_TEST(jobs_taking_two_slots_on_one_host_never_deadlock)
{
	/* Cap 3, pairs of 2: taking slots one by one, three jobs could each
	 * hold one and wait for ever; pairs are taken whole. */
	struct throttle *t = throttle_new(0, 0, 3);
	int done = 0;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct pair_arg a = { t, &done, &lock };
	pthread_t th[12];
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hold_pair, &a), 0);
	for (int i = 0; i < 12; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(done, 12);
	/* With a cap of 1 a same-host pair still runs, on one slot. */
	struct throttle *one = throttle_new(0, 0, 1);
	ck_assert(throttle_conn_acquire_pair(one, "h", "h", NULL));
	throttle_conn_release_pair(one, "h", "h");
	ck_assert(throttle_conn_acquire(one, "h", NULL));
	throttle_free(&one);
	throttle_free(&t);
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("buckets");
	tcase_add_test(tc, bucket_allows_burst_then_paces);
	tcase_add_test(tc, bucket_refill_is_capped_at_burst);
	tcase_add_test(tc, zero_rate_means_unlimited);
	tcase_add_test(tc, long_run_rate_matches_configuration);
	suite_add_tcase(s, tc);
	TCase *tc2 = tcase_create("connections");
	tcase_add_test(tc2, connections_per_host_are_capped);
	tcase_add_test(tc2, cancel_releases_a_waiter);
	tcase_add_test(tc2, jobs_taking_two_slots_on_one_host_never_deadlock);
	tcase_set_timeout(tc2, 10);
	suite_add_tcase(s, tc2);
	return s;
}

MF_CHECK_MAIN(throttle_suite)
