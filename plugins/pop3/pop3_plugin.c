/* SPDX-License-Identifier: MIT */
/* The "pop3" source plugin: pop3://user@host[:port] (STLS required unless
 * ?tls=none) and pop3s:// (implicit TLS).  It owns the source operations:
 * open (connect, login, STAT), list_folders (one INBOX), fetch (UIDL or a
 * header digest for ids, LIST, then RETR of the messages the core does not
 * have yet, pipelined when the server says PIPELINING) and close (QUIT).
 * It never sends DELE: nothing on the server is ever removed.  Each RETR
 * is decoded into a bounded spool first (pop3_spool.c says why); the
 * internal date comes from the spooled header block. */
#include <config.h>
#include "pop3_p.h"

#include <mailferry/imapc.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mailferry/net.h>

#define POP3_MEM_SPOOL (1024 * 1024)
#define POP3_WINDOW 8 /* commands in flight with PIPELINING (RFC 2449) */

struct pop3_ctx {
	const struct mf_host *host;
};

struct pop3_msg {
	uint64_t size; /* LIST octets, UINT64_MAX if not listed */
	char *id;      /* source_id, or NULL until known */
};

struct mf_source {
	const struct mf_host *host;
	struct pop3_client c;
	char who[256];         /* "alice@mail.example.com" */
	uint64_t count, total; /* STAT */
	bool mark_seen;
	bool peek; /* TOP n <huge> instead of RETR: see README.md */
	struct pop3_spool spool;
	struct pop3_msg *msgs;
};

#define LOG(s, lvl, ...) (s)->host->log((s)->host->host_ctx, lvl, __VA_ARGS__)

static int pop3_init(const struct mf_host *host, void **ctx_r, struct mf_error *err)
{
	(void)err;
	struct pop3_ctx *pc = mf_xcalloc(1, sizeof(*pc));
	pc->host = host;
	*ctx_r = pc;
	return MF_OK;
}

static void pop3_deinit(void *ctx)
{
	free(ctx);
}

static const char *setting(const struct mf_host *h, const char *key)
{
	return h->setting != NULL ? h->setting(h->host_ctx, key) : NULL;
}

static bool is_one(const char *v)
{
	return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 ||
			     strcmp(v, "true") == 0 || *v == '\0');
}

static int read_stat(struct mf_source *s, struct mf_error *err)
{
	bool ok;
	const char *text;
	int st = pop3_client_send(&s->c, "STAT", err);
	if (st == MF_OK)
		st = pop3_client_status(&s->c, &ok, &text, err);
	if (st != MF_OK)
		return st;
	if (!ok || !pop3_parse_stat(text, &s->count, &s->total))
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_LATER, "%s: STAT failed: %.100s",
				    s->c.label, text);
	/* A million messages is plenty for one maildrop; more is a hostile
	 * or broken server asking us for gigabytes of bookkeeping. */
	if (s->count > 10000000)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NEVER,
				    "%s: STAT claims %llu messages", s->c.label,
				    (unsigned long long)s->count);
	return MF_OK;
}

/* A bearer token from the core's OAuth service (ABI 1.3). */
static int service_token(const struct mf_host *h, const struct mf_account *acct, bool refresh,
			 char **token_r, struct mf_error *err)
{
	if (h == NULL || h->abi_minor < 3 || h->oauth_token == NULL ||
	    h->struct_size < offsetof(struct mf_host, oauth_token) + sizeof(h->oauth_token))
		return mf_error_set(err, MF_ERR_AUTH, MF_RETRY_NEVER,
				    "pop3: %s: no password or token given, and this mailferry "
				    "has no OAuth token service",
				    acct->id);
	struct mf_oauth_request req = {
		.struct_size = sizeof(req),
		.scope = imapc_oauth_scope(acct->host),
		.subject = acct->user,
		.refresh = refresh,
	};
	return h->oauth_token(h->host_ctx, acct, &req, token_r, err);
}

/* Log in; with auth=xoauth2 and no password the token comes from the
 * core, and a refused one is renewed once (POP3 stays in the
 * AUTHORIZATION state after a failed AUTH, so on the same connection). */
