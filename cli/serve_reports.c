/* SPDX-License-Identifier: MIT */
/* The verify reports under --reports DIR, read-only: a list of every
 * verify-report.html / .json in DIR and its subdirectories (two levels:
 * one per run, say), and the files themselves.  Only those two names are
 * served, by a path whose every part is a plain name (no "..", no dot
 * files) and which still lies inside DIR once symbolic links are
 * resolved. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mailferry/util.h>
#include "serve.h"

#define REPORT_MAX (256u << 20)
#define DEPTH_MAX 2

static bool is_report_name(const char *n)
{
	return strcmp(n, "verify-report.html") == 0 || strcmp(n, "verify-report.json") == 0;
}

static void walk(const char *root, const char *rel, int depth, json_t *list)
{
	char *dir = rel[0] ? mf_xasprintf("%s/%s", root, rel) : mf_xstrdup(root);
	DIR *d = opendir(dir);
	if (d == NULL) {
		free(dir);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *path = mf_xasprintf("%s/%s", dir, e->d_name);
		char *sub = rel[0] ? mf_xasprintf("%s/%s", rel, e->d_name) : mf_xstrdup(e->d_name);
		struct stat st;
		if (stat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && depth < DEPTH_MAX)
				walk(root, sub, depth + 1, list);
			else if (S_ISREG(st.st_mode) && is_report_name(e->d_name))
				json_array_append_new(list,
						      json_pack("{ss sI sI}", "path", sub, "size",
								(json_int_t)st.st_size, "modified",
								(json_int_t)st.st_mtime));
		}
		free(path);
		free(sub);
	}
	closedir(d);
	free(dir);
}

void serve_reports_list(struct serve_ctx *ctx, struct serve_reply *r)
{
	json_t *list = json_array();
	if (ctx->reports_dir != NULL)
		walk(ctx->reports_dir, "", 0, list);
	serve_reply_json(r, MHD_HTTP_OK, json_pack("{so}", "reports", list));
}

static bool plain_path(const char *p)
{
	if (p[0] == '\0' || p[0] == '/')
		return false;
	for (const char *part = p; part != NULL;) {
		const char *slash = strchr(part, '/');
		size_t n = slash ? (size_t)(slash - part) : strlen(part);
		if (n == 0 || part[0] == '.')
			return false;
		for (size_t i = 0; i < n; i++)
			if (part[i] == '\\' || (unsigned char)part[i] < 0x20)
				return false;
		part = slash ? slash + 1 : NULL;
	}
	const char *base = strrchr(p, '/');
	return is_report_name(base ? base + 1 : p);
}

void serve_reports_file(struct serve_ctx *ctx, const char *path, struct serve_reply *r)
{
	if (ctx->reports_dir == NULL || !plain_path(path)) {
		serve_reply_error(r, MHD_HTTP_NOT_FOUND, "no such report");
		return;
	}
	char root[PATH_MAX], real[PATH_MAX];
	char *full = mf_xasprintf("%s/%s", ctx->reports_dir, path);
	bool inside = realpath(ctx->reports_dir, root) != NULL && realpath(full, real) != NULL &&
		      strncmp(real, root, strlen(root)) == 0 && real[strlen(root)] == '/';
	free(full);
	FILE *f = inside ? fopen(real, "rb") : NULL;
	struct stat st;
	if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > REPORT_MAX) {
		if (f != NULL)
			fclose(f);
		serve_reply_error(r, MHD_HTTP_NOT_FOUND, "no such report");
		return;
	}
	char *buf = mf_xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	r->status = MHD_HTTP_OK;
	r->type = strstr(path, ".json") ? "application/json" : "text/html; charset=utf-8";
	r->body = buf;
	r->len = n;
}
