# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
#
# lab-probe.sh - flow probes with real clients for the lab of scripts/lab.sh.
# Source it (demo, e2e tests) with LAB set to the prefix of a lab that is up:
#
#   LAB=edpg123 scripts/lab.sh up
#   LAB=edpg123; . scripts/lab-probe.sh
#   probe_tls gw1 login.etherios.com && echo reached
#
# Every probe_* returns 0 when the flow got through and 1 when it did not,
# within PROBE_TIMEOUT seconds (default 2, at most 3).  A probe's client
# output goes to $LAB_RUN/probe.log, so a failing test can show it.
#
# Names are resolved through the lab's dnsmasq, queried from the router's
# own namespace by default (LAB_RESOLVE_FROM=router): the query then never
# crosses the LAN interface, so a filter there cannot turn a name lookup into
# a false "blocked".  LAB_RESOLVE_FROM=gw1 (etc.) asks from a LAN host.
#
# Public functions:
#   lab_exec HOST CMD...                  run CMD in a lab host's netns
#   lab_resolve HOST NAME [A|AAAA]        print NAME's addresses from the lab DNS
#   probe_tls HOST NAME_OR_ADDR [SRC]     TLS handshake to :3199, cert verified
#   probe_ntp HOST NAME_OR_ADDR [SRC]     one NTP measurement (chronyd -Q)
#   probe_tcp HOST ADDR PORT [SRC]        TCP connect
#   probe_tcp_spoofed HOST SRC ADDR PORT  TCP connect from an address HOST
#                                         does not own (added, then removed)
# SRC binds the client to a source address, e.g. gw1's VLAN 42 address
# 10.99.42.11, which routes the flow over the tagged link.

: "${LAB:?set LAB to the lab prefix before sourcing lab-probe.sh}"
LAB_RUN=${LAB_RUN:-${TMPDIR:-/tmp}/$LAB}
PROBE_TIMEOUT=${PROBE_TIMEOUT:-2}
[ "$PROBE_TIMEOUT" -le 3 ] 2>/dev/null || PROBE_TIMEOUT=3
LAB_RESOLVE_FROM=${LAB_RESOLVE_FROM:-router}
LAB_DNS=${LAB_DNS:-10.99.0.1}
LAB_PY=/usr/bin/python3
[ -x "$LAB_PY" ] || LAB_PY=python3

# nsenter, not `ip netns exec`: that remounts /sys and hides bpffs.
lab_exec() {
	local host=$1
	shift
	nsenter --net="/var/run/netns/$LAB-$host" "$@"
}

# A DNS client from the standard library only: one UDP query, the answer's
# A/AAAA records printed in order (a CNAME chain is followed by the server,
# whose answer section carries the final addresses).
_LAB_DNS_PY='
import random, socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], {"A": 1, "AAAA": 28}[sys.argv[3]]
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
q += struct.pack("!HH", qtype, 1)
fam = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[4]))
s.sendto(q, (server, 53))
while True:
	r = s.recv(4096)
	if struct.unpack("!H", r[:2])[0] == qid:
		break
an = struct.unpack("!H", r[6:8])[0]
def skip_name(o):
	while True:
		n = r[o]
		if n == 0:
			return o + 1
		if n & 0xc0 == 0xc0:
			return o + 2
		o += n + 1
o = skip_name(12) + 4
found = False
for _ in range(an):
	o = skip_name(o)
	t, _, ttl, rdlen = struct.unpack("!HHIH", r[o:o + 10])
	o += 10
	if t == qtype:
		af = socket.AF_INET if t == 1 else socket.AF_INET6
		print(socket.inet_ntop(af, r[o:o + rdlen]))
		found = True
	o += rdlen
sys.exit(0 if found else 1)
'

lab_resolve() {
	local host=$1 name=$2 type=${3:-A}
	lab_exec "$host" timeout "$PROBE_TIMEOUT" "$LAB_PY" -c "$_LAB_DNS_PY" \
		"$LAB_DNS" "$name" "$type" "$PROBE_TIMEOUT"
}

# _lab_addr NAME_OR_ADDR: an address as is, a name through the lab DNS (A).
_lab_addr() {
	if [[ $1 == *:* || $1 =~ ^[0-9.]+$ ]]; then
		echo "$1"
	else
		lab_resolve "$LAB_RESOLVE_FROM" "$1" A | head -n 1
	fi
}

