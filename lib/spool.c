/* SPDX-License-Identifier: MIT */
/* The one spool of message bodies (include/mailferry/spool.h): memory up to
 * a limit, then an unlinked temp file, read back from any offset.  The core
 * (core/spool.c: digest, CRLF form, pacing) and the POP3 source (header
 * block, digest) build on it; this file owns only the storage. */
#include <config.h>
#include <mailferry/spool.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mf_spool_init(struct mf_spool *sp, size_t mem_limit, const char *tmpdir)
{
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->mem_limit = mem_limit;
	sp->tmpdir = tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp";
}

void mf_spool_reset(struct mf_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	mf_buf_clear(&sp->mem);
	sp->size = sp->pos = 0;
}

void mf_spool_free(struct mf_spool *sp)
{
	mf_spool_reset(sp);
	mf_buf_free(&sp->mem);
}

static int open_temp(struct mf_spool *sp, struct mf_error *err)
{
#ifdef O_TMPFILE
	sp->fd = open(sp->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd >= 0)
		return MF_OK;
#endif
	/* No O_TMPFILE, or a file system without it (tmpfs before 3.11,
	 * NFS): a named file, unlinked at once. */
	char *path = mf_xasprintf("%s/mailferry-spool.XXXXXX", sp->tmpdir);
	sp->fd = mkstemp(path);
	int e = errno;
	if (sp->fd >= 0)
		unlink(path);
	free(path);
	if (sp->fd < 0) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			     "spool: cannot create a temp file in %s: %s", sp->tmpdir, strerror(e));
		err->sys_errno = e;
		return MF_ERR_FATAL;
	}
	return MF_OK;
}

static int write_all(struct mf_spool *sp, const unsigned char *p, size_t n, struct mf_error *err)
{
	while (n > 0) {
		ssize_t w = write(sp->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				     "spool: writing temp file in %s: %s", sp->tmpdir, strerror(e));
			err->sys_errno = e;
			return MF_ERR_ACCOUNT;
		}
		p += w;
		n -= (size_t)w;
	}
	return MF_OK;
}

int mf_spool_add(struct mf_spool *sp, const void *data, size_t len, struct mf_error *err)
{
	if (len == 0)
		return MF_OK;
	if (sp->fd < 0 && sp->mem.len + len <= sp->mem_limit) {
		mf_buf_append(&sp->mem, data, len);
		sp->size += len;
		return MF_OK;
	}
	if (sp->fd < 0) {
		int st = open_temp(sp, err);
		if (st == MF_OK)
			st = write_all(sp, sp->mem.data, sp->mem.len, err);
		if (st != MF_OK)
			return st;
		mf_buf_clear(&sp->mem);
	}
	int st = write_all(sp, data, len, err);
	if (st == MF_OK)
		sp->size += len;
	return st;
}

int mf_spool_pread(const struct mf_spool *sp, uint64_t off, unsigned char *buf, size_t cap,
		   size_t *n_r, struct mf_error *err)
{
	uint64_t left = off < sp->size ? sp->size - off : 0;
	size_t n = left < cap ? (size_t)left : cap;
	*n_r = 0;
	if (n == 0)
		return MF_OK;
	if (sp->fd < 0) {
		memcpy(buf, sp->mem.data + off, n);
	} else {
		ssize_t r;
		do
			r = pread(sp->fd, buf, n, (off_t)off);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					    "spool: reading temp file in %s: %s", sp->tmpdir,
					    r < 0 ? strerror(errno) : "unexpected end");
		n = (size_t)r;
	}
	*n_r = n;
	return MF_OK;
}

int mf_spool_read(struct mf_spool *sp, unsigned char *buf, size_t cap, size_t *n_r,
		  struct mf_error *err)
{
	int st = mf_spool_pread(sp, sp->pos, buf, cap, n_r, err);
	sp->pos += *n_r;
	return st;
}

void mf_spool_rewind(struct mf_spool *sp)
{
	sp->pos = 0;
}

int mf_spool_message_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
			  struct mf_error *err)
{
	return mf_spool_read(msg->read_ctx, buf, cap, n_r, err);
}
