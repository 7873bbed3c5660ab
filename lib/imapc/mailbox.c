/* SPDX-License-Identifier: MIT */
/* Mailbox-level IMAP commands on top of client.c: SELECT/EXAMINE (the
 * counters arrive as untagged data recorded by the dispatcher), LIST with
 * RFC 6154 special-use attributes, the hierarchy separator, the RFC 2342
 * personal namespace prefix, STATUS and CREATE.  Names here are always
 * the server's mUTF-7 form. */
#include <config.h>
#include "imapc_p.h"

#include <stdlib.h>
#include <string.h>

int imapc_select(struct imapc *c, const char *mailbox_mutf7, bool read_only,
		 struct imapc_mailbox *mb_r, struct mf_error *err)
{
	memset(&c->sel, 0, sizeof(c->sel));
	c->selected = false;
	struct imapc_cmd *cmd = imapc_cmd_new(read_only ? "EXAMINE" : "SELECT");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	struct imapc_result res;
	int st = imapc_run(c, cmd, NULL, NULL, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK) {
		char what[300];
		snprintf(what, sizeof(what), "%s %s", read_only ? "EXAMINE" : "SELECT",
			 mailbox_mutf7);
		return imapc_result_error(c, &res, MF_ERR_FOLDER, MF_RETRY_NEVER, what, err);
	}
	if (strcmp(res.code, "READ-ONLY") == 0)
		c->sel.read_only = true;
	c->selected = true;
	if (mb_r != NULL)
		*mb_r = c->sel;
	return MF_OK;
}

static int on_selected(struct imapc *c, const struct imapc_result *res, void *ctx,
		       struct mf_error *err)
{
	(void)ctx;
	(void)err;
	if (res->status == IMAPC_OK) {
		if (strcmp(res->code, "READ-ONLY") == 0)
			c->sel.read_only = true;
		c->selected = true;
	}
	return MF_OK;
}

int imapc_select_async(struct imapc *c, const char *mailbox_mutf7, struct mf_error *err)
{
	memset(&c->sel, 0, sizeof(c->sel));
	c->selected = false;
	struct imapc_cmd *cmd = imapc_cmd_new("SELECT");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	return imapc_send(c, cmd, NULL, on_selected, NULL, NULL, err);
}

const struct imapc_mailbox *imapc_selected(const struct imapc *c)
{
	return c->selected ? &c->sel : NULL;
}

struct list_ctx {
	imapc_list_fn *fn;
	void *ctx;
	int st; /* first error from fn */
	struct mf_error *err;
};

