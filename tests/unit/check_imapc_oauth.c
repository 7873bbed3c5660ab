/* SPDX-License-Identifier: MIT */
/* lib/imapc's OAuth login (imapc_account_connect with auth=xoauth2 or
 * auth=oauthbearer) against a scripted server on loopback, with a fake
 * host whose oauth_token hands out "tok-1", "tok-2", ...: the exact SASL
 * payloads (XOAUTH2, and OAUTHBEARER's gs2 header and ^A pairs), the
 * answer to the JSON error challenge ("" for XOAUTH2, ^A = "AQ==" for
 * OAUTHBEARER), one renewal with refresh=true after a refusal and an
 * MF_ERR_AUTH naming the account and the server's words after a second
 * one, the old token-as-password way, the token service's own error, and
 * the scope chosen per server.  The real server side (Dovecot's oauth2
 * passdb) is tests/integration/imap_oauth_dovecot.sh. */
#include <config.h>
#include <mailferry/imapc.h>

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check_main.h"

/* ---- the scripted server ------------------------------------------ */

enum conn_plan { ACCEPT, REFUSE };

#define MAX_CONNS 4

struct server {
	int lfd;
	uint16_t port;
	enum conn_plan plan[MAX_CONNS];
	size_t nplan;
	/* what each connection received: the decoded initial response and
	 * the raw line answering the error challenge */
	char payload[MAX_CONNS][512];
	size_t payload_len[MAX_CONNS];
	char challenge_reply[MAX_CONNS][64];
	size_t nconns;
	pthread_t thread;
};

static int b64val(int ch)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch != 0 ? strchr(a, ch) : NULL;
	return p != NULL ? (int)(p - a) : -1;
}

static size_t b64decode(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *in != '\0' && *in != '='; in++) {
		int v = b64val((unsigned char)*in);
		if (v < 0)
			break;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n < cap)
				out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	return n;
}

/* One CRLF line without its CRLF; false at EOF or timeout. */
static bool read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		if (read(fd, &ch, 1) != 1)
			return false;
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return true;
}

