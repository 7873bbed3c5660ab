/* SPDX-License-Identifier: MIT */
/* mbox scanning and unescaping for the "mbox" plugin.  The scanner walks a
 * file once per fetch, a buffer at a time (never a whole message in
 * memory), and for each message records where its bytes are, how many
 * bytes unescaping yields, and the first part of its header (for flags and
 * the Date: fallback).  The stream then re-reads exactly that range with
 * pread() and unescapes it through the same state machine, so the size
 * announced before read() and the bytes read() yields cannot disagree.
 *
 * Separator rule (the usual one, cf. mutt/Dovecot): a line is a From_
 * separator if it begins with "From ", is the first line of the file or
 * follows an empty line, and carries a parseable date after the envelope
 * sender (mf_parse_from_line_date).  So an unquoted "From " in a body
 * (mboxo writers that forgot to quote) only splits a message when it also
 * looks exactly like an envelope line after a blank line.  The blank line
 * an mbox writer puts before each separator, and at the end of the file,
 * is not part of the message.  Quoting: mboxrd (default) removes one '>'
 * from lines matching ^>+From ; mboxo only from ^>From . */
#include <config.h>
#include "mbox_p.h"

#include <mailferry/date.h>
#include <mailferry/mime.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_BUF (64 * 1024)

static const char from_[] = "From ";

/* ------------------------------------------------------------------ */
/* Unescaping                                                          */

void mbox_unescape_init(struct mbox_unescape *u, bool mboxo)
{
	memset(u, 0, sizeof(*u));
	u->mboxo = mboxo;
	u->line_start = true;
	u->out_byte = -1;
}

/* Emit decided output into out[*o..cap) (out NULL: count only).  True if
 * nothing is pending any more. */
static bool drain(struct mbox_unescape *u, unsigned char *out, size_t cap, size_t *o)
{
	if (out == NULL) {
		*o += (size_t)u->out_gt + (u->out_from_n - u->out_from_i) + (u->out_byte >= 0);
		u->out_gt = 0;
		u->out_from_i = u->out_from_n = 0;
		u->out_byte = -1;
		return true;
	}
	while (u->out_gt > 0 && *o < cap) {
		out[(*o)++] = '>';
		u->out_gt--;
	}
	while (u->out_from_i < u->out_from_n && *o < cap)
		out[(*o)++] = (unsigned char)from_[u->out_from_i++];
	if (u->out_byte >= 0 && *o < cap) {
		out[(*o)++] = (unsigned char)u->out_byte;
		u->out_byte = -1;
	}
	return u->out_gt == 0 && u->out_from_i == u->out_from_n && u->out_byte < 0;
}

size_t mbox_unescape_drain(struct mbox_unescape *u, unsigned char *out, size_t cap)
{
	size_t o = 0;
	drain(u, out, cap, &o);
	return o;
}

size_t mbox_unescape_run(struct mbox_unescape *u, const unsigned char *in, size_t in_len,
			 unsigned char *out, size_t cap, uint64_t *produced_r)
{
	size_t i = 0, o = 0;
	if (out == NULL)
		cap = SIZE_MAX;
	while (drain(u, out, cap, &o) && i < in_len) {
		if (!u->line_start) {
			/* Body of a line: copy up to and including LF. */
			size_t n = in_len - i;
			if (cap - o < n)
				n = cap - o;
			if (n == 0)
				break;
			const unsigned char *nl = memchr(in + i, '\n', n);
			if (nl != NULL) {
				n = (size_t)(nl - (in + i)) + 1;
				u->line_start = true;
			}
			if (out != NULL)
				memcpy(out + o, in + i, n);
			o += n;
			i += n;
			continue;
		}
		unsigned char c = in[i++];
		if (u->from_n == 0 && c == '>' && (!u->mboxo || u->gt == 0)) {
			u->gt++;
			continue;
		}
		if (c == (unsigned char)from_[u->from_n]) {
			if (++u->from_n == 5) {
				/* ^>+From : drop one '>' (none to drop on a
				 * bare "From ", which only a broken file has). */
				u->out_gt = u->gt > 0 ? u->gt - 1 : 0;
				u->out_from_i = 0;
				u->out_from_n = 5;
				u->gt = 0;
				u->from_n = 0;
				u->line_start = false;
			}
			continue;
		}
		/* Not a quoted From_: the prefix is emitted as it was. */
		u->out_gt = u->gt;
		u->out_from_i = 0;
		u->out_from_n = u->from_n;
		u->out_byte = c;
		u->gt = 0;
		u->from_n = 0;
		u->line_start = c == '\n';
	}
	*produced_r = o;
	return i;
}

