#!/usr/bin/env bash
# The nftables mirror and `edpgate verify` on a real kernel (issue 4):
#  - the table read by the real `nft -j` holds exactly the elements the rules
#    file and the enrolled gateways call for (expectation computed here, from
#    the same data the rules file is written from, not from edpgate);
#  - gateway add/del are element deltas: the table, its sets and the rule
#    counters survive them;
#  - verify passes; tampering with nft elements and BPF map entries (bpftool)
#    is named difference by difference, text and JSON, exit 1; apply heals;
#  - the same connections get the same verdicts with --enforce both, xdp and
#    nft; xdp leaves the nft chains accepting, nft leaves lan0 without XDP.
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip "needs jq"
command -v nft >/dev/null || skip "needs nft"
command -v bpftool >/dev/null || skip "needs bpftool"

HOST=02:77:00:00:00:02		# the LAN host: bound to its IPv4 source
SIX=02:77:00:00:00:06		# not on the wire: bound to an IPv6 source
EXTRA=02:77:00:00:00:09		# added and deleted to watch the deltas
STRANGER=02:77:00:00:00:ee	# never enrolled

# The policy as data: the rules file and the expectations are both
# written from these.
SERVICES=("edp-ssl tcp 3199" "edp tcp 3197" "ntp udp 123")
LOCAL4=(10.77.0.1)
LOCAL6=(fd77::1)
CLOUD4=(198.51.100.0/24 203.0.113.7)
CLOUD6=(2001:db8:5::/48 2001:db8::7)

topo_pair "$HOST"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
{
	for s in "${SERVICES[@]}"; do echo "service $s"; done
	echo "group local ${LOCAL4[*]} ${LOCAL6[*]}"
	echo "group cloud ${CLOUD4[*]} ${CLOUD6[*]}"
	echo "allow edp-ssl,edp to local"
	echo "allow edp-ssl,ntp to cloud"
	echo "defaults edp-ssl,ntp"
	echo "unknown-mac drop"
	echo "non-ip drop"
} >"$RULES"

