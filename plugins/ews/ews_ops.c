/* SPDX-License-Identifier: MIT */
/* The EWS source's ops table: sessions from ews_session.c, listing and
 * fetching from ews_source.c.  Kept apart so that ews_source.c can call
 * the session's round trip while the session knows nothing of fetching. */
#include <config.h>
#include "ews_p.h"

const struct mf_source_ops ews_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = ews_open,
	.list_folders = ews_list_folders,
	.fetch = ews_fetch,
	.close = ews_close,
};
