#!/usr/bin/env bash
# xfr: the zone transfer client (control/xfr.c, driven by tests/control/xfr_client.c)
# against real primaries and a broken one, inside a network namespace with only loopback:
#   1. knotd: SOA check, AXFR (image written, dumped), a change made with knotc
#      zone-begin/zone-set/zone-unset/zone-commit, IXFR: the diff applied to the first
#      AXFR's records equals a fresh AXFR; IXFR from the new serial is up to date; a size
#      limit is enforced; TSIG: every algorithm (hmac-md5 .. hmac-sha512) transfers a zone
#      whose ACL wants that key, a wrong secret fails with BADSIG, no key with NOTAUTH
#   2. BIND 9 named (type primary, allow-transfer, ixfr-from-differences): AXFR, TSIG
#      hmac-sha256, then the zone file edited and named reloaded (SIGHUP): IXFR applied
#      equals a fresh AXFR
#   3. tests/lib/badprimary.py: each failure mode of issue 4 point 7 gives rc != 0 and an
#      error line naming the primary, the kind and the reason; IXFR refused or answered
#      with a full zone falls back to AXFR; a good transfer after the bad ones works
#   4. NOTIFY: the same messages to knotd (as a secondary) and to notify_handle get the
#      same answers, BADTIME (a time 1000 s off) signed as RFC 8945 5.2.3 says included;
#      replays (the same signed NOTIFY twice, an older time after a newer one): the same
#      second is accepted by both, an earlier time gets a signed BADTIME from us (5.2.3),
#      while knotd accepts it (logged)
#   5. a primary answering BADTIME signed with its clock: the error says how far off it is
#
# Environment: XFR_CLIENT, PHAROS_ZONE, BADPRIMARY.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need knotd knotc named dig
need_dnspython
need_exe "${XFR_CLIENT:?}" "${PHAROS_ZONE:?}"
BADPRIMARY=${BADPRIMARY:-$here/../lib/badprimary.py}
tmpdir_make xfr

zone=example.com.
kport=5351
bport=5352
pport=5353
secret=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=
wrong=QUJDREVGR0hJSktMTU5PUEFCQ0RFRkdISUpLTE1OT1A=
wait_s=20
C=(timeout 60 "$XFR_CLIENT" -t 10000)	# waits are bounded; generous for loaded CI

make_zone() {	# SERIAL [EXTRA RR LINES]
	cat <<-EOF
	\$ORIGIN $zone
	\$TTL 3600
	@	IN SOA	ns1 hostmaster $1 7200 3600 1209600 300
	@	IN NS	ns1
	ns1	IN A	192.0.2.53
	www	IN A	192.0.2.80
	www	IN AAAA	2001:db8::80
	mail	IN MX	10 mx.example.net.
	sub	IN NS	ns.sub
	ns.sub	IN A	192.0.2.54
	*.wild	IN TXT	"wildcard"
	EOF
	local i
	for ((i = 0; i < 300; i++)); do
		printf 'h%d\tIN A\t198.18.%d.%d\n' "$i" $((i / 256)) $((i % 256))
	done
	shift
	printf '%s\n' "$@"
}

# Run the client; its output in $out, its status in $rc.
run() {
	rc=0
	out=$("${C[@]}" "$@" 2>&1) || rc=$?
}

expect_ok() {	# WHAT ARGS...
	local what=$1
	shift
	run "$@"
	[ "$rc" -eq 0 ] || fail "$what: rc $rc: $out"
	log "$what: $(head -n1 <<<"$out")"
}

expect_err() {	# WHAT TEXT ARGS...
	local what=$1 text=$2
	shift 2
	run "$@"
	[ "$rc" -ne 0 ] || fail "$what: succeeded, expected an error: $out"
	grep -q '^err=primary 127\.0\.0\.1#[0-9]*: ' <<<"$out" ||
		fail "$what: no 'err=primary ...' line: $out"
	grep -qF -- "$text" <<<"$out" || fail "$what: expected '$text' in: $out"
	log "$what: $(grep '^err=' <<<"$out")"
}

