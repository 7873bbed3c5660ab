/* SPDX-License-Identifier: MIT */
/* fetch() for .eml trees (one RFC 5322 message per file, e.g. a PST
 * exported by "readpst -e -o DIR"): every *.eml file directly in the
 * folder's directory, in natural name order (1.eml, 2.eml, ..., 10.eml).
 * source_id is the path relative to the tree root; the internal date comes
 * from the Date: header, else the file's mtime; there are no flags unless
 * the account option seen=1 marks everything seen. */
#include <config.h>
#include "mbox_p.h"

#include <mailferry/mime.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Enough for any sane header; a longer one just loses its Date:. */
#define EML_HEADER_PEEK (64 * 1024)

static int natural_ptr_cmp(const void *a, const void *b)
{
	return offline_natural_cmp(*(char *const *)a, *(char *const *)b);
}

static bool has_eml_ext(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && mf_ascii_strcasecmp(name + n - 4, ".eml") == 0;
}

static void header_date(int fd, const struct stat *st, int64_t *date, int32_t *tz)
{
	unsigned char *buf = mf_xmalloc(EML_HEADER_PEEK);
	ssize_t n = pread(fd, buf, EML_HEADER_PEEK, 0);
	*date = (int64_t)st->st_mtime;
	*tz = 0;
	if (n > 0) {
		size_t hlen = mf_header_block_len(buf, (size_t)n);
		if (!mf_header_date(buf, hlen, false, date, tz)) {
			*date = (int64_t)st->st_mtime;
			*tz = 0;
		}
	}
	free(buf);
}

int eml_fetch_dir(const struct offline_fetch *f, struct mf_error *err)
{
	const char *dir = f->path;
	/* dir is root or root + "/" + relative path (offline_tree.c). */
	size_t rl = strlen(f->root);
	const char *rel = strncmp(dir, f->root, rl) == 0 ? dir + rl : dir;
	while (*rel == '/')
		rel++;

	DIR *d = opendir(dir);
	if (d == NULL) {
		int e = errno;
		mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "eml: %s: %s", dir, strerror(e));
		if (err != NULL)
			err->sys_errno = e;
		return MF_ERR_FOLDER;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !has_eml_ext(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = mf_xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = mf_xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), natural_ptr_cmp);

	int rc = MF_OK;
	for (size_t i = 0; i < n && rc == MF_OK; i++) {
		if (offline_fetch_canceled(f, err)) {
			rc = MF_ERR_CANCELED;
			break;
		}
		char *id = *rel ? mf_xasprintf("%s/%s", rel, v[i]) : mf_xstrdup(v[i]);
		if (offline_fetch_have(f, id)) {
			free(id);
			continue;
		}
		char *path = mf_xasprintf("%s/%s", dir, v[i]);
		struct file_msg fm;
		struct stat st;
		if (offline_file_open(f, path, &fm, &st)) {
			struct mf_message msg = {
				.source_id = id,
				.size = (uint64_t)st.st_size,
				.flags = f->eml_seen ? MF_FLAG_SEEN : 0,
				.read = offline_file_read,
				.read_ctx = &fm,
			};
			header_date(fm.fd, &st, &msg.internal_date, &msg.tz_offset_min);
			rc = f->cb(&msg, f->aux, err);
			close(fm.fd);
		}
		free(path);
		free(id);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}
