/* SPDX-License-Identifier: MIT */
/* The "local" sink plugin: its descriptor (schemes "maildir" and "mbox"),
 * the session lifecycle (open/close) and the ops that dispatch to the
 * maildir or mbox half by scheme.  It also owns the special-use policy of
 * ensure_folder(), the same for both formats:
 *
 *   A folder whose source marks it special-use (Sent, Drafts, Trash, Junk,
 *   Archive, INBOX) is stored under the canonical name ("Sent", ...,
 *   "INBOX"), so that mail clients find it where they look, unless a
 *   folder with the source's own path already exists in the target: then
 *   that folder (made by the operator or an earlier tool) is used as is.
 *   The path actually used is returned in *actual_r; append() must get it.
 *
 * The module itself is built from the convenience library that holds all
 * of this, so that the Check tests call exactly the code the core loads. */
#include <config.h>
#include "local_p.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int local_init(const struct mf_host *host, void **plugin_ctx_r, struct mf_error *err)
{
	struct local_plugin_ctx *ctx = mf_xcalloc(1, sizeof(*ctx));
	ctx->host = host;
	*plugin_ctx_r = ctx;
	return MF_OK;
}

static void local_deinit(void *plugin_ctx)
{
	free(plugin_ctx);
}

/* Hostname for Maildir file names.  maildir(5) asks to encode '/' and ':'
 * as \057 and \072; ',' is encoded too (\054) because ",S=" must stay
 * parsable.  Truncated so that target_id fits its 128 bytes. */
static void make_hostpart(char *out, size_t cap)
{
	char host[256];
	size_t n = 0;

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (const char *p = host; *p != '\0'; p++) {
		const char *esc = *p == '/'   ? "\\057"
				  : *p == ':' ? "\\072"
				  : *p == ',' ? "\\054"
					      : NULL;
		size_t k = esc != NULL ? 4 : 1;
		if (n + k >= cap)
			break;
		if (esc != NULL)
			memcpy(out + n, esc, 4);
		else
			out[n] = *p;
		n += k;
	}
	out[n] = '\0';
}

static int local_open(void *plugin_ctx, const struct mf_account *acct, struct mf_sink **snk_r,
		      struct mf_error *err)
{
	const struct local_plugin_ctx *ctx = plugin_ctx;
	enum local_format fmt;

	*snk_r = NULL;
	if (acct->scheme != NULL && strcmp(acct->scheme, "maildir") == 0)
		fmt = LOCAL_MAILDIR;
	else if (acct->scheme != NULL && strcmp(acct->scheme, "mbox") == 0)
		fmt = LOCAL_MBOX;
	else
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "local: %s: unsupported scheme \"%s\" "
				    "(use maildir:PATH or mbox:PATH)",
				    acct->id != NULL ? acct->id : "?",
				    acct->scheme != NULL ? acct->scheme : "");
	if (acct->path == NULL || acct->path[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "local: %s: %s: no path given (use %s:PATH)",
				    acct->id != NULL ? acct->id : "?", acct->scheme, acct->scheme);

	struct mf_sink *snk = mf_xcalloc(1, sizeof(*snk));
	snk->fmt = fmt;
	snk->host = ctx != NULL ? ctx->host : NULL;
	snk->label = mf_xasprintf("local: %s", acct->id != NULL    ? acct->id
					       : acct->uri != NULL ? acct->uri
								   : acct->path);
	snk->root = mf_xstrdup(acct->path);
	snk->root_fd = snk->folder_fd = snk->cur_fd = snk->tmp_fd = -1;
	snk->pid = getpid();
	make_hostpart(snk->hostpart, sizeof(snk->hostpart));
	snk->inbuf = mf_xmalloc(LOCAL_BUF_SIZE);
	snk->outbuf = mf_xmalloc(LOCAL_BUF_SIZE);
	*snk_r = snk;
	return fmt == LOCAL_MAILDIR ? maildir_open(snk, err) : mbox_open(snk, err);
}

