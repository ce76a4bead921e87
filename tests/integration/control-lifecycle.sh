#!/usr/bin/env bash
# control-lifecycle: pharos-control and pharos-dataplane started by hand from a written
# config, driven with pharosctl and checked with dig, through the life of a PoP:
#   1. two zones: `status` and `status --json` show both, loaded, with their serials
#   2. pharosctl exit codes: 2 for no socket, an unknown command, bad arguments
#   3. `stats`: one row per worker + tcp + total; after N answered and M refused
#      queries, rx grew by >= N+M, noerror by >= N, refused by >= M, every UDP worker's
#      rx grew; rows add up to total
#   4. a zone file's serial bumped -> `reload` loads it (was ...), the new serial is
#      answered; `reload` again with nothing changed -> every zone unchanged, exit 0
#   5. a zone file with a syntax error -> `reload` exit 1 naming file:line, old serial kept
#   6. read-only socket: status, zones, stats work; reload refused (exit 2), nothing changed
#   7. a zone removed from the config + reload -> REFUSED, the other answers; added back
#      -> answers again
#   8. pharos-control stopped (SIGTERM) -> the dataplane keeps answering both zones;
#      started again -> status shows both zones loaded
#   9. pharos-dataplane stopped (SIGTERM) -> status says not connected, zones pending,
#      stats exit 1; started again on the same socket -> control reconnects and both
#      zones answer within a bounded wait
# Both daemons must exit 0 on SIGTERM every time.
#
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need dig
[ -x "$PY" ] || skip "$PY not found (Debian package python3)"
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make control-lifecycle

port=5340
one=one.test.
two=two.test.
s1=2026010101
s2=2026010102
s3=2026010103
s_two=7
wait_s=20	# bound on every "until" below; what is awaited takes well under a second

# Replace a file atomically (a new inode: the change is seen whatever the mtime).
put() {	# FILE (content on stdin)
	cat >"$1.new"
	mv -f "$1.new" "$1"
}

write_conf() {	# ORIGIN... (the zones of the config)
	local o
	{
		echo "# written by control-lifecycle.sh"
		echo "state-dir $T/state"
		echo "control-socket $T/ctl.sock"
		echo "control-socket-readonly $T/ro.sock"
		echo "dataplane-socket $T/dp.sock"
		for o in "$@"; do
			echo "zone $o file=${o%.}.zone"	# relative: resolved against $T
		done
	} | put "$T/pharos.conf"
}

start_dataplane() { dataplane_start "$port" --workers 2; }

ctl() { "$PHAROSCTL" -s "$T/ctl.sock" "$@"; }
ro() { "$PHAROSCTL" -s "$T/ro.sock" "$@"; }

# The RCODE of one query (dig's "status:"), or "none" without an answer.
rcode() {	# NAME TYPE
	local out
	out=$(dig +norec +time=2 +tries=1 -p "$port" @127.0.0.1 "$1" "$2" 2>&1) || true
	sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | grep . || echo none
}

serial_is() {	# ORIGIN SERIAL
	[ "$(soa_serial 127.0.0.1 "$port" "$1")" = "$2" ]
}

expect_serial() {	# ORIGIN SERIAL WHEN
	local got
	got=$(soa_serial 127.0.0.1 "$port" "$1")
	[ "$got" = "$2" ] || fail "$3: $1 serves serial '$got', expected $2"
}

