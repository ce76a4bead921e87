# Shared helpers for the integration tests (bash; source it, don't run it).
# shellcheck shell=bash
#
#   netns_enter "$@"      re-exec the calling script inside a new network namespace with
#                         only loopback up (unshare -n); returns once inside
#   tmpdir_make NAME      a temp dir in $T, removed on exit (unless PHAROS_KEEP_TMP=1)
#   bg_start NAME LOG CMD...   start CMD in the background, remember its PID in $BG_PID
#   bg_start2 NAME OUT ERR CMD...   the same with stdout and stderr kept apart
#   bg_stop PID [SECS]    SIGTERM, wait up to SECS (default 10), SIGKILL; returns its status
#   bg_wait PID [SECS]    wait for it to exit by itself (then as bg_stop); returns its status
#   wait_line FILE TEXT PID SECS   wait until FILE has a line TEXT (PID must stay alive)
#   wait_dns HOST PORT NAME TYPE SECS   wait until the server answers NOERROR
#   retry_until SECS CMD...   run CMD until it succeeds, SECS * 10 tries 0.1 s apart at most
#   dig_again DIG...      run a dig command line again while it gets no reply (exit 9),
#                         5 times at most; dig_short / soa_serial use it
#   swap_client_start SERVER ORIGIN S1 S2 [PREFIX...] / swap_client_finish
#                         queries under zone swaps: every answer one of two serials
#   swap_zones ORIGIN S1 S2 FILE [RECORD...] / swap_reloads N FILE S1 S2 RELOAD SERIAL
#                         the two zone versions, and N reloads alternating between them
#   need CMD...           skip the test (exit 77) when a command is truly absent
#   fail MSG / skip MSG / log MSG
#   zone_text ORIGIN SERIAL [LINE...]   a small zone file on stdout
#   knot_serve NAME PORT ORIGIN=FILE... / nsd_serve (the same args)   knotd / NSD on
#                         127.0.0.1:PORT, once it serves every zone
#   dataplane_start PORT [ARGS...] / control_start   pharos-dataplane on 127.0.0.1:PORT and
#                         pharos-control, both on the sockets in $T; PIDs in dp_pid, ctl_pid
#
# Every process started with bg_start, and every process it started in turn (its tree, by
# PID), is stopped when the script exits, whatever the reason; nothing is ever stopped by
# name.

PHAROS_SKIP=77
PATH=$PATH:/usr/sbin:/sbin	# knotd, nsd, ip live there; a non-login root shell may lack them
_BG_PIDS=()
_BG_NAMES=()
_BG_LOGS=()
T=
TEST_NAME=${TEST_NAME:-$(basename "$0")}
_NETNS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }
fail() { printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
skip() { printf '%s: SKIP: %s\n' "$TEST_NAME" "$*" >&2; exit "$PHAROS_SKIP"; }

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not found (tools/install-deps.sh installs it)"
	done
}

# Debian's python3 with dnspython (the python3 first on PATH may be another one).
PY=/usr/bin/python3
need_dnspython() {
	[ -x "$PY" ] || skip "$PY not found (Debian package python3)"
	"$PY" -c 'import dns.message' 2>/dev/null ||
		skip "dnspython missing for $PY (Debian package python3-dnspython)"
}

need_exe() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || fail "$f is not built"
	done
}

netns_enter() {
	if [ "${PHAROS_IN_NETNS:-}" != "$$" ]; then
		need unshare ip
		if ! unshare -n true 2>/dev/null; then
			skip "cannot create a network namespace (unshare -n needs root or CAP_SYS_ADMIN)"
		fi
		# PHAROS_IN_NETNS carries the PID the script will have inside: exec keeps it.
		# shellcheck disable=SC2016 # expanded by the inner bash
		exec unshare -n /bin/bash -c 'export PHAROS_IN_NETNS=$$; exec /bin/bash "$0" "$@"' \
			"$0" "$@"
	fi
	ip link set lo up || fail "cannot bring loopback up"
	local links
	links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
	[ "$links" = "lo " ] || fail "namespace has more than loopback: $links"
}

