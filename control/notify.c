/* NOTIFY (RFC 1996) in pharos-control: parse, ACL by prefix and key, answer as Knot does. */
#include "notify.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pharos/err.h"
#include "dname.h"
#include "dns.h"
#include "tsig.h"

/* What the request holds, once parsed. */
struct nt_req {
	const uint8_t *q;
	size_t len;
	size_t qend;			/* end of the question */
	uint8_t qname[DNAME_MAX];
	size_t qname_len;
	uint16_t qtype, qclass;
	int signed_;			/* has a TSIG RR */
	struct tsigkey_rr tsig;
};

static void nt_why(struct notify_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nt_why(struct notify_event *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->why, sizeof(ev->why), fmt, ap);
	va_end(ap);
}

/* Response header and question; ARCOUNT 0. Returns its length. */
static size_t nt_head(const struct nt_req *r, uint8_t *resp, unsigned rcode)
{
	memcpy(resp, r->q, DNS_HDR_LEN);
	/* QR, opcode NOTIFY, RD echoed; AA clear, as Knot */
	resp[2] = (uint8_t)(DNS_F2_QR | (DNS_OP_NOTIFY << 3) | (r->q[2] & DNS_F2_RD));
	resp[3] = (uint8_t)rcode;
	dns_put16(resp + 4, r->qend ? 1 : 0);
	memset(resp + 6, 0, 6);
	if (!r->qend)
		return DNS_HDR_LEN;
	memcpy(resp + DNS_HDR_LEN, r->q + DNS_HDR_LEN, r->qend - DNS_HDR_LEN);
	return r->qend;
}

/* An error answer, with the unsigned TSIG of RFC 8945 5.3.2 when tsig_error != 0. */
static int nt_error(const struct nt_req *r, unsigned rcode, uint16_t tsig_error,
		    uint8_t *resp, size_t cap, size_t *resplen)
{
	size_t n;

	if (cap < r->qend || cap < DNS_HDR_LEN)
		return PHAROS_ESPACE;
	n = nt_head(r, resp, rcode);
	if (tsig_error) {
		struct tsig_req t = { .key_len = (uint8_t)r->tsig.key_len,
				      .alg_len = (uint8_t)r->tsig.alg_len,
				      .fudge = r->tsig.fudge, .orig_id = dns_get16(r->q) };
		memcpy(t.key, r->tsig.key, r->tsig.key_len);
		memcpy(t.alg, r->tsig.alg, r->tsig.alg_len);
		dns_put16(t.time_signed, (uint16_t)(r->tsig.time >> 32));
		dns_put32(t.time_signed + 2, (uint32_t)r->tsig.time);
		size_t w = tsig_write_error(resp + n, cap - n, &t, tsig_error);
		if (w == 0)
			return PHAROS_ESPACE;
		dns_put16(resp + 10, 1);
		n += w;
	}
	*resplen = n;
	return 0;
}

/*
 * The request's MAC verified but its time is refused: NOTAUTH + BADTIME signed with the
 * key, our clock in Other Data (RFC 8945 5.2.3, as Knot), so the sender can trust the
 * answer and see how far off its clock is. BADSIG and BADKEY stay unsigned (5.3.2):
 * there the request's MAC cannot be trusted.
 */
static int nt_badtime(const struct nt_req *r, const struct tsig_key *k,
		      const struct tsigkey_rr *t, uint64_t now, uint8_t *resp, size_t cap,
		      size_t *resplen)
{
	int rc;

	if ((rc = nt_error(r, DNS_R_NOTAUTH, 0, resp, cap, resplen)) < 0)
		return rc;
	return tsigkey_sign_badtime(k, resp, resplen, cap, t, now, NULL, NULL);
}

/* The time is outside the request's fudge: BADTIME, and by how much in ev->why. */
static int nt_badtime_fudge(const struct nt_req *r, const struct tsig_key *k,
			    const struct tsigkey_rr *t, uint8_t *resp, size_t cap,
			    size_t *resplen, struct notify_event *ev)
{
	uint64_t now = (uint64_t)time(NULL);
	uint64_t off = now > t->time ? now - t->time : t->time - now;

	nt_why(ev, "TSIG of key %s wrong (BADTIME: the sender's clock is %llu s %s ours)",
	       k->name, (unsigned long long)off, t->time < now ? "behind" : "ahead of");
	return nt_badtime(r, k, t, now, resp, cap, resplen);
}

/* ---- replay state (RFC 8945 5.2.3) ---- */

void notify_seen_free(struct notify_seen *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

/*
 * The entry of (k, zone), NULL if no NOTIFY for zone signed with k was accepted yet. A
 * linear walk: NOTIFYs are rare, and one entry per secondary zone and key at the most.
 */
static struct notify_seen_key *nt_seen_find(struct notify_seen *s, const struct tsig_key *k,
					    const char *zone)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->keys[i].alg == k->alg && strcmp(s->keys[i].name, k->name) == 0 &&
		    strcmp(s->keys[i].zone, zone) == 0)
			return &s->keys[i];
	return NULL;
}

