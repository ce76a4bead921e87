/* Zone transfer client: SOA check, IXFR, AXFR over TCP with poll timeouts, TSIG on each message. */
#include "xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "pharos/err.h"
#include "dname.h"
#include "dns.h"

#define XFR_MSG_MAX	65535
#define XFR_QUERY_MAX	1024
#define XFR_WAIT_MS	10000	/* per wait when the request says 0 */

enum { XS_START, XS_SOA, XS_DEL, XS_ADD, XS_AXFR, XS_DONE };

int xfr_primary_parse(const char *text, struct xfr_primary *p)
{
	char host[INET6_ADDRSTRLEN + 8];	/* fits p->text with "#65535" */
	const char *port_s = NULL;
	size_t n = strlen(text);
	unsigned long port = 53;

	memset(p, 0, sizeof(*p));
	if (n == 0 || n >= sizeof(host))
		return PHAROS_EINVAL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] != '\0' && close[1] != ':' && close[1] != '#' &&
			       close[1] != '@'))
			return PHAROS_EINVAL;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		if (close[1])
			port_s = close + 2;
	} else {
		const char *sep = strpbrk(text, "#@");
		size_t h = sep ? (size_t)(sep - text) : n;
		memcpy(host, text, h);
		host[h] = '\0';
		if (sep)
			port_s = sep + 1;
	}
	if (port_s) {
		char *end;
		errno = 0;
		port = strtoul(port_s, &end, 10);
		if (*port_s < '0' || *port_s > '9' || *end || errno || port == 0 || port > 65535)
			return PHAROS_EINVAL;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&p->addr;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		p->addrlen = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		p->addrlen = sizeof(*v6);
	} else {
		return PHAROS_EINVAL;
	}
	snprintf(p->text, sizeof(p->text), "%s#%lu", host, port);
	return 0;
}

const char *xfr_kind_name(enum xfr_kind k)
{
	static const char *const names[] = { "none", "up-to-date", "AXFR", "IXFR" };

	return (unsigned)k < 4 ? names[k] : "?";
}

void xfr_result_free(struct xfr_result *r)
{
	for (size_t i = 0; i < r->ndiffs; i++) {
		ldns_rr_list_deep_free(r->diffs[i].del);
		ldns_rr_list_deep_free(r->diffs[i].add);
	}
	free(r->diffs);
	r->diffs = NULL;
	r->ndiffs = 0;
	zonec_free(r->zone);
	r->zone = NULL;
}

int xfr_serial_cmp(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	if (d == 0)
		return 0;
	if (d == 0x80000000u)
		return 2;
	return d < 0x80000000u ? 1 : -1;
}

/* ---------------- the answer's records ---------------- */

int xfr_stream_init(struct xfr_stream *s, const char *origin, int ixfr, uint32_t ours,
		    xfr_sink_fn sink, void *ctx)
{
	memset(s, 0, sizeof(*s));
	if (dname_from_text(origin, NULL, 0, s->origin, &s->origin_len) < 0)
		return PHAROS_EINVAL;
	s->ixfr = ixfr;
	s->ours = ours;
	s->sink = sink;
	s->sink_ctx = ctx;
	return 0;
}

void xfr_stream_free(struct xfr_stream *s)
{
	for (size_t i = 0; i < s->ndiffs; i++) {
		ldns_rr_list_deep_free(s->diffs[i].del);
		ldns_rr_list_deep_free(s->diffs[i].add);
	}
	free(s->diffs);
	s->diffs = NULL;
	s->ndiffs = 0;
	ldns_rr_free(s->first_soa);
	s->first_soa = NULL;
}

static int st_fail(struct xfr_stream *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int st_fail(struct xfr_stream *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return rc;
}

static const char *rr_text(const ldns_rr *rr, char *buf, size_t cap)
{
	char tb[16];
	const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));
	const char *t = d && d->_name ? d->_name : NULL;

	if (!t) {
		snprintf(tb, sizeof(tb), "TYPE%u", (unsigned)ldns_rr_get_type(rr));
		t = tb;
	}
	char nb[DNAME_TXT_MAX];
	const ldns_rdf *o = ldns_rr_owner(rr);
	if (ldns_rdf_size(o) > DNAME_MAX || dname_to_text(ldns_rdf_data(o), nb, sizeof(nb)) < 0)
		snprintf(nb, sizeof(nb), "(bad name)");
	snprintf(buf, cap, "%.200s %s", nb, t);
	return buf;
}

