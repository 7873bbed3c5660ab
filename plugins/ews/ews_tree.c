/* SPDX-License-Identifier: MIT */
/* Folder paths from a flat FindFolder (Deep) list: every folder is keyed by
 * its FolderId, its path is rebuilt by walking ParentFolderId up to the
 * msgfolderroot (brief §2.3), well-known folders get their special-use by
 * id (DisplayNames are localized, so never by name), and non-mail classes
 * are dropped per folder, not per subtree.  Pure: no network, no state. */
#include <config.h>
#include "ews_p.h"

#include <stdlib.h>
#include <string.h>

const char *const ews_role_names[EWS_ROLE_COUNT] = {
	[EWS_ROLE_ROOT] = "msgfolderroot", [EWS_ROLE_INBOX] = "inbox",
	[EWS_ROLE_SENT] = "sentitems",     [EWS_ROLE_DRAFTS] = "drafts",
	[EWS_ROLE_TRASH] = "deleteditems", [EWS_ROLE_JUNK] = "junkemail",
	[EWS_ROLE_OUTBOX] = "outbox",      [EWS_ROLE_SYNCISSUES] = "syncissues",
};

/* Deeper hierarchies exist in no real mailbox; IMAP servers refuse them
 * long before this. */
#define EWS_MAX_DEPTH 128

struct idx {
	const char *id;
	size_t pos;
};

static int idx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct idx *)a)->id, ((const struct idx *)b)->id);
}

static const struct ews_folder_info *lookup(const struct idx *ix, size_t n,
					    const struct ews_folder_page *all, const char *id)
{
	if (id == NULL)
		return NULL;
	struct idx key = { .id = id };
	const struct idx *hit = bsearch(&key, ix, n, sizeof(*ix), idx_cmp);
	return hit != NULL ? &all->v[hit->pos] : NULL;
}

static bool is_role(const char *const role_ids[EWS_ROLE_COUNT], enum ews_role r, const char *id)
{
	return role_ids[r] != NULL && id != NULL && strcmp(role_ids[r], id) == 0;
}

/* One level's name: '/' is the core's separator, so it becomes '_'
 * ("2024/Q1" -> "2024_Q1"); control characters likewise; an empty name
 * becomes "_". */
