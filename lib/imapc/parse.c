/* SPDX-License-Identifier: MIT */
/* IMAP response parser (RFC 3501 §9 "response" and friends).  It pulls
 * one line at a time from a struct imapc_io and builds a struct
 * imapc_resp; a literal ({n}, or literal8 ~{n} from RFC 3516) ends its
 * line, its bytes follow, then parsing resumes on the next line.  Literals
 * that carry message bodies go to the stream callback instead of memory.
 *
 * Leniency, on purpose: status texts are taken raw to the end of the line
 * (Alibaba's greeting "Ready(10.147.40.164)" has no space before '('),
 * atoms accept '\', '%', '*', ']' and bracketed sections with spaces
 * ("BODY[HEADER.FIELDS (SUBJECT)]<0>"), runs of spaces are tolerated.
 * Strictness where it matters: literal sizes are checked before any
 * allocation, nesting is bounded, every byte of a literal is consumed
 * exactly once, and bad input is an error, never a crash.
 *
 * Resync (parser->resync): a data response nested deeper than MAX_DEPTH
 * is not kept, but need not cost the connection: the rest of it is read
 * and dropped (skip_rest: to the end of its last line, past the literals
 * that end lines, quoted strings and [sections] read as the lexer reads
 * them) and the response is returned with what was parsed before the
 * cap and resp->damaged saying why, so the caller can fail just the
 * message it belongs to.  Without resync it is an error as before. */
#include <config.h>
#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define RESP_BUDGET (64u * 1024 * 1024) /* buffered literal bytes/response */

struct pstate {
	struct imapc_parser *p;
	size_t pos;
	size_t budget;
	struct imapc_resp *resp; /* for the stream callback */
	bool too_deep;           /* the error is the nesting cap (resyncable) */
};

/* ---- memory io ---------------------------------------------------- */

static int mem_read_line(void *ctx, struct mf_buf *line, size_t max, struct mf_error *err)
{
	struct imapc_memio *m = ctx;
	mf_buf_clear(line);
	if (m->pos >= m->len)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "memory: connection closed by server");
	const unsigned char *s = m->data + m->pos;
	const unsigned char *nl = memchr(s, '\n', m->len - m->pos);
	if (nl == NULL)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "memory: connection closed by server");
	size_t n = (size_t)(nl - s);
	m->pos += n + 1;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > max)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "memory: line longer than %zu bytes", max);
	mf_buf_append(line, s, n);
	return MF_OK;
}

static int mem_read_some(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err)
{
	struct imapc_memio *m = ctx;
	*n_r = 0;
	if (cap == 0)
		return MF_OK;
	if (m->pos >= m->len)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "memory: connection closed by server");
	size_t n = m->len - m->pos;
	if (n > cap)
		n = cap;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*n_r = n;
	return MF_OK;
}

void imapc_memio_init(struct imapc_io *io, struct imapc_memio *m, const void *data, size_t len)
{
	m->data = data;
	m->len = len;
	m->pos = 0;
	io->read_line = mem_read_line;
	io->read_some = mem_read_some;
	io->ctx = m;
}

/* ---- values ------------------------------------------------------- */

