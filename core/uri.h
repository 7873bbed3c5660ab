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
void uri_add_option(struct account_spec *spec, const char *key, const char *value);
/* Replaces the password (wiping the old one). */
void uri_set_password(struct account_spec *spec, const char *password);
/* Wipes the password in memory (explicit_bzero) and forgets it. */
void uri_wipe_password(struct account_spec *spec);
void uri_spec_free(struct account_spec *spec);

#endif
