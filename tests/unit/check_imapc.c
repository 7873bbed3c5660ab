/* SPDX-License-Identifier: MIT */
/* Check suite for lib/imapc's pure parts: the response parser on tricky
 * transcripts (Alibaba's glued greeting, literals and literal8, streamed
 * bodies, escapes, nested lists, NIL, bracketed sections, continuation
 * requests, and refusals of malformed input), modified UTF-7 tables in
 * both directions, flag lists and INTERNALDATE parsing. */
#include <config.h>
#include <mailferry/imapc.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct imapc_io io;
	struct imapc_memio mem;
	struct imapc_parser p;
	struct imapc_resp r;
	struct mf_error err;
};

static void fx_init(struct fixture *f, const void *data, size_t len)
{
	memset(f, 0, sizeof(*f));
	imapc_memio_init(&f->io, &f->mem, data, len);
	imapc_parser_init(&f->p, &f->io);
}

static void fx_free(struct fixture *f)
{
	imapc_resp_free(&f->r);
	imapc_parser_free(&f->p);
}

#define PARSE_OK(f)                                                                     \
	ck_assert_msg(imapc_parse_response(&(f)->p, &(f)->r, &(f)->err) == MF_OK, "%s", \
		      (f)->err.text)

START_TEST(alibaba_greeting_without_space_before_paren)
{
	static const char in[] = "* OK AliYun IMAP Server Ready(10.147.40.164)\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.kind, IMAPC_UNTAGGED);
	ck_assert_int_eq(f.r.status, IMAPC_OK);
	ck_assert_str_eq(f.r.code, "");
	ck_assert_str_eq(f.r.text, "AliYun IMAP Server Ready(10.147.40.164)");
	fx_free(&f);
}
END_TEST

START_TEST(greeting_with_capability_code)
{
	static const char in[] =
		"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n"
		"a7 no [authenticationfailed] Authentication failed.\r\n"
		"a8 OK\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.code, "CAPABILITY");
	ck_assert_str_eq(f.r.code_args, "IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN");
	ck_assert_str_eq(f.r.text, "Dovecot ready.");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.kind, IMAPC_TAGGED);
	ck_assert_str_eq(f.r.tag, "a7");
	ck_assert_int_eq(f.r.status, IMAPC_NO);
	ck_assert_str_eq(f.r.code, "AUTHENTICATIONFAILED");
	ck_assert_ptr_null(f.r.code_args);
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.status, IMAPC_OK);
	ck_assert_str_eq(f.r.text, "");
	fx_free(&f);
}
END_TEST

static const char fetch_in[] = "* 3 FETCH (UID 42 FLAGS (\\Seen $Forwarded custom \\Recent) "
			       "INTERNALDATE \"27-Nov-2026 03:35:11 +0100\" RFC822.SIZE 12 "
			       "BODY[] {12}\r\nhello\r\nworld)\r\n"
			       "* 4 EXISTS\r\n";

START_TEST(fetch_with_literal_buffered)
{
	struct fixture f;
	fx_init(&f, fetch_in, sizeof(fetch_in) - 1);
	PARSE_OK(&f);
	ck_assert(f.r.has_num);
	ck_assert_uint_eq(f.r.num, 3);
	ck_assert_str_eq(f.r.name, "FETCH");
	ck_assert_uint_eq(f.r.args.n_items, 1);
	const struct imapc_value *l = &f.r.args.items[0];
	uint64_t v;
	ck_assert(imapc_value_u64(imapc_fetch_item(l, "uid"), &v));
	ck_assert_uint_eq(v, 42);
	const struct imapc_value *body = imapc_fetch_item(l, "BODY[]");
	ck_assert_int_eq(body->type, IMAPC_STRING);
	ck_assert_uint_eq(body->len, 12);
	ck_assert_mem_eq(body->str, "hello\r\nworld", 12);
	char **kw;
	uint32_t fl = imapc_parse_flags(imapc_fetch_item(l, "FLAGS"), &kw);
	ck_assert_uint_eq(fl, MF_FLAG_SEEN | MF_FLAG_FORWARDED);
	ck_assert_str_eq(kw[0], "custom");
	ck_assert_ptr_null(kw[1]);
	imapc_free_strv(kw);
	int64_t t;
	int32_t tz;
	ck_assert(imapc_parse_date(imapc_value_str(imapc_fetch_item(l, "INTERNALDATE")), &t, &tz));
	ck_assert_int_eq(tz, 60);
	ck_assert_int_eq(t, 1795750511 - 3600);
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.name, "EXISTS");
	ck_assert_uint_eq(f.r.num, 4);
	fx_free(&f);
}
END_TEST

