/* SPDX-License-Identifier: MIT */
/* Check suite for mbox parsing in the "mbox" plugin, driven through the
 * real source ops table (open, list_folders, fetch, close) against files
 * written at run time: separators and "From " in bodies, mboxrd/mboxo
 * unescaping, CRLF, missing final newline, NUL bytes, 8-bit headers,
 * flags/keywords/dates from headers, empty, truncated and non-mbox files,
 * resuming with have(), cancellation, a generated multi-megabyte message
 * checked against an independent line-by-line unescaper, and 64-bit
 * offsets past 4 GB in a sparse file (scanned from a seek, see
 * sparse_offsets_beyond_4gb). */
#include <config.h>
#include "check_mbox_util.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F1 "From alice@example.com Thu Nov 26 12:00:00 2026\n"
#define B1                                                              \
	"Status: RO\nX-Status: AF\nSubject: one\n\nHello\n"             \
	"From the start, not a separator\n>From quoted\n>>From twice\n" \
	">>>From thrice\n>Frog\n>From\n"
#define B1_RD                                                         \
	"Status: RO\nX-Status: AF\nSubject: one\n\nHello\n"           \
	"From the start, not a separator\nFrom quoted\n>From twice\n" \
	">>From thrice\n>Frog\n>From\n"
#define B1_O                                                           \
	"Status: RO\nX-Status: AF\nSubject: one\n\nHello\n"            \
	"From the start, not a separator\nFrom quoted\n>>From twice\n" \
	">>>From thrice\n>Frog\n>From\n"
#define F2 "From - Sat Jan  3 01:05:34 2015\n"
#define B2                                                                 \
	"Subject: two\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\nbody two\n" \
	"\nFrom here on no date\n"
#define F3 "From bob Sat Jan 03 01:05:34 +0000 2015\n"
#define B3 "Status: O\nSubject: three\n\nlast\n"
#define BASIC F1 B1 "\n" F2 B2 "\n" F3 B3 "\n"

static char *dir;

static void setup(void)
{
	dir = t_tmpdir();
	test_cancel = false;
}

static void teardown(void)
{
	t_rm_rf(dir);
	free(dir);
}

/* Open path as mbox (options may be NULL) and fetch INBOX. */
static int fetch_file(const char *path, const char *const *opts, struct got *g,
		      struct mf_error *err)
{
	int rc;
	struct mf_source *src = t_open("mbox", path, opts, &rc, err);
	ck_assert_msg(src != NULL, "open: %s", err->text);
	rc = t_fetch(src, "INBOX", g, err);
	t_close(src);
	return rc;
}

static char *id_of(size_t off)
{
	static char buf[4][24];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 24, "%zu", off);
	return b;
}

START_TEST(messages_split_at_dated_from_lines_after_blank_line)
{
	char *p = T_WRITE_STR(dir, "basic.mbox", BASIC);
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0].id, "0");
	ck_assert_str_eq(g.v[1].id, id_of(strlen(F1 B1 "\n")));
	ck_assert_str_eq(g.v[2].id, id_of(strlen(F1 B1 "\n" F2 B2 "\n")));
	ck_assert(T_BODY(&g.v[0], B1_RD));
	ck_assert(T_BODY(&g.v[1], B2));
	ck_assert(T_BODY(&g.v[2], B3));
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN | MF_FLAG_ANSWERED | MF_FLAG_FLAGGED);
	ck_assert_uint_eq(g.v[1].flags, 0);
	ck_assert_uint_eq(g.v[2].flags, 0); /* O = old, not seen */
	ck_assert_int_eq(g.v[0].date, 1795694400);
	ck_assert_int_eq(g.v[1].date, 1420247134); /* From_ line beats Date: */
	ck_assert_int_eq(g.v[2].date, 1420247134);
	got_free(&g);
	free(p);
}
END_TEST

START_TEST(mboxo_unescapes_only_one_level)
{
	static const char *const opts[] = { "format=mboxo", NULL };
	char *p = T_WRITE_STR(dir, "o.mbox", BASIC);
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, opts, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert(T_BODY(&g.v[0], B1_O));
	got_free(&g);
	free(p);
}
END_TEST

/* "\n" → "\r\n" in s[0..len). */
static char *to_crlf(const char *s, size_t len, size_t *out_len)
{
	char *o = malloc(2 * len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			o[n++] = '\r';
		o[n++] = s[i];
	}
	*out_len = n;
	return o;
}

