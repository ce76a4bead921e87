#!/usr/bin/env bash
# pharos-zone: the offline tool, as an operator uses it before handing a zone to a PoP.
#   check   a good zone           -> exit 0, nothing on stderr, one summary line with the serial
#   check   a zone with warnings  -> exit 0; each finding `file:line: warning:` at the line of
#                                    its record (TTL < 60, out-of-zone, CNAME and other data)
#                                    or line 0 (no NS at the apex); the count in the summary
#   check   a syntax error        -> exit 1, `file:line: error:`, "zone refused" summary
#   check   no SOA                -> exit 1, the error names the SOA
#   compile a refused zone        -> exit 1, an existing output file is left as it was
#   compile, dump, compile the dump -> the same image byte for byte (compiled_at, the only
#                                    field allowed to differ, is carried over first)
#   dump    damaged images        -> exit 1 naming the problem (magic, version 1, size,
#                                    checksum, a bad field behind a valid checksum)
#   usage errors                  -> exit 2 with the usage text
# No network: no namespace needed.
#
# Environment: PHAROS_ZONE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
[ -x "$PY" ] || skip "$PY not found (Debian package python3)"
need_exe "${PHAROS_ZONE:?}"
tmpdir_make pharos-zone
cd "$T"	# findings name the file as given: keep it short and known

pz() { "$PHAROS_ZONE" "$@"; }

# Run pharos-zone; sets rc, out (stdout), err (stderr), and shows both.
run() {
	rc=0
	pz "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	printf '    $ pharos-zone %s  (exit %d)\n' "$*" "$rc"
	sed 's/^/    out: /' "$T/out"
	sed 's/^/    err: /' "$T/err"
}

expect_rc() {	# STATUS WHAT
	[ "$rc" -eq "$1" ] || fail "$2: exit status $rc, expected $1"
}

# stderr has exactly the line LINE.
expect_err_line() {	# LINE WHAT
	grep -qxF -- "$1" <<<"$err" || fail "$2: stderr lacks the line '$1'"
}

# --- check: a good zone ---------------------------------------------------------------------
cat >good.zone <<'EOF'
; a zone with a bit of everything, and nothing to complain about
$ORIGIN Good.test.
$TTL 3600
@	IN SOA	ns1 hostmaster (
		2026030405	; serial
		7200 3600 1209600 300 )
@	IN NS	ns1
@	IN NS	ns.elsewhere.example.
@	IN MX	10 mail
@	IN TXT	"v=spf1 -all" "second \"quoted\" string" "semi;colon" "\255\000\009tab"
@	IN CAA	0 issue "letsencrypt.org"
ns1	IN A	192.0.2.1
ns1	IN AAAA	2001:db8::1
Mail	IN A	192.0.2.2
www	300 IN CNAME	Mail
*.wild	IN A	192.0.2.3
a.b.c	IN TXT	"deep"		; two empty non-terminals above it
sub	IN NS	ns.sub
sub	IN DS	12345 8 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub	IN A	192.0.2.30
_sip._tcp	IN SRV	10 60 5060 sip
sip	IN A	192.0.2.4
sp\032ace	IN A	192.0.2.5
do\.t	IN A	192.0.2.6
unk	IN TYPE65280	\# 4 deadbeef
nap	IN NAPTR	100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .
tl	IN TLSA	3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
EOF
run check good.zone --origin good.test
expect_rc 0 "check of a good zone"
[ "$out" = "good.test.: serial 2026030405, 22 records, 0 warnings" ] ||
	fail "check of a good zone: summary line is not as expected"
[ -z "$err" ] || fail "check of a good zone printed findings"
log "check: a good zone passes with its serial in the summary"

# --- check: warnings, each at its line ----------------------------------------------------------
cat >warn.zone <<'EOF'
; warnings: one per commented line below, and no NS at the apex (line 0: the whole file)
$ORIGIN warn.test.
$TTL 3600
@	IN SOA	ns1 hostmaster (
		2026040101 7200 3600
		1209600 300 )
ns1	IN A	192.0.2.1
short	30 IN A	192.0.2.2		; line 8: TTL below 60
www.other.test.	IN A	192.0.2.4	; line 9: outside the zone
both	IN A	192.0.2.5
both	IN CNAME	ns1		; line 11: CNAME and other data
fine	IN A	192.0.2.6
EOF
run check warn.zone --origin warn.test.
expect_rc 0 "check of a zone with warnings"
expect_err_line "warn.zone:8: warning: TTL 30 of short.warn.test. A is below 60 seconds" \
	"TTL below 60"
