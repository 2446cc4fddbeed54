#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# lab.sh - a lab of real hosts in network namespaces for edpgate.
#
#   LAB=<prefix> scripts/lab.sh up|down|status|exec HOST CMD...
#
# Topology (every name below is prefixed with "$LAB-"; interfaces live only
# inside their namespaces, so no interface name ever touches the host):
#
#   gw1   eth0 00:40:9d:00:00:01 10.99.0.11 fd99::11   eth0.42 10.99.42.11
#   gw2   eth0 00:40:9d:00:00:02 10.99.0.12 fd99::12
#   rogue eth0 02:00:00:00:00:66 10.99.0.66 fd99::66
#     |  (bridge br0 in "sw"; VLAN 42 frames pass through it tagged)
#   router lan0 10.99.0.1 fd99::1 (trunk: lan0.42 10.99.42.1 fd99:42::1)
#          wan0 198.51.100.1 2001:db8:100::1     dnsmasq on the LAN addresses
#     |
#   cloud  wan0 198.51.100.{10..13,20..24,99} 2001:db8:100::{10..13,20..24,99}
#          openssl s_server :3199, socat :3197 :443 :22, chronyd :123
#
# Plain routing, no NAT: the cloud sees each gateway's own address, which is
# what lets a test tell a spoofed source from a real one.
#
# State lives in ${TMPDIR:-/tmp}/$LAB: config, certificate, logs and "pids"
# (name pid starttime).  `down` kills only those PIDs (after checking the
# start time, so a recycled PID is never hit) and deletes only the namespaces
# named after $LAB; the veths die with their namespaces.  $RUN/lab.env is a
# sourceable summary (addresses, MACs, the lab DNS, the CA for TLS clients);
# scripts/lab-probe.sh has the flow probes.
#
# The router's lan0 is a plain veth with offloads off and MTU 1500, so native
# XDP attaches to it (its peer is the switch port); VLAN 42 frames reach it
# with the 802.1Q header in the frame (see build_vlan).
#
# No XDP program and no nft table is attached here: that is edpgate's job.
set -euo pipefail

HOSTS=(gw1 gw2 rogue router cloud sw)
# The Debian python: stdlib only is needed, but keep to the system one.
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
LAN_HOSTS=(gw1 gw2 rogue)

usage() {
	cat >&2 <<-EOF
	usage: LAB=<prefix> $0 up|down|status|exec HOST CMD...
	  HOST is one of: ${HOSTS[*]}
	  LAB defaults to edpg<pid> for 'up' only; the other commands need the
	  prefix 'up' printed.  LAB_VLAN=0 leaves out the 802.1Q tag 42 path.
	  LAB_TLS_SERVER=0 leaves out the s_server on 3199 (a caller runs
	  its own there).  LAB_DNS_TTL sets the TTL of the lab's answers
	  (default 60).  Files in \$RUN/hosts.d (hosts format) add or move
	  names at run time: dnsmasq rereads them when they change.
	EOF
	exit 2
}

