/*
 * Unit tests for DNSSEC serving (dataplane/answer.c): the example responses of RFC 4035
 * Appendix B and RFC 5155 Appendix B, RRset for RRset, the wildcard examples of RFC 4592
 * 2.2.1, and the same questions with DO clear.
 *
 * Each case is written from the RFC's listing: rcode and header bits, then for every section
 * the exact set of RRsets (owner, type, the type an RRSIG covers, the next name of an NSEC,
 * the next hashed owner of an NSEC3). On top of that every RR served must be byte for byte
 * the RR of the zone file (the owner replaced by the query name for a wildcard expansion),
 * with the zone's TTL, and every RRset must be whole and in one piece.
 *
 * Checked against Knot DNS 3.2 serving the same files: tests/dataplane/dnssec-knot-check.sh
 * prints its answers, and with --tests runs these very tests against it (PHAROS_DNSSEC_SERVER).
 * Knot passes all of them (the RFC's apex NS in the authority of positive answers is left
 * out, see below; each other place Knot differs has a comment "Knot:"). It also
 * orders RRs differently (RRSIGs after all RRsets of a section; NSEC/NSEC3 in another order
 * than the RFC's listing); order is not checked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include "zonec.h"
#include "img.h"
#include "snapshot.h"
#include "answer.h"
#include "unit.h"

enum section { SECTION_ANSWER, SECTION_AUTHORITY, SECTION_ADDITIONAL };
static const char *const section_name[] = { "answer", "authority", "additional" };

/* How the query is sent. */
enum edns { NO_EDNS, EDNS, DO };	/* no OPT; OPT with DO clear; OPT with DO set */

#define MAX_RRSETS	32
#define KEY_LEN		600

static struct snapshot *snap;
static ldns_rr_list *zone_rrs;	/* the same zone file read by ldns: what each RR must equal */
static char cur_query[300];	/* "name TYPE" of the query being checked, for messages */

/* ----- setup: compile the zone, open the image, one-zone snapshot ----- */

static void load(const char *file)
{
	char path[512];
	uint8_t *buf;
	size_t len;
	struct img *img;
	char err[256];
	ldns_zone *lz;
	ldns_rdf *origin = ldns_dname_new_frm_str("example.");
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", getenv("PHAROS_TESTDATA"), file);
	if (!getenv("PHAROS_DNSSEC_SERVER")) {	/* else another server answers (ask_server) */
		cr_assert_eq(zonec_build_file(path, "example.", unit_quiet, NULL, &buf, &len,
					      NULL), 0, "%s compiles", file);
		cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
		struct snap_zone *z = snap_zone_new(img, file);
		cr_assert_not_null(z);
		cr_assert_eq(snap_with(NULL, z, &snap), 0);
	}

	fp = fopen(path, "r");
	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(ldns_zone_new_frm_fp(&lz, fp, origin, 3600, LDNS_RR_CLASS_IN),
		     LDNS_STATUS_OK, "ldns reads %s", file);
	fclose(fp);
	zone_rrs = ldns_rr_list_clone(ldns_zone_rrs(lz));
	ldns_rr_list_push_rr(zone_rrs, ldns_rr_clone(ldns_zone_soa(lz)));
	ldns_zone_deep_free(lz);
	ldns_rdf_deep_free(origin);
}

static void unload(void)
{
	snap_release(snap);
	snap = NULL;
	ldns_rr_list_deep_free(zone_rrs);
	zone_rrs = NULL;
}

static void setup_rfc4035(void) { load("rfc4035-appendix-a.zone"); }
static void setup_rfc5155(void) { load("rfc5155-appendix-a.zone"); }
static void setup_rfc4592(void) { load("rfc4592-wildcard.zone"); }

TestSuite(rfc4035, .init = setup_rfc4035, .fini = unload);
TestSuite(rfc5155, .init = setup_rfc5155, .fini = unload);
TestSuite(rfc4592, .init = setup_rfc4592, .fini = unload);

/* ----- asking ----- */

static size_t make_query(const char *name, ldns_rr_type type, enum edns e, uint8_t *out,
			 size_t cap)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, 0);
	uint8_t *w;
	size_t len;

	ldns_pkt_set_id(p, 4035);
	if (e != NO_EDNS) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, e == DO);
	}
	cr_assert_eq(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
	cr_assert_leq(len, cap);
	memcpy(out, w, len);
	free(w);
	ldns_pkt_free(p);
	return len;
}

/*
 * The same query sent over UDP to PHAROS_DNSSEC_SERVER ("127.0.0.1:PORT") instead of
 * answer_query(): dnssec-knot-check.sh runs these tests against knotd this way, to show
 * which expectations a real server meets. Returns the response length.
 */
