/* SPDX-License-Identifier: MIT */
/* A run shared by several workers (see run_shared.h).  One connection to
 * the store per worker process carries the claims, the heartbeat and the
 * shared limits, behind one mutex: each is a single short statement. */
#include <config.h>
#include "run_shared.h"

#include <mailferry/util.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "state.h"
#include "throttle.h"

/* How long a mailbox another session still holds is left alone before
 * this worker asks for it again. */
#define HELD_RETRY_S 10

struct skip {
	int64_t id;
	time_t until; /* 0: for good (not in this worker's list) */
};

struct run_shared {
	const struct run_config *cfg;
	struct state_db *db;
	pthread_mutex_t lock; /* db, held, skips */
	int64_t run_id;
	unsigned lease_s;
	int64_t *held; /* mailbox id per job index, 0 if not held */
	size_t n;
	struct skip *skips;
	size_t n_skips;
	size_t *by_name; /* job indices sorted by name, for claims */
	const struct job *jobs;
	pthread_t heartbeat;
	bool heartbeat_running;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	/* Why this worker stopped claiming: the run ended (every mailbox
	 * done by some worker), or the error that stopped it. */
	bool ended;
	char error[600];
};

/* The jobs qsort compares: set only around the one qsort in
 * run_shared_start, which runs before any job thread. */
static const struct job *sort_jobs;

static int by_name_cmp(const void *a, const void *b)
{
	return strcmp(sort_jobs[*(const size_t *)a].name, sort_jobs[*(const size_t *)b].name);
}

static size_t find_job(const struct run_shared *r, const char *name)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->jobs[r->by_name[mid]].name, name);
		if (c == 0)
			return r->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* The run's key: the same accounts list (and mode) is the same run, so
 * every worker started on it joins it, and a later re-run is a new one. */
static void run_key(const struct run_shared *r, bool only_failed, char out[80])
{
	struct mf_sha256 *h = mf_sha256_new();
	for (size_t i = 0; i < r->n; i++) {
		const char *name = r->jobs[r->by_name[i]].name;
		mf_sha256_update(h, name, strlen(name) + 1);
	}
	unsigned char d[32];
	mf_sha256_final(h, d);
	mf_sha256_free(&h);
	char hex[65];
	mf_hex(d, 32, hex);
	snprintf(out, 80, "%s:%.32s", only_failed ? "only-failed" : "accounts", hex);
}

static void lost_lease(int64_t id, void *aux)
{
	struct run_shared *r = aux;
	for (size_t i = 0; i < r->n; i++)
		if (r->held[i] == id)
			log_msg(MF_LOG_ERROR,
				"%s: the lease was taken by another worker while this one could "
				"not renew it; this worker stops on the mailbox at its next "
				"state write",
				r->jobs[i].name);
}

static void beat(struct run_shared *r)
{
	pthread_mutex_lock(&r->lock);
	int64_t *ids = mf_xcalloc(r->n ? r->n : 1, sizeof(*ids));
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->held[i] != 0)
			ids[k++] = r->held[i];
	struct mf_error err;
	if (state_run_heartbeat(r->db, ids, k, r->lease_s, lost_lease, r, &err) != MF_OK)
		log_msg(MF_LOG_WARN, "heartbeat: %s", err.text);
	pthread_mutex_unlock(&r->lock);
	free(ids);
}

static void *heartbeat_main(void *arg)
{
	struct run_shared *r = arg;
	unsigned every = r->lease_s / 3 ? r->lease_s / 3 : 1;
	pthread_mutex_lock(&r->stop_lock);
	while (!r->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += every;
		pthread_cond_timedwait(&r->stop_cond, &r->stop_lock, &ts);
		if (r->stopping)
			break;
		pthread_mutex_unlock(&r->stop_lock);
		beat(r);
		pthread_mutex_lock(&r->stop_lock);
	}
	pthread_mutex_unlock(&r->stop_lock);
	return NULL;
}

/* The throttle's run-wide limits, kept in the store. */
static double shared_take(void *ctx, const char *bucket, double rate, double burst, double n)
{
	struct run_shared *r = ctx;
	char name[64];
	snprintf(name, sizeof(name), "run:%lld:%s", (long long)r->run_id, bucket);
	double wait = 0;
	struct mf_error err;
	pthread_mutex_lock(&r->lock);
	int st = state_tokens_take(r->db, name, rate, burst, n, &wait, &err);
	pthread_mutex_unlock(&r->lock);
	if (st != MF_OK) /* paced by this worker alone until the store is back */
		log_msg(MF_LOG_WARN, "shared limit: %s", err.text);
	return wait;
}

