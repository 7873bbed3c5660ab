/* SPDX-License-Identifier: MIT */
/* Check suite for the libmailferry helpers that core and plugins share
 * instead of keeping copies: base64 both ways (RFC 4648 vectors, base64url,
 * bad input, padding, line breaks, pieces), the SASL PLAIN and XOAUTH2
 * responses built on it, the message spool (memory and
 * temp file, replay, reset, offsets), Maildir info flag letters and the
 * dovecot-keywords reader (junk lines, duplicate and out-of-range indexes,
 * no final newline, CRs, a missing file). */
#include <config.h>
#include <mailferry/maildir.h>
#include <mailferry/spool.h>
#include <mailferry/util.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"

/* ------------------------------------------------------------------ */
/* base64                                                              */

START_TEST(base64_encodes_rfc4648_vectors)
{
	/* RFC 4648 §10 */
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *std[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"
	};
	static const char *url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char *b = mf_base64_encode(in[i], strlen(in[i]));
		ck_assert_str_eq(b, std[i]);
		free(b);
		b = mf_base64url_encode(in[i], strlen(in[i]));
		ck_assert_str_eq(b, url[i]);
		free(b);
	}
	char *b = mf_base64_encode("\0u\0p", 4);
	ck_assert_str_eq(b, "AHUAcA==");
	free(b);
	/* The two alphabets differ in 62 and 63 only. */
	static const unsigned char hi[] = { 0xfb, 0xff, 0xbf };
	b = mf_base64_encode(hi, 3);
	ck_assert_str_eq(b, "+/+/");
	free(b);
	b = mf_base64url_encode(hi, 3);
	ck_assert_str_eq(b, "-_-_");
	free(b);
}
END_TEST

static bool b64(const char *in, const char *expect)
{
	struct mf_buf b = { 0 };
	bool ok = mf_base64_decode(in, strlen(in), &b);
	if (ok && expect != NULL)
		ok = b.len == strlen(expect) && memcmp(b.data, expect, b.len) == 0;
	mf_buf_free(&b);
	return ok;
}

START_TEST(base64_lenient_whitespace_strict_alphabet)
{
	ck_assert(b64("SGVsbG8=", "Hello"));
	ck_assert(b64("SGVs\r\n bG8=\n", "Hello"));
	ck_assert(b64("SGVsbG8", "Hello")); /* unpadded */
	ck_assert(b64("SGVsbA==", "Hell"));
	ck_assert(b64("", ""));
	ck_assert(b64(" \r\n\t", ""));          /* only line breaks */
	ck_assert(b64("SGVsbA=\r\n=", "Hell")); /* a break inside the padding */
	ck_assert(!b64("SGVsbG8*", NULL));
	ck_assert(!b64("SGVsbG8=A", NULL));          /* data after padding */
	ck_assert(!b64("SGVsbG8=\nSGVsbG8=", NULL)); /* two padded parts */
	ck_assert(!b64("SGVsb", NULL));              /* 1 leftover sextet */
	ck_assert(!b64("SGVsbG===", NULL));
	ck_assert(!b64("SGVsbA=", NULL)); /* padding short of the quantum */
	ck_assert(!b64("=", NULL));
	ck_assert(!b64("====", NULL));
	ck_assert(!b64("Zm9v-_", NULL)); /* base64url is not base64 */
	ck_assert(!b64("Zm9v\x80", NULL));
}
END_TEST

START_TEST(base64_decodes_in_any_pieces)
{
	/* 0..255 twice, encoded, with a line break every 76 characters as
	 * RFC 2045 writes it; fed in pieces of every size from 1 to 9. */
	unsigned char raw[512];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)i;
	char *enc = mf_base64_encode(raw, sizeof(raw));
	struct mf_buf text = { 0 };
	for (size_t i = 0, len = strlen(enc); i < len; i += 76) {
		mf_buf_append(&text, enc + i, len - i < 76 ? len - i : 76);
		mf_buf_append_str(&text, "\r\n");
	}
	free(enc);
	for (size_t piece = 1; piece <= 9; piece++) {
		struct mf_base64 d = { 0 };
		struct mf_buf out = { 0 };
		for (size_t i = 0; i < text.len; i += piece)
			mf_base64_feed(&d, text.data + i,
				       text.len - i < piece ? text.len - i : piece, &out);
		ck_assert(mf_base64_finish(&d, &out));
		ck_assert_uint_eq(out.len, sizeof(raw));
		ck_assert_mem_eq(out.data, raw, sizeof(raw));
		mf_buf_free(&out);
	}
	mf_buf_free(&text);
}
END_TEST

