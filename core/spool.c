/* SPDX-License-Identifier: MIT */
/* Spool: the one place a message body is buffered between a source and a
 * sink.  It decouples the two connections (a source can keep pipelining
 * while a sink waits for its server), yields the content digest the
 * state store keys on before the append happens, and lets an append be
 * retried after a dropped connection. */
#include <config.h>
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "throttle.h"

#define CHUNK 65536

void spool_init(struct spool *s, size_t mem_limit, const char *tmpdir)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->mem_limit = mem_limit;
	s->tmpdir = tmpdir ? tmpdir : "/tmp";
	s->sha = mf_sha256_new();
}

void spool_free(struct spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	mf_buf_free(&s->mem);
	mf_buf_free(&s->conv);
	mf_sha256_free(&s->sha);
	s->fd = -1;
}

static int open_temp(struct spool *s, struct mf_error *err)
{
#ifdef O_TMPFILE
	s->fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (s->fd < 0) {
		char *path = mf_xasprintf("%s/mailferry-spool.XXXXXX", s->tmpdir);
		s->fd = mkstemp(path);
		if (s->fd >= 0)
			unlink(path);
		free(path);
	}
	if (s->fd < 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "spool: cannot create a temp file in %s: %s", s->tmpdir,
				    strerror(errno));
	return MF_OK;
}

static int write_all(struct spool *s, const unsigned char *p, size_t n, struct mf_error *err)
{
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				     "spool: writing temp file in %s: %s", s->tmpdir, strerror(e));
			err->sys_errno = e;
			return MF_ERR_ACCOUNT;
		}
		p += w;
		n -= (size_t)w;
	}
	return MF_OK;
}

static int store(struct spool *s, const unsigned char *p, size_t n, struct mf_error *err)
{
	if (s->fd < 0 && s->mem.len + n <= s->mem_limit) {
		mf_buf_append(&s->mem, p, n);
		return MF_OK;
	}
	if (s->fd < 0) {
		int st = open_temp(s, err);
		if (st == MF_OK)
			st = write_all(s, s->mem.data, s->mem.len, err);
		if (st != MF_OK)
			return st;
		mf_buf_clear(&s->mem);
	}
	return write_all(s, p, n, err);
}

/* Store p in CRLF form (mf_buf_append_crlf): one store() per chunk,
 * whatever the line count, since in temp-file mode each is a write(). */
static int store_crlf(struct spool *s, bool *after_cr, const unsigned char *p, size_t n,
		      struct mf_error *err)
{
	mf_buf_clear(&s->conv);
	s->size += mf_buf_append_crlf(&s->conv, after_cr, p, n);
	return store(s, s->conv.data, s->conv.len, err);
}

int spool_fill(struct spool *s, const struct mf_message *src, bool crlf,
	       struct throttle *throttle, const char *what, struct mf_error *err)
{
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	mf_buf_clear(&s->mem);
	s->size = s->pos = 0;
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
		if (crlf) {
			st = store_crlf(s, &after_cr, chunk, n, err);
		} else {
			st = store(s, chunk, n, err);
			s->size += n;
		}
		if (st != MF_OK)
			return st;
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
	s->pos = 0;
}

static int spool_read(const struct mf_message *msg, unsigned char *buf, size_t cap,
		      size_t *n_r, struct mf_error *err)
{
	struct spool *s = msg->read_ctx;
	uint64_t left = s->size - s->pos;
	size_t n = left < cap ? (size_t)left : cap;
	*n_r = 0;
	if (n == 0)
		return MF_OK;
	if (s->fd < 0) {
		memcpy(buf, s->mem.data + s->pos, n);
	} else {
		ssize_t r;
		do
			r = pread(s->fd, buf, n, (off_t)s->pos);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					    "spool: reading temp file: %s",
					    r < 0 ? strerror(errno) : "unexpected end");
		n = (size_t)r;
	}
	s->pos += n;
	*n_r = n;
	return MF_OK;
}

void spool_message(struct spool *s, const struct mf_message *src, struct mf_message *out)
{
	*out = *src;
	out->size = s->size;
	out->read = spool_read;
	out->read_ctx = s;
	out->failure = NULL;
	s->pos = 0;
}
