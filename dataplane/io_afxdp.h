/* AF_XDP backend (io_afxdp_ops in io.h): what the rest of the dataplane may ask it. */
#ifndef PHAROS_IO_AFXDP_H
#define PHAROS_IO_AFXDP_H

#include "pharos/xdp.h"

#define XSK_FRAME_SIZE		2048u	/* UMEM frame: 256 B kernel headroom + packet */
#define XSK_FRAMES_MAX		4096u	/* per queue (CAP_IPC_LOCK, or memlock allows) */
#define XSK_FRAMES_MIN		128u	/* fewer cannot keep a 32-packet burst moving */
#define XSK_MEMLOCK_SPARE	(512u << 10)	/* RLIMIT_MEMLOCK left for everything else */

/*
 * Sum of the steering program's per-CPU counters. Returns 0, or PHAROS_ENOTFOUND when the
 * AF_XDP backend is not set up in this process. Safe from any thread after setup.
 */
int io_afxdp_counters(struct pharos_xdp_counters *out);

#endif
