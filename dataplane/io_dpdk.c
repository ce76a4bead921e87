/* DPDK backend: ethdev queues answered in place; a net_tap port carries all else to the kernel. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>
#include "pharos/err.h"
#include "io.h"
#include "io_dpdk.h"

#define DPDK_ARGS_MAX	64	/* words in --eal */
#define DPDK_NIC_DESC	1024	/* RX and TX ring entries per NIC queue */
/*
 * mbufs per NIC queue. net_af_xdp alone keeps 2048 in its fill ring, plus up to DPDK_NIC_DESC
 * in each of its RX and TX rings, plus one batch and the per-lcore cache: 8191 leaves room
 * (8191 * ~2.3 KiB = 19 MiB per queue, from hugepages or from -m with --no-huge).
 */
#define DPDK_NIC_MBUFS	8191
#define DPDK_NIC_CACHE	256
#define DPDK_TAP_DESC	256	/* net_tap takes this many mbufs per RX queue up front */
#define DPDK_TAP_MBUFS	1023
#define DPDK_TAP_CACHE	32
#define DPDK_TTL	64	/* hop limit of our answers (the kernel's default) */
#define DPDK_DNS_PORT	53

/*
 * The process-wide side, written by setup (main thread, before any worker) and read-only
 * afterwards: one NIC port whose queue i belongs to worker i, and an optional net_tap port
 * whose queue i the same worker drains towards the NIC.
 */
static struct {
	int eal;			/* rte_eal_init succeeded */
	int nic_up, tap_up;		/* started */
	int has_tap;
	uint16_t nic, tap;
	uint16_t mtu;			/* NIC MTU: no answer grows past it (we never fragment) */
	unsigned nq;
	struct rte_mempool **pools;	/* nq NIC pools, then nq tap pools */
	struct io_queue **queues;	/* nq, set by init, cleared by fini: for the counters */
	uint32_t v4[IO_ADDR_MAX];	/* service addresses, network order */
	unsigned nv4;
	uint8_t v6[IO_ADDR_MAX][16];
	unsigned nv6;
} dp;

/*
 * One worker's queue pair. q[slot] is the mbuf behind io_pkt.slot for the current batch
 * only: every packet comes back through tx_burst or release before the next rx_burst.
 */
struct io_queue {
	struct io_stats st;
	/* the exception path (io_dpdk_info): written by this worker only, read relaxed */
	uint64_t to_kernel, from_kernel, kernel_dropped;
	uint16_t qid;
	uint8_t registered;		/* rte_thread_register() tried on the worker thread */
	struct rte_mbuf *q[IO_BURST];	/* queries of the batch, by slot */
	uint16_t l3[IO_BURST];		/* their L3 offset (14, or 18 with an 802.1Q tag) */
	uint8_t v6[IO_BURST];
	struct rte_mbuf *rx[IO_BURST];	/* scratch: one rte_eth_rx_burst */
	struct rte_mbuf *exc[IO_BURST];	/* scratch: what goes to the kernel */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* --- set-up -------------------------------------------------------------------------- */

/* Does the user's --eal already choose the lcores? */
static int dpdk_has_lcores(char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "-l", 2) == 0 || strncmp(argv[i], "-c", 2) == 0 ||
		    strncmp(argv[i], "--lcores", 8) == 0)
			return 1;
	return 0;
}

/*
 * rte_eal_init with the words of args. We add --log-level=notice first (the user's own
 * --log-level comes later and wins) and, when args choose no lcore, "-l CPU" with the
 * first CPU we may run on: the EAL then starts no thread per core, and our workers (plain
 * pthreads) are not EAL lcores anyway. The EAL pins the calling thread to its main lcore;
 * we give the main thread its affinity back, so threads started later inherit ours.
 */
