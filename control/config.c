/* Parser of the pharos-control config file: `key value` lines, zones, TSIG keys. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pharos/err.h"

#define CFG_LINE_MAX	4096	/* longer lines are refused */
#define CFG_TOK_MAX	64	/* more tokens than this on a line is an error anyway */
#define CFG_FILE_MAX	(1u << 20)	/* a config is small; refuse anything huge */

/* Keys that take one path value, and where they go in struct config. */
struct cfg_key {
	const char *name;
	size_t off;		/* offsetof(struct config, member) of a char * */
};

static const struct cfg_key cfg_keys[] = {
	{ "state-dir", offsetof(struct config, state_dir) },
	{ "control-socket", offsetof(struct config, control_socket) },
	{ "control-socket-readonly", offsetof(struct config, control_socket_ro) },
	{ "dataplane-socket", offsetof(struct config, dataplane_socket) },
};
#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

struct cfg_parser {
	const char *name;
	const char *base;
	int line;
	char *err;
	size_t errlen;
	struct config *c;
	int key_line[CFG_NKEYS];	/* line where each key was set, 0 = not yet */
	size_t zone_cap;
	int keys_only;			/* a key file: only `key` lines */
	int depth;			/* key files do not include key files */
};

static int cfg_run(struct cfg_parser *p, const char *text, size_t len);
static int cfg_read(const char *path, char **buf, size_t *len, char *err, size_t errlen);

static int cfg_error(struct cfg_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cfg_error(struct cfg_parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, p->line);

	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return PHAROS_ECONFIG;
}

int config_origin_normalize(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in), label = 0;

	if (strcmp(in, ".") == 0) {
		if (cap < 2)
			return PHAROS_EINVAL;
		strcpy(out, ".");
		return 0;
	}
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || n + 2 > cap)
		return PHAROS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '.') {
			if (label == 0)
				return PHAROS_EINVAL;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return PHAROS_EINVAL;
		} else {
			return PHAROS_EINVAL;
		}
		out[i] = (char)tolower(ch);
	}
	if (label == 0)
		return PHAROS_EINVAL;	/* "a.." */
	out[n] = '.';
	out[n + 1] = '\0';
	return 0;
}

/* A copy of path, joined to the base directory when relative. NULL on ENOMEM. */
static char *cfg_path(const struct cfg_parser *p, const char *path)
{
	char *s;

	if (path[0] == '/' || p->base == NULL)
		return strdup(path);
	if (asprintf(&s, "%s/%s", p->base, path) < 0)
		return NULL;
	return s;
}