static size_t ask_server(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
	char addr[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 3 };
	char *colon;
	int fd;
	ssize_t n;

	snprintf(addr, sizeof(addr), "%s", getenv("PHAROS_DNSSEC_SERVER"));
	colon = strrchr(addr, ':');
	cr_assert_not_null(colon, "PHAROS_DNSSEC_SERVER is ADDR:PORT");
	*colon = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	cr_assert_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1, "PHAROS_DNSSEC_SERVER address");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(sendto(fd, q, qlen, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)qlen);
	n = recv(fd, out, cap, 0);
	close(fd);
	cr_assert_gt(n, 0, "%s: no response from %s", cur_query, getenv("PHAROS_DNSSEC_SERVER"));
	return (size_t)n;
}

/*
 * One query over UDP; the response parsed. Checks what every response must have: our ID,
 * QR, the question echoed, TC clear, and an OPT exactly when the query had one, with DO
 * copied from the query (RFC 3225 3).
 */
static ldns_pkt *ask(const char *name, ldns_rr_type type, enum edns e)
{
	static uint8_t out[65535];
	uint8_t q[512];
	struct answer_info info;
	ldns_pkt *r = NULL;
	char *ts = ldns_rr_type2str(type);

	snprintf(cur_query, sizeof(cur_query), "%s %s%s", name, ts,
		 e == DO ? " +dnssec" : e == EDNS ? " +edns (DO clear)" : " (no EDNS)");
	free(ts);
	size_t qlen = make_query(name, type, e, q, sizeof(q));
	size_t n = getenv("PHAROS_DNSSEC_SERVER") ? ask_server(q, qlen, out, sizeof(out)) :
		   answer_query(snap, q, qlen, out, sizeof(out), ANSWER_UDP, &info);
	cr_assert_gt(n, 0, "%s: a response", cur_query);
	cr_assert_eq(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK, "%s: response parses", cur_query);
	cr_assert_eq(ldns_pkt_id(r), 4035);
	cr_assert(ldns_pkt_qr(r));
	cr_assert_not(ldns_pkt_tc(r), "%s: fits in 1232 bytes, no TC", cur_query);
	cr_assert_eq(ldns_pkt_qdcount(r), 1);
	ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(r), 0);
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	cr_assert_eq(ldns_dname_compare(ldns_rr_owner(qrr), qname), 0, "%s: question", cur_query);
	cr_assert_eq(ldns_rr_get_type(qrr), type);
	ldns_rdf_deep_free(qname);
	if (e == NO_EDNS) {
		cr_assert_not(ldns_pkt_edns(r), "%s: no OPT in the response", cur_query);
	} else {
		cr_assert(ldns_pkt_edns(r), "%s: OPT echoed", cur_query);
		cr_assert_eq(ldns_pkt_edns_do(r), e == DO, "%s: DO copied", cur_query);
	}
	return r;
}

/*
 * The header as the RFCs write it: ";; Header: QR AA DO RCODE=0". AA and DO must be set
 * exactly when listed (DO: in the OPT of the response).
 */
static void expect_header(ldns_pkt *r, const char *hdr)
{
	const char *rc = strstr(hdr, "RCODE=");

	cr_assert_not_null(rc);
	cr_assert(ldns_pkt_qr(r));
	cr_assert_eq(ldns_pkt_get_rcode(r), atoi(rc + 6), "%s: RCODE %d, want %s", cur_query,
		     ldns_pkt_get_rcode(r), hdr);
	cr_assert_eq(ldns_pkt_aa(r), strstr(hdr, "AA") != NULL, "%s: AA %d, want '%s'", cur_query,
		     ldns_pkt_aa(r), hdr);
	cr_assert_eq(ldns_pkt_edns_do(r), strstr(hdr, "DO") != NULL, "%s: DO, want '%s'",
		     cur_query, hdr);
	cr_assert_not(ldns_pkt_ad(r), "%s: AD clear (an authoritative server)", cur_query);
}

/* ----- RRsets of a section ----- */

static ldns_rr_list *section(ldns_pkt *r, enum section s)
{
	return s == SECTION_ANSWER ? ldns_pkt_answer(r) :
	       s == SECTION_AUTHORITY ? ldns_pkt_authority(r) : ldns_pkt_additional(r);
}

static char *lower_str(const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf);

	cr_assert_not_null(s);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/*
 * What names an RRset in a listing: "owner TYPE", "owner RRSIG COVERED",
 * "owner NSEC next-name", "owner NSEC3 next-hashed-owner" (all lowercase but types).
 */