static void value_free(struct imapc_value *v)
{
	for (size_t i = 0; i < v->n_items; i++)
		value_free(&v->items[i]);
	free(v->items);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

void imapc_resp_free(struct imapc_resp *r)
{
	value_free(&r->args);
	free(r->code_args);
	free(r->text);
	free(r->damaged);
	memset(r, 0, sizeof(*r));
}

/* Append a zeroed slot to a LIST value. */
static struct imapc_value *push(struct imapc_value *list)
{
	if ((list->n_items & (list->n_items - 1)) == 0) {
		size_t cap = list->n_items ? list->n_items * 2 : 4;
		if (cap < 4)
			cap = 4;
		list->items = mf_xrealloc(list->items, cap * sizeof(*list->items));
	}
	struct imapc_value *v = &list->items[list->n_items++];
	memset(v, 0, sizeof(*v));
	return v;
}

bool imapc_value_u64(const struct imapc_value *v, uint64_t *out_r)
{
	if (v == NULL || v->type != IMAPC_ATOM)
		return false;
	return mf_parse_u64(v->str, v->len, out_r);
}

bool imapc_value_is_atom(const struct imapc_value *v, const char *atom)
{
	return v != NULL && v->type == IMAPC_ATOM && mf_ascii_strcasecmp(v->str, atom) == 0;
}

const char *imapc_value_str(const struct imapc_value *v)
{
	if (v == NULL || (v->type != IMAPC_ATOM && v->type != IMAPC_STRING))
		return NULL;
	return v->str;
}

const struct imapc_value *imapc_fetch_item(const struct imapc_value *list, const char *key)
{
	if (list == NULL || list->type != IMAPC_LIST)
		return NULL;
	for (size_t i = 0; i + 1 < list->n_items; i += 2)
		if (imapc_value_is_atom(&list->items[i], key))
			return &list->items[i + 1];
	return NULL;
}

/* ---- literal reader ----------------------------------------------- */

int imapc_literal_read(struct imapc_literal *lit, void *buf, size_t cap, size_t *n_r,
		       struct mf_error *err)
{
	*n_r = 0;
	if (lit->left == 0 || cap == 0)
		return MF_OK;
	if (cap > lit->left)
		cap = (size_t)lit->left;
	int st = lit->io->read_some(lit->io->ctx, buf, cap, n_r, err);
	if (st != MF_OK)
		return st;
	lit->left -= *n_r;
	return MF_OK;
}

/* ---- lexer -------------------------------------------------------- */

static int syntax(struct pstate *s, struct mf_error *err, const char *what)
{
	const struct mf_buf *l = &s->p->line;
	size_t from = s->pos > 20 ? s->pos - 20 : 0;
	size_t n = l->len - from;
	if (n > 60)
		n = 60;
	char ctx[64];
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < sizeof(ctx); i++) {
		unsigned char c = l->data[from + i];
		ctx[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	ctx[j] = '\0';
	return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
			    "IMAP protocol error: %s at byte %zu near \"%s\"", what, s->pos, ctx);
}

static int peek(const struct pstate *s)
{
	const struct mf_buf *l = &s->p->line;
	return s->pos < l->len ? l->data[s->pos] : -1;
}

static bool at_eol(const struct pstate *s)
{
	return s->pos >= s->p->line.len;
}

static void skip_sp(struct pstate *s)
{
	while (peek(s) == ' ')
		s->pos++;
}

static int next_line(struct pstate *s, struct mf_error *err)
{
	s->pos = 0;
	return s->p->io->read_line(s->p->io->ctx, &s->p->line, s->p->max_line, err);
}

static bool is_atom_char(int c)
{
	return c > 0x20 && c != 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* An atom; '[' opens a section that runs to its matching ']' whatever it
 * holds (spaces, parens). */
static int lex_atom(struct pstate *s, struct imapc_value *v, struct mf_error *err)
{
	const struct mf_buf *l = &s->p->line;
	size_t start = s->pos;
	int depth = 0;
	for (;;) {
		int c = peek(s);
		if (c < 0)
			break;
		if (depth > 0) {
			if (c < 0x20 || c == 0x7f)
				return syntax(s, err, "control byte in section");
			if (c == '[')
				depth++;
			else if (c == ']')
				depth--;
			s->pos++;
			continue;
		}
		if (c == '[') {
			depth++;
			s->pos++;
			continue;
		}
		if (!is_atom_char(c))
			break;
		s->pos++;
	}
	if (depth > 0)
		return syntax(s, err, "unterminated '['");
	if (s->pos == start)
		return syntax(s, err, "expected a value");
	size_t n = s->pos - start;
	if (n == 3 && mf_ascii_strncasecmp((const char *)l->data + start, "NIL", 3) == 0) {
		v->type = IMAPC_NIL;
		return MF_OK;
	}
	v->type = IMAPC_ATOM;
	v->str = mf_xstrndup((const char *)l->data + start, n);
	v->len = n;
	return MF_OK;
}

static int lex_quoted(struct pstate *s, struct imapc_value *v, struct mf_error *err)
{
	struct mf_buf out = { 0 };
	s->pos++; /* opening quote */
	for (;;) {
		int c = peek(s);
		if (c <= 0) {
			mf_buf_free(&out);
			return syntax(s, err,
				      c == 0 ? "NUL in quoted string"
					     : "unterminated quoted string");
		}
		s->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			/* RFC 3501 allows only \" and \\; take any escaped
			 * byte literally. */
			c = peek(s);
			if (c <= 0) {
				mf_buf_free(&out);
				return syntax(s, err, "backslash at end of line");
			}
			s->pos++;
		}
		unsigned char b = (unsigned char)c;
		mf_buf_append(&out, &b, 1);
	}
	v->type = IMAPC_STRING;
	v->len = out.len;
	v->str = out.data ? (char *)out.data : mf_xstrdup("");
	return MF_OK;
}

/* The stream callback applies to literals right after these FETCH items. */
static bool is_body_key(const char *k)
{
	return mf_ascii_strncasecmp(k, "BODY[", 5) == 0 ||
	       mf_ascii_strncasecmp(k, "BINARY[", 7) == 0 ||
	       mf_ascii_strcasecmp(k, "RFC822") == 0 || mf_ascii_strcasecmp(k, "RFC822.TEXT") == 0;
}

/* "{n}" / "~{n}" at the end of the current line, then n bytes. */
static int lex_literal(struct pstate *s, struct imapc_value *v, const char *key,
		       struct mf_error *err)
{
	const struct mf_buf *l = &s->p->line;
	if (peek(s) == '~')
		s->pos++;
	if (peek(s) != '{')
		return syntax(s, err, "expected '{'");
	s->pos++;
	size_t start = s->pos;
	while (peek(s) >= '0' && peek(s) <= '9')
		s->pos++;
	uint64_t n;
	if (!mf_parse_u64((const char *)l->data + start, s->pos - start, &n))
		return syntax(s, err, "bad literal size");
	if (peek(s) == '+') /* LITERAL+ form, only clients should send it */
		s->pos++;
	if (peek(s) != '}')
		return syntax(s, err, "expected '}'");
	s->pos++;
	if (!at_eol(s))
		return syntax(s, err, "literal size not at end of line");

	int st;
	if (s->p->stream != NULL && key != NULL && is_body_key(key)) {
		struct imapc_literal lit = { .io = s->p->io, .size = n, .left = n };
		v->type = IMAPC_STREAMED;
		v->len = (size_t)n;
		st = s->p->stream(s->p->stream_ctx, s->resp, key, &lit, err);
		if (st != MF_OK)
			return st;
		/* Skip what the callback did not want. */
		unsigned char sink[16384];
		while (lit.left > 0) {
			size_t got;
			st = imapc_literal_read(&lit, sink, sizeof(sink), &got, err);
			if (st != MF_OK)
				return st;
		}
	} else {
		if (n > s->p->max_literal || n > s->budget)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
					    "IMAP protocol error: literal of"
					    " %llu bytes is too large",
					    (unsigned long long)n);
		s->budget -= (size_t)n;
		char *buf = mf_xmalloc((size_t)n + 1);
		size_t got = 0;
		while (got < n) {
			size_t k;
			st = s->p->io->read_some(s->p->io->ctx, buf + got, (size_t)n - got, &k,
						 err);
			if (st != MF_OK) {
				free(buf);
				return st;
			}
			got += k;
		}
		buf[n] = '\0';
		v->type = IMAPC_STRING;
		v->str = buf;
		v->len = (size_t)n;
	}
	return next_line(s, err);
}

