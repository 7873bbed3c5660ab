/* SPDX-License-Identifier: MIT */
/* Fetching one folder from an IMAP server, fast over a long link.
 *
 * EXAMINE the folder (read-only: nothing is marked \Seen), then walk it in
 * batches of message sequence numbers.  Each batch costs two commands:
 *   META  FETCH a:b (UID FLAGS INTERNALDATE RFC822.SIZE)
 *   BODY  UID FETCH <uids wanted> (UID BODY.PEEK[])
 * and they are pipelined so that the server always has work queued: when
 * META k completes we send META k+1 and then BODY k, so while BODY k's
 * bytes stream in, META k+1's answer is already on its way and BODY k+1
 * follows without a round trip of idle link (RFC 3501 §5.5 allows many
 * commands in flight; servers answer them in order).  Knowing the
 * metadata before the body means each message reaches the core with its
 * flags, date and size first, and its body is streamed from the socket
 * (the core spools it), whatever order the server puts the items in.
 *
 * Incremental runs: when UIDVALIDITY is unchanged the walk starts at the
 * first message whose UID exceeds since->last_uid (found with ESEARCH MIN,
 * or a binary search on sequence numbers); otherwise everything is
 * listed and since->have() skips what the core already has.  One part of
 * a split folder (since->from_uid/until_uid, imap_split) starts the same
 * way at from_uid and stops listing once a UID passes until_uid.  Messages
 * expunged during the walk shift sequence numbers (EXPUNGE is tracked);
 * a wanted message whose body never comes is reported as failed, and so
 * is one whose FETCH answer the parser had to skip unread (nested too
 * deeply: imapc_set_resync), for good, while the session goes on. */
#include <config.h>
#include "imap_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct meta {
	uint32_t seq, uid;
	uint64_t size; /* RFC822.SIZE, or UINT64_MAX if not given */
	int64_t date;
	int32_t tz;
	uint32_t flags;
	char **keywords;
	bool want, delivered;
	const char *damaged; /* its FETCH answer was skipped unread: why */
};

/* A META answer the parser skipped (too deeply nested): for whom. */
struct damaged {
	uint32_t seq;
	uint64_t uid; /* 0 if the UID was not read before the damage */
	char *why;
};

struct batch {
	struct batch *next; /* list of live batches, oldest first */
	uint32_t lo, hi;    /* sequence range of its META command */
	struct meta *m;
	size_t n, cap;
	size_t nwant;
	struct fetch_run *run;
	struct damaged *bad;
	size_t nbad;
};

struct fetch_run {
	struct mf_source *src;
	const struct imap_folder *folder;
	const struct mf_cursor *since;
	mf_message_cb *cb;
	void *aux;
	uint32_t uidvalidity;
	uint32_t next_seq;  /* first sequence number not yet in a META */
	struct batch *live; /* batches whose META or BODY is in flight */
	bool incremental;
	uint64_t from_uid, until_uid; /* one part of a split folder; 0: none */
	bool past_until;              /* a META showed a UID past until_uid */
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		imapc_free_strv(b->m[i].keywords);
	for (size_t i = 0; i < b->nbad; i++)
		free(b->bad[i].why);
	free(b->bad);
	free(b->m);
	free(b);
}

static void unlink_batch(struct fetch_run *run, struct batch *b)
{
	for (struct batch **pp = &run->live; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			return;
		}
}

/* EXPUNGE n: later sequence numbers move down by one (RFC 3501 §7.4.1). */
static void on_expunge(struct fetch_run *run, uint32_t n)
{
	for (struct batch *b = run->live; b; b = b->next) {
		for (size_t i = 0; i < b->n; i++)
			if (b->m[i].seq > n)
				b->m[i].seq--;
		if (b->lo > n)
			b->lo--;
		if (b->hi >= n && b->hi > 0)
			b->hi--;
	}
	if (run->next_seq > n)
		run->next_seq--;
}

static struct meta *find_meta(struct fetch_run *run, uint32_t seq, uint64_t uid)
{
	for (struct batch *b = run->live; b; b = b->next)
		for (size_t i = 0; i < b->n; i++)
			if (uid != 0 ? b->m[i].uid == uid : b->m[i].seq == seq)
				return &b->m[i];
	return NULL;
}

