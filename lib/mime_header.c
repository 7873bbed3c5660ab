/* SPDX-License-Identifier: MIT */
/* RFC 5322 header-block reader of libmailferry (include/mailferry/mime.h):
 * iterate fields, find and unfold one, pick a Received: date.  It never
 * decodes (no RFC 2047, no charset work) and never allocates except into
 * the caller's mf_buf.  Lines end at LF; a CR before it is part of the
 * line end.  Date parsing itself is in date.c. */
#include <config.h>
#include <mailferry/date.h>
#include <mailferry/mime.h>

#include <string.h>

/* End of the line starting at p (the LF, or end). */
static const unsigned char *line_end(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl != NULL ? nl : end;
}

/* True if the line [p, e) is empty: nothing, or a lone CR. */
static bool line_is_empty(const unsigned char *p, const unsigned char *e)
{
	return e == p || (e == p + 1 && *p == '\r');
}

size_t mf_header_block_len(const unsigned char *msg, size_t len)
{
	if (msg == NULL) /* an empty mf_buf: also no NULL + 0 below */
		return 0;
	const unsigned char *p = msg, *end = msg + len;
	while (p < end) {
		const unsigned char *e = line_end(p, end);
		if (e < end && line_is_empty(p, e))
			return (size_t)(p - msg);
		if (e == end)
			break;
		p = e + 1;
	}
	return len;
}

void mf_header_iter_init(struct mf_header_iter *it, const unsigned char *hdr, size_t len)
{
	it->pos = hdr;
	it->end = hdr != NULL ? hdr + len : NULL;
}

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

bool mf_header_iter_next(struct mf_header_iter *it, struct mf_header_field *f)
{
	while (it->pos != NULL && it->pos < it->end) {
		const unsigned char *p = it->pos;
		const unsigned char *e = line_end(p, it->end);
		if (line_is_empty(p, e) && e < it->end) {
			it->pos = it->end; /* end of header block */
			return false;
		}
		/* Extend over continuation lines. */
		const unsigned char *last = e;
		while (last < it->end && last + 1 < it->end && is_wsp(last[1]))
			last = line_end(last + 1, it->end);
		it->pos = last < it->end ? last + 1 : it->end;
		if (is_wsp(*p))
			continue; /* continuation without a field: skip */
		/* §3.6.8: field-name is printable ASCII except ':'; §4.5.3
		 * allows WSP before the colon. */
		const unsigned char *c = p;
		while (c < e && *c != ':' && *c > 32 && *c < 127)
			c++;
		const unsigned char *name_end = c;
		while (c < e && is_wsp(*c))
			c++;
		if (c >= e || *c != ':' || name_end == p)
			continue; /* not a field ("From " line, junk) */
		f->name = p;
		f->name_len = (size_t)(name_end - p);
		f->raw = c + 1;
		const unsigned char *vend = last;
		if (vend > f->raw && vend[-1] == '\r')
			vend--; /* CRLF, or a CR cut short at the end */
		f->raw_len = vend > f->raw ? (size_t)(vend - f->raw) : 0;
		return true;
	}
	return false;
}

void mf_header_unfold(const unsigned char *raw, size_t raw_len, struct mf_buf *out)
{
	mf_buf_clear(out);
	mf_buf_reserve(out, raw_len + 1);
	size_t i = 0;
	while (i < raw_len && is_wsp(raw[i]))
		i++;
	for (; i < raw_len; i++) {
		unsigned char c = raw[i];
		if (c == '\r' && i + 1 < raw_len && raw[i + 1] == '\n')
			continue;
		if (c == '\n')
			continue;
		out->data[out->len++] = c;
	}
	while (out->len > 0 && (is_wsp(out->data[out->len - 1]) || out->data[out->len - 1] == '\r'))
		out->len--;
	out->data[out->len] = '\0';
}

bool mf_header_find(const unsigned char *hdr, size_t len, const char *name, bool last,
		    struct mf_buf *value_r)
{
	struct mf_header_iter it;
	struct mf_header_field f, found;
	bool have = false;
	size_t nlen = strlen(name);

	mf_buf_clear(value_r);
	mf_header_iter_init(&it, hdr, len);
	while (mf_header_iter_next(&it, &f)) {
		if (f.name_len != nlen ||
		    mf_ascii_strncasecmp((const char *)f.name, name, nlen) != 0)
			continue;
		found = f;
		have = true;
		if (!last)
			break;
	}
	if (have)
		mf_header_unfold(found.raw, found.raw_len, value_r);
	return have;
}

bool mf_header_received_date(const unsigned char *hdr, size_t len, enum mf_received_pick pick,
			     struct mf_buf *value_r)
{
	if (!mf_header_find(hdr, len, "Received", pick == MF_RECEIVED_OLDEST, value_r))
		return false;
	const unsigned char *semi = NULL;
	for (size_t i = 0; i < value_r->len; i++)
		if (value_r->data[i] == ';')
			semi = value_r->data + i;
	if (semi == NULL) {
		mf_buf_clear(value_r);
		return false;
	}
	size_t start = (size_t)(semi - value_r->data) + 1;
	while (start < value_r->len && is_wsp(value_r->data[start]))
		start++;
	size_t n = value_r->len - start;
	memmove(value_r->data, value_r->data + start, n);
	value_r->len = n;
	value_r->data[n] = '\0';
	return true;
}

bool mf_header_date(const unsigned char *hdr, size_t len, bool with_received, int64_t *epoch_r,
		    int32_t *tz_min_r)
{
	struct mf_buf v = { 0 };
	bool ok = false;
	if (mf_header_find(hdr, len, "Date", false, &v))
		ok = mf_parse_rfc5322_date((const char *)v.data, v.len, epoch_r, tz_min_r);
	if (!ok && with_received && mf_header_received_date(hdr, len, MF_RECEIVED_NEWEST, &v))
		ok = mf_parse_rfc5322_date((const char *)v.data, v.len, epoch_r, tz_min_r);
	mf_buf_free(&v);
	return ok;
}
