/* Route hooks: BIRD include file + reload, birdc enable/disable, operator command; jobs run async. */
#include "route.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pharos/err.h"

#define ROUTE_BIRD	0
#define ROUTE_EXABGP	1
#define ROUTE_COMMAND	2

void route_stamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

void route_init(struct route *r)
{
	memset(r, 0, sizeof(*r));
}

char *route_prefixes(const struct acconf *a, unsigned hook, int announce, int family,
		     char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	if (!announce)
		return out;
	for (size_t i = 0; i < a->prefix_count; i++) {
		const struct acconf_prefix *p = &a->prefixes[i];
		int w;

		if (!(p->hooks & hook) || (family != 0 && p->family != family))
			continue;
		w = snprintf(out + n, cap - n, "%s%s", n ? " " : "", p->text);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	return out;
}

int route_bird_write(const char *path, const struct acconf *a, int announce,
		     const char *state)
{
	char tmp[4096 + 16], stamp[40];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return PHAROS_EIO;
	fd = mkstemp(tmp);
	if (fd < 0)
		return PHAROS_EIO;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return PHAROS_EIO;
	}
	route_stamp(stamp, sizeof(stamp));
	fprintf(f, "# written by pharos-control at %s: state %s, %s\n", stamp, state,
		announce ? "announce" : "withdraw (no routes)");
	for (int fam = 0; fam < 2; fam++) {
		fprintf(f, "protocol static pharos%d {\n\t%s;\n", fam ? 6 : 4,
			fam ? "ipv6" : "ipv4");
		for (size_t i = 0; announce && i < a->prefix_count; i++) {
			const struct acconf_prefix *p = &a->prefixes[i];

			if ((p->hooks & ACCONF_HOOK_BIRD) &&
			    p->family == (fam ? AF_INET6 : AF_INET))
				fprintf(f, "\troute %s blackhole;\n", p->text);
		}
		fprintf(f, "}\n");
	}
	if (fflush(f) != 0 || fsync(fd) != 0 || fchmod(fd, 0644) != 0) {
		fclose(f);
		unlink(tmp);
		return PHAROS_EIO;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return PHAROS_EIO;
	}
	return 0;
}

/* Child side: default signals, run argv to its end; returns its exit status. */
static int route_child_run(char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return 127;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "pharos-control: route hook: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Set PHAROS_* for the command hook. */
static void route_child_env(const struct acconf *a, const struct route_want *w)
{
	char buf[ROUTE_TEXT_MAX];

	setenv("PHAROS_STATE", w->state, 1);
	setenv("PHAROS_ACTION", w->announce ? "announce" : "withdraw", 1);
	setenv("PHAROS_REASON", w->reason ? w->reason : "", 1);
	setenv("PHAROS_PREFIXES", route_prefixes(a, ACCONF_HOOK_COMMAND, w->announce, 0, buf,
						 sizeof(buf)), 1);
	setenv("PHAROS_PREFIXES4", route_prefixes(a, ACCONF_HOOK_COMMAND, w->announce, AF_INET,
						  buf, sizeof(buf)), 1);
	setenv("PHAROS_PREFIXES6", route_prefixes(a, ACCONF_HOOK_COMMAND, w->announce,
						  AF_INET6, buf, sizeof(buf)), 1);
	setenv("PHAROS_ALL_PREFIXES", route_prefixes(a, ACCONF_HOOK_COMMAND, 1, 0, buf,
						     sizeof(buf)), 1);
}

/* The job of a hook, in a forked child: run its commands in order, exit with the first failure. */
static void __attribute__((noreturn)) route_child(int i, const struct acconf *a,
						  const struct route_want *w)
{
	sigset_t none;
	char *argv[ACCONF_WORDS_MAX + 3];
	int rc = 0, n = 0;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);		/* killable as a group */
	if (i == ROUTE_COMMAND) {
		route_child_env(a, w);
		_exit(route_child_run(a->command.argv));
	}
	if (a->bird_include != NULL)
		rc = route_child_run(a->bird_reload.argv);
	if (rc == 0 && a->bird_protocol != NULL) {
		while (a->birdc.argv[n] != NULL && n < ACCONF_WORDS_MAX) {
			argv[n] = a->birdc.argv[n];
			n++;
		}
		argv[n++] = (char *)(w->announce ? "enable" : "disable");
		argv[n++] = a->bird_protocol;
		argv[n] = NULL;
		rc = route_child_run(argv);
	}
	_exit(rc);
}