static int on_meta(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct batch *b = ctx;
	if (r->kind != IMAPC_UNTAGGED || !r->has_num)
		return MF_OK;
	if (strcmp(r->name, "EXPUNGE") == 0) {
		on_expunge(b->run, r->num);
		return MF_OK;
	}
	if (r->damaged != NULL) {
		/* Skipped unread (nested too deeply): the message it is about
		 * fails alone, in meta_done, once its UID is known. */
		if (strcmp(r->name, "FETCH") != 0 || r->num < b->lo || r->num > b->hi)
			return MF_OK;
		uint64_t duid = 0;
		if (r->args.n_items > 0)
			imapc_value_u64(imapc_fetch_item(&r->args.items[0], "UID"), &duid);
		for (size_t i = 0; i < b->nbad; i++)
			if (b->bad[i].seq == r->num && b->bad[i].uid == duid)
				return MF_OK;
		b->bad = mf_xrealloc(b->bad, (b->nbad + 1) * sizeof(*b->bad));
		b->bad[b->nbad++] = (struct damaged){ r->num, duid, mf_xstrdup(r->damaged) };
		return MF_OK;
	}
	if (strcmp(r->name, "FETCH") != 0 || r->args.n_items < 1)
		return MF_OK;
	const struct imapc_value *l = &r->args.items[0];
	uint64_t uid;
	const char *date = imapc_value_str(imapc_fetch_item(l, "INTERNALDATE"));
	if (!imapc_value_u64(imapc_fetch_item(l, "UID"), &uid) || uid == 0 || uid > UINT32_MAX ||
	    imapc_fetch_item(l, "FLAGS") == NULL || r->num < b->lo || r->num > b->hi)
		return MF_OK; /* an unsolicited flag update, not ours */
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->m = mf_xrealloc(b->m, b->cap * sizeof(*b->m));
	}
	struct meta *m = &b->m[b->n++];
	memset(m, 0, sizeof(*m));
	m->seq = r->num;
	m->uid = (uint32_t)uid;
	if (b->run->until_uid != 0 && uid > b->run->until_uid)
		b->run->past_until = true; /* the rest is another part's */
	m->flags = imapc_parse_flags(imapc_fetch_item(l, "FLAGS"), &m->keywords);
	if (!imapc_value_u64(imapc_fetch_item(l, "RFC822.SIZE"), &m->size))
		m->size = UINT64_MAX;
	if (date == NULL || !imapc_parse_date(date, &m->date, &m->tz)) {
		m->date = MF_DATE_UNKNOWN;
		m->tz = 0;
	}
	return MF_OK;
}

static void fill_message(struct mf_message *msg, const struct meta *m, char *idbuf, size_t idcap)
{
	snprintf(idbuf, idcap, "%u", m->uid);
	memset(msg, 0, sizeof(*msg));
	msg->source_id = idbuf;
	msg->uid = m->uid;
	msg->internal_date = m->date;
	msg->tz_offset_min = m->tz;
	msg->flags = m->flags;
	msg->keywords = (const char *const *)m->keywords;
}

/* A message body being read: the literal, and where it is from. */
struct body_reader {
	struct imapc_literal *lit;
	const char *folder;
};

static int read_literal(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
			struct mf_error *err)
{
	const struct body_reader *r = msg->read_ctx;
	int st = imapc_literal_read(r->lit, buf, cap, n_r, err);
	if (st != MF_OK) {
		/* The link's error (timeout, cut mid-literal) names only the
		 * server; the core reports it as is: say which message. */
		size_t n = strlen(err->text);
		snprintf(err->text + n, sizeof(err->text) - n,
			 " (reading folder %s uid %s, %llu of %llu bytes left)", r->folder,
			 msg->source_id, (unsigned long long)r->lit->left,
			 (unsigned long long)r->lit->size);
	}
	return st;
}

static int report_failure(struct fetch_run *run, struct meta *m, enum mf_retry rt, const char *why,
			  struct mf_error *err);

/* Hard cap on a message literal whatever RFC822.SIZE said: no mail system
 * stores messages near this (Exchange stops at 150 MB), and the core
 * spools what it is given. */
#define IMAP_LITERAL_CAP ((uint64_t)4 << 30)

/* True when the literal announced for m is absurd: over the cap, or far
 * over the RFC822.SIZE of the metadata answer (Exchange's sizes are only
 * estimates, hence the wide margin). */
