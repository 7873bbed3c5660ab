/* SPDX-License-Identifier: MIT */
/* Folder discovery for the offline sources: turns an mbox directory
 * (Thunderbird "X.sbd/" children, Apple Mail "X.mbox/mbox" exports, plain
 * trees), a Maildir with Maildir++ ".Sub.Folder" children or a tree of
 * nested maildirs, or a tree of .eml files into one list of folders named
 * by '/'-separated UTF-8 paths.  The walkers only add folders that hold
 * mail; one final pass sorts (INBOX first, parents before children), adds
 * missing parents as non-selectable containers and makes names unique.
 * Reading messages is left to mbox_fetch.c, maildir.c and eml.c. */
#include <config.h>
#include "mbox_p.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 32

struct walk {
	enum offline_kind kind;
	struct folder_list *fl;
	offline_warn_fn *warn;
	void *warn_aux;
};

/* The directories from the root down to the one being walked: symlinks
 * are followed (people link folders in), so one pointing back to any of
 * them would loop, and two would multiply the walk at every level. */
struct visit {
	dev_t dev;
	ino_t ino;
	unsigned depth;
	const struct visit *up;
};

static bool enter(struct walk *w, const char *path, const struct stat *st, const struct visit *up,
		  struct visit *v)
{
	unsigned depth = up != NULL ? up->depth + 1 : 0;
	if (depth > MAX_DEPTH) {
		if (w->warn != NULL)
			w->warn(w->warn_aux, "%s: nested too deep: skipped", path);
		return false;
	}
	for (const struct visit *p = up; p != NULL; p = p->up) {
		if (p->dev == st->st_dev && p->ino == st->st_ino) {
			if (w->warn != NULL)
				w->warn(w->warn_aux, "%s: symlink loop: skipped", path);
			return false;
		}
	}
	*v = (struct visit){ st->st_dev, st->st_ino, depth, up };
	return true;
}

/* ------------------------------------------------------------------ */
/* List handling                                                       */

static void fl_add(struct folder_list *fl, char *name, char *alt, char *fs, uint64_t messages,
		   uint64_t bytes)
{
	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? fl->cap * 2 : 16;
		fl->v = mf_xrealloc(fl->v, fl->cap * sizeof(*fl->v));
	}
	fl->v[fl->n++] = (struct offline_folder){
		.name = name, .alt_name = alt, .fs_path = fs, .messages = messages, .bytes = bytes
	};
}

static void folder_free(struct offline_folder *f)
{
	free(f->name);
	free(f->alt_name);
	free(f->fs_path);
}

void offline_tree_free(struct folder_list *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		folder_free(&fl->v[i]);
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

/* INBOX first, then bytewise with '/' sorting before every other byte, so
 * a parent comes right before its children. */
static int name_cmp(const char *a, const char *b)
{
	bool ia = strcmp(a, "INBOX") == 0, ib = strcmp(b, "INBOX") == 0;
	if (ia != ib)
		return ia ? -1 : 1;
	for (;; a++, b++) {
		unsigned ca = *a == '/' ? 1 : (unsigned char)*a;
		unsigned cb = *b == '/' ? 1 : (unsigned char)*b;
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == 0)
			return 0;
	}
}

static int folder_cmp(const void *pa, const void *pb)
{
	const struct offline_folder *a = pa, *b = pb;
	int c = name_cmp(a->name, b->name);
	if (c != 0)
		return c;
	/* Equal names: real folders before containers, then the one that
	 * has no alternative name (it got its name first-hand). */
	if ((a->fs_path == NULL) != (b->fs_path == NULL))
		return a->fs_path != NULL ? -1 : 1;
	if ((a->alt_name == NULL) != (b->alt_name == NULL))
		return a->alt_name == NULL ? -1 : 1;
	return strcmp(a->fs_path ? a->fs_path : "", b->fs_path ? b->fs_path : "");
}

const struct offline_folder *offline_tree_find(const struct folder_list *fl, const char *name)
{
	size_t lo = 0, hi = fl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, fl->v[mid].name);
		if (c == 0)
			return &fl->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void sort_list(struct folder_list *fl)
{
	if (fl->n > 1)
		qsort(fl->v, fl->n, sizeof(*fl->v), folder_cmp);
}