static bool shared_slot_take(void *ctx, const char *host, unsigned cap, int *slot_r)
{
	struct run_shared *r = ctx;
	struct mf_error err;
	pthread_mutex_lock(&r->lock);
	int st = state_slot_take(r->db, host, cap, slot_r, &err);
	pthread_mutex_unlock(&r->lock);
	if (st != MF_OK) {
		log_msg(MF_LOG_WARN, "shared connection cap: %s", err.text);
		*slot_r = -1;
		return true; /* the local cap still holds: do not stop the run on it */
	}
	return *slot_r >= 0;
}

static void shared_slot_release(void *ctx, const char *host, int slot)
{
	struct run_shared *r = ctx;
	struct mf_error err;
	pthread_mutex_lock(&r->lock);
	if (slot >= 0 && state_slot_release(r->db, host, slot, &err) != MF_OK)
		log_msg(MF_LOG_WARN, "shared connection cap: %s", err.text);
	pthread_mutex_unlock(&r->lock);
}

struct run_shared *run_shared_start(const struct run_config *cfg, const struct job *jobs, size_t n)
{
	struct state_db *db = NULL;
	struct mf_error err;
	if (state_open(cfg->state_path, &db, &err) != MF_OK)
		return NULL;
	if (!state_is_shared(db)) {
		state_close(&db);
		return NULL;
	}
	struct run_shared *r = mf_xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->db = db;
	r->jobs = jobs;
	r->n = n;
	r->lease_s = cfg->lease_s ? cfg->lease_s : 60;
	r->held = mf_xcalloc(n ? n : 1, sizeof(*r->held));
	r->by_name = mf_xcalloc(n ? n : 1, sizeof(*r->by_name));
	for (size_t i = 0; i < n; i++)
		r->by_name[i] = i;
	sort_jobs = jobs;
	qsort(r->by_name, n, sizeof(*r->by_name), by_name_cmp);
	sort_jobs = NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->stop_lock, NULL);
	pthread_cond_init(&r->stop_cond, NULL);

	const char **names = mf_xcalloc(n ? n : 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = jobs[i].name;
	char key[80];
	run_key(r, cfg->only_failed, key);
	int st = state_run_join(db, key, names, n, r->lease_s, &r->run_id, &err);
	free(names);
	if (st != MF_OK) {
		log_msg(MF_LOG_ERROR, "%s", err.text);
		run_shared_stop(&r);
		return NULL;
	}
	log_msg(MF_LOG_INFO, "worker %s: joined run %lld (%zu mailboxes, lease %u s)",
		state_worker_name(), (long long)r->run_id, n, r->lease_s);
	int e = pthread_create(&r->heartbeat, NULL, heartbeat_main, r);
	r->heartbeat_running = e == 0;
	if (e != 0) {
		log_msg(MF_LOG_ERROR, "cannot start the heartbeat thread (%s)", strerror(e));
		run_shared_stop(&r);
		return NULL;
	}
	if (cfg->throttle != NULL)
		throttle_share(cfg->throttle, &(struct throttle_shared){
						      .ctx = r,
						      .take = shared_take,
						      .slot_take = shared_slot_take,
						      .slot_release = shared_slot_release,
					      });
	return r;
}

static void add_skip(struct run_shared *r, int64_t id, time_t until)
{
	r->skips = mf_xrealloc(r->skips, (r->n_skips + 1) * sizeof(*r->skips));
	r->skips[r->n_skips++] = (struct skip){ id, until };
}

