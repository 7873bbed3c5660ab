/* SPDX-License-Identifier: MIT */
/* Mailbox names <-> mailferry folder paths.  A server name is modified
 * UTF-7 with its own hierarchy separator, possibly under a personal
 * namespace prefix ("INBOX." on Courier/Cyrus, RFC 2342); a path is UTF-8
 * with '/' between levels and no '/' inside a level (plugin.h).  Both
 * directions are pure functions so source and sink agree. */
#include <config.h>
#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

char *imapc_name_to_path(const char *mutf7, char sep, const char *ns_prefix)
{
	if (mf_ascii_strcasecmp(mutf7, "INBOX") == 0)
		return mf_xstrdup("INBOX");
	size_t pl = ns_prefix ? strlen(ns_prefix) : 0;
	/* Strip the personal namespace ("INBOX.Sent" → "Sent") but keep
	 * a name equal to the bare prefix. */
	if (pl > 0 && strncmp(mutf7, ns_prefix, pl) == 0 && mutf7[pl] != '\0')
		mutf7 += pl;
	char *utf8;
	if (!imapc_mutf7_decode(mutf7, &utf8))
		utf8 = mf_xstrdup(mutf7); /* not mUTF-7: keep it as sent */
	for (char *p = utf8; *p; p++) {
		if (*p == '/' && sep != '/')
			*p = '_'; /* a '/' inside one level */
		else if (sep != 0 && *p == sep)
			*p = '/';
	}
	/* "INBOX/x" keeps INBOX's canonical case. */
	if (mf_ascii_strncasecmp(utf8, "INBOX/", 6) == 0)
		memcpy(utf8, "INBOX", 5);
	return utf8;
}

char *imapc_path_to_name(const char *path, char sep, const char *ns_prefix)
{
	if (mf_ascii_strcasecmp(path, "INBOX") == 0)
		return mf_xstrdup("INBOX");
	char *levels = mf_xstrdup(path);
	for (char *p = levels; *p; p++) {
		if (*p == '/')
			*p = sep ? sep : '_';
		else if (sep != 0 && *p == sep)
			*p = '_'; /* the target's separator inside a level */
	}
	char *enc = imapc_mutf7_encode(levels);
	free(levels);
	if (ns_prefix == NULL || ns_prefix[0] == '\0' ||
	    (mf_ascii_strncasecmp(enc, "INBOX", 5) == 0 && (enc[5] == '\0' || enc[5] == sep)))
		return enc;
	char *full = mf_xasprintf("%s%s", ns_prefix, enc);
	free(enc);
	return full;
}
