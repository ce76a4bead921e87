/* DNSSEC denial of existence: NSEC (RFC 4035 3.1.3) and NSEC3 (RFC 5155 7.2) proofs. */
#include <string.h>
#include "pharos/err.h"
#include "nsec3.h"
#include "solve.h"

/*
 * Denial indexes point into the base's NAMES and NSEC3 tables. A delta over a signed base
 * keeps every name and every hash of the chain (doc/zone-image.md, "Delta images"), so
 * they stay right; the record they lead to is the delta's when it has one.
 */

/* The NSEC RRset of the name at the base's NAMES[idx] (the delta's entry for it first). */
static void put_nsec(struct solve *s, uint32_t idx)
{
	const struct img_name *n = img_name_at(s->img, idx);
	const struct img_rrset *rs;

	if (n && s->delta)
		n = solve_find(s, img_name_wire(s->img, n), n->name_len);
	rs = n ? solve_rrset(s, n, DNS_T_NSEC) : NULL;
	if (rs)
		solve_proof(s, solve_wire(s, n), n->name_len, rs);
}

/* The NSEC3 RRset at the base's NSEC3[idx], or the delta's record of the same hash. */
static void put_nsec3(struct solve *s, uint32_t idx)
{
	const struct img *img = s->img, *d = s->delta;
	const struct img_nsec3 *e;

	if (idx >= img->nsec3_count)
		return;
	e = &img->nsec3[idx];
	if (d && d->nsec3_count) {
		uint32_t j = nsec3_find(d->nsec3, d->nsec3_count, e->hash);
		if (memcmp(d->nsec3[j].hash, e->hash, NSEC3_HASH_LEN) == 0) {
			e = &d->nsec3[j];
			img = d;
		}
	}
	solve_proof(s, img->base + e->owner_off, e->owner_len, &img->rrsets[e->rrset]);
}

/*
 * NSEC zone, name absent: the NSEC of its canonical predecessor covers it. Binary search
 * over NAMES (canonical order; the apex, index 0, precedes every name below it).
 */
static void put_nsec_cover(struct solve *s)
{
	const struct img *img = s->img;
	uint32_t lo = 0, hi = img->name_count;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (dname_canon_cmp(img_name_wire(img, &img->names[mid]), s->name) < 0)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && img->names[lo].denial == IMG_NONE)
		lo--;			/* glue below a cut: the cut's NSEC chain skips it */
	put_nsec(s, img->names[lo].denial);
}

/* NSEC3 zone: the NSEC3 covering the next closer name of s->name below ce (hashed now). */
static void put_next_closer(struct solve *s, const struct img_name *ce)
{
	uint8_t h[NSEC3_HASH_LEN];
	size_t off = dname_skip(s->name, dname_labels(s->name) - ce->labels - 1);

	nsec3_hash(s->img->nsec3param, s->name + off, s->name_len - off, h);
	put_nsec3(s, nsec3_find(s->img->nsec3, s->img->nsec3_count, h));
}

/*
 * RFC 5155 7.2.4 / 7.2.7, a name with no NSEC3 of its own (opt-out): the NSEC3 of the
 * closest provable encloser and the opt-out NSEC3 covering the next closer name.
 */
static void put_nsec3_optout(struct solve *s, const struct img_name *n)
{
	const struct img_name *nc = n, *p = solve_parent(s, n);

	while (p && (p->flags & IMG_NAME_NSEC3_COVERED)) {
		nc = p;
		p = solve_parent(s, p);
	}
	if (p)
		put_nsec3(s, p->denial);
	put_nsec3(s, nc->denial);
}

/* The record matching an existing name, whichever chain the zone has. */
static void put_match(struct solve *s, const struct img_name *n)
{
	if (s->img->hdr->denial == IMG_DENIAL_NSEC)
		put_nsec(s, n->denial);
	else if (n->flags & IMG_NAME_NSEC3_COVERED)
		put_nsec3_optout(s, n);
	else
		put_nsec3(s, n->denial);
}

/* Proof that nothing closer than ce matches s->name. */
static void put_no_closer(struct solve *s, const struct img_name *ce)
{
	if (s->img->hdr->denial == IMG_DENIAL_NSEC)
		put_nsec_cover(s);
	else
		put_next_closer(s, ce);
}

static int signed_zone(const struct solve *s)
{
	return s->dnssec && s->img->hdr->denial != IMG_DENIAL_NONE;
}

void denial_nodata(struct solve *s, const struct img_name *node)
{
	if (signed_zone(s))
		put_match(s, node);
}

void denial_nxdomain(struct solve *s, const struct img_name *ce)
{
	if (!signed_zone(s))
		return;
	if (s->img->hdr->denial == IMG_DENIAL_NSEC3)
		put_match(s, ce);	/* the closest encloser exists */
	put_no_closer(s, ce);
	if (s->img->hdr->denial == IMG_DENIAL_NSEC)
		put_nsec(s, ce->wild_denial);
	else
		put_nsec3(s, ce->wild_denial);
}

void denial_wildcard(struct solve *s, const struct img_name *ce)
{
	if (signed_zone(s))
		put_no_closer(s, ce);
}

void denial_wildcard_nodata(struct solve *s, const struct img_name *ce,
			    const struct img_name *wild)
{
	if (!signed_zone(s))
		return;
	if (s->img->hdr->denial == IMG_DENIAL_NSEC3)
		put_match(s, ce);
	put_no_closer(s, ce);
	put_match(s, wild);
}

void denial_no_ds(struct solve *s, const struct img_name *cut)
{
	if (signed_zone(s))
		put_match(s, cut);
}
