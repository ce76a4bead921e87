/* Control side of the dataplane IPC: connect, send one request, collect its reply. */
#include "dpconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pharos/err.h"

#define DPCONN_INFO_MAX	65536	/* more zone or worker records than this is a protocol error */
#define DPCONN_DRAIN_MAX	64	/* messages per dpconn_drain call: a NOTIFY flood cannot hold it */

/* Any message the dataplane may send; recv() lands here. */
union dpconn_msg {
	struct ipc_hdr h;
	struct ipc_reply reply;
	struct ipc_zone_info zone;
	struct ipc_worker_info worker;
	struct ipc_notify notify;
	struct ipc_backend_info backend;
	uint8_t raw[sizeof(struct ipc_notify) + 64];
};

/* IPC_NOTIFYs received while a request waited: a ring of malloc'd copies. */
struct dpconn_nq {
	struct ipc_notify *v[DPCONN_NOTIFY_QUEUE];
	unsigned head, n;
};

void dpconn_init(struct dpconn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = DPCONN_TIMEOUT_MS;
}

void dpconn_set_notify(struct dpconn *c, dpconn_notify_fn fn, void *ctx)
{
	c->notify_fn = fn;
	c->notify_ctx = ctx;
}

/* Keep a NOTIFY for later; dropped when nobody listens, or the queue is full. */
static void dpconn_nq_push(struct dpconn *c, const struct ipc_notify *n)
{
	struct ipc_notify *copy;

	if (c->notify_fn == NULL)
		return;
	if (c->nq == NULL && (c->nq = calloc(1, sizeof(*c->nq))) == NULL)
		return;
	if (c->nq->n >= DPCONN_NOTIFY_QUEUE || (copy = malloc(sizeof(*copy))) == NULL)
		return;		/* the primary retries a NOTIFY that got no answer */
	memcpy(copy, n, sizeof(*copy));
	c->nq->v[(c->nq->head + c->nq->n++) % DPCONN_NOTIFY_QUEUE] = copy;
}

static void dpconn_nq_clear(struct dpconn *c)
{
	if (c->nq == NULL)
		return;
	while (c->nq->n > 0) {
		free(c->nq->v[c->nq->head]);
		c->nq->head = (c->nq->head + 1) % DPCONN_NOTIFY_QUEUE;
		c->nq->n--;
	}
	free(c->nq);
	c->nq = NULL;
}

/* Hand the queued NOTIFYs to the callback, oldest first (not re-entered from it). */
static void dpconn_nq_deliver(struct dpconn *c)
{
	if (c->delivering)
		return;
	c->delivering = 1;
	while (c->nq != NULL && c->nq->n > 0) {
		struct ipc_notify *n = c->nq->v[c->nq->head];

		c->nq->head = (c->nq->head + 1) % DPCONN_NOTIFY_QUEUE;
		c->nq->n--;
		if (c->notify_fn != NULL)
			c->notify_fn(c->notify_ctx, n);
		free(n);
	}
	c->delivering = 0;
}

int dpconn_connect(struct dpconn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return PHAROS_EINVAL;
	strcpy(sa.sun_path, path);
	dpconn_close(c);
	/* non-blocking: a frozen dataplane's full backlog must not hold us in connect() */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return PHAROS_EIO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		c->stalled = e == EAGAIN || e == EWOULDBLOCK;	/* else: gone, not stalled */
		if (c->stalled)
			return PHAROS_ETIMEOUT;
		return (e == ENOENT || e == ECONNREFUSED) ? PHAROS_ENOTFOUND : PHAROS_EIO;
	}
	c->fd = fd;
	c->hello = 0;
	return 0;
}

void dpconn_close(struct dpconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->hello = 0;
	dpconn_nq_clear(c);	/* their ids mean nothing to a later connection */
}

int dpconn_connected(const struct dpconn *c)
{
	return c->fd >= 0 && !c->hello;
}

int dpconn_hello_pending(const struct dpconn *c)
{
	return c->fd >= 0 && c->hello;
}

