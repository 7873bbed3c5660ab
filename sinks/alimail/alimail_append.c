/* SPDX-License-Identifier: MIT */
/* Storing messages on the target: APPEND (RFC 3501 §6.3.11) with the
 * system flags the folder's PERMANENTFLAGS allow (keywords only with
 * "\*": Alibaba has none, alibaba-mail.md §2.1), the internal date, the
 * body streamed from the core's spool as one literal (LITERAL+ when
 * offered, else after the server's "+"), and the APPENDUID (RFC 4315)
 * answer as target id "uidvalidity:uid".  Errors: a NO/BAD for one
 * message is MF_ERR_MESSAGE with the server's words (the run goes on),
 * [OVERQUOTA] stops the mailbox, [TRYCREATE] creates the folder and tries
 * once more, a lost connection is MF_ERR_ACCOUNT for the core to reopen.
 *
 * lookup (after a crash between APPEND and the core's bookkeeping):
 * UID SEARCH HEADER Message-ID <id> LARGER size-1 SMALLER size+1, then
 * each candidate's body is fetched (streamed) and its SHA-256 compared, so
 * distinct messages sharing a Message-ID are never confused. */
#include <config.h>
#include "alimail_p.h"

#include <mailferry/date.h>
#include <mailferry/mime.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

static int stream_body(struct mf_sink *snk, const struct mf_message *msg, struct mf_error *err)
{
	unsigned char *buf = mf_xmalloc(CHUNK);
	uint64_t total = 0;
	int st = MF_OK;
	for (;;) {
		size_t n = 0;
		st = msg->read(msg, buf, CHUNK, &n, err);
		if (st != MF_OK || n == 0)
			break;
		if (total + n > msg->size) {
			st = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
					  "message %s is longer than its"
					  " announced %llu bytes",
					  msg->source_id, (unsigned long long)msg->size);
			break;
		}
		total += n;
		st = imapc_write(snk->c, buf, n, err);
		if (st != MF_OK)
			break;
	}
	free(buf);
	if (st == MF_OK && total != msg->size)
		st = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				  "message %s ended after %llu of %llu bytes", msg->source_id,
				  (unsigned long long)total, (unsigned long long)msg->size);
	return st;
}

/* "uidvalidity uid" of APPENDUID into "uidvalidity:uid". */
static void appenduid(const struct imapc_result *res, struct mf_append_result *out)
{
	unsigned long long v, u;
	char tail;
	if (strcmp(res->code, "APPENDUID") == 0 &&
	    sscanf(res->code_args, "%llu %llu%c", &v, &u, &tail) == 2)
		snprintf(out->target_id, sizeof(out->target_id), "%llu:%llu", v, u);
}

int alimail_append_send(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			bool *go_r, unsigned *tag_r, struct imapc_result *res, struct mf_error *err)
{
	*go_r = false;
	int st = MF_OK;
	if (!snk->flags_known && (snk->sel_path == NULL || imapc_selected(snk->c) == NULL))
		st = alimail_select(snk, folder, err);
	if (!snk->flags_known && st == MF_OK) {
		snk->flags_known = true;
		snk->have_perm = snk->sel.have_perm;
		snk->perm_flags = snk->sel.perm_flags;
		snk->perm_keywords = snk->sel.perm_keywords;
	}
	if (st != MF_OK)
		return st;
	const struct alimail_folder *f = alimail_find(snk, folder);
	char *name = f ? mf_xstrdup(f->name) : imapc_path_to_name(folder, snk->sep, snk->ns_prefix);
	/* Without a PERMANENTFLAGS code RFC 3501 §7.1 says all flags may be
	 * changed permanently. */
	uint32_t mask = snk->have_perm ? snk->perm_flags : 0xffffffffu;
	bool kw = !snk->have_perm || snk->perm_keywords;
	struct mf_buf flags = { 0 };
	imapc_format_flags(msg->flags, mask, kw, msg->keywords, &flags);
	char date[40] = "";
	if (msg->internal_date != MF_DATE_UNKNOWN)
		mf_format_imap_date(msg->internal_date, msg->tz_offset_min, date, sizeof(date));
	st = imapc_append_begin(snk->c, name, (char *)flags.data, date, msg->size, go_r, tag_r, res,
				err);
	mf_buf_free(&flags);
	free(name);
	if (st != MF_OK || !*go_r)
		return st;
	st = stream_body(snk, msg, err);
	if (st != MF_OK) {
		/* Mid-literal: the session is unusable. */
		imapc_close(&snk->c);
		return st;
	}
	return imapc_append_end(snk->c, err);
}

static int append_once(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		       struct imapc_result *res, struct mf_error *err)
{
	bool go;
	unsigned tag;
	int st = alimail_append_send(snk, folder, msg, &go, &tag, res, err);
	if (st == MF_OK && go)
		st = imapc_wait(snk->c, tag, res, err);
	return st;
}

