/* SPDX-License-Identifier: MIT */
/* The IMAP client session: connect and greeting, CAPABILITY, STARTTLS,
 * authentication (LOGIN, AUTHENTICATE PLAIN / XOAUTH2), and the command
 * machinery: tags, a FIFO of commands in flight (pipelining: RFC 3501
 * §5.5 lets a client send many commands without waiting), literals sent
 * synchronously (waiting for "+") or as LITERAL+ (RFC 7888), and
 * dispatch of each response: untagged data to the oldest running command, tagged completions to their command.  Session-wide
 * untagged data (CAPABILITY, EXISTS, EXPUNGE, [ALERT], BYE, SELECT codes)
 * is recorded here first.  Mailbox commands are in mailbox.c. */
#include <config.h>
#include "imapc_p.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- small utilities ---------------------------------------------- */

void imapc_logf(struct imapc *c, enum mf_log_level lvl, const char *fmt, ...)
{
	if (c->log == NULL)
		return;
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_ctx, lvl, msg);
}

int imapc_fail(struct imapc *c, int st, struct mf_error *err)
{
	if (st == MF_ERR_ACCOUNT || st == MF_ERR_FATAL)
		c->broken = true;
	/* "imaps host:port: x" from lib/net: the label names the
	 * connection already. */
	const char *cl = c->conn ? mf_conn_label(c->conn) : NULL;
	if (err != NULL && cl != NULL && strncmp(err->text, cl, strlen(cl)) == 0 &&
	    err->text[strlen(cl)] == ':') {
		size_t skip = strlen(cl) + 1;
		memmove(err->text, err->text + skip, strlen(err->text + skip) + 1);
	}
	if (err != NULL && c->label != NULL &&
	    strncmp(err->text, c->label, strlen(c->label)) != 0) {
		char tmp[sizeof(err->text)];
		size_t n = strlen(c->label);
		if (n > sizeof(tmp) - 3)
			n = sizeof(tmp) - 3;
		memcpy(tmp, c->label, n);
		const char *t = err->text[0] == ' ' ? err->text + 1 : err->text;
		memcpy(tmp + n, ": ", 2);
		size_t rest = sizeof(tmp) - n - 3;
		size_t tl = strnlen(t, rest);
		memcpy(tmp + n + 2, t, tl);
		tmp[n + 2 + tl] = '\0';
		memcpy(err->text, tmp, sizeof(tmp));
	}
	return st;
}

bool imapc_is_broken(const struct imapc *c)
{
	return c->broken || c->bye;
}

bool imapc_has_cap(const struct imapc *c, const char *cap)
{
	for (size_t i = 0; i < c->ncaps; i++)
		if (mf_ascii_strcasecmp(c->caps[i], cap) == 0)
			return true;
	return false;
}

static void caps_clear(struct imapc *c)
{
	for (size_t i = 0; i < c->ncaps; i++)
		free(c->caps[i]);
	free(c->caps);
	c->caps = NULL;
	c->ncaps = 0;
}

