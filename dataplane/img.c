/* Zone image reader: verify an untrusted image completely, then look names and RRsets up. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <threads.h>
#include <sys/stat.h>
#include "pharos/err.h"
#include "dname.h"
#include "dns.h"
#include "img.h"
#include "nsec3.h"

#define OWN_FREE	1	/* img->owned: free(base) on close */
#define OWN_MAP		2	/* img->owned: munmap(base, size) on close */
#define IMG_CRC_THREAD_MIN (8u << 20)	/* images from this size get the checksum on a thread */
#define SOA_FIXED	20	/* serial refresh retry expire minimum */
#define RRSIG_FIXED	18	/* type covered .. key tag: the least an RRSIG rdata holds */
#define NAME_FLAGS	(IMG_NAME_APEX | IMG_NAME_DELEG | IMG_NAME_UNDER_CUT | \
			 IMG_NAME_WILDCARD | IMG_NAME_ENT | IMG_NAME_CNAME | \
			 IMG_NAME_NSEC3_COVERED | IMG_NAME_TOMBSTONE)

/* Verification state: the image, where the error text goes, and the checked sections. */
struct vctx {
	const uint8_t *base;
	size_t size;
	const struct img_header *h;
	const struct img_name *names;
	const struct img_slot *slots;
	const struct img_rrset *rrsets;
	const struct img_nsec3 *nsec3;
	uint32_t nsec3_count;
	int delta;			/* a delta image (IMG_MAGIC_DELTA) */
	uint64_t data_lo, data_hi;	/* DATA section [lo, hi) */
	uint64_t pre_lo, pre_hi;	/* PREBUILT section [lo, hi) */
	uint64_t rdata_end;		/* end of the previous RRset's rdata run */
	uint64_t sig_end;		/* end of the previous RRset's signatures */
	char *err;
	size_t errlen;
};

/* Whose RRset is being checked (for error text), and where its signatures may lie. */
struct vwho {
	uint32_t idx;			/* index in NAMES, or in NSEC3 */
	int nsec3;			/* 1: an NSEC3 record's RRset */
	uint64_t sig_lo, sig_hi;	/* the owner's RRSIG run (names), DATA (NSEC3) */
};

