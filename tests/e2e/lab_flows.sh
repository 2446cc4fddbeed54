# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
#
# lab_flows.sh - the flows of the edpgate lab, shared by `make demo`
# (scripts/demo.sh) and the e2e tests (tests/e2e/test_lab_*.sh).
#
# Source it with ROOT (the repo) and EDPGATE (the CLI binary) set.  LAB
# (the lab prefix) defaults to a fresh one.  Then:
#
#   lf_up                    scripts/lab.sh up, a private bpffs, a state dir
#   lf_attach MODE           native | generic | nft | audit (detaches first)
#   lf_enroll                gw1 (defaults) and gw2 (bound to 10.99.0.12,
#                            with plain EDP too) through the CLI
#   lf_run_flow I MODE       run flow I of LAB_FLOWS with its real client;
#                            sets LF_OBS (reached|blocked), LF_DELTA (how
#                            far its counter moved) and LF_OK (0 = both
#                            outcome and counter are as expected)
#   lf_down                  detach, unmount, lab down (idempotent; call it
#                            from an EXIT trap)
#   lab_edp ARGS...          the CLI in the router's netns with the lab's
#                            pin dir, state dir, shipped rules and lab DNS
#
# Everything lives under names derived from $LAB: the namespaces
# "$LAB-*", the lab's run dir ${TMPDIR:-/tmp}/$LAB and ours,
# ${TMPDIR:-/tmp}/$LAB-edpgate (bpffs mount, state dir, logs).  The bpffs is
# not inside the lab's run dir because `lab.sh down` removes that dir.

: "${ROOT:?set ROOT to the repository}"
: "${EDPGATE:?set EDPGATE to the edpgate binary}"
LAB=${LAB:-edpg$$}
export LAB
LF_DIR=${TMPDIR:-/tmp}/$LAB-edpgate
LF_PIN=$LF_DIR/bpffs/edpgate
LF_STATE=$LF_DIR/state
LF_LOG=$LF_DIR/edpgate.log
LF_RULES=$ROOT/rules/devicecloud.rules
LF_PIDS=()
LF_PY=/usr/bin/python3
[ -x "$LF_PY" ] || LF_PY=python3

# The flow table.  Fields, separated by '|':
#   flow description | expected (reached|blocked) | counter that must move |
#   client command (words; run in the lab host it names)
# The counter is GATEWAY.allow.SERVICE, GATEWAY.drop.REASON or
# global.REASON (a drop), then =N for an exact delta (one datagram, one
# reply: the client's packet count is deterministic) or >=N (TCP connects
# retransmit SYNs within the probe timeout, TLS and chronyd send a few).
# shellcheck disable=SC2034 # used by the sourcing scripts
LAB_FLOWS=(
	"gw1 TLS handshake login.etherios.com:3199|reached|gw1.allow.edp-ssl>=1|probe_tls gw1 login.etherios.com"
	"gw1 NTP sync time.etherios.com (chronyd -Q)|reached|gw1.allow.ntp>=1|probe_ntp gw1 time.etherios.com"
	"gw2 NTP time.etherios.co.uk (a CNAME)|reached|gw2.allow.ntp>=1|probe_ntp gw2 time.etherios.co.uk"
	"gw1 one DNS query to the router|reached|gw1.allow.dns=1|lf_dns gw1 login.etherios.com"
	"gw1 one NTP packet to time.etherios.com|reached|gw1.allow.ntp=1|lf_ntp_once gw1 198.51.100.20"
	"gw1 TCP 3197 (edp not enrolled for gw1)|blocked|gw1.drop.service>=1|probe_tcp gw1 198.51.100.10 3197"
	"gw1 TCP 443 on login.etherios.com|blocked|gw1.drop.port>=1|probe_tcp gw1 198.51.100.10 443"
	"gw1 TCP 22 on login.etherios.com|blocked|gw1.drop.port>=1|probe_tcp gw1 198.51.100.10 22"
	"gw1 TLS 3199 to the unnamed 198.51.100.99|blocked|gw1.drop.destination>=1|probe_tls gw1 198.51.100.99"
	"gw1 one NTP packet to login.etherios.com|blocked|gw1.drop.destination=1|lf_ntp_once gw1 198.51.100.10"
	"gw1 one ping to login.etherios.com (ICMP)|blocked|gw1.drop.protocol=1|lf_ping gw1 198.51.100.10"
	"rogue TLS handshake login.etherios.com:3199|blocked|global.unknown_mac>=1|probe_tls rogue login.etherios.com"
	"rogue one NTP packet to time.etherios.com|blocked|global.unknown_mac=1|lf_ntp_once rogue 198.51.100.20"
	"gw2 TLS handshake my.idigi.com:3199|reached|gw2.allow.edp-ssl>=1|probe_tls gw2 my.idigi.com"
	"gw2 TCP 3197 (enrolled with edp)|reached|gw2.allow.edp>=1|probe_tcp gw2 198.51.100.11 3197"
	"gw2 spoofed source 10.99.0.77 to 3197|blocked|gw2.drop.binding>=1|probe_tcp_spoofed gw2 10.99.0.77 198.51.100.10 3197"
	"gw1 TLS over IPv6 [2001:db8:100::11]:3199|reached|gw1.allow.edp-ssl>=1|probe_tls gw1 2001:db8:100::11"
	"gw2 NTP over IPv6 [2001:db8:100::21]|reached|gw2.allow.ntp>=1|probe_ntp gw2 2001:db8:100::21"
	"gw1 IPv6 TCP 443 [2001:db8:100::10]|blocked|gw1.drop.port>=1|probe_tcp gw1 2001:db8:100::10 443"
	"gw1 IPv6 one NTP packet to [2001:db8:100::10]|blocked|gw1.drop.destination=1|lf_ntp_once gw1 2001:db8:100::10"
	"gw1 VLAN 42 TLS login.etherios.com:3199|reached|gw1.allow.edp-ssl>=1|probe_tls gw1 login.etherios.com 10.99.42.11"
	"gw1 VLAN 42 TCP 3197|blocked|gw1.drop.service>=1|probe_tcp gw1 198.51.100.10 3197 10.99.42.11"
)

