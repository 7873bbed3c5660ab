/* SPDX-License-Identifier: MIT */
/* Running preflight rows (core/preflight.h): per mailbox job, open the
 * source and the sink session as a migration would (same URI, account and
 * password plumbing), list and measure the wanted source folders, ask the
 * target's quota, size limit and folder rules through the ABI 1.5 probe
 * slots, and close.  Nothing is written to either side.  Rows run
 * --jobs at once on worker threads; each stops probing at its deadline
 * (the network waits inside are bounded by the "timeout" setting).  The
 * verdict is preflight_judge.c's. */
#include <config.h>
#include "preflight.h"
#include "pool.h"

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plugin_loader.h"
#include "throttle.h"

struct pf_task {
	const struct preflight_config *cfg;
	struct job *job;
	struct preflight_row *row;
	struct loaded_plugin *src_lp, *snk_lp;
	struct mf_error src_err, snk_err; /* registry_get's, when no plugin */
};

struct pf_folder {
	char *path;
	enum mf_special_use special_use;
	uint64_t messages, bytes;
	bool selectable;
};

struct pf_folders {
	const struct folder_map *map;
	struct pf_folder *v;
	size_t n;
};

static int collect_folder(const struct mf_folder *f, void *aux)
{
	struct pf_folders *fs = aux;
	if (!folder_map_wanted(fs->map, f->path))
		return MF_OK;
	fs->v = mf_xrealloc(fs->v, (fs->n + 1) * sizeof(*fs->v));
	fs->v[fs->n++] = (struct pf_folder){ mf_xstrdup(f->path), f->special_use, f->messages,
					     f->bytes, f->selectable };
	return MF_OK;
}

static void side_failed(struct preflight_side *s, const struct mf_error *err)
{
	s->login = preflight_classify(err);
	snprintf(s->error, sizeof(s->error), "%s", err->text);
}

static void probe_init(struct mf_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->struct_size = sizeof(*p);
	p->quota_used = p->quota_limit = p->max_message_size = MF_COUNT_UNKNOWN;
}

static void add_refused(struct preflight_row *r, const char *path, const char *why)
{
	r->refused = mf_xrealloc(r->refused, (r->n_refused + 1) * sizeof(char *));
	r->refused[r->n_refused++] = mf_xasprintf("%s: %s", path, why);
}

static bool past(uint64_t deadline_ns)
{
	return deadline_ns != 0 && throttle_now_ns() >= deadline_ns;
}

/* One wanted folder: its counts (probe_folder if the source has it, else
 * list_folders' numbers) and whether the target would refuse its name. */
static void measure_folder(struct pf_task *t, struct mf_source *src, struct mf_sink *snk,
			   const struct pf_folder *f, uint64_t limit)
{
	struct preflight_row *r = t->row;
	if (snk != NULL && t->snk_lp->sink.folder_refused != NULL) {
		enum mf_special_use su;
		struct mf_folder mf = { .path = f->path,
					.special_use = f->special_use,
					.selectable = f->selectable };
		char *target = folder_map_target(t->cfg->folders, &mf, &su);
		char why[256] = "";
		/* Special-use folders land in the target's own Sent, Trash... */
		if (su == MF_SPECIAL_NONE && strcmp(target, "INBOX") != 0 &&
		    t->snk_lp->sink.folder_refused(snk, target, why, sizeof(why)))
			add_refused(r, target, why);
		free(target);
	}
	if (!f->selectable)
		return;
	r->folders++;
	struct mf_folder_probe p = { .struct_size = sizeof(p),
				     .messages = f->messages,
				     .bytes = f->bytes,
				     .n_larger = MF_COUNT_UNKNOWN,
				     .largest = MF_COUNT_UNKNOWN };
	if (t->src_lp->source.probe_folder != NULL) {
		struct mf_error err;
		uint64_t over = limit != MF_COUNT_UNKNOWN ? limit : 0;
		if (t->src_lp->source.probe_folder(src, f->path, over, &p, &err) != MF_OK) {
			if (r->folder_error == NULL)
				r->folder_error = mf_xstrdup(err.text);
			r->counts_partial = true;
			return;
		}
	}
	if (p.messages == MF_COUNT_UNKNOWN || p.bytes == MF_COUNT_UNKNOWN)
		r->counts_partial = true;
	if (p.messages != MF_COUNT_UNKNOWN)
		r->messages += p.messages;
	if (p.bytes != MF_COUNT_UNKNOWN && r->bytes != MF_COUNT_UNKNOWN)
		r->bytes += p.bytes;
	else
		r->bytes = MF_COUNT_UNKNOWN;
	if (limit == MF_COUNT_UNKNOWN || p.n_larger == MF_COUNT_UNKNOWN) {
		r->oversize = MF_COUNT_UNKNOWN;
	} else if (r->oversize != MF_COUNT_UNKNOWN) {
		r->oversize += p.n_larger;
		if (p.largest != MF_COUNT_UNKNOWN &&
		    (r->largest == MF_COUNT_UNKNOWN || p.largest > r->largest))
			r->largest = p.largest;
	}
}

