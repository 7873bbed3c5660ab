/* SPDX-License-Identifier: MIT */
/* The EWS source's listing and fetching: list_folders (FindFolder Deep,
 * paths from ParentFolderId), fetch (SyncFolderItems with the core's
 * SyncState, FindItem as fallback, GetItem batches with MIME).  fetch is
 * resumable: the SyncState only advances past a page once each of its
 * messages went through the callback, and have() skips what the core
 * already holds.  Sessions and the request round trip: ews_session.c. */
#include <config.h>
#include "ews_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------------ */
/* Folders                                                              */

/* GetFolder on the distinguished ids: the root's real id (top-level
 * folders name it as parent) and id -> role, since DisplayNames are
 * localized (brief §2.1).  Also the first request of a session, so bad
 * credentials and refused impersonation surface in open(). */
/* report: log what was skipped (list_folders; not the lazy load of a
 * fetch on a reopened session, which would repeat it). */
static int load_tree(struct mf_source *s, bool report, struct mf_error *err)
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
		rc = ews_call(s, what, parse_ff, &page, reset_fpage, &st, err);
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
	if (report && s->tree.skipped_class > 0)
		ews_log(s, MF_LOG_INFO,
			"%s: skipped %zu non-mail folders (calendar, "
			"contacts, tasks, notes, search folders)",
			s->who, s->tree.skipped_class);
	if (report && s->tree.skipped_system > 0)
		ews_log(s, MF_LOG_INFO,
			"%s: skipped %zu Outbox / Sync Issues folders "
			"(URI option system-folders=1 keeps them)",
			s->who, s->tree.skipped_system);
	rc = MF_OK;
out:
	ews_folder_page_free(&page);
	ews_folder_page_free(&all);
	return rc;
}

int ews_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	int rc = load_tree(s, true, err); /* fresh on every call: delta passes */
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

static int mem_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		    struct mf_error *err)
{
	struct mem_reader *r = msg->read_ctx;
	size_t n = r->len - r->off < cap ? r->len - r->off : cap;
	memcpy(buf, r->p + r->off, n);
	r->off += n;
	*n_r = n;
	return MF_OK;
}

static void q_push(struct fetch_ctx *fx, const char *id, uint64_t size, int64_t received,
		   bool alone)
{
	if (fx->qn == fx->qcap) {
		fx->qcap = fx->qcap ? fx->qcap * 2 : 64;
		fx->q = mf_xrealloc(fx->q, fx->qcap * sizeof(*fx->q));
	}
	fx->q[fx->qn++] = (struct pend){
		.id = mf_xstrdup(id), .size = size, .received = received, .alone = alone
	};
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

static int report_failed(struct fetch_ctx *fx, const char *id, const struct ews_status *st,
			 const char *why, struct mf_error *err)
{
	struct mf_error ferr;
	mf_error_set(&ferr, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: item %s: %s%s%s", fx->what, id,
		     st != NULL ? st->code : why, st != NULL && st->text[0] ? ": " : "",
		     st != NULL ? st->text : "");
	ews_log(fx->s, MF_LOG_WARN, "%s", ferr.text);
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
		rc = ews_call_get_item(s, fx->what, &page, &st, err);
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
				enum mf_status cls =
					ews_status_error(&it->st, fx->what, MF_ERR_MESSAGE, NULL);
				if (cls != MF_ERR_MESSAGE) {
					/* busy, transient, auth: the mailbox */
					rc = ews_status_error(&it->st, fx->what, cls, err);
					goto out;
				}
			}
			bool usable = it->st.cls != EWS_ERROR && it->has_mime && !it->mime_bad &&
				      it->mime.len > 0;
			if (!usable && !p->alone && n > 1) {
				/* Asked for once more on its own (brief §4).
				 * The id string lives outside q, so q moving
				 * inside q_push is harmless. */
				q_push(fx, p->id, p->size, p->received, true);
				continue;
			}
			if (!usable) {
				rc = report_failed(fx, p->id,
						   it->st.cls == EWS_ERROR ? &it->st : NULL,
						   it->mime_bad ? "MimeContent is not valid base64"
								: "no MimeContent",
						   err);
				if (rc != 0)
					goto out;
				continue;
			}
			struct mem_reader r = { .p = it->mime.data, .len = it->mime.len };
			int64_t date = it->received != MF_DATE_UNKNOWN  ? it->received
				       : p->received != MF_DATE_UNKNOWN ? p->received
									: it->sent;
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
					  "%s: GetItem processed none of %zu items (%s)", fx->what,
					  n, page.n > 0 ? page.v[0].st.code : "no reply");
			goto out;
		}
		for (size_t i = done; i < n; i++)
			q_push(fx, fx->q[pos + i].id, fx->q[pos + i].size, fx->q[pos + i].received,
			       fx->q[pos + i].alone);
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

static int fetch_sync(struct fetch_ctx *fx, const char *fid, char **state_r, struct mf_error *err)
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
		rc = ews_call(s, fx->what, parse_sync, &page, reset_ipage, &st, err);
		if (rc != MF_OK)
			goto out;
		if (st.cls == EWS_ERROR) {
			if (ews_status_is(&st, "ErrorInvalidSyncStateData") && state != NULL &&
			    !restarted) {
				/* Drop the state and list again; have() keeps
				 * what was copied from being copied twice. */
				ews_log(s, MF_LOG_WARN,
					"%s: server rejected the saved "
					"SyncState; listing the folder again",
					fx->what);
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
				ews_log(s, MF_LOG_WARN,
					"%s: SyncFolderItems failed (%s); "
					"listing with FindItem instead",
					fx->what, st.code);
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
			ews_log(s, MF_LOG_WARN,
				"%s: empty SyncFolderItems page without "
				"IncludesLastItemInRange; stopping here",
				fx->what);
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
		rc = ews_call(s, fx->what, parse_fi, &page, reset_ipage, &st, err);
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

int ews_fetch(struct mf_source *s, const char *folder, const struct mf_cursor *since,
	      mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	int rc = s->have_tree ? MF_OK : load_tree(s, false, err);
	if (rc != MF_OK)
		return rc;
	const struct ews_tree_folder *tf = ews_tree_find_path(&s->tree, folder);
	if (tf == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "%s: %s: no such mail folder", s->who, folder);
	struct fetch_ctx fx = { .s = s, .folder = folder, .since = since, .cb = cb, .aux = aux };
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
	/* After an error the core logs the error; the counts are detail. */
	ews_log(s, rc == MF_OK ? MF_LOG_INFO : MF_LOG_DEBUG,
		"%s: %zu messages fetched, %zu failed, %zu already "
		"copied, %zu gone since listed, %zu non-mail items skipped",
		fx.what, fx.delivered, fx.failed, fx.already, fx.gone, fx.skipped_class);
	free(state);
	free(fid);
	free(fx.q);
	return rc;
}
