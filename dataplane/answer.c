/* The answer engine: parse a query, find the zone, solve RFC 1034 4.3.2, render, EDNS, TC. */
#include <string.h>
#include "pharos/err.h"
#include "dns.h"
#include "dname.h"
#include "render.h"
#include "answer.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define OPT_LEN		11	/* an OPT RR without options */
#define CNAME_HOPS_MAX	8	/* distinct CNAMEs followed inside one zone */
#define ADD_MAX		16	/* additional-section names per response */

static uint16_t udp_max = ANSWER_UDP_MAX_DEFAULT;

void answer_set_udp_max(uint16_t size)
{
	udp_max = size < DNS_UDP_MIN ? DNS_UDP_MIN : size;
}

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
	uint16_t edns_payload;
	uint16_t edns_flags;
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
	const struct img_name *seen[CNAME_HOPS_MAX];
	unsigned hops;
	const struct img_name *added[ADD_MAX];
	unsigned nadded;
	uint8_t rcode;
	uint8_t aa;
	uint8_t tc;
};

enum solve_state { S_DONE, S_FOLLOW };

/* ---- query parsing ---- */

/* Skip one RR at *off; reports type/class/ttl-flags of an OPT. */
static int skip_rr(const uint8_t *p, size_t len, size_t *off, struct query *q, int in_ar)
{
	uint8_t name[DNAME_MAX];
	size_t nlen, end;

	if (dname_unpack(p, len, *off, name, &nlen, &end) < 0 || end + 10 > len)
		return PHAROS_EMALF;
	uint16_t type = dns_get16(p + end), rdlen = dns_get16(p + end + 8);
	if (end + 10 + rdlen > len)
		return PHAROS_EMALF;
	if (type == DNS_T_OPT) {
		if (!in_ar || q->edns || nlen != 1)
			return PHAROS_EMALF;	/* RFC 6891 6.1.1: one OPT, owner root */
		q->edns = 1;
		q->edns_payload = dns_get16(p + end + 2);
		q->edns_version = p[end + 5];
		q->edns_flags = dns_get16(p + end + 6);
	}
	*off = end + 10 + rdlen;
	return 0;
}

static int parse_records(const uint8_t *p, size_t len, size_t off, struct query *q)
{
	unsigned an = dns_get16(p + 6), ns = dns_get16(p + 8), ar = dns_get16(p + 10);

	for (unsigned i = 0; i < an + ns + ar; i++)
		if (skip_rr(p, len, &off, q, i >= an + ns) < 0)
			return PHAROS_EMALF;
	return off == len ? 0 : PHAROS_EMALF;
}

/* Returns an RCODE to answer with right away, or -1 to go on solving. */
static int parse_query(const uint8_t *p, size_t len, struct query *q)
{
	size_t off = DNS_HDR_LEN;

	memcpy(q->hdr, p, DNS_HDR_LEN);
	q->have_question = 0;
	q->edns = 0;
	q->lname[0] = 0;
	if (dns_get16(p + 4) != 1)
		return DNS_R_FORMERR;
	if (dname_parse(p, len, off, q->qname, &q->qname_len) < 0 ||
	    off + q->qname_len + 4 > len)
		return DNS_R_FORMERR;
	off += q->qname_len;
	q->qtype = dns_get16(p + off);
	q->qclass = dns_get16(p + off + 2);
	q->have_question = 1;
	dname_lower_copy(q->lname, q->qname, q->qname_len);
	if (parse_records(p, len, off + 4, q) < 0) {
		q->edns = 0;		/* a broken OPT is not echoed (as Knot) */
		return DNS_R_FORMERR;
	}
	uint8_t opcode = (p[2] >> 3) & 0xF;
	if (opcode == DNS_OP_NOTIFY)
		return DNS_R_NOTAUTH;	/* not a secondary here yet: as Knot for a non-slave zone */
	if (opcode != DNS_OP_QUERY)
		return DNS_R_NOTIMP;
	if (q->edns && q->edns_version != 0)
		return DNS_R_BADVERS;
	if (q->qclass != DNS_C_IN)
		return DNS_R_REFUSED;
	if (q->qtype == 0)
		return DNS_R_NOTIMP;	/* as Knot */
	return -1;
}

/* ---- response start ---- */

/* Header + question; returns the length written. */
static size_t write_head(const struct query *q, uint8_t *out)
{
	memcpy(out, q->hdr, DNS_HDR_LEN);
	out[2] = (uint8_t)(DNS_F2_QR | (q->hdr[2] & (0x78 | DNS_F2_RD)));
	out[3] = (uint8_t)(q->hdr[3] & DNS_F3_CD);
	memset(out + 4, 0, 8);
	if (!q->have_question)
		return DNS_HDR_LEN;
	dns_put16(out + 4, 1);
	memcpy(out + DNS_HDR_LEN, q->qname, q->qname_len);
	dns_put16(out + DNS_HDR_LEN + q->qname_len, q->qtype);
	dns_put16(out + DNS_HDR_LEN + q->qname_len + 2, q->qclass);
	return DNS_HDR_LEN + q->qname_len + 4;
}