static bool literal_absurd(const struct meta *m, uint64_t n)
{
	if (n > IMAP_LITERAL_CAP)
		return true;
	return m->size != UINT64_MAX && n / 2 > m->size + 512 * 1024;
}

/* The parser met BODY[]'s literal: hand the message to the core. */
static int on_body_stream(void *ctx, const struct imapc_resp *partial, const char *key,
			  struct imapc_literal *lit, struct mf_error *err)
{
	struct fetch_run *run = ctx;
	if (mf_ascii_strcasecmp(key, "BODY[]") != 0)
		return MF_OK; /* not what we asked for: skipped */
	uint64_t uid = 0;
	if (partial->args.n_items > 0)
		imapc_value_u64(imapc_fetch_item(&partial->args.items[0], "UID"), &uid);
	struct meta *m = find_meta(run, partial->num, uid);
	if (m == NULL || !m->want || m->delivered)
		return MF_OK;
	if (literal_absurd(m, lit->size)) {
		/* A hostile server announcing {100000000000} and trickling
		 * bytes: skipping the literal means reading all of it (the
		 * per-read timeout never fires), spooling it fills the disk.
		 * Record this message as failed for good (a re-run would meet
		 * the same; --only-failed retries it) and drop the connection
		 * instead; imap_fetch reconnects and the failed uid is not
		 * asked again (since->have). */
		char why[200];
		if (m->size != UINT64_MAX)
			snprintf(why, sizeof(why),
				 "server announced a body of %llu bytes for a message of"
				 " RFC822.SIZE %llu: refused",
				 (unsigned long long)lit->size, (unsigned long long)m->size);
		else
			snprintf(why, sizeof(why), "server announced a body of %llu bytes: refused",
				 (unsigned long long)lit->size);
		int st = report_failure(run, m, MF_RETRY_NEVER, why, err);
		if (st != MF_OK)
			return st;
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "%s: %s uid %u: %s; dropping the connection",
				    imapc_account_label(run->src->acct), run->folder->path, m->uid,
				    why);
	}
	m->delivered = true;
	struct mf_message msg;
	char id[16];
	fill_message(&msg, m, id, sizeof(id));
	msg.size = lit->size;
	struct body_reader rd = { .lit = lit, .folder = run->folder->path };
	msg.read = read_literal;
	msg.read_ctx = &rd;
	int st = run->cb(&msg, run->aux, err);
	if (st == MF_OK && lit->left == 0)
		imapc_note_progress(run->src->c); /* a body read whole */
	return st;
}

static int report_failure(struct fetch_run *run, struct meta *m, enum mf_retry rt, const char *why,
			  struct mf_error *err)
{
	struct mf_error failure;
	mf_error_set(&failure, MF_ERR_MESSAGE, rt, "%s: %s uid %u: %s",
		     imapc_account_label(run->src->acct), run->folder->path, m->uid, why);
	struct mf_message msg;
	char id[16];
	fill_message(&msg, m, id, sizeof(id));
	msg.failure = &failure;
	m->delivered = true;
	return run->cb(&msg, run->aux, err);
}

static int on_body(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	struct batch *b = ctx;
	if (r->kind != IMAPC_UNTAGGED || !r->has_num)
		return MF_OK;
	if (strcmp(r->name, "EXPUNGE") == 0) {
		on_expunge(b->run, r->num);
		return MF_OK;
	}
	if (r->damaged != NULL && strcmp(r->name, "FETCH") == 0) {
		/* Skipped unread (nested too deeply): its message fails. */
		uint64_t duid = 0;
		if (r->args.n_items > 0)
			imapc_value_u64(imapc_fetch_item(&r->args.items[0], "UID"), &duid);
		struct meta *dm = find_meta(b->run, r->num, duid);
		if (dm == NULL || !dm->want || dm->delivered)
			return MF_OK;
		return report_failure(b->run, dm, MF_RETRY_NEVER, r->damaged, err);
	}
	if (r->damaged != NULL || strcmp(r->name, "FETCH") != 0 || r->args.n_items < 1)
		return MF_OK;
	/* BODY[] NIL: Dovecot's answer for mail it cannot read. */
	const struct imapc_value *body = imapc_fetch_item(&r->args.items[0], "BODY[]");
	if (body == NULL || body->type == IMAPC_STREAMED)
		return MF_OK;
	uint64_t uid = 0;
	imapc_value_u64(imapc_fetch_item(&r->args.items[0], "UID"), &uid);
	struct meta *m = find_meta(b->run, r->num, uid);
	if (m == NULL || !m->want || m->delivered)
		return MF_OK;
	if (body->type == IMAPC_STRING) {
		/* Buffered (should not happen with the stream callback set,
		 * but serve it anyway). */
		struct imapc_io io;
		struct imapc_memio mem;
		imapc_memio_init(&io, &mem, body->str, body->len);
		struct imapc_literal lit = { .io = &io, .size = body->len, .left = body->len };
		m->delivered = true;
		struct mf_message msg;
		char id[16];
		fill_message(&msg, m, id, sizeof(id));
		msg.size = body->len;
		struct body_reader rd = { .lit = &lit, .folder = b->run->folder->path };
		msg.read = read_literal;
		msg.read_ctx = &rd;
		return b->run->cb(&msg, b->run->aux, err);
	}
	return report_failure(b->run, m, MF_RETRY_LATER, "server returned no body (BODY[] NIL)",
			      err);
}

