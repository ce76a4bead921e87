# Shared by the secondary-zone tests (bash; source it after tests/lib/netns.sh).
# shellcheck shell=bash
# shellcheck disable=SC2034 # dp_pid, ctl_pid, dp_log, ctl_log are for the sourcing script
#
#   sec_zone ORIGIN SERIAL [LINE...]     a small zone file on stdout (SEC_REFRESH, SEC_RETRY,
#                                        SEC_EXPIRE set its SOA timers)
#   sec_start_dataplane PORT [ARGS...]   pharos-dataplane on 127.0.0.1:PORT, socket $T/dp.sock
#   sec_start_control                    pharos-control -c $T/pharos.conf -f, log in $ctl_log
#                                        (environment: SEC_CONTROL_ENV="VAR=VALUE...")
#   ctl ARGS...                          pharosctl on $T/ctl.sock
#   until_serial PORT ZONE SERIAL WHAT   wait (bounded) until the dataplane serves SERIAL
#   zone_field ZONE KEY                  one key=value of `pharosctl zone-status ZONE`
#   until_field ZONE KEY VALUE WHAT      wait until zone-status shows KEY=VALUE
#   wait_log TEXT WHAT                   wait until the control log has a line containing TEXT
#   rcode PORT NAME TYPE                 the RCODE of one answer (NOERROR, SERVFAIL...)
SEC_WAIT=${SEC_WAIT:-20}	# bound on every wait; what is awaited takes well under a second

sec_zone() {
	local origin=$1 serial=$2 l
	shift 2
	# shellcheck disable=SC2016 # $ORIGIN and $TTL are zone file directives
	printf '$ORIGIN %s\n$TTL 300\n' "$origin"
	printf '@\tIN SOA\tns1 hostmaster %s %s %s %s 300\n' "$serial" "${SEC_REFRESH:-3600}" \
		"${SEC_RETRY:-600}" "${SEC_EXPIRE:-1209600}"
	printf '@\tIN NS\tns1\nns1\tIN A\t192.0.2.53\nwww\tIN A\t192.0.2.80\n'
	for l in "$@"; do
		printf '%s\n' "$l"
	done
}

_sec_starts=0
sec_start_dataplane() {
	local port=$1
	shift
	_sec_starts=$((_sec_starts + 1))
	dp_log=$T/dp.$_sec_starts.log
	bg_start pharos-dataplane "$dp_log" "$PHAROS_DATAPLANE" \
		--listen "127.0.0.1:$port" --socket "$T/dp.sock" "$@"
	dp_pid=$BG_PID
}

sec_start_control() {
	_sec_starts=$((_sec_starts + 1))
	ctl_log=$T/ctl.$_sec_starts.log
	# shellcheck disable=SC2086 # SEC_CONTROL_ENV: words VAR=VALUE
	bg_start pharos-control "$ctl_log" env ${SEC_CONTROL_ENV:-} "$PHAROS_CONTROL" \
		-c "$T/pharos.conf" -f
	ctl_pid=$BG_PID
}

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