/* Biggest response allowed for this query (RFC 6891 6.2.5; 512 without EDNS). */
static size_t size_limit(const struct query *q, enum answer_proto proto, size_t outcap)
{
	size_t lim;

	if (proto == ANSWER_TCP)
		lim = 65535;
	else if (!q->edns)
		lim = DNS_UDP_MIN;
	else
		lim = q->edns_payload < DNS_UDP_MIN ? DNS_UDP_MIN :
		      q->edns_payload > udp_max ? udp_max : q->edns_payload;
	return lim < outcap ? lim : outcap;
}

/* ---- solving inside one zone ---- */

/* RRset into a section; on no room sets TC and returns PHAROS_ESPACE. */
static int put_set(struct solve *s, enum render_section sec, const uint8_t *owner,
		   size_t owner_len, const struct img_rrset *rs, uint32_t ttl)
{
	int rc = render_rrset(&s->r, sec, owner, owner_len, rs->type, ttl,
			      img_rdata(s->img, rs), rs->count);
	if (unlikely(rc < 0) && sec != RENDER_AR)
		s->tc = 1;
	return rc;
}

/* Apex SOA for negative answers, TTL = min(SOA TTL, MINIMUM) (RFC 2308 3). */
static void put_soa(struct solve *s)
{
	const struct img_rrset *soa = &s->img->rrsets[s->img->hdr->soa_rrset];
	const uint8_t *rd = img_rdata(s->img, soa);
	uint16_t rdlen = dns_get16(rd);
	uint32_t minimum = dns_get32(rd + 2 + rdlen - 4);
	uint32_t ttl = soa->ttl < minimum ? soa->ttl : minimum;

	put_set(s, RENDER_NS, s->img->origin, s->img->origin_len, soa, ttl);
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

/* A and AAAA of one in-zone target name into the additional section, if room. */
static void add_target(struct solve *s, const uint8_t *target, size_t maxlen)
{
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
	const struct img_name *n = img_find(s->img, lname, len, img_hash(lname, len));
	if (!n || s->nadded >= ADD_MAX || already_added(s, n))
		return;
	s->added[s->nadded++] = n;
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA };
	for (unsigned i = 0; i < 2; i++) {
		const struct img_rrset *rs = img_rrset(s->img, n, types[i]);
		if (rs)
			put_set(s, RENDER_AR, img_name_wire(s->img, n), n->name_len, rs, rs->ttl);
	}
}

/* Additional-section processing for the NS/MX/SRV targets of one RRset. */
static void add_targets(struct solve *s, const struct img_rrset *rs)
{
	int skip = target_skip(rs->type);
	const uint8_t *p = img_rdata(s->img, rs);

	if (skip < 0)
		return;
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
	for (; n && n->parent != IMG_NONE; n = img_name_at(s->img, n->parent))
		if ((n->flags & IMG_NAME_DELEG) &&
		    !(exact && s->q->qtype == DNS_T_DS && n->name_len == s->name_len))
			cut = n;
	return cut;
}

static void solve_referral(struct solve *s, const struct img_name *cut)
{
	const struct img_rrset *ns = img_rrset(s->img, cut, DNS_T_NS);

	if (s->r.count[RENDER_AN] == 0)
		s->aa = 0;
	if (!ns || put_set(s, RENDER_NS, img_name_wire(s->img, cut), cut->name_len, ns,
			   ns->ttl) < 0)
		return;
	add_targets(s, ns);
}

/* The name itself, or its closest encloser (*exact = 0). Never NULL inside the zone. */
static const struct img_name *find_name(const struct solve *s, int *exact)
{
	const struct img *img = s->img;
	size_t off = 0;

	*exact = 1;
	while (s->name_len - off >= img->origin_len) {
		const uint8_t *n = s->name + off;
		size_t len = s->name_len - off;
		const struct img_name *hit = img_find(img, n, len, img_hash(n, len));
		if (hit)
			return hit;
		*exact = 0;
		off += 1 + (size_t)s->name[off];
	}
	return NULL;
}

