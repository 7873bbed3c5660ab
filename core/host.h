/* SPDX-License-Identifier: MIT */
/* The host services table handed to plugins (logging, cancellation,
 * settings, OAuth tokens); the log and the settings themselves are in
 * log.h and settings.h, included here for the front ends. */
#ifndef MF_CORE_HOST_H
#define MF_CORE_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <mailferry/plugin.h>

#include "log.h"
#include "settings.h"

/* Process-wide: raised by the front end (its signal handler), read by
 * every job thread.  A lock-free C11 atomic: safe to set from a signal
 * handler and to read from any thread without a data race. */
extern atomic_int mf_cancel_requested;

/* Sleep about ms milliseconds, waking every 50 ms to look at
 * mf_cancel_requested; false if the run was canceled. */
bool host_sleep_ms(unsigned ms);

/* A table whose setting() reads *settings (which must outlive it). */
void host_init(struct mf_host *host, const struct settings *settings);

#endif
