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
