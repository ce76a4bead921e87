/* Unit tests for control/zdiff.c: IXFR diffs applied to images equal the zone compiled whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "img.h"
#include "imgstore.h"
#include "zdiff.h"
#include "zonec.h"
#include "unit.h"

TestSuite(zdiff, .init = unit_dir_make, .fini = unit_dir_remove);

/* Write text as unit_dir/name; returns its path (malloc'd: the caller frees it). */
static char *put_file(const char *name, const char *text)
{
	return unit_file(name, text, malloc(1024), 1024);
}

/* Compile zone text into an image file unit_dir/name; returns its path. */
static char *compile(const char *name, const char *origin, const char *text)
{
	char zname[256];
	char *zpath, *ipath = malloc(1024);

	snprintf(zname, sizeof(zname), "%s.zone", name);
	zpath = put_file(zname, text);
	snprintf(ipath, 1024, "%s/%s", unit_dir, name);
	cr_assert_eq(zonec_compile_file(zpath, origin, ipath, unit_quiet, NULL, NULL), 0,
		     "compile %s", name);
	free(zpath);
	return ipath;
}

/* Image bytes of zone text. */
static uint8_t *build(const char *origin, const char *text, size_t *len)
{
	char *zpath = put_file("expect.zone", text);
	uint8_t *img;

	cr_assert_eq(zonec_build_file(zpath, origin, unit_quiet, NULL, &img, len, NULL), 0);
	free(zpath);
	return img;
}

/* Same image apart from compiled_at and the checksum (which covers it). */
static void same_image(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	struct img_header ha, hb;

	cr_assert_eq(alen, blen, "image sizes %zu and %zu", alen, blen);
	memcpy(&ha, a, sizeof(ha));
	memcpy(&hb, b, sizeof(hb));
	ha.compiled_at = hb.compiled_at = 0;
	ha.checksum = hb.checksum = 0;
	cr_assert_eq(memcmp(&ha, &hb, sizeof(ha)), 0, "headers differ");
	cr_assert_eq(memcmp(a + sizeof(ha), b + sizeof(hb), alen - sizeof(ha)), 0,
		     "image bodies differ");
}

/* An RR list from NULL-terminated presentation lines (absolute owners). */
static ldns_rr_list *rrs(const char *const *lines)
{
	ldns_rr_list *l = ldns_rr_list_new();

	for (; lines && *lines; lines++) {
		ldns_rr *rr = NULL;
		cr_assert_eq(ldns_rr_new_frm_str(&rr, *lines, 3600, NULL, NULL), LDNS_STATUS_OK,
			     "parse '%s'", *lines);
		ldns_rr_list_push_rr(l, rr);
	}
	return l;
}

static struct xfr_diff diff(uint32_t from, uint32_t to, const char *const *del,
			    const char *const *add)
{
	struct xfr_diff d = { .from = from, .to = to, .del = rrs(del), .add = rrs(add) };
	return d;
}

static void diff_free(struct xfr_diff *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ldns_rr_list_deep_free(d[i].del);
		ldns_rr_list_deep_free(d[i].add);
	}
}

#define SOA(s)	"example.com. 3600 IN SOA ns1.example.com. host.example.com. " #s \
		" 7200 3600 1209600 300"

static const char base_zone[] =
	SOA(1) "\n"
	"example.com. 3600 IN NS ns1.example.com.\n"
	"ns1.example.com. 3600 IN A 192.0.2.1\n"
	"www.example.com. 3600 IN A 192.0.2.10\n"
	"www.example.com. 3600 IN A 192.0.2.11\n"
	"a.b.c.example.com. 3600 IN TXT \"deep\"\n"
	"*.wild.example.com. 3600 IN A 192.0.2.20\n"
	"sub.example.com. 3600 IN NS ns.sub.example.com.\n"
	"ns.sub.example.com. 3600 IN A 192.0.2.30\n";

/* A result equals the compiled zone exp: itself, or folded into its base when a delta. */
static void same_result(const char *origin, const char *base, const struct zdiff_out *out,
			const uint8_t *exp, size_t len)
{
	struct zdiff_out full;
	char dpath[1024];

	if (!out->is_delta) {
		same_image(out->img, out->len, exp, len);
		return;
	}
	snprintf(dpath, sizeof(dpath), "%s/result.delta", unit_dir);
	cr_assert_eq(zonec_write_file(dpath, out->img, out->len), 0);
	cr_assert_eq(zdiff_compact(origin, base, dpath, &full), 0, "%s", full.err);
	cr_assert_eq(full.is_delta, 0);
	same_image(full.img, full.len, exp, len);
	free(full.img);
}

