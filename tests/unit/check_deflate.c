/* SPDX-License-Identifier: MIT */
/* Check suite for the COMPRESS=DEFLATE layer (lib/net/deflate.c and its
 * use in struct mf_conn): round trips of text and random data written in
 * odd pieces and read back through tiny input and output windows; every
 * sync flush makes all data written so far readable; streams made by
 * plain zlib (as a server's) are read; a corrupt or ended stream is a
 * clear error.  On a real loopback connection: the server's compressed
 * bytes arriving in the same packet as its OK are not lost, a long
 * compressed conversation works both ways, and garbage after COMPRESS is
 * an MF_ERR_ACCOUNT error naming the connection, not a crash. */
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
#include <unistd.h>
#include <zlib.h>

#include "lib/net/deflate.h"

struct sink {
	unsigned char *data;
	size_t len, cap;
};

static int to_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct sink *s = ctx;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->data = realloc(s->data, s->cap);
		ck_assert_ptr_nonnull(s->data);
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	return 0;
}

/* Inflate all of in through pieces of at most in_step bytes and an output
 * window of out_step bytes; returns the bytes made (into out). */
static size_t inflate_all(struct mf_deflate *z, const unsigned char *in, size_t len, size_t in_step,
			  size_t out_step, unsigned char *out, size_t cap)
{
	size_t pos = 0, made_total = 0;
	for (int idle = 0; idle < 3;) {
		size_t piece = len - pos < in_step ? len - pos : in_step;
		size_t room = cap - made_total < out_step ? cap - made_total : out_step;
		size_t used, made;
		const char *why = NULL;
		ck_assert_msg(mf_deflate_read(z, in + pos, piece, &used, out + made_total, room,
					      &made, &why),
			      "inflate: %s", why);
		pos += used;
		made_total += made;
		idle = used == 0 && made == 0 ? idle + 1 : 0;
	}
	ck_assert_uint_eq(pos, len);
	return made_total;
}

static unsigned char *sample(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len);
	ck_assert_ptr_nonnull(p);
	srand(seed);
	static const char *const words[] = { "migration ", "mailbox ", "Subject: ", "\r\n",
					     "base64+/==", "From ",    "Grüße " };
	size_t i = 0;
	while (i < len) {
		if (rand() % 4 == 0) { /* incompressible stretch */
			for (int k = 0; k < 50 && i < len; k++)
				p[i++] = (unsigned char)rand();
			continue;
		}
		const char *w = words[rand() % 7];
		for (size_t k = 0; w[k] && i < len; k++)
			p[i++] = (unsigned char)w[k];
	}
	return p;
}

START_TEST(round_trip_in_odd_pieces)
{
	const size_t len = 600 * 1000;
	unsigned char *plain = sample(len, 4978);
	struct mf_deflate a, b;
	const char *why = NULL;
	ck_assert(mf_deflate_init(&a, &why));
	ck_assert(mf_deflate_init(&b, &why));
	struct sink wire = { 0 };
	unsigned char scratch[97]; /* small: many emit calls per write */
	size_t pos = 0;
	srand(1);
	while (pos < len) {
		size_t n = (size_t)(rand() % 70000) + 1;
		if (n > len - pos)
			n = len - pos;
		ck_assert_int_eq(mf_deflate_write(&a, plain + pos, n, rand() % 3 == 0, scratch,
						  sizeof(scratch), to_sink, &wire, &why),
				 0);
		pos += n;
	}
	ck_assert_int_eq(mf_deflate_write(&a, NULL, 0, true, scratch, sizeof(scratch), to_sink,
					  &wire, &why),
			 0);
	ck_assert_uint_lt(wire.len, len);
	unsigned char *back = malloc(len + 16);
	size_t made = inflate_all(&b, wire.data, wire.len, 7, 113, back, len + 16);
	ck_assert_uint_eq(made, len);
	ck_assert_int_eq(memcmp(back, plain, len), 0);
	mf_deflate_free(&a);
	mf_deflate_free(&b);
	free(back);
	free(wire.data);
	free(plain);
}
END_TEST

/* After each sync write the reader has every byte written so far, with no
 * more input: that is what lets a server answer a command at once. */
START_TEST(each_sync_flush_is_a_boundary)
{
	struct mf_deflate a, b;
	const char *why = NULL;
	ck_assert(mf_deflate_init(&a, &why));
	ck_assert(mf_deflate_init(&b, &why));
	unsigned char scratch[4096], out[8192];
	for (int i = 0; i < 200; i++) {
		char cmd[64];
		int n = snprintf(cmd, sizeof(cmd), "a%d APPEND INBOX {%d+}\r\n", i, i * 7);
		struct sink wire = { 0 };
		ck_assert_int_eq(mf_deflate_write(&a, cmd, (size_t)n, true, scratch,
						  sizeof(scratch), to_sink, &wire, &why),
				 0);
		ck_assert_uint_gt(wire.len, 0);
		size_t made = inflate_all(&b, wire.data, wire.len, wire.len, sizeof(out), out,
					  sizeof(out));
		ck_assert_uint_eq(made, (size_t)n);
		ck_assert_int_eq(memcmp(out, cmd, (size_t)n), 0);
		free(wire.data);
	}
	/* A sync with nothing new written sends nothing. */
	struct sink none = { 0 };
	ck_assert_int_eq(mf_deflate_write(&a, NULL, 0, true, scratch, sizeof(scratch), to_sink,
					  &none, &why),
			 0);
	ck_assert_uint_eq(none.len, 0);
	mf_deflate_free(&a);
	mf_deflate_free(&b);
}
END_TEST

