/* Anycast health state machine: decides announce or withdraw from timestamped signals. */
#include "health.h"

#include <stdio.h>
#include <string.h>

const char *health_state_name(enum health_state s)
{
	static const char *const names[] = { "init", "up", "down", "draining" };

	return names[s];
}

static void health_copy(char *dst, const char *src)
{
	snprintf(dst, HEALTH_REASON_MAX, "%s", src ? src : "");
}

/* Recompute the announced state from verdict and drain; 1 when it changed. */
static int health_settle(struct health *h, int64_t now, const char *reason)
{
	enum health_state s = h->drain ? HEALTH_DRAINING : h->verdict;

	if (s == h->state)
		return 0;
	h->state = s;
	h->changed_ms = now;
	health_copy(h->reason, reason);
	return 1;
}

void health_init(struct health *h, const struct health_conf *conf, int64_t now)
{
	memset(h, 0, sizeof(*h));
	health_set_conf(h, conf);
	h->state = h->verdict = HEALTH_INIT;
	h->changed_ms = now;
	health_copy(h->reason, "starting: waiting for the first complete evaluation");
}

void health_set_conf(struct health *h, const struct health_conf *conf)
{
	h->conf = *conf;
	if (h->conf.rise < 1)
		h->conf.rise = 1;
	if (h->conf.fall < 1)
		h->conf.fall = 1;
	if (h->conf.grace_ms < 0)
		h->conf.grace_ms = 0;
}

int health_hard(struct health *h, int64_t now, int ok, const char *reason)
{
	char why[HEALTH_REASON_MAX];

	if (ok) {
		h->hard_bad = 0;
		h->hard_reason[0] = '\0';
		return 0;
	}
	h->hard_bad = 1;
	health_copy(h->hard_reason, reason);
	h->good = 0;		/* coming back needs `rise` good evaluations after this */
	if (h->verdict != HEALTH_UP)
		return 0;	/* INIT stays INIT: it never announced */
	h->verdict = HEALTH_DOWN;
	snprintf(why, sizeof(why), "hard: %s", reason ? reason : "");
	return health_settle(h, now, why);
}

int health_soft(struct health *h, int64_t now, int ok, const char *reason)
{
	char why[HEALTH_REASON_MAX];

	if (!ok) {
		health_copy(h->soft_reason, reason);
		h->good = 0;
		h->bad++;
		if (h->verdict == HEALTH_DOWN ||
		    (h->verdict == HEALTH_UP && h->bad < h->conf.fall))
			return 0;
		h->verdict = HEALTH_DOWN;
		snprintf(why, sizeof(why), "soft: %d failed check(s): %s", h->bad,
			 reason ? reason : "");
		return health_settle(h, now, why);
	}
	h->soft_reason[0] = '\0';
	h->bad = 0;
	if (h->hard_bad)
		return 0;	/* a pass does not count while a hard signal fails */
	h->good++;
	if (h->verdict == HEALTH_UP || (h->verdict == HEALTH_DOWN && h->good < h->conf.rise))
		return 0;
	if (h->verdict == HEALTH_INIT)
		snprintf(why, sizeof(why), "first complete evaluation passed");
	else
		snprintf(why, sizeof(why), "soft: %d good check(s) in a row", h->good);
	h->verdict = HEALTH_UP;
	return health_settle(h, now, why);
}

int health_drain(struct health *h, int64_t now, int on, const char *reason)
{
	char why[HEALTH_REASON_MAX];

	if (on && !h->drain)
		h->drain_ms = now;
	h->drain = on;
	snprintf(why, sizeof(why), "%s: %s", on ? "drain" : "undrain", reason ? reason : "");
	return health_settle(h, now, why);
}

int health_drained(const struct health *h, int64_t now)
{
	return h->drain && now - h->drain_ms >= h->conf.grace_ms;
}

int health_announce(const struct health *h)
{
	return h->state == HEALTH_UP;
}
