/* xfr_client: test driver for xfr_fetch (fetch a zone, print the outcome, apply IXFR diffs). */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ldns/ldns.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "pharos/err.h"
#include "notify.h"
#include "tsigkey.h"
#include "xfr.h"
#include "zonec.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: xfr_client [options] PRIMARY ZONE\n"
		"       xfr_client -c TEXT     print zone text canonically (one RR a line)\n"
		"  -k NAME:ALG:SECRET  TSIG key\n"
		"  -s SERIAL           we hold SERIAL: SOA check, then IXFR\n"
		"  -f                  force AXFR (zone-retransfer)\n"
		"  -l BYTES            size limit\n"
		"  -t MS               timeout per network wait (default 2000)\n"
		"  -T MS               bound on the whole fetch\n"
		"  -o IMAGE            AXFR: write the image there\n"
		"  -b TEXT -O OUT      IXFR: apply the diffs to zone text TEXT, write OUT\n"
		"  -S                  only the SOA query\n"
		"       xfr_client -N ADDR#PORT -A ZONE=NET/BITS[=NAME:ALG:SECRET]...\n"
		"                      answer NOTIFY on UDP with notify_handle (until killed);\n"
		"                      one line per NOTIFY: origin, accepted 0/1, serial, why\n"
		"Prints kind=.. fallback=.. serial=.. records=.. messages=.. bytes=.. rc=.. and\n"
		"err=.. on failure; exit 0 on success, 1 on failure, 2 on bad usage.\n");
	exit(2);
}

/* Zone text (pharos-zone dump, or our own output) as an RR list; comments skipped. */
static ldns_rr_list *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	ldns_rr_list *l = ldns_rr_list_new();
	char *line = NULL;
	size_t cap = 0;

	if (!fp) {
		perror(path);
		exit(1);
	}
	while (getline(&line, &cap, fp) > 0) {
		ldns_rr *rr = NULL;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == ';' || line[0] == '\0')
			continue;
		if (ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL) != LDNS_STATUS_OK) {
			fprintf(stderr, "%s: cannot parse '%s'\n", path, line);
			exit(1);
		}
		ldns_rr_list_push_rr(l, rr);
	}
	free(line);
	fclose(fp);
	return l;
}

/* One RR a line, owner lowercased, sorted by the caller (sort). */
static void write_text(FILE *fp, const ldns_rr_list *l)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		ldns_dname2canonical(ldns_rr_owner(rr));
		char *s = ldns_rr2str(rr);
		fputs(s, fp);
		free(s);
	}
}

static int apply(ldns_rr_list *base, const struct xfr_result *res)
{
	for (size_t d = 0; d < res->ndiffs; d++) {
		const struct xfr_diff *df = &res->diffs[d];
		for (size_t i = 0; i < ldns_rr_list_rr_count(df->del); i++) {
			ldns_rr *del = ldns_rr_list_rr(df->del, i);
			size_t n = ldns_rr_list_rr_count(base), k;
			for (k = 0; k < n; k++)
				if (ldns_rr_compare(ldns_rr_list_rr(base, k), del) == 0)
					break;
			if (k == n) {
				char *s = ldns_rr2str(del);
				fprintf(stderr, "diff %zu deletes a record not in the zone: %s", d, s);
				free(s);
				return -1;
			}
			ldns_rr_free(ldns_rr_list_rr(base, k));
			ldns_rr_list_set_rr(base, ldns_rr_list_rr(base, n - 1), k);
			ldns_rr_list_set_rr_count(base, n - 1);
		}
		for (size_t i = 0; i < ldns_rr_list_rr_count(df->add); i++)
			ldns_rr_list_push_rr(base, ldns_rr_clone(ldns_rr_list_rr(df->add, i)));
	}
	return 0;
}

#define NT_MAX 16

/* The NOTIFY ACL given with -A, one entry per zone line. */
static struct {
	char origin[256];
	struct notify_allow allow;
	struct tsig_key key;
} acl[NT_MAX];
static size_t nacl;

static int parse_key(char *arg, struct tsig_key *k);

static int acl_lookup(void *ctx, const char *origin, const struct notify_allow **out, size_t *n)
{
	(void)ctx;
	for (size_t i = 0; i < nacl; i++)
		if (strcasecmp(acl[i].origin, origin) == 0) {
			size_t j = i;
			while (j < nacl && strcasecmp(acl[j].origin, origin) == 0)
				j++;
			/* entries of one zone are consecutive: pass them as one array */
			static struct notify_allow list[NT_MAX];
			for (size_t k = i; k < j; k++)
				list[k - i] = acl[k].allow;
			*out = list;
			*n = j - i;
			return 0;
		}
	return -1;
}

