/* SPDX-License-Identifier: MIT */
/* Test doubles shared by the check_local_sink* programs (the struct
 * mf_host is fake_host.h, with test_cancel to pretend the operator
 * canceled): a struct mf_message whose read() serves a memory buffer in
 * small chunks (and can fail or lie about the size on request), and
 * file-system helpers. */
#ifndef CHECK_LOCAL_SINK_FAKE_H
#define CHECK_LOCAL_SINK_FAKE_H

#include "fake_host.h"

#include <mailferry/plugin.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_msg {
	struct mf_message m;
	const unsigned char *data;
	size_t len;
	size_t pos;
	size_t chunk;   /* bytes per read() at most */
	size_t fail_at; /* read() fails once pos reaches this; SIZE_MAX never */
	size_t kill_at; /* the process SIGKILLs itself there (a crash) */
};

/* m.size = len, chunk 7, no failure, date unknown, source_id "42". */
void fake_msg_init(struct fake_msg *f, const void *data, size_t len);

/* Open the local sink through its descriptor, as the core does.  The
 * status is returned, the session (maybe NULL) in *snk_r. */
int fake_open(const char *scheme, const char *path, struct mf_sink **snk_r, struct mf_error *err);
const struct mf_sink_ops *fake_ops(void);
/* The checked fixture of check_local_sink and check_local_sink_mbox: a
 * fresh temp dir in *dir_r, *root_r = dir/rel_root, the sink opened there
 * with scheme (asserted to succeed), test_cancel off. */
void fake_fixture_open(const char *scheme, const char *rel_root, char **dir_r, char **root_r,
		       struct mf_sink **snk_r);
/* Close the session, remove the dir, free both strings. */
void fake_fixture_close(char **dir, char **root, struct mf_sink **snk);

/* Fresh directory under $TMPDIR (or under base when not NULL); removed
 * by fake_rm_rf. */
char *fake_tmpdir(const char *base);
void fake_rm_rf(const char *path);
/* Whole file, malloc'd, NULL if unreadable. */
unsigned char *fake_slurp(const char *path, size_t *len_r);
/* Number of entries in dir except "." and ".."; -1 if unreadable. */
int fake_count(const char *dir);
/* Name of the only entry in dir (malloc'd), NULL unless exactly one. */
char *fake_only(const char *dir);
void fake_write_file(const char *path, const void *data, size_t len);
/* Hex SHA-256 of data. */
void fake_sha_hex(const void *data, size_t len, char hex[65]);

#endif
