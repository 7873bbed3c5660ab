/* SPDX-License-Identifier: MIT */
/* The dashboard's JSON API over the state store (the same state_*
 * queries "mailferry status", "enable" and "disable" use):
 *   GET  /api/session                   who is asking, may they write, the CSRF token
 *   GET  /api/summary?window=SECONDS    totals, progress, ETA, throughput samples
 *   GET  /api/mailboxes?q=&state=&sort=&order=&offset=&limit=   one page of mailboxes
 *   GET  /api/mailboxes/NAME            one mailbox: folders, errors, failed messages
 *   POST /api/mailboxes/NAME/enable     as "mailferry enable NAME"
 *   POST /api/mailboxes/NAME/disable    as "mailferry disable NAME"
 *   GET  /api/reports                   the verify reports under --reports
 * Authentication and CSRF are checked before a request gets here
 * (serve_http.c). */
#include <config.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "serve.h"

#define PAGE_MAX 500
#define FAILURES_MAX 1000

static const char *arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static uint64_t arg_uint(struct MHD_Connection *c, const char *name, uint64_t dflt, uint64_t max)
{
	const char *v = arg(c, name);
	if (v == NULL)
		return dflt;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end != '\0' || v[0] == '-')
		return dflt;
	return n > max ? max : n;
}

static json_t *mailbox_json(const struct state_mailbox_status *s)
{
	int64_t end = s->finished ? s->finished : (int64_t)time(NULL);
	int64_t secs = s->started ? end - s->started : 0;
	double rate = secs > 0 ? (double)s->copied_bytes / (double)secs : 0;
	return json_pack("{ss ss* ss* ss sb sI sI sI sI sI sf ss* sI sI}", "name", s->name,
			 "source", s->source_uri, "sink", s->sink_uri, "state", s->status,
			 "enabled", s->enabled, "folders", (json_int_t)s->folders, "copied",
			 (json_int_t)s->copied, "bytes", (json_int_t)s->copied_bytes, "failed",
			 (json_int_t)s->failed, "pending", (json_int_t)s->pending,
			 "bytes_per_second", rate, "last_error", s->last_error, "started",
			 (json_int_t)s->started, "finished", (json_int_t)s->finished);
}

static void session(struct serve_ctx *ctx, struct MHD_Connection *c, enum serve_access access,
		    struct serve_reply *r)
{
	bool writable = ctx->auth.have_token && !ctx->read_only;
	char *csrf = access == ACCESS_COOKIE ? serve_auth_csrf(&ctx->auth, c) : NULL;
	serve_reply_json(r, MHD_HTTP_OK,
			 json_pack("{sb sb ss* sb}", "anonymous", access == ACCESS_ANONYMOUS,
				   "writable", writable, "csrf", csrf, "reports",
				   ctx->reports_dir != NULL));
	free(csrf);
}

static int add_sample(const struct state_rate_sample *s, void *aux)
{
	json_array_append_new(aux,
			      json_pack("{sI sI sI}", "t", (json_int_t)s->start, "messages",
					(json_int_t)s->messages, "bytes", (json_int_t)s->bytes));
	return MF_OK;
}

struct recent {
	uint64_t messages, bytes;
};

static int add_recent(const struct state_rate_sample *s, void *aux)
{
	struct recent *r = aux;
	r->messages += s->messages;
	r->bytes += s->bytes;
	return MF_OK;
}

