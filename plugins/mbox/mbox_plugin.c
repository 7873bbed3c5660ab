/* SPDX-License-Identifier: MIT */
/* The exported descriptor of the "mbox" module: offline sources read from
 * local files (mbox:PATH, maildir:PATH, eml:DIR).  Everything else lives in
 * libmboxsrc.la so that tests link the same code. */
#include <config.h>
#include "mbox_p.h"

static const char *const mbox_schemes[] = { "mbox", "maildir", "eml", NULL };

MF_PLUGIN_EXPORT(mbox) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SOURCE,
	.name = "mbox",
	.version = PACKAGE_VERSION,
	.description = "offline sources: mbox files/trees, Maildir(++), .eml trees",
	.schemes = mbox_schemes,
	.caps = MF_CAP_STABLE_IDS | MF_CAP_FOLDERS,
	.init = offline_init,
	.deinit = offline_deinit,
	.source = &offline_source_ops,
};
