/* Tests of control/tsigkey.c: keys, RFC 8945 sign/verify on the wire, checked against ldns. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ldns/ldns.h>

#include "pharos/err.h"
#include "tsigkey.h"

#define SECRET	"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="

static const char *const algs[] = {
	"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512",
};

static struct tsig_key make(const char *name, const char *alg, const char *secret)
{
	struct tsig_key k;
	char err[256];

	cr_assert_eq(tsigkey_make(name, alg, secret, &k, err, sizeof(err)), 0, "%s", err);
	return k;
}

/* A SOA query for example.com. as ldns writes it, in buf (cap 1024). */
static size_t query(uint8_t *buf, uint16_t id)
{
	ldns_pkt *p = NULL;
	uint8_t *w;
	size_t n;

	ldns_pkt_query_new_frm_str(&p, "example.com.", LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, id);
	cr_assert_eq(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	memcpy(buf, w, n);
	free(w);
	ldns_pkt_free(p);
	return n;
}

Test(tsigkey, make_every_algorithm)
{
	for (size_t i = 0; i < 6; i++) {
		struct tsig_key k = make("Xfr-Key", algs[i], SECRET);
		cr_assert_str_eq(k.name, "xfr-key.");
		cr_assert_eq(k.alg, (enum tsigkey_alg)(TSIGKEY_HMAC_MD5 + i));
		cr_assert_eq(k.secret_len, 32);
		cr_assert_str_eq(k.b64, SECRET);
	}
	struct tsig_key k = make("k.", "hmac-md5.sig-alg.reg.int", SECRET);
	cr_assert_eq(k.alg, TSIGKEY_HMAC_MD5);
	cr_assert_str_eq(tsigkey_alg_name(k.alg), "hmac-md5.sig-alg.reg.int.");
	k = make("k.", "HMAC-SHA384.", SECRET);
	cr_assert_str_eq(tsigkey_alg_name(k.alg), "hmac-sha384.");
}

Test(tsigkey, make_refuses)
{
	struct tsig_key k;
	char err[256];

	cr_assert_eq(tsigkey_make("k.", "hmac-sha3", SECRET, &k, err, sizeof(err)),
		     PHAROS_EINVAL);
	cr_assert(strstr(err, "unknown algorithm 'hmac-sha3'"), "%s", err);
	cr_assert_eq(tsigkey_make("k.", "hmac-sha256", "not base64!", &k, err, sizeof(err)),
		     PHAROS_EINVAL);
	cr_assert(strstr(err, "not base64"), "%s", err);
	cr_assert_eq(tsigkey_make("k.", "hmac-sha256", "QUJD=A==", &k, err, sizeof(err)),
		     PHAROS_EINVAL);
	cr_assert_eq(tsigkey_make("", "hmac-sha256", SECRET, &k, err, sizeof(err)),
		     PHAROS_EINVAL);
	cr_assert(strstr(err, "bad key name"), "%s", err);
}

Test(tsigkey, sign_verify_every_algorithm)
{
	for (size_t i = 0; i < 6; i++) {
		struct tsig_key k = make("k.", algs[i], SECRET), other;
		struct tsigkey_rr t;
		uint8_t m[1024];
		size_t len = query(m, 0x1234);
		cr_assert_eq(tsigkey_sign(&k, m, &len, sizeof(m), NULL, 0, 0, 0, NULL, NULL), 0);
		cr_assert_eq(tsigkey_verify(&k, m, len, NULL, 0, 0, &t), 0, "%s", algs[i]);
		cr_assert_eq(t.orig_id, 0x1234);
		other = make("k.", algs[i], "QUJDREVGR0hJSktMTU5PUA==");
		cr_assert_eq(tsigkey_verify(&other, m, len, NULL, 0, 0, &t), TSIGKEY_BADSIG);
		other = make("k2.", algs[i], SECRET);
		cr_assert_eq(tsigkey_verify(&other, m, len, NULL, 0, 0, &t), TSIGKEY_BADKEY);
		other = make("k.", algs[(i + 1) % 6], SECRET);
		cr_assert_eq(tsigkey_verify(&other, m, len, NULL, 0, 0, &t), TSIGKEY_BADKEY);
		m[15] ^= 0x20;	/* a letter of the question: the MAC no longer matches */
		cr_assert_eq(tsigkey_verify(&k, m, len, NULL, 0, 0, &t), TSIGKEY_BADSIG);
	}
}

Test(tsigkey, time_and_unsigned)
{
	struct tsig_key k = make("k.", "hmac-sha256", SECRET);
	struct tsigkey_rr t;
	uint8_t m[1024];
	size_t len = query(m, 7), plain = len;

	cr_assert_eq(tsigkey_verify(&k, m, len, NULL, 0, 0, &t), PHAROS_ENOTFOUND);
	cr_assert_eq(tsigkey_sign(&k, m, &len, sizeof(m), NULL, 0, 0, 1000000, NULL, NULL), 0);
	cr_assert_eq(tsigkey_verify(&k, m, len, NULL, 0, 1000300, &t), 0);
	cr_assert_eq(tsigkey_verify(&k, m, len, NULL, 0, 1000301, &t), TSIGKEY_BADTIME);
	cr_assert_eq(tsigkey_find(m, len - 1, &t), PHAROS_EMALF);
	plain = query(m, 7);
	cr_assert_eq(tsigkey_find(m, plain, &t), 0);
	cr_assert_eq(tsigkey_sign(&k, m, &plain, plain + 20, NULL, 0, 0, 0, NULL, NULL),
		     PHAROS_ESPACE);
}

/* Our signatures verify with ldns, and ldns's with ours (the algorithms ldns 1.8 has). */
Test(tsigkey, same_as_ldns)
{
	static const char *const ldns_algs[] = { "hmac-md5", "hmac-sha1", "hmac-sha256",
						 "hmac-sha512" };

	for (size_t i = 0; i < 4; i++) {
		struct tsig_key k = make("k.", ldns_algs[i], SECRET);
		const char *an = tsigkey_alg_name(k.alg);
		struct tsigkey_rr t;
		uint8_t m[1024], *w;
		size_t len = query(m, 99), n;
		ldns_pkt *p = NULL;

		cr_assert_eq(tsigkey_sign(&k, m, &len, sizeof(m), NULL, 0, 0, 0, NULL, NULL), 0);
		cr_assert_eq(ldns_wire2pkt(&p, m, len), LDNS_STATUS_OK);
		cr_assert(ldns_pkt_tsig_verify(p, m, len, "k.", SECRET, NULL), "%s", an);
		ldns_pkt_free(p);

		p = NULL;
		ldns_pkt_query_new_frm_str(&p, "example.com.", LDNS_RR_TYPE_AXFR,
					   LDNS_RR_CLASS_IN, 0);
		cr_assert_eq(ldns_pkt_tsig_sign(p, "k.", SECRET, 300, an, NULL), LDNS_STATUS_OK);
		cr_assert_eq(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
		cr_assert_eq(tsigkey_verify(&k, w, n, NULL, 0, 0, &t), 0, "%s", an);
		free(w);
		ldns_pkt_free(p);
	}
}

/* A signed answer stream as ldns signs one: first with the request MAC, then timers only. */
Test(tsigkey, stream_like_ldns)
{
	struct tsig_key k = make("k.", "hmac-sha256", SECRET);
	uint8_t q[1024], mac[TSIGKEY_MAC_MAX];
	size_t qlen = query(q, 5), mac_len;
	struct tsigkey_stream s;
	char why[256];

	cr_assert_eq(tsigkey_sign(&k, q, &qlen, sizeof(q), NULL, 0, 0, 0, mac, &mac_len), 0);
	tsigkey_stream_init(&s, &k, mac, mac_len);
	ldns_rdf *prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 0, NULL);
	uint8_t pm[2 + TSIGKEY_MAC_MAX];
	pm[0] = 0;
	pm[1] = (uint8_t)mac_len;
	memcpy(pm + 2, mac, mac_len);
	ldns_rdf_deep_free(prior);
	prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + mac_len, pm);
	for (int i = 0; i < 3; i++) {
		ldns_pkt *p = NULL;
		uint8_t *w;
		size_t n;
		ldns_pkt_query_new_frm_str(&p, "example.com.", LDNS_RR_TYPE_AXFR,
					   LDNS_RR_CLASS_IN, 0);
		ldns_pkt_set_id(p, 5);
		ldns_pkt_set_qr(p, 1);
		cr_assert_eq(ldns_pkt_tsig_sign_next(p, "k.", SECRET, 300, "hmac-sha256.", prior,
						     i > 0), LDNS_STATUS_OK);
		ldns_rdf_deep_free(prior);
		prior = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
		cr_assert_eq(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
		cr_assert_eq(tsigkey_stream_next(&s, w, n, 0, why, sizeof(why)), 0,
			     "message %d: %s", i, why);
		cr_assert(s.last_signed);
		if (i == 2) {	/* the same message again: its MAC is not the next one */
			cr_assert_lt(tsigkey_stream_next(&s, w, n, 0, why, sizeof(why)), 0);
			cr_assert(strstr(why, "BADSIG"), "%s", why);
		}
		free(w);
		ldns_pkt_free(p);
	}
	ldns_rdf_deep_free(prior);
	tsigkey_stream_free(&s);
}

Test(tsigkey, stream_first_unsigned_refused)
{
	struct tsig_key k = make("k.", "hmac-sha256", SECRET);
	struct tsigkey_stream s;
	uint8_t m[1024];
	size_t len = query(m, 5);
	char why[256];

	tsigkey_stream_init(&s, &k, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32);
	cr_assert_lt(tsigkey_stream_next(&s, m, len, 0, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "TSIG missing");
	tsigkey_stream_free(&s);
}

/*
 * RFC 8945 5.2.3: a BADTIME answer carries the request's time, our clock in Other Data,
 * and a MAC over the request MAC, the answer and those variables (ldns agrees).
 */
Test(tsigkey, badtime_answer)
{
	struct tsig_key k = make("k.", "hmac-sha256", SECRET);
	uint8_t q[1024], a[1024], mac[TSIGKEY_MAC_MAX], pm[2 + TSIGKEY_MAC_MAX];
	size_t qlen = query(q, 77), alen, mac_len;
	struct tsigkey_rr req, t;
	uint64_t when = 0;
	ldns_pkt *p = NULL;

	cr_assert_eq(tsigkey_sign(&k, q, &qlen, sizeof(q), NULL, 0, 0, 1000000, mac, &mac_len),
		     0);
	cr_assert_eq(tsigkey_verify(&k, q, qlen, NULL, 0, 2000000, &req), TSIGKEY_BADTIME);
	memcpy(a, q, qlen);
	a[2] |= 0x80;
	a[3] = 9;		/* NOTAUTH */
	a[10] = a[11] = 0;	/* ARCOUNT: the request's TSIG left out */
	alen = req.off;
	cr_assert_eq(tsigkey_sign_badtime(&k, a, &alen, 20 + alen, &req, 2000000, NULL, NULL),
		     PHAROS_ESPACE);
	cr_assert_eq(tsigkey_sign_badtime(&k, a, &alen, sizeof(a), &req, 2000000, NULL, NULL),
		     0);
	/* the client checks it against its own clock, the request's time */
	cr_assert_eq(tsigkey_verify(&k, a, alen, mac, mac_len, 1000000, &t), 0);
	cr_assert_eq(t.error, TSIGKEY_BADTIME);
	cr_assert_eq(t.time, 1000000);
	cr_assert_eq(tsigkey_other_time(&t, &when), 0);
	cr_assert_eq(when, 2000000);
	cr_assert_eq(tsigkey_verify(&k, a, alen, q, 32, 1000000, &t), TSIGKEY_BADSIG,
		     "another request MAC");
	pm[0] = 0;
	pm[1] = (uint8_t)mac_len;
	memcpy(pm + 2, mac, mac_len);
	ldns_rdf *prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + mac_len, pm);
	cr_assert_eq(ldns_wire2pkt(&p, a, alen), LDNS_STATUS_OK);
	cr_assert(ldns_pkt_tsig_verify(p, a, alen, "k.", SECRET, prior));
	ldns_rdf_deep_free(prior);
	ldns_pkt_free(p);
	/* an ordinary signature has no Other Data */
	cr_assert_eq(tsigkey_verify(&k, q, qlen, NULL, 0, 1000000, &t), 0);
	cr_assert_eq(tsigkey_other_time(&t, &when), PHAROS_ENOTFOUND);
}
