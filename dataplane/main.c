/* pharos-dataplane: command line, start-up, threads, signals and an orderly stop. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
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
#ifdef PHAROS_HAVE_AFXDP
#include "io_afxdp.h"
#endif
#ifdef PHAROS_HAVE_DPDK
#include "io_dpdk.h"
#endif
#include "log.h"
#include "mgmt.h"
#include "persist.h"
#include "tcp.h"
#include "worker.h"

struct opts {
	struct io_addr addrs[IO_ADDR_MAX];	/* --listen */
	unsigned naddrs;
	const struct io_ops *ops;		/* --backend */
	const char *iface;			/* --iface (afxdp) */
	const char *eal;			/* --eal (dpdk) */
	struct io_addr services[IO_ADDR_MAX];	/* --service, port 53 */
	unsigned nservices;
	int busy_poll;
	/* kernel path of afxdp/dpdk: --listen plus every --service (TCP, UDP exceptions) */
	struct io_addr kaddrs[IO_ADDR_MAX];
	unsigned nkaddrs;
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

/* The backends this binary was built with, for --help and errors. */
static const char *backends_built(void)
{
	return "socket"
#ifdef PHAROS_HAVE_AFXDP
	       ", afxdp"
#endif
#ifdef PHAROS_HAVE_DPDK
	       ", dpdk"
#endif
	       ;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pharos-dataplane --listen ADDR:PORT [--listen ...] --socket PATH\n"
		"                        [--workers N] [--cpus 0,1,...] [--udp-size N]\n"
		"                        [--state-dir DIR]\n"
		"       pharos-dataplane --backend afxdp --iface IF --service ADDR [--service ...]\n"
		"                        [--busy-poll] --socket PATH [...]\n"
		"       pharos-dataplane --backend dpdk --eal \"ARGS\" --service ADDR [...]\n"
		"                        --socket PATH [...]\n"
		"  --backend NAME      UDP fast path: socket (default), afxdp, dpdk (built: %s)\n"
		"  --listen ADDR:PORT  UDP and TCP address to answer on; IPv6 as [::1]:5353;\n"
		"                      port 53 when omitted; up to %d (with afxdp/dpdk: extra\n"
		"                      kernel-socket addresses, optional)\n"
		"  --iface IF          afxdp: the interface whose queues the workers serve\n"
		"  --eal \"ARGS\"        dpdk: EAL arguments, split on blanks\n"
		"  --service ADDR      afxdp/dpdk: a service address (IPv4 or [IPv6], port 53):\n"
		"                      UDP queries to it take the fast path; TCP, NOTIFY and\n"
		"                      every other packet to it go through kernel sockets\n"
		"  --busy-poll         afxdp: spin on the rings instead of sleeping in poll()\n"
		"  --socket PATH       control socket (SOCK_SEQPACKET, mode 0600)\n"
		"  --workers N         UDP worker threads (default 1, or one per --cpus entry);\n"
		"                      afxdp/dpdk: one per NIC queue, worker i serves queue i\n"
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
		backends_built(), IO_ADDR_MAX, 512, IO_BUF_SIZE, ANSWER_UDP_MAX_DEFAULT);
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

static const struct io_ops *backend_find(const char *name)
{
	if (strcmp(name, "socket") == 0)
		return &io_socket_ops;
#ifdef PHAROS_HAVE_AFXDP
	if (strcmp(name, "afxdp") == 0)
		return &io_afxdp_ops;
#endif
#ifdef PHAROS_HAVE_DPDK
	if (strcmp(name, "dpdk") == 0)
		return &io_dpdk_ops;
#endif
	bad_usage("--backend: '%s' is not one this binary has (built: %s)", name,
		  backends_built());
}

