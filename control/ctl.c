/* Zone lifecycle of pharos-control: compile, keep the last good image, load, resync. */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imgstore.h"
#include "log.h"
#include "pharos/err.h"
#include "secondary.h"
#include "zonec.h"

/* Zone compiler diagnostics collected for one zone. */
struct ctl_diag {
	const char *origin;
	char *buf;
	size_t cap;
	int errors;
};

static int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ctl_setmsg(char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ctl_setmsg(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

/* Append "; text" (or text) to a bounded message. */
static void ctl_addmsg(char *dst, size_t cap, const char *text)
{
	size_t n = strlen(dst), t = strlen(text);

	if (n > 0 && n + 2 < cap) {
		memcpy(dst + n, "; ", 2);
		n += 2;
	}
	if (n + t >= cap)
		t = cap - n - 1;	/* truncated: the first errors matter most */
	memcpy(dst + n, text, t);
	dst[n + t] = '\0';
}

const char *ctl_state_name(enum ctl_zone_state s)
{
	static const char *const names[] = { "failed", "pending", "loaded" };

	return names[s];
}

const char *ctl_action_name(enum ctl_action a)
{
	static const char *const names[] = {
		"unchanged", "loaded", "pending", "refused", "unloaded", "note",
	};

	return names[a];
}

enum ctl_zone_state ctl_zone_state(const struct ctl_zone *z)
{
	if (z->loaded && z->have_cur && !z->have_pend)
		return CTL_ZONE_LOADED;
	return (z->have_cur || z->have_pend) ? CTL_ZONE_PENDING : CTL_ZONE_FAILED;
}

/* A new zeroed result for origin at the end of the report, NULL on ENOMEM. */
static struct ctl_result *ctl_result_new(struct ctl_report *rep, const char *origin)
{
	struct ctl_result *r = realloc(rep->res, (rep->count + 1) * sizeof(*r));

	if (r == NULL)
		return NULL;
	rep->res = r;
	r = &rep->res[rep->count++];
	memset(r, 0, sizeof(*r));
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
	return r;
}

void ctl_report_free(struct ctl_report *rep)
{
	free(rep->res);
	memset(rep, 0, sizeof(*rep));
}

/* Log what happened to a zone, one line. */
static void ctl_log_result(const struct ctl_result *r)
{
	const char *sep = r->msg[0] ? ": " : "";

	if (r->action == CTL_NOTE)
		log_msg(LOG_NOTICE, "%s", r->msg);
	else if (r->action == CTL_REFUSED && r->has_serial)
		log_msg(LOG_ERR, "zone %s: refused, still serving serial %u%s%s", r->origin,
			r->serial, sep, r->msg);
	else if (r->action == CTL_REFUSED)
		log_msg(LOG_ERR, "zone %s: refused, not served%s%s", r->origin, sep, r->msg);
	else if (r->has_serial && r->action != CTL_UNLOADED)
		log_msg(LOG_INFO, "zone %s: %s, serial %u%s%s", r->origin,
			ctl_action_name(r->action), r->serial, sep, r->msg);
	else
		log_msg(LOG_INFO, "zone %s: %s%s%s", r->origin, ctl_action_name(r->action), sep,
			r->msg);
}

/* Fill the "now served" part of a result from the zone. */
static void ctl_result_zone(struct ctl_result *r, const struct ctl_zone *z)
{
	const struct ctl_image *img = z->have_pend ? &z->pend : z->have_cur ? &z->cur : NULL;

	if (img == NULL)
		return;
	r->has_serial = 1;
	r->serial = img->serial;
	snprintf(r->image, sizeof(r->image), "%s", img->path);
}

/* ---- the dataplane link ---- */

static void ctl_lost(struct ctl *c)
{
	if (c->dp.stalled)
		log_msg(LOG_WARNING, "the dataplane (%s) does not answer (no reply within %d ms); "
			"reconnecting", c->cfg->dataplane_socket, c->dp.timeout_ms);
	else
		log_msg(LOG_WARNING, "lost the connection to the dataplane (%s); reconnecting",
			c->cfg->dataplane_socket);
	for (size_t i = 0; i < c->zone_count; i++)
		c->zones[i].loaded = 0;
	c->next_connect_ms = ctl_now_ms() + CTL_RETRY_MS;
	c->waiting_logged = 0;
}

/* After any request: notice a connection that the request found broken. */
static int ctl_check_link(struct ctl *c, int was_connected)
{
	if (was_connected && !dpconn_connected(&c->dp)) {
		ctl_lost(c);
		return PHAROS_EIO;
	}
	return 0;
}

static void ctl_prune(struct ctl *c, const struct ctl_zone *z)
{
	int n = imgstore_prune(c->cfg->state_dir, z->origin, z->cur.path, CTL_KEEP_IMAGES);

	if (n > 0)
		log_msg(LOG_INFO, "zone %s: pruned %d old image(s)", z->origin, n);
}

/* Is path one of our compiled images (inside the state directory)? */
static int ctl_in_state_dir(const struct ctl *c, const char *path)
{
	size_t n = strlen(c->cfg->state_dir);

	return strncmp(path, c->cfg->state_dir, n) == 0 && path[n] == '/' &&
	       strchr(path + n + 1, '/') == NULL;
}

/* The dataplane accepted img for z. */
static void ctl_accepted(struct ctl *c, struct ctl_zone *z, const struct ctl_image *img)
{
	z->cur = *img;
	z->have_cur = 1;
	z->have_pend = 0;
	z->loaded = 1;
	z->loaded_at = (int64_t)time(NULL);
	if (ctl_in_state_dir(c, z->cur.path))
		ctl_prune(c, z);
}

/*
 * dpconn_load, but a delta image refused for want of its base (a dataplane that started
 * empty) gets the base loaded first, then the delta again. An expired secondary zone is
 * loaded expired (IPC_LOAD_EXPIRED): a dataplane that restarted empty never answers from
 * it, not even for the round trip an IPC_EXPIRE after the load would take.
 */
static int ctl_load_img(struct ctl *c, const struct ctl_zone *z, const char *path, char *msg,
			size_t len)
{
	const char *base = z->sec ? sec_base_of(z->sec, path) : NULL;
	uint32_t flags = z->sec != NULL && z->sec->expired ? IPC_LOAD_EXPIRED : 0;
	int rc = dpconn_load_flags(&c->dp, z->origin, path, flags, msg, len);

	if (rc == PHAROS_EZONE && base != NULL && dpconn_connected(&c->dp) &&
	    dpconn_load_flags(&c->dp, z->origin, base, flags, msg, len) == 0)
		rc = dpconn_load_flags(&c->dp, z->origin, path, flags, msg, len);
	return rc;
}

/*
 * Send z's pending image (or, with none, its current one) to the dataplane.
 * r->action: LOADED, PENDING (not connected / link lost) or REFUSED.
 */
static void ctl_push(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	struct ctl_image img = z->have_pend ? z->pend : z->cur;
	char msg[IPC_MSG_MAX];
	int rc;

	if (!dpconn_connected(&c->dp)) {
		r->action = CTL_PENDING;
		ctl_addmsg(r->msg, sizeof(r->msg), ctl_dp_stalled(c)
			   ? "dataplane not responding; loads when it answers"
			   : "dataplane not connected; loads when it is");
		return;
	}
	msg[0] = '\0';
	rc = ctl_load_img(c, z, img.path, msg, sizeof(msg));
	if (rc == 0) {
		ctl_accepted(c, z, &img);
		r->action = CTL_LOADED;
		return;
	}
	if (ctl_check_link(c, 1) < 0) {
		r->action = CTL_PENDING;
		ctl_addmsg(r->msg, sizeof(r->msg), "dataplane connection lost; loads when it is back");
		return;
	}
	r->action = CTL_REFUSED;
	ctl_setmsg(z->error, sizeof(z->error), "dataplane refused %s: %s", img.path,
		   msg[0] ? msg : pharos_strerror(rc));
	ctl_addmsg(r->msg, sizeof(r->msg), z->error);
	if (z->have_pend) {
		if (strcmp(z->pend.path, z->cur.path) != 0 && ctl_in_state_dir(c, z->pend.path))
			unlink(z->pend.path);
		z->have_pend = 0;
		z->have_st = 0;		/* compile the file again at the next reload */
	} else {
		z->have_cur = 0;	/* our last good image is gone: recompile on reload */
	}
}

/* Connected, and z has an image the dataplane does not serve yet. */
static int ctl_needs_push(const struct ctl *c, const struct ctl_zone *z)
{
	return dpconn_connected(&c->dp) && (z->have_pend || (z->have_cur && !z->loaded));
}

/*
 * Push z's pending image; when the dataplane refuses it and does not serve the current
 * one either (it just (re)connected), push the current one too.
 */
static void ctl_push_all(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	struct ctl_result again = { .action = CTL_REFUSED };

	ctl_push(c, z, r);
	if (r->action != CTL_REFUSED || !ctl_needs_push(c, z))
		return;
	ctl_push(c, z, &again);
	if (again.action != CTL_LOADED)
		ctl_addmsg(r->msg, sizeof(r->msg), again.msg);
}

void ctl_zone_push(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	ctl_push_all(c, z, r);
}

/* The dataplane serves zones we do not have (we restarted with a smaller config). */
static void ctl_unload_strays(struct ctl *c)
{
	struct dpconn_status st;
	char origin[CONFIG_ORIGIN_MAX], msg[IPC_MSG_MAX];

	if (dpconn_status(&c->dp, &st) < 0) {
		ctl_check_link(c, 1);
		return;
	}
	for (size_t i = 0; i < st.zone_count && dpconn_connected(&c->dp); i++) {
		if (config_origin_normalize(st.zones[i].origin, origin, sizeof(origin)) == 0 &&
		    config_find_zone(c->cfg, origin) != NULL)
			continue;
		if (dpconn_unload(&c->dp, st.zones[i].origin, msg, sizeof(msg)) == 0)
			log_msg(LOG_INFO, "zone %s: unloaded (not in the config)",
				st.zones[i].origin);
	}
	dpconn_status_free(&st);
	ctl_check_link(c, 1);
}

/* Just connected: make the dataplane serve exactly our zones. */
static void ctl_resync(struct ctl *c)
{
	struct ctl_report rep = { 0 };
	struct ctl_result *r;

	ctl_unload_strays(c);
	for (size_t i = 0; i < c->zone_count && dpconn_connected(&c->dp); i++) {
		struct ctl_zone *z = &c->zones[i];

		if (!z->have_cur && !z->have_pend)
			continue;
		r = ctl_result_new(&rep, z->origin);
		if (r == NULL)
			break;
		ctl_push_all(c, z, r);
		ctl_result_zone(r, z);
		ctl_log_result(r);
	}
	ctl_report_free(&rep);
}

/*
 * Connect, and send the hello (a STATUS): the resync waits for its reply, in the event
 * loop, so a dataplane that accepts but answers nothing (frozen) never blocks us.
 */
static void ctl_try_connect(struct ctl *c)
{
	int rc = dpconn_connect(&c->dp, c->cfg->dataplane_socket);

	c->next_connect_ms = ctl_now_ms() + CTL_RETRY_MS;
	if (rc == 0)
		rc = dpconn_hello(&c->dp);
	if (rc < 0) {
		if (!c->waiting_logged)
			log_msg(LOG_NOTICE, "waiting for the dataplane at %s (%s)",
				c->cfg->dataplane_socket, rc == PHAROS_ETIMEOUT
				? "it accepts no connection: not responding" : pharos_strerror(rc));
		c->waiting_logged = 1;
	}
}

/* The hello's reply is in, or it failed: resync, or try again later. */
static void ctl_hello(struct ctl *c)
{
	int rc = dpconn_hello_poll(&c->dp);

	if (rc == 0)
		return;
	if (rc < 0) {
		if (!c->waiting_logged)
			log_msg(LOG_WARNING, "the dataplane at %s %s; retrying",
				c->cfg->dataplane_socket, rc == PHAROS_ETIMEOUT
				? "accepted the connection but answers nothing (not responding)"
				: "closed the connection");
		c->waiting_logged = 1;
		c->next_connect_ms = ctl_now_ms() + CTL_RETRY_MS;
		return;
	}
	c->waiting_logged = 0;
	log_msg(LOG_NOTICE, "connected to the dataplane at %s", c->cfg->dataplane_socket);
	c->next_sample_ms = 0;
	free(c->workers);
	c->workers = NULL;
	c->worker_count = 0;
	ctl_resync(c);
	if (dpconn_connected(&c->dp))
		sec_connected(c);
}

/* Update worker liveness from a status sample. */
static void ctl_sample_workers(struct ctl *c, const struct dpconn_status *st)
{
	int64_t now = ctl_now_ms();

	if (st->worker_count != c->worker_count) {
		struct ctl_worker *w = calloc(st->worker_count ? st->worker_count : 1, sizeof(*w));

		if (w == NULL)
			return;
		free(c->workers);
		c->workers = w;
		c->worker_count = st->worker_count;
		for (size_t i = 0; i < st->worker_count; i++)
			w[i] = (struct ctl_worker){ st->workers[i].loops, now };
		return;
	}
	for (size_t i = 0; i < st->worker_count; i++) {
		if (st->workers[i].loops != c->workers[i].loops)
			c->workers[i].advanced_ms = now;
		c->workers[i].loops = st->workers[i].loops;
	}
}

int ctl_status(struct ctl *c, struct dpconn_status *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	if (!dpconn_connected(&c->dp))
		return PHAROS_EIO;
	rc = dpconn_status(&c->dp, st);
	if (rc < 0) {
		ctl_check_link(c, 1);
		return rc;
	}
	ctl_sample_workers(c, st);
	c->next_sample_ms = ctl_now_ms() + CTL_SAMPLE_MS;
	return 0;
}

int ctl_worker_alive(const struct ctl *c, size_t i)
{
	return i < c->worker_count && ctl_now_ms() - c->workers[i].advanced_ms < CTL_ALIVE_MS;
}

void ctl_tick(struct ctl *c)
{
	struct dpconn_status st;
	int64_t now = ctl_now_ms();

	if (dpconn_hello_pending(&c->dp)) {
		ctl_hello(c);
	} else if (!dpconn_connected(&c->dp)) {
		if (now >= c->next_connect_ms)
			ctl_try_connect(c);
	} else if (now >= c->next_sample_ms && ctl_status(c, &st) == 0) {
		dpconn_status_free(&st);
	}
	sec_tick(c);
}

int ctl_timeout_ms(const struct ctl *c)
{
	int64_t due = dpconn_hello_pending(&c->dp) ? c->dp.hello_deadline
		      : dpconn_connected(&c->dp) ? c->next_sample_ms : c->next_connect_ms;
	int64_t left = due - ctl_now_ms();
	int ms = left < 0 ? 0 : left > CTL_SAMPLE_MS ? CTL_SAMPLE_MS : (int)left;

	return sec_timeout_ms(c, ms);
}

int ctl_dp_fd(const struct ctl *c)
{
	return c->dp.fd;
}

void ctl_dp_event(struct ctl *c)
{
	if (dpconn_hello_pending(&c->dp))
		ctl_hello(c);
	else if (dpconn_drain(&c->dp) < 0)
		ctl_lost(c);
}

int ctl_dp_stalled(const struct ctl *c)
{
	return !dpconn_connected(&c->dp) && c->dp.stalled;
}

/* ---- compiling zones ---- */

static void ctl_diag_report(void *ctx, enum zonec_severity sev, const char *file, int line,
			    const char *what)
{
	struct ctl_diag *d = ctx;
	char text[CTL_MSG_MAX];

	zonec_format(text, sizeof(text), sev, file, line, what);
	if (sev == ZONEC_WARNING)
		log_msg(LOG_NOTICE, "zone %s: %s", d->origin, text);	/* errors: in the result */
	if (sev == ZONEC_ERROR) {
		d->errors++;
		ctl_addmsg(d->buf, d->cap, text);
	}
}

static int ctl_same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Was the file changed within 2 s of our look at it? Then an edit in the same timestamp
 * tick (same size, same inode) could hide behind an equal stat: compile to be sure.
 */
static int ctl_racy(const struct ctl_zone *z)
{
	return (int64_t)z->st.st_mtim.tv_sec + 2 > z->st_at;
}

/* RFC 1982: is a before b? */
static int ctl_serial_lt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

/* Build z's zone into an image; on success *img, *len hold it and *serial its serial. */
static int ctl_build(struct ctl_zone *z, struct ctl_result *r, uint8_t **img, size_t *len,
		     uint32_t *serial)
{
	struct ctl_diag d = { .origin = z->origin, .buf = r->msg, .cap = sizeof(r->msg) };
	struct zonec_zone *zz = NULL;
	int rc;

	rc = zonec_load(z->file, z->origin, ctl_diag_report, &d, &zz);
	if (rc == 0) {
		*serial = zonec_serial(zz);
		rc = zonec_build(zz, img, len);
		zonec_free(zz);
	}
	if (rc < 0 && d.errors == 0) {
		char text[CTL_MSG_MAX];

		snprintf(text, sizeof(text), "%s: error: %s", z->file, pharos_strerror(rc));
		ctl_addmsg(r->msg, sizeof(r->msg), text);
	}
	return rc;
}

/* Note serial trouble next to the result, as an operator of secondaries would want. */
static void ctl_serial_notes(const struct ctl_zone *z, uint32_t serial, struct ctl_result *r)
{
	char text[128];

	if (!z->have_cur)
		return;
	if (serial == z->cur.serial)
		snprintf(text, sizeof(text), "content changed but serial %u did not", serial);
	else if (ctl_serial_lt(serial, z->cur.serial))
		snprintf(text, sizeof(text), "serial went backwards from %u", z->cur.serial);
	else
		return;
	ctl_addmsg(r->msg, sizeof(r->msg), text);
	log_msg(LOG_WARNING, "zone %s: %s", z->origin, text);
}

/*
 * Compile z when its file changed (or it has no image). Returns 1 when a new image is
 * pending, 0 when nothing changed, or a negative error (message in r->msg).
 */
static int ctl_compile(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	int64_t now = (int64_t)time(NULL);
	struct ctl_image img;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (stat(z->file, &st) < 0) {
		ctl_setmsg(r->msg, sizeof(r->msg), "%s: error: %s", z->file, strerror(errno));
		return PHAROS_EIO;
	}
	if ((z->have_cur || z->have_pend) && z->have_st && ctl_same_stat(&st, &z->st) &&
	    !ctl_racy(z))
		return 0;
	rc = ctl_build(z, r, &buf, &len, &img.serial);
	if (rc < 0)
		return rc;
	rc = imgstore_path(c->cfg->state_dir, z->origin, img.serial, img.path, sizeof(img.path));
	if (rc == 0 && z->have_cur && !z->have_pend && strcmp(img.path, z->cur.path) == 0 &&
	    imgstore_same(img.path, buf, len)) {
		z->st = st;
		z->st_at = now;
		z->have_st = 1;
		free(buf);
		return 0;
	}
	if (rc == 0)
		rc = zonec_write_file(img.path, buf, len);
	free(buf);
	if (rc < 0) {
		ctl_setmsg(r->msg, sizeof(r->msg), "cannot write image %s: %s", img.path,
			   pharos_strerror(rc));
		return rc;
	}
	ctl_serial_notes(z, img.serial, r);
	z->pend = img;
	z->have_pend = 1;
	z->st = st;
	z->st_at = now;
	z->have_st = 1;
	return 1;
}

/* Nothing to serve: fall back to the newest image the state directory still has. */
static void ctl_fallback(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	char text[IPC_PATH_MAX + 64];

	if (z->have_cur || z->have_pend ||
	    imgstore_newest(c->cfg->state_dir, z->origin, z->pend.path, sizeof(z->pend.path),
			    &z->pend.serial) < 0)
		return;
	z->have_pend = 1;
	snprintf(text, sizeof(text), "serving the last image on disk, %s", z->pend.path);
	ctl_addmsg(r->msg, sizeof(r->msg), text);
}

/* Bring one zone up to date with its file; fills r. */
static void ctl_refresh(struct ctl *c, struct ctl_zone *z, struct ctl_result *r)
{
	int rc;

	r->has_old = z->have_cur;
	r->old_serial = z->cur.serial;
	rc = ctl_compile(c, z, r);
	if (rc < 0) {
		snprintf(z->error, sizeof(z->error), "%s", r->msg);
		r->action = CTL_REFUSED;
		ctl_fallback(c, z, r);
		if (ctl_needs_push(c, z))
			ctl_push_all(c, z, &(struct ctl_result){ .action = CTL_REFUSED });
	} else {
		z->error[0] = '\0';
		if (rc == 1 || ctl_needs_push(c, z))
			ctl_push_all(c, z, r);
		else
			r->action = CTL_UNCHANGED;
	}
	ctl_result_zone(r, z);
}

/* ---- applying a config ---- */

/* Take the state of the zone of the same origin from the old set, or start fresh. */
static int ctl_zone_carry(struct ctl *c, const struct config_zone *cz, struct ctl_zone *z)
{
	memset(z, 0, sizeof(*z));
	for (size_t i = 0; i < c->zone_count; i++) {
		struct ctl_zone *o = &c->zones[i];

		if (o->origin[0] == '\0' || strcmp(o->origin, cz->origin) != 0)
			continue;
		*z = *o;
		if (o->file == NULL || cz->file == NULL || strcmp(o->file, cz->file) != 0)
			z->have_st = 0;	/* another file: compile it */
		if (cz->file != NULL) {	/* a file zone (again): no transfer state */
			sec_zone_free(z->sec);
			z->sec = NULL;
		}
		free(o->file);
		o->file = NULL;
		o->sec = NULL;
		o->origin[0] = '\0';	/* marks "carried over" */
		break;
	}
	snprintf(z->origin, sizeof(z->origin), "%s", cz->origin);
	z->file = cz->file ? strdup(cz->file) : NULL;
	return (z->file || !cz->file) ? 0 : PHAROS_ENOMEM;
}

/* Unload the zones that were not carried over into the new set. */
static void ctl_unload_removed(struct ctl *c, struct ctl_report *rep)
{
	char msg[IPC_MSG_MAX];

	for (size_t i = 0; i < c->zone_count; i++) {
		struct ctl_zone *o = &c->zones[i];
		struct ctl_result *r;
		int rc = 0;

		if (o->origin[0] == '\0')
			continue;
		r = ctl_result_new(rep, o->origin);
		if (r == NULL)
			return;
		r->action = CTL_UNLOADED;
		if (dpconn_connected(&c->dp)) {
			rc = dpconn_unload(&c->dp, o->origin, msg, sizeof(msg));
			ctl_check_link(c, 1);
		}
		if (rc < 0 && rc != PHAROS_ENOTFOUND && dpconn_connected(&c->dp)) {
			r->action = CTL_REFUSED;
			ctl_setmsg(r->msg, sizeof(r->msg), "unload refused: %s",
				   msg[0] ? msg : pharos_strerror(rc));
		}
		ctl_log_result(r);
	}
}

static void ctl_zones_free(struct ctl_zone *zones, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(zones[i].file);
		sec_zone_free(zones[i].sec);
	}
	free(zones);
}

/* Make the zone set match cfg (which c->cfg already is). */
static int ctl_apply(struct ctl *c, struct ctl_report *rep)
{
	size_t n = c->cfg->zone_count;
	struct ctl_zone *zones = calloc(n ? n : 1, sizeof(*zones));
	int rc = 0;

	if (zones == NULL)
		return PHAROS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ctl_zone_carry(c, &c->cfg->zones[i], &zones[i]) < 0) {
			ctl_zones_free(zones, n);
			return PHAROS_ENOMEM;
		}
	}
	ctl_unload_removed(c, rep);
	ctl_zones_free(c->zones, c->zone_count);
	c->zones = zones;
	c->zone_count = n;
	for (size_t i = 0; i < n; i++) {
		struct ctl_result *r = ctl_result_new(rep, zones[i].origin);

		if (r == NULL)
			return PHAROS_ENOMEM;
		if (config_zone_secondary(&c->cfg->zones[i]))
			sec_zone_apply(c, &zones[i], &c->cfg->zones[i], r);
		else
			ctl_refresh(c, &zones[i], r);
		ctl_log_result(r);
	}
	for (size_t i = 0; i < rep->count; i++)
		if (rep->res[i].action == CTL_REFUSED)
			rc = PHAROS_EZONE;
	return rc;
}

