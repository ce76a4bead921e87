#!/usr/bin/env bash
# bad-input: broken zone files, images and configs are refused with a clear message, and
# what was being served keeps being served.
#   1. zone file with a syntax error -> `pharosctl reload` fails naming file:line, old answers
#   2. image with one flipped byte   -> `pharosctl load` refused (checksum), old zone serves;
#                                       `pharos-zone dump` refuses it too
#   3. truncated image               -> refused (size), old zone serves; dump refuses it
#   then the intact image loads (so the refusals above are about the damage, not `load`)
#   4. config with an unknown key    -> pharos-control does not start (file:line: unknown
#                                       key); a running pharos-control refuses to reload to
#                                       such a config and keeps the old one
#
# Environment: PHAROS_SERVE, PHAROSCTL, PHAROS_ZONE, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need dig
need_exe "${PHAROS_SERVE:?}" "${PHAROSCTL:?}" "${PHAROS_ZONE:?}" "${PHAROS_CONTROL:?}" \
	"${PHAROS_DATAPLANE:?}"
tmpdir_make bad-input

origin=bad.test.
port=5330
s1=2026010101
s2=2026010202

make_zone() {	# SERIAL ADDRESS-OF-www
	cat <<-EOF
	\$ORIGIN $origin
	\$TTL 300
	@	IN SOA	ns1 hostmaster $1 7200 3600 1209600 300
	@	IN NS	ns1
	ns1	IN A	192.0.2.53
	www	IN A	$2
	EOF
}

# The answer for www, and the serial: both must stay the old ones after a refusal.
expect_serving() {	# SERIAL ADDRESS WHEN
	local serial addr
	serial=$(soa_serial 127.0.0.1 "$port" "$origin")
	addr=$(dig_short 127.0.0.1 "$port" "www.$origin" A)
	if [ "$serial" != "$1" ] || [ "$addr" != "$2" ]; then
		fail "$3: serving serial '$serial' www '$addr', expected $1 $2"
	fi
	log "$3: serving serial $1 (www $2)"
}

# Run a command that must fail (exit 1) with a message matching REGEX.
expect_refused() {	# WHAT REGEX CMD...
	local what=$1 re=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed "s/^/    /"
	[ "$rc" -eq 1 ] || fail "$what: expected exit status 1, got $rc"
	grep -Eqi -- "$re" <<<"$out" || fail "$what: message does not match /$re/"
	log "$what: refused as it must be"
}

make_zone "$s1" 192.0.2.80 >"$T/bad.zone"
serve_start pharos-serve "127.0.0.1:$port" "$T/control.sock" "$origin=$T/bad.zone"
serve_pid=$BG_PID
ctl() { "$PHAROSCTL" -s "$T/control.sock" "$@"; }
expect_serving "$s1" 192.0.2.80 "start"

# --- 1. zone file with a syntax error (line 6: an impossible address) --------------------
make_zone "$s2" 192.0.2.999 >"$T/bad.zone"
expect_refused "reload of a zone with a syntax error" "bad\.zone:6:" ctl reload
expect_serving "$s1" 192.0.2.80 "after the refused reload"
expect_refused "pharos-zone check of the same file" "bad\.zone:6:" \
	"$PHAROS_ZONE" check "$T/bad.zone" --origin "$origin"

# --- 2. and 3. damaged images ----------------------------------------------------------
make_zone "$s2" 192.0.2.81 >"$T/good.zone"
"$PHAROS_ZONE" compile "$T/good.zone" --origin "$origin" -o "$T/good.img" ||
	fail "pharos-zone compile of a good zone failed"
size=$(stat -c %s "$T/good.img")
[ "$size" -gt 256 ] || fail "image too small to damage meaningfully ($size bytes)"
# One byte flipped in the middle (well past the header: inside the checksummed data).
cp "$T/good.img" "$T/flipped.img"
off=$((size / 2))
orig=$(od -An -tu1 -j "$off" -N1 "$T/good.img" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $((orig ^ 0x10)))" |
	dd of="$T/flipped.img" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$T/good.img" "$T/flipped.img" && fail "the byte flip did not change the image"