tmpdir_make() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/pharos-${1:-test}.XXXXXX") || fail "mktemp"
}

bg_start() {
	local name=$1 logf=$2
	shift 2
	bg_start2 "$name" "$logf" "$logf" "$@"
}

bg_start2() {
	local name=$1 out=$2 err=$3
	shift 3
	if [ "$out" = "$err" ]; then
		"$@" >"$out" 2>&1 &
	else
		"$@" >"$out" 2>"$err" &
	fi
	BG_PID=$!
	_BG_PIDS+=("$BG_PID")
	_BG_NAMES+=("$name")
	_BG_LOGS+=("$err")
	if [ "$out" != "$err" ]; then
		_BG_PIDS+=("")
		_BG_NAMES+=("$name (stdout)")
		_BG_LOGS+=("$out")
	fi
}

# Forget a PID that was stopped (so the exit trap does not signal a recycled PID).
_bg_forget() {
	local i
	for i in "${!_BG_PIDS[@]}"; do
		[ "${_BG_PIDS[$i]}" = "$1" ] && _BG_PIDS[i]=
	done
}

bg_alive() { kill -0 "$1" 2>/dev/null; }

# Zone swaps under continuous queries (tests/lib/swapclient.py; $PY must have dnspython).
#   swap_client_start SERVER ORIGIN S1 S2 [PREFIX...]
# starts the client (PREFIX, e.g. `ip netns exec NS`, runs it elsewhere) querying ORIGIN's
# SOA at SERVER (ADDR:PORT) and accepting serials S1 and S2 only, waits until it has its
# first answer (fails the test otherwise), and sets SWAP_PID. swap_client_finish stops it,
# prints its counts and returns non-zero when an answer was lost or wrong.
swap_client_start() {
	local server=$1 origin=$2 s1=$3 s2=$4 i
	shift 4
	rm -f "$T/swap-stop" "$T/swap-ready"
	bg_start swapclient "$T/swap-client.log" "$@" "$PY" "$_NETNS_LIB/swapclient.py" \
		--server "$server" --origin "$origin" --serials "$s1,$s2" --stop-file "$T/swap-stop" \
		--ready-file "$T/swap-ready" --timeout 1 --max-seconds 900
	SWAP_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		[ -e "$T/swap-ready" ] && return 0
		bg_alive "$SWAP_PID" || break
		sleep 0.1
	done
	fail "the swap client got no first answer"
}

swap_client_finish() {
	local rc=0
	touch "$T/swap-stop"
	bg_wait "$SWAP_PID" 30 || rc=$?
	cat "$T/swap-client.log"
	[ "$rc" -eq 0 ] && grep -q ' 0 lost, 0 wrong' "$T/swap-client.log"
}

#   swap_zones ORIGIN S1 S2 FILE [LINE...]
# writes the two versions of the swap zone, $T/zone.S1 and $T/zone.S2: zone_text's records
# (www A 192.0.2.80 among them), the serial in the SOA and in a TXT record (serial.ORIGIN),
# each LINE, and 2000 A records of bulk so that a reload has real work to do; FILE starts
# as S1's.
swap_zones() {
	local origin=$1 s1=$2 s2=$3 file=$4 serial i
	shift 4
	for serial in "$s1" "$s2"; do
		{
			zone_text "$origin" "$serial" "serial	IN TXT	\"serial=$serial\"" "$@"
			for ((i = 0; i < 2000; i++)); do
				printf 'host%d\tIN A\t198.18.%d.%d\n' "$i" $((i / 250)) $((i % 250 + 1))
			done
		} >"$T/zone.$serial"
	done
	cp "$T/zone.$s1" "$file"
}

