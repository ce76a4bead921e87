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

static int persist_is_img(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".img") == 0;
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

/* Publish one kept image as a LOAD does; takes ownership of c->img. */
static int persist_serve(struct persist_cand *c)
{
	char name[DNAME_TXT_MAX];
	uint32_t serial = c->img->hdr->serial, names = c->img->name_count;
	int rc;

	dname_to_text(c->img->origin, name, sizeof(name));
	rc = mgmt_serve(c->img, c->path);
	if (rc < 0) {
		log_msg("state dir: %s: %s", name, pharos_strerror(rc));
		return rc;
	}
	log_msg("serving %s serial %u (%u names) from the state dir: %s", name, serial, names,
		c->path);
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
	for (size_t i = 0; i < n; i++)
		served += persist_serve(&v[i]) == 0;
	free(v);
	return served;
}