static void caps_add(struct imapc *c, const char *s, size_t n)
{
	if (n == 0)
		return;
	c->caps = mf_xrealloc(c->caps, (c->ncaps + 1) * sizeof(*c->caps));
	char *cap = mf_xstrndup(s, n);
	for (char *p = cap; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	c->caps[c->ncaps++] = cap;
}

/* From "[CAPABILITY a b c]" args: space-separated words. */
static void caps_from_text(struct imapc *c, const char *s)
{
	caps_clear(c);
	while (*s) {
		while (*s == ' ')
			s++;
		const char *e = s;
		while (*e && *e != ' ')
			e++;
		caps_add(c, s, (size_t)(e - s));
		s = e;
	}
}

static void caps_from_values(struct imapc *c, const struct imapc_value *l)
{
	caps_clear(c);
	for (size_t i = 0; i < l->n_items; i++)
		if (l->items[i].type == IMAPC_ATOM)
			caps_add(c, l->items[i].str, l->items[i].len);
}

void imapc_set_stream(struct imapc *c, imapc_stream_fn *fn, void *ctx)
{
	c->parser.stream = fn;
	c->parser.stream_ctx = ctx;
}

void imapc_set_resync(struct imapc *c, bool on)
{
	c->parser.resync = on;
}

void imapc_note_progress(struct imapc *c)
{
	if (c->conn != NULL)
		mf_conn_progress(c->conn);
}

/* ---- io ---------------------------------------------------------- */

int imapc_write(struct imapc *c, const void *data, size_t len, struct mf_error *err)
{
	int st = mf_conn_write(c->conn, data, len, err);
	return st == MF_OK ? MF_OK : imapc_fail(c, st, err);
}

/* ---- the queue ---------------------------------------------------- */

static struct imapc_inflight *find(struct imapc *c, unsigned tag)
{
	for (size_t i = 0; i < c->qlen; i++)
		if (c->q[i].tag == tag)
			return &c->q[i];
	return NULL;
}

static void remove_entry(struct imapc *c, struct imapc_inflight *e)
{
	size_t i = (size_t)(e - c->q);
	memmove(&c->q[i], &c->q[i + 1], (c->qlen - i - 1) * sizeof(*c->q));
	c->qlen--;
}

static struct imapc_inflight *enqueue(struct imapc *c, imapc_untagged_fn *fn, imapc_done_fn *done,
				      void *ctx)
{
	if (c->qlen == c->qcap) {
		c->qcap = c->qcap ? c->qcap * 2 : 16;
		c->q = mf_xrealloc(c->q, c->qcap * sizeof(*c->q));
	}
	struct imapc_inflight *e = &c->q[c->qlen++];
	memset(e, 0, sizeof(*e));
	e->tag = ++c->next_tag;
	e->fn = fn;
	e->done = done;
	e->ctx = ctx;
	return e;
}

/* PERMANENTFLAGS (\Seen \* ...) into the selected-mailbox state. */
static void parse_permflags(struct imapc *c, const char *args)
{
	c->sel.have_perm = true;
	c->sel.perm_flags = 0;
	c->sel.perm_keywords = false;
	static const struct {
		const char *n;
		uint32_t b;
	} f[] = {
		{ "\\Seen", MF_FLAG_SEEN },       { "\\Answered", MF_FLAG_ANSWERED },
		{ "\\Flagged", MF_FLAG_FLAGGED }, { "\\Deleted", MF_FLAG_DELETED },
		{ "\\Draft", MF_FLAG_DRAFT },
	};
	const char *s = args ? args : "";
	while (*s) {
		while (*s == ' ' || *s == '(' || *s == ')')
			s++;
		const char *e = s;
		while (*e && *e != ' ' && *e != ')')
			e++;
		size_t n = (size_t)(e - s);
		if (n == 2 && strncmp(s, "\\*", 2) == 0)
			c->sel.perm_keywords = true;
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (n == strlen(f[i].n) && mf_ascii_strncasecmp(s, f[i].n, n) == 0)
				c->sel.perm_flags |= f[i].b;
		s = e;
	}
}

static uint32_t code_u32(const char *args)
{
	uint64_t v = 0;
	if (args == NULL)
		return 0;
	size_t n = 0;
	while (args[n] >= '0' && args[n] <= '9')
		n++;
	if (!mf_parse_u64(args, n, &v) || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

/* Codes that matter wherever they appear. */
void imapc_note_code(struct imapc *c, const struct imapc_resp *r)
{
	if (r->code[0] == '\0')
		return;
	if (strcmp(r->code, "CAPABILITY") == 0 && r->code_args != NULL)
		caps_from_text(c, r->code_args);
	else if (strcmp(r->code, "ALERT") == 0)
		/* RFC 3501 §7.1: the text MUST be shown to the user. */
		imapc_logf(c, MF_LOG_WARN, "%s: server alert: %s", c->label,
			   r->text ? r->text : "");
	else if (strcmp(r->code, "UIDVALIDITY") == 0)
		c->sel.uidvalidity = code_u32(r->code_args);
	else if (strcmp(r->code, "UIDNEXT") == 0)
		c->sel.uidnext = code_u32(r->code_args);
	else if (strcmp(r->code, "PERMANENTFLAGS") == 0)
		parse_permflags(c, r->code_args);
	else if (strcmp(r->code, "READ-ONLY") == 0)
		c->sel.read_only = true;
}

static void set_result(struct imapc_result *res, const struct imapc_resp *r)
{
	res->status = r->status;
	snprintf(res->code, sizeof(res->code), "%s", r->code);
	snprintf(res->code_args, sizeof(res->code_args), "%s", r->code_args ? r->code_args : "");
	snprintf(res->text, sizeof(res->text), "%s", r->text ? r->text : "");
}

static int dispatch(struct imapc *c, struct imapc_resp *r, struct mf_error *err)
{
	if (r->kind == IMAPC_CONTINUE) {
		c->got_cont = true;
		free(c->cont_text);
		c->cont_text = r->text;
		r->text = NULL;
		return MF_OK;
	}
	if (r->kind == IMAPC_TAGGED) {
		unsigned tag = 0;
		uint64_t v;
		if (r->tag[0] == 'a' && mf_parse_u64(r->tag + 1, strlen(r->tag + 1), &v) &&
		    v <= UINT32_MAX)
			tag = (unsigned)v;
		struct imapc_inflight *e = tag ? find(c, tag) : NULL;
		if (e == NULL || e->completed) {
			mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				     "IMAP protocol error: reply for unknown"
				     " command tag %s",
				     r->tag);
			return imapc_fail(c, MF_ERR_ACCOUNT, err);
		}
		imapc_note_code(c, r);
		set_result(&e->res, r);
		e->completed = true;
		/* A command answered: real progress (net.h, slow peers). */
		mf_conn_progress(c->conn);
		if (e->done != NULL) {
			imapc_done_fn *done = e->done;
			void *ctx = e->ctx;
			struct imapc_result res = e->res;
			remove_entry(c, e);
			return done(c, &res, ctx, err);
		}
		return MF_OK;
	}
	/* Untagged. */
	if (r->damaged != NULL) {
		/* Skipped unread (parser resync): nothing of it is believed
		 * session-wide; the command's handler decides. */
		imapc_logf(c, MF_LOG_WARN, "%s: skipped a %s response: %s", c->label, r->name,
			   r->damaged);
	} else if (r->status != IMAPC_NONE && !r->has_num) {
		imapc_note_code(c, r);
		if (r->status == IMAPC_BYE) {
			c->bye = true;
			snprintf(c->bye_text, sizeof(c->bye_text), "%s", r->text ? r->text : "");
		}
	} else if (strcmp(r->name, "CAPABILITY") == 0) {
		caps_from_values(c, &r->args);
	} else if (r->has_num && strcmp(r->name, "EXISTS") == 0) {
		c->sel.exists = r->num;
	} else if (r->has_num && strcmp(r->name, "EXPUNGE") == 0) {
		if (c->sel.exists > 0)
			c->sel.exists--;
	}
	/* Servers answer pipelined commands in order, so untagged data
	 * belongs to the oldest command not yet completed. */
	for (size_t i = 0; i < c->qlen; i++) {
		struct imapc_inflight *e = &c->q[i];
		if (e->completed)
			continue;
		return e->fn != NULL ? e->fn(c, r, e->ctx, err) : MF_OK;
	}
	return MF_OK;
}

int imapc_read_one(struct imapc *c, struct mf_error *err)
{
	if (c->broken)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "%s: connection already failed", c->label);
	struct imapc_resp r;
	int st = imapc_parse_response(&c->parser, &r, err);
	if (st == MF_OK)
		st = dispatch(c, &r, err);
	imapc_resp_free(&r);
	if (st != MF_OK) {
		/* A handler's own error (message callback stopping) leaves
		 * the connection mid-response: it cannot be reused. */
		c->broken = true;
		return imapc_fail(c, st, err);
	}
	return MF_OK;
}

/* ---- commands ----------------------------------------------------- */

struct imapc_seg {
	char *text; /* text before the literal */
	size_t text_len;
	char *lit; /* literal bytes */
	size_t lit_len;
};

struct imapc_cmd {
	char verb[32];
	struct mf_buf text; /* current text part */
	struct imapc_seg *segs;
	size_t nsegs;
	bool secret;
};

struct imapc_cmd *imapc_cmd_new(const char *verb)
{
	struct imapc_cmd *cmd = mf_xcalloc(1, sizeof(*cmd));
	snprintf(cmd->verb, sizeof(cmd->verb), "%s", verb);
	mf_buf_append_str(&cmd->text, verb);
	return cmd;
}

void imapc_cmd_raw(struct imapc_cmd *cmd, const char *text)
{
	mf_buf_append_str(&cmd->text, " ");
	mf_buf_append_str(&cmd->text, text);
}

void imapc_cmd_rawf(struct imapc_cmd *cmd, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	imapc_cmd_raw(cmd, tmp);
}

void imapc_cmd_secret(struct imapc_cmd *cmd)
{
	cmd->secret = true;
}

static void cmd_literal(struct imapc_cmd *cmd, const char *s, size_t n)
{
	cmd->segs = mf_xrealloc(cmd->segs, (cmd->nsegs + 1) * sizeof(*cmd->segs));
	struct imapc_seg *g = &cmd->segs[cmd->nsegs++];
	mf_buf_append_str(&cmd->text, " ");
	g->text_len = cmd->text.len;
	g->text = cmd->text.data ? (char *)cmd->text.data : mf_xstrdup("");
	memset(&cmd->text, 0, sizeof(cmd->text));
	g->lit = mf_xmalloc(n + 1);
	memcpy(g->lit, s, n);
	g->lit_len = n;
}

void imapc_cmd_quoted(struct imapc_cmd *cmd, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '\r' || *p == '\n' || *p >= 0x80 || *p == 0) {
			cmd_literal(cmd, s, strlen(s));
			return;
		}
	mf_buf_append_str(&cmd->text, " \"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			mf_buf_append(&cmd->text, "\\", 1);
		mf_buf_append(&cmd->text, p, 1);
	}
	mf_buf_append_str(&cmd->text, "\"");
}

