/* pharos-serve: serve zone files with no config file (dataplane + control as children). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dname.h"
#include "dns.h"
#include "pharos/err.h"

#define SERVE_TICK_MS		100	/* main loop period */
#define SERVE_CHECK_MS		200	/* readiness probe period */
#define SERVE_QUERY_MS		500	/* wait for one SOA answer */
#define SERVE_STOP_MS		10000	/* SIGTERM grace before SIGKILL */
#define SERVE_REPLY_MAX		(1u << 20)

struct serve_zone {
	char origin[DNAME_TXT_MAX];	/* lowercased, absolute */
	char file[PATH_MAX];		/* absolute */
	uint8_t wire[DNAME_MAX];
	size_t wire_len;
};

struct serve {
	char **listen;
	int nlisten;
	char **service;			/* --service, passed on */
	int nservice;
	const char *backend;		/* NULL: the dataplane's default (socket) */
	const char *iface, *eal, *cpus;
	int busy_poll;
	const char *nsid, *identity, *version;	/* NULL: the dataplane's defaults */
	int hide_nsid, hide_identity, hide_version;
	char probe[80];			/* --service as ADDR:53, when it is the probe address */
	const char *workers;
	const char *control_sock;	/* as given, or in the temp dir */
	struct serve_zone *zones;
	int nzones;
	char tmpdir[256];		/* socket paths in it must fit sun_path */
	char sockbuf[PATH_MAX];
	char conf[PATH_MAX];
	char dpsock[PATH_MAX];
	char dp_bin[PATH_MAX];
	char ctl_bin[PATH_MAX];
	pid_t dp_pid, ctl_pid;
	struct sockaddr_storage dns;	/* first listen address, for the SOA probe */
	socklen_t dns_len;
	sigset_t orig_mask;
};

static void serve_usage(FILE *f)
{
	fprintf(f, "usage: pharos-serve --listen ADDR:PORT [--listen ...] [--workers N]\n"
		   "                    [--control-socket PATH] ORIGIN=ZONEFILE ...\n"
		   "       pharos-serve --backend afxdp --iface IF --service ADDR [--service ...]\n"
		   "                    [--cpus LIST] [--busy-poll] [options] ORIGIN=ZONEFILE ...\n"
		   "       pharos-serve --backend dpdk --eal \"ARGS\" --service ADDR [...]\n"
		   "                    [--cpus LIST] [options] ORIGIN=ZONEFILE ...\n"
		   "  --listen ADDR:PORT   UDP and TCP address (kernel sockets); IPv6 as [::1]:53.\n"
		   "                       Required with the socket backend; with afxdp/dpdk an\n"
		   "                       optional extra kernel-socket address\n"
		   "  --backend NAME       socket (default), afxdp or dpdk: how UDP queries arrive\n"
		   "  --iface IF           afxdp: the interface to attach to (one worker per queue)\n"
		   "  --eal \"ARGS\"         dpdk: EAL arguments, e.g. \"--no-pci --vdev\n"
		   "                       net_af_packet0,iface=veth0 --vdev net_tap0,iface=dtap0\"\n"
		   "  --service ADDR       afxdp/dpdk: service address (repeatable; port 53): UDP\n"
		   "                       queries to it take the fast path, TCP and every other\n"
		   "                       packet go to the kernel, which must own the address\n"
		   "  --busy-poll          afxdp: spin on the rings instead of sleeping in poll()\n"
		   "  --cpus LIST          CPUs to pin the workers to, e.g. 0 or 2,4-7\n"
		   "  --workers N          worker threads (afxdp/dpdk: NIC queues 0..N-1)\n"
		   "  --control-socket PATH  pharosctl socket (default: in the temp state dir)\n"
		   "  --nsid STR           NSID (RFC 5001) sent when asked (default: host name)\n"
		   "  --identity STR       CH TXT id.server. / hostname.bind. (default: host name)\n"
		   "  --version-string STR CH TXT version.server. / version.bind.\n"
		   "                       (default: \"Pharos " PHAROS_VERSION "\")\n"
		   "  --hide-nsid, --hide-identity, --hide-version\n"
		   "                       send no NSID; answer REFUSED to those CH TXT queries\n"
		   "Readiness is probed on the first --listen, else on the first --service port 53.\n"
		   "Prints 'ready' on stdout once every zone answers; SIGTERM or SIGINT stops.\n");
}

