/* Start-up from the state directory: the newest valid image of each zone, served at once. */
#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "pharos/err.h"
#include "dname.h"
#include "img.h"
#include "log.h"
#include "mgmt.h"
#include "persist.h"

/* The best image seen so far for one zone. */
struct persist_cand {
	struct img *img;
	struct timespec mtime;
	char path[1024];
	struct persist_cand *delta;	/* the best delta over img, or NULL */
};

/* 1 when serial a is greater than b in RFC 1982 serial arithmetic (SERIAL_BITS = 32). */
static int persist_serial_gt(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	/* d == 2^31 is undefined in RFC 1982: neither is greater */
	return d != 0 && d < 0x80000000u;
}

static int persist_newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* 1 when the image in x should be served rather than the one in y (same zone). */
static int persist_better(const struct persist_cand *x, const struct persist_cand *y)
{
	uint32_t sx = x->img->hdr->serial, sy = y->img->hdr->serial;

	if (persist_serial_gt(sx, sy))
		return 1;
	if (persist_serial_gt(sy, sx))
		return 0;
	return persist_newer(&x->mtime, &y->mtime);
}

static int persist_has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && strcmp(name + n - s, suffix) == 0;
}

static int persist_is_img(const char *name)
{
	return persist_has_suffix(name, ".img");
}

/* Open and verify dir/name into c; log why when it is refused. 0 or a negative pharos_err. */
static int persist_open(const char *dir, const char *name, struct persist_cand *c)
{
	char err[512] = "";
	struct stat st;
	int rc;

	if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", dir, name) >= sizeof(c->path)) {
		log_msg("state dir: %s/%s: path too long, skipped", dir, name);
		return PHAROS_ESPACE;
	}
	if (stat(c->path, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_msg("state dir: %s: not a regular file, skipped", c->path);
		return PHAROS_EINVAL;
	}
	c->mtime = st.st_mtim;
	rc = img_open_file(c->path, &c->img, err, sizeof(err));
	if (rc == 0 && img_is_delta(c->img) != persist_has_suffix(name, ".delta")) {
		snprintf(err, sizeof(err), "a %s image in a file named so",
			 img_is_delta(c->img) ? "delta" : "full");
		img_close(c->img);
		c->img = NULL;
		rc = PHAROS_EZONE;
	}
	if (rc < 0) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s", pharos_strerror(rc));
		if (strstr(err, c->path) != NULL)	/* img_open_file named it already */
			log_msg("state dir: refused image: %s", err);
		else
			log_msg("state dir: refused image %s: %s", c->path, err);
		return rc;
	}
	return 0;
}

/* Put c among the candidates: new zone, better than the one kept, or closed. */
static int persist_keep(struct persist_cand **v, size_t *n, struct persist_cand *c)
{
	struct persist_cand *nv;

	for (size_t i = 0; i < *n; i++) {
		struct img *kept = (*v)[i].img;

		if (kept->origin_len != c->img->origin_len ||
		    memcmp(kept->origin, c->img->origin, kept->origin_len) != 0)
			continue;
		if (persist_better(c, &(*v)[i])) {
			img_close(kept);
			(*v)[i] = *c;
		} else {
			img_close(c->img);
		}
		return 0;
	}
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (nv == NULL) {
		img_close(c->img);
		return PHAROS_ENOMEM;
	}
	*v = nv;
	(*v)[(*n)++] = *c;
	return 0;
}

/*
 * "An already-expired zone stays expired": pharos-control keeps DIR/<stem>.expired while
 * the zone is expired (doc/ipc.md, IPC_EXPIRE); the zone starts expired when it exists.
 */
static void persist_expired(const char *dir, const uint8_t *origin, size_t olen,
			    const char *name)
{
	char path[1200];
	size_t n = strlen(name);
	struct stat st;
	int rc;

	if (n <= 1)		/* the root: "@" */
		snprintf(path, sizeof(path), "%s/@.expired", dir);
	else
		snprintf(path, sizeof(path), "%s/%.*s.expired", dir, (int)(n - 1), name);
	if (lstat(path, &st) < 0)
		return;
	rc = mgmt_set_flags(origin, olen, SNAP_ZONE_EXPIRED);
	if (rc < 0)
		log_msg("state dir: %s: cannot mark expired: %s", name, pharos_strerror(rc));
	else
		log_msg("%s starts expired (SERVFAIL): %s exists", name, path);
}

