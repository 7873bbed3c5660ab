/* SPDX-License-Identifier: MIT */
/* Check suite for the local sink's maildir half and its plugin surface:
 * the descriptor, open/close, folder mapping (Maildir++ names, nested,
 * non-ASCII, INBOX, special-use policy), byte-exact append with flags,
 * keywords and dates in the file name, size mismatches and read failures
 * leaving nothing behind, lookup for crash recovery, and tmp/ cleanup.
 * The ops table is called directly with a fake host and message
 * (check_local_sink_fake.c); the mbox half is in check_local_sink_mbox.c,
 * full-disk and read-only file systems in check_local_sink_enospc.c. */
#include <config.h>
#include "check_local_sink_fake.h"
#include "sinks/local/local_p.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *dir;  /* per test: temp dir */
static char *root; /* dir/Maildir */
static struct mf_sink *snk;

static void setup(void)
{
	fake_fixture_open("maildir", "Maildir", &dir, &root, &snk);
}

static void teardown(void)
{
	fake_fixture_close(&dir, &root, &snk);
}

static char *path_of(const char *rel)
{
	return mf_xasprintf("%s/%s", root, rel);
}

static bool is_dir(const char *rel)
{
	char *p = path_of(rel);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

static bool is_file(const char *rel)
{
	char *p = path_of(rel);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return ok;
}

static int count(const char *rel)
{
	char *p = path_of(rel);
	int n = fake_count(p);
	free(p);
	return n;
}

/* Append data to folder; returns the status, target id in res. */
static int append(const char *folder, struct fake_msg *f, struct mf_append_result *res,
		  struct mf_error *err)
{
	return fake_ops()->append(snk, folder, &f->m, res, err);
}

/* Append and return the one file name in <folder dir>/cur. */
static char *append_one(const char *folder, const char *dirrel, struct fake_msg *f,
			struct mf_append_result *res)
{
	struct mf_error err = { 0 };
	int rc = append(folder, f, res, &err);
	ck_assert_msg(rc == MF_OK, "append: %s", err.text);
	char *cur = mf_xasprintf("%s/%s/cur", root, dirrel);
	char *name = fake_only(cur);
	ck_assert_msg(name != NULL, "expected exactly one file in %s", cur);
	free(cur);
	return name;
}

START_TEST(descriptor_names_local_sink_with_both_schemes)
{
	const struct mf_plugin *p = &local_LTX_mailferry_plugin;
	ck_assert_uint_eq(p->abi_major, MF_ABI_MAJOR);
	ck_assert_uint_eq(p->struct_size, sizeof(struct mf_plugin));
	ck_assert_int_eq(p->kind, MF_PLUGIN_SINK);
	ck_assert_str_eq(p->name, "local");
	ck_assert_str_eq(p->schemes[0], "maildir");
	ck_assert_str_eq(p->schemes[1], "mbox");
	ck_assert_ptr_null(p->schemes[2]);
	ck_assert(p->caps & MF_CAP_RETURNS_ID);
	ck_assert(p->caps & MF_CAP_KEYWORDS);
	ck_assert_ptr_null(p->source);
	ck_assert_ptr_nonnull(p->sink);
	ck_assert_uint_eq(p->sink->struct_size, sizeof(struct mf_sink_ops));
	ck_assert_ptr_nonnull(p->sink->lookup);
}
END_TEST

/* verify reads the store back through the offline source, at a URI
 * whose path the core decodes again: '%' and '?' must survive. */
START_TEST(reader_uri_is_the_offline_source_at_the_same_path)
{
	static const char *const none[] = { NULL };
	struct mf_account a = {
		.id = "x", .scheme = "maildir", .path = "/srv/100% mail?a=b", .options = none
	};
	struct mf_error err;
	char *uri = NULL;
	ck_assert_ptr_nonnull(local_sink_ops.reader_uri);
	ck_assert_int_eq(local_sink_ops.reader_uri(NULL, &a, &uri, &err), MF_OK);
	ck_assert_str_eq(uri, "maildir:/srv/100%25 mail%3Fa=b");
	free(uri);
	a.scheme = "mbox";
	a.path = "rel/Mail";
	ck_assert_int_eq(local_sink_ops.reader_uri(NULL, &a, &uri, &err), MF_OK);
	ck_assert_str_eq(uri, "mbox:rel/Mail");
	free(uri);
	a.scheme = "eml";
	ck_assert_int_eq(local_sink_ops.reader_uri(NULL, &a, &uri, &err), MF_ERR_FATAL);
	ck_assert_ptr_null(uri);
}
END_TEST

START_TEST(open_creates_maildir_root)
{
	ck_assert(is_dir("cur"));
	ck_assert(is_dir("new"));
	ck_assert(is_dir("tmp"));
	ck_assert(!is_file("maildirfolder"));
}
END_TEST

START_TEST(close_is_null_safe_and_safe_after_failed_open)
{
	struct mf_error err = { 0 };
	struct mf_sink *s = NULL;

	fake_ops()->close(NULL);
	fake_ops()->close(&s);
	/* A path below a regular file cannot become a maildir. */
	char *file = mf_xasprintf("%s/plain", dir);
	fake_write_file(file, "x", 1);
	char *bad = mf_xasprintf("%s/sub", file);
	int rc = fake_open("maildir", bad, &s, &err);
	ck_assert_int_eq(rc, MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, ENOTDIR);
	ck_assert_msg(strstr(err.text, bad) != NULL, "%s", err.text);
	fake_ops()->close(&s);
	ck_assert_ptr_null(s);
	rc = fake_open("mbox", bad, &s, &err);
	ck_assert_int_eq(rc, MF_ERR_ACCOUNT);
	fake_ops()->close(&s);
	rc = fake_open("maildir", "", &s, &err);
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	fake_ops()->close(&s);
	rc = fake_open("imap", root, &s, &err);
	ck_assert_int_eq(rc, MF_ERR_FATAL);
	fake_ops()->close(&s);
	free(bad);
	free(file);
}
END_TEST

/* NULs, CRLF and LF mixed, no final newline, several read buffers long. */
static unsigned char *nasty_message(size_t len)
{
	static const char head[] = "From: a@b\r\nSubject: x\r\n\r\nFrom here\n";
	unsigned char *d = mf_xmalloc(len);
	memcpy(d, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < len; i++)
		d[i] = (unsigned char)((i * 131u + 7u) % 251u);
	d[100] = '\0';
	d[len - 1] = 'z';
	return d;
}

START_TEST(append_is_byte_identical)
{
	const size_t lens[] = { 1, 90, 200 * 1024 + 3 };
	for (size_t k = 0; k < 3; k++) {
		unsigned char *data = nasty_message(lens[k] < 200 ? 200 : lens[k]);
		size_t len = lens[k];
		struct fake_msg f;
		struct mf_append_result res;
		fake_msg_init(&f, data, len);
		f.chunk = k == 2 ? 4093 : 3;
		char *name = append_one("INBOX", ".", &f, &res);
		char *path = mf_xasprintf("%s/cur/%s", root, name);
		size_t got_len;
		unsigned char *got = fake_slurp(path, &got_len);
		ck_assert_uint_eq(got_len, len);
		ck_assert(memcmp(got, data, len) == 0);
		ck_assert_int_eq(count("tmp"), 0);
		/* <date>.M<usec>P<pid>Q<n>_mf<hash16>.<host>,S=<size>:2, */
		char hex[65], want[64];
		fake_sha_hex(data, len, hex);
		snprintf(want, sizeof(want), "_mf%.16s.", hex);
		ck_assert_msg(strstr(name, want) != NULL, "%s", name);
		snprintf(want, sizeof(want), ",S=%zu:2,", len);
		ck_assert_msg(strstr(name, want) != NULL, "%s", name);
		snprintf(want, sizeof(want), "P%ldQ", (long)getpid());
		ck_assert_msg(strstr(name, want) != NULL, "%s", name);
		ck_assert_msg(strstr(name, ".M") != NULL, "%s", name);
		ck_assert_uint_eq(strlen(res.target_id), strcspn(name, ":"));
		ck_assert(strncmp(res.target_id, name, strlen(res.target_id)) == 0);
		unlink(path);
		free(path);
		free(got);
		free(name);
		free(data);
	}
}
END_TEST

START_TEST(empty_message_is_stored)
{
	struct fake_msg f;
	struct mf_append_result res;
	fake_msg_init(&f, "", 0);
	char *name = append_one("INBOX", ".", &f, &res);
	ck_assert_msg(strstr(name, ",S=0:2,") != NULL, "%s", name);
	free(name);
}
END_TEST

START_TEST(flags_map_to_info_letters_in_ascii_order)
{
	static const struct {
		uint32_t flags;
		const char *info;
	} cases[] = {
		{ 0, ":2," },
		{ MF_FLAG_SEEN, ":2,S" },
		{ MF_FLAG_SEEN | MF_FLAG_ANSWERED, ":2,RS" },
		{ MF_FLAG_DELETED | MF_FLAG_DRAFT, ":2,DT" },
		{ MF_FLAG_SEEN | MF_FLAG_ANSWERED | MF_FLAG_FLAGGED | MF_FLAG_DELETED |
			  MF_FLAG_DRAFT | MF_FLAG_FORWARDED,
		  ":2,DFPRST" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_msg f;
		struct mf_append_result res;
		fake_msg_init(&f, "Subject: f\n\nx\n", 14);
		f.m.flags = cases[i].flags;
		char *name = append_one("INBOX", ".", &f, &res);
		const char *info = strchr(name, ':');
		ck_assert_ptr_nonnull(info);
		ck_assert_str_eq(info, cases[i].info);
		char *path = mf_xasprintf("%s/cur/%s", root, name);
		unlink(path);
		free(path);
		free(name);
	}
}
END_TEST

START_TEST(keywords_use_dovecot_keywords_letters)
{
	static const char *const kw1[] = { "Work", "$label1", "bad kw", NULL };
	static const char *const kw2[] = { "$Label1", "work", "Later", NULL };
	struct fake_msg f;
	struct mf_append_result res;
	struct mf_error err = { 0 };
	char *actual = NULL;

	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Projects", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	fake_msg_init(&f, "a\n", 2);
	f.m.keywords = kw1;
	f.m.flags = MF_FLAG_SEEN;
	char *n1 = append_one(actual, ".Projects", &f, &res);
	ck_assert_str_eq(strchr(n1, ':'), ":2,Sab");
	char *kwpath = path_of(".Projects/dovecot-keywords");
	size_t len;
	unsigned char *kwfile = fake_slurp(kwpath, &len);
	ck_assert_ptr_nonnull(kwfile);
	ck_assert_str_eq((char *)kwfile, "0 Work\n1 $label1\n");
	free(kwfile);
	ck_assert_int_eq(count(".Projects/tmp"), 0);

	/* Second message: existing letters reused case-insensitively. */
	char *curdir = path_of(".Projects/cur");
	char *p1 = mf_xasprintf("%s/%s", curdir, n1);
	unlink(p1);
	fake_msg_init(&f, "b\n", 2);
	f.m.keywords = kw2;
	char *n2 = append_one(actual, ".Projects", &f, &res);
	ck_assert_str_eq(strchr(n2, ':'), ":2,abc");
	kwfile = fake_slurp(kwpath, &len);
	ck_assert_str_eq((char *)kwfile, "0 Work\n1 $label1\n2 Later\n");
	free(kwfile);
	free(p1);
	free(curdir);
	free(kwpath);
	free(n1);
	free(n2);
	free(actual);
}
END_TEST

START_TEST(parallel_sessions_never_reuse_a_keyword_letter)
{
	static const char *const kx[] = { "X", NULL };
	static const char *const ky[] = { "Y", NULL };
	struct mf_sink *other = NULL;
	struct mf_error err = { 0 };
	struct mf_append_result res;
	struct fake_msg f;

	ck_assert_int_eq(fake_open("maildir", root, &other, &err), MF_OK);
	/* Both sessions have read the (empty) keyword table of INBOX. */
	fake_msg_init(&f, "1\n", 2);
	ck_assert_int_eq(fake_ops()->append(other, "INBOX", &f.m, &res, &err), MF_OK);
	fake_msg_init(&f, "2\n", 2);
	ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_OK);
	/* Each adds its own keyword: the second must see the first's. */
	fake_msg_init(&f, "3\n", 2);
	f.m.keywords = kx;
	ck_assert_int_eq(fake_ops()->append(other, "INBOX", &f.m, &res, &err), MF_OK);
	fake_msg_init(&f, "4\n", 2);
	f.m.keywords = ky;
	ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_OK);
	fake_ops()->close(&other);
	char *kwpath = path_of("dovecot-keywords");
	size_t len;
	unsigned char *kwfile = fake_slurp(kwpath, &len);
	ck_assert_str_eq((char *)kwfile, "0 X\n1 Y\n");
	free(kwfile);
	free(kwpath);
	char *cur = path_of("cur");
	char *pat = mf_xasprintf("%s/*:2,b", cur);
	glob_t g;
	ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 1);
	globfree(&g);
	free(pat);
	free(cur);
}
END_TEST

