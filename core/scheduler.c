/* SPDX-License-Identifier: MIT */
/* Scheduler: the top of the core.  It runs a job per mailbox on a small
 * thread pool; a job opens its source and sink sessions (job_session.c,
 * counted against the per-host connection cap), lists the source's
 * folders, and hands each wanted folder to job_copy_folder()
 * (job_folder.c); with --only-failed, only the mailboxes and folders an
 * earlier run left failed (job_retry_folder).  Calls go down only: scheduler -> job_folder ->
 * job_session / spool / state -> plugins. */
#include <config.h>
#include "scheduler.h"

#include <mailferry/util.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "host.h"
#include "job_p.h"
#include "pool.h"
#include "run_shared.h"
#include "throttle.h"

struct folder_list {
	struct mf_folder *v;
	size_t n;
};

static int collect_folder(const struct mf_folder *f, void *aux)
{
	struct folder_list *l = aux;
	l->v = mf_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n] = *f;
	l->v[l->n].path = mf_xstrdup(f->path);
	l->n++;
	return MF_OK;
}

static void folder_list_free(struct folder_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A source without MF_CAP_FOLDERS (POP3) has one folder, the mailbox
 * itself: it is the inbox whatever the source calls it, and a folder the
 * source lists past it is not one the source can serve. */
static void one_folder(const struct job_ctx *j, struct folder_list *l)
{
	size_t keep = 0;
	while (keep < l->n && !l->v[keep].selectable)
		keep++;
	if (keep == l->n)
		return;
	if (l->n > 1)
		log_msg(MF_LOG_WARN,
			"%s: the source has a single folder (no MF_CAP_FOLDERS) but "
			"listed %zu; copying %s only, as the inbox",
			j->job->name, l->n, l->v[keep].path);
	for (size_t i = 0; i < l->n; i++)
		if (i != keep)
			free((char *)l->v[i].path);
	l->v[0] = l->v[keep];
	l->n = 1;
	l->v[0].special_use = MF_SPECIAL_INBOX;
}

static int list_with_retry(struct job_ctx *j, struct folder_list *l, struct mf_error *err)
{
	for (unsigned attempt = 1;; attempt++) {
		folder_list_free(l);
		crash_enter(j->src_plugin->desc.name, "listing the folders of", j->job->name, NULL);
		int st = j->src_plugin->source.list_folders(j->src, collect_folder, l, err);
		crash_leave();
		if (st == MF_OK && !(j->src_plugin->desc.caps & MF_CAP_FOLDERS))
			one_folder(j, l);
		if (st == MF_OK)
			return MF_OK;
		if (!retry_should_retry(&j->cfg->retry, err, attempt) ||
		    !job_backoff(j, err, attempt))
			return st;
		st = job_open_source(j, err);
		if (st != MF_OK)
			return st;
	}
}

/* --only-failed: the entry of a folder with work left, or NULL. */
static const struct retry_folder *retry_folder_of(const struct job_ctx *j, const char *path)
{
	for (size_t i = 0; j->retry != NULL && i < j->retry->n; i++)
		if (strcmp(j->retry->v[i].path, path) == 0)
			return &j->retry->v[i];
	return NULL;
}

/* A folder this run copies: wanted by the folder map and, with
 * --only-failed, one with failures recorded. */
static bool folder_selected(const struct job_ctx *j, const struct mf_folder *f)
{
	return f->selectable && folder_map_wanted(j->fmap, f->path) &&
	       (j->retry == NULL || retry_folder_of(j, f->path) != NULL);
}

static int add_retry_folder(const struct state_retry_folder *f, void *aux)
{
	struct retry_folders *r = aux;
	r->v = mf_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = (struct retry_folder){
		.path = mf_xstrdup(f->path),
		.failed = f->status != NULL && strcmp(f->status, "failed") == 0,
		.messages = f->failed + f->pending,
	};
	return MF_OK;
}

static void retry_folders_free(struct retry_folders *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].path);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* The folders of one mailbox, handed out one by one to its streams, and
 * the parts of those cut for several streams (job_split.c), handed out
 * before the next folder so a big folder is not left to one stream. */
