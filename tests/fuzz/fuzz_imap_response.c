/* SPDX-License-Identifier: MIT */
/* libFuzzer target for lib/imapc's response parser: parses responses from
 * the input until it fails, half of the time with a stream callback that
 * reads a data-dependent part of each body literal (so the skip path is
 * exercised too), a quarter of the time resyncing past responses nested
 * too deeply (skip_rest), and walks every value.  Also feeds the input's first
 * line to the mUTF-7 decoder and round-trips what decodes. */
#include <config.h>
#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stream_cb(void *ctx, const struct imapc_resp *partial, const char *key,
		     struct imapc_literal *lit, struct mf_error *err)
{
	(void)partial;
	size_t want = (*(size_t *)ctx + strlen(key)) % 7 * 1000;
	unsigned char buf[512];
	while (want > 0) {
		size_t n;
		int st = imapc_literal_read(lit, buf, sizeof(buf), &n, err);
		if (st != MF_OK)
			return st;
		if (n == 0)
			break;
		want = n > want ? 0 : want - n;
	}
	return MF_OK;
}

static size_t walk(const struct imapc_value *v, int depth)
{
	size_t n = 1;
	if (depth > 100)
		abort(); /* the parser must bound nesting */
	if ((v->type == IMAPC_ATOM || v->type == IMAPC_STRING) && v->str[v->len] != '\0')
		abort();
	for (size_t i = 0; i < v->n_items; i++)
		n += walk(&v->items[i], depth + 1);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imapc_io io;
	struct imapc_memio mem;
	struct imapc_parser p;
	imapc_memio_init(&io, &mem, data, size);
	imapc_parser_init(&p, &io);
	p.max_literal = 1 << 16;
	size_t salt = size;
	if (size > 0 && (data[0] & 1)) {
		p.stream = stream_cb;
		p.stream_ctx = &salt;
	}
	/* and, for another half, resync past responses nested too deeply */
	if (size > 0 && (data[0] & 2))
		p.resync = true;
	for (int i = 0; i < 1000; i++) {
		struct imapc_resp r;
		struct mf_error err;
		int st = imapc_parse_response(&p, &r, &err);
		if (st == MF_OK) {
			if (r.damaged != NULL && !p.resync)
				abort(); /* only skipped when asked */
			walk(&r.args, 0);
			if (r.kind == IMAPC_UNTAGGED && strcmp(r.name, "FETCH") == 0 &&
			    r.args.n_items > 0) {
				char **kw;
				imapc_parse_flags(imapc_fetch_item(&r.args.items[0], "FLAGS"), &kw);
				imapc_free_strv(kw);
				const char *d = imapc_value_str(
					imapc_fetch_item(&r.args.items[0], "INTERNALDATE"));
				int64_t t;
				int32_t tz;
				if (d != NULL)
					imapc_parse_date(d, &t, &tz);
			}
		}
		imapc_resp_free(&r);
		if (st != MF_OK)
			break;
	}
	imapc_parser_free(&p);

	/* mUTF-7: decode the first line; what decodes must re-encode to a
	 * name that decodes to the same text. */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ln = nl ? (size_t)(nl - data) : size;
	char *name = mf_xstrndup((const char *)data, ln);
	char *u;
	if (imapc_mutf7_decode(name, &u)) {
		char *again = imapc_mutf7_encode(u);
		char *u2;
		if (!imapc_mutf7_decode(again, &u2) || strcmp(u, u2) != 0)
			abort();
		free(u2);
		free(again);
		free(u);
	}
	char *e = imapc_mutf7_encode(name);
	if (!imapc_mutf7_decode(e, &u))
		abort();
	free(u);
	free(e);
	free(name);
	return 0;
}