START_TEST(keywords_beyond_26_are_dropped_not_fatal)
{
	char *names[30];
	const char *kws[31];
	for (int i = 0; i < 30; i++) {
		names[i] = mf_xasprintf("kw%02d", i);
		kws[i] = names[i];
	}
	kws[30] = NULL;
	struct fake_msg f;
	struct mf_append_result res;
	fake_msg_init(&f, "c\n", 2);
	f.m.keywords = kws;
	char *n = append_one("INBOX", ".", &f, &res);
	ck_assert_str_eq(strchr(n, ':'), ":2,abcdefghijklmnopqrstuvwxyz");
	free(n);
	for (int i = 0; i < 30; i++)
		free(names[i]);
}
END_TEST

START_TEST(mtime_and_name_carry_internal_date)
{
	struct fake_msg f;
	struct mf_append_result res;
	struct stat st;
	fake_msg_init(&f, "d\n", 2);
	f.m.internal_date = 1234567890;
	char *name = append_one("INBOX", ".", &f, &res);
	ck_assert(strncmp(name, "1234567890.M", 12) == 0);
	char *path = mf_xasprintf("%s/cur/%s", root, name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((long long)st.st_mtime, 1234567890LL);
	free(path);
	free(name);
}
END_TEST

START_TEST(unknown_date_uses_now)
{
	struct fake_msg f;
	struct mf_append_result res;
	struct stat st;
	time_t before = time(NULL);
	fake_msg_init(&f, "e\n", 2);
	char *name = append_one("INBOX", ".", &f, &res);
	time_t after = time(NULL);
	long long t = strtoll(name, NULL, 10);
	ck_assert(t >= (long long)before && t <= (long long)after);
	char *path = mf_xasprintf("%s/cur/%s", root, name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(st.st_mtime >= before && st.st_mtime <= after);
	free(path);
	free(name);
}
END_TEST

START_TEST(same_message_many_times_gets_distinct_files)
{
	for (int i = 0; i < 50; i++) {
		struct fake_msg f;
		struct mf_append_result res;
		struct mf_error err = { 0 };
		fake_msg_init(&f, "same\n", 5);
		f.m.internal_date = 1000000000;
		ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_OK);
	}
	ck_assert_int_eq(count("cur"), 50);
}
END_TEST

START_TEST(nested_folders_are_maildirpp_with_marker)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "A/B/C", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	ck_assert_str_eq(actual, "A/B/C");
	free(actual);
	const char *dirs[] = { ".A", ".A.B", ".A.B.C" };
	for (int i = 0; i < 3; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "%s/cur", dirs[i]);
		ck_assert_msg(is_dir(rel), "%s", rel);
		snprintf(rel, sizeof(rel), "%s/new", dirs[i]);
		ck_assert(is_dir(rel));
		snprintf(rel, sizeof(rel), "%s/tmp", dirs[i]);
		ck_assert(is_dir(rel));
		snprintf(rel, sizeof(rel), "%s/maildirfolder", dirs[i]);
		ck_assert(is_file(rel));
	}
	/* Again: idempotent. */
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "A/B/C", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	free(actual);
	struct fake_msg f;
	struct mf_append_result res;
	fake_msg_init(&f, "n\n", 2);
	char *name = append_one("A/B/C", ".A.B.C", &f, &res);
	free(name);
}
END_TEST