/* mkdir -p, mode 0750 for what it creates. */
static int ctl_mkdirs(const char *path)
{
	char buf[IPC_PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return PHAROS_ESPACE;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return PHAROS_EIO;
		*p = '/';
	}
	if (mkdir(buf, 0750) < 0 && errno != EEXIST)
		return PHAROS_EIO;
	return 0;
}

int ctl_init(struct ctl *c, const char *config_path, struct config *cfg,
	     struct ctl_report *rep)
{
	memset(c, 0, sizeof(*c));
	memset(rep, 0, sizeof(*rep));
	dpconn_init(&c->dp);
	c->cfg = cfg;
	c->started = (int64_t)time(NULL);
	c->config_path = strdup(config_path);
	if (c->config_path == NULL)
		return PHAROS_ENOMEM;
	if (ctl_mkdirs(cfg->state_dir) < 0) {
		log_msg(LOG_ERR, "cannot create the state directory %s: %s", cfg->state_dir,
			strerror(errno));
		return PHAROS_EIO;
	}
	if (sec_init(c) < 0) {
		log_msg(LOG_ERR, "cannot set up zone transfers: %s", strerror(errno));
		return PHAROS_EIO;
	}
	return ctl_apply(c, rep) == PHAROS_ENOMEM ? PHAROS_ENOMEM : 0;
}

