/* The answer engine: parse a query, pick the zone, solve it, identity (CH, NSID), EDNS, TC. */
#include <string.h>
#include "pharos/err.h"
#include "answer.h"
#include "solve.h"

#define OPT_LEN		11	/* an OPT RR without options */
#define EDNS_NSID	3	/* RFC 5001 option code */
#define EDNS_EDE	15	/* RFC 8914 Extended DNS Error */
#define EDE_NOT_AUTH	20	/* "Not Authoritative": a name in no zone of ours, as Knot */
#define EDE_INV_DATA	24	/* "Invalid Data": an expired zone's SERVFAIL, as Knot */
#define EDE_LEN		6	/* the option with its 2-byte INFO-CODE, no text */
#define IDENT_MAX	255	/* one TXT string / NSID payload */

static uint16_t udp_max = ANSWER_UDP_MAX_DEFAULT;

/* Identity strings, set once at start-up (empty + hidden = not answered). */
static struct ident {
	uint8_t nsid[IDENT_MAX];
	uint8_t nsid_len;
	uint8_t id[IDENT_MAX], id_len, id_on;
	uint8_t version[IDENT_MAX], version_len, version_on;
} ident;

void answer_set_udp_max(uint16_t size)
{
	udp_max = size < DNS_UDP_MIN ? DNS_UDP_MIN : size;
}

static void ident_copy(uint8_t *dst, uint8_t *len, const char *src)
{
	size_t n = strlen(src);

	*len = (uint8_t)(n > IDENT_MAX ? IDENT_MAX : n);
	memcpy(dst, src, *len);
}

void answer_set_ident(const char *nsid, const char *id, const char *version)
{
	memset(&ident, 0, sizeof(ident));
	if (nsid)
		ident_copy(ident.nsid, &ident.nsid_len, nsid);
	if ((ident.id_on = id != NULL && *id))		/* "": hidden, as Knot */
		ident_copy(ident.id, &ident.id_len, id);
	if ((ident.version_on = version != NULL && *version))
		ident_copy(ident.version, &ident.version_len, version);
}

/* ---- query parsing ---- */

/* EDNS options: NSID noted, unknown ones ignored (RFC 6891 6.1.2); overruns are FORMERR. */
static int parse_options(const uint8_t *p, size_t len, struct query *q)
{
	size_t off = 0;

	while (off < len) {
		if (off + 4 > len)
			return PHAROS_EMALF;
		uint16_t code = dns_get16(p + off), olen = dns_get16(p + off + 2);
		if (off + 4 + olen > len)
			return PHAROS_EMALF;
		q->nsid |= code == EDNS_NSID;
		off += 4 + (size_t)olen;
	}
	return 0;
}

/* Skip one RR at *off; reports type/class/ttl-flags of an OPT. */
static int skip_rr(const uint8_t *p, size_t len, size_t *off, struct query *q, int in_ar,
		   int last)
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
		if (parse_options(p + end + 10, rdlen, q) < 0)
			return PHAROS_EMALF;
	} else if (type == DNS_T_TSIG) {
		if (!last || tsig_parse(p, len, end + 10, rdlen, name, nlen, &q->tsig_req) < 0)
			return PHAROS_EMALF;	/* RFC 8945 5.1: TSIG is the last record */
		q->tsig = 1;
	}
	*off = end + 10 + rdlen;
	return 0;
}