START_TEST(base64_roundtrips_every_length)
{
	unsigned char raw[70];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(raw); len++) {
		char *enc = mf_base64_encode(raw, len);
		ck_assert_uint_eq(strlen(enc), (len + 2) / 3 * 4);
		struct mf_buf out = { 0 };
		ck_assert(mf_base64_decode(enc, strlen(enc), &out));
		ck_assert_uint_eq(out.len, len);
		ck_assert(len == 0 || memcmp(out.data, raw, len) == 0);
		mf_buf_free(&out);
		free(enc);
	}
}
END_TEST

START_TEST(sasl_responses_are_the_documented_bytes)
{
	struct {
		char *b64;
		const char *want;
		size_t want_len;
	} c[] = {
		{ mf_sasl_plain(NULL, "tim", "tanstaaftanstaaf"), "\0tim\0tanstaaftanstaaf",
		  21 }, /* RFC 4616 §4 */
		{ mf_sasl_plain("Ursel", "Kurt", "xipj3plmq"), "Ursel\0Kurt\0xipj3plmq", 20 },
		{ mf_sasl_plain(NULL, "u", NULL), "\0u\0", 3 },
		{ mf_sasl_xoauth2("someuser@example.com",
				  "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
		  "user=someuser@example.com\001auth=Bearer "
		  "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001",
		  85 },
		{ mf_sasl_xoauth2("u", NULL), "user=u\001auth=Bearer \001\001", 21 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct mf_buf raw = { 0 };
		ck_assert(mf_base64_decode(c[i].b64, strlen(c[i].b64), &raw));
		ck_assert_uint_eq(raw.len, c[i].want_len);
		ck_assert_mem_eq(raw.data, c[i].want, c[i].want_len);
		mf_buf_free(&raw);
		free(c[i].b64);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* spool                                                               */

static void read_all(struct mf_spool *sp, struct mf_buf *out, size_t piece)
{
	unsigned char buf[4096];
	struct mf_error err;
	size_t n;
	ck_assert_uint_le(piece, sizeof(buf));
	do {
		ck_assert_int_eq(mf_spool_read(sp, buf, piece, &n, &err), MF_OK);
		mf_buf_append(out, buf, n);
	} while (n > 0);
}

START_TEST(spool_replays_from_memory_then_temp_file)
{
	unsigned char data[3000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + (i >> 8));
	for (int file = 0; file < 2; file++) {
		struct mf_spool sp;
		struct mf_error err;
		mf_spool_init(&sp, file ? 1000 : 1 << 20, "");
		ck_assert_str_eq(sp.tmpdir, "/tmp");
		for (size_t i = 0; i < sizeof(data); i += 300)
			ck_assert_int_eq(mf_spool_add(&sp, data + i, 300, &err), MF_OK);
		ck_assert_int_eq(mf_spool_add(&sp, data, 0, &err), MF_OK);
		ck_assert_uint_eq(sp.size, sizeof(data));
		ck_assert_int_eq(sp.fd >= 0, file);
		for (int pass = 0; pass < 2; pass++) {
			struct mf_buf got = { 0 };
			read_all(&sp, &got, pass ? 7 : 4096);
			ck_assert_uint_eq(got.len, sizeof(data));
			ck_assert_mem_eq(got.data, data, sizeof(data));
			mf_buf_free(&got);
			mf_spool_rewind(&sp);
		}
		/* pread from an offset leaves pos alone; past the end is 0. */
		unsigned char b[10];
		size_t n;
		ck_assert_int_eq(mf_spool_pread(&sp, 2995, b, sizeof(b), &n, &err), MF_OK);
		ck_assert_uint_eq(n, 5);
		ck_assert_mem_eq(b, data + 2995, 5);
		ck_assert_int_eq(mf_spool_pread(&sp, 5000, b, sizeof(b), &n, &err), MF_OK);
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(sp.pos, 0);
		/* The next body starts empty and in memory again. */
		mf_spool_reset(&sp);
		ck_assert_int_eq(sp.fd, -1);
		ck_assert_uint_eq(sp.size, 0);
		ck_assert_int_eq(mf_spool_add(&sp, "tiny", 4, &err), MF_OK);
		ck_assert_int_eq(sp.fd, -1);
		struct mf_message msg = { .source_id = "1",
					  .size = sp.size,
					  .read = mf_spool_message_read,
					  .read_ctx = &sp };
		char out[8] = "";
		ck_assert_int_eq(msg.read(&msg, (unsigned char *)out, sizeof(out) - 1, &n, &err),
				 MF_OK);
		ck_assert_str_eq(out, "tiny");
		ck_assert_int_eq(msg.read(&msg, (unsigned char *)out, sizeof(out) - 1, &n, &err),
				 MF_OK);
		ck_assert_uint_eq(n, 0);
		mf_spool_free(&sp);
		mf_spool_free(&sp); /* twice is fine */
	}
}
END_TEST

START_TEST(spool_without_temp_dir_is_fatal)
{
	struct mf_spool sp;
	struct mf_error err;
	mf_spool_init(&sp, 4, "/nonexistent/mailferry-test");
	ck_assert_int_eq(mf_spool_add(&sp, "abc", 3, &err), MF_OK);
	ck_assert_int_eq(mf_spool_add(&sp, "defg", 4, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/mailferry-test"));
	mf_spool_free(&sp);
}
END_TEST

START_TEST(spool_full_disk_is_an_account_error)
{
	if (access("/dev/full", W_OK) != 0)
		return;
	/* A spool whose temp file is /dev/full: every write is ENOSPC. */
	struct mf_spool sp;
	struct mf_error err;
	mf_spool_init(&sp, 0, NULL);
	ck_assert_int_eq(mf_spool_add(&sp, "x", 1, &err), MF_OK);
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	dup2(fd, sp.fd);
	close(fd);
	ck_assert_int_eq(mf_spool_add(&sp, "y", 1, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_int_eq(err.sys_errno, ENOSPC);
	ck_assert_uint_eq(sp.size, 1);
	mf_spool_free(&sp);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Maildir                                                             */

START_TEST(maildir_flag_letters_both_ways)
{
	const uint32_t all = MF_FLAG_SEEN | MF_FLAG_ANSWERED | MF_FLAG_FLAGGED | MF_FLAG_DELETED |
			     MF_FLAG_DRAFT | MF_FLAG_FORWARDED;
	char out[7];
	ck_assert_uint_eq(mf_maildir_flag_letters(all, out), 6);
	ck_assert_str_eq(out, "DFPRST");
	ck_assert_uint_eq(mf_maildir_flag_letters(0, out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(mf_maildir_flag_letters(MF_FLAG_SEEN | MF_FLAG_DRAFT, out), 2);
	ck_assert_str_eq(out, "DS");
	/* Every letter maps back onto its own bit. */
	uint32_t back = 0;
	for (const char *l = "DFPRST"; *l != '\0'; l++) {
		uint32_t f = mf_maildir_flag(*l);
		ck_assert_uint_ne(f, 0);
		ck_assert_uint_eq(back & f, 0);
		back |= f;
	}
	ck_assert_uint_eq(back, all);
	ck_assert_uint_eq(mf_maildir_flag('s'), 0); /* a keyword letter */
	ck_assert_uint_eq(mf_maildir_flag('X'), 0);
	ck_assert_uint_eq(mf_maildir_flag(','), 0);
	ck_assert_uint_eq(mf_maildir_flag('\0'), 0);
}
END_TEST

static void kw_parse(const char *text, char *names[MF_MAILDIR_KEYWORDS])
{
	memset(names, 0, MF_MAILDIR_KEYWORDS * sizeof(*names));
	mf_maildir_keywords_parse(text, strlen(text), names);
}

START_TEST(keywords_skip_junk_and_keep_the_last_line)
{
	char *kw[MF_MAILDIR_KEYWORDS];
	kw_parse("0 $Forwarded\n"
		 "junk\n"
		 "\n"
		 " 1 leading-space\n"
		 "1\n"
		 "1 \n"
		 "x1 NotANumber\n"
		 "2x Bad\n"
		 "3  two-spaces\n"
		 "4\tTab\n"
		 "25 Last\n"
		 "26 TooFar\n"
		 "99999999999999999999999 Overflow\n"
		 "5 $Label1\r\n"
		 "0 $Replaced\n"
		 "7 NoNewline",
		 kw);
	ck_assert_str_eq(kw[0], "$Replaced"); /* the later line wins */
	ck_assert_ptr_null(kw[1]);
	ck_assert_ptr_null(kw[2]);
	ck_assert_str_eq(kw[3], " two-spaces"); /* the rest of the line, as before */
	ck_assert_ptr_null(kw[4]);
	ck_assert_str_eq(kw[5], "$Label1");
	ck_assert_ptr_null(kw[6]);
	ck_assert_str_eq(kw[7], "NoNewline");
	ck_assert_str_eq(kw[25], "Last");
	for (size_t i = 8; i < 25; i++)
		ck_assert_ptr_null(kw[i]);
	mf_maildir_keywords_free(kw);
	for (size_t i = 0; i < MF_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw[i]);

	kw_parse("", kw);
	for (size_t i = 0; i < MF_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw[i]);
	kw_parse("\r\n\n\n", kw);
	for (size_t i = 0; i < MF_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw[i]);
	kw_parse("1 a\rb\n", kw); /* a name ends at a CR */
	ck_assert_str_eq(kw[1], "a");
	mf_maildir_keywords_free(kw);

	/* A NUL inside a line makes it junk rather than a cut name. */
	static const char nul[] = "2 ab\0cd\n3 ok\n";
	memset(kw, 0, sizeof(kw));
	mf_maildir_keywords_parse(nul, sizeof(nul) - 1, kw);
	ck_assert_ptr_null(kw[2]);
	ck_assert_str_eq(kw[3], "ok");
	mf_maildir_keywords_free(kw);
}
END_TEST

START_TEST(keywords_read_from_a_file)
{
	char dir[] = "/tmp/mf-check-kw.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	char *kw[MF_MAILDIR_KEYWORDS] = { NULL };
	kw[4] = strdup("stale"); /* read() replaces what was there */

	ck_assert(!mf_maildir_keywords_read(dfd, "dovecot-keywords", kw));
	for (size_t i = 0; i < MF_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw[i]);

	FILE *f =
		fdopen(openat(dfd, "dovecot-keywords", O_WRONLY | O_CREAT | O_CLOEXEC, 0600), "w");
	ck_assert_ptr_nonnull(f);
	fputs("0 $Junk\n1 Work\n1 Home\n30 Out\n", f);
	/* A long junk line across any read buffer, then a last line
	 * without its newline. */
	for (int i = 0; i < 10000; i++)
		fputs("xx", f);
	fputs("\n2 Last", f);
	fclose(f);
	ck_assert(mf_maildir_keywords_read(dfd, "dovecot-keywords", kw));
	ck_assert_str_eq(kw[0], "$Junk");
	ck_assert_str_eq(kw[1], "Home");
	ck_assert_str_eq(kw[2], "Last");
	for (size_t i = 3; i < MF_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw[i]);

	/* The same through a path, as the maildir source reads it. */
	char *path = mf_xasprintf("%s/dovecot-keywords", dir);
	ck_assert(mf_maildir_keywords_read(AT_FDCWD, path, kw));
	ck_assert_str_eq(kw[1], "Home");
	mf_maildir_keywords_free(kw);
	unlink(path);
	free(path);
	close(dfd);
	rmdir(dir);
}
END_TEST

static Suite *helpers_suite(void)
{
	Suite *s = suite_create("helpers");
	TCase *tc = tcase_create("base64");
	tcase_add_test(tc, base64_encodes_rfc4648_vectors);
	tcase_add_test(tc, base64_lenient_whitespace_strict_alphabet);
	tcase_add_test(tc, base64_decodes_in_any_pieces);
	tcase_add_test(tc, base64_roundtrips_every_length);
	tcase_add_test(tc, sasl_responses_are_the_documented_bytes);
	suite_add_tcase(s, tc);
	tc = tcase_create("spool");
	tcase_add_test(tc, spool_replays_from_memory_then_temp_file);
	tcase_add_test(tc, spool_without_temp_dir_is_fatal);
	tcase_add_test(tc, spool_full_disk_is_an_account_error);
	suite_add_tcase(s, tc);
	tc = tcase_create("maildir");
	tcase_add_test(tc, maildir_flag_letters_both_ways);
	tcase_add_test(tc, keywords_skip_junk_and_keep_the_last_line);
	tcase_add_test(tc, keywords_read_from_a_file);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(helpers_suite)
