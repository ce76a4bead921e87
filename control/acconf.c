/* Parser of the anycast keys (health-*, anycast-prefix, route-*, drain-file, grace-period). */
#include "acconf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pharos/err.h"

/*
 * What a value is, and so the type of its field in struct acconf: int (AK_INT, AK_DUR_MS,
 * AK_BOOL), uint32_t (AK_U32), int64_t (AK_DUR_S), char * (AK_ADDR, AK_PATH, AK_WORD),
 * struct acconf_cmd (AK_CMD).
 */
enum acconf_kind {
	AK_INT, AK_U32, AK_DUR_MS, AK_DUR_S, AK_PATH, AK_WORD, AK_CMD, AK_BOOL, AK_ADDR
};

struct acconf_key {
	const char *name;
	enum acconf_kind kind;
	long min, max;		/* for numbers (durations in ms) */
	long def;		/* numbers: default; AC_DERIVED: acconf_finish computes it */
	size_t off;		/* the field in struct acconf */
};

#define AC_DERIVED	(-1L)
#define AC(field)	offsetof(struct acconf, field)

/* Single-valued keys; anycast-prefix is handled apart (repeatable). */
static const struct acconf_key acconf_keys[] = {
	{ "health-query", AK_ADDR, 0, 0, 0, AC(query) },
	{ "health-interval", AK_DUR_MS, 50, 3600000, 1000, AC(interval_ms) },
	{ "health-timeout", AK_DUR_MS, 10, 60000, AC_DERIVED, AC(timeout_ms) },
	{ "health-fall", AK_INT, 1, 100, 2, AC(fall) },
	{ "health-rise", AK_INT, 1, 100, 3, AC(rise) },
	{ "health-sample", AK_DUR_MS, 10, 10000, 50, AC(sample_ms) },
	{ "health-stuck", AK_DUR_MS, 20, 600000, 200, AC(stuck_ms) },
	{ "health-max-lag", AK_U32, 0, 2147483647L, 0, AC(max_lag) },
	{ "grace-period", AK_DUR_S, 0, 3600000, 10000, AC(grace_ms) },
	{ "drain-file", AK_PATH, 0, 0, 0, AC(drain_file) },
	{ "route-bird-include", AK_PATH, 0, 0, 0, AC(bird_include) },
	{ "route-bird-protocol", AK_WORD, 0, 0, 0, AC(bird_protocol) },
	{ "route-bird-reload", AK_CMD, 0, 0, 0, AC(bird_reload) },
	{ "route-birdc", AK_CMD, 0, 0, 0, AC(birdc) },
	{ "route-command", AK_CMD, 0, 0, 0, AC(command) },
	{ "route-exabgp", AK_BOOL, 0, 0, 0, AC(exabgp) },
	{ "health-fast-interval", AK_DUR_MS, 10, 3600000, AC_DERIVED, AC(fast_ms) },
};
#define ACCONF_NKEYS (sizeof(acconf_keys) / sizeof(acconf_keys[0]))

/* The field of a key in a, of the type its kind says. */
static void *acconf_field(struct acconf *a, const struct acconf_key *key)
{
	return (char *)a + key->off;
}

static int acconf_is_number(enum acconf_kind kind)
{
	return kind == AK_INT || kind == AK_U32 || kind == AK_DUR_MS || kind == AK_DUR_S;
}

/* 1 when the key named so (one of acconf_keys) was set by a config line. */
static int acconf_seen(const struct acconf *a, const char *name)
{
	size_t k;

	for (k = 0; k < ACCONF_NKEYS && strcmp(name, acconf_keys[k].name) != 0; k++)
		;
	assert(k < ACCONF_NKEYS);
	return (a->seen >> k) & 1u;
}

static const char *const acconf_hook_names[] = { "bird", "exabgp", "command" };

const char *acconf_hook_name(unsigned bit)
{
	for (unsigned i = 0; i < 3; i++)
		if (bit == 1u << i)
			return acconf_hook_names[i];
	return "?";
}