expect_err_line "warn.zone:9: warning: www.other.test. A is outside the zone; dropped" \
	"out-of-zone record"
expect_err_line "warn.zone:11: warning: both.warn.test. has a CNAME and other data (A)" \
	"CNAME and other data"
expect_err_line "warn.zone: warning: no NS records at the zone apex" "no NS at the apex"
[ "$(grep -c . <<<"$err")" -eq 4 ] || fail "check of a zone with warnings: not exactly 4 findings"
[ "$out" = "warn.test.: serial 2026040101, 6 records, 4 warnings" ] ||
	fail "check of a zone with warnings: summary line is not as expected"
log "check: each warning at its line, exit 0"

# --- check: errors -------------------------------------------------------------------------------
cat >syntax.zone <<'EOF'
$ORIGIN syn.test.
@	IN SOA	ns1 hostmaster (
		1 7200 3600
		1209600 300 )
@	IN NS	ns1
	; a comment line
ns1	IN A	192.0.2.1
bad	IN A	192.0.2.256
ok	IN A	192.0.2.2
EOF
run check syntax.zone --origin syn.test
expect_rc 1 "check of a zone with a syntax error"
grep -q "^syntax\.zone:8: error: " <<<"$err" || fail "syntax error: no 'syntax.zone:8: error:'"
[ "$(grep -c . <<<"$err")" -eq 1 ] || fail "syntax error: not exactly one finding"
[ "$out" = "syn.test.: zone refused, 1 error, 0 warnings" ] ||
	fail "syntax error: summary line is not as expected"
log "check: a syntax error is refused at its line, exit 1"

cat >nosoa.zone <<'EOF'
$ORIGIN nosoa.test.
$TTL 3600
@	IN NS	ns1
ns1	IN A	192.0.2.1
EOF
run check nosoa.zone --origin nosoa.test
expect_rc 1 "check of a zone without SOA"
grep -Eq "^nosoa\.zone(:[0-9]+)?: error: .*SOA" <<<"$err" || fail "no SOA: the error does not name the SOA"
grep -q "zone refused" <<<"$out" || fail "no SOA: the summary does not say refused"
log "check: a zone without SOA is refused, exit 1"

# compile refuses the same zone and leaves what was at the output path alone
echo "not an image" >keep.img
run compile syntax.zone --origin syn.test -o keep.img
expect_rc 1 "compile of a zone with a syntax error"
[ "$(cat keep.img)" = "not an image" ] || fail "a refused compile overwrote its output file"
[ -z "$(find . -name 'keep.img.tmp*')" ] || fail "a refused compile left a temp file"
log "compile: a refused zone writes nothing"

# --- compile -> dump -> compile: the same image ------------------------------------------------------
# Copy compiled_at (header offset 56) from A into B and recompute B's checksum
# (tests/lib/imgsum.py); then A and B must be equal byte for byte (cmp).
same_image() {	# A B
	PYTHONPATH="$here/../lib" "$PY" - "$1" "$2" "$2.norm" <<-'EOF'
	import sys
	from imgsum import reseal
	a = open(sys.argv[1], "rb").read()
	b = bytearray(open(sys.argv[2], "rb").read())
	b[56:60] = a[56:60]
	reseal(b)
	open(sys.argv[3], "wb").write(b)
	EOF
	cmp "$1" "$2.norm"
}

roundtrip() {	# ZONEFILE ORIGIN NAME
	local zone=$1 origin=$2 name=$3
	run compile "$zone" --origin "$origin" -o "$name.img"
	expect_rc 0 "compile of $zone"
	grep -qx "wrote $name.img ($(stat -c %s "$name.img") bytes)" <<<"$out" ||
		fail "compile of $zone: no 'wrote $name.img (N bytes)' line"
	pz dump "$name.img" >"$name.dump" 2>"$name.dump.err" || fail "dump of $name.img failed"
	[ ! -s "$name.dump.err" ] || fail "dump of $name.img printed on stderr"
	grep -q "^; origin $origin, version 4, serial " "$name.dump" ||
		fail "dump of $name.img: no header line with the origin"
	run compile "$name.dump" --origin "$origin" -o "$name.again.img"
	expect_rc 0 "compile of the dump of $name.img"
	[ -z "$err" ] || fail "compile of the dump of $name.img has findings"
	same_image "$name.img" "$name.again.img" ||
		fail "the dump of $name.img does not compile to the same image"
	log "compile, dump, compile: $zone gives the same image"
}
roundtrip good.zone good.test. good
roundtrip "$here/../data/rfc4035-appendix-a.zone" example. rfc4035
roundtrip "$here/../data/rfc5155-appendix-a.zone" example. rfc5155
grep -q "^; denial NSEC3: hash 1, flags 0, 12 iterations, salt aabbccdd, 12 records$" rfc5155.dump ||
	fail "dump: the NSEC3 parameters are not in the header"
