/* SPDX-License-Identifier: MIT */
/* One request to an OAuth 2.0 token endpoint (RFC 6749 §4.4 client
 * credentials, §6 refresh, RFC 7523 assertions) over libcurl, the answer
 * read with jansson.  Secrets (client secret, private key, refresh token)
 * are read from their files just for the request and wiped with every
 * buffer that held them; the error texts carry the endpoint's error code
 * and description, never a secret. */
#include <config.h>
#include "oauth.h"

#include <mailferry/util.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECRET_FILE (64 * 1024)
#define MAX_ANSWER (256 * 1024)

static void wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void buf_wipe(struct mf_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	mf_buf_free(b);
}

/* A whole file (first_line: up to the first newline, blanks trimmed). */
static char *read_secret(const char *path, const char *what, bool first_line, struct mf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: %s %s: %s", what, path,
			     strerror(errno));
		return NULL;
	}
	char *buf = mf_xmalloc(MAX_SECRET_FILE + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, MAX_SECRET_FILE - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == MAX_SECRET_FILE)
			break;
	}
	close(fd);
	buf[n] = '\0';
	if (first_line) {
		char *p = buf;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		size_t len = strcspn(p, "\r\n");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		memmove(buf, p, len);
		explicit_bzero(buf + len, MAX_SECRET_FILE + 1 - len);
		buf[len] = '\0';
	}
	if (buf[0] == '\0') {
		free(buf);
		mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: %s %s is empty", what, path);
		return NULL;
	}
	return buf;
}

/* Write a rotated refresh token back, atomically, readable by us only. */
static void save_refresh_token(const char *path, const char *token)
{
	char *tmp = mf_xasprintf("%s.new.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd >= 0) {
		fchmod(fd, 0600);
		size_t len = strlen(token);
		bool ok = write(fd, token, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
			  fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		if (!ok || rename(tmp, path) != 0)
			unlink(tmp);
	}
	free(tmp);
}

static void form_add(struct mf_buf *form, CURL *c, const char *key, const char *value)
{
	char *v = curl_easy_escape(c, value, 0);
	if (form->len > 0)
		mf_buf_append_str(form, "&");
	mf_buf_append_str(form, key);
	mf_buf_append_str(form, "=");
	mf_buf_append_str(form, v != NULL ? v : "");
	if (v != NULL) {
		explicit_bzero(v, strlen(v));
		curl_free(v);
	}
}

static char *random_hex(void)
{
	unsigned char r[16];
	FILE *f = fopen("/dev/urandom", "rb");
	if (f == NULL || fread(r, 1, sizeof(r), f) != sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++) /* unique enough for a jti */
			r[i] = (unsigned char)(rand() ^ (int)time(NULL) >> (i % 8));
	if (f != NULL)
		fclose(f);
	char *hex = mf_xmalloc(33);
	mf_hex(r, sizeof(r), hex);
	return hex;
}

/* The JWT the grant carries, per flow. */
static char *assertion(const struct oauth_client *c, struct mf_error *err)
{
	time_t now = time(NULL);
	json_t *header = json_object(), *claims = json_object();
	char *key = NULL;
	if (c->flow == OAUTH_CLIENT_CERT) {
		char *x5t = oauth_cert_thumbprint(c->cert_file, err);
		if (x5t == NULL)
			goto fail;
		json_object_set_new(header, "x5t", json_string(x5t));
		free(x5t);
		char *jti = random_hex();
		json_object_set_new(claims, "aud", json_string(c->token_url));
		json_object_set_new(claims, "iss", json_string(c->client_id));
		json_object_set_new(claims, "sub", json_string(c->client_id));
		json_object_set_new(claims, "jti", json_string(jti));
		json_object_set_new(claims, "nbf", json_integer((json_int_t)now - 60));
		json_object_set_new(claims, "iat", json_integer((json_int_t)now));
		json_object_set_new(claims, "exp", json_integer((json_int_t)now + 600));
		free(jti);
		if ((key = read_secret(c->key_file, "private key", false, err)) == NULL)
			goto fail;
	} else {
		json_error_t je;
		json_t *sa = json_load_file(c->service_account_file, 0, &je);
		const char *pk = json_string_value(json_object_get(sa, "private_key"));
		const char *kid = json_string_value(json_object_get(sa, "private_key_id"));
		if (pk == NULL) {
			mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				     "oauth: service account key %s: no private_key",
				     c->service_account_file);
			json_decref(sa);
			goto fail;
		}
		key = mf_xstrdup(pk);
		/* jansson does not wipe: clear its copy before freeing. */
		explicit_bzero((char *)pk, strlen(pk));
		if (kid != NULL)
			json_object_set_new(header, "kid", json_string(kid));
		json_decref(sa);
		json_object_set_new(claims, "iss", json_string(c->client_id));
		json_object_set_new(claims, "scope", json_string(c->scope));
		json_object_set_new(claims, "aud", json_string(c->token_url));
		json_object_set_new(claims, "sub", json_string(c->subject));
		json_object_set_new(claims, "iat", json_integer((json_int_t)now));
		json_object_set_new(claims, "exp", json_integer((json_int_t)now + 3600));
	}
	char *jwt = oauth_jwt_rs256(key, strlen(key), header, claims, err);
	wipe_free(key);
	return jwt;
fail:
	json_decref(header);
	json_decref(claims);
	wipe_free(key);
	return NULL;
}

