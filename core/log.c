/* SPDX-License-Identifier: MIT */
/* The core's log: lines formatted here and handed to the sink the front
 * end installed (none: dropped), for the core and, through host.c, for
 * plugins.  Nothing here writes to the terminal. */
#include <config.h>
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum mf_log_level min_level = MF_LOG_INFO;
static mf_log_sink *_Atomic sink; /* set once by the front end, before threads */

void log_set_sink(mf_log_sink *to)
{
	sink = to;
}

void log_set_level(enum mf_log_level level)
{
	min_level = level;
}

void log_vmsg(enum mf_log_level level, const char *fmt, va_list ap)
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
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
