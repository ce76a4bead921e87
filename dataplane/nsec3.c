/* NSEC3 hashing (RFC 5155 5): SHA-1 (FIPS 180-4), iterated salted hash, base32hex, chain search. */
#include <string.h>
#include "pharos/err.h"
#include "nsec3.h"

#define SHA1_BLOCK	64

/* SHA-1 state (FIPS 180-4 6.1): the digest so far, a partial block, the message length. */
struct sha1 {
	uint32_t h[5];
	uint8_t buf[SHA1_BLOCK];
	uint64_t len;		/* bytes hashed so far */
};

static uint32_t rol(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

static void sha1_init(struct sha1 *s)
{
	/* FIPS 180-4 5.3.1 */
	s->h[0] = 0x67452301u;
	s->h[1] = 0xefcdab89u;
	s->h[2] = 0x98badcfeu;
	s->h[3] = 0x10325476u;
	s->h[4] = 0xc3d2e1f0u;
	s->len = 0;
}

/* f_t and K_t of FIPS 180-4 4.1.1 / 4.2.1 for round t. */
static uint32_t sha1_fk(unsigned t, uint32_t b, uint32_t c, uint32_t d, uint32_t *k)
{
	if (t < 20) {
		*k = 0x5a827999u;
		return (b & c) | (~b & d);
	}
	if (t < 40) {
		*k = 0x6ed9eba1u;
		return b ^ c ^ d;
	}
	if (t < 60) {
		*k = 0x8f1bbcdcu;
		return (b & c) | (b & d) | (c & d);
	}
	*k = 0xca62c1d6u;
	return b ^ c ^ d;
}

/* One 512-bit block (FIPS 180-4 6.1.2), with the 16-word rolling message schedule. */
static void sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[16], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];

	for (unsigned t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
	for (unsigned t = 0; t < 80; t++) {
		uint32_t k, f = sha1_fk(t, b, c, d, &k);
		if (t >= 16)
			w[t & 15] = rol(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^
					w[t & 15], 1);
		uint32_t tmp = rol(a, 5) + f + e + k + w[t & 15];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = tmp;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
	size_t have = (size_t)(s->len % SHA1_BLOCK);

	s->len += n;
	if (have) {
		size_t take = SHA1_BLOCK - have < n ? SHA1_BLOCK - have : n;
		memcpy(s->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < SHA1_BLOCK)
			return;
		sha1_block(s, s->buf);
	}
	for (; n >= SHA1_BLOCK; p += SHA1_BLOCK, n -= SHA1_BLOCK)
		sha1_block(s, p);
	memcpy(s->buf, p, n);
}

/* Padding (FIPS 180-4 5.1.1): 0x80, zeros, the length in bits as a big-endian u64. */
static void sha1_final(struct sha1 *s, uint8_t out[NSEC3_HASH_LEN])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[SHA1_BLOCK + 8] = { 0x80 };
	size_t have = (size_t)(s->len % SHA1_BLOCK);
	size_t padlen = (have < 56 ? 56 : 120) - have;

	for (unsigned i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, pad, padlen + 8);
	for (unsigned i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* Feed a wire name lowercased (RFC 5155 5: the owner name in canonical form). */
static void sha1_update_lower(struct sha1 *s, const uint8_t *name, size_t len)
{
	uint8_t chunk[SHA1_BLOCK];

	while (len > 0) {
		size_t n = len < sizeof(chunk) ? len : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = name[i] >= 'A' && name[i] <= 'Z' ? (uint8_t)(name[i] + 32) :
				   name[i];
		sha1_update(s, chunk, n);
		name += n;
		len -= n;
	}
}

void nsec3_hash(const struct img_nsec3param *p, const uint8_t *name, size_t len,
		uint8_t out[NSEC3_HASH_LEN])
{
	struct sha1 s;

	/* IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k - 1) || salt) */
	sha1_init(&s);
	sha1_update_lower(&s, name, len);
	sha1_update(&s, p->salt, p->salt_len);
	sha1_final(&s, out);
	for (unsigned k = 0; k < p->iterations; k++) {
		sha1_init(&s);
		sha1_update(&s, out, NSEC3_HASH_LEN);
		sha1_update(&s, p->salt, p->salt_len);
		sha1_final(&s, out);
	}
}

/* Value of one base32hex digit (RFC 4648 7: 0-9, A-V, either case), or -1. */
static int b32hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'V')
		return c - 'A' + 10;
	return -1;
}

int nsec3_b32hex_decode(const uint8_t *txt, size_t len, uint8_t out[NSEC3_HASH_LEN])
{
	uint32_t acc = 0;
	unsigned bits = 0, o = 0;

	/* 32 digits x 5 bits = 160 bits exactly: no padding, no leftover bits */
	if (len != NSEC3_HASH_LEN * 8 / 5)
		return PHAROS_EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = b32hex_digit(txt[i]);
		if (v < 0)
			return PHAROS_EINVAL;
		acc = acc << 5 | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return 0;
}

uint32_t nsec3_find(const struct img_nsec3 *nsec3, uint32_t n, const uint8_t hash[NSEC3_HASH_LEN])
{
	uint32_t lo = 0, hi = n;

	if (n == 0)
		return IMG_NONE;
	/* first record whose hash is greater: the one before it matches or covers */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (memcmp(nsec3[mid].hash, hash, NSEC3_HASH_LEN) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* smaller than every hash: the last record covers the wrap-around */
	return lo == 0 ? n - 1 : lo - 1;
}
