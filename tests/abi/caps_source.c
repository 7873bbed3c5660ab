/* SPDX-License-Identifier: MIT */
/* One source file, one fixture source module per capability bit it lacks
 * (FIXTURE_CAPS, set per module in Makefile.am: capsrc has every source
 * bit, nostable, nomono, nosync, noparallel and nofolders each lack one),
 * for tests/abi/check_caps.c: the core must act on each bit.
 *
 * URI "<module>:DIR".  The mailbox is DIR/mailbox, re-read at every
 * fetch so a test can change it between runs:
 *     uidvalidity 7
 *     synctoken
 *     folder INBOX
 *     <source_id> <uid> <keyword,keyword|-> <subject>
 * Each message is "From/Subject/body <subject>".  The fixture trusts
 * whatever cursor it is given, as a real source with the bit would: it
 * skips uids up to since->last_uid and the first N messages of a folder
 * for a sync token "N" (which it hands out after every fetch when the
 * mailbox has a "synctoken" line, bit or no bit), and asks since->have().  DIR/since records the last cursor it got
 * ("last_uid=N sync_state=S"); DIR/max_sessions the most sessions it had
 * open at once; a fetch while another session is open fails the folder
 * when the module lacks MF_CAP_PARALLEL_SESSIONS. */
#include <config.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE
#error "compile with -DFIXTURE=<module name> -DFIXTURE_CAPS=<bits>"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

#define ALL_SOURCE_CAPS                                                                          \
	(MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_PARALLEL_SESSIONS | MF_CAP_MONOTONIC_UIDS | \
	 MF_CAP_SYNC_STATE)

struct fx_ctx {
	int open, max; /* sessions, updated with atomics */
};

struct mf_source {
	struct fx_ctx *ctx;
	char *dir;
};

struct fx_msg {
	char id[64], folder[64], kw[256], subject[64];
	uint64_t uid;
};

struct fx_box {
	uint32_t uidvalidity;
	bool token;
	struct fx_msg *v;
	size_t n;
	char folders[8][64];
	size_t n_folders;
};

static int fx_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	(void)host;
	(void)err;
	*ctx_r = mf_xcalloc(1, sizeof(struct fx_ctx));
	return MF_OK;
}

static void fx_deinit(void *ctx)
{
	free(ctx);
}

static int load(const struct mf_source *src, struct fx_box *b, struct mf_error *err)
{
	memset(b, 0, sizeof(*b));
	char *path = mf_xasprintf("%s/mailbox", src->dir);
	FILE *f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER, "fixture: no %s/mailbox",
				    src->dir);
	char line[512], folder[64] = "INBOX";
	while (fgets(line, sizeof(line), f) != NULL) {
		struct fx_msg m = { .uid = 0 };
		unsigned long long uid;
		unsigned v;
		if (sscanf(line, "uidvalidity %u", &v) == 1) {
			b->uidvalidity = v;
		} else if (strncmp(line, "synctoken", 9) == 0) {
			b->token = true;
		} else if (sscanf(line, "folder %63s", folder) == 1) {
			if (b->n_folders < 8)
				snprintf(b->folders[b->n_folders++], 64, "%s", folder);
		} else if (sscanf(line, "%63s %llu %255s %63s", m.id, &uid, m.kw, m.subject) == 4) {
			m.uid = uid;
			snprintf(m.folder, sizeof(m.folder), "%s", folder);
			b->v = mf_xrealloc(b->v, (b->n + 1) * sizeof(*b->v));
			b->v[b->n++] = m;
		}
	}
	fclose(f);
	if (b->n_folders == 0)
		snprintf(b->folders[b->n_folders++], 64, "INBOX");
	return MF_OK;
}