START_TEST(crlf_files_keep_crlf_and_drop_the_blank_line)
{
	size_t len, l1, l2, l3, lf1, lb1;
	char *f = to_crlf(BASIC, strlen(BASIC), &len);
	char *e1 = to_crlf(B1_RD, strlen(B1_RD), &l1);
	char *e2 = to_crlf(B2, strlen(B2), &l2);
	char *e3 = to_crlf(B3, strlen(B3), &l3);
	free(to_crlf(F1, strlen(F1), &lf1));
	free(to_crlf(B1 "\n", strlen(B1 "\n"), &lb1));
	char *p = t_write(dir, "crlf.mbox", f, len);
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert(t_body_is(&g.v[0], e1, l1));
	ck_assert(t_body_is(&g.v[1], e2, l2));
	ck_assert(t_body_is(&g.v[2], e3, l3));
	ck_assert_str_eq(g.v[1].id, id_of(lf1 + lb1));
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN | MF_FLAG_ANSWERED | MF_FLAG_FLAGGED);
	ck_assert_int_eq(g.v[1].date, 1420247134);
	got_free(&g);
	free(f), free(e1), free(e2), free(e3), free(p);
}
END_TEST

START_TEST(missing_final_newline_and_truncation_keep_what_is_there)
{
	static const struct {
		const char *file, *want;
	} t[] = {
		{ F1 "Subject: x\n\nno newline at end", "Subject: x\n\nno newline at end" },
		{ F1 "Subject: x\n\nline\n>>Fro", "Subject: x\n\nline\n>>Fro" },
		{ F1 "Subject: x\n\nline\n>>From", "Subject: x\n\nline\n>>From" },
		{ F1 "Subject: x\n\nline\n>>From ", "Subject: x\n\nline\n>From " },
		{ F1 "Subject: x\n\nline\n\n", "Subject: x\n\nline\n" },
		{ F1 "Subject: x\n\nline\n", "Subject: x\n\nline\n" },
		{ F1 "Subj", "Subj" },
		{ F1, "" },
		{ "From x Thu Nov 26 12:00:00 2026", "" },
		{ F1 "\n" F2 "S: 2\n\nx\n", "" }, /* empty message, then one */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%zu.mbox", i);
		char *p = t_write(dir, name, t[i].file, strlen(t[i].file));
		struct got g = { 0 };
		struct mf_error err;
		ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
		ck_assert_msg(g.n >= 1, "case %zu", i);
		ck_assert_msg(t_body_is(&g.v[0], t[i].want, strlen(t[i].want)), "case %zu", i);
		got_free(&g);
		free(p);
	}
}
END_TEST

START_TEST(nul_bytes_and_8bit_headers_pass_through)
{
	static const char f[] = F1 "Subject: n\0ul \xe4\xb8\xad caf\xe9\n"
				   "Status: R\n\nbin\0ary\0\n\n" F2 "S: 2\n\n\0\n";
	char *p = t_write(dir, "nul.mbox", f, sizeof(f) - 1);
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 2);
	static const char w1[] = "Subject: n\0ul \xe4\xb8\xad caf\xe9\nStatus: R\n"
				 "\nbin\0ary\0\n";
	ck_assert(t_body_is(&g.v[0], w1, sizeof(w1) - 1));
	ck_assert(t_body_is(&g.v[1], "S: 2\n\n\0\n", 8));
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	got_free(&g);
	free(p);
}
END_TEST

START_TEST(dates_fall_back_to_date_header_then_unknown)
{
	char *p = T_WRITE_STR(dir, "d.mbox",
			      "From someone\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\nx\n\n" F2
			      "Date: garbage\n\ny\n");
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_int_eq(g.v[0].date, 1057049557);
	ck_assert_int_eq(g.v[0].tz, 120);
	ck_assert_int_eq(g.v[1].date, 1420247134);
	got_free(&g);
	free(p);
	p = T_WRITE_STR(dir, "e.mbox", "From someone\nSubject: no date\n\nx\n");
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert(g.v[0].date == MF_DATE_UNKNOWN);
	got_free(&g);
	free(p);
}
END_TEST

START_TEST(keywords_and_thunderbird_status_are_read)
{
	char *p = T_WRITE_STR(dir, "k.mbox",
			      F1 "X-Keywords: $Label1 work,urgent\nX-Mozilla-Keys: work bad(kw\n"
				 "\nx\n\n" F2
				 "X-Mozilla-Status: 1003\nX-Mozilla-Status2: 0\n\ny\n\n" F3
				 "Status: R\nX-Mozilla-Status: 0004\n\nz\n");
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0].keywords, "$Label1 work urgent");
	ck_assert_uint_eq(g.v[1].flags, MF_FLAG_SEEN | MF_FLAG_ANSWERED | MF_FLAG_FORWARDED);
	ck_assert_str_eq(g.v[1].keywords, "");
	ck_assert_uint_eq(g.v[2].flags, MF_FLAG_SEEN); /* Status: wins */
	got_free(&g);
	free(p);
}
END_TEST

