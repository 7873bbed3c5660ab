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
 * folder goes on; a dropped sink connection is reopened with back-off.
 * --only-failed runs the same pipeline over just the messages an earlier
 * run recorded failed or pending (job_retry_folder). */
#include <config.h>

#include <inttypes.h>
#include <mailferry/util.h>
#include <pthread.h>
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
	uint32_t uidvalidity;  /* the folder's current one */
	bool validity_changed; /* ids from an older uidvalidity are void */
	char *target;          /* sink path from the folder policy */
	enum mf_special_use special;
	char *actual;          /* path the sink wants for append() */
	uint64_t since_uid;    /* the cursor this fetch started from */
	uint64_t max_seen_uid; /* highest uid finished in this fetch */
	uint64_t min_open_uid; /* lowest uid left unfinished, 0 if none */
	bool pipelined;        /* the sink has append_start/append_flush */
	int async_status;      /* first session failure reported by done() */
	struct mf_error async_err;
	bool sink_failed; /* the last error came from the sink */
	/* With a pipelined sink, a writer thread stores while the source
	 * keeps reading (each link busy at once, not in turns): */
	struct state_db *wdb;   /* the storing side's connection */
	pthread_mutex_t *lock;  /* counters, cursor, outcomes: the job's
				 * lock, as the job's other streams count too */
	struct writer *writer;  /* NULL: store on the source's thread */
	struct mf_error *fatal; /* where to put an error that ends the fetch */
	int fatal_status;
	/* --only-failed: the messages recorded failed or pending, counted
	 * as retried when they come by; with filter, the only ones sent
	 * (and the folder's cursor is left as it was). */
	struct retry_set *rs;
	bool filter;
	/* What the plugins' capability bits promise (plugin.h says what the
	 * core does without each): */
	bool stable_ids;          /* source ids name messages across sessions */
	bool uid_cursor;          /* ...and uids ascend, so last_uid resumes */
	bool sync_state_ok;       /* the source keeps a sync token */
	bool sink_ids;            /* the sink fills target_id */
	bool drop_keywords;       /* the sink cannot store keywords */
	struct content_keys keys; /* !stable_ids: messages named by content */
	uint64_t keywords_dropped;
	/* One part of a folder cut for several streams (job_split.c), or
	 * NULL for the whole folder. */
	struct folder_split *split;
	unsigned part;
	/* Sink lanes (job_lanes.c): during a fetch, a run per further sink
	 * session, each a copy of this one with its own session, state
	 * connection, target name, failures and writer; the uid cursor is
	 * the first run's (cursor), which the copies point at. */
	struct folder_run *lanes;
	unsigned nlanes;
	struct folder_run *cursor;
	struct mf_error lane_fatal;
};

