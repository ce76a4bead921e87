/* Zone compiler: zone file (ldns) -> checked, sorted zone -> image v2 bytes -> file (atomic). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "dns.h"
#include "img.h"
#include "nsec3.h"
#include "zonec.h"

#define ZC_TTL_MIN	60u		/* below: warning */
#define ZC_TTL_MAX	604800u		/* 7 days; above: warning */
#define ZC_TTL_DEFAULT	3600u		/* when the file has no $TTL and an RR no TTL */
#define ZC_NONE		UINT32_MAX
#define ZC_T_NSEC3PARAM	51
#define ZC_RRSIG_MIN	18		/* RRSIG rdata up to the signer name */

/* One owner name, or an empty non-terminal added for a missing ancestor. */
struct zc_name {
	uint32_t off;		/* lowercased wire in zone->wire */
	uint32_t hash;		/* img_hash() of the wire */
	uint32_t parent;	/* id of the name one label up; ZC_NONE for the apex */
	uint32_t rank;		/* canonical position = index in NAMES */
	uint32_t wildcard;	/* id of "*.<this>", ZC_NONE if none */
	uint32_t set_first;	/* first zc_set of this name */
	uint16_t set_count;
	uint16_t flags;		/* enum img_name_flags */
	uint8_t len;
	uint8_t labels;
	uint32_t denial;	/* image value: rank (NSEC), chain index (NSEC3) or ZC_NONE */
	uint32_t wild_denial;	/* the same for "*.<this>" */
};

/* One resource record as parsed: rdata lives in zone->rdata. */
struct zc_rr {
	uint64_t rdoff;
	uint32_t name;		/* id into zone->names */
	uint32_t line;
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
};

/* An NSEC3 record or an RRSIG covering one: no name of the namespace (RFC 5155 7.1). */
struct zc_n3rr {
	struct zc_rr rr;			/* rr.name unused */
	uint8_t hash[NSEC3_HASH_LEN];		/* the owner's first label, decoded */
};

/* One record of the NSEC3 chain: its NSEC3 RR and RRSIGs, indexes into zone->n3rrs. */
struct zc_link {
	uint32_t rr;
	uint32_t sig_first;
	uint32_t sig_ttl;
	uint16_t sig_count;
};

/* One RRset after sorting and dedupe: rrs [first, first + count) of zone->rrs. */
struct zc_set {
	uint32_t first;
	uint32_t ttl;
	uint16_t count;
	uint16_t type;
};

/* A slot of the name map: the hash is kept beside the id, so probes rarely touch names. */
struct zc_slot {
	uint32_t hash;
	uint32_t id;
};

/* A growable byte or element array. */
struct zc_vec {
	void *p;
	size_t len, cap;	/* elements */
};

struct zonec_zone {
	const char *file;
	zonec_report_fn report;
	void *ctx;
	int errors, syntax_errors, warnings;
	uint8_t origin[DNAME_MAX];
	size_t origin_len;
	uint32_t serial;
	uint32_t soa_line;	/* 0 = no SOA seen */
	uint32_t soa_rr;	/* index of the SOA in rrs, while parsing */
	struct zc_vec names;	/* struct zc_name, by id (insertion order) */
	struct zc_vec wire;	/* uint8_t: owner names */
	struct zc_vec rrs;	/* struct zc_rr */
	struct zc_vec rdata;	/* uint8_t */
	struct zc_vec sets;	/* struct zc_set, in image order */
	struct zc_slot *map;	/* name ids by hash, open addressing, id ZC_NONE = empty */
	uint32_t map_mask;
	uint32_t *order;	/* name ids in canonical order */
	struct zc_vec n3rrs;	/* struct zc_n3rr: NSEC3 records and their RRSIGs */
	struct zc_vec chain;	/* struct img_nsec3, hash only: the chain, sorted by hash */
	struct zc_vec links;	/* struct zc_link, one per chain record */
	struct img_nsec3param n3param;	/* from the apex NSEC3PARAM, if have_n3param */
	int have_n3param;
	uint32_t denial;	/* enum img_denial */
};

/* Parser state that directives change. */
struct zc_parse {
	ldns_rdf *origin;
	ldns_rdf *prev;		/* owner of the previous RR, for lines without one */
	uint32_t ttl;
};

/* Logical-record reader: joins parenthesised lines, drops comments, keeps line numbers. */
struct zc_reader {
	FILE *fp;
	char *line;
	size_t line_cap;
	struct zc_vec rec;	/* char: current record text, NUL-terminated */
	int lineno;
	int start;		/* first line of the current record */
	int quote;
	int depth;
	const char *bad;	/* record-level syntax problem found by the reader */
};

/* ---------------- small helpers ---------------- */

static int vec_reserve(struct zc_vec *v, size_t esize, size_t more)
{
	if (v->len + more <= v->cap)
		return 0;
	size_t cap = v->cap ? v->cap : 64;
	while (cap < v->len + more)
		cap *= 2;
	void *p = realloc(v->p, cap * esize);
	if (!p)
		return PHAROS_ENOMEM;
	v->p = p;
	v->cap = cap;
	return 0;
}

static int vec_append(struct zc_vec *v, size_t esize, const void *e, size_t n)
{
	if (vec_reserve(v, esize, n) < 0)
		return PHAROS_ENOMEM;
	memcpy((uint8_t *)v->p + v->len * esize, e, n * esize);
	v->len += n;
	return 0;
}

#define NAMES(z)	((struct zc_name *)(z)->names.p)
#define RRS(z)		((struct zc_rr *)(z)->rrs.p)
#define SETS(z)		((struct zc_set *)(z)->sets.p)
#define N3RRS(z)	((struct zc_n3rr *)(z)->n3rrs.p)
#define CHAIN(z)	((struct img_nsec3 *)(z)->chain.p)
#define LINKS(z)	((struct zc_link *)(z)->links.p)
#define WIRE(z, n)	((uint8_t *)(z)->wire.p + (n)->off)
#define RDATA(z, r)	((uint8_t *)(z)->rdata.p + (r)->rdoff)

static void zc_report(struct zonec_zone *z, enum zonec_severity sev, int line,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void zc_report(struct zonec_zone *z, enum zonec_severity sev, int line,
		      const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (sev == ZONEC_ERROR)
		z->errors++;
	else
		z->warnings++;
	if (z->report)
		z->report(z->ctx, sev, z->file, line, what);
}

void zonec_report_stderr(void *ctx, enum zonec_severity sev, const char *file, int line,
			 const char *what)
{
	char text[1024];

	(void)ctx;
	zonec_format(text, sizeof(text), sev, file, line, what);
	fprintf(stderr, "%s\n", text);
}

void zonec_format(char *buf, size_t cap, enum zonec_severity sev, const char *file, int line,
		  const char *what)
{
	const char *kind = sev == ZONEC_ERROR ? "error" : "warning";

	if (line > 0)
		snprintf(buf, cap, "%s:%d: %s: %s", file, line, kind, what);
	else
		snprintf(buf, cap, "%s: %s: %s", file, kind, what);
}

/* Presentation form of a wire name for messages (never fails: truncates). */
static const char *zc_ntext(const uint8_t *wire, char *buf, size_t cap)
{
	if (dname_to_text(wire, buf, cap) < 0)
		snprintf(buf, cap, "(name too long to print)");
	return buf;
}

static const char *zc_ttext(uint16_t type, char buf[16])
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);

	if (d && d->_type == type && d->_name)
		return d->_name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

/* ---------------- the reader ---------------- */

static int rd_put(struct zc_reader *r, char c)
{
	if (c == '\n' || c == '\r')
		c = ' ';
	if (c == '\0') {
		r->bad = "NUL byte in the zone file";
		c = ' ';
	}
	return vec_append(&r->rec, 1, &c, 1);
}

/* Append one physical line to the record, tracking quotes and parentheses. */
static int rd_scan(struct zc_reader *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int rc;
		if (c == '\\') {
			rc = rd_put(r, c);
			if (rc == 0 && i + 1 < n)
				rc = rd_put(r, s[++i]);
		} else if (r->quote) {
			r->quote = c != '"';
			rc = rd_put(r, c);
		} else if (c == ';') {
			break;
		} else {
			if (c == '"')
				r->quote = 1;
			else if (c == '(' || c == ')') {
				if (c == '(')
					r->depth++;
				else if (r->depth == 0)
					r->bad = "')' without '('";
				else
					r->depth--;
				c = ' ';
			}
			rc = rd_put(r, c);
		}
		if (rc < 0)
			return rc;
	}
	if (r->depth == 0)
		r->quote = 0;	/* a string never spans lines outside parentheses */
	return 0;
}

/*
 * Trim trailing blanks (ldns refuses a quoted last field followed by a blank) unless
 * escaped, then NUL-terminate. Returns 1 (a record is ready) or PHAROS_ENOMEM.
 */
