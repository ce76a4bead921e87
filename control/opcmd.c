/* Operator commands (status, zones, stats, reload, load) in text and JSON form. */
#include "opcmd.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anycast.h"
#include "pharos/err.h"
#include "secondary.h"

#define OPCMD_WORDS_MAX	8

/* Growing reply body; oom latches the first allocation failure. */
struct opcmd_buf {
	char *p;
	size_t len, cap;
	int oom;
};

struct opcmd_def {
	const char *name;
	int admin;		/* refused on the read-only socket */
	int nargs;		/* words after the name, "json" excluded; -N: 0 to N */
	int (*run)(struct ctl *c, char **arg, int json, struct opcmd_buf *b);
	const char *help;
};

static void opcmd_put(struct opcmd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void opcmd_put(struct opcmd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap : 1024) * 2 + (size_t)n;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A JSON string, or null for NULL. */
static void opcmd_str(struct opcmd_buf *b, const char *s)
{
	if (s == NULL) {
		opcmd_put(b, "null");
		return;
	}
	opcmd_put(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			opcmd_put(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			opcmd_put(b, "\\u%04x", ch);
		else
			opcmd_put(b, "%c", ch);
	}
	opcmd_put(b, "\"");
}

/* "key":"value" or "key":null, with a leading comma unless first. */
static void opcmd_kstr(struct opcmd_buf *b, const char *key, const char *val, int first)
{
	opcmd_put(b, "%s\"%s\":", first ? "" : ",", key);
	opcmd_str(b, val);
}

static void opcmd_time(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%" PRId64, t);
}

/* ---- zones ---- */

static void opcmd_zone_text(struct opcmd_buf *b, const struct ctl_zone *z)
{
	char when[32];

	opcmd_put(b, "%s %s", z->origin, ctl_state_name(ctl_zone_state(z)));
	if (z->have_cur)
		opcmd_put(b, " serial=%u", z->cur.serial);
	if (z->have_cur && z->loaded) {
		opcmd_time(z->loaded_at, when, sizeof(when));
		opcmd_put(b, " loaded-at=%s", when);
	}
	if (z->have_cur)
		opcmd_put(b, " image=%s", z->cur.path);
	if (z->have_pend)
		opcmd_put(b, " pending-serial=%u pending-image=%s", z->pend.serial, z->pend.path);
	opcmd_put(b, "\n");
	if (z->error[0])
		opcmd_put(b, "  error: %s\n", z->error);
}

static void opcmd_zone_json(struct opcmd_buf *b, const struct ctl_zone *z)
{
	opcmd_kstr(b, "origin", z->origin, 1);
	opcmd_kstr(b, "state", ctl_state_name(ctl_zone_state(z)), 0);
	opcmd_kstr(b, "file", z->file, 0);
	if (z->have_cur)
		opcmd_put(b, ",\"serial\":%u", z->cur.serial);
	else
		opcmd_put(b, ",\"serial\":null");
	opcmd_kstr(b, "image", z->have_cur ? z->cur.path : NULL, 0);
	if (z->have_cur && z->loaded)
		opcmd_put(b, ",\"loaded_at\":%" PRId64, z->loaded_at);
	else
		opcmd_put(b, ",\"loaded_at\":null");
	if (z->have_pend)
		opcmd_put(b, ",\"pending_serial\":%u", z->pend.serial);
	else
		opcmd_put(b, ",\"pending_serial\":null");
	opcmd_kstr(b, "pending_image", z->have_pend ? z->pend.path : NULL, 0);
	opcmd_kstr(b, "error", z->error[0] ? z->error : NULL, 0);
}

static void opcmd_zones_body(struct ctl *c, int json, struct opcmd_buf *b)
{
	if (!json) {
		for (size_t i = 0; i < c->zone_count; i++)
			opcmd_zone_text(b, &c->zones[i]);
		return;
	}
	opcmd_put(b, "[");
	for (size_t i = 0; i < c->zone_count; i++) {
		opcmd_put(b, "%s{", i ? "," : "");
		opcmd_zone_json(b, &c->zones[i]);
		opcmd_put(b, "}");
	}
	opcmd_put(b, "]");
}

static int opcmd_zones(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	(void)arg;
	if (json)
		opcmd_put(b, "{\"zones\":");
	opcmd_zones_body(c, json, b);
	if (json)
		opcmd_put(b, "}\n");
	return OPCMD_OK;
}

/* ---- status ---- */

static size_t opcmd_alive_count(const struct ctl *c, const struct dpconn_status *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->worker_count; i++)
		n += (size_t)ctl_worker_alive(c, i);
	return n;
}

/* Why there is no status: a dataplane that does not answer is not one that is gone. */
static const char *opcmd_dp_down(const struct ctl *c)
{
	return ctl_dp_stalled(c) ? "not responding" : "not connected";
}

static void opcmd_status_text(struct ctl *c, const struct dpconn_status *st,
			      struct opcmd_buf *b)
{
	size_t count[3] = { 0 };

	opcmd_put(b, "daemon: running, pid %d, up %" PRId64 " s, config %s\n", (int)getpid(),
		  (int64_t)time(NULL) - c->started, c->config_path);
	opcmd_put(b, "dataplane: %s, %s\n", st ? "connected" : opcmd_dp_down(c),
		  c->cfg->dataplane_socket);
	if (st != NULL && st->worker_count > 0)
		opcmd_put(b, "workers: %zu of %zu alive (%zu udp + 1 tcp)\n",
			  opcmd_alive_count(c, st), st->worker_count, st->worker_count - 1);
	for (size_t i = 0; st != NULL && i < st->worker_count; i++)
		if (st->workers[i].flags & IPC_WORKER_IO_FATAL)
			opcmd_put(b, "worker %u: fatal I/O error: %.*s\n", st->workers[i].worker,
				  IPC_WORKER_ERR_MAX, st->workers[i].io_error);
	for (size_t i = 0; i < c->zone_count; i++)
		count[ctl_zone_state(&c->zones[i])]++;
	opcmd_put(b, "zones: %zu (%zu loaded, %zu pending, %zu failed)\n", c->zone_count,
		  count[CTL_ZONE_LOADED], count[CTL_ZONE_PENDING], count[CTL_ZONE_FAILED]);
	opcmd_zones_body(c, 0, b);
}

static void opcmd_workers_json(struct ctl *c, const struct dpconn_status *st,
			       struct opcmd_buf *b, int counters)
{
	opcmd_put(b, "[");
	for (size_t i = 0; i < st->worker_count; i++) {
		const struct ipc_worker_info *w = &st->workers[i];

		opcmd_put(b, "%s{\"worker\":%u,\"tcp\":%s,\"cpu\":%d,\"alive\":%s,"
			  "\"loops\":%" PRIu64, i ? "," : "", w->worker,
			  i + 1 == st->worker_count ? "true" : "false", w->cpu,
			  ctl_worker_alive(c, i) ? "true" : "false", w->loops);
		if (w->flags & IPC_WORKER_IO_FATAL) {
			char why[IPC_WORKER_ERR_MAX + 1];

			snprintf(why, sizeof(why), "%.*s", IPC_WORKER_ERR_MAX, w->io_error);
			opcmd_kstr(b, "io_error", why, 0);
		} else {
			opcmd_put(b, ",\"io_error\":null");
		}
		if (counters)
			opcmd_put(b, ",\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"dropped\":%" PRIu64
				  ",\"noerror\":%" PRIu64 ",\"nxdomain\":%" PRIu64
				  ",\"refused\":%" PRIu64 ",\"formerr\":%" PRIu64
				  ",\"servfail\":%" PRIu64 ",\"notimp\":%" PRIu64
				  ",\"truncated\":%" PRIu64, w->rx, w->tx, w->dropped, w->noerror,
				  w->nxdomain, w->refused, w->formerr, w->servfail, w->notimp,
				  w->truncated);
		opcmd_put(b, "}");
	}
	opcmd_put(b, "]");
}

static void opcmd_status_json(struct ctl *c, const struct dpconn_status *st,
			      struct opcmd_buf *b)
{
	opcmd_put(b, "{\"daemon\":{\"running\":true,\"pid\":%d,\"started\":%" PRId64
		  ",\"uptime\":%" PRId64 ",", (int)getpid(), c->started,
		  (int64_t)time(NULL) - c->started);
	opcmd_kstr(b, "config", c->config_path, 1);
	opcmd_put(b, "},\"dataplane\":{\"connected\":%s,\"responding\":%s,", st ? "true" : "false",
		  ctl_dp_stalled(c) ? "false" : "true");
	opcmd_kstr(b, "socket", c->cfg->dataplane_socket, 1);
	if (st != NULL) {
		opcmd_put(b, ",\"workers_alive\":%zu,\"workers\":", opcmd_alive_count(c, st));
		opcmd_workers_json(c, st, b, 0);
	}
	opcmd_put(b, "},\"zones\":");
	opcmd_zones_body(c, 1, b);
	opcmd_put(b, "}\n");
}

static int opcmd_status(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	struct dpconn_status st;
	int have = ctl_status(c, &st) == 0;

	(void)arg;
	if (json)
		opcmd_status_json(c, have ? &st : NULL, b);
	else
		opcmd_status_text(c, have ? &st : NULL, b);
	dpconn_status_free(&st);
	return OPCMD_OK;
}

/* ---- stats ---- */

/* The counters of a worker as an array, in the column order of the text table. */
static void opcmd_counters(const struct ipc_worker_info *w, uint64_t v[10])
{
	const uint64_t t[10] = { w->rx, w->tx, w->dropped, w->noerror, w->nxdomain,
				 w->refused, w->formerr, w->servfail, w->notimp, w->truncated };

	memcpy(v, t, sizeof(t));
}

/*
 * The backend's own counters (IPC_BACKEND_INFO) as named values: the group its backend
 * fills. Keys are the JSON names; the text line writes '_' as '-'. Returns the group's
 * name ("xdp" for afxdp, "dpdk") and *n, or NULL when there is nothing to show.
 */
#define OPCMD_BACKEND_MAX	9
struct opcmd_kv {
	const char *key;
	uint64_t v;
};

static const char *opcmd_backend(const struct dpconn_status *st,
				 struct opcmd_kv kv[OPCMD_BACKEND_MAX], int *n)
{
	const struct ipc_backend_info *bi = &st->backend;

	if (!st->have_backend)
		return NULL;
	if (strcmp(bi->backend, "afxdp") == 0) {
		/* what the steering program did with every packet */
		const struct opcmd_kv x[] = {
			{ "redirected", bi->xdp_redirected }, { "passed", bi->xdp_passed },
			{ "malformed", bi->xdp_malformed }, { "unbound", bi->xdp_unbound },
		};

		static_assert(sizeof(x) <= OPCMD_BACKEND_MAX * sizeof(*kv), "kv too small");
		memcpy(kv, x, sizeof(x));
		*n = (int)(sizeof(x) / sizeof(x[0]));
		return "xdp";
	}
	if (strcmp(bi->backend, "dpdk") == 0) {
		/* the NIC port, then the exception path through the tap */
		const struct opcmd_kv d[] = {
			{ "rx", bi->dpdk_rx }, { "tx", bi->dpdk_tx },
			{ "missed", bi->dpdk_missed }, { "rx_errors", bi->dpdk_rx_errors },
			{ "tx_errors", bi->dpdk_tx_errors }, { "no_mbuf", bi->dpdk_no_mbuf },
			{ "to_kernel", bi->dpdk_to_kernel },
			{ "from_kernel", bi->dpdk_from_kernel },
			{ "kernel_dropped", bi->dpdk_kernel_dropped },
		};

		static_assert(sizeof(d) <= OPCMD_BACKEND_MAX * sizeof(*kv), "kv too small");
		memcpy(kv, d, sizeof(d));
		*n = (int)(sizeof(d) / sizeof(d[0]));
		return "dpdk";
	}
	return NULL;
}

/*
 * The backend's line, if any: text "xdp: redirected N passed N ..." or "dpdk: rx N tx N ...
 * to-kernel N ...", JSON ,"xdp":{"redirected":N,...} or ,"dpdk":{"rx":N,...}.
 */
static void opcmd_backend_put(const struct dpconn_status *st, int json, struct opcmd_buf *b)
{
	struct opcmd_kv kv[OPCMD_BACKEND_MAX];
	int n = 0;
	const char *name = opcmd_backend(st, kv, &n);

	if (name == NULL)
		return;
	opcmd_put(b, json ? ",\"%s\":{" : "%s:", name);
	for (int i = 0; i < n; i++) {
		char key[32];

		snprintf(key, sizeof(key), "%s", kv[i].key);
		for (char *p = key; !json && *p; p++)
			if (*p == '_')
				*p = '-';	/* text: "to-kernel" */
		if (json)
			opcmd_put(b, "%s\"%s\":%" PRIu64, i ? "," : "", key, kv[i].v);
		else
			opcmd_put(b, " %s %" PRIu64, key, kv[i].v);
	}
	opcmd_put(b, json ? "}" : "\n");
}

static void opcmd_stats_text(struct ctl *c, const struct dpconn_status *st,
			     struct opcmd_buf *b)
{
	static const char *const col[10] = { "rx", "tx", "dropped", "noerror", "nxdomain",
					     "refused", "formerr", "servfail", "notimp",
					     "truncated" };
	uint64_t v[10], total[10] = { 0 };

	opcmd_put(b, "%-7s %4s %5s %14s", "worker", "cpu", "alive", "loops");
	for (int k = 0; k < 10; k++)
		opcmd_put(b, " %12s", col[k]);
	opcmd_put(b, "\n");
	for (size_t i = 0; i < st->worker_count; i++) {
		const struct ipc_worker_info *w = &st->workers[i];
		char name[16];

		snprintf(name, sizeof(name), "%u", w->worker);
		opcmd_put(b, "%-7s %4d %5s %14" PRIu64,
			  i + 1 == st->worker_count ? "tcp" : name, w->cpu,
			  ctl_worker_alive(c, i) ? "yes" : "no", w->loops);
		opcmd_counters(w, v);
		for (int k = 0; k < 10; k++) {
			opcmd_put(b, " %12" PRIu64, v[k]);
			total[k] += v[k];
		}
		opcmd_put(b, "\n");
	}
	opcmd_put(b, "%-7s %4s %5s %14s", "total", "-", "-", "-");
	for (int k = 0; k < 10; k++)
		opcmd_put(b, " %12" PRIu64, total[k]);
	opcmd_put(b, "\n");
	opcmd_backend_put(st, 0, b);
}

static void opcmd_stats_json(struct ctl *c, const struct dpconn_status *st,
			     struct opcmd_buf *b)
{
	static const char *const col[10] = { "rx", "tx", "dropped", "noerror", "nxdomain",
					     "refused", "formerr", "servfail", "notimp",
					     "truncated" };
	uint64_t v[10], total[10] = { 0 };

	opcmd_put(b, "{\"workers\":");
	opcmd_workers_json(c, st, b, 1);
	for (size_t i = 0; i < st->worker_count; i++) {
		opcmd_counters(&st->workers[i], v);
		for (int k = 0; k < 10; k++)
			total[k] += v[k];
	}
	opcmd_put(b, ",\"total\":{");
	for (int k = 0; k < 10; k++)
		opcmd_put(b, "%s\"%s\":%" PRIu64, k ? "," : "", col[k], total[k]);
	opcmd_put(b, "}");
	opcmd_backend_put(st, 1, b);
	opcmd_put(b, "}\n");
}

static int opcmd_stats(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	struct dpconn_status st;
	int rc = ctl_status(c, &st);

	(void)arg;
	if (rc < 0) {
		if (json)
			opcmd_put(b, "{\"error\":\"dataplane %s\"}\n", opcmd_dp_down(c));
		else
			opcmd_put(b, "dataplane %s\n", opcmd_dp_down(c));
		return OPCMD_FAIL;
	}
	if (json)
		opcmd_stats_json(c, &st, b);
	else
		opcmd_stats_text(c, &st, b);
	dpconn_status_free(&st);
	return OPCMD_OK;
}

/* ---- reload and load: per-zone results ---- */

static void opcmd_result_text(struct opcmd_buf *b, const struct ctl_result *r)
{
	if (r->action == CTL_NOTE) {
		opcmd_put(b, "note: %s\n", r->msg);
		return;
	}
	opcmd_put(b, "%s %s", r->origin, ctl_action_name(r->action));
	if (r->action == CTL_REFUSED) {
		opcmd_put(b, ": %s", r->msg);
		if (r->has_serial)
			opcmd_put(b, "; still serving serial %u\n", r->serial);
		else
			opcmd_put(b, "; not served\n");
		return;
	}
	if (r->has_serial && r->action != CTL_UNLOADED)
		opcmd_put(b, " serial %u", r->serial);
	if (r->action == CTL_LOADED && r->has_old && r->old_serial != r->serial)
		opcmd_put(b, " (was %u)", r->old_serial);
	opcmd_put(b, "%s%s\n", r->msg[0] ? ": " : "", r->msg);
}

static void opcmd_result_json(struct opcmd_buf *b, const struct ctl_result *r)
{
	opcmd_kstr(b, "origin", r->origin, 1);
	opcmd_kstr(b, "action", ctl_action_name(r->action), 0);
	if (r->has_serial)
		opcmd_put(b, ",\"serial\":%u", r->serial);
	else
		opcmd_put(b, ",\"serial\":null");
	if (r->has_old)
		opcmd_put(b, ",\"old_serial\":%u", r->old_serial);
	else
		opcmd_put(b, ",\"old_serial\":null");
	opcmd_kstr(b, "image", r->image[0] ? r->image : NULL, 0);
	opcmd_kstr(b, "message", r->msg[0] ? r->msg : NULL, 0);
}

/* The whole report: a headline, then one line (or object) per zone. */
static void opcmd_report(const struct ctl_report *rep, const char *what, const char *verdict,
			 int json, struct opcmd_buf *b)
{
	int first = 1;

	if (!json) {
		if (rep->config_refused)
			opcmd_put(b, "%s: refused: %s\n", what, rep->config_error);
		else
			opcmd_put(b, "%s: %s\n", what, verdict);
		for (size_t i = 0; i < rep->count; i++)
			opcmd_result_text(b, &rep->res[i]);
		return;
	}
	opcmd_kstr(b, "result", verdict, 1);
	opcmd_kstr(b, "config_error", rep->config_refused ? rep->config_error : NULL, 0);
	opcmd_put(b, ",\"zones\":[");
	for (size_t i = 0; i < rep->count; i++) {
		if (rep->res[i].action == CTL_NOTE)
			continue;
		opcmd_put(b, "%s{", first ? "" : ",");
		opcmd_result_json(b, &rep->res[i]);
		opcmd_put(b, "}");
		first = 0;
	}
	opcmd_put(b, "],\"notes\":[");
	first = 1;
	for (size_t i = 0; i < rep->count; i++) {
		if (rep->res[i].action != CTL_NOTE)
			continue;
		opcmd_put(b, "%s", first ? "" : ",");
		opcmd_str(b, rep->res[i].msg);
		first = 0;
	}
	opcmd_put(b, "]");
}

static int opcmd_reload(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	struct ctl_report rep;
	int rc = ctl_reload(c, &rep);
	const char *verdict = rc == 0 ? "ok" : rc == PHAROS_ECONFIG ? "config refused"
					 : "some zones refused";

	(void)arg;
	if (json)
		opcmd_put(b, "{");
	opcmd_report(&rep, "reload", verdict, json, b);
	if (json)
		opcmd_put(b, "}\n");
	ctl_report_free(&rep);
	return rc == 0 ? OPCMD_OK : OPCMD_FAIL;
}

static int opcmd_load(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	struct ctl_report rep;
	int rc = ctl_load(c, arg[0], arg[1], &rep);

	if (json)
		opcmd_put(b, "{");
	opcmd_report(&rep, "load", rc == 0 ? "ok" : "refused", json, b);
	if (json)
		opcmd_put(b, "}\n");
	ctl_report_free(&rep);
	return rc == 0 ? OPCMD_OK : OPCMD_FAIL;
}

/* ---- secondary zones: zone-status, zone-refresh, zone-retransfer ---- */

/* What the dataplane says it serves for a zone (asked, never inferred). */
struct opcmd_served {
	const char *word;	/* "yes", "expired", "no", "unknown" (not connected) */
	int have_serial;
	uint32_t serial;
};

static struct opcmd_served opcmd_served(const struct dpconn_status *st, const char *origin)
{
	struct opcmd_served sv = { .word = st ? "no" : "unknown" };
	char norm[CONFIG_ORIGIN_MAX];

	for (size_t i = 0; st != NULL && i < st->zone_count; i++) {
		if (config_origin_normalize(st->zones[i].origin, norm, sizeof(norm)) < 0 ||
		    strcmp(norm, origin) != 0)
			continue;
		sv.word = (st->zones[i].flags & IPC_ZONE_EXPIRED) ? "expired" : "yes";
		sv.have_serial = 1;
		sv.serial = st->zones[i].serial;
	}
	return sv;
}

/* TIME as text, "-" for 0; ms: the value is unix milliseconds. */
static const char *opcmd_when(int64_t t, int ms, char *out, size_t cap)
{
	if (t == 0)
		return "-";
	opcmd_time(ms ? t / 1000 : t, out, cap);
	return out;
}

static void opcmd_zst_text(struct opcmd_buf *b, const struct ctl_zone *z,
			   const struct opcmd_served *sv)
{
	const struct sec_zone *s = z->sec;
	char t1[32], t2[32], t3[32], t4[32];

	opcmd_put(b, "%s role=%s state=%s served=%s served-serial=", z->origin,
		  s ? "secondary" : "primary",
		  s ? sec_state_name(s->state) : ctl_state_name(ctl_zone_state(z)), sv->word);
	if (sv->have_serial)
		opcmd_put(b, "%u", sv->serial);
	else
		opcmd_put(b, "-");
	if (s == NULL) {
		opcmd_put(b, " file=%s\n", z->file ? z->file : "-");
		if (z->error[0])
			opcmd_put(b, "  error: %s\n", z->error);
		return;
	}
	if (s->have_primary_serial)
		opcmd_put(b, " primary-serial=%u", s->primary_serial);
	else
		opcmd_put(b, " primary-serial=-");
	if (s->have_primary_serial && sv->have_serial)
		opcmd_put(b, " serial-lag=%d", (int32_t)(s->primary_serial - sv->serial));
	else
		opcmd_put(b, " serial-lag=-");
	opcmd_put(b, " last-attempt=%s last-kind=%s last-result=%s last-primary=%s "
		  "last-transfer=%s next-refresh=%s expires=%s\n",
		  opcmd_when(s->last_attempt, 0, t1, sizeof(t1)), s->last_kind[0] ? s->last_kind : "-",
		  s->last_ok < 0 ? "-" : s->last_ok ? "ok" : "failed",
		  s->last_primary[0] ? s->last_primary : "-",
		  opcmd_when(s->last_xfr, 0, t2, sizeof(t2)),
		  s->state == SEC_REFRESHING ? "now" : opcmd_when(sec_next_refresh(s), 1, t3,
								  sizeof(t3)),
		  opcmd_when(sec_expires_at(s), 1, t4, sizeof(t4)));
	if (s->last_ok == 0 && s->last_error[0])
		opcmd_put(b, "  error: %s\n", s->last_error);
}

/* "key":N or "key":null */
static void opcmd_knum(struct opcmd_buf *b, const char *key, int have, int64_t v)
{
	if (have)
		opcmd_put(b, ",\"%s\":%" PRId64, key, v);
	else
		opcmd_put(b, ",\"%s\":null", key);
}

static void opcmd_zst_json(struct opcmd_buf *b, const struct ctl_zone *z,
			   const struct opcmd_served *sv)
{
	const struct sec_zone *s = z->sec;

	opcmd_kstr(b, "origin", z->origin, 1);
	opcmd_kstr(b, "role", s ? "secondary" : "primary", 0);
	opcmd_kstr(b, "state", s ? sec_state_name(s->state) : ctl_state_name(ctl_zone_state(z)),
		   0);
	opcmd_kstr(b, "served", sv->word, 0);
	opcmd_knum(b, "served_serial", sv->have_serial, sv->serial);
	if (s == NULL) {
		opcmd_kstr(b, "file", z->file, 0);
		opcmd_kstr(b, "error", z->error[0] ? z->error : NULL, 0);
		return;
	}
	opcmd_knum(b, "primary_serial", s->have_primary_serial, s->primary_serial);
	opcmd_knum(b, "primary_seen", s->primary_seen != 0, s->primary_seen);
	opcmd_knum(b, "serial_lag", s->have_primary_serial && sv->have_serial,
		   (int32_t)(s->primary_serial - sv->serial));
	opcmd_knum(b, "last_attempt", s->last_attempt != 0, s->last_attempt);
	opcmd_kstr(b, "last_kind", s->last_kind[0] ? s->last_kind : NULL, 0);
	opcmd_kstr(b, "last_result", s->last_ok < 0 ? NULL : s->last_ok ? "ok" : "failed", 0);
	opcmd_kstr(b, "last_primary", s->last_primary[0] ? s->last_primary : NULL, 0);
	opcmd_kstr(b, "last_error", s->last_ok == 0 && s->last_error[0] ? s->last_error : NULL, 0);
	opcmd_knum(b, "last_transfer", s->last_xfr != 0, s->last_xfr);
	opcmd_kstr(b, "last_transfer_kind", s->last_xfr_kind[0] ? s->last_xfr_kind : NULL, 0);
	opcmd_knum(b, "next_refresh", s->state != SEC_REFRESHING && sec_next_refresh(s) != 0,
		   sec_next_refresh(s) / 1000);
	opcmd_knum(b, "expires", sec_expires_at(s) != 0, sec_expires_at(s) / 1000);
	opcmd_put(b, ",\"refresh\":%u,\"retry\":%u,\"expire\":%u,\"primaries\":[",
		  s->refresh, s->retry, s->expire);
	for (size_t i = 0; i < s->cz->primary_count; i++) {
		opcmd_put(b, "%s", i ? "," : "");
		opcmd_str(b, s->cz->primaries[i].text);
	}
	opcmd_put(b, "]");
}

/* ---- anycast: health, drain, undrain, routes (doc/anycast.md) ---- */

static int opcmd_error(struct opcmd_buf *b, int json, const char *msg);

static void opcmd_ms_time(int64_t ms, char *out, size_t cap)
{
	char s[32];

	opcmd_time(ms / 1000, s, sizeof(s));
	s[strlen(s) - 1] = '\0';	/* drop the Z, add milliseconds */
	snprintf(out, cap, "%s.%03dZ", s, (int)(ms % 1000));
}

/* The hooks of a prefix as "bird,exabgp". */
static void opcmd_hooks(unsigned bits, char *out, size_t cap)
{
	out[0] = '\0';
	for (unsigned b = 1; b <= ACCONF_HOOK_COMMAND; b <<= 1)
		if (bits & b)
			snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "",
				 acconf_hook_name(b));
}

