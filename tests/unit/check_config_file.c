/* SPDX-License-Identifier: MIT */
/* The configuration file parser (cli/config_file.c): "key = value" lines,
 * comments, quoting, errors naming file and line, and the mapping onto a
 * getopt option table (flags, unknown and forbidden keys). */
#include <config.h>
#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_file.h"

static int parse(const char *text, struct config *cfg, struct mf_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	return config_parse(text, strlen(text), "test.conf", cfg, err);
}

START_TEST(keys_values_comments_and_blanks)
{
	struct config cfg;
	struct mf_error err = { 0 };
	const char *text = "# a comment\n"
			   "\n"
			   "max-bytes-per-second = 10M\r\n"
			   "   folder-policy=inbox   \n"
			   "\t# indented comment\n"
			   "set = imap.batch=50\n"
			   "include-folder = Projects #2\n"
			   "name = \"  padded value  \"\n"
			   "dry-run = yes";
	ck_assert_int_eq(parse(text, &cfg, &err), MF_OK);
	ck_assert_uint_eq(cfg.n, 6);
	ck_assert_str_eq(cfg.entries[0].key, "max-bytes-per-second");
	ck_assert_str_eq(cfg.entries[0].value, "10M");
	ck_assert_uint_eq(cfg.entries[0].line, 3);
	ck_assert_str_eq(cfg.entries[1].key, "folder-policy");
	ck_assert_str_eq(cfg.entries[1].value, "inbox");
	ck_assert_uint_eq(cfg.entries[1].line, 4);
	/* The first '=' splits: the rest belongs to the value. */
	ck_assert_str_eq(cfg.entries[2].key, "set");
	ck_assert_str_eq(cfg.entries[2].value, "imap.batch=50");
	/* '#' after a value is part of it (folder names may contain it). */
	ck_assert_str_eq(cfg.entries[3].value, "Projects #2");
	ck_assert_str_eq(cfg.entries[4].value, "  padded value  ");
	ck_assert_str_eq(cfg.entries[5].value, "yes");
	ck_assert_uint_eq(cfg.entries[5].line, 9);
	config_free(&cfg);
}
END_TEST

START_TEST(empty_text_and_empty_value)
{
	struct config cfg;
	struct mf_error err = { 0 };
	ck_assert_int_eq(parse("", &cfg, &err), MF_OK);
	ck_assert_uint_eq(cfg.n, 0);
	config_free(&cfg);
	ck_assert_int_eq(parse("ca-file =\n", &cfg, &err), MF_OK);
	ck_assert_uint_eq(cfg.n, 1);
	ck_assert_str_eq(cfg.entries[0].value, "");
	config_free(&cfg);
}
END_TEST

static void expect_error(const char *text, const char *needle)
{
	struct config cfg;
	struct mf_error err = { 0 };
	ck_assert_int_eq(parse(text, &cfg, &err), MF_ERR_FATAL);
	ck_assert_msg(strstr(err.text, needle) != NULL, "error '%s' lacks '%s'", err.text, needle);
	config_free(&cfg);
}

START_TEST(malformed_lines_name_file_and_line)
{
	expect_error("jobs = 4\nthis is not a setting\n", "test.conf:2: expected 'key = value'");
	expect_error("= value\n", "test.conf:1:");
	expect_error("Max-Bytes = 1\n", "test.conf:1:"); /* keys are lower case */
	expect_error("jobs 4\n", "test.conf:1:");
	expect_error("\n\nname = \"unclosed\n", "test.conf:3: value of 'name' opens a quote");
	expect_error("name = \"\n", "test.conf:1:");
}
END_TEST

START_TEST(nul_byte_is_refused)
{
	struct config cfg = { 0 };
	struct mf_error err = { 0 };
	ck_assert_int_eq(config_parse("jobs = 4\n\0x", 11, "bin.conf", &cfg, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, "bin.conf: contains a NUL byte"));
	config_free(&cfg);
}
END_TEST