static int rd_end(struct zc_reader *r)
{
	const char *s = r->rec.p;
	char nul = '\0';

	while (r->rec.len > 0 && (s[r->rec.len - 1] == ' ' || s[r->rec.len - 1] == '\t') &&
	       (r->rec.len < 2 || s[r->rec.len - 2] != '\\'))
		r->rec.len--;

	return vec_append(&r->rec, 1, &nul, 1) < 0 ? PHAROS_ENOMEM : 1;
}

static int rd_has_text(const struct zc_reader *r)
{
	const char *s = r->rec.p;

	for (size_t i = 0; i < r->rec.len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 1;
	return 0;
}

/* Next logical record into r->rec (NUL-terminated). Returns 1, 0 at end of file, or < 0. */
static int rd_next(struct zc_reader *r)
{
	ssize_t n;

	r->rec.len = 0;
	r->bad = NULL;
	r->depth = 0;
	r->quote = 0;
	while ((n = getline(&r->line, &r->line_cap, r->fp)) >= 0) {
		r->lineno++;
		if (r->rec.len == 0)
			r->start = r->lineno;
		if (rd_scan(r, r->line, (size_t)n) < 0)
			return PHAROS_ENOMEM;
		if (r->depth > 0)
			continue;
		if (rd_has_text(r))
			return rd_end(r);
		r->rec.len = 0;
		r->bad = NULL;
	}
	if (ferror(r->fp))
		return PHAROS_EIO;
	if (r->depth > 0) {
		r->bad = "'(' not closed before the end of the file";
		return rd_end(r);
	}
	return 0;
}

/* ---------------- the name table ---------------- */

static uint32_t map_find(const struct zonec_zone *z, const uint8_t *w, size_t len, uint32_t h)
{
	for (uint32_t i = h & z->map_mask;; i = (i + 1) & z->map_mask) {
		uint32_t id = z->map[i].id;
		if (id == ZC_NONE)
			return ZC_NONE;
		if (z->map[i].hash != h)
			continue;
		const struct zc_name *n = &NAMES(z)[id];
		if (n->len == len && memcmp(WIRE(z, n), w, len) == 0)
			return id;
	}
}

static void map_put(struct zonec_zone *z, uint32_t hash, uint32_t id)
{
	uint32_t i = hash & z->map_mask;

	while (z->map[i].id != ZC_NONE)
		i = (i + 1) & z->map_mask;
	z->map[i] = (struct zc_slot){ .hash = hash, .id = id };
}

/* Double the map and insert every name again (from the old map: no name is read). */
static int map_rebuild(struct zonec_zone *z, size_t slots)
{
	struct zc_slot *old = z->map;
	size_t old_slots = old ? (size_t)z->map_mask + 1 : 0;

	if (slots > (size_t)UINT32_MAX + 1)
		return PHAROS_ELIMIT;
	struct zc_slot *m = malloc(slots * sizeof(*m));
	if (!m)
		return PHAROS_ENOMEM;
	memset(m, 0xff, slots * sizeof(*m));
	z->map = m;
	z->map_mask = (uint32_t)(slots - 1);
	for (size_t i = 0; i < old_slots; i++)
		if (old[i].id != ZC_NONE)
			map_put(z, old[i].hash, old[i].id);
	free(old);
	return 0;
}

static int name_add(struct zonec_zone *z, const uint8_t *w, size_t len, uint32_t h,
		    uint32_t parent, uint32_t *id)
{
	struct zc_name n = { .hash = h, .parent = parent, .wildcard = ZC_NONE,
			     .denial = ZC_NONE, .wild_denial = ZC_NONE,
			     .len = (uint8_t)len, .labels = (uint8_t)dname_labels(w) };
	size_t slots = (size_t)z->map_mask + 1;

	if (z->names.len >= UINT32_MAX / 2 || z->wire.len + len > UINT32_MAX)
		return PHAROS_ELIMIT;
	n.off = (uint32_t)z->wire.len;
	if (w[0] == 1 && w[1] == '*')
		n.flags |= IMG_NAME_WILDCARD;
	if (vec_append(&z->wire, 1, w, len) < 0 || vec_append(&z->names, sizeof(n), &n, 1) < 0)
		return PHAROS_ENOMEM;
	*id = (uint32_t)(z->names.len - 1);
	if (z->names.len * 2 > slots) {	/* keep the map at most half full */
		int rc = map_rebuild(z, slots * 2);
		if (rc < 0)
			return rc;
	}
	map_put(z, h, *id);
	return 0;
}

/*
 * Id of an in-zone name, adding it and every missing ancestor (an empty non-terminal
 * until an RR names it). One probe per new label, so the whole zone costs O(n).
 */
static int name_get(struct zonec_zone *z, const uint8_t *w, size_t len, uint32_t *id)
{
	uint32_t h = img_hash(w, len), parent = ZC_NONE;

	*id = map_find(z, w, len, h);
	if (*id != ZC_NONE)
		return 0;
	if (len > z->origin_len) {
		size_t skip = 1 + (size_t)w[0];
		int rc = name_get(z, w + skip, len - skip, &parent);
		if (rc < 0)
			return rc;
	}
	return name_add(z, w, len, h, parent, id);
}

/* ---------------- parsing ---------------- */

static int zc_directive(struct zonec_zone *z, struct zc_parse *p, char *text, int line)
{
	char *save = NULL, *kw = strtok_r(text, " \t", &save);
	char *arg = strtok_r(NULL, " \t", &save), *more = strtok_r(NULL, " \t", &save);

	if (strcasecmp(kw, "$INCLUDE") == 0 || strcasecmp(kw, "$GENERATE") == 0) {
		zc_report(z, ZONEC_ERROR, line, "%s is not supported", kw);
		z->syntax_errors++;
		return 0;
	}
	if ((strcasecmp(kw, "$TTL") != 0 && strcasecmp(kw, "$ORIGIN") != 0) || !arg || more) {
		zc_report(z, ZONEC_ERROR, line, "syntax error: expected $TTL <ttl> or "
			  "$ORIGIN <name>");
		z->syntax_errors++;
		return 0;
	}
	if (strcasecmp(kw, "$TTL") == 0) {
		const char *end = arg;
		uint32_t ttl = ldns_str2period(arg, &end);
		if (*end != '\0' || end == arg) {
			zc_report(z, ZONEC_ERROR, line, "syntax error: bad $TTL value '%s'", arg);
			z->syntax_errors++;
			return 0;
		}
		p->ttl = ttl;
		return 0;
	}
	ldns_rdf *o = ldns_dname_new_frm_str(arg);
	if (o && !ldns_dname_str_absolute(arg) && ldns_dname_cat(o, p->origin) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(o);
		o = NULL;
	}
	if (!o) {
		zc_report(z, ZONEC_ERROR, line, "syntax error: bad $ORIGIN name '%s'", arg);
		z->syntax_errors++;
		return 0;
	}
	ldns_rdf_deep_free(p->origin);
	p->origin = o;
	return 0;
}

/* Types that only live in messages (RFC 6895 3.1): never in a zone. */
static int zc_type_refused(uint16_t type)
{
	return type == 0 || type == DNS_T_OPT || (type >= 128 && type <= 255);
}

/* 1 if rr has the same rdata as the SOA kept before (a zone dump that repeats it). */
static int zc_same_soa(const struct zonec_zone *z, const ldns_rr *rr)
{
	const struct zc_rr *first = &RRS(z)[z->soa_rr];
	const uint8_t *p = RDATA(z, first);
	size_t off = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (off + ldns_rdf_size(f) > first->rdlen ||
		    memcmp(p + off, ldns_rdf_data(f), ldns_rdf_size(f)) != 0)
			return 0;
		off += ldns_rdf_size(f);
	}
	return off == first->rdlen;
}

/* SOA rules: only at the apex, only one. Returns 1 if the RR is to be kept. */
static int zc_check_soa(struct zonec_zone *z, const ldns_rr *rr, int at_apex, int line)
{
	char nb[DNAME_TXT_MAX], ob[DNAME_TXT_MAX];

	if (!at_apex) {
		zc_report(z, ZONEC_ERROR, line, "SOA record at %s, not at the zone apex %s",
			  zc_ntext(ldns_rdf_data(ldns_rr_owner(rr)), nb, sizeof(nb)),
			  zc_ntext(z->origin, ob, sizeof(ob)));
		return 0;
	}
	if (ldns_rr_rd_count(rr) != 7 || ldns_rdf_size(ldns_rr_rdf(rr, 2)) != 4) {
		zc_report(z, ZONEC_ERROR, line, "malformed SOA record");
		return 0;
	}
	if (z->soa_line && zc_same_soa(z, rr)) {
		zc_report(z, ZONEC_WARNING, line, "SOA record repeated (first at line %u); "
			  "ignored", z->soa_line);
		return 0;
	}
	if (z->soa_line) {
		zc_report(z, ZONEC_ERROR, line, "more than one SOA record (first at line %u)",
			  z->soa_line);
		return 0;
	}
	z->soa_line = (uint32_t)line;
	z->soa_rr = (uint32_t)z->rrs.len;	/* zc_store() appends it next */
	z->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	return 1;
}

