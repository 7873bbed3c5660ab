/* SPDX-License-Identifier: MIT */
/* What the format readers (mbox_fetch.c, maildir.c, eml.c) share below
 * them: the cancel and "already copied" checks of one fetch request, and
 * the reader of a message that is one whole file (maildir, eml).  The
 * readers call these; nothing here calls a reader or the session. */
#include <config.h>
#include "mbox_p.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool offline_fetch_canceled(const struct offline_fetch *f, struct mf_error *err)
{
	if (f->host == NULL || f->host->canceled == NULL || !f->host->canceled(f->host->host_ctx))
		return false;
	mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "%s: %s: canceled", f->scheme, f->path);
	return true;
}

bool offline_fetch_have(const struct offline_fetch *f, const char *id)
{
	return f->since != NULL && f->since->have != NULL && f->since->have(id, f->since->have_aux);
}

int offline_file_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		      struct mf_error *err)
{
	struct file_msg *fm = msg->read_ctx;
	*n_r = 0;
	if (fm->left == 0)
		return MF_OK;
	if (cap > fm->left)
		cap = (size_t)fm->left;
	for (;;) {
		ssize_t n = read(fm->fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : 0;
			mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: %s: %s", fm->scheme,
				     fm->path, e ? strerror(e) : "file shrank while reading");
			if (err != NULL)
				err->sys_errno = e;
			return MF_ERR_MESSAGE;
		}
		fm->left -= (uint64_t)n;
		*n_r = (size_t)n;
		return MF_OK;
	}
}

bool offline_file_open(const struct offline_fetch *f, const char *path, struct file_msg *fm,
		       struct stat *st)
{
	/* O_NONBLOCK: a FIFO dropped into cur/ must not hang the run; it
	 * is refused below as not a regular file. */
	fm->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	fm->scheme = f->scheme;
	fm->path = path;
	if (fm->fd < 0 || fstat(fm->fd, st) != 0 || !S_ISREG(st->st_mode)) {
		int e = errno;
		if (f->host != NULL && f->host->log != NULL)
			f->host->log(f->host->host_ctx, MF_LOG_WARN, "%s: %s: skipped: %s",
				     f->scheme, path, fm->fd < 0 ? strerror(e) : "not a file");
		if (fm->fd >= 0)
			close(fm->fd);
		fm->fd = -1;
		return false;
	}
	fm->left = (uint64_t)st->st_size;
	return true;
}