static void opcmd_health_text(struct ctl *c, const struct anycast *ac, struct opcmd_buf *b)
{
	const struct health *h = &ac->h;
	const struct acconf *a = &c->cfg->anycast;
	int64_t now = anycast_now_ms();
	char when[48], why[512], hooks[64];

	opcmd_ms_time(anycast_wall_ms(h->changed_ms), when, sizeof(when));
	opcmd_put(b, "state: %s%s\n", health_state_name(h->state),
		  health_drained(h, now) ? " (drained)" : "");
	opcmd_put(b, "since: %s (%.1f s ago)\n", when, (double)(now - h->changed_ms) / 1000.0);
	opcmd_put(b, "reason: %s\n", h->reason);
	opcmd_put(b, "announce: %s\n", health_announce(h) ? "yes" : "no");
	opcmd_put(b, "hard: %s\n", h->hard_bad ? h->hard_reason : "ok");
	opcmd_put(b, "soft: %s (good %d, bad %d in a row; rise %d, fall %d, every %d ms)\n",
		  h->soft_reason[0] ? h->soft_reason : "ok", h->good, h->bad, h->conf.rise,
		  h->conf.fall, a->interval_ms);
	if (h->drain)
		opcmd_put(b, "drain: %s; %s (grace %" PRId64 " ms)\n",
			  anycast_drain_why(ac, c, why, sizeof(why)),
			  health_drained(h, now) ? "drained" : "in grace period", h->conf.grace_ms);
	else
		opcmd_put(b, "drain: no\n");
	for (size_t i = 0; i < a->prefix_count; i++) {
		opcmd_hooks(a->prefixes[i].hooks, hooks, sizeof(hooks));
		opcmd_put(b, "prefix %s %s hooks=%s\n", a->prefixes[i].text,
			  health_announce(h) ? "announced" : "withdrawn", hooks[0] ? hooks : "none");
	}
}

