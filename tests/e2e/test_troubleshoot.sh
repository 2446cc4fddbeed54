#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The troubleshooting commands (issue 7): explain, replay, watch, doctor,
# gateway pending, stats --interval and --format prometheus.
#
# Part 1, no lab: a capture built with scapy (runt, truncated IPv4, 802.1Q,
# 802.1ad+802.1Q, three tags, IPv6 extension headers, IPv4 and IPv6
# fragments, ARP, LLDP, an unknown MAC), as pcap and as pcapng, replays
# frame by frame to the verdicts and reasons the data path defines,
# without anything attached or pinned.
#
# Part 2, the lab of scripts/lab.sh with edpgate in native XDP on lan0:
#  - every TCP/UDP flow of tests/e2e/lab_flows.sh runs with its real
#    client, and `explain` of the same packet gives the verdict the flow
#    got and the reason whose counter moved; the explains leave every
#    counter, last_used and pending record byte-identical;
#  - a capture of what lan0 received during the flows (tcpdump on the
#    switch port: XDP runs before any tap on lan0 itself), replayed
#    against the live policy, gives per reason exactly the frames the live
#    filter counted; the rules-data replay agrees with it frame by frame;
#  - watch shows the rogue host's drop; pending lists the rogue MAC;
#    doctor names a MAC typo next to it, and the NTP problem when the ntp
#    group is removed from (a copy of) the rules, and a connection to the
#    deprecated my.idigi.com; add --pending enrols;
#  - stats --format prometheus passes a strict exposition-format parser;
#    stats --interval prints rates and stops cleanly on SIGINT.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
export TMPDIR=${TMPDIR:-/tmp}
PY=/usr/bin/python3

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in ip nsenter setsid ss dnsmasq chronyd openssl socat jq nft tcpdump bpftool; do
	command -v "$c" >/dev/null || { echo "skip: no $c"; exit 77; }
done
if ! { [ -x "$PY" ] && "$PY" -c 'import scapy' 2>/dev/null; }; then
	echo "skip: no python3-scapy"
	exit 77
fi
[ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }
[ -x "$EDPGATE" ] || { echo "FAIL: $EDPGATE not built"; exit 1; }

LAB=trb$$
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"
T=$(mktemp -d "$TMPDIR/edpg-troubleshoot.XXXXXX")

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] || [ $fails -ne 0 ]; then
		[ -f "$LF_LOG" ] && { echo "--- edpgate log (last 30 lines)"; tail -30 "$LF_LOG"; }
	fi
	lf_down
	rm -rf -- "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------
# Part 1: replay of a hand-made capture, no lab, nothing pinned.
cat >"$T/rules" <<'EOF'
service edp-ssl tcp 3199
service ntp udp 123
group devicecloud 198.51.100.10
group ntp 198.51.100.20 2001:db8:100::20
allow edp-ssl to devicecloud
allow ntp to ntp
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
EOF
cat >"$T/mk.py" <<'EOF'
# Frames and the verdict/reason each must get; written as pcap (scapy)
# and pcapng (by hand: scapy takes the link type from the first frame,
# and the first one is a runt that is not a whole Ethernet frame).
import struct, sys
from scapy.all import (Ether, Dot1Q, Dot1AD, IP, IPv6, TCP, UDP, ARP, Raw,
		       IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, wrpcap)
GW, UNK, R = "00:40:9d:00:00:01", "02:00:00:00:00:66", "02:00:00:00:00:01"
V4 = dict(src="10.0.0.5", dst="198.51.100.10")
V6 = dict(src="fd00::5", dst="2001:db8:100::20")
NTP = Raw(b"\x23" + bytes(47))
f, exp = [], []
def add(p, v, r):
	f.append(p)
	exp.append((v, r))
add(Raw(bytes(Ether(dst=R, src=GW) / IP(**V4) / TCP(dport=3199))[:10]), "drop", "malformed")
add(Ether(dst=R, src=GW) / IP(**V4) / TCP(dport=3199, flags="S"), "pass", "allow")
add(Ether(dst=R, src=GW) / Dot1Q(vlan=42) / IP(**V4) / TCP(dport=3199), "pass", "allow")
add(Ether(dst=R, src=GW, type=0x88a8) / Dot1AD(vlan=7, type=0x8100) / Dot1Q(vlan=42) /
    IP(**V4) / TCP(dport=3199), "pass", "allow")
