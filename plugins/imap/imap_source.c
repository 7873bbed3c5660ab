/* SPDX-License-Identifier: MIT */
/* The IMAP source session: open (URI to a logged-in lib/imapc session,
 * imaps:// = implicit TLS on 993, imap:// = STARTTLS on 143 unless
 * tls=none), reconnect after a dropped connection, and the folder list:
 * LIST with SPECIAL-USE, the personal namespace prefix stripped
 * (RFC 2342), names turned into '/'-separated UTF-8 paths, parents
 * before children, message counts and UIDVALIDITY from pipelined STATUS
 * commands.  Fetching (imap_fetch.c) calls into this file, never the
 * reverse; imap_ops.c joins the two. */
#include <config.h>
#include "imap_p.h"

#include <mailferry/folder.h>

#include <stdlib.h>
#include <string.h>

int imap_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	(void)err;
	struct imap_plugin *pc = mf_xcalloc(1, sizeof(*pc));
	pc->host = host;
	*ctx_r = pc;
	return MF_OK;
}

void imap_plugin_deinit(void *ctx)
{
	free(ctx);
}

static void free_folders(struct mf_source *src)
{
	for (size_t i = 0; i < src->nfolders; i++) {
		free(src->folders[i].name);
		free(src->folders[i].path);
	}
	free(src->folders);
	src->folders = NULL;
	src->nfolders = 0;
	src->listed = false;
}

void imap_close(struct mf_source **srcp)
{
	struct mf_source *src = *srcp;
	if (src == NULL)
		return;
	imapc_close(&src->c);
	imapc_account_free(&src->acct);
	free_folders(src);
	free(src->ns_prefix);
	free(src);
	*srcp = NULL;
}

int imap_ensure_conn(struct mf_source *src, struct mf_error *err)
{
	if (src->c != NULL && !imapc_is_broken(src->c))
		return MF_OK;
	imapc_close(&src->c);
	return imapc_account_connect(src->acct, &src->c, err);
}

int imap_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
	      struct mf_error *err)
{
	struct imap_plugin *pc = plugin_ctx;
	*src_r = NULL;
	bool implicit = acct->scheme == NULL || mf_ascii_strcasecmp(acct->scheme, "imap") != 0;
	struct mf_source *src = mf_xcalloc(1, sizeof(*src));
	src->plugin = pc;
	src->batch = 200;
	const char *b = mf_account_option(acct, "batch");
	uint64_t bv;
	if (b != NULL && mf_parse_u64(b, strlen(b), &bv) && bv > 0 && bv <= 5000)
		src->batch = (unsigned)bv;
	int st = imapc_account_new(pc->host, acct, "imap", acct->host, acct->port, implicit,
				   &src->acct, err);
	if (st == MF_OK)
		st = imap_ensure_conn(src, err);
	if (st != MF_OK) {
		imap_close(&src);
		return st;
	}
	*src_r = src;
	return MF_OK;
}

/* ---- LIST --------------------------------------------------------- */

static int collect(const struct imapc_list_entry *e, void *ctx, struct mf_error *err)
{
	(void)err;
	struct mf_source *src = ctx;
	if (e->flags & IMAPC_LIST_NONEXISTENT)
		return MF_OK;
	if (e->sep != 0)
		src->sep = e->sep;
	char *path = imapc_name_to_path(e->name_mutf7, e->sep, src->ns_prefix);
	/* Two server names may map to one path ("a/b" level vs "a_b"):
	 * keep the first, the other would be merged silently otherwise. */
	for (size_t i = 0; i < src->nfolders; i++)
		if (strcmp(src->folders[i].path, path) == 0) {
			free(path);
			return MF_OK;
		}
	src->folders = mf_xrealloc(src->folders, (src->nfolders + 1) * sizeof(*src->folders));
	struct imap_folder *f = &src->folders[src->nfolders++];
	memset(f, 0, sizeof(*f));
	f->name = mf_xstrdup(e->name_mutf7);
	f->path = path;
	f->selectable = !(e->flags & IMAPC_LIST_NOSELECT);
	f->special_use = e->special_use;
	/* Without RFC 6154 data, guess from the name, top level only
	 * ("Projects/Sent" is a user folder). */
	if (f->special_use == MF_SPECIAL_NONE && strchr(path, '/') == NULL)
		f->special_use = mf_guess_special_use(path);
	f->messages = MF_COUNT_UNKNOWN;
	return MF_OK;
}

