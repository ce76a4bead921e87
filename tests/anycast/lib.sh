# PoP simulation for the anycast test and bench (bash; source it after tests/lib/netns.sh).
# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
#
#   pop_setup           namespaces, links, addresses, BIRD router, PoP A (pharos + bird hook
#                       + its own BIRD), PoP B (pharos + ExaBGP running pharos-exabgp)
#   pop_routes          next hops of 192.0.2.53/32 in the router's kernel table, sorted
#   pop_wait_routes HOPS SECS   wait until the kernel table has exactly HOPS ("" = none)
#   pop_client ARGS...  tests/anycast/client.py from the client namespace
#   pop_start_dp X / pop_start_ctl X / pop_start_exabgp   (re)start one daemon; PID in
#                       DP_PID[X], CTL_PID[X], XB_PID
# and, for any pharos-control (the single-PoP tests too):
#   health_state SOCK   the state `pharosctl health` reports on control socket SOCK
#   health_wait SOCK STATE SECS   wait until it is STATE; returns 1 if not after SECS
#
# Layout (all inside namespaces this script creates, named phy-<pid>-r|a|b|c):
#   client 198.18.3.2 -- 198.18.3.1 router 198.18.1.1 -- 198.18.1.2 PoP A (AS 65001, BIRD)
#                                          198.18.2.1 -- 198.18.2.2 PoP B (AS 65001, ExaBGP)
#   the same in IPv6: 2001:db8:N::1 (router side) -- 2001:db8:N::2, N = 1 (A), 2 (B), 3 (client)
#   router: AS 65000, BIRD 2, ECMP (merge paths, fib_multipath_hash_policy=1 for v4 and v6),
#   one IPv4 and one IPv6 BGP session per PoP
#   each PoP: 192.0.2.53/32 and 2001:db8:53::53/128 on lo, pharos-dataplane --nsid pop-a|pop-b
#   answering on both; both prefixes announced.

POP_HOP_A=198.18.1.2
POP_HOP_B=198.18.2.2
POP_ADDR=192.0.2.53
POP_HOP6_A=2001:db8:1::2
POP_HOP6_B=2001:db8:2::2
POP_ADDR6=2001:db8:53::53
POP_ZONE=example.test.
NS_PREFIX=phy-$$
declare -A DP_PID CTL_PID
XB_PID=
GRACE_S=${GRACE_S:-2}
POP_STUCK=${POP_STUCK:-}	# health-stuck of both PoPs, empty = the default (200 ms);
				# POP_STUCK_A / POP_STUCK_B: of one PoP

pop_ns() { echo "$NS_PREFIX-$1"; }
pop_in() { local ns; ns=$(pop_ns "$1"); shift; ip netns exec "$ns" "$@"; }

_pop_exit() {
	local rc=$? x
	set +e
	for x in r a b c; do
		ip netns del "$(pop_ns $x)" 2>/dev/null
	done
	(exit "$rc")
	_cleanup
}

pop_need() {
	need ip bird birdc exabgp dig
	need_dnspython
	need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}" "${PHAROS_EXABGP:?}"
	[ "$(id -u)" = 0 ] || skip "needs root for named network namespaces"
	ip netns add "$NS_PREFIX-probe" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "$NS_PREFIX-probe"
}

_pop_link() {	# NS1 IF1 ADDR1 NS2 IF2 ADDR2 (/30) N (2001:db8:N::1 and ::2 /64)
	ip -n "$(pop_ns "$1")" link add "$2" type veth peer name "$5" netns "$(pop_ns "$4")"
	ip -n "$(pop_ns "$1")" addr add "$3/30" dev "$2"
	ip -n "$(pop_ns "$4")" addr add "$6/30" dev "$5"
	ip -n "$(pop_ns "$1")" addr add "2001:db8:$7::1/64" dev "$2" nodad
	ip -n "$(pop_ns "$4")" addr add "2001:db8:$7::2/64" dev "$5" nodad
	ip -n "$(pop_ns "$1")" link set dev "$2" up
	ip -n "$(pop_ns "$4")" link set dev "$5" up
}

_pop_net() {
	local x
	trap _pop_exit EXIT
	for x in r a b c; do
		ip netns add "$(pop_ns $x)" || fail "ip netns add $(pop_ns $x)"
		ip -n "$(pop_ns $x)" link set lo up
	done
	_pop_link r v-ra 198.18.1.1 a v-ar "$POP_HOP_A" 1
	_pop_link r v-rb 198.18.2.1 b v-br "$POP_HOP_B" 2
	_pop_link r v-rc 198.18.3.1 c v-cr 198.18.3.2 3
	pop_in r sysctl -qw net.ipv4.ip_forward=1
	pop_in r sysctl -qw net.ipv4.fib_multipath_hash_policy=1
	pop_in r sysctl -qw net.ipv6.conf.all.forwarding=1
	pop_in r sysctl -qw net.ipv6.fib_multipath_hash_policy=1
	for x in a:1 b:2 c:3; do
		ip -n "$(pop_ns "${x%:*}")" route add default via "198.18.${x#*:}.1"
		ip -n "$(pop_ns "${x%:*}")" -6 route add default via "2001:db8:${x#*:}::1"
	done
	for x in a b; do
		ip -n "$(pop_ns $x)" addr add "$POP_ADDR/32" dev lo
		ip -n "$(pop_ns $x)" addr add "$POP_ADDR6/128" dev lo nodad
	done
}