static void zc_check_ttl(struct zonec_zone *z, const uint8_t *owner, uint16_t type,
			 uint32_t ttl, int line)
{
	char nb[DNAME_TXT_MAX], tb[16];

	if (ttl >= ZC_TTL_MIN && ttl <= ZC_TTL_MAX)
		return;
	zc_report(z, ZONEC_WARNING, line, "TTL %u of %s %s is %s", ttl,
		  zc_ntext(owner, nb, sizeof(nb)), zc_ttext(type, tb),
		  ttl < ZC_TTL_MIN ? "below 60 seconds" : "above 7 days");
}

/*
 * Append the RR's rdata (wire form, as parsed) to the arena; fills r (rdoff, rdlen, line,
 * ttl, type). Returns 1, 0 when the RR is refused (reported), or PHAROS_ENOMEM.
 */
static int zc_put_rdata(struct zonec_zone *z, const ldns_rr *rr, int line, struct zc_rr *r)
{
	size_t total = 0;

	r->rdoff = z->rdata.len;
	r->line = (uint32_t)line;
	r->ttl = ldns_rr_ttl(rr);
	r->type = (uint16_t)ldns_rr_get_type(rr);
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (total > UINT16_MAX) {
		zc_report(z, ZONEC_ERROR, line, "rdata longer than 65535 octets");
		return 0;
	}
	if (r->type == DNS_T_RRSIG && total < ZC_RRSIG_MIN) {
		zc_report(z, ZONEC_ERROR, line, "malformed RRSIG record (%zu octets)", total);
		return 0;
	}
	if (vec_reserve(&z->rdata, 1, total) < 0)
		return PHAROS_ENOMEM;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		vec_append(&z->rdata, 1, ldns_rdf_data(f), ldns_rdf_size(f));
	}
	r->rdlen = (uint16_t)total;
	return 1;
}

/* Keep an RR of a name in the namespace. */
static int zc_store(struct zonec_zone *z, const ldns_rr *rr, uint32_t name, int line)
{
	struct zc_rr r = { .name = name };
	int rc = zc_put_rdata(z, rr, line, &r);

	return rc <= 0 ? rc : vec_append(&z->rrs, sizeof(r), &r, 1);
}

/* 1 if rr is an NSEC3, or an RRSIG covering one: those live in the chain, not in NAMES. */
static int zc_is_n3(const ldns_rr *rr)
{
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	const ldns_rdf *f;

	if (type == DNS_T_NSEC3)
		return 1;
	if (type != DNS_T_RRSIG || ldns_rr_rd_count(rr) == 0)
		return 0;
	f = ldns_rr_rdf(rr, 0);
	return ldns_rdf_size(f) >= 2 && dns_get16(ldns_rdf_data(f)) == DNS_T_NSEC3;
}

/* NSEC3 rdata (RFC 5155 3.2): algorithm, flags, iterations, salt, next hash, type bitmap. */
static int zc_nsec3_rdata_ok(const uint8_t *rd, size_t len)
{
	size_t h;

	if (len < 5 || (h = 5 + (size_t)rd[4]) + 1 > len || h + 1 + rd[h] > len)
		return 0;
	return rd[0] != 1 || rd[h] == NSEC3_HASH_LEN;	/* SHA-1 hashes are 20 bytes */
}

/* Keep an NSEC3 record or an RRSIG covering one, after checking its owner is a hash. */
static int zc_take_n3(struct zonec_zone *z, const ldns_rr *rr, const uint8_t *w, int line)
{
	struct zc_n3rr r;
	char nb[DNAME_TXT_MAX], tb[16];
	int rc;

	memset(&r, 0, sizeof(r));
	if (dname_labels(w) != dname_labels(z->origin) + 1 || w[0] != 32 ||
	    nsec3_b32hex_decode(w + 1, 32, r.hash) < 0) {
		zc_report(z, ZONEC_ERROR, line, "%s %s: an NSEC3 owner must be a hash (32 "
			  "base32hex digits) directly below the apex", zc_ntext(w, nb, sizeof(nb)),
			  zc_ttext((uint16_t)ldns_rr_get_type(rr), tb));
		return 0;
	}
	if ((rc = zc_put_rdata(z, rr, line, &r.rr)) <= 0)
		return rc;
	if (r.rr.type == DNS_T_NSEC3 && !zc_nsec3_rdata_ok(RDATA(z, &r.rr), r.rr.rdlen)) {
		zc_report(z, ZONEC_ERROR, line, "malformed NSEC3 record");
		return 0;
	}
	return vec_append(&z->n3rrs, sizeof(r), &r, 1);
}

/* Owner, class and type a zone may hold. Returns 1 if fine, else reports and returns 0. */
static int zc_rr_allowed(struct zonec_zone *z, const ldns_rr *rr, int line)
{
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	size_t len = ldns_rdf_size(ldns_rr_owner(rr));
	char tb[16];

	if (len == 0 || len > DNAME_MAX)
		zc_report(z, ZONEC_ERROR, line, "bad owner name");
	else if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		zc_report(z, ZONEC_ERROR, line, "class %u is not supported (only IN)",
			  (unsigned)ldns_rr_get_class(rr));
	else if (zc_type_refused(type))
		zc_report(z, ZONEC_ERROR, line, "type %s cannot appear in a zone",
			  zc_ttext(type, tb));
	else
		return 1;
	return 0;
}

/* Check one parsed RR and keep it (or drop it with a finding). */
static int zc_take(struct zonec_zone *z, const ldns_rr *rr, int line)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	uint8_t w[DNAME_MAX];
	size_t len = ldns_rdf_size(o);
	char nb[DNAME_TXT_MAX], tb[16];
	uint32_t id;

	if (!zc_rr_allowed(z, rr, line))
		return 0;
	dname_lower_copy(w, ldns_rdf_data(o), len);
	if (!dname_is_sub(w, len, z->origin, z->origin_len)) {
		zc_report(z, ZONEC_WARNING, line, "%s %s is outside the zone; dropped",
			  zc_ntext(w, nb, sizeof(nb)), zc_ttext(type, tb));
		return 0;
	}
	if (type == DNS_T_SOA &&
	    !zc_check_soa(z, rr, len == z->origin_len, line))
		return 0;
	zc_check_ttl(z, w, type, ldns_rr_ttl(rr), line);
	if (zc_is_n3(rr))
		return zc_take_n3(z, rr, w, line);
	int rc = name_get(z, w, len, &id);
	return rc < 0 ? rc : zc_store(z, rr, id, line);
}

static int zc_record(struct zonec_zone *z, struct zc_parse *p, const char *text, int line)
{
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, text, p->ttl, p->origin, &p->prev);

	if (st != LDNS_STATUS_OK) {
		const char *why = ldns_get_errorstr_by_id(st);
		if (why && strncmp(why, "Syntax error, ", 14) == 0)
			why += 14;
		while (*text == ' ' || *text == '\t')
			text++;
		zc_report(z, ZONEC_ERROR, line, "syntax error: %s: '%.80s'",
			  why ? why : "cannot parse", text);
		z->syntax_errors++;
		ldns_rr_free(rr);
		return 0;
	}
	int rc = zc_take(z, rr, line);
	ldns_rr_free(rr);
	return rc;
}

static int zc_parse_file(struct zonec_zone *z, FILE *fp)
{
	struct zc_parse p = { .ttl = ZC_TTL_DEFAULT };
	struct zc_reader r = { .fp = fp };
	int rc = PHAROS_ENOMEM;

	p.origin = ldns_dname_new_frm_data((uint16_t)z->origin_len, z->origin);
	p.prev = p.origin ? ldns_rdf_clone(p.origin) : NULL;
	if (!p.origin || !p.prev)
		goto done;
	while ((rc = rd_next(&r)) > 0) {
		char *text = r.rec.p;
		if (r.bad) {
			zc_report(z, ZONEC_ERROR, r.start, "syntax error: %s", r.bad);
			z->syntax_errors++;
			rc = 0;
		} else if (text[0] == '$') {
			rc = zc_directive(z, &p, text, r.start);
		} else {
			rc = zc_record(z, &p, text, r.start);
		}
		if (rc < 0)
			break;
	}
	if (rc == PHAROS_EIO)
		zc_report(z, ZONEC_ERROR, r.lineno, "read error: %s", strerror(errno));
done:
	ldns_rdf_deep_free(p.origin);
	ldns_rdf_deep_free(p.prev);
	free(r.line);
	free(r.rec.p);
	return rc;
}

/* ---------------- sorting, RRsets, checks ---------------- */

