/* SPDX-License-Identifier: MIT */
/* Crash safety for the mbox sink.  A failed append is cut back with
 * ftruncate by mbox_append() itself, but a process killed (or a machine
 * losing power) in the middle of an append cannot clean up, and would
 * leave a torn message at the end of the mbox.  So before the first byte
 * of a message is written, a small journal file records the mbox size to
 * return to; it is made durable first and removed (durably) only after
 * the message is fsync'd.  Whoever next takes the write lock on that mbox
 * (append or lookup) finds a leftover journal, whose writer must be dead
 * since it held the lock, and truncates the mbox back.  A message whose
 * journal was still present was never reported as stored, so the core
 * appends it again: no loss, no duplicate, no torn message.
 *
 * The journal of PATH/A.sbd/B is PATH/A.sbd/.B.mailferry-journal; dot
 * files are ignored by Thunderbird and by mailferry's mbox source. */
#include <config.h>
#include "local_p.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAGIC "mailferry mbox journal 1\n"

/* "A.sbd/.B.mailferry-journal" for "A.sbd/B"; *parent_r is "A.sbd" or ".". */
static char *journal_name(const char *file, char **parent_r)
{
	const char *slash = strrchr(file, '/');
	if (slash == NULL) {
		*parent_r = mf_xstrdup(".");
		return mf_xasprintf(".%s.mailferry-journal", file);
	}
	*parent_r = mf_xstrndup(file, (size_t)(slash - file));
	return mf_xasprintf("%s/.%s.mailferry-journal", *parent_r, slash + 1);
}

int mbox_journal_recover(struct mf_sink *snk, int fd, const char *file, const char *folder,
			 struct mf_error *err)
{
	char *parent, *jname = journal_name(file, &parent);
	char text[128];
	int rc = MF_OK;

	int jfd = openat(snk->root_fd, jname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (jfd < 0) {
		if (errno != ENOENT)
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": open %s/%s", snk->label, folder,
					     snk->root, jname);
		goto out;
	}
	ssize_t n = local_pread_full(jfd, text, sizeof(text) - 1, 0);
	close(jfd);
	text[n > 0 ? n : 0] = '\0';
	const size_t mlen = strlen(JOURNAL_MAGIC);
	uint64_t off;
	struct stat st;
	if (strncmp(text, JOURNAL_MAGIC, mlen) == 0 && strncmp(text + mlen, "size ", 5) == 0 &&
	    mf_parse_u64(text + mlen + 5, strcspn(text + mlen + 5, "\n"), &off) &&
	    fstat(fd, &st) == 0 && (uint64_t)st.st_size > off) {
		if (ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0) {
			rc = local_sys_error(err, MF_ERR_FOLDER, errno,
					     "%s: folder \"%s\": cut %s/%s back "
					     "to %" PRIu64 " bytes after an "
					     "interrupted append",
					     snk->label, folder, snk->root, file, off);
			goto out;
		}
		local_log(snk, MF_LOG_WARN,
			  "%s: folder \"%s\": removed %lld "
			  "bytes of a message whose append was interrupted "
			  "from %s/%s",
			  snk->label, folder, (long long)(st.st_size - (off_t)off), snk->root,
			  file);
	}
	/* An unreadable journal was torn while being written, before any
	 * byte of the message: there is nothing to undo then. */
	if (unlinkat(snk->root_fd, jname, 0) < 0 || local_fsync_dirat(snk->root_fd, parent) < 0)
		rc = local_sys_error(err, MF_ERR_FOLDER, errno, "%s: folder \"%s\": remove %s/%s",
				     snk->label, folder, snk->root, jname);
out:
	free(jname);
	free(parent);
	return rc;
}

int mbox_journal_begin(struct mf_sink *snk, const char *file, off_t size, const char *folder,
		       struct mf_error *err)
{
	char *parent, *jname = journal_name(file, &parent);
	char text[128];
	const char *op = "create";

	int len = snprintf(text, sizeof(text), JOURNAL_MAGIC "size %lld\n", (long long)size);
	int jfd = openat(snk->root_fd, jname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			 0600);
	int rc = jfd < 0 ? -1 : 0;
	if (rc == 0) {
		op = "write";
		rc = local_write_all(jfd, text, (size_t)len);
	}
	if (rc == 0) {
		op = "fsync";
		rc = fdatasync(jfd);
	}
	int e = errno;
	if (jfd >= 0 && close(jfd) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	/* The journal's directory entry must be durable before any byte of
	 * the message can reach the disk. */
	if (rc == 0 && local_fsync_dirat(snk->root_fd, parent) < 0) {
		rc = -1;
		e = errno;
	}
	if (rc < 0) {
		if (jfd >= 0)
			unlinkat(snk->root_fd, jname, 0);
		rc = local_sys_error(err, MF_ERR_FOLDER, e, "%s: folder \"%s\": %s journal %s/%s",
				     snk->label, folder, op, snk->root, jname);
	}
	free(jname);
	free(parent);
	return rc < 0 ? MF_ERR_FOLDER : rc;
}

int mbox_journal_end(struct mf_sink *snk, const char *file, const char *folder,
		     struct mf_error *err)
{
	char *parent, *jname = journal_name(file, &parent);
	int rc = MF_OK;

	/* Durably gone before append() reports success: a journal coming
	 * back after a power loss would cut a message the core recorded. */
	if (unlinkat(snk->root_fd, jname, 0) < 0 || local_fsync_dirat(snk->root_fd, parent) < 0)
		rc = local_sys_error(err, MF_ERR_FOLDER, errno,
				     "%s: folder \"%s\": remove journal %s/%s", snk->label, folder,
				     snk->root, jname);
	free(jname);
	free(parent);
	return rc;
}