/* Apply diffs to base (+ delta) and expect the image of the zone text want. */
static void expect_result(const char *base, const char *delta, struct xfr_diff *d, size_t n,
			  const char *want, uint32_t serial)
{
	struct zdiff_out out;
	size_t len;
	int rc = zdiff_apply("example.com.", base, delta, d, n, &out);

	cr_assert_eq(rc, 0, "zdiff_apply: %d %s", rc, out.err);
	cr_assert_eq(out.serial, serial);
	uint8_t *exp = build("example.com.", want, &len);
	same_result("example.com.", base, &out, exp, len);
	free(exp);
	free(out.img);
}

Test(zdiff, one_sequence_equals_the_compiled_zone)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del[] = { SOA(1), "www.example.com. 3600 IN A 192.0.2.11",
					   "a.b.c.example.com. 3600 IN TXT \"deep\"", NULL };
	static const char *const add[] = { SOA(2), "new.example.com. 3600 IN AAAA 2001:db8::1",
					   "www.example.com. 3600 IN A 192.0.2.12", NULL };
	struct xfr_diff d = diff(1, 2, del, add);

	expect_result(base, NULL, &d, 1,
		      SOA(2) "\n"
		      "example.com. 3600 IN NS ns1.example.com.\n"
		      "ns1.example.com. 3600 IN A 192.0.2.1\n"
		      "www.example.com. 3600 IN A 192.0.2.10\n"
		      "www.example.com. 3600 IN A 192.0.2.12\n"
		      "new.example.com. 3600 IN AAAA 2001:db8::1\n"
		      "*.wild.example.com. 3600 IN A 192.0.2.20\n"
		      "sub.example.com. 3600 IN NS ns.sub.example.com.\n"
		      "ns.sub.example.com. 3600 IN A 192.0.2.30\n", 2);
	diff_free(&d, 1);
	free(base);
}

Test(zdiff, sequences_in_order_and_a_record_added_then_deleted)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del1[] = { SOA(1), NULL };
	static const char *const add1[] = { SOA(5), "tmp.example.com. 3600 IN A 192.0.2.99", NULL };
	static const char *const del2[] = { SOA(5), "tmp.example.com. 3600 IN A 192.0.2.99",
					    "sub.example.com. 3600 IN NS ns.sub.example.com.",
					    NULL };
	static const char *const add2[] = { SOA(9), "www.example.com. 300 IN A 192.0.2.10",
					    "www.example.com. 300 IN A 192.0.2.11", NULL };
	static const char *const del3[] = { "www.example.com. 3600 IN A 192.0.2.10",
					    "www.example.com. 3600 IN A 192.0.2.11", SOA(9), NULL };
	struct xfr_diff d[3] = { diff(1, 5, del1, add1), diff(5, 9, del2, add2),
				 diff(9, 10, del3, (const char *const[]){ SOA(10), NULL }) };

	expect_result(base, NULL, d, 2,
		      SOA(9) "\n"
		      "example.com. 3600 IN NS ns1.example.com.\n"
		      "ns1.example.com. 3600 IN A 192.0.2.1\n"
		      "www.example.com. 300 IN A 192.0.2.10\n"
		      "www.example.com. 300 IN A 192.0.2.11\n"
		      "a.b.c.example.com. 3600 IN TXT \"deep\"\n"
		      "*.wild.example.com. 3600 IN A 192.0.2.20\n"
		      "ns.sub.example.com. 3600 IN A 192.0.2.30\n", 9);
	/* the third deletes the TTL-300 records by rdata (TTL is not part of a record's identity) */
	expect_result(base, NULL, d, 3,
		      SOA(10) "\n"
		      "example.com. 3600 IN NS ns1.example.com.\n"
		      "ns1.example.com. 3600 IN A 192.0.2.1\n"
		      "a.b.c.example.com. 3600 IN TXT \"deep\"\n"
		      "*.wild.example.com. 3600 IN A 192.0.2.20\n"
		      "ns.sub.example.com. 3600 IN A 192.0.2.30\n", 10);
	diff_free(d, 3);
	free(base);
}

/* A refused IXFR: the code, and a reason that says what. */
static void expect_refused(struct xfr_diff *d, size_t n, const char *text)
{
	char *base = compile("base.img", "example.com.", base_zone);
	struct zdiff_out out;
	int rc = zdiff_apply("example.com.", base, NULL, d, n, &out);

	cr_assert_eq(rc, PHAROS_EZONE, "rc %d (%s)", rc, out.err);
	cr_assert_null(out.img);
	cr_assert(strstr(out.err, text), "error '%s' lacks '%s'", out.err, text);
	free(base);
}

