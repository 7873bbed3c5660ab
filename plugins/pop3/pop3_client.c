/* SPDX-License-Identifier: MIT */
/* The POP3 protocol over lib/net (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 SASL): connect, greeting, capabilities, the STLS upgrade, the
 * three login methods (USER/PASS, APOP, AUTH PLAIN), command queueing for
 * pipelining, and QUIT.  Reply parsing is pop3_parse.c's; what to fetch
 * is pop3_plugin.c's.  Passwords only pass through buffers that are wiped
 * before they are freed, and never reach an error text or the log. */
#include <config.h>
#include "pop3_p.h"

#include <stdlib.h>
#include <string.h>
#include <mailferry/net.h>
#include <openssl/evp.h>

static int conn_fill(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err)
{
	return mf_conn_read_some(ctx, buf, cap, n_r, err);
}

static void buf_wipe_free(struct mf_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	mf_buf_free(b);
}

int pop3_client_send(struct pop3_client *c, const char *cmd, struct mf_error *err)
{
	int st = mf_conn_write_str(c->conn, cmd, err);
	if (st == MF_OK)
		st = mf_conn_write(c->conn, "\r\n", 2, err);
	if (st != MF_OK)
		c->broken = true;
	else
		c->outstanding++;
	return st;
}

/* Read one reply line and classify it (a SASL "+ " continuation too). */
static int read_reply(struct pop3_client *c, enum pop3_reply *kind_r, const char **text_r,
		      struct mf_error *err)
{
	/* Send whatever is queued before waiting for its answer. */
	int st = mf_conn_flush(c->conn, err);
	if (st == MF_OK)
		st = pop3_rd_line(&c->rd, &c->line, POP3_LINE_MAX, err);
	if (st != MF_OK) {
		c->broken = true;
		return st;
	}
	if (c->outstanding > 0)
		c->outstanding--;
	*kind_r = pop3_parse_status((const char *)c->line.data, text_r);
	if (*kind_r == POP3_REPLY_BAD) {
		c->broken = true;
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "%s: unexpected server reply \"%.80s\"", c->label,
				    (const char *)c->line.data);
	}
	return MF_OK;
}

int pop3_client_status(struct pop3_client *c, bool *ok_r, const char **text_r, struct mf_error *err)
{
	enum pop3_reply kind;
	const char *text;
	int st = read_reply(c, &kind, &text, err);
	if (st != MF_OK) {
		/* The link's errors (a timeout: a server that stops answering
		 * after PASS) name only "pop3 host:port": say whose session. */
		if (strncmp(err->text, c->label, strlen(c->label)) != 0) {
			char t[sizeof(err->text)];
			snprintf(t, sizeof(t), "%.150s: %.350s", c->label, err->text);
			memcpy(err->text, t, sizeof(t));
		}
		return st;
	}
	if (kind == POP3_REPLY_CONT) {
		c->broken = true;
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
				    "%s: unexpected continuation \"%.80s\"", c->label,
				    (const char *)c->line.data);
	}
	*ok_r = kind == POP3_REPLY_OK;
	if (text_r != NULL)
		*text_r = text;
	return MF_OK;
}

/* One command, one +OK expected; -ERR becomes an error of class st. */
static int simple_cmd(struct pop3_client *c, const char *cmd, const char *what,
		      enum mf_status fail_st, struct mf_error *err)
{
	bool ok;
	const char *text;
	int st = pop3_client_send(c, cmd, err);
	if (st == MF_OK)
		st = pop3_client_status(c, &ok, &text, err);
	if (st == MF_OK && !ok)
		st = mf_error_set(err, fail_st, MF_RETRY_NEVER, "%s: %s refused: %s", c->label,
				  what, text);
	return st;
}

static int read_capa(struct pop3_client *c, struct mf_error *err)
{
	bool ok;
	memset(&c->caps, 0, sizeof(c->caps));
	int st = pop3_client_send(c, "CAPA", err);
	if (st == MF_OK)
		st = pop3_client_status(c, &ok, NULL, err);
	if (st != MF_OK || !ok)
		return st; /* no CAPA (RFC 1939-only server): caps unknown */
	c->caps.known = true;
	for (;;) {
		st = pop3_rd_line(&c->rd, &c->line, POP3_LINE_MAX, err);
		if (st != MF_OK) {
			c->broken = true;
			return st;
		}
		if (pop3_ml_line(&c->line))
			return MF_OK;
		pop3_parse_capa_line(&c->caps, (const char *)c->line.data);
	}
}

