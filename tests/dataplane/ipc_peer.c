/* Test peer on the dataplane's management socket: load, expire, status, and a NOTIFY subscriber. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pharos/err.h"
#include "dpconn.h"

/*
 * What the subscriber does: answer with the right id, with wrong ids only, or not at all;
 * busy answers too, but never waits idle: it sends STATUS requests back to back, so every
 * NOTIFY arrives while a request waits for its reply (dpconn queues it, then delivers).
 */
enum peer_mode { PEER_ANSWER, PEER_BOGUS, PEER_SILENT, PEER_BUSY };

static volatile sig_atomic_t peer_quit;

static void peer_on_signal(int sig)
{
	(void)sig;
	peer_quit = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipc_peer SOCKET load ORIGIN PATH [expired]\n"
		"       ipc_peer SOCKET unload ORIGIN\n"
		"       ipc_peer SOCKET expire ORIGIN 0|1\n"
		"       ipc_peer SOCKET status\n"
		"       ipc_peer SOCKET subscribe [answer|bogus|silent|busy]\n"
		"subscribe: prints 'subscribed', then per relayed NOTIFY one line\n"
		"  'notify ID udp|tcp SRC DST LEN QID' and answers it (answer: the NOTIFY with\n"
		"  QR and AA set, NOERROR, question only; bogus: the same under ids ID+1000 and 0;\n"
		"  silent: nothing; busy: answer, while sending STATUS requests non-stop), until\n"
		"  SIGTERM.\n");
}

static void peer_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(out, cap, "family-%u", ss->ss_family);
	}
}

/* Header + question of msg, QR and AA set, NOERROR, no records. Returns the length. */
static size_t peer_response(const uint8_t *msg, size_t len, uint8_t *out)
{
	size_t off = 12;

	memcpy(out, msg, 12);
	out[2] |= 0x80 | 0x04;
	out[3] &= 0xF0;
	memset(out + 6, 0, 6);
	if ((msg[4] << 8 | msg[5]) != 1) {
		out[4] = out[5] = 0;
		return 12;
	}
	while (off < len && msg[off] != 0 && msg[off] < 64)
		off += 1 + (size_t)msg[off];
	if (off >= len || msg[off] != 0 || off + 5 > len) {
		out[4] = out[5] = 0;
		return 12;
	}
	off += 5;
	memcpy(out + 12, msg + 12, off - 12);
	return off;
}

struct peer {
	struct dpconn c;
	enum peer_mode mode;
};

static void peer_on_notify(void *ctx, const struct ipc_notify *n)
{
	struct peer *p = ctx;
	char src[80], dst[80];
	uint8_t resp[IPC_NOTIFY_MAX];
	size_t rlen;
	int rc = 0;

	peer_addr(&n->src, src, sizeof(src));
	peer_addr(&n->dst, dst, sizeof(dst));
	printf("notify %" PRIu64 " %s %s %s %u %u\n", n->id,
	       n->transport == IPC_TRANSPORT_TCP ? "tcp" : "udp", src, dst, n->len,
	       n->len >= 2 ? (unsigned)(n->msg[0] << 8 | n->msg[1]) : 0);
	if (n->len < 12 || n->len > IPC_NOTIFY_MAX || p->mode == PEER_SILENT)
		return;
	rlen = peer_response(n->msg, n->len, resp);
	if (p->mode == PEER_BOGUS) {
		rc = dpconn_notify_answer(&p->c, n->id + 1000, resp, rlen);
		if (rc == 0)
			rc = dpconn_notify_answer(&p->c, 0, resp, rlen);
	} else {
		rc = dpconn_notify_answer(&p->c, n->id, resp, rlen);
	}
	if (rc < 0)
		fprintf(stderr, "ipc_peer: answer %" PRIu64 ": %s\n", n->id, pharos_strerror(rc));
}