int alimail_append_outcome(struct mf_sink *snk, const struct imapc_result *res, const char *what,
			   struct mf_append_result *res_r, bool *trycreate_r, struct mf_error *err)
{
	*trycreate_r = false;
	if (res->status == IMAPC_OK) {
		appenduid(res, res_r);
		return MF_OK;
	}
	if (strcmp(res->code, "TRYCREATE") == 0) {
		*trycreate_r = true;
		return imapc_result_error(snk->c, res, MF_ERR_FOLDER, MF_RETRY_NOW, what, err);
	}
	if (strcmp(res->code, "OVERQUOTA") == 0)
		return imapc_result_error(snk->c, res, MF_ERR_ACCOUNT, MF_RETRY_NEVER, what, err);
	if (strcmp(res->code, "UNAVAILABLE") == 0 || strcmp(res->code, "INUSE") == 0)
		return imapc_result_error(snk->c, res, MF_ERR_ACCOUNT, MF_RETRY_LATER, what, err);
	return imapc_result_error(snk->c, res, MF_ERR_MESSAGE, MF_RETRY_NEVER, what, err);
}

int alimail_append_now(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		       struct mf_append_result *res_r, struct mf_error *err)
{
	memset(res_r, 0, sizeof(*res_r));
	int st = alimail_ensure_conn(snk, err);
	if (st != MF_OK)
		return st;
	for (int attempt = 0;; attempt++) {
		struct imapc_result res = { 0 };
		st = append_once(snk, folder, msg, &res, err);
		if (st == MF_ERR_ACCOUNT && (snk->c == NULL || imapc_is_broken(snk->c)) &&
		    err->retry == MF_RETRY_LATER && err->sys_errno != ETIMEDOUT)
			/* Connection lost (reset, EOF): reopen at once; the
			 * core's lookup() tells whether the APPEND landed. */
			err->retry = MF_RETRY_NOW;
		if (st != MF_OK)
			return st;
		char what[400];
		snprintf(what, sizeof(what),
			 "%s: message %s (%llu bytes):"
			 " APPEND",
			 folder, msg->source_id, (unsigned long long)msg->size);
		bool trycreate;
		st = alimail_append_outcome(snk, &res, what, res_r, &trycreate, err);
		if (trycreate && attempt == 0) {
			/* Deleted behind our back: create it again, once. */
			char *actual = NULL;
			snk->listed = false;
			snk->create_waits = true; /* a refusal must be seen now */
			st = alimail_ensure_folder(snk, folder, MF_SPECIAL_NONE, &actual, err);
			snk->create_waits = false;
			free(actual);
			if (st != MF_OK)
				return st;
			continue;
		}
		if (trycreate)
			st = err->status = MF_ERR_MESSAGE;
		return st;
	}
}

/* ---- lookup ------------------------------------------------------- */

struct search_ctx {
	uint32_t uids[64];
	size_t n;
};

static int on_search(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct search_ctx *s = ctx;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "SEARCH") != 0)
		return MF_OK;
	for (size_t i = 0; i < r->args.n_items && s->n < 64; i++) {
		uint64_t v;
		if (imapc_value_u64(&r->args.items[i], &v) && v <= UINT32_MAX)
			s->uids[s->n++] = (uint32_t)v;
	}
	return MF_OK;
}

static int search(struct mf_sink *snk, const char *msgid, uint64_t size, bool with_size,
		  struct search_ctx *s, struct mf_error *err)
{
	struct imapc_cmd *cmd = imapc_cmd_new("UID SEARCH");
	if (msgid != NULL) {
		imapc_cmd_raw(cmd, "HEADER Message-ID");
		imapc_cmd_quoted(cmd, msgid);
	}
	if (with_size || msgid == NULL)
		imapc_cmd_rawf(cmd, "LARGER %llu SMALLER %llu",
			       (unsigned long long)(size ? size - 1 : 0),
			       (unsigned long long)size + 1);
	struct imapc_result res;
	s->n = 0;
	int st = imapc_run(snk->c, cmd, on_search, s, &res, err);
	if (st == MF_OK && res.status != IMAPC_OK)
		return imapc_result_error(snk->c, &res, MF_ERR_FOLDER, MF_RETRY_LATER, "UID SEARCH",
					  err);
	return st;
}

/* What lookup needs of the source message, in one pass over it: its
 * Message-ID (from the first 256 KiB), and its digest and size with bare
 * LFs counted as CRLF (see digest_ctx). */
struct source_view {
	char *msgid; /* or NULL */
	unsigned char digest[32];
	uint64_t size;
};