grep -qx "sp\\\\032ace.good.test.	3600	IN	A	192.0.2.5" good.dump ||
	fail "dump: the owner with a space is not written escaped"
grep -q "^; origin good.test., version 4, serial 2026030405, compiled " good.dump ||
	fail "dump: header line is not as expected"

# --- dump of damaged images ------------------------------------------------------------------------
size=$(stat -c %s good.img)
patch() {	# SRC DST OFFSET BYTES(printf %b)
	cp "$1" "$2"
	printf '%b' "$4" | dd of="$2" bs=1 seek="$3" conv=notrunc status=none
}
# Rewrite one u32 field and make the checksum right again: only the verifier can tell.
patch_field() {	# SRC DST OFFSET VALUE [relative to the NAMES section: 1]
	PYTHONPATH="$here/../lib" "$PY" - "$@" <<-'EOF'
	import struct, sys
	from imgsum import reseal
	src, dst, off, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
	b = bytearray(open(src, "rb").read())
	if len(sys.argv) > 5:
	    off += struct.unpack_from("<I", b, 64)[0]	# sec[0].off: NAMES
	struct.pack_into("<I", b, off, val)
	reseal(b)
	open(dst, "wb").write(b)
	EOF
}
patch good.img magic.img 0 'XXXXXXXX'
patch good.img version.img 8 '\001'
patch good.img flipped.img $((size / 2)) '\377'
cmp -s good.img flipped.img && fail "the byte patch did not change the image"
head -c $((size - 100)) good.img >truncated.img
head -c 60 good.img >short.img
patch_field good.img serial.img 32 12345	# header serial != the SOA's
patch_field good.img parent.img $((36 + 8)) 999 names	# name #1 (36-byte entries): parent

expect_dump_refused() {	# IMAGE REGEX WHAT
	run dump "$1"
	expect_rc 1 "dump of $3"
	[ -z "$out" ] || fail "dump of $3 printed zone data"
	grep -Eq -- "^$1: refused: .*$2" <<<"$err" || fail "dump of $3: message does not match /$2/"
	log "dump: $3 refused, exit 1"
}
expect_dump_refused magic.img "bad magic" "an image with a bad magic"
expect_dump_refused version.img "image version 1, this reader knows 4" "an image of version 1"
expect_dump_refused flipped.img "checksum" "an image with a flipped byte"
expect_dump_refused truncated.img "says $size bytes, image has $((size - 100))" \
	"a truncated image"
expect_dump_refused short.img "60 bytes, shorter than the header" "an image shorter than its header"
expect_dump_refused serial.img "header serial 12345 differs from the SOA serial 2026030405" \
	"an image whose header serial is not the SOA's"
expect_dump_refused parent.img "name #1 .*parent index 999 out of range" \
	"an image with a parent index out of range"
expect_dump_refused missing.img "No such file" "a missing file"

# --- usage errors ----------------------------------------------------------------------------------
usage_error() {	# WHAT ARGS...
	local what=$1
	shift
	rc=0
	pz "$@" >"$T/out" 2>"$T/err" || rc=$?
	printf '    $ pharos-zone %s  (exit %d)\n' "$*" "$rc"
	expect_rc 2 "$what"
	grep -q "^usage: pharos-zone" "$T/err" || fail "$what: no usage text on stderr"
	[ ! -s "$T/out" ] || fail "$what: printed on stdout"
}
usage_error "no arguments"
usage_error "an unknown command" frobnicate good.zone
usage_error "check without --origin" check good.zone
usage_error "compile without -o" compile good.zone --origin good.test
usage_error "check with -o" check good.zone --origin good.test -o x.img
usage_error "dump with --origin" dump good.img --origin good.test
usage_error "two files" check good.zone warn.zone --origin good.test
usage_error "an unknown option" check good.zone --origin good.test --frob
usage_error "dump without a file" dump
[ ! -e x.img ] || fail "a usage error wrote an image"
log "usage errors exit 2"
log "ok"
