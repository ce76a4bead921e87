#!/usr/bin/env bash
# afxdp: pharos-serve --backend afxdp on one end of a veth pair between two namespaces this
# test creates (phx-s<pid> server, phx-c<pid> client; 198.18.0.0/24, 2001:db8::/64).
#  - UDP queries over IPv4 and IPv6 are answered by the AF_XDP worker (its counters, and
#    the steering program's "redirected" counter, move; the kernel-path worker's do not)
#  - raw frames, untagged and 802.1Q-tagged, IPv4 and IPv6: the answer frame keeps the tag,
#    swaps MACs/addresses/ports, and has right lengths, IPv4 header and UDP checksums
#  - TCP queries are answered through the kernel (the TCP thread's counters move)
#  - ping and ARP / ND work (the kernel still owns the addresses)
#  - non-DNS UDP (an echo server on port 7), NOTIFY and a fragmented query to port 53 go
#    to the kernel; NOTIFY and the fragmented query are answered by the kernel-path socket
#    worker; a frame cut inside the DNS header is counted as malformed
#  - 100 zone swaps under continuous queries: no answer lost or incomplete
#  - the program is detached at stop; one left by a SIGKILLed dataplane is replaced at the
#    next start, which busy-polls (--busy-poll) and answers through AF_XDP; someone else's
#    program is refused with a message naming it, and left attached
#
# Environment: PHAROS_SERVE, PHAROSCTL, PHAROS_DATAPLANE (executables).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
need ip dig ping
need_dnspython
need_exe "${PHAROS_SERVE:?}" "${PHAROSCTL:?}" "${PHAROS_DATAPLANE:?}"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, XDP, AF_XDP)"
"$PHAROS_DATAPLANE" --help | grep -q 'built:.*afxdp' ||
	skip "pharos-dataplane built without the AF_XDP backend (see the meson summary)"
raw=$here/dpdk_raw.py	# one raw-frame query and answer check, shared with dpdk.sh

S=phx-s$$
C=phx-c$$
origin=kb.test.
s1=2026010101
s2=2026020202
tmpdir_make afxdp

ns_cleanup() {
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	return 0
}
# Names first: a namespace lives on until the last process in it (stopped by netns.sh's
# _cleanup) exits, and its veth pair, with any XDP program on it, goes with it.
phx_exit() {
	local rc=$?
	ns_cleanup
	(exit "$rc")
	_cleanup
}
trap phx_exit EXIT

ip netns add "$S" || skip "cannot create a network namespace"
ip netns add "$C" || fail "ip netns add $C"
# two queues each side and two AF_XDP workers: one socket per queue, both used by the
# client's flows (veth delivers on the RX queue matching the sender's TX queue)
nq=2
ip -n "$S" link add xs0 numtxqueues $nq numrxqueues $nq type veth \
	peer name xc0 numtxqueues $nq numrxqueues $nq netns "$C" || fail "cannot create a veth pair"
