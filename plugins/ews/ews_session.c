/* SPDX-License-Identifier: MIT */
/* An EWS session: open (URI, auth, impersonation, the well-known folders),
 * close, the request round trip with RequestServerVersion step-down, and
 * the plugin's init/deinit.  Listing and fetching (ews_source.c) call
 * into this file, never the reverse; ews_ops.c joins the two.
 * Throttling and transient errors go back to the core as MF_ERR_ACCOUNT +
 * MF_RETRY_LATER with the server's delay; there is no retry loop here. */
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
#define DEF_BATCH_MB 8u

void ews_log(const struct mf_source *s, enum mf_log_level lvl, const char *fmt, ...)
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
	return s->host != NULL && s->host->canceled != NULL && s->host->canceled(s->host->host_ctx);
}

/* The version an earlier session found working on this endpoint, or -1. */
static int known_version(struct ews_plugin_ctx *pc, const char *url)
{
	int v = -1;
	if (pc == NULL)
		return v;
	pthread_mutex_lock(&pc->lock);
	for (size_t i = 0; i < pc->nknown; i++)
		if (strcmp(pc->known[i].url, url) == 0)
			v = pc->known[i].version;
	pthread_mutex_unlock(&pc->lock);
	return v;
}

static void save_version(struct mf_source *s)
{
	struct ews_plugin_ctx *pc = s->pc;
	s->version_saved = true;
	if (pc == NULL || s->version_pinned)
		return;
	pthread_mutex_lock(&pc->lock);
	size_t i = 0;
	while (i < pc->nknown && strcmp(pc->known[i].url, s->url) != 0)
		i++;
	if (i == pc->nknown) {
		pc->known = mf_xrealloc(pc->known, (pc->nknown + 1) * sizeof(*pc->known));
		pc->known[pc->nknown++].url = mf_xstrdup(s->url);
	}
	pc->known[i].version = s->version;
	pthread_mutex_unlock(&pc->lock);
}

/* ErrorInvalidServerVersion steps the RequestServerVersion down and sends
 * again: at most twice per session, the length of ews_versions.  The first
 * version the server accepts is remembered for later sessions. */
static void feed_stream(void *aux, const char *data, size_t len)
{
	ews_getitem_stream_feed(aux, data, len);
}

/* The round trip behind ews_call() and ews_call_get_item().  With gi set,
 * a 200 reply streams into the GetItem parser (page = out); anything else
 * is parsed from the buffered body with parse. */
static int round_trip(struct mf_source *s, const char *what, parse_fn *parse, void *out,
		      reset_fn *reset, bool gi, struct ews_status *st, struct mf_error *err)
{
	for (;;) {
		if (canceled(s))
			return mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "%s: canceled",
					    s->who);
		mf_buf_clear(&s->req);
		ews_req_envelope(&s->req, ews_versions[s->version], s->impersonate,
				 (const char *)s->body.data);
		long code;
		const struct mf_buf *resp;
		reset(out);
		struct ews_getitem_stream *gs = gi ? ews_getitem_stream_new(out, st) : NULL;
		int rc = ews_http_post_stream(s->http, &s->req, gi ? feed_stream : NULL, gs, &code,
					      &resp, err);
		if (rc != MF_OK) {
			ews_getitem_stream_free(&gs);
			return rc;
		}
		const char *x = (const char *)resp->data;
		size_t resp_len = resp->len;
		bool ok;
		if (gs != NULL && code == 200) {
			ok = ews_getitem_stream_finish(gs) == 0;
			resp_len = 0; /* streamed, not kept */
		} else {
			reset(out);
			ok = parse(x, resp->len, out, st) == 0;
		}
		ews_getitem_stream_free(&gs);
		bool bad_version =
			ok ? ews_status_is_version(st)
			   : (code == 500 && x != NULL &&
			      strstr(x, "The specified server version is invalid") != NULL);
		/* Parsed: the raw reply need not stay in memory while the
		 * messages are delivered. */
		ews_http_drop_body(s->http);
		if (bad_version && !s->version_pinned && ews_versions[s->version + 1] != NULL) {
			s->version++;
			ews_log(s, MF_LOG_INFO,
				"%s: server refused the request version; "
				"stepping down to %s",
				s->who, ews_versions[s->version]);
			continue;
		}
		if (!ok) {
			/* 500 "Server Error in '/EWS' Application" pages and
			 * cut-off bodies are transient ([xl] protocol.py). */
			rc = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					  "%s: %s: HTTP %ld: unparsable reply%s", s->who, what,
					  code, resp_len > 0 || code != 200 ? "" : " (streamed)");
			if (err != NULL)
				err->proto_code = code;
			return rc;
		}
		if (!s->version_saved && !st->fault)
			save_version(s);
		return MF_OK;
	}
}

int ews_call(struct mf_source *s, const char *what, parse_fn *parse, void *out, reset_fn *reset,
	     struct ews_status *st, struct mf_error *err)
{
	return round_trip(s, what, parse, out, reset, false, st, err);
}

