/* SPDX-License-Identifier: MIT */
/* A Graph session: the URI graph://TENANT/USER@DOMAIN (USER may also be
 * the user's object id), options, and a first request that proves the
 * token and the mailbox before any folder work starts:
 *   base=URL|china|usgov  the Graph endpoint (national clouds; tests
 *                         point it at the fake); the token's scope is
 *                         BASE/.default
 *   hidden=1              migrate hidden folders too (Graph lists them
 *                         only with includeHiddenFolders=true)
 *   page-size=N           messages per delta page (default 100)
 *   batch=N               message bodies per $batch request (default 20,
 *                         Graph's maximum; 1 = one $value request each)
 * The plugin's init/deinit live here too: libcurl's global state is set up
 * once, before threads, as it requires. */
#include <config.h>
#include "graph_p.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void graph_log(const struct mf_source *s, enum mf_log_level lvl, const char *fmt, ...)
{
	if (s->host == NULL || s->host->log == NULL)
		return;
	char text[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->host->log(s->host->host_ctx, lvl, "%s: %s", s->who, text);
}

static const char *base_url(const char *v)
{
	if (v == NULL || *v == '\0' || strcmp(v, "global") == 0)
		return GRAPH_DEFAULT_BASE;
	if (strcmp(v, "china") == 0)
		return "https://microsoftgraph.chinacloudapi.cn";
	if (strcmp(v, "usgov") == 0)
		return "https://graph.microsoft.us";
	return v;
}

void graph_folders_free(struct mf_source *s)
{
	for (size_t i = 0; i < s->nfolders; i++) {
		free(s->folders[i].id);
		free(s->folders[i].path);
	}
	free(s->folders);
	s->folders = NULL;
	s->nfolders = 0;
	s->listed = false;
}

void graph_close(struct mf_source **srcp)
{
	struct mf_source *s = srcp != NULL ? *srcp : NULL;
	if (s == NULL)
		return;
	graph_http_free(&s->http);
	graph_folders_free(s);
	free(s->who);
	free(s->user);
	free(s->users_url);
	free(s);
	*srcp = NULL;
}

int graph_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
	       struct mf_error *err)
{
	struct graph_plugin *pc = plugin_ctx;
	*src_r = NULL;
	const char *tenant = acct->host;
	const char *user = acct->path != NULL ? acct->path : "";
	while (*user == '/')
		user++;
	if (*user == '\0' && acct->user != NULL)
		user = acct->user; /* graph://USER@TENANT also reads naturally */
	if (tenant == NULL || *tenant == '\0' || *user == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "graph: %s: expected graph://TENANT/USER@DOMAIN (TENANT: "
				    "the directory id or a verified domain)",
				    acct->uri != NULL ? acct->uri : "");
	const char *pages = mf_account_option(acct, "page-size");
	unsigned page_size = pages != NULL ? (unsigned)atoi(pages) : 100;
	if (page_size == 0 || page_size > 1000)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "graph: page-size=%s: expected 1 to 1000", pages);

	struct mf_source *s = mf_xcalloc(1, sizeof(*s));
	*src_r = s;
	s->plugin = pc;
	s->host = pc != NULL ? pc->host : NULL;
	s->user = mf_xstrdup(user);
	s->who = mf_xasprintf("graph: %s", user);
	s->page_size = page_size;
	const char *batch = mf_account_option(acct, "batch");
	s->batch = batch != NULL ? (unsigned)atoi(batch) : 20;
	if (s->batch == 0 || s->batch > 20) {
		graph_close(src_r);
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "graph: batch=%s: expected 1 to 20", batch);
	}
	const char *hidden = mf_account_option(acct, "hidden");
	s->hidden = hidden != NULL && strcmp(hidden, "0") != 0 && strcmp(hidden, "no") != 0;
	const char *base = base_url(mf_account_option(acct, "base"));
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	char *b = mf_xstrndup(base, blen);
	s->http = graph_http_new(s->host, acct, tenant, b, s->who, user);
	char *up = graph_user_path(s->http, user);
	s->users_url = mf_xasprintf("%s/v1.0/%s", b, up);
	free(up);
	free(b);

	/* Token and mailbox in one cheap request: the errors an operator
	 * meets first (consent, wrong tenant, no such mailbox) come here. */
	char *url = mf_xasprintf("%s/mailFolders/inbox?$select=id", s->users_url);
	json_t *j = NULL;
	int st = graph_get_json(s->http, url, NULL, NULL, s->who, MF_ERR_ACCOUNT, &j, NULL, err);
	json_decref(j);
	free(url);
	return st;
}

int graph_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "graph: curl_global_init failed");
	struct graph_plugin *pc = mf_xcalloc(1, sizeof(*pc));
	pc->host = host;
	*ctx_r = pc;
	return MF_OK;
}

void graph_plugin_deinit(void *ctx)
{
	free(ctx);
}
