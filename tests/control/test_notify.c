/* Tests of control/notify.c: NOTIFY built with ldns, ACL by prefix and key, Knot's answers. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ldns/ldns.h>

#include "pharos/err.h"
#include "notify.h"
#include "tsigkey.h"

#define SECRET	"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="
#define OTHER	"QUJDREVGR0hJSktMTU5PUA=="

static struct tsig_key key, badsecret, unknown;
static struct notify_allow acl_open[1], acl_keyed[2];

static void addr(struct sockaddr_storage *ss, const char *text)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	else
		cr_assert_fail("bad address %s", text);
}

/* open.test.: 198.18.0.0/15 unsigned; keyed.test.: 2001:db8::/32 and 127.0.0.1 with key. */
static int lookup(void *ctx, const char *origin, const struct notify_allow **acl, size_t *n)
{
	(void)ctx;
	if (strcmp(origin, "open.test.") == 0) {
		*acl = acl_open;
		*n = 1;
		return 0;
	}
	if (strcmp(origin, "keyed.test.") == 0) {
		*acl = acl_keyed;
		*n = 2;
		return 0;
	}
	return -1;
}

static void setup(void)
{
	char err[256];

	cr_assert_eq(tsigkey_make("nkey.", "hmac-sha256", SECRET, &key, err, sizeof(err)), 0);
	cr_assert_eq(tsigkey_make("nkey.", "hmac-sha256", OTHER, &badsecret, err, sizeof(err)),
		     0);
	cr_assert_eq(tsigkey_make("okey.", "hmac-sha256", SECRET, &unknown, err, sizeof(err)),
		     0);
	addr(&acl_open[0].net, "198.18.0.0");
	acl_open[0].prefix = 15;
	addr(&acl_keyed[0].net, "2001:db8::");
	acl_keyed[0].prefix = 32;
	acl_keyed[0].key = &key;
	addr(&acl_keyed[1].net, "127.0.0.1");
	acl_keyed[1].prefix = 32;
	acl_keyed[1].key = &key;
}

TestSuite(notify, .init = setup);

