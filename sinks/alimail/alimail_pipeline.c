/* SPDX-License-Identifier: MIT */
/* Pipelined APPEND (plugin ABI 1.1 append_start/append_flush).  Waiting
 * for each APPEND's tagged answer costs a round trip per message: over a
 * 50 ms link that caps a mailbox at ~16 messages/s whatever the bandwidth.
 * Here each APPEND is sent (its literal streamed at once with LITERAL+,
 * RFC 7888; otherwise after the server's "+") and its answer is read
 * later, oldest first, while up to PIPE_MAX messages or PIPE_MAX_BYTES are
 * in flight.  IMAP servers answer commands of one connection in order, so
 * outcomes are reported in the order the core started them, as the ABI
 * requires.  Answers that have already arrived are read after each
 * send, without waiting, so the core records a message as soon as the
 * server confirmed it: with a slow source the window would otherwise
 * fill only every PIPE_MAX messages, the state (and a dashboard over it)
 * lagging that far behind, and a kill -9 leaving as many to settle.
 * A session failure reports every outstanding append as of
 * unknown fate; the core reconnects and settles them with lookup(). */
#include <config.h>
#include "alimail_p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_MAX 64
#define PIPE_MAX_BYTES (32u << 20)

static void pop_oldest(struct mf_sink *snk)
{
	free(snk->pipe[0].what);
	snk->pipe_bytes -= snk->pipe[0].size;
	memmove(&snk->pipe[0], &snk->pipe[1], (snk->npipe - 1) * sizeof(*snk->pipe));
	snk->npipe--;
}

/* Every outstanding append ends with err (fate unknown). */
static void fail_all(struct mf_sink *snk, int status, const struct mf_error *err)
{
	while (snk->npipe > 0) {
		struct alimail_inflight in = snk->pipe[0];
		in.what = NULL;
		pop_oldest(snk);
		in.done(in.aux, status, NULL, err);
	}
}

/* Read the oldest answer and report it. */
static int finish_oldest(struct mf_sink *snk, struct mf_error *err)
{
	struct alimail_inflight *in = &snk->pipe[0];
	struct imapc_result res = { 0 };
	int st = imapc_wait(snk->c, in->tag, &res, err);
	if (st != MF_OK) {
		/* The link's error (timeout, BYE, protocol error) names only
		 * the server: say which answer was awaited ("INBOX: message
		 * 2 (76 bytes): APPEND"). */
		size_t n = strlen(err->text);
		if (in->what != NULL && strstr(err->text, in->what) == NULL)
			snprintf(err->text + n, sizeof(err->text) - n,
				 " (awaiting the answer to %s)", in->what);
		fail_all(snk, st, err);
		return st;
	}
	struct mf_append_result out = { { 0 } };
	struct mf_error e = { 0 };
	bool trycreate;
	int status = alimail_append_outcome(snk, &res, in->what, &out, &trycreate, &e);
	if (trycreate && snk->create_refused != NULL) {
		/* Our pipelined CREATE was refused: the folder fails with the
		 * server's words, as a waited-for CREATE would have. */
		char *text = mf_xasprintf("%s; %s", e.text, snk->create_refused);
		mf_error_set(&e, MF_ERR_FOLDER, MF_RETRY_NEVER, "%s", text);
		free(text);
		status = MF_ERR_FOLDER;
		free(snk->create_refused);
		snk->create_refused = NULL;
		snk->listed = false;
	} else if (trycreate) {
		/* The folder vanished: a session-level problem; the core
		 * reconnects, ensures the folder again and asks lookup(). */
		e.status = MF_ERR_ACCOUNT;
		e.retry = MF_RETRY_NOW;
		status = MF_ERR_ACCOUNT;
		snk->listed = false;
	}
	mf_append_done_cb *done = in->done;
	void *aux = in->aux;
	pop_oldest(snk);
	done(aux, status, status == MF_OK ? &out : NULL, status == MF_OK ? NULL : &e);
	if (status != MF_OK && status != MF_ERR_MESSAGE) {
		fail_all(snk, status, &e);
		*err = e;
		return status;
	}
	return MF_OK;
}

/* Report the answers the server has sent already, without waiting.  The
 * oldest first, as long as it has said something: an untagged line alone
 * costs at most a wait for the oldest answer, which is on its way. */
static int finish_arrived(struct mf_sink *snk, struct mf_error *err)
{
	while (snk->npipe > 0 && imapc_input_ready(snk->c)) {
		int st = finish_oldest(snk, err);
		if (st != MF_OK)
			return st;
	}
	return MF_OK;
}

int alimail_append_flush(struct mf_sink *snk, struct mf_error *err)
{
	while (snk->npipe > 0) {
		int st = finish_oldest(snk, err);
		if (st != MF_OK)
			return st;
	}
	return MF_OK;
}

int alimail_append_start(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			 mf_append_done_cb *done, void *done_aux, struct mf_error *err)
{
	/* What came in while the source was busy (a slow source's gaps). */
	int st = finish_arrived(snk, err);
	/* No SELECT between folders (flags_known): appends to the next
	 * folder follow those to the last one without a drain. */
	while (st == MF_OK && snk->npipe > 0 &&
	       (snk->npipe >= PIPE_MAX || snk->pipe_bytes + msg->size > PIPE_MAX_BYTES))
		st = finish_oldest(snk, err);
	if (st == MF_OK)
		st = alimail_ensure_conn(snk, err);
	bool go = false;
	unsigned tag = 0;
	struct imapc_result res = { 0 };
	if (st == MF_OK)
		st = alimail_append_send(snk, folder, msg, &go, &tag, &res, err);
	char *what = mf_xasprintf("%s: message %s (%llu bytes): APPEND", folder, msg->source_id,
				  (unsigned long long)msg->size);
	if (st != MF_OK) {
		/* Outcomes stay in order: the older ones first. */
		struct mf_error e = *err;
		if (e.status == MF_ERR_MESSAGE)
			e.status = MF_ERR_ACCOUNT; /* the session is gone mid-literal */
		fail_all(snk, e.status, &e);
		done(done_aux, e.status, NULL, &e);
		free(what);
		*err = e;
		return e.status;
	}
	if (!go) {
		/* Refused before the literal (no "+"): answered already. */
		st = alimail_append_flush(snk, err);
		struct mf_append_result out = { { 0 } };
		struct mf_error e = { 0 };
		bool trycreate;
		int status =
			st != MF_OK ? st
				    : alimail_append_outcome(snk, &res, what, &out, &trycreate, &e);
		if (st != MF_OK)
			e = *err;
		free(what);
		done(done_aux, status, status == MF_OK ? &out : NULL, status == MF_OK ? NULL : &e);
		if (status != MF_OK && status != MF_ERR_MESSAGE) {
			*err = e;
			return status;
		}
		return MF_OK;
	}
	snk->pipe = mf_xrealloc(snk->pipe, (snk->npipe + 1) * sizeof(*snk->pipe));
	snk->pipe[snk->npipe++] = (struct alimail_inflight){
		.tag = tag, .done = done, .aux = done_aux, .what = what, .size = msg->size
	};
	snk->pipe_bytes += msg->size;
	return finish_arrived(snk, err);
}

/* At close: the core flushes before closing, so nothing should be left;
 * whatever is, is dropped without a callback (its owner is gone). */
void alimail_pipeline_abandon(struct mf_sink *snk)
{
	for (size_t i = 0; i < snk->npipe; i++)
		free(snk->pipe[i].what);
	free(snk->pipe);
	snk->pipe = NULL;
	snk->npipe = 0;
	snk->pipe_bytes = 0;
}
