/* Management thread: the IPC from pharos-control, the NOTIFY relay, snapshot publication. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <urcu-qsbr.h>
#include "pharos/err.h"
#include "pharos/ipc.h"
#include "dname.h"
#include "img.h"
#include "log.h"
#include "mgmt.h"

#define MGMT_POLL_MS	100	/* how often an idle mgmt thread looks at worker_quit */
#define MGMT_SEND_TMO_S	5	/* a peer that does not read for this long is dropped */

struct snapshot *mgmt_snap;

/*
 * What the management thread knows of one worker's I/O (doc/dataplane.md "Fatal I/O
 * errors"): the worker only counts (io_stats: rx_errors, rx_ok), this thread judges.
 */
struct mgmt_watch {
	uint64_t errors, ok;		/* counters at the last look */
	uint64_t bad_since;		/* ms: receive errors and no packet since then, 0 = fine */
	int fatal;
	int32_t err;			/* errno behind a fatal error streak, 0 for a check */
	char why[IPC_WORKER_ERR_MAX];
};

/* Any request, plus room to see that a datagram is longer than every request. */
union mgmt_msg {
	struct ipc_hdr h;
	struct ipc_load load;
	struct ipc_unload unload;
	struct ipc_status status;
	struct ipc_expire expire;
	struct ipc_notify_answer answer;
	uint8_t raw[2 * sizeof(struct ipc_notify_answer)];
};

/* Reply text; long names and paths are cut, which is fine for a human-readable line. */
static void __attribute__((format(printf, 3, 4))) mgmt_textf(char *text, size_t cap,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, cap, fmt, ap);
	va_end(ap);
}

/* Close peer ci. Serving goes on: the dataplane never depends on its peer being there. */
static void mgmt_drop(struct mgmt *m, unsigned ci, const char *why)
{
	if (m->cfd[ci] < 0)
		return;
	close(m->cfd[ci]);
	m->cfd[ci] = -1;
	relay_peer_gone(&m->relay, ci);
	log_msg("control connection closed (%s); still serving %u zones", why,
		mgmt_snap ? mgmt_snap->count : 0);
}

