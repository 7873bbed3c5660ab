/* SPDX-License-Identifier: MIT */
/* The mailferry plugin ABI: the one header a source or sink plugin needs.
 *
 * A plugin is a libtool module exporting one const struct mf_plugin under the
 * symbol "<module>_LTX_mailferry_plugin" (see MF_PLUGIN_EXPORT).  The core
 * checks the ABI numbers and struct sizes at load time, then talks to the
 * plugin only through the function tables below; the plugin talks to the
 * core only through struct mf_host.
 *
 * Ownership, stated once: the caller owns what it passes; anything given to
 * a callback is borrowed until that callback returns; copy what you keep.
 * Exceptions are written on the slot that makes them.
 *
 * Threading: the core may run many sessions (one struct mf_source or
 * struct mf_sink each) on different threads at once, but calls one session
 * from one thread at a time.  Plugins keep no global mutable state; per
 * plugin state lives in the plugin_ctx returned by init.
 *
 * Versioning rules (docs/plugin-abi.md has the long form):
 *   MF_ABI_MAJOR bumps when anything is removed, reordered or changes meaning.
 *   MF_ABI_MINOR bumps when something is appended (a slot at the end of a
 *   table, a field at the end of a struct, a capability or flag bit).
 * A plugin built for an older minor loads: slots it lacks read as NULL.
 */
#ifndef MAILFERRY_PLUGIN_H
#define MAILFERRY_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_ABI_MAJOR 1
#define MF_ABI_MINOR 8

#if defined(__GNUC__)
#define MF_VISIBLE __attribute__((visibility("default")))
#define MF_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define MF_VISIBLE
#define MF_PRINTF(fmt, first)
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* How much failed.  The scheduler's reaction is decided by this value
 * (and mf_retry), never by parsing the text. */
enum mf_status {
	MF_OK = 0,
	MF_ERR_MESSAGE,  /* this message only: recorded as failed, run goes on */
	MF_ERR_FOLDER,   /* this folder only: recorded, next folder */
	MF_ERR_ACCOUNT,  /* this mailbox (connection lost, server gone) */
	MF_ERR_AUTH,     /* credentials refused: never retried automatically */
	MF_ERR_FATAL,    /* configuration or programming error: stop the run */
	MF_ERR_CANCELED, /* the host asked to stop */
};

/* Whether repeating the same operation may succeed. */
enum mf_retry {
	MF_RETRY_NEVER = 0, /* permanent: bad message, folder refused, ... */
	MF_RETRY_NOW,       /* transient and cheap: reconnect and go on */
	MF_RETRY_LATER,     /* transient: back off first (busy, throttled) */
};

struct mf_error {
	enum mf_status status;
	enum mf_retry retry;
	int sys_errno;           /* 0, or the errno that caused it */
	long proto_code;         /* HTTP status, server response code, ...; 0 if none */
	uint32_t retry_after_ms; /* server-requested delay (Retry-After,
				    BackOffMilliseconds); 0 = core decides */
	char text[512];          /* for the operator: names account, folder and
				message; never a password */
};

/* Fill *err (which may be NULL) and return status, so plugins can write
 * "return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER, "...", ...);". */
static inline int mf_error_vset(struct mf_error *err, enum mf_status status, enum mf_retry retry,
				const char *fmt, va_list ap) MF_PRINTF(4, 0);
static inline int mf_error_vset(struct mf_error *err, enum mf_status status, enum mf_retry retry,
				const char *fmt, va_list ap)
{
	if (err != NULL) {
		err->status = status;
		err->retry = retry;
		err->sys_errno = 0;
		err->proto_code = 0;
		err->retry_after_ms = 0;
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
	}
	return (int)status;
}

static inline int mf_error_set(struct mf_error *err, enum mf_status status, enum mf_retry retry,
			       const char *fmt, ...) MF_PRINTF(4, 5);
static inline int mf_error_set(struct mf_error *err, enum mf_status status, enum mf_retry retry,
			       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mf_error_vset(err, status, retry, fmt, ap);
	va_end(ap);
	return (int)status;
}