static int send_meta(struct fetch_run *run, struct mf_error *err);

static int body_done(struct imapc *c, const struct imapc_result *res, void *ctx,
		     struct mf_error *err)
{
	(void)c;
	struct batch *b = ctx;
	struct fetch_run *run = b->run;
	int st = MF_OK;
	char why[480];
	if (res->status == IMAPC_OK)
		snprintf(why, sizeof(why),
			 "message vanished during the fetch"
			 " (expunged on the server?)");
	else
		snprintf(why, sizeof(why), "UID FETCH: %s %s%s%s",
			 res->status == IMAPC_NO ? "NO" : "BAD", res->code[0] ? res->code : "",
			 res->code[0] ? " " : "", res->text);
	for (size_t i = 0; i < b->n && st == MF_OK; i++)
		if (b->m[i].want && !b->m[i].delivered)
			st = report_failure(run, &b->m[i], MF_RETRY_LATER, why, err);
	unlink_batch(run, b);
	batch_free(b);
	return st;
}

static void append_range(struct mf_buf *set, uint32_t lo, uint32_t hi)
{
	if (set->len > 0)
		mf_buf_append_str(set, ",");
	if (lo == hi)
		mf_buf_printf(set, "%u", lo);
	else
		mf_buf_printf(set, "%u:%u", lo, hi);
}

static int meta_done(struct imapc *c, const struct imapc_result *res, void *ctx,
		     struct mf_error *err)
{
	struct batch *b = ctx;
	struct fetch_run *run = b->run;
	if (res->status != IMAPC_OK) {
		mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_LATER, "%s: %s: FETCH: %s %s",
			     imapc_account_label(run->src->acct), run->folder->path,
			     res->status == IMAPC_NO ? "NO" : "BAD", res->text);
		return MF_ERR_FOLDER;
	}
	/* Messages whose answer was skipped unread fail alone (below). */
	for (size_t i = 0; i < b->nbad; i++) {
		struct damaged *d = &b->bad[i];
		struct meta *m = NULL;
		for (size_t j = 0; j < b->n && m == NULL; j++)
			if (d->uid != 0 ? b->m[j].uid == d->uid : b->m[j].seq == d->seq)
				m = &b->m[j];
		if (m == NULL && (d->uid == 0 || d->uid > UINT32_MAX)) {
			mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_LATER,
				     "%s: %s: the FETCH answer for message %u named no UID: %s",
				     imapc_account_label(run->src->acct), run->folder->path, d->seq,
				     d->why);
			return MF_ERR_FOLDER;
		}
		if (m == NULL) { /* only the damaged answer: a meta of its UID */
			if (b->n == b->cap) {
				b->cap = b->cap ? b->cap * 2 : 64;
				b->m = mf_xrealloc(b->m, b->cap * sizeof(*b->m));
			}
			m = &b->m[b->n++];
			memset(m, 0, sizeof(*m));
			m->seq = d->seq;
			m->uid = (uint32_t)d->uid;
			m->size = UINT64_MAX;
			m->date = MF_DATE_UNKNOWN;
		}
		m->damaged = d->why;
	}
	/* Decide what to download: not already copied per the cursor. */
	struct mf_buf set = { 0 };
	uint32_t lo = 0, hi = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct meta *m = &b->m[i];
		char id[16];
		snprintf(id, sizeof(id), "%u", m->uid);
		m->want = !(run->incremental && m->uid <= run->since->last_uid) &&
			  m->uid >= run->from_uid &&
			  !(run->until_uid != 0 && m->uid > run->until_uid) &&
			  !(run->since && run->since->have &&
			    run->since->have(id, run->since->have_aux));
		if (m->want && m->damaged != NULL) {
			m->want = false;
			int fst = report_failure(run, m, MF_RETRY_NEVER, m->damaged, err);
			if (fst != MF_OK) {
				mf_buf_free(&set);
				return fst;
			}
		}
		if (!m->want)
			continue;
		b->nwant++;
		if (lo != 0 && m->uid == hi + 1) {
			hi = m->uid;
			continue;
		}
		if (lo != 0)
			append_range(&set, lo, hi);
		lo = hi = m->uid;
	}
	if (lo != 0)
		append_range(&set, lo, hi);
	/* Next META first, so it is answered while this BODY streams. */
	int st = send_meta(run, err);
	if (st == MF_OK && b->nwant > 0) {
		struct imapc_cmd *cmd = imapc_cmd_new("UID FETCH");
		imapc_cmd_raw(cmd, (char *)set.data);
		imapc_cmd_raw(cmd, "(UID BODY.PEEK[])");
		st = imapc_send(c, cmd, on_body, body_done, b, NULL, err);
	} else if (st == MF_OK) {
		unlink_batch(run, b);
		batch_free(b);
	}
	mf_buf_free(&set);
	return st;
}