int pop3_client_open(struct pop3_client *c, const struct mf_host *host,
		     const struct mf_conn_opts *opts, bool starttls, const char *label,
		     struct mf_error *err)
{
	bool ok;
	const char *text;
	memset(c, 0, sizeof(*c));
	c->host = host;
	snprintf(c->label, sizeof(c->label), "%s", label);
	int st = mf_conn_open(opts, &c->conn, err);
	if (st != MF_OK)
		return st;
	pop3_rd_init(&c->rd, conn_fill, c->conn, c->label);
	st = pop3_client_status(c, &ok, &text, err);
	if (st != MF_OK)
		return st;
	if (!ok)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				    "%s: server refused the connection: %s", c->label, text);
	c->apop_ts = pop3_apop_timestamp(text);
	st = read_capa(c, err);
	if (st != MF_OK || !starttls)
		return st;
	if (c->caps.known && !c->caps.stls)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: server does not offer STLS; use "
				    "pop3s:// or, on a trusted network only, "
				    "?tls=none",
				    c->label);
	st = simple_cmd(c, "STLS", "STLS", MF_ERR_ACCOUNT, err);
	if (st != MF_OK)
		return st;
	/* Bytes pipelined by the server before the handshake would be
	 * read as if they came over TLS (CVE-2011-0411): refuse. */
	if (pop3_rd_buffered(&c->rd) != 0) {
		c->broken = true;
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: server sent data after its STLS "
				    "reply, before TLS started",
				    c->label);
	}
	st = mf_conn_start_tls(c->conn, err);
	if (st != MF_OK)
		return st;
	/* RFC 2595 §4: capabilities may differ after STLS; ask again.
	 * The APOP timestamp stays the greeting's. */
	return read_capa(c, err);
}

static int login_fail(struct pop3_client *c, const struct pop3_login *login, const char *how,
		      const char *text, struct mf_error *err)
{
	/* RFC 3206: [IN-USE] (maildrop locked) and [SYS/TEMP] are
	 * temporary; anything else means the credentials were refused. */
	if (pop3_err_is_temporary(text))
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				    "%s: %s login of %s failed for now: %s", c->label, how,
				    login->user, text);
	return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "%s: %s login of %s refused: %s",
			    c->label, how, login->user, text);
}

/* Send a command holding a secret: the buffer is wiped afterwards. */
static int secret_cmd(struct pop3_client *c, struct mf_buf *cmd, bool *ok_r, const char **text_r,
		      struct mf_error *err)
{
	int st = pop3_client_send(c, (const char *)cmd->data, err);
	buf_wipe_free(cmd);
	if (st == MF_OK)
		st = pop3_client_status(c, ok_r, text_r, err);
	return st;
}

static int login_user(struct pop3_client *c, const struct pop3_login *login, struct mf_error *err)
{
	struct mf_buf cmd = { 0 };
	bool ok;
	const char *text;
	mf_buf_printf(&cmd, "USER %s", login->user);
	int st = pop3_client_send(c, (const char *)cmd.data, err);
	mf_buf_free(&cmd);
	if (st == MF_OK)
		st = pop3_client_status(c, &ok, &text, err);
	if (st != MF_OK)
		return st;
	if (!ok)
		return login_fail(c, login, "USER", text, err);
	mf_buf_append_str(&cmd, "PASS ");
	mf_buf_append_str(&cmd, login->password);
	st = secret_cmd(c, &cmd, &ok, &text, err);
	if (st == MF_OK && !ok)
		st = login_fail(c, login, "USER/PASS", text, err);
	return st;
}

bool pop3_apop_digest(const char *timestamp, const char *password, char hex_r[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct mf_buf in = { 0 };
	/* RFC 1939 §7: MD5 of timestamp + shared secret, in hex. */
	mf_buf_append_str(&in, timestamp);
	mf_buf_append_str(&in, password);
	int r = EVP_Digest(in.data, in.len, md, &mdlen, EVP_md5(), NULL);
	buf_wipe_free(&in);
	if (r != 1 || mdlen != 16)
		return false;
	mf_hex(md, mdlen, hex_r);
	explicit_bzero(md, sizeof(md));
	return true;
}

static int login_apop(struct pop3_client *c, const struct pop3_login *login, struct mf_error *err)
{
	char hex[33];
	struct mf_buf cmd = { 0 };
	bool ok;
	const char *text;

	if (c->apop_ts == NULL)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: auth=apop asked, but the greeting "
				    "has no APOP timestamp",
				    c->label);
	if (!pop3_apop_digest(c->apop_ts, login->password, hex))
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: APOP needs MD5, which this OpenSSL "
				    "does not provide",
				    c->label);
	mf_buf_printf(&cmd, "APOP %s %s", login->user, hex);
	explicit_bzero(hex, sizeof(hex));
	int st = secret_cmd(c, &cmd, &ok, &text, err);
	if (st == MF_OK && !ok)
		st = login_fail(c, login, "APOP", text, err);
	return st;
}

/* AUTH mech in two steps (RFC 5034): the command, the server's "+ ",
 * then the base64 response b64 (wiped here).  An error challenge
 * ("+ " with JSON, as XOAUTH2 sends before refusing) is answered with an
 * empty line, after which the server sends -ERR. */
