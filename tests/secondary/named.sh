#!/usr/bin/env bash
# secondary-named: BIND 9 named as the primary (`type primary; allow-transfer; also-notify`,
# the seed's deployment) of pharos-control + pharos-dataplane (doc/secondary.md):
#   1. n.test. (open) and k.test. (transfers and NOTIFY signed with hmac-sha256): AXFR, served
#   2. the zone files edited (new serial) and named reloaded (SIGHUP): named NOTIFYs our
#      dataplane, pharos-control transfers by IXFR (ixfr-from-differences), the new serial
#      is served
#   3. pharos-control with the wrong secret for k.test.: one log line, the old serial kept
# named runs from a temp dir: its own options directory, pid file, no rndc (controls {}).
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/secondary/lib.sh
. "$here/lib.sh"
netns_enter "$@"
need dig named
need_exe "${PHAROSCTL:?}" "${PHAROS_CONTROL:?}" "${PHAROS_DATAPLANE:?}"
tmpdir_make sec-named

nport=5381	# named, the primary
port=5382	# our dataplane
secret=$(head -c 32 /dev/urandom | base64)
wrong=$(head -c 32 /dev/urandom | base64)
N=$T/named

mkdir -p "$N"
zone_text n.test. 100 >"$N/n.test.zone"
zone_text k.test. 200 >"$N/k.test.zone"
cat >"$N/named.conf" <<EOF
options {
	directory "$N";
	pid-file "$N/named.pid";
	session-keyfile "$N/session.key";
	managed-keys-directory "$N";
	listen-on port $nport { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify explicit;
	notify-delay 0;
	ixfr-from-differences yes;
};
controls { };
key "xfr-key" { algorithm hmac-sha256; secret "$secret"; };
zone "n.test" {
	type primary;
	file "$N/n.test.zone";
	allow-transfer { 127.0.0.1; };
	also-notify { 127.0.0.1 port $port; };
};
zone "k.test" {
	type primary;
	file "$N/k.test.zone";
	allow-transfer { key xfr-key; };
	also-notify { 127.0.0.1 port $port key xfr-key; };
};
EOF
bg_start named "$T/named.log" named -g -c "$N/named.conf"
named_pid=$BG_PID
wait_dns 127.0.0.1 "$nport" n.test. SOA 20 || fail "named does not answer"

write_conf() {	# SECRET-OF-THE-KEY
	{
		echo "state-dir $T/state"
		echo "control-socket $T/ctl.sock"
		echo "dataplane-socket $T/dp.sock"
		echo "key xfr-key algorithm=hmac-sha256 secret=$1"
		echo "zone n.test primary=127.0.0.1#$nport timeout=2"
		echo "zone k.test primary=127.0.0.1#$nport key=xfr-key timeout=2"
	} >"$T/pharos.conf"
}
write_conf "$secret"
dataplane_start "$port" --state-dir "$T/state"
control_start

# --- 1. AXFR ---------------------------------------------------------------------------------------
until_serial "$port" n.test. 100 "first AXFR of n.test."
until_serial "$port" k.test. 200 "first AXFR of k.test. with TSIG"
until_field k.test. state ok "after the AXFR"
wait_log "zone k.test.: AXFR from 127.0.0.1#$nport, serial 200" "AXFR with TSIG"
log "AXFR from named: n.test. 100, k.test. 200 (TSIG)"

# --- 2. edit + reload -> NOTIFY -> IXFR --------------------------------------------------------------
zone_text n.test. 101 "new IN A 192.0.2.101" >"$N/n.test.zone"
zone_text k.test. 201 "new IN A 192.0.2.201" >"$N/k.test.zone"
kill -HUP "$named_pid"
until_serial "$port" n.test. 101 "NOTIFY from named after a reload"
until_serial "$port" k.test. 201 "signed NOTIFY from named after a reload"
[ "$(dig_short 127.0.0.1 "$port" new.k.test. A)" = 192.0.2.201 ] || fail "new.k.test. not served"
wait_log "zone n.test.: NOTIFY from 127.0.0.1#" "NOTIFY from named"
wait_log "zone k.test.: NOTIFY from 127.0.0.1#" "signed NOTIFY from named"
wait_log "zone n.test.: IXFR from 127.0.0.1#$nport, serial 101" "IXFR from named"
wait_log "zone k.test.: IXFR from 127.0.0.1#$nport, serial 201" "IXFR from named with TSIG"
log "named reload -> NOTIFY -> IXFR: n.test. 101, k.test. 201"

# --- 3. wrong key: the old serial is kept ----------------------------------------------------------
write_conf "$wrong"
ctl reload >/dev/null || fail "reload refused"
zone_text k.test. 202 >"$N/k.test.zone"
kill -HUP "$named_pid"
wait_log "NOTIFY for k.test. from 127.0.0.1#" "NOTIFY signed with the other key refused"
ctl zone-refresh k.test. >/dev/null
wait_log "zone k.test.: transfer failed: primary 127.0.0.1#$nport: " "wrong TSIG key"
grep "k.test. from\|zone k.test.: transfer failed" "$ctl_log" | sed 's/^/    /'
[ "$(soa_serial 127.0.0.1 "$port" k.test.)" = 201 ] || fail "k.test. no longer serves 201"
until_field k.test. last-result failed "wrong key"
log "wrong key: refused with one log line, serial 201 still served"

stop_clean pharos-control "$ctl_pid"
stop_clean pharos-dataplane "$dp_pid"
log "ok"
