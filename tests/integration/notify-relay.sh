#!/usr/bin/env bash
# notify-relay: the dataplane's NOTIFY relay and expired zones (doc/ipc.md: IPC_SUBSCRIBE,
# IPC_NOTIFY, IPC_NOTIFY_ANSWER, IPC_EXPIRE), with pharos-dataplane alone and the test peer
# tests/dataplane/ipc_peer on its management socket (no pharos-control):
#   1. no subscriber: NOTIFY over UDP and TCP is answered NOTAUTH by the dataplane itself
#   2. a subscriber that answers: UDP to a specific address, UDP to a wildcard listener
#      (from 127.0.0.2), UDP over IPv6, TCP with a query pipelined behind the NOTIFY: each
#      gets the peer's response (ID matched) from the address and port it was sent to, the
#      TCP query after it; the peer saw the right source, destination and transport; relay
#      ids 1..5; a NOTIFY over 4096 bytes (TCP) is skipped and counted; a subscriber that is
#      always inside a request (dpconn queues the NOTIFYs) answers them too
#   3. a subscriber that answers only with bogus ids: nothing is answered, over UDP and TCP
#      (the pipelined query still is, once the relay gave up); counted as dropped
#   4. the subscriber gone: NOTAUTH again
#   5. expire / a LOAD keeps it / un-expire: SERVFAIL with EDE 24, the status flag, the
#      other zone unaffected, counters
#   6. a restarted dataplane with the <stem>.expired marker in its state dir starts expired
# The dataplane must exit 0 on SIGTERM every time.
#
# Environment: PHAROS_DATAPLANE, PHAROS_ZONE, IPC_PEER.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need_dnspython
need_exe "${PHAROS_DATAPLANE:?}" "${PHAROS_ZONE:?}" "${IPC_PEER:?}"
tmpdir_make notify-relay

ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true	# inside our namespace only
p1=5361		# 127.0.0.1
p2=5362		# 0.0.0.0 (wildcard: replies need IP_PKTINFO)
p3=5363		# [::] (wildcard, IPv6)
sock=$T/dp.sock
client() { "$PY" "$here/../lib/notifyclient.py" "$@"; }
peer() { "$IPC_PEER" "$sock" "$@"; }

mkdir -p "$T/state"
for z in one two; do
	zone_text "$z.test." 7 >"$T/$z.zone"
	"$PHAROS_ZONE" compile "$T/$z.zone" --origin "$z.test." -o "$T/state/$z.test.7.img" \
		>/dev/null || fail "cannot compile $z.test."
done

start_dataplane() {
	dataplane_start "$p1" --listen "0.0.0.0:$p2" --listen "[::]:$p3" --workers 2 \
		--state-dir "$T/state"
	wait_dns 127.0.0.1 "$p1" two.test. SOA 20 || fail "pharos-dataplane does not answer"
}

start_peer() {	# MODE
	peer_out=$T/peer.$1.out
	bg_start2 ipc_peer "$peer_out" "$T/peer.$1.err" "$IPC_PEER" "$sock" subscribe "$1"
	peer_pid=$BG_PID
	wait_line "$peer_out" "subscribed: subscribed to NOTIFY" "$peer_pid" 10 ||
		fail "ipc_peer did not subscribe: $(cat "$T/peer.$1.err")"
}

# Stop the subscriber, and return once the dataplane knows it is gone: its one management
# thread saw the subscriber's socket close (readable at once) before it accepted the STATUS
# connection behind it. Without this, a NOTIFY sent meanwhile is relayed to nobody and
# dropped (relay.c, "the subscriber left meanwhile"): no answer at all, not NOTAUTH.
stop_peer() {
	bg_stop "$peer_pid" 5 || fail "ipc_peer did not stop cleanly"
	peer status >/dev/null || fail "pharos-dataplane does not answer STATUS"
}

# The peer logged this NOTIFY: "notify ID TRANSPORT SRC DST LEN QID" (from the client's
# "sent SRC PORT QID" line).
peer_logged() {	# TRANSPORT SRC_TEXT DST_TEXT QID
	awk -v t="$1" -v s="$2" -v d="$3" -v q="$4" \
		'$1 == "notify" && $3 == t && $4 == s && $5 == d && $7 == q { f = 1 }
		 END { exit !f }' "$peer_out"
}

