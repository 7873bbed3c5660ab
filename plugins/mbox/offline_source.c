/* SPDX-License-Identifier: MIT */
/* Sessions of the offline sources: the mf_source_ops table shared by the
 * mbox:, maildir: and eml: schemes.  open() checks the path and options,
 * list_folders() builds the folder list once (offline_tree.c) and reports
 * it with special-use roles guessed from names, fetch() dispatches to the
 * format's reader with a struct offline_fetch (the readers never call
 * back into this file).  Plugin state is only the host pointer. */
#include <config.h>
#include "mbox_p.h"

#include <mailferry/folder.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct offline_ctx {
	const struct mf_host *host;
};

int offline_init(const struct mf_host *host, void **plugin_ctx_r, struct mf_error *err)
{
	struct offline_ctx *ctx = mf_xcalloc(1, sizeof(*ctx));
	ctx->host = host;
	*plugin_ctx_r = ctx;
	return MF_OK;
}

void offline_deinit(void *plugin_ctx)
{
	free(plugin_ctx);
}

static void offline_warn(void *aux, const char *fmt, ...) MF_PRINTF(2, 3);
static void offline_warn(void *aux, const char *fmt, ...)
{
	struct mf_source *src = aux;
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (src->host != NULL && src->host->log != NULL)
		src->host->log(src->host->host_ctx, MF_LOG_WARN, "%s: %s", src->scheme, text);
}

static void offline_close(struct mf_source **srcp)
{
	if (srcp == NULL || *srcp == NULL)
		return;
	struct mf_source *src = *srcp;
	offline_tree_free(&src->folders);
	free(src->root);
	free(src->acct_id);
	free(src);
	*srcp = NULL;
}

static bool option_bool(const char *v, bool *out)
{
	if (v == NULL)
		return true;
	if (*v == '\0' || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		*out = false;
	else
		return false;
	return true;
}

static int offline_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
			struct mf_error *err)
{
	struct offline_ctx *ctx = plugin_ctx;
	struct stat st;
	const char *scheme = acct->scheme != NULL ? acct->scheme : "";
	enum offline_kind kind;

	*src_r = NULL;
	if (strcmp(scheme, "mbox") == 0)
		kind = OFFLINE_MBOX;
	else if (strcmp(scheme, "maildir") == 0)
		kind = OFFLINE_MAILDIR;
	else if (strcmp(scheme, "eml") == 0)
		kind = OFFLINE_EML;
	else
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "mbox: unsupported scheme \"%s\"", scheme);
	if (acct->path == NULL || acct->path[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: no path given (use %s:PATH)", scheme, scheme);

	struct mf_source *src = mf_xcalloc(1, sizeof(*src));
	src->host = ctx != NULL ? ctx->host : NULL;
	src->kind = kind;
	src->scheme = kind == OFFLINE_MBOX ? "mbox" : kind == OFFLINE_MAILDIR ? "maildir" : "eml";
	src->root = mf_xstrdup(acct->path);
	src->acct_id = mf_xstrdup(acct->id != NULL ? acct->id : acct->path);
	*src_r = src;

	const char *fmt = mf_account_option(acct, "format");
	if (fmt != NULL && kind == OFFLINE_MBOX) {
		if (strcmp(fmt, "mboxo") == 0)
			src->mboxo = true;
		else if (strcmp(fmt, "mboxrd") != 0)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "mbox: %s: format=%s: expected "
					    "mboxrd or mboxo",
					    src->root, fmt);
	}
	if (!option_bool(mf_account_option(acct, "seen"), &src->eml_seen))
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: seen=%s: expected 1 or 0", scheme, src->root,
				    mf_account_option(acct, "seen"));

	if (stat(src->root, &st) != 0) {
		int e = errno;
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "%s: %s: %s", scheme, src->root,
			     strerror(e));
		err->sys_errno = e;
		return MF_ERR_ACCOUNT;
	}
	if (S_ISREG(st.st_mode) && kind == OFFLINE_MBOX) {
		src->root_is_file = true;
	} else if (!S_ISDIR(st.st_mode)) {
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "%s: %s: not a %s", scheme,
				    src->root,
				    kind == OFFLINE_MBOX ? "file or directory" : "directory");
	}
	return MF_OK;
}

static int ensure_listed(struct mf_source *src, struct mf_error *err)
{
	if (src->listed)
		return MF_OK;
	if (src->root_is_file) {
		struct stat st;
		struct offline_folder f = {
			.name = mf_xstrdup("INBOX"),
			.fs_path = mf_xstrdup(src->root),
			.messages = MF_COUNT_UNKNOWN,
			.bytes =
				stat(src->root, &st) == 0 ? (uint64_t)st.st_size : MF_COUNT_UNKNOWN,
		};
		src->folders.v = mf_xmalloc(sizeof(f));
		src->folders.v[0] = f;
		src->folders.n = src->folders.cap = 1;
	} else {
		int rc = offline_tree_build(src->kind, src->root, &src->folders, offline_warn, src,
					    err);
		if (rc != MF_OK)
			return rc;
	}
	src->listed = true;
	return MF_OK;
}

static int offline_list_folders(struct mf_source *src, mf_folder_cb *cb, void *aux,
				struct mf_error *err)
{
	int rc = ensure_listed(src, err);
	if (rc != MF_OK)
		return rc;
	for (size_t i = 0; i < src->folders.n; i++) {
		const struct offline_folder *f = &src->folders.v[i];
		struct mf_folder mf = {
			.path = f->name,
			.special_use = mf_guess_special_use(mf_folder_leaf(f->name)),
			.messages = f->messages,
			.bytes = f->bytes,
			.uidvalidity = 0,
			.selectable = f->fs_path != NULL,
		};
		/* Only the top-level INBOX is the inbox; "A/Inbox" is not. */
		if (mf.special_use == MF_SPECIAL_INBOX && strcmp(f->name, "INBOX") != 0)
			mf.special_use = MF_SPECIAL_NONE;
		if ((rc = cb(&mf, aux)) != 0) {
			if (err != NULL && err->text[0] == '\0')
				mf_error_set(err, (enum mf_status)rc, MF_RETRY_NEVER,
					     "%s: %s: stopped "
					     "by the core",
					     src->scheme, src->root);
			return rc;
		}
	}
	return MF_OK;
}

static int offline_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
			 mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	int rc = ensure_listed(src, err);
	if (rc != MF_OK)
		return rc;
	const struct offline_folder *f = offline_tree_find(&src->folders, folder);
	if (f == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "%s: %s: no folder \"%s\"",
				    src->scheme, src->root, folder);
	if (f->fs_path == NULL)
		return MF_OK; /* a container holds no messages */
	const struct offline_fetch req = {
		.host = src->host,
		.scheme = src->scheme,
		.root = src->root,
		.path = f->fs_path,
		.since = since,
		.cb = cb,
		.aux = aux,
		.mboxo = src->mboxo,
		.eml_seen = src->eml_seen,
	};
	switch (src->kind) {
	case OFFLINE_MBOX: return mbox_fetch_file(&req, err);
	case OFFLINE_MAILDIR: return maildir_fetch_dir(&req, err);
	case OFFLINE_EML: return eml_fetch_dir(&req, err);
	}
	return MF_ERR_FATAL;
}

const struct mf_source_ops offline_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = offline_open,
	.list_folders = offline_list_folders,
	.fetch = offline_fetch,
	.close = offline_close,
};
