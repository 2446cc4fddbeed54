#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Audit mode on the lab of real hosts (scripts/lab.sh), real clients and
# servers:
#  1. attach --enforce audit: every flow of tests/e2e/lab_flows.sh reaches
#     its server, and each flow `both` blocks moves its counter as
#     would_drop under the very reason `both` drops it for, by the same
#     amount where the flow's packet count is exact; no drop counter moves;
#     verify passes; doctor says first that nothing is enforced; watch
#     marks the audited drops; Prometheus has edpgate_would_drop_packets_total.
#  2. `edpgate enforce both`: the blocked flows are dropped at once, under
#     the same reasons and by the same exact amounts, and the counters
#     carry on (none goes back); `enforce audit` passes them again.
#  3. one gateway audited among enforced ones (gateway add --audit): only
#     its flows pass.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
export TMPDIR=${TMPDIR:-/tmp}

LAB=lau$$
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"
lf_preflight

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
trap 'lf_down' EXIT
trap 'exit 130' INT TERM

lf_up || { echo "FAIL: the lab did not come up"; exit 1; }
lab_edp attach lan0 --enforce audit >/dev/null || { echo "FAIL: attach --enforce audit"; exit 1; }
lf_enroll || { echo "FAIL: enrolment"; exit 1; }

# The sum of every real drop counter: audit must never move it.
real_drops() {
	lf_counters audit | awk '$1 ~ /\.drop\.|^global\./ { s += $2 } END { print s + 0 }'
}

# ---- 1. audit: everything reaches, counted as would_drop ----------------
# The hosts' own MLD reports (ICMPv6 to ff02::16, sent when they like)
# share the `protocol` counter with the one-ping flow: for that counter
# an exact count is not the flow's alone, so it is checked as >=.
loose() { [[ $1 == *.protocol=* ]] && echo "${1/=/>=}" || echo "$1"; }
declare -A audit_delta
drops0=$(real_drops)
for i in "${!LAB_FLOWS[@]}"; do
	name=$(lf_flow_field "$i" 1)
	spec=$(loose "$(lf_flow_field "$i" 3)")
	read -ra cmd <<<"$(lf_flow_field "$i" 4)"
	lf_run "$name" reached "$spec" audit "${cmd[@]}"
	audit_delta[$i]=$LF_DELTA
	if [ "$LF_OK" = 0 ]; then
		ok "audit: $name: $LF_OBS, $LF_COUNTER moved by $LF_DELTA"
	else
		bad "audit: $name: $LF_OBS (want reached), $LF_COUNTER moved by $LF_DELTA"
	fi
done
drops1=$(real_drops)
[ "$drops1" = "$drops0" ] && ok "audit: no real drop counter moved ($drops0)" ||
	bad "audit: real drops moved from $drops0 to $drops1"

if lab_edp verify >/dev/null; then ok "audit: verify passes"; else bad "audit: verify"; fi
first=$(lab_edp -j doctor | jq -r '.findings[0].finding + " " + .findings[0].problem')
case $first in
"audit_mode nothing is enforced on lan0 (audit mode)"*) ok "audit: doctor first says: ${first#* }" ;;
*) bad "audit: doctor's first finding is '$first'" ;;
esac
n=$(lab_edp stats --format prometheus |
	awk '/^edpgate_would_drop_packets_total\{.*name="gw1".*reason="port"/ { print $2 }')
[ "${n:-0}" -ge 1 ] && ok "audit: Prometheus edpgate_would_drop_packets_total gw1 port = $n" ||
	bad "audit: no edpgate_would_drop_packets_total for gw1 port"

# watch marks audited drops; the flow below (from a port of its own) is
# dropped by `both`.  The ring also holds the earlier flows' events.
nsenter --net="/var/run/netns/$LAB-router" "$EDPGATE" --pin-dir "$LF_PIN" \
	--state-dir "$LF_STATE" --rules "$LF_RULES" -j watch gw1 --timeout 4 \
	>"$LF_DIR/watch.out" 2>>"$LF_LOG" &
wpid=$!
sleep 1
lab_exec gw1 "$LF_PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 47123)); s.sendto(b"x", ("198.51.100.10", 5999))'
wait "$wpid"
v=$(jq -rs 'map(select(.sport == 47123))[-1] | "\(.reason) \(.verdict)"' "$LF_DIR/watch.out" 2>/dev/null)
[ "$v" = "port would_drop" ] && ok "audit: watch shows the drop as '$v'" ||
	bad "audit: watch printed '$v' (want 'port would_drop')"