/* ------------------------------------------------------------------ */
/* Host services: how a plugin reaches the core                        */

enum mf_log_level { MF_LOG_DEBUG, MF_LOG_INFO, MF_LOG_WARN, MF_LOG_ERROR };

struct mf_account;

/* What a plugin asks the core's OAuth service for (ABI 1.3). */
struct mf_oauth_request {
	uint32_t struct_size; /* sizeof(struct mf_oauth_request) */
	/* The resource the plugin talks to, e.g.
	 * "https://outlook.office365.com/.default" (IMAP/POP3/EWS on
	 * Exchange Online), "https://graph.microsoft.com/.default",
	 * "https://mail.google.com/".  The operator's oauth-scope overrides. */
	const char *scope;
	/* Microsoft: the tenant (directory id or domain) when the URI names
	 * one (graph://TENANT/...); NULL: the configured oauth-tenant. */
	const char *tenant;
	/* The mailbox the token acts for (Google domain-wide delegation's
	 * "sub"); NULL: acct->user. */
	const char *subject;
	/* The server refused the last token (HTTP 401, IMAP
	 * AUTHENTICATIONFAILED): fetch a new one instead of the cached one. */
	bool refresh;
};

struct mf_host {
	uint16_t abi_major, abi_minor; /* the core's ABI */
	uint32_t struct_size;          /* check before using a slot past 1.0 */
	void *host_ctx;                /* pass back to every slot */
	/* Thread-safe.  Never pass a password. */
	void (*log)(void *host_ctx, enum mf_log_level level, const char *fmt, ...) MF_PRINTF(3, 4);
	/* True once the operator asked to stop (SIGINT/SIGTERM): return
	 * MF_ERR_CANCELED at the next convenient point. Thread-safe. */
	bool (*canceled)(void *host_ctx);
	/* A run-wide setting ("timeout", "ca-file", "insecure", ...) or NULL.
	 * The string lives as long as the run. */
	const char *(*setting)(void *host_ctx, const char *key);
	/* ABI 1.3: an OAuth 2.0 access token for acct (see struct
	 * mf_oauth_request).  The core runs the flow the operator configured
	 * (client secret, certificate, Google service account, refresh
	 * token), caches the token per identity and scope and renews it
	 * before it expires; the plugin never sees a client secret or key.
	 * On MF_OK *token_r is a malloc'd NUL-terminated access token: send
	 * it, then explicit_bzero() and free() it; never log it.  Errors:
	 * MF_ERR_AUTH (no OAuth configured for this account, the token
	 * endpoint refused: err names its error code and description),
	 * MF_ERR_ACCOUNT + MF_RETRY_LATER (endpoint unreachable, 5xx, 429).
	 * Thread-safe.  Check host->abi_minor >= 3 (or struct_size) first. */
	int (*oauth_token)(void *host_ctx, const struct mf_account *acct,
			   const struct mf_oauth_request *req, char **token_r,
			   struct mf_error *err);
	/* ABI 1.4 and later: new slots go here. */
};

/* ------------------------------------------------------------------ */
/* Accounts, folders, messages                                         */

/* One side (source or sink) of one mailbox migration.  Borrowed: valid from
 * open() until close(); copy anything needed past that. */
struct mf_account {
	const char *id;          /* the operator's name for this mailbox, e.g.
				"alice@corp.example"; use it in error texts */
	const char *uri;         /* the URI as given, password removed */
	const char *scheme;      /* "imaps", "mbox", ... (selects the plugin) */
	const char *user;        /* login name, or NULL */
	const char *host;        /* or NULL for local schemes */
	uint16_t port;           /* 0 = scheme default */
	const char *path;        /* URI path (file or folder for local schemes,
				"/EWS/Exchange.asmx" for EWS); "" if none */
	const char *password;    /* NULL if none; the core wipes it after open()
				returns, so a plugin that needs it later must
				copy it and explicit_bzero() its copy */
	const char *authzid;     /* log in as this user (admin / master user), or NULL */
	const char *impersonate; /* EWS: mailbox to impersonate, or NULL */
	/* NULL-terminated "key=value" strings: URI query parameters and
	 * per-account options.  Read them with mf_account_option(). */
	const char *const *options;
};

