/* Messages between pharos-control and pharos-dataplane (doc/ipc.md). */
#ifndef PHAROS_IPC_H
#define PHAROS_IPC_H

#include <assert.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Transport: a UNIX SOCK_SEQPACKET socket owned by the dataplane's management thread.
 * One datagram = one message = struct ipc_hdr followed by the kind's fixed body.
 * The receiver checks len == sizeof(the kind's struct) and refuses anything else.
 * Requests are answered in order; a request gets exactly one IPC_REPLY, preceded by any
 * number of IPC_ZONE_INFO / IPC_WORKER_INFO / IPC_BACKEND_INFO for IPC_STATUS. The one
 * exception is IPC_NOTIFY_ANSWER: it answers the dataplane's IPC_NOTIFY and gets no
 * IPC_REPLY. IPC_NOTIFY is the only message the dataplane sends unasked (to the
 * subscriber only).
 * Bulk data (zone images) never travels here: IPC_LOAD names a file.
 */
#define IPC_VERSION	4u
#define IPC_NAME_MAX	256	/* zone origin in text form, NUL-terminated */
#define IPC_PATH_MAX	1024	/* image path, NUL-terminated */
#define IPC_MSG_MAX	512	/* reply text, NUL-terminated */
#define IPC_NOTIFY_MAX	4096	/* largest relayed NOTIFY or NOTIFY response (DNS message) */

enum ipc_kind {
	IPC_LOAD = 1,		/* control -> dp: serve this image for this zone (replaces) */
	IPC_UNLOAD = 2,		/* control -> dp: stop serving this zone */
	IPC_STATUS = 3,		/* control -> dp: report zones and worker counters */
	IPC_REPLY = 4,		/* dp -> control: result of the request */
	IPC_ZONE_INFO = 5,	/* dp -> control: one served zone (status) */
	IPC_WORKER_INFO = 6,	/* dp -> control: one worker's counters (status) */
	IPC_SUBSCRIBE = 7,	/* control -> dp: relay NOTIFYs to this connection from now on */
	IPC_NOTIFY = 8,		/* dp -> control, unasked: a NOTIFY received from the network */
	IPC_NOTIFY_ANSWER = 9,	/* control -> dp: response to one IPC_NOTIFY (no IPC_REPLY) */
	IPC_EXPIRE = 10,	/* control -> dp: mark a zone expired (SERVFAIL) or not */
	IPC_BACKEND_INFO = 11,	/* dp -> control: the I/O backend's own counters (status) */
};

/* Transport a relayed NOTIFY came over (struct ipc_notify.transport). */
enum ipc_transport {
	IPC_TRANSPORT_UDP = 0,
	IPC_TRANSPORT_TCP = 1,
};

/* struct ipc_zone_info.flags */
#define IPC_ZONE_EXPIRED	0x1u	/* answers SERVFAIL (IPC_EXPIRE or a .expired marker) */
#define IPC_ZONE_DELTA		0x2u	/* served as base + delta: serial is the delta's, path the
					   base's, names/rrsets/image_size the base's */

/* struct ipc_load.flags */
#define IPC_LOAD_EXPIRED	0x1u	/* publish the zone expired (SERVFAIL) in the same snapshot */

/* struct ipc_worker_info.flags */
#define IPC_WORKER_IO_FATAL	0x1u	/* its queue cannot carry traffic any more: io_error says why */
#define IPC_WORKER_ERR_MAX	128	/* io_error, NUL-terminated */

struct ipc_hdr {
	uint32_t kind;		/* enum ipc_kind */
	uint32_t len;		/* total message length, header included */
	uint32_t seq;		/* echoed in the reply */
	uint32_t version;	/* IPC_VERSION */
};

struct ipc_load {
	struct ipc_hdr h;
	char origin[IPC_NAME_MAX];
	char path[IPC_PATH_MAX];
	uint32_t flags;		/* IPC_LOAD_* */
	uint32_t reserved;	/* 0 */
};

struct ipc_unload {
	struct ipc_hdr h;
	char origin[IPC_NAME_MAX];
};

struct ipc_status {
	struct ipc_hdr h;
};

struct ipc_reply {
	struct ipc_hdr h;
	int32_t result;		/* 0 or a negative pharos_err */
	uint32_t reserved;
	char msg[IPC_MSG_MAX];	/* human-readable detail, e.g. why an image was refused */
};

struct ipc_zone_info {
	struct ipc_hdr h;
	char origin[IPC_NAME_MAX];
	char path[IPC_PATH_MAX];
	uint32_t serial;
	uint32_t names;
	uint32_t rrsets;
	uint32_t flags;		/* IPC_ZONE_* */
	uint64_t image_size;
	uint64_t loaded_at;	/* unix time */
};

/* Counters of one worker; the TCP thread reports as worker index == worker count. */
struct ipc_worker_info {
	struct ipc_hdr h;
	uint32_t worker;
	int32_t cpu;		/* pinned CPU, -1 if not pinned */
	uint64_t loops;		/* loop passes: advances while the worker is alive */
	uint64_t rx, tx, dropped;
	uint64_t noerror, nxdomain, refused, formerr, servfail, notimp, truncated;
	uint64_t notify_relayed;	/* NOTIFYs handed to the relay (subscriber present) */
	uint64_t notify_answered;	/* relay responses sent back through this thread */
	uint64_t notify_dropped;	/* relayed NOTIFYs that got no response (full, big, late) */
	uint64_t expired;		/* SERVFAIL answers because the zone is expired */
	uint32_t flags;			/* IPC_WORKER_* */
	int32_t io_errno;		/* errno of the failing calls when it is one, else 0 */
	char io_error[IPC_WORKER_ERR_MAX];	/* with IPC_WORKER_IO_FATAL: why, else "" */
};

/* No body: this connection receives every relayed NOTIFY from now on (latest one wins). */
struct ipc_subscribe {
	struct ipc_hdr h;
};

/*
 * One NOTIFY (opcode 4, QR=0) received from the network, sent to the subscriber with
 * seq 0. Answer it with IPC_NOTIFY_ANSWER and the same id, or not at all.
 */
struct ipc_notify {
	struct ipc_hdr h;
	uint64_t id;				/* relay id, echoed in IPC_NOTIFY_ANSWER */
	uint32_t transport;			/* enum ipc_transport */
	uint32_t len;				/* bytes used in msg */
	struct sockaddr_storage src;		/* sender (address and port) */
	struct sockaddr_storage dst;		/* our address and port it was sent to */
	uint8_t msg[IPC_NOTIFY_MAX];		/* the DNS message as received */
};

/*
 * The response to send for relayed NOTIFY id: from dst to src of the IPC_NOTIFY, over the
 * same transport (TCP: on the same connection, in order). No IPC_REPLY: an unknown or
 * timed-out id is ignored (and counted as dropped).
 */
struct ipc_notify_answer {
	struct ipc_hdr h;
	uint64_t id;
	uint32_t len;				/* bytes used in msg, 12..IPC_NOTIFY_MAX */
	uint32_t reserved;
	uint8_t msg[IPC_NOTIFY_MAX];
};

/* Mark origin expired (every query for it: SERVFAIL) or serving again; IPC_REPLY. */
struct ipc_expire {
	struct ipc_hdr h;
	char origin[IPC_NAME_MAX];
	uint32_t expired;			/* 1 = expired, 0 = serve */
	uint32_t reserved;
};

/*
 * Counters of the fast-path backend as a whole, at most one per IPC_STATUS, after the
 * workers. backend says which group is filled; the other group is 0.
 * "afxdp": the steering program's per-CPU counters, summed (xdp_*).
 * "dpdk": the NIC port's counters (rte_eth_stats_get) and the exception path through the
 * net_tap port, summed over the queues (dpdk_*).
 */
struct ipc_backend_info {
	struct ipc_hdr h;
	char backend[16];		/* "afxdp" or "dpdk", NUL-terminated */
	uint64_t xdp_redirected;	/* DNS queries sent to an AF_XDP socket */
	uint64_t xdp_passed;		/* packets handed to the kernel, malformed included */
	uint64_t xdp_malformed;		/* truncated or inconsistent headers */
	uint64_t xdp_unbound;		/* DNS queries passed: no socket on their RX queue */
	uint64_t dpdk_rx;		/* NIC port: frames received (ipackets), every kind */
	uint64_t dpdk_tx;		/* NIC port: frames sent (opackets): answers + from kernel */
	uint64_t dpdk_missed;		/* NIC port: dropped for want of room (imissed) */
	uint64_t dpdk_rx_errors;	/* NIC port: bad frames received (ierrors) */
	uint64_t dpdk_tx_errors;	/* NIC port: frames it failed to send (oerrors) */
	uint64_t dpdk_no_mbuf;		/* NIC port: RX mbuf allocation failures (rx_nombuf) */
	uint64_t dpdk_to_kernel;	/* frames handed to the net_tap port (not DNS queries) */
	uint64_t dpdk_from_kernel;	/* frames the kernel sent out of the tap, sent by the NIC */
	uint64_t dpdk_kernel_dropped;	/* exception frames dropped: tap or NIC TX full, no tap */
};

/* The sizes doc/ipc.md lists: a change here is a change of the protocol (IPC_VERSION). */
static_assert(sizeof(struct ipc_hdr) == 16, "ipc_hdr layout");
static_assert(sizeof(struct ipc_load) == 1304, "ipc_load layout");
static_assert(sizeof(struct ipc_unload) == 272, "ipc_unload layout");
static_assert(sizeof(struct ipc_status) == 16, "ipc_status layout");
static_assert(sizeof(struct ipc_reply) == 536, "ipc_reply layout");
static_assert(sizeof(struct ipc_zone_info) == 1328, "ipc_zone_info layout");
static_assert(sizeof(struct ipc_worker_info) == 280, "ipc_worker_info layout");
static_assert(sizeof(struct ipc_subscribe) == 16, "ipc_subscribe layout");
static_assert(sizeof(struct ipc_notify) == 4384, "ipc_notify layout");
static_assert(sizeof(struct ipc_notify_answer) == 4128, "ipc_notify_answer layout");
static_assert(sizeof(struct ipc_expire) == 280, "ipc_expire layout");
static_assert(sizeof(struct ipc_backend_info) == 136, "ipc_backend_info layout");

#endif
