# Shared by the secondary-zone tests (bash; source it after tests/lib/netns.sh).
# shellcheck shell=bash
#
# Zone files and daemon starts come from tests/lib/netns.sh (zone_text, dataplane_start,
# control_start; CONTROL_ENV="VAR=VALUE..." for pharos-control's environment).
#
#   ctl ARGS...                          pharosctl on $T/ctl.sock
#   until_serial PORT ZONE SERIAL WHAT   wait (bounded) until the dataplane serves SERIAL
#   zone_field ZONE KEY                  one key=value of `pharosctl zone-status ZONE`
#   until_field ZONE KEY VALUE WHAT      wait until zone-status shows KEY=VALUE
#   wait_log TEXT WHAT                   wait until the control log has a line containing TEXT
#   rcode PORT NAME TYPE                 the RCODE of one answer (NOERROR, SERVFAIL...)
SEC_WAIT=${SEC_WAIT:-20}	# bound on every wait; what is awaited takes well under a second

ctl() { "$PHAROSCTL" -s "$T/ctl.sock" -t 30 "$@"; }

until_serial() {	# PORT ZONE SERIAL WHAT
	local i
	for ((i = 0; i < SEC_WAIT * 10; i++)); do
		[ "$(soa_serial 127.0.0.1 "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$4: serial $3 of $2 not served after $SEC_WAIT s (serves '$(soa_serial 127.0.0.1 "$1" "$2")')"
}

zone_field() {	# ZONE KEY
	ctl zone-status "$1" 2>/dev/null | head -n1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

until_field() {	# ZONE KEY VALUE WHAT
	local i
	for ((i = 0; i < SEC_WAIT * 10; i++)); do
		[ "$(zone_field "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$4: zone-status of $1 does not say $2=$3 after $SEC_WAIT s: $(ctl zone-status "$1" 2>&1)"
}

# shellcheck disable=SC2154 # ctl_log: set by control_start (tests/lib/netns.sh)
wait_log() {	# TEXT WHAT
	local i
	for ((i = 0; i < SEC_WAIT * 10; i++)); do
		grep -qF -- "$1" "$ctl_log" && return 0
		sleep 0.1
	done
	fail "$2: no log line with '$1'"
}

rcode() {	# PORT NAME TYPE
	dig +norec +time=2 +tries=1 -p "$1" @127.0.0.1 "$2" "$3" 2>/dev/null |
		sed -n 's/.*status: \([A-Z]*\).*/\1/p'
}