struct part_item {
	struct folder_split *s;
	unsigned k;
};
struct folder_queue {
	struct folder_list l;
	size_t next;
	struct part_item *parts;
	size_t parts_n, parts_next, parts_cap;
	struct folder_split **splits; /* every split made, freed with q */
	size_t splits_n;
	unsigned streams;    /* streams running (under the job's lock) */
	uint64_t fair_share; /* messages per stream in this mailbox */
	/* Set once a stream found no more work: streams still waiting for
	 * a connection slot (late) then give up. */
	atomic_int drained;
};

static void folder_queue_free(struct folder_queue *q)
{
	for (size_t i = 0; i < q->splits_n; i++)
		job_split_free(q->splits[i]);
	free(q->splits);
	free(q->parts);
	folder_list_free(&q->l);
}

/* The next work: a part (*part_r set) or a whole folder; NULL if none. */
static const struct mf_folder *next_folder(struct job_ctx *j, struct folder_queue *q,
					   struct part_item *part_r)
{
	const struct mf_folder *f = NULL;
	*part_r = (struct part_item){ NULL, 0 }; /* a folder split here is part 0 */
	pthread_mutex_lock(j->lock);
	if (q->parts_next < q->parts_n) {
		*part_r = q->parts[q->parts_next++];
		pthread_mutex_unlock(j->lock);
		return part_r->s->folder;
	}
	while (f == NULL && q->next < q->l.n) {
		const struct mf_folder *c = &q->l.v[q->next++];
		if (!c->selectable)
			continue;
		if (!folder_map_wanted(j->fmap, c->path)) {
			log_msg(MF_LOG_INFO, "%s: folder %s excluded", j->job->name, c->path);
			continue;
		}
		if (!folder_selected(j, c)) {
			log_msg(MF_LOG_DEBUG, "%s: folder %s: nothing failed in it, skipped",
				j->job->name, c->path);
			continue;
		}
		f = c;
	}
	pthread_mutex_unlock(j->lock);
	return f;
}

/* Cut f for the streams if it is worth it; its parts 1.. go to q for
 * the others to take, part 0 is the caller's.  NULL: copy f whole. */
static struct folder_split *split_folder(struct job_ctx *j, struct folder_queue *q,
					 const struct mf_folder *f)
{
	pthread_mutex_lock(j->lock);
	unsigned streams = q->streams;
	uint64_t fair = q->fair_share;
	pthread_mutex_unlock(j->lock);
	struct folder_split *s = job_split_folder(j, f, streams, fair);
	if (s == NULL)
		return NULL;
	pthread_mutex_lock(j->lock);
	q->splits = mf_xrealloc(q->splits, (q->splits_n + 1) * sizeof(*q->splits));
	q->splits[q->splits_n++] = s;
	/* Ahead of the parts still waiting: those are being taken anyway. */
	if (q->parts_n + s->parts > q->parts_cap) {
		q->parts_cap = q->parts_n + s->parts + 8;
		q->parts = mf_xrealloc(q->parts, q->parts_cap * sizeof(*q->parts));
	}
	for (unsigned k = 1; k < s->parts; k++)
		q->parts[q->parts_n++] = (struct part_item){ s, k };
	pthread_mutex_unlock(j->lock);
	return s;
}

/* This stream found no more work (or failed): the mailbox is in its tail
 * and its place goes to the next one. */
static void give_place(struct job_ctx *j)
{
	struct job_place *p = j->place;
	if (p == NULL || p->gate == NULL)
		return;
	pthread_mutex_lock(j->lock);
	bool held = p->held;
	p->held = false;
	pthread_mutex_unlock(j->lock);
	if (held)
		pool_gate_leave(p->gate);
}

/* Sessions open and folders listed: wait for a place among the mailboxes
 * copying and let the next mailbox open.  Sessions that waited long (a
 * big mailbox ahead) are opened afresh: servers log idle ones out. */
