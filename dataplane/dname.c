/* Wire-format domain names: parsing from packets, text conversion, case, canonical order. */
#include <string.h>
#include <stdio.h>
#include "pharos/err.h"
#include "dname.h"

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * Walk a name at pkt[off] into out[DNAME_MAX]. Pointers are followed only when
 * allow_ptr (backwards, bounded), and *end gets the offset just past the name.
 */
static int walk_name(const uint8_t *pkt, size_t pktlen, size_t off, int allow_ptr,
		     uint8_t *out, size_t *len, size_t *end)
{
	size_t n = 0, limit = off;	/* pointers must go strictly backwards */
	int jumped = 0;

	for (;;) {
		if (off >= pktlen)
			return PHAROS_EMALF;
		uint8_t l = pkt[off];
		if ((l & 0xC0) == 0xC0 && allow_ptr) {
			if (off + 1 >= pktlen)
				return PHAROS_EMALF;
			size_t ptr = ((size_t)(l & 0x3F) << 8) | pkt[off + 1];
			if (!jumped)
				*end = off + 2;
			if (ptr >= limit)
				return PHAROS_EMALF;
			limit = off = ptr;
			jumped = 1;
			continue;
		}
		if (l & 0xC0)		/* a pointer where none may be, or a reserved type */
			return PHAROS_EMALF;
		if (n + 1 + l > DNAME_MAX || off + 1 + l > pktlen)
			return PHAROS_EMALF;
		memcpy(out + n, pkt + off, 1 + (size_t)l);
		n += 1 + (size_t)l;
		off += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*end = off;
	*len = n;
	return 0;
}

int dname_parse(const uint8_t *pkt, size_t pktlen, size_t off, uint8_t *out, size_t *len)
{
	size_t end;

	return walk_name(pkt, pktlen, off, 0, out, len, &end);
}

int dname_unpack(const uint8_t *pkt, size_t pktlen, size_t off, uint8_t *out, size_t *len,
		 size_t *end)
{
	return walk_name(pkt, pktlen, off, 1, out, len, end);
}

void dname_lower(uint8_t *wire, size_t len)
{
	dname_lower_copy(wire, wire, len);
}

void dname_lower_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t l = src[i];
		dst[i++] = l;
		for (uint8_t k = 0; k < l && i < len; k++, i++)
			dst[i] = lower(src[i]);
		if (l == 0)
			break;
	}
}

int dname_labels(const uint8_t *wire)
{
	int n = 0;

	while (*wire) {
		wire += 1 + *wire;
		n++;
	}
	return n;
}

size_t dname_skip(const uint8_t *wire, int skip)
{
	size_t off = 0;

	while (skip-- > 0 && wire[off])
		off += 1 + (size_t)wire[off];
	return off;
}

int dname_is_sub(const uint8_t *name, size_t nlen, const uint8_t *zone, size_t zlen)
{
	size_t off = 0;

	if (nlen < zlen)
		return 0;
	/* walk label by label so the suffix starts on a label boundary */
	while (nlen - off > zlen)
		off += 1 + (size_t)name[off];
	return nlen - off == zlen && memcmp(name + off, zone, zlen) == 0;
}

/* One label of text at *p into out (length byte first); advances *p past the dot. */
static int label_from_text(const char **p, uint8_t *out, size_t *olen)
{
	const char *s = *p;
	size_t n = 0;

	while (*s && *s != '.') {
		unsigned c = (unsigned char)*s++;
		if (c == '\\') {
			if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
			    s[2] >= '0' && s[2] <= '9') {
				c = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
				s += 3;
				if (c > 255)
					return PHAROS_ESYNTAX;
			} else if (*s) {
				c = (unsigned char)*s++;
			} else {
				return PHAROS_ESYNTAX;
			}
		}
		if (n >= 63)
			return PHAROS_ESYNTAX;
		out[1 + n++] = lower((uint8_t)c);
	}
	if (n == 0)
		return PHAROS_ESYNTAX;	/* empty label ("a..b") */
	out[0] = (uint8_t)n;
	*olen = n + 1;
	*p = *s == '.' ? s + 1 : s;
	return 0;
}

int dname_from_text(const char *txt, const uint8_t *origin, size_t origin_len,
		    uint8_t *out, size_t *len)
{
	size_t n = 0, tl = strlen(txt);
	int absolute = tl > 0 && txt[tl - 1] == '.' && (tl < 2 || txt[tl - 2] != '\\');

	if (strcmp(txt, ".") == 0) {
		out[0] = 0;
		*len = 1;
		return 0;
	}
	if (strcmp(txt, "@") == 0 && origin) {
		memcpy(out, origin, origin_len);
		*len = origin_len;
		return 0;
	}
	const char *p = txt;
	while (*p) {
		uint8_t lab[64];
		size_t ll;
		int rc = label_from_text(&p, lab, &ll);
		if (rc < 0)
			return rc;
		if (n + ll + 1 > DNAME_MAX)
			return PHAROS_ESYNTAX;
		memcpy(out + n, lab, ll);
		n += ll;
	}
	if (!absolute && origin) {
		if (n + origin_len > DNAME_MAX)
			return PHAROS_ESYNTAX;
		memcpy(out + n, origin, origin_len);
		n += origin_len;
	} else {
		out[n++] = 0;
	}
	*len = n;
	return 0;
}

int dname_to_text(const uint8_t *wire, char *out, size_t cap)
{
	size_t n = 0;

	if (*wire == 0)
		return cap >= 2 ? (out[0] = '.', out[1] = 0, 0) : PHAROS_ESPACE;
	while (*wire) {
		uint8_t l = *wire++;
		for (uint8_t i = 0; i < l; i++, wire++) {
			char buf[5];
			uint8_t c = *wire;
			int w;
			if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' ||
			    c == ';' || c == '$' || c == '@')
				w = snprintf(buf, sizeof(buf), "\\%c", c);
			else if (c <= 32 || c >= 127)
				w = snprintf(buf, sizeof(buf), "\\%03u", c);
			else
				w = snprintf(buf, sizeof(buf), "%c", c);
			if (n + (size_t)w + 2 > cap)
				return PHAROS_ESPACE;
			memcpy(out + n, buf, (size_t)w);
			n += (size_t)w;
		}
		out[n++] = '.';
	}
	out[n] = 0;
	return 0;
}

/* Labels of a name from the right: offsets of each label, returns count. */
static int label_offsets(const uint8_t *w, uint8_t offs[128])
{
	int n = 0;
	size_t off = 0;

	while (w[off] && n < 128) {
		offs[n++] = (uint8_t)off;
		off += 1 + (size_t)w[off];
	}
	return n;
}

int dname_canon_cmp(const uint8_t *a, const uint8_t *b)
{
	uint8_t oa[128], ob[128];
	int na = label_offsets(a, oa), nb = label_offsets(b, ob);

	/* compare labels right to left; a label is an octet string, shorter first on ties */
	while (na > 0 && nb > 0) {
		const uint8_t *la = a + oa[--na], *lb = b + ob[--nb];
		size_t m = la[0] < lb[0] ? la[0] : lb[0];
		int c = memcmp(la + 1, lb + 1, m);
		if (c)
			return c;
		if (la[0] != lb[0])
			return la[0] < lb[0] ? -1 : 1;
	}
	return na - nb;
}