Test(zdiff, wrong_from_serial_refused)
{
	static const char *const del[] = { SOA(7), NULL };
	static const char *const add[] = { SOA(8), NULL };
	struct xfr_diff d = diff(7, 8, del, add);

	expect_refused(&d, 1, "IXFR sequence from serial 7, but the zone is at serial 1");
	diff_free(&d, 1);
}

Test(zdiff, delete_of_an_absent_record_refused)
{
	static const char *const del[] = { SOA(1), "www.example.com. 3600 IN A 192.0.2.99", NULL };
	static const char *const add[] = { SOA(2), NULL };
	struct xfr_diff d = diff(1, 2, del, add);

	expect_refused(&d, 1, "IXFR 1 -> 2: delete of a record not in the zone: www.example.com. 3600 IN A "
		       "192.0.2.99");
	diff_free(&d, 1);
}

Test(zdiff, record_outside_the_zone_refused)
{
	static const char *const del[] = { SOA(1), NULL };
	static const char *const add[] = { SOA(2), "www.example.org. 3600 IN A 192.0.2.1", NULL };
	struct xfr_diff d = diff(1, 2, del, add);

	expect_refused(&d, 1, "outside the zone");
	diff_free(&d, 1);
}

Test(zdiff, soa_serial_must_match_the_sequence)
{
	static const char *const del[] = { SOA(1), NULL };
	static const char *const add[] = { SOA(3), NULL };
	struct xfr_diff d = diff(1, 2, del, add);

	expect_refused(&d, 1, "serial is 3 after the IXFR, expected 2");
	diff_free(&d, 1);
}

Test(zdiff, no_soa_left_refused)
{
	static const char *const del[] = { SOA(1), NULL };
	struct xfr_diff d = diff(1, 2, del, NULL);

	expect_refused(&d, 1, "SOA");
	diff_free(&d, 1);
}

/*
 * A signed zone: a change that keeps every name and the chain is a delta (denial indexes
 * of the base stay right); one that adds a name is a full image. Both equal the zone
 * compiled whole.
 */
