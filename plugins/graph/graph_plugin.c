/* SPDX-License-Identifier: MIT */
/* The exported descriptor of the Microsoft Graph source plugin, and
 * nothing else: the code is in the libgraph convenience library. */
#include <config.h>
#include "graph_p.h"

static const char *const graph_schemes[] = { "graph", NULL };

MF_PLUGIN_EXPORT(graph) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "graph",
	.version = PACKAGE_VERSION,
	.description = "Microsoft 365 / Exchange Online through Microsoft Graph "
		       "(graph://TENANT/USER@DOMAIN, OAuth 2.0 app permissions)",
	.schemes = graph_schemes,
	/* Immutable ids survive sessions and moves; the delta link is the
	 * folder's sync state. */
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_SYNC_STATE,
	.init = graph_plugin_init,
	.deinit = graph_plugin_deinit,
	.source = &graph_source_ops,
};
