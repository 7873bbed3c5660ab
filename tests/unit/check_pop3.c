/* SPDX-License-Identifier: MIT */
/* Check suite for the POP3 reply parser of plugins/pop3 (pop3_parse.c)
 * and its spool: status lines, the RFC 1939 §3 multi-line decoder fed in
 * every possible chunking (CRLF and ".CRLF" split across reads), the
 * reader keeping pipelined bytes for the next reply, -ERR and EOF, UIDL
 * lines with odd ids, LIST/STAT/CAPA, APOP timestamps and the
 * internal-date pick.  Linked against the plugin's convenience library. */
#include <config.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "pop3_p.h"

/* A fill() over a memory buffer, handing out at most chunk bytes a time. */
struct mem_src {
	const unsigned char *data;
	size_t len, pos, chunk;
};

static int mem_fill(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err)
{
	struct mem_src *m = ctx;
	size_t n = m->len - m->pos;
	if (n == 0)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "EOF");
	if (n > m->chunk)
		n = m->chunk;
	if (n > cap)
		n = cap;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*n_r = n;
	return MF_OK;
}

/* Decode a whole multi-line body from in with the given chunking; returns
 * the status, the decoded bytes in out, the first line after it in next. */
static int decode_all(const char *in, size_t len, size_t chunk, size_t cap, struct mf_buf *out,
		      struct mf_buf *next)
{
	struct mem_src m = { (const unsigned char *)in, len, 0, chunk };
	struct pop3_rd *rd = malloc(sizeof(*rd));
	struct pop3_ml ml;
	struct mf_error err;
	unsigned char *buf = malloc(cap);
	bool done = false;
	int st = MF_OK;
	pop3_rd_init(rd, mem_fill, &m, "test");
	pop3_ml_init(&ml);
	mf_buf_clear(out);
	while (st == MF_OK && !done) {
		size_t n;
		st = pop3_rd_body(rd, &ml, buf, cap, &n, &done, &err);
		ck_assert_uint_le(n, cap);
		if (st == MF_OK)
			mf_buf_append(out, buf, n);
	}
	if (st == MF_OK) {
		ck_assert_uint_eq(ml.out_bytes, out->len);
		if (next != NULL)
			st = pop3_rd_line(rd, next, 100, &err);
	}
	free(buf);
	free(rd);
	return st;
}

static void check_decodes(const char *in, size_t inlen, const char *want, size_t wantlen)
{
	struct mf_buf out = { 0 }, next = { 0 };
	/* After the terminator comes a pipelined reply it must not eat. */
	struct mf_buf wire = { 0 };
	mf_buf_append(&wire, in, inlen);
	mf_buf_append_str(&wire, "+OK next\r\n");
	for (size_t chunk = 1; chunk <= wire.len; chunk++) {
		for (size_t cap = 2; cap <= 9; cap += 7) {
			ck_assert_int_eq(decode_all((const char *)wire.data, wire.len, chunk, cap,
						    &out, &next),
					 MF_OK);
			ck_assert_uint_eq(out.len, wantlen);
			ck_assert(memcmp(out.data, want, wantlen) == 0);
			ck_assert_str_eq((const char *)next.data, "+OK next");
		}
	}
	mf_buf_free(&out);
	mf_buf_free(&next);
	mf_buf_free(&wire);
}

#define DEC(in, want) check_decodes(in, sizeof(in) - 1, want, sizeof(want) - 1)

START_TEST(multiline_keeps_crlf_and_unstuffs_dots)
{
	DEC("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n");
	DEC("a\r\n..\r\n.\r\n", "a\r\n.\r\n");
	DEC("..leading\r\n...two\r\n.\r\n", ".leading\r\n..two\r\n");
	DEC("x\r\n. space\r\n.\r\n", "x\r\n space\r\n");
	DEC(".\r\n", "");
	DEC("mid.dot\r\nend.\r\n.\r\n", "mid.dot\r\nend.\r\n");
}
END_TEST