# host:port with IPv6 literals in brackets.
_lab_hostport() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

_lab_log() {
	echo "== $(date +%T.%N) $*" >>"$LAB_RUN/probe.log"
}

# probe_tls HOST NAME_OR_ADDR [SRC]: a full TLS handshake with the lab's
# s_server on 3199; the certificate is verified against the lab CA and the
# name (or address), so reaching some other listener does not count.
probe_tls() {
	local host=$1 target=$2 src=${3:-} addr out
	local -a args=(-brief -CAfile "$LAB_RUN/cert.pem" -verify_return_error)

	addr=$(_lab_addr "$target") || return 1
	[ -n "$addr" ] || return 1
	if [ "$addr" = "$target" ]; then
		args+=(-verify_ip "$addr")
	else
		args+=(-servername "$target" -verify_hostname "$target")
	fi
	[ -n "$src" ] && args+=(-bind "$(_lab_hostport "$src" 0)")
	_lab_log "probe_tls $host $target ($addr) ${src:+from $src}"
	out=$(lab_exec "$host" timeout "$PROBE_TIMEOUT" openssl s_client \
		-connect "$(_lab_hostport "$addr" 3199)" "${args[@]}" \
		</dev/null 2>&1)
	echo "$out" >>"$LAB_RUN/probe.log"
	grep -q '^CONNECTION ESTABLISHED' <<<"$out" || return 1
}

# probe_ntp HOST NAME_OR_ADDR [SRC]: a real NTP client, chronyd in one-shot
# mode (-Q: measure, never touch the clock), with its own pid file and no
# command sockets, so it cannot meet the system chronyd.  Exit 0 means a
# valid server response was measured.
probe_ntp() {
	local host=$1 target=$2 src=${3:-} addr rc
	local pidf="$LAB_RUN/probe-ntp.$BASHPID.$RANDOM.pid"
	local -a conf=("server ADDR iburst minpoll -6 maxpoll -6"
		"pidfile $pidf" "cmdport 0" "bindcmdaddress /")

	addr=$(_lab_addr "$target") || return 1
	[ -n "$addr" ] || return 1
	conf[0]="server $addr iburst minpoll -6 maxpoll -6"
	[ -n "$src" ] && conf+=("bindacqaddress $src")
	_lab_log "probe_ntp $host $target ($addr) ${src:+from $src}"
	lab_exec "$host" timeout "$PROBE_TIMEOUT" chronyd -Q -t "$PROBE_TIMEOUT" \
		"${conf[@]}" >>"$LAB_RUN/probe.log" 2>&1
	rc=$?
	rm -f "$pidf"
	[ $rc -eq 0 ]
}

# probe_tcp HOST ADDR PORT [SRC]: a TCP connect (nothing sent).
probe_tcp() {
	local host=$1 addr=$2 port=$3 src=${4:-} opts
	opts="connect-timeout=$PROBE_TIMEOUT"
	[ -n "$src" ] && opts+=",bind=$(_lab_hostport "$src" 0)"
	_lab_log "probe_tcp $host $addr $port ${src:+from $src}"
	lab_exec "$host" timeout "$PROBE_TIMEOUT" socat -u /dev/null \
		"TCP:$(_lab_hostport "$addr" "$port"),$opts" >>"$LAB_RUN/probe.log" 2>&1 ||
		return 1
}

# probe_tcp_spoofed HOST SRC ADDR PORT: HOST claims SRC (an address on the
# LAN subnet, so the router can answer it) for one connect.  The address is
# added to eth0 only for the probe unless HOST already has it.
probe_tcp_spoofed() {
	local host=$1 src=$2 addr=$3 port=$4 added=0 rc
	local -a how=("$src/32")
	# nodad: a tentative IPv6 address could not be bound at once.
	case $src in *:*) how=("$src/128" nodad) ;; esac
	if ! lab_exec "$host" ip -o addr show dev eth0 | grep -q " $src/"; then
		lab_exec "$host" ip addr add "${how[0]}" dev eth0 "${how[@]:1}" || return 1
		added=1
	fi
	probe_tcp "$host" "$addr" "$port" "$src"
	rc=$?
	if [ $added = 1 ]; then
		lab_exec "$host" ip addr del "${how[0]}" dev eth0
		# The router must not keep answering a stale neighbour entry.
		lab_exec router ip neigh flush to "$src" 2>/dev/null
	fi
	return $rc
}