static int vfail(struct vctx *v, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int vfail(struct vctx *v, int code, const char *fmt, ...)
{
	va_list ap;

	if (v->err && v->errlen) {
		va_start(ap, fmt);
		vsnprintf(v->err, v->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* [off, off + len) inside [lo, hi), without overflow. */
static int in_range(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

/* ---------------- checksum: CRC-32C ---------------- */

#define CRC32C_POLY	0x82f63b78u	/* Castagnoli, bit-reflected */
#define CRC32C_BLOCK	16384u		/* bytes per stream per round, 3 streams */

static uint32_t crc32c_table[256];
static once_flag crc32c_once = ONCE_FLAG_INIT;

static void crc32c_table_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[b] = c;
	}
}

/* Portable: a byte at a time through the table; state in, state out (no inversion). */
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	call_once(&crc32c_once, crc32c_table_init);
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>

/* a * b modulo the polynomial, bit-reflected (bit 31 is x^0). */
static uint32_t crc32c_mulmod(uint32_t a, uint32_t b)
{
	uint32_t r = 0;

	for (int k = 0; k < 32; k++) {
		if (a & (0x80000000u >> k))
			r ^= b;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return r;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw_run(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	crc = (uint32_t)c;
	for (; len; p++, len--)
		crc = _mm_crc32_u8(crc, *p);
	return crc;
}

/*
 * SSE4.2: three independent streams per round of 3 x CRC32C_BLOCK bytes (the instruction's
 * latency is three times its throughput), joined by multiplying the earlier state by
 * x^(8 * CRC32C_BLOCK): CRC is linear, so crc(s, A || B) = s * x^(8|A|+8|B|) ^ ... .
 */
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t shift = 0x40000000u;	/* x^1, squared up to x^(8 * CRC32C_BLOCK) */

	if (len >= 3 * CRC32C_BLOCK)
		for (uint32_t bits = 8 * CRC32C_BLOCK; bits > 1; bits >>= 1)
			shift = crc32c_mulmod(shift, shift);
	while (len >= 3 * CRC32C_BLOCK) {
		uint64_t c0 = crc, c1 = 0, c2 = 0;
		const uint8_t *q = p + CRC32C_BLOCK, *r = p + 2 * CRC32C_BLOCK;
		for (size_t i = 0; i < CRC32C_BLOCK; i += 8) {
			uint64_t w0, w1, w2;
			memcpy(&w0, p + i, 8);
			memcpy(&w1, q + i, 8);
			memcpy(&w2, r + i, 8);
			c0 = _mm_crc32_u64(c0, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		crc = crc32c_mulmod((uint32_t)c0, shift) ^ (uint32_t)c1;
		crc = crc32c_mulmod(crc, shift) ^ (uint32_t)c2;
		p += 3 * CRC32C_BLOCK;
		len -= 3 * CRC32C_BLOCK;
	}
	return crc32c_hw_run(crc, p, len);
}
#endif

uint32_t img_crc32c(const uint8_t *p, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(~0u, p, len);
#endif
	return ~crc32c_sw(~0u, p, len);
}

uint32_t img_crc32c_portable(const uint8_t *p, size_t len)
{
	return ~crc32c_sw(~0u, p, len);
}

uint32_t img_checksum(const uint8_t *img, size_t size)
{
	return size > IMG_CSUM_START ? img_crc32c(img + IMG_CSUM_START, size - IMG_CSUM_START) :
	       img_crc32c(img, 0);
}

/* ---------------- header and sections ---------------- */

static int check_header(struct vctx *v)
{
	const struct img_header *h = v->h;

	v->delta = memcmp(h->magic, IMG_MAGIC_DELTA, sizeof(h->magic)) == 0;
	if (!v->delta && memcmp(h->magic, IMG_MAGIC, sizeof(h->magic)) != 0)
		return vfail(v, PHAROS_EMAGIC, "bad magic (not a Pharos zone image)");
	if (h->version != IMG_VERSION)
		return vfail(v, PHAROS_EVERSION, "image version %u, this reader knows %u",
			     h->version, IMG_VERSION);
	if (h->flags != 0)
		return vfail(v, PHAROS_EVERSION, "unknown header flags 0x%x", h->flags);
	if (h->header_size != sizeof(*h))
		return vfail(v, PHAROS_ESIZE, "header size %u, expected %zu", h->header_size,
			     sizeof(*h));
	if (h->file_size != v->size)
		return vfail(v, PHAROS_ESIZE, "header says %llu bytes, image has %zu",
			     (unsigned long long)h->file_size, v->size);
	return 0;
}

/* The header fields after the checksum (checked once the checksum is, or meanwhile). */
static int check_header_rest(struct vctx *v)
{
	const struct img_header *h = v->h;

	if (h->denial > IMG_DENIAL_NSEC3)
		return vfail(v, PHAROS_EVERSION, "unknown denial type %u in the header", h->denial);
	if (!v->delta && (h->base_serial || h->base_checksum))
		return vfail(v, PHAROS_ERANGE, "a full image with a base serial or checksum set");
	return 0;
}

/* The checksum against the header's. */
static int check_checksum(struct vctx *v, uint32_t crc)
{
	return crc == v->h->checksum ? 0 :
	       vfail(v, PHAROS_ECHECKSUM, "checksum 0x%08x, computed 0x%08x", v->h->checksum, crc);
}

/* An image's checksum, computed on a thread of its own. */
struct crc_job {
	const uint8_t *base;
	size_t size;
	uint32_t crc;
};

static void *crc_run(void *arg)
{
	struct crc_job *j = arg;

	j->crc = img_checksum(j->base, j->size);
	return NULL;
}

/* One section table entry: aligned, in bounds, not overlapping another section. */
static int check_section(struct vctx *v, int s)
{
	const struct img_section *e = &v->h->sec[s];

	if (e->len == 0 && e->off == 0)
		return 0;
	if (e->len == 0)
		return vfail(v, PHAROS_ERANGE, "section %d is empty but has offset %u", s, e->off);
	if (e->off % IMG_ALIGN || e->off < sizeof(struct img_header) ||
	    !in_range(e->off, e->len, 0, v->size))
		return vfail(v, PHAROS_ERANGE, "section %d [%u, +%u) misaligned or outside "
			     "the image", s, e->off, e->len);
	for (int t = 0; t < s; t++) {
		const struct img_section *o = &v->h->sec[t];
		if (o->len && e->len && e->off < (uint64_t)o->off + o->len &&
		    o->off < (uint64_t)e->off + e->len)
			return vfail(v, PHAROS_ERANGE, "sections %d and %d overlap", t, s);
	}
	return 0;
}

static int check_lengths(struct vctx *v)
{
	const struct img_header *h = v->h;

	if (h->name_count == 0)
		return vfail(v, PHAROS_ESIZE, "no names (the apex must be there)");
	if ((uint64_t)h->name_count * sizeof(struct img_name) != h->sec[IMG_SEC_NAMES].len)
		return vfail(v, PHAROS_ESIZE, "NAMES is %u bytes, %u names need %llu",
			     h->sec[IMG_SEC_NAMES].len, h->name_count,
			     (unsigned long long)h->name_count * sizeof(struct img_name));
	if ((uint64_t)h->rrset_count * sizeof(struct img_rrset) != h->sec[IMG_SEC_RRSETS].len)
		return vfail(v, PHAROS_ESIZE, "RRSETS is %u bytes, %u RRsets need %llu",
			     h->sec[IMG_SEC_RRSETS].len, h->rrset_count,
			     (unsigned long long)h->rrset_count * sizeof(struct img_rrset));
	if (h->hash_slots <= h->name_count || (h->hash_slots & (h->hash_slots - 1)))
		return vfail(v, PHAROS_ESIZE, "hash_slots %u: not a power of two above "
			     "name_count %u", h->hash_slots, h->name_count);
	if ((uint64_t)h->hash_slots * sizeof(struct img_slot) != h->sec[IMG_SEC_HASH].len)
		return vfail(v, PHAROS_ESIZE, "HASH is %u bytes, %u slots need %llu",
			     h->sec[IMG_SEC_HASH].len, h->hash_slots,
			     (unsigned long long)h->hash_slots * sizeof(struct img_slot));
	if (h->origin_name != 0)
		return vfail(v, PHAROS_ERANGE, "origin_name %u, must be 0", h->origin_name);
	if (h->soa_rrset >= h->rrset_count)
		return vfail(v, PHAROS_ERANGE, "soa_rrset %u out of range (%u RRsets)",
			     h->soa_rrset, h->rrset_count);
	return 0;
}

static const char *const denial_names[] = { "none", "NSEC", "NSEC3" };

/* NSEC3PARAM: SHA-1, flags 0, zeros past the salt, in reserved and in the padding. */
static int check_nsec3param(struct vctx *v, const struct img_nsec3param *p)
{
	if (p->alg != 1)
		return vfail(v, PHAROS_ERANGE, "NSEC3PARAM hash algorithm %u (only 1, SHA-1)",
			     p->alg);
	if (p->flags != 0)
		return vfail(v, PHAROS_ERANGE, "NSEC3PARAM flags 0x%x, must be 0", p->flags);
	for (size_t i = p->salt_len; i < sizeof(p->salt); i++)
		if (p->salt[i])
			return vfail(v, PHAROS_ERANGE, "NSEC3PARAM salt byte %zu past salt_len %u "
				     "is not zero", i, p->salt_len);
	const uint8_t *raw = (const uint8_t *)p;
	for (size_t i = offsetof(struct img_nsec3param, reserved); i < sizeof(*p); i++)
		if (raw[i])
			return vfail(v, PHAROS_ERANGE, "NSEC3PARAM reserved field is not zero");
	return 0;
}

/* NSEC3 and NSEC3PARAM: present exactly in NSEC3 zones, whole structs, one parameter set. */
static int check_nsec3_lengths(struct vctx *v)
{
	const struct img_header *h = v->h;
	uint32_t n3 = h->sec[IMG_SEC_NSEC3].len, pl = h->sec[IMG_SEC_NSEC3PARAM].len;

	if (h->denial != IMG_DENIAL_NSEC3)
		return n3 || pl ? vfail(v, PHAROS_ERANGE, "NSEC3 or NSEC3PARAM section present "
					"in a zone with denial %s", denial_names[h->denial]) : 0;
	/* a delta holds the chain's records that changed, maybe none */
	if ((n3 == 0 && !v->delta) || n3 % sizeof(struct img_nsec3))
		return vfail(v, PHAROS_ESIZE, "NSEC3 is %u bytes: not a positive multiple of %zu",
			     n3, sizeof(struct img_nsec3));
	if (pl != sizeof(struct img_nsec3param))
		return vfail(v, PHAROS_ESIZE, "NSEC3PARAM is %u bytes, expected %zu", pl,
			     sizeof(struct img_nsec3param));
	v->nsec3 = (const struct img_nsec3 *)(v->base + h->sec[IMG_SEC_NSEC3].off);
	v->nsec3_count = n3 / (uint32_t)sizeof(struct img_nsec3);
	return check_nsec3param(v, (const struct img_nsec3param *)(v->base +
				h->sec[IMG_SEC_NSEC3PARAM].off));
}

static int check_sections(struct vctx *v)
{
	const struct img_header *h = v->h;
	int rc;

	for (int s = 0; s < IMG_SEC_COUNT_; s++)
		if ((rc = check_section(v, s)) < 0)
			return rc;
	if ((rc = check_lengths(v)) < 0 || (rc = check_nsec3_lengths(v)) < 0)
		return rc;
	v->names = (const struct img_name *)(v->base + h->sec[IMG_SEC_NAMES].off);
	v->slots = (const struct img_slot *)(v->base + h->sec[IMG_SEC_HASH].off);
	v->rrsets = (const struct img_rrset *)(v->base + h->sec[IMG_SEC_RRSETS].off);
	v->data_lo = h->sec[IMG_SEC_DATA].off;
	v->data_hi = v->data_lo + h->sec[IMG_SEC_DATA].len;
	v->pre_lo = h->sec[IMG_SEC_PREBUILT].off;
	v->pre_hi = v->pre_lo + h->sec[IMG_SEC_PREBUILT].len;
	return 0;
}

/* ---------------- names ---------------- */

/* Wire labels of w[0..len) are valid, end exactly at len, lowercase. Label count or -1. */
static int wire_labels(const uint8_t *w, size_t len, int *upper)
{
	size_t pos = 0;
	int labels = 0;

	*upper = 0;
	while (pos < len) {
		uint8_t l = w[pos];
		if (l == 0)
			return pos + 1 == len ? labels : -1;
		if (l > 63 || pos + 1 + l >= len)
			return -1;
		for (size_t i = pos + 1; i <= pos + l; i++)
			*upper |= w[i] >= 'A' && w[i] <= 'Z';
		pos += 1 + (size_t)l;
		labels++;
	}
	return -1;
}

/* "name #12 (www.example.com.)" for error text; the wire is already known valid. */
static const char *name_desc(const struct vctx *v, uint32_t i, char *buf, size_t cap)
{
	char txt[DNAME_TXT_MAX];

	if (dname_to_text(v->base + v->names[i].name_off, txt, sizeof(txt)) < 0)
		snprintf(txt, sizeof(txt), "?");
	snprintf(buf, cap, "name #%u (%s)", i, txt);
	return buf;
}

/* The name's own bytes: in DATA, valid labels, lowercase, labels and hash right. */
static int check_name_wire(struct vctx *v, uint32_t i)
{
	const struct img_name *n = &v->names[i];
	int upper, labels;

	if (n->name_len == 0 || !in_range(n->name_off, n->name_len, v->data_lo, v->data_hi))
		return vfail(v, PHAROS_ERANGE, "name #%u: wire name [%u, +%u) outside DATA", i,
			     n->name_off, n->name_len);
	const uint8_t *w = v->base + n->name_off;
	if ((labels = wire_labels(w, n->name_len, &upper)) < 0)
		return vfail(v, PHAROS_ERANGE, "name #%u: bad wire name", i);
	char d[DNAME_TXT_MAX + 32];
	if (upper)
		return vfail(v, PHAROS_ERANGE, "%s: not lowercase", name_desc(v, i, d, sizeof(d)));
	if (labels != n->labels)
		return vfail(v, PHAROS_ERANGE, "%s: labels %u, counted %d",
			     name_desc(v, i, d, sizeof(d)), n->labels, labels);
	if (n->hash != img_hash(w, n->name_len))
		return vfail(v, PHAROS_ERANGE, "%s: hash 0x%08x, computed 0x%08x",
			     name_desc(v, i, d, sizeof(d)), n->hash, img_hash(w, n->name_len));
	if ((n->flags & ~NAME_FLAGS) || n->reserved)
		return vfail(v, PHAROS_ERANGE, "%s: unknown flags 0x%x or reserved field set",
			     name_desc(v, i, d, sizeof(d)), n->flags);
	int wild = w[0] == 1 && w[1] == '*';
	if (wild != !!(n->flags & IMG_NAME_WILDCARD))
		return vfail(v, PHAROS_ERANGE, "%s: WILDCARD flag wrong",
			     name_desc(v, i, d, sizeof(d)));
	if ((n->flags & IMG_NAME_TOMBSTONE) &&
	    (!v->delta || i == 0 || (n->flags & ~(IMG_NAME_TOMBSTONE | IMG_NAME_WILDCARD)) ||
	     n->rrset_count || n->rrset_first))
		return vfail(v, PHAROS_ERANGE, "%s: a tombstone must be a name of a delta below "
			     "the apex, with no RRsets and no other flag",
			     name_desc(v, i, d, sizeof(d)));
	if (v->delta && (n->parent != IMG_NONE || n->wildcard != IMG_NONE))
		return vfail(v, PHAROS_ERANGE, "%s: parent and wildcard must be none in a delta",
			     name_desc(v, i, d, sizeof(d)));
	return 0;
}

/*
 * A delta's name below its apex: strictly below it and after the previous name in
 * canonical order. Parents are in the base or the delta: img_delta_check() looks at
 * UNDER_CUT against them when the delta is put over its base.
 */
static int check_delta_tree(struct vctx *v, uint32_t i)
{
	const struct img_name *n = &v->names[i], *apex = &v->names[0];
	const uint8_t *w = v->base + n->name_off;
	char d[DNAME_TXT_MAX + 32];

	if (n->name_len <= apex->name_len ||
	    !dname_is_sub(w, n->name_len, v->base + apex->name_off, apex->name_len))
		return vfail(v, PHAROS_ERANGE, "%s: not below the apex",
			     name_desc(v, i, d, sizeof(d)));
	if (dname_canon_cmp(v->base + v->names[i - 1].name_off, w) >= 0)
		return vfail(v, PHAROS_ERANGE, "%s: not after name #%u in canonical order",
			     name_desc(v, i, d, sizeof(d)), i - 1);
	return 0;
}

/*
 * n sorts after prev (its predecessor in NAMES, already checked). A name right after its
 * parent does by definition (the caller skips it); siblings (same parent, whose wire name
 * both were checked to end with) compare by their first labels alone; else by the whole
 * names.
 */
static int canon_after(const struct vctx *v, const struct img_name *prev,
		       const struct img_name *n)
{
	const uint8_t *a = v->base + prev->name_off, *b = v->base + n->name_off;

	if (prev->parent != n->parent)
		return dname_canon_cmp(a, b) < 0;
	int c = memcmp(a + 1, b + 1, a[0] < b[0] ? a[0] : b[0]);
	return c < 0 || (c == 0 && a[0] < b[0]);
}

/* Place in the tree: apex first, parent earlier and one label up, canonical order. */
static int check_name_tree(struct vctx *v, uint32_t i)
{
	const struct img_name *n = &v->names[i];
	const uint8_t *w = v->base + n->name_off;
	char d[DNAME_TXT_MAX + 32];

	if (i == 0)
		return n->parent == IMG_NONE && (n->flags & IMG_NAME_APEX) ? 0 :
		       vfail(v, PHAROS_ERANGE, "%s: the apex needs parent none and the APEX "
			     "flag", name_desc(v, i, d, sizeof(d)));
	if (n->flags & IMG_NAME_APEX)
		return vfail(v, PHAROS_ERANGE, "%s: APEX flag below the apex",
			     name_desc(v, i, d, sizeof(d)));
	if (v->delta)
		return check_delta_tree(v, i);
	if (n->parent >= i)
		return vfail(v, PHAROS_ERANGE, "%s: parent index %u out of range",
			     name_desc(v, i, d, sizeof(d)), n->parent);
	const struct img_name *p = &v->names[n->parent];
	size_t skip = 1 + (size_t)w[0];
	if (p->name_len != n->name_len - skip ||
	    memcmp(v->base + p->name_off, w + skip, p->name_len) != 0)
		return vfail(v, PHAROS_ERANGE, "%s: parent #%u is not the name one label up",
			     name_desc(v, i, d, sizeof(d)), n->parent);
	const struct img_name *prev = &v->names[i - 1];
	if (n->parent != i - 1 && !canon_after(v, prev, n))
		return vfail(v, PHAROS_ERANGE, "%s: not after name #%u in canonical order",
			     name_desc(v, i, d, sizeof(d)), i - 1);
	int cut = !!(p->flags & (IMG_NAME_DELEG | IMG_NAME_UNDER_CUT));
	if (cut != !!(n->flags & IMG_NAME_UNDER_CUT))
		return vfail(v, PHAROS_ERANGE, "%s: UNDER_CUT flag wrong",
			     name_desc(v, i, d, sizeof(d)));
	return 0;
}

/* "name #12 (www.example.com.)" or "NSEC3 #3 (<hash>.example.com.)": the owner of an RRset. */
static const char *who_desc(const struct vctx *v, const struct vwho *who, char *buf, size_t cap)
{
	char txt[DNAME_TXT_MAX];

	if (!who->nsec3)
		return name_desc(v, who->idx, buf, cap);
	if (dname_to_text(v->base + v->nsec3[who->idx].owner_off, txt, sizeof(txt)) < 0)
		snprintf(txt, sizeof(txt), "?");
	snprintf(buf, cap, "NSEC3 #%u (%s)", who->idx, txt);
	return buf;
}

/* A run of count x { u16 rdlen, rdata } at p consumes exactly len bytes. */
static int run_fits(const uint8_t *p, uint64_t len, uint16_t count)
{
	uint64_t used = 0;
	uint16_t k = 0;

	for (; k < count && used + 2 <= len; k++)
		used += 2 + (uint64_t)get16(p + used);
	return k == count && used == len;
}

/*
 * The RRSIGs covering an RRset: none (every sig_* field 0), or sig_count RRSIG RRs of at
 * least 18 bytes covering the RRset's type, filling [sig_off, +sig_len) inside who's
 * bounds and after the previous RRset's signatures (so all the walks cost at most |DATA|).
 */
static int check_sigs(struct vctx *v, const struct vwho *who, uint32_t j)
{
	const struct img_rrset *rs = &v->rrsets[j];
	char d[DNAME_TXT_MAX + 32];
	uint64_t used = 0;
	uint16_t k = 0;

	if (rs->sig_count == 0 || rs->type == DNS_T_RRSIG || rs->reserved2)
		return (rs->sig_count | rs->sig_off | rs->sig_len | rs->sig_ttl | rs->reserved2) ?
		       vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u): signature fields set "
			     "without signatures, on an RRSIG RRset, or reserved2 set",
			     who_desc(v, who, d, sizeof(d)), j, rs->type) : 0;
	if (!in_range(rs->sig_off, rs->sig_len, who->sig_lo, who->sig_hi) ||
	    rs->sig_off < v->sig_end)
		return vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u): signatures [%u, +%u) "
			     "outside %s or overlapping the previous ones",
			     who_desc(v, who, d, sizeof(d)), j, rs->type, rs->sig_off, rs->sig_len,
			     who->nsec3 ? "DATA" : "the owner's RRSIG RRset");
	v->sig_end = (uint64_t)rs->sig_off + rs->sig_len;
	const uint8_t *p = v->base + rs->sig_off;
	for (; k < rs->sig_count && used + 2 <= rs->sig_len; k++) {
		uint16_t rdlen = get16(p + used);
		if (rdlen < RRSIG_FIXED || used + 2 + rdlen > rs->sig_len ||
		    get16(p + used + 2) != rs->type)
			break;
		used += 2 + (uint64_t)rdlen;
	}
	if (k != rs->sig_count || used != rs->sig_len)
		return vfail(v, PHAROS_ESIZE, "%s: RRset #%u (type %u): %u RRSIGs of this type "
			     "do not fill sig_len %u", who_desc(v, who, d, sizeof(d)), j, rs->type,
			     rs->sig_count, rs->sig_len);
	return 0;
}

/* One RRset: count, rdata run inside DATA and exactly consumed, signatures, pre-rendered block. */
static int check_rrset(struct vctx *v, const struct vwho *who, uint32_t j)
{
	const struct img_rrset *rs = &v->rrsets[j];
	char d[DNAME_TXT_MAX + 32];
	int rc;

	if (rs->count == 0)
		return vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u) is empty",
			     who_desc(v, who, d, sizeof(d)), j, rs->type);
	/* runs in RRSETS order, not overlapping: the walks below cost at most |DATA| */
	if (!in_range(rs->rdata_off, rs->rdata_len, v->data_lo, v->data_hi) ||
	    rs->rdata_off < v->rdata_end)
		return vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u): rdata [%u, +%u) "
			     "outside DATA or overlapping the previous run",
			     who_desc(v, who, d, sizeof(d)), j, rs->type, rs->rdata_off,
			     rs->rdata_len);
	v->rdata_end = (uint64_t)rs->rdata_off + rs->rdata_len;
	if (!run_fits(v->base + rs->rdata_off, rs->rdata_len, rs->count))
		return vfail(v, PHAROS_ESIZE, "%s: RRset #%u (type %u): %u RRs do not fill "
			     "rdata_len %u", who_desc(v, who, d, sizeof(d)), j, rs->type,
			     rs->count, rs->rdata_len);
	if ((rc = check_sigs(v, who, j)) < 0)
		return rc;
	if (rs->pre_off == 0 && rs->pre_len == 0)
		return rs->pre_an | rs->pre_ns | rs->pre_ar | rs->reserved ?
		       vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u): section counts or "
			     "reserved field set without a pre-rendered block",
			     who_desc(v, who, d, sizeof(d)), j, rs->type) : 0;
	if (rs->reserved || v->pre_hi == v->pre_lo ||
	    !in_range(rs->pre_off, rs->pre_len, v->pre_lo, v->pre_hi))
		return vfail(v, PHAROS_ERANGE, "%s: RRset #%u (type %u): pre-rendered block "
			     "[%u, +%u) outside PREBUILT", who_desc(v, who, d, sizeof(d)), j,
			     rs->type, rs->pre_off, rs->pre_len);
	return 0;
}

