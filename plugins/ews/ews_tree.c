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
	[EWS_ROLE_ROOT] = "msgfolderroot",
	[EWS_ROLE_INBOX] = "inbox",
	[EWS_ROLE_SENT] = "sentitems",
	[EWS_ROLE_DRAFTS] = "drafts",
	[EWS_ROLE_TRASH] = "deleteditems",
	[EWS_ROLE_JUNK] = "junkemail",
	[EWS_ROLE_OUTBOX] = "outbox",
	[EWS_ROLE_SYNCISSUES] = "syncissues",
};

struct idx {
	const char *id;
	size_t pos;
};

static int idx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct idx *)a)->id, ((const struct idx *)b)->id);
}

static const struct ews_folder_info *lookup(const struct idx *ix, size_t n,
					    const struct ews_folder_page *all,
					    const char *id)
{
	if (id == NULL)
		return NULL;
	struct idx key = { .id = id };
	const struct idx *hit = bsearch(&key, ix, n, sizeof(*ix), idx_cmp);
	return hit != NULL ? &all->v[hit->pos] : NULL;
}

static bool is_role(const char *const role_ids[EWS_ROLE_COUNT],
		    enum ews_role r, const char *id)
{
	return role_ids[r] != NULL && id != NULL && strcmp(role_ids[r], id) == 0;
}

/* One level's name: '/' is the core's separator, so it becomes '_'
 * ("2024/Q1" -> "2024_Q1"); control characters likewise; an empty name
 * becomes "_". */
static char *level_name(const struct ews_folder_info *f,
			const char *const role_ids[EWS_ROLE_COUNT])
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
static void dedupe_siblings(const struct ews_folder_page *all, char **lname,
			    const bool *dup,
			    const char *const role_ids[EWS_ROLE_COUNT])
{
	size_t n = 0;
	struct sib *s = mf_xcalloc(all->n ? all->n : 1, sizeof(*s));
	for (size_t i = 0; i < all->n; i++) {
		if (dup[i])
			continue;
		const char *parent = all->v[i].parent_id;
		s[n++] = (struct sib){ .parent = parent != NULL ? parent : "",
				     .name = lname[i], .pos = i,
				     .prio = is_role(role_ids, EWS_ROLE_INBOX, all->v[i].id) ? 0 : 1 };
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

void ews_tree_build(const struct ews_folder_page *all,
		    const char *const role_ids[EWS_ROLE_COUNT], bool keep_system,
		    struct ews_tree *tree_r)
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
	dedupe_siblings(all, lname, dup, role_ids);
	const struct ews_folder_info **chain = mf_xcalloc(n + 1, sizeof(*chain));
	tree_r->v = mf_xcalloc(n ? n : 1, sizeof(*tree_r->v));
	struct mf_buf path = { 0 };

	for (size_t i = 0; i < n; i++) {
		const struct ews_folder_info *f = &all->v[i];
		if (dup[i] || is_role(role_ids, EWS_ROLE_ROOT, f->id))
			continue; /* the root itself is no folder to migrate */
		/* Walk up to the root; a missing parent makes the topmost
		 * folder found an orphan at top level; a chain longer than n
		 * is a cycle: the folder alone goes to top level. */
		size_t depth = 0;
		bool system = false;
		for (const struct ews_folder_info *p = f; p != NULL;) {
			if (depth == n) {
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

const struct ews_tree_folder *ews_tree_find_path(const struct ews_tree *t,
						 const char *path)
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
