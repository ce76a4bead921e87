/* SOA probes for the soft health signal: send one round of queries, check answers, never block. */
#include "probe.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acconf.h"
#include "pharos/err.h"

void probe_init(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

int probe_busy(const struct probe *p)
{
	return p->fd >= 0;
}

void probe_stop(struct probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	free(p->q);
	probe_init(p);
}

/* Wire form of an SOA query for origin, RD clear. */
static int probe_query_wire(const char *origin, uint16_t id, uint8_t **wire, size_t *len)
{
	ldns_rdf *name = ldns_dname_new_frm_str(origin);
	ldns_pkt *pkt;
	ldns_status s;

	if (name == NULL)
		return PHAROS_EINVAL;
	pkt = ldns_pkt_query_new(name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	if (pkt == NULL)
		return PHAROS_ENOMEM;
	ldns_pkt_set_id(pkt, id);
	s = ldns_pkt2wire(wire, pkt, len);
	ldns_pkt_free(pkt);
	return s == LDNS_STATUS_OK ? 0 : PHAROS_ENOMEM;
}

int probe_start(struct probe *p, const char *addr, const char *const *origins,
		const uint32_t *expect, size_t n, int timeout_ms, int64_t now)
{
	struct sockaddr_in6 sa;
	unsigned salen;

	probe_stop(p);
	p->deadline_ms = now + timeout_ms;
	p->timeout_ms = timeout_ms;
	if (acconf_addr(addr, &sa, &salen) < 0) {
		snprintf(p->why, sizeof(p->why), "bad health-query address %s", addr);
		return PHAROS_EINVAL;
	}
	p->q = calloc(n ? n : 1, sizeof(*p->q));
	if (p->q == NULL)
		return PHAROS_ENOMEM;
	p->fd = socket(sa.sin6_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&sa, salen) < 0) {
		snprintf(p->why, sizeof(p->why), "health query socket to %s: %s", addr,
			 strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		return PHAROS_EIO;
	}
	p->n = n;
	for (size_t i = 0; i < n; i++) {
		struct probe_query *q = &p->q[i];
		uint8_t *wire = NULL;
		size_t len = 0;

		snprintf(q->origin, sizeof(q->origin), "%s", origins[i]);
		q->expect = expect[i];
		q->id = (uint16_t)(random() & 0xffff);
		if (probe_query_wire(q->origin, q->id, &wire, &len) < 0 ||
		    send(p->fd, wire, len, 0) != (ssize_t)len) {
			/* ECONNREFUSED: nobody listens there, a sure failure */
			snprintf(p->why, sizeof(p->why), "%.255s SOA query to %s: %s", q->origin,
				 addr, strerror(errno));
			p->failed = 1;
		}
		free(wire);
	}
	return 0;
}

static const char *probe_rcode(int rcode)
{
	static char buf[16];
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP", "REFUSED" };

	if (rcode >= 0 && rcode < 6)
		return names[rcode];
	snprintf(buf, sizeof(buf), "RCODE%d", rcode);
	return buf;
}

/* The SOA serial of origin in the answer section, or -1. */
static int64_t probe_soa_serial(const ldns_pkt *pkt, const char *origin)
{
	ldns_rr_list *ans = ldns_pkt_answer(pkt);
	ldns_rdf *name = ldns_dname_new_frm_str(origin);
	int64_t serial = -1;

	for (size_t i = 0; name && i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3 &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	}
	ldns_rdf_deep_free(name);
	return serial;
}

int probe_check(const uint8_t *msg, size_t len, const char *origin, uint16_t id,
		uint32_t expect, char *why, size_t whylen)
{
	ldns_pkt *pkt = NULL;
	int64_t serial;
	int rc = -1;

	if (len < 12 || ((msg[0] << 8) | msg[1]) != id || !(msg[2] & 0x80))
		return 1;
	if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "%.255s SOA: malformed answer", origin);
		return -1;
	}
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR)
		snprintf(why, whylen, "%.255s SOA: %s", origin, probe_rcode(ldns_pkt_get_rcode(pkt)));
	else if (!ldns_pkt_aa(pkt))
		snprintf(why, whylen, "%.255s SOA: answer not authoritative", origin);
	else if ((serial = probe_soa_serial(pkt, origin)) < 0)
		snprintf(why, whylen, "%.255s SOA: no SOA in the answer", origin);
	else if ((uint32_t)serial != expect)
		snprintf(why, whylen, "%.255s SOA: serial %u, expected %u", origin,
			 (unsigned)serial, expect);
	else
		rc = 0;
	ldns_pkt_free(pkt);
	return rc;
}

/* Match one datagram to its query. */
static void probe_reply(struct probe *p, const uint8_t *buf, size_t len)
{
	char why[PROBE_WHY_MAX];

	for (size_t i = 0; i < p->n; i++) {
		struct probe_query *q = &p->q[i];
		int rc;

		if (q->done)
			continue;
		rc = probe_check(buf, len, q->origin, q->id, q->expect, why, sizeof(why));
		if (rc == 1)
			continue;
		q->done = 1;
		p->answered++;
		if (rc < 0 && !p->failed) {
			p->failed = 1;
			snprintf(p->why, sizeof(p->why), "%s", why);
		}
		return;
	}
}

/* The first zone still waiting, for the timeout message. */
static const char *probe_waiting(const struct probe *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->q[i].done)
			return p->q[i].origin;
	return "?";
}

int probe_poll(struct probe *p, int64_t now, int *ok)
{
	uint8_t buf[4096];
	ssize_t n;

	if (p->fd < 0) {
		*ok = 0;
		return 1;
	}
	while (!p->failed && p->answered < p->n) {
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			snprintf(p->why, sizeof(p->why), "%.255s SOA: no answer (%s)",
				 probe_waiting(p), strerror(errno));
			p->failed = 1;
			break;
		}
		probe_reply(p, buf, (size_t)n);
	}
	if (!p->failed && p->answered < p->n && now < p->deadline_ms)
		return 0;
	if (!p->failed && p->answered < p->n)
		snprintf(p->why, sizeof(p->why), "%.255s SOA: no answer in %d ms", probe_waiting(p),
			 p->timeout_ms);
	*ok = !p->failed && p->answered == p->n;
	close(p->fd);
	p->fd = -1;
	free(p->q);
	p->q = NULL;
	return 1;
}
