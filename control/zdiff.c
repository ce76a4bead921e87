/* Incremental zone update: IXFR diffs applied to a served base (+ delta) image. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "dns.h"
#include "img.h"
#include "nsec3.h"
#include "zdiff.h"
#include "zonec.h"

#define ZD_NONE		UINT32_MAX
#define ZD_WIRE_MAX	(DNAME_MAX + 10 + 65535)	/* one RR in wire form */

/* One record of a touched name; rdata in zd->arena. */
struct zd_rr {
	uint64_t rdoff;
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
};

/*
 * A name the diffs touch (or a delta must hold: the old delta's names, ancestors,
 * subtrees of changed cuts): its complete content after the diffs applied so far.
 */
struct zd_node {
	uint8_t wire[DNAME_MAX];	/* lowercased */
	uint8_t len;
	uint8_t desc;			/* a name below it has data in the new zone */
	uint16_t flags;			/* in the new zone (enum img_name_flags) */
	uint32_t hash;
	uint32_t base_idx;		/* its index in the base's NAMES, or ZD_NONE */
	uint32_t chain_idx;		/* its NSEC3 record in the base's chain, or ZD_NONE */
	uint32_t denial, wild_denial;	/* signed zone: the base's (the name set is the same) */
	struct zd_rr *rrs;
	size_t nrrs, caprrs;
};

/* The zone being changed: served images, touched names, scratch. */
struct zd {
	const char *origin_txt;
	uint8_t origin[DNAME_MAX];
	size_t origin_len;
	struct img *base, *delta;	/* delta may be NULL */
	uint32_t serial;		/* serial after the diffs applied so far */
	uint32_t seq_to;		/* the sequence being applied goes serial -> seq_to */
	struct zd_node *nodes;
	size_t nnodes, capnodes;
	uint32_t *map;			/* node index by hash, open addressing */
	uint32_t map_mask;
	uint8_t *arena;			/* rdata of the nodes' records */
	size_t alen, acap;
	uint8_t *wire;			/* ZD_WIRE_MAX: one RR for ldns */
	struct zdiff_out *out;
};

static void zd_err(struct zd *zd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void zd_err(struct zd *zd, const char *fmt, ...)
{
	va_list ap;

	if (zd->out->err[0])
		return;		/* the first reason is the one to tell */
	va_start(ap, fmt);
	vsnprintf(zd->out->err, sizeof(zd->out->err), fmt, ap);
	va_end(ap);
}

/* zonec findings: errors become the reason, warnings are dropped (the primary's zone). */
static void zd_report(void *ctx, enum zonec_severity sev, const char *file, int line,
		      const char *what)
{
	struct zd *zd = ctx;

	(void)line;
	if (sev != ZONEC_ERROR)
		return;
	zd_err(zd, "%s: %s", file ? file : "IXFR", what);
}

/* ---------------- the served state: base overlaid with delta ---------------- */

/* Name in the served zone and the image holding it; NULL when absent (or a tombstone). */
static const struct img_name *zd_served(const struct zd *zd, const uint8_t *w, size_t len,
					const struct img **img)
{
	uint32_t h = img_hash(w, len);
	const struct img_name *n;

	if (zd->delta && (n = img_find(zd->delta, w, len, h)) != NULL) {
		*img = zd->delta;
		return (n->flags & IMG_NAME_TOMBSTONE) ? NULL : n;
	}
	*img = zd->base;
	return img_find(zd->base, w, len, h);
}

/* Index in base's NSEC3 chain of the record owned by w, or ZD_NONE. */
static uint32_t zd_chain_find(const struct zd *zd, const uint8_t *w, size_t len)
{
	uint8_t hash[NSEC3_HASH_LEN];
	const struct img *b = zd->base;

	if (b->nsec3_count == 0 || w[0] != 32 || len != 33 + zd->origin_len ||
	    nsec3_b32hex_decode(w + 1, 32, hash) < 0)
		return ZD_NONE;
	uint32_t i = nsec3_find(b->nsec3, b->nsec3_count, hash);
	return memcmp(b->nsec3[i].hash, hash, NSEC3_HASH_LEN) == 0 ? i : ZD_NONE;
}

/* Index in the delta's NSEC3 table of the record replacing the base's of this hash. */
static uint32_t zd_delta_chain(const struct zd *zd, const uint8_t *hash)
{
	const struct img *d = zd->delta;
	uint32_t j;

	if (!d || d->nsec3_count == 0)
		return ZD_NONE;
	j = nsec3_find(d->nsec3, d->nsec3_count, hash);
	return memcmp(d->nsec3[j].hash, hash, NSEC3_HASH_LEN) == 0 ? j : ZD_NONE;
}

/* ---------------- touched names ---------------- */

static int zd_map_grow(struct zd *zd)
{
	uint32_t slots = zd->map ? (zd->map_mask + 1) * 2 : 1024;
	uint32_t *map = malloc(slots * sizeof(*map));

	if (!map)
		return PHAROS_ENOMEM;
	memset(map, 0xff, slots * sizeof(*map));
	for (size_t i = 0; i < zd->nnodes; i++) {
		uint32_t s = zd->nodes[i].hash & (slots - 1);
		while (map[s] != ZD_NONE)
			s = (s + 1) & (slots - 1);
		map[s] = (uint32_t)i;
	}
	free(zd->map);
	zd->map = map;
	zd->map_mask = slots - 1;
	return 0;
}

/* Index of the touched name w, or ZD_NONE. */
static uint32_t zd_node_find(const struct zd *zd, const uint8_t *w, size_t len, uint32_t h)
{
	if (!zd->map)
		return ZD_NONE;
	for (uint32_t s = h & zd->map_mask;; s = (s + 1) & zd->map_mask) {
		uint32_t i = zd->map[s];
		if (i == ZD_NONE)
			return ZD_NONE;
		if (zd->nodes[i].hash == h && zd->nodes[i].len == len &&
		    memcmp(zd->nodes[i].wire, w, len) == 0)
			return i;
	}
}

/*
 * Grow array v of elem-byte elements to hold need of them: its capacity *cap doubles,
 * starting from first. Returns the array (maybe moved), or NULL with v kept and *cap as it was.
 */
static void *zd_grow(void *v, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t c = *cap ? *cap : first;

	while (c < need)
		c *= 2;
	if (c == *cap)
		return v;
	v = realloc(v, c * elem);
	if (v)
		*cap = c;
	return v;
}

/* Append a record to node i, its rdata copied into the arena. */
static int zd_node_add(struct zd *zd, uint32_t i, uint16_t type, uint32_t ttl,
		       const uint8_t *rd, uint16_t rdlen)
{
	struct zd_node *n = &zd->nodes[i];

	if (n->nrrs == n->caprrs) {
		struct zd_rr *v = zd_grow(n->rrs, &n->caprrs, n->nrrs + 1, sizeof(*v), 4);

		if (!v)
			return PHAROS_ENOMEM;
		n->rrs = v;
	}
	if (zd->alen + rdlen > zd->acap) {
		uint8_t *a = zd_grow(zd->arena, &zd->acap, zd->alen + rdlen, 1, 4096);

		if (!a)
			return PHAROS_ENOMEM;
		zd->arena = a;
	}
	memcpy(zd->arena + zd->alen, rd, rdlen);
	n->rrs[n->nrrs++] = (struct zd_rr){ .rdoff = zd->alen, .ttl = ttl, .type = type,
					    .rdlen = rdlen };
	zd->alen += rdlen;
	return 0;
}

/* img_rr_fn: a served record into the node being loaded. */
static int zd_load_rr(void *ctx, const struct img_rr *rr)
{
	struct zd *zd = ctx;

	return zd_node_add(zd, (uint32_t)zd->nnodes - 1, rr->type, rr->ttl, rr->rdata, rr->rdlen);
}

/* The touched name w (lowercased), created with its served content on first use. */
static int zd_node_get(struct zd *zd, const uint8_t *w, size_t len, uint32_t *out)
{
	uint32_t h = img_hash(w, len), i = zd_node_find(zd, w, len, h);
	const struct img *img;
	const struct img_name *n;
	int rc;

	if (i != ZD_NONE) {
		*out = i;
		return 0;
	}
	if ((zd->nnodes + 1) * 2 > (size_t)zd->map_mask + 1 || !zd->map)
		if ((rc = zd_map_grow(zd)) < 0)
			return rc;
	if (zd->nnodes == zd->capnodes) {
		struct zd_node *v = zd_grow(zd->nodes, &zd->capnodes, zd->nnodes + 1, sizeof(*v), 64);

		if (!v)
			return PHAROS_ENOMEM;
		zd->nodes = v;
	}
	struct zd_node *nd = &zd->nodes[zd->nnodes++];
	memset(nd, 0, sizeof(*nd));
	memcpy(nd->wire, w, len);
	nd->len = (uint8_t)len;
	nd->hash = h;
	n = img_find(zd->base, w, len, h);
	nd->base_idx = n ? (uint32_t)(n - zd->base->names) : ZD_NONE;
	nd->chain_idx = zd_chain_find(zd, w, len);
	nd->denial = nd->wild_denial = IMG_NONE;
	uint32_t s = h & zd->map_mask;
	while (zd->map[s] != ZD_NONE)
		s = (s + 1) & zd->map_mask;
	zd->map[s] = (uint32_t)(zd->nnodes - 1);
	*out = (uint32_t)(zd->nnodes - 1);
	if ((n = zd_served(zd, w, len, &img)) != NULL &&
	    (rc = img_name_rrs(img, n, zd_load_rr, zd)) < 0)
		return rc;
	uint32_t c = zd->nodes[*out].chain_idx, dc;
	if (c == ZD_NONE)
		return 0;
	if ((dc = zd_delta_chain(zd, zd->base->nsec3[c].hash)) != ZD_NONE)
		return img_chain_rr(zd->delta, dc, zd_load_rr, zd);	/* the delta replaced it */
	return img_chain_rr(zd->base, c, zd_load_rr, zd);
}

/* ---------------- applying the diffs ---------------- */

/* The rdata of an ldns record in wire form into buf (ZD_WIRE_MAX); its length or -1. */
static long zd_rdata(const ldns_rr *rr, uint8_t *buf)
{
	size_t total = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (total + ldns_rdf_size(f) > UINT16_MAX)
			return -1;
		memcpy(buf + total, ldns_rdf_data(f), ldns_rdf_size(f));
		total += ldns_rdf_size(f);
	}
	return (long)total;
}

