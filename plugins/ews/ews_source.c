/* SPDX-License-Identifier: MIT */
/* The EWS source operations: open (URI, auth, impersonation, well-known
 * folders), list_folders (FindFolder Deep, paths from ParentFolderId),
 * fetch (SyncFolderItems with the core's SyncState, FindItem as fallback,
 * GetItem batches with MIME).  Throttling and transient errors go back to
 * the core as MF_ERR_ACCOUNT + MF_RETRY_LATER with the server's delay; the
 * plugin has no retry loop of its own.  fetch is resumable: the SyncState
 * only advances past a page once each of its messages went through the
 * callback, and have() skips what the core already holds. */
#include <config.h>
#include "ews_p.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>

/* Defaults from brief §5; URI options override them (a non-Microsoft
 * endpoint such as AWS WorkMail caps FindFolder at 50). */
#define DEF_FOLDER_PAGE 500u
#define DEF_ITEM_PAGE 250u
#define DEF_SYNC_BATCH 200u
#define DEF_GET_BATCH 10u
#define DEF_BATCH_BYTES ((uint64_t)8 << 20)

struct mf_source {
	const struct mf_host *host;
	struct ews_http *http;
	char *who;            /* "ews: alice@corp.example" */
	char *impersonate;    /* or NULL */
	int version;          /* index into ews_versions */
	bool version_pinned;
	unsigned folder_page, item_page, sync_batch, get_batch;
	uint64_t batch_bytes;
	bool keep_system, finditem_only;
	char *role_ids[EWS_ROLE_COUNT];
	bool have_tree;
	struct ews_tree tree;
	struct mf_buf body, req;
};

static void slog(const struct mf_source *s, enum mf_log_level lvl,
		 const char *fmt, ...) MF_PRINTF(3, 4);
static void slog(const struct mf_source *s, enum mf_log_level lvl,
		 const char *fmt, ...)
{
	if (s->host == NULL || s->host->log == NULL)
		return;
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->host->log(s->host->host_ctx, lvl, "%s", line);
}

static bool canceled(const struct mf_source *s)
{
	return s->host != NULL && s->host->canceled != NULL &&
	       s->host->canceled(s->host->host_ctx);
}

typedef int parse_fn(const char *xml, size_t len, void *out, struct ews_status *st);
typedef void reset_fn(void *out);

/* POST s->body wrapped in an envelope and parse the reply into out.
 * MF_OK means *st holds the reply's status (success or not); the caller
 * classifies it.  ErrorInvalidServerVersion steps the RequestServerVersion
 * down and sends again (at most twice per session: brief §1). */
static int call(struct mf_source *s, const char *what, parse_fn *parse,
		void *out, reset_fn *reset, struct ews_status *st,
		struct mf_error *err)
{
	for (;;) {
		if (canceled(s))
			return mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER,
					    "%s: canceled", s->who);
		mf_buf_clear(&s->req);
		ews_req_envelope(&s->req, ews_versions[s->version], s->impersonate,
				 (const char *)s->body.data);
		long code;
		const struct mf_buf *resp;
		int rc = ews_http_post(s->http, &s->req, &code, &resp, err);
		if (rc != MF_OK)
			return rc;
		reset(out);
		const char *x = (const char *)resp->data;
		bool ok = parse(x, resp->len, out, st) == 0;
		bool bad_version = ok ? ews_status_is_version(st) :
			(code == 500 && x != NULL &&
			 strstr(x, "The specified server version is invalid") != NULL);
		if (bad_version && !s->version_pinned &&
		    ews_versions[s->version + 1] != NULL) {
			s->version++;
			slog(s, MF_LOG_INFO, "%s: server refused the request version; "
			     "stepping down to %s", s->who, ews_versions[s->version]);
			continue;
		}
		if (!ok) {
			/* 500 "Server Error in '/EWS' Application" pages and
			 * cut-off bodies are transient ([xl] protocol.py). */
			rc = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					  "%s: %s: HTTP %ld: unparsable reply (%zu bytes)",
					  s->who, what, code, resp->len);
			if (err != NULL)
				err->proto_code = code;
			return rc;
		}
		return MF_OK;
	}
}

