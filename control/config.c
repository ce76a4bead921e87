/* Parser of the pharos-control config file: `key value` lines and `zone ORIGIN file=PATH`. */
#include "config.h"

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
#define CFG_TOK_MAX	8	/* more tokens than this on a line is an error anyway */
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
};

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

/* `zone ORIGIN file=PATH`: attributes are NAME=VALUE, each at most once. */
static int cfg_zone(struct cfg_parser *p, char **tok, int ntok)
{
	char origin[CONFIG_ORIGIN_MAX];
	const struct config_zone *dup;
	const char *file = NULL;
	struct config_zone *z;

	if (ntok < 2)
		return cfg_error(p, "missing value for 'zone' (expected: zone ORIGIN file=PATH)");
	if (config_origin_normalize(tok[1], origin, sizeof(origin)) < 0)
		return cfg_error(p, "invalid zone origin '%s'", tok[1]);
	for (int i = 2; i < ntok; i++) {
		if (strncmp(tok[i], "file=", 5) != 0)
			return cfg_error(p, "zone %s: unknown attribute '%s'", origin, tok[i]);
		if (file != NULL)
			return cfg_error(p, "zone %s: duplicate attribute 'file'", origin);
		file = tok[i] + 5;
		if (*file == '\0')
			return cfg_error(p, "zone %s: missing value for 'file='", origin);
	}
	if (file == NULL)
		return cfg_error(p, "zone %s: missing file=PATH", origin);
	dup = config_find_zone(p->c, origin);
	if (dup != NULL)
		return cfg_error(p, "duplicate zone '%s' (first on line %d)", origin, dup->line);
	if (cfg_zone_grow(p) < 0)
		return PHAROS_ENOMEM;
	z = &p->c->zones[p->c->zone_count];
	memset(z, 0, sizeof(*z));
	strcpy(z->origin, origin);
	z->line = p->line;
	z->file = cfg_path(p, file);
	if (z->file == NULL)
		return PHAROS_ENOMEM;
	p->c->zone_count++;
	return 0;
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
	rc = cfg_defaults(p->c);
	return rc < 0 ? rc : cfg_anycast_finish(p);
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
	for (size_t i = 0; i < c->zone_count; i++)
		free(c->zones[i].file);
	free(c->zones);
	free(c->path);
	free(c->state_dir);
	free(c->control_socket);
	free(c->control_socket_ro);
	free(c->dataplane_socket);
	acconf_free(&c->anycast);
	free(c);
}

const struct config_zone *config_find_zone(const struct config *c, const char *origin)
{
	for (size_t i = 0; i < c->zone_count; i++)
		if (strcmp(c->zones[i].origin, origin) == 0)
			return &c->zones[i];
	return NULL;
}
