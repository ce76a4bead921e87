/* Operator socket: accept operators, read request lines, write "CLASS LENGTH\n" + body. */
#include "opsock.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "opcmd.h"
#include "pharos/err.h"

struct opsock_client {
	int fd;			/* -1 = free slot */
	int admin;
	int eof;		/* peer closed its side: close once replies are out */
	char in[OPSOCK_LINE_MAX + 1];
	size_t inlen;
	char *out;		/* reply being written, NULL = none */
	size_t outlen, outoff;
};

struct opsock {
	int lfd[2];		/* [0] admin, [1] read-only; -1 = none */
	char *path[2];
	struct opsock_client cl[OPSOCK_CLIENTS_MAX];
};

/* Is someone answering on the socket at sa? */
static int opsock_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

/* Clear the way for bind(): remove a stale socket file, refuse anything else. */
static int opsock_clear(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", sa->sun_path);
		return PHAROS_EEXIST;
	}
	if (opsock_live(sa)) {
		snprintf(err, errlen, "%s: another daemon answers there", sa->sun_path);
		return PHAROS_EEXIST;
	}
	unlink(sa->sun_path);
	return 0;
}

static void opsock_mkparent(const char *path)
{
	char *copy = strdup(path);

	if (copy != NULL && mkdir(dirname(copy), 0755) < 0 && errno != EEXIST)
		log_msg(LOG_WARNING, "cannot create the directory of %s: %s", path,
			strerror(errno));
	free(copy);
}

static int opsock_listen(const char *path, mode_t mode, int *out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return PHAROS_EINVAL;
	}
	strcpy(sa.sun_path, path);
	opsock_mkparent(path);
	rc = opsock_clear(&sa, err, errlen);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return PHAROS_EIO;
	}
	*out = fd;
	return 0;
}

int opsock_open(const char *admin_path, const char *ro_path, struct opsock **out, char *err,
		size_t errlen)
{
	const char *paths[2] = { admin_path, ro_path };
	const mode_t modes[2] = { 0660, 0666 };
	struct opsock *o = calloc(1, sizeof(*o));
	int rc = 0;

	if (o == NULL)
		return PHAROS_ENOMEM;
	o->lfd[0] = o->lfd[1] = -1;
	for (int i = 0; i < OPSOCK_CLIENTS_MAX; i++)
		o->cl[i].fd = -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if (paths[i] == NULL)
			continue;
		rc = opsock_listen(paths[i], modes[i], &o->lfd[i], err, errlen);
		if (rc == 0 && (o->path[i] = strdup(paths[i])) == NULL)
			rc = PHAROS_ENOMEM;
	}
	if (rc < 0) {
		opsock_close(o);
		return rc;
	}
	*out = o;
	return 0;
}

static void opsock_drop(struct opsock_client *cl)
{
	close(cl->fd);
	free(cl->out);
	cl->fd = -1;
	cl->out = NULL;
	cl->inlen = 0;
	cl->eof = 0;
}

void opsock_close(struct opsock *o)
{
	if (o == NULL)
		return;
	for (int i = 0; i < OPSOCK_CLIENTS_MAX; i++)
		if (o->cl[i].fd >= 0)
			opsock_drop(&o->cl[i]);
	for (int i = 0; i < 2; i++) {
		if (o->lfd[i] >= 0)
			close(o->lfd[i]);
		if (o->path[i] != NULL)
			unlink(o->path[i]);
		free(o->path[i]);
	}
	free(o);
}

int opsock_pollfds(const struct opsock *o, struct pollfd *fds)
{
	int n = 0;

	for (int i = 0; i < 2; i++)
		if (o->lfd[i] >= 0)
			fds[n++] = (struct pollfd){ .fd = o->lfd[i], .events = POLLIN };
	for (int i = 0; i < OPSOCK_CLIENTS_MAX; i++) {
		const struct opsock_client *cl = &o->cl[i];

		if (cl->fd >= 0)
			fds[n++] = (struct pollfd){ .fd = cl->fd,
						    .events = cl->out ? POLLOUT : POLLIN };
	}
	return n;
}

