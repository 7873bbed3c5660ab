/* SPDX-License-Identifier: MIT */
/* Check suite for the alimail sink's ops table (sinks/alimail, linked as
 * its convenience library) and lib/imapc's name mapping.  The sink cases
 * need a real IMAP server: tests/integration/imap_sink_ops.sh starts
 * Dovecot and runs this program with MF_TEST_IMAP_PORT, _USER, _PASS and
 * _CA set; without them only the name cases run.  Covered: ensure_folder creates nested and non-ASCII folders
 * and maps Sent onto the existing special-use folder; append returns the
 * APPENDUID target id; lookup finds exactly the message whose digest
 * matches, not another one sharing its Message-ID and size. */
#include <config.h>
#include <mailferry/imapc.h>

#include "sinks/alimail/alimail_p.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_log(void *ctx, enum mf_log_level lvl, const char *fmt, ...)
{
	(void)ctx;
	(void)lvl;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *test_setting(void *ctx, const char *key)
{
	(void)ctx;
	if (strcmp(key, "ca-file") == 0)
		return getenv("MF_TEST_IMAP_CA");
	if (strcmp(key, "timeout") == 0)
		return "10";
	return NULL;
}

static const struct mf_host host = {
	.abi_major = MF_ABI_MAJOR,
	.abi_minor = MF_ABI_MINOR,
	.struct_size = sizeof(struct mf_host),
	.log = test_log,
	.setting = test_setting,
};

struct memmsg {
	const char *data;
	size_t pos;
};

static int mem_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		    struct mf_error *err)
{
	(void)err;
	struct memmsg *m = msg->read_ctx;
	size_t left = msg->size - m->pos;
	*n_r = left < cap ? left : cap;
	memcpy(buf, m->data + m->pos, *n_r);
	m->pos += *n_r;
	return MF_OK;
}

static void *plugin_ctx;

static struct mf_sink *open_sink(void)
{
	static char port_s[16];
	snprintf(port_s, sizeof(port_s), "%s", getenv("MF_TEST_IMAP_PORT"));
	static const char *const opts[] = { NULL };
	struct mf_account acct = {
		.id = "sinktest",
		.scheme = "alimail",
		.host = "127.0.0.1",
		.port = (uint16_t)strtoul(port_s, NULL, 10),
		.user = getenv("MF_TEST_IMAP_USER"),
		.password = getenv("MF_TEST_IMAP_PASS"),
		.options = opts,
	};
	struct mf_error err = { 0 };
	ck_assert_int_eq(alimail_plugin_init(&host, &plugin_ctx, &err), MF_OK);
	struct mf_sink *snk;
	ck_assert_msg(alimail_sink_ops.open(plugin_ctx, &acct, &snk, &err) == MF_OK, "%s",
		      err.text);
	return snk;
}

static void digest_of(const char *s, unsigned char out[32])
{
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, s, strlen(s));
	mf_sha256_final(h, out);
	mf_sha256_free(&h);
}

START_TEST(ensure_folder_creates_and_maps)
{
	struct mf_sink *snk = open_sink();
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(alimail_sink_ops.ensure_folder(snk, "Projekte/Übersicht", MF_SPECIAL_NONE,
							&actual, &err),
			 MF_OK);
	ck_assert_str_eq(actual, "Projekte/Übersicht");
	free(actual);
	ck_assert_int_eq(alimail_sink_ops.ensure_folder(snk, "Gesendete Objekte", MF_SPECIAL_SENT,
							&actual, &err),
			 MF_OK);
	ck_assert_str_eq(actual, "Sent"); /* Dovecot's \Sent folder */
	free(actual);
	ck_assert_int_eq(alimail_sink_ops.ensure_folder(snk, "a+b*c", MF_SPECIAL_NONE, &actual,
							&err),
			 MF_OK);
	ck_assert_str_eq(actual, "a_b_c"); /* alimail:// sanitises */
	free(actual);
	alimail_sink_ops.close(&snk);
	ck_assert_ptr_null(snk);
	alimail_plugin_deinit(plugin_ctx);
}
END_TEST

