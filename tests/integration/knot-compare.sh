#!/usr/bin/env bash
# knot-compare: Knot DNS and pharos-serve serve data/compare.zone side by side in a private
# network namespace; every query of data/compare.queries must get the same answer from both
# (tests/lib/dnscompare.py), apart from the differences listed, with a reason, in
# data/compare.allow.
#
# Environment: PHAROS_SERVE (pharos-serve executable).
# Argument (optional): what to compare with knotd:
#   pharos    (default) pharos-serve
#   knot      a second knotd on the same zone: must find no difference
#   mutated   a second knotd on a zone with one record changed: must find it (exit 1)
#   selftest  knot, then mutated: proves the harness passes equal servers and flags a change
#   nsd       NSD (differences are printed; for a look by hand)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need knotd dig
need_dnspython

peer=${1:-pharos}
data=$here/data
origin=pharos.test.
zone=$data/compare.zone
tmpdir_make knot-compare

compare() {	# compare knotd with the server on port $1 named $2
	"$PY" "$here/../lib/dnscompare.py" --apex "$origin" \
		--queries "$data/compare.queries" --allow "$data/compare.allow" \
		--server "knot=127.0.0.1:5301" --server "$2=127.0.0.1:$1" "${@:3}"
}

knot_serve knotd 5301 "$origin=$zone"
knot_pid=$BG_PID
log "knotd $(knotd --version | head -n1) answering on 127.0.0.1:5301 (pid $knot_pid)"

# A second knotd on port 5302 serving FILE (for the self-tests).
second_knot() {
	knot_serve knotd-2 5302 "$origin=$1"
	echo "$BG_PID"
}

# The harness must find nothing between two identical servers...
selftest_same() {
	local pid
	second_knot "$zone" >"$T/pid2"
	pid=$(cat "$T/pid2")
	compare 5302 knot-copy --same-software || fail "two knotd serving the same zone compared as different"
	bg_stop "$pid" 10 || true
}

# ...and must flag one changed record (and the query that sees it).
selftest_mutated() {
	local pid out rc=0
	sed -e 's/^www\t300\tIN A\t192\.0\.2\.81$/www\t300\tIN A\t192.0.2.99/' \
		"$zone" >"$T/mutated.zone"
	cmp -s "$zone" "$T/mutated.zone" && fail "the mutation did not change the zone"
	second_knot "$T/mutated.zone" >"$T/pid2"
	pid=$(cat "$T/pid2")
	out=$(compare 5302 knot-mutated --same-software) || rc=$?
	printf '%s\n' "$out"
	bg_stop "$pid" 10 || true
	[ "$rc" -eq 1 ] || fail "the harness did not fail on a changed record (exit $rc)"
	grep -q '^FAIL .*: www.pharos.test. A$' <<<"$out" ||
		fail "the query that sees the changed record was not flagged"
	grep -q 'only in other: *www.pharos.test. 300 IN A .*192.0.2.99\|other: *www.pharos.test. 300 IN A .*192.0.2.99' \
		<<<"$out" || fail "the changed record is not shown in the difference"
	log "self-test: the changed record was flagged, as it must be"
}

case $peer in
pharos)
	need_exe "${PHAROS_SERVE:?PHAROS_SERVE not set}"
	serve_start pharos-serve 127.0.0.1:5310 "$T/control.sock" "$origin=$zone"
	serve_pid=$BG_PID
	rc=0
	compare 5310 pharos ${COMPARE_VERBOSE:+-v} || rc=$?
	stop_clean pharos-serve "$serve_pid"
	[ "$rc" -eq 0 ] || fail "pharos-serve and knotd answered differently (see above)"
	;;
knot) selftest_same ;;
mutated) selftest_mutated ;;
selftest)
	selftest_same
	selftest_mutated
	;;
nsd)
	need nsd
	nsd_serve nsd 5303 "$origin=$zone"
	compare 5303 nsd -v || true
	;;
*) fail "unknown peer '$peer' (pharos, knot, mutated, selftest, nsd)" ;;
esac
log "ok"
