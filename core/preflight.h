/* SPDX-License-Identifier: MIT */
/* "mailferry preflight": log into both sides of each mailbox job without
 * copying, and find out what would stop or slow its migration (refused
 * logins, quota, messages over the target's size limit, folder names the
 * target refuses).  The rows run in parallel, each bounded in time. */
#ifndef MF_CORE_PREFLIGHT_H
#define MF_CORE_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler.h"

/* Why a login did not happen, from the plugin's struct mf_error. */
enum preflight_login {
	PF_LOGIN_NOT_TRIED = 0, /* the other side failed first, or no plugin */
	PF_LOGIN_OK,
	PF_LOGIN_AUTH,       /* credentials refused (a server that does not
				   tell a missing account apart, Dovecot's
				   "Authentication failed", lands here) */
	PF_LOGIN_NO_ACCOUNT, /* the server said the account does not exist */
	PF_LOGIN_TLS,        /* handshake or certificate */
	PF_LOGIN_DNS,        /* the host name does not resolve */
	PF_LOGIN_REFUSED,    /* connection refused */
	PF_LOGIN_TIMEOUT,
	PF_LOGIN_CONFIG, /* bad URI, option or no plugin for the scheme */
	PF_LOGIN_OTHER,  /* anything else: see the error text */
};

/* A word for the table, CSV and JSON: "ok", "auth", "no-account", ... */
const char *preflight_login_name(enum preflight_login l);
enum preflight_login preflight_classify(const struct mf_error *err);

struct preflight_side {
	enum preflight_login login;
	char error[600]; /* the plugin's (and server's) exact words */
	bool probed;     /* the plugin has a probe slot and it answered */
	struct mf_probe probe;
};

struct preflight_row {
	char *name, *source_uri, *sink_uri; /* URIs without passwords */
	struct preflight_side source, sink;
	/* Wanted source folders; messages and bytes summed over those the
	 * source could count; counts_partial when some could not be. */
	uint64_t folders, messages, bytes;
	bool counts_partial;
	uint64_t oversize, largest; /* MF_COUNT_UNKNOWN: not found out */
	char **refused;             /* "path: why" of target-refused folders */
	size_t n_refused;
	char *folder_error; /* first folder that could not be probed */
	double estimate_s;  /* < 0: no rate or no size */
	bool timed_out;     /* stopped probing at the row's deadline */
	bool ok;            /* the row can run */
	char verdict[256];  /* "ok" or the first reason it cannot */
};

struct preflight_config {
	struct plugin_registry *registry;
	const struct folder_map *folders;
	unsigned jobs;      /* rows at once (0: 1) */
	unsigned timeout_s; /* per row (0: none) */
	double rate_bps;    /* for the estimate; 0: none */
};

/* Fills rows[i] for jobs[i]; returns when all are done or canceled. */
void preflight_run(const struct preflight_config *cfg, struct job *jobs, size_t n,
		   struct preflight_row *rows);
void preflight_row_free(struct preflight_row *r);

/* Pure parts, for the unit test: seconds to move bytes at rate (< 0 when
 * either is unknown), and the verdict from a filled row. */
double preflight_estimate(uint64_t bytes, double rate_bps);
void preflight_judge(struct preflight_row *r);

#endif
