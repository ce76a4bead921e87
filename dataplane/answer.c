/* The answer engine (placeholder until the real engine lands): REFUSED for every query. */
#include <string.h>
#include "answer.h"

size_t answer_query(const struct snapshot *snap, const uint8_t *q, size_t qlen, uint8_t *out,
		    size_t outcap, enum answer_proto proto, struct answer_info *info)
{
	(void)snap; (void)proto;
	memset(info, 0, sizeof(*info));
	if (qlen < 12 || (q[2] & 0x80) || outcap < qlen) {
		info->dropped = 1;
		return 0;
	}
	memmove(out, q, qlen);
	out[2] = (uint8_t)(out[2] | 0x80);
	out[3] = 5;
	info->rcode = 5;
	return qlen;
}