add(Ether(dst=R, src=GW) / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP(**V4) /
    TCP(dport=3199), "drop", "malformed")
add(Ether(dst=R, src=GW) / IPv6(**V6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
    UDP(dport=123) / NTP, "pass", "allow")
add(Ether(dst=R, src=GW) / IPv6(**V6) / IPv6ExtHdrFragment(offset=0, m=1, id=7) /
    UDP(dport=123) / Raw(bytes(40)), "pass", "allow")
add(Ether(dst=R, src=GW) / IPv6(**V6) / IPv6ExtHdrFragment(offset=6, m=0, id=7, nh=17) /
    Raw(bytes(16)), "drop", "fragment")
add(Ether(dst=R, src=GW) / IP(flags="MF", frag=0, **V4) / TCP(dport=3199) / Raw(bytes(32)),
    "pass", "allow")
add(Ether(dst=R, src=GW) / IP(frag=7, proto=6, **V4) / Raw(bytes(24)), "drop", "fragment")
p = bytearray(bytes(Ether(dst=R, src=GW) / IP(**V4) / TCP(dport=3199)))
p[16:18] = (400).to_bytes(2, "big")	# IPv4 total length beyond the frame
add(Raw(bytes(p)), "drop", "malformed")
add(Ether(dst="ff:ff:ff:ff:ff:ff", src=UNK) / ARP(psrc="10.0.0.66", pdst="10.0.0.1"),
    "pass", "arp")
add(Ether(dst="01:80:c2:00:00:0e", src=GW, type=0x88cc) / Raw(bytes(46)), "drop", "non_ip")
add(Ether(dst=R, src=UNK) / IP(src="10.0.0.66", dst="198.51.100.10") / TCP(dport=3199),
    "drop", "unknown_mac")
add(Ether(dst=R, src=GW) / IP(src="10.0.0.5", dst="198.51.100.99") / TCP(dport=3199),
    "drop", "destination")
add(Ether(dst=R, src=GW) / IPv6(**V6) / TCP(dport=443), "drop", "port")
add(Ether(dst=R, src=GW) / IPv6(**V6) / UDP(dport=3199), "drop", "port")
wrpcap(sys.argv[1] + ".pcap", f, linktype=1)
def blk(t, body):
	body += bytes(-len(body) % 4)
	return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
with open(sys.argv[1] + ".pcapng", "wb") as o:
	o.write(blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
	o.write(blk(1, struct.pack("<HHI", 1, 0, 65535)))
	for i, p in enumerate(f):
		b = bytes(p)
		o.write(blk(6, struct.pack("<IIIII", 0, 0, i, len(b), len(b)) + b))
with open(sys.argv[1] + ".expect", "w") as o:
	for i, (v, r) in enumerate(exp, 1):
		o.write("%d %s %s\n" % (i, v, r))
EOF
"$PY" "$T/mk.py" "$T/odd" 2>/dev/null || { bad "scapy could not build the capture"; exit 1; }
mkdir -p "$T/st"
EP=("$EDPGATE" --state-dir "$T/st" --rules "$T/rules" --pin-dir "$T/nopins")
"${EP[@]}" gateway add 00:40:9d:00:00:01 >/dev/null 2>&1 || bad "offline gateway add"
for ext in pcap pcapng; do
	if "${EP[@]}" -j replay "$T/odd.$ext" >"$T/odd.$ext.json" 2>"$T/err"; then
		jq -r '.[] | "\(.frame) \(.verdict) \(.reason)"' "$T/odd.$ext.json" >"$T/odd.$ext.got"
		if diff -u "$T/odd.expect" "$T/odd.$ext.got" >"$T/diff"; then
			ok "replay $ext: $(wc -l <"$T/odd.expect") odd frames, each its verdict and reason"
		else
			bad "replay $ext: $(cat "$T/diff")"
		fi
	else
		bad "replay $ext failed: $(cat "$T/err")"
	fi
done
if "${EP[@]}" replay "$T/odd.pcap" >"$T/odd.txt" 2>&1 &&
	grep -q '^ *1 drop malformed' "$T/odd.txt" && grep -q 'frames: 7 pass, 10 drop' "$T/odd.txt"; then
	ok "replay text: one line per frame and a summary"
else
	bad "replay text: $(cat "$T/odd.txt")"
fi
if [ -e "$T/nopins" ]; then bad "replay left $T/nopins"; else ok "replay pinned nothing"; fi

# ---------------------------------------------------------------------
# Part 2: the lab.
lf_up || { echo "FAIL lab up"; exit 1; }
lf_attach native >/dev/null || { bad "attach native"; exit 1; }
lf_enroll >/dev/null || { bad "enrol gw1, gw2"; exit 1; }
PIN=$LF_PIN

# Every counter a command could move by mistake, raw from the maps: the
# gateway slots' counters (gw1, gw2, rogue later: slots 0-2) and every
# cold row (drop counts and records), the global counters, the destinations' last_used, the pending MACs.
# Global arp/nd/non_ip are left out: lab hosts send neighbour traffic at
# any time, and it is not ours.
state_dump() {
	local s
	for s in 0 1 2; do
		bpftool -j map lookup pinned "$PIN/edpg_gw_stats" key "$s" 0 0 0
	done
	bpftool -j map dump pinned "$PIN/edpg_gw_cold"
	bpftool -j map dump pinned "$PIN/edpg_global" | jq -c '.[] | select(.formatted.key | IN(1, 2, 3) | not)'
	bpftool -j map dump pinned "$PIN/edpg_dst4"
	bpftool -j map dump pinned "$PIN/edpg_dst6"
	bpftool -j map dump pinned "$PIN/edpg_pending"
}
# explain_quiet ARGS...: explain between two identical dumps.  A gateway
# may send a frame of its own (MLD, IGMP, a retransmission of an earlier
# flow: on a loaded machine several in a row) meanwhile, so a differing pair
# is retried after a pause; explain writing live state would differ every
# time.
explain_quiet() {
	local _
	for _ in 1 2 3 4 5 6 7 8; do
		state_dump >"$T/s.before"
		lab_edp -j explain "$@" >"$T/ex.json"
		state_dump >"$T/s.after"
		cmp -s "$T/s.before" "$T/s.after" && return 0
		sleep 0.5
	done
	return 1
}
# global_counts: "verdict reason packets" of the live global counters.
global_counts() {
	lab_edp -j stats | jq -r '.global | to_entries[] |
		"pass \(.key) \(.value.pass_packets)", "drop \(.key) \(.value.drop_packets)"'
}

addr_of() { lab_resolve router "$1" "${2:-A}" | head -1; }
LOGIN=$(addr_of login.etherios.com)
TIME_UK=$(addr_of time.etherios.co.uk)
IDIGI=$(addr_of my.idigi.com)
[ -n "$LOGIN" ] && [ -n "$TIME_UK" ] && [ -n "$IDIGI" ] || { bad "lab DNS names"; exit 1; }

# flow index (LAB_FLOWS) | host | explain arguments.  Flow 10 (ICMP) has
# no explain: explain builds TCP and UDP packets.
EXPLAIN=(
	"0|gw1|tcp $LOGIN 3199"
	"1|gw1|udp 198.51.100.20 123"
	"2|gw2|udp $TIME_UK 123"
	"3|gw1|udp 10.99.0.1 53"
	"4|gw1|udp 198.51.100.20 123"
	"5|gw1|tcp 198.51.100.10 3197"
	"6|gw1|tcp 198.51.100.10 443"
	"7|gw1|tcp 198.51.100.10 22"
	"8|gw1|tcp 198.51.100.99 3199"
	"9|gw1|udp 198.51.100.10 123"
	"11|rogue|tcp $LOGIN 3199"
	"12|rogue|udp 198.51.100.20 123"
	"13|gw2|tcp $IDIGI 3199"
	"14|gw2|tcp 198.51.100.11 3197"
	"15|gw2|tcp 198.51.100.10 3197 --src 10.99.0.77"
	"16|gw1|tcp 2001:db8:100::11 3199"
	"17|gw2|udp 2001:db8:100::21 123"
	"18|gw1|tcp 2001:db8:100::10 443"
	"19|gw1|udp 2001:db8:100::10 123"
	"20|gw1|tcp $LOGIN 3199 --vlan 42 --src 10.99.42.11"
	"21|gw1|tcp 198.51.100.10 3197 --vlan 42 --src 10.99.42.11"
)
mac_of() {
	case $1 in gw1) echo "$GW1_MAC" ;; gw2) echo "$GW2_MAC" ;; rogue) echo "$ROGUE_MAC" ;; esac
}

