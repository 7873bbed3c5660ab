/* SPDX-License-Identifier: MIT */
/* Helpers shared by the maildir and mbox halves of the local sink: logging
 * through the host, errno classification into mf_status, folder path
 * validation and normalization, special-use names, and the small
 * durability helpers (mkdir + fsync of the parent, full writes).  Format
 * specific layout (Maildir++ names, Thunderbird .sbd) lives in
 * maildir_sink.c and mbox_sink.c. */
#include <config.h>
#include "local_p.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void local_log(const struct mf_sink *snk, enum mf_log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (snk->host == NULL || snk->host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snk->host->log(snk->host->host_ctx, level, "%s", text);
}

bool local_canceled(const struct mf_sink *snk)
{
	return snk->host != NULL && snk->host->canceled != NULL &&
	       snk->host->canceled(snk->host->host_ctx);
}

int local_sys_error(struct mf_error *err, enum mf_status fallback, int e, const char *fmt, ...)
{
	enum mf_status status = fallback;
	enum mf_retry retry = MF_RETRY_NEVER;
	char text[sizeof(err->text)];
	va_list ap;

	switch (e) {
	case ENOSPC:
	case EDQUOT:
		/* The whole mailbox shares the file system: every further
		 * message would fail the same way until space is freed. */
		status = MF_ERR_ACCOUNT;
		retry = MF_RETRY_LATER;
		break;
	case EIO:
	case EROFS: status = MF_ERR_ACCOUNT; break;
	default: break;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mf_error_set(err, status, retry, "%s: %s", text, strerror(e));
	if (err != NULL)
		err->sys_errno = e;
	return (int)status;
}

char *local_normalize_folder(const struct mf_sink *snk, const char *path, struct mf_error *err)
{
	const char *p = path;

	if (path == NULL || *path == '\0') {
		mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "%s: %s: empty folder name",
			     snk->label, snk->root);
		return NULL;
	}
	/* Every level must be non-empty: "A//B", "/A" and "A/" would map
	 * onto names that read back as a different hierarchy. */
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (len == 0) {
			mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				     "%s: %s: folder \"%s\": empty level in "
				     "folder name",
				     snk->label, snk->root, path);
			return NULL;
		}
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	size_t first = strcspn(path, "/");
	if (first == 5 && mf_ascii_strncasecmp(path, "INBOX", 5) == 0)
		return mf_xasprintf("INBOX%s", path + 5);
	return mf_xstrdup(path);
}

const char *local_special_use_name(enum mf_special_use su)
{
	switch (su) {
	case MF_SPECIAL_INBOX: return "INBOX";
	case MF_SPECIAL_SENT: return "Sent";
	case MF_SPECIAL_DRAFTS: return "Drafts";
	case MF_SPECIAL_TRASH: return "Trash";
	case MF_SPECIAL_JUNK: return "Junk";
	case MF_SPECIAL_ARCHIVE: return "Archive";
	case MF_SPECIAL_NONE: break;
	}
	return NULL;
}

int local_fsync_dirat(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	/* Some file systems cannot fsync a directory (EINVAL): they give no
	 * stronger guarantee anyway, so that is not an error. */
	return rc < 0 && e != EINVAL ? -1 : 0;
}

int local_mkdirat(int dirfd, const char *name)
{
	struct stat st;

	if (mkdirat(dirfd, name, 0700) == 0) {
		/* The new entry is durable only once its parent is. */
		char parent[4096];
		const char *slash = strrchr(name, '/');
		if (slash == NULL)
			return local_fsync_dirat(dirfd, ".");
		size_t n = (size_t)(slash - name);
		if (n == 0 || n >= sizeof(parent))
			return 0;
		memcpy(parent, name, n);
		parent[n] = '\0';
		return local_fsync_dirat(dirfd, parent);
	}
	if (errno != EEXIST)
		return -1;
	if (fstatat(dirfd, name, &st, 0) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int local_mkdir_p(const char *path, int *errno_r)
{
	char *copy = mf_xstrdup(path);
	size_t len = strlen(copy);

	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	/* Walk the components left to right; the root and "." exist. */
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (local_mkdirat(AT_FDCWD, copy) < 0) {
			*errno_r = errno;
			free(copy);
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return 0;
}

/* write() (off < 0) or pwrite() at off until all of buf is out.  A write
 * of 0 bytes reads as a full disk rather than looping forever. */
static int write_fully(int fd, const void *buf, size_t len, off_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		if (off >= 0)
			off += n;
		len -= (size_t)n;
	}
	return 0;
}

int local_write_all(int fd, const void *buf, size_t len)
{
	return write_fully(fd, buf, len, -1);
}

int local_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return off < 0 ? (errno = EINVAL, -1) : write_fully(fd, buf, len, off);
}

ssize_t local_pread_full(int fd, void *buf, size_t len, off_t off)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}