START_TEST(multiline_odd_bytes_survive)
{
	DEC("nul \0 byte\r\nbare\rcr\r\n.\r\n", "nul \0 byte\r\nbare\rcr\r\n");
	/* ".\r" not followed by LF: a stuffed dot before a bare CR. */
	DEC("a\r\n.\rX\r\n.\r\n", "a\r\n\rX\r\n");
	DEC("a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n");
	/* LF-only servers: ".\n" ends it too, LF lines are kept. */
	DEC("lf\nonly\n..x\n.\n", "lf\nonly\n.x\n");
	DEC("\r\n\r\n.\r\n", "\r\n\r\n");
}
END_TEST

START_TEST(multiline_eof_is_an_error)
{
	struct mf_buf out = { 0 };
	static const char *cut[] = { "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc", "" };
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		ck_assert_int_eq(decode_all(cut[i], strlen(cut[i]), 3, 16, &out, NULL),
				 MF_ERR_ACCOUNT);
	mf_buf_free(&out);
}
END_TEST

START_TEST(decoder_output_bound)
{
	/* Output never exceeds input + 1 (pop3_p.h's promise). */
	struct pop3_ml ml;
	unsigned char out[8];
	size_t n, used;
	pop3_ml_init(&ml);
	used = pop3_ml_decode(&ml, (const unsigned char *)".\r", 2, out, &n);
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(n, 0);
	used = pop3_ml_decode(&ml, (const unsigned char *)"Y", 1, out, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(out, "\rY", 2) == 0);
	used = pop3_ml_decode(&ml, (const unsigned char *)"\r\n.\r\nZZ", 7, out, &n);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(ml.state, POP3_ML_DONE);
}
END_TEST

START_TEST(lines_split_anywhere)
{
	static const char wire[] = "+OK a\r\n-ERR b c\r\nlf only\n\r\nlast\r\n";
	static const char *want[] = { "+OK a", "-ERR b c", "lf only", "", "last" };
	for (size_t chunk = 1; chunk < sizeof(wire); chunk++) {
		struct mem_src m = { (const unsigned char *)wire, sizeof(wire) - 1, 0, chunk };
		struct pop3_rd *rd = malloc(sizeof(*rd));
		struct mf_buf line = { 0 };
		struct mf_error err;
		pop3_rd_init(rd, mem_fill, &m, "t");
		for (size_t i = 0; i < 5; i++) {
			ck_assert_int_eq(pop3_rd_line(rd, &line, 64, &err), MF_OK);
			ck_assert_str_eq((const char *)line.data, want[i]);
		}
		ck_assert_int_eq(pop3_rd_line(rd, &line, 64, &err), MF_ERR_ACCOUNT);
		mf_buf_free(&line);
		free(rd);
	}
}
END_TEST

START_TEST(overlong_line_refused)
{
	char wire[300];
	memset(wire, 'x', sizeof(wire));
	wire[298] = '\r';
	wire[299] = '\n';
	struct mem_src m = { (const unsigned char *)wire, sizeof(wire), 0, 7 };
	struct pop3_rd *rd = malloc(sizeof(*rd));
	struct mf_buf line = { 0 };
	struct mf_error err;
	pop3_rd_init(rd, mem_fill, &m, "pop3: a@b");
	ck_assert_int_eq(pop3_rd_line(rd, &line, 100, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, "pop3: a@b"));
	ck_assert_int_eq(err.retry, MF_RETRY_NEVER);
	/* exactly max is fine */
	m.pos = 0;
	pop3_rd_init(rd, mem_fill, &m, "t");
	ck_assert_int_eq(pop3_rd_line(rd, &line, 298, &err), MF_OK);
	ck_assert_uint_eq(line.len, 298);
	mf_buf_free(&line);
	free(rd);
}
END_TEST

