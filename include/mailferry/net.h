/* SPDX-License-Identifier: MIT */
/* Blocking client connections for line protocols (IMAP, POP3): TCP with
 * connect and I/O timeouts, implicit TLS or a STARTTLS upgrade over
 * OpenSSL with certificate and host name verification, buffered line
 * reads, exact-byte reads (literals, POP3 bodies) and write-all.
 *
 * Every failure fills a struct mf_error whose text begins with the
 * connection's label, e.g. "imaps 127.0.0.1:9933: ...".  Classes:
 *   DNS, connect, timeout, reset       MF_ERR_ACCOUNT + MF_RETRY_LATER
 *   clean EOF from the peer            MF_ERR_ACCOUNT + MF_RETRY_NOW
 *   certificate / TLS handshake        MF_ERR_ACCOUNT + MF_RETRY_NEVER
 *   bad options (no host, bad CA file) MF_ERR_FATAL   + MF_RETRY_NEVER
 * One connection is used by one thread at a time.  Writing to a peer that
 * went away never raises SIGPIPE. */
#ifndef MAILFERRY_NET_H
#define MAILFERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailferry/plugin.h>
#include <mailferry/util.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mf_conn;

struct mf_conn_opts {
	const char *proto; /* label for errors and TLS, e.g. "imaps" */
	const char *host;  /* name or address literal (IPv6 without []) */
	uint16_t port;
	bool tls;                    /* implicit TLS right after connect */
	bool insecure;               /* no certificate/host checks: the caller must
				warn loudly; never the default */
	const char *ca_file;         /* extra trusted CA bundle (PEM), or NULL */
	unsigned connect_timeout_ms; /* 0 = 30 s */
	unsigned io_timeout_ms;      /* per read/write wait; 0 = 120 s */
};

/* Slow peers.  The I/O timeout bounds each wait; on top of it a peer
 * that keeps the connection alive without real progress (one byte every
 * timeout - 1 s) is cut: from the moment we last sent something (for
 * what the server sends us) or last received something (for what it
 * accepts from us), or since mf_conn_progress, the time spent blocked
 * waiting on the peer may not pass
 *     io_timeout + bytes moved meanwhile / MF_CONN_FLOOR_BPS.
 * So an answer of n bytes may take timeout + n/1 KiB of waiting: 50 MB
 * at 1 Mbit/s needs 400 s and is allowed 13.5 h, a server that thinks
 * for most of the timeout and then sends is unaffected, while a trickle
 * well under 1 KiB/s fails after 1 to 1.5 timeouts.  Time the caller
 * spends not reading (a slow sink) never counts.  The error is
 * MF_ERR_ACCOUNT + MF_RETRY_LATER, its text "server too slow, stalled:
 * ...".  A cut by that rule that would come less than half the timeout
 * before the timeout's own is left to the timeout, so a server that
 * simply goes quiet is named as such ("no answer from server within N
 * s") however much the waits before it cost on a loaded machine; the
 * rule is then exceeded by under half the timeout. */
#define MF_CONN_FLOOR_BPS 1024u

/* Resolve, connect (trying each address), and if opts->tls, handshake. */
int mf_conn_open(const struct mf_conn_opts *opts, struct mf_conn **conn_r, struct mf_error *err);
/* Upgrade a plain connection to TLS (after the protocol's STARTTLS/STLS
 * was accepted).  Any bytes the server sent before the handshake that are
 * still buffered are a protocol error (CVE-2011-0411 style injection). */
int mf_conn_start_tls(struct mf_conn *conn, struct mf_error *err);
void mf_conn_close(struct mf_conn **conn); /* NULL-safe, sets *conn NULL */

/* "imaps 127.0.0.1:993": prefix for the caller's own error texts. */
const char *mf_conn_label(const struct mf_conn *conn);
bool mf_conn_is_tls(const struct mf_conn *conn);
void mf_conn_set_io_timeout(struct mf_conn *conn, unsigned ms);
/* The protocol saw real progress (a command completed, a message body
 * read whole): the slow-peer allowance above starts afresh. */
void mf_conn_progress(struct mf_conn *conn);

/* Read one line into line (cleared first), without its CRLF (or bare LF).
 * A line longer than max bytes is an error (MF_ERR_ACCOUNT, RETRY_NEVER). */
int mf_conn_read_line(struct mf_conn *conn, struct mf_buf *line, size_t max, struct mf_error *err);
/* Read between 1 and cap bytes (buffered data first).  EOF is an error. */
int mf_conn_read_some(struct mf_conn *conn, void *buf, size_t cap, size_t *n_r,
		      struct mf_error *err);
/* Read exactly len bytes. */
int mf_conn_read_exact(struct mf_conn *conn, void *buf, size_t len, struct mf_error *err);
/* Bytes already received and buffered (readable without waiting). */
size_t mf_conn_buffered(const struct mf_conn *conn);
/* Some input can be read now: buffered, inside TLS or the inflater, or
 * waiting on the socket (a zero-timeout poll). */
bool mf_conn_input_ready(const struct mf_conn *conn);

/* Queue len bytes for sending.  Output is buffered (up to 32 KiB) so a
 * command and its literal leave in few TCP segments / TLS records; every
 * read, poll and mf_conn_flush sends what is queued first, so a caller
 * never waits for the answer to a command still sitting in the buffer. */
int mf_conn_flush(struct mf_conn *conn, struct mf_error *err);
int mf_conn_write(struct mf_conn *conn, const void *data, size_t len, struct mf_error *err);
int mf_conn_write_str(struct mf_conn *conn, const char *s, struct mf_error *err);

/* COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw
 * deflate streams above TLS.  Call right after reading the server's OK to
 * COMPRESS, with nothing of ours unsent; bytes already buffered beyond
 * that OK are the start of the server's compressed stream.  A corrupt
 * stream from the server is an error of the connection (MF_ERR_ACCOUNT,
 * RETRY_LATER), never a crash. */
int mf_conn_start_compress(struct mf_conn *conn, struct mf_error *err);
bool mf_conn_is_compressed(const struct mf_conn *conn);

/* Bytes of the protocol's own data (plain) and as sent to or received from
 * the socket / TLS layer (wire: after compression; TLS framing not
 * counted).  Without compression plain == wire. */
struct mf_conn_stats {
	uint64_t plain_in, plain_out, wire_in, wire_out;
};
void mf_conn_get_stats(const struct mf_conn *conn, struct mf_conn_stats *st_r);

#ifdef __cplusplus
}
#endif
#endif
