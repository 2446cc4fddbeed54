#!/usr/bin/env bash
# The CLI on a real veth in namespaces: attach, enroll, apply, del, detach;
# pins shared between processes; bad input changes nothing; kill -9 in the
# middle of an apply leaves one whole policy and a whole gateways file.
. "$(dirname "$0")/lib.sh"
require_root

GW1=00:40:9d:00:00:01
topo_pair "$GW1"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service edp     tcp 3197
service ntp     udp 123
group local 10.77.0.1 fd77::1
group elsewhere 192.0.2.0/24
allow edp-ssl,edp,ntp to local
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

for port in 3199 3197; do
	bg in_ns "$R_NS" socat TCP-LISTEN:$port,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
done
for i in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done

tcp_ok "$H_NS" 10.77.0.1 3199 || fail "no baseline connectivity"
ok "baseline: 3199 reachable without edpgate"

edp check >/dev/null || fail "check of a valid rules file failed"
edp attach lan0 --mode native >/dev/null || fail "attach failed"
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' || fail "no XDP program on lan0"
[ -e "$PIN_DIR/prog" ] && [ -e "$PIN_DIR/link_lan0" ] || fail "pins missing"
ok "attached natively, program and link pinned"

tcp_ok "$H_NS" 10.77.0.1 3199 && fail "unknown MAC reached 3199"
drops=$(edp -j stats | jq '.global.unknown_mac.drop_packets')
[ "$drops" -gt 0 ] || fail "unknown_mac drops not counted ($drops)"
ok "unknown MAC dropped ($drops unknown_mac drops)"

