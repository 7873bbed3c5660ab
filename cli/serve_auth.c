/* SPDX-License-Identifier: MIT */
/* Who may use the dashboard.  The operator's token (first line of
 * --token-file) is kept only as an HMAC under a key drawn at start, and
 * every presented token is compared the same way, in constant time
 * whatever its length.  A browser logs in once by posting the token and
 * gets a session cookie (HttpOnly, SameSite=Strict) signed with that key
 * (expiry, nonce, MAC: nothing to store, and a restart ends every
 * session); a write with a cookie must also carry X-CSRF-Token, an HMAC
 * of the cookie the page reads from /api/session, which another site can
 * neither read nor guess.  A write by bearer header needs nothing more:
 * a browser sends no Authorization header across sites by itself. */
#include <config.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailferry/util.h>
#include "serve.h"

static void mac(const struct serve_auth *a, const char *what, const char *s, unsigned char out[32])
{
	unsigned int len = 32;
	char *msg = mf_xasprintf("%s:%s", what, s);
	HMAC(EVP_sha256(), a->key, sizeof(a->key), (const unsigned char *)msg, strlen(msg), out,
	     &len);
	OPENSSL_cleanse(msg, strlen(msg));
	free(msg);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int serve_auth_init(struct serve_auth *a, char *token)
{
	memset(a, 0, sizeof(*a));
	if (RAND_bytes(a->key, sizeof(a->key)) != 1)
		return -1;
	if (token == NULL)
		return 0;
	a->have_token = true;
	mac(a, "token", token, a->token_mac);
	OPENSSL_cleanse(token, strlen(token));
	return 0;
}

bool serve_auth_token_ok(const struct serve_auth *a, const char *presented)
{
	if (!a->have_token || presented == NULL)
		return false;
	unsigned char m[32];
	mac(a, "token", presented, m);
	return CRYPTO_memcmp(m, a->token_mac, sizeof(m)) == 0;
}

/* "EXP.NONCE.MAC" with MAC = HMAC(key, "session:EXP.NONCE"). */
static bool session_ok(const struct serve_auth *a, const char *cookie)
{
	const char *dot = cookie != NULL ? strrchr(cookie, '.') : NULL;
	if (dot == NULL || strlen(dot + 1) != 64 || dot - cookie > 64)
		return false;
	char signed_part[72];
	snprintf(signed_part, sizeof(signed_part), "%.*s", (int)(dot - cookie), cookie);
	char *end;
	long long exp = strtoll(signed_part, &end, 10);
	long long now = (long long)time(NULL);
	if (end == signed_part || *end != '.' || exp < now || exp > now + SERVE_SESSION_SECONDS)
		return false;
	unsigned char m[32];
	char want[65];
	mac(a, "session", signed_part, m);
	hex(m, sizeof(m), want);
	return CRYPTO_memcmp(want, dot + 1, 64) == 0;
}

static const char *bearer_of(struct MHD_Connection *c)
{
	const char *h =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || mf_ascii_strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

enum serve_access serve_auth_check(const struct serve_auth *a, struct MHD_Connection *c)
{
	if (!a->have_token)
		return ACCESS_ANONYMOUS;
	const char *b = bearer_of(c);
	if (b != NULL)
		return serve_auth_token_ok(a, b) ? ACCESS_BEARER : ACCESS_NONE;
	if (session_ok(a, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "mf_session")))
		return ACCESS_COOKIE;
	return ACCESS_NONE;
}

char *serve_auth_new_session(const struct serve_auth *a)
{
	unsigned char nonce[16], m[32];
	char nhex[33], mhex[65];
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return NULL;
	hex(nonce, sizeof(nonce), nhex);
	char *signed_part =
		mf_xasprintf("%lld.%s", (long long)time(NULL) + SERVE_SESSION_SECONDS, nhex);
	mac(a, "session", signed_part, m);
	hex(m, sizeof(m), mhex);
	char *v = mf_xasprintf("%s.%s", signed_part, mhex);
	free(signed_part);
	return v;
}

char *serve_auth_csrf(const struct serve_auth *a, struct MHD_Connection *c)
{
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "mf_session");
	if (!session_ok(a, cookie))
		return NULL;
	unsigned char m[32];
	char *out = mf_xmalloc(65);
	mac(a, "csrf", cookie, m);
	hex(m, sizeof(m), out);
	return out;
}

bool serve_auth_write_ok(const struct serve_auth *a, struct MHD_Connection *c,
			 enum serve_access access)
{
	if (access == ACCESS_BEARER)
		return true;
	if (access != ACCESS_COOKIE)
		return false;
	const char *sent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
	char *want = serve_auth_csrf(a, c);
	bool ok = sent != NULL && want != NULL && strlen(sent) == 64 &&
		  CRYPTO_memcmp(sent, want, 64) == 0;
	free(want);
	return ok;
}