static void reset_items(void *o)
{
	ews_item_page_free(o);
}

static int parse_items(const char *x, size_t l, void *o, struct ews_status *st)
{
	return ews_parse_get_item(x, l, o, st);
}

int ews_call_get_item(struct mf_source *s, const char *what, struct ews_item_page *page,
		      struct ews_status *st, struct mf_error *err)
{
	return round_trip(s, what, parse_items, page, reset_items, true, st, err);
}

/* ------------------------------------------------------------------ */
/* The well-known folders                                               */

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

/* GetFolder on the distinguished ids: the root's real id (top-level
 * folders name it as parent) and id -> role, since DisplayNames are
 * localized (brief §2.1).  Also the first request of a session, so bad
 * credentials and refused impersonation surface in open(). */
int ews_load_roles(struct mf_source *s, struct mf_error *err)
{
	struct gf_out g = { 0 };
	struct ews_status st;
	mf_buf_clear(&s->body);
	ews_req_get_folder_roles(&s->body);
	int rc = ews_call(s, "GetFolder", parse_gf, &g, reset_gf, &st, err);
	if (rc != MF_OK)
		goto out;
	if (st.fault || g.got == 0 || g.ids[EWS_ROLE_ROOT] == NULL) {
		rc = ews_status_error(st.fault || g.got == 0 ? &st : &g.sts[0], s->who,
				      MF_ERR_ACCOUNT, err);
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

/* ------------------------------------------------------------------ */
/* open / close                                                         */

/* A numeric URI option in [lo, hi]; dflt when absent.  A bad value is a
 * configuration error, not something to guess around. */
static int opt_uint(const struct mf_source *s, const struct mf_account *a, const char *key,
		    unsigned dflt, unsigned lo, unsigned hi, unsigned *out_r, struct mf_error *err)
{
	const char *v = mf_account_option(a, key);
	uint64_t n;
	*out_r = dflt;
	if (v == NULL)
		return MF_OK;
	if (!mf_parse_u64(v, strlen(v), &n) || n < lo || n > hi)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s=%s: expected a number from %u to %u", s->who, key, v,
				    lo, hi);
	*out_r = (unsigned)n;
	return MF_OK;
}

/* A bearer token from a file: first line, surrounding blanks removed. */
static char *read_token(const char *path, const char *who, struct mf_error *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: token-file %s: %s", who, path,
			     strerror(errno));
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
		mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: token-file %s is empty", who,
			     path);
	return tok;
}

/* A bearer from the core's OAuth service (ABI 1.3) for the server's own
 * resource (Exchange Online's is https://outlook.office365.com), acting
 * for the impersonated mailbox. */
static int service_token(struct mf_source *s, const struct mf_account *a, bool refresh,
			 char **token_r, struct mf_error *err)
{
	const struct mf_host *h = s->host;
	if (h == NULL || h->abi_minor < 3 || h->oauth_token == NULL ||
	    h->struct_size < offsetof(struct mf_host, oauth_token) + sizeof(h->oauth_token))
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: auth=bearer without token-file, and this mailferry has "
				    "no OAuth token service",
				    s->who);
	char *scope = mf_xasprintf("https://%s/.default", a->host);
	struct mf_oauth_request req = {
		.struct_size = sizeof(req),
		.scope = scope,
		.subject = s->impersonate != NULL ? s->impersonate : a->user,
		.refresh = refresh,
	};
	int st = h->oauth_token(h->host_ctx, a, &req, token_r, err);
	free(scope);
	return st;
}

/* ews_renew_fn: the server answered 401 to the service's token (expired
 * mid-session, revoked): a fresh one, once per request. */
static int renew_token(void *aux, char **token_r, struct mf_error *err)
{
	struct mf_source *s = aux;
	ews_log(s, MF_LOG_INFO, "%s: HTTP 401: asking the OAuth service for a new token", s->who);
	return service_token(s, s->acct, true, token_r, err);
}

static const char *setting(const struct mf_host *h, const char *key)
{
	return h != NULL && h->setting != NULL ? h->setting(h->host_ctx, key) : NULL;
}

int ews_open(void *plugin_ctx, const struct mf_account *a, struct mf_source **src_r,
	     struct mf_error *err)
{
	struct ews_plugin_ctx *pc = plugin_ctx;
	struct mf_source *s = mf_xcalloc(1, sizeof(*s));
	*src_r = s;
	s->host = pc != NULL ? pc->host : NULL;
	s->pc = pc;
	s->acct = a;
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
		return mf_error_set(
			err, MF_ERR_FATAL, MF_RETRY_NEVER,
			"%s: the URI names no server (ews://user@host/EWS/Exchange.asmx)", s->who);

