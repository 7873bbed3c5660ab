/* SPDX-License-Identifier: MIT */
/* Private interfaces of the EWS source plugin.  The plugin is split so that
 * everything that turns bytes into structs (SOAP response parsing, base64,
 * xs:dateTime, error classification, folder-tree building, request
 * building) is pure and network-free: the Check tests and the fuzz target
 * link those parts directly.  ews_http.c owns libcurl, ews_session.c
 * open/close and the request round trip, ews_source.c listing and
 * fetching, ews_plugin.c only the exported descriptor. */
#ifndef EWS_P_H
#define EWS_P_H

#include <mailferry/date.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EWS_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define EWS_NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define EWS_NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
#define EWS_NS_E "http://schemas.microsoft.com/exchange/services/2006/errors"

/* ------------------------------------------------------------------ */
/* Response status (ews_xml.c)                                          */

enum ews_class { EWS_SUCCESS = 0, EWS_WARNING, EWS_ERROR };

/* One m:*ResponseMessage, or an s:Fault (fault = true, cls = EWS_ERROR). */
struct ews_status {
	enum ews_class cls;
	bool fault;
	char code[64];       /* m:ResponseCode / e:ResponseCode, "NoError" */
	char inner[64];      /* MessageXml InnerErrorResponseCode, or "" */
	char text[256];      /* m:MessageText / faultstring, or "" */
	uint32_t backoff_ms; /* MessageXml BackOffMilliseconds, 0 if absent */
};

/* ------------------------------------------------------------------ */
/* Folders                                                              */

struct ews_folder_info {
	char *id, *parent_id; /* FolderId/@Id, ParentFolderId/@Id (or NULL) */
	char *folder_class;   /* FolderClass text, NULL if absent */
	char *name;           /* DisplayName, NULL if absent */
	uint64_t total;       /* TotalCount, MF_COUNT_UNKNOWN if absent */
	bool search;          /* a t:SearchFolder: virtual, never migrated */
};

struct ews_folder_page {
	struct ews_folder_info *v;
	size_t n, cap;
	bool last;            /* RootFolder/@IncludesLastItemInRange */
	uint64_t next_offset; /* RootFolder/@IndexedPagingOffset */
};
void ews_folder_page_free(struct ews_folder_page *p);

/* ------------------------------------------------------------------ */
/* Items                                                                */

enum ews_change {
	EWS_CHANGE_CREATE = 0, /* also every FindItem / GetItem item */
	EWS_CHANGE_UPDATE,
	EWS_CHANGE_DELETE,
	EWS_CHANGE_READ_FLAG,
};

struct ews_item {
	enum ews_change change;
	struct ews_status st;  /* GetItem: this item's own response message */
	char *id, *change_key; /* ItemId; id NULL when the reply had none */
	char *item_class;      /* ItemClass, NULL if absent */
	uint64_t size;         /* store size (never the MIME length), 0 if absent */
	int64_t received;      /* DateTimeReceived, MF_DATE_UNKNOWN if absent */
	int64_t sent;          /* DateTimeSent, MF_DATE_UNKNOWN if absent */
	uint32_t flags;        /* MF_FLAG_* from IsRead, flag status, IsDraft,
				  last verb executed */
	bool has_mime;         /* a t:MimeContent element was present */
	bool mime_bad;         /* ...but it was not valid base64 */
	struct mf_buf mime;    /* decoded RFC 5322 bytes */
};

struct ews_item_page {
	struct ews_item *v;
	size_t n, cap;
	char *sync_state;     /* SyncFolderItems m:SyncState, or NULL */
	bool last;            /* IncludesLastItemInRange */
	uint64_t next_offset; /* FindItem IndexedPagingOffset */
};
void ews_item_page_free(struct ews_item_page *p);
struct ews_item *ews_item_page_add(struct ews_item_page *p);

/* Parsers: bytes of a whole SOAP response in, structs out.  Each returns 0
 * when the bytes were a SOAP envelope holding either the expected response
 * or a fault; *st then says which (for GetItem: the fault or the first
 * message; each item carries its own status).  -1: not XML, not SOAP, or
 * the wrong response element.  Output structs must start zeroed and are
 * appended to; free them with their _free function either way. */
int ews_parse_find_folder(const char *xml, size_t len, struct ews_folder_page *page,
			  struct ews_status *st);
/* GetFolder for several DistinguishedFolderIds: ids_r[i] (malloc'd, or
 * NULL) and sts[i] for the i-th response message, i < n; *got_r counts
 * the messages seen. */
int ews_parse_get_folder(const char *xml, size_t len, char **ids_r, struct ews_status *sts,
			 size_t n, size_t *got_r, struct ews_status *st);
int ews_parse_sync_items(const char *xml, size_t len, struct ews_item_page *page,
			 struct ews_status *st);
