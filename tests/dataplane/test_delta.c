/*
 * Unit tests for serving base + delta images (dataplane/solve.c, denial.c over
 * dataplane/img.c delta images made by control/zdiff.c): after every random IXFR, of an
 * unsigned zone and of NSEC and NSEC3 signed zones, every query over every name (and
 * names that do not exist), with and without DO, gets a byte-identical response from
 * base + delta and from the resulting zone compiled whole. Damaged deltas are refused or
 * harmless.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "answer.h"
#include "img.h"
#include "snapshot.h"
#include "zdiff.h"
#include "zonec.h"
#include "unit.h"

#define ORIGIN		"example.com."
#define MAX_RRS		512

TestSuite(delta, .init = unit_dir_make, .fini = unit_dir_remove);

/*
 * Owner names the random diffs draw from (relative to the origin): deep names that make
 * and remove empty non-terminals, wildcards at several levels, cuts with glue and names
 * under them, CNAME owners, MX/NS targets.
 */
static const char *const pool[] = {
	"www", "mail", "mx", "a", "b.a", "c.b.a", "d.c.b.a", "z", "y.z", "x.y.z",
	"w", "*.w", "q.w", "*.q.w", "r.q.w", "sub", "ns.sub", "deep.ns.sub", "x.sub",
	"*.sub", "sub2", "ns.sub2", "a.b.sub2", "cn", "cn2", "cn3", "cw", "*.cw", "t.cw",
	"e1.e2.e3", "e2.e3", "e3", "*", "ns1", "one.two.three.four.five",
};
#define POOL	(sizeof(pool) / sizeof(pool[0]))

/* The zone: an SOA serial and a set of records in presentation form (absolute owners). */
struct model {
	uint32_t serial;
	char *rr[MAX_RRS];
	size_t n;
};

static int model_has(const struct model *m, const char *rr)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->rr[i], rr) == 0)
			return 1;
	return 0;
}

static void model_add(struct model *m, const char *rr)
{
	if (!model_has(m, rr) && m->n < MAX_RRS)
		m->rr[m->n++] = strdup(rr);
}

static void model_del(struct model *m, size_t i)
{
	free(m->rr[i]);
	m->rr[i] = m->rr[--m->n];
}

static void model_copy(struct model *dst, const struct model *src)
{
	dst->serial = src->serial;
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		dst->rr[dst->n++] = strdup(src->rr[i]);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->rr[i]);
	m->n = 0;
}

/*
 * The zone a series works on: example.com. from the pool (unsigned), or a signed zone file
 * (g_soa: its SOA, g_names: the names to ask for).
 */
static const char *g_origin = ORIGIN;
static ldns_rr *g_soa;
static char (*g_names)[300];
static unsigned g_nnames;

static void soa_text(uint32_t serial, char *buf, size_t cap)
{
	if (g_soa) {
		ldns_rr *rr = ldns_rr_clone(g_soa);
		ldns_rdf_deep_free(ldns_rr_set_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32,
									      serial), 2));
		char *t = ldns_rr2str(rr);
		snprintf(buf, cap, "%s", t);
		buf[strcspn(buf, "\n")] = '\0';
		free(t);
		ldns_rr_free(rr);
		return;
	}
	snprintf(buf, cap, ORIGIN " 3600 IN SOA ns1." ORIGIN " host." ORIGIN " %u 7200 3600 "
		 "1209600 300", serial);
}

/* The zone file text of the model. */
static char *model_text(const struct model *m)
{
	size_t cap = 256 + m->n * 256, len = 0;
	char *t = malloc(cap), soa[256];

	soa_text(m->serial, soa, sizeof(soa));
	len += (size_t)snprintf(t + len, cap - len, "%s\n", soa);
	for (size_t i = 0; i < m->n; i++)
		len += (size_t)snprintf(t + len, cap - len, "%s\n", m->rr[i]);
	return t;
}

static const char *pick(void)
{
	return pool[(size_t)rand() % POOL];
}