void ctl_fini(struct ctl *c)
{
	sec_fini(c);
	dpconn_close(&c->dp);
	ctl_zones_free(c->zones, c->zone_count);
	free(c->workers);
	free(c->config_path);
	config_free(c->cfg);
	memset(c, 0, sizeof(*c));
}

/* Keys that only a restart changes: keep the running values, say so. */
static void ctl_keep_fixed(struct ctl *c, struct config *ncfg, struct ctl_report *rep)
{
	char **o[] = { &c->cfg->state_dir, &c->cfg->control_socket, &c->cfg->control_socket_ro,
		       &c->cfg->dataplane_socket };
	char **n[] = { &ncfg->state_dir, &ncfg->control_socket, &ncfg->control_socket_ro,
		       &ncfg->dataplane_socket };
	static const char *const key[] = { "state-dir", "control-socket",
					   "control-socket-readonly", "dataplane-socket" };

	for (size_t i = 0; i < sizeof(key) / sizeof(key[0]); i++) {
		const char *a = *o[i] ? *o[i] : "", *b = *n[i] ? *n[i] : "";
		char *tmp;

		if (strcmp(a, b) != 0) {
			struct ctl_result *r = ctl_result_new(rep, "");

			if (r != NULL) {
				r->action = CTL_NOTE;
				ctl_setmsg(r->msg, sizeof(r->msg),
					   "%s changed: takes effect at the next restart", key[i]);
				ctl_log_result(r);
			}
		}
		tmp = *n[i];
		*n[i] = *o[i];
		*o[i] = tmp;
	}
}