static enum mf_special_use special_of(const char *attr)
{
	static const struct {
		const char *a;
		enum mf_special_use u;
	} map[] = {
		{ "\\Sent", MF_SPECIAL_SENT },
		{ "\\Drafts", MF_SPECIAL_DRAFTS },
		{ "\\Trash", MF_SPECIAL_TRASH },
		{ "\\Junk", MF_SPECIAL_JUNK },
		{ "\\Archive", MF_SPECIAL_ARCHIVE },
		{ "\\Spam", MF_SPECIAL_JUNK },   /* Gmail XLIST */
		{ "\\Inbox", MF_SPECIAL_INBOX }, /* XLIST */
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (mf_ascii_strcasecmp(attr, map[i].a) == 0)
			return map[i].u;
	return MF_SPECIAL_NONE;
}

/* * LIST (attrs) delim name [ext] */
static int on_list(struct imapc *c, const struct imapc_resp *r, void *vctx, struct mf_error *err)
{
	struct list_ctx *lc = vctx;
	if (lc->st != MF_OK || r->kind != IMAPC_UNTAGGED ||
	    (strcmp(r->name, "LIST") != 0 && strcmp(r->name, "XLIST") != 0))
		return MF_OK;
	const struct imapc_value *a = &r->args;
	if (a->n_items < 3 || a->items[0].type != IMAPC_LIST)
		return MF_OK; /* malformed: skip it rather than die */
	struct imapc_list_entry e = { 0 };
	const struct imapc_value *d = &a->items[1];
	if (d->type == IMAPC_STRING && d->len == 1)
		e.sep = d->str[0];
	e.name_mutf7 = imapc_value_str(&a->items[2]);
	if (e.name_mutf7 == NULL)
		return MF_OK;
	for (size_t i = 0; i < a->items[0].n_items; i++) {
		const char *at = imapc_value_str(&a->items[0].items[i]);
		if (at == NULL)
			continue;
		if (mf_ascii_strcasecmp(at, "\\Noselect") == 0)
			e.flags |= IMAPC_LIST_NOSELECT;
		else if (mf_ascii_strcasecmp(at, "\\NonExistent") == 0)
			e.flags |= IMAPC_LIST_NONEXISTENT | IMAPC_LIST_NOSELECT;
		else if (mf_ascii_strcasecmp(at, "\\NoInferiors") == 0)
			e.flags |= IMAPC_LIST_NOINFERIORS;
		else if (special_of(at) != MF_SPECIAL_NONE)
			e.special_use = special_of(at);
	}
	/* RFC 3501 §5.1: INBOX is case-insensitive. */
	if (mf_ascii_strcasecmp(e.name_mutf7, "INBOX") == 0)
		e.special_use = MF_SPECIAL_INBOX;
	(void)c;
	int st = lc->fn(&e, lc->ctx, err);
	if (st != MF_OK) {
		/* Let the command finish; report afterwards. */
		lc->st = st;
		*lc->err = *err;
	}
	return MF_OK;
}

static struct imapc_cmd *list_cmd(struct imapc *c, const char *pattern)
{
	struct imapc_cmd *cmd = imapc_cmd_new("LIST");
	imapc_cmd_quoted(cmd, "");
	imapc_cmd_quoted(cmd, pattern);
	if (imapc_has_cap(c, "SPECIAL-USE"))
		imapc_cmd_raw(cmd, "RETURN (SPECIAL-USE)");
	return cmd;
}

/* The outcome of a LIST once its tagged reply is in. */
static int list_outcome(struct imapc *c, const struct list_ctx *lc, const struct imapc_result *res,
			const char *what, struct mf_error *err)
{
	if (lc->st != MF_OK) {
		if (err != NULL)
			*err = *lc->err;
		return lc->st;
	}
	if (res->status != IMAPC_OK)
		return imapc_result_error(c, res, MF_ERR_ACCOUNT, MF_RETRY_LATER, what, err);
	return MF_OK;
}

int imapc_list(struct imapc *c, const char *pattern, imapc_list_fn *fn, void *ctx,
	       struct mf_error *err)
{
	struct mf_error cb_err = { 0 };
	struct list_ctx lc = { .fn = fn, .ctx = ctx, .err = &cb_err };
	struct imapc_result res;
	int st = imapc_run(c, list_cmd(c, pattern), on_list, &lc, &res, err);
	return st != MF_OK ? st : list_outcome(c, &lc, &res, "LIST", err);
}

static int sep_cb(const struct imapc_list_entry *e, void *ctx, struct mf_error *err)
{
	(void)err;
	*(char *)ctx = e->sep;
	return MF_OK;
}

int imapc_separator(struct imapc *c, char *sep_r, struct mf_error *err)
{
	*sep_r = 0;
	struct mf_error cb_err = { 0 };
	struct list_ctx lc = { .fn = sep_cb, .ctx = sep_r, .err = &cb_err };
	struct imapc_cmd *cmd = imapc_cmd_new("LIST");
	imapc_cmd_quoted(cmd, "");
	imapc_cmd_quoted(cmd, "");
	struct imapc_result res;
	int st = imapc_run(c, cmd, on_list, &lc, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK)
		return imapc_result_error(c, &res, MF_ERR_ACCOUNT, MF_RETRY_LATER, "LIST \"\" \"\"",
					  err);
	return MF_OK;
}

/* * NAMESPACE (("INBOX." ".")) NIL NIL: the first personal prefix.  RFC
 * 2342 sends one NAMESPACE response; should a server send more, the
 * first one that names a personal namespace wins. */
static int on_namespace(struct imapc *c, const struct imapc_resp *r, void *ctx,
			struct mf_error *err)
{
	(void)c;
	(void)err;
	char **prefix = ctx;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "NAMESPACE") != 0 || r->args.n_items < 1 ||
	    r->args.items[0].type != IMAPC_LIST || r->args.items[0].n_items < 1)
		return MF_OK;
	const struct imapc_value *ns = &r->args.items[0].items[0];
	if (ns->type == IMAPC_LIST && ns->n_items >= 1) {
		const char *p = imapc_value_str(&ns->items[0]);
		if (p != NULL && *prefix == NULL)
			*prefix = mf_xstrdup(p);
	}
	return MF_OK;
}

