/* SPDX-License-Identifier: MIT */
/* Raw deflate in both directions of a COMPRESS=DEFLATE connection (RFC
 * 4978 §4: "raw DEFLATE ... without any zlib or gzip headers", each
 * direction one stream for the connection's life, the sender flushing
 * so the receiver can decode every command or response it was sent).
 * See deflate.h. */
#include <config.h>
#include "deflate.h"

#include <stdint.h>
#include <string.h>

bool mf_deflate_init(struct mf_deflate *z, const char **why_r)
{
	memset(z, 0, sizeof(*z));
	/* windowBits -15: raw deflate with the largest window (RFC 4978 §4
	 * lets either side use any window; inflate must accept 32 KiB).
	 * Level 1: on the bench mail (text plus base64 attachments) level 6
	 * saves only 3% more of the bytes (57% against 60% of plain) for
	 * some three times the CPU, and a run moves several mailboxes at
	 * once on few cores. */
	if (deflateInit2(&z->out, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		*why_r = "cannot set up deflate (out of memory)";
		return false;
	}
	z->out_ok = true;
	if (inflateInit2(&z->in, -15) != Z_OK) {
		*why_r = "cannot set up inflate (out of memory)";
		mf_deflate_free(z);
		return false;
	}
	z->in_ok = true;
	return true;
}

void mf_deflate_free(struct mf_deflate *z)
{
	if (z->out_ok)
		deflateEnd(&z->out);
	if (z->in_ok)
		inflateEnd(&z->in);
	z->out_ok = z->in_ok = false;
}

int mf_deflate_write(struct mf_deflate *z, const void *data, size_t len, bool sync,
		     unsigned char *out, size_t cap, mf_deflate_emit_fn *emit, void *ctx,
		     const char **why_r)
{
	const unsigned char *p = data;
	if (len > 0)
		z->pending = true;
	if (len == 0 && !(sync && z->pending))
		return 0;
	/* zlib counts in uInt: feed huge inputs in pieces. */
	while (len > 0 || (sync && z->pending)) {
		uInt piece = len > (1u << 30) ? (1u << 30) : (uInt)len;
		bool last = piece == len;
		int flush = last && sync ? Z_SYNC_FLUSH : Z_NO_FLUSH;
		z->out.next_in = (Bytef *)(uintptr_t)p;
		z->out.avail_in = piece;
		/* Until deflate leaves room in out: then all input is taken
		 * and, for a sync flush, the flush is complete (zlib manual). */
		do {
			z->out.next_out = out;
			z->out.avail_out = (uInt)cap;
			int r = deflate(&z->out, flush);
			if (r != Z_OK && r != Z_BUF_ERROR) {
				*why_r = "deflate failed";
				return -1;
			}
			size_t made = cap - z->out.avail_out;
			if (made > 0) {
				int e = emit(ctx, out, made);
				if (e != 0)
					return e;
			}
		} while (z->out.avail_out == 0);
		p += piece;
		len -= piece;
		if (flush == Z_SYNC_FLUSH)
			z->pending = false;
	}
	return 0;
}

bool mf_deflate_read(struct mf_deflate *z, const unsigned char *in, size_t in_len, size_t *used_r,
		     unsigned char *out, size_t cap, size_t *made_r, const char **why_r)
{
	*used_r = *made_r = 0;
	uInt in_piece = in_len > (1u << 30) ? (1u << 30) : (uInt)in_len;
	uInt out_piece = cap > (1u << 30) ? (1u << 30) : (uInt)cap;
	z->in.next_in = (Bytef *)(uintptr_t)in;
	z->in.avail_in = in_piece;
	z->in.next_out = out;
	z->in.avail_out = out_piece;
	int r = inflate(&z->in, Z_SYNC_FLUSH);
	*used_r = in_piece - z->in.avail_in;
	*made_r = out_piece - z->in.avail_out;
	/* Z_BUF_ERROR: no progress possible (input ended inside a block,
	 * or no room): not an error, the caller reads more. */
	if (r == Z_OK || r == Z_BUF_ERROR)
		return true;
	if (r == Z_STREAM_END) {
		*why_r = "server ended its compressed stream (RFC 4978 forbids it)";
		return false;
	}
	*why_r = r == Z_DATA_ERROR && z->in.msg != NULL ? z->in.msg
		 : r == Z_MEM_ERROR                     ? "out of memory"
							: "corrupt data";
	return false;
}
