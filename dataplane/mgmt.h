/* Management thread: the IPC socket to pharos-control, and the only writer of the snapshot. */
#ifndef PHAROS_MGMT_H
#define PHAROS_MGMT_H

#include <pthread.h>
#include <sys/un.h>
#include "relay.h"
#include "pharos/ipc.h"
#include "snapshot.h"
#include "worker.h"

/*
 * The snapshot being served. Readers (registered QSBR threads) load it with
 * rcu_dereference() and drop it before their next rcu_quiescent_state() or
 * rcu_thread_offline(). Only the management thread stores it (rcu_assign_pointer, then
 * synchronize_rcu, then snap_release of the old one). NULL = nothing loaded (REFUSED).
 */
extern struct snapshot *mgmt_snap;

#define MGMT_CLIENTS_MAX	4	/* pharos-control, plus room for a restart or a probe */

struct mgmt {
	int lfd;				/* listening SOCK_SEQPACKET socket */
	int cfd[MGMT_CLIENTS_MAX];		/* connected peers, -1 = free */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct worker *workers;		/* for IPC_STATUS */
	unsigned nworkers;
	const struct worker_stats *tcp;		/* TCP thread counters, may be NULL */
	struct relay_ring *tcp_up, *tcp_down;	/* TCP thread's NOTIFY relay rings, may be NULL */
	struct relay relay;			/* NOTIFY relay state (dataplane/relay.h) */
	struct mgmt_watch *watch;		/* per worker: is its I/O dead? (mgmt.c) */
	uint64_t watched_ms;			/* last look at them (relay_now_ms) */
	/* the backend's own counters for IPC_STATUS (0 = filled); NULL = it has none */
	int (*backend_info)(struct ipc_backend_info *out);
	int running;
	pthread_t thread;
};

/*
 * Create the listening socket at path (mode 0600). A stale socket left by a dead dataplane
 * is removed; a live one (connect succeeds) or a non-socket file is an error. Called at
 * start-up; err says why on failure. Returns 0 or a negative pharos_err.
 */
int mgmt_open(struct mgmt *m, const char *path, char *err, size_t errlen);

/*
 * Make next the served snapshot; returns once no reader can still see the old one, which it
 * then releases. Only from the management thread, or at start-up before it runs.
 */
void mgmt_publish(struct snapshot *next);

/*
 * Serve a verified image (ownership taken, closed on failure) for its zone, adding it or
 * replacing the zone of the same origin, and publish. Same threads as mgmt_publish().
 * Returns 0 or a negative pharos_err.
 */
int mgmt_serve(struct img *img, const char *path);

/*
 * Serve a verified delta image (ownership taken, closed on failure) over the base its
 * zone is served from now, replacing any previous delta: only when img_delta_check()
 * accepts it (err says why not: no such zone, another base...). Same threads as
 * mgmt_publish(). Returns 0 or a negative pharos_err.
 */
int mgmt_serve_delta(struct img *delta, const char *path, char *err, size_t errlen);

/* Serial a served zone answers with: its delta's, else its image's. */
static inline uint32_t mgmt_zone_serial(const struct snap_zone *z)
{
	return (z->delta ? z->delta : z->img)->hdr->serial;
}

/*
 * Set the flags (SNAP_ZONE_*) of the served zone with this origin (lowercased wire) by
 * publishing a new snapshot. Same threads as mgmt_publish(). Returns 0 (also when the flags
 * were already so), PHAROS_ENOTFOUND (not served) or PHAROS_ENOMEM.
 */
int mgmt_set_flags(const uint8_t *origin, size_t len, uint32_t flags);

/*
 * Start the management thread (m->workers, nworkers, tcp, tcp_up and tcp_down set by the
 * caller). Returns 0 or a negative pharos_err.
 */
int mgmt_start(struct mgmt *m);

/* Wait for the management thread to stop (after worker_quit was set). */
void mgmt_join(struct mgmt *m);

/*
 * Close the sockets, unlink the socket path and release the served snapshot. Call only
 * when every reader thread has stopped.
 */
void mgmt_close(struct mgmt *m);

#endif
