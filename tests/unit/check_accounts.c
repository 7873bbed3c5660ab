/* SPDX-License-Identifier: MIT */
/* Accounts CSV: RFC 4180 quoting, template expansion, per-row options,
 * and malformed rows reported and skipped while the others load. */
#include <config.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "check_main.h"
#include "plugin_loader.h"
#include "scheduler.h"

/* A registry holding one sink descriptor that lists "alimail" in its
 * address_schemes, as sinks/alimail does: the URIs' login rule comes from
 * the plugin, not from the core. */
static const char *const address_schemes[] = { "alimail", NULL };
static struct loaded_plugin address_sink = {
	.desc = { .kind = MF_PLUGIN_SINK,
		  .name = "alimail",
		  .schemes = address_schemes,
		  .address_schemes = address_schemes },
};
static const struct plugin_registry address_reg = { .plugins = &address_sink, .n_plugins = 1 };

START_TEST(quoted_fields_commas_and_doubled_quotes)
{
	const char *t = "a,\"b,c\",\"say \"\"hi\"\"\"\r\nnext";
	size_t pos = 0;
	unsigned line = 1;
	struct csv_record r;
	ck_assert(csv_next_record(t, strlen(t), &pos, &line, &r));
	ck_assert_uint_eq(r.n, 3);
	ck_assert_str_eq(r.fields[1], "b,c");
	ck_assert_str_eq(r.fields[2], "say \"hi\"");
	ck_assert_uint_eq(line, 2);
	csv_record_free(&r);
	ck_assert(csv_next_record(t, strlen(t), &pos, &line, &r));
	ck_assert_str_eq(r.fields[0], "next");
	csv_record_free(&r);
}
END_TEST

START_TEST(unterminated_quote_is_malformed)
{
	const char *t = "x,\"oops\ny,z\n";
	size_t pos = 0;
	unsigned line = 1;
	struct csv_record r;
	ck_assert(!csv_next_record(t, strlen(t), &pos, &line, &r));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(template_values_are_encoded_for_uris)
{
	char *names[] = { "source_user", "source_host" };
	char *values[] = { "al ice@corp.example", "imap.example:993/x" };
	char *missing;
	char *u =
		accounts_expand("imaps://{source_user}@{source_host}", names, values, 2, &missing);
	ck_assert_str_eq(u, "imaps://al%20ice@corp.example@imap.example%3A993%2Fx");
	free(u);
	ck_assert_ptr_null(accounts_expand("x{nope}", names, values, 2, &missing));
	ck_assert_str_eq(missing, "nope");
	free(missing);
}
END_TEST

START_TEST(template_takes_login_with_or_without_domain)
{
	char *names[] = { "source_user", "plain", "odd.local" };
	char *values[] = { "a@b@corp.example", "bob", "column wins" };
	char *missing;
	char *u = accounts_expand("{source_user.local}|{source_user.domain}|{plain.local}|"
				  "{plain.domain}|{odd.local}",
				  names, values, 3, &missing);
	ck_assert_str_eq(u, "a@b|corp.example|bob||column%20wins");
	free(u);
	ck_assert_ptr_null(accounts_expand("{nope.local}", names, values, 3, &missing));
	ck_assert_str_eq(missing, "nope.local");
	free(missing);
}
END_TEST

START_TEST(rows_become_jobs_and_bad_rows_are_skipped)
{
	char path[] = "/tmp/mf-accounts-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("\xef\xbb\xbfsource_user,source_password,target_user,folder_policy,enabled\n"
	      "alice@old.example,pw1,alice@new.example,,yes\n"
	      "bob@old.example,\"p,w\"\"2\",bob@new.example,inbox,no\n"
	      "broken,row\n"
	      "carol@old.example,pw3,carol@new.example,sideways,\n"
	      "\n"
	      "dave@old.example,,dave@new.example,folder:Old Mail,1\n",
	      f);
	fclose(f);
	struct job *jobs;
	size_t n;
	struct mf_error err;
	unsetenv("MAILFERRY_SOURCE_PASSWORD");
	ck_assert_int_eq(accounts_load(path, "imaps://{source_user}@127.0.0.1:993",
				       "alimail://{target_user}", &address_reg, false, &jobs, &n,
				       &err),
			 MF_OK);
	unlink(path);
	ck_assert_uint_eq(n, 3); /* broken (field count) and carol (bad policy) skipped */
	ck_assert_str_eq(jobs[0].name, "alice@old.example");
	ck_assert_str_eq(jobs[0].source.acct.password, "pw1");
	ck_assert_str_eq(jobs[0].sink.acct.user, "alice@new.example");
	ck_assert(!jobs[0].force_disabled);
	ck_assert_str_eq(jobs[1].source.acct.password, "p,w\"2");
	ck_assert(jobs[1].force_disabled);
	ck_assert_int_eq(jobs[1].folders->kind, FOLDER_POLICY_INBOX);
	ck_assert_ptr_null(jobs[2].source.acct.password);
	ck_assert_str_eq(jobs[2].folders->named, "Old Mail");
	for (size_t i = 0; i < n; i++)
		job_free(&jobs[i]);
	free(jobs);
}
END_TEST

START_TEST(missing_file_and_empty_file_fail_clearly)
{
	struct job *jobs;
	size_t n;
	struct mf_error err;
	ck_assert_int_ne(accounts_load("/nonexistent/accounts.csv", "a:{x}", "b:{y}", NULL, false,
				       &jobs, &n, &err),
			 MF_OK);
	ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/accounts.csv"));
	char path[] = "/tmp/mf-accounts-XXXXXX";
	close(mkstemp(path));
	ck_assert_int_ne(accounts_load(path, "a:{x}", "b:{y}", NULL, false, &jobs, &n, &err),
			 MF_OK);
	ck_assert_ptr_nonnull(strstr(err.text, "header"));
	unlink(path);
}
END_TEST

static Suite *accounts_suite(void)
{
	Suite *s = suite_create("accounts");
	TCase *tc = tcase_create("csv");
	tcase_add_test(tc, quoted_fields_commas_and_doubled_quotes);
	tcase_add_test(tc, unterminated_quote_is_malformed);
	tcase_add_test(tc, template_values_are_encoded_for_uris);
	tcase_add_test(tc, template_takes_login_with_or_without_domain);
	tcase_add_test(tc, rows_become_jobs_and_bad_rows_are_skipped);
	tcase_add_test(tc, missing_file_and_empty_file_fail_clearly);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(accounts_suite)