START_TEST(dots_and_odd_levels_are_escaped_inside_root)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	static const struct {
		const char *folder, *dir;
	} cases[] = {
		{ "v1.2", ".v1_2" },
		{ "a.b/c", ".a_b.c" },
		{ "../x", ".__.x" },
		{ "./y", "._.y" },
		{ "Entw\xc3\xbcrfe/\xc3\x9c"
		  "bersicht",
		  ".Entw\xc3\xbcrfe.\xc3\x9c"
		  "bersicht" },
		{ "\xe6\x94\xb6\xe4\xbb\xb6\xe7\xae\xb1", ".\xe6\x94\xb6\xe4\xbb\xb6\xe7\xae\xb1" },
		{ "INBOX/Sub", ".INBOX.Sub" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(fake_ops()->ensure_folder(snk, cases[i].folder, MF_SPECIAL_NONE,
							&actual, &err) == MF_OK,
			      "%s: %s", cases[i].folder, err.text);
		ck_assert_str_eq(actual, cases[i].folder);
		char rel[128];
		snprintf(rel, sizeof(rel), "%s/cur", cases[i].dir);
		ck_assert_msg(is_dir(rel), "%s", rel);
		struct fake_msg f;
		struct mf_append_result res;
		fake_msg_init(&f, "o\n", 2);
		char *name = append_one(actual, cases[i].dir, &f, &res);
		free(name);
		free(actual);
	}
	/* Nothing escaped the root: the temp dir holds only Maildir. */
	ck_assert_int_eq(fake_count(dir), 1);
}
END_TEST

