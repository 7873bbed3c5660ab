/* SPDX-License-Identifier: MIT */
/* One folder copied by several streams at once (docs/plugin-abi.md §14).
 *
 * A mailbox whose mail sits mostly in one folder would otherwise be
 * copied by one stream while the others idle, and over a long link to a
 * target without LITERAL+ one stream moves a message per round trip.  The
 * source's split() (ABI 1.7) cuts the folder by uid into parts that any
 * free stream fetches.  Each message is still recorded on its own as it
 * is confirmed; only the folder's row waits for the last part, which
 * moves the cursor over the parts that ended complete, in order from the
 * first, so the cursor never passes a message that is not settled. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "job_p.h"
#include "log.h"

#define SPLIT_MAX_PARTS 16

struct folder_split *job_split_folder(struct job_ctx *j, const struct mf_folder *folder,
				      unsigned streams, uint64_t fair_share)
{
	uint64_t caps = j->src_plugin->desc.caps;
	if (streams < 2 || j->src_plugin->source.split == NULL || !(caps & MF_CAP_STABLE_IDS) ||
	    !(caps & MF_CAP_MONOTONIC_UIDS) || (caps & MF_CAP_SYNC_STATE))
		return NULL;
	/* A folder within its fair share is one stream's work as it is. */
	if (folder->messages != MF_COUNT_UNKNOWN &&
	    (folder->messages < 2 * SPLIT_MIN_PART || folder->messages <= fair_share))
		return NULL;
	struct state_folder sf = { 0 };
	struct mf_error err = { 0 };
	if (state_folder_begin(j->db, j->mailbox_id, folder->path, &sf, &err) != MF_OK)
		return NULL; /* copied whole, which reports the error */
	/* A changed UIDVALIDITY is matched by content in one pass. */
	if (sf.uidvalidity != 0 && sf.uidvalidity != folder->uidvalidity) {
		state_folder_clear(&sf);
		return NULL;
	}
	unsigned parts = streams < SPLIT_MAX_PARTS ? streams : SPLIT_MAX_PARTS;
	if (folder->messages != MF_COUNT_UNKNOWN && folder->messages / SPLIT_MIN_PART < parts)
		parts = (unsigned)(folder->messages / SPLIT_MIN_PART);
	struct mf_cursor since = { .uidvalidity = sf.uidvalidity, .last_uid = sf.last_uid };
	uint64_t bounds[SPLIT_MAX_PARTS];
	unsigned n = 0;
	crash_enter(j->src_plugin->desc.name, "splitting", j->job->name, folder->path);
	int st = j->src_plugin->source.split(j->src, folder->path, &since, parts, bounds, &n, &err);
	crash_leave();
	if (st != MF_OK || n == 0 || n >= parts) {
		if (st != MF_OK)
			log_msg(MF_LOG_DEBUG, "%s: %s: not split (%s)", j->job->name, folder->path,
				err.text);
		state_folder_clear(&sf);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		if (bounds[i] <= (i ? bounds[i - 1] : sf.last_uid)) {
			log_msg(MF_LOG_WARN,
				"%s: %s: the source's split bounds do not ascend; "
				"copied by one stream",
				j->job->name, folder->path);
			state_folder_clear(&sf);
			return NULL;
		}
	struct folder_split *s = mf_xcalloc(1, sizeof(*s));
	s->folder = folder;
	s->since = sf.last_uid;
	s->parts = s->left = n + 1;
	s->bounds = mf_xcalloc(n, sizeof(*s->bounds));
	memcpy(s->bounds, bounds, n * sizeof(*bounds));
	s->reached = mf_xcalloc(n + 1, sizeof(*s->reached));
	s->status = MF_OK;
	state_folder_clear(&sf);
	log_msg(MF_LOG_DEBUG, "%s: %s: %u parts for the streams", j->job->name, folder->path,
		s->parts);
	return s;
}

uint64_t split_part_from(const struct folder_split *s, unsigned k)
{
	return k > 0 ? s->bounds[k - 1] + 1 : 0;
}

uint64_t split_part_until(const struct folder_split *s, unsigned k)
{
	return k + 1 < s->parts ? s->bounds[k] : 0;
}

bool split_part_ended(struct folder_split *s, unsigned k, int st, const struct mf_error *err,
		      uint64_t reached, uint64_t *cursor_r, int *status_r, struct mf_error *err_r)
{
	s->reached[k] = reached;
	if (st != MF_OK && s->status == MF_OK) {
		s->status = st;
		s->err = *err;
	}
	if (--s->left > 0)
		return false;
	/* Part k starts above bounds[k-1]: the cursor may cross into it
	 * only once every part below is complete up to its last uid. */
	uint64_t c = s->reached[0] > s->since ? s->reached[0] : s->since;
	for (unsigned i = 1; i < s->parts && c >= s->bounds[i - 1]; i++)
		if (s->reached[i] > c)
			c = s->reached[i];
	*cursor_r = c;
	*status_r = s->status;
	if (s->status != MF_OK)
		*err_r = s->err;
	return true;
}

void job_split_free(struct folder_split *s)
{
	if (s == NULL)
		return;
	free(s->bounds);
	free(s->reached);
	free(s);
}