/* "www.example.com. 300 IN A 192.0.2.1" for messages (cut at 200 characters). */
static const char *zd_rrtext(const ldns_rr *rr, char *buf, size_t cap)
{
	char *s = ldns_rr2str(rr);
	size_t n;

	snprintf(buf, cap, "%.200s", s ? s : "?");
	free(s);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\t' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\t')
			*p = ' ';
	return buf;
}

/* Position of the record (type, rdata) in node i, or -1. */
static long zd_node_rr(const struct zd *zd, uint32_t i, uint16_t type, const uint8_t *rd,
		       size_t rdlen)
{
	const struct zd_node *n = &zd->nodes[i];

	for (size_t k = 0; k < n->nrrs; k++)
		if (n->rrs[k].type == type && n->rrs[k].rdlen == rdlen &&
		    memcmp(zd->arena + n->rrs[k].rdoff, rd, rdlen) == 0)
			return (long)k;
	return -1;
}

/* Owner of rr lowercased into w; 0, or -1 when it is not a name of this zone. */
static int zd_owner(const struct zd *zd, const ldns_rr *rr, uint8_t *w, size_t *len)
{
	const ldns_rdf *o = ldns_rr_owner(rr);

	*len = ldns_rdf_size(o);
	if (*len == 0 || *len > DNAME_MAX)
		return -1;
	dname_lower_copy(w, ldns_rdf_data(o), *len);
	return dname_is_sub(w, *len, zd->origin, zd->origin_len) ? 0 : -1;
}

/* RFC 1995: a deleted record must be in the zone (owner, class, type, rdata). */
static int zd_del(struct zd *zd, const ldns_rr *rr)
{
	uint8_t w[DNAME_MAX];
	char txt[256];
	size_t len;
	uint32_t i;
	long rdlen, k;
	int rc;

	rdlen = zd_rdata(rr, zd->wire);
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || rdlen < 0 ||
	    zd_owner(zd, rr, w, &len) < 0)
		goto absent;
	if ((rc = zd_node_get(zd, w, len, &i)) < 0)
		return rc;
	k = zd_node_rr(zd, i, (uint16_t)ldns_rr_get_type(rr), zd->wire, (size_t)rdlen);
	if (k < 0)
		goto absent;
	struct zd_node *n = &zd->nodes[i];
	n->rrs[k] = n->rrs[--n->nrrs];
	return 0;
absent:
	zd_err(zd, "IXFR %u -> %u: delete of a record not in the zone: %s", zd->serial,
	       zd->seq_to, zd_rrtext(rr, txt, sizeof(txt)));
	return PHAROS_EZONE;
}

/* An added record (checked by zonec already); adding one that is there sets its TTL. */
static int zd_add(struct zd *zd, const ldns_rr *rr)
{
	uint8_t w[DNAME_MAX];
	size_t len;
	uint32_t i;
	long rdlen = zd_rdata(rr, zd->wire), k;
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	int rc;

	if (rdlen < 0 || zd_owner(zd, rr, w, &len) < 0)
		return PHAROS_EZONE;	/* zonec refused it already */
	if ((rc = zd_node_get(zd, w, len, &i)) < 0)
		return rc;
	k = zd_node_rr(zd, i, type, zd->wire, (size_t)rdlen);
	if (k >= 0) {
		zd->nodes[i].rrs[k].ttl = ldns_rr_ttl(rr);
		return 0;
	}
	return zd_node_add(zd, i, type, ldns_rr_ttl(rr), zd->wire, (uint16_t)rdlen);
}

/*
 * zonec's checks of what one sequence adds (class, type, owner inside the zone, SOA form,
 * RRSIG and NSEC3 form): the same intake as a zone file or an AXFR, on a scratch zone.
 */
static int zd_check_adds(struct zd *zd, const struct xfr_diff *d)
{
	struct zonec_zone *scratch = NULL;
	char source[64];
	int rc;

	snprintf(source, sizeof(source), "IXFR %u -> %u", d->from, d->to);
	if ((rc = zonec_begin(zd->origin_txt, source, zd_report, zd, &scratch)) < 0)
		goto out;
	for (size_t k = 0; d->add && k < ldns_rr_list_rr_count(d->add) && rc == 0; k++)
		rc = zonec_add_rr(scratch, ldns_rr_list_rr(d->add, k));
	if (rc < 0)
		zd_err(zd, "IXFR %u -> %u: %s", d->from, d->to, pharos_strerror(rc));
out:
	zonec_free(scratch);
	return rc < 0 ? PHAROS_EZONE : 0;
}

/* One difference sequence: from must be the current serial; deletions, then additions. */
static int zd_apply_one(struct zd *zd, const struct xfr_diff *d)
{
	int rc;

	if (d->from != zd->serial) {
		zd_err(zd, "IXFR sequence from serial %u, but the zone is at serial %u", d->from,
		       zd->serial);
		return PHAROS_EZONE;
	}
	zd->seq_to = d->to;
	if ((rc = zd_check_adds(zd, d)) < 0)
		return rc;
	for (size_t k = 0; d->del && k < ldns_rr_list_rr_count(d->del); k++)
		if ((rc = zd_del(zd, ldns_rr_list_rr(d->del, k))) < 0)
			return rc;
	for (size_t k = 0; d->add && k < ldns_rr_list_rr_count(d->add); k++)
		if ((rc = zd_add(zd, ldns_rr_list_rr(d->add, k))) < 0)
			return rc;
	zd->serial = d->to;
	return 0;
}