START_TEST(status_lines)
{
	const char *t;
	ck_assert_int_eq(pop3_parse_status("+OK 2 320", &t), POP3_REPLY_OK);
	ck_assert_str_eq(t, "2 320");
	ck_assert_int_eq(pop3_parse_status("+OK", &t), POP3_REPLY_OK);
	ck_assert_str_eq(t, "");
	ck_assert_int_eq(pop3_parse_status("+ok fine", &t), POP3_REPLY_OK);
	ck_assert_int_eq(pop3_parse_status("-ERR [AUTH] Authentication failed.", &t),
			 POP3_REPLY_ERR);
	ck_assert_str_eq(t, "[AUTH] Authentication failed.");
	ck_assert_int_eq(pop3_parse_status("-ERR", &t), POP3_REPLY_ERR);
	ck_assert_int_eq(pop3_parse_status("+ ", &t), POP3_REPLY_CONT);
	ck_assert_str_eq(t, "");
	ck_assert_int_eq(pop3_parse_status("+ PDEyMz4=", &t), POP3_REPLY_CONT);
	ck_assert_str_eq(t, "PDEyMz4=");
	ck_assert_int_eq(pop3_parse_status("+", &t), POP3_REPLY_CONT);
	ck_assert_int_eq(pop3_parse_status("+OKAY", &t), POP3_REPLY_BAD);
	ck_assert_int_eq(pop3_parse_status("-ERROR x", &t), POP3_REPLY_BAD);
	ck_assert_int_eq(pop3_parse_status("", &t), POP3_REPLY_BAD);
	ck_assert_int_eq(pop3_parse_status("* OK imap", &t), POP3_REPLY_BAD);
	ck_assert(pop3_err_is_temporary("[IN-USE] locked"));
	ck_assert(pop3_err_is_temporary("[SYS/TEMP] later"));
	ck_assert(!pop3_err_is_temporary("[AUTH] bad"));
	ck_assert(!pop3_err_is_temporary("bad password"));
}
END_TEST

START_TEST(listing_lines)
{
	struct mf_buf l = { 0 };
	mf_buf_append_str(&l, "..hidden");
	ck_assert(!pop3_ml_line(&l));
	ck_assert_str_eq((const char *)l.data, ".hidden");
	ck_assert_uint_eq(l.len, 7);
	mf_buf_clear(&l);
	mf_buf_append_str(&l, ".");
	ck_assert(pop3_ml_line(&l));
	mf_buf_clear(&l);
	mf_buf_append_str(&l, "1 2");
	ck_assert(!pop3_ml_line(&l));
	ck_assert_str_eq((const char *)l.data, "1 2");
	mf_buf_free(&l);

	uint64_t a, b;
	ck_assert(pop3_parse_stat("2 320", &a, &b));
	ck_assert_uint_eq(a, 2);
	ck_assert_uint_eq(b, 320);
	ck_assert(pop3_parse_stat("0 0 messages", &a, &b));
	ck_assert(!pop3_parse_stat("two 320", &a, &b));
	ck_assert(!pop3_parse_stat("2", &a, &b));
	ck_assert(!pop3_parse_stat("99999999999999999999 1", &a, &b));
	ck_assert(!pop3_parse_stat("-1 5", &a, &b));
	ck_assert(pop3_parse_list_line("3 4711", &a, &b));
	ck_assert_uint_eq(a, 3);
	ck_assert_uint_eq(b, 4711);
	ck_assert(!pop3_parse_list_line("0 10", &a, &b));
	ck_assert(!pop3_parse_list_line("3 47x", &a, &b));
	ck_assert(!pop3_parse_list_line("3", &a, &b));
}
END_TEST

static void uidl_ok(const char *line, uint64_t num, const char *id)
{
	uint64_t n;
	char *got = NULL;
	ck_assert_msg(pop3_parse_uidl_line(line, strlen(line), &n, &got), "refused: %s", line);
	ck_assert_uint_eq(n, num);
	ck_assert_str_eq(got, id);
	free(got);
}

static void uidl_bad(const char *line, size_t len)
{
	uint64_t n;
	char *got = NULL;
	ck_assert_msg(!pop3_parse_uidl_line(line, len, &n, &got), "accepted: %s", line);
	ck_assert_ptr_null(got);
}