# Bad input: exit 2 and a message that says what is wrong.
set +e
out=$(edp gateway add 01:00:5e:00:00:01 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q multicast <<<"$out" || fail "multicast MAC: rc=$rc '$out'"
set +e
out=$(edp gateway add 00:40:9d:zz:00:01 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "invalid MAC" <<<"$out" || fail "bad MAC: rc=$rc '$out'"
ok "invalid and multicast MACs rejected with exit 2"

edp gateway add 0040.9D00.0001 --name gw1 >/dev/null || fail "gateway add failed"
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "enrolled gateway cannot reach 3199"
tcp_ok "$H_NS" 10.77.0.1 3197 && fail "3197 allowed without the edp service"
ok "enrolled gw1: 3199 passes, 3197 dropped (service)"

# Enrolled without --services: the gateways follow the rules' defaults.
# gw2 (no host behind it) is enrolled while the defaults name edp, then a
# rules file without edp at all must still apply.
grep -qx "gateway $GW1 name gw1" "$STATE_DIR/gateways" || fail "gw1 written with its services: $(cat "$STATE_DIR/gateways")"
cp "$RULES" "$E2E_TMP/orig.rules"
sed -i 's/^defaults .*/defaults edp-ssl,edp,ntp/' "$RULES"
edp apply >/dev/null || fail "apply with edp in the defaults"
edp gateway add 00:40:9d:00:00:02 --name gw2 >/dev/null || fail "gateway add gw2"
[ "$(edp -j gateway show gw1 | jq -r '.services + " " + .services_from')" = "edp-ssl,edp,ntp defaults" ] ||
	fail "gw1 does not follow the new defaults: $(edp -j gateway show gw1)"
tcp_ok "$H_NS" 10.77.0.1 3197 || fail "3197 not allowed with edp in the defaults"
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group local 10.77.0.1 fd77::1
allow edp-ssl,ntp to local
defaults edp-ssl,ntp
RULES_EOF
edp apply >/dev/null || fail "apply of a rules file without edp (gw2 was enrolled with edp in the defaults)"
for gw in gw1 gw2; do
	[ "$(edp -j gateway show "$gw" | jq -r '.services + " " + .services_from')" = "edp-ssl,ntp defaults" ] ||
		fail "$gw does not follow the defaults without edp: $(edp -j gateway show "$gw")"
done
tcp_ok "$H_NS" 10.77.0.1 3197 && fail "3197 allowed without the edp service"
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gw1 cannot reach 3199 without edp in the rules"
edp verify >/dev/null || fail "verify after the defaults changed"
cp "$E2E_TMP/orig.rules" "$RULES"
edp apply >/dev/null || fail "apply of the original rules"
ok "gateways enrolled without --services follow changed defaults; a service only the defaults named can go"

# An explicit list equal to the defaults: a re-add without --services is a
# no-op that keeps the list; --replace without --services switches to the defaults.
gw2_from() { edp -j gateway show gw2 | jq -r .services_from; }
edp gateway add 00:40:9d:00:00:02 --name gw2 --services edp-ssl,ntp --replace >/dev/null || fail "gw2 explicit"
[ "$(gw2_from)" = gateway ] || fail "gw2 with --services: services_from $(gw2_from)"
edp gateway add 00:40:9d:00:00:02 --name gw2 | grep -q unchanged || fail "re-add of gw2 without --services not a no-op"
[ "$(gw2_from)" = gateway ] || fail "a no-op re-add switched gw2 to the defaults"
edp gateway add 00:40:9d:00:00:02 --name gw2 --replace | grep -q replaced || fail "--replace of gw2 without --services"
[ "$(gw2_from)" = defaults ] || fail "--replace without --services: services_from $(gw2_from)"
grep -qx "gateway 00:40:9d:00:00:02 name gw2" "$STATE_DIR/gateways" || fail "gw2 not written without services"
edp gateway del gw2 >/dev/null || fail "gateway del gw2"
ok "re-add without --services of an explicit list equal to the defaults: no-op; --replace: defaults"

# Same fields again: a no-op; different fields: refused without --replace.
edp gateway add 00-40-9d-00-00-01 --name gw1 | grep -q unchanged || fail "re-add not a no-op"
set +e
edp gateway add $GW1 --name gw1 --services edp-ssl,edp,ntp >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "conflicting re-add accepted (rc=$rc)"
edp gateway add $GW1 --name gw1 --services edp-ssl,edp,ntp --replace >/dev/null
tcp_ok "$H_NS" 10.77.0.1 3197 || fail "3197 not allowed after --replace with edp"
ok "re-add is a no-op, --replace changes services"

# --services none: enrolled, nothing allowed (`services none` in the file).
edp gateway add $GW1 --name gw1 --services none --replace >/dev/null || fail "--services none refused"
grep -qx "gateway $GW1 name gw1 services none" "$STATE_DIR/gateways" || fail "--services none not written as 'services none'"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "3199 allowed to a gateway with no services"
edp gateway add $GW1 --name gw1 --services edp-ssl,edp,ntp --replace >/dev/null
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "3199 not allowed after --replace with its services"
ok "--services none enrols with no service allowed"

# An add or a del is a delta of that one gateway.  When nftables refuses
# it (the table was changed behind edpgate's back), the site is pushed
# whole: the change lands in both sinks, and they agree again.
edp gateway add 00:40:9d:00:00:03 --name gw3 >/dev/null || fail "gateway add gw3"
in_ns "$R_NS" nft delete element inet edpgate gateways '{ 00:40:9d:00:00:03 }' ||
	fail "cannot remove gw3 from the nft set"
out=$(edp gateway del gw3 2>&1) || fail "gateway del gw3 after its nft element went: $out"
grep -q "refused the delta.*pushing the whole policy" <<<"$out" || fail "no whole push after a refused delta: $out"
[ "$(grep -c 'refused the delta' <<<"$out")" = 1 ] || fail "the refusal reported more than once: $out"
edp verify >/dev/null || fail "verify after the whole push"
set_now=$(in_ns "$R_NS" nft list set inet edpgate gateways) || fail "cannot list the nft set"
grep -q 00:40:9d:00:00:01 <<<"$set_now" || fail "gw1 left the nft set: $set_now"
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gw1 cannot reach 3199 after the whole push"
ok "a refused enrolment delta falls back to a whole push: sinks in sync, gw1 still passes"

# A second process sees the change through the pins alone.
[ "$(edp -j gateway list | jq -r '.[0].mac')" = "$GW1" ] || fail "gateway list -j"
[ "$(edp -j gateway show gw1 | jq -r '.live')" = true ] || fail "gw1 not live"
key=$(bpftool -j map dump pinned "$PIN_DIR/edpg_gateways" | jq -r '.[].key | join(",")' | head -1)
[ -n "$key" ] || fail "no gateway entry visible through the pin"
allowed=$(edp -j stats gw1 | jq '[.gateways[0].allowed[] | select(.service=="edp-ssl") | .packets] | add')
[ "$allowed" -gt 0 ] || fail "no allowed packets counted for gw1 edp-ssl"
ok "second process reads gw1 through the pins ($allowed edp-ssl packets)"

dump_policy() {
	for m in edpg_ctl edpg_config edpg_gateways edpg_services edpg_dst4 edpg_dst6 edpg_cidr4 edpg_cidr6; do
		bpftool -j map dump pinned "$PIN_DIR/$m" | jq -S 'sort_by(.key)'
	done
	bpftool -j map dump pinned "$PIN_DIR/edpg_ports" | jq -c '[.[] | select(.value != [0,0,0,0])]'
}

# A malformed rules file: every error reported, exit 1, live maps byte-identical.
before=$(dump_policy | sha256sum)
cp "$RULES" "$E2E_TMP/bad.rules"
printf 'service broken tcp 70000\nallow edp-ssl to nowhere\nfrobnicate\n' >>"$E2E_TMP/bad.rules"
set +e
out=$(in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$E2E_TMP/bad.rules" apply 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "apply of a bad file: rc=$rc"
grep -q "bad.rules:10:" <<<"$out" && grep -q "bad.rules:11:" <<<"$out" && grep -q "bad.rules:12:1:" <<<"$out" ||
	fail "errors not all reported with line:col: $out"
after=$(dump_policy | sha256sum)
[ "$before" = "$after" ] || fail "a failed apply changed the live maps"
edp verify >/dev/null || fail "verify after a failed apply"
ok "malformed rules: 3 errors with line:col, maps byte-identical, verify passes"

# kill -9 during apply: each sink holds the old policy or the new one, and
# the kills are spread over the apply's own duration until one is seen to
# land inside it (nft already new while BPF is old, or the inactive BPF
# generation half built or not yet cleaned up), not only before or after.
cp "$RULES" "$E2E_TMP/old.rules"
sed 's/^group local .*/group local 10.77.0.1 fd77::1 198.51.100.0\/24 203.0.113.7/' "$RULES" >"$E2E_TMP/new.rules"
for i in $(seq 200); do printf 'gateway 02:00:00:00:%02x:%02x\n' $((i / 256)) $((i % 256)); done >>"$STATE_DIR/gateways"
edp apply >/dev/null	# the old policy, with the 200 gateways, is live
with() {
	local r=$1
	shift
	in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$r" "$@"
}
# A fractional sleep without forking (the kill must land within
# milliseconds): read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
usleep() { read -r -t "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))" -u "$SLEEP_FD" || :; }
now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
T_APPLY=
for _ in 1 2 3; do
	t0=$(now_us)
	with "$E2E_TMP/new.rules" apply >/dev/null
	t=$(($(now_us) - t0))
	[ -n "$T_APPLY" ] && [ "$T_APPLY" -le $t ] || T_APPLY=$t
	edp apply >/dev/null
done
# sink_state: sets BPF and NFT to old, new (or both/neither), LEFT to the
# entries of the inactive BPF generation.  (verify exits 1 on the
# differences a kill between the two sinks leaves: they are the point.)
matches() {	# matches RULES WHERE: that sink has no difference from RULES
	local out
	out=$(with "$1" -j verify 2>/dev/null) || :
	jq -e --arg w "$2" '[.differences[] | select(.where == $w)] | length == 0' <<<"$out" >/dev/null
}
sink_state() {
	local o n g
	for w in bpf nft; do
		o=0 n=0
		matches "$E2E_TMP/old.rules" $w && o=1
		matches "$E2E_TMP/new.rules" $w && n=1
		case $o$n in 10) printf -v "${w^^}" old ;; 01) printf -v "${w^^}" new ;; *) printf -v "${w^^}" "mixed(%s)" "$o$n" ;; esac
	done
	g=$(bpftool -j map dump pinned "$PIN_DIR/edpg_ctl" | jq '.[0].formatted.value.gen')
	LEFT=$(bpftool -j map dump pinned "$PIN_DIR/edpg_gateways" | jq --argjson g "$g" '[.[] | select(.formatted.key.gen != $g)] | length')
}
declare -A LANDED
inside=0 rounds=0
while [ $rounds -lt 6 ] || { [ $inside -eq 0 ] && [ $rounds -lt 60 ]; }; do
	rounds=$((rounds + 1))
	delay=$(((RANDOM * 32768 + RANDOM) % T_APPLY))
	# nsenter, not the in_ns function: a backgrounded function is a
	# subshell, and the kill would hit it and leave edpgate running.
	nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$E2E_TMP/new.rules" apply >/dev/null 2>&1 &
	pid=$!
	usleep "$delay"
	alive=0
	kill -9 $pid 2>/dev/null && alive=1
	wait $pid 2>/dev/null || true
	edp check >/dev/null || fail "gateways file damaged after kill -9"
	sink_state
	case $BPF in old | new) ;; *) fail "after kill -9 at ${delay}us the BPF policy is neither old nor new ($BPF)" ;; esac
	case $NFT in old | new) ;; *) fail "after kill -9 at ${delay}us the nft table is neither old nor new ($NFT)" ;; esac
	[ "$NFT/$BPF" = old/new ] && fail "after kill -9 at ${delay}us XDP is new and nft old: nft must go first"
	if [ "$NFT/$BPF" = new/old ] || [ "$LEFT" -gt 0 ]; then
		where="inside (nft $NFT, bpf $BPF, $LEFT entries of the other generation)"
		inside=$((inside + 1))
	elif [ "$BPF" = old ]; then
		where="before any change"
	else
		where="after (all done)"
	fi
	[ $alive = 1 ] || where="$where [exited before the kill]"
	LANDED[$where]=$((${LANDED[$where]:-0} + 1))
	edp apply >/dev/null	# back to the old policy for the next round
	edp verify >/dev/null || fail "verify after the re-apply of round $rounds"
done
echo "  apply takes ~$((T_APPLY / 1000)) ms; where $rounds kills landed:"
for k in "${!LANDED[@]}"; do printf '       %3d  %s\n' "${LANDED[$k]}" "$k"; done | sort -k2
[ $inside -gt 0 ] || fail "no kill landed inside an apply in $rounds rounds: the test did not test it"
ok "kill -9 at $rounds points of an apply ($inside inside it): each sink always the old or the new policy"

edp gateway del gw1 >/dev/null || fail "gateway del"
grep -q "00:40:9d:00:00:01" "$STATE_DIR/gateways" && fail "gw1 still in the gateways file"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "deleted gateway still reaches 3199"
ok "gateway del: file and live maps updated, traffic dropped again"

edp detach lan0 >/dev/null || fail "detach"
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' && fail "XDP still attached after detach"
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "traffic not restored after detach"
edp detach --all >/dev/null || fail "detach --all"
[ -e "$PIN_DIR" ] && fail "pins remain after detach --all"
ok "detach restores traffic; detach --all removes the pins"