static int login_maybe_oauth(struct mf_source *s, const struct mf_account *acct,
			     struct pop3_login *login, struct mf_error *err)
{
	if (login->method != POP3_AUTH_XOAUTH2 || login->password != NULL)
		return pop3_client_login(&s->c, login, err);
	int st = MF_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *token = NULL;
		if ((st = service_token(s->host, acct, attempt > 0, &token, err)) != MF_OK)
			return st;
		login->password = token;
		st = pop3_client_login(&s->c, login, err);
		login->password = NULL;
		explicit_bzero(token, strlen(token));
		free(token);
		if (st != MF_ERR_AUTH || s->c.broken)
			break;
	}
	return st;
}

static int pop3_open(void *ctx, const struct mf_account *acct, struct mf_source **src_r,
		     struct mf_error *err)
{
	struct pop3_ctx *pc = ctx;
	const struct mf_host *h = pc->host;
	*src_r = NULL;
	bool implicit = strcmp(acct->scheme, "pop3s") == 0;
	if (acct->host == NULL || *acct->host == '\0' || acct->user == NULL || *acct->user == '\0')
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "pop3: %s: need %s://USER@HOST[:PORT]", acct->id, acct->scheme);
	struct pop3_login login = { .user = acct->user, .password = acct->password };
	login.authzid = acct->authzid != NULL ? acct->authzid : mf_account_option(acct, "authzid");
	const char *auth = mf_account_option(acct, "auth");
	if (auth == NULL || *auth == '\0')
		login.method = POP3_AUTH_DEFAULT;
	else if (mf_ascii_strcasecmp(auth, "user") == 0)
		login.method = POP3_AUTH_USER;
	else if (mf_ascii_strcasecmp(auth, "apop") == 0)
		login.method = POP3_AUTH_APOP;
	else if (mf_ascii_strcasecmp(auth, "plain") == 0)
		login.method = POP3_AUTH_PLAIN;
	else if (mf_ascii_strcasecmp(auth, "xoauth2") == 0)
		login.method = POP3_AUTH_XOAUTH2;
	else
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "pop3: %s: unknown auth=%s (user, apop, "
				    "plain or xoauth2)",
				    acct->id, auth);
	const char *tls = mf_account_option(acct, "tls");
	bool plain = tls != NULL && strcmp(tls, "none") == 0;
	if (tls != NULL && !plain && strcmp(tls, "starttls") != 0 && strcmp(tls, "implicit") != 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "pop3: %s: unknown tls=%s (none, "
				    "starttls or implicit)",
				    acct->id, tls);
	if (tls != NULL && strcmp(tls, "implicit") == 0)
		implicit = true;
	if (implicit && plain)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "pop3: %s: pop3s:// with tls=none", acct->id);

	struct mf_source *s = mf_xcalloc(1, sizeof(*s));
	s->host = h;
	pop3_spool_init(&s->spool, POP3_MEM_SPOOL,
			setting(h, "tmpdir") != NULL ? setting(h, "tmpdir") : getenv("TMPDIR"));
	*src_r = s;
	snprintf(s->who, sizeof(s->who), "%s@%s", acct->user, acct->host);
	s->mark_seen = is_one(mf_account_option(acct, "mark-seen")) ||
		       is_one(setting(h, "pop3-mark-seen"));
	/* Dovecot (pop3_no_flag_updates = no, the default) and others set
	 * \Seen on RETR'd messages at QUIT; TOP does not, so peek=1 leaves
	 * even the flags on the server alone. */
	s->peek = is_one(mf_account_option(acct, "peek")) || is_one(setting(h, "pop3-peek"));
	if (mf_account_option(acct, "mark-seen") != NULL &&
	    strcmp(mf_account_option(acct, "mark-seen"), "0") == 0)
		s->mark_seen = false;

	struct mf_conn_opts opts = {
		.proto = implicit ? "pop3s" : "pop3",
		.host = acct->host,
		.port = acct->port ? acct->port
			: implicit ? 995
				   : 110,
		.tls = implicit,
		.insecure = is_one(setting(h, "insecure")),
		.ca_file = setting(h, "ca-file"),
	};
	const char *to = setting(h, "timeout");
	uint64_t secs;
	if (to != NULL && mf_parse_u64(to, strlen(to), &secs) && secs > 0 && secs < 86400)
		opts.connect_timeout_ms = opts.io_timeout_ms = (unsigned)secs * 1000;
	if (opts.insecure && !plain)
		LOG(s, MF_LOG_WARN,
		    "pop3: %s: TLS certificate NOT verified "
		    "(insecure): anyone on the path can read the password "
		    "and the mail",
		    s->who);
	if (plain)
		LOG(s, MF_LOG_WARN,
		    "pop3: %s: tls=none: the password and "
		    "every message cross the network in clear text",
		    s->who);

	char label[300];
	snprintf(label, sizeof(label), "%s: %s", opts.proto, s->who);
	int st = pop3_client_open(&s->c, h, &opts, !implicit && !plain, label, err);
	if (st == MF_OK)
		st = login_maybe_oauth(s, acct, &login, err);
	if (st == MF_OK)
		st = read_stat(s, err);
	if (st == MF_OK)
		LOG(s, MF_LOG_DEBUG, "%s: %llu messages, %llu bytes%s%s", s->c.label,
		    (unsigned long long)s->count, (unsigned long long)s->total,
		    s->c.caps.pipelining ? ", pipelining" : "", s->c.caps.uidl ? ", UIDL" : "");
	return st;
}