/* The value of option key, "" for a bare "key", NULL if absent. */
static inline const char *mf_account_option(const struct mf_account *acct, const char *key)
{
	size_t klen = 0;
	while (key[klen] != '\0')
		klen++;
	for (const char *const *o = acct->options; o != NULL && *o != NULL; o++) {
		size_t i = 0;
		while (i < klen && (*o)[i] == key[i])
			i++;
		if (i == klen && ((*o)[i] == '=' || (*o)[i] == '\0'))
			return (*o)[i] == '=' ? *o + i + 1 : *o + i;
	}
	return NULL;
}

/* RFC 6154 special-use roles; the sink maps them to its own folders. */
enum mf_special_use {
	MF_SPECIAL_NONE = 0,
	MF_SPECIAL_INBOX,
	MF_SPECIAL_SENT,
	MF_SPECIAL_DRAFTS,
	MF_SPECIAL_TRASH,
	MF_SPECIAL_JUNK,
	MF_SPECIAL_ARCHIVE,
};

#define MF_COUNT_UNKNOWN UINT64_MAX

struct mf_folder {
	/* Hierarchy as the source names it, UTF-8, levels separated by '/'.
	 * A '/' inside one level is not representable: sources replace it
	 * (the core never splits on anything else).  "INBOX" is the inbox. */
	const char *path;
	enum mf_special_use special_use;
	uint64_t messages;    /* or MF_COUNT_UNKNOWN */
	uint64_t bytes;       /* or MF_COUNT_UNKNOWN */
	uint32_t uidvalidity; /* 0 unless ids are only stable per validity */
	bool selectable;      /* false for pure containers (\Noselect) */
};

/* System flags (RFC 3501 §2.3.2). Bits past these are reserved. */
#define MF_FLAG_SEEN (1u << 0)
#define MF_FLAG_ANSWERED (1u << 1)
#define MF_FLAG_FLAGGED (1u << 2)
#define MF_FLAG_DELETED (1u << 3)
#define MF_FLAG_DRAFT (1u << 4)
#define MF_FLAG_FORWARDED (1u << 5) /* $Forwarded / maildir 'P' */

#define MF_DATE_UNKNOWN INT64_MIN

struct mf_message;

/* Read up to cap bytes of the raw RFC 5322 message into buf.  *n_r = 0
 * means end of message.  The total over all calls equals msg->size
 * exactly.  Called only from inside the mf_message_cb that received msg. */
typedef int mf_read_fn(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		       struct mf_error *err);

struct mf_message {
	const char *source_id;       /* stable id within folder (and uidvalidity):
				  IMAP UID, POP3 UIDL, maildir base name,
				  mbox byte offset, EWS ItemId */
	uint64_t uid;                /* numeric, ascending id if the source has one
				  (IMAP UID), else 0 */
	uint64_t size;               /* exact byte count read() will produce */
	int64_t internal_date;       /* seconds since the epoch, or MF_DATE_UNKNOWN */
	int32_t tz_offset_min;       /* of internal_date, minutes east of UTC */
	uint32_t flags;              /* MF_FLAG_* */
	const char *const *keywords; /* NULL-terminated user keywords, or NULL */
	mf_read_fn *read;
	void *read_ctx; /* for the read() implementation */
	/* Non-NULL when the source knows this message but cannot produce it
	 * (EWS item without MIME, IMAP message expunged mid-fetch, unreadable
	 * file): the core records it as failed with this error, never calls
	 * read(), and goes on.  size/read may then be 0/NULL. */
	const struct mf_error *failure;
};

/* The core's view of what is already done in a folder, given to fetch().
 * Sources use it to avoid downloading bodies the core would skip. */
