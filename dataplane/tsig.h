/* TSIG (RFC 8945) on queries: parsed so a query signed with a key we lack gets BADKEY. */
#ifndef PHAROS_TSIG_H
#define PHAROS_TSIG_H

#include <stdint.h>
#include <stddef.h>
#include "dname.h"

#define TSIG_BADKEY	17

/* What an error response has to echo from the query's TSIG RR. */
struct tsig_req {
	uint8_t key[DNAME_MAX];		/* key name, wire */
	uint8_t alg[DNAME_MAX];		/* algorithm name, wire */
	uint8_t key_len, alg_len;
	uint8_t time_signed[6];
	uint16_t fudge;
	uint16_t orig_id;
};

/*
 * Parse the RDATA of a TSIG RR (owner key/key_len already uncompressed) at pkt[off],
 * rdlen bytes. Returns 0 or PHAROS_EMALF.
 */
int tsig_parse(const uint8_t *pkt, size_t len, size_t off, uint16_t rdlen,
	       const uint8_t *key, size_t key_len, struct tsig_req *t);

/* Bytes the unsigned error TSIG RR of tsig_write_error() takes. */
size_t tsig_error_size(const struct tsig_req *t);

/*
 * Append the unsigned TSIG RR of an error response (RFC 8945 5.3.2: empty MAC, the
 * query's time, error code). Returns the bytes written, 0 if it does not fit in cap.
 */
size_t tsig_write_error(uint8_t *out, size_t cap, const struct tsig_req *t, uint16_t error);

#endif