static int send_meta(struct fetch_run *run, struct mf_error *err)
{
	const struct imapc_mailbox *mb = imapc_selected(run->src->c);
	uint32_t exists = mb ? mb->exists : 0;
	if (run->next_seq == 0 || run->next_seq > exists || run->past_until)
		return MF_OK;
	uint32_t lo = run->next_seq;
	uint32_t hi = exists - lo + 1 > run->src->batch ? lo + run->src->batch - 1 : exists;
	run->next_seq = hi + 1;
	struct batch *b = mf_xcalloc(1, sizeof(*b));
	b->run = run;
	b->lo = lo;
	b->hi = hi;
	struct batch **pp = &run->live;
	while (*pp)
		pp = &(*pp)->next;
	*pp = b;
	struct imapc_cmd *cmd = imapc_cmd_new("FETCH");
	imapc_cmd_rawf(cmd, "%u:%u (UID FLAGS INTERNALDATE RFC822.SIZE)", lo, hi);
	return imapc_send(run->src->c, cmd, on_meta, meta_done, b, NULL, err);
}

/* ---- where to start ----------------------------------------------- */

struct uid_probe {
	uint32_t seq;
	uint64_t uid;
	uint64_t min; /* ESEARCH MIN */
};

static int on_probe(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct uid_probe *p = ctx;
	if (r->kind != IMAPC_UNTAGGED)
		return MF_OK;
	if (strcmp(r->name, "FETCH") == 0 && r->has_num && r->num == p->seq && r->args.n_items > 0)
		imapc_value_u64(imapc_fetch_item(&r->args.items[0], "UID"), &p->uid);
	if (strcmp(r->name, "ESEARCH") == 0)
		for (size_t i = 0; i + 1 < r->args.n_items; i++)
			if (imapc_value_is_atom(&r->args.items[i], "MIN"))
				imapc_value_u64(&r->args.items[i + 1], &p->min);
	return MF_OK;
}

static int uid_at(struct mf_source *src, uint32_t seq, uint64_t *uid_r, struct mf_error *err)
{
	struct uid_probe p = { .seq = seq };
	struct imapc_cmd *cmd = imapc_cmd_new("FETCH");
	imapc_cmd_rawf(cmd, "%u (UID)", seq);
	struct imapc_result res;
	int st = imapc_run(src->c, cmd, on_probe, &p, &res, err);
	*uid_r = p.uid;
	return st;
}

