/* Unit tests for dataplane/dname.c: parsing, text, case, canonical order. */
#include <string.h>
#include <criterion/criterion.h>
#include "pharos/err.h"
#include "dname.h"

static size_t wire(const char *txt, uint8_t *out)
{
	size_t len;
	cr_assert_eq(dname_from_text(txt, NULL, 0, out, &len), 0, "%s", txt);
	return len;
}

Test(dname, text_roundtrip_lowercases)
{
	uint8_t w[DNAME_MAX];
	char t[DNAME_TXT_MAX];
	size_t len = wire("WWW.Example.COM.", w);

	cr_assert_eq(len, 17);
	cr_assert_eq(memcmp(w, "\3www\7example\3com\0", 17), 0);
	cr_assert_eq(dname_to_text(w, t, sizeof(t)), 0);
	cr_assert_str_eq(t, "www.example.com.");
	cr_assert_eq(dname_labels(w), 3);
}

Test(dname, escapes_and_relative)
{
	uint8_t w[DNAME_MAX], origin[DNAME_MAX];
	char t[DNAME_TXT_MAX];
	size_t len, olen = wire("example.", origin);

	cr_assert_eq(dname_from_text("a\\.b\\032c", origin, olen, w, &len), 0);
	cr_assert_eq(memcmp(w, "\5a.b c\7example\0", len), 0);
	cr_assert_eq(dname_to_text(w, t, sizeof(t)), 0);
	cr_assert_str_eq(t, "a\\.b\\032c.example.");
	cr_assert_eq(dname_from_text("@", origin, olen, w, &len), 0);
	cr_assert_eq(len, olen);
	cr_assert_eq(dname_from_text("a..b.", NULL, 0, w, &len), PHAROS_ESYNTAX);
}

Test(dname, too_long_refused)
{
	char txt[400];
	uint8_t w[DNAME_MAX];
	size_t len;

	memset(txt, 0, sizeof(txt));
	for (int i = 0; i < 64; i++)
		strcat(txt, "abc.");	/* 64 * 4 = 256 octets + root: too long */
	cr_assert_eq(dname_from_text(txt, NULL, 0, w, &len), PHAROS_ESYNTAX);
	txt[63 * 4] = 0;		/* 252 + root = 253: fine */
	cr_assert_eq(dname_from_text(txt, NULL, 0, w, &len), 0);
	cr_assert_eq(len, 253);
}

Test(dname, parse_rejects_pointers_and_overrun)
{
	const uint8_t ok[] = "\3www\7example\0";
	const uint8_t ptr[] = { 3, 'w', 'w', 'w', 0xC0, 0x0C };
	const uint8_t cut[] = { 3, 'w', 'w' };
	uint8_t out[DNAME_MAX];
	size_t len;

	cr_assert_eq(dname_parse(ok, sizeof(ok) - 1, 0, out, &len), 0);
	cr_assert_eq(len, 13);
	cr_assert_eq(dname_parse(ptr, sizeof(ptr), 0, out, &len), PHAROS_EMALF);
	cr_assert_eq(dname_parse(cut, sizeof(cut), 0, out, &len), PHAROS_EMALF);
}

Test(dname, unpack_follows_backward_pointers_only)
{
	/* "example." at 0, "www" + pointer to 0 at 9, self-pointer at 15 */
	const uint8_t pkt[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
				3, 'w', 'w', 'w', 0xC0, 0x00, 0xC0, 15 };
	uint8_t out[DNAME_MAX];
	size_t len, end;

	cr_assert_eq(dname_unpack(pkt, sizeof(pkt), 9, out, &len, &end), 0);
	cr_assert_eq(len, 13);
	cr_assert_eq(end, 15);
	cr_assert_eq(memcmp(out, "\3www\7example\0", 13), 0);
	cr_assert_eq(dname_unpack(pkt, sizeof(pkt), 15, out, &len, &end), PHAROS_EMALF);
}

Test(dname, subdomain_is_label_aligned)
{
	uint8_t a[DNAME_MAX], z[DNAME_MAX];
	size_t al, zl = wire("example.com.", z);

	al = wire("www.example.com.", a);
	cr_assert(dname_is_sub(a, al, z, zl));
	cr_assert(dname_is_sub(z, zl, z, zl));
	al = wire("xexample.com.", a);
	cr_assert_not(dname_is_sub(a, al, z, zl));
	al = wire("com.", a);
	cr_assert_not(dname_is_sub(a, al, z, zl));
}

Test(dname, canonical_order_rfc4034)
{
	/* RFC 4034 6.1 example, in order */
	static const char *const order[] = {
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.",
		"\\200.z.example.",
	};
	uint8_t a[DNAME_MAX], b[DNAME_MAX];

	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		wire(order[i], a);
		wire(order[i + 1], b);
		cr_assert_lt(dname_canon_cmp(a, b), 0, "%s < %s", order[i], order[i + 1]);
		cr_assert_gt(dname_canon_cmp(b, a), 0);
		cr_assert_eq(dname_canon_cmp(a, a), 0);
	}
}

Test(dname, lower_keeps_length_octets)
{
	uint8_t w[] = { 2, 'A', 'b', 1, 'Z', 0 };

	dname_lower(w, sizeof(w));
	cr_assert_eq(memcmp(w, "\2ab\1z\0", 6), 0);
}
