/* pharos-control's state: the config, each zone's images, and the link to the dataplane. */
#ifndef PHAROS_CTL_H
#define PHAROS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"
#include "dpconn.h"

#define CTL_MSG_MAX		1024	/* per-zone message (errors joined by "; ") */
#define CTL_KEEP_IMAGES		2	/* images of a zone kept in the state dir */
#define CTL_RETRY_MS		250	/* dataplane connect retry period */
#define CTL_SAMPLE_MS		1000	/* IPC_STATUS period (liveness, lost dataplane) */
#define CTL_ALIVE_MS		5000	/* a worker whose loop counter stood still longer is dead */

/* An image file and the SOA serial it holds. */
struct ctl_image {
	char path[IPC_PATH_MAX];
	uint32_t serial;
};

struct sec;
struct sec_zone;
struct anycast;

/* One configured zone. */
struct ctl_zone {
	char origin[CONFIG_ORIGIN_MAX];	/* normalized ("example.com.") */
	char *file;			/* zone file (owned); NULL for a secondary zone */
	struct sec_zone *sec;		/* secondary zones: timers, transfers (secondary.h) */
	struct ctl_image cur;		/* last image the dataplane accepted */
	struct ctl_image pend;		/* compiled, not yet accepted (dataplane away) */
	int have_cur, have_pend;
	int loaded;			/* cur is served on the current connection */
	int64_t loaded_at;		/* unix time of the last accepted load */
	struct stat st;			/* zone file as of the last good compile */
	int64_t st_at;			/* unix time that stat was taken */
	int have_st;
	char error[CTL_MSG_MAX];	/* last error, "" = none */
};

/* What a zone's state reads as to an operator. */
enum ctl_zone_state {
	CTL_ZONE_FAILED = 0,	/* no image to serve (zone file never compiled) */
	CTL_ZONE_PENDING,	/* has an image, the dataplane does not serve it yet */
	CTL_ZONE_LOADED,	/* the dataplane serves cur */
};

/* What a reload or load did to one zone. */
enum ctl_action {
	CTL_UNCHANGED = 0,	/* zone file and image unchanged: nothing sent */
	CTL_LOADED,		/* a new image is served */
	CTL_PENDING,		/* compiled; loads when the dataplane is connected */
	CTL_REFUSED,		/* zone file or image refused: the old image keeps serving */
	CTL_UNLOADED,		/* removed from the config: no longer served */
	CTL_NOTE,		/* a remark about the config, origin "" */
};

struct ctl_result {
	char origin[CONFIG_ORIGIN_MAX];
	enum ctl_action action;
	int has_serial;		/* serial is meaningful */
	uint32_t serial;	/* serial now served (or compiled, for PENDING) */
	int has_old;
	uint32_t old_serial;	/* serial served before */
	char image[IPC_PATH_MAX];	/* image now served or pending, "" if none */
	char msg[CTL_MSG_MAX];
};

/* Outcome of ctl_init / ctl_reload / ctl_load: results malloc'd, free with ctl_report_free. */
struct ctl_report {
	int config_refused;
	char config_error[CONFIG_ERR_MAX];
	struct ctl_result *res;
	size_t count;
};

/* Liveness of one dataplane worker, from successive IPC_STATUS samples. */
struct ctl_worker {
	uint64_t loops;
	int64_t advanced_ms;	/* monotonic ms when loops last changed */
};

struct ctl {
	char *config_path;		/* absolute path of the config file */
	struct config *cfg;
	struct dpconn dp;
	struct ctl_zone *zones;
	size_t zone_count;
	int64_t started;		/* unix time */
	int64_t next_connect_ms, next_sample_ms;
	int waiting_logged;		/* "waiting for the dataplane" said once */
	struct ctl_worker *workers;
	size_t worker_count;
	struct sec *sec;		/* secondary zones' transfers (secondary.c) */
	struct anycast *anycast;	/* health and routes (anycast.h), NULL = none */
};

/*
 * Start: take ownership of cfg, create the state directory, compile every zone (a zone
 * whose file is broken falls back to its newest image in the state directory).
 * Nothing is sent yet: ctl_tick() connects. Returns 0, or PHAROS_EIO when the state
 * directory cannot be created (message logged).
 */
int ctl_init(struct ctl *c, const char *config_path, struct config *cfg,
	     struct ctl_report *rep);

/* Close the dataplane link and free everything. */
void ctl_fini(struct ctl *c);

/*
 * Re-read the config and apply it: recompile zones whose file changed, load new zones,
 * unload removed ones. A bad config is refused (rep->config_refused, old one kept).
 * Returns 0, PHAROS_ECONFIG (config refused) or PHAROS_EZONE (some zone refused).
 */
int ctl_reload(struct ctl *c, struct ctl_report *rep);

/*
 * Ask the dataplane to serve the precompiled image at path (absolute) for a configured
 * zone. Returns 0 (served), PHAROS_ENOTFOUND (zone not configured), PHAROS_EINVAL,
 * PHAROS_EIO (dataplane not connected) or PHAROS_EZONE (image refused; the old one keeps
 * serving). rep gets one result.
 */
int ctl_load(struct ctl *c, const char *origin, const char *path, struct ctl_report *rep);

/*
 * Serve z's pending image (z->pend, have_pend set by the caller), or re-send its current
 * one: r->action LOADED, PENDING (dataplane away: loads when it is back) or REFUSED (the
 * old image keeps serving; z->error says why). For secondary.c.
 */
void ctl_zone_push(struct ctl *c, struct ctl_zone *z, struct ctl_result *r);

/* Free the results of a report. */
void ctl_report_free(struct ctl_report *rep);

/* Connect to the dataplane when due (then re-send every zone), sample its status when due. */
void ctl_tick(struct ctl *c);

/* Milliseconds until ctl_tick() has work, for poll(). */
int ctl_timeout_ms(const struct ctl *c);

/* The dataplane socket to poll for input, or -1. */
int ctl_dp_fd(const struct ctl *c);

/* The dataplane fd polled readable or hung up while idle. */
void ctl_dp_event(struct ctl *c);

/*
 * 1 when the dataplane is not usable because it does not answer (a request or the hello
 * after a reconnect timed out, or its backlog is full): "not responding", not "not connected".
 */
int ctl_dp_stalled(const struct ctl *c);

/* Fresh IPC_STATUS (also updates liveness). PHAROS_EIO when not connected. */
int ctl_status(struct ctl *c, struct dpconn_status *st);

/* 1 when worker i's loop counter advanced in the last CTL_ALIVE_MS. */
int ctl_worker_alive(const struct ctl *c, size_t i);

enum ctl_zone_state ctl_zone_state(const struct ctl_zone *z);

/* "failed", "pending", "loaded". */
const char *ctl_state_name(enum ctl_zone_state s);

/* "unchanged", "loaded", "pending", "refused", "unloaded", "note". */
const char *ctl_action_name(enum ctl_action a);

#endif
