/* Tests of control/xfr.c without a network: primaries, RFC 1982 serials, IXFR answer kinds. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <ldns/ldns.h>

#include "pharos/err.h"
#include "xfr.h"
#include "zonec.h"

Test(xfr, primary_parse)
{
	struct xfr_primary p;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&p.addr;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&p.addr;

	cr_assert_eq(xfr_primary_parse("192.0.2.1", &p), 0);
	cr_assert_str_eq(p.text, "192.0.2.1#53");
	cr_assert_eq(v4->sin_family, AF_INET);
	cr_assert_eq(ntohs(v4->sin_port), 53);
	cr_assert_eq(p.addrlen, sizeof(struct sockaddr_in));
	cr_assert_null(p.key);
	cr_assert_eq(xfr_primary_parse("192.0.2.1#5300", &p), 0);
	cr_assert_eq(ntohs(v4->sin_port), 5300);
	cr_assert_eq(xfr_primary_parse("127.0.0.1@5301", &p), 0);
	cr_assert_str_eq(p.text, "127.0.0.1#5301");
	cr_assert_eq(xfr_primary_parse("2001:db8::1#5300", &p), 0);
	cr_assert_eq(v6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(v6->sin6_port), 5300);
	cr_assert_str_eq(p.text, "2001:db8::1#5300");
	cr_assert_eq(xfr_primary_parse("[2001:db8::2]:53", &p), 0);
	cr_assert_str_eq(p.text, "2001:db8::2#53");
	cr_assert_eq(xfr_primary_parse("::1", &p), 0);
	cr_assert_eq(ntohs(v6->sin6_port), 53);

	static const char *const bad[] = {
		"", "ns1.example.com", "192.0.2.1#", "192.0.2.1#0", "192.0.2.1#65536",
		"192.0.2.1#53x", "192.0.2.256", "[2001:db8::1", "[2001:db8::1]x53", "1.2.3.4#-1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(xfr_primary_parse(bad[i], &p), PHAROS_EINVAL, "'%s'", bad[i]);
}

Test(xfr, serial_arithmetic)
{
	cr_assert_eq(xfr_serial_cmp(1, 1), 0);
	cr_assert_eq(xfr_serial_cmp(2, 1), 1);
	cr_assert_eq(xfr_serial_cmp(1, 2), -1);
	cr_assert_eq(xfr_serial_cmp(0, 0xffffffffu), 1, "wraps: 0 follows 2^32-1");
	cr_assert_eq(xfr_serial_cmp(0xffffffffu, 0), -1);
	cr_assert_eq(xfr_serial_cmp(0x7fffffffu, 0), 1);
	cr_assert_eq(xfr_serial_cmp(0x80000000u, 0), 2, "undefined");
	cr_assert_eq(xfr_serial_cmp(0, 0x80000000u), 2);
	cr_assert_eq(xfr_serial_cmp(0x80000001u, 0), -1);
	cr_assert_eq(xfr_serial_cmp(2024010101u, 2024010100u), 1);
}

/* Records given to the full-zone sink. */
struct sunk {
	int n;
	char last[256];
};

static int sink(void *ctx, const ldns_rr *rr)
{
	struct sunk *s = ctx;
	char *t = ldns_rr2str(rr);

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", t);
	free(t);
	return 0;
}

/* Feed an answer given as text RRs, one message per "|" separated group. */
static int feed(struct xfr_stream *s, const char *const *rrs, int *done_after_msg)
{
	int rc = 0;

	*done_after_msg = 0;
	for (size_t i = 0; rrs[i]; i++) {
		if (strcmp(rrs[i], "|") == 0) {
			if (xfr_stream_msg_end(s)) {
				*done_after_msg = 1;
				return 1;
			}
			continue;
		}
		ldns_rr *rr = NULL;
		cr_assert_eq(ldns_rr_new_frm_str(&rr, rrs[i], 3600, NULL, NULL), LDNS_STATUS_OK,
			     "%s", rrs[i]);
		rc = xfr_stream_rr(s, rr);
		ldns_rr_free(rr);
		if (rc < 0)
			return rc;
	}
	*done_after_msg = xfr_stream_msg_end(s);
	return rc;
}