/* A random record at a random pool name (one TTL per type: RRsets keep one TTL). */
static void random_rr(char *buf, size_t cap)
{
	const char *o = pick();
	char owner[300];

	snprintf(owner, sizeof(owner), "%s.%s", o, ORIGIN);
	switch (rand() % 9) {
	case 0:
	case 1:
		snprintf(buf, cap, "%s 300 IN A 192.0.2.%d", owner, rand() % 4);
		break;
	case 2:
		snprintf(buf, cap, "%s 3600 IN AAAA 2001:db8::%d", owner, rand() % 3);
		break;
	case 3:
		snprintf(buf, cap, "%s 3600 IN TXT \"t%d\"", owner, rand() % 3);
		break;
	case 4:
		snprintf(buf, cap, "%s 3600 IN MX %d %s.%s", owner, 10 * (rand() % 2), pick(),
			 ORIGIN);
		break;
	case 5:
		if (rand() % 4 == 0)
			snprintf(buf, cap, "%s 3600 IN CNAME out.example.org.", owner);
		else
			snprintf(buf, cap, "%s 3600 IN CNAME %s.%s", owner, pick(), ORIGIN);
		break;
	case 6:
	case 7:		/* delegations: glue comes from the pool names below them */
		snprintf(buf, cap, "%s 3600 IN NS %s.%s", owner, pick(), ORIGIN);
		break;
	default:
		snprintf(buf, cap, "%s 3600 IN DS 12345 8 2 %064d", owner, rand() % 2);
		break;
	}
}

/* The starting zone: a bit of everything. */
static void model_init(struct model *m)
{
	static const char *const start[] = {
		ORIGIN " 3600 IN NS ns1." ORIGIN,
		ORIGIN " 3600 IN NS ns.other.net.",
		ORIGIN " 3600 IN MX 10 mail." ORIGIN,
		"ns1." ORIGIN " 300 IN A 192.0.2.1",
		"mail." ORIGIN " 300 IN A 192.0.2.2",
		"mail." ORIGIN " 3600 IN AAAA 2001:db8::2",
		"www." ORIGIN " 300 IN A 192.0.2.10",
		"d.c.b.a." ORIGIN " 3600 IN TXT \"deep\"",
		"*.w." ORIGIN " 300 IN A 192.0.2.20",
		"*.w." ORIGIN " 3600 IN TXT \"wild\"",
		"q.w." ORIGIN " 300 IN A 192.0.2.21",
		"sub." ORIGIN " 3600 IN NS ns.sub." ORIGIN,
		"sub." ORIGIN " 3600 IN NS ns1." ORIGIN,
		"ns.sub." ORIGIN " 300 IN A 192.0.2.30",
		"x.sub." ORIGIN " 300 IN A 192.0.2.31",
		"cn." ORIGIN " 3600 IN CNAME www." ORIGIN,
		"cn2." ORIGIN " 3600 IN CNAME cn." ORIGIN,
		"*.cw." ORIGIN " 3600 IN CNAME www." ORIGIN,
		"e1.e2.e3." ORIGIN " 3600 IN MX 10 mx." ORIGIN,
		"mx." ORIGIN " 3600 IN AAAA 2001:db8::5",
		NULL
	};

	m->serial = 1;
	m->n = 0;
	for (const char *const *p = start; *p; p++)
		model_add(m, *p);
}

/* A few random changes: adds, deletes, RRsets replaced. */
static void mutate(struct model *m)
{
	char rr[400];
	int ops = 1 + rand() % 4;

	for (int k = 0; k < ops; k++) {
		int what = rand() % 3;
		if (what == 0 && m->n > 4) {
			model_del(m, (size_t)rand() % m->n);
		} else if (what == 1 && m->n > 4) {
			/* change an RRset: replace one of its records */
			size_t i = (size_t)rand() % m->n;
			if (strstr(m->rr[i], " IN A ")) {
				char *sp = strrchr(m->rr[i], '.');
				snprintf(rr, sizeof(rr), "%.*s.%d", (int)(sp - m->rr[i]), m->rr[i],
					 100 + rand() % 50);
				model_del(m, i);
				model_add(m, rr);
			}
		} else {
			random_rr(rr, sizeof(rr));
			model_add(m, rr);
		}
	}
	m->serial++;
}

