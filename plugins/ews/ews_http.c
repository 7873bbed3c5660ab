/* SPDX-License-Identifier: MIT */
/* The EWS HTTP transport over libcurl: one easy handle per session, so one
 * TCP connection, because NTLM authenticates the connection and not the
 * request (brief §1; [xl] protocol.py keeps one connection for the same
 * reason).  It maps HTTP outcomes onto mf_error (401 auth, 429/503 with
 * Retry-After, transport failures) and leaves SOAP content to ews_xml.c.
 * It never retries by itself: the core owns retry and back-off. */
#include <config.h>
#include "ews_p.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

/* A GetItem batch is capped at a few MB of store size (ews_source.c);
 * base64 plus XML overhead stays far below this.  It only stops a server
 * that streams forever. */
#define EWS_MAX_BODY ((size_t)768 << 20)

struct ews_http {
	CURL *curl;
	struct curl_slist *hdrs;
	struct mf_buf resp;
	char retry_after[64];
	bool too_big;
	bool authed;       /* the server accepted a request on this session */
	ews_sink_fn *sink; /* where a 200 body goes, or NULL: into resp */
	void *sink_aux;
	uint64_t streamed;   /* bytes given to sink */
	char *secret;        /* password or bearer token, wiped at close */
	ews_renew_fn *renew; /* bearer from the OAuth service, or NULL */
	void *renew_aux;
	char *url, *who;
	const struct mf_host *host;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *aux)
{
	struct ews_http *h = aux;
	size_t n = size * nmemb;
	if (h->sink != NULL) {
		/* Bodies of 200 replies (GetItem with MIME) go to the
		 * streaming parser; faults (500) and error pages, which are
		 * small, are kept whole for the DOM parser. */
		long code = 0;
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			h->sink(h->sink_aux, data, n);
			h->streamed += n;
			return n;
		}
	}
	if (h->resp.len + n > EWS_MAX_BODY) {
		h->too_big = true;
		return 0; /* aborts the transfer */
	}
	mf_buf_append(&h->resp, data, n);
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *aux)
{
	struct ews_http *h = aux;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && mf_ascii_strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *v = data + sizeof(name) - 1;
		size_t vl = n - (sizeof(name) - 1);
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && isspace((unsigned char)v[vl - 1]))
			vl--;
		if (vl >= sizeof(h->retry_after))
			vl = sizeof(h->retry_after) - 1;
		memcpy(h->retry_after, v, vl);
		h->retry_after[vl] = '\0';
	}
	return n;
}

/* Stop a long GetItem as soon as the operator asks (SIGINT/SIGTERM). */
static int on_progress(void *aux, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct ews_http *h = aux;
	return h->host != NULL && h->host->canceled != NULL && h->host->canceled(h->host->host_ctx);
}

uint32_t ews_retry_after_ms(const char *value, int64_t now)
{
	if (value == NULL || *value == '\0')
		return 0;
	uint64_t secs;
	if (mf_parse_u64(value, strlen(value), &secs))
		return secs > UINT32_MAX / 1000 ? UINT32_MAX : (uint32_t)(secs * 1000);
	time_t when = curl_getdate(value, NULL);
	if (when == (time_t)-1 || (int64_t)when <= now)
		return 0;
	int64_t d = ((int64_t)when - now) * 1000;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int ews_http_open(const struct ews_http_cfg *cfg, struct ews_http **h_r, struct mf_error *err)
{
	*h_r = NULL;
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	if (cfg->auth == EWS_AUTH_NTLM && !(vi->features & CURL_VERSION_NTLM))
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: auth=ntlm: this libcurl (%s) has no NTLM support",
				    cfg->who, vi->version);
	struct ews_http *h = mf_xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: curl_easy_init failed",
				    cfg->who);
	}
	h->host = cfg->host;
	h->renew = cfg->auth == EWS_AUTH_BEARER ? cfg->renew : NULL;
	h->renew_aux = cfg->renew_aux;
	h->url = mf_xstrdup(cfg->url);
	h->who = mf_xstrdup(cfg->who);
	CURL *c = h->curl;
	h->hdrs = curl_slist_append(h->hdrs, "Content-Type: text/xml; charset=utf-8");
	/* No "Expect: 100-continue" round trip for every POST. */
	h->hdrs = curl_slist_append(h->hdrs, "Expect:");
	if (cfg->anchor != NULL) {
		/* Routes every request to the impersonated mailbox's server;
		 * mandatory with OAuth impersonation (brief §1). */
		char *a = mf_xasprintf("X-AnchorMailbox: %s", cfg->anchor);
		h->hdrs = curl_slist_append(h->hdrs, a);
		free(a);
	}
	curl_easy_setopt(c, CURLOPT_URL, h->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mailferry/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* base64 MIME gzips well */
	/* NTLM cannot run over HTTP/2 (brief §1). */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	/* No total timeout: a 20 MB item on a slow link is fine as long as
	 * it moves.  Abort below 1 KB/s for timeout_s (brief §5 defaults). */
	long t = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, cfg->timeout_s > 0 ? t : 120L);
	if (cfg->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	h->secret = mf_xstrdup(cfg->password != NULL ? cfg->password : "");
	switch (cfg->auth) {
	case EWS_AUTH_BEARER:
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->secret);
		break;
	case EWS_AUTH_NTLM:
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_NTLM);
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user != NULL ? cfg->user : "");
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->secret);
		break;
	case EWS_AUTH_BASIC:
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user != NULL ? cfg->user : "");
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->secret);
		break;
	}
	*h_r = h;
	return MF_OK;
}

