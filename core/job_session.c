/* SPDX-License-Identifier: MIT */
/* The sessions of one mailbox job: open a source or sink session with the
 * account's password handed over and wiped at once, reopen with back-off
 * after retryable failures, and hold the job's two connection slots.
 * Refused credentials end the mailbox at once (servers lock accounts after
 * repeated failures) while the other mailboxes go on.  Called by the
 * scheduler and by the folder job; calls only plugins, throttle and retry. */
#include <config.h>
#include "job_p.h"

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "host.h"
#include "throttle.h"

/* Hand a plugin a copy of the account whose password we wipe as soon as
 * open() returns (plugin.h promises that); the job keeps its own copy for
 * reconnecting. */
static int open_side(struct job_ctx *j, struct account_spec *spec, struct mf_account *acct,
		     const char *what,
		     int (*opener)(struct job_ctx *, const struct mf_account *, struct mf_error *),
		     struct mf_error *err)
{
	/* In the job context, not on this stack: plugin.h lends the account
	 * from open() until close() (EWS asks the OAuth service with it when
	 * a token expires mid-session). */
	*acct = spec->acct;
	acct->id = j->job->name; /* error texts name the mailbox as the operator does */
	char *pw = spec->password ? mf_xstrdup(spec->password) : NULL;
	acct->password = pw;
	int st = opener(j, acct, err);
	acct->password = NULL;
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (st != MF_OK)
		log_msg(MF_LOG_DEBUG, "%s: open %s failed: %s", j->job->name, what, err->text);
	return st;
}

static int src_opener(struct job_ctx *j, const struct mf_account *a, struct mf_error *err)
{
	crash_enter(j->src_plugin->desc.name, "opening", j->job->name, NULL);
	int st = j->src_plugin->source.open(j->src_plugin->ctx, a, &j->src, err);
	crash_leave();
	return st;
}

static int snk_opener(struct job_ctx *j, const struct mf_account *a, struct mf_error *err)
{
	crash_enter(j->snk_plugin->desc.name, "opening", j->job->name, NULL);
	int st = j->snk_plugin->sink.open(j->snk_plugin->ctx, a, &j->snk, err);
	crash_leave();
	return st;
}

/* A session's byte counts (ABI 1.4, optional) into the mailbox's. */
static void add_io(struct job_io *to, const struct mf_io_stats *st)
{
	struct job_io one = { st->plain_in, st->plain_out, st->wire_in, st->wire_out,
			      st->compressed };
	job_io_add(to, &one);
}

void job_close_source(struct job_ctx *j)
{
	if (j->src_plugin == NULL)
		return;
	if (j->src != NULL && j->src_plugin->source.io_stats != NULL) {
		struct mf_io_stats st = { .struct_size = sizeof(st) };
		j->src_plugin->source.io_stats(j->src, &st);
		pthread_mutex_lock(j->lock); /* the job's other streams add too */
		add_io(&j->job->counters.source_io, &st);
		pthread_mutex_unlock(j->lock);
	}
	j->src_plugin->source.close(&j->src);
}

void job_close_sink(struct job_ctx *j)
{
	if (j->snk_plugin == NULL)
		return;
	if (j->snk != NULL && j->snk_plugin->sink.io_stats != NULL) {
		struct mf_io_stats st = { .struct_size = sizeof(st) };
		j->snk_plugin->sink.io_stats(j->snk, &st);
		pthread_mutex_lock(j->lock); /* the job's other streams add too */
		add_io(&j->job->counters.sink_io, &st);
		pthread_mutex_unlock(j->lock);
	}
	j->snk_plugin->sink.close(&j->snk);
}

/* A job's connection slots (source and sink host) are taken together
 * before its first connection and kept across reconnects until it ends:
 * jobs holding one slot each and waiting for a second could otherwise
 * block each other for good. */
bool job_acquire_slots(struct job_ctx *j)
{
	const char *sink_host = j->cfg->dry_run ? NULL : j->job->sink.acct.host;
	j->slots_held = throttle_conn_acquire_pair(j->cfg->throttle, j->job->source.acct.host,
						   sink_host, &mf_cancel_requested);
	return j->slots_held;
}

bool job_try_acquire_slots(struct job_ctx *j)
{
	const char *sink_host = j->cfg->dry_run ? NULL : j->job->sink.acct.host;
	j->slots_held = throttle_conn_try_acquire_pair(j->cfg->throttle, j->job->source.acct.host,
						       sink_host);
	return j->slots_held;
}

void job_release_slots(struct job_ctx *j)
{
	if (!j->slots_held)
		return;
	throttle_conn_release_pair(j->cfg->throttle, j->job->source.acct.host,
				   j->cfg->dry_run ? NULL : j->job->sink.acct.host);
	j->slots_held = false;
}

bool job_backoff(struct job_ctx *j, const struct mf_error *err, unsigned attempt)
{
	/* The sink may be opening on a thread of its own meanwhile. */
	pthread_mutex_lock(j->lock);
	uint32_t ms = retry_delay(&j->cfg->retry, err, attempt, &j->rng);
	pthread_mutex_unlock(j->lock);
	log_msg(MF_LOG_WARN, "%s: %s; retrying in %u ms (attempt %u of %u)", j->job->name,
		err->text, ms, attempt + 1, j->cfg->retry.max_attempts);
	return host_sleep_ms(ms);
}

/* Open one side with retries for transient failures. */
static int open_with_retry(struct job_ctx *j, bool source, struct mf_error *err)
{
	for (unsigned attempt = 1;; attempt++) {
		int st =
			source ? open_side(j, &j->job->source, &j->src_acct, "source", src_opener,
					   err)
			       : open_side(j, &j->job->sink, &j->snk_acct, "sink", snk_opener, err);
		if (st == MF_OK)
			return MF_OK;
		if (source)
			j->src_plugin->source.close(&j->src);
		else
			j->snk_plugin->sink.close(&j->snk);
		if (!retry_should_retry(&j->cfg->retry, err, attempt) ||
		    !job_backoff(j, err, attempt))
			return st;
	}
}

int job_open_source(struct job_ctx *j, struct mf_error *err)
{
	job_close_source(j);
	return open_with_retry(j, true, err);
}

int job_open_sink(struct job_ctx *j, struct mf_error *err)
{
	job_close_sink(j);
	if (j->cfg->dry_run)
		return MF_OK;
	return open_with_retry(j, false, err);
}

static void *sink_opener_main(void *arg)
{
	struct job_ctx *j = arg;
	j->opener.st = job_open_sink(j, &j->opener.err);
	return NULL;
}

void job_open_sink_start(struct job_ctx *j)
{
	j->opener.running = false;
	j->opener.st = MF_OK;
	if (j->cfg->dry_run)
		return;
	if (pthread_create(&j->opener.thread, NULL, sink_opener_main, j) == 0) {
		j->opener.running = true;
		return;
	}
	/* No thread to be had: the same, one after the other. */
	j->opener.st = job_open_sink(j, &j->opener.err);
}

int job_open_sink_finish(struct job_ctx *j, struct mf_error *err)
{
	if (j->opener.running)
		pthread_join(j->opener.thread, NULL);
	j->opener.running = false;
	if (j->opener.st != MF_OK)
		*err = j->opener.err;
	return j->opener.st;
}
