/* SPDX-License-Identifier: MIT */
/* The core's OAuth 2.0 token service (plugin ABI 1.3, host->oauth_token).
 * Plugins ask for a bearer token for an account and a scope; the core
 * runs the configured flow against the token endpoint, caches the token
 * per identity and scope, renews it before it expires and again when a
 * server refused it.  Client secrets, private keys and refresh tokens
 * stay here: they are read from files or the environment when a token is
 * fetched and wiped right after. */
#ifndef MF_CORE_OAUTH_H
#define MF_CORE_OAUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <mailferry/plugin.h>

#include "log.h"
#include "settings.h"

/* Which grant a token comes from. */
enum oauth_flow {
	OAUTH_NONE = 0,
	OAUTH_CLIENT_SECRET,   /* client_credentials + client_secret */
	OAUTH_CLIENT_CERT,     /* client_credentials + JWT client assertion
				  (RFC 7523 §2.2), RS256 with the cert's key */
	OAUTH_SERVICE_ACCOUNT, /* Google: JWT bearer grant (RFC 7523 §2.1),
				  sub = the mailbox (domain-wide delegation) */
	OAUTH_REFRESH_TOKEN,   /* RFC 6749 §6, the token file is rewritten
				  when the server rotates it */
};

/* What one account's tokens come from: settings (run-wide) overridden
 * by the account's own options of the same names (accounts CSV columns,
 * URI query).  Paths only, never a secret itself. */
struct oauth_client {
	enum oauth_flow flow;
	char *token_url;
	char *client_id;
	char *secret_file;          /* OAUTH_CLIENT_SECRET; NULL: the environment */
	char *cert_file, *key_file; /* OAUTH_CLIENT_CERT */
	char *service_account_file; /* OAUTH_SERVICE_ACCOUNT */
	char *refresh_token_file;   /* OAUTH_REFRESH_TOKEN */
	char *scope;
	char *subject; /* the mailbox (Google's "sub") */
	/* transport */
	const char *ca_file;
	bool insecure;
	long timeout_s;
};

/* The environment variable holding the client secret when no
 * oauth-client-secret-file is given. */
#define OAUTH_SECRET_ENV "MAILFERRY_OAUTH_CLIENT_SECRET"

/* oauth_config.c: resolve the client for acct and req; MF_ERR_AUTH with
 * what is missing when no flow is configured. */
int oauth_client_resolve(const struct settings *s, const struct mf_account *acct,
			 const struct mf_oauth_request *req, struct oauth_client *c,
			 struct mf_error *err);
void oauth_client_free(struct oauth_client *c);
/* The cache key: everything that makes two tokens different. */
char *oauth_client_key(const struct oauth_client *c);
/* "client-secret", "certificate", ... for logs. */
const char *oauth_flow_name(enum oauth_flow flow);

/* oauth_jwt.c: a signed RS256 JWT (header and claims are JSON objects
 * the function takes over), or NULL with err set. */
char *oauth_jwt_rs256(const char *key_pem, size_t key_len, void *header_json, void *claims_json,
		      struct mf_error *err);
/* base64url of SHA-1 of the first certificate in cert_pem (x5t), or
 * NULL with err set. */
char *oauth_cert_thumbprint(const char *cert_file, struct mf_error *err);

/* oauth_endpoint.c: one token request.  On MF_OK *token_r (malloc'd) and
 * *expires_in_s; a refresh token the server rotated is written back to
 * the refresh token file (atomically, mode 0600). */
int oauth_request_token(const struct oauth_client *c, char **token_r, int64_t *expires_in_s,
			struct mf_error *err);

/* oauth.c: the host slot and the cache. */
int oauth_token(const struct settings *s, const struct mf_account *acct,
		const struct mf_oauth_request *req, char **token_r, struct mf_error *err);
/* Wipe and drop every cached token (end of run, tests). */
void oauth_cache_clear(void);
/* How many token requests went to an endpoint since start (tests, the
 * run summary's debug line). */
uint64_t oauth_requests_made(void);

#endif