/* An RR list for the records of a that b lacks (+ the SOA of serial). */
static ldns_rr_list *minus(const struct model *a, const struct model *b, uint32_t serial)
{
	ldns_rr_list *l = ldns_rr_list_new();
	char soa[256];
	ldns_rr *rr = NULL;

	soa_text(serial, soa, sizeof(soa));
	cr_assert_eq(ldns_rr_new_frm_str(&rr, soa, 3600, NULL, NULL), LDNS_STATUS_OK);
	ldns_rr_list_push_rr(l, rr);
	for (size_t i = 0; i < a->n; i++) {
		if (model_has(b, a->rr[i]))
			continue;
		rr = NULL;
		cr_assert_eq(ldns_rr_new_frm_str(&rr, a->rr[i], 3600, NULL, NULL),
			     LDNS_STATUS_OK, "%s", a->rr[i]);
		ldns_rr_list_push_rr(l, rr);
	}
	return l;
}

/* ---- serving ---- */

static struct snapshot *snap_of(struct img *base, struct img *delta)
{
	struct snap_zone *z = snap_zone_new(base, "base");
	struct snapshot *s;
	char err[512];

	cr_assert_not_null(z);
	if (delta) {
		cr_assert_eq(img_delta_check(base, delta, err, sizeof(err)), 0, "%s", err);
		struct snap_zone *zd = snap_zone_delta(z, delta, "delta");
		cr_assert_not_null(zd);
		snap_zone_free(z);	/* zd holds the base now */
		z = zd;
	}
	cr_assert_eq(snap_with(NULL, z, &s), 0);
	return s;
}

static size_t make_query(const char *name, uint16_t type, int dnssec, uint8_t *out)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), (ldns_rr_type)type,
					 LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *w;
	size_t len;

	ldns_pkt_set_id(p, 7);
	ldns_pkt_set_edns_udp_size(p, 1232);
	ldns_pkt_set_edns_do(p, dnssec);
	cr_assert_eq(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
	memcpy(out, w, len);
	free(w);
	ldns_pkt_free(p);
	return len;
}

static const uint16_t qtypes[] = { 1, 2, 5, 6, 15, 16, 28, 43, 46, 47, 255, 99 };

/* Every query over every name: the same bytes from both snapshots. Returns queries made. */
static unsigned compare(const struct snapshot *a, const struct snapshot *b, unsigned step)
{
	static uint8_t ra[65535], rb[65535];
	static char pool_names[POOL * 3 + 4][300];
	char (*names)[300] = pool_names;
	unsigned nn = 0, queries = 0;

	for (size_t i = 0; i < POOL; i++) {
		snprintf(names[nn++], 300, "%s.%s", pool[i], ORIGIN);
		snprintf(names[nn++], 300, "nx%u.%s.%s", step % 7, pool[i], ORIGIN);
		snprintf(names[nn++], 300, "A.b.%s.%s", pool[i], ORIGIN);
	}
	snprintf(names[nn++], 300, "%s", ORIGIN);
	snprintf(names[nn++], 300, "nothere.%s", ORIGIN);
	snprintf(names[nn++], 300, "example.org.");
	if (g_names) {
		names = g_names;
		nn = g_nnames;
	}
	for (unsigned i = 0; i < nn; i++) {
		for (size_t t = 0; t < sizeof(qtypes) / sizeof(qtypes[0]); t++) {
			for (int dnssec = 0; dnssec < 2; dnssec++) {
				uint8_t q[512];
				struct answer_info ia, ib;
				size_t ql = make_query(names[i], qtypes[t], dnssec, q);
				size_t la = answer_query(a, q, ql, ra, sizeof(ra), ANSWER_UDP, &ia);
				size_t lb = answer_query(b, q, ql, rb, sizeof(rb), ANSWER_UDP, &ib);
				cr_assert(la == lb && memcmp(ra, rb, la) == 0,
					  "step %u: %s type %u DO %d: base + delta answers %zu "
					  "bytes, rcode %u; the full zone %zu bytes, rcode %u",
					  step, names[i], qtypes[t], dnssec, la, ia.rcode, lb,
					  ib.rcode);
				queries++;
			}
		}
	}
	return queries;
}

/* The model compiled whole, opened. */
static struct img *full_of(const struct model *m)
{
	char path[600];
	char *text = model_text(m);
	uint8_t *buf;
	size_t len;
	struct img *img;
	char err[512];

