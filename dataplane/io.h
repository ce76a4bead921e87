/* Packet I/O backends: one ops table (socket, AF_XDP, DPDK) under one worker loop. */
#ifndef PHAROS_IO_H
#define PHAROS_IO_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

#define IO_BURST	32	/* packets per rx/tx batch */
#define IO_BUF_SIZE	4096	/* bytes per packet buffer: largest query read, largest UDP answer */
#define IO_ADDR_MAX	16	/* --listen addresses */
#define IO_ADDR_TXT	64	/* "[ffff:...%ifname]:65535" */

/* One listen address (--listen), parsed once at start. */
struct io_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int wildcard;			/* 0.0.0.0 or ::: replies need the query's destination */
	char text[IO_ADDR_TXT];		/* as the operator wrote it, for messages */
};

/*
 * One DNS message in a batch. data points into a buffer the backend owns; it is valid from
 * rx_burst() until the same packet is passed to tx_burst() or release(), and never after
 * (batch-scoped: no pointer to it may be kept past the loop pass). The worker may rewrite
 * data[0..cap) in place and set len to the answer's length.
 */
struct io_pkt {
	uint8_t *data;		/* DNS message (the backend strips and later restores L2-L4) */
	uint16_t len;		/* message bytes; 0 = unusable (oversize, bad headers): drop */
	uint16_t cap;		/* writable bytes at data */
	uint16_t port;		/* backend's index of the socket/queue it came from */
	uint16_t slot;		/* backend's buffer index (frame, mbuf, iovec) */
};

/*
 * Where a received packet came from and went to: enough to answer it later, from another
 * thread (a relayed NOTIFY, dataplane/relay.h). Filled by io_ops.peer.
 */
struct io_peer {
	struct sockaddr_storage src;	/* the sender's address and port */
	struct sockaddr_storage dst;	/* our address and port it was sent to */
	uint32_t ifindex;		/* interface it came in on (IPv6 pktinfo), 0 = any */
	uint16_t port;			/* backend's socket index (io_pkt.port) */
};

/* Backend counters of one queue, written by its worker only, read (relaxed) by anyone. */
struct io_stats {
	uint64_t rx_calls;	/* receive syscalls / ring polls */
	uint64_t tx_calls;
	uint64_t rx_errors;	/* failed receive calls (not EAGAIN/EINTR) */
	uint64_t tx_errors;	/* packets the kernel/NIC did not take */
	uint64_t rx_ok;		/* receive calls that returned packets */
	int32_t rx_errno;	/* errno of the last failed receive call */
};

/*
 * A queue is dead (IPC_WORKER_IO_FATAL, doc/dataplane.md "Fatal I/O errors") when its
 * receive calls kept failing, with no packet received, for this long; the management
 * thread judges it from rx_errors / rx_ok (the worker only counts).
 */
#define IO_FATAL_MS	500

/* What every queue of a backend is opened with. */
struct io_conf {
	const struct io_addr *addrs;	/* socket backend: --listen addresses */
	unsigned naddrs;
	const char *iface;		/* afxdp: --iface; NULL otherwise */
	const char *eal_args;		/* dpdk: --eal text as given; NULL otherwise */
	const struct io_addr *services;	/* afxdp/dpdk: --service addresses (port 53) */
	unsigned nservices;
	unsigned nqueues;		/* workers = queues of the backend */
	int busy_poll;			/* --busy-poll: spin instead of sleeping in wait */
};

struct io_queue;	/* backend-private, one per worker, used by that worker only */

/*
 * A backend. Each worker owns one queue; every op except init and stats is called only by
 * that worker, so no op takes a lock. rx_burst/tx_burst/release/wait make no allocation.
 * Every packet of a batch goes back (tx_burst or release) before the next rx_burst.
 */
struct io_ops {
	const char *name;

	/*
	 * Once per process, before any init (NULL = nothing to do): attach programs, start
	 * the EAL, open the port with nqueues queues. err says why on failure.
	 * Returns 0 or a negative pharos_err.
	 */
	int (*setup)(const struct io_conf *conf, unsigned nqueues, char *err, size_t errlen);

	/* Once per process, after every queue's fini (NULL = nothing): undo setup. */
	void (*teardown)(void);