static int parse_records(const uint8_t *p, size_t len, size_t off, struct query *q)
{
	unsigned an = dns_get16(p + 6), ns = dns_get16(p + 8), ar = dns_get16(p + 10);

	for (unsigned i = 0; i < an + ns + ar; i++)
		if (skip_rr(p, len, &off, q, i >= an + ns, i + 1 == an + ns + ar) < 0)
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
	q->nsid = 0;
	q->tsig = 0;
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
		q->tsig = 0;
		return DNS_R_FORMERR;
	}
	if (q->tsig)
		return DNS_R_NOTAUTH;	/* no TSIG keys here yet: BADKEY, as Knot */
	uint8_t opcode = (p[2] >> 3) & 0xF;
	if (opcode == DNS_OP_NOTIFY)
		return DNS_R_NOTAUTH;	/* not a secondary here yet: as Knot for a non-slave zone */
	if (opcode != DNS_OP_QUERY)
		return DNS_R_NOTIMP;
	if (q->edns && q->edns_version != 0)
		return DNS_R_BADVERS;
	if (q->qclass != DNS_C_IN && q->qclass != DNS_C_CH)
		return DNS_R_REFUSED;
	if (q->qtype == 0)
		return DNS_R_NOTIMP;	/* as Knot */
	if (q->qtype == DNS_T_AXFR || q->qtype == DNS_T_IXFR)
		return DNS_R_REFUSED;	/* no transfer ACL yet (Knot: NOTAUTH) */
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

/* ---- top level ---- */

static const uint8_t name_id_server[] = "\2id\6server";
static const uint8_t name_hostname_bind[] = "\10hostname\4bind";
static const uint8_t name_version_server[] = "\7version\6server";
static const uint8_t name_version_bind[] = "\7version\4bind";

static int name_is(const struct query *q, const uint8_t *n, size_t size)
{
	return q->qname_len == size && memcmp(q->lname, n, size) == 0;
}

/*
 * CHAOS TXT identity (id.server, hostname.bind, version.server, version.bind), TTL 0, as
 * Knot. Anything else in class CH, or an identity the operator hid, is REFUSED.
 */
static void solve_chaos(struct solve *s)
{
	const struct query *q = s->q;
	const uint8_t *txt = NULL;
	uint8_t len = 0;

	if (name_is(q, name_id_server, sizeof(name_id_server)) ||
	    name_is(q, name_hostname_bind, sizeof(name_hostname_bind))) {
		txt = ident.id_on ? ident.id : NULL;
		len = ident.id_len;
	} else if (name_is(q, name_version_server, sizeof(name_version_server)) ||
		   name_is(q, name_version_bind, sizeof(name_version_bind))) {
		txt = ident.version_on ? ident.version : NULL;
		len = ident.version_len;
	}
	if (!txt || q->qtype != DNS_T_TXT) {	/* ANY too is REFUSED, as Knot */
		s->rcode = DNS_R_REFUSED;
		return;
	}
	uint8_t *p = s->r.buf + s->r.len;
	if (s->r.len + 12 + 1 + (size_t)len > s->r.limit) {
		s->tc = 1;
		return;
	}
	dns_put16(p, 0xC000 | DNS_HDR_LEN);	/* owner: the question name */
	dns_put16(p + 2, DNS_T_TXT);
	dns_put16(p + 4, DNS_C_CH);
	dns_put32(p + 6, 0);
	dns_put16(p + 10, (uint16_t)(len + 1));
	p[12] = len;
	memcpy(p + 13, txt, len);
	s->r.len += 13 + (size_t)len;
	s->r.count[RENDER_AN] = 1;	/* AA clear: not zone data (Knot and NSD too) */
}

/* Room the OPT RR and an error TSIG RR will need at the end. */
static size_t opt_room(const struct query *q)
{
	size_t tsig = q->tsig ? tsig_error_size(&q->tsig_req) : 0;

	if (!q->edns)
		return tsig;
	return tsig + OPT_LEN + EDE_LEN +
	       (q->nsid && ident.nsid_len ? 4 + (size_t)ident.nsid_len : 0);
}

