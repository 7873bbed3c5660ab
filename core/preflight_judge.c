/* SPDX-License-Identifier: MIT */
/* The pure half of preflight (core/preflight.h): what a login failure
 * was, how long a row would take, and whether it can run.  No I/O, so
 * tests/unit/check_preflight.c can pin every rule down. */
#include <config.h>
#include "preflight.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mailferry/util.h>

static const char *const login_names[] = {
	[PF_LOGIN_NOT_TRIED] = "not-tried",
	[PF_LOGIN_OK] = "ok",
	[PF_LOGIN_AUTH] = "auth-refused",
	[PF_LOGIN_NO_ACCOUNT] = "no-account",
	[PF_LOGIN_TLS] = "tls",
	[PF_LOGIN_DNS] = "dns",
	[PF_LOGIN_REFUSED] = "connection-refused",
	[PF_LOGIN_TIMEOUT] = "timeout",
	[PF_LOGIN_CONFIG] = "config",
	[PF_LOGIN_OTHER] = "error",
};

const char *preflight_login_name(enum preflight_login l)
{
	return (unsigned)l < sizeof(login_names) / sizeof(login_names[0]) ? login_names[l]
									  : "error";
}

static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; *p != '\0'; p++)
		if (mf_ascii_strncasecmp(p, word, n) == 0)
			return true;
	return false;
}

/* Phrases servers use when the account itself is missing (Exchange, Gmail
 * "Invalid credentials" does not say; Dovecot says "Authentication
 * failed" for both on purpose, so it is reported as refused). */
static const char *const no_account_phrases[] = {
	"no such user",   "unknown user",    "user not found",    "user unknown",
	"does not exist", "not provisioned", "account not found", NULL,
};

enum preflight_login preflight_classify(const struct mf_error *err)
{
	const char *t = err->text;
	if (err->status == MF_OK)
		return PF_LOGIN_OK;
	if (err->status == MF_ERR_AUTH) {
		for (const char *const *p = no_account_phrases; *p != NULL; p++)
			if (has_word(t, *p))
				return PF_LOGIN_NO_ACCOUNT;
		return PF_LOGIN_AUTH;
	}
	/* lib/net's own words (lib/net/conn.c): getaddrinfo failures and
	 * the TLS layer are told by text, errno carries the rest. */
	if (has_word(t, "cannot resolve host"))
		return PF_LOGIN_DNS;
	/* Before TLS: a server that stalls the handshake is a timeout, not
	 * a TLS problem to fix. */
	if (err->sys_errno == ETIMEDOUT || has_word(t, "timed out"))
		return PF_LOGIN_TIMEOUT;
	if (has_word(t, "TLS") || has_word(t, "certificate"))
		return PF_LOGIN_TLS;
	if (err->sys_errno == ECONNREFUSED)
		return PF_LOGIN_REFUSED;
	if (err->status == MF_ERR_FATAL)
		return PF_LOGIN_CONFIG;
	return PF_LOGIN_OTHER;
}

double preflight_estimate(uint64_t bytes, double rate_bps)
{
	if (bytes == MF_COUNT_UNKNOWN || !(rate_bps > 0))
		return -1;
	return (double)bytes / rate_bps;
}

static void add_reason(struct preflight_row *r, const char *fmt, ...) MF_PRINTF(2, 3);
static void add_reason(struct preflight_row *r, const char *fmt, ...)
{
	size_t used = r->ok ? 0 : strlen(r->verdict);
	if (used > 0 && used + 2 < sizeof(r->verdict)) {
		memcpy(r->verdict + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	if (used < sizeof(r->verdict))
		vsnprintf(r->verdict + used, sizeof(r->verdict) - used, fmt, ap);
	va_end(ap);
	r->ok = false;
}

void preflight_judge(struct preflight_row *r)
{
	r->ok = true;
	snprintf(r->verdict, sizeof(r->verdict), "ok");
	if (r->source.login != PF_LOGIN_OK)
		add_reason(r, "source login: %s", preflight_login_name(r->source.login));
	if (r->sink.login != PF_LOGIN_OK)
		add_reason(r, "target login: %s", preflight_login_name(r->sink.login));
	const struct mf_probe *p = &r->sink.probe;
	if (r->sink.probed && p->quota_limit != MF_COUNT_UNKNOWN && r->bytes != MF_COUNT_UNKNOWN) {
		uint64_t free_b =
			p->quota_limit > p->quota_used ? p->quota_limit - p->quota_used : 0;
		if (r->bytes > free_b)
			add_reason(r, "target quota: %llu bytes needed, %llu free",
				   (unsigned long long)r->bytes, (unsigned long long)free_b);
	}
	if (r->oversize != MF_COUNT_UNKNOWN && r->oversize > 0)
		add_reason(r, "%llu messages over the target's limit of %llu bytes",
			   (unsigned long long)r->oversize,
			   (unsigned long long)p->max_message_size);
	if (r->n_refused > 0)
		add_reason(r, "%zu folders the target refuses", r->n_refused);
	if (r->folder_error != NULL)
		add_reason(r, "a source folder cannot be read");
	if (r->timed_out)
		add_reason(r, "timed out");
}
