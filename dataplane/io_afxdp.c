/* AF_XDP backend: one XSK per (interface, queue) fed by xdp/pharos_steer, answers sent in place. */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>
#include "pharos/err.h"
#include "pharos/xdp.h"
#include "pharos_steer.skel.h"
#include "io.h"
#include "io_afxdp.h"
#include "log.h"

#define XSK_ETH_HLEN	14
#define XSK_VLAN_HLEN	4
#define XSK_IP4_HLEN	20
#define XSK_IP6_HLEN	40
#define XSK_UDP_HLEN	8
#define XSK_TTL		64
#define XSK_BUSY_POLL_US 20

/* Where the headers of one received frame are; per batch slot, valid for that batch only. */
struct xsk_meta {
	uint64_t addr;		/* UMEM offset of the frame's first byte (Ethernet) */
	uint16_t l3;		/* offset of the IP header (after Ethernet and any VLAN tag) */
	uint16_t l4;		/* offset of the UDP header */
	uint8_t v6;
};

/*
 * One worker's socket and UMEM. Frames move fill -> rx -> worker -> tx -> completion ->
 * free stack -> fill; the stack holds every frame the kernel does not.
 */
struct io_queue {
	struct io_stats st;
	struct xsk_ring_cons rx, comp;
	struct xsk_ring_prod tx, fill;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	uint8_t *area;
	size_t area_size;
	int fd;
	int busy_poll;
	unsigned queue;
	unsigned nframes;
	unsigned nfree;
	unsigned in_flight;		/* submitted to tx, not yet completed */
	uint16_t room;			/* largest IP packet: the MTU */
	struct xsk_meta meta[IO_BURST];
	uint64_t free[];		/* nframes entries */
};

/* Process-wide: the steering program and where it is attached (setup/teardown). */
static struct {
	struct pharos_steer *skel;
	int ifindex;
	char iface[IF_NAMESIZE];
	uint32_t mode;			/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	int attached;
	unsigned frames;		/* per queue */
	unsigned mtu;
	int copy_logged;
} xg;

/* ---- sizing ---- */

static unsigned pow2_floor(uint64_t v)
{
	unsigned p = 1;

	while ((uint64_t)p * 2 <= v && p < (1u << 30))
		p *= 2;
	return p;
}

/*
 * Whether the kernel would let us lock more than RLIMIT_MEMLOCK, i.e. whether it will not
 * charge the UMEM to the limit. Asked of the kernel itself, not of capget(): a container's
 * root holds CAP_IPC_LOCK in its own user namespace, and is charged all the same. mlock2()
 * with MLOCK_ONFAULT checks the limit the way the UMEM registration does (CAP_IPC_LOCK in
 * the initial namespace) without faulting a page in.
 */
static int xsk_can_lock(uint64_t limit)
{
	size_t len = (size_t)limit + (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int ok;

	if (p == MAP_FAILED)
		return 0;
	ok = mlock2(p, len, MLOCK_ONFAULT) == 0;
	munmap(p, len);
	return ok;
}

/*
 * Frames per queue: the UMEM is locked memory, charged to RLIMIT_MEMLOCK unless the
 * process is exempt (CAP_IPC_LOCK). When the cap does not fit the limit and we are not
 * exempt, we size for the limit, so the same command works unprivileged: largest power of
 * two <= (limit - spare) / (queues x frame size). Otherwise the cap: more frames ride out
 * longer worker stalls without a drop.
 */
static int xsk_size(unsigned nqueues, char *err, size_t errlen)
{
	struct rlimit rl;
	uint64_t frames = XSK_FRAMES_MAX;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		uint64_t budget = rl.rlim_cur > XSK_MEMLOCK_SPARE ? rl.rlim_cur - XSK_MEMLOCK_SPARE : 0;

		frames = budget / ((uint64_t)nqueues * XSK_FRAME_SIZE);
		if (frames < XSK_FRAMES_MAX && xsk_can_lock(rl.rlim_cur))
			frames = XSK_FRAMES_MAX;
		if (frames < XSK_FRAMES_MIN) {
			snprintf(err, errlen, "locked-memory limit %llu KiB too small for %u queues "
				 "of %u frames of %u bytes (raise ulimit -l or use fewer workers)",
				 (unsigned long long)rl.rlim_cur >> 10, nqueues, XSK_FRAMES_MIN,
				 XSK_FRAME_SIZE);
			return PHAROS_ELIMIT;
		}
	}
	xg.frames = pow2_floor(frames < XSK_FRAMES_MAX ? frames : XSK_FRAMES_MAX);
	return 0;
}

