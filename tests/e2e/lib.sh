# shellcheck shell=bash
# Shared helpers for the namespace tests.  Every name derives from the test
# name and our PID, so parallel runs cannot collide; everything created is
# registered and removed by the EXIT trap, whatever way the test ends.
set -euo pipefail

E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_ID="e$$"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/edpg-$E2E_NAME.XXXXXX")
E2E_NETNS=()
E2E_PIDS=()
E2E_MOUNTS=()

SKIP=77

skip() { echo "SKIP: $*"; exit $SKIP; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	[ -x "$EDPGATE" ] || fail "$EDPGATE not built"
}

e2e_cleanup() {
	local rc=$?
	set +e
	for pid in "${E2E_PIDS[@]}"; do
		# The whole group: a forking server's connection children too.
		kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${E2E_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for m in "${E2E_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	rm -rf "$E2E_TMP"
	exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# netns_add VAR NAME: creates "${E2E_ID}-NAME" and stores its name in VAR.
# (Not $(...): a subshell could not register it for cleanup.)
netns_add() {
	local ns="${E2E_ID}-$2"
	ip netns add "$ns"
	E2E_NETNS+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

# in NS CMD...: run in a netns without remounting /sys (bpffs stays visible)
in_ns() {
	local ns=$1
	shift
	nsenter --net="/var/run/netns/$ns" "$@"
}

# bpffs_private: a private bpffs mount; sets PIN_DIR to a dir inside it
bpffs_private() {
	local d="$E2E_TMP/bpffs"
	mkdir -p "$d"
	mount -t bpf bpf "$d"
	E2E_MOUNTS+=("$d")
	PIN_DIR="$d/edpgate"
}

# bg [in_ns NS] CMD...: start CMD in the background in its own process
# group, remembered for cleanup; sets BG_PID.  setsid and nsenter exec, so
# BG_PID is CMD itself (a backgrounded shell function would be a subshell
# whose kill leaves CMD running).  Output goes to a log so it cannot hold
# the caller's pipes open.
bg() {
	if [ "$1" = in_ns ]; then
		setsid nsenter --net="/var/run/netns/$2" "${@:3}" >>"$E2E_TMP/bg.log" 2>&1 &
	else
		setsid "$@" >>"$E2E_TMP/bg.log" 2>&1 &
	fi
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
}

# topo_pair MAC: router ns $R_NS with "lan0" 10.77.0.1/24 + fd77::1/64, LAN host
# ns $H_NS with "eth0" (MAC) 10.77.0.2/24 + fd77::2/64, joined by a veth.
topo_pair() {
	netns_add R_NS r
	netns_add H_NS h
	ip link add "${E2E_ID}l" netns "$R_NS" type veth peer name "${E2E_ID}h" netns "$H_NS"
	ip -n "$R_NS" link set "${E2E_ID}l" name lan0
	ip -n "$H_NS" link set "${E2E_ID}h" name eth0
	ip -n "$H_NS" link set eth0 address "$1"
	ip -n "$R_NS" addr add 10.77.0.1/24 dev lan0
	ip -n "$H_NS" addr add 10.77.0.2/24 dev eth0
	ip -n "$R_NS" addr add fd77::1/64 dev lan0 nodad
	ip -n "$H_NS" addr add fd77::2/64 dev eth0 nodad
	ip -n "$R_NS" link set lan0 up
	ip -n "$H_NS" link set eth0 up
}

# edp ARGS...: the CLI inside the router namespace with the test's dirs
edp() {
	in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" "$@"
}

# pair_rules FILE: the rules the topo_pair tests enforce: edp-ssl and NTP to
# the router's lan0 address, unknown MACs and non-IP dropped.
pair_rules() {
	cat >"$1" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group local 10.77.0.1
allow edp-ssl,ntp to local
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF
}

# wait_for SECONDS CMD...: 0 as soon as CMD succeeds, 1 when SECONDS pass
# first (polled every 0.1 s: a readiness wait, never a timing assertion).
wait_for() {
	local t=$1 i
	shift
	for i in $(seq $((t * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# logged TEXT: the log of the daemon under test ($LOG) has TEXT.
logged() { grep -qF -- "$1" "$LOG"; }

# tcp_ok HOSTNS ADDR PORT: 0 when a TCP connection completes within 2 s
tcp_ok() {
	in_ns "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}
