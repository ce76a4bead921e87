#!/usr/bin/env bash
# dnsperf-compare: queries per second of pharos-serve, Knot DNS and NSD on one core each,
# same zones, same query mixes, same load, one run; prints a table and the ratios
# Pharos/Knot and Pharos/NSD.
#
# Everything runs in a private network namespace with only loopback (tests/lib/netns.sh),
# as root. The three servers are started at once, on ports 5401-5403, each with one worker
# and every thread pinned to CPU 1; dnsperf is pinned to CPU 0. Each mix is then sent to
# each server in turn (only the server under load does anything), so the comparison is
# per core. Builds nothing: BUILD_DIR must hold a build (`make build`).
#
# Mixes (every query is for an A record; dnsperf cycles through a seeded query file):
#   hit      every name exists (NOERROR, one A), EDNS0 without DO
#   nx50     half the names exist, half do not (NXDOMAIN + SOA), EDNS0 without DO
#   do-nx50  as nx50 but DO set, on the same names in a zone signed by ldns-signzone
#            (ECDSA P-256, NSEC3, 0 iterations, no salt): RRSIGs, NSEC3 denial proofs
#
# For every run: queries/s, queries lost, average latency, average response size (a
# server sending more bytes does more work), the CPU time the server's processes used
# (/proc/PID/stat of its process tree) and queries per second of that CPU time. When the
# server's CPU is below ~95% the load generator was the limit, not the server: the raw
# ratio then understates the difference and the per-CPU-second ratio is the better guide.
#
# usage: bench/dnsperf-compare.sh [options] [BUILD_DIR]      (default BUILD_DIR: build)
#   -n NAMES    names in each zone (default 10000)
#   -l SECONDS  length of each dnsperf run (default 10)
#   -c CLIENTS  dnsperf clients, one UDP socket each (default 4)
#   -q COUNT    queries dnsperf keeps outstanding (default 200)
#   -t SECONDS  dnsperf timeout: a query unanswered this long is lost (default 1)
#   -Q QPS      offer at most QPS queries/s (dnsperf -Q; default: as fast as answered)
#   -r ROUNDS   runs per server and mix; the run with the median queries/s is shown
#               (default 1)
#   -s LIST     servers, comma-separated, of pharos,knot,nsd (default: all three)
#   -m LIST     mixes, comma-separated, of hit,nx50,do-nx50 (default: all three)
#   -h          this help
# Environment: PHAROS_KEEP_TMP=1 keeps the temp dir (zones, configs, logs, dnsperf output).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=dnsperf-compare

usage() { sed -n '/^# usage:/,/^# Environment/p' "$0" | sed -e 's/^# \{0,1\}//'; }

args=("$@")	# netns_enter re-runs the script with them
names=10000 secs=10 clients=4 outstanding=200 qtimeout=1 rounds=1 rate=
servers=pharos,knot,nsd mixes=hit,nx50,do-nx50
while getopts 'n:l:c:q:t:Q:r:s:m:h' opt; do
	case $opt in
	n) names=$OPTARG ;;
	l) secs=$OPTARG ;;
	c) clients=$OPTARG ;;
	q) outstanding=$OPTARG ;;
	t) qtimeout=$OPTARG ;;
	Q) rate=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) servers=$OPTARG ;;
	m) mixes=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { usage >&2; exit 2; }
for v in "$names" "$secs" "$clients" "$outstanding" "$qtimeout" "$rounds" ${rate:+"$rate"}; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "$TEST_NAME: '$v' is not a positive integer" >&2; exit 2; }
done
IFS=, read -r -a SERVERS <<<"$servers"
IFS=, read -r -a MIXES <<<"$mixes"
for s in "${SERVERS[@]}"; do
	case $s in pharos | knot | nsd) ;; *) echo "$TEST_NAME: unknown server '$s'" >&2; exit 2 ;; esac
done
for m in "${MIXES[@]}"; do
	case $m in hit | nx50 | do-nx50) ;; *) echo "$TEST_NAME: unknown mix '$m'" >&2; exit 2 ;; esac