	unit_file("want.zone", text, path, sizeof(path));
	free(text);
	cr_assert_eq(zonec_build_file(path, g_origin, unit_quiet, NULL, &buf, &len, NULL), 0);
	cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
	return img;
}

static void write_out(const char *path, const struct zdiff_out *o)
{
	cr_assert_eq(zonec_write_file(path, o->img, o->len), 0);
}

/*
 * Random IXFRs (one or two sequences each) applied as deltas over one base, compacted now
 * and then; after each, every query is compared with the zone compiled whole.
 */
static void model_init(struct model *m);
static void mutate(struct model *m);
static void (*g_init)(struct model *) = model_init;
static unsigned g_deltas;
static void (*g_mutate)(struct model *) = mutate;

static void run_series(unsigned seed, unsigned steps, unsigned compact_every)
{
	struct model cur, next, mid;
	char base[600], delta[600], err[512];
	int have_delta = 0;
	unsigned queries = 0, deltas = 0;

	srand(seed);
	g_init(&cur);
	snprintf(base, sizeof(base), "%s/base.img", unit_dir);
	{
		char *text = model_text(&cur), zpath[600];
		unit_file("start.zone", text, zpath, sizeof(zpath));
		free(text);
		cr_assert_eq(zonec_compile_file(zpath, g_origin, base, unit_quiet, NULL, NULL), 0);
	}
	for (unsigned step = 1; step <= steps; step++) {
		struct xfr_diff d[2];
		size_t nd = 1 + (size_t)(rand() % 2);
		struct zdiff_out out;

		model_copy(&next, &cur);
		g_mutate(&next);
		d[0] = (struct xfr_diff){ cur.serial, next.serial, minus(&cur, &next, cur.serial),
					  minus(&next, &cur, next.serial) };
		if (nd == 2) {
			model_copy(&mid, &next);
			g_mutate(&next);
			d[1] = (struct xfr_diff){ mid.serial, next.serial,
						  minus(&mid, &next, mid.serial),
						  minus(&next, &mid, next.serial) };
			model_free(&mid);
		}
		int rc = zdiff_apply(g_origin, base, have_delta ? delta : NULL, d, nd, &out);
		cr_assert_eq(rc, 0, "step %u: %s", step, out.err);
		if (!g_soa)
			cr_assert_eq(out.is_delta, 1, "step %u: a small change of an unsigned zone",
				     step);
		g_deltas += out.is_delta;
		cr_assert_eq(out.serial, next.serial);
		struct img *bi, *di = NULL, *fi = full_of(&next);
		if (out.is_delta) {
			snprintf(delta, sizeof(delta), "%s/zone.%u.delta", unit_dir, next.serial);
			write_out(delta, &out);
			have_delta = 1;
			deltas++;
		} else {	/* a full image: the new base */
			snprintf(base, sizeof(base), "%s/zone.%u.img", unit_dir, next.serial);
			write_out(base, &out);
			have_delta = 0;
		}
		free(out.img);
		cr_assert_eq(img_open_file(base, &bi, err, sizeof(err)), 0, "%s", err);
		if (have_delta)
			cr_assert_eq(img_open_file(delta, &di, err, sizeof(err)), 0, "%s", err);
		struct snapshot *sa = snap_of(bi, di), *sb = snap_of(fi, NULL);
		queries += compare(sa, sb, step);
		snap_release(sa);
		snap_release(sb);

		if (compact_every && step % compact_every == 0 && have_delta) {
			cr_assert_eq(zdiff_compact(g_origin, base, delta, &out), 0, "%s", out.err);
			cr_assert_eq(out.is_delta, 0);
			cr_assert_eq(out.serial, next.serial);
			snprintf(base, sizeof(base), "%s/zone.%u.img", unit_dir, next.serial);
			write_out(base, &out);
			free(out.img);
			have_delta = 0;
		}
		for (size_t i = 0; i < nd; i++) {
			ldns_rr_list_deep_free(d[i].del);
			ldns_rr_list_deep_free(d[i].add);
		}
		model_free(&cur);
		cur = next;
	}
	model_free(&cur);
	cr_log_info("seed %u: %u deltas, %u queries compared", seed, deltas, queries);
}

