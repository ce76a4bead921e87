/* Secondary zones: SOA timers, transfers in threads, persistence and NOTIFY (doc/secondary.md). */
#include "secondary.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "img.h"
#include "imgstore.h"
#include "log.h"
#include "pharos/err.h"
#include "zdiff.h"
#include "zonec.h"

#define SEC_STATE_VERSION	1
#define SEC_LINE_MAX		(IPC_PATH_MAX + 64)
#define SEC_ERRS_MAX		8	/* failure lines kept per round (one per primary) */

/* One round of transfer work for one zone, run by its own thread. */
struct sec_job {
	pthread_t tid;
	int wfd;				/* where the thread says it is done */
	/* in: copies, so that a reload cannot pull anything from under the thread */
	char origin[CONFIG_ORIGIN_MAX];
	char state_dir[IPC_PATH_MAX];
	struct xfr_primary *prim;
	struct tsig_key *keys;			/* prim[i].key points here */
	size_t nprim;
	int have_serial;
	uint32_t serial;
	int force_axfr;
	int compact;				/* fold base + delta into a new base, no network */
	uint64_t max_size;
	int timeout_ms;
	char base[IPC_PATH_MAX], delta[IPC_PATH_MAX];
	/* out */
	int compact_advised;			/* the new delta is big: compact when idle */
	int rc;					/* 0: one primary succeeded */
	enum xfr_kind kind;
	int fallback;
	uint32_t new_serial;			/* the primary's serial (every kind) */
	size_t used;				/* primary that succeeded */
	char img[IPC_PATH_MAX];			/* written image ("" for UPTODATE) */
	int img_fd;				/* its fd until synced (sec_write_image), -1 */
	int sync_rc;				/* result of that fsync, after "done" */
	int served;				/* the loop took the "ready" message in */
	int is_delta;
	uint32_t refresh, retry, expire;	/* SOA timers of the new version, 0 unknown */
	uint64_t bytes, records;
	int64_t ms;				/* how long the round took */
	int64_t ms_xfr, ms_build, ms_write;	/* its phases: fetch, image, file */
	char errs[SEC_ERRS_MAX][XFR_ERR_MAX];
	size_t nerrs;
};

/* What a transfer thread tells the loop through the pipe (one atomic write each). */
struct sec_msg {
	struct sec_job *j;
	int done;	/* 0: the image is written, serve it (not durable yet); 1: finished */
};

/* Module state, c->sec. */
struct sec {
	int rfd, wfd;			/* finished jobs: the thread writes its job pointer */
	size_t running;
	struct notify_seen seen;	/* per key and zone, newest NOTIFY time accepted (replays) */
};

static int64_t sec_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sec_state_name(enum sec_state s)
{
	static const char *const names[] = { "ok", "refreshing", "retrying", "expired" };

	return names[s];
}

static uint32_t sec_clamp(uint32_t v, const struct config_clamp *c)
{
	return v < c->min ? c->min : v > c->max ? c->max : v;
}

/* The SOA's timers clamped by the config; with no SOA yet, the retry minimum for both. */
static void sec_timers(const struct sec_zone *s, uint32_t *refresh, uint32_t *retry,
		       uint32_t *expire)
{
	const struct config_zone *cz = s->cz;

	*refresh = s->refresh ? sec_clamp(s->refresh, &cz->refresh) : cz->retry.min;
	*retry = s->retry ? sec_clamp(s->retry, &cz->retry) : cz->retry.min;
	*expire = s->expire ? sec_clamp(s->expire, &cz->expire) : cz->expire.max;
}

const char *sec_base_of(const struct sec_zone *s, const char *path)
{
	return s->delta[0] && s->base[0] && strcmp(path, s->delta) == 0 ? s->base : NULL;
}

int64_t sec_next_refresh(const struct sec_zone *s)
{
	return s->next_ms;
}

int64_t sec_expires_at(const struct sec_zone *s)
{
	uint32_t refresh, retry, expire;

	if (!s->have_serial || s->last_success == 0)
		return 0;
	sec_timers(s, &refresh, &retry, &expire);
	return (s->last_success + (int64_t)expire) * 1000;
}

/* ---- files in the state directory ---- */

/* "<dir>/<stem><suffix>", stem as imgstore names images ("@" for the root). */
static int sec_file(const struct ctl *c, const char *origin, const char *suffix, char *out,
		    size_t cap)
{
	size_t n = strlen(origin);
	int w;

	if (strcmp(origin, ".") == 0)
		w = snprintf(out, cap, "%s/@%s", c->cfg->state_dir, suffix);
	else
		w = snprintf(out, cap, "%s/%.*s%s", c->cfg->state_dir, (int)(n - 1), origin,
			     suffix);
	return (w < 0 || (size_t)w >= cap) ? PHAROS_ESPACE : 0;
}

static const char *sec_or_dash(const char *s)
{
	return s[0] ? s : "-";
}

/* Write the zone's state file atomically (temp + fsync + rename). */
static void sec_save(struct ctl *c, const struct sec_zone *s)
{
	char path[IPC_PATH_MAX], buf[4 * IPC_PATH_MAX + 2048], serial[16], pserial[16];
	int n, rc;

	if (sec_file(c, s->origin, ".state", path, sizeof(path)) < 0)
		return;
	snprintf(serial, sizeof(serial), s->have_serial ? "%" PRIu32 : "-", s->serial);
	snprintf(pserial, sizeof(pserial), s->have_primary_serial ? "%" PRIu32 : "-",
		 s->primary_serial);
	n = snprintf(buf, sizeof(buf),
		     "# pharos-control secondary zone state (doc/secondary.md)\n"
		     "version %d\norigin %s\nserial %s\nbase %s\ndelta %s\n"
		     "refresh %" PRIu32 "\nretry %" PRIu32 "\nexpire %" PRIu32 "\n"
		     "last-success %" PRId64 "\nlast-attempt %" PRId64 "\nlast-result %s\n"
		     "last-kind %s\nlast-primary %s\nlast-error %s\nlast-transfer %" PRId64 "\n"
		     "last-transfer-kind %s\nprimary-serial %s\nprimary-seen %" PRId64
		     "\nexpired %d\n",
		     SEC_STATE_VERSION, s->origin, serial, sec_or_dash(s->base), sec_or_dash(s->delta),
		     s->refresh, s->retry, s->expire, s->last_success, s->last_attempt,
		     s->last_ok < 0 ? "none" : s->last_ok ? "ok" : "failed",
		     sec_or_dash(s->last_kind), sec_or_dash(s->last_primary),
		     sec_or_dash(s->last_error), s->last_xfr, sec_or_dash(s->last_xfr_kind),
		     pserial, s->primary_seen, s->expired);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	rc = zonec_write_file(path, (const uint8_t *)buf, (size_t)n);
	if (rc < 0)
		log_msg(LOG_ERR, "zone %s: cannot write %s: %s", s->origin, path,
			pharos_strerror(rc));
}

