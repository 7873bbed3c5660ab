/* SPDX-License-Identifier: MIT */
/* skeleton: a complete, small mailferry SOURCE plugin, written as the
 * starting point for your own (docs/writing-a-plugin.md walks through it).
 *
 * It reads a "legacy archive" of one file per message:
 *
 *     ARCHIVE/INBOX/1.eml            folder "INBOX", uid 1, no flags
 *     ARCHIVE/INBOX/2,S.eml          uid 2, \Seen
 *     ARCHIVE/Sent/1,SR.eml          folder "Sent" (special-use guessed), \Seen \Answered
 *     ARCHIVE/Projects/Alpha/7.eml   folder "Projects/Alpha"
 *
 * Every directory below ARCHIVE is a folder; every file named
 * UID[,FLAGS].eml in it is one raw RFC 5322 message, UID a positive
 * decimal number unique in its folder, FLAGS letters as in Maildir
 * (S seen, R answered, F flagged, D draft, T deleted, P forwarded); the
 * file's modification time is the message's internal date.  Anything else
 * is skipped with a warning.  URI: skeleton:ARCHIVE (or skeleton:///ARCHIVE).
 *
 * It uses only the installed mailferry headers and libmailferry, and reaches the core only
 * through struct mf_host, as every plugin must (docs/plugin-abi.md). */
/* POSIX (opendir, fstat, fileno) also under a strict -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <mailferry/folder.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Per-plugin state, returned by init() and passed to open(): no globals,
 * because sessions run on several threads at once. */
struct skel_plugin {
	const struct mf_host *host;
};

/* One session (one mailbox).  plugin.h only declares struct mf_source: each
 * plugin defines it as it likes. */
struct mf_source {
	struct skel_plugin *plugin;
	char *root; /* the archive directory */
	char *id;   /* the operator's name for the mailbox, for messages */
};

#define LOG(p, level, ...) (p)->host->log((p)->host->host_ctx, (level), __VA_ARGS__)

static int skel_init(const struct mf_host *host, void **plugin_ctx_r, struct mf_error *err)
{
	(void)err;
	struct skel_plugin *p = mf_xcalloc(1, sizeof(*p));
	p->host = host;
	/* A slot added in ABI 1.1 would be used only after checking
	 * host->abi_minor >= 1 (and host->struct_size); this plugin needs
	 * nothing past 1.0. */
	LOG(p, MF_LOG_DEBUG, "skeleton: loaded, host speaks plugin ABI %u.%u", host->abi_major,
	    host->abi_minor);
	*plugin_ctx_r = p;
	return MF_OK;
}

static void skel_deinit(void *plugin_ctx)
{
	free(plugin_ctx);
}