size_t run_shared_next(struct run_shared *r)
{
	while (!atomic_load(&mf_cancel_requested)) {
		pthread_mutex_lock(&r->lock);
		time_t now = time(NULL);
		/* Not the ones this worker runs now: a claim may return a
		 * mailbox leased to this worker's name. */
		int64_t *skip = mf_xcalloc(r->n_skips + r->n + 1, sizeof(*skip));
		size_t k = 0, kept = 0;
		for (size_t i = 0; i < r->n_skips; i++)
			if (r->skips[i].until == 0 || r->skips[i].until > now) {
				r->skips[kept++] = r->skips[i];
				skip[k++] = r->skips[i].id;
			}
		r->n_skips = kept;
		for (size_t i = 0; i < r->n; i++)
			if (r->held[i] != 0)
				skip[k++] = r->held[i];
		enum state_claim c;
		struct state_claimed m;
		struct mf_error err;
		int st = state_run_claim(r->db, r->run_id, r->lease_s, skip, k, &c, &m, &err);
		free(skip);
		size_t i = SIZE_MAX;
		if (st == MF_OK && c == STATE_CLAIM_GOT) {
			i = find_job(r, m.name);
			if (i == SIZE_MAX) {
				/* Not in this worker's list (another list joined the
				 * run): give it back. */
				add_skip(r, m.id, 0);
				state_run_unclaim(r->db, m.id, &err);
				i = SIZE_MAX;
				c = STATE_CLAIM_WAIT;
				m.wait_ms = 0;
			} else {
				r->held[i] = m.id;
			}
		}
		pthread_mutex_unlock(&r->lock);
		if (st != MF_OK) {
			log_msg(MF_LOG_ERROR, "claiming the next mailbox: %s", err.text);
			pthread_mutex_lock(&r->lock);
			snprintf(r->error, sizeof(r->error), "not run by this worker: %s",
				 err.text);
			pthread_mutex_unlock(&r->lock);
			state_claimed_clear(&m);
			return SIZE_MAX;
		}
		if (i != SIZE_MAX) {
			if (m.taken_from != NULL)
				log_msg(MF_LOG_WARN,
					"%s: taken over from worker %s, whose lease ran out; "
					"appends it may have left pending are looked up on the "
					"target first",
					m.name, m.taken_from);
			state_claimed_clear(&m);
			return i;
		}
		unsigned wait = m.wait_ms;
		state_claimed_clear(&m);
		if (c == STATE_CLAIM_NONE) {
			pthread_mutex_lock(&r->lock);
			r->ended = true;
			pthread_mutex_unlock(&r->lock);
			return SIZE_MAX;
		}
		if (wait > 0 && !host_sleep_ms(wait))
			return SIZE_MAX;
	}
	return SIZE_MAX;
}

void run_shared_finished(struct run_shared *r, size_t i)
{
	const struct job *jobs = r->jobs;
	struct mf_error err;
	pthread_mutex_lock(&r->lock);
	int64_t id = r->held[i];
	r->held[i] = 0;
	int st = MF_OK;
	if (jobs[i].result == JOB_HELD) {
		add_skip(r, id, time(NULL) + HELD_RETRY_S);
		st = state_run_unclaim(r->db, id, &err);
	} else if (jobs[i].result != JOB_CANCELED) {
		/* A canceled job's lease ends when the worker leaves. */
		st = state_run_done(r->db, r->run_id, id, &err);
	}
	pthread_mutex_unlock(&r->lock);
	if (st != MF_OK)
		log_msg(MF_LOG_WARN,
			"%s: %s (another worker may visit it again: nothing is "
			"copied twice)",
			jobs[i].name, err.text);
}

bool run_shared_ended(struct run_shared *r, char *why, size_t len)
{
	pthread_mutex_lock(&r->lock);
	bool ended = r->ended;
	snprintf(why, len, "%s", r->error[0] ? r->error : "not run: canceled");
	pthread_mutex_unlock(&r->lock);
	return ended;
}

void run_shared_stop(struct run_shared **rp)
{
	struct run_shared *r = *rp;
	if (r == NULL)
		return;
	if (r->cfg->throttle != NULL)
		throttle_share(r->cfg->throttle, NULL);
	if (r->heartbeat_running) {
		pthread_mutex_lock(&r->stop_lock);
		r->stopping = true;
		pthread_cond_broadcast(&r->stop_cond);
		pthread_mutex_unlock(&r->stop_lock);
		pthread_join(r->heartbeat, NULL);
	}
	struct mf_error err;
	if (r->run_id != 0 && state_run_leave(r->db, &err) != MF_OK)
		log_msg(MF_LOG_WARN, "leaving the run: %s", err.text);
	state_close(&r->db);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->stop_lock);
	pthread_cond_destroy(&r->stop_cond);
	free(r->held);
	free(r->skips);
	free(r->by_name);
	free(r);
	*rp = NULL;
}
