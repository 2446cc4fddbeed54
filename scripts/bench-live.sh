#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-live.sh BUILD OUT - live traffic: packets per second received
# behind edpgate, nftables and a plain XDP_DROP, side by side.
#
# Writes OUT/live.json (every sample), OUT/live.md (report section) and
# OUT/live.tsv (summary rows for bench.sh).  Exit 0, 77 when it cannot run
# here (not root, no BPF), 1 on an error.  Goals are reported, not enforced.
#
# Every case has its own namespaces, built once, so the rounds can take the
# cases back to back (a ratio compares figures taken seconds apart):
#
#   gen ns: one veth per router ("g<case>"), frames sent by bench_live gen
#   (the XDP_TX generator, BPF_F_TEST_XDP_LIVE_FRAMES) into the peer, which
#   is the router's lan0 (10.77.0.1, MAC 02:ee:00:00:00:01)
#     rA  lan0: the counting XDP_DROP sink                 (a) floor
#     rX  lan0: edpgate attach --mode native --enforce xdp   (b), (e)
#     rN  lan0: edpgate attach --enforce nft (forward hook)   (d), (f)
#     rB  lan0: edpgate attach --mode native (default both:   (g)
#               XDP, then the nft forward chain)
#     rC  lan0: nft -f netdev ingress chain, same policy      (c)
#     rF  lan0: nothing, plain forwarding                     (reference)
#     rE  lan0: the empty XDP program (XDP_PASS), forwarding  (reference:
#               what any XDP program on the veth costs a passed frame)
#   rX, rN, rB, rF and rE forward out0 10.99.0.1 -> sink ns s<case> 10.99.0.2, whose
#   veth runs the counting sink (XDP_DROP: no stack there to answer).
#
# Counts are the kernel's own, at the receiver: the sink's per-CPU counter,
# edpgate's per-reason counters (XDP), the nft rule counters (nftables).
# The generator runs pinned to $BENCH_CPU when set; with a veth, the
# receiver's NAPI runs on the same CPU, so a figure is the packets one CPU
# can send and receive: the ratios between cases are what carries meaning.
#
# Environment: BENCH_LIVE_ROUNDS (5), BENCH_LIVE_SECONDS (1 per sample),
# BENCH_LIVE_GATEWAYS (1024 enrolled), BENCH_CPU.
set -uo pipefail

BUILD=${1:?usage: bench-live.sh BUILD OUT}
OUT=${2:?usage: bench-live.sh BUILD OUT}
ROUNDS=${BENCH_LIVE_ROUNDS:-5}
SECS=${BENCH_LIVE_SECONDS:-1}
NGW=${BENCH_LIVE_GATEWAYS:-1024}
LIVE=$BUILD/tests/bench/bench_live
EDPGATE=$BUILD/edpgate
P=bl$$				# every name we create starts with this
TMP=$(mktemp -d "${TMPDIR:-/tmp}/edpg-bench-live.XXXXXX")
NETNS=()
MOUNTED=""