/* Copy a value of the state file, "-" being empty. */
static void sec_val(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", strcmp(v, "-") == 0 ? "" : v);
}

static int sec_u32(const char *v, int *have, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (v[0] == '-') {
		*have = 0;
		return 0;
	}
	x = strtoull(v, &end, 10);
	if (*end != '\0' || x > UINT32_MAX)
		return PHAROS_EINVAL;
	*have = 1;
	*out = (uint32_t)x;
	return 0;
}

/* One "key value" line of the state file into s. Unknown keys are skipped (newer files). */
static int sec_load_line(struct sec_zone *s, char *line)
{
	char *v = strchr(line, ' ');
	int have = 0;
	uint32_t u = 0;

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	if (v == NULL)
		return PHAROS_EINVAL;
	*v++ = '\0';
	if (strcmp(line, "version") == 0)
		return atoi(v) == SEC_STATE_VERSION ? 0 : PHAROS_EVERSION;
	if (strcmp(line, "origin") == 0)
		return strcmp(v, s->origin) == 0 ? 0 : PHAROS_EINVAL;
	if (strcmp(line, "serial") == 0)
		return sec_u32(v, &s->have_serial, &s->serial);
	if (strcmp(line, "primary-serial") == 0)
		return sec_u32(v, &s->have_primary_serial, &s->primary_serial);
	if (strcmp(line, "base") == 0)
		sec_val(s->base, sizeof(s->base), v);
	else if (strcmp(line, "delta") == 0)
		sec_val(s->delta, sizeof(s->delta), v);
	else if (strcmp(line, "last-kind") == 0)
		sec_val(s->last_kind, sizeof(s->last_kind), v);
	else if (strcmp(line, "last-primary") == 0)
		sec_val(s->last_primary, sizeof(s->last_primary), v);
	else if (strcmp(line, "last-error") == 0)
		sec_val(s->last_error, sizeof(s->last_error), v);
	else if (strcmp(line, "last-transfer-kind") == 0)
		sec_val(s->last_xfr_kind, sizeof(s->last_xfr_kind), v);
	else if (strcmp(line, "last-result") == 0)
		s->last_ok = strcmp(v, "ok") == 0 ? 1 : strcmp(v, "failed") == 0 ? 0 : -1;
	else if (strcmp(line, "refresh") == 0 && sec_u32(v, &have, &u) == 0)
		s->refresh = u;
	else if (strcmp(line, "retry") == 0 && sec_u32(v, &have, &u) == 0)
		s->retry = u;
	else if (strcmp(line, "expire") == 0 && sec_u32(v, &have, &u) == 0)
		s->expire = u;
	else if (strcmp(line, "last-success") == 0)
		s->last_success = strtoll(v, NULL, 10);
	else if (strcmp(line, "last-attempt") == 0)
		s->last_attempt = strtoll(v, NULL, 10);
	else if (strcmp(line, "last-transfer") == 0)
		s->last_xfr = strtoll(v, NULL, 10);
	else if (strcmp(line, "primary-seen") == 0)
		s->primary_seen = strtoll(v, NULL, 10);
	else if (strcmp(line, "expired") == 0)
		s->expired = atoi(v) != 0;
	return 0;
}

/* Read the state file back. 0, PHAROS_ENOTFOUND (none) or an error (file ignored). */
static int sec_load(struct ctl *c, struct sec_zone *s)
{
	char path[IPC_PATH_MAX], line[SEC_LINE_MAX];
	int rc = 0, lineno = 0;
	FILE *f;

	if (sec_file(c, s->origin, ".state", path, sizeof(path)) < 0)
		return PHAROS_ESPACE;
	f = fopen(path, "r");
	if (f == NULL)
		return PHAROS_ENOTFOUND;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		rc = sec_load_line(s, line);
	}
	fclose(f);
	if (rc < 0)
		log_msg(LOG_ERR, "zone %s: %s:%d: unreadable state (%s), starting afresh",
			s->origin, path, lineno, pharos_strerror(rc));
	return rc;
}

/* The marker that makes a (re)starting dataplane answer SERVFAIL for an expired zone. */
static void sec_marker(struct ctl *c, const struct sec_zone *s, int on)
{
	char path[IPC_PATH_MAX], text[64];
	int n;

	if (sec_file(c, s->origin, ".expired", path, sizeof(path)) < 0)
		return;
	if (!on) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_msg(LOG_ERR, "zone %s: cannot remove %s: %s", s->origin, path,
				strerror(errno));
		return;
	}
	n = snprintf(text, sizeof(text), "expired %" PRId64 "\n", (int64_t)time(NULL));
	if (zonec_write_file(path, (const uint8_t *)text, (size_t)n) < 0)
		log_msg(LOG_ERR, "zone %s: cannot write %s", s->origin, path);
}

/* ---- the transfer thread ---- */

/* Refresh, retry, expire of an SOA record (ldns). */
static void sec_rr_timers(const ldns_rr *rr, struct sec_job *j)
{
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
		return;
	j->refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
	j->retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
	j->expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
}

/*
 * Timers of a full image's apex SOA (the last 20 bytes of its RDATA: serial..minimum).
 * The image is the one zonec_build just made: read in place, bounds checked, no full
 * verification (that costs a CRC over the whole image; the dataplane does it at load).
 */
static void sec_img_timers(const uint8_t *buf, size_t len, struct sec_job *j)
{
	struct img_header h;
	struct img_rrset rs;
	uint64_t at;
	uint16_t rdlen;
	uint32_t v[3];

	if (len < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	at = (uint64_t)h.sec[IMG_SEC_RRSETS].off + (uint64_t)h.soa_rrset * sizeof(rs);
	if (at + sizeof(rs) > len)
		return;
	memcpy(&rs, buf + at, sizeof(rs));
	if ((uint64_t)rs.rdata_off + 2 > len)
		return;
	rdlen = (uint16_t)(buf[rs.rdata_off] << 8 | buf[rs.rdata_off + 1]);
	if (rdlen < 22 || (uint64_t)rs.rdata_off + 2 + rdlen > len)
		return;
	memcpy(v, buf + rs.rdata_off + 2 + rdlen - 16, sizeof(v));
	j->refresh = ntohl(v[0]);
	j->retry = ntohl(v[1]);
	j->expire = ntohl(v[2]);
}

/* A temp file "<path>.tmp.XXXXXX" next to path, mode 0644, open read-write; its name in tmp. */
static int sec_tmp_open(const char *path, char *tmp, size_t cap, int *fd)
{
	if (strlen(path) + sizeof(".tmp.XXXXXX") > cap)
		return PHAROS_ESPACE;
	snprintf(tmp, cap, "%s.tmp.XXXXXX", path);
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0)
		return PHAROS_EIO;
	if (fchmod(*fd, 0644) == 0)	/* a dataplane running as another user reads it */
		return 0;
	close(*fd);
	*fd = -1;
	unlink(tmp);
	return PHAROS_EIO;
}

