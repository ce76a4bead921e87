#!/usr/bin/env bash
# cleanup: tests/lib/netns.sh leaves nothing behind when a test fails. A test script (run
# here as a child, with the same library) starts pharos-serve, freezes its dataplane
# (SIGSTOP: it cannot act on SIGTERM, so pharos-serve waits for it beyond the library's
# 2 s), and fails. Checks once it exited: its status is the failure's (1), and none of the
# processes it started (pharos-serve, pharos-dataplane, pharos-control) is alive; its temp
# dir is gone.
# Environment: PHAROS_SERVE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
need_exe "${PHAROS_SERVE:?}"

if [ "${1:-}" = inner ]; then	# the failing test: PIDS file in $2
	TEST_NAME=cleanup-inner
	netns_enter "$@"
	tmpdir_make cleanup-inner
	printf '$ORIGIN c.test.\n$TTL 60\n@ SOA ns h 1 60 60 600 60\n@ NS ns\nns A 127.0.0.1\n' \
		>"$T/c.zone"
	serve_start serve 127.0.0.1:5353 "$T/ctl.sock" "c.test.=$T/c.zone"
	kids=$(ps -o pid= --ppid "$BG_PID" | tr -d ' ' | tr '\n' ' ')
	[ -n "$kids" ] || fail "pharos-serve has no children"
	dp=$(for k in $kids; do ps -o pid=,comm= -p "$k"; done | awk '$2 ~ /^pharos-datapla/ { print $1 }')
	echo "$T $BG_PID $kids" >"$2"
	[ -n "$dp" ] || fail "no pharos-dataplane among $kids"
	kill -STOP "$dp"
	fail "deliberately, with pharos-serve running and its dataplane ($dp) stopped"
fi

tmpdir_make cleanup
rc=0
PHAROS_KEEP_TMP=0 bash "$0" inner "$T/pids" >"$T/inner.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/inner.log" >&2; fail "inner test exit $rc, expected 1"; }
read -r tdir pids <"$T/pids"
log "inner test failed as it should; it had started $pids"
[ "$(wc -w <<<"$pids")" -ge 3 ] || fail "expected pharos-serve and two children: $pids"
# A SIGKILLed process may take a moment to be gone (an ASan build unmaps a lot), and one
# whose parent died first stays a zombie here (nothing reaps it): neither is "running".
for ((i = 0; i < 50; i++)); do
	busy=0
	for p in $pids; do
		_bg_running "$p" && busy=1
	done
	[ "$busy" = 0 ] && break
	sleep 0.1
done
left=""
for p in $pids; do
	if _bg_running "$p"; then
		left="$left $p($(ps -o comm= -p "$p"))"
		kill -CONT "$p" 2>/dev/null	# do not leave them behind either
		kill -KILL "$p" 2>/dev/null
	fi
done
[ -z "$left" ] || fail "left running after the failed test:$left"
[ ! -e "$tdir" ] || fail "temp dir $tdir left behind"
log PASS
