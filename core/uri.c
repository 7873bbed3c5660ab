/* SPDX-License-Identifier: MIT */
/* URI parsing for the command line and account templates.  Login names
 * are often whole e-mail addresses, so "imaps://alice@corp.example@host"
 * is accepted as user "alice@corp.example" at "host" without requiring
 * the operator to percent-encode the '@'. */
#include <config.h>
#include "uri.h"

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *decode(const char *s, size_t len)
{
	char *out = mf_xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

void uri_add_option(struct account_spec *spec, const char *key, const char *value)
{
	spec->options = mf_xrealloc(spec->options, (spec->n_options + 2) * sizeof(char *));
	spec->options[spec->n_options++] =
		value ? mf_xasprintf("%s=%s", key, value) : mf_xstrdup(key);
	spec->options[spec->n_options] = NULL;
	spec->acct.options = (const char *const *)spec->options;
}

static void parse_query(struct account_spec *spec, const char *q)
{
	while (*q != '\0') {
		size_t len = strcspn(q, "&");
		if (len > 0) {
			const char *eq = memchr(q, '=', len);
			char *key = decode(q, eq ? (size_t)(eq - q) : len);
			char *val = eq ? decode(eq + 1, len - (size_t)(eq - q) - 1) : NULL;
			uri_add_option(spec, key, val);
			if (strcmp(key, "authzid") == 0 && val != NULL) {
				free(spec->authzid);
				spec->authzid = mf_xstrdup(val);
			} else if (strcmp(key, "impersonate") == 0 && val != NULL) {
				free(spec->impersonate);
				spec->impersonate = mf_xstrdup(val);
			}
			free(key);
			free(val);
		}
		q += len;
		if (*q == '&')
			q++;
	}
}

static void sync_account(struct account_spec *s)
{
	s->acct.id = s->id;
	s->acct.uri = s->uri;
	s->acct.scheme = s->scheme;
	s->acct.user = s->user;
	s->acct.host = s->host;
	s->acct.path = s->path ? s->path : "";
	s->acct.password = s->password;
	s->acct.authzid = s->authzid;
	s->acct.impersonate = s->impersonate;
	s->acct.options = (const char *const *)s->options;
}

static int parse_authority(struct account_spec *spec, const char *a, size_t len, const char *text,
			   struct mf_error *err)
{
	const char *at = NULL;
	for (size_t i = 0; i < len; i++)
		if (a[i] == '@')
			at = a + i;
	const char *hostpart = a;
	if (at != NULL) {
		const char *colon = memchr(a, ':', (size_t)(at - a));
		if (colon != NULL) {
			spec->user = decode(a, (size_t)(colon - a));
			spec->password = decode(colon + 1, (size_t)(at - colon - 1));
		} else {
			spec->user = decode(a, (size_t)(at - a));
		}
		hostpart = at + 1;
	}
	size_t hlen = len - (size_t)(hostpart - a);
	const char *port = NULL;
	if (hlen > 0 && hostpart[0] == '[') {
		const char *close = memchr(hostpart, ']', hlen);
		if (close == NULL)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: unterminated [IPv6] host", text);
		spec->host = mf_xstrndup(hostpart + 1, (size_t)(close - hostpart - 1));
		if (close + 1 < hostpart + hlen && close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = memchr(hostpart, ':', hlen);
		spec->host = mf_xstrndup(hostpart, colon ? (size_t)(colon - hostpart) : hlen);
		if (colon != NULL)
			port = colon + 1;
	}
	if (spec->host[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER, "%s: no host name", text);
	if (port != NULL) {
		uint64_t v;
		if (!mf_parse_u64(port, (size_t)(hostpart + hlen - port), &v) || v == 0 ||
		    v > 65535)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: bad port number", text);
		spec->acct.port = (uint16_t)v;
	}
	return MF_OK;
}

static void build_display_uri(struct account_spec *spec, const char *text)
{
	/* Keep what the operator wrote, minus the password. */
	if (spec->password == NULL) {
		spec->uri = mf_xstrdup(text);
		return;
	}
	const char *auth = strstr(text, "://") + 3;
	const char *colon = strchr(auth, ':');
	const char *at = strrchr(auth, '@');
	spec->uri = mf_xasprintf("%.*s%s", (int)(colon - text), text, at);
}

static int parse(const char *text, bool address_login, struct account_spec *spec,
		 struct mf_error *err)
{
	memset(spec, 0, sizeof(*spec));
	size_t slen = uri_scheme_len(text);
	if (slen == 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "'%s' is not a URI: expected scheme:... such as mbox:/path "
				    "or imaps://user@host",
				    text);
	spec->scheme = mf_xstrndup(text, slen);
	for (char *c = spec->scheme; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	const char *rest = text + slen + 1;
	const char *query = NULL;
	if (strncmp(rest, "//", 2) == 0) {
		rest += 2;
		/* RFC 3986: the authority ends at the first '/' or '?' (a login
		 * never holds a '/'), so "graph://TENANT/alice@corp.example"
		 * is host TENANT with path "/alice@corp.example"; '@' inside
		 * the authority is handled by parse_authority (last one wins). */
		size_t alen = strcspn(rest, "/?");
		int st;
		size_t ats = 0;
		for (size_t i = 0; i < alen; i++)
			ats += rest[i] == '@';
		if (address_login && ats == 1 && memchr(rest, ':', alen) == NULL) {
			/* The plugin's logins are whole addresses (struct
			 * mf_plugin.address_schemes): "s://a@corp.example" is the
			 * user a@corp.example on the plugin's default server; a
			 * host is given after a second '@'. */
			spec->user = decode(rest, alen);
			st = MF_OK;
		} else {
			st = parse_authority(spec, rest, alen, text, err);
		}
		if (st != MF_OK) {
			uri_spec_free(spec);
			return st;
		}
		rest += alen;
		query = strchr(rest, '?');
		size_t plen = query ? (size_t)(query - rest) : strlen(rest);
		spec->path = decode(rest, plen);
	} else {
		/* Local store: everything is the path, unless a '?' starts a
		 * key=value list. */
		query = strrchr(rest, '?');
		if (query != NULL && strchr(query, '=') == NULL)
			query = NULL;
		size_t plen = query ? (size_t)(query - rest) : strlen(rest);
		/* Decoded like the rest, so CSV templates may carry any path. */
		spec->path = decode(rest, plen);
		if (spec->path[0] == '\0') {
			uri_spec_free(spec);
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: no path after '%.*s:'", text, (int)slen, text);
		}
	}
	if (query != NULL)
		parse_query(spec, query + 1);
	build_display_uri(spec, text);
	spec->id = mf_xstrdup(spec->user && spec->host ? spec->user : spec->uri);
	sync_account(spec);
	return MF_OK;
}

int uri_parse(const char *text, struct account_spec *spec, struct mf_error *err)
{
	return parse(text, false, spec, err);
}

int uri_parse_address_login(const char *text, struct account_spec *spec, struct mf_error *err)
{
	return parse(text, true, spec, err);
}

size_t uri_scheme_len(const char *text)
{
	size_t n =
		strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	return text[n] == ':' ? n : 0;
}

void uri_set_password(struct account_spec *spec, const char *password)
{
	uri_wipe_password(spec);
	spec->password = password ? mf_xstrdup(password) : NULL;
	sync_account(spec);
}

void uri_wipe_password(struct account_spec *spec)
{
	if (spec->password != NULL) {
		explicit_bzero(spec->password, strlen(spec->password));
		free(spec->password);
		spec->password = NULL;
	}
	sync_account(spec);
}

void uri_spec_free(struct account_spec *spec)
{
	uri_wipe_password(spec);
	free(spec->id);
	free(spec->uri);
	free(spec->scheme);
	free(spec->user);
	free(spec->host);
	free(spec->path);
	free(spec->authzid);
	free(spec->impersonate);
	for (size_t i = 0; i < spec->n_options; i++)
		free(spec->options[i]);
	free(spec->options);
	memset(spec, 0, sizeof(*spec));
}