# Capture what lan0 receives: on the switch's port towards the router.
CAP=$T/lab.pcap
global_counts >"$T/g.before"
lf_bg nsenter --net="/var/run/netns/$LAB-sw" tcpdump -i router -Q out -U -s 0 -w "$CAP" \
	2>"$T/tcpdump.err"
TCPDUMP=$LF_BG
for _ in $(seq 50); do grep -q "listening on" "$T/tcpdump.err" && break; sleep 0.1; done

n_explained=0
for e in "${EXPLAIN[@]}"; do
	IFS='|' read -r idx host args <<<"$e"
	desc=$(lf_flow_field "$idx" 1)
	counter=$(lf_flow_field "$idx" 3)
	# The reason explain must give: the flow's counter names it.
	case $counter in
	*.allow.*) want_r=allow ;;
	global.*) want_r=${counter#global.}; want_r=${want_r%%[>=]*} ;;
	*) want_r=${counter#*.drop.}; want_r=${want_r%%[>=]*} ;;
	esac
	[ "$(lf_flow_field "$idx" 2)" = reached ] && want_v=pass || want_v=drop
	# shellcheck disable=SC2086 # args are words
	explain_quiet "$(mac_of "$host")" $args ||
		bad "explain $host $args changed live state: $(diff "$T/s.before" "$T/s.after" | head -5)"
	got=$(jq -r '"\(.verdict) \(.reason)"' "$T/ex.json")
	lf_run_flow "$idx" native
	obs=$([ "$LF_OBS" = reached ] && echo pass || echo drop)
	if [ "$got" = "$want_v $want_r" ] && [ "$obs" = "$want_v" ] && [ "$LF_OK" = 0 ]; then
		n_explained=$((n_explained + 1))
	else
		bad "explain $host $args: '$got'; the flow '$desc' was $LF_OBS, $LF_COUNTER moved by $LF_DELTA"
	fi
done
[ "$n_explained" = "${#EXPLAIN[@]}" ] &&
	ok "explain agrees with the real outcome and counter of $n_explained lab flows, live state byte-identical"

# explain text: the facts behind a verdict.
lab_edp explain gw1 udp 198.51.100.10 123 >"$T/ex.txt"
if grep -q "verdict: drop (destination)" "$T/ex.txt" && grep -q "service: ntp" "$T/ex.txt" &&
	grep -q "exact entry in devicecloud" "$T/ex.txt" && grep -q "learned as login.etherios.com" "$T/ex.txt"; then
	ok "explain text names the service, the destination's group and the name it was learned as"
else
	bad "explain text: $(cat "$T/ex.txt")"
fi

sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null
# Counted after the capture stopped and before it started: every captured
# frame was counted; frames the hosts send on their own (MLD/IGMP reports:
# protocol from a gateway, unknown_mac from the rogue host) may be counted
# without being captured, never the other way round.
global_counts >"$T/g.after"

# Replay: per reason, the frames the live counters counted meanwhile.
lab_edp -j replay --live "$CAP" >"$T/live.json" || bad "replay --live of the lab capture"
lab_edp -j replay "$CAP" >"$T/rules.json" || bad "replay (rules data) of the lab capture"
nframes=$(jq length "$T/live.json")
jq -r 'group_by(.verdict + " " + .reason)[] | "\(.[0].verdict) \(.[0].reason) \(length)"' \
	"$T/live.json" >"$T/replay.counts"
mism=""
while read -r v r before; do
	after=$(awk -v v="$v" -v r="$r" '$1 == v && $2 == r { print $3 }' "$T/g.after")
	live=$((after - before))
	rep=$(awk -v v="$v" -v r="$r" '$1 == v && $2 == r { print $3 }' "$T/replay.counts")
	rep=${rep:-0}
	case $r in
	arp | nd | non_ip) # neighbour traffic before the capture started may be counted
		[ "$rep" -le "$live" ] || mism+=" $v/$r live $live replay $rep" ;;
	protocol | unknown_mac) # at most a couple of uncaptured MLD/IGMP reports
		[ "$rep" -le "$live" ] && [ "$live" -le $((rep + 2)) ] ||
			mism+=" $v/$r live $live replay $rep" ;;
	*) [ "$rep" -eq "$live" ] || mism+=" $v/$r live $live replay $rep" ;;
	esac