START_TEST(empty_levels_are_rejected)
{
	static const char *const bad[] = { "", "/", "A//B", "/A", "A/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mf_error err = { 0 };
		char *actual = (char *)"x";
		int rc = fake_ops()->ensure_folder(snk, bad[i], MF_SPECIAL_NONE, &actual, &err);
		ck_assert_int_eq(rc, MF_ERR_FOLDER);
		ck_assert_ptr_null(actual);
		struct fake_msg f;
		struct mf_append_result res;
		fake_msg_init(&f, "p\n", 2);
		ck_assert_int_eq(append(bad[i], &f, &res, &err), MF_ERR_FOLDER);
	}
	ck_assert_int_eq(count("cur"), 0);
}
END_TEST

START_TEST(inbox_any_case_is_the_root)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "inbox", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	ck_assert_str_eq(actual, "INBOX");
	free(actual);
	struct fake_msg f;
	struct mf_append_result res;
	fake_msg_init(&f, "q\n", 2);
	char *name = append_one("Inbox", ".", &f, &res);
	free(name);
	ck_assert(!is_dir(".Inbox"));
	ck_assert(!is_dir(".inbox"));
}
END_TEST

START_TEST(special_use_maps_to_canonical_names)
{
	static const struct {
		const char *path;
		enum mf_special_use su;
		const char *actual, *dir;
	} cases[] = {
		{ "Sent Items", MF_SPECIAL_SENT, "Sent", ".Sent" },
		{ "[Gmail]/Sent Mail", MF_SPECIAL_SENT, "Sent", ".Sent" },
		{ "Entw\xc3\xbcrfe", MF_SPECIAL_DRAFTS, "Drafts", ".Drafts" },
		{ "Deleted Items", MF_SPECIAL_TRASH, "Trash", ".Trash" },
		{ "Junk E-mail", MF_SPECIAL_JUNK, "Junk", ".Junk" },
		{ "Archives", MF_SPECIAL_ARCHIVE, "Archive", ".Archive" },
		{ "Posteingang", MF_SPECIAL_INBOX, "INBOX", "." },
		{ "Projects", MF_SPECIAL_NONE, "Projects", ".Projects" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mf_error err = { 0 };
		char *actual = NULL;
		ck_assert_int_eq(fake_ops()->ensure_folder(snk, cases[i].path, cases[i].su, &actual,
							   &err),
				 MF_OK);
		ck_assert_str_eq(actual, cases[i].actual);
		char rel[64];
		snprintf(rel, sizeof(rel), "%s/cur", cases[i].dir);
		ck_assert_msg(is_dir(rel), "%s", rel);
		free(actual);
	}
	ck_assert(!is_dir(".Sent Items"));
	ck_assert(!is_dir(".Posteingang"));
}
END_TEST

START_TEST(special_use_keeps_existing_folder_of_same_path)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Gesendet", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	free(actual);
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Gesendet", MF_SPECIAL_SENT, &actual, &err),
			 MF_OK);
	ck_assert_str_eq(actual, "Gesendet");
	free(actual);
	ck_assert(!is_dir(".Sent"));
}
END_TEST

