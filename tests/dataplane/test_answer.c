/* Unit tests for dataplane/answer.c: every rule of RFC 1034 4.3.2, RFC 4592, EDNS, TC. */
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "zonec.h"
#include "img.h"
#include "snapshot.h"
#include "answer.h"
#include "unit.h"

static struct snapshot *snap;

static void setup(void)
{
	char path[512];
	uint8_t *buf;
	size_t len;
	struct img *img;
	char err[256];

	snprintf(path, sizeof(path), "%s/answer.zone", getenv("PHAROS_TESTDATA"));
	cr_assert_eq(zonec_build_file(path, "example.com.", unit_quiet, NULL, &buf, &len, NULL), 0);
	cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
	struct snap_zone *z = snap_zone_new(img, "answer.zone");
	cr_assert_not_null(z);
	cr_assert_eq(snap_with(NULL, z, &snap), 0);
}

static void teardown(void)
{
	snap_release(snap);
}

TestSuite(answer, .init = setup, .fini = teardown);

/* Wire form of a query; edns < 0: no OPT, else the payload size (version in ver). */
static size_t make_query(const char *name, ldns_rr_type type, int edns, uint8_t *out)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN,
					 LDNS_RD);
	uint8_t *w;
	size_t len;

	ldns_pkt_set_id(p, 4242);
	if (edns >= 0)
		ldns_pkt_set_edns_udp_size(p, (uint16_t)edns);
	cr_assert_eq(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
	memcpy(out, w, len);
	free(w);
	ldns_pkt_free(p);
	return len;
}

static ldns_pkt *run(uint8_t *q, size_t qlen, enum answer_proto proto, struct answer_info *info)
{
	static uint8_t out[65535];
	ldns_pkt *r = NULL;
	size_t n = answer_query(snap, q, qlen, out, sizeof(out), proto, info);

	cr_assert_gt(n, 0);
	cr_assert_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_id(r), 4242);
	cr_assert(ldns_pkt_qr(r));
	return r;
}

static ldns_pkt *ask(const char *name, ldns_rr_type type, int edns)
{
	uint8_t q[512];
	struct answer_info info;

	return run(q, make_query(name, type, edns, q), ANSWER_UDP, &info);
}

static size_t count(ldns_rr_list *l, ldns_rr_type type)
{
	size_t n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == type;
	return n;
}

static void owner_is(ldns_rr_list *l, size_t i, const char *name)
{
	char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(l, i)));
	cr_assert_str_eq(s, name);
	free(s);
}

Test(answer, exact_match_merges_owner_case)
{
	ldns_pkt *r = ask("www.example.com.", LDNS_RR_TYPE_A, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert(ldns_pkt_aa(r));
	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_A), 2);
	cr_assert_eq(ldns_pkt_nscount(r), 0);
	ldns_pkt_free(r);
}

Test(answer, question_case_echoed_and_in_place)
{
	uint8_t q[512];
	struct answer_info info;
	size_t qlen = make_query("WwW.ExAmPlE.cOm.", LDNS_RR_TYPE_A, -1, q);
	uint8_t before[512];

	memcpy(before, q, qlen);
	size_t n = answer_query(snap, q, qlen, q, sizeof(q), ANSWER_UDP, &info);
	cr_assert_gt(n, qlen);
	cr_assert_eq(memcmp(q + 12, before + 12, qlen - 12), 0, "question echoed byte for byte");
	cr_assert_eq(info.rcode, 0);
	cr_assert_eq(q[7], 2, "two answers");
}

Test(answer, cname_chain_inside_zone)
{
	ldns_pkt *r = ask("chain.example.com.", LDNS_RR_TYPE_A, -1);
	ldns_rr_list *an = ldns_pkt_answer(r);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(count(an, LDNS_RR_TYPE_CNAME), 2);
	cr_assert_eq(count(an, LDNS_RR_TYPE_A), 2);
	owner_is(an, 0, "chain.example.com.");
	owner_is(an, 1, "alias.example.com.");
	owner_is(an, 2, "www.example.com.");
	ldns_pkt_free(r);
}

Test(answer, cname_out_of_zone_stops)
{
	ldns_pkt *r = ask("out.example.com.", LDNS_RR_TYPE_A, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_pkt_ancount(r), 1);
	cr_assert_eq(ldns_pkt_nscount(r), 0);
	ldns_pkt_free(r);
}