/* ---------------- a full image: every record of the new zone through zonec ---------------- */

/* One record in wire form -> ldns -> zonec_add_rr. */
static int zd_emit(struct zonec_zone *zz, struct zd *zd, const uint8_t *owner, size_t olen,
		   uint16_t type, uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	uint8_t *w = zd->wire;
	size_t n = olen, pos = 0;
	ldns_rr *rr = NULL;
	int rc;

	memcpy(w, owner, olen);
	w[n++] = (uint8_t)(type >> 8);
	w[n++] = (uint8_t)type;
	w[n++] = 0;
	w[n++] = 1;		/* class IN */
	for (int s = 24; s >= 0; s -= 8)
		w[n++] = (uint8_t)(ttl >> s);
	w[n++] = (uint8_t)(rdlen >> 8);
	w[n++] = (uint8_t)rdlen;
	memcpy(w + n, rd, rdlen);
	n += rdlen;
	if (ldns_wire2rr(&rr, w, n, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK || pos != n) {
		ldns_rr_free(rr);
		zd_err(zd, "a served record of type %u cannot be decoded", type);
		return PHAROS_EZONE;
	}
	rc = zonec_add_rr(zz, rr);
	ldns_rr_free(rr);
	return rc;
}

struct zd_emit_ctx {
	struct zd *zd;
	struct zonec_zone *zz;
};

/* img_rr_fn: a served record, unchanged, into the new zone. */
static int zd_emit_walked(void *ctx, const struct img_rr *rr)
{
	struct zd_emit_ctx *e = ctx;

	return zd_emit(e->zz, e->zd, rr->owner, rr->owner_len, rr->type, rr->ttl, rr->rdata,
		       rr->rdlen);
}

/* 1 when the name w is touched (its content comes from the nodes). */
static int zd_touched(const struct zd *zd, const uint8_t *w, size_t len)
{
	return zd_node_find(zd, w, len, img_hash(w, len)) != ZD_NONE;
}

/* Every record of the zone as served, minus the touched names, then the touched names. */
static int zd_emit_all(struct zd *zd, struct zonec_zone *zz)
{
	struct zd_emit_ctx e = { zd, zz };
	const struct img *b = zd->base, *d = zd->delta;
	int rc;

	for (uint32_t i = 0; i < b->name_count; i++) {
		const struct img_name *n = &b->names[i];
		const uint8_t *w = img_name_wire(b, n);
		if (n->rrset_count == 0 || zd_touched(zd, w, n->name_len) ||
		    (d && img_find(d, w, n->name_len, n->hash)))
			continue;
		if ((rc = img_name_rrs(b, n, zd_emit_walked, &e)) < 0)
			return rc;
	}
	for (uint32_t i = 0; i < b->nsec3_count; i++) {
		const struct img_nsec3 *c = &b->nsec3[i];
		uint32_t dc = zd_delta_chain(zd, c->hash);
		if (zd_touched(zd, b->base + c->owner_off, c->owner_len))
			continue;
		if (dc != ZD_NONE)	/* the delta's record of this hash */
			rc = img_chain_rr(d, dc, zd_emit_walked, &e);
		else
			rc = img_chain_rr(b, i, zd_emit_walked, &e);
		if (rc < 0)
			return rc;
	}
	for (uint32_t i = 0; d && i < d->name_count; i++) {
		const struct img_name *n = &d->names[i];
		if (n->rrset_count == 0 || zd_touched(zd, img_name_wire(d, n), n->name_len))
			continue;
		if ((rc = img_name_rrs(d, n, zd_emit_walked, &e)) < 0)
			return rc;
	}
	for (size_t i = 0; i < zd->nnodes; i++) {
		const struct zd_node *n = &zd->nodes[i];
		for (size_t k = 0; k < n->nrrs; k++) {
			const struct zd_rr *r = &n->rrs[k];
			if ((rc = zd_emit(zz, zd, n->wire, n->len, r->type, r->ttl,
					  zd->arena + r->rdoff, r->rdlen)) < 0)
				return rc;
		}
	}
	return 0;
}

/* The new zone compiled whole: zonec's checks, then a full image. */
static int zd_full(struct zd *zd)
{
	struct zonec_zone *zz = NULL;
	int rc = zonec_begin(zd->origin_txt, "IXFR result", zd_report, zd, &zz);

	if (rc == 0)
		rc = zd_emit_all(zd, zz);
	if (rc == 0)
		rc = zonec_end(zz);
	if (rc == 0 && zonec_serial(zz) != zd->serial) {
		zd_err(zd, "the zone's SOA serial is %u after the IXFR, expected %u",
		       zonec_serial(zz), zd->serial);
		rc = PHAROS_EZONE;
	}
	if (rc == 0)
		rc = zonec_build(zz, &zd->out->img, &zd->out->len);
	if (rc < 0 && !zd->out->err[0])
		zd_err(zd, "the zone after the IXFR is refused: %s", pharos_strerror(rc));
	zonec_free(zz);
	if (rc < 0)
		return rc == PHAROS_ENOMEM ? rc : PHAROS_EZONE;
	zd->out->is_delta = 0;
	zd->out->serial = zd->serial;
	return 0;
}

/* ---------------- a delta image: the names that differ from the base ---------------- */

/*
 * Limits (zdiff_set_limits): a delta holds at most max(delta_min, base names / delta_div)
 * names, else the result is a full image; compaction is advised past
 * max(compact_min, base names / compact_div).
 */
static uint32_t delta_min = 4096, delta_div = 8, compact_min = 1024, compact_div = 64;

void zdiff_set_limits(uint32_t dmin, uint32_t ddiv, uint32_t cmin, uint32_t cdiv)
{
	delta_min = dmin;
	delta_div = ddiv ? ddiv : 1;
	compact_min = cmin;
	compact_div = cdiv ? cdiv : 1;
}

static uint32_t zd_delta_max(const struct zd *zd)
{
	uint32_t frac = zd->base->name_count / delta_div;

	return frac > delta_min ? frac : delta_min;
}

static int zd_has(const struct zd *zd, const struct zd_node *n, uint16_t type)
{
	(void)zd;
	for (size_t k = 0; k < n->nrrs; k++)
		if (n->rrs[k].type == type)
			return 1;
	return 0;
}

static int zd_is_apex(const struct zd *zd, const uint8_t *w, size_t len)
{
	return len == zd->origin_len && memcmp(w, zd->origin, len) == 0;
}

/* DNSSEC records need the base's denial indexes: a zone holding any gets full images. */
static int zd_dnssec_type(uint16_t type)
{
	return type == DNS_T_RRSIG || type == DNS_T_NSEC || type == DNS_T_NSEC3 ||
	       type == 51 /* NSEC3PARAM */;
}

/* Every ancestor of every node (apex included) a node too: they may change with them. */
static int zd_add_ancestors(struct zd *zd)
{
	uint32_t idx;
	int rc;

	for (size_t i = 0; i < zd->nnodes; i++) {
		uint8_t w[DNAME_MAX];
		size_t len = zd->nodes[i].len, off = 0;
		memcpy(w, zd->nodes[i].wire, len);
		while (len - off > zd->origin_len) {
			off += 1 + (size_t)w[off];
			if ((rc = zd_node_get(zd, w + off, len - off, &idx)) < 0)
				return rc;
		}
	}
	return 0;
}

/* Is the name a zone cut in the new zone? (Nodes: their content; others: the base's flag.) */
static int zd_new_deleg(const struct zd *zd, const uint8_t *w, size_t len)
{
	uint32_t i = zd_node_find(zd, w, len, img_hash(w, len));
	const struct img_name *n;

	if (zd_is_apex(zd, w, len))
		return 0;
	if (i != ZD_NONE)
		return zd_has(zd, &zd->nodes[i], DNS_T_NS);
	n = img_find(zd->base, w, len, img_hash(w, len));
	return n && (n->flags & IMG_NAME_DELEG);
}

/*
 * A name that becomes or stops being a cut changes UNDER_CUT for everything below it: the
 * base's names under it join the delta. Stops (PHAROS_ELIMIT) past the delta's limit.
 */
static int zd_add_cut_subtrees(struct zd *zd)
{
	const struct img *b = zd->base;
	size_t n0 = zd->nnodes;
	uint32_t idx;
	int rc;

	for (size_t i = 0; i < n0; i++) {
		struct zd_node *nd = &zd->nodes[i];
		uint32_t bi = nd->base_idx;
		int was = bi != ZD_NONE && (b->names[bi].flags & IMG_NAME_DELEG);
		if (zd_new_deleg(zd, nd->wire, nd->len) == was || bi == ZD_NONE)
			continue;
		const uint8_t *top = img_name_wire(b, &b->names[bi]);
		uint8_t toplen = b->names[bi].name_len;
		for (uint32_t j = bi + 1; j < b->name_count; j++) {
			const struct img_name *c = &b->names[j];
			if (!dname_is_sub(img_name_wire(b, c), c->name_len, top, toplen))
				break;	/* canonical order: a subtree is contiguous */
			if (zd->nnodes > zd_delta_max(zd))
				return PHAROS_ELIMIT;
			if ((rc = zd_node_get(zd, img_name_wire(b, c), c->name_len, &idx)) < 0)
				return rc;
			nd = &zd->nodes[i];	/* the array may have moved */
		}
	}
	return 0;
}

/* Mark the ancestors of every node with data: they exist (as ENTs at least). */
static void zd_mark_desc(struct zd *zd)
{
	for (size_t i = 0; i < zd->nnodes; i++) {
		const struct zd_node *nd = &zd->nodes[i];
		size_t off = 0;
		if (nd->nrrs == 0)
			continue;
		while (nd->len - off > zd->origin_len) {
			off += 1 + (size_t)nd->wire[off];
			const uint8_t *w = nd->wire + off;
			uint32_t p = zd_node_find(zd, w, nd->len - off, img_hash(w, nd->len - off));
			if (p == ZD_NONE || zd->nodes[p].desc)
				break;	/* marked already: so are the ones above */
			zd->nodes[p].desc = 1;
		}
	}
}

/*
 * Does a name of the base below node nd still have data? Its base names below it come
 * right after it; those that are nodes were counted by zd_mark_desc, the others keep
 * their base content. Stops at the first that has data.
 */
static int zd_base_desc(const struct zd *zd, const struct zd_node *nd)
{
	const struct img *b = zd->base;

	if (nd->base_idx == ZD_NONE)
		return 0;	/* a name the base does not have has nothing below it there */
	for (uint32_t j = nd->base_idx + 1; j < b->name_count; j++) {
		const struct img_name *c = &b->names[j];
		const uint8_t *w = img_name_wire(b, c);
		if (!dname_is_sub(w, c->name_len, nd->wire, nd->len))
			return 0;
		if (c->rrset_count && zd_node_find(zd, w, c->name_len, c->hash) == ZD_NONE)
			return 1;
	}
	return 0;
}

/* Flags of a node in the new zone; 0 when it does not exist (TOMBSTONE when the base has it). */
static int zd_flags(struct zd *zd, struct zd_node *nd)
{
	int apex = zd_is_apex(zd, nd->wire, nd->len);
	uint16_t f = 0;

	if (!apex && !nd->nrrs && !nd->desc && !zd_base_desc(zd, nd)) {
		nd->flags = nd->base_idx != ZD_NONE ? IMG_NAME_TOMBSTONE : 0;
		if (nd->flags && nd->wire[0] == 1 && nd->wire[1] == '*')
			nd->flags |= IMG_NAME_WILDCARD;
		return 0;
	}
	f |= apex ? IMG_NAME_APEX : 0;
	f |= nd->nrrs ? 0 : IMG_NAME_ENT;
	f |= !apex && zd_has(zd, nd, DNS_T_NS) ? IMG_NAME_DELEG : 0;
	f |= zd_has(zd, nd, DNS_T_CNAME) ? IMG_NAME_CNAME : 0;
	f |= nd->wire[0] == 1 && nd->wire[1] == '*' ? IMG_NAME_WILDCARD : 0;
	for (size_t off = 0; !apex && nd->len - off > zd->origin_len;) {
		off += 1 + (size_t)nd->wire[off];
		if (zd_new_deleg(zd, nd->wire + off, nd->len - off)) {
			f |= IMG_NAME_UNDER_CUT;
			break;
		}
	}
	nd->flags = f;
	return 1;
}

/* Image order of one name's records: type, rdata bytes, shorter first (as zonec). */
static int zd_cmp_rr(const void *a, const void *b, void *arg)
{
	const struct zd_rr *x = a, *y = b;
	const uint8_t *arena = arg;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	int c = memcmp(arena + x->rdoff, arena + y->rdoff, x->rdlen < y->rdlen ? x->rdlen : y->rdlen);
	if (c)
		return c;
	return (x->rdlen > y->rdlen) - (x->rdlen < y->rdlen);
}

static int zd_cmp_node(const void *a, const void *b, void *arg)
{
	const struct zd *zd = arg;
	const struct zd_node *x = &zd->nodes[*(const uint32_t *)a];
	const struct zd_node *y = &zd->nodes[*(const uint32_t *)b];

	return dname_canon_cmp(x->wire, y->wire);
}

/* What the delta holds, counted, and the node order. */
struct zd_plan {
	uint32_t *order;	/* node indexes of the delta's names, canonical order */
	uint32_t *chain;	/* node indexes of its NSEC3 records, hash order */
	uint32_t names, rrsets, nchain;
	uint64_t data;
	uint32_t soa;		/* index in RRSETS of the apex SOA */
};

/* Sort a node's records into image order, drop exact duplicates; its RRset count or error. */
static long zd_sort_node(struct zd *zd, struct zd_node *nd)
{
	size_t o = 0, first = 0;
	long sets = 0;

	if (nd->nrrs > 1)
		qsort_r(nd->rrs, nd->nrrs, sizeof(*nd->rrs), zd_cmp_rr, zd->arena);
	for (size_t k = 0; k < nd->nrrs; k++) {
		struct zd_rr *r = &nd->rrs[k];
		if (o > 0 && zd_cmp_rr(&nd->rrs[o - 1], r, zd->arena) == 0) {
			if (r->ttl < nd->rrs[o - 1].ttl)
				nd->rrs[o - 1].ttl = r->ttl;
			continue;	/* exact duplicate */
		}
		if (o == 0 || nd->rrs[o - 1].type != r->type) {
			sets++;
			first = o;
		}
		if (o - first >= UINT16_MAX) {
			zd_err(zd, "more than 65535 records in one RRset");
			return PHAROS_ELIMIT;
		}
		nd->rrs[o++] = *r;
	}
	nd->nrrs = o;
	return sets;
}

/* Walking a base name's records against a node's (sorted) ones. */
struct zd_same {
	const struct zd *zd;
	const struct zd_node *nd;
	size_t k;
	int same;
};

static int zd_same_rr(void *ctx, const struct img_rr *rr)
{
	struct zd_same *c = ctx;
	const struct zd_rr *r = c->k < c->nd->nrrs ? &c->nd->rrs[c->k] : NULL;

	c->k++;
	if (!r || r->type != rr->type || r->ttl != rr->ttl || r->rdlen != rr->rdlen ||
	    memcmp(c->zd->arena + r->rdoff, rr->rdata, rr->rdlen) != 0) {
		c->same = 0;
		return -1;
	}
	return 0;
}

/*
 * 1 when a node that exists is exactly what the base has (flags and records): an
 * ancestor or a name under a cut that did not change after all. The delta leaves it out.
 */
static int zd_same_as_base(const struct zd *zd, const struct zd_node *nd)
{
	const struct img_name *bn;
	struct zd_same c = { zd, nd, 0, 1 };

	if (nd->base_idx == ZD_NONE || (nd->flags & (IMG_NAME_APEX | IMG_NAME_TOMBSTONE)))
		return 0;
	bn = &zd->base->names[nd->base_idx];
	if (bn->flags != nd->flags)
		return 0;
	img_name_rrs(zd->base, bn, zd_same_rr, &c);
	return c.same && c.k == nd->nrrs;
}

static uint16_t zd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A record of a node equal (type, rdata, and TTL when ttl is set) to a walked one. */
static int zd_find_rr(const struct zd *zd, const struct zd_node *nd, const struct img_rr *rr,
		      int ttl)
{
	for (size_t k = 0; k < nd->nrrs; k++) {
		const struct zd_rr *r = &nd->rrs[k];
		if (r->type == rr->type && r->rdlen == rr->rdlen && (!ttl || r->ttl == rr->ttl) &&
		    memcmp(zd->arena + r->rdoff, rr->rdata, rr->rdlen) == 0)
			return 1;
	}
	return 0;
}

/* Counting a walk's records of one type (0: all) that the node has too. */
struct zd_match {
	const struct zd *zd;
	const struct zd_node *nd;
	uint16_t type;
	int ttl;
	size_t seen, found;
};

static int zd_match_rr(void *ctx, const struct img_rr *rr)
{
	struct zd_match *m = ctx;

	if (m->type && rr->type != m->type)
		return 0;
	m->seen++;
	m->found += (size_t)zd_find_rr(m->zd, m->nd, rr, m->ttl);
	return 0;
}

static size_t zd_count_type(const struct zd_node *nd, uint16_t type)
{
	size_t n = 0;

	for (size_t k = 0; k < nd->nrrs; k++)
		n += !type || nd->rrs[k].type == type;
	return n;
}

/* The node's NSEC3 record (and RRSIGs) are the base chain's record unchanged. */
static int zd_same_chain(const struct zd *zd, const struct zd_node *nd)
{
	struct zd_match m = { zd, nd, 0, 1, 0, 0 };

	img_chain_rr(zd->base, nd->chain_idx, zd_match_rr, &m);
	return m.seen == m.found && m.seen == nd->nrrs;
}

/*
 * A record of the NSEC3 chain after the IXFR: still exactly one NSEC3 with the chain's
 * parameters, and RRSIGs covering NSEC3 only (else the chain changes shape: full image).
 */
static int zd_chain_ok(const struct zd *zd, const struct zd_node *nd)
{
	const struct img_nsec3param *p = zd->base->nsec3param;
	unsigned n3 = 0;

	for (size_t k = 0; k < nd->nrrs; k++) {
		const struct zd_rr *r = &nd->rrs[k];
		const uint8_t *rd = zd->arena + r->rdoff;
		if (r->type == DNS_T_NSEC3) {
			if (r->rdlen < 5 || rd[0] != p->alg || zd_get16(rd + 2) != p->iterations ||
			    rd[4] != p->salt_len || r->rdlen < 5u + p->salt_len ||
			    memcmp(rd + 5, p->salt, p->salt_len) != 0)
				return 0;
			n3++;
		} else if (r->type != DNS_T_RRSIG || r->rdlen < 18 ||
			   zd_get16(rd) != DNS_T_NSEC3) {
			return 0;
		}
	}
	return n3 == 1;
}

/*
 * A signed zone's delta keeps the base's denial indexes, which is right only when the
 * IXFR changes no name, no flag that denial depends on, no name's having an NSEC, no
 * NSEC3 parameter, no hash of the chain (doc/zone-image.md, "Delta images"). 0 when this
 * name keeps all that (its denial fields are then copied from the base), 1 when not.
 */
static int zd_signed_name(const struct zd *zd, struct zd_node *nd)
{
	const uint16_t free_flags = IMG_NAME_CNAME | IMG_NAME_NSEC3_COVERED;
	const struct img *b = zd->base;
	const struct img_name *bn;

	if (nd->base_idx == ZD_NONE || (nd->flags & IMG_NAME_TOMBSTONE))
		return 1;
	bn = &b->names[nd->base_idx];
	if ((nd->flags & ~free_flags) != (bn->flags & ~free_flags))
		return 1;
	nd->flags = (uint16_t)(nd->flags | (bn->flags & IMG_NAME_NSEC3_COVERED));
	nd->denial = bn->denial;
	nd->wild_denial = bn->wild_denial;
	for (size_t k = 0; k < nd->nrrs; k++) {
		const struct zd_rr *r = &nd->rrs[k];
		if (r->type == DNS_T_NSEC3 || (r->type == DNS_T_RRSIG && r->rdlen >= 2 &&
					       zd_get16(zd->arena + r->rdoff) == DNS_T_NSEC3))
			return 1;
	}
	if (b->denial == IMG_DENIAL_NSEC && !(bn->flags & IMG_NAME_UNDER_CUT) &&
	    zd_has(zd, nd, DNS_T_NSEC) != (img_rrset(b, bn, DNS_T_NSEC) != NULL))
		return 1;
	if (bn->flags & IMG_NAME_APEX) {
		struct zd_match m = { zd, nd, 51 /* NSEC3PARAM */, 0, 0, 0 };
		img_name_rrs(b, bn, zd_match_rr, &m);
		if (m.seen != m.found || m.seen != zd_count_type(nd, 51))
			return 1;
	}
	return 0;
}

/* Hash order of two chain nodes (their owners' first labels, base32hex: the same order). */
static int zd_cmp_chain(const void *a, const void *b, void *arg)
{
	const struct zd *zd = arg;
	const struct zd_node *x = &zd->nodes[*(const uint32_t *)a];
	const struct zd_node *y = &zd->nodes[*(const uint32_t *)b];

	return memcmp(zd->base->nsec3[x->chain_idx].hash, zd->base->nsec3[y->chain_idx].hash,
		      NSEC3_HASH_LEN);
}

/*
 * The delta's names (sorted and deduped records, base-identical ones left out) and, in a
 * signed zone, its changed NSEC3 records, counted. Returns 0, 1 when a delta cannot hold
 * this IXFR (a full image is needed), or an error.
 */
static int zd_plan(struct zd *zd, struct zd_plan *p)
{
	int sig = zd->base->denial != IMG_DENIAL_NONE;

	memset(p, 0, sizeof(*p));
	if (!(p->order = malloc((zd->nnodes + 1) * sizeof(*p->order))) ||
	    !(p->chain = malloc((zd->nnodes + 1) * sizeof(*p->chain))))
		return PHAROS_ENOMEM;
	for (size_t i = 0; i < zd->nnodes; i++) {
		struct zd_node *nd = &zd->nodes[i];
		long sets;
		if (sig && nd->chain_idx != ZD_NONE) {
			if ((sets = zd_sort_node(zd, nd)) < 0)
				return (int)sets;
			if (nd->base_idx != ZD_NONE || !zd_chain_ok(zd, nd))
				return 1;
			if (zd_same_chain(zd, nd))
				continue;
			p->chain[p->nchain++] = (uint32_t)i;
			p->rrsets++;
			p->data += nd->len;
			for (size_t k = 0; k < nd->nrrs; k++)
				p->data += 2 + (uint64_t)nd->rrs[k].rdlen;
			continue;
		}
		if (!zd_flags(zd, nd) && !nd->flags)
			continue;
		if ((sets = zd_sort_node(zd, nd)) < 0)
			return (int)sets;
		if (sig && zd_signed_name(zd, nd))
			return 1;
		if (zd_same_as_base(zd, nd))
			continue;
		p->order[p->names++] = (uint32_t)i;
		p->rrsets += (uint32_t)sets;
		p->data += nd->len;
		for (size_t k = 0; k < nd->nrrs; k++)
			p->data += 2 + (uint64_t)nd->rrs[k].rdlen;
	}
	qsort_r(p->order, p->names, sizeof(*p->order), zd_cmp_node, zd);
	qsort_r(p->chain, p->nchain, sizeof(*p->chain), zd_cmp_chain, zd);
	return 0;
}

/* The apex has exactly one SOA, with the serial the IXFR ends at. */
static int zd_check_apex(struct zd *zd, const struct zd_plan *p)
{
	const struct zd_node *apex = &zd->nodes[p->order[0]];
	const struct zd_rr *soa = NULL;
	unsigned n = 0;

	if (p->names == 0 || !zd_is_apex(zd, apex->wire, apex->len))
		return PHAROS_EZONE;
	for (size_t k = 0; k < apex->nrrs; k++)
		if (apex->rrs[k].type == DNS_T_SOA) {
			soa = &apex->rrs[k];
			n++;
		}
	if (n != 1 || soa->rdlen < 22) {
		zd_err(zd, n ? "a second, different SOA record at the apex after the IXFR" :
		       "no SOA record at the zone apex after the IXFR");
		return PHAROS_EZONE;
	}
	const uint8_t *rd = zd->arena + soa->rdoff + soa->rdlen - 20;
	uint32_t serial = (uint32_t)rd[0] << 24 | (uint32_t)rd[1] << 16 | (uint32_t)rd[2] << 8 | rd[3];
	if (serial != zd->serial) {
		zd_err(zd, "the zone's SOA serial is %u after the IXFR, expected %u", serial,
		       zd->serial);
		return PHAROS_EZONE;
	}
	return 0;
}

static uint64_t zd_align8(uint64_t x)
{
	return (x + IMG_ALIGN - 1) & ~(uint64_t)(IMG_ALIGN - 1);
}

/* One node's RRsets (and their rdata runs at *data); returns the next RRset index. */
static uint32_t zd_put_sets(const struct zd *zd, const struct zd_node *nd, uint8_t *buf,
			    struct img_rrset *sets, uint32_t at, uint64_t *data, uint32_t *soa)
{
	for (size_t k = 0; k < nd->nrrs;) {
		struct img_rrset *rs = &sets[at];
		size_t j = k;
		rs->type = nd->rrs[k].type;
		rs->ttl = UINT32_MAX;
		rs->rdata_off = (uint32_t)*data;
		for (; j < nd->nrrs && nd->rrs[j].type == rs->type; j++) {
			const struct zd_rr *r = &nd->rrs[j];
			buf[*data] = (uint8_t)(r->rdlen >> 8);
			buf[*data + 1] = (uint8_t)r->rdlen;
			memcpy(buf + *data + 2, zd->arena + r->rdoff, r->rdlen);
			*data += 2 + (uint64_t)r->rdlen;
			rs->ttl = r->ttl < rs->ttl ? r->ttl : rs->ttl;
		}
		rs->count = (uint16_t)(j - k);
		rs->rdata_len = (uint32_t)(*data - rs->rdata_off);
		if (rs->type == DNS_T_SOA && (nd->flags & IMG_NAME_APEX))
			*soa = at;
		at++;
		k = j;
	}
	return at;
}

/*
 * sig_* of a node's RRsets [first, first + count) just written: its RRSIG RRset's records
 * are sorted by rdata, hence by type covered, like the RRsets by type (as zonec).
 */
static void zd_put_sigs(const struct zd *zd, const struct zd_node *nd, struct img_rrset *sets,
			uint32_t first, uint32_t count)
{
	uint32_t sig = first, t = first, end = first + count;
	size_t k = 0;

	while (sig < end && sets[sig].type != DNS_T_RRSIG)
		sig++;
	if (sig == end)
		return;
	while (k < nd->nrrs && nd->rrs[k].type != DNS_T_RRSIG)
		k++;
	uint64_t off = sets[sig].rdata_off;
	while (k < nd->nrrs && nd->rrs[k].type == DNS_T_RRSIG) {
		uint16_t covered = zd_get16(zd->arena + nd->rrs[k].rdoff);
		uint64_t start = off;
		uint32_t ttl = UINT32_MAX;
		uint16_t n = 0;
		for (; k < nd->nrrs && nd->rrs[k].type == DNS_T_RRSIG &&
		       zd_get16(zd->arena + nd->rrs[k].rdoff) == covered; k++, n++) {
			off += 2 + (uint64_t)nd->rrs[k].rdlen;
			ttl = nd->rrs[k].ttl < ttl ? nd->rrs[k].ttl : ttl;
		}
		while (t < end && sets[t].type < covered)
			t++;
		if (t == end || sets[t].type != covered || covered == DNS_T_RRSIG)
			continue;	/* covers nothing here: served with the RRSIG RRset only */
		sets[t].sig_off = (uint32_t)start;
		sets[t].sig_len = (uint32_t)(off - start);
		sets[t].sig_count = n;
		sets[t].sig_ttl = ttl;
	}
}

/* The changed NSEC3 records: table, owners in DATA at *owners, RRsets at *data. */
static void zd_put_chain(const struct zd *zd, const struct zd_plan *p, uint8_t *buf,
			 struct img_nsec3 *n3, struct img_rrset *sets, uint32_t set,
			 uint64_t *owners, uint64_t *data)
{
	for (uint32_t i = 0; i < p->nchain; i++) {
		const struct zd_node *nd = &zd->nodes[p->chain[i]];
		struct img_rrset *rs = &sets[set + i];
		memcpy(n3[i].hash, zd->base->nsec3[nd->chain_idx].hash, NSEC3_HASH_LEN);
		n3[i].owner_off = (uint32_t)*owners;
		n3[i].owner_len = nd->len;
		n3[i].rrset = set + i;
		memcpy(buf + *owners, nd->wire, nd->len);
		*owners += nd->len;
		rs->type = DNS_T_NSEC3;
		rs->count = 1;
		rs->sig_ttl = UINT32_MAX;
		for (int pass = 0; pass < 2; pass++) {	/* the NSEC3, then its RRSIGs */
			if (pass == 1)
				rs->sig_off = (uint32_t)*data;
			else
				rs->rdata_off = (uint32_t)*data;
			for (size_t k = 0; k < nd->nrrs; k++) {
				const struct zd_rr *r = &nd->rrs[k];
				if ((r->type == DNS_T_NSEC3) != (pass == 0))
					continue;
				buf[*data] = (uint8_t)(r->rdlen >> 8);
				buf[*data + 1] = (uint8_t)r->rdlen;
				memcpy(buf + *data + 2, zd->arena + r->rdoff, r->rdlen);
				*data += 2 + (uint64_t)r->rdlen;
				if (pass == 0)
					rs->ttl = r->ttl;
				else if (++rs->sig_count && r->ttl < rs->sig_ttl)
					rs->sig_ttl = r->ttl;
			}
			if (pass == 0)
				rs->rdata_len = (uint32_t)(*data - rs->rdata_off);
			else
				rs->sig_len = (uint32_t)(*data - rs->sig_off);
		}
		if (rs->sig_count == 0)
			rs->sig_off = rs->sig_len = rs->sig_ttl = 0;
	}
}

/* Section sizes and offsets of the delta; returns the file size. */
static uint64_t zd_layout(const struct zd *zd, const struct zd_plan *p, uint64_t slots,
			  uint64_t *off, uint64_t *len)
{
	uint64_t at = sizeof(struct img_header);

	len[IMG_SEC_NAMES] = (uint64_t)p->names * sizeof(struct img_name);
	len[IMG_SEC_HASH] = slots * sizeof(struct img_slot);
	len[IMG_SEC_RRSETS] = (uint64_t)p->rrsets * sizeof(struct img_rrset);
	len[IMG_SEC_DATA] = p->data;
	if (zd->base->denial == IMG_DENIAL_NSEC3) {
		len[IMG_SEC_NSEC3] = (uint64_t)p->nchain * sizeof(struct img_nsec3);
		len[IMG_SEC_NSEC3PARAM] = sizeof(struct img_nsec3param);
	}
	for (int s = 0; s < IMG_SEC_COUNT_; s++) {
		if (!len[s])
			continue;
		off[s] = at;
		at = zd_align8(at + len[s]);
	}
	return at;
}

/* Header of the delta: its own serial and counts, its base, the base's denial. */
static void zd_put_header(const struct zd *zd, const struct zd_plan *p, uint8_t *buf,
			  uint64_t size, uint64_t slots, const uint64_t *off, const uint64_t *len,
			  uint32_t soa)
{
	struct img_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IMG_MAGIC_DELTA, sizeof(h.magic));
	h.version = IMG_VERSION;
	h.header_size = sizeof(h);
	h.file_size = size;
	h.serial = zd->serial;
	h.name_count = p->names;
	h.rrset_count = p->rrsets;
	h.hash_slots = (uint32_t)slots;
	h.soa_rrset = soa;
	h.compiled_at = (uint32_t)time(NULL);
	h.denial = zd->base->denial;
	for (int s = 0; s < IMG_SEC_COUNT_; s++) {
		h.sec[s].off = (uint32_t)off[s];
		h.sec[s].len = (uint32_t)len[s];
	}
	h.base_serial = zd->base->hdr->serial;
	h.base_checksum = zd->base->hdr->checksum;
	memcpy(buf, &h, sizeof(h));
	if (len[IMG_SEC_NSEC3PARAM])
		memcpy(buf + off[IMG_SEC_NSEC3PARAM], zd->base->nsec3param,
		       sizeof(struct img_nsec3param));
	uint32_t crc = img_checksum(buf, size);
	memcpy(buf + offsetof(struct img_header, checksum), &crc, sizeof(crc));
}

