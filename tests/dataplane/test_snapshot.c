/* Unit tests for dataplane/snapshot.c: zone table order, longest-suffix lookup, refcounts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pharos/err.h"
#include "dname.h"
#include "img.h"
#include "snapshot.h"
#include "zonec.h"
#include "unit.h"

TestSuite(snapshot, .init = unit_dir_make, .fini = unit_dir_remove);

/* A small zone with this origin and serial, compiled by zonec, opened from memory. */
static struct snap_zone *zone(const char *origin, uint32_t serial)
{
	char file[128];
	struct img *img;
	uint8_t *buf;
	size_t len;
	char err[256];
	FILE *f;

	snprintf(file, sizeof(file), "%s/%s%u.zone", unit_dir, origin, serial);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fprintf(f, "$ORIGIN %s\n$TTL 3600\n"
		"@ IN SOA ns1.%s hostmaster.%s %u 7200 3600 1209600 300\n"
		"@ IN NS ns1.%s\n"
		"ns1.%s IN A 192.0.2.1\n",
		origin, origin, origin, serial, origin, origin);
	fclose(f);
	cr_assert_eq(zonec_build_file(file, origin, zonec_report_stderr, NULL, &buf, &len, NULL),
		     0, "zonec %s", origin);
	cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
	struct snap_zone *z = snap_zone_new(img, file);
	cr_assert_not_null(z);
	cr_assert_eq(z->refs, 0);
	return z;
}

/* Zone found for a query name in text form, or NULL. */
static const struct snap_zone *find(const struct snapshot *s, const char *qname)
{
	uint8_t w[DNAME_MAX];
	size_t len;

	cr_assert_eq(dname_from_text(qname, NULL, 0, w, &len), 0, "%s", qname);
	return snap_find(s, w, len);
}

static uint32_t serial(const struct snap_zone *z)
{
	return z->img->hdr->serial;
}

/* Build a snapshot from zones, one snap_with at a time, releasing the steps in between. */
static struct snapshot *build(struct snap_zone **zs, size_t n)
{
	struct snapshot *s = NULL, *next;

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(snap_with(s, zs[i], &next), 0);
		snap_release(s);
		s = next;
	}
	return s;
}

Test(snapshot, empty_and_null)
{
	cr_assert_null(find(NULL, "www.example.com."));
	struct snapshot *s;
	uint8_t o[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };

	cr_assert_eq(snap_without(NULL, o, sizeof(o), &s), PHAROS_ENOTFOUND);
	snap_release(NULL);
	snap_zone_free(NULL);
}

Test(snapshot, sorted_and_found)
{
	struct snap_zone *zs[] = {
		zone("example.net.", 1), zone("example.com.", 2), zone("b.test.", 3),
		zone("a.test.", 4), zone("org.", 5),
	};
	struct snapshot *s = build(zs, 5);

	cr_assert_eq(s->count, 5);
	for (uint32_t i = 1; i < s->count; i++) {
		const struct snap_zone *a = s->zones[i - 1], *b = s->zones[i];
		size_t n = a->origin_len < b->origin_len ? a->origin_len : b->origin_len;
		int c = memcmp(a->origin, b->origin, n);

		cr_assert(c < 0 || (c == 0 && a->origin_len < b->origin_len), "order at %u", i);
	}
	for (int i = 0; i < 5; i++)
		cr_assert_eq(zs[i]->refs, 1);
	cr_assert_eq(find(s, "example.com."), zs[1]);
	cr_assert_eq(find(s, "www.example.com."), zs[1]);
	cr_assert_eq(find(s, "a.b.c.example.net."), zs[0]);
	cr_assert_eq(find(s, "x.b.test."), zs[2]);
	cr_assert_eq(find(s, "a.test."), zs[3]);
	cr_assert_eq(find(s, "deep.down.org."), zs[4]);
	cr_assert_null(find(s, "test."));
	cr_assert_null(find(s, "c.test."));
	cr_assert_null(find(s, "example.edu."));
	cr_assert_null(find(s, "."));
	snap_release(s);
}