/* ZONE=NET/BITS[=NAME:ALG:SECRET] */
static int parse_acl(char *arg)
{
	char *net = strchr(arg, '='), *slash, *key;
	struct xfr_primary p;

	if (!net || nacl == NT_MAX)
		return -1;
	*net++ = '\0';
	if ((key = strchr(net, '=')))
		*key++ = '\0';
	if (!(slash = strchr(net, '/')))
		return -1;
	*slash++ = '\0';
	snprintf(acl[nacl].origin, sizeof(acl[nacl].origin), "%s", arg);
	if (xfr_primary_parse(net, &p) < 0)
		return -1;
	acl[nacl].allow.net = p.addr;
	acl[nacl].allow.prefix = (unsigned)atoi(slash);
	if (key) {
		if (parse_key(key, &acl[nacl].key) < 0)
			return -1;
		acl[nacl].allow.key = &acl[nacl].key;
	}
	nacl++;
	return 0;
}

static int notify_serve(const char *listen)
{
	struct xfr_primary p;
	struct notify_seen seen = { 0 };	/* replays, as pharos-control keeps them */
	uint8_t q[65535], r[65535];

	if (xfr_primary_parse(listen, &p) < 0)
		usage();
	int fd = socket(p.addr.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&p.addr, p.addrlen) < 0) {
		perror("notify socket");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_storage src;
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&src, &sl);
		struct notify_event ev;
		size_t rl;
		if (n < 0)
			continue;
		int rc = notify_handle(q, (size_t)n, (struct sockaddr *)&src, acl_lookup, NULL,
				       &seen, r, sizeof(r), &rl, &ev);
		if (rc == 0)
			sendto(fd, r, rl, 0, (struct sockaddr *)&src, sl);
		printf("%s accepted=%d serial=%s%u why=%s rc=%d\n", ev.origin[0] ? ev.origin : "-",
		       ev.accepted, ev.have_serial ? "" : "none/", ev.serial, ev.why, rc);
		fflush(stdout);
	}
}

static int parse_key(char *arg, struct tsig_key *k)
{
	char *alg = strchr(arg, ':'), *sec = alg ? strchr(alg + 1, ':') : NULL;
	char err[256];

	if (!sec)
		return -1;
	*alg++ = '\0';
	*sec++ = '\0';
	if (tsigkey_make(arg, alg, sec, k, err, sizeof(err)) < 0) {
		fprintf(stderr, "key: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tsig_key key;
	struct xfr_primary p;
	struct xfr_req r = { .timeout_ms = 2000 };
	struct xfr_result res;
	const char *image = NULL, *base = NULL, *outp = NULL;
	const char *notify_on = NULL;
	int c, soa_only = 0, have_key = 0;

	while ((c = getopt(argc, argv, "k:s:fl:t:T:o:b:O:Sc:N:A:")) != -1) {
		switch (c) {
		case 'k':
			if (parse_key(optarg, &key) < 0)
				usage();
			have_key = 1;
			break;
		case 's':
			r.have_serial = 1;
			r.serial = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f': r.force_axfr = 1; break;
		case 'l': r.size_limit = strtoull(optarg, NULL, 10); break;
		case 't': r.timeout_ms = atoi(optarg); break;
		case 'T': r.total_ms = atoi(optarg); break;
		case 'o': image = optarg; break;
		case 'b': base = optarg; break;
		case 'O': outp = optarg; break;
		case 'S': soa_only = 1; break;
		case 'N': notify_on = optarg; break;
		case 'A':
			if (parse_acl(optarg) < 0)
				usage();
			break;
		case 'c': {
			ldns_rr_list *l = read_text(optarg);
			write_text(stdout, l);
			ldns_rr_list_deep_free(l);
			return 0;
		}
		default: usage();
		}
	}
	if (notify_on)
		return notify_serve(notify_on);
	if (argc - optind != 2 || xfr_primary_parse(argv[optind], &p) < 0)
		usage();
	p.key = have_key ? &key : NULL;
	r.primary = &p;
	r.origin = argv[optind + 1];
	if (soa_only) {
		uint32_t serial;
		char err[XFR_ERR_MAX];
		int rc = xfr_soa_query(&r, &serial, err, sizeof(err));
		if (rc < 0) {
			printf("rc=%d\nerr=%s\n", rc, err);
			return 1;
		}
		printf("serial=%u rc=0\n", serial);
		return 0;
	}
	int rc = xfr_fetch(&r, &res);
	printf("kind=%s fallback=%d serial=%u records=%llu messages=%llu bytes=%llu diffs=%zu "
	       "rc=%d\n", xfr_kind_name(res.kind), res.fallback, res.serial,
	       (unsigned long long)res.records, (unsigned long long)res.messages,
	       (unsigned long long)res.bytes, res.ndiffs, rc);
	if (rc < 0) {
		printf("err=%s\n", res.err);
		xfr_result_free(&res);
		return 1;
	}
	if (image && res.zone) {
		uint8_t *img;
		size_t len;
		if (zonec_build(res.zone, &img, &len) < 0 || zonec_write_file(image, img, len) < 0) {
			fprintf(stderr, "cannot write %s\n", image);
			return 1;
		}
		free(img);
	}
	if (base && outp && res.kind == XFR_IXFR) {
		ldns_rr_list *l = read_text(base);
		FILE *fp = fopen(outp, "w");
		if (!fp || apply(l, &res) < 0)
			return 1;
		write_text(fp, l);
		fclose(fp);
		ldns_rr_list_deep_free(l);
	}
	xfr_result_free(&res);
	return 0;
}