/*
 * Lay the delta image out (doc/zone-image.md): header, NAMES, HASH, RRSETS, DATA (owner
 * names, NSEC3 owners, the names' rdata, the NSEC3 rdata and RRSIGs), NSEC3, NSEC3PARAM.
 */
static int zd_write_delta(struct zd *zd, const struct zd_plan *p)
{
	uint64_t slots = 2, off[IMG_SEC_COUNT_] = { 0 }, len[IMG_SEC_COUNT_] = { 0 }, at;

	while (slots < 2 * (uint64_t)p->names)
		slots *= 2;
	if ((at = zd_layout(zd, p, slots, off, len)) > UINT32_MAX)
		return PHAROS_ELIMIT;
	uint8_t *buf = calloc(1, at);
	if (!buf)
		return PHAROS_ENOMEM;
	struct img_name *names = (struct img_name *)(buf + off[IMG_SEC_NAMES]);
	struct img_slot *hash = (struct img_slot *)(buf + off[IMG_SEC_HASH]);
	struct img_rrset *sets = (struct img_rrset *)(buf + off[IMG_SEC_RRSETS]);
	uint64_t data = off[IMG_SEC_DATA], owners;
	uint32_t set = 0, soa = 0, mask = (uint32_t)slots - 1;

	memset(hash, 0xff, len[IMG_SEC_HASH]);
	for (uint32_t i = 0; i < p->names; i++) {	/* owner names first, as zonec */
		const struct zd_node *nd = &zd->nodes[p->order[i]];
		names[i].name_off = (uint32_t)data;
		memcpy(buf + data, nd->wire, nd->len);
		data += nd->len;
	}
	owners = data;		/* then the NSEC3 owners */
	for (uint32_t i = 0; i < p->nchain; i++)
		data += zd->nodes[p->chain[i]].len;
	for (uint32_t i = 0; i < p->names; i++) {
		const struct zd_node *nd = &zd->nodes[p->order[i]];
		struct img_name *o = &names[i];
		o->name_len = nd->len;
		o->labels = (uint8_t)dname_labels(nd->wire);
		o->flags = nd->flags;
		o->parent = o->wildcard = IMG_NONE;
		o->denial = nd->denial;
		o->wild_denial = nd->wild_denial;
		o->hash = nd->hash;
		o->rrset_first = nd->nrrs ? set : 0;
		uint32_t next = zd_put_sets(zd, nd, buf, sets, set, &data, &soa);
		zd_put_sigs(zd, nd, sets, set, next - set);
		o->rrset_count = (uint16_t)(next - set);
		set = next;
		uint32_t s = nd->hash & mask;
		while (hash[s].name != IMG_NONE)
			s = (s + 1) & mask;
		hash[s].hash = nd->hash;
		hash[s].name = i;
	}
	zd_put_chain(zd, p, buf, (struct img_nsec3 *)(buf + off[IMG_SEC_NSEC3]), sets, set,
		     &owners, &data);
	zd_put_header(zd, p, buf, at, slots, off, len, soa);
	zd->out->img = buf;
	zd->out->len = at;
	return 0;
}

