/* Zone image reader: map, verify every offset, look names and RRsets up (doc/zone-image.md). */
#ifndef PHAROS_IMG_H
#define PHAROS_IMG_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "pharos/image.h"

/* A verified image. All pointers point into the mapping; nothing here is writable. */
struct img {
	const uint8_t *base;
	size_t size;
	const struct img_header *hdr;
	const struct img_name *names;
	const struct img_slot *slots;
	const struct img_rrset *rrsets;
	const struct img_nsec3 *nsec3;		/* the chain, by hash; NULL unless NSEC3 */
	const struct img_nsec3param *nsec3param;	/* its parameters; NULL unless NSEC3 */
	uint32_t name_count;
	uint32_t rrset_count;
	uint32_t nsec3_count;
	uint32_t denial;		/* enum img_denial, from the header */
	uint32_t slot_mask;		/* hash_slots - 1 */
	const uint8_t *origin;		/* apex wire name, lowercased */
	uint8_t origin_len;
	uint8_t origin_labels;
	int owned;			/* 1: munmap/free base on close */
	uint32_t refs;			/* zones of snapshots using it (snapshot.c, mgmt only) */
};

/*
 * Check an image in memory: magic, version, sizes, checksum, then every section, index,
 * offset, name and rdata length. On failure writes "what is wrong and where" to err.
 * Returns 0 or a negative pharos_err (EMAGIC, EVERSION, ESIZE, ECHECKSUM, ERANGE).
 */
int img_verify(const uint8_t *base, size_t size, char *err, size_t errlen);

/* CRC-32C (Castagnoli, RFC 3720 B.4) of len bytes: SSE4.2 when the CPU has it, else a table. */
uint32_t img_crc32c(const uint8_t *p, size_t len);

/* The same, always by the table (tests compare the two). */
uint32_t img_crc32c_portable(const uint8_t *p, size_t len);

/* An image's checksum: img_crc32c() of bytes [IMG_CSUM_START, size) (doc/zone-image.md). */
uint32_t img_checksum(const uint8_t *img, size_t size);

/* mmap a file read-only, verify it, return a new struct img (owned mapping). */
int img_open_file(const char *path, struct img **out, char *err, size_t errlen);

/* Wrap a verified buffer; with own = 1, img_close() frees it with free(). */
int img_open_mem(const uint8_t *base, size_t size, int own, struct img **out, char *err,
		 size_t errlen);

/* 1 for a delta image (IMG_MAGIC_DELTA), 0 for a full one. */
static inline int img_is_delta(const struct img *img)
{
	return memcmp(img->hdr->magic, IMG_MAGIC_DELTA, sizeof(img->hdr->magic)) == 0;
}

/*
 * May delta (verified, a delta image) be served over base (verified, a full image)? Same
 * origin, delta made for exactly this base (serial and checksum), same denial type and
 * NSEC3 parameters, every name of the delta placed right against base + delta (its
 * parent exists, UNDER_CUT as the parent says), and in a signed zone its denial indexes
 * (into the base) in range and of the right kind, its NSEC3 records replacing records of
 * the base's chain. O(names of the delta). 0 or PHAROS_EZONE with err set.
 */
int img_delta_check(const struct img *base, const struct img *delta, char *err,
		    size_t errlen);

/* Unmap / free. NULL is fine. */
void img_close(struct img *img);

/* Exact lookup of a lowercased wire name; hash = img_hash(name, len). NULL if absent. */
const struct img_name *img_find(const struct img *img, const uint8_t *name, size_t len,
				uint32_t hash);

/* RRset of a type at a name, NULL if none. */
const struct img_rrset *img_rrset(const struct img *img, const struct img_name *n,
				  uint16_t type);

/*
 * Cache warming for a lookup to come (img_find of a name, then img_rrset of a type), one
 * dependent load per step: stepping a whole batch of queries stage by stage lets their
 * cache misses overlap instead of queueing one after the other. Never changes what a
 * lookup returns; a name that is absent, or not in its first probed slot, just ends it.
 */
