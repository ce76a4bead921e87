/* Unit tests for control/zonec.c: checks, findings with line numbers, the image it builds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <criterion/criterion.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "img.h"
#include "nsec3.h"
#include "zonec.h"

#define FINDINGS_MAX 64

struct finding {
	enum zonec_severity sev;
	int line;
	char what[256];
};

struct findings {
	int n, errors, warnings;
	struct finding f[FINDINGS_MAX];
};

static void collect(void *ctx, enum zonec_severity sev, const char *file, int line,
		    const char *what)
{
	struct findings *fs = ctx;

	(void)file;
	if (sev == ZONEC_ERROR)
		fs->errors++;
	else
		fs->warnings++;
	if (fs->n < FINDINGS_MAX) {
		fs->f[fs->n].sev = sev;
		fs->f[fs->n].line = line;
		snprintf(fs->f[fs->n].what, sizeof(fs->f[fs->n].what), "%s", what);
		fs->n++;
	}
}

/* The finding on a line whose text contains needle, or NULL. */
static const struct finding *find(const struct findings *fs, int line, const char *needle)
{
	for (int i = 0; i < fs->n; i++)
		if (fs->f[i].line == line && strstr(fs->f[i].what, needle))
			return &fs->f[i];
	return NULL;
}

static const char *data_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("PHAROS_TESTDATA");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	return path;
}

/* A zone from text, in a temp file; returns its path (static buffer). */
static const char *tmp_zone(const char *text)
{
	static char path[] = "/tmp/pharos-test-zonec-XXXXXX";

	strcpy(path, "/tmp/pharos-test-zonec-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Load + build + open; the image owns its buffer. */
static struct img *compile(const char *file, const char *origin, struct findings *fs)
{
	struct zonec_zone *z = NULL;
	struct img *img = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];

	cr_assert_eq(zonec_load(file, origin, collect, fs, &z), 0, "load %s", file);
	cr_assert_eq(zonec_build(z, &buf, &len), 0);
	zonec_free(z);
	cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
	return img;
}

static const struct img_name *lookup(const struct img *img, const char *txt)
{
	uint8_t w[DNAME_MAX];
	size_t len;

	cr_assert_eq(dname_from_text(txt, NULL, 0, w, &len), 0, "%s", txt);
	return img_find(img, w, len, img_hash(w, len));
}

static const char *name_text(const struct img *img, uint32_t i)
{
	static char txt[DNAME_TXT_MAX];

	cr_assert_eq(dname_to_text(img_name_wire(img, &img->names[i]), txt, sizeof(txt)), 0);
	return txt;
}

Test(zonec, basic_zone_names_flags_and_ents)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("zonec-basic.zone"), "example.org", &fs);
	const struct img_name *n;

	cr_assert_eq(fs.errors, 0);
	cr_assert_eq(fs.warnings, 0, "%s", fs.n ? fs.f[0].what : "");
	cr_assert_eq(img->hdr->serial, 2026020301u);
	cr_assert_str_eq(name_text(img, 0), "example.org.");
	cr_assert_eq(img->names[0].flags, IMG_NAME_APEX);
	cr_assert_eq(img->names[0].parent, IMG_NONE);
	/* every ancestor of a.b.c.d exists as an ENT */
	static const char *const ents[] = { "d.example.org.", "c.d.example.org.",
					    "b.c.d.example.org.", "wild.example.org." };
	for (unsigned i = 0; i < 4; i++) {
		n = lookup(img, ents[i]);
		cr_assert_not_null(n, "%s", ents[i]);
		cr_assert_eq(n->flags, IMG_NAME_ENT, "%s", ents[i]);
		cr_assert_eq(n->rrset_count, 0);
	}
	n = lookup(img, "sub.example.org.");
	cr_assert_eq(n->flags, IMG_NAME_DELEG);
	n = lookup(img, "below.sub.example.org.");
	cr_assert_eq(n->flags, IMG_NAME_UNDER_CUT | IMG_NAME_ENT);
	cr_assert_eq(lookup(img, "ns.sub.example.org.")->flags, IMG_NAME_UNDER_CUT);
	cr_assert_eq(lookup(img, "deep.below.sub.example.org.")->flags, IMG_NAME_UNDER_CUT);
	cr_assert_eq(lookup(img, "alias.example.org.")->flags, IMG_NAME_CNAME);
	n = lookup(img, "*.wild.example.org.");
	cr_assert_eq(n->flags, IMG_NAME_WILDCARD);
	cr_assert_eq(lookup(img, "wild.example.org.")->wildcard,
		     (uint32_t)(n - img->names));
	cr_assert_eq(img->name_count, 14);
	img_close(img);
}