/* Sort, rename or drop duplicates, add missing parents. */
static void finalize(struct walk *w)
{
	struct folder_list *fl = w->fl;
	sort_list(fl);
	bool renamed = false;
	for (size_t i = 1; i < fl->n; i++) {
		struct offline_folder *f = &fl->v[i];
		if (strcmp(f->name, fl->v[i - 1].name) != 0 || f->alt_name == NULL)
			continue;
		free(f->name);
		f->name = f->alt_name;
		f->alt_name = NULL;
		renamed = true;
	}
	/* A top-level "Inbox" that became INBOX takes its children along
	 * ("Inbox/Sub" from Thunderbird's Inbox.sbd → "INBOX/Sub"). */
	const char *alias = NULL;
	for (size_t i = 0; i < fl->n && alias == NULL; i++)
		if (strcmp(fl->v[i].name, "INBOX") == 0 && fl->v[i].alt_name != NULL)
			alias = fl->v[i].alt_name;
	size_t al = alias != NULL ? strlen(alias) : 0;
	for (size_t i = 0; alias != NULL && i < fl->n; i++) {
		char *n = fl->v[i].name;
		if (strncmp(n, alias, al) == 0 && n[al] == '/') {
			fl->v[i].name = mf_xasprintf("INBOX%s", n + al);
			free(n);
			renamed = true;
		}
	}
	if (renamed)
		sort_list(fl);
	/* Parents: every prefix ending before a '/'. */
	size_t n0 = fl->n;
	for (size_t i = 0; i < n0; i++) {
		const char *name = fl->v[i].name;
		for (const char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
			char *parent = mf_xstrndup(name, (size_t)(p - name));
			bool have = false;
			for (size_t j = n0; j < fl->n && !have; j++)
				have = strcmp(fl->v[j].name, parent) == 0;
			struct folder_list head = { fl->v, n0, n0 };
			if (have || offline_tree_find(&head, parent) != NULL) {
				free(parent);
				continue;
			}
			fl_add(fl, parent, NULL, NULL, 0, 0);
		}
	}
	sort_list(fl);
	size_t o = 0;
	for (size_t i = 0; i < fl->n; i++) {
		if (o > 0 && strcmp(fl->v[o - 1].name, fl->v[i].name) == 0) {
			if (fl->v[i].fs_path != NULL && w->warn != NULL)
				w->warn(w->warn_aux,
					"%s: folder name \"%s\" "
					"already used by %s: skipped",
					fl->v[i].fs_path, fl->v[i].name,
					fl->v[o - 1].fs_path ? fl->v[o - 1].fs_path
							     : "a container");
			folder_free(&fl->v[i]);
			continue;
		}
		fl->v[o++] = fl->v[i];
	}
	fl->n = o;
}

/* ------------------------------------------------------------------ */
/* Directory helpers                                                   */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of dir except "." and "..", NULL-terminated. */
static char **list_dir(const char *dir, int *errno_r)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		*errno_r = errno;
		return NULL;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 32;
			v = mf_xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = mf_xstrdup(de->d_name);
	}
	closedir(d);
	if (v == NULL)
		v = mf_xcalloc(1, sizeof(*v));
	else if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	v[n] = NULL;
	return v;
}

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	return mf_xasprintf("%s%s%s", a, la > 0 && a[la - 1] == '/' ? "" : "/", b);
}