#define IMG_WARM_STEPS	3	/* img_warm_step() calls after img_warm_start() */

struct img_warm {
	const struct img *img;		/* NULL: nothing (more) to warm */
	const void *at;			/* what the last step prefetched */
	uint32_t hash;
	uint16_t qtype;
	uint8_t stage;
};

/* First step: hash the lowercased wire name, prefetch its hash slot. */
static inline void img_warm_start(struct img_warm *w, const struct img *img,
				  const uint8_t *name, size_t len, uint16_t qtype)
{
	uint32_t h = img_hash(name, len);
	const struct img_slot *s = &img->slots[h & img->slot_mask];

	w->img = img;
	w->hash = h;
	w->at = s;
	w->qtype = qtype;
	w->stage = 0;
	__builtin_prefetch(s);
}

/* Next step: slot -> name entry -> its name bytes and RRsets -> the qtype RRset's data. */
static inline void img_warm_step(struct img_warm *w)
{
	const struct img *img = w->img;
	const struct img_slot *s;
	const struct img_name *n;
	const struct img_rrset *rs;

	if (img == NULL)
		return;
	switch (w->stage++) {
	case 0:		/* the slot is in: the name entry */
		s = w->at;
		w->at = s->hash == w->hash && s->name < img->name_count ? &img->names[s->name] : NULL;
		if (w->at == NULL)
			break;
		__builtin_prefetch(w->at);
		return;
	case 1:		/* the name entry is in: its bytes and its RRsets */
		n = w->at;
		__builtin_prefetch(img->base + n->name_off);
		__builtin_prefetch(img->rrsets + n->rrset_first);
		return;
	default:	/* the RRsets are in: the data of the asked type's */
		rs = img_rrset(img, w->at, w->qtype);
		w->at = rs ? img->base + rs->rdata_off : NULL;
		if (w->at)
			__builtin_prefetch(w->at);
		break;
	}
	w->img = NULL;		/* the walk is over */
}

static inline const uint8_t *img_name_wire(const struct img *img, const struct img_name *n)
{
	return img->base + n->name_off;
}

static inline const struct img_name *img_name_at(const struct img *img, uint32_t idx)
{
	return idx < img->name_count ? &img->names[idx] : NULL;
}

static inline const uint8_t *img_rdata(const struct img *img, const struct img_rrset *rs)
{
	return img->base + rs->rdata_off;
}

/* One RR of an image, as img_name_rrs() / img_chain_rr() hand it out (pointers into the image). */
struct img_rr {
	const uint8_t *owner;	/* lowercased wire name */
	uint8_t owner_len;
	uint16_t type;
	uint32_t ttl;		/* an RRSIG carries the sig_ttl of the RRset it covers */
	const uint8_t *rdata;
	uint16_t rdlen;
};

/* Called once per RR; a negative return stops the walk and is returned by it. */
typedef int (*img_rr_fn)(void *ctx, const struct img_rr *rr);

/*
 * Every RR of name n of a verified image, RRsets in type order. Each RRSIG gets the TTL of
 * the signatures of the RRset it covers (one that covers none: the RRSIG RRset's TTL), so
 * that compiling the RRs again gives the same image. Returns 0 or what fn returned.
 */
int img_name_rrs(const struct img *img, const struct img_name *n, img_rr_fn fn, void *ctx);

/* The NSEC3 record idx of the chain and then the RRSIGs covering it. 0 or fn's error. */
int img_chain_rr(const struct img *img, uint32_t idx, img_rr_fn fn, void *ctx);

/* RRSIGs covering rs: rs->sig_count x { u16 rdlen, rdata } (none when sig_count is 0). */
static inline const uint8_t *img_sigs(const struct img *img, const struct img_rrset *rs)
{
	return img->base + rs->sig_off;
}

/* NSEC3 record idx of the chain, NULL if out of range (IMG_NONE) or not an NSEC3 zone. */
static inline const struct img_nsec3 *img_nsec3_at(const struct img *img, uint32_t idx)
{
	return idx < img->nsec3_count ? &img->nsec3[idx] : NULL;
}

#endif