/* The form body for c's grant; *refresh_used_r gets the refresh token
 * sent (to see whether the answer rotated it). */
static int build_form(const struct oauth_client *c, CURL *curl, struct mf_buf *form,
		      char **refresh_used_r, struct mf_error *err)
{
	char *secret = NULL, *jwt = NULL;
	*refresh_used_r = NULL;
	switch (c->flow) {
	case OAUTH_CLIENT_SECRET:
		if (c->secret_file != NULL)
			secret = read_secret(c->secret_file, "client secret file", true, err);
		else if (getenv(OAUTH_SECRET_ENV) != NULL && *getenv(OAUTH_SECRET_ENV) != '\0')
			secret = mf_xstrdup(getenv(OAUTH_SECRET_ENV));
		else
			mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: %s is empty",
				     OAUTH_SECRET_ENV);
		if (secret == NULL)
			return MF_ERR_AUTH;
		form_add(form, curl, "grant_type", "client_credentials");
		form_add(form, curl, "client_id", c->client_id);
		form_add(form, curl, "client_secret", secret);
		form_add(form, curl, "scope", c->scope);
		break;
	case OAUTH_CLIENT_CERT:
		if ((jwt = assertion(c, err)) == NULL)
			return MF_ERR_AUTH;
		form_add(form, curl, "grant_type", "client_credentials");
		form_add(form, curl, "client_id", c->client_id);
		form_add(form, curl, "client_assertion_type",
			 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		form_add(form, curl, "client_assertion", jwt);
		form_add(form, curl, "scope", c->scope);
		break;
	case OAUTH_SERVICE_ACCOUNT:
		if ((jwt = assertion(c, err)) == NULL)
			return MF_ERR_AUTH;
		form_add(form, curl, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
		form_add(form, curl, "assertion", jwt);
		break;
	case OAUTH_REFRESH_TOKEN: {
		char *rt = read_secret(c->refresh_token_file, "refresh token file", true, err);
		if (rt == NULL)
			return MF_ERR_AUTH;
		form_add(form, curl, "grant_type", "refresh_token");
		form_add(form, curl, "client_id", c->client_id);
		form_add(form, curl, "refresh_token", rt);
		form_add(form, curl, "scope", c->scope);
		/* A public client has no secret; a confidential one sends it. */
		if (c->secret_file != NULL) {
			secret = read_secret(c->secret_file, "client secret file", true, err);
			if (secret == NULL) {
				wipe_free(rt);
				return MF_ERR_AUTH;
			}
			form_add(form, curl, "client_secret", secret);
		}
		*refresh_used_r = rt;
		break;
	}
	case OAUTH_NONE: return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "oauth: no flow");
	}
	wipe_free(secret);
	wipe_free(jwt);
	return MF_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *aux)
{
	struct mf_buf *b = aux;
	if (b->len + size * n > MAX_ANSWER)
		return 0; /* no token answer is this big: stop reading */
	mf_buf_append(b, data, size * n);
	return size * n;
}

