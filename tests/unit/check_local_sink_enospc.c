/* SPDX-License-Identifier: MIT */
/* Check suite for the local sink on file systems that refuse writes: a
 * full disk (ENOSPC) and a read-only mount (EROFS).  Both are real: main()
 * enters a private mount namespace (unshare(CLONE_NEWNS), needs root or a
 * user namespace) and mounts small tmpfs instances there, so nothing is
 * visible outside this process tree and nothing needs cleaning if it dies.
 * Where mounting is not permitted the program exits 77, which automake
 * reports as SKIP rather than a pass.  Permission bits are no substitute:
 * root, as in CI, ignores them. */
#include <config.h>
#include "check_local_sink_fake.h"
#include "sinks/local/local_p.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKIP_EXIT 77

static char *full_fs; /* tmpfs of 256 KiB */
static char *ro_fs;   /* tmpfs, remounted read-only after seeding */

static unsigned char *big_message(size_t len)
{
	unsigned char *d = mf_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		d[i] = i % 72 == 71 ? '\n' : (unsigned char)('A' + i % 23);
	return d;
}

static int dir_count(const char *base, const char *rel)
{
	char *p = mf_xasprintf("%s/%s", base, rel);
	int n = fake_count(p);
	free(p);
	return n;
}

START_TEST(maildir_full_disk_is_account_error_and_leaves_nothing)
{
	struct mf_sink *snk = NULL;
	struct mf_error err = { 0 };
	struct mf_append_result res;
	struct fake_msg f;
	char *root = mf_xasprintf("%s/md", full_fs);

	ck_assert_int_eq(fake_open("maildir", root, &snk, &err), MF_OK);
	size_t len = 1024 * 1024;
	unsigned char *data = big_message(len);
	fake_msg_init(&f, data, len);
	f.chunk = 65536;
	f.m.source_id = "uid-big";
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, ENOSPC);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_msg(strstr(err.text, root) != NULL, "%s", err.text);
	ck_assert_msg(strstr(err.text, "uid-big") != NULL, "%s", err.text);
	ck_assert_int_eq(dir_count(root, "cur"), 0);
	ck_assert_int_eq(dir_count(root, "tmp"), 0);
	/* The space was given back: a small message still fits. */
	fake_msg_init(&f, "small\n", 6);
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_OK);
	ck_assert_int_eq(dir_count(root, "cur"), 1);
	fake_ops()->close(&snk);
	fake_rm_rf(root);
	free(data);
	free(root);
}
END_TEST

START_TEST(mbox_full_disk_cuts_back_to_previous_size)
{
	struct mf_sink *snk = NULL;
	struct mf_error err = { 0 };
	struct mf_append_result res;
	struct fake_msg f;
	char *root = mf_xasprintf("%s/mb", full_fs);
	char *file = mf_xasprintf("%s/INBOX", root);

	ck_assert_int_eq(fake_open("mbox", root, &snk, &err), MF_OK);
	fake_msg_init(&f, "first\n", 6);
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_OK);
	size_t len0;
	unsigned char *before = fake_slurp(file, &len0);
	size_t len = 1024 * 1024;
	unsigned char *data = big_message(len);
	fake_msg_init(&f, data, len);
	f.chunk = 65536;
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, ENOSPC);
	ck_assert_msg(strstr(err.text, file) != NULL, "%s", err.text);
	size_t len1;
	unsigned char *after = fake_slurp(file, &len1);
	ck_assert_uint_eq(len1, len0);
	ck_assert(memcmp(before, after, len0) == 0);
	fake_ops()->close(&snk);
	fake_rm_rf(root);
	free(after);
	free(before);
	free(data);
	free(file);
	free(root);
}
END_TEST