static void summary(struct serve_ctx *ctx, struct MHD_Connection *c, struct serve_reply *r)
{
	struct state_totals t;
	struct mf_error err;
	if (state_totals(ctx->db, &t, &err) != MF_OK) {
		serve_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err.text);
		return;
	}
	int64_t now = (int64_t)time(NULL);
	uint64_t window = arg_uint(c, "window", 3600, 31 * 86400);
	if (window < 60)
		window = 60;
	unsigned bucket = (unsigned)(window / 60);
	json_t *samples = json_array();
	int64_t since = now - (int64_t)window;
	state_throughput(ctx->db, since - since % bucket, bucket, add_sample, samples, &err);
	/* The current rate: what the last five minutes copied. */
	struct recent rec = { 0 };
	int64_t rate_span = 300;
	if (t.first_started > 0 && now - t.first_started < rate_span)
		rate_span = now - t.first_started > 0 ? now - t.first_started : 1;
	state_throughput(ctx->db, now - rate_span, 1, add_recent, &rec, &err);

	/* Progress and ETA by mailboxes: the state knows a mailbox's size only
	 * once it has been read, so the mailboxes finished so far are the
	 * measure of what is left. */
	uint64_t finished = t.done + t.failed;
	uint64_t remaining = t.pending + t.running + t.other;
	double progress =
		finished + remaining > 0 ? (double)finished / (double)(finished + remaining) : 0;
	int64_t elapsed = t.first_started > 0 ? now - t.first_started : 0;
	json_t *eta = json_null();
	if (remaining == 0 && finished > 0)
		eta = json_integer(0);
	else if (finished > 0 && elapsed > 0 && t.running > 0)
		eta = json_integer(
			(json_int_t)((double)elapsed * (double)remaining / (double)finished));
	json_t *j =
		json_pack("{s{sI sI sI sI sI sI sI} s{sI sI sI} sI sf so sI sI sI s{sf sf} sI so}",
			  "mailboxes", "total", (json_int_t)t.mailboxes, "pending",
			  (json_int_t)t.pending, "running", (json_int_t)t.running, "done",
			  (json_int_t)t.done, "failed", (json_int_t)t.failed, "disabled",
			  (json_int_t)t.disabled, "other", (json_int_t)t.other, "messages",
			  "copied", (json_int_t)t.copied, "failed", (json_int_t)t.failed_messages,
			  "pending", (json_int_t)t.pending_messages, "bytes_copied",
			  (json_int_t)t.copied_bytes, "progress", progress, "eta_seconds", eta,
			  "started", (json_int_t)t.first_started, "last_finished",
			  (json_int_t)t.last_finished, "now", (json_int_t)now, "rate",
			  "messages_per_second", (double)rec.messages / (double)rate_span,
			  "bytes_per_second", (double)rec.bytes / (double)rate_span,
			  "bucket_seconds", (json_int_t)bucket, "throughput", samples);
	serve_reply_json(r, MHD_HTTP_OK, j);
}

static int add_mailbox(const struct state_mailbox_status *s, void *aux)
{
	json_array_append_new(aux, mailbox_json(s));
	return MF_OK;
}

static bool parse_sort(const char *s, enum state_sort *sort_r)
{
	static const struct {
		const char *name;
		enum state_sort sort;
	} sorts[] = {
		{ "name", STATE_SORT_NAME },       { "state", STATE_SORT_STATUS },
		{ "started", STATE_SORT_STARTED }, { "finished", STATE_SORT_FINISHED },
		{ "copied", STATE_SORT_COPIED },   { "bytes", STATE_SORT_BYTES },
		{ "failed", STATE_SORT_FAILED },
	};
	*sort_r = STATE_SORT_NAME;
	if (s == NULL)
		return true;
	for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
		if (strcmp(sorts[i].name, s) == 0) {
			*sort_r = sorts[i].sort;
			return true;
		}
	return false;
}

static void mailboxes(struct serve_ctx *ctx, struct MHD_Connection *c, struct serve_reply *r)
{
	struct state_mailbox_query q = {
		.search = arg(c, "q"),
		.status = arg(c, "state"),
		.offset = arg_uint(c, "offset", 0, INT64_MAX),
		.limit = arg_uint(c, "limit", 50, PAGE_MAX),
	};
	const char *order = arg(c, "order");
	q.descending = order != NULL && strcmp(order, "desc") == 0;
	if (!parse_sort(arg(c, "sort"), &q.sort)) {
		serve_reply_error(r, MHD_HTTP_BAD_REQUEST,
				  "sort: name, state, started, finished, copied, bytes or failed");
		return;
	}
	if (q.limit == 0)
		q.limit = 1;
	json_t *rows = json_array();
	uint64_t matched = 0;
	struct mf_error err;
	if (state_mailbox_page(ctx->db, &q, &matched, add_mailbox, rows, &err) != MF_OK) {
		json_decref(rows);
		serve_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err.text);
		return;
	}
	serve_reply_json(r, MHD_HTTP_OK,
			 json_pack("{sI sI sI so}", "matched", (json_int_t)matched, "offset",
				   (json_int_t)q.offset, "limit", (json_int_t)q.limit, "mailboxes",
				   rows));
}

