/* SPDX-License-Identifier: MIT */
/* Private interfaces of the POP3 source plugin.  Three layers:
 *   pop3_parse.c   pure parsing of server replies: a buffered reader over
 *                  any byte source (a connection, or memory in tests and
 *                  the fuzzer), status lines, the RFC 1939 §3 multi-line
 *                  decoder (dot-unstuffing), CAPA, UIDL, LIST, STAT,
 *                  APOP timestamps;
 *   pop3_client.c  the protocol over lib/net: greeting, CAPA, STLS, the
 *                  three login methods, and commands with pipelining;
 *   pop3_spool.c   the bounded spool a RETR is decoded into;
 *   pop3_plugin.c  the mf_source_ops (open, list_folders, fetch, close).
 * Nothing here is global or mutable; one session per thread at a time. */
#ifndef MAILFERRY_POP3_P_H
#define MAILFERRY_POP3_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>
#include <mailferry/spool.h>
#include <mailferry/util.h>

struct mf_conn;

/* ------------------------------------------------------------------ */
/* Reader: bytes from fill(), with our own buffer so a multi-line body
 * never consumes the bytes of the next pipelined reply.                */

typedef int pop3_fill_fn(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err);

#define POP3_RD_BUF (64 * 1024)
#define POP3_LINE_MAX 8192 /* RFC 2449 §4: 512 octets; be generous */

struct pop3_rd {
	pop3_fill_fn *fill;
	void *fill_ctx;
	const char *label; /* "pop3: alice@host" for error texts */
	unsigned char buf[POP3_RD_BUF];
	size_t pos, len;
};

void pop3_rd_init(struct pop3_rd *rd, pop3_fill_fn *fill, void *ctx, const char *label);
static inline size_t pop3_rd_buffered(const struct pop3_rd *rd)
{
	return rd->len - rd->pos;
}
/* One line without its CRLF (or bare LF) into line (NUL-terminated).
 * Longer than max: MF_ERR_ACCOUNT. */
