/* SPDX-License-Identifier: MIT */
/* The folder tree of a Graph mailbox: the well-known folders by one
 * $batch of GET mailFolders/{name} (display names are localized, so roles
 * come from ids, never names), then mailFolders and each folder's
 * childFolders, breadth first (parents before children, as list_folders
 * promises), every page followed by @odata.nextLink only.  Skipped and
 * counted: search folders (their items live elsewhere), hidden folders
 * unless ?hidden=1, and the Outbox / Sync Issues trees. */
#include <config.h>
#include "graph_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MAX_DEPTH 128
#define FOLDER_SELECT \
	"$select=id,displayName,parentFolderId,childFolderCount,totalItemCount,isHidden"

enum role {
	R_INBOX,
	R_SENT,
	R_DRAFTS,
	R_TRASH,
	R_JUNK,
	R_ARCHIVE,
	R_OUTBOX,
	R_SYNCISSUES,
	R_COUNT
};
static const char *const role_names[R_COUNT] = {
	"inbox",     "sentitems", "drafts", "deleteditems",
	"junkemail", "archive",   "outbox", "syncissues",
};
static const enum mf_special_use role_use[R_COUNT] = {
	MF_SPECIAL_INBOX, MF_SPECIAL_SENT,    MF_SPECIAL_DRAFTS, MF_SPECIAL_TRASH,
	MF_SPECIAL_JUNK,  MF_SPECIAL_ARCHIVE, MF_SPECIAL_NONE,   MF_SPECIAL_NONE,
};

/* ids of the well-known folders; a mailbox without an archive answers
 * that one with 404, which is fine. */
static int load_roles(struct mf_source *s, char *ids[R_COUNT], struct mf_error *err)
{
	json_t *reqs = json_array();
	char *up = graph_user_path(s->http, s->user);
	for (size_t r = 0; r < R_COUNT; r++) {
		char *url = mf_xasprintf("/%s/mailFolders/%s?$select=id", up, role_names[r]);
		json_array_append_new(reqs, json_pack("{s:s, s:s, s:s}", "id", role_names[r],
						      "method", "GET", "url", url));
		free(url);
	}
	free(up);
	json_t *body = json_pack("{s:o}", "requests", reqs);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	char *url = mf_xasprintf("%s/v1.0/$batch", graph_http_base(s->http));
	char *what = mf_xasprintf("%s: well-known folders ($batch)", s->who);
	json_t *j = NULL;
	int st = graph_get_json(s->http, url, NULL, text, what, MF_ERR_ACCOUNT, &j, NULL, err);
	free(url);
	free(text);
	for (size_t i = 0; st == MF_OK && i < json_array_size(json_object_get(j, "responses"));
	     i++) {
		json_t *resp = json_array_get(json_object_get(j, "responses"), i);
		const char *id = json_string_value(json_object_get(resp, "id"));
		json_int_t status = json_integer_value(json_object_get(resp, "status"));
		const char *fid =
			json_string_value(json_object_get(json_object_get(resp, "body"), "id"));
		for (size_t r = 0; id != NULL && r < R_COUNT; r++) {
			if (strcmp(id, role_names[r]) != 0)
				continue;
			if (status == 200 && fid != NULL)
				ids[r] = mf_xstrdup(fid);
			else if (status == 401 || status == 403 || status == 429 || status >= 500)
				/* The batch succeeded, this part did not: treat it
				 * as the whole request failing. */
				st = mf_error_set(err,
						  status == 403 || status == 401 ? MF_ERR_AUTH
										 : MF_ERR_ACCOUNT,
						  status == 429 || status >= 500 ? MF_RETRY_LATER
										 : MF_RETRY_NEVER,
						  "%s: HTTP %lld for the %s folder", what,
						  (long long)status, role_names[r]);
		}
	}
	json_decref(j);
	free(what);
	return st;
}

static int role_of(char *const ids[R_COUNT], const char *id)
{
	for (int r = 0; r < R_COUNT; r++)
		if (ids[r] != NULL && id != NULL && strcmp(ids[r], id) == 0)
			return r;
	return -1;
}

/* One level's name: '/' is the core's separator, so it becomes '_';
 * control characters likewise; an empty name becomes "_". */
