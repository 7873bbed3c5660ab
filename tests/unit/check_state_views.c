/* SPDX-License-Identifier: MIT */
/* The state store's dashboard views (mailferry serve): declaring a run's
 * mailboxes leaves existing rows alone; a page is filtered (name or sink,
 * any case; state), sorted (own columns and counters, both directions)
 * and cut in the store with the full match count; totals and throughput
 * buckets add up to the message rows.  On SQLite, and on PostgreSQL when
 * check_state_pg.sh gives a server (check_state_backend.h). */
#include <config.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "check_state_backend.h"
#include "state.h"

static char path[512];
static struct state_db *db;
static struct mf_error err;

static void setup(void)
{
	backend_setup(path, sizeof(path), "mf-views");
	ck_assert_msg(state_open(path, &db, &err) == MF_OK, "%s", err.text);
}

static void teardown(void)
{
	state_close(&db);
	backend_teardown(path);
}

/* n messages of size 10 copied into mailbox name's INBOX. */
static void copy_some(const char *name, int n)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	ck_assert_int_eq(state_mailbox_begin(db, name, "src", "dst", &mb, &enabled, &err), MF_OK);
	ck_assert_int_eq(state_folder_begin(db, mb, "INBOX", &f, &err), MF_OK);
	for (int i = 0; i < n; i++) {
		char id[16];
		unsigned char d[32] = { (unsigned char)i };
		snprintf(id, sizeof(id), "%d", i);
		ck_assert_int_eq(state_message_copied(db, f.id, 1, id, 10, d, "INBOX", id, &err),
				 MF_OK);
	}
	ck_assert_int_eq(state_message_failed(db, f.id, 1, "bad", 5, true, "NO [TOOBIG]", &err),
			 MF_OK);
	ck_assert_int_eq(state_mailbox_finish(db, mb, "done", NULL, &err), MF_OK);
	state_folder_clear(&f);
}

struct names {
	char list[512];
	uint64_t copied_sum;
};

static int collect(const struct state_mailbox_status *s, void *aux)
{
	struct names *n = aux;
	size_t len = strlen(n->list);
	snprintf(n->list + len, sizeof(n->list) - len, "%s%s", len ? " " : "", s->name);
	n->copied_sum += s->copied;
	return MF_OK;
}

static void declare_five(void)
{
	const struct state_mailbox_decl v[] = {
		{ "erin", "s", "alimail://erin@new" },   { "Bob", "s", "alimail://robert@new" },
		{ "carol", "s", "alimail://carol@new" }, { "alice", "s", "alimail://alice@new" },
		{ "dave", "s", "alimail://dave@new" },
	};
	ck_assert_int_eq(state_mailboxes_declare(db, v, 5, &err), MF_OK);
}

START_TEST(declare_adds_pending_rows_and_keeps_existing_ones)
{
	copy_some("alice", 3);
	declare_five();
	declare_five(); /* twice: still five rows */
	struct state_totals t;
	ck_assert_int_eq(state_totals(db, &t, &err), MF_OK);
	ck_assert_uint_eq(t.mailboxes, 5);
	ck_assert_uint_eq(t.pending, 4);
	ck_assert_uint_eq(t.done, 1); /* alice's row kept its state */
	ck_assert_uint_eq(t.copied, 3);
	ck_assert_uint_eq(t.copied_bytes, 30);
	ck_assert_uint_eq(t.failed_messages, 1);
	ck_assert_int_gt(t.first_started, 0);
}
END_TEST