/* A new difference sequence starting with its "from" SOA. */
static int st_diff_new(struct xfr_stream *s, const ldns_rr *soa, uint32_t from)
{
	if (s->ndiffs == s->diffs_cap) {
		size_t cap = s->diffs_cap ? s->diffs_cap * 2 : 4;
		struct xfr_diff *d = realloc(s->diffs, cap * sizeof(*d));
		if (!d)
			return PHAROS_ENOMEM;
		s->diffs = d;
		s->diffs_cap = cap;
	}
	struct xfr_diff *d = &s->diffs[s->ndiffs];
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = from;
	d->del = ldns_rr_list_new();
	d->add = ldns_rr_list_new();
	s->ndiffs++;
	ldns_rr *c = ldns_rr_clone(soa);
	if (!d->del || !d->add || !c || !ldns_rr_list_push_rr(d->del, c)) {
		ldns_rr_free(c);
		return PHAROS_ENOMEM;
	}
	return 0;
}

static int st_push(ldns_rr_list *l, const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);

	if (!c || !ldns_rr_list_push_rr(l, c)) {
		ldns_rr_free(c);
		return PHAROS_ENOMEM;
	}
	return 0;
}

static int st_sink(struct xfr_stream *s, const ldns_rr *rr)
{
	return s->sink ? s->sink(s->sink_ctx, rr) : 0;
}

/* First records of the answer: its kind. */
static int st_kind(struct xfr_stream *s, const ldns_rr *rr, int is_soa, uint32_t serial)
{
	int rc;

	if (s->ixfr && is_soa && serial == s->ours && s->new_serial != s->ours) {
		s->state = XS_DEL;
		return st_diff_new(s, rr, serial);
	}
	s->axfr_style = 1;
	if ((rc = st_sink(s, s->first_soa)) < 0)
		return rc;
	if (is_soa && serial == s->new_serial) {
		s->state = XS_DONE;	/* a zone of only its SOA */
		return 1;
	}
	if (is_soa)
		return st_fail(s, PHAROS_EPROTO, "second SOA with serial %u inside the zone "
			       "(opening serial %u)", serial, s->new_serial);
	s->state = XS_AXFR;
	return st_sink(s, rr);
}

/* Incremental: SOA records separate the deletions from the additions and the sequences. */
static int st_diff_rr(struct xfr_stream *s, const ldns_rr *rr, int is_soa, uint32_t serial)
{
	struct xfr_diff *d = &s->diffs[s->ndiffs - 1];

	if (!is_soa)
		return st_push(s->state == XS_DEL ? d->del : d->add, rr);
	if (s->state == XS_DEL) {
		if (xfr_serial_cmp(serial, d->from) != 1)
			return st_fail(s, PHAROS_EPROTO, "difference sequence from serial %u to "
				       "%u does not go forward", d->from, serial);
		d->to = serial;
		s->state = XS_ADD;
		return st_push(d->add, rr);
	}
	if (serial != d->to)
		return st_fail(s, PHAROS_EPROTO, "difference sequence from serial %u follows "
			       "one ending at %u", serial, d->to);
	if (d->to == s->new_serial) {
		s->state = XS_DONE;
		return 1;
	}
	s->state = XS_DEL;
	return st_diff_new(s, rr, serial);
}

int xfr_stream_rr(struct xfr_stream *s, const ldns_rr *rr)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t len = ldns_rdf_size(o);
	uint8_t w[DNAME_MAX];
	char rb[300];
	uint32_t serial = 0;

	if (s->state == XS_DONE)
		return st_fail(s, PHAROS_EPROTO, "records after the closing SOA (%s)",
			       rr_text(rr, rb, sizeof(rb)));
	if (len == 0 || len > DNAME_MAX)
		return st_fail(s, PHAROS_EMALF, "bad owner name");
	dname_lower_copy(w, ldns_rdf_data(o), len);
	if (!dname_is_sub(w, len, s->origin, s->origin_len))
		return st_fail(s, PHAROS_EZONE, "record outside the zone: %s",
			       rr_text(rr, rb, sizeof(rb)));
	int is_soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && len == s->origin_len;
	if (is_soa) {
		if (ldns_rr_rd_count(rr) != 7 || ldns_rdf_size(ldns_rr_rdf(rr, 2)) != 4)
			return st_fail(s, PHAROS_EMALF, "malformed SOA record");
		serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	}
	s->records++;
	switch (s->state) {
	case XS_START:
		if (!is_soa)
			return st_fail(s, PHAROS_EPROTO, "answer does not start with the zone's "
				       "SOA (%s)", rr_text(rr, rb, sizeof(rb)));
		s->new_serial = serial;
		s->first_soa = ldns_rr_clone(rr);
		s->state = XS_SOA;
		return s->first_soa ? 0 : PHAROS_ENOMEM;
	case XS_SOA:
		return st_kind(s, rr, is_soa, serial);
	case XS_AXFR:
		if (!is_soa)
			return st_sink(s, rr);
		if (serial != s->new_serial)
			return st_fail(s, PHAROS_EPROTO, "closing SOA has serial %u, the opening "
				       "one %u", serial, s->new_serial);
		s->state = XS_DONE;
		return 1;
	default:
		return st_diff_rr(s, rr, is_soa, serial);
	}
}