cleanup() {
	local ns
	set +e
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	# Removing the pins detaches the sinks; the mount goes with them.
	[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench-live: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "bench-live: SKIP: needs root"; exit 77; }
for f in "$LIVE" "$EDPGATE"; do
	[ -x "$f" ] || die "$f is missing; run make"
done
command -v nft >/dev/null && command -v jq >/dev/null || { echo "bench-live: SKIP: needs nft and jq"; exit 77; }

PIN=()
if [ -n "${BENCH_CPU:-}" ] && command -v taskset >/dev/null; then
	PIN=(taskset -c "$BENCH_CPU")
fi

ROUTER_MAC=02:ee:00:00:00:01
GW_MAC=02:00:00:00:00:01		# enrolled (gateway 1 of the file)
ROGUE_MAC=02:00:00:ff:ff:01		# not enrolled
CLOUD=10.99.0.2				# allowed destination, behind the router
ELSEWHERE=10.98.0.9			# routed, but in no destination group

mkdir -p "$TMP/bpffs" "$OUT" || exit 1
mount -t bpf bpf "$TMP/bpffs" || die "cannot mount a bpffs"
MOUNTED=$TMP/bpffs
SINKPINS=$TMP/bpffs/sinks
mkdir -p "$SINKPINS"

in_ns() { local ns=$1; shift; nsenter --net="/var/run/netns/$ns" "$@"; }

ns_add() {
	ip netns add "$P-$1" || die "cannot create netns $P-$1"
	NETNS+=("$P-$1")
	ip -n "$P-$1" link set lo up
}

# ---- the rules data, the enrolled gateways, the nftables-alone ruleset ----

RULES=$TMP/bench.rules
cat >"$RULES" <<EOF
service edp-ssl tcp 3199
service edp     tcp 3197
service ntp     udp 123
group cloud $CLOUD
allow edp-ssl,edp to cloud
allow ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
EOF

# Every gateway bound to one IPv4 and one IPv6 source (gateway 1, the one
# the generator speaks for, to its 10.77.0.10): the binding check is part
# of the work on both sides of a comparison.
gw_ip4() { awk -v i="$1" 'BEGIN { if (i == 1) print "10.77.0.10"; else printf "10.78.%d.%d\n", int(i / 256), i % 256 }'; }
GWFILE=$TMP/gateways.import
awk -v n="$NGW" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "gateway 02:00:00:00:%02x:%02x name gw%d ip %s ip fd77::%x\n", int(i / 256), i % 256, i,
			i == 1 ? "10.77.0.10" : sprintf("10.78.%d.%d", int(i / 256), i % 256), i
}' >"$GWFILE"

# What an administrator would write without edpgate: the same decision in
# a netdev ingress chain on lan0 (no conntrack, no routing needed), for
# IPv4 and IPv6: enrolled MAC, source binding (0.0.0.0, :: and fe80::/10
# exempt, as in the XDP program), fragments, protocol, port, service,
# destination.  ARP and neighbour discovery pass as the XDP program passes
# them.
NFTC=$TMP/nft-alone.nft
{
	echo "table netdev ${P}c {"
	echo "	set gateways { type ether_addr; elements = {"
	awk -v n="$NGW" 'BEGIN { for (i = 1; i <= n; i++)
		printf "\t\t02:00:00:00:%02x:%02x%s\n", int(i / 256), i % 256, i < n ? "," : "" }'
	echo "	} }"
	echo "	set bind4 { type ether_addr . ipv4_addr; elements = {"
	awk -v n="$NGW" 'BEGIN { for (i = 1; i <= n; i++)
		printf "\t\t02:00:00:00:%02x:%02x . %s%s\n", int(i / 256), i % 256,
			i == 1 ? "10.77.0.10" : sprintf("10.78.%d.%d", int(i / 256), i % 256), i < n ? "," : "" }'
	echo "	} }"
	echo "	set bind6 { type ether_addr . ipv6_addr; elements = {"
	awk -v n="$NGW" 'BEGIN { for (i = 1; i <= n; i++)
		printf "\t\t02:00:00:00:%02x:%02x . fd77::%x%s\n", int(i / 256), i % 256, i, i < n ? "," : "" }'
	echo "	} }"
	echo "	set svc_edp_ssl { type ether_addr; elements = {"
	awk -v n="$NGW" 'BEGIN { for (i = 1; i <= n; i++)
		printf "\t\t02:00:00:00:%02x:%02x%s\n", int(i / 256), i % 256, i < n ? "," : "" }'
	echo "	} }"
	echo "	set svc_ntp { type ether_addr; elements = {"
	awk -v n="$NGW" 'BEGIN { for (i = 1; i <= n; i++)
		printf "\t\t02:00:00:00:%02x:%02x%s\n", int(i / 256), i % 256, i < n ? "," : "" }'
	echo "	} }"
	echo "	set svc_edp { type ether_addr; }"
	echo "	set cloud4 { type ipv4_addr; flags interval; elements = { $CLOUD } }"
	echo "	set cloud6 { type ipv6_addr; flags interval; }"
	cat <<-EOF
		chain ingress {
			type filter hook ingress device "lan0" priority 0; policy accept;
			ether type arp accept
			icmpv6 type 133-137 accept
			ether saddr != @gateways counter drop comment "unknown_mac"
			ether type != { ip, ip6 } counter drop comment "non_ip"
			ip saddr != 0.0.0.0 ether saddr . ip saddr != @bind4 counter drop comment "binding"
			ip6 saddr != { ::, fe80::/10 } ether saddr . ip6 saddr != @bind6 counter drop comment "binding6"
			ip frag-off & 0x1fff != 0 counter drop comment "fragment"
			exthdr frag exists counter drop comment "fragment6"
			meta l4proto != { tcp, udp } counter drop comment "protocol"
			tcp dport 3199 goto edp_ssl
			tcp dport 3197 goto edp
			udp dport 123 goto ntp
			counter drop comment "port"
		}
		chain dest {
			ip daddr @cloud4 counter accept comment "allow"
			ip6 daddr @cloud6 counter accept comment "allow6"
			counter drop comment "destination"
		}
		chain edp_ssl {
			ether saddr != @svc_edp_ssl counter drop comment "service"
			goto dest
		}
		chain edp {
			ether saddr != @svc_edp counter drop comment "service"
			goto dest
		}
		chain ntp {
			ether saddr != @svc_ntp counter drop comment "service"
			goto dest
		}
	}
	EOF
} >"$NFTC"

