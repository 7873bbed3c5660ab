/* SPDX-License-Identifier: MIT */
/* "mailferry preflight": the command line to mailbox jobs exactly as
 * "migrate" builds them (URIs, accounts CSV, password files and
 * environment, OAuth settings; cli_migrate.c's password helpers), then
 * core/preflight.h to log into both sides of every row without copying,
 * and preflight_report.c to print the rows.  The rate of the estimate is
 * --rate or the last run's measured throughput from the state file; none
 * is invented. */
#include <config.h>

#include <mailferry/util.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "cli.h"
#include "engine.h"
#include "preflight_report.h"

struct pf_opts {
	const char *state_path, *accounts_csv, *source_pw_file, *sink_pw_file, *name, *impersonate;
	enum pf_format fmt;
	bool allow_uri_password, verbose, quiet;
	unsigned jobs, timeout_s;
	unsigned long long rate;
	const char **plugin_dirs;
	size_t n_plugin_dirs;
	struct folder_map folders;
	struct settings settings;
};

enum {
	P_STATE = 256,
	P_JSON,
	P_CSV,
	P_JOBS,
	P_TIMEOUT,
	P_RATE,
	P_ACCOUNTS,
	P_SRC_PW,
	P_SNK_PW,
	P_ALLOW_URI_PW,
	P_NAME,
	P_IMPERSONATE,
	P_INSECURE,
	P_CA_FILE,
	P_SET,
	P_PLUGIN_DIR,
	P_POLICY,
	P_INCLUDE,
	P_EXCLUDE,
	P_OAUTH, /* P_OAUTH + i: oauth_settings[i] */
};

/* The OAuth settings migrate takes (cli_migrate.c), so a row signs in
 * the same way. */
static const char *const oauth_settings[] = {
	"oauth-client-id",          "oauth-tenant",
	"oauth-authority",          "oauth-token-url",
	"oauth-client-secret-file", "oauth-cert-file",
	"oauth-key-file",           "oauth-service-account-file",
	"oauth-refresh-token-file", "oauth-scope",
};
#define N_OAUTH (sizeof(oauth_settings) / sizeof(oauth_settings[0]))

