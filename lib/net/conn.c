/* SPDX-License-Identifier: MIT */
/* struct mf_conn: one client connection, plain TCP or OpenSSL TLS.  This
 * file owns name resolution, the non-blocking connect bounded by a
 * timeout, the TLS handshake with verification (system store plus an
 * optional CA file, host name via SSL_set1_host, SNI), buffered reads and
 * writes with poll()-based timeouts, and the error texts/classes that
 * net.h promises.  Protocol logic (IMAP, POP3) lives with its callers.
 * The socket stays non-blocking for its whole life so that every wait,
 * including the ones inside SSL_read/SSL_write, goes through poll().
 * With COMPRESS=DEFLATE (lib/net/deflate.c) the buffers hold plain bytes:
 * output is deflated when flushed, input inflated from a second buffer of
 * raw bytes as it is filled, so callers see no difference. */
#include <config.h>
#include <mailferry/net.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "deflate.h"

#define IN_BUF_SIZE (64 * 1024)
#define OUT_BUF_SIZE (32 * 1024)

/* Progress of one direction since the other side last made progress
 * (net.h, "slow peers"): time spent blocked waiting on the peer, and the
 * bytes that moved meanwhile. */
struct meter {
	int64_t waited_ms;
	uint64_t bytes;
};

struct mf_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char *host;
	bool insecure;
	char *ca_file;
	unsigned io_timeout_ms;
	char label[300];
	unsigned char in[IN_BUF_SIZE];
	size_t in_pos, in_len;
	unsigned char out[OUT_BUF_SIZE];
	size_t out_len;
	/* COMPRESS=DEFLATE: the streams, the server's raw (compressed)
	 * bytes not yet inflated, and scratch space for deflate's output. */
	struct mf_deflate *z;
	unsigned char *zin, *zout;
	size_t zin_pos, zin_len;
	struct mf_conn_stats stats;
	struct meter rx, tx;
};

bool mf_conn_is_compressed(const struct mf_conn *conn)
{
	return conn->z != NULL;
}

void mf_conn_get_stats(const struct mf_conn *conn, struct mf_conn_stats *st_r)
{
	*st_r = conn->stats;
}

const char *mf_conn_label(const struct mf_conn *conn)
{
	return conn->label;
}

bool mf_conn_is_tls(const struct mf_conn *conn)
{
	return conn->ssl != NULL;
}

void mf_conn_set_io_timeout(struct mf_conn *conn, unsigned ms)
{
	conn->io_timeout_ms = ms ? ms : 120000;
}

void mf_conn_progress(struct mf_conn *conn)
{
	memset(&conn->rx, 0, sizeof(conn->rx));
	memset(&conn->tx, 0, sizeof(conn->tx));
}

size_t mf_conn_buffered(const struct mf_conn *conn)
{
	return conn->in_len - conn->in_pos;
}

