/* DNS over TCP: listeners and up to TCP_CLIENTS_MAX connections in one poll() loop. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>
#include "pharos/err.h"
#include "dns.h"
#include "mgmt.h"
#include "relay.h"
#include "tcp.h"

#define TCP_POLL_MS	100	/* longest RCU-offline wait, so quit and timeouts are seen */
#define TCP_MSG_MAX	65535
#define TCP_BACKLOG	128
#define TCP_ACCEPT_MAX	64	/* accepts per listener per pass */

/*
 * One client. in[] holds what was read and not yet answered (maybe several pipelined
 * queries, maybe half of one); out[] holds one length-prefixed response being written.
 * Queries are answered one at a time, in order, each once out[] is empty: ~128 KiB a
 * connection, allocated when it is accepted.
 */
struct tcp_conn {
	int fd;
	int eof;			/* peer shut its write side: answer what is buffered, close */
	unsigned idx;			/* slot in tcp.conn[] */
	uint64_t last;			/* ms (monotonic) of the last read or write progress */
	uint64_t wait_token;		/* != 0: a relayed NOTIFY's answer must go out first */
	uint64_t wait_until;		/* ms: then the NOTIFY is skipped */
	size_t in_len;
	size_t out_off, out_len;
	uint8_t in[2 + TCP_MSG_MAX];
	uint8_t out[2 + TCP_MSG_MAX];
};

struct tcp {
	struct worker_stats st;
	int lfd[IO_ADDR_MAX];
	unsigned nl;
	unsigned nconn;
	struct tcp_conn *conn[TCP_CLIENTS_MAX];
	struct relay_ring *up;		/* NOTIFYs to the management thread */
	struct relay_ring *down;	/* their answers, from the management thread */
	int efd;			/* eventfd: down has something */
	uint64_t next_token;
	struct pollfd pfd[IO_ADDR_MAX + TCP_CLIENTS_MAX + 1];
	short slot[TCP_CLIENTS_MAX];	/* conn index -> pfd index, -1 = not polled */
	int running;
	pthread_t thread;
};

static uint64_t tcp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tcp_conn_close(struct tcp *t, unsigned i)
{
	close(t->conn[i]->fd);
	free(t->conn[i]);
	t->conn[i] = NULL;
	t->nconn--;
}

/* Write what is pending in out[]. Returns 0 (done or would block) or -1 (close). */
static int tcp_conn_flush(struct tcp *t, struct tcp_conn *c, uint64_t now)
{
	if (c->out_len == 0)
		return 0;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
		c->last = now;
	}
	c->out_off = c->out_len = 0;
	WORKER_STAT_ADD(&t->st, tx, 1);
	return 0;
}

/*
 * Hand the NOTIFY at in[2..2+qlen) to the management thread; the connection then waits for
 * its answer (or RELAY_TIMEOUT_MS + RELAY_TCP_GRACE_MS) before answering what follows.
 */
static void tcp_conn_relay(struct tcp *t, struct tcp_conn *c, size_t qlen, uint64_t now)
{
	struct relay_msg *m = relay_ring_claim(t->up);
	socklen_t sl = sizeof(m->from.peer.src), dl = sizeof(m->from.peer.dst);

	if (m == NULL || qlen > IPC_NOTIFY_MAX) {
		WORKER_STAT_ADD(&t->st, notify_lost, 1);
		return;		/* skipped: the primary retries */
	}
	memset(&m->from, 0, sizeof(m->from));
	if (getpeername(c->fd, (struct sockaddr *)&m->from.peer.src, &sl) < 0 ||
	    getsockname(c->fd, (struct sockaddr *)&m->from.peer.dst, &dl) < 0) {
		WORKER_STAT_ADD(&t->st, notify_lost, 1);
		return;
	}
	m->from.transport = IPC_TRANSPORT_TCP;
	m->from.conn = c->idx;
	m->from.token = ++t->next_token;
	m->len = (uint32_t)qlen;
	memcpy(m->data, c->in + 2, qlen);
	relay_ring_commit(t->up);
	c->wait_token = m->from.token;
	c->wait_until = now + RELAY_TIMEOUT_MS + RELAY_TCP_GRACE_MS;
	WORKER_STAT_ADD(&t->st, notify_relayed, 1);
}

