/* Messages between pharos-control and pharos-dataplane (doc/ipc.md). */
#ifndef PHAROS_IPC_H
#define PHAROS_IPC_H

#include <stdint.h>

/*
 * Transport: a UNIX SOCK_SEQPACKET socket owned by the dataplane's management thread.
 * One datagram = one message = struct ipc_hdr followed by the kind's fixed body.
 * The receiver checks len == sizeof(the kind's struct) and refuses anything else.
 * Requests are answered in order; a request gets exactly one IPC_REPLY, preceded by any
 * number of IPC_ZONE_INFO / IPC_WORKER_INFO / IPC_BACKEND_INFO for IPC_STATUS.
 * Bulk data (zone images) never travels here: IPC_LOAD names a file.
 */
#define IPC_VERSION	1u
#define IPC_NAME_MAX	256	/* zone origin in text form, NUL-terminated */
#define IPC_PATH_MAX	1024	/* image path, NUL-terminated */
#define IPC_MSG_MAX	512	/* reply text, NUL-terminated */

enum ipc_kind {
	IPC_LOAD = 1,		/* control -> dp: serve this image for this zone (replaces) */
	IPC_UNLOAD = 2,		/* control -> dp: stop serving this zone */
	IPC_STATUS = 3,		/* control -> dp: report zones and worker counters */
	IPC_REPLY = 4,		/* dp -> control: result of the request */
	IPC_ZONE_INFO = 5,	/* dp -> control: one served zone (status) */
	IPC_WORKER_INFO = 6,	/* dp -> control: one worker's counters (status) */
	IPC_BACKEND_INFO = 7,	/* dp -> control: the I/O backend's own counters (status) */
};

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
	uint32_t reserved;
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
};

/*
 * Counters of the fast-path backend as a whole, at most one per IPC_STATUS, after the
 * workers. Sent by the afxdp backend: the steering program's per-CPU counters, summed.
 */
struct ipc_backend_info {
	struct ipc_hdr h;
	char backend[16];		/* "afxdp", NUL-terminated */
	uint64_t xdp_redirected;	/* DNS queries sent to an AF_XDP socket */
	uint64_t xdp_passed;		/* packets handed to the kernel, malformed included */
	uint64_t xdp_malformed;		/* truncated or inconsistent headers */
	uint64_t xdp_unbound;		/* DNS queries passed: no socket on their RX queue */
};

#endif