bool mf_conn_input_ready(const struct mf_conn *conn)
{
	if (mf_conn_buffered(conn) > 0 || conn->zin_len > conn->zin_pos ||
	    (conn->ssl != NULL && SSL_pending(conn->ssl) > 0))
		return true;
	struct pollfd p = { .fd = conn->fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/* Fill err with "<label>: <what>" and the class; returns the status. */
static int fail(struct mf_error *err, const char *label, enum mf_status st, enum mf_retry rt,
		int sys_errno, const char *fmt, ...) MF_PRINTF(6, 7);
static int fail(struct mf_error *err, const char *label, enum mf_status st, enum mf_retry rt,
		int sys_errno, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mf_error_set(err, st, rt, "%s: %s", label, what);
	if (err != NULL)
		err->sys_errno = sys_errno;
	return (int)st;
}

/* The OpenSSL error queue as one line (and emptied). */
static void ssl_errors(char *out, size_t cap)
{
	unsigned long e;
	size_t len = 0;
	out[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		if (len == 0)
			len = (size_t)snprintf(out, cap, "%s", one);
		if (len >= cap)
			len = cap - 1;
	}
	if (out[0] == '\0')
		snprintf(out, cap, "unknown TLS error");
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd for at most timeout_ms; 0 = ready, 1 = timeout. */
static int wait_fd(int fd, short events, unsigned timeout_ms, int *errno_r)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return 1;
		if (errno != EINTR) {
			*errno_r = errno;
			return -1;
		}
	}
}

/* How long the peer may still keep us waiting in direction m before it is
 * too slow: the I/O timeout, plus the time the bytes it moved would take
 * at the floor rate, minus the time already spent waiting (net.h). */
static int64_t slow_left_ms(const struct mf_conn *conn, const struct meter *m)
{
	uint64_t credit = m->bytes * 1000 / MF_CONN_FLOOR_BPS;
	if (credit > INT64_MAX / 4)
		credit = INT64_MAX / 4;
	return (int64_t)conn->io_timeout_ms + (int64_t)credit - m->waited_ms;
}

/* Wait for want on conn until deadline (the I/O timeout after the last
 * progress) or until the peer has been too slow for meter m; MF_OK when
 * ready, else err says which side stalled. */
static int wait_until(struct mf_conn *conn, short want, int64_t deadline, struct meter *m,
		      const char *stalled, struct mf_error *err)
{
	int64_t start = now_ms();
	int64_t left = deadline - start;
	int64_t slow = slow_left_ms(conn, m);
	/* A rate cut close to the timeout's would name a silent server
	 * "too slow" by a hair: leave those to the timeout (net.h). */
	bool by_rate = slow + (int64_t)conn->io_timeout_ms / 2 <= left;
	if (by_rate)
		left = slow;
	int se = 0;
	int w = left > 0 ? wait_fd(conn->fd, want, (unsigned)left, &se) : 1;
	m->waited_ms += now_ms() - start;
	if (w == 1 && by_rate)
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, ETIMEDOUT,
			    "server too slow, stalled: %s %llu bytes in %lld s of waiting"
			    " (under %u bytes/s beyond the %u s timeout)",
			    m == &conn->rx ? "received" : "accepted", (unsigned long long)m->bytes,
			    (long long)(m->waited_ms / 1000), MF_CONN_FLOOR_BPS,
			    conn->io_timeout_ms / 1000);
	if (w == 1)
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, ETIMEDOUT,
			    "%s within %u s", stalled, conn->io_timeout_ms / 1000);
	if (w < 0)
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, se, "poll: %s",
			    strerror(se));
	return MF_OK;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* Try one resolved address; returns the connected fd or -1 with *errno_r
 * set (ETIMEDOUT for our own timeout). */
static int connect_one(const struct addrinfo *ai, unsigned timeout_ms, int *errno_r)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*errno_r = errno;
		return -1;
	}
	if (set_nonblock(fd) < 0) {
		*errno_r = errno;
		close(fd);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			*errno_r = errno;
			close(fd);
			return -1;
		}
		int w = wait_fd(fd, POLLOUT, timeout_ms, errno_r);
		if (w != 0) {
			if (w == 1)
				*errno_r = ETIMEDOUT;
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr != 0) {
			*errno_r = soerr;
			close(fd);
			return -1;
		}
	}
	/* Commands are small and latency-bound (pipelining already batches
	 * them), so Nagle would only add delayed-ACK stalls. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool is_ip_literal(const char *host)
{
	unsigned char tmp[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* Block SIGPIPE for this thread around a write that may hit a closed
 * socket (SSL_write uses write(2), which has no MSG_NOSIGNAL), then
 * swallow a SIGPIPE we caused, so the process never dies of it and no
 * process-wide signal disposition is touched (curl's sigpipe_ignore). */