done <"$T/g.before"
if [ "$nframes" -gt 50 ] && [ -z "$mism" ]; then
	ok "replay of $nframes captured frames: per reason, what the live filter counted"
else
	bad "replay vs live counters ($nframes frames):$mism"
fi
if [ "$(jq -c '[.[] | [.frame, .verdict, .reason]]' "$T/live.json")" = \
	"$(jq -c '[.[] | [.frame, .verdict, .reason]]' "$T/rules.json")" ]; then
	ok "replay from the rules data agrees with the live policy frame by frame"
else
	bad "replay from the rules data differs from --live"
fi

# watch: the rogue host's drop, to an address it never used before.
lab_edp -j watch "$ROGUE_MAC" --timeout 6 >"$T/watch.json" &
WATCH=$!
LF_PIDS+=("$WATCH")
sleep 1
lf_ntp_once rogue 198.51.100.99
wait "$WATCH"
if jq -e --arg m "$ROGUE_MAC" 'select(.mac == $m and .dst == "198.51.100.99" and
	.dport == 123 and .proto == "udp" and .reason == "unknown_mac")' "$T/watch.json" >/dev/null; then
	ok "watch shows the rogue host's NTP drop"
else
	bad "watch: $(cat "$T/watch.json")"
fi

# pending: the rogue MAC, not a Digi OUI; a typo'd enrolment next to it.
lab_edp -j gateway pending >"$T/pend.json"
if jq -e --arg m "$ROGUE_MAC" '.[] | select(.mac == $m and .digi_oui == false and .packets >= 2)' \
	"$T/pend.json" >/dev/null; then
	ok "gateway pending lists the rogue MAC"
