/* SPDX-License-Identifier: MIT */
/* migrate --only-failed: which messages of a folder an earlier run left
 * failed or pending (core/state.h state_retry_messages), as a sorted set
 * the folder pass asks per message.  What is done with them is
 * job_folder.c's; which folders and mailboxes are visited, scheduler.c's. */
#include <config.h>

#include <mailferry/util.h>
#include <stdlib.h>
#include <string.h>

#include "job_p.h"

static int add_id(const char *id, void *aux)
{
	struct retry_set *rs = aux;
	rs->v = mf_xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
	rs->v[rs->n++] = (struct retry_id){ .id = mf_xstrdup(id) };
	return MF_OK;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct retry_id *)a)->id, ((const struct retry_id *)b)->id);
}

int retry_set_load(struct retry_set *rs, struct state_db *db, int64_t folder_id,
		   uint32_t uidvalidity, struct mf_error *err)
{
	retry_set_free(rs);
	int st = state_retry_messages(db, folder_id, uidvalidity, add_id, rs, err);
	if (st != MF_OK) {
		retry_set_free(rs);
		return st;
	}
	if (rs->n > 1)
		qsort(rs->v, rs->n, sizeof(*rs->v), cmp_id);
	rs->loaded = true;
	return MF_OK;
}

struct retry_id *retry_set_find(const struct retry_set *rs, const char *id)
{
	if (rs == NULL || rs->n == 0)
		return NULL;
	struct retry_id key = { .id = (char *)id };
	return bsearch(&key, rs->v, rs->n, sizeof(*rs->v), cmp_id);
}

void retry_set_free(struct retry_set *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].id);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}
