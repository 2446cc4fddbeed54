#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Maps sized to the site, grown under a live link.  Without --max-gateways
# attach sizes the gateway maps for 1.5 times the site or more (64 slots at
# least); an enrolment that does not fit grows them:
#  - quiet: every gateway's counters and records are the same after the
#    growth as before (stats -j compared whole), the link is the same, its
#    program and the capacity-sized maps are new, every other map is the
#    same map (same id: addresses, events, pending were not copied);
#  - under a flow at line rate from an enrolled gateway: not one frame
#    dropped while the link is switched, and a gateway given a slot beyond
#    the old capacity passes at once;
#  - the DNS snooper is switched onto the new gateway table;
#  - the daemon (`edpgate run`), which holds the maps open, follows a
#    growth made by another command: its reload pushes into the new maps
#    (verify passes, the flow still passes) and says so in its log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
for c in jq bpftool; do command -v "$c" >/dev/null || skip "no $c"; done
BENCH=$ROOT/build/tests/bench/bench_live
[ -x "$BENCH" ] || fail "$BENCH not built (make test-bins)"

GWMAC=02:00:00:00:ff:01
topo_pair "$GWMAC"
in_ns "$H_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
LOG=$E2E_TMP/run.log
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.77.9.0/24 198.51.100.7 2001:db8::7
allow edp-ssl,ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

max_entries() { bpftool -j map show pinned "$PIN_DIR/$1" | jq .max_entries; }
map_id() { bpftool -j map show pinned "$PIN_DIR/$1" | jq .id; }
prog_id() { bpftool -j prog show pinned "$PIN_DIR/$1" | jq .id; }
link_ids() { bpftool -j link show pinned "$PIN_DIR/link_lan0" | jq -c '[.id, .prog_id]'; }
capacity() { edp -j status | jq .gateway_capacity; }
# Every map the capacity does not size, by id.
shared_ids() {
	for m in edpg_ctl edpg_config edpg_gw_filter edpg_ports edpg_services edpg_dst4 edpg_dst6 edpg_cidr4 \
		edpg_cidr6 edpg_global edpg_ev_global edpg_events edpg_pending edpg_learn; do
		printf '%s=%s ' $m "$(map_id $m)"
	done
}
gw_json() { edp -j stats "$1" | jq -c --arg m "$1" '.gateways[] | select(.mac == $m)'; }
allowed() { gw_json "$1" | jq '[.allowed[] | select(.service == "edp-ssl") | .packets] | add // 0'; }
allowed_gt() { [ "$(allowed "$1")" -gt "$2" ]; }
global_drops() { edp -j stats | jq '[.global[].drop_packets] | add'; }
veth_tx_dropped() { in_ns "$H_NS" ip -s -j link show eth0 | jq '.[0].stats64.tx.dropped'; }
# gwfile FILE FIRST LAST: gateways 02:00:00:01:HH:LL for FIRST..LAST
gwfile() {
	awk -v a="$2" -v b="$3" 'BEGIN { for (i = a; i <= b; i++)
		printf "gateway 02:00:00:01:%02x:%02x\n", int(i / 256), i % 256 }' >"$1"
}
# flow MAC SECONDS: TCP SYNs from MAC to 10.77.9.9:3199 at line rate, in
# the background until $STOP exists; "sent ns" in $GEN_OUT.
STOP=$E2E_TMP/stop
GEN_OUT=$E2E_TMP/gen.out
flow() {
	rm -f "$STOP"
	in_ns "$H_NS" "$BENCH" gen eth0 "$2" -s "$1" -d 02:00:00:00:ee:ee -S 10.77.0.2 -D 10.77.9.9 \
		-p tcp -P 3199 -f "$STOP" >"$GEN_OUT" 2>"$E2E_TMP/gen.err" &
	GEN_PID=$!
	E2E_PIDS+=("$GEN_PID")
	wait_for 5 allowed_gt "$1" "${3:-0}" || fail "the flow does not reach edpgate: $(cat "$E2E_TMP/gen.err")"
}
flow_stop() {
	kill -0 "$GEN_PID" 2>/dev/null || fail "the generator stopped early: $(cat "$E2E_TMP/gen.err")"
	touch "$STOP"
	wait "$GEN_PID" || fail "generator: $(cat "$E2E_TMP/gen.err")"
}

