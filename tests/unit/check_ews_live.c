/* SPDX-License-Identifier: MIT */
/* The EWS source operations (open, list_folders, fetch, close) driven over
 * HTTPS against the fake EWS server (tests/fake/ews/fake_ews.py) with the
 * fixture mailbox: folder paths and special-use, MIME bytes against the
 * fixture .eml files, flags and dates, the failed item, sync states,
 * impersonation, auth failures, injected ErrorServerBusy / 503, version
 * step-down, FindItem fallback, bearer tokens, TLS verification.  Each
 * case starts its own server (fork mode), which stops by itself. */
#include <config.h>
#include "check_ews_live.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */

static const char *const small_pages[] = { "sync-batch=2", "batch=3", NULL };

START_TEST(impersonated_mailbox_folders_messages_and_sync_state)
{
	struct mf_error err;
	struct mf_source *src = open_alice(true, NULL, small_pages);

	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_uint_eq(fs.n, 9);
	static const char *const want[] = {
		"INBOX",
		"INBOX/Projects",
		"INBOX/Projects/2024_Q1",
		"Gesendete Elemente",
		"Entw\xc3\xbcrfe",
		"Gel\xc3\xb6schte Elemente",
		"Junk-E-Mail",
		"Kalender/Mail under calendar",
		"Archive & Old <2019>",
	};
	for (size_t i = 0; i < 9; i++)
		ck_assert_msg(folder_index(&fs, want[i]) >= 0, "missing folder %s", want[i]);
	ck_assert_int_eq(fs.su[folder_index(&fs, "INBOX")], MF_SPECIAL_INBOX);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Gesendete Elemente")], MF_SPECIAL_SENT);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Entw\xc3\xbcrfe")], MF_SPECIAL_DRAFTS);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Gel\xc3\xb6schte Elemente")], MF_SPECIAL_TRASH);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Junk-E-Mail")], MF_SPECIAL_JUNK);
	ck_assert_int_eq(fs.su[folder_index(&fs, "INBOX/Projects")], MF_SPECIAL_NONE);
	ck_assert_int_lt(folder_index(&fs, "INBOX"), folder_index(&fs, "INBOX/Projects"));
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data, "skipped 5 non-mail folders"));

	char *state = NULL;
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_ptr_nonnull(state);
	ck_assert_uint_eq(delivered(), 4);
	assert_fixture("AAMkI1/ab+c=", "a1-welcome.eml");
	assert_fixture("AAMkI2=", "a2-unread.eml");
	assert_fixture("AAMkI3=", "a3-replied.eml");
	assert_fixture("AAMkI12=", "a12-forwarded.eml");
	ck_assert_uint_eq(got_id("AAMkI1/ab+c=")->flags, MF_FLAG_SEEN | MF_FLAG_FLAGGED);
	ck_assert_uint_eq(got_id("AAMkI2=")->flags, 0);
	ck_assert_uint_eq(got_id("AAMkI3=")->flags, MF_FLAG_SEEN | MF_FLAG_ANSWERED);
	ck_assert_uint_eq(got_id("AAMkI12=")->flags, MF_FLAG_SEEN | MF_FLAG_FORWARDED);
	ck_assert_int_eq(got_id("AAMkI1/ab+c=")->date, 1711962005); /* 2024-04-01T09:00:05Z */
	const struct got *bad = got_id("AAMkI4=");
	ck_assert_ptr_nonnull(bad);
	ck_assert(bad->failed);
	ck_assert_ptr_nonnull(strstr(bad->ftext, "ErrorMimeContentConversionFailed"));
	ck_assert_ptr_nonnull(strstr(bad->ftext, "AAMkI4="));
	ck_assert_ptr_null(got_id("AAMkI5=")); /* appointment in the inbox */

	/* Delta pass with the saved state: nothing new. */
	size_t before = g_ngot;
	char *state2 = NULL;
	ck_assert_int_eq(fetch_folder(src, "INBOX", state, &state2, &err), MF_OK);
	ck_assert_uint_eq(g_ngot, before);
	ck_assert_ptr_nonnull(state2);

	ck_assert_int_eq(fetch_folder(src, "INBOX/Projects/2024_Q1", NULL, NULL, &err), MF_OK);
	assert_fixture("AAMkI7=", "a7-q1.eml");
	ck_assert_uint_eq(got_id("AAMkI7=")->flags, MF_FLAG_FLAGGED);
	ck_assert_int_eq(fetch_folder(src, "Entw\xc3\xbcrfe", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(got_id("AAMkI9=")->flags, MF_FLAG_SEEN | MF_FLAG_DRAFT);
	ck_assert_int_eq(fetch_folder(src, "Kalender", NULL, NULL, &err), MF_ERR_FOLDER);

	/* Every request impersonated alice, anchored on her mailbox. */
	char *log = request_log();
	size_t total = count_lines_with(log, "\"n\":");
	ck_assert_uint_gt(total, 6);
	ck_assert_uint_eq(count_lines_with(log, "\"anchor\": \"alice@example.com\""), total);
	ck_assert_uint_eq(count_lines_with(log, "\"impersonate\": \"alice@example.com\""), total);
	ck_assert_uint_eq(count_lines_with(log, "\"ua\": \"mailferry/"), total);
	ck_assert_uint_eq(count_lines_with(log, "\"status\": 200"), total);
	/* Accept-Encoding: gzip, and the fake then compresses every reply. */
	ck_assert_uint_eq(count_lines_with(log, "\"gzip\": true"), total);
	ck_assert_uint_ge(count_lines_with(log, "\"op\": \"SyncFolderItems\""), 3);
	free(log);
	free(state);
	free(state2);
	ews_source_ops.close(&src);
	ck_assert_ptr_null(src);
	stop_fake();
}
END_TEST

START_TEST(late_401_is_transient)
{
	/* 1 GetFolder (open), 2 FindFolder, 3 SyncFolderItems: 401. */
	static const char *const extra[] = { "--unauthorized-on", "3", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_int_eq(err.proto_code, 401);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	close_fake(&src);
}
END_TEST

START_TEST(wrong_password_is_auth_error)
{
	start_fake(true, NULL);
	struct mf_account a = make_account("svc@example.com", "wrong", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ck_assert_int_eq(err.proto_code, 401);
	ck_assert_ptr_null(strstr(err.text, "wrong"));
	close_fake(&src);
}
END_TEST

START_TEST(impersonation_without_the_right_is_denied)
{
	start_fake(true, NULL);
	struct mf_account a =
		make_account("alice@example.com", "alice-pw", "bob@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(err.text, "ErrorImpersonateUserDenied"));
	close_fake(&src);
}
END_TEST

START_TEST(own_mailbox_without_impersonation_and_option_fallback)
{
	start_fake(true, NULL);
	/* No impersonation: alice's own mailbox, no X-AnchorMailbox. */
	struct mf_account a = make_account("alice@example.com", "alice-pw", NULL, NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ews_source_ops.close(&src);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"anchor\": null"),
			  count_lines_with(log, "\"n\":"));
	free(log);

	/* impersonate= as a URI option when the core left the field NULL. */
	static const char *const opts[] = { "impersonate=bob@example.com", NULL };
	a = make_account("svc@example.com", "S3cret!", NULL, opts);
	reset_got();
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 2);
	assert_fixture("BBMkI1=", "b1-bob.eml");
	close_fake(&src);
}
END_TEST

START_TEST(server_busy_fault_returns_backoff_and_fetch_resumes)
{
	/* Requests: 1 GetFolder (open), 2 FindFolder, 3 SyncFolderItems,
	 * 4 GetItem (2 ids), 5 SyncFolderItems, 6 GetItem: busy. */
	static const char *const extra[] = { "--busy-on", "6", "--busy-ms", "1500", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, small_pages);
	char *state = NULL;
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, &state, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_uint_eq(err.retry_after_ms, 1500);
	ck_assert_ptr_nonnull(strstr(err.text, "ErrorServerBusy"));
	ck_assert_ptr_null(state);
	size_t first = delivered();
	ck_assert_uint_eq(first, 2);
	/* The core retries later: have() skips what it already holds. */
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert_ptr_nonnull(state);
	free(state);
	close_fake(&src);
}
END_TEST

START_TEST(server_busy_inside_200_reply)
{
	static const char *const extra[] = { "--busy-msg-on", "3", "--busy-ms", "2500", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	/* fetch without list_folders: 2 FindFolder, 3 SyncFolderItems. */
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_uint_eq(err.retry_after_ms, 2500);
	close_fake(&src);
}
END_TEST

START_TEST(http_503_honours_retry_after)
{
	static const char *const extra[] = { "--unavailable-on", "2", "--retry-after", "2", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_int_eq(err.proto_code, 503);
	ck_assert_uint_eq(err.retry_after_ms, 2000);
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_uint_eq(fs.n, 9);
	close_fake(&src);
}
END_TEST

START_TEST(vanished_item_and_stopped_batch)
{
	/* 1 GetFolder, 2 FindFolder, 3 SyncFolderItems, 4 GetItem of five
	 * ids: answered ErrorBatchProcessingStopped after the first one. */
	static const char *const extra[] = { "--vanish", "AAMkI2=", "--stop-batch-on", "4", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 3);
	assert_fixture("AAMkI1/ab+c=", "a1-welcome.eml");
	assert_fixture("AAMkI3=", "a3-replied.eml");
	assert_fixture("AAMkI12=", "a12-forwarded.eml");
	ck_assert_ptr_null(got_id("AAMkI2=")); /* gone: neither copied nor failed */
	ck_assert(got_id("AAMkI4=")->failed);
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data,
				     "3 messages fetched, 1 failed, "
				     "0 already copied, 1 gone since listed"));
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "batch-stopped"), 1);
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 3);
	free(log);
	close_fake(&src);
}
END_TEST

