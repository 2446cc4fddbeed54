#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Upgrade without a gap: a newer build (same map layout, different code)
# replaces the running program with `edpgate upgrade` while an enrolled
# gateway's allowed flow runs at line rate.  Counted, not timed: the
# program id changes, the link ids do not, gateways, destinations and
# counters are kept, and every frame handed to the kernel was either
# allowed or dropped by the veth before any XDP program saw it.  A build
# with another map layout is refused by upgrade and by every command that
# would write the maps, and changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
BENCH=$ROOT/build/tests/bench/bench_live
[ -x "$BENCH" ] || fail "$BENCH not built (make test-bins)"

# The two other builds, each into its own directory of this test (about
# 12 s each): "newer" differs in code only, "relaid" in a map's layout.
NEWER=$E2E_TMP/newer
RELAID=$E2E_TMP/relaid
make -s -C "$ROOT" BUILD="$NEWER" BPF_EXTRA_CFLAGS=-DEDPG_BUILD_TAG=2 "$NEWER/edpgate" >/dev/null ||
	fail "building the newer build failed"
make -s -C "$ROOT" BUILD="$RELAID" EXTRA_DEFS=-DEDPG_ABI_TEST_PAD=8 "$RELAID/edpgate" >/dev/null ||
	fail "building the relaid build failed"

GWMAC=02:00:00:00:ff:01
topo_pair "$GWMAC"
in_ns "$H_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.77.9.0/24 198.51.100.7 2001:db8::7
allow edp-ssl,ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF
# with BIN the CLI of that build, in the router's namespace
with() {
	local bin=$1
	shift
	in_ns "$R_NS" "$bin" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" "$@"
}

edp attach lan0 --mode native >/dev/null || fail "attach"
edp gateway add $GWMAC --name flowgw >/dev/null || fail "gateway add"
for i in $(seq 1 20); do
	edp gateway add "02:00:00:00:01:$(printf %02x "$i")" >/dev/null || fail "gateway add #$i"
done

gw_json() { edp -j stats $GWMAC | jq -c --arg m $GWMAC '.gateways[] | select(.mac == $m)'; }
allowed() { gw_json | jq '[.allowed[] | select(.service == "edp-ssl") | .packets] | add'; }
drops() { gw_json | jq '[.drops[]] | add'; }
global_drops() { edp -j stats | jq '[.global[].drop_packets] | add'; }
veth_tx_dropped() { in_ns "$H_NS" ip -s -j link show eth0 | jq '.[0].stats64.tx.dropped'; }
prog_id() { bpftool -j prog show pinned "$PIN_DIR/prog" | jq .id; }
prog_tag() { bpftool -j prog show pinned "$PIN_DIR/prog" | jq -r .tag; }
# The DNS snooper: the pinned answer and question programs, and the programs
# lan0's two cls_bpf filters run (egress answers, ingress questions).
snoop_pinned() {
	echo "[$(bpftool -j prog show pinned "$PIN_DIR/snoop_prog" | jq .id)]" \
		"[$(bpftool -j prog show pinned "$PIN_DIR/snoop_prog_q" | jq .id)]" | tr -d ' '
}
snoop_tc() {
	for h in egress ingress; do
		in_ns "$R_NS" tc -j filter show dev lan0 $h | jq -c '[.[] | .options.prog.id? // empty]'
	done | tr -d '\n'
}
link_ids() { bpftool -j link show pinned "$PIN_DIR/link_lan0" | jq -c '[.id, .prog_id]'; }
# The policy and the enrolled gateways as the maps hold them.
policy_hash() {
	for m in edpg_ctl edpg_config edpg_gateways edpg_services edpg_dst4 edpg_dst6 edpg_cidr4 edpg_cidr6; do
		bpftool -j map dump pinned "$PIN_DIR/$m" | jq -cS 'sort_by(.key)'
	done | sha256sum | cut -d' ' -f1
}

# Same build again: nothing to do.
out=$(edp upgrade)
grep -q "already running this build" <<<"$out" || fail "upgrade to the same build: $out"
ok "upgrade with the running build: $out"