#define PLACE_IDLE_NS (60ull * 1000000000ull)
static int take_place(struct job_ctx *j, struct mf_error *err)
{
	struct job_place *p = j->place;
	if (p == NULL || p->gate == NULL || p->held)
		return MF_OK; /* placed from its start */
	uint64_t t0 = throttle_now_ns();
	pool_gate_enter(p->gate);
	pthread_mutex_lock(j->lock);
	p->held = true;
	pthread_mutex_unlock(j->lock);
	if (p->opening_held) {
		p->opening_held = false;
		pool_gate_leave(p->opening);
	}
	if (throttle_now_ns() - t0 < PLACE_IDLE_NS)
		return MF_OK;
	int st = job_open_source(j, err);
	return st == MF_OK ? job_open_sink(j, err) : st;
}

/* Copy folders from q until none is left: one stream's work. */
static int copy_folders(struct job_ctx *j, struct folder_queue *q, struct mf_error *err)
{
	struct job *job = j->job;
	int st = MF_OK;
	struct part_item part;
	for (const struct mf_folder *f; st == MF_OK && (f = next_folder(j, q, &part)) != NULL;) {
		if (atomic_load(&mf_cancel_requested)) {
			st = mf_error_set(err, MF_ERR_CANCELED, MF_RETRY_NEVER, "canceled");
			break;
		}
		const struct retry_folder *rf = part.s == NULL ? retry_folder_of(j, f->path) : NULL;
		if (part.s == NULL && rf == NULL)
			part.s = split_folder(j, q, f);
		bool last = true; /* a part that is not the folder's last: no outcome yet */
		if (part.s != NULL)
			st = job_copy_part(j, part.s, part.k, &last, err);
		else
			st = rf != NULL ? job_retry_folder(j, f, rf, err)
					: job_copy_folder(j, f, err);
		if (!last)
			continue;
		if (st == MF_ERR_FOLDER) {
			log_msg(MF_LOG_ERROR, "%s", err->text);
			if (j->cfg->events.folder_failed)
				j->cfg->events.folder_failed(j->cfg->events.ctx, job->name, f->path,
							     err->text);
			pthread_mutex_lock(j->lock);
			job->counters.folders_failed++;
			snprintf(job->error, sizeof(job->error), "%s", err->text);
			pthread_mutex_unlock(j->lock);
			st = MF_OK;
		} else if (st == MF_OK) {
			pthread_mutex_lock(j->lock);
			job->counters.folders++;
			pthread_mutex_unlock(j->lock);
		}
	}
	atomic_store(&q->drained, 1);
	give_place(j);
	return st;
}

/* A further stream of a mailbox: sessions, state connection and spool of
 * its own, folders from the shared queue. */
struct stream {
	struct job_ctx j;
	struct folder_queue *q;
	unsigned number;
	bool late; /* no slot free at the start: waits for one */
	pthread_t thread;
	int st;
	struct mf_error err;
};

/* A late stream's slots, once the mailbox's tail or another mailbox frees
 * them; false if the mailbox's work was all taken first. */
static bool late_slots(struct stream *s)
{
	struct job_ctx *j = &s->j;
	const char *sink_host = j->cfg->dry_run ? NULL : j->job->sink.acct.host;
	if (!throttle_conn_acquire_pair(j->cfg->throttle, j->job->source.acct.host, sink_host,
					&s->q->drained))
		return false;
	j->slots_held = true;
	if (atomic_load(&s->q->drained) || atomic_load(&mf_cancel_requested)) {
		job_release_slots(j);
		return false;
	}
	log_msg(MF_LOG_DEBUG, "%s: stream %u starts, a connection slot freed", j->job->name,
		s->number);
	return true;
}

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	struct job_ctx *j = &s->j;
	if (s->late && !late_slots(s)) {
		s->st = MF_OK;
		spool_free(&j->spool);
		return NULL;
	}
	job_open_sink_start(j);
	int st = state_open(j->cfg->state_path, &j->db, &s->err);
	if (st == MF_OK)
		st = job_open_source(j, &s->err);
	struct mf_error sink_err;
	int sink_st = job_open_sink_finish(j, &sink_err);
	if (st == MF_OK && sink_st != MF_OK) {
		st = sink_st;
		s->err = sink_err;
	}
	if (st == MF_OK) {
		st = copy_folders(j, s->q, &s->err);
	} else if (st != MF_ERR_CANCELED) {
		/* Servers cap connections per user: fewer streams, same
		 * result, the others take this one's folders. */
		log_msg(MF_LOG_WARN, "%s: stream %u not started (%s); the other streams go on",
			j->job->name, s->number, s->err.text);
		st = MF_OK;
	}
	s->st = st;
	job_close_source(j);
	job_lanes_close(j);
	job_close_sink(j);
	job_release_slots(j);
	spool_free(&j->spool);
	state_close(&j->writer_db);
	state_close(&j->db);
	return NULL;
}

