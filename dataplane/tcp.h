/* DNS over TCP (RFC 7766 basics): one poll() thread, kernel listeners, pipelined queries. */
#ifndef PHAROS_TCP_H
#define PHAROS_TCP_H

#include "io.h"
#include "worker.h"

#define TCP_CLIENTS_MAX	256	/* open connections; more are accepted and closed at once */
#define TCP_IDLE_MS	10000	/* a connection without progress for this long is closed */

struct tcp;	/* private to tcp.c */

/*
 * Bind and listen on every address (SO_REUSEADDR, non-blocking). Called at start-up;
 * err says why on failure. Returns 0 and a new struct tcp, or a negative pharos_err.
 */
int tcp_open(const struct io_addr *addrs, unsigned n, struct tcp **out, char *err,
	     size_t errlen);

/* Start the TCP thread. Returns 0 or PHAROS_EIO (errno set). */
int tcp_start(struct tcp *t);

/* Wait for the thread to stop (after worker_quit was set). */
void tcp_join(struct tcp *t);

/* Close listeners and connections, free t. The thread must be joined. NULL is fine. */
void tcp_close(struct tcp *t);

/* The NOTIFY relay rings: up (to mgmt) and down (answers); valid until tcp_close. */
struct relay_ring;
void tcp_relay_rings(struct tcp *t, struct relay_ring **up, struct relay_ring **down);

/* The thread's counters (valid until tcp_close). */
const struct worker_stats *tcp_stats(const struct tcp *t);

#endif
