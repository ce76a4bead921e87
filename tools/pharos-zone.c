/* pharos-zone: offline check / compile of zone files and dump of zone images. */
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
#include "zonec.h"

#define EXIT_USAGE	2

struct opts {
	const char *cmd;
	const char *file;
	const char *origin;
	const char *out;
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
		"\n"
		"check    parse and check a zone file; exit 1 if it would be refused\n"
		"compile  check, then write the zone image atomically (refused on errors)\n"
		"dump     verify an image, then print it in zone-file form\n");
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
		else if (a[0] == '-' && a[1] != '\0')
			return -1;
		else if (!o->file)
			o->file = a;
		else
			return -1;
	}
	if (!o->file)
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
					     "ENT", "CNAME", "NSEC3_COVERED" };
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
	printf("; Pharos zone image %s\n", path);
	printf("; origin %s, version %u, serial %u, compiled %s\n", origin, h->version,
	       h->serial, when);
	printf("; %llu bytes, checksum 0x%08x, %u names, %u RRsets, %llu records, "
	       "%u hash slots, %u prebuilt bytes\n", (unsigned long long)h->file_size,
	       h->checksum, h->name_count, h->rrset_count,
	       (unsigned long long)record_count(img), h->hash_slots,
	       h->sec[IMG_SEC_PREBUILT].len);
	print_denial(img);
}

/* Every RR of a run of count x { u16 rdlen, rdata } at p, all with one TTL. */
static void print_run(const uint8_t *owner, size_t olen, uint16_t type, uint32_t ttl,
		      const uint8_t *p, uint16_t count)
{
	for (uint16_t k = 0; k < count; k++) {
		uint16_t rdlen = (uint16_t)(p[0] << 8 | p[1]);
		print_rr(owner, olen, type, ttl, p + 2, rdlen);
		p += 2 + (size_t)rdlen;
	}
}

/*
 * TTL to print an RRSIG at file offset off with: that of the signatures of the RRset it
 * covers (sig_ttl), so that compiling the dump gives the same sig_ttl; the RRSIG
 * RRset's own TTL for a signature that covers no RRset of the name.
 */
static uint32_t sig_ttl(const struct img *img, const struct img_name *n,
			const struct img_rrset *sigs, size_t off, uint16_t covered)
{
	const struct img_rrset *rs = img_rrset(img, n, covered);

	if (rs && rs->sig_count && off >= rs->sig_off && off < (size_t)rs->sig_off + rs->sig_len)
		return rs->sig_ttl;
	return sigs->ttl;
}

/* The RRSIG RRset of a name, each signature with the TTL of what it covers. */
static void print_sigs(const struct img *img, const struct img_name *n,
		       const struct img_rrset *rs)
{
	const uint8_t *p = img_rdata(img, rs);

	for (uint16_t k = 0; k < rs->count; k++) {
		uint16_t rdlen = (uint16_t)(p[0] << 8 | p[1]);
		uint32_t ttl = sig_ttl(img, n, rs, (size_t)(p - img->base),
				       (uint16_t)(p[2] << 8 | p[3]));
		print_rr(img_name_wire(img, n), n->name_len, rs->type, ttl, p + 2, rdlen);
		p += 2 + (size_t)rdlen;
	}
}

static void print_name(const struct img *img, const struct img_name *n)
{
	print_flags(img, n);
	for (uint32_t j = n->rrset_first; j < n->rrset_first + n->rrset_count; j++) {
		const struct img_rrset *rs = &img->rrsets[j];
		if (rs->type == DNS_T_RRSIG)
			print_sigs(img, n, rs);
		else
			print_run(img_name_wire(img, n), n->name_len, rs->type, rs->ttl,
				  img_rdata(img, rs), rs->count);
	}
}

/* The NSEC3 chain (not names of the zone: kept apart), each record with its RRSIGs. */
static void print_chain(const struct img *img)
{
	if (img->nsec3_count)
		printf("; NSEC3 chain, in hash order\n");
	for (uint32_t i = 0; i < img->nsec3_count; i++) {
		const struct img_nsec3 *e = &img->nsec3[i];
		const struct img_rrset *rs = &img->rrsets[e->rrset];
		const uint8_t *owner = img->base + e->owner_off;
		print_run(owner, e->owner_len, rs->type, rs->ttl, img_rdata(img, rs), rs->count);
		print_run(owner, e->owner_len, DNS_T_RRSIG, rs->sig_ttl, img_sigs(img, rs),
			  rs->sig_count);
	}
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
	for (uint32_t i = 0; i < img->name_count; i++)
		print_name(img, &img->names[i]);
	print_chain(img);
	img_close(img);
	return fflush(stdout) == 0 ? 0 : 1;
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
	return cmd_dump(&o);
}
