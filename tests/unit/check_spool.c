/* SPDX-License-Identifier: MIT */
/* The spool: memory and temp-file modes replay exactly, digest is right,
 * a source lying about its size is caught. */
#include <config.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "spool.h"

struct src {
	const unsigned char *data;
	size_t len, pos, chunk;
};

static int src_read(const struct mf_message *m, unsigned char *buf, size_t cap, size_t *n_r,
		    struct mf_error *err)
{
	struct src *s = m->read_ctx;
	(void)err;
	size_t n = s->len - s->pos;
	if (n > cap)
		n = cap;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	*n_r = n;
	return MF_OK;
}

static void roundtrip(size_t len, size_t mem_limit)
{
	unsigned char *data = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	struct src s = { data, len, 0, 1000 };
	struct mf_message msg = { .source_id = "1", .size = len, .read = src_read, .read_ctx = &s };
	struct spool sp;
	struct mf_error err;
	spool_init(&sp, mem_limit, NULL);
	ck_assert_int_eq(spool_fill(&sp, &msg, false, NULL, "test", &err), MF_OK);
	ck_assert_int_eq(sp.store.fd >= 0, len > mem_limit);
	unsigned char want[32];
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, data, len);
	mf_sha256_final(h, want);
	mf_sha256_free(&h);
	ck_assert_mem_eq(sp.digest, want, 32);
	struct mf_message out;
	spool_message(&sp, &msg, &out);
	for (int pass = 0; pass < 2; pass++) {
		unsigned char *got = malloc(len + 1);
		size_t total = 0, n;
		do {
			ck_assert_int_eq(out.read(&out, got + total, 4096, &n, &err), MF_OK);
			total += n;
		} while (n > 0);
		ck_assert_uint_eq(total, len);
		ck_assert_int_eq(memcmp(got, data, len), 0);
		free(got);
		spool_rewind(&sp);
	}
	spool_free(&sp);
	free(data);
}

START_TEST(small_message_replays_from_memory)
{
	roundtrip(5000, 1 << 20);
}
END_TEST

START_TEST(large_message_replays_from_temp_file)
{
	roundtrip(3 << 20, 64 << 10);
}
END_TEST

START_TEST(short_source_is_a_message_error)
{
	unsigned char data[10] = "0123456789";
	struct src s = { data, 10, 0, 3 };
	struct mf_message msg = { .source_id = "9", .size = 11, .read = src_read, .read_ctx = &s };
	struct spool sp;
	struct mf_error err;
	spool_init(&sp, 1024, NULL);
	ck_assert_int_eq(spool_fill(&sp, &msg, false, NULL, "alice: INBOX: message 9", &err),
			 MF_ERR_MESSAGE);
	ck_assert_ptr_nonnull(strstr(err.text, "message 9"));
	msg.size = 5;
	s.pos = 0;
	ck_assert_int_eq(spool_fill(&sp, &msg, false, NULL, "x", &err), MF_ERR_MESSAGE);
	spool_free(&sp);
}
END_TEST

static int fail_read(const struct mf_message *m, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	struct src *s = m->read_ctx;
	if (s->pos >= 4)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "connection reset");
	return src_read(m, buf, cap, n_r, err);
}

START_TEST(a_failed_fill_does_not_taint_the_next_digest)
{
	unsigned char data[10] = "0123456789";
	struct src s = { data, 10, 0, 2 };
	struct mf_message msg = { .source_id = "1", .size = 10, .read = fail_read, .read_ctx = &s };
	struct spool sp;
	struct mf_error err;
	spool_init(&sp, 1024, NULL);
	ck_assert_int_eq(spool_fill(&sp, &msg, false, NULL, "x", &err), MF_ERR_ACCOUNT);
	s.pos = 0;
	msg.read = src_read;
	ck_assert_int_eq(spool_fill(&sp, &msg, false, NULL, "x", &err), MF_OK);
	unsigned char want[32];
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, data, 10);
	mf_sha256_final(h, want);
	mf_sha256_free(&h);
	ck_assert_mem_eq(sp.digest, want, 32);
	spool_free(&sp);
}
END_TEST

/* For a sink that wants CRLF: bare LFs (also one whose CR ended the
 * previous chunk) gain a CR, the size counts them, the digest stays that
 * of the source bytes; in memory and in the temp file alike. */
START_TEST(crlf_sink_gets_bare_lf_as_crlf)
{
	const char *in = "a\nb\r\n\nc\rd\r\ne\n\r";
	const char *want = "a\r\nb\r\n\r\nc\rd\r\ne\r\n\r";
	for (size_t chunk = 1; chunk <= 4; chunk++) {
		for (int mem = 0; mem < 2; mem++) {
			struct src s = { (const unsigned char *)in, strlen(in), 0, chunk };
			struct mf_message msg = { .source_id = "1",
						  .size = strlen(in),
						  .read = src_read,
						  .read_ctx = &s };
			struct spool sp;
			struct mf_error err;
			spool_init(&sp, mem ? 1024 : 3, NULL);
			ck_assert_int_eq(spool_fill(&sp, &msg, true, NULL, "x", &err), MF_OK);
			ck_assert_uint_eq(sp.store.size, strlen(want));
			unsigned char d[32];
			struct mf_sha256 *h = mf_sha256_new();
			mf_sha256_update(h, in, strlen(in));
			mf_sha256_final(h, d);
			mf_sha256_free(&h);
			ck_assert_mem_eq(sp.digest, d, 32);
			struct mf_message out;
			spool_message(&sp, &msg, &out);
			ck_assert_uint_eq(out.size, strlen(want));
			char got[64] = "";
			size_t total = 0, n;
			do {
				ck_assert_int_eq(out.read(&out, (unsigned char *)got + total,
							  sizeof(got) - 1 - total, &n, &err),
						 MF_OK);
				total += n;
			} while (n > 0);
			ck_assert_str_eq(got, want);
			spool_free(&sp);
		}
	}
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");
	tcase_add_test(tc, small_message_replays_from_memory);
	tcase_add_test(tc, large_message_replays_from_temp_file);
	tcase_add_test(tc, short_source_is_a_message_error);
	tcase_add_test(tc, a_failed_fill_does_not_taint_the_next_digest);
	tcase_add_test(tc, crlf_sink_gets_bare_lf_as_crlf);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(spool_suite)
