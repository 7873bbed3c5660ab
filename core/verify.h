/* SPDX-License-Identifier: MIT */
/* "mailferry verify": compare what the source holds with what the sink
 * holds, per target folder, by count, size and content digest. */
#ifndef MF_CORE_VERIFY_H
#define MF_CORE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler.h"

struct verify_folder {
	char *target;  /* target folder path */
	char *sources; /* source folder(s) mapped onto it, ", "-joined */
	uint64_t src_count, src_bytes;
	uint64_t dst_count, dst_bytes;
	uint64_t missing; /* source messages not found in the target */
	uint64_t extra;   /* target messages not from the source (pre-existing?) */
	uint64_t failed;  /* recorded as failed in the state file */
	bool readable;    /* target folder could be read */
};

struct verify_account {
	char *name, *source_uri, *sink_uri;
	char *error; /* a side could not be read at all */
	struct verify_folder *folders;
	size_t n_folders;
	bool ok; /* nothing missing anywhere */
};

/* Reads both sides of job (which must have run: the state file says which
 * source folder went to which target folder). */
void verify_account(const struct run_config *cfg, struct job *job, struct verify_account *out);
void verify_account_free(struct verify_account *a);

#endif