START_TEST(uidl_odd_ids)
{
	uidl_ok("1 whqtswO00WBw418f9t5JxYwZ", 1, "whqtswO00WBw418f9t5JxYwZ");
	uidl_ok("2 000000016b090535", 2, "000000016b090535");
	uidl_ok("12\t<abc@host>", 12, "<abc@host>");
	uidl_ok("3 id-with-trailing-space   ", 3, "id-with-trailing-space");
	uidl_ok("4 100%", 4, "100%25");
	uidl_ok("5 caf\xc3\xa9", 5, "caf%C3%A9");
	uidl_ok("6 ~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}", 6, "~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}");
	uidl_ok("7 \x7f", 7, "%7F");
	uidl_ok("8 .", 8, ".");
	/* 70 bytes is the RFC limit; longer ids exist in the wild */
	char line[POP3_UID_MAX + 8];
	memcpy(line, "9 ", 2);
	memset(line + 2, 'u', POP3_UID_MAX);
	line[POP3_UID_MAX + 2] = '\0';
	uidl_ok(line, 9, line + 2);
	line[POP3_UID_MAX + 2] = 'u';
	line[POP3_UID_MAX + 3] = '\0';
	uidl_bad(line, strlen(line));
	uidl_bad("1", 1);
	uidl_bad("1 ", 2);
	uidl_bad("0 zero", 6);
	uidl_bad("x id", 4);
	uidl_bad("1x id", 5);
	uidl_bad("1 two ids", 9);
	uidl_bad("", 0);
	uidl_bad("1 a\0b", 5);
	uidl_bad("99999999999999999999999 id", 26);
	uidl_bad(" 1 id", 5);
}
END_TEST

START_TEST(capabilities)
{
	struct pop3_caps c = { 0 };
	pop3_parse_capa_line(&c, "TOP");
	pop3_parse_capa_line(&c, "uidl");
	pop3_parse_capa_line(&c, "SASL LOGIN PLAIN CRAM-MD5");
	pop3_parse_capa_line(&c, "PIPELINING");
	pop3_parse_capa_line(&c, "STLSX");
	pop3_parse_capa_line(&c, "IMPLEMENTATION STLS UIDL");
	ck_assert(c.top && c.uidl && c.sasl_plain && c.pipelining);
	ck_assert(!c.stls && !c.user);
	struct pop3_caps d = { 0 };
	pop3_parse_capa_line(&d, "SASL PLAINX");
	pop3_parse_capa_line(&d, "STLS");
	pop3_parse_capa_line(&d, "USER");
	ck_assert(!d.sasl_plain && d.stls && d.user);
	/* RFC 6856, as Courier's pop3d says it. */
	ck_assert(!d.utf8);
	pop3_parse_capa_line(&d, "UTF8 USER");
	ck_assert(d.utf8);
	struct pop3_caps e = { 0 };
	pop3_parse_capa_line(&e, "UTF8X");
	ck_assert(!e.utf8);
}
END_TEST

