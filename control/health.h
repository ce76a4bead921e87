/* Anycast health state machine: hard and soft signals, rise/fall, drain, grace (doc/anycast.md). */
#ifndef PHAROS_HEALTH_H
#define PHAROS_HEALTH_H

#include <stdint.h>

#define HEALTH_REASON_MAX	512

/*
 * States. Only UP announces the service prefixes. INIT lasts until the first complete
 * evaluation (every zone loaded and checked): a PoP never announces before that.
 */
enum health_state {
	HEALTH_INIT = 0,
	HEALTH_UP,
	HEALTH_DOWN,
	HEALTH_DRAINING,	/* withdrawn on purpose; keeps answering */
};

struct health_conf {
	int rise;		/* consecutive good soft evaluations to go DOWN -> UP */
	int fall;		/* consecutive bad soft evaluations to go UP -> DOWN */
	int64_t grace_ms;	/* draining for this long = "drained" */
};

/*
 * The machine. Pure: no clock, no I/O; every input carries the time it was observed
 * (monotonic milliseconds), so tests drive it with made-up times.
 */
struct health {
	struct health_conf conf;
	enum health_state state;	/* what is announced follows this */
	enum health_state verdict;	/* INIT, UP or DOWN: health without the drain */
	int hard_bad;			/* a hard signal fails now */
	int good, bad;			/* streaks of soft evaluations */
	int drain;			/* drain requested (operator, file, shutdown) */
	int64_t drain_ms;		/* when the drain started */
	int64_t changed_ms;		/* when state last changed */
	char reason[HEALTH_REASON_MAX];		/* why state last changed */
	char hard_reason[HEALTH_REASON_MAX];	/* the failing hard signal, "" = none */
	char soft_reason[HEALTH_REASON_MAX];	/* last failing soft evaluation, "" = passed */
};

/* Start in INIT at time now. */
void health_init(struct health *h, const struct health_conf *conf, int64_t now);

/* Change rise/fall/grace (config reload); streaks are kept. */
void health_set_conf(struct health *h, const struct health_conf *conf);

/*
 * A hard signal sample: ok = 0 with a reason acts at once (UP -> DOWN, no fall count, the
 * good streak restarts). ok = 1 clears it; the way back UP still needs `rise` good soft
 * evaluations. Returns 1 when state changed (then h->reason says why), else 0.
 */
int health_hard(struct health *h, int64_t now, int ok, const char *reason);

/*
 * One complete soft evaluation (every zone checked): ok, or not with a reason.
 * INIT -> UP on the first good one (with no hard failure), INIT -> DOWN on a bad one;
 * UP -> DOWN after `fall` bad in a row; DOWN -> UP after `rise` good in a row.
 * Returns 1 when state changed.
 */
int health_soft(struct health *h, int64_t now, int ok, const char *reason);

/*
 * Drain on (withdraw, keep answering) or off (back to what health says). reason is
 * "operator", "drain file ...", "shutdown". Returns 1 when state changed.
 */
int health_drain(struct health *h, int64_t now, int on, const char *reason);

/* 1 when draining for at least the grace period. */
int health_drained(const struct health *h, int64_t now);

/* 1 when the service prefixes should be announced. */
int health_announce(const struct health *h);

/* "init", "up", "down", "draining". */
const char *health_state_name(enum health_state s);

#endif
