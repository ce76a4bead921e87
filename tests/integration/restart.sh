#!/usr/bin/env bash
# restart: pharos-dataplane --state-dir serves the persisted images at once, before any
# pharos-control (doc/dataplane.md, "Start-up from the state directory"):
#   1. pharos-control + pharos-dataplane from a written config serve a zone; its serial is
#      bumped and reloaded, so the state dir holds two images; both daemons stopped
#   2. the dataplane alone with --state-dir: its very first answer carries the newest
#      serial, and it logs the zone served from disk
#   3. a byte of the newest image flipped, the dataplane alone again: it serves the older
#      serial and logs the refused file with its reason
#   4. pharos-control started: it compiles the zone file (a third serial) and the
#      dataplane replaces the image from disk with it
# Both daemons must exit 0 on SIGTERM every time.
#
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need dig
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make restart

port=5341
zone=one.test.
s1=2026010101
s2=2026010102
s3=2026010103
wait_s=20	# bound on every wait below; what is awaited takes well under a second

put() {	# FILE (content on stdin), replaced atomically
	cat >"$1.new"
	mv -f "$1.new" "$1"
}

ctl() { "$PHAROSCTL" -s "$T/ctl.sock" "$@"; }

# The first answer of a freshly started dataplane: "RCODE SERIAL" (SERIAL "-" when the
# answer has no SOA). Queries until anything answers, at most wait_s seconds.
first_answer() {
	local i out rc
	for ((i = 0; i < wait_s * 10; i++)); do
		bg_alive "$dp_pid" || fail "pharos-dataplane exited at start"
		if out=$(dig +norec +time=1 +tries=1 -p "$port" @127.0.0.1 "$zone" SOA 2>&1) &&
			rc=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | grep .); then
			echo "$rc $(awk '$4 == "SOA" && $1 == "'"$zone"'" { print $7; exit }' \
				<<<"$out" | grep . || echo -)"
			return 0
		fi
		sleep 0.1
	done
	fail "pharos-dataplane did not answer within $wait_s s"
}

expect_serial() {	# SERIAL WHEN
	local got
	got=$(soa_serial 127.0.0.1 "$port" "$zone")
	[ "$got" = "$1" ] || fail "$2: $zone serves serial '$got', expected $1"
}

until_serial() {	# SERIAL WHAT
	local i
	for ((i = 0; i < wait_s * 10; i++)); do
		[ "$(soa_serial 127.0.0.1 "$port" "$zone")" = "$1" ] && return 0
		sleep 0.1
	done
	fail "$2: serial $1 not served after $wait_s s"
}

# --- 1. two images in the state dir --------------------------------------------------------
mkdir -p "$T/state"
zone_text "$zone" "$s1" | put "$T/one.test.zone"
{
	echo "state-dir $T/state"
	echo "control-socket $T/ctl.sock"
	echo "dataplane-socket $T/dp.sock"
	echo "zone $zone file=one.test.zone"
} | put "$T/pharos.conf"
dataplane_start "$port"
control_start
until_serial "$s1" "first start"
zone_text "$zone" "$s2" | put "$T/one.test.zone"
out=$(ctl reload) || fail "reload of serial $s2 failed: $out"
expect_serial "$s2" "after the reload"
stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
old=$T/state/one.test.$s1.img
new=$T/state/one.test.$s2.img
if [ ! -f "$old" ] || [ ! -f "$new" ]; then
	fail "state dir lacks the two images: $(ls "$T/state")"
fi
log "two images persisted: $(cd "$T/state" && echo *.img)"

# --- 2. the dataplane alone serves the newest image at once -----------------------------------
# The older image gets the newer mtime: the serial must decide, not the file's age.
touch -d '+1 minute' "$old"
dataplane_start "$port" --state-dir "$T/state"
got=$(first_answer)
[ "$got" = "NOERROR $s2" ] || fail "first answer from the state dir: '$got', expected NOERROR $s2"
grep -qx "pharos-dataplane: serving $zone serial $s2 (3 names) from the state dir: $new" \
	"$dp_log" || fail "no log line for $zone served from the state dir"
[ "$(grep -c 'from the state dir' "$dp_log")" -eq 1 ] || fail "not one log line per zone"
expect_serial "$s2" "dataplane alone"
stop_clean pharos-dataplane "$dp_pid"
log "the dataplane alone answers serial $s2 from its first query"

# --- 3. a corrupt newest image: the older one is served, the bad one logged ---------------------
cp "$new" "$T/newest.img.before"
size=$(stat -c %s "$new")
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$new" | tr -d ' ')
printf '%b' "$(printf '\\%03o' $((byte ^ 0xff)))" |
	dd of="$new" bs=1 seek="$off" count=1 conv=notrunc status=none
cmp -s "$new" "$T/newest.img.before" && fail "corruption did nothing"
dataplane_start "$port" --state-dir "$T/state"
got=$(first_answer)
[ "$got" = "NOERROR $s1" ] || fail "first answer with a corrupt newest image: '$got', expected NOERROR $s1"
grep -q "^pharos-dataplane: state dir: refused image .*$new.*checksum" "$dp_log" ||
	fail "the refused image is not logged with its reason"
grep -qx "pharos-dataplane: serving $zone serial $s1 (3 names) from the state dir: $old" \
	"$dp_log" || fail "no log line for $zone served from the older image"
sed -n '/state dir/s/^/    /p' "$dp_log"
log "a corrupt newest image is refused and logged; serial $s1 is served"

# --- 4. pharos-control's LOAD replaces the image from disk ---------------------------------------
zone_text "$zone" "$s3" | put "$T/one.test.zone"
control_start
until_serial "$s3" "pharos-control started"
grep -q "loaded $zone serial $s3 .*replaced serial $s1" "$dp_log" ||
	fail "the dataplane did not log serial $s3 replacing $s1"
expect_serial "$s3" "pharos-control started"
log "pharos-control's load replaces the zone served from disk"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