/* ------------------------------------------------------------------ */
/* Parser adapters                                                      */

struct gf_out {
	char *ids[EWS_ROLE_COUNT];
	struct ews_status sts[EWS_ROLE_COUNT];
	size_t got;
};

static void reset_gf(void *o)
{
	struct gf_out *g = o;
	for (size_t i = 0; i < EWS_ROLE_COUNT; i++)
		free(g->ids[i]);
	memset(g, 0, sizeof(*g));
}

static int parse_gf(const char *x, size_t l, void *o, struct ews_status *st)
{
	struct gf_out *g = o;
	return ews_parse_get_folder(x, l, g->ids, g->sts, EWS_ROLE_COUNT, &g->got, st);
}

static void reset_fpage(void *o)
{
	ews_folder_page_free(o);
}

static int parse_ff(const char *x, size_t l, void *o, struct ews_status *st)
{
	return ews_parse_find_folder(x, l, o, st);
}

static void reset_ipage(void *o)
{
	ews_item_page_free(o);
}

static int parse_sync(const char *x, size_t l, void *o, struct ews_status *st)
{
	return ews_parse_sync_items(x, l, o, st);
}

static int parse_fi(const char *x, size_t l, void *o, struct ews_status *st)
{
	return ews_parse_find_item(x, l, o, st);
}

static int parse_gi(const char *x, size_t l, void *o, struct ews_status *st)
{
	return ews_parse_get_item(x, l, o, st);
}

/* ------------------------------------------------------------------ */
/* Folders                                                              */

/* GetFolder on the distinguished ids: the root's real id (top-level
 * folders name it as parent) and id -> role, since DisplayNames are
 * localized (brief §2.1).  Also the first request of a session, so bad
 * credentials and refused impersonation surface in open(). */
static int load_roles(struct mf_source *s, struct mf_error *err)
{
	struct gf_out g = { 0 };
	struct ews_status st;
	mf_buf_clear(&s->body);
	ews_req_get_folder_roles(&s->body);
	int rc = call(s, "GetFolder", parse_gf, &g, reset_gf, &st, err);
	if (rc != MF_OK)
		goto out;
	if (st.fault || g.got == 0 || g.ids[EWS_ROLE_ROOT] == NULL) {
		rc = ews_status_error(st.fault || g.got == 0 ? &st : &g.sts[0],
				      s->who, MF_ERR_ACCOUNT, err);
		goto out;
	}
	for (size_t r = 0; r < EWS_ROLE_COUNT; r++) {
		if (r < g.got && ews_status_is_busy(&g.sts[r])) {
			rc = ews_status_error(&g.sts[r], s->who, MF_ERR_ACCOUNT, err);
			goto out;
		}
		free(s->role_ids[r]);
		s->role_ids[r] = g.ids[r]; /* NULL: the mailbox lacks it */
		g.ids[r] = NULL;
	}
out:
	reset_gf(&g);
	return rc;
}

