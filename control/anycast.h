/* Anycast in pharos-control: samples the signals, drives health, applies route hooks, drain. */
#ifndef PHAROS_ANYCAST_H
#define PHAROS_ANYCAST_H

#include <stdint.h>

#include "ctl.h"
#include "health.h"
#include "probe.h"
#include "route.h"

/* Why a drain is on; bits. */
enum anycast_drain {
	ANYCAST_DRAIN_OPERATOR = 1,	/* pharosctl drain */
	ANYCAST_DRAIN_FILE = 2,		/* the drain-file exists */
	ANYCAST_DRAIN_SHUTDOWN = 4,	/* SIGTERM: withdraw, grace, stop */
};

struct anycast {
	struct health h;
	struct route r;
	struct probe p;
	unsigned drain;			/* enum anycast_drain bits */
	int64_t next_sample_ms, next_eval_ms;
	int64_t stop_ms;		/* shutdown: stop from then on (grace after the withdraw) */
	int was_connected;
};

/* Start in INIT; attaches to c (c->anycast) for the operator commands. */
void anycast_init(struct anycast *ac, struct ctl *c);

/* Detach; kills nothing (a running hook finishes on its own). */
void anycast_fini(struct anycast *ac, struct ctl *c);

/* Sample hard signals when due, run/poll the SOA probes, follow the drain file, apply hooks. */
void anycast_tick(struct anycast *ac, struct ctl *c);

/* Milliseconds until anycast_tick() has work, for poll(). */
int anycast_timeout_ms(const struct anycast *ac, const struct ctl *c);

/* SIGTERM: withdraw now (drain "shutdown"); the daemon stops once anycast_can_stop(). */
void anycast_shutdown(struct anycast *ac, struct ctl *c);

/*
 * 1 when a shutdown may end: every hook applied the withdraw, and the grace period passed
 * since the prefixes were last withdrawn (at once when they were never announced, or no
 * anycast prefix is configured).
 */
int anycast_can_stop(const struct anycast *ac, const struct ctl *c);

/*
 * Operator drain on or off. Returns 0, or PHAROS_EEXIST for undrain while the drain file
 * still exists (msg says so).
 */
int anycast_drain_set(struct anycast *ac, struct ctl *c, int on, char *msg, size_t cap);

/* "operator", "drain file PATH", "shutdown" joined by ", " into out; "" when not draining. */
const char *anycast_drain_why(const struct anycast *ac, const struct ctl *c, char *out,
			      size_t cap);

/* Monotonic ms now. */
int64_t anycast_now_ms(void);

/* Unix ms of a monotonic ms value (for display). */
int64_t anycast_wall_ms(int64_t mono_ms);

#endif
