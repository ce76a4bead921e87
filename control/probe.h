/* Health probe: real SOA queries over UDP through the dataplane's answer path, non-blocking. */
#ifndef PHAROS_PROBE_H
#define PHAROS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_WHY_MAX	512

/* One query of a round. */
struct probe_query {
	char origin[256];
	uint32_t expect;	/* serial the zone must answer with */
	uint16_t id;
	int done;
};

/* A round: one SOA query per zone, sent together from one fresh UDP socket. */
struct probe {
	int fd;			/* -1 = no round in flight */
	struct probe_query *q;
	size_t n, answered;
	int64_t deadline_ms;
	int timeout_ms;
	int failed;
	char why[PROBE_WHY_MAX];	/* first failure of the round */
};

/* Nothing in flight. */
void probe_init(struct probe *p);

/*
 * Start a round: a new UDP socket connected to addr ("ADDR:PORT"), one SOA query per
 * origin (expect[i] = serial origin[i] must answer). The socket is new each round, so the
 * source port changes and SO_REUSEPORT spreads the rounds over the dataplane's workers.
 * Returns 0, or a negative error with the reason in p->why (the round is then failed).
 */
int probe_start(struct probe *p, const char *addr, const char *const *origins,
		const uint32_t *expect, size_t n, int timeout_ms, int64_t now);

/*
 * Read the replies that came. Returns 1 when the round is over (every zone answered
 * correctly: *ok = 1; a wrong answer or the timeout: *ok = 0 and p->why says which zone
 * and why), 0 while waiting. Never blocks.
 */
int probe_poll(struct probe *p, int64_t now, int *ok);

/* 1 while a round is in flight. */
int probe_busy(const struct probe *p);

/* Drop a round in flight. */
void probe_stop(struct probe *p);

/*
 * Check one reply (pure, for tests): DNS message of len bytes answering the SOA query of
 * origin with id; ok when NOERROR, AA, and the answer holds origin's SOA with serial
 * expect. Returns 0 (correct), 1 (not ours: other id or not a response) or -1 (wrong,
 * why filled).
 */
int probe_check(const uint8_t *msg, size_t len, const char *origin, uint16_t id,
		uint32_t expect, char *why, size_t whylen);

#endif