/* Split a line in place into whitespace-separated tokens; '#' starts a comment. */
static int cfg_split(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return n + 1;
		tok[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

static int cfg_set_key(struct cfg_parser *p, size_t k, char **tok, int ntok)
{
	char **slot = (char **)((char *)p->c + cfg_keys[k].off);

	if (ntok < 2)
		return cfg_error(p, "missing value for '%s'", tok[0]);
	if (ntok > 2)
		return cfg_error(p, "unexpected '%s' after the value of '%s'", tok[2], tok[0]);
	if (p->key_line[k] != 0)
		return cfg_error(p, "duplicate key '%s' (first set on line %d)", tok[0],
				 p->key_line[k]);
	free(*slot);
	*slot = cfg_path(p, tok[1]);
	if (*slot == NULL)
		return PHAROS_ENOMEM;
	p->key_line[k] = p->line;
	return 0;
}

/* Room for one more zone. */
static int cfg_zone_grow(struct cfg_parser *p)
{
	struct config_zone *z;
	size_t cap = p->zone_cap ? p->zone_cap * 2 : 8;

	if (p->c->zone_count < p->zone_cap)
		return 0;
	z = realloc(p->c->zones, cap * sizeof(*z));
	if (z == NULL)
		return PHAROS_ENOMEM;
	p->c->zones = z;
	p->zone_cap = cap;
	return 0;
}

/* ---- values ---- */

/* Seconds: digits with an optional unit s, m, h, d or w; 1 .. 2^31-1. */
static int cfg_duration(const char *s, uint32_t *out)
{
	unsigned long long v = 0, mul = 1;
	const char *q = s;

	for (; *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (unsigned)(*q - '0');
		if (v > 0x7fffffffull)
			return PHAROS_EINVAL;
	}
	if (q == s)
		return PHAROS_EINVAL;
	switch (*q) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 604800; break;
	default: return PHAROS_EINVAL;
	}
	if (*q != '\0' && q[1] != '\0')
		return PHAROS_EINVAL;
	v *= mul;
	if (v == 0 || v > 0x7fffffffull)
		return PHAROS_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* "MIN..MAX", "MIN..", "..MAX" or "N" (both bounds N) into c (its defaults kept). */
static int cfg_clamp(const char *s, struct config_clamp *c)
{
	char lo[32], hi[32];
	const char *dots = strstr(s, "..");
	size_t n;

	if (dots == NULL) {
		if (cfg_duration(s, &c->min) < 0)
			return PHAROS_EINVAL;
		c->max = c->min;
		return 0;
	}
	n = (size_t)(dots - s);
	if (n >= sizeof(lo) || strlen(dots + 2) >= sizeof(hi) || (n == 0 && dots[2] == '\0'))
		return PHAROS_EINVAL;
	memcpy(lo, s, n);
	lo[n] = '\0';
	strcpy(hi, dots + 2);
	if ((lo[0] && cfg_duration(lo, &c->min) < 0) || (hi[0] && cfg_duration(hi, &c->max) < 0))
		return PHAROS_EINVAL;
	return c->min <= c->max ? 0 : PHAROS_ERANGE;
}

/* Bytes: digits with an optional unit k, m or g (powers of 1024); 0 = no limit. */
static int cfg_size(const char *s, uint64_t *out)
{
	unsigned long long v = 0;
	const char *q = s;
	int shift = 0;

	for (; *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (unsigned)(*q - '0');
		if (v > (1ull << 40))
			return PHAROS_EINVAL;
	}
	if (q == s)
		return PHAROS_EINVAL;
	switch (tolower((unsigned char)*q)) {
	case '\0': break;
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	default: return PHAROS_EINVAL;
	}
	if (*q != '\0' && q[1] != '\0')
		return PHAROS_EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Index of the key named name in c, or -1. */
static int cfg_key_find(const struct config *c, const char *name)
{
	char norm[TSIGKEY_NAME_MAX];

	if (config_origin_normalize(name, norm, sizeof(norm)) < 0)
		return -1;
	for (size_t i = 0; i < c->key_count; i++)
		if (strcmp(c->keys[i].name, norm) == 0)
			return (int)i;
	return -1;
}

/*
 * An address: "ADDR", "ADDR#PORT" or "ADDR@PORT" (port: primaries, default 53) or
 * "ADDR/PREFIX" (prefix: NOTIFY sources), then ",key=NAME" optionally. IPv4 or IPv6.
 * On error returns PHAROS_EINVAL with the reason in why.
 */
static int cfg_addr(const struct config *c, const char *text, int is_prefix,
		    struct config_addr *a, const char **why)
{
	char buf[CONFIG_ADDR_TXT + TSIGKEY_NAME_MAX], host[INET6_ADDRSTRLEN + 1];
	char *sep, *keyname = NULL;
	unsigned long num = 0, max;
	int has_num = 0;

	*why = "not an address";
	if (strlen(text) >= sizeof(buf))
		return PHAROS_EINVAL;
	strcpy(buf, text);
	sep = strchr(buf, ',');
	if (sep != NULL) {
		*sep++ = '\0';
		if (strncmp(sep, "key=", 4) != 0 || sep[4] == '\0') {
			*why = "expected ',key=NAME' after the address";
			return PHAROS_EINVAL;
		}
		keyname = sep + 4;
	}
	sep = strpbrk(buf, is_prefix ? "/" : "#@");
	if (sep != NULL) {
		char *end;

		*sep++ = '\0';
		num = strtoul(sep, &end, 10);
		if (*sep < '0' || *sep > '9' || *end != '\0') {
			*why = is_prefix ? "bad prefix length" : "bad port";
			return PHAROS_EINVAL;
		}
		has_num = 1;
	}
	if (strlen(buf) >= sizeof(host))
		return PHAROS_EINVAL;
	strcpy(host, buf);
	memset(a, 0, sizeof(*a));
	a->key = -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->addr)->sin_addr) == 1) {
		a->addr.ss_family = AF_INET;
		a->addrlen = sizeof(struct sockaddr_in);
		max = 32;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->addr)->sin6_addr) == 1) {
		a->addr.ss_family = AF_INET6;
		a->addrlen = sizeof(struct sockaddr_in6);
		max = 128;
	} else {
		return PHAROS_EINVAL;
	}
	if (is_prefix) {
		if (has_num && num > max) {
			*why = "bad prefix length";
			return PHAROS_EINVAL;
		}
		a->prefix = has_num ? (unsigned)num : (unsigned)max;
		snprintf(a->text, sizeof(a->text), "%s/%u", host, a->prefix);
	} else {
		if (has_num && (num == 0 || num > 65535)) {
			*why = "bad port";
			return PHAROS_EINVAL;
		}
		if (!has_num)
			num = 53;
		a->prefix = (unsigned)max;
		if (a->addr.ss_family == AF_INET)
			((struct sockaddr_in *)&a->addr)->sin_port = htons((uint16_t)num);
		else
			((struct sockaddr_in6 *)&a->addr)->sin6_port = htons((uint16_t)num);
		snprintf(a->text, sizeof(a->text), "%s#%lu", host, num);
	}
	if (keyname != NULL) {
		a->key = cfg_key_find(c, keyname);
		if (a->key < 0) {
			*why = "unknown key (define it with a `key` line or key-file before the zone)";
			return PHAROS_EINVAL;
		}
	}
	return 0;
}