/* Answer the first buffered query into out[]: 1 = answered, 0 = need more, -1 = close. */
static int tcp_conn_answer(struct tcp *t, struct tcp_conn *c, const struct snapshot *snap,
			   uint64_t now)
{
	struct answer_info info;
	size_t qlen, len;

	if (c->in_len < 2 || c->wait_token != 0)
		return 0;
	qlen = dns_get16(c->in);
	if (qlen == 0)
		return -1;
	if (c->in_len < 2 + qlen)
		return 0;
	WORKER_STAT_ADD(&t->st, rx, 1);
	if (relay_wants(c->in + 2, qlen)) {
		tcp_conn_relay(t, c, qlen, now);	/* sets wait_token, or counts it lost */
		c->in_len -= 2 + qlen;
		memmove(c->in, c->in + 2 + qlen, c->in_len);
		return 1;	/* nothing to write now; a lost NOTIFY is skipped */
	}
	len = answer_query(snap, c->in + 2, qlen, c->out + 2, TCP_MSG_MAX, ANSWER_TCP, &info);
	c->in_len -= 2 + qlen;
	memmove(c->in, c->in + 2 + qlen, c->in_len);	/* usually a few bytes, if any */
	if (len == 0) {
		WORKER_STAT_ADD(&t->st, dropped, 1);
		return -1;	/* not a query (QR=1, < 12 bytes): nothing sane to say */
	}
	worker_count(&t->st, &info);
	dns_put16(c->out, (uint16_t)len);
	c->out_off = 0;
	c->out_len = 2 + len;
	return 1;
}

/* Write, then answer and write buffered queries while the socket takes them. -1 = close. */
static int tcp_conn_run(struct tcp *t, struct tcp_conn *c, const struct snapshot *snap,
			uint64_t now)
{
	for (;;) {
		if (tcp_conn_flush(t, c, now) < 0)
			return -1;
		if (c->out_len > 0)
			return 0;		/* wait for POLLOUT */
		int r = tcp_conn_answer(t, c, snap, now);

		if (r < 0)
			return -1;
		if (r == 0)	/* half-closed and all answered (NOTIFY too): done */
			return c->eof && c->wait_token == 0 ? -1 : 0;
	}
}

/* Read what the socket has into in[]. Returns 0 or -1 (close). */
static int tcp_conn_read(struct tcp_conn *c, uint64_t now)
{
	while (c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
				 MSG_DONTWAIT);

		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->in_len += (size_t)n;
		c->last = now;
	}
	return 0;
}

