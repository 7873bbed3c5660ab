/* SPDX-License-Identifier: MIT */
/* From a struct mf_account plus the run-wide settings to a logged-in IMAP
 * session, shared by plugins/imap and sinks/alimail: TLS mode and port
 * from the scheme and the "tls" option, --insecure / --ca-file /
 * --timeout (also per account as URI options), the auth method ("auth"
 * option: login, plain, xoauth2; PLAIN when an authorization identity is
 * given), and reconnecting later with a private copy of the password that
 * is wiped when the account is freed. */
#include <config.h>
#include "imapc_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

enum auth_method { AUTH_DEFAULT, AUTH_LOGIN, AUTH_PLAIN, AUTH_XOAUTH2 };

struct imapc_account {
	const struct mf_host *host;
	char *label, *hostname, *ca_file, *user, *password, *authzid;
	uint16_t port;
	enum imapc_tls tls;
	bool insecure;
	unsigned timeout_ms;
	enum auth_method auth;
};

static void host_log(void *ctx, enum mf_log_level lvl, const char *msg)
{
	const struct mf_host *host = ctx;
	if (host != NULL && host->log != NULL)
		host->log(host->host_ctx, lvl, "%s", msg);
}

static const char *setting(const struct mf_host *host,
			   const struct mf_account *acct, const char *key)
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
	return v != NULL && (v[0] == '\0' || strcmp(v, "1") == 0 ||
			     mf_ascii_strcasecmp(v, "yes") == 0 ||
			     mf_ascii_strcasecmp(v, "true") == 0);
}

int imapc_account_new(const struct mf_host *host,
		      const struct mf_account *acct, const char *plugin,
		      const char *hostname, uint16_t port,
		      bool implicit_tls, struct imapc_account **a_r,
		      struct mf_error *err)
{
	*a_r = NULL;
	const char *id = acct->id ? acct->id : (acct->user ? acct->user : "?");
	if (hostname == NULL || hostname[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: no server host in the URI", plugin,
				    id);
	if (acct->user == NULL || acct->user[0] == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: no user name in the URI", plugin,
				    id);
	struct imapc_account *a = mf_xcalloc(1, sizeof(*a));
	a->host = host;
	a->label = mf_xasprintf("%s: %s", plugin, id);
	a->hostname = mf_xstrdup(hostname);
	a->user = mf_xstrdup(acct->user);
	a->password = acct->password ? mf_xstrdup(acct->password) : NULL;
	const char *authzid = acct->authzid ? acct->authzid
					    : mf_account_option(acct, "authzid");
	a->authzid = authzid && authzid[0] ? mf_xstrdup(authzid) : NULL;
	const char *ca = setting(host, acct, "ca-file");
	a->ca_file = ca && ca[0] ? mf_xstrdup(ca) : NULL;
	a->insecure = truthy(setting(host, acct, "insecure"));
	const char *to = setting(host, acct, "timeout");
	uint64_t secs = 0;
	if (to != NULL && to[0] && (!mf_parse_u64(to, strlen(to), &secs) ||
				    secs == 0 || secs > 86400)) {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: bad timeout \"%s\" (seconds)",
				    plugin, id, to);
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
					    " starttls or implicit", plugin,
					    id, tls);
		}
	}
	a->port = port ? port : (a->tls == IMAPC_TLS_IMPLICIT ? 993 : 143);

	const char *auth = mf_account_option(acct, "auth");
	if (auth == NULL)
		a->auth = a->authzid ? AUTH_PLAIN : AUTH_DEFAULT;
	else if (mf_ascii_strcasecmp(auth, "login") == 0)
		a->auth = AUTH_LOGIN;
	else if (mf_ascii_strcasecmp(auth, "plain") == 0)
		a->auth = AUTH_PLAIN;
	else if (mf_ascii_strcasecmp(auth, "xoauth2") == 0)
		a->auth = AUTH_XOAUTH2;
	else {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: auth=%s: expected login, plain or"
				    " xoauth2", plugin, id, auth);
	}
	if (a->authzid != NULL && a->auth != AUTH_PLAIN) {
		imapc_account_free(&a);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: %s: authzid needs auth=plain", plugin,
				    id);
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
			 " network in CLEAR TEXT", a->label);
		host_log((void *)host, MF_LOG_WARN, msg);
	}
	*a_r = a;
	return MF_OK;
}

const char *imapc_account_label(const struct imapc_account *a)
{
	return a->label;
}

int imapc_account_connect(struct imapc_account *a, struct imapc **c_r,
			  struct mf_error *err)
{
	*c_r = NULL;
	if (a->password == NULL)
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "%s: no password given (password file or"
				    " MAILFERRY_*_PASSWORD)", a->label);
	struct imapc_opts o = {
		.label = a->label, .host = a->hostname, .port = a->port,
		.tls = a->tls, .insecure = a->insecure, .ca_file = a->ca_file,
		.connect_timeout_ms = a->timeout_ms,
		.io_timeout_ms = a->timeout_ms,
		.log = host_log, .log_ctx = (void *)a->host,
	};
	struct imapc *c;
	int st = imapc_connect(&o, &c, err);
	if (st != MF_OK)
		return st;
	enum auth_method m = a->auth;
	if (m == AUTH_DEFAULT)
		m = imapc_has_cap(c, "LOGINDISABLED") &&
				    imapc_has_cap(c, "AUTH=PLAIN")
			    ? AUTH_PLAIN : AUTH_LOGIN;
	switch (m) {
	case AUTH_PLAIN:
		st = imapc_auth_plain(c, a->authzid, a->user, a->password, err);
		break;
	case AUTH_XOAUTH2:
		st = imapc_auth_xoauth2(c, a->user, a->password, err);
		break;
	default:
		st = imapc_login(c, a->user, a->password, err);
		break;
	}
	if (st != MF_OK) {
		imapc_close(&c);
		return st;
	}
	*c_r = c;
	return MF_OK;
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
	free(a);
	*ap = NULL;
}
