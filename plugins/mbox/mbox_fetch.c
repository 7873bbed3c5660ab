/* SPDX-License-Identifier: MIT */
/* fetch() for mbox folders: scan the file message by message with
 * mbox_parse.c and hand each one to the core with a read() that streams its
 * unescaped bytes.  source_id is the decimal byte offset of the message's
 * From_ line (stable as long as the file is only appended to); uid is 0.
 * Handled messages are still scanned (mbox has no index to skip by) but
 * never streamed. */
#include <config.h>
#include "mbox_p.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int mbox_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
		     struct mf_error *err)
{
	return mbox_stream_read(msg->read_ctx, buf, cap, n_r, err);
}

int mbox_fetch_file(const struct offline_fetch *f, struct mf_error *err)
{
	const char *path = f->path;
	struct mbox_reader r;
	struct mbox_msg m = { 0 };
	int rc = mbox_reader_open(&r, path, 0, f->mboxo, err);
	if (rc != MF_OK) {
		mbox_reader_close(&r);
		return rc;
	}
	struct mbox_stream *st = mf_xmalloc(sizeof(*st));
	for (;;) {
		bool got;
		char id[24];
		if (offline_fetch_canceled(f, err)) {
			rc = MF_ERR_CANCELED;
			break;
		}
		if ((rc = mbox_reader_next(&r, &m, &got, err)) != MF_OK || !got)
			break;
		snprintf(id, sizeof(id), "%" PRIu64, m.from_off);
		if (offline_fetch_have(f, id))
			continue;
		mbox_stream_init(st, r.fd, path, &m, f->mboxo);
		struct mf_message msg = {
			.source_id = id,
			.uid = 0,
			.size = m.size,
			.internal_date = m.date,
			.tz_offset_min = m.date == MF_DATE_UNKNOWN ? 0 : m.tz,
			.flags = m.flags,
			.keywords = (const char *const *)m.keywords,
			.read = mbox_read,
			.read_ctx = st,
		};
		if ((rc = f->cb(&msg, f->aux, err)) != 0)
			break;
	}
	free(st);
	mbox_msg_clear(&m);
	mbox_reader_close(&r);
	return rc;
}
