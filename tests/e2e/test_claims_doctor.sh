#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The `doctor` findings the README promises, each produced by real traffic
# of a gateway on a veth and read back from `edpgate -j doctor`:
#  - plain_edp: the gateway tries TCP 3197 without the edp service;
#  - cloud_destination: TLS 3199 to an address in no group allowing it,
#    with the names the address cache holds for that address;
#  - idigi_deprecated: the gateway uses the address of a my.idigi.* name
#    (resolved by `edpgate run` from a dnsmasq in the router namespace);
#  - binding: the gateway is bound to another source address than it uses.
# Each finding is asserted absent before the traffic that causes it and
# present after, with the counters it cites, so a removed check fails.
. "$(dirname "$0")/lib.sh"
require_root
for c in socat jq dnsmasq; do command -v "$c" >/dev/null || skip "no $c"; done

GW=00:40:9d:00:00:01
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
# 10.77.0.1 local; .5 my.idigi.com (the cloud group); .6 time.edpg.test
# (the ntp group, NTP only); .7 in no group.
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service edp     tcp 3197
service ntp     udp 123
group local 10.77.0.1 fd77::1
group devicecloud my.idigi.com
group ntp time.edpg.test
allow edp-ssl,edp,ntp to local
allow edp-ssl to devicecloud
allow ntp to ntp
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

