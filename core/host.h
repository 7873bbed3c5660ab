/* SPDX-License-Identifier: MIT */
/* The host services table handed to plugins (logging, cancellation,
 * settings) and the core's own logging. */
#ifndef MF_CORE_HOST_H
#define MF_CORE_HOST_H

#include <stdbool.h>
#include <mailferry/plugin.h>

struct settings {
	char **keys, **values;
	size_t n;
};
void settings_set(struct settings *s, const char *key, const char *value);
const char *settings_get(const struct settings *s, const char *key);
void settings_free(struct settings *s);

/* Process-wide: raised by the front end (its signal handler), read by
 * every job. */
extern volatile int mf_cancel_requested;

/* Where log lines go: one call per line (level, text without newline),
 * from any thread.  No sink (the default): lines are dropped. */
typedef void mf_log_sink(enum mf_log_level level, const char *line);
void log_set_sink(mf_log_sink *sink);

/* Level below which messages are dropped (MF_LOG_INFO by default). */
void log_set_level(enum mf_log_level level);
void log_msg(enum mf_log_level level, const char *fmt, ...) MF_PRINTF(2, 3);

/* A table whose setting() reads *settings (which must outlive it). */
void host_init(struct mf_host *host, const struct settings *settings);

#endif