/* Append one address to a growable array. */
static int cfg_addr_push(struct config_addr **arr, size_t *n, const struct config_addr *a)
{
	struct config_addr *v = realloc(*arr, (*n + 1) * sizeof(*v));

	if (v == NULL)
		return PHAROS_ENOMEM;
	v[*n] = *a;
	*arr = v;
	(*n)++;
	return 0;
}

/* ---- zones ---- */

/* What the attributes of a zone line said, before it is checked as a whole. */
struct cfg_zattr {
	const char *file;
	int key;			/* zone-wide key=NAME, -1 = none */
	int notify_none;		/* notify-from=none */
	const char *secondary_only;	/* first secondary-only attribute seen */
	int seen_clamp[3], seen_size, seen_timeout;
};

static const char *const cfg_clamp_names[3] = { "refresh", "retry", "expire" };

/* One NAME=VALUE attribute of zone z. */
static int cfg_zone_attr(struct cfg_parser *p, struct config_zone *z, struct cfg_zattr *za,
			 char *tok)
{
	char *eq = strchr(tok, '=');
	const char *val, *why;
	struct config_addr a;
	size_t nl;

	if (eq == NULL || eq == tok)
		return cfg_error(p, "zone %s: unknown attribute '%s'", z->origin, tok);
	nl = (size_t)(eq - tok);
	val = eq + 1;
	if (strncmp(tok, "file", nl) == 0 && nl == 4) {
		if (za->file != NULL)
			return cfg_error(p, "zone %s: duplicate attribute 'file'", z->origin);
		if (*val == '\0')
			return cfg_error(p, "zone %s: missing value for 'file='", z->origin);
		za->file = val;
		return 0;
	}
	if (*val == '\0')
		return cfg_error(p, "zone %s: missing value for '%.*s='", z->origin, (int)nl, tok);
	if (za->secondary_only == NULL)
		za->secondary_only = tok;
	if (nl == 7 && strncmp(tok, "primary", 7) == 0) {
		if (cfg_addr(p->c, val, 0, &a, &why) < 0)
			return cfg_error(p, "zone %s: primary '%s': %s", z->origin, val, why);
		return cfg_addr_push(&z->primaries, &z->primary_count, &a);
	}
	if (nl == 11 && strncmp(tok, "notify-from", 11) == 0) {
		if (strcmp(val, "none") == 0) {
			za->notify_none = 1;
			return 0;
		}
		if (cfg_addr(p->c, val, 1, &a, &why) < 0)
			return cfg_error(p, "zone %s: notify-from '%s': %s", z->origin, val, why);
		return cfg_addr_push(&z->notify_from, &z->notify_count, &a);
	}
	if (nl == 3 && strncmp(tok, "key", 3) == 0) {
		if (za->key >= 0)
			return cfg_error(p, "zone %s: duplicate attribute 'key'", z->origin);
		za->key = cfg_key_find(p->c, val);
		if (za->key < 0)
			return cfg_error(p, "zone %s: unknown key '%s' (define it with a `key` "
					 "line or key-file before the zone)", z->origin, val);
		return 0;
	}
	for (int k = 0; k < 3; k++) {
		struct config_clamp *c = k == 0 ? &z->refresh : k == 1 ? &z->retry : &z->expire;
		int rc;

		if (strlen(cfg_clamp_names[k]) != nl || strncmp(tok, cfg_clamp_names[k], nl) != 0)
			continue;
		if (za->seen_clamp[k]++)
			return cfg_error(p, "zone %s: duplicate attribute '%s'", z->origin,
					 cfg_clamp_names[k]);
		rc = cfg_clamp(val, c);
		if (rc == PHAROS_ERANGE)
			return cfg_error(p, "zone %s: %s=%s: minimum above maximum", z->origin,
					 cfg_clamp_names[k], val);
		if (rc < 0)
			return cfg_error(p, "zone %s: %s=%s: expected MIN..MAX in seconds "
					 "(units s m h d w, 1 s at least)", z->origin,
					 cfg_clamp_names[k], val);
		return 0;
	}
	if (nl == 8 && strncmp(tok, "max-size", 8) == 0) {
		if (za->seen_size++)
			return cfg_error(p, "zone %s: duplicate attribute 'max-size'", z->origin);
		if (cfg_size(val, &z->max_size) < 0)
			return cfg_error(p, "zone %s: max-size=%s: expected bytes (units k m g)",
					 z->origin, val);
		return 0;
	}
	if (nl == 7 && strncmp(tok, "timeout", 7) == 0) {
		if (za->seen_timeout++)
			return cfg_error(p, "zone %s: duplicate attribute 'timeout'", z->origin);
		if (cfg_duration(val, &z->timeout) < 0)
			return cfg_error(p, "zone %s: timeout=%s: expected seconds (units s m h)",
					 z->origin, val);
		return 0;
	}
	return cfg_error(p, "zone %s: unknown attribute '%s'", z->origin, tok);
}