static void rr_key(const ldns_rr *rr, char *key, size_t cap)
{
	char *owner = lower_str(ldns_rr_owner(rr));
	ldns_rr_type t = ldns_rr_get_type(rr);
	char *ts = ldns_rr_type2str(t), *extra = NULL;

	if (t == LDNS_RR_TYPE_RRSIG)
		extra = ldns_rr_type2str(ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)));
	else if (t == LDNS_RR_TYPE_NSEC)
		extra = lower_str(ldns_rr_rdf(rr, 0));
	else if (t == LDNS_RR_TYPE_NSEC3)
		extra = lower_str(ldns_rr_rdf(rr, 4));
	snprintf(key, cap, "%s %s%s%s", owner, ts, extra ? " " : "", extra ? extra : "");
	free(owner);
	free(ts);
	free(extra);
}

/* The RRsets of a section, in order of first appearance; an RRset split in two fails. */
static size_t rrsets_of(ldns_rr_list *l, char keys[][KEY_LEN])
{
	size_t n = 0;
	char prev[KEY_LEN] = "";

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		char k[KEY_LEN];
		size_t j;

		rr_key(ldns_rr_list_rr(l, i), k, sizeof(k));
		for (j = 0; j < n && strcmp(keys[j], k) != 0; j++)
			;
		if (j < n) {
			cr_assert_str_eq(prev, k, "%s: RRset '%s' is split in two", cur_query, k);
			continue;
		}
		cr_assert_lt(n, MAX_RRSETS);
		snprintf(keys[n++], KEY_LEN, "%s", k);
		snprintf(prev, sizeof(prev), "%s", k);
	}
	return n;
}

static void join(char keys[][KEY_LEN], size_t n, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s\n    %s", i ? "," : "", keys[i]);
}

static void list_text(const char *const *want, char *out, size_t cap)
{
	char keys[MAX_RRSETS][KEY_LEN];
	size_t n = 0;

	for (; want[n]; n++)
		snprintf(keys[n], KEY_LEN, "%s", want[n]);
	join(keys, n, out, cap);
}

/* Zone RRs at owner of type t (for an RRSIG: covering cov). */
static void zone_find(const char *owner, ldns_rr_type t, ldns_rr_type cov, ldns_rr_list *out)
{
	ldns_rdf *d = ldns_dname_new_frm_str(owner);

	cr_assert_not_null(d, "%s", owner);
	for (size_t i = 0; i < ldns_rr_list_rr_count(zone_rrs); i++) {
		ldns_rr *z = ldns_rr_list_rr(zone_rrs, i);

		if (ldns_rr_get_type(z) != t || ldns_dname_compare(ldns_rr_owner(z), d) != 0)
			continue;
		if (t == LDNS_RR_TYPE_RRSIG &&
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(z)) != cov)
			continue;
		ldns_rr_list_push_rr(out, z);
	}
	ldns_rdf_deep_free(d);
}

/*
 * The zone's RRset a served RR comes from: at its owner, else at the nearest "*.<ancestor>"
 * (a wildcard expansion). Empty if none. The list holds the zone's RRs (free the list only).
 */
static ldns_rr_list *zone_rrset(const ldns_rr *served)
{
	ldns_rr_list *out = ldns_rr_list_new();
	char *owner = lower_str(ldns_rr_owner(served));
	ldns_rr_type t = ldns_rr_get_type(served);
	ldns_rr_type cov = t == LDNS_RR_TYPE_RRSIG ?
			   ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(served)) : 0;

	zone_find(owner, t, cov, out);
	for (char *dot = strchr(owner, '.'); ldns_rr_list_rr_count(out) == 0 && dot && dot[1];
	     dot = strchr(dot + 1, '.')) {
		char wild[300];

		snprintf(wild, sizeof(wild), "*.%s", dot + 1);
		zone_find(wild, t, cov, out);
	}
	free(owner);
	return out;
}

/* The RRSIG covering `covered` in the section has this label count (RFC 4034 3.1.3). */
static void expect_rrsig_labels(ldns_pkt *r, enum section s, ldns_rr_type covered, int labels)
{
	ldns_rr_list *l = section(r, s);

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG ||
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) != covered)
			continue;
		cr_assert_eq(ldns_rdf2native_int8(ldns_rr_rrsig_labels(rr)), labels,
			     "%s: RRSIG labels (a wildcard expansion keeps the wildcard's count)",
			     cur_query);
		return;
	}
	cr_assert_fail("%s: no RRSIG in the %s section", cur_query, section_name[s]);
}

/*
 * Every RR of the RRset named key in l is the zone's RR (same RDATA, same TTL; owner the
 * wildcard's when expanded) and the zone's RRset is whole.
 */