void mbox_unescape_finish(struct mbox_unescape *u)
{
	if (u->gt > 0 || u->from_n > 0) {
		u->out_gt += u->gt;
		u->out_from_i = 0;
		u->out_from_n = u->from_n;
		u->gt = 0;
		u->from_n = 0;
	}
	u->line_start = false;
}

/* ------------------------------------------------------------------ */
/* Header-derived metadata                                             */

uint32_t mbox_header_flags(const unsigned char *hdr, size_t len)
{
	struct mf_buf v = { 0 };
	uint32_t flags = 0;
	bool have = false;

	/* Status:/X-Status: as written by mutt, Pine, Dovecot, UW imapd. */
	if (mf_header_find(hdr, len, "Status", false, &v)) {
		have = true;
		if (memchr(v.data, 'R', v.len) != NULL)
			flags |= MF_FLAG_SEEN;
	}
	if (mf_header_find(hdr, len, "X-Status", false, &v)) {
		have = true;
		static const struct {
			char c;
			uint32_t f;
		} xs[] = {
			{ 'A', MF_FLAG_ANSWERED },
			{ 'F', MF_FLAG_FLAGGED },
			{ 'T', MF_FLAG_DRAFT },
			{ 'D', MF_FLAG_DELETED },
		};
		for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
			if (memchr(v.data, xs[i].c, v.len) != NULL)
				flags |= xs[i].f;
	}
	/* Thunderbird keeps its flags in a hex field instead (nsMsgMessageFlags:
	 * 1 read, 2 replied, 4 marked, 8 expunged, 0x1000 forwarded). */
	if (!have && mf_header_find(hdr, len, "X-Mozilla-Status", false, &v)) {
		unsigned long x = 0;
		size_t i = 0;
		for (; i < v.len && i < 8; i++) {
			int c = v.data[i], d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				break;
			x = x * 16 + (unsigned long)d;
		}
		if (i == v.len) {
			flags |= (x & 0x1) ? MF_FLAG_SEEN : 0;
			flags |= (x & 0x2) ? MF_FLAG_ANSWERED : 0;
			flags |= (x & 0x4) ? MF_FLAG_FLAGGED : 0;
			flags |= (x & 0x8) ? MF_FLAG_DELETED : 0;
			flags |= (x & 0x1000) ? MF_FLAG_FORWARDED : 0;
		}
	}
	mf_buf_free(&v);
	return flags;
}

/* An IMAP atom (RFC 3501 §9 flag-keyword) or nothing: keywords that a sink
 * could not store are dropped rather than mangled. */
static bool keyword_ok(const unsigned char *k, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] <= 0x20 || k[i] >= 0x7f || strchr("(){%*\"\\]", k[i]))
			return false;
	return true;
}

static void add_keywords(char ***v, size_t *n, const struct mf_buf *b)
{
	size_t i = 0;
	while (i < b->len) {
		while (i < b->len && (b->data[i] == ' ' || b->data[i] == ',' || b->data[i] == '\t'))
			i++;
		size_t s = i;
		while (i < b->len && b->data[i] != ' ' && b->data[i] != ',' && b->data[i] != '\t')
			i++;
		if (!keyword_ok(b->data + s, i - s) || *n >= 64)
			continue;
		bool dup = false;
		for (size_t j = 0; j < *n; j++)
			if (strlen((*v)[j]) == i - s && memcmp((*v)[j], b->data + s, i - s) == 0)
				dup = true;
		if (dup)
			continue;
		*v = mf_xrealloc(*v, (*n + 2) * sizeof(**v));
		(*v)[(*n)++] = mf_xstrndup((const char *)b->data + s, i - s);
		(*v)[*n] = NULL;
	}
}

char **mbox_header_keywords(const unsigned char *hdr, size_t len)
{
	struct mf_buf b = { 0 };
	char **v = NULL;
	size_t n = 0;
	/* X-Keywords: Dovecot and mutt; X-Mozilla-Keys: Thunderbird tags. */
	if (mf_header_find(hdr, len, "X-Keywords", false, &b))
		add_keywords(&v, &n, &b);
	if (mf_header_find(hdr, len, "X-Mozilla-Keys", false, &b))
		add_keywords(&v, &n, &b);
	mf_buf_free(&b);
	return v;
}