/*
 * Remember that a NOTIFY signed with k at time t was accepted. Out of memory: nothing is
 * remembered for a new key (its replays pass, as before this check existed), which beats
 * refusing a good NOTIFY.
 */
static void nt_seen_note(struct notify_seen *s, const struct tsig_key *k, const char *zone,
			 uint64_t t)
{
	struct notify_seen_key *e = nt_seen_find(s, k, zone);

	if (e == NULL) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 4;
			struct notify_seen_key *keys = realloc(s->keys, cap * sizeof(*keys));
			if (keys == NULL)
				return;
			s->keys = keys;
			s->cap = cap;
		}
		e = &s->keys[s->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", k->name);
		snprintf(e->zone, sizeof(e->zone), "%s", zone);
		e->alg = k->alg;
	}
	if (t > e->newest)
		e->newest = t;
}

/*
 * 1 when t (MAC verified, time within its fudge) was signed earlier than the newest
 * NOTIFY accepted with k: a replay, or one that came out of order. ev->why says which
 * and by how much.
 */
static int nt_replayed(struct notify_seen *s, const struct tsig_key *k,
		       const struct tsigkey_rr *t, struct notify_event *ev)
{
	const struct notify_seen_key *e = nt_seen_find(s, k, ev->origin);

	if (e == NULL || t->time >= e->newest)
		return 0;
	nt_why(ev, "TSIG of key %s wrong (BADTIME: signed %llu s before the newest NOTIFY "
	       "for this zone accepted with this key: a replay, or out of order)", k->name,
	       (unsigned long long)(e->newest - t->time));
	return 1;
}

/* Header and question. Returns 0, PHAROS_EMALF (drop), or 1 (answer FORMERR). */
static int nt_parse(struct nt_req *r, struct notify_event *ev)
{
	const uint8_t *q = r->q;
	size_t end;

	if (r->len < DNS_HDR_LEN || (q[2] & DNS_F2_QR) || ((q[2] >> 3) & 0x0f) != DNS_OP_NOTIFY)
		return PHAROS_EMALF;
	if (dns_get16(q + 4) != 1) {
		nt_why(ev, "%u questions", dns_get16(q + 4));
		return 1;
	}
	if (dname_unpack(q, r->len, DNS_HDR_LEN, r->qname, &r->qname_len, &end) < 0 ||
	    end + 4 > r->len) {
		nt_why(ev, "unparsable question");
		return 1;
	}
	r->qend = end + 4;
	dname_lower(r->qname, r->qname_len);
	if (dname_to_text(r->qname, ev->origin, sizeof(ev->origin)) < 0)
		ev->origin[0] = '\0';
	r->qtype = dns_get16(q + end);
	r->qclass = dns_get16(q + end + 2);
	int rc = tsigkey_find(q, r->len, &r->tsig);
	if (rc < 0) {
		nt_why(ev, "malformed message");
		return 1;
	}
	r->signed_ = rc;
	if (r->qtype != DNS_T_SOA || r->qclass != DNS_C_IN) {
		nt_why(ev, "question is not class IN, type SOA");
		return 1;
	}
	return 0;
}

/* The serial of a SOA of the zone in the answer section, if there is one. */
static void nt_serial(const struct nt_req *r, struct notify_event *ev)
{
	uint8_t n[DNAME_MAX];
	size_t nl, off;

	if (dns_get16(r->q + 6) == 0 ||
	    dname_unpack(r->q, r->len, r->qend, n, &nl, &off) < 0 || off + 10 > r->len)
		return;
	dname_lower(n, nl);
	size_t rd = off + 10, rdend = rd + dns_get16(r->q + off + 8);
	if (nl != r->qname_len || memcmp(n, r->qname, nl) != 0 ||
	    dns_get16(r->q + off) != DNS_T_SOA || rdend > r->len ||
	    dname_unpack(r->q, rdend, rd, n, &nl, &rd) < 0 ||
	    dname_unpack(r->q, rdend, rd, n, &nl, &rd) < 0 || rd + 20 != rdend)
		return;
	ev->have_serial = 1;
	ev->serial = dns_get32(r->q + rd);
}

/* 1 if the address of src lies in the entry's prefix. */
static int nt_match(const struct notify_allow *a, const struct sockaddr *src)
{
	const uint8_t *want, *have;
	uint8_t mapped[4];
	unsigned bits = a->prefix, max;

	if (a->net.ss_family == AF_INET) {
		want = (const uint8_t *)&((const struct sockaddr_in *)&a->net)->sin_addr;
		max = 32;
		if (src->sa_family == AF_INET) {
			have = (const uint8_t *)&((const struct sockaddr_in *)src)->sin_addr;
		} else if (src->sa_family == AF_INET6 &&
			   IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)src)->sin6_addr)) {
			memcpy(mapped, ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr + 12, 4);
			have = mapped;
		} else {
			return 0;
		}
	} else if (a->net.ss_family == AF_INET6 && src->sa_family == AF_INET6) {
		want = ((const struct sockaddr_in6 *)&a->net)->sin6_addr.s6_addr;
		have = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
		max = 128;
	} else {
		return 0;
	}
	if (bits > max)
		bits = max;
	if (memcmp(want, have, bits / 8) != 0)
		return 0;
	if (bits % 8 == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
	return (want[bits / 8] & mask) == (have[bits / 8] & mask);
}

