#!/usr/bin/env bash
# secondary-knot: knotd as the primary of pharos-control + pharos-dataplane (doc/secondary.md):
#   1. a.test. (no TSIG; its first primary is dead, knotd second) and b.test. (TSIG
#      hmac-sha256): AXFR, then served by the dataplane; zone-status says ok with the served
#      serial taken from the dataplane
#   2. a change with knotc zone-begin/zone-set/zone-commit: knotd NOTIFYs our dataplane,
#      pharos-control checks and transfers by IXFR, the new serial is served
#   3. b.test. with the wrong TSIG secret (config reloaded): the check fails with one log
#      line naming the primary and why, the old serial keeps being served
#      (pharos-control compacts every delta here: the new base serves the same data)
#   4. zone-retransfer: a fresh AXFR
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/secondary/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need dig knotd knotc
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make sec-knot

kport=5361	# knotd, the primary
port=5362	# our dataplane
dead=5369	# nobody listens: a.test.'s first primary
secret=$(head -c 32 /dev/urandom | base64)
wrong=$(head -c 32 /dev/urandom | base64)

# --- knotd: a.test. open to 127.0.0.1, b.test. only with the key; NOTIFY to our dataplane ---
mkdir -p "$T/knot"
zone_text a.test. 1 >"$T/knot/a.test.zone"
zone_text b.test. 1 >"$T/knot/b.test.zone"
knot_conf "$T/knot.conf" "$T/knot" 127.0.0.1 "$kport"
sed -i '$d; s/journal-content: none/journal-content: changes/' "$T/knot.conf"	# "zone:" goes below
{
	printf 'key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: %s\n' "$secret"
	printf 'remote:\n  - id: pharos\n    address: 127.0.0.1@%s\n' "$port"
	printf '  - id: pharos-keyed\n    address: 127.0.0.1@%s\n    key: xfr-key\n' "$port"
	printf 'acl:\n  - id: open\n    address: 127.0.0.1\n    action: transfer\n'
	printf '  - id: keyed\n    address: 127.0.0.1\n    key: xfr-key\n    action: transfer\n'
	printf 'zone:\n'
	printf '  - domain: a.test\n    file: %s\n    notify: pharos\n    acl: open\n' \
		"$T/knot/a.test.zone"
	printf '  - domain: b.test\n    file: %s\n    notify: pharos-keyed\n    acl: keyed\n' \
		"$T/knot/b.test.zone"
} >>"$T/knot.conf"
knot_start knotd "$T/knot.conf" "$T/knotd.log"	# stopped by PID at exit
wait_dns 127.0.0.1 "$kport" a.test. SOA 20 || fail "knotd does not answer"
kc() { knotc -c "$T/knot.conf" "$@"; }
kc_add_a() {	# ZONE NAME ADDRESS: one transaction adding NAME A ADDRESS (knotd bumps the serial)
	kc zone-begin "$1" >/dev/null
	kc zone-set "$1" "$2" 300 A "$3" >/dev/null
	kc zone-commit "$1" >/dev/null
}

write_conf() {	# SECRET-OF-THE-KEY
	{
		echo "state-dir $T/state"
		echo "control-socket $T/ctl.sock"
		echo "dataplane-socket $T/dp.sock"
		echo "key xfr-key algorithm=hmac-sha256 secret=$1"
		echo "zone a.test primary=127.0.0.1#$dead primary=127.0.0.1#$kport timeout=2"
		echo "zone b.test primary=127.0.0.1#$kport,key=xfr-key timeout=2"
	} >"$T/pharos.conf"
}
write_conf "$secret"
dataplane_start "$port" --state-dir "$T/state"
CONTROL_ENV="PHAROS_ZDIFF_LIMITS=4096,8,0,1000000" control_start	# compact every delta

# --- 1. AXFR --------------------------------------------------------------------------------------
until_serial "$port" a.test. 1 "first AXFR of a.test."
until_serial "$port" b.test. 1 "first AXFR of b.test. with TSIG"
until_field a.test. state ok "after the AXFR"
[ "$(zone_field a.test. served-serial)" = 1 ] || fail "zone-status: served-serial not 1"
wait_log "zone b.test.: AXFR from 127.0.0.1#$kport, serial 1" "AXFR with TSIG"
[ "$(dig_short 127.0.0.1 "$port" www.b.test. A)" = 192.0.2.80 ] || fail "www.b.test. not served"
wait_log "zone a.test.: transfer failed: primary 127.0.0.1#$dead: SOA: " "the dead first primary"
wait_log "zone a.test.: AXFR from 127.0.0.1#$kport, serial 1" "the second primary"
[ "$(zone_field a.test. last-primary)" = "127.0.0.1#$kport" ] || fail "last-primary not knotd"
log "AXFR from knotd: a.test. (after its dead first primary) and b.test. (TSIG) serve serial 1"

