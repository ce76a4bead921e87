/* Private to the answer engine: the parsed query and the per-query solving state. */
#ifndef PHAROS_SOLVE_H
#define PHAROS_SOLVE_H

#include <stdint.h>
#include <stddef.h>
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
	const struct img *img;
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
