/* SPDX-License-Identifier: MIT */
/* What "mailferry preflight" asks an IMAP server (plugin ABI 1.5 probe
 * slots of the imap source and the alimail sink): the capabilities that
 * change a migration, the storage quota (GETQUOTAROOT, RFC 9208), the
 * append size limit (APPENDLIMIT, RFC 7889), and one mailbox's messages,
 * bytes and messages over a size without reading a body (STATUS SIZE,
 * RFC 8438; UID SEARCH LARGER; else FETCH RFC822.SIZE).  Read-only: no
 * command here changes the account. */
#include <config.h>
#include "imapc_p.h"

#include <stdlib.h>
#include <string.h>

/* The capabilities that decide how a run goes (plugins/imap/README.md):
 * UIDPLUS (target ids, lookup after a crash), LITERAL+ (pipelined
 * APPEND without a round trip each), COMPRESS, SPECIAL-USE (Sent, Trash
 * mapping), QUOTA, APPENDLIMIT, STATUS=SIZE (cheap source sizes). */
static const char *const caps_that_matter[] = {
	"UIDPLUS", "LITERAL+",    "LITERAL-",    "COMPRESS=", "SPECIAL-USE",
	"QUOTA",   "APPENDLIMIT", "STATUS=SIZE", "MOVE",      NULL,
};

void imapc_probe_caps(const struct imapc *c, struct mf_probe *p)
{
	size_t used = strlen(p->caps);
	for (size_t i = 0; i < c->ncaps; i++) {
		const char *cap = c->caps[i];
		bool want = false;
		for (const char *const *w = caps_that_matter; *w != NULL && !want; w++) {
			size_t n = strlen(*w);
			/* "APPENDLIMIT" matches APPENDLIMIT and APPENDLIMIT=n;
			 * "COMPRESS=" every algorithm. */
			want = strncmp(cap, *w, n) == 0 &&
			       ((*w)[n - 1] == '=' || cap[n] == '\0' || cap[n] == '=');
		}
		if (!want || used + strlen(cap) + 2 > sizeof(p->caps))
			continue;
		used += (size_t)snprintf(p->caps + used, sizeof(p->caps) - used, "%s%s",
					 used ? " " : "", cap);
		uint64_t v;
		if (strncmp(cap, "APPENDLIMIT=", 12) == 0 &&
		    mf_parse_u64(cap + 12, strlen(cap + 12), &v))
			p->max_message_size = v;
	}
}

struct quota_ctx {
	uint64_t used, limit;
};

/* "* QUOTA root (STORAGE used limit [MESSAGE n m ...])": RFC 9208 §5.1;
 * STORAGE counts units of 1024 octets. */
static int on_quota(struct imapc *c, const struct imapc_resp *r, void *ctx, struct mf_error *err)
{
	(void)c;
	(void)err;
	struct quota_ctx *q = ctx;
	if (r->kind != IMAPC_UNTAGGED || strcmp(r->name, "QUOTA") != 0 || r->args.n_items < 2 ||
	    r->args.items[1].type != IMAPC_LIST || q->limit != MF_COUNT_UNKNOWN)
		return MF_OK;
	const struct imapc_value *l = &r->args.items[1];
	for (size_t k = 0; k + 2 < l->n_items; k += 3) {
		uint64_t used, limit;
		if (imapc_value_is_atom(&l->items[k], "STORAGE") &&
		    imapc_value_u64(&l->items[k + 1], &used) &&
		    imapc_value_u64(&l->items[k + 2], &limit)) {
			q->used = used * 1024;
			q->limit = limit * 1024;
		}
	}
	return MF_OK;
}

int imapc_probe_quota(struct imapc *c, const char *mailbox_mutf7, struct mf_probe *p,
		      struct mf_error *err)
{
	if (!imapc_has_cap(c, "QUOTA"))
		return MF_OK;
	struct quota_ctx q = { MF_COUNT_UNKNOWN, MF_COUNT_UNKNOWN };
	struct imapc_cmd *cmd = imapc_cmd_new("GETQUOTAROOT");
	imapc_cmd_astring(cmd, mailbox_mutf7);
	struct imapc_result res;
	int st = imapc_run(c, cmd, on_quota, &q, &res, err);
	/* A NO (no quota root for this user) leaves the quota unknown. */
	if (st == MF_OK && res.status == IMAPC_OK) {
		p->quota_used = q.used;
		p->quota_limit = q.limit;
	}
	return st;
}

struct size_ctx {
	struct mf_folder_probe *p;
	uint64_t larger_than;
	uint64_t *uids; /* UID SEARCH LARGER results */
	size_t n_uids;
};