Test(zonec, duplicates_dropped_case_folded_rdata_kept)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("zonec-basic.zone"), "example.org.", &fs);
	const struct img_name *www = lookup(img, "www.example.org.");
	const struct img_rrset *a = img_rrset(img, www, 1);

	cr_assert_not_null(a);
	cr_assert_eq(a->count, 2, "WWW and www with the same address are one RR");
	cr_assert_not_null(img_rrset(img, www, 28));
	cr_assert_eq(www->rrset_count, 2);
	const struct img_rrset *cn = img_rrset(img, lookup(img, "alias.example.org."), 5);
	cr_assert_not_null(cn);
	cr_assert_eq(cn->count, 1);
	cr_assert_eq(memcmp(img_rdata(img, cn), "\0\021\3WwW\7Example\3ORG\0", 19), 0,
		     "rdata is stored as parsed (case kept), with its length first");
	/* RRSIGs are one RRset of type 46 at their owner */
	const struct img_rrset *sig = img_rrset(img, &img->names[0], 46);
	cr_assert_not_null(sig);
	cr_assert_eq(sig->count, 2);
	img_close(img);
}

Test(zonec, rrsets_sorted_by_type_soa_found)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("zonec-basic.zone"), "example.org.", &fs);

	for (uint32_t i = 0; i < img->name_count; i++) {
		const struct img_name *n = &img->names[i];
		for (uint32_t j = 1; j < n->rrset_count; j++)
			cr_assert_lt(img->rrsets[n->rrset_first + j - 1].type,
				     img->rrsets[n->rrset_first + j].type);
	}
	const struct img_rrset *soa = &img->rrsets[img->hdr->soa_rrset];
	cr_assert_eq(soa->type, 6);
	cr_assert_eq(soa, img_rrset(img, &img->names[0], 6));
	img_close(img);
}

Test(zonec, canonical_order_rfc4034)
{
	static const char *const want[] = {
		"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.",
		"zabc.a.example.", "ns.example.", "z.example.", "\\001.z.example.",
		"*.z.example.", "\\200.z.example.",
	};
	struct findings fs = { 0 };
	struct img *img = compile(data_path("zonec-canon.zone"), "example.", &fs);

	cr_assert_eq(img->name_count, sizeof(want) / sizeof(want[0]));
	for (uint32_t i = 0; i < img->name_count; i++) {
		cr_assert_str_eq(name_text(img, i), want[i], "position %u", i);
		if (i > 0)
			cr_assert_str_eq(name_text(img, img->names[i].parent),
					 strchr(want[i], '.') + 1);
	}
	cr_assert_eq(img->names[6].wildcard, 8, "z.example. -> *.z.example.");
	img_close(img);
}

Test(zonec, warnings_with_line_numbers)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("zonec-warn.zone"), "warn.test", &fs);

	cr_assert_eq(fs.errors, 0);
	cr_assert_eq(fs.warnings, 6);
	cr_assert_not_null(find(&fs, 6, "below 60 seconds"));
	cr_assert_not_null(find(&fs, 7, "above 7 days"));
	cr_assert_not_null(find(&fs, 8, "outside the zone"));
	cr_assert_not_null(find(&fs, 9, "CNAME and other data"));
	cr_assert_not_null(find(&fs, 12, "differs from TTL 300 at line 11"));
	cr_assert_not_null(find(&fs, 0, "no NS records at the zone apex"));
	cr_assert_null(lookup(img, "www.other.test."), "out-of-zone data is dropped");
	const struct img_rrset *multi = img_rrset(img, lookup(img, "multi.warn.test."), 1);
	cr_assert_eq(multi->ttl, 300, "the lowest TTL of the RRset");
	cr_assert_eq(multi->count, 2);
	cr_assert_eq(lookup(img, "both.warn.test.")->flags, IMG_NAME_CNAME);
	img_close(img);
}

Test(zonec, syntax_error_line_and_refusal)
{
	struct findings fs = { 0 };
	struct zonec_zone *z = NULL;

	cr_assert_eq(zonec_load(data_path("zonec-syntax.zone"), "syn.test", collect, &fs, &z),
		     PHAROS_ESYNTAX);
	cr_assert_null(z);
	cr_assert_eq(fs.errors, 1);
	cr_assert_eq(fs.f[0].sev, ZONEC_ERROR);
	cr_assert_eq(fs.f[0].line, 10, "line %d: %s", fs.f[0].line, fs.f[0].what);
	cr_assert(strstr(fs.f[0].what, "192.0.2.256"));
}