START_TEST(read_only_file_system_gives_clear_errors)
{
	struct mf_sink *snk = NULL;
	struct mf_error err = { 0 };
	struct mf_append_result res;
	struct fake_msg f;
	char *actual = NULL;

	/* Seeded by main() before the remount: ro/md (maildir), ro/mb. */
	char *md = mf_xasprintf("%s/md", ro_fs);
	ck_assert_int_eq(fake_open("maildir", md, &snk, &err), MF_OK);
	fake_msg_init(&f, "ro\n", 3);
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, EROFS);
	ck_assert_msg(strstr(err.text, md) != NULL, "%s", err.text);
	ck_assert_int_eq(fake_ops()->ensure_folder(snk, "New", MF_SPECIAL_NONE, &actual, &err),
			 MF_ERR_ACCOUNT);
	ck_assert_ptr_null(actual);
	ck_assert_int_eq(err.sys_errno, EROFS);
	fake_ops()->close(&snk);

	char *mb = mf_xasprintf("%s/mb", ro_fs);
	ck_assert_int_eq(fake_open("mbox", mb, &snk, &err), MF_OK);
	fake_msg_init(&f, "ro\n", 3);
	ck_assert_int_eq(fake_ops()->append(snk, "INBOX", &f.m, &res, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, EROFS);
	fake_ops()->close(&snk);

	char *fresh = mf_xasprintf("%s/fresh", ro_fs);
	ck_assert_int_eq(fake_open("maildir", fresh, &snk, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.sys_errno, EROFS);
	ck_assert_msg(strstr(err.text, fresh) != NULL, "%s", err.text);
	fake_ops()->close(&snk);
	free(fresh);
	free(mb);
	free(md);
}
END_TEST

static Suite *local_sink_enospc_suite(void)
{
	Suite *s = suite_create("local_sink_enospc");
	TCase *tc = tcase_create("full_and_readonly");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, maildir_full_disk_is_account_error_and_leaves_nothing);
	tcase_add_test(tc, mbox_full_disk_cuts_back_to_previous_size);
	tcase_add_test(tc, read_only_file_system_gives_clear_errors);
	suite_add_tcase(s, tc);
	return s;
}

static int mount_tmpfs(const char *where, const char *opts)
{
	if (mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
		printf("SKIP: cannot mount tmpfs on %s: %s\n", where, strerror(errno));
		return -1;
	}
	return 0;
}

/* Seed the (still writable) ro_fs with a maildir and an mbox INBOX. */
static bool seed_ro(void)
{
	struct mf_sink *snk = NULL;
	struct mf_error err = { 0 };
	char *md = mf_xasprintf("%s/md", ro_fs), *mb = mf_xasprintf("%s/mb", ro_fs);
	char *actual = NULL;
	bool ok = fake_open("maildir", md, &snk, &err) == MF_OK;
	fake_ops()->close(&snk);
	ok = ok && fake_open("mbox", mb, &snk, &err) == MF_OK &&
	     fake_ops()->ensure_folder(snk, "INBOX", MF_SPECIAL_NONE, &actual, &err) == MF_OK;
	if (!ok)
		fprintf(stderr, "seed: %s\n", err.text);
	fake_ops()->close(&snk);
	free(actual);
	free(md);
	free(mb);
	return ok;
}

int main(void)
{
	if (unshare(CLONE_NEWNS) != 0) {
		printf("SKIP: no private mount namespace (unshare: %s); "
		       "full-disk and read-only cases need root\n",
		       strerror(errno));
		return SKIP_EXIT;
	}
	/* Keep our mounts from propagating back to the host namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("SKIP: cannot make mounts private: %s\n", strerror(errno));
		return SKIP_EXIT;
	}
	char *base = fake_tmpdir(NULL);
	full_fs = mf_xasprintf("%s/full", base);
	ro_fs = mf_xasprintf("%s/ro", base);
	int rc = SKIP_EXIT;
	if (mkdir(full_fs, 0700) != 0 || mkdir(ro_fs, 0700) != 0 ||
	    mount_tmpfs(full_fs, "size=256k,mode=0700") != 0 ||
	    mount_tmpfs(ro_fs, "size=256k,mode=0700") != 0)
		goto out;
	if (!seed_ro()) {
		rc = EXIT_FAILURE;
		goto out;
	}
	if (mount(NULL, ro_fs, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0) {
		printf("SKIP: cannot remount read-only: %s\n", strerror(errno));
		goto out;
	}

	SRunner *sr = srunner_create(local_sink_enospc_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rc = failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out:
	umount2(ro_fs, MNT_DETACH);
	umount2(full_fs, MNT_DETACH);
	fake_rm_rf(base);
	free(base);
	free(full_fs);
	free(ro_fs);
	return rc;
}