START_TEST(corrupt_base64_is_a_failed_message)
{
	static const char *const extra[] = { "--corrupt", "AAMkI2=", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 3);
	const struct got *g = got_id("AAMkI2=");
	ck_assert_ptr_nonnull(g);
	ck_assert(g->failed);
	ck_assert_ptr_nonnull(strstr(g->ftext, "MimeContent is not valid base64"));
	/* Both bad items were asked for once more, each on its own. */
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 3);
	free(log);
	close_fake(&src);
}
END_TEST

START_TEST(older_server_version_steps_down)
{
	static const char *const extra[] = { "--max-version", "Exchange2010_SP2", NULL };
	start_fake(true, extra);
	struct mf_account a = make_account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "Exchange2013_SP1"), 1);
	ck_assert_uint_eq(count_lines_with(log, "ErrorInvalidServerVersion"), 1);
	ck_assert_uint_ge(count_lines_with(log, "Exchange2010_SP2"), 3);
	free(log);
	ews_source_ops.close(&src);
	/* A second session to the same endpoint starts at the version that
	 * worked: no second refusal. */
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "ErrorInvalidServerVersion"), 1);
	free(log);
	ews_plugin_deinit(g_plugin);
	g_plugin = NULL;
	stop_fake();
}
END_TEST

START_TEST(rejected_sync_state_lists_again)
{
	struct mf_error err;
	struct mf_source *src = open_alice(true, NULL, NULL);
	char *state = NULL;
	ck_assert_int_eq(fetch_folder(src, "INBOX", "H4sIforged.0123456789abcdef", &state, &err),
			 MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert_ptr_nonnull(state);
	ck_assert_str_ne(state, "H4sIforged.0123456789abcdef");
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data, "rejected the saved SyncState"));
	free(state);
	close_fake(&src);
}
END_TEST

