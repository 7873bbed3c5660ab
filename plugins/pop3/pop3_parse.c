/* SPDX-License-Identifier: MIT */
/* POP3 reply parsing: the buffered reader, status lines, the RFC 1939 §3
 * multi-line decoder, CAPA/STAT/LIST/UIDL lines, APOP timestamps
 * and the internal-date pick.  Everything here reads bytes from a server
 * that may be hostile: lengths are explicit, numbers are range-checked,
 * and nothing touches the network directly (the reader's fill() does), so
 * the unit tests and the fuzzer drive exactly this code. */
#include <config.h>
#include "pop3_p.h"

#include <string.h>
#include <mailferry/date.h>
#include <mailferry/mime.h>

void pop3_rd_init(struct pop3_rd *rd, pop3_fill_fn *fill, void *ctx, const char *label)
{
	rd->fill = fill;
	rd->fill_ctx = ctx;
	rd->label = label;
	rd->pos = rd->len = 0;
}

static int rd_fill(struct pop3_rd *rd, struct mf_error *err)
{
	size_t n = 0;
	rd->pos = rd->len = 0;
	int st = rd->fill(rd->fill_ctx, rd->buf, sizeof(rd->buf), &n, err);
	if (st != MF_OK)
		return st;
	if (n == 0 || n > sizeof(rd->buf))
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "%s: connection closed by the server", rd->label);
	rd->len = n;
	return MF_OK;
}

int pop3_rd_line(struct pop3_rd *rd, struct mf_buf *line, size_t max, struct mf_error *err)
{
	mf_buf_clear(line);
	for (;;) {
		if (pop3_rd_buffered(rd) == 0) {
			int st = rd_fill(rd, err);
			if (st != MF_OK)
				return st;
		}
		const unsigned char *start = rd->buf + rd->pos;
		size_t avail = pop3_rd_buffered(rd);
		const unsigned char *nl = memchr(start, '\n', avail);
		size_t take = nl != NULL ? (size_t)(nl - start) : avail;
		/* +1: the CR that may still be stripped */
		if (line->len + take > max + 1)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
					    "%s: server sent a line longer "
					    "than %zu bytes",
					    rd->label, max);
		mf_buf_append(line, start, take);
		rd->pos += take + (nl != NULL ? 1 : 0);
		if (nl != NULL) {
			if (line->len > 0 && line->data[line->len - 1] == '\r')
				line->data[--line->len] = '\0';
			if (line->len > max)
				return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
						    "%s: server sent a line "
						    "longer than %zu bytes",
						    rd->label, max);
			return MF_OK;
		}
	}
}

enum pop3_reply pop3_parse_status(const char *line, const char **text_r)
{
	/* RFC 1939 §3: "+OK" / "-ERR" in upper case; some servers write
	 * "+ok", and a few omit the space before an empty text. */
	const char *text;
	enum pop3_reply r;
	if (mf_ascii_strncasecmp(line, "+OK", 3) == 0) {
		r = POP3_REPLY_OK;
		text = line + 3;
	} else if (mf_ascii_strncasecmp(line, "-ERR", 4) == 0) {
		r = POP3_REPLY_ERR;
		text = line + 4;
	} else if (line[0] == '+' && (line[1] == ' ' || line[1] == '\0')) {
		*text_r = line[1] == ' ' ? line + 2 : line + 1;
		return POP3_REPLY_CONT;
	} else {
		*text_r = line;
		return POP3_REPLY_BAD;
	}
	if (*text == ' ')
		text++;
	else if (*text != '\0') {
		*text_r = line;
		return POP3_REPLY_BAD; /* "+OKAY", "-ERROR" */
	}
	*text_r = text;
	return r;
}

bool pop3_err_is_temporary(const char *text)
{
	return mf_ascii_strncasecmp(text, "[IN-USE]", 8) == 0 ||
	       mf_ascii_strncasecmp(text, "[SYS/TEMP]", 10) == 0;
}

size_t pop3_ml_decode(struct pop3_ml *ml, const unsigned char *in, size_t len, unsigned char *out,
		      size_t *out_len_r)
{
	size_t o = 0, i = 0;
	while (i < len && ml->state != POP3_ML_DONE) {
		unsigned char ch = in[i++];
		switch (ml->state) {
		case POP3_ML_BOL:
			if (ch == '.') {
				ml->state = POP3_ML_DOT;
				break;
			}
			out[o++] = ch;
			ml->state = ch == '\n' ? POP3_ML_BOL : POP3_ML_MID;
			break;
		case POP3_ML_MID:
			/* The hot path: copy up to the next LF at once. */
			out[o++] = ch;
			if (ch == '\n') {
				ml->state = POP3_ML_BOL;
				break;
			}
			{
				const unsigned char *nl = memchr(in + i, '\n', len - i);
				size_t run = nl != NULL ? (size_t)(nl - (in + i)) : len - i;
				memcpy(out + o, in + i, run);
				o += run;
				i += run;
			}
			break;
		case POP3_ML_DOT:
			if (ch == '\r') {
				ml->state = POP3_ML_DOTCR;
			} else if (ch == '\n') {
				ml->state = POP3_ML_DONE; /* ".\n": LF server */
			} else {
				/* The stuffed dot is dropped (RFC 1939 §3);
				 * a lone ".x" from a sloppy server loses its
				 * dot just the same, as the RFC says. */
				out[o++] = ch;
				ml->state = POP3_ML_MID;
			}
			break;
		case POP3_ML_DOTCR:
			if (ch == '\n') {
				ml->state = POP3_ML_DONE;
				break;
			}
			/* ".\r" then something else: a line holding a
			 * bare CR after the stuffed dot. */
			out[o++] = '\r';
			out[o++] = ch;
			ml->state = POP3_ML_MID;
			break;
		case POP3_ML_DONE: break;
		}
	}
	ml->out_bytes += o;
	*out_len_r = o;
	return i;
}