static int pop3_list_folders(struct mf_source *s, mf_folder_cb *cb, void *aux, struct mf_error *err)
{
	(void)err;
	struct mf_folder f = {
		.path = "INBOX",
		.special_use = MF_SPECIAL_INBOX,
		.messages = s->count,
		.bytes = s->total,
		.uidvalidity = 0,
		.selectable = true,
	};
	return cb(&f, aux);
}

static void free_msgs(struct mf_source *s)
{
	if (s->msgs == NULL)
		return;
	for (uint64_t i = 0; i < s->count; i++)
		free(s->msgs[i].id);
	free(s->msgs);
	s->msgs = NULL;
}

/* Read the lines of a UIDL or LIST listing into s->msgs. */
static int read_listing(struct mf_source *s, bool uidl, struct mf_error *err)
{
	struct pop3_client *c = &s->c;
	for (;;) {
		int st = pop3_rd_line(&c->rd, &c->line, POP3_LINE_MAX, err);
		if (st != MF_OK) {
			c->broken = true;
			return st;
		}
		if (pop3_ml_line(&c->line))
			return MF_OK;
		uint64_t n, size;
		char *id = NULL;
		bool ok = uidl ? pop3_parse_uidl_line((const char *)c->line.data, c->line.len, &n,
						      &id)
			       : pop3_parse_list_line((const char *)c->line.data, &n, &size);
		if (!ok || n > s->count) {
			LOG(s, MF_LOG_WARN, "%s: ignoring %s line \"%.80s\"", c->label,
			    uidl ? "UIDL" : "LIST", (const char *)c->line.data);
			free(id);
			continue;
		}
		if (uidl) {
			free(s->msgs[n - 1].id);
			s->msgs[n - 1].id = id;
		} else {
			s->msgs[n - 1].size = size;
		}
	}
}