static void assert_nothing_left(const char *dirrel)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "%s/cur", dirrel);
	ck_assert_int_eq(count(rel), 0);
	snprintf(rel, sizeof(rel), "%s/new", dirrel);
	ck_assert_int_eq(count(rel), 0);
	snprintf(rel, sizeof(rel), "%s/tmp", dirrel);
	ck_assert_int_eq(count(rel), 0);
}

START_TEST(size_mismatch_is_message_error_and_leaves_nothing)
{
	static const char body[] = "Subject: short\n\nbody\n";
	const long deltas[] = { +5, -5 };
	for (int i = 0; i < 2; i++) {
		struct fake_msg f;
		struct mf_append_result res;
		struct mf_error err = { 0 };
		char *actual = NULL;
		fake_msg_init(&f, body, sizeof(body) - 1);
		f.m.size = (uint64_t)((long)f.m.size + deltas[i]);
		f.m.source_id = "uid-777";
		ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Box", MF_SPECIAL_NONE, &actual,
							   &err),
				 MF_OK);
		ck_assert_int_eq(append(actual, &f, &res, &err), MF_ERR_MESSAGE);
		ck_assert_msg(strstr(err.text, "uid-777") != NULL, "%s", err.text);
		ck_assert_msg(strstr(err.text, "Box") != NULL, "%s", err.text);
		ck_assert_msg(strstr(err.text, "tester@local") != NULL, "%s", err.text);
		assert_nothing_left(".Box");
		free(actual);
	}
}
END_TEST