static int load_tree(struct mf_source *s, struct mf_error *err)
{
	struct ews_folder_page all = { 0 }, page = { 0 };
	struct ews_status st;
	uint64_t offset = 0;
	unsigned max = s->folder_page;
	int rc;
	char what[320];
	snprintf(what, sizeof(what), "%s: FindFolder", s->who);

	ews_tree_free(&s->tree);
	s->have_tree = false;
	for (;;) {
		mf_buf_clear(&s->body);
		ews_req_find_folder(&s->body, offset, max);
		rc = call(s, what, parse_ff, &page, reset_fpage, &st, err);
		if (rc != MF_OK)
			goto out;
		if (st.cls == EWS_ERROR) {
			/* EWSFindCountLimit: halve the page (php-ews#143). */
			if (ews_status_is(&st, "ErrorExceededFindCountLimit") && max > 1) {
				max /= 2;
				continue;
			}
			rc = ews_status_error(&st, what, MF_ERR_ACCOUNT, err);
			goto out;
		}
		for (size_t i = 0; i < page.n; i++) {
			if (all.n == all.cap) {
				all.cap = all.cap ? all.cap * 2 : 64;
				all.v = mf_xrealloc(all.v, all.cap * sizeof(*all.v));
			}
			all.v[all.n++] = page.v[i];
		}
		size_t got = page.n;
		bool last = page.last;
		uint64_t next = page.next_offset;
		page.n = 0; /* entries moved to all */
		ews_folder_page_free(&page);
		/* Advance by the server's offset, never backwards. */
		if (last || got == 0)
			break;
		offset = next > offset + got ? next : offset + got;
	}
	const char *roles[EWS_ROLE_COUNT];
	for (size_t r = 0; r < EWS_ROLE_COUNT; r++)
		roles[r] = s->role_ids[r];
	ews_tree_build(&all, roles, s->keep_system, &s->tree);
	s->have_tree = true;
	if (s->tree.skipped_class > 0)
		slog(s, MF_LOG_INFO, "%s: skipped %zu non-mail folders (calendar, "
		     "contacts, tasks, notes, search folders)", s->who,
		     s->tree.skipped_class);
	if (s->tree.skipped_system > 0)
		slog(s, MF_LOG_INFO, "%s: skipped %zu Outbox / Sync Issues folders "
		     "(URI option system-folders=1 keeps them)", s->who,
		     s->tree.skipped_system);
	rc = MF_OK;
out:
	ews_folder_page_free(&page);
	ews_folder_page_free(&all);
	return rc;
}

static int ews_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux,
			    struct mf_error *err)
{
	int rc = load_tree(s, err); /* fresh on every call: delta passes */
	if (rc != MF_OK)
		return rc;
	for (size_t i = 0; i < s->tree.n; i++) {
		const struct ews_tree_folder *tf = &s->tree.v[i];
		struct mf_folder f = {
			.path = tf->path,
			.special_use = tf->special_use,
			.messages = tf->total,
			.bytes = MF_COUNT_UNKNOWN,
			.uidvalidity = 0,
			.selectable = true,
		};
		rc = cb(&f, aux);
		if (rc != 0)
			return rc;
	}
	return MF_OK;
}

/* ------------------------------------------------------------------ */
/* Items                                                                */

struct pend {
	char *id;
	uint64_t size;
	int64_t received;
	bool alone; /* failed in a batch: asked for once more on its own */
};

struct fetch_ctx {
	struct mf_source *s;
	const char *folder;
	const struct mf_cursor *since;
	mf_message_cb *cb;
	void *aux;
	struct pend *q;
	size_t qn, qcap;
	size_t delivered, failed, gone, skipped_class, already;
	char what[384];
};

struct mem_reader {
	const unsigned char *p;
	size_t len, off;
};

static int mem_read(const struct mf_message *msg, unsigned char *buf,
		    size_t cap, size_t *n_r, struct mf_error *err)
{
	struct mem_reader *r = msg->read_ctx;
	size_t n = r->len - r->off < cap ? r->len - r->off : cap;
	memcpy(buf, r->p + r->off, n);
	r->off += n;
	*n_r = n;
	return MF_OK;
}

static void q_push(struct fetch_ctx *fx, const char *id, uint64_t size,
		   int64_t received, bool alone)
{
	if (fx->qn == fx->qcap) {
		fx->qcap = fx->qcap ? fx->qcap * 2 : 64;
		fx->q = mf_xrealloc(fx->q, fx->qcap * sizeof(*fx->q));
	}
	fx->q[fx->qn++] = (struct pend){ .id = mf_xstrdup(id), .size = size,
					 .received = received, .alone = alone };
}

