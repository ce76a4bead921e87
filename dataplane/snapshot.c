/* Snapshot: the sorted zone table workers search by longest origin suffix; built and freed by mgmt. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pharos/err.h"
#include "snapshot.h"

/*
 * zones[] is sorted by origin wire bytes, a shorter origin first when one is a prefix of
 * the other. snap_find() tries each label-aligned suffix of the query name, longest first,
 * with a binary search: O(labels x log zones) memcmps and no allocation, whatever the
 * number of zones. A suffix is only ever cut at a label boundary, so "xexample.com." is
 * never matched against "example.com.".
 */

static int origin_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* Index of the zone with exactly this origin, or -(insertion point) - 1. */
static long snap_search(const struct snapshot *s, const uint8_t *o, size_t len)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct snap_zone *z = s->zones[mid];
		int c = origin_cmp(z->origin, z->origin_len, o, len);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

const struct snap_zone *snap_find(const struct snapshot *s, const uint8_t *lname, size_t len)
{
	size_t off = 0;

	if (s == NULL || s->count == 0 || len == 0)
		return NULL;
	for (;;) {
		long i = snap_search(s, lname + off, len - off);

		if (i >= 0)
			return s->zones[i];
		if (lname[off] == 0)
			return NULL;		/* tried the root: no zone */
		off += 1 + (size_t)lname[off];
		if (off >= len)
			return NULL;		/* not a well-formed wire name */
	}
}

static struct snapshot *snap_alloc(uint32_t count)
{
	struct snapshot *s = malloc(sizeof(*s) + (size_t)count * sizeof(s->zones[0]));

	if (s != NULL)
		s->count = count;
	return s;
}

/* Every zone of a new snapshot gains the reference that snapshot holds. */
static void snap_ref_all(struct snapshot *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		s->zones[i]->refs++;
}

int snap_with(const struct snapshot *old, struct snap_zone *z, struct snapshot **out)
{
	uint32_t n = old ? old->count : 0;
	struct snapshot *s;
	long i;

	if (z == NULL || out == NULL)
		return PHAROS_EINVAL;
	i = old ? snap_search(old, z->origin, z->origin_len) : -1;
	if (i >= 0) {
		s = snap_alloc(n);		/* replace in place */
		if (s == NULL)
			return PHAROS_ENOMEM;
		memcpy(s->zones, old->zones, n * sizeof(s->zones[0]));
		s->zones[i] = z;
	} else {
		size_t at = (size_t)(-i - 1);

		s = snap_alloc(n + 1);
		if (s == NULL)
			return PHAROS_ENOMEM;
		if (at > 0)
			memcpy(s->zones, old->zones, at * sizeof(s->zones[0]));
		s->zones[at] = z;
		if (n > at)
			memcpy(s->zones + at + 1, old->zones + at, (n - at) * sizeof(s->zones[0]));
	}
	snap_ref_all(s);
	*out = s;
	return 0;
}

int snap_without(const struct snapshot *old, const uint8_t *origin, size_t len,
		 struct snapshot **out)
{
	long i = old ? snap_search(old, origin, len) : -1;
	struct snapshot *s;

	if (i < 0)
		return PHAROS_ENOTFOUND;
	s = snap_alloc(old->count - 1);
	if (s == NULL)
		return PHAROS_ENOMEM;
	memcpy(s->zones, old->zones, (size_t)i * sizeof(s->zones[0]));
	memcpy(s->zones + i, old->zones + i + 1,
	       (old->count - (size_t)i - 1) * sizeof(s->zones[0]));
	snap_ref_all(s);
	*out = s;
	return 0;
}

void snap_release(struct snapshot *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->count; i++) {
		struct snap_zone *z = s->zones[i];

		assert(z->refs > 0);
		if (--z->refs == 0)
			snap_zone_free(z);
	}
	free(s);
}

struct snap_zone *snap_zone_new(struct img *img, const char *path)
{
	struct snap_zone *z;

	if (img == NULL)
		return NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL) {
		img_close(img);		/* we own it even when we fail */
		return NULL;
	}
	assert(img->origin_len >= 1 && img->origin_len <= sizeof(z->origin));
	memcpy(z->origin, img->origin, img->origin_len);
	z->origin_len = img->origin_len;
	z->img = img;
	img->refs++;
	snprintf(z->path, sizeof(z->path), "%s", path ? path : "");
	z->loaded_at = (uint64_t)time(NULL);
	z->refs = 0;
	return z;
}

/* Drop one zone's use of an image; the last one closes it. NULL is fine. */
static void snap_img_put(struct img *img)
{
	if (img != NULL && --img->refs == 0)
		img_close(img);
}

struct snap_zone *snap_zone_delta(const struct snap_zone *cur, struct img *delta,
				  const char *path)
{
	struct snap_zone *z = calloc(1, sizeof(*z));

	if (z == NULL) {
		img_close(delta);
		return NULL;
	}
	memcpy(z->origin, cur->origin, cur->origin_len);
	z->origin_len = cur->origin_len;
	z->img = cur->img;
	z->img->refs++;
	z->delta = delta;
	delta->refs++;
	memcpy(z->path, cur->path, sizeof(z->path));
	snprintf(z->delta_path, sizeof(z->delta_path), "%s", path ? path : "");
	z->loaded_at = (uint64_t)time(NULL);
	z->flags = cur->flags;		/* expired belongs to the zone, not to an image */
	return z;
}

void snap_zone_free(struct snap_zone *z)
{
	if (z == NULL)
		return;
	assert(z->refs == 0);
	snap_img_put(z->img);
	snap_img_put(z->delta);
	free(z);
}

struct snap_zone *snap_zone_flagged(const struct snap_zone *z, uint32_t flags)
{
	struct snap_zone *v = malloc(sizeof(*v));

	if (v == NULL)
		return NULL;
	memcpy(v, z, sizeof(*v));	/* same images (shared), same paths and load time */
	v->flags = flags;
	v->refs = 0;
	v->img->refs++;
	if (v->delta != NULL)
		v->delta->refs++;
	return v;
}