/* The temp file written (rc 0): give it its name; else (or if that fails) remove it. */
static int sec_tmp_commit(const char *tmp, const char *path, int rc, int *fd)
{
	if (rc == 0 && rename(tmp, path) == 0)
		return 0;
	close(*fd);
	*fd = -1;
	unlink(tmp);
	return rc < 0 ? rc : PHAROS_EIO;
}

/*
 * Write an image to serve before it is durable: temp file in the same directory, rename;
 * *fd stays open for sec_sync_image(), which the thread runs while the loop has the
 * dataplane load the image. The state file naming the image is only written after that
 * sync, so a crash in between leaves the state naming the previous image (and a torn new
 * file fails the dataplane's checksum). zonec_write_file() syncs first: that costs ~1 s on
 * the way to serving a 1 M-record zone on a busy disk, and most of a small IXFR's time.
 */
static int sec_write_image(const char *path, const uint8_t *buf, size_t len, int *fd)
{
	char tmp[IPC_PATH_MAX + 16];
	size_t done = 0;
	int rc = sec_tmp_open(path, tmp, sizeof(tmp), fd);

	if (rc < 0)
		return rc;
	while (done < len) {
		ssize_t w = write(*fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = PHAROS_EIO;
			break;
		}
		done += (size_t)w;
	}
	return sec_tmp_commit(tmp, path, rc, fd);
}

