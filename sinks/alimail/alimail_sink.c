/* SPDX-License-Identifier: MIT */
/* The sink ops table of the Alibaba Mail sink: the top of its one-way
 * chain (see alimail_p.h).  A blocking command (append, lookup) first
 * settles the pipelined APPENDs, since IMAP answers commands of one
 * connection in order; close drops what the core left in flight. */
#include <config.h>
#include "alimail_p.h"

#include <string.h>

static void alimail_close(struct mf_sink **snkp)
{
	if (snkp == NULL || *snkp == NULL)
		return;
	alimail_pipeline_abandon(*snkp);
	alimail_session_free(snkp);
}

static int alimail_append(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			  struct mf_append_result *res_r, struct mf_error *err)
{
	memset(res_r, 0, sizeof(*res_r));
	int st = alimail_append_flush(snk, err);
	return st != MF_OK ? st : alimail_append_now(snk, folder, msg, res_r, err);
}

static int alimail_lookup(struct mf_sink *snk, const char *folder, const struct mf_message *msg,
			  const unsigned char digest[32], bool *found_r,
			  struct mf_append_result *res_r, struct mf_error *err)
{
	*found_r = false;
	memset(res_r, 0, sizeof(*res_r));
	int st = alimail_append_flush(snk, err);
	return st != MF_OK ? st : alimail_lookup_now(snk, folder, msg, digest, found_r, res_r, err);
}

/* Bytes before and after COMPRESS=DEFLATE over all the session's
 * connections (ABI 1.4). */
static void alimail_io_stats(struct mf_sink *snk, struct mf_io_stats *st)
{
	imapc_account_io_stats(snk->acct, snk->c, st);
}

/* Without LITERAL+ (RFC 7888) every APPEND waits for the server's "+"
 * (ABI 1.8). */
static bool alimail_appends_wait(struct mf_sink *snk)
{
	return snk->c != NULL && !imapc_has_cap(snk->c, "LITERAL+");
}

const struct mf_sink_ops alimail_sink_ops = {
	.struct_size = sizeof(struct mf_sink_ops),
	.open = alimail_session_open,
	.ensure_folder = alimail_ensure_folder,
	.append = alimail_append,
	.close = alimail_close,
	.lookup = alimail_lookup,
	.append_start = alimail_append_start,
	.append_flush = alimail_append_flush,
	.io_stats = alimail_io_stats,
	.probe = alimail_probe,
	.folder_refused = alimail_folder_refused,
	.reader_uri = alimail_reader_uri,
	.appends_wait = alimail_appends_wait,
};
