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

static int read_body(const struct mf_message *msg, unsigned char *buf, size_t cap,
		     size_t *n_r, struct mf_error *err)
{
	struct body_reader *br = msg->read_ctx;
	int e = graph_body_pread(br->body, br->off, buf, cap, n_r);
	if (e != 0)
		return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER, "%s: message %s: %s",
				    br->who, br->id, strerror(e));
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
	const char *st = json_string_value(json_object_get(json_object_get(m, "flag"), "flagStatus"));
	if (st != NULL && strcmp(st, "flagged") == 0)
		f |= MF_FLAG_FLAGGED;
	return f;
}

struct folder_run {
	struct mf_source *s;
	const char *path;
	char *what;                /* "graph: alice: folder Inbox" */
	const struct mf_cursor *since;
	mf_message_cb *cb;
	void *aux;
	size_t deleted, listed, copied_now;
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
				graph_log(fr->s, MF_LOG_INFO, "%s: message %s was deleted on the "
					  "server during the run: skipped", fr->path, v[i].id);
				continue;
			}
		}
		struct mf_error failure = { 0 };
		struct body_reader br = { .body = &r->body, .who = fr->what, .id = v[i].id };
		struct mf_message msg = {
			.source_id = v[i].id,
			.size = r->body.size,
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
		fr->copied_now++;
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

/* The messages of one delta page that the core does not have yet. */
static int take_page(struct folder_run *fr, json_t *page, struct mf_error *err)
{
	json_t *vals = json_object_get(page, "value");
	struct pending_msg batch[GRAPH_MAX_PARALLEL];
	size_t nb = 0;
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
		if (!mf_parse_iso8601_date(json_string_value(json_object_get(m, "receivedDateTime")),
					   &date))
			date = MF_DATE_UNKNOWN;
		batch[nb++] = (struct pending_msg){ mf_xstrdup(id), date, flags_of(m) };
		if (nb == GRAPH_MAX_PARALLEL) {
			st = deliver(fr, batch, nb, err);
			pending_free(batch, nb);
			nb = 0;
		}
	}
	if (st == MF_OK && nb > 0)
		st = deliver(fr, batch, nb, err);
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
	char *fresh = mf_xasprintf("%s/mailFolders/%s/messages/delta?" MSG_SELECT, s->users_url,
				   f->id);
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
		st = graph_get_json(s->http, url, prefer, NULL, fr.what, MF_ERR_FOLDER, &page, &http,
				    err);
		free(url);
		url = NULL;
		if (st != MF_OK && resuming && stale_state(http, err)) {
			graph_log(s, MF_LOG_INFO, "%s: the saved delta state is no longer valid "
				  "(%s): listing the folder again", folder, err->text);
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
		graph_log(s, MF_LOG_INFO, "%s: %zu message(s) deleted on the server during the "
			  "run, skipped", folder, fr.deleted);
	if (st == MF_OK && sync_state_r != NULL)
		*sync_state_r = delta_link;
	else
		free(delta_link);
	free(fr.what);
	return st;
}