struct sigpipe_guard {
	sigset_t old;
	bool had_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	g->had_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g, bool got_epipe)
{
	if (got_epipe && !g->had_pending) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int tls_handshake(struct mf_conn *conn, struct mf_error *err)
{
	char msg[300];
	conn->ctx = SSL_CTX_new(TLS_client_method());
	if (conn->ctx == NULL) {
		ssl_errors(msg, sizeof(msg));
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "cannot create TLS context: %s", msg);
	}
	SSL_CTX_set_min_proto_version(conn->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(conn->ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!conn->insecure) {
		if (SSL_CTX_set_default_verify_paths(conn->ctx) != 1)
			ERR_clear_error();
		if (conn->ca_file != NULL &&
		    SSL_CTX_load_verify_locations(conn->ctx, conn->ca_file, NULL) != 1) {
			ssl_errors(msg, sizeof(msg));
			return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
				    "cannot load CA file %s: %s", conn->ca_file, msg);
		}
		SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_NONE, NULL);
	}
	conn->ssl = SSL_new(conn->ctx);
	if (conn->ssl == NULL || SSL_set_fd(conn->ssl, conn->fd) != 1) {
		ssl_errors(msg, sizeof(msg));
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "cannot create TLS session: %s", msg);
	}
	/* SNI only for names (RFC 6066 §3 forbids address literals). */
	if (!is_ip_literal(conn->host))
		SSL_set_tlsext_host_name(conn->ssl, conn->host);
	if (!conn->insecure && SSL_set1_host(conn->ssl, conn->host) != 1) {
		ssl_errors(msg, sizeof(msg));
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "cannot set TLS host name: %s", msg);
	}
	int64_t deadline = now_ms() + conn->io_timeout_ms;
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(conn->ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(conn->ssl, r);
		int64_t left = deadline - now_ms();
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left > 0) {
			int se = 0;
			int w = wait_fd(conn->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					(unsigned)left, &se);
			if (w < 0)
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, se,
					    "TLS handshake: %s", strerror(se));
			continue;
		}
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, ETIMEDOUT,
				    "TLS handshake timed out after %u ms", conn->io_timeout_ms);
		long vr = SSL_get_verify_result(conn->ssl);
		if (vr != X509_V_OK)
			return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NEVER, 0,
				    "certificate verify failed: %s%s",
				    X509_verify_cert_error_string(vr),
				    conn->ca_file == NULL ? " (use --ca-file, or --insecure"
							    " to skip verification)"
							  : "");
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, errno,
				    "TLS handshake: connection closed by peer"
				    " (not a TLS port?)");
		ssl_errors(msg, sizeof(msg));
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NEVER, 0,
			    "TLS handshake failed: %s", msg);
	}
	return MF_OK;
}

int mf_conn_open(const struct mf_conn_opts *opts, struct mf_conn **conn_r, struct mf_error *err)
{
	*conn_r = NULL;
	const char *proto = opts->proto ? opts->proto : "tcp";
	if (opts->host == NULL || opts->host[0] == '\0' || opts->port == 0)
		return mf_error_set(err, MF_ERR_FATAL, MF_RETRY_NEVER,
				    "%s: no host or port to connect to", proto);
	struct mf_conn *conn = mf_xcalloc(1, sizeof(*conn));
	conn->fd = -1;
	conn->host = mf_xstrdup(opts->host);
	conn->insecure = opts->insecure;
	conn->ca_file = opts->ca_file ? mf_xstrdup(opts->ca_file) : NULL;
	mf_conn_set_io_timeout(conn, opts->io_timeout_ms);
	bool v6 = strchr(opts->host, ':') != NULL;
	snprintf(conn->label, sizeof(conn->label), "%s %s%s%s:%u", proto, v6 ? "[" : "", opts->host,
		 v6 ? "]" : "", opts->port);

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_family = AF_UNSPEC,
				  .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", opts->port);
	int gr = getaddrinfo(opts->host, port, &hints, &res);
	if (gr != 0) {
		/* Loopback-only hosts may have no configured address at all;
		 * AI_ADDRCONFIG then hides 127.0.0.1 too, so retry without. */
		hints.ai_flags = 0;
		gr = getaddrinfo(opts->host, port, &hints, &res);
	}
	if (gr != 0) {
		int st = fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, 0,
			      "cannot resolve host: %s", gai_strerror(gr));
		mf_conn_close(&conn);
		return st;
	}
	unsigned cto = opts->connect_timeout_ms ? opts->connect_timeout_ms : 30000;
	int last_errno = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		conn->fd = connect_one(ai, cto, &last_errno);
		if (conn->fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (conn->fd < 0) {
		int st;
		if (last_errno == ETIMEDOUT)
			st = fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, ETIMEDOUT,
				  "connect timed out after %u ms", cto);
		else
			st = fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, last_errno,
				  "connect: %s", strerror(last_errno));
		mf_conn_close(&conn);
		return st;
	}
	if (opts->tls) {
		int st = tls_handshake(conn, err);
		if (st != MF_OK) {
			mf_conn_close(&conn);
			return st;
		}
	}
	*conn_r = conn;
	return MF_OK;
}