/* Image order of RRs: owner (canonical), type, rdata (RFC 4034 6.3), then file line. */
static int cmp_rrs(const void *a, const void *b, void *arg)
{
	const struct zonec_zone *z = arg;
	const struct zc_rr *x = a, *y = b;
	uint32_t rx = NAMES(z)[x->name].rank, ry = NAMES(z)[y->name].rank;

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	int c = memcmp(RDATA(z, x), RDATA(z, y), x->rdlen < y->rdlen ? x->rdlen : y->rdlen);
	if (c)
		return c;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * qsort_r, after one pass that finds most transfers in order already (primaries send their
 * zone in canonical order, and cmp is a total order: nothing to do then).
 */
static void zc_sort(void *base, size_t n, size_t size,
		    int (*cmp)(const void *, const void *, void *), void *arg)
{
	const uint8_t *p = base;
	size_t i = 1;

	while (i < n && cmp(p + (i - 1) * size, p + i * size, arg) < 0)
		i++;
	if (i < n)
		qsort_r(base, n, size, cmp, arg);
}

/* Children grouped by parent (the apex first), each by first label (octets, shorter first). */
static int cmp_siblings(const void *a, const void *b, void *arg)
{
	const struct zonec_zone *z = arg;
	const struct zc_name *x = &NAMES(z)[*(const uint32_t *)a];
	const struct zc_name *y = &NAMES(z)[*(const uint32_t *)b];

	uint32_t px = x->parent + 1, py = y->parent + 1;	/* the apex (ZC_NONE) first */

	if (px != py)
		return px < py ? -1 : 1;
	const uint8_t *lx = WIRE(z, x), *ly = WIRE(z, y);
	int c = memcmp(lx + 1, ly + 1, lx[0] < ly[0] ? lx[0] : ly[0]);
	return c ? c : (lx[0] > ly[0]) - (lx[0] < ly[0]);
}

/*
 * Canonical order (RFC 4034 6.1) without comparing whole names: every name's parent is a
 * name too (ENTs were added), and canonical order is the tree walked depth first, a name
 * before its children, siblings by their first label. So: sort by (parent, first label),
 * then walk from the apex (the one name without a parent).
 */
static int zc_sort_names(struct zonec_zone *z)
{
	uint32_t n = (uint32_t)z->names.len, r = 0, top = 0;
	uint32_t *kids = malloc(n * sizeof(*kids)), *first = malloc(n * sizeof(*first));
	struct zc_run { uint32_t at, end; } stack[DNAME_MAX + 1];	/* sibling runs in kids */

	z->order = malloc(n * sizeof(*z->order));
	if (!z->order || !kids || !first) {
		free(kids);
		free(first);
		return PHAROS_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		kids[i] = i;
		first[i] = ZC_NONE;
	}
	zc_sort(kids, n, sizeof(*kids), cmp_siblings, z);
	for (uint32_t i = n; i-- > 0;)	/* where each parent's children start in kids */
		if (NAMES(z)[kids[i]].parent != ZC_NONE)
			first[NAMES(z)[kids[i]].parent] = i;
	/* the names without a parent (the apex alone) sort first */
	stack[0] = (struct zc_run){ .at = 0, .end = 0 };
	while (stack[0].end < n && NAMES(z)[kids[stack[0].end]].parent == ZC_NONE)
		stack[0].end++;
	for (;;) {
		struct zc_run *run = &stack[top];
		if (run->at == run->end) {
			if (top-- == 0)
				break;
			continue;
		}
		uint32_t id = kids[run->at++], e = first[id];
		z->order[r++] = id;
		if (e == ZC_NONE || top + 1 == sizeof(stack) / sizeof(stack[0]))
			continue;
		while (e < n && NAMES(z)[kids[e]].parent == id)
			e++;
		stack[++top] = (struct zc_run){ .at = first[id], .end = e };
	}
	free(kids);
	free(first);
	for (uint32_t i = 0; i < r; i++)
		NAMES(z)[z->order[i]].rank = i;
	return r == n ? 0 : PHAROS_EZONE;
}

/* RFC 2181 5.2: one TTL per RRset. Warn at each RR that differs from the first in the file. */
static uint32_t zc_set_ttl(struct zonec_zone *z, const struct zc_rr *rr, size_t n)
{
	const struct zc_rr *ref = rr;
	uint32_t min = rr->ttl;
	char nb[DNAME_TXT_MAX], tb[16];

	for (size_t i = 1; i < n; i++) {
		if (rr[i].line < ref->line)
			ref = &rr[i];
		if (rr[i].ttl < min)
			min = rr[i].ttl;
	}
	if (rr->type == DNS_T_RRSIG)
		return min;	/* signatures carry the TTL of the RRset they cover */
	for (size_t i = 0; i < n; i++)
		if (rr[i].ttl != ref->ttl)
			zc_report(z, ZONEC_WARNING, (int)rr[i].line, "TTL %u of %s %s differs "
				  "from TTL %u at line %u; the RRset uses %u", rr[i].ttl,
				  zc_ntext(WIRE(z, &NAMES(z)[rr->name]), nb, sizeof(nb)),
				  zc_ttext(rr->type, tb), ref->ttl, ref->line, min);
	return min;
}

/* One (owner, type) group rr[0..n) (sorted): drop duplicates in place, append the RRset. */
static int zc_make_set(struct zonec_zone *z, size_t first, size_t n, size_t *out)
{
	struct zc_rr *rr = RRS(z);
	struct zc_set s = { .first = (uint32_t)*out, .type = rr[first].type };
	struct zc_name *nm = &NAMES(z)[rr[first].name];
	char nb[DNAME_TXT_MAX], tb[16];
	size_t o = *out;

	s.ttl = zc_set_ttl(z, rr + first, n);
	for (size_t k = first; k < first + n; k++) {
		const struct zc_rr *last = o > s.first ? &rr[o - 1] : NULL;
		if (last && last->rdlen == rr[k].rdlen &&
		    memcmp(RDATA(z, last), RDATA(z, &rr[k]), last->rdlen) == 0)
			continue;	/* exact duplicate */
		rr[o++] = rr[k];
	}
	if (o - s.first > UINT16_MAX || nm->set_count == UINT16_MAX) {
		zc_report(z, ZONEC_ERROR, (int)rr[s.first].line, "%s %s: more than 65535 "
			  "records or types at one name", zc_ntext(WIRE(z, nm), nb, sizeof(nb)),
			  zc_ttext(s.type, tb));
		return PHAROS_ELIMIT;
	}
	s.count = (uint16_t)(o - s.first);
	if (nm->set_count++ == 0)
		nm->set_first = (uint32_t)z->sets.len;
	*out = o;
	return vec_append(&z->sets, sizeof(s), &s, 1);
}

/*
 * RRs into image order (cmp_rrs): a stable counting sort by owner rank, then each owner's
 * few RRs by cmp_rrs. O(n) but for the small groups, where one qsort of a million records
 * spent its time in whole compares of records already in rank order (a transfer's).
 */
static int zc_sort_rrs(struct zonec_zone *z)
{
	size_t n = z->rrs.len, names = z->names.len;
	uint32_t *at = calloc(names + 1, sizeof(*at));
	struct zc_rr *rr = RRS(z), *out = malloc((n ? n : 1) * sizeof(*out));

	if (!at || !out) {
		free(at);
		free(out);
		return PHAROS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		at[NAMES(z)[rr[i].name].rank + 1]++;
	for (size_t r = 0; r < names; r++)
		at[r + 1] += at[r];
	for (size_t i = 0; i < n; i++)
		out[at[NAMES(z)[rr[i].name].rank]++] = rr[i];
	free(at);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && out[j].name == out[i].name; j++)
			;
		if (j - i > 1)
			zc_sort(out + i, j - i, sizeof(*out), cmp_rrs, z);
	}
	free(z->rrs.p);
	z->rrs.p = out;
	z->rrs.cap = n ? n : 1;
	return 0;
}

/* Sort RRs into image order and group them into RRsets. */
static int zc_group(struct zonec_zone *z)
{
	int rc = zc_sort_rrs(z);
	struct zc_rr *rr = RRS(z);
	size_t n = z->rrs.len, out = 0;

	if (rc < 0)
		return rc;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && rr[j].name == rr[i].name && rr[j].type == rr[i].type; j++)
			;
		if ((rc = zc_make_set(z, i, j - i, &out)) < 0)
			return rc;
	}
	z->rrs.len = out;
	return 0;
}

/* CNAME and other data (RFC 1034 3.6.2; RFC 4035 2.5 allows RRSIG and NSEC beside it). */
static void zc_check_cname(struct zonec_zone *z, const struct zc_name *n)
{
	const struct zc_set *s = SETS(z) + n->set_first, *cname = NULL;
	char nb[DNAME_TXT_MAX], tb[16];
	uint16_t other = 0;

	for (uint16_t i = 0; i < n->set_count; i++) {
		if (s[i].type == DNS_T_CNAME)
			cname = &s[i];
		else if (s[i].type != DNS_T_RRSIG && s[i].type != DNS_T_NSEC && !other)
			other = s[i].type;
	}
	if (!cname)
		return;
	int line = (int)RRS(z)[cname->first].line;
	if (other)
		zc_report(z, ZONEC_WARNING, line, "%s has a CNAME and other data (%s)",
			  zc_ntext(WIRE(z, n), nb, sizeof(nb)), zc_ttext(other, tb));
	if (cname->count > 1)
		zc_report(z, ZONEC_WARNING, line, "%s has %u CNAME records",
			  zc_ntext(WIRE(z, n), nb, sizeof(nb)), cname->count);
}