void imapc_cmd_astring(struct imapc_cmd *cmd, const char *s)
{
	bool atom = s[0] != '\0';
	for (const unsigned char *p = (const unsigned char *)s; *p && atom; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\", *p))
			atom = false;
	/* "NIL" as an atom would read as NIL in some parsers. */
	if (atom && mf_ascii_strcasecmp(s, "NIL") != 0) {
		imapc_cmd_raw(cmd, s);
		return;
	}
	imapc_cmd_quoted(cmd, s);
}

void imapc_cmd_free(struct imapc_cmd **cmdp)
{
	struct imapc_cmd *cmd = *cmdp;
	if (cmd == NULL)
		return;
	for (size_t i = 0; i < cmd->nsegs; i++) {
		if (cmd->secret) {
			OPENSSL_cleanse(cmd->segs[i].text, cmd->segs[i].text_len);
			OPENSSL_cleanse(cmd->segs[i].lit, cmd->segs[i].lit_len);
		}
		free(cmd->segs[i].text);
		free(cmd->segs[i].lit);
	}
	free(cmd->segs);
	if (cmd->secret && cmd->text.data != NULL)
		OPENSSL_cleanse(cmd->text.data, cmd->text.len);
	mf_buf_free(&cmd->text);
	free(cmd);
	*cmdp = NULL;
}

void imapc_note_wait(struct imapc *c, unsigned tag)
{
	if (c->got_cont || mf_conn_buffered(c->conn) > 0)
		return;
	for (size_t i = 0; i < c->qlen; i++)
		if (!c->q[i].completed && c->q[i].tag != tag)
			return;
	struct imapc_inflight *e = find(c, tag);
	if (e != NULL && !e->completed)
		c->idle_waits++;
}

/* Read responses until a '+' arrives (*cont_r) or command tag completes. */
static int wait_cont(struct imapc *c, unsigned tag, bool *cont_r, struct mf_error *err)
{
	/* Idle whatever else is in flight: nothing more can be sent on
	 * this connection until the "+" arrives. */
	if (!c->got_cont)
		c->idle_waits++;
	for (;;) {
		if (c->got_cont) {
			c->got_cont = false;
			*cont_r = true;
			return MF_OK;
		}
		struct imapc_inflight *e = find(c, tag);
		if (e == NULL || e->completed) {
			*cont_r = false;
			return MF_OK;
		}
		int st = imapc_read_one(c, err);
		if (st != MF_OK)
			return st;
	}
}

/* Literal header: non-synchronising when LITERAL+ (or LITERAL- for
 * literals up to 4096 bytes, RFC 7888 §4) lets us skip the round trip. */
static bool nonsync_ok(const struct imapc *c, uint64_t n)
{
	return imapc_has_cap(c, "LITERAL+") || (n <= 4096 && imapc_has_cap(c, "LITERAL-"));
}

static int send_literal_head(struct imapc *c, unsigned tag, uint64_t n, bool *go_r,
			     struct mf_error *err)
{
	char hdr[40];
	bool ns = nonsync_ok(c, n);
	snprintf(hdr, sizeof(hdr), "{%llu%s}\r\n", (unsigned long long)n, ns ? "+" : "");
	int st = imapc_write(c, hdr, strlen(hdr), err);
	if (st != MF_OK)
		return st;
	*go_r = true;
	if (ns)
		return MF_OK;
	st = mf_conn_flush(c->conn, err);
	if (st != MF_OK)
		return imapc_fail(c, st, err);
	return wait_cont(c, tag, go_r, err);
}

int imapc_send(struct imapc *c, struct imapc_cmd *cmd, imapc_untagged_fn *fn, imapc_done_fn *done,
	       void *ctx, unsigned *tag_r, struct mf_error *err)
{
	if (imapc_is_broken(c)) {
		imapc_cmd_free(&cmd);
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "connection lost%s%s",
			     c->bye ? ": BYE " : "", c->bye ? c->bye_text : "");
		return imapc_fail(c, MF_ERR_ACCOUNT, err);
	}
	struct imapc_inflight *e = enqueue(c, fn, done, ctx);
	unsigned tag = e->tag;
	snprintf(e->verb, sizeof(e->verb), "%s", cmd->verb);
	c->commands++;
	if (tag_r != NULL)
		*tag_r = tag;
	char tagtxt[16];
	snprintf(tagtxt, sizeof(tagtxt), "a%u ", tag);
	int st = imapc_write(c, tagtxt, strlen(tagtxt), err);
	for (size_t i = 0; i < cmd->nsegs && st == MF_OK; i++) {
		struct imapc_seg *g = &cmd->segs[i];
		bool go = true;
		st = imapc_write(c, g->text, g->text_len, err);
		if (st == MF_OK)
			st = send_literal_head(c, tag, g->lit_len, &go, err);
		if (st == MF_OK && !go)
			break; /* refused before the literal: result is queued */
		if (st == MF_OK)
			st = imapc_write(c, g->lit, g->lit_len, err);
	}
	if (st == MF_OK) {
		struct imapc_inflight *e2 = find(c, tag);
		if (e2 != NULL && !e2->completed) {
			st = imapc_write(c, cmd->text.data ? cmd->text.data : (unsigned char *)"",
					 cmd->text.len, err);
			if (st == MF_OK)
				st = imapc_write(c, "\r\n", 2, err);
		}
	}
	imapc_cmd_free(&cmd);
	return st;
}