static int64_t dpconn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fill the header and send one message. The connection is closed on failure. */
static int dpconn_send(struct dpconn *c, struct ipc_hdr *h, uint32_t kind, size_t len)
{
	int64_t deadline = dpconn_now_ms() + c->timeout_ms;
	ssize_t n;

	if (c->fd < 0 || c->hello)
		return PHAROS_EIO;	/* hello pending: one request at a time */
	h->kind = kind;
	h->len = (uint32_t)len;
	h->seq = ++c->seq;
	h->version = IPC_VERSION;

	for (;;) {	/* the socket is non-blocking: a full buffer waits, bounded */
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int64_t left;

		n = send(c->fd, h, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		left = deadline - dpconn_now_ms();
		if (errno != EINTR && (left <= 0 || poll(&pfd, 1, (int)left) == 0)) {
			c->stalled = 1;
			break;
		}
	}
	if (n != (ssize_t)len) {
		dpconn_close(c);
		return PHAROS_EIO;
	}
	return 0;
}

/* Size the kind must have; 0 for kinds the dataplane never sends. */
static size_t dpconn_kind_size(uint32_t kind)
{
	switch (kind) {
	case IPC_REPLY:
		return sizeof(struct ipc_reply);
	case IPC_ZONE_INFO:
		return sizeof(struct ipc_zone_info);
	case IPC_WORKER_INFO:
		return sizeof(struct ipc_worker_info);
	case IPC_NOTIFY:
		return sizeof(struct ipc_notify);
	case IPC_BACKEND_INFO:
		return sizeof(struct ipc_backend_info);
	default:
		return 0;
	}
}

/* Receive one checked message before the deadline. Closes the connection on failure. */
static int dpconn_recv(struct dpconn *c, union dpconn_msg *m, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int64_t left = deadline - dpconn_now_ms();
	ssize_t n;
	int rc;

	do
		rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0) {
		dpconn_close(c);
		c->stalled = rc == 0;
		return rc == 0 ? PHAROS_ETIMEOUT : PHAROS_EIO;
	}
	do
		n = recv(c->fd, m, sizeof(*m), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return dpconn_recv(c, m, deadline);	/* woken for nothing: poll again */
	if (n <= 0) {
		dpconn_close(c);
		c->stalled = 0;		/* it closed: gone, not frozen */
		return PHAROS_EIO;
	}
	if ((size_t)n < sizeof(m->h) || (size_t)n > sizeof(*m) || m->h.len != (size_t)n ||
	    m->h.version != IPC_VERSION || dpconn_kind_size(m->h.kind) != (size_t)n) {
		dpconn_close(c);
		return PHAROS_EPROTO;
	}
	return 0;
}

/* Append one record to a growable array of fixed-size records. */
static int dpconn_push(void **arr, size_t *count, const void *rec, size_t size)
{
	void *p;

	if (*count >= DPCONN_INFO_MAX)
		return PHAROS_EPROTO;
	if ((*count & (*count - 1)) == 0) {	/* 0, 1, 2, 4...: grow to double */
		p = realloc(*arr, (*count ? *count * 2 : 1) * size);
		if (p == NULL)
			return PHAROS_ENOMEM;
		*arr = p;
	}
	memcpy((uint8_t *)*arr + *count * size, rec, size);
	(*count)++;
	return 0;
}

/* Keep a status record; other messages before the reply are a protocol error. */
static int dpconn_keep(struct dpconn_status *st, const union dpconn_msg *m)
{
	if (st == NULL)
		return PHAROS_EPROTO;
	if (m->h.kind == IPC_ZONE_INFO)
		return dpconn_push((void **)&st->zones, &st->zone_count, &m->zone,
				   sizeof(m->zone));
	if (m->h.kind == IPC_BACKEND_INFO) {
		st->backend = m->backend;
		st->backend.backend[sizeof(st->backend.backend) - 1] = '\0';
		st->have_backend = 1;
		return 0;
	}
	return dpconn_push((void **)&st->workers, &st->worker_count, &m->worker,
			   sizeof(m->worker));
}

/* Read until the IPC_REPLY of the request just sent; status records go to st. */
static int dpconn_wait_ms(struct dpconn *c, struct dpconn_status *st, char *msg, size_t msglen,
			  int timeout_ms)
{
	int64_t deadline = dpconn_now_ms() + timeout_ms;
	union dpconn_msg m;
	int rc;

	for (;;) {
		rc = dpconn_recv(c, &m, deadline);
		if (rc < 0)
			return rc;
		if (m.h.kind == IPC_REPLY)
			break;
		if (m.h.kind == IPC_NOTIFY) {	/* unasked: handed over once the reply is in */
			dpconn_nq_push(c, &m.notify);
			continue;
		}
		rc = dpconn_keep(st, &m);
		if (rc < 0) {
			dpconn_close(c);
			return rc;
		}
	}
	if (m.h.seq != c->seq) {
		dpconn_close(c);
		return PHAROS_EPROTO;
	}
	m.reply.msg[IPC_MSG_MAX - 1] = '\0';
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s", m.reply.msg);
	dpconn_nq_deliver(c);
	return m.reply.result > 0 ? PHAROS_EPROTO : m.reply.result;
}

static int dpconn_wait(struct dpconn *c, struct dpconn_status *st, char *msg, size_t msglen)
{
	return dpconn_wait_ms(c, st, msg, msglen, c->timeout_ms);
}

/* How long a LOAD of path may take: the dataplane maps and verifies the whole image. */
static int dpconn_load_ms(const struct dpconn *c, const char *path)
{
	struct stat sb;
	int64_t ms = DPCONN_LOAD_MS;

	if (stat(path, &sb) == 0 && sb.st_size > 0)
		ms += (int64_t)sb.st_size / DPCONN_LOAD_BYTES * 1000;
	if (ms < c->timeout_ms)
		ms = c->timeout_ms;
	return ms > 600000 ? 600000 : (int)ms;
}

static int dpconn_copy(char *dst, size_t cap, const char *src)
{
	if (strlen(src) >= cap)
		return PHAROS_EINVAL;
	strcpy(dst, src);
	return 0;
}

int dpconn_load(struct dpconn *c, const char *origin, const char *path, char *msg,
		size_t msglen)
{
	return dpconn_load_flags(c, origin, path, 0, msg, msglen);
}

int dpconn_load_flags(struct dpconn *c, const char *origin, const char *path, uint32_t flags,
		      char *msg, size_t msglen)
{
	struct ipc_load m;
	int rc;

	memset(&m, 0, sizeof(m));
	if (dpconn_copy(m.origin, sizeof(m.origin), origin) < 0 ||
	    dpconn_copy(m.path, sizeof(m.path), path) < 0)
		return PHAROS_EINVAL;
	m.flags = flags;
	rc = dpconn_send(c, &m.h, IPC_LOAD, sizeof(m));
	return rc < 0 ? rc : dpconn_wait_ms(c, NULL, msg, msglen, dpconn_load_ms(c, path));
}

int dpconn_unload(struct dpconn *c, const char *origin, char *msg, size_t msglen)
{
	struct ipc_unload m;
	int rc;

	memset(&m, 0, sizeof(m));
	if (dpconn_copy(m.origin, sizeof(m.origin), origin) < 0)
		return PHAROS_EINVAL;
	rc = dpconn_send(c, &m.h, IPC_UNLOAD, sizeof(m));
	return rc < 0 ? rc : dpconn_wait(c, NULL, msg, msglen);
}

int dpconn_status(struct dpconn *c, struct dpconn_status *st)
{
	struct ipc_status m;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&m, 0, sizeof(m));
	rc = dpconn_send(c, &m.h, IPC_STATUS, sizeof(m));
	if (rc == 0)
		rc = dpconn_wait(c, st, NULL, 0);
	if (rc < 0) {
		dpconn_status_free(st);
		return rc;
	}
	for (size_t i = 0; i < st->zone_count; i++) {
		st->zones[i].origin[IPC_NAME_MAX - 1] = '\0';
		st->zones[i].path[IPC_PATH_MAX - 1] = '\0';
	}
	return 0;
}