struct stream_seen {
	char key[32];
	uint64_t uid;
	uint64_t size;
	char got[8];
	int calls;
};

static int stream_cb(void *ctx, const struct imapc_resp *partial, const char *key,
		     struct imapc_literal *lit, struct mf_error *err)
{
	struct stream_seen *s = ctx;
	s->calls++;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->size = lit->size;
	ck_assert(partial->has_num);
	imapc_value_u64(imapc_fetch_item(&partial->args.items[0], "UID"), &s->uid);
	size_t n;
	/* take only the first 5 bytes: the parser must skip the rest */
	ck_assert_int_eq(imapc_literal_read(lit, s->got, 5, &n, err), MF_OK);
	ck_assert_uint_eq(n, 5);
	return MF_OK;
}

START_TEST(fetch_body_is_streamed_and_rest_skipped)
{
	struct fixture f;
	struct stream_seen seen = { 0 };
	fx_init(&f, fetch_in, sizeof(fetch_in) - 1);
	f.p.stream = stream_cb;
	f.p.stream_ctx = &seen;
	f.p.max_literal = 4; /* streamed bodies are not bound by it */
	PARSE_OK(&f);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.key, "BODY[]");
	ck_assert_uint_eq(seen.uid, 42);
	ck_assert_uint_eq(seen.size, 12);
	ck_assert_str_eq(seen.got, "hello");
	const struct imapc_value *body = imapc_fetch_item(&f.r.args.items[0], "BODY[]");
	ck_assert_int_eq(body->type, IMAPC_STREAMED);
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.name, "EXISTS");
	fx_free(&f);
}
END_TEST

START_TEST(literal8_with_nul_bytes)
{
	static const char in[] = "* 1 FETCH (BINARY[1] ~{3}\r\n\0\1\2 UID 7)\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	const struct imapc_value *b = imapc_fetch_item(&f.r.args.items[0], "BINARY[1]");
	ck_assert_int_eq(b->type, IMAPC_STRING);
	ck_assert_uint_eq(b->len, 3);
	ck_assert_mem_eq(b->str, "\0\1\2", 3);
	uint64_t uid;
	ck_assert(imapc_value_u64(imapc_fetch_item(&f.r.args.items[0], "UID"), &uid));
	ck_assert_uint_eq(uid, 7);
	fx_free(&f);
}
END_TEST

START_TEST(namespace_nested_lists_and_nil)
{
	static const char in[] = "* NAMESPACE ((\"\" \"/\")) nil ((\"#shared/\" \"/\" "
				 "\"X-PARAM\" (\"flag1\" \"flag2\")))\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.name, "NAMESPACE");
	ck_assert_uint_eq(f.r.args.n_items, 3);
	ck_assert_int_eq(f.r.args.items[1].type, IMAPC_NIL);
	const struct imapc_value *sh = &f.r.args.items[2].items[0];
	ck_assert_uint_eq(sh->n_items, 4);
	ck_assert_str_eq(sh->items[0].str, "#shared/");
	ck_assert_str_eq(sh->items[3].items[1].str, "flag2");
	fx_free(&f);
}
END_TEST

START_TEST(list_with_escapes_literal_name_and_nil_delimiter)
{
	static const char in[] = "* LIST (\\HasNoChildren \\Sent) \"/\" \"a \\\"q\\\" \\\\b\"\r\n"
				 "* LIST () NIL {6}\r\nx)y{1}\r\n"
				 "* LIST (\\Noselect) \".\" INBOX.%Stuff]\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.args.items[0].items[1].str, "\\Sent");
	ck_assert_str_eq(f.r.args.items[1].str, "/");
	ck_assert_str_eq(f.r.args.items[2].str, "a \"q\" \\b");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.args.items[0].type, IMAPC_LIST);
	ck_assert_uint_eq(f.r.args.items[0].n_items, 0);
	ck_assert_int_eq(f.r.args.items[1].type, IMAPC_NIL);
	ck_assert_str_eq(f.r.args.items[2].str, "x)y{1}");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.args.items[2].str, "INBOX.%Stuff]");
	fx_free(&f);
}
END_TEST

