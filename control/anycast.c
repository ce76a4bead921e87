/* Anycast glue of pharos-control: signals from the dataplane into health, health into routes. */
#include "anycast.h"
#include "secondary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pharos/err.h"

int64_t anycast_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t anycast_wall_ms(int64_t mono_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (anycast_now_ms() - mono_ms);
}

static struct health_conf anycast_hconf(const struct acconf *a)
{
	return (struct health_conf){ .rise = a->rise, .fall = a->fall, .grace_ms = a->grace_ms };
}

void anycast_init(struct anycast *ac, struct ctl *c)
{
	struct health_conf hc = anycast_hconf(&c->cfg->anycast);

	memset(ac, 0, sizeof(*ac));
	health_init(&ac->h, &hc, anycast_now_ms());
	route_init(&ac->r);
	probe_init(&ac->p);
	c->anycast = ac;
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
}

void anycast_fini(struct anycast *ac, struct ctl *c)
{
	probe_stop(&ac->p);
	c->anycast = NULL;
}

const char *anycast_drain_why(const struct anycast *ac, const struct ctl *c, char *out,
			      size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	if (ac->drain & ANYCAST_DRAIN_OPERATOR)
		n += (size_t)snprintf(out + n, cap - n, "operator");
	if ((ac->drain & ANYCAST_DRAIN_FILE) && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "%sdrain file %s", n ? ", " : "",
				      c->cfg->anycast.drain_file ? c->cfg->anycast.drain_file : "");
	if ((ac->drain & ANYCAST_DRAIN_SHUTDOWN) && n < cap)
		snprintf(out + n, cap - n, "%sshutdown", n ? ", " : "");
	return out;
}

/* Log a state change: one line, wall clock to the millisecond, the reason. */
static void anycast_log_state(const struct anycast *ac, enum health_state from)
{
	char stamp[40];

	route_stamp(stamp, sizeof(stamp));
	log_msg(ac->h.state == HEALTH_UP ? LOG_NOTICE : LOG_WARNING,
		"%s health %s -> %s: %s", stamp, health_state_name(from),
		health_state_name(ac->h.state), ac->h.reason);
}

/* Feed the drain sources into health. */
static int anycast_drain_apply(struct anycast *ac, const struct ctl *c, int64_t now)
{
	char why[512];

	anycast_drain_why(ac, c, why, sizeof(why));
	if (ac->drain && !ac->h.drain)
		return health_drain(&ac->h, now, 1, why);
	if (!ac->drain && ac->h.drain)
		return health_drain(&ac->h, now, 0, "no drain left");
	return 0;
}

static void anycast_drain_file(struct anycast *ac, const struct ctl *c)
{
	const char *f = c->cfg->anycast.drain_file;

	if (f != NULL && access(f, F_OK) == 0)
		ac->drain |= ANYCAST_DRAIN_FILE;
	else
		ac->drain &= ~(unsigned)ANYCAST_DRAIN_FILE;
}

/* A worker whose loop counter stood still longer than the bound, or -1. */
static long anycast_stuck(const struct ctl *c, int64_t now, int64_t bound, int64_t *age)
{
	for (size_t i = 0; i < c->worker_count; i++) {
		*age = now - c->workers[i].advanced_ms;
		if (*age > bound)
			return (long)i;
	}
	return -1;
}

/* A worker whose I/O the dataplane reports dead (IPC_WORKER_IO_FATAL), or -1. */
static long anycast_io_fatal(const struct dpconn_status *st)
{
	for (size_t i = 0; i < st->worker_count; i++)
		if (st->workers[i].flags & IPC_WORKER_IO_FATAL)
			return (long)i;
	return -1;
}

/*
 * Hard signals. The link is looked at on every tick (EOF is seen by poll() at once);
 * the loop counters are sampled every sample_ms with a status request that must be
 * answered within stuck_ms (a frozen dataplane answers nothing).
 */
