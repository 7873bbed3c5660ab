/* SPDX-License-Identifier: MIT */
/* Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3): printable
 * US-ASCII stands for itself except '&', written "&-"; other characters
 * go as UTF-16 in modified BASE64 (',' for '/', no padding) between '&'
 * and '-'.  Decoding is strict about what §5.1.3 forbids (unterminated
 * or empty shifts, printable ASCII encoded, broken surrogates, stray
 * bits); callers fall back to the raw name when decoding fails. */
#include <config.h>
#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_val(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* Next code point from UTF-8; invalid sequences yield U+FFFD, 1 byte. */
static uint32_t utf8_next(const unsigned char **sp)
{
	const unsigned char *s = *sp;
	uint32_t c = s[0];
	int n = 0;
	uint32_t min = 0;
	if (c < 0x80) {
		*sp = s + 1;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		n = 1;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		c &= 0x07;
		min = 0x10000;
	} else {
		*sp = s + 1;
		return 0xfffd;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*sp = s + 1;
			return 0xfffd;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
		*sp = s + 1;
		return 0xfffd;
	}
	*sp = s + n + 1;
	return c;
}

static void utf8_put(struct mf_buf *b, uint32_t c)
{
	unsigned char o[4];
	size_t n;
	if (c < 0x80) {
		o[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		o[0] = (unsigned char)(0xc0 | (c >> 6));
		o[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (c >> 12));
		o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		o[0] = (unsigned char)(0xf0 | (c >> 18));
		o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		o[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	mf_buf_append(b, o, n);
}

char *imapc_mutf7_encode(const char *utf8)
{
	struct mf_buf out = { 0 };
	const unsigned char *s = (const unsigned char *)utf8;
	while (*s != '\0') {
		if (*s >= 0x20 && *s <= 0x7e) {
			if (*s == '&')
				mf_buf_append_str(&out, "&-");
			else
				mf_buf_append(&out, s, 1);
			s++;
			continue;
		}
		/* A run of non-printable-ASCII characters, as UTF-16BE
		 * bits in base64. */
		mf_buf_append_str(&out, "&");
		uint32_t bits = 0;
		int nbits = 0;
		while (*s != '\0' && !(*s >= 0x20 && *s <= 0x7e)) {
			uint32_t c = utf8_next(&s);
			uint16_t units[2];
			int nu = 1;
			if (c >= 0x10000) {
				c -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (c >> 10));
				units[1] = (uint16_t)(0xdc00 | (c & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)c;
			}
			for (int u = 0; u < nu; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					char ch = b64[(bits >> nbits) & 0x3f];
					mf_buf_append(&out, &ch, 1);
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0) {
			char ch = b64[(bits << (6 - nbits)) & 0x3f];
			mf_buf_append(&out, &ch, 1);
		}
		mf_buf_append_str(&out, "-");
	}
	if (out.data == NULL)
		return mf_xstrdup("");
	return (char *)out.data;
}

bool imapc_mutf7_decode(const char *mutf7, char **out_r)
{
	struct mf_buf out = { 0 };
	const unsigned char *s = (const unsigned char *)mutf7;
	*out_r = NULL;
	while (*s != '\0') {
		if (*s != '&') {
			if (*s < 0x20 || *s > 0x7e)
				goto bad; /* 8-bit is not mUTF-7 */
			mf_buf_append(&out, s, 1);
			s++;
			continue;
		}
		s++;
		if (*s == '-') {
			mf_buf_append_str(&out, "&");
			s++;
			continue;
		}
		uint32_t bits = 0;
		int nbits = 0;
		uint32_t high = 0; /* pending high surrogate */
		size_t nunits = 0;
		while (*s != '-') {
			int v = b64_val(*s);
			if (v < 0)
				goto bad; /* unterminated or junk */
			s++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t u = (bits >> nbits) & 0xffff;
				bits &= (1u << nbits) - 1;
				nunits++;
				if (high != 0) {
					if (u < 0xdc00 || u > 0xdfff)
						goto bad;
					utf8_put(&out,
						 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
					high = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					high = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					goto bad;
				} else if (u >= 0x20 && u <= 0x7e) {
					goto bad; /* must be sent directly */
				} else {
					utf8_put(&out, u);
				}
			}
		}
		s++; /* '-' */
		/* Leftover bits must be fewer than 6 and zero; a shift must
		 * carry at least one character; no dangling surrogate. */
		if (nunits == 0 || high != 0 || nbits >= 6 || bits != 0)
			goto bad;
	}
	*out_r = out.data ? (char *)out.data : mf_xstrdup("");
	return true;
bad:
	mf_buf_free(&out);
	return false;
}