int mf_conn_start_tls(struct mf_conn *conn, struct mf_error *err)
{
	if (conn->ssl != NULL)
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "STARTTLS on a connection already using TLS");
	if (conn->z != NULL)
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "STARTTLS after COMPRESS (RFC 4978 §4 orders them the other way)");
	if (mf_conn_buffered(conn) != 0)
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NEVER, 0,
			    "server sent data before the TLS handshake"
			    " (possible command injection), refusing");
	int st = mf_conn_flush(conn, err);
	if (st != MF_OK)
		return st;
	return tls_handshake(conn, err);
}

void mf_conn_close(struct mf_conn **connp)
{
	struct mf_conn *conn = *connp;
	if (conn == NULL)
		return;
	if (conn->ssl != NULL) {
		/* Best effort close_notify; never wait for the peer's. */
		struct sigpipe_guard g;
		sigpipe_block(&g);
		int r = SSL_shutdown(conn->ssl);
		sigpipe_restore(&g, r < 0);
		SSL_free(conn->ssl);
	}
	SSL_CTX_free(conn->ctx);
	if (conn->z != NULL) {
		mf_deflate_free(conn->z);
		free(conn->z);
	}
	free(conn->zin);
	free(conn->zout);
	if (conn->fd >= 0)
		close(conn->fd);
	free(conn->host);
	free(conn->ca_file);
	free(conn);
	*connp = NULL;
}

/* One raw read of 1..cap bytes from the socket / TLS session into buf;
 * waits at most the I/O timeout. */
static int raw_read(struct mf_conn *conn, unsigned char *buf, size_t cap, size_t *n_r,
		    struct mf_error *err)
{
	int64_t deadline = now_ms() + conn->io_timeout_ms;
	if (cap > INT_MAX)
		cap = INT_MAX;
	for (;;) {
		short want = POLLIN;
		if (conn->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_read(conn->ssl, buf, (int)cap);
			if (r > 0) {
				*n_r = (size_t)r;
				conn->stats.wire_in += (uint64_t)r;
				conn->rx.bytes += (uint64_t)r;
				memset(&conn->tx, 0, sizeof(conn->tx));
				return MF_OK;
			}
			int e = SSL_get_error(conn->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NOW, 0,
					    "connection closed by server");
			if (e == SSL_ERROR_WANT_WRITE)
				want = POLLOUT;
			else if (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EINTR)
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, errno,
					    "read: %s", strerror(errno));
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_SYSCALL) {
				char msg[300];
				ssl_errors(msg, sizeof(msg));
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, 0,
					    "TLS read: %s", msg);
			}
		} else {
			ssize_t r = recv(conn->fd, buf, cap, 0);
			if (r > 0) {
				*n_r = (size_t)r;
				conn->stats.wire_in += (uint64_t)r;
				conn->rx.bytes += (uint64_t)r;
				memset(&conn->tx, 0, sizeof(conn->tx));
				return MF_OK;
			}
			if (r == 0)
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NOW, 0,
					    "connection closed by server");
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, errno,
					    "read: %s", strerror(errno));
		}
		int ws = wait_until(conn, want, deadline, &conn->rx, "no answer from server", err);
		if (ws != MF_OK)
			return ws;
	}
}

/* Refill the (empty) input buffer with at least one byte of plain data:
 * straight from the peer, or inflated from its compressed stream (which
 * may take several raw reads: a read can end inside a deflate block, and
 * inflate may still hold output from the last one). */
static int fill(struct mf_conn *conn, struct mf_error *err)
{
	int st = mf_conn_flush(conn, err);
	if (st != MF_OK)
		return st;
	conn->in_pos = conn->in_len = 0;
	if (conn->z == NULL) {
		st = raw_read(conn, conn->in, sizeof(conn->in), &conn->in_len, err);
		conn->stats.plain_in += conn->in_len;
		return st;
	}
	for (;;) {
		size_t used, made;
		const char *why = NULL;
		if (!mf_deflate_read(conn->z, conn->zin + conn->zin_pos,
				     conn->zin_len - conn->zin_pos, &used, conn->in,
				     sizeof(conn->in), &made, &why))
			return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, 0,
				    "COMPRESS=DEFLATE: bad compressed data from server: %s", why);
		conn->zin_pos += used;
		if (made > 0) {
			conn->in_len = made;
			conn->stats.plain_in += made;
			return MF_OK;
		}
		if (conn->zin_pos < conn->zin_len)
			continue; /* input consumed in pieces (block headers) */
		conn->zin_pos = conn->zin_len = 0;
		st = raw_read(conn, conn->zin, IN_BUF_SIZE, &conn->zin_len, err);
		if (st != MF_OK)
			return st;
	}
}