int pop3_rd_line(struct pop3_rd *rd, struct mf_buf *line, size_t max, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Status lines                                                         */

enum pop3_reply { POP3_REPLY_OK, POP3_REPLY_ERR, POP3_REPLY_CONT, POP3_REPLY_BAD };

/* Classify "+OK text", "-ERR text", "+ base64" (SASL continuation, RFC
 * 5034).  *text_r points after the status word and its space. */
enum pop3_reply pop3_parse_status(const char *line, const char **text_r);

/* RFC 3206 response codes that mean "try again later", not "wrong
 * password": [IN-USE] and [SYS/TEMP]. */
bool pop3_err_is_temporary(const char *text);

/* ------------------------------------------------------------------ */
/* Multi-line bodies (RFC 1939 §3): strip the byte-stuffed leading dot,
 * stop at the terminating ".CRLF", keep every other byte (CRLF, bare CR,
 * NUL) as sent.  A terminator with a bare LF (".\n" after "\n") is
 * accepted too: some servers speak LF.                                   */

enum pop3_ml_state { POP3_ML_BOL, POP3_ML_MID, POP3_ML_DOT, POP3_ML_DOTCR, POP3_ML_DONE };

struct pop3_ml {
	enum pop3_ml_state state;
	uint64_t out_bytes; /* decoded bytes so far */
};

static inline void pop3_ml_init(struct pop3_ml *ml)
{
	ml->state = POP3_ML_BOL;
	ml->out_bytes = 0;
}

/* Decode in[0..len) into out (room for len + 1 bytes: a held-back CR may
 * come out late).  Returns the input bytes consumed: all of them unless
 * the terminator was reached (state DONE), then the bytes up to and
 * including it. */
size_t pop3_ml_decode(struct pop3_ml *ml, const unsigned char *in, size_t len, unsigned char *out,
		      size_t *out_len_r);

/* Read the next decoded piece of a multi-line body from rd (at most cap
 * bytes, cap >= 2); *n_r = 0 with *done_r = true at the end.  A body
 * that stops early (EOF) is an error from fill(). */
int pop3_rd_body(struct pop3_rd *rd, struct pop3_ml *ml, unsigned char *out, size_t cap,
		 size_t *n_r, bool *done_r, struct mf_error *err);

/* For line-oriented listings (CAPA, UIDL, LIST) read with pop3_rd_line:
 * true if line is the terminator "."; else strips one stuffed dot. */
bool pop3_ml_line(struct mf_buf *line);

/* ------------------------------------------------------------------ */
/* Listings                                                             */

/* CAPA (RFC 2449) lines of interest. */
struct pop3_caps {
	bool known; /* CAPA answered +OK */
	bool uidl, top, user, stls, pipelining, sasl_plain;
	bool utf8; /* RFC 6856 UTF8: messages unaltered once UTF8 is sent */
};
void pop3_parse_capa_line(struct pop3_caps *caps, const char *line);

/* "+OK 3 4711" text part "3 4711". */
bool pop3_parse_stat(const char *text, uint64_t *count_r, uint64_t *size_r);
/* "3 4711" (LIST line or single LIST reply text). */
bool pop3_parse_list_line(const char *line, uint64_t *num_r, uint64_t *size_r);
/* "3 whqtswO00WBw418f9t5JxYwZ": the id is 1..POP3_UID_MAX bytes of
 * anything but SP, HT, CR, LF and NUL (RFC 1939 says 0x21..0x7E; servers
 * send other bytes).  *id_r is malloc'd and printable: bytes outside
 * 0x21..0x7E and '%' itself are %XX-encoded, so distinct ids stay
 * distinct.  Trailing junk after the id is refused. */
#define POP3_UID_MAX 512
bool pop3_parse_uidl_line(const char *line, size_t len, uint64_t *num_r, char **id_r);

/* The APOP timestamp "<...>" of a greeting (RFC 1939 §7), malloc'd with
 * its brackets, or NULL. */
char *pop3_apop_timestamp(const char *greeting);

/* ------------------------------------------------------------------ */
/* Spool: one decoded message in a bounded lib spool (<mailferry/spool.h>:
 * memory up to a limit, then an unlinked temp file), plus the first
 * POP3_HEAD_MAX bytes for header parsing and the digest of it all.  */

#define POP3_HEAD_MAX (256 * 1024)

struct pop3_spool {
	struct mf_spool store; /* read back with mf_spool_read / _message_read */
	struct mf_buf head;    /* first POP3_HEAD_MAX bytes */
	struct mf_sha256 *sha; /* digest of the whole message */
	unsigned char digest[32];
};

void pop3_spool_init(struct pop3_spool *sp, size_t mem_limit, const char *tmpdir);
void pop3_spool_reset(struct pop3_spool *sp);
int pop3_spool_add(struct pop3_spool *sp, const unsigned char *p, size_t n, struct mf_error *err);
void pop3_spool_finish(struct pop3_spool *sp); /* fills digest, rewinds */
void pop3_spool_free(struct pop3_spool *sp);

/* Internal date from a header block (RFC 5322): the newest Received:
 * field's date (after its last ';'), else Date:; false if neither. */
bool pop3_header_date(const unsigned char *hdr, size_t len, int64_t *epoch_r, int32_t *tz_r);

/* ------------------------------------------------------------------ */
/* Client session (pop3_client.c)                                       */

enum pop3_auth {
	POP3_AUTH_DEFAULT,
	POP3_AUTH_USER,
	POP3_AUTH_APOP,
	POP3_AUTH_PLAIN,
	POP3_AUTH_XOAUTH2
};

struct pop3_client {
	const struct mf_host *host;
	struct mf_conn *conn;
	struct pop3_rd rd;
	char label[300]; /* "pop3: alice@mail.example.com" */
	char *apop_ts;   /* greeting timestamp or NULL */
	struct pop3_caps caps;
	unsigned outstanding; /* commands sent, replies not yet read */
	bool broken;          /* reply stream out of step: never reuse */
	struct mf_buf line;
};

struct pop3_login {
	const char *user, *password, *authzid;
	enum pop3_auth method;
};

struct mf_conn_opts;
/* Connect, read the greeting, CAPA, STLS (if starttls), CAPA again. */
int pop3_client_open(struct pop3_client *c, const struct mf_host *host,
		     const struct mf_conn_opts *opts, bool starttls, const char *label,
		     struct mf_error *err);
/* APOP response (RFC 1939 §7): hex MD5 of timestamp + password; false
 * if this OpenSSL has no MD5 (FIPS mode). */
bool pop3_apop_digest(const char *timestamp, const char *password, char hex_r[33]);
int pop3_client_login(struct pop3_client *c, const struct pop3_login *login, struct mf_error *err);
/* Queue a command (CRLF appended); sent at the next read. */
int pop3_client_send(struct pop3_client *c, const char *cmd, struct mf_error *err);
/* Read a status line: +OK returns MF_OK with *ok_r true; -ERR gives *ok_r
 * false and the text in c->line (from *text_r). */
int pop3_client_status(struct pop3_client *c, bool *ok_r, const char **text_r,
		       struct mf_error *err);
/* Send QUIT and read its reply if the stream is in step; then close. */
void pop3_client_close(struct pop3_client *c);

#endif