Test(zonec, missing_soa_refused)
{
	struct findings fs = { 0 };
	struct zonec_zone *z = NULL;

	cr_assert_eq(zonec_load(data_path("zonec-nosoa.zone"), "nosoa.test", collect, &fs, &z),
		     PHAROS_EZONE);
	cr_assert_null(z);
	cr_assert_not_null(find(&fs, 0, "no SOA"));
}

Test(zonec, soa_rules_class_directives)
{
	struct findings fs = { 0 };
	struct zonec_zone *z = NULL;
	const char *f = tmp_zone(
		"$ORIGIN t.\n"				/* 1 */
		"@ 3600 SOA ns h 1 2 3 4 5\n"		/* 2 */
		"@ 3600 SOA ns h 2 2 3 4 5\n"		/* 3: second SOA */
		"sub 3600 SOA ns h 1 2 3 4 5\n"		/* 4: SOA not at apex */
		"ch 3600 CH TXT \"x\"\n"		/* 5: class */
		"$INCLUDE other.zone\n"			/* 6 */
		"x 3600 TXT ( \"a\"\n"			/* 7: never closed */
		"  \"b\"\n");

	cr_assert_eq(zonec_load(f, "t.", collect, &fs, &z), PHAROS_ESYNTAX);
	unlink(f);
	cr_assert_not_null(find(&fs, 3, "more than one SOA record (first at line 2)"));
	cr_assert_not_null(find(&fs, 4, "not at the zone apex"));
	cr_assert_not_null(find(&fs, 5, "only IN"));
	cr_assert_not_null(find(&fs, 6, "$INCLUDE is not supported"));
	cr_assert_not_null(find(&fs, 7, "not closed"));
	cr_assert_eq(fs.errors, 5);
}

Test(zonec, repeated_identical_soa_is_a_warning)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(		/* the shape of a "dig AXFR" dump */
		"t. 3600 IN SOA ns.t. h.t. 5 2 3 4 5\n"
		"t. 3600 IN NS ns.t.\n"
		"ns.t. 3600 IN A 192.0.2.1\n"
		"t. 3600 IN SOA ns.t. h.t. 5 2 3 4 5\n");
	struct img *img = compile(f, "t", &fs);

	unlink(f);
	cr_assert_eq(fs.errors, 0);
	cr_assert_eq(fs.warnings, 1);
	cr_assert_not_null(find(&fs, 4, "SOA record repeated (first at line 1)"));
	cr_assert_eq(img_rrset(img, &img->names[0], 6)->count, 1);
	img_close(img);
}

Test(zonec, multiline_owner_omitted_and_directives)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(
		"$TTL 1h\n"
		"@ SOA ns h ( 7 ; serial\n"
		"   2 3 4 5 )\n"
		"  NS ns.a\n"			/* owner omitted: the apex */
		"$ORIGIN a\n"			/* relative: a.t. */
		"ns A 192.0.2.1\n"
		"   AAAA 2001:db8::1 ; same owner\n"
		"txt TXT \"semi;colon\" \"paren(\"\n");
	struct img *img = compile(f, "T", &fs);

	unlink(f);
	cr_assert_eq(fs.errors, 0);
	cr_assert_eq(img->hdr->serial, 7);
	cr_assert_not_null(img_rrset(img, &img->names[0], 2));
	const struct img_name *ns = lookup(img, "ns.a.t.");
	cr_assert_not_null(ns);
	cr_assert_not_null(img_rrset(img, ns, 1));
	cr_assert_not_null(img_rrset(img, ns, 28));
	cr_assert_eq(img_rrset(img, ns, 1)->ttl, 3600);
	const struct img_rrset *txt = img_rrset(img, lookup(img, "txt.a.t."), 16);
	cr_assert_not_null(txt);
	cr_assert_eq(memcmp(img_rdata(img, txt), "\0\022\012semi;colon\6paren(", 20), 0);
	cr_assert_eq(lookup(img, "a.t.")->flags, IMG_NAME_ENT);
	img_close(img);
}

