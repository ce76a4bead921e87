/* pharos-dataplane: command line, start-up, threads, signals and an orderly stop. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pharos/err.h"
#include "answer.h"
#include "io.h"
#include "log.h"
#include "mgmt.h"
#include "persist.h"
#include "tcp.h"
#include "worker.h"

struct opts {
	struct io_addr addrs[IO_ADDR_MAX];
	unsigned naddrs;
	const char *socket;
	const char *state_dir;		/* NULL: start with no zone */
	unsigned workers;		/* 0 = not given */
	int cpus[WORKER_MAX];
	unsigned ncpus;
	unsigned udp_size;
	const char *nsid;		/* NULL: the host name */
	const char *identity;		/* NULL: the host name */
	const char *version;		/* NULL: "Pharos <version>" */
	int hide_nsid, hide_identity, hide_version;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pharos-dataplane --listen ADDR:PORT [--listen ...] --socket PATH\n"
		"                        [--workers N] [--cpus 0,1,...] [--udp-size N]\n"
		"                        [--state-dir DIR]\n"
		"  --listen ADDR:PORT  UDP and TCP address to answer on; IPv6 as [::1]:5353;\n"
		"                      port 53 when omitted; up to %d\n"
		"  --socket PATH       control socket (SOCK_SEQPACKET, mode 0600)\n"
		"  --workers N         UDP worker threads (default 1, or one per --cpus entry)\n"
		"  --cpus LIST         CPUs to pin workers to, e.g. 0,2,4-7 (default: worker i\n"
		"                      on the i-th CPU this process may run on, modulo their count)\n"
		"  --state-dir DIR     serve the newest valid DIR/*.img of each zone at start\n"
		"  --udp-size N        our EDNS UDP payload size, %d..%d (default %d)\n"
		"  --nsid STR          NSID (RFC 5001) answered when asked (default: host name)\n"
		"  --identity STR      CH TXT id.server. / hostname.bind. (default: host name)\n"
		"  --version-string STR  CH TXT version.server. / version.bind.\n"
		"                      (default: \"Pharos " PHAROS_VERSION "\")\n"
		"  --hide-nsid, --hide-identity, --hide-version\n"
		"                      do not answer NSID; answer REFUSED to those CH queries\n",
		IO_ADDR_MAX, 512, IO_BUF_SIZE, ANSWER_UDP_MAX_DEFAULT);
}

static void __attribute__((noreturn, format(printf, 1, 2))) bad_usage(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg("%s (see --help)", line);
	exit(2);
}

static unsigned parse_uint(const char *opt, const char *txt, unsigned min, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(txt, &end, 10);
	if (txt[0] < '0' || txt[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
		bad_usage("%s: '%s' is not a number in %u..%u", opt, txt, min, max);
	return (unsigned)v;
}

/* CPUs this process may run on (cgroups, taskset); 0 if unknown. */
static unsigned allowed_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

static int cpu_allowed(int cpu)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(cpu, &set);
}

/* "0,2,4-7" into o->cpus. */
static void parse_cpus(const char *txt, struct opts *o)
{
	const char *p = txt;

	o->ncpus = 0;
	while (*p) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || *p < '0' || *p > '9')
			bad_usage("--cpus: bad list '%s'", txt);
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || *p < '0' || *p > '9' || hi < lo)
				bad_usage("--cpus: bad range in '%s'", txt);
			p = end;
		}
		if (*p != '\0' && *p != ',')
			bad_usage("--cpus: bad list '%s'", txt);
		if (*p == ',' && *++p == '\0')
			bad_usage("--cpus: bad list '%s'", txt);
		for (unsigned long c = lo; c <= hi; c++) {
			if (c >= CPU_SETSIZE || !cpu_allowed((int)c))
				bad_usage("--cpus: CPU %lu is not available to this process", c);
			if (o->ncpus >= WORKER_MAX)
				bad_usage("--cpus: more than %d CPUs", WORKER_MAX);
			o->cpus[o->ncpus++] = (int)c;
		}
	}
	if (o->ncpus == 0)
		bad_usage("--cpus: empty list");
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "udp-size", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "nsid", required_argument, NULL, 'N' },
		{ "identity", required_argument, NULL, 'I' },
		{ "version-string", required_argument, NULL, 'V' },
		{ "hide-nsid", no_argument, NULL, 'n' },
		{ "hide-identity", no_argument, NULL, 'i' },
		{ "hide-version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	o->udp_size = ANSWER_UDP_MAX_DEFAULT;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (o->naddrs >= IO_ADDR_MAX)
				bad_usage("--listen: at most %d addresses", IO_ADDR_MAX);
			if (io_addr_parse(optarg, &o->addrs[o->naddrs]) < 0)
				bad_usage("--listen: bad address '%s' (want ADDR:PORT or [ADDR6]:PORT)",
					  optarg);
			o->naddrs++;
			break;
		case 's': o->socket = optarg; break;
		case 'w': o->workers = parse_uint("--workers", optarg, 1, WORKER_MAX); break;
		case 'c': parse_cpus(optarg, o); break;
		case 'u': o->udp_size = parse_uint("--udp-size", optarg, 512, IO_BUF_SIZE); break;
		case 'S':
			if (optarg[0] == '\0')
				bad_usage("--state-dir: empty path");
			o->state_dir = optarg;
			break;
		case 'N': o->nsid = optarg; break;
		case 'I': o->identity = optarg; break;
		case 'V': o->version = optarg; break;
		case 'n': o->hide_nsid = 1; break;
		case 'i': o->hide_identity = 1; break;
		case 'v': o->hide_version = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (o->naddrs == 0)
		bad_usage("--listen is required");
	if (o->socket == NULL || o->socket[0] == '\0')
		bad_usage("--socket is required");
	if (o->ncpus && o->workers && o->ncpus != o->workers)
		bad_usage("--workers %u but --cpus lists %u CPUs", o->workers, o->ncpus);
	if (o->workers == 0)
		o->workers = o->ncpus ? o->ncpus : 1;
}