static int parse_value(struct pstate *s, struct imapc_value *v, const char *key, int depth,
		       struct mf_error *err);

/* Values separated by spaces until ')' (if closing) or end of line. */
static int parse_seq(struct pstate *s, struct imapc_value *list, bool closing, int depth,
		     struct mf_error *err)
{
	list->type = IMAPC_LIST;
	for (;;) {
		skip_sp(s);
		int c = peek(s);
		if (c < 0) {
			if (closing)
				return syntax(s, err, "unterminated list");
			return MF_OK;
		}
		if (c == ')') {
			if (!closing)
				return syntax(s, err, "unbalanced ')'");
			s->pos++;
			return MF_OK;
		}
		const char *key = NULL;
		if (list->n_items > 0 && list->items[list->n_items - 1].type == IMAPC_ATOM)
			key = list->items[list->n_items - 1].str;
		struct imapc_value *v = push(list);
		int st = parse_value(s, v, key, depth, err);
		if (st != MF_OK) {
			/* Drop a value left half made (a list keeps what it
			 * got): what was parsed before stays well formed, for
			 * a resync to return. */
			if (v->type != IMAPC_LIST) {
				value_free(v);
				list->n_items--;
			}
			return st;
		}
	}
}

static int parse_value(struct pstate *s, struct imapc_value *v, const char *key, int depth,
		       struct mf_error *err)
{
	int c = peek(s);
	if (c == '(') {
		if (depth >= MAX_DEPTH) {
			s->too_deep = true;
			return syntax(s, err, "lists nested too deeply");
		}
		s->pos++;
		return parse_seq(s, v, true, depth + 1, err);
	}
	if (c == '"')
		return lex_quoted(s, v, err);
	if (c == '{' ||
	    (c == '~' && s->pos + 1 < s->p->line.len && s->p->line.data[s->pos + 1] == '{'))
		return lex_literal(s, v, key, err);
	return lex_atom(s, v, err);
}

