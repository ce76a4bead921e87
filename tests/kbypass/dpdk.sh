#!/usr/bin/env bash
# DPDK backend end to end, on a veth pair between two namespaces this test creates:
#
#   client ns phd-c$$: phd1-$$  198.18.0.2/24  2001:db8::2/64
#        |  veth
#   server ns phd-s$$: phd0-$$  (no address: the DPDK port, net_af_xdp or net_af_packet)
#                      phdt$$   net_tap exception port; the kernel owns the service addresses
#                               198.18.0.1/24, 2001:db8::1/64, 198.19.100.1, 2001:db8:100::1
#
# pharos-serve --backend dpdk serves one zone. Checked: UDP queries over IPv4 and IPv6 are
# answered on the fast path (the tap's kernel side sees none of them) and counted by the NIC
# port (`pharosctl stats`, "dpdk: rx N tx N"), answer frames are right to the bit
# (checksums, lengths, swapped addresses) untagged and with an 802.1Q tag; TCP queries,
# NOTIFY and non-DNS UDP go through the tap to kernel sockets; ARP, ND and ping work and
# move the exception path's counters (to-kernel, from-kernel); 100 zone swaps under
# continuous queries lose nothing and every answer is complete; SIGTERM stops cleanly and
# the XDP program of net_af_xdp is gone. With net_af_packet, two queues and two workers
# (and two tap queues): both workers answer.
#
# Arguments: PMD (af_xdp, default, or af_packet), MEM (nohuge, default: --no-huge, no
# hugepages needed; or huge: tools/hugepages.sh reserves 2 MiB pages, --in-memory) and the
# number of zone swaps (default $SWAP_RELOADS or 100).
# Environment: PHAROS_SERVE, PHAROSCTL, PHAROS_DATAPLANE; SWAP_RELOADS (default 100).
# The kernel here may lack 802.1Q (no VLAN interfaces): tagged queries are raw frames sent by
# dpdk_raw.py, which checks the tagged answer itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"

pmd=${1:-af_xdp}
mem=${2:-nohuge}
reloads=${3:-${SWAP_RELOADS:-100}}
case $pmd in af_xdp | af_packet) ;; *) fail "unknown PMD '$pmd' (af_xdp, af_packet)" ;; esac
case $mem in nohuge | huge) ;; *) fail "unknown memory mode '$mem' (nohuge, huge)" ;; esac

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, AF_XDP, TAP)"
need ip dig ping ethtool
need_dnspython
need_exe "${PHAROS_SERVE:?}" "${PHAROSCTL:?}" "${PHAROS_DATAPLANE:?}"
"$PHAROS_DATAPLANE" --help | grep -q 'built:.*dpdk' ||
	skip "pharos-dataplane was built without the DPDK backend (libdpdk-dev missing at meson setup)"
[ -c /dev/net/tun ] || skip "/dev/net/tun missing: no TAP device for the exception port"

# sanitizer builds: one leak inside DPDK's net_af_xdp is not ours (see the file)
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/dpdk.lsan.supp"

S=phd-s$$
C=phd-c$$
nic=phd0-$$
peer=phd1-$$
tap=phdt$$
pages_added=0
tmpdir_make dpdk

# Stop our processes first (they hold the namespaces), then remove what we created.
dpdk_exit() {
	local rc=$? pid
	set +e	# whatever is already gone is fine here
	for pid in "${_BG_PIDS[@]}"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_BG_PIDS[@]}"; do
		[ -n "$pid" ] || continue
		for _ in $(seq 50); do bg_alive "$pid" || break; sleep 0.1; done
	done
	ip netns exec "$S" ip tuntap del dev "$tap" mode tap multi_queue 2>/dev/null
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -rf "/var/run/dpdk/phd$$"	# the EAL's run-time dir of --file-prefix
	[ "$pages_added" -gt 0 ] && "$top/tools/hugepages.sh" release "$pages_added"
	(exit "$rc")
	_cleanup
}
trap dpdk_exit EXIT

ip netns add "$S" 2>/dev/null || skip "cannot create a network namespace (ip netns add)"
ip netns add "$C" || fail "ip netns add $C"
# net_af_xdp in DPDK 22.11 counts only "combined" channels, which veth has not: one queue.
# net_af_packet spreads flows over its queue pairs (PACKET_FANOUT): two queues, two workers.
nq=1
[ "$pmd" = af_packet ] && nq=2
ip link add "$nic" netns "$S" numtxqueues $nq numrxqueues $nq type veth \
	peer name "$peer" netns "$C" numtxqueues $nq numrxqueues $nq || fail "cannot create a veth pair"