lf_say() { echo "lab_flows: $*" >&2; }

# lf_preflight: root, the lab's tools and the binary, before anything is
# built: a missing tool is a skip (exit 77) that names it, a missing
# binary a failure.
lf_preflight() {
	local c
	[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
	for c in ip nsenter setsid ss dnsmasq chronyd openssl socat jq nft; do
		command -v "$c" >/dev/null || { echo "skip: no $c"; exit 77; }
	done
	[ -x "$EDPGATE" ] || { echo "FAIL: $EDPGATE not built"; exit 1; }
}

# lab_edp ARGS...: the CLI as the router runs it.  Its stderr (the rules'
# deprecation warnings on every command) goes to $LF_LOG, and is shown when
# the command fails.
lab_edp() {
	local rc
	echo "== edpgate $*" >>"$LF_LOG"
	nsenter --net="/var/run/netns/$LAB-router" "$EDPGATE" --pin-dir "$LF_PIN" \
		--state-dir "$LF_STATE" --rules "$LF_RULES" --resolver 10.99.0.1 \
		"$@" 2>"$LF_DIR/edp.err"
	rc=$?
	cat "$LF_DIR/edp.err" >>"$LF_LOG"
	if [ $rc -ne 0 ]; then
		grep -v "is deprecated" "$LF_DIR/edp.err" | sed "s/^/edpgate $1: /" >&2
	fi
	return $rc
}

lf_up() {
	local d
	for d in ip nsenter setsid ss dnsmasq chronyd openssl socat jq nft; do
		command -v "$d" >/dev/null || { lf_say "$d not found; run 'make deps'"; return 1; }
	done
	[ -x "$EDPGATE" ] || { lf_say "$EDPGATE not built; run 'make'"; return 1; }
	LAB_VLAN=1 bash "$ROOT/scripts/lab.sh" up >/dev/null || return 1
	mkdir -m 0700 "$LF_DIR" "$LF_DIR/bpffs" "$LF_STATE" || return 1
	: >"$LF_LOG"
	mount -t bpf bpf "$LF_DIR/bpffs" || return 1
	# shellcheck disable=SC1090,SC1091 # written by lab.sh up
	. "${TMPDIR:-/tmp}/$LAB/lab.env" || return 1
	# shellcheck disable=SC1091
	. "$ROOT/scripts/lab-probe.sh"
}

# lf_bg CMD...: a background job of ours, killed by lf_down.
lf_bg() {
	"$@" &
	LF_BG=$!
	LF_PIDS+=("$LF_BG")
}

lf_down() {
	local p
	for p in "${LF_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	LF_PIDS=()
	if [ -e "/var/run/netns/$LAB-router" ] && [ -d "$LF_PIN" ]; then
		lab_edp detach --all >/dev/null 2>&1
	fi
	if grep -q " $LF_DIR/bpffs " /proc/mounts; then
		umount "$LF_DIR/bpffs"
	fi
	# Only our own directory, and only once nothing is mounted in it.
	if [ -d "$LF_DIR" ] && ! grep -q " $LF_DIR/" /proc/mounts; then
		rm -rf -- "$LF_DIR"
	fi
	bash "$ROOT/scripts/lab.sh" down >/dev/null 2>&1
	return 0
}

# lf_attach native|generic|nft: one mode at a time, from a clean slate.
# With --enforce nft there is no XDP on lan0, so the tagged path (which
# the router receives on lan0.42) needs its own nft rule: attach it too.
lf_attach() {
	if lab_edp status 2>/dev/null | grep -q '^interface'; then
		lab_edp detach --all >/dev/null || return 1
	fi
	case $1 in
	native) lab_edp attach lan0 --mode native ;;
	generic) lab_edp attach lan0 --mode generic ;;
	nft) lab_edp attach lan0 --enforce nft &&
		lab_edp attach lan0.42 --enforce nft ;;
	audit) lab_edp attach lan0 --enforce audit ;;
	*) lf_say "unknown mode '$1'"; return 1 ;;
	esac
}

