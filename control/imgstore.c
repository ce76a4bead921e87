/* The state directory's zone images: naming, finding the newest, pruning old ones. */
#include "imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pharos/err.h"
#include "pharos/image.h"

#define IMGSTORE_NAME_MAX	300	/* stem (<= 253) + serial + suffix */
#define IMGSTORE_LIST_MAX	4096	/* images of one zone considered when pruning */

struct imgstore_ent {
	char name[IMGSTORE_NAME_MAX];
	struct timespec mtime;
	uint32_t serial;
};

/* "example.com." -> "example.com", "." -> "@". */
static void imgstore_stem(const char *origin, char *out, size_t cap)
{
	size_t n = strlen(origin);

	if (strcmp(origin, ".") == 0 || n == 0) {
		snprintf(out, cap, "@");
		return;
	}
	if (origin[n - 1] == '.')
		n--;
	snprintf(out, cap, "%.*s", (int)n, origin);
}

static int imgstore_path_ext(const char *dir, const char *origin, uint32_t serial,
			     const char *ext, char *out, size_t cap)
{
	char stem[IMGSTORE_NAME_MAX];
	int n;

	imgstore_stem(origin, stem, sizeof(stem));
	n = snprintf(out, cap, "%s/%s.%u%s", dir, stem, serial, ext);
	return (n < 0 || (size_t)n >= cap) ? PHAROS_ESPACE : 0;
}

int imgstore_path(const char *dir, const char *origin, uint32_t serial, char *out, size_t cap)
{
	return imgstore_path_ext(dir, origin, serial, ".img", out, cap);
}

int imgstore_delta_path(const char *dir, const char *origin, uint32_t serial, char *out,
			size_t cap)
{
	return imgstore_path_ext(dir, origin, serial, ".delta", out, cap);
}

/* 1 and *serial when name is "<stem>.<decimal serial><ext>". */
static int imgstore_match_ext(const char *name, const char *stem, const char *ext,
			      uint32_t *serial)
{
	size_t sl = strlen(stem);
	const char *p = name + sl + 1;
	unsigned long long v = 0;
	int digits = 0;

	if (strncmp(name, stem, sl) != 0 || name[sl] != '.')
		return 0;
	for (; *p >= '0' && *p <= '9' && digits < 11; p++, digits++)
		v = v * 10 + (unsigned)(*p - '0');
	if (digits == 0 || digits > 10 || v > UINT32_MAX || strcmp(p, ext) != 0)
		return 0;
	*serial = (uint32_t)v;
	return 1;
}


static int imgstore_newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* Files "<stem>.<serial><ext>" of origin in dir into a malloc'd array. */
static int imgstore_list_ext(const char *dir, const char *origin, const char *ext,
			     struct imgstore_ent **out, size_t *count)
{
	char stem[IMGSTORE_NAME_MAX];
	struct imgstore_ent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *d;
	struct stat st;
	DIR *dp;

	imgstore_stem(origin, stem, sizeof(stem));
	dp = opendir(dir);
	if (dp == NULL)
		return PHAROS_EIO;
	while ((d = readdir(dp)) != NULL && n < IMGSTORE_LIST_MAX) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(dp);
				return PHAROS_ENOMEM;
			}
			v = nv;
		}
		if (strlen(d->d_name) >= IMGSTORE_NAME_MAX ||
		    !imgstore_match_ext(d->d_name, stem, ext, &v[n].serial) ||
		    fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		strcpy(v[n].name, d->d_name);
		v[n].mtime = st.st_mtim;
		n++;
	}
	closedir(dp);
	*out = v;
	*count = n;
	return 0;
}

/* Images of origin in dir into a malloc'd array. */
static int imgstore_list(const char *dir, const char *origin, struct imgstore_ent **out,
			 size_t *count)
{
	return imgstore_list_ext(dir, origin, ".img", out, count);
}

static int imgstore_cmp_newest(const void *a, const void *b)
{
	const struct imgstore_ent *x = a, *y = b;

	if (imgstore_newer(&x->mtime, &y->mtime))
		return -1;
	return imgstore_newer(&y->mtime, &x->mtime) ? 1 : strcmp(x->name, y->name);
}

int imgstore_newest(const char *dir, const char *origin, char *out, size_t cap,
		    uint32_t *serial)
{
	struct imgstore_ent *v;
	size_t n;
	int rc = imgstore_list(dir, origin, &v, &n);

	if (rc < 0)
		return rc == PHAROS_EIO ? PHAROS_ENOTFOUND : rc;
	rc = PHAROS_ENOTFOUND;
	if (n > 0) {
		qsort(v, n, sizeof(*v), imgstore_cmp_newest);
		*serial = v[0].serial;
		rc = snprintf(out, cap, "%s/%s", dir, v[0].name) < (int)cap ? 0 : PHAROS_ESPACE;
	}
	free(v);
	return rc;
}

