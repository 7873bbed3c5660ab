/* SPDX-License-Identifier: MIT */
/* The command-line commands and what they share. */
#ifndef MF_CORE_CLI_H
#define MF_CORE_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes (documented in "mailferry --help" and docs/cli.md). */
enum {
	EXIT_OK = 0,             /* everything copied */
	EXIT_PARTIAL = 1,        /* done, but some messages or folders failed */
	EXIT_USAGE = 2,          /* bad command line or configuration */
	EXIT_MAILBOX_FAILED = 3, /* at least one mailbox could not be completed */
	EXIT_CANCELED = 130,
};

#define DEFAULT_STATE_FILE "mailferry-state.db"

/* cli_state.c: the state location, given = --state's value or NULL:
 * given, else $MAILFERRY_STATE, else DEFAULT_STATE_FILE.  A URL's
 * password is moved into PGPASSWORD (a warning if it came from argv);
 * the result, valid for the run, holds none. */
const char *cli_state_location(const char *given);
/* A URL (postgresql://...) rather than a file path. */
bool cli_state_is_url(const char *loc);

int cli_migrate(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_plugins(int argc, char **argv);
/* "--version": versions of mailferry, the plugin ABI and each plugin found. */
int cli_version(int argc, char **argv);
int cli_enable(int argc, char **argv, bool enable);
int cli_bundle(int argc, char **argv);
/* "serve": the web dashboard (cli_serve.c). */
int cli_serve(int argc, char **argv);
void cli_usage(FILE *out);
/* "preflight": log into every source and target without copying
 * (cli_preflight.c). */
int cli_preflight(int argc, char **argv);

/* cli_migrate.c, shared with preflight so a preflight row is what migrate
 * would run: a single job's password from --SIDE-password-file, then the
 * environment env, then the URI (only with allow_uri); a bulk run's rows
 * without one get the file's, else the environment's. */
struct account_spec;
struct job;
bool resolve_password(struct account_spec *spec, const char *file, const char *env, bool allow_uri,
		      const char *side);
bool fill_bulk_passwords(struct job *jobs, size_t n, bool sink, const char *file, const char *env);

/* signals.c: SIGINT/SIGTERM cancel the run; log lines to stderr. */
void cli_install_signal_handlers(void);
void cli_log_to_stderr(void);

/* "10M" -> 10485760; false on junk. */
bool cli_parse_size(const char *s, unsigned long long *out_r);
/* First line of a file, without its newline (malloc'd), or NULL + message. */
char *cli_read_secret_file(const char *path);

/* --bundle FILE / --config FILE (cli_bundle.c): open and verify the bundle
 * (*have_bundle; close it with bundle_close after the run) and return in
 * *argv_r the options of the bundle's configuration, then of the --config
 * file, then argv[1..], for one getopt pass with opts; free it with
 * cli_free_argv.  EXIT_OK or EXIT_USAGE (message printed). */
struct bundle;
struct option;
int cli_expand_config(int argc, char **argv, const struct option *opts, struct bundle *bundle,
		      bool *have_bundle, int *argc_r, char ***argv_r);
void cli_free_argv(int argc, char **argv);
/* "plugins [--bundle FILE] ...": cli_plugins with the verified bundle's
 * plugin directory first. */
int cli_plugins_bundle(int argc, char **argv);

#endif
