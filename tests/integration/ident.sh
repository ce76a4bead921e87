#!/usr/bin/env bash
# ident: the server identity an anycast operator asks for (doc/answer.md, "Identity"), set
# through pharos-serve, which passes its options on to pharos-dataplane. Three servers on
# one zone, asked with kdig:
#   - --nsid pop-x --identity pop-y.example --hide-version: NSID "pop-x" when asked (and
#     none when not), CH TXT id.server. and hostname.bind. "pop-y.example", version.bind.
#     and version.server. REFUSED
#   - no identity options (the defaults, as Knot): NSID and id.server. the host name,
#     version.bind. "Pharos VERSION"
#   - --hide-nsid --hide-identity --version-string "v 9": no NSID, id.server. and
#     hostname.bind. REFUSED, version.server. "v 9"
# Each pharos-serve must then exit 0 on SIGTERM.
#
# Environment: PHAROS_SERVE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need kdig
need_exe "${PHAROS_SERVE:?}"
tmpdir_make ident

origin=ident.test.
zone_text "$origin" 1 >"$T/ident.zone"
host=$(hostname)

# The NSID of the SOA answer from 127.0.0.1:PORT as text, empty when there is none.
# Args: PORT [KDIG-OPTION...]
nsid_of() {
	local port=$1 out
	shift
	out=$(kdig +norec +time=2 +retry=0 "$@" -p "$port" @127.0.0.1 "$origin" SOA) ||
		fail "kdig $* SOA on port $port: no answer"
	grep -q 'status: NOERROR' <<<"$out" || fail "SOA on port $port: not NOERROR: $out"
	sed -n 's/^;; NSID: [0-9A-Fa-f]* "\(.*\)"$/\1/p' <<<"$out"
}

# "RCODE" or "RCODE TEXT" (TEXT as kdig quotes it) of a CH TXT query. Args: PORT NAME
ch_txt() {
	local port=$1 name=$2 out rcode txt
	out=$(kdig +norec +time=2 +retry=0 -p "$port" @127.0.0.1 CH TXT "$name") ||
		fail "kdig CH TXT $name on port $port: no answer"
	rcode=$(sed -n 's/.*status: \([A-Z]*\);.*/\1/p' <<<"$out")
	txt=$(sed -n 's/^[^;].*[[:space:]]CH[[:space:]]\{1,\}TXT[[:space:]]\{1,\}//p' <<<"$out")
	echo "$rcode${txt:+ $txt}"
}

# Args: WHAT GOT WANT
expect() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	log "$1: $2"
}

serve_start set 127.0.0.1:5371 "$T/set.sock" --nsid pop-x --identity pop-y.example \
	--hide-version "$origin=$T/ident.zone"
set_pid=$BG_PID
serve_start default 127.0.0.1:5372 "$T/default.sock" "$origin=$T/ident.zone"
default_pid=$BG_PID
serve_start hidden 127.0.0.1:5373 "$T/hidden.sock" --hide-nsid --hide-identity \
	--version-string "v 9" "$origin=$T/ident.zone"
hidden_pid=$BG_PID

# --nsid X --identity Y --hide-version
expect "set: NSID" "$(nsid_of 5371 +nsid)" pop-x
expect "set: NSID not asked" "$(nsid_of 5371)" ""
expect "set: id.server." "$(ch_txt 5371 id.server.)" 'NOERROR "pop-y.example"'
expect "set: hostname.bind." "$(ch_txt 5371 hostname.bind.)" 'NOERROR "pop-y.example"'
expect "set: version.bind." "$(ch_txt 5371 version.bind.)" REFUSED
expect "set: version.server." "$(ch_txt 5371 version.server.)" REFUSED

# the defaults
expect "default: NSID" "$(nsid_of 5372 +nsid)" "$host"
expect "default: id.server." "$(ch_txt 5372 id.server.)" "NOERROR \"$host\""
expect "default: hostname.bind." "$(ch_txt 5372 hostname.bind.)" "NOERROR \"$host\""
got=$(ch_txt 5372 version.bind.)
[[ $got =~ ^NOERROR\ \"Pharos\ [0-9][^\"]*\"$ ]] ||
	fail "default: version.bind.: got '$got', want 'NOERROR \"Pharos VERSION\"'"
log "default: version.bind.: $got"

# --hide-nsid --hide-identity --version-string STR
expect "hidden: NSID" "$(nsid_of 5373 +nsid)" ""
expect "hidden: id.server." "$(ch_txt 5373 id.server.)" REFUSED
expect "hidden: hostname.bind." "$(ch_txt 5373 hostname.bind.)" REFUSED
expect "hidden: version.server." "$(ch_txt 5373 version.server.)" 'NOERROR "v 9"'

stop_clean "pharos-serve (set)" "$set_pid"
stop_clean "pharos-serve (default)" "$default_pid"
stop_clean "pharos-serve (hidden)" "$hidden_pid"
log ok