static int dpdk_eal(const char *args, char *err, size_t errlen)
{
	static char buf[4096], cpu[16];
	static char *argv[DPDK_ARGS_MAX + 4];
	int argc = 0, rc;
	cpu_set_t set;
	char *save = NULL;

	if (strlen(args) >= sizeof(buf)) {
		snprintf(err, errlen, "--eal: longer than %zu bytes", sizeof(buf) - 1);
		return PHAROS_EINVAL;
	}
	strcpy(buf, args);
	argv[argc++] = "pharos-dataplane";
	argv[argc++] = "--log-level=notice";
	for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (argc >= DPDK_ARGS_MAX) {
			snprintf(err, errlen, "--eal: more than %d words", DPDK_ARGS_MAX - 2);
			return PHAROS_EINVAL;
		}
		argv[argc++] = w;
	}
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		CPU_ZERO(&set);
	if (!dpdk_has_lcores(argv, argc)) {
		int c = 0;

		while (c < CPU_SETSIZE - 1 && !CPU_ISSET(c, &set))
			c++;
		snprintf(cpu, sizeof(cpu), "%d", c);
		argv[argc++] = "-l";
		argv[argc++] = cpu;
	}
	argv[argc] = NULL;
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		snprintf(err, errlen, "EAL init failed (--eal \"%s\"): %s", args,
			 rte_strerror(rte_errno));
		return PHAROS_EINVAL;
	}
	dp.eal = 1;
	if (CPU_COUNT(&set) > 0)
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return 0;
}

/* One NIC port (any driver but net_tap) and at most one net_tap port. */
static int dpdk_ports_find(char *err, size_t errlen)
{
	unsigned nnic = 0, ntap = 0;
	uint16_t p;

	RTE_ETH_FOREACH_DEV(p) {
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(p, &info) != 0)
			continue;
		if (strcmp(info.driver_name, "net_tap") == 0) {
			dp.tap = p;
			ntap++;
		} else {
			dp.nic = p;
			nnic++;
		}
	}
	if (nnic != 1 || ntap > 1) {
		snprintf(err, errlen, "need exactly one NIC port and at most one net_tap port, "
			 "found %u and %u (check --vdev / PCI devices in --eal)", nnic, ntap);
		return PHAROS_ECONFIG;
	}
	dp.has_tap = ntap == 1;
	return 0;
}