die() {
	echo "lab: $*" >&2
	exit 1
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift

if [ -z "${LAB:-}" ]; then
	[ "$cmd" = up ] || die "set LAB=<prefix> (the prefix 'lab.sh up' printed)"
	LAB=edpg$$
fi
# The prefix ends up in netns names and a directory name: keep it tame.
[[ $LAB =~ ^[A-Za-z][A-Za-z0-9_]{0,15}$ ]] ||
	die "LAB='$LAB': use 1-16 letters, digits or _ starting with a letter"
RUN=${TMPDIR:-/tmp}/$LAB
LAB_VLAN=${LAB_VLAN:-1}
LAB_TLS_SERVER=${LAB_TLS_SERVER:-1}
LAB_DNS_TTL=${LAB_DNS_TTL:-60}
[[ $LAB_DNS_TTL =~ ^[0-9]{1,5}$ ]] || die "LAB_DNS_TTL='$LAB_DNS_TTL': give seconds"

nsname() { echo "$LAB-$1"; }
nspath() { echo "/var/run/netns/$LAB-$1"; }

# nsenter, not `ip netns exec`: the latter remounts /sys in a private mount
# namespace, which hides any bpffs mounted under it.
in_ns() {
	local h=$1
	shift
	nsenter --net="$(nspath "$h")" "$@"
}

ipn() {
	local h=$1
	shift
	ip -n "$(nsname "$h")" "$@"
}

# Field 22 of /proc/PID/stat: start time in clock ticks since boot.  Stored
# with the PID so a later `down` can tell our daemon from a recycled PID.
starttime() {
	local stat f
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	# The command name (field 2) may hold spaces; cut after its ')'.
	read -ra f <<<"${stat##*) }"
	echo "${f[19]}"
}

# Ours and still running: a zombie (state Z) waiting for whoever inherited
# it to reap it has exited already.
pid_is_ours() {
	local stat f
	[ "$2" != 0 ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# f[0] is field 3 (state), f[19] field 22 (start time).
	read -ra f <<<"${stat##*) }"
	[ "${f[0]}" != Z ] && [ "${f[19]}" = "$2" ]
}

# start_daemon NAME HOST CMD...: run CMD in HOST's netns in its own session
# (setsid: a Ctrl-C in the caller's terminal reaches the caller's trap, not
# the daemons, and `down` can kill the daemon with everything it forked by
# process group).  Output goes to $RUN/NAME.log.
start_daemon() {
	local name=$1 host=$2 pid
	shift 2
	setsid nsenter --net="$(nspath "$host")" "$@" \
		</dev/null >"$RUN/$name.log" 2>&1 &
	pid=$!
	echo "$name $pid $(starttime "$pid")" >>"$RUN/pids"
}

# wait_listen HOST PROTO PORT NAME: the daemon must be listening within ~5 s.
wait_listen() {
	local host=$1 proto=$2 port=$3 name=$4 i opt=-Hltn
	[ "$proto" = udp ] && opt=-Hlun
	for i in $(seq 50); do
		if [ -n "$(in_ns "$host" ss $opt "sport = :$port")" ]; then
			return 0
		fi
		daemon_alive "$name" || break
		sleep 0.1
	done
	echo "lab: $name did not come up; its log:" >&2
	sed 's/^/  | /' "$RUN/$name.log" >&2 || true
	return 1
}

# On a failed `up`: show the log of every daemon that died, before the run
# directory (and so the logs) goes away.
dead_logs() {
	local name pid st
	[ -f "$RUN/pids" ] || return 0
	while read -r name pid st; do
		pid_is_ours "$pid" "$st" && continue
		echo "lab: $name (pid $pid) died; its log:" >&2
		sed 's/^/  | /' "$RUN/$name.log" >&2 || true
	done <"$RUN/pids"
}

daemon_alive() {
	local name pid st
	while read -r name pid st; do
		[ "$name" = "$1" ] || continue
		pid_is_ours "$pid" "$st" && return 0
	done <"$RUN/pids"
	return 1
}

# Offloads would make the LAN differ from a wire: TSO/GSO/GRO merge packets
# (counters would count super-packets), tx checksum offload leaves partial
# checksums in the frames, and VLAN tx offload carries the 802.1Q tag as skb
# metadata instead of in the frame, so an XDP program on lan0 (native or
# generic) would never see the tag.  The legacy ethtool ioctls do this with
# no ethtool binary; a feature a device cannot change is left as it is.
OFFLOADS_OFF='
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL = 0x8946
STXCSUM, STSO, SGSO, SGRO, GFLAGS, SFLAGS = 0x17, 0x1f, 0x24, 0x2c, 0x25, 0x26
TXVLAN, RXVLAN = 1 << 7, 1 << 8
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def call(dev, cmd, data=0):
	val = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
	ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(val)) + bytes(16)
	fcntl.ioctl(s, SIOCETHTOOL, ifr)
	return struct.unpack("II", val.raw)[1]
for dev in sys.argv[1:]:
	for cmd in (STSO, SGSO, SGRO, STXCSUM):
		try:
			call(dev, cmd, 0)
		except OSError:
			pass
	call(dev, SFLAGS, call(dev, GFLAGS) & ~(TXVLAN | RXVLAN))
'

# lan_offloads_off HOST DEV...
lan_offloads_off() {
	local host=$1
	shift
	in_ns "$host" "$PY" -c "$OFFLOADS_OFF" "$@"
}

# ---------------------------------------------------------------- up ---

cloud_names=(
	# name                   v4 host part (also the v6 interface id)
	"login.etherios.com      10"
	"login.etherios.co.uk    11"
	"my.idigi.com            12"
	"my.idigi.co.uk          13"
	"time.etherios.com       20"
	"0.idigi.pool.ntp.org    21"
	"1.idigi.pool.ntp.org    22"
	"2.idigi.pool.ntp.org    23"
	"3.idigi.pool.ntp.org    24"
	"extra.lab               99"
)

write_configs() {
	local line name n san="" listen="10.99.0.1,fd99::1"

	[ "$LAB_VLAN" = 1 ] && listen+=",10.99.42.1,fd99:42::1"
	{
		echo "# dnsmasq for lab $LAB: answers only for the lab's names"
		echo "no-resolv"
		echo "no-hosts"
		echo "no-poll"
		echo "bind-interfaces"
		echo "listen-address=$listen"
		echo "port=53"
		# A short TTL the resolver and DNS snooping can be seen to honour.
		echo "local-ttl=$LAB_DNS_TTL"
		# Names a caller adds or moves while the lab runs (a cloud name
		# that changes address): dnsmasq watches the directory and
		# rereads a file when it changes.  It stays root to read it:
		# the run directory is private to root (as chronyd here).
		echo "hostsdir=$RUN/hosts.d"
		echo "user=root"
		echo "log-queries"
		echo "log-facility=-"
		echo "pid-file="
		# Every name is local: unknown names get NXDOMAIN, never a timeout.
		echo "local=/#/"
		for line in "${cloud_names[@]}"; do
			read -r name n <<<"$line"
			echo "host-record=$name,198.51.100.$n,2001:db8:100::$n"
		done
		# Like the real zone, one time server name is an alias of a
		# pool name: resolvers and snooping must follow the CNAME.
		echo "cname=time.etherios.co.uk,0.idigi.pool.ntp.org"
	} >"$RUN/dnsmasq.conf"
	mkdir -m 0700 "$RUN/hosts.d"

	cat >"$RUN/chrony.conf" <<-EOF
	# chronyd for lab $LAB: a stratum-8 NTP server from the local clock.
	# Private pid file, no command sockets, never touches the system chrony
	# (started with -x: it does not steer the clock either).
	pidfile $RUN/chronyd.pid
	driftfile $RUN/chrony.drift
	cmdport 0
	bindcmdaddress /
	local stratum 8
	allow all
	EOF

	for line in "${cloud_names[@]}"; do
		read -r name n <<<"$line"
		[ "$name" = extra.lab ] || san+="DNS:$name,"
		san+="IP:198.51.100.$n,IP:2001:db8:100::$n,"
	done
	san+="DNS:time.etherios.co.uk"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 7 -subj "/CN=login.etherios.com" \
		-addext "subjectAltName=$san" \
		-keyout "$RUN/key.pem" -out "$RUN/cert.pem" 2>"$RUN/openssl-req.log"

	# For callers (demo, tests): one sourceable file with the lab's facts.
	cat >"$RUN/lab.env" <<-EOF
	LAB=$LAB
	LAB_RUN=$RUN
	LAB_DNS=10.99.0.1
	LAB_DNS6=fd99::1
	LAB_LAN_IF=lan0
	LAB_WAN_IF=wan0
	LAB_ROUTER_NS=$(nsname router)
	LAB_CA=$RUN/cert.pem
	LAB_KEY=$RUN/key.pem
	LAB_HOSTS_D=$RUN/hosts.d
	GW1_MAC=00:40:9d:00:00:01
	GW2_MAC=00:40:9d:00:00:02
	ROGUE_MAC=02:00:00:00:00:66
	GW1_IP=10.99.0.11
	GW2_IP=10.99.0.12
	ROGUE_IP=10.99.0.66
	GW1_IP6=fd99::11
	GW2_IP6=fd99::12
	ROGUE_IP6=fd99::66
	GW1_VLAN=42
	GW1_VLAN_IP=10.99.42.11
	EOF
	# A resolv.conf for `unshare -m` + bind mount, if a caller wants
	# glibc's resolver in a lab host to use the lab DNS.
	echo "nameserver 10.99.0.1" >"$RUN/resolv.conf"
}

build_topology() {
	local h i mac line name n

	for h in "${HOSTS[@]}"; do
		ip netns add "$(nsname "$h")"
		ipn "$h" link set lo up
	done
	# The switch is layer 2 only: no IPv6 link-local addresses on it.
	in_ns sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	in_ns sw sysctl -qw net.ipv6.conf.default.disable_ipv6=1

	# The switch: a plain bridge (VLAN 42 passes through it tagged).
	# Multicast snooping off so IPv6 neighbour discovery floods like on a
	# dumb switch.
	ipn sw link add br0 type bridge mcast_snooping 0
	ipn sw link set br0 up

	# LAN hosts: the veth is created straight into both namespaces, so its
	# names never exist on the host.
	i=0
	for h in "${LAN_HOSTS[@]}"; do
		case $h in
		gw1) mac=00:40:9d:00:00:01 ;;
		gw2) mac=00:40:9d:00:00:02 ;;
		rogue) mac=02:00:00:00:00:66 ;;
		esac
		ipn sw link add "$h" type veth peer name eth0 netns "$(nsname "$h")"
		ipn "$h" link set eth0 address "$mac"
		ipn sw link set "$h" master br0
		lan_offloads_off "$h" eth0
		ipn sw link set "$h" up
		ipn "$h" link set eth0 up
		i=$((i + 1))
	done

	ipn sw link add router type veth peer name lan0 netns "$(nsname router)"
	ipn router link set lan0 address 02:00:00:99:00:01
	ipn sw link set router master br0
	lan_offloads_off sw gw1 gw2 rogue router
	lan_offloads_off router lan0
	ipn sw link set router up
	ipn router link set lan0 up

	ipn router link add wan0 type veth peer name wan0 netns "$(nsname cloud)"
	ipn router link set wan0 up
	ipn cloud link set wan0 up

	# Addresses.  nodad: a tentative IPv6 address cannot be bound, and
	# nothing in the lab duplicates an address by accident.
	ipn router addr add 10.99.0.1/24 dev lan0
	ipn router addr add fd99::1/64 dev lan0 nodad
	ipn router addr add 198.51.100.1/24 dev wan0
	ipn router addr add 2001:db8:100::1/64 dev wan0 nodad
	for h in "${LAN_HOSTS[@]}"; do
		case $h in
		gw1) i=11 ;;
		gw2) i=12 ;;
		rogue) i=66 ;;
		esac
		ipn "$h" addr add "10.99.0.$i/24" dev eth0
		ipn "$h" addr add "fd99::$i/64" dev eth0 nodad
		ipn "$h" route add default via 10.99.0.1
		ipn "$h" -6 route add default via fd99::1
	done
	for line in "${cloud_names[@]}"; do
		read -r name n <<<"$line"
		ipn cloud addr add "198.51.100.$n/24" dev wan0
		ipn cloud addr add "2001:db8:100::$n/64" dev wan0 nodad
	done
	# The cloud knows only the way back to the site, no default route.
	ipn cloud route add 10.99.0.0/16 via 198.51.100.1
	ipn cloud -6 route add fd99::/16 via 2001:db8:100::1

	in_ns router sysctl -qw net.ipv4.ip_forward=1
	in_ns router sysctl -qw net.ipv6.conf.all.forwarding=1
}

