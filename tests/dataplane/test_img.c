/* Unit tests for dataplane/img.c: lookups, and verification of damaged or hostile images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "img.h"
#include "nsec3.h"
#include "zonec.h"
#include "unit.h"

struct zone_case {
	const char *file, *origin;
};

static const struct zone_case zones[] = {
	{ "answer.zone", "example.com." },
	{ "rfc4035-appendix-a.zone", "example." },
	{ "rfc5155-appendix-a.zone", "example." },
	{ "zonec-basic.zone", "example.org." },
	{ "zonec-canon.zone", "example." },
};
#define NZONES (sizeof(zones) / sizeof(zones[0]))

static const char *data_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("PHAROS_TESTDATA");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	return path;
}

/* Compile a test zone to image bytes (malloc'd). */
static uint8_t *build(const struct zone_case *zc, size_t *len)
{
	uint8_t *buf = NULL;

	cr_assert_eq(zonec_build_file(data_path(zc->file), zc->origin, unit_quiet, NULL, &buf, len,
				      NULL), 0, "%s", zc->file);
	return buf;
}

static uint8_t *dup_buf(const uint8_t *buf, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	cr_assert_not_null(c);
	memcpy(c, buf, len);
	return c;
}

static void fix_crc(uint8_t *buf, size_t len)
{
	struct img_header *h = (struct img_header *)buf;
	h->checksum = img_checksum(buf, len);
}

static struct img_name *names_of(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	return (struct img_name *)(buf + h->sec[IMG_SEC_NAMES].off);
}

static struct img_rrset *rrsets_of(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	return (struct img_rrset *)(buf + h->sec[IMG_SEC_RRSETS].off);
}

static struct img_nsec3 *nsec3_of(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	return (struct img_nsec3 *)(buf + h->sec[IMG_SEC_NSEC3].off);
}

static struct img_nsec3param *param_of(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	return (struct img_nsec3param *)(buf + h->sec[IMG_SEC_NSEC3PARAM].off);
}

/* Walk a run of count x { u16 rdlen, rdata }, touching every byte; returns its length. */
static size_t walk_run(const uint8_t *p, uint16_t count)
{
	size_t sum = 0;

	for (uint16_t k = 0; k < count; k++) {
		size_t rdlen = (size_t)(p[sum] << 8 | p[sum + 1]);
		for (size_t b = 0; b < rdlen; b++)
			sum += p[sum + 2 + b] & 0;	/* touch every byte */
		sum += 2 + rdlen;
	}
	return sum;
}

/* An RRset's rdata and signatures: each run fills its length exactly. */
static void exercise_rrset(const struct img *img, const struct img_rrset *rs)
{
	cr_assert_eq(walk_run(img_rdata(img, rs), rs->count), rs->rdata_len);
	cr_assert_eq(walk_run(img_sigs(img, rs), rs->sig_count), rs->sig_len);
	if (rs->sig_count)
		cr_assert_eq(img_sigs(img, rs)[2] << 8 | img_sigs(img, rs)[3], rs->type,
			     "the signatures cover the RRset's type");
}

/* Follow a name's denial indexes the way the answer engine does. */
static void exercise_denial(const struct img *img, const struct img_name *n)
{
	const uint32_t idx[2] = { n->denial, n->wild_denial };

	for (unsigned k = 0; k < 2; k++) {
		if (idx[k] == IMG_NONE)
			continue;
		if (img->denial == IMG_DENIAL_NSEC) {
			const struct img_name *t = img_name_at(img, idx[k]);
			cr_assert_not_null(t);
			cr_assert_not_null(img_rrset(img, t, 47), "an NSEC is there");
		} else {
			cr_assert_eq(img->denial, IMG_DENIAL_NSEC3);
			cr_assert_not_null(img_nsec3_at(img, idx[k]));
		}
	}
}

/* The NSEC3 chain: owners readable, RRsets and signatures walkable, search in range. */
static void exercise_chain(const struct img *img)
{
	uint8_t h[NSEC3_HASH_LEN];
	char txt[DNAME_TXT_MAX];

	for (uint32_t i = 0; i < img->nsec3_count; i++) {
		const struct img_nsec3 *e = img_nsec3_at(img, i);
		cr_assert_eq(dname_to_text(img->base + e->owner_off, txt, sizeof(txt)), 0);
		cr_assert_lt(e->rrset, img->rrset_count);
		exercise_rrset(img, &img->rrsets[e->rrset]);
	}
	if (img->nsec3_count) {
		nsec3_hash(img->nsec3param, img->origin, img->origin_len, h);
		cr_assert_lt(nsec3_find(img->nsec3, img->nsec3_count, h), img->nsec3_count);
	}
}

