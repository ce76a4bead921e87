#!/usr/bin/env bash
# tcp: DNS over TCP as doc/dataplane.md promises it (RFC 7766), against pharos-serve. The
# checks are in tests/lib/tcpcheck.py (its header lists what each asserts):
#   - 20 queries pipelined in one write: 20 answers, same order (IDs), each right
#   - a query sent a byte at a time; two queries split across writes at odd boundaries
#   - a TXT RRset over 16 KiB arrives whole; a slow reader with a small window gets 60 of
#     them complete and in order (the server had to wait for the socket)
#   - shutdown(SHUT_WR) after 3 queries: 3 answers, then EOF
#   - a zero-length prefix, a response (QR=1), an 11-byte message: no answer for them or
#     anything after them, the connection closed at once (QR=1 and short count as dropped)
#   - AXFR and IXFR over TCP: REFUSED (doc/answer.md), the connection keeps serving
#   - UDP and TCP give the same responses to the same queries (TC aside)
#   - idle connections (silent, after an answer, stalled mid-prefix) closed by the server
#     after more than 5 s and within 20 s (the timeout is 10 s)
#   - 270 connections: 256 usable, 14 closed by the server; after closing them all, 256
#     new ones are usable
# pharos-serve must then exit 0 on SIGTERM.
#
# Environment: PHAROS_SERVE, PHAROSCTL (executables).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
netns_enter "$@"
need_dnspython
need_exe "${PHAROS_SERVE:?}" "${PHAROSCTL:?}"
tmpdir_make tcp

origin=tcp.test.
port=5360
check=$here/../lib/tcpcheck.py

"$PY" "$check" zone "$origin" >"$T/tcp.zone"
serve_start pharos-serve "127.0.0.1:$port" "$T/control.sock" "$origin=$T/tcp.zone"
server_pid=$BG_PID

rc=0
"$PY" "$check" run --server "127.0.0.1:$port" --origin "$origin" \
	--pharosctl "$PHAROSCTL" --control-socket "$T/control.sock" || rc=$?
[ "$rc" -eq 0 ] || fail "TCP checks failed (exit $rc, FAIL lines above)"
bg_alive "$server_pid" || fail "pharos-serve is gone after the checks"
stop_clean pharos-serve "$server_pid"
log "ok"