#define SOA(n)	"example.com. 3600 IN SOA ns. host. " #n " 3600 900 604800 300"

Test(xfr, ixfr_up_to_date)
{
	static const char *const a[] = { SOA(10), NULL };
	struct xfr_stream s;
	int done;

	cr_assert_eq(xfr_stream_init(&s, "example.com.", 1, 10, NULL, NULL), 0);
	feed(&s, a, &done);
	cr_assert(done);
	cr_assert_eq(xfr_stream_kind(&s), XFR_UPTODATE);
	xfr_stream_free(&s);
}

Test(xfr, ixfr_incremental)
{
	static const char *const a[] = {
		SOA(12), SOA(10), "old.example.com. 300 IN A 192.0.2.1", SOA(11),
		"new.example.com. 300 IN A 192.0.2.2", "|",
		SOA(11), SOA(12), "new2.example.com. 300 IN A 192.0.2.3", SOA(12), NULL,
	};
	struct xfr_stream s;
	int done;

	cr_assert_eq(xfr_stream_init(&s, "example.com.", 1, 10, NULL, NULL), 0);
	cr_assert_eq(feed(&s, a, &done), 1);
	cr_assert(done);
	cr_assert_eq(xfr_stream_kind(&s), XFR_IXFR);
	cr_assert_eq(s.new_serial, 12);
	cr_assert_eq(s.ndiffs, 2);
	cr_assert_eq(s.diffs[0].from, 10);
	cr_assert_eq(s.diffs[0].to, 11);
	cr_assert_eq(ldns_rr_list_rr_count(s.diffs[0].del), 2, "SOA and the deleted A");
	cr_assert_eq(ldns_rr_list_rr_count(s.diffs[0].add), 2);
	cr_assert_eq(s.diffs[1].from, 11);
	cr_assert_eq(s.diffs[1].to, 12);
	cr_assert_eq(ldns_rr_list_rr_count(s.diffs[1].del), 1, "only the SOA");
	cr_assert_eq(ldns_rr_list_rr_count(s.diffs[1].add), 2);
	xfr_stream_free(&s);
}

Test(xfr, ixfr_answered_with_full_zone)
{
	static const char *const a[] = {
		SOA(12), "example.com. 3600 IN NS ns.example.com.", "|",
		"ns.example.com. 3600 IN A 192.0.2.1", SOA(12), NULL,
	};
	struct xfr_stream s;
	struct sunk k = { 0 };
	int done;

	cr_assert_eq(xfr_stream_init(&s, "example.com.", 1, 10, sink, &k), 0);
	cr_assert_eq(feed(&s, a, &done), 1);
	cr_assert(done);
	cr_assert_eq(xfr_stream_kind(&s), XFR_AXFR);
	cr_assert(s.axfr_style);
	cr_assert_eq(k.n, 3, "SOA, NS, A; not the closing SOA");
	xfr_stream_free(&s);
}

Test(xfr, ixfr_soa_alone_but_newer_is_not_done)
{
	static const char *const a[] = { SOA(12), NULL };
	struct xfr_stream s;
	int done;

	cr_assert_eq(xfr_stream_init(&s, "example.com.", 1, 10, NULL, NULL), 0);
	feed(&s, a, &done);
	cr_assert_not(done, "a newer SOA alone is not 'up to date': more must come, or AXFR");
	xfr_stream_free(&s);
}