static void opcmd_health_json(struct ctl *c, const struct anycast *ac, struct opcmd_buf *b)
{
	const struct health *h = &ac->h;
	const struct acconf *a = &c->cfg->anycast;
	int64_t now = anycast_now_ms();
	char why[512], hooks[64];

	opcmd_kstr(b, "state", health_state_name(h->state), 1);
	opcmd_put(b, ",\"since_ms\":%" PRId64 ",\"announce\":%s", anycast_wall_ms(h->changed_ms),
		  health_announce(h) ? "true" : "false");
	opcmd_kstr(b, "reason", h->reason, 0);
	opcmd_put(b, ",\"hard\":{\"ok\":%s", h->hard_bad ? "false" : "true");
	opcmd_kstr(b, "reason", h->hard_bad ? h->hard_reason : NULL, 0);
	opcmd_put(b, "},\"soft\":{\"ok\":%s,\"good\":%d,\"bad\":%d,\"rise\":%d,\"fall\":%d,"
		  "\"interval_ms\":%d", h->soft_reason[0] ? "false" : "true", h->good, h->bad,
		  h->conf.rise, h->conf.fall, a->interval_ms);
	opcmd_kstr(b, "reason", h->soft_reason[0] ? h->soft_reason : NULL, 0);
	opcmd_put(b, "},\"drain\":{\"on\":%s,\"drained\":%s,\"grace_ms\":%" PRId64,
		  h->drain ? "true" : "false", health_drained(h, now) ? "true" : "false",
		  h->conf.grace_ms);
	opcmd_kstr(b, "why", h->drain ? anycast_drain_why(ac, c, why, sizeof(why)) : NULL, 0);
	opcmd_put(b, "},\"prefixes\":[");
	for (size_t i = 0; i < a->prefix_count; i++) {
		opcmd_hooks(a->prefixes[i].hooks, hooks, sizeof(hooks));
		opcmd_put(b, "%s{", i ? "," : "");
		opcmd_kstr(b, "prefix", a->prefixes[i].text, 1);
		opcmd_kstr(b, "hooks", hooks, 0);
		opcmd_put(b, ",\"announced\":%s}", health_announce(h) ? "true" : "false");
	}
	opcmd_put(b, "]");
}

