/* Zone image v4: the on-disk, position-independent form of one zone (doc/zone-image.md). */
#ifndef PHAROS_IMAGE_H
#define PHAROS_IMAGE_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <assert.h>

/*
 * Layout: struct img_header at offset 0, then sections, each 8-byte aligned, located by
 * the header's section table. All integers are little-endian (the host order of every
 * platform we run on; a big-endian host refuses images). DNS data inside DATA is in wire
 * form (network order). Every offset is relative to the start of the file.
 *
 * The checksum is CRC-32C (img_checksum(): Castagnoli) of bytes [IMG_CSUM_START, file_size).
 *
 * Two kinds share the layout, told apart by the magic: a full image (the whole zone) and
 * a delta image (the names that changed since a full image, its "base": see
 * doc/zone-image.md "Delta images"). A zone is served as base, or base + one delta.
 */
#define IMG_MAGIC	"PHRSZIM1"	/* 8 bytes, no terminator in the file: a full image */
#define IMG_MAGIC_DELTA	"PHRSZDL1"	/* a delta image */
#define IMG_VERSION	4u
#define IMG_CSUM_START	32u
#define IMG_NONE	UINT32_MAX	/* "no index" in any u32 index field */
#define IMG_ALIGN	8u

enum img_section_id {
	IMG_SEC_NAMES = 0,	/* struct img_name[name_count], canonical order (RFC 4034 6.1) */
	IMG_SEC_HASH,		/* struct img_slot[hash_slots], open addressing, linear probe */
	IMG_SEC_RRSETS,		/* struct img_rrset[rrset_count], grouped by owner */
	IMG_SEC_DATA,		/* bytes: owner names, rdata */
	IMG_SEC_PREBUILT,	/* bytes: pre-rendered answer blocks (may be empty) */
	IMG_SEC_NSEC3,		/* struct img_nsec3[], sorted by hash (NSEC3 zones only) */
	IMG_SEC_NSEC3PARAM,	/* one struct img_nsec3param (NSEC3 zones only) */
	IMG_SEC_COUNT_ = 7	/* table size */
};

struct img_section {
	uint32_t off;		/* from file start, IMG_ALIGN aligned; 0 with len 0 = absent */
	uint32_t len;		/* bytes */
};

struct img_header {
	char     magic[8];		/* IMG_MAGIC or IMG_MAGIC_DELTA */
	uint32_t version;		/* IMG_VERSION */
	uint32_t header_size;		/* sizeof(struct img_header) */
	uint64_t file_size;		/* total bytes, must equal the mapped size */
	uint32_t checksum;		/* CRC-32C of [IMG_CSUM_START, file_size) */
	uint32_t flags;			/* reserved, 0 */
	/* --- covered by the checksum from here --- */
	uint32_t serial;		/* SOA serial */
	uint32_t name_count;
	uint32_t rrset_count;
	uint32_t hash_slots;		/* power of two, > name_count */
	uint32_t origin_name;		/* index of the apex in NAMES (always 0) */
	uint32_t soa_rrset;		/* index of the apex SOA in RRSETS */
	uint32_t compiled_at;		/* unix time of compilation, informational */
	uint32_t denial;		/* enum img_denial: how the zone proves non-existence */
	struct img_section sec[IMG_SEC_COUNT_];
	uint32_t base_serial;		/* delta: serial of the base it applies to; full: 0 */
	uint32_t base_checksum;		/* delta: the base's header checksum; full: 0 */
};

enum img_denial {
	IMG_DENIAL_NONE = 0,		/* unsigned zone */
	IMG_DENIAL_NSEC = 1,		/* NSEC chain (RFC 4034/4035) */
	IMG_DENIAL_NSEC3 = 2,		/* NSEC3 chain (RFC 5155), parameters in NSEC3PARAM */
};

enum img_name_flags {
	IMG_NAME_APEX	  = 1u << 0,	/* the zone origin */
	IMG_NAME_DELEG	  = 1u << 1,	/* NS below the apex: a zone cut */
	IMG_NAME_UNDER_CUT = 1u << 2,	/* strictly below a zone cut (glue or occluded) */
	IMG_NAME_WILDCARD = 1u << 3,	/* first label is '*' */
	IMG_NAME_ENT	  = 1u << 4,	/* empty non-terminal: no RRsets */
	IMG_NAME_CNAME	  = 1u << 5,	/* has a CNAME RRset */
	IMG_NAME_NSEC3_COVERED = 1u << 6, /* NSEC3 zone: no NSEC3 matches H(name) (opt-out);
					     denial is the NSEC3 that covers it */
	IMG_NAME_TOMBSTONE = 1u << 7,	/* delta only: the name no longer exists */
};