static void expect_rrset_is_zone_data(ldns_rr_list *l, const char *key)
{
	ldns_rr_list *zs = NULL;
	size_t served = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		char k[KEY_LEN];

		rr_key(rr, k, sizeof(k));
		if (strcmp(k, key) != 0)
			continue;
		if (!zs)
			zs = zone_rrset(rr);
		cr_assert_gt(ldns_rr_list_rr_count(zs), 0, "%s: '%s' is not in the zone", cur_query,
			     key);
		ldns_rr *c = ldns_rr_clone(rr);
		ldns_rdf_deep_free(ldns_rr_owner(c));
		ldns_rr_set_owner(c, ldns_rdf_clone(ldns_rr_owner(ldns_rr_list_rr(zs, 0))));
		size_t j;
		for (j = 0; j < ldns_rr_list_rr_count(zs); j++)
			if (ldns_rr_compare(c, ldns_rr_list_rr(zs, j)) == 0)
				break;
		char *txt = ldns_rr2str(rr);
		cr_assert_lt(j, ldns_rr_list_rr_count(zs), "%s: served RR is not the zone's: %s",
			     cur_query, txt);
		cr_assert_eq(ldns_rr_ttl(rr), ldns_rr_ttl(ldns_rr_list_rr(zs, j)),
			     "%s: TTL of %s", cur_query, txt);
		free(txt);
		ldns_rr_free(c);
		served++;
	}
	cr_assert_not_null(zs);
	cr_assert_eq(served, ldns_rr_list_rr_count(zs), "%s: RRset '%s' has %zu of its %zu RRs",
		     cur_query, key, served, ldns_rr_list_rr_count(zs));
	ldns_rr_list_free(zs);
}

/*
 * The section holds exactly the RRsets listed (any order), each whole and as in the zone.
 * want: NULL-terminated.
 */
static void expect_rrsets_(ldns_pkt *r, enum section s, const char *const *want)
{
	ldns_rr_list *l = section(r, s);
	char keys[MAX_RRSETS][KEY_LEN];
	size_t n = rrsets_of(l, keys), nw = 0;
	char got_txt[4096], want_txt[4096];

	join(keys, n, got_txt, sizeof(got_txt));
	list_text(want, want_txt, sizeof(want_txt));
	for (; want[nw]; nw++) {
		size_t j;
		for (j = 0; j < n && strcmp(keys[j], want[nw]) != 0; j++)
			;
		cr_assert_lt(j, n, "%s: %s section lacks '%s'\n  got:%s\n  want:%s", cur_query,
			     section_name[s], want[nw], got_txt, want_txt);
	}
	cr_assert_eq(n, nw, "%s: %s section has RRsets the RFC does not list\n  got:%s\n  want:%s",
		     cur_query, section_name[s], got_txt, want_txt);
	for (size_t i = 0; i < n; i++)
		expect_rrset_is_zone_data(l, keys[i]);
}

#define expect_rrsets(r, s, ...) expect_rrsets_((r), (s), (const char *const[]){ __VA_ARGS__, NULL })

static void expect_empty(ldns_pkt *r, enum section s)
{
	static const char *const none[] = { NULL };

	expect_rrsets_(r, s, none);
}

/*
 * No DNSSEC record (RRSIG, NSEC, NSEC3, DS, DNSKEY) in any section: for DO-clear queries
 * that ask for none of these types (RFC 4035 3.1.1-3.1.4: DS on a referral needs DO too).
 */
static void expect_no_dnssec(ldns_pkt *r)
{
	for (enum section s = SECTION_ANSWER; s <= SECTION_ADDITIONAL; s++) {
		ldns_rr_list *l = section(r, s);
		for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
			ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(l, i));
			char k[KEY_LEN];

			rr_key(ldns_rr_list_rr(l, i), k, sizeof(k));
			cr_assert(t != LDNS_RR_TYPE_RRSIG && t != LDNS_RR_TYPE_NSEC &&
				  t != LDNS_RR_TYPE_NSEC3 && t != LDNS_RR_TYPE_DS &&
				  t != LDNS_RR_TYPE_DNSKEY,
				  "%s: DO clear, yet '%s' in the %s section", cur_query, k,
				  section_name[s]);
		}
	}
}

/* Every RRset of the section is one of those listed (some may be absent). */
static void expect_within_(ldns_pkt *r, enum section s, const char *const *allowed)
{
	char keys[MAX_RRSETS][KEY_LEN];
	size_t n = rrsets_of(section(r, s), keys);

	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; allowed[j] && strcmp(allowed[j], keys[i]) != 0; j++)
			;
		cr_assert_not_null(allowed[j], "%s: unexpected '%s' in the %s section", cur_query,
				   keys[i], section_name[s]);
		expect_rrset_is_zone_data(section(r, s), keys[i]);
	}
}

#define expect_within(r, s, ...) expect_within_((r), (s), (const char *const[]){ __VA_ARGS__, NULL })

/*
 * Apex NS in the authority section of a positive answer: RFC 4035 B.1/B.6 and RFC 5155 B.4
 * list it; Knot 3.2 sends none, and so does Pharos (doc/answer.md: it is optional, RFC 2181
 * 6.1). Those three listings below leave it out; everything else is as the RFC lists it.
 */