/* Fill the header and send one message to peer ci; a failed send drops the peer. */
static int mgmt_send(struct mgmt *m, unsigned ci, void *msg, uint32_t kind, size_t len,
		     uint32_t seq)
{
	struct ipc_hdr *h = msg;

	h->kind = kind;
	h->len = (uint32_t)len;
	h->seq = seq;
	h->version = IPC_VERSION;
	if (m->cfd[ci] < 0)
		return PHAROS_EIO;
	if (send(m->cfd[ci], msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		mgmt_drop(m, ci, strerror(errno));
		return PHAROS_EIO;
	}
	return 0;
}

static void mgmt_reply(struct mgmt *m, unsigned ci, uint32_t seq, int result, const char *text)
{
	struct ipc_reply r;

	memset(&r, 0, sizeof(r));
	r.result = result;
	snprintf(r.msg, sizeof(r.msg), "%s", text);
	(void)mgmt_send(m, ci, &r, IPC_REPLY, sizeof(r), seq);
}

void mgmt_publish(struct snapshot *next)
{
	struct snapshot *old = mgmt_snap;

	rcu_assign_pointer(mgmt_snap, next);
	synchronize_rcu();	/* every worker passed a quiescent state or is offline */
	snap_release(old);
}

/*
 * Publish a snapshot that is the served one with z added or replacing the zone of its
 * origin. z is taken: freed when the snapshot cannot be made. Returns 0 or a pharos_err.
 */
static int mgmt_publish_zone(struct snap_zone *z)
{
	struct snapshot *next;
	int rc = snap_with(mgmt_snap, z, &next);

	if (rc < 0) {
		snap_zone_free(z);
		return rc;
	}
	mgmt_publish(next);
	return 0;
}

/* mgmt_serve, with extra SNAP_ZONE_* flags set on the zone in the same snapshot. */
static int mgmt_serve_flags(struct img *img, const char *path, uint32_t set)
{
	const struct snap_zone *old;
	struct snap_zone *z;

	if (img_is_delta(img)) {
		img_close(img);
		return PHAROS_EZONE;	/* a delta serves only over a base: mgmt_serve_delta */
	}
	z = snap_zone_new(img, path);
	if (z == NULL)
		return PHAROS_ENOMEM;	/* snap_zone_new closed img */
	old = snap_find(mgmt_snap, z->origin, z->origin_len);
	if (old != NULL && old->origin_len == z->origin_len)
		z->flags = old->flags;	/* expired belongs to the zone, not to an image */
	z->flags |= set;
	return mgmt_publish_zone(z);
}

int mgmt_serve(struct img *img, const char *path)
{
	return mgmt_serve_flags(img, path, 0);
}

/* The zone whose origin is exactly this name, or NULL. */
static const struct snap_zone *mgmt_zone(const uint8_t *origin, size_t len)
{
	const struct snap_zone *z = snap_find(mgmt_snap, origin, len);

	return z && z->origin_len == len ? z : NULL;
}

/* mgmt_serve_delta, with extra SNAP_ZONE_* flags set in the same snapshot. */
static int mgmt_serve_delta_flags(struct img *delta, const char *path, uint32_t set, char *err,
				  size_t errlen)
{
	const struct snap_zone *cur = mgmt_zone(delta->origin, delta->origin_len);
	struct snap_zone *z;
	int rc;

	if (cur == NULL) {
		snprintf(err, errlen, "a delta image, but no base image of the zone is served");
		img_close(delta);
		return PHAROS_EZONE;
	}
	if ((rc = img_delta_check(cur->img, delta, err, errlen)) < 0) {
		img_close(delta);
		return rc;
	}
	z = snap_zone_delta(cur, delta, path);
	if (z == NULL) {
		snprintf(err, errlen, "%s", pharos_strerror(PHAROS_ENOMEM));
		return PHAROS_ENOMEM;	/* snap_zone_delta closed delta */
	}
	z->flags |= set;
	if ((rc = mgmt_publish_zone(z)) < 0)
		snprintf(err, errlen, "%s", pharos_strerror(rc));
	return rc;
}

int mgmt_serve_delta(struct img *delta, const char *path, char *err, size_t errlen)
{
	return mgmt_serve_delta_flags(delta, path, 0, err, errlen);
}

/* LOAD of a delta image: over the zone's current base, replacing any previous delta. */
static int mgmt_load_delta(struct img *delta, const char *path, uint32_t set, const char *name,
			   char *text, size_t cap)
{
	const struct snap_zone *old = mgmt_zone(delta->origin, delta->origin_len);
	uint32_t old_serial = old ? mgmt_zone_serial(old) : 0, serial = delta->hdr->serial;
	uint32_t names = delta->name_count, base = delta->hdr->base_serial;
	char err[IPC_MSG_MAX] = "";
	int rc = mgmt_serve_delta_flags(delta, path, set, err, sizeof(err));

	if (rc < 0) {
		mgmt_textf(text, cap, "%s: %s: %s", name, path, err);
		return rc;
	}
	mgmt_textf(text, cap, "loaded %s serial %u (delta of %u names over base serial %u), "
		   "replaced serial %u%s", name, serial, names, base, old_serial,
		   set ? ", expired" : "");
	return 0;
}

int mgmt_set_flags(const uint8_t *origin, size_t len, uint32_t flags)
{
	const struct snap_zone *z = mgmt_zone(origin, len);
	struct snap_zone *v;

	if (z == NULL)
		return PHAROS_ENOTFOUND;
	if (z->flags == flags)
		return 0;
	v = snap_zone_flagged(z, flags);
	if (v == NULL)
		return PHAROS_ENOMEM;
	return mgmt_publish_zone(v);
}

static int mgmt_origin(const char *txt, uint8_t *wire, size_t *len, char *text, size_t cap)
{
	if (txt[0] == '\0' || dname_from_text(txt, NULL, 0, wire, len) < 0) {
		mgmt_textf(text, cap, "bad zone name '%.*s'", 300, txt);
		return PHAROS_EINVAL;
	}
	return 0;
}

/* Open and verify the image first; only a good one replaces what is served. */
static int mgmt_load(const struct ipc_load *req, char *text, size_t cap)
{
	uint8_t origin[DNAME_MAX];
	char err[IPC_MSG_MAX] = "", name[DNAME_TXT_MAX];
	const struct snap_zone *old;
	struct img *img;
	uint32_t set;
	size_t olen;
	int rc;

	if ((rc = mgmt_origin(req->origin, origin, &olen, text, cap)) < 0)
		return rc;
	dname_to_text(origin, name, sizeof(name));
	if ((req->flags & ~IPC_LOAD_EXPIRED) != 0 || req->reserved != 0) {
		mgmt_textf(text, cap, "%s: unknown load flags 0x%x (reserved %u)", name,
			   req->flags, req->reserved);
		return PHAROS_EINVAL;
	}
	set = (req->flags & IPC_LOAD_EXPIRED) ? SNAP_ZONE_EXPIRED : 0;
	rc = img_open_file(req->path, &img, err, sizeof(err));
	if (rc < 0) {
		if (err[0] == '\0')
			mgmt_textf(err, sizeof(err), "%s", pharos_strerror(rc));
		if (strstr(err, req->path) != NULL)	/* img_open_file named it already */
			mgmt_textf(text, cap, "%s: %s", name, err);
		else
			mgmt_textf(text, cap, "%s: %s: %s", name, req->path, err);
		return rc;
	}
	if (img->origin_len != olen || memcmp(img->origin, origin, olen) != 0) {
		char iname[DNAME_TXT_MAX];

		dname_to_text(img->origin, iname, sizeof(iname));
		mgmt_textf(text, cap, "%s: image is for zone %s", name, iname);
		img_close(img);
		return PHAROS_EZONE;
	}
	if (img_is_delta(img))
		return mgmt_load_delta(img, req->path, set, name, text, cap);
	old = mgmt_zone(origin, olen);
	uint32_t old_serial = old ? mgmt_zone_serial(old) : 0, serial = img->hdr->serial;
	uint32_t names = img->name_count;
	int replaced = old != NULL;
	rc = mgmt_serve_flags(img, req->path, set);
	if (rc < 0) {
		mgmt_textf(text, cap, "%s: %s", name, pharos_strerror(rc));
		return rc;
	}
	mgmt_textf(text, cap, "loaded %s serial %u (%u names)", name, serial, names);
	if (replaced) {
		size_t n = strlen(text);

		mgmt_textf(text + n, cap - n, ", replaced serial %u", old_serial);
	}
	if (set) {
		size_t n = strlen(text);

		mgmt_textf(text + n, cap - n, ", expired");
	}
	return 0;
}

static int mgmt_unload(const struct ipc_unload *req, char *text, size_t cap)
{
	uint8_t origin[DNAME_MAX];
	char name[DNAME_TXT_MAX];
	struct snapshot *next;
	size_t olen;
	int rc;

	if ((rc = mgmt_origin(req->origin, origin, &olen, text, cap)) < 0)
		return rc;
	dname_to_text(origin, name, sizeof(name));
	rc = snap_without(mgmt_snap, origin, olen, &next);
	if (rc < 0) {
		mgmt_textf(text, cap, "%s: %s", name,
			 rc == PHAROS_ENOTFOUND ? "zone not loaded" : pharos_strerror(rc));
		return rc;
	}
	mgmt_publish(next);
	mgmt_textf(text, cap, "unloaded %s", name);
	return 0;
}

static int mgmt_expire(const struct ipc_expire *req, char *text, size_t cap)
{
	uint8_t origin[DNAME_MAX];
	char name[DNAME_TXT_MAX];
	size_t olen;
	int rc;

	if ((rc = mgmt_origin(req->origin, origin, &olen, text, cap)) < 0)
		return rc;
	dname_to_text(origin, name, sizeof(name));
	if (req->expired > 1) {
		mgmt_textf(text, cap, "%s: expired must be 0 or 1, not %u", name, req->expired);
		return PHAROS_EINVAL;
	}
	rc = mgmt_set_flags(origin, olen, req->expired ? SNAP_ZONE_EXPIRED : 0);
	if (rc < 0) {
		mgmt_textf(text, cap, "%s: %s", name,
			 rc == PHAROS_ENOTFOUND ? "zone not loaded" : pharos_strerror(rc));
		return rc;
	}
	mgmt_textf(text, cap, "%s: %s", name, req->expired ? "expired" : "serving again");
	return 0;
}

static int mgmt_subscribe(struct mgmt *m, unsigned ci, char *text, size_t cap)
{
	int took = relay_subscribe(&m->relay, ci);

	mgmt_textf(text, cap, "subscribed to NOTIFY%s",
		   took ? ", taking over from another connection" : "");
	return 0;
}

/* Answers our IPC_NOTIFY: never replied to, even when malformed (then only logged). */
static void mgmt_notify_answer(struct mgmt *m, const union mgmt_msg *msg, size_t n)
{
	const struct ipc_notify_answer *a = &msg->answer;

	if (msg->h.version != IPC_VERSION || n != sizeof(*a) || msg->h.len != n ||
	    a->len < DNS_HDR_LEN || a->len > IPC_NOTIFY_MAX) {
		log_msg("control: NOTIFY answer of %zu bytes (header says %u, expected %zu), "
			"message length %u: ignored", n, msg->h.len, sizeof(*a),
			n == sizeof(*a) ? a->len : 0);
		return;
	}
	relay_answer(&m->relay, a, relay_now_ms());
}

static int mgmt_send_zone(struct mgmt *m, unsigned ci, const struct snap_zone *z, uint32_t seq)
{
	struct ipc_zone_info zi;

	memset(&zi, 0, sizeof(zi));
	dname_to_text(z->origin, zi.origin, sizeof(zi.origin));
	snprintf(zi.path, sizeof(zi.path), "%s", z->path);
	zi.serial = mgmt_zone_serial(z);
	zi.names = z->img->name_count;
	zi.rrsets = z->img->rrset_count;
	zi.flags = (z->flags & SNAP_ZONE_EXPIRED) ? IPC_ZONE_EXPIRED : 0;
	zi.flags |= z->delta ? IPC_ZONE_DELTA : 0;
	zi.image_size = z->img->size;
	zi.loaded_at = z->loaded_at;
	return mgmt_send(m, ci, &zi, IPC_ZONE_INFO, sizeof(zi), seq);
}

/* One worker's verdict: an error streak longer than IO_FATAL_MS, or the backend's check. */
static void mgmt_watch_one(const struct worker *w, struct mgmt_watch *v, uint64_t now)
{
	char why[IPC_WORKER_ERR_MAX] = "";
	struct io_stats s;
	int fatal = 0, was = v->fatal;
	int32_t err = 0;

	memset(&s, 0, sizeof(s));
	if (w->ops->stats != NULL && w->q != NULL)
		w->ops->stats(w->q, &s);
	if (s.rx_ok != v->ok)
		v->bad_since = 0;		/* it received: alive */
	else if (s.rx_errors != v->errors && v->bad_since == 0)
		v->bad_since = now;		/* failing, nothing received since */
	v->ok = s.rx_ok;
	v->errors = s.rx_errors;
	if (v->bad_since != 0 && now - v->bad_since >= IO_FATAL_MS) {
		fatal = 1;
		err = s.rx_errno;
		snprintf(why, sizeof(why), "%s: every receive call failing for %llu ms: %s",
			 w->ops->name, (unsigned long long)(now - v->bad_since),
			 err ? strerror(err) : "error");
	}
	if (!fatal && w->ops->check != NULL && w->q != NULL &&
	    w->ops->check(w->q, why, sizeof(why)) > 0)
		fatal = 1;
	v->fatal = fatal;
	v->err = err;
	if (fatal && (!was || strncmp(v->why, why, 24) != 0))
		log_msg("worker %u: fatal I/O error: %s", w->id, why);
	else if (!fatal && was)
		log_msg("worker %u: I/O works again", w->id);
	snprintf(v->why, sizeof(v->why), "%s", fatal ? why : "");
}

/* Look at every worker's I/O: every loop pass (<= 100 ms) and before each status. */
static void mgmt_watch(struct mgmt *m)
{
	uint64_t now = relay_now_ms();

	for (unsigned i = 0; m->watch != NULL && i < m->nworkers; i++)
		mgmt_watch_one(&m->workers[i], &m->watch[i], now);
}

static int mgmt_send_worker(struct mgmt *m, unsigned ci, unsigned idx, int cpu,
			    const struct worker_stats *st, uint32_t seq)
{
	struct ipc_worker_info wi;
	struct worker_stats s;

	worker_stats_read(st, &s);
	memset(&wi, 0, sizeof(wi));
	wi.worker = idx;
	wi.cpu = cpu;
	wi.loops = s.loops;
	wi.rx = s.rx;
	wi.tx = s.tx;
	wi.dropped = s.dropped;
	wi.noerror = s.noerror;
	wi.nxdomain = s.nxdomain;
	wi.refused = s.refused;
	wi.formerr = s.formerr;
	wi.servfail = s.servfail;
	wi.notimp = s.notimp;
	wi.truncated = s.truncated;
	wi.notify_relayed = s.notify_relayed;
	wi.notify_answered = m->relay.answered ? m->relay.answered[idx] : 0;
	wi.notify_dropped = s.notify_lost + (m->relay.dropped ? m->relay.dropped[idx] : 0);
	wi.expired = s.expired;
	if (m->watch != NULL && idx < m->nworkers && m->watch[idx].fatal) {
		wi.flags |= IPC_WORKER_IO_FATAL;
		wi.io_errno = m->watch[idx].err;
		snprintf(wi.io_error, sizeof(wi.io_error), "%s", m->watch[idx].why);
	}
	return mgmt_send(m, ci, &wi, IPC_WORKER_INFO, sizeof(wi), seq);
}

static int mgmt_status(struct mgmt *m, unsigned ci, uint32_t seq, char *text, size_t cap)
{
	const struct snapshot *s = mgmt_snap;	/* we are its only writer */
	uint32_t zones = s ? s->count : 0;

	mgmt_watch(m);
	for (uint32_t i = 0; i < zones; i++)
		if (mgmt_send_zone(m, ci, s->zones[i], seq) < 0)
			return PHAROS_EIO;
	for (unsigned i = 0; i < m->nworkers; i++)
		if (mgmt_send_worker(m, ci, i, m->workers[i].cpu, &m->workers[i].st, seq) < 0)
			return PHAROS_EIO;
	if (m->tcp && mgmt_send_worker(m, ci, m->nworkers, -1, m->tcp, seq) < 0)
		return PHAROS_EIO;
	if (m->backend_info) {
		struct ipc_backend_info bi;

		memset(&bi, 0, sizeof(bi));
		if (m->backend_info(&bi) == 0 &&
		    mgmt_send(m, ci, &bi, IPC_BACKEND_INFO, sizeof(bi), seq) < 0)
			return PHAROS_EIO;
	}
	mgmt_textf(text, cap, "%u zones, %u workers%s", zones, m->nworkers, m->tcp ? " + tcp" : "");
	return 0;
}

static size_t mgmt_request_size(uint32_t kind)
{
	switch (kind) {
	case IPC_LOAD: return sizeof(struct ipc_load);
	case IPC_UNLOAD: return sizeof(struct ipc_unload);
	case IPC_STATUS: return sizeof(struct ipc_status);
	case IPC_SUBSCRIBE: return sizeof(struct ipc_subscribe);
	case IPC_EXPIRE: return sizeof(struct ipc_expire);
	default: return 0;
	}
}

/* Length, version, kind, and NUL-terminated strings: anything else is PHAROS_EPROTO. */
static int mgmt_check(const union mgmt_msg *msg, size_t n, char *text, size_t cap)
{
	size_t want;

	if (n < sizeof(struct ipc_hdr)) {
		mgmt_textf(text, cap, "message of %zu bytes is shorter than the header", n);
		return PHAROS_EPROTO;
	}
	if (msg->h.version != IPC_VERSION) {
		mgmt_textf(text, cap, "version %u, expected %u", msg->h.version, IPC_VERSION);
		return PHAROS_EPROTO;
	}
	want = mgmt_request_size(msg->h.kind);
	if (want == 0) {
		mgmt_textf(text, cap, "kind %u is not a request", msg->h.kind);
		return PHAROS_EPROTO;
	}
	if (n != want || msg->h.len != n) {
		mgmt_textf(text, cap, "kind %u: got %zu bytes, header says %u, expected %zu",
			 msg->h.kind, n, msg->h.len, want);
		return PHAROS_EPROTO;
	}
	if ((msg->h.kind == IPC_LOAD &&
	     (!memchr(msg->load.origin, 0, sizeof(msg->load.origin)) ||
	      !memchr(msg->load.path, 0, sizeof(msg->load.path)))) ||
	    (msg->h.kind == IPC_UNLOAD && !memchr(msg->unload.origin, 0, IPC_NAME_MAX)) ||
	    (msg->h.kind == IPC_EXPIRE && !memchr(msg->expire.origin, 0, IPC_NAME_MAX))) {
		mgmt_textf(text, cap, "kind %u: string not NUL-terminated", msg->h.kind);
		return PHAROS_EPROTO;
	}
	return 0;
}

static void mgmt_handle(struct mgmt *m, unsigned ci, const union mgmt_msg *msg, size_t n)
{
	char text[IPC_MSG_MAX] = "";
	uint32_t seq = n >= sizeof(struct ipc_hdr) ? msg->h.seq : 0;
	int rc;

	if (n >= sizeof(struct ipc_hdr) && msg->h.kind == IPC_NOTIFY_ANSWER) {
		mgmt_notify_answer(m, msg, n);
		return;
	}
	rc = mgmt_check(msg, n, text, sizeof(text));
	if (rc < 0) {
		log_msg("control: %s", text);
	} else if (msg->h.kind == IPC_LOAD) {
		rc = mgmt_load(&msg->load, text, sizeof(text));
		log_msg("%s", text);
	} else if (msg->h.kind == IPC_UNLOAD) {
		rc = mgmt_unload(&msg->unload, text, sizeof(text));
		log_msg("%s", text);
	} else if (msg->h.kind == IPC_EXPIRE) {
		rc = mgmt_expire(&msg->expire, text, sizeof(text));
		log_msg("%s", text);
	} else if (msg->h.kind == IPC_SUBSCRIBE) {
		rc = mgmt_subscribe(m, ci, text, sizeof(text));
		log_msg("control connection %u: %s", ci, text);
	} else {
		rc = mgmt_status(m, ci, seq, text, sizeof(text));
	}
	mgmt_reply(m, ci, seq, rc, text);
}

static void mgmt_recv(struct mgmt *m, unsigned ci)
{
	union mgmt_msg msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg.h));
	/* MSG_TRUNC: n is the datagram's real length, so an oversize one fails the check */
	n = recv(m->cfd[ci], &msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		mgmt_drop(m, ci, n == 0 ? "peer closed" : strerror(errno));
		return;
	}
	mgmt_handle(m, ci, &msg, (size_t)n);
}