static int anycast_hard(struct anycast *ac, struct ctl *c, int64_t now)
{
	const struct acconf *a = &c->cfg->anycast;
	struct dpconn_status st;
	char why[HEALTH_REASON_MAX];
	int64_t age = 0;
	long w;
	int rc, saved;

	if (!dpconn_connected(&c->dp)) {
		snprintf(why, sizeof(why), "%s", ctl_dp_stalled(c)
			 ? "dataplane not responding (no answer to a request or a new connection)"
			 : ac->was_connected ? "lost the dataplane (management socket closed)"
			 : "dataplane not connected");
		return health_hard(&ac->h, now, 0, why);
	}
	ac->was_connected = 1;
	if (now < ac->next_sample_ms)
		return 0;
	ac->next_sample_ms = now + a->sample_ms;
	saved = c->dp.timeout_ms;
	c->dp.timeout_ms = a->stuck_ms;
	rc = ctl_status(c, &st);
	c->dp.timeout_ms = saved;
	w = rc == 0 ? anycast_io_fatal(&st) : -1;
	if (w >= 0) {
		st.workers[w].io_error[IPC_WORKER_ERR_MAX - 1] = '\0';
		snprintf(why, sizeof(why), "%s %ld: fatal I/O error: %s",
			 (size_t)w + 1 == st.worker_count ? "tcp thread" : "worker", w,
			 st.workers[w].io_error);
	}
	dpconn_status_free(&st);
	now = anycast_now_ms();
	if (w >= 0)
		return health_hard(&ac->h, now, 0, why);
	if (rc == PHAROS_ETIMEOUT)
		snprintf(why, sizeof(why), "dataplane did not answer a status request within "
			 "%d ms", a->stuck_ms);
	else if (rc < 0)	/* the link broke during the request (it exited) */
		snprintf(why, sizeof(why), "lost the dataplane (management socket: %s)",
			 pharos_strerror(rc));
	if (rc < 0)
		return health_hard(&ac->h, now, 0, why);
	w = anycast_stuck(c, now, a->stuck_ms, &age);
	if (w >= 0) {
		snprintf(why, sizeof(why), "%s %ld loop counter stuck for %" PRId64 " ms",
			 (size_t)w + 1 == c->worker_count ? "tcp thread" : "worker", w, age);
		return health_hard(&ac->h, now, 0, why);
	}
	return health_hard(&ac->h, now, 1, NULL);
}

/* How far a secondary zone's served serial is behind its primary's (RFC 1982), 0 if not. */
static uint32_t anycast_lag(const struct ctl_zone *z)
{
	const struct sec_zone *s = z->sec;
	int32_t d;

	if (s == NULL || !s->have_primary_serial || !s->have_serial)
		return 0;
	d = (int32_t)(s->primary_serial - s->serial);
	return d > 0 ? (uint32_t)d : 0;
}

/*
 * Zone-level checks before the SOA round: every zone loaded, none expired, lag within
 * the bound. Returns 1 (go on), 0 (no evaluation: still starting), -1 (failed, why).
 */
static int anycast_zones_ready(struct anycast *ac, const struct ctl *c, char *why, size_t cap)
{
	const struct acconf *a = &c->cfg->anycast;

	if (c->zone_count == 0) {
		snprintf(why, cap, "no zone configured");
		return ac->h.verdict == HEALTH_INIT ? 0 : -1;
	}
	for (size_t i = 0; i < c->zone_count; i++) {
		const struct ctl_zone *z = &c->zones[i];

		if (ctl_zone_state(z) != CTL_ZONE_LOADED) {
			snprintf(why, cap, "zone %.255s not loaded (%s)", z->origin,
				 ctl_state_name(ctl_zone_state(z)));
			/* never announce before the zones are loaded */
			return ac->h.verdict == HEALTH_INIT ? 0 : -1;
		}
		if (z->sec != NULL && z->sec->expired) {
			snprintf(why, cap, "zone %.255s expired", z->origin);
			return -1;
		}
		if (a->max_lag > 0 && anycast_lag(z) > a->max_lag) {
			snprintf(why, cap, "zone %.255s serial lags the primary by %u (bound %u)",
				 z->origin, anycast_lag(z), a->max_lag);
			return -1;
		}
	}
	return 1;
}

