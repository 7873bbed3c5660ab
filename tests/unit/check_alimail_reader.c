/* SPDX-License-Identifier: MIT */
/* The alimail sink's reader_uri (ABI 1.6, sinks/alimail/alimail_reader.c):
 * where "mailferry verify" reads an IMAP target back.  No server needed:
 * the slot works from the account alone. */
#include <config.h>

#include "sinks/alimail/alimail_p.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* verify reads an IMAP target back through the IMAP source: the same
 * server the sink connects to (alimail:// region defaults included), the
 * same login, the sink's options, each part encoded for the core's parser. */
static char *reader(const char *scheme, const char *user, const char *h, uint16_t port,
		    const char *const *opts, int want)
{
	struct mf_account a = { .id = "r",
				.scheme = scheme,
				.user = user,
				.host = h,
				.port = port,
				.path = "",
				.options = opts };
	struct mf_error err = { 0 };
	char *uri = NULL;
	ck_assert_int_eq(alimail_reader_uri(NULL, &a, &uri, &err), want);
	return uri;
}

START_TEST(reader_uri_names_the_server_the_sink_uses)
{
	static const char *const none[] = { NULL };
	static const char *const cn[] = { "region=cn", NULL };
	static const char *const mars[] = { "region=mars", NULL };
	static const char *const tls[] = { "tls=none", "ca=/a&b=c", "debug", NULL };
	char *u = reader("alimail", "alice@corp.example", NULL, 0, none, MF_OK);
	ck_assert_str_eq(u, "imaps://alice%40corp.example@" ALIMAIL_HOST_INTL "/");
	free(u);
	u = reader("alimail", "alice@corp.example", NULL, 0, cn, MF_OK);
	ck_assert_str_eq(u, "imaps://alice%40corp.example@" ALIMAIL_HOST_CN "/?region=cn");
	free(u);
	u = reader("alimail", "a@b", "127.0.0.1", 1993, none, MF_OK);
	ck_assert_str_eq(u, "imaps://a%40b@127.0.0.1:1993/");
	free(u);
	u = reader("imap", "bob:x/y", "::1", 143, tls, MF_OK);
	ck_assert_str_eq(u, "imap://bob%3Ax%2Fy@[::1]:143/?tls=none&ca=/a%26b=c&debug");
	free(u);
	ck_assert_ptr_null(reader("alimail", "a@b", NULL, 0, mars, MF_ERR_FATAL));
	ck_assert_ptr_null(reader("imaps", "a", NULL, 0, none, MF_ERR_FATAL));
	/* Callable without a session, as the core does it. */
	ck_assert_ptr_eq(alimail_sink_ops.reader_uri, alimail_reader_uri);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alimail_reader");
	TCase *tc = tcase_create("reader_uri");
	tcase_add_test(tc, reader_uri_names_the_server_the_sink_uses);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