static int peer_subscribe(struct peer *p)
{
	char msg[IPC_MSG_MAX];
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = peer_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	dpconn_set_notify(&p->c, peer_on_notify, p);
	rc = dpconn_subscribe(&p->c, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "ipc_peer: subscribe: %s: %s\n", pharos_strerror(rc), msg);
		return 1;
	}
	printf("subscribed: %s\n", msg);
	while (!peer_quit && p->mode == PEER_BUSY) {
		struct dpconn_status st;

		if (dpconn_status(&p->c, &st) < 0) {
			fprintf(stderr, "ipc_peer: status failed\n");
			return 1;
		}
		dpconn_status_free(&st);
		poll(NULL, 0, 20);
	}
	while (!peer_quit) {
		struct pollfd pfd = { .fd = p->c.fd, .events = POLLIN };

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if (dpconn_drain(&p->c) < 0) {
			fprintf(stderr, "ipc_peer: the dataplane closed the connection\n");
			return 1;
		}
	}
	return 0;
}

static int peer_status(struct dpconn *c)
{
	struct dpconn_status st;
	int rc = dpconn_status(c, &st);

	if (rc < 0) {
		fprintf(stderr, "ipc_peer: status: %s\n", pharos_strerror(rc));
		return 1;
	}
	for (size_t i = 0; i < st.zone_count; i++)
		printf("zone %s serial %u flags %u%s\n", st.zones[i].origin, st.zones[i].serial,
		       st.zones[i].flags,
		       (st.zones[i].flags & IPC_ZONE_EXPIRED) ? " expired" : "");
	for (size_t i = 0; i < st.worker_count; i++) {
		const struct ipc_worker_info *w = &st.workers[i];

		printf("worker %u%s rx %" PRIu64 " servfail %" PRIu64 " expired %" PRIu64
		       " notify_relayed %" PRIu64 " notify_answered %" PRIu64
		       " notify_dropped %" PRIu64 "\n", w->worker,
		       i + 1 == st.worker_count ? " tcp" : "", w->rx, w->servfail, w->expired,
		       w->notify_relayed, w->notify_answered, w->notify_dropped);
	}
	dpconn_status_free(&st);
	return 0;
}

/* load / unload / expire: print the dataplane's text; exit 0 only on success. */
static int peer_request(struct dpconn *c, int argc, char **argv)
{
	char msg[IPC_MSG_MAX] = "";
	int rc;

	if (strcmp(argv[0], "load") == 0 && argc == 3)
		rc = dpconn_load(c, argv[1], argv[2], msg, sizeof(msg));
	else if (strcmp(argv[0], "load") == 0 && argc == 4 && strcmp(argv[3], "expired") == 0)
		rc = dpconn_load_flags(c, argv[1], argv[2], IPC_LOAD_EXPIRED, msg, sizeof(msg));
	else if (strcmp(argv[0], "unload") == 0 && argc == 2)
		rc = dpconn_unload(c, argv[1], msg, sizeof(msg));
	else if (strcmp(argv[0], "expire") == 0 && argc == 3)
		rc = dpconn_expire(c, argv[1], atoi(argv[2]), msg, sizeof(msg));
	else {
		usage(stderr);
		return 2;
	}
	printf("%s: %s\n", rc < 0 ? pharos_strerror(rc) : "ok", msg);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct peer p;
	int rc;

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	dpconn_init(&p.c);
	rc = dpconn_connect(&p.c, argv[1]);
	if (rc < 0) {
		fprintf(stderr, "ipc_peer: %s: %s\n", argv[1], pharos_strerror(rc));
		return 1;
	}
	if (strcmp(argv[2], "status") == 0 && argc == 3)
		rc = peer_status(&p.c);
	else if (strcmp(argv[2], "subscribe") == 0 && argc <= 4) {
		const char *m = argc == 4 ? argv[3] : "answer";

		p.mode = strcmp(m, "bogus") == 0 ? PEER_BOGUS :
			 strcmp(m, "silent") == 0 ? PEER_SILENT :
			 strcmp(m, "busy") == 0 ? PEER_BUSY : PEER_ANSWER;
		rc = peer_subscribe(&p);
	} else
		rc = peer_request(&p.c, argc - 2, argv + 2);
	dpconn_close(&p.c);
	return rc;
}
