#!/usr/bin/env bash
# dnssec-knot-check: print Knot DNS's answers to every query of tests/dataplane/test_dnssec.c
# (RFC 4035 App. B, RFC 5155 App. B, RFC 4592 2.2.1, and the same without DO), so the
# expectations written there can be checked by eye against a real server. Not a test: it
# asserts nothing by itself. Runs itself in a private network namespace (loopback only);
# each knotd it starts is stopped by PID.
#
#   bash tests/dataplane/dnssec-knot-check.sh [--tests BUILD/tests/test_dnssec] [4035|5155|4592 ...]
#
# Default: all three zones. With --tests, the Criterion tests of test_dnssec.c also run
# against knotd (PHAROS_DNSSEC_SERVER), suite by suite: every failure they print is a place
# where Knot's answer differs from the RFC listing written in the test (and commented there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=dnssec-knot-check
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need knotd kdig

data=$here/../data
tests=
if [ "${1:-}" = --tests ]; then
	tests=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	[ -x "$tests" ] || fail "$2 is not an executable"
	shift 2
fi
port=5353
tmpdir_make dnssec-knot-check

q() {	# q NAME TYPE [kdig options]: one query, the whole response
	local name=$1 type=$2
	shift 2
	echo "=================== $name $type $*"
	kdig -p "$port" @127.0.0.1 +norec +nocrypto +nomultiline +noall +header +question \
		+answer +authority +additional +opt "$@" "$name" "$type" | grep -v '^;; Received'
}

serve() {	# serve ZONEFILE: start knotd on it (zone example.), set $pid
	knot_conf "$T/knot.conf" "$T/knot-$1" 127.0.0.1 "$port" "example.=$data/$1"
	# Serve the zone exactly as written (no signing; the signatures expired long ago).
	printf '    dnssec-signing: off\n' >>"$T/knot.conf"
	knot_start knotd "$T/knot.conf" "$T/knot-$1.log"
	pid=$BG_PID
	wait_dns 127.0.0.1 "$port" example. SOA 20 || fail "knotd does not serve $1"
	echo "######## knotd $(knotd -V | head -n1) serving $1 (pid $pid)"
}

run_tests() {	# run_tests SUITE: the Criterion suite against knotd
	[ -n "$tests" ] || return 0
	echo "######## test_dnssec suite $1 against knotd"
	PHAROS_DNSSEC_SERVER=127.0.0.1:$port PHAROS_TESTDATA=$data \
		"$tests" --filter "$1/*" --jobs 1 2>&1 || true
}

rfc4035() {
	serve rfc4035-appendix-a.zone
	q x.w.example. MX +dnssec	# B.1 answer
	q ml.example. A +dnssec		# B.2 name error
	q ns1.example. MX +dnssec	# B.3 no data error
	q mc.a.example. MX +dnssec	# B.4 referral to signed zone
	q mc.b.example. MX +dnssec	# B.5 referral to unsigned zone
	q a.z.w.example. MX +dnssec	# B.6 wildcard expansion
	q a.z.w.example. AAAA +dnssec	# B.7 wildcard no data error
	q example. DS +dnssec		# B.8 DS child zone no data error
	# DO clear (EDNS, then no EDNS at all)
	q x.w.example. MX +edns
	q x.w.example. MX +noedns
	q ml.example. A +edns
	q ns1.example. MX +edns
	q mc.a.example. MX +edns
	q a.z.w.example. MX +edns
	q a.z.w.example. AAAA +edns
	run_tests rfc4035
	bg_stop "$pid"
}

rfc5155() {
	serve rfc5155-appendix-a.zone
	q a.c.x.w.example. A +dnssec	# B.1 name error
	q ns1.example. MX +dnssec	# B.2 no data error
	q y.w.example. A +dnssec	# B.2.1 no data error, empty non-terminal
	q mc.c.example. MX +dnssec	# B.3 referral to an opt-out unsigned zone
	q a.z.w.example. MX +dnssec	# B.4 wildcard expansion
	q a.z.w.example. AAAA +dnssec	# B.5 wildcard no data error
	q example. DS +dnssec		# B.6 DS child zone no data error
	# DO clear
	q a.c.x.w.example. A +edns
	q a.z.w.example. MX +edns
	q mc.c.example. MX +edns
	run_tests rfc5155
	bg_stop "$pid"
}

rfc4592() {
	serve rfc4592-wildcard.zone
	# synthesized from a wildcard
	q host3.example. MX
	q host3.example. A
	q foo.bar.example. TXT
	# not synthesized
	q host1.example. MX
	q 'sub.*.example.' MX
	q _telnet._tcp.host1.example. SRV
	q host.subdel.example. A
	q 'ghost.*.example.' MX
	# the zone is unsigned: DO changes nothing
	q host3.example. MX +dnssec
	run_tests rfc4592
	bg_stop "$pid"
}

[ $# -gt 0 ] || set -- 4035 5155 4592
for z in "$@"; do
	case $z in
	4035) rfc4035 ;;
	5155) rfc5155 ;;
	4592) rfc4592 ;;
	*) fail "unknown set '$z' (4035, 5155 or 4592)" ;;
	esac
done
