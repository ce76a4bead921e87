/* pharosctl: the operator CLI; sends one request over the control socket, prints the reply. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pharos/err.h"

#define CTL_DEFAULT_SOCKET	"/run/pharos/control.sock"
#define CTL_REQ_MAX		4096	/* the daemon's request line limit */
#define CTL_BODY_MAX		(64u << 20)	/* a sane bound on a reply */

/* Exit codes (doc/tools.md). */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

struct ctl_opts {
	const char *socket;
	int json;
	int timeout_s;		/* 0 = wait as long as the daemon works */
	char **argv;		/* COMMAND [ARGS] */
	int argc;
};

static void ctl_usage(FILE *f)
{
	fprintf(f,
		"usage: pharosctl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS]\n"
		"commands:\n"
		"  status              daemon, dataplane, workers, zones\n"
		"  zones               each zone: state, serial, image, loaded-at\n"
		"  stats               per-worker query counters and totals; afxdp/dpdk: the\n"
		"                      backend's own counters (xdp: ... / dpdk: ...)\n"
		"  reload              re-read the config and reload changed zones\n"
		"  load ORIGIN IMAGE   serve a precompiled zone image (admin)\n"
		"  zone-status [ZONE]  role, state, served and primary serial, lag, last\n"
		"                      transfer, next refresh, expiry (secondary zones)\n"
		"  zone-refresh ZONE   SOA check now, then IXFR/AXFR if the primary is newer (admin)\n"
		"  zone-retransfer ZONE  fresh AXFR whatever the serials say (admin)\n"
		"  health              anycast state and why, signals, prefixes\n"
		"  drain / undrain     withdraw the routes and keep answering / undo (admin)\n"
		"  routes HOOK         what a route hook (bird, exabgp, command) announces\n"
		"options:\n"
		"  -s, --socket PATH   control socket (default: $PHAROS_CONTROL_SOCKET or "
		CTL_DEFAULT_SOCKET ")\n"
		"  -j, --json          JSON output\n"
		"  -t, --timeout SECS  give up waiting for the reply after SECS (default: never)\n"
		"exit status: 0 ok, 1 the command failed, 2 usage or connection error\n");
}

static int ctl_args(int argc, char **argv, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->socket = getenv("PHAROS_CONTROL_SOCKET");
	if (o->socket == NULL || o->socket[0] == '\0')
		o->socket = CTL_DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "+s:jt:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 't':
			o->timeout_s = atoi(optarg);
			break;
		case 'h':
			ctl_usage(stdout);
			exit(CTL_EXIT_OK);
		default:
			return PHAROS_EINVAL;
		}
	}
	o->argv = argv + optind;
	o->argc = argc - optind;
	return o->argc > 0 ? 0 : PHAROS_EINVAL;
}

/* Arguments each command takes; -1 = unknown command (sent anyway: the daemon decides). */
static int ctl_nargs(const char *cmd)
{
	static const struct { const char *name; int nargs; } cmds[] = {
		{ "status", 0 }, { "zones", 0 }, { "stats", 0 }, { "reload", 0 },
		{ "load", 2 }, { "help", 0 }, { "zone-refresh", 1 }, { "zone-retransfer", 1 },
		{ "health", 0 }, { "drain", 0 }, { "undrain", 0 }, { "routes", 1 },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].nargs;
	return -1;
}