field() {	# NAME: a value of the client's first line
	sed -n '1s/.*\b'"$1"'=\([^ ]*\).*/\1/p' <<<"$out"
}

# Canonical sorted text of an image (pharos-zone dump, one RR a line).
image_text() {
	"$PHAROS_ZONE" dump "$1" | grep -v '^;' >"$1.dump"
	"$XFR_CLIENT" -c "$1.dump" | sort
}

# AXFR to an image, its text in $2.
axfr_text() {	# PRIMARY OUT_TEXT [CLIENT ARGS...]
	local p=$1 o=$2
	shift 2
	expect_ok "AXFR from $p" "$@" -o "$o.img" "$p" "$zone"
	[ "$(field kind)" = AXFR ] || fail "AXFR from $p: kind $(field kind)"
	image_text "$o.img" >"$o"
}

# IXFR from SERIAL applied to BASE text must equal a fresh AXFR; the IXFR's output is
# left in $ixfr_out.
ixfr_check() {	# WHO PRIMARY SERIAL BASE
	local who=$1 p=$2 s=$3 base=$4
	expect_ok "$who IXFR from $s" -s "$s" -b "$base" -O "$T/$who.ixfr" "$p" "$zone"
	[ "$(field kind)" = IXFR ] || fail "$who IXFR: kind $(field kind) ($out)"
	[ "$(field fallback)" = 0 ] || fail "$who IXFR: fell back ($out)"
	ixfr_out=$out
	sort "$T/$who.ixfr" >"$T/$who.ixfr.sorted"
	axfr_text "$p" "$T/$who.after"
	diff -u "$T/$who.after" "$T/$who.ixfr.sorted" >&2 ||
		fail "$who: IXFR applied differs from a fresh AXFR"
	grep -q '^new\.example\.com\.' "$T/$who.ixfr.sorted" || fail "$who: the change is missing"
	log "$who: IXFR applied = fresh AXFR ($(wc -l <"$T/$who.after") records)"
}

# ---------------------------------------------------------------- 1. knotd
log "knotd as primary"
mkdir -p "$T/knot"
make_zone 2026010101 >"$T/knot/example.zone"
for alg in md5 sha1 sha224 sha256 sha384 sha512; do
	make_zone 1 | sed "s/^\\\$ORIGIN .*/\$ORIGIN $alg.test./" >"$T/knot/$alg.zone"
done
knot_conf "$T/knot.conf" "$T/knot" 127.0.0.1 "$kport" "$zone=$T/knot/example.zone"
# IXFR needs Knot's journal of changes; transfers need an ACL; one key per algorithm
sed -i 's/journal-content: none/journal-content: changes/' "$T/knot.conf"
{
	echo "key:"
	for alg in md5 sha1 sha224 sha256 sha384 sha512; do
		printf '  - id: %s.key.\n    algorithm: hmac-%s\n    secret: %s\n' \
			"$alg" "$alg" "$secret"
	done
	echo "acl:"
	printf '  - id: open\n    address: 127.0.0.1\n    action: transfer\n'
	for alg in md5 sha1 sha224 sha256 sha384 sha512; do
		printf '  - id: %s\n    address: 127.0.0.1\n    key: %s.key.\n    action: transfer\n' \
			"$alg" "$alg"
	done
} >"$T/knot.acl"
awk -v acl="$T/knot.acl" '/^template:/ { while ((getline l < acl) > 0) print l } { print }' \
	"$T/knot.conf" >"$T/knot.conf.new"
mv "$T/knot.conf.new" "$T/knot.conf"
sed -i "s|^  - domain: $zone\$|&\n    acl: [open]|" "$T/knot.conf"
for alg in md5 sha1 sha224 sha256 sha384 sha512; do
	printf '  - domain: %s.test.\n    file: %s\n    acl: [%s]\n' "$alg" "$T/knot/$alg.zone" \
		"$alg" >>"$T/knot.conf"
done
knot_start knotd "$T/knot.conf" "$T/knotd.log"
wait_dns 127.0.0.1 "$kport" "$zone" SOA "$wait_s" || fail "knotd does not answer"
K=127.0.0.1#$kport

