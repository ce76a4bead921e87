#!/usr/bin/env bash
# secondary-badprimary: a primary broken in every way of issue 4 point 7 (tests/lib/badprimary.py)
# never replaces the served zone (doc/secondary.md, "Failures"):
#   1. a good AXFR (TSIG hmac-sha256 on every message) serves serial 10
#   2. for each of garbage, truncated, outside, badtsig, oversize, backwards, drop, silent:
#      the primary gets a newer serial and the broken mode, an operator refresh runs, and
#      exactly one log line says which primary, which kind and why; zone-status says
#      last-result=failed; the dataplane still serves serial 10
#   3. ixfr-refused and ixfr-full: IXFR refused / answered with the whole zone -> fallback
#      AXFR, the new serial is served, zone-status last-kind=fallback
#   3b. an IXFR whose differences do not apply to the served zone (the primary changed the
#      content of our serial): the same primary is asked for an AXFR, which is served
#   4. backwards again, then zone-retransfer: the forced AXFR serves the lower serial
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/secondary/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need dig
need_dnspython
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make sec-bad

bport=5371	# the bad primary
port=5372	# our dataplane
zone=bad.test.
secret=$(head -c 32 /dev/urandom | base64)
prim="primary 127.0.0.1#$bport"

zone_text "$zone" 10 >"$T/bad.test.zone"
echo "mode good" >"$T/control"
bg_start2 badprimary "$T/bad.out" "$T/bad.err" "$PY" "$here/../lib/badprimary.py" \
	--port "$bport" --zone "$zone" --file "$T/bad.test.zone" --control "$T/control" \
	--key "xfr-key:hmac-sha256:$secret" --oversize-records 5000 --per-message 2
wait_line "$T/bad.out" ready "$BG_PID" 20 || fail "badprimary.py did not start"
{
	echo "state-dir $T/state"
	echo "control-socket $T/ctl.sock"
	echo "dataplane-socket $T/dp.sock"
	echo "key xfr-key algorithm=hmac-sha256 secret=$secret"
	echo "zone $zone primary=127.0.0.1#$bport key=xfr-key timeout=1 max-size=64k"
} >"$T/pharos.conf"
dataplane_start "$port" --state-dir "$T/state"
control_start

# --- 1. good --------------------------------------------------------------------------------------
until_serial "$port" "$zone" 10 "good AXFR"
until_field "$zone" state ok "good AXFR"

failures() { grep -c "zone $zone: transfer failed: " "$ctl_log" || true; }
failed_since() { [ "$(failures)" -gt "$1" ] && field_is "$zone" state retrying; }	# COUNT

# --- 2. every broken mode ---------------------------------------------------------------------------
serial=10
for mode in garbage truncated outside badtsig oversize backwards drop silent; do
	serial=$((serial + 1))
	before=$(failures)
	printf 'mode %s\nserial %s\nadd m-%s 300 IN A 192.0.2.%s\n' "$mode" "$serial" "$mode" \
		"$serial" >"$T/control"
	ctl zone-refresh "$zone" >/dev/null || fail "$mode: zone-refresh refused"
	retry_until "$SEC_WAIT" failed_since "$before" || true	# counted just below
	[ "$(failures)" -eq $((before + 1)) ] ||
		fail "$mode: expected one failure line, got $(($(failures) - before))"
	line=$(grep "zone $zone: transfer failed: " "$ctl_log" | tail -n1)
	printf '    %-9s %s\n' "$mode" "${line#*transfer failed: }"
	case "$line" in
	*"transfer failed: $prim: "*"; still serving serial 10") ;;
	*) fail "$mode: the log line does not name the primary and the kept serial: $line" ;;
	esac
	case "$line" in
	*": SOA: "* | *": IXFR: "* | *": AXFR: "* | *": fallback AXFR: "* | *": fallback: "*) ;;
	*) fail "$mode: the log line does not say which kind of transfer failed: $line" ;;
	esac
	[ "$(zone_field "$zone" last-result)" = failed ] || fail "$mode: last-result not failed"
	[ "$(soa_serial 127.0.0.1 "$port" "$zone")" = 10 ] || fail "$mode: serial 10 no longer served"
	[ -z "$(dig_short 127.0.0.1 "$port" "m-$mode.$zone" A)" ] || fail "$mode: its record is served"
done
log "8 broken modes: one log line each, serial 10 still served"

# --- 3. IXFR refused / answered with a full zone: fallback AXFR -------------------------------------
for mode in ixfr-refused ixfr-full; do
	serial=$((serial + 1))
	printf 'mode %s\nserial %s\nadd f-%s 300 IN A 192.0.2.1\n' "$mode" "$serial" "$mode" \
		>"$T/control"
	ctl zone-refresh "$zone" >/dev/null
	until_serial "$port" "$zone" "$serial" "$mode"
	until_field "$zone" last-kind fallback "$mode"
	[ "$(dig_short 127.0.0.1 "$port" "f-$mode.$zone" A)" = 192.0.2.1 ] || fail "$mode: record missing"
	log "$mode: fallback AXFR serves serial $serial"
done

# --- 3b. an IXFR that does not apply to what we serve: AXFR from the same primary ----------------
# The primary's serial stays the same but its content changes (a ghost record we never got);
# then the next serial deletes the ghost: the IXFR deletes what we do not have.
printf 'mode good\nserial %s\nadd ghost 300 IN A 192.0.2.66\n' "$serial" >"$T/control"
# the primary remembers that version when it answers it (queries to it must be signed)
dig_again dig +time=2 +tries=1 +short -y "hmac-sha256:xfr-key:$secret" -p "$bport" @127.0.0.1 \
	"$zone" SOA >/dev/null || fail "the primary does not answer a signed SOA query"
serial=$((serial + 1))
printf 'mode good\nserial %s\n' "$serial" >"$T/control"
ctl zone-refresh "$zone" >/dev/null
until_serial "$port" "$zone" "$serial" "IXFR that does not apply"
wait_log "zone $zone: transfer failed: $prim: IXFR: " "the IXFR that does not apply"
grep "zone $zone: transfer failed: $prim: IXFR: " "$ctl_log" | tail -n1 | sed 's/^/    /'
grep "zone $zone: transfer failed: $prim: IXFR: " "$ctl_log" | tail -n1 | grep -q "(asking for AXFR)" ||
	fail "the misfit IXFR line does not say AXFR follows"
until_field "$zone" last-kind fallback "AXFR after the misfit IXFR"
[ -z "$(dig_short 127.0.0.1 "$port" "f-ixfr-full.$zone" A)" ] || fail "old record kept"
log "an IXFR that does not apply to the served zone: AXFR from the same primary, serial $serial"

# --- 4. a serial that went backwards: zone-retransfer is the way out ------------------------------
printf 'mode backwards\nserial %s\n' "$serial" >"$T/control"	# serves serial - 10
ctl zone-refresh "$zone" >/dev/null
until_field "$zone" last-result failed "backwards"
[ "$(soa_serial 127.0.0.1 "$port" "$zone")" = "$serial" ] || fail "backwards serial replaced the zone"
ctl zone-retransfer "$zone" >/dev/null || fail "zone-retransfer refused"
until_serial "$port" "$zone" $((serial - 10)) "zone-retransfer"
until_field "$zone" state ok "zone-retransfer"
log "backwards serial: refused by a refresh, taken by zone-retransfer ($((serial - 10)))"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
