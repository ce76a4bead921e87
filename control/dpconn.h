/* IPC client of pharos-control to the dataplane's management socket (include/pharos/ipc.h). */
#ifndef PHAROS_DPCONN_H
#define PHAROS_DPCONN_H

#include <stddef.h>
#include <stdint.h>

#include "pharos/ipc.h"

#define DPCONN_TIMEOUT_MS	1000	/* longest wait for a reply but a LOAD's (STATUS, ...) */
#define DPCONN_LOAD_MS		2000	/* a LOAD's wait: this, plus 1 s per DPCONN_LOAD_BYTES of */
#define DPCONN_LOAD_BYTES	(32u << 20)	/* image (the dataplane verifies it all first) */
#define DPCONN_HELLO_MS		1000	/* a new connection's first STATUS must be answered in */
#define DPCONN_NOTIFY_QUEUE	256	/* NOTIFYs kept while a reply is awaited; more are dropped */

/* Called for each relayed NOTIFY (n is valid during the call only). */
typedef void (*dpconn_notify_fn)(void *ctx, const struct ipc_notify *n);

struct dpconn_nq;	/* NOTIFYs that arrived while a request waited (private) */

/*
 * One connection. fd < 0 = not connected. Requests are synchronous: one at a time.
 * IPC_NOTIFYs that arrive while a request waits for its reply are queued and handed to
 * the notify callback once that reply is in (never in the middle of a request).
 */
struct dpconn {
	int fd;
	uint32_t seq;
	int timeout_ms;			/* reply wait of every request but LOAD (which waits longer) */
	int hello;			/* connected, first STATUS not answered yet: not usable */
	uint32_t hello_seq;
	int64_t hello_deadline;		/* monotonic ms */
	int stalled;			/* the last request, hello or connect timed out: the
					   dataplane does not answer (cleared by a hello's reply) */
	dpconn_notify_fn notify_fn;	/* NULL: relayed NOTIFYs are dropped */
	void *notify_ctx;
	struct dpconn_nq *nq;		/* queued IPC_NOTIFYs, oldest first */
	int delivering;			/* inside the callback: do not deliver again */
};

/* What IPC_STATUS returned: arrays malloc'd by dpconn_status(), freed by dpconn_status_free(). */
struct dpconn_status {
	struct ipc_zone_info *zones;
	size_t zone_count;
	struct ipc_worker_info *workers;	/* the last one is the TCP thread */
	size_t worker_count;
	struct ipc_backend_info backend;	/* valid when have_backend */
	int have_backend;
};

/* Initialise an unconnected struct. */
void dpconn_init(struct dpconn *c);

/*
 * Connect to the socket at path. Returns 0, or PHAROS_ENOTFOUND while nobody listens
 * there yet (no file, or connection refused), PHAROS_ETIMEOUT when its backlog is full (a
 * dataplane that accepts nothing: frozen), or PHAROS_EIO. Never blocks. The connection is
 * usable at once (a client that may wait); see dpconn_hello() for one that must not.
 */
int dpconn_connect(struct dpconn *c, const char *path);

/*
 * Right after dpconn_connect: send a STATUS without waiting for it. Until its reply is in
 * (dpconn_hello_poll) the connection is not usable: dpconn_connected() says 0, so a
 * dataplane that accepts but answers nothing (frozen) never blocks the caller.
 * Returns 0 or PHAROS_EIO (closed).
 */
int dpconn_hello(struct dpconn *c);

/*
 * The fd polled readable, or time passed, during the hello: 1 when the reply is in (the
 * connection is usable now), 0 not yet, PHAROS_ETIMEOUT after DPCONN_HELLO_MS, PHAROS_EIO
 * or PHAROS_EPROTO; on error the connection is closed. Never blocks.
 */
int dpconn_hello_poll(struct dpconn *c);

/* 1 while dpconn_hello's reply is awaited (fd open, not usable yet). */
int dpconn_hello_pending(const struct dpconn *c);

/* Close the connection (no-op when not connected); queued NOTIFYs are dropped. */
void dpconn_close(struct dpconn *c);

/* 1 when connected and usable (not waiting for the hello's reply). */
int dpconn_connected(const struct dpconn *c);

/*
 * Ask the dataplane to serve the image at path (absolute) for origin. msg gets the
 * dataplane's text (why an image was refused). Returns the dataplane's result (0 or
 * a negative pharos_err), or PHAROS_EIO / PHAROS_ETIMEOUT / PHAROS_EPROTO when the
 * connection failed; then the connection is closed. The reply is awaited up to
 * DPCONN_LOAD_MS plus 1 s per DPCONN_LOAD_BYTES of the image (at least timeout_ms);
 * every other request waits timeout_ms.
 */
int dpconn_load(struct dpconn *c, const char *origin, const char *path, char *msg,
		size_t msglen);

/*
 * dpconn_load with IPC_LOAD_* flags: IPC_LOAD_EXPIRED publishes the zone expired in the
 * same snapshot as its image (no query sees it fresh in between).
 */
int dpconn_load_flags(struct dpconn *c, const char *origin, const char *path, uint32_t flags,
		      char *msg, size_t msglen);

/* Stop serving a zone. Results as dpconn_load(). */
int dpconn_unload(struct dpconn *c, const char *origin, char *msg, size_t msglen);

/* Zones and worker counters. *st is filled (free with dpconn_status_free). */
int dpconn_status(struct dpconn *c, struct dpconn_status *st);

/* Free the arrays of a status; the struct itself may be on the stack. */
void dpconn_status_free(struct dpconn_status *st);

/*
 * Called when the fd polls readable while no request is pending: reads the messages
 * waiting (at most 64 a call, so a NOTIFY flood cannot hold the caller; the fd then polls
 * readable again), hands each IPC_NOTIFY to the notify callback at once and drops anything
 * else (the dataplane sends nothing else unasked). Returns 0, or PHAROS_EIO (closing the
 * connection) on EOF or error.
 */
int dpconn_drain(struct dpconn *c);

/*
 * Set the function called for every relayed NOTIFY (from dpconn_drain, or after the reply
 * of a request during which it arrived). fn may call dpconn_notify_answer(); fn NULL
 * drops them. Survives dpconn_connect/close.
 */
void dpconn_set_notify(struct dpconn *c, dpconn_notify_fn fn, void *ctx);

/*
 * Make this connection the one the dataplane relays NOTIFYs to (the latest subscriber
 * wins; a reconnect must subscribe again). Results as dpconn_load().
 */
int dpconn_subscribe(struct dpconn *c, char *msg, size_t msglen);

/*
 * Send the response pkt[0..len) (12..IPC_NOTIFY_MAX bytes) for relayed NOTIFY id. The
 * dataplane sends it to the NOTIFY's source from the address it came to; there is no
 * reply (an unknown or too old id is ignored there). Returns 0, PHAROS_EINVAL (bad length)
 * or PHAROS_EIO (not connected, send failed: the connection is closed).
 */
int dpconn_notify_answer(struct dpconn *c, uint64_t id, const uint8_t *pkt, size_t len);

/*
 * Mark origin expired (expired = 1: the dataplane answers SERVFAIL for it, status flag
 * IPC_ZONE_EXPIRED) or serving again (0). Results as dpconn_load(); PHAROS_ENOTFOUND
 * when the zone is not loaded.
 */
int dpconn_expire(struct dpconn *c, const char *origin, int expired, char *msg,
		  size_t msglen);

#endif
