/* pharos-control: start-up, signals and the event loop of the control daemon. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anycast.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "opsock.h"
#include "pharos/err.h"
#include "secondary.h"
#include "zdiff.h"

static volatile sig_atomic_t main_quit;
static volatile sig_atomic_t main_reload;

struct main_opts {
	const char *config;
	int foreground;
};

static void main_on_signal(int sig)
{
	if (sig == SIGHUP)
		main_reload = 1;
	else
		main_quit = 1;
}

static void main_usage(FILE *f)
{
	fprintf(f, "usage: pharos-control -c CONFIG [-f]\n"
		   "  -c CONFIG  config file (doc/config.md)\n"
		   "  -f         stay in the foreground, log to stderr\n");
}

static int main_args(int argc, char **argv, struct main_opts *o)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:fh")) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			return PHAROS_EINVAL;
		}
	}
	return (o->config == NULL || optind != argc) ? PHAROS_EINVAL : 0;
}

/*
 * Block the signals we handle, so that they are only delivered inside ppoll(); *wait gets
 * the mask ppoll() runs with. SIGPIPE is ignored: a gone operator is seen by send().
 */
static void main_signals(sigset_t *wait)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, wait);
	sigdelset(wait, SIGHUP);
	sigdelset(wait, SIGTERM);
	sigdelset(wait, SIGINT);
}

/* Detach: the parent exits 0 once the child runs; logs go to syslog from now on. */
static void main_daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		log_msg(LOG_WARNING, "chdir /: %s", strerror(errno));
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	log_use_syslog(1);
}

static void main_reload_now(struct ctl *c)
{
	struct ctl_report rep;

	ctl_reload(c, &rep);	/* every outcome is logged by ctl */
	ctl_report_free(&rep);
}

static void main_loop(struct ctl *c, struct anycast *ac, struct opsock *o,
		      const sigset_t *wait)
{
	struct pollfd fds[OPSOCK_NFDS_MAX + 2];

	/* SIGTERM: withdraw the routes, keep running through the grace period, then stop */
	while (!main_quit || !anycast_can_stop(ac, c)) {
		int n, ndp = -1, nsec = -1, ms;
		struct timespec ts;

		if (main_quit)
			anycast_shutdown(ac, c);
		if (main_reload) {
			main_reload = 0;
			main_reload_now(c);
		}
		anycast_tick(ac, c);	/* first: a frozen dataplane must not block it */
		ctl_tick(c);
		n = opsock_pollfds(o, fds);
		if (ctl_dp_fd(c) >= 0) {
			ndp = n;
			fds[n++] = (struct pollfd){ .fd = ctl_dp_fd(c), .events = POLLIN };
		}
		if (sec_fd(c) >= 0) {	/* a transfer thread finished */
			nsec = n;
			fds[n++] = (struct pollfd){ .fd = sec_fd(c), .events = POLLIN };
		}
		ms = ctl_timeout_ms(c);
		if (anycast_timeout_ms(ac, c) < ms)
			ms = anycast_timeout_ms(ac, c);
		ts = (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
		if (ppoll(fds, (nfds_t)n, &ts, wait) <= 0)
			continue;
		if (ndp >= 0 && fds[ndp].revents != 0)
			ctl_dp_event(c);
		if (nsec >= 0 && fds[nsec].revents != 0)
			sec_event(c);
		opsock_handle(o, fds, ndp >= 0 ? ndp : nsec >= 0 ? nsec : n, c);
	}
}

/*
 * PHAROS_ZDIFF_LIMITS=DELTA_MIN,DELTA_DIV,COMPACT_MIN,COMPACT_DIV: when an IXFR makes a
 * delta image and when compaction is advised (zdiff_set_limits; doc/secondary.md). For
 * tests and tuning.
 */
static void main_zdiff_limits(void)
{
	const char *env = getenv("PHAROS_ZDIFF_LIMITS");
	unsigned v[4];

	if (env == NULL || env[0] == '\0')
		return;
	if (sscanf(env, "%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3]) != 4) {
		fprintf(stderr, "pharos-control: PHAROS_ZDIFF_LIMITS='%s': expected "
				"DELTA_MIN,DELTA_DIV,COMPACT_MIN,COMPACT_DIV\n", env);
		exit(1);
	}
	zdiff_set_limits(v[0], v[1], v[2], v[3]);
}

/* Config, operator socket and first compilation; exits 1 on any failure (start-up). */
static void main_start(const struct main_opts *opts, struct ctl *c, struct opsock **o)
{
	char err[CONFIG_ERR_MAX], path[PATH_MAX];
	struct config *cfg = NULL;
	struct ctl_report rep;

	if (config_load(opts->config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "pharos-control: %s\n", err);
		exit(1);
	}
	if (realpath(opts->config, path) == NULL) {
		fprintf(stderr, "pharos-control: %s: %s\n", opts->config, strerror(errno));
		exit(1);
	}
	if (opsock_open(cfg->control_socket, cfg->control_socket_ro, o, err, sizeof(err)) < 0) {
		fprintf(stderr, "pharos-control: operator socket: %s\n", err);
		exit(1);
	}
	if (ctl_init(c, path, cfg, &rep) < 0) {
		opsock_close(*o);
		exit(1);
	}
	ctl_report_free(&rep);
}

int main(int argc, char **argv)
{
	struct main_opts opts = { 0 };
	struct opsock *o = NULL;
	struct anycast ac;
	sigset_t wait;
	struct ctl c;

	if (main_args(argc, argv, &opts) < 0) {
		main_usage(stderr);
		return 1;
	}
	main_signals(&wait);
	main_zdiff_limits();
	main_start(&opts, &c, &o);
	if (!opts.foreground)
		main_daemonize();
	log_msg(LOG_NOTICE, "started, operator socket %s", c.cfg->control_socket);
	anycast_init(&ac, &c);
	main_loop(&c, &ac, o, &wait);
	log_msg(LOG_NOTICE, "stopping");
	anycast_fini(&ac, &c);
	opsock_close(o);
	ctl_fini(&c);
	return 0;
}