Test(zdiff, signed_zone_delta_or_full_image)
{
	char path[512], *text;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/rfc4035-appendix-a.zone", getenv("PHAROS_TESTDATA"));
	f = fopen(path, "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 512);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	char *base = compile("signed.img", "example.", text);
	/* change ns2's address and drop one RRSIG: the served chain is whatever the primary sends */
	static const char *const del[] = {
		"example. 3600 IN SOA ns1.example. bugs.x.w.example. 1081539377 3600 300 3600000 3600",
		"ns2.example. 3600 IN A 192.0.2.2", NULL };
	static const char *const add[] = {
		"example. 3600 IN SOA ns1.example. bugs.x.w.example. 1081539378 3600 300 3600000 3600",
		"ns2.example. 3600 IN A 192.0.2.222", NULL };
	struct xfr_diff d = diff(1081539377, 1081539378, del, add);
	struct zdiff_out out;
	size_t len;

	cr_assert_eq(zdiff_apply("example.", base, NULL, &d, 1, &out), 0, "%s", out.err);
	cr_assert_eq(out.is_delta, 1);
	char *s = strstr(text, "1081539377"), *a = strstr(text, "192.0.2.2\n");
	cr_assert(s && a);
	memcpy(s, "1081539378", 10);
	memmove(a + 11, a + 9, strlen(a + 9) + 1);
	memcpy(a, "192.0.2.222", 11);
	uint8_t *exp = build("example.", text, &len);
	same_result("example.", base, &out, exp, len);
	free(exp);
	free(out.img);
	diff_free(&d, 1);
	/* a new name changes the NSEC chain: a full image */
	static const char *const add2[] = {
		"example. 3600 IN SOA ns1.example. bugs.x.w.example. 1081539378 3600 300 3600000 3600",
		"new.example. 3600 IN A 192.0.2.99", NULL };
	d = diff(1081539377, 1081539378, del, add2);
	cr_assert_eq(zdiff_apply("example.", base, NULL, &d, 1, &out), 0, "%s", out.err);
	cr_assert_eq(out.is_delta, 0);
	free(out.img);
	diff_free(&d, 1);
	free(base);
	free(text);
}

Test(zdiff, compact_of_a_base_alone_is_the_same_zone)
{
	char *base = compile("base.img", "example.com.", base_zone);
	struct zdiff_out out;
	size_t len;

	cr_assert_eq(zdiff_compact("example.com.", base, NULL, &out), 0, "%s", out.err);
	uint8_t *exp = build("example.com.", base_zone, &len);
	same_image(out.img, out.len, exp, len);
	free(exp);
	free(out.img);
	free(base);
}

/* Write a result to unit_dir/name; returns the path. */
static char *save(const char *name, const struct zdiff_out *out)
{
	char *path = malloc(1024);

	snprintf(path, 1024, "%s/%s", unit_dir, name);
	cr_assert_eq(zonec_write_file(path, out->img, out->len), 0);
	return path;
}

Test(zdiff, unsigned_zone_gives_deltas_that_accumulate)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del1[] = { SOA(1), "a.b.c.example.com. 3600 IN TXT \"deep\"", NULL };
	static const char *const add1[] = { SOA(2), "x.y.example.com. 3600 IN A 192.0.2.7", NULL };
	static const char *const del2[] = { SOA(2), "x.y.example.com. 3600 IN A 192.0.2.7", NULL };
	static const char *const add2[] = { SOA(3), "c.example.com. 3600 IN A 192.0.2.8", NULL };
	struct xfr_diff d1 = diff(1, 2, del1, add1), d2 = diff(2, 3, del2, add2);
	struct zdiff_out o1, o2, o3;

	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d1, 1, &o1), 0, "%s", o1.err);
	cr_assert_eq(o1.is_delta, 1);
	cr_assert_eq(o1.serial, 2);
	/* apex, a.b.c + b.c (gone), c (ENT -> gone), x.y + y (new) */
	cr_assert_eq(o1.delta_names, 6, "delta of %u names", o1.delta_names);
	char *delta1 = save("example.com.2.delta", &o1);
	/* the next IXFR starts from what is served: base + delta */
	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d2, 1, &o3), PHAROS_EZONE);
	cr_assert(strstr(o3.err, "from serial 2, but the zone is at serial 1"), "%s", o3.err);
	cr_assert_eq(zdiff_apply("example.com.", base, delta1, &d2, 1, &o2), 0, "%s", o2.err);
	cr_assert_eq(o2.is_delta, 1);
	char *delta2 = save("example.com.3.delta", &o2);
	/* the state dir: the newest delta of this base, pruning keeps the served one */
	char path[1024], want[1024];
	uint32_t serial = 0;
	cr_assert_eq(imgstore_delta_path(unit_dir, "example.com.", 3, want, sizeof(want)), 0);
	cr_assert_str_eq(want, delta2);
	cr_assert_eq(imgstore_newest_delta(unit_dir, "example.com.", base, path, sizeof(path),
					   &serial), 0);
	cr_assert_str_eq(path, delta2);
	cr_assert_eq(serial, 3);
	cr_assert_eq(imgstore_newest_delta(unit_dir, "example.com.", delta1, path, sizeof(path),
					   &serial), PHAROS_ENOTFOUND);
	cr_assert_eq(imgstore_prune_deltas(unit_dir, "example.com.", delta2), 1);
	cr_assert_neq(access(delta1, F_OK), 0);
	cr_assert_eq(access(delta2, F_OK), 0);
	cr_assert_eq(zdiff_compact("example.com.", base, delta2, &o3), 0, "%s", o3.err);
	size_t len;
	uint8_t *exp = build("example.com.",
			     SOA(3) "\n"
			     "example.com. 3600 IN NS ns1.example.com.\n"
			     "ns1.example.com. 3600 IN A 192.0.2.1\n"
			     "www.example.com. 3600 IN A 192.0.2.10\n"
			     "www.example.com. 3600 IN A 192.0.2.11\n"
			     "c.example.com. 3600 IN A 192.0.2.8\n"
			     "*.wild.example.com. 3600 IN A 192.0.2.20\n"
			     "sub.example.com. 3600 IN NS ns.sub.example.com.\n"
			     "ns.sub.example.com. 3600 IN A 192.0.2.30\n", &len);
	same_image(o3.img, o3.len, exp, len);
	free(exp);
	free(o1.img);
	free(o2.img);
	free(o3.img);
	free(delta1);
	free(delta2);
	free(base);
	diff_free(&d1, 1);
	diff_free(&d2, 1);
}

Test(zdiff, delta_of_another_base_refused)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del[] = { SOA(1), NULL };
	static const char *const add[] = { SOA(2), NULL };
	struct xfr_diff d = diff(1, 2, del, add);
	struct zdiff_out o, o2;

	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d, 1, &o), 0, "%s", o.err);
	char *delta = save("d.delta", &o);
	char *other = compile("other.img", "example.com.", SOA(1) "\nwww.example.com. A 192.0.2.1\n");
	cr_assert_eq(zdiff_compact("example.com.", other, delta, &o2), PHAROS_EZONE);
	cr_assert(strstr(o2.err, "the delta applies to base serial 1 (checksum"), "%s", o2.err);
	cr_assert_eq(zdiff_compact("example.com.", delta, NULL, &o2), PHAROS_EZONE);
	cr_assert(strstr(o2.err, "is not a full image"), "%s", o2.err);
	free(o.img);
	free(delta);
	free(other);
	free(base);
	diff_free(&d, 1);
}

