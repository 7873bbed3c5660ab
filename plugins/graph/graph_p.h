/* SPDX-License-Identifier: MIT */
/* Private interfaces of the Microsoft Graph source (graph://TENANT/USER):
 * Exchange Online mailboxes through Graph v1.0, for tenants where EWS is
 * closed to applications.  The files call one way, top to bottom:
 *   graph_ops.c      the ops table
 *   graph_fetch.c    messages of a folder: delta query, $value bodies
 *   graph_tree.c     the folder tree: mailFolders, childFolders, roles
 *   graph_session.c  open/close: URI, options, the first request
 *   graph_http.c     requests over libcurl (up to 4 at once), the bearer
 *                    token from the core, errors mapped to mf_error
 * Tokens come from the core's OAuth service (host->oauth_token, ABI 1.3);
 * this plugin never sees a client secret. */
#ifndef MAILFERRY_GRAPH_P_H
#define MAILFERRY_GRAPH_P_H

#include <mailferry/plugin.h>
#include <mailferry/spool.h>
#include <mailferry/util.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define GRAPH_DEFAULT_BASE "https://graph.microsoft.com"
/* Exchange Online answers more than 4 concurrent requests per mailbox
 * with 429 (MailboxConcurrency). */
#define GRAPH_MAX_PARALLEL 4

struct graph_plugin {
	const struct mf_host *host;
};

/* ---- graph_http.c ----------------------------------------------------- */

/* Where one response body goes: a lib spool (<mailferry/spool.h>), memory
 * up to the request's limit, then a temporary file (a 100 MB message never
 * sits in memory); read it back with mf_spool_pread. */
struct graph_body {
	struct mf_spool sp;
	bool failed; /* over a !to_file limit, or the temporary file
				could not be written (sys_errno) */
	int sys_errno;
};
void graph_body_init(struct graph_body *b);
void graph_body_free(struct graph_body *b);

struct graph_req {
	const char *url;       /* absolute */
	const char *post_json; /* POST this body, or NULL for GET */
	const char *prefer;    /* extra "Prefer:" value or NULL */
	bool to_file;          /* body may spill to a temporary file */
	size_t mem_limit;      /* in-memory cap when !to_file; 0: the default */
	/* results */
	long http;
	struct graph_body body;
	uint32_t retry_after_ms;
	int curl_code;
	char curl_error[256];
	bool too_big; /* !to_file and the body passed mem_limit */
};

struct graph_http;
struct graph_http *graph_http_new(const struct mf_host *host, const struct mf_account *acct,
				  const char *tenant, const char *base, const char *who,
				  const char *mailbox);
void graph_http_free(struct graph_http **h);
/* Perform n (<= GRAPH_MAX_PARALLEL) requests at once.  A 401 makes the
 * token be fetched again (refresh) and those requests repeated once.
 * MF_OK when every request got an HTTP answer (check ->http); otherwise a
 * transport or token error in err (the account is then unusable). */
int graph_http_run(struct graph_http *h, struct graph_req *reqs, size_t n, struct mf_error *err);
/* One GET (or POST) of a JSON document: MF_OK with *json_r on 200,
 * else the answer mapped to err by graph_error() (dflt for what is not
 * mailbox-wide) with what naming account/folder/operation. */
int graph_get_json(struct graph_http *h, const char *url, const char *prefer, const char *post_json,
		   const char *what, enum mf_status dflt, json_t **json_r, long *http_r,
		   struct mf_error *err);
/* Map a non-2xx answer: 401/403 MF_ERR_AUTH with the permission to
 * check, 404 unknown mailbox MF_ERR_AUTH, 429/503/504 and 5xx
 * MF_ERR_ACCOUNT + MF_RETRY_LATER with Retry-After, anything else dflt.
 * code_r (may be NULL) gets Graph's error code ("ErrorItemNotFound"). */
int graph_error(const struct graph_req *r, const char *what, enum mf_status dflt, char *code_r,
		size_t code_cap, struct mf_error *err);
const char *graph_http_base(const struct graph_http *h);
/* "users/alice%40contoso.com" (escaped for a URL path). */
char *graph_user_path(const struct graph_http *h, const char *user);

/* ---- the session ------------------------------------------------------- */

struct graph_folder {
	char *id;
	char *path; /* '/'-separated; the inbox is "INBOX" */
	enum mf_special_use special_use;
	uint64_t total;
};

struct mf_source {
	struct graph_plugin *plugin;
	const struct mf_host *host;
	struct graph_http *http;
	char *who;          /* "graph: alice@contoso.com" for errors */
	char *user;         /* the mailbox (UPN or id) */
	char *users_url;    /* BASE/v1.0/users/USER */
	bool hidden;        /* ?hidden=1: migrate hidden folders too */
	unsigned page_size; /* delta page size (Prefer odata.maxpagesize) */
	unsigned batch;     /* bodies per $batch (1: one $value each) */
	bool listed;
	struct graph_folder *folders;
	size_t nfolders;
	size_t skipped_search, skipped_hidden, skipped_system;
};

void graph_log(const struct mf_source *s, enum mf_log_level lvl, const char *fmt, ...)
	MF_PRINTF(3, 4);

/* graph_tree.c */
int graph_load_folders(struct mf_source *s, struct mf_error *err);
const struct graph_folder *graph_find_folder(const struct mf_source *s, const char *path);
int graph_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux, struct mf_error *err);

/* graph_fetch.c */
int graph_fetch(struct mf_source *s, const char *folder, const struct mf_cursor *since,
		mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err);

/* graph_session.c */
int graph_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
	       struct mf_error *err);
void graph_close(struct mf_source **srcp);
void graph_folders_free(struct mf_source *s);
int graph_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err);
void graph_plugin_deinit(void *ctx);

extern const struct mf_source_ops graph_source_ops;

#endif