START_TEST(page_filters_sorts_and_cuts_in_the_store)
{
	declare_five();
	copy_some("carol", 4);
	copy_some("dave", 2);
	ck_assert_int_eq(state_mailbox_set_enabled(db, "erin", false, &err), MF_OK);
	struct names n = { .copied_sum = 0 };
	uint64_t matched;
	struct state_mailbox_query q = { .limit = 2 };
	ck_assert_int_eq(state_mailbox_page(db, &q, &matched, collect, &n, &err), MF_OK);
	ck_assert_uint_eq(matched, 5);
	ck_assert_str_eq(n.list, "Bob alice"); /* binary order (both stores): capitals first */
	n = (struct names){ .copied_sum = 0 };
	q = (struct state_mailbox_query){ .offset = 3, .limit = 10 };
	state_mailbox_page(db, &q, &matched, collect, &n, &err);
	ck_assert_str_eq(n.list, "dave erin");
	n = (struct names){ .copied_sum = 0 };
	q = (struct state_mailbox_query){ .sort = STATE_SORT_COPIED, .descending = true };
	state_mailbox_page(db, &q, &matched, collect, &n, &err);
	ck_assert_str_eq(n.list, "carol dave Bob alice erin");
	ck_assert_uint_eq(n.copied_sum, 6);
	n = (struct names){ .copied_sum = 0 };
	q = (struct state_mailbox_query){ .search = "ROBERT" };
	state_mailbox_page(db, &q, &matched, collect, &n, &err);
	ck_assert_uint_eq(matched, 1);
	ck_assert_str_eq(n.list, "Bob");
	n = (struct names){ .copied_sum = 0 };
	q = (struct state_mailbox_query){ .status = "disabled" };
	state_mailbox_page(db, &q, &matched, collect, &n, &err);
	ck_assert_str_eq(n.list, "erin");
	n = (struct names){ .copied_sum = 0 };
	q = (struct state_mailbox_query){ .status = "done",
					  .sort = STATE_SORT_NAME,
					  .descending = true };
	state_mailbox_page(db, &q, &matched, collect, &n, &err);
	ck_assert_uint_eq(matched, 2);
	ck_assert_str_eq(n.list, "dave carol");
}
END_TEST

static int sum_samples(const struct state_rate_sample *s, void *aux)
{
	uint64_t *sum = aux;
	ck_assert_int_eq(s->start % 60, 0);
	sum[0] += s->messages;
	sum[1] += s->bytes;
	return MF_OK;
}

START_TEST(throughput_buckets_add_up_to_the_copies)
{
	copy_some("alice", 7);
	uint64_t sum[2] = { 0, 0 };
	int64_t now = (int64_t)time(NULL);
	ck_assert_int_eq(state_throughput(db, now - 3600, 60, sum_samples, sum, &err), MF_OK);
	ck_assert_uint_eq(sum[0], 7);
	ck_assert_uint_eq(sum[1], 70);
	sum[0] = sum[1] = 0;
	state_throughput(db, now + 3600, 60, sum_samples, sum, &err);
	ck_assert_uint_eq(sum[0], 0);
}
END_TEST

static int count_folder(const struct state_folder_target *t, void *aux)
{
	ck_assert_str_eq(t->path, "INBOX");
	ck_assert_uint_eq(t->failed, 1);
	*(int *)aux += 1;
	return MF_OK;
}

START_TEST(folder_targets_carry_the_folder_state)
{
	int64_t mb;
	bool enabled;
	struct state_folder f;
	state_mailbox_begin(db, "frank", "s", "t", &mb, &enabled, &err);
	state_folder_begin(db, mb, "INBOX", &f, &err);
	state_message_failed(db, f.id, 1, "x", 5, true, "NO [OVERQUOTA]", &err);
	state_folder_save(db, f.id, 1, 1, NULL, "INBOX", "failed", "NO [OVERQUOTA] quota", &err);
	state_folder_clear(&f);
	int n = 0;
	ck_assert_int_eq(state_folder_targets(db, "frank", count_folder, &n, &err), MF_OK);
	ck_assert_int_eq(n, 1);
}
END_TEST

static Suite *views_suite(void)
{
	Suite *s = suite_create(backend_pg_url() ? "state_views (postgresql)"
						 : "state_views (sqlite)");
	TCase *tc = tcase_create("views");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, declare_adds_pending_rows_and_keeps_existing_ones);
	tcase_add_test(tc, page_filters_sorts_and_cuts_in_the_store);
	tcase_add_test(tc, throughput_buckets_add_up_to_the_copies);
	tcase_add_test(tc, folder_targets_carry_the_folder_state);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(views_suite)