for ns in "$S" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$S" addr add 198.18.0.1/24 dev xs0
ip -n "$S" addr add 198.18.1.1/32 dev xs0	# the service address reached through VLAN 100
ip -n "$S" addr add 2001:db8::1/64 dev xs0 nodad
ip -n "$C" addr add 198.18.0.2/24 dev xc0
ip -n "$C" addr add 2001:db8::2/64 dev xc0 nodad
ip -n "$S" link set xs0 up
ip -n "$C" link set xc0 up
smac=$(ip -n "$S" -o link show xs0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
cmac=$(ip -n "$C" -o link show xc0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

vlan_kernel=0
if ip -n "$C" link add link xc0 name xc0.100 type vlan id 100 2>/dev/null; then
	vlan_kernel=1
	ip -n "$S" link add link xs0 name xs0.100 type vlan id 100
	ip -n "$S" addr del 198.18.1.1/32 dev xs0
	ip -n "$S" addr add 198.18.1.1/24 dev xs0.100
	ip -n "$C" addr add 198.18.1.2/24 dev xc0.100
	ip -n "$S" link set xs0.100 up
	ip -n "$C" link set xc0.100 up
else
	log "this kernel has no 802.1Q interfaces: VLAN checked with raw tagged frames only"
fi

# The two zone versions of the swaps (swap_zones, tests/lib/netns.sh: www A 192.0.2.80, the
# serial in the SOA and serial TXT, 2000 A records of bulk), with an AAAA for www, an
# odd-length TXT, and 7 x 213 bytes of TXT at big: more than our UDP size (1232).
extra=($'www\tIN AAAA\t2001:db8::5' $'odd\tIN TXT\t"odd length answer"')
for ((i = 0; i < 7; i++)); do
	extra+=("$(printf 'big\tIN TXT\t"%03d-%0196d"' "$i" 0)")
done
swap_zones "$origin" "$s1" "$s2" "$T/kb.zone" "${extra[@]}"

in_s() { ip netns exec "$S" "$@"; }
in_c() { ip netns exec "$C" "$@"; }
cdig() { ip netns exec "$C" dig +norec +time=2 +tries=1 +short "$@"; }
ctl() { "$PHAROSCTL" -s "$T/control.sock" "$@"; }
xdp_attached() { ip -n "$S" link show xs0 | grep -q 'prog/xdp'; }

# Counter of the stats table: worker row (0..nq-1 = AF_XDP, nq = kernel path, tcp), column.
wstat() {
	ctl stats | awk -v row="$1" -v col="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		$1 == row { print $c }'
}
# The same column summed over the AF_XDP workers, and for the kernel-path worker.
fast() { ctl stats | awk -v n=$nq 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "rx") c = i; next }
	$1 ~ /^[0-9]+$/ && $1 < n { t += $c } END { print t + 0 }'; }
slow() { wstat $nq rx; }
# One steering-program counter (redirected, passed, malformed, unbound).
xdpstat() {
	ctl stats | awk -v k="$1" '$1 == "xdp:" { for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }'
}

bg_start2 pharos-serve "$T/serve.out" "$T/serve.err" ip netns exec "$S" "$PHAROS_SERVE" \
	--backend afxdp --iface xs0 --service 198.18.0.1 --service '[2001:db8::1]' \
	--service 198.18.1.1 --workers $nq --control-socket "$T/control.sock" "$origin=$T/kb.zone"
serve_pid=$BG_PID
wait_line "$T/serve.out" ready "$serve_pid" 60 || fail "pharos-serve did not print 'ready'"
xdp_attached || fail "no XDP program on xs0 after start"
grep -q 'pharos_steer attached' "$T/serve.err" || fail "no 'attached' line in the log"
log "$(grep -o '[0-9]* frames of .*' "$T/serve.err")"

# ---- ARP, ND, ping: the kernel keeps them ----
in_c ping -c 2 -W 2 -q 198.18.0.1 >/dev/null || fail "ping 198.18.0.1"
in_c ping -6 -c 2 -W 2 -q 2001:db8::1 >/dev/null || fail "ping 2001:db8::1"
ip -n "$C" neigh show 198.18.0.1 | grep -q "lladdr $smac" || fail "no ARP entry for 198.18.0.1"
ip -n "$C" neigh show 2001:db8::1 | grep -q "lladdr $smac" || fail "no ND entry for 2001:db8::1"
log "ping, ARP and ND through the kernel: ok"

# ---- UDP over IPv4 and IPv6: the AF_XDP worker answers ----
fast0=$(fast)
slow0=$(slow)
red0=$(xdpstat redirected)
[ "$(cdig @198.18.0.1 www.$origin A)" = 192.0.2.80 ] || fail "UDP/IPv4 answer"
[ "$(cdig @2001:db8::1 www.$origin AAAA)" = 2001:db8::5 ] || fail "UDP/IPv6 answer"
for a in "--src 198.18.0.2 --dst 198.18.0.1" "--src 2001:db8::2 --dst 2001:db8::1" \
	"--src 198.18.1.2 --dst 198.18.1.1 --vlan 100" "--src 2001:db8::2 --dst 2001:db8::1 --vlan 100"; do
	# shellcheck disable=SC2086 # $a is a list of options
	out=$(in_c "$PY" "$raw" --iface xc0 --src-mac "$cmac" --dst-mac "$smac" $a \
		--qname "odd.$origin" --qtype TXT --expect '"odd length answer"') ||
		fail "raw query $a: $out"
	log "raw $a: $out"
done
if [ "$vlan_kernel" = 1 ]; then
	[ "$(cdig @198.18.1.1 www.$origin A)" = 192.0.2.80 ] || fail "UDP over VLAN 100"
fi
fast1=$(fast)
slow1=$(slow)
red1=$(xdpstat redirected)
((fast1 - fast0 >= 6)) || fail "AF_XDP workers' rx went $fast0 -> $fast1 for 6 queries"
((slow1 == slow0)) || fail "kernel-path worker got UDP queries ($slow0 -> $slow1)"
((red1 - red0 >= 6)) || fail "xdp redirected went $red0 -> $red1 for 6 queries"
(($(xdpstat unbound) == 0)) || fail "queries arrived on a queue without a socket"
log "UDP IPv4/IPv6/VLAN through AF_XDP: ok (AF_XDP workers' rx $fast0 -> $fast1)"

# ---- TCP: the kernel's listener ----
tcp0=$(wstat tcp rx)
[ "$(cdig +tcp @198.18.0.1 www.$origin A)" = 192.0.2.80 ] ||
	fail "TCP/IPv4 answer"
[ "$(cdig +tcp @2001:db8::1 www.$origin AAAA)" = 2001:db8::5 ] ||
	fail "TCP/IPv6 answer"
(($(wstat tcp rx) - tcp0 == 2)) || fail "TCP thread did not answer both TCP queries"
# an answer larger than our UDP size is truncated (TC=1) on the fast path, complete over TCP
out=$(in_c dig +norec +time=2 +tries=1 +ignore +bufsize=4096 @198.18.0.1 big.$origin TXT)
grep -Eq 'flags: qr aa tc[ ;]' <<<"$out" || fail "oversize answer over AF_XDP not TC:"$'\n'"$out"
(($(cdig +tcp @198.18.0.1 big.$origin TXT | wc -l) == 7)) || fail "big TXT over TCP incomplete"
log "TCP through the kernel: ok"

# ---- non-DNS UDP and NOTIFY reach the kernel ----
bg_start udp-echo "$T/echo.log" ip netns exec "$S" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 7))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)'
passed0=$(xdpstat passed)
out=$(in_c "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(5):
    s.sendto(b"phx-echo", ("198.18.0.1", 7))
    try:
        print(s.recv(100).decode()); sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)') || fail "no UDP echo from port 7 through the kernel"
