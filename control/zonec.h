/* Zone compiler: zone file (ldns) -> checked zone -> image v2 bytes -> file (atomic). */
#ifndef PHAROS_ZONEC_H
#define PHAROS_ZONEC_H

#include <stdint.h>
#include <stddef.h>

enum zonec_severity { ZONEC_WARNING = 1, ZONEC_ERROR = 2 };

/*
 * Diagnostics sink: called once per finding with the file and line it is about
 * (line 0 = the whole file). The text is "what", without "file:line:" (the caller
 * formats as "file:line: error: what").
 */
typedef void (*zonec_report_fn)(void *ctx, enum zonec_severity sev, const char *file,
				int line, const char *what);

/*
 * One finding as text: "file:line: warning|error: what", or "file: ..." for line 0 (the
 * whole file). Every tool and daemon prints findings through this.
 */
void zonec_format(char *buf, size_t cap, enum zonec_severity sev, const char *file, int line,
		  const char *what);

/* Print findings to stderr (zonec_format). ctx unused. */
void zonec_report_stderr(void *ctx, enum zonec_severity sev, const char *file, int line,
			 const char *what);

struct zonec_zone;	/* a parsed, checked zone (opaque) */

/*
 * Parse and check a zone file. origin: text form ("example.com" or "example.com.").
 * Reports every finding through report(ctx, ...). Returns 0 and *out, or a negative
 * pharos_err when the zone cannot be served (syntax error, no SOA at the apex...).
 */
int zonec_load(const char *file, const char *origin, zonec_report_fn report, void *ctx,
	       struct zonec_zone **out);

/*
 * Build a zone record by record (AXFR): begin, add every record, end. source names the
 * zone's origin in findings ("primary 192.0.2.1#53"). zonec_add_rr copies rr; a record the
 * zone cannot hold (outside the zone, bad class...) is reported and PHAROS_EZONE returned.
 * zonec_end runs the checks zonec_load runs (SOA at the apex...) and returns 0 or an error;
 * after it the zone is ready for zonec_build (and takes no more records: PHAROS_EINVAL).
 * Free with zonec_free in every case.
 */
struct ldns_struct_rr;
int zonec_begin(const char *origin, const char *source, zonec_report_fn report, void *ctx,
		struct zonec_zone **out);
int zonec_add_rr(struct zonec_zone *z, const struct ldns_struct_rr *rr);
int zonec_end(struct zonec_zone *z);

/*
 * A hint that rr will be added soon: starts loading the part of the name map its owner
 * needs, so that zonec_add_rr does not wait for it (an AXFR of 1 M new names otherwise
 * waits for one cache miss per record). Changes nothing; optional.
 */
void zonec_prefetch(const struct zonec_zone *z, const struct ldns_struct_rr *rr);

/* Serial of a loaded zone. */
uint32_t zonec_serial(const struct zonec_zone *z);

/* Image of a loaded zone, malloc'd; caller frees *img. */
int zonec_build(const struct zonec_zone *z, uint8_t **img, size_t *len);

/*
 * The same image written into fd, a new empty file opened read-write: the file is
 * allocated (fallocate) and the image built in place through a shared mapping, with no
 * buffer and no copy (a file system without fallocate gets a buffer and write()). *len:
 * its size. Syncing and naming the file are the caller's.
 */
int zonec_build_fd(const struct zonec_zone *z, int fd, size_t *len);

/*
 * load + build in one call: the image v2 of a zone file, malloc'd (caller frees *img).
 * *serial (may be NULL) gets the SOA serial.
 */
int zonec_build_file(const char *file, const char *origin, zonec_report_fn report, void *ctx,
		     uint8_t **img, size_t *len, uint32_t *serial);

/* Write bytes to path atomically: temp file in the same directory, fsync, rename. */
int zonec_write_file(const char *path, const uint8_t *buf, size_t len);

void zonec_free(struct zonec_zone *z);

/* load + build + write in one call. *serial (may be NULL) gets the SOA serial. */
int zonec_compile_file(const char *file, const char *origin, const char *out_path,
		       zonec_report_fn report, void *ctx, uint32_t *serial);

#endif
