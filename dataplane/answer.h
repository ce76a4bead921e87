/* The answer engine: one DNS query in, one response out. No I/O, no allocation, no lock. */
#ifndef PHAROS_ANSWER_H
#define PHAROS_ANSWER_H

#include <stdint.h>
#include <stddef.h>
#include "img.h"
#include "snapshot.h"

#define ANSWER_UDP_MAX_DEFAULT	1232	/* our EDNS payload size (DNS flag day 2020) */

enum answer_proto { ANSWER_UDP = 0, ANSWER_TCP = 1 };

/* What happened, for the caller's counters. */
struct answer_info {
	uint8_t rcode;		/* final RCODE (low 4 bits; BADVERS reported as 16) */
	uint8_t tc;		/* 1 if truncated */
	uint8_t dropped;	/* 1 if no response must be sent */
	uint8_t expired;	/* 1 if SERVFAIL because the zone is expired */
};

/*
 * Answer one query. q/qlen: the DNS message as received. out/outcap: response buffer;
 * outcap >= 512 for UDP, >= 65535 for TCP. out may be equal to q (in-place answering):
 * everything needed from the query is read before the first byte is written.
 * snap may be NULL (nothing loaded: every name is REFUSED).
 * Returns the response length, or 0 when nothing must be sent (info->dropped = 1:
 * a response (QR=1) or fewer than 12 bytes).
 */
/* Our EDNS UDP payload size (default 1232, at least 512). Set once at start-up. */
void answer_set_udp_max(uint16_t size);

/*
 * Start warming the caches for the query in qbuf (parse its name, find its zone, hash it):
 * then img_warm_step() it, stage by stage across a batch, before answer_query(). Has no
 * effect on any answer; w->img is NULL when there is nothing to warm.
 */
void answer_warm(const struct snapshot *snap, const uint8_t *qbuf, size_t qlen,
		 struct img_warm *w);

/*
 * Identity for anycast operators, set once at start-up (strings are copied, at most 255
 * bytes): nsid = the RFC 5001 NSID payload (NULL: NSID not answered); id = the CH TXT
 * answer for id.server. / hostname.bind., version for version.server. / version.bind.
 * (NULL or "": hidden, REFUSED, as Knot). Only CH TXT is answered, with AA clear.
 */
void answer_set_ident(const char *nsid, const char *id, const char *version);

size_t answer_query(const struct snapshot *snap, const uint8_t *q, size_t qlen, uint8_t *out,
		    size_t outcap, enum answer_proto proto, struct answer_info *info);

#endif
