/* SPDX-License-Identifier: MIT */
/* Private declarations of the Alibaba Mail sink (alimail://, and plain
 * imap:// / imaps:// targets): the session shared by alimail_sink.c
 * (open, folders) and alimail_append.c (APPEND, lookup). */
#ifndef MAILFERRY_ALIMAIL_P_H
#define MAILFERRY_ALIMAIL_P_H

#include <mailferry/imapc.h>
#include <mailferry/plugin.h>

#define ALIMAIL_HOST_INTL "imap.sg.aliyun.com"
#define ALIMAIL_HOST_CN "imap.qiye.aliyun.com"

struct alimail_plugin {
	const struct mf_host *host;
};

struct alimail_folder {
	char *name; /* server name, mUTF-7 */
	char *path; /* mailferry path (UTF-8, '/') */
	enum mf_special_use special_use;
};

struct mf_sink {
	struct alimail_plugin *plugin;
	struct imapc_account *acct;
	struct imapc *c;
	bool sanitize;      /* alimail: strip "+ * \ %" from new names */
	char sep;
	char *ns_prefix;
	struct alimail_folder *folders;
	size_t nfolders;
	bool listed;
	/* the selected target folder and what SELECT told about it */
	char *sel_path;
	struct imapc_mailbox sel;
};

extern const struct mf_sink_ops alimail_sink_ops;

int alimail_plugin_init(const struct mf_host *host, void **ctx_r,
			struct mf_error *err);
void alimail_plugin_deinit(void *ctx);

/* Connect again if needed (folders are re-listed lazily). */
int alimail_ensure_conn(struct mf_sink *snk, struct mf_error *err);
/* The server name for a path from ensure_folder; NULL if unknown. */
const struct alimail_folder *alimail_find(const struct mf_sink *snk,
					  const char *path);
/* SELECT path unless it is selected already. */
int alimail_select(struct mf_sink *snk, const char *path,
		   struct mf_error *err);

int alimail_append(struct mf_sink *snk, const char *folder,
		   const struct mf_message *msg, struct mf_append_result *res_r,
		   struct mf_error *err);
int alimail_lookup(struct mf_sink *snk, const char *folder,
		   const struct mf_message *msg, const unsigned char digest[32],
		   bool *found_r, struct mf_append_result *res_r,
		   struct mf_error *err);
int alimail_ensure_folder(struct mf_sink *snk, const char *path,
			  enum mf_special_use special_use, char **actual_r,
			  struct mf_error *err);

#endif
