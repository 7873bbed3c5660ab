/* SPDX-License-Identifier: MIT */
/* The core's log (log.c). */
#ifndef MF_CORE_LOG_H
#define MF_CORE_LOG_H

#include <stdarg.h>
#include <mailferry/plugin.h>

/* Where log lines go: one call per line (level, text without newline),
 * from any thread.  No sink (the default): lines are dropped. */
typedef void mf_log_sink(enum mf_log_level level, const char *line);
void log_set_sink(mf_log_sink *sink);

/* Level below which messages are dropped (MF_LOG_INFO by default). */
void log_set_level(enum mf_log_level level);
void log_msg(enum mf_log_level level, const char *fmt, ...) MF_PRINTF(2, 3);
void log_vmsg(enum mf_log_level level, const char *fmt, va_list ap) MF_PRINTF(2, 0);

#endif
