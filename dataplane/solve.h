/* Private to the answer engine: the parsed query and the per-query solving state. */
#ifndef PHAROS_SOLVE_H
#define PHAROS_SOLVE_H

#include <stdint.h>
#include <stddef.h>
#include <stdint.h>
#include "dns.h"
#include "dname.h"
#include "img.h"
#include "render.h"
#include "tsig.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define CNAME_HOPS_MAX	5	/* CNAMEs in one answer, as Knot */
#define ADD_MAX		16	/* additional-section names per response */
#define PROOF_MAX	8	/* NSEC/NSEC3 RRsets in one response */

/* What the query asked, copied out so the response may overwrite the query buffer. */
struct query {
	uint8_t hdr[DNS_HDR_LEN];
	uint8_t qname[DNAME_MAX];	/* as received (case echoed) */
	uint8_t lname[DNAME_MAX];	/* lowercased, for lookups */
	size_t qname_len;
	uint16_t qtype, qclass;
	uint8_t have_question;
	uint8_t edns;			/* an OPT was present */
	uint8_t edns_version;
	uint8_t nsid;			/* the OPT asked for NSID (RFC 5001) */
	uint16_t edns_payload;
	uint16_t edns_flags;
	uint8_t tsig;			/* the query was signed (RFC 8945) */
	struct tsig_req tsig_req;
};

/* Per-query solving state (on the stack: no allocation on the hot path). */
struct solve {
	const struct img *img;		/* the zone's base image */
	const struct img *delta;	/* names changed since the base, consulted first; or NULL */
	const struct query *q;
	struct render r;
	const uint8_t *owner;		/* owner to write for the current name (any case) */
	size_t owner_len;
	const uint8_t *name;		/* current lowercased name being resolved */
	size_t name_len;
	uint8_t tname[DNAME_MAX];	/* lowercased CNAME target */
	uint8_t seen[CNAME_HOPS_MAX][DNAME_MAX];	/* owners of the CNAMEs written, lowercased */
	uint8_t seen_len[CNAME_HOPS_MAX];
	unsigned hops;
	const struct img_name *added[ADD_MAX];
	unsigned nadded;
	/*
	 * Sections must go out in order, but a wildcard CNAME proves its expansion before the
	 * chain's last answer is known: NSEC/NSEC3 proofs and the RRsets whose targets want
	 * additional records are collected here and written after the answer (solve_zone).
	 */
	struct solve_proof {
		const uint8_t *owner;
		uint8_t owner_len;
		const struct img_rrset *rs;
	} proofs[PROOF_MAX];
	unsigned nproofs;
	const struct img_rrset *want_add[ADD_MAX];
	unsigned nwant_add;
	uint8_t dnssec;			/* DO set: RRSIGs and denial proofs */
	uint8_t rcode;
	uint8_t aa;
	uint8_t tc;
	uint8_t not_auth;		/* REFUSED: the name is in none of our zones (EDE 20) */
};

/*
 * Base + delta. A zone is served from its base image, or from a base and a delta image of
 * the names changed since (doc/zone-image.md "Delta images"): every lookup asks the delta
 * first (a tombstone there means "no such name"), then the base. Index fields (parent,
 * wildcard) are only followed inside the base when there is no delta; with one, they are
 * found by name. A name or RRset pointer tells its image by the address range it lies in.
 */

/* 1 when p points into [lo, lo + n) of a table of elements of size sz. */
static inline int solve_in(const void *p, const void *lo, size_t n, size_t sz)
{
	return (uintptr_t)p >= (uintptr_t)lo && (uintptr_t)p < (uintptr_t)lo + n * sz;
}

/* The image a name entry belongs to. */
static inline const struct img *solve_nimg(const struct solve *s, const struct img_name *n)
{
	const struct img *d = s->delta;

	return d && solve_in(n, d->names, d->name_count, sizeof(*n)) ? d : s->img;
}

/* The image an RRset entry belongs to. */
static inline const struct img *solve_rimg(const struct solve *s, const struct img_rrset *rs)
{
	const struct img *d = s->delta;

	return d && solve_in(rs, d->rrsets, d->rrset_count, sizeof(*rs)) ? d : s->img;
}

static inline const uint8_t *solve_rdata(const struct solve *s, const struct img_rrset *rs)
{
	return img_rdata(solve_rimg(s, rs), rs);
}

static inline const uint8_t *solve_wire(const struct solve *s, const struct img_name *n)
{
	return img_name_wire(solve_nimg(s, n), n);
}

static inline const struct img_rrset *solve_rrset(const struct solve *s,
						  const struct img_name *n, uint16_t type)
{
	return img_rrset(solve_nimg(s, n), n, type);
}

/* The image holding the apex (and its SOA): the delta when there is one (it always has it). */
static inline const struct img *solve_top(const struct solve *s)
{
	return s->delta ? s->delta : s->img;
}

/* Exact lookup of a lowercased wire name in base + delta. NULL if absent. */
static inline const struct img_name *solve_find(const struct solve *s, const uint8_t *name,
						size_t len)
{
	uint32_t h = img_hash(name, len);
	const struct img_name *n;

	if (s->delta && (n = img_find(s->delta, name, len, h)) != NULL)
		return (n->flags & IMG_NAME_TOMBSTONE) ? NULL : n;
	return img_find(s->img, name, len, h);
}

/* The name one label up (NULL for the apex). */
const struct img_name *solve_parent(const struct solve *s, const struct img_name *n);

/* "*.<n>" if it exists, else NULL. */
const struct img_name *solve_wildcard(const struct solve *s, const struct img_name *n);

/*
 * One RRset (and, with DO, the RRSIGs covering it, as one unit) into a section. ttl caps
 * the RRSIGs' TTL too. When it does not fit: TC for answer and authority, nothing for
 * additional; returns PHAROS_ESPACE with the packet unchanged.
 */
int solve_put(struct solve *s, enum render_section sec, const uint8_t *owner,
	      size_t owner_len, const struct img_rrset *rs, uint32_t ttl);

/* Solve the query name inside s->img (RFC 1034 4.3.2 with RFC 4035 / 5155 proofs). */
void solve_zone(struct solve *s);

/* Queue an NSEC/NSEC3 RRset for the authority section (once per response). */
void solve_proof(struct solve *s, const uint8_t *owner, size_t owner_len,
		 const struct img_rrset *rs);

/* DNSSEC denial proofs (denial.c), queued for authority; no-ops when !s->dnssec. */

/* NODATA at an existing node (or ENT): the NSEC/NSEC3 matching it. */
void denial_nodata(struct solve *s, const struct img_name *node);

/* NXDOMAIN below closest encloser ce: no such name, no wildcard. */
void denial_nxdomain(struct solve *s, const struct img_name *ce);

/* Wildcard answer synthesised below ce: no closer match exists. */
void denial_wildcard(struct solve *s, const struct img_name *ce);

/* Wildcard NODATA: no closer match, and the wildcard lacks the type. */
void denial_wildcard_nodata(struct solve *s, const struct img_name *ce,
			    const struct img_name *wild);

/* Referral to a zone cut without DS: prove there is no DS. */
void denial_no_ds(struct solve *s, const struct img_name *cut);

#endif
