/* Kernel UDP socket backend: per worker one SO_REUSEPORT socket per address, recvmmsg/sendmmsg. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pharos/err.h"
#include "io.h"

#define IO_CTL_SIZE	64	/* room for one IP_PKTINFO or IPV6_PKTINFO cmsg */
#define IO_RCVBUF	(4 << 20)	/* asked for, capped by net.core.rmem_max */

/*
 * One worker's queue. Batch slot i always uses rx[i], peer[i], ctl[i] and buf[i]: the
 * batch is handed back before the next rx_burst, so slots never outlive it. The packet
 * buffers come last and are not cleared at init, so their pages are first touched by the
 * (pinned) worker and land on its NUMA node.
 */
struct io_queue {
	struct io_stats st;
	unsigned nfd;
	unsigned next;				/* socket the next rx_burst starts with */
	int fd[IO_ADDR_MAX];
	uint8_t pktinfo[IO_ADDR_MAX];		/* wildcard bind: answer from the query's dst */
	struct sockaddr_storage local[IO_ADDR_MAX];	/* what each socket is bound to */
	struct pollfd pfd[IO_ADDR_MAX];
	struct mmsghdr rx[IO_BURST];
	struct mmsghdr tx[IO_BURST];
	struct iovec rxiov[IO_BURST];
	struct iovec txiov[IO_BURST];
	struct sockaddr_storage peer[IO_BURST];
	union {
		struct cmsghdr align;
		uint8_t b[IO_CTL_SIZE];
	} ctl[IO_BURST];
	_Alignas(64) uint8_t buf[IO_BURST][IO_BUF_SIZE];
};

static int sock_setopt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

/* One UDP socket bound to a, in the SO_REUSEPORT group every worker joins. */
static int sock_open(const struct io_addr *a, int *out, char *err, size_t errlen)
{
	int v6 = a->ss.ss_family == AF_INET6;
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", a->text, strerror(errno));
		return PHAROS_EIO;
	}
	if (sock_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0 ||
	    (v6 && sock_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0) ||
	    (a->wildcard && !v6 && sock_setopt(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0) ||
	    (a->wildcard && v6 && sock_setopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0)) {
		snprintf(err, errlen, "%s: setsockopt: %s", a->text, strerror(errno));
		goto fail;
	}
	(void)sock_setopt(fd, SOL_SOCKET, SO_RCVBUF, IO_RCVBUF);	/* best effort */
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, errlen, "%s: bind udp: %s", a->text, strerror(errno));
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	close(fd);
	return PHAROS_EIO;
}

static void sock_fini(struct io_queue *q)
{
	if (q == NULL)
		return;
	for (unsigned i = 0; i < q->nfd; i++)
		close(q->fd[i]);
	free(q);
}

static void sock_init_slots(struct io_queue *q)
{
	for (unsigned i = 0; i < IO_BURST; i++) {
		struct msghdr *h = &q->rx[i].msg_hdr;

		q->rxiov[i].iov_base = q->buf[i];
		q->rxiov[i].iov_len = IO_BUF_SIZE;
		h->msg_name = &q->peer[i];
		h->msg_iov = &q->rxiov[i];
		h->msg_iovlen = 1;
		h->msg_control = q->ctl[i].b;
	}
}

static int sock_init(const struct io_conf *conf, unsigned worker, struct io_queue **out,
		     char *err, size_t errlen)
{
	size_t size = (sizeof(struct io_queue) + 63) & ~(size_t)63;
	struct io_queue *q = aligned_alloc(64, size);

	(void)worker;
	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	memset(q, 0, offsetof(struct io_queue, buf));
	if (conf->naddrs == 0 || conf->naddrs > IO_ADDR_MAX) {
		snprintf(err, errlen, "need 1 to %d listen addresses", IO_ADDR_MAX);
		free(q);
		return PHAROS_EINVAL;
	}
	for (unsigned i = 0; i < conf->naddrs; i++) {
		int rc = sock_open(&conf->addrs[i], &q->fd[i], err, errlen);

		if (rc < 0) {
			sock_fini(q);
			return rc;
		}
		q->nfd++;
		q->pktinfo[i] = (uint8_t)conf->addrs[i].wildcard;
		socklen_t llen = sizeof(q->local[i]);
		if (getsockname(q->fd[i], (struct sockaddr *)&q->local[i], &llen) < 0)
			memcpy(&q->local[i], &conf->addrs[i].ss, conf->addrs[i].len);
		q->pfd[i].fd = q->fd[i];
		q->pfd[i].events = POLLIN;
	}
	sock_init_slots(q);
	*out = q;
	return 0;
}

