/* TSIG keys and RFC 8945 signing/verification on the wire (OpenSSL HMAC, every algorithm). */
#include "tsigkey.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "pharos/err.h"
#include "dname.h"
#include "dns.h"

struct tsig_alg_desc {
	enum tsigkey_alg alg;
	const char *name;	/* as TSIG RRs carry it */
	const char *digest;	/* OpenSSL digest name */
	size_t mac_len;
};

static const struct tsig_alg_desc tsig_algs[] = {
	{ TSIGKEY_HMAC_MD5, "hmac-md5.sig-alg.reg.int.", "MD5", 16 },
	{ TSIGKEY_HMAC_SHA1, "hmac-sha1.", "SHA1", 20 },
	{ TSIGKEY_HMAC_SHA224, "hmac-sha224.", "SHA224", 28 },
	{ TSIGKEY_HMAC_SHA256, "hmac-sha256.", "SHA256", 32 },
	{ TSIGKEY_HMAC_SHA384, "hmac-sha384.", "SHA384", 48 },
	{ TSIGKEY_HMAC_SHA512, "hmac-sha512.", "SHA512", 64 },
};

static const struct tsig_alg_desc *alg_desc(enum tsigkey_alg alg)
{
	for (size_t i = 0; i < sizeof(tsig_algs) / sizeof(tsig_algs[0]); i++)
		if (tsig_algs[i].alg == alg)
			return &tsig_algs[i];
	return NULL;
}

const char *tsigkey_alg_name(enum tsigkey_alg alg)
{
	const struct tsig_alg_desc *d = alg_desc(alg);

	return d ? d->name : "unknown.";
}

/* Algorithm from its config word or TSIG name, with or without the trailing dot. */
static const struct tsig_alg_desc *alg_parse(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 8 && strncasecmp(s, "hmac-md5", 8) == 0)
		return &tsig_algs[0];
	for (size_t i = 0; i < sizeof(tsig_algs) / sizeof(tsig_algs[0]); i++)
		if (strlen(tsig_algs[i].name) == n + 1 && strncasecmp(s, tsig_algs[i].name, n) == 0)
			return &tsig_algs[i];
	return NULL;
}

/* Strict base64 (RFC 4648, padding required). Returns bytes, or -1. */
static int b64_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v;
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=' && i >= n - 2) {
			pad++;
			continue;
		} else
			return -1;
		if (pad)
			return -1;	/* data after padding */
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

int tsigkey_make(const char *name, const char *alg, const char *b64, struct tsig_key *out,
		 char *err, size_t errlen)
{
	const struct tsig_alg_desc *d = alg ? alg_parse(alg) : NULL;
	uint8_t wire[DNAME_MAX];
	size_t wlen;
	int n;

	memset(out, 0, sizeof(*out));
	if (!name || dname_from_text(name, NULL, 0, wire, &wlen) < 0 ||
	    dname_to_text(wire, out->name, sizeof(out->name)) < 0 || wlen <= 1) {
		snprintf(err, errlen, "bad key name '%s'", name ? name : "");
		return PHAROS_EINVAL;
	}
	if (!d) {
		snprintf(err, errlen, "unknown algorithm '%s' (hmac-md5, hmac-sha1, hmac-sha224, "
			 "hmac-sha256, hmac-sha384, hmac-sha512)", alg ? alg : "");
		return PHAROS_EINVAL;
	}
	if (!b64 || strlen(b64) >= sizeof(out->b64) ||
	    (n = b64_decode(b64, out->secret, sizeof(out->secret))) <= 0) {
		snprintf(err, errlen, "secret of key %s is not base64 (or longer than %u bytes)",
			 out->name, TSIGKEY_SECRET_MAX);
		return PHAROS_EINVAL;
	}
	out->alg = d->alg;
	out->secret_len = (size_t)n;
	memcpy(out->b64, b64, strlen(b64) + 1);
	return 0;
}

/* ---------------- finding the TSIG RR ---------------- */