static int zc_has_type(const struct zonec_zone *z, const struct zc_name *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->set_count; i++)
		if (SETS(z)[n->set_first + i].type == type)
			return 1;
	return 0;
}

/* Flags and wildcard links, in canonical order so a parent is done before its children. */
static void zc_flags(struct zonec_zone *z)
{
	struct zc_name *names = NAMES(z);

	for (size_t r = 0; r < z->names.len; r++) {
		struct zc_name *n = &names[z->order[r]];
		zc_check_cname(z, n);
		if (r == 0)
			n->flags |= IMG_NAME_APEX;
		if (n->set_count == 0)
			n->flags |= IMG_NAME_ENT;
		if (r > 0 && zc_has_type(z, n, DNS_T_NS))
			n->flags |= IMG_NAME_DELEG;
		if (zc_has_type(z, n, DNS_T_CNAME))
			n->flags |= IMG_NAME_CNAME;
		if (n->parent == ZC_NONE)
			continue;
		struct zc_name *p = &names[n->parent];
		if (p->flags & (IMG_NAME_DELEG | IMG_NAME_UNDER_CUT))
			n->flags |= IMG_NAME_UNDER_CUT;
		if (n->flags & IMG_NAME_WILDCARD)
			p->wildcard = z->order[r];
	}
}

/* ---------------- DNSSEC: the NSEC3 chain, denial of existence ---------------- */

/* Owner wire of an NSEC3 record: <base32hex(hash), lowercase>.<origin>. Returns its length. */
static size_t zc_n3owner(const struct zonec_zone *z, const uint8_t hash[NSEC3_HASH_LEN],
			 uint8_t *out)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint32_t acc = 0;
	unsigned bits = 0, o = 1;

	for (unsigned i = 0; i < NSEC3_HASH_LEN; i++) {
		acc = acc << 8 | hash[i];
		for (bits += 8; bits >= 5; bits -= 5)
			out[o++] = (uint8_t)digits[(acc >> (bits - 5)) & 31];
	}
	out[0] = (uint8_t)(o - 1);
	memcpy(out + o, z->origin, z->origin_len);
	return o + z->origin_len;
}

/* "1 0 12 aabbccdd" (presentation form of the parameters) for messages. */
static const char *zc_n3ptext(const struct img_nsec3param *p, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "%u %u %u %s", p->alg, p->flags, p->iterations,
				    p->salt_len ? "" : "-");

	for (unsigned i = 0; i < p->salt_len && n + 3 <= cap; i++, n += 2)
		snprintf(buf + n, 3, "%02x", p->salt[i]);
	return buf;
}

/* Parse NSEC3PARAM rdata (RFC 5155 4.2). Returns 0, or -1 when malformed. */
static int zc_n3param_parse(const uint8_t *rd, size_t len, struct img_nsec3param *p)
{
	if (len < 5 || 5 + (size_t)rd[4] != len)
		return -1;
	memset(p, 0, sizeof(*p));
	p->alg = rd[0];
	p->flags = rd[1];
	p->iterations = dns_get16(rd + 2);
	p->salt_len = rd[4];
	memcpy(p->salt, rd + 5, p->salt_len);
	return 0;
}

/*
 * The chain's parameters: the first apex NSEC3PARAM with flags 0 (RFC 5155 4.1.2: the
 * others are ignored). SHA-1 is the only hash defined; another one refuses the zone.
 */
static void zc_nsec3param(struct zonec_zone *z)
{
	const struct zc_name *apex = &NAMES(z)[z->order[0]];
	char pb[600];
	unsigned usable = 0;

	for (uint16_t i = 0; i < apex->set_count; i++) {
		const struct zc_set *s = &SETS(z)[apex->set_first + i];
		if (s->type != ZC_T_NSEC3PARAM)
			continue;
		for (uint32_t k = s->first; k < s->first + s->count; k++) {
			const struct zc_rr *r = &RRS(z)[k];
			struct img_nsec3param p;
			int line = (int)r->line;
			if (zc_n3param_parse(RDATA(z, r), r->rdlen, &p) < 0) {
				zc_report(z, ZONEC_ERROR, line, "malformed NSEC3PARAM record");
				continue;
			}
			if (p.flags != 0 || usable++)
				continue;
			if (p.alg != 1)
				zc_report(z, ZONEC_ERROR, line, "NSEC3PARAM hash algorithm %u is "
					  "not supported (only 1, SHA-1)", p.alg);
			/* memcpy: the padding too, so that images are reproducible */
			memcpy(&z->n3param, &p, sizeof(p));
			z->have_n3param = 1;
		}
		if (usable > 1)
			zc_report(z, ZONEC_WARNING, (int)RRS(z)[s->first].line, "%u NSEC3PARAM "
				  "records with flags 0; the chain of %s is served", usable,
				  zc_n3ptext(&z->n3param, pb, sizeof(pb)));
	}
}

/* 1 if an NSEC3 record has the chain's algorithm, iterations and salt. */
static int zc_in_chain(const struct zonec_zone *z, const struct zc_rr *r)
{
	const uint8_t *rd = RDATA(z, r);
	const struct img_nsec3param *p = &z->n3param;

	return z->have_n3param && rd[0] == p->alg && dns_get16(rd + 2) == p->iterations &&
	       rd[4] == p->salt_len && memcmp(rd + 5, p->salt, p->salt_len) == 0;
}

static int zc_same_rdata(const struct zonec_zone *z, const struct zc_rr *a,
			 const struct zc_rr *b)
{
	return a->rdlen == b->rdlen && memcmp(RDATA(z, a), RDATA(z, b), a->rdlen) == 0;
}

/* Order of NSEC3 records and their RRSIGs: hash, type (RRSIGs first), rdata, file line. */
static int cmp_n3rrs(const void *a, const void *b, void *arg)
{
	const struct zonec_zone *z = arg;
	const struct zc_n3rr *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, NSEC3_HASH_LEN);

	if (c)
		return c;
	if (x->rr.type != y->rr.type)
		return x->rr.type < y->rr.type ? -1 : 1;
	c = memcmp(RDATA(z, &x->rr), RDATA(z, &y->rr),
		   x->rr.rdlen < y->rr.rdlen ? x->rr.rdlen : y->rr.rdlen);
	if (c)
		return c;
	if (x->rr.rdlen != y->rr.rdlen)
		return x->rr.rdlen < y->rr.rdlen ? -1 : 1;
	return x->rr.line < y->rr.line ? -1 : x->rr.line > y->rr.line;
}

/* NSEC3 records left out of the chain: counted, reported once. */
struct zc_dropped {
	unsigned count;
	uint32_t line;		/* the first in the file */
};

/*
 * Records [first, end) of one type at one owner (sorted): exact duplicates out (keeping
 * the lowest TTL), the rest moved down to first. Returns how many are left.
 */
static size_t zc_dedupe_n3(struct zonec_zone *z, size_t first, size_t end)
{
	struct zc_n3rr *r = N3RRS(z);
	size_t kept = 0;

	for (size_t k = first; k < end; k++) {
		struct zc_rr *last = kept ? &r[first + kept - 1].rr : NULL;
		if (last && zc_same_rdata(z, last, &r[k].rr)) {
			if (r[k].rr.ttl < last->ttl)
				last->ttl = r[k].rr.ttl;
			continue;
		}
		r[first + kept++] = r[k];
	}
	return kept;
}

/* The one NSEC3 record of the chain among [first, end) (deduplicated), or ZC_NONE. */
static uint32_t zc_owner_nsec3(struct zonec_zone *z, size_t first, size_t end,
			       struct zc_dropped *drop)
{
	const struct zc_n3rr *r = N3RRS(z);
	uint32_t match = ZC_NONE;
	uint8_t owner[DNAME_MAX];
	char nb[DNAME_TXT_MAX];

	for (size_t k = first; k < end; k++) {
		if (!zc_in_chain(z, &r[k].rr)) {
			if (drop->count++ == 0 || r[k].rr.line < drop->line)
				drop->line = r[k].rr.line;
		} else if (match != ZC_NONE) {
			zc_n3owner(z, r[k].hash, owner);
			zc_report(z, ZONEC_ERROR, (int)r[k].rr.line, "%s: more than one NSEC3 "
				  "record of the chain (the other at line %u)",
				  zc_ntext(owner, nb, sizeof(nb)), r[match].rr.line);
		} else {
			match = (uint32_t)k;
		}
	}
	return match;
}

/*
 * One owner's records [first, end): RRSIGs (type 46) sort before the NSEC3s. Adds the
 * owner to the chain when one of its NSEC3s has the chain's parameters.
 */
static int zc_chain_owner(struct zonec_zone *z, size_t first, size_t end,
			  struct zc_dropped *drop)
{
	struct zc_n3rr *r = N3RRS(z);
	size_t mid = first;
	char nb[DNAME_TXT_MAX];
	uint8_t owner[DNAME_MAX];