Test(zonec, write_file_atomic)
{
	char dir[] = "/tmp/pharos-test-write-XXXXXX", path[64];
	const uint8_t data[] = "image bytes";
	uint8_t back[32];
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/zone.img", dir);
	cr_assert_eq(zonec_write_file(path, data, sizeof(data)), 0);
	cr_assert_eq(zonec_write_file(path, data, sizeof(data)), 0, "replaces the old file");
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	cr_assert_eq(fread(back, 1, sizeof(back), fp), sizeof(data));
	fclose(fp);
	cr_assert_eq(memcmp(back, data, sizeof(data)), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	unlink(path);
	cr_assert_eq(rmdir(dir), 0, "no temp file left behind");
	cr_assert_eq(zonec_write_file("/nonexistent-dir/x.img", data, 1), PHAROS_EIO);
}

Test(zonec, compile_file_and_rfc_zones)
{
	char dir[] = "/tmp/pharos-test-rfc-XXXXXX", path[64];
	static const char *const zones[] = { "rfc4035-appendix-a.zone", "rfc5155-appendix-a.zone",
					     "answer.zone" };
	static const char *const origins[] = { "example.", "example.", "example.com." };
	static const uint32_t serials[] = { 1081539377u, 1u, 2026010101u };

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/zone.img", dir);
	for (unsigned i = 0; i < 3; i++) {
		struct findings fs = { 0 };
		struct img *img = NULL;
		char err[256];
		uint32_t serial = 0;
		cr_assert_eq(zonec_compile_file(data_path(zones[i]), origins[i], path, collect,
						&fs, &serial), 0, "%s", zones[i]);
		cr_assert_eq(fs.errors, 0, "%s: %s", zones[i], fs.f[0].what);
		if (i < 2)
			cr_assert_eq(fs.warnings, 0, "%s: %s", zones[i], fs.f[0].what);
		cr_assert_eq(serial, serials[i]);
		cr_assert_eq(img_open_file(path, &img, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(img->hdr->serial, serials[i]);
		img_close(img);
	}
	unlink(path);
	rmdir(dir);
}

/* ---------------- DNSSEC: signatures, NSEC, NSEC3 ---------------- */

static uint32_t index_of(const struct img *img, const char *txt)
{
	const struct img_name *n = lookup(img, txt);

	cr_assert_not_null(n, "%s", txt);
	return (uint32_t)(n - img->names);
}

/* Type covered by each signature of an RRset, and that they fill sig_len. */
static void expect_sigs(const struct img *img, const struct img_rrset *rs, uint16_t count,
			uint32_t ttl)
{
	const uint8_t *p = img_sigs(img, rs);
	size_t used = 0;

	cr_assert_eq(rs->sig_count, count, "type %u: %u signatures", rs->type, rs->sig_count);
	for (uint16_t k = 0; k < rs->sig_count; k++) {
		uint16_t rdlen = (uint16_t)(p[used] << 8 | p[used + 1]);
		cr_assert_eq(p[used + 2] << 8 | p[used + 3], rs->type);
		used += 2 + (size_t)rdlen;
	}
	cr_assert_eq(used, rs->sig_len);
	if (count)
		cr_assert_eq(rs->sig_ttl, ttl);
}

Test(zonec, rrsigs_grouped_by_type_covered)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("rfc4035-appendix-a.zone"), "example.", &fs);
	const struct img_name *apex = &img->names[0];

	/* apex: NS SOA MX RRSIG NSEC DNSKEY, each signed once but DNSKEY (two keys) */
	expect_sigs(img, img_rrset(img, apex, 2), 1, 3600);
	expect_sigs(img, img_rrset(img, apex, 6), 1, 3600);
	expect_sigs(img, img_rrset(img, apex, 15), 1, 3600);
	expect_sigs(img, img_rrset(img, apex, 47), 1, 3600);
	expect_sigs(img, img_rrset(img, apex, 48), 2, 3600);
	const struct img_rrset *sig = img_rrset(img, apex, 46);
	cr_assert_eq(sig->count, 6, "the RRSIG RRset keeps all of them");
	expect_sigs(img, sig, 0, 0);
	cr_assert_eq(sig->sig_off | sig->sig_len | sig->sig_ttl, 0);
	/* the signatures of consecutive types are consecutive inside the RRSIG RRset */
	const struct img_rrset *ns = img_rrset(img, apex, 2), *soa = img_rrset(img, apex, 6);
	cr_assert_eq(ns->sig_off, sig->rdata_off);
	cr_assert_eq(soa->sig_off, ns->sig_off + ns->sig_len);
	/* unsigned: glue and the NS of a delegation */
	const struct img_name *a = lookup(img, "a.example.");
	expect_sigs(img, img_rrset(img, a, 2), 0, 0);
	expect_sigs(img, img_rrset(img, a, 43), 1, 3600);
	expect_sigs(img, img_rrset(img, lookup(img, "ns1.a.example."), 1), 0, 0);
	img_close(img);
}

Test(zonec, rrsig_ttl_is_the_lowest_of_its_type)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"ns 3600 A 192.0.2.1\n"
		"ns 600 RRSIG A 8 2 3600 20300101000000 20200101000000 2 t. BBBB\n"
		"ns 300 RRSIG A 8 2 3600 20300101000000 20200101000000 1 t. AAAA\n"
		"ns 120 RRSIG TXT 8 2 3600 20300101000000 20200101000000 2 t. BBBB\n"
		"ns 900 RRSIG NSEC 8 2 3600 20300101000000 20200101000000 2 t. BBBB\n");
	struct img *img = compile(f, "t", &fs);
	const struct img_name *ns = lookup(img, "ns.t.");

	unlink(f);
	cr_assert_eq(fs.errors + fs.warnings, 0, "%s", fs.f[0].what);
	expect_sigs(img, img_rrset(img, ns, 1), 2, 300);
	cr_assert_eq(img_rrset(img, ns, 46)->ttl, 120, "the RRSIG RRset: the lowest of all");
	cr_assert_eq(img_rrset(img, ns, 46)->count, 4, "RRSIGs covering no RRset are kept");
	cr_assert_eq(img->denial, IMG_DENIAL_NONE, "an RRSIG of NSEC is not an NSEC");
	img_close(img);
}

