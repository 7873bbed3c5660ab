/* SPDX-License-Identifier: MIT */
/* The IMAP4rev1 client of libmailferry, shared by the imap source and the
 * alimail sink (issue 3).  Three layers:
 *
 *  1. Response parser (RFC 3501 §9 grammar, read leniently): atoms,
 *     quoted strings, literals {n} and literal8 ~{n}, NIL, nested lists,
 *     status responses with [codes], continuation requests.  Big literals
 *     (message bodies) are streamed to a callback, never buffered whole.
 *  2. Client: connect (implicit TLS / STARTTLS / plain via lib/net),
 *     greeting, CAPABILITY, authentication (LOGIN, AUTHENTICATE PLAIN with
 *     an authorization identity, XOAUTH2), tagged commands with many in
 *     flight (pipelining) and untagged responses routed to the oldest
 *     command still running.
 *  3. Helpers: astring quoting, modified UTF-7 (RFC 3501 §5.1.3), flags.
 *
 * Errors follow net.h; a command's own NO/BAD is not an error of these
 * functions: it is returned in struct imapc_result for the caller to
 * classify (message, folder, quota, auth). */
#ifndef MAILFERRY_IMAPC_H
#define MAILFERRY_IMAPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/net.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Parsed values and responses                                         */

enum imapc_vtype {
	IMAPC_ATOM,   /* incl. numbers, \Flags, BODY[...] section names */
	IMAPC_STRING, /* quoted or literal; may hold NUL bytes (len) */
	IMAPC_NIL,
	IMAPC_LIST,     /* ( ... ) */
	IMAPC_STREAMED, /* literal handed to the stream callback; len only */
};

struct imapc_value {
	enum imapc_vtype type;
	char *str;                 /* ATOM/STRING: NUL-terminated copy (len bytes) */
	size_t len;                /* bytes of str; STREAMED: literal size */
	struct imapc_value *items; /* LIST */
	size_t n_items;
};

enum imapc_kind { IMAPC_TAGGED, IMAPC_UNTAGGED, IMAPC_CONTINUE };
enum imapc_status { IMAPC_NONE, IMAPC_OK, IMAPC_NO, IMAPC_BAD, IMAPC_PREAUTH, IMAPC_BYE };

struct imapc_resp {
	enum imapc_kind kind;
	char tag[24]; /* tagged: the tag */
	bool has_num; /* "* 12 FETCH": number before the name */
	uint32_t num;
	char name[24];            /* upper-cased: "OK", "FETCH", "LIST", ... */
	enum imapc_status status; /* for OK/NO/BAD/PREAUTH/BYE, else NONE */
	char code[32];            /* response code name, upper-cased, or "" */
	char *code_args;          /* raw text after the code name, or NULL */
	char *text;               /* resp-text / continuation text, or NULL */
	struct imapc_value args;  /* LIST of the values after name (data
				    responses); for FETCH: args.items[0] is
				    the msg-att list */
	char *damaged;            /* NULL, or (parser->resync) why the rest of
				    this data response was skipped unread:
				    "IMAP protocol error: lists nested too
				    deeply ..."; args hold what came before */
};

void imapc_resp_free(struct imapc_resp *r);

/* Where the parser reads from: a connection, or memory (tests, fuzzer). */
struct imapc_io {
	int (*read_line)(void *ctx, struct mf_buf *line, size_t max, struct mf_error *err);
	int (*read_some)(void *ctx, void *buf, size_t cap, size_t *n_r, struct mf_error *err);
	void *ctx;
};

/* An imapc_io over bytes in memory (tests, fuzzer); EOF is an error. */
struct imapc_memio {
	const unsigned char *data;
	size_t len, pos;
};
void imapc_memio_init(struct imapc_io *io, struct imapc_memio *m, const void *data, size_t len);

/* Reader over one streamed literal. */
struct imapc_literal {
	const struct imapc_io *io;
	uint64_t size, left;
};
/* Read up to cap bytes of the literal (*n_r = 0 at its end). */
int imapc_literal_read(struct imapc_literal *lit, void *buf, size_t cap, size_t *n_r,
		       struct mf_error *err);