int xfr_stream_msg_end(struct xfr_stream *s)
{
	if (s->state == XS_SOA && s->ixfr && xfr_serial_cmp(s->new_serial, s->ours) != 1)
		s->state = XS_DONE;	/* RFC 1995 4: the SOA alone, we are up to date */
	return s->state == XS_DONE;
}

enum xfr_kind xfr_stream_kind(const struct xfr_stream *s)
{
	if (s->axfr_style)
		return XFR_AXFR;
	return s->ndiffs ? XFR_IXFR : XFR_UPTODATE;
}

/* ---------------- network: every wait bounded ---------------- */

/* One fetch: the primary, the error buffer, the deadlines. */
struct xfr_ctx {
	const struct xfr_req *r;
	const char *kind;		/* "SOA", "IXFR", "AXFR", "fallback AXFR" */
	char *err;
	size_t errlen;
	int64_t end_ms;			/* whole fetch; 0 = none */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int xc_fail(struct xfr_ctx *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int xc_fail(struct xfr_ctx *x, int rc, const char *fmt, ...)
{
	char why[XFR_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "primary %s: %s: %s", x->r->primary->text, x->kind, why);
	return rc;
}

/* Wait for ev on fd: 0, PHAROS_ETIMEOUT, or PHAROS_EIO. */
static int xc_wait(struct xfr_ctx *x, int fd, short ev)
{
	int tmo = x->r->timeout_ms > 0 ? x->r->timeout_ms : XFR_WAIT_MS;
	struct pollfd p = { .fd = fd, .events = ev };

	if (x->end_ms) {
		int64_t left = x->end_ms - now_ms();
		if (left <= 0)
			return PHAROS_ETIMEOUT;
		if (left < tmo)
			tmo = (int)left;
	}
	for (;;) {
		int n = poll(&p, 1, tmo);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return PHAROS_EIO;
		return n == 0 ? PHAROS_ETIMEOUT : 0;
	}
}

static int xc_socket(struct xfr_ctx *x, int type, int *fd)
{
	const struct xfr_primary *p = x->r->primary;

	*fd = socket(p->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return xc_fail(x, PHAROS_EIO, "socket: %s", strerror(errno));
	if (connect(*fd, (const struct sockaddr *)&p->addr, p->addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return xc_fail(x, PHAROS_EIO, "connect: %s", strerror(e));
	}
	int rc = xc_wait(x, *fd, POLLOUT), e = 0;
	socklen_t el = sizeof(e);
	if (rc == 0 && getsockopt(*fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
		return 0;
	close(*fd);
	*fd = -1;
	if (rc == PHAROS_ETIMEOUT)
		return xc_fail(x, rc, "connect: timed out");
	return xc_fail(x, PHAROS_EIO, "connect: %s", strerror(e ? e : errno));
}

static int xc_send(struct xfr_ctx *x, int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = xc_wait(x, fd, POLLOUT);
			if (rc < 0)
				return xc_fail(x, rc, "send: %s", rc == PHAROS_ETIMEOUT ?
					       "timed out" : strerror(errno));
			continue;
		}
		if (n <= 0)
			return xc_fail(x, PHAROS_EIO, "send: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes. Returns 0, 1 (closed before any byte), or < 0 (err set). */
static int xc_read(struct xfr_ctx *x, int fd, uint8_t *buf, size_t len, const char *what)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0) {
			if (got == 0)
				return 1;
			return xc_fail(x, PHAROS_EIO, "connection closed in the middle of %s",
				       what);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return xc_fail(x, PHAROS_EIO, "connection dropped: %s", strerror(errno));
		int rc = xc_wait(x, fd, POLLIN);
		if (rc == PHAROS_ETIMEOUT)
			return xc_fail(x, rc, "timed out waiting for %s", what);
		if (rc < 0)
			return xc_fail(x, rc, "poll: %s", strerror(errno));
	}
	return 0;
}

/* One length-prefixed message. Returns 0, 1 (closed cleanly between messages), or < 0. */
static int xc_recv_msg(struct xfr_ctx *x, int fd, uint8_t *buf, size_t *len)
{
	uint8_t l[2];
	int rc = xc_read(x, fd, l, 2, "a message length");

	if (rc != 0)
		return rc;
	*len = dns_get16(l);
	if (*len < DNS_HDR_LEN)
		return xc_fail(x, PHAROS_EMALF, "garbage: a %zu-byte message", *len);
	rc = xc_read(x, fd, buf, *len, "a message");
	return rc == 1 ? xc_fail(x, PHAROS_EIO, "connection closed in the middle of a "
				 "message") : rc;
}

/* ---------------- messages ---------------- */

/* The query: ID, no flags, the question; for IXFR our SOA in the authority (RFC 1995 3). */
static int xc_query(struct xfr_ctx *x, uint16_t type, uint16_t id, uint8_t *buf, size_t *len,
		    uint8_t *mac, size_t *mac_len)
{
	const struct xfr_req *r = x->r;
	uint8_t o[DNAME_MAX];
	size_t olen, n = DNS_HDR_LEN;

	if (dname_from_text(r->origin, NULL, 0, o, &olen) < 0)
		return xc_fail(x, PHAROS_EINVAL, "bad zone name '%s'", r->origin);
	memset(buf, 0, DNS_HDR_LEN);
	dns_put16(buf, id);
	dns_put16(buf + 4, 1);
	memcpy(buf + n, o, olen);
	n += olen;
	dns_put16(buf + n, type);
	dns_put16(buf + n + 2, DNS_C_IN);
	n += 4;
	if (type == DNS_T_IXFR) {
		static const uint8_t soa[] = { 0xc0, 0x0c, 0, DNS_T_SOA, 0, DNS_C_IN, 0, 0, 0, 0,
					       0, 22, 0, 0 };
		dns_put16(buf + 8, 1);
		memcpy(buf + n, soa, sizeof(soa));
		n += sizeof(soa);
		dns_put32(buf + n, r->serial);
		memset(buf + n + 4, 0, 16);
		n += 20;
	}
	*len = n;
	*mac_len = 0;
	if (!r->primary->key)
		return 0;
	int rc = tsigkey_sign(r->primary->key, buf, len, XFR_QUERY_MAX, NULL, 0, 0, 0, mac,
			      mac_len);
	return rc < 0 ? xc_fail(x, rc, "cannot sign the query: %s", pharos_strerror(rc)) : 0;
}

static const char *rcode_name(unsigned rc, char buf[16])
{
	const ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rc);

	if (t && t->name)
		return t->name;
	snprintf(buf, 16, "RCODE%u", rc);
	return buf;
}

/*
 * The TSIG part of an error answer's line: the error's name; for a BADTIME signed with our
 * key over our request's MAC (RFC 8945 5.2.3: the primary's clock in Other Data) also how
 * far the primary's clock is from ours, which is what the operator has to fix.
 */
static void xc_tsig_error(const struct xfr_ctx *x, const uint8_t *m, size_t len,
			  const uint8_t *mac, size_t mac_len, const struct tsigkey_rr *t,
			  char *buf, size_t cap)
{
	const struct tsig_key *k = x->r->primary->key;
	uint64_t theirs, now = (uint64_t)time(NULL);
	struct tsigkey_rr v;

	snprintf(buf, cap, "TSIG %s", tsigkey_error_name(t->error));
	if (t->error != TSIGKEY_BADTIME || !k || !mac_len ||
	    tsigkey_verify(k, m, len, mac, mac_len, now, &v) != 0 ||
	    tsigkey_other_time(&v, &theirs) < 0)
		return;
	snprintf(buf, cap, "TSIG BADTIME: the primary's clock is %llu s %s ours",
		 (unsigned long long)(theirs > now ? theirs - now : now - theirs),
		 theirs > now ? "ahead of" : "behind");
}

/*
 * Header and question of an answer (wire): ID, QR, opcode, rcode, question. first: the
 * question must be there (later AXFR messages may omit it). mac: our request's MAC (to
 * trust a signed BADTIME). Returns 0, the rcode (> 0) when it is not NOERROR (err set),
 * or < 0.
 */
static int xc_check_hdr(struct xfr_ctx *x, const uint8_t *m, size_t len, uint16_t id,
			uint16_t type, int first, const uint8_t *mac, size_t mac_len)
{
	uint8_t o[DNAME_MAX], q[DNAME_MAX];
	size_t olen, qlen, end;
	char rb[16];
	unsigned rcode = m[3] & 0x0f;

	if (len < DNS_HDR_LEN)
		return xc_fail(x, PHAROS_EMALF, "garbage: %zu-byte message", len);
	if (dns_get16(m) != id) {
		ldns_pkt *pkt = NULL;
		ldns_status st = ldns_wire2pkt(&pkt, m, len);
		ldns_pkt_free(pkt);
		if (st != LDNS_STATUS_OK)
			return xc_fail(x, PHAROS_EMALF, "garbage: unparsable message (%s)",
				       ldns_get_errorstr_by_id(st));
		return xc_fail(x, PHAROS_EPROTO, "answer has ID %u, the query %u",
			       dns_get16(m), id);
	}
	if (!(m[2] & DNS_F2_QR) || ((m[2] >> 3) & 0x0f) != DNS_OP_QUERY)
		return xc_fail(x, PHAROS_EPROTO, "garbage: not an answer to a query");
	if (rcode != DNS_R_NOERROR) {
		struct tsigkey_rr t;
		char tb[96];
		if (tsigkey_find(m, len, &t) == 1 && t.error) {
			xc_tsig_error(x, m, len, mac, mac_len, &t, tb, sizeof(tb));
			return xc_fail(x, (int)rcode, "answer %s (%s)", rcode_name(rcode, rb), tb);
		}
		return xc_fail(x, (int)rcode, "answer %s", rcode_name(rcode, rb));
	}
	unsigned qd = dns_get16(m + 4);
	if (qd == 0 && !first)
		return 0;
	if (qd != 1)
		return xc_fail(x, PHAROS_EPROTO, "answer has %u questions", qd);
	dname_from_text(x->r->origin, NULL, 0, o, &olen);
	if (dname_unpack(m, len, DNS_HDR_LEN, q, &qlen, &end) < 0 || end + 4 > len)
		return xc_fail(x, PHAROS_EMALF, "garbage: unparsable question");
	dname_lower(q, qlen);
	if (qlen != olen || memcmp(q, o, olen) != 0 || dns_get16(m + end) != type ||
	    dns_get16(m + end + 2) != DNS_C_IN)
		return xc_fail(x, PHAROS_EPROTO, "answer is for another question");
	return 0;
}

/* TSIG of one answer of a stream (or the single SOA answer). */
static int xc_tsig(struct xfr_ctx *x, struct tsigkey_stream *ts, const uint8_t *m,
		   size_t len)
{
	char why[256];
	int rc;

	if (!x->r->primary->key)
		return 0;
	rc = tsigkey_stream_next(ts, m, len, 0, why, sizeof(why));
	return rc < 0 ? xc_fail(x, rc, "%s", why) : 0;
}

/* ---------------- SOA query ---------------- */

static uint16_t xc_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(now_ms() ^ getpid());
	return id;
}

/* TSIG of a single answer (the SOA check), against the query's MAC. */
static int xc_tsig_single(struct xfr_ctx *x, const uint8_t *m, size_t len, const uint8_t *mac,
			  size_t mac_len)
{
	const struct tsig_key *k = x->r->primary->key;
	struct tsigkey_rr t;
	int rc;

	if (!k)
		return 0;
	rc = tsigkey_verify(k, m, len, mac, mac_len, 0, &t);
	if (rc == 0)
		return 0;
	if (rc == PHAROS_ENOTFOUND)
		return xc_fail(x, PHAROS_EPROTO, "TSIG missing");
	if (rc == TSIGKEY_BADKEY)
		return xc_fail(x, PHAROS_EPROTO, "TSIG with another key or algorithm, expected "
			       "%s %s", k->name, tsigkey_alg_name(k->alg));
	if (rc > 0)
		return xc_fail(x, PHAROS_EPROTO, "TSIG %s", rc == TSIGKEY_BADSIG ?
			       "signature wrong (BADSIG)" : "time out of range (BADTIME)");
	return xc_fail(x, rc, "garbage: malformed message");
}

/* The serial of the zone's SOA in an answer to our SOA query. */
static int xc_soa_answer(struct xfr_ctx *x, const uint8_t *m, size_t len, uint16_t id,
			 const uint8_t *mac, size_t mac_len, uint32_t *serial)
{
	uint8_t o[DNAME_MAX];
	size_t olen;
	ldns_pkt *pkt = NULL;
	int rc = xc_check_hdr(x, m, len, id, DNS_T_SOA, 1, mac, mac_len);

	if (rc != 0)
		return rc > 0 ? PHAROS_EPROTO : rc;
	if ((rc = xc_tsig_single(x, m, len, mac, mac_len)) < 0)
		return rc;
	if (!(m[2] & DNS_F2_AA))
		return xc_fail(x, PHAROS_EPROTO, "answer not authoritative (AA not set): the "
			       "primary does not serve the zone");
	ldns_status st = ldns_wire2pkt(&pkt, m, len);
	if (st != LDNS_STATUS_OK)
		return xc_fail(x, PHAROS_EMALF, "garbage: unparsable answer (%s)",
			       ldns_get_errorstr_by_id(st));
	dname_from_text(x->r->origin, NULL, 0, o, &olen);
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	rc = xc_fail(x, PHAROS_EPROTO, "answer has no SOA record of the zone");
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *ow = ldns_rr_owner(rr);
		uint8_t w[DNAME_MAX];
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rdf_size(ow) != olen ||
		    ldns_rr_rd_count(rr) != 7 || ldns_rdf_size(ldns_rr_rdf(rr, 2)) != 4)
			continue;
		dname_lower_copy(w, ldns_rdf_data(ow), olen);
		if (memcmp(w, o, olen) != 0)
			continue;
		*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		x->err[0] = '\0';
		rc = 0;
		break;
	}
	ldns_pkt_free(pkt);
	return rc;
}

/* UDP: answers with another ID are ignored (spoofing noise), the wait stays bounded. */
static int xc_soa_udp(struct xfr_ctx *x, const uint8_t *q, size_t qlen, uint8_t *m,
		      size_t *len)
{
	uint16_t id = dns_get16(q);
	unsigned ignored = 0;
	int64_t end = x->end_ms;
	int64_t mine = now_ms() + (x->r->timeout_ms > 0 ? x->r->timeout_ms : XFR_WAIT_MS);
	int fd, rc;

	/* one timeout for the whole wait: datagrams with a wrong ID do not extend it */
	if (!end || mine < end)
		x->end_ms = mine;
	if ((rc = xc_socket(x, SOCK_DGRAM, &fd)) < 0)
		goto out;
	if (send(fd, q, qlen, 0) != (ssize_t)qlen) {
		rc = xc_fail(x, PHAROS_EIO, "send: %s", strerror(errno));
		goto done;
	}
	for (;;) {
		if ((rc = xc_wait(x, fd, POLLIN)) < 0) {
			xc_fail(x, rc, "no answer over UDP: %s (%u answers with a wrong ID "
				"ignored)", rc == PHAROS_ETIMEOUT ? "timed out" : "poll failed",
				ignored);
			goto done;
		}
		ssize_t n = recv(fd, m, XFR_MSG_MAX, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rc = xc_fail(x, PHAROS_EIO, "recv: %s", strerror(errno));
			goto done;
		}
		if (n >= 2 && dns_get16(m) == id) {
			*len = (size_t)n;
			break;
		}
		ignored++;
	}
done:
	close(fd);
out:
	x->end_ms = end;
	return rc;
}

static int xc_soa_tcp(struct xfr_ctx *x, const uint8_t *q, size_t qlen, uint8_t *m,
		      size_t *len)
{
	uint8_t l[2];
	int fd, rc;

	if ((rc = xc_socket(x, SOCK_STREAM, &fd)) < 0)
		return rc;
	dns_put16(l, (uint16_t)qlen);
	if ((rc = xc_send(x, fd, l, 2)) == 0 && (rc = xc_send(x, fd, q, qlen)) == 0) {
		rc = xc_recv_msg(x, fd, m, len);
		if (rc == 1)
			rc = xc_fail(x, PHAROS_EIO, "connection closed without an answer");
	}
	close(fd);
	return rc;
}

static int xc_soa(struct xfr_ctx *x, uint32_t *serial)
{
	uint8_t q[XFR_QUERY_MAX], mac[TSIGKEY_MAC_MAX];
	size_t qlen, mac_len, len = 0;
	uint16_t id = xc_id();
	uint8_t *m = malloc(XFR_MSG_MAX);
	int rc;

	x->kind = "SOA";
	if (!m)
		return xc_fail(x, PHAROS_ENOMEM, "out of memory");
	if ((rc = xc_query(x, DNS_T_SOA, id, q, &qlen, mac, &mac_len)) < 0 ||
	    (rc = xc_soa_udp(x, q, qlen, m, &len)) < 0)
		goto done;
	if (len >= DNS_HDR_LEN && (m[2] & DNS_F2_TC) && (rc = xc_soa_tcp(x, q, qlen, m, &len)) < 0)
		goto done;
	rc = xc_soa_answer(x, m, len, id, mac, mac_len, serial);
done:
	free(m);
	return rc;
}

int xfr_soa_query(const struct xfr_req *r, uint32_t *serial, char *err, size_t errlen)
{
	struct xfr_ctx x = { .r = r, .err = err, .errlen = errlen,
			     .end_ms = r->total_ms > 0 ? now_ms() + r->total_ms : 0 };

	err[0] = '\0';
	return xc_soa(&x, serial);
}

/* ---------------- IXFR / AXFR ---------------- */

/* Where a full zone goes: a zonec zone, and its first error. */
struct xc_zone {
	struct zonec_zone *z;
	char first[XFR_ERR_MAX / 2];
};

static void xc_zreport(void *ctx, enum zonec_severity sev, const char *file, int line,
		       const char *what)
{
	struct xc_zone *zs = ctx;

	(void)file;
	if (sev != ZONEC_ERROR || zs->first[0])
		return;
	if (line > 0)
		snprintf(zs->first, sizeof(zs->first), "record %d: %s", line, what);
	else
		snprintf(zs->first, sizeof(zs->first), "%s", what);
}

static int xc_sink(void *ctx, const ldns_rr *rr)
{
	struct xc_zone *zs = ctx;

	return zonec_add_rr(zs->z, rr);
}

/* Records of a message are announced to the zone compiler this many ahead (zonec_prefetch). */
#define XC_PREFETCH	8

/* One transfer connection's state. */
struct xc_run {
	int fd;
	uint16_t id, type;
	uint8_t *buf;
	struct xfr_stream st;
	struct tsigkey_stream ts;
	struct xc_zone zs;
	char source[XFR_ADDR_TXT + 16];
};

/* Records of one message into the stream. */
static int xc_records(struct xfr_ctx *x, struct xc_run *t, size_t len)
{
	ldns_pkt *pkt = NULL;
	ldns_status s = ldns_wire2pkt(&pkt, t->buf, len);
	int rc = 0;

	if (s != LDNS_STATUS_OK)
		return xc_fail(x, PHAROS_EMALF, "garbage: unparsable message %llu (%s)",
			       (unsigned long long)t->ts.messages + 1, ldns_get_errorstr_by_id(s));
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t n = ldns_rr_list_rr_count(an);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		if (t->zs.z && i + XC_PREFETCH < n)	/* hide the name map's cache miss */
			zonec_prefetch(t->zs.z, ldns_rr_list_rr(an, i + XC_PREFETCH));
		rc = xfr_stream_rr(&t->st, ldns_rr_list_rr(an, i));
	}
	ldns_pkt_free(pkt);
	if (rc >= 0)
		return 0;
	if (t->zs.first[0])
		return xc_fail(x, rc, "%s", t->zs.first);
	return xc_fail(x, rc, "%s", t->st.why[0] ? t->st.why : pharos_strerror(rc));
}