/* A word of atom characters (tag, response name), no brackets. */
static size_t word(struct pstate *s, char *out, size_t cap, bool upcase)
{
	size_t start = s->pos;
	while (is_atom_char(peek(s)) && peek(s) != '[' && peek(s) != ']')
		s->pos++;
	size_t n = s->pos - start;
	size_t k = n < cap - 1 ? n : cap - 1;
	for (size_t i = 0; i < k; i++) {
		char ch = (char)s->p->line.data[start + i];
		out[i] = (upcase && ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
	}
	out[k] = '\0';
	return n;
}

static enum imapc_status status_of(const char *w)
{
	if (strcmp(w, "OK") == 0)
		return IMAPC_OK;
	if (strcmp(w, "NO") == 0)
		return IMAPC_NO;
	if (strcmp(w, "BAD") == 0)
		return IMAPC_BAD;
	if (strcmp(w, "PREAUTH") == 0)
		return IMAPC_PREAUTH;
	if (strcmp(w, "BYE") == 0)
		return IMAPC_BYE;
	return IMAPC_NONE;
}

/* resp-text = ["[" resp-text-code "]" SP] text, taken leniently. */
static void parse_resp_text(struct pstate *s, struct imapc_resp *r)
{
	const char *line = (const char *)s->p->line.data;
	size_t len = s->p->line.len;
	skip_sp(s);
	if (peek(s) == '[') {
		const char *close = memchr(line + s->pos, ']', len - s->pos);
		if (close != NULL) {
			size_t cs = s->pos + 1, ce = (size_t)(close - line);
			size_t i = cs;
			while (i < ce && line[i] != ' ')
				i++;
			size_t k = i - cs < sizeof(r->code) - 1 ? i - cs : sizeof(r->code) - 1;
			for (size_t j = 0; j < k; j++) {
				char ch = line[cs + j];
				r->code[j] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
			}
			r->code[k] = '\0';
			if (i < ce)
				r->code_args = mf_xstrndup(line + i + 1, ce - i - 1);
			s->pos = ce + 1;
			skip_sp(s);
		}
	}
	r->text = mf_xstrndup(line + s->pos, len - s->pos);
	s->pos = len;
}

/* If the current line, from pos on, ends with a literal announcement
 * outside quoted strings and [sections] ("{12}", "{12+}", "~{12}"): its
 * size in *n_r. */
static bool line_ends_in_literal(const struct pstate *s, uint64_t *n_r)
{
	const struct mf_buf *l = &s->p->line;
	bool quoted = false;
	int section = 0;
	size_t brace = SIZE_MAX;
	for (size_t i = s->pos; i < l->len; i++) {
		unsigned char c = l->data[i];
		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (section > 0) {
			if (c == '[')
				section++;
			else if (c == ']')
				section--;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '[')
			section++;
		else if (c == '{')
			brace = i;
	}
	if (quoted || section > 0 || brace == SIZE_MAX || l->len < brace + 3 ||
	    l->data[l->len - 1] != '}')
		return false;
	size_t end = l->len - 1;
	if (l->data[end - 1] == '+')
		end--;
	return mf_parse_u64((const char *)l->data + brace + 1, end - brace - 1, n_r);
}

/* Resync after the nesting cap: read and drop the rest of the response.
 * What cannot be skipped cheaply (a literal over max_literal, more than
 * RESP_BUDGET bytes in all) is an error: the caller drops the link. */
static int skip_rest(struct pstate *s, struct mf_error *err)
{
	uint64_t skipped = 0;
	for (;;) {
		uint64_t n;
		skipped += s->p->line.len - s->pos;
		if (!line_ends_in_literal(s, &n))
			break;
		if (n > s->p->max_literal || skipped + n > RESP_BUDGET)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
					    "IMAP protocol error: literal of %llu bytes in a"
					    " response nested too deeply is too large to skip",
					    (unsigned long long)n);
		skipped += n;
		unsigned char sink[16384];
		while (n > 0) {
			size_t got;
			int st = s->p->io->read_some(s->p->io->ctx, sink,
						     n < sizeof(sink) ? (size_t)n : sizeof(sink),
						     &got, err);
			if (st != MF_OK)
				return st;
			n -= got;
		}
		int st = next_line(s, err);
		if (st != MF_OK)
			return st;
	}
	s->pos = s->p->line.len;
	return MF_OK;
}

