/* NOTIFY relay (RFC 1996, doc/ipc.md): UDP workers and the TCP thread -> management -> control. */
#ifndef PHAROS_RELAY_H
#define PHAROS_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "pharos/ipc.h"
#include "dns.h"
#include "io.h"

#define RELAY_RING_SLOTS	32	/* NOTIFYs one thread may have in flight to mgmt (2^n) */
#define RELAY_PENDING		256	/* relays awaiting control's answer; more evict the oldest */
#define RELAY_TIMEOUT_MS	3000	/* a relay unanswered this long is forgotten */
#define RELAY_TCP_GRACE_MS	500	/* a TCP connection waits this much longer than mgmt */

/*
 * 1 while a control connection is subscribed. Written by the management thread, read
 * (relaxed) by every worker and the TCP thread to choose: relay a NOTIFY or answer it.
 */
extern int relay_subscribed;

/* The eventfd upward rings wake the management thread with (relay_open), -1 before. */
extern int relay_wake_fd;

/* A NOTIFY's way back. */
struct relay_from {
	uint32_t transport;	/* IPC_TRANSPORT_UDP / _TCP */
	uint32_t thread;	/* UDP worker index; the TCP thread is the worker count */
	struct io_peer peer;	/* addresses; UDP: the socket it came in on */
	uint32_t conn;		/* TCP: connection slot */
	uint64_t token;		/* TCP: what the connection waits for (unique per NOTIFY) */
};

/* One NOTIFY going up (thread -> mgmt) or its answer going down (mgmt -> TCP thread). */
struct relay_msg {
	struct relay_from from;
	uint64_t id;		/* down: the relay id; unused going up */
	uint32_t len;
	uint8_t data[IPC_NOTIFY_MAX];
};

/*
 * Single-producer single-consumer ring: no lock, no allocation. The producer claims a
 * slot, fills it and commits (which writes wake_fd, an eventfd, when >= 0); the consumer
 * peeks at the oldest and pops it. head and tail sit on their own cache lines.
 */
struct relay_ring {
	_Alignas(64) uint32_t head;	/* next slot to read: written by the consumer only */
	_Alignas(64) uint32_t tail;	/* next slot to fill: written by the producer only */
	int wake_fd;
	struct relay_msg slot[RELAY_RING_SLOTS];
};

/* Empty ring waking wake_fd (-1: none). Returns NULL when out of memory. Free with free(). */
struct relay_ring *relay_ring_new(int wake_fd);

/* Producer: the slot to fill, or NULL when the ring is full. */
struct relay_msg *relay_ring_claim(struct relay_ring *r);

/* Producer: publish the claimed slot and wake the consumer. */
void relay_ring_commit(struct relay_ring *r);

/* Consumer: the oldest message, or NULL when empty. Valid until relay_ring_pop(). */
struct relay_msg *relay_ring_peek(struct relay_ring *r);

/* Consumer: free the slot relay_ring_peek() returned. */
void relay_ring_pop(struct relay_ring *r);

/* 1 when msg is a NOTIFY request (QR=0, opcode 4) and a subscriber wants it. */
static inline int relay_wants(const uint8_t *msg, size_t len)
{
	return __builtin_expect(len >= DNS_HDR_LEN &&
				(msg[2] & (DNS_F2_QR | 0x78)) == (DNS_OP_NOTIFY << 3), 0) &&
	       __atomic_load_n(&relay_subscribed, __ATOMIC_RELAXED);
}

/* Pending relays, by id: slot id % RELAY_PENDING, so the 257th evicts the oldest. */
struct relay_pend {
	uint64_t id;		/* 0 = free */
	uint64_t deadline;	/* ms, monotonic */
	struct relay_from from;
};

struct relay_table {
	uint64_t next_id;
	struct relay_pend v[RELAY_PENDING];
};

/* Empty table; ids start at 1. */
void relay_table_init(struct relay_table *t);

/*
 * Remember from, due at now + RELAY_TIMEOUT_MS, under a new id (*id). Returns 1 when a
 * still pending relay was evicted to make room (*evicted says whose), else 0.
 */
int relay_table_add(struct relay_table *t, const struct relay_from *from, uint64_t now,
		    uint64_t *id, struct relay_from *evicted);

/*
 * Take relay id out of the table. Returns 0 (*out = where to answer), PHAROS_ETIMEOUT
 * (it was due: removed, *out says whose), or PHAROS_ENOTFOUND (unknown, answered, evicted).
 */
int relay_table_take(struct relay_table *t, uint64_t id, uint64_t now, struct relay_from *out);

/* Remove one relay that is due at now; returns 1 (*out says whose) or 0 when none is. */
int relay_table_expire(struct relay_table *t, uint64_t now, struct relay_from *out);

struct worker;

/* The management thread's side of the relay. */
struct relay {
	struct relay_table table;
	int efd;			/* eventfd every upward ring wakes mgmt with */
	int sub;			/* subscribed mgmt peer index, -1 = none */
	const struct worker *workers;	/* UDP answers go out on worker sockets */
	unsigned nworkers;
	struct relay_ring *tcp_up;	/* TCP thread -> mgmt, may be NULL */
	struct relay_ring *tcp_down;	/* mgmt -> TCP thread: answers */
	uint64_t *answered, *dropped;	/* per thread (workers, then TCP), mgmt only */
};

/* Sends one IPC_NOTIFY to mgmt peer ci; returns 0 or a negative pharos_err. */
typedef int (*relay_send_fn)(void *ctx, unsigned ci, struct ipc_notify *n);

/*
 * Create the eventfd (relay_wake_fd: create the threads' rings after this); nobody
 * subscribed. Returns 0 or PHAROS_EIO.
 */
int relay_open(struct relay *r);

/*
 * Before the management thread runs: the workers (their rings and sockets) and the TCP
 * thread's rings (NULL: no TCP). Returns 0 or PHAROS_ENOMEM.
 */
int relay_attach(struct relay *r, const struct worker *workers, unsigned nworkers,
		 struct relay_ring *tcp_up, struct relay_ring *tcp_down);

/* Make mgmt peer ci the subscriber; returns 1 when it took over from another peer. */
int relay_subscribe(struct relay *r, unsigned ci);

/* Peer ci is gone: when it was the subscriber, nobody is any more. */
void relay_peer_gone(struct relay *r, unsigned ci);

/*
 * The eventfd fired (or not: harmless): take every queued NOTIFY, give each an id and send
 * it to the subscriber with send; dropped (and counted) when there is none any more.
 */
void relay_pump(struct relay *r, uint64_t now, relay_send_fn send, void *ctx);

/* Send control's answer a (already size-checked) back where its NOTIFY came from. */
void relay_answer(struct relay *r, const struct ipc_notify_answer *a, uint64_t now);

/* Forget relays that are due (counted as dropped). Call every mgmt loop pass. */
void relay_tick(struct relay *r, uint64_t now);

/* Close the eventfd and free the counters. */
void relay_close(struct relay *r);

/* Monotonic milliseconds. */
uint64_t relay_now_ms(void);

#endif