/* Skip n RRs from *off; the last one's start is left in *last. Returns 0 or PHAROS_EMALF. */
static int skip_rrs(const uint8_t *m, size_t len, size_t *off, unsigned n, size_t *last)
{
	uint8_t name[DNAME_MAX];
	size_t nl, end;

	for (unsigned i = 0; i < n; i++) {
		*last = *off;
		if (dname_unpack(m, len, *off, name, &nl, &end) < 0 || end + 10 > len)
			return PHAROS_EMALF;
		end += 10 + (size_t)dns_get16(m + end + 8);
		if (end > len)
			return PHAROS_EMALF;
		*off = end;
	}
	return 0;
}

int tsigkey_find(const uint8_t *m, size_t len, struct tsigkey_rr *t)
{
	size_t off = DNS_HDR_LEN, last = 0, end;
	uint8_t name[DNAME_MAX];
	size_t nl;

	memset(t, 0, sizeof(*t));
	if (len < DNS_HDR_LEN)
		return PHAROS_EMALF;
	unsigned qd = dns_get16(m + 4), an = dns_get16(m + 6), ns = dns_get16(m + 8);
	unsigned ar = dns_get16(m + 10);
	for (unsigned i = 0; i < qd; i++) {
		if (dname_unpack(m, len, off, name, &nl, &end) < 0 || end + 4 > len)
			return PHAROS_EMALF;
		off = end + 4;
	}
	if (skip_rrs(m, len, &off, an + ns + ar, &last) < 0)
		return PHAROS_EMALF;
	if (off != len)
		return PHAROS_EMALF;	/* trailing bytes */
	if (ar == 0)
		return 0;
	if (dname_unpack(m, len, last, t->key, &nl, &end) < 0)
		return PHAROS_EMALF;
	if (dns_get16(m + end) != DNS_T_TSIG)
		return 0;	/* a TSIG elsewhere than last is caught by the parser (ldns) */
	t->key_len = nl;
	dname_lower(t->key, nl);
	t->off = last;
	size_t rd = end + 10, rdend = rd + dns_get16(m + end + 8);
	if (dns_get16(m + end + 2) != DNS_C_ANY || dns_get32(m + end + 4) != 0)
		return PHAROS_EMALF;
	if (dname_unpack(m, rdend, rd, t->alg, &t->alg_len, &rd) < 0 || rd + 10 > rdend)
		return PHAROS_EMALF;
	dname_lower(t->alg, t->alg_len);
	t->time = (uint64_t)dns_get16(m + rd) << 32 | dns_get32(m + rd + 2);
	t->fudge = dns_get16(m + rd + 6);
	t->mac_len = dns_get16(m + rd + 8);
	t->mac = m + rd + 10;
	rd += 10 + t->mac_len;
	if (rd + 6 > rdend)
		return PHAROS_EMALF;
	t->orig_id = dns_get16(m + rd);
	t->error = dns_get16(m + rd + 2);
	t->other_len = dns_get16(m + rd + 4);
	t->other = m + rd + 6;
	if (rd + 6 + t->other_len != rdend)
		return PHAROS_EMALF;
	return 1;
}

/* ---------------- HMAC ---------------- */

static EVP_MAC_CTX *mac_new(const struct tsig_key *k)
{
	const struct tsig_alg_desc *d = alg_desc(k->alg);
	EVP_MAC *mac = d ? EVP_MAC_fetch(NULL, "HMAC", NULL) : NULL;
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM p[2];

	EVP_MAC_free(mac);	/* the context keeps its own reference */
	if (!ctx)
		return NULL;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)d->digest, 0);
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, k->secret, k->secret_len, p)) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void mac_put(EVP_MAC_CTX *c, const void *p, size_t n)
{
	EVP_MAC_update(c, p, n);
}

static void mac_put16(EVP_MAC_CTX *c, uint16_t v)
{
	uint8_t b[2];

	dns_put16(b, v);
	mac_put(c, b, 2);
}

/* The prior MAC as the digest takes it: length, then bytes. */
static void mac_prior(EVP_MAC_CTX *c, const uint8_t *prior, size_t prior_len)
{
	if (!prior)
		return;
	mac_put16(c, (uint16_t)prior_len);
	mac_put(c, prior, prior_len);
}