static void tcp_accept(struct tcp *t, int lfd, uint64_t now)
{
	for (int k = 0; k < TCP_ACCEPT_MAX; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tcp_conn *c;
		unsigned i;

		if (fd < 0)
			return;
		if (t->nconn >= TCP_CLIENTS_MAX || (c = malloc(sizeof(*c))) == NULL) {
			close(fd);	/* over the cap: the client retries or falls back */
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		c->fd = fd;
		c->eof = 0;
		c->last = now;
		c->wait_token = 0;
		c->in_len = c->out_off = c->out_len = 0;
		for (i = 0; t->conn[i] != NULL; i++)
			;
		c->idx = i;
		t->conn[i] = c;
		t->slot[i] = -1;
		t->nconn++;
	}
}

/* Listeners first, then every connection with what it waits for, then the relay's eventfd. */
static nfds_t tcp_poll_fill(struct tcp *t)
{
	nfds_t n = 0;

	for (unsigned i = 0; i < t->nl; i++)
		t->pfd[n++] = (struct pollfd){ .fd = t->lfd[i], .events = POLLIN };
	for (unsigned i = 0; i < TCP_CLIENTS_MAX; i++) {
		struct tcp_conn *c = t->conn[i];
		short ev = 0;

		t->slot[i] = -1;
		if (c == NULL)
			continue;
		if (c->out_len > 0)
			ev |= POLLOUT;
		if (!c->eof && c->in_len < sizeof(c->in))
			ev |= POLLIN;
		t->slot[i] = (short)n;
		t->pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	t->pfd[n++] = (struct pollfd){ .fd = t->efd, .events = POLLIN };
	return n;
}

/*
 * Answers of relayed NOTIFYs from the management thread: each goes out on its connection
 * if that connection still waits for exactly it (else it came too late: ignored), and the
 * queries pipelined behind it are answered.
 */
static void tcp_relay_down(struct tcp *t, const struct snapshot *snap, uint64_t now)
{
	struct relay_msg *m;
	uint64_t v;

	(void)!read(t->efd, &v, sizeof(v));	/* reset; EAGAIN is fine */
	while ((m = relay_ring_peek(t->down)) != NULL) {
		struct tcp_conn *c = m->from.conn < TCP_CLIENTS_MAX ? t->conn[m->from.conn] : NULL;

		if (c != NULL && c->wait_token == m->from.token && m->len <= TCP_MSG_MAX) {
			c->wait_token = 0;
			dns_put16(c->out, (uint16_t)m->len);
			memcpy(c->out + 2, m->data, m->len);
			c->out_off = 0;
			c->out_len = 2 + (size_t)m->len;
			if (tcp_conn_run(t, c, snap, now) < 0)
				tcp_conn_close(t, m->from.conn);
		}
		relay_ring_pop(t->down);
	}
}

/* Serve connection i after poll: read, answer in order, write, or time it out. */
static void tcp_conn_event(struct tcp *t, unsigned i, const struct snapshot *snap, uint64_t now)
{
	struct tcp_conn *c = t->conn[i];
	short rev = t->pfd[t->slot[i]].revents;
	int rc = 0;

	if (rev & (POLLIN | POLLHUP | POLLERR))
		rc = tcp_conn_read(c, now);
	if (c->wait_token != 0 && now > c->wait_until) {
		c->wait_token = 0;	/* no answer came for the NOTIFY: go on without */
		rev |= POLLOUT;
	}
	if (rc == 0 && rev)
		rc = tcp_conn_run(t, c, snap, now);
	if (rc < 0 || now - c->last > TCP_IDLE_MS)
		tcp_conn_close(t, i);
}

static void tcp_pass(struct tcp *t)
{
	nfds_t n = tcp_poll_fill(t);
	const struct snapshot *snap;
	uint64_t now;

	rcu_thread_offline();
	(void)poll(t->pfd, n, TCP_POLL_MS);
	rcu_thread_online();
	snap = rcu_dereference(mgmt_snap);
	now = tcp_now_ms();
	tcp_relay_down(t, snap, now);	/* one ring peek when nothing came */
	for (unsigned i = 0; i < TCP_CLIENTS_MAX; i++)
		if (t->conn[i] != NULL && t->slot[i] >= 0)
			tcp_conn_event(t, i, snap, now);
	for (unsigned i = 0; i < t->nl; i++)
		if (t->pfd[i].revents & POLLIN)
			tcp_accept(t, t->lfd[i], now);
}

static void *tcp_main(void *arg)
{
	struct tcp *t = arg;

	rcu_register_thread();
	while (!worker_quit) {
		tcp_pass(t);
		WORKER_STAT_ADD(&t->st, loops, 1);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static int tcp_listen(const struct io_addr *a, int *out, char *err, size_t errlen)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", a->text, strerror(errno));
		return PHAROS_EIO;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, TCP_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: tcp: %s", a->text, strerror(errno));
		close(fd);
		return PHAROS_EIO;
	}
	*out = fd;
	return 0;
}

int tcp_open(const struct io_addr *addrs, unsigned n, struct tcp **out, char *err,
	     size_t errlen)
{
	struct tcp *t;

	if (n == 0 || n > IO_ADDR_MAX)
		return PHAROS_EINVAL;
	t = aligned_alloc(64, (sizeof(*t) + 63) & ~(size_t)63);
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	memset(t, 0, sizeof(*t));
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->up = relay_ring_new(relay_wake_fd);
	t->down = relay_ring_new(t->efd);
	if (t->efd < 0 || t->up == NULL || t->down == NULL) {
		snprintf(err, errlen, "tcp: relay: %s", t->efd < 0 ? strerror(errno) : "out of memory");
		tcp_close(t);
		return PHAROS_EIO;
	}
	for (unsigned i = 0; i < n; i++) {
		int rc = tcp_listen(&addrs[i], &t->lfd[i], err, errlen);

		if (rc < 0) {
			tcp_close(t);
			return rc;
		}
		t->nl++;
	}
	*out = t;
	return 0;
}

int tcp_start(struct tcp *t)
{
	int rc = pthread_create(&t->thread, NULL, tcp_main, t);

	if (rc != 0) {
		errno = rc;
		return PHAROS_EIO;
	}
	t->running = 1;
	return 0;
}

void tcp_join(struct tcp *t)
{
	if (t != NULL && t->running)
		pthread_join(t->thread, NULL);
	if (t != NULL)
		t->running = 0;
}

void tcp_close(struct tcp *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < TCP_CLIENTS_MAX; i++)
		if (t->conn[i] != NULL)
			tcp_conn_close(t, i);
	for (unsigned i = 0; i < t->nl; i++)
		close(t->lfd[i]);
	if (t->efd >= 0)
		close(t->efd);
	free(t->up);
	free(t->down);
	free(t);
}

void tcp_relay_rings(struct tcp *t, struct relay_ring **up, struct relay_ring **down)
{
	*up = t->up;
	*down = t->down;
}

const struct worker_stats *tcp_stats(const struct tcp *t)
{
	return &t->st;
}