# ---- sized to the site --------------------------------------------------------
edp attach lan0 --mode native >/dev/null || fail "attach"
[ "$(capacity)" = 64 ] && [ "$(max_entries edpg_gw_stats)" = 64 ] &&
	[ "$(max_entries edpg_gw_cold)" = 64 ] && [ "$(max_entries edpg_gateways)" = 128 ] ||
	fail "an empty site: capacity $(capacity), gw_stats $(max_entries edpg_gw_stats), gw_cold $(max_entries edpg_gw_cold), gateways $(max_entries edpg_gateways); want 64/64/64/128"
grep -q '^max-gateways' "$STATE_DIR/interfaces" && fail "a grown capacity recorded as fixed: $(cat "$STATE_DIR/interfaces")"
edp gateway add $GWMAC --name flowgw >/dev/null || fail "gateway add"
gwfile "$E2E_TMP/g1" 1 40
edp gateway import "$E2E_TMP/g1" >/dev/null || fail "import of 40"
[ "$(capacity)" = 64 ] || fail "41 gateways grew the maps: capacity $(capacity)"
ok "attach without --max-gateways: 64 slots (gw_stats, gw_cold 64, gateways 2 x 64); 41 gateways fit"

# ---- quiet growth: everything carried ------------------------------------------
flow $GWMAC 120
sleep 0.3
flow_stop
edp gateway add 02:00:00:01:00:05 --audit --replace >/dev/null || fail "gateway add --audit"
# (last_seen is compared raw below: its wall-clock rendering may round to
# another second from one command to the next)
stats_of() { edp -j stats | jq -S -c '[.gateways[] | del(.last_seen)] | sort_by(.mac)'; }
# raw_last_seen MAC: the data-path time in its counter slot (the first
# field, little-endian), latest CPU's, in hex; after a growth the old
# instance's time is in the carry map (edpg_gw_carry) beside it
raw_last_seen() {
	local s key
	s=$(edp -j gateway show "$1" | jq .slot)
	key="$((s & 255)) $((s >> 8 & 255)) $((s >> 16 & 255)) $((s >> 24))"
	{
		bpftool -j map lookup pinned "$PIN_DIR/edpg_gw_stats" key $key |
			jq -r '.values[].value[0:8] | map(ltrimstr("0x")) | reverse | join("")'
		[ ! -e "$PIN_DIR/edpg_gw_carry" ] ||
			bpftool -j map lookup pinned "$PIN_DIR/edpg_gw_carry" key $key 2>/dev/null |
			jq -r '.value[0:8] | map(ltrimstr("0x")) | reverse | join("")'
	} | sort | tail -1
}
before_stats=$(stats_of)
before_list=$(edp -j gateway list | jq -S -c 'sort_by(.mac)')
before_link=$(link_ids) before_prog=$(prog_id prog) before_shared=$(shared_ids)
before_gwmap=$(map_id edpg_gateways) before_snoop=$(prog_id snoop_prog)
a0=$(allowed $GWMAC) ls0=$(raw_last_seen $GWMAC)
[ "$a0" -gt 0 ] || fail "no allowed count before the growth"
gwfile "$E2E_TMP/g2" 41 200
out=$(edp gateway import "$E2E_TMP/g2" 2>&1) || fail "import of 160 more (201 in all): $out"
grep -q "gateway capacity 64 -> 512 for 201 gateways (1 links switched, counters kept)" <<<"$out" ||
	fail "the growth is not reported: $out"
[ "$(capacity)" = 512 ] && [ "$(max_entries edpg_gw_stats)" = 512 ] &&
	[ "$(max_entries edpg_gw_cold)" = 512 ] && [ "$(max_entries edpg_gateways)" = 1024 ] ||
	fail "201 gateways: capacity $(capacity), maps $(max_entries edpg_gw_stats)/$(max_entries edpg_gw_cold)/$(max_entries edpg_gateways), want 512/512/1024"
after_link=$(link_ids)
[ "$(jq '.[0]' <<<"$after_link")" = "$(jq '.[0]' <<<"$before_link")" ] || fail "the link was replaced: $before_link -> $after_link"
[ "$(jq '.[1]' <<<"$after_link")" = "$(prog_id prog)" ] && [ "$(prog_id prog)" != "$before_prog" ] ||
	fail "the link runs $after_link; pinned program $(prog_id prog), was $before_prog"
