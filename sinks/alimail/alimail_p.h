/* SPDX-License-Identifier: MIT */
/* Private declarations of the Alibaba Mail sink (alimail://, and plain
 * imap:// / imaps:// targets).  The files call one way, top to bottom:
 *   alimail_sink.c      the ops table: flushes the pipeline before a
 *                       blocking command, abandons it at close
 *   alimail_pipeline.c  pipelined APPEND (ABI 1.1 append_start/flush)
 *   alimail_append.c    one APPEND (send, outcome), lookup
 *   alimail_session.c   connection, folder list, CREATE, SELECT
 * beside them alimail_probe.c (preflight) and alimail_reader.c (the
 * reader URI verify uses), which call alimail_session.c only. */
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
	bool sanitize; /* alimail: strip "+ * \ %" from new names */
	char sep;
	char *ns_prefix;
	struct alimail_folder *folders;
	size_t nfolders;
	bool listed;
	/* CREATEs sent without waiting (imapc_create_async), oldest first:
	 * their answers come in this order; the first refusal is kept for
	 * the APPENDs into that folder, answered NO [TRYCREATE]. */
	char **creating;
	size_t ncreating;
	char *create_refused;
	bool create_waits; /* retrying after TRYCREATE: CREATE waits */
	/* PERMANENTFLAGS of INBOX (selected with the layout at connect), or
	 * else of the first folder appended to, used for every folder:
	 * APPEND needs no SELECT, so the others are never selected (a round
	 * trip and a pipeline drain per folder saved). */
	bool flags_known;
	bool have_perm, perm_keywords;
	uint32_t perm_flags;
	/* the selected target folder and what SELECT told about it */
	char *sel_path;
	struct imapc_mailbox sel;
	/* pipelined APPENDs sent, answers not yet read (oldest first) */
	struct alimail_inflight *pipe;
	size_t npipe;
	uint64_t pipe_bytes;
};

struct alimail_inflight {
	unsigned tag;
	mf_append_done_cb *done;
	void *aux;
	char *what; /* "folder: message id (size bytes): APPEND" for errors */
	uint64_t size;
};

extern const struct mf_sink_ops alimail_sink_ops;

int alimail_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err);
void alimail_plugin_deinit(void *ctx);

/* ---- alimail_session.c ---- */
/* Where acct's mail goes, worked out from the account alone. */
struct alimail_target {
	const char *host;  /* the URI's host, ?host=, else (alimail://) the
			      region's default; NULL if none; borrowed */
	bool alimail;      /* alimail:// rather than a generic IMAP target */
	bool implicit_tls; /* alimail://, imaps:// (else STARTTLS) */
};
/* MF_ERR_FATAL for a region it does not know. */
int alimail_target(const struct mf_account *acct, struct alimail_target *t, struct mf_error *err);
int alimail_session_open(void *plugin_ctx, const struct mf_account *acct, struct mf_sink **snk_r,
			 struct mf_error *err);
/* Frees the session; the pipeline must be empty (or abandoned). */
void alimail_session_free(struct mf_sink **snkp);
/* Connect again if needed (folders are re-listed lazily). */
int alimail_ensure_conn(struct mf_sink *snk, struct mf_error *err);
/* The server name for a path from ensure_folder; NULL if unknown. */
const struct alimail_folder *alimail_find(const struct mf_sink *snk, const char *path);
/* SELECT path unless it is selected already. */
int alimail_select(struct mf_sink *snk, const char *path, struct mf_error *err);

int alimail_ensure_folder(struct mf_sink *snk, const char *path, enum mf_special_use special_use,
			  char **actual_r, struct mf_error *err);

/* ---- alimail_append.c: callers have flushed the pipeline ---- */
/* A blocking APPEND with reconnect and TRYCREATE handling. */
int alimail_append_now(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		       struct mf_append_result *res_r, struct mf_error *err);
/* The APPEND command up to and including the literal, no answer read. */
int alimail_append_send(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			bool *go_r, unsigned *tag_r, struct imapc_result *res_r,
			struct mf_error *err);
/* The outcome of an answered APPEND: MF_OK (res_r filled), MF_ERR_MESSAGE,
 * or a session-level error; err filled unless MF_OK.  *trycreate_r says
 * the folder vanished. */
int alimail_append_outcome(struct mf_sink *snk, const struct imapc_result *res, const char *what,
			   struct mf_append_result *res_r, bool *trycreate_r, struct mf_error *err);
/* Whether msg is already in folder (the core's lookup()). */
int alimail_lookup_now(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		       const unsigned char digest[32], bool *found_r,
		       struct mf_append_result *res_r, struct mf_error *err);

/* ---- alimail_pipeline.c: pipelined APPEND (ABI 1.1) ---- */
int alimail_append_start(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			 mf_append_done_cb *done, void *done_aux, struct mf_error *err);
int alimail_append_flush(struct mf_sink *snk, struct mf_error *err);
void alimail_pipeline_abandon(struct mf_sink *snk);

/* ---- alimail_probe.c: preflight (ABI 1.5), read-only ---- */
int alimail_probe(struct mf_sink *snk, struct mf_probe *p, struct mf_error *err);
bool alimail_folder_refused(struct mf_sink *snk, const char *path, char *why, size_t why_size);

/* ---- alimail_reader.c: how verify reads the target (ABI 1.6) ---- */
int alimail_reader_uri(void *plugin_ctx, const struct mf_account *acct, char **uri_r,
		       struct mf_error *err);

#endif