static int opcmd_zone_status(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	char norm[CONFIG_ORIGIN_MAX];
	struct dpconn_status st;
	int have = ctl_status(c, &st) == 0, n = 0;

	if (arg[0] != NULL && config_origin_normalize(arg[0], norm, sizeof(norm)) < 0)
		snprintf(norm, sizeof(norm), "%.200s", arg[0]);
	if (json)
		opcmd_put(b, "{\"zones\":[");
	for (size_t i = 0; i < c->zone_count; i++) {
		const struct ctl_zone *z = &c->zones[i];
		struct opcmd_served sv;

		if (arg[0] != NULL && strcmp(z->origin, norm) != 0)
			continue;
		sv = opcmd_served(have ? &st : NULL, z->origin);
		if (json) {
			opcmd_put(b, "%s{", n ? "," : "");
			opcmd_zst_json(b, z, &sv);
			opcmd_put(b, "}");
		} else {
			opcmd_zst_text(b, z, &sv);
		}
		n++;
	}
	if (json)
		opcmd_put(b, "]}\n");
	dpconn_status_free(&st);
	if (n == 0 && arg[0] != NULL) {
		b->len = 0;
		if (json) {
			opcmd_put(b, "{\"error\":\"zone %s is not in the config\"}\n", norm);
		} else {
			opcmd_put(b, "zone %s is not in the config\n", norm);
		}
		return OPCMD_FAIL;
	}
	return OPCMD_OK;
}

