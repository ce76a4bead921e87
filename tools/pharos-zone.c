/* pharos-zone: offline check / compile of zone files, dump of zone images, IXFR apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ldns/ldns.h>
#include "pharos/err.h"
#include "pharos/image.h"
#include "dname.h"
#include "dns.h"
#include "img.h"
#include "zdiff.h"
#include "zonec.h"

#define EXIT_USAGE	2

struct opts {
	const char *cmd;
	const char *file;
	const char *origin;
	const char *out;
	const char *ixfr;	/* apply: the IXFR (RFC 1995 form) */
	const char *delta;	/* apply: the delta served over the base, if any */
};

/* Counts findings while printing them like a compiler does. */
struct tally {
	int warnings, errors;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pharos-zone check FILE --origin NAME\n"
		"       pharos-zone compile FILE --origin NAME -o IMAGE\n"
		"       pharos-zone dump IMAGE\n"
		"       pharos-zone apply BASE [--delta DELTA] --origin NAME --ixfr FILE -o OUT\n"
		"\n"
		"check    parse and check a zone file; exit 1 if it would be refused\n"
		"compile  check, then write the zone image atomically (refused on errors)\n"
		"dump     verify an image, then print it in zone-file form\n"
		"apply    apply an IXFR to BASE (+ DELTA) as pharos-control does: writes a\n"
		"         delta image over BASE, or a full image (doc/zone-image.md)\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	if (argc < 2)
		return -1;
	o->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--origin") == 0 && i + 1 < argc)
			o->origin = argv[++i];
		else if (strncmp(a, "--origin=", 9) == 0)
			o->origin = a + 9;
		else if (strcmp(a, "-o") == 0 && i + 1 < argc)
			o->out = argv[++i];
		else if (strcmp(a, "--ixfr") == 0 && i + 1 < argc)
			o->ixfr = argv[++i];
		else if (strcmp(a, "--delta") == 0 && i + 1 < argc)
			o->delta = argv[++i];
		else if (a[0] == '-' && a[1] != '\0')
			return -1;
		else if (!o->file)
			o->file = a;
		else
			return -1;
	}
	if (!o->file)
		return -1;
	if (strcmp(o->cmd, "apply") == 0)
		return o->origin && o->out && o->ixfr ? 0 : -1;
	if (o->ixfr || o->delta)
		return -1;
	if (strcmp(o->cmd, "dump") == 0)
		return o->origin || o->out ? -1 : 0;
	if (strcmp(o->cmd, "check") == 0)
		return o->origin && !o->out ? 0 : -1;
	if (strcmp(o->cmd, "compile") == 0)
		return o->origin && o->out ? 0 : -1;
	return -1;
}

static void report(void *ctx, enum zonec_severity sev, const char *file, int line,
		   const char *what)
{
	struct tally *t = ctx;

	if (sev == ZONEC_ERROR)
		t->errors++;
	else
		t->warnings++;
	zonec_report_stderr(NULL, sev, file, line, what);
}

static const char *origin_text(const char *origin, char *buf, size_t cap)
{
	uint8_t w[DNAME_MAX];
	size_t len;

	if (dname_from_text(origin, NULL, 0, w, &len) < 0 || dname_to_text(w, buf, cap) < 0)
		snprintf(buf, cap, "%s", origin);
	return buf;
}

static uint64_t record_count(const struct img *img)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < img->rrset_count; i++)
		n += img->rrsets[i].count;
	for (uint32_t i = 0; i < img->nsec3_count; i++)	/* not in an RRSIG RRset */
		n += img->rrsets[img->nsec3[i].rrset].sig_count;
	return n;
}

/* Load, build in memory and verify what was built; *img owns *buf. */
static int load_and_build(const struct opts *o, struct tally *t, uint32_t *serial,
			  struct img **img)
{
	struct zonec_zone *z = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int rc = zonec_load(o->file, o->origin, report, t, &z);

	if (rc < 0)
		return rc;
	*serial = zonec_serial(z);
	rc = zonec_build(z, &buf, &len);
	zonec_free(z);
	if (rc < 0)
		return rc;
	rc = img_open_mem(buf, len, 1, img, err, sizeof(err));
	if (rc < 0) {
		/* a compiler bug, not a zone problem: say so loudly */
		fprintf(stderr, "%s: internal error: built image fails verification: %s\n",
			o->file, err);
		free(buf);
	}
	return rc;
}

