/* SPDX-License-Identifier: MIT */
/* The IMAP source's ops table: sessions and folders from imap_source.c,
 * fetching from imap_fetch.c.  Kept apart so that imap_fetch.c can use the
 * session's folder list while the session knows nothing of fetching. */
#include <config.h>
#include "imap_p.h"

/* Bytes before and after COMPRESS=DEFLATE over all the session's
 * connections (ABI 1.4). */
static void imap_io_stats(struct mf_source *src, struct mf_io_stats *st)
{
	imapc_account_io_stats(src->acct, src->c, st);
}

const struct mf_source_ops imap_source_ops = {
	.struct_size = sizeof(struct mf_source_ops),
	.open = imap_open,
	.list_folders = imap_list_folders,
	.fetch = imap_fetch,
	.close = imap_close,
	.io_stats = imap_io_stats,
	.probe = imap_probe,
	.probe_folder = imap_probe_folder,
	.split = imap_split,
};