	while (mid < end && r[mid].rr.type == DNS_T_RRSIG)
		mid++;
	size_t nsig = zc_dedupe_n3(z, first, mid), nn3 = zc_dedupe_n3(z, mid, end);
	if (nn3 == 0) {
		zc_n3owner(z, r[first].hash, owner);
		zc_report(z, ZONEC_WARNING, (int)r[first].rr.line, "%s has an RRSIG covering "
			  "NSEC3 but no NSEC3 record; dropped", zc_ntext(owner, nb, sizeof(nb)));
		return 0;
	}
	uint32_t match = zc_owner_nsec3(z, mid, mid + nn3, drop);
	if (match == ZC_NONE)
		return 0;
	if (nsig > UINT16_MAX) {
		zc_report(z, ZONEC_ERROR, (int)r[match].rr.line, "more than 65535 RRSIGs at "
			  "one NSEC3 record");
		return 0;
	}
	struct zc_link link = { .rr = match, .sig_first = (uint32_t)first,
				.sig_count = (uint16_t)nsig, .sig_ttl = nsig ? UINT32_MAX : 0 };
	struct img_nsec3 e;
	for (size_t k = first; k < first + nsig; k++)
		if (r[k].rr.ttl < link.sig_ttl)
			link.sig_ttl = r[k].rr.ttl;
	memset(&e, 0, sizeof(e));
	memcpy(e.hash, r[match].hash, NSEC3_HASH_LEN);
	if (vec_append(&z->chain, sizeof(e), &e, 1) < 0 ||
	    vec_append(&z->links, sizeof(link), &link, 1) < 0)
		return PHAROS_ENOMEM;
	return 0;
}

/* Sort the NSEC3 records by hash and keep those of the NSEC3PARAM's chain. */
static int zc_chain(struct zonec_zone *z)
{
	struct zc_n3rr *r = N3RRS(z);
	struct zc_dropped drop = { 0, 0 };
	size_t n = z->n3rrs.len;
	char pb[600];
	int rc;

	if (n)
		qsort_r(r, n, sizeof(*r), cmp_n3rrs, z);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && memcmp(r[j].hash, r[i].hash, NSEC3_HASH_LEN) == 0; j++)
			;
		if ((rc = zc_chain_owner(z, i, j, &drop)) < 0)
			return rc;
	}
	if (drop.count && !z->have_n3param)
		zc_report(z, ZONEC_WARNING, (int)drop.line, "%u NSEC3 records but no NSEC3PARAM "
			  "with flags 0 at the apex; dropped", drop.count);
	else if (drop.count)
		zc_report(z, ZONEC_WARNING, (int)drop.line, "%u NSEC3 records with parameters "
			  "other than the NSEC3PARAM's (%s); dropped", drop.count,
			  zc_n3ptext(&z->n3param, pb, sizeof(pb)));
	if (z->have_n3param && z->chain.len == 0)
		zc_report(z, ZONEC_WARNING, 0, "NSEC3PARAM %s but no NSEC3 record of its "
			  "chain: no denial of existence is served",
			  zc_n3ptext(&z->n3param, pb, sizeof(pb)));
	return 0;
}

/* "*.<name>" into out; 0 when it would be longer than a name may be. */
static size_t zc_wild(const struct zonec_zone *z, const struct zc_name *n, uint8_t *out)
{
	if ((size_t)n->len + 2 > DNAME_MAX)
		return 0;
	out[0] = 1;
	out[1] = '*';
	memcpy(out + 2, WIRE(z, n), n->len);
	return (size_t)n->len + 2;
}

/*
 * NSEC3 zone: the record matching H(name) or, with NSEC3_COVERED (opt-out), covering
 * it; and the one matching or covering H(*.name). Two hashes per name (each costs
 * iterations + 1 SHA-1 blocks), none for names below a cut.
 */
static void zc_denial_nsec3(struct zonec_zone *z)
{
	const struct img_nsec3 *chain = CHAIN(z);
	uint32_t count = (uint32_t)z->chain.len;
	uint8_t h[NSEC3_HASH_LEN], wild[DNAME_MAX];

	z->denial = IMG_DENIAL_NSEC3;
	for (size_t id = 0; id < z->names.len; id++) {
		struct zc_name *n = &NAMES(z)[id];
		size_t wlen;
		if (n->flags & IMG_NAME_UNDER_CUT)
			continue;
		nsec3_hash(&z->n3param, WIRE(z, n), n->len, h);
		n->denial = nsec3_find(chain, count, h);
		if (memcmp(chain[n->denial].hash, h, NSEC3_HASH_LEN) != 0)
			n->flags |= IMG_NAME_NSEC3_COVERED;
		if ((wlen = zc_wild(z, n, wild)) == 0)
			continue;
		nsec3_hash(&z->n3param, wild, wlen, h);
		n->wild_denial = nsec3_find(chain, count, h);
	}
}

/* 1 if a name takes part in the NSEC chain: it has an NSEC and is not below a cut. */
static int zc_has_nsec(const struct zonec_zone *z, const struct zc_name *n)
{
	return !(n->flags & IMG_NAME_UNDER_CUT) && zc_has_type(z, n, DNS_T_NSEC);
}

/*
 * NSEC zone: rank of the name whose NSEC matches or covers "*.<name at rank r>": the
 * nearest name with an NSEC at or before the wildcard's canonical position. A leaf's
 * wildcard sorts right after it; otherwise a binary search over its subtree (the names
 * after r that sort before the wildcard are all below the name).
 */
static uint32_t zc_nsec_wild(const struct zonec_zone *z, uint32_t r, const uint32_t *pn)
{
	const struct zc_name *n = &NAMES(z)[z->order[r]];
	uint32_t lo = r, hi = (uint32_t)z->names.len;
	uint8_t wild[DNAME_MAX];

	if (zc_wild(z, n, wild) == 0)
		return ZC_NONE;
	if (r + 1 == hi || NAMES(z)[z->order[r + 1]].parent != z->order[r])
		return pn[r];
	while (hi - lo > 1) {	/* name(lo) < wild < name(hi) */
		uint32_t mid = lo + (hi - lo) / 2;
		if (dname_canon_cmp(WIRE(z, &NAMES(z)[z->order[mid]]), wild) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return pn[lo];
}

/*
 * NSEC zone: a name's own NSEC, or (ENTs, names without one) that of its nearest
 * canonical predecessor, wrapping to the last NSEC before the first. pn: scratch.
 */
static int zc_denial_nsec(struct zonec_zone *z)
{
	uint32_t n = (uint32_t)z->names.len, prev = ZC_NONE, *pn;

	for (uint32_t r = 0; r < n; r++)
		if (zc_has_nsec(z, &NAMES(z)[z->order[r]]))
			prev = r;
	if (prev == ZC_NONE)
		return 0;	/* no NSEC: unsigned */
	if (!(pn = malloc(n * sizeof(*pn))))
		return PHAROS_ENOMEM;
	z->denial = IMG_DENIAL_NSEC;
	for (uint32_t r = 0; r < n; r++) {
		if (zc_has_nsec(z, &NAMES(z)[z->order[r]]))
			prev = r;
		pn[r] = prev;
	}
	for (uint32_t r = 0; r < n; r++) {
		struct zc_name *nm = &NAMES(z)[z->order[r]];
		if (nm->flags & IMG_NAME_UNDER_CUT)
			continue;
		nm->denial = pn[r];
		nm->wild_denial = zc_nsec_wild(z, r, pn);
	}
	free(pn);
	return 0;
}

/* Denial type and every name's denial indexes: NSEC3 if the chain has records, else NSEC. */
static int zc_denial(struct zonec_zone *z)
{
	int rc;

	zc_nsec3param(z);
	if ((rc = zc_chain(z)) < 0)
		return rc;
	if (z->chain.len) {
		zc_denial_nsec3(z);
		return 0;
	}
	return zc_denial_nsec(z);
}

/* After parsing: refuse, or sort and group into the form zonec_build() lays out. */
static int zc_finish(struct zonec_zone *z)
{
	int rc;

	free(z->map);	/* the name map serves the intake only: ~16 bytes a name less from here */
	z->map = NULL;
	if (!z->soa_line)
		zc_report(z, ZONEC_ERROR, 0, "no SOA record at the zone apex");
	if (z->errors)
		return z->syntax_errors ? PHAROS_ESYNTAX : PHAROS_EZONE;
	if ((rc = zc_sort_names(z)) < 0 || (rc = zc_group(z)) < 0)
		return rc;
	zc_flags(z);
	if (!zc_has_type(z, &NAMES(z)[0], DNS_T_NS))
		zc_report(z, ZONEC_WARNING, 0, "no NS records at the zone apex");
	if ((rc = zc_denial(z)) < 0)
		return rc;
	return z->errors ? PHAROS_EZONE : 0;
}

/* ---------------- public: load ---------------- */

void zonec_free(struct zonec_zone *z)
{
	if (!z)
		return;
	free(z->names.p);
	free(z->wire.p);
	free(z->rrs.p);
	free(z->rdata.p);
	free(z->sets.p);
	free(z->map);
	free(z->order);
	free(z->n3rrs.p);
	free(z->chain.p);
	free(z->links.p);
	free(z);
}

static int zc_open(struct zonec_zone *z, const char *origin)
{
	uint32_t id;

	if (!origin || dname_from_text(origin, NULL, 0, z->origin, &z->origin_len) < 0) {
		zc_report(z, ZONEC_ERROR, 0, "invalid origin '%s'", origin ? origin : "");
		return PHAROS_EINVAL;
	}
	int rc = map_rebuild(z, 1024);
	return rc < 0 ? rc : name_get(z, z->origin, z->origin_len, &id);
}

int zonec_load(const char *file, const char *origin, zonec_report_fn report, void *ctx,
	       struct zonec_zone **out)
{
	struct zonec_zone *z = calloc(1, sizeof(*z));
	FILE *fp = NULL;
	int rc;

	*out = NULL;
	if (!z)
		return PHAROS_ENOMEM;
	z->file = file;
	z->report = report;
	z->ctx = ctx;
	if ((rc = zc_open(z, origin)) < 0)
		goto fail;
	fp = fopen(file, "r");
	if (!fp) {
		zc_report(z, ZONEC_ERROR, 0, "cannot open: %s", strerror(errno));
		rc = PHAROS_EIO;
		goto fail;
	}
	if ((rc = zc_parse_file(z, fp)) < 0 || (rc = zc_finish(z)) < 0)
		goto fail;
	fclose(fp);
	z->file = NULL;		/* the caller's string need not outlive the load */
	*out = z;
	return 0;
fail:
	if (fp)
		fclose(fp);
	zonec_free(z);
	return rc;
}

/* ---------------- public: record by record (AXFR) ---------------- */

int zonec_begin(const char *origin, const char *source, zonec_report_fn report, void *ctx,
		struct zonec_zone **out)
{
	struct zonec_zone *z = calloc(1, sizeof(*z));
	int rc;

	*out = NULL;
	if (!z)
		return PHAROS_ENOMEM;
	z->file = source;	/* must outlive zonec_end (the caller's) */
	z->report = report;
	z->ctx = ctx;
	if ((rc = zc_open(z, origin)) < 0) {
		zonec_free(z);
		return rc;
	}
	*out = z;
	return 0;
}

/*
 * The same intake as a zone file's records (zc_take), with the record's position in the
 * transfer as its "line". Unlike in a file, a record outside the zone refuses the zone:
 * a primary that sends one is broken or not the primary of this zone.
 */
int zonec_add_rr(struct zonec_zone *z, const struct ldns_struct_rr *rr)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t len = ldns_rdf_size(o);
	int line = (int)(z->rrs.len + z->n3rrs.len + 1), before = z->errors;
	uint8_t w[DNAME_MAX];
	char nb[DNAME_TXT_MAX], tb[16];

	if (z->map == NULL)	/* after zonec_end */
		return PHAROS_EINVAL;
	if (len > 0 && len <= DNAME_MAX) {
		dname_lower_copy(w, ldns_rdf_data(o), len);
		if (!dname_is_sub(w, len, z->origin, z->origin_len)) {
			zc_report(z, ZONEC_ERROR, line, "%s %s is outside the zone",
				  zc_ntext(w, nb, sizeof(nb)),
				  zc_ttext((uint16_t)ldns_rr_get_type(rr), tb));
			return PHAROS_EZONE;
		}
	}
	int rc = zc_take(z, rr, line);
	if (rc < 0)
		return rc;
	return z->errors > before ? PHAROS_EZONE : 0;
}

void zonec_prefetch(const struct zonec_zone *z, const struct ldns_struct_rr *rr)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t len = ldns_rdf_size(o);
	uint8_t w[DNAME_MAX];

	if (z->map == NULL || len == 0 || len > DNAME_MAX)
		return;
	dname_lower_copy(w, ldns_rdf_data(o), len);
	__builtin_prefetch(&z->map[img_hash(w, len) & z->map_mask]);
}

