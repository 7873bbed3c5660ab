/* SPDX-License-Identifier: MIT */
/* Source and sink URIs -> struct mf_account. */
#ifndef MF_CORE_URI_H
#define MF_CORE_URI_H

#include <mailferry/plugin.h>

/* Owns every string struct mf_account points to. */
struct account_spec {
	struct mf_account acct;
	char *id, *uri, *scheme, *user, *host, *path, *password, *authzid, *impersonate;
	char **options; /* NULL-terminated */
	size_t n_options;
};

/* Parses "scheme://[user[:password]@]host[:port][/path][?k=v&...]" (the
 * user may itself contain '@': the last '@' before the host separates) and
 * "scheme:PATH[?k=v...]" for local stores.  Percent-escapes are decoded in
 * user, password, path and option values.  acct.uri is the text without
 * the password. */
int uri_parse(const char *text, struct account_spec *spec_r, struct mf_error *err);
/* As uri_parse, for a scheme its plugin lists in struct
 * mf_plugin.address_schemes (registry_uri_parse() decides): an authority
 * with one '@' and no ':', "s://alice@corp.example", is the user
 * alice@corp.example with no host (the plugin's default server). */
int uri_parse_address_login(const char *text, struct account_spec *spec_r, struct mf_error *err);
/* Length of text's scheme (the part before the first ':'), 0 if text does
 * not start with one. */
size_t uri_scheme_len(const char *text);
void uri_add_option(struct account_spec *spec, const char *key, const char *value);
/* Replaces the password (wiping the old one). */
void uri_set_password(struct account_spec *spec, const char *password);
/* Wipes the password in memory (explicit_bzero) and forgets it. */
void uri_wipe_password(struct account_spec *spec);
void uri_spec_free(struct account_spec *spec);

#endif