Test(delta, random_ixfrs_answer_as_the_whole_zone)
{
	run_series(1, 120, 0);
}

Test(delta, random_ixfrs_with_compactions)
{
	run_series(2, 120, 15);
	run_series(3, 60, 7);
}

/* ---- hostile deltas ---- */

static void fix_crc(uint8_t *buf, size_t len)
{
	uint32_t crc = img_checksum(buf, len);

	memcpy(buf + offsetof(struct img_header, checksum), &crc, sizeof(crc));
}

/* A base (file) and a delta over it (bytes) from one small IXFR. */
static void small_delta(char *base, size_t cap, uint8_t **delta, size_t *len)
{
	struct model m, n;
	struct zdiff_out out;
	char zpath[600];
	char *text;

	model_init(&m);
	snprintf(base, cap, "%s/small.img", unit_dir);
	text = model_text(&m);
	unit_file("small.zone", text, zpath, sizeof(zpath));
	free(text);
	cr_assert_eq(zonec_compile_file(zpath, ORIGIN, base, unit_quiet, NULL, NULL), 0);
	model_copy(&n, &m);
	model_del(&n, 6);	/* www A: gone */
	model_add(&n, "x.sub." ORIGIN " 3600 IN TXT \"glue\"");
	model_add(&n, "new.deep.er." ORIGIN " 300 IN A 192.0.2.9");
	model_add(&n, "*.new.deep.er." ORIGIN " 3600 IN CNAME www." ORIGIN);
	model_add(&n, "cn3." ORIGIN " 3600 IN CNAME new.deep.er." ORIGIN);
	n.serial = 2;
	struct xfr_diff d = { 1, 2, minus(&m, &n, 1), minus(&n, &m, 2) };
	cr_assert_eq(zdiff_apply(ORIGIN, base, NULL, &d, 1, &out), 0, "%s", out.err);
	cr_assert_eq(out.is_delta, 1);
	*delta = out.img;
	*len = out.len;
	ldns_rr_list_deep_free(d.del);
	ldns_rr_list_deep_free(d.add);
	model_free(&m);
	model_free(&n);
}

static struct img_name *dnames(uint8_t *buf)
{
	return (struct img_name *)(buf + ((struct img_header *)buf)->sec[IMG_SEC_NAMES].off);
}

/* Damage one field (CRC fixed after): refused by img_verify or img_delta_check, with text. */
static void expect_bad(const char *base_path, const uint8_t *delta, size_t len,
		       void (*damage)(uint8_t *), int code, const char *text)
{
	uint8_t *buf = malloc(len);
	struct img *base, *d = NULL;
	char err[512] = "";
	int rc;

	memcpy(buf, delta, len);
	damage(buf);
	fix_crc(buf, len);
	cr_assert_eq(img_open_file(base_path, &base, err, sizeof(err)), 0, "%s", err);
	rc = img_open_mem(buf, len, 1, &d, err, sizeof(err));
	if (rc == 0)
		rc = img_delta_check(base, d, err, sizeof(err));
	cr_assert_eq(rc, code, "want %d, got %d: %s", code, rc, err);
	cr_assert(strstr(err, text), "error '%s' lacks '%s'", err, text);
	if (d)
		img_close(d);
	else
		free(buf);
	img_close(base);
}

static void d_parent(uint8_t *b) { dnames(b)[1].parent = 0; }
static void d_wildcard(uint8_t *b) { dnames(b)[0].wildcard = 1; }
static void d_tomb_apex(uint8_t *b) { dnames(b)[0].flags |= IMG_NAME_TOMBSTONE; }
static void d_denial(uint8_t *b) { ((struct img_header *)b)->denial = IMG_DENIAL_NSEC; }
static void d_base_serial(uint8_t *b) { ((struct img_header *)b)->base_serial++; }
static void d_base_sum(uint8_t *b) { ((struct img_header *)b)->base_checksum ^= 1; }
static void d_magic(uint8_t *b) { memcpy(b, IMG_MAGIC, 8); }
static void d_under_cut(uint8_t *b)
{
	struct img_name *n = dnames(b);
	uint32_t count = ((struct img_header *)b)->name_count;

	for (uint32_t i = 1; i < count; i++)
		if (!(n[i].flags & IMG_NAME_TOMBSTONE)) {
			n[i].flags ^= IMG_NAME_UNDER_CUT;
			return;
		}
}

