/* SPDX-License-Identifier: MIT */
/* A bounded spool for one message body: bytes stay in memory up to a
 * limit, then move to an unlinked temporary file (O_TMPFILE, else mkstemp
 * + unlink), so memory stays flat whatever the message size, and the body
 * can be read again from the start (a retried append, a second pass).
 * Used by the core between source and sink and by sources that must know
 * a body's exact size before handing it on (POP3).  It stores bytes only:
 * what to hash, which headers to keep, is the caller's.  One spool, one
 * thread at a time; no global state. */
#ifndef MAILFERRY_SPOOL_H
#define MAILFERRY_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mf_spool {
	struct mf_buf mem; /* all the bytes while size <= mem_limit */
	int fd;            /* -1 until the spool overflows memory */
	uint64_t size;     /* bytes stored */
	uint64_t pos;      /* where mf_spool_read() goes on */
	size_t mem_limit;
	const char *tmpdir; /* borrowed; "/tmp" when NULL or "" was given */
};

void mf_spool_init(struct mf_spool *sp, size_t mem_limit, const char *tmpdir);
/* Drop the stored bytes (closing the temp file), ready for the next body. */
void mf_spool_reset(struct mf_spool *sp);
/* Append: MF_ERR_FATAL if no temp file can be created in tmpdir,
 * MF_ERR_ACCOUNT / MF_RETRY_LATER (sys_errno set) if writing to it fails
 * (a full disk is the run's problem, not the message's). */
int mf_spool_add(struct mf_spool *sp, const void *data, size_t len, struct mf_error *err);
/* Up to cap bytes from offset off (0 at the end); the spool is not moved.
 * A failing temp file is MF_ERR_ACCOUNT / MF_RETRY_LATER. */
int mf_spool_pread(const struct mf_spool *sp, uint64_t off, unsigned char *buf, size_t cap,
		   size_t *n_r, struct mf_error *err);
/* The next bytes from pos; mf_spool_rewind() starts again at 0. */
int mf_spool_read(struct mf_spool *sp, unsigned char *buf, size_t cap, size_t *n_r,
		  struct mf_error *err);
void mf_spool_rewind(struct mf_spool *sp);
/* An mf_read_fn over the spool in msg->read_ctx (a struct mf_spool *):
 * set .read = mf_spool_message_read, .read_ctx = sp, .size = sp->size. */
int mf_spool_message_read(const struct mf_message *msg, unsigned char *buf, size_t cap, size_t *n_r,
			  struct mf_error *err);
void mf_spool_free(struct mf_spool *sp);

#ifdef __cplusplus
}
#endif
#endif
