/* SPDX-License-Identifier: MIT */
/* The core pipeline end to end, in process: the "good" and "garbage"
 * fixture sources into the real local maildir sink.  Covers re-runs
 * copying nothing, a bad message recorded while the rest go on, refused
 * credentials, dry runs, disabled mailboxes, and recovery of an append
 * interrupted before it was recorded (no duplicate). */
#include <config.h>
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "plugin_loader.h"
#include "scheduler.h"
#include "state.h"
#include "throttle.h"

static char tmp[256];
static char state_path[300];
static struct settings settings;
static struct mf_host host;
static struct plugin_registry reg;
static struct folder_map fmap;

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mf-sched-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(state_path, sizeof(state_path), "%s/state.db", tmp);
	host_init(&host, &settings);
	memset(&reg, 0, sizeof(reg));
	const char *dirs[] = { getenv("FIXTURE_DIR"), getenv("SINKS_DIR") };
	setenv("MAILFERRY_NO_DEFAULT_PLUGINS", "1", 1);
	unsetenv("MAILFERRY_PLUGIN_PATH");
	registry_load(&reg, &host, dirs, 2);
	log_set_level(MF_LOG_ERROR);
}

static void teardown(void)
{
	registry_free(&reg);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static struct job run_to(const char *source_uri, const char *password, bool dry_run,
			 const char *sink);

static struct job run(const char *source_uri, const char *password, bool dry_run)
{
	char sink[400];
	snprintf(sink, sizeof(sink), "maildir:%s/out", tmp);
	return run_to(source_uri, password, dry_run, sink);
}

static struct job run_to(const char *source_uri, const char *password, bool dry_run,
			 const char *sink)
{
	struct job job = { 0 };
	struct mf_error err;
	ck_assert_int_eq(uri_parse(source_uri, &job.source, &err), MF_OK);
	ck_assert_int_eq(uri_parse(sink, &job.sink, &err), MF_OK);
	if (password)
		uri_set_password(&job.source, password);
	job.name = strdup("alice");
	struct run_config cfg = {
		.registry = &reg,
		.state_path = state_path,
		.folders = &fmap,
		.throttle = throttle_new(0, 0, 2),
		.retry = { .base_ms = 1, .max_ms = 5, .max_attempts = 2 },
		.spool_mem_limit = 64,
		.jobs = 1,
		.dry_run = dry_run,
	};
	scheduler_run(&cfg, &job, 1);
	throttle_free(&cfg.throttle);
	return job;
}

static int count_files(const char *sub)
{
	char path[400];
	int n = 0;
	const char *parts[] = { "cur", "new" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/out/%s/%s", tmp, sub, parts[i]);
		DIR *d = opendir(path);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

START_TEST(copies_everything_then_nothing)
{
	struct job j = run("fixture-good:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 3);
	ck_assert_uint_eq(j.counters.folders, 2);
	ck_assert_int_eq(count_files(""), 2);
	ck_assert_int_eq(count_files(".Work.Reports"), 1);
	job_free(&j);
	j = run("fixture-good:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 0);
	ck_assert_int_eq(count_files(""), 2);
	job_free(&j);
}
END_TEST

START_TEST(bad_message_is_recorded_and_the_rest_go_on)
{
	struct job j = run("fixture-garbage:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 2);
	ck_assert_uint_eq(j.counters.failed, 1);
	job_free(&j);
	/* A short delivery may be a dropped connection: the next run tries
	 * that message again (and only that one). */
	j = run("fixture-garbage:x", NULL, false);
	ck_assert_uint_eq(j.counters.copied, 0);
	ck_assert_uint_eq(j.counters.failed, 1);
	ck_assert_uint_eq(j.counters.skipped, 0); /* the others sit below the UID cursor */
	job_free(&j);
}
END_TEST

START_TEST(refused_credentials_fail_the_mailbox_clearly)
{
	struct job j = run("fixture-good:x", "wrong", false);
	ck_assert_int_eq(j.result, JOB_FAILED);
	ck_assert_int_eq(j.status, MF_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(j.error, "alice: bad password"));
	job_free(&j);
}
END_TEST

START_TEST(dry_run_writes_nothing)
{
	struct job j = run("fixture-good:x", NULL, true);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 3);
	ck_assert_int_eq(count_files(""), 0);
	job_free(&j);
}
END_TEST

static int set_all_pending(struct state_db *db)
{
	/* What a kill -9 between append and record leaves behind. */
	struct mf_error err;
	int64_t mb;
	bool enabled;
	struct state_folder f;
	unsigned char d[32] = { 0 };
	ck_assert_int_eq(state_mailbox_begin(db, "alice", NULL, NULL, &mb, &enabled, &err), MF_OK);
	ck_assert_int_eq(state_folder_begin(db, mb, "INBOX", &f, &err), MF_OK);
	ck_assert_int_eq(state_message_pending(db, f.id, 7, "2", 0, d, &err), MF_OK);
	ck_assert_int_eq(state_folder_save(db, f.id, 7, 1, NULL, NULL, "failed", NULL, &err),
			 MF_OK);
	state_folder_clear(&f);
	return 0;
}

START_TEST(interrupted_append_is_found_not_duplicated)
{
	struct job j = run("fixture-good:x", NULL, false);
	job_free(&j);
	struct state_db *db;
	struct mf_error err;
	ck_assert_int_eq(state_open(state_path, &db, &err), MF_OK);
	set_all_pending(db);
	state_close(&db);
	j = run("fixture-good:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 0);
	/* Message 1 is below the saved UID cursor and not even offered;
	 * message 2 is found by the sink's lookup. */
	ck_assert_uint_eq(j.counters.skipped, 1);
	ck_assert_int_eq(count_files(""), 2);
	job_free(&j);
}
END_TEST

START_TEST(disabled_mailbox_is_skipped)
{
	struct job j = run("fixture-good:x", NULL, false);
	job_free(&j);
	struct state_db *db;
	struct mf_error err;
	ck_assert_int_eq(state_open(state_path, &db, &err), MF_OK);
	ck_assert_int_eq(state_mailbox_set_enabled(db, "alice", false, &err), MF_OK);
	state_close(&db);
	j = run("fixture-good:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DISABLED);
	job_free(&j);
}
END_TEST

START_TEST(dropped_source_connection_is_reopened_and_resumed)
{
	struct job j = run("fixture-flaky:x", NULL, false);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 3);
	ck_assert_int_eq(count_files(""), 2);
	ck_assert_int_eq(count_files(".Work.Reports"), 1);
	job_free(&j);
}
END_TEST

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

START_TEST(pipelined_sink_records_every_late_outcome)
{
	char sink[400], dir[300];
	snprintf(dir, sizeof(dir), "%s/pipe", tmp);
	snprintf(sink, sizeof(sink), "pipesink:%s", dir);
	struct job j = run_to("fixture-good:x", NULL, false, sink);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_uint_eq(j.counters.copied, 3);
	ck_assert_int_eq(count_dir(dir), 3);
	job_free(&j);
	j = run_to("fixture-good:x", NULL, false, sink);
	ck_assert_uint_eq(j.counters.copied, 0);
	job_free(&j);
}
END_TEST

START_TEST(pipelined_session_loss_is_settled_by_lookup)
{
	/* The session dies on the 2nd append with both answers outstanding:
	 * the core reconnects, fetches again and asks lookup(); the sink
	 * aborts on any duplicate store. */
	char sink[400], dir[300];
	snprintf(dir, sizeof(dir), "%s/pipe", tmp);
	snprintf(sink, sizeof(sink), "pipesink:%s?fail_at=2", dir);
	struct job j = run_to("fixture-good:x", NULL, false, sink);
	ck_assert_int_eq(j.result, JOB_DONE);
	ck_assert_int_eq(count_dir(dir), 3);
	ck_assert_uint_eq(j.counters.copied + j.counters.skipped, 3);
	job_free(&j);
}
END_TEST

static Suite *scheduler_suite(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("pipeline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, copies_everything_then_nothing);
	tcase_add_test(tc, bad_message_is_recorded_and_the_rest_go_on);
	tcase_add_test(tc, refused_credentials_fail_the_mailbox_clearly);
	tcase_add_test(tc, dry_run_writes_nothing);
	tcase_add_test(tc, interrupted_append_is_found_not_duplicated);
	tcase_add_test(tc, disabled_mailbox_is_skipped);
	tcase_add_test(tc, dropped_source_connection_is_reopened_and_resumed);
	tcase_add_test(tc, pipelined_sink_records_every_late_outcome);
	tcase_add_test(tc, pipelined_session_loss_is_settled_by_lookup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scheduler_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
