/* Zone compiler: zone file (ldns) -> checked, sorted zone -> image v1 bytes -> file (atomic). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <ldns/ldns.h>
#include <zlib.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "dns.h"
#include "zonec.h"

#define ZC_TTL_MIN	60u		/* below: warning */
#define ZC_TTL_MAX	604800u		/* 7 days; above: warning */
#define ZC_TTL_DEFAULT	3600u		/* when the file has no $TTL and an RR no TTL */
#define ZC_NONE		UINT32_MAX

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

/* One RRset after sorting and dedupe: rrs [first, first + count) of zone->rrs. */
struct zc_set {
	uint32_t first;
	uint32_t ttl;
	uint16_t count;
	uint16_t type;
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
	uint32_t *map;		/* name ids by hash, open addressing, ZC_NONE = empty */
	uint32_t map_mask;
	uint32_t *order;	/* name ids in canonical order */
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
		uint32_t id = z->map[i];
		if (id == ZC_NONE)
			return ZC_NONE;
		const struct zc_name *n = &NAMES(z)[id];
		if (n->hash == h && n->len == len && memcmp(WIRE(z, n), w, len) == 0)
			return id;
	}
}

static void map_put(struct zonec_zone *z, uint32_t id)
{
	uint32_t i = NAMES(z)[id].hash & z->map_mask;

	while (z->map[i] != ZC_NONE)
		i = (i + 1) & z->map_mask;
	z->map[i] = id;
}

/* Double the map and insert every name again. */
static int map_rebuild(struct zonec_zone *z, size_t slots)
{
	if (slots > (size_t)UINT32_MAX + 1)
		return PHAROS_ELIMIT;
	uint32_t *m = malloc(slots * sizeof(*m));
	if (!m)
		return PHAROS_ENOMEM;
	memset(m, 0xff, slots * sizeof(*m));
	free(z->map);
	z->map = m;
	z->map_mask = (uint32_t)(slots - 1);
	for (uint32_t id = 0; id < z->names.len; id++)
		map_put(z, id);
	return 0;
}