topo_pair "$GW"
bpffs_private
for a in 5 6 7; do ip -n "$R_NS" addr add 10.77.0.$a/24 dev lan0; done
for lp in 10.77.0.1:3199 10.77.0.1:3197 10.77.0.5:3199 10.77.0.6:3199 10.77.0.7:3199; do
	bg in_ns "$R_NS" socat TCP4-LISTEN:${lp#*:},reuseaddr,fork,bind=${lp%:*} SYSTEM:true
done
HOSTS=$E2E_TMP/hosts
printf '10.77.0.5 my.idigi.com\n10.77.0.6 time.edpg.test\n' >"$HOSTS"
bg in_ns "$R_NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --no-resolv --no-hosts \
	--addn-hosts="$HOSTS" --local-ttl=60 --user=root
edp() {
	in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" \
		--resolver 127.0.0.1 "$@"
}
# try ADDR PORT: a TCP connection from the gateway (0 when it completes)
try() { in_ns "$H_NS" timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
listening() { tcp_ok "$R_NS" 10.77.0.7 3199 && in_ns "$R_NS" ss -lun | grep -q '127.0.0.1:53 '; }
wait_for 10 listening || fail "listeners did not come up"
try 10.77.0.1 3197 || fail "no baseline connectivity to 3197"

# doctor_json: the findings of gw1 plus the ones for "all"
doctor_json() { edp -j doctor || fail "doctor failed: $(edp doctor 2>&1)"; }
# finding ID: the JSON object of that finding, empty when there is none
finding() { doctor_json | jq -c --arg id "$1" '.findings[] | select(.finding == $id)'; }
absent() { [ -z "$(finding "$1")" ] || fail "$1 reported before its cause: $(finding "$1")"; }

edp attach lan0 --mode native --enforce xdp >/dev/null || fail "attach"
edp gateway add "$GW" --name gw1 >/dev/null || fail "gateway add"
bg in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" \
	--resolver 127.0.0.1 run --resolve-floor 1
cached() { grep -q 'my.idigi.com' "$STATE_DIR/addresses" 2>/dev/null && grep -q 'time.edpg.test' "$STATE_DIR/addresses"; }
wait_for 15 cached || fail "the daemon did not resolve and cache the names: $(cat "$E2E_TMP/bg.log")"
resolved() { edp -j dst list | jq -e '[.groups[].names[]?.addresses[]?.address] | index("10.77.0.5") and index("10.77.0.6")' >/dev/null; }
wait_for 10 resolved || fail "my.idigi.com / time.edpg.test not in the live policy: $(edp dst list)"

# A gateway that works: no finding about 3197, destinations or binding.
try 10.77.0.1 3199 || fail "gw1 cannot reach 10.77.0.1:3199"
for id in plain_edp cloud_destination idigi_deprecated binding; do absent $id; done
ok "a working gateway: none of the four findings"

# ---- plain_edp ------------------------------------------------------------
try 10.77.0.1 3197 && fail "3197 allowed without the edp service"
f=$(finding plain_edp)
[ -n "$f" ] || fail "no plain_edp after 3197 was dropped: $(doctor_json)"
jq -e '.gateway == "00:40:9d:00:00:01 (gw1)" and .detail == "tcp/3197 dropped"
	and .counters["drops.service"] > 0 and .counters["allowed.edp.packets"] == 0
	and (.fix | test("3199"))' <<<"$f" >/dev/null || fail "plain_edp: $f"
ok "plain_edp: tcp/3197 dropped (service), cites drops.service"

# The gateway given edp: 3197 is allowed, and still plain EDP.
edp gateway add "$GW" --name gw1 --services edp-ssl,edp,ntp --replace >/dev/null
try 10.77.0.1 3197 || fail "3197 not allowed with the edp service"
f=$(finding plain_edp)
jq -e '.counters["allowed.edp.packets"] > 0' <<<"$f" >/dev/null || fail "plain_edp with 3197 allowed: $f"
edp gateway add "$GW" --name gw1 --replace >/dev/null
ok "plain_edp: also when 3197 is allowed (allowed.edp.packets counted)"

# ---- cloud_destination ----------------------------------------------------
absent cloud_destination
try 10.77.0.7 3199 && fail "3199 to an address in no group allowed"
f=$(finding cloud_destination)
[ -n "$f" ] || fail "no cloud_destination after 3199 to 10.77.0.7 was dropped: $(doctor_json)"
jq -e '.detail == "tcp/3199 to 10.77.0.7 dropped" and .counters["drops.destination"] > 0
	and (.fix | test("devicecloud group"))' <<<"$f" >/dev/null || fail "cloud_destination: $f"
ok "cloud_destination: tcp/3199 to 10.77.0.7 dropped, cites drops.destination"

# An address the cache knows a name of (the ntp group's, NTP only): the
# detail names it, so the admin sees which name the rules would need.
try 10.77.0.6 3199 && fail "3199 to the ntp group allowed"
f=$(finding cloud_destination)
jq -e '.detail == "tcp/3199 to 10.77.0.6 dropped; names seen for it: time.edpg.test"' <<<"$f" >/dev/null ||
	fail "cloud_destination does not name the cached name: $f"
ok "cloud_destination names the cache's name for the address (time.edpg.test)"

# ---- idigi_deprecated -----------------------------------------------------
absent idigi_deprecated
try 10.77.0.5 3199 || fail "gw1 cannot reach my.idigi.com (10.77.0.5)"
f=$(finding idigi_deprecated)
[ -n "$f" ] || fail "no idigi_deprecated after my.idigi.com was used: $(doctor_json)"
jq -e '.gateway == "all" and (.detail | startswith("my.idigi.com (10.77.0.5) used "))
	and (.counters | has("destination.last_used_age_s"))
	and (.fix | test("login.etherios.com"))' <<<"$f" >/dev/null || fail "idigi_deprecated: $f"
ok "idigi_deprecated: my.idigi.com (10.77.0.5) used, cites its last use"

# ---- binding --------------------------------------------------------------
absent binding
edp gateway add "$GW" --name gw1 --ip 10.77.0.9 --replace >/dev/null || fail "bind gw1 to 10.77.0.9"
try 10.77.0.1 3199 && fail "gw1 bound to 10.77.0.9 reached 3199 from 10.77.0.2"
f=$(finding binding)
[ -n "$f" ] || fail "no binding finding after a frame from another source: $(doctor_json)"
jq -e '.detail == "last from 10.77.0.2 vlan 0" and .counters["drops.binding"] > 0
	and (.fix | test("--ip NEW --replace"))' <<<"$f" >/dev/null || fail "binding: $f"
# The counter it cites is the one `stats` shows.
n=$(jq '.counters["drops.binding"]' <<<"$f")
[ "$(edp -j stats gw1 | jq '.gateways[0].drops.binding')" = "$n" ] ||
	fail "binding cites $n drops, stats says $(edp -j stats gw1 | jq -c '.gateways[0].drops')"
ok "binding: frames from 10.77.0.2 while bound to 10.77.0.9 ($n drops, as stats says)"

# doctor MAC|NAME: the same findings for that gateway, none for "all".
[ "$(edp -j doctor gw1 | jq -c '[.findings[].finding] | sort')" = '["binding","cloud_destination","plain_edp"]' ] ||
	fail "doctor gw1: $(edp -j doctor gw1)"
ok "doctor gw1: plain_edp, cloud_destination, binding"