[ "$out" = phx-echo ] || fail "UDP echo returned '$out'"
slow0=$(slow)
fast0=$(fast)
out=$(in_c "$PY" -c '
import dns.message, dns.opcode, dns.query, sys
q = dns.message.make_query("'"$origin"'", "SOA")
q.set_opcode(dns.opcode.NOTIFY)
r = dns.query.udp(q, "198.18.0.1", timeout=3)
print(dns.opcode.to_text(r.opcode()))') || fail "NOTIFY got no answer"
[ "$out" = NOTIFY ] || fail "NOTIFY answered with opcode $out"
(($(slow) == slow0 + 1)) || fail "NOTIFY did not reach the kernel-path worker"
(($(fast) == fast0)) || fail "NOTIFY went to the AF_XDP worker"
(($(xdpstat passed) > passed0)) || fail "xdp passed counter did not move"
log "non-DNS UDP and NOTIFY through the kernel: ok"

# ---- a fragmented query goes to the kernel (reassembled, answered by the kernel path);
# a frame cut inside the DNS header counts as malformed and changes nothing else ----
slow0=$(slow)
fast0=$(fast)
out=$(in_c "$PY" -c '
import dns.edns, dns.message, dns.query
q = dns.message.make_query("www.'"$origin"'", "A", use_edns=0, payload=4096,
                           options=[dns.edns.GenericOption(12, b"\0" * 2000)])
r = dns.query.udp(q, "198.18.0.1", timeout=3)
print(r.answer[0][0])') || fail "fragmented query got no answer"
[ "$out" = 192.0.2.80 ] || fail "fragmented query answered '$out'"
(($(slow) == slow0 + 1)) || fail "the fragmented query did not reach the kernel-path worker"
(($(fast) == fast0)) || fail "a fragment went to an AF_XDP worker"
mal0=$(xdpstat malformed)
in_c "$PY" -c '
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("xc0", 0))
udp = struct.pack("!HHHH", 33333, 53, 12, 0) + b"\x12\x34\x01\x00"	# 4 of 12 header bytes
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton("198.18.0.2"), socket.inet_aton("198.18.0.1"))
s.send(bytes.fromhex("'"${smac//:/}${cmac//:/}"'") + b"\x08\x00" + ip + udp)' ||
	fail "cannot send a raw frame"
for ((i = 0; i < 20; i++)); do (($(xdpstat malformed) > mal0)) && break; sleep 0.1; done
(($(xdpstat malformed) == mal0 + 1)) || fail "truncated DNS header not counted as malformed"
[ "$(cdig @198.18.0.1 www.$origin A)" = 192.0.2.80 ] || fail "no answer after a malformed frame"
log "fragment to the kernel path, malformed frame counted: ok"

# ---- 100 zone swaps under continuous queries ----
swap_client_start 198.18.0.1:53 "$origin" "$s1" "$s2" ip netns exec "$C"
fast0=$(fast)
reload() { ctl reload; }
# the serial served, asked again while there is no reply (dig_again)
served() { dig_again cdig @198.18.0.1 "$origin" SOA | awk '{ print $3 }'; }
swap_reloads "${SWAP_RELOADS:-100}" "$T/kb.zone" "$s1" "$s2" reload served
swap_client_finish || { ctl stats; fail "the swap client saw lost or wrong answers"; }
(($(fast) - fast0 > 200)) || fail "the swap load did not go through AF_XDP"
log "100 swaps under load through AF_XDP: ok"
ctl stats

# ---- stop detaches; a SIGKILLed dataplane's program is replaced at the next start ----
stop_clean pharos-serve "$serve_pid"
! xdp_attached || fail "XDP program still attached after a clean stop"
mkdir -p "$T/dp"
# this one without CAP_IPC_LOCK, under an 8 MiB locked-memory limit: the UMEM is sized to
# fit it (8 MiB - 512 KiB spare, one queue: 2048 frames of 2048 bytes), not to the cap
bg_start dataplane "$T/dp1.log" ip netns exec "$S" prlimit --memlock=8388608:8388608 \
	setpriv --inh-caps -ipc_lock --ambient-caps -ipc_lock --bounding-set -ipc_lock \
	"$PHAROS_DATAPLANE" --backend afxdp --iface xs0 --service 198.18.0.1 \
	--socket "$T/dp/dp.sock"
dp_pid=$BG_PID
for ((i = 0; i < 50; i++)); do xdp_attached && break; sleep 0.1; done
xdp_attached || fail "dataplane alone did not attach"
for ((i = 0; i < 50; i++)); do grep -q 'attached in' "$T/dp1.log" && break; sleep 0.1; done
grep -q ' 2048 frames of 2048 bytes per queue' "$T/dp1.log" ||
	fail "without CAP_IPC_LOCK under 8 MiB: expected 2048 frames: $(grep attached "$T/dp1.log")"
log "UMEM sized for the locked-memory limit without CAP_IPC_LOCK: ok"
kill -KILL "$dp_pid"
bg_wait "$dp_pid" 5 || true
xdp_attached || fail "expected the program to stay attached after SIGKILL"
# start again, busy-polling this time: the stale program is replaced and queries are
# answered by the AF_XDP worker
bg_start2 pharos-serve "$T/serve2.out" "$T/serve2.err" ip netns exec "$S" "$PHAROS_SERVE" \
	--backend afxdp --iface xs0 --service 198.18.0.1 --workers $nq --busy-poll \
	--control-socket "$T/control.sock" "$origin=$T/kb.zone"
serve_pid=$BG_PID
wait_line "$T/serve2.out" ready "$serve_pid" 60 || fail "pharos-serve --busy-poll not ready"
grep -q 'replacing a stale pharos_steer' "$T/serve2.err" ||
	fail "stale program not reported as replaced"
fast0=$(fast)
[ "$(cdig @198.18.0.1 www.$origin A)" = 192.0.2.80 ] || fail "busy-poll: UDP/IPv4 answer"
(($(fast) == fast0 + 1)) || fail "busy-poll: the AF_XDP worker did not answer"
stop_clean pharos-serve "$serve_pid"
! xdp_attached || fail "XDP program still attached after the busy-polling dataplane stopped"
log "detach at stop, stale program replaced at start: ok"

# ---- someone else's program is left alone: the start fails, naming it ----
foreign=$(ls /usr/lib/*/bpf/xdpfilt_alw_all.o 2>/dev/null | head -n1)	# xdp-tools' xdp-filter
if [ -r "$foreign" ] && ip -n "$S" link set dev xs0 xdpgeneric obj "$foreign" sec xdp 2>/dev/null; then
	rc=0
	in_s "$PHAROS_DATAPLANE" --backend afxdp --iface xs0 --service 198.18.0.1 \
		--socket "$T/dp/dp.sock" 2>"$T/foreign.log" || rc=$?
	[ "$rc" = 1 ] || fail "start over a foreign XDP program: exit $rc, expected 1"
	grep -q "XDP program 'xdpfilt_alw_all' (id [0-9]*) is already attached" "$T/foreign.log" ||
		fail "no clear message about the foreign program: $(cat "$T/foreign.log")"
	ip -n "$S" link show xs0 | grep -q 'prog/xdp.*xdpfilt_alw_all' ||
		fail "the foreign program was touched"
	ip -n "$S" link set dev xs0 xdpgeneric off
	log "foreign XDP program refused and left attached: ok"
else
	log "no xdp-filter object ($foreign): foreign-program check not run"
fi
log "ok"
