/* Secondary zones: refresh/retry/expire timers, transfers in threads, persistence, NOTIFY. */
#ifndef PHAROS_SECONDARY_H
#define PHAROS_SECONDARY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "notify.h"
#include "pharos/ipc.h"
#include "xfr.h"

#define SEC_JOBS_MAX	4	/* transfers in flight at once (one thread each, one per zone) */
#define SEC_KIND_MAX	16

struct ctl;
struct ctl_zone;
struct ctl_result;
struct sec_job;

/* What an operator sees (doc/secondary.md). */
enum sec_state {
	SEC_OK = 0,		/* the primary confirmed our version less than refresh ago */
	SEC_REFRESHING,		/* a SOA check / transfer is running */
	SEC_RETRYING,		/* the last round failed: next try after the retry interval */
	SEC_EXPIRED,		/* no success for `expire`: the dataplane answers SERVFAIL */
};

/* One secondary zone (ctl_zone.sec). Times are unix seconds, 0 = never. */
struct sec_zone {
	char origin[CONFIG_ORIGIN_MAX];
	const struct config_zone *cz;	/* in the running config; renewed at every apply */
	struct notify_allow *acl;	/* from cz->notify_from, keys in the running config */
	size_t nacl;
	/* persisted in <state-dir>/<stem>.state */
	int have_serial;		/* we hold a version (base, delta) */
	uint32_t serial;
	char base[IPC_PATH_MAX];	/* full image */
	char delta[IPC_PATH_MAX];	/* delta image over base, "" = none */
	uint32_t refresh, retry, expire;	/* from the SOA, clamped; 0 = no SOA yet */
	int64_t last_success;		/* the primary confirmed or sent our version */
	int64_t last_attempt;		/* the last round ended */
	int last_ok;			/* 1 ok, 0 failed, -1 never */
	char last_kind[SEC_KIND_MAX];	/* "AXFR", "IXFR", "fallback", "up-to-date", "none" */
	char last_primary[XFR_ADDR_TXT];
	char last_error[XFR_ERR_MAX];
	int64_t last_xfr;		/* the last transfer that brought a new version */
	char last_xfr_kind[SEC_KIND_MAX];
	int have_primary_serial;
	uint32_t primary_serial;	/* what the primary said last */
	int64_t primary_seen;
	int expired;
	/* runtime */
	enum sec_state state;
	int64_t next_ms;		/* unix ms of the next SOA check */
	int fails;			/* failed rounds in a row (back-off) */
	int due;			/* check now (NOTIFY, zone-refresh) */
	int force_axfr;			/* zone-retransfer */
	int compact;			/* the delta is big: fold it into a new base when idle */
	struct sec_job *job;		/* in flight, or NULL */
};

/* Set up (pipe, NOTIFY callback); c->dp is initialised. 0 or PHAROS_EIO/ENOMEM. */
int sec_init(struct ctl *c);

/* Wait for the transfers in flight, free everything. */
void sec_fini(struct ctl *c);

/*
 * At start and at every reload, for a secondary zone of the config: create its state (read
 * back from the state directory at start: the last good image becomes z's image at once,
 * timers continue), or renew it from the new config. Fills r (action, serial).
 */
void sec_zone_apply(struct ctl *c, struct ctl_zone *z, const struct config_zone *cz,
		    struct ctl_result *r);

/* Free a zone's state (the zone left the config or became a file zone). NULL is fine. */
void sec_zone_free(struct sec_zone *s);

/* Just (re)connected to the dataplane: subscribe to NOTIFYs, re-mark expired zones. */
void sec_connected(struct ctl *c);

/* Start due checks, expire zones whose time is up. */
void sec_tick(struct ctl *c);

/* Milliseconds until sec_tick() has work (capped by max_ms). */
int sec_timeout_ms(const struct ctl *c, int max_ms);

/* The fd that polls readable when a transfer finished, for poll(). */
int sec_fd(const struct ctl *c);

/* sec_fd() polled readable: take the finished transfers in and serve their results. */
void sec_event(struct ctl *c);

/*
 * Operator: SOA check of origin now (force_axfr: a fresh AXFR whatever the serials say).
 * Returns 0 (started, or joined the one in flight), PHAROS_ENOTFOUND (no such zone) or
 * PHAROS_EINVAL (not a secondary zone); msg says what happened.
 */
int sec_request(struct ctl *c, const char *origin, int force_axfr, char *msg, size_t len);

/* The base image under path when path is the zone's delta image, else NULL. */
const char *sec_base_of(const struct sec_zone *s, const char *path);

/* "ok", "refreshing", "retrying", "expired". */
const char *sec_state_name(enum sec_state s);

/* Unix ms of the next check and of expiry (0 = none) of a zone, for status. */
int64_t sec_next_refresh(const struct sec_zone *s);
int64_t sec_expires_at(const struct sec_zone *s);

#endif