/* "example.com" or "example.com." -> "example.com." lowercased, and its wire form. */
static int serve_origin(const char *txt, size_t n, struct serve_zone *z)
{
	if (n == 0 || n + 2 > sizeof(z->origin))
		return PHAROS_EINVAL;
	for (size_t i = 0; i < n; i++)
		z->origin[i] = (char)((txt[i] >= 'A' && txt[i] <= 'Z') ? txt[i] + 32 : txt[i]);
	z->origin[n] = '\0';
	if (z->origin[n - 1] != '.')
		strcat(z->origin, ".");
	return dname_from_text(z->origin, NULL, 0, z->wire, &z->wire_len);
}

/* ORIGIN=ZONEFILE */
static int serve_zone_arg(const char *arg, struct serve_zone *z)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || serve_origin(arg, (size_t)(eq - arg), z) < 0) {
		fprintf(stderr, "pharos-serve: '%s': expected ORIGIN=ZONEFILE\n", arg);
		return PHAROS_EINVAL;
	}
	if (realpath(eq + 1, z->file) == NULL) {
		fprintf(stderr, "pharos-serve: %s: %s\n", eq + 1, strerror(errno));
		return PHAROS_EIO;
	}
	if (strpbrk(z->file, " \t\r\n") != NULL) {
		fprintf(stderr, "pharos-serve: %s: paths with spaces are not supported\n", z->file);
		return PHAROS_EINVAL;
	}
	return 0;
}