# This kernel has neither 802.1Q devices (CONFIG_VLAN_8021Q) nor bridge VLAN
# filtering, so VLAN 42 is carried by a small userspace tagger on each end:
# a TAP device named like a VLAN subinterface (eth0.42 on gw1, lan0.42 on the
# router) whose frames it sends tagged on the lower interface through a
# packet socket, and tagged frames of that VID it receives there (the kernel
# hands the stripped tag over as PACKET_AUXDATA) go back into the TAP.  The
# bridge passes tagged frames through untouched, and the switch port facing
# the router has tx VLAN offload off, so the tag is in the frame when it
# reaches lan0: the XDP program there sees the real 802.1Q header.  The TAP
# goes away with its tagger, so `down` needs nothing extra.
VLAN_TAGGER='
import fcntl, os, select, socket, struct, sys
lower, tapname, vid = sys.argv[1], sys.argv[2], int(sys.argv[3])
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10
tap = os.open("/dev/net/tun", os.O_RDWR)
# TUNSETIFF, IFF_TAP | IFF_NO_PI
fcntl.ioctl(tap, 0x400454ca, struct.pack("16sH", tapname.encode(), 0x1002))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.bind((lower, 0))
tag = struct.pack("!HH", 0x8100, vid)

def put(fn, *args):
	# EIO / ENETDOWN while a side is still down: drop, like a wire.
	try:
		fn(*args)
	except OSError:
		pass

