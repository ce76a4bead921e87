/* The anycast keys of the pharos-control config: health, prefixes, route hooks, drain. */
#ifndef PHAROS_ACCONF_H
#define PHAROS_ACCONF_H

#include <stddef.h>
#include <stdint.h>

#define ACCONF_PREFIX_MAX	64	/* "2001:db8::/32" text */
#define ACCONF_WORDS_MAX	8	/* words of a command */

/* Route hooks, as a bit set. */
enum acconf_hook {
	ACCONF_HOOK_BIRD = 1u << 0,
	ACCONF_HOOK_EXABGP = 1u << 1,
	ACCONF_HOOK_COMMAND = 1u << 2,
};

/* One `anycast-prefix` line. */
struct acconf_prefix {
	char text[ACCONF_PREFIX_MAX];	/* canonical: "192.0.2.53/32", "2001:db8:53::/48" */
	int family;			/* AF_INET or AF_INET6 */
	unsigned hooks;			/* enum acconf_hook bits; every configured hook by default */
};

/* A command: argv words (NULL-terminated), owned. argv[0] == NULL = not set. */
struct acconf_cmd {
	char *argv[ACCONF_WORDS_MAX + 1];
};

/* Everything anycast; embedded in struct config. Durations in milliseconds. */
struct acconf {
	struct acconf_prefix *prefixes;
	size_t prefix_count;
	char *query;			/* "ADDR:PORT" where the SOA probes go */
	int interval_ms, timeout_ms, fall, rise, sample_ms, stuck_ms;
	int fast_ms;			/* next evaluation after a failed one while up */
	uint32_t max_lag;		/* serial lag bound, 0 = not checked */
	int64_t grace_ms;
	char *drain_file;		/* NULL = none */
	char *bird_include;		/* NULL = no include-file hook */
	char *bird_protocol;		/* NULL = no enable/disable hook */
	struct acconf_cmd bird_reload;	/* default: birdc configure */
	struct acconf_cmd birdc;	/* default: birdc */
	struct acconf_cmd command;	/* operator script, unset = none */
	int exabgp;			/* pharos-exabgp follows the state */
	unsigned seen;			/* internal: keys already set (duplicates) */
};

#define ACCONF_DEFAULT_QUERY	"127.0.0.1:53"

/*
 * Parse one config line if its key is an anycast key. base: directory for relative paths
 * (NULL = keep). Returns 1 when the key is not ours, 0 when parsed, PHAROS_ECONFIG with
 * the reason in err (without "file:line: ") or PHAROS_ENOMEM.
 */
int acconf_line(struct acconf *a, const char *base, char **tok, int ntok, char *err,
		size_t errlen);

/* Fill what was not set with its default; checks across keys. Same returns as acconf_line. */
int acconf_finish(struct acconf *a, char *err, size_t errlen);

/* Free what a holds (not a itself). */
void acconf_free(struct acconf *a);

/* 1 when health-query was given (not the default). */
int acconf_query_set(const struct acconf *a);

/* Hook bits configured (bird include or protocol, exabgp, command). */
unsigned acconf_hooks(const struct acconf *a);

/* "bird", "exabgp", "command" for one bit. */
const char *acconf_hook_name(unsigned bit);

/* Split "ADDR:PORT" / "[V6]:PORT" / "ADDR" (port 53) into a socket address. 0 or -1. */
int acconf_addr(const char *text, void *sa, unsigned *salen);

#endif