START_TEST(finditem_fallback_with_partial_pages)
{
	static const char *const extra[] = { "--no-sync", "--item-page-cap", "2", NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	char *state = (char *)"unset";
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_ptr_null(state);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert(got_id("AAMkI4=")->failed);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"FindItem\""), 3); /* 6 items, 2 a page */
	free(log);
	close_fake(&src);
}
END_TEST

START_TEST(bearer_token_from_file)
{
	static const char *const extra[] = { "--token", "tok-123:svc@example.com", NULL };
	start_fake(true, extra);
	char tf[128], opt[160];
	snprintf(tf, sizeof(tf), "%s/token", g_dir);
	FILE *f = fopen(tf, "w");
	fputs("  tok-123 \n", f);
	fclose(f);
	snprintf(opt, sizeof(opt), "token-file=%s", tf);
	const char *opts[] = { "auth=bearer", opt, NULL };
	struct mf_account a = make_account("svc@example.com", NULL, "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	const char *opts2[] = { "auth=bearer", NULL };
	a = make_account("svc@example.com", "tok-999", "alice@example.com", opts2);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	close_fake(&src);
}
END_TEST

START_TEST(ntlm_authenticates_one_connection_per_session)
{
	static const char *const extra[] = { "--ntlm",         "--user",    "CORP\\svc:S3cret!",
					     "--impersonator", "CORP\\svc", NULL };
	start_fake(true, extra);
	static const char *const opts[] = { "auth=ntlm", "sync-batch=2", NULL };
	struct mf_account a = make_account("CORP\\svc", "S3cret!", "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ews_source_ops.close(&src);
	/* One handshake, then every request on that same connection: NTLM
	 * authenticates the connection, so the session must keep it. */
	char *log = request_log();
	size_t lines = count_lines_with(log, "\"conn\":");
	ck_assert_uint_gt(lines, 8);
	ck_assert_uint_eq(count_lines_with(log, "\"ntlm\": \"negotiate\""), 1);
	ck_assert_uint_eq(count_lines_with(log, "\"conn\": 1,"), lines);
	ck_assert_uint_eq(count_lines_with(log, "\"user\": \"CORP\\\\svc\""), lines - 1);
	free(log);
	a = make_account("CORP\\svc", "nope", "alice@example.com", opts);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	close_fake(&src);
}
END_TEST

static int stop_at_second_folder(const struct mf_folder *f, void *aux)
{
	int *n = aux;
	return ++*n == 2 ? MF_ERR_FATAL : 0;
}

START_TEST(cancel_and_callback_stop)
{
	struct mf_error err;
	struct mf_source *src = open_alice(true, NULL, NULL);
	int n = 0;
	ck_assert_int_eq(ews_source_ops.list_folders(src, stop_at_second_folder, &n, &err),
			 MF_ERR_FATAL);
	ck_assert_int_eq(n, 2);
	g_cancel = true;
	ck_assert_int_eq(fetch_folder(src, "INBOX", NULL, NULL, &err), MF_ERR_CANCELED);
	ck_assert_uint_eq(g_ngot, 0);
	close_fake(&src);
}
END_TEST

START_TEST(large_item_over_libxml2_text_limit)
{
	/* 12 MB of MIME: 16 MB of base64 in one text node, over libxml2's
	 * 10 MB XML_MAX_TEXT_LENGTH (2.9.14 does not enforce it for
	 * in-memory input, newer releases may: the parser asks for
	 * XML_PARSE_HUGE either way). */
	char big[160], spec[200];
	snprintf(big, sizeof(big), "/tmp/ewsbig.%ld.eml", (long)getpid());
	snprintf(spec, sizeof(spec), "AAMkProj+=:AAMkBig=:12582912:%s", big);
	const char *extra[] = { "--big", spec, NULL };
	struct mf_error err;
	struct mf_source *src = open_alice(true, extra, NULL);
	ck_assert_int_eq(fetch_folder(src, "INBOX/Projects", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 2);
	const struct got *g = got_id("AAMkBig=");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->data.len, 12582912);
	FILE *f = fopen(big, "rb");
	ck_assert_ptr_nonnull(f);
	unsigned char *want = mf_xmalloc(12582912);
	ck_assert_uint_eq(fread(want, 1, 12582912, f), 12582912);
	fclose(f);
	ck_assert(memcmp(g->data.data, want, 12582912) == 0);
	free(want);
	unlink(big);
	/* Over the 8 MB batch cap: it went alone, the small one separately. */
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 2);
	free(log);
	close_fake(&src);
}
END_TEST

START_TEST(tls_verified_by_default)
{
	start_fake(true, NULL);
	g_ca[0] = '\0'; /* trust nothing extra: the self-signed cert fails */
	struct mf_account a = make_account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, "TLS"));
	ews_source_ops.close(&src);
	g_insecure = "1";
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	close_fake(&src);
}
END_TEST

