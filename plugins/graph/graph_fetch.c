/* SPDX-License-Identifier: MIT */
/* The messages of one folder: a delta query (messages/delta), page by
 * page through @odata.nextLink, its final @odata.deltaLink handed to the
 * core as the folder's sync state, so a re-run asks Graph only for what
 * changed since.  Bodies are the raw MIME of /messages/{id}/$value,
 * GRAPH_MAX_PARALLEL at a time (Exchange Online's per-mailbox limit),
 * each kept in memory up to 1 MiB and in an unlinked temporary file
 * beyond, then handed to the core in the order the delta listed them.
 * Already copied messages (since->have) are never downloaded.  A message
 * deleted on the server between listing and download (ErrorItemNotFound)
 * is skipped and counted, not a failure. */
#include <config.h>
#include "graph_p.h"

#include <mailferry/date.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SELECT "$select=id,receivedDateTime,isRead,isDraft,flag"
#define BATCH_MAX 20
/* A $batch answer is one JSON document in memory: past this, the batch's
 * messages are fetched one by one and streamed instead. */
#define BATCH_MEM_LIMIT (48u << 20)

struct pending_msg {
	char *id;
	int64_t date;
	uint32_t flags;
};

struct body_reader {
	const struct graph_body *body;
	uint64_t off;
	const char *who, *id;
};

static int read_body(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	struct body_reader *br = msg->read_ctx;
	struct mf_error e;
	if (mf_spool_pread(&br->body->sp, br->off, buf, cap, n_r, &e) != MF_OK)
		return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: message %s: %s",
				    br->who, br->id, e.text);
	br->off += *n_r;
	return MF_OK;
}

static uint32_t flags_of(json_t *m)
{
	uint32_t f = 0;
	if (json_is_true(json_object_get(m, "isRead")))
		f |= MF_FLAG_SEEN;
	if (json_is_true(json_object_get(m, "isDraft")))
		f |= MF_FLAG_DRAFT;
	/* "complete" (a finished follow-up) has no IMAP equivalent: the
	 * flag is down, as Outlook shows it. */
	const char *st =
		json_string_value(json_object_get(json_object_get(m, "flag"), "flagStatus"));
	if (st != NULL && strcmp(st, "flagged") == 0)
		f |= MF_FLAG_FLAGGED;
	return f;
}

struct folder_run {
	struct mf_source *s;
	const char *path;
	char *what; /* "graph: alice: folder Inbox" */
	const struct mf_cursor *since;
	mf_message_cb *cb;
	void *aux;
	size_t deleted, listed;
};

/* Download up to GRAPH_MAX_PARALLEL bodies at once, then deliver them. */
static int deliver(struct folder_run *fr, struct pending_msg *v, size_t n, struct mf_error *err)
{
	struct graph_req reqs[GRAPH_MAX_PARALLEL];
	char *urls[GRAPH_MAX_PARALLEL];
	memset(reqs, 0, sizeof(reqs));
	char *up = graph_user_path(fr->s->http, fr->s->user);
	for (size_t i = 0; i < n; i++) {
		urls[i] = mf_xasprintf("%s/v1.0/%s/messages/%s/$value",
				       graph_http_base(fr->s->http), up, v[i].id);
		reqs[i].url = urls[i];
		reqs[i].to_file = true;
		graph_body_init(&reqs[i].body);
	}
	free(up);
	int st = graph_http_run(fr->s->http, reqs, n, err);
	for (size_t i = 0; st == MF_OK && i < n; i++) {
		struct graph_req *r = &reqs[i];
		if (r->http == 404) {
			char code[64];
			struct mf_error e2 = { 0 };
			graph_error(r, fr->what, MF_ERR_MESSAGE, code, sizeof(code), &e2);
			if (strcmp(code, "ErrorItemNotFound") == 0) {
				fr->deleted++;
				graph_log(fr->s, MF_LOG_INFO,
					  "%s: message %s was deleted on the "
					  "server during the run: skipped",
					  fr->path, v[i].id);
				continue;
			}
		}
		struct mf_error failure = { 0 };
		struct body_reader br = { .body = &r->body, .who = fr->what, .id = v[i].id };
		struct mf_message msg = {
			.source_id = v[i].id,
			.size = r->body.sp.size,
			.internal_date = v[i].date,
			.flags = v[i].flags,
			.read = read_body,
			.read_ctx = &br,
		};
		if (r->http != 200) {
			char what[600];
			snprintf(what, sizeof(what), "%s: message %s", fr->what, v[i].id);
			int es = graph_error(r, what, MF_ERR_MESSAGE, NULL, 0, &failure);
			if (es != MF_ERR_MESSAGE) {
				/* throttled, token refused, server trouble: the
				 * mailbox is retried by the core, not this message
				 * marked failed */
				*err = failure;
				st = es;
				break;
			}
			msg.size = 0;
			msg.read = NULL;
			msg.failure = &failure;
		}
		if ((st = fr->cb(&msg, fr->aux, err)) != 0)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		graph_body_free(&reqs[i].body);
		free(urls[i]);
	}
	return st;
}