static void run_row(struct pf_task *t)
{
	struct preflight_row *r = t->row;
	struct job *job = t->job;
	uint64_t deadline =
		t->cfg->timeout_s ? throttle_now_ns() + (uint64_t)t->cfg->timeout_s * 1000000000ull
				  : 0;
	r->bytes = 0;
	r->oversize = 0;
	r->largest = MF_COUNT_UNKNOWN;
	probe_init(&r->source.probe);
	probe_init(&r->sink.probe);
	/* Both logins are tried whatever the other gives: the operator
	 * wants every refusal of the row at once. */
	struct mf_source *src = NULL;
	struct mf_sink *snk = NULL;
	struct mf_error err;
	struct mf_account sacct = job->source.acct, kacct = job->sink.acct;
	sacct.id = kacct.id = job->name; /* errors name the mailbox as migrate does */
	if (t->src_lp == NULL) {
		side_failed(&r->source, &t->src_err);
		r->source.login = PF_LOGIN_CONFIG;
	} else if (t->src_lp->source.open(t->src_lp->ctx, &sacct, &src, &err) != MF_OK) {
		side_failed(&r->source, &err);
		t->src_lp->source.close(&src);
	} else {
		r->source.login = PF_LOGIN_OK;
	}
	if (t->snk_lp == NULL) {
		side_failed(&r->sink, &t->snk_err);
		r->sink.login = PF_LOGIN_CONFIG;
	} else if (t->snk_lp->sink.open(t->snk_lp->ctx, &kacct, &snk, &err) != MF_OK) {
		side_failed(&r->sink, &err);
		t->snk_lp->sink.close(&snk);
	} else {
		r->sink.login = PF_LOGIN_OK;
	}
	if (snk != NULL && t->snk_lp->sink.probe != NULL) {
		if (t->snk_lp->sink.probe(snk, &r->sink.probe, &err) == MF_OK)
			r->sink.probed = true;
		else
			snprintf(r->sink.error, sizeof(r->sink.error), "probe: %s", err.text);
	}
	if (src != NULL && t->src_lp->source.probe != NULL) {
		if (t->src_lp->source.probe(src, &r->source.probe, &err) == MF_OK)
			r->source.probed = true;
		else
			snprintf(r->source.error, sizeof(r->source.error), "probe: %s", err.text);
	}
	uint64_t limit = r->sink.probed ? r->sink.probe.max_message_size : MF_COUNT_UNKNOWN;
	struct pf_folders fs = { .map = job->folders ? job->folders : t->cfg->folders };
	if (src != NULL &&
	    t->src_lp->source.list_folders(src, collect_folder, &fs, &err) != MF_OK) {
		r->folder_error = mf_xstrdup(err.text);
		r->bytes = MF_COUNT_UNKNOWN;
	}
	for (size_t i = 0; i < fs.n; i++) {
		if (past(deadline) || atomic_load(&mf_cancel_requested)) {
			r->timed_out = past(deadline);
			r->counts_partial = true;
			break;
		}
		measure_folder(t, src, snk, &fs.v[i], limit);
	}
	if (src == NULL) {
		r->bytes = r->oversize = MF_COUNT_UNKNOWN;
		r->counts_partial = true;
	}
	if (limit == MF_COUNT_UNKNOWN)
		r->oversize = MF_COUNT_UNKNOWN;
	for (size_t i = 0; i < fs.n; i++)
		free(fs.v[i].path);
	free(fs.v);
	if (src != NULL)
		t->src_lp->source.close(&src);
	if (snk != NULL)
		t->snk_lp->sink.close(&snk);
	r->timed_out |= past(deadline);
	r->estimate_s = preflight_estimate(r->counts_partial ? MF_COUNT_UNKNOWN : r->bytes,
					   t->cfg->rate_bps);
	preflight_judge(r);
}

struct pf_pool {
	struct pf_task *tasks;
	struct pool_counter queue;
};

static void *pf_worker(void *arg)
{
	struct pf_pool *p = arg;
	for (size_t i; (i = pool_counter_next(&p->queue)) != SIZE_MAX;)
		run_row(&p->tasks[i]);
	return NULL;
}

void preflight_run(const struct preflight_config *cfg, struct job *jobs, size_t n,
		   struct preflight_row *rows)
{
	struct pf_pool pool = { .tasks = mf_xcalloc(n ? n : 1, sizeof(struct pf_task)) };
	pool_counter_init(&pool.queue, n);
	for (size_t i = 0; i < n; i++) {
		struct pf_task *t = &pool.tasks[i];
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].name = mf_xstrdup(jobs[i].name);
		rows[i].source_uri =
			mf_xstrdup(jobs[i].source.acct.uri ? jobs[i].source.acct.uri : "");
		rows[i].sink_uri = mf_xstrdup(jobs[i].sink.acct.uri ? jobs[i].sink.acct.uri : "");
		rows[i].estimate_s = -1;
		snprintf(rows[i].verdict, sizeof(rows[i].verdict), "canceled");
		*t = (struct pf_task){ .cfg = cfg, .job = &jobs[i], .row = &rows[i] };
		/* Here, on one thread: a plugin's init() need not be
		 * thread-safe (as scheduler_run does). */
		t->src_lp = registry_get(cfg->registry, MF_PLUGIN_SOURCE, jobs[i].source.scheme,
					 &t->src_err);
		t->snk_lp = registry_get(cfg->registry, MF_PLUGIN_SINK, jobs[i].sink.scheme,
					 &t->snk_err);
	}
	unsigned nt = cfg->jobs ? cfg->jobs : 1;
	if (nt > n)
		nt = (unsigned)n;
	if (n > 0)
		pool_run(nt, pf_worker, &pool, "preflight");
	pool_counter_destroy(&pool.queue);
	free(pool.tasks);
}

void preflight_row_free(struct preflight_row *r)
{
	free(r->name);
	free(r->source_uri);
	free(r->sink_uri);
	for (size_t i = 0; i < r->n_refused; i++)
		free(r->refused[i]);
	free(r->refused);
	free(r->folder_error);
	memset(r, 0, sizeof(*r));
}
