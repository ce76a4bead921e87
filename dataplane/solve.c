/* Solving a query inside one zone: RFC 1034 4.3.2 (CNAME, referral, wildcard) with DNSSEC. */
#include <string.h>
#include "pharos/err.h"
#include "solve.h"

enum solve_state { S_DONE, S_FOLLOW };

int solve_put(struct solve *s, enum render_section sec, const uint8_t *owner,
	      size_t owner_len, const struct img_rrset *rs, uint32_t ttl)
{
	struct render_mark m = render_mark(&s->r, sec);
	int rc = render_rrset(&s->r, sec, owner, owner_len, rs->type, ttl,
			      solve_rdata(s, rs), rs->count);

	if (rc == 0 && s->dnssec && rs->sig_count) {
		/* a capped TTL (negative SOA) caps its signatures too */
		uint32_t sttl = ttl < rs->ttl && ttl < rs->sig_ttl ? ttl : rs->sig_ttl;
		rc = render_rrset(&s->r, sec, owner, owner_len, DNS_T_RRSIG, sttl,
				  solve_rimg(s, rs)->base + rs->sig_off, rs->sig_count);
		if (rc < 0 && sec == RENDER_AR)
			return 0;	/* additional data may go without its RRSIGs (Knot) */
		if (rc < 0)
			render_rollback(&s->r, &m, sec);
	}
	if (unlikely(rc < 0) && sec != RENDER_AR)
		s->tc = 1;
	return rc;
}

void solve_proof(struct solve *s, const uint8_t *owner, size_t owner_len,
		 const struct img_rrset *rs)
{
	for (unsigned i = 0; i < s->nproofs; i++)
		if (s->proofs[i].rs == rs)
			return;
	if (s->nproofs < PROOF_MAX)
		s->proofs[s->nproofs++] = (struct solve_proof){ owner, (uint8_t)owner_len, rs };
}

/* Apex SOA for negative answers, TTL = min(SOA TTL, MINIMUM) (RFC 2308 3). */
static void put_soa(struct solve *s)
{
	const struct img *top = solve_top(s);
	const struct img_rrset *soa = &top->rrsets[top->hdr->soa_rrset];
	const uint8_t *rd = img_rdata(top, soa);
	uint16_t rdlen = dns_get16(rd);
	uint32_t minimum = dns_get32(rd + 2 + rdlen - 4);
	uint32_t ttl = soa->ttl < minimum ? soa->ttl : minimum;

	solve_put(s, RENDER_NS, s->img->origin, s->img->origin_len, soa, ttl);
}

const struct img_name *solve_parent(const struct solve *s, const struct img_name *n)
{
	const uint8_t *w;
	size_t skip;

	if (!s->delta)
		return img_name_at(s->img, n->parent);
	if (n->flags & IMG_NAME_APEX)
		return NULL;
	w = solve_wire(s, n);
	skip = 1 + (size_t)w[0];
	return solve_find(s, w + skip, n->name_len - skip);
}

const struct img_name *solve_wildcard(const struct solve *s, const struct img_name *n)
{
	uint8_t wild[DNAME_MAX];

	if (!s->delta)
		return img_name_at(s->img, n->wildcard);
	if ((size_t)n->name_len + 2 > DNAME_MAX)
		return NULL;
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, solve_wire(s, n), n->name_len);
	return solve_find(s, wild, (size_t)n->name_len + 2);
}

/* Offset of the target name inside one RR's RDATA for types whose targets get A/AAAA. */
static int target_skip(uint16_t type)
{
	switch (type) {
	case DNS_T_NS: return 0;
	case DNS_T_MX: return 2;
	case DNS_T_SRV: return 6;
	default: return -1;
	}
}

static int already_added(struct solve *s, const struct img_name *n)
{
	for (unsigned i = 0; i < s->nadded; i++)
		if (s->added[i] == n)
			return 1;
	return 0;
}

/*
 * A and AAAA of one in-zone target name into the additional section. What does not fit
 * is left out (as Knot); if it was glue (below a cut) TC is set too, since a referral
 * needs all its in-domain glue (RFC 9471).
 */
static void add_target(struct solve *s, const uint8_t *target, size_t maxlen)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA };
	uint8_t lname[DNAME_MAX];
	size_t len = 0;

	while (len < maxlen && target[len] && len < DNAME_MAX)
		len += 1 + (size_t)target[len];
	if (len >= maxlen || len >= DNAME_MAX)
		return;
	len++;
	dname_lower_copy(lname, target, len);
	if (!dname_is_sub(lname, len, s->img->origin, s->img->origin_len))
		return;
	const struct img_name *n = solve_find(s, lname, len);
	if (!n || s->nadded >= ADD_MAX || already_added(s, n))
		return;
	s->added[s->nadded++] = n;
	for (unsigned i = 0; i < 2; i++) {
		const struct img_rrset *rs = solve_rrset(s, n, types[i]);
		if (rs && solve_put(s, RENDER_AR, solve_wire(s, n), n->name_len, rs,
				    rs->ttl) < 0 && (n->flags & IMG_NAME_UNDER_CUT))
			s->tc = 1;
	}
}

