/* pharos-control configuration: the line-based config file (doc/config.md). */
#ifndef PHAROS_CONFIG_H
#define PHAROS_CONFIG_H

#include <stddef.h>

#include "acconf.h"

#define CONFIG_ORIGIN_MAX	256	/* origin text incl. trailing dot and NUL */
#define CONFIG_ERR_MAX		512	/* enough for "file:line: message" */

#define CONFIG_DEFAULT_STATE_DIR	"/var/lib/pharos"
#define CONFIG_DEFAULT_CONTROL		"/run/pharos/control.sock"
#define CONFIG_DEFAULT_DATAPLANE	"/run/pharos/dataplane.sock"

/* One `zone` line. */
struct config_zone {
	char origin[CONFIG_ORIGIN_MAX];	/* lowercased, absolute ("example.com.", ".") */
	char *file;			/* zone file path (absolute when a base dir was given) */
	int line;			/* where it was declared */
};

/* A whole parsed config. Every string is owned by the struct (config_free). */
struct config {
	char *path;			/* the file it came from, as given */
	char *state_dir;
	char *control_socket;		/* admin operator socket */
	char *control_socket_ro;	/* read-only operator socket, NULL = none */
	char *dataplane_socket;
	struct config_zone *zones;
	size_t zone_count;
	struct acconf anycast;		/* health, prefixes, route hooks (control/acconf.h) */
};

/*
 * Parse config text. name: file name used in messages ("pharos.conf:7: ...").
 * base_dir: directory that relative paths are resolved against (NULL = keep them as is).
 * On error writes "name:line: what" to err and returns PHAROS_ECONFIG (or PHAROS_ENOMEM).
 * On success *out is a new config the caller frees with config_free().
 */
int config_parse(const char *text, size_t len, const char *name, const char *base_dir,
		 struct config **out, char *err, size_t errlen);

/*
 * Read and parse a config file. Relative paths inside are resolved against the
 * directory of the file, so the result only holds absolute paths.
 * Errors as config_parse(), plus "path: cannot open: reason" (PHAROS_ECONFIG).
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/* Free a config; NULL is fine. */
void config_free(struct config *c);

/* The zone with this normalized origin, or NULL. */
const struct config_zone *config_find_zone(const struct config *c, const char *origin);

/*
 * Normalize a zone origin: lowercase, absolute (trailing dot), labels of letters, digits,
 * '-' and '_' only, 1..63 octets each, 253 octets at most. "." is the root.
 * Returns 0, or PHAROS_EINVAL when the text is not such a name.
 */
int config_origin_normalize(const char *in, char *out, size_t cap);

#endif