/*
 * Where the signatures of a name's RRsets may lie: inside its RRSIG RRset's run (found
 * by a scan: types are only known to ascend once check_name_sets has walked them).
 */
static void sig_bounds(struct vctx *v, const struct img_name *n, struct vwho *who)
{
	who->sig_lo = who->sig_hi = 0;
	for (uint32_t j = n->rrset_first; j < n->rrset_first + n->rrset_count; j++) {
		const struct img_rrset *rs = &v->rrsets[j];
		if (rs->type == DNS_T_RRSIG &&
		    in_range(rs->rdata_off, rs->rdata_len, v->data_lo, v->data_hi)) {
			who->sig_lo = rs->rdata_off;
			who->sig_hi = (uint64_t)rs->rdata_off + rs->rdata_len;
			return;
		}
	}
}

/* A name's RRsets: the next ones in RRSETS, types ascending, flags that follow from them. */
static int check_name_sets(struct vctx *v, uint32_t i, uint32_t *cursor)
{
	const struct img_name *n = &v->names[i];
	struct vwho who = { .idx = i };
	char d[DNAME_TXT_MAX + 32];
	int ns = 0, cname = 0, rc;

	if (!(n->flags & IMG_NAME_TOMBSTONE) &&
	    !!(n->flags & IMG_NAME_ENT) != (n->rrset_count == 0))
		return vfail(v, PHAROS_ERANGE, "%s: ENT flag does not match %u RRsets",
			     name_desc(v, i, d, sizeof(d)), n->rrset_count);
	if (n->rrset_count == 0)
		return 0;
	if (n->rrset_first != *cursor || (uint64_t)n->rrset_first + n->rrset_count >
					 v->h->rrset_count)
		return vfail(v, PHAROS_ERANGE, "%s: RRsets [%u, +%u) out of range or out of "
			     "order (next is %u of %u)", name_desc(v, i, d, sizeof(d)),
			     n->rrset_first, n->rrset_count, *cursor, v->h->rrset_count);
	sig_bounds(v, n, &who);
	for (uint32_t j = n->rrset_first; j < n->rrset_first + n->rrset_count; j++) {
		if ((rc = check_rrset(v, &who, j)) < 0)
			return rc;
		if (j > n->rrset_first && v->rrsets[j].type <= v->rrsets[j - 1].type)
			return vfail(v, PHAROS_ERANGE, "%s: RRset types not ascending at #%u",
				     name_desc(v, i, d, sizeof(d)), j);
		ns |= v->rrsets[j].type == DNS_T_NS;
		cname |= v->rrsets[j].type == DNS_T_CNAME;
	}
	*cursor += n->rrset_count;
	if ((i > 0 && ns) != !!(n->flags & IMG_NAME_DELEG) ||
	    cname != !!(n->flags & IMG_NAME_CNAME))
		return vfail(v, PHAROS_ERANGE, "%s: DELEG or CNAME flag wrong",
			     name_desc(v, i, d, sizeof(d)));
	return 0;
}