/* Closed or silent after an IXFR answer of the SOA alone, newer than ours: fall back. */
static int xc_soa_only(const struct xc_run *t)
{
	return t->type == DNS_T_IXFR && t->st.state == XS_SOA;
}

/*
 * Read answers until the closing SOA. Returns 0, 1 (IXFR: the primary refused it or
 * answered with its SOA alone: fall back to AXFR), or < 0 (err set).
 */
static int xc_read_answers(struct xfr_ctx *x, struct xc_run *t, struct xfr_result *out)
{
	uint64_t msgs = 0;
	size_t len;
	int rc;

	for (;;) {
		rc = xc_recv_msg(x, t->fd, t->buf, &len);
		if ((rc == 1 || rc == PHAROS_ETIMEOUT) && xc_soa_only(t))
			return 1;
		if (rc == 1)
			return xc_fail(x, PHAROS_EIO, "truncated: connection closed before the "
				       "closing SOA (%llu messages, %llu records)",
				       (unsigned long long)msgs,
				       (unsigned long long)t->st.records);
		if (rc < 0)
			return rc;
		msgs++;
		out->messages++;
		out->bytes += len + 2;
		if (x->r->size_limit && out->bytes > x->r->size_limit)
			return xc_fail(x, PHAROS_ELIMIT, "transfer larger than the size limit "
				       "of %llu bytes", (unsigned long long)x->r->size_limit);
		rc = xc_check_hdr(x, t->buf, len, t->id, t->type, msgs == 1, t->ts.prior,
				  msgs == 1 ? t->ts.prior_len : 0);
		if (rc > 0 && t->type == DNS_T_IXFR && msgs == 1 &&
		    (rc == DNS_R_REFUSED || rc == DNS_R_NOTIMP || rc == DNS_R_FORMERR))
			return 1;
		if (rc != 0)
			return rc > 0 ? PHAROS_EPROTO : rc;
		if ((rc = xc_tsig(x, &t->ts, t->buf, len)) < 0 ||
		    (rc = xc_records(x, t, len)) < 0)
			return rc;
		if (xfr_stream_msg_end(&t->st))
			break;
	}
	if (x->r->primary->key && !t->ts.last_signed)
		return xc_fail(x, PHAROS_EPROTO, "TSIG missing on the last message");
	return 0;
}