int imapc_namespace_prefix(struct imapc *c, char **prefix_r, struct mf_error *err)
{
	free(*prefix_r);
	*prefix_r = NULL;
	if (!imapc_has_cap(c, "NAMESPACE"))
		return MF_OK;
	/* A tagged NO/BAD only means no prefix: servers that advertise
	 * NAMESPACE but refuse it still work with names as LIST gives them. */
	struct imapc_result res;
	int st = imapc_run(c, imapc_cmd_new("NAMESPACE"), on_namespace, prefix_r, &res, err);
	if (*prefix_r != NULL && (*prefix_r)[0] == '\0') {
		free(*prefix_r);
		*prefix_r = NULL;
	}
	return st;
}

/* The separator, the namespace and (optionally) the folder list in one
 * round trip: the three commands are sent back to back and their replies
 * read in order.  Untagged data of one command arrives before the next
 * command's, so fn already sees *sep_r and *prefix_r filled. */
int imapc_layout(struct imapc *c, char *sep_r, char **prefix_r, const char *pattern,
		 imapc_list_fn *fn, void *ctx, struct mf_error *err)
{
	*sep_r = 0;
	free(*prefix_r);
	*prefix_r = NULL;
	struct mf_error sep_err = { 0 }, list_err = { 0 };
	struct list_ctx sep_lc = { .fn = sep_cb, .ctx = sep_r, .err = &sep_err };
	struct list_ctx lc = { .fn = fn, .ctx = ctx, .err = &list_err };
	unsigned sep_tag, ns_tag = 0, list_tag = 0;
	struct imapc_cmd *sep = imapc_cmd_new("LIST");
	imapc_cmd_quoted(sep, "");
	imapc_cmd_quoted(sep, "");
	int st = imapc_send(c, sep, on_list, NULL, &sep_lc, &sep_tag, err);
	if (st == MF_OK && imapc_has_cap(c, "NAMESPACE"))
		st = imapc_send(c, imapc_cmd_new("NAMESPACE"), on_namespace, NULL, prefix_r,
				&ns_tag, err);
	if (st == MF_OK && pattern != NULL)
		st = imapc_send(c, list_cmd(c, pattern), on_list, NULL, &lc, &list_tag, err);
	struct imapc_result res;
	if (st == MF_OK && (st = imapc_wait(c, sep_tag, &res, err)) == MF_OK &&
	    res.status != IMAPC_OK)
		st = imapc_result_error(c, &res, MF_ERR_ACCOUNT, MF_RETRY_LATER, "LIST \"\" \"\"",
					err);
	/* A tagged NO to NAMESPACE only means no prefix (as above). */
	if (st == MF_OK && ns_tag != 0)
		st = imapc_wait(c, ns_tag, &res, err);
	if (*prefix_r != NULL && (*prefix_r)[0] == '\0') {
		free(*prefix_r);
		*prefix_r = NULL;
	}
	if (st == MF_OK && list_tag != 0 && (st = imapc_wait(c, list_tag, &res, err)) == MF_OK)
		st = list_outcome(c, &lc, &res, "LIST", err);
	return st;
}

