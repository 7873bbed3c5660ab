/* SPDX-License-Identifier: MIT */
/* One source file, one fixture sink module per capability bit it lacks
 * (FIXTURE_CAPS per module in Makefile.am: capsink has RETURNS_ID,
 * KEYWORDS and PARALLEL_SESSIONS, noidsink lacks RETURNS_ID, nokwsink
 * KEYWORDS), for tests/abi/check_caps.c.
 *
 * URI "<module>:DIR".  Each message goes to DIR/<folder>/<sha256>, created
 * exclusively: storing one twice is refused (MF_ERR_MESSAGE "stored
 * twice"), so a test sees every duplicate as a failure.  Keywords go to
 * <sha256>.kw; a module without MF_CAP_KEYWORDS refuses a message that
 * has any, as a server that cannot keep them would.  Without
 * MF_CAP_RETURNS_ID append answers the same meaningless target_id
 * ("queued") every time, as a sink that cannot tell would.  lookup()
 * answers from the files.  A folder with special use INBOX is stored as
 * "INBOX", as the real sinks do. */
#include <config.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FIXTURE
#error "compile with -DFIXTURE=<module name> -DFIXTURE_CAPS=<bits>"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

struct mf_sink {
	char *dir;
};

static int cs_open(void *ctx, const struct mf_account *acct, struct mf_sink **snk_r,
		   struct mf_error *err)
{
	(void)ctx;
	(void)err;
	struct mf_sink *s = mf_xcalloc(1, sizeof(*s));
	s->dir = mf_xstrdup(acct->path);
	mkdir(s->dir, 0700);
	*snk_r = s;
	return MF_OK;
}

static char *folder_dir(const struct mf_sink *s, const char *folder)
{
	char *d = mf_xasprintf("%s/%s", s->dir, folder);
	for (char *p = d + strlen(s->dir) + 1; *p != '\0'; p++)
		if (*p == '/')
			*p = '.';
	return d;
}

static int cs_ensure(struct mf_sink *s, const char *path, enum mf_special_use su, char **actual_r,
		     struct mf_error *err)
{
	(void)err;
	if (su == MF_SPECIAL_INBOX)
		path = "INBOX"; /* as the real sinks map it */
	char *d = folder_dir(s, path);
	mkdir(d, 0700);
	free(d);
	*actual_r = mf_xstrdup(path);
	return MF_OK;
}

static int cs_append(struct mf_sink *s, const char *folder, const struct mf_message *msg,
		     struct mf_append_result *res, struct mf_error *err)
{
	bool has_kw = msg->keywords != NULL && msg->keywords[0] != NULL;
	if (has_kw && !((FIXTURE_CAPS)&MF_CAP_KEYWORDS))
		return mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				    STR(FIXTURE) ": %s: cannot store keywords", folder);
	struct mf_buf b = { 0 };
	unsigned char buf[4096], d[32];
	size_t n;
	do {
		if (msg->read(msg, buf, sizeof(buf), &n, err) != MF_OK) {
			mf_buf_free(&b);
			return MF_ERR_ACCOUNT;
		}
		mf_buf_append(&b, buf, n);
	} while (n > 0);
	struct mf_sha256 *h = mf_sha256_new();
	mf_sha256_update(h, b.data, b.len);
	mf_sha256_final(h, d);
	mf_sha256_free(&h);
	char name[65];
	mf_hex(d, 32, name);
	char *dir = folder_dir(s, folder);
	char *path = mf_xasprintf("%s/%s", dir, name);
	int st = MF_OK;
	FILE *f = fopen(path, "wx");
	if (f == NULL) {
		st = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				  STR(FIXTURE) ": %s: %s stored twice", folder, name);
	} else {
		fwrite(b.data, 1, b.len, f);
		fclose(f);
	}
	if (st == MF_OK && has_kw) {
		char *kp = mf_xasprintf("%s.kw", path);
		FILE *k = fopen(kp, "w");
		for (const char *const *w = msg->keywords; k != NULL && *w != NULL; w++)
			fprintf(k, "%s\n", *w);
		if (k != NULL)
			fclose(k);
		free(kp);
	}
	if (st == MF_OK)
		snprintf(res->target_id, sizeof(res->target_id), "%s",
			 ((FIXTURE_CAPS)&MF_CAP_RETURNS_ID) ? name : "queued");
	free(path);
	free(dir);
	mf_buf_free(&b);
	return st;
}

static int cs_lookup(struct mf_sink *s, const char *folder, const struct mf_message *msg,
		     const unsigned char digest[32], bool *found_r, struct mf_append_result *res,
		     struct mf_error *err)
{
	(void)msg;
	(void)err;
	char name[65];
	mf_hex(digest, 32, name);
	char *dir = folder_dir(s, folder);
	char *path = mf_xasprintf("%s/%s", dir, name);
	*found_r = access(path, F_OK) == 0;
	if (*found_r)
		snprintf(res->target_id, sizeof(res->target_id), "%s",
			 ((FIXTURE_CAPS)&MF_CAP_RETURNS_ID) ? name : "queued");
	free(path);
	free(dir);
	return MF_OK;
}

static void cs_close(struct mf_sink **sp)
{
	if (*sp == NULL)
		return;
	free((*sp)->dir);
	free(*sp);
	*sp = NULL;
}

static const struct mf_sink_ops cs_ops = {
	.struct_size = sizeof(struct mf_sink_ops),
	.open = cs_open,
	.ensure_folder = cs_ensure,
	.append = cs_append,
	.close = cs_close,
	.lookup = cs_lookup,
};

static const char *const cs_schemes[] = { STR(FIXTURE), NULL };

#define EXPORT_AS(mod) MF_PLUGIN_EXPORT(mod)
EXPORT_AS(FIXTURE) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SINK,
	.name = STR(FIXTURE),
	.version = "0.0-test",
	.description = "test fixture: a sink lacking one capability bit",
	.schemes = cs_schemes,
	.caps = FIXTURE_CAPS,
	.sink = &cs_ops,
};