/* RFC 4035 Appendix A: NSEC. denial of each name: its own NSEC, or its predecessor's. */
Test(zonec, rfc4035_nsec_denial)
{
	static const struct { const char *name, *denial, *wild; } want[] = {
		{ "example.", "example.", "example." },		/* *.example < a.example */
		{ "a.example.", "a.example.", "a.example." },
		{ "ai.example.", "ai.example.", "ai.example." },
		{ "b.example.", "b.example.", "b.example." },
		{ "ns2.example.", "ns2.example.", "ns2.example." },
		{ "w.example.", "ns2.example.", "*.w.example." },	/* ENT; *.w exists */
		{ "*.w.example.", "*.w.example.", "*.w.example." },
		{ "x.w.example.", "x.w.example.", "x.w.example." },
		{ "y.w.example.", "x.w.example.", "x.w.example." },	/* ENT with a child */
		{ "x.y.w.example.", "x.y.w.example.", "x.y.w.example." },
		{ "xx.example.", "xx.example.", "xx.example." },
	};
	struct findings fs = { 0 };
	struct img *img = compile(data_path("rfc4035-appendix-a.zone"), "example.", &fs);

	cr_assert_eq(img->hdr->denial, IMG_DENIAL_NSEC);
	cr_assert_eq(img->denial, IMG_DENIAL_NSEC);
	cr_assert_eq(img->nsec3_count, 0);
	cr_assert_null(img->nsec3param);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct img_name *n = lookup(img, want[i].name);
		cr_assert_not_null(n, "%s", want[i].name);
		cr_assert_eq(n->denial, index_of(img, want[i].denial), "%s: denial %s",
			     want[i].name, name_text(img, n->denial));
		cr_assert_eq(n->wild_denial, index_of(img, want[i].wild), "%s: wild_denial %s",
			     want[i].name, name_text(img, n->wild_denial));
		cr_assert_eq(n->flags & IMG_NAME_NSEC3_COVERED, 0);
	}
	/* glue below the cut a.example. has none */
	const struct img_name *glue = lookup(img, "ns1.a.example.");
	cr_assert_eq(glue->denial, IMG_NONE);
	cr_assert_eq(glue->wild_denial, IMG_NONE);
	img_close(img);
}

/* The NSEC wildcard proof wraps around: nothing with an NSEC sorts before "*.<name>". */
Test(zonec, nsec_wildcard_denial_wraps)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"ns 3600 A 192.0.2.1\n"
		"ns 3600 NSEC z.t. A NSEC\n"
		"z 3600 NSEC ns.t. NSEC\n"
		"\\001.ns 3600 TXT \"sorts before *.ns\"\n");
	struct img *img = compile(f, "t", &fs);

	unlink(f);
	cr_assert_eq(fs.errors, 0);
	cr_assert_eq(img->denial, IMG_DENIAL_NSEC);
	/* the apex has no NSEC: covered by the last NSEC of the chain (wrap) */
	cr_assert_eq(img->names[0].denial, index_of(img, "z.t."));
	/* \001.ns.t. sorts before *.ns.t.: no NSEC there, so ns.t. covers it */
	const struct img_name *ns = lookup(img, "ns.t.");
	cr_assert_eq(ns->wild_denial, index_of(img, "ns.t."));
	cr_assert_eq(lookup(img, "\\001.ns.t.")->denial, index_of(img, "ns.t."));
	img_close(img);
}

