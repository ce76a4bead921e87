#!/usr/bin/env bash
# anycast-health: pharos-control's health and the command hook, one PoP, no BGP, in a
# private network namespace with only loopback (192.0.2.53/32 added to lo):
#   1. zone two.test's file is broken and the dataplane is not running: state init, the
#      command hook ran once with "init withdraw"; with the dataplane up it stays init
#      (a zone is not loaded: never announce before every zone is loaded)
#   2. zone file fixed + reload: up, the hook gets "up announce 192.0.2.53/32", the log has
#      "health init -> up" with a millisecond timestamp and an "announce" line; the bird
#      hook wrote both prefixes to its include file, then ran configure and enable (a
#      script stands in for birdc)
#   3. health text and --json; the read-only socket shows health and refuses drain (exit 2)
#   4. a zone unloaded behind pharos-control's back (answers REFUSED): down after fall,
#      reason names the zone and REFUSED, no route left in the bird include file, birdc
#      disable ran; image loaded again: up after rise
#   5. the dataplane killed: down at once, reason "lost the dataplane"
#   5b. the dataplane frozen (SIGSTOP): down (hard, no answer within health-stuck);
#      meanwhile status, health and stats answer at once ("dataplane: not responding")
#      across pharos-control's reconnects; SIGCONT: up again
#   6. drain file: draining, undrain refused (exit 1) while it exists; removed: up;
#      pharosctl drain / undrain (exit 0)
#   7. a bad anycast key at reload: refused naming the line, state unchanged
#   8. SIGTERM: withdraw (hook "draining withdraw"), exit 0 only after the grace period
# The stuck-worker bound is 2 s here (default 200 ms): this test is about states and hooks,
# and an idle worker loops every 100 ms, which a loaded CI machine may stretch.
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/anycast/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need_dnspython
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make anycast-health
ip addr add 192.0.2.53/32 dev lo
wait_s=20

zone() {	# ORIGIN SERIAL
	# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone file directives
	printf '$ORIGIN %s\n$TTL 300\n@ IN SOA ns1 hostmaster %s 7200 3600 1209600 300\n' "$1" "$2"
	printf '@ IN NS ns1\nns1 IN A 192.0.2.53\n'
}
zone one.test. 1 >"$T/one.zone"
echo 'this is not a zone' >"$T/two.zone"
cat >"$T/hook.sh" <<EOF
#!/bin/sh
echo "\$PHAROS_STATE \$PHAROS_ACTION [\$PHAROS_PREFIXES] \$PHAROS_REASON" >>"$T/hook.log"
EOF
chmod +x "$T/hook.sh"
# stands in for birdc: what the bird hook runs, in order
cat >"$T/birdc.sh" <<EOF
#!/bin/sh
echo "\$*" >>"$T/birdc.log"
EOF
chmod +x "$T/birdc.sh"
conf() {	# extra line
	cat >"$T/pharos.conf" <<-EOF
	state-dir $T/state
	control-socket $T/ctl.sock
	control-socket-readonly $T/ro.sock
	dataplane-socket $T/dp.sock
	zone one.test file=$T/one.zone
	zone two.test file=$T/two.zone
	anycast-prefix 192.0.2.53/32
	anycast-prefix 2001:db8:53::/48
	health-query 192.0.2.53:53
	grace-period 1
	drain-file $T/drain
	route-command $T/hook.sh
	route-bird-include $T/bird-routes.conf
	route-bird-reload $T/birdc.sh -s $T/bird.ctl configure
	route-bird-protocol anycast4
	route-birdc $T/birdc.sh -s $T/bird.ctl
	health-stuck 2s
	$1
	EOF
}
conf ""
ctl() { "$PHAROSCTL" -s "$T/ctl.sock" -t 10 "$@"; }
state() { health_state "$T/ctl.sock"; }
wait_state() { health_wait "$T/ctl.sock" "$@"; }	# STATE SECS
start_dp() {
	bg_start dataplane "$T/dp.log" "$PHAROS_DATAPLANE" --listen 192.0.2.53:53 \
		--socket "$T/dp.sock" --workers 1 --nsid pop-1
	DP=$BG_PID
}

