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
# counter that explains it; then Digi's Cloud Connector, a real gateway
# client, connects from gw1 (see cloud_connector below); then `edpgate
# stats` and `edpgate verify`.
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

# A real gateway client: Digi's ANSI C Cloud Connector (Digi's code, test
# equipment kept beside the repository and built here, never part of the
# project) as gw1's gateway software.  It resolves edp12.devicecloud.com
# through the lab DNS and speaks EDP over TLS to tests/e2e/edp_cloud.py,
# which logs what reached it.  The lab's s_server holds *:3199, so the
# cloud side redirects this one address to edp_cloud.py's port, as a
# front end would; edpgate on the router sees TCP 3199 to the address the
# name returned.  A missing Cloud Connector skips the step; one that does
# not connect counts as a flow that differs.
CC_SRC=${EDPG_CLOUD_CONNECTOR:-$ROOT/../shared/cloud-connector}
CC_NAME=edp12.devicecloud.com
CC_ADDR=198.51.100.30
cloud_connector() {
	local out=$LF_DIR/cc srv=$LF_DIR/cc-server.log cli=$LF_DIR/cc-gw1.log pid spid i tars
	local did=00000000-00000000-00409DFF-FF000001

	if [ ! -f "$CC_SRC/build.sh" ]; then
		echo "  skipped: no Cloud Connector in $CC_SRC (set EDPG_CLOUD_CONNECTOR=DIR)"
		return 0
	fi
	if ! WORK=$out/build OUT=$out CLOUD_URL=$CC_NAME bash "$CC_SRC/build.sh" \
		>"$LF_DIR/cc-build.log" 2>&1; then
		echo "  !! could not build it (gcc, patch, libssl-dev? see $LF_DIR/cc-build.log)"
		return 1
	fi
	tars=("$CC_SRC"/cc_ansic-*.tar.gz)
	echo "  built cc_edp_tls from ${tars[0]##*/}"
	lab_exec cloud ip addr add "$CC_ADDR/24" dev wan0 || return 1
	lab_exec cloud nft -f - <<-EOF || return 1
	table ip demo_cc {
		chain pre {
			type nat hook prerouting priority dstnat;
			ip daddr $CC_ADDR tcp dport 3199 dnat to $CC_ADDR:13199
		}
	}
	EOF
	echo "$CC_ADDR $CC_NAME" >"$LAB_RUN/cc.hosts"
	mv -f "$LAB_RUN/cc.hosts" "$LAB_HOSTS_D/cc"
	for i in $(seq 50); do
		[ "$(lab_resolve router "$CC_NAME" A 2>/dev/null)" = "$CC_ADDR" ] && break
		sleep 0.1
	done
	echo "  lab DNS: $CC_NAME -> $CC_ADDR; edpgate resolves its names again:"
	show apply || return 1
	# Simple commands, so the PID lf_bg records is the process itself.
	lf_bg nsenter --net="/var/run/netns/$LAB-cloud" "$LF_PY" \
		"$ROOT/tests/e2e/edp_cloud.py" --listen "$CC_ADDR" --port 13199 \
		--cert "$LAB_CA" --key "$LAB_KEY" --log "$srv"
	spid=$LF_BG
	for i in $(seq 50); do
		grep -q '^listening' "$srv" 2>/dev/null && break
		sleep 0.1
	done
	echo "# (gw1) CC_IFACE=eth0 cc_edp_tls $CC_NAME"
	# shellcheck disable=SC2016 # expanded by the inner sh
	lf_bg nsenter --net="/var/run/netns/$LAB-gw1" env CC_IFACE=eth0 \
		CC_CA_FILE="$LAB_CA" CC_CLOUD_URL="$CC_NAME" unshare -m sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec "$2" >"$3" 2>&1' \
		sh "$LAB_RUN/resolv.conf" "$out/cc_edp_tls" "$cli"
	pid=$LF_BG
	for i in $(seq 150); do
		grep -q "^device_id $did" "$srv" 2>/dev/null && break
		sleep 0.1
	done
	# Both go now, so a lab left up with KEEP=1 keeps nothing of ours.
	kill "$pid" "$spid" 2>/dev/null
	wait "$pid" "$spid" 2>/dev/null
	echo "  the client said:"
	grep -E 'MAC|ip address =|handshake done|connected to|Send (MT|protocol|Device Cloud url)|communication_started' \
		"$cli" | sed 's/^/    /'
	echo "  the cloud (edp_cloud.py) saw:"
	grep -E '^(handshake complete|edp version|edp protocol|device_id)' "$srv" | sed 's/^/    /'
	if ! grep -q "^device_id $did from $GW1_IP:" "$srv"; then
		echo "  !! the Cloud Connector did not complete its EDP handshake (logs: $cli $srv)"
		return 1
	fi
	echo "  gw1 ($did) connected through edpgate: TLS handshake, EDP version, Device ID"
}

hdr "a real gateway client: Digi's Cloud Connector on gw1"
cloud_connector || bad=$((bad + 1))

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