Test(snapshot, label_aligned)
{
	struct snap_zone *zs[] = { zone("example.com.", 1) };
	struct snapshot *s = build(zs, 1);

	cr_assert_null(find(s, "xexample.com."));
	cr_assert_null(find(s, "com."));
	cr_assert_null(find(s, "example.com.x."));
	cr_assert_eq(find(s, "x.example.com."), zs[0]);
	cr_assert_eq(find(s, "xexample.com.example.com."), zs[0]);
	snap_release(s);
}

Test(snapshot, nested_longest_suffix)
{
	struct snap_zone *zs[] = {
		zone("com.", 1), zone("example.com.", 2), zone("sub.example.com.", 3),
	};
	struct snapshot *s = build(zs, 3);

	cr_assert_eq(find(s, "com."), zs[0]);
	cr_assert_eq(find(s, "xexample.com."), zs[0]);
	cr_assert_eq(find(s, "example.com."), zs[1]);
	cr_assert_eq(find(s, "www.example.com."), zs[1]);
	cr_assert_eq(find(s, "xsub.example.com."), zs[1]);
	cr_assert_eq(find(s, "sub.example.com."), zs[2]);
	cr_assert_eq(find(s, "a.b.sub.example.com."), zs[2]);
	cr_assert_null(find(s, "net."));
	snap_release(s);
}

Test(snapshot, replace_and_refcounts)
{
	struct snap_zone *a1 = zone("example.com.", 1), *b = zone("example.net.", 7);
	struct snap_zone *a2 = zone("example.com.", 2);
	struct snapshot *s1, *s2, *s3;

	cr_assert_eq(snap_with(NULL, a1, &s1), 0);
	cr_assert_eq(a1->refs, 1);
	cr_assert_eq(snap_with(s1, b, &s2), 0);
	cr_assert_eq(a1->refs, 2);		/* s1 and s2 */
	cr_assert_eq(b->refs, 1);
	cr_assert_eq(s2->count, 2);
	cr_assert_eq(snap_with(s2, a2, &s3), 0);	/* same origin: replaces */
	cr_assert_eq(s3->count, 2);
	cr_assert_eq(serial(find(s3, "www.example.com.")), 2);
	cr_assert_eq(serial(find(s2, "www.example.com.")), 1);	/* old readers keep theirs */
	cr_assert_eq(a1->refs, 2);
	cr_assert_eq(a2->refs, 1);
	cr_assert_eq(b->refs, 2);
	snap_release(s1);
	cr_assert_eq(a1->refs, 1);
	snap_release(s2);			/* a1 reaches 0 and is closed */
	cr_assert_eq(b->refs, 1);
	cr_assert_eq(a2->refs, 1);
	cr_assert_eq(find(s3, "example.net."), b);
	snap_release(s3);
}

Test(snapshot, remove)
{
	struct snap_zone *zs[] = {
		zone("com.", 1), zone("example.com.", 2), zone("example.org.", 3),
	};
	struct snapshot *s = build(zs, 3), *t, *u;
	uint8_t w[DNAME_MAX];
	size_t len;

	cr_assert_eq(dname_from_text("example.com.", NULL, 0, w, &len), 0);
	cr_assert_eq(snap_without(s, w, len, &t), 0);
	cr_assert_eq(t->count, 2);
	cr_assert_eq(zs[1]->refs, 1);		/* only s still holds it */
	cr_assert_eq(zs[0]->refs, 2);
	cr_assert_eq(find(t, "www.example.com."), zs[0]);	/* falls back to com. */
	cr_assert_eq(find(s, "www.example.com."), zs[1]);
	cr_assert_eq(snap_without(t, w, len, &u), PHAROS_ENOTFOUND);
	snap_release(s);
	cr_assert_eq(dname_from_text("example.org.", NULL, 0, w, &len), 0);
	cr_assert_eq(snap_without(t, w, len, &u), 0);
	cr_assert_eq(dname_from_text("com.", NULL, 0, w, &len), 0);
	snap_release(t);
	cr_assert_eq(snap_without(u, w, len, &t), 0);
	cr_assert_eq(t->count, 0);
	cr_assert_null(find(t, "www.example.com."));
	snap_release(u);
	snap_release(t);
}