static void q_clear(struct fetch_ctx *fx)
{
	for (size_t i = 0; i < fx->qn; i++)
		free(fx->q[i].id);
	fx->qn = 0;
}

/* Queue what a listing page announces, minus what the core holds and
 * what is no mail (appointments dragged into a mail folder, ...). */
static void queue_page(struct fetch_ctx *fx, const struct ews_item_page *page)
{
	for (size_t i = 0; i < page->n; i++) {
		const struct ews_item *it = &page->v[i];
		/* Delete and ReadFlagChange cannot be applied through the
		 * append-only sink ABI; a migration is additive. */
		if (it->change != EWS_CHANGE_CREATE && it->change != EWS_CHANGE_UPDATE)
			continue;
		if (!ews_item_class_is_mail(it->item_class)) {
			fx->skipped_class++;
			continue;
		}
		if (fx->since != NULL && fx->since->have != NULL &&
		    fx->since->have(it->id, fx->since->have_aux)) {
			fx->already++;
			continue;
		}
		q_push(fx, it->id, it->size, it->received, false);
	}
}

static int report_failed(struct fetch_ctx *fx, const char *id,
			 const struct ews_status *st, const char *why,
			 struct mf_error *err)
{
	struct mf_error ferr;
	mf_error_set(&ferr, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: item %s: %s%s%s",
		     fx->what, id, st != NULL ? st->code : why,
		     st != NULL && st->text[0] ? ": " : "", st != NULL ? st->text : "");
	slog(fx->s, MF_LOG_WARN, "%s", ferr.text);
	fx->failed++;
	struct mf_message msg = {
		.source_id = id,
		.size = 0,
		.internal_date = MF_DATE_UNKNOWN,
		.read = NULL,
		.failure = &ferr,
	};
	return fx->cb(&msg, fx->aux, err);
}

/* Next batch from q[*pos]: up to get_batch ids and batch_bytes of store
 * size; an item flagged alone, or over the byte cap, goes by itself
 * (brief §4: ~10 items, 8 MB, big ones alone). */
static size_t next_batch(const struct fetch_ctx *fx, size_t pos)
{
	const struct mf_source *s = fx->s;
	size_t n = 0;
	uint64_t bytes = 0;
	while (pos + n < fx->qn && n < s->get_batch) {
		const struct pend *p = &fx->q[pos + n];
		bool big = p->alone || p->size > s->batch_bytes;
		if (n > 0 && (big || bytes + p->size > s->batch_bytes))
			break;
		bytes += p->size;
		n++;
		if (big)
			break;
	}
	return n;
}

/* GetItem everything queued, in batches, and hand each message to the
 * core.  Items the server cannot export are asked for once more alone,
 * then reported as failed messages; ErrorItemNotFound means "gone since
 * listed" and is only counted (corso#2202). */