#   swap_reloads N FILE S1 S2 RELOAD SERIAL
# N times: FILE becomes the other version (S2 first; new file renamed into place), the
# command RELOAD reloads it (the test fails when it fails), and the command SERIAL, which
# prints the serial served, must print the new one at once. Stops early when the swap
# client (SWAP_PID) has died; swap_client_finish then says why.
swap_reloads() {
	local n=$1 file=$2 s1=$3 s2=$4 reload=$5 served=$6 i serial out got start=$SECONDS
	for ((i = 1; i <= n; i++)); do
		if ((i % 2)); then serial=$s2; else serial=$s1; fi
		cp "$T/zone.$serial" "$file.new"
		mv -f "$file.new" "$file"
		out=$("$reload" 2>&1) || fail "reload $i failed: $out"
		got=$("$served") || fail "after reload $i returned, no reply to the serial check"
		[ "$got" = "$serial" ] || fail "after reload $i returned, serial '$got' is served, not $serial"
		bg_alive "$SWAP_PID" || break
	done
	log "$n reloads in $((SECONDS - start)) s"
}

# Stop one started process: SIGTERM, wait, SIGKILL. Returns the process's exit status
# (128+signal when killed), or 124 when it had to be killed after the grace period.
bg_stop() {
	local pid=$1 secs=${2:-10} i rc=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		_bg_running "$pid" || break
		sleep 0.1
	done
	if _bg_running "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		_bg_forget "$pid"
		return 124
	fi
	wait "$pid" 2>/dev/null || rc=$?
	_bg_forget "$pid"
	return "$rc"
}