static int cmp_idp(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Some servers repeat a UID (copied maildir files); ids must be unique,
 * so such a maildrop falls back to header digests like one without
 * UIDL.  Returns true if all ids are present and distinct. */
static bool ids_usable(struct mf_source *s)
{
	char ***idx = mf_xmalloc((size_t)s->count * sizeof(*idx));
	bool ok = true;
	for (uint64_t i = 0; i < s->count && ok; i++) {
		idx[i] = &s->msgs[i].id;
		ok = s->msgs[i].id != NULL;
	}
	if (ok) {
		qsort(idx, (size_t)s->count, sizeof(*idx), cmp_idp);
		for (uint64_t i = 1; i < s->count && ok; i++)
			ok = strcmp(*idx[i - 1], *idx[i]) != 0;
	}
	free(idx);
	return ok;
}

static int cmp_idx_by_id(const void *a, const void *b, void *aux)
{
	const struct pop3_msg *m = aux;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	int c = strcmp(m[x].id, m[y].id);
	return c != 0 ? c : x < y ? -1 : x > y;
}

/* Equal header digests (the same message delivered twice): the 2nd, 3rd
 * ... in maildrop order get "#2", "#3".  Sorting keeps this O(n log n)
 * for maildrops of any size. */
static void number_duplicates(struct mf_source *s)
{
	uint64_t *idx = mf_xmalloc((size_t)s->count * sizeof(*idx));
	uint64_t n = 0;
	for (uint64_t i = 0; i < s->count; i++)
		if (s->msgs[i].id != NULL)
			idx[n++] = i;
	qsort_r(idx, (size_t)n, sizeof(*idx), cmp_idx_by_id, s->msgs);
	unsigned k = 1;
	for (uint64_t j = 1; j < n; j++) {
		struct pop3_msg *prev = &s->msgs[idx[j - 1]];
		struct pop3_msg *cur = &s->msgs[idx[j]];
		size_t l = strcspn(prev->id, "#");
		if (strncmp(prev->id, cur->id, l) != 0 || cur->id[l] != '\0') {
			k = 1;
			continue;
		}
		char *d = mf_xasprintf("%s#%u", cur->id, ++k);
		free(cur->id);
		cur->id = d;
	}
	free(idx);
}

/* No usable UIDL: the id is "hdr-sha256:" + SHA-256 of the TOP n 0
 * header block and the LIST size, made unique by "#2", "#3" in message
 * order.  Stable across sessions as long as the maildrop only grows.
 * Without TOP either, ids stay NULL: computed from the whole message. */
static int digest_ids(struct mf_source *s, struct mf_error *err)
{
	struct pop3_client *c = &s->c;
	struct mf_sha256 *h = mf_sha256_new();
	unsigned char buf[16384], md[32];
	char hex[65], cmd[64];
	int st = MF_OK;
	uint64_t sent = 0;
	unsigned window = c->caps.pipelining ? POP3_WINDOW : 1;

	for (uint64_t i = 0; i < s->count && st == MF_OK; i++) {
		free(s->msgs[i].id);
		s->msgs[i].id = NULL;
		while (st == MF_OK && sent < s->count && sent < i + window) {
			snprintf(cmd, sizeof(cmd), "TOP %llu 0", (unsigned long long)++sent);
			st = pop3_client_send(c, cmd, err);
		}
		bool ok, done = false;
		const char *text;
		if (st == MF_OK)
			st = pop3_client_status(c, &ok, &text, err);
		if (st != MF_OK)
			break;
		if (!ok)
			continue; /* no TOP for this one: whole-message digest */
		struct pop3_ml ml;
		pop3_ml_init(&ml);
		while (st == MF_OK && !done) {
			size_t n;
			st = pop3_rd_body(&c->rd, &ml, buf, sizeof(buf), &n, &done, err);
			mf_sha256_update(h, buf, n);
		}
		if (st != MF_OK) {
			c->broken = true;
			break;
		}
		snprintf(cmd, sizeof(cmd), "\n%llu", (unsigned long long)s->msgs[i].size);
		mf_sha256_update(h, cmd, strlen(cmd));
		mf_sha256_final(h, md);
		mf_hex(md, sizeof(md), hex);
		s->msgs[i].id = mf_xasprintf("hdr-sha256:%s", hex);
	}
	if (st == MF_OK)
		number_duplicates(s);
	mf_sha256_free(&h);
	return st;
}

static int index_messages(struct mf_source *s, struct mf_error *err)
{
	struct pop3_client *c = &s->c;
	bool try_uidl = !c->caps.known || c->caps.uidl;
	bool ok_uidl = false, ok_list = false;
	const char *text;
	s->msgs = mf_xcalloc((size_t)s->count, sizeof(*s->msgs));
	for (uint64_t i = 0; i < s->count; i++)
		s->msgs[i].size = UINT64_MAX;
	int st = try_uidl ? pop3_client_send(c, "UIDL", err) : MF_OK;
	if (st == MF_OK && try_uidl && !c->caps.pipelining) {
		st = pop3_client_status(c, &ok_uidl, &text, err);
		if (st == MF_OK && ok_uidl)
			st = read_listing(s, true, err);
	}
	if (st == MF_OK)
		st = pop3_client_send(c, "LIST", err);
	if (st == MF_OK && try_uidl && c->caps.pipelining) {
		st = pop3_client_status(c, &ok_uidl, &text, err);
		if (st == MF_OK && ok_uidl)
			st = read_listing(s, true, err);
	}
	if (st == MF_OK)
		st = pop3_client_status(c, &ok_list, &text, err);
	if (st == MF_OK && ok_list)
		st = read_listing(s, false, err);
	if (st != MF_OK)
		return st;
	if (ok_uidl && ids_usable(s))
		return MF_OK;
	LOG(s, MF_LOG_WARN,
	    "%s: %s; identifying messages by a SHA-256 of "
	    "their headers (TOP n 0) and size instead: a re-run still skips "
	    "what was copied, but only while the maildrop is unchanged",
	    c->label, ok_uidl ? "UIDL lists repeated or missing ids" : "server has no UIDL");
	st = digest_ids(s, err);
	for (uint64_t i = 0; st == MF_OK && i < s->count; i++)
		if (s->msgs[i].id == NULL) {
			LOG(s, MF_LOG_WARN,
			    "%s: no TOP either: every message "
			    "is downloaded and identified by its content",
			    c->label);
			break;
		}
	return st;
}

/* Hard cap on a decoded message when LIST gave no size: no mail system
 * stores messages near this (Exchange stops at 150 MB). */
#define POP3_BODY_CAP ((uint64_t)4 << 30)

/* Most a RETR of a message LIST called size octets may decode to: LIST
 * counts may be estimates (line ends, stuffing), so twice it plus 1 MiB;
 * past that it is a RETR that never ends (a hostile or broken server
 * streaming without the final dot, which the I/O timeout never stops
 * while bytes flow), and the spool would fill the disk. */
static uint64_t body_limit(uint64_t size)
{
	if (size == UINT64_MAX || size > POP3_BODY_CAP / 2)
		return POP3_BODY_CAP;
	return 2 * size + 1024 * 1024;
}

/* Decode the body of a RETR whose +OK was read into the spool; more than
 * body_limit(LIST's size) is MF_ERR_MESSAGE (the stream is then out of
 * step). */
static int spool_body(struct mf_source *s, uint64_t list_size, struct mf_error *err)
{
	uint64_t limit = body_limit(list_size);
	unsigned char buf[65536];
	struct pop3_ml ml;
	bool done = false;
	int st = MF_OK;
	pop3_ml_init(&ml);
	pop3_spool_reset(&s->spool);
	while (st == MF_OK && !done) {
		size_t n;
		st = pop3_rd_body(&s->c.rd, &ml, buf, sizeof(buf), &n, &done, err);
		if (st != MF_OK)
			s->c.broken = true;
		else
			st = pop3_spool_add(&s->spool, buf, n, err);
		if (st == MF_OK && s->spool.store.size > limit) {
			s->c.broken = true;
			st = mf_error_set(err, MF_ERR_MESSAGE, MF_RETRY_NEVER,
					  "RETR went on past %llu bytes without its end"
					  " (LIST said %lld): refused",
					  (unsigned long long)limit,
					  list_size == UINT64_MAX ? -1LL : (long long)list_size);
		}
	}
	if (st == MF_OK)
		pop3_spool_finish(&s->spool);
	return st;
}

static int deliver(struct mf_source *s, uint64_t i, mf_message_cb *cb, void *aux,
		   struct mf_error *err)
{
	struct pop3_msg *m = &s->msgs[i];
	char idbuf[80];
	const char *id = m->id;
	if (id == NULL) {
		char hex[65];
		mf_hex(s->spool.digest, 32, hex);
		snprintf(idbuf, sizeof(idbuf), "sha256:%s", hex);
		id = idbuf;
	}
	if (m->size != UINT64_MAX && m->size != s->spool.store.size)
		LOG(s, MF_LOG_DEBUG,
		    "%s: message %llu: LIST said %llu octets, "
		    "RETR gave %llu",
		    s->c.label, (unsigned long long)i + 1, (unsigned long long)m->size,
		    (unsigned long long)s->spool.store.size);
	struct mf_message msg = {
		.source_id = id,
		.size = s->spool.store.size,
		.flags = s->mark_seen ? MF_FLAG_SEEN : 0,
		.read = mf_spool_message_read,
		.read_ctx = &s->spool.store,
	};
	if (!pop3_header_date(s->spool.head.data, s->spool.head.len, &msg.internal_date,
			      &msg.tz_offset_min)) {
		msg.internal_date = (int64_t)time(NULL);
		msg.tz_offset_min = 0;
	}
	return cb(&msg, aux, err);
}

/* A connection error (timeout, cut) names only the server: say whose
 * message it was. */
static void name_message(const struct pop3_client *c, uint64_t i, struct mf_error *err)
{
	const char *rest = err->text;
	size_t ll = strlen(c->label);
	if (strncmp(rest, c->label, ll) == 0 && rest[ll] == ':')
		rest += ll + (rest[ll + 1] == ' ' ? 2 : 1);
	char t[sizeof(err->text)];
	snprintf(t, sizeof(t), "%.150s: INBOX message %llu: %.300s", c->label,
		 (unsigned long long)i + 1, rest);
	memcpy(err->text, t, sizeof(t));
}

static int pop3_fetch(struct mf_source *s, const char *folder, const struct mf_cursor *since,
		      mf_message_cb *cb, void *aux, char **sync_state_r, struct mf_error *err)
{
	struct pop3_client *c = &s->c;
	if (sync_state_r != NULL)
		*sync_state_r = NULL;
	if (strcmp(folder, "INBOX") != 0)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "%s: no folder %s (POP3 has only INBOX)", c->label, folder);
	if (c->broken)
		return mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW, "%s: session out of step",
				    c->label);
	free_msgs(s);
	if (s->count == 0)
		return MF_OK;
	int st = index_messages(s, err);
	if (st != MF_OK)
		return st;

	/* Ask the core before downloading: a re-run fetches only new mail. */
	uint64_t *todo = mf_xmalloc((size_t)s->count * sizeof(*todo));
	uint64_t ntodo = 0;
	for (uint64_t i = 0; i < s->count; i++)
		if (s->msgs[i].id == NULL || since == NULL || since->have == NULL ||
		    !since->have(s->msgs[i].id, since->have_aux))
			todo[ntodo++] = i;
	LOG(s, MF_LOG_INFO, "%s: INBOX: %llu of %llu messages to download", c->label,
	    (unsigned long long)ntodo, (unsigned long long)s->count);

	unsigned window = c->caps.pipelining ? POP3_WINDOW : 1;
	uint64_t sent = 0;
	for (uint64_t k = 0; k < ntodo && st == MF_OK; k++) {
		uint64_t i = todo[k];
		char cmd[48];
		if (s->host->canceled != NULL && s->host->canceled(s->host->host_ctx)) {
			st = mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "%s: canceled",
					  c->label);
			break;
		}
		while (st == MF_OK && sent < ntodo && sent < k + window) {
			/* RFC 1939 §7: TOP with more lines than the
			 * body has returns the whole message. */
			snprintf(cmd, sizeof(cmd), s->peek ? "TOP %llu 999999999" : "RETR %llu",
				 (unsigned long long)todo[sent++] + 1);
			st = pop3_client_send(c, cmd, err);
		}
		bool ok;
		const char *text;
		if (st == MF_OK && (st = pop3_client_status(c, &ok, &text, err)) != MF_OK)
			name_message(c, i, err);
		if (st != MF_OK)
			break;
		if (!ok) {
			/* This message only: the core records it and a
			 * later run tries again. */
			struct mf_error fe;
			char idb[80];
			snprintf(idb, sizeof(idb), "msg-%llu", (unsigned long long)i + 1);
			mf_error_set(&fe, MF_ERR_MESSAGE, MF_RETRY_LATER,
				     "%s: INBOX message %llu: %s refused: "
				     "%.200s",
				     c->label, (unsigned long long)i + 1, s->peek ? "TOP" : "RETR",
				     text);
			struct mf_message fm = {
				.source_id = s->msgs[i].id ? s->msgs[i].id : idb,
				.internal_date = MF_DATE_UNKNOWN,
				.failure = &fe,
			};
			st = cb(&fm, aux, err);
			continue;
		}
		st = spool_body(s, s->msgs[i].size, err);
		if (st == MF_ERR_MESSAGE) {
			/* An endless RETR: this message failed for good (a
			 * re-run would meet the same; --only-failed retries
			 * it), and the session cannot go on. */
			struct mf_error fe = *err;
			char idb[80];
			snprintf(idb, sizeof(idb), "msg-%llu", (unsigned long long)i + 1);
			mf_error_set(&fe, MF_ERR_MESSAGE, MF_RETRY_NEVER,
				     "%.200s: INBOX message %llu: %.300s", c->label,
				     (unsigned long long)i + 1, err->text);
			struct mf_message fm = {
				.source_id = s->msgs[i].id ? s->msgs[i].id : idb,
				.internal_date = MF_DATE_UNKNOWN,
				.failure = &fe,
			};
			st = cb(&fm, aux, err);
			if (st == MF_OK)
				st = mf_error_set(err, MF_ERR_ACCOUNT, MF_RETRY_NOW,
						  "%.400s; dropping the connection", fe.text);
			break;
		}
		if (st == MF_OK)
			st = deliver(s, i, cb, aux, err);
		else
			name_message(c, i, err);
	}
	free(todo);
	return st;
}