# The flow (see test_load.sh): TCP SYNs to 10.77.9.9:3199, stopped between
# two generator calls once $STOP exists, so the count sent is exact.
STOP=$E2E_TMP/stop
GEN_OUT=$E2E_TMP/gen.out
d0=$(veth_tx_dropped)
in_ns "$H_NS" "$BENCH" gen eth0 120 -s $GWMAC -d 02:00:00:00:ee:ee -S 10.77.0.2 -D 10.77.9.9 \
	-p tcp -P 3199 -f "$STOP" >"$GEN_OUT" 2>"$E2E_TMP/gen.err" &
GEN_PID=$!
E2E_PIDS+=("$GEN_PID")
for i in $(seq 50); do [ "$(allowed)" -gt 0 ] && break; sleep 0.1; done
[ "$(allowed)" -gt 0 ] || fail "the flow does not reach edpgate: $(cat "$E2E_TMP/gen.err")"

old_id=$(prog_id) old_tag=$(prog_tag) old_link=$(link_ids) old_policy=$(policy_hash)
old_snoop=$(snoop_pinned)
[ "$(snoop_tc)" = "$old_snoop" ] || fail "lan0's snooper filters run $(snoop_tc), not the pinned $old_snoop"
a_before=$(allowed)
out=$(with "$NEWER/edpgate" -j upgrade 2>&1) || fail "upgrade to the newer build failed: $out"
new_id=$(prog_id) new_tag=$(prog_tag) new_link=$(link_ids)
sleep 0.5	# the flow runs on the new program for a while
kill -0 "$GEN_PID" 2>/dev/null || fail "the generator stopped before the upgrade was done: $(cat "$E2E_TMP/gen.err")"
touch "$STOP"
wait "$GEN_PID" || fail "generator: $(cat "$E2E_TMP/gen.err")"
read -r sent ns <"$GEN_OUT"

[ "$(jq -r .upgraded <<<"$out")" = true ] || fail "upgrade -j: $out"
[ "$new_id" != "$old_id" ] || fail "program id unchanged ($old_id) after the upgrade"
[ "$new_tag" != "$old_tag" ] || fail "program tag unchanged ($old_tag): the newer build is not different code"
[ "$(jq -r .new_prog_id <<<"$out")" = "$new_id" ] || fail "upgrade reports program $(jq .new_prog_id <<<"$out"), pinned is $new_id"
[ "$(jq -r '.[0]' <<<"$new_link")" = "$(jq -r '.[0]' <<<"$old_link")" ] || fail "link replaced: $old_link -> $new_link"
[ "$(jq -r '.[1]' <<<"$new_link")" = "$new_id" ] || fail "link runs $new_link, not the new program $new_id"
ip -n "$R_NS" -j -d link show lan0 | jq -e --argjson id "$new_id" '.[0].xdp.prog.id == $id' >/dev/null ||
	fail "lan0 does not run program $new_id"
[ "$(policy_hash)" = "$old_policy" ] || fail "the policy maps changed across the upgrade"
[ "$(edp -j gateway list | jq length)" = 21 ] || fail "gateways lost: $(edp -j gateway list | jq length)"
ok "program $old_id ($old_tag) -> $new_id ($new_tag) on link $(jq '.[0]' <<<"$old_link"); policy maps identical, 21 gateways"
new_snoop=$(snoop_pinned)
[ "$new_snoop" != "$old_snoop" ] || fail "the DNS snooper was not replaced ($old_snoop)"
[ "$(jq -r .snoop_ifaces <<<"$out")" = 1 ] || fail "upgrade -j does not report the snooper switched on lan0: $out"
[ "$(snoop_tc)" = "$new_snoop" ] || fail "lan0's snooper filters run $(snoop_tc), not the new pinned $new_snoop"
ok "DNS snooper (answers, questions) $old_snoop -> $new_snoop, lan0's filters switched in place"

a=$(allowed) d=$(drops) gd=$(global_drops) vd=$(($(veth_tx_dropped) - d0))
echo "  sent $sent frames in $(awk -v n="$ns" 'BEGIN { printf "%.1f", n / 1e9 }') s" \
	"($(awk -v s="$sent" -v n="$ns" 'BEGIN { printf "%.2f", s / n * 1e3 }') Mpps offered)," \
	"allowed $a ($a_before before the upgrade), dropped by edpgate $d, by the veth before XDP $vd"