Test(xfr, axfr_multi_message)
{
	static const char *const a[] = {
		SOA(5), "|", "a.example.com. 300 IN A 192.0.2.1", "|",
		"b.example.com. 300 IN A 192.0.2.2", SOA(5), NULL,
	};
	struct xfr_stream s;
	struct sunk k = { 0 };
	int done;

	cr_assert_eq(xfr_stream_init(&s, "example.com.", 0, 0, sink, &k), 0);
	cr_assert_eq(feed(&s, a, &done), 1);
	cr_assert(done);
	cr_assert_eq(xfr_stream_kind(&s), XFR_AXFR);
	cr_assert_eq(k.n, 3);
	xfr_stream_free(&s);
}

/* Each broken answer: the error and the text that names it. */
Test(xfr, broken_answers)
{
	static const struct {
		const char *rrs[6];
		int ixfr;
		const char *why;
	} cases[] = {
		{ { "a.example.com. 300 IN A 192.0.2.1", NULL }, 0,
		  "answer does not start with the zone's SOA (a.example.com. A)" },
		{ { SOA(5), "evil.example.net. 300 IN A 192.0.2.1", NULL }, 0,
		  "record outside the zone: evil.example.net. A" },
		{ { SOA(5), "a.example.com. 300 IN A 192.0.2.1", SOA(6), NULL }, 0,
		  "closing SOA has serial 6, the opening one 5" },
		{ { SOA(5), "a.example.com. 300 IN A 192.0.2.1", SOA(5),
		    "b.example.com. 300 IN A 192.0.2.1", NULL }, 0,
		  "records after the closing SOA (b.example.com. A)" },
		{ { SOA(12), SOA(10), SOA(11), SOA(9), NULL }, 1,
		  "difference sequence from serial 9 follows one ending at 11" },
		{ { SOA(12), SOA(10), SOA(9), NULL }, 1,
		  "difference sequence from serial 10 to 9 does not go forward" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xfr_stream s;
		struct sunk k = { 0 };
		int done;
		cr_assert_eq(xfr_stream_init(&s, "example.com.", cases[i].ixfr, 10, sink, &k), 0);
		cr_assert_lt(feed(&s, cases[i].rrs, &done), 0, "case %zu", i);
		cr_assert_str_eq(s.why, cases[i].why, "case %zu", i);
		xfr_stream_free(&s);
	}
}

/* A primary that never answers (a silent socket on loopback): a bounded, named failure. */
Test(xfr, silent_primary_times_out, .timeout = 10)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct xfr_primary p;
	struct xfr_req r = { .origin = "example.com.", .primary = &p, .timeout_ms = 200 };
	struct xfr_result res;
	char text[64];

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(text, sizeof(text), "127.0.0.1#%u", ntohs(sa.sin_port));
	cr_assert_eq(xfr_primary_parse(text, &p), 0);
	cr_assert_eq(xfr_fetch(&r, &res), PHAROS_ETIMEOUT);
	cr_assert(strstr(res.err, ": SOA: no answer over UDP: timed out"), "%s", res.err);
	cr_assert(strncmp(res.err, "primary 127.0.0.1#", 18) == 0, "%s", res.err);
	cr_assert_eq(res.kind, XFR_NONE);
	xfr_result_free(&res);
	close(fd);
}

static char zfirst[512];

static void zreport(void *ctx, enum zonec_severity sev, const char *file, int line,
		    const char *what)
{
	(void)ctx;
	if (sev == ZONEC_ERROR && !zfirst[0])
		zonec_format(zfirst, sizeof(zfirst), sev, file, line, what);
}

static int zadd(struct zonec_zone *z, const char *text)
{
	ldns_rr *rr = NULL;

	cr_assert_eq(ldns_rr_new_frm_str(&rr, text, 3600, NULL, NULL), LDNS_STATUS_OK, "%s", text);
	int rc = zonec_add_rr(z, rr);
	ldns_rr_free(rr);
	return rc;
}

