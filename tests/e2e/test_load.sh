#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Enrolment under load: an allowed flow from an enrolled gateway runs at
# line rate (the live-frame generator, tests/bench/bench_live.c gen, XDP_TX
# into the LAN veth whose peer carries edpgate natively) while the test
# enrols gateways one by one, imports more, deletes some and applies.
# Counted, not timed: every frame the generator handed to the kernel either
# reached edpgate and was allowed for that gateway, or was dropped by the
# veth before any XDP program saw it (its tx_dropped); the gateway's drops
# by reason are all 0.  The rate is printed, never asserted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip "needs jq"
BENCH=$ROOT/build/tests/bench/bench_live
[ -x "$BENCH" ] || fail "$BENCH not built (make test-bins)"

NONE=${LOAD_GATEWAYS:-500}	# enrolled one by one
NIMP=${LOAD_IMPORT:-1000}	# enrolled by one import
GWMAC=02:00:00:00:ff:01		# the gateway whose flow runs
topo_pair "$GWMAC"
# Nothing but the generator leaves the host: no IPv6 ND/MLD from the
# gateway's MAC to blur its counters.
in_ns "$H_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
bpffs_private
# shellcheck disable=SC2034 # read by lib.sh's edp
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.77.9.0/24
allow edp-ssl,ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

edp attach lan0 --mode native >/dev/null || fail "attach"
edp gateway add $GWMAC --name flowgw >/dev/null || fail "gateway add"

# gw_stats JSON of the flow's gateway.
gw_json() { edp -j stats $GWMAC | jq -c --arg m $GWMAC '.gateways[] | select(.mac == $m)'; }
veth_tx_dropped() { in_ns "$H_NS" ip -s -j link show eth0 | jq '.[0].stats64.tx.dropped'; }
allowed() { gw_json | jq '[.allowed[] | select(.service == "edp-ssl") | .packets] | add'; }
drops() { gw_json | jq '[.drops[]] | add'; }
# Every drop of the program, any reason, any MAC: a frame of the flow that
# met a half-updated gateway table would be an unknown_mac drop, which no
# gateway's counters show.
global_drops() { edp -j stats | jq '[.global[].drop_packets] | add'; }
for f in allowed drops global_drops; do
	[ "$($f)" = 0 ] || fail "$f not zero before the flow: $(edp -j stats)"
done
d0=$(veth_tx_dropped)

# The flow: TCP SYNs to 10.77.9.9:3199, addressed to a MAC that is not the
# router's so the stack drops what XDP passes at once (cheap, and it never
# answers).  The generator stops between two calls once $STOP exists.
STOP=$E2E_TMP/stop
GEN_OUT=$E2E_TMP/gen.out
in_ns "$H_NS" "$BENCH" gen eth0 170 -s $GWMAC -d 02:00:00:00:ee:ee -S 10.77.0.2 -D 10.77.9.9 \
	-p tcp -P 3199 -f "$STOP" >"$GEN_OUT" 2>"$E2E_TMP/gen.err" &
GEN_PID=$!
E2E_PIDS+=("$GEN_PID")
for i in $(seq 50); do [ "$(allowed)" -gt 0 ] && break; sleep 0.1; done
[ "$(allowed)" -gt 0 ] || fail "the flow does not reach edpgate: $(cat "$E2E_TMP/gen.err")"

# Enrolment while it runs: one by one, then one import, then deletions and
# applies, each a live update of the maps the flow's frames look up.
mac() { printf '02:00:00:%02x:%02x:%02x' $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
t0=$(date +%s.%N)
for i in $(seq 1 "$NONE"); do
	edp gateway add "$(mac "$i")" >/dev/null || fail "gateway add #$i"
done
t1=$(date +%s.%N)
GWFILE=$E2E_TMP/gateways.import
for i in $(seq $((NONE + 1)) $((NONE + NIMP))); do
	echo "gateway $(mac "$i") name imp$i"
done >"$GWFILE"
edp gateway import "$GWFILE" >/dev/null || fail "gateway import"
for i in $(seq 1 3); do
	edp apply >/dev/null || fail "apply #$i"
	edp gateway del "$(mac "$i")" >/dev/null || fail "gateway del #$i"
done
t2=$(date +%s.%N)
[ "$(edp -j gateway list | jq length)" -eq $((1 + NONE + NIMP - 3)) ] || fail "gateway count after the updates"
kill -0 "$GEN_PID" 2>/dev/null || fail "the generator stopped before the updates were done (raise its time): $(cat "$GEN_OUT" "$E2E_TMP/gen.err")"
touch "$STOP"
wait "$GEN_PID" || fail "generator: $(cat "$E2E_TMP/gen.err")"
read -r sent ns <"$GEN_OUT"

a=$(allowed) d=$(drops) gd=$(global_drops) vd=$(($(veth_tx_dropped) - d0))
echo "  sent $sent frames in $(awk -v n="$ns" 'BEGIN { printf "%.1f", n / 1e9 }') s" \
	"($(awk -v s="$sent" -v n="$ns" 'BEGIN { printf "%.2f", s / n * 1e3 }') Mpps offered)," \
	"allowed $a, dropped by edpgate $d, dropped by the veth before XDP $vd"
echo "  $NONE gateway adds in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s," \
	"import of $NIMP + 3 applies + 3 deletes in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s"
[ "$d" = 0 ] || fail "edpgate dropped $d frames of the enrolled gateway's allowed flow: $(gw_json)"
[ "$gd" = 0 ] || fail "edpgate dropped $gd frames in all (the flow is the only traffic): $(edp -j stats | jq -c .global)"
[ "$a" -eq $((sent - vd)) ] || fail "allowed $a != sent $sent - veth drops $vd: $((sent - vd - a)) frames unaccounted"
ok "$sent frames during $NONE adds, an import of $NIMP, 3 applies, 3 deletes: all allowed, 0 dropped by edpgate"
edp verify >/dev/null || fail "verify after the load"
edp detach --all >/dev/null || fail "detach --all"
echo "PASS"