/*
 * Everything a reader may do with an accepted image: find every name by its own wire
 * (verification promises each is reachable and unique) and walk every rdata run.
 */
static void exercise(const uint8_t *buf, size_t len)
{
	struct img *img = NULL;
	char err[256];

	cr_assert_eq(img_open_mem(buf, len, 0, &img, err, sizeof(err)), 0, "%s", err);
	for (uint32_t i = 0; i < img->name_count; i++) {
		const struct img_name *n = &img->names[i];
		const uint8_t *w = img_name_wire(img, n);
		cr_assert_eq(img_find(img, w, n->name_len, img_hash(w, n->name_len)), n);
		for (uint32_t j = 0; j < n->rrset_count; j++) {
			const struct img_rrset *rs = &img->rrsets[n->rrset_first + j];
			cr_assert_eq(img_rrset(img, n, rs->type), rs);
			exercise_rrset(img, rs);
		}
		exercise_denial(img, n);
	}
	exercise_chain(img);
	img_close(img);
}

static const struct img_name *lookup(const struct img *img, const char *txt)
{
	uint8_t w[DNAME_MAX];
	size_t len;

	cr_assert_eq(dname_from_text(txt, NULL, 0, w, &len), 0);
	return img_find(img, w, len, img_hash(w, len));
}

Test(img, every_name_found_every_rrset_found)
{
	for (unsigned z = 0; z < NZONES; z++) {
		size_t len;
		uint8_t *buf = build(&zones[z], &len);
		cr_assert_eq(img_verify(buf, len, NULL, 0), 0, "%s", zones[z].file);
		exercise(buf, len);
		free(buf);
	}
}

