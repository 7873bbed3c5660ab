/* SPDX-License-Identifier: MIT */
/* Folder selection (--include-folder / --exclude-folder) and placement
 * (--folder-policy).  Paths are the canonical '/'-separated UTF-8 form
 * every plugin speaks; mapping onto a server's own separator and names is
 * the sink's business. */
#include <config.h>
#include "folder_map.h"

#include <mailferry/util.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int folder_map_set_policy(struct folder_map *m, const char *text, struct mf_error *err)
{
	free(m->named);
	m->named = NULL;
	if (strcmp(text, "original") == 0) {
		m->kind = FOLDER_POLICY_ORIGINAL;
	} else if (strcmp(text, "inbox") == 0) {
		m->kind = FOLDER_POLICY_INBOX;
	} else if (strncmp(text, "folder:", 7) == 0 && text[7] != '\0') {
		m->kind = FOLDER_POLICY_NAMED;
		m->named = mf_xstrdup(text + 7);
	} else {
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "--folder-policy '%s': expected original, inbox or folder:NAME",
				    text);
	}
	return MF_OK;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = mf_xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = mf_xstrdup(s);
}

void folder_map_include(struct folder_map *m, const char *glob)
{
	push(&m->include, &m->n_include, glob);
}

void folder_map_exclude(struct folder_map *m, const char *glob)
{
	push(&m->exclude, &m->n_exclude, glob);
}

void folder_map_free(struct folder_map *m)
{
	for (size_t i = 0; i < m->n_include; i++)
		free(m->include[i]);
	for (size_t i = 0; i < m->n_exclude; i++)
		free(m->exclude[i]);
	free(m->include);
	free(m->exclude);
	free(m->named);
	memset(m, 0, sizeof(*m));
}

static bool any_match(char *const *globs, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (fnmatch(globs[i], path, 0) == 0)
			return true;
		/* "Archive" also selects "Archive/2019": a folder's subtree
		 * goes with it unless excluded on its own. */
		char *copy = mf_xstrdup(path);
		for (char *slash = strrchr(copy, '/'); slash != NULL; slash = strrchr(copy, '/')) {
			*slash = '\0';
			if (fnmatch(globs[i], copy, 0) == 0) {
				free(copy);
				return true;
			}
		}
		free(copy);
	}
	return false;
}

bool folder_map_wanted(const struct folder_map *m, const char *path)
{
	if (m->n_include > 0 && !any_match(m->include, m->n_include, path))
		return false;
	return !any_match(m->exclude, m->n_exclude, path);
}

char *folder_map_target(const struct folder_map *m, const struct mf_folder *f,
			enum mf_special_use *special_r)
{
	switch (m->kind) {
	case FOLDER_POLICY_INBOX: *special_r = MF_SPECIAL_INBOX; return mf_xstrdup("INBOX");
	case FOLDER_POLICY_NAMED: *special_r = MF_SPECIAL_NONE; return mf_xstrdup(m->named);
	case FOLDER_POLICY_ORIGINAL:
	default:
		*special_r = f->special_use;
		if (mf_ascii_strcasecmp(f->path, "INBOX") == 0)
			*special_r = MF_SPECIAL_INBOX;
		return mf_xstrdup(f->path);
	}
}
