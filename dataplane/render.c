/* Response writer: appends RRsets with RFC 1035 name compression, all-or-nothing per RRset. */
#include <string.h>
#include "pharos/err.h"
#include "dns.h"
#include "render.h"

void render_init(struct render *r, uint8_t *buf, size_t len, size_t limit,
		 const uint8_t *qname, size_t qname_len)
{
	r->buf = buf;
	r->len = len;
	r->limit = limit;
	r->count[0] = r->count[1] = r->count[2] = 0;
	r->ncomp = 0;
	/* every suffix of the question name can be pointed at */
	for (size_t off = 0; qname[off] && r->ncomp < RENDER_COMP_MAX; off += 1 + qname[off])
		r->comp[r->ncomp++] = (struct render_comp){ qname + off, (uint16_t)(DNS_HDR_LEN + off),
							    (uint8_t)(qname_len - off) };
}

/*
 * Wire names compare case-insensitively byte by byte: length octets are <= 63 and so never
 * fall in 'A'..'Z'. Not strncasecmp: labels may hold NUL bytes.
 */
static int wire_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t x = a[i], y = b[i];
		if (x != y && ((x | 0x20) != (y | 0x20) || (uint8_t)((x | 0x20) - 'a') > 25))
			return 0;
	}
	return 1;
}

static int comp_find(const struct render *r, const uint8_t *s, size_t len)
{
	for (unsigned i = 0; i < r->ncomp; i++) {
		const struct render_comp *c = &r->comp[i];
		if (c->len == len && wire_eq(c->name, s, len))
			return c->off;
	}
	return -1;
}

/*
 * Write a name, pointing at the longest suffix already in the packet. With literal set
 * (RDATA that must not be compressed, e.g. the SRV target of RFC 2782) the name is written
 * whole, but later names may still point into it.
 */
static int put_name_as(struct render *r, const uint8_t *name, size_t len, int literal)
{
	size_t off = 0;

	while (name[off]) {
		int ptr = literal ? -1 : comp_find(r, name + off, len - off);
		if (ptr >= 0) {
			if (r->len + 2 > r->limit)
				return PHAROS_ESPACE;
			dns_put16(r->buf + r->len, (uint16_t)(0xC000 | ptr));
			r->len += 2;
			return 0;
		}
		size_t ll = 1 + (size_t)name[off];
		if (r->len + ll > r->limit)
			return PHAROS_ESPACE;
		if (r->len < 0x4000 && r->ncomp < RENDER_COMP_MAX)
			r->comp[r->ncomp++] = (struct render_comp){ name + off, (uint16_t)r->len,
								    (uint8_t)(len - off) };
		memcpy(r->buf + r->len, name + off, ll);
		r->len += ll;
		off += ll;
	}
	if (r->len + 1 > r->limit)
		return PHAROS_ESPACE;
	r->buf[r->len++] = 0;
	return 0;
}

static int put_name(struct render *r, const uint8_t *name, size_t len)
{
	return put_name_as(r, name, len, 0);
}

/* Length of the uncompressed name at p within max bytes, or 0 if it is not a valid one. */
static size_t name_len_in(const uint8_t *p, size_t max)
{
	size_t off = 0;

	while (off < max && off < 255) {
		uint8_t l = p[off];
		if (l == 0)
			return off + 1;
		if (l > 63)
			return 0;
		off += 1 + (size_t)l;
	}
	return 0;
}

/* Copy bytes of RDATA that are not names. */
static int put_raw(struct render *r, const uint8_t *p, size_t n)
{
	if (r->len + n > r->limit)
		return PHAROS_ESPACE;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/*
 * RDATA with its names compressed where RFC 3597 allows it (the RFC 1035 types); the SRV
 * target is written whole but remembered, so additional records can point at it.
 */
static int put_rdata(struct render *r, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
	size_t skip = 0, n1, n2;

	switch (type) {
	case DNS_T_SRV:
		n1 = rdlen > 6 ? name_len_in(rd + 6, rdlen - 6) : 0;
		if (n1 == 0 || 6 + n1 != rdlen)
			break;
		if (put_raw(r, rd, 6) < 0)
			return PHAROS_ESPACE;
		return put_name_as(r, rd + 6, n1, 1);
	case DNS_T_MX:
		skip = 2;
		/* fall through */
	case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR:
		n1 = rdlen > skip ? name_len_in(rd + skip, rdlen - skip) : 0;
		if (n1 == 0 || skip + n1 != rdlen)
			break;
		if (put_raw(r, rd, skip) < 0)
			return PHAROS_ESPACE;
		return put_name(r, rd + skip, n1);
	case DNS_T_SOA:
		n1 = name_len_in(rd, rdlen);
		n2 = n1 ? name_len_in(rd + n1, rdlen - n1) : 0;
		if (n2 == 0 || n1 + n2 + 20 != rdlen)
			break;
		if (put_name(r, rd, n1) < 0 || put_name(r, rd + n1, n2) < 0)
			return PHAROS_ESPACE;
		return put_raw(r, rd + n1 + n2, 20);
	}
	return put_raw(r, rd, rdlen);
}

static int put_rr(struct render *r, const uint8_t *owner, size_t owner_len, uint16_t type,
		  uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	if (put_name(r, owner, owner_len) < 0 || r->len + 10 > r->limit)
		return PHAROS_ESPACE;
	uint8_t *p = r->buf + r->len;
	dns_put16(p, type);
	dns_put16(p + 2, DNS_C_IN);
	dns_put32(p + 4, ttl);
	r->len += 10;
	size_t start = r->len;
	if (put_rdata(r, type, rd, rdlen) < 0)
		return PHAROS_ESPACE;
	dns_put16(p + 8, (uint16_t)(r->len - start));
	return 0;
}

int render_rrset(struct render *r, enum render_section sec, const uint8_t *owner,
		 size_t owner_len, uint16_t type, uint32_t ttl, const uint8_t *rdata,
		 uint16_t count)
{
	size_t len0 = r->len;
	uint8_t ncomp0 = r->ncomp;

	for (uint16_t i = 0; i < count; i++) {
		uint16_t rdlen = dns_get16(rdata);
		if (put_rr(r, owner, owner_len, type, ttl, rdata + 2, rdlen) < 0) {
			r->len = len0;
			r->ncomp = ncomp0;
			return PHAROS_ESPACE;
		}
		rdata += 2 + (size_t)rdlen;
	}
	r->count[sec] = (uint16_t)(r->count[sec] + count);
	return 0;
}

int render_opt(struct render *r, size_t cap, uint16_t payload, uint8_t ext_rcode,
	       uint16_t flags, const uint8_t *opts, size_t optlen)
{
	if (r->len + 11 + optlen > cap)
		return PHAROS_ESPACE;
	uint8_t *p = r->buf + r->len;
	p[0] = 0;			/* owner: root */
	dns_put16(p + 1, DNS_T_OPT);
	dns_put16(p + 3, payload);
	p[5] = ext_rcode;
	p[6] = 0;			/* version */
	dns_put16(p + 7, flags);
	dns_put16(p + 9, (uint16_t)optlen);
	memcpy(p + 11, opts, optlen);
	r->len += 11 + optlen;
	r->count[RENDER_AR]++;
	return 0;
}

void render_finish(struct render *r)
{
	dns_put16(r->buf + 6, r->count[RENDER_AN]);
	dns_put16(r->buf + 8, r->count[RENDER_NS]);
	dns_put16(r->buf + 10, r->count[RENDER_AR]);
}