static void summary(const struct opts *o, const struct tally *t, uint32_t serial,
		    const struct img *img)
{
	char name[DNAME_TXT_MAX];

	origin_text(o->origin, name, sizeof(name));
	if (!img) {
		printf("%s: zone refused, %d error%s, %d warning%s\n", name, t->errors,
		       t->errors == 1 ? "" : "s", t->warnings, t->warnings == 1 ? "" : "s");
		return;
	}
	printf("%s: serial %u, %llu records, %d warning%s\n", name, serial,
	       (unsigned long long)record_count(img), t->warnings, t->warnings == 1 ? "" : "s");
}

static int cmd_check(const struct opts *o)
{
	struct tally t = { 0, 0 };
	struct img *img = NULL;
	uint32_t serial = 0;
	int rc = load_and_build(o, &t, &serial, &img);

	if (rc < 0 && t.errors == 0)
		fprintf(stderr, "%s: %s\n", o->file, pharos_strerror(rc));
	summary(o, &t, serial, rc < 0 ? NULL : img);
	img_close(img);
	return rc < 0 ? 1 : 0;
}

static int cmd_compile(const struct opts *o)
{
	struct tally t = { 0, 0 };
	struct img *img = NULL;
	uint32_t serial = 0;
	int rc = load_and_build(o, &t, &serial, &img);

	if (rc < 0) {
		if (t.errors == 0)
			fprintf(stderr, "%s: %s\n", o->file, pharos_strerror(rc));
		summary(o, &t, serial, NULL);
		return 1;
	}
	summary(o, &t, serial, img);
	rc = zonec_write_file(o->out, img->base, img->size);
	if (rc < 0)
		fprintf(stderr, "%s: cannot write: %m\n", o->out);
	else
		printf("wrote %s (%zu bytes)\n", o->out, img->size);
	img_close(img);
	return rc < 0 ? 1 : 0;
}

/* ---- dump ---- */