struct status_ctx {
	uint64_t messages;
	uint32_t uidvalidity;
};

static int on_status(struct imapc *c, const struct imapc_resp *r, void *vctx, struct mf_error *err)
{
	struct status_ctx *sc = vctx;
	(void)c;
	(void)err;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "STATUS") != 0 || r->args.n_items < 2 ||
	    r->args.items[1].type != IMAPC_LIST)
		return MF_OK;
	const struct imapc_value *l = &r->args.items[1];
	for (size_t i = 0; i + 1 < l->n_items; i += 2) {
		uint64_t v;
		if (!imapc_value_u64(&l->items[i + 1], &v))
			continue;
		if (imapc_value_is_atom(&l->items[i], "MESSAGES"))
			sc->messages = v;
		else if (imapc_value_is_atom(&l->items[i], "UIDVALIDITY") && v <= UINT32_MAX)
			sc->uidvalidity = (uint32_t)v;
	}
	return MF_OK;
}

int imapc_status(struct imapc *c, const char *mailbox_mutf7, uint64_t *messages_r,
		 uint32_t *uidvalidity_r, struct mf_error *err)
{
	struct status_ctx sc = { .messages = MF_COUNT_UNKNOWN };
	struct imapc_cmd *cmd = imapc_cmd_new("STATUS");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	imapc_cmd_raw(cmd, "(MESSAGES UIDVALIDITY)");
	struct imapc_result res;
	int st = imapc_run(c, cmd, on_status, &sc, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK) {
		char what[300];
		snprintf(what, sizeof(what), "STATUS %s", mailbox_mutf7);
		return imapc_result_error(c, &res, MF_ERR_FOLDER, MF_RETRY_NEVER, what, err);
	}
	*messages_r = sc.messages;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = sc.uidvalidity;
	return MF_OK;
}

static int exists_cb(const struct imapc_list_entry *e, void *ctx, struct mf_error *err)
{
	(void)err;
	if (!(e->flags & IMAPC_LIST_NONEXISTENT))
		*(bool *)ctx = true;
	return MF_OK;
}

static int ignore_create(struct imapc *c, const struct imapc_result *res, void *ctx,
			 struct mf_error *err)
{
	(void)c;
	(void)res;
	(void)ctx;
	(void)err;
	return MF_OK;
}

int imapc_create_async(struct imapc *c, const char *mailbox_mutf7, imapc_done_fn *done, void *ctx,
		       struct mf_error *err)
{
	struct imapc_cmd *cmd = imapc_cmd_new("CREATE");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	/* With a done callback the entry leaves the queue when answered. */
	return imapc_send(c, cmd, NULL, done != NULL ? done : ignore_create, ctx, NULL, err);
}

int imapc_create(struct imapc *c, const char *mailbox_mutf7, struct mf_error *err)
{
	struct imapc_cmd *cmd = imapc_cmd_new("CREATE");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	struct imapc_result res;
	int st = imapc_run(c, cmd, NULL, NULL, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status == IMAPC_OK || strcmp(res.code, "ALREADYEXISTS") == 0)
		return MF_OK;
	/* Servers without RFC 5530 codes: does it exist anyway? */
	bool exists = false;
	struct mf_error e2;
	struct imapc_cmd *l = imapc_cmd_new("LIST");
	imapc_cmd_quoted(l, "");
	imapc_cmd_quoted(l, mailbox_mutf7);
	struct mf_error cb_err = { 0 };
	struct list_ctx lc = { .fn = exists_cb, .ctx = &exists, .err = &cb_err };
	struct imapc_result lres;
	st = imapc_run(c, l, on_list, &lc, &lres, &e2);
	if (st != MF_OK) {
		if (err != NULL)
			*err = e2;
		return st;
	}
	if (exists)
		return MF_OK;
	char what[300];
	snprintf(what, sizeof(what), "CREATE %s", mailbox_mutf7);
	return imapc_result_error(c, &res, MF_ERR_FOLDER, MF_RETRY_NEVER, what, err);
}