peer_saw() {	# SENT_LINE TRANSPORT SRC_TEXT DST_TEXT
	local qid
	qid=$(awk '{ print $4 }' <<<"$1")
	retry_until 5 peer_logged "$2" "$3" "$4" "$qid" ||
		fail "the peer did not see the $2 NOTIFY $qid from $3 to $4: $(cat "$peer_out")"
}

status_field() {	# WHAT: sum of one counter over every thread
	peer status | awk -v f="$1" '$1 == "worker" { for (i = 2; i < NF; i++) if ($i == f) s += $(i + 1) } END { print s + 0 }'
}

# --- 1. no subscriber: the dataplane's own NOTAUTH ------------------------------------------
start_dataplane
client udp --server 127.0.0.1 --port "$p1" --expect notauth >/dev/null
client tcp --server 127.0.0.1 --port "$p1" --expect notauth >/dev/null
log "no subscriber: NOTIFY answered NOTAUTH over UDP and TCP"

# --- 2. a subscriber answers -------------------------------------------------------------
start_peer answer
sent=$(client udp --server 127.0.0.1 --port "$p1" --expect answer)
peer_saw "$sent" udp "127.0.0.1:$(awk '{ print $3 }' <<<"$sent")" "127.0.0.1:$p1"
sent=$(client udp --server 127.0.0.2 --bind 127.0.0.1 --port "$p2" --expect answer)
peer_saw "$sent" udp "127.0.0.1:$(awk '{ print $3 }' <<<"$sent")" "127.0.0.2:$p2"
sent=$(client udp --server ::1 --port "$p3" --expect answer)
peer_saw "$sent" udp "[::1]:$(awk '{ print $3 }' <<<"$sent")" "[::1]:$p3"
sent=$(client tcp --server 127.0.0.1 --port "$p1" --expect answer)
peer_saw "$sent" tcp "127.0.0.1:$(awk '{ print $3 }' <<<"$sent")" "127.0.0.1:$p1"
sent=$(client tcp --server ::1 --port "$p3" --expect answer)
peer_saw "$sent" tcp "[::1]:$(awk '{ print $3 }' <<<"$sent")" "[::1]:$p3"
ids=$(awk '$1 == "notify" { print $2 }' "$peer_out" | tr '\n' ' ')
[ "$ids" = "1 2 3 4 5 " ] || fail "relay ids are not 1..5 in order: $ids"
[ "$(status_field notify_relayed)" = 5 ] || fail "notify_relayed is not 5: $(peer status)"
[ "$(status_field notify_answered)" = 5 ] || fail "notify_answered is not 5: $(peer status)"
[ "$(status_field notify_dropped)" = 0 ] || fail "notify_dropped is not 0: $(peer status)"
client tcp --server 127.0.0.1 --port "$p1" --expect big >/dev/null
[ "$(status_field notify_dropped)" = 1 ] || fail "an oversize NOTIFY is not dropped: $(peer status)"
log "subscriber: UDP (specific, wildcard v4, v6) and TCP (pipelined) get its answers from the right address"

# A subscriber that is always inside a request (STATUS after STATUS, never idle): the NOTIFYs
# reach it while it waits for a reply; dpconn hands them over after the reply.
stop_peer
start_peer busy
sent=$(client udp --server 127.0.0.1 --port "$p1" --expect answer)
peer_saw "$sent" udp "127.0.0.1:$(awk '{ print $3 }' <<<"$sent")" "127.0.0.1:$p1"
client tcp --server 127.0.0.1 --port "$p1" --expect answer >/dev/null
log "a subscriber busy with requests answers NOTIFYs too (queued during its waits)"

# --- 3. only bogus ids: nothing answered -----------------------------------------------------
stop_peer
start_peer bogus
client udp --server 127.0.0.1 --port "$p1" --expect none >/dev/null
client tcp --server 127.0.0.1 --port "$p1" --expect none >/dev/null
[ "$(grep -c '^notify ' "$peer_out")" = 2 ] || fail "the bogus peer did not see 2 NOTIFYs"
dropped_is() { [ "$(status_field notify_dropped)" = "$1" ]; }
retry_until 5 dropped_is 3 || fail "notify_dropped is not 3: $(peer status)"
[ "$(status_field notify_answered)" = 7 ] || fail "a bogus id was answered: $(peer status)"
log "answers under bogus ids: nothing sent, the TCP query behind the NOTIFY still answered"

