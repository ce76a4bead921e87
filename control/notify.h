/* NOTIFY (RFC 1996) as pharos-control receives it: parse, check source and TSIG, answer. */
#ifndef PHAROS_NOTIFY_H
#define PHAROS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tsigkey.h"

#define NOTIFY_WHY_MAX	256

/* One allowed sender: a prefix, and the key its NOTIFY must be signed with (NULL = none). */
struct notify_allow {
	struct sockaddr_storage net;	/* address; port ignored */
	unsigned prefix;		/* bits of net that must match */
	const struct tsig_key *key;
};

/* The allowed senders of a zone: returns 0 with *acl and *n, or -1 when not our zone. */
typedef int (*notify_acl_fn)(void *ctx, const char *origin, const struct notify_allow **acl,
			     size_t *n);

/* What a NOTIFY asked for. */
struct notify_event {
	int accepted;			/* 1: start a SOA check of origin now */
	char origin[256];		/* zone named in the question, "" if unparsable */
	int have_serial;		/* the NOTIFY carried a SOA in its answer section */
	uint32_t serial;
	char why[NOTIFY_WHY_MAX];	/* refused: why (for the one log line) */
};

/*
 * Handle one NOTIFY message received from src. Writes the response, as Knot 3 answers
 * (doc/secondary.md, NOTIFY): same ID and question, QR and opcode NOTIFY (AA clear);
 * NOERROR when accepted; NOTAUTH when the zone is not ours or the sender not allowed;
 * NOTAUTH + unsigned TSIG error BADKEY/BADSIG when the key or signature is wrong;
 * NOTAUTH + TSIG error BADTIME signed with the key, our clock as Other Data (RFC 8945
 * 5.2.3) when the signature is good but the time outside its fudge; FORMERR when the
 * question is not one SOA IN; signed with the sender's key when it has one) to
 * resp[0..*resplen) (cap bytes available). Returns 0 (ev says what happened; a
 * response is always written), or PHAROS_EMALF when q is not a NOTIFY at all (no
 * response: drop it).
 */
int notify_handle(const uint8_t *q, size_t qlen, const struct sockaddr *src,
		  notify_acl_fn acl, void *ctx, uint8_t *resp, size_t cap, size_t *resplen,
		  struct notify_event *ev);

#endif