static int sasl_two_step(struct pop3_client *c, const struct pop3_login *login, const char *mech,
			 char *b64, struct mf_error *err)
{
	struct mf_buf cmd = { 0 };
	const char *text;
	char how[40];
	snprintf(how, sizeof(how), "AUTH %s", mech);
	/* Two steps rather than an initial response: RFC 5034 allows both,
	 * and every server handles the empty first step. */
	enum pop3_reply kind = POP3_REPLY_BAD;
	int st = pop3_client_send(c, how, err);
	if (st == MF_OK)
		st = read_reply(c, &kind, &text, err);
	if (st == MF_OK && kind != POP3_REPLY_CONT)
		st = kind == POP3_REPLY_ERR
			     ? login_fail(c, login, how, text, err)
			     : mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
					    "%s: %s: expected \"+ \","
					    " got \"%.80s\"",
					    c->label, how, (const char *)c->line.data);
	if (st == MF_OK) {
		mf_buf_append_str(&cmd, b64);
		st = pop3_client_send(c, (const char *)cmd.data, err);
		buf_wipe_free(&cmd);
	}
	explicit_bzero(b64, strlen(b64));
	free(b64);
	if (st == MF_OK)
		st = read_reply(c, &kind, &text, err);
	if (st == MF_OK && kind == POP3_REPLY_CONT) {
		st = pop3_client_send(c, "", err);
		if (st == MF_OK)
			st = read_reply(c, &kind, &text, err);
	}
	if (st == MF_OK && kind != POP3_REPLY_OK)
		st = login_fail(c, login, how, text, err);
	return st;
}

static int login_plain(struct pop3_client *c, const struct pop3_login *login, struct mf_error *err)
{
	/* The authzid is the mailbox to open when logging in as a master
	 * user. */
	char *b64 = mf_sasl_plain(login->authzid, login->user, login->password);
	return sasl_two_step(c, login, "PLAIN", b64, err);
}

/* Google's and Microsoft's XOAUTH2: "user=" USER ^A "auth=Bearer " TOKEN
 * ^A ^A, the token in login->password. */
static int login_xoauth2(struct pop3_client *c, const struct pop3_login *login,
			 struct mf_error *err)
{
	char *b64 = mf_sasl_xoauth2(login->user, login->password);
	return sasl_two_step(c, login, "XOAUTH2", b64, err);
}

/* RFC 6856: a server offering UTF8 may change a message with raw UTF-8
 * (8-bit) headers for a client that did not send UTF8: Courier's pop3d
 * serves it wrapped in a new "Cannot display Unicode content" message
 * with the original as a message/global attachment.  A migration wants
 * the bytes as stored, so UTF8 is sent, in the AUTHORIZATION state, to
 * every server that offers it; a refusal is only noted (the copies may
 * then differ, which verify reports). */
static int enable_utf8(struct pop3_client *c, struct mf_error *err)
{
	bool ok;
	const char *text;
	int st = pop3_client_send(c, "UTF8", err);
	if (st == MF_OK)
		st = pop3_client_status(c, &ok, &text, err);
	if (st == MF_OK && !ok && c->host != NULL)
		c->host->log(c->host->host_ctx, MF_LOG_WARN, "%s: UTF8 refused: %s", c->label,
			     text);
	return st;
}

int pop3_client_login(struct pop3_client *c, const struct pop3_login *login, struct mf_error *err)
{
	enum pop3_auth m = login->method;
	if (login->password == NULL)
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: no password given for %s (use "
				    "--source-password-file or "
				    "MAILFERRY_SOURCE_PASSWORD)",
				    c->label, login->user);
	if (c->caps.utf8) {
		int st = enable_utf8(c, err);
		if (st != MF_OK)
			return st;
	}
	if (m == POP3_AUTH_DEFAULT)
		m = c->caps.sasl_plain || login->authzid != NULL ? POP3_AUTH_PLAIN : POP3_AUTH_USER;
	switch (m) {
	case POP3_AUTH_APOP: return login_apop(c, login, err);
	case POP3_AUTH_PLAIN: return login_plain(c, login, err);
	case POP3_AUTH_XOAUTH2: return login_xoauth2(c, login, err);
	default:
		if (login->authzid != NULL)
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: authzid= needs auth=plain", c->label);
		return login_user(c, login, err);
	}
}

void pop3_client_close(struct pop3_client *c)
{
	struct mf_error err;
	bool ok;
	/* No DELE is ever sent, so QUIT's UPDATE state (RFC 1939 §6)
	 * removes nothing; it only ends the session politely.  With
	 * replies still in flight (a callback stopped a pipelined fetch)
	 * we just hang up: the server then skips UPDATE altogether. */
	if (c->conn != NULL && !c->broken && c->outstanding == 0 &&
	    pop3_client_send(c, "QUIT", &err) == MF_OK) {
		mf_conn_set_io_timeout(c->conn, 5000);
		(void)pop3_client_status(c, &ok, NULL, &err);
	}
	mf_conn_close(&c->conn);
	free(c->apop_ts);
	c->apop_ts = NULL;
	mf_buf_free(&c->line);
}