/* Wildcard links both ways: "*.<x>" is a WILDCARD child of x, and x points to it. */
static int check_wildcards(struct vctx *v)
{
	char d[DNAME_TXT_MAX + 32];

	for (uint32_t i = 0; i < v->h->name_count; i++) {
		const struct img_name *n = &v->names[i];
		uint32_t w = n->wildcard;
		if (w != IMG_NONE && (w >= v->h->name_count || v->names[w].parent != i ||
				      !(v->names[w].flags & IMG_NAME_WILDCARD)))
			return vfail(v, PHAROS_ERANGE, "%s: wildcard index %u is not *.<this>",
				     name_desc(v, i, d, sizeof(d)), w);
		if ((n->flags & IMG_NAME_WILDCARD) && n->parent != IMG_NONE &&
		    v->names[n->parent].wildcard != i)
			return vfail(v, PHAROS_ERANGE, "%s: parent does not point to this "
				     "wildcard", name_desc(v, i, d, sizeof(d)));
	}
	return 0;
}

/*
 * An NSEC3 owner: inside DATA, <32 base32hex digits, lowercase>.<apex>, and those digits
 * decode to the record's hash.
 */
static int check_nsec3_owner(struct vctx *v, uint32_t i)
{
	const struct img_nsec3 *e = &v->nsec3[i];
	const struct img_name *apex = &v->names[0];
	const uint8_t *w = v->base + e->owner_off;
	uint8_t hash[NSEC3_HASH_LEN];
	int upper = 0;

	if (e->reserved[0] | e->reserved[1] | e->reserved[2])
		return vfail(v, PHAROS_ERANGE, "NSEC3 #%u: reserved field is not zero", i);
	if (e->owner_len != 1 + 32 + apex->name_len ||
	    !in_range(e->owner_off, e->owner_len, v->data_lo, v->data_hi) || w[0] != 32 ||
	    memcmp(w + 33, v->base + apex->name_off, apex->name_len) != 0)
		return vfail(v, PHAROS_ERANGE, "NSEC3 #%u: owner [%u, +%u) outside DATA or not "
			     "a 32-character label directly under the apex", i, e->owner_off,
			     e->owner_len);
	for (unsigned k = 1; k <= 32; k++)
		upper |= w[k] >= 'A' && w[k] <= 'Z';
	if (upper || nsec3_b32hex_decode(w + 1, 32, hash) < 0 ||
	    memcmp(hash, e->hash, NSEC3_HASH_LEN) != 0)
		return vfail(v, PHAROS_ERANGE, "NSEC3 #%u: owner label is not the lowercase "
			     "base32hex form of its hash", i);
	return 0;
}