/* zone-refresh / zone-retransfer: start the work, answer at once (zone-status follows it). */
static int opcmd_zone_kick(struct ctl *c, char **arg, int json, struct opcmd_buf *b, int axfr)
{
	char msg[512];
	int rc = sec_request(c, arg[0], axfr, msg, sizeof(msg));

	if (json) {
		opcmd_put(b, "{");
		opcmd_kstr(b, "result", rc == 0 ? "started" : "refused", 1);
		opcmd_kstr(b, "message", msg, 0);
		opcmd_put(b, "}\n");
	} else {
		opcmd_put(b, "%s\n", msg);
	}
	return rc == 0 ? OPCMD_OK : OPCMD_FAIL;
}

static int opcmd_zone_refresh(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	return opcmd_zone_kick(c, arg, json, b, 0);
}

static int opcmd_zone_retransfer(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	return opcmd_zone_kick(c, arg, json, b, 1);
}

static int opcmd_health(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	(void)arg;
	if (c->anycast == NULL) {
		opcmd_put(b, json ? "{\"error\":\"no health state\"}\n" : "no health state\n");
		return OPCMD_FAIL;
	}
	if (json)
		opcmd_put(b, "{");
	if (json)
		opcmd_health_json(c, c->anycast, b);
	else
		opcmd_health_text(c, c->anycast, b);
	if (json)
		opcmd_put(b, "}\n");
	return OPCMD_OK;
}

