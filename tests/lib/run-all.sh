#!/usr/bin/env bash
# `make test`: every test of the normal build, then every test of a sanitizer build.
#
# Usage: tests/lib/run-all.sh BUILD_DIR ASAN_BUILD_DIR
# Both runs always happen (a failure in the first does not hide the second); the exit status
# is non-zero if either failed. The output ends with meson's summary of the sanitizer run,
# then one line with the totals of both runs.
set -uo pipefail

build=${1:?usage: run-all.sh BUILD_DIR ASAN_BUILD_DIR}
asan=${2:?usage: run-all.sh BUILD_DIR ASAN_BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2

# Sanitizer reports must stop the process and fail the test that started it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:print_summary=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}

logdir=$(mktemp -d "${TMPDIR:-/tmp}/pharos-test.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

# Run meson test in a build dir, keeping its output to count the results afterwards.
run_suite() {
	local dir=$1 log=$2
	shift 2
	meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# "Ok:  12" etc. from meson's summary; 0 when absent.
count() {
	awk -v k="$2" '$0 ~ "^" k ":" { n = $NF } END { print n + 0 }' "$1"
}

echo "=== tests: $build ==="
run_suite "$build" "$logdir/plain.log"
rc_plain=$?

echo "=== tests under AddressSanitizer + UBSan: $asan ==="
rc_asan=0
if [ ! -f "$asan/build.ninja" ]; then
	meson setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false || rc_asan=$?
fi
if [ "$rc_asan" -eq 0 ]; then
	ninja -C "$asan" || rc_asan=$?
fi
if [ "$rc_asan" -eq 0 ]; then
	# Sanitized daemons are slower: give every test three times its timeout.
	run_suite "$asan" "$logdir/asan.log" --timeout-multiplier 3
	rc_asan=$?
else
	echo "sanitizer build failed (exit $rc_asan)"
fi

ok=0 fail=0 skip=0
for f in "$logdir"/plain.log "$logdir"/asan.log; do
	[ -f "$f" ] || continue
	ok=$((ok + $(count "$f" Ok)))
	fail=$((fail + $(count "$f" Fail) + $(count "$f" Timeout) + $(count "$f" "Unexpected Pass")))
	skip=$((skip + $(count "$f" Skipped)))
done
if [ "$rc_asan" -ne 0 ] && [ "$fail" -eq 0 ]; then
	fail=1	# the sanitizer build itself failed: count it, so the totals never read clean
fi
echo "plain build: exit $rc_plain; sanitizer build: exit $rc_asan"
echo "total: $ok passed, $fail failed, $skip skipped"
if [ "$rc_plain" -ne 0 ] || [ "$rc_asan" -ne 0 ]; then
	exit 1
fi
exit 0