/* First sequence number whose UID > last, or exists+1 if none. */
static int find_start(struct mf_source *src, uint32_t exists, uint64_t last, uint32_t *seq_r,
		      struct mf_error *err)
{
	uint64_t uid;
	int st = uid_at(src, exists, &uid, err);
	if (st != MF_OK)
		return st;
	if (uid != 0 && uid <= last) {
		*seq_r = exists + 1; /* nothing new: one round trip */
		return MF_OK;
	}
	if (imapc_has_cap(src->c, "ESEARCH")) {
		/* RFC 4731: the lowest matching sequence number at once. */
		struct uid_probe p = { 0 };
		struct imapc_cmd *cmd = imapc_cmd_new("SEARCH");
		imapc_cmd_rawf(cmd, "RETURN (MIN) UID %llu:*", (unsigned long long)last + 1);
		struct imapc_result res;
		st = imapc_run(src->c, cmd, on_probe, &p, &res, err);
		if (st != MF_OK)
			return st;
		if (res.status == IMAPC_OK && p.min > 0 && p.min <= exists) {
			*seq_r = (uint32_t)p.min;
			return MF_OK;
		}
	}
	uint32_t lo = 1, hi = exists; /* UID(hi) > last */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		st = uid_at(src, mid, &uid, err);
		if (st != MF_OK)
			return st;
		if (uid > last)
			hi = mid;
		else
			lo = mid + 1;
	}
	*seq_r = lo;
	return MF_OK;
}

/* EXAMINE folder (read-only: nothing is marked \Seen) by its path. */
static int examine_folder(struct mf_source *src, const char *folder, const struct imap_folder **f_r,
			  struct imapc_mailbox *mb, struct mf_error *err)
{
	int st = imap_load_folders(src, false, err);
	if (st != MF_OK)
		return st;
	*f_r = imap_find_folder(src, folder);
	if (*f_r == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "%s: folder %s not found on the server",
				    imapc_account_label(src->acct), folder);
	return imapc_select(src->c, (*f_r)->name, true, mb, err);
}

static int fetch_folder(struct mf_source *src, const char *folder, const struct mf_cursor *since,
			mf_message_cb *cb, void *aux, struct mf_error *err)
{
	const struct imap_folder *f;
	struct imapc_mailbox mb;
	int st = examine_folder(src, folder, &f, &mb, err);
	if (st != MF_OK)
		return st;
	struct fetch_run run = {
		.src = src,
		.folder = f,
		.since = since,
		.cb = cb,
		.aux = aux,
		.uidvalidity = mb.uidvalidity,
		.next_seq = 1,
	};
	run.incremental =
		since != NULL && since->uidvalidity != 0 && since->uidvalidity == mb.uidvalidity;
	if (since != NULL) {
		run.from_uid = since->from_uid;
		run.until_uid = since->until_uid;
	}
	if (mb.exists == 0)
		return MF_OK;
	uint64_t skip = run.incremental ? since->last_uid : 0;
	if (run.from_uid > skip + 1)
		skip = run.from_uid - 1;
	if (skip > 0) {
		st = find_start(src, mb.exists, skip, &run.next_seq, err);
		if (st != MF_OK)
			return st;
	}
	imapc_set_stream(src->c, on_body_stream, &run);
	imapc_set_resync(src->c, true); /* on_meta, on_body take damaged answers */
	st = send_meta(&run, err);
	while (st == MF_OK && run.live != NULL)
		st = imapc_read_one(src->c, err);
	imapc_set_stream(src->c, NULL, NULL);
	imapc_set_resync(src->c, false);
	while (run.live != NULL) {
		struct batch *b = run.live;
		run.live = b->next;
		batch_free(b);
	}
	if (st != MF_OK) {
		/* Mid-response: this session cannot go on; the next call
		 * reconnects. */
		imapc_close(&src->c);
		/* A connection-level error (protocol error, timeout, lost
		 * link) says nothing of where it happened: name the folder
		 * for the operator. */
		if (strstr(err->text, f->path) == NULL) {
			size_t n = strlen(err->text);
			snprintf(err->text + n, sizeof(err->text) - n, " (reading folder %s)",
				 f->path);
		}
	}
	return st;
}

/* A connection lost mid-folder is reopened here and the folder walked
 * again (a few times, with a short pause): what the core already stored
 * is skipped through since->have(), so nothing is lost or doubled. */
/* Remembers whether the core's callback stopped the walk: its error is
 * the core's (a failed sink, a cancel) and is returned unchanged, never
 * "resumed" here (plugin.h). */
struct cb_guard {
	mf_message_cb *cb;
	void *aux;
	bool stopped;
	struct mf_error err; /* the callback's, before imapc adds its label */
};