static int deliver(struct fetch_ctx *fx, struct mf_error *err)
{
	struct mf_source *s = fx->s;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	int rc = MF_OK;
	const char **ids = mf_xcalloc(s->get_batch, sizeof(*ids));

	for (size_t pos = 0; pos < fx->qn;) {
		size_t n = next_batch(fx, pos);
		for (size_t i = 0; i < n; i++)
			ids[i] = fx->q[pos + i].id;
		mf_buf_clear(&s->body);
		ews_req_get_item(&s->body, ids, n);
		rc = call(s, fx->what, parse_gi, &page, reset_ipage, &st, err);
		if (rc != MF_OK)
			goto out;
		if (st.fault) {
			rc = ews_status_error(&st, fx->what, MF_ERR_FOLDER, err);
			goto out;
		}
		size_t done = 0;
		for (; done < n && done < page.n; done++) {
			struct ews_item *it = &page.v[done];
			struct pend *p = &fx->q[pos + done];
			if (ews_status_is(&it->st, "ErrorBatchProcessingStopped"))
				break; /* the rest is sent again below */
			if (ews_status_is(&it->st, "ErrorItemNotFound")) {
				fx->gone++;
				continue;
			}
			if (it->st.cls == EWS_ERROR && !ews_status_item_unexportable(&it->st)) {
				enum mf_status cls = ews_status_error(&it->st, fx->what,
								      MF_ERR_MESSAGE, NULL);
				if (cls != MF_ERR_MESSAGE) {
					/* busy, transient, auth: the mailbox */
					rc = ews_status_error(&it->st, fx->what, cls, err);
					goto out;
				}
			}
			bool usable = it->st.cls != EWS_ERROR && it->has_mime &&
				      !it->mime_bad && it->mime.len > 0;
			if (!usable && !p->alone && n > 1) {
				q_push(fx, p->id, p->size, p->received, true);
				p = &fx->q[pos + done]; /* q may have moved */
				continue;
			}
			if (!usable) {
				rc = report_failed(fx, p->id,
						   it->st.cls == EWS_ERROR ? &it->st : NULL,
						   !it->has_mime || it->mime.len == 0 ?
						   "no MimeContent" : "MimeContent is not valid base64",
						   err);
				if (rc != 0)
					goto out;
				continue;
			}
			struct mem_reader r = { .p = it->mime.data, .len = it->mime.len };
			int64_t date = it->received != MF_DATE_UNKNOWN ? it->received :
				       p->received != MF_DATE_UNKNOWN ? p->received : it->sent;
			struct mf_message msg = {
				.source_id = p->id,
				.size = it->mime.len,
				.internal_date = date,
				.tz_offset_min = 0, /* xs:dateTime in UTC */
				.flags = it->flags,
				.read = mem_read,
				.read_ctx = &r,
			};
			rc = fx->cb(&msg, fx->aux, err);
			if (rc != 0)
				goto out;
			fx->delivered++;
			/* The decoded MIME is not needed any more: keep the
			 * batch's peak memory at one item plus the DOM. */
			mf_buf_free(&it->mime);
		}
		if (done == 0) {
			/* Nothing processed: stopped at the first id, or fewer
			 * replies than ids.  Going on would loop. */
			rc = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					  "%s: GetItem processed none of %zu items (%s)",
					  fx->what, n, page.n > 0 ? page.v[0].st.code : "no reply");
			goto out;
		}
		for (size_t i = done; i < n; i++)
			q_push(fx, fx->q[pos + i].id, fx->q[pos + i].size,
			       fx->q[pos + i].received, fx->q[pos + i].alone);
		ews_item_page_free(&page);
		pos += n;
	}
out:
	ews_item_page_free(&page);
	free(ids);
	q_clear(fx);
	return rc;
}

#define EWS_FALLBACK (-1)

static int fetch_sync(struct fetch_ctx *fx, const char *fid, char **state_r,
		      struct mf_error *err)
{
	struct mf_source *s = fx->s;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	const char *old = fx->since != NULL ? fx->since->sync_state : NULL;
	char *state = old != NULL && *old != '\0' ? mf_xstrdup(old) : NULL;
	bool restarted = false;
	int rc;