START_TEST(plain_http_with_tls_none)
{
	start_fake(false, NULL);
	static const char *const opts[] = { "tls=none", NULL };
	struct mf_account a = make_account("svc@example.com", "S3cret!", "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch_folder(src, "INBOX/Projects", NULL, NULL, &err), MF_OK);
	assert_fixture("AAMkI6=", "a6-project.eml");
	ews_source_ops.close(&src);
	/* Without tls=none the same server is spoken to over TLS: fails. */
	a = make_account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	ck_assert_int_ne(open_src(&a, &src, &err), MF_OK);
	close_fake(&src);
}
END_TEST

START_TEST(bad_options_are_fatal)
{
	start_fake(true, NULL);
	static const char *const o1[] = { "auth=kerberos", NULL };
	struct mf_account a = make_account("svc@example.com", "S3cret!", "alice@example.com", o1);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_FATAL);
	ews_source_ops.close(&src);
	static const char *const o2[] = { "version=Exchange2099", NULL };
	a = make_account("svc@example.com", "S3cret!", "alice@example.com", o2);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_FATAL);
	ews_source_ops.close(&src);
	static const char *const o3[] = { "sync-batch=9999", NULL };
	a = make_account("svc@example.com", "S3cret!", "alice@example.com", o3);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_FATAL);
	ck_assert_ptr_nonnull(strstr(err.text, "sync-batch=9999"));
	ews_source_ops.close(&src);
	a = make_account("svc@example.com", NULL, "alice@example.com", NULL);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	close_fake(&src);
}
END_TEST

