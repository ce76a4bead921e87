#!/usr/bin/env bash
# secondary-lifecycle: refresh/retry/expire timers and persistence (doc/secondary.md), with the
# scripted primary of tests/lib/badprimary.py (good mode) that the test stops and starts:
#   1. e.test. (refresh 1 s, retry 1..2 s, expire 3 s, from SOA and config clamps) and
#      p.test. (refresh 30 s, expire 1 h): AXFR, served
#   2. a change at the primary is picked up by the refresh timer alone (no NOTIFY, no operator)
#   3. e.test.'s primary stops: after 3 s the zone is expired: SERVFAIL from the dataplane,
#      zone-status state=expired served=expired, one log line, the marker file
#   4. both daemons and both primaries stop; the daemons start again, primaries down: the
#      dataplane's first answers are p.test. at its old serial and SERVFAIL for e.test.;
#      pharos-control says e.test. is still expired, and p.test.'s timers continue (same
#      next refresh and expiry as before the restart)
#   5. e.test.'s primary comes back: the next retry transfers, the zone serves again
#   6. the dataplane restarts empty (no --state-dir): pharos-control loads e.test.'s base,
#      then the delta of its IXFR over it
#   7. reload: p.test. becomes a file zone (served from the file, role primary, zone-refresh
#      refused), then a secondary again (served throughout)
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/secondary/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need dig
need_dnspython
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make sec-life

eport=5391	# primary of e.test.
pport=5392	# primary of p.test.
port=5393	# our dataplane

ZONE_REFRESH=1 ZONE_RETRY=1 ZONE_EXPIRE=3 zone_text e.test. 1 >"$T/e.zone"
ZONE_REFRESH=30 ZONE_RETRY=10 ZONE_EXPIRE=3600 zone_text p.test. 7 >"$T/p.zone"
echo "serial 1" >"$T/e.ctl"
echo "serial 7" >"$T/p.ctl"

start_primary() {	# ZONE PORT FILE CONTROL
	local out=$T/prim.$1.$RANDOM
	bg_start2 "primary $1" "$out.out" "$out.err" "$PY" "$here/../lib/badprimary.py" \
		--port "$2" --zone "$1" --file "$3" --control "$4"
	wait_line "$out.out" ready "$BG_PID" 20 || fail "badprimary.py for $1 did not start"
}
start_primary e.test. "$eport" "$T/e.zone" "$T/e.ctl"
e_pid=$BG_PID
start_primary p.test. "$pport" "$T/p.zone" "$T/p.ctl"
p_pid=$BG_PID
{
	echo "state-dir $T/state"
	echo "control-socket $T/ctl.sock"
	echo "dataplane-socket $T/dp.sock"
	echo "zone e.test primary=127.0.0.1#$eport refresh=1.. retry=1..2 expire=3.. timeout=1"
	echo "zone p.test primary=127.0.0.1#$pport refresh=1.. retry=1.. expire=3.. timeout=1"
} >"$T/pharos.conf"
dataplane_start "$port" --state-dir "$T/state"
control_start

# --- 1. AXFR ----------------------------------------------------------------------------------------
until_serial "$port" e.test. 1 "first AXFR of e.test."
until_serial "$port" p.test. 7 "first AXFR of p.test."
until_field e.test. state ok "after the AXFR"
ctl --json zone-status | "$PY" -c '
import json, sys
z = {x["origin"]: x for x in json.load(sys.stdin)["zones"]}
assert z["p.test."]["served_serial"] == 7 and z["p.test."]["role"] == "secondary", z
assert z["p.test."]["refresh"] == 30 and z["p.test."]["expire"] == 3600, z
assert z["e.test."]["primaries"] == ["127.0.0.1#'"$eport"'"], z
' || fail "zone-status --json is not what it should be"
log "e.test. serial 1 and p.test. serial 7 served"

# --- 2. the refresh timer alone finds a new serial ------------------------------------------------
printf 'serial 2\nadd t 300 IN A 192.0.2.2\n' >"$T/e.ctl"
until_serial "$port" e.test. 2 "refresh timer (1 s)"
[ "$(dig_short 127.0.0.1 "$port" t.e.test. A)" = 192.0.2.2 ] || fail "t.e.test. not served"
log "refresh timer: e.test. serial 2 without NOTIFY"

# --- 3. primary gone: expired after 3 s ---------------------------------------------------------
bg_stop "$e_pid" >/dev/null || true
until_field e.test. state expired "primary stopped"
[ "$(zone_field e.test. served)" = expired ] || fail "the dataplane does not say e.test. is expired"
[ "$(rcode "$port" e.test. SOA)" = SERVFAIL ] || fail "expired e.test. does not answer SERVFAIL"
[ "$(rcode "$port" p.test. SOA)" = NOERROR ] || fail "p.test. hurt by e.test.'s expiry"
[ -f "$T/state/e.test.expired" ] || fail "no marker file for the dataplane"
[ "$(grep -c 'zone e.test.: expired' "$ctl_log")" -eq 1 ] || fail "not one 'expired' log line"
grep 'zone e.test.: expired' "$ctl_log" | sed 's/^/    /'
log "e.test. expired: SERVFAIL, zone-status expired, marker file"