static int guarded_cb(const struct mf_message *msg, void *aux, struct mf_error *err)
{
	struct cb_guard *g = aux;
	int st = g->cb(msg, g->aux, err);
	if (st != MF_OK) {
		g->stopped = true;
		g->err = *err;
	}
	return st;
}

/* ---- one folder over several streams ------------------------------ */

struct split_probe {
	const uint32_t *seq;
	uint64_t *uid;
	unsigned n;
};

static int on_split(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct split_probe *p = ctx;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "FETCH") != 0 || !r->has_num ||
	    r->args.n_items < 1)
		return MF_OK;
	for (unsigned i = 0; i < p->n; i++)
		if (p->seq[i] == r->num)
			imapc_value_u64(imapc_fetch_item(&r->args.items[0], "UID"), &p->uid[i]);
	return MF_OK;
}

/* The UIDs at evenly spaced sequence numbers after the cursor, in one
 * command: cutting UID space (not sequence numbers) keeps each message
 * in exactly one part whatever arrives or goes meanwhile. */
int imap_split(struct mf_source *src, const char *folder, const struct mf_cursor *since,
	       unsigned parts, uint64_t *bounds, unsigned *n_r, struct mf_error *err)
{
	*n_r = 0;
	const struct imap_folder *f;
	struct imapc_mailbox mb;
	int st = examine_folder(src, folder, &f, &mb, err);
	if (st != MF_OK)
		return st;
	uint32_t first = 1;
	if (since != NULL && since->uidvalidity != 0 && since->uidvalidity == mb.uidvalidity &&
	    since->last_uid > 0 && mb.exists > 0) {
		st = find_start(src, mb.exists, since->last_uid, &first, err);
		if (st != MF_OK)
			return st;
	}
	uint32_t left = first <= mb.exists ? mb.exists - first + 1 : 0;
	if (parts > left / 2)
		parts = left / 2; /* parts of at least two messages */
	if (parts < 2)
		return MF_OK;
	uint32_t seq[64];
	uint64_t uid[64] = { 0 };
	unsigned n = parts - 1 < 64 ? parts - 1 : 64;
	struct imapc_cmd *cmd = imapc_cmd_new("FETCH");
	struct mf_buf set = { 0 };
	for (unsigned i = 0; i < n; i++) {
		/* The last message of part i. */
		seq[i] = first - 1 + (uint32_t)((uint64_t)left * (i + 1) / (n + 1));
		mf_buf_printf(&set, "%s%u", i ? "," : "", seq[i]);
	}
	imapc_cmd_raw(cmd, (char *)set.data);
	imapc_cmd_raw(cmd, "(UID)");
	mf_buf_free(&set);
	struct split_probe p = { seq, uid, n };
	struct imapc_result res;
	st = imapc_run(src->c, cmd, on_split, &p, &res, err);
	if (st != MF_OK || res.status != IMAPC_OK)
		return st; /* a NO: not split, the folder is fetched whole */
	/* Increasing and all known, or no split at all. */
	for (unsigned i = 0; i < n; i++)
		if (uid[i] == 0 || (i > 0 && uid[i] <= uid[i - 1]))
			return MF_OK;
	memcpy(bounds, uid, n * sizeof(*uid));
	*n_r = n;
	return MF_OK;
}

int imap_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
	       mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	const struct mf_host *host = src->plugin->host;
	for (unsigned attempt = 1;; attempt++) {
		struct cb_guard g = { .cb = cb, .aux = aux };
		int st = fetch_folder(src, folder, since, guarded_cb, &g, err);
		if (g.stopped) {
			*err = g.err; /* e.g. the sink's error, not this source's */
			return st;
		}
		bool lost = src->c == NULL || imapc_is_broken(src->c);
		if (st != MF_ERR_ACCOUNT || err->retry == MF_RETRY_NEVER || attempt >= 3 || !lost)
			return st;
		if (host != NULL && host->canceled != NULL && host->canceled(host->host_ctx))
			return st;
		if (host != NULL && host->log != NULL)
			host->log(host->host_ctx, MF_LOG_WARN, "%s; reconnecting to resume %s",
				  err->text, folder);
		struct timespec ts = { 0, 300000000L * attempt };
		nanosleep(&ts, NULL);
	}
}