static int xsk_mtu(const char *iface, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	rc = fd < 0 ? -1 : ioctl(fd, SIOCGIFMTU, &ifr);
	if (fd >= 0)
		close(fd);
	if (rc < 0 || ifr.ifr_mtu < 576) {
		snprintf(err, errlen, "%s: cannot read its MTU: %s", iface, strerror(errno));
		return PHAROS_EIO;
	}
	xg.mtu = (unsigned)ifr.ifr_mtu;
	return 0;
}

/*
 * Queries that arrive on a queue without a worker are passed to the kernel path: right,
 * but slow. Say so at start when the driver tells its queue count (ETHTOOL_GCHANNELS).
 */
static void xsk_check_queues(const char *iface, unsigned nqueues)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned n;

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	ifr.ifr_data = (void *)&ch;
	n = ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? ch.rx_count + ch.combined_count : 0;
	close(fd);
	if (n > nqueues)
		log_msg("%s: %u RX queues, %u workers: queries on queues %u..%u go to the kernel "
			"path (give --workers %u, or steer DNS to the first queues)", iface, n,
			nqueues, nqueues, n - 1, n);
}

/* ---- the steering program ---- */

/* Every --service into the program's services map (IPv4 as IPv4-mapped IPv6). */
static int xsk_services(const struct io_conf *conf, char *err, size_t errlen)
{
	int fd = bpf_map__fd(xg.skel->maps.services);
	uint32_t one = 1;

	if (conf->nservices == 0 || conf->nservices > PHAROS_XDP_SERVICES_MAX) {
		snprintf(err, errlen, "need 1 to %d service addresses", PHAROS_XDP_SERVICES_MAX);
		return PHAROS_EINVAL;
	}
	for (unsigned i = 0; i < conf->nservices; i++) {
		const struct io_addr *a = &conf->services[i];
		struct pharos_xdp_svc key;

		memset(&key, 0, sizeof(key));
		if (a->ss.ss_family == AF_INET) {
			key.addr[10] = key.addr[11] = 0xff;
			memcpy(&key.addr[12], &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
		} else {
			memcpy(key.addr, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
		}
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY) < 0) {
			snprintf(err, errlen, "service %s: map update: %s", a->text, strerror(errno));
			return PHAROS_EIO;
		}
	}
	return 0;
}

/* Name of the XDP program attached to the interface (any mode), and its mode; 0 if none. */
static uint32_t xsk_attached(char *name, size_t cap, uint32_t *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd;

	name[0] = '\0';
	if (bpf_xdp_query(xg.ifindex, 0, &q) < 0 || q.prog_id == 0)
		return 0;
	*mode = q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE :
		q.attach_mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	memset(&info, 0, sizeof(info));
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		snprintf(name, cap, "%s", info.name);
	if (fd >= 0)
		close(fd);
	return q.prog_id;
}

/*
 * Attach our program in native (driver) mode, generic mode if the driver has none. A
 * pharos_steer left by a dataplane that crashed is replaced; anything else attached is
 * someone else's, and we refuse rather than take their traffic.
 */
static int xsk_attach(char *err, size_t errlen)
{
	int prog = bpf_program__fd(xg.skel->progs.pharos_steer);
	char name[BPF_OBJ_NAME_LEN];
	uint32_t mode = 0, id = xsk_attached(name, sizeof(name), &mode);
	int rc;

	if (id != 0 && strcmp(name, PHAROS_XDP_PROG_NAME) != 0) {
		snprintf(err, errlen, "%s: XDP program '%s' (id %u) is already attached; detach it "
			 "first (ip link set dev %s xdp off)", xg.iface, name, id, xg.iface);
		return PHAROS_EEXIST;
	}
	if (id != 0) {
		log_msg("%s: replacing a stale %s (id %u) left by an earlier run", xg.iface, name, id);
		if (bpf_xdp_detach(xg.ifindex, mode, NULL) < 0)
			log_msg("%s: detach of id %u: %s", xg.iface, id, strerror(errno));
	}
	xg.mode = XDP_FLAGS_DRV_MODE;
	rc = bpf_xdp_attach(xg.ifindex, prog, XDP_FLAGS_UPDATE_IF_NOEXIST | xg.mode, NULL);
	if (rc == -EOPNOTSUPP || rc == -EINVAL) {
		xg.mode = XDP_FLAGS_SKB_MODE;
		rc = bpf_xdp_attach(xg.ifindex, prog, XDP_FLAGS_UPDATE_IF_NOEXIST | xg.mode, NULL);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: attach XDP program: %s", xg.iface, strerror(-rc));
		return PHAROS_EIO;
	}
	xg.attached = 1;
	log_msg("%s: %s attached in %s mode, %u frames of %u bytes per queue", xg.iface,
		PHAROS_XDP_PROG_NAME, xg.mode == XDP_FLAGS_DRV_MODE ? "native" : "generic",
		xg.frames, XSK_FRAME_SIZE);
	return 0;
}