/* Called when the parser meets a literal that follows a FETCH item named
 * BODY[...], BINARY[...] or RFC822 (key).  partial holds what the response
 * had so far (number, and the msg-att items before this literal).  The
 * callback may read all, part or none of lit; the parser skips the rest.
 * Return MF_OK or an error status (parsing stops, the connection must be
 * dropped). */
typedef int imapc_stream_fn(void *ctx, const struct imapc_resp *partial, const char *key,
			    struct imapc_literal *lit, struct mf_error *err);

struct imapc_parser {
	const struct imapc_io *io;
	size_t max_line;         /* default 8 MiB */
	size_t max_literal;      /* non-streamed literals; default 16 MiB */
	imapc_stream_fn *stream; /* NULL: bodies are read into memory */
	void *stream_ctx;
	struct mf_buf line; /* private */
	/* A data response nested deeper than the cap: false, an error (the
	 * connection is out of step); true, the rest of it is read and
	 * dropped and it is returned with resp->damaged set. */
	bool resync;
};

void imapc_parser_init(struct imapc_parser *p, const struct imapc_io *io);
void imapc_parser_free(struct imapc_parser *p);
/* Read and parse one whole response into *r (free with imapc_resp_free,
 * also after an error).  A syntax error is MF_ERR_ACCOUNT, RETRY_NOW. */
int imapc_parse_response(struct imapc_parser *p, struct imapc_resp *r, struct mf_error *err);

/* Value helpers: NULL-safe, false/NULL for a type mismatch. */
bool imapc_value_u64(const struct imapc_value *v, uint64_t *out_r);
bool imapc_value_is_atom(const struct imapc_value *v, const char *atom);
/* ATOM or STRING as text (NULL for NIL, LIST, STREAMED). */
const char *imapc_value_str(const struct imapc_value *v);
/* In a FETCH msg-att list: the value after the item named key (case-
 * insensitive), or NULL. */
const struct imapc_value *imapc_fetch_item(const struct imapc_value *list, const char *key);

/* ------------------------------------------------------------------ */
/* Client                                                              */

enum imapc_tls { IMAPC_TLS_IMPLICIT, IMAPC_TLS_STARTTLS, IMAPC_TLS_NONE };

struct imapc_opts {
	const char *label; /* account name for errors: "alice@corp" */
	const char *host;
	uint16_t port;
	enum imapc_tls tls;
	bool insecure;
	const char *ca_file;
	unsigned connect_timeout_ms, io_timeout_ms; /* 0 = defaults */
	/* Optional logging (warnings such as [ALERT], debug of commands
	 * with passwords masked); may be NULL. */
	void (*log)(void *log_ctx, enum mf_log_level lvl, const char *msg);
	void *log_ctx;
};

struct imapc;

/* Result of a completed command. */
struct imapc_result {
	enum imapc_status status; /* OK, NO, BAD (or BYE if dropped) */
	char code[32];            /* "APPENDUID", "OVERQUOTA", ... or "" */
	char code_args[128];
	char text[400];
};

/* Untagged responses while commands run go to the handler of the oldest
 * command not yet completed (NULL: ignored).  The response is borrowed. */
typedef int imapc_untagged_fn(struct imapc *c, const struct imapc_resp *r, void *ctx,
			      struct mf_error *err);
/* Called when a command completes (tagged response); may send more. */
typedef int imapc_done_fn(struct imapc *c, const struct imapc_result *res, void *ctx,
			  struct mf_error *err);

/* Connect, read the greeting (lenient: Alibaba's "* OK AliYun IMAP Server
 * Ready(10.1.2.3)"), upgrade with STARTTLS when asked (refusing servers
 * that do not offer it), and ask CAPABILITY when the greeting had none. */
int imapc_connect(const struct imapc_opts *opts, struct imapc **c_r, struct mf_error *err);
/* LOGOUT (best effort, short timeout) and free; NULL-safe. */
void imapc_close(struct imapc **c);

bool imapc_has_cap(const struct imapc *c, const char *cap);
/* Refresh the capability list (CAPABILITY command). */
int imapc_capability(struct imapc *c, struct mf_error *err);
/* The stream callback for FETCH bodies (NULL to buffer them). */
void imapc_set_stream(struct imapc *c, imapc_stream_fn *fn, void *ctx);
/* Resync on responses too deeply nested (imapc_parser.resync): while on,
 * such untagged responses reach the command's handler with r->damaged
 * set (and nothing of them is recorded session-wide); off (the default),
 * they are a protocol error that breaks the connection. */