/* How many streams this mailbox gets: what was asked, no more than it has
 * folders (or, with a source that splits them, parts) to copy, and one
 * unless both plugins allow parallel sessions. */
static unsigned streams_for(const struct job_ctx *j, const struct folder_queue *q)
{
	unsigned want = j->cfg->streams > 0 ? j->cfg->streams : 1;
	if (j->cfg->conn_per_account > 0 && want > j->cfg->conn_per_account)
		want = j->cfg->conn_per_account;
	bool parallel = (j->src_plugin->desc.caps & MF_CAP_PARALLEL_SESSIONS) &&
			(j->cfg->dry_run || (j->snk_plugin->desc.caps & MF_CAP_PARALLEL_SESSIONS));
	if (!parallel)
		return 1;
	bool splits = j->src_plugin->source.split != NULL && j->retry == NULL;
	unsigned folders = 0;
	for (size_t i = 0; i < q->l.n; i++) {
		const struct mf_folder *f = &q->l.v[i];
		if (!folder_selected(j, f))
			continue;
		uint64_t parts = 1;
		if (splits)
			parts = f->messages == MF_COUNT_UNKNOWN ? want
								: f->messages / SPLIT_MIN_PART;
		folders += parts > 1 ? (parts < want ? (unsigned)parts : want) : 1;
	}
	return want < folders ? want : folders > 0 ? folders : 1;
}

/* Start up to n - 1 further streams; returns how many started, *late
 * of them waiting for a connection slot. */
static unsigned start_streams(struct job_ctx *j, struct folder_queue *q, struct stream *s,
			      unsigned n, unsigned *late)
{
	*late = 0;
	unsigned started = 0;
	for (unsigned i = 0; i + 1 < n; i++) {
		struct stream *st = &s[started];
		memset(st, 0, sizeof(*st));
		st->j = *j;
		st->j.src = NULL;
		st->j.snk = NULL;
		st->j.db = NULL;
		st->j.writer_db = NULL;
		st->j.slots_held = false;
		st->j.rng = j->rng ^ (0x9e3779b97f4a7c15ull * (i + 1));
		st->q = q;
		st->number = i + 2;
		/* Within --connections-per-host: a stream that would pass it
		 * waits for a slot (another mailbox's tail frees them) and
		 * gives up once this one's work is all taken. */
		st->late = !job_try_acquire_slots(&st->j);
		*late += st->late;
		spool_init(&st->j.spool, j->cfg->spool_mem_limit, j->cfg->tmpdir);
		int e = pthread_create(&st->thread, NULL, stream_main, st);
		if (e != 0) {
			log_msg(MF_LOG_WARN, "%s: cannot start stream %u (%s)", j->job->name,
				st->number, strerror(e));
			spool_free(&st->j.spool);
			job_release_slots(&st->j);
			*late -= st->late;
			break;
		}
		started++;
	}
	return started;
}

