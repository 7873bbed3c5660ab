/* SPDX-License-Identifier: MIT */
/* Sink lanes: several sink sessions behind one stream.
 *
 * An IMAP target without LITERAL+ answers every APPEND's literal with a
 * "+" first, so one session moves one message per round trip: over a
 * 50 ms link some 16 messages a second, a fifth of a 100 Mbit/s link
 * for mail of 40 kB, however the appends are pipelined.  More streams
 * would also open more source sessions, which the source caps too
 * (Dovecot: 10 per user and address).  So each stream keeps one source
 * session and stores through up to --append-lanes sink sessions; the
 * writer (job_folder.c) hands each message to one of them by its source
 * id, so a message the source delivers twice meets its first delivery
 * in the same lane's queue.  Every lane records its own outcomes on its
 * own state connection, exactly as the first lane does.  Lanes count
 * against --connections-per-host on the sink's host and, with the
 * streams, against --connections-per-account. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "job_p.h"
#include "log.h"
#include "throttle.h"

/* Sink sessions per stream: what was asked, within the account's cap
 * shared by the mailbox's streams. */
static unsigned lanes_for(const struct job_ctx *j)
{
	unsigned want = j->cfg->append_lanes > 0 ? j->cfg->append_lanes : 1;
	unsigned streams = j->cfg->streams > 0 ? j->cfg->streams : 1;
	unsigned cap = j->cfg->conn_per_account;
	if (cap > 0 && want > cap / streams)
		want = cap / streams > 0 ? cap / streams : 1;
	return want;
}

static void lane_drop(struct job_ctx *l)
{
	job_close_sink(l);
	throttle_conn_release_pair(l->cfg->throttle, l->job->sink.acct.host, NULL);
	state_close(&l->db);
}

void job_lanes_open(struct job_ctx *j)
{
	if (j->lanes_tried || j->cfg->dry_run || j->snk == NULL ||
	    j->snk_plugin->sink.appends_wait == NULL || !j->snk_plugin->sink.appends_wait(j->snk))
		return;
	j->lanes_tried = true;
	unsigned want = lanes_for(j) - 1;
	if (want == 0)
		return;
	/* Each its own allocation: the sink plugin keeps a pointer to the
	 * account it was opened with (snk_acct) until close. */
	j->lanes = mf_xcalloc(want, sizeof(*j->lanes));
	unsigned n = 0;
	for (; n < want; n++) {
		if (!throttle_conn_try_acquire_pair(j->cfg->throttle, j->job->sink.acct.host, NULL))
			break;
		struct job_ctx *l = mf_xcalloc(1, sizeof(*l));
		*l = *j;
		l->src = NULL;
		l->snk = NULL;
		l->db = NULL;
		l->writer_db = NULL;
		l->lanes = NULL;
		l->nlanes = 0;
		l->slots_held = false;
		memset(&l->spool, 0, sizeof(l->spool));
		memset(&l->src_acct, 0, sizeof(l->src_acct));
		memset(&l->snk_acct, 0, sizeof(l->snk_acct));
		l->rng ^= 0xd1b54a32d192ed03ull * (n + 1);
		struct mf_error err;
		if (state_open(j->cfg->state_path, &l->db, &err) != MF_OK) {
			log_msg(MF_LOG_WARN, "%s: sink lane %u not opened (%s)", j->job->name,
				n + 2, err.text);
			throttle_conn_release_pair(j->cfg->throttle, j->job->sink.acct.host, NULL);
			free(l);
			break;
		}
		job_open_sink_start(l); /* the lanes log in at once */
		j->lanes[n] = l;
	}
	unsigned kept = 0;
	for (unsigned k = 0; k < n; k++) {
		struct job_ctx *l = j->lanes[k];
		struct mf_error err;
		if (job_open_sink_finish(l, &err) != MF_OK) {
			/* Servers cap sessions per user: fewer lanes. */
			log_msg(MF_LOG_WARN, "%s: sink lane %u not opened (%s)", j->job->name,
				k + 2, err.text);
			lane_drop(l);
			free(l);
			continue;
		}
		j->lanes[kept++] = l;
	}
	j->nlanes = kept;
	if (kept == 0) {
		free(j->lanes);
		j->lanes = NULL;
	}
	log_msg(MF_LOG_DEBUG, "%s: the sink's appends wait a round trip each: %u sink sessions",
		j->job->name, kept + 1);
}

void job_lanes_close(struct job_ctx *j)
{
	for (unsigned k = 0; k < j->nlanes; k++) {
		lane_drop(j->lanes[k]);
		free(j->lanes[k]);
	}
	free(j->lanes);
	j->lanes = NULL;
	j->nlanes = 0;
	j->lanes_tried = false;
}