static const uint8_t *nsec3_hash_of(const struct img *img, uint32_t i)
{
	cr_assert_lt(i, img->nsec3_count);
	return img->nsec3[i].hash;
}

static const char *nsec3_owner_text(const struct img *img, uint32_t i)
{
	static char txt[DNAME_TXT_MAX];

	cr_assert_lt(i, img->nsec3_count);
	cr_assert_eq(dname_to_text(img->base + img->nsec3[i].owner_off, txt, sizeof(txt)), 0);
	return txt;
}

/* NSEC3 record i covers h: owner hash < h < next hash, or the last one wrapping around. */
static int covers(const struct img *img, uint32_t i, const uint8_t *h)
{
	const uint8_t *lo = nsec3_hash_of(img, i);
	const uint8_t *hi = i + 1 < img->nsec3_count ? nsec3_hash_of(img, i + 1) : NULL;

	if (hi)
		return memcmp(lo, h, 20) < 0 && memcmp(h, hi, 20) < 0;
	return memcmp(lo, h, 20) < 0 || memcmp(h, nsec3_hash_of(img, 0), 20) < 0;
}

/* RFC 5155 Appendix A: an NSEC3 chain, opt-out, hashed owners kept out of NAMES. */
Test(zonec, rfc5155_nsec3_chain)
{
	struct findings fs = { 0 };
	struct img *img = compile(data_path("rfc5155-appendix-a.zone"), "example.", &fs);
	const struct img_nsec3param *p = img->nsec3param;

	cr_assert_eq(fs.errors + fs.warnings, 0, "%s", fs.f[0].what);
	cr_assert_eq(img->hdr->denial, IMG_DENIAL_NSEC3);
	cr_assert_not_null(p);
	cr_assert_eq(p->alg, 1);
	cr_assert_eq(p->flags, 0);
	cr_assert_eq(p->iterations, 12);
	cr_assert_eq(p->salt_len, 4);
	cr_assert_eq(memcmp(p->salt, "\xaa\xbb\xcc\xdd", 4), 0);
	cr_assert_eq(img->nsec3_count, 12);
	/* hashed owners are not names of the zone; 2t7b... also owns an A: that one is */
	cr_assert_null(lookup(img, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example."));
	cr_assert_null(lookup(img, "k8udemvp1j2f7eg6jebps17vp3n8i58h.example."));
	const struct img_name *hashed = lookup(img, "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.");
	cr_assert_not_null(hashed);
	cr_assert_eq(hashed->rrset_count, 2, "A and RRSIG, not the NSEC3");
	cr_assert_eq(img_rrset(img, hashed, 46)->count, 1, "the RRSIG of the NSEC3 went with it");
	cr_assert_eq(img->name_count, 17);
	/* H(example) matches the first record of the chain */
	cr_assert_eq(img->names[0].denial, 0);
	cr_assert_str_eq(nsec3_owner_text(img, 0), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.");
	uint8_t h[20];
	cr_assert_eq(nsec3_b32hex_decode((const uint8_t *)"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", 32,
					 h), 0);
	cr_assert_eq(memcmp(nsec3_hash_of(img, 0), h, 20), 0);
	/* hash order, each RRset one NSEC3 with its signature */
	for (uint32_t i = 0; i < img->nsec3_count; i++) {
		const struct img_rrset *rs = &img->rrsets[img->nsec3[i].rrset];
		if (i > 0)
			cr_assert_lt(memcmp(nsec3_hash_of(img, i - 1), nsec3_hash_of(img, i), 20),
				     0);
		cr_assert_eq(rs->type, 50);
		cr_assert_eq(rs->count, 1);
		cr_assert_eq(rs->ttl, 3600);
		expect_sigs(img, rs, 1, 3600);
	}
	img_close(img);
}

Test(zonec, rfc5155_denial_indexes)
{
	static const struct { const char *name, *owner; } match[] = {
		/* a.example.: a signed cut */
		{ "a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl.example." },
		{ "ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi.example." },
		{ "w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h.example." },	/* ENT */
		{ "y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc.example." },	/* ENT */
		{ "*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en.example." },
		{ "ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example." },
	};
	struct findings fs = { 0 };
	struct img *img = compile(data_path("rfc5155-appendix-a.zone"), "example.", &fs);

	for (unsigned i = 0; i < sizeof(match) / sizeof(match[0]); i++) {
		const struct img_name *n = lookup(img, match[i].name);
		cr_assert_eq(n->flags & IMG_NAME_NSEC3_COVERED, 0, "%s", match[i].name);
		cr_assert_str_eq(nsec3_owner_text(img, n->denial), match[i].owner, "%s",
				 match[i].name);
	}
	/* w.example.'s wildcard exists: its NSEC3 matches H(*.w.example) */
	cr_assert_str_eq(nsec3_owner_text(img, lookup(img, "w.example.")->wild_denial),
			 "r53bq7cc2uvmubfu5ocmm6pers9tk9en.example.");
	/* c.example.: an insecure delegation under opt-out, no NSEC3 of its own */
	const struct img_name *c = lookup(img, "c.example.");
	cr_assert_eq(c->flags, IMG_NAME_DELEG | IMG_NAME_NSEC3_COVERED);
	uint8_t h[20];
	nsec3_hash(img->nsec3param, img_name_wire(img, c), c->name_len, h);
	cr_assert(covers(img, c->denial, h), "c.example. covered by %s",
		  nsec3_owner_text(img, c->denial));
	/* its glue: no denial at all */
	const struct img_name *glue = lookup(img, "ns1.c.example.");
	cr_assert_eq(glue->flags, IMG_NAME_UNDER_CUT);
	cr_assert_eq(glue->denial, IMG_NONE);
	cr_assert_eq(glue->wild_denial, IMG_NONE);
	/* every other name: its own hash matched, or covered with the flag, and the wildcard */
	for (uint32_t i = 0; i < img->name_count; i++) {
		const struct img_name *n = &img->names[i];
		uint8_t w[DNAME_MAX];
		if (n->flags & IMG_NAME_UNDER_CUT)
			continue;
		nsec3_hash(img->nsec3param, img_name_wire(img, n), n->name_len, h);
		if (n->flags & IMG_NAME_NSEC3_COVERED)
			cr_assert(covers(img, n->denial, h), "%s", name_text(img, i));
		else
			cr_assert_eq(memcmp(nsec3_hash_of(img, n->denial), h, 20), 0, "%s",
				     name_text(img, i));
		w[0] = 1;
		w[1] = '*';
		memcpy(w + 2, img_name_wire(img, n), n->name_len);
		nsec3_hash(img->nsec3param, w, n->name_len + 2u, h);
		cr_assert(memcmp(nsec3_hash_of(img, n->wild_denial), h, 20) == 0 ||
			  covers(img, n->wild_denial, h), "*.%s", name_text(img, i));
	}
	img_close(img);
}

/* Two chains (a parameter change half done): only the NSEC3PARAM's is served. */
Test(zonec, nsec3_other_chain_dropped_owner_only_names_absent)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"						/* 2 */
		"@ 3600 NS ns\n"
		"@ 3600 NSEC3PARAM 1 0 0 -\n"
		"ns 3600 A 192.0.2.1\n"
		"00000000000000000000000000000000 3600 NSEC3 1 0 0 - "
		"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n"
		"00000000000000000000000000000000 3600 RRSIG NSEC3 8 2 3600 "
		"20300101000000 20200101000000 1 t. AAAA\n"
		"11111111111111111111111111111111 3600 NSEC3 1 0 5 ab "
		"22222222222222222222222222222222 A\n"				/* 8 */
		"11111111111111111111111111111111 3600 RRSIG NSEC3 8 2 3600 "
		"20300101000000 20200101000000 1 t. AAAA\n"
		"33333333333333333333333333333333 3600 NSEC3 1 0 5 ab "
		"22222222222222222222222222222222 A\n");
	struct img *img = compile(f, "t", &fs);

	unlink(f);
	cr_assert_eq(fs.errors, 0, "%s", fs.f[0].what);
	cr_assert_not_null(find(&fs, 8, "2 NSEC3 records with parameters other than the "
				"NSEC3PARAM's (1 0 0 -); dropped"));
	cr_assert_eq(fs.warnings, 1);
	cr_assert_eq(img->denial, IMG_DENIAL_NSEC3);
	cr_assert_eq(img->nsec3_count, 1);
	cr_assert_str_eq(nsec3_owner_text(img, 0), "00000000000000000000000000000000.t.");
	expect_sigs(img, &img->rrsets[img->nsec3[0].rrset], 1, 3600);
	cr_assert_eq(img->name_count, 2, "no name, no ENT for hashed owners");
	cr_assert_null(lookup(img, "11111111111111111111111111111111.t."));
	/* one record: it covers (or matches) everything */
	cr_assert_eq(img->names[1].denial, 0);
	cr_assert_eq(img->names[1].flags & IMG_NAME_NSEC3_COVERED, IMG_NAME_NSEC3_COVERED);
	img_close(img);
}

Test(zonec, nsec3_without_param_or_chain)
{
	struct findings fs = { 0 };
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"ns 3600 A 192.0.2.1\n"
		"00000000000000000000000000000000 3600 NSEC3 1 0 0 - "
		"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n");
	struct img *img = compile(f, "t", &fs);

	unlink(f);
	cr_assert_not_null(find(&fs, 5, "1 NSEC3 records but no NSEC3PARAM with flags 0 at "
				"the apex; dropped"));
	cr_assert_eq(img->denial, IMG_DENIAL_NONE);
	cr_assert_eq(img->name_count, 2);
	img_close(img);

	memset(&fs, 0, sizeof(fs));
	f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"@ 3600 NSEC3PARAM 1 0 10 beef\n");
	img = compile(f, "t", &fs);
	unlink(f);
	cr_assert_not_null(find(&fs, 0, "NSEC3PARAM 1 0 10 beef but no NSEC3 record of its "
				"chain"));
	cr_assert_eq(img->denial, IMG_DENIAL_NONE);
	cr_assert_null(img->nsec3param);
	img_close(img);
}