static int copy_mailbox(struct job_ctx *j, struct mf_error *err)
{
	struct job *job = j->job;
	/* The sink logs in while the source does and lists its folders. */
	job_open_sink_start(j);
	int st = job_open_source(j, err);
	struct folder_queue q = { .next = 0 };
	if (st == MF_OK)
		st = list_with_retry(j, &q.l, err);
	struct mf_error sink_err;
	int sink_st = job_open_sink_finish(j, &sink_err);
	if (st == MF_OK && sink_st != MF_OK) {
		st = sink_st;
		*err = sink_err;
	}
	for (size_t i = 0; st == MF_OK && i < q.l.n; i++) {
		const struct retry_folder *rf = retry_folder_of(j, q.l.v[i].path);
		if (rf != NULL && !rf->failed && folder_selected(j, &q.l.v[i]))
			job->counters.expected += rf->messages;
		else if (q.l.v[i].messages != MF_COUNT_UNKNOWN && folder_selected(j, &q.l.v[i]))
			job->counters.expected += q.l.v[i].messages;
	}
	/* A folder with failures recorded that the source no longer has
	 * cannot be retried: say so rather than pass over it in silence. */
	for (size_t i = 0; st == MF_OK && j->retry != NULL && i < j->retry->n; i++) {
		bool found = false;
		for (size_t k = 0; !found && k < q.l.n; k++)
			found = strcmp(q.l.v[k].path, j->retry->v[i].path) == 0;
		if (!found)
			log_msg(MF_LOG_WARN,
				"%s: folder %s has failures recorded but the source "
				"no longer lists it; not retried",
				job->name, j->retry->v[i].path);
	}
	if (st == MF_OK)
		st = take_place(j, err);
	if (st == MF_OK) {
		unsigned n = streams_for(j, &q);
		q.streams = n;
		q.fair_share = job->counters.expected / n;
		struct stream *extra = n > 1 ? mf_xcalloc(n - 1, sizeof(*extra)) : NULL;
		unsigned late = 0;
		unsigned started = n > 1 ? start_streams(j, &q, extra, n, &late) : 0;
		if (n > 1 && late > 0)
			log_msg(MF_LOG_DEBUG,
				"%s: %u streams (%u more when a connection slot frees)", job->name,
				started + 1 - late, late);
		else if (n > 1)
			log_msg(MF_LOG_DEBUG, "%s: %u streams", job->name, started + 1);
		pthread_mutex_lock(j->lock);
		q.streams = started + 1;
		q.fair_share = job->counters.expected / q.streams;
		pthread_mutex_unlock(j->lock);
		st = copy_folders(j, &q, err);
		for (unsigned i = 0; i < started; i++) {
			pthread_join(extra[i].thread, NULL);
			if (st == MF_OK && extra[i].st != MF_OK) {
				st = extra[i].st;
				*err = extra[i].err;
			}
		}
		free(extra);
	}
	folder_queue_free(&q);
	return st;
}