/* The zone line as a whole: a file zone or a secondary, never both; defaults filled. */
static int cfg_zone_check(struct cfg_parser *p, struct config_zone *z,
			  const struct cfg_zattr *za)
{
	if (za->file != NULL && za->secondary_only != NULL)
		return cfg_error(p, "zone %s: '%s' does not go with file= (a zone is served "
				 "from a file or transferred from primaries, not both)", z->origin,
				 za->secondary_only);
	if (za->file != NULL) {
		z->file = cfg_path(p, za->file);
		return z->file ? 0 : PHAROS_ENOMEM;
	}
	if (z->primary_count == 0 && za->secondary_only != NULL)
		return cfg_error(p, "zone %s: a secondary zone needs primary=ADDR", z->origin);
	if (z->primary_count == 0)
		return cfg_error(p, "zone %s: missing file=PATH or primary=ADDR", z->origin);
	if (za->notify_none && z->notify_count > 0)
		return cfg_error(p, "zone %s: notify-from=none with other notify-from", z->origin);
	for (size_t i = 0; i < z->primary_count; i++)
		if (z->primaries[i].key < 0)
			z->primaries[i].key = za->key;
	for (size_t i = 0; i < z->notify_count; i++)
		if (z->notify_from[i].key < 0)
			z->notify_from[i].key = za->key;
	/* Default NOTIFY senders: the primaries themselves (any port), with their keys. */
	if (za->notify_none || z->notify_count > 0)
		return 0;
	for (size_t i = 0; i < z->primary_count; i++) {
		struct config_addr a = z->primaries[i];
		char *hash = strchr(a.text, '#');

		if (hash != NULL)
			snprintf(hash, sizeof(a.text) - (size_t)(hash - a.text), "/%u", a.prefix);
		if (cfg_addr_push(&z->notify_from, &z->notify_count, &a) < 0)
			return PHAROS_ENOMEM;
	}
	return 0;
}