while True:
	ready = select.select([tap, s], [], [])[0]
	if tap in ready:
		f = os.read(tap, 65536)
		if len(f) >= 14:
			put(s.send, f[:12] + tag + f[12:])
	if s in ready:
		f, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(20))
		if addr[2] == socket.PACKET_OUTGOING:
			continue
		tci = None
		for lvl, typ, data in anc:
			if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
				st, _, _, _, _, vtci, _ = struct.unpack("IIIHHHH", data[:20])
				if st & TP_STATUS_VLAN_VALID:
					tci = vtci
		if tci is None and f[12:14] == b"\x81\x00":
			tci = struct.unpack("!H", f[14:16])[0]
			f = f[:12] + f[16:]
		if tci is not None and tci & 0xfff == vid:
			put(os.write, tap, f)
'

wait_link() {
	local host=$1 dev=$2 name=$3 i
	for i in $(seq 50); do
		ipn "$host" link show "$dev" >/dev/null 2>&1 && return 0
		daemon_alive "$name" || break
		sleep 0.1
	done
	echo "lab: $name did not create $dev; its log:" >&2
	sed 's/^/  | /' "$RUN/$name.log" >&2 || true
	return 1
}

build_vlan() {
	[ "$LAB_VLAN" = 1 ] || return 0
	start_daemon vlan-gw1 gw1 "$PY" -c "$VLAN_TAGGER" eth0 eth0.42 42
	start_daemon vlan-router router "$PY" -c "$VLAN_TAGGER" lan0 lan0.42 42
	wait_link gw1 eth0.42 vlan-gw1
	wait_link router lan0.42 vlan-router
	# Same MAC as the lower device, as a real VLAN subinterface has.
	ipn gw1 link set eth0.42 address 00:40:9d:00:00:01
	ipn router link set lan0.42 address 02:00:00:99:00:01
	ipn gw1 link set eth0.42 up
	ipn router link set lan0.42 up
	ipn gw1 addr add 10.99.42.11/24 dev eth0.42
	ipn gw1 addr add fd99:42::11/64 dev eth0.42 nodad
	ipn router addr add 10.99.42.1/24 dev lan0.42
	ipn router addr add fd99:42::1/64 dev lan0.42 nodad
	# Traffic gw1 sources from its VLAN address leaves over the VLAN (a
	# client picks the path by binding to that address).
	ipn gw1 rule add from 10.99.42.11 lookup 42 pref 100
	ipn gw1 route add default via 10.99.42.1 dev eth0.42 table 42
	ipn gw1 -6 rule add from fd99:42::11 lookup 42 pref 100
	ipn gw1 -6 route add default via fd99:42::1 dev eth0.42 table 42
}