lf_enroll() {
	lab_edp gateway add "$GW1_MAC" --name gw1 &&
		lab_edp gateway add "$GW2_MAC" --name gw2 --ip "$GW2_IP" \
			--services edp-ssl,edp,ntp,dns,dns-tcp,dhcp
}

# lf_dns HOST NAME: one DNS query (one datagram) from HOST to the router.
lf_dns() {
	lab_resolve "$1" "$2" A >>"$LAB_RUN/probe.log" 2>&1
}

# lf_ntp_once HOST ADDR [SRC]: exactly one NTP client packet (mode 3), 0
# when a server reply (mode 4) comes back within PROBE_TIMEOUT.  chronyd
# sends a burst; this sends one, so its counter moves by exactly one.
_LF_NTP_PY='
import socket, sys
addr, timeout = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 3:
	s.bind((sys.argv[3], 0))
s.settimeout(timeout)
s.sendto(b"\x23" + bytes(47), (addr, 123))
try:
	r = s.recv(512)
except socket.timeout:
	sys.exit(1)
sys.exit(0 if len(r) >= 48 and r[0] & 7 == 4 else 1)
'
lf_ntp_once() {
	_lab_log "lf_ntp_once $*"
	lab_exec "$1" "$LF_PY" -c "$_LF_NTP_PY" "$2" "$PROBE_TIMEOUT" ${3:+"$3"} \
		>>"$LAB_RUN/probe.log" 2>&1
}

# lf_ping HOST ADDR: exactly one ICMP echo request (IPv4; no ping binary
# is needed), 0 when the echo reply comes back within PROBE_TIMEOUT.
_LF_PING_PY='
import os, socket, struct, sys, time
addr, timeout = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
	n = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	n = (n >> 16) + (n & 0xffff)
	return ~(n + (n >> 16)) & 0xffff
body = struct.pack("!HH", ident, 1) + b"edpgate-lab"
hdr = struct.pack("!BBH", 8, 0, 0) + body + b"\0"
s.sendto(struct.pack("!BBH", 8, 0, csum(hdr)) + body, (addr, 0))
end = time.time() + timeout
while True:
	s.settimeout(max(end - time.time(), 0.01))
	try:
		r = s.recv(1500)
	except socket.timeout:
		sys.exit(1)
	icmp = r[(r[0] & 15) * 4:]
	if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
		sys.exit(0)
'
lf_ping() {
	_lab_log "lf_ping $*"
	lab_exec "$1" "$LF_PY" -c "$_LF_PING_PY" "$2" "$PROBE_TIMEOUT" \
		>>"$LAB_RUN/probe.log" 2>&1
}