static void xsk_teardown(void)
{
	if (xg.attached) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o,
			    .old_prog_fd = bpf_program__fd(xg.skel->progs.pharos_steer));

		/* only if it is still ours: never detach a program someone attached since */
		if (bpf_xdp_detach(xg.ifindex, xg.mode, &o) < 0)
			log_msg("%s: detach XDP program: %s", xg.iface, strerror(errno));
		xg.attached = 0;
	}
	pharos_steer__destroy(xg.skel);
	xg.skel = NULL;
}

static int xsk_setup(const struct io_conf *conf, unsigned nqueues, char *err, size_t errlen)
{
	int rc;

	if (conf->iface == NULL || strlen(conf->iface) >= sizeof(xg.iface)) {
		snprintf(err, errlen, "need an interface name (--iface)");
		return PHAROS_EINVAL;
	}
	snprintf(xg.iface, sizeof(xg.iface), "%s", conf->iface);
	xg.ifindex = (int)if_nametoindex(conf->iface);
	if (xg.ifindex == 0) {
		snprintf(err, errlen, "%s: no such interface", conf->iface);
		return PHAROS_ENOTFOUND;
	}
	if (nqueues == 0 || nqueues > PHAROS_XDP_QUEUES_MAX) {
		snprintf(err, errlen, "1 to %d queues", PHAROS_XDP_QUEUES_MAX);
		return PHAROS_EINVAL;
	}
	if ((rc = xsk_mtu(conf->iface, err, errlen)) < 0 ||
	    (rc = xsk_size(nqueues, err, errlen)) < 0)
		return rc;
	xsk_check_queues(conf->iface, nqueues);
	xg.skel = pharos_steer__open_and_load();
	if (xg.skel == NULL) {
		snprintf(err, errlen, "load %s: %s (is this process root, with bpffs and BPF "
			 "enabled?)", PHAROS_XDP_PROG_NAME, strerror(errno));
		return PHAROS_EIO;
	}
	if ((rc = xsk_services(conf, err, errlen)) < 0 || (rc = xsk_attach(err, errlen)) < 0) {
		xsk_teardown();
		return rc;
	}
	return 0;
}

int io_afxdp_counters(struct pharos_xdp_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t zero = 0;

	memset(out, 0, sizeof(*out));
	if (xg.skel == NULL || ncpu <= 0)
		return PHAROS_ENOTFOUND;
	struct pharos_xdp_counters v[ncpu];

	if (bpf_map_lookup_elem(bpf_map__fd(xg.skel->maps.counters), &zero, v) < 0)
		return PHAROS_EIO;
	for (int i = 0; i < ncpu; i++) {
		out->redirected += v[i].redirected;
		out->passed += v[i].passed;
		out->malformed += v[i].malformed;
		out->unbound += v[i].unbound;
	}
	return 0;
}

/* ---- one queue ---- */

/* What the kernel dropped on this socket, for the log at stop (rings too small or slow). */
static void xsk_log_drops(const struct io_queue *q)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (q->xsk == NULL || getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return;
	if (st.rx_dropped || st.rx_ring_full || st.rx_invalid_descs || st.tx_invalid_descs)
		log_msg("%s queue %u: packets the kernel dropped: rx ring full %llu, other %llu; "
			"fill ring found empty %llu times; invalid descriptors rx %llu, tx %llu",
			xg.iface, q->queue, (unsigned long long)st.rx_ring_full,
			(unsigned long long)st.rx_dropped,
			(unsigned long long)st.rx_fill_ring_empty_descs,
			(unsigned long long)st.rx_invalid_descs,
			(unsigned long long)st.tx_invalid_descs);
}