	for (;;) {
		mf_buf_clear(&s->body);
		ews_req_sync_items(&s->body, fid, state, s->sync_batch);
		rc = call(s, fx->what, parse_sync, &page, reset_ipage, &st, err);
		if (rc != MF_OK)
			goto out;
		if (st.cls == EWS_ERROR) {
			if (ews_status_is(&st, "ErrorInvalidSyncStateData") &&
			    state != NULL && !restarted) {
				/* Drop the state and list again; have() keeps
				 * what was copied from being copied twice. */
				slog(s, MF_LOG_WARN, "%s: server rejected the saved "
				     "SyncState; listing the folder again", fx->what);
				free(state);
				state = NULL;
				restarted = true;
				continue;
			}
			if (ews_status_is(&st, "ErrorSyncFolderNotFound") ||
			    ews_status_is(&st, "ErrorFolderNotFound")) {
				rc = ews_status_error(&st, fx->what, MF_ERR_FOLDER, err);
				goto out;
			}
			rc = ews_status_error(&st, fx->what, MF_ERR_FOLDER, err);
			if (rc == MF_ERR_FOLDER) {
				slog(s, MF_LOG_WARN, "%s: SyncFolderItems failed (%s); "
				     "listing with FindItem instead", fx->what, st.code);
				rc = EWS_FALLBACK;
			}
			goto out;
		}
		queue_page(fx, &page);
		rc = deliver(fx, err);
		if (rc != MF_OK)
			goto out;
		/* Every Create of this page is with the core: the state may
		 * move on (brief §3 "Checkpointing"). */
		free(state);
		state = page.sync_state;
		page.sync_state = NULL;
		bool stop = page.last;
		if (!stop && page.n == 0) {
			slog(s, MF_LOG_WARN, "%s: empty SyncFolderItems page without "
			     "IncludesLastItemInRange; stopping here", fx->what);
			stop = true;
		}
		ews_item_page_free(&page);
		if (stop)
			break;
	}
	*state_r = state;
	state = NULL;
	rc = MF_OK;
out:
	ews_item_page_free(&page);
	free(state);
	return rc;
}

static int fetch_find(struct fetch_ctx *fx, const char *fid, struct mf_error *err)
{
	struct mf_source *s = fx->s;
	struct ews_item_page page = { 0 };
	struct ews_status st;
	uint64_t offset = 0;
	unsigned max = s->item_page;
	int rc = MF_OK;

	for (;;) {
		mf_buf_clear(&s->body);
		ews_req_find_item(&s->body, fid, offset, max);
		rc = call(s, fx->what, parse_fi, &page, reset_ipage, &st, err);
		if (rc != MF_OK)
			break;
		if (st.cls == EWS_ERROR) {
			if (ews_status_is(&st, "ErrorExceededFindCountLimit") && max > 1) {
				max /= 2;
				continue;
			}
			rc = ews_status_error(&st, fx->what, MF_ERR_FOLDER, err);
			break;
		}
		queue_page(fx, &page);
		rc = deliver(fx, err);
		if (rc != MF_OK)
			break;
		size_t got = page.n;
		bool last = page.last;
		uint64_t next = page.next_offset;
		ews_item_page_free(&page);
		if (last || got == 0)
			break;
		/* Advance by IndexedPagingOffset, not the page size (§3). */
		offset = next > offset ? next : offset + got;
	}
	ews_item_page_free(&page);
	return rc;
}

static int ews_fetch(struct mf_source *s, const char *folder,
		     const struct mf_cursor *since, mf_message_cb *cb, void *aux,
		     char **sync_state_r, struct mf_error *err)
{
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	int rc = s->have_tree ? MF_OK : load_tree(s, err);
	if (rc != MF_OK)
		return rc;
	const struct ews_tree_folder *tf = ews_tree_find_path(&s->tree, folder);
	if (tf == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "%s: %s: no such mail folder", s->who, folder);
	struct fetch_ctx fx = { .s = s, .folder = folder, .since = since,
				.cb = cb, .aux = aux };
	snprintf(fx.what, sizeof(fx.what), "%s: %s", s->who, folder);
	char *fid = mf_xstrdup(tf->id);
	char *state = NULL;
	rc = s->finditem_only ? EWS_FALLBACK : fetch_sync(&fx, fid, &state, err);
	if (rc == EWS_FALLBACK)
		rc = fetch_find(&fx, fid, err); /* no state: have() dedupes */
	if (rc == MF_OK && sync_state_r != NULL) {
		*sync_state_r = state;
		state = NULL;
	}
	slog(s, MF_LOG_INFO, "%s: %zu messages fetched, %zu failed, %zu already "
	     "copied, %zu gone since listed, %zu non-mail items skipped",
	     fx.what, fx.delivered, fx.failed, fx.already, fx.gone, fx.skipped_class);
	free(state);
	free(fid);
	free(fx.q);
	return rc;
}

