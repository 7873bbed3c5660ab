/* SPDX-License-Identifier: MIT */
/* Maildir names and Dovecot's keyword table (include/mailferry/maildir.h):
 * the one table of info flag letters both ways, and the one reader of
 * dovecot-keywords.  Writing that file (atomically, under a lock) is the
 * local sink's; splitting a file name into base and info is the reader's. */
#include <config.h>
#include <mailferry/maildir.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In ASCII order: the writer emits them in this order. */
static const struct {
	char letter;
	uint32_t flag;
} flag_letters[] = {
	{ 'D', MF_FLAG_DRAFT },    { 'F', MF_FLAG_FLAGGED }, { 'P', MF_FLAG_FORWARDED },
	{ 'R', MF_FLAG_ANSWERED }, { 'S', MF_FLAG_SEEN },    { 'T', MF_FLAG_DELETED },
};
#define N_FLAG_LETTERS (sizeof(flag_letters) / sizeof(flag_letters[0]))

uint32_t mf_maildir_flag(char letter)
{
	for (size_t i = 0; i < N_FLAG_LETTERS; i++)
		if (flag_letters[i].letter == letter)
			return flag_letters[i].flag;
	return 0;
}

size_t mf_maildir_flag_letters(uint32_t flags, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < N_FLAG_LETTERS; i++)
		if (flags & flag_letters[i].flag)
			out[n++] = flag_letters[i].letter;
	out[n] = '\0';
	return n;
}

void mf_maildir_keywords_free(char *names[MF_MAILDIR_KEYWORDS])
{
	for (size_t i = 0; i < MF_MAILDIR_KEYWORDS; i++) {
		free(names[i]);
		names[i] = NULL;
	}
}

/* One line without its LF: "<digits> <name>", the name ending at a CR. */
static void parse_line(const char *line, size_t len, char *names[MF_MAILDIR_KEYWORDS])
{
	const char *cr = memchr(line, '\r', len);
	if (cr != NULL)
		len = (size_t)(cr - line);
	size_t digits = 0;
	while (digits < len && line[digits] >= '0' && line[digits] <= '9')
		digits++;
	uint64_t idx;
	if (digits == 0 || digits + 1 >= len || line[digits] != ' ' ||
	    !mf_parse_u64(line, digits, &idx) || idx >= MF_MAILDIR_KEYWORDS)
		return;
	const char *name = line + digits + 1;
	size_t name_len = len - digits - 1;
	if (memchr(name, '\0', name_len) != NULL)
		return; /* a NUL would cut the keyword short: junk */
	free(names[idx]);
	names[idx] = mf_xstrndup(name, name_len);
}

void mf_maildir_keywords_parse(const char *text, size_t len, char *names[MF_MAILDIR_KEYWORDS])
{
	while (len > 0) {
		const char *lf = memchr(text, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - text) : len;
		parse_line(text, n, names);
		if (lf == NULL)
			break;
		text += n + 1;
		len -= n + 1;
	}
}

/* Dovecot writes 26 short lines at most; a larger file is junk past here,
 * and only its whole lines before the limit are read. */
#define KEYWORDS_FILE_MAX (1u << 20)

bool mf_maildir_keywords_read(int dirfd, const char *path, char *names[MF_MAILDIR_KEYWORDS])
{
	mf_maildir_keywords_free(names);
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct mf_buf b = { 0 };
	bool ok = true, more = false;
	for (;;) {
		mf_buf_reserve(&b, 4096);
		size_t room = b.cap - b.len - 1;
		ssize_t r = read(fd, b.data + b.len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ok = false;
		if (r <= 0)
			break;
		b.len += (size_t)r;
		if (b.len >= KEYWORDS_FILE_MAX) {
			more = true;
			break;
		}
	}
	close(fd);
	if (ok && more) {
		/* Only whole lines: a cut one would yield a wrong name. */
		const char *lf = memrchr(b.data, '\n', b.len);
		b.len = lf != NULL ? (size_t)(lf - (const char *)b.data) : 0;
	}
	if (ok)
		mf_maildir_keywords_parse((const char *)b.data, b.len, names);
	mf_buf_free(&b);
	return ok;
}