struct img_name {
	uint32_t name_off;	/* file offset (inside DATA) of the wire name, lowercased */
	uint8_t  name_len;	/* wire length incl. root label, 1..255 */
	uint8_t  labels;	/* label count, root excluded */
	uint16_t flags;		/* enum img_name_flags */
	uint32_t parent;	/* index of the name one label up; IMG_NONE for the apex */
	uint32_t wildcard;	/* index of "*.<this name>" or IMG_NONE */
	uint32_t rrset_first;	/* index into RRSETS */
	uint16_t rrset_count;	/* 0 for ENT */
	uint16_t reserved;
	uint32_t hash;		/* img_hash() of the lowercased wire name */
	/*
	 * Denial of existence, precomputed so no query hashes an existing name. IMG_NONE in
	 * unsigned zones and for names strictly below a zone cut (glue, occluded names).
	 * NSEC zone: index in NAMES of the name whose NSEC matches this name (its own index)
	 * or covers it (the nearest canonical predecessor that has an NSEC: for ENTs).
	 * NSEC3 zone: index in NSEC3 of the NSEC3 whose hash is H(name), or with
	 * IMG_NAME_NSEC3_COVERED of the one that covers H(name).
	 */
	uint32_t denial;
	/*
	 * The same for "*.<name>", used when this name is a closest encloser: NSEC: index in
	 * NAMES of the name whose NSEC covers (or matches) the wildcard; NSEC3: index in NSEC3
	 * of the NSEC3 covering (or matching) H(*.<name>). IMG_NONE when unsigned.
	 */
	uint32_t wild_denial;
};

struct img_slot {
	uint32_t hash;		/* copy of the name's hash, to skip most memcmp */
	uint32_t name;		/* index into NAMES, IMG_NONE = empty slot */
};

struct img_rrset {
	uint16_t type;		/* RR type; RRSIGs are stored as their own RRset (type 46) */
	uint16_t count;		/* RRs in the set, >= 1 */
	uint32_t ttl;		/* RFC 2181 5.2: one TTL per RRset (the lowest seen) */
	uint32_t rdata_off;	/* file offset of count x { u16 rdlen (network order), rdata } */
	uint32_t rdata_len;	/* total bytes of that run */
	uint32_t pre_off;	/* file offset of a pre-rendered answer block, 0 = none */
	uint32_t pre_len;
	uint16_t pre_an, pre_ns, pre_ar;	/* section counts of the block */
	uint16_t reserved;
	/*
	 * RRSIGs covering this RRset: sig_count x { u16 rdlen, rdata } at file offset sig_off
	 * (inside the owner's RRSIG RRset, whose RRs are sorted by type covered; for NSEC3
	 * RRsets anywhere in DATA). All zero when unsigned, and for the RRSIG RRset itself.
	 */
	uint32_t sig_off;
	uint32_t sig_len;
	uint16_t sig_count;
	uint16_t reserved2;
	uint32_t sig_ttl;	/* TTL of those RRSIGs (the lowest seen) */
};

/*
 * One NSEC3 record of the zone's chain (the one NSEC3PARAM names). NSEC3 owners are not in
 * NAMES (as in Knot: a separate tree), so a query for a hashed name is a missing name.
 * Their RRsets sit in RRSETS after those of every name, in the order of this table.
 */
struct img_nsec3 {
	uint8_t hash[20];	/* SHA-1 hash: the owner's first label, base32hex-decoded */
	uint32_t owner_off;	/* file offset (inside DATA) of the owner wire name, lowercased */
	uint8_t owner_len;
	uint8_t reserved[3];
	uint32_t rrset;		/* index in RRSETS of the NSEC3 RRset (one RR), RRSIGs via sig_* */
};

/* Parameters of the NSEC3 chain, from the apex NSEC3PARAM (RFC 5155 4). */
struct img_nsec3param {
	uint8_t alg;		/* 1 = SHA-1, the only one defined */
	uint8_t flags;		/* NSEC3PARAM flags (0) */
	uint16_t iterations;
	uint8_t salt_len;
	uint8_t salt[255];
	uint8_t reserved[3];
};

static_assert(sizeof(struct img_header) == 128, "img_header layout");
static_assert(sizeof(struct img_name) == 36, "img_name layout");
static_assert(sizeof(struct img_slot) == 8, "img_slot layout");
static_assert(sizeof(struct img_rrset) == 48, "img_rrset layout");
static_assert(sizeof(struct img_nsec3) == 32, "img_nsec3 layout");
static_assert(sizeof(struct img_nsec3param) == 264, "img_nsec3param layout");

/*
 * Name hash over a lowercased wire name (doc/zone-image.md "Hash function"), 8 bytes at a
 * time: each little-endian 64-bit word (the last one zero-padded) is mixed in with one
 * multiply and a shift. Compiler and reader must agree.
 */
static inline uint32_t img_hash(const uint8_t *name, size_t len)
{
	uint64_t h = (uint64_t)len * 0x9e3779b97f4a7c15u, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, name + i, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9u;
		h ^= h >> 31;
	}
	if (i < len) {
		w = 0;
		for (size_t k = 0; i + k < len; k++)
			w |= (uint64_t)name[i + k] << (8 * k);
		h = (h ^ w) * 0xbf58476d1ce4e5b9u;
		h ^= h >> 31;
	}
	h *= 0x94d049bb133111ebu;
	return (uint32_t)(h ^ h >> 32);
}

#endif