int mf_conn_read_some(struct mf_conn *conn, void *buf, size_t cap, size_t *n_r,
		      struct mf_error *err)
{
	*n_r = 0;
	if (cap == 0)
		return MF_OK;
	if (mf_conn_buffered(conn) == 0) {
		int st = fill(conn, err);
		if (st != MF_OK)
			return st;
	}
	size_t n = mf_conn_buffered(conn);
	if (n > cap)
		n = cap;
	memcpy(buf, conn->in + conn->in_pos, n);
	conn->in_pos += n;
	*n_r = n;
	return MF_OK;
}

int mf_conn_read_exact(struct mf_conn *conn, void *buf, size_t len, struct mf_error *err)
{
	unsigned char *p = buf;
	while (len > 0) {
		size_t n;
		int st = mf_conn_read_some(conn, p, len, &n, err);
		if (st != MF_OK)
			return st;
		p += n;
		len -= n;
	}
	return MF_OK;
}

int mf_conn_read_line(struct mf_conn *conn, struct mf_buf *line, size_t max, struct mf_error *err)
{
	mf_buf_clear(line);
	for (;;) {
		if (mf_conn_buffered(conn) == 0) {
			int st = fill(conn, err);
			if (st != MF_OK)
				return st;
		}
		const unsigned char *start = conn->in + conn->in_pos;
		size_t avail = mf_conn_buffered(conn);
		const unsigned char *nl = memchr(start, '\n', avail);
		size_t take = nl ? (size_t)(nl - start) : avail;
		if (line->len + take > max + 1)
			return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NEVER, 0,
				    "server sent a line longer than %zu bytes", max);
		mf_buf_append(line, start, take);
		conn->in_pos += take + (nl ? 1 : 0);
		if (nl != NULL) {
			if (line->len > 0 && line->data[line->len - 1] == '\r')
				line->data[--line->len] = '\0';
			if (line->len > max)
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NEVER, 0,
					    "server sent a line longer than"
					    " %zu bytes",
					    max);
			return MF_OK;
		}
	}
}

/* Send len bytes straight to the socket / TLS session. */
static int send_all(struct mf_conn *conn, const unsigned char *p, size_t len, struct mf_error *err)
{
	conn->stats.wire_out += len;
	int64_t deadline = now_ms() + conn->io_timeout_ms;
	while (len > 0) {
		short want = POLLOUT;
		int serr = 0;
		struct sigpipe_guard g;
		if (conn->ssl != NULL) {
			size_t chunk = len > 1u << 30 ? 1u << 30 : len;
			ERR_clear_error();
			sigpipe_block(&g);
			int r = SSL_write(conn->ssl, p, (int)chunk);
			serr = errno;
			int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(conn->ssl, r);
			sigpipe_restore(&g, serr == EPIPE);
			if (r > 0) {
				p += r;
				len -= (size_t)r;
				deadline = now_ms() + conn->io_timeout_ms;
				conn->tx.bytes += (uint64_t)r;
				memset(&conn->rx, 0, sizeof(conn->rx));
				continue;
			}
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE) {
				if (e == SSL_ERROR_SYSCALL && serr != 0 && serr != EAGAIN)
					return fail(err, conn->label, MF_ERR_ACCOUNT,
						    serr == EPIPE ? MF_RETRY_NOW : MF_RETRY_LATER,
						    serr, "write: %s", strerror(serr));
				char msg[300];
				ssl_errors(msg, sizeof(msg));
				return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NOW, 0,
					    "TLS write: %s", msg);
			}
		} else {
			ssize_t r = send(conn->fd, p, len, MSG_NOSIGNAL);
			if (r > 0) {
				p += r;
				len -= (size_t)r;
				deadline = now_ms() + conn->io_timeout_ms;
				conn->tx.bytes += (uint64_t)r;
				memset(&conn->rx, 0, sizeof(conn->rx));
				continue;
			}
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return fail(err, conn->label, MF_ERR_ACCOUNT,
					    errno == EPIPE ? MF_RETRY_NOW : MF_RETRY_LATER, errno,
					    "write: %s", strerror(errno));
		}
		int ws =
			wait_until(conn, want, deadline, &conn->tx, "server accepted no data", err);
		if (ws != MF_OK)
			return ws;
	}
	return MF_OK;
}

