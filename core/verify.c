/* SPDX-License-Identifier: MIT */
/* Verification: read every message of the source and of the sink's store
 * (through a source plugin, at the URI the sink plugin names with its
 * reader_uri slot: the rest of the sink API writes only), and compare per target folder the multisets of (SHA-256, size),
 * both taken with bare LFs counted as CRLF: an IMAP target serves CRLF
 * whatever was appended, so an LF-only mbox and its copy must still
 * match.
 * The state file says which source folder went to which target folder,
 * so special-use renames and the inbox/named folder policies are
 * accounted for.  Nothing is written to either side. */
#include <config.h>
#include "verify.h"

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plugin_loader.h"
#include "state.h"

struct entry {
	unsigned char digest[32];
	uint64_t size;
};

struct entry_list {
	struct entry *v;
	size_t n, cap;
};

static void entry_push(struct entry_list *l, const unsigned char d[32], uint64_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = mf_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memcpy(l->v[l->n].digest, d, 32);
	l->v[l->n].size = size;
	l->n++;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->digest, y->digest, 32);
	if (c != 0)
		return c;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* Where the sink's store is read back from: the sink plugin says (ABI 1.6
 * reader_uri), so the core needs to know no sink's schemes or servers and
 * an out-of-tree sink can be verified too.  *uri_r is malloc'd. */
static int sink_reader_uri(const struct run_config *cfg, struct job *job, char **uri_r,
			   struct mf_error *err)
{
	*uri_r = NULL;
	struct loaded_plugin *lp =
		registry_get(cfg->registry, MF_PLUGIN_SINK, job->sink.scheme, err);
	if (lp == NULL)
		return MF_ERR_FATAL;
	if (lp->sink.reader_uri == NULL)
		return mf_error_set(
			err, MF_ERR_FATAL, MF_RETRY_NEVER,
			"%s: the sink plugin '%s' (%s) cannot say how its '%s:' store is "
			"read back (no reader_uri slot, plugin ABI 1.6), so it cannot be "
			"verified",
			job->name, lp->desc.name, lp->file, job->sink.scheme);
	int st = lp->sink.reader_uri(lp->ctx, &job->sink.acct, uri_r, err);
	if (st == MF_OK && *uri_r == NULL)
		st = mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				  "%s: the sink plugin '%s' gave no reader URI", job->name,
				  lp->desc.name);
	if (st != MF_OK) {
		free(*uri_r);
		*uri_r = NULL;
	}
	return st;
}

/* One side's messages, per folder path. */
struct side {
	char **paths;
	struct entry_list *lists;
	size_t n;
	struct mf_sha256 *sha;
};

static struct entry_list *side_folder(struct side *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->paths[i], path) == 0)
			return &s->lists[i];
	s->paths = mf_xrealloc(s->paths, (s->n + 1) * sizeof(char *));
	s->lists = mf_xrealloc(s->lists, (s->n + 1) * sizeof(*s->lists));
	s->paths[s->n] = mf_xstrdup(path);
	memset(&s->lists[s->n], 0, sizeof(*s->lists));
	return &s->lists[s->n++];
}

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->paths[i]);
		free(s->lists[i].v);
	}
	free(s->paths);
	free(s->lists);
	mf_sha256_free(&s->sha);
}

struct read_ctx {
	struct side *side;
	struct entry_list *list;
};

static bool never_have(const char *id, void *aux)
{
	(void)id;
	(void)aux;
	return false;
}

static int digest_message(const struct mf_message *msg, void *aux, struct mf_error *err)
{
	struct read_ctx *rc = aux;
	if (msg->failure != NULL)
		return MF_OK; /* counted as missing on the source side: not here */
	unsigned char buf[65536], d[32];
	uint64_t total = 0;
	bool after_cr = false;
	for (;;) {
		size_t n = 0;
		int st = msg->read(msg, buf, sizeof(buf), &n, err);
		if (st != MF_OK)
			return st;
		if (n == 0)
			break;
		total += mf_sha256_update_crlf(rc->side->sha, &after_cr, buf, n);
	}
	mf_sha256_final(rc->side->sha, d);
	entry_push(rc->list, d, total);
	return atomic_load(&mf_cancel_requested) ? MF_ERR_CANCELED : MF_OK;
}

