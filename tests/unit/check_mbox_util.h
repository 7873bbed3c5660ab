/* SPDX-License-Identifier: MIT */
/* Test helpers shared by check_mbox.c and check_mbox_trees.c (the fake
 * host is fake_host.h): opening the offline source through its real ops table, draining fetch()
 * with read() calls of varying sizes, and temp-file plumbing. */
#ifndef CHECK_MBOX_UTIL_H
#define CHECK_MBOX_UTIL_H

#include "fake_host.h"
#include "mbox_p.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct got_msg {
	char *id;
	uint64_t size;
	int64_t date;
	int32_t tz;
	uint32_t flags;
	char *keywords; /* space-joined, "" if none */
	unsigned char *body;
	size_t body_len;
};

struct got {
	struct got_msg *v;
	size_t n;
	const char *const *have; /* ids the fake state store already has */
	size_t read_limit;       /* 0: read whole messages; else stop after */
	bool skip_read;          /* take metadata only */
	int stop_with;           /* return this from the callback (after 1) */
};

struct mf_source *t_open(const char *scheme, const char *path, const char *const *options,
			 int *rc_r, struct mf_error *err);
void t_close(struct mf_source *src);
int t_fetch(struct mf_source *src, const char *folder, struct got *g, struct mf_error *err);
void got_free(struct got *g);
/* "name[role,n=3,b=10]" per folder, ';'-separated; role i/s/d/t/j/a or -,
 * "c" for containers; counts omitted when unknown. */
char *t_list(struct mf_source *src, int *rc_r, struct mf_error *err);

char *t_tmpdir(void);
char *t_write(const char *dir, const char *rel, const void *data, size_t len);
#define T_WRITE_STR(dir, rel, s) t_write(dir, rel, s, sizeof(s) - 1)
void t_rm_rf(const char *path);
bool t_body_is(const struct got_msg *m, const char *s, size_t len);
#define T_BODY(m, s) t_body_is(m, s, sizeof(s) - 1)

#endif