/* Fill s from the command line; 2 = usage error, 1 = other error, 0 = ok. */
static int serve_args(int argc, char **argv, struct serve *s)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "control-socket", required_argument, NULL, 'c' },
		{ "backend", required_argument, NULL, 'b' },
		{ "iface", required_argument, NULL, 'i' },
		{ "eal", required_argument, NULL, 'e' },
		{ "service", required_argument, NULL, 'S' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "busy-poll", no_argument, NULL, 'B' },
		{ "nsid", required_argument, NULL, 'N' },
		{ "identity", required_argument, NULL, 'D' },
		{ "version-string", required_argument, NULL, 'V' },
		{ "hide-nsid", no_argument, NULL, 'n' },
		{ "hide-identity", no_argument, NULL, 'd' },
		{ "hide-version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	s->listen = calloc((size_t)argc, sizeof(char *));
	s->service = calloc((size_t)argc, sizeof(char *));
	if (s->listen == NULL || s->service == NULL)
		return 1;
	while ((ch = getopt_long(argc, argv, "l:w:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': s->listen[s->nlisten++] = optarg; break;
		case 'w': s->workers = optarg; break;
		case 'c': s->control_sock = optarg; break;
		case 'b': s->backend = optarg; break;
		case 'i': s->iface = optarg; break;
		case 'e': s->eal = optarg; break;
		case 'S': s->service[s->nservice++] = optarg; break;
		case 'C': s->cpus = optarg; break;
		case 'B': s->busy_poll = 1; break;
		case 'N': s->nsid = optarg; break;
		case 'D': s->identity = optarg; break;
		case 'V': s->version = optarg; break;
		case 'n': s->hide_nsid = 1; break;
		case 'd': s->hide_identity = 1; break;
		case 'v': s->hide_version = 1; break;
		case 'h': return serve_usage(stdout), -1;
		default: return 2;
		}
	}
	if ((s->nlisten == 0 && s->nservice == 0) || optind == argc)
		return 2;
	s->nzones = argc - optind;
	s->zones = calloc((size_t)s->nzones, sizeof(*s->zones));
	if (s->zones == NULL)
		return 1;
	for (int i = 0; i < s->nzones; i++)
		if (serve_zone_arg(argv[optind + i], &s->zones[i]) < 0)
			return 1;
	return 0;
}

/*
 * The first --listen, else the first --service on port 53, as the address the readiness
 * probe queries (wildcards -> loopback).
 */
static int serve_probe_addr(struct serve *s)
{
	char host[256];
	const char *arg, *colon;

	if (s->nlisten > 0) {
		arg = s->listen[0];
	} else {
		snprintf(s->probe, sizeof(s->probe), "%s:53", s->service[0]);
		arg = s->probe;
	}
	colon = strrchr(arg, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
	size_t n;

	if (colon == NULL || colon == arg)
		goto bad;
	n = (size_t)(colon - arg);
	if (arg[0] == '[' && arg[n - 1] == ']') {
		arg++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, arg, n);
	host[n] = '\0';
	if (strcmp(host, "0.0.0.0") == 0)
		strcpy(host, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		strcpy(host, "::1");
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		goto bad;
	memcpy(&s->dns, ai->ai_addr, ai->ai_addrlen);
	s->dns_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	if (s->nlisten > 0)
		fprintf(stderr, "pharos-serve: --listen %s: expected ADDR:PORT or [ADDR6]:PORT\n",
			s->listen[0]);
	else
		fprintf(stderr, "pharos-serve: --service %s: expected ADDR or [ADDR6]\n",
			s->service[0]);
	return PHAROS_EINVAL;
}

static int serve_is_exe(const char *path)
{
	return access(path, X_OK) == 0;
}

/* Next to us, then in the build tree's SUBDIR, then in PATH. */
static int serve_find(const char *name, const char *subdir, char *out, size_t cap)
{
	char self[PATH_MAX], *dir, *path, *save = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		if (snprintf(out, cap, "%s/%s", dir, name) < (int)cap && serve_is_exe(out))
			return 0;
		if (snprintf(out, cap, "%s/../%s/%s", dir, subdir, name) < (int)cap &&
		    serve_is_exe(out))
			return 0;
	}
	path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	for (char *d = path ? strtok_r(path, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		if (snprintf(out, cap, "%s/%s", d, name) < (int)cap && serve_is_exe(out)) {
			free(path);
			return 0;
		}
	}
	free(path);
	fprintf(stderr, "pharos-serve: cannot find %s (next to pharos-serve, in ../%s/, "
			"or in PATH)\n", name, subdir);
	return PHAROS_ENOTFOUND;
}

/* The temp state dir and the config pharos-control reads from it. */
static int serve_write_conf(struct serve *s)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/pharos-serve.XXXXXX", tmp) >=
	    (int)sizeof(s->tmpdir) || mkdtemp(s->tmpdir) == NULL) {
		fprintf(stderr, "pharos-serve: mkdtemp %s: %s\n", s->tmpdir, strerror(errno));
		s->tmpdir[0] = '\0';
		return PHAROS_EIO;
	}
	snprintf(s->conf, sizeof(s->conf), "%s/pharos.conf", s->tmpdir);
	snprintf(s->dpsock, sizeof(s->dpsock), "%s/dataplane.sock", s->tmpdir);
	if (s->control_sock == NULL) {
		snprintf(s->sockbuf, sizeof(s->sockbuf), "%s/control.sock", s->tmpdir);
		s->control_sock = s->sockbuf;
	} else if (s->control_sock[0] != '/') {	/* the config resolves it elsewhere */
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(s->sockbuf, sizeof(s->sockbuf), "%s/%s", cwd, s->control_sock) >=
			    (int)sizeof(s->sockbuf))
			return PHAROS_ESPACE;
		s->control_sock = s->sockbuf;
	}
	if (strpbrk(s->tmpdir, " \t") || strpbrk(s->control_sock, " \t")) {
		fprintf(stderr, "pharos-serve: paths with spaces are not supported\n");
		return PHAROS_EINVAL;
	}
	f = fopen(s->conf, "w");
	if (f == NULL)
		return PHAROS_EIO;
	fprintf(f, "# written by pharos-serve\nstate-dir %s\ncontrol-socket %s\n"
		   "dataplane-socket %s\n", s->tmpdir, s->control_sock, s->dpsock);
	for (int i = 0; i < s->nzones; i++)
		fprintf(f, "zone %s file=%s\n", s->zones[i].origin, s->zones[i].file);
	return fclose(f) == 0 ? 0 : PHAROS_EIO;
}

