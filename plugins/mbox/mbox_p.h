/* SPDX-License-Identifier: MIT */
/* Private interfaces of the offline source plugin "mbox" (schemes mbox:,
 * maildir:, eml:).  The plugin is split by responsibility: mbox_parse.c
 * finds messages in an mbox file and streams them unescaped; offline_tree.c
 * turns directory trees into folder lists (name helpers in
 * offline_names.c); mbox_fetch.c, maildir.c and eml.c implement fetch for
 * each format on top of offline_fetch.c's helpers; offline_source.c holds
 * the ops table and session handling and calls down into the readers
 * (nothing calls back up); mbox_plugin.c only exports the descriptor.
 * Everything but the descriptor lives in the noinst library libmboxsrc.la
 * that the Check tests and fuzz targets link. */
#ifndef MBOX_P_H
#define MBOX_P_H

#include <mailferry/plugin.h>
#include <mailferry/util.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* mbox parsing (mbox_parse.c)                                         */

/* Header bytes kept per message for Status:/Date: lookups: enough for any
 * sane header; beyond it the fields are simply not seen. */
#define MBOX_HEADER_CAP (256 * 1024)

/* Undo ">From " quoting on the fly, line by line, resumable at any byte
 * (a ">>>From " prefix may straddle two reads).  Pending prefix bytes are
 * kept as counts, not copies, so a line of a million '>' costs nothing. */
struct mbox_unescape {
	bool mboxo;                      /* only "^>From " is quoted, not "^>>+From " */
	bool line_start;                 /* inside a possible quoting prefix */
	uint64_t gt;                     /* '>' seen in the prefix, not yet emitted */
	unsigned from_n;                 /* bytes of "From " matched after them */
	uint64_t out_gt;                 /* decided output still to emit: '>' count, */
	unsigned out_from_i, out_from_n; /* "From "[i..n), */
	int out_byte;                    /* then this byte (-1: none) */
};

void mbox_unescape_init(struct mbox_unescape *u, bool mboxo);
/* Consume in[0..in_len), write at most cap bytes to out (out NULL: only
 * count, cap ignored).  Returns bytes consumed; *produced_r gets bytes
 * written (counted).  Stops early only when out is full. */
size_t mbox_unescape_run(struct mbox_unescape *u, const unsigned char *in, size_t in_len,
			 unsigned char *out, size_t cap, uint64_t *produced_r);
/* End of input: a pending prefix is emitted as it was. */
void mbox_unescape_finish(struct mbox_unescape *u);
/* Emit pending output only; returns bytes written (counted). */
size_t mbox_unescape_drain(struct mbox_unescape *u, unsigned char *out, size_t cap);

/* One message found by the scanner. */
struct mbox_msg {
	uint64_t from_off; /* offset of its From_ line: the source_id */
	uint64_t body_off; /* first byte after the From_ line */
	uint64_t body_end; /* end of its raw bytes (blank line excluded) */
	uint64_t size;     /* bytes after unescaping: what read() yields */
	int64_t date;      /* internal date or MF_DATE_UNKNOWN */
	int32_t tz;
	uint32_t flags;
	struct mf_buf header; /* first MBOX_HEADER_CAP bytes of the header */
	char **keywords;      /* NULL-terminated, or NULL */
};

struct mbox_reader {
	int fd;
	char *path; /* for error texts */
	bool mboxo;
	bool started, eof, at_line_start;
	unsigned char *buf;
	size_t cap, len, cur; /* buf[cur..len) not yet consumed */
	uint64_t buf_off;     /* file offset of buf[0] */
};

/* Open path for scanning from offset start (0 normally; tests use a later
 * offset to exercise >4 GB positions without reading the hole).  A scan
 * from start expects a From_ line there. */
int mbox_reader_open(struct mbox_reader *r, const char *path, uint64_t start, bool mboxo,
		     struct mf_error *err);
/* Find the next message; *got_r = false at the end.  MF_ERR_FOLDER if
 * the file does not start with "From " or cannot be read. */
int mbox_reader_next(struct mbox_reader *r, struct mbox_msg *m, bool *got_r, struct mf_error *err);
void mbox_msg_clear(struct mbox_msg *m);
void mbox_reader_close(struct mbox_reader *r);

/* Streaming one message's unescaped bytes (the read() of mf_message). */
struct mbox_stream {
	int fd;
	const char *path;
	uint64_t from_off, pos, end, size, produced;
	bool finished;
	struct mbox_unescape u;
	unsigned char in[64 * 1024];
	size_t in_len, in_cur;
};

void mbox_stream_init(struct mbox_stream *s, int fd, const char *path, const struct mbox_msg *m,
		      bool mboxo);