/* Start a soft evaluation when due, or finish the one in flight. Returns health's change. */
static int anycast_soft(struct anycast *ac, struct ctl *c, int64_t now)
{
	const struct acconf *a = &c->cfg->anycast;
	char why[HEALTH_REASON_MAX];
	int ok, rc;

	if (probe_busy(&ac->p)) {
		if (!probe_poll(&ac->p, now, &ok))
			return 0;
		rc = health_soft(&ac->h, now, ok, ac->p.why);
		/* a failure while up is confirmed (or not) sooner than the next period */
		if (!ok && ac->h.verdict == HEALTH_UP && now + a->fast_ms < ac->next_eval_ms)
			ac->next_eval_ms = now + a->fast_ms;
		return rc;
	}
	if (now < ac->next_eval_ms)
		return 0;
	ac->next_eval_ms = now + a->interval_ms;
	if (a->prefix_count == 0 && !acconf_query_set(a))
		return 0;	/* no anycast here: no queries to a default address */
	rc = anycast_zones_ready(ac, c, why, sizeof(why));
	if (rc == 0)
		return 0;
	if (rc < 0) {
		rc = health_soft(&ac->h, now, 0, why);
		if (ac->h.verdict == HEALTH_UP)
			ac->next_eval_ms = now + a->fast_ms;
		return rc;
	}
	const char **origins = calloc(c->zone_count, sizeof(*origins));
	uint32_t *serials = calloc(c->zone_count, sizeof(*serials));

	rc = PHAROS_ENOMEM;
	if (origins != NULL && serials != NULL) {
		for (size_t i = 0; i < c->zone_count; i++) {
			origins[i] = c->zones[i].origin;
			serials[i] = c->zones[i].cur.serial;
		}
		rc = probe_start(&ac->p, a->query, origins, serials, c->zone_count, a->timeout_ms,
				 now);
	}
	free(origins);
	free(serials);
	if (rc < 0)
		return health_soft(&ac->h, now, 0, ac->p.why[0] ? ac->p.why : "out of memory");
	return 0;
}

void anycast_tick(struct anycast *ac, struct ctl *c)
{
	const struct acconf *a = &c->cfg->anycast;
	struct health_conf hc = anycast_hconf(a);
	enum health_state before = ac->h.state;
	int64_t now = anycast_now_ms();
	struct route_want w;

	health_set_conf(&ac->h, &hc);
	anycast_drain_file(ac, c);
	anycast_drain_apply(ac, c, now);
	anycast_hard(ac, c, now);
	anycast_soft(ac, c, anycast_now_ms());
	if (ac->h.state != before)
		anycast_log_state(ac, before);
	w = (struct route_want){ health_announce(&ac->h), health_state_name(ac->h.state),
				 ac->h.reason };
	route_update(&ac->r, a, &w, anycast_now_ms());
}

int anycast_timeout_ms(const struct anycast *ac, const struct ctl *c)
{
	int64_t now = anycast_now_ms(), due = ac->next_sample_ms;
	int ms;

	if (!dpconn_connected(&c->dp) || route_busy(&ac->r) || probe_busy(&ac->p) ||
	    c->cfg->anycast.drain_file != NULL)
		return c->cfg->anycast.sample_ms;
	if (ac->next_eval_ms < due)
		due = ac->next_eval_ms;
	ms = (int)(due - now);
	return ms < 0 ? 0 : ms > c->cfg->anycast.sample_ms ? c->cfg->anycast.sample_ms : ms;
}

void anycast_shutdown(struct anycast *ac, struct ctl *c)
{
	if (ac->drain & ANYCAST_DRAIN_SHUTDOWN)
		return;
	int64_t now = anycast_now_ms(), grace = c->cfg->anycast.grace_ms;

	ac->drain |= ANYCAST_DRAIN_SHUTDOWN;
	/* traffic still arrives for grace ms after a withdraw; never announced: none */
	ac->stop_ms = !ac->r.ever_announced ? now
		      : ac->r.announced ? now + grace : ac->r.changed_ms + grace;
	if (c->cfg->anycast.prefix_count > 0)
		log_msg(LOG_NOTICE, "shutdown: withdrawing, stopping in %" PRId64 " ms (grace "
			"period %" PRId64 " ms); the dataplane keeps answering",
			ac->stop_ms > now ? ac->stop_ms - now : 0, grace);
	anycast_tick(ac, c);
}

int anycast_can_stop(const struct anycast *ac, const struct ctl *c)
{
	if (c->cfg->anycast.prefix_count == 0)
		return 1;
	if (!(ac->drain & ANYCAST_DRAIN_SHUTDOWN))
		return 0;	/* anycast_shutdown() not called yet */
	return anycast_now_ms() >= ac->stop_ms && !route_busy(&ac->r);
}

int anycast_drain_set(struct anycast *ac, struct ctl *c, int on, char *msg, size_t cap)
{
	msg[0] = '\0';
	if (on)
		ac->drain |= ANYCAST_DRAIN_OPERATOR;
	else
		ac->drain &= ~(unsigned)ANYCAST_DRAIN_OPERATOR;
	anycast_tick(ac, c);
	if (!on && (ac->drain & ANYCAST_DRAIN_FILE)) {
		snprintf(msg, cap, "still draining: the drain file %s exists",
			 c->cfg->anycast.drain_file);
		return PHAROS_EEXIST;
	}
	return 0;
}
