/* SPDX-License-Identifier: MIT */
/* Messages in the form an IMAP server serves them: every LF not preceded
 * by CR becomes CRLF.  One walk over the bytes, used to hash that form
 * (verify, the IMAP sink's lookup) and to store it (the core's spool for
 * a sink with MF_CAP_WANTS_CRLF). */
#include <config.h>
#include <mailferry/util.h>

#include <string.h>

typedef void crlf_put_fn(void *ctx, const void *data, size_t len);

/* Hand data to put in its CRLF form, in as few pieces as its bare LFs
 * allow; *after_cr carries the byte before data across the chunks of one
 * message.  Returns how many bytes that form has. */
static uint64_t crlf_walk(bool *after_cr, const void *data, size_t len, crlf_put_fn *put, void *ctx)
{
	const unsigned char *p = data, *end = p + len;
	const unsigned char *run = p; /* bytes not yet handed on start here */
	uint64_t out = len;
	for (const unsigned char *lf = p; (lf = memchr(lf, '\n', (size_t)(end - lf))) != NULL;
	     lf++) {
		if (lf > p ? lf[-1] == '\r' : *after_cr)
			continue;
		if (lf > run)
			put(ctx, run, (size_t)(lf - run));
		put(ctx, "\r", 1);
		run = lf; /* the LF goes out with what follows it */
		out++;
	}
	if (end > run)
		put(ctx, run, (size_t)(end - run));
	if (len > 0)
		*after_cr = end[-1] == '\r';
	return out;
}

static void put_sha256(void *h, const void *data, size_t len)
{
	mf_sha256_update(h, data, len);
}

uint64_t mf_sha256_update_crlf(struct mf_sha256 *h, bool *after_cr, const void *data, size_t len)
{
	return crlf_walk(after_cr, data, len, put_sha256, h);
}

static void put_buf(void *b, const void *data, size_t len)
{
	mf_buf_append(b, data, len);
}

uint64_t mf_buf_append_crlf(struct mf_buf *b, bool *after_cr, const void *data, size_t len)
{
	return crlf_walk(after_cr, data, len, put_buf, b);
}