# ---- 2. audit -> both -> audit, live ---------------------------------------
lf_counters audit >"$LF_DIR/switch.before"
if out=$(lab_edp enforce both); then ok "enforce both: $(echo "$out" | head -1)"; else bad "enforce both"; fi
lf_counters native >"$LF_DIR/switch.after"
back=$(awk 'NR == FNR { v[$1] = $2; next } ($1 in v) && $2 < v[$1] { print $1 }' \
	"$LF_DIR/switch.before" "$LF_DIR/switch.after")
[ -z "$back" ] && ok "enforce both: every counter carried on" || bad "counters went back: $back"
[ "$(lab_edp -j status | jq -r '.interfaces[0].enforce')" = both ] &&
	ok "enforce both: status says both" || bad "status after enforce both"
for i in "${!LAB_FLOWS[@]}"; do
	[ "$(lf_flow_field "$i" 2)" = blocked ] || continue
	name=$(lf_flow_field "$i" 1)
	spec=$(loose "$(lf_flow_field "$i" 3)")
	read -ra cmd <<<"$(lf_flow_field "$i" 4)"
	lf_run "$name" blocked "$spec" native "${cmd[@]}"
	if [ "$LF_OK" != 0 ]; then
		bad "both: $name: $LF_OBS (want blocked), $LF_COUNTER moved by $LF_DELTA"
	elif [[ $spec != *">="* ]] && [ "$LF_DELTA" != "${audit_delta[$i]}" ]; then
		bad "both: $name: dropped $LF_DELTA, audit counted ${audit_delta[$i]}"
	else
		ok "both: $name: blocked, $LF_COUNTER moved by $LF_DELTA (audit: ${audit_delta[$i]})"
	fi
done
# ... and what both allows still reaches (the switch kept every address).
for i in "${!LAB_FLOWS[@]}"; do
	[ "$(lf_flow_field "$i" 2)" = reached ] || continue
	lf_run_flow "$i" native
	[ "$LF_OK" = 0 ] && ok "both: $LF_NAME: reached, $LF_COUNTER moved by $LF_DELTA" ||
		bad "both: $LF_NAME: $LF_OBS (want reached), $LF_COUNTER moved by $LF_DELTA"
done
if lab_edp verify >/dev/null; then ok "both: verify passes"; else bad "both: verify"; fi
lab_edp enforce audit >/dev/null || bad "enforce audit"
if probe_tcp gw1 198.51.100.10 443; then ok "enforce audit again: tcp/443 reaches"; else
	bad "enforce audit again: tcp/443 still blocked"; fi

# ---- 3. one gateway audited among enforced ones --------------------------
lab_edp enforce both >/dev/null || bad "enforce both (again)"
lab_edp gateway add "$GW1_MAC" --name gw1 --audit --replace >/dev/null || bad "gateway add --audit"
lab_edp gateway show gw1 | grep -q "audit" && ok "gateway show gw1 says audit" ||
	bad "gateway show gw1 does not say audit"
lf_run "gw1 (audited) TCP 443" reached "gw1.drop.port>=1" audit probe_tcp gw1 198.51.100.10 443
[ "$LF_OK" = 0 ] && ok "audited gw1 among enforced: tcp/443 reaches, $LF_COUNTER +$LF_DELTA" ||
	bad "audited gw1: $LF_OBS, $LF_COUNTER +$LF_DELTA"
lf_run "gw2 (enforced) TCP 443" blocked "gw2.drop.port>=1" native probe_tcp gw2 198.51.100.10 443
[ "$LF_OK" = 0 ] && ok "enforced gw2 beside it: tcp/443 blocked, $LF_COUNTER +$LF_DELTA" ||
	bad "enforced gw2: $LF_OBS, $LF_COUNTER +$LF_DELTA"
lf_run "rogue (unknown) TLS" blocked "global.unknown_mac>=1" native probe_tls rogue login.etherios.com
[ "$LF_OK" = 0 ] && ok "unknown MAC beside it: blocked, $LF_COUNTER +$LF_DELTA" ||
	bad "unknown MAC: $LF_OBS, $LF_COUNTER +$LF_DELTA"
f=$(lab_edp -j doctor gw1 | jq -r '[.findings[].finding] | join(",")')
case ",$f," in *,gateway_audit,*) ok "doctor gw1: gateway_audit ($f)" ;; *) bad "doctor gw1: '$f'" ;; esac
if lab_edp verify >/dev/null; then ok "per-gateway audit: verify passes"; else bad "per-gateway audit: verify"; fi

echo "$fails failed"
[ "$fails" = 0 ]
