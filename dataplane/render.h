/* Response writer: RRs into a packet buffer with RFC 1035 name compression and rollback. */
#ifndef PHAROS_RENDER_H
#define PHAROS_RENDER_H

#include <stdint.h>
#include <stddef.h>

#define RENDER_COMP_MAX	64	/* remembered name suffixes; more are written uncompressed */

enum render_section { RENDER_AN = 0, RENDER_NS = 1, RENDER_AR = 2 };

struct render_comp {
	const uint8_t *name;	/* suffix bytes (any case), valid for the whole response */
	uint16_t off;		/* where the suffix starts in the packet */
	uint8_t len;
};

/*
 * Per-response writer state, on the caller's stack. buf is the response; limit is the
 * size the response may reach (already minus the room kept for OPT). Counts are written
 * into the header by render_finish().
 */
struct render {
	uint8_t *buf;
	size_t len;
	size_t limit;
	uint16_t count[3];
	uint8_t ncomp;
	struct render_comp comp[RENDER_COMP_MAX];
};

/* A point to roll back to when an RRset does not fit. */
struct render_mark {
	size_t len;
	uint16_t count;
	uint8_t ncomp;
};

static inline struct render_mark render_mark(const struct render *r, enum render_section sec)
{
	return (struct render_mark){ r->len, r->count[sec], r->ncomp };
}

/* Undo everything written to sec since the mark (nothing else may have been written). */
static inline void render_rollback(struct render *r, const struct render_mark *m,
				   enum render_section sec)
{
	r->len = m->len;
	r->count[sec] = m->count;
	r->ncomp = m->ncomp;
}

/* Start after header + question already in buf[0..len); qname at offset 12 is remembered. */
void render_init(struct render *r, uint8_t *buf, size_t len, size_t limit,
		 const uint8_t *qname, size_t qname_len);

/*
 * Append one RRset (all its RRs) to a section. owner: wire name (any case) that stays
 * valid until the response is done. rdata: count x {u16 rdlen, rdata} as in the image.
 * Names inside NS/CNAME/PTR/MX/SOA rdata are compressed. All or nothing: returns
 * PHAROS_ESPACE with the packet unchanged when the set does not fit under limit.
 */
int render_rrset(struct render *r, enum render_section sec, const uint8_t *owner,
		 size_t owner_len, uint16_t type, uint32_t ttl, const uint8_t *rdata,
		 uint16_t count);

/* Append an OPT RR with options opts[0..optlen) (ignores limit; the caller kept room). */
int render_opt(struct render *r, size_t cap, uint16_t payload, uint8_t ext_rcode,
	       uint16_t flags, const uint8_t *opts, size_t optlen);

/* Write the section counts into the header. */
void render_finish(struct render *r);

#endif
