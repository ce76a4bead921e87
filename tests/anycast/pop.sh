#!/usr/bin/env bash
# anycast-pop: two PoPs behind a BIRD 2 router with ECMP, a client sending from 64 ports.
#   1. both routes of 192.0.2.53/32 and of 2001:db8:53::53/128 at the router (birdc show
#      route, and the kernel tables have both next hops)
#   2. NSID: answers from both PoPs (pop-a, pop-b), IPv4 and IPv6, nothing lost
#   3. PoP A's dataplane killed (SIGKILL) -> its routes leave the router; every query (IPv4
#      and IPv6) is answered by pop-b; restarted -> announced again
#   4. PoP A's dataplane frozen (SIGSTOP) -> withdrawn, pop-b answers all; SIGCONT -> back
#   5. PoP B's pharos-control killed (SIGKILL) -> pharos-exabgp withdraws both by itself,
#      pop-a answers all; started again -> back
#   6. `pharosctl drain` of PoP A during a bounded stream (64 ports, 200 qps, 4 s): every
#      query answered, the route left; health says draining, then drained after the grace
#      period; `undrain` -> announced again
#   7. SIGTERM to PoP A's pharos-control during a stream: route withdrawn, every query
#      answered, the daemon exits 0 only after the grace period
# Environment: PHAROSCTL, PHAROS_CONTROL, PHAROS_DATAPLANE, PHAROS_EXABGP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/netns.sh
. "$here/../lib/netns.sh"
# shellcheck source=tests/anycast/lib.sh
. "$here/lib.sh"
# A stuck-worker / status bound of 2 s instead of 200 ms: on a starved CI machine (sanitizer
# build, the pinned worker sharing its CPU with everything else) the PoP that stays must not
# withdraw too while the other is failed or drained. The bench measures the default.
POP_STUCK=2s
tmpdir_make anycast-pop
chmod 755 "$T"
pop_setup
both="$POP_HOP_A $POP_HOP_B"
wait_s=30

# 1. both routes
pop_wait_routes "$both" $wait_s || fail "router kernel table: '$(pop_routes)', expected '$both'"
shown=$(birdc -s "$T/r/bird.ctl" show route "$POP_ADDR/32")
for hop in $POP_HOP_A $POP_HOP_B; do
	grep -q "via $hop" <<<"$shown" || fail "birdc show route lacks $hop: $shown"
done
pop_wait_routes6 "v-ra v-rb" $wait_s || fail "IPv6: router kernel table: '$(pop_routes6)'"
shown=$(birdc -s "$T/r/bird.ctl" show route "$POP_ADDR6/128")
for p in pop_a6 pop_b6; do
	grep -q "$p" <<<"$shown" || fail "birdc show route $POP_ADDR6/128 lacks $p: $shown"
done
log "1. both routes at the router: $(pop_routes); IPv6 via $(pop_routes6)"

# 2. NSID tells the PoPs apart
out=$(pop_client --ports 64 --once) || fail "queries lost: $out"
grep -q '^NSID pop-a ' <<<"$out" && grep -q '^NSID pop-b ' <<<"$out" ||
	fail "expected answers from both PoPs: $out"
out6=$(pop_client6 --ports 64 --once) || fail "IPv6 queries lost: $out6"
grep -q '^NSID pop-a ' <<<"$out6" && grep -q '^NSID pop-b ' <<<"$out6" ||
	fail "IPv6: expected answers from both PoPs: $out6"
log "2. $(tr '\n' ' ' <<<"$out"); IPv6: $(tr '\n' ' ' <<<"$out6")"

# 3. kill A's dataplane
{ kill -KILL "${DP_PID[a]}"; wait "${DP_PID[a]}"; } 2>/dev/null || true
pop_wait_routes "$POP_HOP_B" 5 || fail "A's route still at the router after its dataplane died: '$(pop_routes)'"
out=$(pop_client --ports 64 --once --expect-nsid pop-b) || fail "after the kill: $out"
grep -q 'withdraw .*hard: lost the dataplane' "$T/a/ctl.log" || fail "no withdraw line in A's log"
pop_wait_routes6 "v-rb" 5 || fail "A's IPv6 route still at the router: '$(pop_routes6)'"
out6=$(pop_client6 --ports 64 --once --expect-nsid pop-b) || fail "IPv6 after the kill: $out6"
log "3. dataplane A killed: routes gone, $(head -1 <<<"$out"), IPv6 $(head -1 <<<"$out6"), all from pop-b"
pop_start_dp a
pop_wait_routes "$both" $wait_s || fail "A not announced again after its dataplane restarted"
pop_wait_routes6 "v-ra v-rb" $wait_s || fail "A's IPv6 route not back"

