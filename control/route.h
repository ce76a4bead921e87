/* Route hooks: make BIRD, ExaBGP or an operator script announce or withdraw the prefixes. */
#ifndef PHAROS_ROUTE_H
#define PHAROS_ROUTE_H

#include <stdint.h>
#include <sys/types.h>

#include "acconf.h"

#define ROUTE_HOOKS		3	/* bird, exabgp, command: bit i of enum acconf_hook */
#define ROUTE_TEXT_MAX		4096	/* prefixes of a hook as text */
#define ROUTE_KILL_MS		10000	/* a hook still running after this is killed */

/* One hook: what it last applied, and the process applying it now. */
struct route_hook {
	char applied[ROUTE_TEXT_MAX];	/* "state|prefix prefix" applied; "" = never */
	char want[ROUTE_TEXT_MAX];	/* what it should apply */
	pid_t pid;			/* running job, 0 = none */
	int64_t started_ms;
	int failed;			/* last job failed: retried at the next change */
};

/* What should be announced now. */
struct route_want {
	int announce;
	const char *state;	/* health_state_name() */
	const char *reason;
};

struct route {
	struct route_hook hook[ROUTE_HOOKS];
	struct route_want last;		/* last route_update() input */
	char last_state[32], last_reason[256];
	int64_t changed_ms;		/* monotonic ms of the last announce/withdraw */
	int announced;			/* the prefixes are announced (as far as we asked) */
	int ever_announced;		/* announced at least once since start */
};

/* Nothing applied yet, nothing running. */
void route_init(struct route *r);

/*
 * Ask every configured hook to reach this state: hooks whose prefix set or state changed
 * get a job (bird: write the include file atomically, then run the reload command and/or
 * birdc enable|disable; command: run the script with PHAROS_* in its environment;
 * exabgp: nothing to run, pharos-exabgp polls). A hook still busy applies the newest
 * state when its job ends. Logs one line per announce/withdraw. now: monotonic ms.
 */
void route_update(struct route *r, const struct acconf *a, const struct route_want *w,
		  int64_t now);

/* Reap finished jobs (log failures), start what is due, kill jobs over ROUTE_KILL_MS. */
void route_tick(struct route *r, const struct acconf *a, int64_t now);

/* 1 while a job runs or a hook has not applied its newest state. */
int route_busy(const struct route *r);

/*
 * The prefixes (space-separated) a hook bit announces now: empty when withdrawn.
 * Returns out.
 */
char *route_prefixes(const struct acconf *a, unsigned hook, int announce, int family,
		     char *out, size_t cap);

/*
 * Write the BIRD include file at path atomically (temp + rename): two static protocols,
 * pharos4 and pharos6, with one route per announced prefix (none when withdrawn).
 * Returns 0 or PHAROS_EIO.
 */
int route_bird_write(const char *path, const struct acconf *a, int announce,
		     const char *state);

/* Wall clock to the millisecond for log lines: "2026-01-01T10:43:02.123Z". */
void route_stamp(char *out, size_t cap);

#endif