done

# shellcheck source=tests/lib/netns.sh
. "$here/../tests/lib/netns.sh"
netns_enter "${args[@]}"

build=$(cd "${1:-$here/../build}" 2>/dev/null && pwd) || fail "no build dir '${1:-build}'"
PHAROS_SERVE=$build/tools/pharos-serve
need dnsperf dig taskset awk
[ "$(nproc --all)" -ge 2 ] || skip "needs 2 CPUs (server on CPU 1, dnsperf on CPU 0)"
SRV_CPU=1 GEN_CPU=0
HZ=$(getconf CLK_TCK)
declare -A PORT=([pharos]=5401 [knot]=5402 [nsd]=5403)
declare -A SPID=()

tmpdir_make dnsperf-compare

# ---- zones and query files ----

# A zone of N names hostI (I = 0..N-1), one A record each. Args: ORIGIN FILE
zone_write() {
	awk -v n="$names" -v origin="$1" 'BEGIN {
		printf "$ORIGIN %s\n$TTL 3600\n", origin
		print "@ SOA ns1 hostmaster 1 7200 3600 1209600 300"
		print "@ NS ns1"
		print "ns1 A 192.0.2.1"
		for (i = 0; i < n; i++)
			printf "host%d A 198.%d.%d.%d\n", i, 18 + int(i / 65536) % 2,
				int(i / 256) % 256, i % 256
	}' >"$2"
}

# dnsperf input: LINES queries for A, random names (seeded, so every run sends the same);
# with NX=1 half of them (at random) for names that do not exist. Args: ORIGIN NX FILE
queries_write() {
	local lines=$((names > 100000 ? names : 100000))
	awk -v n="$names" -v lines="$lines" -v origin="$1" -v nx="$2" 'BEGIN {
		srand(1)
		for (i = 0; i < lines; i++) {
			k = int(rand() * n)
			if (nx && rand() < 0.5)
				printf "nohost%d.%s A\n", k, origin
			else
				printf "host%d.%s A\n", k, origin
		}
	}' >"$3"
}

# signed.test.: the same names, signed with a KSK and a ZSK (ECDSA P-256), NSEC3 with no
# salt and 0 extra iterations (RFC 9276). Sets SIGNED_ZONE, or leaves it empty with a reason
# in SIGNED_WHY.
zone_sign() {
	local ksk zsk
	SIGNED_ZONE='' SIGNED_WHY=''
	if ! command -v ldns-signzone >/dev/null || ! command -v ldns-keygen >/dev/null; then
		SIGNED_WHY="ldns-signzone/ldns-keygen not found (Debian package ldnsutils)"
		return 0
	fi
	zone_write signed.test. "$T/signed.test.zone"
	(
		cd "$T"
		ksk=$(ldns-keygen -a ECDSAP256SHA256 -k -r /dev/urandom signed.test.)
		zsk=$(ldns-keygen -a ECDSAP256SHA256 -r /dev/urandom signed.test.)
		timeout 600 ldns-signzone -n -t 0 -o signed.test. -f signed.test.zone.signed \
			signed.test.zone "$zsk" "$ksk"
	) >"$T/sign.log" 2>&1 || { SIGNED_WHY="signing failed (see $T/sign.log)"; return 0; }
	SIGNED_ZONE=$T/signed.test.zone.signed
}

# ---- processes: tree, pinning, CPU time ----