void mbox_free_strv(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------------ */
/* Scanning                                                            */

struct seg {
	const unsigned char *p;
	size_t len;
	uint64_t off;
	bool at_line_start, ends_line;
};

static int fill(struct mbox_reader *r, struct mf_error *err)
{
	while (!r->eof && r->len < r->cap) {
		ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len,
				  (off_t)(r->buf_off + r->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				     "mbox: %s: read at offset %llu: %s", r->path,
				     (unsigned long long)(r->buf_off + r->len), strerror(e));
			err->sys_errno = e;
			return MF_ERR_FOLDER;
		}
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
	}
	return MF_OK;
}

/* Next piece of input: a whole line when it fits the buffer, else pieces
 * of it.  *got_r false at the end of the file. */
static int next_seg(struct mbox_reader *r, struct seg *s, bool *got_r, struct mf_error *err)
{
	int rc;
	*got_r = false;
	const unsigned char *nl = memchr(r->buf + r->cur, '\n', r->len - r->cur);
	if (nl == NULL && !r->eof) {
		/* Keep the partial line, make room behind it, read on. */
		memmove(r->buf, r->buf + r->cur, r->len - r->cur);
		r->buf_off += r->cur;
		r->len -= r->cur;
		r->cur = 0;
		if ((rc = fill(r, err)) != MF_OK)
			return rc;
		nl = memchr(r->buf, '\n', r->len);
	}
	if (r->cur >= r->len)
		return MF_OK;
	size_t end = nl != NULL ? (size_t)(nl - r->buf) + 1 : r->len;
	s->p = r->buf + r->cur;
	s->len = end - r->cur;
	s->off = r->buf_off + r->cur;
	s->at_line_start = r->at_line_start;
	s->ends_line = nl != NULL;
	r->at_line_start = s->ends_line;
	r->cur = end;
	*got_r = true;
	return MF_OK;
}

/* Give the segment back (it is still in the buffer). */
static void unread_seg(struct mbox_reader *r, const struct seg *s)
{
	r->cur = (size_t)(s->p - r->buf);
	r->at_line_start = s->at_line_start;
}

static bool is_empty_line(const struct seg *s)
{
	return s->at_line_start && s->ends_line &&
	       (s->len == 1 || (s->len == 2 && s->p[0] == '\r'));
}

static bool is_separator(const struct seg *s)
{
	int64_t t;
	int32_t tz;
	return s->at_line_start && s->len >= 5 && memcmp(s->p, from_, 5) == 0 &&
	       mf_parse_from_line_date((const char *)s->p, s->len, &t, &tz);
}

int mbox_reader_open(struct mbox_reader *r, const char *path, uint64_t start, bool mboxo,
		     struct mf_error *err)
{
	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* FIFO: no hang */
	r->path = mf_xstrdup(path);
	if (r->fd < 0) {
		int e = errno;
		mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "mbox: %s: %s", path, strerror(e));
		err->sys_errno = e;
		return MF_ERR_FOLDER;
	}
	r->mboxo = mboxo;
	r->cap = SCAN_BUF;
	r->buf = mf_xmalloc(r->cap);
	r->buf_off = start;
	r->at_line_start = true;
	return MF_OK;
}

void mbox_msg_clear(struct mbox_msg *m)
{
	mf_buf_free(&m->header);
	mbox_free_strv(m->keywords);
	memset(m, 0, sizeof(*m));
}

void mbox_reader_close(struct mbox_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	free(r->path);
	r->buf = NULL;
	r->path = NULL;
}