static void on_signal(int sig)
{
	(void)sig;
	worker_quit = 1;
}

/*
 * SIGTERM/SIGINT only set worker_quit. They stay blocked in every thread we start and are
 * taken by the main thread in sigsuspend(), so the handler never interrupts a worker.
 */
static void signals_setup(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
}

/* Bind every worker's sockets; pin worker i to --cpus[i] or to the i-th allowed CPU. */
static int workers_init(const struct opts *o, struct worker *w, unsigned *nw)
{
	static int allowed[WORKER_MAX];
	unsigned nallowed = o->ncpus ? 0 : allowed_cpus(allowed, WORKER_MAX);
	struct io_conf conf = { .addrs = o->addrs, .naddrs = o->naddrs };
	char err[256];

	for (unsigned i = 0; i < o->workers; i++) {
		int cpu = o->ncpus ? o->cpus[i] : nallowed ? allowed[i % nallowed] : -1;
		int rc = worker_init(&w[i], i, cpu, &io_socket_ops, &conf, err, sizeof(err));

		if (rc < 0) {
			log_msg("worker %u: %s", i, err);
			return rc;
		}
		*nw = i + 1;
	}
	return 0;
}

static int threads_start(struct worker *w, unsigned nw, struct tcp *tcp, struct mgmt *m)
{
	for (unsigned i = 0; i < nw; i++) {
		if (worker_start(&w[i]) < 0) {
			log_msg("worker %u: cannot start: %s", i, strerror(errno));
			return PHAROS_EIO;
		}
	}
	if (tcp_start(tcp) < 0 || mgmt_start(m) < 0) {
		log_msg("cannot start a thread: %s", strerror(errno));
		return PHAROS_EIO;
	}
	return 0;
}

/* NSID and CH TXT identity: an anycast operator must see which PoP answered. */
static void dp_set_ident(const struct opts *o)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	answer_set_ident(o->hide_nsid ? NULL : o->nsid ? o->nsid : host,
			 o->hide_identity ? NULL : o->identity ? o->identity : host,
			 o->hide_version ? NULL : o->version ? o->version : "Pharos " PHAROS_VERSION);
}

static int dp_run(const struct opts *o)
{
	struct worker *w = NULL;
	struct tcp *tcp = NULL;
	struct mgmt m;
	sigset_t wait_mask;
	unsigned nw = 0;
	char err[512];
	int rc = 1;

	answer_set_udp_max((uint16_t)o->udp_size);
	dp_set_ident(o);
	signals_setup(&wait_mask);
	if (mgmt_open(&m, o->socket, err, sizeof(err)) < 0) {
		log_msg("%s", err);
		goto fail;
	}
	/* before any socket is bound: the first query answered already sees these zones */
	if (o->state_dir != NULL)
		persist_load(o->state_dir);
	w = aligned_alloc(64, o->workers * sizeof(*w));
	if (w == NULL) {
		log_msg("out of memory");
		goto fail;
	}
	if (workers_init(o, w, &nw) < 0)
		goto fail;
	if (tcp_open(o->addrs, o->naddrs, &tcp, err, sizeof(err)) < 0) {
		log_msg("%s", err);
		goto fail;
	}
	m.workers = w;
	m.nworkers = nw;
	m.tcp = tcp_stats(tcp);
	tcp_relay_rings(tcp, &m.tcp_up, &m.tcp_down);
	if (threads_start(w, nw, tcp, &m) < 0)
		goto fail;
	while (!worker_quit)
		sigsuspend(&wait_mask);
	rc = 0;
fail:
	worker_quit = 1;
	for (unsigned i = 0; i < nw; i++)
		worker_join(&w[i]);
	tcp_join(tcp);
	mgmt_join(&m);
	for (unsigned i = 0; i < nw; i++)
		worker_fini(&w[i]);
	tcp_close(tcp);
	mgmt_close(&m);
	free(w);
	return rc;
}

int main(int argc, char **argv)
{
	static struct opts o;

	parse_args(argc, argv, &o);
	return dp_run(&o);
}
