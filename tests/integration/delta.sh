#!/usr/bin/env bash
# delta: a zone served as base + delta image by pharos-dataplane (doc/zone-image.md "Delta
# images"), deltas made by `pharos-zone apply` from IXFRs (control/zdiff.c, the same code
# pharos-control runs):
#   1. base serial 1 from the state dir; an IXFR 1 -> 2 as a delta, LOADed: serial 2 with
#      the new data (new names and ENTs, names and ENTs gone, a new wildcard, a delegation
#      added over existing names), STATUS says delta; the dump shows the delta
#   2. a second IXFR over base + delta (2 -> 3) accumulates: LOADed, serial 3
#   3. a delta made for another base is refused with the reason; serial 3 keeps serving
#   4. restart with --state-dir: base + the newest delta of that base (serial 3) at once
#   5. a full image replaces base and delta; the old delta is then refused (wrong base)
#   6. a signed (NSEC3) zone's IXFR that keeps its names (an address and its RRSIG) is a
#      delta too: new data and signature served, the NXDOMAIN proof unchanged
# The dataplane must exit 0 on SIGTERM every time.
#
# Environment: PHAROS_ZONE, PHAROS_DATAPLANE, IPC_PEER.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need dig
need_exe "${PHAROS_ZONE:?}" "${PHAROS_DATAPLANE:?}" "${IPC_PEER:?}"
tmpdir_make delta

port=5347
zone=delta.test.
wait_s=20
S=$T/state
mkdir -p "$S"

soa() { echo "$zone 300 IN SOA ns1.$zone host.$zone $1 7200 3600 1209600 300"; }

cat >"$T/base.zone" <<EOF
$(soa 1)
$zone 300 IN NS ns1.$zone
ns1.$zone 300 IN A 192.0.2.53
www.$zone 300 IN A 192.0.2.80
leaf.b.c.$zone 300 IN TXT "deep"
x.sub.$zone 300 IN A 192.0.2.90
EOF
"$PHAROS_ZONE" compile "$T/base.zone" --origin "$zone" -o "$S/delta.test.1.img" >/dev/null

start_dataplane() {
	dataplane_start "$port" --state-dir "$S"
	wait_dns 127.0.0.1 "$port" "$zone" SOA "$wait_s" || fail "pharos-dataplane does not answer"
}

q() {	# NAME TYPE: "RCODE answer-rdata..." (one line)
	local out
	out=$(dig +norec +time=2 +tries=2 -p "$port" @127.0.0.1 "$1" "$2") ||
		fail "dig $1 $2 failed"
	echo "$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")" \
		"$(awk '/^;; ANSWER SECTION/ { a = 1; next } /^$/ { a = 0 } a { print $NF }' \
			<<<"$out" | sort | tr '\n' ' ' | sed 's/ $//')"
}

expect() {	# NAME TYPE WANT WHEN
	local got
	got=$(q "$1" "$2")
	[ "$got" = "$3" ] || fail "$4: $1 $2 gives '$got', expected '$3'"
}

serial() { soa_serial 127.0.0.1 "$port" "$zone"; }

peer() { "$IPC_PEER" "$T/dp.sock" "$@"; }

# --- 1. base, then a delta ---------------------------------------------------------------------
start_dataplane
[ "$(serial)" = 1 ] || fail "base: serial $(serial)"
cat >"$T/1-2.ixfr" <<EOF
$(soa 2)
$(soa 1)
www.$zone 300 IN A 192.0.2.80
leaf.b.c.$zone 300 IN TXT "deep"
$(soa 2)
www.$zone 300 IN A 192.0.2.81
new.e1.e2.$zone 300 IN A 192.0.2.82
*.w.$zone 300 IN TXT "wild"
sub.$zone 300 IN NS ns.sub.$zone
ns.sub.$zone 300 IN A 192.0.2.91
$(soa 2)
EOF
out=$("$PHAROS_ZONE" apply "$S/delta.test.1.img" --origin "$zone" --ixfr "$T/1-2.ixfr" \
	-o "$S/delta.test.2.delta") || fail "apply 1 -> 2: $out"
grep -q "serial 2, delta image of" <<<"$out" || fail "apply 1 -> 2 made no delta: $out"
out=$(peer load "$zone" "$S/delta.test.2.delta") || fail "load of the delta: $out"
grep -q "loaded $zone serial 2 (delta of .* names over base serial 1), replaced serial 1" \
	<<<"$out" || fail "load reply: $out"
