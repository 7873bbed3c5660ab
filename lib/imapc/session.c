/* SPDX-License-Identifier: MIT */
/* Opening and closing an IMAP session: connect through lib/net, read the
 * greeting (RFC 3501 §7.1: OK, PREAUTH or BYE; Alibaba's greeting carries
 * no capabilities, so CAPABILITY is asked explicitly), STARTTLS (RFC 3501
 * §6.2.1; capabilities are forgotten and asked again afterwards as
 * required), and authentication: LOGIN, AUTHENTICATE PLAIN with an
 * optional authorization identity (RFC 4616, how Dovecot master users and
 * admins log in as someone else), and XOAUTH2 (Google/Microsoft bearer
 * tokens).  Secrets are wiped after use and never logged. */
#include <config.h>
#include "imapc_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h> /* OPENSSL_cleanse */

/* The parser's reads, and the literal reads a message callback makes
 * through it: a failure names this session (imapc_fail), whoever sees it,
 * and marks the connection broken. */
static int conn_read_line(void *ctx, struct mf_buf *line, size_t max, struct mf_error *err)
{
	struct imapc *c = ctx;
	int st = mf_conn_read_line(c->conn, line, max, err);
	return st == MF_OK ? MF_OK : imapc_fail(c, st, err);
}

static int conn_read_some(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err)
{
	struct imapc *c = ctx;
	int st = mf_conn_read_some(c->conn, buf, cap, n_r, err);
	return st == MF_OK ? MF_OK : imapc_fail(c, st, err);
}

int imapc_capability(struct imapc *c, struct mf_error *err)
{
	struct imapc_result res;
	int st = imapc_run(c, imapc_cmd_new("CAPABILITY"), NULL, NULL, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK)
		return imapc_result_error(c, &res, MF_ERR_ACCOUNT, MF_RETRY_LATER, "CAPABILITY",
					  err);
	return MF_OK;
}

static int greeting(struct imapc *c, bool *preauth_r, struct mf_error *err)
{
	struct imapc_resp r;
	c->idle_waits++; /* nothing to send until the server speaks */
	int st = imapc_parse_response(&c->parser, &r, err);
	if (st != MF_OK) {
		imapc_resp_free(&r);
		return imapc_fail(c, st, err);
	}
	if (r.kind != IMAPC_UNTAGGED ||
	    (r.status != IMAPC_OK && r.status != IMAPC_PREAUTH && r.status != IMAPC_BYE)) {
		imapc_resp_free(&r);
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
			     "not an IMAP server (bad greeting)");
		return imapc_fail(c, MF_ERR_ACCOUNT, err);
	}
	if (r.status == IMAPC_BYE) {
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
			     "server refused the connection: BYE %s", r.text ? r.text : "");
		imapc_resp_free(&r);
		return imapc_fail(c, MF_ERR_ACCOUNT, err);
	}
	*preauth_r = r.status == IMAPC_PREAUTH;
	imapc_note_code(c, &r); /* [CAPABILITY ...], [ALERT] */
	imapc_resp_free(&r);
	return MF_OK;
}