/* A lost link, timeout or protocol error while awaiting a command's answer
 * names only the server: say which command it was ("no answer from server
 * within 3 s (awaiting the answer to LIST)"). */
static int awaiting(const char *verb, int st, struct mf_error *err)
{
	size_t n = strlen(err->text);
	if (verb[0] != '\0' && strstr(err->text, "(awaiting the answer to ") == NULL)
		snprintf(err->text + n, sizeof(err->text) - n, " (awaiting the answer to %s)",
			 verb);
	return st;
}

int imapc_wait(struct imapc *c, unsigned tag, struct imapc_result *res_r, struct mf_error *err)
{
	imapc_note_wait(c, tag);
	for (;;) {
		struct imapc_inflight *e = find(c, tag);
		if (e == NULL)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: waiting for unknown tag a%u", c->label, tag);
		if (e->completed) {
			if (res_r != NULL)
				*res_r = e->res;
			remove_entry(c, e);
			return MF_OK;
		}
		char verb[sizeof(e->verb)];
		memcpy(verb, e->verb, sizeof(verb)); /* e moves as the queue does */
		if (c->bye && c->qlen > 0 && mf_conn_buffered(c->conn) == 0) {
			/* BYE then EOF: report the server's words. */
			int st = imapc_read_one(c, err);
			if (st != MF_OK) {
				mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
					     "%s: server closed the connection:"
					     " BYE %s",
					     c->label, c->bye_text);
				return awaiting(verb, st, err);
			}
			continue;
		}
		int st = imapc_read_one(c, err);
		if (st != MF_OK)
			return awaiting(verb, st, err);
	}
}