START_TEST(bracketed_section_with_spaces_is_one_atom)
{
	static const char in[] =
		"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT DATE)]<0> {4}\r\nab\r\n UID 9)\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	const struct imapc_value *l = &f.r.args.items[0];
	ck_assert_uint_eq(l->n_items, 4);
	ck_assert_str_eq(l->items[0].str, "BODY[HEADER.FIELDS (SUBJECT DATE)]<0>");
	ck_assert_mem_eq(l->items[1].str, "ab\r\n", 4);
	fx_free(&f);
}
END_TEST

START_TEST(continuation_requests)
{
	static const char in[] = "+ Ready for literal data\r\n+\r\n+ \r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.kind, IMAPC_CONTINUE);
	ck_assert_str_eq(f.r.text, "Ready for literal data");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.kind, IMAPC_CONTINUE);
	ck_assert_str_eq(f.r.text, "");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.text, "");
	fx_free(&f);
}
END_TEST

START_TEST(codes_appenduid_permanentflags_and_bye)
{
	static const char in[] =
		"a3 OK [APPENDUID 1700000000 4711] Append completed.\r\n"
		"* OK [PERMANENTFLAGS (\\Answered \\Seen \\Deleted \\Draft \\Flagged)] Limited\r\n"
		"* BYE [UNAVAILABLE] going down\r\n"
		"* OK [ALERT] text with [brackets] inside\r\n";
	struct fixture f;
	fx_init(&f, in, sizeof(in) - 1);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.code, "APPENDUID");
	ck_assert_str_eq(f.r.code_args, "1700000000 4711");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.code, "PERMANENTFLAGS");
	ck_assert_str_eq(f.r.text, "Limited");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_int_eq(f.r.status, IMAPC_BYE);
	ck_assert_str_eq(f.r.code, "UNAVAILABLE");
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_str_eq(f.r.code, "ALERT");
	ck_assert_str_eq(f.r.text, "text with [brackets] inside");
	fx_free(&f);
}
END_TEST

static void expect_error(const char *in, size_t len, size_t max_literal)
{
	struct fixture f;
	fx_init(&f, in, len);
	if (max_literal)
		f.p.max_literal = max_literal;
	ck_assert_int_ne(imapc_parse_response(&f.p, &f.r, &f.err), MF_OK);
	ck_assert_int_eq(f.err.status, MF_ERR_ACCOUNT);
	ck_assert(f.err.text[0] != '\0');
	fx_free(&f);
}

START_TEST(malformed_input_is_refused)
{
	static const char *bad[] = {
		"* LIST () \"/\" \"unterminated\r\n",
		"* 1 FETCH (UID 1\r\n",
		"* 1 FETCH (UID 1))\r\n",
		"* 1 FETCH (BODY[] {5}x\r\nhello)\r\n",
		"* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
		"* 1 FETCH (BODY[] {10}\r\nshort",
		"a1 FETCH (UID 1)\r\n",
		"a1 PREAUTH hi\r\n",
		"* 99999999999 EXISTS\r\n",
		" OK no tag\r\n",
		"* OK no newline at all",
		"* X (BODY[unterminated\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i], strlen(bad[i]), 0);
	/* a literal larger than the limit is refused before allocation */
	static const char big[] = "* 1 FETCH (RFC822.HEADER {100}\r\n";
	expect_error(big, sizeof(big) - 1, 50);
	/* nesting beyond the limit */
	char deep[400];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "* X ");
	for (int i = 0; i < 100; i++)
		deep[n++] = '(';
	memcpy(deep + n, "\r\n", 2);
	expect_error(deep, n + 2, 0);
}
END_TEST

/* parser.resync: a response nested too deeply is read to its end (past
 * literals ending its lines, not fooled by "{n}" inside quoted strings or
 * [sections]), returned with damaged set and what came before the cap,
 * and the next response parses; no body in the skipped part is streamed;
 * what cannot be skipped cheaply is still an error. */
