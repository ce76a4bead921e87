/* afxdp-reflect: the floor of the AF_XDP path: each steered query goes back with QR set, no DNS work. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: afxdp-reflect --iface IF --service ADDR [--service ...] [--busy-poll]\n"
		   "Same program, sockets and rings as pharos-dataplane --backend afxdp (queue 0),\n"
		   "but every query goes back as it came (addresses swapped, QR set): what the\n"
		   "AF_XDP path costs on this machine without any DNS work. SIGTERM stops.\n");
}

/* The loop of dataplane/worker.c without the answer engine. */
static void reflect(struct io_queue *q)
{
	struct io_pkt pkts[IO_BURST], drop[IO_BURST];

	while (!quit) {
		unsigned n = io_afxdp_ops.rx_burst(q, pkts, IO_BURST), ntx = 0, ndrop = 0;

		if (n == 0) {
			io_afxdp_ops.wait(q, 100);
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			if (pkts[i].len < 12) {
				drop[ndrop++] = pkts[i];
				continue;
			}
			pkts[i].data[2] |= 0x80;
			pkts[ntx++] = pkts[i];
		}
		if (ntx)
			io_afxdp_ops.tx_burst(q, pkts, ntx);
		if (ndrop)
			io_afxdp_ops.release(q, drop, ndrop);
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "service", required_argument, NULL, 's' },
		{ "busy-poll", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct io_addr svc[IO_ADDR_MAX];
	struct io_conf conf = { .services = svc, .nqueues = 1 };
	struct io_queue *q = NULL;
	char err[512];
	int opt;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (opt == 'i') {
			conf.iface = optarg;
		} else if (opt == 's' && conf.nservices < IO_ADDR_MAX &&
			   io_addr_parse(optarg, &svc[conf.nservices]) == 0) {
			conf.nservices++;
		} else if (opt == 'B') {
			conf.busy_poll = 1;
		} else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (conf.iface == NULL || conf.nservices == 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (io_afxdp_ops.setup(&conf, 1, err, sizeof(err)) < 0 ||
	    io_afxdp_ops.init(&conf, 0, &q, err, sizeof(err)) < 0) {
		fprintf(stderr, "afxdp-reflect: %s\n", err);
		io_afxdp_ops.teardown();
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	reflect(q);
	io_afxdp_ops.fini(q);
	io_afxdp_ops.teardown();
	return 0;
}
