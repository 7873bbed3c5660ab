/* SPDX-License-Identifier: MIT */
/* Which source folders are migrated, and where they land. */
#ifndef MF_CORE_FOLDER_MAP_H
#define MF_CORE_FOLDER_MAP_H

#include <stdbool.h>
#include <mailferry/plugin.h>

enum folder_policy_kind {
	FOLDER_POLICY_ORIGINAL, /* keep the hierarchy (the default) */
	FOLDER_POLICY_INBOX,    /* everything into the inbox */
	FOLDER_POLICY_NAMED,    /* everything into one named folder */
};

struct folder_map {
	enum folder_policy_kind kind;
	char *named;               /* FOLDER_POLICY_NAMED */
	char **include, **exclude; /* fnmatch globs on the source path */
	size_t n_include, n_exclude;
};

/* "original", "inbox" or "folder:NAME" (the old console's "keep original
 * folders: yes / no / specify a folder"). */
int folder_map_set_policy(struct folder_map *m, const char *text, struct mf_error *err);
void folder_map_include(struct folder_map *m, const char *glob);
void folder_map_exclude(struct folder_map *m, const char *glob);
void folder_map_free(struct folder_map *m);

/* False if the folder is filtered out.  A folder matches a glob if its
 * path does, or (so a glob naming a folder takes its subfolders) any parent of it does. */
bool folder_map_wanted(const struct folder_map *m, const char *path);

/* Target path and special-use for the sink's ensure_folder() (malloc'd). */
char *folder_map_target(const struct folder_map *m, const struct mf_folder *f,
			enum mf_special_use *special_r);

#endif