/*
 * The NSEC3 table: owners, strictly ascending hashes, and each record's RRset: the next
 * one in the tail of RRSETS (after every name's RRsets), one NSEC3 RR, RRSIGs anywhere in
 * DATA. cursor: the first RRset that belongs to no name.
 */
static int check_nsec3(struct vctx *v, uint32_t cursor)
{
	char d[DNAME_TXT_MAX + 32];
	int rc;

	if (v->h->rrset_count - cursor != v->nsec3_count)
		return vfail(v, PHAROS_ERANGE, "%u RRsets belong to no name, %u NSEC3 records "
			     "need one each", v->h->rrset_count - cursor, v->nsec3_count);
	for (uint32_t i = 0; i < v->nsec3_count; i++) {
		const struct img_nsec3 *e = &v->nsec3[i];
		struct vwho who = { .idx = i, .nsec3 = 1, .sig_lo = v->data_lo,
				    .sig_hi = v->data_hi };
		if ((rc = check_nsec3_owner(v, i)) < 0)
			return rc;
		if (i > 0 && memcmp(e[-1].hash, e->hash, NSEC3_HASH_LEN) >= 0)
			return vfail(v, PHAROS_ERANGE, "%s: hash not above the previous record's",
				     who_desc(v, &who, d, sizeof(d)));
		if (e->rrset != cursor + i || v->rrsets[e->rrset].type != DNS_T_NSEC3 ||
		    v->rrsets[e->rrset].count != 1)
			return vfail(v, PHAROS_ERANGE, "%s: rrset %u is not RRset #%u holding one "
				     "NSEC3 record", who_desc(v, &who, d, sizeof(d)), e->rrset,
				     cursor + i);
		if ((rc = check_rrset(v, &who, e->rrset)) < 0)
			return rc;
	}
	return 0;
}

static int check_names(struct vctx *v)
{
	uint32_t cursor = 0;
	int rc;

	for (uint32_t i = 0; i < v->h->name_count; i++)
		if ((rc = check_name_wire(v, i)) < 0 || (rc = check_name_tree(v, i)) < 0 ||
		    (rc = check_name_sets(v, i, &cursor)) < 0)
			return rc;
	if ((rc = check_nsec3(v, cursor)) < 0)
		return rc;
	return check_wildcards(v);
}