static char *name_join(const char *prefix, const char *leaf)
{
	return prefix ? mf_xasprintf("%s/%s", prefix, leaf) : mf_xstrdup(leaf);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && mf_ascii_strcasecmp(s + ls - lx, suffix) == 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A top-level "Inbox"/"inbox" is the inbox; the raw name stays as the
 * alternative in case a real INBOX exists too. */
static struct offline_folder *add_named(struct walk *w, const char *prefix, const char *leaf,
					char *fs, uint64_t messages, uint64_t bytes)
{
	char *name = name_join(prefix, leaf);
	char *alt = NULL;
	if (prefix == NULL && mf_ascii_strcasecmp(leaf, "inbox") == 0 &&
	    strcmp(leaf, "INBOX") != 0) {
		alt = name;
		name = mf_xstrdup("INBOX");
	}
	fl_add(w->fl, name, alt, fs, messages, bytes);
	return &w->fl->v[w->fl->n - 1];
}

/* ------------------------------------------------------------------ */
/* mbox trees                                                          */

/* Index, summary and state files that mail clients keep next to their
 * mbox files (Thunderbird .msf/.dat/.html, Evolution .cmeta/.ev-summary,
 * Dovecot/UW index files). */
static bool mbox_skip_file(const char *name)
{
	static const char *const ext[] = { ".msf",        ".dat",
					   ".html",       ".htm",
					   ".json",       ".sqlite",
					   ".db",         ".idx",
					   ".index",      ".toc",
					   ".lock",       ".cmeta",
					   ".ev-summary", ".ev-summary-meta",
					   ".data",       ".plist",
					   ".log",        ".bak",
					   ".eml",        "~" };
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (ends_with(name, ext[i]))
			return true;
	return strncmp(name, "dovecot.", 8) == 0 || strcmp(name, "table_of_contents") == 0;
}

static void walk_mbox(struct walk *w, const char *dir, const char *prefix, const struct visit *here,
		      bool apple)
{
	int e = 0;
	char **names = list_dir(dir, &e);
	if (names == NULL) {
		if (w->warn)
			w->warn(w->warn_aux, "%s: %s", dir, strerror(e));
		return;
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		const char *nm = names[i];
		struct stat st;
		if (nm[0] == '.')
			continue;
		char *full = path_join(dir, nm);
		if (stat(full, &st) != 0) {
			free(full);
			continue; /* dangling symlink, raced away */
		}
		struct visit sub_v;
		if (S_ISDIR(st.st_mode) && !ends_with(nm, ".mozmsgs") &&
		    enter(w, full, &st, here, &sub_v)) {
			size_t ln = strlen(nm);
			char *leaf, *mbox_file = NULL;
			bool is_apple = false;
			if (ends_with(nm, ".sbd")) {
				leaf = offline_name_from_bytes(nm, ln - 4);
			} else if (ends_with(nm, ".mbox")) {
				/* Apple Mail export: X.mbox/mbox. */
				leaf = offline_name_from_bytes(nm, ln - 5);
				mbox_file = path_join(full, "mbox");
				struct stat ms;
				is_apple = stat(mbox_file, &ms) == 0 && S_ISREG(ms.st_mode);
				if (is_apple)
					add_named(w, prefix, leaf, mbox_file, MF_COUNT_UNKNOWN,
						  (uint64_t)ms.st_size);
				else
					free(mbox_file);
			} else {
				leaf = offline_name_from_bytes(nm, ln);
			}
			char *sub = name_join(prefix, leaf);
			walk_mbox(w, full, sub, &sub_v, is_apple);
			free(sub);
			free(leaf);
		} else if (S_ISREG(st.st_mode) && !mbox_skip_file(nm) &&
			   !(apple && strcmp(nm, "mbox") == 0)) {
			size_t ln = strlen(nm);
			bool strip = ends_with(nm, ".mbox") && ln > 5;
			char *leaf = offline_name_from_bytes(nm, strip ? ln - 5 : ln);
			struct offline_folder *f =
				add_named(w, prefix, leaf, full, MF_COUNT_UNKNOWN,
					  (uint64_t)st.st_size);
			if (strip && f->alt_name == NULL) /* "Sent" and
							     "Sent.mbox" */
				f->alt_name = name_join(prefix, nm);
			free(leaf);
			full = NULL; /* owned by the list */
		}
		free(full);
	}
	for (size_t i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* ------------------------------------------------------------------ */
/* Maildir trees                                                       */

/* Messages and bytes in cur/ and new/ (dot files are not messages). */
static bool maildir_counts(const char *dir, uint64_t *msgs, uint64_t *bytes)
{
	static const char *const subs[] = { "cur", "new" };
	bool any = false;
	*msgs = *bytes = 0;
	for (size_t s = 0; s < 2; s++) {
		char *sub = path_join(dir, subs[s]);
		DIR *d = opendir(sub);
		free(sub);
		if (d == NULL)
			continue;
		any = true;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
				continue;
			(*msgs)++;
			*bytes += (uint64_t)st.st_size;
		}
		closedir(d);
	}
	return any;
}

static void add_maildir(struct walk *w, const char *prefix, const char *leaf, const char *dir)
{
	uint64_t m, b;
	if (maildir_counts(dir, &m, &b))
		add_named(w, prefix, leaf, mf_xstrdup(dir), m, b);
}

/* Nested maildirs: any directory holding cur/ or new/ is a folder. */
static void walk_maildir_nested(struct walk *w, const char *dir, const char *name,
				const struct visit *here)
{
	int e = 0;
	char **names = list_dir(dir, &e);
	if (names == NULL)
		return;
	for (size_t i = 0; names[i] != NULL; i++) {
		const char *nm = names[i];
		if (nm[0] == '.' || strcmp(nm, "cur") == 0 || strcmp(nm, "new") == 0 ||
		    strcmp(nm, "tmp") == 0)
			continue;
		char *full = path_join(dir, nm);
		struct stat st;
		struct visit sub_v;
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode) &&
		    enter(w, full, &st, here, &sub_v)) {
			char *leaf = offline_name_from_bytes(nm, strlen(nm));
			char *sub = name_join(name, leaf);
			char *mdir = path_join(full, "cur");
			char *ndir = path_join(full, "new");
			if (is_dir(mdir) || is_dir(ndir))
				add_maildir(w, name, leaf, full);
			free(mdir);
			free(ndir);
			walk_maildir_nested(w, full, sub, &sub_v);
			free(sub);
			free(leaf);
		}
		free(full);
	}
	for (size_t i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Maildir++ (Courier, Dovecot default layout): ".A.B" is folder "A/B",
 * each level in modified UTF-7. */
static void add_maildirpp(struct walk *w, const char *root, const char *nm)
{
	struct mf_buf name = { 0 };
	const char *p = nm + 1;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0) {
			mf_buf_free(&name);
			return; /* "..", ".A..B", ".A.": not a folder */
		}
		char *level = offline_mutf7_decode(p, len);
		if (level == NULL)
			level = offline_name_from_bytes(p, len);
		if (name.len > 0)
			mf_buf_append(&name, "/", 1);
		mf_buf_append_str(&name, level);
		free(level);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	char *full = path_join(root, nm);
	uint64_t m, b;
	if (is_dir(full) && maildir_counts(full, &m, &b))
		fl_add(w->fl, (char *)name.data, offline_name_from_bytes(nm + 1, strlen(nm + 1)),
		       full, m, b);
	else {
		free(full);
		mf_buf_free(&name);
	}
}

static void walk_maildir(struct walk *w, const char *root, const struct visit *here)
{
	add_maildir(w, NULL, "INBOX", root);
	int e = 0;
	char **names = list_dir(root, &e);
	if (names == NULL)
		return;
	for (size_t i = 0; names[i] != NULL; i++)
		if (names[i][0] == '.')
			add_maildirpp(w, root, names[i]);
	for (size_t i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
	walk_maildir_nested(w, root, NULL, here);
}

/* ------------------------------------------------------------------ */
/* .eml trees                                                          */

static void walk_eml(struct walk *w, const char *dir, const char *prefix, const struct visit *here)
{
	int e = 0;
	char **names = list_dir(dir, &e);
	if (names == NULL) {
		if (w->warn)
			w->warn(w->warn_aux, "%s: %s", dir, strerror(e));
		return;
	}
	uint64_t msgs = 0, bytes = 0;
	for (size_t i = 0; names[i] != NULL; i++) {
		const char *nm = names[i];
		struct stat st;
		struct visit sub_v;
		if (nm[0] == '.')
			continue;
		char *full = path_join(dir, nm);
		if (stat(full, &st) == 0) {
			if (S_ISREG(st.st_mode) && ends_with(nm, ".eml")) {
				msgs++;
				bytes += (uint64_t)st.st_size;
			} else if (S_ISDIR(st.st_mode) && enter(w, full, &st, here, &sub_v)) {
				char *leaf = offline_name_from_bytes(nm, strlen(nm));
				char *sub = name_join(prefix, leaf);
				walk_eml(w, full, sub, &sub_v);
				free(sub);
				free(leaf);
			}
		}
		free(full);
	}
	if (msgs > 0) {
		if (prefix == NULL) {
			fl_add(w->fl, mf_xstrdup("INBOX"), NULL, mf_xstrdup(dir), msgs, bytes);
		} else {
			const char *slash = strrchr(prefix, '/');
			char *parent = slash ? mf_xstrndup(prefix, (size_t)(slash - prefix)) : NULL;
			add_named(w, parent, slash ? slash + 1 : prefix, mf_xstrdup(dir), msgs,
				  bytes);
			free(parent);
		}
	}
	for (size_t i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int offline_tree_build(enum offline_kind kind, const char *root, struct folder_list *fl,
		       offline_warn_fn *warn, void *warn_aux, struct mf_error *err)
{
	struct walk w = { kind, fl, warn, warn_aux };
	struct stat st;
	struct visit top;
	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode) || !enter(&w, root, &st, NULL, &top))
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: %s: not a readable directory",
				    kind == OFFLINE_MBOX      ? "mbox"
				    : kind == OFFLINE_MAILDIR ? "maildir"
							      : "eml",
				    root);
	switch (kind) {
	case OFFLINE_MBOX: walk_mbox(&w, root, NULL, &top, false); break;
	case OFFLINE_MAILDIR: walk_maildir(&w, root, &top); break;
	case OFFLINE_EML: walk_eml(&w, root, NULL, &top); break;
	}
	finalize(&w);
	return MF_OK;
}