Test(answer, cname_to_missing_name_is_nxdomain)
{
	ldns_pkt *r = ask("dangling.example.com.", LDNS_RR_TYPE_A, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_CNAME), 1);
	cr_assert_eq(count(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
	ldns_pkt_free(r);
}

Test(answer, cname_loop_terminates)
{
	ldns_pkt *r = ask("loop1.example.com.", LDNS_RR_TYPE_A, -1);

	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_CNAME), 2);
	ldns_pkt_free(r);
}

Test(answer, cname_queried_by_type)
{
	ldns_pkt *r = ask("alias.example.com.", LDNS_RR_TYPE_CNAME, -1);

	cr_assert_eq(ldns_pkt_ancount(r), 1);
	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_CNAME), 1);
	ldns_pkt_free(r);
}

Test(answer, nxdomain_soa_ttl_is_minimum)
{
	ldns_pkt *r = ask("nothere.example.com.", LDNS_RR_TYPE_A, -1);
	ldns_rr_list *ns = ldns_pkt_authority(r);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	cr_assert(ldns_pkt_aa(r));
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	cr_assert_eq(count(ns, LDNS_RR_TYPE_SOA), 1);
	cr_assert_eq(ldns_rr_ttl(ldns_rr_list_rr(ns, 0)), 300);
	owner_is(ns, 0, "example.com.");
	ldns_pkt_free(r);
}