static Suite *ews_live_suite(void)
{
	Suite *s = suite_create("ews_live");
	TCase *tc = tcase_create("fake_server");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, impersonated_mailbox_folders_messages_and_sync_state);
	tcase_add_test(tc, wrong_password_is_auth_error);
	tcase_add_test(tc, late_401_is_transient);
	tcase_add_test(tc, impersonation_without_the_right_is_denied);
	tcase_add_test(tc, own_mailbox_without_impersonation_and_option_fallback);
	tcase_add_test(tc, server_busy_fault_returns_backoff_and_fetch_resumes);
	tcase_add_test(tc, server_busy_inside_200_reply);
	tcase_add_test(tc, http_503_honours_retry_after);
	tcase_add_test(tc, vanished_item_and_stopped_batch);
	tcase_add_test(tc, corrupt_base64_is_a_failed_message);
	tcase_add_test(tc, older_server_version_steps_down);
	tcase_add_test(tc, rejected_sync_state_lists_again);
	tcase_add_test(tc, finditem_fallback_with_partial_pages);
	tcase_add_test(tc, bearer_token_from_file);
	tcase_add_test(tc, ntlm_authenticates_one_connection_per_session);
	tcase_add_test(tc, cancel_and_callback_stop);
	tcase_add_test(tc, large_item_over_libxml2_text_limit);
	tcase_add_test(tc, tls_verified_by_default);
	tcase_add_test(tc, plain_http_with_tls_none);
	tcase_add_test(tc, bad_options_are_fatal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (system("python3 -c 'import ssl' >/dev/null 2>&1") != 0 ||
	    system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_ews_live: python3 or openssl missing: SKIP\n");
		return 77;
	}
	SRunner *sr = srunner_create(ews_live_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