/* A tombstone that keeps RRsets (the name before it gives up its own). */
static void d_tomb_sets(uint8_t *b)
{
	struct img_name *n = dnames(b);
	uint32_t count = ((struct img_header *)b)->name_count;

	for (uint32_t i = 1; i < count; i++)
		if (n[i].rrset_count) {
			n[i].flags = IMG_NAME_TOMBSTONE;
			return;
		}
}

Test(delta, damaged_delta_refused_with_reason)
{
	char base[600];
	uint8_t *delta;
	size_t len;

	small_delta(base, sizeof(base), &delta, &len);
	expect_bad(base, delta, len, d_parent, PHAROS_ERANGE, "parent and wildcard must be none");
	expect_bad(base, delta, len, d_wildcard, PHAROS_ERANGE, "parent and wildcard must be none");
	expect_bad(base, delta, len, d_tomb_apex, PHAROS_ERANGE, "a tombstone must be a name of a "
		   "delta below the apex");
	expect_bad(base, delta, len, d_tomb_sets, PHAROS_ERANGE, "a tombstone must be");
	expect_bad(base, delta, len, d_denial, PHAROS_ERANGE, "a tombstone in the delta of a signed zone");
	expect_bad(base, delta, len, d_base_serial, PHAROS_EZONE, "the delta applies to base "
		   "serial 2 (checksum");
	expect_bad(base, delta, len, d_base_sum, PHAROS_EZONE, "the base is serial 1");
	expect_bad(base, delta, len, d_under_cut, PHAROS_EZONE, "UNDER_CUT flag wrong");
	expect_bad(base, delta, len, d_magic, PHAROS_ERANGE, "a full image with a base serial");
	free(delta);
}

/*
 * Every byte of a delta changed (CRC fixed, so the checks past the checksum see it): the
 * verifier refuses it, or what it accepts answers queries without reading outside the
 * images (the sanitizer build checks that) and without looping.
 */
/* Every byte of delta damaged in turn (CRC fixed): refused, or answered without harm. */
static void fuzz_delta(const char *base, const uint8_t *delta, size_t len,
		       char (*names)[300], unsigned nnames)
{
	static const uint8_t masks[] = { 0x01, 0xff };
	static uint8_t out[65535];
	uint8_t *buf = malloc(len);
	char err[512];
	unsigned accepted = 0, step = nnames / 10 + 1;

	for (size_t pos = IMG_CSUM_START; pos < len; pos++) {
		for (unsigned m = 0; m < 2; m++) {
			struct img *b, *d;
			memcpy(buf, delta, len);
			buf[pos] ^= masks[m];
			fix_crc(buf, len);
			if (img_open_mem(buf, len, 0, &d, err, sizeof(err)) < 0)
				continue;
			cr_assert_eq(img_open_file(base, &b, err, sizeof(err)), 0);
			if (img_delta_check(b, d, err, sizeof(err)) < 0) {
				img_close(d);
				img_close(b);
				continue;
			}
			struct snapshot *s = snap_of(b, d);
			/* a share of the names per damaged image, a different share each time */
			for (unsigned i = (unsigned)(pos + m) % step; i < nnames; i += step) {
				for (size_t t = 0; t < sizeof(qtypes) / sizeof(qtypes[0]); t++) {
					uint8_t q[512];
					struct answer_info info;
					size_t ql = make_query(names[i], qtypes[t], 1, q);
					cr_assert_gt(answer_query(s, q, ql, out, sizeof(out),
								  ANSWER_UDP, &info), 0);
				}
			}
			snap_release(s);
			accepted++;
		}
	}
	cr_log_info("%u of %zu damaged deltas accepted (rdata, TTL, flag bytes...), all "
		    "answered", accepted, 2 * (len - IMG_CSUM_START));
	free(buf);
}

/*
 * Every byte of a delta changed (CRC fixed, so the checks past the checksum see it): the
 * verifier refuses it, or what it accepts answers queries without reading outside the
 * images (the sanitizer build checks that) and without looping.
 */