int acconf_query_set(const struct acconf *a)
{
	return acconf_seen(a, "health-query");
}

unsigned acconf_hooks(const struct acconf *a)
{
	return ((a->bird_include || a->bird_protocol) ? ACCONF_HOOK_BIRD : 0) |
	       (a->exabgp ? ACCONF_HOOK_EXABGP : 0) |
	       (a->command.argv[0] ? ACCONF_HOOK_COMMAND : 0);
}

int acconf_addr(const char *text, void *sa_out, unsigned *salen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *h = text;
	size_t hl;
	char *end;
	long p = 53;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = text + 1;
		hl = (size_t)(close - h);
		port = close[1] == ':' ? close + 2 : NULL;
	} else {
		const char *colon = strchr(text, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;	/* a bare IPv6 address */
		hl = colon ? (size_t)(colon - text) : strlen(text);
		port = colon ? colon + 1 : NULL;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (port != NULL) {
		errno = 0;
		p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno || p < 1 || p > 65535)
			return -1;
	}
	struct sockaddr_in *s4 = sa_out;
	struct sockaddr_in6 *s6 = sa_out;

	memset(sa_out, 0, sizeof(struct sockaddr_in6));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*salen = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*salen = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* "192.0.2.53/32" -> canonical text and family; host bits must be zero. */
static int acconf_prefix_parse(const char *text, struct acconf_prefix *out)
{
	char addr[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	uint8_t bytes[16];
	long len;
	char *end;
	int fam, max;

	if (slash == NULL || (size_t)(slash - text) >= sizeof(addr))
		return -1;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = fam == AF_INET6 ? 128 : 32;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno || len > max ||
	    inet_pton(fam, addr, bytes) != 1)
		return -1;
	for (int bit = (int)len; bit < max; bit++)
		if (bytes[bit / 8] & (0x80 >> (bit % 8)))
			return -2;
	inet_ntop(fam, bytes, canon, sizeof(canon));
	snprintf(out->text, sizeof(out->text), "%.46s/%d", canon, (int)len);
	out->family = fam;
	return 0;
}

/* "hooks=bird,exabgp" -> bits. */
static int acconf_hook_list(const char *list, unsigned *bits)
{
	char copy[128], *save = NULL;

	*bits = 0;
	if (snprintf(copy, sizeof(copy), "%s", list) >= (int)sizeof(copy))
		return -1;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < 3 && strcmp(w, acconf_hook_names[i]) != 0; i++)
			;
		if (i == 3)
			return -1;
		*bits |= 1u << i;
	}
	return *bits ? 0 : -1;
}

static int acconf_prefix_line(struct acconf *a, char **tok, int ntok, char *err, size_t el)
{
	struct acconf_prefix p = { .hooks = 0 };
	struct acconf_prefix *np;
	int rc;

	if (ntok < 2) {
		snprintf(err, el, "missing value for 'anycast-prefix' (expected: anycast-prefix "
			 "PREFIX/LEN [hooks=bird,exabgp,command])");
		return PHAROS_ECONFIG;
	}
	rc = acconf_prefix_parse(tok[1], &p);
	if (rc < 0) {
		snprintf(err, el, rc == -2 ? "anycast-prefix '%s': host bits set after the length"
				     : "anycast-prefix '%s': not an IPv4 or IPv6 PREFIX/LEN", tok[1]);
		return PHAROS_ECONFIG;
	}
	for (int i = 2; i < ntok; i++) {
		if (strncmp(tok[i], "hooks=", 6) != 0 || p.hooks != 0 ||
		    acconf_hook_list(tok[i] + 6, &p.hooks) < 0) {
			snprintf(err, el, "anycast-prefix %s: bad attribute '%s' (expected "
				 "hooks=bird,exabgp,command)", p.text, tok[i]);
			return PHAROS_ECONFIG;
		}
	}
	for (size_t i = 0; i < a->prefix_count; i++) {
		if (strcmp(a->prefixes[i].text, p.text) == 0) {
			snprintf(err, el, "duplicate anycast-prefix %s", p.text);
			return PHAROS_ECONFIG;
		}
	}
	np = realloc(a->prefixes, (a->prefix_count + 1) * sizeof(*np));
	if (np == NULL)
		return PHAROS_ENOMEM;
	a->prefixes = np;
	a->prefixes[a->prefix_count++] = p;
	return 0;
}

