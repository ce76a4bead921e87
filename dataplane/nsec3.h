/* NSEC3 hashing (RFC 5155 5): SHA-1 with salt and iterations, base32hex, no allocation. */
#ifndef PHAROS_NSEC3_H
#define PHAROS_NSEC3_H

#include <stdint.h>
#include <stddef.h>
#include "pharos/image.h"

#define NSEC3_HASH_LEN	20	/* SHA-1 */

/* H(name) for a lowercased wire name with the chain's salt and iterations. */
void nsec3_hash(const struct img_nsec3param *p, const uint8_t *name, size_t len,
		uint8_t out[NSEC3_HASH_LEN]);

/*
 * Decode a base32hex label (RFC 4648 7, either case, no padding) of 32 characters into
 * 20 bytes. Returns 0 or PHAROS_EINVAL.
 */
int nsec3_b32hex_decode(const uint8_t *txt, size_t len, uint8_t out[NSEC3_HASH_LEN]);

/* Index in nsec3[0..n) (sorted by hash) of the record that matches or covers hash. */
uint32_t nsec3_find(const struct img_nsec3 *nsec3, uint32_t n, const uint8_t hash[NSEC3_HASH_LEN]);

#endif