# Running, not a zombie waiting to be reaped.
_bg_running() {
	bg_alive "$1" && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# Wait up to SECS for a started process to exit by itself; returns its exit status, or
# stops it (bg_stop) and returns 124 when it does not.
bg_wait() {
	local pid=$1 secs=${2:-10} i rc=0
	for ((i = 0; i < secs * 10; i++)); do
		_bg_running "$pid" || break
		sleep 0.1
	done
	if _bg_running "$pid"; then
		bg_stop "$pid" 5 || true
		return 124
	fi
	wait "$pid" 2>/dev/null || rc=$?
	_bg_forget "$pid"
	return "$rc"
}

# Print the logs of every started process (for a failing test).
bg_dump_logs() {
	local i
	for i in "${!_BG_LOGS[@]}"; do
		[ -s "${_BG_LOGS[$i]}" ] || continue
		echo "----- log of ${_BG_NAMES[$i]} (${_BG_LOGS[$i]}) -----"
		tail -n 60 "${_BG_LOGS[$i]}"
	done
}

# PID and every descendant of it, parents first (read from /proc through ps).
_bg_tree() {
	local p
	echo "$1"
	for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		_bg_tree "$p"
	done
}

# Stop every started process and everything it started (pharos-serve's dataplane and
# control, a shell's children), by PID: the tree is read before anything is signalled (an
# orphan loses its parent link), SIGTERM (and SIGCONT, for a process the test stopped), up
# to 2 s, then SIGKILL for what is left. A parent killed before it could stop its children
# leaves none behind.
_cleanup() {
	local rc=$? pid="" tree=() i
	trap - EXIT INT TERM
	set +e	# signalling a process that already exited is fine here
	for pid in "${_BG_PIDS[@]}"; do
		[ -n "$pid" ] && bg_alive "$pid" && tree+=($(_bg_tree "$pid"))
	done
	for pid in "${tree[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null
	done
	for ((i = 0; i < 20 && ${#tree[@]} > 0; i++)); do
		for pid in "${tree[@]}"; do
			_bg_running "$pid" && break
		done
		_bg_running "$pid" || break
		sleep 0.1
	done
	for pid in "${tree[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${_BG_PIDS[@]}"; do
		[ -n "$pid" ] && wait "$pid" 2>/dev/null
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne "$PHAROS_SKIP" ]; then
		bg_dump_logs >&2
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${PHAROS_KEEP_TMP:-0}" = 1 ]; then
			echo "$TEST_NAME: kept $T" >&2
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_line() {
	local file=$1 text=$2 pid=$3 secs=$4 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qx -- "$text" "$file" 2>/dev/null && return 0
		bg_alive "$pid" || return 1
		sleep 0.1
	done
	return 1
}

wait_dns() {
	local host=$1 port=$2 name=$3 type=$4 secs=$5 i
	for ((i = 0; i < secs * 5; i++)); do
		if dig +norec +time=1 +tries=1 -p "$port" @"$host" "$name" "$type" 2>/dev/null |
			grep -q 'status: NOERROR'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

#   retry_until SECS CMD...
# Runs CMD until it succeeds: SECS * 10 tries at most, 0.1 s apart (as the polling loops of
# the tests always counted, so a slow CMD on a loaded machine still gets all its tries),
# and no new try once 3 * SECS seconds have passed (a CMD slow every time). Returns CMD's
# last status.
retry_until() {
	local n=$(($1 * 10)) end=$((${EPOCHREALTIME//[.,]/} + $1 * 3000000)) i rc
	shift
	for ((i = 1; ; i++)); do
		rc=0
		"$@" || rc=$?
		[ "$rc" -ne 0 ] || return 0
		((i < n && ${EPOCHREALTIME//[.,]/} < end)) || return "$rc"
		sleep 0.1
	done
}

#   dig_again DIG...
# Runs the dig command line DIG (a prefix such as `ip netns exec NS` included), and again
# while dig gets no reply (exit 9: a server slow on a loaded machine, a lost datagram, a
# server not listening yet), 5 times at most, 0.2 s apart: with +time=2 about 10 s. Any
# reply is final, whatever it says: a wrong answer is never asked again. Prints the output
# of the run that got a reply and returns dig's status; without a reply, prints nothing
# (dig's ";; ..." error lines go to stderr). A reply that took more tries is said on stderr.
dig_again() {
	local n out rc
	for ((n = 1; ; n++)); do
		rc=0
		out=$("$@") || rc=$?
		if [ "$rc" -ne 9 ] || ((n >= 5)); then break; fi
		sleep 0.2
	done
	if [ "$rc" -eq 9 ]; then
		printf '%s: no reply after %d tries: %s\n' "$TEST_NAME" "$n" "$*" >&2
		printf '%s\n' "$out" | sed 's/^/    /' >&2
		return "$rc"
	fi
	((n == 1)) || printf '%s: a reply at try %d: %s\n' "$TEST_NAME" "$n" "$*" >&2
	[ -z "$out" ] || printf '%s\n' "$out"
	return "$rc"
}

# One answer's RDATA lines (dig +short), for quick asserts; asked again while there is no
# reply (dig_again).
dig_short() {
	local host=$1 port=$2
	shift 2
	dig_again dig +norec +time=2 +tries=1 +short -p "$port" @"$host" "$@"
}

# The SOA serial served for a zone (asked again while there is no reply: dig_again), or
# empty (and a non-zero status when no reply came).
soa_serial() {
	dig_short "$1" "$2" "$3" SOA | awk 'NR == 1 { print $3 }'
}

# Write a knotd config serving zone files from a private dir (the test's temp dir): no
# signing, no journal, no zone file written back, no NSID/identity/version answers (Knot
# 3.2 has no response rate limiting unless the rrl module is configured).
# With KNOT_WORKERS=N, knotd runs N UDP, TCP and background workers (benchmarks).
# Args: CONF DIR LISTEN_ADDR PORT ORIGIN=FILE...
knot_conf() {
	local conf=$1 dir=$2 addr=$3 port=$4 z workers=""
	shift 4
	if [ -n "${KNOT_WORKERS:-}" ]; then
		workers=$(printf '    %s: %s\n' udp-workers "$KNOT_WORKERS" \
			tcp-workers "$KNOT_WORKERS" background-workers "$KNOT_WORKERS")
	fi
	mkdir -p "$dir"
	cat >"$conf" <<-EOF
	server:
	    listen: $addr@$port
	    rundir: $dir
	    user: root
	    identity: ""
	    version: ""
	    nsid: ""
	$workers
	database:
	    storage: $dir
	log:
	  - target: stderr
	    any: info
	template:
	  - id: default
	    storage: $dir
	    zonefile-sync: -1
	    zonefile-load: whole
	    journal-content: none
	    semantic-checks: on
	zone:
	EOF
	for z in "$@"; do
		printf '  - domain: %s\n    file: %s\n' "${z%%=*}" "${z#*=}" >>"$conf"
	done
}

# Start knotd with a config from knot_conf; sets BG_PID. Args: NAME CONF LOG
knot_start() {
	bg_start "$1" "$3" knotd -c "$2"
}

# knot_conf and knot_start on 127.0.0.1:PORT (config and data in $T/NAME, log $T/NAME.log);
# returns once knotd answers the SOA of every zone; sets BG_PID. Args: NAME PORT ORIGIN=FILE...
knot_serve() {
	local name=$1 port=$2 z
	knot_conf "$T/$name.conf" "$T/$name" 127.0.0.1 "${@:2}"
	knot_start "$name" "$T/$name.conf" "$T/$name.log"
	for z in "${@:3}"; do
		wait_dns 127.0.0.1 "$port" "${z%%=*}" SOA 20 || fail "$name does not serve ${z%%=*}"
	done
}

# Start pharos-serve ($PHAROS_SERVE) and wait for its "ready" line; sets BG_PID.
# Args: NAME LISTEN SOCKET ORIGIN=FILE... (stdout in $T/NAME.out, stderr in $T/NAME.err)
serve_start() {
	local name=$1 listen=$2 sock=$3
	shift 3
	bg_start2 "$name" "$T/$name.out" "$T/$name.err" \
		"$PHAROS_SERVE" --listen "$listen" --control-socket "$sock" "$@"
	wait_line "$T/$name.out" ready "$BG_PID" 60 ||
		fail "$name did not print 'ready' (exit status or log below)"
}

# A small zone on stdout: SOA (ZONE_REFRESH, ZONE_RETRY, ZONE_EXPIRE set its timers), NS ns1,
# ns1 A 192.0.2.53, www A 192.0.2.80 (3 names), then each LINE (e.g. "mail IN A 192.0.2.25").
# Args: ORIGIN SERIAL [LINE...]
zone_text() {
	local origin=$1 serial=$2
	shift 2
	# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone file directives
	printf '$ORIGIN %s\n$TTL 300\n' "$origin"
	printf '@\tIN SOA\tns1 hostmaster %s %s %s %s 300\n' "$serial" "${ZONE_REFRESH:-3600}" \
		"${ZONE_RETRY:-600}" "${ZONE_EXPIRE:-1209600}"
	printf '@\tIN NS\tns1\nns1\tIN A\t192.0.2.53\nwww\tIN A\t192.0.2.80\n'
	[ $# -eq 0 ] || printf '%s\n' "$@"
}

# Our two daemons, each start logging to its own numbered file ($T/dp.1.log, $T/ctl.2.log...:
# a failing test shows them all).
#   dataplane_start PORT [ARGS...]   $PHAROS_DATAPLANE on 127.0.0.1:PORT, management socket
#                                    $T/dp.sock, ARGS added; sets dp_pid and dp_log
#   control_start                    $PHAROS_CONTROL -c $T/pharos.conf -f, with the words
#                                    VAR=VALUE of CONTROL_ENV in its environment; sets
#                                    ctl_pid and ctl_log
_pharos_starts=0
# shellcheck disable=SC2034 # dp_pid is for the sourcing script
dataplane_start() {
	local port=$1
	shift
	_pharos_starts=$((_pharos_starts + 1))
	dp_log=$T/dp.$_pharos_starts.log
	bg_start pharos-dataplane "$dp_log" "$PHAROS_DATAPLANE" \
		--listen "127.0.0.1:$port" --socket "$T/dp.sock" "$@"
	dp_pid=$BG_PID
}

# shellcheck disable=SC2034 # ctl_pid is for the sourcing script
control_start() {
	_pharos_starts=$((_pharos_starts + 1))
	ctl_log=$T/ctl.$_pharos_starts.log
	# shellcheck disable=SC2086 # CONTROL_ENV: words VAR=VALUE
	bg_start pharos-control "$ctl_log" env ${CONTROL_ENV:-} "$PHAROS_CONTROL" \
		-c "$T/pharos.conf" -f
	ctl_pid=$BG_PID
}

# Stop a pharos process and insist on a clean exit (status 0: no crash, no leak report).
stop_clean() {
	local name=$1 pid=$2 rc=0
	bg_stop "$pid" 30 || rc=$?
	[ "$rc" -eq 0 ] || fail "$name did not stop cleanly on SIGTERM (exit status $rc)"
	log "$name stopped cleanly"
}

# Write an NSD config serving zone files, set up to answer like Knot where a setting
# decides it (for comparisons with NSD):
#   rrl-ratelimit 0        Debian's NSD rate-limits by default; a comparison must not
#   minimal-responses yes  (NSD's default is no, which adds the apex NS RRset to the
#                          authority section of every positive answer and its addresses
#                          to the additional section; yes is closer to Knot but leaves out
#                          the addresses of MX/SRV targets, which Knot adds: NSD_MINIMAL=no
#                          shows NSD's default instead)
#   refuse-any no, round-robin no, ipv4-edns-size 1232, confine-to-zone no,
#   answer-cookie no       (NSD's defaults, written out so a changed default shows)
# Args: CONF DIR LISTEN_ADDR PORT ORIGIN=FILE...
nsd_conf() {
	local conf=$1 dir=$2 addr=$3 port=$4 z
	shift 4
	mkdir -p "$dir"
	cat >"$conf" <<-EOF2
	server:
	    ip-address: $addr@$port
	    port: $port
	    server-count: 1
	    username: ""
	    chroot: ""
	    zonesdir: "$dir"
	    pidfile: "$dir/nsd.pid"
	    database: ""
	    zonelistfile: "$dir/zone.list"
	    xfrdfile: "$dir/xfrd.state"
	    xfrdir: "$dir"
	    logfile: "$dir/nsd.log"
	    hide-version: yes
	    hide-identity: yes
	    verbosity: 1
	    rrl-ratelimit: 0
	    rrl-whitelist-ratelimit: 0
	    minimal-responses: ${NSD_MINIMAL:-yes}
	    refuse-any: no
	    round-robin: no
	    ipv4-edns-size: 1232
	    confine-to-zone: no
	    answer-cookie: no
	remote-control:
	    control-enable: no
	EOF2
	for z in "$@"; do
		printf 'zone:\n    name: %s\n    zonefile: "%s"\n' "${z%%=*}" "${z#*=}" >>"$conf"
	done
}

# knot_serve with NSD: nsd_conf and nsd -d on 127.0.0.1:PORT (config and data in $T/NAME,
# output $T/NAME.out); returns once it answers the SOA of every zone; sets BG_PID.
# Args: NAME PORT ORIGIN=FILE...
nsd_serve() {
	local name=$1 port=$2 z
	nsd_conf "$T/$name.conf" "$T/$name" 127.0.0.1 "${@:2}"
	bg_start "$name" "$T/$name.out" nsd -d -c "$T/$name.conf"
	for z in "${@:3}"; do
		wait_dns 127.0.0.1 "$port" "${z%%=*}" SOA 20 || fail "$name does not serve ${z%%=*}"
	done
}