static void pending_free(struct pending_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].id);
}

/* Base64 (a $batch item's body) into b; false if it is not base64.  Graph
 * sends it unbroken and padded, so a length that is not a multiple of 4
 * is refused too. */
static bool decode_body(const char *text, struct graph_body *b)
{
	size_t len = strlen(text);
	struct mf_buf raw = { 0 };
	struct mf_error e;
	bool ok = len % 4 == 0 && mf_base64_decode(text, len, &raw) &&
		  mf_spool_add(&b->sp, raw.data, raw.len, &e) == MF_OK;
	mf_buf_free(&raw);
	return ok;
}

/* The bodies of v[0..n) in one $batch.  *fallback_r: the answer was too
 * big for memory; fetch these one by one instead. */
static int deliver_batch(struct folder_run *fr, struct pending_msg *v, size_t n, bool *fallback_r,
			 struct mf_error *err)
{
	*fallback_r = false;
	char *up = graph_user_path(fr->s->http, fr->s->user);
	json_t *reqs = json_array();
	for (size_t i = 0; i < n; i++) {
		char id[24], *url = mf_xasprintf("/%s/messages/%s/$value", up, v[i].id);
		snprintf(id, sizeof(id), "%zu", i);
		json_array_append_new(reqs, json_pack("{s:s, s:s, s:s}", "id", id, "method", "GET",
						      "url", url));
		free(url);
	}
	free(up);
	json_t *body = json_pack("{s:o}", "requests", reqs);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	char *url = mf_xasprintf("%s/v1.0/$batch", graph_http_base(fr->s->http));
	struct graph_req r = { .url = url, .post_json = text, .mem_limit = BATCH_MEM_LIMIT };
	graph_body_init(&r.body);
	int st = graph_http_run(fr->s->http, &r, 1, err);
	json_t *j = NULL;
	if (st == MF_OK && r.too_big)
		*fallback_r = true;
	else if (st == MF_OK && r.http != 200)
		st = graph_error(&r, fr->what, MF_ERR_FOLDER, NULL, 0, err);
	else if (st == MF_OK && (j = json_loadb((const char *)r.body.sp.mem.data, r.body.sp.mem.len,
						0, NULL)) == NULL)
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				  "%s: $batch answer is not JSON", fr->what);
	graph_body_free(&r.body);
	free(url);
	free(text);

	/* Answers come in any order: index them by id. */
	json_t *by_id[BATCH_MAX] = { 0 };
	json_t *resps = json_object_get(j, "responses");
	for (size_t k = 0; k < json_array_size(resps); k++) {
		const char *id = json_string_value(json_object_get(json_array_get(resps, k), "id"));
		unsigned long i = id != NULL ? strtoul(id, NULL, 10) : n;
		if (i < n)
			by_id[i] = json_array_get(resps, k);
	}
	uint32_t later_ms = 0;
	bool later = false;
	for (size_t i = 0; st == MF_OK && !*fallback_r && i < n; i++) {
		json_t *resp = by_id[i];
		json_int_t status = json_integer_value(json_object_get(resp, "status"));
		json_t *rb = json_object_get(resp, "body");
		if (resp == NULL || status == 429 || status >= 500) {
			/* Throttled or failed inside the batch: the rest is
			 * delivered, then the core backs off and runs the folder
			 * again (what was delivered is skipped then). */
			const char *ra = json_string_value(
				json_object_get(json_object_get(resp, "headers"), "Retry-After"));
			uint32_t ms = ra != NULL ? (uint32_t)atoi(ra) * 1000u : 0;
			later_ms = ms > later_ms ? ms : later_ms;
			later = true;
			continue;
		}
		const char *code =
			json_string_value(json_object_get(json_object_get(rb, "error"), "code"));
		if (status == 404 && code != NULL && strcmp(code, "ErrorItemNotFound") == 0) {
			fr->deleted++;
			graph_log(fr->s, MF_LOG_INFO,
				  "%s: message %s was deleted on the server "
				  "during the run: skipped",
				  fr->path, v[i].id);
			continue;
		}
		struct graph_body mb;
		graph_body_init(&mb);
		struct mf_error failure = { 0 };
		struct body_reader br = { .body = &mb, .who = fr->what, .id = v[i].id };
		struct mf_message msg = {
			.source_id = v[i].id,
			.internal_date = v[i].date,
			.flags = v[i].flags,
			.read = read_body,
			.read_ctx = &br,
		};
		if (status == 401 || status == 403) {
			struct graph_req fake = { .http = (long)status };
			graph_body_init(&fake.body);
			st = graph_error(&fake, fr->what, MF_ERR_FOLDER, NULL, 0, err);
			break;
		}
		if (status != 200 || !json_is_string(rb) ||
		    !decode_body(json_string_value(rb), &mb)) {
			mf_error_set(&failure, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				     "%s: message %s: HTTP %lld %s", fr->what, v[i].id,
				     (long long)status, code != NULL ? code : "(no MIME body)");
			failure.proto_code = (long)status;
			msg.read = NULL;
			msg.failure = &failure;
		}
		msg.size = mb.sp.size;
		st = fr->cb(&msg, fr->aux, err);
		graph_body_free(&mb);
	}
	json_decref(j);
	if (st == MF_OK && later) {
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				  "%s: throttled inside a $batch (HTTP 429/5xx)", fr->what);
		err->retry_after_ms = later_ms;
	}
	return st;
}