ip -n "$R_NS" -j -d link show lan0 | jq -e --argjson id "$(prog_id prog)" '.[0].xdp.prog.id == $id' >/dev/null ||
	fail "lan0 does not run the new program"
[ "$(shared_ids)" = "$before_shared" ] || fail "maps the capacity does not size were replaced: $before_shared -> $(shared_ids)"
[ "$(map_id edpg_gateways)" != "$before_gwmap" ] || fail "edpg_gateways is the old map"
# The 41 of before, their counters, records and audit flags, unchanged;
# the 160 new ones are extra.
jq -c '.[]' <<<"$before_stats" >"$E2E_TMP/stats.before"
stats_of | jq -c --argjson b "$before_stats" '.[] | select(.mac as $m | $b | map(.mac) | index($m))' >"$E2E_TMP/stats.after"
[ "$(raw_last_seen $GWMAC)" = "$ls0" ] || fail "last_seen $ls0 -> $(raw_last_seen $GWMAC) across the growth"
cmp -s "$E2E_TMP/stats.before" "$E2E_TMP/stats.after" ||
	fail "counters changed by the growth: $(diff "$E2E_TMP/stats.before" "$E2E_TMP/stats.after" | head -4)"
[ "$(edp -j gateway list | jq -S -c --argjson b "$before_list" '[sort_by(.mac)[] | select(.mac as $m | $b | map(.mac) | index($m))]')" = "$before_list" ] ||
	fail "gateway records changed by the growth"
[ "$(edp -j gateway list | jq length)" = 201 ] || fail "gateways: $(edp -j gateway list | jq length), want 201"
[ "$(edp -j stats | jq ".gateways | length")" = 201 ] || fail "stats lists $(edp -j stats | jq '.gateways | length') gateways"
edp verify >/dev/null || fail "verify after the growth: $(edp verify 2>&1)"
ok "64 -> 512 slots: link $(jq '.[0]' <<<"$after_link") kept, program $before_prog -> $(prog_id prog), 13 other maps the same, counters of the 41 identical ($a0 allowed), verify passes"

# The carried counters belong to the slot's gateway: deleted and enrolled
# again into the same slot, it starts from zero.
carried() {
	bpftool -j map lookup pinned "$PIN_DIR/edpg_gw_carry" key $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24)) 2>/dev/null | jq -e '.value' >/dev/null
}
slot0=$(edp -j gateway show $GWMAC | jq .slot)
carried "$slot0" || fail "no carried counters for $GWMAC (slot $slot0) after the growth"
edp gateway del $GWMAC >/dev/null && edp gateway add $GWMAC --name flowgw >/dev/null ||
	fail "gateway del + add $GWMAC"
[ "$(edp -j gateway show $GWMAC | jq .slot)" = "$slot0" ] ||
	fail "$GWMAC enrolled again into slot $(edp -j gateway show $GWMAC | jq .slot), not $slot0"
carried "$slot0" && fail "slot $slot0 still carries the deleted gateway's counters"
[ "$(allowed $GWMAC)" = 0 ] || fail "$GWMAC enrolled again starts at $(allowed $GWMAC) allowed"
ok "a carried slot enrolled again starts from zero"

# ---- the snooper reads the new gateway table -----------------------------------
snoop_maps() { bpftool -j prog show pinned "$PIN_DIR/snoop_prog" | jq -c '.map_ids'; }
[ "$(prog_id snoop_prog)" != "$before_snoop" ] || fail "the DNS snooper was not replaced"
snoop_maps | jq -e --argjson g "$(map_id edpg_gateways)" 'index($g) != null' >/dev/null ||
	fail "the snooper reads maps $(snoop_maps), not the gateway table $(map_id edpg_gateways)"
egress=$(in_ns "$R_NS" tc -j filter show dev lan0 egress | jq -c '[.[] | .options.prog.id? // empty]')
[ "$egress" = "[$(prog_id snoop_prog)]" ] || fail "lan0's egress filter runs $egress, not $(prog_id snoop_prog)"
ok "DNS snooper $before_snoop -> $(prog_id snoop_prog), on the new gateway table, lan0's filter switched"

