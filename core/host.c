/* SPDX-License-Identifier: MIT */
/* The host services table handed to plugins: logging (log.c), the cancel
 * flag (raised by the front end, e.g. on SIGINT), run-wide settings
 * (settings.c) and OAuth 2.0 tokens (oauth.c).  This file only joins
 * them; it sits above all of them.  Nothing here writes to the terminal. */
#include <config.h>
#include "host.h"
#include "oauth.h"

#include <curl/curl.h>

#include <mailferry/util.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

atomic_int mf_cancel_requested;

static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...) MF_PRINTF(3, 4);
static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...)
{
	(void)ctx;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool host_sleep_ms(unsigned ms)
{
	/* To a deadline, so a signal that cuts a nap short costs nothing. */
	uint64_t end = monotonic_ms() + ms;
	while (monotonic_ms() < end) {
		if (atomic_load(&mf_cancel_requested))
			return false;
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	return !atomic_load(&mf_cancel_requested);
}

static bool host_canceled(void *ctx)
{
	(void)ctx;
	return atomic_load(&mf_cancel_requested) != 0;
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
