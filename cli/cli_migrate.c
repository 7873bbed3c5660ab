/* SPDX-License-Identifier: MIT */
/* "mailferry migrate": turns the command line into a run configuration
 * and a list of mailbox jobs, runs them, and maps the outcome to an exit
 * status.  Credentials come from files or the environment, not argv
 * (which every local user can read in /proc), unless explicitly allowed. */
#include <config.h>

#include <mailferry/util.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "bundle.h"
#include "cli.h"
#include "engine.h"
#include "progress.h"
#include "verify_report.h"

struct migrate_opts {
	const char *state_path;
	bool json, dry_run, allow_uri_password, quiet, verbose, only_failed;
	unsigned long long max_bps;
	double max_mps;
	unsigned conn_per_host, conn_per_account, jobs, streams, append_lanes, retries, lease_s;
	const char *worker;
	const char *source_pw_file, *sink_pw_file;
	const char *name, *impersonate, *accounts_csv;
	const char *report_dir; /* verify */
	const char **plugin_dirs;
	size_t n_plugin_dirs;
	struct folder_map folders;
	struct settings settings;
};

enum {
	OPT_STATE = 256,
	OPT_JSON,
	OPT_DRY_RUN,
	OPT_BPS,
	OPT_MPS,
	OPT_CONN,
	OPT_JOBS,
	OPT_STREAMS,
	OPT_APPEND_LANES,
	OPT_CONN_PER_ACCOUNT,
	OPT_POLICY,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_PLUGIN_DIR,
	OPT_SRC_PW,
	OPT_SNK_PW,
	OPT_ALLOW_URI_PW,
	OPT_NAME,
	OPT_IMPERSONATE,
	OPT_INSECURE,
	OPT_CA_FILE,
	OPT_TIMEOUT,
	OPT_SET,
	OPT_RETRIES,
	OPT_ACCOUNTS,
	OPT_REPORT,
	OPT_BUNDLE,
	OPT_CONFIG,
	OPT_ONLY_FAILED,
	OPT_WORKER,
	OPT_LEASE,
	OPT_OAUTH, /* OPT_OAUTH + i: oauth_settings[i] */
};

/* OAuth 2.0 client settings (core/oauth.h): each option sets the setting
 * of its own name, which an accounts CSV column of the same name overrides
 * per row.  Only paths to secrets, never a secret itself. */
static const char *const oauth_settings[] = {
	"oauth-client-id",          "oauth-tenant",
	"oauth-authority",          "oauth-token-url",
	"oauth-client-secret-file", "oauth-cert-file",
	"oauth-key-file",           "oauth-service-account-file",
	"oauth-refresh-token-file", "oauth-scope",
};
#define N_OAUTH (sizeof(oauth_settings) / sizeof(oauth_settings[0]))