/* The message without its TSIG RR: ID = original ID, ARCOUNT - 1 (RFC 8945 4.3.1). */
static void mac_msg(EVP_MAC_CTX *c, const uint8_t *m, size_t tsig_off, uint16_t orig_id)
{
	uint8_t h[DNS_HDR_LEN];

	memcpy(h, m, DNS_HDR_LEN);
	dns_put16(h, orig_id);
	dns_put16(h + 10, (uint16_t)(dns_get16(h + 10) - 1));
	mac_put(c, h, DNS_HDR_LEN);
	mac_put(c, m + DNS_HDR_LEN, tsig_off - DNS_HDR_LEN);
}

static void mac_time(EVP_MAC_CTX *c, uint64_t t, uint16_t fudge)
{
	uint8_t b[8];

	dns_put16(b, (uint16_t)(t >> 32));
	dns_put32(b + 2, (uint32_t)t);
	dns_put16(b + 6, fudge);
	mac_put(c, b, 8);
}

/* TSIG variables (RFC 8945 4.3.3), or the timers only for the later messages of a stream. */
static void mac_vars(EVP_MAC_CTX *c, const struct tsigkey_rr *t, int timers_only)
{
	if (timers_only) {
		mac_time(c, t->time, t->fudge);
		return;
	}
	mac_put(c, t->key, t->key_len);
	mac_put16(c, DNS_C_ANY);
	mac_put(c, "\0\0\0\0", 4);	/* TTL */
	mac_put(c, t->alg, t->alg_len);
	mac_time(c, t->time, t->fudge);
	mac_put16(c, t->error);
	mac_put16(c, t->other_len);
	mac_put(c, t->other, t->other_len);
}

static int mac_final(EVP_MAC_CTX *c, uint8_t *out, size_t *len)
{
	int ok = EVP_MAC_final(c, out, len, TSIGKEY_MAC_MAX);

	EVP_MAC_CTX_free(c);
	return ok ? 0 : PHAROS_EINVAL;
}

static int key_wire(const struct tsig_key *k, struct tsigkey_rr *t)
{
	if (dname_from_text(k->name, NULL, 0, t->key, &t->key_len) < 0 ||
	    dname_from_text(tsigkey_alg_name(k->alg), NULL, 0, t->alg, &t->alg_len) < 0)
		return PHAROS_EINVAL;
	return 0;
}

/*
 * The one signer: append the TSIG RR whose time, error and other data t holds (key,
 * algorithm, fudge and original ID are filled here), its MAC over prior, the message and
 * the TSIG variables (RFC 8945 4.3).
 */
static int sign_rr(const struct tsig_key *k, uint8_t *m, size_t *len, size_t cap,
		   const uint8_t *prior, size_t prior_len, struct tsigkey_rr *t,
		   uint8_t *mac, size_t *mac_len)
{
	uint8_t my[TSIGKEY_MAC_MAX];
	size_t mlen = 0, n = *len;
	EVP_MAC_CTX *c;

	if (n < DNS_HDR_LEN || key_wire(k, t) < 0)
		return PHAROS_EINVAL;
	t->fudge = TSIGKEY_FUDGE;
	t->orig_id = dns_get16(m);
	if (!(c = mac_new(k)))
		return PHAROS_ENOMEM;
	mac_prior(c, prior, prior_len);
	mac_put(c, m, n);
	mac_vars(c, t, 0);
	if (mac_final(c, my, &mlen) < 0)
		return PHAROS_EINVAL;
	size_t rr = t->key_len + 10 + t->alg_len + 16 + mlen + t->other_len;
	if (n + rr > cap || dns_get16(m + 10) == UINT16_MAX)
		return PHAROS_ESPACE;
	uint8_t *p = m + n;
	memcpy(p, t->key, t->key_len);
	p += t->key_len;
	dns_put16(p, DNS_T_TSIG);
	dns_put16(p + 2, DNS_C_ANY);
	dns_put32(p + 4, 0);
	dns_put16(p + 8, (uint16_t)(rr - t->key_len - 10));
	p += 10;
	memcpy(p, t->alg, t->alg_len);
	p += t->alg_len;
	dns_put16(p, (uint16_t)(t->time >> 32));
	dns_put32(p + 2, (uint32_t)t->time);
	dns_put16(p + 6, t->fudge);
	dns_put16(p + 8, (uint16_t)mlen);
	memcpy(p + 10, my, mlen);
	p += 10 + mlen;
	dns_put16(p, t->orig_id);
	dns_put16(p + 2, t->error);
	dns_put16(p + 4, t->other_len);
	if (t->other_len)
		memcpy(p + 6, t->other, t->other_len);
	dns_put16(m + 10, (uint16_t)(dns_get16(m + 10) + 1));
	*len = n + rr;
	if (mac) {
		memcpy(mac, my, mlen);
		*mac_len = mlen;
	}
	return 0;
}

