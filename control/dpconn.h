/* IPC client of pharos-control to the dataplane's management socket (include/pharos/ipc.h). */
#ifndef PHAROS_DPCONN_H
#define PHAROS_DPCONN_H

#include <stddef.h>
#include <stdint.h>

#include "pharos/ipc.h"

#define DPCONN_TIMEOUT_MS	30000	/* longest wait for one reply (a big image verifies) */

/* One connection. fd < 0 = not connected. Requests are synchronous: one at a time. */
struct dpconn {
	int fd;
	uint32_t seq;
	int timeout_ms;
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
 * there yet (no file, or connection refused), or PHAROS_EIO.
 */
int dpconn_connect(struct dpconn *c, const char *path);

/* Close the connection (no-op when not connected). */
void dpconn_close(struct dpconn *c);

/* 1 when connected. */
int dpconn_connected(const struct dpconn *c);

/*
 * Ask the dataplane to serve the image at path (absolute) for origin. msg gets the
 * dataplane's text (why an image was refused). Returns the dataplane's result (0 or
 * a negative pharos_err), or PHAROS_EIO / PHAROS_ETIMEOUT / PHAROS_EPROTO when the
 * connection failed; then the connection is closed.
 */
int dpconn_load(struct dpconn *c, const char *origin, const char *path, char *msg,
		size_t msglen);

/* Stop serving a zone. Results as dpconn_load(). */
int dpconn_unload(struct dpconn *c, const char *origin, char *msg, size_t msglen);

/* Zones and worker counters. *st is filled (free with dpconn_status_free). */
int dpconn_status(struct dpconn *c, struct dpconn_status *st);

/* Free the arrays of a status; the struct itself may be on the stack. */
void dpconn_status_free(struct dpconn_status *st);

/*
 * Called when the fd polls readable while no request is pending: the dataplane sends
 * nothing unasked, so this reads and drops what came, and returns PHAROS_EIO (closing
 * the connection) on EOF or error.
 */
int dpconn_drain(struct dpconn *c);

#endif