expect_ok "knot SOA" -S "$K" "$zone"
[ "$(field serial)" = 2026010101 ] || fail "SOA serial: $out"
axfr_text "$K" "$T/knot.before"
[ "$(field records)" = 310 ] || fail "AXFR records: $(field records), want 310 (309 + the closing SOA) ($out)"
grep -q '^h299\.example\.com\.' "$T/knot.before" || fail "AXFR image lacks h299"
expect_ok "knot IXFR, same serial" -s 2026010101 "$K" "$zone"
[ "$(field kind)" = up-to-date ] || fail "same serial: $out"

kc() { knotc -c "$T/knot.conf" "$@" >/dev/null || fail "knotc $*"; }
kc zone-begin "$zone"
kc zone-set "$zone" new 3600 A 192.0.2.99
kc zone-unset "$zone" www A 192.0.2.80
kc zone-set "$zone" h7 3600 TXT "changed"
kc zone-commit "$zone"
kc zone-begin "$zone"	# a second change: the IXFR holds two difference sequences
kc zone-unset "$zone" h8 A
kc zone-set "$zone" h9 3600 AAAA 2001:db8::9
kc zone-commit "$zone"
ixfr_check knot "$K" 2026010101 "$T/knot.before"
out=$ixfr_out
[ "$(field serial)" = 2026010103 ] || fail "serial after the changes: $out"
[ "$(field diffs)" = 2 ] || fail "two commits, $(field diffs) difference sequences: $out"
expect_ok "knot IXFR from the new serial" -s 2026010103 "$K" "$zone"
[ "$(field kind)" = up-to-date ] || fail "from the new serial: $out"
expect_ok "knot IXFR from a serial it has no journal for" -s 2026010100 "$K" "$zone"
[ "$(field kind) $(field fallback)" = "AXFR 1" ] ||
	fail "IXFR from an unknown serial: expected Knot's full zone (fallback=1): $out"
expect_ok "knot retransfer" -f -s 2026010103 "$K" "$zone"
[ "$(field kind)" = AXFR ] || fail "forced AXFR: $out"
expect_err "knot size limit" "AXFR: transfer larger than the size limit of 2000 bytes" \
	-l 2000 "$K" "$zone"

for alg in md5 sha1 sha224 sha256 sha384 sha512; do
	expect_ok "knot TSIG hmac-$alg" -k "$alg.key.:hmac-$alg:$secret" "$K" "$alg.test."
	[ "$(field kind)" = AXFR ] || fail "TSIG hmac-$alg: $out"
done
expect_err "knot TSIG wrong secret" "SOA: answer NOTAUTH (TSIG BADSIG)" \
	-k "sha256.key.:hmac-sha256:$wrong" "$K" sha256.test.
expect_err "knot TSIG missing" "AXFR: answer NOTAUTH" "$K" sha256.test.
expect_err "knot TSIG other key" "(TSIG BADKEY)" -k "nokey.:hmac-sha256:$secret" "$K" \
	sha256.test.