static bool have_cb(const char *source_id, void *aux)
{
	struct folder_run *fr = aux;
	/* Without stable ids an id says nothing about what an earlier run
	 * copied: every message is read and recognised by its content. */
	if (!fr->stable_ids)
		return false;
	if (fr->filter) {
		/* Only what is to be retried is worth downloading. */
		const struct retry_id *e = retry_set_find(fr->rs, source_id);
		return e == NULL || e->taken;
	}
	bool have = state_message_have(fr->j->db, fr->sf.id, fr->uidvalidity, source_id);
	/* Sources ask once per message before downloading it; a yes is a
	 * message an earlier run already handled. */
	if (have) {
		pthread_mutex_lock(fr->lock);
		fr->j->job->counters.skipped++;
		pthread_mutex_unlock(fr->lock);
	}
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

static void note_locked(struct folder_run *fr, const char *source_id, enum progress_outcome o,
			uint64_t bytes, const char *error);

static void note(struct folder_run *fr, const char *source_id, enum progress_outcome o,
		 uint64_t bytes, const char *error)
{
	pthread_mutex_lock(fr->lock);
	note_locked(fr, source_id, o, bytes, error);
	pthread_mutex_unlock(fr->lock);
}

static void note_locked(struct folder_run *fr, const char *source_id, enum progress_outcome o,
			uint64_t bytes, const char *error)
{
	struct job *job = fr->j->job;
	if (o != OUTCOME_SKIPPED && retry_set_find(fr->rs, source_id) != NULL) {
		job->counters.retried++;
		job->counters.recovered += o == OUTCOME_COPIED;
	}
	if (o == OUTCOME_COPIED) {
		job->counters.copied++;
		job->counters.copied_bytes += bytes;
	} else if (o == OUTCOME_SKIPPED) {
		job->counters.skipped++;
	} else {
		job->counters.failed++;
		log_msg(MF_LOG_ERROR, "%s", error);
	}
	const struct run_events *ev = &fr->j->cfg->events;
	if (ev->message)
		ev->message(ev->ctx, job->name, fr->folder->path, source_id, o, bytes, error,
			    &job->counters);
}

/* The UID cursor saved at the end: everything at or below it is finished.
 * Outcomes may arrive out of order (pipelined appends complete after
 * later messages were skipped), so keep the lowest unfinished uid and the
 * highest finished one, and derive the cursor from both at the end. */
static void advance_uid(struct folder_run *fr, const struct mf_message *msg, bool finished)
{
	if (msg->uid == 0 || !fr->uid_cursor)
		return;
	struct folder_run *c = fr->cursor != NULL ? fr->cursor : fr;
	pthread_mutex_lock(fr->lock);
	if (!finished) {
		if (c->min_open_uid == 0 || msg->uid < c->min_open_uid)
			c->min_open_uid = msg->uid;
	} else if (msg->uid > c->max_seen_uid) {
		c->max_seen_uid = msg->uid;
	}
	pthread_mutex_unlock(fr->lock);
}

static uint64_t cursor_after(const struct folder_run *fr)
{
	uint64_t c = fr->min_open_uid ? fr->min_open_uid - 1 : fr->max_seen_uid;
	return c > fr->since_uid ? c : fr->since_uid;
}

static int record_failure_db(struct folder_run *fr, struct state_db *db,
			     const struct mf_message *msg, const struct mf_error *why)
{
	struct mf_error err;
	bool permanent = why->retry == MF_RETRY_NEVER;
	char text[700];
	snprintf(text, sizeof(text), "%s: %s: message %s: %s", fr->j->job->name, fr->folder->path,
		 msg->source_id, why->text);
	int st = state_message_failed(db, fr->sf.id, fr->uidvalidity, msg->source_id, msg->size,
				      permanent, text, &err);
	advance_uid(fr, msg, permanent);
	note(fr, msg->source_id, OUTCOME_FAILED, msg->size, text);
	if (st != MF_OK) {
		*fr->fatal = err;
		return st;
	}
	return MF_OK;
}

/* On the source's thread. */
static int record_failure(struct folder_run *fr, const struct mf_message *msg,
			  const struct mf_error *why)
{
	return record_failure_db(fr, fr->j->db, msg, why);
}

/* After a dropped sink connection the append may or may not have landed:
 * ask the sink when it can tell. */
static int lookup(struct folder_run *fr, struct spool *sp, const struct mf_message *m,
		  bool *found_r, struct mf_append_result *res, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	*found_r = false;
	if (j->snk_plugin->sink.lookup == NULL)
		return MF_OK;
	spool_rewind(sp);
	crash_enter(j->snk_plugin->desc.name, "looking up a message of", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.lookup(j->snk, fr->actual, m, sp->digest, found_r, res, err);
	crash_leave();
	return st;
}

static int append_with_retry(struct folder_run *fr, struct spool *sp, const struct mf_message *m,
			     struct mf_append_result *res, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	for (unsigned attempt = 1;; attempt++) {
		memset(res, 0, sizeof(*res));
		spool_rewind(sp);
		crash_enter(j->snk_plugin->desc.name, "appending to", j->job->name, fr->actual);
		int st = j->snk_plugin->sink.append(j->snk, fr->actual, m, res, err);
		crash_leave();
		if (st == MF_OK || st == MF_ERR_MESSAGE)
			return st;
		if (!retry_should_retry(&j->cfg->retry, err, attempt) ||
		    !job_backoff(j, err, attempt))
			return st;
		st = job_open_sink(j, err);
		if (st == MF_OK)
			st = ensure_target(fr, err);
		bool found = false;
		if (st == MF_OK)
			st = lookup(fr, sp, m, &found, res, err);
		if (st != MF_OK)
			return st;
		if (found)
			return MF_OK;
	}
}

/* The target id to record: the sink's, when it promises one.  Otherwise
 * (no MF_CAP_RETURNS_ID: whatever it left in target_id means nothing, or
 * no id at all) one of the core's own, unique per row, which is what the
 * content matching after a UIDVALIDITY change tells claimed rows by. */
static const char *target_id_for(const struct folder_run *fr, const char *source_id,
				 const struct mf_append_result *res, char buf[128])
{
	if (fr->sink_ids && res->target_id[0] != '\0')
		return res->target_id;
	core_target_id(fr->uidvalidity, source_id, buf);
	return buf;
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
	char tid[128];
	if (status == MF_OK) {
		int st = state_message_copied(fr->wdb, fr->sf.id, fr->uidvalidity, in->source_id,
					      in->size, in->digest, fr->actual,
					      target_id_for(fr, in->source_id, res, tid), &e);
		advance_uid(fr, &m, st == MF_OK);
		if (st == MF_OK)
			note(fr, in->source_id, OUTCOME_COPIED, in->size, NULL);
		else if (fr->async_status == MF_OK) {
			fr->async_status = st;
			fr->async_err = e;
		}
	} else if (status == MF_ERR_MESSAGE) {
		int st = record_failure_db(fr, fr->wdb, &m, err);
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

/* A sink call that failed leaves the sink unusable for this folder run (the
 * retry reopens it); one that worked may still report an earlier
 * asynchronous append's failure. */
static int after_sink_call(struct folder_run *fr, int st, struct mf_error *err)
{
	if (st != MF_OK) {
		fr->sink_failed = true;
		fr->async_status = MF_OK;
		return st;
	}
	return async_failure(fr, err);
}

static int flush_appends(struct folder_run *fr, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	if (!fr->pipelined || j->snk == NULL)
		return MF_OK;
	crash_enter(j->snk_plugin->desc.name, "storing into", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.append_flush(j->snk, err);
	crash_leave();
	return after_sink_call(fr, st, err);
}

static int start_append(struct folder_run *fr, struct spool *sp, const struct mf_message *msg,
			const struct mf_message *m, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	struct inflight *in = mf_xcalloc(1, sizeof(*in));
	in->fr = fr;
	in->source_id = mf_xstrdup(msg->source_id);
	in->uid = msg->uid;
	in->size = m->size;
	memcpy(in->digest, sp->digest, 32);
	spool_rewind(sp);
	crash_enter(j->snk_plugin->desc.name, "storing into", j->job->name, fr->actual);
	int st = j->snk_plugin->sink.append_start(j->snk, fr->actual, m, on_append_done, in, err);
	crash_leave();
	return after_sink_call(fr, st, err);
}

/* The storing half of the pipeline: settle an interrupted append, record
 * "pending", append, record the outcome.  Runs on the source's thread, or
 * on the writer thread when there is one; sp holds the message. */
static int store_message(struct folder_run *fr, struct spool *sp, const struct mf_message *msg,
			 const struct mf_message *m, enum state_msg_status prior,
			 struct mf_error *cb_err)
{
	struct job_ctx *j = fr->j;
	struct mf_error err = { 0 };
	struct mf_append_result res = { { 0 } };
	char what[600], tid[128];
	int st;
	snprintf(what, sizeof(what), "%s: %s: message %s", j->job->name, fr->folder->path,
		 msg->source_id);
	bool found = false;
	if (prior == STATE_MSG_PENDING) {
		/* Settle what is in flight first: lookup answers for the
		 * store as it is, and outcomes stay in order. */
		st = flush_appends(fr, &err);
		if (st == MF_OK)
			st = lookup(fr, sp, m, &found, &res, &err);
		if (st != MF_OK) {
			*cb_err = err;
			return st;
		}
		if (!found && j->snk_plugin->sink.lookup == NULL)
			log_msg(MF_LOG_WARN,
				"%s: an earlier run was interrupted while appending it "
				"and the sink cannot check; appending again",
				what);
	}
	if (!found) {
		st = state_message_pending(fr->wdb, fr->sf.id, fr->uidvalidity, msg->source_id,
					   m->size, sp->digest, cb_err);
		if (st != MF_OK)
			return st;
		if (fr->pipelined) {
			/* Recorded by on_append_done(); a failed session ends this
			 * fetch and the folder loop reconnects and fetches again. */
			st = start_append(fr, sp, msg, m, &err);
			if (st != MF_OK)
				*cb_err = err;
			return st;
		}
		st = append_with_retry(fr, sp, m, &res, &err);
		if (st == MF_ERR_MESSAGE)
			return record_failure_db(fr, fr->wdb, msg, &err);
		if (st != MF_OK) {
			/* Leave the pending row: the next run will ask the sink. */
			advance_uid(fr, msg, false);
			*cb_err = err;
			return st;
		}
	}
	st = state_message_copied(fr->wdb, fr->sf.id, fr->uidvalidity, msg->source_id, m->size,
				  sp->digest, fr->actual,
				  target_id_for(fr, msg->source_id, &res, tid), cb_err);
	if (st != MF_OK)
		return st;
	advance_uid(fr, msg, true);
	if (found && retry_set_find(fr->rs, msg->source_id) != NULL) {
		/* An interrupted retry that had landed: now recorded copied. */
		pthread_mutex_lock(fr->lock);
		fr->j->job->counters.retried++;
		fr->j->job->counters.recovered++;
		pthread_mutex_unlock(fr->lock);
	}
	note(fr, msg->source_id, found ? OUTCOME_SKIPPED : OUTCOME_COPIED, m->size, NULL);
	return MF_OK;
}

/* ---- the writer thread ------------------------------------------- */

/* Messages spooled by the source's thread and not yet stored.  Few slots
 * are enough to keep both links busy; each spool keeps up to 1 MiB in
 * memory (more goes to a temp file), so memory stays flat. */
#define WRITER_SLOTS 8
#define WRITER_SPOOL_MEM (1u << 20)

struct writer_item {
	struct spool spool;
	struct mf_message msg; /* a copy; its strings below are owned */
	char *source_id;
	char **keywords;
	enum state_msg_status prior;
};

struct writer {
	struct folder_run *fr;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct writer_item items[WRITER_SLOTS];
	size_t nslots; /* used of items: fewer per lane, memory stays flat */
	size_t head, count;
	bool eof;
	int status; /* first failure of the storing side */
	struct mf_error err;
};

static void item_clear(struct writer_item *it)
{
	free(it->source_id);
	for (char **k = it->keywords; k != NULL && *k != NULL; k++)
		free(*k);
	free(it->keywords);
	it->source_id = NULL;
	it->keywords = NULL;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct folder_run *fr = w->fr;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->count == 0 && !w->eof)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->count == 0) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		struct writer_item *it = &w->items[w->head];
		bool failed = w->status != MF_OK;
		pthread_mutex_unlock(&w->mu);
		/* Ask again here: the source may deliver a message twice (it
		 * resumed a folder after its connection broke) while the first
		 * delivery still sat in this queue, unrecorded. */
		enum state_msg_status prior =
			failed ? it->prior
			       : state_message_status(fr->wdb, fr->sf.id, fr->uidvalidity,
						      it->msg.source_id);
		if (!failed &&
		    (prior == STATE_MSG_COPIED || (prior == STATE_MSG_FAILED && !fr->filter))) {
			advance_uid(fr, &it->msg, true);
			note(fr, it->msg.source_id, OUTCOME_SKIPPED, 0, NULL);
		} else if (!failed) {
			struct mf_message m;
			struct mf_error e = { 0 };
			spool_message(&it->spool, &it->msg, &m);
			int st = store_message(fr, &it->spool, &it->msg, &m, prior, &e);
			if (st != MF_OK) {
				pthread_mutex_lock(&w->mu);
				w->status = st;
				w->err = e;
				pthread_mutex_unlock(&w->mu);
			}
		} else {
			advance_uid(fr, &it->msg, false); /* never stored: stay below it */
		}
		item_clear(it);
		pthread_mutex_lock(&w->mu);
		w->head = (w->head + 1) % w->nslots;
		w->count--;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	if (w->status == MF_OK) {
		struct mf_error e = { 0 };
		int st = flush_appends(fr, &e);
		if (st != MF_OK) {
			w->status = st;
			w->err = e;
		}
	}
	return NULL;
}

static struct writer *writer_start(struct folder_run *fr, size_t nslots)
{
	struct writer *w = mf_xcalloc(1, sizeof(*w));
	w->fr = fr;
	w->nslots = nslots;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (size_t i = 0; i < WRITER_SLOTS; i++)
		spool_init(&w->items[i].spool, WRITER_SPOOL_MEM, fr->j->cfg->tmpdir);
	int e = pthread_create(&w->thread, NULL, writer_main, w);
	if (e != 0) {
		/* No thread (resource limits): the source's thread writes
		 * too, as for a sink without pipelining.  Slower, not wrong. */
		log_msg(MF_LOG_WARN, "%s: cannot start the writer thread (%s): writing inline",
			fr->folder->path, strerror(e));
		for (size_t i = 0; i < WRITER_SLOTS; i++)
			spool_free(&w->items[i].spool);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

/* Waits for the writer to store what was queued; its first failure. */
static int writer_finish(struct writer **wp, struct mf_error *err)
{
	struct writer *w = *wp;
	pthread_mutex_lock(&w->mu);
	w->eof = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	int st = w->status;
	if (st != MF_OK)
		*err = w->err;
	for (size_t i = 0; i < WRITER_SLOTS; i++) {
		item_clear(&w->items[i]);
		spool_free(&w->items[i].spool);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	*wp = NULL;
	return st;
}

/* A free slot for the source's thread, or the writer's failure. */
static struct writer_item *writer_slot(struct writer *w, struct mf_error *err, int *st_r)
{
	pthread_mutex_lock(&w->mu);
	while (w->count == w->nslots && w->status == MF_OK)
		pthread_cond_wait(&w->cv, &w->mu);
	*st_r = w->status;
	if (*st_r != MF_OK)
		*err = w->err;
	struct writer_item *it =
		*st_r == MF_OK ? &w->items[(w->head + w->count) % w->nslots] : NULL;
	pthread_mutex_unlock(&w->mu);
	return it;
}

static void writer_push(struct writer *w, struct writer_item *it, const struct mf_message *msg,
			enum state_msg_status prior)
{
	it->msg = *msg;
	it->source_id = mf_xstrdup(msg->source_id);
	it->msg.source_id = it->source_id;
	size_t nk = 0;
	while (msg->keywords != NULL && msg->keywords[nk] != NULL)
		nk++;
	if (nk > 0) {
		it->keywords = mf_xcalloc(nk + 1, sizeof(char *));
		for (size_t i = 0; i < nk; i++)
			it->keywords[i] = mf_xstrdup(msg->keywords[i]);
	}
	it->msg.keywords = (const char *const *)it->keywords;
	it->msg.read = NULL;
	it->msg.read_ctx = NULL;
	it->msg.failure = NULL;
	it->prior = prior;
	pthread_mutex_lock(&w->mu);
	w->count++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* The run whose writer stores the message with this source id: with
 * sink lanes one picked by the id, so a message delivered twice queues
 * behind its first delivery (which its writer then finds recorded). */
static struct folder_run *lane_of(struct folder_run *fr, const char *source_id)
{
	if (fr->nlanes == 0)
		return fr;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)source_id; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	unsigned k = (unsigned)(h % (fr->nlanes + 1));
	return k == 0 ? fr : &fr->lanes[k - 1];
}

/* The spool the message goes into: the next free slot of the writer of
 * lane lf, or the job's own when this thread stores too. */
static int take_spool(struct folder_run *fr, struct folder_run *lf, struct spool **sp_r,
		      struct writer_item **slot_r, struct mf_error *cb_err)
{
	*sp_r = &fr->j->spool;
	*slot_r = NULL;
	if (lf->writer == NULL)
		return MF_OK;
	int st;
	struct mf_error err = { 0 };
	*slot_r = writer_slot(lf->writer, &err, &st);
	if (*slot_r == NULL) {
		fr->sink_failed = true;
		*cb_err = err;
		return st;
	}
	*sp_r = &(*slot_r)->spool;
	return MF_OK;
}

static int read_message(struct folder_run *fr, struct spool *sp, const struct mf_message *msg,
			struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	char what[600];
	snprintf(what, sizeof(what), "%s: %s: message %s", j->job->name, fr->folder->path,
		 msg->source_id);
	crash_enter(j->src_plugin->desc.name, "reading a message of", j->job->name,
		    fr->folder->path);
	int st = spool_fill(sp, msg, (j->snk_plugin->desc.caps & MF_CAP_WANTS_CRLF) != 0,
			    j->cfg->throttle, what, err);
	crash_leave();
	return st;
}

static int on_message(const struct mf_message *src_msg, void *aux, struct mf_error *cb_err)
{
	struct folder_run *fr = aux;
	struct job_ctx *j = fr->j;
	struct mf_error err = { 0 };
	struct spool *sp = NULL;
	struct writer_item *slot = NULL;
	int st;

	if (atomic_load(&mf_cancel_requested))
		return mf_error_set(cb_err, MF_ERR_CANCELED, MF_RETRY_NEVER, "canceled");
	/* The message as the state and the sink see it. */
	struct mf_message em = *src_msg;
	const struct mf_message *msg = &em;
	bool had_keywords = em.keywords != NULL && em.keywords[0] != NULL;
	if (fr->drop_keywords)
		em.keywords = NULL; /* the sink cannot store them: not a failure */
	char key[700];
	if (!fr->stable_ids) {
		/* No MF_CAP_STABLE_IDS: the content names the message, so it
		 * is read before anything is decided.  One the source cannot
		 * produce keeps its id of this session, marked so it can never
		 * pass for a content name. */
		st = MF_OK;
		if (em.failure == NULL) {
			st = take_spool(fr, fr, &sp, &slot, cb_err);
			if (st != MF_OK)
				return st;
			st = read_message(fr, sp, src_msg, &err);
		}
		if (em.failure == NULL && st == MF_OK)
			content_key_next(&fr->keys, sp->digest, key);
		else
			snprintf(key, sizeof(key), "id:%s", src_msg->source_id);
		em.source_id = key;
		if (st == MF_ERR_MESSAGE)
			return record_failure(fr, msg, &err);
		if (st != MF_OK) {
			*cb_err = err;
			return st;
		}
	}
	struct retry_id *retry = retry_set_find(fr->rs, msg->source_id);
	/* --only-failed sends nothing new and nothing already copied, and
	 * each message once (a source may deliver one twice). */
	if (fr->filter && (retry == NULL || retry->taken))
		return MF_OK;
	if (msg->failure != NULL) {
		if (retry != NULL)
			retry->taken = true;
		return record_failure(fr, msg, msg->failure);
	}
	enum state_msg_status prior =
		state_message_status(j->db, fr->sf.id, fr->uidvalidity, msg->source_id);
	if (prior == STATE_MSG_COPIED || (prior == STATE_MSG_FAILED && !fr->filter)) {
		advance_uid(fr, msg, true);
		note(fr, msg->source_id, OUTCOME_SKIPPED, 0, NULL);
		return MF_OK;
	}
	/* Taken on here, so the filter pass after a resumed folder does not
	 * send it a second time. */
	if (retry != NULL)
		retry->taken = true;
	throttle_message(j->cfg->throttle);
	struct folder_run *lf = slot != NULL ? fr : lane_of(fr, msg->source_id);
	if (sp == NULL) {
		st = take_spool(fr, lf, &sp, &slot, cb_err);
		if (st != MF_OK)
			return st;
		st = read_message(fr, sp, src_msg, &err);
		/* A message the source cannot deliver in full is recorded
		 * (retried next run unless permanent); if the connection
		 * really died, the source's next read fails at the account
		 * level anyway. */
		if (st == MF_ERR_MESSAGE)
			return record_failure(fr, msg, &err);
		if (st != MF_OK) {
			*cb_err = err;
			return st;
		}
	}
	struct mf_message m;
	spool_message(sp, msg, &m);
	struct mf_append_result res = { { 0 } };

	/* The source renumbered its ids (UIDVALIDITY changed): a message we
	 * copied under the old numbering is recognised by its content. */
	if (fr->validity_changed &&
	    state_digest_match(j->db, fr->sf.id, fr->uidvalidity, sp->digest, res.target_id)) {
		st = state_message_copied(j->db, fr->sf.id, fr->uidvalidity, msg->source_id, m.size,
					  sp->digest, fr->actual, res.target_id, cb_err);
		advance_uid(fr, msg, st == MF_OK);
		note(fr, msg->source_id, OUTCOME_SKIPPED, 0, NULL);
		return st;
	}
	if (j->cfg->dry_run) {
		note(fr, msg->source_id, OUTCOME_COPIED, m.size, NULL);
		return MF_OK;
	}
	if (fr->drop_keywords && had_keywords)
		fr->keywords_dropped++;
	if (slot != NULL) {
		writer_push(lf->writer, slot, msg, prior);
		return MF_OK;
	}
	return store_message(fr, &j->spool, msg, &m, prior, cb_err);
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

/* A writer's queue with nlanes further lanes: the stream's slots shared
 * out (two each at least, so a lane sends while the next one waits). */
static size_t lane_slots(unsigned nlanes)
{
	size_t n = WRITER_SLOTS / (nlanes + 1);
	return n < 2 ? 2 : n;
}

/* The fetch's further sink lanes: a copy of fr per open lane of the
 * stream (job_lanes.c), each with the folder ensured on its session and
 * a writer of its own.  A lane that cannot is left out of this fetch. */
static void lanes_start(struct folder_run *fr)
{
	struct job_ctx *j = fr->j;
	fr->nlanes = 0;
	if (!fr->stable_ids || fr->filter)
		return; /* routing by id needs ids; a retry pass is small */
	job_lanes_open(j);
	if (j->nlanes == 0)
		return;
	fr->lanes = mf_xcalloc(j->nlanes, sizeof(*fr->lanes));
	for (unsigned k = 0; k < j->nlanes; k++) {
		struct folder_run *lf = &fr->lanes[fr->nlanes];
		*lf = *fr;
		lf->j = j->lanes[k];
		lf->wdb = lf->j->db;
		lf->actual = NULL;
		lf->lanes = NULL;
		lf->nlanes = 0;
		lf->cursor = fr;
		lf->fatal = &lf->lane_fatal;
		lf->async_status = MF_OK;
		lf->sink_failed = false;
		lf->keys = (struct content_keys){ 0 };
		struct mf_error err;
		if (ensure_target(lf, &err) != MF_OK) {
			log_msg(MF_LOG_WARN, "%s: %s: sink lane %u left out (%s)", j->job->name,
				fr->folder->path, k + 2, err.text);
			free(lf->actual);
			continue;
		}
		lf->writer = writer_start(lf, lane_slots(j->nlanes));
		if (lf->writer == NULL) {
			free(lf->actual);
			continue;
		}
		fr->nlanes++;
	}
}

/* Waits for the lanes' writers; the first failure among them into *err
 * (NULL: an earlier failure is reported already).  A failed lane marks
 * the run's sink failed, and the retry reopens every lane. */
static int lanes_finish(struct folder_run *fr, struct mf_error *err)
{
	int first = MF_OK;
	for (unsigned k = 0; k < fr->nlanes; k++) {
		struct folder_run *lf = &fr->lanes[k];
		struct mf_error e = { 0 };
		int st = writer_finish(&lf->writer, &e);
		if (st != MF_OK || lf->sink_failed)
			fr->sink_failed = true;
		if (st != MF_OK && first == MF_OK) {
			first = st;
			if (err != NULL)
				*err = e;
		}
		free(lf->actual);
	}
	free(fr->lanes);
	fr->lanes = NULL;
	fr->nlanes = 0;
	return first;
}

static int fetch_once(struct folder_run *fr, char **sync_state_r, struct mf_error *err)
{
	struct job_ctx *j = fr->j;
	struct mf_cursor since = {
		.uidvalidity = fr->sf.uidvalidity,
		.last_uid = fr->validity_changed || !fr->uid_cursor ? 0 : fr->sf.last_uid,
		.sync_state = fr->validity_changed || !fr->sync_state_ok ? NULL : fr->sf.sync_state,
		.have = have_cb,
		.have_aux = fr,
	};
	if (fr->filter) {
		/* Every message, so the recorded ones below the cursor come
		 * by too; have() keeps the others from being downloaded. */
		since.last_uid = 0;
		since.sync_state = NULL;
		/* One whose append was cut off (a dropped connection) is
		 * pending: offer it again, lookup() settles it. */
		for (size_t i = 0; i < fr->rs->n; i++)
			if (fr->rs->v[i].taken &&
			    state_message_status(j->db, fr->sf.id, fr->uidvalidity,
						 fr->rs->v[i].id) == STATE_MSG_PENDING)
				fr->rs->v[i].taken = false;
	}
	if (fr->split != NULL) {
		since.from_uid = split_part_from(fr->split, fr->part);
		since.until_uid = split_part_until(fr->split, fr->part);
	}
	/* A part's cursor starts where the part does. */
	fr->since_uid = since.from_uid > since.last_uid + 1 ? since.from_uid - 1 : since.last_uid;
	fr->max_seen_uid = fr->min_open_uid = 0;
	content_keys_reset(&fr->keys); /* the source offers the folder from its start */
	fr->sink_failed = false;
	/* A pipelined sink gets its own thread, so reading the source and
	 * writing the target overlap instead of taking turns. */
	if (fr->pipelined && fr->wdb != j->db) {
		lanes_start(fr);
		fr->writer = writer_start(fr, lane_slots(fr->nlanes));
		if (fr->writer == NULL)
			lanes_finish(fr, NULL);
	}
	crash_enter(j->src_plugin->desc.name, "fetching", j->job->name, fr->folder->path);
	int st = j->src_plugin->source.fetch(j->src, fr->folder->path, &since, on_message_core, fr,
					     sync_state_r, err);
	crash_leave();
	if (!fr->sync_state_ok && sync_state_r != NULL && *sync_state_r != NULL) {
		/* No MF_CAP_SYNC_STATE: a token it hands out anyway is not
		 * kept, so it is never handed back either. */
		free(*sync_state_r);
		*sync_state_r = NULL;
	}
	/* Whatever ended the fetch, learn the fate of every append. */
	struct mf_error ferr = { 0 };
	int fst = fr->writer != NULL ? writer_finish(&fr->writer, &ferr) : flush_appends(fr, &ferr);
	if (fst != MF_OK)
		fr->sink_failed = true;
	int lst = lanes_finish(fr, fst == MF_OK ? &ferr : NULL);
	if (fst == MF_OK)
		fst = lst;
	if (st == MF_OK && fst != MF_OK) {
		*err = ferr;
		st = fst;
	}
	return st;
}

/* Messages this run has copied or recorded as failed so far. */
static uint64_t settled_messages(struct folder_run *fr)
{
	pthread_mutex_lock(fr->lock);
	uint64_t n = fr->j->job->counters.copied + fr->j->job->counters.failed;
	pthread_mutex_unlock(fr->lock);
	return n;
}

/* The messages the filter pass is about to offer again. */
static uint64_t retry_count(const struct retry_set *rs)
{
	uint64_t n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += !rs->v[i].taken;
	return n;
}

/* A part has ended: settle how far it got with the other parts.  False
 * while parts are left (the folder's row then waits for the last);
 * true with the folder's cursor and outcome in *saved_uid, *st, *err. */
static bool part_ended(struct folder_run *fr, int *st, struct mf_error *err, uint64_t *saved_uid)
{
	/* A part that ended with nothing left open is settled to its
	 * last uid, even where that message was expunged meanwhile. */
	uint64_t until = split_part_until(fr->split, fr->part);
	uint64_t reached =
		*st == MF_OK && fr->min_open_uid == 0 && until != 0 ? until : cursor_after(fr);
	int fst;
	struct mf_error ferr;
	pthread_mutex_lock(fr->lock);
	bool last =
		split_part_ended(fr->split, fr->part, *st, err, reached, saved_uid, &fst, &ferr);
	pthread_mutex_unlock(fr->lock);
	if (last && *st == MF_OK && fst != MF_OK) {
		/* A failed part fails the folder; what ended that part's
		 * mailbox (if anything did) is its own stream's to report. */
		*st = MF_ERR_FOLDER;
		*err = ferr;
		err->status = MF_ERR_FOLDER;
	}
	return last;
}

/* One pass over a folder: the whole folder from its cursor (filter
 * false), --only-failed's pass over the messages in rs, or one part of a
 * split folder (*last_r then says whether it ended the folder). */
static int copy_folder_pass(struct job_ctx *j, const struct mf_folder *folder, struct retry_set *rs,
			    bool filter, struct folder_split *split, unsigned part, bool *last_r,
			    struct mf_error *err)
{
	struct folder_run fr = { .j = j,
				 .folder = folder,
				 .fatal = err,
				 .wdb = j->db,
				 .lock = j->lock,
				 .rs = rs,
				 .filter = filter,
				 .split = split,
				 .part = part };
	int st = state_folder_begin(j->db, j->mailbox_id, folder->path, &fr.sf, err);
	if (st != MF_OK)
		return st;
	fr.uidvalidity = folder->uidvalidity;
	uint64_t src_caps = j->src_plugin->desc.caps, snk_caps = j->snk_plugin->desc.caps;
	fr.stable_ids = (src_caps & MF_CAP_STABLE_IDS) != 0;
	fr.uid_cursor = fr.stable_ids && (src_caps & MF_CAP_MONOTONIC_UIDS) != 0;
	fr.sync_state_ok = (src_caps & MF_CAP_SYNC_STATE) != 0;
	fr.sink_ids = (snk_caps & MF_CAP_RETURNS_ID) != 0;
	fr.drop_keywords = (snk_caps & MF_CAP_KEYWORDS) == 0;
	fr.validity_changed = fr.sf.uidvalidity != 0 && fr.sf.uidvalidity != folder->uidvalidity;
	if (fr.validity_changed)
		log_msg(MF_LOG_WARN,
			"%s: %s: UIDVALIDITY changed from %u to %u; matching "
			"messages by content so nothing is copied twice",
			j->job->name, folder->path, fr.sf.uidvalidity, folder->uidvalidity);
	if (rs != NULL && !rs->loaded) {
		st = retry_set_load(rs, j->db, fr.sf.id, fr.uidvalidity, err);
		if (st != MF_OK) {
			state_folder_clear(&fr.sf);
			return st;
		}
	}
	if (fr.filter && !fr.stable_ids) {
		/* The recorded ids are content names: found only by reading
		 * every message, as a whole-folder resume does. */
		fr.filter = false;
	} else if (fr.filter && fr.validity_changed) {
		/* The recorded ids are of the old numbering: resume the
		 * whole folder instead, which matches copies by content. */
		log_msg(MF_LOG_WARN,
			"%s: %s: failed messages are recorded under another "
			"UIDVALIDITY; resuming the whole folder",
			j->job->name, folder->path);
		fr.filter = false;
	} else if (fr.filter && retry_count(rs) == 0) {
		state_folder_clear(&fr.sf);
		return MF_OK; /* the resumed folder took them all on */
	}
	fr.target = folder_map_target(j->fmap, folder, &fr.special);
	fr.since_uid = fr.validity_changed || !fr.uid_cursor ? 0 : fr.sf.last_uid;
	fr.pipelined = !j->cfg->dry_run && j->snk_plugin->sink.append_start != NULL &&
		       j->snk_plugin->sink.append_flush != NULL;
	/* The writer thread needs a state connection of its own (job_p.h). */
	if (fr.pipelined) {
		struct mf_error oerr;
		if (j->writer_db == NULL &&
		    state_open(j->cfg->state_path, &j->writer_db, &oerr) != MF_OK)
			j->writer_db = NULL;
		fr.wdb = j->writer_db != NULL ? j->writer_db : j->db; /* none: no thread */
	}
	st = ensure_target(&fr, err);
	if (st == MF_OK && j->cfg->events.folder && part == 0)
		j->cfg->events.folder(j->cfg->events.ctx, j->job->name, folder->path, fr.actual,
				      fr.filter ? retry_count(rs) : folder->messages);
	char *sync_state = NULL;
	for (unsigned attempt = 1; st == MF_OK; attempt++) {
		free(sync_state);
		sync_state = NULL;
		uint64_t settled = settled_messages(&fr);
		st = fetch_once(&fr, &sync_state, err);
		if (st == MF_OK || st == MF_ERR_FOLDER || st == MF_ERR_CANCELED)
			break;
		/* A connection that dropped after copying something starts the
		 * retry budget afresh: over a weekend a link that drops now and
		 * then must not fail a mailbox that keeps moving.  Each such
		 * attempt settles a message, so this still ends. */
		if (settled_messages(&fr) != settled)
			attempt = 1;
		/* A broken connection: reopen and fetch again; what was
		 * copied is skipped through the state store, and appends
		 * whose fate is unknown are settled by lookup().  A fetch
		 * aborted by a failed sink leaves the source mid-response, so
		 * the source is reopened in either case. */
		if (!retry_should_retry(&j->cfg->retry, err, attempt) ||
		    !job_backoff(j, err, attempt))
			break;
		if (fr.sink_failed) {
			job_lanes_close(j);
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
	uint32_t saved_validity =
		st == MF_OK || fr.sf.uidvalidity == 0 ? fr.uidvalidity : fr.sf.uidvalidity;
	uint64_t saved_uid = saved_validity == fr.uidvalidity ? cursor_after(&fr) : fr.sf.last_uid;
	if (fr.filter) {
		/* A pass over a few old messages says nothing about the
		 * rest of the folder: its cursor and sync token stay. */
		saved_validity = fr.sf.uidvalidity != 0 ? fr.sf.uidvalidity : fr.uidvalidity;
		saved_uid = fr.sf.last_uid;
		free(sync_state);
		sync_state = NULL;
	}
	if (split != NULL) {
		*last_r = part_ended(&fr, &st, err, &saved_uid);
		free(sync_state); /* split() is only offered without sync tokens */
		sync_state = NULL;
		if (!*last_r) {
			if (st == MF_ERR_FOLDER)
				st = MF_OK; /* the last part reports the folder */
			goto done;
		}
		saved_validity = fr.uidvalidity;
	}
	int st2 = state_folder_save(j->db, fr.sf.id, saved_validity, saved_uid,
				    st == MF_OK ? sync_state : NULL, fr.actual,
				    st == MF_OK ? "done" : "failed", st == MF_OK ? NULL : err->text,
				    &e2);
	if (st == MF_OK && st2 != MF_OK) {
		*err = e2;
		st = st2;
	}
done:
	if (fr.keywords_dropped > 0) {
		log_msg(MF_LOG_WARN,
			"%s: %s: the sink cannot store keywords; copied %" PRIu64
			" messages without theirs",
			j->job->name, folder->path, fr.keywords_dropped);
		pthread_mutex_lock(j->lock);
		j->job->counters.keywords_dropped += fr.keywords_dropped;
		pthread_mutex_unlock(j->lock);
	}
	content_keys_free(&fr.keys);
	free(sync_state);
	free(fr.target);
	free(fr.actual);
	state_folder_clear(&fr.sf); /* j->writer_db stays open for the next folder */
	return st;
}

int job_copy_folder(struct job_ctx *j, const struct mf_folder *folder, struct mf_error *err)
{
	return copy_folder_pass(j, folder, NULL, false, NULL, 0, NULL, err);
}

int job_copy_part(struct job_ctx *j, struct folder_split *s, unsigned k, bool *last_r,
		  struct mf_error *err)
{
	return copy_folder_pass(j, s->folder, NULL, false, s, k, last_r, err);
}

int job_retry_folder(struct job_ctx *j, const struct mf_folder *folder,
		     const struct retry_folder *rf, struct mf_error *err)
{
	struct retry_set rs = { 0 };
	int st = MF_OK;
	/* A folder that failed as a whole is resumed first, so a kill
	 * between the two passes leaves it "failed", to be visited again. */
	if (rf->failed)
		st = copy_folder_pass(j, folder, &rs, false, NULL, 0, NULL, err);
	if (st == MF_OK)
		st = copy_folder_pass(j, folder, &rs, true, NULL, 0, NULL, err);
	retry_set_free(&rs);
	return st;
}
