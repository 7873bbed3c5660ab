/* SPDX-License-Identifier: MIT */
/* Folder selection globs and the three placement policies. */
#include <config.h>
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "folder_map.h"

START_TEST(include_and_exclude_follow_subtrees)
{
	struct folder_map m = { 0 };
	folder_map_include(&m, "Archive");
	folder_map_include(&m, "INBOX");
	folder_map_exclude(&m, "Archive/2010*");
	ck_assert(folder_map_wanted(&m, "INBOX"));
	ck_assert(folder_map_wanted(&m, "Archive"));
	ck_assert(folder_map_wanted(&m, "Archive/2019"));
	ck_assert(!folder_map_wanted(&m, "Archive/2010"));
	ck_assert(!folder_map_wanted(&m, "Archive/2010/Q1"));
	ck_assert(!folder_map_wanted(&m, "Sent"));
	folder_map_free(&m);
}
END_TEST

START_TEST(policies_place_folders)
{
	struct folder_map m = { 0 };
	struct mf_error err;
	struct mf_folder sent = { .path = "Sent Items", .special_use = MF_SPECIAL_SENT };
	struct mf_folder inbox = { .path = "inbox" };
	enum mf_special_use su;
	char *t = folder_map_target(&m, &sent, &su);
	ck_assert_str_eq(t, "Sent Items");
	ck_assert_int_eq(su, MF_SPECIAL_SENT);
	free(t);
	t = folder_map_target(&m, &inbox, &su);
	ck_assert_int_eq(su, MF_SPECIAL_INBOX);
	free(t);
	ck_assert_int_eq(folder_map_set_policy(&m, "inbox", &err), MF_OK);
	t = folder_map_target(&m, &sent, &su);
	ck_assert_str_eq(t, "INBOX");
	free(t);
	ck_assert_int_eq(folder_map_set_policy(&m, "folder:Old/Mail", &err), MF_OK);
	t = folder_map_target(&m, &sent, &su);
	ck_assert_str_eq(t, "Old/Mail");
	ck_assert_int_eq(su, MF_SPECIAL_NONE);
	free(t);
	ck_assert_int_ne(folder_map_set_policy(&m, "folder:", &err), MF_OK);
	ck_assert_int_ne(folder_map_set_policy(&m, "yes", &err), MF_OK);
	folder_map_free(&m);
}
END_TEST

static Suite *folder_map_suite(void)
{
	Suite *s = suite_create("folder_map");
	TCase *tc = tcase_create("map");
	tcase_add_test(tc, include_and_exclude_follow_subtrees);
	tcase_add_test(tc, policies_place_folders);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(folder_map_suite)