/* nq RX/TX queue pairs on port p, RX mbufs from pools[0..nq). RSS only where it exists. */
static int dpdk_port_setup(uint16_t p, unsigned nq, uint16_t desc, struct rte_mempool **pools,
			   char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = desc, ntx = desc;
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	int rc;

	rte_eth_dev_get_name_by_port(p, name);
	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_info_get(p, &info)) != 0)
		goto fail;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		snprintf(err, errlen, "port %s has %u RX / %u TX queues, %u workers need as many "
			 "(net_af_xdp: queue_count=N, and N combined channels on the interface)",
			 name, info.max_rx_queues, info.max_tx_queues, nq);
		return PHAROS_ECONFIG;
	}
	conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
					   (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
	if (nq > 1 && conf.rx_adv_conf.rss_conf.rss_hf != 0) {
		/* spread flows over the queues; without RSS the device's own spreading is used */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	} else {
		conf.rx_adv_conf.rss_conf.rss_hf = 0;
	}
	if ((rc = rte_eth_dev_configure(p, (uint16_t)nq, (uint16_t)nq, &conf)) != 0 ||
	    (rc = rte_eth_dev_adjust_nb_rx_tx_desc(p, &nrx, &ntx)) != 0)
		goto fail;
	for (unsigned i = 0; i < nq; i++) {
		int sock = rte_eth_dev_socket_id(p);

		if (sock < 0)
			sock = (int)rte_socket_id();
		if ((rc = rte_eth_rx_queue_setup(p, (uint16_t)i, nrx, (unsigned)sock, NULL,
						 pools[i])) != 0 ||
		    (rc = rte_eth_tx_queue_setup(p, (uint16_t)i, ntx, (unsigned)sock, NULL)) != 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "port %s: queue set-up failed: %s", name, rte_strerror(-rc));
	return PHAROS_EIO;
}

/* One mbuf pool per queue and port, on the port's NUMA node. */
static int dpdk_pools(unsigned nq, char *err, size_t errlen)
{
	dp.pools = calloc(2 * nq, sizeof(*dp.pools));
	if (dp.pools == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	for (unsigned i = 0; i < 2 * nq; i++) {
		int tap = i >= nq;
		char name[RTE_MEMPOOL_NAMESIZE];
		int sock;

		if (tap && !dp.has_tap)
			break;
		sock = rte_eth_dev_socket_id(tap ? dp.tap : dp.nic);
		snprintf(name, sizeof(name), "pharos_%s%u", tap ? "tap" : "nic", i % nq);
		dp.pools[i] = rte_pktmbuf_pool_create(name, tap ? DPDK_TAP_MBUFS : DPDK_NIC_MBUFS,
						      tap ? DPDK_TAP_CACHE : DPDK_NIC_CACHE, 0,
						      RTE_MBUF_DEFAULT_BUF_SIZE,
						      sock < 0 ? SOCKET_ID_ANY : sock);
		if (dp.pools[i] == NULL) {
			snprintf(err, errlen, "mbuf pool %s: %s (hugepages: tools/hugepages.sh; "
				 "--no-huge: raise -m)", name, rte_strerror(rte_errno));
			return PHAROS_ENOMEM;
		}
	}
	return 0;
}

/*
 * The kernel side of the tap answers ARP/ND for the service addresses, so it must carry
 * the NIC's MAC (and MTU): frames the NIC receives for us are then frames for it too.
 */
static int dpdk_tap_mirror(char *err, size_t errlen)
{
	struct rte_ether_addr mac;
	int rc;

	if ((rc = rte_eth_macaddr_get(dp.nic, &mac)) != 0 ||
	    (rc = rte_eth_dev_default_mac_addr_set(dp.tap, &mac)) != 0) {
		snprintf(err, errlen, "tap port: cannot take the NIC's MAC: %s", rte_strerror(-rc));
		return PHAROS_EIO;
	}
	(void)rte_eth_dev_set_mtu(dp.tap, dp.mtu);	/* best effort: 1500 on both by default */
	return 0;
}

/* Service addresses, split by family, for the per-packet match. */
static int dpdk_services(const struct io_conf *conf, char *err, size_t errlen)
{
	if (conf->nservices == 0 || conf->nservices > IO_ADDR_MAX) {
		snprintf(err, errlen, "need 1 to %d --service addresses", IO_ADDR_MAX);
		return PHAROS_EINVAL;
	}
	dp.nv4 = dp.nv6 = 0;
	for (unsigned i = 0; i < conf->nservices; i++) {
		const struct sockaddr_storage *ss = &conf->services[i].ss;

		if (ss->ss_family == AF_INET)
			dp.v4[dp.nv4++] = ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
		else
			memcpy(dp.v6[dp.nv6++], &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
	return 0;
}

static void dpdk_teardown(void)
{
	if (dp.nic_up)
		rte_eth_dev_stop(dp.nic);
	if (dp.tap_up)
		rte_eth_dev_stop(dp.tap);
	if (dp.eal) {
		uint16_t p;

		RTE_ETH_FOREACH_DEV(p)
			rte_eth_dev_close(p);
	}
	for (unsigned i = 0; dp.pools && i < 2 * dp.nq; i++)
		rte_mempool_free(dp.pools[i]);
	free(dp.pools);
	free(dp.queues);
	if (dp.eal)
		rte_eal_cleanup();
	memset(&dp, 0, sizeof(dp));
}

static int dpdk_setup(const struct io_conf *conf, unsigned nq, char *err, size_t errlen)
{
	int rc;

	if (conf->eal_args == NULL || conf->eal_args[0] == '\0') {
		snprintf(err, errlen, "--eal is required (e.g. \"--no-pci --in-memory "
			 "--vdev net_af_xdp0,iface=eth1 --vdev net_tap0,iface=ptap0\")");
		return PHAROS_EINVAL;
	}
	if (nq == 0 || nq > RTE_MAX_QUEUES_PER_PORT) {
		snprintf(err, errlen, "%u workers: 1 to %d queues per port", nq,
			 RTE_MAX_QUEUES_PER_PORT);
		return PHAROS_EINVAL;
	}
	if ((rc = dpdk_services(conf, err, errlen)) < 0 ||
	    (rc = dpdk_eal(conf->eal_args, err, errlen)) < 0 ||
	    (rc = dpdk_ports_find(err, errlen)) < 0)
		goto fail;
	dp.nq = nq;
	dp.queues = calloc(nq, sizeof(*dp.queues));
	if (dp.queues == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = PHAROS_ENOMEM;
		goto fail;
	}
	if (rte_eth_dev_get_mtu(dp.nic, &dp.mtu) != 0 || dp.mtu < 576)
		dp.mtu = RTE_ETHER_MTU;
	if ((rc = dpdk_pools(nq, err, errlen)) < 0 ||
	    (rc = dpdk_port_setup(dp.nic, nq, DPDK_NIC_DESC, dp.pools, err, errlen)) < 0 ||
	    (dp.has_tap && (rc = dpdk_port_setup(dp.tap, nq, DPDK_TAP_DESC, dp.pools + nq,
						 err, errlen)) < 0))
		goto fail;
	if ((rc = rte_eth_dev_start(dp.nic)) != 0) {
		snprintf(err, errlen, "NIC port: start failed: %s", rte_strerror(-rc));
		rc = PHAROS_EIO;
		goto fail;
	}
	dp.nic_up = 1;
	/* ND needs the solicited-node multicast groups; not every driver filters at all */
	(void)rte_eth_allmulticast_enable(dp.nic);
	if (dp.has_tap) {
		if ((rc = rte_eth_dev_start(dp.tap)) != 0) {
			snprintf(err, errlen, "tap port: start failed: %s", rte_strerror(-rc));
			rc = PHAROS_EIO;
			goto fail;
		}
		dp.tap_up = 1;
		if ((rc = dpdk_tap_mirror(err, errlen)) < 0)
			goto fail;
	} else {
		fprintf(stderr, "pharos-dataplane: dpdk: no net_tap port: ARP, ND, ICMP, TCP and "
			"every other packet that is not a UDP query are dropped\n");
	}
	return 0;
fail:
	dpdk_teardown();
	return rc;
}

/* --- queues ---------------------------------------------------------------------------- */

static int dpdk_init(const struct io_conf *conf, unsigned worker, struct io_queue **out,
		     char *err, size_t errlen)
{
	struct io_queue *q;

	(void)conf;
	if (!dp.eal || worker >= dp.nq) {
		snprintf(err, errlen, "queue %u: the DPDK ports are not set up for it", worker);
		return PHAROS_EINVAL;
	}
	q = aligned_alloc(64, (sizeof(*q) + 63) & ~(size_t)63);
	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return PHAROS_ENOMEM;
	}
	memset(q, 0, sizeof(*q));
	q->qid = (uint16_t)worker;
	__atomic_store_n(&dp.queues[worker], q, __ATOMIC_RELEASE);
	*out = q;
	return 0;
}

static void dpdk_fini(struct io_queue *q)
{
	if (q != NULL && dp.queues != NULL)
		__atomic_store_n(&dp.queues[q->qid], NULL, __ATOMIC_RELEASE);
	free(q);
}

/*
 * Our workers are plain pthreads, not EAL lcores. rte_thread_register() gives the calling
 * thread an lcore id: rte_lcore_id() becomes valid there, so the mempools give it a private
 * cache and the mbuf allocations and frees of its queue (the PMD refilling its rings, our
 * frees) stay off the pool's shared ring. It acts on the calling thread, so the first
 * rx_burst of each queue does it, on the worker. If no lcore id is left (RTE_MAX_LCORE),
 * the thread works unregistered: the mempool then uses its thread-safe ring directly,
 * slower but correct. The id is left registered until the EAL cleans up at exit.
 */
static void dpdk_register(struct io_queue *q)
{
	q->registered = 1;
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
		fprintf(stderr, "pharos-dataplane: dpdk: queue %u: no lcore id left (%s): "
			"running without a mempool cache\n", q->qid, rte_strerror(rte_errno));
}

/* Is the address at p (4 or 16 bytes, network order) one of the service addresses? */
static int dpdk_svc4(const uint8_t *p)
{
	uint32_t dst;

	memcpy(&dst, p, 4);	/* 2-byte aligned only: no direct 32-bit load */
	for (unsigned i = 0; i < dp.nv4; i++)
		if (dp.v4[i] == dst)
			return 1;
	return 0;
}

static int dpdk_svc6(const uint8_t *dst)
{
	for (unsigned i = 0; i < dp.nv6; i++)
		if (memcmp(dp.v6[i], dst, 16) == 0)
			return 1;
	return 0;
}

/* The UDP header at u (ulen bytes of datagram available): port 53 and a QUERY with QR=0? */
static int dpdk_is_query(const uint8_t *u, unsigned ulen)
{
	/* 12 bytes of DNS header at least; byte 2 holds QR and the opcode */
	return ulen >= 8 + 12 && be16(u + 2) == DPDK_DNS_PORT && be16(u + 4) == ulen &&
	       (u[8 + 2] & 0xf8) == 0;
}

/*
 * Fill p if m is a DNS query for the fast path: Ethernet, at most one 802.1Q tag, IPv4
 * without options and not a fragment, or IPv6 with UDP as the first next header; UDP to a
 * service address port 53; opcode QUERY, QR clear. Anything else returns 0 (for the
 * kernel). The answer may grow up to the NIC MTU, never past it: we do not fragment.
 */
static int dpdk_classify(struct io_queue *q, struct rte_mbuf *m, unsigned slot,
			 struct io_pkt *p)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned len = m->data_len, l3 = RTE_ETHER_HDR_LEN, et, l4, ulen, room;

	if (unlikely(m->nb_segs != 1 || len < l3 + 20))
		return 0;
	et = be16(d + 12);
	if (et == RTE_ETHER_TYPE_VLAN) {
		et = be16(d + 16);
		l3 += 4;
	}
	if (et == RTE_ETHER_TYPE_IPV4) {
		const uint8_t *ip = d + l3;
		unsigned tot;

		if (len < l3 + 28 || ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
		    (be16(ip + 6) & 0x3fff) != 0)		/* MF or an offset: a fragment */
			return 0;
		tot = be16(ip + 2);
		if (tot < 28 || l3 + tot > len || !dpdk_svc4(ip + 16))
			return 0;
		l4 = l3 + 20;
		ulen = tot - 20;
		q->v6[slot] = 0;
	} else if (et == RTE_ETHER_TYPE_IPV6) {
		const uint8_t *ip = d + l3;

		if (len < l3 + 48 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
			return 0;
		ulen = be16(ip + 4);
		if (l3 + 40 + ulen > len || !dpdk_svc6(ip + 24))
			return 0;
		l4 = l3 + 40;
		q->v6[slot] = 1;
	} else {
		return 0;
	}
	if (!dpdk_is_query(d + l4, ulen))
		return 0;
	room = m->buf_len - m->data_off - (l4 + 8);
	if (room > dp.mtu - (l4 - l3) - 8u)
		room = dp.mtu - (l4 - l3) - 8u;
	q->q[slot] = m;
	q->l3[slot] = (uint16_t)l3;
	p->data = d + l4 + 8;
	p->len = (uint16_t)(ulen - 8);
	p->cap = (uint16_t)room;
	p->port = 0;
	p->slot = (uint16_t)slot;
	return 1;
}

/* Hand n packets to the kernel through tap queue qid (dropped when there is no tap). */
static void dpdk_to_kernel(struct io_queue *q, struct rte_mbuf **m, unsigned n)
{
	uint16_t sent = dp.has_tap ? rte_eth_tx_burst(dp.tap, q->qid, m, (uint16_t)n) : 0;

	IO_STAT_ADD(q->to_kernel, sent);
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(m + sent, n - sent);
		IO_STAT_ADD(q->kernel_dropped, n - sent);
	}
}

/*
 * What the kernel sends out of the tap (ARP/ND replies, ICMP, TCP, BGP, kernel UDP) goes to
 * the NIC on this worker's TX queue. net_tap reads only after its I/O signal fired, so an
 * idle tap costs a load and a compare per pass, no syscall.
 */
static void dpdk_from_kernel(struct io_queue *q)
{
	uint16_t n = rte_eth_rx_burst(dp.tap, q->qid, q->exc, IO_BURST), sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(dp.nic, q->qid, q->exc, n);
	IO_STAT_ADD(q->from_kernel, sent);
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(q->exc + sent, n - sent);
		IO_STAT_ADD(q->st.tx_errors, n - sent);
		IO_STAT_ADD(q->kernel_dropped, n - sent);
	}
}

static unsigned dpdk_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned max)
{
	unsigned n, k = 0, nexc = 0;

	if (unlikely(!q->registered))
		dpdk_register(q);
	if (max > IO_BURST)
		max = IO_BURST;
	if (dp.has_tap)
		dpdk_from_kernel(q);
	n = rte_eth_rx_burst(dp.nic, q->qid, q->rx, (uint16_t)max);
	IO_STAT_ADD(q->st.rx_calls, 1);
	if (n)
		IO_STAT_ADD(q->st.rx_ok, 1);
	for (unsigned i = 0; i < n; i++) {
		if (dpdk_classify(q, q->rx[i], k, &pkts[k]))
			k++;
		else
			q->exc[nexc++] = q->rx[i];
	}
	if (nexc)
		dpdk_to_kernel(q, q->exc, nexc);
	return k;
}