/* Take a new peer; when every place is taken, close it at once (the others keep theirs). */
static void mgmt_accept(struct mgmt *m)
{
	struct timeval tv = { .tv_sec = MGMT_SEND_TMO_S };
	int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned ci = 0; ci < MGMT_CLIENTS_MAX; ci++) {
		if (m->cfd[ci] < 0) {
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			m->cfd[ci] = fd;
			return;
		}
	}
	log_msg("control socket: %d peers already connected, closing a new one",
		MGMT_CLIENTS_MAX);
	close(fd);
}

/*
 * relay_pump's way to the subscriber. Never waits: NOTIFYs come from anyone on the network,
 * so a flood must neither stall this thread nor cost control its connection. A full socket
 * buffer drops the NOTIFY (its relay times out and is counted as dropped).
 */
static int mgmt_send_notify(void *ctx, unsigned ci, struct ipc_notify *n)
{
	struct mgmt *m = ctx;

	n->h.kind = IPC_NOTIFY;
	n->h.len = sizeof(*n);
	n->h.seq = 0;
	n->h.version = IPC_VERSION;
	if (m->cfd[ci] < 0)
		return PHAROS_EIO;
	if (send(m->cfd[ci], n, sizeof(*n), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*n))
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return PHAROS_ELIMIT;
	mgmt_drop(m, ci, strerror(errno));
	return PHAROS_EIO;
}