# ---------------------------------------------------------------- 2. BIND 9
log "BIND 9 named as primary"
mkdir -p "$T/bind"
make_zone 2026020201 >"$T/bind/example.zone"
cat >"$T/bind/named.conf" <<EOF
options {
	directory "$T/bind";
	pid-file "$T/bind/named.pid";
	listen-on port $bport { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	ixfr-from-differences yes;
	allow-transfer { key xfr-key.; 127.0.0.1; };
};
key "xfr-key." { algorithm hmac-sha256; secret "$secret"; };
controls { };
zone "$zone" { type primary; file "$T/bind/example.zone"; };
EOF
bg_start named "$T/named.log" named -g -c "$T/bind/named.conf"
named_pid=$BG_PID
wait_dns 127.0.0.1 "$bport" "$zone" SOA "$wait_s" || fail "named does not answer"
B=127.0.0.1#$bport
axfr_text "$B" "$T/bind.before"
[ "$(field serial)" = 2026020201 ] || fail "BIND AXFR serial: $out"
expect_ok "BIND TSIG hmac-sha256" -k "xfr-key.:hmac-sha256:$secret" "$B" "$zone"
expect_err "BIND TSIG wrong secret" "TSIG BADSIG" -k "xfr-key.:hmac-sha256:$wrong" "$B" "$zone"
make_zone 2026020202 "new	IN A	192.0.2.99" | grep -v '^www	IN A' >"$T/bind/example.zone"
kill -HUP "$named_pid"
for ((i = 0; i < wait_s * 5; i++)); do
	[ "$(soa_serial 127.0.0.1 "$bport" "$zone")" = 2026020202 ] && break
	sleep 0.2
done
[ "$(soa_serial 127.0.0.1 "$bport" "$zone")" = 2026020202 ] || fail "named did not reload"
ixfr_check bind "$B" 2026020201 "$T/bind.before"

# ---------------------------------------------------------------- 3. the broken primary
log "badprimary.py"
make_zone 2026030301 >"$T/bad.zone"
ctl=$T/bad.ctl
echo "mode good" >"$ctl"
bg_start2 badprimary "$T/bad.out" "$T/bad.err" /usr/bin/python3 "$BADPRIMARY" \
	--port "$pport" --zone "$zone" --file "$T/bad.zone" --control "$ctl" --per-message 25 \
	--oversize-records 20000 --key "xfr-key.:hmac-sha256:$secret"
wait_line "$T/bad.out" ready "$BG_PID" "$wait_s" || fail "badprimary did not start"
P=127.0.0.1#$pport
KEY=(-k "xfr-key.:hmac-sha256:$secret")
expect_ok "bad primary, mode good" "${KEY[@]}" "$P" "$zone"
[ "$(field messages)" -gt 5 ] || fail "expected a multi-message AXFR: $out"
s0=2026030301
printf 'mode good\nserial 2026030302\nadd new 3600 IN A 192.0.2.99\n' >"$ctl"
expect_ok "bad primary, good IXFR" "${KEY[@]}" -s "$s0" "$P" "$zone"
[ "$(field kind)" = IXFR ] || fail "good IXFR: $out"

bad() {	# MODE TEXT [CLIENT ARGS...]: fails from serial 2026030302 with TEXT
	local mode=$1 text=$2
	shift 2
	printf 'mode %s\nserial 2026030303\n' "$mode" >"$ctl"
	expect_err "mode $mode" "$text" "${KEY[@]}" -s 2026030302 "$@" "$P" "$zone"
}
bad garbage "IXFR: garbage: unparsable message"
bad truncated "IXFR: truncated: connection closed before the closing SOA"
bad outside "IXFR: record outside the zone: intruder.example.net. A"
bad badtsig "IXFR: TSIG signature wrong (BADSIG) on message 1"
bad oversize "IXFR: transfer larger than the size limit of 1000000 bytes" -l 1000000
bad backwards "SOA: serial went backwards: the primary has 2026030293, we serve 2026030302"
bad drop "IXFR: connection"
bad silent "SOA: no answer over UDP: timed out" -t 1000
printf 'mode truncated\nserial 2026030303\n' >"$ctl"
expect_err "mode truncated, AXFR" "AXFR: truncated" "${KEY[@]}" "$P" "$zone"
expect_err "mode good, our key wrong" "SOA: answer NOTAUTH" \
	-k "xfr-key.:hmac-sha256:$wrong" "$P" "$zone"

for mode in ixfr-refused ixfr-full; do
	printf 'mode %s\nserial 2026030303\n' "$mode" >"$ctl"
	expect_ok "mode $mode" "${KEY[@]}" -s 2026030302 "$P" "$zone"
	[ "$(field kind) $(field fallback)" = "AXFR 1" ] ||
		fail "mode $mode: expected AXFR with fallback=1: $out"
done
printf 'mode sparse-tsig\nserial 2026030303\n' >"$ctl"
expect_ok "mode sparse-tsig (unsigned messages between signed)" "${KEY[@]}" "$P" "$zone"
[ "$(field messages)" -gt 5 ] || fail "sparse-tsig: expected many messages: $out"
printf 'mode udp-tc\nserial 2026030303\n' >"$ctl"
expect_ok "mode udp-tc (SOA over TCP)" "${KEY[@]}" -S "$P" "$zone"
[ "$(field serial)" = 2026030303 ] || fail "SOA over TCP: $out"
printf 'mode backwards\nserial 2026030303\n' >"$ctl"
expect_ok "backwards, zone-retransfer" "${KEY[@]}" -f -s 2026030302 "$P" "$zone"
[ "$(field serial)" = 2026030293 ] || fail "forced AXFR: $out"
printf 'mode good\nserial 2026030304\n' >"$ctl"
expect_ok "good again" "${KEY[@]}" -s 2026030302 "$P" "$zone"
# the same primary over IPv6 (::1)
bg_start2 badprimary6 "$T/bad6.out" "$T/bad6.err" /usr/bin/python3 "$BADPRIMARY" \
	--addr ::1 --port "$pport" --zone "$zone" --file "$T/bad.zone" --control "$ctl" \
	--key "xfr-key.:hmac-sha256:$secret"
wait_line "$T/bad6.out" ready "$BG_PID" "$wait_s" || fail "badprimary on ::1 did not start"
expect_ok "IPv6 primary" "${KEY[@]}" "[::1]:$pport" "$zone"
[ "$(field kind) $(field serial)" = "AXFR 2026030304" ] || fail "IPv6 primary: $out"
grep -q '^err=primary ::1#' <<<"$("${C[@]}" -t 1000 -s 1 "[::1]:1" "$zone")" ||
	fail "an IPv6 primary is named ::1#PORT in errors"

# ---------------------------------------------------------------- 4. NOTIFY as Knot
log "NOTIFY: notify_handle vs knotd"
sport=5354
nport=5355
mkdir -p "$T/ksec"
for z in open keyed other; do
	make_zone 1 | sed "s/^\\\$ORIGIN .*/\$ORIGIN $z.test./" >"$T/ksec/$z.zone"
done
knot_conf "$T/ksec.conf" "$T/ksec" 127.0.0.1 "$sport"
for z in open keyed other; do
	printf '  - domain: %s.test.\n    file: %s\n    master: prim\n    acl: [n_%s]\n' \
		"$z" "$T/ksec/$z.zone" "$z" >>"$T/ksec.conf"
done
{
	printf 'key:\n  - id: nkey.\n    algorithm: hmac-sha256\n    secret: %s\n' "$secret"
	printf 'remote:\n  - id: prim\n    address: 127.0.0.1@%s\n' "$pport"
	printf 'acl:\n'
	printf '  - id: n_open\n    address: 127.0.0.1\n    action: notify\n'
	printf '  - id: n_keyed\n    address: 127.0.0.1\n    key: nkey.\n    action: notify\n'
	printf '  - id: n_other\n    address: 198.18.9.9\n    action: notify\n'
} >"$T/ksec.acl"
awk -v acl="$T/ksec.acl" '/^template:/ { while ((getline l < acl) > 0) print l } { print }' \
	"$T/ksec.conf" >"$T/ksec.conf.new"
mv "$T/ksec.conf.new" "$T/ksec.conf"
knot_start knotd-secondary "$T/ksec.conf" "$T/ksec.log"
wait_dns 127.0.0.1 "$sport" open.test. SOA "$wait_s" || fail "knotd (secondary) does not answer"
bg_start2 notify "$T/notify.out" "$T/notify.err" "$XFR_CLIENT" -N "127.0.0.1#$nport" \
	-A open.test.=127.0.0.1/32 -A "keyed.test.=127.0.0.1/32=nkey.:hmac-sha256:$secret" \
	-A other.test.=198.18.9.9/32
wait_line "$T/notify.out" ready "$BG_PID" "$wait_s" || fail "xfr_client -N did not start"
cat >"$T/notify.py" <<'PYEOF'
# Send the same NOTIFY messages to a server; print what its answers say, one line each.
import base64, hashlib, hmac, socket, struct, sys, time
from unittest import mock
import dns.flags, dns.message, dns.name, dns.opcode, dns.rrset, dns.tsigkeyring
port, secret, wrong = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def tsig_rr(w, r):
    """The TSIG RR of answer r (to w, no answer records): its fields, or None."""
    qend = 12
    while w[qend]:
        qend += 1 + w[qend]
    qend += 5
    if r[4:12] != b'\0\1\0\0\0\0\0\1':
        return None
    key, used = dns.name.from_wire(r, qend)
    p = qend + used + 10  # owner, type, class, TTL, RDLENGTH
    alg, used = dns.name.from_wire(r, p)
    p += used
    t_hi, t_lo, fudge, mac_len = struct.unpack('!HIHH', r[p:p + 10])
    mac = r[p + 10:p + 10 + mac_len]
    p += 10 + mac_len
    orig_id, error, other_len = struct.unpack('!HHH', r[p:p + 6])
    other = r[p + 6:p + 6 + other_len]
    return qend, key, alg, t_hi, t_lo, fudge, mac, orig_id, error, other


def badtime(w, r, req_mac, signed_at):
    """What a BADTIME answer's TSIG says (RFC 8945 5.2.3), its MAC checked here with
    hashlib: request MAC, the answer without its TSIG, the TSIG variables."""
    t = tsig_rr(w, r)
    if t is None:
        return 'counts %s' % r[4:12].hex()
    qend, key, alg, t_hi, t_lo, fudge, mac, orig_id, error, other = t
    other_len = len(other)
    if not mac:
        return 'error %d, unsigned' % error
    when = (t_hi << 32) | t_lo
    msg = struct.pack('!H', orig_id) + r[2:10] + b'\0\0' + r[12:qend]
    var = (key.canonicalize().to_wire() + b'\0\xff\0\0\0\0' + alg.canonicalize().to_wire() +
           struct.pack('!HIHHH', t_hi, t_lo, fudge, error, other_len) + other)
    want = hmac.new(base64.b64decode(secret), struct.pack('!H', len(req_mac)) + req_mac +
                    msg + var, hashlib.sha256).digest()
    theirs = int.from_bytes(other, 'big') if other_len == 6 else None
    return ('error %d, signed %s, time signed %s, fudge %d, other data %s' %
            (error, 'and verified' if hmac.compare_digest(mac, want) else 'NOT verified',
             "the request's" if when == signed_at else 'other (%d)' % (when - signed_at),
             fudge, 'our clock' if theirs is not None and abs(theirs - time.time()) < 10
             else 'other: %s' % other.hex()))

good = dns.tsigkeyring.from_text({'nkey.': ('hmac-sha256', secret)})
bad = dns.tsigkeyring.from_text({'nkey.': ('hmac-sha256', wrong)})
unknown = dns.tsigkeyring.from_text({'okey.': ('hmac-sha256', secret)})
cases = [('allowed', 'open.test.', None, 'SOA', False),
         ('allowed, SOA in answer', 'open.test.', None, 'SOA', True),
         ('unknown key', 'open.test.', unknown, 'SOA', False),
         ('signed, good', 'keyed.test.', good, 'SOA', True),
         ('wrong secret', 'keyed.test.', bad, 'SOA', False),
         ('unsigned, key wanted', 'keyed.test.', None, 'SOA', False),
         ('other key', 'keyed.test.', unknown, 'SOA', False),
         ('sender not allowed', 'other.test.', None, 'SOA', False),
         ('zone not ours', 'elsewhere.test.', None, 'SOA', False),
         ('type A', 'open.test.', None, 'A', False),
         ('signed 1000 s in the past', 'keyed.test.', good, 'SOA', False),
         ('signed 1000 s in the future', 'keyed.test.', good, 'SOA', False),
         ('wrong secret, 1000 s in the past', 'keyed.test.', bad, 'SOA', False)]
skews = {'signed 1000 s in the past': -1000, 'signed 1000 s in the future': 1000,
         'wrong secret, 1000 s in the past': -1000}


def make(zone, ring, qtype, soa, serial=7, skew=0, base=None):
    """A NOTIFY (signed with ring at now, or base, + skew); its wire, message, time."""
    m = dns.message.make_query(zone, qtype)
    m.flags = dns.flags.AA
    m.set_opcode(dns.opcode.NOTIFY)
    if soa:
        m.answer.append(dns.rrset.from_text(zone, 3600, 'IN', 'SOA',
                                            'ns. h. %d 1 1 1 1' % serial))
    signed_at = (base or int(time.time())) + skew
    if ring:
        # a fudge other than 300 shows whether the answer echoes it
        m.use_tsig(ring, keyname=list(ring)[0], fudge=250 if skew < -300 or skew > 300
                   else 300)
    with mock.patch('time.time', return_value=signed_at):
        w = m.to_wire()
    return w, m, signed_at


def ask(label, w, m, ring, signed_at, skewed):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(w, ('127.0.0.1', port))
    try:
        r = s.recv(65535)
    except socket.timeout:
        print(label + ': no answer')
        return
    qend = 12
    while w[qend]:
        qend += 1 + w[qend]
    qend += 5
    same_q = r[12:qend] == w[12:qend] and r[:2] == w[:2]
    tsig = '-'
    t = tsig_rr(w, r) if r[10:12] != b'\0\0' else None
    if r[10:12] != b'\0\0' and (skewed or (t and t[8] == 18)):
        tsig = badtime(w, r, m.mac, signed_at)
    elif r[10:12] != b'\0\0':
        err = int.from_bytes(r[-4:-2], 'big')
        tsig = 'error %d' % err
        if err == 0:
            try:
                dns.message.from_wire(r, keyring=ring, request_mac=m.mac)
                tsig += ', verified'
            except Exception as e:
                tsig += ', NOT verified: %s' % e
    print('%s: flags %02x%02x, counts %s, id and question echoed %s, tsig %s' %
          (label, r[2], r[3], r[4:12].hex(), same_q, tsig))


for label, zone, ring, qtype, soa in cases:
    skew = skews.get(label, 0)
    w, m, signed_at = make(zone, ring, qtype, soa, skew=skew)
    ask(label, w, m, ring, signed_at, skew != 0)

# Replays (RFC 8945 5.2.3), after 'signed, good' (now): one key's NOTIFYs signed at
# chosen times within the fudge, ahead of now so that the cases above do not matter.
now = int(time.time())
first = make('keyed.test.', good, 'SOA', True, 11, 20, now)
newer = make('keyed.test.', good, 'SOA', True, 12, 30, now)
between = make('keyed.test.', good, 'SOA', True, 13, 25, now)
for label, (w, m, signed_at) in [('replay: signed at +20 s', first),
                                 ('replay: the same message again', first),
                                 ('replay: a newer one, +30 s', newer),
                                 ('replay: the first again, after the newer', first),
                                 ('replay: a new one signed at +25 s', between)]:
    ask(label, w, m, good, signed_at, False)
PYEOF
/usr/bin/python3 "$T/notify.py" "$sport" "$secret" "$wrong" >"$T/notify.knot" ||
	fail "NOTIFY to knotd"
/usr/bin/python3 "$T/notify.py" "$nport" "$secret" "$wrong" >"$T/notify.pharos" ||
	fail "NOTIFY to notify_handle"
sed 's/^/knotd: /' "$T/notify.knot"
sed 's/^/pharos: /' "$T/notify.pharos" | grep '^pharos: replay'
diff -u <(grep -v '^replay' "$T/notify.knot") <(grep -v '^replay' "$T/notify.pharos") >&2 ||
	fail "notify_handle answers differ from knotd's"
grep -q '^signed, good: flags a000, .*tsig error 0, verified$' "$T/notify.pharos" ||
	fail "signed NOTIFY: answer not signed and verified"
# RFC 8945 5.2.3: BADTIME signed, Time Signed the request's, our clock in Other Data
badtime_ok="tsig error 18, signed and verified, time signed the request's, fudge [0-9]*"
badtime_ok+=", other data our clock\$"
for when in past future; do
	grep -q "^signed 1000 s in the $when: flags a009, .*$badtime_ok" "$T/notify.pharos" ||
		fail "NOTIFY signed 1000 s in the $when: no signed BADTIME"
done
grep -q '^wrong secret, 1000 s in the past: flags a009, .*tsig error 16, unsigned$' \
	"$T/notify.pharos" || fail "NOTIFY with a wrong secret and time: not BADSIG unsigned"
grep -qF "why=TSIG of key nkey. wrong (BADTIME: the sender's clock is 1000 s behind ours)" \
	"$T/notify.out" || fail "notify_handle: no clock skew in the reason for BADTIME"
# replays: knotd (3.2) keeps no time per key and accepts them all (logged above); we follow
# RFC 8945 5.2.3: the same second again is accepted, an earlier time after a newer gets
# BADTIME signed (doc/secondary.md, NOTIFY)
for n in 1 2 3; do
	want=$(grep '^replay' "$T/notify.knot" | sed -n "${n}p")
	[ "$(grep '^replay' "$T/notify.pharos" | sed -n "${n}p")" = "$want" ] ||
		fail "replay case $n: not answered as knotd: $want"
	grep -q 'flags a000, .*tsig error 0, verified$' <<<"$want" ||
		fail "replay case $n: knotd did not accept it: $want"
done
for what in 'the first again, after the newer' 'a new one signed at +25 s'; do
	grep -q "^replay: $what: flags a009, .*$badtime_ok" "$T/notify.pharos" ||
		fail "NOTIFY replay ($what): no signed BADTIME"
	if grep "^replay: $what: " "$T/notify.knot" |
		grep -q 'flags a000, .*tsig error 0, verified$'; then
		log "knotd accepts the NOTIFY ($what)"
	else
		log "knotd: $(grep "^replay: $what: " "$T/notify.knot")"
	fi
done
for s in 10 5; do
	why="why=TSIG of key nkey. wrong (BADTIME: signed $s s before the newest NOTIFY"
	why+=" for this zone accepted with this key: a replay, or out of order)"
	grep -qF "$why" "$T/notify.out" || fail "notify_handle: no 'replay' reason ($s s before)"
done
grep -q '^open\.test\. accepted=1 serial=7 ' "$T/notify.out" ||
	fail "notify_handle did not accept the allowed NOTIFY with its serial"
grep -q '^other\.test\. accepted=0 .*why=sender 127\.0\.0\.1 not allowed to notify' \
	"$T/notify.out" || fail "notify_handle: no reason for the refused NOTIFY"
log "NOTIFY: $(grep -vc '^replay' "$T/notify.pharos") answers the same as knotd's;" \
	"replays: 3 answered as knotd, 2 signed earlier than the newest BADTIME"

# ---------------------------------------------------------------- 5. a primary's clock off
# A primary whose clock is 1000 s ahead answers our SOA query NOTAUTH + BADTIME, signed,
# its clock in Other Data (RFC 8945 5.2.3, what knotd does above): the error says how far
# off. dnspython plays the primary: knotd would need its clock faked.
log "BADTIME from a primary"
cat >"$T/skewed.py" <<'PYEOF'
import socket, struct, sys, time
from unittest import mock
import dns.message, dns.rcode, dns.tsigkeyring
port, secret = int(sys.argv[1]), sys.argv[2]
ring = dns.tsigkeyring.from_text({'xfr-key.': ('hmac-sha256', secret)})
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', port))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(65535)
    q = dns.message.from_wire(data, keyring=ring)
    r = dns.message.make_response(q)
    r.set_rcode(dns.rcode.NOTAUTH)
    ours = int(time.time()) + 1000
    r.use_tsig(ring, keyname='xfr-key.', tsig_error=dns.rcode.BADTIME,
               other_data=struct.pack('!HI', ours >> 32, ours & 0xffffffff))
    with mock.patch('time.time', return_value=q.tsig[0].time_signed):
        s.sendto(r.to_wire(), peer)
PYEOF
skport=5356
bg_start2 skewed "$T/skewed.out" "$T/skewed.err" /usr/bin/python3 "$T/skewed.py" "$skport" \
	"$secret"
wait_line "$T/skewed.out" ready "$BG_PID" "$wait_s" || fail "the skewed primary did not start"
expect_err "primary clock 1000 s ahead" \
	"SOA: answer NOTAUTH (TSIG BADTIME: the primary's clock is 1000 s ahead of ours)" \
	"${KEY[@]}" -S "127.0.0.1#$skport" "$zone"
log "PASS"