static int read_source(const struct mf_message *msg, struct source_view *v, struct mf_error *err)
{
	struct mf_buf head = { 0 };
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[16384];
	bool after_cr = false, head_done = false;
	int st;
	memset(v, 0, sizeof(*v));
	for (;;) {
		size_t n = 0;
		st = msg->read(msg, buf, sizeof(buf), &n, err);
		if (st != MF_OK || n == 0)
			break;
		v->size += mf_sha256_update_crlf(h, &after_cr, buf, n);
		if (!head_done) {
			mf_buf_append(&head, buf, n);
			head_done = head.len >= 256 * 1024 ||
				    mf_header_block_len(head.data, head.len) < head.len;
		}
	}
	mf_sha256_final(h, v->digest);
	mf_sha256_free(&h);
	struct mf_buf id = { 0 };
	if (st == MF_OK && head.len > 0 &&
	    mf_header_find(head.data, head.len, "Message-ID", false, &id) && id.len > 0 &&
	    id.len < 900 && memchr(id.data, '\0', id.len) == NULL)
		v->msgid = mf_xstrdup((char *)id.data);
	mf_buf_free(&id);
	mf_buf_free(&head);
	return st;
}

/* Digests here count bare LFs as CRLF (mf_sha256_update_crlf): servers
 * serve CRLF whatever was appended, so a message read from an LF-only
 * mbox is found again. */
struct digest_ctx {
	struct mf_sha256 *h;
	bool got;
	unsigned char out[32];
	uint64_t expect; /* the source message's size (CRLF form) */
};

static int on_digest_stream(void *ctx, const struct imapc_resp *partial, const char *key,
			    struct imapc_literal *lit, struct mf_error *err)
{
	(void)partial;
	struct digest_ctx *d = ctx;
	if (mf_ascii_strcasecmp(key, "BODY[]") != 0)
		return MF_OK;
	/* A candidate far larger than the message cannot be it, and
	 * skipping a literal means reading it: a target announcing
	 * {100000000000} and trickling would hold the lookup forever (the
	 * I/O timeout never fires while bytes flow).  Drop the connection
	 * instead. */
	if (lit->size / 2 > d->expect + 512 * 1024)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "lookup: server announced a body of %llu bytes for a"
				    " candidate of a %llu-byte message: dropping the connection",
				    (unsigned long long)lit->size, (unsigned long long)d->expect);
	unsigned char buf[16384];
	bool after_cr = false;
	for (;;) {
		size_t n;
		int st = imapc_literal_read(lit, buf, sizeof(buf), &n, err);
		if (st != MF_OK)
			return st;
		if (n == 0)
			break;
		mf_sha256_update_crlf(d->h, &after_cr, buf, n);
	}
	mf_sha256_final(d->h, d->out);
	d->got = true;
	return MF_OK;
}

int alimail_lookup_now(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		       const unsigned char digest[32], bool *found_r,
		       struct mf_append_result *res_r, struct mf_error *err)
{
	*found_r = false;
	memset(res_r, 0, sizeof(*res_r));
	int st = alimail_ensure_conn(snk, err);
	if (st == MF_OK)
		st = alimail_select(snk, folder, err);
	if (st != MF_OK)
		return st;
	/* The core's digest is of the bytes as read; the server may have
	 * added CRs, so compare in the CRLF form, taken here from msg. */
	(void)digest;
	struct source_view v;
	st = read_source(msg, &v, err);
	if (st != MF_OK) {
		free(v.msgid);
		return st;
	}
	struct search_ctx s;
	st = search(snk, v.msgid, v.size, true, &s, err);
	if (st == MF_OK && s.n == 0 && (v.msgid != NULL || v.size != msg->size))
		/* A server that keeps bare LFs counts the size as read. */
		st = v.msgid != NULL ? search(snk, v.msgid, 0, false, &s, err)
				     : search(snk, NULL, msg->size, true, &s, err);
	free(v.msgid);
	struct digest_ctx d = { .h = mf_sha256_new(), .expect = v.size };
	imapc_set_stream(snk->c, on_digest_stream, &d);
	for (size_t i = 0; st == MF_OK && i < s.n && !*found_r; i++) {
		struct imapc_cmd *cmd = imapc_cmd_new("UID FETCH");
		imapc_cmd_rawf(cmd, "%u (UID BODY.PEEK[])", s.uids[i]);
		struct imapc_result res;
		d.got = false;
		st = imapc_run(snk->c, cmd, NULL, NULL, &res, err);
		if (st == MF_OK && d.got && memcmp(d.out, v.digest, 32) == 0) {
			*found_r = true;
			snprintf(res_r->target_id, sizeof(res_r->target_id), "%u:%u",
				 snk->sel.uidvalidity, s.uids[i]);
		}
	}
	if (snk->c != NULL)
		imapc_set_stream(snk->c, NULL, NULL);
	mf_sha256_free(&d.h);
	return st;
}
