/* SPDX-License-Identifier: MIT */
/* Check suite for libmailferry's small helpers (include/mailferry/util.h):
 * fixed-width digits, and the CRLF-form digest that lets an LF-only
 * message match its copy on an IMAP server. */
#include <config.h>
#include <mailferry/util.h>

#include <check.h>
#include <string.h>

#include "check_main.h"

static void plain_digest(const char *s, unsigned char out[32])
{
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, s, strlen(s));
	mf_sha256_final(h, out);
	mf_sha256_free(&h);
}

/* s fed in chunks of chunk bytes through the CRLF form. */
static uint64_t crlf_digest(const char *s, size_t chunk, unsigned char out[32])
{
	struct mf_sha256 *h = mf_sha256_new();
	bool after_cr = false;
	uint64_t n = 0;
	for (size_t i = 0, len = strlen(s); i < len; i += chunk)
		n += mf_sha256_update_crlf(h, &after_cr, s + i, len - i < chunk ? len - i : chunk);
	mf_sha256_final(h, out);
	mf_sha256_free(&h);
	return n;
}

START_TEST(crlf_form_counts_bare_lf_as_crlf)
{
	static const struct {
		const char *in, *crlf;
	} cases[] = {
		{ "a\nb\n", "a\r\nb\r\n" },     { "a\r\nb\r\n", "a\r\nb\r\n" },
		{ "\n\n\r\n", "\r\n\r\n\r\n" }, { "mixed\r\nlf\nend", "mixed\r\nlf\r\nend" },
		{ "lone\rcr\r", "lone\rcr\r" }, { "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char want[32], got[32];
		plain_digest(cases[i].crlf, want);
		/* Every split point: a CR at the end of one chunk and the
		 * LF at the start of the next must not gain a second CR. */
		for (size_t chunk = 1; chunk <= 17; chunk++) {
			uint64_t n = crlf_digest(cases[i].in, chunk, got);
			ck_assert_msg(memcmp(got, want, 32) == 0, "case %zu chunk %zu", i, chunk);
			ck_assert_uint_eq(n, strlen(cases[i].crlf));
			/* The same form, as bytes. */
			struct mf_buf b = { 0 };
			bool after_cr = false;
			for (size_t k = 0, len = strlen(cases[i].in); k < len; k += chunk)
				mf_buf_append_crlf(&b, &after_cr, cases[i].in + k,
						   len - k < chunk ? len - k : chunk);
			ck_assert_uint_eq(b.len, strlen(cases[i].crlf));
			ck_assert(b.len == 0 || memcmp(b.data, cases[i].crlf, b.len) == 0);
			mf_buf_free(&b);
		}
	}
}
END_TEST

START_TEST(fixed_width_digits)
{
	int v = -1;
	ck_assert(mf_parse_digits("2024", 4, &v));
	ck_assert_int_eq(v, 2024);
	ck_assert(mf_parse_digits("07:", 2, &v));
	ck_assert_int_eq(v, 7);
	ck_assert(!mf_parse_digits("7", 2, &v)); /* stops at the NUL */
	ck_assert(!mf_parse_digits("1a", 2, &v));
	ck_assert(!mf_parse_digits("1234567890", 10, &v)); /* would not fit */
	ck_assert(mf_parse_digits("x", 0, &v));
	ck_assert_int_eq(v, 0);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	tcase_add_test(tc, crlf_form_counts_bare_lf_as_crlf);
	tcase_add_test(tc, fixed_width_digits);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(util_suite)