Test(zonec, dnssec_record_errors_refuse_the_zone)
{
	struct findings fs = { 0 };
	struct zonec_zone *z = NULL;
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"x.00000000000000000000000000000000 3600 NSEC3 1 0 0 - "
		"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n"				/* 4 */
		"zzzz 3600 NSEC3 1 0 0 - VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n"	/* 5 */
		"vvvv 3600 RRSIG NSEC3 8 2 3600 20300101000000 20200101000000 1 t. AAAA\n"
		"ns 3600 TYPE46 \\# 4 00010203\n"					/* 7 */
		"00000000000000000000000000000000 3600 TYPE50 \\# 6 010000000000\n");	/* 8 */

	cr_assert_eq(zonec_load(f, "t.", collect, &fs, &z), PHAROS_EZONE);
	unlink(f);
	cr_assert_null(z);
	cr_assert_not_null(find(&fs, 4, "x.00000000000000000000000000000000.t. NSEC3: an NSEC3 "
				"owner must be a hash (32 base32hex digits) directly below the "
				"apex"));
	cr_assert_not_null(find(&fs, 5, "zzzz.t. NSEC3: an NSEC3 owner must be a hash"));
	cr_assert_not_null(find(&fs, 6, "vvvv.t. RRSIG: an NSEC3 owner must be a hash"));
	cr_assert_not_null(find(&fs, 7, "malformed RRSIG record (4 octets)"));
	cr_assert_not_null(find(&fs, 8, "malformed NSEC3 record"));
	cr_assert_eq(fs.errors, 5);
}