start_services() {
	start_daemon dnsmasq router dnsmasq --keep-in-foreground \
		--conf-file="$RUN/dnsmasq.conf"
	# s_server serves one connection at a time; -www answers a GET and
	# closes, and a client that only handshakes and hangs up frees it.
	if [ "$LAB_TLS_SERVER" = 1 ]; then
		start_daemon tls3199 cloud openssl s_server -accept 3199 \
			-cert "$RUN/cert.pem" -key "$RUN/key.pem" -www -quiet
	fi
	start_daemon edp3197 cloud socat \
		TCP6-LISTEN:3197,ipv6only=0,reuseaddr,fork EXEC:cat
	start_daemon https443 cloud socat \
		TCP6-LISTEN:443,ipv6only=0,reuseaddr,fork SYSTEM:'echo https-lab'
	start_daemon ssh22 cloud socat \
		TCP6-LISTEN:22,ipv6only=0,reuseaddr,fork SYSTEM:'echo SSH-2.0-lab'
	start_daemon chronyd cloud chronyd -x -d -u root -f "$RUN/chrony.conf"

	wait_listen router udp 53 dnsmasq
	[ "$LAB_TLS_SERVER" = 0 ] || wait_listen cloud tcp 3199 tls3199
	wait_listen cloud tcp 3197 edp3197
	wait_listen cloud tcp 443 https443
	wait_listen cloud tcp 22 ssh22
	wait_listen cloud udp 123 chronyd
}