static int name_add(struct zonec_zone *z, const uint8_t *w, size_t len, uint32_t h,
		    uint32_t parent, uint32_t *id)
{
	struct zc_name n = { .hash = h, .parent = parent, .wildcard = ZC_NONE,
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
	if (z->names.len * 2 > slots)	/* keep the map at most half full */
		return map_rebuild(z, slots * 2);
	map_put(z, *id);
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

/* Append the RR's rdata (wire form, as parsed) to the arena and the RR to the list. */
static int zc_store(struct zonec_zone *z, const ldns_rr *rr, uint32_t name, int line)
{
	struct zc_rr r = { .rdoff = z->rdata.len, .name = name, .line = (uint32_t)line,
			   .ttl = ldns_rr_ttl(rr), .type = (uint16_t)ldns_rr_get_type(rr) };
	size_t total = 0;

	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (total > UINT16_MAX) {
		zc_report(z, ZONEC_ERROR, line, "rdata longer than 65535 octets");
		return 0;
	}
	if (vec_reserve(&z->rdata, 1, total) < 0)
		return PHAROS_ENOMEM;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		vec_append(&z->rdata, 1, ldns_rdf_data(f), ldns_rdf_size(f));
	}
	r.rdlen = (uint16_t)total;
	return vec_append(&z->rrs, sizeof(r), &r, 1);
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

static int cmp_names(const void *a, const void *b, void *arg)
{
	const struct zonec_zone *z = arg;
	const struct zc_name *x = &NAMES(z)[*(const uint32_t *)a];
	const struct zc_name *y = &NAMES(z)[*(const uint32_t *)b];

	return dname_canon_cmp(WIRE(z, x), WIRE(z, y));
}

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

static int zc_sort_names(struct zonec_zone *z)
{
	size_t n = z->names.len;

	z->order = malloc(n * sizeof(*z->order));
	if (!z->order)
		return PHAROS_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		z->order[i] = i;
	qsort_r(z->order, n, sizeof(*z->order), cmp_names, z);
	for (uint32_t i = 0; i < n; i++)
		NAMES(z)[z->order[i]].rank = i;
	return 0;
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

/* Sort RRs into image order and group them into RRsets. */
static int zc_group(struct zonec_zone *z)
{
	struct zc_rr *rr = RRS(z);
	size_t n = z->rrs.len, out = 0;

	qsort_r(rr, n, sizeof(*rr), cmp_rrs, z);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && rr[j].name == rr[i].name && rr[j].type == rr[i].type; j++)
			;
		int rc = zc_make_set(z, i, j - i, &out);
		if (rc < 0)
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

/* After parsing: refuse, or sort and group into the form zonec_build() lays out. */
static int zc_finish(struct zonec_zone *z)
{
	int rc;

	if (!z->soa_line)
		zc_report(z, ZONEC_ERROR, 0, "no SOA record at the zone apex");
	if (z->errors)
		return z->syntax_errors ? PHAROS_ESYNTAX : PHAROS_EZONE;
	if ((rc = zc_sort_names(z)) < 0 || (rc = zc_group(z)) < 0)
		return rc;
	zc_flags(z);
	if (!zc_has_type(z, &NAMES(z)[0], DNS_T_NS))
		zc_report(z, ZONEC_WARNING, 0, "no NS records at the zone apex");
	return 0;
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

static int zc_layout(const struct zonec_zone *z, struct zc_layout *l)
{
	uint64_t at = sizeof(struct img_header);

	memset(l, 0, sizeof(*l));
	l->slots = 2;
	while (l->slots < 2 * z->names.len)
		l->slots *= 2;
	l->len[IMG_SEC_NAMES] = z->names.len * sizeof(struct img_name);
	l->len[IMG_SEC_HASH] = l->slots * sizeof(struct img_slot);
	l->len[IMG_SEC_RRSETS] = z->sets.len * sizeof(struct img_rrset);
	/* owner names, then every RR as { u16 rdlen, rdata }; rdata arena has no dups left */
	l->len[IMG_SEC_DATA] = z->wire.len + 2 * (uint64_t)z->rrs.len;
	for (size_t i = 0; i < z->rrs.len; i++)
		l->len[IMG_SEC_DATA] += RRS(z)[i].rdlen;
	for (int s = IMG_SEC_NAMES; s <= IMG_SEC_DATA; s++) {
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
				.rrset_count = (uint32_t)z->sets.len,
				.hash_slots = (uint32_t)l->slots, .origin_name = 0,
				.compiled_at = (uint32_t)time(NULL) };

	memcpy(h.magic, IMG_MAGIC, sizeof(h.magic));
	for (int s = IMG_SEC_NAMES; s <= IMG_SEC_DATA; s++) {
		h.sec[s].off = (uint32_t)l->off[s];
		h.sec[s].len = (uint32_t)l->len[s];
	}
	const struct zc_name *apex = &NAMES(z)[z->order[0]];
	for (uint16_t i = 0; i < apex->set_count; i++)
		if (SETS(z)[apex->set_first + i].type == DNS_T_SOA)
			h.soa_rrset = apex->set_first + i;
	memcpy(buf, &h, sizeof(h));
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

static void zc_put_rrsets(const struct zonec_zone *z, const struct zc_layout *l, uint8_t *buf,
			  uint64_t data)
{
	struct img_rrset *out = (struct img_rrset *)(buf + l->off[IMG_SEC_RRSETS]);

	for (size_t i = 0; i < z->sets.len; i++) {
		const struct zc_set *s = &SETS(z)[i];
		out[i].type = s->type;
		out[i].count = s->count;
		out[i].ttl = s->ttl;
		out[i].rdata_off = (uint32_t)data;
		for (uint32_t k = s->first; k < s->first + s->count; k++) {
			const struct zc_rr *r = &RRS(z)[k];
			buf[data] = (uint8_t)(r->rdlen >> 8);
			buf[data + 1] = (uint8_t)r->rdlen;
			memcpy(buf + data + 2, RDATA(z, r), r->rdlen);
			data += 2 + (uint64_t)r->rdlen;
		}
		out[i].rdata_len = (uint32_t)(data - out[i].rdata_off);
	}
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
	zc_put_header(z, &l, buf);
	zc_put_rrsets(z, &l, buf, zc_put_names(z, &l, buf));
	uint32_t crc = (uint32_t)crc32_z(0, buf + IMG_CSUM_START, l.size - IMG_CSUM_START);
	memcpy(buf + offsetof(struct img_header, checksum), &crc, sizeof(crc));
	*img = buf;
	*len = l.size;
	return 0;
}

/* ---------------- public: write ---------------- */

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

int zonec_compile_file(const char *file, const char *origin, const char *out_path,
		       zonec_report_fn report, void *ctx, uint32_t *serial)
{
	struct zonec_zone *z = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = zonec_load(file, origin, report, ctx, &z);

	if (rc < 0)
		return rc;
	if (serial)
		*serial = zonec_serial(z);
	rc = zonec_build(z, &buf, &len);
	if (rc == 0)
		rc = zonec_write_file(out_path, buf, len);
	free(buf);
	zonec_free(z);
	return rc;
}
