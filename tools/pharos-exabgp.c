/* pharos-exabgp: the process ExaBGP runs; follows pharos-control, prints announce/withdraw lines. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define XB_DEFAULT_SOCKET	"/run/pharos/control.sock"
#define XB_PREFIX_MAX		64
#define XB_PREFIXES_MAX		256
#define XB_BODY_MAX		65536

/*
 * Why polling and not a subscription: the operator socket is request/reply (one line in,
 * one reply out), so a poll needs no new framing in pharos-control; one persistent
 * connection makes each poll one small write and read. A dead pharos-control is seen at
 * once (EOF on the connection), a hung one by the reply timeout; both withdraw.
 */
struct xb_opts {
	const char *socket;
	int interval_ms;	/* between polls */
	int timeout_ms;		/* a reply slower than this = pharos-control lost */
	const char *next_hop;	/* "self" or an address */
};

struct xb_set {
	char p[XB_PREFIXES_MAX][XB_PREFIX_MAX];
	int n;
};

static volatile sig_atomic_t xb_quit;

static void xb_on_signal(int sig)
{
	(void)sig;
	xb_quit = 1;
}

static void xb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void xb_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "pharos-exabgp: %02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t xb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void xb_usage(FILE *f)
{
	fprintf(f,
		"usage: pharos-exabgp [-s SOCKET] [-i MS] [-t MS] [-n NEXT-HOP]\n"
		"  run by ExaBGP (process ... { run pharos-exabgp ...; encoder text; }):\n"
		"  asks pharos-control 'routes exabgp' every interval and prints\n"
		"  'announce route P next-hop N' / 'withdraw route P next-hop N' on changes only;\n"
		"  withdraws everything by itself when pharos-control is lost.\n"
		"  -s, --socket PATH     operator socket (default $PHAROS_CONTROL_SOCKET or "
		XB_DEFAULT_SOCKET "); the read-only one is enough\n"
		"  -i, --interval MS     poll interval (default 50)\n"
		"  -t, --timeout MS      reply timeout: slower = lost, withdraw (default 1000)\n"
		"  -n, --next-hop ADDR   next hop of the routes (default self)\n");
}

static int xb_args(int argc, char **argv, struct xb_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "next-hop", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->socket = getenv("PHAROS_CONTROL_SOCKET");
	if (o->socket == NULL || o->socket[0] == '\0')
		o->socket = XB_DEFAULT_SOCKET;
	o->interval_ms = 50;
	o->timeout_ms = 1000;
	o->next_hop = "self";
	while ((ch = getopt_long(argc, argv, "s:i:t:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'i': o->interval_ms = atoi(optarg); break;
		case 't': o->timeout_ms = atoi(optarg); break;
		case 'n': o->next_hop = optarg; break;
		case 'h': xb_usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || o->interval_ms < 1 || o->timeout_ms < 1)
		return -1;
	return 0;
}

static int xb_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Read until buf holds "CLASS LEN\n" + LEN bytes, or the deadline. Returns the body or NULL. */
static char *xb_reply(int fd, char *buf, size_t cap, int64_t deadline, const char **why)
{
	size_t got = 0, need = 0;
	char *nl;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - xb_now_ms();
		ssize_t n;

		if (need == 0 && (nl = memchr(buf, '\n', got)) != NULL) {
			unsigned long len;
			char cls[16];

			if (sscanf(buf, "%15s %lu", cls, &len) != 2 || strcmp(cls, "ok") != 0 ||
			    len >= cap - (size_t)(nl + 1 - buf)) {
				*why = "refused request or bad reply";
				return NULL;
			}
			need = (size_t)(nl + 1 - buf) + len;
		}
		if (need > 0 && got >= need) {
			buf[need] = '\0';
			return strchr(buf, '\n') + 1;
		}
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			*why = left <= 0 ? "no reply in time" : "poll failed";
			if (left > 0 && errno == EINTR && !xb_quit)
				continue;
			return NULL;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0) {
			*why = n == 0 ? "connection closed" : "read error";
			return NULL;
		}
		got += (size_t)n;
	}
}

/* One poll: the set pharos-control wants announced. 0 or -1 (lost, why). */
static int xb_poll(int fd, int timeout_ms, struct xb_set *want, const char **why)
{
	static const char req[] = "routes exabgp\n";
	static char buf[XB_BODY_MAX];
	char *body, *save = NULL;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		*why = "send failed";
		return -1;
	}
	body = xb_reply(fd, buf, sizeof(buf), xb_now_ms() + timeout_ms, why);
	if (body == NULL)
		return -1;
	want->n = 0;
	for (char *l = strtok_r(body, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "announce ", 9) == 0 && want->n < XB_PREFIXES_MAX &&
		    strlen(l + 9) < XB_PREFIX_MAX)
			strcpy(want->p[want->n++], l + 9);
	}
	return 0;
}

static int xb_has(const struct xb_set *s, const char *p)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->p[i], p) == 0)
			return 1;
	return 0;
}

/* Print what changes from *have to want; *have becomes want. -1 when stdout is gone. */
static int xb_apply(struct xb_set *have, const struct xb_set *want, const struct xb_opts *o,
		    const char *why)
{
	for (int i = 0; i < have->n; i++) {
		if (xb_has(want, have->p[i]))
			continue;
		printf("withdraw route %s next-hop %s\n", have->p[i], o->next_hop);
		xb_log("withdraw %s (%s)", have->p[i], why);
	}
	for (int i = 0; i < want->n; i++) {
		if (xb_has(have, want->p[i]))
			continue;
		printf("announce route %s next-hop %s\n", want->p[i], o->next_hop);
		xb_log("announce %s (%s)", want->p[i], why);
	}
	*have = *want;
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/* Read and drop what ExaBGP writes to us (acks); -1 on EOF: ExaBGP is gone. */
static int xb_stdin(void)
{
	char buf[4096];
	ssize_t n = read(0, buf, sizeof(buf));

	return (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static struct xb_set have, want, none;
	struct xb_opts o;
	int fd = -1, lost_logged = 0;
	const char *why = "";

	if (xb_args(argc, argv, &o) < 0) {
		xb_usage(stderr);
		return 2;
	}
	signal(SIGTERM, xb_on_signal);
	signal(SIGINT, xb_on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!xb_quit) {
		struct pollfd in = { .fd = 0, .events = POLLIN };
		int64_t next = xb_now_ms() + o.interval_ms;

		if (fd < 0)
			fd = xb_connect(o.socket);
		if (fd >= 0 && xb_poll(fd, o.timeout_ms, &want, &why) == 0) {
			lost_logged = 0;
			if (xb_apply(&have, &want, &o, "pharos-control state") < 0)
				break;
		} else {
			if (fd < 0)
				why = "cannot connect";
			if (fd >= 0)
				close(fd);
			fd = -1;
			if (!lost_logged)
				xb_log("lost pharos-control at %s (%s): withdrawing", o.socket, why);
			lost_logged = 1;
			if (xb_apply(&have, &none, &o, "pharos-control lost") < 0)
				break;
		}
		while (!xb_quit) {
			int64_t left = next - xb_now_ms();

			if (left <= 0)
				break;
			if (poll(&in, 1, (int)left) > 0 && xb_stdin() < 0)
				return 0;	/* ExaBGP closed our stdin: it is stopping */
		}
	}
	return 0;
}