# Short BGP timers so that sessions come up in about a second.
_pop_bgp_timers='connect delay time 1; connect retry time 1; error wait time 1, 2; hold time 9; keepalive time 3;'

_pop_bird_router() {
	mkdir -p "$T/r"
	cat >"$T/r/bird.conf" <<-EOF
	log stderr all;
	router id 198.18.1.1;
	protocol device { scan time 10; }
	protocol kernel { ipv4 { import none; export all; }; merge paths on; }
	protocol kernel { ipv6 { import none; export all; }; merge paths on; }
	protocol bgp pop_a { local 198.18.1.1 as 65000; neighbor $POP_HOP_A as 65001;
		$_pop_bgp_timers ipv4 { import all; export none; }; }
	protocol bgp pop_b { local 198.18.2.1 as 65000; neighbor $POP_HOP_B as 65001;
		$_pop_bgp_timers ipv4 { import all; export none; }; }
	protocol bgp pop_a6 { local 2001:db8:1::1 as 65000; neighbor $POP_HOP6_A as 65001;
		$_pop_bgp_timers ipv6 { import all; export none; }; }
	protocol bgp pop_b6 { local 2001:db8:2::1 as 65000; neighbor $POP_HOP6_B as 65001;
		$_pop_bgp_timers ipv6 { import all; export none; }; }
	EOF
	bg_start "bird router" "$T/r/bird.log" ip netns exec "$(pop_ns r)" \
		bird -f -s "$T/r/bird.ctl" -c "$T/r/bird.conf" -P "$T/r/bird.pid"
}

_pop_zone() {
	cat >"$T/example.test.zone" <<-EOF
	\$ORIGIN $POP_ZONE
	\$TTL 300
	@	IN SOA	ns1 hostmaster 2026010101 7200 3600 1209600 300
	@	IN NS	ns1
	ns1	IN A	$POP_ADDR
	www	IN A	192.0.2.80
	EOF
}

# pharos-control config of PoP X (a: bird hook, b: exabgp hook).
_pop_conf() {
	local x=$1 d=$T/$1
	mkdir -p "$d"
	cat >"$d/pharos.conf" <<-EOF
	state-dir $d/state
	control-socket $d/ctl.sock
	dataplane-socket $d/dp.sock
	zone $POP_ZONE file=$T/example.test.zone
	anycast-prefix $POP_ADDR/32
	anycast-prefix $POP_ADDR6/128
	health-query $POP_ADDR:53
	grace-period $GRACE_S
	drain-file $d/drain
	EOF
	local stuck=POP_STUCK_${x^^}
	stuck=${!stuck:-${POP_STUCK:-}}
	[ -n "$stuck" ] && echo "health-stuck $stuck" >>"$d/pharos.conf"
	if [ "$x" = a ]; then
		cat >>"$d/pharos.conf" <<-EOF
		route-bird-include $d/pharos-routes.conf
		route-bird-reload birdc -s $d/bird.ctl configure
		EOF
	else
		echo "route-exabgp yes" >>"$d/pharos.conf"
	fi
}

pop_start_dp() {
	local x=$1
	bg_start "dataplane $x" "$T/$x/dp.log" ip netns exec "$(pop_ns "$x")" "$PHAROS_DATAPLANE" \
		--listen "$POP_ADDR:53" --listen "[$POP_ADDR6]:53" --socket "$T/$x/dp.sock" \
		--workers 1 --nsid "pop-$x"
	DP_PID[$x]=$BG_PID
}

pop_start_ctl() {
	local x=$1
	bg_start "control $x" "$T/$x/ctl.log" ip netns exec "$(pop_ns "$x")" "$PHAROS_CONTROL" \
		-c "$T/$x/pharos.conf" -f
	CTL_PID[$x]=$BG_PID
}

