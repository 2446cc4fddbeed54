#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# demo.sh - the whole product on a lab of real hosts (`make demo`).
#
#   scripts/demo.sh [BUILD_DIR]        run the demo (BUILD_DIR: default build)
#   KEEP=1 scripts/demo.sh [BUILD_DIR] leave the lab up afterwards
#   scripts/demo.sh down PREFIX        tear down a lab that KEEP=1 left up
#
# It brings up the namespace lab (scripts/lab.sh), attaches edpgate to the
# router's LAN interface in native XDP with the shipped
# rules/devicecloud.rules (the lab DNS makes its names resolve to lab
# addresses), enrolls gw1 and gw2 with the CLI, runs every flow of
# tests/e2e/lab_flows.sh with a real client (openssl s_client, chronyd,
# socat, ...), and prints a table: flow, expected, observed, and the
# counter that explains it; then `edpgate stats` and `edpgate verify`.
# Exit status 1 if any observed outcome differs from the expected one.
# Everything is torn down by a trap on every exit path (Ctrl-C included)
# unless KEEP=1 and the demo got to its end.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "demo: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP, bpffs)"

if [ "${1:-}" = down ]; then
	[ -n "${2:-}" ] || die "usage: $0 down PREFIX"
	[[ $2 =~ ^[A-Za-z][A-Za-z0-9_]{0,15}$ ]] || die "bad prefix '$2'"
	LAB=$2
	EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
	# shellcheck source=tests/e2e/lab_flows.sh
	. "$ROOT/tests/e2e/lab_flows.sh"
	lf_down
	echo "demo lab $LAB down"
	exit 0
fi

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
EDPGATE=$BUILD/edpgate
[ -x "$EDPGATE" ] || die "$EDPGATE not built; run 'make'"
LAB=${LAB:-demo$$}
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"

keep=0
# shellcheck disable=SC2317 # called by the trap
on_exit() {
	local rc=$?
	if [ "$keep" = 1 ]; then
		exit "$rc"
	fi
	echo
	echo "== tearing the lab down"
	lf_down
	echo "lab $LAB removed"
	exit "$rc"
}
trap on_exit EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

hdr() { printf '\n== %s\n' "$*"; }
# show CMD...: print an edpgate command line as a user would type it on
# the router, then run it.
show() {
	echo "# edpgate $*"
	lab_edp "$@" | sed 's/^/  /'
	return "${PIPESTATUS[0]}"
}

hdr "bringing up lab $LAB (namespaces $LAB-*: gw1 gw2 rogue sw router cloud)"
lf_up || die "the lab did not come up"
cat <<EOF
  gw1    $GW1_MAC  $GW1_IP  $GW1_IP6  (also VLAN 42: $GW1_VLAN_IP)
  gw2    $GW2_MAC  $GW2_IP  $GW2_IP6
  rogue  $ROGUE_MAC  $ROGUE_IP  $ROGUE_IP6  (never enrolled)
  router lan0 10.99.0.1 (dnsmasq: the Device Cloud and NTP names -> cloud)
  cloud  198.51.100.10-13 Device Cloud (TLS 3199, EDP 3197, 443, 22),
         198.51.100.20-24 NTP (chronyd), 198.51.100.99 named by no rule
EOF

hdr "attaching edpgate to the router's lan0 (native XDP, rules/devicecloud.rules)"
show attach lan0 --mode native || die "attach failed (see $LF_LOG)"

hdr "enrolling the gateways"
show gateway add "$GW1_MAC" --name gw1 || die "enrolling gw1 failed"
show gateway add "$GW2_MAC" --name gw2 --ip "$GW2_IP" \
	--services edp-ssl,edp,ntp,dns,dns-tcp,dhcp || die "enrolling gw2 failed"
show gateway list

hdr "flows (each with a real client; a blocked flow gives up after ${PROBE_TIMEOUT} s)"
# gw1.drop.service -> "gw1 drop service"; global.unknown_mac -> "drop
# unknown_mac (unknown MAC: no gateway)".
counter_words() {
	case $1 in
	global.*) echo "drop ${1#global.} (no gateway)" ;;
	*) echo "${1//./ }" ;;
	esac
}
fmt='%-2s %-46s %-8s %-8s %s\n'
# shellcheck disable=SC2059 # the format is ours
printf "$fmt" "" "flow" "expected" "observed" "counter that moved"
bad=0
for i in "${!LAB_FLOWS[@]}"; do
	if ! lf_run_flow "$i" native; then
		echo "demo: could not read the counters (see $LF_LOG)" >&2
		bad=$((bad + 1))
		continue
	fi
	mark="  "
	if [ "$LF_OBS" != "$LF_EXPECT" ]; then
		mark="!!"
		bad=$((bad + 1))
	elif [ "$LF_OK" != 0 ]; then
		mark="? "
	fi
	# shellcheck disable=SC2059
	printf "$fmt" "$mark" "$LF_NAME" "$LF_EXPECT" "$LF_OBS" \
		"$(counter_words "${LF_COUNTER%% *}") +$LF_DELTA"
done

hdr "edpgate stats: why each flow was dropped (per gateway, per reason)"
show stats
hdr "edpgate verify: BPF maps and the nft table against the rules data"
show verify
vrc=$?

echo
if [ $bad -eq 0 ] && [ $vrc -eq 0 ]; then
	echo "demo: every observed outcome is the expected one"
	rc=0
else
	echo "demo: $bad flow(s) differ from the expected outcome (!!)," \
		"verify exit $vrc; logs: $LAB_RUN/probe.log $LF_LOG"
	rc=1
fi

if [ "${KEEP:-0}" = 1 ]; then
	keep=1
	cat <<EOF

The lab is still up (KEEP=1).  Explore it:
  LAB=$LAB scripts/lab.sh status
  LAB=$LAB scripts/lab.sh exec gw1 bash          # a shell on gw1
  nsenter --net=/var/run/netns/$LAB-router $EDPGATE \\
      --pin-dir $LF_PIN --state-dir $LF_STATE \\
      --rules $LF_RULES --resolver 10.99.0.1 stats
  nsenter --net=/var/run/netns/$LAB-router nft list table inet edpgate
Tear it down with:
  bash scripts/demo.sh down $LAB
EOF
fi
exit $rc
