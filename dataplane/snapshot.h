/* Snapshot: the immutable set of zones being served, published to workers with RCU. */
#ifndef PHAROS_SNAPSHOT_H
#define PHAROS_SNAPSHOT_H

#include <stdint.h>
#include <stddef.h>
#include "img.h"

/* One served zone. Owned by every snapshot that lists it (refcount, mgmt thread only). */
struct snap_zone {
	uint8_t origin[255];	/* lowercased wire name */
	uint8_t origin_len;
	struct img *img;
	char path[1024];	/* image file it came from */
	uint64_t loaded_at;	/* unix time */
	uint32_t refs;		/* snapshots holding it; touched by the mgmt thread only */
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
 * Close a zone that no snapshot holds (refs == 0), e.g. after snap_with() failed.
 * Closes its image. NULL is fine.
 */
void snap_zone_free(struct snap_zone *z);

#endif