/*
 * Requests are served one at a time, in the order each peer sent them. NOTIFYs the workers
 * queued are relayed between requests (the relay's eventfd wakes the poll).
 */
static void *mgmt_main(void *arg)
{
	struct mgmt *m = arg;
	struct pollfd p[2 + MGMT_CLIENTS_MAX];
	const nfds_t np = 2 + MGMT_CLIENTS_MAX;

	while (!worker_quit) {
		p[0] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		for (unsigned ci = 0; ci < MGMT_CLIENTS_MAX; ci++)
			p[1 + ci] = (struct pollfd){ .fd = m->cfd[ci], .events = POLLIN };
		p[np - 1] = (struct pollfd){ .fd = m->relay.efd, .events = POLLIN };
		int ready = poll(p, np, MGMT_POLL_MS);
		uint64_t now = relay_now_ms();

		relay_pump(&m->relay, now, mgmt_send_notify, m);	/* cheap when empty */
		relay_tick(&m->relay, now);
		if (now - m->watched_ms >= MGMT_POLL_MS) {
			mgmt_watch(m);
			m->watched_ms = now;
		}
		if (ready <= 0)
			continue;	/* negative fds are skipped by poll() */
		for (unsigned ci = 0; ci < MGMT_CLIENTS_MAX; ci++)
			if (m->cfd[ci] >= 0 && (p[1 + ci].revents & (POLLIN | POLLHUP | POLLERR)))
				mgmt_recv(m, ci);
		if (p[0].revents & POLLIN)
			mgmt_accept(m);
	}
	return NULL;
}

