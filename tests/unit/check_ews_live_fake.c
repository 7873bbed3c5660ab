/* SPDX-License-Identifier: MIT */
/* Harness of check_ews_live: starts the fake EWS server
 * (tests/fake/ews/fake_ews.py) in a private directory with a throw-away
 * certificate, provides a struct mf_host (log captured, cancellation and
 * settings switchable), accounts, and collects what fetch delivers so the
 * cases can compare it with the fixture .eml files. */
#include <config.h>
#include "check_ews_live.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* The fake server                                                      */

char g_dir[64];
static pid_t g_pid;
uint16_t g_port;
char g_ca[128];
const char *g_insecure;
struct mf_buf g_logbuf;

void run_cmd(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

void start_fake(bool tls, const char *const *extra)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/ewslive.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_dir));
	char cmd[512];
	if (tls) {
		snprintf(cmd, sizeof(cmd),
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			 "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
			 "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
			 g_dir, g_dir);
		run_cmd(cmd);
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

void stop_fake(void)
{
	if (g_pid > 0) {
		kill(g_pid, SIGTERM);
		waitpid(g_pid, NULL, 0);
		g_pid = 0;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	run_cmd(cmd);
}

/* The fake's request log: one JSON object per line. */
char *request_log(void)
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

size_t count_lines_with(const char *log, const char *needle)
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

static void hlog(void *ctx, enum mf_log_level lvl, const char *fmt, ...) MF_PRINTF(3, 4);
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

bool g_cancel;

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

const struct mf_host ews_test_host = {
	.abi_major = MF_ABI_MAJOR,
	.abi_minor = MF_ABI_MINOR,
	.struct_size = sizeof(struct mf_host),
	.log = hlog,
	.canceled = hcanceled,
	.setting = hsetting,
};

struct mf_account make_account(const char *user, const char *pw, const char *imp,
			       const char *const *opts)
{
	return (struct mf_account){
		.id = imp != NULL ? imp : user,
		.scheme = "ews",
		.user = user,
		.host = "127.0.0.1",
		.port = g_port,
		.path = "/EWS/Exchange.asmx",
		.password = pw,
		.impersonate = imp,
		.options = opts,
	};
}

void *g_plugin;

int open_src(const struct mf_account *a, struct mf_source **src, struct mf_error *err)
{
	struct mf_error e0;
	if (g_plugin == NULL)
		ck_assert_int_eq(ews_plugin_init(&ews_test_host, &g_plugin, &e0), MF_OK);
	memset(err, 0, sizeof(*err));
	return ews_source_ops.open(g_plugin, a, src, err);
}

struct mf_source *open_alice(bool tls, const char *const *extra, const char *const *opts)
{
	start_fake(tls, extra);
	struct mf_account a = make_account("svc@example.com", "S3cret!", "alice@example.com", opts);
	struct mf_source *src = NULL;
	struct mf_error err;
	ck_assert_int_eq(open_src(&a, &src, &err), MF_OK);
	return src;
}

void close_fake(struct mf_source **src)
{
	ews_source_ops.close(src);
	stop_fake();
}

/* ------------------------------------------------------------------ */
/* Collecting what fetch delivers                                       */

struct got g_got[64];
size_t g_ngot;

bool have_got(const char *id, void *aux)
{
	for (size_t i = 0; i < g_ngot; i++)
		if (!g_got[i].failed && strcmp(g_got[i].id, id) == 0)
			return true;
	return false;
}

int on_msg(const struct mf_message *m, void *aux, struct mf_error *err)
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

void reset_got(void)
{
	for (size_t i = 0; i < g_ngot; i++) {
		free(g_got[i].id);
		mf_buf_free(&g_got[i].data);
	}
	g_ngot = 0;
}

const struct got *got_id(const char *id)
{
	for (size_t i = 0; i < g_ngot; i++)
		if (strcmp(g_got[i].id, id) == 0)
			return &g_got[i];
	return NULL;
}

size_t delivered(void)
{
	size_t n = 0;
	for (size_t i = 0; i < g_ngot; i++)
		n += !g_got[i].failed;
	return n;
}

void assert_fixture(const char *id, const char *file)
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

int fetch_folder(struct mf_source *src, const char *folder, const char *state, char **state_r,
		 struct mf_error *err)
{
	struct mf_cursor c = { .sync_state = state, .have = have_got };
	return ews_source_ops.fetch(src, folder, &c, on_msg, NULL, state_r, err);
}

int on_folder(const struct mf_folder *f, void *aux)
{
	struct folders *fs = aux;
	ck_assert_uint_lt(fs->n, 16);
	snprintf(fs->path[fs->n], sizeof(fs->path[0]), "%s", f->path);
	fs->su[fs->n++] = f->special_use;
	return 0;
}

int folder_index(const struct folders *fs, const char *path)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->path[i], path) == 0)
			return (int)i;
	return -1;
}