Test(delta, any_damaged_byte_refused_or_harmless)
{
	static char names[POOL][300];
	char base[600];
	uint8_t *delta;
	size_t len;

	small_delta(base, sizeof(base), &delta, &len);
	for (size_t i = 0; i < POOL; i++)
		snprintf(names[i], sizeof(names[i]), "%s.%s", pool[i], ORIGIN);
	fuzz_delta(base, delta, len, names, POOL);
	free(delta);
}

/* ---- signed zones ---- */

static const char *g_file;

/* One record as the model keeps it: ldns presentation form, one line. */
static char *rr_line(const ldns_rr *rr)
{
	char *t = ldns_rr2str(rr);

	t[strcspn(t, "\n")] = '\0';
	return t;
}

/* The model of a signed zone file (RFC 4035 / RFC 5155 examples); the names to ask for. */
static void signed_init(struct model *m)
{
	char path[512];
	FILE *f;
	ldns_zone *z = NULL;

	snprintf(path, sizeof(path), "%s/%s", getenv("PHAROS_TESTDATA"), g_file);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	ldns_rdf *origin = ldns_dname_new_frm_str(g_origin);
	cr_assert_eq(ldns_zone_new_frm_fp(&z, f, origin, 3600, LDNS_RR_CLASS_IN), LDNS_STATUS_OK);
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rr_free(g_soa);
	g_soa = ldns_rr_clone(ldns_zone_soa(z));
	m->serial = ldns_rdf2native_int32(ldns_rr_rdf(g_soa, 2));
	m->n = 0;
	g_nnames = 0;
	free(g_names);
	g_names = calloc(4 * ldns_zone_rr_count(z) + 8, sizeof(*g_names));
	snprintf(g_names[g_nnames++], 300, "%s", g_origin);
	snprintf(g_names[g_nnames++], 300, "nx.%s", g_origin);
	for (size_t i = 0; i < ldns_zone_rr_count(z); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_zone_rrs(z), i);
		char *t = rr_line(rr), *o = ldns_rdf2str(ldns_rr_owner(rr));
		if (m->n < MAX_RRS)
			m->rr[m->n++] = t;
		else
			free(t);
		int seen = 0;
		for (unsigned k = 0; k < g_nnames; k++)
			seen |= strcasecmp(g_names[k], o) == 0;
		if (!seen) {
			snprintf(g_names[g_nnames++], 300, "%s", o);
			snprintf(g_names[g_nnames++], 300, "zz.%s", o);
			snprintf(g_names[g_nnames++], 300, "a.b.%s", o);
		}
		free(o);
	}
	ldns_zone_deep_free(z);
}

/* Flip a byte near the end of rdf i (signatures, hashes, addresses): same length. */
static void flip_rdf(ldns_rr *rr, size_t i)
{
	ldns_rdf *f = ldns_rr_rdf(rr, i);
	uint8_t *d = ldns_rdf_data(f);
	size_t n = ldns_rdf_size(f);

	if (n > 1)
		d[n - 1 - (size_t)rand() % (n > 4 ? 4 : n - 1)] ^= (uint8_t)(1 + rand() % 255);
}

/*
 * Signed-zone IXFRs: mostly changes that keep every name and the chain's hashes (new
 * addresses, re-signed RRsets, NSEC/NSEC3 records rewritten, signatures added or
 * dropped): deltas; now and then a new name or a lost NSEC: full images.
 */