START_TEST(append_then_lookup_by_digest)
{
	struct mf_sink *snk = open_sink();
	struct mf_error err = { 0 };
	char *folder = NULL;
	ck_assert_int_eq(alimail_sink_ops.ensure_folder(snk, "Lookup", MF_SPECIAL_NONE, &folder,
							&err),
			 MF_OK);
	/* Two messages, same Message-ID, same size, different bytes. */
	const char *a = "Message-ID: <dup@x>\r\nSubject: A\r\n\r\nbody A\r\n";
	const char *b = "Message-ID: <dup@x>\r\nSubject: B\r\n\r\nbody B\r\n";
	struct memmsg ma = { a, 0 };
	struct mf_message msg = {
		.source_id = "1",
		.size = strlen(a),
		.internal_date = 1580551200,
		.flags = MF_FLAG_SEEN,
		.read = mem_read,
		.read_ctx = &ma,
	};
	struct mf_append_result res;
	ck_assert_msg(alimail_sink_ops.append(snk, folder, &msg, &res, &err) == MF_OK, "%s",
		      err.text);
	ck_assert_msg(strchr(res.target_id, ':') != NULL, "target id %s", res.target_id);
	unsigned char da[32], db[32];
	digest_of(a, da);
	digest_of(b, db);
	bool found = false;
	struct mf_append_result lres;
	ma.pos = 0;
	ck_assert_msg(alimail_sink_ops.lookup(snk, folder, &msg, da, &found, &lres, &err) == MF_OK,
		      "%s", err.text);
	ck_assert(found);
	ck_assert_str_eq(lres.target_id, res.target_id);
	/* b is not there, although Message-ID and size match. */
	struct memmsg mb = { b, 0 };
	msg.read_ctx = &mb;
	ck_assert_int_eq(alimail_sink_ops.lookup(snk, folder, &msg, db, &found, &lres, &err),
			 MF_OK);
	ck_assert(!found);
	free(folder);
	alimail_sink_ops.close(&snk);
	alimail_plugin_deinit(plugin_ctx);
}
END_TEST

/* An LF-only message (as read from an mbox): the server stores and serves
 * it with CRLF, and lookup must still find it, or a crash during such an
 * append would copy the message twice. */
START_TEST(lf_only_message_is_found_in_its_crlf_form)
{
	struct mf_sink *snk = open_sink();
	struct mf_error err = { 0 };
	char *folder = NULL;
	ck_assert_int_eq(alimail_sink_ops.ensure_folder(snk, "LookupLF", MF_SPECIAL_NONE, &folder,
							&err),
			 MF_OK);
	const char *lf = "Message-ID: <lf@x>\nSubject: LF\n\nline one\nline two\n";
	const char *nomid = "Subject: no id\n\nbare\n";
	struct mf_append_result res[2];
	const char *const bodies[] = { lf, nomid };
	for (int i = 0; i < 2; i++) {
		struct memmsg m = { bodies[i], 0 };
		struct mf_message msg = {
			.source_id = "lf",
			.size = strlen(bodies[i]),
			.internal_date = 1580551200,
			.read = mem_read,
			.read_ctx = &m,
		};
		ck_assert_msg(alimail_sink_ops.append(snk, folder, &msg, &res[i], &err) == MF_OK,
			      "%s", err.text);
		unsigned char d[32];
		digest_of(bodies[i], d);
		m.pos = 0;
		bool found = false;
		struct mf_append_result lres;
		ck_assert_msg(alimail_sink_ops.lookup(snk, folder, &msg, d, &found, &lres, &err) ==
				      MF_OK,
			      "%s", err.text);
		ck_assert_msg(found, "message %d not found", i);
		ck_assert_str_eq(lres.target_id, res[i].target_id);
	}
	free(folder);
	alimail_sink_ops.close(&snk);
	alimail_plugin_deinit(plugin_ctx);
}
END_TEST

START_TEST(names_map_both_ways)
{
	char *p = imapc_name_to_path("INBOX.&XfJT0ZAB-.a/b", '.', "INBOX.");
	ck_assert_str_eq(p, "已发送/a_b");
	char *n = imapc_path_to_name(p, '.', "INBOX.");
	ck_assert_str_eq(n, "INBOX.&XfJT0ZAB-.a_b");
	free(p);
	free(n);
	p = imapc_name_to_path("inbox", '/', NULL);
	ck_assert_str_eq(p, "INBOX");
	free(p);
	p = imapc_name_to_path("Inbox/Sub", '/', NULL);
	ck_assert_str_eq(p, "INBOX/Sub");
	free(p);
	n = imapc_path_to_name("x.y/z", '.', NULL); /* '.' inside a level */
	ck_assert_str_eq(n, "x_y.z");
	free(n);
	n = imapc_path_to_name("A&B/C", 0, NULL); /* flat server */
	ck_assert_str_eq(n, "A&-B_C");
	free(n);
	p = imapc_name_to_path("&Jjo", '/', NULL); /* not mUTF-7: kept */
	ck_assert_str_eq(p, "&Jjo");
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap_sink");
	TCase *tn = tcase_create("names");
	tcase_add_test(tn, names_map_both_ways);
	suite_add_tcase(s, tn);
	/* Only when tests/integration/imap_sink_ops.sh provides a server. */
	if (getenv("MF_TEST_IMAP_PORT") != NULL) {
		TCase *tc = tcase_create("dovecot");
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, ensure_folder_creates_and_maps);
		tcase_add_test(tc, append_then_lookup_by_digest);
		tcase_add_test(tc, lf_only_message_is_found_in_its_crlf_form);
		suite_add_tcase(s, tc);
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