static int transport_error(struct ews_http *h, CURLcode rc, struct mf_error *err)
{
	const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "%s: canceled", h->who);
	case CURLE_WRITE_ERROR:
		if (h->too_big)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
					    "%s: %s: response larger than %zu bytes", h->who,
					    h->url, EWS_MAX_BODY);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: %s: TLS verification failed (%s); see "
				    "--ca-file / --insecure",
				    h->who, h->url, why);
	case CURLE_LOGIN_DENIED:
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "%s: %s: login denied",
				    h->who, h->url);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: %s: %s", h->who, h->url,
				    why);
	default: break;
	}
	return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER, "%s: %s: %s", h->who, h->url, why);
}

static void wipe_secret(struct ews_http *h)
{
	if (h->secret != NULL) {
		explicit_bzero(h->secret, strlen(h->secret));
		free(h->secret);
		h->secret = NULL;
	}
}

/* One POST of body; what a previous attempt left is cleared first. */
static CURLcode perform_once(struct ews_http *h, const struct mf_buf *body, ews_sink_fn *sink,
			     void *sink_aux)
{
	h->sink = sink;
	h->sink_aux = sink_aux;
	h->streamed = 0;
	mf_buf_clear(&h->resp);
	h->retry_after[0] = '\0';
	h->errbuf[0] = '\0';
	h->too_big = false;
	/* POSTFIELDS, not a read callback: the NTLM handshake re-sends the
	 * body, which a read callback could only do with a seek function. */
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, (const char *)body->data);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	CURLcode rc = curl_easy_perform(h->curl);
	h->sink = NULL;
	return rc;
}

/* The server refused our bearer (expired, revoked): swap in a fresh one
 * from the OAuth service.  The old one is wiped; libcurl keeps only the
 * pointer, so it is set again. */
static int renew_bearer(struct ews_http *h, struct mf_error *err)
{
	char *tok = NULL;
	int st = h->renew(h->renew_aux, &tok, err);
	if (st != MF_OK)
		return st;
	wipe_secret(h);
	h->secret = tok;
	curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->secret);
	return MF_OK;
}

int ews_http_post_stream(struct ews_http *h, const struct mf_buf *body, ews_sink_fn *sink,
			 void *sink_aux, long *status_r, const struct mf_buf **resp_r,
			 struct mf_error *err)
{
	*status_r = 0;
	*resp_r = &h->resp;
	CURLcode rc = perform_once(h, body, sink, sink_aux);
	long code = 0;
	if (rc == CURLE_OK && h->renew != NULL &&
	    (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code), code == 401)) {
		/* A token from the service: ask once for a new one and
		 * re-send (a 401 body never reaches sink, so nothing was
		 * streamed).  A second 401 is mapped below. */
		int st = renew_bearer(h, err);
		if (st != MF_OK)
			return st;
		rc = perform_once(h, body, sink, sink_aux);
	}
	if (rc != CURLE_OK)
		return transport_error(h, rc, err);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	*status_r = code;
	int st = MF_OK;
	uint32_t after = 0;
	switch (code) {
	case 200:
	case 500: /* a SOAP fault, or a server error page: the caller looks */
		h->authed = true;
		return MF_OK;
	case 401:
		/* Refused on the first request: bad credentials.  Refused
		 * after the same credentials worked: NTLM under load, or an
		 * expired token (brief §5, [xl]); a new session may pass. */
		if (h->authed)
			st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
					  "%s: %s: HTTP 401 after the credentials were "
					  "accepted (server load or expired token)",
					  h->who, h->url);
		else
			st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
					  "%s: %s: HTTP 401: credentials refused", h->who, h->url);
		break;
	case 403:
		/* EXO: EWS blocked for this app or user by policy. */
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "%s: %s: HTTP 403: EWS access forbidden", h->who, h->url);
		break;
	case 429: /* not documented for EWS; treated like 503 (brief §5) */
	case 503: /* requests queuing in IIS */
		after = ews_retry_after_ms(h->retry_after, (int64_t)time(NULL));
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				  "%s: %s: HTTP %ld: server busy%s%s", h->who, h->url, code,
				  h->retry_after[0] ? ", Retry-After " : "", h->retry_after);
		break;
	case 301:
	case 302:
	case 502:
	case 504:
		/* A 302 to /ews/genericerrorpage.htm is transient ([xl]). */
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				  "%s: %s: HTTP %ld: transient server error", h->who, h->url, code);
		break;
	default:
		st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				  "%s: %s: unexpected HTTP %ld", h->who, h->url, code);
		break;
	}
	if (err != NULL) {
		err->proto_code = code;
		err->retry_after_ms = after;
	}
	return st;
}

void ews_http_drop_body(struct ews_http *h)
{
	mf_buf_free(&h->resp);
}

void ews_http_close(struct ews_http **hp)
{
	struct ews_http *h = hp != NULL ? *hp : NULL;
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->hdrs);
	mf_buf_free(&h->resp);
	wipe_secret(h);
	free(h->url);
	free(h->who);
	free(h);
	*hp = NULL;
}