[ "$(serial)" = 2 ] || fail "after the delta: serial $(serial)"
expect "www.$zone" A "NOERROR 192.0.2.81" "delta"
expect "new.e1.e2.$zone" A "NOERROR 192.0.2.82" "delta"
expect "e2.$zone" A "NOERROR " "delta (a new ENT)"
expect "leaf.b.c.$zone" TXT "NXDOMAIN " "delta (a name gone)"
expect "c.$zone" A "NXDOMAIN " "delta (an ENT gone)"
expect "any.w.$zone" TXT 'NOERROR "wild"' "delta (a new wildcard)"
expect "w.$zone" TXT "NOERROR " "delta (the wildcard's parent is an ENT)"
# x.sub existed in the base; sub is a cut now: a referral with its glue
out=$(dig +norec -p "$port" @127.0.0.1 "x.sub.$zone" A)
grep -q "flags: qr;.*ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 2" <<<"$out" ||
	fail "x.sub under the new cut is not a referral with glue: $out"
grep -q "^ns.sub.$zone.*192.0.2.91" <<<"$out" || fail "no glue for the new cut: $out"
out=$(peer status) || fail "status: $out"
grep -q "zone $zone serial 2 flags 2" <<<"$out" || fail "status does not say delta: $out"
"$PHAROS_ZONE" dump "$S/delta.test.2.delta" >"$T/dump" || fail "dump of the delta failed"
grep -q "^; Pharos zone delta image $S/delta.test.2.delta" "$T/dump" || fail "dump header"
grep -q "^; delta over the base image of serial 1 " "$T/dump" || fail "dump: base line"
grep -q "^; c.$zone TOMBSTONE" "$T/dump" || fail "dump: no tombstone for c"
log "IXFR 1 -> 2 served as a delta over base 1"

# --- 2. the next IXFR accumulates over base + delta --------------------------------------------
cat >"$T/2-3.ixfr" <<EOF
$(soa 3)
$(soa 2)
new.e1.e2.$zone 300 IN A 192.0.2.82
$(soa 3)
www.$zone 300 IN A 192.0.2.83
$(soa 3)
EOF
"$PHAROS_ZONE" apply "$S/delta.test.1.img" --origin "$zone" --ixfr "$T/2-3.ixfr" \
	-o "$S/delta.test.3.delta" >/dev/null && fail "an IXFR from 2 applied to serial 1"
"$PHAROS_ZONE" apply "$S/delta.test.1.img" --delta "$S/delta.test.2.delta" --origin "$zone" \
	--ixfr "$T/2-3.ixfr" -o "$S/delta.test.3.delta" >/dev/null || fail "apply 2 -> 3"
out=$(peer load "$zone" "$S/delta.test.3.delta") || fail "load of delta 3: $out"
[ "$(serial)" = 3 ] || fail "after delta 3: serial $(serial)"
expect "www.$zone" A "NOERROR 192.0.2.81 192.0.2.83" "delta 3"
expect "e2.$zone" A "NXDOMAIN " "delta 3 (the ENT gone again)"
log "IXFR 2 -> 3 over base + delta: serial 3"

# --- 3. a delta of another base is refused ---------------------------------------------------
sed 's/192.0.2.53/192.0.2.54/' "$T/base.zone" >"$T/other.zone"
"$PHAROS_ZONE" compile "$T/other.zone" --origin "$zone" -o "$T/other.img" >/dev/null
"$PHAROS_ZONE" apply "$T/other.img" --origin "$zone" --ixfr "$T/1-2.ixfr" \
	-o "$T/other.2.delta" >/dev/null || fail "apply over the other base"
if out=$(peer load "$zone" "$T/other.2.delta"); then
	fail "a delta of another base was loaded: $out"
fi
grep -q "the delta applies to base serial 1 (checksum 0x[0-9a-f]*), the base is serial 1" \
	<<<"$out" || fail "no reason for the refused delta: $out"
[ "$(serial)" = 3 ] || fail "after a refused delta: serial $(serial)"
log "a delta made for another base is refused, serial 3 keeps serving"