static int acconf_cmd_set(struct acconf_cmd *c, char **tok, int ntok)
{
	for (int i = 1; i < ntok && i <= ACCONF_WORDS_MAX; i++) {
		c->argv[i - 1] = strdup(tok[i]);
		if (c->argv[i - 1] == NULL)
			return PHAROS_ENOMEM;
	}
	return 0;
}

static int acconf_cmd_default(struct acconf_cmd *c, const char *w0, const char *w1)
{
	if (c->argv[0] != NULL)
		return 0;
	c->argv[0] = strdup(w0);
	c->argv[1] = w1 ? strdup(w1) : NULL;
	return (c->argv[0] == NULL || (w1 && c->argv[1] == NULL)) ? PHAROS_ENOMEM : 0;
}

static void acconf_cmd_free(struct acconf_cmd *c)
{
	for (int i = 0; i < ACCONF_WORDS_MAX; i++)
		free(c->argv[i]);
	memset(c, 0, sizeof(*c));
}

/* A number with an optional "ms" or "s" unit; bare numbers are in unit_ms. */
static int acconf_number(const char *text, enum acconf_kind kind, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || errno)
		return -1;
	if (kind == AK_INT || kind == AK_U32)
		return *end == '\0' ? (*out = v, 0) : -1;
	if (strcmp(end, "ms") == 0)
		*out = v;
	else if (strcmp(end, "s") == 0 || (*end == '\0' && kind == AK_DUR_S))
		*out = v * 1000;
	else if (*end == '\0')
		*out = v;
	else
		return -1;
	return 0;
}

static char *acconf_path(const char *base, const char *path)
{
	char *s;

	if (path[0] == '/' || base == NULL)
		return strdup(path);
	return asprintf(&s, "%s/%s", base, path) < 0 ? NULL : s;
}

/* Store a number (already in the key's range) into the key's field. */
static void acconf_store_num(struct acconf *a, const struct acconf_key *key, long v)
{
	void *field = acconf_field(a, key);

	if (key->kind == AK_U32)
		*(uint32_t *)field = (uint32_t)v;
	else if (key->kind == AK_DUR_S)
		*(int64_t *)field = v;
	else
		*(int *)field = (int)v;
}

static int acconf_value(struct acconf *a, const char *base, size_t k, char **tok, int ntok,
			char *err, size_t el)
{
	const struct acconf_key *key = &acconf_keys[k];
	char **str = acconf_field(a, key);
	struct sockaddr_in6 sa;
	unsigned salen;
	long v;

	switch (key->kind) {
	case AK_INT: case AK_U32: case AK_DUR_MS: case AK_DUR_S:
		if (acconf_number(tok[1], key->kind, &v) < 0 || v < key->min || v > key->max) {
			int dur = key->kind == AK_DUR_MS || key->kind == AK_DUR_S;

			snprintf(err, el, "%s: '%s' is not %s in %ld..%ld%s", key->name, tok[1],
				 dur ? "a duration" : "a number", key->min, key->max,
				 dur ? " ms (units: ms, s)" : "");
			return PHAROS_ECONFIG;
		}
		acconf_store_num(a, key, v);
		return 0;
	case AK_ADDR:
		if (acconf_addr(tok[1], &sa, &salen) < 0) {
			snprintf(err, el, "%s: '%s' is not ADDR[:PORT] ([V6]:PORT)", key->name,
				 tok[1]);
			return PHAROS_ECONFIG;
		}
		/* fall through */
	case AK_WORD:
		*str = strdup(tok[1]);
		return *str ? 0 : PHAROS_ENOMEM;
	case AK_PATH:
		*str = acconf_path(base, tok[1]);
		return *str ? 0 : PHAROS_ENOMEM;
	case AK_CMD:
		return acconf_cmd_set(acconf_field(a, key), tok, ntok);
	case AK_BOOL:
		if (strcmp(tok[1], "yes") != 0 && strcmp(tok[1], "no") != 0) {
			snprintf(err, el, "%s: expected yes or no, not '%s'", key->name, tok[1]);
			return PHAROS_ECONFIG;
		}
		*(int *)acconf_field(a, key) = strcmp(tok[1], "yes") == 0;
		return 0;
	}
	return PHAROS_ECONFIG;
}