int imapc_connect(const struct imapc_opts *opts, struct imapc **c_r, struct mf_error *err)
{
	*c_r = NULL;
	const char *proto = opts->tls == IMAPC_TLS_IMPLICIT ? "imaps" : "imap";
	struct mf_conn_opts co = {
		.proto = proto,
		.host = opts->host,
		.port = opts->port,
		.tls = opts->tls == IMAPC_TLS_IMPLICIT,
		.insecure = opts->insecure,
		.ca_file = opts->ca_file,
		.connect_timeout_ms = opts->connect_timeout_ms,
		.io_timeout_ms = opts->io_timeout_ms,
	};
	struct imapc *c = mf_xcalloc(1, sizeof(*c));
	c->log = opts->log;
	c->log_ctx = opts->log_ctx;
	c->label = mf_xstrdup(opts->label ? opts->label : "imap");
	int st = mf_conn_open(&co, &c->conn, err);
	if (st != MF_OK) {
		imapc_fail(c, st, err);
		imapc_close(&c);
		return st;
	}
	char *full = mf_xasprintf("%s (%s)", c->label, mf_conn_label(c->conn));
	free(c->label);
	c->label = full;
	c->io.read_line = conn_read_line;
	c->io.read_some = conn_read_some;
	c->io.ctx = c;
	imapc_parser_init(&c->parser, &c->io);

	bool preauth = false;
	st = greeting(c, &preauth, err);
	if (st != MF_OK)
		goto fail;
	if (opts->tls == IMAPC_TLS_STARTTLS) {
		if (preauth) {
			/* RFC 3501 §6.2.1: STARTTLS is invalid after
			 * PREAUTH; refusing beats talking in clear text. */
			mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				     "server sent PREAUTH, STARTTLS impossible");
			st = imapc_fail(c, MF_ERR_ACCOUNT, err);
			goto fail;
		}
		if (c->ncaps == 0 && (st = imapc_capability(c, err)) != MF_OK)
			goto fail;
		if (!imapc_has_cap(c, "STARTTLS")) {
			mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				     "server does not offer STARTTLS (use"
				     " imaps://, or tls=none to allow clear"
				     " text)");
			st = imapc_fail(c, MF_ERR_ACCOUNT, err);
			goto fail;
		}
		struct imapc_result res;
		st = imapc_run(c, imapc_cmd_new("STARTTLS"), NULL, NULL, &res, err);
		if (st != MF_OK)
			goto fail;
		if (res.status != IMAPC_OK) {
			st = imapc_result_error(c, &res, MF_ERR_ACCOUNT, MF_RETRY_LATER, "STARTTLS",
						err);
			goto fail;
		}
		st = mf_conn_start_tls(c->conn, err);
		if (st != MF_OK) {
			imapc_fail(c, st, err);
			goto fail;
		}
		/* Capabilities before TLS may have been forged. */
		for (size_t i = 0; i < c->ncaps; i++)
			free(c->caps[i]);
		c->ncaps = 0;
	}
	if (c->ncaps == 0 && (st = imapc_capability(c, err)) != MF_OK)
		goto fail;
	*c_r = c;
	return MF_OK;
fail:
	c->broken = true;
	imapc_close(&c);
	return st;
}

void imapc_close(struct imapc **cp)
{
	struct imapc *c = *cp;
	if (c == NULL)
		return;
	if (c->conn != NULL && !imapc_is_broken(c)) {
		struct mf_error e;
		mf_conn_set_io_timeout(c->conn, 2000);
		/* LOGOUT's answer is not awaited: nothing depends on it, and
		 * waiting costs every session a round trip at its end. */
		unsigned tag;
		if (imapc_drain(c, &e) == MF_OK &&
		    imapc_send(c, imapc_cmd_new("LOGOUT"), NULL, NULL, NULL, &tag, &e) == MF_OK)
			(void)mf_conn_flush(c->conn, &e);
	}
	imapc_logf(c, MF_LOG_DEBUG, "%s: %lu commands, %lu idle round trips", c->label, c->commands,
		   c->idle_waits);
	imapc_account_io_add(c);
	mf_conn_close(&c->conn);
	imapc_parser_free(&c->parser);
	for (size_t i = 0; i < c->ncaps; i++)
		free(c->caps[i]);
	free(c->caps);
	free(c->q);
	free(c->cont_text);
	free(c->label);
	free(c);
	*cp = NULL;
}

/* ---- authentication ----------------------------------------------- */

static int auth_refused(struct imapc *c, const struct imapc_result *res, const char *how,
			const char *user, struct mf_error *err)
{
	/* RFC 5530: UNAVAILABLE is temporary; everything else (incl.
	 * AUTHENTICATIONFAILED) must not be retried: Alibaba locks an
	 * account for an hour after repeated failures. */
	if (strcmp(res->code, "UNAVAILABLE") == 0) {
		char what[200];
		snprintf(what, sizeof(what), "%s as %s: temporarily refused", how, user);
		return imapc_result_error(c, res, MF_ERR_ACCOUNT, MF_RETRY_LATER, what, err);
	}
	char what[200];
	snprintf(what, sizeof(what), "%s as %s refused", how, user);
	return imapc_result_error(c, res, MF_ERR_AUTH, MF_RETRY_NEVER, what, err);
}

/* After a successful login: capabilities often change (RFC 3501 §6.2.3
 * suggests servers send them in the OK); ask if they did not. */
static int after_login(struct imapc *c, const struct imapc_result *res, struct mf_error *err)
{
	if (strcmp(res->code, "CAPABILITY") == 0)
		return MF_OK;
	return imapc_capability(c, err);
}

int imapc_login(struct imapc *c, const char *user, const char *password, struct mf_error *err)
{
	if (imapc_has_cap(c, "LOGINDISABLED"))
		return imapc_fail(c,
				  mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
					       "server disables LOGIN here"
					       " (try auth=plain, or TLS)"),
				  err);
	struct imapc_cmd *cmd = imapc_cmd_new("LOGIN");
	imapc_cmd_secret(cmd);
	imapc_cmd_astring(cmd, user);
	imapc_cmd_astring(cmd, password ? password : "");
	struct imapc_result res;
	int st = imapc_run(c, cmd, NULL, NULL, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK)
		return auth_refused(c, &res, "LOGIN", user, err);
	return after_login(c, &res, err);
}

