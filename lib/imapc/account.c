/* SPDX-License-Identifier: MIT */
/* From a struct mf_account plus the run-wide settings to a logged-in IMAP
 * session, shared by plugins/imap and sinks/alimail: TLS mode and port
 * from the scheme and the "tls" option, --insecure / --ca-file /
 * --timeout (also per account as URI options), the auth method ("auth"
 * option: login, plain, xoauth2, oauthbearer; PLAIN when an authorization
 * identity is given), and reconnecting later with a private copy of the
 * password that is wiped when the account is freed.  With xoauth2 or
 * oauthbearer and no password, the bearer token comes from the core's
 * OAuth service (ABI 1.3) at every connect: it caches and renews it, and
 * is asked once more, for a fresh one, when the server refuses it.
 * After login COMPRESS=DEFLATE (RFC 4978) is switched on whenever the
 * server offers it, unless the URI says compress=no. */
#include <config.h>
#include "imapc_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

enum auth_method { AUTH_DEFAULT, AUTH_LOGIN, AUTH_PLAIN, AUTH_XOAUTH2, AUTH_OAUTHBEARER };

struct imapc_account {
	const struct mf_host *host;
	char *label, *hostname, *ca_file, *user, *password, *authzid;
	uint16_t port;
	enum imapc_tls tls;
	bool insecure;
	unsigned timeout_ms;
	enum auth_method auth;
	bool compress;                  /* COMPRESS=DEFLATE when offered (compress=no: never) */
	struct mf_conn_stats io_totals; /* of the connections closed so far */
	bool io_compressed;
	/* for host->oauth_token after open() returned: copies */
	char *acct_id;
	char **options;
	struct mf_account oauth_acct;
};

static void host_log(void *ctx, enum mf_log_level lvl, const char *msg)
{
	const struct mf_host *host = ctx;
	if (host != NULL && host->log != NULL)
		host->log(host->host_ctx, lvl, "%s", msg);
}

static const char *setting(const struct mf_host *host, const struct mf_account *acct,
			   const char *key)
{
	const char *v = mf_account_option(acct, key);
	if (v != NULL)
		return v;
	if (host != NULL && host->setting != NULL)
		return host->setting(host->host_ctx, key);
	return NULL;
}

static bool truthy(const char *v)
{
	return v != NULL &&
	       (v[0] == '\0' || strcmp(v, "1") == 0 || mf_ascii_strcasecmp(v, "yes") == 0 ||
		mf_ascii_strcasecmp(v, "true") == 0);
}

/* What the OAuth service needs at a later connect: the account's id, user
 * and options (per-row oauth-* settings). */
static void keep_oauth_account(struct imapc_account *a, const struct mf_account *acct,
			       const char *id)
{
	size_t n = 0;
	while (acct->options != NULL && acct->options[n] != NULL)
		n++;
	a->options = mf_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		a->options[i] = mf_xstrdup(acct->options[i]);
	a->acct_id = mf_xstrdup(id);
	a->oauth_acct = (struct mf_account){
		.id = a->acct_id,
		.scheme = acct->scheme,
		.user = a->user,
		.host = a->hostname,
		.port = a->port,
		.path = "",
		.options = (const char *const *)a->options,
	};
}

/* The resource a token is for, by server: Exchange Online's and Gmail's
 * IMAP/POP3; NULL elsewhere (the operator's --oauth-scope then). */
const char *imapc_oauth_scope(const char *hostname)
{
	static const char *const ms[] = { "outlook.office365.com", "outlook.office.com",
					  ".outlook.com", "partner.outlook.cn", NULL };
	size_t hl = strlen(hostname);
	for (size_t i = 0; ms[i] != NULL; i++) {
		size_t l = strlen(ms[i]);
		if (mf_ascii_strcasecmp(hostname, ms[i]) == 0 ||
		    (ms[i][0] == '.' && hl > l &&
		     mf_ascii_strcasecmp(hostname + hl - l, ms[i]) == 0))
			return strstr(ms[i], ".cn") != NULL
				       ? "https://partner.outlook.cn/.default"
				       : "https://outlook.office365.com/.default";
	}
	if (mf_ascii_strcasecmp(hostname, "imap.gmail.com") == 0 ||
	    mf_ascii_strcasecmp(hostname, "pop.gmail.com") == 0)
		return "https://mail.google.com/";
	return NULL;
}