static int by_path(const void *a, const void *b)
{
	const struct imap_folder *x = a, *y = b;
	/* INBOX first, then byte order: a parent is a prefix of its
	 * children, so it sorts before them. */
	bool xi = strcmp(x->path, "INBOX") == 0, yi = strcmp(y->path, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->path, y->path);
}

struct status_ctx {
	struct mf_source *src;
};

static int on_status(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct mf_source *src = ctx;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "STATUS") != 0 || r->args.n_items < 2 ||
	    r->args.items[1].type != IMAPC_LIST)
		return MF_OK;
	const char *name = imapc_value_str(&r->args.items[0]);
	if (name == NULL)
		return MF_OK;
	for (size_t i = 0; i < src->nfolders; i++) {
		struct imap_folder *f = &src->folders[i];
		if (strcmp(f->name, name) != 0 && !(mf_ascii_strcasecmp(name, "INBOX") == 0 &&
						    mf_ascii_strcasecmp(f->name, "INBOX") == 0))
			continue;
		const struct imapc_value *l = &r->args.items[1];
		for (size_t k = 0; k + 1 < l->n_items; k += 2) {
			uint64_t v;
			if (!imapc_value_u64(&l->items[k + 1], &v))
				continue;
			if (imapc_value_is_atom(&l->items[k], "MESSAGES"))
				f->messages = v;
			else if (imapc_value_is_atom(&l->items[k], "UIDVALIDITY"))
				f->uidvalidity = (uint32_t)v;
		}
	}
	return MF_OK;
}

int imap_load_folders(struct mf_source *src, bool counts, struct mf_error *err)
{
	int st = imap_ensure_conn(src, err);
	if (st != MF_OK)
		return st;
	if (src->listed && !counts)
		return MF_OK;
	free_folders(src);
	st = imapc_namespace_prefix(src->c, &src->ns_prefix, err);
	if (st != MF_OK)
		return st;
	if ((st = imapc_list(src->c, "*", collect, src, err)) != MF_OK)
		return st;
	bool have_inbox = false;
	for (size_t i = 0; i < src->nfolders; i++)
		have_inbox |= strcmp(src->folders[i].path, "INBOX") == 0;
	if (!have_inbox) {
		/* RFC 3501 §6.3.8: "*" may leave out INBOX on some servers
		 * (it lives outside the namespace); it always exists. */
		struct imapc_list_entry e = { .name_mutf7 = "INBOX",
					      .special_use = MF_SPECIAL_INBOX,
					      .sep = src->sep };
		collect(&e, src, err);
	}
	qsort(src->folders, src->nfolders, sizeof(*src->folders), by_path);
	src->listed = true;
	if (!counts)
		return MF_OK;
	/* All STATUS commands in flight at once: one round trip total. */
	unsigned *tags = mf_xcalloc(src->nfolders + 1, sizeof(*tags));
	for (size_t i = 0; i < src->nfolders && st == MF_OK; i++) {
		if (!src->folders[i].selectable)
			continue;
		struct imapc_cmd *cmd = imapc_cmd_new("STATUS");
		imapc_cmd_astring(cmd, src->folders[i].name);
		imapc_cmd_raw(cmd, "(MESSAGES UIDVALIDITY)");
		st = imapc_send(src->c, cmd, on_status, NULL, src, &tags[i], err);
	}
	for (size_t i = 0; i < src->nfolders && st == MF_OK; i++) {
		if (tags[i] == 0)
			continue;
		struct imapc_result res;
		st = imapc_wait(src->c, tags[i], &res, err);
		/* A NO for one folder leaves its count unknown. */
	}
	free(tags);
	return st;
}

const struct imap_folder *imap_find_folder(const struct mf_source *src, const char *path)
{
	for (size_t i = 0; i < src->nfolders; i++)
		if (strcmp(src->folders[i].path, path) == 0)
			return &src->folders[i];
	return NULL;
}

int imap_list_folders(struct mf_source *src, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	int st = imap_load_folders(src, true, err);
	if (st != MF_OK)
		return st;
	for (size_t i = 0; i < src->nfolders; i++) {
		const struct imap_folder *f = &src->folders[i];
		struct mf_folder mf = {
			.path = f->path,
			.special_use = f->special_use,
			.messages = f->messages,
			.bytes = MF_COUNT_UNKNOWN,
			.uidvalidity = f->uidvalidity,
			.selectable = f->selectable,
		};
		st = cb(&mf, aux);
		if (st != MF_OK)
			return st;
	}
	return MF_OK;
}