struct emit_ctx {
	struct mf_conn *conn;
	struct mf_error *err;
	int st;
};

static int emit_raw(void *vctx, const unsigned char *p, size_t n)
{
	struct emit_ctx *e = vctx;
	e->st = send_all(e->conn, p, n, e->err);
	return e->st != MF_OK ? 1 : 0;
}

/* Plain bytes out: as they are, or through deflate (sync: flushed so the
 * server can read all of it now). */
static int send_plain(struct mf_conn *conn, const unsigned char *p, size_t len, bool sync,
		      struct mf_error *err)
{
	conn->stats.plain_out += len;
	if (conn->z == NULL)
		return send_all(conn, p, len, err);
	struct emit_ctx e = { .conn = conn, .err = err, .st = MF_OK };
	const char *why = NULL;
	int r = mf_deflate_write(conn->z, p, len, sync, conn->zout, OUT_BUF_SIZE + 64, emit_raw, &e,
				 &why);
	if (r == 0)
		return MF_OK;
	if (e.st != MF_OK)
		return e.st;
	return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_NOW, 0, "COMPRESS=DEFLATE: %s", why);
}

int mf_conn_start_compress(struct mf_conn *conn, struct mf_error *err)
{
	if (conn->z != NULL)
		return fail(err, conn->label, MF_ERR_FATAL, MF_RETRY_NEVER, 0,
			    "COMPRESS on a connection already compressed");
	int st = mf_conn_flush(conn, err);
	if (st != MF_OK)
		return st;
	struct mf_deflate *z = mf_xcalloc(1, sizeof(*z));
	const char *why = NULL;
	if (!mf_deflate_init(z, &why)) {
		free(z);
		return fail(err, conn->label, MF_ERR_ACCOUNT, MF_RETRY_LATER, 0,
			    "COMPRESS=DEFLATE: %s", why);
	}
	conn->z = z;
	conn->zin = mf_xmalloc(IN_BUF_SIZE);
	conn->zout = mf_xmalloc(OUT_BUF_SIZE + 64);
	/* What the server sent after its OK is already compressed. */
	size_t left = mf_conn_buffered(conn);
	memcpy(conn->zin, conn->in + conn->in_pos, left);
	conn->zin_pos = 0;
	conn->zin_len = left;
	conn->stats.plain_in -= left;
	conn->in_pos = conn->in_len = 0;
	return MF_OK;
}

int mf_conn_flush(struct mf_conn *conn, struct mf_error *err)
{
	if (conn->out_len == 0 && (conn->z == NULL || !conn->z->pending))
		return MF_OK;
	size_t n = conn->out_len;
	conn->out_len = 0;
	int st = send_plain(conn, conn->out, n, true, err);
	/* The buffer held LOGIN/PASS/AUTHENTICATE lines too: leave no
	 * password behind in it. */
	explicit_bzero(conn->out, n);
	return st;
}

int mf_conn_write(struct mf_conn *conn, const void *data, size_t len, struct mf_error *err)
{
	if (conn->out_len + len <= sizeof(conn->out)) {
		memcpy(conn->out + conn->out_len, data, len);
		conn->out_len += len;
		return MF_OK;
	}
	int st = mf_conn_flush(conn, err);
	if (st != MF_OK)
		return st;
	if (len <= sizeof(conn->out)) {
		memcpy(conn->out, data, len);
		conn->out_len = len;
		return MF_OK;
	}
	/* A big piece (a message literal) goes out at once; compressed, it
	 * is flushed with the next small write's flush. */
	return send_plain(conn, data, len, false, err);
}

int mf_conn_write_str(struct mf_conn *conn, const char *s, struct mf_error *err)
{
	return mf_conn_write(conn, s, strlen(s), err);
}