# --- 4. restart everything, primaries down ------------------------------------------------------
before=$(ctl --json zone-status p.test.)
bg_stop "$p_pid" >/dev/null || true
stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
dataplane_start "$port" --state-dir "$T/state"
answers() { [ -n "$(rcode "$@")" ]; }	# PORT NAME TYPE: any RCODE
retry_until 10 answers "$port" p.test. SOA || fail "restarted dataplane does not answer"
[ "$(soa_serial 127.0.0.1 "$port" p.test.)" = 7 ] || fail "restarted dataplane: p.test. not at 7"
[ "$(rcode "$port" e.test. SOA)" = SERVFAIL ] || fail "restarted dataplane: e.test. not expired"
control_start
until_field p.test. served-serial 7 "pharos-control restarted"
[ "$(zone_field e.test. state)" = expired ] || fail "restarted pharos-control: e.test. not expired"
[ "$(zone_field e.test. served)" = expired ] || fail "restarted: the dataplane serves e.test."
[ "$(rcode "$port" e.test. SOA)" = SERVFAIL ] || fail "restarted: e.test. answers"
after=$(ctl --json zone-status p.test.)
field() { sed -n "s/.*\"$1\":\([0-9a-z]*\).*/\1/p" <<<"$2"; }
for k in next_refresh expires last_transfer primary_serial; do
	[ "$(field "$k" "$before")" = "$(field "$k" "$after")" ] ||
		fail "p.test. $k changed over the restart: $(field "$k" "$before") -> $(field "$k" "$after")"
done
log "restart with the primaries down: p.test. 7 at once, timers continue, e.test. still expired"
# the dataplane restarted empty (no --state-dir, so no marker): pharos-control's load of
# e.test. carries "expired" (IPC_LOAD_EXPIRED), so not one answer comes from the stale zone
stop_clean pharos-dataplane "$dp_pid"
dataplane_start "$port"
until_serial "$port" p.test. 7 "dataplane restarted empty, e.test. expired"
grep -Eq '^pharos-dataplane: loaded e\.test\. serial 1 \([0-9]+ names\), expired$' "$dp_log" ||
	fail "e.test. not loaded expired: $(grep 'e\.test' "$dp_log")"
[ "$(rcode "$port" e.test. SOA)" = SERVFAIL ] || fail "empty dataplane: e.test. answers"
log "dataplane restarted empty: e.test. loaded expired, SERVFAIL"

# --- 5. the primary comes back ---------------------------------------------------------------------
start_primary e.test. "$eport" "$T/e.zone" "$T/e.ctl"
until_field e.test. state ok "primary back"
until_serial "$port" e.test. 2 "primary back"
[ "$(rcode "$port" e.test. SOA)" = NOERROR ] || fail "e.test. still SERVFAIL"
[ ! -e "$T/state/e.test.expired" ] || fail "marker file left behind"
wait_log "zone e.test.: no longer expired" "un-expiry log line"
log "primary back: e.test. serves serial 2 again"

# --- 6. a dataplane restarted empty (no --state-dir) under a running pharos-control ----------
# e.test. is served as base (serial 1) + delta (serial 2, from the IXFR): the delta only
# loads over its base, which pharos-control must send first.
stop_clean pharos-dataplane "$dp_pid"
dataplane_start "$port"
until_serial "$port" e.test. 2 "dataplane restarted empty"
until_serial "$port" p.test. 7 "dataplane restarted empty"
[ "$(dig_short 127.0.0.1 "$port" t.e.test. A)" = 192.0.2.2 ] || fail "t.e.test. (in the delta) lost"
log "dataplane restarted empty: pharos-control loads base then delta, e.test. serves 2"

# --- 7. reload: a secondary becomes a file zone and back --------------------------------------
ZONE_REFRESH=30 ZONE_RETRY=10 ZONE_EXPIRE=3600 zone_text p.test. 70 "file IN A 192.0.2.70" >"$T/p.file"
sed -i "s|^zone p.test .*|zone p.test file=$T/p.file|" "$T/pharos.conf"
ctl reload >/dev/null || fail "reload to a file zone refused"
until_serial "$port" p.test. 70 "p.test. from its file"
[ "$(zone_field p.test. role)" = primary ] || fail "p.test. is not a file zone after the reload"
ctl zone-refresh p.test. >/dev/null 2>&1 && fail "zone-refresh of a file zone accepted"
sed -i "s|^zone p.test .*|zone p.test primary=127.0.0.1#$pport refresh=1.. retry=1.. expire=3.. timeout=1|" \
	"$T/pharos.conf"
ctl reload >/dev/null || fail "reload back to a secondary refused"
[ "$(zone_field p.test. role)" = secondary ] || fail "p.test. is not a secondary again"
[ "$(soa_serial 127.0.0.1 "$port" p.test.)" = 70 ] || fail "p.test. not served across the reloads"
log "reload: p.test. served from a file (serial 70), then a secondary again, served throughout"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
