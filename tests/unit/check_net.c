/* SPDX-License-Identifier: MIT */
/* Check suite for lib/net (struct mf_conn): line and exact reads, write
 * buffering, timeouts, EOF and refused connections, and TLS: self-signed
 * certificates refused by default, accepted with a CA file or insecure,
 * host name mismatch refused, STARTTLS upgrade.  Each case forks a tiny
 * loopback server (OpenSSL for TLS) that exits by itself. */
#include <config.h>
#include <mailferry/net.h>

#include <check.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

static char tmpdir[64];
static char cert_ok[128], key_ok[128], cert_other[128], key_other[128];

static void make_cert(const char *cert, const char *key, const char *san)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s"
		 " -days 2 -subj /CN=localhost -addext subjectAltName=%s"
		 " >/dev/null 2>&1",
		 key, cert, san);
	ck_assert_int_eq(system(cmd), 0);
}

static void setup_certs(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_net.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(cert_ok, sizeof(cert_ok), "%s/ok.pem", tmpdir);
	snprintf(key_ok, sizeof(key_ok), "%s/ok.key", tmpdir);
	snprintf(cert_other, sizeof(cert_other), "%s/other.pem", tmpdir);
	snprintf(key_other, sizeof(key_other), "%s/other.key", tmpdir);
	make_cert(cert_ok, key_ok, "DNS:localhost,IP:127.0.0.1");
	make_cert(cert_other, key_other, "DNS:other.example");
}

static void teardown_certs(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* Server behaviours. */
enum script {
	S_LINES,
	S_SILENT,
	S_CLOSE,
	S_TLS_ECHO,
	S_STARTTLS,
	S_COUNT,
	S_DRIP,
	S_SLOW,
	S_LATE_THEN_SILENT
};
static const char data100[101] =
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";

static uint16_t server_port;
static pid_t server_pid;

static SSL *server_tls(int fd, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM);
	SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		_exit(0);
	return ssl;
}

static int ssl_gets(SSL *ssl, char *buf, int cap)
{
	int n = 0;
	while (n < cap - 1) {
		char c;
		if (SSL_read(ssl, &c, 1) != 1)
			break;
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return n;
}

static void serve(int lfd, enum script s, const char *cert, const char *key)
{
	/* Check's runner handler for SIGTERM kills the process group;
	 * this child must just die. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	alarm(10); /* never outlive the test */
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	switch (s) {
	case S_LINES: {
		static const char data[] = "first\r\nsecond\nEXACT\r\n";
		if (write(fd, data, sizeof(data) - 1) < 0)
			_exit(1);
		usleep(100000); /* a line split across two reads */
		if (write(fd, "thi", 3) < 0)
			_exit(1);
		usleep(100000);
		if (write(fd, "rd\r\n0123456789012345678901234567890\r\n", 37) < 0)
			_exit(1);
		sleep(1);
		break;
	}
	case S_SILENT: sleep(5); break;
	case S_DRIP: /* one byte every 200 ms: no read ever waits 500 ms */
		for (int i = 0; i < 40; i++) {
			if (write(fd, "x", 1) < 0)
				_exit(0);
			usleep(200000);
		}
		break;
	case S_LATE_THEN_SILENT: /* 100 bytes after 400 ms, then nothing */
		usleep(400000);
		if (write(fd, data100, 100) < 0)
			_exit(0);
		sleep(5);
		break;
	case S_SLOW: { /* 8 KiB at 4 KiB/s in pieces: slow, but working */
		static char piece[512];
		memset(piece, 'y', sizeof(piece));
		for (int i = 0; i < 16; i++) {
			if (write(fd, piece, sizeof(piece)) < 0)
				_exit(0);
			usleep(125000);
		}
		sleep(1);
		break;
	}
	case S_CLOSE: break;
	case S_TLS_ECHO: {
		SSL *ssl = server_tls(fd, cert, key);
		char line[256];
		int n = ssl_gets(ssl, line, sizeof(line));
		SSL_write(ssl, "echo ", 5);
		SSL_write(ssl, line, n);
		SSL_shutdown(ssl);
		break;
	}
	case S_STARTTLS: {
		char line[256];
		if (write(fd, "* OK ready\r\n", 12) < 0)
			_exit(1);
		ssize_t n = read(fd, line, sizeof(line) - 1);
		if (n <= 0 || strncmp(line, "a STARTTLS\r\n", 12) != 0)
			_exit(1);
		if (write(fd, "a OK go\r\n", 9) < 0)
			_exit(1);
		SSL *ssl = server_tls(fd, cert, key);
		int m = ssl_gets(ssl, line, sizeof(line));
		SSL_write(ssl, "secure ", 7);
		SSL_write(ssl, line, m);
		SSL_shutdown(ssl);
		break;
	}
	case S_COUNT: {
		char buf[65536];
		size_t total = 0;
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			total += (size_t)n;
			if (n > 0 && buf[n - 1] == '\n')
				break;
		}
		char reply[64];
		int len = snprintf(reply, sizeof(reply), "%zu\r\n", total);
		if (write(fd, reply, (size_t)len) < 0)
			_exit(1);
		break;
	}
	}
	close(fd);
	_exit(0);
}

