/* TSIG keys (RFC 8945): parsed from the config or a key file, used by xfr_ and notify_. */
#ifndef PHAROS_TSIGKEY_H
#define PHAROS_TSIGKEY_H

#include <stddef.h>
#include <stdint.h>

#define TSIGKEY_NAME_MAX	256	/* key name in text, absolute, lowercased, NUL */
#define TSIGKEY_SECRET_MAX	256	/* decoded secret bytes */
#define TSIGKEY_B64_MAX		352	/* base64 of the secret, NUL */

enum tsigkey_alg {
	TSIGKEY_HMAC_MD5 = 1,
	TSIGKEY_HMAC_SHA1,
	TSIGKEY_HMAC_SHA224,
	TSIGKEY_HMAC_SHA256,
	TSIGKEY_HMAC_SHA384,
	TSIGKEY_HMAC_SHA512,
};

/* One key. Secrets never leave pharos-control (never printed, never on the operator socket). */
struct tsig_key {
	char name[TSIGKEY_NAME_MAX];	/* "xfr-key." */
	enum tsigkey_alg alg;
	uint8_t secret[TSIGKEY_SECRET_MAX];
	size_t secret_len;
	char b64[TSIGKEY_B64_MAX];	/* the secret in base64, as ldns wants it */
};

/*
 * Make a key from its three words: name, algorithm ("hmac-sha256"; "hmac-md5" and
 * "hmac-md5.sig-alg.reg.int" are the same) and base64 secret. On error err gets what is
 * wrong ("unknown algorithm 'x'", "secret is not base64") and PHAROS_EINVAL is returned.
 */
int tsigkey_make(const char *name, const char *alg, const char *b64, struct tsig_key *out,
		 char *err, size_t errlen);

/* The algorithm's domain name as TSIG RRs carry it ("hmac-sha256."). */
const char *tsigkey_alg_name(enum tsigkey_alg alg);

/* ---- RFC 8945 on the wire (OpenSSL HMAC: all six algorithms; ldns 1.8.3 lacks sha224/384) */

#define TSIGKEY_MAC_MAX		64	/* HMAC-SHA512 */
#define TSIGKEY_FUDGE		300	/* seconds, as every signer uses */
#define TSIGKEY_UNSIGNED_MAX	99	/* unsigned messages allowed between signed (5.3.1) */

/* TSIG error codes (RFC 8945 5.2). */
enum { TSIGKEY_BADSIG = 16, TSIGKEY_BADKEY = 17, TSIGKEY_BADTIME = 18, TSIGKEY_BADTRUNC = 22 };

/* A TSIG RR found in a message; mac/other point into the message. */
struct tsigkey_rr {
	size_t off;			/* where the TSIG RR starts */
	uint8_t key[255], alg[255];	/* wire, lowercased */
	size_t key_len, alg_len;
	uint64_t time;
	uint16_t fudge, mac_len, orig_id, error, other_len;
	const uint8_t *mac, *other;
};

/*
 * Find the TSIG RR of message m (the last additional record). Returns 1 and *t, 0 when the
 * message has none, PHAROS_EMALF when the message cannot be walked.
 */
int tsigkey_find(const uint8_t *m, size_t len, struct tsigkey_rr *t);

/*
 * Sign message m[0..*len) in place: append a TSIG RR (cap bytes available), bump ARCOUNT.
 * prior: the request's MAC when signing a response (NULL for a request). error: TSIG
 * error field (0). now: UNIX time (0 = the clock). The MAC made goes to mac/mac_len
 * (may be NULL) to verify the answer with. Returns 0, PHAROS_ESPACE or PHAROS_EINVAL.
 */
int tsigkey_sign(const struct tsig_key *k, uint8_t *m, size_t *len, size_t cap,
		 const uint8_t *prior, size_t prior_len, uint16_t error, uint64_t now,
		 uint8_t *mac, size_t *mac_len);

/*
 * Sign response m (as tsigkey_sign) with error BADTIME, as RFC 8945 5.2.3 wants when the
 * request's time is outside its fudge (or earlier than the newest accepted from that
 * key, notify_handle): the request's MAC as prior, Time Signed = the
 * request's (req->time, so the client can check the answer against its own clock), Other
 * Data = our clock (now, 0 = the clock) in 6 octets. req: the request's TSIG as
 * tsigkey_verify found it (its MAC verified). Returns as tsigkey_sign.
 */
int tsigkey_sign_badtime(const struct tsig_key *k, uint8_t *m, size_t *len, size_t cap,
			 const struct tsigkey_rr *req, uint64_t now, uint8_t *mac,
			 size_t *mac_len);

/* The time in t's Other Data (6 octets, a BADTIME answer's): 0, or PHAROS_ENOTFOUND. */
int tsigkey_other_time(const struct tsigkey_rr *t, uint64_t *when);

/*
 * Verify a single signed message (a request; or a single answer, prior = the request's MAC).
 * Returns 0 (good; *t describes the TSIG), TSIGKEY_BADKEY (other key name or algorithm),
 * TSIGKEY_BADSIG, TSIGKEY_BADTIME, PHAROS_ENOTFOUND (unsigned) or PHAROS_EMALF.
 */
int tsigkey_verify(const struct tsig_key *k, const uint8_t *m, size_t len,
		   const uint8_t *prior, size_t prior_len, uint64_t now, struct tsigkey_rr *t);

/* "BADSIG", "BADKEY", "BADTIME", "BADTRUNC" or "error". */
const char *tsigkey_error_name(int e);

/*
 * The answers to one signed request (AXFR/IXFR, RFC 8945 5.3.1): the first must be signed
 * (digest with the request MAC and all variables), later ones with the previous MAC and the
 * timers only; up to TSIGKEY_UNSIGNED_MAX unsigned messages may come between signed ones
 * (they enter the next signed message's digest). The caller checks last_signed at the end.
 */
struct tsigkey_stream {
	const struct tsig_key *key;
	uint8_t prior[TSIGKEY_MAC_MAX];
	size_t prior_len;
	void *ctx;			/* running HMAC over unsigned messages (EVP_MAC_CTX) */
	unsigned unsigned_run;
	uint64_t messages;
	int last_signed;
};

/* Start checking the answers to a request signed with k whose MAC was req_mac. */
int tsigkey_stream_init(struct tsigkey_stream *s, const struct tsig_key *k,
			const uint8_t *req_mac, size_t req_mac_len);

/*
 * Check the next answer. Returns 0 (signed, good), 1 (unsigned, accepted for now), or a
 * negative pharos_err with why filled ("TSIG signature wrong (BADSIG) on message 3").
 */
int tsigkey_stream_next(struct tsigkey_stream *s, const uint8_t *m, size_t len, uint64_t now,
			char *why, size_t whylen);

/* Free the running HMAC (any time; the struct itself is the caller's). */
void tsigkey_stream_free(struct tsigkey_stream *s);

#endif