/* Turn the query in m into its answer of len DNS bytes: swap, fix lengths and checksums. */
static void dpdk_answer(struct rte_mbuf *m, unsigned l3, int v6, unsigned len)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ether_addr mac = eth->dst_addr;
	unsigned iphl = v6 ? 40 : 20;
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(d + l3 + iphl);
	uint16_t port = udp->src_port;

	eth->dst_addr = eth->src_addr;		/* an 802.1Q tag in between stays as it was */
	eth->src_addr = mac;
	udp->src_port = udp->dst_port;
	udp->dst_port = port;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
	udp->dgram_cksum = 0;
	if (v6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(d + l3);
		uint8_t a[16];

		memcpy(a, ip->src_addr, 16);
		memcpy(ip->src_addr, ip->dst_addr, 16);
		memcpy(ip->dst_addr, a, 16);
		ip->payload_len = udp->dgram_len;
		ip->hop_limits = DPDK_TTL;
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);	/* mandatory in IPv6 */
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + l3);
		uint32_t a = ip->src_addr;

		ip->src_addr = ip->dst_addr;
		ip->dst_addr = a;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + len));
		ip->time_to_live = DPDK_TTL;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
	m->data_len = (uint16_t)(l3 + iphl + 8 + len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
}

static unsigned dpdk_tx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	struct rte_mbuf **out = q->rx;	/* free again: the batch's mbufs are all in q->q */
	unsigned sent = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned s = pkts[i].slot;

		dpdk_answer(q->q[s], q->l3[s], q->v6[s], pkts[i].len);
		out[i] = q->q[s];
	}
	/* a full TX ring usually drains within a few tries; give up once nothing moves */
	while (sent < n) {
		uint16_t k = rte_eth_tx_burst(dp.nic, q->qid, out + sent, (uint16_t)(n - sent));

		IO_STAT_ADD(q->st.tx_calls, 1);
		if (k == 0)
			break;
		sent += k;
	}
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(out + sent, n - sent);
		IO_STAT_ADD(q->st.tx_errors, n - sent);
	}
	return sent;
}