Test(snapshot, zone_free_unheld)
{
	struct snap_zone *z = zone("example.com.", 1);

	cr_assert_str_eq(z->path + strlen(z->path) - strlen("example.com.1.zone"),
			 "example.com.1.zone");
	cr_assert_eq(z->origin_len, 13);
	snap_zone_free(z);
}

Test(snapshot, many_zones)
{
	enum { N = 300 };
	static struct snap_zone *zs[N];
	char name[64];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "z%03d.%s.", i, i % 2 ? "test" : "example");
		zs[i] = zone(name, (uint32_t)i + 1);
	}
	struct snapshot *s = build(zs, N);

	cr_assert_eq(s->count, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "www.x.z%03d.%s.", i, i % 2 ? "test" : "example");
		cr_assert_eq(find(s, name), zs[i], "%s", name);
		snprintf(name, sizeof(name), "z%03d.%s.", i, i % 2 ? "example" : "test");
		cr_assert_null(find(s, name), "%s", name);
	}
	snap_release(s);
}

/* Expired is published as a copy sharing the image; the image lives while any zone uses it. */
Test(snapshot, flagged_view)
{
	struct snap_zone *a = zone("example.com.", 1), *b = zone("example.net.", 7);
	struct snap_zone *zs[] = { a, b };
	struct snapshot *s1 = build(zs, 2), *s2, *s3, *s4;
	struct img *img = a->img;
	struct snap_zone *v, *w;

	cr_assert_eq(img->refs, 1);
	v = snap_zone_flagged(a, SNAP_ZONE_EXPIRED);
	cr_assert_not_null(v);
	cr_assert_eq(v->img, img, "the same mapping, not a copy");
	cr_assert_eq(img->refs, 2, "a and the flagged zone");
	cr_assert_eq(v->refs, 0);
	cr_assert_eq(snap_with(s1, v, &s2), 0);
	cr_assert_eq(find(s2, "www.example.com.")->flags, SNAP_ZONE_EXPIRED);
	cr_assert_eq(find(s1, "www.example.com.")->flags, 0, "the published zone is untouched");
	cr_assert_eq(find(s2, "example.net."), b);
	snap_release(s1);			/* a is freed, its image stays for v */
	cr_assert_eq(img->refs, 1);
	cr_assert_eq(serial(find(s2, "example.com.")), 1, "the image is still mapped");

	w = snap_zone_flagged(v, 0);		/* un-expire */
	cr_assert_eq(img->refs, 2);
	cr_assert_eq(snap_with(s2, w, &s3), 0);
	cr_assert_eq(find(s3, "example.com.")->flags, 0);
	snap_release(s2);			/* v goes, the image stays for w */
	cr_assert_eq(img->refs, 1);
	cr_assert_eq(serial(find(s3, "example.com.")), 1);

	v = snap_zone_flagged(w, SNAP_ZONE_EXPIRED);	/* never published: freed unheld */
	cr_assert_eq(img->refs, 2);
	snap_zone_free(v);
	cr_assert_eq(img->refs, 1);

	uint8_t o[DNAME_MAX];
	size_t len;
	cr_assert_eq(dname_from_text("example.com.", NULL, 0, o, &len), 0);
	cr_assert_eq(snap_without(s3, o, len, &s4), 0);
	snap_release(s3);			/* w, then its image (ASan: nothing leaks) */
	cr_assert_eq(s4->count, 1);
	snap_release(s4);
}
