/* SPDX-License-Identifier: MIT */
/* delay_proxy: a TCP forwarder on loopback that behaves like a WAN link:
 * every byte is delayed by a fixed one-way latency and each direction of
 * direction of the link is serialised at a capped bandwidth shared by all
 * connections (one customer uplink: several streams must not multiply it).
 * Used by the benchmarks to compare mail clients over "25 ms each way,
 * 100 Mbit/s".
 *
 *   delay_proxy LISTEN_PORT TARGET_PORT DELAY_MS MBIT_PER_S SECONDS [TRACE]
 *
 * TRACE: a file that gets a line "SECONDS BYTES" for each upstream chunk,
 * the moment it starts on the link (seconds since the proxy started) and
 * its size, so a benchmark can say when the link stood idle and why the
 * run took longer than the link floor (bench/link_idle.awk).
 *
 * Listens on 127.0.0.1:LISTEN_PORT, forwards to 127.0.0.1:TARGET_PORT, and
 * exits by itself after SECONDS.  Link model: a chunk read at time t
 * leaves at max(t, link_free of its direction) + size/rate and arrives
 * DELAY_MS later;
 * reading stops while a direction has more than 8 MiB in flight, so a
 * fast sender is slowed (TCP backpressure) rather than buffered forever. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64
#define MAX_INFLIGHT (8u << 20)

struct chunk {
	struct chunk *next;
	uint64_t due_ns;
	size_t len, off;
	unsigned char data[];
};

struct direction {
	int from, to;
	struct chunk *head, *tail;
	size_t inflight;
	int eof; /* reader saw EOF: shut down the writer once drained */
};

struct conn {
	int used;
	struct direction d[2]; /* 0: client->server, 1: server->client */
};

static struct conn conns[MAX_CONN];
static uint64_t delay_ns;
/* When each direction of the shared link is next free (0: upstream). */
static uint64_t link_free_ns[2];
static double bytes_per_ns;
static FILE *trace;
static uint64_t started_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_target(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void close_conn(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		while (c->d[i].head) {
			struct chunk *n = c->d[i].head->next;
			free(c->d[i].head);
			c->d[i].head = n;
		}
	}
	close(c->d[0].from);
	close(c->d[1].from);
	memset(c, 0, sizeof(*c));
}

static void read_side(struct direction *d, int dir)
{
	unsigned char buf[65536];
	ssize_t n = read(d->from, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		d->eof = 1;
		return;
	}
	if (n < 0)
		return;
	struct chunk *c = malloc(sizeof(*c) + (size_t)n);
	if (c == NULL)
		abort();
	memcpy(c->data, buf, (size_t)n);
	c->len = (size_t)n;
	c->off = 0;
	c->next = NULL;
	uint64_t t = now_ns();
	uint64_t start = t > link_free_ns[dir] ? t : link_free_ns[dir];
	link_free_ns[dir] = start + (uint64_t)((double)n / bytes_per_ns);
	c->due_ns = link_free_ns[dir] + delay_ns;
	if (trace != NULL && dir == 0)
		fprintf(trace, "%.6f %zd\n", (double)(start - started_ns) / 1e9, n);
	if (d->tail)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->inflight += (size_t)n;
}

/* Write what is due; returns -1 when the connection is finished. */
static int write_side(struct direction *d, uint64_t t)
{
	while (d->head && d->head->due_ns <= t) {
		struct chunk *c = d->head;
		ssize_t w = write(d->to, c->data + c->off, c->len - c->off);
		if (w < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		c->off += (size_t)w;
		d->inflight -= (size_t)w;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (!d->head)
			d->tail = NULL;
		free(c);
	}
	if (d->eof && !d->head) {
		shutdown(d->to, SHUT_WR);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: delay_proxy LISTEN_PORT TARGET_PORT DELAY_MS MBIT_PER_S "
				"SECONDS [TRACE]\n");
		return 2;
	}
	started_ns = now_ns();
	if (argc == 7) {
		trace = fopen(argv[6], "w");
		if (trace == NULL) {
			perror(argv[6]);
			return 1;
		}
		setvbuf(trace, NULL, _IOLBF, 0); /* complete lines when killed */
	}
	int lport = (int)strtol(argv[1], NULL, 10), tport = (int)strtol(argv[2], NULL, 10);
	delay_ns = (uint64_t)strtol(argv[3], NULL, 10) * 1000000ull;
	bytes_per_ns = strtod(argv[4], NULL) * 1e6 / 8 / 1e9;
	uint64_t end = now_ns() + (uint64_t)strtol(argv[5], NULL, 10) * 1000000000ull;
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 16) != 0) {
		perror("delay_proxy: bind");
		return 1;
	}
	set_nonblock(ls);
	while (now_ns() < end) {
		struct pollfd p[1 + 2 * MAX_CONN];
		int map[1 + 2 * MAX_CONN];
		int np = 0;
		p[np].fd = ls;
		p[np++].events = POLLIN;
		uint64_t t = now_ns(), next_due = t + 100000000ull;
		for (int i = 0; i < MAX_CONN; i++) {
			if (!conns[i].used)
				continue;
			for (int k = 0; k < 2; k++) {
				struct direction *d = &conns[i].d[k];
				short ev = 0;
				if (!d->eof && d->inflight < MAX_INFLIGHT)
					ev |= POLLIN;
				if (d->head && d->head->due_ns <= t)
					ev |= POLLOUT;
				if (d->head && d->head->due_ns > t && d->head->due_ns < next_due)
					next_due = d->head->due_ns;
				p[np].fd = d->from;
				p[np].events = ev & POLLIN;
				map[np++] = i * 2 + k;
				if (ev & POLLOUT) {
					p[np].fd = d->to;
					p[np].events = POLLOUT;
					map[np++] = -(i * 2 + k) - 1;
				}
			}
		}
		int timeout_ms = (int)((next_due - t) / 1000000ull);
		poll(p, (nfds_t)np, timeout_ms > 0 ? timeout_ms : 0);
		if (p[0].revents & POLLIN) {
			int cfd = accept(ls, NULL, NULL);
			int sfd = cfd >= 0 ? connect_target(tport) : -1;
			int slot = -1;
			for (int i = 0; i < MAX_CONN && slot < 0; i++)
				if (!conns[i].used)
					slot = i;
			if (cfd >= 0 && (sfd < 0 || slot < 0)) {
				close(cfd);
				if (sfd >= 0)
					close(sfd);
			} else if (cfd >= 0) {
				set_nonblock(cfd);
				set_nonblock(sfd);
				struct conn *c = &conns[slot];
				memset(c, 0, sizeof(*c));
				c->used = 1;
				c->d[0].from = cfd;
				c->d[0].to = sfd;
				c->d[1].from = sfd;
				c->d[1].to = cfd;
			}
		}
		for (int j = 1; j < np; j++) {
			if (map[j] >= 0 && (p[j].revents & (POLLIN | POLLHUP | POLLERR))) {
				struct conn *c = &conns[map[j] / 2];
				if (c->used)
					read_side(&c->d[map[j] % 2], map[j] % 2);
			}
		}
		t = now_ns();
		for (int i = 0; i < MAX_CONN; i++) {
			if (!conns[i].used)
				continue;
			int done0 = write_side(&conns[i].d[0], t);
			int done1 = write_side(&conns[i].d[1], t);
			if (done0 < 0 && done1 < 0)
				close_conn(&conns[i]);
		}
	}
	return 0;
}