/* Preflight (ABI 1.5): the one folder's counts are STAT's; the messages
 * over larger_than come from LIST sizes (RFC 1939 §5), no body read. */
static int pop3_probe_folder(struct mf_source *s, const char *folder, uint64_t larger_than,
			     struct mf_folder_probe *p, struct mf_error *err)
{
	if (strcmp(folder, "INBOX") != 0)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "%s: a POP3 maildrop has no folder %s", s->c.label, folder);
	p->messages = s->count;
	p->bytes = s->total;
	if (larger_than == 0)
		return MF_OK;
	p->n_larger = 0;
	if (s->count == 0)
		return MF_OK;
	struct pop3_client *c = &s->c;
	bool ok;
	const char *text;
	int st = pop3_client_send(c, "LIST", err);
	if (st == MF_OK)
		st = pop3_client_status(c, &ok, &text, err);
	if (st != MF_OK)
		return st;
	if (!ok) {
		p->n_larger = MF_COUNT_UNKNOWN;
		return MF_OK;
	}
	for (;;) {
		if ((st = pop3_rd_line(&c->rd, &c->line, POP3_LINE_MAX, err)) != MF_OK) {
			c->broken = true;
			return st;
		}
		if (pop3_ml_line(&c->line))
			return MF_OK;
		uint64_t n, size;
		if (!pop3_parse_list_line((const char *)c->line.data, &n, &size) ||
		    size <= larger_than)
			continue;
		p->n_larger++;
		if (p->largest == MF_COUNT_UNKNOWN || size > p->largest)
			p->largest = size;
	}
}

static void pop3_close(struct mf_source **srcp)
{
	struct mf_source *s = srcp != NULL ? *srcp : NULL;
	if (s == NULL)
		return;
	pop3_client_close(&s->c);
	free_msgs(s);
	pop3_spool_free(&s->spool);
	free(s);
	*srcp = NULL;
}

static const struct mf_source_ops pop3_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = pop3_open,
	.list_folders = pop3_list_folders,
	.fetch = pop3_fetch,
	.close = pop3_close,
	.probe_folder = pop3_probe_folder,
};

static const char *const pop3_schemes[] = { "pop3", "pop3s", NULL };

MF_PLUGIN_EXPORT(pop3) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "pop3",
	.version = PACKAGE_VERSION,
	.description = "POP3 maildrops (pop3://, pop3s://), read-only: "
		       "nothing is ever deleted",
	.schemes = pop3_schemes,
	.caps = MF_CAP_STABLE_IDS,
	.init = pop3_init,
	.deinit = pop3_deinit,
	.source = &pop3_source_ops,
};
