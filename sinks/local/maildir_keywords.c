/* SPDX-License-Identifier: MIT */
/* IMAP keywords for the maildir sink, in Dovecot's layout: each maildir
 * folder has a "dovecot-keywords" file of "<index> <keyword>" lines, and
 * a message carries keyword <index> as the letter 'a' + index in the info
 * part of its file name (so at most 26 keywords per folder).  This file
 * owns assigning letters to new keywords and replacing the file
 * atomically (write in tmp/, fsync, rename, fsync the folder) before any
 * message that uses a new letter is renamed into cur/.
 * Additions happen under flock() on the folder directory after a fresh
 * read, so parallel sessions never give one letter two meanings.
 * Keywords that are not IMAP atoms (RFC 3501 §9 "flag-keyword") or do not
 * fit into the 26 letters are dropped with a warning: the message itself
 * still arrives.  Reading the table is libmailferry's
 * (mf_maildir_keywords_read), the same reader the maildir source uses. */
#include <config.h>
#include "local_p.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

void maildir_keywords_clear(struct mf_sink *snk)
{
	mf_maildir_keywords_free(snk->keywords);
}

void maildir_keywords_load(struct mf_sink *snk)
{
	(void)mf_maildir_keywords_read(snk->folder_fd, "dovecot-keywords", snk->keywords);
}

/* RFC 3501 §9: flag-keyword = atom; atom-specials are "(){ %*\"\\]" and
 * CTLs.  A '\' start would also make it look like a system flag. */
static bool keyword_valid(const char *kw)
{
	if (*kw == '\0' || strlen(kw) > 255)
		return false;
	for (const unsigned char *p = (const unsigned char *)kw; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return true;
}

static int write_keywords(struct mf_sink *snk, const char *folder, struct mf_error *err)
{
	char tmpname[128];
	struct timespec now;
	struct mf_buf b = { 0 };

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(tmpname, sizeof(tmpname),
		 "tmp/%" PRId64 ".M%06ldP%ldQ%" PRIu64 ".dovecot-keywords", (int64_t)now.tv_sec,
		 now.tv_nsec / 1000, (long)snk->pid, ++snk->counter);
	for (size_t i = 0; i < LOCAL_MAX_KEYWORDS; i++) {
		if (snk->keywords[i] != NULL)
			mf_buf_printf(&b, "%zu %s\n", i, snk->keywords[i]);
	}
	const char *op = "create";
	int fd = openat(snk->folder_fd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : 0;
	if (rc == 0) {
		op = "write";
		rc = local_write_all(fd, b.data, b.len);
	}
	if (rc == 0) {
		op = "fsync";
		rc = fsync(fd);
	}
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		op = "close";
		rc = -1;
		e = errno;
	}
	if (rc == 0) {
		op = "rename";
		rc = renameat(snk->folder_fd, tmpname, snk->folder_fd, "dovecot-keywords");
		e = errno;
	}
	if (rc == 0) {
		op = "fsync";
		rc = fsync(snk->folder_fd);
		e = errno;
		if (rc < 0 && e == EINVAL)
			rc = 0;
	}
	mf_buf_free(&b);
	if (rc == 0)
		return MF_OK;
	if (fd >= 0)
		unlinkat(snk->folder_fd, tmpname, 0);
	return local_sys_error(err, MF_ERR_FOLDER, e, "%s: folder \"%s\": %s %s/dovecot-keywords",
			       snk->label, folder, op, snk->cur_path);
}

static size_t find_keyword(const struct mf_sink *snk, const char *kw, size_t *free_slot_r)
{
	*free_slot_r = LOCAL_MAX_KEYWORDS;
	for (size_t i = 0; i < LOCAL_MAX_KEYWORDS; i++) {
		if (snk->keywords[i] == NULL) {
			if (*free_slot_r == LOCAL_MAX_KEYWORDS)
				*free_slot_r = i;
			continue;
		}
		/* RFC 3501 §2.3.2: keywords compare case-insensitively. */
		if (mf_ascii_strcasecmp(snk->keywords[i], kw) == 0)
			return i;
	}
	return LOCAL_MAX_KEYWORDS;
}

/* Assign letters; with may_add, new keywords take free slots (dirty). */
static uint32_t assign(struct mf_sink *snk, const char *folder, const char *const *keywords,
		       bool may_add, bool warn, bool *missing_r, bool *dirty_r)
{
	uint32_t used = 0;
	for (const char *const *k = keywords; *k != NULL; k++) {
		size_t free_slot;
		if (!keyword_valid(*k)) {
			if (warn)
				local_log(snk, MF_LOG_WARN,
					  "%s: folder \"%s\": "
					  "keyword \"%.64s\" is not an IMAP "
					  "atom; dropped",
					  snk->label, folder, *k);
			continue;
		}
		size_t i = find_keyword(snk, *k, &free_slot);
		if (i == LOCAL_MAX_KEYWORDS && !may_add) {
			*missing_r = true;
			continue;
		}
		if (i == LOCAL_MAX_KEYWORDS) {
			if (free_slot == LOCAL_MAX_KEYWORDS) {
				local_log(snk, MF_LOG_WARN,
					  "%s: folder \"%s\": "
					  "keyword \"%s\" dropped: dovecot-"
					  "keywords holds 26 already",
					  snk->label, folder, *k);
				continue;
			}
			i = free_slot;
			snk->keywords[i] = mf_xstrdup(*k);
			*dirty_r = true;
		}
		used |= 1u << i;
	}
	return used;
}

int maildir_keywords_letters(struct mf_sink *snk, const char *folder, const char *const *keywords,
			     char *letters_r, struct mf_error *err)
{
	bool missing = false, dirty = false;
	uint32_t used = assign(snk, folder, keywords, false, true, &missing, &dirty);

	if (missing) {
		/* Another session (thread or process) may have added
		 * keywords since we read the table: under an exclusive lock
		 * on the folder directory, re-read it, then add ours.  flock
		 * locks belong to the open file description, so sessions of
		 * one process exclude each other too. */
		while (flock(snk->folder_fd, LOCK_EX) < 0) {
			if (errno != EINTR)
				return local_sys_error(err, MF_ERR_FOLDER, errno,
						       "%s: folder \"%s\": lock %s", snk->label,
						       folder, snk->cur_path);
		}
		maildir_keywords_load(snk);
		used = assign(snk, folder, keywords, true, false, &missing, &dirty);
		int rc = dirty ? write_keywords(snk, folder, err) : MF_OK;
		if (rc != MF_OK)
			maildir_keywords_load(snk); /* forget what failed */
		flock(snk->folder_fd, LOCK_UN);
		if (rc != MF_OK)
			return rc;
	}
	size_t n = 0;
	for (size_t i = 0; i < LOCAL_MAX_KEYWORDS; i++) {
		if (used & (1u << i))
			letters_r[n++] = (char)('a' + i);
	}
	letters_r[n] = '\0';
	return MF_OK;
}
