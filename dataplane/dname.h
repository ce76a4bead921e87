/* Wire-format domain names: parse from packets, text conversion, case, canonical order. */
#ifndef PHAROS_DNAME_H
#define PHAROS_DNAME_H

#include <stdint.h>
#include <stddef.h>

#define DNAME_MAX	255	/* wire length incl. the root label */
#define DNAME_TXT_MAX	1024	/* enough for any name in presentation form with escapes */

/*
 * Read the uncompressed name at pkt[off] (a query's QNAME). Copies it to out[DNAME_MAX]
 * as is (case kept) and returns its wire length through *len. A compression pointer,
 * a label type other than 0b00, a name longer than 255 octets or running past pktlen
 * gives PHAROS_EMALF.
 */
int dname_parse(const uint8_t *pkt, size_t pktlen, size_t off, uint8_t *out, size_t *len);

/*
 * Read a possibly compressed name at pkt[off] (RDATA, answers), expanding pointers
 * (backwards only, bounded). Returns the wire length in *len and the offset just
 * past the name in the packet in *end.
 */
int dname_unpack(const uint8_t *pkt, size_t pktlen, size_t off, uint8_t *out, size_t *len,
		 size_t *end);

/* Lowercase ASCII letters of a wire name in place (label lengths untouched). */
void dname_lower(uint8_t *wire, size_t len);

/* Lowercased copy. */
void dname_lower_copy(uint8_t *dst, const uint8_t *src, size_t len);

/* Number of labels, root excluded ("." = 0, "a.b." = 2). */
int dname_labels(const uint8_t *wire);

/*
 * Text (absolute, or relative to origin when origin != NULL) to lowercased wire form.
 * Accepts \DDD and \X escapes. Returns 0 or PHAROS_ESYNTAX.
 */
int dname_from_text(const char *txt, const uint8_t *origin, size_t origin_len,
		    uint8_t *out, size_t *len);

/* Wire to presentation form, absolute with trailing dot. Returns 0 or PHAROS_ESPACE. */
int dname_to_text(const uint8_t *wire, char *out, size_t cap);

/* Offset of the suffix that starts `skip` labels into the name (0 = whole name). */
size_t dname_skip(const uint8_t *wire, int skip);

/* 1 if name (lowercased) equals zone or lies below it, else 0. */
int dname_is_sub(const uint8_t *name, size_t nlen, const uint8_t *zone, size_t zlen);

/* RFC 4034 6.1 canonical order of two lowercased wire names: <0, 0, >0. */
int dname_canon_cmp(const uint8_t *a, const uint8_t *b);

#endif