/* One RR in presentation form via ldns; \# generic form if ldns cannot parse it. */
static void print_rr(const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		     const uint8_t *rd, uint16_t rdlen)
{
	static uint8_t wire[DNAME_MAX + 10 + 65535];
	ldns_rr *rr = NULL;
	size_t pos = 0, n = olen;

	memcpy(wire, owner, olen);
	wire[n++] = (uint8_t)(type >> 8);
	wire[n++] = (uint8_t)type;
	wire[n++] = 0;
	wire[n++] = 1;			/* class IN */
	for (int s = 24; s >= 0; s -= 8)
		wire[n++] = (uint8_t)(ttl >> s);
	wire[n++] = (uint8_t)(rdlen >> 8);
	wire[n++] = (uint8_t)rdlen;
	memcpy(wire + n, rd, rdlen);
	n += rdlen;
	char name[DNAME_TXT_MAX];
	dname_to_text(owner, name, sizeof(name));
	if (ldns_wire2rr(&rr, wire, n, &pos, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK && pos == n) {
		/* ldns leaves '$' and '@' in owners unescaped: print our own owner text */
		char *s = ldns_rr2str(rr), *tab = s ? strchr(s, '\t') : NULL;
		if (tab)
			printf("%s%s", name, tab);
		free(s);
		ldns_rr_free(rr);
		return;
	}
	ldns_rr_free(rr);
	printf("%s\t%u\tIN\tTYPE%u\t\\# %u ", name, ttl, type, rdlen);
	for (uint16_t i = 0; i < rdlen; i++)
		printf("%02x", rd[i]);
	printf("\n");
}

static void print_flags(const struct img *img, const struct img_name *n)
{
	static const char *const names[] = { "APEX", "DELEG", "UNDER_CUT", "WILDCARD",
					     "ENT", "CNAME", "NSEC3_COVERED", "TOMBSTONE" };
	char txt[DNAME_TXT_MAX];

	if (!n->flags)
		return;
	dname_to_text(img_name_wire(img, n), txt, sizeof(txt));
	printf("; %s", txt);
	for (unsigned b = 0; b < sizeof(names) / sizeof(names[0]); b++)
		if (n->flags & (1u << b))
			printf(" %s", names[b]);
	printf("\n");
}

/* "; denial NSEC3: hash 1, flags 0, 12 iterations, salt aabbccdd, 12 records" and the like. */
static void print_denial(const struct img *img)
{
	static const char *const kinds[] = { "none (unsigned)", "NSEC", "NSEC3" };
	const struct img_nsec3param *p = img->nsec3param;

	if (img->denial != IMG_DENIAL_NSEC3) {
		printf("; denial %s\n", kinds[img->denial]);
		return;
	}
	printf("; denial NSEC3: hash %u, flags %u, %u iterations, salt ", p->alg, p->flags,
	       p->iterations);
	if (p->salt_len == 0)
		printf("-");
	for (unsigned i = 0; i < p->salt_len; i++)
		printf("%02x", p->salt[i]);
	printf(", %u records\n", img->nsec3_count);
}

static void print_header(const char *path, const struct img *img)
{
	const struct img_header *h = img->hdr;
	char origin[DNAME_TXT_MAX];
	time_t at = (time_t)h->compiled_at;
	char when[64];

	dname_to_text(img->origin, origin, sizeof(origin));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
	printf("; Pharos zone %s %s\n", img_is_delta(img) ? "delta image" : "image", path);
	printf("; origin %s, version %u, serial %u, compiled %s\n", origin, h->version,
	       h->serial, when);
	if (img_is_delta(img))
		printf("; delta over the base image of serial %u (checksum 0x%08x): the names "
		       "below replace the base's; TOMBSTONE: the name no longer exists\n",
		       h->base_serial, h->base_checksum);
	printf("; %llu bytes, checksum 0x%08x, %u names, %u RRsets, %llu records, "
	       "%u hash slots, %u prebuilt bytes\n", (unsigned long long)h->file_size,
	       h->checksum, h->name_count, h->rrset_count,
	       (unsigned long long)record_count(img), h->hash_slots,
	       h->sec[IMG_SEC_PREBUILT].len);
	print_denial(img);
}

/* img_rr_fn: one RR of the walk in zone-file form. */
static int print_walked(void *ctx, const struct img_rr *rr)
{
	(void)ctx;
	print_rr(rr->owner, rr->owner_len, rr->type, rr->ttl, rr->rdata, rr->rdlen);
	return 0;
}

/* The names (with a comment line for flags), then the NSEC3 chain with its RRSIGs. */
static void print_names(const struct img *img)
{
	for (uint32_t i = 0; i < img->name_count; i++) {
		print_flags(img, &img->names[i]);
		img_name_rrs(img, &img->names[i], print_walked, NULL);
	}
	if (img->nsec3_count)
		printf("; NSEC3 chain, in hash order\n");
	for (uint32_t i = 0; i < img->nsec3_count; i++)
		img_chain_rr(img, i, print_walked, NULL);
}

static int cmd_dump(const struct opts *o)
{
	struct img *img = NULL;
	char err[512];
	int rc = img_open_file(o->file, &img, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "%s: refused: %s\n", o->file, err);
		return 1;
	}
	print_header(o->file, img);
	print_names(img);
	img_close(img);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- apply ---- */

/* Every record of an IXFR file (zone-file syntax, as dig +onesoa=no prints it). */
static int read_ixfr(const char *path, ldns_rr_list **out)
{
	FILE *f = fopen(path, "r");
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 0, rc = 0;

	*out = NULL;
	if (!f) {
		fprintf(stderr, "%s: %m\n", path);
		return -1;
	}
	*out = ldns_rr_list_new();
	while (!feof(f)) {
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st != LDNS_STATUS_OK) {
			if (feof(f))
				break;
			fprintf(stderr, "%s:%d: %s\n", path, line, ldns_get_errorstr_by_id(st));
			rc = -1;
			break;
		}
		ldns_rr_list_push_rr(*out, rr);
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

static uint32_t soa_serial(const ldns_rr *rr)
{
	return ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
}

static int is_soa(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7;
}

/*
 * RFC 1995 4: SOA(new), then per sequence SOA(from), deletions, SOA(to), additions, and
 * SOA(new) last. Returns the number of sequences, or -1 (with a message) when malformed.
 */
static long split_ixfr(const char *path, const ldns_rr_list *l, struct xfr_diff **out)
{
	size_t n = ldns_rr_list_rr_count(l), i = 1, nd = 0;
	struct xfr_diff *d = NULL;

	*out = NULL;
	if (n < 3 || !is_soa(ldns_rr_list_rr(l, 0)) || !is_soa(ldns_rr_list_rr(l, n - 1))) {
		fprintf(stderr, "%s: not an IXFR: it must start and end with the new SOA\n", path);
		return -1;
	}
	uint32_t last = soa_serial(ldns_rr_list_rr(l, 0));
	while (i < n - 1) {
		struct xfr_diff *nv = realloc(d, (nd + 1) * sizeof(*d));
		if (!nv || !is_soa(ldns_rr_list_rr(l, i)))
			goto bad;
		d = nv;
		d[nd].del = ldns_rr_list_new();
		d[nd].add = ldns_rr_list_new();
		d[nd].from = soa_serial(ldns_rr_list_rr(l, i));
		ldns_rr_list_push_rr(d[nd].del, ldns_rr_clone(ldns_rr_list_rr(l, i++)));
		while (i < n - 1 && !is_soa(ldns_rr_list_rr(l, i)))
			ldns_rr_list_push_rr(d[nd].del, ldns_rr_clone(ldns_rr_list_rr(l, i++)));
		if (i >= n - 1 + (soa_serial(ldns_rr_list_rr(l, i)) == last))
			goto bad;
		d[nd].to = soa_serial(ldns_rr_list_rr(l, i));
		ldns_rr_list_push_rr(d[nd].add, ldns_rr_clone(ldns_rr_list_rr(l, i++)));
		while (i < n - 1 && !is_soa(ldns_rr_list_rr(l, i)))
			ldns_rr_list_push_rr(d[nd].add, ldns_rr_clone(ldns_rr_list_rr(l, i++)));
		nd++;
	}
	if (nd == 0 || d[nd - 1].to != last)
		goto bad;
	*out = d;
	return (long)nd;
bad:
	fprintf(stderr, "%s: malformed IXFR (RFC 1995: SOA new, then SOA from, deletions, SOA "
		"to, additions per sequence, then SOA new)\n", path);
	for (size_t k = 0; k < nd; k++) {
		ldns_rr_list_deep_free(d[k].del);
		ldns_rr_list_deep_free(d[k].add);
	}
	free(d);
	return -1;
}

static int cmd_apply(const struct opts *o)
{
	ldns_rr_list *l = NULL;
	struct xfr_diff *d = NULL;
	struct zdiff_out out;
	char name[DNAME_TXT_MAX];
	long nd = 0;
	int rc = 1;

	origin_text(o->origin, name, sizeof(name));
	if (read_ixfr(o->ixfr, &l) < 0 || (nd = split_ixfr(o->ixfr, l, &d)) < 0) {
		nd = 0;
		goto done;
	}
	if (zdiff_apply(o->origin, o->file, o->delta, d, (size_t)nd, &out) < 0) {
		fprintf(stderr, "%s: IXFR refused: %s\n", name, out.err);
		goto done;
	}
	if (zonec_write_file(o->out, out.img, out.len) < 0) {
		fprintf(stderr, "%s: cannot write: %m\n", o->out);
	} else {
		if (out.is_delta)
			printf("%s: serial %u, delta image of %u names over %s\n", name, out.serial,
			       out.delta_names, o->file);
		else
			printf("%s: serial %u, full image\n", name, out.serial);
		printf("wrote %s (%zu bytes)\n", o->out, out.len);
		rc = 0;
	}
	free(out.img);
done:
	for (long k = 0; k < nd; k++) {
		ldns_rr_list_deep_free(d[k].del);
		ldns_rr_list_deep_free(d[k].add);
	}
	free(d);
	ldns_rr_list_deep_free(l);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(o.cmd, "check") == 0)
		return cmd_check(&o);
	if (strcmp(o.cmd, "compile") == 0)
		return cmd_compile(&o);
	if (strcmp(o.cmd, "apply") == 0)
		return cmd_apply(&o);
	return cmd_dump(&o);
}