static int skel_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
		     struct mf_error *err)
{
	struct skel_plugin *p = plugin_ctx;
	struct stat sb;
	*src_r = NULL;
	if (acct->path == NULL || acct->path[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "skeleton: %s: no archive directory in the URI "
				    "(skeleton:/path/to/archive)",
				    acct->id);
	int e = stat(acct->path, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
	if (e != 0) {
		/* The whole mailbox is unusable and retrying will not help. */
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "skeleton: %s: %s: %s", acct->id,
			     acct->path, strerror(e));
		err->sys_errno = e;
		return MF_ERR_ACCOUNT;
	}
	struct mf_source *src = mf_xcalloc(1, sizeof(*src));
	src->plugin = p;
	src->root = mf_xstrdup(acct->path);
	src->id = mf_xstrdup(acct->id);
	/* acct is borrowed until close(): we copied what we keep. */
	*src_r = src;
	return MF_OK;
}

static void skel_close(struct mf_source **srcp)
{
	struct mf_source *src = *srcp;
	if (src == NULL)
		return;
	free(src->root);
	free(src->id);
	free(src);
	*srcp = NULL;
}

/* "12,SR.eml" -> uid 12, \Seen|\Answered.  false if not a message file. */
static bool parse_name(const char *name, uint64_t *uid_r, uint32_t *flags_r)
{
	size_t len = strlen(name);
	if (len < 5 || strcmp(name + len - 4, ".eml") != 0)
		return false;
	len -= 4;
	const char *comma = memchr(name, ',', len);
	size_t digits = comma ? (size_t)(comma - name) : len;
	if (!mf_parse_u64(name, digits, uid_r) || *uid_r == 0)
		return false;
	*flags_r = 0;
	for (size_t i = digits + 1; comma != NULL && i < len; i++) {
		switch (name[i]) {
		case 'S': *flags_r |= MF_FLAG_SEEN; break;
		case 'R': *flags_r |= MF_FLAG_ANSWERED; break;
		case 'F': *flags_r |= MF_FLAG_FLAGGED; break;
		case 'D': *flags_r |= MF_FLAG_DRAFT; break;
		case 'T': *flags_r |= MF_FLAG_DELETED; break;
		case 'P': *flags_r |= MF_FLAG_FORWARDED; break;
		default: return false;
		}
	}
	return true;
}

struct entry {
	uint64_t uid;
	uint32_t flags;
	char *name;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir's entries (no dot files); NULL + errno on failure. */
static char **list_dir(const char *dir, size_t *n_r)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	char **names = mf_xcalloc(1, sizeof(char *));
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = mf_xrealloc(names, (n + 2) * sizeof(char *));
		names[n++] = mf_xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	*n_r = n;
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Report rel (a folder path, "" for the root) and recurse: parents come
 * before their children, as list_folders() promises. */
static int walk(struct mf_source *src, const char *rel, mf_folder_cb *cb, void *aux,
		struct mf_error *err)
{
	char *dir = rel[0] ? mf_xasprintf("%s/%s", src->root, rel) : mf_xstrdup(src->root);
	size_t n = 0;
	char **names = list_dir(dir, &n);
	if (names == NULL) {
		int e = errno;
		int st =
			mf_error_set(err, rel[0] ? MF_ERR_FOLDER : MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				     "skeleton: %s: cannot list %s: %s", src->id, dir, strerror(e));
		free(dir);
		return st;
	}
	int st = MF_OK;
	if (rel[0] != '\0') {
		uint64_t count = 0, uid;
		uint32_t flags;
		for (size_t i = 0; i < n; i++)
			count += parse_name(names[i], &uid, &flags);
		struct mf_folder f = {
			.path = rel,
			.special_use = mf_guess_special_use(mf_folder_leaf(rel)),
			.messages = count,
			.bytes = MF_COUNT_UNKNOWN,
			.uidvalidity = 0, /* our uids never change meaning */
			.selectable = true,
		};
		st = cb(&f, aux); /* non-zero: the core wants us to stop */
	}
	for (size_t i = 0; i < n && st == MF_OK; i++) {
		char *path = mf_xasprintf("%s/%s", dir, names[i]);
		struct stat sb;
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			char *sub = rel[0] ? mf_xasprintf("%s/%s", rel, names[i])
					   : mf_xstrdup(names[i]);
			st = walk(src, sub, cb, aux, err);
			free(sub);
		}
		free(path);
	}
	free_names(names, n);
	free(dir);
	return st;
}

static int skel_list_folders(struct mf_source *src, mf_folder_cb *cb, void *aux,
			     struct mf_error *err)
{
	return walk(src, "", cb, aux, err);
}

/* What read() needs: the open file and how much is left to deliver. */
struct reader {
	FILE *f;
	uint64_t left;
	const char *what; /* "skeleton: alice: INBOX/2,S.eml", for errors */
};

static int skel_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	struct reader *r = msg->read_ctx;
	size_t want = r->left < cap ? (size_t)r->left : cap;
	size_t n = want ? fread(buf, 1, want, r->f) : 0;
	if (n < want)
		/* The file shrank or a read failed: the total must equal
		 * msg->size exactly, so this message fails (the run goes on). */
		return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_LATER,
				    "%s: file changed or unreadable while being copied", r->what);
	r->left -= n;
	*n_r = n;
	return MF_OK;
}

