/* SPDX-License-Identifier: MIT */
/* Copying one folder: the message pipeline every source shares.
 *
 * For each message the source offers: skip it if the state store has it;
 * pace it (messages/s, bytes/s); spool it, computing its SHA-256; record a
 * "pending" row; append it to the sink; record it "copied" with the
 * sink's id.  A crash between append and record leaves the pending row,
 * and the next run asks the sink (lookup) before appending again, so a
 * kill -9 at any moment neither loses nor duplicates a message.  A message
 * the sink refuses is recorded as failed with the server's words and the
 * folder goes on; a dropped sink connection is reopened with back-off. */
#include <config.h>

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "host.h"
#include "job_p.h"
#include "throttle.h"

struct folder_run {
	struct job_ctx *j;
	const struct mf_folder *folder;
	struct state_folder sf;
	uint32_t uidvalidity;   /* the folder's current one */
	bool validity_changed;  /* ids from an older uidvalidity are void */
	char *target;           /* sink path from the folder policy */
	enum mf_special_use special;
	char *actual;           /* path the sink wants for append() */
	uint64_t since_uid;     /* the cursor this fetch started from */
	uint64_t max_seen_uid;  /* highest uid finished in this fetch */
	uint64_t min_open_uid;  /* lowest uid left unfinished, 0 if none */
	bool pipelined;         /* the sink has append_start/append_flush */
	unsigned in_flight;     /* appends started, not yet done */
	int async_status;       /* first session failure reported by done() */
	struct mf_error async_err;
	bool sink_failed;       /* the last error came from the sink */
	struct mf_error *fatal; /* where to put an error that ends the fetch */
	int fatal_status;
};

static bool have_cb(const char *source_id, void *aux)
{
	struct folder_run *fr = aux;
	bool have = state_message_have(fr->j->db, fr->sf.id, fr->uidvalidity, source_id);
	/* Sources ask once per message before downloading it; a yes is a
	 * message an earlier run already handled. */
	if (have)
		fr->j->job->counters.skipped++;
	return have;
}

static int ensure_target(struct folder_run *fr, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	free(fr->actual);
	fr->actual = NULL;
	if (j->cfg->dry_run) {
		fr->actual = mf_xstrdup(fr->target);
		return MF_OK;
	}
	for (unsigned attempt = 1;; attempt++) {
		crash_enter(j->snk_plugin->desc.name, "creating a folder for", j->job->name,
			    fr->target);
		int st = j->snk_plugin->sink.ensure_folder(j->snk, fr->target, fr->special,
							   &fr->actual, err);
		crash_leave();
		if (st == MF_OK) {
			if (fr->actual == NULL)
				fr->actual = mf_xstrdup(fr->target);
			return MF_OK;
		}
		if (st == MF_ERR_MESSAGE)
			st = err->status = MF_ERR_FOLDER;
		if (st == MF_ERR_FOLDER || !retry_should_retry(&j->cfg->retry, err, attempt) ||
		    !job_backoff(j, err, attempt))
			return st;
		st = job_open_sink(j, err);
		if (st != MF_OK)
			return st;
	}
}

static void note(struct folder_run *fr, const char *source_id, enum progress_outcome o,
		 uint64_t bytes, const char *error)
{
	struct job *job = fr->j->job;
	if (o == OUTCOME_COPIED) {
		job->counters.copied++;
		job->counters.copied_bytes += bytes;
	} else if (o == OUTCOME_SKIPPED) {
		job->counters.skipped++;
	} else {
		job->counters.failed++;
		log_msg(MF_LOG_ERROR, "%s", error);
	}
	progress_message(fr->j->cfg->progress, job->name, fr->folder->path, source_id, o, bytes,
			 error, &job->counters);
}

/* The UID cursor saved at the end: everything at or below it is finished.
 * Outcomes may arrive out of order (pipelined appends complete after
 * later messages were skipped), so keep the lowest unfinished uid and the
 * highest finished one, and derive the cursor from both at the end. */
static void advance_uid(struct folder_run *fr, const struct mf_message *msg, bool finished)
{
	if (msg->uid == 0)
		return;
	if (!finished) {
		if (fr->min_open_uid == 0 || msg->uid < fr->min_open_uid)
			fr->min_open_uid = msg->uid;
	} else if (msg->uid > fr->max_seen_uid) {
		fr->max_seen_uid = msg->uid;
	}
}

static uint64_t cursor_after(const struct folder_run *fr)
{
	uint64_t c = fr->min_open_uid ? fr->min_open_uid - 1 : fr->max_seen_uid;
	return c > fr->since_uid ? c : fr->since_uid;
}