[ "$a" -gt "$a_before" ] || fail "the counters did not carry on ($a_before -> $a)"
[ "$d" = 0 ] || fail "edpgate dropped $d frames of the allowed flow: $(gw_json)"
[ "$gd" = 0 ] || fail "edpgate dropped $gd frames in all: $(edp -j stats | jq -c .global)"
[ "$a" -eq $((sent - vd)) ] || fail "allowed $a != sent $sent - veth drops $vd: $((sent - vd - a)) frames lost"
ok "no frame of the flow lost in the swap: $a allowed of $sent sent ($vd dropped by the veth before XDP)"
with "$NEWER/edpgate" verify >/dev/null || fail "verify by the newer build: $(with "$NEWER/edpgate" verify 2>&1)"
ok "verify by the newer build passes"

# Another map layout: refused, and nothing changes.
before=$(policy_hash)
cp "$STATE_DIR/gateways" "$E2E_TMP/gateways.before"
set +e
out=$(with "$RELAID/edpgate" upgrade 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "upgrade to another layout: exit $rc: $out"
grep -q "edpg_config: pinned as type 2, key 4, value 8 bytes, flags 0; this build has type 2, key 4, value 16 bytes" <<<"$out" ||
	fail "refusal does not name the map and the difference: $out"
grep -q "changed the layout of the pinned maps.*nothing was changed" <<<"$out" || fail "refusal does not say what to do: $out"
[ "$(prog_id)" = "$new_id" ] && [ "$(link_ids)" = "$new_link" ] || fail "refused upgrade changed the program or link"
[ "$(policy_hash)" = "$before" ] || fail "refused upgrade changed the maps"
set +e
out=$(with "$RELAID/edpgate" gateway add 02:00:00:00:02:01 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "another map layout" <<<"$out" || fail "gateway add by another layout: exit $rc: $out"
[ "$(policy_hash)" = "$before" ] || fail "gateway add by another layout changed the maps"
cmp -s "$STATE_DIR/gateways" "$E2E_TMP/gateways.before" || fail "gateway add by another layout changed the gateways file"
ok "another layout: upgrade and gateway add refused, naming edpg_config 8 -> 16 bytes; nothing changed"

# A map this build has and the pinned program lacks (an install by a build
# from before edpg_gw_filter): refused the same way by upgrade and by an
# enrolment, not taken for "nothing is attached" (which would save the
# gateway to the file alone).  Played by a program without that map, the
# empty XDP program, pinned as `prog` with the filter's pin moved away.
mv "$PIN_DIR/prog" "$PIN_DIR/prog_real"
mv "$PIN_DIR/edpg_gw_filter" "$PIN_DIR/filter_real"
bpftool prog load "$ROOT/build/bpf/empty.bpf.o" "$PIN_DIR/prog" type xdp ||
	fail "cannot pin the empty program"
set +e
out=$(edp gateway add 02:00:00:00:02:02 2>&1); rc=$?
out2=$(edp upgrade 2>&1); rc2=$?
set -e
rm "$PIN_DIR/prog"
mv "$PIN_DIR/prog_real" "$PIN_DIR/prog"
mv "$PIN_DIR/filter_real" "$PIN_DIR/edpg_gw_filter"
[ $rc -eq 1 ] && grep -q "has no map edpg_gw_filter: .*another map layout.*detach --all" <<<"$out" ||
	fail "gateway add over a program without the filter: exit $rc: $out"
cmp -s "$STATE_DIR/gateways" "$E2E_TMP/gateways.before" ||
	fail "gateway add over a program without the filter changed the gateways file"
[ $rc2 -eq 1 ] && grep -q "has no map edpg_gw_filter" <<<"$out2" ||
	fail "upgrade over a program without the filter: exit $rc2: $out2"
[ "$(policy_hash)" = "$before" ] || fail "a refused command changed the maps"
edp verify >/dev/null || fail "verify with the pins put back: $(edp verify 2>&1)"
ok "a pinned program without a map of this build: gateway add and upgrade refused as another layout; nothing changed"

# And back to the tree's build, which is different code again.
out=$(edp upgrade) || fail "upgrade back failed"
grep -q "^upgraded: program $new_id" <<<"$out" || fail "upgrade back: $out"
[ "$(prog_tag)" = "$old_tag" ] || fail "upgrade back: tag $(prog_tag), want $old_tag"
edp verify >/dev/null || fail "verify after the upgrade back: $(edp verify 2>&1)"
ok "upgrade back to this tree's build: $out"
