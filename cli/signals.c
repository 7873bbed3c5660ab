/* SPDX-License-Identifier: MIT */
/* The front end's process plumbing: SIGINT/SIGTERM raise the engine's
 * cancel flag (a second signal exits at once: the state store is
 * consistent after every commit, so an impatient operator loses nothing),
 * and log lines go to stderr with a time stamp. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

static void on_signal(int sig)
{
	if (atomic_load(&mf_cancel_requested)) {
		static const char msg[] = "mailferry: interrupted again, exiting now\n";
		ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)ignored;
		_exit(130);
	}
	(void)sig;
	atomic_store(&mf_cancel_requested, 1);
}

void cli_install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A peer closing a TLS socket must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
}

static void log_to_stderr(enum mf_log_level level, const char *line)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime_r(&now, &tm));
	/* One fprintf per line: stdio locks the stream, so lines from
	 * parallel jobs never interleave. */
	fprintf(stderr, "%s %s: %s\n", ts, names[level], line);
}

void cli_log_to_stderr(void)
{
	log_set_sink(log_to_stderr);
}
