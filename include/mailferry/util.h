/* SPDX-License-Identifier: MIT */
/* libmailferry helpers a plugin may use: allocation that aborts on OOM
 * (so there are no dead NULL paths), a growable byte buffer, SHA-256 and
 * base64.  They carry no global state and are safe from any thread. */
#ifndef MAILFERRY_UTIL_H
#define MAILFERRY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

void *mf_xmalloc(size_t size);
void *mf_xcalloc(size_t nmemb, size_t size);
void *mf_xrealloc(void *ptr, size_t size);
char *mf_xstrdup(const char *s);
char *mf_xstrndup(const char *s, size_t n);
char *mf_xasprintf(const char *fmt, ...) MF_PRINTF(1, 2);

/* Growable buffer; always NUL-terminated after its len bytes. */
struct mf_buf {
	unsigned char *data;
	size_t len, cap;
};
void mf_buf_reserve(struct mf_buf *b, size_t extra);
void mf_buf_append(struct mf_buf *b, const void *data, size_t len);
void mf_buf_append_str(struct mf_buf *b, const char *s);
void mf_buf_printf(struct mf_buf *b, const char *fmt, ...) MF_PRINTF(2, 3);
void mf_buf_clear(struct mf_buf *b); /* len = 0, keeps memory */
void mf_buf_free(struct mf_buf *b);  /* frees, leaves an empty buffer */
/* Append s percent-encoded (RFC 3986 §2.1): '%', control characters and
 * every character of also become %XX, the rest is copied.  For one part of
 * a URI the core decodes again (mf_sink_ops.reader_uri): also = "@:/" for
 * a login, "?" for a local path, "&=" for an option key or value. */
void mf_buf_append_uri_part(struct mf_buf *b, const char *s, const char *also);

/* Streaming SHA-256 (OpenSSL EVP underneath). */
struct mf_sha256;
struct mf_sha256 *mf_sha256_new(void);
void mf_sha256_update(struct mf_sha256 *h, const void *data, size_t len);
void mf_sha256_final(struct mf_sha256 *h, unsigned char out[32]); /* resets */
void mf_sha256_free(struct mf_sha256 **h);
/* Hash data as an IMAP server serves it: every LF not preceded by CR
 * counts as CRLF, so an LF-only mbox message and its copy on a server
 * compare equal.  Feed the chunks of one message in order with the same
 * *after_cr (false at the start).  Returns how many bytes that form has. */
uint64_t mf_sha256_update_crlf(struct mf_sha256 *h, bool *after_cr, const void *data, size_t len);
/* The same form appended to b (the bytes an IMAP sink is given). */
uint64_t mf_buf_append_crlf(struct mf_buf *b, bool *after_cr, const void *data, size_t len);
/* 64 lowercase hex digits + NUL */
void mf_hex(const unsigned char *in, size_t len, char *out);

/* Base64 (RFC 4648 §4, '='-padded) of data[0..len), malloc'd, NUL-terminated;
 * base64url (§5) without padding, as JWT parts are (RFC 7515 §2).  Wipe
 * the result yourself if it encodes a secret. */
char *mf_base64_encode(const void *data, size_t len);
char *mf_base64url_encode(const void *data, size_t len);
/* Base64 decoding, fed in pieces (a MIME body arriving from a stream):
 * lenient about white space (RFC 2045 §6.8 line breaks), strict about the
 * rest: another character, data after '=', one sextet left over or
 * padding that does not complete the last quantum make finish() false.
 * Start from a zeroed struct; the bytes are appended to out. */
struct mf_base64 {
	uint32_t acc;
	unsigned n, pad;
	bool bad;
};
void mf_base64_feed(struct mf_base64 *d, const void *data, size_t len, struct mf_buf *out);
bool mf_base64_finish(struct mf_base64 *d, struct mf_buf *out);
/* feed + finish in one call. */
bool mf_base64_decode(const char *in, size_t len, struct mf_buf *out);

/* SASL initial responses, base64'd, malloc'd: PLAIN (RFC 4616; authzid
 * NULL for none) and XOAUTH2 (Google's, Microsoft's).  NULL password or
 * token count as "".  They hold the secret: wipe and free them after use. */
char *mf_sasl_plain(const char *authzid, const char *user, const char *password);
char *mf_sasl_xoauth2(const char *user, const char *token);

/* Case-insensitive ASCII compare that ignores the locale. */
int mf_ascii_strcasecmp(const char *a, const char *b);
int mf_ascii_strncasecmp(const char *a, const char *b, size_t n);

/* Parse a decimal unsigned number filling all of [s, s+len); false on junk
 * or overflow. */
bool mf_parse_u64(const char *s, size_t len, uint64_t *out_r);
/* Exactly n (at most 9) decimal digits at s, as in fixed-width date fields;
 * stops at the first non-digit, so a NUL before s+n is never passed. */
bool mf_parse_digits(const char *s, size_t n, int *v_r);

#ifdef __cplusplus
}
#endif
#endif