/* The request line. load's image path is made absolute: the daemon has another cwd. */
static int ctl_request(const struct ctl_opts *o, char *line, size_t cap)
{
	char abs[PATH_MAX];
	size_t n = 0;

	for (int i = 0; i < o->argc; i++) {
		const char *w = o->argv[i];

		if (strcmp(o->argv[0], "load") == 0 && i == 2 && realpath(w, abs) != NULL)
			w = abs;
		if (w[0] == '\0' || strpbrk(w, " \t\r\n") != NULL) {
			fprintf(stderr, "pharosctl: argument '%s' may not be empty or contain "
					"spaces\n", w);
			return PHAROS_EINVAL;
		}
		n += (size_t)snprintf(line + n, n < cap ? cap - n : 0, "%s%s", i ? " " : "", w);
	}
	n += (size_t)snprintf(line + n, n < cap ? cap - n : 0, "%s\n", o->json ? " json" : "");
	if (n >= cap) {
		fprintf(stderr, "pharosctl: request too long\n");
		return PHAROS_EINVAL;
	}
	return 0;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pharosctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "pharosctl: cannot connect to %s: %s (is pharos-control "
				"running? use -s or PHAROS_CONTROL_SOCKET)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int ctl_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PHAROS_EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes (or up to EOF when len is 0 and stop_at_nl). */
static int ctl_read(int fd, char *buf, size_t len, int timeout_s, int stop_at_nl, size_t *got)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	*got = 0;
	while (*got < len) {
		int rc = poll(&pfd, 1, timeout_s > 0 ? timeout_s * 1000 : -1);
		ssize_t n;

		if (rc == 0)
			return PHAROS_ETIMEOUT;
		if (rc < 0 && errno == EINTR)
			continue;
		n = read(fd, buf + *got, stop_at_nl ? 1 : len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PHAROS_EIO;
		*got += (size_t)n;
		if (stop_at_nl && buf[*got - 1] == '\n')
			return 0;
	}
	return 0;
}

/* Header "CLASS LENGTH\n" -> exit code for the class, and the body length. */
static int ctl_header(int fd, int timeout_s, int *code, size_t *len)
{
	char head[64], cls[16];
	unsigned long long n;
	size_t got;
	int rc = ctl_read(fd, head, sizeof(head) - 1, timeout_s, 1, &got);

	if (rc < 0)
		return rc;
	head[got] = '\0';
	if (sscanf(head, "%15s %llu", cls, &n) != 2 || n > CTL_BODY_MAX)
		return PHAROS_EPROTO;
	if (strcmp(cls, "ok") == 0)
		*code = CTL_EXIT_OK;
	else if (strcmp(cls, "fail") == 0)
		*code = CTL_EXIT_FAIL;
	else if (strcmp(cls, "error") == 0)
		*code = CTL_EXIT_USAGE;
	else
		return PHAROS_EPROTO;
	*len = (size_t)n;
	return 0;
}

/* Send the request, print the body (stdout, or stderr for a refused request). */
static int ctl_exchange(int fd, const char *req, int timeout_s)
{
	size_t len = 0, got;
	char *body;
	int code, rc;

	if (ctl_send_all(fd, req, strlen(req)) < 0 || ctl_header(fd, timeout_s, &code, &len) < 0) {
		fprintf(stderr, "pharosctl: no valid reply from the daemon\n");
		return CTL_EXIT_USAGE;
	}
	body = malloc(len + 1);
	if (body == NULL) {
		fprintf(stderr, "pharosctl: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	rc = ctl_read(fd, body, len, timeout_s, 0, &got);
	if (rc < 0) {
		fprintf(stderr, "pharosctl: reply cut short: %s\n", pharos_strerror(rc));
		free(body);
		return CTL_EXIT_USAGE;
	}
	fwrite(body, 1, len, code == CTL_EXIT_USAGE ? stderr : stdout);
	free(body);
	return code;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { 0 };
	char req[CTL_REQ_MAX];
	int fd, code, nargs;

	if (ctl_args(argc, argv, &o) < 0) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	nargs = ctl_nargs(o.argv[0]);
	if (strcmp(o.argv[0], "zone-status") == 0 && o.argc > 2) {
		fprintf(stderr, "pharosctl: zone-status takes at most one zone\n");
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (nargs >= 0 && nargs != o.argc - 1) {
		fprintf(stderr, "pharosctl: %s takes %d argument(s)\n", o.argv[0], nargs);
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_request(&o, req, sizeof(req)) < 0)
		return CTL_EXIT_USAGE;
	fd = ctl_connect(o.socket);
	if (fd < 0)
		return CTL_EXIT_USAGE;
	code = ctl_exchange(fd, req, o.timeout_s);
	close(fd);
	return code;
}
