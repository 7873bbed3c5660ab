/* SPDX-License-Identifier: MIT */
/* Every capability bit of plugin.h is acted on by the core: for each
 * bit, a fixture plugin lacking it (caps_source.c, caps_sink.c) in a case
 * that goes wrong (a message lost, doubled or refused) if the core
 * ignored the bit, and where it helps the same case with the bit set. */
#include <config.h>
#include <check.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "job_p.h"
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
	snprintf(tmp, sizeof(tmp), "/tmp/mf-caps-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(state_path, sizeof(state_path), "%s/state.db", tmp);
	char src[300];
	snprintf(src, sizeof(src), "%s/src", tmp);
	ck_assert_int_eq(mkdir(src, 0700), 0);
	host_init(&host, &settings);
	memset(&reg, 0, sizeof(reg));
	const char *dirs[] = { getenv("CAPS_DIR") };
	setenv("MAILFERRY_NO_DEFAULT_PLUGINS", "1", 1);
	unsetenv("MAILFERRY_PLUGIN_PATH");
	registry_load(&reg, &host, dirs, 1);
	log_set_level(MF_LOG_ERROR);
}

static void teardown(void)
{
	registry_free(&reg);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

/* The source's mailbox for the next run (caps_source.c's format). */
static void mailbox(const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/src/mailbox", tmp);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* One run of mailbox "alice" from source module src into sink module snk. */
static struct job run(const char *src, const char *snk, unsigned streams)
{
	struct job job = { 0 };
	struct mf_error err;
	char uri[400];
	snprintf(uri, sizeof(uri), "%s:%s/src", src, tmp);
	ck_assert_int_eq(uri_parse(uri, &job.source, &err), MF_OK);
	snprintf(uri, sizeof(uri), "%s:%s/dst", snk, tmp);
	ck_assert_int_eq(uri_parse(uri, &job.sink, &err), MF_OK);
	job.name = strdup("alice");
	struct run_config cfg = {
		.registry = &reg,
		.state_path = state_path,
		.folders = &fmap,
		.throttle = throttle_new(0, 0, 2),
		.retry = { .base_ms = 1, .max_ms = 5, .max_attempts = 2 },
		.spool_mem_limit = 64,
		.jobs = 1,
		.streams = streams,
	};
	scheduler_run(&cfg, &job, 1);
	throttle_free(&cfg.throttle);
	ck_assert_msg(job.result == JOB_DONE, "job: %s", job.error);
	return job;
}

/* Messages the sink holds in folder ("*.kw" files: with_kw). */
static int stored(const char *folder, bool with_kw)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/dst/%s", tmp, folder);
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		bool kw = len > 3 && strcmp(e->d_name + len - 3, ".kw") == 0;
		n += e->d_name[0] != '.' && kw == with_kw;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

/* A file the source fixture wrote ("since", "max_sessions"). */
static char *src_file(const char *name)
{
	static char buf[300];
	char path[400];
	snprintf(path, sizeof(path), "%s/src/%s", tmp, name);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void expect(const struct job *j, uint64_t copied, uint64_t failed)
{
	ck_assert_uint_eq(j->counters.copied, copied);
	ck_assert_uint_eq(j->counters.failed, failed);
}

START_TEST(stable_ids_lacking_renumbered_source_copies_nothing_twice)
{
	mailbox("uidvalidity 7\na 1 - one\nb 2 - two\n");
	struct job j = run("nostable", "capsink", 1);
	expect(&j, 2, 0);
	job_free(&j);
	/* Renumbered, and a new message took an old id: by id "three" would
	 * pass for the copied "one" and "two" be stored again. */
	mailbox("uidvalidity 7\na 1 - three\nb 2 - one\nc 3 - two\n");
	j = run("nostable", "capsink", 1);
	expect(&j, 1, 0);
	ck_assert_uint_eq(j.counters.skipped, 2);
	ck_assert_int_eq(stored("INBOX", false), 3);
	job_free(&j);
	j = run("nostable", "capsink", 1);
	expect(&j, 0, 0);
	job_free(&j);
	/* Nothing can be skipped by id or uid: the source is asked from
	 * the start each time. */
	ck_assert_str_eq(src_file("since"), "last_uid=0 sync_state=(none)\n");
}
END_TEST

START_TEST(content_names_count_identical_messages)
{
	struct content_keys k = { 0 };
	unsigned char d1[32] = { 1 }, d2[32] = { 2 };
	char key[CONTENT_KEY_SIZE];
	content_key_next(&k, d1, key);
	ck_assert(strstr(key, "sha256:01") == key && strstr(key, "/1") != NULL);
	content_key_next(&k, d2, key);
	ck_assert(strstr(key, "sha256:02") == key && strstr(key, "/1") != NULL);
	content_key_next(&k, d1, key);
	ck_assert(strstr(key, "sha256:01") == key && strstr(key, "/2") != NULL);
	for (unsigned i = 0; i < 200; i++) { /* past a few rehashes */
		unsigned char d[32] = { 3, (unsigned char)i };
		content_key_next(&k, d, key);
	}
	content_key_next(&k, d1, key);
	ck_assert(strstr(key, "/3") != NULL);
	content_keys_reset(&k);
	content_key_next(&k, d1, key);
	ck_assert(strstr(key, "/1") != NULL);
	content_keys_free(&k);
}
END_TEST

START_TEST(monotonic_uids_lacking_source_gets_a_lower_new_uid_copied)
{
	mailbox("uidvalidity 7\na 5 - one\nb 6 - two\n");
	struct job j = run("nomono", "capsink", 1);
	expect(&j, 2, 0);
	job_free(&j);
	/* A new message below the highest uid copied: a uid cursor (6)
	 * would hide it. */
	mailbox("uidvalidity 7\nc 3 - three\na 5 - one\nb 6 - two\n");
	j = run("nomono", "capsink", 1);
	expect(&j, 1, 0);
	ck_assert_str_eq(src_file("since"), "last_uid=0 sync_state=(none)\n");
	ck_assert_int_eq(stored("INBOX", false), 3);
	job_free(&j);
}
END_TEST

START_TEST(monotonic_uids_source_resumes_from_the_uid_cursor)
{
	/* The same source with the bit: told where the last run ended. */
	mailbox("uidvalidity 7\na 5 - one\nb 6 - two\n");
	struct job j = run("capsrc", "capsink", 1);
	expect(&j, 2, 0);
	job_free(&j);
	j = run("capsrc", "capsink", 1);
	expect(&j, 0, 0);
	ck_assert(strncmp(src_file("since"), "last_uid=6 ", 11) == 0);
	job_free(&j);
}
END_TEST

START_TEST(sync_state_lacking_source_is_never_handed_its_token)
{
	mailbox("uidvalidity 7\nsynctoken\na 1 - one\nb 2 - two\n");
	struct job j = run("nosync", "capsink", 1);
	expect(&j, 2, 0);
	job_free(&j);
	/* A message in front: the token "2" would skip it with "one". */
	mailbox("uidvalidity 7\nsynctoken\nc 3 - three\na 1 - one\nb 2 - two\n");
	j = run("nosync", "capsink", 1);
	expect(&j, 1, 0);
	ck_assert_str_eq(src_file("since"), "last_uid=2 sync_state=(none)\n");
	ck_assert_int_eq(stored("INBOX", false), 3);
	job_free(&j);
}
END_TEST

START_TEST(sync_state_source_gets_its_token_back)
{
	mailbox("uidvalidity 7\nsynctoken\na 1 - one\nb 2 - two\n");
	struct job j = run("capsrc", "capsink", 1);
	job_free(&j);
	j = run("capsrc", "capsink", 1);
	ck_assert_str_eq(src_file("since"), "last_uid=2 sync_state=2\n");
	job_free(&j);
}
END_TEST

START_TEST(returns_id_lacking_sink_still_matches_by_content_after_uidvalidity_change)
{
	mailbox("uidvalidity 1\na 1 - one\nb 2 - two\n");
	struct job j = run("capsrc", "noidsink", 1);
	expect(&j, 2, 0);
	job_free(&j);
	/* New UIDVALIDITY, new ids: matched by content.  Trusting the
	 * sink's one answer for both ("queued") would take "one"'s match
	 * for "two"'s and store "two" again. */
	mailbox("uidvalidity 2\nx 1 - one\ny 2 - two\nz 3 - three\n");
	j = run("capsrc", "noidsink", 1);
	expect(&j, 1, 0);
	ck_assert_uint_eq(j.counters.skipped, 2);
	ck_assert_int_eq(stored("INBOX", false), 3);
	job_free(&j);
	/* And the sink's meaningless answer is not what the state keeps. */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(state_path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT sum(target_id='queued'),"
					    " sum(target_id LIKE 'mailferry:%'),"
					    " count(DISTINCT target_id) FROM messages",
					    -1, &q, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), 0);
	ck_assert_int_eq(sqlite3_column_int(q, 1), 5); /* 2, 1 new, 2 claims */
	ck_assert_int_eq(sqlite3_column_int(q, 2), 3); /* claims carry the old ones */
	sqlite3_finalize(q);
	sqlite3_close(db);
}
END_TEST

START_TEST(keywords_lacking_sink_gets_the_messages_without_them)
{
	mailbox("uidvalidity 7\na 1 Important,$Label2 one\nb 2 - two\n");
	struct job j = run("capsrc", "nokwsink", 1);
	expect(&j, 2, 0);
	ck_assert_uint_eq(j.counters.keywords_dropped, 1);
	ck_assert_int_eq(stored("INBOX", false), 2);
	ck_assert_int_eq(stored("INBOX", true), 0);
	job_free(&j);
}
END_TEST

START_TEST(keywords_sink_gets_them)
{
	mailbox("uidvalidity 7\na 1 Important,$Label2 one\nb 2 - two\n");
	struct job j = run("capsrc", "capsink", 1);
	expect(&j, 2, 0);
	ck_assert_uint_eq(j.counters.keywords_dropped, 0);
	ck_assert_int_eq(stored("INBOX", true), 1);
	job_free(&j);
}
END_TEST

static const char three_folders[] = "uidvalidity 7\nfolder INBOX\na 1 - one\n"
				    "folder A\nb 1 - two\nfolder B\nc 1 - three\n";

START_TEST(parallel_sessions_lacking_source_gets_one_session)
{
	mailbox(three_folders);
	struct job j = run("noparallel", "capsink", 4);
	expect(&j, 3, 0);
	ck_assert_uint_eq(j.counters.folders_failed, 0);
	ck_assert_str_eq(src_file("max_sessions"), "1\n");
	job_free(&j);
}
END_TEST

START_TEST(parallel_sessions_source_gets_several)
{
	mailbox(three_folders);
	struct job j = run("capsrc", "capsink", 4);
	expect(&j, 3, 0);
	ck_assert_int_gt(atoi(src_file("max_sessions")), 1);
	job_free(&j);
}
END_TEST

START_TEST(folders_lacking_source_is_one_folder_the_inbox)
{
	/* POP3-like: the mailbox is its one folder, whatever it is called;
	 * what it lists past that it cannot serve. */
	mailbox("uidvalidity 7\nfolder Maildrop\na 1 - one\nfolder Other\nb 1 - two\n");
	struct job j = run("nofolders", "capsink", 1);
	expect(&j, 1, 0);
	ck_assert_uint_eq(j.counters.folders, 1);
	ck_assert_int_eq(stored("INBOX", false), 1);
	ck_assert_int_eq(stored("Maildrop", false), 0);
	ck_assert_int_eq(stored("Other", false), 0);
	job_free(&j);
}
END_TEST

static Suite *caps_suite(void)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("bits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stable_ids_lacking_renumbered_source_copies_nothing_twice);
	tcase_add_test(tc, content_names_count_identical_messages);
	tcase_add_test(tc, monotonic_uids_lacking_source_gets_a_lower_new_uid_copied);
	tcase_add_test(tc, monotonic_uids_source_resumes_from_the_uid_cursor);
	tcase_add_test(tc, sync_state_lacking_source_is_never_handed_its_token);
	tcase_add_test(tc, sync_state_source_gets_its_token_back);
	tcase_add_test(tc,
		       returns_id_lacking_sink_still_matches_by_content_after_uidvalidity_change);
	tcase_add_test(tc, keywords_lacking_sink_gets_the_messages_without_them);
	tcase_add_test(tc, keywords_sink_gets_them);
	tcase_add_test(tc, parallel_sessions_lacking_source_gets_one_session);
	tcase_add_test(tc, parallel_sessions_source_gets_several);
	tcase_add_test(tc, folders_lacking_source_is_one_folder_the_inbox);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(caps_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