/* What we wrote must pass what the dataplane will check (a bug here must not go out). */
static int zd_selfcheck(struct zd *zd)
{
	char err[XFR_ERR_MAX - 64];
	struct img *d = NULL;
	int rc = img_open_mem(zd->out->img, zd->out->len, 0, &d, err, sizeof(err));

	if (rc == 0)
		rc = img_delta_check(zd->base, d, err, sizeof(err));
	img_close(d);
	if (rc < 0)
		zd_err(zd, "internal error: the delta image fails verification: %s", err);
	return rc < 0 ? PHAROS_EZONE : 0;
}

/*
 * The delta over the base: every name whose content or flags differ from the base's, with
 * its complete new content; tombstones for base names that are gone; in a signed zone the
 * NSEC3 records that changed. Returns 1 when a delta is not possible (a signed zone whose
 * names or chain change shape) or too big: the caller builds a full image; 0, or an error.
 */
static int zd_delta(struct zd *zd)
{
	struct zd_plan p = { 0 };
	int rc, sig = zd->base->denial != IMG_DENIAL_NONE;

	for (uint32_t i = 0; zd->delta && i < zd->delta->name_count; i++) {
		const struct img_name *n = &zd->delta->names[i];
		uint32_t idx;
		if ((rc = zd_node_get(zd, img_name_wire(zd->delta, n), n->name_len, &idx)) < 0)
			return rc;
	}
	for (uint32_t i = 0; zd->delta && i < zd->delta->nsec3_count; i++) {
		const struct img_nsec3 *e = &zd->delta->nsec3[i];
		uint32_t idx;
		if ((rc = zd_node_get(zd, zd->delta->base + e->owner_off, e->owner_len,
				      &idx)) < 0)
			return rc;
	}
	if ((rc = zd_add_ancestors(zd)) < 0)
		return rc;
	for (size_t i = 0; !sig && i < zd->nnodes; i++)
		for (size_t k = 0; k < zd->nodes[i].nrrs; k++)
			if (zd_dnssec_type(zd->nodes[i].rrs[k].type))
				return 1;
	if ((rc = zd_add_cut_subtrees(zd)) == PHAROS_ELIMIT || zd->nnodes > zd_delta_max(zd))
		return 1;
	if (rc < 0)
		return rc;
	zd_mark_desc(zd);
	if ((rc = zd_plan(zd, &p)) != 0 || (rc = zd_check_apex(zd, &p)) < 0 ||
	    (rc = zd_write_delta(zd, &p)) < 0 || (rc = zd_selfcheck(zd)) < 0) {
		free(p.order);
		free(p.chain);
		if (rc == 1)
			return 1;	/* a full image instead */
		return rc == PHAROS_EZONE || rc == PHAROS_ELIMIT || rc == PHAROS_ENOMEM ?
		       rc : PHAROS_EZONE;
	}
	free(p.order);
	free(p.chain);
	zd->out->is_delta = 1;
	zd->out->serial = zd->serial;
	zd->out->delta_names = p.names + p.nchain;
	uint32_t advise = zd->base->name_count / compact_div;
	zd->out->compact_advised = p.names > (advise > compact_min ? advise : compact_min);
	return 0;
}

