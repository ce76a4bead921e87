/*
 * zdiff-bench: what an IXFR of one record costs on a big zone (control/zdiff.c), next to
 * compiling the zone whole. Not a test: prints times.
 *
 *   zdiff-bench [RECORDS] [CHANGES]     default 1000000 records, 5 changes
 *
 * Writes big.test. (RECORDS A records "hI.big.test.", plus SOA and NS) to a temp dir,
 * compiles it (timed), then applies CHANGES single-record IXFRs one after the other, each
 * over base + the delta the previous one made (as pharos-control does), timing zdiff_apply
 * alone and with writing the delta file (fsync). The first change also maps and verifies
 * the base (cold); the others reuse it. Then the compaction (base + delta -> full image).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ldns/ldns.h>
#include "zdiff.h"
#include "zonec.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void quiet(void *ctx, enum zonec_severity sev, const char *f, int l, const char *w)
{
	(void)ctx; (void)sev; (void)f; (void)l; (void)w;
}

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;

	if (ldns_rr_new_frm_str(&r, text, 3600, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "cannot parse %s\n", text);
		exit(1);
	}
	return r;
}

static void soa(char *buf, size_t cap, unsigned serial)
{
	snprintf(buf, cap, "big.test. 3600 IN SOA ns1.big.test. host.big.test. %u 7200 3600 "
		 "1209600 300", serial);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned records = argc > 1 ? (unsigned)atoi(argv[1]) : 1000000;
	unsigned changes = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	char dir[] = "/tmp/zdiff-bench-XXXXXX", zone[600], base[600], delta[600], line[256];
	double apply[64], total[64], t0;
	FILE *f;

	if (changes == 0 || changes > 64 || !mkdtemp(dir))
		return 2;
	snprintf(zone, sizeof(zone), "%s/big.test.zone", dir);
	snprintf(base, sizeof(base), "%s/big.test.1.img", dir);
	if (!(f = fopen(zone, "w")))
		return 1;
	soa(line, sizeof(line), 1);
	fprintf(f, "%s\nbig.test. 3600 IN NS ns1.big.test.\nns1.big.test. 3600 IN A 192.0.2.1\n",
		line);
	for (unsigned i = 0; i < records; i++)
		fprintf(f, "h%u.big.test. 3600 IN A 198.18.%u.%u\n", i, (i >> 8) & 255, i & 255);
	fclose(f);
	t0 = now_ms();
	if (zonec_compile_file(zone, "big.test.", base, quiet, NULL, NULL) < 0)
		return 1;
	printf("zone of %u records: full compile (parse + build + write) %.0f ms\n", records,
	       now_ms() - t0);

	for (unsigned c = 0; c < changes; c++) {
		struct xfr_diff d = { .from = 1 + c, .to = 2 + c, .del = ldns_rr_list_new(),
				      .add = ldns_rr_list_new() };
		struct zdiff_out out;
		char text[256];

		soa(text, sizeof(text), 1 + c);
		ldns_rr_list_push_rr(d.del, rr(text));
		soa(text, sizeof(text), 2 + c);
		ldns_rr_list_push_rr(d.add, rr(text));
		snprintf(text, sizeof(text), "new%u.big.test. 3600 IN A 192.0.2.%u", c, c);
		ldns_rr_list_push_rr(d.add, rr(text));
		t0 = now_ms();
		if (zdiff_apply("big.test.", base, c ? delta : NULL, &d, 1, &out) < 0) {
			fprintf(stderr, "zdiff_apply: %s\n", out.err);
			return 1;
		}
		apply[c] = now_ms() - t0;
		snprintf(delta, sizeof(delta), "%s/big.test.%u.delta", dir, 2 + c);
		if (zonec_write_file(delta, out.img, out.len) < 0)
			return 1;
		total[c] = now_ms() - t0;
		printf("change %u: zdiff_apply %.2f ms, + write %.2f ms: %s image of %zu bytes "
		       "(%u names)\n", c + 1, apply[c], total[c], out.is_delta ? "delta" : "full",
		       out.len, out.delta_names);
		free(out.img);
		ldns_rr_list_deep_free(d.del);
		ldns_rr_list_deep_free(d.add);
	}
	if (changes > 2) {	/* the warm ones: the base already mapped and verified */
		qsort(apply + 1, changes - 1, sizeof(double), cmp_double);
		qsort(total + 1, changes - 1, sizeof(double), cmp_double);
		printf("warm (changes 2..%u): zdiff_apply median %.2f ms, max %.2f ms; with the "
		       "write median %.2f ms, max %.2f ms\n", changes, apply[1 + (changes - 1) / 2],
		       apply[changes - 1], total[1 + (changes - 1) / 2], total[changes - 1]);
	}
	struct zdiff_out out;
	t0 = now_ms();
	if (zdiff_compact("big.test.", base, delta, &out) < 0) {
		fprintf(stderr, "zdiff_compact: %s\n", out.err);
		return 1;
	}
	printf("compaction (base + delta -> full image) %.0f ms, %zu bytes\n", now_ms() - t0,
	       out.len);
	free(out.img);
	snprintf(line, sizeof(line), "rm -rf '%s'", dir);
	return system(line) == 0 ? 0 : 1;
}
