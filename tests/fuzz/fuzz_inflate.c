/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the COMPRESS=DEFLATE layer (lib/net/deflate.c),
 * which inflates whatever a server sends once compression is on.
 * Two checks per input:
 *   - the input as a hostile server's raw deflate stream, fed in pieces
 *     of sizes taken from the input itself into a small output buffer:
 *     no crash, no overrun, no endless loop (every call consumes input or
 *     produces output, or reports the stream ended or broke);
 *   - the input as plain data: compressed with our deflate side (sync
 *     flushes at input-chosen points), inflated back, it must come out
 *     byte for byte. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/net/deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	unsigned char *buf;
	size_t len, cap;
};

static int collect(void *ctx, const unsigned char *p, size_t n)
{
	struct sink *s = ctx;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 64;
		s->buf = realloc(s->buf, s->cap);
		if (s->buf == NULL)
			abort();
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Inflate in[0..len) in pieces of piece bytes; the output, if all of it
 * inflated, into *out.  Returns false for a stream the layer refused. */
static bool inflate_all(const unsigned char *in, size_t len, size_t piece, struct sink *out)
{
	struct mf_deflate z;
	const char *why;
	if (!mf_deflate_init(&z, &why))
		abort();
	unsigned char buf[61]; /* small and odd: many partial outputs */
	size_t pos = 0;
	bool ok = true;
	while (pos < len && ok) {
		size_t n = len - pos < piece ? len - pos : piece;
		size_t off = 0;
		for (;;) {
			size_t used = 0, made = 0;
			if (!mf_deflate_read(&z, in + pos + off, n - off, &used, buf, sizeof(buf),
					     &made, &why)) {
				if (why == NULL)
					abort(); /* a refusal must say why */
				ok = false;
				break;
			}
			if (used > n - off || made > sizeof(buf))
				abort();
			off += used;
			if (made > 0)
				collect(out, buf, made);
			if (off == n && made < sizeof(buf))
				break; /* this piece is spent */
			if (used == 0 && made == 0)
				break; /* wants more input */
		}
		pos += n;
	}
	mf_deflate_free(&z);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t piece = (size_t)data[0] % 97 + 1;
	unsigned sync_every = (unsigned)data[1] % 13 + 1;
	data += 2;
	size -= 2;

	struct sink hostile = { 0 };
	(void)inflate_all(data, size, piece, &hostile);
	free(hostile.buf);

	/* Round trip. */
	struct mf_deflate z;
	const char *why;
	if (!mf_deflate_init(&z, &why))
		abort();
	struct sink packed = { 0 }, back = { 0 };
	unsigned char out[67];
	size_t step = (size + sync_every - 1) / sync_every;
	if (step == 0)
		step = 1;
	for (size_t pos = 0; pos < size; pos += step) {
		size_t n = size - pos < step ? size - pos : step;
		if (mf_deflate_write(&z, data + pos, n, true, out, sizeof(out), collect, &packed,
				     &why) != 0)
			abort();
	}
	mf_deflate_free(&z);
	if (!inflate_all(packed.buf, packed.len, piece, &back))
		abort(); /* our own stream refused */
	if (back.len != size || (size > 0 && memcmp(back.buf, data, size) != 0))
		abort(); /* not what went in */
	free(packed.buf);
	free(back.buf);
	return 0;
}