/* 1 if the request's TSIG names this key (name and algorithm). */
static int nt_same_key(const struct tsig_key *k, const struct tsigkey_rr *t)
{
	uint8_t w[DNAME_MAX], a[DNAME_MAX];
	size_t wl, al;

	return dname_from_text(k->name, NULL, 0, w, &wl) == 0 &&
	       dname_from_text(tsigkey_alg_name(k->alg), NULL, 0, a, &al) == 0 &&
	       wl == t->key_len && memcmp(w, t->key, wl) == 0 && al == t->alg_len &&
	       memcmp(a, t->alg, al) == 0;
}

static void nt_addr(const struct sockaddr *src, char *buf, size_t cap)
{
	const void *a = src->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)src)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)src)->sin6_addr;

	if (!inet_ntop(src->sa_family, a, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
}

/*
 * The ACL: an entry whose prefix holds the sender and whose key is the request's (none for
 * an unsigned request). Returns the entry, or NULL with *tsig_error (BADKEY when the
 * request is signed with a key no matching entry has) and ev->why set.
 */
static const struct notify_allow *nt_acl(const struct nt_req *r, const struct sockaddr *src,
					 const struct notify_allow *acl, size_t n,
					 uint16_t *tsig_error, struct notify_event *ev)
{
	char ab[64], kb[DNAME_TXT_MAX];
	int addr_ok = 0;

	nt_addr(src, ab, sizeof(ab));
	for (size_t i = 0; i < n; i++) {
		if (!nt_match(&acl[i], src))
			continue;
		addr_ok = 1;
		if (!r->signed_ && !acl[i].key)
			return &acl[i];
		if (r->signed_ && acl[i].key && nt_same_key(acl[i].key, &r->tsig))
			return &acl[i];
	}
	if (!addr_ok) {
		nt_why(ev, "sender %s not allowed to notify", ab);
		return NULL;
	}
	if (!r->signed_) {
		nt_why(ev, "sender %s must sign its NOTIFY (TSIG)", ab);
		return NULL;
	}
	if (dname_to_text(r->tsig.key, kb, sizeof(kb)) < 0)
		snprintf(kb, sizeof(kb), "?");
	nt_why(ev, "sender %s signed with key %s, not one allowed (BADKEY)", ab, kb);
	*tsig_error = TSIGKEY_BADKEY;
	return NULL;
}

int notify_handle(const uint8_t *q, size_t qlen, const struct sockaddr *src,
		  notify_acl_fn acl, void *ctx, struct notify_seen *seen, uint8_t *resp,
		  size_t cap, size_t *resplen, struct notify_event *ev)
{
	struct nt_req r = { .q = q, .len = qlen };
	const struct notify_allow *list = NULL, *a;
	struct tsigkey_rr t;
	size_t n = 0;
	uint16_t terr = 0;
	int rc;

	memset(ev, 0, sizeof(*ev));
	*resplen = 0;
	if ((rc = nt_parse(&r, ev)) < 0)
		return rc;
	if (rc == 1)
		return nt_error(&r, DNS_R_FORMERR, 0, resp, cap, resplen);
	nt_serial(&r, ev);
	/* Knot answers NOTAUTH to a zone it does not serve and to a sender not allowed */
	if (acl(ctx, ev->origin, &list, &n) < 0) {
		nt_why(ev, "not a secondary zone of ours");
		return nt_error(&r, DNS_R_NOTAUTH, 0, resp, cap, resplen);
	}
	if (!(a = nt_acl(&r, src, list, n, &terr, ev)))
		return nt_error(&r, DNS_R_NOTAUTH, terr, resp, cap, resplen);
	if (a->key) {
		rc = tsigkey_verify(a->key, q, qlen, NULL, 0, 0, &t);
		if (rc == TSIGKEY_BADTIME)
			return nt_badtime_fudge(&r, a->key, &t, resp, cap, resplen, ev);
		if (rc != 0) {
			terr = rc > 0 ? (uint16_t)rc : TSIGKEY_BADSIG;
			nt_why(ev, "TSIG of key %s wrong (%s)", a->key->name,
			       tsigkey_error_name(terr));
			return nt_error(&r, DNS_R_NOTAUTH, terr, resp, cap, resplen);
		}
		/* after the MAC (5.2): a forged one is BADSIG, never a signed BADTIME */
		if (seen && nt_replayed(seen, a->key, &t, ev))
			return nt_badtime(&r, a->key, &t, 0, resp, cap, resplen);
	}
	if ((rc = nt_error(&r, DNS_R_NOERROR, 0, resp, cap, resplen)) < 0)
		return rc;
	if (!a->key) {
		ev->accepted = 1;
		return 0;
	}
	rc = tsigkey_sign(a->key, resp, resplen, cap, r.tsig.mac, r.tsig.mac_len, 0, 0, NULL,
			  NULL);
	if (rc < 0)
		return rc;
	ev->accepted = 1;
	if (seen)
		nt_seen_note(seen, a->key, ev->origin, t.time);
	return 0;
}
