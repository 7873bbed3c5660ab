/* SPDX-License-Identifier: MIT */
/* The reader URI of an IMAP target (ABI 1.6 reader_uri): "mailferry
 * verify" reads what this sink stored back through the IMAP source, so
 * the target is named as an imap:// or imaps:// URI on the same server
 * the sink would connect to (alimail_target(): alimail://'s region
 * defaults live there, once), with the same login and the sink's options
 * (TLS, auth, CA; the IMAP source ignores the ones it does not know).
 * Nothing is contacted. */
#include <config.h>
#include "alimail_p.h"

#include <stdlib.h>
#include <string.h>

int alimail_reader_uri(void *plugin_ctx, const struct mf_account *acct, char **uri_r,
		       struct mf_error *err)
{
	(void)plugin_ctx;
	*uri_r = NULL;
	struct alimail_target t;
	int st = alimail_target(acct, &t, err);
	if (st != MF_OK)
		return st;
	if (t.host == NULL || t.host[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "imap-sink: %s: no server to read the target back from",
				    acct->id ? acct->id : "");
	struct mf_buf b = { 0 };
	mf_buf_printf(&b, "%s://", t.implicit_tls ? "imaps" : "imap");
	/* A login is often a whole address: its '@' must not end it. */
	mf_buf_append_uri_part(&b, acct->user ? acct->user : "", "@:/?");
	bool v6 = strchr(t.host, ':') != NULL;
	mf_buf_printf(&b, "@%s%s%s", v6 ? "[" : "", t.host, v6 ? "]" : "");
	if (acct->port != 0)
		mf_buf_printf(&b, ":%u", (unsigned)acct->port);
	mf_buf_append_str(&b, "/");
	char sep = '?';
	for (const char *const *o = acct->options; o != NULL && *o != NULL; o++) {
		const char *eq = strchr(*o, '=');
		mf_buf_append(&b, &sep, 1);
		sep = '&';
		if (eq == NULL) {
			mf_buf_append_uri_part(&b, *o, "&=");
			continue;
		}
		char *key = mf_xstrndup(*o, (size_t)(eq - *o));
		mf_buf_append_uri_part(&b, key, "&=");
		free(key);
		mf_buf_append_str(&b, "=");
		mf_buf_append_uri_part(&b, eq + 1, "&");
	}
	*uri_r = (char *)b.data;
	return MF_OK;
}