START_TEST(resync_skips_a_response_nested_too_deeply)
{
	struct mf_buf in = { 0 };
	mf_buf_append_str(&in, "* 3 FETCH (UID 9 X ");
	for (int i = 0; i < 100; i++)
		mf_buf_append_str(&in, "(");
	mf_buf_append_str(&in, " \"q{5}\" BODY[x {3}] BODY[] {5}\r\n"
			       "a)\r\n("
			       " \"}{1}\" {4}\r\n"
			       "{9}\r"
			       "))) \"x {3}\"\r\n"
			       "* 4 EXISTS\r\n");
	struct fixture f;
	struct stream_seen seen = { 0 };
	fx_init(&f, in.data, in.len);
	f.p.stream = stream_cb;
	f.p.stream_ctx = &seen;
	f.p.resync = true;
	PARSE_OK(&f);
	ck_assert_ptr_nonnull(f.r.damaged);
	ck_assert_ptr_nonnull(strstr(f.r.damaged, "nested too deeply"));
	ck_assert_str_eq(f.r.name, "FETCH");
	ck_assert_uint_eq(f.r.num, 3);
	uint64_t uid = 0;
	ck_assert(imapc_value_u64(imapc_fetch_item(&f.r.args.items[0], "UID"), &uid));
	ck_assert_uint_eq(uid, 9);
	ck_assert_int_eq(seen.calls, 0);
	imapc_resp_free(&f.r);
	PARSE_OK(&f);
	ck_assert_ptr_null(f.r.damaged);
	ck_assert_str_eq(f.r.name, "EXISTS");
	ck_assert_uint_eq(f.r.num, 4);
	fx_free(&f);

	/* Without resync: an error, as before. */
	fx_init(&f, in.data, in.len);
	ck_assert_int_ne(imapc_parse_response(&f.p, &f.r, &f.err), MF_OK);
	ck_assert_ptr_nonnull(strstr(f.err.text, "nested too deeply"));
	fx_free(&f);

	/* A literal in the skipped part over max_literal: an error. */
	mf_buf_clear(&in);
	mf_buf_append_str(&in, "* 1 FETCH (");
	for (int i = 0; i < 100; i++)
		mf_buf_append_str(&in, "(");
	mf_buf_append_str(&in, " {100}\r\n");
	fx_init(&f, in.data, in.len);
	f.p.resync = true;
	f.p.max_literal = 50;
	ck_assert_int_ne(imapc_parse_response(&f.p, &f.r, &f.err), MF_OK);
	ck_assert_ptr_nonnull(strstr(f.err.text, "too large to skip"));
	fx_free(&f);
	mf_buf_free(&in);
}
END_TEST

static const struct {
	const char *utf8, *mutf7;
} mutf7_table[] = {
	{ "INBOX", "INBOX" },
	{ "", "" },
	{ "&", "&-" },
	{ "A&B", "A&-B" },
	{ "已发送", "&XfJT0ZAB-" },
	{ "草稿箱", "&g0l6P3ux-" },
	{ "已删除邮件", "&XfJSIJZkkK5O9g-" },
	{ "垃圾邮件", "&V4NXPpCuTvY-" },
	{ "收件箱", "&ZTZO9nux-" },
	{ "Entwürfe", "Entw&APw-rfe" },
	{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "😀", "&2D3eAA-" },
	{ "a\tb", "a&AAk-b" },
	{ "Ä&Ö", "&AMQ-&-&ANY-" },
};

START_TEST(mutf7_table_both_ways)
{
	for (size_t i = 0; i < sizeof(mutf7_table) / sizeof(mutf7_table[0]); i++) {
		char *e = imapc_mutf7_encode(mutf7_table[i].utf8);
		ck_assert_str_eq(e, mutf7_table[i].mutf7);
		free(e);
		char *d;
		ck_assert_msg(imapc_mutf7_decode(mutf7_table[i].mutf7, &d), "%s",
			      mutf7_table[i].mutf7);
		ck_assert_str_eq(d, mutf7_table[i].utf8);
		free(d);
	}
}
END_TEST

