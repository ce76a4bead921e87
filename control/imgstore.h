/* Zone images (full and delta) in the state directory: names, newest, pruning, comparison. */
#ifndef PHAROS_IMGSTORE_H
#define PHAROS_IMGSTORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Images are named "<dir>/<stem>.<serial>.img", stem = the origin without its trailing
 * dot ("example.com"), "@" for the root zone; serial in decimal (doc/config.md).
 */

/* Path of the image of origin (normalized, "example.com.") at serial. 0 or PHAROS_ESPACE. */
int imgstore_path(const char *dir, const char *origin, uint32_t serial, char *out, size_t cap);

/*
 * The most recently written image of origin in dir (by mtime). Returns 0 with the path
 * and the serial of its name, or PHAROS_ENOTFOUND.
 */
int imgstore_newest(const char *dir, const char *origin, char *out, size_t cap,
		    uint32_t *serial);

/*
 * Delete images of origin in dir, keeping `keep` (always, when not NULL) and the newest
 * others by mtime up to `count` images in all. Returns the number deleted (>= 0).
 */
int imgstore_prune(const char *dir, const char *origin, const char *keep, unsigned count);

/*
 * 1 when the file at path holds the same image as img[0..len), ignoring the header's
 * compiled_at and checksum (which differ between two compilations of one zone); else 0.
 */
int imgstore_same(const char *path, const uint8_t *img, size_t len);

/*
 * Delta images (doc/zone-image.md "Delta images") are named "<dir>/<stem>.<serial>.delta",
 * serial = the serial the zone serves with it. A delta belongs to one base image (its
 * header names the base's serial and checksum).
 */

/* Path of the delta image of origin serving serial. 0 or PHAROS_ESPACE. */
int imgstore_delta_path(const char *dir, const char *origin, uint32_t serial, char *out,
			size_t cap);

/*
 * The delta of origin in dir made for the base image at base_path that serves the
 * greatest serial (RFC 1982; equal: the newest by mtime). Returns 0 with its path and
 * serial, or PHAROS_ENOTFOUND (none, or the base is unreadable).
 */
int imgstore_newest_delta(const char *dir, const char *origin, const char *base_path,
			  char *out, size_t cap, uint32_t *serial);

/*
 * Delete the delta images of origin in dir except keep (NULL: delete them all). After a
 * new base is served (compaction, AXFR), every older delta is useless. Returns the number
 * deleted (>= 0) or a negative pharos_err.
 */
int imgstore_prune_deltas(const char *dir, const char *origin, const char *keep);

/* SOA serial from an image file's header. 0 or PHAROS_EIO / PHAROS_EMAGIC. */
int imgstore_serial(const char *path, uint32_t *serial);

#endif
