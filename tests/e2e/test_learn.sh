#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# edpgate learn on the lab of real hosts, with `edpgate run` snooping DNS:
#  1. gw1 resolves extra.lab (a name the rules lack) through the lab DNS
#     and makes a TLS connection to its address on 3199: dropped.  learn
#     lists it by that name, with port, address, reason and count; --rules
#     prints the group and allow lines.  Pasted into the rules, `apply` and
#     a reload make the same connection succeed under `both`.
#  2. gw1 tries tcp/443 on login.etherios.com (a port no service has):
#     learn --rules prints a service line, the group and allow lines, and
#     the defaults line to use; with them the connection succeeds.
#  3. gw1 connects to an address no answer gave it: listed as such.
#  4. What learn keeps survives a daemon restart; --since and a gateway
#     filter select.  learn never edits the rules file.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
export TMPDIR=${TMPDIR:-/tmp}

LAB=lle$$
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"
lf_preflight

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
die() {
	echo "FAIL $*"
	exit 1
}
D_PID=
stop_daemon() {
	[ -n "$D_PID" ] || return 0
	kill -TERM "$D_PID" 2>/dev/null
	wait "$D_PID" 2>/dev/null
	D_PID=
}
trap 'stop_daemon; lf_down' EXIT
trap 'exit 130' INT TERM

lf_up || die "the lab did not come up"
# A copy of the shipped rules the test may paste into.
cp "$ROOT/rules/devicecloud.rules" "$LF_DIR/edpgate.rules"
LF_RULES=$LF_DIR/edpgate.rules
DLOG=$LF_DIR/daemon.log
start_daemon() {
	: >"$DLOG"
	nsenter --net="/var/run/netns/$LAB-router" "$EDPGATE" --pin-dir "$LF_PIN" \
		--state-dir "$LF_STATE" --rules "$LF_RULES" --resolver 10.99.0.1 run >"$DLOG" 2>&1 &
	D_PID=$!
	for _ in $(seq 100); do
		grep -q "edpgate run:" "$DLOG" && return 0
		sleep 0.1
	done
	cat "$DLOG"
	die "the daemon did not start"
}
reload_daemon() {
	local n
	n=$(grep -c "reloaded:" "$DLOG")
	kill -HUP "$D_PID"
	for _ in $(seq 100); do
		[ "$(grep -c "reloaded:" "$DLOG")" -gt "$n" ] && return 0
		sleep 0.1
	done
	cat "$DLOG"
	return 1
}
# learn_has JQ: `edpgate -j learn` has an entry for which JQ is true.
learn_has() {
	lab_edp -j learn 2>/dev/null | jq -e "[.refused[] | select($1)] | length > 0" >/dev/null
}
wait_learn() {
	for _ in $(seq 100); do
		learn_has "$1" && return 0
		sleep 0.1
	done
	return 1
}

lf_attach native >/dev/null || die "attach"
lf_enroll >/dev/null || die "enrolment"
start_daemon
sum0=$(sha256sum <"$LF_RULES")

# ---- 1. a name the rules lack --------------------------------------------
lf_dns gw1 extra.lab || bad "gw1 could not resolve extra.lab"
probe_tls gw1 198.51.100.99 && bad "TLS to extra.lab passed before learn"
sel='.name == "extra.lab" and .gateway_name == "gw1" and .protocol == "tcp" and .port == 3199 and .address == "198.51.100.99" and .reason == "destination" and .verdict == "drop" and .count >= 1'
if wait_learn "$sel"; then ok "learn: gw1 extra.lab tcp/3199 -> 198.51.100.99 destination"; else
	lab_edp learn; bad "learn does not list extra.lab"; fi
lab_edp learn --rules >"$LF_DIR/rules.1" || bad "learn --rules"
grep -qx "group learned-edp-ssl extra.lab" "$LF_DIR/rules.1" &&
	grep -qx "allow edp-ssl to learned-edp-ssl" "$LF_DIR/rules.1" &&
	ok "learn --rules: group learned-edp-ssl extra.lab / allow edp-ssl to learned-edp-ssl" ||
	{ cat "$LF_DIR/rules.1"; bad "learn --rules lacks the extra.lab lines"; }
[ "$(sha256sum <"$LF_RULES")" = "$sum0" ] && ok "learn did not touch the rules file" ||
	bad "learn changed the rules file"