# Repeat CMD until it succeeds, at most wait_s seconds.
until_ok() {	# WHAT CMD...
	local what=$1 i
	shift
	for ((i = 0; i < wait_s * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$what: not so after $wait_s s"
}

# `pharosctl --json status` reduced to lines a test can compare:
#   dataplane connected|not-connected [WORKERS]
#   ORIGIN STATE SERIAL (one per zone, config order)
status_summary() {
	ctl --json status | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
dp = d["dataplane"]
assert d["daemon"]["running"] is True
line = "dataplane " + ("connected" if dp["connected"] else "not-connected")
if dp["connected"]:
    line += " %d" % len(dp["workers"])
print(line)
for z in d["zones"]:
    print(z["origin"], z["state"], z["serial"])
'
}

status_is() {	# EXPECTED (lines of status_summary)
	[ "$(status_summary)" = "$1" ]
}

# Run a command that must exit with STATUS and print (stdout or stderr) a match of REGEX.
expect_exit() {	# STATUS REGEX WHAT CMD...
	local want=$1 re=$2 what=$3 out rc=0
	shift 3
	out=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | head -n 3 | sed 's/^/    /'
	[ "$rc" -eq "$want" ] || fail "$what: exit status $rc, expected $want"
	grep -Eq -- "$re" <<<"$out" || fail "$what: output does not match /$re/"
	log "$what: exit $want as expected"
}

# One counter of `pharosctl --json stats` (total.KEY), and the check that the rows add up.
stat_total() {	# KEY
	ctl --json stats | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
key = sys.argv[1]
rows = d["workers"]
assert sum(w[key] for w in rows) == d["total"][key], "rows do not add up to the total"
assert [w["tcp"] for w in rows] == [False] * (len(rows) - 1) + [True], "tcp row not last"
print(d["total"][key])
' "$1"
}

stat_at_least() {	# KEY MIN
	[ "$(stat_total "$1")" -ge "$2" ]
}

# --- 1. start with two zones --------------------------------------------------------------
mkdir -p "$T/state"
zone_text "$one" "$s1" | put "$T/one.test.zone"
zone_text "$two" "$s_two" | put "$T/two.test.zone"
write_conf "$one" "$two"
start_dataplane
control_start
until_ok "both zones loaded at start" status_is "dataplane connected 3
$one loaded $s1
$two loaded $s_two"
expect_serial "$one" "$s1" "start"
expect_serial "$two" "$s_two" "start"
out=$(ctl status) || fail "pharosctl status failed"
printf '%s\n' "$out" | sed 's/^/    /'
grep -qx "dataplane: connected, $T/dp.sock" <<<"$out" || fail "status: no 'dataplane: connected' line"
grep -qx "workers: 3 of 3 alive (2 udp + 1 tcp)" <<<"$out" || fail "status: workers line"
grep -qx "zones: 2 (2 loaded, 0 pending, 0 failed)" <<<"$out" || fail "status: zones count line"
grep -Eq "^$one loaded serial=$s1 loaded-at=[0-9TZ:-]+ image=$T/state/one\.test\.$s1\.img\$" \
	<<<"$out" || fail "status: no line for $one with serial $s1"
grep -Eq "^$two loaded serial=$s_two loaded-at=[0-9TZ:-]+ image=$T/state/two\.test\.$s_two\.img\$" \
	<<<"$out" || fail "status: no line for $two with serial $s_two"
log "status and status --json show both zones with their serials"

# --- 2. pharosctl exit codes ----------------------------------------------------------------
expect_exit 2 "cannot connect to $T/nope\.sock" "status on a missing socket" \
	"$PHAROSCTL" -s "$T/nope.sock" status
expect_exit 2 "unknown command 'frobnicate'" "an unknown command" ctl frobnicate
expect_exit 2 "usage: pharosctl" "no command at all" ctl
expect_exit 2 "status takes 0 argument" "status with an extra argument" ctl status now
expect_exit 2 "load takes 2 argument" "load with one argument" ctl load "$one"

# --- 3. stats -------------------------------------------------------------------------------
out=$(ctl stats) || fail "pharosctl stats failed"
printf '%s\n' "$out" | sed 's/^/    /'
[ "$(awk 'NR > 1 { print $1 }' <<<"$out" | tr '\n' ' ')" = "0 1 tcp total " ] ||
	fail "stats: rows are not workers 0 and 1, tcp, total"
n=20	# answered queries
m=5	# refused queries (a zone we do not serve)
ctl --json stats >"$T/stats0.json" || fail "stats --json failed"
rx0=$(stat_total rx) || fail "stats --json: rx"
noerror0=$(stat_total noerror) || fail "stats --json: noerror"
refused0=$(stat_total refused) || fail "stats --json: refused"
for ((i = 0; i < n; i++)); do
	[ "$(rcode "www.$one" A)" = NOERROR ] || fail "query $i for www.$one not answered NOERROR"
done
for ((i = 0; i < m; i++)); do
	[ "$(rcode "www.example.org." A)" = REFUSED ] || fail "query $i for example.org. not REFUSED"
done
# A worker counts a batch right after sending it: the last answer may arrive first.
until_ok "stats rx grew by $((n + m)) from $rx0" stat_at_least rx $((rx0 + n + m))
until_ok "stats noerror grew by $n from $noerror0" stat_at_least noerror $((noerror0 + n))
until_ok "stats refused grew by $m from $refused0" stat_at_least refused $((refused0 + m))
rx1=$(stat_total rx) || fail "stats --json after the queries: rx"
ctl stats | sed 's/^/    /'
# dig uses a new source port per query and SO_REUSEPORT spreads them by hash: with 25
# queries the chance that one of two workers gets none is 2 * 2^-25.
ctl --json stats | "$PY" -c '
import json, sys
before = json.load(open(sys.argv[1]))["workers"]
after = json.load(sys.stdin)["workers"]
for b, a in zip(before, after):
    if not a["tcp"]:
        assert a["rx"] > b["rx"], "worker %d: rx %d -> %d" % (a["worker"], b["rx"], a["rx"])
' "$T/stats0.json" || fail "stats: a UDP worker's rx did not grow"
log "stats: rx $rx0 -> $rx1 after $((n + m)) queries, noerror +$n, refused +$m"

# --- 4. reload: a new serial, then nothing changed -------------------------------------------
zone_text "$one" "$s2" | put "$T/one.test.zone"
out=$(ctl reload) || fail "reload of a bumped serial failed: $out"
printf '%s\n' "$out" | sed 's/^/    /'
[ "$out" = "reload: ok
$one loaded serial $s2 (was $s1)
$two unchanged serial $s_two" ] || fail "reload report is not as expected"
expect_serial "$one" "$s2" "after the reload"
expect_serial "$two" "$s_two" "after the reload"
out=$(ctl reload) || fail "reload with nothing changed failed (exit $?): $out"
printf '%s\n' "$out" | sed 's/^/    /'
[ "$out" = "reload: ok
$one unchanged serial $s2
$two unchanged serial $s_two" ] || fail "reload with nothing changed is not reported unchanged"
actions=$(ctl --json reload | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d["result"], " ".join("%s=%s/%s" % (z["origin"], z["action"], z["serial"]) for z in d["zones"]))
') || fail "reload --json failed"
[ "$actions" = "ok $one=unchanged/$s2 $two=unchanged/$s_two" ] ||
	fail "reload --json with nothing changed: $actions"
expect_serial "$one" "$s2" "after the unchanged reloads"
log "reload serves a new serial; with nothing changed it reports unchanged, exit 0"

# --- 5. a refused reload exits 1 ----------------------------------------------------------------
good=$(cat "$T/one.test.zone")
{ printf '%s\n' "$good" | sed "s/ $s2 / $s3 /"; echo "bad	IN A	192.0.2.999"; } |
	put "$T/one.test.zone"	# line 7: an impossible address
expect_exit 1 "^$one refused: .*one\.test\.zone:7: error: .*; still serving serial $s2\$" \
	"reload of a zone file with a syntax error" ctl reload
expect_serial "$one" "$s2" "after the refused reload"
printf '%s\n' "$good" | put "$T/one.test.zone"

# --- 6. read-only socket --------------------------------------------------------------------------
zone_text "$one" "$s3" | put "$T/one.test.zone"	# waiting for an admin reload
out=$(ro status) || fail "status on the read-only socket failed"
grep -q "^$one loaded serial=$s2 " <<<"$out" || fail "read-only status does not show $one"
ro zones >/dev/null || fail "zones on the read-only socket failed"
ro --json stats >/dev/null || fail "stats on the read-only socket failed"
expect_exit 2 "'reload' needs the admin socket" "reload on the read-only socket" ro reload
expect_exit 2 "'load' needs the admin socket" "load on the read-only socket" \
	ro load "$one" "$T/state/one.test.$s2.img"
expect_serial "$one" "$s2" "after the refused read-only reload"
out=$(ctl reload) || fail "admin reload after the read-only one failed: $out"
expect_serial "$one" "$s3" "after the admin reload"
log "read-only socket: status, zones and stats work; reload and load refused"

# --- 7. a zone removed from the config, then added back -------------------------------------------
write_conf "$one"
out=$(ctl reload) || fail "reload without $two failed: $out"
printf '%s\n' "$out" | sed 's/^/    /'
grep -qx "$two unloaded" <<<"$out" || fail "reload does not report $two unloaded"
[ "$(rcode "$two" SOA)" = REFUSED ] || fail "$two still answered after its removal"
expect_serial "$one" "$s3" "after removing $two"
status_is "dataplane connected 3
$one loaded $s3" || fail "status after removing $two: $(status_summary)"
write_conf "$one" "$two"
out=$(ctl reload) || fail "reload adding $two back failed: $out"
printf '%s\n' "$out" | sed 's/^/    /'
grep -qx "$two loaded serial $s_two" <<<"$out" || fail "reload does not report $two loaded"
expect_serial "$two" "$s_two" "after adding $two back"
expect_serial "$one" "$s3" "after adding $two back"
log "a removed zone is REFUSED, the other keeps answering; added back it answers"

# --- 8. pharos-control stopped and started again ----------------------------------------------------
stop_clean pharos-control "$ctl_pid"
expect_exit 2 "cannot connect" "status with pharos-control stopped" ctl status
for ((i = 0; i < 10; i++)); do
	expect_serial "$one" "$s3" "pharos-control stopped"
	expect_serial "$two" "$s_two" "pharos-control stopped"
done
log "the dataplane keeps answering without pharos-control"
control_start
until_ok "pharos-control restarted: both zones loaded" status_is "dataplane connected 3
$one loaded $s3
$two loaded $s_two"
expect_serial "$one" "$s3" "pharos-control restarted"
expect_serial "$two" "$s_two" "pharos-control restarted"
log "pharos-control restarted: status shows both zones again"

# --- 9. pharos-dataplane stopped and started again ---------------------------------------------------
stop_clean pharos-dataplane "$dp_pid"
[ "$(rcode "$one" SOA)" = none ] || fail "something still answers with the dataplane stopped"
until_ok "status shows the dataplane lost" status_is "dataplane not-connected
$one pending $s3
$two pending $s_two"
expect_exit 1 "dataplane not connected" "stats with the dataplane stopped" ctl stats
start_dataplane
until_ok "$one answers after the dataplane restart" serial_is "$one" "$s3"
until_ok "$two answers after the dataplane restart" serial_is "$two" "$s_two"
until_ok "status shows the dataplane back" status_is "dataplane connected 3
$one loaded $s3
$two loaded $s_two"
log "pharos-dataplane restarted: pharos-control reconnected, both zones answer"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