/* AUTHENTICATE mech with one initial response (already base64), sent
 * inline with SASL-IR (RFC 4959) or after the first "+".  A further "+"
 * (the JSON error challenge of XOAUTH2 and OAUTHBEARER) is answered with
 * on_error: "" for XOAUTH2, base64 of ^A for OAUTHBEARER (RFC 7628 §3.2.3),
 * after which the server sends the tagged NO. */
static int authenticate_mech(struct imapc *c, const char *mech, const char *b64,
			     const char *on_error, const char *user, struct mf_error *err)
{
	bool ir = imapc_has_cap(c, "SASL-IR");
	struct imapc_cmd *cmd = imapc_cmd_new("AUTHENTICATE");
	imapc_cmd_secret(cmd);
	imapc_cmd_raw(cmd, mech);
	if (ir)
		imapc_cmd_raw(cmd, b64[0] ? b64 : "=");
	unsigned tag;
	int st = imapc_send(c, cmd, NULL, NULL, NULL, &tag, err);
	if (st != MF_OK)
		return st;
	bool sent = ir;
	for (;;) {
		struct imapc_inflight *e = NULL;
		for (size_t i = 0; i < c->qlen; i++)
			if (c->q[i].tag == tag)
				e = &c->q[i];
		if (e != NULL && e->completed)
			break;
		if (c->got_cont) {
			c->got_cont = false;
			const char *reply = sent ? on_error : b64;
			sent = true;
			st = imapc_write(c, reply, strlen(reply), err);
			if (st == MF_OK)
				st = imapc_write(c, "\r\n", 2, err);
			if (st != MF_OK)
				return st;
			continue;
		}
		st = imapc_read_one(c, err);
		if (st != MF_OK)
			return st;
	}
	struct imapc_result res;
	st = imapc_wait(c, tag, &res, err);
	if (st != MF_OK)
		return st;
	if (res.status != IMAPC_OK) {
		char how[64];
		snprintf(how, sizeof(how), "AUTHENTICATE %s", mech);
		return auth_refused(c, &res, how, user, err);
	}
	return after_login(c, &res, err);
}

static int authenticate(struct imapc *c, const char *mech, const char *b64, const char *user,
			struct mf_error *err)
{
	return authenticate_mech(c, mech, b64, "", user, err);
}

int imapc_auth_plain(struct imapc *c, const char *authzid, const char *user, const char *password,
		     struct mf_error *err)
{
	if (!imapc_has_cap(c, "AUTH=PLAIN"))
		imapc_logf(c, MF_LOG_DEBUG,
			   "%s: AUTH=PLAIN not advertised,"
			   " trying anyway",
			   c->label);
	char *b64 = mf_sasl_plain(authzid, user, password);
	char who[300];
	snprintf(who, sizeof(who), "%s%s%s", user, authzid ? " for " : "", authzid ? authzid : "");
	int st = authenticate(c, "PLAIN", b64, who, err);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return st;
}

int imapc_auth_xoauth2(struct imapc *c, const char *user, const char *token, struct mf_error *err)
{
	char *b64 = mf_sasl_xoauth2(user, token);
	int st = authenticate(c, "XOAUTH2", b64, user, err);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return st;
}

int imapc_auth_oauthbearer(struct imapc *c, const char *user, const char *host, uint16_t port,
			   const char *token, struct mf_error *err)
{
	/* RFC 7628 §3.1: gs2 header "n,a=USER," then ^A-separated
	 * key=value pairs, ending in ^A^A.  ',' and '=' in the user are
	 * escaped as =2C and =3D (RFC 5801 saslname). */
	struct mf_buf raw = { 0 };
	mf_buf_append_str(&raw, "n,a=");
	for (const char *p = user; *p != '\0'; p++) {
		if (*p == ',' || *p == '=')
			mf_buf_append_str(&raw, *p == ',' ? "=2C" : "=3D");
		else
			mf_buf_append(&raw, p, 1);
	}
	mf_buf_printf(&raw, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", host,
		      (unsigned)port, token ? token : "");
	char *b64 = mf_base64_encode(raw.data, raw.len);
	OPENSSL_cleanse(raw.data, raw.len);
	mf_buf_free(&raw);
	int st = authenticate_mech(c, "OAUTHBEARER", b64, "AQ==", user, err);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return st;
}
