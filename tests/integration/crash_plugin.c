/* SPDX-License-Identifier: MIT */
/* A source plugin for tests/integration/crash.sh: "crashy" serves six
 * messages in INBOX (uids 1..6).  Built with -DCRASH_AT=n it dereferences
 * NULL inside fetch() just before delivering message n, the way a buggy
 * integrator plugin would; built without, it is the fixed version of the
 * same plugin (same name, same messages). */
#include <mailferry/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_MESSAGES 6

struct mf_source {
	int unused;
};

struct reader {
	char body[256];
	size_t pos, len;
};

static int cr_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		   struct mf_error *err)
{
	struct reader *r = msg->read_ctx;
	(void)err;
	size_t n = r->len - r->pos < cap ? r->len - r->pos : cap;
	memcpy(buf, r->body + r->pos, n);
	r->pos += n;
	*n_r = n;
	return MF_OK;
}

static int cr_open(void *ctx, const struct mf_account *acct, struct mf_source **src_r,
		   struct mf_error *err)
{
	(void)ctx;
	(void)acct;
	(void)err;
	*src_r = calloc(1, sizeof(**src_r));
	return MF_OK;
}

static int cr_list(struct mf_source *src, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	(void)src;
	(void)err;
	struct mf_folder f = { .path = "INBOX",
			       .special_use = MF_SPECIAL_INBOX,
			       .messages = N_MESSAGES,
			       .bytes = MF_COUNT_UNKNOWN,
			       .uidvalidity = 1,
			       .selectable = true };
	return cb(&f, aux);
}

static int cr_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
		    mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	(void)src;
	(void)folder;
	(void)sync_state_r;
	for (unsigned uid = 1; uid <= N_MESSAGES; uid++) {
		if (uid <= since->last_uid)
			continue;
#ifdef CRASH_AT
		if (uid == CRASH_AT) {
			/* volatile: the compiler cannot prove it NULL and drop it */
			volatile int *volatile p = NULL;
			*p = 1;
		}
#endif
		char id[16];
		snprintf(id, sizeof(id), "%u", uid);
		struct reader r = { .pos = 0 };
		r.len = (size_t)snprintf(r.body, sizeof(r.body),
					 "From: crash@test.example\r\nSubject: message %u\r\n\r\n"
					 "body of message %u\r\n",
					 uid, uid);
		struct mf_message m = { .source_id = id,
					.uid = uid,
					.size = r.len,
					.internal_date = 1700000000 + uid,
					.read = cr_read,
					.read_ctx = &r };
		int st = cb(&m, aux, err);
		if (st != MF_OK)
			return st;
	}
	return MF_OK;
}

static void cr_close(struct mf_source **src)
{
	free(*src);
	*src = NULL;
}

static const struct mf_source_ops cr_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = cr_open,
	.list_folders = cr_list,
	.fetch = cr_fetch,
	.close = cr_close,
};

static const char *const cr_schemes[] = { "crashy", NULL };

MF_PLUGIN_EXPORT(crashy) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "crashy",
	.version = "0.1",
	.description = "crashes in fetch (test)",
	.schemes = cr_schemes,
	.caps = MF_CAP_STABLE_IDS | MF_CAP_MONOTONIC_UIDS,
	.source = &cr_ops,
};
