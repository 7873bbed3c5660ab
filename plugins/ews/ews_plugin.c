/* SPDX-License-Identifier: MIT */
/* The exported descriptor of the EWS source plugin, and nothing else: the
 * operations live in the libews convenience library (ews_source.c) so that
 * tests link exactly the code the module runs. */
#include <config.h>
#include "ews_p.h"

static const char *const ews_schemes[] = { "ews", NULL };

MF_PLUGIN_EXPORT(ews) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "ews",
	.version = PACKAGE_VERSION,
	.description = "Microsoft Exchange Web Services source (HTTPS, impersonation)",
	.schemes = ews_schemes,
	/* ItemIds survive sessions; EWS allows a few concurrent sessions
	 * per mailbox (EWSMaxConcurrency), the core caps how many. */
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_PARALLEL_SESSIONS | MF_CAP_SYNC_STATE,
	.init = ews_plugin_init,
	.deinit = ews_plugin_deinit,
	.source = &ews_source_ops,
};