static void run_job(const struct run_config *cfg, struct job *job, struct job_place *place)
{
	pthread_mutex_t lock;
	pthread_mutex_init(&lock, NULL);
	struct job_ctx j = { .cfg = cfg,
			     .job = job,
			     .fmap = job->folders ? job->folders : cfg->folders,
			     .lock = &lock,
			     .place = place };
	struct mf_error err = { 0 };
	uint64_t t0 = throttle_now_ns();
	j.rng = t0 ^ (uint64_t)(uintptr_t)job;
	spool_init(&j.spool, cfg->spool_mem_limit, cfg->tmpdir);
	job->result = JOB_FAILED;
	job->error[0] = '\0';
	memset(&job->counters, 0, sizeof(job->counters));

	bool enabled = true;
	struct retry_folders retry = { 0 };
	int st = state_open(cfg->state_path, &j.db, &err);
	if (st == MF_OK && cfg->only_failed) {
		/* Asked before the mailbox is marked running: one with
		 * nothing to retry is left exactly as it was. */
		st = state_retry_folders(j.db, job->name, add_retry_folder, &retry, &err);
		j.retry = &retry;
		if (st == MF_OK && retry.n == 0) {
			job->result = JOB_NOTHING_FAILED;
			log_msg(MF_LOG_INFO,
				"%s: no folder or message recorded as failed: skipped "
				"(a mailbox that failed before reaching a folder is "
				"retried by a run without --only-failed)",
				job->name);
			if (cfg->events.mailbox_done)
				cfg->events.mailbox_done(cfg->events.ctx, job->name, "skipped",
							 NULL, &job->counters, 0);
			goto out;
		}
	}
	if (st == MF_OK)
		st = state_mailbox_begin(j.db, job->name, job->source.uri, job->sink.uri,
					 &j.mailbox_id, &enabled, &err);
	if (st != MF_OK && err.sys_errno == EBUSY) {
		/* Another worker is in it (its lease ran out but its session
		 * lives): not a failure, and nothing of it is touched. */
		job->result = JOB_HELD;
		log_msg(MF_LOG_WARN, "%s; asked for again later", err.text);
		goto out;
	}
	if (st == MF_OK && enabled && job->force_disabled) {
		enabled = false;
		st = state_mailbox_set_enabled(j.db, job->name, false, &err);
	}
	if (st == MF_OK && !enabled) {
		job->result = JOB_DISABLED;
		log_msg(MF_LOG_INFO, "%s: disabled, skipped", job->name);
		goto out;
	}
	if (st == MF_OK) {
		j.src_plugin =
			registry_get(cfg->registry, MF_PLUGIN_SOURCE, job->source.scheme, &err);
		j.snk_plugin = registry_get(cfg->registry, MF_PLUGIN_SINK, job->sink.scheme, &err);
		if (j.src_plugin == NULL || j.snk_plugin == NULL)
			st = err.status ? (int)err.status : MF_ERR_FATAL;
	}
	if (st == MF_OK) {
		if (cfg->events.mailbox_start)
			cfg->events.mailbox_start(cfg->events.ctx, job->name, job->source.uri,
						  job->sink.uri);
		if (!job_acquire_slots(&j))
			st = mf_error_set(&err, MF_ERR_CANCELED, MF_RETRY_NEVER, "canceled");
		else
			st = copy_mailbox(&j, &err);
	}
	job_close_source(&j);
	job_lanes_close(&j);
	job_close_sink(&j);
	job_release_slots(&j);
	if (st == MF_OK) {
		job->result = JOB_DONE;
	} else {
		job->result = st == MF_ERR_CANCELED ? JOB_CANCELED : JOB_FAILED;
		job->status = (enum mf_status)st;
		snprintf(job->error, sizeof(job->error), "%s", err.text);
		if (st != MF_ERR_CANCELED)
			log_msg(MF_LOG_ERROR, "%s: %s", job->name, err.text);
	}
	if (j.db != NULL) {
		static const char *const names[] = { "done", "failed", "disabled", "pending" };
		struct mf_error e2;
		state_mailbox_finish(j.db, j.mailbox_id, names[job->result],
				     job->error[0] ? job->error : NULL, &e2);
	}
	if (cfg->events.mailbox_done)
		cfg->events.mailbox_done(cfg->events.ctx, job->name,
					 job->result == JOB_DONE       ? "done"
					 : job->result == JOB_CANCELED ? "canceled"
								       : "failed",
					 job->error[0] ? job->error : NULL, &job->counters,
					 (double)(throttle_now_ns() - t0) / 1e9);
out:
	retry_folders_free(&retry);
	spool_free(&j.spool);
	state_close(&j.writer_db);
	state_close(&j.db);
	pthread_mutex_destroy(&lock);
}

void job_free(struct job *job)
{
	free(job->name);
	uri_spec_free(&job->source);
	uri_spec_free(&job->sink);
	if (job->owns_folders) {
		folder_map_free((struct folder_map *)job->folders);
		free((struct folder_map *)job->folders);
	}
	memset(job, 0, sizeof(*job));
}

struct pool {
	const struct run_config *cfg;
	struct job *jobs;
	struct pool_counter queue;
	struct run_shared *shared; /* the run's queue is in the store, or NULL */
	struct pool_gate gate;     /* --jobs mailboxes copying, tails aside */
	struct pool_gate opening;  /* one mailbox logging in ahead */
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		/* A free place: straight in.  None: open ahead, one at a
		 * time, and wait for one with the sessions ready.  Not with
		 * a shared store: a mailbox claimed there while it waits
		 * here would be one the other workers cannot take. */
		bool placed = pool_gate_try_enter(&p->gate);
		if (!placed && p->shared != NULL) {
			pool_gate_enter(&p->gate);
			placed = true;
		} else if (!placed) {
			pool_gate_enter(&p->opening);
		}
		size_t i = p->shared != NULL ? run_shared_next(p->shared)
					     : pool_counter_next(&p->queue);
		struct job_place place = { .gate = &p->gate,
					   .opening = &p->opening,
					   .held = placed,
					   .opening_held = !placed };
		if (i != SIZE_MAX)
			run_job(p->cfg, &p->jobs[i], &place);
		/* Its streams have ended: nothing else reads place. */
		if (place.opening_held)
			pool_gate_leave(&p->opening);
		if (place.held)
			pool_gate_leave(&p->gate);
		if (i == SIZE_MAX)
			return NULL;
		if (p->shared != NULL)
			run_shared_finished(p->shared, i);
	}
}

