/* SPDX-License-Identifier: MIT */
/* The COMPRESS=DEFLATE stream layer (RFC 4978): one raw deflate stream
 * (RFC 1951, no zlib header: windowBits -15) per direction for the whole
 * rest of a connection.  Every flush of the client's output ends with
 * Z_SYNC_FLUSH, so the server can act on a command without waiting for
 * more; input is inflated as it arrives, in whatever pieces TCP/TLS hand
 * over.  Memory stays bounded: zlib's window and state plus the caller's
 * buffers, whatever the size of the data.  Used by lib/net/conn.c;
 * separate so the unit tests can drive it without a socket. */
#ifndef MAILFERRY_NET_DEFLATE_H
#define MAILFERRY_NET_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <zlib.h>

struct mf_deflate {
	z_stream out;       /* deflate: what we send */
	z_stream in;        /* inflate: what the server sends */
	bool out_ok, in_ok; /* initialised */
	bool pending;       /* deflate has input not yet sync-flushed */
};

/* false (why names it) when zlib cannot allocate its state. */
bool mf_deflate_init(struct mf_deflate *z, const char **why_r);
void mf_deflate_free(struct mf_deflate *z);

/* Compress len bytes of data (len may be 0) into out (cap bytes, at least
 * 64 recommended), calling emit for every filled or final piece.  With
 * sync, ends with a sync flush: everything given so far can be inflated by
 * the peer.  emit returns 0 to go on, else that value is returned. */
typedef int mf_deflate_emit_fn(void *ctx, const unsigned char *p, size_t n);
int mf_deflate_write(struct mf_deflate *z, const void *data, size_t len, bool sync,
		     unsigned char *out, size_t cap, mf_deflate_emit_fn *emit, void *ctx,
		     const char **why_r);

/* Inflate from *in (in_len bytes) into out (cap bytes): *used_r bytes of
 * input consumed, *made_r bytes produced (0 with input left over means
 * the input ended inside a block: read more).  Returns false with why set
 * for a corrupt stream or one the server ended (neither is recoverable). */
bool mf_deflate_read(struct mf_deflate *z, const unsigned char *in, size_t in_len, size_t *used_r,
		     unsigned char *out, size_t cap, size_t *made_r, const char **why_r);

#endif