int dpconn_hello(struct dpconn *c)
{
	struct ipc_status m;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = dpconn_send(c, &m.h, IPC_STATUS, sizeof(m));
	if (rc < 0)
		return rc;
	c->hello = 1;
	c->hello_seq = c->seq;
	c->hello_deadline = dpconn_now_ms() + DPCONN_HELLO_MS;
	return 0;
}

int dpconn_hello_poll(struct dpconn *c)
{
	union dpconn_msg *m;
	ssize_t n;
	int rc = 0;

	if (c->fd < 0)
		return PHAROS_EIO;
	if (!c->hello)
		return 1;
	m = malloc(sizeof(*m));
	if (m == NULL)
		return 0;
	for (;;) {
		n = recv(c->fd, m, sizeof(*m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			rc = PHAROS_EIO;
			c->stalled = 0;
			break;
		}
		if ((size_t)n < sizeof(m->h) || (size_t)n > sizeof(*m) || m->h.len != (size_t)n ||
		    m->h.version != IPC_VERSION || dpconn_kind_size(m->h.kind) != (size_t)n) {
			rc = PHAROS_EPROTO;
			break;
		}
		if (m->h.kind == IPC_REPLY && m->h.seq == c->hello_seq) {
			c->hello = 0;	/* its records came before it, and were dropped */
			c->stalled = 0;
			rc = 1;
			break;
		}
	}
	free(m);
	if (rc == 0 && dpconn_now_ms() >= c->hello_deadline)
		rc = PHAROS_ETIMEOUT;
	if (rc < 0)
		dpconn_close(c);
	if (rc == PHAROS_ETIMEOUT)
		c->stalled = 1;
	return rc;
}

void dpconn_status_free(struct dpconn_status *st)
{
	free(st->zones);
	free(st->workers);
	memset(st, 0, sizeof(*st));
}

/* A well-formed IPC_NOTIFY of n bytes (anything else unasked is dropped). */
static int dpconn_is_notify(const union dpconn_msg *m, ssize_t n)
{
	return n == (ssize_t)sizeof(m->notify) && m->h.kind == IPC_NOTIFY &&
	       m->h.len == (uint32_t)n && m->h.version == IPC_VERSION &&
	       m->notify.len <= IPC_NOTIFY_MAX;
}

int dpconn_drain(struct dpconn *c)
{
	union dpconn_msg *m = malloc(sizeof(*m));	/* 4 KiB+: not on a small stack */
	ssize_t n;

	if (m == NULL)
		return 0;	/* try again at the next poll */
	for (int k = 0; k < DPCONN_DRAIN_MAX; k++) {
		if (c->fd < 0) {	/* the callback's answer failed: closed */
			free(m);
			return PHAROS_EIO;
		}
		n = recv(c->fd, m, sizeof(*m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : 0;

			free(m);
			if (e == EAGAIN || e == EWOULDBLOCK)
				return 0;
			dpconn_close(c);
			c->stalled = 0;
			return PHAROS_EIO;
		}
		if (dpconn_is_notify(m, n)) {
			dpconn_nq_push(c, &m->notify);
			dpconn_nq_deliver(c);	/* after any queued earlier: in order */
		}
	}
	free(m);
	return 0;	/* more may wait: the fd polls readable again */
}

int dpconn_subscribe(struct dpconn *c, char *msg, size_t msglen)
{
	struct ipc_subscribe m;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = dpconn_send(c, &m.h, IPC_SUBSCRIBE, sizeof(m));
	return rc < 0 ? rc : dpconn_wait(c, NULL, msg, msglen);
}

int dpconn_notify_answer(struct dpconn *c, uint64_t id, const uint8_t *pkt, size_t len)
{
	struct ipc_notify_answer *m;
	int rc;

	if (len < 12 || len > IPC_NOTIFY_MAX)
		return PHAROS_EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return PHAROS_ENOMEM;
	m->id = id;
	m->len = (uint32_t)len;
	memcpy(m->msg, pkt, len);
	rc = dpconn_send(c, &m->h, IPC_NOTIFY_ANSWER, sizeof(*m));
	free(m);
	return rc;
}

int dpconn_expire(struct dpconn *c, const char *origin, int expired, char *msg,
		  size_t msglen)
{
	struct ipc_expire m;
	int rc;

	memset(&m, 0, sizeof(m));
	if (dpconn_copy(m.origin, sizeof(m.origin), origin) < 0)
		return PHAROS_EINVAL;
	m.expired = expired ? 1 : 0;
	rc = dpconn_send(c, &m.h, IPC_EXPIRE, sizeof(m));
	return rc < 0 ? rc : dpconn_wait(c, NULL, msg, msglen);
}
