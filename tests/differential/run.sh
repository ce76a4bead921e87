#!/usr/bin/env bash
# differential: thousands of generated queries (gen.py, seeded) to Knot DNS and to another
# server serving the same zones, in a private network namespace; every answer must match
# Knot's, apart from the differences listed, each with its reason, in allow.txt
# (differential.py compares, with tests/lib/dnscompare.py).
#
# Two runs, because the two signed zones share their origin (example.):
#   nsec   zones/diff.test.zone (unsigned) + tests/data/rfc4035-appendix-a.zone (NSEC)
#   nsec3  tests/data/rfc5155-appendix-a.zone (NSEC3, opt-out)
# Each run is a knotd (the reference) and a peer serving the same zone files.
#
# Argument (optional): the peer.
#   pharos    (default) pharos-serve ($PHAROS_SERVE); fails on any difference not allowed
#   nsd       NSD: the disagreements are categorised and written to $DIFF_REPORT
#             (default: $TMPDIR/knot-vs-nsd.md); never fails on a difference
#   knot      a second knotd on the same zones: must find no difference at all
#   mutated   a second knotd on zones with one record changed in each run: must fail, and
#             name the changed records
#   selftest  knot, then mutated
# Environment: PHAROS_SERVE (for pharos), DIFF_SEED (default 1), DIFF_COUNT (queries,
# default 10000), DIFF_JOBS (queries in flight, default 8), DIFF_REPORT (write every
# difference, by category, to this file), DIFF_SHOW (differing queries printed in full;
# 30, nsd: 10), DIFF_VERBOSE=1, NSD_MINIMAL=no (NSD's own default, see nsd_conf in tests/lib/netns.sh),
# PHAROS_KEEP_TMP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need knotd dig
need_dnspython

peer=${1:-pharos}
tmpdir_make differential
zone_diff=$here/zones/diff.test.zone
zone_nsec=$here/../data/rfc4035-appendix-a.zone
zone_nsec3=$here/../data/rfc5155-appendix-a.zone
ref1=5301 ref2=5302	# knotd: run nsec, run nsec3
peer1=5311 peer2=5312	# the peer: run nsec, run nsec3

differential() {	# differential PEER_NAME [differential.py options...]
	local name=$1
	shift
	"$PY" "$here/differential.py" --ref-name knot --peer-name "$name" \
		--seed "${DIFF_SEED:-1}" --count "${DIFF_COUNT:-10000}" --jobs "${DIFF_JOBS:-8}" \
		--run nsec "127.0.0.1:$ref1" "127.0.0.1:$peer1" \
		"diff:diff.test.=$zone_diff" "nsec:example.=$zone_nsec" \
		--run nsec3 "127.0.0.1:$ref2" "127.0.0.1:$peer2" "nsec3:example.=$zone_nsec3" \
		${DIFF_VERBOSE:+-v} "$@"
}

start_refs() {
	knot_serve knot-nsec "$ref1" "diff.test.=$zone_diff" "example.=$zone_nsec"
	knot_serve knot-nsec3 "$ref2" "example.=$zone_nsec3"
	log "$(knotd --version | head -n1) answering on 127.0.0.1:$ref1 and :$ref2"
}

# A second pair of knotd on the peer ports, serving FILE_DIFF and FILE_NSEC3 (PIDs in
# $knot_peers).
start_knot_peers() {
	knot_serve knot2-nsec "$peer1" "diff.test.=$1" "example.=$zone_nsec"
	knot_peers=$BG_PID
	knot_serve knot2-nsec3 "$peer2" "example.=$2"
	knot_peers="$knot_peers $BG_PID"
}

stop_knot_peers() {
	local pid
	for pid in $knot_peers; do
		bg_stop "$pid" 10 || true
	done
}

selftest_same() {
	local out rc=0
	start_knot_peers "$zone_diff" "$zone_nsec3"
	out=$(differential knot-copy) || rc=$?
	printf '%s\n' "$out"
	stop_knot_peers
	[ "$rc" -eq 0 ] || fail "two knotd serving the same zones compared as different (exit $rc)"
	grep -q '^differential: [0-9]* sent, [0-9]* identical, 0 allowed, 0 different$' <<<"$out" ||
		fail "the summary line is missing or shows differences"
	log "self-test: two knotd on the same zones: no difference, as it must be"
}

