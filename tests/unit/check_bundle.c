/* SPDX-License-Identifier: MIT */
/* Plugin bundles below the loader (bundle/bundle.c, bundle/bundle_tar.c): the
 * manifest's JSON round trip and validation, writing and re-opening a
 * bundle, tamper detection (changed, added, missing files; damaged gzip
 * and headers), and the archive reader's refusal of path traversal and
 * links, checked by looking for what must NOT have been created.  The
 * load check of real plugins is exercised by tests/integration/bundle.sh. */
#include <config.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <mailferry/util.h>
#include "bundle.h"
#include "config_file.h"

static char dir[64]; /* per-test scratch directory */

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_bundle_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char *cmd = mf_xasprintf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static char *path_in(const char *name)
{
	return mf_xasprintf("%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

/* A manifest for plugins "alpha" (source) and "beta" (sink). */
static void sample_manifest(struct bundle_manifest *m, bool with_config)
{
	memset(m, 0, sizeof(*m));
	m->format = BUNDLE_FORMAT;
	m->name = mf_xstrdup("acme-2026");
	m->created = mf_xstrdup("2026-11-27T04:00:00Z");
	m->mailferry_version = mf_xstrdup("0.1.0");
	m->abi_major = 1;
	m->abi_minor = 0;
	m->n_plugins = 2;
	m->plugins = mf_xcalloc(2, sizeof(*m->plugins));
	const char *names[2] = { "alpha", "beta" };
	for (int i = 0; i < 2; i++) {
		struct bundle_plugin *p = &m->plugins[i];
		p->name = mf_xstrdup(names[i]);
		p->version = mf_xstrdup(i ? "2.1" : "1.0");
		p->file = mf_xasprintf("plugins/%s.so", names[i]);
		p->kind = i ? MF_PLUGIN_SINK : MF_PLUGIN_SOURCE;
		p->abi_major = 1;
		p->abi_minor = (unsigned)i;
		p->schemes = mf_xcalloc(3, sizeof(char *));
		p->schemes[0] = mf_xasprintf("%s", names[i]);
		p->schemes[1] = mf_xasprintf("%ss", names[i]);
		memset(p->sha256, 'a' + i, 64);
	}
	m->has_config = with_config;
	if (with_config)
		memset(m->config_sha256, 'c', 64);
}

START_TEST(manifest_round_trips_through_json)
{
	struct bundle_manifest m, back;
	struct mf_error err = { 0 };
	sample_manifest(&m, true);
	char *json = bundle_manifest_to_json(&m);
	ck_assert_int_eq(bundle_manifest_parse(json, strlen(json), "t", &back, &err), MF_OK);
	ck_assert_str_eq(back.name, "acme-2026");
	ck_assert_str_eq(back.created, m.created);
	ck_assert_str_eq(back.mailferry_version, "0.1.0");
	ck_assert_uint_eq(back.n_plugins, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_str_eq(back.plugins[i].name, m.plugins[i].name);
		ck_assert_str_eq(back.plugins[i].version, m.plugins[i].version);
		ck_assert_str_eq(back.plugins[i].file, m.plugins[i].file);
		ck_assert_int_eq(back.plugins[i].kind, m.plugins[i].kind);
		ck_assert_uint_eq(back.plugins[i].abi_minor, m.plugins[i].abi_minor);
		ck_assert_str_eq(back.plugins[i].sha256, m.plugins[i].sha256);
		ck_assert_str_eq(back.plugins[i].schemes[1], m.plugins[i].schemes[1]);
		ck_assert_ptr_null(back.plugins[i].schemes[2]);
	}
	ck_assert(back.has_config);
	ck_assert_str_eq(back.config_sha256, m.config_sha256);
	/* Twice the same text: nothing lost or reordered. */
	char *json2 = bundle_manifest_to_json(&back);
	ck_assert_str_eq(json, json2);
	free(json);
	free(json2);
	bundle_manifest_free(&m);
	bundle_manifest_free(&back);
}
END_TEST

static void expect_manifest_error(const char *from, const char *to, const char *needle)
{
	struct bundle_manifest m, back;
	struct mf_error err = { 0 };
	sample_manifest(&m, false);
	char *json = bundle_manifest_to_json(&m);
	char *at = strstr(json, from);
	ck_assert_msg(at != NULL, "'%s' not in %s", from, json);
	char *edited = mf_xasprintf("%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	ck_assert_int_eq(bundle_manifest_parse(edited, strlen(edited), "bundle x", &back, &err),
			 MF_ERR_FATAL);
	ck_assert_msg(strstr(err.text, needle) != NULL, "'%s' lacks '%s'", err.text, needle);
	free(edited);
	free(json);
	bundle_manifest_free(&m);
}

START_TEST(manifest_validation)
{
	expect_manifest_error("\"format\": 1", "\"format\": 2", "bundle format 2");
	expect_manifest_error("plugins/alpha.so", "../alpha.so", "plugins/NAME.so");
	expect_manifest_error("plugins/beta.so", "plugins/alpha.so", "plugins/NAME.so");
	expect_manifest_error("\"name\": \"beta\"", "\"name\": \"../beta\"", "no valid name");
	expect_manifest_error("aaaaaaaa", "AAAAAAAA", "sha256");
	expect_manifest_error("\"kind\": \"sink\"", "\"kind\": \"filter\"", "kind");
	expect_manifest_error("\"abi_minor\": 1", "\"abi_minor\": \"1\"", "abi_major");
	expect_manifest_error("{", "[", "invalid manifest");
	expect_manifest_error("\"schemes\": [", "\"schemes\": 7, \"x\": [", "schemes");
}
END_TEST

/* Write a bundle with two plugin files of known bytes and a config. */
static char *make_bundle(const char *name)
{
	struct bundle_manifest m;
	struct mf_error err = { 0 };
	sample_manifest(&m, true);
	char *a = path_in("alpha.so"), *b = path_in("beta.so"), *c = path_in("c.conf");
	unsigned char bytes[3000];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7);
	write_file(a, bytes, sizeof(bytes));
	write_file(b, "beta plugin bytes", 17);
	write_file(c, "folder-policy = inbox\njobs = 2\n", 31);
	const char *src[2] = { a, b };
	char *out = path_in(name);
	ck_assert_int_eq(bundle_write(out, &m, src, c, &err), MF_OK);
	free(a);
	free(b);
	free(c);
	bundle_manifest_free(&m);
	return out;
}

START_TEST(written_bundle_opens_and_verifies)
{
	char *out = make_bundle("ok.tar.gz");
	struct bundle b;
	struct mf_error err = { 0 };
	ck_assert_msg(bundle_open(out, &b, &err) == MF_OK, "%s", err.text);
	ck_assert_uint_eq(b.manifest.n_plugins, 2);
	ck_assert_str_eq(b.manifest.plugins[1].name, "beta");
	struct config cfg = { 0 };
	ck_assert_ptr_nonnull(b.config_path);
	ck_assert_msg(config_load(b.config_path, &cfg, &err) == MF_OK, "%s", err.text);
	ck_assert_uint_eq(cfg.n, 2);
	ck_assert_str_eq(cfg.entries[1].key, "jobs");
	config_free(&cfg);
	char *beta = mf_xasprintf("%s/beta.so", b.plugin_dir);
	FILE *f = fopen(beta, "rb");
	ck_assert_ptr_nonnull(f);
	char got[64] = { 0 };
	ck_assert_uint_eq(fread(got, 1, sizeof(got), f), 17);
	fclose(f);
	ck_assert_str_eq(got, "beta plugin bytes");
	char *xdir = mf_xstrdup(b.dir);
	bundle_close(&b);
	ck_assert(!exists(xdir)); /* the private directory is gone */
	free(xdir);
	free(beta);
	free(out);
}
END_TEST

/* Whole uncompressed archive in memory, and back. */
static unsigned char *gunzip_file(const char *path, size_t *len_r)
{
	gzFile gz = gzopen(path, "rb");
	ck_assert_ptr_nonnull(gz);
	size_t cap = 1 << 16, len = 0;
	unsigned char *buf = mf_xmalloc(cap);
	int n;
	while ((n = gzread(gz, buf + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap)
			buf = mf_xrealloc(buf, cap *= 2);
	}
	gzclose(gz);
	*len_r = len;
	return buf;
}

static void gzip_file(const char *path, const unsigned char *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb");
	ck_assert_ptr_nonnull(gz);
	ck_assert_int_eq(gzwrite(gz, buf, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(gz), Z_OK);
}

static size_t find(const unsigned char *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return i;
	ck_abort_msg("'%s' not found", needle);
	return 0;
}

static void expect_open_error(const char *path, const char *needle)
{
	struct bundle b;
	struct mf_error err = { 0 };
	ck_assert_int_eq(bundle_open(path, &b, &err), MF_ERR_FATAL);
	/* libarchive's words start with a capital ("Truncated ..."). */
	ck_assert_msg(strcasestr(err.text, needle) != NULL, "'%s' lacks '%s'", err.text, needle);
	char *xdir = b.dir ? mf_xstrdup(b.dir) : NULL;
	bundle_close(&b);
	ck_assert(xdir == NULL || !exists(xdir));
	free(xdir);
}

START_TEST(one_changed_byte_is_named)
{
	char *out = make_bundle("t.tar.gz");
	size_t len;
	unsigned char *tar = gunzip_file(out, &len);
	/* A byte inside beta.so's data (the block after its header). */
	size_t at = find(tar, len, "beta plugin bytes");
	tar[at + 3] ^= 0x20;
	gzip_file(out, tar, len);
	expect_open_error(out, "plugins/beta.so does not match the manifest");
	/* The configuration is covered too. */
	tar[at + 3] ^= 0x20;
	tar[find(tar, len, "folder-policy = inbox") + 16] = 'X';
	gzip_file(out, tar, len);
	expect_open_error(out, "mailferry.conf does not match the manifest");
	free(tar);
	free(out);
}
END_TEST

START_TEST(damaged_gzip_or_header_is_refused)
{
	char *out = make_bundle("d.tar.gz");
	size_t len;
	unsigned char *tar = gunzip_file(out, &len);
	/* A flipped byte in the compressed stream: gzip's CRC or inflate. */
	struct stat sb;
	ck_assert_int_eq(stat(out, &sb), 0);
	int fd = open(out, O_RDWR);
	unsigned char byte;
	off_t off = sb.st_size / 2;
	ck_assert_int_eq(pread(fd, &byte, 1, off), 1);
	byte ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &byte, 1, off), 1);
	close(fd);
	expect_open_error(out, "bundle ");
	/* Cut short. */
	gzip_file(out, tar, len);
	ck_assert_int_eq(truncate(out, sb.st_size / 3), 0);
	expect_open_error(out, "truncated");
	/* A header whose checksum no longer matches. */
	size_t h = 0; /* the header block, not the name inside the manifest */
	while (h < len && strcmp((const char *)tar + h, "plugins/alpha.so") != 0)
		h += 512;
	ck_assert_uint_lt(h, len);
	tar[h + 100] = '7'; /* mode field */
	gzip_file(out, tar, len);
	expect_open_error(out, "Damaged tar archive");
	free(tar);
	free(out);
}
END_TEST

/* Build an archive entry by entry. */
static char *hostile(const char *name, char type, const char *linkname, bool with_manifest)
{
	struct tar_writer *tw;
	struct mf_error err = { 0 };
	char *out = path_in("hostile.tar.gz");
	ck_assert_int_eq(tar_writer_open(out, 0, &tw, &err), MF_OK);
	if (with_manifest) {
		struct bundle_manifest m;
		sample_manifest(&m, false);
		m.n_plugins = 0; /* an empty but valid manifest */
		char *json = bundle_manifest_to_json(&m);
		m.n_plugins = 2;
		ck_assert_int_eq(tar_writer_add(tw, BUNDLE_MANIFEST, '0', json, strlen(json), NULL,
						&err),
				 MF_OK);
		free(json);
		bundle_manifest_free(&m);
	}
	ck_assert_int_eq(tar_writer_add(tw, name, type, "pwned\n", type == '0' ? 6 : 0, linkname,
					&err),
			 MF_OK);
	ck_assert_int_eq(tar_writer_close(&tw, true, &err), MF_OK);
	return out;
}

static bool allow_all(const char *name)
{
	(void)name;
	return true;
}

/* The archive layer alone (every name allowed) must still refuse. */
static void expect_tar_refusal(const char *name, char type, const char *linkname,
			       const char *needle)
{
	char *out = hostile(name, type, linkname, false);
	char *x = path_in("x");
	ck_assert_int_eq(mkdir(x, 0700), 0);
	struct tar_file *files = NULL;
	size_t n = 0;
	struct mf_error err = { 0 };
	ck_assert_int_eq(tar_extract(out, x, allow_all, &files, &n, &err), MF_ERR_FATAL);
	ck_assert_msg(strstr(err.text, needle) != NULL, "%s: '%s' lacks '%s'", name, err.text,
		      needle);
	ck_assert_ptr_null(files);
	/* Nothing landed where the names point. */
	char *escaped = path_in("escaped");
	char *inside = mf_xasprintf("%s/evil", x);
	ck_assert(!exists(escaped));
	ck_assert(!exists(inside));
	ck_assert(!exists("/tmp/check_bundle_escaped_abs"));
	tar_remove_tree(x);
	free(inside);
	free(escaped);
	free(x);
	unlink(out);
	free(out);
}

START_TEST(path_traversal_and_links_are_refused)
{
	expect_tar_refusal("../escaped", '0', NULL, "path traversal");
	expect_tar_refusal("plugins/../../escaped", '0', NULL, "path traversal");
	expect_tar_refusal("/tmp/check_bundle_escaped_abs", '0', NULL, "path traversal");
	expect_tar_refusal("plugins//evil", '0', NULL, "path traversal");
	expect_tar_refusal("plugins/./evil", '0', NULL, "path traversal");
	expect_tar_refusal("..", '5', NULL, "path traversal");
	expect_tar_refusal("evil", '2', "../escaped", "links are not allowed");
	expect_tar_refusal("evil", '1', "/etc/passwd", "links are not allowed");
	expect_tar_refusal("evil", '3', NULL, "only regular files and directories");
	expect_tar_refusal("evil", '6', NULL, "only regular files and directories");
	/* A name too long for ustar travels in a pax header: still checked. */
	char longname[300];
	snprintf(longname, sizeof(longname), "plugins/%0200d/../../../escaped", 0);
	expect_tar_refusal(longname, '0', NULL, "path traversal");
}
END_TEST

/* Names beyond ustar's 100 (+155) bytes go through pax headers and come
 * back whole. */
START_TEST(long_names_round_trip)
{
	char name[400];
	snprintf(name, sizeof(name), "plugins/%0240d.so", 7); /* 251 bytes */
	char *out = hostile(name, '0', NULL, false);
	char *x = path_in("x");
	ck_assert_int_eq(mkdir(x, 0700), 0);
	struct tar_file *files = NULL;
	size_t n = 0;
	struct mf_error err = { 0 };
	ck_assert_msg(tar_extract(out, x, allow_all, &files, &n, &err) == MF_OK, "%s", err.text);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(files[0].name, name);
	ck_assert_uint_eq(files[0].size, 6);
	tar_files_free(files, n);
	tar_remove_tree(x);
	free(x);
	unlink(out);
	free(out);
}
END_TEST

START_TEST(bundle_layout_and_listing_are_enforced)
{
	/* Outside the layout, even if harmless. */
	char *out = hostile("notes.txt", '0', NULL, true);
	expect_open_error(out, "not part of the bundle layout");
	free(out);
	out = hostile("plugins/sub/x.so", '0', NULL, true);
	expect_open_error(out, "not part of the bundle layout");
	free(out);
	/* In the layout but not in the manifest: added after the fact. */
	out = hostile("plugins/extra.so", '0', NULL, true);
	expect_open_error(out, "plugins/extra.so is not listed in the manifest");
	free(out);
	/* No manifest at all. */
	out = hostile("plugins/extra.so", '0', NULL, false);
	expect_open_error(out, "no manifest.json");
	free(out);
}
END_TEST

START_TEST(missing_listed_file_is_refused)
{
	struct bundle_manifest m;
	struct mf_error err = { 0 };
	sample_manifest(&m, false);
	char *json = bundle_manifest_to_json(&m);
	struct tar_writer *tw;
	char *out = path_in("m.tar.gz");
	ck_assert_int_eq(tar_writer_open(out, 0, &tw, &err), MF_OK);
	ck_assert_int_eq(tar_writer_add(tw, BUNDLE_MANIFEST, '0', json, strlen(json), NULL, &err),
			 MF_OK);
	ck_assert_int_eq(tar_writer_close(&tw, true, &err), MF_OK);
	expect_open_error(out, "plugins/alpha.so is listed in the manifest but missing");
	free(json);
	free(out);
	bundle_manifest_free(&m);
}
END_TEST

START_TEST(writer_abandons_its_temporary_file)
{
	struct tar_writer *tw;
	struct mf_error err = { 0 };
	char *out = path_in("never.tar.gz");
	ck_assert_int_eq(tar_writer_open(out, 0, &tw, &err), MF_OK);
	ck_assert_int_eq(tar_writer_add(tw, "a", '0', "x", 1, NULL, &err), MF_OK);
	ck_assert_int_eq(tar_writer_close(&tw, false, &err), MF_OK);
	ck_assert(!exists(out));
	char *cmd = mf_xasprintf("test -z \"$(ls -A '%s')\"", dir);
	ck_assert_int_eq(system(cmd), 0); /* no .tmp left behind */
	free(cmd);
	free(out);
}
END_TEST

/* Fuzz-lite: thousands of damaged variants of a real bundle (random bytes
 * flipped in the uncompressed archive, then re-gzipped) must each be
 * accepted or refused cleanly, never write outside the private directory,
 * and never crash (run under ASan in CI). */
START_TEST(random_damage_is_accepted_or_refused_cleanly)
{
	char *out = make_bundle("f.tar.gz");
	size_t len;
	unsigned char *orig = gunzip_file(out, &len);
	unsigned char *tar = mf_xmalloc(len);
	unsigned seed = 12345;
	unsigned refused = 0, accepted = 0;
	for (int round = 0; round < 400; round++) {
		memcpy(tar, orig, len);
		int flips = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 8;
		/* Half the rounds aim at the headers and the manifest. */
		size_t span = round % 2 ? len : 2048;
		for (int k = 0; k < flips; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % span;
			tar[at] = (unsigned char)(seed >> 3);
		}
		gzip_file(out, tar, len);
		struct bundle b;
		struct mf_error err = { 0 };
		if (bundle_open(out, &b, &err) == MF_OK)
			accepted++;
		else
			refused++;
		bundle_close(&b);
		ck_assert(!exists("/tmp/check_bundle_escaped_abs"));
	}
	/* Nothing but the scratch files in our directory. */
	char *cmd = mf_xasprintf("test $(ls -A '%s' | wc -l) -eq 4", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	ck_assert_uint_gt(refused, 300); /* most damage must be caught */
	(void)accepted;                  /* e.g. a flip inside tar padding */
	free(tar);
	free(orig);
	free(out);
}
END_TEST

static Suite *bundle_suite(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("manifest");
	tcase_add_test(tc, manifest_round_trips_through_json);
	tcase_add_test(tc, manifest_validation);
	suite_add_tcase(s, tc);
	tc = tcase_create("archive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, written_bundle_opens_and_verifies);
	tcase_add_test(tc, one_changed_byte_is_named);
	tcase_add_test(tc, damaged_gzip_or_header_is_refused);
	tcase_add_test(tc, path_traversal_and_links_are_refused);
	tcase_add_test(tc, long_names_round_trip);
	tcase_add_test(tc, bundle_layout_and_listing_are_enforced);
	tcase_add_test(tc, missing_listed_file_is_refused);
	tcase_add_test(tc, writer_abandons_its_temporary_file);
	tcase_add_test(tc, random_damage_is_accepted_or_refused_cleanly);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bundle_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