int pop3_rd_body(struct pop3_rd *rd, struct pop3_ml *ml, unsigned char *out, size_t cap,
		 size_t *n_r, bool *done_r, struct mf_error *err)
{
	*n_r = 0;
	*done_r = ml->state == POP3_ML_DONE;
	while (!*done_r && *n_r == 0) {
		if (pop3_rd_buffered(rd) == 0) {
			int st = rd_fill(rd, err);
			if (st != MF_OK)
				return st;
		}
		size_t take = pop3_rd_buffered(rd);
		/* out needs take + 1 bytes (a held CR comes out late) */
		if (take > cap - 1)
			take = cap - 1;
		size_t used = pop3_ml_decode(ml, rd->buf + rd->pos, take, out, n_r);
		rd->pos += used;
		*done_r = ml->state == POP3_ML_DONE;
	}
	return MF_OK;
}

bool pop3_ml_line(struct mf_buf *line)
{
	if (line->len == 0 || line->data[0] != '.')
		return false;
	if (line->len == 1)
		return true;
	memmove(line->data, line->data + 1, line->len); /* with the NUL */
	line->len--;
	return false;
}

static bool word_eq(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && mf_ascii_strncasecmp(p, w, n) == 0;
}

void pop3_parse_capa_line(struct pop3_caps *caps, const char *line)
{
	/* RFC 2449 §6: capability name, then space-separated arguments. */
	const char *p = line;
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, " \t");
	if (word_eq(p, n, "UIDL"))
		caps->uidl = true;
	else if (word_eq(p, n, "TOP"))
		caps->top = true;
	else if (word_eq(p, n, "USER"))
		caps->user = true;
	else if (word_eq(p, n, "STLS"))
		caps->stls = true;
	else if (word_eq(p, n, "PIPELINING"))
		caps->pipelining = true;
	else if (word_eq(p, n, "UTF8"))
		caps->utf8 = true;
	else if (word_eq(p, n, "SASL")) {
		for (p += n; *p != '\0';) {
			while (*p == ' ' || *p == '\t')
				p++;
			size_t m = strcspn(p, " \t");
			if (word_eq(p, m, "PLAIN"))
				caps->sasl_plain = true;
			p += m;
		}
	}
}

/* A decimal number at *pp ending at SP/HT/NUL; advances *pp past it. */
static bool take_number(const char **pp, uint64_t *v_r)
{
	const char *p = *pp;
	size_t n = 0;
	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || (p[n] != '\0' && p[n] != ' ' && p[n] != '\t'))
		return false;
	if (!mf_parse_u64(p, n, v_r))
		return false;
	*pp = p + n;
	return true;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool pop3_parse_stat(const char *text, uint64_t *count_r, uint64_t *size_r)
{
	/* RFC 1939 §5 STAT: "+OK nn mm"; anything after mm is ignored. */
	const char *p = skip_ws(text);
	if (!take_number(&p, count_r))
		return false;
	p = skip_ws(p);
	return take_number(&p, size_r);
}

bool pop3_parse_list_line(const char *line, uint64_t *num_r, uint64_t *size_r)
{
	const char *p = skip_ws(line);
	if (!take_number(&p, num_r) || *num_r == 0)
		return false;
	p = skip_ws(p);
	return take_number(&p, size_r);
}

bool pop3_parse_uidl_line(const char *line, size_t len, uint64_t *num_r, char **id_r)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p = line, *end = line + len;
	size_t n = 0;
	while (p + n < end && p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || !mf_parse_u64(p, n, num_r) || *num_r == 0)
		return false;
	p += n;
	if (p == end || (*p != ' ' && *p != '\t'))
		return false;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *id = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0')
		p++;
	size_t idlen = (size_t)(p - id);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (idlen == 0 || idlen > POP3_UID_MAX || p != end)
		return false;
	struct mf_buf b = { 0 };
	for (size_t i = 0; i < idlen; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (ch > 0x20 && ch < 0x7f && ch != '%') {
			mf_buf_append(&b, &ch, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			mf_buf_append(&b, e, 3);
		}
	}
	*id_r = (char *)b.data;
	return true;
}

char *pop3_apop_timestamp(const char *greeting)
{
	/* RFC 1939 §7: the banner carries a msg-id "<process.clock@host>". */
	const char *lt = strchr(greeting, '<');
	if (lt == NULL)
		return NULL;
	const char *gt = strchr(lt, '>');
	if (gt == NULL || gt == lt + 1)
		return NULL;
	for (const char *p = lt + 1; p < gt; p++)
		if ((unsigned char)*p <= 0x20 || *p == '<' || (unsigned char)*p >= 0x7f)
			return NULL;
	return mf_xstrndup(lt, (size_t)(gt - lt) + 1);
}

bool pop3_header_date(const unsigned char *hdr, size_t len, int64_t *epoch_r, int32_t *tz_r)
{
	struct mf_buf v = { 0 };
	bool ok = false;
	/* The newest hop (topmost Received:) is the final delivery into
	 * this maildrop: what an IMAP server would call the internal date. */
	if (mf_header_received_date(hdr, len, MF_RECEIVED_NEWEST, &v))
		ok = mf_parse_rfc5322_date((const char *)v.data, v.len, epoch_r, tz_r);
	if (!ok && mf_header_find(hdr, len, "Date", false, &v))
		ok = mf_parse_rfc5322_date((const char *)v.data, v.len, epoch_r, tz_r);
	mf_buf_free(&v);
	return ok;
}