/* Remove a socket file left by a dataplane that died; refuse to touch anything else. */
static int mgmt_clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd, live;

	if (lstat(sa->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", sa->sun_path, strerror(errno));
		return PHAROS_EIO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", sa->sun_path);
		return PHAROS_EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return PHAROS_EIO;
	}
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen, "%s: another dataplane is listening there", sa->sun_path);
		return PHAROS_EEXIST;
	}
	unlink(sa->sun_path);
	return 0;
}

int mgmt_open(struct mgmt *m, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	memset(m, 0, sizeof(*m));
	m->lfd = -1;
	for (unsigned ci = 0; ci < MGMT_CLIENTS_MAX; ci++)
		m->cfd[ci] = -1;
	if (relay_open(&m->relay) < 0) {	/* before the rings: they wake its eventfd */
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return PHAROS_EIO;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long (max %zu bytes)", sizeof(sa.sun_path) - 1);
		return PHAROS_EINVAL;
	}
	strcpy(sa.sun_path, path);
	if ((rc = mgmt_clear_stale(&sa, err, errlen)) < 0)
		return rc;
	m->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return PHAROS_EIO;
	}
	old = umask(0177);	/* created 0600: only our user may load zones */
	rc = bind(m->lfd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(m->lfd, 4) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(m->lfd);
		m->lfd = -1;
		return PHAROS_EIO;
	}
	strcpy(m->path, path);
	return 0;
}