struct mf_cursor {
	uint32_t uidvalidity;   /* what the state store last saw, 0 = none */
	uint64_t last_uid;      /* highest uid copied under that uidvalidity */
	const char *sync_state; /* opaque source token saved last time (EWS
				   SyncState), or NULL */
	/* True if the message with this source_id is already handled.
	 * Cheap (an index lookup); callable any number of times. */
	bool (*have)(const char *source_id, void *have_aux);
	void *have_aux;
	/* ABI 1.7: one part of a folder that split() cut up.  Read only by
	 * a source with the split() slot: it offers only the messages with
	 * from_uid <= uid and, unless until_uid is 0, uid <= until_uid.
	 * Both 0 for the whole folder (and for every source without split). */
	uint64_t from_uid, until_uid;
};

/* Callbacks return 0 to go on, or an mf_status to stop the iteration; the
 * plugin then returns that status unchanged (err is already filled). */
typedef int mf_folder_cb(const struct mf_folder *folder, void *aux);
typedef int mf_message_cb(const struct mf_message *msg, void *aux, struct mf_error *err);

/* Since ABI 1.4: the bytes one session moved so far (all its
 * connections, reconnects included), for the run summary: plain is the
 * protocol's own data, wire what crossed the network layer (after
 * COMPRESS=DEFLATE; equal to plain without compression; TLS framing not
 * counted).  in = received from the server. */
struct mf_io_stats {
	uint32_t struct_size; /* sizeof(struct mf_io_stats) of the caller */
	uint64_t plain_in, plain_out, wire_in, wire_out;
	bool compressed; /* some connection of the session was compressed */
};

/* Since ABI 1.5: what "mailferry preflight" learns about one session
 * without copying anything.  The core zeroes it, sets struct_size and
 * the MF_COUNT_UNKNOWN defaults; a probe() fills what it knows. */
struct mf_probe {
	uint32_t struct_size; /* sizeof(struct mf_probe) of the caller */
	/* The server's capabilities that change how a migration runs,
	 * space-separated as the server spells them (IMAP: UIDPLUS LITERAL+
	 * COMPRESS=DEFLATE SPECIAL-USE QUOTA APPENDLIMIT=n STATUS=SIZE); "" if
	 * the protocol has none. */
	char caps[256];
	/* Storage quota of the account (IMAP GETQUOTAROOT INBOX, RFC 9208:
	 * STORAGE is in KiB, given here in bytes), or MF_COUNT_UNKNOWN. */
	uint64_t quota_used, quota_limit;
	/* Largest message the server accepts (IMAP APPENDLIMIT, RFC 7889), or
	 * MF_COUNT_UNKNOWN when it does not say. */
	uint64_t max_message_size;
	char separator; /* hierarchy separator, 0 if flat or unknown */
};

/* Since ABI 1.5: one source folder as probe_folder() measured it. */
struct mf_folder_probe {
	uint32_t struct_size;     /* sizeof(struct mf_folder_probe) of the caller */
	uint64_t messages, bytes; /* or MF_COUNT_UNKNOWN */
	/* Messages larger than the larger_than asked for, and the largest
	 * such; MF_COUNT_UNKNOWN if not found out. */
	uint64_t n_larger, largest;
};

/* Opaque per-session handles, defined by each plugin. */
struct mf_source;
struct mf_sink;

/* Source capability bits: behaviour the scheduler plans around.  Each says
 * what the core does for a plugin that lacks it (docs/plugin-abi.md §5;
 * tests/abi/check_caps.c has a case per bit). */
/* source_id names the same message in every session (and nothing else).
 * Without it the core trusts no id across sessions: since->have() always
 * answers false, there is no uid cursor, every message offered is read
 * and recognised by its content (SHA-256, identical copies counted), and
 * --only-failed resumes the whole folder. */
#define MF_CAP_STABLE_IDS (1ull << 0)
/* More than one folder.  Without it the mailbox is one folder, the inbox:
 * the core copies the first selectable folder listed as special-use
 * INBOX, whatever its name, and ignores (with a warning) any others. */