void imapc_parser_init(struct imapc_parser *p, const struct imapc_io *io)
{
	memset(p, 0, sizeof(*p));
	p->io = io;
	p->max_line = 8u * 1024 * 1024;
	p->max_literal = 16u * 1024 * 1024;
}

void imapc_parser_free(struct imapc_parser *p)
{
	mf_buf_free(&p->line);
}

int imapc_parse_response(struct imapc_parser *p, struct imapc_resp *r, struct mf_error *err)
{
	memset(r, 0, sizeof(*r));
	r->args.type = IMAPC_LIST;
	struct pstate s = { .p = p, .budget = RESP_BUDGET, .resp = r };
	int st = next_line(&s, err);
	if (st != MF_OK)
		return st;
	int c = peek(&s);
	if (c == '+') {
		r->kind = IMAPC_CONTINUE;
		s.pos++;
		if (peek(&s) == ' ')
			s.pos++;
		r->text = mf_xstrndup((const char *)p->line.data + s.pos, p->line.len - s.pos);
		return MF_OK;
	}
	if (c == '*') {
		r->kind = IMAPC_UNTAGGED;
		s.pos++;
	} else {
		r->kind = IMAPC_TAGGED;
		size_t n = word(&s, r->tag, sizeof(r->tag), false);
		if (n == 0 || n >= sizeof(r->tag))
			return syntax(&s, err, "bad tag");
	}
	if (peek(&s) != ' ')
		return syntax(&s, err, "expected a space after the tag");
	skip_sp(&s);
	char w[sizeof(r->name)];
	size_t n = word(&s, w, sizeof(w), true);
	if (n == 0)
		return syntax(&s, err, "expected a response name");
	if (r->kind == IMAPC_UNTAGGED && w[0] >= '0' && w[0] <= '9') {
		uint64_t num;
		if (!mf_parse_u64((const char *)p->line.data + s.pos - n, n, &num) ||
		    num > UINT32_MAX)
			return syntax(&s, err, "bad message number");
		r->has_num = true;
		r->num = (uint32_t)num;
		skip_sp(&s);
		n = word(&s, w, sizeof(w), true);
		if (n == 0)
			return syntax(&s, err, "expected a response name");
	}
	memcpy(r->name, w, sizeof(r->name));
	r->status = status_of(r->name);
	if (r->kind == IMAPC_TAGGED && (r->status == IMAPC_NONE || r->status == IMAPC_PREAUTH))
		return syntax(&s, err, "tagged response is not OK/NO/BAD");
	if (r->status != IMAPC_NONE && !r->has_num) {
		parse_resp_text(&s, r);
		return MF_OK;
	}
	if (r->has_num && strcmp(r->name, "FETCH") != 0)
		return MF_OK; /* EXISTS, RECENT, EXPUNGE: nothing more */
	st = parse_seq(&s, &r->args, false, 0, err);
	if (st != MF_OK && s.too_deep && p->resync) {
		char why[sizeof(err->text)];
		snprintf(why, sizeof(why), "%s", err->text);
		st = skip_rest(&s, err);
		if (st == MF_OK)
			r->damaged = mf_xstrdup(why);
	}
	return st;
}
