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
	uint64_t last_uid;      /* highest uid copied with no gap below */
	bool gap;               /* a message below was not finished */
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

static void advance_uid(struct folder_run *fr, const struct mf_message *msg, bool finished)
{
	if (!finished)
		fr->gap = true;
	else if (!fr->gap && msg->uid > fr->last_uid)
		fr->last_uid = msg->uid;
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
	fr->gap = false;
	fr->last_uid = since.last_uid;
	crash_enter(j->src_plugin->desc.name, "fetching", j->job->name, fr->folder->path);
	int st = j->src_plugin->source.fetch(j->src, fr->folder->path, &since, on_message_core, fr,
					     sync_state_r, err);
	crash_leave();
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
		/* A broken source connection: reopen and fetch again; what
		 * was copied is skipped through the state store. */
		if (!retry_should_retry(&j->cfg->retry, err, attempt) || !job_backoff(j, err, attempt))
			break;
		st = job_open_source(j, err);
	}
	if (st == MF_ERR_MESSAGE)
		st = MF_ERR_FOLDER;
	struct mf_error e2;
	/* Adopt a new UIDVALIDITY only once the folder is complete: until
	 * then the old rows are still needed to match by content. */
	uint32_t saved_validity = st == MF_OK || fr.sf.uidvalidity == 0 ? fr.uidvalidity
									 : fr.sf.uidvalidity;
	uint64_t saved_uid = saved_validity == fr.uidvalidity ? fr.last_uid : fr.sf.last_uid;
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