# ---- growth under a line-rate flow, with the daemon running ---------------------
nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" -v --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
	--rules "$RULES" run >"$LOG" 2>&1 &
D_PID=$!
E2E_PIDS+=("$D_PID")
wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "daemon did not start"; }
gd0=$(global_drops) vd0=$(veth_tx_dropped) a1=$(allowed $GWMAC)
flow $GWMAC 120 "$a1"
gwfile "$E2E_TMP/g3" 201 900
out=$(edp gateway import "$E2E_TMP/g3" 2>&1) || fail "import of 700 more under the flow: $out"
grep -q "gateway capacity 512 -> 2048 for 901 gateways" <<<"$out" || fail "second growth not reported: $out"
sleep 0.3
flow_stop
read -r sent ns <"$GEN_OUT"
a2=$(allowed $GWMAC) gd=$(($(global_drops) - gd0)) vd=$(($(veth_tx_dropped) - vd0))
echo "  sent $sent frames in $(awk -v n="$ns" 'BEGIN { printf "%.2f", n / 1e9 }') s across the growth;" \
	"allowed counted $((a2 - a1)), dropped by edpgate $gd, by the veth before XDP $vd"
[ "$gd" = 0 ] || fail "edpgate dropped $gd frames while growing: $(edp -j stats | jq -c .global)"
[ "$a2" -gt "$a1" ] || fail "the flow's counter did not carry on ($a1 -> $a2)"
[ "$((a2 - a1 + vd))" = "$sent" ] ||
	fail "sent $sent, allowed $((a2 - a1)), veth drops $vd: $((sent - vd - a2 + a1)) frames unaccounted"
ok "512 -> 2048 slots under a line-rate flow: no frame dropped by edpgate, $((a2 - a1)) allowed counted"

# A gateway whose slot is beyond the old capacity passes at once.
NEWMAC=02:00:00:01:03:84	# gateway 900
slot=$(edp -j gateway list | jq --arg m $NEWMAC '.[] | select(.mac == $m) | .slot // empty')
flow $NEWMAC 121
flow_stop
[ "$(allowed $NEWMAC)" -gt 0 ] || fail "gateway 900 (slot ${slot:-?}) does not pass"
ok "gateway 900 ${slot:+(slot $slot) }passes: $(allowed $NEWMAC) allowed"

# The daemon holds the old maps open: its reload must push into the new ones.
kill -HUP "$D_PID"
wait_for 10 logged "the maps were grown by another command; following them" ||
	{ cat "$LOG"; fail "the daemon did not follow the growth"; }
wait_for 10 edp verify >/dev/null || fail "verify after the daemon's reload: $(edp verify 2>&1)"
a3=$(allowed $GWMAC)
flow $GWMAC 120 "$a3"
flow_stop
[ "$(($(global_drops) - gd0))" = 0 ] || fail "drops after the daemon's reload: $(edp -j stats | jq -c .global)"
ok "the daemon followed the growth: its reload pushed into the new maps, verify passes, the flow still passes"

# Its keeper now holds the switched snooper: a removed pin comes back as
# that one, not as the snooper of the smaller table it started with.
snoop_now=$(prog_id snoop_prog)
rm -f "$PIN_DIR/snoop_prog"
wait_for 10 test -e "$PIN_DIR/snoop_prog" || { cat "$LOG"; fail "the keeper did not pin the snooper again"; }
[ "$(prog_id snoop_prog)" = "$snoop_now" ] ||
	fail "the keeper pinned snooper $(prog_id snoop_prog) again, not the switched $snoop_now"
ok "the keeper pinned the switched snooper $snoop_now again after its pin was removed"
kill -TERM "$D_PID"
wait "$D_PID" || { cat "$LOG"; fail "daemon exit status on SIGTERM"; }

