/* SPDX-License-Identifier: MIT */
/* Check suite for folder discovery and fetch of the offline sources on
 * trees: an mbox directory (Thunderbird .sbd, Apple Mail X.mbox/mbox,
 * index files skipped), Maildir++ with keywords and modified UTF-7 names,
 * nested maildirs, and .eml trees, using the fixtures in tests/data/mbox/
 * plus trees built at run time for odd names, collisions and bad files.
 * Message bytes are compared with the files themselves, sizes and dates
 * with stat(). */
#include <config.h>
#include "check_mbox_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static void setup(void)
{
	dir = t_tmpdir();
	test_cancel = false;
}

static void teardown(void)
{
	t_rm_rf(dir);
	free(dir);
}

static char *fixture(const char *rel)
{
	return mf_xasprintf("%s/mbox/%s", TEST_DATA_DIR, rel);
}

static void ck_list(const char *scheme, const char *path, const char *const *opts, const char *want)
{
	struct mf_error err;
	int rc;
	struct mf_source *src = t_open(scheme, path, opts, &rc, &err);
	ck_assert_msg(src != NULL, "open %s: %s", path, err.text);
	char *l = t_list(src, &rc, &err);
	ck_assert_int_eq(rc, MF_OK);
	ck_assert_str_eq(l, want);
	free(l);
	t_close(src);
}

static struct got fetch(const char *scheme, const char *path, const char *const *opts,
			const char *folder, int want_rc)
{
	struct mf_error err;
	int rc;
	struct got g = { 0 };
	struct mf_source *src = t_open(scheme, path, opts, &rc, &err);
	ck_assert_msg(src != NULL, "open %s: %s", path, err.text);
	rc = t_fetch(src, folder, &g, &err);
	ck_assert_msg(rc == want_rc, "fetch %s: rc %d: %s", folder, rc, err.text);
	t_close(src);
	return g;
}

/* The message must be exactly the file, with the file's size and mtime. */
static void ck_is_file(const struct got_msg *m, const char *path, bool mtime)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	char *buf = malloc((size_t)st.st_size + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	ck_assert_uint_eq(m->size, (uint64_t)st.st_size);
	ck_assert(t_body_is(m, buf, (size_t)st.st_size));
	if (mtime)
		ck_assert_int_eq(m->date, (int64_t)st.st_mtime);
	free(buf);
}