Test(img, origin_and_absent_names)
{
	size_t len;
	uint8_t *buf = build(&zones[0], &len);
	struct img *img = NULL;
	char err[256];

	cr_assert_eq(img_open_mem(buf, len, 1, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img->origin_len, 13);
	cr_assert_eq(memcmp(img->origin, "\7example\3com\0", 13), 0);
	cr_assert_eq(img->origin_labels, 2);
	cr_assert_not_null(lookup(img, "www.example.com."));
	cr_assert_not_null(lookup(img, "x.example.com."), "ENT");
	cr_assert_null(lookup(img, "nothere.example.com."));
	cr_assert_null(lookup(img, "example.net."));
	cr_assert_null(lookup(img, "com."));
	const struct img_name *www = lookup(img, "www.example.com.");
	cr_assert_not_null(img_rrset(img, www, 1));
	cr_assert_null(img_rrset(img, www, 28));
	img_close(img);
}

/* Which code a flipped byte at pos gives: header fields first, then the checksum. */
static int expected_code(size_t pos)
{
	if (pos < 8)
		return PHAROS_EMAGIC;
	if (pos < 12)
		return PHAROS_EVERSION;
	if (pos < 24)
		return PHAROS_ESIZE;
	if (pos >= 28 && pos < 32)
		return PHAROS_EVERSION;	/* reserved flags */
	return PHAROS_ECHECKSUM;
}

Test(img, any_flipped_byte_refused)
{
	for (unsigned z = 0; z < NZONES; z++) {
		size_t len;
		uint8_t *buf = build(&zones[z], &len), *c = dup_buf(buf, len);
		for (size_t pos = 0; pos < len; pos++) {
			static const uint8_t masks[] = { 0x01, 0x80, 0xff };
			for (unsigned m = 0; m < 3; m++) {
				c[pos] ^= masks[m];
				cr_assert_eq(img_verify(c, len, NULL, 0), expected_code(pos),
					     "%s: byte %zu ^ 0x%02x", zones[z].file, pos, masks[m]);
				c[pos] ^= masks[m];
			}
		}
		free(c);
		free(buf);
	}
}

Test(img, truncated_or_extended_refused)
{
	size_t len;
	uint8_t *buf = build(&zones[1], &len), *big = malloc(len + 64);
	char err[256];

	for (size_t n = 0; n < len; n++)
		cr_assert_lt(img_verify(buf, n, err, sizeof(err)), 0, "length %zu", n);
	cr_assert_eq(img_verify(buf, len - 1, err, sizeof(err)), PHAROS_ESIZE);
	cr_assert(strstr(err, "image has"), "%s", err);
	memcpy(big, buf, len);
	memset(big + len, 0, 64);
	cr_assert_eq(img_verify(big, len + 64, NULL, 0), PHAROS_ESIZE);
	free(big);
	free(buf);
}

/* Every single-byte change past the checksum, checksum fixed: refused, or still safe. */
Test(img, mutated_with_checksum_fixed_never_unsafe)
{
	for (unsigned z = 0; z < NZONES; z++) {
		size_t len, accepted = 0, tried = 0;
		uint8_t *buf = build(&zones[z], &len), *c = dup_buf(buf, len);
		for (size_t pos = IMG_CSUM_START; pos < len; pos++) {
			static const uint8_t masks[] = { 0x01, 0x02, 0x20, 0x80, 0xff };
			for (unsigned m = 0; m < sizeof(masks); m++) {
				memcpy(c, buf, len);
				c[pos] ^= masks[m];
				fix_crc(c, len);
				tried++;
				if (img_verify(c, len, NULL, 0) == 0) {
					accepted++;
					exercise(c, len);
				}
			}
		}
		/* what may pass: TTLs, compiled_at, rdata bytes, padding */
		cr_assert_lt(accepted, tried, "%s", zones[z].file);
		free(c);
		free(buf);
	}
}

/* Random multi-byte damage (fixed seed), checksum fixed: an unsigned and an NSEC3 zone. */
static void random_damage(const struct zone_case *zc)
{
	size_t len;
	uint8_t *buf = build(zc, &len), *c = dup_buf(buf, len);
	unsigned seed = 12345;

	for (int iter = 0; iter < 20000; iter++) {
		memcpy(c, buf, len);
		int nbytes = 1 + rand_r(&seed) % 6;
		for (int k = 0; k < nbytes; k++) {
			/* bias toward the header and tables, where the structure lives */
			size_t span = (rand_r(&seed) & 1) ? len : 1024;
			size_t pos = IMG_CSUM_START + (size_t)rand_r(&seed) % (span - IMG_CSUM_START);
			if (pos < len)
				c[pos] = (uint8_t)rand_r(&seed);
		}
		fix_crc(c, len);
		if (img_verify(c, len, NULL, 0) == 0)
			exercise(c, len);
	}
	free(c);
	free(buf);
}

Test(img, random_damage_never_unsafe)
{
	random_damage(&zones[3]);
	random_damage(&zones[2]);
}

/* Apply f to a fresh copy of zone z, fix the checksum, expect code and text. */
#define expect_refused(f, code, text) expect_refused_(0, f, #f, code, text)
#define expect_refused_in(z, f, code, text) expect_refused_(z, f, #f, code, text)
static void expect_refused_(unsigned z, void (*f)(uint8_t *buf), const char *what, int code,
			    const char *text)
{
	size_t len;
	uint8_t *buf = build(&zones[z], &len);
	char err[256];

	f(buf);
	fix_crc(buf, len);
	int rc = img_verify(buf, len, err, sizeof(err));
	cr_assert_eq(rc, code, "%s: want %d, got %d: %s", what, code, rc, err);
	cr_assert(strstr(err, text), "%s: error '%s' lacks '%s'", what, err, text);
	free(buf);
}

static void bad_parent(uint8_t *buf) { names_of(buf)[12].parent = 40; }
static void parent_not_up(uint8_t *buf) { names_of(buf)[12].parent = 1; }
static void bad_labels(uint8_t *buf) { names_of(buf)[3].labels++; }
static void bad_hash(uint8_t *buf) { names_of(buf)[2].hash ^= 1; }
static void bad_flags(uint8_t *buf) { names_of(buf)[1].flags |= IMG_NAME_DELEG; }
static void apex_flag(uint8_t *buf) { names_of(buf)[0].flags = 0; }
static void bad_rrset_first(uint8_t *buf) { names_of(buf)[1].rrset_first = 9999; }
static void bad_rdlen(uint8_t *buf) { rrsets_of(buf)[1].rdata_len += 2; }
static void overlap_rdata(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	rs[2].rdata_off = rs[1].rdata_off;
	rs[2].rdata_len = rs[1].rdata_len;
	rs[2].count = rs[1].count;
}

static void empty_rrset(uint8_t *buf) { rrsets_of(buf)[1].count = 0; }
static void bad_pre(uint8_t *buf) { rrsets_of(buf)[1].pre_off = 64; rrsets_of(buf)[1].pre_len = 1; }
static void bad_soa(uint8_t *buf) { ((struct img_header *)buf)->soa_rrset = 0; }
static void bad_serial(uint8_t *buf) { ((struct img_header *)buf)->serial++; }
static void misaligned(uint8_t *buf) { ((struct img_header *)buf)->sec[IMG_SEC_DATA].off += 4; }
static void odd_slots(uint8_t *buf) { ((struct img_header *)buf)->hash_slots = 48; }
static void base_in_full(uint8_t *buf) { ((struct img_header *)buf)->base_serial = 7; }
static void tombstone_in_full(uint8_t *buf) { names_of(buf)[3].flags |= IMG_NAME_TOMBSTONE; }

static void nsec3_section(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	h->sec[IMG_SEC_NSEC3].off = h->sec[IMG_SEC_DATA].off + 8;
	h->sec[IMG_SEC_NSEC3].len = 32;
	h->sec[IMG_SEC_DATA].len = 8;
}

static void bad_sig_len(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	for (uint32_t i = 0;; i++)
		if (rs[i].sig_count) {
			rs[i].sig_len -= 2;
			return;
		}
}

static void sig_outside(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	for (uint32_t i = 0;; i++)
		if (rs[i].sig_count) {
			rs[i].sig_off = rs[0].rdata_off;	/* the apex NS: not an RRSIG */
			return;
		}
}

static void sig_on_rrsig(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	for (uint32_t i = 0;; i++)
		if (rs[i].type == 46) {
			rs[i].sig_count = 1;
			return;
		}
}

static void sig_fields_without_sigs(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	for (uint32_t i = 0;; i++)
		if (rs[i].type == 46) {
			rs[i].sig_ttl = 5;
			return;
		}
}

static void sig_reserved(uint8_t *buf) { rrsets_of(buf)[0].reserved2 = 1; }

/* Two signed RRsets of the apex trade signatures: the type covered no longer matches. */
static void sig_swapped(uint8_t *buf)
{
	struct img_rrset *rs = rrsets_of(buf);
	uint32_t a = IMG_NONE;
	for (uint32_t i = 0; i < names_of(buf)[0].rrset_count; i++) {
		if (!rs[i].sig_count || rs[i].sig_len != rs[a == IMG_NONE ? i : a].sig_len)
			continue;
		if (a == IMG_NONE) {
			a = i;
			continue;
		}
		uint32_t off = rs[a].sig_off;
		rs[a].sig_off = rs[i].sig_off;
		rs[i].sig_off = off;
		return;
	}
	cr_assert_fail("no two signed RRsets with signatures of one size at the apex");
}

static void bad_denial_type(uint8_t *buf) { ((struct img_header *)buf)->denial = 3; }
static void denial_out_of_range(uint8_t *buf) { names_of(buf)[1].denial = 9999; }
static void covered_in_nsec_zone(uint8_t *buf) { names_of(buf)[1].flags |= IMG_NAME_NSEC3_COVERED; }
static void set_denial(uint8_t *buf, uint32_t d) { ((struct img_header *)buf)->denial = d; }
static void unsigned_says_nsec(uint8_t *buf) { set_denial(buf, IMG_DENIAL_NSEC); }
static void nsec_says_unsigned(uint8_t *buf) { set_denial(buf, IMG_DENIAL_NONE); }
static void nsec_says_nsec3(uint8_t *buf) { set_denial(buf, IMG_DENIAL_NSEC3); }
static void nsec3_says_nsec(uint8_t *buf) { set_denial(buf, IMG_DENIAL_NSEC); }

/* An NSEC zone's name pointing at an ENT (which has no NSEC). */
static void denial_at_ent(uint8_t *buf)
{
	struct img_name *n = names_of(buf);
	for (uint32_t i = 0;; i++)
		if (n[i].flags & IMG_NAME_ENT) {
			n[0].wild_denial = i;
			return;
		}
}

/* Glue (below a cut) with a denial index. */
static void denial_under_cut(uint8_t *buf)
{
	struct img_name *n = names_of(buf);
	for (uint32_t i = 0;; i++)
		if (n[i].flags & IMG_NAME_UNDER_CUT) {
			n[i].denial = 0;
			return;
		}
}

/* Records 0 and 1 trade places (hash and owner), each RRset staying where it is. */
static void nsec3_unsorted(uint8_t *buf)
{
	struct img_nsec3 *e = nsec3_of(buf), t = e[0];
	e[0] = e[1];
	e[1] = t;
	e[0].rrset = e[1].rrset;
	e[1].rrset = t.rrset + 1;
}

static void nsec3_hash_changed(uint8_t *buf) { nsec3_of(buf)[4].hash[19] ^= 1; }
static void nsec3_bad_rrset(uint8_t *buf) { nsec3_of(buf)[3].rrset = 0; }
static void nsec3_owner_outside(uint8_t *buf) { nsec3_of(buf)[2].owner_off = 0; }
static void nsec3_owner_upper(uint8_t *buf) { buf[nsec3_of(buf)[0].owner_off + 2] = 'P'; }
static void nsec3_reserved(uint8_t *buf) { nsec3_of(buf)[5].reserved[1] = 1; }
static void nsec3_denial_range(uint8_t *buf) { names_of(buf)[0].wild_denial = 12; }
static void nsec3_not_nsec3(uint8_t *buf) { rrsets_of(buf)[nsec3_of(buf)[1].rrset].type = 1; }
static void nsec3_sig_outside(uint8_t *buf) { rrsets_of(buf)[nsec3_of(buf)[6].rrset].sig_off = 8; }
static void param_alg(uint8_t *buf) { param_of(buf)->alg = 2; }
static void param_salt(uint8_t *buf) { param_of(buf)->salt[200] = 1; }
static void param_flags(uint8_t *buf) { param_of(buf)->flags = 1; }
static void nsec3_short(uint8_t *buf) { ((struct img_header *)buf)->sec[IMG_SEC_NSEC3].len -= 8; }

static void nsec3_gone(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	h->sec[IMG_SEC_NSEC3].off = h->sec[IMG_SEC_NSEC3].len = 0;
}

/* One more RRset in the tail than NSEC3 records. */
static void nsec3_extra_rrset(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	h->sec[IMG_SEC_NSEC3].len -= sizeof(struct img_nsec3);
}

static void upper_name(uint8_t *buf)
{
	for (struct img_name *n = &names_of(buf)[1];; n++) {
		uint8_t *c = &buf[n->name_off + 1];
		if (*c >= 'a' && *c <= 'z') {
			*c = (uint8_t)(*c - 32);
			return;
		}
	}
}

static void bad_wildcard(uint8_t *buf) { names_of(buf)[3].wildcard = 5; }

static void full_hash(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	struct img_slot *s = (struct img_slot *)(buf + h->sec[IMG_SEC_HASH].off);
	for (uint32_t i = 0; i < h->hash_slots; i++)
		if (s[i].name == IMG_NONE)
			s[i] = s[(i + 1) % h->hash_slots].name != IMG_NONE ?
			       s[(i + 1) % h->hash_slots] : (struct img_slot){ 0, 0 };
}

static void lost_name(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	struct img_slot *s = (struct img_slot *)(buf + h->sec[IMG_SEC_HASH].off);
	for (uint32_t i = 0; i < h->hash_slots; i++)
		if (s[i].name == 7)
			s[i].name = IMG_NONE;
}

static void moved_slot(uint8_t *buf)
{
	struct img_header *h = (struct img_header *)buf;
	struct img_slot *s = (struct img_slot *)(buf + h->sec[IMG_SEC_HASH].off);
	uint32_t mask = h->hash_slots - 1;
	/* move a name to a slot before its home: a probe can never reach it */
	for (uint32_t i = 0; i <= mask; i++) {
		uint32_t before = (i - 1) & mask;
		if (s[i].name != IMG_NONE && (s[i].hash & mask) == i && s[before].name == IMG_NONE) {
			s[before] = s[i];
			s[i].name = IMG_NONE;
			s[i].hash = UINT32_MAX;
			return;
		}
	}
	cr_assert_fail("no movable slot");
}

Test(img, targeted_damage_refused_with_reason)
{
	expect_refused(bad_parent, PHAROS_ERANGE, "parent index 40 out of range");
	expect_refused(bad_parent, PHAROS_ERANGE, "name #12 (");
	expect_refused(parent_not_up, PHAROS_ERANGE, "not the name one label up");
	expect_refused(bad_labels, PHAROS_ERANGE, "labels");
	expect_refused(bad_hash, PHAROS_ERANGE, "hash");
	expect_refused(bad_flags, PHAROS_ERANGE, "flag");
	expect_refused(apex_flag, PHAROS_ERANGE, "apex");
	expect_refused(bad_rrset_first, PHAROS_ERANGE, "RRsets");
	expect_refused(bad_rdlen, PHAROS_ESIZE, "rdata_len");
	expect_refused(empty_rrset, PHAROS_ERANGE, "empty");
	expect_refused(overlap_rdata, PHAROS_ERANGE, "overlapping");
	expect_refused(bad_pre, PHAROS_ERANGE, "PREBUILT");
	expect_refused(bad_soa, PHAROS_ERANGE, "soa_rrset");
	expect_refused(bad_serial, PHAROS_ERANGE, "serial");
	expect_refused(misaligned, PHAROS_ERANGE, "misaligned");
	expect_refused(odd_slots, PHAROS_ESIZE, "power of two");
	expect_refused(base_in_full, PHAROS_ERANGE, "a full image with a base serial");
	expect_refused(tombstone_in_full, PHAROS_ERANGE, "a tombstone must be a name of a delta");
	expect_refused(nsec3_section, PHAROS_ERANGE, "NSEC3 or NSEC3PARAM section present in "
		       "a zone with denial none");
	expect_refused(bad_denial_type, PHAROS_EVERSION, "unknown denial type 3");
	expect_refused(unsigned_says_nsec, PHAROS_ERANGE, "is not a name with an NSEC");
}

/* Damage to DNSSEC fields that only signed zones have, each behind a valid checksum. */
Test(img, signed_zone_damage_refused_with_reason)
{
	/* signatures and NSEC: RFC 4035 Appendix A */
	expect_refused_in(1, bad_sig_len, PHAROS_ESIZE, "do not fill sig_len");
	expect_refused_in(1, sig_outside, PHAROS_ERANGE, "outside the owner's RRSIG RRset");
	expect_refused_in(1, sig_on_rrsig, PHAROS_ERANGE, "on an RRSIG RRset");
	expect_refused_in(1, sig_fields_without_sigs, PHAROS_ERANGE, "without signatures");
	expect_refused_in(1, sig_reserved, PHAROS_ERANGE, "reserved2");
	expect_refused_in(1, denial_out_of_range, PHAROS_ERANGE,
			  "name #1 (a.example.): denial 9999");
	expect_refused_in(1, denial_at_ent, PHAROS_ERANGE, "a name with an NSEC");
	expect_refused_in(1, denial_under_cut, PHAROS_ERANGE, "unsigned zone or below a cut");
	expect_refused_in(1, covered_in_nsec_zone, PHAROS_ERANGE, "NSEC3_COVERED");
	expect_refused_in(1, nsec_says_unsigned, PHAROS_ERANGE, "unsigned zone or below a cut");
	expect_refused_in(1, nsec_says_nsec3, PHAROS_ESIZE, "NSEC3 is 0 bytes");
	expect_refused_in(1, sig_swapped, PHAROS_ESIZE, "RRSIGs of this type do not fill");
	/* NSEC3: RFC 5155 Appendix A */
	expect_refused_in(2, nsec3_says_nsec, PHAROS_ERANGE, "present in a zone with denial NSEC");
	expect_refused_in(2, nsec3_unsorted, PHAROS_ERANGE, "NSEC3 #1 (");
	expect_refused_in(2, nsec3_unsorted, PHAROS_ERANGE, "hash not above");
	expect_refused_in(2, nsec3_hash_changed, PHAROS_ERANGE, "base32hex form of its hash");
	expect_refused_in(2, nsec3_bad_rrset, PHAROS_ERANGE, "rrset 0 is not RRset");
	expect_refused_in(2, nsec3_owner_outside, PHAROS_ERANGE, "NSEC3 #2: owner");
	expect_refused_in(2, nsec3_owner_upper, PHAROS_ERANGE, "lowercase");
	expect_refused_in(2, nsec3_reserved, PHAROS_ERANGE, "NSEC3 #5: reserved");
	expect_refused_in(2, nsec3_denial_range, PHAROS_ERANGE, "is not an NSEC3 record");
	expect_refused_in(2, nsec3_not_nsec3, PHAROS_ERANGE, "holding one NSEC3 record");
	expect_refused_in(2, nsec3_sig_outside, PHAROS_ERANGE, "outside DATA");
	expect_refused_in(2, param_alg, PHAROS_ERANGE, "hash algorithm 2");
	expect_refused_in(2, param_salt, PHAROS_ERANGE, "salt byte 200");
	expect_refused_in(2, param_flags, PHAROS_ERANGE, "NSEC3PARAM flags");
	expect_refused_in(2, nsec3_short, PHAROS_ESIZE, "not a positive multiple of 32");
	expect_refused_in(2, nsec3_gone, PHAROS_ESIZE, "NSEC3 is 0 bytes");
	expect_refused_in(2, nsec3_extra_rrset, PHAROS_ERANGE,
			  "12 RRsets belong to no name, 11 NSEC3 records need one each");

	expect_refused(upper_name, PHAROS_ERANGE, "not lowercase");
	expect_refused(bad_wildcard, PHAROS_ERANGE, "wildcard");
	expect_refused(full_hash, PHAROS_ERANGE, "hash");
	expect_refused(lost_name, PHAROS_ERANGE, "hash");
	expect_refused(moved_slot, PHAROS_ERANGE, "unreachable");
}

Test(img, open_file_good_missing_truncated)
{
	char dir[] = "/tmp/pharos-test-img-XXXXXX", path[64], err[256];
	struct img *img = NULL;
	size_t len;
	uint8_t *buf = build(&zones[1], &len);

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/z.img", dir);
	cr_assert_eq(img_open_file(path, &img, err, sizeof(err)), PHAROS_EIO);
	cr_assert_null(img);
	cr_assert_eq(zonec_write_file(path, buf, len), 0);
	cr_assert_eq(img_open_file(path, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img->size, len);
	exercise(img->base, img->size);
	img_close(img);
	cr_assert_eq(truncate(path, (off_t)len - 8), 0);
	cr_assert_eq(img_open_file(path, &img, err, sizeof(err)), PHAROS_ESIZE, "%s", err);
	cr_assert_eq(truncate(path, 10), 0);
	cr_assert_eq(img_open_file(path, &img, err, sizeof(err)), PHAROS_ESIZE, "%s", err);
	cr_assert_null(img);
	unlink(path);
	rmdir(dir);
	free(buf);
	img_close(NULL);
}

Test(img, unaligned_buffer_refused)
{
	size_t len;
	uint8_t *buf = build(&zones[4], &len), *c = malloc(len + 8);

	memcpy(c + 4, buf, len);
	cr_assert_eq(img_verify(c + 4, len, NULL, 0), PHAROS_ERANGE);
	free(c);
	free(buf);
}

/* CRC-32C: the check value of RFC 3720 B.4 / iSCSI, and the SSE4.2 path equal to the table. */
Test(img, checksum_is_crc32c)
{
	static const char check[] = "123456789";
	size_t len = 3 * 16384 * 3 + 77;	/* several rounds of the 3-stream path, and a tail */
	uint8_t *buf = malloc(len);

	cr_assert_not_null(buf);
	cr_assert_eq(img_crc32c((const uint8_t *)check, 9), 0xe3069283u);
	cr_assert_eq(img_crc32c_portable((const uint8_t *)check, 9), 0xe3069283u);
	cr_assert_eq(img_crc32c(buf, 0), 0);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t n = 0; n < len; n += n < 300 ? 1 : 4093)	/* unaligned start too */
		cr_assert_eq(img_crc32c(buf + 1, n), img_crc32c_portable(buf + 1, n), "length %zu", n);
	cr_assert_eq(img_crc32c(buf, len), img_crc32c_portable(buf, len));
	free(buf);
}