static int record_failure(struct folder_run *fr, const struct mf_message *msg,
			  const struct mf_error *why)
{
	struct mf_error err;
	bool permanent = why->retry == MF_RETRY_NEVER;
	char text[700];
	snprintf(text, sizeof(text), "%s: %s: message %s: %s", fr->j->job->name, fr->folder->path,
		 msg->source_id, why->text);
	int st = state_message_failed(fr->j->db, fr->sf.id, fr->uidvalidity, msg->source_id,
				      msg->size, permanent, text, &err);
	advance_uid(fr, msg, permanent);
	note(fr, msg->source_id, OUTCOME_FAILED, msg->size, text);
	if (st != MF_OK) {
		*fr->fatal = err;
		return st;
	}
	return MF_OK;
}

/* After a dropped sink connection the append may or may not have landed:
 * ask the sink when it can tell. */
static int lookup(struct folder_run *fr, const struct mf_message *m, bool *found_r,
		  struct mf_append_result *res, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	*found_r = false;
	if (j->snk_plugin->sink.lookup == NULL)
		return MF_OK;
	spool_rewind(&j->spool);
	crash_enter(j->snk_plugin->desc.name, "looking up a message of", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.lookup(j->snk, fr->actual, m, j->spool.digest, found_r, res,
					    err);
	crash_leave();
	return st;
}

static int append_with_retry(struct folder_run *fr, const struct mf_message *m,
			     struct mf_append_result *res, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	for (unsigned attempt = 1;; attempt++) {
		memset(res, 0, sizeof(*res));
		spool_rewind(&j->spool);
		crash_enter(j->snk_plugin->desc.name, "appending to", j->job->name, fr->actual);
		int st = j->snk_plugin->sink.append(j->snk, fr->actual, m, res, err);
		crash_leave();
		if (st == MF_OK || st == MF_ERR_MESSAGE)
			return st;
		if (!retry_should_retry(&j->cfg->retry, err, attempt) || !job_backoff(j, err, attempt))
			return st;
		st = job_open_sink(j, err);
		if (st == MF_OK)
			st = ensure_target(fr, err);
		bool found = false;
		if (st == MF_OK)
			st = lookup(fr, m, &found, res, err);
		if (st != MF_OK)
			return st;
		if (found)
			return MF_OK;
	}
}

/* One pipelined append in flight: what must be recorded when it ends. */
struct inflight {
	struct folder_run *fr;
	char *source_id;
	uint64_t uid, size;
	unsigned char digest[32];
};

static void on_append_done(void *aux, int status, const struct mf_append_result *res,
			   const struct mf_error *err)
{
	struct inflight *in = aux;
	struct folder_run *fr = in->fr;
	struct mf_message m = { .source_id = in->source_id, .uid = in->uid, .size = in->size };
	struct mf_error e;
	fr->in_flight--;
	if (status == MF_OK) {
		int st = state_message_copied(fr->j->db, fr->sf.id, fr->uidvalidity, in->source_id,
					      in->size, in->digest, fr->actual, res->target_id, &e);
		advance_uid(fr, &m, st == MF_OK);
		if (st == MF_OK)
			note(fr, in->source_id, OUTCOME_COPIED, in->size, NULL);
		else if (fr->async_status == MF_OK) {
			fr->async_status = st;
			fr->async_err = e;
		}
	} else if (status == MF_ERR_MESSAGE) {
		int st = record_failure(fr, &m, err);
		if (st != MF_OK && fr->async_status == MF_OK) {
			fr->async_status = st;
			fr->async_err = *fr->fatal;
		}
	} else {
		/* Fate unknown: the pending row stays, lookup() decides later. */
		advance_uid(fr, &m, false);
		if (fr->async_status == MF_OK) {
			fr->async_status = status;
			fr->async_err = *err;
		}
	}
	free(in->source_id);
	free(in);
}

/* Takes the first session failure reported through done(), if any. */
static int async_failure(struct folder_run *fr, struct mf_error *err)
{
	int st = fr->async_status;
	if (st != MF_OK) {
		*err = fr->async_err;
		fr->async_status = MF_OK;
		fr->sink_failed = true;
	}
	return st;
}

static int flush_appends(struct folder_run *fr, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	if (!fr->pipelined || j->snk == NULL)
		return MF_OK;
	crash_enter(j->snk_plugin->desc.name, "storing into", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.append_flush(j->snk, err);
	crash_leave();
	if (st != MF_OK) {
		fr->sink_failed = true;
		fr->async_status = MF_OK;
		return st;
	}
	return async_failure(fr, err);
}

static int start_append(struct folder_run *fr, const struct mf_message *msg,
			const struct mf_message *m, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	struct inflight *in = mf_xcalloc(1, sizeof(*in));
	in->fr = fr;
	in->source_id = mf_xstrdup(msg->source_id);
	in->uid = msg->uid;
	in->size = m->size;
	memcpy(in->digest, j->spool.digest, 32);
	fr->in_flight++;
	spool_rewind(&j->spool);
	crash_enter(j->snk_plugin->desc.name, "storing into", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.append_start(j->snk, fr->actual, m, on_append_done, in, err);
	crash_leave();
	if (st != MF_OK) {
		fr->sink_failed = true;
		fr->async_status = MF_OK;
		return st;
	}
	return async_failure(fr, err);
}

static int on_message(const struct mf_message *msg, void *aux, struct mf_error *cb_err)
{
	struct folder_run *fr = aux;
	struct job_ctx *j = fr->j;
	struct mf_error err = { 0 };
	char what[600];

	if (mf_cancel_requested)
		return mf_error_set(cb_err, MF_ERR_CANCELED, MF_RETRY_NEVER, "canceled");
	if (msg->failure != NULL)
		return record_failure(fr, msg, msg->failure);
	enum state_msg_status prior =
		state_message_status(j->db, fr->sf.id, fr->uidvalidity, msg->source_id);
	if (prior == STATE_MSG_COPIED || prior == STATE_MSG_FAILED) {
		advance_uid(fr, msg, true);
		note(fr, msg->source_id, OUTCOME_SKIPPED, 0, NULL);
		return MF_OK;
	}
	throttle_message(j->cfg->throttle);
	snprintf(what, sizeof(what), "%s: %s: message %s", j->job->name, fr->folder->path,
		 msg->source_id);
	crash_enter(j->src_plugin->desc.name, "reading a message of", j->job->name,
		    fr->folder->path);
	int st = spool_fill(&j->spool, msg, j->cfg->throttle, what, &err);
	crash_leave();
	/* A message the source cannot deliver in full is recorded (retried
	 * next run unless permanent); if the connection really died, the
	 * source's next read fails at the account level anyway. */
	if (st == MF_ERR_MESSAGE)
		return record_failure(fr, msg, &err);
	if (st != MF_OK) {
		*cb_err = err;
		return st;
	}
	struct mf_message m;
	spool_message(&j->spool, msg, &m);
	struct mf_append_result res = { { 0 } };

	/* The source renumbered its ids (UIDVALIDITY changed): a message we
	 * copied under the old numbering is recognised by its content. */
	if (fr->validity_changed &&
	    state_digest_match(j->db, fr->sf.id, fr->uidvalidity, j->spool.digest, res.target_id)) {
		st = state_message_copied(j->db, fr->sf.id, fr->uidvalidity, msg->source_id, m.size,
					  j->spool.digest, fr->actual, res.target_id, cb_err);
		advance_uid(fr, msg, st == MF_OK);
		note(fr, msg->source_id, OUTCOME_SKIPPED, 0, NULL);
		return st;
	}
	if (j->cfg->dry_run) {
		note(fr, msg->source_id, OUTCOME_COPIED, m.size, NULL);
		return MF_OK;
	}
	bool found = false;
	if (prior == STATE_MSG_PENDING) {
		/* Settle what is in flight first: lookup answers for the
		 * store as it is, and outcomes stay in order. */
		st = flush_appends(fr, &err);
		if (st == MF_OK)
			st = lookup(fr, &m, &found, &res, &err);
		if (st != MF_OK) {
			*cb_err = err;
			return st;
		}
		if (!found && j->snk_plugin->sink.lookup == NULL)
			log_msg(MF_LOG_WARN, "%s: an earlier run was interrupted while appending it "
					     "and the sink cannot check; appending again", what);
	}
	if (!found) {
		st = state_message_pending(j->db, fr->sf.id, fr->uidvalidity, msg->source_id, m.size,
					   j->spool.digest, cb_err);
		if (st != MF_OK)
			return st;
		if (fr->pipelined) {
			/* Recorded by on_append_done(); a failed session ends this
			 * fetch and the folder loop reconnects and fetches again. */
			st = start_append(fr, msg, &m, &err);
			if (st != MF_OK)
				*cb_err = err;
			return st;
		}
		st = append_with_retry(fr, &m, &res, &err);
		if (st == MF_ERR_MESSAGE)
			return record_failure(fr, msg, &err);
		if (st != MF_OK) {
			/* Leave the pending row: the next run will ask the sink. */
			advance_uid(fr, msg, false);
			*cb_err = err;
			return st;
		}
	}
	st = state_message_copied(j->db, fr->sf.id, fr->uidvalidity, msg->source_id, m.size,
				  j->spool.digest, fr->actual, res.target_id, cb_err);
	if (st != MF_OK)
		return st;
	advance_uid(fr, msg, true);
	note(fr, msg->source_id, found ? OUTCOME_SKIPPED : OUTCOME_COPIED, m.size, NULL);
	return MF_OK;
}

/* Back in the core while the source's fetch() is still on the stack: a
 * crash here is ours, not the plugin's (crash.c). */
static int on_message_core(const struct mf_message *msg, void *aux, struct mf_error *cb_err)
{
	struct folder_run *fr = aux;
	crash_enter(NULL, "handling a message of", fr->j->job->name, fr->folder->path);
	int st = on_message(msg, aux, cb_err);
	crash_leave();
	return st;
}

static int fetch_once(struct folder_run *fr, char **sync_state_r, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	struct mf_cursor since = {
		.uidvalidity = fr->sf.uidvalidity,
		.last_uid = fr->validity_changed ? 0 : fr->sf.last_uid,
		.sync_state = fr->validity_changed ? NULL : fr->sf.sync_state,
		.have = have_cb,
		.have_aux = fr,
	};
	fr->since_uid = since.last_uid;
	fr->max_seen_uid = fr->min_open_uid = 0;
	fr->sink_failed = false;
	crash_enter(j->src_plugin->desc.name, "fetching", j->job->name, fr->folder->path);
	int st = j->src_plugin->source.fetch(j->src, fr->folder->path, &since, on_message_core, fr,
					     sync_state_r, err);
	crash_leave();
	/* Whatever ended the fetch, learn the fate of every append. */
	struct mf_error ferr = { 0 };
	int fst = flush_appends(fr, &ferr);
	if (st == MF_OK && fst != MF_OK) {
		*err = ferr;
		st = fst;
	}
	return st;
}

int job_copy_folder(struct job_ctx *j, const struct mf_folder *folder, struct mf_error *err)
{
	struct folder_run fr = { .j = j, .folder = folder, .fatal = err };
	int st = state_folder_begin(j->db, j->mailbox_id, folder->path, &fr.sf, err);
	if (st != MF_OK)
		return st;
	fr.uidvalidity = folder->uidvalidity;
	fr.validity_changed = fr.sf.uidvalidity != 0 && fr.sf.uidvalidity != folder->uidvalidity;
	if (fr.validity_changed)
		log_msg(MF_LOG_WARN, "%s: %s: UIDVALIDITY changed from %u to %u; matching "
				     "messages by content so nothing is copied twice",
			j->job->name, folder->path, fr.sf.uidvalidity, folder->uidvalidity);
	fr.target = folder_map_target(j->fmap, folder, &fr.special);
	fr.since_uid = fr.validity_changed ? 0 : fr.sf.last_uid;
	fr.pipelined = !j->cfg->dry_run && j->snk_plugin->sink.append_start != NULL &&
		       j->snk_plugin->sink.append_flush != NULL;
	st = ensure_target(&fr, err);
	if (st == MF_OK)
		progress_folder(j->cfg->progress, j->job->name, folder->path, fr.actual,
				folder->messages);
	char *sync_state = NULL;
	for (unsigned attempt = 1; st == MF_OK; attempt++) {
		free(sync_state);
		sync_state = NULL;
		st = fetch_once(&fr, &sync_state, err);
		if (st == MF_OK || st == MF_ERR_FOLDER || st == MF_ERR_CANCELED)
			break;
		/* A broken connection: reopen and fetch again; what was
		 * copied is skipped through the state store, and appends
		 * whose fate is unknown are settled by lookup().  A fetch
		 * aborted by a failed sink leaves the source mid-response, so
		 * the source is reopened in either case. */
		if (!retry_should_retry(&j->cfg->retry, err, attempt) || !job_backoff(j, err, attempt))
			break;
		if (fr.sink_failed) {
			st = job_open_sink(j, err);
			if (st == MF_OK)
				st = ensure_target(&fr, err);
			if (st != MF_OK)
				break;
		}
		st = job_open_source(j, err);
	}
	if (st == MF_ERR_MESSAGE)
		st = MF_ERR_FOLDER;
	struct mf_error e2;
	/* Adopt a new UIDVALIDITY only once the folder is complete: until
	 * then the old rows are still needed to match by content. */
	uint32_t saved_validity = st == MF_OK || fr.sf.uidvalidity == 0 ? fr.uidvalidity
									 : fr.sf.uidvalidity;
	uint64_t saved_uid = saved_validity == fr.uidvalidity ? cursor_after(&fr) : fr.sf.last_uid;
	int st2 = state_folder_save(j->db, fr.sf.id, saved_validity, saved_uid,
				    st == MF_OK ? sync_state : NULL, fr.actual,
				    st == MF_OK ? "done" : "failed", st == MF_OK ? NULL : err->text,
				    &e2);
	if (st == MF_OK && st2 != MF_OK) {
		*err = e2;
		st = st2;
	}
	free(sync_state);
	free(fr.target);
	free(fr.actual);
	state_folder_clear(&fr.sf);
	return st;
}