# PID and all its descendants (scans /proc; this kernel has no /proc/PID/task/*/children).
proc_tree() {
	local -a tree=("$1")
	local i=0 st pid ppid
	declare -A kids=()
	for st in /proc/[0-9]*/stat; do
		read -r st 2>/dev/null <"$st" || continue	# the process may be gone
		pid=${st%% *}
		st=${st##*) }	# after the comm field, which may hold spaces
		read -r _ ppid _ <<<"$st"
		kids[$ppid]+=" $pid"
	done
	while [ $i -lt ${#tree[@]} ]; do
		# shellcheck disable=SC2206 # word splitting of PIDs is intended
		tree+=(${kids[${tree[$i]}]:-})
		i=$((i + 1))
	done
	echo "${tree[@]}"
}

# Pin every thread of every process of the tree of PID to CPU. knotd pins its own workers
# after start, so this runs after the server answers, and again before every run.
pin_tree() {
	local pid
	for pid in $(proc_tree "$1"); do
		taskset -a -p -c "$2" "$pid" >/dev/null 2>&1 || true
	done
}

# Every thread of the tree of PID allowed on CPU only? Prints the offenders.
pinned_ok() {
	local pid st bad=
	for pid in $(proc_tree "$1"); do
		for st in /proc/"$pid"/task/*/status; do
			grep -qx "Cpus_allowed_list:[[:space:]]*$2" "$st" 2>/dev/null ||
				bad+=" ${st#/proc/}"
		done
	done
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}

# user + system CPU ticks of the tree of PID (fields 14 and 15 of /proc/PID/stat).
tree_ticks() {
	local pid st sum=0 f
	for pid in $(proc_tree "$1"); do
		read -r st 2>/dev/null <"/proc/$pid/stat" || continue
		st=${st##*) }
		read -r -a f <<<"$st"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# "busy total" jiffies of one CPU from /proc/stat (busy = all but idle and iowait).
cpu_jiffies() {
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t }' /proc/stat
}

# ---- the servers ----

# Start one server, with every thread on $SRV_CPU; returns once it answers for every zone.
# Sets SPID[NAME]. Args: NAME ORIGIN=FILE...
server_start() {
	local name=$1 port=${PORT[$1]} z
	shift
	case $name in
	pharos)
		bg_start2 pharos "$T/pharos.out" "$T/pharos.err" taskset -c "$SRV_CPU" \
			"$PHAROS_SERVE" --listen "127.0.0.1:$port" --workers 1 "$@"
		if ! wait_line "$T/pharos.out" ready "$BG_PID" 120; then
			local rc=0
			bg_alive "$BG_PID" || wait "$BG_PID" || rc=$?
			fail "pharos-serve did not print 'ready' (exit status $rc; is $build built?)"
		fi
		;;
	knot)
		KNOT_WORKERS=1 knot_conf "$T/knot.conf" "$T/knot" 127.0.0.1 "$port" "$@"
		bg_start knot "$T/knot.log" taskset -c "$SRV_CPU" knotd -c "$T/knot.conf"
		;;
	nsd)
		nsd_conf "$T/nsd.conf" "$T/nsd" 127.0.0.1 "$port" "$@"
		bg_start nsd "$T/nsd.out" taskset -c "$SRV_CPU" nsd -d -c "$T/nsd.conf"
		;;
	esac
	SPID[$name]=$BG_PID	# taskset execs the server: this is its PID
	for z in "$@"; do
		wait_dns 127.0.0.1 "$port" "${z%%=*}" SOA 120 || fail "$name does not serve ${z%%=*}"
	done
	pin_tree "$BG_PID" "$SRV_CPU"
}

server_version() {
	case $1 in
	pharos)
		local rev
		rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')
		# Uncommitted changes to the server's sources (the build may predate either).
		git -C "$here/.." diff --quiet HEAD -- dataplane control include tools 2>/dev/null ||
			rev+="+changes"
		echo "pharos-serve $rev ($build, buildtype $BUILDTYPE, $BUILDSTATE, socket backend)" ;;
	knot) knotd --version | head -n1 ;;
	nsd) nsd -v 2>&1 | head -n1 ;;
	esac
}

# The server answers correctly for MIX: a name that exists (NOERROR, AA, its address), one
# that does not (NXDOMAIN, AA), and for do-nx50 the RRSIG and the NSEC3 proof.
# Args: NAME MIX
check_answers() {
	local name=$1 port=${PORT[$1]} zone=bench.test. zre out
	local -a dig=(dig +norec +time=2 +tries=1 -p "$port" @127.0.0.1)
	[ "$2" = do-nx50 ] && { zone=signed.test.; dig+=(+dnssec); }
	zre=${zone//./\\.}
	out=$("${dig[@]}" "host258.$zone" A) || fail "$name: dig failed"
	if ! grep -q 'status: NOERROR' <<<"$out" || ! grep -Eq 'flags: qr aa[ ;]' <<<"$out" ||
		! grep -Eq "^host258\\.${zre}[[:space:]]+3600[[:space:]]+IN[[:space:]]+A[[:space:]]+198\\.18\\.1\\.2$" <<<"$out"; then
		fail "$name: wrong answer for host258.$zone A:"$'\n'"$out"
	fi
	if [ "$2" = do-nx50 ] && ! grep -Eq "^host258\\.${zre}[[:space:]].*RRSIG[[:space:]]+A " <<<"$out"; then
		fail "$name: no RRSIG with DO:"$'\n'"$out"
	fi
	out=$("${dig[@]}" "nohost258.$zone" A) || fail "$name: dig failed"
	if ! grep -q 'status: NXDOMAIN' <<<"$out" || ! grep -Eq 'flags: qr aa[ ;]' <<<"$out"; then
		fail "$name: wrong answer for nohost258.$zone A:"$'\n'"$out"
	fi
	if [ "$2" = do-nx50 ] && [ "$(grep -Ec '[[:space:]]NSEC3[[:space:]]+1 ' <<<"$out")" -ne 3 ]; then
		fail "$name: NXDOMAIN with DO lacks the 3 NSEC3 of the proof:"$'\n'"$out"
	fi
}

# ---- one run ----

# dnsperf against one server with one mix; appends a line to $T/results:
# mix server round qps sent lost lat_us resp_bytes srv_cpu% gen_cpu% cpu1_busy% codes_ok
run_one() {
	local name=$1 mix=$2 round=$3 port=${PORT[$1]} pid=${SPID[$1]} file opts out bad
	local t0 t1 c1a c1b c0a c0b
	case $mix in
	hit) file=$T/hit.txt opts=-e ;;
	nx50) file=$T/nx50.txt opts=-e ;;
	do-nx50) file=$T/do-nx50.txt opts=-D ;;
	esac
	bg_alive "$pid" || fail "$name (PID $pid) died"
	check_answers "$name" "$mix"
	pin_tree "$pid" "$SRV_CPU"
	bad=$(pinned_ok "$pid" "$SRV_CPU") || fail "$name: threads not on CPU $SRV_CPU:$bad"
	out=$T/dnsperf.$mix.$name.$round
	t0=$(tree_ticks "$pid") c1a=$(cpu_jiffies "$SRV_CPU") c0a=$(cpu_jiffies "$GEN_CPU")
	timeout $((secs + qtimeout + 60)) taskset -c "$GEN_CPU" dnsperf -s 127.0.0.1 \
		-p "$port" -d "$file" -l "$secs" -c "$clients" -q "$outstanding" -T 1 \
		-t "$qtimeout" ${rate:+-Q "$rate"} $opts >"$out" 2>&1 || fail "dnsperf failed: $(tail -n 5 "$out")"
	t1=$(tree_ticks "$pid") c1b=$(cpu_jiffies "$SRV_CPU") c0b=$(cpu_jiffies "$GEN_CPU")
	awk -v mix="$mix" -v srv="$name" -v round="$round" -v hz="$HZ" \
		-v ticks=$((t1 - t0)) -v c1="$c1a $c1b" -v c0="$c0a $c0b" '
		/Queries sent:/ { sent = $3 }
		/Queries lost:/ { lost = $3 }
		/Run time \(s\):/ { rt = $4 }
		/Queries per second:/ { qps = $4 }
		/Average Latency \(s\):/ { lat = $4 * 1e6 }
		/Average packet size:/ { resp = $NF }
		/Response codes:/ {
			sub(/.*Response codes: */, "")
			n = split($0, c, /, /)
			for (i = 1; i <= n; i++) { split(c[i], w, " "); codes[w[1]] = w[2]; total += w[2] }
		}
		END {
			split(c1, a); split(c0, b)
			# Response codes must be what the mix asks for.
			ok = total > 0
			for (k in codes)
				if (k != "NOERROR" && !(k == "NXDOMAIN" && mix != "hit")) ok = 0
			if (mix != "hit") {
				nx = codes["NXDOMAIN"] / (total ? total : 1)
				if (nx < 0.4 || nx > 0.6) ok = 0
			}
			printf "%s %s %d %.0f %d %d %.0f %d %.1f %.1f %.1f %d\n", mix, srv, round,
				qps, sent, lost, lat, resp, 100 * ticks / hz / rt,
				100 * (b[3] - b[1]) / (b[4] - b[2]), 100 * (a[3] - a[1]) / (a[4] - a[2]), ok
		}' "$out" >>"$T/results"
}

# ---- main ----

BUILDTYPE=$(grep -o '"name": "buildtype", "value": "[a-z]*"' \
	"$build/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "//; s/"$//')
SANITIZE=$(grep -o '"name": "b_sanitize", "value": "[a-z,]*"' \
	"$build/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "//; s/"$//')
[ "${SANITIZE:-none}" = none ] || fail "$build is a sanitizer build ($SANITIZE): not for benchmarks"
case ${BUILDTYPE:-?} in debug | plain | \?) log "warning: $build has buildtype ${BUILDTYPE:-unknown}, not optimized" ;; esac
# Is the build what the tree says? (a dry run: nothing is rebuilt)
ninja_dry=$(ninja -C "$build" -n 2>/dev/null || true)
if ! command -v ninja >/dev/null; then
	BUILDSTATE="up to date with the tree: unknown (no ninja)"
elif grep -q 'no work to do' <<<"$ninja_dry"; then
	BUILDSTATE="built from the tree as it is"
else
	BUILDSTATE="STALE: older than the tree"
	log "warning: $build is not up to date with the source tree (make build)"
fi

zone_write bench.test. "$T/bench.test.zone"
queries_write bench.test. 0 "$T/hit.txt"
queries_write bench.test. 1 "$T/nx50.txt"
zones=("bench.test.=$T/bench.test.zone")
SIGNED_WHY=
if [[ ,$mixes, == *,do-nx50,* ]]; then
	zone_sign
	if [ -n "$SIGNED_ZONE" ]; then
		zones+=("signed.test.=$SIGNED_ZONE")
		queries_write signed.test. 1 "$T/do-nx50.txt"
	else
		log "skipping mix do-nx50: $SIGNED_WHY"
		mapfile -t MIXES < <(printf '%s\n' "${MIXES[@]}" | grep -vx do-nx50)
	fi
fi
[ ${#MIXES[@]} -gt 0 ] || fail "no mix left to run"

for s in "${SERVERS[@]}"; do
	case $s in
	pharos) need_exe "$PHAROS_SERVE" ;;
	*) need "${s/knot/knotd}" ;;
	esac
	server_start "$s" "${zones[@]}"
done

echo "dnsperf-compare: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc --all) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"
echo "  zones: bench.test. and signed.test., $names names each (one A per name)"
echo "  load: $(dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2 }') -c $clients -q $outstanding -T 1 -t $qtimeout, $secs s per run, UDP over loopback in a private netns"
echo "  per core: each server runs 1 worker with every thread pinned to CPU $SRV_CPU; dnsperf is pinned to CPU $GEN_CPU"
for s in "${SERVERS[@]}"; do
	echo "  $s: $(server_version "$s")"
done
echo "  knot: udp-workers 1, tcp-workers 1, background-workers 1; nsd: server-count 1, rrl off, minimal-responses"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$SIGNED_WHY" ] && echo "  mix do-nx50 skipped: $SIGNED_WHY"
echo

: >"$T/results"
for ((r = 1; r <= rounds; r++)); do
	for m in "${MIXES[@]}"; do
		# Rotate the order of the servers each round, so none always runs first.
		for ((i = 0; i < ${#SERVERS[@]}; i++)); do
			s=${SERVERS[$(((i + r - 1) % ${#SERVERS[@]}))]}
			run_one "$s" "$m" "$r"
		done
	done
done

# The run with the median queries/s of each (mix, server), with the lowest and highest
# queries/s of its runs appended (fields 13 and 14).
sort -k1,1 -k2,2 -k4,4n "$T/results" | awk -v rounds="$rounds" '
	NR == FNR { k = $1 " " $2; if (!(k in lo) || $4 < lo[k]) lo[k] = $4
		if ($4 > hi[k]) hi[k] = $4; next }
	{ k = $1 " " $2; n[k]++; if (n[k] == int((rounds + 1) / 2)) print $0, lo[k], hi[k] }
	' "$T/results" - >"$T/median"

printf '%-8s %-7s %8s %15s %6s %8s %6s %8s %12s %5s %5s\n' mix server qps \
	"$([ "$rounds" -gt 1 ] && echo "qps range")" lost avg-lat resp srv-cpu qps/srv-cpu cpu0 cpu1
for m in "${MIXES[@]}"; do
	for s in "${SERVERS[@]}"; do
		awk -v m="$m" -v s="$s" -v rounds="$rounds" '$1 == m && $2 == s {
			printf "%-8s %-7s %8d %15s %6d %6.0fus %5dB %7.1f%% %12.0f %4.0f%% %4.0f%%%s\n",
				$1, $2, $4, (rounds > 1 ? $13 "-" $14 : ""), $6, $7, $8,
				$9, ($9 > 0 ? $4 * 100 / $9 : 0), $10, $11,
				($12 ? "" : "  WRONG RCODES (see dnsperf output)") \
				($11 - $9 > 20 ? sprintf("  (CPU 1 %.0f%% busy with other work)", $11 - $9) : "")
		}' "$T/median"
	done
done
echo
echo "columns: qps = answered queries/s; lost = unanswered within ${qtimeout}s; resp = average"
echo "response size; srv-cpu = CPU time of the server's processes / run time (100% = the"
echo "whole of CPU $SRV_CPU); qps/srv-cpu = queries answered per second of server CPU time;"
echo "cpu0 / cpu1 = how busy each CPU was (any process). When srv-cpu is well under 100%,"
echo "dnsperf on CPU $GEN_CPU was the limit and qps/srv-cpu is the fairer per-core figure."
echo "cpu1 minus srv-cpu is kernel work outside the server's processes (ksoftirqd) plus any"
echo "other process the machine ran on CPU $SRV_CPU; a row flags it above 20%: rerun when quiet."
[ "$rounds" -gt 1 ] && echo "each row: the run with the median qps of $rounds; qps range: the lowest and highest."
echo

if [[ ,$servers, == *,pharos,* ]]; then
	printf '%-8s %-12s %8s %12s %10s\n' mix ratio qps qps/srv-cpu qps/cpu1
	for m in "${MIXES[@]}"; do
		for s in knot nsd; do
			[[ ,$servers, == *,$s,* ]] || continue
			awk -v m="$m" -v s="$s" '
				function div(a, b) { return b > 0 ? a / b : 0 }
				$1 == m && $2 == "pharos" { pq = $4; pe = div($4, $9); pc = div($4, $11) }
				$1 == m && $2 == s { q = $4; e = div($4, $9); c = div($4, $11) }
				END { printf "%-8s %-12s %8.2f %12.2f %10.2f\n", m,
					"Pharos/" (s == "knot" ? "Knot" : "NSD"),
					div(pq, q), div(pe, e), div(pc, c) }' "$T/median"
		done
	done
	echo "(above 1: Pharos answered more; qps/cpu1 counts all the time CPU $SRV_CPU was busy,"
	echo "including kernel work outside the server's processes such as ksoftirqd)"
fi

if awk '$12 == 0 { bad = 1 } END { exit !bad }' "$T/results"; then
	fail "some runs got response codes the mix does not expect (dnsperf output in $T)"
fi
for s in "${SERVERS[@]}"; do
	if [ "$s" = pharos ]; then
		stop_clean pharos-serve "${SPID[$s]}" >/dev/null
	else
		bg_stop "${SPID[$s]}" 20 || true
	fi
done
