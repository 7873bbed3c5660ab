/* SPDX-License-Identifier: MIT */
/* The EWS source operations (open, list_folders, fetch, close) driven over
 * HTTPS against the fake EWS server (tests/fake/ews/fake_ews.py) with the
 * fixture mailbox: folder paths and special-use, MIME bytes against the
 * fixture .eml files, flags and dates, the failed item, sync states,
 * impersonation, auth failures, injected ErrorServerBusy / 503, version
 * step-down, FindItem fallback, bearer tokens, TLS verification.  Each
 * case starts its own server (fork mode), which stops by itself. */
#include <config.h>
#include "plugins/ews/ews_p.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE EWS_FAKE_DIR "/fixture"

/* ------------------------------------------------------------------ */
/* The fake server                                                      */

static char g_dir[64];
static pid_t g_pid;
static uint16_t g_port;
static char g_ca[128];
static const char *g_insecure;
static struct mf_buf g_logbuf;

static void run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

static void start_fake(bool tls, const char *const *extra)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/ewslive.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	char cmd[512];
	if (tls) {
		snprintf(cmd, sizeof(cmd),
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			 "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
			 "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1", g_dir, g_dir);
		run(cmd);
		snprintf(g_ca, sizeof(g_ca), "%s/cert.pem", g_dir);
	}
	const char *argv[64];
	size_t n = 0;
	char portf[128], logf[128], keyf[128];
	snprintf(portf, sizeof(portf), "%s/port", g_dir);
	snprintf(logf, sizeof(logf), "%s/requests.jsonl", g_dir);
	snprintf(keyf, sizeof(keyf), "%s/key.pem", g_dir);
	argv[n++] = "python3";
	argv[n++] = EWS_FAKE_DIR "/fake_ews.py";
	argv[n++] = "--fixture";
	argv[n++] = FIXTURE "/mailbox.json";
	argv[n++] = "--port-file";
	argv[n++] = portf;
	argv[n++] = "--log";
	argv[n++] = logf;
	argv[n++] = "--time-limit";
	argv[n++] = "60";
	argv[n++] = "--user";
	argv[n++] = "svc@example.com:S3cret!";
	argv[n++] = "--user";
	argv[n++] = "alice@example.com:alice-pw";
	argv[n++] = "--impersonator";
	argv[n++] = "svc@example.com";
	if (tls) {
		argv[n++] = "--cert";
		argv[n++] = g_ca;
		argv[n++] = "--key";
		argv[n++] = keyf;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	g_pid = fork();
	ck_assert_int_ge(g_pid, 0);
	if (g_pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(portf, "r");
		unsigned p = 0;
		if (f != NULL) {
			int ok = fscanf(f, "%u", &p);
			fclose(f);
			if (ok == 1 && p > 0) {
				g_port = (uint16_t)p;
				return;
			}
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("fake EWS server did not start");
}

static void stop_fake(void)
{
	if (g_pid > 0) {
		kill(g_pid, SIGTERM);
		waitpid(g_pid, NULL, 0);
		g_pid = 0;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	run(cmd);
}

/* The fake's request log: one JSON object per line. */
static char *request_log(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/requests.jsonl", g_dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	struct mf_buf b = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mf_buf_append(&b, chunk, n);
	fclose(f);
	mf_buf_append(&b, "", 0);
	return (char *)b.data;
}

static size_t count_lines_with(const char *log, const char *needle)
{
	size_t n = 0;
	for (const char *l = log; l != NULL && *l != '\0';) {
		const char *e = strchr(l, '\n');
		size_t len = e != NULL ? (size_t)(e - l) : strlen(l);
		char *line = mf_xstrndup(l, len);
		if (strstr(line, needle) != NULL)
			n++;
		free(line);
		l = e != NULL ? e + 1 : NULL;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Host and account                                                     */

static void hlog(void *ctx, enum mf_log_level lvl, const char *fmt, ...)
	MF_PRINTF(3, 4);
static void hlog(void *ctx, enum mf_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "[%d] %s\n", (int)lvl, line);
	mf_buf_append_str(&g_logbuf, line);
	mf_buf_append_str(&g_logbuf, "\n");
}

static bool g_cancel;

static bool hcanceled(void *ctx)
{
	return g_cancel;
}

static const char *hsetting(void *ctx, const char *key)
{
	if (strcmp(key, "ca-file") == 0)
		return g_ca[0] ? g_ca : NULL;
	if (strcmp(key, "insecure") == 0)
		return g_insecure;
	if (strcmp(key, "timeout") == 0)
		return "10";
	return NULL;
}

static const struct mf_host host = {
	.abi_major = MF_ABI_MAJOR, .abi_minor = MF_ABI_MINOR,
	.struct_size = sizeof(struct mf_host),
	.log = hlog, .canceled = hcanceled, .setting = hsetting,
};

static struct mf_account account(const char *user, const char *pw,
				 const char *imp, const char *const *opts)
{
	return (struct mf_account){
		.id = imp != NULL ? imp : user, .scheme = "ews", .user = user,
		.host = "127.0.0.1", .port = g_port, .path = "/EWS/Exchange.asmx",
		.password = pw, .impersonate = imp, .options = opts,
	};
}

static void *g_plugin;

static int open_src(const struct mf_account *a, struct mf_source **src,
		    struct mf_error *err)
{
	struct mf_error e0;
	if (g_plugin == NULL)
		ck_assert_int_eq(ews_plugin_init(&host, &g_plugin, &e0), MF_OK);
	memset(err, 0, sizeof(*err));
	return ews_source_ops.open(g_plugin, a, src, err);
}

/* ------------------------------------------------------------------ */
/* Collecting what fetch delivers                                       */

struct got {
	char *id;
	struct mf_buf data;
	uint32_t flags;
	int64_t date;
	bool failed;
	char ftext[512];
};

static struct got g_got[64];
static size_t g_ngot;

static bool have_got(const char *id, void *aux)
{
	for (size_t i = 0; i < g_ngot; i++)
		if (!g_got[i].failed && strcmp(g_got[i].id, id) == 0)
			return true;
	return false;
}

static int on_msg(const struct mf_message *m, void *aux, struct mf_error *err)
{
	ck_assert_uint_lt(g_ngot, 64);
	struct got *g = &g_got[g_ngot++];
	memset(g, 0, sizeof(*g));
	g->id = mf_xstrdup(m->source_id);
	g->flags = m->flags;
	g->date = m->internal_date;
	if (m->failure != NULL) {
		ck_assert_int_eq(m->failure->status, MF_ERR_MESSAGE);
		g->failed = true;
		snprintf(g->ftext, sizeof(g->ftext), "%s", m->failure->text);
		return 0;
	}
	unsigned char buf[7]; /* small on purpose: many read() calls */
	size_t n;
	do {
		ck_assert_int_eq(m->read(m, buf, sizeof(buf), &n, err), MF_OK);
		mf_buf_append(&g->data, buf, n);
	} while (n > 0);
	ck_assert_uint_eq(g->data.len, m->size);
	return 0;
}

static void reset_got(void)
{
	for (size_t i = 0; i < g_ngot; i++) {
		free(g_got[i].id);
		mf_buf_free(&g_got[i].data);
	}
	g_ngot = 0;
}

static const struct got *got_id(const char *id)
{
	for (size_t i = 0; i < g_ngot; i++)
		if (strcmp(g_got[i].id, id) == 0)
			return &g_got[i];
	return NULL;
}

static size_t delivered(void)
{
	size_t n = 0;
	for (size_t i = 0; i < g_ngot; i++)
		n += !g_got[i].failed;
	return n;
}

static void assert_fixture(const char *id, const char *file)
{
	const struct got *g = got_id(id);
	ck_assert_msg(g != NULL, "item %s not delivered", id);
	char path[256];
	snprintf(path, sizeof(path), FIXTURE "/mail/%s", file);
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	unsigned char want[8192];
	size_t n = fread(want, 1, sizeof(want), f);
	fclose(f);
	ck_assert_uint_eq(g->data.len, n);
	ck_assert_msg(memcmp(g->data.data, want, n) == 0, "%s differs from %s", id, file);
}

static int fetch(struct mf_source *src, const char *folder, const char *state,
		 char **state_r, struct mf_error *err)
{
	struct mf_cursor c = { .sync_state = state, .have = have_got };
	return ews_source_ops.fetch(src, folder, &c, on_msg, NULL, state_r, err);
}

struct folders {
	char path[16][96];
	enum mf_special_use su[16];
	size_t n;
};

static int on_folder(const struct mf_folder *f, void *aux)
{
	struct folders *fs = aux;
	ck_assert_uint_lt(fs->n, 16);
	snprintf(fs->path[fs->n], sizeof(fs->path[0]), "%s", f->path);
	fs->su[fs->n++] = f->special_use;
	return 0;
}

static int folder_index(const struct folders *fs, const char *path)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->path[i], path) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */

static const char *const small_pages[] = { "sync-batch=2", "batch=3", NULL };

START_TEST(impersonated_mailbox_folders_messages_and_sync_state)
{
	start_fake(true, NULL);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", small_pages);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);

	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_uint_eq(fs.n, 9);
	static const char *const want[] = {
		"INBOX", "INBOX/Projects", "INBOX/Projects/2024_Q1", "Gesendete Elemente",
		"Entw\xc3\xbcrfe", "Gel\xc3\xb6schte Elemente", "Junk-E-Mail",
		"Kalender/Mail under calendar", "Archive & Old <2019>",
	};
	for (size_t i = 0; i < 9; i++)
		ck_assert_msg(folder_index(&fs, want[i]) >= 0, "missing folder %s", want[i]);
	ck_assert_int_eq(fs.su[folder_index(&fs, "INBOX")], MF_SPECIAL_INBOX);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Gesendete Elemente")], MF_SPECIAL_SENT);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Entw\xc3\xbcrfe")], MF_SPECIAL_DRAFTS);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Gel\xc3\xb6schte Elemente")], MF_SPECIAL_TRASH);
	ck_assert_int_eq(fs.su[folder_index(&fs, "Junk-E-Mail")], MF_SPECIAL_JUNK);
	ck_assert_int_eq(fs.su[folder_index(&fs, "INBOX/Projects")], MF_SPECIAL_NONE);
	ck_assert_int_lt(folder_index(&fs, "INBOX"), folder_index(&fs, "INBOX/Projects"));
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data, "skipped 5 non-mail folders"));

	char *state = NULL;
	ck_assert_int_eq(fetch(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_ptr_nonnull(state);
	ck_assert_uint_eq(delivered(), 4);
	assert_fixture("AAMkI1/ab+c=", "a1-welcome.eml");
	assert_fixture("AAMkI2=", "a2-unread.eml");
	assert_fixture("AAMkI3=", "a3-replied.eml");
	assert_fixture("AAMkI12=", "a12-forwarded.eml");
	ck_assert_uint_eq(got_id("AAMkI1/ab+c=")->flags, MF_FLAG_SEEN | MF_FLAG_FLAGGED);
	ck_assert_uint_eq(got_id("AAMkI2=")->flags, 0);
	ck_assert_uint_eq(got_id("AAMkI3=")->flags, MF_FLAG_SEEN | MF_FLAG_ANSWERED);
	ck_assert_uint_eq(got_id("AAMkI12=")->flags, MF_FLAG_SEEN | MF_FLAG_FORWARDED);
	ck_assert_int_eq(got_id("AAMkI1/ab+c=")->date, 1711962005); /* 2024-04-01T09:00:05Z */
	const struct got *bad = got_id("AAMkI4=");
	ck_assert_ptr_nonnull(bad);
	ck_assert(bad->failed);
	ck_assert_ptr_nonnull(strstr(bad->ftext, "ErrorMimeContentConversionFailed"));
	ck_assert_ptr_nonnull(strstr(bad->ftext, "AAMkI4="));
	ck_assert_ptr_null(got_id("AAMkI5=")); /* appointment in the inbox */

	/* Delta pass with the saved state: nothing new. */
	size_t before = g_ngot;
	char *state2 = NULL;
	ck_assert_int_eq(fetch(src, "INBOX", state, &state2, &err), MF_OK);
	ck_assert_uint_eq(g_ngot, before);
	ck_assert_ptr_nonnull(state2);

	ck_assert_int_eq(fetch(src, "INBOX/Projects/2024_Q1", NULL, NULL, &err), MF_OK);
	assert_fixture("AAMkI7=", "a7-q1.eml");
	ck_assert_uint_eq(got_id("AAMkI7=")->flags, MF_FLAG_FLAGGED);
	ck_assert_int_eq(fetch(src, "Entw\xc3\xbcrfe", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(got_id("AAMkI9=")->flags, MF_FLAG_SEEN | MF_FLAG_DRAFT);
	ck_assert_int_eq(fetch(src, "Kalender", NULL, NULL, &err), MF_ERR_FOLDER);

	/* Every request impersonated alice, anchored on her mailbox. */
	char *log = request_log();
	size_t total = count_lines_with(log, "\"n\":");
	ck_assert_uint_gt(total, 6);
	ck_assert_uint_eq(count_lines_with(log, "\"anchor\": \"alice@example.com\""), total);
	ck_assert_uint_eq(count_lines_with(log, "\"impersonate\": \"alice@example.com\""), total);
	ck_assert_uint_eq(count_lines_with(log, "\"ua\": \"mailferry/"), total);
	ck_assert_uint_eq(count_lines_with(log, "\"status\": 200"), total);
	/* Accept-Encoding: gzip, and the fake then compresses every reply. */
	ck_assert_uint_eq(count_lines_with(log, "\"gzip\": true"), total);
	ck_assert_uint_ge(count_lines_with(log, "\"op\": \"SyncFolderItems\""), 3);
	free(log);
	free(state);
	free(state2);
	ews_source_ops.close(&src);
	ck_assert_ptr_null(src);
	stop_fake();
}
END_TEST

START_TEST(wrong_password_is_auth_error)
{
	start_fake(true, NULL);
	struct mf_account a = account("svc@example.com", "wrong", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ck_assert_int_eq(err.proto_code, 401);
	ck_assert_ptr_null(strstr(err.text, "wrong"));
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(impersonation_without_the_right_is_denied)
{
	start_fake(true, NULL);
	struct mf_account a = account("alice@example.com", "alice-pw", "bob@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(err.text, "ErrorImpersonateUserDenied"));
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(own_mailbox_without_impersonation_and_option_fallback)
{
	start_fake(true, NULL);
	/* No impersonation: alice's own mailbox, no X-AnchorMailbox. */
	struct mf_account a = account("alice@example.com", "alice-pw", NULL, NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ews_source_ops.close(&src);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"anchor\": null"), count_lines_with(log, "\"n\":"));
	free(log);

	/* impersonate= as a URI option when the core left the field NULL. */
	static const char *const opts[] = { "impersonate=bob@example.com", NULL };
	a = account("svc@example.com", "S3cret!", NULL, opts);
	reset_got();
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 2);
	assert_fixture("BBMkI1=", "b1-bob.eml");
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(server_busy_fault_returns_backoff_and_fetch_resumes)
{
	/* Requests: 1 GetFolder (open), 2 FindFolder, 3 SyncFolderItems,
	 * 4 GetItem (2 ids), 5 SyncFolderItems, 6 GetItem: busy. */
	static const char *const extra[] = { "--busy-on", "6", "--busy-ms", "1500", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", small_pages);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	char *state = NULL;
	ck_assert_int_eq(fetch(src, "INBOX", NULL, &state, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_uint_eq(err.retry_after_ms, 1500);
	ck_assert_ptr_nonnull(strstr(err.text, "ErrorServerBusy"));
	ck_assert_ptr_null(state);
	size_t first = delivered();
	ck_assert_uint_eq(first, 2);
	/* The core retries later: have() skips what it already holds. */
	ck_assert_int_eq(fetch(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert_ptr_nonnull(state);
	free(state);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(server_busy_inside_200_reply)
{
	static const char *const extra[] = { "--busy-msg-on", "3", "--busy-ms", "2500", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	/* fetch without list_folders: 2 FindFolder, 3 SyncFolderItems. */
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_uint_eq(err.retry_after_ms, 2500);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(http_503_honours_retry_after)
{
	static const char *const extra[] = { "--unavailable-on", "2", "--retry-after", "2", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_int_eq(err.proto_code, 503);
	ck_assert_uint_eq(err.retry_after_ms, 2000);
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_uint_eq(fs.n, 9);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(vanished_item_and_stopped_batch)
{
	/* 1 GetFolder, 2 FindFolder, 3 SyncFolderItems, 4 GetItem of five
	 * ids: answered ErrorBatchProcessingStopped after the first one. */
	static const char *const extra[] = { "--vanish", "AAMkI2=", "--stop-batch-on", "4", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 3);
	assert_fixture("AAMkI1/ab+c=", "a1-welcome.eml");
	assert_fixture("AAMkI3=", "a3-replied.eml");
	assert_fixture("AAMkI12=", "a12-forwarded.eml");
	ck_assert_ptr_null(got_id("AAMkI2=")); /* gone: neither copied nor failed */
	ck_assert(got_id("AAMkI4=")->failed);
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data, "3 messages fetched, 1 failed, "
				     "0 already copied, 1 gone since listed"));
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "batch-stopped"), 1);
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 3);
	free(log);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(corrupt_base64_is_a_failed_message)
{
	static const char *const extra[] = { "--corrupt", "AAMkI2=", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 3);
	const struct got *g = got_id("AAMkI2=");
	ck_assert_ptr_nonnull(g);
	ck_assert(g->failed);
	ck_assert_ptr_nonnull(strstr(g->ftext, "MimeContent is not valid base64"));
	/* Both bad items were asked for once more, each on its own. */
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 3);
	free(log);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(older_server_version_steps_down)
{
	static const char *const extra[] = { "--max-version", "Exchange2010_SP2", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "Exchange2013_SP1"), 1);
	ck_assert_uint_eq(count_lines_with(log, "ErrorInvalidServerVersion"), 1);
	ck_assert_uint_ge(count_lines_with(log, "Exchange2010_SP2"), 3);
	free(log);
	ews_source_ops.close(&src);
	/* A second session to the same endpoint starts at the version that
	 * worked: no second refusal. */
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "ErrorInvalidServerVersion"), 1);
	free(log);
	ews_plugin_deinit(g_plugin);
	g_plugin = NULL;
	stop_fake();
}
END_TEST

START_TEST(rejected_sync_state_lists_again)
{
	start_fake(true, NULL);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	char *state = NULL;
	ck_assert_int_eq(fetch(src, "INBOX", "H4sIforged.0123456789abcdef", &state, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert_ptr_nonnull(state);
	ck_assert_str_ne(state, "H4sIforged.0123456789abcdef");
	ck_assert_ptr_nonnull(strstr((const char *)g_logbuf.data, "rejected the saved SyncState"));
	free(state);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(finditem_fallback_with_partial_pages)
{
	static const char *const extra[] = { "--no-sync", "--item-page-cap", "2", NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	char *state = (char *)"unset";
	ck_assert_int_eq(fetch(src, "INBOX", NULL, &state, &err), MF_OK);
	ck_assert_ptr_null(state);
	ck_assert_uint_eq(delivered(), 4);
	ck_assert(got_id("AAMkI4=")->failed);
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"FindItem\""), 3); /* 6 items, 2 a page */
	free(log);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(bearer_token_from_file)
{
	static const char *const extra[] = { "--token", "tok-123:svc@example.com", NULL };
	start_fake(true, extra);
	char tf[128], opt[160];
	snprintf(tf, sizeof(tf), "%s/token", g_dir);
	FILE *f = fopen(tf, "w");
	fputs("  tok-123 \n", f);
	fclose(f);
	snprintf(opt, sizeof(opt), "token-file=%s", tf);
	const char *opts[] = { "auth=bearer", opt, NULL };
	struct mf_account a = account("svc@example.com", NULL, "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	const char *opts2[] = { "auth=bearer", NULL };
	a = account("svc@example.com", "tok-999", "alice@example.com", opts2);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(ntlm_authenticates_one_connection_per_session)
{
	static const char *const extra[] = { "--ntlm", "--user", "CORP\\svc:S3cret!",
					     "--impersonator", "CORP\\svc", NULL };
	start_fake(true, extra);
	static const char *const opts[] = { "auth=ntlm", "sync-batch=2", NULL };
	struct mf_account a = account("CORP\\svc", "S3cret!", "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	struct folders fs = { 0 };
	ck_assert_int_eq(ews_source_ops.list_folders(src, on_folder, &fs, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 4);
	ews_source_ops.close(&src);
	/* One handshake, then every request on that same connection: NTLM
	 * authenticates the connection, so the session must keep it. */
	char *log = request_log();
	size_t lines = count_lines_with(log, "\"conn\":");
	ck_assert_uint_gt(lines, 8);
	ck_assert_uint_eq(count_lines_with(log, "\"ntlm\": \"negotiate\""), 1);
	ck_assert_uint_eq(count_lines_with(log, "\"conn\": 1,"), lines);
	ck_assert_uint_eq(count_lines_with(log, "\"user\": \"CORP\\\\svc\""), lines - 1);
	free(log);
	a = account("CORP\\svc", "nope", "alice@example.com", opts);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

static int stop_at_second_folder(const struct mf_folder *f, void *aux)
{
	int *n = aux;
	return ++*n == 2 ? MF_ERR_FATAL : 0;
}

START_TEST(cancel_and_callback_stop)
{
	start_fake(true, NULL);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	int n = 0;
	ck_assert_int_eq(ews_source_ops.list_folders(src, stop_at_second_folder, &n, &err),
			 MF_ERR_FATAL);
	ck_assert_int_eq(n, 2);
	g_cancel = true;
	ck_assert_int_eq(fetch(src, "INBOX", NULL, NULL, &err), MF_ERR_CANCELED);
	ck_assert_uint_eq(g_ngot, 0);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(large_item_over_libxml2_text_limit)
{
	/* 12 MB of MIME: 16 MB of base64 in one text node, over libxml2's
	 * 10 MB XML_MAX_TEXT_LENGTH (2.9.14 does not enforce it for
	 * in-memory input, newer releases may: the parser asks for
	 * XML_PARSE_HUGE either way). */
	char big[160], spec[200];
	snprintf(big, sizeof(big), "/tmp/ewsbig.%ld.eml", (long)getpid());
	snprintf(spec, sizeof(spec), "AAMkProj+=:AAMkBig=:12582912:%s", big);
	const char *extra[] = { "--big", spec, NULL };
	start_fake(true, extra);
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX/Projects", NULL, NULL, &err), MF_OK);
	ck_assert_uint_eq(delivered(), 2);
	const struct got *g = got_id("AAMkBig=");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->data.len, 12582912);
	FILE *f = fopen(big, "rb");
	ck_assert_ptr_nonnull(f);
	unsigned char *want = mf_xmalloc(12582912);
	ck_assert_uint_eq(fread(want, 1, 12582912, f), 12582912);
	fclose(f);
	ck_assert(memcmp(g->data.data, want, 12582912) == 0);
	free(want);
	unlink(big);
	/* Over the 8 MB batch cap: it went alone, the small one separately. */
	char *log = request_log();
	ck_assert_uint_eq(count_lines_with(log, "\"op\": \"GetItem\""), 2);
	free(log);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(tls_verified_by_default)
{
	start_fake(true, NULL);
	g_ca[0] = '\0'; /* trust nothing extra: the self-signed cert fails */
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, "TLS"));
	ews_source_ops.close(&src);
	g_insecure = "1";
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(plain_http_with_tls_none)
{
	start_fake(false, NULL);
	static const char *const opts[] = { "tls=none", NULL };
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	ck_assert_int_eq(fetch(src, "INBOX/Projects", NULL, NULL, &err), MF_OK);
	assert_fixture("AAMkI6=", "a6-project.eml");
	ews_source_ops.close(&src);
	/* Without tls=none the same server is spoken to over TLS: fails. */
	a = account("svc@example.com", "S3cret!", "alice@example.com", NULL);
	ck_assert_int_ne(open_src(&a, &src, &err), MF_OK);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

START_TEST(bad_options_are_fatal)
{
	start_fake(true, NULL);
	static const char *const o1[] = { "auth=kerberos", NULL };
	struct mf_account a = account("svc@example.com", "S3cret!", "alice@example.com", o1);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_FATAL);
	ews_source_ops.close(&src);
	static const char *const o2[] = { "version=Exchange2099", NULL };
	a = account("svc@example.com", "S3cret!", "alice@example.com", o2);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_FATAL);
	ews_source_ops.close(&src);
	a = account("svc@example.com", NULL, "alice@example.com", NULL);
	ck_assert_int_eq(open_src(&a, &src, &err), MF_ERR_AUTH);
	ews_source_ops.close(&src);
	stop_fake();
}
END_TEST

static Suite *ews_live_suite(void)
{
	Suite *s = suite_create("ews_live");
	TCase *tc = tcase_create("fake_server");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, impersonated_mailbox_folders_messages_and_sync_state);
	tcase_add_test(tc, wrong_password_is_auth_error);
	tcase_add_test(tc, impersonation_without_the_right_is_denied);
	tcase_add_test(tc, own_mailbox_without_impersonation_and_option_fallback);
	tcase_add_test(tc, server_busy_fault_returns_backoff_and_fetch_resumes);
	tcase_add_test(tc, server_busy_inside_200_reply);
	tcase_add_test(tc, http_503_honours_retry_after);
	tcase_add_test(tc, vanished_item_and_stopped_batch);
	tcase_add_test(tc, corrupt_base64_is_a_failed_message);
	tcase_add_test(tc, older_server_version_steps_down);
	tcase_add_test(tc, rejected_sync_state_lists_again);
	tcase_add_test(tc, finditem_fallback_with_partial_pages);
	tcase_add_test(tc, bearer_token_from_file);
	tcase_add_test(tc, ntlm_authenticates_one_connection_per_session);
	tcase_add_test(tc, cancel_and_callback_stop);
	tcase_add_test(tc, large_item_over_libxml2_text_limit);
	tcase_add_test(tc, tls_verified_by_default);
	tcase_add_test(tc, plain_http_with_tls_none);
	tcase_add_test(tc, bad_options_are_fatal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (system("python3 -c 'import ssl' >/dev/null 2>&1") != 0 ||
	    system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_ews_live: python3 or openssl missing: SKIP\n");
		return 77;
	}
	SRunner *sr = srunner_create(ews_live_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
