#!/usr/bin/env bash
# swap: while a client queries without pause, the zone is reloaded 100 times, alternating
# between two versions with different serials. No query may be lost or get an incomplete
# answer; both serials must be seen; after each reload returns the new serial is served.
#
# Environment: PHAROS_SERVE, PHAROSCTL (executables).
# Argument (optional): pharos (default), or knot to run the same harness against knotd
# (`knotc -b zone-reload`), which shows the harness itself works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need dig
need_dnspython

peer=${1:-pharos}
reloads=${SWAP_RELOADS:-100}
origin=swap.test.
s1=2026010101
s2=2026020202
port=5320
tmpdir_make swap

# A zone whose serial shows both in the SOA and in a TXT record, plus some bulk so that a
# reload has real work to do.
swap_zones "$origin" "$s1" "$s2" "$T/swap.zone"

case $peer in
pharos)
	need_exe "${PHAROS_SERVE:?}" "${PHAROSCTL:?}"
	serve_start pharos-serve "127.0.0.1:$port" "$T/control.sock" "$origin=$T/swap.zone"
	server_pid=$BG_PID
	reload() { "$PHAROSCTL" -s "$T/control.sock" reload; }
	;;
knot)
	need knotd knotc
	knot_conf "$T/knot.conf" "$T/knot" 127.0.0.1 "$port" "$origin=$T/swap.zone"
	knot_start knotd "$T/knot.conf" "$T/knot.log"
	server_pid=$BG_PID
	reload() { knotc -c "$T/knot.conf" -b zone-reload "$origin"; }
	;;
*) fail "unknown peer '$peer' (pharos, knot)" ;;
esac
wait_dns 127.0.0.1 "$port" "$origin" SOA 30 || fail "$peer does not answer on port $port"
[ "$(soa_serial 127.0.0.1 "$port" "$origin")" = "$s1" ] || fail "first serial not served"

swap_client_start "127.0.0.1:$port" "$origin" "$s1" "$s2"
served() { soa_serial 127.0.0.1 "$port" "$origin"; }
swap_reloads "$reloads" "$T/swap.zone" "$s1" "$s2" reload served
swap_client_finish || fail "the client saw lost or wrong answers"

if [ "$peer" = pharos ]; then
	stop_clean pharos-serve "$server_pid"
fi
log "ok"