/* Deliver v[0..n): by $batch, or in groups of single requests. */
static int flush(struct folder_run *fr, struct pending_msg *v, size_t n, struct mf_error *err)
{
	bool one_by_one = fr->s->batch <= 1 || n == 1;
	int st = MF_OK;
	if (!one_by_one) {
		st = deliver_batch(fr, v, n, &one_by_one, err);
		if (one_by_one)
			graph_log(fr->s, MF_LOG_DEBUG,
				  "%s: large messages: fetching %zu one by one", fr->path, n);
	}
	for (size_t i = 0; st == MF_OK && one_by_one && i < n; i += GRAPH_MAX_PARALLEL)
		st = deliver(fr, v + i, n - i < GRAPH_MAX_PARALLEL ? n - i : GRAPH_MAX_PARALLEL,
			     err);
	return st;
}

/* The messages of one delta page that the core does not have yet. */
static int take_page(struct folder_run *fr, json_t *page, struct mf_error *err)
{
	json_t *vals = json_object_get(page, "value");
	struct pending_msg batch[BATCH_MAX];
	size_t nb = 0, cap = fr->s->batch > 1 ? fr->s->batch : GRAPH_MAX_PARALLEL;
	int st = MF_OK;
	for (size_t i = 0; st == MF_OK && i < json_array_size(vals); i++) {
		json_t *m = json_array_get(vals, i);
		const char *id = json_string_value(json_object_get(m, "id"));
		if (id == NULL || json_object_get(m, "@removed") != NULL)
			continue; /* deleted since the last run: nothing to copy */
		fr->listed++;
		if (fr->since != NULL && fr->since->have != NULL &&
		    fr->since->have(id, fr->since->have_aux))
			continue;
		int64_t date = MF_DATE_UNKNOWN;
		if (!mf_parse_iso8601_date(
			    json_string_value(json_object_get(m, "receivedDateTime")), &date))
			date = MF_DATE_UNKNOWN;
		batch[nb++] = (struct pending_msg){ mf_xstrdup(id), date, flags_of(m) };
		if (nb == cap) {
			st = flush(fr, batch, nb, err);
			pending_free(batch, nb);
			nb = 0;
		}
	}
	if (st == MF_OK && nb > 0)
		st = flush(fr, batch, nb, err);
	pending_free(batch, nb);
	return st;
}