static void put_file(const struct mf_source *src, const char *name, const char *text)
{
	char *path = mf_xasprintf("%s/%s", src->dir, name);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

static int fx_open(void *ctx, const struct mf_account *acct, struct mf_source **src_r,
		   struct mf_error *err)
{
	(void)err;
	struct mf_source *s = mf_xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->dir = mf_xstrdup(acct->path);
	int now = __atomic_add_fetch(&s->ctx->open, 1, __ATOMIC_SEQ_CST);
	int max = __atomic_load_n(&s->ctx->max, __ATOMIC_SEQ_CST);
	while (now > max && !__atomic_compare_exchange_n(&s->ctx->max, &max, now, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	char text[32];
	snprintf(text, sizeof(text), "%d\n", __atomic_load_n(&s->ctx->max, __ATOMIC_SEQ_CST));
	put_file(s, "max_sessions", text);
	*src_r = s;
	return MF_OK;
}

static int fx_list(struct mf_source *src, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	struct fx_box b;
	int st = load(src, &b, err);
	for (size_t i = 0; st == MF_OK && i < b.n_folders; i++) {
		struct mf_folder f = { .path = b.folders[i],
				       .messages = MF_COUNT_UNKNOWN,
				       .bytes = MF_COUNT_UNKNOWN,
				       .uidvalidity = b.uidvalidity,
				       .selectable = true };
		if (strcmp(f.path, "INBOX") == 0)
			f.special_use = MF_SPECIAL_INBOX;
		st = cb(&f, aux);
	}
	free(b.v);
	return st;
}

struct reader {
	char *body;
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

static int deliver(const struct fx_msg *fm, mf_message_cb *cb, void *aux, struct mf_error *err)
{
	char *kw_copy = NULL;
	const char *kws[9] = { NULL };
	if (strcmp(fm->kw, "-") != 0) {
		kw_copy = mf_xstrdup(fm->kw);
		size_t n = 0;
		for (char *p = kw_copy; p != NULL && n < 8;) {
			kws[n++] = p;
			p = strchr(p, ',');
			if (p != NULL)
				*p++ = '\0';
		}
	}
	struct reader r = { mf_xasprintf("From: fixture@example.com\r\nSubject: %s\r\n\r\n%s\r\n",
					 fm->subject, fm->subject),
			    0 };
	struct mf_message m = { .source_id = fm->id,
				.uid = fm->uid,
				.size = strlen(r.body),
				.internal_date = 1700000000,
				.keywords = kw_copy ? kws : NULL,
				.read = fx_read,
				.read_ctx = &r };
	int st = cb(&m, aux, err);
	free(r.body);
	free(kw_copy);
	return st;
}

static int fx_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
		    mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	char text[300];
	snprintf(text, sizeof(text), "last_uid=%llu sync_state=%s\n",
		 (unsigned long long)since->last_uid,
		 since->sync_state != NULL ? since->sync_state : "(none)");
	put_file(src, "since", text);
	if (!((FIXTURE_CAPS)&MF_CAP_PARALLEL_SESSIONS) &&
	    __atomic_load_n(&src->ctx->open, __ATOMIC_SEQ_CST) > 1)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "fixture: %s: a second session at once, but this source "
				    "does not allow parallel sessions",
				    folder);
	struct fx_box b;
	int st = load(src, &b, err);
	size_t skip = since->sync_state != NULL ? strtoul(since->sync_state, NULL, 10) : 0;
	size_t pos = 0, in_folder = 0;
	for (size_t i = 0; st == MF_OK && i < b.n; i++) {
		const struct fx_msg *fm = &b.v[i];
		if (strcmp(fm->folder, folder) != 0)
			continue;
		in_folder++;
		if (pos++ < skip || fm->uid <= since->last_uid ||
		    (since->have != NULL && since->have(fm->id, since->have_aux)))
			continue;
		st = deliver(fm, cb, aux, err);
	}
	if (st == MF_OK && b.token && sync_state_r != NULL)
		*sync_state_r = mf_xasprintf("%zu", in_folder);
	free(b.v);
	return st;
}

static void fx_close(struct mf_source **src)
{
	if (*src == NULL)
		return;
	__atomic_sub_fetch(&(*src)->ctx->open, 1, __ATOMIC_SEQ_CST);
	free((*src)->dir);
	free(*src);
	*src = NULL;
}

static const struct mf_source_ops fx_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = fx_open,
	.list_folders = fx_list,
	.fetch = fx_fetch,
	.close = fx_close,
};

static const char *const fx_schemes[] = { STR(FIXTURE), NULL };

#define EXPORT_AS(mod) MF_PLUGIN_EXPORT(mod)
EXPORT_AS(FIXTURE) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = STR(FIXTURE),
	.version = "0.0-test",
	.description = "test fixture: a source lacking one capability bit",
	.schemes = fx_schemes,
	.caps = FIXTURE_CAPS,
	.init = fx_init,
	.deinit = fx_deinit,
	.source = &fx_source_ops,
};
