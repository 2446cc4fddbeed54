#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# A flood of distinct destinations cannot grow what learn keeps, nor the
# daemon, nor cost another gateway its events.  With --enforce audit, one
# enrolled MAC (A) sends 1,000,000 frames to 100,000 distinct destinations
# (raw frames from the host's side of the veth) while `edpgate run` and
# `edpgate watch` run; a second enrolled gateway (B) sends 10 refused
# frames spread through the flood.
#  - every frame A handed to the veth is counted (would_drop/destination,
#    or the veth's own tx_dropped), and all of them passed (audit);
#  - edpg_learn holds at most EDPG_MAX_LEARN (4096) records;
#  - the daemon's RSS grows by less than 2 MiB;
#  - watch received all 10 of B's events (B stays within its burst), and
#    learn lists B's 10 attempts.
# The rate is printed, never asserted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip "needs jq"

A=02:00:00:00:fa:01
B=02:00:00:00:fb:01
topo_pair "$A"
in_ns "$H_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
# Forwarded audited frames go nowhere, and quietly.
ip -n "$R_NS" route add blackhole 10.200.0.0/15
bpffs_private
# shellcheck disable=SC2034 # read by lib.sh's edp
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
pair_rules "$RULES"

edp attach lan0 --mode native --enforce audit >/dev/null || fail "attach --enforce audit"
edp gateway add "$A" --name flooder >/dev/null || fail "enrol A"
edp gateway add "$B" --name other >/dev/null || fail "enrol B"

bg in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" \
	--resolver 127.0.0.1 run
D_PID=$BG_PID
wait_for 10 grep -q "edpgate run:" "$E2E_TMP/bg.log" || { cat "$E2E_TMP/bg.log"; fail "daemon did not start"; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
sleep 1
rss0=$(rss "$D_PID")

# Its own output file (bg's log is the daemon's).
WOUT=$E2E_TMP/watch.json
setsid nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" \
	--state-dir "$STATE_DIR" --rules "$RULES" -j watch other --timeout 60 >"$WOUT" 2>&1 &
W_PID=$!
E2E_PIDS+=("$W_PID")
sleep 1

RMAC=$(ip -n "$R_NS" -j link show lan0 | jq -r '.[0].address')
tx0=$(ip -n "$H_NS" -j -s link show eth0 | jq '.[0].stats64.tx.dropped')
t0=$(date +%s.%N)
in_ns "$H_NS" python3 - "$RMAC" "$A" "$B" <<'PY'
import socket, struct, sys

rmac, a, b = (bytes.fromhex(m.replace(":", "")) for m in sys.argv[1:4])

def csum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff

def frame(src, dst_ip, dport):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton("10.77.0.2"), dst_ip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    tcp = struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    return rmac + src + b"\x08\x00" + ip + tcp

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
flood = [frame(a, bytes((10, 200 + (i >> 16), (i >> 8) & 255, i & 255)), 3199)
         for i in range(100000)]
others = [frame(b, socket.inet_aton("10.77.0.1"), 6000 + i) for i in range(10)]
sent = 0
for r in range(10):
    for f in flood:
        s.send(f)
    s.send(others[r])
    sent += len(flood)
print(sent)
PY
t1=$(date +%s.%N)
tx1=$(ip -n "$H_NS" -j -s link show eth0 | jq '.[0].stats64.tx.dropped')
sleep 3	# the daemon's next ticks, watch's last poll
rss1=$(rss "$D_PID")

stats=$(edp -j stats flooder)
would=$(jq '.gateways[0].would_drop.destination' <<<"$stats")
dropped=$(jq '.gateways[0].drops.destination' <<<"$stats")
lost=$((tx1 - tx0))
echo "  flood: 1000000 frames in $(echo "$t1 - $t0" | bc) s; would_drop.destination $would, veth tx_dropped $lost"
[ "$dropped" = 0 ] || fail "audit dropped $dropped of the flood"
[ $((would + lost)) -ge 1000000 ] || fail "only $would + $lost of 1000000 frames counted"
ok "every frame of the flood counted as would_drop ($would) or lost by the veth ($lost), none dropped"

nlearn=$(edp -j learn | jq '.refused | length')
nflood=$(edp -j learn flooder | jq '.refused | length')
[ "$nlearn" -le 4096 ] || fail "learn holds $nlearn records, more than 4096"
ok "learn holds $nlearn records ($nflood of the flooder), at most 4096"
growth=$((rss1 - rss0))
echo "  daemon RSS ${rss0} KiB -> ${rss1} KiB"
[ "$growth" -lt 2048 ] || fail "daemon RSS grew by $growth KiB"
ok "daemon RSS grew by $growth KiB (< 2 MiB)"

kill -INT "$W_PID" 2>/dev/null || true
wait "$W_PID" 2>/dev/null || true
nev=$(jq -s '[.[] | select(.gateway == "other")] | length' "$WOUT" 2>/dev/null || echo 0)
ports=$(jq -rs '[.[] | select(.gateway == "other") | .dport] | unique | length' "$WOUT" 2>/dev/null || echo 0)
[ "$nev" = 10 ] && [ "$ports" = 10 ] || fail "watch got $nev events of B ($ports ports), want 10"
ok "watch got all 10 of B's events during the flood"
nb=$(edp -j learn other | jq '[.refused[] | select(.reason == "port")] | length')
[ "$nb" = 10 ] || fail "learn lists $nb of B's 10 attempts"
ok "learn lists all 10 of B's attempts"
sup=$(jq '.gateways[0].events_suppressed' <<<"$stats")
echo "  the flooder's events suppressed by the rate limit: $sup"