/* What a server's own zlib (raw, -15, Z_SYNC_FLUSH) makes. */
static size_t zlib_raw(const void *in, size_t len, int flush, unsigned char *out, size_t cap)
{
	z_stream s = { 0 };
	ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)(uintptr_t)in;
	s.avail_in = (uInt)len;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	int r = deflate(&s, flush);
	ck_assert(r == Z_OK || r == Z_STREAM_END);
	size_t n = cap - s.avail_out;
	deflateEnd(&s);
	return n;
}

START_TEST(reads_a_servers_stream_and_refuses_its_end)
{
	static const char text[] = "* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready\r\n";
	unsigned char wire[512], out[512];
	size_t n = zlib_raw(text, sizeof(text) - 1, Z_SYNC_FLUSH, wire, sizeof(wire));
	struct mf_deflate z;
	const char *why = NULL;
	ck_assert(mf_deflate_init(&z, &why));
	ck_assert_uint_eq(inflate_all(&z, wire, n, 1, 3, out, sizeof(out)), sizeof(text) - 1);
	ck_assert_int_eq(memcmp(out, text, sizeof(text) - 1), 0);
	mf_deflate_free(&z);

	/* A finished stream (Z_FINISH) is not allowed by RFC 4978. */
	n = zlib_raw(text, sizeof(text) - 1, Z_FINISH, wire, sizeof(wire));
	ck_assert(mf_deflate_init(&z, &why));
	size_t used, made;
	bool ok = mf_deflate_read(&z, wire, n, &used, out, sizeof(out), &made, &why);
	ck_assert(!ok);
	ck_assert_ptr_nonnull(strstr(why, "ended"));
	mf_deflate_free(&z);
}
END_TEST

START_TEST(corrupt_stream_is_an_error)
{
	struct mf_deflate z;
	const char *why = NULL;
	ck_assert(mf_deflate_init(&z, &why));
	/* 0xff: BFINAL=1, BTYPE=11, a reserved block type. */
	unsigned char junk[64], out[64];
	memset(junk, 0xff, sizeof(junk));
	size_t used, made;
	why = NULL;
	ck_assert(!mf_deflate_read(&z, junk, sizeof(junk), &used, out, sizeof(out), &made, &why));
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, "invalid block type");
	mf_deflate_free(&z);
}
END_TEST

/* ---- over a loopback connection ------------------------------------- */

enum script { S_ECHO, S_GARBAGE };
static uint16_t server_port;
static pid_t server_pid;

static void write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			_exit(3);
		c += w;
		n -= (size_t)w;
	}
}

/* The server: greets, waits for "COMPRESS", answers OK with (S_ECHO) the
 * first compressed line in the same write, then inflates the client's
 * lines and sends each back compressed with "echo: " in front; S_GARBAGE
 * sends junk instead of a compressed stream. */
static void serve(int lfd, enum script s)
{
	alarm(15);
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	write_all(fd, "* OK hi\r\n", 9);
	char buf[256];
	size_t got = 0;
	while (got < sizeof(buf) && memchr(buf, '\n', got) == NULL) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);
		if (r <= 0)
			_exit(2);
		got += (size_t)r;
	}
	if (s == S_GARBAGE) {
		static const char ok[] = "a1 OK DEFLATE active\r\n\xff\xff\xff\xff\xff\xff";
		write_all(fd, ok, sizeof(ok) - 1);
		sleep(5);
		_exit(0);
	}
	z_stream in = { 0 }, out = { 0 };
	inflateInit2(&in, -15);
	deflateInit2(&out, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	static unsigned char zbuf[1 << 20], plain[1 << 20];
	static const char hello[] = "* OK compressed hello\r\n";
	memcpy(zbuf, "a1 OK DEFLATE active\r\n", 22);
	out.next_in = (Bytef *)(uintptr_t)hello;
	out.avail_in = sizeof(hello) - 1;
	out.next_out = zbuf + 22;
	out.avail_out = sizeof(zbuf) - 22;
	deflate(&out, Z_SYNC_FLUSH);
	write_all(fd, zbuf, sizeof(zbuf) - out.avail_out);
	size_t have = 0;
	for (;;) {
		unsigned char raw[4096];
		ssize_t r = read(fd, raw, sizeof(raw));
		if (r <= 0)
			_exit(0);
		in.next_in = raw;
		in.avail_in = (uInt)r;
		while (in.avail_in > 0) {
			in.next_out = plain + have;
			in.avail_out = (uInt)(sizeof(plain) - have);
			int ir = inflate(&in, Z_SYNC_FLUSH);
			if (ir != Z_OK && ir != Z_BUF_ERROR)
				_exit(4);
			have = sizeof(plain) - in.avail_out;
		}
		unsigned char *nl;
		while ((nl = memchr(plain, '\n', have)) != NULL) {
			size_t line = (size_t)(nl - plain) + 1;
			out.next_in = (Bytef *)"echo: ";
			out.avail_in = 6;
			out.next_out = zbuf;
			out.avail_out = sizeof(zbuf);
			deflate(&out, Z_NO_FLUSH);
			out.next_in = plain;
			out.avail_in = (uInt)line;
			deflate(&out, Z_SYNC_FLUSH);
			write_all(fd, zbuf, sizeof(zbuf) - out.avail_out);
			memmove(plain, plain + line, have - line);
			have -= line;
		}
	}
}