/* drain / undrain: the new state in health's form. */
static int opcmd_drain_set(struct ctl *c, int on, int json, struct opcmd_buf *b)
{
	char msg[512];
	int rc;

	if (c->anycast == NULL)
		return opcmd_error(b, json, "no health state");
	rc = anycast_drain_set(c->anycast, c, on, msg, sizeof(msg));
	if (!json && msg[0])
		opcmd_put(b, "%s\n", msg);
	return opcmd_health(c, NULL, json, b) == OPCMD_OK && rc == 0 ? OPCMD_OK : OPCMD_FAIL;
}

static int opcmd_drain(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	(void)arg;
	return opcmd_drain_set(c, 1, json, b);
}

static int opcmd_undrain(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	(void)arg;
	return opcmd_drain_set(c, 0, json, b);
}

/*
 * routes HOOK: what that hook must announce now, for pharos-exabgp and scripts:
 * "state STATE", then "announce PREFIX" or "withdraw PREFIX" per prefix of the hook.
 */
static int opcmd_routes(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	const struct acconf *a = &c->cfg->anycast;
	unsigned hook = 0;
	int up;

	for (unsigned bit = 1; bit <= ACCONF_HOOK_COMMAND; bit <<= 1)
		if (strcmp(arg[0], acconf_hook_name(bit)) == 0)
			hook = bit;
	if (hook == 0)
		return opcmd_error(b, json, "unknown hook (expected bird, exabgp or command)");
	if (c->anycast == NULL)
		return opcmd_error(b, json, "no health state");
	up = health_announce(&c->anycast->h);
	if (json)
		opcmd_put(b, "{\"state\":\"%s\",\"routes\":[", health_state_name(c->anycast->h.state));
	else
		opcmd_put(b, "state %s\n", health_state_name(c->anycast->h.state));
	for (size_t i = 0, n = 0; i < a->prefix_count; i++) {
		if (!(a->prefixes[i].hooks & hook))
			continue;
		if (json)
			opcmd_put(b, "%s{\"prefix\":\"%s\",\"announce\":%s}", n++ ? "," : "",
				  a->prefixes[i].text, up ? "true" : "false");
		else
			opcmd_put(b, "%s %s\n", up ? "announce" : "withdraw", a->prefixes[i].text);
	}
	if (json)
		opcmd_put(b, "]}\n");
	return OPCMD_OK;
}

