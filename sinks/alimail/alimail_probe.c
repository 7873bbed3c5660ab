/* SPDX-License-Identifier: MIT */
/* The alimail sink's preflight slots (plugin ABI 1.5): what the target
 * offers (capabilities, quota by GETQUOTAROOT INBOX, APPENDLIMIT, the
 * separator) and which folder paths it would refuse, by rules known
 * without trying: "mailferry preflight" must not create anything on the
 * target.  Beside the ops table: it uses only the session (alimail_p.h). */
#include <config.h>
#include "alimail_p.h"

#include <stdlib.h>
#include <string.h>

int alimail_probe(struct mf_sink *snk, struct mf_probe *p, struct mf_error *err)
{
	int st = alimail_ensure_conn(snk, err);
	if (st != MF_OK)
		return st;
	imapc_probe_caps(snk->c, p);
	p->separator = snk->sep;
	/* RFC 9208 §4.3: the quota roots of INBOX are the account's. */
	return imapc_probe_quota(snk->c, "INBOX", p, err);
}

/* Dovecot (maildir/sdbox LAYOUT=fs), Cyrus and most servers store one
 * level of a mailbox name as one file name: NAME_MAX, 255 bytes, of the
 * mUTF-7 form. */
#define LEVEL_MAX 255

bool alimail_folder_refused(struct mf_sink *snk, const char *path, char *why, size_t why_size)
{
	bool refused = false;
	char *copy = mf_xstrdup(path);
	for (char *level = copy, *next; level != NULL && !refused; level = next) {
		next = strchr(level, '/');
		if (next != NULL)
			*next++ = '\0';
		if (*level == '\0') {
			snprintf(why, why_size, "an empty level in \"%s\"", path);
			refused = true;
			break;
		}
		/* ensure_folder keeps the level as it is, so the target's
		 * separator inside it would make two levels of one. */
		if (snk->sep != 0 && snk->sep != '/' && strchr(level, snk->sep) != NULL) {
			snprintf(why, why_size, "\"%s\" holds the target's separator '%c'", level,
				 snk->sep);
			refused = true;
			break;
		}
		char *enc = imapc_mutf7_encode(level);
		if (strlen(enc) > LEVEL_MAX) {
			snprintf(why, why_size, "a level is %zu bytes in modified UTF-7, over %d",
				 strlen(enc), LEVEL_MAX);
			refused = true;
		}
		free(enc);
	}
	free(copy);
	return refused;
}