bool imapc_input_ready(const struct imapc *c)
{
	return c != NULL && c->conn != NULL && mf_conn_input_ready(c->conn);
}

int imapc_drain(struct imapc *c, struct mf_error *err)
{
	for (;;) {
		bool pending = false;
		for (size_t i = 0; i < c->qlen; i++)
			if (!c->q[i].completed)
				pending = true;
		if (!pending)
			return MF_OK;
		int st = imapc_read_one(c, err);
		if (st != MF_OK)
			return st;
	}
}

int imapc_run(struct imapc *c, struct imapc_cmd *cmd, imapc_untagged_fn *fn, void *ctx,
	      struct imapc_result *res_r, struct mf_error *err)
{
	unsigned tag;
	int st = imapc_send(c, cmd, fn, NULL, ctx, &tag, err);
	if (st != MF_OK)
		return st;
	return imapc_wait(c, tag, res_r, err);
}

int imapc_result_error(struct imapc *c, const struct imapc_result *res, enum mf_status st,
		       enum mf_retry rt, const char *what, struct mf_error *err)
{
	mf_error_set(err, st, rt, "%s: %s: %s%s%s%s%s%s %s", c->label, what,
		     res->status == IMAPC_NO ? "NO" : "BAD", res->code[0] ? " [" : "", res->code,
		     res->code_args[0] ? " " : "", res->code_args, res->code[0] ? "]" : "",
		     res->text);
	return (int)st;
}