static const struct option long_opts[] = {
	{ "state", required_argument, NULL, P_STATE },
	{ "json", no_argument, NULL, P_JSON },
	{ "csv", no_argument, NULL, P_CSV },
	{ "jobs", required_argument, NULL, P_JOBS },
	{ "timeout", required_argument, NULL, P_TIMEOUT },
	{ "rate", required_argument, NULL, P_RATE },
	{ "accounts", required_argument, NULL, P_ACCOUNTS },
	{ "source-password-file", required_argument, NULL, P_SRC_PW },
	{ "sink-password-file", required_argument, NULL, P_SNK_PW },
	{ "allow-uri-password", no_argument, NULL, P_ALLOW_URI_PW },
	{ "name", required_argument, NULL, P_NAME },
	{ "impersonate", required_argument, NULL, P_IMPERSONATE },
	{ "insecure", no_argument, NULL, P_INSECURE },
	{ "ca-file", required_argument, NULL, P_CA_FILE },
	{ "set", required_argument, NULL, P_SET },
	{ "plugin-dir", required_argument, NULL, P_PLUGIN_DIR },
	{ "folder-policy", required_argument, NULL, P_POLICY },
	{ "include-folder", required_argument, NULL, P_INCLUDE },
	{ "exclude-folder", required_argument, NULL, P_EXCLUDE },
	{ "oauth-client-id", required_argument, NULL, P_OAUTH + 0 },
	{ "oauth-tenant", required_argument, NULL, P_OAUTH + 1 },
	{ "oauth-authority", required_argument, NULL, P_OAUTH + 2 },
	{ "oauth-token-url", required_argument, NULL, P_OAUTH + 3 },
	{ "oauth-client-secret-file", required_argument, NULL, P_OAUTH + 4 },
	{ "oauth-cert-file", required_argument, NULL, P_OAUTH + 5 },
	{ "oauth-key-file", required_argument, NULL, P_OAUTH + 6 },
	{ "oauth-service-account-file", required_argument, NULL, P_OAUTH + 7 },
	{ "oauth-refresh-token-file", required_argument, NULL, P_OAUTH + 8 },
	{ "oauth-scope", required_argument, NULL, P_OAUTH + 9 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool parse_count(const char *opt, const char *s, unsigned max, unsigned *out)
{
	uint64_t v;
	if (!mf_parse_u64(s, strlen(s), &v) || v == 0 || v > max) {
		fprintf(stderr, "mailferry: %s '%s': expected a number from 1 to %u\n", opt, s,
			max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

static bool parse_opts(int argc, char **argv, struct pf_opts *o)
{
	int c;
	struct mf_error err;
	while ((c = getopt_long(argc, argv, "vqh", long_opts, NULL)) != -1) {
		switch (c) {
		case P_STATE: o->state_path = optarg; break;
		case P_JSON: o->fmt = PF_FMT_JSON; break;
		case P_CSV: o->fmt = PF_FMT_CSV; break;
		case P_JOBS:
			if (!parse_count("--jobs", optarg, 256, &o->jobs))
				return false;
			break;
		case P_TIMEOUT:
			if (!parse_count("--timeout", optarg, 86400, &o->timeout_s))
				return false;
			break;
		case P_RATE:
			if (!cli_parse_size(optarg, &o->rate) || o->rate == 0) {
				fprintf(stderr,
					"mailferry: --rate '%s': expected bytes per second "
					"with an optional k/M/G suffix\n",
					optarg);
				return false;
			}
			break;
		case P_ACCOUNTS: o->accounts_csv = optarg; break;
		case P_SRC_PW: o->source_pw_file = optarg; break;
		case P_SNK_PW: o->sink_pw_file = optarg; break;
		case P_ALLOW_URI_PW: o->allow_uri_password = true; break;
		case P_NAME: o->name = optarg; break;
		case P_IMPERSONATE: o->impersonate = optarg; break;
		case P_INSECURE: settings_set(&o->settings, "insecure", "1"); break;
		case P_CA_FILE: settings_set(&o->settings, "ca-file", optarg); break;
		case P_PLUGIN_DIR:
			o->plugin_dirs = mf_xrealloc(o->plugin_dirs,
						     (o->n_plugin_dirs + 1) * sizeof(char *));
			o->plugin_dirs[o->n_plugin_dirs++] = optarg;
			break;
		case P_POLICY:
			if (folder_map_set_policy(&o->folders, optarg, &err) != MF_OK) {
				fprintf(stderr, "mailferry: %s\n", err.text);
				return false;
			}
			break;
		case P_INCLUDE: folder_map_include(&o->folders, optarg); break;
		case P_EXCLUDE: folder_map_exclude(&o->folders, optarg); break;
		case P_SET: {
			const char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				fprintf(stderr, "mailferry: --set '%s': expected KEY=VALUE\n",
					optarg);
				return false;
			}
			char *key = mf_xstrndup(optarg, (size_t)(eq - optarg));
			settings_set(&o->settings, key, eq + 1);
			free(key);
			break;
		}
		case 'v': o->verbose = true; break;
		case 'q': o->quiet = true; break;
		case 'h': cli_usage(stdout); exit(EXIT_OK);
		default:
			if (c >= P_OAUTH && c < P_OAUTH + (int)N_OAUTH) {
				settings_set(&o->settings, oauth_settings[c - P_OAUTH], optarg);
				break;
			}
			return false;
		}
	}
	return true;
}

static bool single_job(const struct pf_opts *o, const struct plugin_registry *reg, const char *src,
		       const char *snk, struct job *job)
{
	struct mf_error err;
	memset(job, 0, sizeof(*job));
	if (registry_uri_parse(reg, MF_PLUGIN_SOURCE, src, &job->source, &err) != MF_OK ||
	    registry_uri_parse(reg, MF_PLUGIN_SINK, snk, &job->sink, &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return false;
	}
	if (!resolve_password(&job->source, o->source_pw_file, "MAILFERRY_SOURCE_PASSWORD",
			      o->allow_uri_password, "source") ||
	    !resolve_password(&job->sink, o->sink_pw_file, "MAILFERRY_SINK_PASSWORD",
			      o->allow_uri_password, "sink"))
		return false;
	if (o->impersonate != NULL) {
		free(job->source.impersonate);
		job->source.impersonate = mf_xstrdup(o->impersonate);
		job->source.acct.impersonate = job->source.impersonate;
	}
	job->name = mf_xstrdup(o->name                   ? o->name
			       : job->source.impersonate ? job->source.impersonate
							 : job->source.id);
	return true;
}

/* The last run's throughput, all its mailboxes together: bytes copied
 * over the time from the first start to the last finish.  0 if the state
 * file is missing or says too little. */
static double measured_rate(const char *state_path)
{
	if (!cli_state_is_url(state_path) && access(state_path, R_OK) != 0)
		return 0;
	struct state_db *db = NULL;
	struct state_totals t;
	struct mf_error err;
	double rate = 0;
	if (state_open(state_path, &db, &err) == MF_OK && state_totals(db, &t, &err) == MF_OK &&
	    t.first_started > 0 && t.last_finished > t.first_started && t.copied_bytes > 0)
		rate = (double)t.copied_bytes / (double)(t.last_finished - t.first_started);
	state_close(&db);
	return rate;
}

static bool build_jobs(struct pf_opts *o, const struct plugin_registry *reg, const char *src,
		       const char *snk, struct job **jobs_r, size_t *n_r)
{
	if (o->accounts_csv == NULL) {
		*jobs_r = mf_xcalloc(1, sizeof(**jobs_r));
		*n_r = 1;
		return single_job(o, reg, src, snk, &(*jobs_r)[0]);
	}
	struct mf_error err;
	if (accounts_load(o->accounts_csv, src, snk, reg, o->allow_uri_password, jobs_r, n_r,
			  &err) != MF_OK) {
		fprintf(stderr, "mailferry: %s\n", err.text);
		return false;
	}
	if (*n_r == 0) {
		fprintf(stderr, "mailferry: %s: no usable account rows\n", o->accounts_csv);
		return false;
	}
	return fill_bulk_passwords(*jobs_r, *n_r, false, o->source_pw_file,
				   "MAILFERRY_SOURCE_PASSWORD") &&
	       fill_bulk_passwords(*jobs_r, *n_r, true, o->sink_pw_file, "MAILFERRY_SINK_PASSWORD");
}

int cli_preflight(int argc, char **argv)
{
	struct pf_opts o = { .state_path = NULL, .jobs = 8, .timeout_s = 60 };
	struct job *jobs = NULL;
	size_t n_jobs = 0;
	int rc = EXIT_USAGE;
	struct mf_host host;
	struct plugin_registry reg = { 0 };
	cli_install_signal_handlers();
	if (!parse_opts(argc, argv, &o))
		goto out;
	o.state_path = cli_state_location(o.state_path);
	log_set_level(o.verbose ? MF_LOG_DEBUG : o.quiet ? MF_LOG_ERROR : MF_LOG_WARN);
	if (argc - optind != 2) {
		fprintf(stderr, "mailferry preflight: expected SOURCE and SINK (see mailferry "
				"--help)\n");
		goto out;
	}
	/* Each network wait of a row is bounded by the row's time too. */
	char tbuf[16];
	snprintf(tbuf, sizeof(tbuf), "%u", o.timeout_s);
	settings_set(&o.settings, "timeout", tbuf);
	/* Loaded before the URIs are parsed: the plugins say how their URIs
	 * read (struct mf_plugin.address_schemes). */
	host_init(&host, &o.settings);
	registry_load(&reg, &host, o.plugin_dirs, o.n_plugin_dirs);
	if (!build_jobs(&o, &reg, argv[optind], argv[optind + 1], &jobs, &n_jobs))
		goto out;
	struct pf_rate rate = { .bps = (double)o.rate, .source = "--rate" };
	if (o.rate == 0 && (rate.bps = measured_rate(o.state_path)) > 0)
		rate.source = o.state_path;
	struct preflight_config cfg = { .registry = &reg,
					.folders = &o.folders,
					.jobs = o.jobs,
					.timeout_s = o.timeout_s,
					.rate_bps = rate.bps };
	struct preflight_row *rows = mf_xcalloc(n_jobs, sizeof(*rows));
	preflight_run(&cfg, jobs, n_jobs, rows);
	size_t ok = preflight_print(stdout, o.fmt, rows, n_jobs, &rate);
	for (size_t i = 0; i < n_jobs; i++)
		preflight_row_free(&rows[i]);
	free(rows);
	if (atomic_load(&mf_cancel_requested))
		rc = EXIT_CANCELED;
	else
		rc = ok == n_jobs ? EXIT_OK : EXIT_PARTIAL;
out:
	for (size_t i = 0; i < n_jobs; i++)
		job_free(&jobs[i]);
	free(jobs);
	registry_free(&reg);
	free(o.plugin_dirs);
	folder_map_free(&o.folders);
	oauth_cache_clear();
	settings_free(&o.settings);
	return rc;
}
