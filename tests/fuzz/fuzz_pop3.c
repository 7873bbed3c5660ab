/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the POP3 reply parser (plugins/pop3/pop3_parse.c).
 * The input is a server's byte stream: the target reads it as a client
 * would (status line, CAPA/UIDL/LIST listings, then RETR-style bodies until
 * the input ends), parsing every line with each line parser, and checks
 * that the multi-line decoder gives the same bytes whether the stream
 * arrives in one piece or one byte at a time, that a decoded body never
 * outgrows its input, and that UIDL ids come back printable. */
#include <config.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pop3_p.h"

struct src {
	const uint8_t *data;
	size_t len, pos, chunk;
};

static int src_fill(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;
	if (n == 0)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "eof");
	if (n > s->chunk)
		n = s->chunk;
	if (n > cap)
		n = cap;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	*n_r = n;
	return MF_OK;
}

static void parse_line(struct mf_buf *line)
{
	const char *t;
	uint64_t a, b;
	char *id = NULL;
	struct pop3_caps caps = { 0 };
	(void)pop3_parse_status((const char *)line->data, &t);
	(void)pop3_err_is_temporary((const char *)line->data);
	(void)pop3_parse_stat((const char *)line->data, &a, &b);
	(void)pop3_parse_list_line((const char *)line->data, &a, &b);
	pop3_parse_capa_line(&caps, (const char *)line->data);
	if (pop3_parse_uidl_line((const char *)line->data, line->len, &a, &id)) {
		for (const char *p = id; *p != '\0'; p++)
			if (*p <= 0x20 || *p >= 0x7f)
				abort();
		if (a == 0 || strlen(id) == 0)
			abort();
		free(id);
	}
	char *ts = pop3_apop_timestamp((const char *)line->data);
	free(ts);
	(void)pop3_ml_line(line);
}

/* Run the whole stream; the decoded bodies are appended to out. */
static void session(const uint8_t *data, size_t len, size_t chunk, size_t cap, struct mf_buf *out)
{
	struct src s = { data, len, 0, chunk };
	struct pop3_rd *rd = malloc(sizeof(*rd));
	struct mf_buf line = { 0 };
	struct mf_error err;
	unsigned char *buf = malloc(cap);
	pop3_rd_init(rd, src_fill, &s, "fuzz");
	/* greeting + one listing; on a line error the stream stops (the
	 * client drops such a connection) */
	bool ok = pop3_rd_line(rd, &line, 512, &err) == MF_OK;
	if (ok)
		parse_line(&line);
	while (ok) {
		ok = pop3_rd_line(rd, &line, 512, &err) == MF_OK;
		if (!ok)
			break;
		bool end = line.len == 1 && line.data[0] == '.';
		parse_line(&line);
		if (end)
			break;
	}
	/* then bodies, back to back */
	while (ok) {
		struct pop3_ml ml;
		bool done = false;
		size_t before = s.pos - pop3_rd_buffered(rd);
		int st = MF_OK;
		pop3_ml_init(&ml);
		while (st == MF_OK && !done) {
			size_t n;
			st = pop3_rd_body(rd, &ml, buf, cap, &n, &done, &err);
			if (n > cap)
				abort();
			mf_buf_append(out, buf, n);
		}
		size_t consumed = s.pos - pop3_rd_buffered(rd) - before;
		if (st != MF_OK)
			break;
		if (ml.out_bytes > consumed)
			abort();
		mf_buf_append(out, "|", 1);
		int64_t t;
		int32_t tz;
		(void)pop3_header_date(out->data, out->len, &t, &tz);
	}
	mf_buf_free(&line);
	free(buf);
	free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_buf a = { 0 }, b = { 0 };
	if (size > 1 << 20)
		return 0;
	session(data, size, size + 1, 65536, &a);
	session(data, size, 1, 2, &b);
	if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	mf_buf_free(&a);
	mf_buf_free(&b);
	return 0;
}