struct wanted {
	char **paths;
	size_t n;
};

static bool is_wanted(const struct wanted *w, const char *path)
{
	if (w == NULL)
		return true;
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->paths[i], path) == 0)
			return true;
	return false;
}

static int collect_path(const struct mf_folder *f, void *aux)
{
	struct wanted *w = aux;
	if (!f->selectable)
		return MF_OK;
	w->paths = mf_xrealloc(w->paths, (w->n + 1) * sizeof(char *));
	w->paths[w->n++] = mf_xstrdup(f->path);
	return MF_OK;
}

/* Read every message of every folder of acct (only those in want, if
 * given) into side. */
static int read_side(const struct run_config *cfg, struct account_spec *spec,
		     const struct wanted *want, struct side *side, struct mf_error *err)
{
	struct loaded_plugin *lp = registry_get(cfg->registry, MF_PLUGIN_SOURCE, spec->scheme, err);
	if (lp == NULL)
		return MF_ERR_FATAL;
	struct mf_source *src = NULL;
	int st = lp->source.open(lp->ctx, &spec->acct, &src, err);
	struct wanted all = { 0 };
	if (st == MF_OK)
		st = lp->source.list_folders(src, collect_path, &all, err);
	side->sha = mf_sha256_new();
	for (size_t i = 0; st == MF_OK && i < all.n; i++) {
		if (!is_wanted(want, all.paths[i]))
			continue;
		struct read_ctx rc = { side, side_folder(side, all.paths[i]) };
		struct mf_cursor none = { .have = never_have };
		st = lp->source.fetch(src, all.paths[i], &none, digest_message, &rc, NULL, err);
		if (st == MF_ERR_FOLDER || st == MF_ERR_MESSAGE) {
			log_msg(MF_LOG_WARN, "verify: %s", err->text);
			st = MF_OK;
		}
	}
	for (size_t i = 0; i < all.n; i++)
		free(all.paths[i]);
	free(all.paths);
	lp->source.close(&src);
	return st;
}

struct folder_targets {
	struct state_folder_target *v;
	size_t n;
};

static int keep_target(const struct state_folder_target *t, void *aux)
{
	struct folder_targets *ft = aux;
	ft->v = mf_xrealloc(ft->v, (ft->n + 1) * sizeof(*ft->v));
	ft->v[ft->n].path = mf_xstrdup(t->path);
	ft->v[ft->n].target_path = t->target_path ? mf_xstrdup(t->target_path) : NULL;
	ft->v[ft->n].copied = t->copied;
	ft->v[ft->n].failed = t->failed;
	ft->n++;
	return MF_OK;
}

static struct verify_folder *out_folder(struct verify_account *a, const char *target)
{
	for (size_t i = 0; i < a->n_folders; i++)
		if (strcmp(a->folders[i].target, target) == 0)
			return &a->folders[i];
	a->folders = mf_xrealloc(a->folders, (a->n_folders + 1) * sizeof(*a->folders));
	struct verify_folder *f = &a->folders[a->n_folders++];
	memset(f, 0, sizeof(*f));
	f->target = mf_xstrdup(target);
	return f;
}