int zonec_end(struct zonec_zone *z)
{
	int rc = zc_finish(z);

	z->file = NULL;
	return rc;
}

uint32_t zonec_serial(const struct zonec_zone *z)
{
	return z->serial;
}

/* ---------------- public: build ---------------- */

struct zc_layout {
	size_t slots;
	uint64_t off[IMG_SEC_COUNT_], len[IMG_SEC_COUNT_];
	uint64_t size;
};

static uint64_t align8(uint64_t x)
{
	return (x + IMG_ALIGN - 1) & ~(uint64_t)(IMG_ALIGN - 1);
}

/* Bytes of DATA: owner names, NSEC3 owners, every RR as { u16 rdlen, rdata }. */
static uint64_t zc_data_len(const struct zonec_zone *z)
{
	uint64_t len = z->wire.len + 2 * (uint64_t)z->rrs.len;

	for (size_t i = 0; i < z->rrs.len; i++)
		len += RRS(z)[i].rdlen;
	for (size_t i = 0; i < z->links.len; i++) {
		const struct zc_link *k = &LINKS(z)[i];
		len += 1 + 32 + z->origin_len + 2 + N3RRS(z)[k->rr].rr.rdlen;
		for (uint32_t s = k->sig_first; s < k->sig_first + k->sig_count; s++)
			len += 2 + (uint64_t)N3RRS(z)[s].rr.rdlen;
	}
	return len;
}

static int zc_layout(const struct zonec_zone *z, struct zc_layout *l)
{
	uint64_t at = sizeof(struct img_header);

	memset(l, 0, sizeof(*l));
	l->slots = 2;
	while (l->slots < 2 * z->names.len)
		l->slots *= 2;
	l->len[IMG_SEC_NAMES] = z->names.len * sizeof(struct img_name);
	l->len[IMG_SEC_HASH] = l->slots * sizeof(struct img_slot);
	l->len[IMG_SEC_RRSETS] = (z->sets.len + z->links.len) * sizeof(struct img_rrset);
	l->len[IMG_SEC_DATA] = zc_data_len(z);
	if (z->denial == IMG_DENIAL_NSEC3) {
		l->len[IMG_SEC_NSEC3] = z->chain.len * sizeof(struct img_nsec3);
		l->len[IMG_SEC_NSEC3PARAM] = sizeof(struct img_nsec3param);
	}
	for (int s = IMG_SEC_NAMES; s < IMG_SEC_COUNT_; s++) {
		if (l->len[s] == 0)
			continue;	/* absent: {0, 0} */
		l->off[s] = at;
		at = align8(at + l->len[s]);
	}
	l->size = at;
	return at > UINT32_MAX ? PHAROS_ELIMIT : 0;
}

static void zc_put_header(const struct zonec_zone *z, const struct zc_layout *l, uint8_t *buf)
{
	struct img_header h = { .version = IMG_VERSION, .header_size = sizeof(h),
				.file_size = l->size, .serial = z->serial,
				.name_count = (uint32_t)z->names.len,
				.rrset_count = (uint32_t)(z->sets.len + z->links.len),
				.hash_slots = (uint32_t)l->slots, .origin_name = 0,
				.compiled_at = (uint32_t)time(NULL), .denial = z->denial };

	memcpy(h.magic, IMG_MAGIC, sizeof(h.magic));
	for (int s = IMG_SEC_NAMES; s < IMG_SEC_COUNT_; s++) {
		h.sec[s].off = (uint32_t)l->off[s];
		h.sec[s].len = (uint32_t)l->len[s];
	}
	const struct zc_name *apex = &NAMES(z)[z->order[0]];
	for (uint16_t i = 0; i < apex->set_count; i++)
		if (SETS(z)[apex->set_first + i].type == DNS_T_SOA)
			h.soa_rrset = apex->set_first + i;
	memcpy(buf, &h, sizeof(h));
	if (l->len[IMG_SEC_NSEC3PARAM])
		memcpy(buf + l->off[IMG_SEC_NSEC3PARAM], &z->n3param, sizeof(z->n3param));
}

/* NAMES, HASH and the owner-name part of DATA; returns the DATA cursor. */
static uint64_t zc_put_names(const struct zonec_zone *z, const struct zc_layout *l,
			     uint8_t *buf)
{
	struct img_name *out = (struct img_name *)(buf + l->off[IMG_SEC_NAMES]);
	struct img_slot *slots = (struct img_slot *)(buf + l->off[IMG_SEC_HASH]);
	uint64_t data = l->off[IMG_SEC_DATA];
	uint32_t mask = (uint32_t)l->slots - 1;

	memset(slots, 0xff, l->len[IMG_SEC_HASH]);
	for (uint32_t r = 0; r < z->names.len; r++) {
		const struct zc_name *n = &NAMES(z)[z->order[r]];
		struct img_name *o = &out[r];
		o->name_off = (uint32_t)data;
		o->name_len = n->len;
		o->labels = n->labels;
		o->flags = n->flags;
		o->parent = n->parent == ZC_NONE ? IMG_NONE : NAMES(z)[n->parent].rank;
		o->wildcard = n->wildcard == ZC_NONE ? IMG_NONE : NAMES(z)[n->wildcard].rank;
		o->rrset_first = n->set_count ? n->set_first : 0;
		o->rrset_count = n->set_count;
		o->hash = n->hash;
		o->denial = n->denial;
		o->wild_denial = n->wild_denial;
		memcpy(buf + data, WIRE(z, n), n->len);
		data += n->len;
		uint32_t i = n->hash & mask;
		while (slots[i].name != IMG_NONE)
			i = (i + 1) & mask;
		slots[i].hash = n->hash;
		slots[i].name = r;
	}
	return data;
}