static char *level_name(const char *name)
{
	char *s = mf_xstrdup(name != NULL && *name != '\0' ? name : "_");
	for (char *p = s; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	return s;
}

static bool path_taken(const struct mf_source *s, const char *path)
{
	return graph_find_folder(s, path) != NULL;
}

struct pending {
	char *id, *path; /* the folder whose children to list */
	unsigned depth;
};

static void add_folder(struct mf_source *s, const char *id, const char *path,
		       enum mf_special_use use, uint64_t total)
{
	s->folders = mf_xrealloc(s->folders, (s->nfolders + 1) * sizeof(*s->folders));
	s->folders[s->nfolders++] = (struct graph_folder){
		.id = mf_xstrdup(id),
		.path = mf_xstrdup(path),
		.special_use = use,
		.total = total,
	};
}

/* The folders of one page, appended; those with children queued. */
static void take_page(struct mf_source *s, json_t *page, const struct pending *parent,
		      char *const roles[R_COUNT], struct pending **q, size_t *nq)
{
	json_t *v = json_object_get(page, "value");
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *f = json_array_get(v, i);
		const char *id = json_string_value(json_object_get(f, "id"));
		const char *type = json_string_value(json_object_get(f, "@odata.type"));
		if (id == NULL)
			continue;
		if (type != NULL && strstr(type, "mailSearchFolder") != NULL) {
			s->skipped_search++;
			continue;
		}
		if (json_is_true(json_object_get(f, "isHidden")) && !s->hidden) {
			s->skipped_hidden++;
			continue;
		}
		int r = role_of(roles, id);
		if (r == R_OUTBOX || r == R_SYNCISSUES) {
			s->skipped_system++;
			continue;
		}
		char *lname =
			r == R_INBOX
				? mf_xstrdup("INBOX")
				: level_name(json_string_value(json_object_get(f, "displayName")));
		char *path = parent->path != NULL ? mf_xasprintf("%s/%s", parent->path, lname)
						  : mf_xstrdup(lname);
		/* Siblings may collide once '/' became '_', or a user folder
		 * "INBOX" sits beside the inbox: "~2", "~3", ... */
		for (unsigned k = 2; path_taken(s, path); k++) {
			free(path);
			path = parent->path != NULL
				       ? mf_xasprintf("%s/%s~%u", parent->path, lname, k)
				       : mf_xasprintf("%s~%u", lname, k);
		}
		json_int_t total = json_integer_value(json_object_get(f, "totalItemCount"));
		add_folder(s, id, path, r >= 0 ? role_use[r] : MF_SPECIAL_NONE,
			   json_is_integer(json_object_get(f, "totalItemCount"))
				   ? (uint64_t)total
				   : MF_COUNT_UNKNOWN);
		if (json_integer_value(json_object_get(f, "childFolderCount")) > 0 &&
		    parent->depth + 1 < GRAPH_MAX_DEPTH) {
			*q = mf_xrealloc(*q, (*nq + 1) * sizeof(**q));
			(*q)[(*nq)++] = (struct pending){ mf_xstrdup(id), mf_xstrdup(path),
							  parent->depth + 1 };
		}
		free(path);
		free(lname);
	}
}

/* Every page of one listing (mailFolders or childFolders). */
static int list_children(struct mf_source *s, const struct pending *parent,
			 char *const roles[R_COUNT], struct pending **q, size_t *nq,
			 struct mf_error *err)
{
	char *url =
		parent->id == NULL
			? mf_xasprintf(
				  "%s/mailFolders?includeHiddenFolders=true&$top=100&" FOLDER_SELECT,
				  s->users_url)
			: mf_xasprintf(
				  "%s/mailFolders/%s/childFolders?includeHiddenFolders=true&$top=100&" FOLDER_SELECT,
				  s->users_url, parent->id);
	char *what = mf_xasprintf("%s: folders under %s", s->who,
				  parent->path != NULL ? parent->path : "the top");
	int st = MF_OK;
	while (st == MF_OK && url != NULL) {
		json_t *page = NULL;
		st = graph_get_json(s->http, url, NULL, NULL, what, MF_ERR_ACCOUNT, &page, NULL,
				    err);
		free(url);
		url = NULL;
		if (st != MF_OK)
			break;
		take_page(s, page, parent, roles, q, nq);
		const char *next = json_string_value(json_object_get(page, "@odata.nextLink"));
		url = next != NULL ? mf_xstrdup(next) : NULL;
		json_decref(page);
	}
	free(url);
	free(what);
	return st;
}

int graph_load_folders(struct mf_source *s, struct mf_error *err)
{
	if (s->listed)
		return MF_OK;
	graph_folders_free(s);
	s->skipped_search = s->skipped_hidden = s->skipped_system = 0;
	char *roles[R_COUNT] = { 0 };
	int st = load_roles(s, roles, err);
	struct pending *q = mf_xcalloc(1, sizeof(*q));
	size_t nq = 1;
	q[0] = (struct pending){ NULL, NULL, 0 }; /* the top level */
	for (size_t i = 0; st == MF_OK && i < nq; i++) {
		struct pending p = q[i];
		st = list_children(s, &p, roles, &q, &nq, err);
	}
	for (size_t i = 0; i < nq; i++) {
		free(q[i].id);
		free(q[i].path);
	}
	free(q);
	for (size_t r = 0; r < R_COUNT; r++)
		free(roles[r]);
	if (st != MF_OK) {
		graph_folders_free(s);
		return st;
	}
	s->listed = true;
	if (s->skipped_search + s->skipped_hidden + s->skipped_system > 0)
		graph_log(s, MF_LOG_INFO,
			  "folders skipped: %zu search, %zu hidden (hidden=1 keeps them), %zu "
			  "Outbox/Sync Issues",
			  s->skipped_search, s->skipped_hidden, s->skipped_system);
	return MF_OK;
}

const struct graph_folder *graph_find_folder(const struct mf_source *s, const char *path)
{
	for (size_t i = 0; i < s->nfolders; i++)
		if (strcmp(s->folders[i].path, path) == 0)
			return &s->folders[i];
	return NULL;
}

int graph_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	int st = graph_load_folders(s, err);
	for (size_t i = 0; st == MF_OK && i < s->nfolders; i++) {
		const struct graph_folder *f = &s->folders[i];
		struct mf_folder mf = {
			.path = f->path,
			.special_use = f->special_use,
			.messages = f->total,
			.bytes = MF_COUNT_UNKNOWN,
			.uidvalidity = 0,
			.selectable = true,
		};
		if ((st = cb(&mf, aux)) != 0 && err != NULL && err->text[0] == '\0')
			mf_error_set(err, (enum mf_status)st, MF_RETRY_NEVER,
				     "%s: stopped by the core", s->who);
	}
	return st;
}
