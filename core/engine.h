/* SPDX-License-Identifier: MIT */
/* The engine as its front ends see it: the one header cli/ (the command
 * and its dashboard, mailferry serve; a coming database-backed worker)
 * includes.  A front end
 *   - loads plugins into a registry (plugin_loader.h) with the host
 *     services (host.h: logging sink, cancel flag),
 *   - describes each mailbox as a job of two account specs (uri.h) and a
 *     folder map (folder_map.h),
 *   - runs them (scheduler.h) with a throttle (throttle.h), a retry policy
 *     (retry.h), a state store (state.h) and its event hooks (events.h),
 *   - and may read both sides back to compare them (verify.h), or log
 *     into both without copying to find what would stop a run
 *     (preflight.h).
 * Plugins get OAuth 2.0 tokens from the engine (oauth.h) configured by
 * the same settings; a front end clears the cache at the end.
 * The engine prints nothing: it logs through the host's log sink and
 * reports through the event hooks. */
#ifndef MF_CORE_ENGINE_H
#define MF_CORE_ENGINE_H

#include "events.h"
#include "folder_map.h"
#include "crash.h"
#include "host.h"
#include "oauth.h"
#include "plugin_loader.h"
#include "preflight.h"
#include "retry.h"
#include "scheduler.h"
#include "state.h"
#include "throttle.h"
#include "uri.h"
#include "verify.h"

#endif