static int keep_mailbox(const struct state_mailbox_status *s, void *aux)
{
	json_t **j = aux;
	*j = mailbox_json(s);
	return MF_OK;
}

static int add_folder(const struct state_folder_target *t, void *aux)
{
	json_array_append_new(aux, json_pack("{ss ss* sI sI ss* ss*}", "path", t->path, "target",
					     t->target_path, "copied", (json_int_t)t->copied,
					     "failed", (json_int_t)t->failed, "state", t->status,
					     "error", t->last_error));
	return MF_OK;
}

struct failures {
	json_t *list;
	uint64_t count;
};

static int add_failure(const struct state_failure *f, void *aux)
{
	struct failures *fl = aux;
	if (fl->count++ < FAILURES_MAX)
		json_array_append_new(fl->list, json_pack("{ss ss ss*}", "folder", f->folder, "id",
							  f->source_id, "error", f->error));
	return MF_OK;
}

static void mailbox_detail(struct serve_ctx *ctx, const char *name, struct serve_reply *r)
{
	json_t *m = NULL;
	struct mf_error err;
	if (state_status_foreach(ctx->db, name, keep_mailbox, &m, &err) != MF_OK) {
		serve_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err.text);
		return;
	}
	if (m == NULL) {
		serve_reply_error(r, MHD_HTTP_NOT_FOUND, "no such mailbox");
		return;
	}
	json_t *folders = json_array();
	struct failures fl = { json_array(), 0 };
	if (state_folder_targets(ctx->db, name, add_folder, folders, &err) != MF_OK ||
	    state_failures_foreach(ctx->db, name, add_failure, &fl, &err) != MF_OK) {
		json_decref(m);
		json_decref(folders);
		json_decref(fl.list);
		serve_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err.text);
		return;
	}
	json_object_set_new(m, "folder_list", folders);
	json_object_set_new(m, "failed_messages", fl.list);
	json_object_set_new(m, "failed_messages_total", json_integer((json_int_t)fl.count));
	serve_reply_json(r, MHD_HTTP_OK, m);
}

static void set_enabled(struct serve_ctx *ctx, const char *name, bool enable, struct serve_reply *r)
{
	struct mf_error err;
	if (state_mailbox_set_enabled(ctx->db, name, enable, &err) != MF_OK) {
		serve_reply_error(r,
				  strstr(err.text, "no mailbox") ? MHD_HTTP_NOT_FOUND
								 : MHD_HTTP_INTERNAL_SERVER_ERROR,
				  err.text);
		return;
	}
	fprintf(stderr, "serve: %s %s\n", name, enable ? "enabled" : "disabled");
	serve_reply_json(r, MHD_HTTP_OK, json_pack("{ss sb}", "name", name, "enabled", enable));
}

static bool ends_with(const char *s, const char *suffix, size_t *stem_r)
{
	size_t n = strlen(s), k = strlen(suffix);
	*stem_r = n >= k ? n - k : 0;
	return n > k && strcmp(s + n - k, suffix) == 0;
}

void serve_api(struct serve_ctx *ctx, struct MHD_Connection *c, const char *method,
	       const char *path, enum serve_access access, struct serve_reply *r)
{
	bool post = strcmp(method, "POST") == 0;
	if (!post && strcmp(path, "/session") == 0)
		session(ctx, c, access, r);
	else if (!post && strcmp(path, "/summary") == 0)
		summary(ctx, c, r);
	else if (!post && strcmp(path, "/mailboxes") == 0)
		mailboxes(ctx, c, r);
	else if (!post && strcmp(path, "/reports") == 0)
		serve_reports_list(ctx, r);
	else if (strncmp(path, "/mailboxes/", 11) == 0 && path[11] != '\0') {
		/* libmicrohttpd has decoded the path: a name may hold '/', so
		 * the action is the last part. */
		const char *name = path + 11;
		size_t stem;
		if (!post) {
			mailbox_detail(ctx, name, r);
		} else if (ends_with(name, "/enable", &stem) ||
			   ends_with(name, "/disable", &stem)) {
			char *n = strndup(name, stem);
			set_enabled(ctx, n, name[stem + 1] == 'e', r);
			free(n);
		} else {
			serve_reply_error(r, MHD_HTTP_NOT_FOUND, "POST .../enable or .../disable");
		}
	} else {
		serve_reply_error(r, MHD_HTTP_NOT_FOUND, "no such API");
	}
}