# lf_counters MODE: "key packets" lines.  With XDP, from `edpgate -j
# stats`: GW.allow.SERVICE, GW.drop.REASON, global.REASON (drops), and
# audit's GW.would_drop.REASON and global_would.REASON.  With
# --enforce nft the BPF program sees nothing, so the counters come from the
# nft rules, whose comments name the same reasons: nft.drop.REASON (every
# dropping rule with that comment) and nft.allow.SERVICE (the accepting
# rules of chain chk_SERVICE).
lf_counters() {
	if [ "$1" = nft ]; then
		lab_exec router nft -j list table inet edpgate | jq -r '
		  [.nftables[] | select(.rule) | .rule |
		   {chain, c: .comment, v: (.expr[-1] | keys[0]),
		    p: ([.expr[] | select(.counter) | .counter.packets][0] // 0)}] |
		  (map(select(.v == "drop")) | group_by(.c)[] |
		   "nft.drop.\(.[0].c) \(map(.p) | add)"),
		  (map(select(.v == "accept" and (.chain | startswith("chk_")))) |
		   group_by(.chain)[] |
		   "nft.allow.\(.[0].chain | ltrimstr("chk_")) \(map(.p) | add)")'
	else
		lab_edp -j stats | jq -r '
		  (.gateways[] | .name as $n |
		   (.allowed[] | "\($n).allow.\(.service) \(.packets)"),
		   (.drops | to_entries[] | "\($n).drop.\(.key) \(.value)"),
		   (.would_drop | to_entries[] | "\($n).would_drop.\(.key) \(.value)")),
		  (.global | to_entries[] | "global.\(.key) \(.value.drop_packets)",
		   "global_would.\(.key) \(.value.would_drop_packets)")'
	fi
}

# _lf_get FILE KEY: a counter from a lf_counters snapshot (absent = 0).
_lf_get() {
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

# The key a flow's counter has in MODE's snapshot: with nft, per reason
# or service only (nft counts per rule, not per gateway); in audit, a drop
# is counted as would_drop under the same reason.
_lf_key() {
	local key=$1 mode=$2
	if [ "$mode" = audit ]; then
		case $key in
		global.*) echo "global_would.${key#global.}" ;;
		*.drop.*) echo "${key%%.drop.*}.would_drop.${key#*.drop.}" ;;
		*) echo "$key" ;;
		esac
		return
	fi
	[ "$mode" = nft ] || { echo "$key"; return; }
	case $key in
	global.*) echo "nft.drop.${key#global.}" ;;
	*.drop.*) echo "nft.drop.${key#*.drop.}" ;;
	*.allow.*) echo "nft.allow.${key#*.allow.}" ;;
	esac
}

# lf_flow_field I N: field N (1-4) of flow I.
lf_flow_field() {
	local f1 f2 f3 f4
	IFS='|' read -r f1 f2 f3 f4 <<<"${LAB_FLOWS[$1]}"
	case $2 in 1) echo "$f1" ;; 2) echo "$f2" ;; 3) echo "$f3" ;; 4) echo "$f4" ;; esac
}

# lf_settle MODE: snapshot into $LF_DIR/before once the counters stand
# still (two reads 0.2 s apart agree, at most 5 s).  An exact count needs
# it: the previous flow's last segments (the ACK of a TLS close, sent by
# the kernel after the client exited) may still be on their way, and in
# audit they reach the server and come back.
lf_settle() {
	local i
	lf_counters "$1" >"$LF_DIR/before" || return 1
	for i in $(seq 25); do
		sleep 0.2
		lf_counters "$1" >"$LF_DIR/settle" || return 1
		cmp -s "$LF_DIR/before" "$LF_DIR/settle" && return 0
		mv "$LF_DIR/settle" "$LF_DIR/before"
	done
	return 0
}

# shellcheck disable=SC2034 # LF_* are read by the sourcing scripts
# lf_run DESCRIPTION EXPECTED COUNTER MODE CMD...: run one flow (any, not
# only the table's); sets LF_OBS, LF_COUNTER (the key as MODE names it),
# LF_DELTA and LF_OK (0: outcome and counter as expected).
lf_run() {
	local spec=$3 mode=$4 key op want before after
	LF_NAME=$1
	LF_EXPECT=$2
	shift 4
	if [[ $spec == *">="* ]]; then op=">="; else op="="; fi
	want=${spec##*=}
	key=$(_lf_key "${spec%%"$op"*}" "$mode")
	LF_COUNTER="${key} ${op}${want}"

	if [ "$op" = "=" ]; then
		lf_settle "$mode" || return 1
	else
		lf_counters "$mode" >"$LF_DIR/before" || return 1
	fi
	if "$@"; then LF_OBS=reached; else LF_OBS=blocked; fi
	lf_counters "$mode" >"$LF_DIR/after" || return 1
	before=$(_lf_get "$LF_DIR/before" "$key")
	after=$(_lf_get "$LF_DIR/after" "$key")
	LF_DELTA=$((after - before))
	LF_OK=1
	if [ "$LF_OBS" = "$LF_EXPECT" ]; then
		if [ "$op" = "=" ] && [ "$LF_DELTA" -eq "$want" ]; then LF_OK=0; fi
		if [ "$op" = ">=" ] && [ "$LF_DELTA" -ge "$want" ]; then LF_OK=0; fi
	fi
	return 0
}

# lf_run_flow I MODE: flow I of LAB_FLOWS.
lf_run_flow() {
	local -a cmd
	read -ra cmd <<<"$(lf_flow_field "$1" 4)"
	lf_run "$(lf_flow_field "$1" 1)" "$(lf_flow_field "$1" 2)" \
		"$(lf_flow_field "$1" 3)" "$2" "${cmd[@]}"
}
