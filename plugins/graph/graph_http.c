/* SPDX-License-Identifier: MIT */
/* Requests to Microsoft Graph over libcurl's multi interface: up to
 * GRAPH_MAX_PARALLEL at once on one connection cache (keep-alive, TLS
 * resumed), each with the bearer token from the core's OAuth service and
 * "Prefer: IdType=ImmutableId" so message ids survive moves between
 * folders (the state keys on them).  A 401 fetches a new token (the
 * core's refresh) and repeats the refused requests once.  Answers are
 * mapped to mf_error by what the operator has to do: permissions and
 * consent (401/403), a mailbox that does not exist (404 on the user),
 * throttling (429/503/504 with Retry-After, left to the core's back-off). */
#include <config.h>
#include "graph_p.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bodies above this go to a temporary file. */
#define GRAPH_MEM_BODY (1u << 20)
/* No JSON page of Graph's comes near this; a body that does is refused
 * rather than parsed. */
#define GRAPH_MAX_JSON (64u << 20)

struct graph_http {
	const struct mf_host *host;
	struct mf_account acct_copy; /* what oauth_token() needs later */
	char *acct_id, *acct_user;
	char **option_store;
	char *tenant, *base, *who;
	char *token;
	CURLM *multi;
	CURL *easy[GRAPH_MAX_PARALLEL];
	const char *ca_file;
	bool insecure;
	long timeout_s;
};

void graph_body_init(struct graph_body *b)
{
	memset(b, 0, sizeof(*b));
	mf_spool_init(&b->sp, SIZE_MAX, getenv("TMPDIR"));
}

void graph_body_free(struct graph_body *b)
{
	mf_spool_free(&b->sp);
	graph_body_init(b);
}

struct sink_ctx {
	struct graph_req *r;
	size_t limit; /* memory limit for this request */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *aux)
{
	struct sink_ctx *sc = aux;
	struct graph_body *b = &sc->r->body;
	size_t n = size * nmemb;
	struct mf_error e = { 0 };
	if (b->failed)
		return 0;
	/* Past the limit the spool moves to a file, where the request
	 * allows one (message bodies); a JSON page that big is refused. */
	if (!sc->r->to_file && b->sp.size + n > sc->limit) {
		b->failed = true;
		return 0;
	}
	if (mf_spool_add(&b->sp, data, n, &e) != MF_OK) {
		b->sys_errno = e.sys_errno != 0 ? e.sys_errno : EIO;
		b->failed = true;
		return 0;
	}
	return n;
}

struct graph_http *graph_http_new(const struct mf_host *host, const struct mf_account *acct,
				  const char *tenant, const char *base, const char *who,
				  const char *mailbox)
{
	struct graph_http *h = mf_xcalloc(1, sizeof(*h));
	h->host = host;
	h->tenant = mf_xstrdup(tenant);
	h->base = mf_xstrdup(base);
	h->who = mf_xstrdup(who);
	/* oauth_token() needs the account's id, user and options (per-row
	 * OAuth settings) after open() returned: keep copies. */
	h->acct_id = mf_xstrdup(acct->id != NULL ? acct->id : who);
	/* The mailbox is the token's subject (delegated flows). */
	h->acct_user = mf_xstrdup(mailbox);
	size_t n = 0;
	while (acct->options != NULL && acct->options[n] != NULL)
		n++;
	h->option_store = mf_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		h->option_store[i] = mf_xstrdup(acct->options[i]);
	h->acct_copy = (struct mf_account){
		.id = h->acct_id,
		.scheme = "graph",
		.user = h->acct_user,
		.host = h->tenant,
		.path = "",
		.options = (const char *const *)h->option_store,
	};
	const char *(*setting)(void *, const char *) = host != NULL ? host->setting : NULL;
	h->ca_file = setting ? setting(host->host_ctx, "ca-file") : NULL;
	h->insecure = setting && setting(host->host_ctx, "insecure") != NULL;
	const char *to = setting ? setting(host->host_ctx, "timeout") : NULL;
	h->timeout_s = to != NULL && atol(to) > 0 ? atol(to) : 60;
	h->multi = curl_multi_init();
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)GRAPH_MAX_PARALLEL);
	for (size_t i = 0; i < GRAPH_MAX_PARALLEL; i++)
		h->easy[i] = curl_easy_init();
	return h;
}

static void drop_token(struct graph_http *h)
{
	if (h->token != NULL) {
		explicit_bzero(h->token, strlen(h->token));
		free(h->token);
		h->token = NULL;
	}
}

void graph_http_free(struct graph_http **hp)
{
	struct graph_http *h = *hp;
	if (h == NULL)
		return;
	for (size_t i = 0; i < GRAPH_MAX_PARALLEL; i++)
		curl_easy_cleanup(h->easy[i]);
	curl_multi_cleanup(h->multi);
	drop_token(h);
	for (size_t i = 0; h->option_store[i] != NULL; i++)
		free(h->option_store[i]);
	free(h->option_store);
	free(h->acct_id);
	free(h->acct_user);
	free(h->tenant);
	free(h->base);
	free(h->who);
	free(h);
	*hp = NULL;
}