# The last 100 bytes cut off.
head -c $((size - 100)) "$T/good.img" >"$T/truncated.img"

expect_refused "load of an image with a flipped byte" "checksum" \
	ctl load "$origin" "$T/flipped.img"
expect_serving "$s1" 192.0.2.80 "after the refused flipped image"
expect_refused "pharos-zone dump of the flipped image" "checksum" \
	"$PHAROS_ZONE" dump "$T/flipped.img"

expect_refused "load of a truncated image" "size|bytes|truncat|short" \
	ctl load "$origin" "$T/truncated.img"
expect_serving "$s1" 192.0.2.80 "after the refused truncated image"
expect_refused "pharos-zone dump of the truncated image" "size|bytes|truncat|short" \
	"$PHAROS_ZONE" dump "$T/truncated.img"

out=$(ctl load "$origin" "$T/good.img" 2>&1) || fail "load of the intact image failed: $out"
expect_serving "$s2" 192.0.2.81 "after loading the intact image"
"$PHAROS_ZONE" dump "$T/good.img" >/dev/null || fail "pharos-zone dump of the intact image"

stop_clean pharos-serve "$serve_pid"

# --- 4. config with an unknown key --------------------------------------------------------
make_zone "$s1" 192.0.2.80 >"$T/c.zone"
cat >"$T/bad.conf" <<EOF
# a config with a typo on line 4
state-dir $T/state
control-socket $T/c.sock
dataplane-sokcet $T/dp.sock
zone $origin file=$T/c.zone
EOF
mkdir -p "$T/state"
rc=0
out=$(timeout 30 "$PHAROS_CONTROL" -c "$T/bad.conf" -f 2>&1) || rc=$?
printf '%s\n' "$out" | sed "s/^/    /"
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
	fail "pharos-control started with an unknown key (exit $rc)"
fi
grep -q "bad\.conf:4: unknown key" <<<"$out" || fail "message does not say bad.conf:4: unknown key"
[ ! -e "$T/c.sock" ] || fail "pharos-control left a control socket behind"
log "pharos-control refuses to start on an unknown key"

# A running pharos-control keeps its config when asked to reload a broken one.
cat >"$T/good.conf" <<EOF
state-dir $T/state
control-socket $T/c.sock
dataplane-socket $T/dp.sock
zone $origin file=$T/c.zone
EOF
bg_start pharos-dataplane "$T/dp.log" "$PHAROS_DATAPLANE" --listen "127.0.0.1:$port" \
	--socket "$T/dp.sock" --workers 1
dp_pid=$BG_PID
bg_start pharos-control "$T/ctl.log" "$PHAROS_CONTROL" -c "$T/good.conf" -f
ctl_pid=$BG_PID
wait_dns 127.0.0.1 "$port" "$origin" SOA 30 || fail "dataplane + control do not answer"
expect_serving "$s1" 192.0.2.80 "pharos-control with a good config"
cp "$T/bad.conf" "$T/good.conf.new"
sed -i "s/^# .*/# now with a typo on line 4/" "$T/good.conf.new"
mv -f "$T/good.conf.new" "$T/good.conf"
make_zone "$s2" 192.0.2.81 >"$T/c.zone"
expect_refused "reload with an unknown key in the config" "good\.conf:4: unknown key" \
	"$PHAROSCTL" -s "$T/c.sock" reload
bg_alive "$ctl_pid" || fail "pharos-control exited after a refused reload"
expect_serving "$s1" 192.0.2.80 "after the refused config reload"
out=$("$PHAROSCTL" -s "$T/c.sock" zones 2>&1) || fail "pharosctl zones after a refused reload: $out"
grep -q "^$origin" <<<"$out" || fail "the zone is gone from the kept config: $out"
stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