# --- 4. the subscriber gone: NOTAUTH again -------------------------------------------------
stop_peer
client udp --server 127.0.0.1 --port "$p1" --expect notauth >/dev/null
client tcp --server 127.0.0.1 --port "$p1" --expect notauth >/dev/null
log "subscriber gone: NOTAUTH again"

# --- 5. expire, a load keeps it, un-expire ---------------------------------------------------
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode NOERROR
out=$(peer expire one.test. 1) || fail "expire refused: $out"
[ "$out" = "ok: one.test.: expired" ] || fail "expire said: $out"
client query --server 127.0.0.1 --port "$p1" --name www.one.test. --rcode SERVFAIL --ede 24
client query --server ::1 --port "$p3" --name one.test. --rcode SERVFAIL --ede 24
client query --server 127.0.0.1 --port "$p1" --name two.test. --rcode NOERROR
peer status | grep -qx "zone one.test. serial 7 flags 1 expired" || fail "status: $(peer status)"
peer status | grep -qx "zone two.test. serial 7 flags 0" || fail "status: $(peer status)"
[ "$(status_field expired)" = 2 ] || fail "counter expired is not 2: $(peer status)"
out=$(peer load one.test. "$T/state/one.test.7.img") || fail "load refused: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode SERVFAIL --ede 24
out=$(peer expire nothere.test. 1) && fail "expire of a zone not loaded succeeded: $out"
[ "$out" = "not found: nothere.test.: zone not loaded" ] || fail "expire nothere.test. said: $out"
out=$(peer expire one.test. 0) || fail "un-expire refused: $out"
[ "$out" = "ok: one.test.: serving again" ] || fail "un-expire said: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode NOERROR
peer status | grep -qx "zone one.test. serial 7 flags 0" || fail "status: $(peer status)"
log "expired zone: SERVFAIL + EDE 24, flag in status, kept across a load, un-expired"
# a LOAD with IPC_LOAD_EXPIRED publishes the zone expired at once: a zone new to the
# dataplane (unloaded first), and one it serves (not expired)
out=$(peer unload one.test.) || fail "unload refused: $out"
out=$(peer load one.test. "$T/state/one.test.7.img" expired) || fail "load expired refused: $out"
[ "$out" = "ok: loaded one.test. serial 7 (3 names), expired" ] || fail "load expired said: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode SERVFAIL --ede 24
peer status | grep -qx "zone one.test. serial 7 flags 1 expired" || fail "status: $(peer status)"
out=$(peer expire one.test. 0) || fail "un-expire refused: $out"
out=$(peer load one.test. "$T/state/one.test.7.img" expired) || fail "load expired refused: $out"
[ "$out" = "ok: loaded one.test. serial 7 (3 names), replaced serial 7, expired" ] ||
	fail "load expired said: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode SERVFAIL --ede 24
out=$(peer expire one.test. 0) || fail "un-expire refused: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode NOERROR
log "load expired: SERVFAIL from the load on, without an IPC_EXPIRE"

# --- 6. the marker: a restarted dataplane starts expired --------------------------------------
stop_clean pharos-dataplane "$dp_pid"
: >"$T/state/one.test.expired"
start_dataplane
grep -qx "pharos-dataplane: one.test. starts expired (SERVFAIL): $T/state/one.test.expired exists" \
	"$dp_log" || fail "no log line for the marker: $(cat "$dp_log")"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode SERVFAIL --ede 24
client query --server 127.0.0.1 --port "$p1" --name two.test. --rcode NOERROR
peer status | grep -qx "zone one.test. serial 7 flags 1 expired" || fail "status: $(peer status)"
out=$(peer expire one.test. 0) || fail "un-expire refused: $out"
client query --server 127.0.0.1 --port "$p1" --name one.test. --rcode NOERROR
stop_clean pharos-dataplane "$dp_pid"
log "the .expired marker: a restarted dataplane serves SERVFAIL from its first answer"
log "ok"