int imapc_account_new(const struct mf_host *host, const struct mf_account *acct, const char *plugin,
		      const char *hostname, uint16_t port, bool implicit_tls,
		      struct imapc_account **a_r, struct mf_error *err)
{
	*a_r = NULL;
	const char *id = acct->id ? acct->id : (acct->user ? acct->user : "?");
	if (hostname == NULL || hostname[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: no server host in the URI", plugin, id);
	if (acct->user == NULL || acct->user[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: no user name in the URI", plugin, id);
	struct imapc_account *a = mf_xcalloc(1, sizeof(*a));
	a->host = host;
	a->label = mf_xasprintf("%s: %s", plugin, id);
	a->hostname = mf_xstrdup(hostname);
	a->user = mf_xstrdup(acct->user);
	a->password = acct->password ? mf_xstrdup(acct->password) : NULL;
	const char *authzid = acct->authzid ? acct->authzid : mf_account_option(acct, "authzid");
	a->authzid = authzid && authzid[0] ? mf_xstrdup(authzid) : NULL;
	const char *ca = setting(host, acct, "ca-file");
	a->ca_file = ca && ca[0] ? mf_xstrdup(ca) : NULL;
	a->insecure = truthy(setting(host, acct, "insecure"));
	const char *to = setting(host, acct, "timeout");
	uint64_t secs = 0;
	if (to != NULL && to[0] &&
	    (!mf_parse_u64(to, strlen(to), &secs) || secs == 0 || secs > 86400)) {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: bad timeout \"%s\" (seconds)", plugin, id, to);
	}
	a->timeout_ms = (unsigned)secs * 1000;

	const char *tls = mf_account_option(acct, "tls");
	a->tls = implicit_tls ? IMAPC_TLS_IMPLICIT : IMAPC_TLS_STARTTLS;
	if (tls != NULL) {
		if (strcmp(tls, "none") == 0)
			a->tls = IMAPC_TLS_NONE;
		else if (strcmp(tls, "starttls") == 0)
			a->tls = IMAPC_TLS_STARTTLS;
		else if (strcmp(tls, "implicit") == 0 || strcmp(tls, "ssl") == 0)
			a->tls = IMAPC_TLS_IMPLICIT;
		else {
			imapc_account_free(&a);
			return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
					    "%s: %s: tls=%s: expected none,"
					    " starttls or implicit",
					    plugin, id, tls);
		}
	}
	a->port = port ? port : (a->tls == IMAPC_TLS_IMPLICIT ? 993 : 143);

	const char *comp = mf_account_option(acct, "compress");
	a->compress = true;
	if (comp != NULL && (mf_ascii_strcasecmp(comp, "no") == 0 || strcmp(comp, "0") == 0 ||
			     mf_ascii_strcasecmp(comp, "false") == 0))
		a->compress = false;
	else if (comp != NULL && !truthy(comp)) {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: compress=%s: expected yes or no", plugin, id, comp);
	}

	const char *auth = mf_account_option(acct, "auth");
	if (auth == NULL)
		a->auth = a->authzid ? AUTH_PLAIN : AUTH_DEFAULT;
	else if (mf_ascii_strcasecmp(auth, "login") == 0)
		a->auth = AUTH_LOGIN;
	else if (mf_ascii_strcasecmp(auth, "plain") == 0)
		a->auth = AUTH_PLAIN;
	else if (mf_ascii_strcasecmp(auth, "xoauth2") == 0)
		a->auth = AUTH_XOAUTH2;
	else if (mf_ascii_strcasecmp(auth, "oauthbearer") == 0)
		a->auth = AUTH_OAUTHBEARER;
	else {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: auth=%s: expected login, plain,"
				    " xoauth2 or oauthbearer",
				    plugin, id, auth);
	}
	keep_oauth_account(a, acct, id);
	if (a->authzid != NULL && a->auth != AUTH_PLAIN) {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: authzid needs auth=plain", plugin, id);
	}
	if (a->insecure)
		host_log((void *)host, MF_LOG_WARN,
			 "WARNING: TLS certificate and host name checks are"
			 " OFF (--insecure) for this IMAP account: anyone on"
			 " the path can read the password and the mail");
	if (a->tls == IMAPC_TLS_NONE) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "WARNING: %s: tls=none: password and mail cross the"
			 " network in CLEAR TEXT",
			 a->label);
		host_log((void *)host, MF_LOG_WARN, msg);
	}
	*a_r = a;
	return MF_OK;
}

const char *imapc_account_label(const struct imapc_account *a)
{
	return a->label;
}

static bool is_oauth(enum auth_method m)
{
	return m == AUTH_XOAUTH2 || m == AUTH_OAUTHBEARER;
}

/* A bearer token from the core's OAuth service (ABI 1.3). */
static int service_token(struct imapc_account *a, bool refresh, char **token_r,
			 struct mf_error *err)
{
	const struct mf_host *h = a->host;
	if (h == NULL || h->abi_minor < 3 || h->oauth_token == NULL ||
	    h->struct_size < offsetof(struct mf_host, oauth_token) + sizeof(h->oauth_token))
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: no password or token given, and this mailferry has no "
				    "OAuth token service",
				    a->label);
	struct mf_oauth_request req = {
		.struct_size = sizeof(req),
		.scope = imapc_oauth_scope(a->hostname),
		.subject = a->user,
		.refresh = refresh,
	};
	return h->oauth_token(h->host_ctx, &a->oauth_acct, &req, token_r, err);
}

