/* SPDX-License-Identifier: MIT */
/* The IMAP source's preflight slots (plugin ABI 1.5): capabilities and a
 * folder's messages, bytes and messages over a size, read without
 * fetching a body (the commands are lib/imapc's, probe.c).  Nothing on
 * the source changes: the folder is EXAMINEd, never SELECTed. */
#include <config.h>
#include "imap_p.h"

int imap_probe(struct mf_source *src, struct mf_probe *p, struct mf_error *err)
{
	int st = imap_ensure_conn(src, err);
	if (st != MF_OK)
		return st;
	imapc_probe_caps(src->c, p);
	p->separator = src->sep;
	return MF_OK;
}

int imap_probe_folder(struct mf_source *src, const char *folder, uint64_t larger_than,
		      struct mf_folder_probe *p, struct mf_error *err)
{
	int st = imap_load_folders(src, false, err);
	if (st != MF_OK)
		return st;
	const struct imap_folder *f = imap_find_folder(src, folder);
	if (f == NULL)
		return mf_error_set(err, MF_ERR_FOLDER, MF_RETRY_NEVER,
				    "imap: %s: no folder %s on the source",
				    imapc_account_label(src->acct), folder);
	if (!f->selectable) {
		p->messages = p->bytes = 0;
		return MF_OK;
	}
	return imapc_probe_mailbox(src->c, f->name, larger_than, p, err);
}