/* One recvmmsg on socket s into slots [first, max). Returns packets read. */
static unsigned sock_rx_one(struct io_queue *q, unsigned s, struct io_pkt *pkts,
			    unsigned first, unsigned max)
{
	socklen_t ctl = q->pktinfo[s] ? IO_CTL_SIZE : 0;

	for (unsigned i = first; i < max; i++) {
		q->rx[i].msg_hdr.msg_namelen = sizeof(q->peer[i]);
		q->rx[i].msg_hdr.msg_controllen = ctl;
		q->rx[i].msg_hdr.msg_flags = 0;
	}
	int r = recvmmsg(q->fd[s], &q->rx[first], max - first, MSG_DONTWAIT, NULL);

	IO_STAT_ADD(q->st.rx_calls, 1);
	if (r <= 0) {
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			IO_STAT_ADD(q->st.rx_errors, 1);
			__atomic_store_n(&q->st.rx_errno, errno, __ATOMIC_RELAXED);
		}
		return 0;
	}
	IO_STAT_ADD(q->st.rx_ok, 1);
	for (unsigned i = first; i < first + (unsigned)r; i++) {
		const struct msghdr *h = &q->rx[i].msg_hdr;
		int bad = h->msg_flags & (MSG_TRUNC | MSG_CTRUNC);

		pkts[i].data = q->buf[i];
		pkts[i].cap = IO_BUF_SIZE;
		pkts[i].len = bad ? 0 : (uint16_t)q->rx[i].msg_len;	/* 0: dropped */
		pkts[i].port = (uint16_t)s;
		pkts[i].slot = (uint16_t)i;
	}
	return (unsigned)r;
}

static unsigned sock_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned max)
{
	unsigned n = 0;

	if (max > IO_BURST)
		max = IO_BURST;
	for (unsigned k = 0; k < q->nfd && n < max; k++)
		n += sock_rx_one(q, (q->next + k) % q->nfd, pkts, n, max);
	q->next = (q->next + 1) % q->nfd;	/* no address starves the others */
	return n;
}

/* Reply from the address the query went to (wildcard sockets only). */
static void sock_tx_ctl(struct io_queue *q, struct msghdr *h, unsigned slot)
{
	struct cmsghdr *c;

	h->msg_control = q->ctl[slot].b;
	h->msg_controllen = q->rx[slot].msg_hdr.msg_controllen;
	for (c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);

			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;	/* let routing pick the way back */
		}
	}
}

static void sock_tx_prep(struct io_queue *q, unsigned k, const struct io_pkt *p)
{
	struct msghdr *h = &q->tx[k].msg_hdr;

	q->txiov[k].iov_base = p->data;
	q->txiov[k].iov_len = p->len;
	h->msg_name = &q->peer[p->slot];
	h->msg_namelen = q->rx[p->slot].msg_hdr.msg_namelen;
	h->msg_iov = &q->txiov[k];
	h->msg_iovlen = 1;
	h->msg_flags = 0;
	if (q->pktinfo[p->port]) {
		sock_tx_ctl(q, h, p->slot);
	} else {
		h->msg_control = NULL;
		h->msg_controllen = 0;
	}
}

/* sendmmsg tx[0..n) on fd; a packet the kernel refuses is skipped, a full buffer drops the rest. */
static unsigned sock_tx_send(struct io_queue *q, int fd, unsigned n)
{
	unsigned done = 0, sent = 0;

	while (done < n) {
		int r = sendmmsg(fd, q->tx + done, n - done, MSG_DONTWAIT);

		IO_STAT_ADD(q->st.tx_calls, 1);
		if (r > 0) {
			done += (unsigned)r;
			sent += (unsigned)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			break;
		} else {
			done++;		/* e.g. EPERM or EHOSTUNREACH for this peer only */
		}
	}
	IO_STAT_ADD(q->st.tx_errors, n - sent);
	return sent;
}