/* 1 if name i has an RRset of type (types ascend: checked), by binary search. */
static int has_type(const struct vctx *v, uint32_t i, uint16_t type)
{
	uint32_t lo = v->names[i].rrset_first, hi = lo + v->names[i].rrset_count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->rrsets[mid].type == type)
			return 1;
		if (v->rrsets[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* One denial index: a name with an NSEC (NSEC zone) or an NSEC3 record; optional: IMG_NONE too. */
static int denial_ok(const struct vctx *v, uint32_t idx, int optional)
{
	if (idx == IMG_NONE)
		return optional;
	if (v->h->denial == IMG_DENIAL_NSEC)
		return idx < v->h->name_count && has_type(v, idx, DNS_T_NSEC);
	return idx < v->nsec3_count;
}

/*
 * denial and wild_denial of every name: IMG_NONE in unsigned zones and below a cut; else
 * denial is an index in NAMES (of a name holding an NSEC) or in NSEC3, after the header's
 * denial, and so is wild_denial unless IMG_NONE ("*.<name>" would be too long a name).
 * NSEC3_COVERED only in NSEC3 zones, never below a cut.
 */
static int check_denial(struct vctx *v)
{
	char d[DNAME_TXT_MAX + 32];

	for (uint32_t i = 0; i < v->h->name_count; i++) {
		const struct img_name *n = &v->names[i];
		int none = v->h->denial == IMG_DENIAL_NONE || (n->flags & IMG_NAME_UNDER_CUT);
		if ((n->flags & IMG_NAME_NSEC3_COVERED) &&
		    (none || v->h->denial != IMG_DENIAL_NSEC3))
			return vfail(v, PHAROS_ERANGE, "%s: NSEC3_COVERED flag outside an NSEC3 "
				     "chain", name_desc(v, i, d, sizeof(d)));
		if (none && (n->denial != IMG_NONE || n->wild_denial != IMG_NONE))
			return vfail(v, PHAROS_ERANGE, "%s: denial %u or wild_denial %u set in an "
				     "unsigned zone or below a cut", name_desc(v, i, d, sizeof(d)),
				     n->denial, n->wild_denial);
		if (v->delta && n->flags & IMG_NAME_TOMBSTONE && v->h->denial != IMG_DENIAL_NONE)
			return vfail(v, PHAROS_ERANGE, "%s: a tombstone in the delta of a signed "
				     "zone", name_desc(v, i, d, sizeof(d)));
		if (v->delta)
			continue;	/* indexes into the base: img_delta_check() */
		if (!none && (!denial_ok(v, n->denial, 0) || !denial_ok(v, n->wild_denial, 1)))
			return vfail(v, PHAROS_ERANGE, "%s: denial %u or wild_denial %u is not %s",
				     name_desc(v, i, d, sizeof(d)), n->denial, n->wild_denial,
				     v->h->denial == IMG_DENIAL_NSEC ? "a name with an NSEC" :
				     "an NSEC3 record");
	}
	return 0;
}

/* The header's soa_rrset is the single SOA at the apex, and carries the header's serial. */
static int check_soa(struct vctx *v)
{
	const struct img_name *apex = &v->names[0];
	const struct img_rrset *rs = &v->rrsets[v->h->soa_rrset];

	if (v->h->soa_rrset < apex->rrset_first ||
	    v->h->soa_rrset >= (uint64_t)apex->rrset_first + apex->rrset_count ||
	    rs->type != DNS_T_SOA || rs->count != 1)
		return vfail(v, PHAROS_ERANGE, "soa_rrset %u is not the SOA at the apex",
			     v->h->soa_rrset);
	const uint8_t *p = v->base + rs->rdata_off;
	uint16_t rdlen = get16(p);
	if (rdlen < 2 + SOA_FIXED)
		return vfail(v, PHAROS_ESIZE, "SOA rdata too short (%u bytes)", rdlen);
	if (get32(p + 2 + rdlen - SOA_FIXED) != v->h->serial)
		return vfail(v, PHAROS_ERANGE, "header serial %u differs from the SOA serial %u",
			     v->h->serial, get32(p + 2 + rdlen - SOA_FIXED));
	return 0;
}

/* ---------------- hash table ---------------- */

/*
 * Every slot is empty (hash and name IMG_NONE) or holds a name with its hash, each name
 * exactly once, and reachable: no empty slot between its home slot and where it sits. One
 * pass over the table (a probe per name would be O(n^2) on a hostile image), which notes
 * the hash each slot gives its name; then one pass over NAMES compares: the table is read
 * in order and the names too (a name looked up per slot would be a cache miss per name).
 */
static int check_hash(struct vctx *v)
{
	uint32_t mask = v->h->hash_slots - 1, n = v->h->name_count, used = 0, empty = IMG_NONE;
	uint8_t *seen = calloc((size_t)n / 8 + 1, 1);
	uint32_t *got = malloc((size_t)n * sizeof(*got));
	int rc = 0;

	if (!seen || !got) {
		rc = vfail(v, PHAROS_ENOMEM, "out of memory checking the hash table");
		goto out;
	}
	for (uint32_t s = 0; s <= mask && empty == IMG_NONE; s++)
		if (v->slots[s].name == IMG_NONE && v->slots[s].hash == IMG_NONE)
			empty = s;
	if (empty == IMG_NONE) {
		rc = vfail(v, PHAROS_ERANGE, "hash table has no empty slot");
		goto out;
	}
	for (uint32_t k = 1, last = empty; k <= mask; k++) {
		uint32_t s = (empty + k) & mask, i = v->slots[s].name, hash = v->slots[s].hash;
		if (i == IMG_NONE && hash != IMG_NONE) {
			rc = vfail(v, PHAROS_ERANGE, "hash slot %u: empty but hash is set", s);
			break;
		}
		if (i == IMG_NONE) {
			last = s;
			continue;
		}
		if (i >= n || (seen[i / 8] >> (i % 8)) & 1) {
			rc = vfail(v, PHAROS_ERANGE, "hash slot %u: name index %u out of range or "
				   "repeated", s, i);
			break;
		}
		/* the home slot of the slot's hash, which must be the name's (checked below) */
		if (((s - (hash & mask)) & mask) >= ((s - last) & mask)) {
			rc = vfail(v, PHAROS_ERANGE, "hash slot %u: name #%u unreachable from "
				   "its home slot", s, i);
			break;
		}
		seen[i / 8] = (uint8_t)(seen[i / 8] | 1u << (i % 8));
		got[i] = hash;
		used++;
	}
	if (rc == 0 && used != n)
		rc = vfail(v, PHAROS_ERANGE, "hash table holds %u of %u names", used, n);
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		if (got[i] != v->names[i].hash)
			rc = vfail(v, PHAROS_ERANGE, "hash table: the slot of name #%u has hash "
				   "0x%08x, the name 0x%08x", i, got[i], v->names[i].hash);
out:
	free(got);
	free(seen);
	return rc;
}

/* ---------------- public ---------------- */

/* Everything after the checksum, in order: the first failure. */
static int check_structure(struct vctx *v)
{
	int rc;

	if ((rc = check_header_rest(v)) < 0 || (rc = check_sections(v)) < 0 ||
	    (rc = check_names(v)) < 0 || (rc = check_denial(v)) < 0 ||
	    (rc = check_soa(v)) < 0 || (rc = check_hash(v)) < 0)
		return rc;
	return 0;
}

int img_verify(const uint8_t *base, size_t size, char *err, size_t errlen)
{
	struct vctx v = { .base = base, .size = size, .err = err, .errlen = errlen };
	int rc;

	if (err && errlen)
		err[0] = '\0';
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	return vfail(&v, PHAROS_EVERSION, "images are little-endian; this host is not");
#endif
	if (size < sizeof(struct img_header))
		return vfail(&v, PHAROS_ESIZE, "%zu bytes, shorter than the header", size);
	if ((uintptr_t)base % IMG_ALIGN)
		return vfail(&v, PHAROS_ERANGE, "image buffer not %u-byte aligned", IMG_ALIGN);
	v.h = (const struct img_header *)base;
	if ((rc = check_header(&v)) < 0)
		return rc;
	/*
	 * The checksum runs beside the structural checks (which are safe on any bytes) on a
	 * thread of its own for big images, and its verdict comes first, as if computed first.
	 */
	struct crc_job job = { .base = base, .size = size };
	pthread_t tid;
	int threaded = size >= IMG_CRC_THREAD_MIN && pthread_create(&tid, NULL, crc_run, &job) == 0;
	if (!threaded && (rc = check_checksum(&v, img_checksum(base, size))) < 0)
		return rc;
	rc = check_structure(&v);
	if (threaded) {		/* on a structural error too: a bad checksum is told first */
		pthread_join(tid, NULL);
		int crc_rc = check_checksum(&v, job.crc);
		if (crc_rc < 0)
			return crc_rc;
	}
	return rc;
}

/* Fill a struct img for a buffer that img_verify() accepted. */
static int img_wrap(const uint8_t *base, size_t size, int owned, struct img **out)
{
	const struct img_header *h = (const struct img_header *)base;
	struct img *img = calloc(1, sizeof(*img));

	if (!img)
		return PHAROS_ENOMEM;
	img->base = base;
	img->size = size;
	img->hdr = h;
	img->names = (const struct img_name *)(base + h->sec[IMG_SEC_NAMES].off);
	img->slots = (const struct img_slot *)(base + h->sec[IMG_SEC_HASH].off);
	img->rrsets = (const struct img_rrset *)(base + h->sec[IMG_SEC_RRSETS].off);
	img->name_count = h->name_count;
	img->rrset_count = h->rrset_count;
	img->denial = h->denial;
	if (h->denial == IMG_DENIAL_NSEC3) {
		img->nsec3 = (const struct img_nsec3 *)(base + h->sec[IMG_SEC_NSEC3].off);
		img->nsec3_count = h->sec[IMG_SEC_NSEC3].len / (uint32_t)sizeof(struct img_nsec3);
		img->nsec3param = (const struct img_nsec3param *)(base +
				   h->sec[IMG_SEC_NSEC3PARAM].off);
	}
	img->slot_mask = h->hash_slots - 1;
	img->origin = base + img->names[0].name_off;
	img->origin_len = img->names[0].name_len;
	img->origin_labels = img->names[0].labels;
	img->owned = owned;
	*out = img;
	return 0;
}

int img_open_mem(const uint8_t *base, size_t size, int own, struct img **out, char *err,
		 size_t errlen)
{
	int rc = img_verify(base, size, err, errlen);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = img_wrap(base, size, own ? OWN_FREE : 0, out);
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s", pharos_strerror(rc));
	return rc;
}

int img_open_file(const char *path, struct img **out, char *err, size_t errlen)
{
	struct stat st;
	void *map = MAP_FAILED;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = PHAROS_EIO;
		goto fail;
	}
	if (st.st_size < (off_t)sizeof(struct img_header)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %lld bytes, shorter than the header", path,
				 (long long)st.st_size);
		close(fd);
		return PHAROS_ESIZE;
	}
	/* images are never rewritten in place (written elsewhere, then renamed) */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = PHAROS_EIO;
		goto fail;
	}
	close(fd);
	fd = -1;
	if ((rc = img_verify(map, (size_t)st.st_size, err, errlen)) < 0 ||
	    (rc = img_wrap(map, (size_t)st.st_size, OWN_MAP, out)) < 0) {
		munmap(map, (size_t)st.st_size);
		return rc;
	}
	return 0;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

