/* SPDX-License-Identifier: MIT */
/* The "imap" source plugin's descriptor: everything else is in the
 * libimapsrc convenience library (imap_source.c, imap_fetch.c) that the
 * Check tests link too. */
#include <config.h>
#include "imap_p.h"

static const char *const imap_schemes[] = { "imap", "imaps", NULL };

MF_PLUGIN_EXPORT(imap) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "imap",
	.version = PACKAGE_VERSION,
	.description = "IMAP4rev1 servers (imaps:// implicit TLS, imap:// STARTTLS)",
	.schemes = imap_schemes,
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS | MF_CAP_MONOTONIC_UIDS |
		MF_CAP_PARALLEL_SESSIONS,
	.init = imap_plugin_init,
	.deinit = imap_plugin_deinit,
	.source = &imap_source_ops,
};