static unsigned sock_tx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	unsigned i = 0, sent = 0;

	while (i < n) {
		unsigned port = pkts[i].port, k = 0;

		/* rx_burst returns runs of one socket: one sendmmsg per run */
		for (; i < n && pkts[i].port == port; i++, k++)
			sock_tx_prep(q, k, &pkts[i]);
		sent += sock_tx_send(q, q->fd[port], k);
	}
	return sent;
}

static void sock_release(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	(void)q;	/* buffers are per slot: nothing to give back */
	(void)pkts;
	(void)n;
}

/* The query's destination from its IP_PKTINFO / IPV6_PKTINFO (wildcard sockets). */
static void sock_peer_dst(const struct io_queue *q, unsigned slot, struct io_peer *out)
{
	const struct msghdr *h = &q->rx[slot].msg_hdr;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    out->dst.ss_family == AF_INET) {
			const struct in_pktinfo *pi = (const void *)CMSG_DATA(c);

			((struct sockaddr_in *)&out->dst)->sin_addr = pi->ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   out->dst.ss_family == AF_INET6) {
			const struct in6_pktinfo *pi = (const void *)CMSG_DATA(c);

			((struct sockaddr_in6 *)&out->dst)->sin6_addr = pi->ipi6_addr;
			out->ifindex = (uint32_t)pi->ipi6_ifindex;
		}
	}
}

static int sock_peer(struct io_queue *q, const struct io_pkt *p, struct io_peer *out)
{
	if (p->port >= q->nfd || p->slot >= IO_BURST)
		return PHAROS_EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(&out->src, &q->peer[p->slot], sizeof(out->src));
	out->dst = q->local[p->port];	/* its port, and the address unless wildcard */
	out->port = p->port;
	if (q->pktinfo[p->port])
		sock_peer_dst(q, p->slot, out);
	return 0;
}

/* Thread-safe: one sendmsg on the worker's socket, nothing of the queue is written. */
static int sock_send_to_peer(struct io_queue *q, const struct io_peer *peer, const uint8_t *buf,
			     size_t len)
{
	union {
		struct cmsghdr align;
		uint8_t b[IO_CTL_SIZE];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr h = { .msg_name = (void *)&peer->src, .msg_iov = &iov, .msg_iovlen = 1 };
	int v6 = peer->src.ss_family == AF_INET6;

	if (peer->port >= q->nfd || q->local[peer->port].ss_family != peer->src.ss_family)
		return PHAROS_EINVAL;
	h.msg_namelen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (q->pktinfo[peer->port]) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		h.msg_control = ctl.b;
		h.msg_controllen = v6 ? CMSG_SPACE(sizeof(struct in6_pktinfo)) :
					CMSG_SPACE(sizeof(struct in_pktinfo));
		c = CMSG_FIRSTHDR(&h);
		if (v6) {
			struct in6_pktinfo pi = {
				.ipi6_addr = ((const struct sockaddr_in6 *)&peer->dst)->sin6_addr,
				.ipi6_ifindex = peer->ifindex,
			};

			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else {
			struct in_pktinfo pi = {
				.ipi_spec_dst = ((const struct sockaddr_in *)&peer->dst)->sin_addr,
			};

			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
	}
	return sendmsg(q->fd[peer->port], &h, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ?
	       0 : PHAROS_EIO;
}

static void sock_wait(struct io_queue *q, int timeout_ms)
{
	(void)poll(q->pfd, q->nfd, timeout_ms);	/* EINTR: the loop looks at quit */
}

static void sock_stats(const struct io_queue *q, struct io_stats *out)
{
	io_stats_read(&q->st, out);
}

const struct io_ops io_socket_ops = {
	.name = "socket",
	.init = sock_init,
	.rx_burst = sock_rx_burst,
	.tx_burst = sock_tx_burst,
	.release = sock_release,
	.wait = sock_wait,
	.peer = sock_peer,
	.send_to_peer = sock_send_to_peer,
	.stats = sock_stats,
	.fini = sock_fini,
};
