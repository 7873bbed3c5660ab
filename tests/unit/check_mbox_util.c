/* SPDX-License-Identifier: MIT */
/* Helpers for the offline source tests (see check_mbox_util.h).  The read
 * sizes cycle through 1, 3, 7, 64 and 4096 bytes so that every resumable
 * state of the unescaper is crossed by a read boundary somewhere. */
#include <config.h>
#include "check_mbox_util.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *plugin_ctx;

struct mf_source *t_open(const char *scheme, const char *path, const char *const *options,
			 int *rc_r, struct mf_error *err)
{
	struct mf_account acct = {
		.id = "test@example",
		.scheme = scheme,
		.path = path,
		.options = options,
	};
	struct mf_source *src = NULL;
	if (plugin_ctx == NULL)
		ck_assert_int_eq(offline_init(&fake_host, &plugin_ctx, err), MF_OK);
	memset(err, 0, sizeof(*err));
	*rc_r = offline_source_ops.open(plugin_ctx, &acct, &src, err);
	if (*rc_r != MF_OK) {
		offline_source_ops.close(&src);
		ck_assert_ptr_null(src);
		return NULL;
	}
	return src;
}

void t_close(struct mf_source *src)
{
	offline_source_ops.close(&src);
	ck_assert_ptr_null(src);
	offline_source_ops.close(&src); /* NULL-safe */
}

static bool have_id(const char *id, void *aux)
{
	const struct got *g = aux;
	for (size_t i = 0; g->have != NULL && g->have[i] != NULL; i++)
		if (strcmp(g->have[i], id) == 0)
			return true;
	return false;
}

static int collect(const struct mf_message *msg, void *aux, struct mf_error *err)
{
	static const size_t caps[] = { 1, 3, 7, 64, 4096 };
	struct got *g = aux;
	g->v = realloc(g->v, (g->n + 1) * sizeof(*g->v));
	struct got_msg *m = &g->v[g->n++];
	memset(m, 0, sizeof(*m));
	m->id = strdup(msg->source_id);
	m->size = msg->size;
	m->date = msg->internal_date;
	m->tz = msg->tz_offset_min;
	m->flags = msg->flags;
	struct mf_buf kw = { 0 };
	for (size_t i = 0; msg->keywords != NULL && msg->keywords[i] != NULL; i++) {
		if (i > 0)
			mf_buf_append(&kw, " ", 1);
		mf_buf_append_str(&kw, msg->keywords[i]);
	}
	m->keywords = strdup(kw.data != NULL ? (char *)kw.data : "");
	mf_buf_free(&kw);
	ck_assert_msg(msg->uid == 0, "offline sources have no uid");
	if (g->skip_read)
		goto out;

	size_t cap = g->read_limit ? g->read_limit : (size_t)msg->size;
	if (cap > msg->size)
		cap = (size_t)msg->size;
	m->body = malloc(cap + 4096);
	size_t k = 0;
	for (;;) {
		size_t n = 1234567, want = caps[k++ % 5];
		int rc = msg->read(msg, m->body + m->body_len, want, &n, err);
		if (rc != MF_OK)
			return rc;
		ck_assert_uint_le(n, want);
		if (n == 0)
			break;
		m->body_len += n;
		ck_assert_uint_le(m->body_len, msg->size);
		if (g->read_limit && m->body_len >= g->read_limit)
			goto out;
	}
	ck_assert_msg(m->body_len == msg->size, "message %s: read %zu bytes, size said %llu", m->id,
		      m->body_len, (unsigned long long)msg->size);
	size_t n = 99;
	ck_assert_int_eq(msg->read(msg, m->body, 16, &n, err), MF_OK);
	ck_assert_uint_eq(n, 0); /* stays at the end */
out:
	if (g->stop_with != 0)
		return mf_error_set(err, (enum mf_status)g->stop_with, MF_RETRY_NEVER,
				    "stopped by test");
	return 0;
}

int t_fetch(struct mf_source *src, const char *folder, struct got *g, struct mf_error *err)
{
	struct mf_cursor since = { .have = have_id, .have_aux = g };
	char *sync = (char *)"junk";
	memset(err, 0, sizeof(*err));
	int rc = offline_source_ops.fetch(src, folder, &since, collect, g, &sync, err);
	ck_assert_ptr_null(sync);
	return rc;
}

void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].id);
		free(g->v[i].keywords);
		free(g->v[i].body);
	}
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

static int list_cb(const struct mf_folder *f, void *aux)
{
	struct mf_buf *b = aux;
	static const char roles[] = "-isdtja";
	if (b->len > 0)
		mf_buf_append(b, ";", 1);
	mf_buf_printf(b, "%s[%c", f->path, f->selectable ? roles[f->special_use] : 'c');
	if (f->messages != MF_COUNT_UNKNOWN && f->selectable)
		mf_buf_printf(b, ",n=%llu", (unsigned long long)f->messages);
	mf_buf_append(b, "]", 1);
	return 0;
}

char *t_list(struct mf_source *src, int *rc_r, struct mf_error *err)
{
	struct mf_buf b = { 0 };
	memset(err, 0, sizeof(*err));
	*rc_r = offline_source_ops.list_folders(src, list_cb, &b, err);
	return b.data != NULL ? (char *)b.data : strdup("");
}

char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t = mf_xasprintf("%s/check_mbox.XXXXXX", base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

char *t_write(const char *dir, const char *rel, const void *data, size_t len)
{
	char *path = mf_xasprintf("%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		ck_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
		*p = '/';
	}
	if (len == (size_t)-1) { /* a directory */
		ck_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
		return path;
	}
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

void t_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool t_body_is(const struct got_msg *m, const char *s, size_t len)
{
	if (m->body_len != len || memcmp(m->body, s, len) != 0) {
		fprintf(stderr, "message %s: got %zu bytes [%.*s], want %zu [%.*s]\n", m->id,
			m->body_len, (int)m->body_len, (const char *)m->body, len, (int)len, s);
		return false;
	}
	return true;
}
