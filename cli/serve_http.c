/* SPDX-License-Identifier: MIT */
/* The dashboard's HTTP side, on libmicrohttpd: listening, reading a
 * request's body (small forms only), routing to the page assets, the
 * login form, the API and the reports, and sending replies with headers
 * that keep the page to itself (no framing, no foreign scripts, no
 * caching of API answers).  One internal polling thread answers every
 * request in turn, which is plenty for a few operators' browsers. */
#include <config.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mailferry/util.h>
#include "serve.h"

#define MAX_BODY 8192

struct serve_http {
	struct MHD_Daemon *daemon;
};

struct request {
	char body[MAX_BODY + 1];
	size_t len;
	bool too_big;
};

static const struct serve_asset *find_asset(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < serve_assets_count; i++)
		if (strcmp(serve_assets[i].path, path) == 0)
			return &serve_assets[i];
	return NULL;
}

/* The value of "name" in an application/x-www-form-urlencoded body
 * (malloc'd), decoded by libmicrohttpd's own unescaper. */
static char *form_value(char *body, const char *name)
{
	size_t nlen = strlen(name);
	for (char *p = body; p != NULL && *p != '\0';) {
		char *amp = strchr(p, '&');
		size_t flen = amp ? (size_t)(amp - p) : strlen(p);
		if (flen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			char *v = mf_xasprintf("%.*s", (int)(flen - nlen - 1), p + nlen + 1);
			for (char *q = v; *q; q++)
				if (*q == '+')
					*q = ' ';
			MHD_http_unescape(v);
			return v;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void login(struct serve_ctx *ctx, struct request *rq, struct serve_reply *r)
{
	rq->body[rq->len] = '\0';
	char *token = form_value(rq->body, "token");
	bool ok = serve_auth_token_ok(&ctx->auth, token);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	explicit_bzero(rq->body, rq->len);
	r->status = MHD_HTTP_SEE_OTHER;
	r->type = "text/plain";
	r->body = (char *)"";
	r->body_static = true;
	if (!ok) {
		r->location = mf_xstrdup("/?login=failed");
		return;
	}
	char *session = serve_auth_new_session(&ctx->auth);
	if (session == NULL) {
		serve_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness for a session");
		return;
	}
	r->location = mf_xstrdup("/");
	r->set_cookie = mf_xasprintf("mf_session=%s; Path=/; HttpOnly; SameSite=Strict; "
				     "Max-Age=%d",
				     session, SERVE_SESSION_SECONDS);
	free(session);
}

/* A write from another site's page carries its own Origin. */
static bool same_origin(struct MHD_Connection *c)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin == NULL)
		return true; /* not a browser's cross-site request (curl, scripts) */
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	/* https: behind a TLS proxy that passes the Host header on. */
	const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
			   : strncmp(origin, "https://", 8) == 0 ? origin + 8
								 : NULL;
	return host != NULL && rest != NULL && strcmp(rest, host) == 0;
}

static void route(struct serve_ctx *ctx, struct MHD_Connection *c, const char *method,
		  const char *url, struct request *rq, struct serve_reply *r)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	if (!get && !post) {
		serve_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or POST only");
		return;
	}
	if (rq->too_big) {
		serve_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		return;
	}
	if (post && !same_origin(c)) {
		serve_reply_error(r, MHD_HTTP_FORBIDDEN, "cross-origin request refused");
		return;
	}
	const struct serve_asset *a = get ? find_asset(url) : NULL;
	if (a != NULL) {
		r->status = MHD_HTTP_OK;
		r->type = a->type;
		r->body = (char *)a->data;
		r->len = a->len;
		r->body_static = true;
		return;
	}
	if (post && strcmp(url, "/login") == 0) {
		login(ctx, rq, r);
		return;
	}
	if (post && strcmp(url, "/logout") == 0) {
		r->status = MHD_HTTP_SEE_OTHER;
		r->type = "text/plain";
		r->body = (char *)"";
		r->body_static = true;
		r->location = mf_xstrdup("/");
		r->set_cookie =
			mf_xstrdup("mf_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
		return;
	}
	bool api = strncmp(url, "/api/", 5) == 0;
	bool report = get && strncmp(url, "/reports/", 9) == 0;
	if (!api && !report) {
		serve_reply_error(r, MHD_HTTP_NOT_FOUND, "no such page");
		return;
	}
	enum serve_access access = serve_auth_check(&ctx->auth, c);
	if (access == ACCESS_NONE) {
		serve_reply_error(
			r, MHD_HTTP_UNAUTHORIZED,
			"authentication required: Authorization: Bearer TOKEN, or log in");
		return;
	}
	if (report) {
		serve_reports_file(ctx, url + 9, r);
		return;
	}
	if (post) {
		if (!ctx->auth.have_token || ctx->read_only) {
			serve_reply_error(r, MHD_HTTP_FORBIDDEN,
					  ctx->read_only ? "read-only dashboard (--read-only)"
							 : "read-only dashboard (no --token-file)");
			return;
		}
		if (!serve_auth_write_ok(&ctx->auth, c, access)) {
			serve_reply_error(r, MHD_HTTP_FORBIDDEN,
					  "a write needs the bearer token, or the session's "
					  "X-CSRF-Token header");
			return;
		}
	}
	serve_api(ctx, c, post ? "POST" : "GET", url + 4, access, r);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const char *url, struct serve_reply *r,
				  bool verbose, const char *method)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(r->len, r->body,
						r->body_static ? MHD_RESPMEM_PERSISTENT
							       : MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	bool is_report = strncmp(url, "/reports/", 9) == 0;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* The page loads only its own script and style; a verify report is a
	 * self-contained file with inline ones, and may load nothing else. */
	MHD_add_response_header(resp, "Content-Security-Policy",
				is_report ? "default-src 'none'; style-src 'unsafe-inline'; "
					    "script-src 'unsafe-inline'; img-src data:; "
					    "frame-ancestors 'none'"
					  : "default-src 'self'; img-src 'self' data:; "
					    "frame-ancestors 'none'; form-action 'self'");
	if (r->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"mailferry\"");
	if (r->set_cookie != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
	if (r->location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	/* The path only: never a header, a cookie or a form. */
	if (verbose)
		fprintf(stderr, "serve: %s %s %u\n", method, url, r->status);
	free(r->set_cookie);
	free(r->location);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct serve_ctx *ctx = cls;
	(void)version;
	struct request *rq = *req_cls;
	if (rq == NULL) {
		*req_cls = mf_xcalloc(1, sizeof(*rq));
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (rq->len + *upload_data_size > MAX_BODY) {
			rq->too_big = true;
		} else {
			memcpy(rq->body + rq->len, upload_data, *upload_data_size);
			rq->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct serve_reply r = { .status = 500, .type = "text/plain" };
	route(ctx, c, method, url, rq, &r);
	if (r.body == NULL) {
		r.body = (char *)"";
		r.body_static = true;
	}
	return send_reply(c, url, &r, ctx->verbose, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct request *rq = *req_cls;
	if (rq != NULL) {
		explicit_bzero(rq, sizeof(*rq)); /* a login form held the token */
		free(rq);
	}
	*req_cls = NULL;
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *len_r,
			char *errbuf, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon[1] == '\0') {
		snprintf(errbuf, errlen,
			 "--listen %s: want ADDRESS:PORT (127.0.0.1:8025, [::1]:8025)", addr);
		return -1;
	}
	size_t hlen = (size_t)(colon - addr);
	if (addr[0] == '[' && hlen >= 2 && addr[hlen - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(hlen - 2), addr + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)hlen, addr);
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	int e = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (e != 0) {
		snprintf(errbuf, errlen, "--listen %s: %s", addr, gai_strerror(e));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

bool serve_http_is_loopback(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char e[256];
	if (parse_listen(addr, &ss, &len, e, sizeof(e)) != 0)
		return true; /* refused later with its own message */
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	return ss.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

int serve_http_start(struct serve_ctx *ctx, const char *addr, struct serve_http **h_r, char **url_r,
		     char *errbuf, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	*h_r = NULL;
	if (parse_listen(addr, &ss, &len, errbuf, errlen) != 0)
		return -1;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d =
		MHD_start_daemon(flags, 0, NULL, NULL, on_request, ctx, MHD_OPTION_SOCK_ADDR,
				 (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
				 NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)128,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
	if (d == NULL) {
		snprintf(errbuf, errlen,
			 "--listen %s: cannot listen (address in use, or not ours?)", addr);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info != NULL ? info->port : 0;
	char shown[INET6_ADDRSTRLEN] = "";
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof(shown));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof(shown));
	*url_r = ss.ss_family == AF_INET6 ? mf_xasprintf("http://[%s]:%u/", shown, port)
					  : mf_xasprintf("http://%s:%u/", shown, port);
	*h_r = mf_xcalloc(1, sizeof(**h_r));
	(*h_r)->daemon = d;
	return 0;
}

void serve_http_stop(struct serve_http **h)
{
	if (*h == NULL)
		return;
	MHD_stop_daemon((*h)->daemon);
	free(*h);
	*h = NULL;
}
