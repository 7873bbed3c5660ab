/* SPDX-License-Identifier: MIT */
/* The spool a RETR is decoded into before the message is handed on.
 *
 * Why spool at all: struct mf_message.size must be exact before the first
 * read(), and a POP3 server's LIST/RETR octet count is only what it
 * *thinks* the message will take on the wire.  Dovecot's equals the
 * decoded CRLF size (checked by tests/integration/pop3_dovecot.sh), but
 * servers storing LF-only files (qpopper, older Courier) or adding a
 * missing final CRLF count differently, and a wrong size makes the core
 * refuse the message.  Spooling also gives us the header block for the
 * internal date without an extra TOP round trip, and the SHA-256 used
 * when the server has neither UIDL nor TOP.  Memory stays bounded: the
 * bytes go to libmailferry's mf_spool (memory, then an unlinked temp
 * file); this file adds the header block and the digest. */
#include <config.h>
#include "pop3_p.h"

#include <string.h>

void pop3_spool_init(struct pop3_spool *sp, size_t mem_limit, const char *tmpdir)
{
	memset(sp, 0, sizeof(*sp));
	mf_spool_init(&sp->store, mem_limit, tmpdir);
	sp->sha = mf_sha256_new();
}

void pop3_spool_reset(struct pop3_spool *sp)
{
	mf_spool_reset(&sp->store);
	mf_buf_clear(&sp->head);
	unsigned char junk[32];
	mf_sha256_final(sp->sha, junk); /* resets the context */
}

int pop3_spool_add(struct pop3_spool *sp, const unsigned char *p, size_t n, struct mf_error *err)
{
	if (n == 0)
		return MF_OK;
	mf_sha256_update(sp->sha, p, n);
	if (sp->head.len < POP3_HEAD_MAX) {
		size_t h = POP3_HEAD_MAX - sp->head.len;
		mf_buf_append(&sp->head, p, h < n ? h : n);
	}
	return mf_spool_add(&sp->store, p, n, err);
}

void pop3_spool_finish(struct pop3_spool *sp)
{
	mf_sha256_final(sp->sha, sp->digest);
	mf_spool_rewind(&sp->store);
}

void pop3_spool_free(struct pop3_spool *sp)
{
	mf_spool_free(&sp->store);
	mf_buf_free(&sp->head);
	mf_sha256_free(&sp->sha);
}