# ---- topology ----

ns_add gen

# router NAME: gen veth g<NAME> <-> router lan0; with FWD=1 also out0 to a
# sink namespace s<NAME> whose veth counts and drops.
router() {
	local r=$1 fwd=$2 rns=$P-r$1 sns=$P-s$1
	ns_add "r$r"
	ip link add "${P}g$r" netns "$P-gen" type veth peer name "${P}l$r" netns "$rns" ||
		die "cannot create the veth of $r"
	ip -n "$P-gen" link set "${P}g$r" name "g$r"
	ip -n "$rns" link set "${P}l$r" name lan0
	ip -n "$rns" link set lan0 address $ROUTER_MAC
	ip -n "$rns" addr add 10.77.0.1/24 dev lan0
	ip -n "$P-gen" link set "g$r" up
	ip -n "$rns" link set lan0 up
	# The generator's XDP_TX needs an XDP program on lan0 or, without one, GRO.
	in_ns "$rns" ethtool -K lan0 gro on >/dev/null 2>&1 || die "cannot turn GRO on for lan0 in $rns"
	[ "$fwd" = 1 ] || return 0
	ns_add "s$r"
	ip link add "${P}o$r" netns "$rns" type veth peer name "${P}s$r" netns "$sns" ||
		die "cannot create the sink veth of $r"
	ip -n "$rns" link set "${P}o$r" name out0
	# Named after the case: the sink's pins are named after the device.
	ip -n "$sns" link set "${P}s$r" name "s$r"
	ip -n "$sns" link set "s$r" address 02:ee:00:00:00:02
	ip -n "$rns" addr add 10.99.0.1/24 dev out0
	ip -n "$sns" addr add $CLOUD/24 dev "s$r"
	ip -n "$rns" link set out0 up
	ip -n "$sns" link set "s$r" up
	ip -n "$rns" route add 10.98.0.0/24 via $CLOUD
	# The sink's XDP program would drop ARP replies: a permanent neighbour.
	ip -n "$rns" neigh replace $CLOUD lladdr 02:ee:00:00:00:02 dev out0 nud permanent
	in_ns "$rns" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$sns" "$LIVE" sink "$SINKPINS" "s$r" >/dev/null || die "cannot attach the sink in $sns"
}

