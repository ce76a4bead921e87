/* Snapshot: the immutable set of zones being served, published to workers with RCU. */
#ifndef PHAROS_SNAPSHOT_H
#define PHAROS_SNAPSHOT_H

#include <stdint.h>
#include <stddef.h>
#include "img.h"

#define SNAP_ZONE_EXPIRED	0x1u	/* answer SERVFAIL for every name of the zone */

/*
 * One served zone. Owned by every snapshot that lists it (refcount, mgmt thread only).
 * Its images may be shared with other zones (struct img.refs): a delta over the same base,
 * or the same images with other flags (snap_zone_flagged).
 */
struct snap_zone {
	uint8_t origin[255];	/* lowercased wire name */
	uint8_t origin_len;
	struct img *img;	/* the full image (the base when there is a delta) */
	struct img *delta;	/* names changed since img, consulted first; NULL: none */
	char path[1024];	/* image file it came from */
	char delta_path[1024];	/* the delta's file, "" when none */
	uint64_t loaded_at;	/* unix time */
	uint32_t refs;		/* snapshots holding it; touched by the mgmt thread only */
	uint32_t flags;		/* SNAP_ZONE_*; never changes once published */
};

/* Immutable after publication. zones[] sorted by origin wire bytes (for lookup). */
struct snapshot {
	uint32_t count;
	struct snap_zone *zones[];
};

/*
 * Zone with the longest origin that is a suffix of the lowercased query name, or NULL.
 * Hot path: no allocation, no lock.
 */
const struct snap_zone *snap_find(const struct snapshot *s, const uint8_t *lname, size_t len);

/* New snapshot = old with z added or replacing the zone of the same origin. z->refs++. */
int snap_with(const struct snapshot *old, struct snap_zone *z, struct snapshot **out);

/* New snapshot = old without the zone of this origin; PHAROS_ENOTFOUND if absent. */
int snap_without(const struct snapshot *old, const uint8_t *origin, size_t len,
		 struct snapshot **out);

/*
 * Release a snapshot no reader can see any more (after synchronize_rcu): drops one ref of
 * each zone and closes zones that reach zero. NULL is fine.
 */
void snap_release(struct snapshot *s);

/* New zone from an opened image (takes ownership of img). */
struct snap_zone *snap_zone_new(struct img *img, const char *path);

/*
 * New zone (refs 0) serving cur's base image with delta over it (checked by the caller
 * with img_delta_check), to publish with snap_with() in place of cur; cur's flags are
 * kept. The base is shared (image refcount), the delta's ownership taken (closed on
 * failure). NULL when out of memory.
 */
struct snap_zone *snap_zone_delta(const struct snap_zone *cur, struct img *delta,
				  const char *path);

/*
 * Close a zone that no snapshot holds (refs == 0), e.g. after snap_with() failed.
 * Drops its use of its images; the last user closes them. NULL is fine.
 */
void snap_zone_free(struct snap_zone *z);

/*
 * New zone (refs 0) serving z's images (shared) with other flags, to publish with
 * snap_with() in place of z: flags change by publishing, never by writing into a
 * published zone. Returns NULL when out of memory.
 */
struct snap_zone *snap_zone_flagged(const struct snap_zone *z, uint32_t flags);

#endif
