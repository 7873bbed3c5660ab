/* SPDX-License-Identifier: MIT */
/* The Alibaba Mail sink session and its folders: the bottom of the sink
 * (alimail_sink.c -> alimail_pipeline.c -> alimail_append.c -> here);
 * nothing here calls up.
 *
 * open: alimail://user@corp.example goes to imap.sg.aliyun.com:993 with
 * implicit TLS (region=cn: imap.qiye.aliyun.com); an explicit host/port
 * in the URI wins (tests point it at Dovecot); imap:// and imaps:// work
 * as a generic IMAP target.  Alibaba's greeting carries no capabilities,
 * so lib/imapc asks CAPABILITY; the separator comes from LIST "" ""
 * (docs/alibaba-mail.md §6).
 *
 * ensure_folder: INBOX is INBOX; Sent/Drafts/Trash/Junk/Archive map onto
 * the target's own folder, found by RFC 6154 attribute or else by the
 * English and Chinese names Alibaba uses (alibaba-mail.md §2.2); any other
 * path is created level by level in modified UTF-7 with the target's
 * separator, after replacing "+ * % \" that Alibaba's migration guide says
 * to remove (alimail:// only).  COPY/MOVE are never used on the target:
 * on Alibaba COPY acts as a move (§2.1). */
#include <config.h>
#include "alimail_p.h"

#include <stdlib.h>
#include <string.h>

int alimail_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	(void)err;
	struct alimail_plugin *pc = mf_xcalloc(1, sizeof(*pc));
	pc->host = host;
	*ctx_r = pc;
	return MF_OK;
}

void alimail_plugin_deinit(void *ctx)
{
	free(ctx);
}

static void free_folders(struct mf_sink *snk)
{
	for (size_t i = 0; i < snk->nfolders; i++) {
		free(snk->folders[i].name);
		free(snk->folders[i].path);
	}
	free(snk->folders);
	snk->folders = NULL;
	snk->nfolders = 0;
	snk->listed = false;
}

/* The answer to a pipelined CREATE (the oldest still open). */
static int on_created(struct imapc *c, const struct imapc_result *res, void *ctx,
		      struct mf_error *err)
{
	(void)c;
	(void)err;
	struct mf_sink *snk = ctx;
	if (snk->ncreating == 0)
		return MF_OK;
	char *name = snk->creating[0];
	memmove(&snk->creating[0], &snk->creating[1],
		(snk->ncreating - 1) * sizeof(*snk->creating));
	snk->ncreating--;
	if (res->status != IMAPC_OK && strcmp(res->code, "ALREADYEXISTS") != 0 &&
	    snk->create_refused == NULL)
		snk->create_refused = mf_xasprintf("CREATE %s: %s%s%s%s %s", name,
						   res->status == IMAPC_NO ? "NO" : "BAD",
						   res->code[0] ? " [" : "", res->code,
						   res->code[0] ? "]" : "", res->text);
	free(name);
	return MF_OK;
}

static void free_creating(struct mf_sink *snk)
{
	for (size_t i = 0; i < snk->ncreating; i++)
		free(snk->creating[i]);
	free(snk->creating);
	snk->creating = NULL;
	snk->ncreating = 0;
}

void alimail_session_free(struct mf_sink **snkp)
{
	struct mf_sink *snk = *snkp;
	if (snk == NULL)
		return;
	imapc_close(&snk->c);
	imapc_account_free(&snk->acct);
	free_folders(snk);
	free_creating(snk);
	free(snk->create_refused);
	free(snk->ns_prefix);
	free(snk->sel_path);
	free(snk);
	*snkp = NULL;
}

static void add_folder(struct mf_sink *snk, const char *name, enum mf_special_use su)
{
	snk->folders = mf_xrealloc(snk->folders, (snk->nfolders + 1) * sizeof(*snk->folders));
	struct alimail_folder *f = &snk->folders[snk->nfolders++];
	f->name = mf_xstrdup(name);
	f->path = imapc_name_to_path(name, snk->sep, snk->ns_prefix);
	f->special_use = su;
}

static int collect(const struct imapc_list_entry *e, void *ctx, struct mf_error *err)
{
	(void)err;
	struct mf_sink *snk = ctx;
	if (!(e->flags & IMAPC_LIST_NONEXISTENT))
		add_folder(snk, e->name_mutf7, e->special_use);
	return MF_OK;
}

static int ignore_reply(struct imapc *c, const struct imapc_result *res, void *ctx,
			struct mf_error *err)
{
	(void)c;
	(void)res;
	(void)ctx;
	(void)err;
	return MF_OK;
}