router A 0
router X 1
router N 1
router B 1
router C 0
router F 1
router E 1

in_ns "$P-rA" "$LIVE" sink "$SINKPINS" lan0 >/dev/null || die "cannot attach the floor sink"
ip -n "$P-rE" link set dev lan0 xdpdrv obj "$BUILD/bpf/empty.bpf.o" sec xdp ||
	die "cannot attach the empty XDP program to lan0 in $P-rE"

edp() {	# edp CASE ARGS...: the real CLI inside router r<CASE>
	local r=$1
	shift
	in_ns "$P-r$r" "$EDPGATE" --pin-dir "$TMP/bpffs/edpg$r" --state-dir "$TMP/state$r" \
		--rules "$RULES" "$@"
}
edp X attach lan0 --mode native --enforce xdp >"$TMP/attachX.log" 2>&1 ||
	die "edpgate attach (xdp) failed: $(cat "$TMP/attachX.log")"
edp N attach lan0 --enforce nft >"$TMP/attachN.log" 2>&1 ||
	die "edpgate attach (nft) failed: $(cat "$TMP/attachN.log")"
edp B attach lan0 --mode native >"$TMP/attachB.log" 2>&1 ||
	die "edpgate attach (both) failed: $(cat "$TMP/attachB.log")"
for r in X N B; do
	edp $r gateway import "$GWFILE" >"$TMP/import$r.log" 2>&1 ||
		die "edpgate gateway import failed: $(cat "$TMP/import$r.log")"
done
in_ns "$P-rC" nft -f "$NFTC" || die "nft -f of the nftables-alone ruleset failed"

# ---- counters ----

nft_rule_count() {	# nft_rule_count NS FAMILY TABLE CHAIN COMMENT
	in_ns "$1" nft -j list chain "$2" "$3" "$4" |
		jq --arg c "$5" '[.nftables[] | select(.rule) | .rule | select(.comment == $c) |
			.expr[] | select(.counter) | .counter.packets] | add // 0'
}

# count CASE: the receiver's packet count for a case
count() {
	case $1 in
	a) "$LIVE" count "$SINKPINS/count_lan0" ;;
	b_unknown) "$LIVE" edpg "$TMP/bpffs/edpgX" 4 drop ;;	# EDPG_R_UNKNOWN_MAC
	b_dest) "$LIVE" edpg "$TMP/bpffs/edpgX" 11 drop ;;	# EDPG_R_DESTINATION
	c_unknown) nft_rule_count "$P-rC" netdev "${P}c" ingress unknown_mac ;;
	c_dest) nft_rule_count "$P-rC" netdev "${P}c" dest destination ;;
	d_unknown) nft_rule_count "$P-rN" inet edpgate lan_decide unknown_mac ;;
	d_dest) nft_rule_count "$P-rN" inet edpgate chk_edp-ssl destination ;;
	e) "$LIVE" count "$SINKPINS/count_sX" ;;
	f) "$LIVE" count "$SINKPINS/count_sN" ;;
	g) "$LIVE" count "$SINKPINS/count_sB" ;;
	fwd) "$LIVE" count "$SINKPINS/count_sF" ;;
	xpass) "$LIVE" count "$SINKPINS/count_sE" ;;
	esac
}

# case: router frame-source destination label
CASES=(a b_unknown b_dest c_unknown c_dest d_unknown d_dest e f g fwd xpass)
declare -A R=([a]=A [b_unknown]=X [b_dest]=X [c_unknown]=C [c_dest]=C [d_unknown]=N
	[d_dest]=N [e]=X [f]=N [g]=B [fwd]=F [xpass]=E)