static void start_server(enum script s, const char *cert, const char *key)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	socklen_t al = sizeof(a);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	server_port = ntohs(a.sin_port);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0)
		serve(lfd, s, cert, key);
	close(lfd);
}

static void stop_server(void)
{
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
}

static struct mf_conn_opts opts_for(bool tls)
{
	struct mf_conn_opts o = { .proto = "test",
				  .host = "127.0.0.1",
				  .port = server_port,
				  .tls = tls,
				  .io_timeout_ms = 3000 };
	return o;
}

START_TEST(reads_lines_with_crlf_lf_and_split_packets)
{
	start_server(S_LINES, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "first");
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "second");
	char exact[8] = { 0 };
	ck_assert_int_eq(mf_conn_read_exact(c, exact, 7, &err), MF_OK);
	ck_assert_str_eq(exact, "EXACT\r\n");
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "third");
	/* 31 bytes with max 30: refused with the label in the text */
	ck_assert_int_eq(mf_conn_read_line(c, &line, 30, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, "test 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(err.text, "longer than 30"));
	mf_buf_free(&line);
	mf_conn_close(&c);
	ck_assert_ptr_null(c);
	stop_server();
}
END_TEST

START_TEST(read_timeout_is_retry_later)
{
	start_server(S_SILENT, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	o.io_timeout_ms = 300;
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_ptr_nonnull(strstr(err.text, "no answer"));
	mf_buf_free(&line);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

static double since_s(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Slow peers (net.h): a byte every 200 ms with a 500 ms timeout never
 * trips the per-read timeout but is cut as too slow after about 500 ms
 * of waiting; 4 KiB/s in pieces is far above the floor and completes. */
START_TEST(drip_feed_is_too_slow)
{
	start_server(S_DRIP, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	o.io_timeout_ms = 500;
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char b[100];
	ck_assert_int_eq(mf_conn_read_exact(c, b, sizeof(b), &err), MF_ERR_ACCOUNT);
	double took = since_s(&t0);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_msg(strstr(err.text, "too slow") != NULL, "%s", err.text);
	ck_assert_msg(took >= 0.4 && took < 1.5, "cut after %.2f s", took);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

/* A server that made us wait for its first bytes and then goes quiet is
 * named silent, not too slow: the rate rule (0.4 s waited for 100 bytes)
 * would cut 0.3 s before the timeout, which is left to the timeout. */
START_TEST(silence_after_slow_bytes_is_no_answer)
{
	start_server(S_LATE_THEN_SILENT, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	o.io_timeout_ms = 1000;
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	char b[200];
	ck_assert_int_eq(mf_conn_read_exact(c, b, sizeof(b), &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	ck_assert_msg(strstr(err.text, "no answer from server within 1 s") != NULL, "%s", err.text);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

START_TEST(slow_but_steady_completes)
{
	start_server(S_SLOW, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	o.io_timeout_ms = 300;
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	static char b[16 * 512];
	ck_assert_msg(mf_conn_read_exact(c, b, sizeof(b), &err) == MF_OK, "%s", err.text);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

START_TEST(eof_is_retry_now)
{
	start_server(S_CLOSE, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	char b[4];
	ck_assert_int_eq(mf_conn_read_exact(c, b, 4, &err), MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_NOW);
	ck_assert_ptr_nonnull(strstr(err.text, "closed by server"));
	/* writing to the dead peer must not kill us with SIGPIPE */
	static char big[256 * 1024];
	for (int i = 0; i < 8; i++)
		if (mf_conn_write(c, big, sizeof(big), &err) != MF_OK)
			break;
	mf_conn_close(&c);
	stop_server();
}
END_TEST

START_TEST(refused_connect_names_host_and_port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	struct mf_conn_opts o = { .proto = "imaps",
				  .host = "127.0.0.1",
				  .port = ntohs(a.sin_port) };
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.retry, MF_RETRY_LATER);
	char want[64];
	snprintf(want, sizeof(want), "imaps 127.0.0.1:%u: connect:", ntohs(a.sin_port));
	ck_assert_msg(strncmp(err.text, want, strlen(want)) == 0, "%s", err.text);
}
END_TEST

START_TEST(big_write_is_complete)
{
	start_server(S_COUNT, NULL, NULL);
	struct mf_conn_opts o = opts_for(false);
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	char *big = mf_xmalloc(1000000);
	memset(big, 'x', 1000000);
	ck_assert_int_eq(mf_conn_write(c, "abc", 3, &err), MF_OK);
	ck_assert_int_eq(mf_conn_write(c, big, 1000000, &err), MF_OK);
	ck_assert_int_eq(mf_conn_write_str(c, "\n", &err), MF_OK);
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "1000004");
	free(big);
	mf_buf_free(&line);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

static int tls_try(const char *cert, const char *key, const char *ca, bool insecure,
		   struct mf_error *err, char *echo, size_t cap)
{
	start_server(S_TLS_ECHO, cert, key);
	struct mf_conn_opts o = opts_for(true);
	o.proto = "imaps";
	o.ca_file = ca;
	o.insecure = insecure;
	struct mf_conn *c;
	int st = mf_conn_open(&o, &c, err);
	if (st == MF_OK) {
		ck_assert(mf_conn_is_tls(c));
		struct mf_buf line = { 0 };
		ck_assert_int_eq(mf_conn_write_str(c, "hi\r\n", err), MF_OK);
		ck_assert_int_eq(mf_conn_read_line(c, &line, 100, err), MF_OK);
		snprintf(echo, cap, "%s", (char *)line.data);
		mf_buf_free(&line);
		mf_conn_close(&c);
	}
	stop_server();
	return st;
}

START_TEST(tls_self_signed_refused_by_default)
{
	struct mf_error err = { 0 };
	char echo[64] = "";
	ck_assert_int_eq(tls_try(cert_ok, key_ok, NULL, false, &err, echo, sizeof(echo)),
			 MF_ERR_ACCOUNT);
	ck_assert_int_eq(err.retry, MF_RETRY_NEVER);
	ck_assert_msg(strstr(err.text, ": certificate verify failed: self") != NULL, "%s",
		      err.text);
	ck_assert_ptr_nonnull(strstr(err.text, "imaps 127.0.0.1:"));
}
END_TEST

START_TEST(tls_ca_file_accepted)
{
	struct mf_error err = { 0 };
	char echo[64] = "";
	ck_assert_int_eq(tls_try(cert_ok, key_ok, cert_ok, false, &err, echo, sizeof(echo)), MF_OK);
	ck_assert_str_eq(echo, "echo hi");
}
END_TEST

START_TEST(tls_insecure_accepted)
{
	struct mf_error err = { 0 };
	char echo[64] = "";
	ck_assert_int_eq(tls_try(cert_other, key_other, NULL, true, &err, echo, sizeof(echo)),
			 MF_OK);
	ck_assert_str_eq(echo, "echo hi");
}
END_TEST

START_TEST(tls_host_mismatch_refused)
{
	struct mf_error err = { 0 };
	char echo[64] = "";
	ck_assert_int_eq(tls_try(cert_other, key_other, cert_other, false, &err, echo,
				 sizeof(echo)),
			 MF_ERR_ACCOUNT);
	ck_assert_msg(strstr(err.text, "mismatch") != NULL, "%s", err.text);
	ck_assert_int_eq(err.retry, MF_RETRY_NEVER);
}
END_TEST

START_TEST(starttls_upgrades)
{
	start_server(S_STARTTLS, cert_ok, key_ok);
	struct mf_conn_opts o = opts_for(false);
	o.ca_file = cert_ok;
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_int_eq(mf_conn_write_str(c, "a STARTTLS\r\n", &err), MF_OK);
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "a OK go");
	ck_assert(!mf_conn_is_tls(c));
	ck_assert_int_eq(mf_conn_start_tls(c, &err), MF_OK);
	ck_assert(mf_conn_is_tls(c));
	ck_assert_int_eq(mf_conn_write_str(c, "x\r\n", &err), MF_OK);
	ck_assert_int_eq(mf_conn_read_line(c, &line, 100, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "secure x");
	mf_buf_free(&line);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("plain");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, reads_lines_with_crlf_lf_and_split_packets);
	tcase_add_test(tc, read_timeout_is_retry_later);
	tcase_add_test(tc, eof_is_retry_now);
	tcase_add_test(tc, drip_feed_is_too_slow);
	tcase_add_test(tc, silence_after_slow_bytes_is_no_answer);
	tcase_add_test(tc, slow_but_steady_completes);
	tcase_add_test(tc, refused_connect_names_host_and_port);
	tcase_add_test(tc, big_write_is_complete);
	suite_add_tcase(s, tc);
	TCase *tt = tcase_create("tls");
	tcase_set_timeout(tt, 30);
	tcase_add_unchecked_fixture(tt, setup_certs, teardown_certs);
	tcase_add_test(tt, tls_self_signed_refused_by_default);
	tcase_add_test(tt, tls_ca_file_accepted);
	tcase_add_test(tt, tls_insecure_accepted);
	tcase_add_test(tt, tls_host_mismatch_refused);
	tcase_add_test(tt, starttls_upgrades);
	suite_add_tcase(s, tt);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(net_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