static void start_server(enum script s)
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
		serve(lfd, s);
	close(lfd);
}

static void stop_server(void)
{
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
}

static struct mf_conn *open_compressed(void)
{
	struct mf_conn_opts o = {
		.proto = "test", .host = "127.0.0.1", .port = server_port, .io_timeout_ms = 5000
	};
	struct mf_conn *c;
	struct mf_error err = { 0 };
	ck_assert_int_eq(mf_conn_open(&o, &c, &err), MF_OK);
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 1000, &err), MF_OK);
	ck_assert_int_eq(mf_conn_write_str(c, "a1 COMPRESS DEFLATE\r\n", &err), MF_OK);
	ck_assert_int_eq(mf_conn_read_line(c, &line, 1000, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "a1 OK DEFLATE active");
	ck_assert_int_eq(mf_conn_start_compress(c, &err), MF_OK);
	ck_assert(mf_conn_is_compressed(c));
	mf_buf_free(&line);
	return c;
}

START_TEST(conversation_over_a_compressed_connection)
{
	start_server(S_ECHO);
	struct mf_conn *c = open_compressed();
	struct mf_error err = { 0 };
	struct mf_buf line = { 0 };
	/* Sent by the server in the same packet as its OK. */
	ck_assert_int_eq(mf_conn_read_line(c, &line, 1000, &err), MF_OK);
	ck_assert_str_eq((char *)line.data, "* OK compressed hello");
	/* Small lines, then one bigger than the output buffer (written
	 * straight through deflate), each echoed back. */
	char big[100 * 1024];
	for (size_t i = 0; i < sizeof(big) - 2; i++)
		big[i] = "mailferry compresses "[i % 21];
	memcpy(big + sizeof(big) - 2, "\r\n", 2);
	for (int i = 0; i < 50; i++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "a%d NOOP\r\n", i + 2);
		ck_assert_int_eq(mf_conn_write_str(c, cmd, &err), MF_OK);
		ck_assert_int_eq(mf_conn_read_line(c, &line, 1000, &err), MF_OK);
		cmd[strlen(cmd) - 2] = '\0';
		char want[80];
		snprintf(want, sizeof(want), "echo: %s", cmd);
		ck_assert_str_eq((char *)line.data, want);
	}
	ck_assert_int_eq(mf_conn_write(c, big, sizeof(big), &err), MF_OK);
	ck_assert_int_eq(mf_conn_read_line(c, &line, sizeof(big) + 10, &err), MF_OK);
	ck_assert_uint_eq(line.len, 6 + sizeof(big) - 2);
	ck_assert_int_eq(memcmp(line.data + 6, big, sizeof(big) - 2), 0);
	struct mf_conn_stats st;
	mf_conn_get_stats(c, &st);
	ck_assert_uint_gt(st.plain_out, sizeof(big));
	ck_assert_uint_lt(st.wire_out, st.plain_out / 4);
	ck_assert_uint_lt(st.wire_in, st.plain_in / 4);
	mf_buf_free(&line);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

START_TEST(garbage_after_compress_is_a_clear_error)
{
	start_server(S_GARBAGE);
	struct mf_conn *c = open_compressed();
	struct mf_error err = { 0 };
	struct mf_buf line = { 0 };
	ck_assert_int_eq(mf_conn_read_line(c, &line, 1000, &err), MF_ERR_ACCOUNT);
	ck_assert_ptr_nonnull(strstr(err.text, "test 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(err.text, "bad compressed data from server"));
	mf_buf_free(&line);
	mf_conn_close(&c);
	stop_server();
}
END_TEST

static Suite *deflate_suite(void)
{
	Suite *s = suite_create("deflate");
	TCase *tc = tcase_create("stream");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip_in_odd_pieces);
	tcase_add_test(tc, each_sync_flush_is_a_boundary);
	tcase_add_test(tc, reads_a_servers_stream_and_refuses_its_end);
	tcase_add_test(tc, corrupt_stream_is_an_error);
	suite_add_tcase(s, tc);
	TCase *tn = tcase_create("conn");
	tcase_set_timeout(tn, 30);
	tcase_add_test(tn, conversation_over_a_compressed_connection);
	tcase_add_test(tn, garbage_after_compress_is_a_clear_error);
	suite_add_tcase(s, tn);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(deflate_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