int mgmt_start(struct mgmt *m)
{
	int rc = relay_attach(&m->relay, m->workers, m->nworkers, m->tcp_up, m->tcp_down);

	if (rc < 0)
		return rc;
	m->watch = calloc(m->nworkers ? m->nworkers : 1, sizeof(*m->watch));
	if (m->watch == NULL)
		return PHAROS_ENOMEM;
	rc = pthread_create(&m->thread, NULL, mgmt_main, m);
	if (rc != 0) {
		errno = rc;
		return PHAROS_EIO;
	}
	m->running = 1;
	return 0;
}

void mgmt_join(struct mgmt *m)
{
	if (m->running)
		pthread_join(m->thread, NULL);
	m->running = 0;
}

void mgmt_close(struct mgmt *m)
{
	for (unsigned ci = 0; ci < MGMT_CLIENTS_MAX; ci++) {
		if (m->cfd[ci] >= 0)
			close(m->cfd[ci]);
		m->cfd[ci] = -1;
	}
	if (m->lfd >= 0) {
		close(m->lfd);
		unlink(m->path);
	}
	m->lfd = -1;
	relay_close(&m->relay);
	free(m->watch);
	m->watch = NULL;
	snap_release(mgmt_snap);	/* no reader is left: no grace period needed */
	mgmt_snap = NULL;
}
