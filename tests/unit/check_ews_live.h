/* SPDX-License-Identifier: MIT */
/* Shared by check_ews_live.c and check_ews_live_fake.c: the fake EWS
 * server harness, the test host, and what fetch delivered. */
#ifndef CHECK_EWS_LIVE_H
#define CHECK_EWS_LIVE_H

#include "plugins/ews/ews_p.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FIXTURE EWS_FAKE_DIR "/fixture"

extern char g_dir[64]; /* the server's private directory */
extern uint16_t g_port;
extern char g_ca[128];         /* "ca-file" setting, "" for none */
extern const char *g_insecure; /* "insecure" setting */
extern bool g_cancel;          /* what host->canceled() answers */
extern struct mf_buf g_logbuf; /* everything the plugin logged */
extern void *g_plugin;         /* plugin context, made by open_src() */
extern const struct mf_host ews_test_host;

void run_cmd(const char *cmd);
/* Start fake_ews.py (TLS with a fresh certificate if tls) with the
 * fixture, users svc@example.com (impersonator) and alice@example.com,
 * plus extra options; stop_fake() ends it and removes its directory. */
void start_fake(bool tls, const char *const *extra);
void stop_fake(void);
char *request_log(void); /* malloc'd JSON lines */
size_t count_lines_with(const char *log, const char *needle);

struct mf_account make_account(const char *user, const char *pw, const char *imp,
			       const char *const *opts);
int open_src(const struct mf_account *a, struct mf_source **src, struct mf_error *err);
/* start_fake(), then open the source as svc@example.com impersonating
 * alice@example.com with opts, asserting it opens; close_fake() closes it
 * and stops the server. */
struct mf_source *open_alice(bool tls, const char *const *extra, const char *const *opts);
void close_fake(struct mf_source **src);

struct got {
	char *id;
	struct mf_buf data;
	uint32_t flags;
	int64_t date;
	bool failed;
	char ftext[512];
};
extern struct got g_got[64];
extern size_t g_ngot;

bool have_got(const char *id, void *aux);
int on_msg(const struct mf_message *m, void *aux, struct mf_error *err);
void reset_got(void);
const struct got *got_id(const char *id);
size_t delivered(void);
/* Assert that item id was delivered with exactly the bytes of file. */
void assert_fixture(const char *id, const char *file);
/* fetch() with have = have_got and the given saved state. */
int fetch_folder(struct mf_source *src, const char *folder, const char *state, char **state_r,
		 struct mf_error *err);

struct folders {
	char path[16][96];
	enum mf_special_use su[16];
	size_t n;
};
int on_folder(const struct mf_folder *f, void *aux);
int folder_index(const struct folders *fs, const char *path);

#endif
