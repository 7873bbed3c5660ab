/* SPDX-License-Identifier: MIT */
/* Check suite for the libmailferry helpers owned by the offline sources:
 * RFC 5322 and asctime date parsing, date formatting, the RFC 5322 header
 * reader (include/mailferry/mime.h) and special-use guessing by folder
 * name.  Expected epochs were computed independently (Python's
 * calendar.timegm), not by this code. */
#include <config.h>
#include <mailferry/date.h>
#include <mailferry/folder.h>
#include <mailferry/mime.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct date_case {
	const char *in;
	bool ok;
	int64_t epoch;
	int32_t tz;
};

typedef bool date_parser(const char *s, size_t len, int64_t *epoch_r, int32_t *tz_min_r);

/* One row of a date table through parse: succeeds or fails as the row
 * says, and when it succeeds, to the row's epoch and zone. */
static void check_date_case(date_parser *parse, const struct date_case *c)
{
	int64_t e = 42;
	int32_t tz = 42;
	bool ok = parse(c->in, strlen(c->in), &e, &tz);
	ck_assert_msg(ok == c->ok, "\"%s\": expected %s", c->in, c->ok ? "success" : "failure");
	if (c->ok) {
		ck_assert_msg(e == c->epoch, "\"%s\": epoch %lld, want %lld", c->in, (long long)e,
			      (long long)c->epoch);
		ck_assert_int_eq(tz, c->tz);
	}
}