/* ---- dispatch ---- */

static int opcmd_help(struct ctl *c, char **arg, int json, struct opcmd_buf *b);

static const struct opcmd_def opcmd_defs[] = {
	{ "status", 0, 0, opcmd_status, "status            daemon, dataplane, workers, zones" },
	{ "zones", 0, 0, opcmd_zones, "zones             each zone: state, serial, image" },
	{ "stats", 0, 0, opcmd_stats, "stats             per-worker query counters and totals" },
	{ "reload", 1, 0, opcmd_reload, "reload            re-read the config, reload changed zones" },
	{ "load", 1, 2, opcmd_load, "load ORIGIN PATH  serve a precompiled image (admin)" },
	{ "zone-status", 0, -1, opcmd_zone_status,
	  "zone-status [ZONE]      role, state, served and primary serials, transfers, timers" },
	{ "zone-refresh", 1, 1, opcmd_zone_refresh,
	  "zone-refresh ZONE       SOA check (then IXFR/AXFR) now (admin)" },
	{ "zone-retransfer", 1, 1, opcmd_zone_retransfer,
	  "zone-retransfer ZONE    fresh AXFR, whatever the serials say (admin)" },
	{ "health", 0, 0, opcmd_health, "health            anycast state, reason, signals, prefixes" },
	{ "routes", 0, 1, opcmd_routes, "routes HOOK       what HOOK (bird, exabgp, command) announces now" },
	{ "drain", 1, 0, opcmd_drain, "drain             withdraw the routes, keep answering (admin)" },
	{ "undrain", 1, 0, opcmd_undrain, "undrain           announce again when healthy (admin)" },
	{ "help", 0, 0, opcmd_help, "help              this list" },
};
#define OPCMD_NDEFS (sizeof(opcmd_defs) / sizeof(opcmd_defs[0]))