/* CNAME at the node: write it and set the target as the next name, or finish. */
static enum solve_state solve_cname(struct solve *s, const struct img_name *node,
				    const struct img_rrset *cname)
{
	const uint8_t *rd = img_rdata(s->img, cname);
	uint16_t rdlen = dns_get16(rd);
	size_t tlen = 0;

	for (unsigned i = 0; i < s->hops; i++)
		if (s->seen[i] == node)
			return S_DONE;		/* loop: stop with what we have */
	if (s->hops >= CNAME_HOPS_MAX ||
	    put_set(s, RENDER_AN, s->owner, s->owner_len, cname, cname->ttl) < 0)
		return S_DONE;
	s->seen[s->hops++] = node;
	while (tlen < rdlen && rd[2 + tlen])
		tlen += 1 + (size_t)rd[2 + tlen];
	if (++tlen != rdlen)
		return S_DONE;
	dname_lower_copy(s->tname, rd + 2, tlen);
	if (!dname_is_sub(s->tname, tlen, s->img->origin, s->img->origin_len))
		return S_DONE;		/* out of zone: the resolver goes on from here */
	s->owner = rd + 2;
	s->owner_len = tlen;
	s->name = s->tname;
	s->name_len = tlen;
	return S_FOLLOW;
}

/* The data at a node that exists (or a wildcard standing in for the name). */
static enum solve_state solve_node(struct solve *s, const struct img_name *node)
{
	const struct img_rrset *rs, *end;
	uint16_t qtype = s->q->qtype;

	if (qtype == DNS_T_ANY && node->rrset_count > 0) {
		rs = &s->img->rrsets[node->rrset_first];
		for (end = rs + node->rrset_count; rs < end; rs++)
			if (rs->type != DNS_T_RRSIG &&
			    put_set(s, RENDER_AN, s->owner, s->owner_len, rs, rs->ttl) < 0)
				return S_DONE;
		return S_DONE;
	}
	rs = img_rrset(s->img, node, qtype);
	if (rs) {
		if (put_set(s, RENDER_AN, s->owner, s->owner_len, rs, rs->ttl) == 0)
			add_targets(s, rs);
		return S_DONE;
	}
	if ((node->flags & IMG_NAME_CNAME) && (rs = img_rrset(s->img, node, DNS_T_CNAME)))
		return solve_cname(s, node, rs);
	put_soa(s);			/* NODATA */
	return S_DONE;
}

static void solve_zone(struct solve *s)
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
		if (!exact) {
			if (n->wildcard == IMG_NONE) {
				s->rcode = DNS_R_NXDOMAIN;
				put_soa(s);
				return;
			}
			n = img_name_at(s->img, n->wildcard);
		}
		if (solve_node(s, n) == S_DONE)
			return;
	}
}

/* ---- top level ---- */

static size_t finish(struct solve *s, const struct query *q, size_t cap, struct answer_info *info)
{
	uint8_t *out = s->r.buf;
	uint8_t ext = 0, rcode = s->rcode;

	if (rcode > 15) {
		ext = (uint8_t)(rcode >> 4);
		rcode &= 0xF;
	}
	out[2] = (uint8_t)(out[2] | (s->aa ? DNS_F2_AA : 0) | (s->tc ? DNS_F2_TC : 0));
	out[3] = (uint8_t)(out[3] | rcode);
	if (q->edns)
		render_opt(&s->r, cap, udp_max, ext, q->edns_flags & DNS_EDNS_DO);
	render_finish(&s->r);
	info->rcode = s->rcode;
	info->tc = s->tc;
	return s->r.len;
}

size_t answer_query(const struct snapshot *snap, const uint8_t *qbuf, size_t qlen, uint8_t *out,
		    size_t outcap, enum answer_proto proto, struct answer_info *info)
{
	struct query q;
	struct solve s;

	memset(info, 0, sizeof(*info));
	if (unlikely(qlen < DNS_HDR_LEN || (qbuf[2] & DNS_F2_QR) || outcap < DNS_UDP_MIN)) {
		info->dropped = 1;
		return 0;
	}
	int early = parse_query(qbuf, qlen, &q);
	size_t cap = size_limit(&q, proto, outcap);
	size_t head = write_head(&q, out);

	s.q = &q;
	s.rcode = DNS_R_NOERROR;
	s.aa = 0;
	s.tc = 0;
	render_init(&s.r, out, head, cap - (q.edns ? OPT_LEN : 0), q.lname,
		    q.have_question ? q.qname_len : 1);	/* no question: lname is "." */
	if (early >= 0) {
		s.rcode = (uint8_t)early;
		return finish(&s, &q, cap, info);
	}
	const struct snap_zone *z = snap ? snap_find(snap, q.lname, q.qname_len) : NULL;
	if (!z) {
		s.rcode = DNS_R_REFUSED;
		return finish(&s, &q, cap, info);
	}
	s.img = z->img;
	s.aa = 1;
	s.owner = q.qname;
	s.owner_len = q.qname_len;
	s.name = q.lname;
	s.name_len = q.qname_len;
	s.hops = 0;
	s.nadded = 0;
	solve_zone(&s);
	return finish(&s, &q, cap, info);
}