_pop_bird_a() {
	cat >"$T/a/bird.conf" <<-EOF
	log stderr all;
	router id $POP_HOP_A;
	protocol device { scan time 10; }
	include "$T/a/pharos-routes.conf";
	protocol bgp upstream { local $POP_HOP_A as 65001; neighbor 198.18.1.1 as 65000;
		$_pop_bgp_timers ipv4 { import none; export where proto = "pharos4"; }; }
	protocol bgp upstream6 { local $POP_HOP6_A as 65001; neighbor 2001:db8:1::1 as 65000;
		$_pop_bgp_timers ipv6 { import none; export where proto = "pharos6"; }; }
	EOF
	# until pharos-control writes it: nothing announced
	printf 'protocol static pharos4 { ipv4; }\nprotocol static pharos6 { ipv6; }\n' \
		>"$T/a/pharos-routes.conf"
	bg_start "bird a" "$T/a/bird.log" ip netns exec "$(pop_ns a)" \
		bird -f -s "$T/a/bird.ctl" -c "$T/a/bird.conf" -P "$T/a/bird.pid"
}

pop_start_exabgp() {
	mkdir -p "$T/b/exabgp"
	cat >"$T/b/exabgp.conf" <<-EOF
	process pharos {
		run $PHAROS_EXABGP -s $T/b/ctl.sock -i 20 -t 1000;
		encoder text;
	}
	neighbor 198.18.2.1 {
		router-id $POP_HOP_B;
		local-address $POP_HOP_B;
		local-as 65001;
		peer-as 65000;
		hold-time 9;
		family { ipv4 unicast; }
		api { processes [ pharos ]; }
	}
	neighbor 2001:db8:2::1 {
		router-id $POP_HOP_B;
		local-address $POP_HOP6_B;
		local-as 65001;
		peer-as 65000;
		hold-time 9;
		family { ipv6 unicast; }
		api { processes [ pharos ]; }
	}
	EOF
	# Debian's exabgp 4.2 runs under /usr/bin/python3. Run as root (no privilege drop),
	# log to stderr, named pipes of its CLI in our temp dir (absent: CLI off, fine).
	bg_start "exabgp b" "$T/b/exabgp.log" ip netns exec "$(pop_ns b)" env \
		exabgp.daemon.user=root exabgp.daemon.drop=false exabgp.daemon.daemonize=false \
		exabgp.log.destination=stderr exabgp.log.level=INFO exabgp.api.pipename=$NS_PREFIX \
		exabgp.cache.attributes=false exabgp.tcp.bind= \
		exabgp "$T/b/exabgp.conf"
	XB_PID=$BG_PID
}

pop_setup() {
	pop_need
	_pop_net
	_pop_zone
	_pop_conf a
	_pop_conf b
	_pop_bird_router
	pop_start_dp a
	pop_start_dp b
	pop_start_ctl a
	_pop_bird_a
	pop_start_ctl b
	pop_start_exabgp
}

# Next hops of the service address in the router's kernel table, sorted, space-separated.
pop_routes() {
	ip -n "$(pop_ns r)" route show "$POP_ADDR" 2>/dev/null |
		grep -o 'via [0-9.]*' | awk '{print $2}' | sort | tr '\n' ' ' | sed 's/ $//'
}

# The same for the IPv6 service address: the interfaces (v-ra = A, v-rb = B) it goes out
# of (BIRD may install link-local next hops).
pop_routes6() {
	ip -n "$(pop_ns r)" -6 route show "$POP_ADDR6" 2>/dev/null |
		grep -o 'dev v-r[ab]' | awk '{print $2}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

_pop_routes_are() { [ "$("$1")" = "$2" ]; }	# pop_routes|pop_routes6 WANT

pop_wait_routes6() {	# "v-ra v-rb" or "" ; SECS
	retry_until "$2" _pop_routes_are pop_routes6 "$1"
}

pop_wait_routes() {	# "HOP HOP" or "" ; SECS
	retry_until "$2" _pop_routes_are pop_routes "$1"
}

pop_client() {	# POP_CLIENT_NICE: its nice value (the bench's client must keep its pace)
	nice -n "${POP_CLIENT_NICE:-0}" ip netns exec "$(pop_ns c)" "$PY" \
		"$(dirname "${BASH_SOURCE[0]}")/client.py" --server "$POP_ADDR" --zone "$POP_ZONE" "$@"
}

pop_client6() {
	ip netns exec "$(pop_ns c)" "$PY" "$(dirname "${BASH_SOURCE[0]}")/client.py" \
		--server "$POP_ADDR6" --zone "$POP_ZONE" "$@"
}

health_state() {	# SOCK
	"$PHAROSCTL" -s "$1" -t 10 health 2>/dev/null | sed -n 's/^state: //p'
}

health_is() { [ "$(health_state "$1")" = "$2" ]; }	# SOCK STATE

health_wait() {	# SOCK STATE SECS
	retry_until "$3" health_is "$1" "$2"
}

pop_ctl() {	# X ARGS...
	local x=$1
	shift
	"$PHAROSCTL" -s "$T/$x/ctl.sock" -t 10 "$@"
}
