/* SPDX-License-Identifier: MIT */
/* The message spool between source and sink. */
#ifndef MF_CORE_SPOOL_H
#define MF_CORE_SPOOL_H

#include <mailferry/plugin.h>
#include <mailferry/spool.h>
#include <mailferry/util.h>

struct throttle;

/* The bytes live in the lib spool (<mailferry/spool.h>: memory, then an
 * unlinked temp file), so the sink can be retried (or reconnected) without
 * asking the source again; the core adds the digest of the source bytes,
 * the CRLF form for sinks that want it, and pacing. */
struct spool {
	struct mf_spool store;
	unsigned char digest[32];
	struct mf_sha256 *sha;
	struct mf_buf conv; /* a chunk in CRLF form (spool_fill with crlf) */
};

void spool_init(struct spool *s, size_t mem_limit, const char *tmpdir);
void spool_free(struct spool *s);

/* Drain src->read() into the spool (pacing through throttle, which may be
 * NULL), computing the SHA-256 of the bytes as read, whose count must
 * equal src->size.  With crlf (a sink with MF_CAP_WANTS_CRLF) every bare
 * LF is stored as CRLF, and size counts what is stored. */
int spool_fill(struct spool *s, const struct mf_message *src, bool crlf, struct throttle *throttle,
	       const char *what, struct mf_error *err);

/* A copy of src whose read() replays the spool from its start. */
void spool_message(struct spool *s, const struct mf_message *src, struct mf_message *out);
void spool_rewind(struct spool *s);

#endif