# 1. never announce before every zone is loaded
bg_start control "$T/ctl.log" "$PHAROS_CONTROL" -c "$T/pharos.conf" -f
CTL=$BG_PID
for ((i = 0; i < wait_s * 10; i++)); do [ -S "$T/ctl.sock" ] && [ -s "$T/hook.log" ] && break; sleep 0.1; done
[ "$(state)" = init ] || fail "state '$(state)' before the dataplane, expected init"
[ "$(cat "$T/hook.log")" = "init withdraw [] starting: waiting for the first complete evaluation" ] ||
	fail "first hook run: $(cat "$T/hook.log")"
start_dp
sleep 2.5
[ "$(state)" = init ] || fail "state '$(state)' with two.test not loaded, expected init"
[ "$(wc -l <"$T/hook.log")" = 1 ] || fail "hook ran again while init: $(cat "$T/hook.log")"
ctl routes command | grep -qx 'withdraw 192.0.2.53/32' || fail "routes command: $(ctl routes command)"
log "1. init until every zone is loaded"

# 2. zone fixed: up, announce
zone two.test. 7 >"$T/two.zone"
ctl reload >/dev/null || fail "reload failed"
wait_state up $wait_s || fail "not up after the zone loaded: $(ctl health)"
sleep 0.3
tail -1 "$T/hook.log" | grep -qx 'up announce \[192.0.2.53/32 2001:db8:53::/48\] first complete evaluation passed' ||
	fail "hook after up: $(tail -1 "$T/hook.log")"
grep -Eq '^pharos-control: [0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z health init -> up: first complete evaluation passed$' "$T/ctl.log" ||
	fail "no timestamped state change line"
grep -Eq 'Z announce 192.0.2.53/32 2001:db8:53::/48 via bird,command \(state up' "$T/ctl.log" ||
	fail "no announce line"
grep -q '^	route 192.0.2.53/32 blackhole;$' "$T/bird-routes.conf" &&
	grep -q '^	route 2001:db8:53::/48 blackhole;$' "$T/bird-routes.conf" ||
	fail "bird include file: $(cat "$T/bird-routes.conf")"