ip -n "$S" link set lo up
ip -n "$C" link set lo up
ip -n "$S" link set "$nic" up
mac=$(ip netns exec "$S" cat "/sys/class/net/$nic/address")
cmac=$(ip netns exec "$C" cat "/sys/class/net/$peer/address")

# The exception port's kernel side exists before the dataplane starts (net_tap attaches to
# it), so that the kernel-path sockets can bind the service addresses; the dataplane gives
# it the NIC's MAC anyway. nodad: usable at once.
ip netns exec "$S" ip tuntap add dev "$tap" mode tap multi_queue || fail "cannot create TAP $tap"
ip -n "$S" link set "$tap" address "$mac"
ip -n "$S" addr add 198.18.0.1/24 dev "$tap"
ip -n "$S" addr add 2001:db8::1/64 dev "$tap" nodad
ip -n "$S" addr add 198.19.100.1/32 dev "$tap"		# the VLAN 100 service
ip -n "$S" addr add 2001:db8:100::1/128 dev "$tap" nodad
ip -n "$C" addr add 198.18.0.2/24 dev "$peer"
ip -n "$C" addr add 2001:db8::2/64 dev "$peer" nodad
ip -n "$C" link set "$peer" up
# veth hands checksum work to the receiver (CHECKSUM_PARTIAL); frames that take the DPDK
# port into the tap lose that mark, so the client sends complete checksums, as a wire does.
ip netns exec "$C" ethtool -K "$peer" tx off >/dev/null || fail "ethtool -K $peer tx off"

if [ "$pmd" = af_packet ]; then
	# net_af_packet reads a copy: the kernel must not also take the DPDK port's frames
	# for its own (it owns the service addresses on the tap): no ARP, no IPv6, and IPv4
	# from a source routed via the tap fails the strict reverse-path check.
	ip -n "$S" link set "$nic" arp off &&
		ip netns exec "$S" sysctl -qw "net.ipv6.conf.$nic.disable_ipv6=1" \
			"net.ipv4.conf.$nic.rp_filter=1" ||
		fail "cannot keep the kernel off $nic"
	vdev="net_af_packet0,iface=$nic,qpairs=$nq"
else
	vdev="net_af_xdp0,iface=$nic"
fi
if [ "$mem" = huge ]; then
	pages_added=$("$top/tools/hugepages.sh" reserve 128) ||
		skip "no 2 MiB hugepages on this machine (tools/hugepages.sh said why above)"
	eal="--no-pci --in-memory"
else
	eal="--no-pci --no-huge -m 256 --file-prefix phd$$"
fi
eal="$eal --vdev $vdev --vdev net_tap0,iface=$tap"

# A zone whose serial shows in the SOA and a TXT record (the swap check), plus bulk;
# www A 192.0.2.80 and AAAA 2001:db8::80.
origin=swap.test.
s1=2026010101
s2=2026020202
swap_zones "$origin" "$s1" "$s2" "$T/swap.zone" $'www\tIN AAAA\t2001:db8::80'

bg_start2 pharos-serve "$T/serve.out" "$T/serve.err" ip netns exec "$S" \
	"$PHAROS_SERVE" --backend dpdk --eal "$eal" --workers "$nq" \
	--service 198.18.0.1 --service '[2001:db8::1]' \
	--service 198.19.100.1 --service '[2001:db8:100::1]' \
	--control-socket "$T/control.sock" "$origin=$T/swap.zone"
server_pid=$BG_PID
wait_line "$T/serve.out" ready "$server_pid" 60 ||
	fail "pharos-serve --backend dpdk did not print 'ready' (exit status or log below)"
log "DPDK mode up ($pmd, $mem): $eal"
# The tap's carrier came up with the dataplane: let the kernel finish its IPv6 start-up (DAD
# of the link-local address) as it would on any interface coming up.
for _ in $(seq 50); do
	[ -z "$(ip -n "$S" -6 addr show dev "$tap" tentative)" ] && break
	sleep 0.1
done