void img_close(struct img *img)
{
	if (!img)
		return;
	if (img->owned == OWN_MAP)
		munmap((void *)img->base, img->size);
	else if (img->owned)
		free((void *)img->base);
	free(img);
}

const struct img_name *img_find(const struct img *img, const uint8_t *name, size_t len,
				uint32_t hash)
{
	/* verified: at least one empty slot, so the probe ends */
	for (uint32_t i = hash & img->slot_mask;; i = (i + 1) & img->slot_mask) {
		const struct img_slot *s = &img->slots[i];
		if (s->name == IMG_NONE)
			return NULL;
		if (s->hash != hash)
			continue;
		const struct img_name *n = &img->names[s->name];
		if (n->name_len == len && memcmp(img->base + n->name_off, name, len) == 0)
			return n;
	}
}

const struct img_rrset *img_rrset(const struct img *img, const struct img_name *n,
				  uint16_t type)
{
	const struct img_rrset *rs = img->rrsets + n->rrset_first, *end = rs + n->rrset_count;

	for (; rs < end; rs++)
		if (rs->type == type)
			return rs;
	return NULL;
}

/* ---------------- walking the records ---------------- */

/* count x { u16 rdlen, rdata } at p, all with one owner, type and TTL. */
static int img_run(struct img_rr *rr, const uint8_t *p, uint16_t count, img_rr_fn fn, void *ctx)
{
	int rc;

	for (uint16_t k = 0; k < count; k++) {
		rr->rdlen = get16(p);
		rr->rdata = p + 2;
		if ((rc = fn(ctx, rr)) < 0)
			return rc;
		p += 2 + (size_t)rr->rdlen;
	}
	return 0;
}

/* TTL of the RRSIG at file offset off covering type: its RRset's sig_ttl, else the set's. */
static uint32_t img_sig_ttl(const struct img *img, const struct img_name *n,
			    const struct img_rrset *sigs, size_t off, uint16_t covered)
{
	const struct img_rrset *rs = img_rrset(img, n, covered);

	if (rs && rs->sig_count && off >= rs->sig_off && off < (size_t)rs->sig_off + rs->sig_len)
		return rs->sig_ttl;
	return sigs->ttl;
}