/* Start hook i's job for the wanted state. */
static void route_start(struct route *r, int i, const struct acconf *a, int64_t now)
{
	struct route_hook *h = &r->hook[i];
	pid_t pid;

	if (i == ROUTE_BIRD && a->bird_include != NULL &&
	    route_bird_write(a->bird_include, a, r->last.announce, r->last.state) < 0) {
		log_msg(LOG_ERR, "route hook bird: cannot write %s: %s", a->bird_include,
			strerror(errno));
		h->failed = 1;
		snprintf(h->applied, sizeof(h->applied), "%s", h->want);
		return;
	}
	snprintf(h->applied, sizeof(h->applied), "%s", h->want);
	if (i == ROUTE_EXABGP)
		return;		/* pharos-exabgp reads the state over the operator socket */
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		log_msg(LOG_ERR, "route hook %s: fork: %s", acconf_hook_name(1u << i),
			strerror(errno));
		h->failed = 1;
		return;
	}
	if (pid == 0)
		route_child(i, a, &r->last);
	h->pid = pid;
	h->started_ms = now;
}

/* Fill want of every hook from the last input. */
static void route_wants(struct route *r, const struct acconf *a)
{
	unsigned hooks = acconf_hooks(a);
	char pfx[ROUTE_TEXT_MAX - 64];

	for (int i = 0; i < ROUTE_HOOKS; i++) {
		struct route_hook *h = &r->hook[i];

		if (!(hooks & (1u << i))) {
			h->want[0] = '\0';
			continue;
		}
		route_prefixes(a, 1u << i, r->last.announce, 0, pfx, sizeof(pfx));
		/* the command hook hears every state change, the others only route changes */
		snprintf(h->want, sizeof(h->want), "%s|%s",
			 i == ROUTE_COMMAND ? r->last.state : r->last.announce ? "a" : "w", pfx);
	}
}

static void route_log_change(struct route *r, const struct acconf *a, const struct route_want *w)
{
	char pfx[ROUTE_TEXT_MAX], hooks[64] = "", stamp[40];
	unsigned hk = acconf_hooks(a);

	for (int i = 0; i < ROUTE_HOOKS; i++)
		if (hk & (1u << i))
			snprintf(hooks + strlen(hooks), sizeof(hooks) - strlen(hooks), "%s%s",
				 hooks[0] ? "," : "", acconf_hook_name(1u << i));
	route_stamp(stamp, sizeof(stamp));
	route_prefixes(a, ~0u, 1, 0, pfx, sizeof(pfx));
	log_msg(LOG_NOTICE, "%s %s %s via %s (state %s: %s)", stamp,
		w->announce ? "announce" : "withdraw", pfx[0] ? pfx : "(no prefix)",
		hooks[0] ? hooks : "no hook", w->state, w->reason ? w->reason : "");
	r->announced = w->announce;
}

void route_update(struct route *r, const struct acconf *a, const struct route_want *w,
		  int64_t now)
{
	snprintf(r->last_state, sizeof(r->last_state), "%s", w->state);
	snprintf(r->last_reason, sizeof(r->last_reason), "%s", w->reason ? w->reason : "");
	r->last = (struct route_want){ w->announce, r->last_state, r->last_reason };
	if (w->announce != r->announced || r->changed_ms == 0) {
		if (a->prefix_count > 0 && (w->announce != r->announced || w->announce))
			route_log_change(r, a, w);
		r->announced = w->announce;
		r->ever_announced |= w->announce;
		r->changed_ms = now;
	}
	route_wants(r, a);
	route_tick(r, a, now);
}

static void route_reap(struct route *r, int i, int64_t now)
{
	struct route_hook *h = &r->hook[i];
	int st;
	pid_t got = waitpid(h->pid, &st, WNOHANG);

	if (got == 0) {
		if (now - h->started_ms > ROUTE_KILL_MS) {
			log_msg(LOG_ERR, "route hook %s: still running after %d ms, killed",
				acconf_hook_name(1u << i), ROUTE_KILL_MS);
			kill(-h->pid, SIGKILL);
			kill(h->pid, SIGKILL);
		}
		return;
	}
	h->pid = 0;
	if (got < 0)
		return;
	h->failed = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (h->failed)
		log_msg(LOG_ERR, "route hook %s failed (%s %d) after %lld ms",
			acconf_hook_name(1u << i), WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			(long long)(now - h->started_ms));
	else
		log_msg(LOG_INFO, "route hook %s done in %lld ms", acconf_hook_name(1u << i),
			(long long)(now - h->started_ms));
}

void route_tick(struct route *r, const struct acconf *a, int64_t now)
{
	for (int i = 0; i < ROUTE_HOOKS; i++) {
		struct route_hook *h = &r->hook[i];

		if (h->pid > 0)
			route_reap(r, i, now);
		if (h->pid == 0 && h->want[0] != '\0' && strcmp(h->want, h->applied) != 0)
			route_start(r, i, a, now);
	}
}

int route_busy(const struct route *r)
{
	for (int i = 0; i < ROUTE_HOOKS; i++)
		if (r->hook[i].pid > 0 ||
		    (r->hook[i].want[0] != '\0' && strcmp(r->hook[i].want, r->hook[i].applied)))
			return 1;
	return 0;
}