declare -A SRC=([a]=$ROGUE_MAC [b_unknown]=$ROGUE_MAC [b_dest]=$GW_MAC [c_unknown]=$ROGUE_MAC
	[c_dest]=$GW_MAC [d_unknown]=$ROGUE_MAC [d_dest]=$GW_MAC [e]=$GW_MAC [f]=$GW_MAC [g]=$GW_MAC [fwd]=$GW_MAC
	[xpass]=$GW_MAC)
declare -A DST=([a]=$CLOUD [b_unknown]=$CLOUD [b_dest]=$ELSEWHERE [c_unknown]=$CLOUD
	[c_dest]=$ELSEWHERE [d_unknown]=$CLOUD [d_dest]=$ELSEWHERE [e]=$CLOUD [f]=$CLOUD [g]=$CLOUD [fwd]=$CLOUD
	[xpass]=$CLOUD)
declare -A LABEL=(
	[a]="(a) XDP_DROP + counter on lan0 (floor)"
	[b_unknown]="(b) edpgate XDP drop, unknown_mac"
	[b_dest]="(b) edpgate XDP drop, destination"
	[c_unknown]="(c) nftables netdev ingress drop, unknown_mac"
	[c_dest]="(c) nftables netdev ingress drop, destination"
	[d_unknown]="(d) edpgate --enforce nft drop (forward), unknown_mac"
	[d_dest]="(d) edpgate --enforce nft drop (forward), destination"
	[e]="(e) allowed, edpgate native XDP, forwarded to the sink"
	[f]="(f) allowed, edpgate --enforce nft, forwarded to the sink"
	[g]="(g) allowed, edpgate default --enforce both (XDP + nft forward), forwarded to the sink"
	[fwd]="allowed, no filter at all, forwarded to the sink (reference)"
	[xpass]="allowed, the empty XDP program (XDP_PASS) on lan0, forwarded to the sink (reference)")
declare -A COUNTER=(
	[a]="sink XDP program's per-CPU counter" [b_unknown]="edpg_global[unknown_mac].drop"
	[b_dest]="edpg_global[destination].drop" [c_unknown]="nft rule counter 'unknown_mac'"
	[c_dest]="nft rule counter 'destination'" [d_unknown]="edpgate nft rule counter 'unknown_mac'"
	[d_dest]="edpgate nft rule counter 'destination' (chk_edp-ssl)"
	[e]="sink XDP counter behind the router" [f]="sink XDP counter behind the router"
	[g]="sink XDP counter behind the router"
	[fwd]="sink XDP counter behind the router" [xpass]="sink XDP counter behind the router")

# One sample: count, send for $SECS, count; pps = received / sending time.
SAMPLES=$TMP/samples.tsv
: >"$SAMPLES"
sample() {
	local c=$1 r=$2 c0 c1 out sent ns
	c0=$(count "$c") || return 1
	out=$(in_ns "$P-gen" "${PIN[@]}" "$LIVE" gen "g${R[$c]}" "$SECS" -s "${SRC[$c]}" -d $ROUTER_MAC \
		-S 10.77.0.10 -D "${DST[$c]}" -p tcp -P 3199) || return 1
	c1=$(count "$c") || return 1
	read -r sent ns <<<"$out"
	printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "$((c1 - c0))" "$sent" "$ns" >>"$SAMPLES"
	awk -v n="$((c1 - c0))" -v s="$sent" -v t="$ns" -v c="$c" \
		'BEGIN { printf "  %-10s %7.3f Mpps received (%.3f Mpps offered)\n", c, n / t * 1e3, s / t * 1e3 }'
}

# A first pass that is not kept: it checks every case reaches its counter
# (a case counting 0 measures nothing) and warms the caches.
for c in "${CASES[@]}"; do
	c0=$(count "$c")
	in_ns "$P-gen" "${PIN[@]}" "$LIVE" gen "g${R[$c]}" 0.2 -s "${SRC[$c]}" -d $ROUTER_MAC \
		-S 10.77.0.10 -D "${DST[$c]}" -p tcp -P 3199 >/dev/null || die "generator failed for $c"
	c1=$(count "$c")
	[ "$((c1 - c0))" -gt 0 ] || die "case $c: its counter did not move (${COUNTER[$c]})"
