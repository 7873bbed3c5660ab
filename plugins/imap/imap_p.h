/* SPDX-License-Identifier: MIT */
/* Private declarations of the IMAP source plugin (imap://, imaps://):
 * the session object shared by imap_source.c (open, folder listing,
 * reconnects) and imap_fetch.c (the pipelined message fetch). */
#ifndef MAILFERRY_IMAP_P_H
#define MAILFERRY_IMAP_P_H

#include <mailferry/imapc.h>
#include <mailferry/plugin.h>

struct imap_plugin {
	const struct mf_host *host;
};

struct imap_folder {
	char *name; /* server name, mUTF-7 */
	char *path; /* mailferry path */
	enum mf_special_use special_use;
	bool selectable;
	uint64_t messages;
	uint32_t uidvalidity;
};

struct mf_source {
	struct imap_plugin *plugin;
	struct imapc_account *acct;
	struct imapc *c;
	char sep;
	char *ns_prefix;
	struct imap_folder *folders;
	size_t nfolders;
	bool listed;
	/* messages per UID FETCH batch; tests may lower it */
	unsigned batch;
};

/* imap_ops.c: the ops table over imap_source.c and imap_fetch.c. */
extern const struct mf_source_ops imap_source_ops;

/* imap_source.c */
int imap_open(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
	      struct mf_error *err);
void imap_close(struct mf_source **srcp);
int imap_list_folders(struct mf_source *src, mf_folder_cb *cb, void *aux, struct mf_error *err);

/* (Re)connect if there is no live session. */
int imap_ensure_conn(struct mf_source *src, struct mf_error *err);
/* LIST the folders into src->folders (once per session). */
int imap_load_folders(struct mf_source *src, bool counts, struct mf_error *err);
const struct imap_folder *imap_find_folder(const struct mf_source *src, const char *path);

int imap_fetch(struct mf_source *src, const char *folder, const struct mf_cursor *since,
	       mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err);

/* imap_probe.c: preflight (ABI 1.5) */
int imap_probe(struct mf_source *src, struct mf_probe *p, struct mf_error *err);
/* mf_source_ops.split (ABI 1.7). */
int imap_split(struct mf_source *src, const char *folder, const struct mf_cursor *since,
	       unsigned parts, uint64_t *bounds, unsigned *n_r, struct mf_error *err);
int imap_probe_folder(struct mf_source *src, const char *folder, uint64_t larger_than,
		      struct mf_folder_probe *p, struct mf_error *err);

int imap_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err);
void imap_plugin_deinit(void *ctx);

#endif