/* The endpoint's own words: "invalid_client: AADSTS7000215: Invalid
 * client secret provided." (first sentence line of the description). */
static void endpoint_error(json_t *j, long http, char *out, size_t cap)
{
	const char *code = json_string_value(json_object_get(j, "error"));
	const char *desc = json_string_value(json_object_get(j, "error_description"));
	if (code == NULL) {
		json_t *e = json_object_get(j, "error"); /* some put an object here */
		code = json_string_value(json_object_get(e, "code"));
		desc = json_string_value(json_object_get(e, "message"));
	}
	size_t dlen = desc != NULL ? strcspn(desc, "\r\n") : 0;
	snprintf(out, cap, "%s%s%.*s (HTTP %ld)", code != NULL ? code : "error",
		 desc != NULL ? ": " : "", (int)(dlen > 300 ? 300 : dlen), desc ? desc : "", http);
}

int oauth_request_token(const struct oauth_client *c, char **token_r, int64_t *expires_in_s,
			struct mf_error *err)
{
	*token_r = NULL;
	*expires_in_s = 0;
	CURL *curl = curl_easy_init();
	if (curl == NULL)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "oauth: curl_easy_init failed");
	struct mf_buf form = { 0 }, body = { 0 };
	char *refresh_used = NULL;
	int st = build_form(c, curl, &form, &refresh_used, err);
	if (st != MF_OK)
		goto out;
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(curl, CURLOPT_URL, c->token_url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (char *)form.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)form.len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 brought _STR, and deprecated the bitmask */
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "mailferry/" PACKAGE_VERSION);
	if (c->ca_file != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	CURLcode cc = curl_easy_perform(curl);
	curl_slist_free_all(hdr);
	long http = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
	if (cc != CURLE_OK) {
		bool tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
			   cc == CURLE_SSL_CACERT_BADFILE;
		st = mf_error_set(err, tls ? MF_ERR_AUTH : MF_ERR_ACCOUNT,
				  tls ? MF_RETRY_NEVER : MF_RETRY_LATER,
				  "oauth: token endpoint %s: %s%s", c->token_url,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc),
				  tls ? " (check --ca-file / --insecure)" : "");
		goto out;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)body.data, body.len, 0, &je);
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	if (http == 200 && tok != NULL && *tok != '\0') {
		json_t *exp = json_object_get(j, "expires_in");
		/* Google and Microsoft send a number; some servers a string. */
		*expires_in_s = json_is_integer(exp)  ? (int64_t)json_integer_value(exp)
				: json_is_string(exp) ? atoll(json_string_value(exp))
						      : 3600;
		*token_r = mf_xstrdup(tok);
		explicit_bzero((char *)tok, strlen(tok));
		const char *rt = json_string_value(json_object_get(j, "refresh_token"));
		if (rt != NULL && c->flow == OAUTH_REFRESH_TOKEN &&
		    (refresh_used == NULL || strcmp(rt, refresh_used) != 0))
			save_refresh_token(c->refresh_token_file, rt);
		if (rt != NULL)
			explicit_bzero((char *)rt, strlen(rt));
	} else {
		char why[420];
		if (j != NULL)
			endpoint_error(j, http, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "HTTP %ld, not a JSON answer", http);
		bool later = http == 429 || http >= 500 || http == 0;
		st = mf_error_set(err, later ? MF_ERR_ACCOUNT : MF_ERR_AUTH,
				  later ? MF_RETRY_LATER : MF_RETRY_NEVER,
				  "oauth: token endpoint %s refused the %s grant for client %s: %s",
				  c->token_url, oauth_flow_name(c->flow),
				  c->client_id ? c->client_id : "?", why);
		if (err != NULL) {
			err->proto_code = http;
			curl_off_t ra = 0;
			if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
			    ra > 0)
				err->retry_after_ms = (uint32_t)(ra > 3600 ? 3600000 : ra * 1000);
		}
	}
	json_decref(j);
out:
	wipe_free(refresh_used);
	buf_wipe(&form);
	buf_wipe(&body);
	curl_easy_cleanup(curl);
	return st;
}
