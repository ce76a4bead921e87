/* DPDK backend (io_dpdk_ops in io.h): what the rest of the dataplane may ask it. */
#ifndef PHAROS_IO_DPDK_H
#define PHAROS_IO_DPDK_H

#include "pharos/ipc.h"

/*
 * pharosctl stats: fill out's backend ("dpdk") and dpdk_* counters (doc/dpdk.md,
 * "Counters"); the caller zeroed it. The port's counters come from the driver
 * (rte_eth_stats_get: net_af_xdp and net_af_packet read their queues' counters, and
 * net_af_xdp makes a getsockopt, never touching what the RX/TX bursts touch); the
 * exception path's are relaxed loads of per-queue counters only their worker writes.
 * Call from one thread at a time (the management thread), after setup and before
 * teardown. Returns 0, or PHAROS_ENOTFOUND when the DPDK backend is not set up.
 */
int io_dpdk_info(struct ipc_backend_info *out);

#endif
