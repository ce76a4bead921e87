/* In-process micro-benchmark of the answer engine: hits, NXDOMAIN, NODATA, cold and warmed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pharos/err.h"
#include "zonec.h"
#include "img.h"
#include "snapshot.h"
#include "dname.h"
#include "answer.h"

#define NAMES	10000		/* default zone size */
#define QUERIES	65536		/* distinct queries per kind, cycled */
#define BATCH	16		/* queries per batch in the warmed runs, as a worker's */

static int names = NAMES;

static void quiet(void *ctx, enum zonec_severity sev, const char *f, int l, const char *w)
{
	(void)ctx; (void)f; (void)l;
	if (sev == ZONEC_ERROR)
		fprintf(stderr, "answer-bench: %s\n", w);
}

static int write_zone(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return PHAROS_EIO;
	fprintf(f, "$ORIGIN bench.test.\n$TTL 3600\n"
		   "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n");
	for (int i = 0; i < names; i++)
		fprintf(f, "host%d A 198.18.%d.%d\n", i, (i >> 8) & 255, i & 255);
	return fclose(f) == 0 ? 0 : PHAROS_EIO;
}

static int load(const char *path, struct snapshot **snap)
{
	uint8_t *buf;
	size_t len;
	struct img *img;
	char err[256];
	int rc;

	if ((rc = zonec_build_file(path, "bench.test.", quiet, NULL, &buf, &len, NULL)) < 0)
		return rc;
	if ((rc = img_open_mem(buf, len, 1, &img, err, sizeof(err))) < 0) {
		fprintf(stderr, "answer-bench: %s\n", err);
		return rc;
	}
	return snap_with(NULL, snap_zone_new(img, path), snap);
}

/* A query in wire form: header (RD), name, type, class IN, OPT (payload 1232). */
static size_t make_query(const char *name, uint16_t type, uint8_t *out)
{
	size_t n;

	memset(out, 0, 12);
	out[0] = 0x12;
	out[2] = 0x01;
	out[5] = 1;
	out[11] = 1;
	if (dname_from_text(name, NULL, 0, out + 12, &n) < 0)
		abort();
	uint8_t *p = out + 12 + n;
	uint8_t tail[] = { (uint8_t)(type >> 8), (uint8_t)type, 0, 1,
			   0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
	memcpy(p, tail, sizeof(tail));
	return 12 + n + sizeof(tail);
}

struct qset {
	uint8_t q[QUERIES][64];
	size_t len[QUERIES];
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Warm a batch's lookups stage by stage, as a worker does (dataplane/worker.c). */
static void warm(const struct snapshot *snap, const struct qset *qs, unsigned k, unsigned n)
{
	struct img_warm w[BATCH];

	for (unsigned i = 0; i < n; i++)
		answer_warm(snap, qs->q[k + i], qs->len[k + i], &w[i]);
	for (unsigned stage = 0; stage < IMG_WARM_STEPS; stage++)
		for (unsigned i = 0; i < n; i++)
			img_warm_step(&w[i]);
}

/* iters queries in batches of BATCH, warmed first or not. */
static void run(const char *label, const struct snapshot *snap, const struct qset *qs,
		long iters, unsigned want_rcode, int warmed)
{
	static uint8_t out[1232];
	struct answer_info info;
	double t0 = now_ns();
	unsigned bad = 0;

	for (long i = 0; i < iters; i += BATCH) {
		unsigned k = (unsigned)i % QUERIES;

		if (warmed)
			warm(snap, qs, k, BATCH);
		for (unsigned j = k; j < k + BATCH; j++) {
			answer_query(snap, qs->q[j], qs->len[j], out, sizeof(out), ANSWER_UDP, &info);
			bad += info.rcode != want_rcode;
		}
	}
	double ns = (now_ns() - t0) / (double)iters;
	printf("%-9s %-6s %8.1f ns/query %12.0f queries/s%s\n", label, warmed ? "warmed" : "plain",
	       ns, 1e9 / ns, bad ? "  (WRONG RCODES!)" : "");
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000000;
	names = argc > 2 ? atoi(argv[2]) : NAMES;
	char path[] = "/tmp/answer-bench-XXXXXX";
	struct snapshot *snap = NULL;
	static struct qset hit, nx, nodata;
	char name[64];
	int fd = mkstemp(path);

	if (names < 1 || iters < BATCH) {
		fprintf(stderr, "usage: answer-bench [ITERATIONS] [NAMES]\n");
		return 2;
	}
	if (fd < 0 || close(fd) < 0 || write_zone(path) < 0 || load(path, &snap) < 0) {
		fprintf(stderr, "answer-bench: cannot build the test zone\n");
		return 1;
	}
	unlink(path);
	srand(1);
	for (int i = 0; i < QUERIES; i++) {
		int h = (int)(((unsigned)rand() << 15 ^ (unsigned)rand()) % (unsigned)names);
		snprintf(name, sizeof(name), "host%d.bench.test.", h);
		hit.len[i] = make_query(name, 1, hit.q[i]);
		nodata.len[i] = make_query(name, 28, nodata.q[i]);
		snprintf(name, sizeof(name), "nohost%d.bench.test.", h);
		nx.len[i] = make_query(name, 1, nx.q[i]);
	}
	printf("answer-bench: %d names, %d distinct queries per kind, %ld queries per run, "
	       "1 thread\n", names, QUERIES, iters);
	for (int warmed = 0; warmed <= 1; warmed++) {
		run("hit", snap, &hit, iters, 0, warmed);
		run("nxdomain", snap, &nx, iters, 3, warmed);
		run("nodata", snap, &nodata, iters, 0, warmed);
	}
	snap_release(snap);
	return 0;
}