else
	bad "gateway pending: $(cat "$T/pend.json")"
fi
lab_edp gateway pending | grep -q "^$ROGUE_MAC 00000000-00000000-[0-9A-F]\{6\}FF-FF[0-9A-F]\{6\} digi no" ||
	bad "gateway pending text"
TYPO=${ROGUE_MAC%?}7
lab_edp gateway add "$TYPO" --name typo >/dev/null || bad "gateway add typo"
lab_edp -j doctor typo >"$T/doc.json"
if jq -e --arg m "$ROGUE_MAC" '.findings[] | select(.finding == "never_seen" and
	(.detail | contains($m)) and .counters.last_seen == 0)' "$T/doc.json" >/dev/null; then
	ok "doctor: never seen, with the closest unknown MAC"
else
	bad "doctor never_seen: $(cat "$T/doc.json")"
fi
lab_edp gateway del typo >/dev/null || bad "gateway del typo"

# doctor: the NTP group removed from a copy of the rules.
"$PY" - "$LF_RULES" >"$T/nontp.rules" <<'EOF'
import sys
out, skip = [], False
for line in open(sys.argv[1]):
	if line.startswith("group ntp"):
		skip = True
	if line.startswith("allow ntp to ntp"):
		continue
	if not skip:
		out.append(line)
	if skip and not line.rstrip().endswith("\\"):
		skip = False
sys.stdout.write("".join(out))
EOF
RULES_ORIG=$LF_RULES
LF_RULES=$T/nontp.rules
lab_edp apply >/dev/null || bad "apply without the ntp group"
if lf_ntp_once gw1 198.51.100.20; then bad "NTP still reached without the ntp group"; fi
lab_edp -j doctor gw1 >"$T/doc.json"
lab_edp doctor gw1 >"$T/doc.txt"
if jq -e '.findings[] | select(.finding == "ntp_blocked" and .counters."drops.destination" >= 1
	and .counters."allowed.edp_tls.packets" >= 1)' "$T/doc.json" >/dev/null &&
	grep -q "NTP is dropped" "$T/doc.txt"; then
	ok "doctor names the NTP problem, citing the counters"
else
	bad "doctor ntp: $(cat "$T/doc.txt")"
fi
LF_RULES=$RULES_ORIG
lab_edp apply >/dev/null || bad "apply the shipped rules again"

# add --pending enrols the rogue MAC with the defaults; it reaches NTP.
lab_edp gateway add --pending "$ROGUE_MAC" >/dev/null || bad "gateway add --pending"
lab_edp -j gateway pending | jq -e --arg m "$ROGUE_MAC" 'all(.[]; .mac != $m)' >/dev/null ||
	bad "rogue still pending after enrolment"