const char *graph_http_base(const struct graph_http *h)
{
	return h->base;
}

char *graph_user_path(const struct graph_http *h, const char *user)
{
	char *e = curl_easy_escape(h->easy[0], user, 0);
	char *p = mf_xasprintf("users/%s", e != NULL ? e : "");
	curl_free(e);
	return p;
}

static int get_token(struct graph_http *h, bool refresh, struct mf_error *err)
{
	if (h->host == NULL || h->host->abi_minor < 3 ||
	    h->host->struct_size < offsetof(struct mf_host, oauth_token) + sizeof(void *) ||
	    h->host->oauth_token == NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: this mailferry has no OAuth token service (plugin ABI "
				    "1.3 needed)",
				    h->who);
	char *scope = mf_xasprintf("%s/.default", h->base);
	struct mf_oauth_request req = {
		.struct_size = sizeof(req),
		.scope = scope,
		.tenant = h->tenant,
		.subject = h->acct_user,
		.refresh = refresh,
	};
	drop_token(h);
	int st = h->host->oauth_token(h->host->host_ctx, &h->acct_copy, &req, &h->token, err);
	free(scope);
	return st;
}

static void setup(struct graph_http *h, CURL *c, struct graph_req *r, struct sink_ctx *sc,
		  struct curl_slist **hdrs)
{
	curl_easy_reset(c);
	char *auth = mf_xasprintf("Authorization: Bearer %s", h->token);
	*hdrs = curl_slist_append(NULL, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	char *prefer = mf_xasprintf("Prefer: IdType=\"ImmutableId\"%s%s", r->prefer ? ", " : "",
				    r->prefer ? r->prefer : "");
	*hdrs = curl_slist_append(*hdrs, prefer);
	free(prefer);
	if (r->post_json != NULL) {
		*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->post_json);
	}
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sc);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout_s);
	/* A stalled transfer, not a long one, is the failure. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout_s);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 brought _STR, and deprecated the bitmask */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mailferry/" PACKAGE_VERSION);
	if (h->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (h->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* One round: every request in reqs[0..n) at once. */
static void run_round(struct graph_http *h, struct graph_req *reqs, size_t n)
{
	struct sink_ctx sc[GRAPH_MAX_PARALLEL];
	struct curl_slist *hdrs[GRAPH_MAX_PARALLEL] = { 0 };
	for (size_t i = 0; i < n; i++) {
		graph_body_free(&reqs[i].body);
		reqs[i].http = 0;
		reqs[i].curl_code = CURLE_OK;
		reqs[i].curl_error[0] = '\0';
		reqs[i].retry_after_ms = 0;
		sc[i] = (struct sink_ctx){ .r = &reqs[i],
					   .limit = reqs[i].to_file     ? GRAPH_MEM_BODY
						    : reqs[i].mem_limit ? reqs[i].mem_limit
									: GRAPH_MAX_JSON };
		reqs[i].body.sp.mem_limit = sc[i].limit;
		setup(h, h->easy[i], &reqs[i], &sc[i], &hdrs[i]);
		curl_easy_setopt(h->easy[i], CURLOPT_PRIVATE, &reqs[i]);
		curl_multi_add_handle(h->multi, h->easy[i]);
	}
	int running = (int)n;
	while (running > 0) {
		if (curl_multi_perform(h->multi, &running) != CURLM_OK)
			break;
		if (running > 0)
			curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
		if (h->host != NULL && h->host->canceled != NULL &&
		    h->host->canceled(h->host->host_ctx))
			break;
	}
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct graph_req *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r == NULL)
			continue;
		r->curl_code = (int)m->data.result;
		if (m->data.result == CURLE_OK) {
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->http);
			curl_off_t ra = 0;
			if (curl_easy_getinfo(m->easy_handle, CURLINFO_RETRY_AFTER, &ra) ==
				    CURLE_OK &&
			    ra > 0)
				r->retry_after_ms = (uint32_t)(ra > 3600 ? 3600000 : ra * 1000);
		}
	}
	for (size_t i = 0; i < n; i++) {
		curl_multi_remove_handle(h->multi, h->easy[i]);
		curl_slist_free_all(hdrs[i]);
		if (reqs[i].http == 0 && reqs[i].curl_code == CURLE_OK)
			reqs[i].curl_code = CURLE_ABORTED_BY_CALLBACK; /* canceled */
	}
}