Test(zdiff, past_the_delta_limit_a_full_image)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del[] = { SOA(1), NULL };
	static const char *const add[] = { SOA(2), "n1.example.com. 3600 IN A 192.0.2.1", NULL };
	struct xfr_diff d = diff(1, 2, del, add);

	zdiff_set_limits(1, 1000, 1024, 64);
	expect_result(base, NULL, &d, 1,
		      SOA(2) "\n"
		      "example.com. 3600 IN NS ns1.example.com.\n"
		      "ns1.example.com. 3600 IN A 192.0.2.1\n"
		      "n1.example.com. 3600 IN A 192.0.2.1\n"
		      "www.example.com. 3600 IN A 192.0.2.10\n"
		      "www.example.com. 3600 IN A 192.0.2.11\n"
		      "a.b.c.example.com. 3600 IN TXT \"deep\"\n"
		      "*.wild.example.com. 3600 IN A 192.0.2.20\n"
		      "sub.example.com. 3600 IN NS ns.sub.example.com.\n"
		      "ns.sub.example.com. 3600 IN A 192.0.2.30\n", 2);
	struct zdiff_out o;
	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d, 1, &o), 0, "%s", o.err);
	cr_assert_eq(o.is_delta, 0);
	free(o.img);
	zdiff_set_limits(4096, 8, 1024, 64);
	free(base);
	diff_free(&d, 1);
}

/* Bases stay mapped between calls; a new file renamed over the path is seen as new. */
Test(zdiff, a_base_replaced_at_its_path_is_read_again)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del[] = { SOA(1), NULL };
	static const char *const add[] = { SOA(2), NULL };
	static const char *const del7[] = { SOA(7), "www.example.com. 3600 IN A 192.0.2.1", NULL };
	static const char *const add7[] = { SOA(8), NULL };
	struct xfr_diff d = diff(1, 2, del, add), d7 = diff(7, 8, del7, add7);
	struct zdiff_out o;

	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d, 1, &o), 0, "%s", o.err);
	free(o.img);
	free(compile("base.img", "example.com.", SOA(7) "\nwww.example.com. 3600 IN A 192.0.2.1\n"));
	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d7, 1, &o), 0, "%s", o.err);
	cr_assert_eq(o.serial, 8);
	free(o.img);
	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d, 1, &o), PHAROS_EZONE);
	zdiff_cache_drop();
	diff_free(&d, 1);
	diff_free(&d7, 1);
	free(base);
}

/* A delta holds what changed: not the unchanged ancestors, nor names below an unchanged cut. */
Test(zdiff, delta_holds_only_what_changed)
{
	char *base = compile("base.img", "example.com.", base_zone);
	static const char *const del[] = { SOA(1), "a.b.c.example.com. 3600 IN TXT \"deep\"",
					   "ns.sub.example.com. 3600 IN A 192.0.2.30", NULL };
	static const char *const add[] = { SOA(2), "a.b.c.example.com. 3600 IN TXT \"deeper\"",
					   "ns.sub.example.com. 3600 IN A 192.0.2.31", NULL };
	static const char *const del2[] = { SOA(2), "sub.example.com. 3600 IN NS ns.sub.example.com.",
					    NULL };
	static const char *const add2[] = { SOA(3), NULL };
	struct xfr_diff d = diff(1, 2, del, add), d2 = diff(2, 3, del2, add2);
	struct zdiff_out o, o2;

	cr_assert_eq(zdiff_apply("example.com.", base, NULL, &d, 1, &o), 0, "%s", o.err);
	cr_assert_eq(o.is_delta, 1);
	cr_assert_eq(o.delta_names, 3, "apex, a.b.c, ns.sub: %u names", o.delta_names);
	char *delta = save("d2.delta", &o);
	/* the cut goes: sub becomes an ENT, the names below it lose UNDER_CUT */
	cr_assert_eq(zdiff_apply("example.com.", base, delta, &d2, 1, &o2), 0, "%s", o2.err);
	cr_assert_eq(o2.delta_names, 4, "apex, a.b.c, sub, ns.sub: %u names", o2.delta_names);
	free(o.img);
	free(o2.img);
	free(delta);
	free(base);
	diff_free(&d, 1);
	diff_free(&d2, 1);
}
