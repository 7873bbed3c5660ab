/* SPDX-License-Identifier: MIT */
/* Spool: the one place a message body is buffered between a source and a
 * sink.  It decouples the two connections (a source can keep pipelining
 * while a sink waits for its server), yields the content digest the
 * state store keys on before the append happens, and lets an append be
 * retried after a dropped connection.  Storage (memory, then a temp file)
 * is libmailferry's mf_spool; this file adds the digest, the CRLF form and
 * the pacing. */
#include <config.h>
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "throttle.h"

#define CHUNK 65536

void spool_init(struct spool *s, size_t mem_limit, const char *tmpdir)
{
	memset(s, 0, sizeof(*s));
	mf_spool_init(&s->store, mem_limit, tmpdir);
	s->sha = mf_sha256_new();
}

void spool_free(struct spool *s)
{
	mf_spool_free(&s->store);
	mf_buf_free(&s->conv);
	mf_sha256_free(&s->sha);
}

/* Store p in CRLF form (mf_buf_append_crlf): one store per chunk,
 * whatever the line count, since in temp-file mode each is a write(). */
static int store_crlf(struct spool *s, bool *after_cr, const unsigned char *p, size_t n,
		      struct mf_error *err)
{
	mf_buf_clear(&s->conv);
	mf_buf_append_crlf(&s->conv, after_cr, p, n);
	return mf_spool_add(&s->store, s->conv.data, s->conv.len, err);
}

/* A store error of the lib spool names only its temp directory: say which
 * message it was (what), and, when that directory is full, which one it
 * is and how to get past it -- "spool: writing temp file in /tmp: No
 * space left on device" alone reads as if the target were full. */
static int store_failed(int st, const char *what, struct mf_error *err)
{
	if (err == NULL)
		return st;
	bool full = err->sys_errno == ENOSPC || err->sys_errno == EDQUOT;
	char *text = mf_xasprintf(
		"%s: %s%s", what, err->text,
		full ? " (the spool's temp directory, for messages over its memory limit: free "
		       "space there or set TMPDIR)"
		     : "");
	snprintf(err->text, sizeof(err->text), "%s", text);
	free(text);
	return st;
}

int spool_fill(struct spool *s, const struct mf_message *src, bool crlf, struct throttle *throttle,
	       const char *what, struct mf_error *err)
{
	mf_spool_reset(&s->store);
	uint64_t got = 0; /* bytes read from the source */
	bool after_cr = false;
	unsigned char chunk[CHUNK];
	/* Start a fresh digest: a fill that failed part-way (connection
	 * cut) left its bytes in the context, and the next message's digest
	 * would be wrong, and so would lookup() after a crash. */
	mf_sha256_final(s->sha, chunk);
	for (;;) {
		size_t n = 0;
		int st = src->read(src, chunk, sizeof(chunk), &n, err);
		if (st != MF_OK)
			return st;
		if (n == 0)
			break;
		if (n > sizeof(chunk) || got + n > src->size)
			return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
					    "%s: source announced %llu bytes but sent more", what,
					    (unsigned long long)src->size);
		throttle_bytes(throttle, n);
		mf_sha256_update(s->sha, chunk, n);
		st = crlf ? store_crlf(s, &after_cr, chunk, n, err)
			  : mf_spool_add(&s->store, chunk, n, err);
		if (st != MF_OK)
			return store_failed(st, what, err);
		got += n;
	}
	mf_sha256_final(s->sha, s->digest);
	if (got != src->size)
		return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NOW,
				    "%s: source announced %llu bytes but sent %llu", what,
				    (unsigned long long)src->size, (unsigned long long)got);
	return MF_OK;
}

void spool_rewind(struct spool *s)
{
	mf_spool_rewind(&s->store);
}

void spool_message(struct spool *s, const struct mf_message *src, struct mf_message *out)
{
	*out = *src;
	out->size = s->store.size;
	out->read = mf_spool_message_read;
	out->read_ctx = &s->store;
	out->failure = NULL;
	mf_spool_rewind(&s->store);
}