START_TEST(load_reads_a_file_and_names_a_missing_one)
{
	char path[] = "/tmp/check_config_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "timeout = 30\n# done\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	struct config cfg = { 0 };
	struct mf_error err = { 0 };
	ck_assert_int_eq(config_load(path, &cfg, &err), MF_OK);
	ck_assert_uint_eq(cfg.n, 1);
	ck_assert_str_eq(cfg.origin, path);
	config_free(&cfg);
	unlink(path);
	ck_assert_int_eq(config_load(path, &cfg, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, path));
	ck_assert_int_ne(err.sys_errno, 0);
	config_free(&cfg);
}
END_TEST

static const struct option opts[] = {
	{ "state", required_argument, NULL, 1 },
	{ "json", no_argument, NULL, 2 },
	{ "set", required_argument, NULL, 3 },
	{ "config", required_argument, NULL, 4 },
	{ NULL, 0, NULL, 0 },
};
static const char *const forbidden[] = { "config", NULL };

START_TEST(entries_become_getopt_arguments)
{
	struct config cfg;
	struct mf_error err = { 0 };
	ck_assert_int_eq(parse("state = /var/lib/x.db\njson = yes\nset = a=b c\njson = off\n", &cfg,
			       &err),
			 MF_OK);
	char **args;
	size_t n;
	ck_assert_int_eq(config_to_args(&cfg, opts, forbidden, &args, &n, &err), MF_OK);
	ck_assert_uint_eq(n, 3); /* "json = off" adds nothing */
	ck_assert_str_eq(args[0], "--state=/var/lib/x.db");
	ck_assert_str_eq(args[1], "--json");
	ck_assert_str_eq(args[2], "--set=a=b c");

	/* getopt then reads them; a later command-line option wins. */
	char *argv[] = { "prog", args[0], args[1], args[2], "--state=cli.db", "SRC", NULL };
	int argc = 6, c;
	const char *state = NULL;
	bool json = false;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 1)
			state = optarg;
		if (c == 2)
			json = true;
	}
	ck_assert_str_eq(state, "cli.db");
	ck_assert(json);
	ck_assert_int_eq(optind, 5);
	config_args_free(args, n);
	config_free(&cfg);
}
END_TEST

static void expect_args_error(const char *text, const char *needle)
{
	struct config cfg;
	struct mf_error err = { 0 };
	char **args = (char **)1;
	size_t n = 99;
	ck_assert_int_eq(parse(text, &cfg, &err), MF_OK);
	ck_assert_int_eq(config_to_args(&cfg, opts, forbidden, &args, &n, &err), MF_ERR_FATAL);
	ck_assert_ptr_null(args);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(strstr(err.text, needle) != NULL, "error '%s' lacks '%s'", err.text, needle);
	config_free(&cfg);
}

START_TEST(unknown_forbidden_and_bad_flag_values_are_refused)
{
	expect_args_error("state = x\nmax-speed = 3\n",
			  "test.conf:2: 'max-speed' is not a setting");
	expect_args_error("config = other.conf\n", "test.conf:1: 'config'");
	expect_args_error("json = maybe\n", "test.conf:1: 'json' takes yes or no, not 'maybe'");
}
END_TEST

static Suite *config_file_suite(void)
{
	Suite *s = suite_create("config_file");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, keys_values_comments_and_blanks);
	tcase_add_test(tc, empty_text_and_empty_value);
	tcase_add_test(tc, malformed_lines_name_file_and_line);
	tcase_add_test(tc, nul_byte_is_refused);
	tcase_add_test(tc, load_reads_a_file_and_names_a_missing_one);
	suite_add_tcase(s, tc);
	tc = tcase_create("args");
	tcase_add_test(tc, entries_become_getopt_arguments);
	tcase_add_test(tc, unknown_forbidden_and_bad_flag_values_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_file_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
