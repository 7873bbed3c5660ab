/* SPDX-License-Identifier: MIT */
/* The loader against fixture modules: what loads, what is refused, and
 * that every refusal names the file, the versions and a remedy. */
#include <config.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plugin_loader.h"

static struct settings settings;
static struct mf_host host;
static struct plugin_registry reg;

static void setup(void)
{
	host_init(&host, &settings);
	memset(&reg, 0, sizeof(reg));
	reg.host = &host;
}

static void teardown(void)
{
	registry_free(&reg);
}

static char *fixture(const char *name)
{
	const char *dir = getenv("FIXTURE_DIR");
	ck_assert_ptr_nonnull(dir);
	size_t n = strlen(dir) + strlen(name) + 8;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s.la", dir, name);
	return p;
}

static void expect_refusal(const char *name, const char *const *needles)
{
	char *path = fixture(name);
	ck_assert(!registry_load_file(&reg, path));
	ck_assert_uint_eq(reg.n_plugins, 0);
	ck_assert_uint_eq(reg.n_refused, 1);
	ck_assert_str_eq(reg.refused[0].file, path);
	for (; *needles; needles++)
		ck_assert_msg(strstr(reg.refused[0].reason, *needles) != NULL,
			      "refusal of %s lacks '%s': %s", name, *needles,
			      reg.refused[0].reason);
	free(path);
}

START_TEST(good_plugin_loads_and_initialises)
{
	char *path = fixture("good");
	ck_assert(registry_load_file(&reg, path));
	ck_assert_uint_eq(reg.n_plugins, 1);
	ck_assert_str_eq(reg.plugins[0].desc.name, "good");
	struct mf_error err;
	struct loaded_plugin *lp = registry_get(&reg, MF_PLUGIN_SOURCE, "FIXTURE-GOOD", &err);
	ck_assert_ptr_nonnull(lp);
	ck_assert(lp->initialized);
	ck_assert_ptr_null(registry_get(&reg, MF_PLUGIN_SINK, "fixture-good", &err));
	ck_assert_ptr_nonnull(strstr(err.text, "no sink plugin handles 'fixture-good:'"));
	free(path);
}
END_TEST

START_TEST(plugin_with_the_1_0_layout_loads_with_null_new_slots)
{
	char *path = fixture("ops_v1_0");
	ck_assert(registry_load_file(&reg, path));
	/* Slots past the plugin's own struct_size read as NULL. */
	ck_assert_ptr_nonnull(reg.plugins[0].source.fetch);
	ck_assert_uint_lt(reg.plugins[0].desc.struct_size, sizeof(struct mf_plugin) + 1);
	free(path);
}
END_TEST

START_TEST(newer_minor_loads)
{
	char *path = fixture("newer_minor");
	ck_assert(registry_load_file(&reg, path));
	ck_assert_uint_eq(reg.plugins[0].desc.abi_minor, MF_ABI_MINOR + 1);
	free(path);
}
END_TEST

START_TEST(other_major_is_refused_naming_both_versions)
{
	const char *needles[] = { "ABI 2.x", "speaks 1.x", "rebuild", NULL };
	expect_refusal("wrong_major", needles);
}
END_TEST

START_TEST(short_descriptor_is_refused)
{
	const char *needles[] = { "16 bytes", "MF_ABI_INIT", NULL };
	expect_refusal("short_struct", needles);
}
END_TEST

START_TEST(module_without_descriptor_is_not_a_plugin)
{
	const char *needles[] = { "not a mailferry plugin", "no_symbol_LTX_mailferry_plugin",
				  NULL };
	expect_refusal("no_symbol", needles);
}
END_TEST

START_TEST(name_must_match_file)
{
	const char *needles[] = { "'imap'", "'name_mismatch'", NULL };
	expect_refusal("name_mismatch", needles);
}
END_TEST

START_TEST(required_slot_missing_is_refused)
{
	const char *needles[] = { "fetch", "required", NULL };
	expect_refusal("missing_slot", needles);
}
END_TEST

START_TEST(unloadable_file_names_ldd)
{
	memset(&reg, 0, sizeof(reg));
	reg.host = &host;
	ck_assert(!registry_load_file(&reg, "/nonexistent/dir/ghost.so"));
	ck_assert_ptr_nonnull(strstr(reg.refused[0].reason, "ldd"));
}
END_TEST

START_TEST(directory_scan_loads_good_ones_and_lists_refusals)
{
	const char *dir = getenv("FIXTURE_DIR");
	setenv("MAILFERRY_NO_DEFAULT_PLUGINS", "1", 1);
	unsetenv("MAILFERRY_PLUGIN_PATH");
	registry_load(&reg, &host, &dir, 1);
	/* good, ops_v1_0, newer_minor, garbage, flaky, pipesink */
	ck_assert_uint_eq(reg.n_plugins, 6);
	ck_assert_uint_eq(reg.n_refused, 5);
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("plugin_loader");
	TCase *tc = tcase_create("abi");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_plugin_loads_and_initialises);
	tcase_add_test(tc, plugin_with_the_1_0_layout_loads_with_null_new_slots);
	tcase_add_test(tc, newer_minor_loads);
	tcase_add_test(tc, other_major_is_refused_naming_both_versions);
	tcase_add_test(tc, short_descriptor_is_refused);
	tcase_add_test(tc, module_without_descriptor_is_not_a_plugin);
	tcase_add_test(tc, name_must_match_file);
	tcase_add_test(tc, required_slot_missing_is_refused);
	tcase_add_test(tc, unloadable_file_names_ldd);
	tcase_add_test(tc, directory_scan_loads_good_ones_and_lists_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loader_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