/* Queue additional-section processing for an RRset with NS/MX/SRV targets. */
static void add_targets(struct solve *s, const struct img_rrset *rs)
{
	if (target_skip(rs->type) >= 0 && s->nwant_add < ADD_MAX)
		s->want_add[s->nwant_add++] = rs;
}

/* A/AAAA of the in-zone targets of one RRset into the additional section. */
static void put_targets(struct solve *s, const struct img_rrset *rs)
{
	int skip = target_skip(rs->type);
	const uint8_t *p = solve_rdata(s, rs);

	for (uint16_t i = 0; i < rs->count; i++) {
		uint16_t rdlen = dns_get16(p);
		if (rdlen > skip)
			add_target(s, p + 2 + skip, rdlen - (size_t)skip);
		p += 2 + (size_t)rdlen;
	}
}

/* Zone cut nearest the apex at or above n (DS at the cut itself belongs to the parent). */
static const struct img_name *find_cut(const struct solve *s, const struct img_name *n,
				       int exact)
{
	const struct img_name *cut = NULL;

	if (!(n->flags & (IMG_NAME_DELEG | IMG_NAME_UNDER_CUT)))
		return NULL;
	if (exact && s->q->qtype == DNS_T_DS && !(n->flags & IMG_NAME_UNDER_CUT))
		return NULL;
	for (; n && !(n->flags & IMG_NAME_APEX); n = solve_parent(s, n))
		if ((n->flags & IMG_NAME_DELEG) &&
		    !(exact && s->q->qtype == DNS_T_DS && n->name_len == s->name_len))
			cut = n;
	return cut;
}

/* Referral: NS (+ DS or the proof of no DS) in authority, glue in additional. */
static void solve_referral(struct solve *s, const struct img_name *cut)
{
	const uint8_t *owner = solve_wire(s, cut);
	const struct img_rrset *ns = solve_rrset(s, cut, DNS_T_NS), *ds;

	if (s->r.count[RENDER_AN] == 0)
		s->aa = 0;
	if (!ns || solve_put(s, RENDER_NS, owner, cut->name_len, ns, ns->ttl) < 0)
		return;
	if (s->dnssec) {
		ds = solve_rrset(s, cut, DNS_T_DS);
		if (ds)
			solve_put(s, RENDER_NS, owner, cut->name_len, ds, ds->ttl);
		else
			denial_no_ds(s, cut);
	}
	add_targets(s, ns);
}

/* The name itself, or its closest encloser (*exact = 0). Never NULL inside the zone. */
static const struct img_name *find_name(const struct solve *s, int *exact)
{
	size_t off = 0;

	*exact = 1;
	while (s->name_len - off >= s->img->origin_len) {
		const uint8_t *n = s->name + off;
		size_t len = s->name_len - off;
		const struct img_name *hit = solve_find(s, n, len);
		if (hit)
			return hit;
		*exact = 0;
		off += 1 + (size_t)s->name[off];
	}
	return NULL;
}

/* 1 if the name was the owner of a CNAME already in the answer (a loop, as Knot sees it). */
static int cname_seen(const struct solve *s, const uint8_t *name, size_t len)
{
	for (unsigned i = 0; i < s->hops; i++)
		if (s->seen_len[i] == len && memcmp(s->seen[i], name, len) == 0)
			return 1;
	return 0;
}

/*
 * CNAME at the node: write it (owner: the current name, also for a wildcard) and make its
 * target the next name, or finish: target outside the zone, a loop, or 5 CNAMEs (Knot).
 */
static enum solve_state solve_cname(struct solve *s, const struct img_rrset *cname)
{
	const uint8_t *rd = solve_rdata(s, cname);
	uint16_t rdlen = dns_get16(rd);
	size_t tlen = 0;

	if (s->hops >= CNAME_HOPS_MAX ||
	    solve_put(s, RENDER_AN, s->owner, s->owner_len, cname, cname->ttl) < 0)
		return S_DONE;
	memcpy(s->seen[s->hops], s->name, s->name_len);
	s->seen_len[s->hops++] = (uint8_t)s->name_len;
	while (tlen < rdlen && rd[2 + tlen])
		tlen += 1 + (size_t)rd[2 + tlen];
	if (++tlen != rdlen)
		return S_DONE;
	dname_lower_copy(s->tname, rd + 2, tlen);
	if (!dname_is_sub(s->tname, tlen, s->img->origin, s->img->origin_len) ||
	    cname_seen(s, s->tname, tlen))
		return S_DONE;		/* out of zone (the resolver goes on) or a loop */
	s->owner = rd + 2;
	s->owner_len = tlen;
	s->name = s->tname;
	s->name_len = tlen;
	return S_FOLLOW;
}