/* The second half of sec_write_image(): the file, then its directory, to disk. */
static int sec_sync_image(const char *path, int fd)
{
	char dir[IPC_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int rc = fsync(fd) == 0 ? 0 : PHAROS_EIO, dfd;

	close(fd);
	snprintf(dir, sizeof(dir), "%.*s", slash && slash != path ? (int)(slash - path) : 1,
		 slash ? path : ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		rc = PHAROS_EIO;
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/*
 * A whole zone (AXFR) -> full image file, built in place in the file (zonec_build_fd: no
 * buffer, no copy: the dataplane maps the same page cache pages).
 */
static int sec_job_axfr(struct sec_job *j, struct xfr_result *res, char *err, size_t len)
{
	char tmp[IPC_PATH_MAX + 16];
	size_t n = 0;
	uint32_t serial = zonec_serial(res->zone);
	int64_t t0 = sec_now_ms();
	int rc = imgstore_path(j->state_dir, j->origin, serial, j->img, sizeof(j->img));

	if (rc == 0)
		rc = sec_tmp_open(j->img, tmp, sizeof(tmp), &j->img_fd);
	if (rc == 0) {
		rc = zonec_build_fd(res->zone, j->img_fd, &n);
		j->ms_build = sec_now_ms() - t0;
		t0 = sec_now_ms();
		void *map = rc == 0 ? mmap(NULL, n, PROT_READ, MAP_SHARED, j->img_fd, 0) :
				      MAP_FAILED;
		if (map != MAP_FAILED) {
			sec_img_timers(map, n, j);
			munmap(map, n);
		}
		rc = sec_tmp_commit(tmp, j->img, rc, &j->img_fd);
		j->ms_write = sec_now_ms() - t0;
	}
	if (rc < 0)
		snprintf(err, len, "image of serial %u: %s", serial, pharos_strerror(rc));
	j->new_serial = serial;
	j->is_delta = 0;
	return rc;
}

/* IXFR differences applied to what we serve -> a delta (or full) image file. */
static int sec_job_ixfr(struct sec_job *j, struct xfr_result *res, char *err, size_t len)
{
	struct zdiff_out out;
	int64_t t0 = sec_now_ms();
	int rc;

	memset(&out, 0, sizeof(out));
	rc = zdiff_apply(j->origin, j->base, j->delta[0] ? j->delta : NULL, res->diffs,
			 res->ndiffs, &out);
	j->ms_build = sec_now_ms() - t0;
	if (rc < 0) {
		snprintf(err, len, "IXFR apply: %.400s", out.err[0] ? out.err : pharos_strerror(rc));
		free(out.img);
		return rc;
	}
	for (size_t i = 0; i < res->ndiffs; i++)
		for (size_t k = 0; res->diffs[i].add &&
				   k < ldns_rr_list_rr_count(res->diffs[i].add); k++)
			sec_rr_timers(ldns_rr_list_rr(res->diffs[i].add, k), j);
	j->compact_advised = out.is_delta && out.compact_advised;
	if (out.is_delta)
		rc = imgstore_delta_path(j->state_dir, j->origin, out.serial, j->img,
					 sizeof(j->img));
	else
		rc = imgstore_path(j->state_dir, j->origin, out.serial, j->img, sizeof(j->img));
	t0 = sec_now_ms();
	if (rc == 0)
		rc = sec_write_image(j->img, out.img, out.len, &j->img_fd);
	j->ms_write = sec_now_ms() - t0;
	if (rc < 0)
		snprintf(err, len, "image of serial %u: %s", out.serial, pharos_strerror(rc));
	j->new_serial = out.serial;
	j->is_delta = out.is_delta;
	free(out.img);
	return rc;
}

/* What one primary gave -> an image file (or nothing for UPTODATE). */
static int sec_job_image(struct sec_job *j, struct xfr_result *res, char *err, size_t len)
{
	j->kind = res->kind;
	j->fallback = res->fallback;
	j->new_serial = res->serial;
	j->bytes = res->bytes;
	j->records = res->records;
	j->img[0] = '\0';
	switch (res->kind) {
	case XFR_UPTODATE:
		return 0;
	case XFR_AXFR:
		return sec_job_axfr(j, res, err, len);
	case XFR_IXFR:
		return sec_job_ixfr(j, res, err, len);
	default:
		snprintf(err, len, "nothing transferred");
		return PHAROS_EPROTO;
	}
}

/* Keep one failure line of the round ("primary P: KIND: why"); past SEC_ERRS_MAX, dropped. */
static void sec_job_err(struct sec_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sec_job_err(struct sec_job *j, const char *fmt, ...)
{
	va_list ap;

	if (j->nerrs >= SEC_ERRS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(j->errs[j->nerrs++], XFR_ERR_MAX, fmt, ap);
	va_end(ap);
}

/* Background compaction: base + delta -> one new full image of the same serial. */
static void sec_job_compact(struct sec_job *j)
{
	struct zdiff_out out;
	int rc;

	memset(&out, 0, sizeof(out));
	rc = zdiff_compact(j->origin, j->base, j->delta, &out);
	if (rc == 0)
		rc = imgstore_path(j->state_dir, j->origin, out.serial, j->img, sizeof(j->img));
	if (rc == 0)
		rc = sec_write_image(j->img, out.img, out.len, &j->img_fd);
	if (rc < 0)
		sec_job_err(j, "compaction of %.300s: %.150s", j->delta,
			    out.err[0] ? out.err : pharos_strerror(rc));
	free(out.img);
	j->rc = rc;
	j->kind = XFR_NONE;
	j->new_serial = out.serial;
	j->is_delta = 0;
}

static const char *sec_kind_text(enum xfr_kind k, int fallback)
{
	return fallback && k == XFR_AXFR ? "fallback" : xfr_kind_name(k);
}

/*
 * One fetch from primary i (IXFR from our serial when have_serial), made into an image.
 * Returns 0 or an error (its line kept); *misfit = 1 when an IXFR came but its differences
 * do not apply to what we serve (the primary's history is not ours: worth an AXFR).
 */
static int sec_job_fetch(struct sec_job *j, size_t i, int have_serial, int *misfit)
{
	struct xfr_req rq = {
		.origin = j->origin, .primary = &j->prim[i],
		.have_serial = have_serial, .serial = j->serial,
		.force_axfr = j->force_axfr, .size_limit = j->max_size,
		.timeout_ms = j->timeout_ms, .total_ms = j->timeout_ms * 30,
	};
	struct xfr_result res;
	char why[XFR_ERR_MAX] = "";
	int64_t t0 = sec_now_ms();
	int rc = xfr_fetch(&rq, &res);

	j->ms_xfr = sec_now_ms() - t0;
	j->ms_build = j->ms_write = 0;
	*misfit = 0;
	if (!have_serial && j->have_serial)
		res.fallback = 1;	/* the AXFR after a misfit IXFR */
	if (rc < 0) {
		sec_job_err(j, "%s", res.err[0] ? res.err : pharos_strerror(rc));
	} else if ((rc = sec_job_image(j, &res, why, sizeof(why))) < 0) {
		*misfit = res.kind == XFR_IXFR;
		sec_job_err(j, "primary %s: %s: %s%s", j->prim[i].text,
			    sec_kind_text(res.kind, res.fallback), why,
			    *misfit ? " (asking for AXFR)" : "");
	}
	xfr_result_free(&res);
	return rc;
}

/*
 * Have zdiff map and verify the base image now, off the critical path, so that the next
 * IXFR finds it cached (~0.1-0.2 s for 1 M records otherwise paid by the first IXFR after
 * an AXFR or a restart). zdiff has no call for only that: an apply of no differences opens
 * (and caches) the base, then refuses; only a stat when it is cached already.
 */
static void sec_warm(const struct sec_job *j, const char *base)
{
	struct zdiff_out out;

	memset(&out, 0, sizeof(out));
	zdiff_apply(j->origin, base, NULL, NULL, 0, &out);
	free(out.img);
}

/* Tell the loop (16 bytes: one atomic pipe write). */
static void sec_post(struct sec_job *j, int done)
{
	struct sec_msg m = { .j = j, .done = done };
	ssize_t w;

	do
		w = write(j->wfd, &m, sizeof(m));
	while (w < 0 && errno == EINTR);
}

static void *sec_job_run(void *arg)
{
	struct sec_job *j = arg;
	int64_t t0 = sec_now_ms();

	j->rc = PHAROS_EIO;
	if (j->have_serial && j->base[0] && !j->compact)
		sec_warm(j, j->base);	/* first round after a restart; a stat otherwise */
	for (size_t i = 0; i < j->nprim && !j->compact; i++) {
		int misfit, rc = sec_job_fetch(j, i, j->have_serial, &misfit);

		if (rc < 0 && misfit)
			rc = sec_job_fetch(j, i, 0, &misfit);
		if (rc == 0) {
			j->rc = 0;
			j->used = i;
			break;
		}
	}
	if (j->compact)
		sec_job_compact(j);
	j->ms = sec_now_ms() - t0;
	if (j->rc == 0 && j->img_fd >= 0) {
		sec_post(j, 0);		/* serve it now; make it durable meanwhile */
		j->sync_rc = sec_sync_image(j->img, j->img_fd);
		j->img_fd = -1;
		if (!j->is_delta)
			sec_warm(j, j->img);	/* the new base, for the next IXFR */
	}
	sec_post(j, 1);
	return NULL;
}

static void sec_job_free(struct sec_job *j)
{
	if (j == NULL)
		return;
	if (j->img_fd >= 0)
		close(j->img_fd);
	if (j->keys != NULL)
		memset(j->keys, 0, j->nprim * sizeof(*j->keys));
	free(j->keys);
	free(j->prim);
	free(j);
}

/* A job for zone s with copies of everything it needs. */
static struct sec_job *sec_job_new(struct ctl *c, struct sec_zone *s)
{
	const struct config_zone *cz = s->cz;
	struct sec_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->prim = calloc(cz->primary_count, sizeof(*j->prim));
	j->keys = calloc(cz->primary_count, sizeof(*j->keys));
	if (j->prim == NULL || j->keys == NULL) {
		sec_job_free(j);
		return NULL;
	}
	j->nprim = cz->primary_count;
	j->img_fd = -1;
	for (size_t i = 0; i < j->nprim; i++) {
		const struct config_addr *a = &cz->primaries[i];

		memcpy(&j->prim[i].addr, &a->addr, sizeof(a->addr));
		j->prim[i].addrlen = a->addrlen;
		snprintf(j->prim[i].text, sizeof(j->prim[i].text), "%s", a->text);
		if (a->key >= 0) {
			j->keys[i] = c->cfg->keys[a->key];
			j->prim[i].key = &j->keys[i];
		}
	}
	snprintf(j->origin, sizeof(j->origin), "%s", s->origin);
	snprintf(j->state_dir, sizeof(j->state_dir), "%s", c->cfg->state_dir);
	j->have_serial = s->have_serial && !s->force_axfr;
	j->serial = s->serial;
	j->force_axfr = s->force_axfr;
	j->max_size = cz->max_size;
	j->timeout_ms = (int)cz->timeout * 1000;
	snprintf(j->base, sizeof(j->base), "%s", s->base);
	snprintf(j->delta, sizeof(j->delta), "%s", s->delta);
	return j;
}

/* Start a round for s. 0, or an error (tried again at the next tick). */
static int sec_start(struct ctl *c, struct sec_zone *s, int compact)
{
	struct sec_job *j;

	if (c->sec->running >= SEC_JOBS_MAX)
		return PHAROS_ELIMIT;
	j = sec_job_new(c, s);
	if (j == NULL)
		return PHAROS_ENOMEM;
	j->wfd = c->sec->wfd;
	j->compact = compact;
	if (pthread_create(&j->tid, NULL, sec_job_run, j) != 0) {
		log_msg(LOG_ERR, "zone %s: cannot start a transfer thread", s->origin);
		sec_job_free(j);
		return PHAROS_ENOMEM;
	}
	c->sec->running++;
	s->job = j;
	if (compact)
		return 0;	/* no network: the state stays what it is */
	s->due = 0;
	s->state = SEC_REFRESHING;
	return 0;
}

/* ---- results ---- */

static struct ctl_zone *sec_find(struct ctl *c, const char *origin)
{
	for (size_t i = 0; i < c->zone_count; i++)
		if (c->zones[i].sec != NULL && strcmp(c->zones[i].origin, origin) == 0)
			return &c->zones[i];
	return NULL;
}

/* Schedule the next check from now after a success or a failure (back-off). */
static void sec_schedule(struct sec_zone *s, int ok)
{
	uint32_t refresh, retry, expire;
	int64_t wait;

	sec_timers(s, &refresh, &retry, &expire);
	if (ok) {
		wait = refresh;
	} else {
		int shift = s->fails > 1 ? s->fails - 1 : 0;

		wait = (int64_t)retry << (shift > 20 ? 20 : shift);
		if (wait > s->cz->retry.max)
			wait = s->cz->retry.max > retry ? s->cz->retry.max : retry;
	}
	s->next_ms = sec_now_ms() + wait * 1000;
}

static void sec_unexpire(struct ctl *c, struct sec_zone *s)
{
	char msg[IPC_MSG_MAX];

	if (!s->expired)
		return;
	s->expired = 0;
	sec_marker(c, s, 0);
	if (dpconn_connected(&c->dp) && dpconn_expire(&c->dp, s->origin, 0, msg, sizeof(msg)) < 0)
		log_msg(LOG_WARNING, "zone %s: dataplane did not clear expiry: %s", s->origin, msg);
	log_msg(LOG_NOTICE, "zone %s: no longer expired, serving serial %u", s->origin,
		s->serial);
}

/* One line per primary that failed (the first n of the round). */
static void sec_log_errs(const struct sec_zone *s, const struct sec_job *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strstr(j->errs[i], " (asking for AXFR)") != NULL)
			log_msg(LOG_ERR, "zone %s: transfer failed: %s", s->origin, j->errs[i]);
		else if (i + 1 < j->nerrs || j->rc == 0)
			log_msg(LOG_ERR, "zone %s: transfer failed: %s; trying the next primary",
				s->origin, j->errs[i]);
		else if (s->have_serial)
			log_msg(LOG_ERR, "zone %s: transfer failed: %s; still serving serial %u",
				s->origin, j->errs[i], s->serial);
		else
			log_msg(LOG_ERR, "zone %s: transfer failed: %s; not served yet", s->origin,
				j->errs[i]);
	}
}

/* A round failed: one line per primary that failed, then back-off. */
static void sec_failed(struct sec_zone *s, struct sec_job *j)
{
	sec_log_errs(s, j, j->nerrs);
	s->last_ok = 0;
	snprintf(s->last_error, sizeof(s->last_error), "%s", j->nerrs ? j->errs[j->nerrs - 1] :
		 "failed");
	snprintf(s->last_primary, sizeof(s->last_primary), "%s",
		 j->nprim ? j->prim[j->nprim - 1].text : "");
	snprintf(s->last_kind, sizeof(s->last_kind), "%s", sec_kind_text(j->kind, j->fallback));
	s->fails++;
	s->state = s->expired ? SEC_EXPIRED : SEC_RETRYING;
	sec_schedule(s, 0);
}

/* A new image from the job: load it (through ctl, which keeps it across reconnects). */
static int sec_serve(struct ctl *c, struct ctl_zone *z, struct sec_job *j)
{
	struct sec_zone *s = z->sec;
	char old_delta[IPC_PATH_MAX];
	struct ctl_result r;
	int64_t t0 = sec_now_ms();

	snprintf(old_delta, sizeof(old_delta), "%s", s->delta);
	memset(&r, 0, sizeof(r));
	snprintf(r.origin, sizeof(r.origin), "%s", z->origin);
	r.has_old = z->have_cur;
	r.old_serial = z->cur.serial;
	snprintf(z->pend.path, sizeof(z->pend.path), "%s", j->img);
	z->pend.serial = j->new_serial;
	z->have_pend = 1;
	ctl_zone_push(c, z, &r);
	if (r.action == CTL_REFUSED) {
		if (j->nerrs < SEC_ERRS_MAX)
			snprintf(j->errs[j->nerrs++], XFR_ERR_MAX, "primary %s: %s: %.400s",
				 j->prim[j->used].text, sec_kind_text(j->kind, j->fallback),
				 z->error);
		return PHAROS_EZONE;
	}
	z->error[0] = '\0';
	s->have_serial = 1;
	s->serial = j->new_serial;
	if (j->is_delta) {
		snprintf(s->delta, sizeof(s->delta), "%s", j->img);
	} else {
		snprintf(s->base, sizeof(s->base), "%s", j->img);
		s->delta[0] = '\0';
	}
	/* A delta holds every change since its base: the ones before are not needed any more. */
	if (old_delta[0] || j->is_delta)
		imgstore_prune_deltas(c->cfg->state_dir, z->origin, j->is_delta ? j->img : NULL);
	if (j->force_axfr && r.action == CTL_LOADED)	/* a serial that went back: drop newer */
		imgstore_prune(c->cfg->state_dir, z->origin, j->img, 1);
	log_msg(LOG_INFO, "zone %s: %s from %s, serial %u (%s), %" PRIu64 " records, %" PRIu64
		" bytes, %" PRId64 " ms (transfer %" PRId64 ", image %" PRId64 ", write %" PRId64
		", load %" PRId64 ")", z->origin, sec_kind_text(j->kind, j->fallback),
		j->prim[j->used].text, j->new_serial, ctl_action_name(r.action), j->records,
		j->bytes, j->ms + (sec_now_ms() - t0), j->ms_xfr, j->ms_build, j->ms_write,
		sec_now_ms() - t0);
	return 0;
}

/* A compaction finished: serve the new base (same serial), forget the delta. */
static void sec_compacted(struct ctl *c, struct ctl_zone *z, struct sec_job *j)
{
	struct sec_zone *s = z->sec;
	struct ctl_result r;

	s->compact = 0;		/* failed: not again until the next IXFR advises it */
	if (j->rc == 0 && j->new_serial == s->serial) {
		memset(&r, 0, sizeof(r));
		snprintf(r.origin, sizeof(r.origin), "%s", z->origin);
		snprintf(z->pend.path, sizeof(z->pend.path), "%s", j->img);
		z->pend.serial = j->new_serial;
		z->have_pend = 1;
		ctl_zone_push(c, z, &r);
		if (r.action != CTL_REFUSED) {
			snprintf(s->base, sizeof(s->base), "%s", j->img);
			s->delta[0] = '\0';
			imgstore_prune_deltas(c->cfg->state_dir, z->origin, NULL);
			log_msg(LOG_INFO, "zone %s: compacted into a new base image, serial %u (%s), "
				"%" PRId64 " ms", z->origin, j->new_serial, ctl_action_name(r.action),
				j->ms);
			return;
		}
		snprintf(j->errs[j->nerrs++], XFR_ERR_MAX, "compacted image refused: %.400s",
			 z->error);
	} else if (j->rc == 0) {
		unlink(j->img);	/* a transfer changed the zone meanwhile: nothing to do */
		return;
	}
	log_msg(LOG_ERR, "zone %s: %s; still serving serial %u", z->origin,
		j->nerrs ? j->errs[0] : "compaction failed", s->serial);
}

/* The end of a round (not a compaction): serve what came, update timers and results. */
static void sec_round_end(struct ctl *c, struct ctl_zone *z, struct sec_job *j)
{
	struct sec_zone *s = z->sec;
	int64_t now = (int64_t)time(NULL);

	s->last_attempt = now;
	if (j->rc == 0 && j->kind != XFR_UPTODATE && sec_serve(c, z, j) < 0)
		j->rc = PHAROS_EZONE;
	if (j->rc < 0) {
		sec_failed(s, j);
		return;
	}
	sec_log_errs(s, j, j->nerrs);	/* primaries that failed before the one that answered */
	s->force_axfr = 0;
	s->fails = 0;
	s->last_ok = 1;
	s->last_error[0] = '\0';
	s->last_success = now;
	s->have_primary_serial = 1;
	s->primary_serial = j->new_serial;
	s->primary_seen = now;
	snprintf(s->last_primary, sizeof(s->last_primary), "%s", j->prim[j->used].text);
	snprintf(s->last_kind, sizeof(s->last_kind), "%s", sec_kind_text(j->kind, j->fallback));
	if (j->kind != XFR_UPTODATE) {
		s->compact = j->compact_advised;
		s->last_xfr = now;
		snprintf(s->last_xfr_kind, sizeof(s->last_xfr_kind), "%s", s->last_kind);
		if (j->refresh) {
			s->refresh = j->refresh;
			s->retry = j->retry;
			s->expire = j->expire;
		}
	}
	sec_unexpire(c, s);
	s->state = SEC_OK;
	sec_schedule(s, 1);
}

/*
 * A message from a job. "ready" (done == 0): its image is written, serve it now; the zone
 * keeps the job (no other round) until "done", after the image is synced: only then is the
 * state file, which names the image, written.
 */
static void sec_done(struct ctl *c, struct sec_job *j, int done)
{
	struct ctl_zone *z = sec_find(c, j->origin);
	struct sec_zone *s = z ? z->sec : NULL;

	if (s == NULL || s->job != j) {	/* the zone left the config meanwhile */
		if (done && j->img[0] && (z == NULL || strcmp(j->img, z->cur.path) != 0))
			unlink(j->img);
		return;
	}
	if (!done || !j->served) {
		if (j->compact)
			sec_compacted(c, z, j);
		else
			sec_round_end(c, z, j);
		j->served = 1;
	}
	if (!done)
		return;
	s->job = NULL;
	if (j->sync_rc < 0)
		log_msg(LOG_ERR, "zone %s: cannot sync %s to disk: %s", z->origin, j->img,
			pharos_strerror(j->sync_rc));
	sec_save(c, s);
}

void sec_event(struct ctl *c)
{
	struct sec_msg m;

	while (read(c->sec->rfd, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		sec_done(c, m.j, m.done);
		if (!m.done)
			continue;
		pthread_join(m.j->tid, NULL);
		c->sec->running--;
		sec_job_free(m.j);
		/*
		 * A transfer's records and image went through the thread's malloc arena; give
		 * the freed pages back, or a 1 M-record AXFR keeps ~2x the zone resident.
		 */
		malloc_trim(0);
	}
}

int sec_fd(const struct ctl *c)
{
	return c->sec ? c->sec->rfd : -1;
}

/* ---- timers ---- */

static void sec_expire_now(struct ctl *c, struct sec_zone *s)
{
	char msg[IPC_MSG_MAX] = "", when[32] = "never";
	time_t t = (time_t)s->last_success;
	struct tm tm;

	if (t != 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	s->expired = 1;
	s->state = SEC_EXPIRED;
	sec_marker(c, s, 1);
	if (dpconn_connected(&c->dp) && dpconn_expire(&c->dp, s->origin, 1, msg, sizeof(msg)) < 0)
		log_msg(LOG_WARNING, "zone %s: dataplane did not take the expiry: %s", s->origin,
			msg);
	log_msg(LOG_ERR, "zone %s: expired: no answer from any primary since %s (serial %u); "
		"answering SERVFAIL until a transfer succeeds", s->origin, when, s->serial);
	sec_save(c, s);
}

void sec_tick(struct ctl *c)
{
	int64_t now = sec_now_ms();

	for (size_t i = 0; i < c->zone_count; i++) {
		struct sec_zone *s = c->zones[i].sec;
		int64_t exp;

		if (s == NULL)
			continue;
		exp = sec_expires_at(s);
		if (!s->expired && exp != 0 && now >= exp)
			sec_expire_now(c, s);
		if (s->job == NULL && (s->due || now >= s->next_ms))
			sec_start(c, s, 0);
		else if (s->job == NULL && s->compact && s->delta[0])
			sec_start(c, s, 1);
	}
}

int sec_timeout_ms(const struct ctl *c, int max_ms)
{
	int64_t now = sec_now_ms(), best = now + max_ms;

	for (size_t i = 0; i < c->zone_count; i++) {
		const struct sec_zone *s = c->zones[i].sec;
		int64_t exp;

		if (s == NULL)
			continue;
		/* with every slot busy, a finished job wakes the loop */
		if (s->job == NULL && (s->due || s->next_ms < best) &&
		    c->sec->running < SEC_JOBS_MAX)
			best = s->due ? now : s->next_ms;
		if (s->job == NULL && s->compact && s->delta[0] && c->sec->running < SEC_JOBS_MAX)
			best = now;
		exp = sec_expires_at(s);
		if (!s->expired && exp != 0 && exp < best)
			best = exp;
	}
	return best <= now ? 0 : (int)(best - now);
}

/* ---- NOTIFY ---- */

static int sec_acl(void *ctx, const char *origin, const struct notify_allow **acl, size_t *n)
{
	struct ctl_zone *z = sec_find(ctx, origin);

	if (z == NULL)
		return -1;
	*acl = z->sec->acl;
	*n = z->sec->nacl;
	return 0;
}

static void sec_addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(out, cap, "%s#%u", host, port);
}

static void sec_on_notify(void *ctx, const struct ipc_notify *n)
{
	struct ctl *c = ctx;
	uint8_t resp[IPC_NOTIFY_MAX];
	struct notify_event ev;
	struct ctl_zone *z;
	char from[XFR_ADDR_TXT];
	size_t rlen = 0;
	uint32_t len = n->len > IPC_NOTIFY_MAX ? IPC_NOTIFY_MAX : n->len;

	sec_addr_text(&n->src, from, sizeof(from));
	memset(&ev, 0, sizeof(ev));
	/* replay state per key and zone: it outlives reloads (a key kept keeps it) */
	if (notify_handle(n->msg, len, (const struct sockaddr *)&n->src, sec_acl, c,
			  &c->sec->seen, resp, sizeof(resp), &rlen, &ev) < 0)
		return;		/* not a NOTIFY: no answer */
	if (rlen > 0)
		dpconn_notify_answer(&c->dp, n->id, resp, rlen);
	if (!ev.accepted) {
		log_msg(LOG_WARNING, "NOTIFY for %s from %s refused: %s",
			ev.origin[0] ? ev.origin : "?", from, ev.why);
		return;
	}
	z = sec_find(c, ev.origin);
	if (z == NULL)
		return;
	z->sec->due = 1;	/* coalesces with a round in flight: one more after it */
	if (ev.have_serial)
		log_msg(LOG_INFO, "zone %s: NOTIFY from %s, serial %u: checking now", z->origin,
			from, ev.serial);
	else
		log_msg(LOG_INFO, "zone %s: NOTIFY from %s: checking now", z->origin, from);
}

void sec_connected(struct ctl *c)
{
	char msg[IPC_MSG_MAX] = "";
	int rc = dpconn_subscribe(&c->dp, msg, sizeof(msg));

	if (rc < 0)
		log_msg(LOG_ERR, "cannot subscribe to NOTIFYs from the dataplane: %s",
			msg[0] ? msg : pharos_strerror(rc));
	for (size_t i = 0; i < c->zone_count && dpconn_connected(&c->dp); i++) {
		struct sec_zone *s = c->zones[i].sec;

		if (s == NULL || !s->expired || !c->zones[i].loaded)
			continue;
		if (dpconn_expire(&c->dp, s->origin, 1, msg, sizeof(msg)) < 0)
			log_msg(LOG_WARNING, "zone %s: dataplane did not take the expiry: %s",
				s->origin, msg);
	}
}

/* ---- zones ---- */

/* The NOTIFY ACL from the config (keys point into the running config). */
static int sec_build_acl(struct ctl *c, struct sec_zone *s)
{
	const struct config_zone *cz = s->cz;
	struct notify_allow *acl = calloc(cz->notify_count ? cz->notify_count : 1, sizeof(*acl));

	if (acl == NULL)
		return PHAROS_ENOMEM;
	for (size_t i = 0; i < cz->notify_count; i++) {
		const struct config_addr *a = &cz->notify_from[i];

		memcpy(&acl[i].net, &a->addr, sizeof(a->addr));
		acl[i].prefix = a->prefix;
		acl[i].key = a->key >= 0 ? &c->cfg->keys[a->key] : NULL;
	}
	free(s->acl);
	s->acl = acl;
	s->nacl = cz->notify_count;
	return 0;
}

/* The state file said nothing usable: start afresh, keeping what the config gave. */
static void sec_forget(struct sec_zone *s)
{
	struct sec_zone keep = *s;

	memset(s, 0, sizeof(*s));
	snprintf(s->origin, sizeof(s->origin), "%s", keep.origin);
	s->cz = keep.cz;
	s->acl = keep.acl;
	s->nacl = keep.nacl;
	s->last_ok = -1;
}

/* Drop the version the state file names (gone, or not what is served): AXFR at once. */
static void sec_drop_version(struct sec_zone *s)
{
	s->have_serial = 0;
	s->base[0] = s->delta[0] = '\0';
	s->last_success = 0;
}

/* Which version the zone has: the state file's, else the newest image on disk. */
static void sec_pick_version(struct ctl *c, const struct ctl_zone *z, struct sec_zone *s)
{
	const char *img = s->delta[0] ? s->delta : s->base;
	char delta[IPC_PATH_MAX];
	uint32_t dserial = 0;
	struct stat st;

	if (s->have_serial && (z->have_cur || z->have_pend) &&
	    strcmp(img, z->have_pend ? z->pend.path : z->cur.path) != 0)
		sec_drop_version(s);	/* was a file zone: served until an AXFR replaces it */
	if (s->have_serial && (img[0] == '\0' || stat(img, &st) < 0)) {
		log_msg(LOG_WARNING, "zone %s: image %s of the state file is gone", s->origin,
			img);
		sec_drop_version(s);
	}
	if (s->have_serial || z->have_cur || z->have_pend ||
	    imgstore_newest(c->cfg->state_dir, s->origin, s->base, sizeof(s->base),
			    &s->serial) < 0)
		return;
	s->have_serial = 1;	/* an image without a state file: check it at once */
	s->delta[0] = '\0';
	s->last_success = 0;
	if (imgstore_newest_delta(c->cfg->state_dir, s->origin, s->base, delta, sizeof(delta),
				  &dserial) == 0) {
		snprintf(s->delta, sizeof(s->delta), "%s", delta);
		s->serial = dserial;
	}
}

/* Timers continue from the state file: next check, state; past due = now. */
static void sec_resume(struct sec_zone *s)
{
	int64_t now = (int64_t)time(NULL);
	uint32_t refresh, retry, expire;

	sec_timers(s, &refresh, &retry, &expire);
	s->state = s->expired ? SEC_EXPIRED : s->last_ok == 0 ? SEC_RETRYING : SEC_OK;
	if (s->last_ok == 0)
		s->next_ms = (s->last_attempt + retry) * 1000;
	else
		s->next_ms = (s->last_success + refresh) * 1000;
	if (s->next_ms < now * 1000 || s->last_success > now)
		s->next_ms = now * 1000;
}

/* Start-up: what the state directory says about the zone, and its image served at once. */
static void sec_restore(struct ctl *c, struct ctl_zone *z, struct sec_zone *s,
			struct ctl_result *r)
{
	if (sec_load(c, s) < 0)	/* none, or unreadable */
		sec_forget(s);
	sec_pick_version(c, z, s);
	if (s->have_serial && !z->have_cur && !z->have_pend) {
		snprintf(z->pend.path, sizeof(z->pend.path), "%s", s->delta[0] ? s->delta : s->base);
		z->pend.serial = s->serial;
		z->have_pend = 1;
		ctl_zone_push(c, z, r);
	} else if (z->have_cur || z->have_pend) {	/* was a file zone: keep serving that */
		r->action = CTL_UNCHANGED;
		if (z->have_pend || !z->loaded)
			ctl_zone_push(c, z, r);
	} else {
		r->action = CTL_PENDING;
		snprintf(r->msg, sizeof(r->msg), "no image yet: transfer from %s",
			 s->cz->primaries[0].text);
	}
	sec_resume(s);
	if (s->expired)
		sec_marker(c, s, 1);
	sec_save(c, s);
}

void sec_zone_apply(struct ctl *c, struct ctl_zone *z, const struct config_zone *cz,
		    struct ctl_result *r)
{
	struct sec_zone *s = z->sec;
	int fresh = s == NULL;

	r->has_old = z->have_cur;
	r->old_serial = z->cur.serial;
	if (fresh) {
		s = calloc(1, sizeof(*s));
		if (s == NULL) {
			r->action = CTL_REFUSED;
			snprintf(r->msg, sizeof(r->msg), "out of memory");
			return;
		}
		snprintf(s->origin, sizeof(s->origin), "%s", z->origin);
		s->last_ok = -1;
		z->sec = s;
	}
	s->cz = cz;
	if (sec_build_acl(c, s) < 0)
		log_msg(LOG_ERR, "zone %s: out of memory for the NOTIFY ACL", s->origin);
	if (fresh) {
		sec_restore(c, z, s, r);
	} else {
		uint32_t refresh, retry, expire;
		int64_t due;

		r->action = CTL_UNCHANGED;
		if (z->have_pend || (z->have_cur && !z->loaded))
			ctl_zone_push(c, z, r);
		/* bounds tightened by the new config count from the last success already */
		sec_timers(s, &refresh, &retry, &expire);
		due = (s->last_success + (int64_t)refresh) * 1000;
		if (s->state == SEC_OK && s->last_success != 0 && due < s->next_ms)
			s->next_ms = due;
	}
	if (z->have_cur || z->have_pend) {
		const struct ctl_image *img = z->have_pend ? &z->pend : &z->cur;

		r->has_serial = 1;
		r->serial = img->serial;
		snprintf(r->image, sizeof(r->image), "%s", img->path);
	}
}

void sec_zone_free(struct sec_zone *s)
{
	if (s == NULL)
		return;
	/* a job in flight finds no zone when it is done and drops its result */
	free(s->acl);
	free(s);
}

int sec_request(struct ctl *c, const char *origin, int force_axfr, char *msg, size_t len)
{
	char norm[CONFIG_ORIGIN_MAX];
	struct ctl_zone *z = NULL;

	if (config_origin_normalize(origin, norm, sizeof(norm)) < 0) {
		snprintf(msg, len, "invalid zone origin '%s'", origin);
		return PHAROS_EINVAL;
	}
	for (size_t i = 0; i < c->zone_count; i++)
		if (strcmp(c->zones[i].origin, norm) == 0)
			z = &c->zones[i];
	if (z == NULL) {
		snprintf(msg, len, "zone %s is not in the config", norm);
		return PHAROS_ENOTFOUND;
	}
	if (z->sec == NULL) {
		snprintf(msg, len, "zone %s is not a secondary zone (it is served from %s)", norm,
			 z->file ? z->file : "a file");
		return PHAROS_EINVAL;
	}
	z->sec->due = 1;
	if (force_axfr)
		z->sec->force_axfr = 1;
	snprintf(msg, len, "%s: %s of %s %s", norm, force_axfr ? "AXFR" : "SOA check",
		 z->sec->cz->primaries[0].text,
		 z->sec->job ? "queued after the one in flight" : "started");
	log_msg(LOG_NOTICE, "zone %s: operator asked for %s", norm,
		force_axfr ? "a fresh AXFR" : "a SOA check");
	return 0;
}

/* ---- module ---- */

int sec_init(struct ctl *c)
{
	int fds[2];

	c->sec = calloc(1, sizeof(*c->sec));
	if (c->sec == NULL)
		return PHAROS_ENOMEM;
	/*
	 * A transfer's big arrays (names, records, rdata: tens of MB for 1 M records) always
	 * get their own mappings, returned whole when freed. glibc's default raises the
	 * threshold to the size of each mapping freed, so the next transfer's arrays land in
	 * a thread arena that keeps ~1x the zone text resident after the transfer, trim or not.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(c->sec);
		c->sec = NULL;
		return PHAROS_EIO;
	}
	/* the thread's write must not fail: a pointer is far below PIPE_BUF, the pipe holds
	 * SEC_JOBS_MAX of them, but blocking keeps it simple and safe */
	fcntl(fds[1], F_SETFL, 0);
	c->sec->rfd = fds[0];
	c->sec->wfd = fds[1];
	dpconn_set_notify(&c->dp, sec_on_notify, c);
	return 0;
}

void sec_fini(struct ctl *c)
{
	struct ctl_zone *z;
	struct sec_msg m;

	if (c->sec == NULL)
		return;
	while (c->sec->running > 0) {
		if (read(c->sec->rfd, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
			struct timespec ts = { 0, 10 * 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		if (!m.done)
			continue;	/* stopping: not served now */
		pthread_join(m.j->tid, NULL);
		c->sec->running--;
		z = sec_find(c, m.j->origin);
		if (m.j->served && z != NULL && z->sec->job == m.j) {
			z->sec->job = NULL;
			sec_save(c, z->sec);	/* served before we stopped: remember it */
		} else if (m.j->img[0] && (z == NULL || strcmp(m.j->img, z->cur.path) != 0)) {
			unlink(m.j->img);	/* never served: a restart must not pick it */
		}
		sec_job_free(m.j);
	}
	dpconn_set_notify(&c->dp, NULL, NULL);
	close(c->sec->rfd);
	close(c->sec->wfd);
	notify_seen_free(&c->sec->seen);
	free(c->sec);
	c->sec = NULL;
}