if lf_ntp_once rogue 198.51.100.20; then ok "add --pending enrols: rogue reaches NTP"; else bad "rogue enrolled but NTP blocked"; fi
lab_edp gateway del "$ROGUE_MAC" >/dev/null || bad "gateway del rogue"

# Prometheus: a strict parser of the text exposition format.
lab_edp stats --format prometheus >"$T/prom.txt" || bad "stats --format prometheus"
if "$PY" - "$T/prom.txt" <<'EOF'; then
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lbl = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(%s)(\{(%s(,%s)*)?\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$" % (name, lbl, lbl))
types, helps, seen, cur = {}, set(), set(), None
for n, line in enumerate(open(sys.argv[1]), 1):
	line = line.rstrip("\n")
	m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % name, line)
	if m:
		if m.group(1) == "TYPE":
			assert m.group(3) in ("counter", "gauge"), line
			assert m.group(2) not in types, "second TYPE %d" % n
			types[m.group(2)] = m.group(3)
			cur = m.group(2)
		else:
			helps.add(m.group(2))
		continue
	m = sample.match(line)
	assert m, "line %d: %r" % (n, line)
	assert m.group(1) == cur, "line %d: %s outside its TYPE block" % (n, m.group(1))
	assert m.group(1).startswith("edpgate_"), line
	if types[cur] == "counter":
		assert cur.endswith("_total"), cur
	assert line.rsplit(" ", 1)[0] not in seen, "duplicate series %d" % n
	seen.add(line.rsplit(" ", 1)[0])
assert set(types) <= helps
for need in ('edpgate_allowed_packets_total{gateway="00:40:9d:00:00:01",device_id="00000000-00000000-00409DFF-FF000001",name="gw1",service="edp-ssl"}',
	     'edpgate_dropped_packets_total{gateway="00:40:9d:00:00:01",device_id="00000000-00000000-00409DFF-FF000001",name="gw1",reason="destination"}',
	     'edpgate_packets_total{verdict="drop",reason="unknown_mac"}'):
	assert need in seen, need
EOF
	ok "stats --format prometheus parses (strict exposition format)"
else
	bad "prometheus output: $(head -20 "$T/prom.txt")"
fi

# stats --interval: rates, then a clean stop on SIGINT.
nsenter --net="/var/run/netns/$LAB-router" timeout --preserve-status -s INT 2.6 "$EDPGATE" --pin-dir "$PIN" \
	--state-dir "$LF_STATE" --rules "$LF_RULES" -j stats --interval 1 >"$T/int.json" 2>>"$LF_LOG"
rc=$?
if [ $rc -eq 0 ] && [ "$(jq -s 'length' "$T/int.json")" -ge 2 ] &&
	jq -se 'all(.[]; .gateways[0].drops_pps | has("destination"))' "$T/int.json" >/dev/null; then
	ok "stats --interval: one JSON document per second, exit 0 on SIGINT"
else
	bad "stats --interval (exit $rc): $(head -c 300 "$T/int.json")"
fi

# doctor: a gateway still connecting to a deprecated my.idigi.* name: the
# connection sets the destination's last_used in the live maps, which
# doctor reads back.
probe_tcp gw1 "$IDIGI" 3199 || true
lab_edp -j doctor >"$T/doc.json"
if jq -e --arg d "my.idigi.com ($IDIGI) used " '.findings[] | select(.finding == "idigi_deprecated"
	and (.detail | startswith($d)) and .counters["destination.last_used_age_s"] >= 0)' \
	"$T/doc.json" >/dev/null; then
	ok "doctor: a connection to my.idigi.com is named deprecated"
else
	bad "doctor idigi_deprecated: $(cat "$T/doc.json")"
fi

# Every command in text too (one code path; JSON was checked above).
for cmd in "stats gw1" "doctor" "gateway pending"; do
	# shellcheck disable=SC2086
	lab_edp $cmd >"$T/t.txt" && [ -s "$T/t.txt" ] || bad "edpgate $cmd (text)"
done

[ $fails -eq 0 ] && echo "PASS test_troubleshoot" || echo "$fails check(s) failed"
[ $fails -eq 0 ]