/*
 * RFC 8482 minimal ANY, as Knot: the node's first RRset in type order (with its RRSIGs
 * under DO), over UDP and TCP alike. Returns NULL for a node with no data.
 */
static const struct img_rrset *any_rrset(const struct solve *s, const struct img_name *node)
{
	const struct img_rrset *rs = &solve_nimg(s, node)->rrsets[node->rrset_first];

	for (const struct img_rrset *end = rs + node->rrset_count; rs < end; rs++)
		if (rs->type != DNS_T_RRSIG)
			return rs;
	return NULL;
}

/* QTYPE RRSIG, as Knot: the signatures of the node's first signed RRset only. */
static int put_rrsig_query(struct solve *s, const struct img_name *node)
{
	const struct img *img = solve_nimg(s, node);
	const struct img_rrset *rs = &img->rrsets[node->rrset_first];

	for (const struct img_rrset *end = rs + node->rrset_count; rs < end; rs++) {
		if (rs->sig_count == 0)
			continue;
		if (render_rrset(&s->r, RENDER_AN, s->owner, s->owner_len, DNS_T_RRSIG,
				 rs->sig_ttl, img->base + rs->sig_off, rs->sig_count) < 0)
			s->tc = 1;
		return 1;
	}
	return 0;
}

/* Knot answers NODATA rather than the CNAME for these DNSSEC types. */
static int follows_cname(uint16_t qtype)
{
	return qtype != DNS_T_RRSIG && qtype != DNS_T_NSEC;
}

/* Positive data at the node for the query type; 0 if it has none. */
static int solve_data(struct solve *s, const struct img_name *node)
{
	uint16_t qtype = s->q->qtype;
	const struct img_rrset *rs;

	if (qtype == DNS_T_RRSIG)
		return put_rrsig_query(s, node);
	rs = qtype == DNS_T_ANY ? any_rrset(s, node) : solve_rrset(s, node, qtype);
	if (!rs)
		return 0;
	if (solve_put(s, RENDER_AN, s->owner, s->owner_len, rs, rs->ttl) == 0)
		add_targets(s, rs);
	return 1;
}

/*
 * The data at a node that exists, or at the wildcard standing in for the name (wild set,
 * ce = closest encloser).
 */
static enum solve_state solve_node(struct solve *s, const struct img_name *node,
				   const struct img_name *ce, int wild)
{
	const struct img_rrset *rs;

	if (solve_data(s, node)) {
		if (wild)
			denial_wildcard(s, ce);
		return S_DONE;
	}
	if ((node->flags & IMG_NAME_CNAME) && follows_cname(s->q->qtype) &&
	    (rs = solve_rrset(s, node, DNS_T_CNAME))) {
		if (wild)
			denial_wildcard(s, ce);
		return solve_cname(s, rs);
	}
	put_soa(s);			/* NODATA */
	if (wild)
		denial_wildcard_nodata(s, ce, node);
	else
		denial_nodata(s, node);
	return S_DONE;
}

/* The chain ends here: what was queued goes out, authority before additional. */
static void solve_flush(struct solve *s)
{
	for (unsigned i = 0; i < s->nproofs; i++) {
		const struct solve_proof *p = &s->proofs[i];
		if (solve_put(s, RENDER_NS, p->owner, p->owner_len, p->rs, p->rs->ttl) < 0)
			return;		/* TC: no additional either */
	}
	for (unsigned i = 0; i < s->nwant_add; i++)
		put_targets(s, s->want_add[i]);
}

static void solve_chain(struct solve *s)
{
	for (;;) {
		int exact;
		const struct img_name *n = find_name(s, &exact), *cut;

		if (unlikely(!n))
			return;
		if ((cut = find_cut(s, n, exact))) {
			solve_referral(s, cut);
			return;
		}
		if (exact) {
			if (solve_node(s, n, NULL, 0) == S_DONE)
				return;
			continue;
		}
		const struct img_name *wild = solve_wildcard(s, n);
		if (!wild) {
			s->rcode = DNS_R_NXDOMAIN;
			put_soa(s);
			denial_nxdomain(s, n);
			return;
		}
		if (solve_node(s, wild, n, 1) == S_DONE)
			return;
	}
}

void solve_zone(struct solve *s)
{
	s->hops = 0;
	s->nadded = 0;
	s->nproofs = 0;
	s->nwant_add = 0;
	solve_chain(s);
	if (!s->tc)
		solve_flush(s);
}