int alimail_ensure_conn(struct mf_sink *snk, struct mf_error *err)
{
	if (snk->c != NULL && !imapc_is_broken(snk->c))
		return MF_OK;
	imapc_close(&snk->c);
	free_creating(snk);
	free(snk->sel_path);
	snk->sel_path = NULL;
	int st = imapc_account_connect(snk->acct, &snk->c, err);
	if (st != MF_OK)
		return st;
	if (imapc_has_cap(snk->c, "ID")) {
		/* RFC 2971; some Chinese providers insist on it (NetEase);
		 * harmless elsewhere.  Its answer is not needed: not waited
		 * for. */
		struct imapc_cmd *cmd = imapc_cmd_new("ID");
		imapc_cmd_raw(cmd, "(\"name\" \"mailferry\" \"version\" \"" PACKAGE_VERSION "\")");
		if ((st = imapc_send(snk->c, cmd, NULL, ignore_reply, NULL, NULL, err)) != MF_OK)
			return st;
	}
	/* INBOX selected in the same round trip as the layout: its
	 * PERMANENTFLAGS say which flags the APPENDs may carry
	 * (flags_known), and the first APPEND need not wait for a SELECT.
	 * A NO leaves nothing selected and the first APPEND selects its
	 * own folder. */
	if (!snk->flags_known && (st = imapc_select_async(snk->c, "INBOX", err)) != MF_OK)
		return st;
	/* Separator, namespace and the folder list in one round trip. */
	free_folders(snk);
	st = imapc_layout(snk->c, &snk->sep, &snk->ns_prefix, "*", collect, snk, err);
	if (st == MF_OK)
		snk->listed = true;
	const struct imapc_mailbox *mb = imapc_selected(snk->c);
	if (st == MF_OK && mb != NULL) {
		snk->sel = *mb;
		snk->sel_path = mf_xstrdup("INBOX");
	}
	return st;
}

int alimail_target(const struct mf_account *acct, struct alimail_target *t, struct mf_error *err)
{
	t->alimail = acct->scheme == NULL || mf_ascii_strcasecmp(acct->scheme, "alimail") == 0;
	t->implicit_tls = t->alimail || mf_ascii_strcasecmp(acct->scheme, "imaps") == 0;
	t->host = acct->host;
	if (t->host == NULL || t->host[0] == '\0')
		t->host = mf_account_option(acct, "host");
	if ((t->host == NULL || t->host[0] == '\0') && t->alimail) {
		const char *region = mf_account_option(acct, "region");
		if (region != NULL && mf_ascii_strcasecmp(region, "cn") != 0 &&
		    mf_ascii_strcasecmp(region, "intl") != 0 &&
		    mf_ascii_strcasecmp(region, "sg") != 0)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "alimail: %s: region=%s: expected cn"
					    " or intl",
					    acct->id ? acct->id : "", region);
		t->host = region != NULL && mf_ascii_strcasecmp(region, "cn") == 0
				  ? ALIMAIL_HOST_CN
				  : ALIMAIL_HOST_INTL;
	}
	return MF_OK;
}

int alimail_session_open(void *plugin_ctx, const struct mf_account *acct, struct mf_sink **snk_r,
			 struct mf_error *err)
{
	struct alimail_plugin *pc = plugin_ctx;
	*snk_r = NULL;
	struct alimail_target t;
	int st = alimail_target(acct, &t, err);
	if (st != MF_OK)
		return st;
	bool alimail = t.alimail;
	struct mf_sink *snk = mf_xcalloc(1, sizeof(*snk));
	snk->plugin = pc;
	const char *san = mf_account_option(acct, "sanitize");
	snk->sanitize = san != NULL ? strcmp(san, "0") != 0 : alimail;
	st = imapc_account_new(pc->host, acct, alimail ? "alimail" : "imap-sink", t.host,
			       acct->port, t.implicit_tls, &snk->acct, err);
	if (st == MF_OK)
		st = alimail_ensure_conn(snk, err);
	if (st != MF_OK) {
		alimail_session_free(&snk);
		return st;
	}
	*snk_r = snk;
	return MF_OK;
}

/* ---- folders ------------------------------------------------------ */

static int load_folders(struct mf_sink *snk, struct mf_error *err)
{
	int st = alimail_ensure_conn(snk, err);
	if (st != MF_OK || snk->listed)
		return st;
	free_folders(snk);
	if ((st = imapc_list(snk->c, "*", collect, snk, err)) != MF_OK)
		return st;
	snk->listed = true;
	return MF_OK;
}

const struct alimail_folder *alimail_find(const struct mf_sink *snk, const char *path)
{
	for (size_t i = 0; i < snk->nfolders; i++)
		if (strcmp(snk->folders[i].path, path) == 0 ||
		    (mf_ascii_strcasecmp(path, "INBOX") == 0 &&
		     mf_ascii_strcasecmp(snk->folders[i].path, "INBOX") == 0))
			return &snk->folders[i];
	return NULL;
}

/* Names Alibaba (and common servers) give their special folders, best
 * first (alibaba-mail.md §2.2; the Chinese ones are UNCONFIRMED there and
 * matched only when present). */