inc() { ip netns exec "$C" "$@"; }
tap_rx() { ip netns exec "$S" cat "/sys/class/net/$tap/statistics/rx_packets"; }
ctl() { "$PHAROSCTL" -s "$T/control.sock" "$@"; }
# One counter of the backend line of `pharosctl stats`: "dpdk: rx N tx N ... to-kernel N".
dpdkstat() {
	local out v
	out=$(ctl stats) || fail "pharosctl stats failed: $out"
	v=$(awk -v k="$1" '$1 == "dpdk:" { for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }' \
		<<<"$out")
	[[ $v =~ ^[0-9]+$ ]] || fail "pharosctl stats: no '$1 N' on a 'dpdk:' line: $out"
	echo "$v"
}
# The exception path's counters from `pharosctl --json stats`: "TO_KERNEL FROM_KERNEL".
kernelstat() {
	ctl --json stats | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["dpdk"]
print(d["to_kernel"], d["from_kernel"])' || fail "pharosctl --json stats: no dpdk.to_kernel/from_kernel"
}

# N UDP queries from the client: prints how many got the right answer.
udp_burst() {
	inc "$PY" - "$1" "$2" <<-'EOF'
	import sys, dns.message, dns.query, dns.rcode
	dst, n, ok = sys.argv[1], int(sys.argv[2]), 0
	for i in range(n):
	    if i - ok >= 3:
	        break       # the first losses say enough
	    q = dns.message.make_query("www.swap.test.", "A")
	    try:
	        r = dns.query.udp(q, dst, timeout=2)   # the box may be loaded: 2 s, no retry
	    except Exception as e:
	        print("query %d: %r" % (i, e), file=sys.stderr)
	        continue
	    if r.rcode() == 0 and any("192.0.2.80" in str(rr) for rr in r.answer):
	        ok += 1
	print(ok)
	EOF
}

# 1. UDP over IPv4 and IPv6 on the fast path: 200 answers each, the kernel sees (almost) none.
# The NIC port's counters (pharosctl stats, "dpdk:" line) count them all, both ways.
port_rx0=$(dpdkstat rx)
port_tx0=$(dpdkstat tx)
answered=0
for dst in 198.18.0.1 2001:db8::1; do
	before=$(tap_rx)
	got=$(udp_burst "$dst" 200)
	seen=$(($(tap_rx) - before))
	[ "$got" -eq 200 ] || fail "UDP to $dst: $got of 200 queries answered"
	# a neighbour probe or two may go to the kernel meanwhile; 200 queries must not
	[ "$seen" -lt 20 ] || fail "UDP to $dst: the kernel (tap) saw $seen packets: not the fast path"
	log "UDP $dst: 200/200 answered on the fast path (kernel saw $seen packets)"
	answered=$((answered + got))
done
port_rx=$(($(dpdkstat rx) - port_rx0))
port_tx=$(($(dpdkstat tx) - port_tx0))
((port_rx >= 400)) || fail "NIC port rx went up by $port_rx for 400 queries"
((port_tx >= answered)) || fail "NIC port tx went up by $port_tx for $answered answers"
log "NIC port counters: rx +$port_rx for 400 queries, tx +$port_tx for $answered answers"