#define MF_CAP_FOLDERS (1ull << 1)
/* Several sessions on one mailbox at once are fine.  The core runs
 * --streams sessions per side only when the source and the sink (or a
 * dry run) both have it; otherwise one. */
#define MF_CAP_PARALLEL_SESSIONS (1ull << 2)
/* uid ascends within a uidvalidity: a new message never gets a uid at or
 * below one handed out before.  Only with it (and STABLE_IDS) does the
 * core keep a cursor and pass since->last_uid; without, last_uid is 0 and
 * the source offers the whole folder, the core skipping by have(). */
#define MF_CAP_MONOTONIC_UIDS (1ull << 3)
/* fetch() returns *sync_state_r and honours since->sync_state.  Without
 * it the core neither stores a token the source returns nor hands one
 * back (since->sync_state is NULL). */
#define MF_CAP_SYNC_STATE (1ull << 4)
/* Sink capability bits. */
/* append/lookup fill target_id with the stored message's own id.
 * Without it (or when it is "") the core ignores target_id and records an
 * id of its own, unique per message, so matching by content after a
 * UIDVALIDITY change still tells which copies are claimed. */
#define MF_CAP_RETURNS_ID (1ull << 16)
/* Stores msg->keywords.  Without it the core hands the sink every message
 * with keywords NULL (a message is never refused for them), counts those
 * it stripped and logs the count per folder. */
#define MF_CAP_KEYWORDS (1ull << 17)
/* Since ABI 1.2: the sink stores messages with CRLF line ends (IMAP APPEND,
 * RFC 3501 §6.3.11): the core hands it every bare LF as CRLF, with size
 * counted so.  Digests the core records stay those of the source bytes. */
#define MF_CAP_WANTS_CRLF (1ull << 18)

struct mf_source_ops {
	uint32_t struct_size; /* sizeof(struct mf_source_ops) at build time */
	/* Connect / open and authenticate.  On failure *src_r may be set
	 * (close() is then still called) or NULL.  MF_ERR_AUTH for refused
	 * credentials. */
	int (*open)(void *plugin_ctx, const struct mf_account *acct, struct mf_source **src_r,
		    struct mf_error *err);
	/* Call cb once per folder, parents before children. */
	int (*list_folders)(struct mf_source *src, mf_folder_cb *cb, void *aux,
			    struct mf_error *err);
	/* Call cb once per message of folder not yet handled per *since
	 * (sources may also pass handled ones; the core skips them).  The
	 * message and its strings are borrowed for the callback.
	 * *sync_state_r (may be NULL): a malloc'd token the core stores and
	 * hands back as since->sync_state next time; ownership passes. */
	int (*fetch)(struct mf_source *src, const char *folder, const struct mf_cursor *since,
		     mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err);
	/* NULL-safe, safe after a failed open; sets *src = NULL. */
	void (*close)(struct mf_source **src);
	/* ABI 1.4, optional: fill *st (its struct_size set by the core) with
	 * the session's byte counts; called before close(). */
	void (*io_stats)(struct mf_source *src, struct mf_io_stats *st);
	/* ABI 1.5, optional: fill *p (see struct mf_probe; quota and size
	 * limit are a target's matter, a source may leave them) on an open
	 * session.  MF_OK, or the session's error. */
	int (*probe)(struct mf_source *src, struct mf_probe *p, struct mf_error *err);
	/* ABI 1.5, optional: count folder's messages and bytes and those
	 * larger than larger_than bytes (0: not asked), reading as little as
	 * the protocol allows (IMAP STATUS SIZE, SEARCH LARGER; no bodies).
	 * Read-only: nothing on the source changes.  MF_ERR_FOLDER if this
	 * folder cannot be read. */
	int (*probe_folder)(struct mf_source *src, const char *folder, uint64_t larger_than,
			    struct mf_folder_probe *p, struct mf_error *err);
	/* ABI 1.7, optional, only with MF_CAP_MONOTONIC_UIDS: cut what
	 * fetch(folder, since) would offer into up to parts parts of about
	 * equal message count, for that many sessions to fetch at once.
	 * Fills bounds[0] < bounds[1] < ... (*n_r of them, at most parts - 1;
	 * 0: not worth splitting): part 0 holds the uids up to bounds[0],
	 * part k those in (bounds[k-1], bounds[k]], the last part the rest.
	 * A source with this slot honours since->from_uid and until_uid. */
	int (*split)(struct mf_source *src, const char *folder, const struct mf_cursor *since,
		     unsigned parts, uint64_t *bounds, unsigned *n_r, struct mf_error *err);
	/* ABI 1.8 and later: new optional slots go here, may be NULL. */
};