int acconf_line(struct acconf *a, const char *base, char **tok, int ntok, char *err,
		size_t errlen)
{
	size_t k;

	if (strcmp(tok[0], "anycast-prefix") == 0)
		return acconf_prefix_line(a, tok, ntok, err, errlen);
	for (k = 0; k < ACCONF_NKEYS && strcmp(tok[0], acconf_keys[k].name) != 0; k++)
		;
	if (k == ACCONF_NKEYS)
		return 1;
	if (ntok < 2) {
		snprintf(err, errlen, "missing value for '%s'", tok[0]);
		return PHAROS_ECONFIG;
	}
	if (ntok > 2 && acconf_keys[k].kind != AK_CMD) {
		snprintf(err, errlen, "unexpected '%s' after the value of '%s'", tok[2], tok[0]);
		return PHAROS_ECONFIG;
	}
	if (a->seen & (1u << k)) {
		snprintf(err, errlen, "duplicate key '%s'", tok[0]);
		return PHAROS_ECONFIG;
	}
	a->seen |= 1u << k;
	return acconf_value(a, base, k, tok, ntok, err, errlen);
}

int acconf_finish(struct acconf *a, char *err, size_t errlen)
{
	unsigned hooks = acconf_hooks(a);

	for (size_t k = 0; k < ACCONF_NKEYS; k++) {
		const struct acconf_key *key = &acconf_keys[k];

		if (acconf_is_number(key->kind) && key->def != AC_DERIVED && !(a->seen & (1u << k)))
			acconf_store_num(a, key, key->def);
	}
	/* The derived defaults follow the interval (given or default, set just above). */
	if (!acconf_seen(a, "health-timeout"))
		a->timeout_ms = a->interval_ms < 1000 ? a->interval_ms / 2 : 500;
	if (!acconf_seen(a, "health-fast-interval"))
		a->fast_ms = a->interval_ms / 4;
	if (a->timeout_ms >= a->interval_ms) {
		snprintf(err, errlen, "health-timeout (%d ms) must be shorter than "
			 "health-interval (%d ms)", a->timeout_ms, a->interval_ms);
		return PHAROS_ECONFIG;
	}
	for (size_t i = 0; i < a->prefix_count; i++) {
		unsigned extra = a->prefixes[i].hooks & ~hooks;

		if (a->prefixes[i].hooks == 0)
			a->prefixes[i].hooks = hooks;
		if (extra != 0) {
			snprintf(err, errlen, "anycast-prefix %s: hook '%s' is not configured",
				 a->prefixes[i].text, acconf_hook_name(extra & -extra));
			return PHAROS_ECONFIG;
		}
	}
	if (a->query == NULL && (a->query = strdup(ACCONF_DEFAULT_QUERY)) == NULL)
		return PHAROS_ENOMEM;
	if (acconf_cmd_default(&a->bird_reload, "birdc", "configure") < 0 ||
	    acconf_cmd_default(&a->birdc, "birdc", NULL) < 0)
		return PHAROS_ENOMEM;
	return 0;
}

void acconf_free(struct acconf *a)
{
	free(a->prefixes);
	free(a->query);
	free(a->drain_file);
	free(a->bird_include);
	free(a->bird_protocol);
	acconf_cmd_free(&a->bird_reload);
	acconf_cmd_free(&a->birdc);
	acconf_cmd_free(&a->command);
	memset(a, 0, sizeof(*a));
}