static int on_size_data(struct imapc *c, const struct imapc_resp *r, void *ctx,
			struct mf_error *err)
{
	(void)c;
	(void)err;
	struct size_ctx *s = ctx;
	if (r->kind != IMAPC_UNTAGGED)
		return MF_OK;
	if (strcmp(r->name, "STATUS") == 0 && r->args.n_items >= 2 &&
	    r->args.items[1].type == IMAPC_LIST) {
		const struct imapc_value *l = &r->args.items[1];
		for (size_t k = 0; k + 1 < l->n_items; k += 2) {
			uint64_t v;
			if (!imapc_value_u64(&l->items[k + 1], &v))
				continue;
			if (imapc_value_is_atom(&l->items[k], "MESSAGES"))
				s->p->messages = v;
			else if (imapc_value_is_atom(&l->items[k], "SIZE"))
				s->p->bytes = v;
		}
	} else if (strcmp(r->name, "SEARCH") == 0) {
		for (size_t k = 0; k < r->args.n_items; k++) {
			uint64_t v;
			if (!imapc_value_u64(&r->args.items[k], &v))
				continue;
			s->uids = mf_xrealloc(s->uids, (s->n_uids + 1) * sizeof(*s->uids));
			s->uids[s->n_uids++] = v;
		}
	} else if (strcmp(r->name, "FETCH") == 0 && r->args.n_items >= 1) {
		uint64_t size;
		if (!imapc_value_u64(imapc_fetch_item(&r->args.items[0], "RFC822.SIZE"), &size))
			return MF_OK;
		if (s->larger_than != 0 && size > s->larger_than) {
			s->p->n_larger++;
			if (s->p->largest == MF_COUNT_UNKNOWN || size > s->p->largest)
				s->p->largest = size;
		}
		s->p->bytes += size;
	}
	return MF_OK;
}

static int folder_error(struct imapc *c, const struct imapc_result *res, const char *verb,
			const char *mailbox, struct mf_error *err)
{
	char what[300];
	snprintf(what, sizeof(what), "%s %s", verb, mailbox);
	return imapc_result_error(c, res, MF_ERR_FOLDER, MF_RETRY_NEVER, what, err);
}

/* The largest of the messages UID SEARCH LARGER found; bounded so that a
 * folder of huge messages does not make one enormous command line. */
#define LARGEST_FETCH_MAX 500

static int fetch_largest(struct imapc *c, struct size_ctx *s, const char *mailbox,
			 struct mf_error *err)
{
	struct imapc_cmd *cmd = imapc_cmd_new("UID FETCH");
	struct mf_buf set = { 0 };
	for (size_t i = 0; i < s->n_uids; i++)
		mf_buf_printf(&set, "%s%llu", i ? "," : "", (unsigned long long)s->uids[i]);
	imapc_cmd_raw(cmd, (const char *)set.data);
	mf_buf_free(&set);
	imapc_cmd_raw(cmd, "(RFC822.SIZE)");
	/* Count them again from the FETCH answers: reset, keep bytes. */
	uint64_t bytes = s->p->bytes;
	s->p->n_larger = 0;
	s->p->largest = MF_COUNT_UNKNOWN;
	struct imapc_result res;
	int st = imapc_run(c, cmd, on_size_data, s, &res, err);
	s->p->bytes = bytes;
	if (st == MF_OK && res.status != IMAPC_OK)
		return folder_error(c, &res, "UID FETCH RFC822.SIZE", mailbox, err);
	return st;
}

int imapc_probe_mailbox(struct imapc *c, const char *mailbox_mutf7, uint64_t larger_than,
			struct mf_folder_probe *p, struct mf_error *err)
{
	struct size_ctx s = { .p = p, .larger_than = larger_than };
	struct imapc_result res;
	int st;
	bool status_size = imapc_has_cap(c, "STATUS=SIZE");
	if (status_size) {
		struct imapc_cmd *cmd = imapc_cmd_new("STATUS");
		imapc_cmd_astring(cmd, mailbox_mutf7);
		imapc_cmd_raw(cmd, "(MESSAGES SIZE)");
		if ((st = imapc_run(c, cmd, on_size_data, &s, &res, err)) != MF_OK)
			return st;
		if (res.status != IMAPC_OK)
			return folder_error(c, &res, "STATUS", mailbox_mutf7, err);
		if (larger_than != 0 && p->messages == 0)
			p->n_larger = 0;
		if (larger_than == 0 || p->messages == 0)
			return MF_OK;
	}
	struct imapc_mailbox mb;
	if ((st = imapc_select(c, mailbox_mutf7, true, &mb, err)) != MF_OK)
		return st;
	if (!status_size)
		p->messages = mb.exists;
	if (mb.exists == 0) {
		if (larger_than != 0)
			p->n_larger = 0;
		if (!status_size)
			p->bytes = 0;
		return MF_OK;
	}
	struct imapc_cmd *cmd;
	if (status_size) {
		/* RFC 3501 §6.4.4: LARGER is RFC822.SIZE strictly above n. */
		cmd = imapc_cmd_new("UID SEARCH");
		imapc_cmd_rawf(cmd, "LARGER %llu", (unsigned long long)larger_than);
	} else {
		/* No sizes by STATUS: one line per message, no bodies. */
		cmd = imapc_cmd_new("FETCH");
		imapc_cmd_raw(cmd, "1:* (RFC822.SIZE)");
		p->bytes = 0;
		if (larger_than != 0)
			p->n_larger = 0;
	}
	if ((st = imapc_run(c, cmd, on_size_data, &s, &res, err)) == MF_OK &&
	    res.status != IMAPC_OK)
		st = folder_error(c, &res, status_size ? "UID SEARCH LARGER" : "FETCH RFC822.SIZE",
				  mailbox_mutf7, err);
	if (st == MF_OK && status_size) {
		p->n_larger = s.n_uids;
		if (s.n_uids > 0 && s.n_uids <= LARGEST_FETCH_MAX)
			st = fetch_largest(c, &s, mailbox_mutf7, err);
	}
	free(s.uids);
	return st;
}