static unsigned addr_port(const struct io_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

/* --service ADDR: a unicast address, port 53 (what the steering program matches). */
static void parse_service(const char *txt, struct opts *o)
{
	struct io_addr *a = &o->services[o->nservices];

	if (o->nservices >= IO_ADDR_MAX)
		bad_usage("--service: at most %d addresses", IO_ADDR_MAX);
	if (io_addr_parse(txt, a) < 0)
		bad_usage("--service: bad address '%s' (want ADDR or [ADDR6])", txt);
	if (a->wildcard)
		bad_usage("--service: '%s' is a wildcard; name the service address", txt);
	if (addr_port(a) != 53)
		bad_usage("--service: '%s': service addresses answer on port 53 only", txt);
	o->nservices++;
}

static int addr_same(const struct io_addr *a, const struct io_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Kernel path addresses of afxdp/dpdk: every --listen, then every --service not among them. */
static void kernel_addrs(struct opts *o)
{
	memcpy(o->kaddrs, o->addrs, o->naddrs * sizeof(o->addrs[0]));
	o->nkaddrs = o->naddrs;
	for (unsigned i = 0; i < o->nservices; i++) {
		unsigned k = 0;

		while (k < o->nkaddrs && !addr_same(&o->kaddrs[k], &o->services[i]))
			k++;
		if (k < o->nkaddrs)
			continue;
		if (o->nkaddrs >= IO_ADDR_MAX)
			bad_usage("--listen and --service: at most %d addresses together",
				  IO_ADDR_MAX);
		o->kaddrs[o->nkaddrs++] = o->services[i];
	}
}

/* What each backend needs and refuses. */
static void check_backend(struct opts *o)
{
	int sock = o->ops == &io_socket_ops;

	if (sock) {
		if (o->naddrs == 0)
			bad_usage("--listen is required");
		if (o->iface || o->eal || o->nservices || o->busy_poll)
			bad_usage("--iface, --eal, --service and --busy-poll need --backend "
				  "afxdp or dpdk");
		return;
	}
	if (o->nservices == 0)
		bad_usage("--backend %s: --service is required", o->ops->name);
	if (strcmp(o->ops->name, "afxdp") == 0) {
		if (o->iface == NULL || o->iface[0] == '\0')
			bad_usage("--backend afxdp: --iface is required");
		if (o->eal)
			bad_usage("--eal: only with --backend dpdk");
	}
	if (strcmp(o->ops->name, "dpdk") == 0 && o->busy_poll)
		bad_usage("--busy-poll: DPDK always busy-polls");
	kernel_addrs(o);
}

/* An identity string: one TXT character-string / NSID payload, so at most 255 bytes. */
static const char *ident_arg(const char *opt, const char *txt)
{
	if (strlen(txt) > 255)
		bad_usage("%s: %zu bytes, at most 255", opt, strlen(txt));
	return txt;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "backend", required_argument, NULL, 'b' },
		{ "iface", required_argument, NULL, 'f' },
		{ "eal", required_argument, NULL, 'e' },
		{ "service", required_argument, NULL, 'a' },
		{ "busy-poll", no_argument, NULL, 'B' },
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
	o->ops = &io_socket_ops;
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
		case 'b': o->ops = backend_find(optarg); break;
		case 'f': o->iface = optarg; break;
		case 'e': o->eal = optarg; break;
		case 'a': parse_service(optarg, o); break;
		case 'B': o->busy_poll = 1; break;
		case 's': o->socket = optarg; break;
		case 'w': o->workers = parse_uint("--workers", optarg, 1, WORKER_MAX); break;
		case 'c': parse_cpus(optarg, o); break;
		case 'u': o->udp_size = parse_uint("--udp-size", optarg, 512, IO_BUF_SIZE); break;
		case 'S':
			if (optarg[0] == '\0')
				bad_usage("--state-dir: empty path");
			o->state_dir = optarg;
			break;
		case 'N': o->nsid = ident_arg("--nsid", optarg); break;
		case 'I': o->identity = ident_arg("--identity", optarg); break;
		case 'V': o->version = ident_arg("--version-string", optarg); break;
		case 'n': o->hide_nsid = 1; break;
		case 'i': o->hide_identity = 1; break;
		case 'v': o->hide_version = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	check_backend(o);
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

static int kbypass(const struct opts *o)
{
	return o->ops != &io_socket_ops;
}

/* What every queue of the fast-path backend is opened with. */
static void backend_conf(const struct opts *o, struct io_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->addrs = o->addrs;
	conf->naddrs = o->naddrs;
	conf->iface = o->iface;
	conf->eal_args = o->eal;
	conf->services = o->services;
	conf->nservices = o->nservices;
	conf->nqueues = o->workers;
	conf->busy_poll = o->busy_poll;
}

/*
 * Open every worker's queue; pin worker i to --cpus[i] or to the i-th allowed CPU. With
 * afxdp/dpdk one more, unpinned, worker runs the socket backend on the kernel-path
 * addresses: UDP/53 the steering program or the exception port hands to the kernel
 * (NOTIFY, fragments, other opcodes) is answered there, by the same loop.
 */
static int workers_init(const struct opts *o, struct worker *w, unsigned *nw)
{
	static int allowed[WORKER_MAX];
	unsigned nallowed = o->ncpus ? 0 : allowed_cpus(allowed, WORKER_MAX);
	struct io_conf conf, kconf = { .addrs = o->kaddrs, .naddrs = o->nkaddrs, .nqueues = 1 };
	char err[256];
	int rc;

	backend_conf(o, &conf);
	for (unsigned i = 0; i < o->workers; i++) {
		int cpu = o->ncpus ? o->cpus[i] : nallowed ? allowed[i % nallowed] : -1;

		rc = worker_init(&w[i], i, cpu, o->ops, &conf, err, sizeof(err));
		if (rc < 0) {
			log_msg("worker %u (%s): %s", i, o->ops->name, err);
			return rc;
		}
		*nw = i + 1;
	}
	if (!kbypass(o))
		return 0;
	rc = worker_init(&w[*nw], *nw, -1, &io_socket_ops, &kconf, err, sizeof(err));
	if (rc < 0) {
		log_msg("kernel-path UDP: %s", err);
		return rc;
	}
	(*nw)++;
	return 0;
}

/* Once-per-process backend set-up (XDP program, EAL); *done tells dp_run to undo it. */
static int backend_setup(const struct opts *o, int *done)
{
	struct io_conf conf;
	char err[512];

	*done = 0;
	if (o->ops->setup == NULL)
		return 0;
	backend_conf(o, &conf);
	if (o->ops->setup(&conf, o->workers, err, sizeof(err)) < 0) {
		log_msg("backend %s: %s", o->ops->name, err);
		return PHAROS_EIO;
	}
	*done = 1;
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

#ifdef PHAROS_HAVE_AFXDP
/* pharosctl stats: the steering program's counters. */
static int afxdp_info(struct ipc_backend_info *out)
{
	struct pharos_xdp_counters c;

	if (io_afxdp_counters(&c) < 0)
		return PHAROS_ENOTFOUND;
	snprintf(out->backend, sizeof(out->backend), "afxdp");
	out->xdp_redirected = c.redirected;
	out->xdp_passed = c.passed;
	out->xdp_malformed = c.malformed;
	out->xdp_unbound = c.unbound;
	return 0;
}
#endif

static int dp_run(const struct opts *o)
{
	struct worker *w = NULL;
	struct tcp *tcp = NULL;
	struct mgmt m;
	sigset_t wait_mask;
	unsigned nw = 0;
	char err[512];
	int rc = 1, set_up = 0;

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
	w = aligned_alloc(64, (o->workers + 1) * sizeof(*w));	/* + kernel-path UDP */
	if (w == NULL) {
		log_msg("out of memory");
		goto fail;
	}
	if (backend_setup(o, &set_up) < 0 || workers_init(o, w, &nw) < 0)
		goto fail;
	if (tcp_open(kbypass(o) ? o->kaddrs : o->addrs, kbypass(o) ? o->nkaddrs : o->naddrs,
		     &tcp, err, sizeof(err)) < 0) {
		log_msg("%s", err);
		goto fail;
	}
	m.workers = w;
	m.nworkers = nw;
	m.tcp = tcp_stats(tcp);
	tcp_relay_rings(tcp, &m.tcp_up, &m.tcp_down);
#ifdef PHAROS_HAVE_AFXDP
	if (o->ops == &io_afxdp_ops)
		m.backend_info = afxdp_info;
#endif
#ifdef PHAROS_HAVE_DPDK
	if (o->ops == &io_dpdk_ops)
		m.backend_info = io_dpdk_info;	/* the port's and the exception path's */
#endif
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
	if (set_up && o->ops->teardown)
		o->ops->teardown();	/* after every fini: detach the XDP program, stop the EAL */
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