	/*
	 * Open queue `worker` (sockets, rings, buffers). Called at start-up from the main
	 * thread, before any worker runs; failures are reported with their reason in
	 * err. Returns 0 or a negative pharos_err.
	 */
	int (*init)(const struct io_conf *conf, unsigned worker, struct io_queue **out,
		    char *err, size_t errlen);

	/*
	 * Receive up to max (<= IO_BURST) packets without blocking. Fills pkts[0..n).
	 * The packets belong to the caller until tx_burst() or release(). Returns n.
	 */
	unsigned (*rx_burst)(struct io_queue *q, struct io_pkt *pkts, unsigned max);

	/*
	 * Send pkts[0..n) (answers written in place; len = answer length) back to where
	 * each came from. Takes every packet back, sent or not. Returns how many were sent.
	 */
	unsigned (*tx_burst)(struct io_queue *q, struct io_pkt *pkts, unsigned n);

	/* Give back pkts[0..n) without sending them (dropped queries). */
	void (*release)(struct io_queue *q, struct io_pkt *pkts, unsigned n);

	/*
	 * Block up to timeout_ms until rx_burst() may return something. The worker is
	 * RCU-offline around this call. NULL for busy-polling backends (DPDK).
	 */
	void (*wait)(struct io_queue *q, int timeout_ms);

	/*
	 * Where packet p (of the current batch, not yet handed back) came from and went
	 * to. Worker only. Returns 0 or a negative pharos_err. NULL: the backend cannot
	 * answer later, and NOTIFY is answered in place as when nobody subscribed.
	 */
	int (*peer)(struct io_queue *q, const struct io_pkt *p, struct io_peer *out);

	/*
	 * Send buf[0..len) to peer->src from peer->dst, on the socket the packet came in
	 * on. Unlike every other op this is called by the management thread while the
	 * worker runs, so it must be thread-safe and non-blocking (sendmsg on a kernel UDP
	 * socket is). Returns 0 or PHAROS_EIO. NULL when peer is NULL.
	 */
	int (*send_to_peer)(struct io_queue *q, const struct io_peer *peer, const uint8_t *buf,
			    size_t len);

	/* Copy the queue's counters (safe from any thread). */
	void (*stats)(const struct io_queue *q, struct io_stats *out);

	/*
	 * Called by the management thread about every 100 ms, never by the worker: 1 when
	 * what the queue depends on is gone (the XDP program detached, the port's link down),
	 * with why in why[0..cap); 0 when fine. May make system calls. NULL = nothing to check.
	 */
	int (*check)(const struct io_queue *q, char *why, size_t cap);

	/* Close the queue; its worker has stopped. NULL is fine. */
	void (*fini)(struct io_queue *q);
};

/* The kernel UDP socket backend (io_socket.c). */
extern const struct io_ops io_socket_ops;

#ifdef PHAROS_HAVE_AFXDP
/* AF_XDP sockets fed by the xdp/ steering program (io_afxdp.c). */
extern const struct io_ops io_afxdp_ops;
#endif
#ifdef PHAROS_HAVE_DPDK
/* DPDK ethdev queues with a net_tap exception port (io_dpdk.c). */
extern const struct io_ops io_dpdk_ops;
#endif

/*
 * Parse "ADDR:PORT", "[V6ADDR]:PORT", or a bare ADDR / [V6ADDR] (port 53).
 * Numeric addresses only; an IPv6 address may carry %scope. Returns 0 or PHAROS_EINVAL.
 */
int io_addr_parse(const char *txt, struct io_addr *out);

/* Relaxed counter helpers: one writer (the owner), any number of readers. */
#define IO_STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define IO_STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Copy a queue's counters with relaxed loads (the stats op of every backend). */
static inline void io_stats_read(const struct io_stats *st, struct io_stats *out)
{
	out->rx_calls = IO_STAT_GET(st->rx_calls);
	out->tx_calls = IO_STAT_GET(st->tx_calls);
	out->rx_errors = IO_STAT_GET(st->rx_errors);
	out->tx_errors = IO_STAT_GET(st->tx_errors);
	out->rx_ok = IO_STAT_GET(st->rx_ok);
	out->rx_errno = IO_STAT_GET(st->rx_errno);
}

/* Branch hints for the hot path. */
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#endif
