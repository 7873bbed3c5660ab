/* SPDX-License-Identifier: MIT */
/* Allocation, buffers and string helpers of libmailferry.  Allocation
 * failures abort with a message: a migration cannot go on sensibly without
 * memory, and callers stay free of untestable NULL branches. */
#include <config.h>
#include <mailferry/util.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
	fprintf(stderr, "mailferry: out of memory allocating %zu bytes\n", size);
	abort();
}

void *mf_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

void *mf_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *mf_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

char *mf_xstrdup(const char *s)
{
	return mf_xstrndup(s, strlen(s));
}

char *mf_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = mf_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *mf_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	char *p = mf_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void mf_buf_reserve(struct mf_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = mf_xrealloc(b->data, cap);
	b->cap = cap;
}

void mf_buf_append(struct mf_buf *b, const void *data, size_t len)
{
	mf_buf_reserve(b, len);
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void mf_buf_append_str(struct mf_buf *b, const char *s)
{
	mf_buf_append(b, s, strlen(s));
}

void mf_buf_printf(struct mf_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	mf_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void mf_buf_clear(struct mf_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void mf_buf_free(struct mf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void mf_buf_append_uri_part(struct mf_buf *b, const char *s, const char *also)
{
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		/* Controls too: a URI is one line of text wherever it is shown. */
		if (c == '%' || c < 0x20 || c == 0x7f || strchr(also, c) != NULL)
			mf_buf_printf(b, "%%%02X", c);
		else
			mf_buf_append(b, p, 1);
	}
}

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int mf_ascii_strncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = ascii_lower((unsigned char)a[i]);
		int cb = ascii_lower((unsigned char)b[i]);
		if (ca != cb || ca == 0)
			return ca - cb;
	}
	return 0;
}

int mf_ascii_strcasecmp(const char *a, const char *b)
{
	return mf_ascii_strncasecmp(a, b, SIZE_MAX);
}

bool mf_parse_u64(const char *s, size_t len, uint64_t *out_r)
{
	uint64_t v = 0;
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out_r = v;
	return true;
}

bool mf_parse_digits(const char *s, size_t n, int *v_r)
{
	int v = 0;
	if (n > 9)
		return false; /* would not fit an int */
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return true;
}

void mf_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}