/* ======================= RFC 4035 Appendix B (NSEC) ======================= */

/* B.1 Answer: "A successful query to an authoritative server." */
Test(rfc4035, b1_answer)
{
	ldns_pkt *r = ask("x.w.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_rrsets(r, SECTION_ANSWER, "x.w.example. MX", "x.w.example. RRSIG MX");
	/* RFC lists the apex NS + RRSIG here; Knot and Pharos send none (see above) */
	cr_assert_eq(ldns_pkt_nscount(r), 0, "B.1: authority section is empty");
	expect_rrsets(r, SECTION_ADDITIONAL, "xx.example. A", "xx.example. RRSIG A",
		      "xx.example. AAAA", "xx.example. RRSIG AAAA");
	ldns_pkt_free(r);
}

/* B.2 Name Error: ml.example does not exist; b.example NSEC covers it, example NSEC
 * covers *.example (no wildcard). */
Test(rfc4035, b2_name_error)
{
	ldns_pkt *r = ask("ml.example.", LDNS_RR_TYPE_A, DO);

	expect_header(r, "QR AA DO RCODE=3");
	expect_empty(r, SECTION_ANSWER);
	/* SOA TTL: the RFC lists 3600 = min(SOA TTL, MINIMUM) (RFC 2308 3); Knot agrees */
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "b.example. NSEC ns1.example.", "b.example. RRSIG NSEC",
		      "example. NSEC a.example.", "example. RRSIG NSEC");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.3 No Data Error: ns1.example exists, has no MX. */
Test(rfc4035, b3_no_data_error)
{
	ldns_pkt *r = ask("ns1.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "ns1.example. NSEC ns2.example.", "ns1.example. RRSIG NSEC");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.4 Referral to Signed Zone: NS (unsigned, not authoritative) + signed DS, glue. */
Test(rfc4035, b4_referral_to_signed_zone)
{
	ldns_pkt *r = ask("mc.a.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "a.example. NS",
		      "a.example. DS", "a.example. RRSIG DS");
	expect_rrsets(r, SECTION_ADDITIONAL, "ns1.a.example. A", "ns2.a.example. A");
	ldns_pkt_free(r);
}

/* B.5 Referral to Unsigned Zone: no DS; the NSEC of the delegation proves it. */
Test(rfc4035, b5_referral_to_unsigned_zone)
{
	ldns_pkt *r = ask("mc.b.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "b.example. NS",
		      "b.example. NSEC ns1.example.", "b.example. RRSIG NSEC");
	expect_rrsets(r, SECTION_ADDITIONAL, "ns1.b.example. A", "ns2.b.example. A");
	ldns_pkt_free(r);
}

/* B.6 Wildcard Expansion: *.w.example MX as a.z.w.example (RRSIG labels 2 < 4), and the
 * NSEC that proves no closer name (z.w.example) exists. */
Test(rfc4035, b6_wildcard_expansion)
{
	ldns_pkt *r = ask("a.z.w.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_rrsets(r, SECTION_ANSWER, "a.z.w.example. MX", "a.z.w.example. RRSIG MX");
	expect_rrsig_labels(r, SECTION_ANSWER, LDNS_RR_TYPE_MX, 2);
	/* RFC also lists the apex NS + RRSIG; Knot and Pharos send none (see above) */
	expect_rrsets(r, SECTION_AUTHORITY,
		      "x.y.w.example. NSEC xx.example.", "x.y.w.example. RRSIG NSEC");
	expect_rrsets(r, SECTION_ADDITIONAL, "ai.example. A", "ai.example. RRSIG A",
		      "ai.example. AAAA", "ai.example. RRSIG AAAA");
	ldns_pkt_free(r);
}

/* B.7 Wildcard No Data Error: no closer match (x.y.w.example NSEC), and the wildcard has no
 * AAAA (*.w.example NSEC). */
Test(rfc4035, b7_wildcard_no_data_error)
{
	ldns_pkt *r = ask("a.z.w.example.", LDNS_RR_TYPE_AAAA, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	/* Knot: same RRsets; *.w.example NSEC before x.y.w.example NSEC */
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "x.y.w.example. NSEC xx.example.", "x.y.w.example. RRSIG NSEC",
		      "*.w.example. NSEC x.w.example.", "*.w.example. RRSIG NSEC");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.8 DS Child Zone No Data Error: DS asked of the zone's own apex: NODATA from the
 * child side, the apex NSEC shows no DS. */
Test(rfc4035, b8_ds_child_zone_no_data_error)
{
	ldns_pkt *r = ask("example.", LDNS_RR_TYPE_DS, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "example. NSEC a.example.", "example. RRSIG NSEC");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* ----- the same questions with DO clear: no RRSIG, NSEC, NSEC3, DS (RFC 4035 3.1) ----- */

Test(rfc4035, do_clear_answer)
{
	enum edns modes[] = { EDNS, NO_EDNS };

	for (size_t i = 0; i < 2; i++) {
		ldns_pkt *r = ask("x.w.example.", LDNS_RR_TYPE_MX, modes[i]);

		expect_header(r, "QR AA RCODE=0");
		expect_no_dnssec(r);
		expect_rrsets(r, SECTION_ANSWER, "x.w.example. MX");
		/* the apex NS may come or not (see above), nothing else */
		expect_within(r, SECTION_AUTHORITY, "example. NS");
		expect_rrsets(r, SECTION_ADDITIONAL, "xx.example. A", "xx.example. AAAA");
		ldns_pkt_free(r);
	}
}

Test(rfc4035, do_clear_name_error)
{
	ldns_pkt *r = ask("ml.example.", LDNS_RR_TYPE_A, EDNS);

	expect_header(r, "QR AA RCODE=3");
	expect_no_dnssec(r);
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

Test(rfc4035, do_clear_no_data)
{
	ldns_pkt *r = ask("ns1.example.", LDNS_RR_TYPE_MX, EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_no_dnssec(r);
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

Test(rfc4035, do_clear_referral_has_no_ds)
{
	ldns_pkt *r = ask("mc.a.example.", LDNS_RR_TYPE_MX, EDNS);

	expect_header(r, "QR RCODE=0");
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_AUTHORITY, "a.example. NS");
	expect_rrsets(r, SECTION_ADDITIONAL, "ns1.a.example. A", "ns2.a.example. A");
	ldns_pkt_free(r);
	r = ask("mc.b.example.", LDNS_RR_TYPE_MX, EDNS);
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_AUTHORITY, "b.example. NS");
	ldns_pkt_free(r);
}

Test(rfc4035, do_clear_wildcard)
{
	ldns_pkt *r = ask("a.z.w.example.", LDNS_RR_TYPE_MX, EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_ANSWER, "a.z.w.example. MX");
	expect_within(r, SECTION_AUTHORITY, "example. NS");
	expect_rrsets(r, SECTION_ADDITIONAL, "ai.example. A", "ai.example. AAAA");
	ldns_pkt_free(r);
	r = ask("a.z.w.example.", LDNS_RR_TYPE_AAAA, EDNS);
	expect_header(r, "QR AA RCODE=0");
	expect_no_dnssec(r);
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

/* ======================= RFC 5155 Appendix B (NSEC3) ======================= */
/* Hashes: SHA-1, salt aabbccdd, 12 iterations (the zone's NSEC3PARAM). */

/* B.1 Name Error: closest encloser x.w.example (matched), next closer c.x.w.example
 * (covered), wildcard *.x.w.example (covered). */
Test(rfc5155, b1_name_error)
{
	ldns_pkt *r = ask("a.c.x.w.example.", LDNS_RR_TYPE_A, DO);

	expect_header(r, "QR AA DO RCODE=3");
	expect_empty(r, SECTION_ANSWER);
	/* Knot: same RRsets; b4um.. (closest encloser) listed first */
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      /* covers H(c.x.w.example) = 0va5bpr2ou0vk0lbqeeljri88laipsfh */
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. NSEC3 2t7b4g4vsa5smi47k61mv5bv1a22bojr",
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. RRSIG NSEC3",
		      /* matches H(x.w.example) */
		      "b4um86eghhds6nea196smvmlo4ors995.example. NSEC3 gjeqe526plbf1g8mklp59enfd789njgi",
		      "b4um86eghhds6nea196smvmlo4ors995.example. RRSIG NSEC3",
		      /* covers H(*.x.w.example) = 92pqneegtaue7pjatc3l3qnk738c6v5m */
		      "35mthgpgcu1qg68fab165klnsnk3dpvl.example. NSEC3 b4um86eghhds6nea196smvmlo4ors995",
		      "35mthgpgcu1qg68fab165klnsnk3dpvl.example. RRSIG NSEC3");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.2 No Data Error: the NSEC3 matching H(ns1.example) has no MX. */
Test(rfc5155, b2_no_data_error)
{
	ldns_pkt *r = ask("ns1.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. NSEC3 2vptu5timamqttgl4luu9kg21e0aor3s",
		      "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. RRSIG NSEC3");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.2.1 No Data Error, Empty Non-Terminal: y.w.example has an NSEC3 with no types. */
Test(rfc5155, b2_1_no_data_error_empty_non_terminal)
{
	ldns_pkt *r = ask("y.w.example.", LDNS_RR_TYPE_A, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "ji6neoaepv8b5o6k4ev33abha8ht9fgc.example. NSEC3 k8udemvp1j2f7eg6jebps17vp3n8i58h",
		      "ji6neoaepv8b5o6k4ev33abha8ht9fgc.example. RRSIG NSEC3");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.3 Referral to an Opt-Out Unsigned Zone: closest provable encloser example (matched),
 * next closer c.example (covered by an opt-out NSEC3). */
Test(rfc5155, b3_referral_to_opt_out_unsigned_zone)
{
	ldns_pkt *r = ask("mc.c.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "c.example. NS",
		      /* matches H(example) */
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. NSEC3 2t7b4g4vsa5smi47k61mv5bv1a22bojr",
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. RRSIG NSEC3",
		      /* covers H(c.example) = 4g6p9u5gvfshp30pqecj98b3maqbn1ck */
		      "35mthgpgcu1qg68fab165klnsnk3dpvl.example. NSEC3 b4um86eghhds6nea196smvmlo4ors995",
		      "35mthgpgcu1qg68fab165klnsnk3dpvl.example. RRSIG NSEC3");
	expect_rrsets(r, SECTION_ADDITIONAL, "ns1.c.example. A", "ns2.c.example. A");
	ldns_pkt_free(r);
}

/* B.4 Wildcard Expansion: the NSEC3 covering the next closer name z.w.example. */
Test(rfc5155, b4_wildcard_expansion)
{
	ldns_pkt *r = ask("a.z.w.example.", LDNS_RR_TYPE_MX, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_rrsets(r, SECTION_ANSWER, "a.z.w.example. MX", "a.z.w.example. RRSIG MX");
	expect_rrsig_labels(r, SECTION_ANSWER, LDNS_RR_TYPE_MX, 2);
	/* RFC also lists the apex NS + RRSIG; Knot and Pharos send none (see above) */
	expect_rrsets(r, SECTION_AUTHORITY,
		      /* covers H(z.w.example) = qlu7gtfaeh0ek0c05ksfhdpbcgglbe03 */
		      "q04jkcevqvmu85r014c7dkba38o0ji5r.example. NSEC3 r53bq7cc2uvmubfu5ocmm6pers9tk9en",
		      "q04jkcevqvmu85r014c7dkba38o0ji5r.example. RRSIG NSEC3");
	expect_rrsets(r, SECTION_ADDITIONAL, "ai.example. A", "ai.example. RRSIG A",
		      "ai.example. AAAA", "ai.example. RRSIG AAAA");
	ldns_pkt_free(r);
}

/* B.5 Wildcard No Data Error: closest encloser w.example (matched), next closer z.w.example
 * (covered), wildcard *.w.example (matched, no AAAA). */
Test(rfc5155, b5_wildcard_no_data_error)
{
	ldns_pkt *r = ask("a.z.w.example.", LDNS_RR_TYPE_AAAA, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	/* Knot: same RRsets, in the order r53b.., k8ud.., q04j.. */
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      /* matches H(w.example) */
		      "k8udemvp1j2f7eg6jebps17vp3n8i58h.example. NSEC3 kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
		      "k8udemvp1j2f7eg6jebps17vp3n8i58h.example. RRSIG NSEC3",
		      /* covers H(z.w.example) = qlu7gtfaeh0ek0c05ksfhdpbcgglbe03 */
		      "q04jkcevqvmu85r014c7dkba38o0ji5r.example. NSEC3 r53bq7cc2uvmubfu5ocmm6pers9tk9en",
		      "q04jkcevqvmu85r014c7dkba38o0ji5r.example. RRSIG NSEC3",
		      /* matches H(*.w.example) */
		      "r53bq7cc2uvmubfu5ocmm6pers9tk9en.example. NSEC3 t644ebqk9bibcna874givr6joj62mlhv",
		      "r53bq7cc2uvmubfu5ocmm6pers9tk9en.example. RRSIG NSEC3");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* B.6 DS Child Zone No Data Error: the NSEC3 matching H(example) has no DS. */
Test(rfc5155, b6_ds_child_zone_no_data_error)
{
	ldns_pkt *r = ask("example.", LDNS_RR_TYPE_DS, DO);

	expect_header(r, "QR AA DO RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY,
		      "example. SOA", "example. RRSIG SOA",
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. NSEC3 2t7b4g4vsa5smi47k61mv5bv1a22bojr",
		      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. RRSIG NSEC3");
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

Test(rfc5155, do_clear)
{
	ldns_pkt *r = ask("a.c.x.w.example.", LDNS_RR_TYPE_A, EDNS);

	expect_header(r, "QR AA RCODE=3");
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);

	r = ask("a.z.w.example.", LDNS_RR_TYPE_MX, EDNS);
	expect_header(r, "QR AA RCODE=0");
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_ANSWER, "a.z.w.example. MX");
	expect_within(r, SECTION_AUTHORITY, "example. NS");
	expect_rrsets(r, SECTION_ADDITIONAL, "ai.example. A", "ai.example. AAAA");
	ldns_pkt_free(r);

	r = ask("mc.c.example.", LDNS_RR_TYPE_MX, EDNS);
	expect_header(r, "QR RCODE=0");
	expect_no_dnssec(r);
	expect_rrsets(r, SECTION_AUTHORITY, "c.example. NS");
	expect_rrsets(r, SECTION_ADDITIONAL, "ns1.c.example. A", "ns2.c.example. A");
	ldns_pkt_free(r);
}

/* ======================= RFC 4592 2.2.1 (wildcards, unsigned zone) ======================= */
/* The RFC gives the outcome and the answer; the rest (authority SOA on NODATA/NXDOMAIN, the
 * referral, additional data for the MX target) is RFC 1034 4.3.2 as doc/answer.md says, and
 * what Knot 3.2 answers. */

/* "the answer will be a 'host3.example. IN MX ...'" */
Test(rfc4592, synthesized_host3_mx)
{
	enum edns modes[] = { NO_EDNS, DO };

	for (size_t i = 0; i < 2; i++) {
		ldns_pkt *r = ask("host3.example.", LDNS_RR_TYPE_MX, modes[i]);

		/* unsigned zone: DO changes nothing */
		expect_header(r, modes[i] == DO ? "QR AA DO RCODE=0" : "QR AA RCODE=0");
		expect_no_dnssec(r);
		expect_rrsets(r, SECTION_ANSWER, "host3.example. MX");
		expect_empty(r, SECTION_AUTHORITY);
		/* RFC silent; the MX target's address, as doc/answer.md and Knot */
		expect_rrsets(r, SECTION_ADDITIONAL, "host1.example. A");
		ldns_pkt_free(r);
	}
}

/* "the answer will reflect 'no error, but no data' because there is no A RR set at
 * '*.example.'" */
Test(rfc4592, synthesized_host3_a_no_data)
{
	ldns_pkt *r = ask("host3.example.", LDNS_RR_TYPE_A, NO_EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

/* "the answer will be 'foo.bar.example. IN TXT ...' because bar.example. does not exist,
 * but the wildcard does." */
Test(rfc4592, synthesized_foo_bar_txt)
{
	ldns_pkt *r = ask("foo.bar.example.", LDNS_RR_TYPE_TXT, NO_EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_rrsets(r, SECTION_ANSWER, "foo.bar.example. TXT");
	expect_empty(r, SECTION_AUTHORITY);
	expect_empty(r, SECTION_ADDITIONAL);
	ldns_pkt_free(r);
}

/* Not synthesized: "because host1.example. exists" -> NODATA. */
Test(rfc4592, not_synthesized_host1_mx)
{
	ldns_pkt *r = ask("host1.example.", LDNS_RR_TYPE_MX, NO_EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

/* Not synthesized: "because sub.*.example. exists" -> NODATA (it has TXT only). */
Test(rfc4592, not_synthesized_sub_star_mx)
{
	ldns_pkt *r = ask("sub.*.example.", LDNS_RR_TYPE_MX, NO_EDNS);

	expect_header(r, "QR AA RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

/* Not synthesized: "because _tcp.host1.example. exists (without data)": the closest
 * encloser is that empty non-terminal, which has no '*' child -> NXDOMAIN. */
Test(rfc4592, not_synthesized_telnet_srv)
{
	ldns_pkt *r = ask("_telnet._tcp.host1.example.", LDNS_RR_TYPE_SRV, NO_EDNS);

	expect_header(r, "QR AA RCODE=3");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}

/* Not synthesized: "because subdel.example. exists (and is a zone cut)" -> referral. */
Test(rfc4592, not_synthesized_below_zone_cut)
{
	ldns_pkt *r = ask("host.subdel.example.", LDNS_RR_TYPE_A, NO_EDNS);

	expect_header(r, "QR RCODE=0");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "subdel.example. NS");
	expect_empty(r, SECTION_ADDITIONAL);	/* both NS targets are outside the zone */
	ldns_pkt_free(r);
}

/* Not synthesized: "because *.example. exists": the closest encloser is *.example, which
 * has no '*' child of its own -> NXDOMAIN. */
Test(rfc4592, not_synthesized_ghost_star)
{
	ldns_pkt *r = ask("ghost.*.example.", LDNS_RR_TYPE_MX, NO_EDNS);

	expect_header(r, "QR AA RCODE=3");
	expect_empty(r, SECTION_ANSWER);
	expect_rrsets(r, SECTION_AUTHORITY, "example. SOA");
	ldns_pkt_free(r);
}