int mbox_reader_next(struct mbox_reader *r, struct mbox_msg *m, bool *got_r, struct mf_error *err)
{
	struct seg s;
	bool got;
	int rc;

	mbox_msg_clear(m);
	*got_r = false;
	if ((rc = next_seg(r, &s, &got, err)) != MF_OK || !got)
		return rc;
	if (!r->started) {
		r->started = true;
		if (s.len < 5 || memcmp(s.p, from_, 5) != 0)
			return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
					    "mbox: %s: not an mbox file (does "
					    "not start with \"From \")",
					    r->path);
	}
	/* s is the From_ line (the scanner stopped on it last time). */
	m->from_off = s.off;
	m->date = MF_DATE_UNKNOWN;
	if (!mf_parse_from_line_date((const char *)s.p, s.len, &m->date, &m->tz))
		m->date = MF_DATE_UNKNOWN;
	while (!s.ends_line) {
		if ((rc = next_seg(r, &s, &got, err)) != MF_OK)
			return rc;
		if (!got)
			break;
	}
	m->body_off = got ? s.off + s.len : s.off + s.len;

	struct mbox_unescape u;
	uint64_t count = 0, produced;
	size_t blank = 0;
	bool prev_empty = false, in_header = true;
	uint64_t end = m->body_off;

	mbox_unescape_init(&u, r->mboxo);
	for (;;) {
		if ((rc = next_seg(r, &s, &got, err)) != MF_OK)
			return rc;
		if (!got)
			break;
		if (prev_empty && is_separator(&s)) {
			unread_seg(r, &s);
			break;
		}
		mbox_unescape_run(&u, s.p, s.len, NULL, 0, &produced);
		count += produced;
		end = s.off + s.len;
		if (in_header) {
			if (is_empty_line(&s))
				in_header = false;
			size_t room = MBOX_HEADER_CAP - m->header.len;
			mf_buf_append(&m->header, s.p, s.len < room ? s.len : room);
			if (m->header.len >= MBOX_HEADER_CAP)
				in_header = false;
		}
		prev_empty = is_empty_line(&s);
		blank = prev_empty ? s.len : 0;
	}
	mbox_unescape_finish(&u);
	count += mbox_unescape_drain(&u, NULL, 0);
	/* The writer's blank line before the next From_ (or at the end of
	 * the file) is not the message's. */
	m->body_end = end - blank;
	m->size = count - blank;

	size_t hlen = mf_header_block_len(m->header.data, m->header.len);
	m->flags = mbox_header_flags(m->header.data, hlen);
	m->keywords = mbox_header_keywords(m->header.data, hlen);
	if (m->date == MF_DATE_UNKNOWN &&
	    !mf_header_date(m->header.data, hlen, false, &m->date, &m->tz)) {
		m->date = MF_DATE_UNKNOWN;
		m->tz = 0;
	}
	*got_r = true;
	return MF_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */

void mbox_stream_init(struct mbox_stream *s, int fd, const char *path, const struct mbox_msg *m,
		      bool mboxo)
{
	s->fd = fd;
	s->path = path;
	s->from_off = m->from_off;
	s->pos = m->body_off;
	s->end = m->body_end;
	s->size = m->size;
	s->produced = 0;
	s->finished = false;
	s->in_len = s->in_cur = 0;
	mbox_unescape_init(&s->u, mboxo);
}

static int stream_error(struct mbox_stream *s, int e, const char *what, struct mf_error *err)
{
	mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
		     "mbox: %s: message at offset %llu: %s%s%s", s->path,
		     (unsigned long long)s->from_off, what, e ? ": " : "", e ? strerror(e) : "");
	if (err != NULL)
		err->sys_errno = e;
	return MF_ERR_MESSAGE;
}

int mbox_stream_read(struct mbox_stream *s, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	size_t o = 0;
	uint64_t left = s->size - s->produced;
	if (cap > left)
		cap = (size_t)left; /* never more than announced */
	while (o < cap) {
		o += mbox_unescape_drain(&s->u, buf + o, cap - o);
		if (o >= cap)
			break;
		if (s->in_cur == s->in_len) {
			if (s->pos >= s->end) {
				if (s->finished)
					break;
				mbox_unescape_finish(&s->u);
				s->finished = true;
				continue;
			}
			uint64_t want = s->end - s->pos;
			if (want > sizeof(s->in))
				want = sizeof(s->in);
			ssize_t n = pread(s->fd, s->in, (size_t)want, (off_t)s->pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return stream_error(s, errno, "read", err);
			if (n == 0)
				return stream_error(s, 0,
						    "file shrank while "
						    "reading",
						    err);
			s->in_len = (size_t)n;
			s->in_cur = 0;
			s->pos += (uint64_t)n;
		}
		uint64_t produced;
		s->in_cur += mbox_unescape_run(&s->u, s->in + s->in_cur, s->in_len - s->in_cur,
					       buf + o, cap - o, &produced);
		o += (size_t)produced;
	}
	s->produced += o;
	if (o == 0 && s->produced != s->size)
		return stream_error(s, 0, "file changed while reading", err);
	*n_r = o;
	return MF_OK;
}