int tsigkey_sign(const struct tsig_key *k, uint8_t *m, size_t *len, size_t cap,
		 const uint8_t *prior, size_t prior_len, uint16_t error, uint64_t now,
		 uint8_t *mac, size_t *mac_len)
{
	struct tsigkey_rr t;

	memset(&t, 0, sizeof(t));
	t.time = now ? now : (uint64_t)time(NULL);
	t.error = error;
	return sign_rr(k, m, len, cap, prior, prior_len, &t, mac, mac_len);
}

int tsigkey_sign_badtime(const struct tsig_key *k, uint8_t *m, size_t *len, size_t cap,
			 const struct tsigkey_rr *req, uint64_t now, uint8_t *mac,
			 size_t *mac_len)
{
	struct tsigkey_rr t;
	uint8_t clock[6];

	if (!now)
		now = (uint64_t)time(NULL);
	dns_put16(clock, (uint16_t)(now >> 32));
	dns_put32(clock + 2, (uint32_t)now);
	memset(&t, 0, sizeof(t));
	t.time = req->time;		/* the client's time: it verifies within its fudge */
	t.error = TSIGKEY_BADTIME;
	t.other = clock;
	t.other_len = sizeof(clock);
	return sign_rr(k, m, len, cap, req->mac, req->mac_len, &t, mac, mac_len);
}

int tsigkey_other_time(const struct tsigkey_rr *t, uint64_t *when)
{
	if (t->other_len != 6)
		return PHAROS_ENOTFOUND;
	*when = (uint64_t)dns_get16(t->other) << 32 | dns_get32(t->other + 2);
	return 0;
}

/* Key name and algorithm of t are k's. */
static int same_key(const struct tsig_key *k, const struct tsigkey_rr *t)
{
	struct tsigkey_rr w;

	return key_wire(k, &w) == 0 && w.key_len == t->key_len &&
	       memcmp(w.key, t->key, w.key_len) == 0 && w.alg_len == t->alg_len &&
	       memcmp(w.alg, t->alg, w.alg_len) == 0;
}

static int time_ok(const struct tsigkey_rr *t, uint64_t now)
{
	uint64_t d = now > t->time ? now - t->time : t->time - now;

	return d <= t->fudge;
}

int tsigkey_verify(const struct tsig_key *k, const uint8_t *m, size_t len,
		   const uint8_t *prior, size_t prior_len, uint64_t now, struct tsigkey_rr *t)
{
	uint8_t my[TSIGKEY_MAC_MAX];
	size_t mlen = 0;
	EVP_MAC_CTX *c;
	int rc = tsigkey_find(m, len, t);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return PHAROS_ENOTFOUND;
	if (!same_key(k, t))
		return TSIGKEY_BADKEY;
	if (!(c = mac_new(k)))
		return PHAROS_ENOMEM;
	mac_prior(c, prior, prior_len);
	mac_msg(c, m, t->off, t->orig_id);
	mac_vars(c, t, 0);
	if (mac_final(c, my, &mlen) < 0)
		return PHAROS_EINVAL;
	/* RFC 8945 5.2.2: a truncated MAC shorter than half the hash or 10 bytes is refused;
	 * we accept only the full MAC, as the signers we talk to send */
	if (t->mac_len != mlen || CRYPTO_memcmp(t->mac, my, mlen) != 0)
		return TSIGKEY_BADSIG;
	if (!time_ok(t, now ? now : (uint64_t)time(NULL)))
		return TSIGKEY_BADTIME;
	return 0;
}