static void xsk_fini(struct io_queue *q)
{
	if (q == NULL)
		return;
	xsk_log_drops(q);
	if (xg.skel != NULL) {	/* the program passes this queue's queries to the kernel again */
		uint32_t key = q->queue;

		(void)bpf_map_delete_elem(bpf_map__fd(xg.skel->maps.xsks), &key);
	}
	if (q->xsk)
		xsk_socket__delete(q->xsk);
	if (q->umem)
		xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, q->area_size);
	free(q);
}

static void xsk_busy_poll_opts(int fd)
{
	int one = 1, us = XSK_BUSY_POLL_US, budget = IO_BURST;

	/* best effort (kernel >= 5.11): the app's recvfrom/sendto run the driver's NAPI */
	(void)setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us));
	(void)setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget));
}

/*
 * xsk_socket__create, retried while the queue is busy: a dataplane killed just before us
 * leaves its socket to the kernel, which tears it down a moment later (seen after SIGKILL
 * and an immediate restart: EBUSY for tens of ms). Gives up after XSK_BUSY_MS.
 */
#define XSK_BUSY_MS	3000
static int xsk_create(struct io_queue *q, const struct xsk_socket_config *cfg)
{
	int rc;

	for (int waited = 0;; waited += 50) {
		rc = xsk_socket__create(&q->xsk, xg.iface, q->queue, q->umem, &q->rx, &q->tx, cfg);
		if (rc != -EBUSY || waited >= XSK_BUSY_MS)
			return rc;
		if (waited == 0)
			log_msg("%s queue %u: busy (a socket of an earlier run?): retrying", xg.iface,
				q->queue);
		usleep(50 * 1000);
	}
}

/* The socket on (iface, queue): zero-copy if the driver offers it, else copy mode. */
static int xsk_open(struct io_queue *q, char *err, size_t errlen)
{
	struct xsk_socket_config cfg = {
		.rx_size = q->nframes,		/* a stalled worker: every frame can wait */
		.tx_size = q->nframes / 2,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,	/* ours is attached */
		.xdp_flags = xg.mode,
		.bind_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY,
	};
	int rc = xsk_create(q, &cfg);

	if (rc < 0) {
		cfg.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
		rc = xsk_create(q, &cfg);
		if (rc == 0 && !xg.copy_logged++)
			log_msg("%s: no zero-copy on this driver: AF_XDP copy mode", xg.iface);
	} else if (q->queue == 0) {
		log_msg("%s: AF_XDP zero-copy mode", xg.iface);
	}
	if (rc < 0) {
		q->xsk = NULL;
		snprintf(err, errlen, "%s queue %u: AF_XDP socket: %s (does %s have that many RX "
			 "queues?)", xg.iface, q->queue, strerror(-rc), xg.iface);
		return PHAROS_EIO;
	}
	q->fd = xsk_socket__fd(q->xsk);
	rc = xsk_socket__update_xskmap(q->xsk, bpf_map__fd(xg.skel->maps.xsks));
	if (rc < 0) {
		snprintf(err, errlen, "%s queue %u: xsks map: %s", xg.iface, q->queue, strerror(-rc));
		return PHAROS_EIO;
	}
	return 0;
}

