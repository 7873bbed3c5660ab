/* SPDX-License-Identifier: MIT */
/* Which OAuth client an account's tokens come from.  Every key is read
 * first from the account's options (an accounts CSV column or a URI query
 * parameter: one row can use its own refresh token) and then from the
 * run-wide settings (--oauth-* options: admin mode, one app registration
 * for every row).  Only file paths are read here, never a secret. */
#include <config.h>
#include "oauth.h"

#include <mailferry/util.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_AUTHORITY "https://login.microsoftonline.com"
#define GOOGLE_SCOPE "https://mail.google.com/"

static const char *get(const struct settings *s, const struct mf_account *acct, const char *key)
{
	const char *v = acct != NULL ? mf_account_option(acct, key) : NULL;
	if (v == NULL || *v == '\0')
		v = s != NULL ? settings_get(s, key) : NULL;
	return v != NULL && *v != '\0' ? v : NULL;
}

static char *dup_or_null(const char *v)
{
	return v != NULL ? mf_xstrdup(v) : NULL;
}

/* The national clouds by their short names; anything else is taken as
 * the authority's URL. */
static const char *authority_url(const char *v)
{
	if (v == NULL || strcmp(v, "global") == 0)
		return MS_AUTHORITY;
	if (strcmp(v, "china") == 0)
		return "https://login.chinacloudapi.cn";
	if (strcmp(v, "usgov") == 0)
		return "https://login.microsoftonline.us";
	return v;
}

/* client_email and token_uri of a Google service account key file. */
static int read_service_account(const char *path, struct oauth_client *c, struct mf_error *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	const char *email = j ? json_string_value(json_object_get(j, "client_email")) : NULL;
	const char *uri = j ? json_string_value(json_object_get(j, "token_uri")) : NULL;
	const char *key = j ? json_string_value(json_object_get(j, "private_key")) : NULL;
	int st = MF_OK;
	if (j == NULL)
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "oauth: service account key %s: %s", path, je.text);
	else if (email == NULL || key == NULL)
		st = mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				  "oauth: service account key %s: no client_email or private_key "
				  "(download a JSON key of the service account)",
				  path);
	else {
		free(c->client_id);
		c->client_id = mf_xstrdup(email);
		if (c->token_url == NULL)
			c->token_url = mf_xstrdup(
				uri != NULL ? uri : "https://oauth2.googleapis.com/token");
	}
	json_decref(j);
	return st;
}

int oauth_client_resolve(const struct settings *s, const struct mf_account *acct,
			 const struct mf_oauth_request *req, struct oauth_client *c,
			 struct mf_error *err)
{
	memset(c, 0, sizeof(*c));
	const char *who = acct != NULL && acct->id != NULL ? acct->id : "account";
	c->client_id = dup_or_null(get(s, acct, "oauth-client-id"));
	c->token_url = dup_or_null(get(s, acct, "oauth-token-url"));
	c->secret_file = dup_or_null(get(s, acct, "oauth-client-secret-file"));
	c->cert_file = dup_or_null(get(s, acct, "oauth-cert-file"));
	c->key_file = dup_or_null(get(s, acct, "oauth-key-file"));
	c->service_account_file = dup_or_null(get(s, acct, "oauth-service-account-file"));
	c->refresh_token_file = dup_or_null(get(s, acct, "oauth-refresh-token-file"));
	const char *scope = get(s, acct, "oauth-scope");
	if (scope == NULL && req != NULL)
		scope = req->scope;
	const char *subject = req != NULL && req->subject != NULL ? req->subject
			      : acct != NULL                      ? acct->user
								  : NULL;
	c->subject = dup_or_null(subject);
	c->ca_file = s != NULL ? settings_get(s, "ca-file") : NULL;
	c->insecure = s != NULL && settings_get(s, "insecure") != NULL;
	const char *to = s != NULL ? settings_get(s, "timeout") : NULL;
	c->timeout_s = to != NULL && atol(to) > 0 ? atol(to) : 60;

	if (c->service_account_file != NULL)
		c->flow = OAUTH_SERVICE_ACCOUNT;
	else if (c->refresh_token_file != NULL)
		c->flow = OAUTH_REFRESH_TOKEN;
	else if (c->cert_file != NULL || c->key_file != NULL)
		c->flow = OAUTH_CLIENT_CERT;
	else if (c->secret_file != NULL || getenv(OAUTH_SECRET_ENV) != NULL)
		c->flow = OAUTH_CLIENT_SECRET;
	else
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: OAuth 2.0 is needed but not configured: give "
				    "--oauth-client-id with --oauth-client-secret-file (or %s), "
				    "--oauth-cert-file and --oauth-key-file, "
				    "--oauth-service-account-file, or --oauth-refresh-token-file",
				    who, OAUTH_SECRET_ENV);

	if (c->flow == OAUTH_SERVICE_ACCOUNT) {
		int st = read_service_account(c->service_account_file, c, err);
		if (st != MF_OK)
			return st;
		if (scope == NULL)
			scope = GOOGLE_SCOPE;
		if (c->subject == NULL)
			return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
					    "%s: a service account acts for a mailbox: the "
					    "account names no user",
					    who);
	} else if (c->client_id == NULL) {
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: OAuth 2.0 (%s): no --oauth-client-id (the application "
				    "id of the app registration)",
				    who, oauth_flow_name(c->flow));
	}
	if (c->flow == OAUTH_CLIENT_CERT && (c->cert_file == NULL || c->key_file == NULL))
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: OAuth 2.0 with a certificate needs both --oauth-cert-file "
				    "and --oauth-key-file",
				    who);
	if (c->token_url == NULL) {
		const char *tenant = req != NULL && req->tenant != NULL
					     ? req->tenant
					     : get(s, acct, "oauth-tenant");
		if (tenant == NULL)
			return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
					    "%s: OAuth 2.0: no --oauth-tenant (the directory id or "
					    "domain of the Microsoft 365 tenant) and no "
					    "--oauth-token-url",
					    who);
		c->token_url = mf_xasprintf("%s/%s/oauth2/v2.0/token",
					    authority_url(get(s, acct, "oauth-authority")), tenant);
	}
	if (scope == NULL)
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: OAuth 2.0: no scope (give --oauth-scope)", who);
	c->scope = mf_xstrdup(scope);
	return MF_OK;
}

void oauth_client_free(struct oauth_client *c)
{
	free(c->token_url);
	free(c->client_id);
	free(c->secret_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->service_account_file);
	free(c->refresh_token_file);
	free(c->scope);
	free(c->subject);
	memset(c, 0, sizeof(*c));
}

char *oauth_client_key(const struct oauth_client *c)
{
	/* An app token (client credentials) serves every mailbox of the
	 * tenant; delegated ones are per mailbox or per refresh token. */
	const char *who = c->flow == OAUTH_SERVICE_ACCOUNT ? c->subject
			  : c->flow == OAUTH_REFRESH_TOKEN ? c->refresh_token_file
							   : "";
	return mf_xasprintf("%d\n%s\n%s\n%s\n%s", (int)c->flow, c->token_url, c->client_id,
			    c->scope, who != NULL ? who : "");
}

const char *oauth_flow_name(enum oauth_flow flow)
{
	switch (flow) {
	case OAUTH_CLIENT_SECRET: return "client secret";
	case OAUTH_CLIENT_CERT: return "certificate";
	case OAUTH_SERVICE_ACCOUNT: return "service account";
	case OAUTH_REFRESH_TOKEN: return "refresh token";
	case OAUTH_NONE: break;
	}
	return "none";
}
