/* SPDX-License-Identifier: MIT */
/* SASL initial responses both protocol clients send (lib/imapc for IMAP
 * AUTHENTICATE, plugins/pop3 for POP3 AUTH): PLAIN and XOAUTH2, base64'd.
 * The clear text holds a password or token: it is built in a buffer
 * sized up front (no realloc leaves a copy behind) and wiped before it is
 * freed.  Mechanisms only one client speaks (OAUTHBEARER) stay there. */
#include <config.h>
#include <mailferry/util.h>

#include <stdlib.h>
#include <string.h>

static char *encode_and_wipe(struct mf_buf *raw)
{
	char *b64 = mf_base64_encode(raw->data, raw->len);
	explicit_bzero(raw->data, raw->cap);
	mf_buf_free(raw);
	return b64;
}

char *mf_sasl_plain(const char *authzid, const char *user, const char *password)
{
	/* RFC 4616: [authzid] NUL authcid NUL passwd */
	const char *z = authzid != NULL ? authzid : "";
	const char *p = password != NULL ? password : "";
	size_t zl = strlen(z), ul = strlen(user), pl = strlen(p);
	struct mf_buf raw = { 0 };
	mf_buf_reserve(&raw, zl + ul + pl + 2);
	mf_buf_append(&raw, z, zl + 1);
	mf_buf_append(&raw, user, ul + 1);
	mf_buf_append(&raw, p, pl);
	return encode_and_wipe(&raw);
}

char *mf_sasl_xoauth2(const char *user, const char *token)
{
	/* Google's and Microsoft's XOAUTH2: "user=" user ^A "auth=Bearer "
	 * token ^A ^A.  mf_buf_printf sizes the buffer once. */
	struct mf_buf raw = { 0 };
	mf_buf_printf(&raw, "user=%s\001auth=Bearer %s\001\001", user, token != NULL ? token : "");
	return encode_and_wipe(&raw);
}