void imapc_set_resync(struct imapc *c, bool on);
/* Real progress (a wanted message body read whole): the slow-server
 * allowance of the connection starts afresh (mf_conn_progress). */
void imapc_note_progress(struct imapc *c);
/* True once the connection failed or the server said BYE. */
bool imapc_is_broken(const struct imapc *c);

/* COMPRESS DEFLATE (RFC 4978) if not yet active: on OK the connection
 * deflates both ways from then on; a NO/BAD is logged and the session
 * goes on uncompressed (MF_OK).  Call with nothing in flight, after
 * authentication. */
int imapc_compress(struct imapc *c, struct mf_error *err);
bool imapc_is_compressed(const struct imapc *c);
/* Bytes of this session before (plain) and after (wire) compression. */
void imapc_io_stats(const struct imapc *c, struct mf_conn_stats *st_r);

/* Authentication; MF_ERR_AUTH on a refusal (the server's text included,
 * AUTHENTICATIONFAILED noted), never retried. */
int imapc_login(struct imapc *c, const char *user, const char *password, struct mf_error *err);
int imapc_auth_plain(struct imapc *c, const char *authzid, const char *user, const char *password,
		     struct mf_error *err);
int imapc_auth_xoauth2(struct imapc *c, const char *user, const char *token, struct mf_error *err);
/* AUTHENTICATE OAUTHBEARER (RFC 7628) with a bearer token; host and port
 * are the server's as the client dialled them. */
int imapc_auth_oauthbearer(struct imapc *c, const char *user, const char *host, uint16_t port,
			   const char *token, struct mf_error *err);

/* A command under construction: text, quoted strings and literals. */
struct imapc_cmd;
struct imapc_cmd *imapc_cmd_new(const char *verb);
void imapc_cmd_raw(struct imapc_cmd *cmd, const char *text); /* " " + text */
void imapc_cmd_rawf(struct imapc_cmd *cmd, const char *fmt, ...) MF_PRINTF(2, 3);
/* " " + s as an atom, a quoted string, or a literal (8-bit/CR/LF). */
void imapc_cmd_astring(struct imapc_cmd *cmd, const char *s);
void imapc_cmd_quoted(struct imapc_cmd *cmd, const char *s);
/* Hide this command's text from debug logs (passwords). */
void imapc_cmd_secret(struct imapc_cmd *cmd);
void imapc_cmd_free(struct imapc_cmd **cmd);

/* Send cmd (consumed) without waiting: literals wait for "+" unless
 * LITERAL+ is offered.  *tag_r (may be NULL) identifies it. */
int imapc_send(struct imapc *c, struct imapc_cmd *cmd, imapc_untagged_fn *fn, imapc_done_fn *done,
	       void *ctx, unsigned *tag_r, struct mf_error *err);
/* Read responses until command tag completed; *res_r gets its result. */
int imapc_wait(struct imapc *c, unsigned tag, struct imapc_result *res_r, struct mf_error *err);
/* Read and dispatch one response (driving pipelined commands whose
 * done callbacks send more). */
int imapc_read_one(struct imapc *c, struct mf_error *err);
/* Read responses until nothing is in flight. */
int imapc_drain(struct imapc *c, struct mf_error *err);
/* The server has sent something not read yet (never waits). */
bool imapc_input_ready(const struct imapc *c);
/* send + wait. */
int imapc_run(struct imapc *c, struct imapc_cmd *cmd, imapc_untagged_fn *fn, void *ctx,
	      struct imapc_result *res_r, struct mf_error *err);

/* APPEND with a streamed message literal (RFC 3501 §6.3.11): sends the
 * command up to the literal ({size+} with LITERAL+, else waits for "+";
 * a NO instead of "+" ends it: *res_r filled, *go_r false). */
int imapc_append_begin(struct imapc *c, const char *mailbox_mutf7, const char *flags,
		       const char *date, uint64_t size, bool *go_r, unsigned *tag_r,
		       struct imapc_result *res_r, struct mf_error *err);
int imapc_write(struct imapc *c, const void *data, size_t len, struct mf_error *err);
/* Ends the literal ("\r\n") after exactly size bytes were written. */
int imapc_append_end(struct imapc *c, struct mf_error *err);