/* Give every frame the fill ring can take to the kernel; kick it if it asks. */
static void xsk_refill(struct io_queue *q)
{
	uint32_t idx;
	unsigned n = xsk_prod_nb_free(&q->fill, q->nfree);

	if (n > q->nfree)
		n = q->nfree;
	if (n == 0 || xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
		return;
	for (unsigned i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = q->free[--q->nfree];
	xsk_ring_prod__submit(&q->fill, n);
	if (xsk_ring_prod__needs_wakeup(&q->fill)) {
		IO_STAT_ADD(q->st.rx_calls, 1);
		(void)recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
}

/* Frames whose answer left: back on the free stack. */
static void xsk_complete(struct io_queue *q)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(&q->comp, q->nframes, &idx);

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = *xsk_ring_cons__comp_addr(&q->comp, idx + i);

		q->free[q->nfree++] = a & ~(uint64_t)(XSK_FRAME_SIZE - 1);
	}
	if (n)
		xsk_ring_cons__release(&q->comp, n);
	q->in_flight -= n;
}

static int xsk_init(const struct io_conf *conf, unsigned worker, struct io_queue **out,
		    char *err, size_t errlen)
{
	struct xsk_umem_config ucfg = { .frame_size = XSK_FRAME_SIZE };
	struct io_queue *q;
	int rc;

	if (xg.skel == NULL) {
		snprintf(err, errlen, "AF_XDP backend not set up");
		return PHAROS_EINVAL;
	}
	q = calloc(1, sizeof(*q) + xg.frames * sizeof(q->free[0]));
	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	q->queue = worker;
	q->nframes = xg.frames;
	q->busy_poll = conf->busy_poll;
	q->room = (uint16_t)(xg.mtu < 65535 ? xg.mtu : 65535);
	q->area_size = (size_t)q->nframes * XSK_FRAME_SIZE;
	q->area = mmap(NULL, q->area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		snprintf(err, errlen, "UMEM of %zu bytes: %s", q->area_size, strerror(errno));
		goto fail;
	}
	ucfg.fill_size = q->nframes;
	ucfg.comp_size = q->nframes;
	rc = xsk_umem__create(&q->umem, q->area, q->area_size, &q->fill, &q->comp, &ucfg);
	if (rc < 0) {
		q->umem = NULL;
		snprintf(err, errlen, "UMEM of %zu KiB: %s (locked-memory limit?)",
			 q->area_size >> 10, strerror(-rc));
		goto fail;
	}
	if (xsk_open(q, err, errlen) < 0)
		goto fail;
	if (q->busy_poll)
		xsk_busy_poll_opts(q->fd);
	for (unsigned i = 0; i < q->nframes; i++)
		q->free[q->nfree++] = (uint64_t)i * XSK_FRAME_SIZE;
	xsk_refill(q);
	*out = q;
	return 0;
fail:
	xsk_fini(q);
	return PHAROS_EIO;
}

/* ---- packets ---- */

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IPv4 without options, UDP, not a fragment; lengths consistent. UDP payload length or 0. */
static unsigned xsk_parse4(struct xsk_meta *m, const uint8_t *ip, uint32_t left)
{
	unsigned tot, ulen;

	if (left < XSK_IP4_HLEN + XSK_UDP_HLEN || ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
	    (get16(ip + 6) & 0x3fff))
		return 0;
	tot = get16(ip + 2);
	ulen = get16(ip + XSK_IP4_HLEN + 4);
	if (tot > left || ulen < XSK_UDP_HLEN || ulen > tot - XSK_IP4_HLEN)
		return 0;
	m->v6 = 0;
	m->l4 = (uint16_t)(m->l3 + XSK_IP4_HLEN);
	return ulen - XSK_UDP_HLEN;
}

static unsigned xsk_parse6(struct xsk_meta *m, const uint8_t *ip, uint32_t left)
{
	unsigned plen, ulen;

	if (left < XSK_IP6_HLEN + XSK_UDP_HLEN || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
		return 0;
	plen = get16(ip + 4);
	ulen = get16(ip + XSK_IP6_HLEN + 4);
	if (plen > left - XSK_IP6_HLEN || ulen < XSK_UDP_HLEN || ulen > plen)
		return 0;
	m->v6 = 1;
	m->l4 = (uint16_t)(m->l3 + XSK_IP6_HLEN);
	return ulen - XSK_UDP_HLEN;
}

/* Ethernet, one optional 802.1Q tag, IP, UDP. Returns the DNS message length, 0 = unusable. */
static unsigned xsk_parse(struct xsk_meta *m, const uint8_t *f, uint32_t len)
{
	uint16_t proto;

	if (len < XSK_ETH_HLEN)
		return 0;
	proto = get16(f + 12);
	m->l3 = XSK_ETH_HLEN;
	if (proto == 0x8100) {
		if (len < XSK_ETH_HLEN + XSK_VLAN_HLEN)
			return 0;
		proto = get16(f + 16);
		m->l3 += XSK_VLAN_HLEN;
	}
	if (proto == 0x0800)
		return xsk_parse4(m, f + m->l3, len - m->l3);
	if (proto == 0x86dd)
		return xsk_parse6(m, f + m->l3, len - m->l3);
	return 0;
}

/* Batch slot i takes the frame of rx descriptor d; the worker sees the DNS message only. */
static void xsk_take(struct io_queue *q, const struct xdp_desc *d, struct io_pkt *p, unsigned i)
{
	struct xsk_meta *m = &q->meta[i];
	uint8_t *f = q->area + d->addr;
	uint64_t end = (d->addr & ~(uint64_t)(XSK_FRAME_SIZE - 1)) + XSK_FRAME_SIZE;
	unsigned len = xsk_parse(m, f, d->len), off, cap;

	m->addr = d->addr;
	p->port = 0;
	p->slot = (uint16_t)i;
	if (unlikely(len == 0)) {
		p->data = f;
		p->len = 0;
		p->cap = 0;
		return;
	}
	off = m->l4 + XSK_UDP_HLEN;
	cap = (unsigned)(end - d->addr) - off;		/* the frame */
	if (cap > q->room - (off - m->l3))		/* the MTU: we never fragment */
		cap = q->room - (off - m->l3);
	p->data = f + off;
	p->len = (uint16_t)len;
	p->cap = (uint16_t)cap;
}

static unsigned xsk_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned max)
{
	uint32_t idx;
	unsigned n;

	xsk_complete(q);
	xsk_refill(q);
	n = xsk_ring_cons__peek(&q->rx, max < IO_BURST ? max : IO_BURST, &idx);
	for (unsigned i = 0; i < n; i++)
		xsk_take(q, xsk_ring_cons__rx_desc(&q->rx, idx + i), &pkts[i], i);
	if (n) {
		xsk_ring_cons__release(&q->rx, n);
		IO_STAT_ADD(q->st.rx_ok, 1);
	}
	return n;
}

/* One's complement sum of n bytes, 32 bits at a time into a 64-bit accumulator. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	uint32_t w;
	uint16_t h = 0;

	for (; n >= 4; p += 4, n -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (n >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		n -= 2;
	}
	if (n) {
		h = 0;
		memcpy(&h, p, 1);	/* odd last byte, padded with a zero byte */
		sum += h;
	}
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[16];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/*
 * Turn the query frame into its answer: MACs, IPs and ports swapped (a VLAN tag stays as
 * it was), lengths set, IPv4 header checksum and UDP checksum (pseudo-header included)
 * computed. The DNS message (dlen bytes) is already in place. Returns the frame length.
 */