int ews_parse_find_item(const char *xml, size_t len, struct ews_item_page *page,
			struct ews_status *st);
int ews_parse_get_item(const char *xml, size_t len, struct ews_item_page *page,
		       struct ews_status *st);
/* GetItem, streaming (ews_xml_stream.c): feed the body as it arrives;
 * MimeContent is decoded on the fly.  finish() returns what
 * ews_parse_get_item() would (that one is this parser over a buffer). */
struct ews_getitem_stream;
struct ews_getitem_stream *ews_getitem_stream_new(struct ews_item_page *page,
						  struct ews_status *st);
void ews_getitem_stream_feed(struct ews_getitem_stream *g, const char *data, size_t len);
int ews_getitem_stream_finish(struct ews_getitem_stream *g);
void ews_getitem_stream_free(struct ews_getitem_stream **g);
/* Only the status of a reply (fault or first response message). */
int ews_parse_status(const char *xml, size_t len, struct ews_status *st);

/* ------------------------------------------------------------------ */
/* Pure helpers (ews_util.c)                                            */

/* Appends s with the five XML special characters escaped. */
void ews_xml_escape(struct mf_buf *b, const char *s);

/* Map a non-success status to an mf_error (§5 of the protocol brief).
 * dflt is the status used for codes that are not throttling, transient,
 * or mailbox-wide (MF_ERR_FOLDER for folder operations, ...).  what names
 * account, folder and operation.  Returns the status set. */
int ews_status_error(const struct ews_status *st, const char *what, enum mf_status dflt,
		     struct mf_error *err);
bool ews_status_is(const struct ews_status *st, const char *code);
/* ErrorServerBusy, also as the inner code of ErrorInternalServerError. */
bool ews_status_is_busy(const struct ews_status *st);
bool ews_status_is_version(const struct ews_status *st);
/* Item codes meaning "this item cannot be exported" (§4). */
bool ews_status_item_unexportable(const struct ews_status *st);

/* Message item classes worth migrating (§4 "Item classes"). */
bool ews_item_class_is_mail(const char *item_class);
/* Folder classes kept (§2.4): IPF.Note, IPF.Note.*, none. */
bool ews_folder_class_is_mail(const char *folder_class);

/* ------------------------------------------------------------------ */
/* Folder tree (ews_tree.c)                                             */

/* The well-known folders resolved by GetFolder, by role. */
enum ews_role {
	EWS_ROLE_ROOT = 0, /* msgfolderroot */
	EWS_ROLE_INBOX,
	EWS_ROLE_SENT,
	EWS_ROLE_DRAFTS,
	EWS_ROLE_TRASH,
	EWS_ROLE_JUNK,
	EWS_ROLE_OUTBOX,
	EWS_ROLE_SYNCISSUES,
	EWS_ROLE_COUNT
};
extern const char *const ews_role_names[EWS_ROLE_COUNT];

struct ews_tree_folder {
	char *id;
	char *path; /* '/'-separated; the inbox is "INBOX" */
	enum mf_special_use special_use;
	uint64_t total;
	unsigned depth; /* 1 for top level */
};

struct ews_tree {
	struct ews_tree_folder *v; /* sorted parents before children */
	size_t n;
	size_t skipped_class;  /* non-mail FolderClass or search folders */
	size_t skipped_system; /* outbox / Sync Issues trees */
};

/* Build the migratable folders from the flat FindFolder list.  role_ids[r]
 * is the FolderId of role r or NULL.  keep_system keeps the outbox and the
 * Sync Issues tree. */
void ews_tree_build(const struct ews_folder_page *all, const char *const role_ids[EWS_ROLE_COUNT],
		    bool keep_system, struct ews_tree *tree_r);
const struct ews_tree_folder *ews_tree_find_path(const struct ews_tree *t, const char *path);
void ews_tree_free(struct ews_tree *t);

/* ------------------------------------------------------------------ */
/* Requests (ews_soap.c)                                                */

extern const char *const ews_versions[]; /* newest first, NULL-terminated */

/* Whole envelope around body (one operation element). */
void ews_req_envelope(struct mf_buf *b, const char *version, const char *impersonate,
		      const char *body);
void ews_req_get_folder_roles(struct mf_buf *b);
void ews_req_find_folder(struct mf_buf *b, uint64_t offset, unsigned max);
void ews_req_sync_items(struct mf_buf *b, const char *folder_id, const char *sync_state,
			unsigned max);
void ews_req_find_item(struct mf_buf *b, const char *folder_id, uint64_t offset, unsigned max);
void ews_req_get_item(struct mf_buf *b, const char *const *ids, size_t n);

/* ------------------------------------------------------------------ */
/* HTTP transport (ews_http.c)                                          */

enum ews_auth { EWS_AUTH_BASIC, EWS_AUTH_NTLM, EWS_AUTH_BEARER };

