/* TSIG (RFC 8945) on queries: no keys yet, so a signed query is answered NOTAUTH/BADKEY. */
#include <string.h>
#include "pharos/err.h"
#include "dns.h"
#include "tsig.h"

int tsig_parse(const uint8_t *pkt, size_t len, size_t off, uint16_t rdlen,
	       const uint8_t *key, size_t key_len, struct tsig_req *t)
{
	size_t end = off + rdlen, alg_len, after;

	if (dname_unpack(pkt, end, off, t->alg, &alg_len, &after) < 0 || after + 10 > end)
		return PHAROS_EMALF;
	uint16_t mac_len = dns_get16(pkt + after + 8);
	size_t p = after + 10 + mac_len;
	if (p + 6 > end)
		return PHAROS_EMALF;
	uint16_t other_len = dns_get16(pkt + p + 4);
	if (p + 6 + other_len != end || end > len)
		return PHAROS_EMALF;
	memcpy(t->key, key, key_len);
	t->key_len = (uint8_t)key_len;
	t->alg_len = (uint8_t)alg_len;
	memcpy(t->time_signed, pkt + after, 6);
	t->fudge = dns_get16(pkt + after + 6);
	t->orig_id = dns_get16(pkt);	/* the query's ID, as Knot (RFC 8945 4.2) */
	return 0;
}

size_t tsig_error_size(const struct tsig_req *t)
{
	/* owner, type/class/ttl/rdlen, alg, time 6, fudge 2, mac len 2, id 2, error 2, other 2 */
	return (size_t)t->key_len + 10 + t->alg_len + 16;
}

size_t tsig_write_error(uint8_t *out, size_t cap, const struct tsig_req *t, uint16_t error)
{
	size_t n = tsig_error_size(t);
	uint8_t *p = out;

	if (n > cap)
		return 0;
	memcpy(p, t->key, t->key_len);
	p += t->key_len;
	dns_put16(p, DNS_T_TSIG);
	dns_put16(p + 2, DNS_C_ANY);
	dns_put32(p + 4, 0);
	dns_put16(p + 8, (uint16_t)(t->alg_len + 16));
	p += 10;
	memcpy(p, t->alg, t->alg_len);
	p += t->alg_len;
	memcpy(p, t->time_signed, 6);
	dns_put16(p + 6, t->fudge);
	dns_put16(p + 8, 0);		/* MAC size: unsigned */
	dns_put16(p + 10, t->orig_id);
	dns_put16(p + 12, error);
	dns_put16(p + 14, 0);		/* other len */
	return n;
}