/* A NOTIFY for zone (opcode, AA, question SOA; with a SOA of serial in the answer if > 0). */
static size_t notify(uint8_t *m, const char *zone, ldns_rr_type qtype, uint32_t serial,
		     ldns_pkt_opcode op)
{
	ldns_pkt *p = NULL;
	uint8_t *w;
	size_t n;

	cr_assert_eq(ldns_pkt_query_new_frm_str(&p, zone, qtype, LDNS_RR_CLASS_IN, LDNS_AA),
		     LDNS_STATUS_OK);
	ldns_pkt_set_opcode(p, op);
	ldns_pkt_set_id(p, 0x4242);
	if (serial) {
		char text[256];
		ldns_rr *rr = NULL;
		snprintf(text, sizeof(text), "%s 3600 IN SOA ns. host. %u 1 1 1 1", zone, serial);
		cr_assert_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	cr_assert_eq(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	memcpy(m, w, n);
	free(w);
	ldns_pkt_free(p);
	return n;
}

static struct sockaddr_storage from(const char *text)
{
	struct sockaddr_storage ss;

	addr(&ss, text);
	return ss;
}

/* Handle q from src; the response must echo ID and question, QR + opcode NOTIFY. */
static unsigned handle(const uint8_t *q, size_t qlen, const char *src, uint8_t *resp,
		       size_t *rlen, struct notify_event *ev)
{
	struct sockaddr_storage ss = from(src);

	cr_assert_eq(notify_handle(q, qlen, (struct sockaddr *)&ss, lookup, NULL, NULL, resp,
				   4096, rlen, ev), 0);
	cr_assert_geq(*rlen, 12);
	cr_assert_eq(resp[0], 0x42);
	cr_assert_eq(resp[1], 0x42);
	cr_assert_eq(resp[2] & 0xfc, 0xa0, "flags %02x", resp[2]);	/* QR, NOTIFY, no AA */
	cr_assert_eq(resp[5], 1);
	return resp[3] & 0x0f;
}

static uint16_t tsig_error(const uint8_t *resp, size_t rlen)
{
	struct tsigkey_rr t;

	cr_assert_eq(tsigkey_find(resp, rlen, &t), 1, "no TSIG in the response");
	cr_assert_eq(t.mac_len, 0);
	return t.error;
}

Test(notify, allowed_unsigned_with_serial)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "Open.Test.", LDNS_RR_TYPE_SOA, 2024, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(handle(q, n, "198.19.4.4", r, &rl, &ev), LDNS_RCODE_NOERROR);
	cr_assert(ev.accepted);
	cr_assert_str_eq(ev.origin, "open.test.");
	cr_assert(ev.have_serial);
	cr_assert_eq(ev.serial, 2024);
	cr_assert_eq(r[11], 0, "no TSIG");
	cr_assert_eq(memcmp(r + 12, q + 12, 15), 0, "question echoed");
}

Test(notify, not_allowed)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "open.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(handle(q, n, "198.20.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_not(ev.accepted);
	cr_assert_not(ev.have_serial);
	cr_assert_str_eq(ev.why, "sender 198.20.0.1 not allowed to notify");
	cr_assert_eq(handle(q, n, "2001:db8::1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
}

Test(notify, not_our_zone)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "elsewhere.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(handle(q, n, "198.18.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_not(ev.accepted);
	cr_assert_str_eq(ev.why, "not a secondary zone of ours");
}

Test(notify, signed_good_and_answer_signed)
{
	uint8_t q[1024], r[4096], mac[TSIGKEY_MAC_MAX];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 9, LDNS_PACKET_NOTIFY), rl, ml;
	struct notify_event ev;
	struct tsigkey_rr t;

	cr_assert_eq(tsigkey_sign(&key, q, &n, sizeof(q), NULL, 0, 0, 0, mac, &ml), 0);
	cr_assert_eq(handle(q, n, "2001:db8:5::1", r, &rl, &ev), LDNS_RCODE_NOERROR);
	cr_assert(ev.accepted, "%s", ev.why);
	cr_assert_eq(ev.serial, 9);
	cr_assert_eq(tsigkey_verify(&key, r, rl, mac, ml, 0, &t), 0, "answer signed");
	/* IPv4 through a v4-mapped source */
	cr_assert_eq(handle(q, n, "::ffff:127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOERROR);
}

Test(notify, wrong_secret_badsig)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(tsigkey_sign(&badsecret, q, &n, sizeof(q), NULL, 0, 0, 0, NULL, NULL), 0);
	cr_assert_eq(handle(q, n, "127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_not(ev.accepted);
	cr_assert_eq(tsig_error(r, rl), TSIGKEY_BADSIG);
	cr_assert_str_eq(ev.why, "TSIG of key nkey. wrong (BADSIG)");
}

Test(notify, unknown_key_badkey)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(tsigkey_sign(&unknown, q, &n, sizeof(q), NULL, 0, 0, 0, NULL, NULL), 0);
	cr_assert_eq(handle(q, n, "127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_eq(tsig_error(r, rl), TSIGKEY_BADKEY);
	/* a signed NOTIFY to a zone whose ACL wants none: the key is unknown there too */
	n = notify(q, "open.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY);
	cr_assert_eq(tsigkey_sign(&key, q, &n, sizeof(q), NULL, 0, 0, 0, NULL, NULL), 0);
	cr_assert_eq(handle(q, n, "198.18.1.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_eq(tsig_error(r, rl), TSIGKEY_BADKEY);
}

Test(notify, unsigned_to_keyed_zone)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(handle(q, n, "127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_eq(r[11], 0, "no TSIG in the answer");
	cr_assert_str_eq(ev.why, "sender 127.0.0.1 must sign its NOTIFY (TSIG)");
}

Test(notify, not_a_notify)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "open.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_QUERY), rl = 99;
	struct sockaddr_storage ss = from("198.18.0.1");
	struct notify_event ev;

	cr_assert_eq(notify_handle(q, n, (struct sockaddr *)&ss, lookup, NULL, NULL, r,
				   sizeof(r), &rl, &ev), PHAROS_EMALF);
	cr_assert_eq(rl, 0);
	cr_assert_eq(notify_handle(q, 5, (struct sockaddr *)&ss, lookup, NULL, NULL, r,
				   sizeof(r), &rl, &ev), PHAROS_EMALF);
	/* a NOTIFY for type A: FORMERR, as Knot */
	n = notify(q, "open.test.", LDNS_RR_TYPE_A, 0, LDNS_PACKET_NOTIFY);
	cr_assert_eq(handle(q, n, "198.18.0.1", r, &rl, &ev), LDNS_RCODE_FORMERR);
	cr_assert_not(ev.accepted);
}

/*
 * A NOTIFY signed with the right key but a clock 1000 s off: NOTAUTH + BADTIME, signed
 * (RFC 8945 5.2.3, as Knot): Time Signed is the request's, Other Data our clock in 6
 * octets, the MAC (request MAC as prior) checked with ldns, not with our verifier.
 */
static uint64_t u48(const uint8_t *o)
{
	return (uint64_t)o[0] << 40 | (uint64_t)o[1] << 32 | (uint64_t)o[2] << 24 |
	       (uint64_t)o[3] << 16 | (uint64_t)o[4] << 8 | o[5];
}

static void badtime_case(int64_t skew, const char *how)
{
	uint8_t q[1024], r[4096], mac[TSIGKEY_MAC_MAX], pm[2 + TSIGKEY_MAC_MAX];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl, ml;
	uint64_t signed_at = (uint64_t)((int64_t)time(NULL) + skew), before, after;
	struct notify_event ev;
	ldns_pkt *p = NULL;
	char why[128];

	cr_assert_eq(tsigkey_sign(&key, q, &n, sizeof(q), NULL, 0, 0, signed_at, mac, &ml), 0);
	before = (uint64_t)time(NULL);
	cr_assert_eq(handle(q, n, "127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	after = (uint64_t)time(NULL);
	cr_assert_not(ev.accepted);
	snprintf(why, sizeof(why), "TSIG of key nkey. wrong (BADTIME: the sender's clock is "
		 "1000 s %s ours)", how);
	cr_assert_str_eq(ev.why, why);

	cr_assert_eq(ldns_wire2pkt(&p, r, rl), LDNS_STATUS_OK);
	ldns_rr *tsig = ldns_pkt_tsig(p);
	cr_assert_not_null(tsig, "no TSIG in the BADTIME answer");
	cr_assert_eq(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5)), 18, "TSIG error BADTIME");
	const ldns_rdf *ts = ldns_rr_rdf(tsig, 1), *mac_rdf = ldns_rr_rdf(tsig, 3);
	const ldns_rdf *other = ldns_rr_rdf(tsig, 6);
	cr_assert_eq(ldns_rdf_size(mac_rdf), 2 + 32, "MAC of hmac-sha256 (signed answer)");
	cr_assert_eq(ldns_rdf_size(ts), 6);
	cr_assert_eq(u48(ldns_rdf_data(ts)), signed_at, "Time Signed: the request's");
	cr_assert_eq(ldns_rdf_size(other), 2 + 6, "Other Len 6");
	uint64_t clock = u48(ldns_rdf_data(other) + 2);
	cr_assert(clock >= before && clock <= after, "Other Data %llu, now %llu",
		  (unsigned long long)clock, (unsigned long long)before);

	pm[0] = 0;
	pm[1] = (uint8_t)ml;
	memcpy(pm + 2, mac, ml);
	ldns_rdf *prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + ml, pm);
	cr_assert(ldns_pkt_tsig_verify(p, r, rl, "nkey.", SECRET, prior),
		  "the BADTIME answer's MAC does not verify (ldns)");
	cr_assert_not(ldns_pkt_tsig_verify(p, r, rl, "nkey.", OTHER, prior),
		      "ldns verified with another secret: the check checks nothing");
	pm[2] ^= 1;	/* another request MAC: the answer must not verify against it */
	ldns_rdf_deep_free(prior);
	prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + ml, pm);
	cr_assert_not(ldns_pkt_tsig_verify(p, r, rl, "nkey.", SECRET, prior));
	ldns_rdf_deep_free(prior);
	ldns_pkt_free(p);
}

Test(notify, time_off_badtime_signed)
{
	badtime_case(-1000, "behind");
	badtime_case(1000, "ahead of");
}

/* Wrong secret and a time off: the MAC is checked first (RFC 8945 5.2), BADSIG unsigned. */
Test(notify, time_off_wrong_secret_badsig)
{
	uint8_t q[1024], r[4096];
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, 0, LDNS_PACKET_NOTIFY), rl;
	struct notify_event ev;

	cr_assert_eq(tsigkey_sign(&badsecret, q, &n, sizeof(q), NULL, 0, 0,
				  (uint64_t)time(NULL) - 1000, NULL, NULL), 0);
	cr_assert_eq(handle(q, n, "127.0.0.1", r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_eq(tsig_error(r, rl), TSIGKEY_BADSIG);
}

/* ---- replays (RFC 8945 5.2.3): the newest Time Signed accepted per key and zone ---- */

static struct notify_allow acl_replay[3];

/* Any zone: 127.0.0.1 with the keys of acl_replay (filled by the test). */
static int lookup_replay(void *ctx, const char *origin, const struct notify_allow **acl,
			 size_t *n)
{
	(void)ctx;
	(void)origin;
	*acl = acl_replay;
	*n = 3;
	return 0;
}

/* A NOTIFY for keyed.test. (SOA serial in the answer) signed with k at time at. */
static size_t signed_at(uint8_t *q, const struct tsig_key *k, uint32_t serial, uint64_t at,
			uint8_t *mac, size_t *ml)
{
	size_t n = notify(q, "keyed.test.", LDNS_RR_TYPE_SOA, serial, LDNS_PACKET_NOTIFY);

	cr_assert_eq(tsigkey_sign(k, q, &n, 1024, NULL, 0, 0, at, mac, ml), 0);
	return n;
}

/* Handle q from 127.0.0.1 with the replay state seen (lookup_replay when replay_acl). */
static unsigned handle_seen(const uint8_t *q, size_t qlen, struct notify_seen *seen,
			    int replay_acl, uint8_t *r, size_t *rl, struct notify_event *ev)
{
	struct sockaddr_storage ss = from("127.0.0.1");

	cr_assert_eq(notify_handle(q, qlen, (struct sockaddr *)&ss,
				   replay_acl ? lookup_replay : lookup, NULL, seen, r, 4096, rl,
				   ev), 0);
	cr_assert_geq(*rl, 12);
	return r[3] & 0x0f;
}

/* Accepted, and the answer signed with k over the request's MAC. */
static void accepted(const uint8_t *r, size_t rl, const struct notify_event *ev,
		     const struct tsig_key *k, const uint8_t *mac, size_t ml)
{
	struct tsigkey_rr t;

	cr_assert(ev->accepted, "refused: %s", ev->why);
	cr_assert_eq(tsigkey_verify(k, r, rl, mac, ml, 0, &t), 0, "answer not signed");
	cr_assert_eq(t.error, 0);
}

/* The same signed NOTIFY twice, and another in the same second: all accepted. */
Test(notify, replay_same_second_accepted)
{
	uint8_t q[1024], q2[1024], r[4096], mac[TSIGKEY_MAC_MAX], mac2[TSIGKEY_MAC_MAX];
	uint64_t now = (uint64_t)time(NULL);
	size_t ml, ml2, rl, n = signed_at(q, &key, 5, now, mac, &ml);
	size_t n2 = signed_at(q2, &key, 6, now, mac2, &ml2);
	struct notify_seen seen = { 0 };
	struct notify_event ev;

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(handle_seen(q, n, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
		accepted(r, rl, &ev, &key, mac, ml);
	}
	cr_assert_eq(handle_seen(q2, n2, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mac2, ml2);
	cr_assert_eq(seen.n, 1);
	cr_assert_str_eq(seen.keys[0].name, "nkey.");
	cr_assert_eq(seen.keys[0].newest, now);
	notify_seen_free(&seen);
}

/*
 * Signed before the newest accepted (the same message replayed after a newer one, or a
 * new one signed earlier): NOTAUTH + BADTIME signed with the key, Time Signed the
 * request's, our clock in Other Data, as for a time outside the fudge.
 */
Test(notify, replay_older_badtime_signed)
{
	uint8_t qa[1024], qb[1024], qc[1024], r[4096];
	uint8_t ma[TSIGKEY_MAC_MAX], mb[TSIGKEY_MAC_MAX], mc[TSIGKEY_MAC_MAX];
	uint64_t now = (uint64_t)time(NULL), before, after, clock;
	size_t la, lb, lc, rl, na = signed_at(qa, &key, 1, now - 10, ma, &la);
	size_t nb = signed_at(qb, &key, 2, now, mb, &lb);
	size_t nc = signed_at(qc, &key, 3, now - 5, mc, &lc);
	struct notify_seen seen = { 0 };
	struct notify_event ev;
	struct tsigkey_rr t;

	cr_assert_eq(handle_seen(qa, na, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, ma, la);
	cr_assert_eq(handle_seen(qb, nb, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mb, lb);

	before = (uint64_t)time(NULL);
	cr_assert_eq(handle_seen(qa, na, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	after = (uint64_t)time(NULL);
	cr_assert_not(ev.accepted);
	cr_assert_str_eq(ev.why, "TSIG of key nkey. wrong (BADTIME: signed 10 s before the "
			 "newest NOTIFY for this zone accepted with this key: a replay, or out of order)");
	cr_assert_eq(ev.serial, 1);
	cr_assert_eq(tsigkey_verify(&key, r, rl, ma, la, 0, &t), 0, "BADTIME answer not signed");
	cr_assert_eq(t.error, TSIGKEY_BADTIME);
	cr_assert_eq(t.time, now - 10, "Time Signed: the request's");
	cr_assert_eq(tsigkey_other_time(&t, &clock), 0, "no clock in Other Data");
	cr_assert(clock >= before && clock <= after);
	cr_assert_neq(tsigkey_verify(&key, r, rl, mb, lb, 0, &t), 0,
		      "verified over another request's MAC: the check checks nothing");

	cr_assert_eq(handle_seen(qc, nc, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_str_eq(ev.why, "TSIG of key nkey. wrong (BADTIME: signed 5 s before the "
			 "newest NOTIFY for this zone accepted with this key: a replay, or out of order)");
	cr_assert_eq(tsigkey_verify(&key, r, rl, mc, lc, 0, &t), 0);
	cr_assert_eq(t.error, TSIGKEY_BADTIME);
	/* the newest itself again, then a newer one: accepted */
	cr_assert_eq(handle_seen(qb, nb, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mb, lb);
	nc = signed_at(qc, &key, 4, now + 5, mc, &lc);
	cr_assert_eq(handle_seen(qc, nc, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mc, lc);
	cr_assert_eq(seen.keys[0].newest, now + 5);
	notify_seen_free(&seen);
}

/* Only an accepted NOTIFY moves the state: wrong secret, time off, sender refused do not. */
Test(notify, replay_state_only_from_accepted)
{
	uint8_t q[1024], r[4096], mac[TSIGKEY_MAC_MAX];
	uint64_t now = (uint64_t)time(NULL);
	size_t ml, rl, n;
	struct sockaddr_storage ss = from("2001:db9::1");
	struct notify_seen seen = { 0 };
	struct notify_event ev;

	n = signed_at(q, &badsecret, 1, now + 100, NULL, NULL);
	cr_assert_eq(handle_seen(q, n, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert_eq(tsig_error(r, rl), TSIGKEY_BADSIG);
	n = signed_at(q, &key, 2, now + 1000, NULL, NULL);
	cr_assert_eq(handle_seen(q, n, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert(strstr(ev.why, "the sender's clock is"), "%s", ev.why);
	n = signed_at(q, &key, 3, now + 100, NULL, NULL);
	cr_assert_eq(notify_handle(q, n, (struct sockaddr *)&ss, lookup, NULL, &seen, r,
				   sizeof(r), &rl, &ev), 0);
	cr_assert_str_eq(ev.why, "sender 2001:db9::1 not allowed to notify");
	cr_assert_eq(seen.n, 0, "a refused NOTIFY left a time");

	n = signed_at(q, &key, 4, now, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 0, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mac, ml);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.keys[0].newest, now);
	notify_seen_free(&seen);
}

/* One time per key: name and algorithm. Without a state (NULL) nothing is checked. */
Test(notify, replay_per_key)
{
	uint8_t q[1024], r[4096], mac[TSIGKEY_MAC_MAX];
	uint64_t now = (uint64_t)time(NULL);
	struct tsig_key k512;
	struct notify_seen seen = { 0 };
	struct notify_event ev;
	size_t ml, rl, n;
	char err[256];

	cr_assert_eq(tsigkey_make("nkey.", "hmac-sha512", SECRET, &k512, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		addr(&acl_replay[i].net, "127.0.0.1");
		acl_replay[i].prefix = 32;
	}
	acl_replay[0].key = &key;
	acl_replay[1].key = &k512;
	acl_replay[2].key = &unknown;	/* okey. */

	n = signed_at(q, &key, 1, now, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mac, ml);
	n = signed_at(q, &k512, 2, now - 10, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &k512, mac, ml);
	n = signed_at(q, &unknown, 3, now - 20, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &unknown, mac, ml);
	cr_assert_eq(seen.n, 3);
	/* each key's own newest: nkey. hmac-sha256's is now */
	n = signed_at(q, &key, 4, now - 1, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	cr_assert(strstr(ev.why, "signed 1 s before the newest"), "%s", ev.why);
	n = signed_at(q, &k512, 5, now - 11, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	n = signed_at(q, &k512, 6, now - 10, mac, &ml);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	/* each zone's own newest: an older NOTIFY for another zone passes (out of order
	 * across zones is normal), and starts that zone's own time */
	n = notify(q, "other.test.", LDNS_RR_TYPE_SOA, 8, LDNS_PACKET_NOTIFY);
	cr_assert_eq(tsigkey_sign(&key, q, &n, 1024, NULL, 0, 0, now - 30, mac, &ml), 0);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mac, ml);
	cr_assert_eq(seen.n, 4);
	n = notify(q, "other.test.", LDNS_RR_TYPE_SOA, 9, LDNS_PACKET_NOTIFY);
	cr_assert_eq(tsigkey_sign(&key, q, &n, 1024, NULL, 0, 0, now - 31, mac, &ml), 0);
	cr_assert_eq(handle_seen(q, n, &seen, 1, r, &rl, &ev), LDNS_RCODE_NOTAUTH);
	/* no state: the older one passes, as before */
	n = signed_at(q, &key, 7, now - 1, mac, &ml);
	cr_assert_eq(handle_seen(q, n, NULL, 1, r, &rl, &ev), LDNS_RCODE_NOERROR);
	accepted(r, rl, &ev, &key, mac, ml);
	notify_seen_free(&seen);
	cr_assert_eq(seen.n, 0);
	cr_assert_null(seen.keys);
}