static const char *const *role_names(enum mf_special_use su)
{
	static const char *const sent[] = { "Sent",   "Sent Messages", "Sent Items", "Sent Mail",
					    "已发送", "已发送邮件",    NULL };
	static const char *const drafts[] = { "Drafts", "Draft", "草稿箱", "草稿", NULL };
	static const char *const trash[] = { "Trash",      "Deleted Messages", "Deleted Items",
					     "已删除邮件", "已删除",           NULL };
	static const char *const junk[] = { "Junk",       "Spam",     "Junk E-mail",
					    "Junk Email", "垃圾邮件", NULL };
	static const char *const archive[] = { "Archive", "Archives", "归档", NULL };
	switch (su) {
	case MF_SPECIAL_SENT: return sent;
	case MF_SPECIAL_DRAFTS: return drafts;
	case MF_SPECIAL_TRASH: return trash;
	case MF_SPECIAL_JUNK: return junk;
	case MF_SPECIAL_ARCHIVE: return archive;
	default: return NULL;
	}
}

static const struct alimail_folder *find_role(const struct mf_sink *snk, enum mf_special_use su)
{
	for (size_t i = 0; i < snk->nfolders; i++)
		if (snk->folders[i].special_use == su)
			return &snk->folders[i];
	const char *const *names = role_names(su);
	for (size_t k = 0; names != NULL && names[k] != NULL; k++)
		for (size_t i = 0; i < snk->nfolders; i++)
			if (mf_ascii_strcasecmp(snk->folders[i].path, names[k]) == 0)
				return &snk->folders[i];
	return NULL;
}

/* Alibaba's migration guide: remove "+ * \ /" from folder names; '%' is
 * a LIST wildcard too.  ('/' never reaches here inside a level.) */
static char *sanitized(const char *path)
{
	char *p = mf_xstrdup(path);
	for (char *q = p; *q; q++)
		if (*q == '+' || *q == '*' || *q == '\\' || *q == '%')
			*q = '_';
	return p;
}

static int create_path(struct mf_sink *snk, const char *path, struct mf_error *err)
{
	/* Parents first: not every server creates them implicitly. */
	char *buf = mf_xstrdup(path);
	int st = MF_OK;
	for (char *p = buf;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (alimail_find(snk, buf) == NULL) {
			char *name = imapc_path_to_name(buf, snk->sep, snk->ns_prefix);
			/* Not waited for: an APPEND into a folder whose
			 * CREATE failed is answered NO [TRYCREATE], and that
			 * path creates it again, waiting. */
			if (snk->create_waits) {
				st = imapc_create(snk->c, name, err);
			} else {
				st = imapc_create_async(snk->c, name, on_created, snk, err);
				if (st == MF_OK) {
					snk->creating = mf_xrealloc(snk->creating,
								    (snk->ncreating + 1) *
									    sizeof(*snk->creating));
					snk->creating[snk->ncreating++] = mf_xstrdup(name);
				}
			}
			if (st == MF_OK)
				add_folder(snk, name, MF_SPECIAL_NONE);
			free(name);
		}
		*p = saved;
		if (st != MF_OK || saved == '\0')
			break;
	}
	free(buf);
	return st;
}

int alimail_ensure_folder(struct mf_sink *snk, const char *path, enum mf_special_use su,
			  char **actual_r, struct mf_error *err)
{
	*actual_r = NULL;
	int st = load_folders(snk, err);
	if (st != MF_OK)
		return st;
	if (su == MF_SPECIAL_INBOX || mf_ascii_strcasecmp(path, "INBOX") == 0) {
		*actual_r = mf_xstrdup("INBOX");
		return MF_OK;
	}
	if (su != MF_SPECIAL_NONE) {
		const struct alimail_folder *f = find_role(snk, su);
		if (f != NULL) {
			*actual_r = mf_xstrdup(f->path);
			return MF_OK;
		}
	}
	char *want = snk->sanitize ? sanitized(path) : mf_xstrdup(path);
	if (snk->sep == 0) {
		/* A flat server: one level, '/' cannot be expressed. */
		for (char *q = want; *q; q++)
			if (*q == '/')
				*q = '_';
	} else if (snk->sep != '/') {
		/* The server's separator inside a level ("Release v1.2" on
		 * Courier or Cyrus, separator '.') becomes '_' in the name
		 * created (imapc_path_to_name), so the path is said that way
		 * too: the one the server lists back, which the state file
		 * records, a re-run finds and verify reads. */
		for (char *q = want; *q; q++)
			if (*q == snk->sep)
				*q = '_';
	}
	if (alimail_find(snk, want) == NULL) {
		st = create_path(snk, want, err);
		if (st != MF_OK) {
			free(want);
			return st;
		}
	}
	*actual_r = want;
	return MF_OK;
}

int alimail_select(struct mf_sink *snk, const char *path, struct mf_error *err)
{
	if (snk->sel_path != NULL && strcmp(snk->sel_path, path) == 0 &&
	    imapc_selected(snk->c) != NULL)
		return MF_OK;
	free(snk->sel_path);
	snk->sel_path = NULL;
	int st = load_folders(snk, err);
	if (st != MF_OK)
		return st;
	const struct alimail_folder *f = alimail_find(snk, path);
	char *name = f ? mf_xstrdup(f->name) : imapc_path_to_name(path, snk->sep, snk->ns_prefix);
	st = imapc_select(snk->c, name, false, &snk->sel, err);
	free(name);
	if (st == MF_OK)
		snk->sel_path = mf_xstrdup(path);
	return st;
}