grep -E "^(group learned-edp-ssl|allow edp-ssl to learned-edp-ssl)" "$LF_DIR/rules.1" >>"$LF_RULES"
lab_edp check >/dev/null || bad "the pasted rules do not check"
lab_edp apply >/dev/null || bad "apply of the pasted rules"
reload_daemon || bad "the daemon did not reload"
if probe_tls gw1 198.51.100.99; then ok "pasted + apply: TLS to extra.lab reaches under both"; else
	bad "pasted + apply: TLS to extra.lab still blocked"; fi

# ---- 2. a port no service has --------------------------------------------
lf_dns gw1 login.etherios.com || bad "gw1 could not resolve login.etherios.com"
probe_tcp gw1 198.51.100.10 443 && bad "tcp/443 passed before learn"
sel='.name == "login.etherios.com" and .port == 443 and .reason == "port"'
wait_learn "$sel" && ok "learn: gw1 login.etherios.com tcp/443 port" || bad "learn lacks tcp/443"
lab_edp learn gw1 --rules >"$LF_DIR/rules.2" || bad "learn gw1 --rules"
grep -q "extra.lab" "$LF_DIR/rules.2" && bad "learn --rules suggests extra.lab again (allowed now)" ||
	ok "learn --rules leaves out extra.lab, allowed since the paste"
learn_has '.name == "extra.lab" and .allowed_now' && ok "learn marks extra.lab allowed_now" ||
	bad "learn does not mark extra.lab allowed now"
for l in "service tcp-443 tcp 443" "group learned-tcp-443 login.etherios.com" \
	"allow tcp-443 to learned-tcp-443"; do
	grep -qx "$l" "$LF_DIR/rules.2" && ok "learn --rules: $l" || { cat "$LF_DIR/rules.2"; bad "learn --rules lacks '$l'"; }
done
defaults=$(sed -n 's/^# \(defaults .*tcp-443.*\)$/\1/p' "$LF_DIR/rules.2")
[ -n "$defaults" ] && ok "learn --rules: suggests '$defaults'" || bad "no defaults line suggested"
grep -E "^(service tcp-443|group learned-tcp-443|allow tcp-443)" "$LF_DIR/rules.2" >>"$LF_RULES"
sed -i "s/^defaults .*/$defaults/" "$LF_RULES"
lab_edp check >/dev/null || bad "the pasted rules do not check"
lab_edp apply >/dev/null || bad "apply"
reload_daemon || bad "the daemon did not reload"
if probe_tcp gw1 198.51.100.10 443; then ok "pasted + apply: tcp/443 reaches under both"; else
	bad "pasted + apply: tcp/443 still blocked"; fi

# ---- 3. an address no answer explains ------------------------------------
probe_tcp gw1 2001:db8:100::99 3197 && bad "tcp/3197 to an unnamed address passed"
sel='.name == null and .address == "2001:db8:100::99" and .port == 3197'
wait_learn "$sel" && ok "learn: 2001:db8:100::99 listed without a name" || bad "unnamed address missing"
lab_edp learn | grep -q "no DNS answer gave these" && ok "learn (text) says no DNS answer gave it" ||
	bad "learn text lacks the no-answer heading"

# ---- 4. restart, filters -----------------------------------------------------
stop_daemon
start_daemon
learn_has '.name == "extra.lab"' && ok "after a daemon restart learn still names extra.lab" ||
	bad "names lost over a restart"
[ "$(lab_edp -j learn gw2 | jq '.refused | length')" = 0 ] && ok "learn gw2: nothing of gw1's" ||
	bad "learn gw2 shows other gateways' attempts"
n1=$(lab_edp -j learn --since 1h | jq '.refused | length')
[ "$n1" -ge 3 ] && ok "learn --since 1h: $n1 entries" || bad "learn --since 1h: $n1"
sleep 2
n0=$(lab_edp -j learn --since 1s | jq '.refused | length')
[ "$n0" = 0 ] && ok "learn --since 1s after 2 s quiet: none" || bad "learn --since 1s: $n0"
lab_edp learn --since 5x >/dev/null 2>&1; [ $? = 2 ] && ok "learn --since 5x: usage error" ||
	bad "learn --since 5x accepted"

echo "$fails failed"
[ "$fails" = 0 ]
