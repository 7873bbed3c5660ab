/* SPDX-License-Identifier: MIT */
/* The fake plugin host of the unit tests (see fake_host.h).  Test-only
 * code, so the cancel switch may be a global. */
#include <config.h>
#include "fake_host.h"

#include <stdarg.h>
#include <stdio.h>

volatile bool test_cancel;

static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...) MF_PRINTF(3, 4);
static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[plugin %d] ", (int)level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool host_canceled(void *ctx)
{
	return test_cancel;
}

static const char *host_setting(void *ctx, const char *key)
{
	return NULL;
}

const struct mf_host fake_host = {
	.abi_major = MF_ABI_MAJOR,
	.abi_minor = MF_ABI_MINOR,
	.struct_size = sizeof(struct mf_host),
	.log = host_log,
	.canceled = host_canceled,
	.setting = host_setting,
};
