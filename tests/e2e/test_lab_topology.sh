#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The lab itself, with no filter attached: every flow the demo and the e2e
# tests rely on must work with real clients (so a "blocked" later is the
# filter's doing), every probe must also be able to say "blocked", and
# `down` must leave nothing behind.  A failed `up` must clean up too.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB_SH=$ROOT/scripts/lab.sh

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in ip nsenter setsid ss dnsmasq chronyd openssl socat; do
	command -v "$c" >/dev/null || { echo "skip: no $c"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }

export LAB=ltop$$ LAB_VLAN=1
BAD=ltbad$$
export TMPDIR=${TMPDIR:-/tmp}
FAKEBIN=$(mktemp -d)

cleanup() {
	LAB=$LAB bash "$LAB_SH" down >/dev/null 2>&1
	LAB=$BAD bash "$LAB_SH" down >/dev/null 2>&1
	rm -rf "$FAKEBIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
# expect RC DESCRIPTION CMD...: CMD must exit with RC.
expect() {
	local want=$1 what=$2 rc
	shift 2
	"$@"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what"; else bad "$what (exit $rc, want $want)"; fi
}
quiet() { "$@" >/dev/null 2>&1; }
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

start=$(date +%s)
if ! bash "$LAB_SH" up; then
	echo "FAIL lab up"
	exit 1
fi
RUN=$TMPDIR/$LAB
# shellcheck disable=SC1091 # sourced at run time
. "$ROOT/scripts/lab-probe.sh"

expect 0 "status: all namespaces and daemons alive" quiet bash "$LAB_SH" status
expect 1 "up refuses a lab that is already up" quiet bash "$LAB_SH" up

# --- topology facts the filter and the tests depend on.  (/sys stays the
# host's under nsenter: ask ip and /proc/net, which follow the netns.)
mac() { lab_exec "$1" ip -br link show dev "$2" | awk '{print $3}'; }
eq "gw1 MAC" "$(mac gw1 eth0)" 00:40:9d:00:00:01
eq "gw2 MAC" "$(mac gw2 eth0)" 00:40:9d:00:00:02
eq "rogue MAC" "$(mac rogue eth0)" 02:00:00:00:00:66
eq "gw1 eth0.42 MAC" "$(mac gw1 eth0.42)" 00:40:9d:00:00:01
eq "router forwards IPv4" "$(lab_exec router sysctl -n net.ipv4.ip_forward)" 1
eq "router forwards IPv6" "$(lab_exec router sysctl -n net.ipv6.conf.all.forwarding)" 1
# VLAN tx offload off on the switch port facing lan0 (ETHTOOL_GFLAGS, bit
# TXVLAN): the 802.1Q tag is then in the frame that XDP on lan0 sees.
txvlan=$(lab_exec sw "$LAB_PY" -c '
import ctypes, fcntl, socket, struct
v = ctypes.create_string_buffer(struct.pack("II", 0x25, 0), 8)
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946,
	struct.pack("16sP", b"router", ctypes.addressof(v)) + bytes(16))
print("on" if struct.unpack("II", v.raw)[1] & (1 << 7) else "off")')
eq "switch port to lan0: tx VLAN offload" "$txvlan" off

# --- DNS: every name of rules/devicecloud.rules, A and AAAA
declare -A want=(
	[login.etherios.com]=10 [login.etherios.co.uk]=11 [my.idigi.com]=12
	[my.idigi.co.uk]=13 [time.etherios.com]=20 [time.etherios.co.uk]=21
	[0.idigi.pool.ntp.org]=21 [1.idigi.pool.ntp.org]=22
	[2.idigi.pool.ntp.org]=23 [3.idigi.pool.ntp.org]=24 [extra.lab]=99
)
for n in "${!want[@]}"; do
	eq "DNS A $n" "$(lab_resolve router "$n" A)" "198.51.100.${want[$n]}"
	eq "DNS AAAA $n (asked from gw1)" "$(lab_resolve gw1 "$n" AAAA)" "2001:db8:100::${want[$n]}"
done
expect 1 "DNS: an unknown name has no address" lab_resolve router no.such.example A
# time.etherios.co.uk is a CNAME, as in the real zone.
cn=$(lab_exec router "$LAB_PY" -c '
import socket, struct
q = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"\x04time\x08etherios\x02co\x02uk\x00" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("10.99.0.1", 53))
print(b"\x05idigi\x04pool\x03ntp" in s.recv(512))')
eq "DNS: time.etherios.co.uk answers with a CNAME" "$cn" True

# --- flows with real clients, no filter: all reach
expect 0 "gw1 TLS handshake login.etherios.com:3199 (cert verified)" probe_tls gw1 login.etherios.com
expect 0 "gw2 TLS handshake my.idigi.com:3199" probe_tls gw2 my.idigi.com
expect 0 "gw1 TLS over IPv6 [2001:db8:100::11]:3199" probe_tls gw1 2001:db8:100::11
expect 0 "gw1 NTP one-shot against time.etherios.com" probe_ntp gw1 time.etherios.com
expect 0 "gw1 NTP against time.etherios.co.uk (CNAME)" probe_ntp gw1 time.etherios.co.uk
expect 0 "gw2 NTP over IPv6" probe_ntp gw2 2001:db8:100::21
expect 0 "gw1 TCP 3197" probe_tcp gw1 198.51.100.10 3197
expect 0 "gw1 TCP 443" probe_tcp gw1 198.51.100.10 443
expect 0 "gw1 TCP 22 (reachable without a filter)" probe_tcp gw1 198.51.100.10 22
expect 0 "gw1 TCP 3199 to the unnamed address" probe_tcp gw1 198.51.100.99 3199
expect 0 "gw1 IPv6 TCP 3197" probe_tcp gw1 2001:db8:100::10 3197
expect 0 "rogue TLS 3199 (no filter yet)" probe_tls rogue login.etherios.com
expect 0 "gw2 spoofed IPv4 source" probe_tcp_spoofed gw2 10.99.0.77 198.51.100.10 3197
expect 0 "gw2 spoofed IPv6 source" probe_tcp_spoofed gw2 fd99::77 2001:db8:100::10 3197
if lab_exec gw2 ip -o addr show dev eth0 | grep -q '10\.99\.0\.77/'; then
	bad "spoofed address removed from gw2 after the probe"
else
	ok "spoofed address removed from gw2 after the probe"
fi

# --- the VLAN path: gw1's VLAN address routes over the tagged link; the
# router's lan0.42 must have received the packets (not lan0 untagged).
# shellcheck disable=SC2016 # awk's own $1
rx42() { lab_exec router awk '$1 == "lan0.42:" {print $3}' /proc/net/dev; }
before=$(rx42)
expect 0 "VLAN 42: gw1 TCP 3197 from 10.99.42.11" probe_tcp gw1 198.51.100.10 3197 10.99.42.11
expect 0 "VLAN 42: gw1 TLS from 10.99.42.11" probe_tls gw1 login.etherios.com 10.99.42.11
expect 0 "VLAN 42: gw1 NTP from 10.99.42.11" probe_ntp gw1 time.etherios.com 10.99.42.11
expect 0 "VLAN 42: gw1 IPv6 TCP from fd99:42::11" probe_tcp gw1 2001:db8:100::10 3197 fd99:42::11
after=$(rx42)
if [ "$((after - before))" -ge 10 ]; then
	ok "VLAN 42 traffic arrived on the router's lan0.42 ($((after - before)) packets)"
else
	bad "VLAN 42 traffic arrived on the router's lan0.42 (only $((after - before)) packets)"
fi
# gw2 is not on VLAN 42: sending tagged is gw1's alone.
if lab_exec gw2 ip link show eth0.42 >/dev/null 2>&1; then bad "gw2 has no VLAN 42"; else ok "gw2 has no VLAN 42"; fi

# --- probes can say "blocked", quickly
t0=$(date +%s%N)
expect 1 "probe_tls to an address nobody answers" probe_tls gw1 198.51.100.77
expect 1 "probe_ntp to an address nobody answers" probe_ntp gw1 198.51.100.77
expect 1 "probe_tcp to a closed port" probe_tcp gw1 198.51.100.10 3198
expect 1 "probe_tcp to an address nobody answers" probe_tcp gw1 198.51.100.77 3197
ms=$((($(date +%s%N) - t0) / 1000000))
if [ $ms -le $((4 * 3500)) ]; then ok "blocked probes took ${ms} ms (<= 3.5 s each)"; else bad "blocked probes took ${ms} ms"; fi
# After the blocked ones, s_server (one connection at a time) still serves.
expect 0 "3199 still serves after failed probes" probe_tls gw1 login.etherios.com

# --- down leaves nothing behind
mapfile -t pids < <(awk '{print $2}' "$RUN/pids")
eq "daemons recorded" "${#pids[@]}" 8
expect 0 "lab down" quiet bash "$LAB_SH" down
eq "no netns with the prefix" "$(ip netns list | grep -c "^$LAB-")" 0
alive=0
for p in "${pids[@]}"; do
	# A zombie has exited; it only waits for its new parent to reap it.
	st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
	[ "$st" = Z ] || alive=$((alive + 1))
done
eq "no daemon from the run dir left" "$alive" 0
if [ -e "$RUN" ]; then bad "run dir $RUN removed"; else ok "run dir removed"; fi
expect 0 "down again is harmless" quiet bash "$LAB_SH" down
expect 3 "status of a lab that is down" quiet bash "$LAB_SH" status

# --- a failed up cleans up after itself: a dnsmasq that cannot start
printf '#!/bin/sh\necho "fake dnsmasq: refusing" >&2\nexit 1\n' >"$FAKEBIN/dnsmasq"
chmod +x "$FAKEBIN/dnsmasq"
expect 1 "up fails when a daemon cannot start" \
	quiet env PATH="$FAKEBIN:$PATH" LAB=$BAD bash "$LAB_SH" up
eq "failed up: no netns left" "$(ip netns list | grep -c "^$BAD-")" 0
if [ -e "$TMPDIR/$BAD" ]; then bad "failed up: run dir removed"; else ok "failed up: run dir removed"; fi

echo "lab topology: $(($(date +%s) - start)) s"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
