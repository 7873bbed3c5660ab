/* SPDX-License-Identifier: MIT */
/* fetch() for maildir folders.  A maildir message is one file in cur/ or new/ (tmp/ holds
 * deliveries in progress and is never read).  Its name carries the flags
 * after ":2," (https://cr.yp.to/proto/maildir.html; Windows-friendly
 * tools write ';' or '!' for ':'): S seen, R answered, F flagged, T
 * trashed (deleted), D draft, P passed (forwarded); lowercase letters are
 * Dovecot keywords numbered by the folder's dovecot-keywords file.  The
 * source_id is the name up to the info part, so it survives flag changes;
 * size is the file size (what read() yields) and the internal date its
 * mtime, which deliverers set to the delivery time. */
#include <config.h>
#include "mbox_p.h"

#include <mailferry/maildir.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Names                                                               */

static const char *info_sep(const char *name)
{
	const char *c = strchr(name, ':');
	if (c != NULL)
		return c;
	for (const char *p = name; *p != '\0'; p++)
		if ((*p == ';' || *p == '!') && p[1] == '2' && p[2] == ',')
			return p;
	return NULL;
}

size_t maildir_base_len(const char *name)
{
	const char *sep = info_sep(name);
	return sep != NULL ? (size_t)(sep - name) : strlen(name);
}

uint32_t maildir_name_flags(const char *name, char *letters_r, size_t cap)
{
	const char *sep = info_sep(name);
	uint32_t flags = 0;
	size_t nl = 0;
	if (cap > 0)
		letters_r[0] = '\0';
	if (sep == NULL || sep[1] != '2' || sep[2] != ',')
		return 0;
	for (const char *p = sep + 3; *p != '\0' && *p != ','; p++) {
		if (*p >= 'a' && *p <= 'z') {
			if (nl + 1 < cap && memchr(letters_r, *p, nl) == NULL)
				letters_r[nl++] = *p;
		} else {
			flags |= mf_maildir_flag(*p);
		}
	}
	if (cap > 0)
		letters_r[nl] = '\0';
	return flags;
}

/* ------------------------------------------------------------------ */
/* fetch                                                               */

struct entry {
	char *name;
	bool is_new;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void collect(const char *dir, const char *sub, bool is_new, struct entry **v, size_t *n,
		    size_t *cap)
{
	char *path = mf_xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	free(path);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = mf_xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[(*n)++] = (struct entry){ mf_xstrdup(de->d_name), is_new };
	}
	closedir(d);
}

int maildir_fetch_dir(const struct offline_fetch *f, struct mf_error *err)
{
	const char *dir = f->path;
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	char *kwnames[MF_MAILDIR_KEYWORDS] = { NULL };
	int rc = MF_OK;

	collect(dir, "cur", false, &v, &n, &cap);
	collect(dir, "new", true, &v, &n, &cap);
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	char *kwpath = mf_xasprintf("%s/dovecot-keywords", dir);
	(void)mf_maildir_keywords_read(AT_FDCWD, kwpath, kwnames);
	free(kwpath);

	for (size_t i = 0; i < n && rc == MF_OK; i++) {
		if (offline_fetch_canceled(f, err)) {
			rc = MF_ERR_CANCELED;
			break;
		}
		const char *name = v[i].name;
		char *id = mf_xstrndup(name, maildir_base_len(name));
		if (offline_fetch_have(f, id)) {
			free(id);
			continue;
		}
		char letters[27];
		uint32_t flags = maildir_name_flags(name, letters, sizeof(letters));
		if (v[i].is_new)
			flags &= ~MF_FLAG_SEEN; /* new/ = not yet seen by a MUA */
		const char *kw[27];
		size_t nk = 0;
		for (const char *l = letters; *l != '\0'; l++)
			if (kwnames[*l - 'a'] != NULL)
				kw[nk++] = kwnames[*l - 'a'];
		kw[nk] = NULL;

		char *path = mf_xasprintf("%s/%s/%s", dir, v[i].is_new ? "new" : "cur", name);
		struct file_msg fm;
		struct stat st;
		if (offline_file_open(f, path, &fm, &st)) {
			struct mf_message msg = {
				.source_id = id,
				.size = (uint64_t)st.st_size,
				.internal_date = (int64_t)st.st_mtime,
				.tz_offset_min = 0,
				.flags = flags,
				.keywords = nk > 0 ? kw : NULL,
				.read = offline_file_read,
				.read_ctx = &fm,
			};
			rc = f->cb(&msg, f->aux, err);
			close(fm.fd);
		}
		free(path);
		free(id);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	mf_maildir_keywords_free(kwnames);
	return rc;
}