struct mf_append_result {
	char target_id[128]; /* "uidvalidity:uid", file name, ...; "" if none */
};

/* Since ABI 1.1: the outcome of one append_start(), delivered exactly once.
 * status MF_OK: res is filled; otherwise err says why (MF_ERR_MESSAGE: this
 * message only; anything else: the session failed and the message's fate
 * is unknown; the core will ask lookup() after reconnecting).  Both
 * pointers are borrowed for the call. */
typedef void mf_append_done_cb(void *done_aux, int status, const struct mf_append_result *res,
			       const struct mf_error *err);

struct mf_sink_ops {
	uint32_t struct_size;
	int (*open)(void *plugin_ctx, const struct mf_account *acct, struct mf_sink **snk_r,
		    struct mf_error *err);
	/* Create folder path ('/'-separated, see mf_folder) if missing.
	 * special_use lets the sink map it onto its own Sent, Trash, ...;
	 * *actual_r (malloc'd, caller frees) is the path append() must then
	 * be given. */
	int (*ensure_folder)(struct mf_sink *snk, const char *path, enum mf_special_use special_use,
			     char **actual_r, struct mf_error *err);
	/* Store msg (read it with msg->read until it yields 0 bytes) in
	 * folder with its flags and date.  Return only once the message is
	 * durable (fsync'd, or tagged OK by the server). */
	int (*append)(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		      struct mf_append_result *res_r, struct mf_error *err);
	void (*close)(struct mf_sink **snk);
	/* Optional (may be NULL).  After a crash between append() and the
	 * core recording it, ask whether folder already holds a message with
	 * these size and SHA-256 digest bytes (msg->read is usable too).
	 * *found_r = true fills res_r.  Without it the core re-appends. */
	int (*lookup)(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
		      const unsigned char digest[32], bool *found_r, struct mf_append_result *res_r,
		      struct mf_error *err);
	/* Since ABI 1.1, optional (both or neither): pipelined appends, so a
	 * store across a slow link is not one round trip per message.
	 * append_start() reads msg to its end before returning (the core
	 * reuses its buffer), sends it, and returns without waiting for the
	 * server; done(done_aux, ...) is called exactly once per started
	 * append_start() call, whatever it returns, in call order, from
	 * inside that or a later append_start() or append_flush() (never
	 * from another thread).  The sink bounds what is in flight itself
	 * (waiting inside append_start()).  An error returned by either slot
	 * means the session failed: done() has then been called for every
	 * append outstanding.  append_flush() returns once every started
	 * append is done. */
	int (*append_start)(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			    mf_append_done_cb *done, void *done_aux, struct mf_error *err);
	int (*append_flush)(struct mf_sink *snk, struct mf_error *err);
	/* ABI 1.4, optional: as mf_source_ops.io_stats. */
	void (*io_stats)(struct mf_sink *snk, struct mf_io_stats *st);
	/* ABI 1.5, optional: as mf_source_ops.probe, for the target: its
	 * quota, size limit and separator matter most. */
	int (*probe)(struct mf_sink *snk, struct mf_probe *p, struct mf_error *err);
	/* ABI 1.5, optional: whether ensure_folder(path) would be refused by
	 * rules the sink knows without trying (a level too long, a reserved
	 * name, the target's separator inside a level it cannot replace).
	 * Creates nothing.  true + why[] (NUL-terminated) if refused. */
	bool (*folder_refused)(struct mf_sink *snk, const char *path, char *why, size_t why_size);
	/* ABI 1.6, optional: how what this sink stores for acct is read back
	 * ("mailferry verify" compares it with the source).  *uri_r: a
	 * malloc'd source URI (the core frees it) that an installed source
	 * plugin opens read-only, e.g. "maildir:/srv/alice" for
	 * maildir:/srv/alice, "imaps://alice%40corp.example@imap.example:993/"
	 * for an IMAP target.  Percent-encode '%', and in each part the
	 * characters that would end it ('@' ':' '/' in a login, '?' in a
	 * path, '&' '=' in an option).  Whatever else the reader needs goes
	 * in the query (?tls=none&ca=...), read by the source with
	 * mf_account_option().  No password: the core hands the reader the
	 * sink's credentials (password, authzid, OAuth identity).  Called on
	 * the main thread after init(), with no session open: work it out
	 * from acct alone, contact nothing.  MF_ERR_FATAL (err says why) when
	 * this account's store cannot be read back.  NULL: verify reports
	 * that this plugin's stores cannot be read back. */
	int (*reader_uri)(void *plugin_ctx, const struct mf_account *acct, char **uri_r,
			  struct mf_error *err);
	/* ABI 1.8, optional: true if each append_start() on this open
	 * session waits a round trip before its message goes out (IMAP
	 * without LITERAL+: the server's "+" to every literal), so one
	 * session moves one message per round trip whatever the bandwidth.
	 * The core then stores each stream's messages through several
	 * sessions (--append-lanes).  NULL: appends stream. */
	bool (*appends_wait)(struct mf_sink *snk);
	/* ABI 1.8 and later: new optional slots go here, may be NULL. */
};