/* The transfer's outcome into out. */
static int xc_result(struct xfr_ctx *x, struct xc_run *t, struct xfr_result *out)
{
	enum xfr_kind k = xfr_stream_kind(&t->st);
	int rc;

	out->records += t->st.records;
	out->serial = t->st.new_serial;
	out->kind = k;
	out->fallback = t->type == DNS_T_IXFR && k == XFR_AXFR;
	if (k == XFR_IXFR) {
		out->diffs = t->st.diffs;
		out->ndiffs = t->st.ndiffs;
		t->st.diffs = NULL;
		t->st.ndiffs = 0;
	} else if (k == XFR_AXFR) {
		if ((rc = zonec_end(t->zs.z)) < 0)
			return xc_fail(x, rc, "zone refused: %s", t->zs.first[0] ? t->zs.first :
				       pharos_strerror(rc));
		out->zone = t->zs.z;
		t->zs.z = NULL;
	}
	return 0;
}

static int xc_transfer(struct xfr_ctx *x, uint16_t type, struct xfr_result *out)
{
	const struct xfr_req *r = x->r;
	uint8_t q[XFR_QUERY_MAX + 2], mac[TSIGKEY_MAC_MAX];
	size_t qlen, mac_len;
	struct xc_run t = { .fd = -1, .id = xc_id(), .type = type };
	int rc;

	snprintf(t.source, sizeof(t.source), "primary %s", r->primary->text);
	if ((rc = xfr_stream_init(&t.st, r->origin, type == DNS_T_IXFR, r->serial, xc_sink,
				  &t.zs)) < 0)
		return xc_fail(x, rc, "bad zone name '%s'", r->origin);
	if ((rc = zonec_begin(r->origin, t.source, xc_zreport, &t.zs, &t.zs.z)) < 0 ||
	    !(t.buf = malloc(XFR_MSG_MAX))) {
		rc = xc_fail(x, rc < 0 ? rc : PHAROS_ENOMEM, "cannot start: %s",
			     pharos_strerror(rc < 0 ? rc : PHAROS_ENOMEM));
		goto done;
	}
	if ((rc = xc_query(x, type, t.id, q + 2, &qlen, mac, &mac_len)) < 0)
		goto done;
	tsigkey_stream_init(&t.ts, r->primary->key, mac, mac_len);
	dns_put16(q, (uint16_t)qlen);
	if ((rc = xc_socket(x, SOCK_STREAM, &t.fd)) < 0 ||
	    (rc = xc_send(x, t.fd, q, qlen + 2)) < 0)
		goto done;
	rc = xc_read_answers(x, &t, out);
	if (rc == 0)
		rc = xc_result(x, &t, out);
done:
	if (t.fd >= 0)
		close(t.fd);
	tsigkey_stream_free(&t.ts);
	xfr_stream_free(&t.st);
	zonec_free(t.zs.z);
	free(t.buf);
	return rc;
}

