/* SPDX-License-Identifier: MIT */
/* URI parsing into accounts: address-shaped logins, ports, IPv6,
 * options, local paths, password hiding. */
#include <config.h>
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "plugin_loader.h"
#include "uri.h"

static struct account_spec s;
static struct mf_error err;

START_TEST(login_may_be_a_whole_address)
{
	ck_assert_int_eq(uri_parse("imaps://alice@corp.example@imap.old.example:1993/?auth=plain",
				   &s, &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.scheme, "imaps");
	ck_assert_str_eq(s.acct.user, "alice@corp.example");
	ck_assert_str_eq(s.acct.host, "imap.old.example");
	ck_assert_uint_eq(s.acct.port, 1993);
	ck_assert_str_eq(mf_account_option(&s.acct, "auth"), "plain");
	ck_assert_ptr_null(mf_account_option(&s.acct, "authzid"));
	uri_spec_free(&s);
}
END_TEST

/* RFC 3986: the authority ends at the first '/', so an address in the
 * path stays there (graph://TENANT/USER@DOMAIN). */
START_TEST(address_in_the_path_stays_in_the_path)
{
	ck_assert_int_eq(uri_parse("graph://contoso.onmicrosoft.com/alice@contoso.com?hidden=1", &s,
				   &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.host, "contoso.onmicrosoft.com");
	ck_assert_ptr_null(s.acct.user);
	ck_assert_str_eq(s.acct.path, "/alice@contoso.com");
	ck_assert_str_eq(mf_account_option(&s.acct, "hidden"), "1");
	uri_spec_free(&s);
}
END_TEST

START_TEST(password_is_taken_out_of_the_display_uri)
{
	ck_assert_int_eq(uri_parse("imap://bob:s3cr%40t@127.0.0.1:143", &s, &err), MF_OK);
	ck_assert_str_eq(s.acct.password, "s3cr@t");
	ck_assert_ptr_null(strstr(s.acct.uri, "s3cr"));
	ck_assert_str_eq(s.acct.uri, "imap://bob@127.0.0.1:143");
	uri_wipe_password(&s);
	ck_assert_ptr_null(s.acct.password);
	uri_spec_free(&s);
}
END_TEST

START_TEST(ipv6_literal_and_path)
{
	ck_assert_int_eq(
		uri_parse("ews://svc@[::1]:8443/EWS/Exchange.asmx?impersonate=carol%40x.example",
			  &s, &err),
		MF_OK);
	ck_assert_str_eq(s.acct.host, "::1");
	ck_assert_uint_eq(s.acct.port, 8443);
	ck_assert_str_eq(s.acct.path, "/EWS/Exchange.asmx");
	ck_assert_str_eq(s.acct.impersonate, "carol@x.example");
	uri_spec_free(&s);
}
END_TEST

START_TEST(local_paths_keep_their_characters)
{
	ck_assert_int_eq(uri_parse("mbox:/data/old mail/inbox?x.mbox", &s, &err), MF_OK);
	ck_assert_str_eq(s.acct.path, "/data/old mail/inbox?x.mbox");
	ck_assert_ptr_null(s.acct.host);
	uri_spec_free(&s);
	ck_assert_int_eq(uri_parse("MBOX:/a/b.mbox?format=mboxo", &s, &err), MF_OK);
	ck_assert_str_eq(s.acct.scheme, "mbox");
	ck_assert_str_eq(s.acct.path, "/a/b.mbox");
	ck_assert_str_eq(mf_account_option(&s.acct, "format"), "mboxo");
	uri_spec_free(&s);
}
END_TEST

START_TEST(bad_uris_are_refused_with_the_text)
{
	ck_assert_int_ne(uri_parse("/just/a/path", &s, &err), MF_OK);
	ck_assert_ptr_nonnull(strstr(err.text, "/just/a/path"));
	ck_assert_int_ne(uri_parse("imap://u@host:99999", &s, &err), MF_OK);
	ck_assert_ptr_nonnull(strstr(err.text, "port"));
	ck_assert_int_ne(uri_parse("imap://u@:143", &s, &err), MF_OK);
	ck_assert_int_ne(uri_parse("imap://u@[::1", &s, &err), MF_OK);
	ck_assert_int_ne(uri_parse("mbox:", &s, &err), MF_OK);
}
END_TEST

START_TEST(bare_option_reads_as_empty)
{
	ck_assert_int_eq(uri_parse("imaps://u@h/?debug&tls=none", &s, &err), MF_OK);
	ck_assert_str_eq(mf_account_option(&s.acct, "debug"), "");
	ck_assert_str_eq(mf_account_option(&s.acct, "tls"), "none");
	ck_assert_ptr_null(mf_account_option(&s.acct, "tl"));
	uri_spec_free(&s);
}
END_TEST

START_TEST(alimail_address_alone_means_default_host)
{
	ck_assert_int_eq(uri_parse_address_login("alimail://alice@corp.example", &s, &err), MF_OK);
	ck_assert_str_eq(s.acct.user, "alice@corp.example");
	ck_assert_ptr_null(s.acct.host);
	uri_spec_free(&s);
	ck_assert_int_eq(uri_parse_address_login("alimail://alice@corp.example@127.0.0.1:1993", &s,
						 &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.user, "alice@corp.example");
	ck_assert_str_eq(s.acct.host, "127.0.0.1");
	uri_spec_free(&s);
}
END_TEST

/* Which rule applies is the plugin's word (struct mf_plugin.address_schemes),
 * looked up by kind and scheme; the core knows no scheme of its own. */
START_TEST(address_login_is_the_plugins_rule)
{
	static const char *const schemes[] = { "alimail", "imaps", NULL };
	static const char *const address[] = { "alimail", NULL };
	struct loaded_plugin sink = {
		.desc = { .kind = MF_PLUGIN_SINK,
			  .name = "alimail",
			  .schemes = schemes,
			  .address_schemes = address },
	};
	struct plugin_registry reg = { .plugins = &sink, .n_plugins = 1 };
	ck_assert_int_eq(registry_uri_parse(&reg, MF_PLUGIN_SINK, "ALIMAIL://alice@corp.example",
					    &s, &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.user, "alice@corp.example");
	ck_assert_ptr_null(s.acct.host);
	ck_assert_str_eq(s.acct.id, "ALIMAIL://alice@corp.example");
	uri_spec_free(&s);
	/* The plugin's other schemes, other kinds and no registry: generic. */
	ck_assert_int_eq(registry_uri_parse(&reg, MF_PLUGIN_SINK, "imaps://alice@corp.example", &s,
					    &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.user, "alice");
	ck_assert_str_eq(s.acct.host, "corp.example");
	uri_spec_free(&s);
	ck_assert_int_eq(registry_uri_parse(&reg, MF_PLUGIN_SOURCE, "alimail://alice@corp.example",
					    &s, &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.host, "corp.example");
	uri_spec_free(&s);
	ck_assert_int_eq(registry_uri_parse(NULL, MF_PLUGIN_SINK, "alimail://alice@corp.example",
					    &s, &err),
			 MF_OK);
	ck_assert_str_eq(s.acct.user, "alice");
	uri_spec_free(&s);
	ck_assert_int_ne(registry_uri_parse(&reg, MF_PLUGIN_SINK, "no scheme", &s, &err), MF_OK);
}
END_TEST

static Suite *uri_suite(void)
{
	Suite *su = suite_create("uri");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, login_may_be_a_whole_address);
	tcase_add_test(tc, address_in_the_path_stays_in_the_path);
	tcase_add_test(tc, password_is_taken_out_of_the_display_uri);
	tcase_add_test(tc, ipv6_literal_and_path);
	tcase_add_test(tc, local_paths_keep_their_characters);
	tcase_add_test(tc, bad_uris_are_refused_with_the_text);
	tcase_add_test(tc, bare_option_reads_as_empty);
	tcase_add_test(tc, alimail_address_alone_means_default_host);
	tcase_add_test(tc, address_login_is_the_plugins_rule);
	suite_add_tcase(su, tc);
	return su;
}

MF_CHECK_MAIN(uri_suite)
