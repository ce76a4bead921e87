/* Tests of control/probe.c: which SOA answers pass the soft health check, and why not. */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <string.h>

#include "probe.h"

static char why[PROBE_WHY_MAX];

/* An answer to the SOA query of example.test. with id 77, built with ldns. */
static size_t answer(uint8_t *out, int rcode, int aa, const char *soa_owner, uint32_t serial)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = NULL, *rr = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	char text[256];

	ldns_pkt_set_id(p, 77);
	ldns_pkt_set_qr(p, 1);
	ldns_pkt_set_aa(p, aa);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_rr_new_question_frm_str(&q, "example.test. IN SOA", NULL, NULL);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	if (soa_owner != NULL) {
		snprintf(text, sizeof(text), "%s 300 IN SOA ns1.example.test. h.example.test. "
			 "%u 7200 3600 1209600 300", soa_owner, serial);
		cr_assert_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	cr_assert_eq(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

Test(probe, correct_answer_passes)
{
	uint8_t m[512];
	size_t n = answer(m, LDNS_RCODE_NOERROR, 1, "example.test.", 5);

	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), 0);
	/* owner compared case-insensitively */
	n = answer(m, LDNS_RCODE_NOERROR, 1, "EXAMPLE.test.", 5);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), 0);
}

Test(probe, wrong_answers_fail_with_a_reason)
{
	uint8_t m[512];
	size_t n;

	n = answer(m, LDNS_RCODE_NOERROR, 1, "example.test.", 4);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "example.test. SOA: serial 4, expected 5");
	n = answer(m, LDNS_RCODE_SERVFAIL, 0, NULL, 0);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "example.test. SOA: SERVFAIL");
	n = answer(m, LDNS_RCODE_REFUSED, 0, NULL, 0);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "example.test. SOA: REFUSED");
	n = answer(m, LDNS_RCODE_NOERROR, 0, "example.test.", 5);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "example.test. SOA: answer not authoritative");
	n = answer(m, LDNS_RCODE_NOERROR, 1, NULL, 0);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "example.test. SOA: no SOA in the answer");
	n = answer(m, LDNS_RCODE_NOERROR, 1, "other.test.", 5);
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), -1);
}

Test(probe, other_messages_are_not_ours)
{
	uint8_t m[512];
	size_t n = answer(m, LDNS_RCODE_NOERROR, 1, "example.test.", 5);

	cr_assert_eq(probe_check(m, n, "example.test.", 78, 5, why, sizeof(why)), 1);
	m[2] &= 0x7f;	/* a query, not a response */
	cr_assert_eq(probe_check(m, n, "example.test.", 77, 5, why, sizeof(why)), 1);
	cr_assert_eq(probe_check(m, 5, "example.test.", 77, 5, why, sizeof(why)), 1);
}

Test(probe, a_round_against_nobody_fails)
{
	struct probe p;
	const char *origins[] = { "example.test." };
	uint32_t serials[] = { 5 };
	int ok = 1, done = 0;

	probe_init(&p);
	/* port 9 on loopback: nothing listens (discard); at worst the timeout ends it */
	cr_assert_eq(probe_start(&p, "127.0.0.1:9", origins, serials, 1, 100, 0), 0);
	for (int t = 0; t <= 200 && !done; t += 10) {
		done = probe_poll(&p, t, &ok);
		usleep(10000);
	}
	cr_assert(done);
	cr_assert_eq(ok, 0);
	cr_assert(strstr(p.why, "example.test.") != NULL, "why: %s", p.why);
	probe_stop(&p);
}