up_done=0
do_up() {

	if [ -e "$RUN" ] || [ -e "$(nspath router)" ]; then
		die "lab '$LAB' exists ($RUN); run 'LAB=$LAB $0 down' first"
	fi
	for c in ip nsenter setsid ss dnsmasq chronyd openssl socat $PY; do
		command -v "$c" >/dev/null || die "$c not found; run 'make deps'"
	done

	mkdir -m 0700 "$RUN"
	: >"$RUN/pids"
	# A failure (or Ctrl-C) halfway removes whatever was created so far.
	trap 'if [ $up_done = 0 ]; then dead_logs; do_down >/dev/null 2>&1; fi' EXIT
	trap 'exit 130' INT TERM

	write_configs
	build_topology
	build_vlan
	start_services
	up_done=1
	echo "lab $LAB up (state in $RUN); tear down with: LAB=$LAB $0 down"
}

# -------------------------------------------------------------- down ---

do_down() {
	local name pid st h i left

	if [ -f "$RUN/pids" ]; then
		while read -r name pid st; do
			pid_is_ours "$pid" "$st" || continue
			# The daemon leads its own process group (setsid):
			# socat's per-connection children go with it.
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		done <"$RUN/pids"
		for i in $(seq 30); do
			left=0
			while read -r name pid st; do
				pid_is_ours "$pid" "$st" && left=1
			done <"$RUN/pids"
			[ $left = 0 ] && break
			sleep 0.1
		done
		while read -r name pid st; do
			pid_is_ours "$pid" "$st" || continue
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		done <"$RUN/pids"
	fi
	for h in "${HOSTS[@]}"; do
		[ -e "$(nspath "$h")" ] && ip netns del "$(nsname "$h")"
	done
	# Only our own directory, and only if it looks like ours.
	if [ -d "$RUN" ] && [ -f "$RUN/pids" ]; then
		rm -rf -- "$RUN"
	elif [ -d "$RUN" ]; then
		rmdir -- "$RUN" 2>/dev/null || true
	fi
	echo "lab $LAB down"
}

# ------------------------------------------------------------ status ---

do_status() {
	local h name pid st rc=0 state

	[ -d "$RUN" ] || { echo "lab $LAB: not up (no $RUN)"; return 3; }
	echo "lab $LAB (state in $RUN)"
	for h in "${HOSTS[@]}"; do
		if [ ! -e "$(nspath "$h")" ]; then
			echo "  $(nsname "$h"): MISSING"
			rc=1
			continue
		fi
		echo "  $(nsname "$h"):"
		ipn "$h" -br addr show | grep -v '^lo ' | sed 's/^/    /'
	done
	echo "  daemons:"
	while read -r name pid st; do
		if pid_is_ours "$pid" "$st"; then
			state=alive
		else
			state=DEAD
			rc=1
		fi
		printf '    %-10s pid %-8s %s\n' "$name" "$pid" "$state"
	done <"$RUN/pids"
	return $rc
}

case $cmd in
up) do_up ;;
down) do_down ;;
status) do_status ;;
exec)
	[ $# -ge 2 ] || usage
	h=$1
	shift
	case " ${HOSTS[*]} " in
	*" $h "*) ;;
	*) die "unknown host '$h' (one of: ${HOSTS[*]})" ;;
	esac
	[ -e "$(nspath "$h")" ] || die "lab '$LAB' has no host $h; is it up?"
	exec nsenter --net="$(nspath "$h")" "$@"
	;;
*) usage ;;
esac