/* EDNS options of the response: NSID when asked, EDE (0: none). */
static size_t opt_options(const struct query *q, uint16_t ede, uint8_t *buf)
{
	size_t n = 0;

	if (q->nsid && ident.nsid_len) {
		dns_put16(buf, EDNS_NSID);
		dns_put16(buf + 2, ident.nsid_len);
		memcpy(buf + 4, ident.nsid, ident.nsid_len);
		n = 4 + (size_t)ident.nsid_len;
	}
	if (ede) {
		dns_put16(buf + n, EDNS_EDE);
		dns_put16(buf + n + 2, 2);
		dns_put16(buf + n + 4, ede);
		n += EDE_LEN;
	}
	return n;
}

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
	if (q->edns) {
		uint8_t opts[4 + IDENT_MAX + EDE_LEN];
		uint16_t ede = s->not_auth ? EDE_NOT_AUTH : info->expired ? EDE_INV_DATA : 0;
		render_opt(&s->r, cap, udp_max, ext, q->edns_flags & DNS_EDNS_DO, opts,
			   opt_options(q, ede, opts));
	}
	if (q->tsig) {		/* last record of the response (RFC 8945 5.3.2) */
		size_t n = tsig_write_error(out + s->r.len, cap - s->r.len, &q->tsig_req,
					    TSIG_BADKEY);
		s->r.len += n;
		s->r.count[RENDER_AR] = (uint16_t)(s->r.count[RENDER_AR] + (n > 0));
	}
	render_finish(&s->r);
	info->rcode = s->rcode;
	info->tc = s->tc;
	return s->r.len;
}

/*
 * The zone to answer from: longest suffix match, except that a DS query for a zone's apex
 * belongs to the parent zone when we serve it too (RFC 4035 3.1.4.1).
 */
static const struct snap_zone *pick_zone(const struct snapshot *snap, const struct query *q)
{
	const struct snap_zone *z = snap ? snap_find(snap, q->lname, q->qname_len) : NULL;

	if (z && q->qtype == DNS_T_DS && z->origin_len == q->qname_len && q->qname_len > 1) {
		size_t skip = 1 + (size_t)q->lname[0];
		const struct snap_zone *parent = snap_find(snap, q->lname + skip,
							   q->qname_len - skip);
		if (parent)
			return parent;
	}
	return z;
}

void answer_warm(const struct snapshot *snap, const uint8_t *qbuf, size_t qlen,
		 struct img_warm *w)
{
	uint8_t name[DNAME_MAX], lname[DNAME_MAX];
	size_t len;
	const struct snap_zone *z;

	w->img = NULL;
	w->at = NULL;
	if (qlen < DNS_HDR_LEN || dname_parse(qbuf, qlen, DNS_HDR_LEN, name, &len) < 0 ||
	    DNS_HDR_LEN + len + 2 > qlen)
		return;
	dname_lower_copy(lname, name, len);
	z = snap ? snap_find(snap, lname, len) : NULL;
	if (z)		/* the base: a delta is small, and most names are not in it */
		img_warm_start(w, z->img, lname, len, dns_get16(qbuf + DNS_HDR_LEN + len));
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
	s.not_auth = 0;
	size_t room = opt_room(&q);
	render_init(&s.r, out, head, cap > head + room ? cap - room : head, q.lname,
		    q.have_question ? q.qname_len : 1);	/* no question: lname is "." */
	if (early >= 0) {
		s.rcode = (uint8_t)early;
		return finish(&s, &q, cap, info);
	}
	if (q.qclass == DNS_C_CH) {
		solve_chaos(&s);
		return finish(&s, &q, cap, info);
	}
	const struct snap_zone *z = pick_zone(snap, &q);
	if (!z) {
		s.rcode = DNS_R_REFUSED;
		s.not_auth = 1;
		return finish(&s, &q, cap, info);
	}
	if (unlikely(z->flags & SNAP_ZONE_EXPIRED)) {	/* RFC 1035 4.3.5: expired */
		s.rcode = DNS_R_SERVFAIL;
		info->expired = 1;
		return finish(&s, &q, cap, info);
	}
	s.img = z->img;
	s.delta = z->delta;
	s.aa = 1;
	s.owner = q.qname;
	s.owner_len = q.qname_len;
	s.name = q.lname;
	s.name_len = q.qname_len;
	s.dnssec = q.edns && (q.edns_flags & DNS_EDNS_DO);
	solve_zone(&s);
	return finish(&s, &q, cap, info);
}