START_TEST(mbox_tree_maps_sbd_apple_and_plain_dirs)
{
	char *root = fixture("tree");
	ck_list("mbox", root, NULL,
		"INBOX[i];Archive[c];Archive/2024[-];Archive/2025[-];Drafts[d];"
		"Junk[j];Projects[-];Projects/Alpha[-];Sent[s];lists[c];"
		"lists/mutt-users[-]");
	struct got g = fetch("mbox", root, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	ck_assert_ptr_nonnull(memmem(g.v[1].body, g.v[1].body_len, "two\nFrom quoted\n", 16));
	got_free(&g);
	g = fetch("mbox", root, NULL, "Archive/2024", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_ptr_nonnull(memmem(g.v[0].body, g.v[0].body_len, "archived 2024\n", 14));
	got_free(&g);
	g = fetch("mbox", root, NULL, "Junk", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	got_free(&g);
	g = fetch("mbox", root, NULL, "Archive", MF_OK); /* container */
	ck_assert_uint_eq(g.n, 0);
	g = fetch("mbox", root, NULL, "Drafts", MF_OK); /* empty file */
	ck_assert_uint_eq(g.n, 0);
	g = fetch("mbox", root, NULL, "Inbox.msf", MF_ERR_FOLDER);
	free(root);
}
END_TEST

START_TEST(mbox_tree_bad_file_fails_only_its_folder)
{
	free(T_WRITE_STR(dir, "Good", "From a Thu Nov 26 12:00:00 2026\n\nok\n"));
	free(T_WRITE_STR(dir, "notes", "just some text\n"));
	free(T_WRITE_STR(dir, "caf\xe9", "From a Thu Nov 26 12:00:00 2026\n\nc\n"));
	free(T_WRITE_STR(dir, "INBOX", "From a Thu Nov 26 12:00:00 2026\n\ni\n"));
	free(T_WRITE_STR(dir, "inbox", "From a Thu Nov 26 12:00:00 2026\n\nj\n"));
	free(T_WRITE_STR(dir, "Sent.mbox", "From a Thu Nov 26 12:00:00 2026\n\ns\n"));
	ck_list("mbox", dir, NULL, "INBOX[i];Good[-];Sent[s];caf\xc3\xa9[-];inbox[-];notes[-]");
	struct mf_error err;
	int rc;
	struct mf_source *src = t_open("mbox", dir, NULL, &rc, &err);
	struct got g = { 0 };
	ck_assert_int_eq(t_fetch(src, "notes", &g, &err), MF_ERR_FOLDER);
	ck_assert_ptr_nonnull(strstr(err.text, "/notes"));
	ck_assert_int_eq(t_fetch(src, "Good", &g, &err), MF_OK);
	ck_assert_int_eq(t_fetch(src, "caf\xc3\xa9", &g, &err), MF_OK);
	ck_assert_int_eq(t_fetch(src, "INBOX", &g, &err), MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert(T_BODY(&g.v[0], "\nok\n")); /* no header at all */
	ck_assert(T_BODY(&g.v[1], "\nc\n"));
	ck_assert(T_BODY(&g.v[2], "\ni\n")); /* the real INBOX, not "inbox" */
	got_free(&g);
	t_close(src);
}
END_TEST

START_TEST(maildirpp_flags_keywords_and_names)
{
	char *root = fixture("maildir");
	ck_list("maildir", root, NULL,
		"INBOX[i,n=3];Archive[c];Archive/2024[-,n=1];Drafts[d,n=1];"
		"Sent[s,n=1];\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e[-,n=1]");
	struct got g = fetch("maildir", root, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0].id, "1700000000.M1P1.host");
	ck_assert_str_eq(g.v[1].id, "1700000001.M2P2.host");
	ck_assert_str_eq(g.v[2].id, "1700000002.M3P3.host");
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	ck_assert_uint_eq(g.v[1].flags, MF_FLAG_ANSWERED | MF_FLAG_FLAGGED);
	ck_assert_str_eq(g.v[1].keywords, "$Work");
	ck_assert_uint_eq(g.v[2].flags, 0);
	char *p = fixture("maildir/cur/1700000001.M2P2.host:2,RFa");
	ck_is_file(&g.v[1], p, true);
	free(p);
	p = fixture("maildir/new/1700000002.M3P3.host");
	ck_is_file(&g.v[2], p, true);
	free(p);
	got_free(&g);

	g = fetch("maildir", root, NULL, "Archive/2024", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN | MF_FLAG_DELETED);
	got_free(&g);
	g = fetch("maildir", root, NULL, "Drafts", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_DRAFT);
	got_free(&g);

	/* Resume: the id survives a flag change (new name, same base). */
	const char *have[] = { "1700000001.M2P2.host", NULL };
	struct mf_error err;
	int rc;
	struct mf_source *src = t_open("maildir", root, NULL, &rc, &err);
	struct got g2 = { .have = have };
	ck_assert_int_eq(t_fetch(src, "INBOX", &g2, &err), MF_OK);
	ck_assert_uint_eq(g2.n, 2);
	ck_assert_str_eq(g2.v[1].id, "1700000002.M3P3.host");
	got_free(&g2);
	t_close(src);
	free(root);
}
END_TEST

START_TEST(nested_maildirs_are_folders_by_path)
{
	char *root = fixture("maildir-tree");
	ck_list("maildir", root, NULL,
		"INBOX[i,n=2];Projects[c];Projects/Alpha[-,n=1];"
		"Projects/Beta[-,n=1]");
	struct got g = fetch("maildir", root, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	ck_assert_uint_eq(g.v[1].flags, 0);
	got_free(&g);
	g = fetch("maildir", root, NULL, "Projects/Alpha", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_FLAGGED);
	got_free(&g);
	free(root);
}
END_TEST

START_TEST(maildir_runtime_names_and_info_separators)
{
	free(T_WRITE_STR(dir, "cur/1.a;2,S", "a\n"));
	free(T_WRITE_STR(dir, "cur/2.b!2,FP", "b\n"));
	free(T_WRITE_STR(dir, "cur/.hidden:2,S", "h\n"));
	free(T_WRITE_STR(dir, "new/3.c:2,S", "c\n")); /* new/: never seen */
	free(T_WRITE_STR(dir, ".Caf\xc3\xa9/cur/4.d:2,", "d\n"));
	free(T_WRITE_STR(dir, ".A.B.C/new/5.e", "e\n"));
	free(T_WRITE_STR(dir, ".bad..name/new/6.f", "f\n"));
	free(T_WRITE_STR(dir, ".Sent/cur/7.g:2,S", "g\n"));
	free(T_WRITE_STR(dir, "Sent/cur/8.h:2,S", "h\n")); /* nested: clash */
	ck_list("maildir", dir, NULL,
		"INBOX[i,n=3];A[c];A/B[c];A/B/C[-,n=1];Caf\xc3\xa9[-,n=1];"
		"Sent[s,n=1]");
	struct got g = fetch("maildir", dir, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0].id, "1.a");
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	ck_assert_str_eq(g.v[1].id, "2.b");
	ck_assert_uint_eq(g.v[1].flags, MF_FLAG_FLAGGED | MF_FLAG_FORWARDED);
	ck_assert_str_eq(g.v[2].id, "3.c");
	ck_assert_uint_eq(g.v[2].flags, 0);
	ck_assert(T_BODY(&g.v[2], "c\n"));
	got_free(&g);

	char letters[27];
	ck_assert_uint_eq(maildir_name_flags("x:2,DRSTzab", letters, sizeof(letters)),
			  MF_FLAG_DRAFT | MF_FLAG_ANSWERED | MF_FLAG_SEEN | MF_FLAG_DELETED);
	ck_assert_str_eq(letters, "zab");
	ck_assert_uint_eq(maildir_name_flags("x:1,S", letters, sizeof(letters)), 0);
	ck_assert_uint_eq(maildir_name_flags("x", letters, sizeof(letters)), 0);
	ck_assert_uint_eq(maildir_base_len("123.host:2,S"), 8);
	ck_assert_uint_eq(maildir_base_len("123.host"), 8);
	ck_assert_uint_eq(maildir_base_len("12;x.host;2,S"), 9);
}
END_TEST

START_TEST(eml_tree_folders_ids_and_dates)
{
	char *root = fixture("eml");
	ck_list("eml", root, NULL,
		"INBOX[i,n=3];Sent Items[s,n=1];Top of Personal Folders[c];"
		"Top of Personal Folders/Deleted Items[t,n=2]");
	struct got g = fetch("eml", root, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0].id, "1.eml");
	ck_assert_str_eq(g.v[1].id, "2.eml");
	ck_assert_str_eq(g.v[2].id, "10.eml");
	ck_assert_int_eq(g.v[0].date, 1793610000);
	ck_assert_int_eq(g.v[0].tz, 60);
	ck_assert_int_eq(g.v[1].date, 1793613600);
	ck_assert_uint_eq(g.v[0].flags, 0);
	char *p = fixture("eml/1.eml");
	ck_is_file(&g.v[0], p, false);
	free(p);
	p = fixture("eml/10.eml");
	ck_is_file(&g.v[2], p, true); /* no Date: → mtime */
	free(p);
	got_free(&g);

	static const char *const seen[] = { "seen=1", NULL };
	g = fetch("eml", root, seen, "Top of Personal Folders/Deleted Items", MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.v[0].id, "Top of Personal Folders/Deleted Items/1.eml");
	ck_assert_str_eq(g.v[1].id, "Top of Personal Folders/Deleted Items/2.EML");
	ck_assert_uint_eq(g.v[0].flags, MF_FLAG_SEEN);
	ck_assert_int_eq(g.v[0].date, 1793786400);
	got_free(&g);
	static const char *const bad[] = { "seen=maybe", NULL };
	struct mf_error err;
	int rc;
	ck_assert_ptr_null(t_open("eml", root, bad, &rc, &err));
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	free(root);
}
END_TEST

START_TEST(eml_root_files_and_inbox_dir_do_not_merge)
{
	free(T_WRITE_STR(dir, "a.eml", "Subject: root\n\nr\n"));
	free(T_WRITE_STR(dir, "Inbox/b.eml", "Subject: dir\n\nd\n"));
	free(T_WRITE_STR(dir, "Inbox/Sub/c.eml", "Subject: sub\n\ns\n"));
	ck_list("eml", dir, NULL, "INBOX[i,n=1];Inbox[-,n=1];Inbox/Sub[-,n=1]");
	struct got g = fetch("eml", dir, NULL, "Inbox/Sub", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.v[0].id, "Inbox/Sub/c.eml");
	ck_assert(T_BODY(&g.v[0], "Subject: sub\n\ns\n"));
	got_free(&g);
}
END_TEST

START_TEST(name_helpers_decode_and_sort)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		{ "&-", "&" },
		{ "Hello", "Hello" },
		{ "&Jjo-!", "\xe2\x98\xba!" },
		{ "&2D3eAQ-", "\xf0\x9f\x98\x81" },
		{ "&ZeVnLIqe", NULL },
		{ "&2D0-", NULL },
		{ "Caf\xc3\xa9", NULL },
		{ "&Z?-", NULL },
		{ "&ZeVnLIqeA-", NULL },
		{ "&ZeVnLIqeB-", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *o = offline_mutf7_decode(t[i].in, strlen(t[i].in));
		if (t[i].out == NULL)
			ck_assert_msg(o == NULL, "%s", t[i].in);
		else
			ck_assert_msg(o != NULL && strcmp(o, t[i].out) == 0, "%s", t[i].in);
		free(o);
	}
	char *n = offline_name_from_bytes("a\xe9\x01z\xe4\xb8\xad", 7);
	ck_assert_str_eq(n, "a\xc3\xa9_z\xe4\xb8\xad");
	free(n);
	ck_assert_int_lt(offline_natural_cmp("2.eml", "10.eml"), 0);
	ck_assert_int_gt(offline_natural_cmp("10.eml", "9.eml"), 0);
	ck_assert_int_eq(offline_natural_cmp("007.eml", "7.eml"), 0);
	ck_assert_int_lt(offline_natural_cmp("a", "ab"), 0);
}
END_TEST

START_TEST(symlink_loops_are_not_followed)
{
	free(T_WRITE_STR(dir, "A", "From a Thu Nov 26 12:00:00 2026\n\na\n"));
	free(T_WRITE_STR(dir, "sub/B", "From a Thu Nov 26 12:00:00 2026\n\nb\n"));
	free(T_WRITE_STR(dir, "sub/c.eml", "Subject: c\n\nc\n"));
	char *l1 = mf_xasprintf("%s/loop", dir), *l2 = mf_xasprintf("%s/sub/up", dir);
	ck_assert_int_eq(symlink(".", l1), 0);
	ck_assert_int_eq(symlink("..", l2), 0);
	ck_list("mbox", dir, NULL, "A[-];sub[c];sub/B[-]");
	ck_list("eml", dir, NULL, "sub[-,n=1]");
	ck_list("maildir", dir, NULL, "");
	free(l1);
	free(l2);
}
END_TEST

START_TEST(inbox_children_follow_the_inbox)
{
	free(T_WRITE_STR(dir, "mb/Inbox", "From a Thu Nov 26 12:00:00 2026\n\na\n"));
	free(T_WRITE_STR(dir, "mb/Inbox.sbd/Sub", "From a Thu Nov 26 12:00:00 2026\n\nb\n"));
	free(T_WRITE_STR(dir, "mb/Inbox.sbd/Sent", "From a Thu Nov 26 12:00:00 2026\n\nc\n"));
	char *p = mf_xasprintf("%s/mb", dir);
	ck_list("mbox", p, NULL, "INBOX[i];INBOX/Sent[s];INBOX/Sub[-]");
	struct got g = fetch("mbox", p, NULL, "INBOX/Sub", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert(T_BODY(&g.v[0], "\nb\n"));
	got_free(&g);
	free(p);
	free(T_WRITE_STR(dir, "em/inbox/b.eml", "Subject: b\n\nb\n"));
	free(T_WRITE_STR(dir, "em/inbox/Sub/c.eml", "Subject: c\n\nc\n"));
	p = mf_xasprintf("%s/em", dir);
	ck_list("eml", p, NULL, "INBOX[i,n=1];INBOX/Sub[-,n=1]");
	g = fetch("eml", p, NULL, "INBOX/Sub", MF_OK);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.v[0].id, "inbox/Sub/c.eml");
	got_free(&g);
	free(p);
}
END_TEST

START_TEST(fifo_in_maildir_is_skipped)
{
	free(T_WRITE_STR(dir, "cur/1.a:2,S", "a\n"));
	free(T_WRITE_STR(dir, "cur/3.c:2,", "c\n"));
	char *f = mf_xasprintf("%s/cur/2.b:2,S", dir);
	ck_assert_int_eq(mkfifo(f, 0600), 0);
	struct got g = fetch("maildir", dir, NULL, "INBOX", MF_OK);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.v[0].id, "1.a");
	ck_assert_str_eq(g.v[1].id, "3.c");
	got_free(&g);
	free(f);
}
END_TEST

static Suite *trees_suite(void)
{
	Suite *s = suite_create("mbox_trees");
	TCase *tc = tcase_create("trees");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, mbox_tree_maps_sbd_apple_and_plain_dirs);
	tcase_add_test(tc, mbox_tree_bad_file_fails_only_its_folder);
	tcase_add_test(tc, maildirpp_flags_keywords_and_names);
	tcase_add_test(tc, nested_maildirs_are_folders_by_path);
	tcase_add_test(tc, maildir_runtime_names_and_info_separators);
	tcase_add_test(tc, eml_tree_folders_ids_and_dates);
	tcase_add_test(tc, eml_root_files_and_inbox_dir_do_not_merge);
	tcase_add_test(tc, name_helpers_decode_and_sort);
	tcase_add_test(tc, symlink_loops_are_not_followed);
	tcase_add_test(tc, inbox_children_follow_the_inbox);
	tcase_add_test(tc, fifo_in_maildir_is_skipped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trees_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
