#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Fault codes and the daemon's link events, produced for real:
#  - snooper_missing: the DNS snooper's TC filter removed from lan0
#    (status and verify name it; attach restores it);
#  - prog_pin_missing: the program pin removed (status and verify name
#    it; attach pins the running program again, same id);
#  - `edpgate run` restores on an rtnetlink link event: lan0 deleted and
#    re-created behind its back is re-attached by the check the event
#    triggers, which the daemon says (`restored ... (on a link event)`,
#    after its `rtnetlink: lan0 ...` line), while a fault no link event
#    reports (a pin removed) is restored by the once-a-second poll, without
#    that mark.  The delay is printed, not asserted.
. "$(dirname "$0")/lib.sh"
require_root
for c in socat jq bpftool tc; do command -v "$c" >/dev/null || skip "no $c"; done

GW=00:40:9d:00:00:01
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
LOG=$E2E_TMP/run.log
pair_rules "$RULES"
topo_pair "$GW"
bpffs_private
bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for _ in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done

# fault CODE WHERE PHRASE: status -j lists exactly that problem, not
# healthy; verify exits 1 and names it
fault() {
	local out rc=0
	out=$(edp -j status) || fail "$1: status failed"
	jq -e --arg c "$1" --arg w "$2" '.healthy == false and
		([.problems[] | select(.code == $c and .where == $w)] | length) == 1' <<<"$out" >/dev/null ||
		fail "$1: status -j: $(jq -c .problems <<<"$out")"
	out=$(edp verify 2>&1) || rc=$?
	[ $rc -eq 1 ] && grep -qF -- "$3" <<<"$out" || fail "$1: verify (rc=$rc) does not say '$3': $out"
	ok "$1: status -j lists it, verify exits 1 saying \"$3\""
}
healthy() {
	edp -j status | jq -e '.healthy and (.problems | length == 0)' >/dev/null ||
		fail "$1: not healthy: $(edp status)"
	edp verify >/dev/null || fail "$1: verify: $(edp verify 2>&1)"
}

edp attach lan0 --mode native >/dev/null || fail "attach"
edp gateway add "$GW" --name gw1 >/dev/null || fail "gateway add"
healthy "attached"
# (edpgate(8): without --max-gateways the maps are sized to 1.5 times the
# site, at least 64 slots; one gateway fits the smallest size)
[ "$(edp -j status | jq .gateway_capacity)" = 64 ] || fail "default capacity: $(edp -j status | jq .gateway_capacity)"

# ---- snooper_missing --------------------------------------------------------
egress_filters() { in_ns "$R_NS" tc -j filter show dev lan0 egress | jq '[.[] | select(.options.bpf_name)] | length'; }
[ "$(egress_filters)" -ge 1 ] || fail "no snooper on lan0's egress"
in_ns "$R_NS" tc filter del dev lan0 egress
[ "$(egress_filters)" = 0 ] || fail "could not remove the snooper"
fault snooper_missing lan0 "lan0: the DNS snooper is not attached"
out=$(edp attach lan0 2>&1) || fail "attach did not restore the snooper: $out"
grep -qF "DNS snooper on lan0" <<<"$out" || fail "attach does not say it restored the snooper: $out"
[ "$(egress_filters)" -ge 1 ] || fail "attach did not put the snooper back"
healthy "snooper restored"
ok "snooper_missing: attach puts the snooper back"

# ---- prog_pin_missing -------------------------------------------------------
prog_id() { ip -n "$R_NS" -j -d link show lan0 | jq '.[0].xdp.prog.id'; }
id=$(prog_id)
rm "$PIN_DIR/prog"
fault prog_pin_missing pins "program pin prog missing"
out=$(edp attach lan0 2>&1) || fail "attach did not restore the program pin: $out"
[ -e "$PIN_DIR/prog" ] || fail "attach did not pin the program again"
[ "$(bpftool -j prog show pinned "$PIN_DIR/prog" | jq .id)" = "$id" ] && [ "$(prog_id)" = "$id" ] ||
	fail "the pinned program is not the running one (id $id)"
healthy "program pin restored"
ok "prog_pin_missing: attach pins the running program (id $id) again"

# ---- the daemon: link event vs. poll ----------------------------------------
setsid nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" -v --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
	--rules "$RULES" run >>"$LOG" 2>&1 &
D_PID=$!
E2E_PIDS+=("$D_PID")
wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "daemon did not start"; }

# A fault without a link event: found by the poll, restored without the mark.
: >"$LOG"
rm "$PIN_DIR/edpg_dst4"
wait_for 10 logged "restored map pin edpg_dst4" || { cat "$LOG"; fail "the daemon did not restore the map pin"; }
logged "(on a link event)" && { cat "$LOG"; fail "a pin removal (no link event) was said to be a link event"; }
ok "a removed pin: restored by the poll (no link-event mark)"

# lan0 deleted and re-created: the events bring the restore.
wait_for 10 edp verify >/dev/null 2>&1 || fail "not in sync before the link test"
: >"$LOG"
old_ifindex=$(edp -j status | jq '.interfaces[0].ifindex')
t0=$(date +%s%N)
ip -n "$R_NS" link del lan0
ip -n "$R_NS" link add lan0 type veth peer name "${E2E_ID}h" netns "$H_NS"
wait_for 10 logged "restored XDP link on lan0" || { cat "$LOG"; fail "the daemon did not restore lan0's XDP link"; }
t1=$(date +%s%N)
grep -F "restored XDP link on lan0" "$LOG" | grep -qF "(on a link event)" ||
	{ cat "$LOG"; fail "lan0 re-created: restored, but not on the link event"; }
ev=$(grep -n "rtnetlink: lan0" "$LOG" | head -1 | cut -d: -f1)
rs=$(grep -n "restored XDP link on lan0" "$LOG" | head -1 | cut -d: -f1)
[ -n "$ev" ] && [ "$ev" -lt "$rs" ] || { cat "$LOG"; fail "no rtnetlink line before the restore"; }
[ "$(edp -j status | jq '.interfaces[0].ifindex')" != "$old_ifindex" ] || fail "lan0 has its old ifindex"
[ "$(prog_id)" != null ] || fail "no XDP program on the new lan0"
echo "  (restored $(((t1 - t0) / 1000000)) ms after the delete, the poll runs once a second)"
# The new veth, configured like the old one: the filter works on it.
ip -n "$H_NS" link set "${E2E_ID}h" name eth0
ip -n "$H_NS" link set eth0 address "$GW"
ip -n "$R_NS" addr add 10.77.0.1/24 dev lan0
ip -n "$H_NS" addr add 10.77.0.2/24 dev eth0
ip -n "$R_NS" link set lan0 up
ip -n "$H_NS" link set eth0 up
wait_for 10 tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gw1 cannot reach 3199 on the re-created lan0"
wait_for 10 edp verify >/dev/null 2>&1 || fail "verify after the daemon's restore: $(edp verify 2>&1)"
drops=$(edp -j stats | jq '.global.unknown_mac.drop_packets')
ip -n "$H_NS" link set eth0 address 02:00:00:00:00:99
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "an unknown MAC passes the re-created lan0"
[ "$(edp -j stats | jq '.global.unknown_mac.drop_packets')" -gt "$drops" ] || fail "no unknown_mac drop counted"
ok "lan0 deleted and re-created: restored on the rtnetlink event, filtering again"

kill -TERM "$D_PID"
wait "$D_PID" || { cat "$LOG"; fail "daemon exit status on SIGTERM"; }