/* ------------------------------------------------------------------ */
/* open / close                                                         */

static unsigned opt_uint(const struct mf_account *a, const char *key,
			 unsigned dflt, unsigned lo, unsigned hi)
{
	const char *v = mf_account_option(a, key);
	uint64_t n;
	if (v == NULL || !mf_parse_u64(v, strlen(v), &n) || n < lo || n > hi)
		return dflt;
	return (unsigned)n;
}

/* A bearer token from a file: first line, surrounding blanks removed. */
static char *read_token(const char *path, const char *who, struct mf_error *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			     "%s: token-file %s: %s", who, path, strerror(errno));
		return NULL;
	}
	char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = buf;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	size_t len = strcspn(p, "\r\n");
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	char *tok = len > 0 ? mf_xstrndup(p, len) : NULL;
	explicit_bzero(buf, sizeof(buf));
	if (tok == NULL)
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
			     "%s: token-file %s is empty", who, path);
	return tok;
}

static const char *setting(const struct mf_host *h, const char *key)
{
	return h != NULL && h->setting != NULL ? h->setting(h->host_ctx, key) : NULL;
}

static int ews_open(void *plugin_ctx, const struct mf_account *a,
		    struct mf_source **src_r, struct mf_error *err)
{
	struct ews_plugin_ctx *pc = plugin_ctx;
	struct mf_source *s = mf_xcalloc(1, sizeof(*s));
	*src_r = s;
	s->host = pc != NULL ? pc->host : NULL;
	const char *imp = a->impersonate;
	if (imp == NULL || *imp == '\0')
		imp = mf_account_option(a, "impersonate");
	if (imp != NULL && *imp != '\0')
		s->impersonate = mf_xstrdup(imp);
	/* Error texts name the mailbox; with impersonation that is the
	 * impersonated one, not the service account. */
	const char *id = a->id != NULL ? a->id : a->user != NULL ? a->user : "?";
	if (s->impersonate != NULL && strcmp(id, s->impersonate) != 0)
		s->who = mf_xasprintf("ews: %s (via %s)", s->impersonate, id);
	else
		s->who = mf_xasprintf("ews: %s", id);
	if (a->host == NULL || a->host[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: the URI names no server (ews://user@host/EWS/Exchange.asmx)",
				    s->who);

	struct ews_http_cfg cfg = { .user = a->user, .password = a->password,
				    .auth = EWS_AUTH_BASIC, .host = s->host,
				    .who = s->who, .anchor = s->impersonate };
	const char *auth = mf_account_option(a, "auth");
	if (auth == NULL || strcmp(auth, "basic") == 0)
		cfg.auth = EWS_AUTH_BASIC;
	else if (strcmp(auth, "ntlm") == 0)
		cfg.auth = EWS_AUTH_NTLM;
	else if (strcmp(auth, "bearer") == 0 || strcmp(auth, "oauth2") == 0)
		cfg.auth = EWS_AUTH_BEARER;
	else
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: auth=%s: expected basic, ntlm or bearer",
				    s->who, auth);
	char *token = NULL;
	const char *tf = mf_account_option(a, "token-file");
	if (cfg.auth == EWS_AUTH_BEARER && tf != NULL && *tf != '\0') {
		token = read_token(tf, s->who, err);
		if (token == NULL)
			return err != NULL ? (int)err->status : MF_ERR_FATAL;
		cfg.password = token;
	}
	if (cfg.password == NULL || cfg.password[0] == '\0') {
		free(token);
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: no %s given", s->who,
				    cfg.auth == EWS_AUTH_BEARER ? "token (token-file= or password)" :
				    "password");
	}
	/* tls=none: plain HTTP, for a local test endpoint only; Basic then
	 * sends the password in clear, hence the warning. */
	const char *tls = mf_account_option(a, "tls");
	bool plain = tls != NULL && strcmp(tls, "none") == 0;
	if (plain)
		slog(s, MF_LOG_WARN, "%s: tls=none: credentials go unencrypted", s->who);
	const char *path = a->path != NULL && a->path[0] != '\0' ? a->path : "/EWS/Exchange.asmx";
	bool v6 = strchr(a->host, ':') != NULL;
	char port[16] = "";
	if (a->port != 0)
		snprintf(port, sizeof(port), ":%u", (unsigned)a->port);
	char *url = mf_xasprintf("%s://%s%s%s%s%s%s", plain ? "http" : "https",
				 v6 ? "[" : "", a->host, v6 ? "]" : "", port,
				 path[0] == '/' ? "" : "/", path);
	cfg.url = url;
	cfg.ca_file = setting(s->host, "ca-file");
	const char *ins = setting(s->host, "insecure");
	cfg.insecure = ins != NULL && strcmp(ins, "1") == 0;
	const char *to = setting(s->host, "timeout");
	uint64_t t;
	if (to != NULL && mf_parse_u64(to, strlen(to), &t) && t > 0 && t < 86400)
		cfg.timeout_s = (long)t;