/* fork + exec; the child dies with us and is out of our terminal's process group. */
static pid_t serve_spawn(struct serve *s, char *const argv[])
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &s->orig_mask, NULL);
	execv(argv[0], argv);
	fprintf(stderr, "pharos-serve: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The dataplane's arguments besides --listen and --service: 26 at most, with the NULL. */
#define SERVE_DP_ARGS	32

static int serve_start_children(struct serve *s)
{
	char **dv = calloc((size_t)(s->nlisten + s->nservice) * 2 + SERVE_DP_ARGS,
			   sizeof(char *));
	int n = 0;

	if (dv == NULL)
		return PHAROS_ENOMEM;
	dv[n++] = s->dp_bin;
	for (int i = 0; i < s->nlisten; i++) {
		dv[n++] = "--listen";
		dv[n++] = s->listen[i];
	}
	dv[n++] = "--socket";
	dv[n++] = s->dpsock;
	dv[n++] = "--state-dir";	/* our temp dir: empty at start, so nothing is served early */
	dv[n++] = s->tmpdir;
	if (s->workers != NULL) {
		dv[n++] = "--workers";
		dv[n++] = (char *)s->workers;
	}
	for (int i = 0; i < s->nservice; i++) {
		dv[n++] = "--service";
		dv[n++] = s->service[i];
	}
	const char *opt[][2] = { { "--backend", s->backend }, { "--iface", s->iface },
				 { "--eal", s->eal }, { "--cpus", s->cpus },
				 { "--nsid", s->nsid }, { "--identity", s->identity },
				 { "--version-string", s->version } };
	const struct { const char *name; int on; } flag[] = {
		{ "--busy-poll", s->busy_poll }, { "--hide-nsid", s->hide_nsid },
		{ "--hide-identity", s->hide_identity }, { "--hide-version", s->hide_version } };

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		if (opt[i][1] != NULL) {
			dv[n++] = (char *)opt[i][0];
			dv[n++] = (char *)opt[i][1];
		}
	}
	for (size_t i = 0; i < sizeof(flag) / sizeof(flag[0]); i++)
		if (flag[i].on)
			dv[n++] = (char *)flag[i].name;
	s->dp_pid = serve_spawn(s, dv);
	free(dv);
	if (s->dp_pid < 0)
		return PHAROS_EIO;
	char *cv[] = { s->ctl_bin, "-c", s->conf, "-f", NULL };

	s->ctl_pid = serve_spawn(s, cv);
	return s->ctl_pid < 0 ? PHAROS_EIO : 0;
}

/* ---- readiness ---- */

/* One request over the control socket; *body malloc'd. 0, or <0 while it is not up yet. */
static int serve_control(const struct serve *s, const char *req, char **body)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char head[64];
	size_t got = 0, len = 0, want = sizeof(head) - 1;
	int fd, rc = PHAROS_EIO;

	*body = NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->control_sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		goto out;
	while (got < want) {	/* header, one byte at a time, then the body */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *dst = *body ? *body + got : head + got;
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0 || (n = read(fd, dst, *body ? want - got : 1)) <= 0)
			goto out;
		got += (size_t)n;
		if (*body == NULL && head[got - 1] == '\n') {
			head[got] = '\0';
			if (sscanf(head, "%*s %zu", &len) != 1 || len > SERVE_REPLY_MAX ||
			    (*body = calloc(1, len + 1)) == NULL)
				goto out;
			got = 0;
			want = len;
		}
	}
	rc = *body ? 0 : PHAROS_EPROTO;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

/*
 * From the text of "zones": 1 when every zone is loaded, 0 while some are pending,
 * PHAROS_EZONE (message printed) when one failed to load.
 */
