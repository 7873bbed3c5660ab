/* SPDX-License-Identifier: MIT */
/* Preflight's pure rules (core/preflight_judge.c): which category a login
 * failure falls in, the estimate, and when a row cannot run; and the
 * alimail sink's folder_refused rules (sinks/alimail/alimail_probe.c). */
#include <config.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "preflight.h"
#include "../../sinks/alimail/alimail_p.h"

static struct mf_error mkerr(enum mf_status st, int e, const char *text)
{
	struct mf_error err = { .status = st, .sys_errno = e };
	snprintf(err.text, sizeof(err.text), "%s", text);
	return err;
}

START_TEST(login_failures_are_classified)
{
	struct mf_error e;
	e = mkerr(MF_ERR_AUTH, 0,
		  "imap: a: LOGIN refused: NO [AUTHENTICATIONFAILED] "
		  "Authentication failed.");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_AUTH);
	e = mkerr(MF_ERR_AUTH, 0, "alimail: b: LOGIN refused: NO User unknown in this domain");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_NO_ACCOUNT);
	e = mkerr(MF_ERR_ACCOUNT, 0, "imap: c: cannot resolve host: Name or service not known");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_DNS);
	e = mkerr(MF_ERR_ACCOUNT, 0, "imap: c: certificate verify failed: self-signed");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_TLS);
	e = mkerr(MF_ERR_ACCOUNT, ETIMEDOUT, "imap: c: TLS handshake timed out after 100 ms");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_TIMEOUT);
	e = mkerr(MF_ERR_ACCOUNT, 0, "imap: c: TLS handshake failed: wrong version number");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_TLS);
	e = mkerr(MF_ERR_ACCOUNT, ECONNREFUSED, "imap: c: connect: Connection refused");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_REFUSED);
	e = mkerr(MF_ERR_ACCOUNT, ETIMEDOUT, "imap: c: connect timed out after 5000 ms");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_TIMEOUT);
	e = mkerr(MF_ERR_FATAL, 0, "alimail: d: region=xx: expected cn or intl");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_CONFIG);
	e = mkerr(MF_ERR_ACCOUNT, 0, "imap: e: server closed the connection");
	ck_assert_int_eq(preflight_classify(&e), PF_LOGIN_OTHER);
	ck_assert_str_eq(preflight_login_name(PF_LOGIN_REFUSED), "connection-refused");
}
END_TEST

START_TEST(estimate_needs_a_rate_and_a_size)
{
	ck_assert(preflight_estimate(1000, 0) < 0);
	ck_assert(preflight_estimate(MF_COUNT_UNKNOWN, 100) < 0);
	ck_assert_double_eq_tol(preflight_estimate(10 << 20, 1 << 20), 10.0, 1e-9);
}
END_TEST

static void good_row(struct preflight_row *r)
{
	memset(r, 0, sizeof(*r));
	r->source.login = r->sink.login = PF_LOGIN_OK;
	r->sink.probed = true;
	r->sink.probe.quota_used = 1000;
	r->sink.probe.quota_limit = 5000;
	r->sink.probe.max_message_size = 100;
	r->bytes = 4000;
	r->oversize = 0;
}

START_TEST(verdict_names_every_reason)
{
	struct preflight_row r;
	good_row(&r);
	preflight_judge(&r);
	ck_assert(r.ok);
	ck_assert_str_eq(r.verdict, "ok");
	/* One byte more than the free 4000 does not fit. */
	r.bytes = 4001;
	preflight_judge(&r);
	ck_assert(!r.ok);
	ck_assert_str_eq(r.verdict, "target quota: 4001 bytes needed, 4000 free");
	good_row(&r);
	r.sink.login = PF_LOGIN_AUTH;
	r.oversize = 2;
	r.timed_out = true;
	preflight_judge(&r);
	ck_assert(!r.ok);
	ck_assert_str_eq(r.verdict, "target login: auth-refused; 2 messages over the target's "
				    "limit of 100 bytes; timed out");
	/* Unknowns are not failures: nothing to say about them. */
	good_row(&r);
	r.sink.probe.quota_limit = MF_COUNT_UNKNOWN;
	r.oversize = MF_COUNT_UNKNOWN;
	r.bytes = 1ull << 40;
	preflight_judge(&r);
	ck_assert(r.ok);
}
END_TEST

START_TEST(sink_refuses_by_known_rules)
{
	struct mf_sink snk = { .sep = '.' };
	char why[256];
	ck_assert(!alimail_folder_refused(&snk, "Projects/2024", why, sizeof(why)));
	ck_assert(alimail_folder_refused(&snk, "Projects/v1.2", why, sizeof(why)));
	ck_assert_str_eq(why, "\"v1.2\" holds the target's separator '.'");
	ck_assert(alimail_folder_refused(&snk, "a//b", why, sizeof(why)));
	char long_name[300];
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	ck_assert(alimail_folder_refused(&snk, long_name, why, sizeof(why)));
	long_name[255] = '\0';
	ck_assert(!alimail_folder_refused(&snk, long_name, why, sizeof(why)));
	/* With '/' as separator a dot is an ordinary character. */
	snk.sep = '/';
	ck_assert(!alimail_folder_refused(&snk, "Projects/v1.2", why, sizeof(why)));
}
END_TEST

static Suite *preflight_suite(void)
{
	Suite *s = suite_create("preflight");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, login_failures_are_classified);
	tcase_add_test(tc, estimate_needs_a_rate_and_a_size);
	tcase_add_test(tc, verdict_names_every_reason);
	tcase_add_test(tc, sink_refuses_by_known_rules);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(preflight_suite)