int xfr_fetch(const struct xfr_req *r, struct xfr_result *out)
{
	struct xfr_ctx x = { .r = r, .err = out->err, .errlen = sizeof(out->err),
			     .end_ms = r->total_ms > 0 ? now_ms() + r->total_ms : 0 };
	uint32_t ps = 0;
	int rc, incremental = r->have_serial && !r->force_axfr;

	memset(out, 0, sizeof(*out));
	if ((rc = xc_soa(&x, &ps)) < 0)
		return rc;
	out->serial = ps;
	if (incremental) {
		int c = xfr_serial_cmp(ps, r->serial);
		if (c == 0) {
			out->kind = XFR_UPTODATE;
			return 0;
		}
		if (c != 1)
			return xc_fail(&x, PHAROS_EZONE, "serial went backwards: the primary has "
				       "%u, we serve %u (zone-retransfer forces an AXFR)", ps,
				       r->serial);
		x.kind = "IXFR";
		rc = xc_transfer(&x, DNS_T_IXFR, out);
		if (rc == 1) {
			xfr_result_free(out);
			out->err[0] = '\0';	/* why IXFR ended (a timeout) is no failure */
			x.kind = "fallback AXFR";
			rc = xc_transfer(&x, DNS_T_AXFR, out);
			out->fallback = 1;
		}
	} else {
		x.kind = "AXFR";
		rc = xc_transfer(&x, DNS_T_AXFR, out);
	}
	if (rc == 0 && incremental && out->kind != XFR_UPTODATE &&
	    xfr_serial_cmp(out->serial, r->serial) != 1)
		rc = xc_fail(&x, PHAROS_EZONE, "serial went backwards: the primary sent %u, we "
			     "serve %u (zone-retransfer forces an AXFR)", out->serial, r->serial);
	if (rc < 0) {
		xfr_result_free(out);
		out->kind = XFR_NONE;
	}
	return rc;
}