static int opcmd_help(struct ctl *c, char **arg, int json, struct opcmd_buf *b)
{
	(void)c;
	(void)arg;
	if (json)
		opcmd_put(b, "{\"commands\":[");
	for (size_t i = 0; i < OPCMD_NDEFS; i++) {
		if (json) {
			opcmd_put(b, "%s", i ? "," : "");
			opcmd_str(b, opcmd_defs[i].help);
		} else {
			opcmd_put(b, "%s\n", opcmd_defs[i].help);
		}
	}
	if (json)
		opcmd_put(b, "]}\n");
	return OPCMD_OK;
}

static int opcmd_split(char *s, char **w)
{
	int n = 0;

	for (char *tok = strtok(s, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
		if (n == OPCMD_WORDS_MAX)
			return -1;
		w[n++] = tok;
	}
	return n;
}

static int opcmd_error(struct opcmd_buf *b, int json, const char *msg)
{
	if (json) {
		opcmd_put(b, "{");
		opcmd_kstr(b, "error", msg, 1);
		opcmd_put(b, "}\n");
	} else {
		opcmd_put(b, "%s\n", msg);
	}
	return OPCMD_ERROR;
}

/* Find and run the command in words w[0..n). */
static int opcmd_dispatch(struct ctl *c, int admin, char **w, int n, int json,
			  struct opcmd_buf *b)
{
	char msg[256];

	if (n == 0)
		return opcmd_error(b, json, "empty request (try: help)");
	for (size_t i = 0; i < OPCMD_NDEFS; i++) {
		const struct opcmd_def *d = &opcmd_defs[i];

		if (strcmp(w[0], d->name) != 0)
			continue;
		if (d->nargs >= 0 ? n - 1 != d->nargs : n - 1 > -d->nargs) {
			snprintf(msg, sizeof(msg), "usage: %s", d->help);
			return opcmd_error(b, json, msg);
		}
		if (d->admin && !admin) {
			snprintf(msg, sizeof(msg), "'%s' needs the admin socket", d->name);
			return opcmd_error(b, json, msg);
		}
		w[n] = NULL;	/* optional arguments read as NULL */
		return d->run(c, w + 1, json, b);
	}
	snprintf(msg, sizeof(msg), "unknown command '%.64s' (try: help)", w[0]);
	return opcmd_error(b, json, msg);
}

int opcmd_run(struct ctl *c, int admin, const char *line, char **body, size_t *len)
{
	struct opcmd_buf b = { 0 };
	char *copy = strdup(line), *w[OPCMD_WORDS_MAX + 1];
	int n, json = 0, cls;

	if (copy == NULL)
		return PHAROS_ENOMEM;
	n = opcmd_split(copy, w);
	if (n > 0 && strcmp(w[n - 1], "json") == 0) {
		json = 1;
		n--;
	}
	if (n < 0)
		cls = opcmd_error(&b, json, "too many words in the request");
	else
		cls = opcmd_dispatch(c, admin, w, n, json, &b);
	free(copy);
	opcmd_put(&b, "%s", "");	/* a body even when empty */
	if (b.oom) {
		free(b.p);
		return PHAROS_ENOMEM;
	}
	*body = b.p;
	*len = b.len;
	return cls;
}

const char *opcmd_class_name(int cls)
{
	return cls == OPCMD_OK ? "ok" : cls == OPCMD_FAIL ? "fail" : "error";
}