/* Collect and sort the folder's message files by uid. */
static struct entry *scan_folder(struct mf_source *src, const char *dir, const char *folder,
				 size_t *n_r)
{
	size_t n_names = 0, n = 0;
	char **names = list_dir(dir, &n_names);
	struct entry *v = mf_xcalloc(n_names + 1, sizeof(*v));
	for (size_t i = 0; names != NULL && i < n_names; i++) {
		struct entry e = { 0 };
		if (!parse_name(names[i], &e.uid, &e.flags)) {
			char *path = mf_xasprintf("%s/%s", dir, names[i]);
			struct stat sb;
			if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
				LOG(src->plugin, MF_LOG_WARN,
				    "skeleton: %s: %s/%s: not UID[,FLAGS].eml, "
				    "skipped",
				    src->id, folder, names[i]);
			free(path);
			continue;
		}
		e.name = mf_xstrdup(names[i]);
		v[n++] = e;
	}
	if (names != NULL)
		free_names(names, n_names);
	qsort(v, n, sizeof(*v), cmp_entry);
	*n_r = n;
	return v;
}

static int fetch_one(struct mf_source *src, const char *dir, const char *folder,
		     const struct entry *e, mf_message_cb *cb, void *aux, struct mf_error *err)
{
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)e->uid);
	char *path = mf_xasprintf("%s/%s", dir, e->name);
	char *what = mf_xasprintf("skeleton: %s: %s/%s", src->id, folder, e->name);
	struct reader r = { .what = what };
	struct mf_error failure = { 0 };
	struct stat sb;
	struct mf_message m = {
		.source_id = id,
		.uid = e->uid,
		.internal_date = MF_DATE_UNKNOWN,
		.flags = e->flags,
		.read = skel_read,
		.read_ctx = &r,
	};
	r.f = fopen(path, "rb");
	if (r.f == NULL || fstat(fileno(r.f), &sb) != 0) {
		/* Known but not producible: the core records it as failed
		 * with this text and goes on with the next message. */
		mf_error_set(&failure, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: %s", what,
			     strerror(errno));
		m.failure = &failure;
		m.read = NULL;
	} else {
		m.size = (uint64_t)sb.st_size;
		m.internal_date = (int64_t)sb.st_mtime;
		r.left = m.size;
	}
	/* m and everything it points to are ours: the core copies what it
	 * keeps before cb returns. */
	int st = cb(&m, aux, err);
	if (r.f != NULL)
		fclose(r.f);
	free(what);
	free(path);
	return st;
}

static int skel_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
		      mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	(void)sync_state_r; /* no MF_CAP_SYNC_STATE: uids are our cursor */
	char *dir = mf_xasprintf("%s/%s", src->root, folder);
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		int st =
			mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				     "skeleton: %s: folder %s vanished (%s)", src->id, folder, dir);
		free(dir);
		return st;
	}
	size_t n = 0;
	struct entry *v = scan_folder(src, dir, folder, &n);
	int st = MF_OK;
	uint64_t prev = 0;
	for (size_t i = 0; i < n && st == MF_OK; i++) {
		const struct mf_host *h = src->plugin->host;
		if (h->canceled(h->host_ctx)) {
			st = mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "canceled");
			break;
		}
		if (v[i].uid == prev) {
			LOG(src->plugin, MF_LOG_WARN,
			    "skeleton: %s: %s: uid %llu appears twice, "
			    "skipping %s",
			    src->id, folder, (unsigned long long)v[i].uid, v[i].name);
			continue;
		}
		prev = v[i].uid;
		/* MF_CAP_MONOTONIC_UIDS: everything up to last_uid is done, so
		 * skip it without even opening the file. */
		if (v[i].uid <= since->last_uid)
			continue;
		st = fetch_one(src, dir, folder, &v[i], cb, aux, err);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(dir);
	return st;
}

static const struct mf_source_ops skel_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = skel_open,
	.list_folders = skel_list_folders,
	.fetch = skel_fetch,
	.close = skel_close,
};

static const char *const skel_schemes[] = { "skeleton", NULL };

/* The one exported symbol: "skeleton_LTX_mailferry_plugin".  The module
 * file must be called skeleton.so (or skeleton.la): the loader checks
 * that .name equals the file name. */
MF_PLUGIN_EXPORT(skeleton) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "skeleton",
	.version = "1.0.0",
	.description = "one-file-per-message legacy archive (SDK example)",
	.schemes = skel_schemes,
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_MONOTONIC_UIDS,
	.init = skel_init,
	.deinit = skel_deinit,
	.source = &skel_source_ops,
};
