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

/* The newest Time Signed of a NOTIFY for one zone accepted with one key (name, algorithm). */
struct notify_seen_key {
	char name[TSIGKEY_NAME_MAX];
	enum tsigkey_alg alg;
	char zone[256];
	uint64_t newest;
};

/*
 * Replay state (RFC 8945 5.2.3): per key and zone, the newest Time Signed of a signed
 * NOTIFY accepted. A NOTIFY with a good MAC signed earlier than that (a replay, or one
 * that came out of order) is answered BADTIME; the same second is accepted. Per zone too,
 * not per key alone: NOTIFYs for two zones signed a second apart may arrive in either
 * order, and refusing the older one would leave its zone unchecked until its refresh.
 * Kept in memory by the owner of the keys (control/secondary.c): a restart forgets it.
 * Zero it to start; notify_seen_free() frees it.
 */
struct notify_seen {
	struct notify_seen_key *keys;
	size_t n, cap;
};

/* Free the entries (the struct itself is the caller's; zeroed, it can be used again). */
void notify_seen_free(struct notify_seen *s);

/*
 * Handle one NOTIFY message received from src. Writes the response, as Knot 3 answers
 * (doc/secondary.md, NOTIFY): same ID and question, QR and opcode NOTIFY (AA clear);
 * NOERROR when accepted; NOTAUTH when the zone is not ours or the sender not allowed;
 * NOTAUTH + unsigned TSIG error BADKEY/BADSIG when the key or signature is wrong;
 * NOTAUTH + TSIG error BADTIME signed with the key, our clock as Other Data (RFC 8945
 * 5.2.3) when the signature is good but the time outside its fudge, or earlier than
 * the newest accepted with that key for that zone (seen; NULL: no replay check); FORMERR when the
 * question is not one SOA IN; signed with the sender's key when it has one) to
 * resp[0..*resplen) (cap bytes available). An accepted signed NOTIFY updates seen.
 * Returns 0 (ev says what happened; a response is always written), or PHAROS_EMALF when
 * q is not a NOTIFY at all (no response: drop it).
 */
int notify_handle(const uint8_t *q, size_t qlen, const struct sockaddr *src,
		  notify_acl_fn acl, void *ctx, struct notify_seen *seen, uint8_t *resp,
		  size_t cap, size_t *resplen, struct notify_event *ev);

#endif