/* A fresh bearer token (malloc'd; the transport wipes and frees it), for
 * a token the server refused with HTTP 401. */
typedef int ews_renew_fn(void *aux, char **token_r, struct mf_error *err);

struct ews_http_cfg {
	const char *url;
	const char *user, *password; /* password or bearer token */
	enum ews_auth auth;
	const char *anchor;  /* X-AnchorMailbox, or NULL */
	const char *ca_file; /* or NULL */
	bool insecure;
	long timeout_s;             /* connect timeout and stall limit */
	const struct mf_host *host; /* for canceled(); may be NULL */
	const char *who;            /* "ews: alice@corp" for error texts */
	/* Bearer tokens from the core's OAuth service: on a 401 the
	 * transport asks renew once for a new token and re-sends the
	 * request.  NULL (token file, Basic, NTLM): a 401 is mapped. */
	ews_renew_fn *renew;
	void *renew_aux;
};

struct ews_http;
int ews_http_open(const struct ews_http_cfg *cfg, struct ews_http **h_r, struct mf_error *err);
/* POST body.  MF_OK when the server answered 200 or 500 (whose body may be
 * a SOAP fault): *status_r; a 200 reply's body is handed to sink as it
 * arrives (sink NULL: kept in *resp_r, owned by h, valid until the next
 * post), other bodies are kept.  Every other outcome is mapped to err. */
typedef void ews_sink_fn(void *aux, const char *data, size_t len);
int ews_http_post_stream(struct ews_http *h, const struct mf_buf *body, ews_sink_fn *sink,
			 void *sink_aux, long *status_r, const struct mf_buf **resp_r,
			 struct mf_error *err);
/* Free the last response body (after parsing: big GetItem replies). */
void ews_http_drop_body(struct ews_http *h);
void ews_http_close(struct ews_http **h);
/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms
 * from now; 0 when absent or unparsable. */
uint32_t ews_retry_after_ms(const char *value, int64_t now);

/* ------------------------------------------------------------------ */
/* Sessions (ews_session.c) and source operations (ews_source.c)        */

/* Per loaded plugin, shared by all sessions (so by several threads). */
struct ews_plugin_ctx {
	const struct mf_host *host;
	/* RequestServerVersion that worked, per endpoint URL (brief §1:
	 * remember it, so that only the first session steps down). */
	pthread_mutex_t lock;
	struct ews_known_version {
		char *url;
		int version;
	} * known;
	size_t nknown;
};

/* One session: one mailbox, one curl handle (so one connection). */
struct mf_source {
	const struct mf_host *host;
	struct ews_plugin_ctx *pc; /* may be NULL (tests) */
	char *url;
	struct ews_http *http;
	char *who;         /* "ews: alice@corp.example" for error texts */
	char *impersonate; /* or NULL */
	/* Borrowed until close (plugin.h): for renewing a bearer from the
	 * OAuth service when the server refuses it. */
	const struct mf_account *acct;
	int version; /* index into ews_versions */
	bool version_pinned, version_saved;
	unsigned folder_page, item_page, sync_batch, get_batch;
	uint64_t batch_bytes;
	bool keep_system, finditem_only;
	char *role_ids[EWS_ROLE_COUNT]; /* from GetFolder at open */
	bool have_tree;
	struct ews_tree tree;
	struct mf_buf body, req; /* operation element, whole envelope */
};

void ews_log(const struct mf_source *s, enum mf_log_level lvl, const char *fmt, ...)
	MF_PRINTF(3, 4);

typedef int parse_fn(const char *xml, size_t len, void *out, struct ews_status *st);
typedef void reset_fn(void *out);
/* POST s->body in an envelope and parse the reply into out (reset first).
 * MF_OK: *st holds the reply's status, success or not; the caller
 * classifies it.  Steps RequestServerVersion down when the server refuses
 * it (brief §1). */
int ews_call(struct mf_source *s, const char *what, parse_fn *parse, void *out, reset_fn *reset,
	     struct ews_status *st, struct mf_error *err);
/* GetItem: the same round trip, with the reply parsed as it streams in. */
int ews_call_get_item(struct mf_source *s, const char *what, struct ews_item_page *page,
		      struct ews_status *st, struct mf_error *err);
int ews_load_roles(struct mf_source *s, struct mf_error *err);
int ews_open(void *plugin_ctx, const struct mf_account *a, struct mf_source **src_r,
	     struct mf_error *err);
void ews_close(struct mf_source **sp);
int ews_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux, struct mf_error *err);
int ews_fetch(struct mf_source *s, const char *folder, const struct mf_cursor *since,
	      mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err);

/* ews_ops.c: the ops table over ews_session.c and ews_source.c. */
extern const struct mf_source_ops ews_source_ops;
int ews_plugin_init(const struct mf_host *host, void **ctx_r, struct mf_error *err);
void ews_plugin_deinit(void *ctx);

#endif