# 4. freeze A's dataplane
kill -STOP "${DP_PID[a]}"
pop_wait_routes "$POP_HOP_B" 5 || { kill -CONT "${DP_PID[a]}"; fail "frozen dataplane A still announced: '$(pop_routes)'"; }
out=$(pop_client --ports 64 --once --expect-nsid pop-b) || { kill -CONT "${DP_PID[a]}"; fail "while A is frozen: $out"; }
kill -CONT "${DP_PID[a]}"
grep -q 'health up -> down: hard: dataplane did not answer' "$T/a/ctl.log" ||
	fail "no 'did not answer' state change in A's log"
log "4. dataplane A frozen: route gone, $(head -1 <<<"$out"), all from pop-b"
pop_wait_routes "$both" $wait_s || fail "A not announced again after SIGCONT"

# 5. kill B's pharos-control: pharos-exabgp withdraws on its own
{ kill -KILL "${CTL_PID[b]}"; wait "${CTL_PID[b]}"; } 2>/dev/null || true
pop_wait_routes "$POP_HOP_A" 5 || fail "B still announced without its pharos-control: '$(pop_routes)'"
out=$(pop_client --ports 64 --once --expect-nsid pop-a) || fail "after B's control died: $out"
grep -q 'lost pharos-control' "$T/b/exabgp.log" || fail "pharos-exabgp did not say it lost pharos-control"
pop_wait_routes6 "v-ra" 5 || fail "B's IPv6 route still at the router: '$(pop_routes6)'"
log "5. pharos-control B killed: route gone, $(head -1 <<<"$out"), all from pop-a"
rm -f "$T/b/ctl.sock"
pop_start_ctl b
pop_wait_routes "$both" $wait_s || fail "B not announced again after its pharos-control restarted"

# 6. drain A under a bounded stream
pop_client --ports 64 --qps 200 --seconds 4 --timeout 1 >"$T/drain.out" 2>&1 &
cl=$!
sleep 1
pop_ctl a drain >/dev/null || fail "pharosctl drain failed"
pop_wait_routes "$POP_HOP_B" 5 || fail "drained A still announced: '$(pop_routes)'"
pop_ctl a health | grep -q '^state: draining' || fail "health does not say draining"
wait "$cl" || fail "queries lost during the drain: $(cat "$T/drain.out")"
log "6. drain A: $(head -1 "$T/drain.out"), route gone"
sleep "$GRACE_S"
pop_ctl a health | grep -q '^state: draining (drained)' || fail "not drained after the grace: $(pop_ctl a health)"
pop_ctl a --json health | grep -q '"drained":true' || fail "health --json lacks drained"
pop_ctl a undrain >/dev/null || fail "pharosctl undrain failed"
pop_wait_routes "$both" $wait_s || fail "A not announced again after undrain"

# 7. SIGTERM to A's pharos-control: withdraw, grace, stop; the dataplane keeps answering
pop_client --ports 64 --qps 200 --seconds 3 --timeout 1 >"$T/term.out" 2>&1 &
cl=$!
sleep 0.5
t0=$(date +%s%N)
kill -TERM "${CTL_PID[a]}"
pop_wait_routes "$POP_HOP_B" 5 || fail "A still announced after SIGTERM to its pharos-control"
rc=0
bg_wait "${CTL_PID[a]}" $((GRACE_S + 10)) || rc=$?
t1=$(date +%s%N)
[ "$rc" = 0 ] || fail "pharos-control A exited $rc after SIGTERM"
[ $(((t1 - t0) / 1000000)) -ge $((GRACE_S * 1000)) ] ||
	fail "pharos-control A stopped after $(((t1 - t0) / 1000000)) ms, before the grace period"
wait "$cl" || fail "queries lost while A's pharos-control stopped: $(cat "$T/term.out")"
log "7. SIGTERM to control A: route gone, stopped after $(((t1 - t0) / 1000000)) ms, $(head -1 "$T/term.out")"
log "PASS"