/* Every mailbox of the run is in the state, "pending", before the first
 * starts: a dashboard shows the ones still waiting too. */
static void declare_jobs(struct state_db *db, const struct job *jobs, size_t n)
{
	struct state_mailbox_decl *v = mf_xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct state_mailbox_decl){ jobs[i].name, jobs[i].source.uri,
						    jobs[i].sink.uri };
	struct mf_error err;
	if (state_mailboxes_declare(db, v, n, &err) != MF_OK)
		log_msg(MF_LOG_WARN, "%s", err.text);
	free(v);
}

void scheduler_run(const struct run_config *cfg, struct job *jobs, size_t n)
{
	/* Initialise every plugin we will need on this thread: plugin init()
	 * is not required to be thread-safe. */
	for (size_t i = 0; i < n; i++) {
		struct mf_error err;
		jobs[i].result = JOB_CANCELED;
		registry_get(cfg->registry, MF_PLUGIN_SOURCE, jobs[i].source.scheme, &err);
		registry_get(cfg->registry, MF_PLUGIN_SINK, jobs[i].sink.scheme, &err);
	}
	/* Create the state file and switch it to WAL here, once: that needs
	 * an exclusive lock, which parallel jobs opening a new file at the
	 * same moment would fight over ("database is locked"). */
	struct state_db *db = NULL;
	struct mf_error err;
	if (state_open(cfg->state_path, &db, &err) != MF_OK)
		log_msg(MF_LOG_ERROR, "%s", err.text); /* each job reports it too */
	else if (!cfg->only_failed)                    /* a retry adds no mailboxes */
		declare_jobs(db, jobs, n);
	state_close(&db);
	struct pool p = { .cfg = cfg, .jobs = jobs };
	pool_counter_init(&p.queue, n);
	p.shared = n > 0 ? run_shared_start(cfg, jobs, n) : NULL;
	unsigned at_once = cfg->jobs > 0 ? cfg->jobs : 1;
	pool_gate_init(&p.gate, at_once);
	pool_gate_init(&p.opening, 1);
	/* A thread per mailbox copying, one per mailbox in its tail, and
	 * one for the mailbox opening ahead. */
	unsigned nthreads = at_once <= UINT_MAX / 2 - 1 ? 2 * at_once + 1 : at_once;
	if (nthreads > n)
		nthreads = (unsigned)n;
	pool_run(nthreads, worker, &p, "job");
	pool_gate_destroy(&p.gate);
	pool_gate_destroy(&p.opening);
	if (p.shared != NULL) {
		char why[600];
		bool ended = run_shared_ended(p.shared, why, sizeof(why));
		size_t elsewhere = 0, unrun = 0;
		for (size_t i = 0; i < n; i++) {
			if (jobs[i].result != JOB_CANCELED && jobs[i].result != JOB_HELD)
				continue;
			if (ended) {
				/* Never started here (or only found held):
				 * another worker of the run finished it. */
				jobs[i].result = JOB_ELSEWHERE;
				elsewhere++;
			} else if (!atomic_load(&mf_cancel_requested)) {
				/* The store went away: not done, and not by
				 * anyone this worker knows of. */
				jobs[i].result = JOB_FAILED;
				jobs[i].status = MF_ERR_ACCOUNT;
				snprintf(jobs[i].error, sizeof(jobs[i].error), "%.500s", why);
				unrun++;
			}
		}
		log_msg(MF_LOG_INFO,
			"worker %s: %zu of %zu mailboxes run here, %zu by other workers%s",
			state_worker_name(), n - elsewhere - unrun, n, elsewhere,
			ended ? "" : "; the run did not end");
		run_shared_stop(&p.shared);
	}
	pool_counter_destroy(&p.queue);
}