[ "$(tail -2 "$T/birdc.log")" = "-s $T/bird.ctl configure
-s $T/bird.ctl enable anycast4" ] || fail "bird hook commands: $(cat "$T/birdc.log")"
log "2. up and announced (command hook; bird: include file, configure, enable)"

# 3. text, JSON, read-only socket
ctl health | grep -qx 'announce: yes' || fail "health text: $(ctl health)"
ctl health | grep -qx 'prefix 192.0.2.53/32 announced hooks=bird,command' || fail "health prefixes"
ctl --json health | "$PY" -c 'import json,sys; h=json.load(sys.stdin); assert h["state"]=="up" and h["announce"] and h["hard"]["ok"] and h["soft"]["rise"]==3 and h["prefixes"][1]["prefix"]=="2001:db8:53::/48", h' ||
	fail "health --json"
"$PHAROSCTL" -s "$T/ro.sock" health >/dev/null || fail "health on the read-only socket"
rc=0
"$PHAROSCTL" -s "$T/ro.sock" drain >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "drain on the read-only socket exit $rc, expected 2"
log "3. health text/json, read-only socket"

# 4. wrong answers: REFUSED for one.test.
img=$(ctl zones | awk '$1 == "one.test." { for (i = 1; i <= NF; i++) if ($i ~ /^image=/) print substr($i, 7) }')
"$IPC_PEER" "$T/dp.sock" unload one.test. >/dev/null || fail "ipc unload"
wait_state down 5 || fail "still '$(state)' while one.test. answers REFUSED"
ctl health | grep -q '^reason: soft: 2 failed check(s): one.test. SOA: REFUSED$' ||
	fail "reason: $(ctl health | grep reason)"
tail -1 "$T/hook.log" | grep -q '^down withdraw \[\] soft: 2 failed' || fail "hook: $(tail -1 "$T/hook.log")"
sleep 0.2
! grep -q '^	route ' "$T/bird-routes.conf" || fail "bird include file still has routes when down"
[ "$(tail -1 "$T/birdc.log")" = "-s $T/bird.ctl disable anycast4" ] || fail "birdc: $(tail -1 "$T/birdc.log")"
"$IPC_PEER" "$T/dp.sock" load one.test. "$img" >/dev/null || fail "ipc load"
wait_state up 8 || fail "not up again after the zone came back"
ctl health | grep -q '^reason: soft: 3 good check(s) in a row$' || fail "rise reason"
log "4. wrong answers: down after fall 2, up after rise 3"

# 5. dataplane killed: hard, at once
{ kill -KILL "$DP"; wait "$DP"; } 2>/dev/null || true
wait_state down 2 || fail "not down after the dataplane died"
ctl health | grep -q '^reason: hard: lost the dataplane' || fail "reason: $(ctl health | grep reason)"
start_dp
wait_state up $wait_s || fail "not up after the dataplane restarted"
log "5. dataplane killed: down (hard), back up after restart"

# 5b. dataplane frozen: down (hard); operator commands answer at once meanwhile ("not
# responding"), across pharos-control's reconnects; thawed: back up
kill -STOP "$DP"
wait_state down 5 || fail "not down with the dataplane frozen"
ctl health | grep -q '^reason: hard: dataplane did not answer a status request within 2000 ms$' ||
	fail "reason: $(ctl health | grep reason)"
for k in 1 2 3 4; do
	t0=$(date +%s%N)
	out=$(timeout 5 "$PHAROSCTL" -s "$T/ctl.sock" -t 10 status) || fail "status while frozen: exit $?"
	ms=$((($(date +%s%N) - t0) / 1000000))
	grep -qx "dataplane: not responding, $T/dp.sock" <<<"$out" || fail "status while frozen: $out"
	timeout 5 "$PHAROSCTL" -s "$T/ctl.sock" -t 10 health | grep -q '^state: down$' ||
		fail "health while frozen"
	rc=0
	out=$(timeout 5 "$PHAROSCTL" -s "$T/ctl.sock" -t 10 stats) || rc=$?
	[ "$rc" = 1 ] && [ "$out" = "dataplane not responding" ] || fail "stats while frozen: exit $rc, $out"
	sleep 0.6
done
grep -q 'accepted the connection but answers nothing (not responding); retrying' "$T/ctl.log" ||
	fail "no log line for the frozen dataplane's reconnect"
kill -CONT "$DP"
wait_state up $wait_s || fail "not up after the dataplane was thawed"
ctl status | grep -qx "dataplane: connected, $T/dp.sock" || fail "status after the thaw: $(ctl status)"
log "5b. dataplane frozen: down (hard), status/health/stats answered (last in $ms ms), up after thaw"

# 6. drain file, drain/undrain
touch "$T/drain"
wait_state draining 2 || fail "drain file: state $(state)"
rc=0
ctl undrain >"$T/undrain.out" || rc=$?
[ "$rc" = 1 ] && grep -q "still draining: the drain file $T/drain exists" "$T/undrain.out" ||
	fail "undrain with the drain file: exit $rc, $(cat "$T/undrain.out")"
rm "$T/drain"
wait_state up 2 || fail "drain file removed: state $(state)"
ctl drain >/dev/null || fail "drain exit $?"
[ "$(state)" = draining ] || fail "after drain: $(state)"
sleep 1.1
[ "$(state)" = "draining (drained)" ] || fail "not drained after the grace: $(state)"
ctl undrain >/dev/null || fail "undrain"
[ "$(state)" = up ] || fail "after undrain: $(state)"
log "6. drain file and drain/undrain"

# 7. a bad anycast key: reload refused, state kept
conf "health-fall 0"
rc=0
ctl reload >"$T/reload.out" || rc=$?
[ "$rc" = 1 ] && grep -q "pharos.conf:18: health-fall: '0' is not a number in 1..100" "$T/reload.out" ||
	fail "bad key: exit $rc, $(cat "$T/reload.out")"
[ "$(state)" = up ] || fail "state after a refused reload: $(state)"
conf ""
log "7. bad anycast key refused"

# 8. SIGTERM: withdraw, grace, stop
t0=$(date +%s%N)
rc=0
bg_stop "$CTL" 10 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || fail "pharos-control exit $rc after SIGTERM"
[ "$ms" -ge 1000 ] || fail "stopped after $ms ms, before the 1 s grace period"
tail -1 "$T/hook.log" | grep -q '^draining withdraw \[\] drain: shutdown' || fail "hook: $(tail -1 "$T/hook.log")"
dig_again dig +short +time=2 +tries=1 @192.0.2.53 one.test. SOA | grep -q ' 1 7200 ' ||
	fail "dataplane stopped answering"
log "8. SIGTERM: withdrawn, stopped after $ms ms, dataplane answering"
log PASS
