/* SPDX-License-Identifier: MIT */
/* "mailferry status", "enable", "disable": read and adjust the state
 * file.  Works while a migration runs (SQLite WAL readers never block the
 * writer), so an operator can watch every user's progress. */
#include <config.h>

#include <mailferry/util.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "engine.h"

enum status_format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct status_out {
	enum status_format fmt;
	json_t *array;
	bool detail;
	struct state_db *db;
};

static double rate_of(const struct state_mailbox_status *s)
{
	int64_t end = s->finished ? s->finished : (int64_t)time(NULL);
	int64_t secs = s->started ? end - s->started : 0;
	return secs > 0 ? (double)s->copied_bytes / (double)secs : 0;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	if (t == 0) {
		snprintf(buf, len, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
}

static void csv_field(const char *s, bool last)
{
	s = s ? s : "";
	if (strpbrk(s, ",\"\n\r") != NULL) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static int print_failure(const struct state_failure *f, void *aux)
{
	(void)aux;
	printf("    failed: %s: %s\n", f->folder, f->error ? f->error : f->source_id);
	return MF_OK;
}

static int print_one(const struct state_mailbox_status *s, void *aux)
{
	struct status_out *o = aux;
	char started[32], finished[32], bytes[32], rate[32];
	fmt_time(s->started, started, sizeof(started));
	fmt_time(s->finished, finished, sizeof(finished));
	double r = rate_of(s);
	switch (o->fmt) {
	case FMT_JSON:
		json_array_append_new(
			o->array,
			json_pack("{ss ss* ss* ss sb sI sI sI sI sI sf ss* sI sI ss* sI sI}",
				  "account", s->name, "source", s->source_uri, "sink", s->sink_uri,
				  "state", s->status, "enabled", s->enabled, "folders",
				  (json_int_t)s->folders, "copied", (json_int_t)s->copied, "bytes",
				  (json_int_t)s->copied_bytes, "failed", (json_int_t)s->failed,
				  "pending", (json_int_t)s->pending, "bytes_per_second", r,
				  "last_error", s->last_error, "started", (json_int_t)s->started,
				  "finished", (json_int_t)s->finished, "worker", s->worker,
				  "heartbeat", (json_int_t)s->heartbeat, "lease_until",
				  (json_int_t)s->lease_until));
		break;
	case FMT_CSV: {
		char n[5][32];
		snprintf(n[0], 32, "%llu", (unsigned long long)s->folders);
		snprintf(n[1], 32, "%llu", (unsigned long long)s->copied);
		snprintf(n[2], 32, "%llu", (unsigned long long)s->copied_bytes);
		snprintf(n[3], 32, "%llu", (unsigned long long)s->failed);
		snprintf(n[4], 32, "%.0f", r);
		csv_field(s->name, false);
		csv_field(s->status, false);
		for (int i = 0; i < 5; i++)
			csv_field(n[i], false);
		csv_field(started, false);
		csv_field(finished, false);
		csv_field(s->last_error, false);
		csv_field(s->worker, true);
		break;
	}
	case FMT_TABLE:
	default:
		printf("%-32s %-9s %7llu %9llu %10s %7llu %10s/s  %s\n", s->name, s->status,
		       (unsigned long long)s->folders, (unsigned long long)s->copied,
		       progress_human_bytes(s->copied_bytes, bytes, sizeof(bytes)),
		       (unsigned long long)s->failed,
		       progress_human_bytes((uint64_t)r, rate, sizeof(rate)),
		       s->last_error ? s->last_error : "");
		if (s->worker != NULL && s->lease_until != 0) {
			int64_t now = (int64_t)time(NULL);
			printf("    held by %s: heartbeat %llds ago, lease %s%llds\n", s->worker,
			       (long long)(now - s->heartbeat),
			       s->lease_until < now ? "ran out " : "ends in ",
			       (long long)(s->lease_until < now ? now - s->lease_until
								: s->lease_until - now));
		} else if (s->worker != NULL && o->detail) {
			printf("    last worker: %s\n", s->worker);
		}
		if (o->detail) {
			printf("    source: %s\n    sink:   %s\n    started %s, finished %s\n",
			       s->source_uri ? s->source_uri : "-", s->sink_uri ? s->sink_uri : "-",
			       started, finished);
			struct mf_error err;
			state_failures_foreach(o->db, s->name, print_failure, NULL, &err);
		}
		break;
	}
	return MF_OK;
}

static int print_worker(const struct state_worker *w, void *aux)
{
	struct status_out *o = aux;
	int64_t now = w->now ? w->now : (int64_t)time(NULL);
	/* No heartbeat for a whole lease: killed, or cut off from the
	 * database; its mailboxes go to the others. */
	const char *state = w->left ? "left"
			    : w->lease_s > 0 && now - w->heartbeat > (int64_t)w->lease_s
				    ? "silent"
				    : "running";
	if (o->fmt == FMT_JSON) {
		json_array_append_new(o->array,
				      json_pack("{ss ss sI sI sI sI}", "worker", w->name, "state",
						state, "holding", (json_int_t)w->holding, "started",
						(json_int_t)w->started, "heartbeat",
						(json_int_t)w->heartbeat, "left",
						(json_int_t)w->left));
	} else if (o->fmt == FMT_CSV) {
		char n[4][32];
		snprintf(n[0], 32, "%llu", (unsigned long long)w->holding);
		snprintf(n[1], 32, "%lld", (long long)w->started);
		snprintf(n[2], 32, "%lld", (long long)w->heartbeat);
		snprintf(n[3], 32, "%lld", (long long)w->left);
		csv_field(w->name, false);
		csv_field(state, false);
		for (int i = 0; i < 4; i++)
			csv_field(n[i], i == 3);
	} else {
		char started[32];
		fmt_time(w->started, started, sizeof(started));
		printf("%-32s %-8s %7llu %19s  %llds ago\n", w->name, state,
		       (unsigned long long)w->holding, started, (long long)(now - w->heartbeat));
	}
	return MF_OK;
}

/* The whole run under the table (with several workers, everyone's). */
static int print_totals(struct state_db *db, struct mf_error *err)
{
	struct state_totals t;
	int st = state_totals(db, &t, err);
	if (st != MF_OK)
		return st;
	char b[32];
	printf("total: %llu mailboxes (%llu done, %llu running, %llu failed, %llu pending, %llu "
	       "disabled), %llu messages copied (%s), %llu failed, %llu pending\n",
	       (unsigned long long)t.mailboxes, (unsigned long long)t.done,
	       (unsigned long long)t.running, (unsigned long long)t.failed,
	       (unsigned long long)t.pending, (unsigned long long)t.disabled,
	       (unsigned long long)t.copied, progress_human_bytes(t.copied_bytes, b, sizeof(b)),
	       (unsigned long long)t.failed_messages, (unsigned long long)t.pending_messages);
	return MF_OK;
}

/* status --workers: the workers a shared store knows. */
static int list_workers(struct status_out *o, struct mf_error *err)
{
	if (o->fmt == FMT_CSV)
		puts("worker,state,holding,started,heartbeat,left");
	else if (o->fmt == FMT_TABLE)
		printf("%-32s %-8s %7s %19s  %s\n", "WORKER", "STATE", "HOLDING", "STARTED",
		       "HEARTBEAT");
	return state_workers_foreach(o->db, print_worker, o, err);
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "workers", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	bool workers = false;
	const char *path = NULL;
	struct status_out o = { .fmt = FMT_TABLE };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			path = optarg;
		else if (c == 'j')
			o.fmt = FMT_JSON;
		else if (c == 'c')
			o.fmt = FMT_CSV;
		else if (c == 'w')
			workers = true;
		else
			return EXIT_USAGE;
	}
	const char *only = optind < argc ? argv[optind] : NULL;
	o.detail = only != NULL;
	path = cli_state_location(path);
	if (!cli_state_is_url(path) && access(path, R_OK) != 0) {
		fprintf(stderr,
			"mailferry: no state file %s (run 'mailferry migrate' first, or "
			"pass --state)\n",
			path);
		return EXIT_USAGE;
	}
	struct mf_error err;
	if (state_open(path, &o.db, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	if (o.fmt == FMT_JSON)
		o.array = json_array();
	int st;
	if (workers) {
		st = list_workers(&o, &err);
	} else {
		if (o.fmt == FMT_CSV)
			puts("account,state,folders,copied,bytes,failed,bytes_per_second,started,"
			     "finished,last_error,worker");
		else if (o.fmt == FMT_TABLE)
			printf("%-32s %-9s %7s %9s %10s %7s %12s  %s\n", "ACCOUNT", "STATE",
			       "FOLDERS", "COPIED", "BYTES", "FAILED", "RATE", "LAST ERROR");
		st = state_status_foreach(o.db, only, print_one, &o, &err);
		if (st == MF_OK && o.fmt == FMT_TABLE && only == NULL)
			st = print_totals(o.db, &err);
	}
	if (o.fmt == FMT_JSON) {
		char *s = json_dumps(o.array, JSON_INDENT(2));
		if (s != NULL)
			puts(s);
		free(s);
		json_decref(o.array);
	}
	state_close(&o.db);
	if (st != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cli_enable(int argc, char **argv, bool enable)
{
	static const struct option opts[] = { { "state", required_argument, NULL, 's' },
					      { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's')
			return EXIT_USAGE;
		path = optarg;
	}
	path = cli_state_location(path);
	if (optind >= argc) {
		fprintf(stderr, "mailferry %s: which ACCOUNT?\n", enable ? "enable" : "disable");
		return EXIT_USAGE;
	}
	struct state_db *db;
	struct mf_error err;
	int rc = EXIT_OK;
	if (state_open(path, &db, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		if (state_mailbox_set_enabled(db, argv[i], enable, &err) != MF_OK) {
			fprintf(stderr, "mailferry: %s\n", err.text);
			rc = EXIT_USAGE;
		} else {
			printf("%s: %s\n", argv[i], enable ? "enabled" : "disabled");
		}
	}
	state_close(&db);
	return rc;
}