/* Multiset difference counts of two sorted lists. */
static void compare(struct entry_list *src, struct entry_list *dst, struct verify_folder *f)
{
	/* qsort() must not see the NULL array of an empty list. */
	if (src->n > 0)
		qsort(src->v, src->n, sizeof(*src->v), entry_cmp);
	if (dst != NULL && dst->n > 0)
		qsort(dst->v, dst->n, sizeof(*dst->v), entry_cmp);
	size_t i = 0, j = 0, dn = dst ? dst->n : 0;
	while (i < src->n || j < dn) {
		int c = i == src->n ? 1 : j == dn ? -1 : entry_cmp(&src->v[i], &dst->v[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			f->missing++;
			i++;
		} else {
			f->extra++;
			j++;
		}
	}
}

void verify_account(const struct run_config *cfg, struct job *job, struct verify_account *a)
{
	struct mf_error err = { 0 };
	struct state_db *db = NULL;
	struct folder_targets ft = { 0 };
	struct side src = { 0 }, dst = { 0 };
	struct wanted want = { 0 };
	struct account_spec reader = { 0 };
	memset(a, 0, sizeof(*a));
	a->name = mf_xstrdup(job->name);
	a->source_uri = mf_xstrdup(job->source.uri);
	a->sink_uri = mf_xstrdup(job->sink.uri);
	const struct folder_map *fmap = job->folders ? job->folders : cfg->folders;

	int st = state_open(cfg->state_path, &db, &err);
	if (st == MF_OK)
		st = state_folder_targets(db, job->name, keep_target, &ft, &err);
	if (st == MF_OK && ft.n == 0)
		st = mf_error_set(&err, MF_ERR_FATAL, MF_RETRY_NEVER,
				  "%s: nothing recorded in %s: run 'mailferry migrate' first",
				  job->name, cfg->state_path);
	for (size_t i = 0; st == MF_OK && i < ft.n; i++)
		if (folder_map_wanted(fmap, ft.v[i].path))
			collect_path(&(struct mf_folder){ .path = ft.v[i].path,
							  .selectable = true },
				     &want);
	if (st == MF_OK)
		st = read_side(cfg, &job->source, &want, &src, &err);
	char *reader_uri = NULL;
	if (st == MF_OK)
		st = sink_reader_uri(cfg, job, &reader_uri, &err);
	if (st == MF_OK)
		st = registry_uri_parse(cfg->registry, MF_PLUGIN_SOURCE, reader_uri, &reader, &err);
	if (st == MF_OK) {
		uri_set_password(&reader, job->sink.password);
		free(reader.authzid);
		reader.authzid = job->sink.authzid ? mf_xstrdup(job->sink.authzid) : NULL;
		reader.acct.authzid = reader.authzid;
		reader.acct.id = job->name;
		st = read_side(cfg, &reader, NULL, &dst, &err);
	}
	free(reader_uri);
	uri_spec_free(&reader);
	if (st != MF_OK) {
		a->error = mf_xstrdup(err.text);
		goto out;
	}
	/* Gather source messages per target folder. */
	struct side per_target = { 0 };
	for (size_t i = 0; i < ft.n; i++) {
		if (!is_wanted(&want, ft.v[i].path))
			continue;
		const char *target = ft.v[i].target_path ? ft.v[i].target_path : "(not copied yet)";
		struct verify_folder *f = out_folder(a, target);
		f->failed += ft.v[i].failed;
		char *joined = f->sources ? mf_xasprintf("%s, %s", f->sources, ft.v[i].path)
					  : mf_xstrdup(ft.v[i].path);
		free(f->sources);
		f->sources = joined;
		struct entry_list *from = side_folder(&src, ft.v[i].path);
		struct entry_list *into = side_folder(&per_target, target);
		for (size_t k = 0; k < from->n; k++) {
			entry_push(into, from->v[k].digest, from->v[k].size);
			f->src_count++;
			f->src_bytes += from->v[k].size;
		}
	}
	a->ok = true;
	for (size_t i = 0; i < a->n_folders; i++) {
		struct verify_folder *f = &a->folders[i];
		struct entry_list *have = NULL;
		for (size_t k = 0; k < dst.n; k++)
			if (strcmp(dst.paths[k], f->target) == 0)
				have = &dst.lists[k];
		f->readable = have != NULL;
		if (have != NULL)
			for (size_t k = 0; k < have->n; k++) {
				f->dst_count++;
				f->dst_bytes += have->v[k].size;
			}
		compare(side_folder(&per_target, f->target), have, f);
		/* Messages recorded as failed are reported, not hidden: they
		 * are missing in the target and counted there too. */
		if (f->missing > 0)
			a->ok = false;
	}
	side_free(&per_target);
out:
	side_free(&src);
	side_free(&dst);
	for (size_t i = 0; i < ft.n; i++) {
		free((char *)ft.v[i].path);
		free((char *)ft.v[i].target_path);
	}
	free(ft.v);
	for (size_t i = 0; i < want.n; i++)
		free(want.paths[i]);
	free(want.paths);
	state_close(&db);
}

void verify_account_free(struct verify_account *a)
{
	for (size_t i = 0; i < a->n_folders; i++) {
		free(a->folders[i].target);
		free(a->folders[i].sources);
	}
	free(a->folders);
	free(a->name);
	free(a->source_uri);
	free(a->sink_uri);
	free(a->error);
	memset(a, 0, sizeof(*a));
}