/* zonec record by record: the same checks as a zone file, an outside record refused. */
Test(xfr, zonec_record_by_record)
{
	struct zonec_zone *z = NULL;
	uint8_t *img;
	size_t len;

	zfirst[0] = '\0';
	cr_assert_eq(zonec_begin("example.com.", "primary 192.0.2.1#53", zreport, NULL, &z), 0);
	cr_assert_eq(zadd(z, SOA(77)), 0);
	cr_assert_eq(zadd(z, "example.com. 3600 IN NS ns.example.com."), 0);
	cr_assert_eq(zadd(z, "ns.example.com. 3600 IN A 192.0.2.1"), 0);
	cr_assert_eq(zonec_end(z), 0, "%s", zfirst);
	cr_assert_eq(zonec_serial(z), 77);
	cr_assert_eq(zonec_build(z, &img, &len), 0);
	cr_assert_gt(len, 0);
	free(img);
	zonec_free(z);

	cr_assert_eq(zonec_begin("example.com.", "primary 192.0.2.1#53", zreport, NULL, &z), 0);
	cr_assert_eq(zadd(z, SOA(77)), 0);
	cr_assert_eq(zadd(z, "www.example.org. 3600 IN A 192.0.2.1"), PHAROS_EZONE);
	cr_assert_str_eq(zfirst, "primary 192.0.2.1#53:2: error: www.example.org. A is outside "
			 "the zone");
	zfirst[0] = '\0';
	cr_assert_eq(zadd(z, "a.example.com. 3600 CH A 192.0.2.1"), PHAROS_EZONE);
	cr_assert(strstr(zfirst, "class 3 is not supported"), "%s", zfirst);
	zonec_free(z);

	zfirst[0] = '\0';
	cr_assert_eq(zonec_begin("example.com.", "primary 192.0.2.1#53", zreport, NULL, &z), 0);
	cr_assert_eq(zadd(z, "ns.example.com. 3600 IN A 192.0.2.1"), 0);
	cr_assert_lt(zonec_end(z), 0);
	cr_assert(strstr(zfirst, "no SOA record at the zone apex"), "%s", zfirst);
	zonec_free(z);
}

/* A loopback "primary" that answers every datagram with a wrong ID, again and again. */
struct flood {
	int fd;
	volatile int stop;
};

static void *flood_run(void *arg)
{
	struct flood *f = arg;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	uint8_t m[512];
	ssize_t n = recvfrom(f->fd, m, sizeof(m), 0, (struct sockaddr *)&peer, &pl);

	if (n < 12)
		return NULL;
	m[0] ^= 0x55;		/* another ID */
	m[2] |= 0x80;
	while (!f->stop) {
		sendto(f->fd, m, (size_t)n, 0, (struct sockaddr *)&peer, pl);
		usleep(20000);
	}
	return NULL;
}

/* Datagrams with a wrong ID are ignored, and do not stretch the wait: it still ends. */
Test(xfr, wrong_ids_do_not_extend_the_wait, .timeout = 10)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	struct flood f = { .fd = socket(AF_INET, SOCK_DGRAM, 0) };
	struct xfr_primary p;
	struct xfr_req r = { .origin = "example.com.", .primary = &p, .timeout_ms = 300 };
	uint32_t serial;
	char err[XFR_ERR_MAX], text[64];
	pthread_t t;

	cr_assert_eq(bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(f.fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(text, sizeof(text), "127.0.0.1#%u", ntohs(sa.sin_port));
	cr_assert_eq(xfr_primary_parse(text, &p), 0);
	cr_assert_eq(pthread_create(&t, NULL, flood_run, &f), 0);
	cr_assert_eq(xfr_soa_query(&r, &serial, err, sizeof(err)), PHAROS_ETIMEOUT);
	f.stop = 1;
	pthread_join(t, NULL);
	close(f.fd);
	cr_assert(strstr(err, "SOA: no answer over UDP: timed out ("), "%s", err);
	cr_assert_null(strstr(err, "(0 answers"), "the wrong IDs were counted: %s", err);
}