START_TEST(mutf7_rejects_malformed)
{
	static const char *bad[] = {
		"&Jjo",     /* unterminated */
		"&-&",      /* unterminated at end */
		"&AGE-",    /* printable ASCII 'a' encoded */
		"&2D0-",    /* lone high surrogate */
		"&3gA-",    /* lone low surrogate */
		"\xc3\xa4", /* raw 8-bit */
		"&-\x01",   /* control char unencoded */
		"&AMQ",     /* no '-' */
		"&AMR-",    /* stray non-zero bits */
		"&!!-",     /* not base64 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *d = (char *)1;
		ck_assert_msg(!imapc_mutf7_decode(bad[i], &d), "accepted %s", bad[i]);
		ck_assert_ptr_null(d);
	}
	/* invalid UTF-8 becomes U+FFFD, never a broken name */
	char *e = imapc_mutf7_encode("a\xff"
				     "b");
	ck_assert_str_eq(e, "a&,,0-b");
	free(e);
}
END_TEST

START_TEST(flags_format_respects_mask_and_keywords)
{
	struct mf_buf b = { 0 };
	const char *kw[] = { "$label1", "bad kw", "(x", NULL };
	imapc_format_flags(MF_FLAG_SEEN | MF_FLAG_FLAGGED | MF_FLAG_FORWARDED | MF_FLAG_DELETED,
			   MF_FLAG_SEEN | MF_FLAG_FLAGGED, false, kw, &b);
	ck_assert_str_eq((char *)b.data, "\\Seen \\Flagged");
	imapc_format_flags(MF_FLAG_SEEN | MF_FLAG_FORWARDED, 0xff, true, kw, &b);
	ck_assert_str_eq((char *)b.data, "\\Seen $Forwarded $label1");
	mf_buf_free(&b);
}
END_TEST

START_TEST(internaldate_parsing)
{
	int64_t t;
	int32_t tz;
	ck_assert(imapc_parse_date(" 1-Jan-1970 00:00:00 +0000", &t, &tz));
	ck_assert_int_eq(t, 0);
	ck_assert(imapc_parse_date("01-Jan-1970 08:00:00 +0800", &t, &tz));
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(tz, 480);
	ck_assert(imapc_parse_date("29-Feb-2024 23:59:59 -0130", &t, &tz));
	ck_assert_int_eq(tz, -90);
	ck_assert_int_eq(t, 1709251199 + 90 * 60);
	ck_assert(!imapc_parse_date("29-Foo-2024 23:59:59 -0130", &t, &tz));
	ck_assert(!imapc_parse_date("29-Feb-2024 23:59:59", &t, &tz));
	ck_assert(!imapc_parse_date("29-Feb-2024 24:00:00 +0000", &t, &tz));
	ck_assert(!imapc_parse_date("", &t, &tz));
}
END_TEST

static Suite *imapc_suite(void)
{
	Suite *s = suite_create("imapc");
	TCase *tp = tcase_create("parser");
	tcase_add_test(tp, alibaba_greeting_without_space_before_paren);
	tcase_add_test(tp, greeting_with_capability_code);
	tcase_add_test(tp, fetch_with_literal_buffered);
	tcase_add_test(tp, fetch_body_is_streamed_and_rest_skipped);
	tcase_add_test(tp, literal8_with_nul_bytes);
	tcase_add_test(tp, namespace_nested_lists_and_nil);
	tcase_add_test(tp, list_with_escapes_literal_name_and_nil_delimiter);
	tcase_add_test(tp, bracketed_section_with_spaces_is_one_atom);
	tcase_add_test(tp, continuation_requests);
	tcase_add_test(tp, codes_appenduid_permanentflags_and_bye);
	tcase_add_test(tp, malformed_input_is_refused);
	tcase_add_test(tp, resync_skips_a_response_nested_too_deeply);
	suite_add_tcase(s, tp);
	TCase *th = tcase_create("helpers");
	tcase_add_test(th, mutf7_table_both_ways);
	tcase_add_test(th, mutf7_rejects_malformed);
	tcase_add_test(th, flags_format_respects_mask_and_keywords);
	tcase_add_test(th, internaldate_parsing);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(imapc_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