/*
 * A verified delta: kept for the candidate whose base it was made for, when it serves a
 * greater serial than the delta kept so far (equal: the newer file). Deltas over other
 * bases (older ones, left until pharos-control prunes them) are closed without a word.
 */
static void persist_attach(struct persist_cand *v, size_t n, struct persist_cand *d)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		struct persist_cand *c = &v[i];
		if (img_delta_check(c->img, d->img, err, sizeof(err)) < 0)
			continue;
		if (c->delta && !persist_better(d, c->delta))
			break;
		if (c->delta) {
			img_close(c->delta->img);
			free(c->delta);
		}
		c->delta = malloc(sizeof(*d));
		if (c->delta == NULL)
			break;
		*c->delta = *d;
		return;
	}
	img_close(d->img);
}

/* The deltas of the state dir, each attached to its base's candidate (or dropped). */
static void persist_deltas(const char *dir, struct persist_cand *v, size_t n)
{
	struct persist_cand c;
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (!persist_has_suffix(d->d_name, ".delta"))
			continue;
		memset(&c, 0, sizeof(c));
		if (persist_open(dir, d->d_name, &c) == 0)
			persist_attach(v, n, &c);
	}
	closedir(dp);
}

/* The delta over the base just served, as a LOAD of it does; takes ownership of d->img. */
static void persist_serve_delta(const char *name, struct persist_cand *d)
{
	uint32_t serial = d->img->hdr->serial, names = d->img->name_count;
	uint32_t base = d->img->hdr->base_serial;
	char err[512] = "";
	int rc = mgmt_serve_delta(d->img, d->path, err, sizeof(err));

	if (rc < 0)
		log_msg("state dir: %s: delta %s refused: %s", name, d->path, err);
	else
		log_msg("serving %s serial %u (delta of %u names over base serial %u) from the "
			"state dir: %s", name, serial, names, base, d->path);
	free(d);
}

/* Publish one kept image as a LOAD does; takes ownership of c->img. */
static int persist_serve(const char *dir, struct persist_cand *c)
{
	char name[DNAME_TXT_MAX];
	uint8_t origin[DNAME_MAX];
	size_t olen = c->img->origin_len;
	uint32_t serial = c->img->hdr->serial, names = c->img->name_count;
	int rc;

	memcpy(origin, c->img->origin, olen);	/* img is ours no more after mgmt_serve */
	dname_to_text(c->img->origin, name, sizeof(name));
	rc = mgmt_serve(c->img, c->path);
	if (rc < 0) {
		log_msg("state dir: %s: %s", name, pharos_strerror(rc));
		if (c->delta) {
			img_close(c->delta->img);
			free(c->delta);
		}
		return rc;
	}
	log_msg("serving %s serial %u (%u names) from the state dir: %s", name, serial, names,
		c->path);
	if (c->delta)
		persist_serve_delta(name, c->delta);
	persist_expired(dir, origin, olen, name);
	return 0;
}

unsigned persist_load(const char *dir)
{
	struct persist_cand *v = NULL, c;
	struct dirent *d;
	size_t n = 0;
	unsigned served = 0;
	DIR *dp = opendir(dir);

	if (dp == NULL) {
		log_msg("state dir %s: %s; starting with no zone", dir, strerror(errno));
		return 0;
	}
	while ((d = readdir(dp)) != NULL) {
		if (!persist_is_img(d->d_name))
			continue;
		memset(&c, 0, sizeof(c));
		if (persist_open(dir, d->d_name, &c) == 0 && persist_keep(&v, &n, &c) < 0)
			log_msg("state dir: out of memory, %s skipped", c.path);
	}
	closedir(dp);
	persist_deltas(dir, v, n);
	for (size_t i = 0; i < n; i++)
		served += persist_serve(dir, &v[i]) == 0;
	free(v);
	return served;
}