enum mf_plugin_kind { MF_PLUGIN_SOURCE = 1, MF_PLUGIN_SINK = 2 };

struct mf_plugin {
	uint16_t abi_major, abi_minor; /* filled by MF_ABI_INIT */
	uint32_t struct_size;          /* sizeof(struct mf_plugin) at build */
	enum mf_plugin_kind kind;
	const char *name;        /* must equal the module file name: "imap" */
	const char *version;     /* the plugin's own version */
	const char *description; /* one line, for "mailferry plugins" */
	/* NULL-terminated URI schemes handled: { "imap", "imaps", NULL } */
	const char *const *schemes;
	uint64_t caps; /* MF_CAP_*; the core ignores unknown bits */
	/* Called once after load, before any open().  May be NULL. */
	int (*init)(const struct mf_host *host, void **plugin_ctx_r, struct mf_error *err);
	void (*deinit)(void *plugin_ctx);   /* may be NULL */
	const struct mf_source_ops *source; /* set iff kind == SOURCE */
	const struct mf_sink_ops *sink;     /* set iff kind == SINK */
	/* Since ABI 1.6, may be NULL: the schemes (among the above) whose
	 * URIs name a mailbox by its whole address on the plugin's default
	 * server.  The core then reads "scheme://alice@corp.example" (one
	 * '@', no ':' in the authority) as login "alice@corp.example" with
	 * host NULL, and "scheme://alice@corp.example@host:port" as that
	 * login at host:port.  Any other scheme reads the first as login
	 * "alice" at host "corp.example". */
	const char *const *address_schemes;
	/* ABI 1.7 and later: new fields go here. */
};

/* libltdl resolves "<module>_LTX_<sym>" when asked for "<sym>", so several
 * modules can be preloaded into one binary without clashing. */
#define MF_PLUGIN_EXPORT(mod)                                                \
	MF_VISIBLE extern const struct mf_plugin mod##_LTX_mailferry_plugin; \
	MF_VISIBLE const struct mf_plugin mod##_LTX_mailferry_plugin

#define MF_ABI_INIT                                           \
	.abi_major = MF_ABI_MAJOR, .abi_minor = MF_ABI_MINOR, \
	.struct_size = sizeof(struct mf_plugin)

#ifdef __cplusplus
}
#endif
#endif