static int serve_zones_state(const struct serve *s, char *text)
{
	int loaded = 0, rc = 1;

	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char origin[DNAME_TXT_MAX], state[32];

		if (l[0] == ' ' || sscanf(l, "%1023s %31s", origin, state) != 2)
			continue;
		if (strcmp(state, "failed") == 0) {
			char *err = strtok_r(NULL, "\n", &save);

			if (err != NULL && err[0] != ' ')
				err = NULL;
			fprintf(stderr, "pharos-serve: zone %s cannot be served%s%s\n", origin,
				err ? ":" : "", err ? err + 1 : "");
			return PHAROS_EZONE;
		}
		if (strcmp(state, "loaded") == 0)
			loaded++;
		else
			rc = 0;
	}
	return loaded == s->nzones ? rc : 0;
}

/* Send a SOA query for z to the first listen address: 1 on NOERROR with AA, else 0. */
static int serve_probe_zone(const struct serve *s, const struct serve_zone *z)
{
	uint8_t q[DNS_HDR_LEN + DNAME_MAX + 4], r[512];
	uint16_t id = (uint16_t)(rand() & 0xffff);
	struct pollfd pfd = { .events = POLLIN };
	size_t qlen = DNS_HDR_LEN + z->wire_len + 4;
	ssize_t n = -1;
	int fd = socket(s->dns.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	memset(q, 0, DNS_HDR_LEN);
	dns_put16(q, id);
	dns_put16(q + 4, 1);
	memcpy(q + DNS_HDR_LEN, z->wire, z->wire_len);
	dns_put16(q + DNS_HDR_LEN + z->wire_len, DNS_T_SOA);
	dns_put16(q + DNS_HDR_LEN + z->wire_len + 2, DNS_C_IN);
	pfd.fd = fd;
	if (connect(fd, (const struct sockaddr *)&s->dns, s->dns_len) == 0 &&
	    send(fd, q, qlen, 0) == (ssize_t)qlen && poll(&pfd, 1, SERVE_QUERY_MS) > 0)
		n = recv(fd, r, sizeof(r), 0);
	close(fd);
	return n >= DNS_HDR_LEN && dns_get16(r) == id && (r[2] & DNS_F2_QR) &&
	       (r[2] & DNS_F2_AA) && (r[3] & 0x0f) == DNS_R_NOERROR;
}

/* 1 when ready, 0 not yet, PHAROS_EZONE when a zone failed. */
static int serve_ready(const struct serve *s)
{
	char *body;
	int rc;

	if (serve_control(s, "zones\n", &body) < 0)
		return 0;
	rc = serve_zones_state(s, body);
	free(body);
	for (int i = 0; rc == 1 && i < s->nzones; i++)
		rc = serve_probe_zone(s, &s->zones[i]);
	return rc;
}

/* ---- children and shutdown ---- */

static int64_t serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *serve_child_name(const struct serve *s, pid_t pid)
{
	return pid == s->dp_pid ? "pharos-dataplane" : "pharos-control";
}

/* Report how a child ended; 0 when it exited with status 0. */
static int serve_reaped(const struct serve *s, pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "pharos-serve: %s exited with status %d\n",
			serve_child_name(s, pid), WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "pharos-serve: %s killed by signal %d\n",
			serve_child_name(s, pid), WTERMSIG(status));
	return 1;
}

/* SIGTERM, wait, SIGKILL after the grace period. 0 when it exited cleanly. */
static int serve_stop(struct serve *s, pid_t *pid)
{
	int64_t deadline = serve_now_ms() + SERVE_STOP_MS;
	int status = 0, killed = 0;

	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	while (waitpid(*pid, &status, WNOHANG) == 0) {
		if (!killed && serve_now_ms() > deadline) {
			fprintf(stderr, "pharos-serve: %s ignores SIGTERM; killing it\n",
				serve_child_name(s, *pid));
			kill(*pid, SIGKILL);
			killed = 1;
		}
		usleep(20000);
	}
	status = serve_reaped(s, *pid, status);
	*pid = 0;
	return status;
}