static uint32_t xsk_answer(uint8_t *f, const struct xsk_meta *m, uint16_t dlen)
{
	uint8_t *ip = f + m->l3, *udp = f + m->l4;
	uint16_t ulen = (uint16_t)(XSK_UDP_HLEN + dlen), c;
	uint64_t sum;

	swap_bytes(f, f + 6, 6);
	swap_bytes(udp, udp + 2, 2);
	put16(udp + 4, ulen);
	memset(udp + 6, 0, 2);
	if (!m->v6) {
		swap_bytes(ip + 12, ip + 16, 4);
		put16(ip + 2, (uint16_t)(XSK_IP4_HLEN + ulen));
		ip[8] = XSK_TTL;
		memset(ip + 10, 0, 2);
		c = csum_fold(csum_add(0, ip, XSK_IP4_HLEN));
		memcpy(ip + 10, &c, 2);
		sum = csum_add(0, ip + 12, 8);
	} else {
		swap_bytes(ip + 8, ip + 24, 16);
		put16(ip + 4, ulen);
		ip[7] = XSK_TTL;
		sum = csum_add(0, ip + 8, 32);
	}
	sum += htons(IPPROTO_UDP) + htons(ulen);
	c = csum_fold(csum_add(sum, udp, ulen));
	if (c == 0)
		c = 0xffff;	/* 0 means "no checksum" in UDP over IPv4, and is invalid over IPv6 */
	memcpy(udp + 6, &c, 2);
	return (uint32_t)m->l4 + ulen;
}

/* Tell the kernel about new tx descriptors (copy mode always asks; zero-copy when idle). */
static void xsk_kick(struct io_queue *q)
{
	if (!xsk_ring_prod__needs_wakeup(&q->tx))
		return;
	IO_STAT_ADD(q->st.tx_calls, 1);
	if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
	    errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
		IO_STAT_ADD(q->st.tx_errors, 1);
}