START_TEST(read_failure_mid_message_leaves_nothing)
{
	unsigned char *data = nasty_message(300000);
	struct fake_msg f;
	struct mf_append_result res;
	struct mf_error err = { 0 };
	fake_msg_init(&f, data, 300000);
	f.chunk = 8192;
	f.fail_at = 150000;
	ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_ERR_ACCOUNT);
	ck_assert_msg(strstr(err.text, "spool read failed") != NULL, "%s", err.text);
	assert_nothing_left(".");
	free(data);
}
END_TEST

START_TEST(cancel_stops_append_and_leaves_nothing)
{
	struct fake_msg f;
	struct mf_append_result res;
	struct mf_error err = { 0 };
	fake_msg_init(&f, "r\n", 2);
	test_cancel = true;
	ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_ERR_CANCELED);
	assert_nothing_left(".");
}
END_TEST

static void digest_of(const void *data, size_t len, unsigned char out[32])
{
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, data, len);
	mf_sha256_final(h, out);
	mf_sha256_free(&h);
}

START_TEST(lookup_finds_appended_message)
{
	unsigned char *data = nasty_message(70000);
	unsigned char digest[32];
	struct fake_msg f;
	struct mf_append_result res, found;
	struct mf_error err = { 0 };
	bool hit = false;

	digest_of(data, 70000, digest);
	fake_msg_init(&f, data, 70000);
	f.chunk = 1000;
	f.m.flags = MF_FLAG_SEEN;
	char *name = append_one("INBOX", ".", &f, &res);
	/* Another message in new/ and one in cur/ do not confuse it. */
	fake_msg_init(&f, "other\n", 6);
	ck_assert_int_eq(append("INBOX", &f, &found, &err), MF_OK);
	fake_msg_init(&f, data, 70000);
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, digest, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	ck_assert_str_eq(found.target_id, res.target_id);

	/* A message moved to new/ (by a delivery agent) is found too. */
	char *from = mf_xasprintf("%s/cur/%s", root, name);
	char *to = mf_xasprintf("%s/new/%.*s", root, (int)strcspn(name, ":"), name);
	ck_assert_int_eq(rename(from, to), 0);
	hit = false;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, digest, &hit, &found, &err), MF_OK);
	ck_assert(hit);
	free(from);
	free(to);
	free(name);
	free(data);
}
END_TEST

