/* SPDX-License-Identifier: MIT */
/* The spool a RETR is decoded into before the message is handed on.
 *
 * Why spool at all: struct mf_message.size must be exact before the first
 * read(), and a POP3 server's LIST/RETR octet count is only what it
 * *thinks* the message will take on the wire.  Dovecot's equals the
 * decoded CRLF size (checked by tests/integration/pop3_dovecot.sh), but
 * servers storing LF-only files (qpopper, older Courier) or adding a
 * missing final CRLF count differently, and a wrong size makes the core
 * refuse the message.  Spooling also gives us the header block for the
 * internal date without an extra TOP round trip, and the SHA-256 used
 * when the server has neither UIDL nor TOP.  Memory stays bounded: past
 * mem_limit the bytes go to an unlinked temp file (O_TMPFILE, or
 * mkstemp + unlink). */
#include <config.h>
#include "pop3_p.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pop3_spool_init(struct pop3_spool *sp, size_t mem_limit,
		     const char *tmpdir)
{
	memset(sp, 0, sizeof(*sp));
	sp->mem_limit = mem_limit;
	sp->tmpdir = tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp";
	sp->fd = -1;
	sp->sha = mf_sha256_new();
}

void pop3_spool_reset(struct pop3_spool *sp)
{
	mf_buf_clear(&sp->mem);
	mf_buf_clear(&sp->head);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->size = sp->pos = 0;
	unsigned char junk[32];
	mf_sha256_final(sp->sha, junk); /* resets the context */
}

static int open_tmp(struct pop3_spool *sp, struct mf_error *err)
{
#ifdef O_TMPFILE
	sp->fd = open(sp->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd >= 0)
		return MF_OK;
#endif
	char *path = mf_xasprintf("%s/mailferry-pop3.XXXXXX", sp->tmpdir);
	sp->fd = mkstemp(path);
	int e = errno;
	if (sp->fd >= 0)
		unlink(path);
	free(path);
	if (sp->fd < 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "pop3: cannot create a temp file in %s: %s",
				    sp->tmpdir, strerror(e));
	return MF_OK;
}

static int write_all(struct pop3_spool *sp, const unsigned char *p, size_t n,
		     struct mf_error *err)
{
	while (n > 0) {
		ssize_t w = write(sp->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			/* A full disk is this run's problem, not the
			 * message's: stop rather than mark it failed. */
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "pop3: writing temp file in %s: %s",
					    sp->tmpdir, strerror(e));
		}
		p += w;
		n -= (size_t)w;
	}
	return MF_OK;
}

int pop3_spool_add(struct pop3_spool *sp, const unsigned char *p, size_t n,
		   struct mf_error *err)
{
	if (n == 0)
		return MF_OK;
	mf_sha256_update(sp->sha, p, n);
	if (sp->head.len < POP3_HEAD_MAX) {
		size_t h = POP3_HEAD_MAX - sp->head.len;
		mf_buf_append(&sp->head, p, h < n ? h : n);
	}
	sp->size += n;
	if (sp->fd < 0 && sp->mem.len + n <= sp->mem_limit) {
		mf_buf_append(&sp->mem, p, n);
		return MF_OK;
	}
	if (sp->fd < 0) {
		int st = open_tmp(sp, err);
		if (st == MF_OK)
			st = write_all(sp, sp->mem.data, sp->mem.len, err);
		if (st != MF_OK)
			return st;
		mf_buf_free(&sp->mem);
	}
	return write_all(sp, p, n, err);
}

void pop3_spool_finish(struct pop3_spool *sp)
{
	mf_sha256_final(sp->sha, sp->digest);
	sp->pos = 0;
}

int pop3_spool_read(struct pop3_spool *sp, unsigned char *buf, size_t cap,
		    size_t *n_r, struct mf_error *err)
{
	uint64_t left = sp->size - sp->pos;
	size_t n = left < cap ? (size_t)left : cap;
	if (n > 0 && sp->fd < 0) {
		memcpy(buf, sp->mem.data + sp->pos, n);
	} else if (n > 0) {
		ssize_t r;
		do
			r = pread(sp->fd, buf, n, (off_t)sp->pos);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "pop3: reading temp file: %s",
					    r < 0 ? strerror(errno)
						  : "unexpected end");
		n = (size_t)r;
	}
	sp->pos += n;
	*n_r = n;
	return MF_OK;
}

void pop3_spool_free(struct pop3_spool *sp)
{
	mf_buf_free(&sp->mem);
	mf_buf_free(&sp->head);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	mf_sha256_free(&sp->sha);
}
