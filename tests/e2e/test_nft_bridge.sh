#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# edpgate where the LAN is a Linux bridge.
#
# (a) Routed: the router's LAN is bridge br-lan with two ports, a gateway
#     host on each (gw1 on lanp1, gw2 on lanp2), and the gateways' traffic
#     is routed out of wan0 to the cloud.  `attach br-lan --enforce nft`:
#     attach warns that a gateway's VLAN binding is not checked by nft;
#     the inet hooks see the routed traffic with iifname br-lan and the
#     frame's source MAC, so with gw1 enrolled gw1 reaches the cloud and
#     gw2 is dropped as unknown_mac; enrolling gw2 and deleting gw1 swaps
#     the outcomes (the MAC is matched, not the port); verify passes.
# (b) Transparent: bridge br-t joins a LAN host's port (tp1) and the
#     uplink's port (tp2), no routing.  A probe table shows the inet hooks
#     never see a packet under the port's name, and `attach tp1 --enforce
#     nft` is refused (nothing attached, no table) for that reason; `--enforce both` on the
#     port warns that XDP alone decides there, and XDP does: the enrolled
#     host reaches the uplink host, and after `gateway del` it does not.
. "$(dirname "$0")/lib.sh"
require_root
for c in socat jq nft; do
	command -v "$c" >/dev/null || skip "needs $c"
done

GW1=02:b1:00:00:00:01
GW2=02:b1:00:00:00:02

netns_add R_NS r
netns_add G1_NS g1
netns_add G2_NS g2
netns_add C_NS c
# veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces.
veth() {
	local a="${E2E_ID}$RANDOM" b="${E2E_ID}$RANDOM"
	ip link add "$a" netns "$1" type veth peer name "$b" netns "$3"
	ip -n "$1" link set "$a" name "$2"
	ip -n "$3" link set "$b" name "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}
ip -n "$R_NS" link add br-lan type bridge
veth "$R_NS" lanp1 "$G1_NS" eth0
veth "$R_NS" lanp2 "$G2_NS" eth0
ip -n "$R_NS" link set lanp1 master br-lan
ip -n "$R_NS" link set lanp2 master br-lan
ip -n "$R_NS" link set br-lan up
ip -n "$R_NS" addr add 10.77.0.1/24 dev br-lan
ip -n "$G1_NS" link set eth0 address $GW1
ip -n "$G2_NS" link set eth0 address $GW2
ip -n "$G1_NS" addr add 10.77.0.2/24 dev eth0
ip -n "$G2_NS" addr add 10.77.0.3/24 dev eth0
veth "$R_NS" wan0 "$C_NS" eth0
ip -n "$R_NS" addr add 10.78.0.1/24 dev wan0
ip -n "$C_NS" addr add 10.78.0.2/24 dev eth0
for ns in "$G1_NS" "$G2_NS"; do
	ip -n "$ns" route add default via 10.77.0.1
	in_ns "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
done
ip -n "$C_NS" route add 10.77.0.0/24 via 10.78.0.1
in_ns "$R_NS" sysctl -qw net.ipv4.ip_forward=1
bg in_ns "$C_NS" socat TCP4-LISTEN:3199,reuseaddr,fork SYSTEM:true

bpffs_private
# shellcheck disable=SC2034 # read by lib.sh's edp
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.78.0.2 10.79.0.9
allow edp-ssl,ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

nft_count() {	# nft_count COMMENT: packets of the rules with that comment
	in_ns "$R_NS" nft -j list table inet edpgate | jq --arg c "$1" \
		'[.nftables[] | select(.rule and .rule.comment == $c) | .rule.expr[] |
		  select(.counter) | .counter.packets] | add // 0'
}
# outcomes: "gw1 gw2", each pass or drop, for TCP 3199 to the cloud.
outcomes() {
	local a=drop b=drop
	tcp_ok "$G1_NS" 10.78.0.2 3199 && a=pass
	tcp_ok "$G2_NS" 10.78.0.2 3199 && b=pass
	echo "$a $b"
}
for _ in $(seq 50); do tcp_ok "$G1_NS" 10.78.0.2 3199 && break; sleep 0.1; done
got=$(outcomes)
[ "$got" = "pass pass" ] || fail "(a) baseline without edpgate: $got"
ok "(a) baseline without edpgate: both hosts behind br-lan reach the cloud"

# ---- (a) routed bridge, --enforce nft on the bridge ------------------------
# A gateway bound to a VLAN (not on the wire): nft cannot check the VLAN,
# and attach says so.
edp gateway add 02:b1:00:00:00:77 --name vlan7 --vlan 7 >/dev/null || fail "(a) gateway add --vlan 7"
edp attach br-lan --enforce nft >/dev/null 2>"$E2E_TMP/a.err" || fail "(a) attach br-lan --enforce nft"
grep -q "02:b1:00:00:00:77 to VLAN 7).*with --enforce nft the VLAN is not checked" "$E2E_TMP/a.err" ||
	fail "(a) attach --enforce nft did not warn about the VLAN binding: $(cat "$E2E_TMP/a.err")"
edp gateway del vlan7 >/dev/null || fail "(a) gateway del vlan7"
ok "(a) attach --enforce nft warns that a gateway's VLAN binding is not checked"
edp gateway add $GW1 --name gw1 >/dev/null || fail "(a) gateway add gw1"
u0=$(nft_count unknown_mac)
got=$(outcomes)
[ "$got" = "pass drop" ] || fail "(a) gw1 enrolled: gw1 gw2 = $got, want pass drop"
u1=$(nft_count unknown_mac)
[ "$u1" -gt "$u0" ] || fail "(a) unknown_mac rule counter did not move ($u0 -> $u1)"
ok "(a) gw1 enrolled: gw1 (lanp1) reaches the cloud, gw2 (lanp2) dropped as unknown_mac (+$((u1 - u0)))"

