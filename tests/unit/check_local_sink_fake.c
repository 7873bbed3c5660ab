/* SPDX-License-Identifier: MIT */
/* Test doubles for the check_local_sink* programs (see the header): the
 * fake message and small file helpers; the fake host is fake_host.c.
 * Test-only code, so the plugin context may be a global. */
#include <config.h>
#include "check_local_sink_fake.h"
#include "sinks/local/local_p.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fake_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	struct fake_msg *f = msg->read_ctx;
	if (f->pos >= f->kill_at)
		raise(SIGKILL);
	if (f->pos >= f->fail_at)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER,
				    "fake: spool read failed at byte %zu", f->pos);
	size_t n = f->len - f->pos;
	if (n > f->chunk)
		n = f->chunk;
	if (n > cap)
		n = cap;
	if (f->fail_at != SIZE_MAX && n > f->fail_at - f->pos)
		n = f->fail_at - f->pos;
	if (f->kill_at != SIZE_MAX && n > f->kill_at - f->pos)
		n = f->kill_at - f->pos;
	memcpy(buf, f->data + f->pos, n);
	f->pos += n;
	*n_r = n;
	return MF_OK;
}

void fake_msg_init(struct fake_msg *f, const void *data, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->data = data;
	f->len = len;
	f->chunk = 7;
	f->fail_at = SIZE_MAX;
	f->kill_at = SIZE_MAX;
	f->m.source_id = "42";
	f->m.size = len;
	f->m.internal_date = MF_DATE_UNKNOWN;
	f->m.read = fake_read;
	f->m.read_ctx = f;
}

const struct mf_sink_ops *fake_ops(void)
{
	return local_LTX_mailferry_plugin.sink;
}

int fake_open(const char *scheme, const char *path, struct mf_sink **snk_r, struct mf_error *err)
{
	static void *plugin_ctx;
	if (plugin_ctx == NULL) {
		int rc = local_LTX_mailferry_plugin.init(&fake_host, &plugin_ctx, err);
		if (rc != MF_OK)
			return rc;
	}
	char uri[4096];
	snprintf(uri, sizeof(uri), "%s:%s", scheme, path);
	struct mf_account acct = {
		.id = "tester@local",
		.uri = uri,
		.scheme = scheme,
		.path = path,
	};
	return fake_ops()->open(plugin_ctx, &acct, snk_r, err);
}

void fake_fixture_open(const char *scheme, const char *rel_root, char **dir_r, char **root_r,
		       struct mf_sink **snk_r)
{
	struct mf_error err = { 0 };
	*dir_r = fake_tmpdir(NULL);
	*root_r = mf_xasprintf("%s/%s", *dir_r, rel_root);
	test_cancel = false;
	int rc = fake_open(scheme, *root_r, snk_r, &err);
	ck_assert_msg(rc == MF_OK, "open: %s", err.text);
}

void fake_fixture_close(char **dir, char **root, struct mf_sink **snk)
{
	fake_ops()->close(snk);
	fake_rm_rf(*dir);
	free(*root);
	free(*dir);
	*root = NULL;
	*dir = NULL;
}

char *fake_tmpdir(const char *base)
{
	const char *t = base != NULL ? base : getenv("TMPDIR");
	char *tmpl = mf_xasprintf("%s/mflocal.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fake_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

unsigned char *fake_slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct mf_buf b = { 0 };
	unsigned char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mf_buf_append(&b, chunk, n);
	fclose(f);
	mf_buf_reserve(&b, 0);
	*len_r = b.len;
	return b.data;
}

int fake_count(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

char *fake_only(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	char *name = NULL;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0)
			name = mf_xstrdup(de->d_name);
	}
	closedir(d);
	if (n != 1) {
		free(name);
		return NULL;
	}
	return name;
}

void fake_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

void fake_sha_hex(const void *data, size_t len, char hex[65])
{
	unsigned char d[32];
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, data, len);
	mf_sha256_final(h, d);
	mf_sha256_free(&h);
	mf_hex(d, 32, hex);
}