static const struct option long_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "only-failed", no_argument, NULL, OPT_ONLY_FAILED },
	{ "max-bytes-per-second", required_argument, NULL, OPT_BPS },
	{ "max-messages-per-second", required_argument, NULL, OPT_MPS },
	{ "connections-per-host", required_argument, NULL, OPT_CONN },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "streams", required_argument, NULL, OPT_STREAMS },
	{ "append-lanes", required_argument, NULL, OPT_APPEND_LANES },
	{ "connections-per-account", required_argument, NULL, OPT_CONN_PER_ACCOUNT },
	{ "folder-policy", required_argument, NULL, OPT_POLICY },
	{ "include-folder", required_argument, NULL, OPT_INCLUDE },
	{ "exclude-folder", required_argument, NULL, OPT_EXCLUDE },
	{ "plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR },
	{ "source-password-file", required_argument, NULL, OPT_SRC_PW },
	{ "sink-password-file", required_argument, NULL, OPT_SNK_PW },
	{ "allow-uri-password", no_argument, NULL, OPT_ALLOW_URI_PW },
	{ "worker", required_argument, NULL, OPT_WORKER },
	{ "lease", required_argument, NULL, OPT_LEASE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "impersonate", required_argument, NULL, OPT_IMPERSONATE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "set", required_argument, NULL, OPT_SET },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "accounts", required_argument, NULL, OPT_ACCOUNTS },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "oauth-client-id", required_argument, NULL, OPT_OAUTH + 0 },
	{ "oauth-tenant", required_argument, NULL, OPT_OAUTH + 1 },
	{ "oauth-authority", required_argument, NULL, OPT_OAUTH + 2 },
	{ "oauth-token-url", required_argument, NULL, OPT_OAUTH + 3 },
	{ "oauth-client-secret-file", required_argument, NULL, OPT_OAUTH + 4 },
	{ "oauth-cert-file", required_argument, NULL, OPT_OAUTH + 5 },
	{ "oauth-key-file", required_argument, NULL, OPT_OAUTH + 6 },
	{ "oauth-service-account-file", required_argument, NULL, OPT_OAUTH + 7 },
	{ "oauth-refresh-token-file", required_argument, NULL, OPT_OAUTH + 8 },
	{ "oauth-scope", required_argument, NULL, OPT_OAUTH + 9 },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool parse_uint(const char *opt, const char *s, unsigned max, unsigned *out)
{
	uint64_t v;
	if (!mf_parse_u64(s, strlen(s), &v) || v > max) {
		fprintf(stderr, "mailferry: %s '%s': expected a number up to %u\n", opt, s, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

static bool parse_opts(int argc, char **argv, struct migrate_opts *o)
{
	int c;
	unsigned u;
	struct mf_error err;
	while ((c = getopt_long(argc, argv, "vqh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE: o->state_path = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_DRY_RUN: o->dry_run = true; break;
		case OPT_ONLY_FAILED: o->only_failed = true; break;
		case OPT_BPS:
			if (!cli_parse_size(optarg, &o->max_bps)) {
				fprintf(stderr,
					"mailferry: --max-bytes-per-second '%s': expected a "
					"number with an optional k/M/G suffix\n",
					optarg);
				return false;
			}
			break;
		case OPT_MPS:
			if (!parse_uint("--max-messages-per-second", optarg, 1000000, &u))
				return false;
			o->max_mps = u;
			break;
		case OPT_CONN:
			if (!parse_uint("--connections-per-host", optarg, 1000, &o->conn_per_host))
				return false;
			break;
		case OPT_JOBS:
			if (!parse_uint("--jobs", optarg, 256, &o->jobs) || o->jobs == 0)
				return false;
			break;
		case OPT_STREAMS:
			if (!parse_uint("--streams", optarg, 16, &o->streams) || o->streams == 0)
				return false;
			break;
		case OPT_APPEND_LANES:
			if (!parse_uint("--append-lanes", optarg, 16, &o->append_lanes) ||
			    o->append_lanes == 0)
				return false;
			break;
		case OPT_CONN_PER_ACCOUNT:
			if (!parse_uint("--connections-per-account", optarg, 1000,
					&o->conn_per_account) ||
			    o->conn_per_account == 0)
				return false;
			break;
		case OPT_RETRIES:
			if (!parse_uint("--retries", optarg, 100, &o->retries))
				return false;
			break;
		case OPT_WORKER: o->worker = optarg; break;
		case OPT_LEASE:
			/* Below 3 s a heartbeat (every third of it) could not
			 * keep up with a busy database. */
			if (!parse_uint("--lease", optarg, 86400, &o->lease_s) || o->lease_s < 3) {
				fprintf(stderr, "mailferry: --lease: at least 3 seconds\n");
				return false;
			}
			break;
		case OPT_TIMEOUT:
			if (!parse_uint("--timeout", optarg, 86400, &u) || u == 0)
				return false;
			settings_set(&o->settings, "timeout", optarg);
			break;
		case OPT_POLICY:
			if (folder_map_set_policy(&o->folders, optarg, &err) != MF_OK) {
				fprintf(stderr, "mailferry: %s\n", err.text);
				return false;
			}
			break;
		case OPT_INCLUDE: folder_map_include(&o->folders, optarg); break;
		case OPT_EXCLUDE: folder_map_exclude(&o->folders, optarg); break;
		case OPT_PLUGIN_DIR:
			o->plugin_dirs = mf_xrealloc(o->plugin_dirs,
						     (o->n_plugin_dirs + 1) * sizeof(char *));
			o->plugin_dirs[o->n_plugin_dirs++] = optarg;
			break;
		case OPT_SRC_PW: o->source_pw_file = optarg; break;
		case OPT_SNK_PW: o->sink_pw_file = optarg; break;
		case OPT_ALLOW_URI_PW: o->allow_uri_password = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_IMPERSONATE: o->impersonate = optarg; break;
		case OPT_INSECURE: settings_set(&o->settings, "insecure", "1"); break;
		case OPT_CA_FILE: settings_set(&o->settings, "ca-file", optarg); break;
		case OPT_ACCOUNTS: o->accounts_csv = optarg; break;
		case OPT_REPORT: o->report_dir = optarg; break;
		case OPT_BUNDLE:
		case OPT_CONFIG: break; /* cli_expand_config did them */
		case OPT_SET: {
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
			if (c >= OPT_OAUTH && c < OPT_OAUTH + (int)N_OAUTH) {
				settings_set(&o->settings, oauth_settings[c - OPT_OAUTH], optarg);
				break;
			}
			return false;
		}
	}
	return true;
}

/* Password precedence: file option, then environment, then the URI (only
 * with --allow-uri-password).  Shared with preflight (cli.h). */
bool resolve_password(struct account_spec *spec, const char *file, const char *env, bool allow_uri,
		      const char *side)
{
	if (spec->password != NULL && !allow_uri) {
		fprintf(stderr,
			"mailferry: the %s URI contains a password; command lines are "
			"visible to every local user. Use --%s-password-file or %s, or "
			"pass --allow-uri-password\n",
			side, side, env);
		return false;
	}
	if (file != NULL) {
		char *pw = cli_read_secret_file(file);
		if (pw == NULL)
			return false;
		uri_set_password(spec, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
	} else if (getenv(env) != NULL && spec->password == NULL) {
		uri_set_password(spec, getenv(env));
	}
	return true;
}

/* Bulk runs: a row's own password wins; rows without one (an admin or
 * master-user template such as imaps://admin@host/?authzid={source_user},
 * or an EWS service account) take the password file's, else the
 * environment's. */
bool fill_bulk_passwords(struct job *jobs, size_t n, bool sink, const char *file, const char *env)
{
	char *pw = NULL;
	if (file != NULL && (pw = cli_read_secret_file(file)) == NULL)
		return false;
	const char *dflt = pw != NULL ? pw : getenv(env);
	for (size_t i = 0; i < n && dflt != NULL; i++) {
		struct account_spec *spec = sink ? &jobs[i].sink : &jobs[i].source;
		if (spec->password == NULL)
			uri_set_password(spec, dflt);
	}
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return true;
}

/* Two runs on one state file would copy the same messages side by side:
 * hold an exclusive lock next to it for the whole run.  "status" does not
 * take it, so it can watch a run in progress.  A shared store (a
 * postgresql:// URL) has no file to lock, and several workers on it are
 * the point: there the store locks each mailbox while a job works on it
 * (core/state_pg.c), and a worker skips one another holds; -2, no lock. */
static int lock_state(const char *state_path)
{
	if (cli_state_is_url(state_path))
		return -2;
	char *path = mf_xasprintf("%s.lock", state_path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "mailferry: cannot create lock file %s: %s\n", path,
			strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr,
			"mailferry: another mailferry run is using state file %s (lock %s "
			"held); wait for it, or use another --state\n",
			state_path, path);
		close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

struct still_failing {
	struct progress *p;
	const char *mailbox;
};

static int on_still_failing(const struct state_failure *f, void *aux)
{
	struct still_failing *sf = aux;
	progress_still_failing(sf->p, sf->mailbox, f->folder, f->source_id, f->error);
	return MF_OK;
}

/* --only-failed ends with what still fails, with the server's latest
 * words, read back from the state: the record the next retry works from. */
static void list_still_failing(struct progress *p, const char *state_path, const struct job *jobs,
			       size_t n_jobs)
{
	struct state_db *db = NULL;
	struct mf_error err;
	if (state_open(state_path, &db, &err) != MF_OK) {
		log_msg(MF_LOG_ERROR, "%s", err.text);
		return;
	}
	for (size_t i = 0; i < n_jobs; i++) {
		if (jobs[i].result == JOB_NOTHING_FAILED)
			continue;
		struct still_failing sf = { p, jobs[i].name };
		if (state_failures_foreach(db, jobs[i].name, on_still_failing, &sf, &err) != MF_OK)
			log_msg(MF_LOG_ERROR, "%s", err.text);
	}
	state_close(&db);
}

static int run(struct migrate_opts *o, struct plugin_registry *reg, struct job *jobs, size_t n_jobs)
{
	int lock_fd = lock_state(o->state_path);
	if (lock_fd == -1)
		return EXIT_USAGE;
	if (settings_get(&o->settings, "insecure") != NULL)
		log_msg(MF_LOG_WARN, "--insecure: TLS certificates are NOT verified; anyone on the "
				     "network path can read the passwords and mail of this run");
	struct run_config cfg = {
		.registry = reg,
		.state_path = o->state_path,
		.folders = &o->folders,
		.throttle = throttle_new(o->max_bps, o->max_mps, o->conn_per_host),
		.retry = RETRY_POLICY_DEFAULT,
		.spool_mem_limit = 4u << 20,
		.tmpdir = getenv("TMPDIR"),
		.jobs = o->jobs,
		/* Alibaba Mail's connection limit per user is unconfirmed;
		 * its docs suggest 2-4 per mailbox (alibaba-mail.md). */
		.streams = o->streams ? o->streams : 4,
		.append_lanes = o->append_lanes ? o->append_lanes : 4,
		.conn_per_account = o->conn_per_account ? o->conn_per_account : 16,
		.dry_run = o->dry_run,
		.only_failed = o->only_failed,
		.lease_s = o->lease_s,
	};
	if (o->retries > 0)
		cfg.retry.max_attempts = o->retries;
	struct progress *progress =
		progress_new(stdout, o->json, !o->json && !o->quiet && isatty(2));
	if (o->only_failed)
		progress_set_only_failed(progress);
	cfg.events = progress_events(progress);
	uint64_t t0 = throttle_now_ns();
	scheduler_run(&cfg, jobs, n_jobs);
	struct job_counters total = { 0 };
	size_t failed = 0;
	bool partial = false, canceled = false, fatal = false;
	for (size_t i = 0; i < n_jobs; i++) {
		const struct job_counters *c = &jobs[i].counters;
		total.copied += c->copied;
		total.copied_bytes += c->copied_bytes;
		total.skipped += c->skipped;
		total.failed += c->failed;
		total.folders += c->folders;
		total.folders_failed += c->folders_failed;
		total.retried += c->retried;
		total.recovered += c->recovered;
		total.keywords_dropped += c->keywords_dropped;
		job_io_add(&total.source_io, &c->source_io);
		job_io_add(&total.sink_io, &c->sink_io);
		if (jobs[i].result == JOB_FAILED) {
			failed++;
			fatal |= jobs[i].status == MF_ERR_FATAL;
		}
		canceled |= jobs[i].result == JOB_CANCELED;
		partial |= c->failed > 0 || c->folders_failed > 0;
	}
	if (o->only_failed && !o->dry_run)
		list_still_failing(progress, o->state_path, jobs, n_jobs);
	progress_summary(progress, n_jobs, failed, &total, (double)(throttle_now_ns() - t0) / 1e9,
			 o->dry_run);
	progress_free(&progress);
	throttle_free(&cfg.throttle);
	if (lock_fd >= 0)
		close(lock_fd);
	if (canceled)
		return EXIT_CANCELED;
	if (fatal && failed == n_jobs)
		return EXIT_USAGE;
	if (failed > 0)
		return EXIT_MAILBOX_FAILED;
	return partial ? EXIT_PARTIAL : EXIT_OK;
}

/* "mailferry verify": read both sides of every mailbox, compare, report. */
static int verify(struct migrate_opts *o, struct plugin_registry *reg, struct job *jobs,
		  size_t n_jobs)
{
	const char *dir = o->report_dir ? o->report_dir : ".";
	/* Made now, not after hours of reading mailboxes. */
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mailferry: cannot create the report directory %s: %s\n", dir,
			strerror(errno));
		return EXIT_USAGE;
	}
	struct run_config cfg = { .registry = reg,
				  .state_path = o->state_path,
				  .folders = &o->folders };
	struct verify_account *res = mf_xcalloc(n_jobs, sizeof(*res));
	size_t complete = 0, errors = 0;
	for (size_t i = 0; i < n_jobs && !atomic_load(&mf_cancel_requested); i++) {
		verify_account(&cfg, &jobs[i], &res[i]);
		uint64_t src = 0, dst = 0, missing = 0;
		for (size_t k = 0; k < res[i].n_folders; k++) {
			src += res[i].folders[k].src_count;
			dst += res[i].folders[k].dst_count;
			missing += res[i].folders[k].missing;
		}
		if (res[i].error != NULL) {
			errors++;
			printf("%s: could not verify: %s\n", res[i].name, res[i].error);
		} else {
			complete += res[i].ok;
			printf("%s: %s: %llu source messages, %llu in the target, %llu missing\n",
			       res[i].name, res[i].ok ? "complete" : "INCOMPLETE",
			       (unsigned long long)src, (unsigned long long)dst,
			       (unsigned long long)missing);
		}
	}
	char *json_path, *html_path;
	int rc = EXIT_OK;
	if (verify_write_report(dir, res, n_jobs, &json_path, &html_path) != 0) {
		fprintf(stderr, "mailferry: cannot write the report into %s: %s\n", dir,
			strerror(errno));
		rc = EXIT_USAGE;
	} else {
		printf("%zu of %zu mailboxes complete; report: %s and %s\n", complete, n_jobs,
		       html_path, json_path);
	}
	free(json_path);
	free(html_path);
	for (size_t i = 0; i < n_jobs; i++)
		verify_account_free(&res[i]);
	free(res);
	if (rc != EXIT_OK)
		return rc;
	if (errors > 0)
		return EXIT_MAILBOX_FAILED;
	return complete == n_jobs ? EXIT_OK : EXIT_PARTIAL;
}

static bool single_job(struct migrate_opts *o, const struct plugin_registry *reg, const char *src,
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
	/* With impersonation the mailbox is the impersonated user's, not the
	 * service account's. */
	job->name = mf_xstrdup(o->name                   ? o->name
			       : job->source.impersonate ? job->source.impersonate
							 : job->source.id);
	return true;
}

static int migrate_or_verify(int cmd_argc, char **cmd_argv, bool verifying)
{
	struct migrate_opts o = { .state_path = NULL, .conn_per_host = 16 };
	int rc = EXIT_USAGE;
	struct job *jobs = NULL;
	size_t n_jobs = 0;
	struct bundle bundle = { 0 };
	bool have_bundle = false;
	struct mf_host host;
	struct plugin_registry reg = { 0 };
	int argc = 0;
	char **argv = NULL;
	cli_install_signal_handlers();
	/* Options of --bundle's and --config's files come first in argv. */
	if (cli_expand_config(cmd_argc, cmd_argv, long_opts, &bundle, &have_bundle, &argc, &argv) !=
	    EXIT_OK)
		goto out;
	if (!parse_opts(argc, argv, &o))
		goto out;
	o.state_path = cli_state_location(o.state_path);
	/* The name the shared store shows for this process (a pod's name
	 * under Kubernetes, given through the environment). */
	state_set_worker_name(o.worker != NULL ? o.worker : getenv("MAILFERRY_WORKER"));
	if (have_bundle) {
		o.plugin_dirs = mf_xrealloc(o.plugin_dirs, (o.n_plugin_dirs + 1) * sizeof(char *));
		memmove(o.plugin_dirs + 1, o.plugin_dirs, o.n_plugin_dirs * sizeof(char *));
		o.plugin_dirs[0] = bundle.plugin_dir;
		o.n_plugin_dirs++;
	}
	log_set_level(o.verbose ? MF_LOG_DEBUG : o.quiet ? MF_LOG_WARN : MF_LOG_INFO);
	if (argc - optind != 2) {
		fprintf(stderr, "mailferry %s: expected SOURCE and SINK (see mailferry --help)\n",
			verifying ? "verify" : "migrate");
		goto out;
	}
	/* Loaded before the URIs are parsed: the plugins say how their URIs
	 * read (struct mf_plugin.address_schemes). */
	host_init(&host, &o.settings);
	registry_load(&reg, &host, o.plugin_dirs, o.n_plugin_dirs);
	if (o.accounts_csv != NULL) {
		struct mf_error err;
		if (o.jobs == 0)
			o.jobs = 4;
		if (accounts_load(o.accounts_csv, argv[optind], argv[optind + 1], &reg,
				  o.allow_uri_password, &jobs, &n_jobs, &err) != MF_OK) {
			fprintf(stderr, "mailferry: %s\n", err.text);
			goto out;
		}
		if (n_jobs == 0) {
			fprintf(stderr, "mailferry: %s: no usable account rows\n", o.accounts_csv);
			goto out;
		}
		if (!fill_bulk_passwords(jobs, n_jobs, false, o.source_pw_file,
					 "MAILFERRY_SOURCE_PASSWORD") ||
		    !fill_bulk_passwords(jobs, n_jobs, true, o.sink_pw_file,
					 "MAILFERRY_SINK_PASSWORD"))
			goto out;
	} else {
		jobs = mf_xcalloc(1, sizeof(*jobs));
		n_jobs = 1;
		if (!single_job(&o, &reg, argv[optind], argv[optind + 1], &jobs[0]))
			goto out;
	}
	rc = verifying ? verify(&o, &reg, jobs, n_jobs) : run(&o, &reg, jobs, n_jobs);
out:
	for (size_t i = 0; i < n_jobs; i++)
		job_free(&jobs[i]);
	free(jobs);
	registry_free(&reg);
	free(o.plugin_dirs);
	folder_map_free(&o.folders);
	oauth_cache_clear();
	settings_free(&o.settings);
	cli_free_argv(argc, argv);
	if (have_bundle)
		bundle_close(&bundle);
	return rc;
}

int cli_migrate(int argc, char **argv)
{
	return migrate_or_verify(argc, argv, false);
}

int cli_verify(int argc, char **argv)
{
	return migrate_or_verify(argc, argv, true);
}