edp gateway add $GW2 --name gw2 >/dev/null || fail "(a) gateway add gw2"
edp gateway del gw1 >/dev/null || fail "(a) gateway del gw1"
got=$(outcomes)
[ "$got" = "drop pass" ] || fail "(a) gw2 enrolled, gw1 deleted: gw1 gw2 = $got, want drop pass"
ok "(a) gw2 enrolled, gw1 deleted: the outcomes swap (the MAC decides, not the port)"
edp verify >/dev/null || fail "(a) verify"
ok "(a) verify passes"
edp gateway del gw2 >/dev/null || fail "(a) gateway del gw2"
edp detach --all >/dev/null || fail "(a) detach --all"

# ---- (b) transparent bridge -------------------------------------------------
netns_add T_NS t
netns_add U_NS u
ip -n "$R_NS" link add br-t type bridge
veth "$R_NS" tp1 "$T_NS" eth0
veth "$R_NS" tp2 "$U_NS" eth0
ip -n "$R_NS" link set tp1 master br-t
ip -n "$R_NS" link set tp2 master br-t
ip -n "$R_NS" link set br-t up
ip -n "$T_NS" link set eth0 address $GW1
ip -n "$T_NS" addr add 10.79.0.2/24 dev eth0
ip -n "$U_NS" addr add 10.79.0.9/24 dev eth0
in_ns "$T_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
bg in_ns "$U_NS" socat TCP4-LISTEN:3199,reuseaddr,fork SYSTEM:true
for _ in $(seq 50); do tcp_ok "$T_NS" 10.79.0.9 3199 && break; sleep 0.1; done
tcp_ok "$T_NS" 10.79.0.9 3199 || fail "(b) baseline: the host does not reach the uplink through br-t"

# The premise of the refusal, asked of the kernel directly: a rule for
# iifname tp1 in the inet forward and input hooks never sees the host's
# bridged connection (through br_netfilter it may carry br-t's name).
PROBE=${E2E_ID}probe
in_ns "$R_NS" nft -f - <<NFT_EOF
table inet $PROBE {
	chain fw {
		type filter hook forward priority -10;
		iifname "tp1" counter comment "port"
		iifname "br-t" counter comment "bridge"
	}
	chain in { type filter hook input priority -10; iifname "tp1" counter comment "port"; }
}
NFT_EOF
tcp_ok "$T_NS" 10.79.0.9 3199 || fail "(b) the host does not reach the uplink with the probe table"
probe() {
	in_ns "$R_NS" nft -j list table inet "$PROBE" | jq --arg c "$1" \
		'[.nftables[] | select(.rule and .rule.comment == $c) | .rule.expr[] |
		  select(.counter) | .counter.packets] | add'
}
seen=$(probe port) as_bridge=$(probe bridge)
in_ns "$R_NS" nft delete table inet "$PROBE"
[ "$seen" = 0 ] || fail "(b) an inet hook saw $seen packets with iifname tp1"
ok "(b) the inet hooks never see a packet as coming from the port tp1 (0; as br-t, through br_netfilter: $as_bridge)"

if edp attach tp1 --enforce nft >"$E2E_TMP/b.out" 2>"$E2E_TMP/b.err"; then
	fail "(b) attach tp1 --enforce nft was accepted"
fi
grep -q "tp1 is a port of bridge br-t: --enforce nft cannot filter it" "$E2E_TMP/b.err" ||
	fail "(b) refusal does not say why: $(cat "$E2E_TMP/b.err")"
grep -q -- "--enforce xdp|both on tp1" "$E2E_TMP/b.err" ||
	fail "(b) refusal does not say what to do: $(cat "$E2E_TMP/b.err")"
[ "$(edp -j status | jq '.interfaces | length')" = 0 ] || fail "(b) something is attached after the refusal"
in_ns "$R_NS" nft list table inet edpgate >/dev/null 2>&1 && fail "(b) the refusal left an nft table"
ok "(b) attach tp1 --enforce nft refused, saying why and what to do; nothing attached"

edp gateway add $GW1 --name gw1 >/dev/null || fail "(b) gateway add"
edp attach tp1 --mode native --enforce both >/dev/null 2>"$E2E_TMP/b.err" || fail "(b) attach tp1 --enforce both"
grep -q "tp1 is a port of bridge br-t: nftables' inet hooks never see its frames, so XDP alone decides" \
	"$E2E_TMP/b.err" || fail "(b) no warning for --enforce both on a port: $(cat "$E2E_TMP/b.err")"
tcp_ok "$T_NS" 10.79.0.9 3199 || fail "(b) enrolled host blocked through the transparent bridge"
edp gateway del gw1 >/dev/null || fail "(b) gateway del"
d0=$(edp -j stats | jq '.global.unknown_mac.drop_packets')
tcp_ok "$T_NS" 10.79.0.9 3199 && fail "(b) deleted host still reaches the uplink through the bridge"
d1=$(edp -j stats | jq '.global.unknown_mac.drop_packets')
[ "$d1" -gt "$d0" ] || fail "(b) XDP's unknown_mac drops did not move ($d0 -> $d1)"
ok "(b) --enforce both on the port warns; XDP decides the bridged frames (enrolled: pass; deleted: unknown_mac +$((d1 - d0)))"
edp detach --all >/dev/null || fail "(b) detach --all"
echo "PASS"