int graph_http_run(struct graph_http *h, struct graph_req *reqs, size_t n, struct mf_error *err)
{
	if (n > GRAPH_MAX_PARALLEL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "graph: %zu requests", n);
	/* Ask the core every time: it answers from its cache and renews the
	 * token before it expires, so a refused request stays the
	 * exception (the 401 path below). */
	int st = get_token(h, false, err);
	if (st != MF_OK)
		return st;
	for (int attempt = 0; attempt < 2; attempt++) {
		run_round(h, reqs, n);
		bool refused = false;
		for (size_t i = 0; i < n; i++)
			refused |= reqs[i].http == 401;
		if (!refused || attempt == 1)
			break;
		/* Expired or revoked: one fresh token, then the same requests
		 * again (all of them: simpler, and they are idempotent GETs). */
		if ((st = get_token(h, true, err)) != MF_OK)
			return st;
	}
	if (h->host != NULL && h->host->canceled != NULL && h->host->canceled(h->host->host_ctx))
		return mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "%s: canceled", h->who);
	for (size_t i = 0; i < n; i++) {
		struct graph_req *r = &reqs[i];
		if (r->curl_code == CURLE_OK)
			continue;
		if (r->body.failed && !r->to_file) {
			r->too_big = true; /* the caller takes another way */
			continue;
		}
		bool tls = r->curl_code == CURLE_PEER_FAILED_VERIFICATION ||
			   r->curl_code == CURLE_SSL_CACERT_BADFILE;
		if (r->body.failed)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					    "%s: cannot keep a downloaded message in a temporary "
					    "file: %s",
					    h->who,
					    strerror(r->body.sys_errno ? r->body.sys_errno : EIO));
		st = mf_error_set(err, tls ? MF_ERR_FATAL : MF_ERR_ACCOUNT,
				  tls ? MF_RETRY_NEVER : MF_RETRY_LATER, "%s: %s: %s%s", h->who,
				  r->url,
				  r->curl_error[0] ? r->curl_error
						   : curl_easy_strerror((CURLcode)r->curl_code),
				  tls ? " (check --ca-file / --insecure)" : "");
		return st;
	}
	return MF_OK;
}

int graph_error(const struct graph_req *r, const char *what, enum mf_status dflt, char *code_r,
		size_t code_cap, struct mf_error *err)
{
	json_t *j =
		r->body.sp.fd < 0 && r->body.sp.mem.len > 0
			? json_loadb((const char *)r->body.sp.mem.data, r->body.sp.mem.len, 0, NULL)
			: NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char words[300];
	snprintf(words, sizeof(words), "%s%s%.200s", code ? code : "HTTP error", msg ? ": " : "",
		 msg ? msg : "");
	if (code_r != NULL)
		snprintf(code_r, code_cap, "%s", code ? code : "");
	long http = r->http;
	int st;
	if (http == 401)
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "%s: HTTP 401 %s (the token was refused twice: check the app "
				  "registration, tenant and --oauth-client-id)",
				  what, words);
	else if (http == 403)
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "%s: HTTP 403 %s (the app needs the application permission "
				  "Mail.Read with admin consent, and no application access policy "
				  "excluding this mailbox)",
				  what, words);
	else if (http == 404 && code != NULL &&
		 (strcmp(code, "ErrorInvalidUser") == 0 ||
		  strcmp(code, "MailboxNotEnabledForRESTAPI") == 0 ||
		  strcmp(code, "ResourceNotFound") == 0 ||
		  strcmp(code, "ErrorNonExistentMailbox") == 0))
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "%s: HTTP 404 %s (no such mailbox in this tenant)", what, words);
	else if (http == 429 || http == 503 || http == 504 || http >= 500)
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER, "%s: HTTP %ld %s", what,
				  http, words);
	else
		st = mf_error_set(err, dflt, MF_RETRY_NEVER, "%s: HTTP %ld %s", what, http, words);
	if (err != NULL) {
		err->proto_code = http;
		err->retry_after_ms = r->retry_after_ms;
	}
	json_decref(j);
	return st;
}

int graph_get_json(struct graph_http *h, const char *url, const char *prefer, const char *post_json,
		   const char *what, enum mf_status dflt, json_t **json_r, long *http_r,
		   struct mf_error *err)
{
	*json_r = NULL;
	struct graph_req r = { .url = url, .prefer = prefer, .post_json = post_json };
	graph_body_init(&r.body);
	int st = graph_http_run(h, &r, 1, err);
	if (http_r != NULL)
		*http_r = r.http;
	if (st == MF_OK && r.http != 200)
		st = graph_error(&r, what, dflt, NULL, 0, err);
	if (st == MF_OK) {
		json_error_t je;
		*json_r = json_loadb((const char *)r.body.sp.mem.data, r.body.sp.mem.len, 0, &je);
		if (*json_r == NULL)
			st = mf_error_set(err, dflt, MF_RETRY_NEVER, "%s: not a JSON answer: %s",
					  what, je.text);
	}
	graph_body_free(&r.body);
	return st;
}