	int rc = ews_http_open(&cfg, &s->http, err);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	free(url);
	if (rc != MF_OK)
		return rc;

	s->folder_page = opt_uint(a, "folder-page", DEF_FOLDER_PAGE, 1, 1000);
	s->item_page = opt_uint(a, "page", DEF_ITEM_PAGE, 1, 1000);
	s->sync_batch = opt_uint(a, "sync-batch", DEF_SYNC_BATCH, 1, 512);
	s->get_batch = opt_uint(a, "batch", DEF_GET_BATCH, 1, 100);
	s->batch_bytes = (uint64_t)opt_uint(a, "batch-mb", 8, 1, 1024) << 20;
	const char *sys = mf_account_option(a, "system-folders");
	s->keep_system = sys != NULL && strcmp(sys, "1") == 0;
	const char *list = mf_account_option(a, "list");
	s->finditem_only = list != NULL && strcmp(list, "finditem") == 0;
	const char *ver = mf_account_option(a, "version");
	if (ver != NULL) {
		s->version = -1;
		for (int i = 0; ews_versions[i] != NULL; i++)
			if (strcmp(ews_versions[i], ver) == 0)
				s->version = i;
		if (s->version < 0)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: version=%s: expected Exchange2013_SP1, "
					    "Exchange2010_SP2 or Exchange2007_SP1", s->who, ver);
		s->version_pinned = true;
	}
	return load_roles(s, err);
}

static void ews_close(struct mf_source **sp)
{
	struct mf_source *s = sp != NULL ? *sp : NULL;
	if (s == NULL)
		return;
	ews_http_close(&s->http);
	for (size_t r = 0; r < EWS_ROLE_COUNT; r++)
		free(s->role_ids[r]);
	ews_tree_free(&s->tree);
	mf_buf_free(&s->body);
	mf_buf_free(&s->req);
	free(s->impersonate);
	free(s->who);
	free(s);
	*sp = NULL;
}

const struct mf_source_ops ews_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = ews_open,
	.list_folders = ews_list_folders,
	.fetch = ews_fetch,
	.close = ews_close,
};

int ews_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	/* Both libraries want their global init before threads exist; the
	 * core calls init once, right after loading. */
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "ews: curl_global_init failed");
	struct ews_plugin_ctx *pc = mf_xcalloc(1, sizeof(*pc));
	pc->host = host;
	*ctx_r = pc;
	return MF_OK;
}

void ews_plugin_deinit(void *ctx)
{
	free(ctx);
	curl_global_cleanup();
}