/* Fill err from a NO/BAD result: "label: CMD mailbox: NO [CODE] text". */
int imapc_result_error(struct imapc *c, const struct imapc_result *res, enum mf_status st,
		       enum mf_retry rt, const char *what, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Mailbox-level helpers                                               */

struct imapc_mailbox {
	uint32_t uidvalidity, uidnext, exists;
	bool read_only;
	bool perm_keywords;  /* PERMANENTFLAGS contains \* */
	uint32_t perm_flags; /* MF_FLAG_* bits in PERMANENTFLAGS */
	bool have_perm;      /* a PERMANENTFLAGS code was seen */
};

/* SELECT or EXAMINE (read_only) mailbox_mutf7.  NO → MF_ERR_FOLDER. */
int imapc_select(struct imapc *c, const char *mailbox_mutf7, bool read_only,
		 struct imapc_mailbox *mb_r, struct mf_error *err);
/* SELECT without waiting: once its answer has been read (on the way to a
 * later command's), imapc_selected() tells what it found; a NO leaves
 * nothing selected. */
int imapc_select_async(struct imapc *c, const char *mailbox_mutf7, struct mf_error *err);
/* The mailbox currently selected, or NULL; live counters. */
const struct imapc_mailbox *imapc_selected(const struct imapc *c);

#define IMAPC_LIST_NOSELECT (1u << 0)
#define IMAPC_LIST_NOINFERIORS (1u << 1)
#define IMAPC_LIST_NONEXISTENT (1u << 2)

struct imapc_list_entry {
	const char *name_mutf7;          /* as the server sent it */
	char sep;                        /* hierarchy separator, 0 for NIL */
	uint32_t flags;                  /* IMAPC_LIST_* */
	enum mf_special_use special_use; /* from RFC 6154 attributes */
};
typedef int imapc_list_fn(const struct imapc_list_entry *e, void *ctx, struct mf_error *err);
/* LIST "" pattern, with RETURN (SPECIAL-USE) when the server offers
 * SPECIAL-USE (RFC 6154 §5.1); attributes in plain LIST replies are
 * used as well. */
int imapc_list(struct imapc *c, const char *pattern, imapc_list_fn *fn, void *ctx,
	       struct mf_error *err);
/* LIST "" "": the hierarchy separator (0 if flat). */
int imapc_separator(struct imapc *c, char *sep_r, struct mf_error *err);
/* NAMESPACE (RFC 2342) if the server advertises it: frees *prefix_r and
 * sets it to the first personal namespace's prefix, or NULL when there is
 * none, it is empty, or the server answers NO. */
int imapc_namespace_prefix(struct imapc *c, char **prefix_r, struct mf_error *err);
/* imapc_separator + imapc_namespace_prefix + (pattern != NULL)
 * imapc_list(pattern, fn) pipelined: one round trip instead of three.  fn
 * sees *sep_r and *prefix_r already set. */
int imapc_layout(struct imapc *c, char *sep_r, char **prefix_r, const char *pattern,
		 imapc_list_fn *fn, void *ctx, struct mf_error *err);
/* STATUS (MESSAGES) etc.: *messages_r = MF_COUNT_UNKNOWN if absent. */
int imapc_status(struct imapc *c, const char *mailbox_mutf7, uint64_t *messages_r,
		 uint32_t *uidvalidity_r, struct mf_error *err);
/* CREATE; ALREADYEXISTS is success. */
/* CREATE without waiting for the answer (it is read with the next
 * replies): for a caller whose next commands cope with the mailbox
 * missing, e.g. APPEND answered NO [TRYCREATE].  done (may be NULL) gets
 * the answer; it is not called if the connection closes first. */
int imapc_create_async(struct imapc *c, const char *mailbox_mutf7, imapc_done_fn *done, void *ctx,
		       struct mf_error *err);
int imapc_create(struct imapc *c, const char *mailbox_mutf7, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Preflight probes (plugin ABI 1.5): read-only                        */

/* Append the capabilities that matter for a migration to p->caps and set
 * p->max_message_size from APPENDLIMIT=n (RFC 7889). */
void imapc_probe_caps(const struct imapc *c, struct mf_probe *p);
/* GETQUOTAROOT mailbox (RFC 9208) if the server offers QUOTA: the first
 * STORAGE resource into p->quota_used/limit, in bytes.  A NO leaves them
 * alone (MF_OK). */
int imapc_probe_quota(struct imapc *c, const char *mailbox_mutf7, struct mf_probe *p,
		      struct mf_error *err);
/* Messages, bytes and messages over larger_than (0: not asked) of one
 * mailbox: STATUS (MESSAGES SIZE) with STATUS=SIZE (RFC 8438) and EXAMINE
 * + UID SEARCH LARGER; else EXAMINE + FETCH 1:* (RFC822.SIZE).  Leaves the
 * mailbox EXAMINEd.  NO -> MF_ERR_FOLDER. */
int imapc_probe_mailbox(struct imapc *c, const char *mailbox_mutf7, uint64_t larger_than,
			struct mf_folder_probe *p, struct mf_error *err);

/* ------------------------------------------------------------------ */
/* Accounts: URI + settings to a logged-in session                     */

struct imapc_account;
/* Validate and copy what a session needs from acct (the password too,
 * wiped by imapc_account_free).  Settings read from URI options first,
 * then host->setting(): "insecure", "ca-file", "timeout"; URI options
 * "tls" (none|starttls|implicit), "auth" (login|plain|xoauth2|oauthbearer),
 * "authzid".  hostname/port: where to connect (port 0 = 993 or 143 by
 * TLS mode).  Warns through host->log about insecure or clear text. */
int imapc_account_new(const struct mf_host *host, const struct mf_account *acct, const char *plugin,
		      const char *hostname, uint16_t port, bool implicit_tls,
		      struct imapc_account **a_r, struct mf_error *err);
/* The OAuth scope for a server: Exchange Online's
 * "https://outlook.office365.com/.default", Gmail's
 * "https://mail.google.com/", NULL when not known. */
const char *imapc_oauth_scope(const char *hostname);
/* Connect and authenticate (again).  auth=xoauth2|oauthbearer without a
 * password: the token comes from host->oauth_token (ABI 1.3), and once
 * more, renewed, if the server refuses it. */
int imapc_account_connect(struct imapc_account *a, struct imapc **c_r, struct mf_error *err);
const char *imapc_account_label(const struct imapc_account *a);
/* The bytes of every connection this account made (those closed, plus
 * live if it is one of them, may be NULL) into st (its struct_size is
 * left alone). */
void imapc_account_io_stats(const struct imapc_account *a, const struct imapc *live,
			    struct mf_io_stats *st);
void imapc_account_free(struct imapc_account **a);

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */

/* Modified UTF-7 (RFC 3501 §5.1.3).  encode: UTF-8 in, malloc'd mUTF-7
 * out (invalid UTF-8 bytes become U+FFFD).  decode: false on malformed
 * input (then *out_r is NULL). */
char *imapc_mutf7_encode(const char *utf8);
bool imapc_mutf7_decode(const char *mutf7, char **out_r);

/* Server mailbox name (mUTF-7, separator sep, 0 = flat) to a folder path
 * (UTF-8, '/' between levels, a '/' inside a level becomes '_'), without
 * the personal namespace prefix ns_prefix (may be NULL); and back.  INBOX
 * is matched case-insensitively and never prefixed.  malloc'd. */
char *imapc_name_to_path(const char *mutf7, char sep, const char *ns_prefix);
char *imapc_path_to_name(const char *path, char sep, const char *ns_prefix);

/* MF_FLAG_* and keywords from a FLAGS list; keywords_r (may be NULL) gets
 * a malloc'd NULL-terminated array of malloc'd strings (free with
 * imapc_free_strv), \Recent and other backslash flags dropped. */
uint32_t imapc_parse_flags(const struct imapc_value *list, char ***keywords_r);
void imapc_free_strv(char **v);
/* "\Seen \Flagged" for the MF_FLAG_* bits allowed by mask (+ $Forwarded
 * when allowed); into buf (NUL-terminated). */
void imapc_format_flags(uint32_t flags, uint32_t mask, bool keywords_ok,
			const char *const *keywords, struct mf_buf *buf);
/* INTERNALDATE "27-Nov-2026 03:35:11 +0000". */
bool imapc_parse_date(const char *s, int64_t *epoch_r, int32_t *tz_r);

#ifdef __cplusplus
}
#endif
#endif