/* `zone ORIGIN file=PATH` or `zone ORIGIN primary=ADDR...`: attributes NAME=VALUE. */
static int cfg_zone(struct cfg_parser *p, char **tok, int ntok)
{
	struct cfg_zattr za = { .key = -1 };
	char origin[CONFIG_ORIGIN_MAX];
	const struct config_zone *dup;
	struct config_zone *z;
	int rc, dup_line;

	if (p->keys_only)
		return cfg_error(p, "only `key` lines belong in a key file");
	if (ntok < 2)
		return cfg_error(p, "missing value for 'zone' (expected: zone ORIGIN file=PATH)");
	if (config_origin_normalize(tok[1], origin, sizeof(origin)) < 0)
		return cfg_error(p, "invalid zone origin '%s'", tok[1]);
	dup = config_find_zone(p->c, origin);
	dup_line = dup ? dup->line : 0;
	if (cfg_zone_grow(p) < 0)
		return PHAROS_ENOMEM;
	z = &p->c->zones[p->c->zone_count];
	memset(z, 0, sizeof(*z));
	strcpy(z->origin, origin);
	z->line = p->line;
	z->refresh = (struct config_clamp){ CONFIG_REFRESH_MIN, CONFIG_REFRESH_MAX };
	z->retry = (struct config_clamp){ CONFIG_RETRY_MIN, CONFIG_RETRY_MAX };
	z->expire = (struct config_clamp){ CONFIG_EXPIRE_MIN, CONFIG_EXPIRE_MAX };
	z->max_size = CONFIG_MAX_SIZE;
	z->timeout = CONFIG_XFR_TIMEOUT;
	p->c->zone_count++;	/* owned by the config from now on, even on error */
	for (int i = 2; i < ntok; i++) {
		rc = cfg_zone_attr(p, z, &za, tok[i]);
		if (rc < 0)
			return rc;
	}
	rc = cfg_zone_check(p, z, &za);
	if (rc == 0 && dup_line != 0)
		return cfg_error(p, "duplicate zone '%s' (first on line %d)", origin, dup_line);
	return rc;
}

/* ---- TSIG keys ---- */

/* `key NAME algorithm=ALG secret=BASE64` */
static int cfg_key(struct cfg_parser *p, char **tok, int ntok)
{
	const char *alg = NULL, *secret = NULL;
	char why[256] = "", name[TSIGKEY_NAME_MAX];
	struct tsig_key *k;

	if (ntok < 2)
		return cfg_error(p, "missing value for 'key' (expected: key NAME "
				 "algorithm=ALG secret=BASE64)");
	if (config_origin_normalize(tok[1], name, sizeof(name)) < 0)
		return cfg_error(p, "invalid key name '%s'", tok[1]);
	for (int i = 2; i < ntok; i++) {
		const char **slot = strncmp(tok[i], "algorithm=", 10) == 0 ? &alg :
				    strncmp(tok[i], "secret=", 7) == 0 ? &secret : NULL;

		if (slot == NULL)	/* the name only: the value may be a mistyped secret */
			return cfg_error(p, "key %s: unknown attribute '%.*s'", name,
					 (int)strcspn(tok[i], "="), tok[i]);
		if (*slot != NULL)
			return cfg_error(p, "key %s: duplicate attribute '%.*s'", name,
					 (int)(strchr(tok[i], '=') - tok[i]), tok[i]);
		*slot = strchr(tok[i], '=') + 1;
	}
	if (alg == NULL || *alg == '\0')
		return cfg_error(p, "key %s: missing algorithm=ALG", name);
	if (secret == NULL || *secret == '\0')
		return cfg_error(p, "key %s: missing secret=BASE64", name);
	if (cfg_key_find(p->c, name) >= 0)
		return cfg_error(p, "duplicate key '%s'", name);
	k = realloc(p->c->keys, (p->c->key_count + 1) * sizeof(*k));
	if (k == NULL)
		return PHAROS_ENOMEM;
	p->c->keys = k;
	k = &p->c->keys[p->c->key_count];
	if (tsigkey_make(name, alg, secret, k, why, sizeof(why)) < 0) {
		memset(k, 0, sizeof(*k));
		return cfg_error(p, "key %s: %s", name, why[0] ? why : "invalid");
	}
	p->c->key_count++;
	return 0;
}