static const struct date_case rfc_cases[] = {
	{ "Tue, 1 Jul 2003 10:52:37 +0200", true, 1057049557, 120 },
	{ "1 Jul 2003 10:52:37 +0200", true, 1057049557, 120 },
	{ "Tue,  1 Jul 2003 10:52 -0700", true, 1057081920, -420 },
	{ "Tue, 01 Jul 03 10:52:37 GMT", true, 1057056757, 0 },
	{ "Thu, 01 Jul 99 10:52:37 EST", true, 930844357, -300 },
	{ "Tue, 01 Jul 103 10:52:37 PDT", true, 1057081957, -420 },
	{ "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", true, 1057049557, 120 },
	{ "Tue (x), 1 Jul (y (nested)) 2003 10:52:37 (z) +0200", true, 1057049557, 120 },
	{ "Tuesday, 1 July 2003 10:52:37 +0200", true, 1057049557, 120 },
	{ "01-Jul-2003 10:52:37 +0200", true, 1057049557, 120 },
	{ "Tue Jul  1 10:52:37 2003", true, 1057056757, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +0200 CEST", true, 1057049557, 120 },
	{ "Tue, 1 Jul 2003 10:52:37 GMT+0800", true, 1057027957, 480 },
	{ "Tue, 1 Jul 2003 10:52:37 +02:00", true, 1057049557, 120 },
	{ "Tue, 1 Jul 2003 10:52:37", true, 1057056757, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 Z", true, 1057056757, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 A", true, 1057056757, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 XYZ", true, 1057056757, 0 },
	{ "tue, 1 JUL 2003 10:52:37 cest", true, 1057049557, 120 },
	{ "Thu, 29 Feb 2024 23:59:60 +0000", true, 1709251200, 0 },
	{ "Sat, 31 Dec 2005 23:59:59 -1200", true, 1136116799, -720 },
	{ "  Tue, 1 Jul 2003 10:52:37 +0200  \r\n", true, 1057049557, 120 },
	{ "Tue, 1 Jul 2003\r\n 10:52:37 +0200", true, 1057049557, 120 },
	{ "Mon, 1 Jan 1900 00:00:00 +0000", true, -2208988800, 0 },
	{ "", false, 0, 0 },
	{ "garbage", false, 0, 0 },
	{ "Tue, 32 Jul 2003 10:52:37 +0200", false, 0, 0 },
	{ "Wed, 29 Feb 2023 10:00:00 +0000", false, 0, 0 },
	{ "Tue, 1 Foo 2003 10:52:37 +0200", false, 0, 0 },
	{ "Tue, 1 Jul 2003 24:00:00 +0000", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:60:00 +0000", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +2500", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +0260", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +0200 trailing garbage", false, 0, 0 },
	{ "Tue, 1 Jul 2003", false, 0, 0 },
	{ "Tue, 1 Jul 12345 10:52:37 +0000", false, 0, 0 },
	{ "Xyz, 1 Jul 2003 10:52:37 +0000", false, 0, 0 },
	{ "1 Jul 2003 10:5:37 +0000", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +02000", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 Pacificstandard", false, 0, 0 },
	{ "Tue, 123 Jul 2003 10:52:37 +0000", false, 0, 0 },
	{ "Tue, 1 Jul 2003 10:52:37 +", false, 0, 0 },
	{ "(unterminated comment", false, 0, 0 },
	{ ",,,,", false, 0, 0 },
};

START_TEST(rfc5322_dates_parse_per_table)
{
	check_date_case(mf_parse_rfc5322_date, &rfc_cases[_i]);
}
END_TEST

START_TEST(date_with_nul_byte_is_refused)
{
	static const char s[] = "Tue, 1 Jul 2003 10:52:37 +0200\0";
	static const char t[] = "Tue, 1 Jul\0 2003 10:52:37 +0200";
	int64_t e;
	int32_t tz;
	ck_assert(!mf_parse_rfc5322_date(s, sizeof(s) - 1, &e, &tz));
	ck_assert(!mf_parse_rfc5322_date(t, sizeof(t) - 1, &e, &tz));
	/* Length is honoured: a prefix without the NUL parses. */
	ck_assert(mf_parse_rfc5322_date(s, sizeof(s) - 2, &e, &tz));
	ck_assert(!mf_parse_rfc5322_date(NULL, 5, &e, &tz));
}
END_TEST

static const struct date_case asctime_cases[] = {
	{ "Thu Nov 26 12:00:00 2026", true, 1795694400, 0 },
	{ "Sat Jan  3 01:05:34 2015", true, 1420247134, 0 },
	{ "Sat Jan 03 01:05:34 +0000 2015", true, 1420247134, 0 },
	{ "Thu Nov 26 12:00:00 EST 2026", true, 1795712400, -300 },
	{ "Thu Nov 26 12:00:00 2026 +0100", true, 1795690800, 60 },
	{ "Thu Nov 26 12:00 2026", true, 1795694400, 0 },
	{ "Thu Nov 26 12:00:00 2026 remote from uucphost", true, 1795694400, 0 },
	{ "Thu Nov 26 12:00:00 2026\r\n", true, 1795694400, 0 },
	{ "Thu Nov 26 2026", false, 0, 0 },
	{ "Thu Foo 26 12:00:00 2026", false, 0, 0 },
	{ "Thu Nov 26 12:00:00", false, 0, 0 },
	{ "Thu Nov 31 12:00:00 2026", false, 0, 0 },
	{ "Nov 26 12:00:00 2026", false, 0, 0 },
	{ "Thu Nov 26 12:00:00 20266", false, 0, 0 },
	{ "Thu Nov 26 12:00:00 2026x", false, 0, 0 },
	{ "", false, 0, 0 },
};

START_TEST(asctime_dates_parse_per_table)
{
	check_date_case(mf_parse_asctime_date, &asctime_cases[_i]);
}
END_TEST

static const struct date_case from_cases[] = {
	{ "From MAILER-DAEMON Thu Nov 26 12:00:00 2026", true, 1795694400, 0 },
	{ "From - Thu Nov 26 12:00:00 2026", true, 1795694400, 0 },
	{ "From alice@example.com  Sat Jan  3 01:05:34 2015\r\n", true, 1420247134, 0 },
	{ "From 1234@xxx Sat Jan 03 01:05:34 +0000 2015\n", true, 1420247134, 0 },
	{ "From mon@example.com Mon Jan  5 00:00:00 2015", true, 1420416000, 0 },
	{ "From alice Tue, 1 Jul 2003 10:52:37 +0200", true, 1057049557, 120 },
	{ "From  Thu Nov 26 12:00:00 2026", true, 1795694400, 0 },
	{ "From here on we go", false, 0, 0 },
	{ "From the Mon Tue Wed", false, 0, 0 },
	{ "From ", false, 0, 0 },
	{ "From x", false, 0, 0 },
};

START_TEST(from_line_dates_parse_per_table)
{
	check_date_case(mf_parse_from_line_date, &from_cases[_i]);
}
END_TEST

/* Without the bounds in mf_parse_from_line_date this takes minutes (each
 * "Mon" start scanned the whole unterminated comment); the case timeout
 * catches a regression. */
START_TEST(hostile_from_line_costs_linear_time)
{
	size_t len = 64 * 1024;
	char *line = malloc(len);
	memcpy(line, "From ", 5);
	for (size_t i = 5; i < len; i++)
		line[i] = "Mon ( "[(i - 5) % 6];
	int64_t e;
	int32_t tz;
	for (int k = 0; k < 50; k++)
		ck_assert(!mf_parse_from_line_date(line, len, &e, &tz));
	free(line);
}
END_TEST

START_TEST(dates_format_in_imap_and_rfc5322_form)
{
	char b[64];
	ck_assert(mf_format_imap_date(1057049557, 120, b, sizeof(b)));
	ck_assert_str_eq(b, "01-Jul-2003 10:52:37 +0200");
	ck_assert(mf_format_rfc5322_date(1057049557, 120, b, sizeof(b)));
	ck_assert_str_eq(b, "Tue, 1 Jul 2003 10:52:37 +0200");
	ck_assert(mf_format_rfc5322_date(1057081920, -420, b, sizeof(b)));
	ck_assert_str_eq(b, "Tue, 1 Jul 2003 10:52:00 -0700");
	ck_assert(mf_format_imap_date(0, 0, b, sizeof(b)));
	ck_assert_str_eq(b, "01-Jan-1970 00:00:00 +0000");
	ck_assert(mf_format_rfc5322_date(-2208988800, 0, b, sizeof(b)));
	ck_assert_str_eq(b, "Mon, 1 Jan 1900 00:00:00 +0000");
	ck_assert(!mf_format_imap_date(1057049557, 120, b, 10));
	ck_assert_str_eq(b, "");
	ck_assert(!mf_format_imap_date(INT64_MAX, 0, b, sizeof(b)));
	ck_assert(!mf_format_imap_date(INT64_MIN, 0, b, sizeof(b)));
}
END_TEST

START_TEST(formatted_dates_parse_back)
{
	char b[64];
	for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400 * 37 + 3671) {
		int32_t tz = (int32_t)(((t / 3671) % 1441 + 1441) % 1441) - 720;
		int64_t e;
		int32_t z;
		ck_assert(mf_format_rfc5322_date(t, tz, b, sizeof(b)));
		ck_assert_msg(mf_parse_rfc5322_date(b, strlen(b), &e, &z), "%s", b);
		ck_assert_msg(e == t && z == tz, "%s", b);
		ck_assert(mf_format_imap_date(t, tz, b, sizeof(b)));
		ck_assert_msg(mf_parse_rfc5322_date(b, strlen(b), &e, &z), "%s", b);
		ck_assert_msg(e == t && z == tz, "%s", b);
	}
}
END_TEST

/* ------------------------------------------------------------------ */

#define U(s) (const unsigned char *)(s), sizeof(s) - 1

static char *find(const unsigned char *h, size_t len, const char *name, bool last, size_t *len_r)
{
	struct mf_buf v = { 0 };
	if (!mf_header_find(h, len, name, last, &v)) {
		mf_buf_free(&v);
		return NULL;
	}
	if (len_r != NULL)
		*len_r = v.len;
	char *s = malloc(v.len + 1);
	memcpy(s, v.data, v.len + 1);
	mf_buf_free(&v);
	return s;
}

#define CK_FIELD(hdr, name, last, want)                            \
	do {                                                       \
		char *got_ = find(U(hdr), name, last, NULL);       \
		ck_assert_msg(got_ != NULL, "%s not found", name); \
		ck_assert_str_eq(got_, want);                      \
		free(got_);                                        \
	} while (0)

START_TEST(header_fields_unfold_crlf_and_lf)
{
	CK_FIELD("Subject: hello\r\n world\r\n\tagain\r\nDate: x\r\n\r\nbody", "Subject", false,
		 "hello world\tagain");
	CK_FIELD("Subject: hello\n world\nDate: x\n\nbody", "subject", false, "hello world");
	CK_FIELD("SUBJECT  :  obsolete form  \n\n", "Subject", false, "obsolete form");
	CK_FIELD("A: 1\nB: 2", "B", false, "2"); /* no final newline, no body */
	CK_FIELD("A: 1\r\nB: 2\r", "B", false, "2");
	CK_FIELD("From foo Thu Nov 26 12:00:00 2026\nSubject: x\n", "Subject", false, "x");
	CK_FIELD("junk line\n\tstray continuation\nSubject: y\n", "Subject", false, "y");
	CK_FIELD("X: 1\nX: 2\nY: 3\n", "X", false, "1");
	CK_FIELD("X: 1\nX: 2\nY: 3\n", "X", true, "2");
	CK_FIELD("X:\nY: 3\n", "X", false, "");
	CK_FIELD("Subject: \xe4\xb8\xad\xff\n\n", "Subject", false, "\xe4\xb8\xad\xff");
}
END_TEST

START_TEST(header_lookup_stops_at_empty_line)
{
	ck_assert_ptr_null(find(U("A: 1\n\nB: 2\n"), "B", false, NULL));
	ck_assert_ptr_null(find(U("A: 1\r\n\r\nB: 2\r\n"), "B", false, NULL));
	ck_assert_ptr_null(find(U("\nB: 2\n"), "B", false, NULL));
	ck_assert_ptr_null(find(U(""), "B", false, NULL));
	ck_assert_ptr_null(find(NULL, 0, "B", false, NULL));
	ck_assert_ptr_null(find(U("Bee: 2\n"), "B", false, NULL));
	ck_assert_uint_eq(mf_header_block_len(U("A: 1\r\n\r\nbody")), 6);
	ck_assert_uint_eq(mf_header_block_len(U("A: 1\n\nbody\n\n")), 5);
	ck_assert_uint_eq(mf_header_block_len(U("A: 1\n")), 5);
	ck_assert_uint_eq(mf_header_block_len(U("\nbody")), 0);
	ck_assert_uint_eq(mf_header_block_len(U("A: 1\n\r")), 6);
}
END_TEST

START_TEST(header_values_keep_nul_bytes)
{
	size_t len = 0;
	char *v = find(U("X: a\0b\nY:\0\n"), "X", false, &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(v, "a\0b", 3) == 0);
	free(v);
	v = find(U("X: a\0b\nY:\0\n"), "Y", false, &len);
	ck_assert_uint_eq(len, 1);
	free(v);
}
END_TEST

START_TEST(received_date_picks_newest_or_oldest)
{
	static const char h[] = "Received: from a by b; Tue, 1 Jul 2003 10:52:37 +0200\n"
				"Received: from c (x; y) by d;\n\tMon, 30 Jun 2003 10:00:00 +0000\n"
				"Received: no date here\n"
				"\n";
	struct mf_buf v = { 0 };
	ck_assert(mf_header_received_date(U(h), MF_RECEIVED_NEWEST, &v));
	ck_assert_str_eq((char *)v.data, "Tue, 1 Jul 2003 10:52:37 +0200");
	ck_assert(!mf_header_received_date(U(h), MF_RECEIVED_OLDEST, &v));
	ck_assert(mf_header_received_date(U("Received: a; b;  Mon, 30 Jun 2003 "
					    "10:00:00 +0000\n"),
					  MF_RECEIVED_OLDEST, &v));
	ck_assert_str_eq((char *)v.data, "Mon, 30 Jun 2003 10:00:00 +0000");
	ck_assert(!mf_header_received_date(U("Subject: x\n"), MF_RECEIVED_NEWEST, &v));
	mf_buf_free(&v);

	int64_t e;
	int32_t tz;
	ck_assert(mf_header_date(U("Date: bogus\n"
				   "Received: x; Tue, 1 Jul 2003 "
				   "10:52:37 +0200\n\n"),
				 true, &e, &tz));
	ck_assert_int_eq(e, 1057049557);
	ck_assert(!mf_header_date(U("Date: bogus\n"
				    "Received: x; Tue, 1 Jul "
				    "2003 10:52:37 +0200\n\n"),
				  false, &e, &tz));
	ck_assert(mf_header_date(U("Date: Mon, 30 Jun 2003 10:00:00 +0000\n\n"), false, &e, &tz));
	ck_assert_int_eq(e, 1056967200);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(special_use_is_guessed_from_names)
{
	static const struct {
		const char *name;
		enum mf_special_use use;
	} t[] = {
		{ "INBOX", MF_SPECIAL_INBOX },
		{ "inbox", MF_SPECIAL_INBOX },
		{ "Sent", MF_SPECIAL_SENT },
		{ "SENT ITEMS", MF_SPECIAL_SENT },
		{ "Sent Messages", MF_SPECIAL_SENT },
		{ "已发送", MF_SPECIAL_SENT },
		{ "Drafts", MF_SPECIAL_DRAFTS },
		{ "草稿箱", MF_SPECIAL_DRAFTS },
		{ "Trash", MF_SPECIAL_TRASH },
		{ "Deleted Items", MF_SPECIAL_TRASH },
		{ "deleted messages", MF_SPECIAL_TRASH },
		{ "已删除", MF_SPECIAL_TRASH },
		{ "Junk", MF_SPECIAL_JUNK },
		{ "Junk Email", MF_SPECIAL_JUNK },
		{ "Junk E-mail", MF_SPECIAL_JUNK },
		{ "spam", MF_SPECIAL_JUNK },
		{ "垃圾邮件", MF_SPECIAL_JUNK },
		{ "Archive", MF_SPECIAL_ARCHIVE },
		{ " Archive ", MF_SPECIAL_ARCHIVE },
		{ "Sentinel", MF_SPECIAL_NONE },
		{ "Projects", MF_SPECIAL_NONE },
		{ "", MF_SPECIAL_NONE },
		{ "Sent/Old", MF_SPECIAL_NONE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(mf_guess_special_use(t[i].name) == t[i].use, "\"%s\"", t[i].name);
	ck_assert_int_eq(mf_guess_special_use(NULL), MF_SPECIAL_NONE);
	ck_assert_str_eq(mf_folder_leaf("A/B/Sent Items"), "Sent Items");
	ck_assert_str_eq(mf_folder_leaf("Trash"), "Trash");
	ck_assert_int_eq(mf_guess_special_use(mf_folder_leaf("Old/Deleted Items")),
			 MF_SPECIAL_TRASH);
}
END_TEST

static Suite *date_suite(void)
{
	Suite *s = suite_create("date");
	TCase *tc = tcase_create("rfc5322");
	tcase_add_loop_test(tc, rfc5322_dates_parse_per_table, 0,
			    sizeof(rfc_cases) / sizeof(rfc_cases[0]));
	tcase_add_test(tc, date_with_nul_byte_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("asctime");
	tcase_add_loop_test(tc, asctime_dates_parse_per_table, 0,
			    sizeof(asctime_cases) / sizeof(asctime_cases[0]));
	tcase_add_loop_test(tc, from_line_dates_parse_per_table, 0,
			    sizeof(from_cases) / sizeof(from_cases[0]));
	tcase_add_test(tc, hostile_from_line_costs_linear_time);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_test(tc, dates_format_in_imap_and_rfc5322_form);
	tcase_add_test(tc, formatted_dates_parse_back);
	suite_add_tcase(s, tc);
	tc = tcase_create("header");
	tcase_add_test(tc, header_fields_unfold_crlf_and_lf);
	tcase_add_test(tc, header_lookup_stops_at_empty_line);
	tcase_add_test(tc, header_values_keep_nul_bytes);
	tcase_add_test(tc, received_date_picks_newest_or_oldest);
	suite_add_tcase(s, tc);
	tc = tcase_create("folder");
	tcase_add_test(tc, special_use_is_guessed_from_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(date_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
