/* XDP steering: UDP/53 DNS queries to a service address go to the RX queue's AF_XDP socket. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "pharos/xdp.h"

/* Map layouts: include/pharos/xdp.h. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PHAROS_XDP_SERVICES_MAX);
	__type(key, struct pharos_xdp_svc);
	__type(value, __u32);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, PHAROS_XDP_QUEUES_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pharos_xdp_counters);
} counters SEC(".maps");

enum steer_verdict {
	STEER_PASS,		/* not for us: the kernel */
	STEER_MALFORMED,	/* headers do not fit: the kernel (which drops them) */
	STEER_QUERY,		/* a DNS query to a service address: the AF_XDP socket */
};

struct steer_vlan {
	__be16 tci;
	__be16 proto;
};

#define STEER_IP_FRAG	0x3fff	/* MF flag and fragment offset */
#define STEER_DNS_HDR	12
#define STEER_DNS_QR_OP	0xf8	/* QR bit and OPCODE in the third header byte */

/* Ethernet and at most one 802.1Q tag; *pos moves past them. Returns the EtherType or 0. */
static __always_inline __be16 steer_l2(void **pos, void *end)
{
	struct ethhdr *eth = *pos;
	struct steer_vlan *vlan;

	if ((void *)(eth + 1) > end)
		return 0;
	*pos = eth + 1;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q))
		return eth->h_proto;
	vlan = *pos;
	if ((void *)(vlan + 1) > end)
		return 0;
	*pos = vlan + 1;
	return vlan->proto;
}

/*
 * IPv4 without options and not a fragment, carrying UDP: the destination goes into key
 * (IPv4-mapped) and *pos moves to the UDP header. Options and fragments go to the kernel.
 */
static __always_inline int steer_ipv4(void **pos, void *end, struct pharos_xdp_svc *key)
{
	struct iphdr *ip = *pos;

	if ((void *)(ip + 1) > end)
		return STEER_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return STEER_MALFORMED;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5 || (ip->frag_off & bpf_htons(STEER_IP_FRAG)))
		return STEER_PASS;
	key->addr[10] = 0xff;
	key->addr[11] = 0xff;
	__builtin_memcpy(&key->addr[12], &ip->daddr, 4);
	*pos = ip + 1;
	return STEER_QUERY;
}

/* IPv6 whose next header is UDP (a fragment header or any extension: the kernel). */
static __always_inline int steer_ipv6(void **pos, void *end, struct pharos_xdp_svc *key)
{
	struct ipv6hdr *ip6 = *pos;

	if ((void *)(ip6 + 1) > end)
		return STEER_MALFORMED;
	if (ip6->version != 6)
		return STEER_MALFORMED;
	if (ip6->nexthdr != IPPROTO_UDP)
		return STEER_PASS;
	__builtin_memcpy(key->addr, &ip6->daddr, 16);
	*pos = ip6 + 1;
	return STEER_QUERY;
}

/* UDP to port 53 of a service address with a DNS header saying QUERY, QR clear. */
static __always_inline int steer_udp(void *pos, void *end, const struct pharos_xdp_svc *key)
{
	struct udphdr *udp = pos;
	__u8 *dns = (__u8 *)(udp + 1);

	if ((void *)(udp + 1) > end)
		return STEER_MALFORMED;
	if (udp->dest != bpf_htons(PHAROS_XDP_DNS_PORT))
		return STEER_PASS;
	if (bpf_map_lookup_elem(&services, key) == NULL)
		return STEER_PASS;
	if ((void *)(dns + STEER_DNS_HDR) > end)
		return STEER_MALFORMED;
	if (dns[2] & STEER_DNS_QR_OP)
		return STEER_PASS;	/* responses, NOTIFY, UPDATE...: the kernel socket */
	return STEER_QUERY;
}

static __always_inline int steer_classify(void *pos, void *end)
{
	struct pharos_xdp_svc key = {};
	__be16 proto = steer_l2(&pos, end);
	int v;

	if (proto == 0)
		return STEER_MALFORMED;
	if (proto == bpf_htons(ETH_P_IP))
		v = steer_ipv4(&pos, end, &key);
	else if (proto == bpf_htons(ETH_P_IPV6))
		v = steer_ipv6(&pos, end, &key);
	else
		return STEER_PASS;	/* ARP, LLDP, ... */
	if (v != STEER_QUERY)
		return v;
	return steer_udp(pos, end, &key);
}

SEC("xdp")
int pharos_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct pharos_xdp_counters *c;
	__u32 zero = 0, queue = ctx->rx_queue_index;
	int v = steer_classify(data, end);

	c = bpf_map_lookup_elem(&counters, &zero);
	if (c == NULL)
		return XDP_PASS;	/* cannot happen: a one-entry array */
	if (v == STEER_QUERY) {
		/* an XSKMAP lookup says whether a socket is bound to this queue */
		if (bpf_map_lookup_elem(&xsks, &queue) != NULL) {
			c->redirected++;
			return bpf_redirect_map(&xsks, queue, XDP_PASS);
		}
		c->unbound++;
	} else if (v == STEER_MALFORMED) {
		c->malformed++;
	}
	c->passed++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
