/* SPDX-License-Identifier: MIT */
/* Name helpers of the offline sources: file-name bytes to UTF-8 folder
 * levels (invalid bytes read as Latin-1), RFC 3501 §5.1.3 modified UTF-7
 * as found in Maildir++ folder names, and the natural order used for
 * numbered files (readpst's 1.eml ... 10.eml).  Pure functions; the tree
 * walking that uses them is in offline_tree.c. */
#include <config.h>
#include "mbox_p.h"

#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

/* Valid UTF-8 sequence length at s (at most len), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* File names are bytes; folder names must be UTF-8.  Bytes that are not
 * valid UTF-8 are taken as Latin-1 (deterministic, no collisions), control
 * characters become '_'. */
char *offline_name_from_bytes(const char *s, size_t len)
{
	struct mf_buf b = { 0 };
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_len(u + i, len - i);
		if (n == 1 && u[i] < 0x20) {
			mf_buf_append(&b, "_", 1);
		} else if (n > 0) {
			mf_buf_append(&b, u + i, n);
		} else {
			unsigned char two[2] = { (unsigned char)(0xc0 | (u[i] >> 6)),
						 (unsigned char)(0x80 | (u[i] & 0x3f)) };
			mf_buf_append(&b, two, 2);
			n = 1;
		}
		i += n;
	}
	if (b.data == NULL)
		return mf_xstrdup("");
	return (char *)b.data;
}

/* RFC 3501 §5.1.3 modified UTF-7, as Courier and Dovecot write Maildir++
 * folder names; the IMAP client's decoder, so both read names alike.
 * NULL if s is not valid modified UTF-7 (e.g. raw UTF-8 names from
 * Dovecot's UTF8 layout option): the caller keeps the bytes. */
char *offline_mutf7_decode(const char *s, size_t len)
{
	if (memchr(s, '\0', len) != NULL)
		return NULL;
	char *in = mf_xstrndup(s, len);
	char *out;
	imapc_mutf7_decode(in, &out); /* out is NULL when it fails */
	free(in);
	return out;
}

/* Digit runs compare by value: readpst writes 1.eml, 2.eml, ... 10.eml. */
int offline_natural_cmp(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			while (*a == '0' && a[1] >= '0' && a[1] <= '9')
				a++;
			while (*b == '0' && b[1] >= '0' && b[1] <= '9')
				b++;
			size_t na = strspn(a, "0123456789");
			size_t nb = strspn(b, "0123456789");
			if (na != nb)
				return na < nb ? -1 : 1;
			int c = memcmp(a, b, na);
			if (c != 0)
				return c;
			a += na;
			b += nb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a == *b ? 0 : (*a == '\0' ? -1 : 1);
}
