# Shared by the secondary-zone tests (bash; source it after tests/lib/netns.sh).
# shellcheck shell=bash
#
# Zone files and daemon starts come from tests/lib/netns.sh (zone_text, dataplane_start,
# control_start; CONTROL_ENV="VAR=VALUE..." for pharos-control's environment).
#
#   ctl ARGS...                          pharosctl on $T/ctl.sock
#   serial_is PORT ZONE SERIAL           the dataplane serves SERIAL (soa_serial)
#   until_serial PORT ZONE SERIAL WHAT   wait (bounded) until the dataplane serves SERIAL
#   zone_field ZONE KEY                  one key=value of `pharosctl zone-status ZONE`
#   field_is ZONE KEY VALUE              zone-status shows KEY=VALUE
#   until_field ZONE KEY VALUE WHAT      wait until zone-status shows KEY=VALUE
#   wait_log TEXT WHAT                   wait until the control log has a line containing TEXT
#   rcode PORT NAME TYPE                 the RCODE of one answer (NOERROR, SERVFAIL...)
# The waits are retry_until (tests/lib/netns.sh) with SEC_WAIT as their bound.
SEC_WAIT=${SEC_WAIT:-20}	# bound on every wait; what is awaited takes well under a second

ctl() { "$PHAROSCTL" -s "$T/ctl.sock" -t 30 "$@"; }

serial_is() { [ "$(soa_serial 127.0.0.1 "$1" "$2")" = "$3" ]; }	# PORT ZONE SERIAL

until_serial() {	# PORT ZONE SERIAL WHAT
	retry_until "$SEC_WAIT" serial_is "$1" "$2" "$3" ||
		fail "$4: serial $3 of $2 not served after $SEC_WAIT s (serves '$(soa_serial 127.0.0.1 "$1" "$2")')"
}

zone_field() {	# ZONE KEY
	ctl zone-status "$1" 2>/dev/null | head -n1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

field_is() { [ "$(zone_field "$1" "$2")" = "$3" ]; }	# ZONE KEY VALUE

until_field() {	# ZONE KEY VALUE WHAT
	retry_until "$SEC_WAIT" field_is "$1" "$2" "$3" ||
		fail "$4: zone-status of $1 does not say $2=$3 after $SEC_WAIT s: $(ctl zone-status "$1" 2>&1)"
}

# shellcheck disable=SC2154 # ctl_log: set by control_start (tests/lib/netns.sh)
wait_log() {	# TEXT WHAT
	retry_until "$SEC_WAIT" grep -qF -- "$1" "$ctl_log" || fail "$2: no log line with '$1'"
}

rcode() {	# PORT NAME TYPE (asked again while there is no reply: dig_again)
	dig_again dig +norec +time=2 +tries=1 -p "$1" @127.0.0.1 "$2" "$3" |
		sed -n 's/.*status: \([A-Z]*\).*/\1/p'
}