Test(zonec, dnssec_chain_errors_refuse_the_zone)
{
	struct findings fs = { 0 };
	struct zonec_zone *z = NULL;
	const char *f = tmp_zone(
		"$ORIGIN t.\n"
		"@ 3600 SOA ns h 1 2 3 4 5\n"
		"@ 3600 NS ns\n"
		"@ 3600 NSEC3PARAM 2 0 0 -\n"						/* 4 */
		"@ 3600 TYPE51 \\# 4 01000001\n"					/* 5 */
		"00000000000000000000000000000000 3600 NSEC3 2 0 0 - "
		"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n"				/* 6 */
		"00000000000000000000000000000000 3600 NSEC3 2 1 0 - "
		"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV A\n");				/* 7 */

	cr_assert_eq(zonec_load(f, "t.", collect, &fs, &z), PHAROS_EZONE);
	unlink(f);
	cr_assert_null(z);
	cr_assert_not_null(find(&fs, 4, "NSEC3PARAM hash algorithm 2 is not supported"));
	cr_assert_not_null(find(&fs, 5, "malformed NSEC3PARAM record"));
	cr_assert_not_null(find(&fs, 7, "00000000000000000000000000000000.t.: more than one "
				"NSEC3 record of the chain (the other at line 6)"));
	cr_assert_eq(fs.errors, 3);
}