# --- 2. knotc change -> NOTIFY -> IXFR ----------------------------------------------------------
kc_add_a a.test. new 192.0.2.99
new=$(soa_serial 127.0.0.1 "$kport" a.test.) || fail "knotd does not answer the SOA of a.test."
[ "$new" != 1 ] || fail "knotc commit did not bump the serial"
until_serial "$port" a.test. "$new" "NOTIFY after knotc zone-commit"
[ "$(dig_short 127.0.0.1 "$port" new.a.test. A)" = 192.0.2.99 ] || fail "new.a.test. not served"
wait_log "zone a.test.: NOTIFY from 127.0.0.1#" "NOTIFY from knotd"
wait_log "zone a.test.: IXFR from 127.0.0.1#$kport, serial $new" "IXFR after the NOTIFY"
[ "$(zone_field a.test. serial-lag)" = 0 ] || fail "serial-lag not 0"
log "knotc commit -> NOTIFY -> IXFR: a.test. serves serial $new"
wait_log "zone a.test.: compacted into a new base image, serial $new (loaded)" "compaction"
# the state file is written after the load
retry_until "$SEC_WAIT" grep -qx "base $T/state/a.test.$new.img" "$T/state/a.test.state" ||
	fail "state: base not compacted"
grep -qx "delta -" "$T/state/a.test.state" || fail "state file still names a delta"
! ls "$T"/state/a.test.*.delta >/dev/null 2>&1 || fail "delta files left after compaction"
[ "$(dig_short 127.0.0.1 "$port" new.a.test. A)" = 192.0.2.99 ] || fail "compaction lost new.a.test."
[ "$(soa_serial 127.0.0.1 "$port" a.test.)" = "$new" ] || fail "compaction changed the serial"
log "background compaction: a.test. base + delta folded into a.test.$new.img"

# --- 3. wrong TSIG key: fails with a log line, the old serial is kept ---------------------------
write_conf "$wrong"
ctl reload >/dev/null || fail "reload with the wrong secret refused"
kc_add_a b.test. new 192.0.2.98
wait_log "NOTIFY for b.test. from 127.0.0.1#" "a NOTIFY signed with the other key"
grep "NOTIFY for b.test. from" "$ctl_log" | sed 's/^/    /'
ctl zone-refresh b.test. >/dev/null || fail "zone-refresh refused"
wait_log "zone b.test.: transfer failed: primary 127.0.0.1#$kport: " "wrong TSIG key"
grep "zone b.test.: transfer failed" "$ctl_log" | sed 's/^/    /'
grep -q "zone b.test.: transfer failed: .*still serving serial 1" "$ctl_log" ||
	fail "the failure line does not say the old serial is kept"
until_field b.test. last-result failed "wrong key"
[ "$(soa_serial 127.0.0.1 "$port" b.test.)" = 1 ] || fail "b.test. does not serve serial 1 any more"
log "wrong TSIG key: refused, one log line, serial 1 still served"
write_conf "$secret"
ctl reload >/dev/null || fail "reload with the good secret refused"
kc_add_a b.test. newer 192.0.2.97
bnew=$(soa_serial 127.0.0.1 "$kport" b.test.) || fail "knotd does not answer the SOA of b.test."
until_serial "$port" b.test. "$bnew" "the good key again, signed NOTIFY"
wait_log "zone b.test.: NOTIFY from 127.0.0.1#" "signed NOTIFY accepted"
log "the good key again: a signed NOTIFY brings serial $bnew"

# --- 4. zone-retransfer: AXFR ---------------------------------------------------------------------
ctl zone-retransfer a.test. >/dev/null || fail "zone-retransfer refused"
until_field a.test. last-kind AXFR "zone-retransfer"
[ "$(soa_serial 127.0.0.1 "$port" a.test.)" = "$new" ] || fail "serial changed by retransfer"
log "zone-retransfer: fresh AXFR"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