# One record changed in each run: www.diff.test. A 192.0.2.80 -> 192.0.2.99 and
# xx.example. A 192.0.2.10 -> 192.0.2.11 (NSEC3 zone; its RRSIG no longer validates, which
# an authoritative server does not check).
selftest_mutated() {
	local out rc=0
	sed -e 's/^www\t300\tIN A\t192\.0\.2\.80$/www\t300\tIN A\t192.0.2.99/' \
		"$zone_diff" >"$T/diff.mutated.zone"
	sed -e 's/^\(xx\.example\.[ \t]*3600 IN A[ \t]*\)192\.0\.2\.10$/\1192.0.2.11/' \
		"$zone_nsec3" >"$T/nsec3.mutated.zone"
	cmp -s "$zone_diff" "$T/diff.mutated.zone" && fail "the mutation did not change diff.test.zone"
	cmp -s "$zone_nsec3" "$T/nsec3.mutated.zone" && fail "the mutation did not change the NSEC3 zone"
	start_knot_peers "$T/diff.mutated.zone" "$T/nsec3.mutated.zone"
	out=$(differential knot-mutated --no-coverage) || rc=$?
	printf '%s\n' "$out"
	stop_knot_peers
	[ "$rc" -eq 1 ] || fail "the harness did not fail on changed records (exit $rc)"
	grep -Eq '^ +[0-9]+  \[diff\] answer ~A$' <<<"$out" ||
		fail "the changed www.diff.test. A is not a category of differences"
	grep -Eq '^ +[0-9]+  \[nsec3\] answer ~A$' <<<"$out" ||
		fail "the changed xx.example. A (NSEC3 run) is not a category of differences"
	grep -q 'other: *www\.diff\.test\. 300 IN A .*192\.0\.2\.99' <<<"$out" ||
		fail "the changed record is not shown in full"
	# Only queries that reach a changed record may differ.
	if grep -E '^ +[0-9]+  \[' <<<"$out" | grep -Ev '\] (answer|additional) ~A$'; then
		fail "the mutation caused differences of other kinds (above)"
	fi
	log "self-test: the changed records were flagged, as they must be"
}

start_refs
case $peer in
pharos)
	need_exe "${PHAROS_SERVE:?PHAROS_SERVE not set}"
	serve_start pharos-nsec "127.0.0.1:$peer1" "$T/nsec.sock" \
		"diff.test.=$zone_diff" "example.=$zone_nsec"
	pid1=$BG_PID
	serve_start pharos-nsec3 "127.0.0.1:$peer2" "$T/nsec3.sock" "example.=$zone_nsec3"
	pid2=$BG_PID
	rc=0
	differential pharos --allow "$here/allow.txt" --show "${DIFF_SHOW:-30}" \
		${DIFF_REPORT:+--report "$DIFF_REPORT"} || rc=$?
	stop_clean pharos-nsec "$pid1"
	stop_clean pharos-nsec3 "$pid2"
	[ "$rc" -eq 0 ] || fail "pharos-serve and knotd answered differently (see above)"
	;;
nsd)
	need nsd
	nsd_serve nsd-nsec "$peer1" "diff.test.=$zone_diff" "example.=$zone_nsec"
	nsd_serve nsd-nsec3 "$peer2" "example.=$zone_nsec3"
	log "$(nsd -v 2>&1 | head -n1) answering on 127.0.0.1:$peer1 and :$peer2"
	report=${DIFF_REPORT:-${TMPDIR:-/tmp}/knot-vs-nsd.md}
	rc=0
	differential nsd --report "$report" --show "${DIFF_SHOW:-10}" || rc=$?
	[ "$rc" -le 1 ] || fail "the comparison could not run (exit $rc)"
	log "Knot vs NSD disagreements by category: $report"
	;;
knot) selftest_same ;;
mutated) selftest_mutated ;;
selftest)
	selftest_same
	selftest_mutated
	;;
*) fail "unknown peer '$peer' (pharos, nsd, knot, mutated, selftest)" ;;
esac
log "ok"
