/* Unit tests for dataplane/nsec3.c: SHA-1, RFC 5155 hashes, base32hex, chain search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "pharos/err.h"
#include "nsec3.h"

/* Hex digest (40 characters) to 20 bytes. */
static void from_hex(const char *hex, uint8_t out[NSEC3_HASH_LEN])
{
	for (unsigned i = 0; i < NSEC3_HASH_LEN; i++) {
		unsigned v;
		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* Plain SHA-1 of data: nsec3_hash with no salt and no extra iteration is H(x). */
static void sha1(const void *data, size_t len, uint8_t out[NSEC3_HASH_LEN])
{
	struct img_nsec3param p;

	memset(&p, 0, sizeof(p));
	p.alg = 1;
	nsec3_hash(&p, data, len, out);
}

static void expect_sha1(const void *data, size_t len, const char *hex)
{
	uint8_t got[NSEC3_HASH_LEN], want[NSEC3_HASH_LEN];

	sha1(data, len, got);
	from_hex(hex, want);
	cr_assert_eq(memcmp(got, want, NSEC3_HASH_LEN), 0, "SHA-1 of %zu bytes", len);
}

Test(nsec3, sha1_fips_180_vectors)
{
	/* FIPS 180-2 appendix A: one block, two blocks, a million 'a' */
	expect_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	expect_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		    "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	expect_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	char *big = malloc(1000000);
	cr_assert_not_null(big);
	memset(big, 'a', 1000000);
	expect_sha1(big, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(big);
}

Test(nsec3, sha1_padding_edges)
{
	char x[64];

	memset(x, 'x', sizeof(x));
	/* 55 bytes: length fits the last block; 56: it needs one more; 64: a whole block */
	expect_sha1(x, 55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1");
	expect_sha1(x, 56, "901305367c259952f4e7af8323f480d59f81335b");
	expect_sha1(x, 64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163");
}

Test(nsec3, salt_follows_the_name)
{
	struct img_nsec3param p;
	uint8_t got[NSEC3_HASH_LEN], want[NSEC3_HASH_LEN];

	memset(&p, 0, sizeof(p));
	p.alg = 1;
	p.salt_len = 1;
	p.salt[0] = 'c';
	nsec3_hash(&p, (const uint8_t *)"ab", 2, got);		/* H("ab" || "c") */
	from_hex("a9993e364706816aba3e25717850c26c9cd0d89d", want);
	cr_assert_eq(memcmp(got, want, NSEC3_HASH_LEN), 0);
}

/* The parameters of RFC 5155 Appendix A: SHA-1, salt aabbccdd, 12 extra iterations. */
static struct img_nsec3param rfc5155_param(void)
{
	struct img_nsec3param p;

	memset(&p, 0, sizeof(p));
	p.alg = 1;
	p.iterations = 12;
	p.salt_len = 4;
	memcpy(p.salt, "\xaa\xbb\xcc\xdd", 4);
	return p;
}

Test(nsec3, rfc5155_appendix_a_hashes)
{
	/* len: wire length with the root label (the literal's terminating NUL) */
	static const struct { const char *wire; size_t len; const char *b32; } v[] = {
		{ "\7example", 9, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom" },
		{ "\1a\7example", 11, "35mthgpgcu1qg68fab165klnsnk3dpvl" },
		{ "\2ai\7example", 12, "gjeqe526plbf1g8mklp59enfd789njgi" },
		{ "\3ns1\7example", 13, "2t7b4g4vsa5smi47k61mv5bv1a22bojr" },
		{ "\3ns2\7example", 13, "q04jkcevqvmu85r014c7dkba38o0ji5r" },
		{ "\1w\7example", 11, "k8udemvp1j2f7eg6jebps17vp3n8i58h" },
		{ "\1*\1w\7example", 13, "r53bq7cc2uvmubfu5ocmm6pers9tk9en" },
		{ "\1x\1w\7example", 13, "b4um86eghhds6nea196smvmlo4ors995" },
		{ "\1y\1w\7example", 13, "ji6neoaepv8b5o6k4ev33abha8ht9fgc" },
		{ "\1x\1y\1w\7example", 15, "2vptu5timamqttgl4luu9kg21e0aor3s" },
		{ "\2xx\7example", 12, "t644ebqk9bibcna874givr6joj62mlhv" },
		{ "\0402t7b4g4vsa5smi47k61mv5bv1a22bojr\7example", 42,
		  "kohar7mbb8dc2ce8a9qvl8hon4k53uhi" },
	};
	struct img_nsec3param p = rfc5155_param();

	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t got[NSEC3_HASH_LEN], want[NSEC3_HASH_LEN];
		nsec3_hash(&p, (const uint8_t *)v[i].wire, v[i].len, got);
		cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)v[i].b32, 32, want), 0);
		cr_assert_eq(memcmp(got, want, NSEC3_HASH_LEN), 0, "H(%s)", v[i].b32);
	}
}

Test(nsec3, hash_ignores_case)
{
	struct img_nsec3param p = rfc5155_param();
	uint8_t lower[NSEC3_HASH_LEN], upper[NSEC3_HASH_LEN];

	nsec3_hash(&p, (const uint8_t *)"\2ai\7example", 12, lower);
	nsec3_hash(&p, (const uint8_t *)"\2AI\7ExAmPlE", 12, upper);
	cr_assert_eq(memcmp(lower, upper, NSEC3_HASH_LEN), 0);
}

Test(nsec3, b32hex_decode)
{
	uint8_t out[NSEC3_HASH_LEN], want[NSEC3_HASH_LEN];

	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"00000000000000000000000000000000",
					 32, out), 0);
	memset(want, 0, sizeof(want));
	cr_assert_eq(memcmp(out, want, NSEC3_HASH_LEN), 0);
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"VVVVVVVVVVVVVVVVvvvvvvvvvvvvvvvv",
					 32, out), 0);
	memset(want, 0xff, sizeof(want));
	cr_assert_eq(memcmp(out, want, NSEC3_HASH_LEN), 0);
	/* 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom: the RFC 5155 hash of "example" */
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM",
					 32, out), 0);
	from_hex("065368abeed7ec6e9feba96b8c8bc3e8b791f716", want);
	cr_assert_eq(memcmp(out, want, NSEC3_HASH_LEN), 0);
	uint8_t lower[NSEC3_HASH_LEN];
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
					 32, lower), 0);
	cr_assert_eq(memcmp(out, lower, NSEC3_HASH_LEN), 0, "either case");
	static const char *const bad[] = {
		"0p9mhaveqvm6t7vbl5lop2u3t2rp3tow",	/* w is past v */
		"0p9mhaveqvm6t7vbl5lop2u3t2rp3to=",	/* padding */
		"0p9mhaveqvm6t7vbl5lop2u3t2rp3t-m",
	};
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)bad[i], 32, out), PHAROS_EINVAL,
			     "%s", bad[i]);
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"0p9mhaveqvm6t7vbl5lop2u3t2rp3to", 31,
					 out), PHAROS_EINVAL);
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"0p9mhaveqvm6t7vbl5lop2u3t2rp3tomm", 33,
					 out), PHAROS_EINVAL);
}

Test(nsec3, find_matches_covers_and_wraps)
{
	struct img_nsec3 t[3];
	uint8_t h[NSEC3_HASH_LEN];

	memset(t, 0, sizeof(t));
	t[0].hash[0] = 10;
	t[1].hash[0] = 20;
	t[2].hash[0] = 30;
	memset(h, 0, sizeof(h));
	static const struct { uint8_t first; uint32_t want; } q[] = {
		{ 0, 2 }, { 9, 2 },		/* before the first: the last covers the wrap */
		{ 10, 0 }, { 15, 0 }, { 20, 1 }, { 29, 1 }, { 30, 2 }, { 255, 2 },
	};
	for (unsigned i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		h[0] = q[i].first;
		cr_assert_eq(nsec3_find(t, 3, h), q[i].want, "hash %u", q[i].first);
	}
	h[0] = 10;
	h[19] = 1;			/* just above a record: still that record */
	cr_assert_eq(nsec3_find(t, 3, h), 0);
	cr_assert_eq(nsec3_find(t, 1, h), 0, "one record covers everything");
	h[0] = 0;
	cr_assert_eq(nsec3_find(t, 1, h), 0);
	cr_assert_eq(nsec3_find(t, 0, h), IMG_NONE, "empty chain");
}