/* NSEC3 table and its owner names in DATA; returns the DATA cursor. */
static uint64_t zc_put_chain(const struct zonec_zone *z, const struct zc_layout *l,
			     uint8_t *buf, uint64_t data)
{
	struct img_nsec3 *out = (struct img_nsec3 *)(buf + l->off[IMG_SEC_NSEC3]);

	for (size_t i = 0; i < z->chain.len; i++) {
		memcpy(out[i].hash, CHAIN(z)[i].hash, NSEC3_HASH_LEN);
		out[i].owner_off = (uint32_t)data;
		out[i].owner_len = (uint8_t)zc_n3owner(z, CHAIN(z)[i].hash, buf + data);
		out[i].rrset = (uint32_t)(z->sets.len + i);
		data += out[i].owner_len;
	}
	return data;
}

/* One RR as { u16 rdlen, rdata } at buf[data]; returns the cursor after it. */
static uint64_t zc_put_rr(const struct zonec_zone *z, const struct zc_rr *r, uint8_t *buf,
			  uint64_t data)
{
	buf[data] = (uint8_t)(r->rdlen >> 8);
	buf[data + 1] = (uint8_t)r->rdlen;
	memcpy(buf + data + 2, RDATA(z, r), r->rdlen);
	return data + 2 + r->rdlen;
}

/* The RRsets of every name, rdata runs in RRSETS order; returns the DATA cursor. */
static uint64_t zc_put_rrsets(const struct zonec_zone *z, const struct zc_layout *l,
			      uint8_t *buf, uint64_t data)
{
	struct img_rrset *out = (struct img_rrset *)(buf + l->off[IMG_SEC_RRSETS]);

	for (size_t i = 0; i < z->sets.len; i++) {
		const struct zc_set *s = &SETS(z)[i];
		out[i].type = s->type;
		out[i].count = s->count;
		out[i].ttl = s->ttl;
		out[i].rdata_off = (uint32_t)data;
		for (uint32_t k = s->first; k < s->first + s->count; k++)
			data = zc_put_rr(z, &RRS(z)[k], buf, data);
		out[i].rdata_len = (uint32_t)(data - out[i].rdata_off);
	}
	return data;
}

/*
 * sig_* of one name's RRsets [first, first + count): its RRSIG RRset is sorted by rdata,
 * hence by type covered, like the RRsets by type: one merge walk.
 */
static void zc_put_sigs(const struct zonec_zone *z, struct img_rrset *out, uint32_t first,
			uint16_t count)
{
	uint32_t end = first + count, t = first, sig = first;

	while (sig < end && SETS(z)[sig].type != DNS_T_RRSIG)
		sig++;
	if (sig == end)
		return;
	const struct zc_set *ss = &SETS(z)[sig];
	uint32_t kend = ss->first + ss->count;
	uint64_t off = out[sig].rdata_off;
	for (uint32_t k = ss->first; k < kend;) {
		uint16_t covered = dns_get16(RDATA(z, &RRS(z)[k]));
		uint64_t start = off;
		uint32_t ttl = UINT32_MAX;
		uint16_t n = 0;
		for (; k < kend && dns_get16(RDATA(z, &RRS(z)[k])) == covered; k++) {
			off += 2 + (uint64_t)RRS(z)[k].rdlen;
			ttl = RRS(z)[k].ttl < ttl ? RRS(z)[k].ttl : ttl;
			n++;
		}
		while (t < end && SETS(z)[t].type < covered)
			t++;
		if (t == end || SETS(z)[t].type != covered || covered == DNS_T_RRSIG)
			continue;	/* covers nothing here: served with the RRSIG RRset only */
		out[t].sig_off = (uint32_t)start;
		out[t].sig_len = (uint32_t)(off - start);
		out[t].sig_count = n;
		out[t].sig_ttl = ttl;
	}
}

/* The NSEC3 RRsets after those of the names: each RR, then the RRSIGs covering it. */
static void zc_put_chain_sets(const struct zonec_zone *z, const struct zc_layout *l,
			      uint8_t *buf, uint64_t data)
{
	struct img_rrset *out = (struct img_rrset *)(buf + l->off[IMG_SEC_RRSETS]) + z->sets.len;

	for (size_t i = 0; i < z->links.len; i++) {
		const struct zc_link *k = &LINKS(z)[i];
		const struct zc_rr *r = &N3RRS(z)[k->rr].rr;
		out[i].type = DNS_T_NSEC3;
		out[i].count = 1;
		out[i].ttl = r->ttl;
		out[i].rdata_off = (uint32_t)data;
		data = zc_put_rr(z, r, buf, data);
		out[i].rdata_len = (uint32_t)(data - out[i].rdata_off);
		if (k->sig_count == 0)
			continue;
		out[i].sig_off = (uint32_t)data;
		for (uint32_t s = k->sig_first; s < k->sig_first + k->sig_count; s++)
			data = zc_put_rr(z, &N3RRS(z)[s].rr, buf, data);
		out[i].sig_len = (uint32_t)(data - out[i].sig_off);
		out[i].sig_count = k->sig_count;
		out[i].sig_ttl = k->sig_ttl;
	}
}

/* Write the image of layout l into buf (l->size zero bytes), checksum last. */
static void zc_fill(const struct zonec_zone *z, const struct zc_layout *l, uint8_t *buf)
{
	zc_put_header(z, l, buf);
	/* DATA: owner names, NSEC3 owners, the names' rdata, the NSEC3 rdata and RRSIGs */
	uint64_t data = zc_put_chain(z, l, buf, zc_put_names(z, l, buf));
	data = zc_put_rrsets(z, l, buf, data);
	struct img_rrset *sets = (struct img_rrset *)(buf + l->off[IMG_SEC_RRSETS]);
	for (size_t i = 0; i < z->names.len; i++)
		zc_put_sigs(z, sets, NAMES(z)[i].set_first, NAMES(z)[i].set_count);
	zc_put_chain_sets(z, l, buf, data);
	uint32_t crc = img_checksum(buf, l->size);
	memcpy(buf + offsetof(struct img_header, checksum), &crc, sizeof(crc));
}

int zonec_build(const struct zonec_zone *z, uint8_t **img, size_t *len)
{
	struct zc_layout l;
	int rc = zc_layout(z, &l);

	*img = NULL;
	if (rc < 0)
		return rc;
	uint8_t *buf = calloc(1, l.size);
	if (!buf)
		return PHAROS_ENOMEM;
	zc_fill(z, &l, buf);
	*img = buf;
	*len = l.size;
	return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len);

int zonec_build_fd(const struct zonec_zone *z, int fd, size_t *len)
{
	struct zc_layout l;
	int rc = zc_layout(z, &l);

	*len = 0;
	if (rc < 0)
		return rc;
	if (fallocate(fd, 0, 0, (off_t)l.size) < 0) {
		if (errno != EOPNOTSUPP && errno != ENOSYS)
			return PHAROS_EIO;
		/* a file system without fallocate: a buffer and write(), never a sparse map */
		uint8_t *buf = NULL;
		if ((rc = zonec_build(z, &buf, len)) == 0 && write_all(fd, buf, *len) < 0)
			rc = PHAROS_EIO;
		free(buf);
		return rc;
	}
	/* the blocks are allocated: writing through the map cannot fail for want of space */
	void *map = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return PHAROS_EIO;
	zc_fill(z, &l, map);
	munmap(map, l.size);
	*len = l.size;
	return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int zonec_write_file(const char *path, const uint8_t *buf, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
	int fd, rc, made = 0;

	if (!tmp)
		return PHAROS_ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	made = 1;
	/* readable by a dataplane running as another user; images hold no secrets */
	if (fchmod(fd, 0644) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		goto fail;
	rc = close(fd);
	fd = -1;
	if (rc < 0 || rename(tmp, path) < 0)
		goto fail;
	made = 0;
	if (sync_dir(path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	rc = errno;
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	free(tmp);
	errno = rc;
	return PHAROS_EIO;
}

int zonec_build_file(const char *file, const char *origin, zonec_report_fn report, void *ctx,
		     uint8_t **img, size_t *len, uint32_t *serial)
{
	struct zonec_zone *z = NULL;
	int rc = zonec_load(file, origin, report, ctx, &z);

	if (rc < 0)
		return rc;
	if (serial)
		*serial = zonec_serial(z);
	rc = zonec_build(z, img, len);
	zonec_free(z);
	return rc;
}

int zonec_compile_file(const char *file, const char *origin, const char *out_path,
		       zonec_report_fn report, void *ctx, uint32_t *serial)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = zonec_build_file(file, origin, report, ctx, &buf, &len, serial);

	if (rc == 0)
		rc = zonec_write_file(out_path, buf, len);
	free(buf);
	return rc;
}
