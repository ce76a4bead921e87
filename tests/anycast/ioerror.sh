#!/usr/bin/env bash
# anycast-ioerror: the hard signal "the dataplane reports a fatal I/O error", provoked for
# real on the AF_XDP backend. In a private network namespace (unshare -n) with a veth pair
# xs0/xc0: pharos-dataplane --backend afxdp on xs0 (service 198.18.0.1), pharos-control
# with one anycast prefix and the command hook. Once up, the steering program is detached
# from under the dataplane (ip link set dev xs0 xdp off):
#   - the dataplane logs the fatal error and reports it in IPC_STATUS (pharosctl status
#     shows the worker and why);
#   - pharos-control withdraws at once: state down, reason "hard: worker 0: fatal I/O
#     error: xs0: XDP program pharos_steer (id N) was detached", the hook ran "down withdraw".
# The socket backend cannot be provoked this way: nothing outside the process makes a bound
# UDP socket fail on every receive call (its check is the error streak, doc/dataplane.md).
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/anycast/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
"$PHAROS_DATAPLANE" --help | grep -q 'built:.*afxdp' ||
	skip "pharos-dataplane built without the AF_XDP backend (see the meson summary)"
tmpdir_make anycast-ioerror
ip link add xs0 type veth peer name xc0 || skip "cannot create a veth pair"
ip addr add 198.18.0.1/24 dev xs0
ip link set xs0 up
ip link set xc0 up

# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone file directives
printf '$ORIGIN io.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 198.18.0.1\n' \
	>"$T/io.zone"
printf '#!/bin/sh\necho "$PHAROS_STATE $PHAROS_ACTION [$PHAROS_PREFIXES] $PHAROS_REASON" >>"%s"\n' \
	"$T/hook.log" >"$T/hook.sh"
chmod +x "$T/hook.sh"
printf '%s\n' "state-dir $T/state" "control-socket $T/ctl.sock" "dataplane-socket $T/dp.sock" \
	"zone io.test file=$T/io.zone" "anycast-prefix 192.0.2.53/32" \
	"health-query 198.18.0.1:53" "route-command $T/hook.sh" "health-stuck 2s" >"$T/pharos.conf"
ctl() { "$PHAROSCTL" -s "$T/ctl.sock" -t 10 "$@"; }
state() { health_state "$T/ctl.sock"; }
wait_state() { health_wait "$T/ctl.sock" "$@"; }	# STATE SECS

bg_start dataplane "$T/dp.log" "$PHAROS_DATAPLANE" --backend afxdp --iface xs0 \
	--service 198.18.0.1 --workers 1 --socket "$T/dp.sock"
DP=$BG_PID
for ((i = 0; i < 100; i++)); do [ -S "$T/dp.sock" ] && break; bg_alive "$DP" || break; sleep 0.1; done
[ -S "$T/dp.sock" ] || fail "the AF_XDP dataplane did not start"
bg_start control "$T/ctl.log" "$PHAROS_CONTROL" -c "$T/pharos.conf" -f
wait_state up 20 || fail "not up: $(ctl health)"
! ctl status | grep -q 'fatal I/O' || fail "fatal I/O error before anything broke: $(ctl status)"
log "up, announced, AF_XDP attached"

ip link set dev xs0 xdp off || fail "cannot detach the XDP program"
t0=$(date +%s%N)
wait_state down 5 || fail "still $(state) after the XDP program was detached"
ms=$((($(date +%s%N) - t0) / 1000000))
reason=$(ctl health | sed -n 's/^reason: //p')
[[ $reason =~ ^hard:\ worker\ 0:\ fatal\ I/O\ error:\ xs0:\ XDP\ program\ pharos_steer\ \(id\ [0-9]+\)\ was\ detached$ ]] ||
	fail "reason: $reason"
ctl status | grep -Eq '^worker 0: fatal I/O error: xs0: XDP program pharos_steer \(id [0-9]+\) was detached$' ||
	fail "status: $(ctl status)"
grep -q 'worker 0: fatal I/O error: xs0: XDP program' "$T/dp.log" || fail "not in the dataplane's log"
grep -Eq 'health up -> down: hard: worker 0: fatal I/O error' "$T/ctl.log" || fail "no state change line"
sleep 0.3
tail -1 "$T/hook.log" | grep -q '^down withdraw \[\] hard: worker 0: fatal I/O error' ||
	fail "hook: $(tail -1 "$T/hook.log")"
log "XDP program detached: down in $ms ms ($reason), withdrawn"
log PASS