/* ---- APPEND with a streamed literal ------------------------------- */

int imapc_append_begin(struct imapc *c, const char *mailbox_mutf7, const char *flags,
		       const char *date, uint64_t size, bool *go_r, unsigned *tag_r,
		       struct imapc_result *res_r, struct mf_error *err)
{
	*go_r = false;
	struct imapc_cmd *cmd = imapc_cmd_new("APPEND");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	if (flags != NULL)
		imapc_cmd_rawf(cmd, "(%s)", flags);
	if (date != NULL && date[0] != '\0')
		imapc_cmd_quoted(cmd, date);
	mf_buf_append_str(&cmd->text, " ");
	if (imapc_is_broken(c)) {
		imapc_cmd_free(&cmd);
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "connection lost");
		return imapc_fail(c, MF_ERR_ACCOUNT, err);
	}
	/* Send all but the literal through the generic path by hand: the
	 * literal itself is written by the caller as it streams. */
	struct imapc_inflight *e = enqueue(c, NULL, NULL, NULL);
	unsigned tag = e->tag;
	c->commands++;
	*tag_r = tag;
	char tagtxt[16];
	snprintf(tagtxt, sizeof(tagtxt), "a%u ", tag);
	int st = imapc_write(c, tagtxt, strlen(tagtxt), err);
	if (st == MF_OK)
		st = imapc_write(c, cmd->text.data, cmd->text.len, err);
	imapc_cmd_free(&cmd);
	if (st == MF_OK)
		st = send_literal_head(c, tag, size, go_r, err);
	if (st != MF_OK)
		return st;
	if (!*go_r)
		return imapc_wait(c, tag, res_r, err);
	return MF_OK;
}

int imapc_append_end(struct imapc *c, struct mf_error *err)
{
	int st = imapc_write(c, "\r\n", 2, err);
	if (st == MF_OK)
		st = mf_conn_flush(c->conn, err);
	return st == MF_OK ? MF_OK : imapc_fail(c, st, err);
}