static char *level_name(const struct ews_folder_info *f, const char *const role_ids[EWS_ROLE_COUNT])
{
	if (is_role(role_ids, EWS_ROLE_INBOX, f->id))
		return mf_xstrdup("INBOX");
	const char *n = f->name != NULL && f->name[0] != '\0' ? f->name : "_";
	char *s = mf_xstrdup(n);
	for (char *p = s; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	return s;
}

struct sib {
	const char *parent, *name;
	int prio; /* 0 for the real inbox: it keeps "INBOX" on a clash */
	size_t pos;
};

static int sib_cmp(const void *a, const void *b)
{
	const struct sib *x = a, *y = b;
	int c = strcmp(x->parent, y->parent);
	if (c == 0)
		c = strcmp(x->name, y->name);
	if (c == 0)
		c = x->prio - y->prio;
	if (c == 0)
		c = x->pos < y->pos ? -1 : x->pos > y->pos;
	return c;
}

/* Siblings may collide once '/' became '_' ("a/b" next to "a_b"), or a
 * user folder "INBOX" sits next to the inbox: suffix the later ones with
 * "~2", "~3", ... so that no two folders (nor their subtrees) merge. */
static void dedupe_siblings(const struct ews_folder_page *all, char **lname, const bool *dup,
			    const struct idx *ix, const char *const role_ids[EWS_ROLE_COUNT])
{
	size_t n = 0;
	struct sib *s = mf_xcalloc(all->n ? all->n : 1, sizeof(*s));
	for (size_t i = 0; i < all->n; i++) {
		if (dup[i])
			continue;
		/* Orphans land at top level: they are siblings of the root's
		 * children there. */
		const char *parent = all->v[i].parent_id;
		if (parent == NULL || is_role(role_ids, EWS_ROLE_ROOT, parent) ||
		    lookup(ix, all->n, all, parent) == NULL)
			parent = "";
		s[n++] =
			(struct sib){ .parent = parent,
				      .name = lname[i],
				      .pos = i,
				      .prio = is_role(role_ids, EWS_ROLE_INBOX, all->v[i].id) ? 0
											      : 1 };
	}
	qsort(s, n, sizeof(*s), sib_cmp);
	for (size_t i = 1, k = 2; i < n; i++) {
		if (strcmp(s[i].parent, s[i - 1].parent) != 0 ||
		    strcmp(s[i].name, s[i - 1].name) != 0) {
			k = 2;
			continue;
		}
		char *nn = mf_xasprintf("%s~%zu", s[i].name, k++);
		free(lname[s[i].pos]);
		lname[s[i].pos] = nn;
		s[i].name = s[i - 1].name; /* keep the run going */
	}
	free(s);
}

static int tf_cmp(const void *a, const void *b)
{
	const struct ews_tree_folder *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* A set of strings (open addressing, FNV-1a), to test names quickly. */
struct pset {
	const char **v;
	size_t cap;
};

static size_t pset_slot(const struct pset *ps, const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	size_t i = (size_t)(h % ps->cap);
	while (ps->v[i] != NULL && strcmp(ps->v[i], s) != 0)
		i = (i + 1) % ps->cap;
	return i;
}

static int tfp_cmp(const void *a, const void *b)
{
	const struct ews_tree_folder *x = *(const struct ews_tree_folder *const *)a;
	const struct ews_tree_folder *y = *(const struct ews_tree_folder *const *)b;
	int c = strcmp(x->path, y->path);
	return c != 0 ? c : (x < y ? -1 : x > y);
}

/* Sibling names are unique by now, but a folder put at top level (cycle,
 * absurd depth) can still meet another path.  Two folders must never
 * share a path: fetch() finds folders by path, so the second one would
 * never be read.  Later ones get "~k" (k counting on per name). */
static void unique_paths(struct ews_tree *t)
{
	if (t->n < 2)
		return;
	struct ews_tree_folder **ord = mf_xcalloc(t->n, sizeof(*ord));
	for (size_t i = 0; i < t->n; i++)
		ord[i] = &t->v[i];
	qsort(ord, t->n, sizeof(*ord), tfp_cmp);
	struct pset ps = { .cap = 2 * t->n + 1 };
	ps.v = mf_xcalloc(ps.cap, sizeof(*ps.v));
	for (size_t i = 0; i < t->n; i++)
		ps.v[pset_slot(&ps, ord[i]->path)] = ord[i]->path;
	char **renamed = mf_xcalloc(t->n, sizeof(*renamed));
	size_t nren = 0, k = 2;
	const char *base = ord[0]->path;
	for (size_t i = 1; i < t->n; i++) {
		if (strcmp(ord[i]->path, base) != 0) {
			base = ord[i]->path;
			k = 2;
			continue;
		}
		char *np;
		for (;;) {
			np = mf_xasprintf("%s~%zu", base, k++);
			if (ps.v[pset_slot(&ps, np)] == NULL)
				break;
			free(np);
		}
		ps.v[pset_slot(&ps, np)] = np;
		renamed[nren++] = ord[i]->path; /* freed at the end: base may be it */
		ord[i]->path = np;
		/* Keep the set at most half full. */
		if (2 * (t->n + nren) >= ps.cap) {
			struct pset bigger = { .cap = 2 * ps.cap + 1 };
			bigger.v = mf_xcalloc(bigger.cap, sizeof(*bigger.v));
			for (size_t j = 0; j < ps.cap; j++)
				if (ps.v[j] != NULL)
					bigger.v[pset_slot(&bigger, ps.v[j])] = ps.v[j];
			free(ps.v);
			ps = bigger;
		}
	}
	for (size_t i = 0; i < nren; i++)
		free(renamed[i]);
	free(renamed);
	free(ps.v);
	free(ord);
}

void ews_tree_build(const struct ews_folder_page *all, const char *const role_ids[EWS_ROLE_COUNT],
		    bool keep_system, struct ews_tree *tree_r)
{
	memset(tree_r, 0, sizeof(*tree_r));
	size_t n = all->n;
	struct idx *ix = mf_xcalloc(n ? n : 1, sizeof(*ix));
	char **lname = mf_xcalloc(n ? n : 1, sizeof(*lname));
	for (size_t i = 0; i < n; i++) {
		ix[i] = (struct idx){ .id = all->v[i].id, .pos = i };
		lname[i] = level_name(&all->v[i], role_ids);
	}
	qsort(ix, n, sizeof(*ix), idx_cmp);
	/* A folder listed twice (offsets shift while paging, brief §3) is
	 * one folder. */
	bool *dup = mf_xcalloc(n ? n : 1, sizeof(*dup));
	for (size_t i = 1; i < n; i++)
		if (strcmp(ix[i].id, ix[i - 1].id) == 0)
			dup[ix[i].pos] = true;
	dedupe_siblings(all, lname, dup, ix, role_ids);
	const struct ews_folder_info **chain = mf_xcalloc(n + 1, sizeof(*chain));
	tree_r->v = mf_xcalloc(n ? n : 1, sizeof(*tree_r->v));
	struct mf_buf path = { 0 };

	for (size_t i = 0; i < n; i++) {
		const struct ews_folder_info *f = &all->v[i];
		if (dup[i] || is_role(role_ids, EWS_ROLE_ROOT, f->id))
			continue; /* the root itself is no folder to migrate */
		/* Walk up to the root; a missing parent makes the topmost
		 * folder found an orphan at top level; a chain longer than n
		 * is a cycle, and one deeper than EWS_MAX_DEPTH is absurd
		 * (and would cost n * depth): either way the folder alone
		 * goes to top level. */
		size_t depth = 0;
		bool system = false;
		for (const struct ews_folder_info *p = f; p != NULL;) {
			if (depth == n || depth == EWS_MAX_DEPTH) {
				chain[0] = f;
				depth = 1;
				break;
			}
			chain[depth++] = p;
			if (is_role(role_ids, EWS_ROLE_OUTBOX, p->id) ||
			    is_role(role_ids, EWS_ROLE_SYNCISSUES, p->id))
				system = true;
			if (is_role(role_ids, EWS_ROLE_ROOT, p->parent_id))
				break;
			p = lookup(ix, n, all, p->parent_id);
		}
		if (f->search || !ews_folder_class_is_mail(f->folder_class)) {
			tree_r->skipped_class++;
			continue;
		}
		if (system && !keep_system) {
			tree_r->skipped_system++;
			continue;
		}
		mf_buf_clear(&path);
		for (size_t d = depth; d-- > 0;) {
			mf_buf_append_str(&path, lname[chain[d] - all->v]);
			if (d > 0)
				mf_buf_append(&path, "/", 1);
		}
		struct ews_tree_folder *tf = &tree_r->v[tree_r->n++];
		tf->id = mf_xstrdup(f->id);
		tf->path = mf_xstrdup((const char *)path.data);
		tf->total = f->total;
		tf->depth = (unsigned)depth;
		tf->special_use = MF_SPECIAL_NONE;
		if (is_role(role_ids, EWS_ROLE_INBOX, f->id))
			tf->special_use = MF_SPECIAL_INBOX;
		else if (is_role(role_ids, EWS_ROLE_SENT, f->id))
			tf->special_use = MF_SPECIAL_SENT;
		else if (is_role(role_ids, EWS_ROLE_DRAFTS, f->id))
			tf->special_use = MF_SPECIAL_DRAFTS;
		else if (is_role(role_ids, EWS_ROLE_TRASH, f->id))
			tf->special_use = MF_SPECIAL_TRASH;
		else if (is_role(role_ids, EWS_ROLE_JUNK, f->id))
			tf->special_use = MF_SPECIAL_JUNK;
	}
	unique_paths(tree_r);
	/* Parents before children, as list_folders promises. */
	qsort(tree_r->v, tree_r->n, sizeof(*tree_r->v), tf_cmp);
	mf_buf_free(&path);
	for (size_t i = 0; i < n; i++)
		free(lname[i]);
	free(lname);
	free(dup);
	free(chain);
	free(ix);
}

const struct ews_tree_folder *ews_tree_find_path(const struct ews_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].path, path) == 0)
			return &t->v[i];
	return NULL;
}

void ews_tree_free(struct ews_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].id);
		free(t->v[i].path);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
