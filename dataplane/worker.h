/* UDP workers: one pinned thread per core running rx burst -> answer -> tx -> quiescent. */
#ifndef PHAROS_WORKER_H
#define PHAROS_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include "answer.h"
#include "io.h"
#include "relay.h"

#define WORKER_MAX	1024
#define WORKER_IDLE_MS	100	/* longest RCU-offline wait when no packet comes */

/*
 * Set to 1 by the SIGTERM/SIGINT handler (main.c). Every dataplane thread reads it once per
 * loop pass and stops; a thread may block at most ~WORKER_IDLE_MS before it looks again.
 */
extern volatile sig_atomic_t worker_quit;

/*
 * Counters of one thread (a UDP worker or the TCP thread). Written only by that thread with
 * relaxed stores, read by anyone with worker_stats_read(). Cache-line aligned so two
 * threads never share a line.
 */
struct worker_stats {
	_Alignas(64) uint64_t loops;	/* loop passes, advances even when idle */
	uint64_t rx;			/* queries received */
	uint64_t tx;			/* responses sent */
	uint64_t dropped;		/* queries not answered (malformed, no room, send failed) */
	uint64_t noerror, nxdomain, refused, formerr, servfail, notimp;
	uint64_t truncated;		/* TC=1 responses */
	uint64_t notify_relayed;	/* NOTIFYs handed to the relay (not answered here) */
	uint64_t notify_lost;		/* NOTIFYs for the relay it had no room for (or > 4 KiB) */
	uint64_t expired;		/* SERVFAIL because the zone is expired */
};

#define WORKER_STAT_ADD(st, f, n) IO_STAT_ADD((st)->f, (n))

/* Count one answered query by its RCODE and TC bit (owner thread only). */
static inline void worker_count(struct worker_stats *st, const struct answer_info *info)
{
	switch (info->rcode) {
	case 0: WORKER_STAT_ADD(st, noerror, 1); break;
	case 1: WORKER_STAT_ADD(st, formerr, 1); break;
	case 2: WORKER_STAT_ADD(st, servfail, 1); break;
	case 3: WORKER_STAT_ADD(st, nxdomain, 1); break;
	case 4: WORKER_STAT_ADD(st, notimp, 1); break;
	case 5: WORKER_STAT_ADD(st, refused, 1); break;
	default: break;		/* BADVERS and others: in tx only */
	}
	if (info->tc)
		WORKER_STAT_ADD(st, truncated, 1);
	if (info->expired)
		WORKER_STAT_ADD(st, expired, 1);
}

/* Snapshot of st's counters (relaxed loads: each is exact, together nearly so). */
void worker_stats_read(const struct worker_stats *st, struct worker_stats *out);

/* One UDP worker. Allocated 64-byte aligned; only its own thread touches it while it runs. */
struct worker {
	struct worker_stats st;
	struct io_pkt pkts[IO_BURST];	/* current batch */
	struct io_pkt drop[IO_BURST];	/* queries of the batch that get no answer */
	struct img_warm warm[IO_BURST];	/* cache warming of the batch's lookups */
	const struct io_ops *ops;
	struct io_queue *q;
	struct relay_ring *relay;	/* NOTIFYs to the management thread (we produce) */
	unsigned id;
	int cpu;			/* pinned CPU, -1 = not pinned */
	int running;
	pthread_t thread;
};

/*
 * Set up worker id on backend ops (opens its queue: sockets bound to every address, and
 * its NOTIFY relay ring).
 * cpu: CPU to pin to, or -1. On failure err says why. Returns 0 or a negative pharos_err.
 */
int worker_init(struct worker *w, unsigned id, int cpu, const struct io_ops *ops,
		const struct io_conf *conf, char *err, size_t errlen);

/* Start the worker's thread, pinned to w->cpu. Returns 0 or PHAROS_EIO (errno set). */
int worker_start(struct worker *w);

/* Wait for a started worker to stop (after worker_quit was set). */
void worker_join(struct worker *w);

/* Close the worker's queue, free its ring. The thread must have been joined (or never started). */
void worker_fini(struct worker *w);

#endif