int ctl_reload(struct ctl *c, struct ctl_report *rep)
{
	struct config *ncfg = NULL, *old;
	int rc;

	memset(rep, 0, sizeof(*rep));
	log_msg(LOG_NOTICE, "reloading %s", c->config_path);
	rc = config_load(c->config_path, &ncfg, rep->config_error, sizeof(rep->config_error));
	if (rc < 0) {
		rep->config_refused = 1;
		log_msg(LOG_ERR, "config refused, keeping the running one: %s",
			rep->config_error);
		return PHAROS_ECONFIG;
	}
	ctl_keep_fixed(c, ncfg, rep);
	old = c->cfg;
	c->cfg = ncfg;
	config_free(old);
	return ctl_apply(c, rep);
}

int ctl_load(struct ctl *c, const char *origin_in, const char *path, struct ctl_report *rep)
{
	char origin[CONFIG_ORIGIN_MAX], msg[IPC_MSG_MAX] = "";
	struct ctl_image img = { .serial = 0 };
	struct ctl_zone *z = NULL;
	struct ctl_result *r;
	int rc;

	memset(rep, 0, sizeof(*rep));
	r = ctl_result_new(rep, origin_in);
	if (r == NULL)
		return PHAROS_ENOMEM;
	r->action = CTL_REFUSED;
	if (config_origin_normalize(origin_in, origin, sizeof(origin)) < 0) {
		ctl_setmsg(r->msg, sizeof(r->msg), "invalid zone origin '%s'", origin_in);
		return PHAROS_EINVAL;
	}
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
	for (size_t i = 0; i < c->zone_count; i++)
		if (strcmp(c->zones[i].origin, origin) == 0)
			z = &c->zones[i];
	if (z == NULL) {
		ctl_setmsg(r->msg, sizeof(r->msg), "zone %s is not in the config", origin);
		return PHAROS_ENOTFOUND;
	}
	if (z->sec != NULL) {	/* its images come from the primary, in step with its state */
		ctl_setmsg(r->msg, sizeof(r->msg), "zone %s is a secondary zone: its primary "
			   "decides what is served (pharosctl zone-retransfer)", origin);
		ctl_result_zone(r, z);
		return PHAROS_EINVAL;
	}
	if (path[0] != '/' || strlen(path) >= sizeof(img.path)) {
		ctl_setmsg(r->msg, sizeof(r->msg), "image path must be absolute: %s", path);
		return PHAROS_EINVAL;
	}
	r->has_old = z->have_cur;
	r->old_serial = z->cur.serial;
	if (!dpconn_connected(&c->dp)) {
		ctl_setmsg(r->msg, sizeof(r->msg), "dataplane %s",
			   ctl_dp_stalled(c) ? "not responding" : "not connected");
		ctl_result_zone(r, z);
		return PHAROS_EIO;
	}
	strcpy(img.path, path);
	imgstore_serial(path, &img.serial);	/* informational: 0 when unreadable */
	rc = dpconn_load(&c->dp, origin, path, msg, sizeof(msg));
	if (rc == 0) {
		ctl_accepted(c, z, &img);
		r->action = CTL_LOADED;
	} else {
		ctl_check_link(c, 1);
		ctl_setmsg(r->msg, sizeof(r->msg), "dataplane refused %s: %s", path,
			   msg[0] ? msg : pharos_strerror(rc));
		rc = dpconn_connected(&c->dp) ? PHAROS_EZONE : PHAROS_EIO;
	}
	ctl_result_zone(r, z);
	ctl_log_result(r);
	return rc;
}
