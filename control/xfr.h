/* Zone transfer client: SOA query, IXFR (RFC 1995), AXFR (RFC 5936), TSIG on every message. */
#ifndef PHAROS_XFR_H
#define PHAROS_XFR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

#include "tsigkey.h"
#include "zonec.h"

#define XFR_ERR_MAX	512
#define XFR_ADDR_TXT	64

/* One primary as the config names it. */
struct xfr_primary {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const struct tsig_key *key;	/* NULL = no TSIG */
	char text[XFR_ADDR_TXT];	/* "192.0.2.1#53", "2001:db8::1#5300" for messages */
};

/* What to fetch. */
struct xfr_req {
	const char *origin;		/* "example.com." */
	const struct xfr_primary *primary;
	int have_serial;		/* we serve a version: ask IXFR from serial */
	uint32_t serial;
	int force_axfr;			/* zone-retransfer: AXFR whatever the serials say */
	uint64_t size_limit;		/* bytes of transfer messages; 0 = no limit */
	int timeout_ms;			/* per network wait (connect, each read); 0 = 10 s */
	int total_ms;			/* whole fetch, SOA check included; 0 = no bound */
};

enum xfr_kind {
	XFR_NONE = 0,	/* failed before a transfer started */
	XFR_UPTODATE,	/* the primary has nothing newer: nothing transferred */
	XFR_AXFR,
	XFR_IXFR,
};

/* One IXFR difference sequence: from -> to. SOA records are in del/add as received. */
struct xfr_diff {
	uint32_t from, to;
	ldns_rr_list *del;
	ldns_rr_list *add;
};

struct xfr_result {
	enum xfr_kind kind;
	int fallback;			/* IXFR was asked, the primary sent (or we fell back to) AXFR */
	uint32_t serial;		/* the primary's serial after the transfer / the SOA check */
	struct zonec_zone *zone;	/* XFR_AXFR: the whole zone, checked (zonec_free) */
	struct xfr_diff *diffs;		/* XFR_IXFR: in order */
	size_t ndiffs;
	uint64_t bytes, messages, records;
	char err[XFR_ERR_MAX];		/* on failure: "primary P: KIND: why", one line */
};

/*
 * Ask the primary for the zone's SOA serial (UDP, retried over TCP when truncated; signed
 * and verified when the primary has a key). Returns 0 and *serial, or a negative pharos_err
 * with err filled ("primary 192.0.2.1#53: SOA: timed out").
 */
int xfr_soa_query(const struct xfr_req *r, uint32_t *serial, char *err, size_t errlen);

/*
 * Bring the zone up to date from one primary: SOA check, then IXFR when r->have_serial
 * (falling back to AXFR when the primary refuses IXFR or answers with a full zone), AXFR
 * otherwise or when r->force_axfr. Every message is TSIG-verified when the primary has a
 * key. Nothing is served from here: the caller turns *out into an image.
 * A serial that went backwards (RFC 1982) is an error unless force_axfr.
 * Returns 0 (out->kind says what happened) or a negative pharos_err with out->err set;
 * out is always initialised, free it with xfr_result_free().
 */
int xfr_fetch(const struct xfr_req *r, struct xfr_result *out);

/* Free what a result holds (the struct itself may be on the stack). */
void xfr_result_free(struct xfr_result *r);

/* "none", "up-to-date", "AXFR", "IXFR". */
const char *xfr_kind_name(enum xfr_kind k);

/* Parse "ADDR", "ADDR#PORT", "ADDR@PORT" or "[V6]:PORT" (default port 53) into p. */
int xfr_primary_parse(const char *text, struct xfr_primary *p);

/* RFC 1982 order of serials: -1 (a < b), 0, 1 (a > b), or 2 when undefined (differ by 2^31). */
int xfr_serial_cmp(uint32_t a, uint32_t b);

/*
 * The records of an IXFR or AXFR answer, fed one at a time in order: decides which kind of
 * answer it is (RFC 1995 4: up to date = the SOA alone; incremental = SOA, then difference
 * sequences; otherwise a full zone, AXFR-style) and where it ends (the closing SOA).
 * xfr_fetch runs it on every record; the tests feed it lists.
 */
typedef int (*xfr_sink_fn)(void *ctx, const ldns_rr *rr);	/* 0 or a negative pharos_err */

struct xfr_stream {
	uint8_t origin[255];
	size_t origin_len;
	int ixfr;			/* IXFR asked: incremental and up-to-date answers allowed */
	uint32_t ours;			/* our serial (the IXFR request's) */
	int state;			/* private */
	uint32_t new_serial;		/* the answer's first SOA */
	ldns_rr *first_soa;		/* held until the answer's kind is known */
	int axfr_style;			/* 1: full zone (after an IXFR request: a fallback) */
	xfr_sink_fn sink;		/* full-zone records go here (the closing SOA does not) */
	void *sink_ctx;
	struct xfr_diff *diffs;		/* incremental: the sequences so far */
	size_t ndiffs, diffs_cap;
	uint64_t records;
	char why[256];			/* on error: what is wrong */
};

/* Start; origin in text. Returns 0 or PHAROS_EINVAL. */
int xfr_stream_init(struct xfr_stream *s, const char *origin, int ixfr, uint32_t ours,
		    xfr_sink_fn sink, void *ctx);

/* One record. Returns 0 (more expected), 1 (that was the closing SOA) or < 0 (s->why). */
int xfr_stream_rr(struct xfr_stream *s, const ldns_rr *rr);

/*
 * A message ended. Returns 1 when the answer is complete (closing SOA seen, or an IXFR
 * answered with its SOA alone: up to date when that serial is not newer than ours), else 0.
 */
int xfr_stream_msg_end(struct xfr_stream *s);

/* Kind of a complete answer: XFR_UPTODATE, XFR_IXFR or XFR_AXFR. */
enum xfr_kind xfr_stream_kind(const struct xfr_stream *s);

/* Free what the stream still holds (diffs not taken, the first SOA). */
void xfr_stream_free(struct xfr_stream *s);

#endif