/* `key-file PATH`: a file of `key` lines (and comments), errors named by its own lines. */
static int cfg_key_file(struct cfg_parser *p, char **tok, int ntok)
{
	struct cfg_parser sub;
	char *path, *text = NULL;
	size_t len = 0;
	int rc;

	if (ntok < 2)
		return cfg_error(p, "missing value for '%s'", tok[0]);
	if (ntok > 2)
		return cfg_error(p, "unexpected '%s' after the value of '%s'", tok[2], tok[0]);
	if (p->keys_only)
		return cfg_error(p, "only `key` lines belong in a key file");
	path = cfg_path(p, tok[1]);
	if (path == NULL)
		return PHAROS_ENOMEM;
	rc = cfg_read(path, &text, &len, p->err, p->errlen);
	if (rc < 0) {
		char inner[CONFIG_ERR_MAX];

		snprintf(inner, sizeof(inner), "%s", p->err);
		free(path);
		return cfg_error(p, "key-file: %s", inner);
	}
	sub = *p;
	sub.name = path;
	sub.line = 0;
	sub.keys_only = 1;
	rc = cfg_run(&sub, text, len);
	free(text);
	free(path);
	return rc;
}

/* The anycast keys (control/acconf.c): 0 and *rc when the key is one, else 1. */
static int cfg_anycast(struct cfg_parser *p, char **tok, int ntok, int *rc)
{
	char msg[CONFIG_ERR_MAX];

	*rc = acconf_line(&p->c->anycast, p->base, tok, ntok, msg, sizeof(msg));
	if (*rc == 1)
		return 1;
	if (*rc == PHAROS_ECONFIG)
		*rc = cfg_error(p, "%s", msg);
	return 0;
}

static int cfg_line(struct cfg_parser *p, char *s)
{
	char *tok[CFG_TOK_MAX];
	int ntok = cfg_split(s, tok, CFG_TOK_MAX), rc;

	if (ntok == 0)
		return 0;
	if (ntok > CFG_TOK_MAX)
		return cfg_error(p, "too many words on one line");
	if (strcmp(tok[0], "zone") == 0)
		return cfg_zone(p, tok, ntok);
	if (strcmp(tok[0], "key") == 0)
		return cfg_key(p, tok, ntok);
	if (strcmp(tok[0], "key-file") == 0)
		return cfg_key_file(p, tok, ntok);
	if (p->keys_only)
		return cfg_error(p, "only `key` lines belong in a key file");
	for (size_t k = 0; k < CFG_NKEYS; k++)
		if (strcmp(tok[0], cfg_keys[k].name) == 0)
			return cfg_set_key(p, k, tok, ntok);
	if (cfg_anycast(p, tok, ntok, &rc) == 0)
		return rc;
	return cfg_error(p, "unknown key '%s'", tok[0]);
}

/* Fill the keys that were not set with their defaults. */
static int cfg_defaults(struct config *c)
{
	if (c->state_dir == NULL)
		c->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
	if (c->control_socket == NULL)
		c->control_socket = strdup(CONFIG_DEFAULT_CONTROL);
	if (c->dataplane_socket == NULL)
		c->dataplane_socket = strdup(CONFIG_DEFAULT_DATAPLANE);
	if (!c->state_dir || !c->control_socket || !c->dataplane_socket)
		return PHAROS_ENOMEM;
	return 0;
}