# With two queues, both workers must have answered some of those 400 queries.
if [ "$nq" -gt 1 ]; then
	rx=$(ctl --json stats | "$PY" -c '
import json, sys
w = json.load(sys.stdin)["workers"]
print(" ".join(str(x["rx"]) for x in w if not x["tcp"]))')
	log "queries per worker (the last is the kernel path): $rx"
	set -- $rx
	[ "$1" -gt 0 ] && [ "$2" -gt 0 ] || fail "not every DPDK queue answered: $rx"
fi

# 2. Answer frames to the bit, untagged and with one 802.1Q tag (IPv4 and IPv6).
raw() {
	inc "$PY" "$here/dpdk_raw.py" --iface "$peer" --src-mac "$cmac" --dst-mac "$mac" \
		--qname www.swap.test. "$@"
}
out=$(raw --src 198.18.0.2 --dst 198.18.0.1 --expect 192.0.2.80) || fail "raw IPv4: $out"
log "raw IPv4: $out"
out=$(raw --src 2001:db8::2 --dst 2001:db8::1 --qtype AAAA --expect 2001:db8::80) ||
	fail "raw IPv6: $out"
log "raw IPv6: $out"
out=$(raw --vlan 100 --src 198.19.100.2 --dst 198.19.100.1 --expect 192.0.2.80) ||
	fail "VLAN IPv4: $out"
log "VLAN IPv4: $out"
out=$(raw --vlan 100 --src 2001:db8:100::2 --dst 2001:db8:100::1 --qtype AAAA \
	--expect 2001:db8::80) || fail "VLAN IPv6: $out"
log "VLAN IPv6: $out"

# 3. ARP and ND through the tap: forget the neighbours, ping, and learn the NIC's MAC again.
# The exception path's counters move: 4 echo requests (and the ARP/ND) to the kernel, 4
# replies (and its ARP/ND answers) from it.
exc=$(kernelstat)
read -r exc_to0 exc_from0 <<<"$exc"
inc ip neigh flush dev "$peer"
for dst in 198.18.0.1 2001:db8::1; do
	inc ping -c 2 -W 2 "$dst" >"$T/ping.out" 2>&1 || fail "ping $dst: $(tail -n 2 "$T/ping.out")"
	inc ip neigh show "$dst" dev "$peer" | grep -q "lladdr $mac" ||
		fail "no neighbour entry $dst -> $mac (ARP/ND through the tap)"
done
exc=$(kernelstat)
read -r exc_to exc_from <<<"$exc"
exc_to=$((exc_to - exc_to0))
exc_from=$((exc_from - exc_from0))
((exc_to >= 4 && exc_from >= 4)) ||
	fail "4 pings: to-kernel +$exc_to, from-kernel +$exc_from (4 or more each expected)"
log "ping and ARP/ND: ok (to-kernel +$exc_to, from-kernel +$exc_from)"

# 4. TCP queries reach the kernel's TCP listener through the tap.
for dst in 198.18.0.1 2001:db8::1; do
	before=$(tap_rx)
	ans=$(dig_again inc dig +tcp +norec +time=3 +tries=1 +short @"$dst" www.swap.test. A) ||
		fail "TCP query to $dst: no reply"
	[ "$ans" = 192.0.2.80 ] || fail "TCP query to $dst: '$ans'"
	[ $(($(tap_rx) - before)) -ge 3 ] || fail "TCP to $dst did not go through the tap"
done
log "TCP over IPv4 and IPv6 through the kernel: ok"

# 5. NOTIFY (UDP/53, opcode 4) and non-DNS UDP go to kernel sockets.
before=$(tap_rx)
rcode=$(inc "$PY" - <<-'EOF'
	import dns.message, dns.opcode, dns.query, dns.rcode
	q = dns.message.make_query("swap.test.", "SOA")
	q.set_opcode(dns.opcode.NOTIFY)
	r = dns.query.udp(q, "198.18.0.1", timeout=2)
	print(dns.opcode.to_text(r.opcode()), dns.rcode.to_text(r.rcode()))
	EOF
) || fail "NOTIFY over UDP got no answer"
[ $(($(tap_rx) - before)) -ge 1 ] || fail "NOTIFY did not go through the tap (answered: $rcode)"
log "NOTIFY through the kernel: answered $rcode"

bg_start udpecho "$T/udpecho.log" ip netns exec "$S" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 5300))
open(sys.argv[1], "w").close()
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
' "$T/udpecho.ready"
for _ in $(seq 50); do [ -e "$T/udpecho.ready" ] && break; sleep 0.1; done
echoed=$(inc "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"not dns", ("198.18.0.1", 5300))
print(s.recv(2048).decode())
') || fail "UDP to port 5300 (not DNS) got nothing back from the kernel"
[ "$echoed" = "echo:not dns" ] || fail "UDP echo through the kernel: '$echoed'"
log "non-DNS UDP through the kernel: ok"

# 6. Zone swaps under continuous load (as tests/integration/swap.sh), from the client.
# The serial served (asked again while there is no reply: dig_again in tests/lib/netns.sh).
soa() {
	dig_again inc dig +norec +time=2 +tries=1 +short @198.18.0.1 "$origin" SOA |
		awk '{ print $3 }'
}
[ "$(soa)" = "$s1" ] || fail "first serial not served"
swap_client_start 198.18.0.1:53 "$origin" "$s1" "$s2" ip netns exec "$C"
reload() { ctl reload; }
swap_reloads "$reloads" "$T/swap.zone" "$s1" "$s2" reload soa
swap_client_finish || fail "the client saw lost or wrong answers"
log "$(ctl stats | grep '^dpdk:')"

# 7. A clean stop: exit status 0, and net_af_xdp took its XDP program off the interface.
stop_clean pharos-serve "$server_pid"
if [ "$pmd" = af_xdp ] && ip -n "$S" link show "$nic" | grep -q 'xdp'; then
	fail "an XDP program is still attached to $nic after the stop"
fi
log "ok"