# ---- listeners in the router namespace --------------------------------
ip -n "$R_NS" addr add 10.77.0.3/24 dev lan0	# the router's, but in no group
for lp in 10.77.0.1:3199 10.77.0.1:3197 10.77.0.1:3198 10.77.0.3:3199; do
	bg in_ns "$R_NS" socat TCP4-LISTEN:${lp#*:},reuseaddr,fork,bind=${lp%:*} SYSTEM:true
done
bg in_ns "$R_NS" socat TCP6-LISTEN:3199,reuseaddr,fork,bind=[fd77::1] SYSTEM:true
for i in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && tcp_ok "$H_NS" fd77::1 3199 && break; sleep 0.1; done

# verdicts: one word per case, "pass" or "drop", in the order of CASES.  A
# drop costs tcp_ok's whole timeout, so the cases that share the host's MAC
# run concurrently.
CASES="allowed-v4 allowed-v6 wrong-port wrong-service wrong-destination unknown-mac"
verdict() {	# verdict ADDR PORT FILE
	if tcp_ok "$H_NS" "$1" "$2"; then echo pass >"$3"; else echo drop >"$3"; fi
}
verdicts() {
	local pids=() i
	verdict 10.77.0.1 3199 "$E2E_TMP/v1" & pids+=($!)	# edp-ssl to local
	verdict fd77::1 3199 "$E2E_TMP/v2" & pids+=($!)		# the same over IPv6 (host not bound for v6)
	verdict 10.77.0.1 3198 "$E2E_TMP/v3" & pids+=($!)	# no service on this port
	verdict 10.77.0.1 3197 "$E2E_TMP/v4" & pids+=($!)	# edp: not one of the host's services
	verdict 10.77.0.3 3199 "$E2E_TMP/v5" & pids+=($!)	# edp-ssl to an address in no group it reaches
	wait "${pids[@]}"
	ip -n "$H_NS" link set eth0 address "$STRANGER"
	ip -n "$R_NS" neigh flush dev lan0
	verdict 10.77.0.1 3199 "$E2E_TMP/v6"			# unknown MAC
	ip -n "$H_NS" link set eth0 address "$HOST"
	ip -n "$R_NS" neigh flush dev lan0
	for i in 1 2 3 4 5 6; do cat "$E2E_TMP/v$i"; done | paste -sd' '
}
WANT_VERDICTS="pass pass drop drop drop drop"
baseline=$(verdicts)
[ "$baseline" = "pass pass pass pass pass pass" ] || fail "no baseline connectivity: $baseline ($CASES)"
ok "baseline without edpgate: every case connects"

# ---- the expected table, from the data above ---------------------------
# nft -j element -> text: "a", "a/len", "lo-hi", "mac . addr"
NORM='def norm: if type == "string" then .
	elif has("elem") then (.elem.val | norm)
	elif has("prefix") then "\(.prefix.addr)/\(.prefix.len)"
	elif has("range") then "\(.range[0])-\(.range[1])"
	elif has("concat") then (.concat | map(norm) | join(" . "))
	else tostring end;'
live_sets() {	# one "SET<TAB>" line per set and one "SET<TAB>ELEMENT" per element
	in_ns "$R_NS" nft -j list table inet edpgate |
		jq -r "$NORM"' .nftables[] | select(.set) | .set as $s | "\($s.name)\t", ($s.elem // [] | .[] | "\($s.name)\t\(norm)")' |
		LC_ALL=C sort
}
# expected_sets GW_SPEC...: the same lines; GW_SPEC is "MAC SERVICES IP4 IP6" (- for none)
expected_sets() {
	local g mac svcs ip4 ip6 s a
	{
		for s in gateways bound4 bound6 bind4 bind6 audit g_local_v4 g_local_v6 g_cloud_v4 g_cloud_v6; do
			printf '%s\t\n' "$s"
		done
		for s in "${SERVICES[@]}"; do printf 'svc_%s\t\n' "${s%% *}"; done
		for a in "${LOCAL4[@]}"; do printf 'g_local_v4\t%s\n' "$a"; done
		for a in "${LOCAL6[@]}"; do printf 'g_local_v6\t%s\n' "$a"; done
		for a in "${CLOUD4[@]}"; do printf 'g_cloud_v4\t%s\n' "$a"; done
		for a in "${CLOUD6[@]}"; do printf 'g_cloud_v6\t%s\n' "$a"; done
		for g in "$@"; do
			read -r mac svcs ip4 ip6 <<<"$g"
			printf 'gateways\t%s\n' "$mac"
			for s in ${svcs//,/ }; do printf 'svc_%s\t%s\n' "$s" "$mac"; done
			[ "$ip4" = - ] || printf 'bound4\t%s\nbind4\t%s . %s\n' "$mac" "$mac" "$ip4"
			[ "$ip6" = - ] || printf 'bound6\t%s\nbind6\t%s . %s\n' "$mac" "$mac" "$ip6"
		done
	} | LC_ALL=C sort
}
check_sets() {	# check_sets WHAT GW_SPEC...
	local what=$1 want got
	shift
	want=$(expected_sets "$@")
	got=$(live_sets)
	[ "$got" = "$want" ] || fail "$what: nft table differs from the rules data (- want, + live):
$(diff <(echo "$want") <(echo "$got"))"
}
nsets() { live_sets | grep -c $'\t$'; }

G_HOST="$HOST edp-ssl,ntp 10.77.0.2 -"
G_SIX="$SIX edp,ntp - fd77::66"
G_EXTRA="$EXTRA edp - -"

# ---- attach (default: both decide), enroll ------------------------------
edp attach lan0 --mode native >/dev/null || fail "attach"
edp gateway add "$HOST" --name host --ip 10.77.0.2 >/dev/null || fail "gateway add host"
edp gateway add "$SIX" --name six --services edp,ntp --ip fd77::66 >/dev/null || fail "gateway add six"
check_sets "after enrolment" "$G_HOST" "$G_SIX"
ok "nft -j: exactly the expected elements in all $(nsets) sets (gateways, svc_*, bound/bind4/6, group v4/v6 with CIDRs)"

got=$(verdicts)
[ "$got" = "$WANT_VERDICTS" ] || fail "--enforce both verdicts: $got, want $WANT_VERDICTS ($CASES)"
ok "--enforce both: $got"

# ---- deltas --------------------------------------------------------------
table_ids() {	# table and set handles: a rewrite of the table changes them
	in_ns "$R_NS" nft -j -a list table inet edpgate |
		jq -c '[.nftables[] | (.table // .set // empty) | {name, handle}] | sort_by(.name)'
}
counters() {	# packets per rule, in rule order
	in_ns "$R_NS" nft -j list table inet edpgate |
		jq -c '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets]'
}
ids0=$(table_ids)
cnt0=$(counters)
[ "$(jq 'add' <<<"$cnt0")" -gt 0 ] || fail "no rule counted the traffic: $cnt0"
edp gateway add "$EXTRA" --services edp >/dev/null || fail "gateway add extra"
check_sets "after gateway add" "$G_HOST" "$G_SIX" "$G_EXTRA"
[ "$(table_ids)" = "$ids0" ] || fail "gateway add re-created the table or a set"
cnt1=$(counters)
jq -e --argjson a "$cnt0" --argjson b "$cnt1" '($a | length) == ($b | length) and
	([range($a | length)] | all($b[.] >= $a[.]))' <<<null >/dev/null ||
	fail "gateway add reset rule counters: $cnt0 -> $cnt1"
ok "gateway add: $EXTRA appears in gateways and svc_edp only; table, set handles and rule counters kept"
edp gateway del "$EXTRA" >/dev/null || fail "gateway del extra"
check_sets "after gateway del" "$G_HOST" "$G_SIX"
[ "$(table_ids)" = "$ids0" ] || fail "gateway del re-created the table or a set"
cnt2=$(counters)
jq -e --argjson a "$cnt1" --argjson b "$cnt2" '([range($a | length)] | all($b[.] >= $a[.]))' <<<null >/dev/null ||
	fail "gateway del reset rule counters: $cnt1 -> $cnt2"
ok "gateway del: $EXTRA gone from both sets, nothing else touched"

# ---- verify, tamper, heal --------------------------------------------------
out=$(edp -j verify) || fail "verify of an untouched table: $(edp verify 2>&1)"
jq -e '.differences == [] and .in_sync == true and .gateways == 2' <<<"$out" >/dev/null ||
	fail "verify -j: $out"
edp verify | grep -q "in sync" || fail "verify text"
ok "verify passes: $(jq -c '{differences, in_sync, gateways, destinations}' <<<"$out")"

hexbytes() { jq -r '.value | map(ltrimstr("0x")) | join(" ")'; }
gen=$(bpftool -j map lookup pinned "$PIN_DIR/edpg_ctl" key 0 0 0 0 | jq '.formatted.value.gen')
mac_key() { echo "hex ${1//:/ } $(printf '%02x' "$gen") 00"; }
# nft: one address element and one gateway element disappear
in_ns "$R_NS" nft delete element inet edpgate g_cloud_v4 '{ 203.0.113.7 }'
in_ns "$R_NS" nft delete element inet edpgate svc_ntp "{ $SIX }"
# nft: a MAC nobody enrolled
in_ns "$R_NS" nft add element inet edpgate gateways "{ $STRANGER }"
# nft: a base chain's policy flipped
in_ns "$R_NS" nft chain inet edpgate lan_input '{ policy drop; }'
# bpf: the host gets edp too (services bitmap 0x5 -> 0x7: edp-ssl=1, edp=2, ntp=4)
val=$(bpftool -j map lookup pinned "$PIN_DIR/edpg_gateways" key $(mac_key "$HOST") | hexbytes)
read -r -a v <<<"$val"
[ "${v[4]}" = 05 ] || fail "host's services bitmap is ${v[4]}, want 05"
v[4]=07
bpftool map update pinned "$PIN_DIR/edpg_gateways" key $(mac_key "$HOST") value hex "${v[@]}"
# bpf: a destination nobody asked for
bpftool map update pinned "$PIN_DIR/edpg_dst4" key 192 0 2 99 "$gen" 0 0 0 \
	value 1 0 0 0 0 0 0 0  0 0 0 0 0 0 0 0
# bpf: one gateway gone from the map
bpftool map delete pinned "$PIN_DIR/edpg_gateways" key $(mac_key "$SIX")

set +e
text=$(edp verify 2>&1); rc_t=$?
json=$(edp -j verify 2>/dev/null); rc_j=$?
set -e
[ $rc_t -eq 1 ] && [ $rc_j -eq 1 ] || fail "verify after tampering: rc $rc_t/$rc_j"
WANT_DIFFS=(
	"nft|set g_cloud_v4: missing element 203.0.113.7"
	"nft|set svc_ntp: missing element $SIX"
	"nft|set gateways: extra element $STRANGER"
	"nft|chain lan_input: policy drop, want accept"
	"bpf|gateway $HOST differs (services 0x7"
	"bpf|extra destination 192.0.2.99"
	"bpf|missing gateway $SIX"
)
for d in "${WANT_DIFFS[@]}"; do
	where=${d%%|*} what=${d#*|}
	grep -qF "$where: $what" <<<"$text" || fail "verify text does not name '$where: $what':
$text"
	jq -e --arg w "$where" --arg t "$what" '[.differences[] | select(.where == $w and (.what | startswith($t)))] | length == 1' \
		<<<"$json" >/dev/null || fail "verify -j does not name '$where: $what': $json"
done
n=$(jq '.differences | length' <<<"$json")
[ "$n" -eq ${#WANT_DIFFS[@]} ] || fail "verify -j lists $n differences, want ${#WANT_DIFFS[@]}: $json"
jq -e '.in_sync == false' <<<"$json" >/dev/null || fail "in_sync not false"
ok "verify names each of the ${#WANT_DIFFS[@]} differences (text and -j) and exits 1"

edp apply >/dev/null || fail "apply"
edp verify >/dev/null || fail "verify after apply: $(edp verify 2>&1)"
check_sets "after apply" "$G_HOST" "$G_SIX"
ok "apply heals every difference; verify passes; nft holds exactly the expected elements again"

# ---- the same verdicts whichever side enforces ------------------------------
has_xdp() { ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp'; }
drop_rules() {
	in_ns "$R_NS" nft -j list table inet edpgate |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(has("drop"))] | length'
}
[ "$(drop_rules)" -gt 0 ] || fail "--enforce both: no drop verdict in the nft chains"
for mode in xdp nft; do
	edp detach --all >/dev/null || fail "detach --all before $mode"
	in_ns "$R_NS" nft list table inet edpgate >/dev/null 2>&1 && fail "table left by detach --all"
	! has_xdp || fail "XDP left on lan0 by detach --all"
	edp attach lan0 --mode native --enforce $mode >/dev/null || fail "attach --enforce $mode"
	[ "$(edp -j status | jq -r '.. | .enforce? // empty' | head -1)" = $mode ] ||
		fail "status does not show enforce $mode: $(edp status)"
	check_sets "--enforce $mode" "$G_HOST" "$G_SIX"
	edp verify >/dev/null || fail "verify with --enforce $mode: $(edp verify 2>&1)"
	case $mode in
	xdp)	has_xdp || fail "--enforce xdp: no XDP program on lan0"
		[ "$(drop_rules)" -eq 0 ] || fail "--enforce xdp: the nft chains drop" ;;
	nft)	! has_xdp || fail "--enforce nft: an XDP program is on lan0"
		[ "$(drop_rules)" -gt 0 ] || fail "--enforce nft: no drop verdict in the nft chains" ;;
	esac
	got=$(verdicts)
	[ "$got" = "$WANT_VERDICTS" ] || fail "--enforce $mode verdicts: $got, want $WANT_VERDICTS ($CASES)"
	ok "--enforce $mode: $got (XDP on lan0: $(has_xdp && echo yes || echo no), nft drop rules: $(drop_rules))"
done

edp detach --all >/dev/null || fail "final detach --all"
in_ns "$R_NS" nft list table inet edpgate >/dev/null 2>&1 && fail "table left after detach --all"
[ -e "$PIN_DIR" ] && fail "pins left after detach --all"
got=$(verdicts)
[ "$got" = "pass pass pass pass pass pass" ] || fail "traffic not restored after detach --all: $got"
ok "detach --all: table and pins gone, every case connects again"
