/* SPDX-License-Identifier: MIT */
/* Private interface of the local sink (schemes "maildir" and "mbox"): the
 * per-session struct mf_sink shared by local_plugin.c (the ops table and
 * dispatch), local_common.c (folder names, errors, directory helpers),
 * maildir_sink.c, maildir_keywords.c and mbox_sink.c.  Nothing here is
 * exported from the module; the Check tests link the convenience library
 * and reach the code through local_sink_ops like the core would. */
#ifndef SINKS_LOCAL_LOCAL_P_H
#define SINKS_LOCAL_LOCAL_P_H

#include <mailferry/maildir.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Streaming buffer size: messages are never held in memory whole. */
#define LOCAL_BUF_SIZE (64u * 1024u)

/* Maildir convention (qmail's maildir(5)): tmp/ files untouched for 36 h
 * are leftovers of a crashed delivery and may be removed. */
#define LOCAL_TMP_STALE_SECS (36 * 3600)

/* Dovecot's dovecot-keywords maps at most 26 keywords onto letters a-z. */
#define LOCAL_MAX_KEYWORDS MF_MAILDIR_KEYWORDS

enum local_format { LOCAL_MAILDIR = 1, LOCAL_MBOX = 2 };

struct local_plugin_ctx {
	const struct mf_host *host; /* may be NULL when init was not called */
};

struct mf_sink {
	enum local_format fmt;
	const struct mf_host *host;
	char *label; /* account id or URI for error texts */
	char *root;  /* the path as given, for error texts */
	int root_fd; /* O_DIRECTORY fd of the root; -1 if not open */
	pid_t pid;
	uint64_t counter;      /* per session: Maildir "Q" field */
	char hostpart[40];     /* gethostname(), '/' ':' ',' escaped, truncated */
	unsigned char *inbuf;  /* LOCAL_BUF_SIZE */
	unsigned char *outbuf; /* LOCAL_BUF_SIZE (mbox escaping) */

	/* maildir: the folder append() used last, with its directory fds
	 * and its dovecot-keywords table (index = letter - 'a'). */
	char *cur_folder; /* normalized folder path, or NULL */
	char *cur_rel;    /* its directory relative to root: "." or ".A.B" */
	char *cur_path;   /* the same as a full path, for error texts */
	int folder_fd, cur_fd, tmp_fd;
	char *keywords[LOCAL_MAX_KEYWORDS];
};

/* local_common.c ------------------------------------------------------ */

/* Log through the host if it has a logger. */
void local_log(const struct mf_sink *snk, enum mf_log_level level, const char *fmt, ...)
	MF_PRINTF(3, 4);
bool local_canceled(const struct mf_sink *snk);

/* mf_error_set() plus errno: classifies e (ENOSPC, EDQUOT, EIO, EROFS ->
 * MF_ERR_ACCOUNT, anything else -> fallback) and appends strerror(e). */
int local_sys_error(struct mf_error *err, enum mf_status fallback, int e, const char *fmt, ...)
	MF_PRINTF(4, 5);

/* Validate and normalize a '/'-separated folder path: no empty level,
 * a first level spelled "inbox" in any case becomes "INBOX" (RFC 3501
 * §5.1: INBOX is case-insensitive).  Returns malloc'd text or NULL with
 * *err filled (MF_ERR_FOLDER). */
char *local_normalize_folder(const struct mf_sink *snk, const char *path, struct mf_error *err);
/* "Sent", "Drafts", ... for a special-use role, NULL for NONE. */
const char *local_special_use_name(enum mf_special_use su);

/* Create every missing directory of path (absolute or relative to the
 * working directory), fsyncing each parent after a creation. */
int local_mkdir_p(const char *path, int *errno_r);
/* mkdirat() that accepts EEXIST for a directory and fsyncs dirfd when it
 * created something.  0 or -1 with errno. */
int local_mkdirat(int dirfd, const char *name);
int local_fsync_dirat(int dirfd, const char *name);
/* write() all of buf at the current offset / at off. */
int local_write_all(int fd, const void *buf, size_t len);
int local_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Read up to len bytes at off; returns bytes read (short only at EOF) or
 * -1 with errno. */
ssize_t local_pread_full(int fd, void *buf, size_t len, off_t off);

/* maildir_sink.c ------------------------------------------------------ */
int maildir_open(struct mf_sink *snk, struct mf_error *err);
bool maildir_folder_exists(struct mf_sink *snk, const char *folder);
int maildir_create_folder(struct mf_sink *snk, const char *folder, struct mf_error *err);
int maildir_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		   struct mf_append_result *res_r, struct mf_error *err);
int maildir_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		   const unsigned char digest[32], bool *found_r, struct mf_append_result *res_r,
		   struct mf_error *err);
void maildir_forget_folder(struct mf_sink *snk);
/* Remove tmp/ files of the root and every Maildir++ folder whose ctime is
 * more than 36 h before now (open() passes the current time). */
void maildir_clean_tmp(struct mf_sink *snk, time_t now);
/* ".A.B" for "A/B", "." for "INBOX"; malloc'd; folder already normalized. */
char *maildir_folder_dir(const char *folder);

/* maildir_keywords.c -------------------------------------------------- */
/* Load dovecot-keywords of the current folder into snk->keywords. */
void maildir_keywords_load(struct mf_sink *snk);
void maildir_keywords_clear(struct mf_sink *snk);
/* Map msg keywords onto letters (appended to letters_r, at most 26 + NUL),
 * adding new ones to dovecot-keywords (written atomically) as needed. */
int maildir_keywords_letters(struct mf_sink *snk, const char *folder, const char *const *keywords,
			     char *letters_r, struct mf_error *err);

/* mbox_sink.c --------------------------------------------------------- */
int mbox_open(struct mf_sink *snk, struct mf_error *err);
bool mbox_folder_exists(struct mf_sink *snk, const char *folder);
int mbox_create_folder(struct mf_sink *snk, const char *folder, struct mf_error *err);
int mbox_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		struct mf_append_result *res_r, struct mf_error *err);
int mbox_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		const unsigned char digest[32], bool *found_r, struct mf_append_result *res_r,
		struct mf_error *err);
/* "A.sbd/B" for "A/B"; malloc'd; folder already normalized. */
char *mbox_folder_file(const char *folder);

/* mbox_journal.c ------------------------------------------------------ */
/* All three are called with the mbox's write lock held; file is relative
 * to the root.  recover: undo an append whose writer died (journal left
 * behind); begin: durably note the size to return to; end: durably drop
 * the note once the message is fsync'd. */
int mbox_journal_recover(struct mf_sink *snk, int fd, const char *file, const char *folder,
			 struct mf_error *err);
int mbox_journal_begin(struct mf_sink *snk, const char *file, off_t size, const char *folder,
		       struct mf_error *err);
int mbox_journal_end(struct mf_sink *snk, const char *file, const char *folder,
		     struct mf_error *err);

/* local_plugin.c ------------------------------------------------------ */
extern const struct mf_sink_ops local_sink_ops;
MF_VISIBLE extern const struct mf_plugin local_LTX_mailferry_plugin;

#endif