static void xsk_release(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		q->free[q->nfree++] = q->meta[pkts[i].slot].addr & ~(uint64_t)(XSK_FRAME_SIZE - 1);
}

static unsigned xsk_tx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	uint32_t idx;
	unsigned k = xsk_prod_nb_free(&q->tx, n);

	if (k < n) {
		xsk_complete(q);
		k = xsk_prod_nb_free(&q->tx, n);
	}
	if (k > n)
		k = n;
	if (k == 0 || xsk_ring_prod__reserve(&q->tx, k, &idx) != k)
		k = 0;
	for (unsigned i = 0; i < k; i++) {
		const struct xsk_meta *m = &q->meta[pkts[i].slot];
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx + i);

		d->addr = m->addr;
		d->len = xsk_answer(q->area + m->addr, m, pkts[i].len);
		d->options = 0;
	}
	if (k) {
		xsk_ring_prod__submit(&q->tx, k);
		q->in_flight += k;
		xsk_kick(q);
	}
	if (unlikely(k < n)) {		/* tx ring full: these queries get no answer */
		xsk_release(q, pkts + k, n - k);
		IO_STAT_ADD(q->st.tx_errors, n - k);
	}
	return k;
}

/*
 * Nothing to read. Interrupt-driven: sleep in poll() until the kernel has frames (a copy-
 * mode send still in the ring is kicked first and polled for briefly). Busy-poll: one
 * non-blocking recvfrom runs the driver's NAPI in this thread, and we return at once.
 */
static void xsk_wait(struct io_queue *q, int timeout_ms)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };

	xsk_complete(q);
	if (q->busy_poll) {
		IO_STAT_ADD(q->st.rx_calls, 1);
		(void)recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return;
	}
	if (q->in_flight) {
		xsk_kick(q);
		if (timeout_ms > 1)
			timeout_ms = 1;
	}
	IO_STAT_ADD(q->st.rx_calls, 1);
	if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
		IO_STAT_ADD(q->st.rx_errors, 1);
		__atomic_store_n(&q->st.rx_errno, errno, __ATOMIC_RELAXED);
	} else if (p.revents & (POLLERR | POLLNVAL)) {
		IO_STAT_ADD(q->st.rx_errors, 1);
		__atomic_store_n(&q->st.rx_errno, (p.revents & POLLNVAL) ? EBADF : EIO,
				 __ATOMIC_RELAXED);
	}
}

static void xsk_stats(const struct io_queue *q, struct io_stats *out)
{
	io_stats_read(&q->st, out);
}

/*
 * Management thread: the steering program must still be attached where we put it (someone
 * may detach it: ip link set dev IF xdp off), and the interface up. One netlink query and
 * one ioctl; process-wide, so every AF_XDP queue reports the same.
 */
static int xsk_check(const struct io_queue *q, char *why, size_t cap)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, o);
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	struct ifreq ifr;
	int fd, rc;

	(void)q;
	if (xg.skel == NULL || !xg.attached)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(xg.skel->progs.pharos_steer), &info, &len) < 0)
		return 0;	/* cannot tell: not a verdict */
	rc = bpf_xdp_query(xg.ifindex, 0, &o);
	if (rc == -ENODEV) {
		snprintf(why, cap, "%s: the interface is gone", xg.iface);
		return 1;
	}
	if (rc == 0 && o.prog_id != info.id) {
		if (o.prog_id == 0)
			snprintf(why, cap, "%s: XDP program %s (id %u) was detached", xg.iface,
				 PHAROS_XDP_PROG_NAME, info.id);
		else
			snprintf(why, cap, "%s: XDP program %s (id %u) was replaced by id %u",
				 xg.iface, PHAROS_XDP_PROG_NAME, info.id, o.prog_id);
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", xg.iface);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -1 : ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
		snprintf(why, cap, "%s: the interface is down", xg.iface);
		return 1;
	}
	return 0;
}

const struct io_ops io_afxdp_ops = {
	.name = "afxdp",
	.setup = xsk_setup,
	.teardown = xsk_teardown,
	.init = xsk_init,
	.rx_burst = xsk_rx_burst,
	.tx_burst = xsk_tx_burst,
	.release = xsk_release,
	.wait = xsk_wait,
	.stats = xsk_stats,
	.check = xsk_check,
	.fini = xsk_fini,
};