/* A saved delta link Graph no longer knows (expired: 410
 * SyncStateNotFound; or refused as invalid): start the folder afresh,
 * the core's record of what is copied keeps it free of duplicates. */
static bool stale_state(long http, const struct mf_error *err)
{
	return http == 410 || (http == 400 && strstr(err->text, "SyncState") != NULL);
}

int graph_fetch(struct mf_source *s, const char *folder, const struct mf_cursor *since,
		mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	int st = graph_load_folders(s, err);
	if (st != MF_OK)
		return st;
	const struct graph_folder *f = graph_find_folder(s, folder);
	if (f == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "%s: no folder \"%s\"",
				    s->who, folder);
	struct folder_run fr = { .s = s, .path = folder, .since = since, .cb = cb, .aux = aux };
	fr.what = mf_xasprintf("%s: folder %s", s->who, folder);
	char *fresh =
		mf_xasprintf("%s/mailFolders/%s/messages/delta?" MSG_SELECT, s->users_url, f->id);
	const char *saved = since != NULL ? since->sync_state : NULL;
	/* Only a link to this endpoint: a state from elsewhere (another
	 * base URL) is not sent with this mailbox's token. */
	bool resuming = saved != NULL && strncmp(saved, graph_http_base(s->http),
						 strlen(graph_http_base(s->http))) == 0;
	char *url = mf_xstrdup(resuming ? saved : fresh);
	char *prefer = mf_xasprintf("odata.maxpagesize=%u", s->page_size);
	char *delta_link = NULL;
	while (st == MF_OK && url != NULL) {
		json_t *page = NULL;
		long http = 0;
		st = graph_get_json(s->http, url, prefer, NULL, fr.what, MF_ERR_FOLDER, &page,
				    &http, err);
		free(url);
		url = NULL;
		if (st != MF_OK && resuming && stale_state(http, err)) {
			graph_log(s, MF_LOG_INFO,
				  "%s: the saved delta state is no longer valid "
				  "(%s): listing the folder again",
				  folder, err->text);
			resuming = false;
			url = mf_xstrdup(fresh);
			st = MF_OK;
			continue;
		}
		if (st != MF_OK)
			break;
		st = take_page(&fr, page, err);
		const char *next = json_string_value(json_object_get(page, "@odata.nextLink"));
		const char *delta = json_string_value(json_object_get(page, "@odata.deltaLink"));
		if (st == MF_OK && next != NULL)
			url = mf_xstrdup(next);
		else if (st == MF_OK && delta != NULL)
			delta_link = mf_xstrdup(delta);
		json_decref(page);
	}
	free(url);
	free(prefer);
	free(fresh);
	if (st == MF_OK && fr.deleted > 0)
		graph_log(s, MF_LOG_INFO,
			  "%s: %zu message(s) deleted on the server during the "
			  "run, skipped",
			  folder, fr.deleted);
	if (st == MF_OK && sync_state_r != NULL)
		*sync_state_r = delta_link;
	else
		free(delta_link);
	free(fr.what);
	return st;
}