START_TEST(empty_file_is_an_empty_inbox)
{
	char *p = t_write(dir, "empty.mbox", "", 0);
	struct got g = { 0 };
	struct mf_error err;
	int rc;
	struct mf_source *src = t_open("mbox", p, NULL, &rc, &err);
	ck_assert_ptr_nonnull(src);
	char *l = t_list(src, &rc, &err);
	ck_assert_int_eq(rc, MF_OK);
	ck_assert_str_eq(l, "INBOX[i]");
	ck_assert_int_eq(t_fetch(src, "INBOX", &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 0);
	t_close(src);
	free(l);
	free(p);
}
END_TEST

START_TEST(file_not_starting_with_from_is_a_folder_error)
{
	char *p = T_WRITE_STR(dir, "notes.txt", "Hello\n" F1 "x\n");
	struct got g = { 0 };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_ERR_FOLDER);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_int_eq(err.status, MF_ERR_FOLDER);
	ck_assert_ptr_nonnull(strstr(err.text, p));
	ck_assert_ptr_nonnull(strstr(err.text, "From "));
	free(p);
}
END_TEST

START_TEST(handled_messages_are_skipped_and_callback_status_returned)
{
	char *p = T_WRITE_STR(dir, "basic.mbox", BASIC);
	const char *have[] = { id_of(strlen(F1 B1 "\n")), NULL };
	struct got g = { .have = have };
	struct mf_error err;
	ck_assert_int_eq(fetch_file(p, NULL, &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.v[0].id, "0");
	ck_assert(T_BODY(&g.v[1], B3));
	got_free(&g);

	struct got g2 = { .stop_with = MF_ERR_ACCOUNT };
	ck_assert_int_eq(fetch_file(p, NULL, &g2, &err), MF_ERR_ACCOUNT);
	ck_assert_uint_eq(g2.n, 1);
	got_free(&g2);

	/* A message the core does not read at all, then one it reads. */
	struct got g3 = { .skip_read = true };
	ck_assert_int_eq(fetch_file(p, NULL, &g3, &err), MF_OK);
	ck_assert_uint_eq(g3.n, 3);
	got_free(&g3);

	test_cancel = true;
	struct got g4 = { 0 };
	ck_assert_int_eq(fetch_file(p, NULL, &g4, &err), MF_ERR_CANCELED);
	ck_assert_uint_eq(g4.n, 0);
	free(p);
}
END_TEST

START_TEST(open_checks_path_and_options)
{
	struct mf_error err;
	int rc;
	char *missing = mf_xasprintf("%s/nope.mbox", dir);
	ck_assert_ptr_null(t_open("mbox", missing, NULL, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, missing));
	char *p = T_WRITE_STR(dir, "a.mbox", BASIC);
	static const char *const bad[] = { "format=mboxcl2", NULL };
	ck_assert_ptr_null(t_open("mbox", p, bad, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	ck_assert_ptr_null(t_open("mbox", "", NULL, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	ck_assert_ptr_null(t_open("maildir", p, NULL, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_ACCOUNT);
	ck_assert_ptr_null(t_open("imap", p, NULL, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	struct mf_source *src = t_open("mbox", p, NULL, &rc, &err);
	struct got g = { 0 };
	ck_assert_int_eq(t_fetch(src, "Nope", &g, &err), MF_ERR_FOLDER);
	ck_assert_ptr_nonnull(strstr(err.text, "Nope"));
	t_close(src);
	free(missing);
	free(p);
}
END_TEST

/* Independent reference: unescape line by line with string operations. */
static void ref_unescape(const char *in, size_t len, bool mboxo, struct mf_buf *out)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - (in + i)) + 1 : len - i;
		const char *l = in + i;
		size_t g = 0;
		while (g < ll && l[g] == '>')
			g++;
		bool quoted = g >= 1 && ll - g >= 5 && memcmp(l + g, "From ", 5) == 0 &&
			      (!mboxo || g == 1);
		mf_buf_append(out, l + quoted, ll - quoted);
		i += ll;
	}
}

START_TEST(generated_large_message_matches_reference_unescaper)
{
	static const char *const pieces[] = { "From x", ">From x", ">>From y", ">>>>>>>>>>From z",
					      ">Frob",  ">",       "",         "text",
					      "Fro",    ">From",   "From",     ">>From\t",
					      "\r",     ">\r" };
	struct mf_buf body = { 0 }, file = { 0 };
	unsigned seed = 12345;
	mf_buf_append_str(&body, "Subject: big\n\n");
	for (int i = 0; i < 30000; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned k = (seed >> 16) % 16;
		if (k < 14) {
			mf_buf_append_str(&body, pieces[k]);
		} else { /* long filler lines, some over the 64 KiB buffer */
			size_t n = (seed >> 8) % (k == 15 && i % 500 == 0 ? 200000 : 300);
			for (size_t j = 0; j < n; j++)
				mf_buf_append(&body, "abcdefgh" + j % 8, 1);
		}
		mf_buf_append(&body, "\n", 1);
	}
	mf_buf_append_str(&file, F1);
	mf_buf_append(&file, body.data, body.len);
	mf_buf_append_str(&file, "\n" F2 "S: 2\n\nend\n");
	char *p = t_write(dir, "big.mbox", file.data, file.len);
	for (int o = 0; o < 2; o++) {
		static const char *const opts[] = { "format=mboxo", NULL };
		struct mf_buf want = { 0 };
		ref_unescape((char *)body.data, body.len, o == 1, &want);
		struct got g = { 0 };
		struct mf_error err;
		ck_assert_int_eq(fetch_file(p, o ? opts : NULL, &g, &err), MF_OK);
		ck_assert_uint_eq(g.n, 2);
		ck_assert_uint_eq(g.v[0].size, want.len);
		ck_assert(t_body_is(&g.v[0], (char *)want.data, want.len));
		ck_assert(T_BODY(&g.v[1], "S: 2\n\nend\n"));
		ck_assert_str_eq(g.v[1].id, id_of(strlen(F1) + body.len + 1));
		got_free(&g);
		mf_buf_free(&want);
	}
	mf_buf_free(&body);
	mf_buf_free(&file);
	free(p);
}
END_TEST

/* A real >4 GB scan reads the hole at ~0.5 GB/s here (10 s), too slow
 * for a unit test; instead the scanner starts at a seek past 4 GB and
 * everything downstream (ids, pread offsets, sizes) must stay 64-bit. */
START_TEST(sparse_offsets_beyond_4gb)
{
	const uint64_t off = 4831838208ull + 7; /* 4.5 GiB + 7 */
	static const char tail[] = F1 "Subject: far\n\n>From away\n\n" F2 "S: 2\n\nx\n";
	char *p = mf_xasprintf("%s/sparse.mbox", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	if (ftruncate(fd, (off_t)off) != 0) {
		close(fd);
		free(p);
		return; /* file system without large/sparse files */
	}
	ck_assert_int_eq(pwrite(fd, tail, sizeof(tail) - 1, (off_t)off),
			 (ssize_t)(sizeof(tail) - 1));
	close(fd);

	struct mbox_reader r;
	struct mbox_msg m = { 0 };
	struct mf_error err;
	bool got;
	ck_assert_int_eq(mbox_reader_open(&r, p, off, false, &err), MF_OK);
	ck_assert_int_eq(mbox_reader_next(&r, &m, &got, &err), MF_OK);
	ck_assert(got);
	ck_assert_uint_eq(m.from_off, off);
	ck_assert_uint_eq(m.body_off, off + strlen(F1));
	ck_assert_uint_eq(m.size, strlen("Subject: far\n\nFrom away\n"));
	struct mbox_stream *st = malloc(sizeof(*st));
	mbox_stream_init(st, r.fd, p, &m, false);
	unsigned char buf[256];
	size_t n, total = 0;
	do {
		ck_assert_int_eq(mbox_stream_read(st, buf + total, 5, &n, &err), MF_OK);
		total += n;
	} while (n > 0);
	ck_assert_uint_eq(total, m.size);
	ck_assert(memcmp(buf, "Subject: far\n\nFrom away\n", total) == 0);
	ck_assert_int_eq(mbox_reader_next(&r, &m, &got, &err), MF_OK);
	ck_assert(got);
	ck_assert_uint_eq(m.from_off, off + strlen(F1 "Subject: far\n\n>From away\n\n"));
	ck_assert_int_eq(mbox_reader_next(&r, &m, &got, &err), MF_OK);
	ck_assert(!got);
	free(st);
	mbox_msg_clear(&m);
	mbox_reader_close(&r);
	unlink(p);
	free(p);
}
END_TEST

static Suite *mbox_suite(void)
{
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, messages_split_at_dated_from_lines_after_blank_line);
	tcase_add_test(tc, mboxo_unescapes_only_one_level);
	tcase_add_test(tc, crlf_files_keep_crlf_and_drop_the_blank_line);
	tcase_add_test(tc, missing_final_newline_and_truncation_keep_what_is_there);
	tcase_add_test(tc, nul_bytes_and_8bit_headers_pass_through);
	tcase_add_test(tc, dates_fall_back_to_date_header_then_unknown);
	tcase_add_test(tc, keywords_and_thunderbird_status_are_read);
	tcase_add_test(tc, empty_file_is_an_empty_inbox);
	tcase_add_test(tc, file_not_starting_with_from_is_a_folder_error);
	tcase_add_test(tc, handled_messages_are_skipped_and_callback_status_returned);
	tcase_add_test(tc, open_checks_path_and_options);
	tcase_add_test(tc, generated_large_message_matches_reference_unescaper);
	tcase_add_test(tc, sparse_offsets_beyond_4gb);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mbox_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