START_TEST(lookup_misses_wrong_digest_size_or_content)
{
	static const char body[] = "Subject: l\n\nlookup me\n";
	size_t len = sizeof(body) - 1;
	unsigned char digest[32], wrong[32];
	struct fake_msg f;
	struct mf_append_result res, found;
	struct mf_error err = { 0 };
	bool hit = true;

	digest_of(body, len, digest);
	fake_msg_init(&f, body, len);
	char *name = append_one("INBOX", ".", &f, &res);

	memcpy(wrong, digest, 32);
	wrong[31] ^= 1; /* same 16-hex prefix, different digest */
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, wrong, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	wrong[0] ^= 1;
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, wrong, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	f.m.size = len + 1;
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, digest, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	f.m.size = len;
	/* Same name and size, other bytes: the file is hashed, not trusted. */
	char *path = mf_xasprintf("%s/cur/%s", root, name);
	char *tampered = mf_xstrdup(body);
	tampered[0] = 's';
	fake_write_file(path, tampered, len);
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "INBOX", &f.m, digest, &hit, &found, &err), MF_OK);
	ck_assert(!hit);
	/* A folder that does not exist holds nothing. */
	hit = true;
	ck_assert_int_eq(fake_ops()->lookup(snk, "Nowhere", &f.m, digest, &hit, &found, &err),
			 MF_OK);
	ck_assert(!hit);
	ck_assert(!is_dir(".Nowhere"));
	free(tampered);
	free(path);
	free(name);
}
END_TEST

START_TEST(stale_tmp_files_go_young_ones_stay)
{
	struct mf_error err = { 0 };
	char *actual = NULL;
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "Sub", MF_SPECIAL_NONE, &actual, &err),
			 MF_OK);
	free(actual);
	char *p1 = path_of("tmp/leftover");
	char *p2 = path_of(".Sub/tmp/leftover");
	fake_write_file(p1, "x", 1);
	fake_write_file(p2, "y", 1);
	/* An old mtime (what append sets before its rename) is not age:
	 * reopening must keep both. */
	struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, p1, old, 0), 0);
	fake_ops()->close(&snk);
	ck_assert_int_eq(fake_open("maildir", root, &snk, &err), MF_OK);
	ck_assert(is_file("tmp/leftover"));
	ck_assert(is_file(".Sub/tmp/leftover"));
	/* 35 h later still young; 37 h later stale. */
	maildir_clean_tmp(snk, time(NULL) + 35 * 3600);
	ck_assert(is_file("tmp/leftover"));
	maildir_clean_tmp(snk, time(NULL) + 37 * 3600);
	ck_assert(!is_file("tmp/leftover"));
	ck_assert(!is_file(".Sub/tmp/leftover"));
	ck_assert(is_dir("cur"));
	free(p1);
	free(p2);
}
END_TEST

/* A mailferry killed with SIGKILL mid-append leaves its partial file in
 * tmp/: the next open removes it at once when the pid in its name (this
 * host's) is gone, and keeps files of live pids and of other hosts. */
