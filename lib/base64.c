/* SPDX-License-Identifier: MIT */
/* Base64 (RFC 4648) for everyone: SASL initial responses (IMAP, POP3),
 * JWT parts (base64url, unpadded), EWS MimeContent and Graph $batch bodies
 * (decoded, in pieces as they arrive).  One table each way, no state
 * outside the caller's struct mf_base64. */
#include <config.h>
#include <mailferry/util.h>

#include <string.h>

static const char std_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const char *tab, bool pad, const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = mf_xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) { /* one or two bytes left: two or three sextets */
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		if (i + 1 < len)
			*o++ = tab[v >> 6 & 63];
		else if (pad)
			*o++ = '=';
		if (pad)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *mf_base64_encode(const void *data, size_t len)
{
	return encode(std_tab, true, data, len);
}

char *mf_base64url_encode(const void *data, size_t len)
{
	return encode(url_tab, false, data, len);
}

static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void mf_base64_feed(struct mf_base64 *d, const void *data, size_t len, struct mf_buf *out)
{
	const unsigned char *in = data;
	unsigned char chunk[3];

	mf_buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len && !d->bad; i++) {
		unsigned char c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			d->pad++;
			continue;
		}
		int v = sextet(c);
		if (v < 0 || d->pad > 0) {
			d->bad = true; /* junk, or data after padding */
			break;
		}
		d->acc = d->acc << 6 | (uint32_t)v;
		if (++d->n == 4) {
			chunk[0] = (unsigned char)(d->acc >> 16);
			chunk[1] = (unsigned char)(d->acc >> 8);
			chunk[2] = (unsigned char)d->acc;
			mf_buf_append(out, chunk, 3);
			d->acc = 0;
			d->n = 0;
		}
	}
}

bool mf_base64_finish(struct mf_base64 *d, struct mf_buf *out)
{
	unsigned char chunk[2];
	/* n leftover sextets: 2 -> 1 byte, 3 -> 2 bytes; padding, when
	 * present, must complete the quantum (RFC 4648 §4). */
	if (d->bad || d->n == 1 || (d->pad > 0 && d->n + d->pad != 4) || d->pad > 2)
		return false;
	if (d->n == 2) {
		chunk[0] = (unsigned char)(d->acc >> 4);
		mf_buf_append(out, chunk, 1);
	} else if (d->n == 3) {
		chunk[0] = (unsigned char)(d->acc >> 10);
		chunk[1] = (unsigned char)(d->acc >> 2);
		mf_buf_append(out, chunk, 2);
	}
	return true;
}

bool mf_base64_decode(const char *in, size_t len, struct mf_buf *out)
{
	struct mf_base64 d = { 0 };
	mf_base64_feed(&d, in, len, out);
	return mf_base64_finish(&d, out);
}