/* Turn a command's class and body into the reply to write. */
static void opsock_reply(struct opsock_client *cl, int cls, const char *body, size_t len)
{
	char head[64];
	int hl = snprintf(head, sizeof(head), "%s %zu\n", opcmd_class_name(cls), len);

	cl->out = malloc((size_t)hl + len);
	if (cl->out == NULL) {
		cl->eof = 1;
		return;
	}
	memcpy(cl->out, head, (size_t)hl);
	memcpy(cl->out + hl, body, len);
	cl->outlen = (size_t)hl + len;
	cl->outoff = 0;
}

/* Run the first complete request line, if any and no reply is pending. */
static void opsock_run_one(struct opsock_client *cl, struct ctl *c)
{
	char *nl, *body = NULL;
	size_t len = 0;
	int cls;

	if (cl->out != NULL)
		return;
	if (cl->eof && cl->inlen > 0 && memchr(cl->in, '\n', cl->inlen) == NULL)
		cl->in[cl->inlen++] = '\n';	/* last line without its newline */
	nl = memchr(cl->in, '\n', cl->inlen);
	if (nl == NULL) {
		if (cl->inlen == OPSOCK_LINE_MAX) {
			static const char msg[] = "request line too long\n";

			opsock_reply(cl, OPCMD_ERROR, msg, sizeof(msg) - 1);
			cl->inlen = 0;
			cl->eof = 1;
		}
		return;
	}
	*nl = '\0';
	cls = opcmd_run(c, cl->admin, cl->in, &body, &len);
	if (cls < 0) {
		static const char msg[] = "out of memory\n";

		opsock_reply(cl, OPCMD_FAIL, msg, sizeof(msg) - 1);
	} else {
		opsock_reply(cl, cls, body, len);
	}
	free(body);
	cl->inlen -= (size_t)(nl + 1 - cl->in);
	memmove(cl->in, nl + 1, cl->inlen);
}

static void opsock_read(struct opsock_client *cl)
{
	ssize_t n = read(cl->fd, cl->in + cl->inlen, OPSOCK_LINE_MAX - cl->inlen);

	if (n > 0)
		cl->inlen += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		cl->eof = 1;
}

static void opsock_write(struct opsock_client *cl)
{
	ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			opsock_drop(cl);
		return;
	}
	cl->outoff += (size_t)n;
	if (cl->outoff == cl->outlen) {
		free(cl->out);
		cl->out = NULL;
	}
}

static void opsock_client_event(struct opsock_client *cl, short revents, struct ctl *c)
{
	if (revents & POLLOUT)
		opsock_write(cl);
	else if (revents & (POLLIN | POLLHUP | POLLERR))
		opsock_read(cl);
	if (cl->fd < 0)
		return;
	opsock_run_one(cl, c);
	if (cl->out == NULL && cl->eof)
		opsock_drop(cl);
}

static void opsock_accept(struct opsock *o, int which)
{
	static const char busy[] = "error 19\ntoo many operators\n";
	int fd = accept4(o->lfd[which], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < OPSOCK_CLIENTS_MAX; i++) {
		struct opsock_client *cl = &o->cl[i];

		if (cl->fd >= 0)
			continue;
		cl->fd = fd;
		cl->admin = which == 0;
		cl->inlen = 0;
		cl->eof = 0;
		return;
	}
	if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg(LOG_WARNING, "operator socket: too many operators");
	close(fd);
}

static struct opsock_client *opsock_find(struct opsock *o, int fd)
{
	for (int i = 0; i < OPSOCK_CLIENTS_MAX; i++)
		if (o->cl[i].fd == fd)
			return &o->cl[i];
	return NULL;
}

void opsock_handle(struct opsock *o, const struct pollfd *fds, int n, struct ctl *c)
{
	for (int i = 0; i < n; i++) {
		struct opsock_client *cl;

		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == o->lfd[0] || fds[i].fd == o->lfd[1]) {
			opsock_accept(o, fds[i].fd == o->lfd[0] ? 0 : 1);
			continue;
		}
		cl = opsock_find(o, fds[i].fd);
		if (cl != NULL)
			opsock_client_event(cl, fds[i].revents, c);
	}
}