# --- 4. restart: base + newest delta at once ---------------------------------------------------
stop_clean pharos-dataplane "$dp_pid"
touch -d '+1 minute' "$S/delta.test.2.delta"	# the serial decides, not the mtime
start_dataplane
[ "$(serial)" = 3 ] || fail "restart: serial $(serial), expected 3"
grep -q "serving $zone serial 3 (delta of .* names over base serial 1) from the state dir: $S/delta.test.3.delta" \
	"$dp_log" || fail "no log line for the delta served from the state dir"
expect "www.$zone" A "NOERROR 192.0.2.81 192.0.2.83" "restart"
log "restart serves base 1 + delta 3 at once"

# --- 5. a full image replaces base and delta --------------------------------------------------
sed 's/ 1 7200/ 4 7200/' "$T/base.zone" >"$T/four.zone"
"$PHAROS_ZONE" compile "$T/four.zone" --origin "$zone" -o "$S/delta.test.4.img" >/dev/null
out=$(peer load "$zone" "$S/delta.test.4.img") || fail "load of full image 4: $out"
grep -q "replaced serial 3" <<<"$out" || fail "full load reply: $out"
[ "$(serial)" = 4 ] || fail "full image: serial $(serial)"
expect "www.$zone" A "NOERROR 192.0.2.80" "full image 4"
out=$(peer status)
grep -q "zone $zone serial 4 flags 0" <<<"$out" || fail "status after the full image: $out"
if out=$(peer load "$zone" "$S/delta.test.3.delta"); then
	fail "a delta of the replaced base was loaded: $out"
fi
[ "$(serial)" = 4 ] || fail "after the stale delta: serial $(serial)"
log "a full image replaces base and delta; the stale delta is refused"

# --- 6. a signed (NSEC3) zone: an IXFR that keeps its names is a delta too ---------------------
sz=example.
cp "$here/../data/rfc5155-appendix-a.zone" "$T/signed.zone"
"$PHAROS_ZONE" compile "$T/signed.zone" --origin "$sz" -o "$S/example.1.img" >/dev/null
out=$(peer load "$sz" "$S/example.1.img") || fail "load of the signed base: $out"
proof() {	# the NSEC3 records proving NAME does not exist (DO set)
	dig +norec +dnssec -p "$port" @127.0.0.1 "$1" A |
		awk '$4 == "NSEC3" { print $1, $5, $6, $7, $8, $9 }' | sort
}
before=$(proof "nothere.$sz")
[ "$(grep -c . <<<"$before")" -eq 3 ] || fail "signed base: not 3 NSEC3 in the proof: $before"
soa_s() { echo "$sz 3600 IN SOA ns1.$sz bugs.x.w.$sz $1 3600 300 3600000 3600"; }
sig=$(awk '$1 == "ns1.example." && $4 == "RRSIG" { $1 = $2 = $3 = $4 = ""; print }' \
	"$T/signed.zone")
newsig=${sig/Q==/A==}
{
	soa_s 2
	soa_s 1
	echo "ns1.$sz 3600 IN A 192.0.2.1"
	echo "ns1.$sz 3600 IN RRSIG $sig"
	soa_s 2
	echo "ns1.$sz 3600 IN A 192.0.2.111"
	echo "ns1.$sz 3600 IN RRSIG $newsig"
	soa_s 2
} >"$T/s1-2.ixfr"
out=$("$PHAROS_ZONE" apply "$S/example.1.img" --origin "$sz" --ixfr "$T/s1-2.ixfr" \
	-o "$S/example.2.delta") || fail "signed apply: $out"
grep -q "serial 2, delta image of" <<<"$out" || fail "the signed IXFR made no delta: $out"
out=$(peer load "$sz" "$S/example.2.delta") || fail "load of the signed delta: $out"
[ "$(soa_serial 127.0.0.1 "$port" "$sz")" = 2 ] || fail "signed delta: serial"
out=$(dig +norec +dnssec -p "$port" @127.0.0.1 "ns1.$sz" A)
grep -q "^ns1.$sz.*A.*192.0.2.111" <<<"$out" || fail "signed delta: new address: $out"
grep -q "^ns1.$sz.*RRSIG.*A==" <<<"$out" || fail "signed delta: new RRSIG: $out"
[ "$(proof "nothere.$sz")" = "$before" ] || fail "signed delta: the NXDOMAIN proof changed"
log "a signed zone's IXFR served as a delta, proofs unchanged"

stop_clean pharos-dataplane "$dp_pid"
log "ok"
