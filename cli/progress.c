/* SPDX-License-Identifier: MIT */
/* Progress: JSON-lines events (jansson) and a redrawn terminal line.
 * Events carry names only, never credentials.  The terminal line is
 * redrawn at most five times a second so a fast local copy is not slowed
 * down by its own progress output.  With --only-failed the mailbox lines
 * and the summary count what was retried and what succeeded now, and the
 * messages that still fail are listed before the summary. */
#include <config.h>
#include "progress.h"

#include <mailferry/util.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

struct progress {
	FILE *out;
	bool json, live;
	pthread_mutex_t lock;
	uint64_t last_draw_ns;
	uint64_t start_ns;
	bool line_dirty;
	bool only_failed;
	size_t skipped_mailboxes; /* --only-failed: nothing failed in them */
};

struct progress *progress_new(FILE *out, bool json, bool live)
{
	struct progress *p = mf_xcalloc(1, sizeof(*p));
	p->out = out;
	p->json = json;
	p->live = live;
	p->start_ns = throttle_now_ns();
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void clear_line(struct progress *p)
{
	if (p->line_dirty) {
		fputs("\r\033[K", stderr);
		p->line_dirty = false;
	}
}

void progress_free(struct progress **pp)
{
	struct progress *p = *pp;
	if (p == NULL)
		return;
	clear_line(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}

const char *progress_human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

static void emit(struct progress *p, json_t *ev)
{
	json_object_set_new(ev, "time", json_integer((json_int_t)time(NULL)));
	char *s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (s == NULL)
		return;
	fprintf(p->out, "%s\n", s);
	fflush(p->out);
	free(s);
}

static json_t *counters_json(const struct progress *p, const struct job_counters *c)
{
	json_t *o = json_pack("{sI sI sI sI sI sI}", "copied", (json_int_t)c->copied, "bytes",
			      (json_int_t)c->copied_bytes, "skipped", (json_int_t)c->skipped,
			      "failed", (json_int_t)c->failed, "folders", (json_int_t)c->folders,
			      "folders_failed", (json_int_t)c->folders_failed);
	if (c->keywords_dropped > 0) /* the sink keeps no keywords (no MF_CAP_KEYWORDS) */
		json_object_set_new(o, "keywords_dropped",
				    json_integer((json_int_t)c->keywords_dropped));
	if (p->only_failed) {
		json_object_set_new(o, "retried", json_integer((json_int_t)c->retried));
		json_object_set_new(o, "succeeded_now", json_integer((json_int_t)c->recovered));
	}
	return o;
}

/* One side's bytes: plain (protocol data) and wire (after COMPRESS). */
static json_t *side_io_json(const struct job_io *io)
{
	uint64_t plain = io->plain_in + io->plain_out, wire = io->wire_in + io->wire_out;
	json_t *o = json_pack("{sI sI sI sI sb}", "plain_in", (json_int_t)io->plain_in, "plain_out",
			      (json_int_t)io->plain_out, "wire_in", (json_int_t)io->wire_in,
			      "wire_out", (json_int_t)io->wire_out, "compressed", io->compressed);
	if (plain > 0)
		json_object_set_new(o, "compress_ratio", json_real((double)wire / (double)plain));
	return o;
}

static json_t *io_json(const struct job_counters *c)
{
	return json_pack("{so so}", "source", side_io_json(&c->source_io), "sink",
			 side_io_json(&c->sink_io));
}

/* "sink: 42.0 MB sent as 13.1 MB (31%), ..." for the compressed sides,
 * or nothing when no side was compressed. */
static void print_io(FILE *out, const char *prefix, const struct job_counters *c)
{
	const struct job_io *sides[2] = { &c->source_io, &c->sink_io };
	static const char *const names[2] = { "source", "sink" };
	bool any = false;
	for (int i = 0; i < 2; i++) {
		const struct job_io *io = sides[i];
		if (!io->compressed)
			continue;
		char b1[32], b2[32];
		uint64_t plain = io->plain_in + io->plain_out, wire = io->wire_in + io->wire_out;
		if (!any)
			fprintf(out, "%scompression: ", prefix);
		fprintf(out, "%s%s: %s moved as %s on the wire (COMPRESS=DEFLATE, %.0f%%)",
			any ? ", " : "", names[i], progress_human_bytes(plain, b1, sizeof(b1)),
			progress_human_bytes(wire, b2, sizeof(b2)),
			plain > 0 ? 100.0 * (double)wire / (double)plain : 100.0);
		any = true;
	}
	if (any)
		fputc('\n', out);
}

static void on_mailbox_start(void *ctx, const char *mailbox, const char *source, const char *sink)
{
	struct progress *p = ctx;
	pthread_mutex_lock(&p->lock);
	if (p->json)
		emit(p, json_pack("{ss ss ss ss}", "event", "mailbox_start", "mailbox", mailbox,
				  "source", source, "sink", sink));
	pthread_mutex_unlock(&p->lock);
}

static void on_folder(void *ctx, const char *mailbox, const char *folder, const char *target,
		      uint64_t messages)
{
	struct progress *p = ctx;
	pthread_mutex_lock(&p->lock);
	if (p->json) {
		json_t *ev = json_pack("{ss ss ss ss}", "event", "folder_start", "mailbox", mailbox,
				       "folder", folder, "target", target);
		if (messages != UINT64_MAX)
			json_object_set_new(ev, "messages", json_integer((json_int_t)messages));
		emit(p, ev);
	}
	pthread_mutex_unlock(&p->lock);
}

static void draw(struct progress *p, const char *mailbox, const char *folder,
		 const struct job_counters *c)
{
	uint64_t now = throttle_now_ns();
	if (now - p->last_draw_ns < 200000000ull)
		return;
	p->last_draw_ns = now;
	double secs = (double)(now - p->start_ns) / 1e9;
	double rate = secs > 0 ? (double)c->copied_bytes / secs : 0;
	char b1[32], b2[32], eta[32] = "";
	uint64_t done = c->copied + c->skipped + c->failed;
	double mps = secs > 0 ? (double)c->copied / secs : 0;
	if (c->expected > done && mps > 0) {
		unsigned long s = (unsigned long)((double)(c->expected - done) / mps);
		snprintf(eta, sizeof(eta), " ETA %lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	}
	fprintf(stderr, "\r\033[K%s: %s: %llu copied, %llu skipped, %llu failed, %s, %s/s%s",
		mailbox, folder, (unsigned long long)c->copied, (unsigned long long)c->skipped,
		(unsigned long long)c->failed,
		progress_human_bytes(c->copied_bytes, b1, sizeof(b1)),
		progress_human_bytes((uint64_t)rate, b2, sizeof(b2)), eta);
	fflush(stderr);
	p->line_dirty = true;
}

static void on_message(void *ctx, const char *mailbox, const char *folder, const char *source_id,
		       enum progress_outcome outcome, uint64_t bytes, const char *error,
		       const struct job_counters *c)
{
	struct progress *p = ctx;
	static const char *const names[] = { "copied", "skipped", "failed" };
	pthread_mutex_lock(&p->lock);
	if (p->json && outcome != OUTCOME_SKIPPED) {
		json_t *ev = json_pack("{ss ss ss ss ss sI}", "event", "message", "outcome",
				       names[outcome], "mailbox", mailbox, "folder", folder, "id",
				       source_id, "bytes", (json_int_t)bytes);
		if (error != NULL)
			json_object_set_new(ev, "error", json_string(error));
		emit(p, ev);
	}
	if (p->live)
		draw(p, mailbox, folder, c);
	pthread_mutex_unlock(&p->lock);
}

static void on_folder_failed(void *ctx, const char *mailbox, const char *folder, const char *error)
{
	struct progress *p = ctx;
	pthread_mutex_lock(&p->lock);
	if (p->json)
		emit(p, json_pack("{ss ss ss ss}", "event", "folder_failed", "mailbox", mailbox,
				  "folder", folder, "error", error));
	pthread_mutex_unlock(&p->lock);
}

static void on_mailbox_done(void *ctx, const char *mailbox, const char *status, const char *error,
			    const struct job_counters *c, double seconds)
{
	struct progress *p = ctx;
	pthread_mutex_lock(&p->lock);
	if (strcmp(status, "skipped") == 0)
		p->skipped_mailboxes++;
	if (p->json) {
		json_t *ev = json_pack("{ss ss ss so sf}", "event", "mailbox_done", "mailbox",
				       mailbox, "status", status, "counts", counters_json(p, c),
				       "seconds", seconds);
		json_object_set_new(ev, "io", io_json(c));
		if (error != NULL)
			json_object_set_new(ev, "error", json_string(error));
		emit(p, ev);
	} else if (p->only_failed) {
		clear_line(p);
		if (strcmp(status, "skipped") == 0)
			fprintf(p->out, "%s: skipped: nothing recorded as failed\n", mailbox);
		else
			fprintf(p->out,
				"%s: %s: %llu retried, %llu succeeded now, %llu still failing"
				"%s%s\n",
				mailbox, status, (unsigned long long)c->retried,
				(unsigned long long)c->recovered, (unsigned long long)c->failed,
				error ? ": " : "", error ? error : "");
		if (c->copied > c->recovered)
			fprintf(p->out, "  %llu more copied from folders that had failed\n",
				(unsigned long long)(c->copied - c->recovered));
		fflush(p->out);
	} else {
		char b[32];
		clear_line(p);
		fprintf(p->out,
			"%s: %s: %llu copied (%s), %llu already there, %llu failed, "
			"%llu folders%s%s\n",
			mailbox, status, (unsigned long long)c->copied,
			progress_human_bytes(c->copied_bytes, b, sizeof(b)),
			(unsigned long long)c->skipped, (unsigned long long)c->failed,
			(unsigned long long)c->folders, error ? ": " : "", error ? error : "");
		print_io(p->out, "  ", c);
		fflush(p->out);
	}
	pthread_mutex_unlock(&p->lock);
}

struct run_events progress_events(struct progress *p)
{
	return (struct run_events){ .ctx = p,
				    .mailbox_start = on_mailbox_start,
				    .folder = on_folder,
				    .message = on_message,
				    .folder_failed = on_folder_failed,
				    .mailbox_done = on_mailbox_done };
}

void progress_set_only_failed(struct progress *p)
{
	p->only_failed = true;
}

void progress_still_failing(struct progress *p, const char *mailbox, const char *folder,
			    const char *source_id, const char *error)
{
	pthread_mutex_lock(&p->lock);
	clear_line(p);
	if (p->json) {
		json_t *ev = json_pack("{ss ss ss ss}", "event", "still_failed", "mailbox", mailbox,
				       "folder", folder, "id", source_id);
		if (error != NULL)
			json_object_set_new(ev, "error", json_string(error));
		emit(p, ev);
	} else if (error != NULL) {
		/* The recorded text already names mailbox, folder and message. */
		fprintf(p->out, "still failing: %s\n", error);
	} else {
		fprintf(p->out, "still failing: %s: %s: message %s\n", mailbox, folder, source_id);
	}
	fflush(p->out);
	pthread_mutex_unlock(&p->lock);
}

void progress_summary(struct progress *p, size_t mailboxes, size_t failed_mailboxes,
		      const struct job_counters *t, double seconds, bool dry_run)
{
	pthread_mutex_lock(&p->lock);
	clear_line(p);
	if (p->json) {
		json_t *ev = json_pack("{ss sI sI so sf sb}", "event", "summary", "mailboxes",
				       (json_int_t)mailboxes, "mailboxes_failed",
				       (json_int_t)failed_mailboxes, "counts", counters_json(p, t),
				       "seconds", seconds, "dry_run", dry_run);
		json_object_set_new(ev, "io", io_json(t));
		if (p->only_failed)
			json_object_set_new(ev, "mailboxes_skipped",
					    json_integer((json_int_t)p->skipped_mailboxes));
		emit(p, ev);
	} else if (p->only_failed) {
		fprintf(p->out,
			"%s--only-failed: %zu mailbox(es) retried, %zu skipped (nothing "
			"failed), %zu failed: %llu messages retried, %llu succeeded now, "
			"%llu still failing, in %.1f s\n",
			dry_run ? "dry run: " : "", mailboxes - p->skipped_mailboxes,
			p->skipped_mailboxes, failed_mailboxes, (unsigned long long)t->retried,
			(unsigned long long)t->recovered, (unsigned long long)t->failed, seconds);
	} else {
		char b1[32], b2[32];
		double rate = seconds > 0 ? (double)t->copied_bytes / seconds : 0;
		fprintf(p->out,
			"%s%zu mailbox(es), %zu failed: %llu messages %s (%s), %llu already "
			"there, %llu failed, in %.1f s (%s/s)\n",
			dry_run ? "dry run: " : "", mailboxes, failed_mailboxes,
			(unsigned long long)t->copied, dry_run ? "would be copied" : "copied",
			progress_human_bytes(t->copied_bytes, b1, sizeof(b1)),
			(unsigned long long)t->skipped, (unsigned long long)t->failed, seconds,
			progress_human_bytes((uint64_t)rate, b2, sizeof(b2)));
		if (t->keywords_dropped > 0)
			fprintf(p->out,
				"%llu messages copied without their keywords: the target keeps "
				"none\n",
				(unsigned long long)t->keywords_dropped);
		print_io(p->out, "", t);
	}
	fflush(p->out);
	pthread_mutex_unlock(&p->lock);
}