int mbox_stream_read(struct mbox_stream *s, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err);

/* Flags and keywords from Status:, X-Status:, X-Mozilla-Status:,
 * X-Keywords: and X-Mozilla-Keys: of a header block. */
uint32_t mbox_header_flags(const unsigned char *hdr, size_t len);
char **mbox_header_keywords(const unsigned char *hdr, size_t len);
void mbox_free_strv(char **v);

/* ------------------------------------------------------------------ */
/* Folder trees (offline_tree.c, offline_names.c)                    */

enum offline_kind { OFFLINE_MBOX, OFFLINE_MAILDIR, OFFLINE_EML };

struct offline_folder {
	char *name;     /* '/'-separated, UTF-8 */
	char *alt_name; /* used if name collides (e.g. "Inbox" vs "INBOX") */
	char *fs_path;  /* mbox file or maildir/eml directory; NULL: container */
	uint64_t messages, bytes;
};

struct folder_list {
	struct offline_folder *v;
	size_t n, cap;
};

struct mf_source;
typedef void offline_warn_fn(void *aux, const char *fmt, ...) MF_PRINTF(2, 3);

/* Build the folder list of root for kind: sorted parents before children,
 * missing parents added as containers, names unique.  MF_ERR_ACCOUNT if
 * root cannot be read. */
int offline_tree_build(enum offline_kind kind, const char *root, struct folder_list *fl,
		       offline_warn_fn *warn, void *warn_aux, struct mf_error *err);
void offline_tree_free(struct folder_list *fl);
const struct offline_folder *offline_tree_find(const struct folder_list *fl, const char *name);

/* Helpers shared by the walkers. */
char *offline_name_from_bytes(const char *s, size_t len); /* UTF-8 safe */
char *offline_mutf7_decode(const char *s, size_t len);    /* NULL if bad */
int offline_natural_cmp(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* Sessions (offline_source.c) and per-format fetch                    */

struct mf_source {
	const struct mf_host *host;
	enum offline_kind kind;
	const char *scheme; /* "mbox", "maildir", "eml" for error texts */
	char *root;
	char *acct_id;
	bool root_is_file; /* mbox: one file → folder INBOX */
	bool mboxo;        /* mbox: format=mboxo */
	bool eml_seen;     /* eml: seen=1 */
	bool listed;
	struct folder_list folders;
};

extern const struct mf_source_ops offline_source_ops;
int offline_init(const struct mf_host *host, void **plugin_ctx_r, struct mf_error *err);
void offline_deinit(void *plugin_ctx);

/* What one fetch() asks of a format reader (mbox_fetch.c, maildir.c,
 * eml.c).  The session (offline_source.c) fills it in and calls down; the
 * readers never reach back into the session: cancellation and warnings go
 * through the host pointer carried here (offline_fetch.c). */
struct offline_fetch {
	const struct mf_host *host; /* may be NULL (tests, fuzz targets) */
	const char *scheme;         /* "mbox", "maildir", "eml" for error texts */
	const char *root;           /* the tree root: eml ids are relative to it */
	const char *path;           /* the folder's file (mbox) or directory */
	const struct mf_cursor *since;
	mf_message_cb *cb;
	void *aux;
	bool mboxo;    /* mbox: format=mboxo */
	bool eml_seen; /* eml: seen=1 */
};

int mbox_fetch_file(const struct offline_fetch *f, struct mf_error *err);
int maildir_fetch_dir(const struct offline_fetch *f, struct mf_error *err);
int eml_fetch_dir(const struct offline_fetch *f, struct mf_error *err);

/* Helpers of the readers (offline_fetch.c). */
/* The core asked the run to stop: sets err and returns true. */
bool offline_fetch_canceled(const struct offline_fetch *f, struct mf_error *err);
/* True if the core already holds the message with this source_id. */
bool offline_fetch_have(const struct offline_fetch *f, const char *id);

/* read() of a message that is a whole file (maildir, eml). */
struct file_msg {
	int fd;
	uint64_t left;
	const char *scheme, *path;
};
int offline_file_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		      struct mf_error *err);
/* Open path for reading; false (and a warning) if it vanished or is not
 * a regular file. */
bool offline_file_open(const struct offline_fetch *f, const char *path, struct file_msg *fm,
		       struct stat *st);

/* Maildir info suffix: flags and keyword letters of a file name. */
uint32_t maildir_name_flags(const char *name, char *letters_r, size_t cap);
/* Base name up to the info separator (':' or ';'/'!' before "2,"). */
size_t maildir_base_len(const char *name);

#endif