static void signed_mutate(struct model *m)
{
	int ops = 1 + rand() % 3;

	for (int k = 0; k < ops && m->n > 0; k++) {
		size_t i = (size_t)rand() % m->n;
		ldns_rr *rr = NULL;
		cr_assert_eq(ldns_rr_new_frm_str(&rr, m->rr[i], 3600, NULL, NULL), LDNS_STATUS_OK,
			     "%s", m->rr[i]);
		ldns_rr_type t = ldns_rr_get_type(rr);
		int what = rand() % 10;
		if (what == 0) {		/* structural: a new name */
			char line[300];
			snprintf(line, sizeof(line), "new%d.%s 3600 IN A 192.0.2.%d", rand() % 50,
				 g_origin, rand() % 200);
			model_add(m, line);
		} else if (what == 1 && t == LDNS_RR_TYPE_RRSIG) {
			model_del(m, i);	/* a signature dropped */
		} else if (what == 2 && t == LDNS_RR_TYPE_RRSIG) {
			flip_rdf(rr, 8);	/* another signature beside it */
			char *line = rr_line(rr);
			model_add(m, line);
			free(line);
		} else if (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA ||
			   t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC3 ||
			   t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_DS || t == LDNS_RR_TYPE_NS ||
			   t == LDNS_RR_TYPE_MX) {
			/* rewritten in place: address, signature, next hash, next name, digest,
			   NS and MX targets (other glue and additional data) */
			size_t r = t == LDNS_RR_TYPE_RRSIG ? 8 : t == LDNS_RR_TYPE_NSEC3 ? 4 :
				   t == LDNS_RR_TYPE_DS ? 3 : 0;
			if (t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NS ||
			    t == LDNS_RR_TYPE_MX) {	/* another name of the zone */
				ldns_rdf *nx = ldns_dname_new_frm_str(g_names[(size_t)rand() %
									     g_nnames]);
				ldns_rdf_deep_free(ldns_rr_set_rdf(rr, nx,
								   t == LDNS_RR_TYPE_MX ? 1 : 0));
			} else {
				flip_rdf(rr, r);
			}
			char *line = rr_line(rr);
			model_del(m, i);
			model_add(m, line);
			free(line);
		}
		ldns_rr_free(rr);
	}
	m->serial++;
}

static void run_signed(const char *file, const char *origin, unsigned seed, unsigned steps,
		       unsigned compact_every)
{
	g_file = file;
	g_origin = origin;
	g_init = signed_init;
	g_mutate = signed_mutate;
	g_deltas = 0;
	run_series(seed, steps, compact_every);
	cr_assert_gt(g_deltas, steps / 2, "%s: only %u deltas in %u IXFRs", file, g_deltas, steps);
	cr_log_info("%s: %u of %u IXFRs as deltas", file, g_deltas, steps);
}

Test(delta, signed_nsec_zone_ixfrs_answer_as_the_whole_zone)
{
	run_signed("rfc4035-appendix-a.zone", "example.", 11, 80, 0);
	run_signed("rfc4035-appendix-a.zone", "example.", 12, 60, 9);
}

Test(delta, signed_nsec3_zone_ixfrs_answer_as_the_whole_zone)
{
	run_signed("rfc5155-appendix-a.zone", "example.", 21, 80, 0);
	run_signed("rfc5155-appendix-a.zone", "example.", 22, 60, 9);
}

/* The same for the delta of a signed (NSEC3, opt-out) zone: denial indexes into the base. */
Test(delta, any_damaged_byte_of_a_signed_delta_refused_or_harmless)
{
	static struct model m, n;	/* n.n = 0: model_free(&n) before the first copy */
	struct zdiff_out out;
	char zpath[600], base[600];

	g_file = "rfc5155-appendix-a.zone";
	g_origin = "example.";
	signed_init(&m);
	snprintf(base, sizeof(base), "%s/signed.img", unit_dir);
	char *text = model_text(&m);
	unit_file("signed.zone", text, zpath, sizeof(zpath));
	free(text);
	cr_assert_eq(zonec_compile_file(zpath, g_origin, base, unit_quiet, NULL, NULL), 0);
	srand(5);
	do {	/* until a few records changed and the result is a delta */
		model_free(&n);
		model_copy(&n, &m);
		for (int k = 0; k < 6; k++)
			signed_mutate(&n);
		n.serial = m.serial + 1;
		struct xfr_diff d = { m.serial, n.serial, minus(&m, &n, m.serial),
				      minus(&n, &m, n.serial) };
		cr_assert_eq(zdiff_apply(g_origin, base, NULL, &d, 1, &out), 0, "%s", out.err);
		ldns_rr_list_deep_free(d.del);
		ldns_rr_list_deep_free(d.add);
		if (!out.is_delta)
			free(out.img);
	} while (!out.is_delta);
	fuzz_delta(base, out.img, out.len, g_names, g_nnames);
	free(out.img);
	model_free(&m);
	model_free(&n);
}
