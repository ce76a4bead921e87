#!/usr/bin/env bash
# anycast bench: how fast a failing PoP leaves the anycast, and what the clients lose.
#
# The PoP simulation of tests/anycast (router with BIRD 2 and ECMP, PoP A with the bird hook
# and its own BIRD, PoP B with ExaBGP; tests/anycast/lib.sh). For each case, REPS times:
# the client sends SOA queries at 500 qps over 64 source ports with a 200 ms timeout; the
# failure is made on PoP A; the router's kernel table is watched with `ip -ts monitor
# route`. Measured: the time from the failure to the moment 192.0.2.53's route in the
# router's kernel no longer goes to PoP A, and the queries lost (unanswered within 200 ms,
# or answered wrongly). Medians printed. Cases:
#   kill     SIGKILL to A's dataplane                     (goal <= 0.1 s)
#   freeze   SIGSTOP to A's dataplane                     (goal <= 0.3 s)
#   wrong    A's zone unloaded behind pharos-control's back: A answers REFUSED
#            (a second peer on the management socket, tests/ipc_peer) (goal <= 1.5 s)
#   drain    pharosctl drain on A during 24 s (12,000 queries)   (goal: 0 lost)
# After each run A is brought back and announced again before the next one.
#
# usage: bench/anycast.sh [-r REPS] [-c CASES] [BUILD_DIR]   (default: 3, "kill freeze wrong
#        drain", build). Needs root, bird2, exabgp, dnspython.
set -euo pipefail
reps=3
cases="kill freeze wrong drain"
while getopts "r:c:" o; do
	case $o in
	r) reps=$OPTARG ;;
	c) cases=$OPTARG ;;
	*) echo "usage: $0 [-r REPS] [-c CASES] [BUILD_DIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
b=$(cd "${1:-build}" && pwd)
bench=$(cd "$(dirname "$0")" && pwd)
export PHAROSCTL=$b/tools/pharosctl PHAROS_CONTROL=$b/control/pharos-control
export PHAROS_DATAPLANE=$b/dataplane/pharos-dataplane PHAROS_EXABGP=$b/tools/pharos-exabgp
TEST_NAME=anycast-bench
# shellcheck source=tests/lib/netns.sh
. "$bench/../tests/lib/netns.sh"
# shellcheck source=tests/anycast/lib.sh
. "$bench/../tests/anycast/lib.sh"
POP_CLIENT_NICE=-10	# a starved client loses answers by its own 200 ms timeout
# PoP A (the one that fails) runs the defaults. PoP B is the reference that must stay: on a
# loaded shared machine its pinned worker may wait for its CPU longer than 200 ms, and a
# withdraw of B then would be counted against A's failure (doc/anycast.md).
POP_STUCK_B=1s	# read by tests/anycast/lib.sh
export POP_STUCK_B
tmpdir_make anycast-bench
[ "${PHAROS_KEEP_TMP:-0}" = 1 ] && echo "temp dir: $T" >&2
chmod 755 "$T"
pop_setup
both="$POP_HOP_A $POP_HOP_B"
pop_wait_routes "$both" 30 || fail "routes not up: '$(pop_routes)'"

fail_kill() { kill -KILL "${DP_PID[a]}"; }
back_kill() { wait "${DP_PID[a]}" 2>/dev/null || true; pop_start_dp a; }
fail_freeze() { kill -STOP "${DP_PID[a]}"; }
back_freeze() { kill -CONT "${DP_PID[a]}"; }
fail_wrong() { "$b/tests/ipc_peer" "$T/a/dp.sock" unload "$POP_ZONE" >/dev/null; }
back_wrong() {
	local img
	img=$(pop_ctl a zones | grep -o 'image=[^ ]*' | head -1 | cut -d= -f2)
	"$b/tests/ipc_peer" "$T/a/dp.sock" load "$POP_ZONE" "$img" >/dev/null
}
fail_drain() { pop_ctl a drain >/dev/null; }
back_drain() { pop_ctl a undrain >/dev/null; }

run_case() {	# CASE REP -> "ms lost sent" in $T/res
	local c=$1 r=$2 secs=4 at=1 t0 mon cl
	[ "$c" = wrong ] && secs=5
	[ "$c" = drain ] && { secs=24; at=2; }
	bg_start "monitor $c $r" "$T/mon.$c.$r" ip -n "$(pop_ns r)" -ts monitor route
	mon=$BG_PID
	pop_client --ports 64 --qps 500 --seconds "$secs" --timeout 0.2 \
		--timeline "$T/tl.$c.$r" >"$T/client.$c.$r" 2>&1 &
	cl=$!
	# at a random point of the health period: evaluations are aligned with the last
	# transition, and a fixed delay would always hit the same phase
	sleep "$at.$(printf '%03d' $((RANDOM % 1000)))"
	t0=$(date +%s.%N)
	"fail_$c"
	pop_wait_routes "$POP_HOP_B" 10 || true
	wait "$cl" || true
	bg_stop "$mon" 2 || true
	"$PY" "$bench/anycast-analyze.py" "$T/mon.$c.$r" "$t0" "$POP_HOP_A" "$T/tl.$c.$r" \
		>"$T/res"
	"back_$c"
	pop_wait_routes "$both" 60 || fail "A not back after $c: '$(pop_routes)'"
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf '%-8s %-22s %-12s %-14s %s\n' case "withdraw ms (runs)" "median ms" "lost (runs)" \
	"median lost / sent"
for c in $cases; do
	ms=() lost=() sent=0
	for ((r = 1; r <= reps; r++)); do
		run_case "$c" "$r"
		read -r m l s <"$T/res"
		ms+=("$m")
		lost+=("$l")
		sent=$s
	done
	printf '%-8s %-22s %-12s %-14s %s / %s\n' "$c" "${ms[*]}" \
		"$(printf '%s\n' "${ms[@]}" | median)" "${lost[*]}" \
		"$(printf '%s\n' "${lost[@]}" | median)" "$sent"
done
