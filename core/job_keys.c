/* SPDX-License-Identifier: MIT */
/* How the state names a message when the plugins' capability bits say the
 * obvious names cannot be trusted.  A source without MF_CAP_STABLE_IDS may
 * give a message another source_id in its next session (and an old id to
 * another message), so the core names each message by its content
 * instead: "sha256:<digest>/<n>", n counting identical messages within one
 * fetch, so two identical copies stay two rows and a re-run matches each
 * once.  A sink without MF_CAP_RETURNS_ID (or one that returned no id)
 * gets a target id of the core's own making, unique per message row, so
 * the content matching after a UIDVALIDITY change (state_digest_match)
 * can still tell which old rows are already claimed.  The pipeline that
 * uses these names is job_folder.c. */
#include <config.h>

#include <mailferry/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_p.h"

struct content_slot {
	unsigned char digest[32];
	uint32_t seen; /* 0: empty slot */
};

static size_t slot_of(const struct content_keys *k, const unsigned char digest[32])
{
	uint64_t h;
	memcpy(&h, digest, sizeof(h)); /* a SHA-256 is its own good hash */
	size_t i = (size_t)(h & (k->cap - 1));
	while (k->v[i].seen != 0 && memcmp(k->v[i].digest, digest, 32) != 0)
		i = (i + 1) & (k->cap - 1);
	return i;
}

static void grow(struct content_keys *k)
{
	struct content_keys old = *k;
	k->cap = old.cap ? old.cap * 2 : 64;
	k->v = mf_xcalloc(k->cap, sizeof(*k->v));
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].seen != 0)
			k->v[slot_of(k, old.v[i].digest)] = old.v[i];
	free(old.v);
}

void content_key_next(struct content_keys *k, const unsigned char digest[32],
		      char key[CONTENT_KEY_SIZE])
{
	if (2 * (k->used + 1) > k->cap)
		grow(k);
	struct content_slot *s = &k->v[slot_of(k, digest)];
	if (s->seen == 0) {
		memcpy(s->digest, digest, 32);
		k->used++;
	}
	s->seen++;
	char hex[65];
	mf_hex(digest, 32, hex);
	snprintf(key, CONTENT_KEY_SIZE, "sha256:%s/%u", hex, (unsigned)s->seen);
}

void content_keys_reset(struct content_keys *k)
{
	if (k->v != NULL)
		memset(k->v, 0, k->cap * sizeof(*k->v));
	k->used = 0;
}

void content_keys_free(struct content_keys *k)
{
	free(k->v);
	memset(k, 0, sizeof(*k));
}

void core_target_id(uint32_t uidvalidity, const char *source_id, char out[128])
{
	/* Hashed so a long source id (an EWS ItemId) cannot be cut short
	 * into another message's token. */
	struct mf_sha256 *h = mf_sha256_new();
	char head[16];
	int n = snprintf(head, sizeof(head), "%u/", (unsigned)uidvalidity);
	mf_sha256_update(h, head, (size_t)n);
	mf_sha256_update(h, source_id, strlen(source_id));
	unsigned char d[32];
	mf_sha256_final(h, d);
	mf_sha256_free(&h);
	char hex[65];
	mf_hex(d, 32, hex);
	snprintf(out, 128, "mailferry:%s", hex);
}