static void local_close(struct mf_sink **snkp)
{
	if (snkp == NULL || *snkp == NULL)
		return;
	struct mf_sink *snk = *snkp;
	maildir_forget_folder(snk);
	if (snk->root_fd >= 0)
		close(snk->root_fd);
	free(snk->label);
	free(snk->root);
	free(snk->inbuf);
	free(snk->outbuf);
	free(snk);
	*snkp = NULL;
}

static bool folder_exists(struct mf_sink *snk, const char *folder)
{
	return snk->fmt == LOCAL_MAILDIR ? maildir_folder_exists(snk, folder)
					 : mbox_folder_exists(snk, folder);
}

static int local_ensure_folder(struct mf_sink *snk, const char *path,
			       enum mf_special_use special_use, char **actual_r,
			       struct mf_error *err)
{
	*actual_r = NULL;
	char *folder = local_normalize_folder(snk, path, err);
	if (folder == NULL)
		return MF_ERR_FOLDER;
	const char *canon = local_special_use_name(special_use);
	if (canon != NULL && strcmp(folder, canon) != 0 && !folder_exists(snk, folder)) {
		free(folder);
		folder = mf_xstrdup(canon);
	}
	int rc = snk->fmt == LOCAL_MAILDIR ? maildir_create_folder(snk, folder, err)
					   : mbox_create_folder(snk, folder, err);
	if (rc != MF_OK) {
		free(folder);
		return rc;
	}
	*actual_r = folder;
	return MF_OK;
}

static int local_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			struct mf_append_result *res_r, struct mf_error *err)
{
	res_r->target_id[0] = '\0';
	return snk->fmt == LOCAL_MAILDIR ? maildir_append(snk, folder, msg, res_r, err)
					 : mbox_append(snk, folder, msg, res_r, err);
}

static int local_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			const unsigned char digest[32], bool *found_r,
			struct mf_append_result *res_r, struct mf_error *err)
{
	res_r->target_id[0] = '\0';
	return snk->fmt == LOCAL_MAILDIR
		       ? maildir_lookup(snk, folder, msg, digest, found_r, res_r, err)
		       : mbox_lookup(snk, folder, msg, digest, found_r, res_r, err);
}

/* ABI 1.6: both layouts are the ones the offline source (plugins/mbox)
 * reads under the same scheme: Maildir++ folders, Thunderbird-style
 * mboxrd files (its default format). */
static int local_reader_uri(void *plugin_ctx, const struct mf_account *acct, char **uri_r,
			    struct mf_error *err)
{
	(void)plugin_ctx;
	*uri_r = NULL;
	if (acct->scheme == NULL ||
	    (strcmp(acct->scheme, "maildir") != 0 && strcmp(acct->scheme, "mbox") != 0))
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "local: %s: unsupported scheme \"%s\"",
				    acct->id != NULL ? acct->id : "?",
				    acct->scheme != NULL ? acct->scheme : "");
	struct mf_buf b = { 0 };
	mf_buf_printf(&b, "%s:", acct->scheme);
	/* '?' would start a query where a '=' follows it. */
	mf_buf_append_uri_part(&b, acct->path != NULL ? acct->path : "", "?");
	*uri_r = (char *)b.data;
	return MF_OK;
}

const struct mf_sink_ops local_sink_ops = {
	.struct_size = sizeof(struct mf_sink_ops),
	.open = local_open,
	.ensure_folder = local_ensure_folder,
	.append = local_append,
	.close = local_close,
	.lookup = local_lookup,
	.reader_uri = local_reader_uri,
};

static const char *const local_schemes[] = { "maildir", "mbox", NULL };

MF_PLUGIN_EXPORT(local) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SINK,
	.name = "local",
	.version = PACKAGE_VERSION,
	.description = "write to a local Maildir++ tree (maildir:PATH) or "
		       "Thunderbird-style mboxrd folders (mbox:PATH)",
	.schemes = local_schemes,
	.caps = MF_CAP_RETURNS_ID | MF_CAP_KEYWORDS,
	.init = local_init,
	.deinit = local_deinit,
	.sink = &local_sink_ops,
};