/* Anycast defaults and cross-key checks; an error names the file only. */
static int cfg_anycast_finish(struct cfg_parser *p)
{
	char msg[CONFIG_ERR_MAX];
	int rc = acconf_finish(&p->c->anycast, msg, sizeof(msg));

	if (rc == PHAROS_ECONFIG)
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	return rc;
}

static int cfg_run(struct cfg_parser *p, const char *text, size_t len)
{
	char buf[CFG_LINE_MAX + 1];
	size_t pos = 0;
	int rc;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p->line++;
		if (n > CFG_LINE_MAX)
			return cfg_error(p, "line too long (more than %d bytes)", CFG_LINE_MAX);
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		if (strlen(buf) != n)
			return cfg_error(p, "NUL byte in line");
		rc = cfg_line(p, buf);
		if (rc < 0)
			return rc;
		pos += n + 1;
	}
	return 0;
}

int config_parse(const char *text, size_t len, const char *name, const char *base_dir,
		 struct config **out, char *err, size_t errlen)
{
	struct cfg_parser p = { .name = name, .base = base_dir, .err = err, .errlen = errlen };
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	p.c = calloc(1, sizeof(*p.c));
	if (p.c == NULL)
		return PHAROS_ENOMEM;
	p.c->path = strdup(name);
	rc = p.c->path ? cfg_run(&p, text, len) : PHAROS_ENOMEM;
	if (rc == 0)
		rc = cfg_defaults(p.c);
	if (rc == 0)
		rc = cfg_anycast_finish(&p);
	if (rc < 0) {
		if (rc == PHAROS_ENOMEM)
			snprintf(err, errlen, "%s: out of memory", name);
		config_free(p.c);
		return rc;
	}
	*out = p.c;
	return 0;
}

/* Whole file into a malloc'd buffer. */
static int cfg_read(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return PHAROS_ECONFIG;
	}
	*buf = malloc(CFG_FILE_MAX + 1);
	if (*buf == NULL) {
		fclose(f);
		return PHAROS_ENOMEM;
	}
	n = fread(*buf, 1, CFG_FILE_MAX + 1, f);
	if (ferror(f) || n > CFG_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? "read error" : "file too large");
		fclose(f);
		free(*buf);
		return PHAROS_ECONFIG;
	}
	fclose(f);
	*len = n;
	return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *text = NULL, *dircopy = NULL, base[PATH_MAX];
	size_t len = 0;
	int rc;

	rc = cfg_read(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	dircopy = strdup(path);
	if (dircopy == NULL) {
		rc = PHAROS_ENOMEM;
		goto fail;
	}
	if (realpath(dirname(dircopy), base) == NULL) {
		snprintf(err, errlen, "%s: cannot resolve its directory: %s", path,
			 strerror(errno));
		rc = PHAROS_ECONFIG;
		goto fail;
	}
	rc = config_parse(text, len, path, base, out, err, errlen);
fail:
	free(dircopy);
	free(text);
	return rc;
}

void config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->zone_count; i++) {
		free(c->zones[i].file);
		free(c->zones[i].primaries);
		free(c->zones[i].notify_from);
	}
	free(c->zones);
	if (c->keys != NULL)
		memset(c->keys, 0, c->key_count * sizeof(*c->keys));	/* secrets */
	free(c->keys);
	free(c->path);
	free(c->state_dir);
	free(c->control_socket);
	free(c->control_socket_ro);
	free(c->dataplane_socket);
	acconf_free(&c->anycast);
	free(c);
}

int config_zone_secondary(const struct config_zone *z)
{
	return z->primary_count > 0;
}

const struct config_zone *config_find_zone(const struct config *c, const char *origin)
{
	for (size_t i = 0; i < c->zone_count; i++)
		if (strcmp(c->zones[i].origin, origin) == 0)
			return &c->zones[i];
	return NULL;
}