int imgstore_prune(const char *dir, const char *origin, const char *keep, unsigned count)
{
	char path[IMGSTORE_NAME_MAX + 4096];
	struct imgstore_ent *v;
	unsigned kept = 0;
	int removed = 0;
	size_t n;
	int rc = imgstore_list(dir, origin, &v, &n);

	if (rc < 0)
		return rc;
	if (n > 1)
		qsort(v, n, sizeof(*v), imgstore_cmp_newest);
	if (keep != NULL)
		kept = 1;	/* the kept image counts whether or not it is listed */
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (keep != NULL && strcmp(path, keep) == 0)
			continue;
		if (kept < count) {
			kept++;
			continue;
		}
		if (unlink(path) == 0)
			removed++;
	}
	free(v);
	return removed;
}

/* Read exactly len bytes of a file whose size must be len. */
static int imgstore_read(const char *path, uint8_t *buf, size_t len)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return PHAROS_EIO;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != len) {
		close(fd);
		return PHAROS_ESIZE;
	}
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			close(fd);
			return PHAROS_EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

/* Zero the header fields that change with every compilation. */
static void imgstore_mask(struct img_header *h)
{
	h->checksum = 0;
	h->compiled_at = 0;
}

int imgstore_same(const char *path, const uint8_t *img, size_t len)
{
	struct img_header a, b;
	uint8_t *old;
	int same = 0;

	if (len < sizeof(a))
		return 0;
	old = malloc(len);
	if (old == NULL)
		return 0;
	if (imgstore_read(path, old, len) == 0) {
		memcpy(&a, old, sizeof(a));
		memcpy(&b, img, sizeof(b));
		imgstore_mask(&a);
		imgstore_mask(&b);
		same = memcmp(&a, &b, sizeof(a)) == 0 &&
		       memcmp(old + sizeof(a), img + sizeof(a), len - sizeof(a)) == 0;
	}
	free(old);
	return same;
}

int imgstore_serial(const char *path, uint32_t *serial)
{
	struct img_header h;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return PHAROS_EIO;
	r = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (r != (ssize_t)sizeof(h))
		return PHAROS_EIO;
	if (memcmp(h.magic, IMG_MAGIC, sizeof(h.magic)) != 0)
		return PHAROS_EMAGIC;
	*serial = h.serial;
	return 0;
}

/* The header of an image file; 0 or PHAROS_EIO. */
static int imgstore_header(const char *path, struct img_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return PHAROS_EIO;
	r = pread(fd, h, sizeof(*h), 0);
	close(fd);
	return r == (ssize_t)sizeof(*h) ? 0 : PHAROS_EIO;
}

/* 1 when serial a is greater than b (RFC 1982, SERIAL_BITS = 32). */
static int imgstore_serial_gt(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	return d != 0 && d < 0x80000000u;
}

int imgstore_newest_delta(const char *dir, const char *origin, const char *base_path,
			  char *out, size_t cap, uint32_t *serial)
{
	char path[IMGSTORE_NAME_MAX + 4096];
	struct img_header base, h;
	struct imgstore_ent *v, *best = NULL;
	size_t n;
	int rc;

	if (imgstore_header(base_path, &base) < 0 ||
	    memcmp(base.magic, IMG_MAGIC, sizeof(base.magic)) != 0)
		return PHAROS_ENOTFOUND;
	if ((rc = imgstore_list_ext(dir, origin, ".delta", &v, &n)) < 0)
		return rc == PHAROS_EIO ? PHAROS_ENOTFOUND : rc;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (imgstore_header(path, &h) < 0 ||
		    memcmp(h.magic, IMG_MAGIC_DELTA, sizeof(h.magic)) != 0 ||
		    h.base_serial != base.serial || h.base_checksum != base.checksum)
			continue;
		v[i].serial = h.serial;
		if (!best || imgstore_serial_gt(h.serial, best->serial) ||
		    (h.serial == best->serial && imgstore_newer(&v[i].mtime, &best->mtime)))
			best = &v[i];
	}
	rc = PHAROS_ENOTFOUND;
	if (best) {
		*serial = best->serial;
		rc = snprintf(out, cap, "%s/%s", dir, best->name) < (int)cap ? 0 : PHAROS_ESPACE;
	}
	free(v);
	return rc;
}

int imgstore_prune_deltas(const char *dir, const char *origin, const char *keep)
{
	char path[IMGSTORE_NAME_MAX + 4096];
	struct imgstore_ent *v;
	int removed = 0;
	size_t n;
	int rc = imgstore_list_ext(dir, origin, ".delta", &v, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (keep != NULL && strcmp(path, keep) == 0)
			continue;
		if (unlink(path) == 0)
			removed++;
	}
	free(v);
	return removed;
}
