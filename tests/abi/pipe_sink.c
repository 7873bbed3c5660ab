/* SPDX-License-Identifier: MIT */
/* Fixture sink "pipesink" (pipesink:DIR) for the core's pipelined-append
 * path (ABI 1.1 append_start/append_flush): keeps up to three appends in
 * flight and completes them late, stores each message as DIR/<sha256>,
 * can lose its session on purpose (?fail_at=N: the Nth append_start fails
 * after storing its message, reporting every outstanding append as of
 * unknown fate) and answers lookup() from the files, so the test can check
 * that nothing is lost or stored twice. */
#include <config.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pending {
	mf_append_done_cb *done;
	void *aux;
	struct mf_append_result res;
};

struct mf_sink {
	char *dir;
	unsigned fail_at, started;
	struct pending q[3];
	unsigned nq;
};

static int ps_open(void *ctx, const struct mf_account *acct, struct mf_sink **snk_r,
		   struct mf_error *err)
{
	(void)ctx;
	(void)err;
	struct mf_sink *s = mf_xcalloc(1, sizeof(*s));
	s->dir = mf_xstrdup(acct->path);
	mkdir(s->dir, 0700);
	const char *f = mf_account_option(acct, "fail_at");
	s->fail_at = f ? (unsigned)strtoul(f, NULL, 10) : 0;
	/* Fail once per process: the reopened session behaves. */
	static unsigned failed_once;
	if (failed_once++)
		s->fail_at = 0;
	*snk_r = s;
	return MF_OK;
}

static int ps_ensure(struct mf_sink *s, const char *path, enum mf_special_use su, char **actual_r,
		     struct mf_error *err)
{
	(void)s;
	(void)su;
	(void)err;
	*actual_r = mf_xstrdup(path);
	return MF_OK;
}

static int store(struct mf_sink *s, const struct mf_message *msg, char name[65],
		 struct mf_error *err)
{
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
	mf_hex(d, 32, name);
	char *path = mf_xasprintf("%s/%s", s->dir, name);
	FILE *f = fopen(path, "wx"); /* exclusive: a duplicate would fail loudly */
	if (f == NULL) {
		fprintf(stderr, "pipesink: %s stored twice\n", name);
		abort();
	}
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	free(path);
	mf_buf_free(&b);
	return MF_OK;
}

static void complete_all(struct mf_sink *s, int status, const struct mf_error *err)
{
	for (unsigned i = 0; i < s->nq; i++)
		s->q[i].done(s->q[i].aux, status, &s->q[i].res, err);
	s->nq = 0;
}

static int ps_start(struct mf_sink *s, const char *folder, const struct mf_message *msg,
		    mf_append_done_cb *done, void *aux, struct mf_error *err)
{
	(void)folder;
	char name[65];
	if (s->nq == 3)
		complete_all(s, MF_OK, NULL);
	if (store(s, msg, name, err) != MF_OK)
		return MF_ERR_ACCOUNT;
	struct pending *p = &s->q[s->nq++];
	p->done = done;
	p->aux = aux;
	snprintf(p->res.target_id, sizeof(p->res.target_id), "%s", name);
	if (++s->started == s->fail_at) {
		/* Stored, but the answers never come: fates unknown. */
		mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "pipesink: connection lost");
		complete_all(s, MF_ERR_ACCOUNT, err);
		return MF_ERR_ACCOUNT;
	}
	return MF_OK;
}

static int ps_flush(struct mf_sink *s, struct mf_error *err)
{
	(void)err;
	complete_all(s, MF_OK, NULL);
	return MF_OK;
}

static int ps_append(struct mf_sink *s, const char *folder, const struct mf_message *msg,
		     struct mf_append_result *res, struct mf_error *err)
{
	(void)folder;
	return store(s, msg, res->target_id, err);
}

static int ps_lookup(struct mf_sink *s, const char *folder, const struct mf_message *msg,
		     const unsigned char digest[32], bool *found_r, struct mf_append_result *res,
		     struct mf_error *err)
{
	(void)folder;
	(void)msg;
	(void)err;
	char name[65];
	mf_hex(digest, 32, name);
	char *path = mf_xasprintf("%s/%s", s->dir, name);
	*found_r = access(path, F_OK) == 0;
	free(path);
	if (*found_r)
		snprintf(res->target_id, sizeof(res->target_id), "%s", name);
	return MF_OK;
}

static void ps_close(struct mf_sink **sp)
{
	struct mf_sink *s = *sp;
	if (s == NULL)
		return;
	free(s->dir);
	free(s);
	*sp = NULL;
}

static const struct mf_sink_ops ps_ops = {
	.struct_size = sizeof(struct mf_sink_ops),
	.open = ps_open,
	.ensure_folder = ps_ensure,
	.append = ps_append,
	.close = ps_close,
	.lookup = ps_lookup,
	.append_start = ps_start,
	.append_flush = ps_flush,
};

static const char *const ps_schemes[] = { "pipesink", NULL };

MF_PLUGIN_EXPORT(pipesink) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SINK,
	.name = "pipesink",
	.version = "0.0-test",
	.description = "test fixture: pipelined sink",
	.schemes = ps_schemes,
	.caps = MF_CAP_RETURNS_ID,
	.sink = &ps_ops,
};
