/* SPDX-License-Identifier: MIT */
/* Host services for plugins: logging (formatted here, written by the
 * front end's sink), the cancel flag (raised by the front end, e.g. on
 * SIGINT) and run-wide settings.  Nothing here writes to the terminal. */
#include <config.h>
#include "host.h"
#include "oauth.h"

#include <curl/curl.h>

#include <mailferry/util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int mf_cancel_requested;
static enum mf_log_level min_level = MF_LOG_INFO;
static mf_log_sink *_Atomic sink; /* set once by the front end, before threads */

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

void log_set_sink(mf_log_sink *to)
{
	sink = to;
}

void log_set_level(enum mf_log_level level)
{
	min_level = level;
}

static void log_v(enum mf_log_level level, const char *fmt, va_list ap)
	MF_PRINTF(2, 0);
static void log_v(enum mf_log_level level, const char *fmt, va_list ap)
{
	if (level < min_level)
		return;
	mf_log_sink *to = sink;
	if (to == NULL)
		return;
	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	to(level, line);
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

static int host_oauth_token(void *ctx, const struct mf_account *acct,
			    const struct mf_oauth_request *req, char **token_r,
			    struct mf_error *err)
{
	return oauth_token(ctx, acct, req, token_r, err);
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
	host->oauth_token = host_oauth_token;
	/* libcurl's global set-up is not thread-safe: do it here, before
	 * any job thread exists (repeated calls are counted, harmless). */
	curl_global_init(CURL_GLOBAL_DEFAULT);
}
