/* SPDX-License-Identifier: MIT */
/* The "alimail" sink plugin's descriptor: Alibaba Mail over IMAP
 * (alimail://), also usable as a generic IMAP target (imap://, imaps://).
 * The code is in the convenience library sinks/alimail/libalimail.la. */
#include <config.h>
#include "alimail_p.h"

static const char *const alimail_schemes[] = { "alimail", "imap", "imaps", NULL };
static const char *const alimail_address_schemes[] = { "alimail", NULL };

MF_PLUGIN_EXPORT(alimail) = {
	MF_ABI_INIT,
	.kind = MF_PLUGIN_SINK,
	.name = "alimail",
	.version = PACKAGE_VERSION,
	.description = "Alibaba Mail (alimail://user@corp) and other IMAP"
		       " servers as target, by APPEND",
	.schemes = alimail_schemes,
	/* KEYWORDS: sent where the folder's PERMANENTFLAGS allow (\*), left
	 * out by the sink itself where they do not (alimail_append.c). */
	.caps = MF_CAP_RETURNS_ID | MF_CAP_KEYWORDS | MF_CAP_WANTS_CRLF | MF_CAP_PARALLEL_SESSIONS,
	.init = alimail_plugin_init,
	.deinit = alimail_plugin_deinit,
	.sink = &alimail_sink_ops,
	/* Alibaba logins are whole addresses: alimail://alice@corp.example is
	 * alice@corp.example on the region's server (alimail_session.c). */
	.address_schemes = alimail_address_schemes,
};