static void say(int fd, const char *s)
{
	ck_assert(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* "A1 AUTHENTICATE XOAUTH2 <b64>" (SASL-IR): tag and the b64 part. */
static void split_auth(const char *line, char *tag, size_t tcap, const char **b64_r)
{
	size_t tl = strcspn(line, " ");
	snprintf(tag, tcap, "%.*s", (int)tl, line);
	const char *last = strrchr(line, ' ');
	*b64_r = last != NULL ? last + 1 : "";
}

static void serve_one(struct server *sv, int fd, size_t i)
{
	char line[2048], tag[32], out[256];
	say(fd, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] ready\r\n");
	if (!read_line(fd, line, sizeof(line)))
		return;
	const char *b64;
	split_auth(line, tag, sizeof(tag), &b64);
	sv->payload_len[i] = b64decode(b64, sv->payload[i], sizeof(sv->payload[i]) - 1);
	if (sv->plan[i] == REFUSE) {
		/* RFC 7628 §3.2.2: the JSON error as a challenge, then NO */
		say(fd, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n");
		if (!read_line(fd, sv->challenge_reply[i], sizeof(sv->challenge_reply[i])))
			return;
		snprintf(out, sizeof(out), "%s NO [AUTHENTICATIONFAILED] token expired here\r\n",
			 tag);
		say(fd, out);
	} else {
		snprintf(out, sizeof(out), "%s OK [CAPABILITY IMAP4rev1] logged in\r\n", tag);
		say(fd, out);
	}
	while (read_line(fd, line, sizeof(line))) {
		size_t tl = strcspn(line, " ");
		snprintf(out, sizeof(out), "* BYE bye\r\n%.*s OK done\r\n", (int)tl, line);
		say(fd, out);
		if (strstr(line, "LOGOUT") != NULL)
			break;
	}
}

static void *server_main(void *aux)
{
	struct server *sv = aux;
	for (size_t i = 0; i < sv->nplan; i++) {
		int fd = accept(sv->lfd, NULL, NULL);
		if (fd < 0)
			break;
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sv->nconns = i + 1;
		serve_one(sv, fd, i);
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *sv, const enum conn_plan *plan, size_t n)
{
	memset(sv, 0, sizeof(*sv));
	memcpy(sv->plan, plan, n * sizeof(*plan));
	sv->nplan = n;
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(sv->lfd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(sv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(sv->lfd, 4), 0);
	socklen_t sl = sizeof(sa);
	getsockname(sv->lfd, (struct sockaddr *)&sa, &sl);
	sv->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&sv->thread, NULL, server_main, sv), 0);
}

static void server_stop(struct server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR); /* wakes accept() if a connection never came */
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
}

/* ---- the fake host ------------------------------------------------- */

struct oauth_calls {
	int n;
	bool refresh[4];
	const char *scope[4];
	char subject[4][64];
	int fail_with; /* MF_OK, or what oauth_token returns */
};

static void host_log(void *ctx, enum mf_log_level level, const char *fmt, ...)
{
	(void)ctx, (void)level, (void)fmt;
}

static int host_oauth_token(void *ctx, const struct mf_account *acct,
			    const struct mf_oauth_request *req, char **token_r,
			    struct mf_error *err)
{
	struct oauth_calls *oc = ctx;
	ck_assert_ptr_nonnull(acct);
	ck_assert_str_eq(acct->id, "alice");
	ck_assert_uint_eq(req->struct_size, sizeof(*req));
	int i = oc->n++;
	ck_assert_int_lt(i, 4);
	oc->refresh[i] = req->refresh;
	oc->scope[i] = req->scope;
	snprintf(oc->subject[i], sizeof(oc->subject[i]), "%s", req->subject ? req->subject : "");
	if (oc->fail_with != MF_OK)
		return mf_error_set(err, oc->fail_with, MF_RETRY_NEVER,
				    "oauth: %s: token endpoint: invalid_grant: AADSTS70000",
				    acct->id);
	char buf[16];
	snprintf(buf, sizeof(buf), "tok-%d", i + 1);
	*token_r = strdup(buf);
	return MF_OK;
}

struct run {
	struct server sv;
	struct oauth_calls oc;
	struct mf_error err;
	int st;
};

/* One imapc_account_connect for alice (auth=AUTH, tls=none, optional
 * password) against a server following plan. */
static void run_connect(struct run *r, const char *auth, const char *password,
			const enum conn_plan *plan, size_t n)
{
	int fail_with = r->oc.fail_with; /* the one setting a test makes */
	memset(&r->oc, 0, sizeof(r->oc));
	memset(&r->err, 0, sizeof(r->err));
	r->oc.fail_with = fail_with;
	server_start(&r->sv, plan, n);
	struct mf_host host = {
		.abi_major = MF_ABI_MAJOR,
		.abi_minor = 3,
		.struct_size = sizeof(host),
		.host_ctx = &r->oc,
		.log = host_log,
		.oauth_token = host_oauth_token,
	};
	char auth_opt[32];
	snprintf(auth_opt, sizeof(auth_opt), "auth=%s", auth);
	const char *opts[] = { auth_opt, "tls=none", "timeout=5", NULL };
	struct mf_account acct = {
		.id = "alice",
		.scheme = "imap",
		.user = "alice@example.com",
		.host = "127.0.0.1",
		.port = r->sv.port,
		.path = "",
		.password = password,
		.options = opts,
	};
	struct imapc_account *a = NULL;
	ck_assert_int_eq(imapc_account_new(&host, &acct, "imap", "127.0.0.1", r->sv.port, false, &a,
					   &r->err),
			 MF_OK);
	struct imapc *c = NULL;
	r->st = imapc_account_connect(a, &c, &r->err);
	imapc_close(&c);
	imapc_account_free(&a);
	server_stop(&r->sv);
}

#define XO(tok) "user=alice@example.com\001auth=Bearer " tok "\001\001"

static void assert_payload(const struct server *sv, size_t i, const char *want, size_t len)
{
	ck_assert_uint_eq(sv->payload_len[i], len);
	ck_assert_mem_eq(sv->payload[i], want, len);
}

/* ---- the tests ----------------------------------------------------- */

START_TEST(xoauth2_refused_token_is_renewed_once)
{
	static struct run r;
	const enum conn_plan plan[] = { REFUSE, ACCEPT };
	run_connect(&r, "xoauth2", NULL, plan, 2);
	ck_assert_msg(r.st == MF_OK, "%s", r.err.text);
	ck_assert_int_eq(r.oc.n, 2);
	ck_assert(!r.oc.refresh[0]);
	ck_assert(r.oc.refresh[1]);
	ck_assert_ptr_null(r.oc.scope[0]); /* 127.0.0.1: the operator's --oauth-scope */
	ck_assert_str_eq(r.oc.subject[0], "alice@example.com");
	ck_assert_uint_eq(r.sv.nconns, 2);
	assert_payload(&r.sv, 0, XO("tok-1"), sizeof(XO("tok-1")) - 1);
	ck_assert_str_eq(r.sv.challenge_reply[0], ""); /* XOAUTH2: an empty line */
	assert_payload(&r.sv, 1, XO("tok-2"), sizeof(XO("tok-2")) - 1);
}
END_TEST

START_TEST(oauthbearer_gs2_header_and_error_answer)
{
	static struct run r;
	const enum conn_plan plan[] = { REFUSE, ACCEPT };
	run_connect(&r, "oauthbearer", NULL, plan, 2);
	ck_assert_msg(r.st == MF_OK, "%s", r.err.text);
	ck_assert_int_eq(r.oc.n, 2);
	ck_assert(r.oc.refresh[1]);
	char want[256];
	int len = snprintf(want, sizeof(want),
			   "n,a=alice@example.com,\001host=127.0.0.1\001port=%u\001"
			   "auth=Bearer tok-1\001\001",
			   (unsigned)r.sv.port);
	assert_payload(&r.sv, 0, want, (size_t)len);
	/* RFC 7628 §3.2.3: the client answers the error challenge with ^A */
	ck_assert_str_eq(r.sv.challenge_reply[0], "AQ==");
	len = snprintf(want, sizeof(want),
		       "n,a=alice@example.com,\001host=127.0.0.1\001port=%u\001"
		       "auth=Bearer tok-2\001\001",
		       (unsigned)r.sv.port);
	assert_payload(&r.sv, 1, want, (size_t)len);
}
END_TEST

START_TEST(second_refusal_is_auth_error_with_server_words)
{
	static struct run r;
	const enum conn_plan plan[] = { REFUSE, REFUSE };
	run_connect(&r, "xoauth2", NULL, plan, 2);
	ck_assert_int_eq(r.st, MF_ERR_AUTH);
	ck_assert_int_eq(r.err.retry, MF_RETRY_NEVER);
	ck_assert_int_eq(r.oc.n, 2); /* renewed once, not more */
	ck_assert_uint_eq(r.sv.nconns, 2);
	ck_assert_msg(strstr(r.err.text, "alice") != NULL, "%s", r.err.text);
	ck_assert_msg(strstr(r.err.text, "AUTHENTICATIONFAILED") != NULL, "%s", r.err.text);
	ck_assert_msg(strstr(r.err.text, "token expired here") != NULL, "%s", r.err.text);
	ck_assert_msg(strstr(r.err.text, "tok-") == NULL, "token in error: %s", r.err.text);
}
END_TEST

START_TEST(password_is_still_the_bearer)
{
	static struct run r;
	const enum conn_plan plan[] = { REFUSE };
	run_connect(&r, "xoauth2", "file-token", plan, 1);
	/* A token the operator gave is not the service's to renew. */
	ck_assert_int_eq(r.st, MF_ERR_AUTH);
	ck_assert_int_eq(r.oc.n, 0);
	ck_assert_uint_eq(r.sv.nconns, 1);
	assert_payload(&r.sv, 0, XO("file-token"), sizeof(XO("file-token")) - 1);
}
END_TEST

START_TEST(token_service_error_stops_before_connecting)
{
	static struct run r;
	r.oc.fail_with = MF_ERR_AUTH;
	const enum conn_plan plan[] = { ACCEPT };
	run_connect(&r, "oauthbearer", NULL, plan, 1);
	ck_assert_int_eq(r.st, MF_ERR_AUTH);
	ck_assert_int_eq(r.oc.n, 1);
	ck_assert_uint_eq(r.sv.nconns, 0);
	ck_assert_msg(strstr(r.err.text, "invalid_grant") != NULL, "%s", r.err.text);
}
END_TEST

START_TEST(scope_by_server)
{
	const char *ms = "https://outlook.office365.com/.default";
	ck_assert_str_eq(imapc_oauth_scope("outlook.office365.com"), ms);
	ck_assert_str_eq(imapc_oauth_scope("OUTLOOK.OFFICE.COM"), ms);
	ck_assert_str_eq(imapc_oauth_scope("eur01.outlook.com"), ms);
	ck_assert_str_eq(imapc_oauth_scope("imap.gmail.com"), "https://mail.google.com/");
	ck_assert_str_eq(imapc_oauth_scope("pop.gmail.com"), "https://mail.google.com/");
	ck_assert_ptr_null(imapc_oauth_scope("evil-outlook.com"));
	ck_assert_ptr_null(imapc_oauth_scope("outlook.com.example"));
	ck_assert_ptr_null(imapc_oauth_scope("imap.example.com"));
}
END_TEST

static Suite *imapc_oauth_suite(void)
{
	Suite *s = suite_create("imapc_oauth");
	TCase *tc = tcase_create("login");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, xoauth2_refused_token_is_renewed_once);
	tcase_add_test(tc, oauthbearer_gs2_header_and_error_answer);
	tcase_add_test(tc, second_refusal_is_auth_error_with_server_words);
	tcase_add_test(tc, password_is_still_the_bearer);
	tcase_add_test(tc, token_service_error_stops_before_connecting);
	tcase_add_test(tc, scope_by_server);
	suite_add_tcase(s, tc);
	return s;
}

MF_CHECK_MAIN(imapc_oauth_suite)
