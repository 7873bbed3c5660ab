/* SPDX-License-Identifier: MIT */
/* One source file, many fixture modules: compiled with different -D
 * switches into good.la, wrong_major.la, newer_minor.la, ... so the loader
 * can be tested against every way a plugin can be wrong.  The "good"
 * variants are real, small plugins: a source serving a fixed set of
 * messages in two folders, and a sink keeping counts, used by the
 * scheduler tests. */
#include <config.h>
#include <mailferry/plugin.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE
#error "compile with -DFIXTURE=<module name>"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#ifndef FIXTURE_ABI_MAJOR
#define FIXTURE_ABI_MAJOR MF_ABI_MAJOR
#endif
#ifndef FIXTURE_ABI_MINOR
#define FIXTURE_ABI_MINOR MF_ABI_MINOR
#endif
#ifndef FIXTURE_STRUCT_SIZE
#define FIXTURE_STRUCT_SIZE sizeof(struct mf_plugin)
#endif
#ifndef FIXTURE_DECLARED_NAME
#define FIXTURE_DECLARED_NAME STR(FIXTURE)
#endif

struct mf_source {
	int unused;
};

/* Three messages: INBOX/1, INBOX/2, Work/Reports/1.  FIXTURE_GARBAGE makes
 * message 2 announce a size it does not deliver. */
static const char *const bodies[] = {
	"From: a@example.com\r\nSubject: one\r\n\r\nfirst\r\n",
	"From: b@example.com\r\nSubject: two\r\n\r\nsecond\r\n",
	"From: c@example.com\r\nSubject: three\r\n\r\nthird\r\n",
};

struct reader {
	const char *body;
	size_t pos;
};

static int fx_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		   struct mf_error *err)
{
	struct reader *r = msg->read_ctx;
	(void)err;
	size_t left = strlen(r->body) - r->pos;
	size_t n = left < cap ? left : cap;
	memcpy(buf, r->body + r->pos, n);
	r->pos += n;
	*n_r = n;
	return MF_OK;
}

static int fx_open(void *ctx, const struct mf_account *acct, struct mf_source **src_r,
		   struct mf_error *err)
{
	(void)ctx;
	if (acct->password != NULL && strcmp(acct->password, "wrong") == 0)
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER, "fixture: %s: bad password",
				    acct->id);
	*src_r = calloc(1, sizeof(**src_r));
	return MF_OK;
}

static int fx_list(struct mf_source *src, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	(void)src;
	(void)err;
	struct mf_folder f = { .path = "INBOX",
			       .special_use = MF_SPECIAL_INBOX,
			       .messages = 2,
			       .bytes = MF_COUNT_UNKNOWN,
			       .uidvalidity = 7,
			       .selectable = true };
	int st = cb(&f, aux);
	if (st != MF_OK)
		return st;
	f.path = "Work";
	f.special_use = MF_SPECIAL_NONE;
	f.selectable = false;
	f.messages = 0;
	if ((st = cb(&f, aux)) != MF_OK)
		return st;
	f.path = "Work/Reports";
	f.selectable = true;
	f.messages = 1;
	return cb(&f, aux);
}

__attribute__((unused)) static int fx_fetch(struct mf_source *src, const char *folder,
					    const struct mf_cursor *since, mf_message_cb *cb,
					    void *aux, char **sync_state_r, struct mf_error *err)
{
	(void)src;
	(void)sync_state_r;
	size_t first = strcmp(folder, "INBOX") == 0 ? 0 : 2;
	size_t last = first == 0 ? 2 : 3;
	for (size_t i = first; i < last; i++) {
		char id[8] = { (char)('1' + (i - first)), 0 };
		if (since->last_uid >= (uint64_t)(i - first + 1))
			continue;
		struct reader r = { bodies[i], 0 };
		struct mf_message m = { .source_id = id,
					.uid = i - first + 1,
					.size = strlen(bodies[i]),
					.internal_date = 1700000000,
					.flags = i == 0 ? MF_FLAG_SEEN : 0,
					.read = fx_read,
					.read_ctx = &r };
#ifdef FIXTURE_GARBAGE
		if (i == 1)
			m.size += 1000;
#endif
		int st = cb(&m, aux, err);
		if (st != MF_OK)
			return st;
#ifdef FIXTURE_FLAKY
		/* The connection "drops" after the first message of the first
		 * fetch: the core must reopen and fetch again. */
		static int drops;
		if (drops++ == 0)
			return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
					    "fixture: connection reset");
#endif
	}
	return MF_OK;
}

static void fx_close(struct mf_source **src)
{
	free(*src);
	*src = NULL;
}

static const struct mf_source_ops fx_source_ops = {
#ifdef FIXTURE_OPS_V1_0
	/* What a plugin built against ABI 1.0 headers would carry, even if
	 * the running core has grown the table. */
	.struct_size = offsetof(struct mf_source_ops, close) + sizeof(void *),
#else
	.struct_size = sizeof(struct mf_source_ops),
#endif
	.open = fx_open,
	.list_folders = fx_list,
#ifndef FIXTURE_NO_FETCH
	.fetch = fx_fetch,
#endif
	.close = fx_close,
};

static const char *const fx_schemes[] = { "fixture-" STR(FIXTURE), NULL };

/* One level of indirection so FIXTURE expands before ## pastes it. */
#define EXPORT_AS(mod) MF_PLUGIN_EXPORT(mod)
#ifndef FIXTURE_NO_SYMBOL
EXPORT_AS(FIXTURE) = {
#else
MF_VISIBLE const struct mf_plugin CAT(FIXTURE, _LTX_something_else) = {
#endif
	.abi_major = FIXTURE_ABI_MAJOR,
	.abi_minor = FIXTURE_ABI_MINOR,
	.struct_size = FIXTURE_STRUCT_SIZE,
	.kind = MF_PLUGIN_SOURCE,
	.name = FIXTURE_DECLARED_NAME,
	.version = "0.0-test",
	.description = "test fixture",
	.schemes = fx_schemes,
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_MONOTONIC_UIDS,
	.source = &fx_source_ops,
};
