/* The operator socket: UNIX stream listeners (admin and read-only), one request per line. */
#ifndef PHAROS_OPSOCK_H
#define PHAROS_OPSOCK_H

#include <poll.h>
#include <stddef.h>

#include "ctl.h"

#define OPSOCK_CLIENTS_MAX	32	/* more concurrent operators are told "busy" */
#define OPSOCK_LINE_MAX		4096	/* longest request line */
#define OPSOCK_NFDS_MAX		(2 + OPSOCK_CLIENTS_MAX)

struct opsock;

/*
 * Listen on admin_path (mode 0660) and, when ro_path is not NULL, on a read-only socket
 * (mode 0666). A stale socket file is replaced; one that a live daemon answers on is not.
 * Returns 0 and *out, or PHAROS_EIO / PHAROS_EEXIST with a message in err.
 */
int opsock_open(const char *admin_path, const char *ro_path, struct opsock **out, char *err,
		size_t errlen);

/* Close every socket and remove the socket files. NULL is fine. */
void opsock_close(struct opsock *o);

/* Fill fds[0..n) with what to poll; returns n (<= OPSOCK_NFDS_MAX). */
int opsock_pollfds(const struct opsock *o, struct pollfd *fds);

/*
 * Handle the poll results for the fds that opsock_pollfds() gave: accept, read requests,
 * run them (opcmd_run) against c, write replies.
 */
void opsock_handle(struct opsock *o, const struct pollfd *fds, int n, struct ctl *c);

#endif