# ---- killed midway ----------------------------------------------------------------
# kill -9 of an import that grows the maps, at a random instant or aimed
# at the moments its new maps are pinned and its program switched, then
# `edpgate apply` (it takes the lock, so it finishes or drops what the
# killed one left, and pushes what the file has): the flow passes with no drop, verify passes, no
# NAME_new pin is left, the link runs the pinned program and that program
# and the DNS snooper use the pinned gateway map.  GROW_KILL_ROUNDS (default 12) rounds, each
# on a fresh pin and state directory.
gwfile "$E2E_TMP/g4" 1 150
landed_new=0 landed_old=0 landed_tmp=0 landed_sw=0
for round in $(seq "${GROW_KILL_ROUNDS:-12}"); do
	edp detach --all >/dev/null 2>&1 || fail "detach --all before round $round"
	PIN_DIR=$E2E_TMP/bpffs/k$round
	STATE_DIR=$E2E_TMP/state.k$round
	edp attach lan0 --mode native >/dev/null || fail "attach, round $round"
	edp gateway add $GWMAC >/dev/null || fail "gateway add, round $round"
	# nsenter execs edpgate: $! is the import itself (in_ns, a function,
	# would be a subshell whose kill leaves the import running).
	nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" gateway import "$E2E_TMP/g4" >/dev/null 2>&1 &
	k=$!
	# Every third round at a random instant; the others aimed at the few
	# ms between pinning the new maps and renaming them: as soon as they
	# are pinned, or as soon as the program pin is the new one (builtin
	# tests: no fork per poll).
	case $((round % 3)) in
	0) sleep "$(printf '0.%03d' $((RANDOM % 90 + 10)))" ;;
	1) while kill -0 $k 2>/dev/null && [ ! -e "$PIN_DIR/edpg_gw_cold_new" ]; do :; done ;;
	2) while kill -0 $k 2>/dev/null && ! [ "$PIN_DIR/prog" -nt "$STATE_DIR/gateways" ]; do :; done ;;
	esac
	kill -9 $k 2>/dev/null || :
	wait $k 2>/dev/null || :
	if [ -e "$PIN_DIR/edpg_gateways_new" ] &&
		bpftool -j prog show pinned "$PIN_DIR/prog" |
		jq -e --argjson g "$(map_id edpg_gateways_new)" '.map_ids | index($g) != null' >/dev/null; then
		landed_sw=$((landed_sw + 1))
	elif compgen -G "$PIN_DIR/*_new" >/dev/null; then
		landed_tmp=$((landed_tmp + 1))
	elif [ "$(max_entries edpg_gw_stats)" = 64 ]; then
		landed_old=$((landed_old + 1))
	else
		landed_new=$((landed_new + 1))
	fi
	# What a killed command tells the operator to run (the file may
	# already have the gateways the maps do not).
	out=$(edp apply 2>&1) || fail "apply after the kill, round $round: $out"
	compgen -G "$PIN_DIR/*_new" >/dev/null && fail "round $round: left $(ls "$PIN_DIR" | grep _new)"
	n=$(edp -j gateway list | jq length)
	case $n:$(capacity) in
	1:64 | 1:256 | 151:256) ;;	# killed before or after the file was written
	*) fail "round $round: $n gateways, capacity $(capacity)" ;;
	esac
	[ "$(jq '.[1]' <<<"$(link_ids)")" = "$(prog_id prog)" ] || fail "round $round: the link runs $(link_ids), pinned $(prog_id prog)"
	bpftool -j prog show pinned "$PIN_DIR/prog" | jq -e --argjson g "$(map_id edpg_gateways)" '.map_ids | index($g) != null' >/dev/null ||
		fail "round $round: the pinned program does not use the pinned gateway map"
	snoop_maps | jq -e --argjson g "$(map_id edpg_gateways)" 'index($g) != null' >/dev/null ||
		fail "round $round: the snooper reads maps $(snoop_maps), not the gateway table $(map_id edpg_gateways)"
	edp verify >/dev/null || fail "round $round: verify: $(edp verify 2>&1)"
	gd0=$(global_drops) a=$(allowed $GWMAC)
	flow $GWMAC 120 "$a"
	flow_stop
	[ "$(($(global_drops) - gd0))" = 0 ] || fail "round $round: drops $(edp -j stats | jq -c .global)"
done
ok "kill -9 of a growing import: $landed_old before the growth, $landed_tmp with the new maps pinned before the switch, $landed_sw after the switch before the renames, $landed_new after the growth; each time apply finished it, verify passed and the flow passed"