static void dpdk_release(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(q->q[pkts[i].slot]);
}

static void dpdk_stats(const struct io_queue *q, struct io_stats *out)
{
	io_stats_read(&q->st, out);
}

int io_dpdk_info(struct ipc_backend_info *out)
{
	struct rte_eth_stats st;

	if (!dp.nic_up || dp.queues == NULL)
		return PHAROS_ENOTFOUND;
	snprintf(out->backend, sizeof(out->backend), "dpdk");
	/* a driver without stats (-ENOTSUP) leaves the port's counters at 0 */
	if (rte_eth_stats_get(dp.nic, &st) == 0) {
		out->dpdk_rx = st.ipackets;
		out->dpdk_tx = st.opackets;
		out->dpdk_missed = st.imissed;
		out->dpdk_rx_errors = st.ierrors;
		out->dpdk_tx_errors = st.oerrors;
		out->dpdk_no_mbuf = st.rx_nombuf;
	}
	for (unsigned i = 0; i < dp.nq; i++) {
		const struct io_queue *q = __atomic_load_n(&dp.queues[i], __ATOMIC_ACQUIRE);

		if (q == NULL)
			continue;
		out->dpdk_to_kernel += IO_STAT_GET(q->to_kernel);
		out->dpdk_from_kernel += IO_STAT_GET(q->from_kernel);
		out->dpdk_kernel_dropped += IO_STAT_GET(q->kernel_dropped);
	}
	return 0;
}

/* Management thread: the NIC port's link must be up (rte_eth_link_get_nowait: no wait). */
static int dpdk_check(const struct io_queue *q, char *why, size_t cap)
{
	struct rte_eth_link link;

	(void)q;
	if (!dp.nic_up)
		return 0;
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(dp.nic, &link) != 0)
		return 0;	/* the driver cannot tell: not a verdict */
	if (link.link_status == RTE_ETH_LINK_DOWN) {
		snprintf(why, cap, "DPDK port %u: link down", dp.nic);
		return 1;
	}
	return 0;
}

const struct io_ops io_dpdk_ops = {
	.name = "dpdk",
	.setup = dpdk_setup,
	.teardown = dpdk_teardown,
	.init = dpdk_init,
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.release = dpdk_release,
	.wait = NULL,		/* busy-polling: the worker never sleeps */
	.stats = dpdk_stats,
	.check = dpdk_check,
	.fini = dpdk_fini,
};