static void wipe(char **s)
{
	if (*s != NULL) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

/* One connection and login; *refused_r when the server said no to the
 * credentials (not to the connection). */
static int connect_once(struct imapc_account *a, const char *secret, struct imapc **c_r,
			bool *refused_r, struct mf_error *err)
{
	*c_r = NULL;
	*refused_r = false;
	struct imapc_opts o = {
		.label = a->label,
		.host = a->hostname,
		.port = a->port,
		.tls = a->tls,
		.insecure = a->insecure,
		.ca_file = a->ca_file,
		.connect_timeout_ms = a->timeout_ms,
		.io_timeout_ms = a->timeout_ms,
		.log = host_log,
		.log_ctx = (void *)a->host,
	};
	struct imapc *c;
	int st = imapc_connect(&o, &c, err);
	if (st != MF_OK)
		return st;
	enum auth_method m = a->auth;
	if (m == AUTH_DEFAULT)
		m = imapc_has_cap(c, "LOGINDISABLED") && imapc_has_cap(c, "AUTH=PLAIN")
			    ? AUTH_PLAIN
			    : AUTH_LOGIN;
	switch (m) {
	case AUTH_PLAIN: st = imapc_auth_plain(c, a->authzid, a->user, secret, err); break;
	case AUTH_XOAUTH2: st = imapc_auth_xoauth2(c, a->user, secret, err); break;
	case AUTH_OAUTHBEARER:
		st = imapc_auth_oauthbearer(c, a->user, a->hostname, a->port, secret, err);
		break;
	default: st = imapc_login(c, a->user, secret, err); break;
	}
	if (st != MF_OK) {
		*refused_r = st == MF_ERR_AUTH && !imapc_is_broken(c);
		imapc_close(&c);
		return st;
	}
	c->io_totals = &a->io_totals;
	c->io_compressed = &a->io_compressed;
	if (a->compress && imapc_has_cap(c, "COMPRESS=DEFLATE") &&
	    (st = imapc_compress(c, err)) != MF_OK) {
		imapc_close(&c);
		return st;
	}
	*c_r = c;
	return MF_OK;
}

int imapc_account_connect(struct imapc_account *a, struct imapc **c_r, struct mf_error *err)
{
	*c_r = NULL;
	bool from_service = a->password == NULL && is_oauth(a->auth);
	if (a->password == NULL && !from_service)
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: no password given (password file or"
				    " MAILFERRY_*_PASSWORD)",
				    a->label);
	char *token = NULL;
	int st = MF_OK;
	if (from_service && (st = service_token(a, false, &token, err)) != MF_OK)
		return st;
	bool refused;
	st = connect_once(a, from_service ? token : a->password, c_r, &refused, err);
	wipe(&token);
	if (st == MF_OK || !from_service || !refused)
		return st;
	/* The server refused the token (expired early, revoked): one fresh
	 * one, then the refusal stands. */
	host_log((void *)a->host, MF_LOG_INFO, "token refused by the server: asking for a new one");
	if ((st = service_token(a, true, &token, err)) != MF_OK)
		return st;
	st = connect_once(a, token, c_r, &refused, err);
	wipe(&token);
	return st;
}

void imapc_account_io_stats(const struct imapc_account *a, const struct imapc *live,
			    struct mf_io_stats *st)
{
	struct mf_conn_stats s = a->io_totals, l;
	bool compressed = a->io_compressed;
	if (live != NULL && live->io_totals == &a->io_totals) {
		imapc_io_stats(live, &l);
		s.plain_in += l.plain_in;
		s.plain_out += l.plain_out;
		s.wire_in += l.wire_in;
		s.wire_out += l.wire_out;
		compressed = compressed || imapc_is_compressed(live);
	}
	st->plain_in = s.plain_in;
	st->plain_out = s.plain_out;
	st->wire_in = s.wire_in;
	st->wire_out = s.wire_out;
	st->compressed = compressed;
}

void imapc_account_free(struct imapc_account **ap)
{
	struct imapc_account *a = *ap;
	if (a == NULL)
		return;
	if (a->password != NULL) {
		OPENSSL_cleanse(a->password, strlen(a->password));
		free(a->password);
	}
	free(a->label);
	free(a->hostname);
	free(a->ca_file);
	free(a->user);
	free(a->authzid);
	for (size_t i = 0; a->options != NULL && a->options[i] != NULL; i++)
		free(a->options[i]);
	free(a->options);
	free(a->acct_id);
	free(a);
	*ap = NULL;
}
