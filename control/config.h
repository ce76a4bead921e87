/* pharos-control configuration: the line-based config file (doc/config.md). */
#ifndef PHAROS_CONFIG_H
#define PHAROS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tsigkey.h"

#include "acconf.h"

#define CONFIG_ORIGIN_MAX	256	/* origin text incl. trailing dot and NUL */
#define CONFIG_ERR_MAX		512	/* enough for "file:line: message" */

#define CONFIG_DEFAULT_STATE_DIR	"/var/lib/pharos"
#define CONFIG_DEFAULT_CONTROL		"/run/pharos/control.sock"
#define CONFIG_DEFAULT_DATAPLANE	"/run/pharos/dataplane.sock"

#define CONFIG_ADDR_TXT		64	/* "2001:db8::1#5300", "192.0.2.0/24" */

/* Defaults of the secondary zone attributes (doc/config.md). */
#define CONFIG_REFRESH_MIN	60
#define CONFIG_REFRESH_MAX	86400
#define CONFIG_RETRY_MIN	10
#define CONFIG_RETRY_MAX	3600
#define CONFIG_EXPIRE_MIN	3600
#define CONFIG_EXPIRE_MAX	2419200		/* 4 weeks */
#define CONFIG_MAX_SIZE		(1ull << 30)	/* bytes of one transfer */
#define CONFIG_XFR_TIMEOUT	10		/* seconds per network wait */

/* A primary (prefix = full length) or an allowed NOTIFY source (a prefix). */
struct config_addr {
	struct sockaddr_storage addr;	/* address and port (port 0 for a NOTIFY source) */
	socklen_t addrlen;
	unsigned prefix;		/* bits that must match (NOTIFY sources) */
	int key;			/* index in config.keys, -1 = no TSIG */
	char text[CONFIG_ADDR_TXT];	/* "192.0.2.1#53", "192.0.2.0/24" */
};

/* Bounds a timer from the SOA is clamped to, in seconds. */
struct config_clamp {
	uint32_t min, max;
};

/* One `zone` line: served from a file (file != NULL) or a secondary (primary_count > 0). */
struct config_zone {
	char origin[CONFIG_ORIGIN_MAX];	/* lowercased, absolute ("example.com.", ".") */
	char *file;			/* zone file path (absolute when a base dir was given) */
	int line;			/* where it was declared */
	/* secondary zones only */
	struct config_addr *primaries;	/* tried in this order */
	size_t primary_count;
	struct config_addr *notify_from;	/* allowed NOTIFY senders */
	size_t notify_count;
	struct config_clamp refresh, retry, expire;
	uint64_t max_size;		/* bytes of one transfer, 0 = no limit */
	uint32_t timeout;		/* seconds per network wait of a transfer */
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
	struct tsig_key *keys;		/* `key` lines and key files; secrets stay here */
	size_t key_count;
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

/* 1 when the zone is a secondary (transferred from primaries), 0 when served from a file. */
int config_zone_secondary(const struct config_zone *z);

/* The zone with this normalized origin, or NULL. */
const struct config_zone *config_find_zone(const struct config *c, const char *origin);

/*
 * Normalize a zone origin: lowercase, absolute (trailing dot), labels of letters, digits,
 * '-' and '_' only, 1..63 octets each, 253 octets at most. "." is the root.
 * Returns 0, or PHAROS_EINVAL when the text is not such a name.
 */
int config_origin_normalize(const char *in, char *out, size_t cap);

#endif