done

for ((r = 0; r < ROUNDS; r++)); do
	echo " round $((r + 1))/$ROUNDS"
	# Odd rounds walk the cases backwards: drift does not favour one end.
	order=("${CASES[@]}")
	if ((r % 2)); then
		order=()
		for ((i = ${#CASES[@]} - 1; i >= 0; i--)); do order+=("${CASES[$i]}"); done
	fi
	for c in "${order[@]}"; do
		sample "$c" "$r" || die "sample $c failed"
	done
done

# ---- figures ----

# Every case: median/min/max pps; every goal: the median of per-round
# ratios (the two figures of a ratio are taken in the same round).
labels=$(for c in "${CASES[@]}"; do printf '%s\t%s\t%s\n' "$c" "${LABEL[$c]}" "${COUNTER[$c]}"; done |
	jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): {label: .[1], counter: .[2]}}) | add')
jq -R -s --argjson labels "$labels" --argjson secs "$SECS" --argjson rounds "$ROUNDS" \
	--argjson ngw "$NGW" --arg cpu "${BENCH_CPU:-unpinned}" '
	def med: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def st: {median: med, min: min, max: max};
	(split("\n") | map(select(length > 0) | split("\t") |
		{case: .[0], round: (.[1] | tonumber), received: (.[2] | tonumber),
		 sent: (.[3] | tonumber), ns: (.[4] | tonumber)} |
		.pps = (.received / .ns * 1e9) | .offered_pps = (.sent / .ns * 1e9))) as $s |
	def pps($c): [$s[] | select(.case == $c)] | sort_by(.round) | map(.pps);
	def ratio($x; $y; $k): [range(0; $rounds) as $i | pps($x)[$i] / pps($y)[$i] / $k] | st;
	def goal($name; $x; $y; $k; $limit):
		ratio($x; $y; $k) as $r |
		{goal: $name, x: $x, y: $y, ratio: $r.median, ratio_min: $r.min, ratio_max: $r.max,
		 limit: $limit, pass: ($r.median >= $limit)};
	{method: "BPF_F_TEST_XDP_LIVE_FRAMES generator into a veth, counted at the receiver",
	 frame_bytes: 60, seconds_per_sample: $secs, rounds: $rounds, enrolled_gateways: $ngw,
	 generator_cpu: $cpu,
	 cases: [$labels | keys_unsorted[] as $c | {case: $c} + $labels[$c] +
		(pps($c) | st | with_entries(.key |= "\(.)_pps")) +
		{offered_median_pps: ([$s[] | select(.case == $c) | .offered_pps] | med),
		 samples_pps: pps($c)}],
	 goals: [goal("(b) edpgate XDP unknown_mac drop / (a) XDP_DROP floor"; "b_unknown"; "a"; 1; 0.8),
		 goal("(b) edpgate XDP destination drop / (a) XDP_DROP floor"; "b_dest"; "a"; 1; 0.75),
		 goal("(b) edpgate XDP unknown_mac drop / (c) nftables netdev unknown_mac drop"; "b_unknown"; "c_unknown"; 1; 3.5),
		 goal("(b) edpgate XDP destination drop / (c) nftables netdev destination drop"; "b_dest"; "c_dest"; 1; 3),
		 goal("(e) allowed forwarded, edpgate --enforce xdp / (f) edpgate --enforce nft"; "e"; "f"; 1; 1),
		 goal("(g) allowed forwarded, default --enforce both / (f) edpgate --enforce nft alone"; "g"; "f"; 1; 1)],
	 ratios: [{what: "(b) unknown_mac / (d) unknown_mac", r: ratio("b_unknown"; "d_unknown"; 1)},
		  {what: "(c) unknown_mac / (d) unknown_mac", r: ratio("c_unknown"; "d_unknown"; 1)},
		  {what: "(e) XDP allowed / no filter", r: ratio("e"; "fwd"; 1)},
		  {what: "(f) nft allowed / no filter", r: ratio("f"; "fwd"; 1)},
		  {what: "(g) both allowed / no filter", r: ratio("g"; "fwd"; 1)},
		  {what: "empty XDP program allowed / no filter", r: ratio("xpass"; "fwd"; 1)},
		  {what: "(e) XDP allowed / empty XDP program", r: ratio("e"; "xpass"; 1)},
		  {what: "(g) both allowed / (f) nft alone, each over its hook: (g / empty XDP) / (f / no filter)",
		   r: ([range(0; $rounds) as $i | (pps("g")[$i] / pps("xpass")[$i]) / (pps("f")[$i] / pps("fwd")[$i])] | st)}]
	}' "$SAMPLES" >"$OUT/live.json" || die "cannot compute the figures"

{
	echo "## Live traffic: frames into the router's LAN veth"
	echo
	echo "A generator XDP program returning XDP_TX, run with BPF_PROG_TEST_RUN and"
	echo "BPF_F_TEST_XDP_LIVE_FRAMES (batch 64), sends 64-byte frames (60 bytes, FCS not carried"
	echo "by veth) of one TCP SYN to port 3199 into each router namespace's lan0 for $SECS s per"
	echo "sample; $ROUNDS rounds take every case back to back (odd rounds in reverse order)."
	echo "Received packets are counted by the kernel at the receiver (column *counter*), never"
	echo "by the generator. $NGW gateways are enrolled everywhere. The generator runs on CPU"
	echo "${BENCH_CPU:-(unpinned)} and a veth receives on the sending CPU, so each figure is"
	echo "what one CPU sends *and* handles: compare ratios, not absolute rates."
	echo
	echo "| case | Mpps median | min | max | offered Mpps | counter |"
	echo "|---|---:|---:|---:|---:|---|"
	jq -r '.cases[] | "| \(.label) | \(.median_pps / 1e6 * 1000 | round / 1000) | \(.min_pps / 1e6 * 1000 | round / 1000) | \(.max_pps / 1e6 * 1000 | round / 1000) | \(.offered_median_pps / 1e6 * 1000 | round / 1000) | \(.counter) |"' "$OUT/live.json"
	echo
	echo "| goal / ratio (median of per-round ratios) | ratio | min | max | limit | result |"
	echo "|---|---:|---:|---:|---:|---|"
	jq -r '.goals[] | "| \(.goal) | \(.ratio * 100 | round / 100)x | \(.ratio_min * 100 | round / 100) | \(.ratio_max * 100 | round / 100) | \(.limit)x | \(if .pass then "PASS" else "MISS" end) |"' "$OUT/live.json"
	jq -r '.ratios[] | "| \(.what) | \(.r.median * 100 | round / 100)x | \(.r.min * 100 | round / 100) | \(.r.max * 100 | round / 100) | - | - |"' "$OUT/live.json"
	echo
} >"$OUT/live.md"

jq -r '.goals[] as $g | .cases as $c |
	($c[] | select(.case == $g.x) | .median_pps) as $x |
	($c[] | select(.case == $g.y) | .median_pps) as $y |
	"live\t\($g.goal)\t\($x / 1e4 | round / 100) vs \($y / 1e4 | round / 100) Mpps: \($g.ratio * 100 | round / 100)x\t>= \($g.limit)x\t\(if $g.pass then "PASS" else "MISS" end)"' \
	"$OUT/live.json" >"$OUT/live.tsv"
jq -r '.cases[] | select(.case == "a" or .case == "c_unknown" or .case == "d_unknown" or .case == "fwd" or
		.case == "xpass") |
	"live\t\(.label)\t\(.median_pps / 1e4 | round / 100) Mpps\t-\t-"' "$OUT/live.json" >>"$OUT/live.tsv"
exit 0