static int serve_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "pharos-serve: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Stop control then the dataplane, remove the temp dir. Returns the exit code to use. */
static int serve_shutdown(struct serve *s, int code)
{
	if (serve_stop(s, &s->ctl_pid) != 0)
		code = 1;
	if (serve_stop(s, &s->dp_pid) != 0)
		code = 1;
	if (s->tmpdir[0] != '\0')
		nftw(s->tmpdir, serve_rm, 8, FTW_DEPTH | FTW_PHYS);
	return code;
}

/* A child ended on its own: 1 (after noting which), else 0. */
static int serve_child_died(struct serve *s)
{
	int status;
	pid_t pid = waitpid(-1, &status, WNOHANG);

	if (pid <= 0 || (pid != s->dp_pid && pid != s->ctl_pid))
		return 0;
	if (serve_reaped(s, pid, status) == 0)
		fprintf(stderr, "pharos-serve: %s exited\n", serve_child_name(s, pid));
	if (pid == s->dp_pid)
		s->dp_pid = 0;
	else
		s->ctl_pid = 0;
	return 1;
}

/*
 * Wait for a signal or the next tick. SIGTERM and SIGINT return 1 (stop); SIGHUP is passed
 * to pharos-control (reload the zone files).
 */
static int serve_wait(struct serve *s, const sigset_t *set)
{
	struct timespec ts = { 0, SERVE_TICK_MS * 1000000L };
	int sig = sigtimedwait(set, NULL, &ts);

	if (sig == SIGHUP && s->ctl_pid > 0)
		kill(s->ctl_pid, SIGHUP);
	return sig == SIGTERM || sig == SIGINT;
}

static int serve_run(struct serve *s, const sigset_t *set)
{
	int64_t next_check = 0;
	int ready = 0, rc;

	for (;;) {
		if (serve_wait(s, set))
			return serve_shutdown(s, 0);
		if (serve_child_died(s))
			return serve_shutdown(s, 1);
		if (ready || serve_now_ms() < next_check)
			continue;
		next_check = serve_now_ms() + SERVE_CHECK_MS;
		rc = serve_ready(s);
		if (rc < 0)
			return serve_shutdown(s, 1);
		if (rc == 1) {
			printf("ready\n");
			fflush(stdout);
			ready = 1;
		}
	}
}

static void serve_free(struct serve *s)
{
	free(s->listen);
	free(s->service);
	free(s->zones);
}

/* Find the binaries, write the config, start both daemons. 0 or an exit code. */
static int serve_setup(struct serve *s)
{
	if (serve_probe_addr(s) < 0)
		return 2;
	if (serve_find("pharos-dataplane", "dataplane", s->dp_bin, sizeof(s->dp_bin)) < 0 ||
	    serve_find("pharos-control", "control", s->ctl_bin, sizeof(s->ctl_bin)) < 0)
		return 1;
	if (serve_write_conf(s) < 0 || serve_start_children(s) < 0)
		return serve_shutdown(s, 1);
	fprintf(stderr, "pharos-serve: control socket %s (pharosctl -s %s status)\n",
		s->control_sock, s->control_sock);
	return 0;
}

int main(int argc, char **argv)
{
	struct serve s = { 0 };
	sigset_t set;
	int rc;

	rc = serve_args(argc, argv, &s);
	if (rc != 0) {
		if (rc == 2)
			serve_usage(stderr);
		serve_free(&s);
		return rc < 0 ? 0 : rc;
	}
	srand((unsigned)(time(NULL) ^ getpid()));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);	/* blocked, so that child deaths wake sigtimedwait */
	sigprocmask(SIG_BLOCK, &set, &s.orig_mask);
	signal(SIGPIPE, SIG_IGN);	/* children get it back (serve_spawn) */
	rc = serve_setup(&s);
	if (rc == 0 && s.ctl_pid > 0)
		rc = serve_run(&s, &set);
	serve_free(&s);
	return rc;
}