	struct ews_http_cfg cfg = { .user = a->user,
				    .password = a->password,
				    .auth = EWS_AUTH_BASIC,
				    .host = s->host,
				    .who = s->who,
				    .anchor = s->impersonate };
	const char *auth = mf_account_option(a, "auth");
	if (auth == NULL || strcmp(auth, "basic") == 0)
		cfg.auth = EWS_AUTH_BASIC;
	else if (strcmp(auth, "ntlm") == 0)
		cfg.auth = EWS_AUTH_NTLM;
	else if (strcmp(auth, "bearer") == 0 || strcmp(auth, "oauth") == 0 ||
		 strcmp(auth, "oauth2") == 0)
		cfg.auth = EWS_AUTH_BEARER;
	else
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: auth=%s: expected basic, ntlm or bearer", s->who, auth);
	char *token = NULL;
	const char *tf = mf_account_option(a, "token-file");
	if (cfg.auth == EWS_AUTH_BEARER && tf != NULL && *tf != '\0') {
		token = read_token(tf, s->who, err);
		if (token == NULL)
			return err != NULL ? (int)err->status : MF_ERR_FATAL;
		cfg.password = token;
	}
	if (cfg.auth == EWS_AUTH_BEARER && token == NULL &&
	    (cfg.password == NULL || cfg.password[0] == '\0')) {
		/* The core's OAuth service (ABI 1.3).  A 401, first or
		 * mid-session (the token expired), renews it once. */
		int st = service_token(s, a, false, &token, err);
		if (st != MF_OK)
			return st;
		cfg.password = token;
		cfg.renew = renew_token;
		cfg.renew_aux = s;
	}
	if (cfg.password == NULL || cfg.password[0] == '\0') {
		free(token);
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "%s: no %s given", s->who,
				    cfg.auth == EWS_AUTH_BEARER ? "token (token-file= or password)"
								: "password");
	}
	/* tls=none: plain HTTP, for a local test endpoint only; Basic then
	 * sends the password in clear, hence the warning. */
	const char *tls = mf_account_option(a, "tls");
	bool plain = tls != NULL && strcmp(tls, "none") == 0;
	if (plain)
		ews_log(s, MF_LOG_WARN, "%s: tls=none: credentials go unencrypted", s->who);
	const char *path = a->path != NULL && a->path[0] != '\0' ? a->path : "/EWS/Exchange.asmx";
	bool v6 = strchr(a->host, ':') != NULL;
	char port[16] = "";
	if (a->port != 0)
		snprintf(port, sizeof(port), ":%u", (unsigned)a->port);
	char *url = mf_xasprintf("%s://%s%s%s%s%s%s", plain ? "http" : "https", v6 ? "[" : "",
				 a->host, v6 ? "]" : "", port, path[0] == '/' ? "" : "/", path);
	cfg.url = url;
	cfg.ca_file = setting(s->host, "ca-file");
	const char *ins = setting(s->host, "insecure");
	cfg.insecure = ins != NULL && strcmp(ins, "1") == 0;
	const char *to = setting(s->host, "timeout");
	uint64_t t;
	if (to != NULL && mf_parse_u64(to, strlen(to), &t) && t > 0 && t < 86400)
		cfg.timeout_s = (long)t;

	s->url = mf_xstrdup(url);
	int rc = ews_http_open(&cfg, &s->http, err);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	free(url);
	if (rc != MF_OK)
		return rc;

	unsigned mb;
	if ((rc = opt_uint(s, a, "folder-page", DEF_FOLDER_PAGE, 1, 1000, &s->folder_page, err)) ||
	    (rc = opt_uint(s, a, "page", DEF_ITEM_PAGE, 1, 1000, &s->item_page, err)) ||
	    (rc = opt_uint(s, a, "sync-batch", DEF_SYNC_BATCH, 1, 512, &s->sync_batch, err)) ||
	    (rc = opt_uint(s, a, "batch", DEF_GET_BATCH, 1, 100, &s->get_batch, err)) ||
	    (rc = opt_uint(s, a, "batch-mb", DEF_BATCH_MB, 1, 1024, &mb, err)))
		return rc;
	s->batch_bytes = (uint64_t)mb << 20;
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
					    "Exchange2010_SP2 or Exchange2007_SP1",
					    s->who, ver);
		s->version_pinned = true;
	} else {
		int v = known_version(pc, s->url);
		if (v > 0)
			s->version = v;
	}
	return ews_load_roles(s, err);
}

void ews_close(struct mf_source **sp)
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
	free(s->url);
	free(s->who);
	free(s);
	*sp = NULL;
}

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
	pthread_mutex_init(&pc->lock, NULL);
	*ctx_r = pc;
	return MF_OK;
}

void ews_plugin_deinit(void *ctx)
{
	struct ews_plugin_ctx *pc = ctx;
	if (pc != NULL) {
		for (size_t i = 0; i < pc->nknown; i++)
			free(pc->known[i].url);
		free(pc->known);
		pthread_mutex_destroy(&pc->lock);
		free(pc);
	}
	curl_global_cleanup();
}