START_TEST(tmp_files_of_dead_writers_go)
{
	struct mf_error err = { 0 };
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	ck_assert_int_gt(child, 0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	char dead[256], mine[256], live[256], other[256];
	snprintf(dead, sizeof(dead), "tmp/1600000000.M000001P%ldQ3.%s", (long)child, snk->hostpart);
	snprintf(mine, sizeof(mine), "tmp/1600000000.M000001P%ldQ4.%s", (long)getpid(),
		 snk->hostpart);
	snprintf(live, sizeof(live), "tmp/1600000000.M000001P1Q5.%s", snk->hostpart);
	snprintf(other, sizeof(other), "tmp/1600000000.M000001P%ldQ6.other-host", (long)child);
	const char *names[] = { dead, mine, live, other };
	for (size_t i = 0; i < 4; i++) {
		char *p = path_of(names[i]);
		fake_write_file(p, "partial", 7);
		free(p);
	}
	fake_ops()->close(&snk);
	ck_assert_int_eq(fake_open("maildir", root, &snk, &err), MF_OK);
	ck_assert(!is_file(dead));
	ck_assert(is_file(mine));
	ck_assert(is_file(live));
	ck_assert(is_file(other));
}
END_TEST

START_TEST(unwritable_folder_gives_clear_error)
{
	/* root ignores permission bits (CI runs as root): the read-only case
	 * is covered with a read-only mount in check_local_sink_enospc. */
	if (geteuid() == 0)
		return;
	struct fake_msg f;
	struct mf_append_result res;
	struct mf_error err = { 0 };
	char *tmp = path_of("tmp");
	ck_assert_int_eq(chmod(tmp, 0500), 0);
	fake_msg_init(&f, "s\n", 2);
	ck_assert_int_eq(append("INBOX", &f, &res, &err), MF_ERR_FOLDER);
	ck_assert_int_eq(err.sys_errno, EACCES);
	ck_assert_msg(strstr(err.text, tmp) != NULL, "%s", err.text);
	chmod(tmp, 0700);
	free(tmp);
}
END_TEST

static Suite *local_sink_suite(void)
{
	Suite *s = suite_create("local_sink");
	TCase *tc = tcase_create("maildir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, descriptor_names_local_sink_with_both_schemes);
	tcase_add_test(tc, reader_uri_is_the_offline_source_at_the_same_path);
	tcase_add_test(tc, open_creates_maildir_root);
	tcase_add_test(tc, close_is_null_safe_and_safe_after_failed_open);
	tcase_add_test(tc, append_is_byte_identical);
	tcase_add_test(tc, empty_message_is_stored);
	tcase_add_test(tc, flags_map_to_info_letters_in_ascii_order);
	tcase_add_test(tc, keywords_use_dovecot_keywords_letters);
	tcase_add_test(tc, parallel_sessions_never_reuse_a_keyword_letter);
	tcase_add_test(tc, keywords_beyond_26_are_dropped_not_fatal);
	tcase_add_test(tc, mtime_and_name_carry_internal_date);
	tcase_add_test(tc, unknown_date_uses_now);
	tcase_add_test(tc, same_message_many_times_gets_distinct_files);
	tcase_add_test(tc, nested_folders_are_maildirpp_with_marker);
	tcase_add_test(tc, dots_and_odd_levels_are_escaped_inside_root);
	tcase_add_test(tc, empty_levels_are_rejected);
	tcase_add_test(tc, inbox_any_case_is_the_root);
	tcase_add_test(tc, special_use_maps_to_canonical_names);
	tcase_add_test(tc, special_use_keeps_existing_folder_of_same_path);
	tcase_add_test(tc, size_mismatch_is_message_error_and_leaves_nothing);
	tcase_add_test(tc, read_failure_mid_message_leaves_nothing);
	tcase_add_test(tc, cancel_stops_append_and_leaves_nothing);
	tcase_add_test(tc, lookup_finds_appended_message);
	tcase_add_test(tc, lookup_misses_wrong_digest_size_or_content);
	tcase_add_test(tc, stale_tmp_files_go_young_ones_stay);
	tcase_add_test(tc, tmp_files_of_dead_writers_go);
	tcase_add_test(tc, unwritable_folder_gives_clear_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(local_sink_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
