/* Incremental zone update: an IXFR applied to a served base image as a small delta image. */
#ifndef PHAROS_ZDIFF_H
#define PHAROS_ZDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "xfr.h"

/* What zdiff_apply produced. */
struct zdiff_out {
	uint8_t *img;		/* image bytes, malloc'd (caller frees) */
	size_t len;
	int is_delta;		/* 1: a delta image over base; 0: a full image */
	uint32_t serial;	/* serial the result serves */
	uint32_t delta_names;	/* is_delta: names in the delta (changed + tombstones) */
	int compact_advised;	/* is_delta: the delta is big enough to fold into a new base */
	char err[XFR_ERR_MAX];	/* on failure: why ("delete of a record not in the zone: ...") */
};

/*
 * Apply IXFR diffs to the zone served as base (full image file) + delta (delta image file
 * over that base, or NULL). The result is a new delta over the same base holding every
 * change since base, at a cost proportional to the changes (not the zone); or a full image
 * when a delta is not possible or would be too big (the doc says when).
 * A diff that does not fit the zone (deleting what is not there, a wrong from-serial) is
 * refused: PHAROS_EZONE with err set; nothing is produced. Returns 0 or a negative pharos_err.
 */
int zdiff_apply(const char *origin, const char *base_path, const char *delta_path,
		const struct xfr_diff *diffs, size_t ndiffs, struct zdiff_out *out);

/*
 * When zdiff_apply makes a delta (doc/zone-image.md "Delta images"): an unsigned zone,
 * or a signed one whose IXFR keeps every name and the NSEC/NSEC3 chain's shape (else a
 * full image), and the delta holds at most
 * max(delta_min, base names / delta_div) names (default 4096, 8); compact_advised is set
 * past max(compact_min, base names / compact_div) names (default 1024, 64). A divisor 0
 * counts as 1. For tests and tuning; not thread-safe against a running zdiff_apply.
 */
void zdiff_set_limits(uint32_t delta_min, uint32_t delta_div, uint32_t compact_min,
		      uint32_t compact_div);

/*
 * Fold base + delta into one new full image (the background compaction).
 * Returns 0 (out->is_delta == 0) or a negative pharos_err with out->err set.
 */
int zdiff_compact(const char *origin, const char *base_path, const char *delta_path,
		  struct zdiff_out *out);

/*
 * Verified base images stay mapped between calls (so that an IXFR does not verify the
 * whole base again: a new file at the same path is seen by its inode and mtime). This
 * unmaps those not in use (tests, shutdown).
 */
void zdiff_cache_drop(void);

#endif
