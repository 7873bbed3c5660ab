/* SPDX-License-Identifier: MIT */
/* Where the commands keep their state: --state, else MAILFERRY_STATE,
 * else ./mailferry-state.db.  A postgresql:// URL may carry a password
 * (user:password@host, or ?password=): it is moved into PGPASSWORD, where
 * libpq finds it, and the location the rest of the program passes around
 * and prints is the URL without it. */
#include <config.h>

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *state_location; /* the password-free copy; lives for the run */

bool cli_state_is_url(const char *loc)
{
	return strstr(loc, "://") != NULL;
}

static int hex(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Percent-decode s[0..n) (RFC 3986 §2.1) into a malloc'd string. */
static char *decode(const char *s, size_t n)
{
	char *out = mf_xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
			*o++ = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static void take_password(char *pw, bool *found)
{
	setenv("PGPASSWORD", pw, 1);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	*found = true;
}

/* Remove the password from a URL in place; true if there was one. */
static bool strip_password(char *url)
{
	bool found = false;
	char *auth = strstr(url, "://") + 3;
	size_t alen = strcspn(auth, "/?#");
	char *at = NULL;
	for (char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon != NULL) {
		take_password(decode(colon + 1, (size_t)(at - colon - 1)), &found);
		memmove(colon, at, strlen(at) + 1);
	}
	char *q = strchr(url, '?');
	while (q != NULL) {
		char *param = q + 1;
		size_t plen = strcspn(param, "&#");
		if (plen >= 9 && strncmp(param, "password=", 9) == 0) {
			take_password(decode(param + 9, plen - 9), &found);
			char *rest = param + plen;
			if (*rest == '&')
				memmove(param, rest + 1, strlen(rest + 1) + 1);
			else
				memmove(q, rest,
					strlen(rest) + 1); /* the last one: drop its '?'/'&' too */
			continue;
		}
		q = param[plen] == '&' ? param + plen : NULL;
	}
	return found;
}

const char *cli_state_location(const char *given)
{
	const char *env = getenv("MAILFERRY_STATE");
	const char *loc = given != NULL                   ? given
			  : env != NULL && env[0] != '\0' ? env
							  : DEFAULT_STATE_FILE;
	if (!cli_state_is_url(loc))
		return loc;
	free(state_location);
	state_location = mf_xstrdup(loc);
	if (strip_password(state_location) && given != NULL)
		fprintf(stderr,
			"mailferry: warning: the --state URL carries a password, which "
			"every local user can read in the process list: put it in "
			"~/.pgpass (or PGPASSFILE), PGPASSWORD or MAILFERRY_STATE instead\n");
	return state_location;
}