int img_name_rrs(const struct img *img, const struct img_name *n, img_rr_fn fn, void *ctx)
{
	struct img_rr rr = { .owner = img_name_wire(img, n), .owner_len = n->name_len };
	int rc;

	for (uint32_t j = n->rrset_first; j < n->rrset_first + n->rrset_count; j++) {
		const struct img_rrset *rs = &img->rrsets[j];
		const uint8_t *p = img_rdata(img, rs);
		rr.type = rs->type;
		rr.ttl = rs->ttl;
		if (rs->type != DNS_T_RRSIG) {
			if ((rc = img_run(&rr, p, rs->count, fn, ctx)) < 0)
				return rc;
			continue;
		}
		for (uint16_t k = 0; k < rs->count; k++) {
			rr.rdlen = get16(p);
			rr.rdata = p + 2;
			rr.ttl = img_sig_ttl(img, n, rs, (size_t)(p - img->base),
					     rr.rdlen >= 2 ? get16(p + 2) : 0);
			if ((rc = fn(ctx, &rr)) < 0)
				return rc;
			p += 2 + (size_t)rr.rdlen;
		}
	}
	return 0;
}

int img_chain_rr(const struct img *img, uint32_t idx, img_rr_fn fn, void *ctx)
{
	const struct img_nsec3 *e = img_nsec3_at(img, idx);
	struct img_rr rr;
	int rc;

	if (!e)
		return 0;
	const struct img_rrset *rs = &img->rrsets[e->rrset];
	rr.owner = img->base + e->owner_off;
	rr.owner_len = e->owner_len;
	rr.type = rs->type;
	rr.ttl = rs->ttl;
	if ((rc = img_run(&rr, img_rdata(img, rs), rs->count, fn, ctx)) < 0)
		return rc;
	rr.type = DNS_T_RRSIG;
	rr.ttl = rs->sig_ttl;
	return img_run(&rr, img_sigs(img, rs), rs->sig_count, fn, ctx);
}

/* ---------------- a delta over its base ---------------- */

/* Name w of base + delta: the delta's entry first (NULL for a tombstone), then the base's. */
static const struct img_name *img_find2(const struct img *base, const struct img *delta,
					const uint8_t *w, size_t len)
{
	uint32_t h = img_hash(w, len);
	const struct img_name *n = img_find(delta, w, len, h);

	if (n)
		return (n->flags & IMG_NAME_TOMBSTONE) ? NULL : n;
	return img_find(base, w, len, h);
}

/* The image of a name entry of base + delta. */
static const struct img *img_of2(const struct img *base, const struct img *delta,
				 const struct img_name *n)
{
	uintptr_t p = (uintptr_t)n, lo = (uintptr_t)delta->names;

	return p >= lo && p < lo + delta->name_count * sizeof(*n) ? delta : base;
}

/* A denial index of a signed delta: into the base's NAMES (a name with an NSEC) or chain. */
static int delta_denial_ok(const struct img *base, const struct img *delta, uint32_t idx,
			   int optional)
{
	const struct img_name *n;

	if (idx == IMG_NONE)
		return optional;
	if (base->denial == IMG_DENIAL_NSEC3)
		return idx < base->nsec3_count;
	if (idx >= base->name_count)
		return 0;
	n = &base->names[idx];
	n = img_find2(base, delta, img_name_wire(base, n), n->name_len);
	return n && img_rrset(img_of2(base, delta, n), n, DNS_T_NSEC) != NULL;
}

/*
 * A signed zone's delta changes no name and no hash of the chain (doc/zone-image.md):
 * its names' denial indexes point into the base (checked here: in range, of the right
 * kind through base + delta), and each of its NSEC3 records replaces one of the base's.
 */
static int img_delta_check_signed(const struct img *base, const struct img *delta, char *err,
				  size_t errlen)
{
	char txt[DNAME_TXT_MAX];

	if (base->denial == IMG_DENIAL_NONE)
		return 0;
	for (uint32_t i = 0; i < delta->nsec3_count; i++) {
		const uint8_t *h = delta->nsec3[i].hash;
		uint32_t j = nsec3_find(base->nsec3, base->nsec3_count, h);
		if (memcmp(base->nsec3[j].hash, h, NSEC3_HASH_LEN) != 0) {
			snprintf(err, errlen, "NSEC3 #%u of the delta replaces no record of the "
				 "base's chain", i);
			return PHAROS_EZONE;
		}
	}
	for (uint32_t i = 0; i < delta->name_count; i++) {
		const struct img_name *n = &delta->names[i];
		if (n->flags & IMG_NAME_UNDER_CUT)
			continue;	/* IMG_NONE: img_verify checked */
		if (!delta_denial_ok(base, delta, n->denial, 0) ||
		    !delta_denial_ok(base, delta, n->wild_denial, 1)) {
			dname_to_text(img_name_wire(delta, n), txt, sizeof(txt));
			snprintf(err, errlen, "name #%u (%s): denial %u or wild_denial %u is not "
				 "%s of the base", i, txt, n->denial, n->wild_denial,
				 base->denial == IMG_DENIAL_NSEC ? "a name with an NSEC" :
				 "an NSEC3 record");
			return PHAROS_EZONE;
		}
	}
	return 0;
}

int img_delta_check(const struct img *base, const struct img *delta, char *err,
		    size_t errlen)
{
	const struct img_header *bh = base->hdr, *dh = delta->hdr;
	char txt[DNAME_TXT_MAX];

	if (img_is_delta(base) || !img_is_delta(delta)) {
		snprintf(err, errlen, "not a full image and a delta image");
		return PHAROS_EZONE;
	}
	if (base->origin_len != delta->origin_len ||
	    memcmp(base->origin, delta->origin, base->origin_len) != 0) {
		dname_to_text(delta->origin, txt, sizeof(txt));
		snprintf(err, errlen, "the delta is for zone %s", txt);
		return PHAROS_EZONE;
	}
	if (dh->base_serial != bh->serial || dh->base_checksum != bh->checksum) {
		snprintf(err, errlen, "the delta applies to base serial %u (checksum 0x%08x), "
			 "the base is serial %u (checksum 0x%08x)", dh->base_serial,
			 dh->base_checksum, bh->serial, bh->checksum);
		return PHAROS_EZONE;
	}
	if (bh->denial != dh->denial || (bh->denial == IMG_DENIAL_NSEC3 &&
	    memcmp(base->nsec3param, delta->nsec3param, sizeof(*base->nsec3param)) != 0)) {
		snprintf(err, errlen, "the delta's denial (%u) or NSEC3 parameters differ from "
			 "the base's (%u)", dh->denial, bh->denial);
		return PHAROS_EZONE;
	}
	if (img_delta_check_signed(base, delta, err, errlen) < 0)
		return PHAROS_EZONE;
	for (uint32_t i = 1; i < delta->name_count; i++) {
		const struct img_name *n = &delta->names[i], *p;
		const uint8_t *w = img_name_wire(delta, n);
		size_t skip = 1 + (size_t)w[0];

		if (n->flags & IMG_NAME_TOMBSTONE)
			continue;
		p = img_find2(base, delta, w + skip, n->name_len - skip);
		if (!p || !!(p->flags & (IMG_NAME_DELEG | IMG_NAME_UNDER_CUT)) !=
			  !!(n->flags & IMG_NAME_UNDER_CUT)) {
			dname_to_text(w, txt, sizeof(txt));
			snprintf(err, errlen, "name #%u (%s): %s", i, txt, p ? "UNDER_CUT flag "
				 "wrong" : "its parent is not in the zone");
			return PHAROS_EZONE;
		}
	}
	return 0;
}
