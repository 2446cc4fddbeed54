#!/usr/bin/env bash
# Remote Manager Device IDs end to end: a gateway enrolled by its Device ID
# (00000000-00000000-00409DFF-FF58175B = 00:40:9d:58:17:5b) is the MAC's
# gateway; every command that shows it shows the Device ID (list, show,
# stats, Prometheus, doctor, watch), every command that names it takes the
# Device ID; pending shows an unknown MAC's Device ID and Digi OUI; a Device
# ID that encodes no MAC is refused naming the expected form.
. "$(dirname "$0")/lib.sh"
require_root
for c in jq socat; do command -v "$c" >/dev/null || skip "no $c"; done

MAC=00:40:9d:58:17:5b
DEVID=00000000-00000000-00409DFF-FF58175B
topo_pair "$MAC"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.77.0.1 fd77::1
allow edp-ssl,ntp to cloud
defaults edp-ssl
RULES_EOF

bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for i in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done
edp attach lan0 --mode native >/dev/null || fail "attach"

# Unknown: dropped, and pending shows its Device ID and the Digi OUI.
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "unknown MAC passed"
p=$(edp -j gateway pending)
[ "$(jq -r --arg m "$MAC" '.[] | select(.mac == $m) | .device_id + " " + (.digi_oui | tostring)' <<<"$p")" = "$DEVID true" ] ||
	fail "pending: $p"
ok "pending: $MAC listed with device_id $DEVID and digi_oui true"

# Refused: a Device ID that encodes no MAC.
set +e
out=$(edp gateway add 00010000-00000000-00409DFF-FF58175B 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && grep -q "does not encode a MAC.*00000000-00000000-MMMMMMFF-FFMMMMMM" <<<"$out" ||
	fail "non-MAC Device ID: rc=$rc $out"
out=$(edp -j gateway show 00000000-00000001-00409DFF-FF58175B 2>&1) && fail "show of a non-MAC Device ID succeeded"
jq -e '.error | test("does not encode a MAC")' <<<"$out" >/dev/null || fail "show non-MAC Device ID: $out"
ok "a Device ID that encodes no MAC is refused, naming the expected form"

# Enrolled by Device ID (lower case too): the MAC's gateway passes.
edp gateway add "${DEVID,,}" --name boiler >/dev/null || fail "gateway add by Device ID"
[ "$(edp -j gateway show "$DEVID" | jq -r '.mac + " " + .device_id + " " + .name')" = "$MAC $DEVID boiler" ] ||
	fail "show by Device ID: $(edp -j gateway show "$DEVID")"
edp gateway list | grep -q "^$MAC  $DEVID  boiler" || fail "gateway list text: $(edp gateway list)"
[ -z "$(edp -j gateway pending | jq -r --arg m "$MAC" '.[] | select(.mac == $m) | .mac')" ] ||
	fail "still pending after enrolment"
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gateway enrolled by Device ID cannot reach 3199"
ok "enrolled by Device ID: list/show carry it, 3199 passes"

# stats by Device ID, text, JSON and Prometheus.
s=$(edp -j stats "$DEVID")
[ "$(jq -r '.gateways | length' <<<"$s")" -eq 1 ] &&
	[ "$(jq -r '.gateways[0].device_id' <<<"$s")" = "$DEVID" ] &&
	[ "$(jq '[.gateways[0].allowed[] | select(.service == "edp-ssl") | .packets][0]' <<<"$s")" -gt 0 ] ||
	fail "stats -j by Device ID: $s"
out=$(edp stats "$DEVID")
grep -q "gateway $MAC $DEVID (boiler)" <<<"$out" || fail "stats text: $out"
out=$(edp stats --format prometheus)
grep -q "^edpgate_allowed_packets_total{gateway=\"$MAC\",device_id=\"$DEVID\",name=\"boiler\",service=\"edp-ssl\"} [1-9]" <<<"$out" ||
	fail "Prometheus: $out"
ok "stats and Prometheus by and with the Device ID"

# doctor and watch: a drop to a port it may not use (ntp is not granted).
bg in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" -j watch "$DEVID" --timeout 4
WPID=$BG_PID
sleep 1
in_ns "$H_NS" bash -c 'echo x >/dev/udp/10.77.0.1/123' || true
for i in $(seq 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
# (Events queued before the enrolment, unknown_mac, come first.)
ev=$(grep '"reason":"service"' "$E2E_TMP/bg.log" | tail -1)
[ "$(jq -r '.device_id + " " + (.dport | tostring)' <<<"$ev")" = "$DEVID 123" ] || fail "watch event: $(cat "$E2E_TMP/bg.log")"
d=$(edp -j doctor "$DEVID")
[ "$(jq -r '[.findings[] | select(.finding == "ntp_blocked")][0].device_id' <<<"$d")" = "$DEVID" ] ||
	fail "doctor -j by Device ID: $d"
ok "watch and doctor by Device ID carry it (service drop, ntp_blocked)"

edp detach --all >/dev/null || fail "detach"
