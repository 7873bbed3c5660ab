/* SPDX-License-Identifier: MIT */
/* Private layout of struct imapc, shared by lib/imapc/client.c (transport,
 * command queue, authentication) and lib/imapc/mailbox.c (SELECT, LIST,
 * STATUS, CREATE). */
#ifndef MAILFERRY_IMAPC_P_H
#define MAILFERRY_IMAPC_P_H

#include <mailferry/imapc.h>

struct imapc_inflight {
	unsigned tag;
	imapc_untagged_fn *fn;
	imapc_done_fn *done;
	void *ctx;
	bool completed;
	struct imapc_result res;
	char verb[32]; /* "LIST", for errors while awaiting it; "" if unset */
};

struct imapc {
	char *label; /* "alice@corp (imaps 127.0.0.1:993)" */
	struct mf_conn *conn;
	struct imapc_io io;
	struct imapc_parser parser;
	void (*log)(void *log_ctx, enum mf_log_level lvl, const char *msg);
	void *log_ctx;

	char **caps; /* upper-cased */
	size_t ncaps;

	unsigned next_tag;
	struct imapc_inflight *q; /* oldest first */
	size_t qlen, qcap;

	bool broken;
	bool bye;
	char bye_text[200];
	bool got_cont; /* a '+' arrived and nobody took it yet */
	char *cont_text;

	bool selected;
	struct imapc_mailbox sel;

	/* Debug counters (logged at close): commands sent, and waits for a
	 * reply while nothing else was in flight: each such wait leaves the
	 * link idle for a whole round trip (the WAN's real cost). */
	unsigned long commands;
	unsigned long idle_waits;

	/* Where imapc_close adds this connection's byte counts and whether
	 * it was compressed (the account's totals across reconnects), or
	 * NULL. */
	struct mf_conn_stats *io_totals;
	bool *io_compressed;
};

/* Count an idle round trip if the reply to tag is not in yet and no other
 * command is outstanding (call once, before blocking for that reply). */
void imapc_note_wait(struct imapc *c, unsigned tag);

/* compress.c: add the connection's byte counts to io_totals (once). */
void imapc_account_io_add(struct imapc *c);

/* Record session-wide response codes (CAPABILITY, ALERT, SELECT data). */
void imapc_note_code(struct imapc *c, const struct imapc_resp *r);
/* Mark broken and prefix err's text with the label. */
int imapc_fail(struct imapc *c, int st, struct mf_error *err);
void imapc_logf(struct imapc *c, enum mf_log_level lvl, const char *fmt, ...) MF_PRINTF(3, 4);

#endif