Test(answer, nodata_and_empty_non_terminal)
{
	ldns_pkt *r = ask("www.example.com.", LDNS_RR_TYPE_AAAA, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	cr_assert_eq(count(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
	ldns_pkt_free(r);
	r = ask("ent.x.example.com.", LDNS_RR_TYPE_A, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR, "ENT is NODATA, not NXDOMAIN");
	cr_assert_eq(count(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
	ldns_pkt_free(r);
}

Test(answer, referral_with_glue)
{
	ldns_pkt *r = ask("host.deep.sub.example.com.", LDNS_RR_TYPE_A, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_not(ldns_pkt_aa(r));
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	cr_assert_eq(count(ldns_pkt_authority(r), LDNS_RR_TYPE_NS), 2);
	owner_is(ldns_pkt_authority(r), 0, "sub.example.com.");
	cr_assert_eq(count(ldns_pkt_additional(r), LDNS_RR_TYPE_A), 1);
	cr_assert_eq(count(ldns_pkt_additional(r), LDNS_RR_TYPE_AAAA), 1);
	ldns_pkt_free(r);
	/* the glue name itself is below the cut: referral too */
	r = ask("ns.sub.example.com.", LDNS_RR_TYPE_A, -1);
	cr_assert_not(ldns_pkt_aa(r));
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
}

Test(answer, ds_answered_from_parent_side)
{
	ldns_pkt *r = ask("sub.example.com.", LDNS_RR_TYPE_DS, -1);

	cr_assert(ldns_pkt_aa(r));
	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_DS), 1);
	ldns_pkt_free(r);
}

Test(answer, wildcard_synthesis)
{
	ldns_pkt *r = ask("a.b.wild.example.com.", LDNS_RR_TYPE_TXT, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_pkt_ancount(r), 1);
	owner_is(ldns_pkt_answer(r), 0, "a.b.wild.example.com.");
	ldns_pkt_free(r);
	r = ask("a.wild.example.com.", LDNS_RR_TYPE_AAAA, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR, "wildcard NODATA");
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	cr_assert_eq(count(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
	ldns_pkt_free(r);
}

Test(answer, wildcard_blocked_by_existing_name)
{
	ldns_pkt *r = ask("exists.wild.example.com.", LDNS_RR_TYPE_TXT, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_pkt_ancount(r), 0, "existing name: no wildcard");
	ldns_pkt_free(r);
	r = ask("x.exists.wild.example.com.", LDNS_RR_TYPE_A, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN, "closest encloser has no *");
	ldns_pkt_free(r);
}

Test(answer, wildcard_cname_is_chased)
{
	ldns_pkt *r = ask("q.cwild.example.com.", LDNS_RR_TYPE_A, -1);
	ldns_rr_list *an = ldns_pkt_answer(r);

	cr_assert_eq(count(an, LDNS_RR_TYPE_CNAME), 1);
	owner_is(an, 0, "q.cwild.example.com.");
	cr_assert_eq(count(an, LDNS_RR_TYPE_A), 2);
	ldns_pkt_free(r);
}

Test(answer, additional_for_mx_and_ns)
{
	ldns_pkt *r = ask("example.com.", LDNS_RR_TYPE_MX, -1);

	cr_assert_eq(count(ldns_pkt_additional(r), LDNS_RR_TYPE_A), 1);
	cr_assert_eq(count(ldns_pkt_additional(r), LDNS_RR_TYPE_AAAA), 1);
	ldns_pkt_free(r);
	r = ask("example.com.", LDNS_RR_TYPE_NS, -1);
	cr_assert_eq(ldns_pkt_ancount(r), 2);
	cr_assert_eq(count(ldns_pkt_additional(r), LDNS_RR_TYPE_A), 1, "ns1 in zone only");
	ldns_pkt_free(r);
}

Test(answer, edns_echoed_and_badvers)
{
	ldns_pkt *r = ask("www.example.com.", LDNS_RR_TYPE_A, 4096);
	uint8_t q[512];
	struct answer_info info;

	cr_assert(ldns_pkt_edns(r));
	cr_assert_eq(ldns_pkt_edns_udp_size(r), 1232);
	ldns_pkt_free(r);
	size_t qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, 1232, q);
	q[qlen - 5] = 1;	/* OPT TTL: version byte */
	r = run(q, qlen, ANSWER_UDP, &info);
	cr_assert_eq(info.rcode, 16, "BADVERS");
	cr_assert_eq(ldns_pkt_edns_extended_rcode(r), 1);
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	ldns_pkt_free(r);
}

Test(answer, truncation)
{
	uint8_t q[512];
	struct answer_info info;
	ldns_pkt *r = run(q, make_query("big.example.com.", LDNS_RR_TYPE_TXT, -1, q), ANSWER_UDP,
			  &info);

	cr_assert(ldns_pkt_tc(r));
	cr_assert_eq(ldns_pkt_ancount(r), 0, "whole RRsets only");
	ldns_pkt_free(r);
	r = ask("big.example.com.", LDNS_RR_TYPE_TXT, 1232);
	cr_assert_not(ldns_pkt_tc(r));
	cr_assert_eq(ldns_pkt_ancount(r), 6);
	ldns_pkt_free(r);
	r = run(q, make_query("big.example.com.", LDNS_RR_TYPE_TXT, -1, q), ANSWER_TCP, &info);
	cr_assert_not(ldns_pkt_tc(r));
	ldns_pkt_free(r);
}

Test(answer, refused_formerr_notimp_drop)
{
	uint8_t q[512], out[512];
	struct answer_info info;
	ldns_pkt *r = ask("www.example.org.", LDNS_RR_TYPE_A, -1);
	size_t qlen;

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	cr_assert_not(ldns_pkt_aa(r));
	ldns_pkt_free(r);

	qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);
	q[5] = 2;		/* QDCOUNT 2 */
	r = run(q, qlen, ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
	ldns_pkt_free(r);

	qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);
	q[2] = (uint8_t)((q[2] & 0x87) | (5 << 3));	/* opcode UPDATE */
	r = run(q, qlen, ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(r);

	qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);
	q[2] |= 0x80;		/* a response: never answered */
	cr_assert_eq(answer_query(snap, q, qlen, out, sizeof(out), ANSWER_UDP, &info), 0);
	cr_assert(info.dropped);
	cr_assert_eq(answer_query(snap, q, 11, out, sizeof(out), ANSWER_UDP, &info), 0);
}

Test(answer, compression_pointer_in_question_is_formerr)
{
	uint8_t q[512];
	struct answer_info info;
	size_t qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);

	q[12] = 0xC0;
	q[13] = 0x0C;
	ldns_pkt *r = run(q, qlen, ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
	ldns_pkt_free(r);
}

Test(answer, nothing_loaded_is_refused)
{
	uint8_t q[512], out[512];
	struct answer_info info;
	size_t qlen = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);

	cr_assert_gt(answer_query(NULL, q, qlen, out, sizeof(out), ANSWER_UDP, &info), 0);
	cr_assert_eq(info.rcode, LDNS_RCODE_REFUSED);
}

Test(answer, mutated_queries_never_break_the_engine)
{
	static const char *const names[] = { "www.example.com.", "a.b.wild.example.com.",
					     "x.sub.example.com.", "chain.example.com." };
	uint8_t base[512], q[600], out[1232];
	struct answer_info info;

	srand(7);
	for (int i = 0; i < 200000; i++) {
		size_t len = make_query(names[i % 4], LDNS_RR_TYPE_A, (i & 1) ? 1232 : -1, base);
		memcpy(q, base, len);
		for (int k = 0, n = 1 + rand() % 4; k < n; k++)
			q[rand() % len] = (uint8_t)rand();
		if (i % 7 == 0)		/* also cut or extend */
			len = (size_t)(rand() % (int)(len + 40));
		size_t n = answer_query(snap, q, len, out, sizeof(out), ANSWER_UDP, &info);
		cr_assert_leq(n, sizeof(out));
		if (n == 0)
			continue;
		ldns_pkt *r = NULL;
		cr_assert_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK, "query %d: response parses", i);
		ldns_pkt_free(r);
	}
}

/* A query with an arbitrary class and, optionally, the NSID option. */
static size_t make_query_ex(const char *name, ldns_rr_type type, ldns_rr_class cls, int nsid,
			    uint8_t *out)
{
	size_t len = make_query(name, type, 1232, out);

	out[12 + strlen(name) + 1 + 2] = (uint8_t)(cls >> 8);	/* QCLASS after QTYPE */
	out[12 + strlen(name) + 1 + 3] = (uint8_t)cls;
	if (nsid) {
		static const uint8_t opt[] = { 0, 3, 0, 0 };	/* NSID, empty */
		memcpy(out + len, opt, sizeof(opt));
		out[len - 1] = 4;				/* OPT RDLEN */
		len += sizeof(opt);
	}
	return len;
}

Test(answer, chaos_identity_and_hidden)
{
	uint8_t q[512];
	struct answer_info info;
	ldns_pkt *r;

	answer_set_ident("pop-7", "pop-7.example.net", NULL);
	r = run(q, make_query_ex("id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_pkt_ancount(r), 1);
	char *txt = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0));
	cr_assert_str_eq(txt, "\"pop-7.example.net\"");
	free(txt);
	cr_assert_eq(ldns_rr_get_class(ldns_rr_list_rr(ldns_pkt_answer(r), 0)), LDNS_RR_CLASS_CH);
	cr_assert_not(ldns_pkt_aa(r), "AA clear: not zone data (as Knot and NSD)");
	ldns_pkt_free(r);
	r = run(q, make_query_ex("id.server.", LDNS_RR_TYPE_ANY, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED, "CH ANY: REFUSED, as Knot");
	ldns_pkt_free(r);
	r = run(q, make_query_ex("HOSTNAME.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_ancount(r), 1, "hostname.bind, any case");
	ldns_pkt_free(r);
	r = run(q, make_query_ex("version.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED, "hidden version");
	ldns_pkt_free(r);
	r = run(q, make_query_ex("www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
	answer_set_ident(NULL, "", "");
	r = run(q, make_query_ex("id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, q),
		ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED, "empty identity: hidden, as Knot");
	ldns_pkt_free(r);
	answer_set_ident(NULL, NULL, NULL);
}

Test(answer, nsid_when_asked)
{
	uint8_t q[512], out[1232];
	struct answer_info info;
	size_t n;

	answer_set_ident("pop-7", NULL, NULL);
	n = answer_query(snap, q, make_query_ex("www.example.com.", LDNS_RR_TYPE_A,
						 LDNS_RR_CLASS_IN, 1, q),
			 out, sizeof(out), ANSWER_UDP, &info);
	cr_assert_gt(n, 9);
	cr_assert_eq(memcmp(out + n - 9, "\0\3\0\5pop-7", 9), 0, "NSID option at the end");
	n = answer_query(snap, q, make_query("www.example.com.", LDNS_RR_TYPE_A, 1232, q),
			 out, sizeof(out), ANSWER_UDP, &info);
	cr_assert_eq(memcmp(out + n - 2, "\0\0", 2), 0, "no NSID unless asked");
	answer_set_ident(NULL, NULL, NULL);
}

Test(answer, any_is_minimal)
{
	ldns_pkt *r = ask("example.com.", LDNS_RR_TYPE_ANY, -1);

	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	cr_assert_eq(count(ldns_pkt_answer(r), LDNS_RR_TYPE_NS), 2, "first RRset in type order");
	cr_assert_eq(ldns_pkt_ancount(r), 2);
	ldns_pkt_free(r);
}

Test(answer, tsig_without_key_is_badkey_and_transfers_refused)
{
	/* TSIG RR: owner k1., alg hmac-sha256., time, fudge 300, 32-byte MAC, id, error 0 */
	static const uint8_t tsig[] = {
		2, 'k', '1', 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 61,
		11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
		0, 0, 0x65, 0, 0, 0, 1, 44, 0, 32,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		0x10, 0x92, 0, 0, 0, 0 };
	uint8_t q[512];
	struct answer_info info;
	size_t len = make_query("www.example.com.", LDNS_RR_TYPE_A, -1, q);

	memcpy(q + len, tsig, sizeof(tsig));
	q[11] = 1;
	ldns_pkt *r = run(q, len + sizeof(tsig), ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTAUTH);
	cr_assert_not(ldns_pkt_aa(r));
	cr_assert_eq(ldns_pkt_ancount(r), 0);
	ldns_rr *t = ldns_pkt_tsig(r);
	cr_assert_not_null(t, "unsigned TSIG RR echoed");
	cr_assert_eq(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)), 17, "BADKEY");
	ldns_pkt_free(r);

	q[11] = 0;
	r = run(q, len + sizeof(tsig), ANSWER_UDP, &info);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR, "trailing TSIG not counted");
	ldns_pkt_free(r);

	r = ask("example.com.", LDNS_RR_TYPE_AXFR, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	ldns_pkt_free(r);
}

/* An expired zone (IPC_EXPIRE): SERVFAIL for every name, AA clear, EDE 24 with EDNS. */
Test(answer, expired_zone_servfail)
{
	struct snap_zone *v = snap_zone_flagged(snap->zones[0], SNAP_ZONE_EXPIRED);
	struct snapshot *live = snap, *exp;
	static const uint8_t ede24[] = { 0, 15, 0, 2, 0, 24 };
	uint8_t q[512], out[4096];
	struct answer_info info;
	size_t n;

	cr_assert_not_null(v);
	cr_assert_eq(snap_with(live, v, &exp), 0);
	snap = exp;
	ldns_pkt *r = ask("www.example.com.", LDNS_RR_TYPE_A, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_SERVFAIL);
	cr_assert(!ldns_pkt_aa(r));
	cr_assert_eq(ldns_pkt_ancount(r) + ldns_pkt_nscount(r) + ldns_pkt_arcount(r), 0);
	ldns_pkt_free(r);
	n = answer_query(snap, q, make_query("nothere.example.com.", LDNS_RR_TYPE_SOA, 1232, q),
			 out, sizeof(out), ANSWER_UDP, &info);
	cr_assert_eq(info.rcode, LDNS_RCODE_SERVFAIL);
	cr_assert_eq(info.expired, 1);
	cr_assert_geq(n, sizeof(ede24));
	cr_assert_eq(memcmp(out + n - sizeof(ede24), ede24, sizeof(ede24)), 0, "EDE 24 last");
	n = answer_query(snap, q, make_query("www.example.org.", LDNS_RR_TYPE_A, 1232, q),
			 out, sizeof(out), ANSWER_UDP, &info);
	cr_assert_eq(info.rcode, LDNS_RCODE_REFUSED, "other names: as before");
	cr_assert_eq(info.expired, 0);
	snap = live;
	snap_release(exp);
	r = ask("www.example.com.", LDNS_RR_TYPE_A, -1);
	cr_assert_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR, "the old snapshot is untouched");
	ldns_pkt_free(r);
}

/* Warm a query all the way: what the last step points at (NULL: the walk ended early). */
static const void *warm_end(const uint8_t *q, size_t qlen)
{
	struct img_warm w;

	answer_warm(snap, q, qlen, &w);
	for (unsigned i = 0; i < IMG_WARM_STEPS; i++)
		img_warm_step(&w);
	cr_assert_null(w.img, "the walk is over after IMG_WARM_STEPS steps");
	return w.at;
}

/* Cache warming walks to the very RRset data the answer will read, and never further. */
Test(answer, warm_walk)
{
	const struct img *img = snap->zones[0]->img;
	static const uint8_t wire_mail[] = "\4mail\7example\3com";
	uint8_t q[512];
	size_t n;

	const struct img_name *nm = img_find(img, wire_mail, sizeof(wire_mail),
					     img_hash(wire_mail, sizeof(wire_mail)));
	cr_assert_not_null(nm);
	const struct img_rrset *aaaa = img_rrset(img, nm, LDNS_RR_TYPE_AAAA);
	cr_assert_not_null(aaaa);
	n = make_query("MAIL.example.com.", LDNS_RR_TYPE_AAAA, -1, q);
	cr_assert_eq(warm_end(q, n), img->base + aaaa->rdata_off, "mixed case, second RRset");
	n = make_query("mail.example.com.", LDNS_RR_TYPE_TXT, -1, q);
	cr_assert_null(warm_end(q, n), "NODATA: no RRset to warm");
	n = make_query("nothere.example.com.", LDNS_RR_TYPE_A, -1, q);
	cr_assert_null(warm_end(q, n), "NXDOMAIN");
	n = make_query("www.example.org.", LDNS_RR_TYPE_A, -1, q);
	cr_assert_null(warm_end(q, n), "no zone");
	cr_assert_null(warm_end(q, 20), "QNAME cut short");
	cr_assert_null(warm_end(q, n - 3), "QTYPE cut short");
	cr_assert_null(warm_end(q, 5), "header cut short");
}