START_TEST(apop_timestamps)
{
	char *t = pop3_apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
	ck_assert_str_eq(t, "<1896.697170952@dbc.mtview.ca.us>");
	free(t);
	ck_assert_ptr_null(pop3_apop_timestamp("Dovecot ready."));
	ck_assert_ptr_null(pop3_apop_timestamp("ready <>"));
	ck_assert_ptr_null(pop3_apop_timestamp("ready <no end"));
	ck_assert_ptr_null(pop3_apop_timestamp("ready <a b@c>"));
	/* RFC 1939 §7's own example */
	char hex[33];
	ck_assert(pop3_apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf", hex));
	ck_assert_str_eq(hex, "c4c9334bac560ecc979e58001b3e22fb");
}
END_TEST

START_TEST(internal_date_pick)
{
	int64_t t = 0;
	int32_t tz = 0;
	static const char both[] =
		"Received: from a by b; Tue, 3 Mar 2020 10:00:00 +0100\r\n"
		"Received: from c by d (x; y);\r\n Mon, 2 Mar 2020 08:00:00 +0000\r\n"
		"Date: Mon, 1 Jan 2018 00:00:00 +0000\r\n\r\nbody\r\n";
	ck_assert(pop3_header_date((const unsigned char *)both, sizeof(both) - 1, &t, &tz));
	ck_assert_int_eq(t, 1583226000);
	ck_assert_int_eq(tz, 60);
	static const char bad_rcvd[] = "Received: from a by b; not a date\r\n"
				       "Date: Mon, 1 Jan 2018 00:00:00 +0000\r\n\r\n";
	ck_assert(pop3_header_date((const unsigned char *)bad_rcvd, sizeof(bad_rcvd) - 1, &t, &tz));
	ck_assert_int_eq(t, 1514764800);
	static const char none[] = "Subject: x\r\n\r\nDate: Mon, 1 Jan 2018 "
				   "00:00:00 +0000\r\n";
	ck_assert(!pop3_header_date((const unsigned char *)none, sizeof(none) - 1, &t, &tz));
}
END_TEST

START_TEST(spool_memory_then_file)
{
	struct pop3_spool sp;
	struct mf_error err;
	unsigned char buf[7];
	pop3_spool_init(&sp, 10, NULL);
	for (int round = 0; round < 2; round++) {
		pop3_spool_reset(&sp);
		const char *parts[] = { "Subject: a\r\n", "\r\n",
					round ? "a body longer than ten\r\n" : "" };
		struct mf_buf all = { 0 }, back = { 0 };
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(pop3_spool_add(&sp, (const unsigned char *)parts[i],
							strlen(parts[i]), &err),
					 MF_OK);
			mf_buf_append_str(&all, parts[i]);
		}
		pop3_spool_finish(&sp);
		ck_assert_uint_eq(sp.store.size, all.len);
		ck_assert_int_eq(sp.store.fd >= 0, 1); /* 14 > 10 bytes: on disk */
		for (;;) {
			size_t n;
			ck_assert_int_eq(mf_spool_read(&sp.store, buf, sizeof(buf), &n, &err),
					 MF_OK);
			if (n == 0)
				break;
			mf_buf_append(&back, buf, n);
		}
		ck_assert_uint_eq(back.len, all.len);
		ck_assert(memcmp(back.data, all.data, all.len) == 0);
		ck_assert_uint_eq(sp.head.len, all.len);
		unsigned char md[32];
		struct mf_sha256 *h = mf_sha256_new();
		mf_sha256_update(h, all.data, all.len);
		mf_sha256_final(h, md);
		mf_sha256_free(&h);
		ck_assert(memcmp(md, sp.digest, 32) == 0);
		mf_buf_free(&all);
		mf_buf_free(&back);
	}
	pop3_spool_reset(&sp);
	ck_assert_int_eq(pop3_spool_add(&sp, (const unsigned char *)"tiny", 4, &err), MF_OK);
	pop3_spool_finish(&sp);
	ck_assert_int_eq(sp.store.fd, -1);
	pop3_spool_free(&sp);
}
END_TEST

static Suite *pop3_suite(void)
{
	Suite *s = suite_create("pop3");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, multiline_keeps_crlf_and_unstuffs_dots);
	tcase_add_test(tc, multiline_odd_bytes_survive);
	tcase_add_test(tc, multiline_eof_is_an_error);
	tcase_add_test(tc, decoder_output_bound);
	tcase_add_test(tc, lines_split_anywhere);
	tcase_add_test(tc, overlong_line_refused);
	tcase_add_test(tc, status_lines);
	tcase_add_test(tc, listing_lines);
	tcase_add_test(tc, uidl_odd_ids);
	tcase_add_test(tc, capabilities);
	tcase_add_test(tc, apop_timestamps);
	tcase_add_test(tc, internal_date_pick);
	suite_add_tcase(s, tc);
	TCase *ts = tcase_create("spool");
	tcase_add_test(ts, spool_memory_then_file);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pop3_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