/* ---------------- a stream of answers (AXFR, IXFR) ---------------- */

int tsigkey_stream_init(struct tsigkey_stream *s, const struct tsig_key *k,
			const uint8_t *req_mac, size_t req_mac_len)
{
	memset(s, 0, sizeof(*s));
	s->key = k;
	if (req_mac_len > TSIGKEY_MAC_MAX)
		return PHAROS_EINVAL;
	memcpy(s->prior, req_mac, req_mac_len);
	s->prior_len = req_mac_len;
	return 0;
}

void tsigkey_stream_free(struct tsigkey_stream *s)
{
	EVP_MAC_CTX_free(s->ctx);
	s->ctx = NULL;
}

static const char *tsig_err_text(int e)
{
	switch (e) {
	case TSIGKEY_BADSIG: return "BADSIG";
	case TSIGKEY_BADKEY: return "BADKEY";
	case TSIGKEY_BADTIME: return "BADTIME";
	case TSIGKEY_BADTRUNC: return "BADTRUNC";
	default: return "error";
	}
}

const char *tsigkey_error_name(int e)
{
	return tsig_err_text(e);
}

int tsigkey_stream_next(struct tsigkey_stream *s, const uint8_t *m, size_t len, uint64_t now,
			char *why, size_t whylen)
{
	struct tsigkey_rr t;
	uint8_t my[TSIGKEY_MAC_MAX];
	size_t mlen = 0;
	int rc = tsigkey_find(m, len, &t);

	if (rc < 0) {
		snprintf(why, whylen, "malformed message (cannot find its TSIG)");
		return PHAROS_EMALF;
	}
	if (!s->ctx && !(s->ctx = mac_new(s->key)))
		return PHAROS_ENOMEM;
	if (rc == 0) {
		/* RFC 8945 5.3.1: up to 99 unsigned messages between signed ones, never first */
		if (s->messages == 0 || s->unsigned_run >= TSIGKEY_UNSIGNED_MAX) {
			snprintf(why, whylen, s->messages == 0 ? "TSIG missing" :
				 "TSIG missing on %u messages in a row", s->unsigned_run + 1);
			return PHAROS_EPROTO;
		}
		if (s->unsigned_run == 0)
			mac_prior(s->ctx, s->prior, s->prior_len);
		mac_put(s->ctx, m, len);
		s->unsigned_run++;
		s->messages++;
		s->last_signed = 0;
		return 1;
	}
	if (!same_key(s->key, &t)) {
		char kb[DNAME_TXT_MAX];
		if (dname_to_text(t.key, kb, sizeof(kb)) < 0)
			snprintf(kb, sizeof(kb), "?");
		snprintf(why, whylen, "TSIG with another key or algorithm (%s), expected %s %s",
			 kb, s->key->name, tsigkey_alg_name(s->key->alg));
		return PHAROS_EPROTO;
	}
	if (t.error) {
		snprintf(why, whylen, "TSIG error %s from the primary", tsig_err_text(t.error));
		return PHAROS_EPROTO;
	}
	if (s->unsigned_run == 0)
		mac_prior(s->ctx, s->prior, s->prior_len);
	mac_msg(s->ctx, m, t.off, t.orig_id);
	mac_vars(s->ctx, &t, s->messages > 0);
	rc = mac_final(s->ctx, my, &mlen);
	s->ctx = NULL;
	if (rc < 0)
		return rc;
	if (t.mac_len != mlen || CRYPTO_memcmp(t.mac, my, mlen) != 0) {
		snprintf(why, whylen, "TSIG signature wrong (BADSIG) on message %llu",
			 (unsigned long long)s->messages + 1);
		return PHAROS_EPROTO;
	}
	if (!time_ok(&t, now ? now : (uint64_t)time(NULL))) {
		snprintf(why, whylen, "TSIG time off by more than %u s (BADTIME)", t.fudge);
		return PHAROS_EPROTO;
	}
	memcpy(s->prior, my, mlen);
	s->prior_len = mlen;
	s->unsigned_run = 0;
	s->messages++;
	s->last_signed = 1;
	return 0;
}