/* ---------------- the base images, mapped once ---------------- */

/*
 * Verifying a base (CRC and every field: ~0.1 s for 1 M records) must not be paid per
 * IXFR: verified bases stay mapped, keyed by path and file identity (device, inode, size,
 * mtime: images are never rewritten in place, a new one is renamed over), up to
 * ZD_CACHE of them, the least recently used unused one evicted; one whose file is gone
 * from its path is unmapped at the next call.
 */
#define ZD_CACHE	8

static struct zd_cached {
	char path[1024];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct img *img;
	unsigned users;
	uint64_t used;
} zd_cache[ZD_CACHE];
static pthread_mutex_t zd_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t zd_cache_tick;

static int zd_same_file(const struct zd_cached *c, const char *path, const struct stat *st)
{
	return c->img && strcmp(c->path, path) == 0 && c->dev == st->st_dev &&
	       c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/*
 * Unmap cached bases no longer at their path (pruned, or replaced): a mapping would keep
 * a deleted file's blocks and pages alive. Under zd_cache_lock; at most ZD_CACHE stats.
 */
static void zd_cache_sweep(void)
{
	struct stat st;

	for (unsigned i = 0; i < ZD_CACHE; i++) {
		struct zd_cached *c = &zd_cache[i];
		if (c->img && c->users == 0 &&
		    (stat(c->path, &st) < 0 || !zd_same_file(c, c->path, &st))) {
			img_close(c->img);
			c->img = NULL;
		}
	}
}

/* The verified base at path: cached, or opened (and cached when a place is free). */
static int zd_base_get(const char *path, struct img **out, char *err, size_t errlen)
{
	struct stat st;
	struct zd_cached *slot = NULL;
	int rc;

	pthread_mutex_lock(&zd_cache_lock);
	zd_cache_sweep();
	pthread_mutex_unlock(&zd_cache_lock);
	if (stat(path, &st) == 0 && strlen(path) < sizeof(zd_cache[0].path)) {
		pthread_mutex_lock(&zd_cache_lock);
		for (unsigned i = 0; i < ZD_CACHE; i++) {
			if (zd_same_file(&zd_cache[i], path, &st)) {
				zd_cache[i].users++;
				zd_cache[i].used = ++zd_cache_tick;
				*out = zd_cache[i].img;
				pthread_mutex_unlock(&zd_cache_lock);
				return 0;
			}
		}
		pthread_mutex_unlock(&zd_cache_lock);
	}
	if ((rc = img_open_file(path, out, err, errlen)) < 0)
		return rc;
	pthread_mutex_lock(&zd_cache_lock);
	for (unsigned i = 0; i < ZD_CACHE; i++)
		if (zd_cache[i].users == 0 && (!slot || !zd_cache[i].img ||
					       (slot->img && zd_cache[i].used < slot->used)))
			slot = &zd_cache[i];
	if (slot && strlen(path) < sizeof(slot->path) && img_is_delta(*out) == 0) {
		img_close(slot->img);
		snprintf(slot->path, sizeof(slot->path), "%s", path);
		slot->dev = st.st_dev;
		slot->ino = st.st_ino;
		slot->size = st.st_size;
		slot->mtime = st.st_mtim;
		slot->img = *out;
		slot->users = 1;
		slot->used = ++zd_cache_tick;
	}
	pthread_mutex_unlock(&zd_cache_lock);
	return 0;
}

/* Done with a base from zd_base_get. */
static void zd_base_put(struct img *img)
{
	pthread_mutex_lock(&zd_cache_lock);
	for (unsigned i = 0; i < ZD_CACHE; i++) {
		if (zd_cache[i].img == img) {
			zd_cache[i].users--;
			pthread_mutex_unlock(&zd_cache_lock);
			return;
		}
	}
	pthread_mutex_unlock(&zd_cache_lock);
	img_close(img);
}

void zdiff_cache_drop(void)
{
	pthread_mutex_lock(&zd_cache_lock);
	for (unsigned i = 0; i < ZD_CACHE; i++) {
		if (zd_cache[i].users == 0 && zd_cache[i].img) {
			img_close(zd_cache[i].img);
			zd_cache[i].img = NULL;
		}
	}
	pthread_mutex_unlock(&zd_cache_lock);
}

/* ---------------- public ---------------- */

/* Map and verify the served images; the delta must be one over this base. */
static int zd_open(struct zd *zd, const char *origin, const char *base_path,
		   const char *delta_path, struct zdiff_out *out)
{
	char err[XFR_ERR_MAX];
	int rc;

	memset(zd, 0, sizeof(*zd));
	memset(out, 0, sizeof(*out));
	zd->out = out;
	zd->origin_txt = origin;
	if (!origin || dname_from_text(origin, NULL, 0, zd->origin, &zd->origin_len) < 0) {
		zd_err(zd, "invalid zone name '%s'", origin ? origin : "");
		return PHAROS_EINVAL;
	}
	if (!(zd->wire = malloc(ZD_WIRE_MAX)))
		return PHAROS_ENOMEM;
	if ((rc = zd_base_get(base_path, &zd->base, err, sizeof(err))) < 0) {
		zd_err(zd, "base image %s: %s", base_path, err[0] ? err : pharos_strerror(rc));
		return rc;
	}
	if (zd->base->origin_len != zd->origin_len ||
	    memcmp(zd->base->origin, zd->origin, zd->origin_len) != 0 || img_is_delta(zd->base)) {
		zd_err(zd, "%s is not a full image of zone %s", base_path, origin);
		return PHAROS_EZONE;
	}
	zd->serial = zd->base->hdr->serial;
	if (!delta_path)
		return 0;
	if ((rc = img_open_file(delta_path, &zd->delta, err, sizeof(err))) < 0) {
		zd_err(zd, "delta image %s: %s", delta_path, err[0] ? err : pharos_strerror(rc));
		return rc;
	}
	if (!img_is_delta(zd->delta) || img_delta_check(zd->base, zd->delta, err,
							 sizeof(err)) < 0) {
		zd_err(zd, "%s: %s", delta_path, img_is_delta(zd->delta) ? err :
		       "not a delta image");
		return PHAROS_EZONE;
	}
	zd->serial = zd->delta->hdr->serial;
	return 0;
}

/* Release what zd holds; on failure (rc < 0) also the half-made output. Returns rc. */
static int zd_close(struct zd *zd, int rc)
{
	for (size_t i = 0; i < zd->nnodes; i++)
		free(zd->nodes[i].rrs);
	free(zd->nodes);
	free(zd->map);
	free(zd->arena);
	free(zd->wire);
	if (zd->base)
		zd_base_put(zd->base);
	img_close(zd->delta);
	if (rc < 0) {
		free(zd->out->img);
		zd->out->img = NULL;
		zd->out->len = 0;
	}
	return rc;
}

int zdiff_apply(const char *origin, const char *base_path, const char *delta_path,
		const struct xfr_diff *diffs, size_t ndiffs, struct zdiff_out *out)
{
	struct zd zd;
	int rc = zd_open(&zd, origin, base_path, delta_path, out);

	if (rc == 0 && ndiffs == 0) {
		zd_err(&zd, "IXFR with no difference sequence");
		rc = PHAROS_EZONE;
	}
	for (size_t i = 0; rc == 0 && i < ndiffs; i++)
		rc = zd_apply_one(&zd, &diffs[i]);
	if (rc == 0 && (rc = zd_delta(&zd)) == 1) {
		free(out->img);		/* a full image instead */
		out->img = NULL;
		rc = zd_full(&zd);
	}
	return zd_close(&zd, rc);
}

int zdiff_compact(const char *origin, const char *base_path, const char *delta_path,
		  struct zdiff_out *out)
{
	struct zd zd;
	int rc = zd_open(&zd, origin, base_path, delta_path, out);

	if (rc == 0)
		rc = zd_full(&zd);
	return zd_close(&zd, rc);
}
