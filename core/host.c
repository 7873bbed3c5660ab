/* SPDX-License-Identifier: MIT */
/* Host services for plugins: thread-safe logging to stderr, the cancel
 * flag raised by SIGINT/SIGTERM, and run-wide settings.  A second signal
 * exits at once: the state store is consistent after every commit, so an
 * impatient operator loses nothing. */
#include <config.h>
#include "host.h"

#include <mailferry/util.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile int mf_cancel_requested;
static enum mf_log_level min_level = MF_LOG_INFO;

void settings_set(struct settings *s, const char *key, const char *value)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->keys[i], key) == 0) {
			free(s->values[i]);
			s->values[i] = mf_xstrdup(value);
			return;
		}
	}
	s->keys = mf_xrealloc(s->keys, (s->n + 1) * sizeof(char *));
	s->values = mf_xrealloc(s->values, (s->n + 1) * sizeof(char *));
	s->keys[s->n] = mf_xstrdup(key);
	s->values[s->n] = mf_xstrdup(value);
	s->n++;
}

const char *settings_get(const struct settings *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->values[i];
	return NULL;
}

void settings_free(struct settings *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->keys[i]);
		free(s->values[i]);
	}
	free(s->keys);
	free(s->values);
	memset(s, 0, sizeof(*s));
}

static void on_signal(int sig)
{
	if (mf_cancel_requested) {
		static const char msg[] = "mailferry: interrupted again, exiting now\n";
		ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)ignored;
		_exit(130);
	}
	(void)sig;
	mf_cancel_requested = 1;
}

void host_install_signal_handlers(void)
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

void log_set_level(enum mf_log_level level)
{
	min_level = level;
}

static void log_v(enum mf_log_level level, const char *fmt, va_list ap)
	MF_PRINTF(2, 0);
static void log_v(enum mf_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	if (level < min_level)
		return;
	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime_r(&now, &tm));
	/* One fprintf per line: stdio locks the stream, so lines from
	 * parallel jobs never interleave. */
	fprintf(stderr, "%s %s: %s\n", ts, names[level], line);
}

void log_msg(enum mf_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...)
	MF_PRINTF(3, 4);
static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...)
{
	(void)ctx;
	va_list ap;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

static bool host_canceled(void *ctx)
{
	(void)ctx;
	return mf_cancel_requested != 0;
}

static const char *host_setting(void *ctx, const char *key)
{
	return settings_get(ctx, key);
}

void host_init(struct mf_host *host, const struct settings *settings)
{
	memset(host, 0, sizeof(*host));
	host->abi_major = MF_ABI_MAJOR;
	host->abi_minor = MF_ABI_MINOR;
	host->struct_size = sizeof(*host);
	host->host_ctx = (void *)settings;
	host->log = host_log;
	host->canceled = host_canceled;
	host->setting = host_setting;
}
