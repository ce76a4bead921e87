/* BPF map layouts shared by xdp/pharos_steer.bpf.c and the AF_XDP backend (doc/afxdp.md). */
#ifndef PHAROS_XDP_H
#define PHAROS_XDP_H

/*
 * Included by the BPF program (clang -target bpf, linux/types.h) and by user space
 * (stdint.h): only fixed-width types, no padding, the same layout on both sides.
 */
#ifdef __bpf__
#include <linux/types.h>
typedef __u8 pharos_u8;
typedef __u32 pharos_u32;
typedef __u64 pharos_u64;
#else
#include <stdint.h>
typedef uint8_t pharos_u8;
typedef uint32_t pharos_u32;
typedef uint64_t pharos_u64;
#endif

#define PHAROS_XDP_PROG_NAME	"pharos_steer"	/* how a stale copy is recognised at start */
#define PHAROS_XDP_SERVICES_MAX	64	/* entries of the services map */
#define PHAROS_XDP_QUEUES_MAX	256	/* entries of the xsks map: RX queue index */
#define PHAROS_XDP_DNS_PORT	53

/*
 * Map "services", BPF_MAP_TYPE_HASH: key = a service address, value = pharos_u32 (1).
 * IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so one map holds both families.
 * Written by the dataplane at start-up, read by the program.
 */
struct pharos_xdp_svc {
	pharos_u8 addr[16];	/* network byte order */
};

/*
 * Map "xsks", BPF_MAP_TYPE_XSKMAP: key = RX queue index (pharos_u32), value = the AF_XDP
 * socket bound to that queue. A queue without an entry gets XDP_PASS.
 */

/*
 * Map "counters", BPF_MAP_TYPE_PERCPU_ARRAY with one entry (key 0): one of these per CPU,
 * written by the program without atomics, summed over CPUs by the reader.
 */
struct pharos_xdp_counters {
	pharos_u64 redirected;	/* DNS queries sent to an AF_XDP socket */
	pharos_u64 passed;	/* everything handed to the kernel (XDP_PASS), malformed included */
	pharos_u64 malformed;	/* truncated or inconsistent Ethernet/VLAN/IP/UDP/DNS headers */
	pharos_u64 unbound;	/* DNS queries passed because no socket is bound to the queue */
};

#endif
