#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# An open session of a gateway is cut at once when the gateway is deleted
# or loses the service, in every enforcement mode (xdp, nft, both): no
# "return traffic of an established flow" fast path lets it live on.
#
# Topology: gateway host (eth0) -- lan0 [router] wan0 -- cloud (eth0), the
# router forwarding.  In each mode a real TLS session (openssl s_client in
# the gateway's namespace, s_server on 3199 in the cloud's) carries lines
# the client writes; the server's output is what got through.
#  - a line written before any change arrives (the session works);
#  - `gateway del`: a line written after it does not arrive, and the drop
#    counter of the mode's enforcement point (XDP stats or the nft rule)
#    names unknown_mac;
#  - `gateway add` again: TCP's retransmission of that same line arrives
#    (it was held back by the filter, not lost), and so does a new one;
#  - `gateway add --services ntp --replace` (loses edp-ssl): a new line does
#    not arrive, and the counter names `service`;
#  - `gateway add --replace` (the defaults again): it arrives.
. "$(dirname "$0")/lib.sh"
require_root
for c in openssl jq nft; do
	command -v "$c" >/dev/null || skip "needs $c"
done

GW=02:5c:00:00:00:02
MODES=${SESSION_MODES:-xdp nft both}
# How long a line must stay away to count as cut.  TCP retransmits within
# it (RTO 0.2 s, doubling), so a filter that let the session's packets
# through would deliver it well inside this window.
HOLD=3

topo_pair "$GW"
netns_add C_NS c
ip link add "${E2E_ID}w" netns "$R_NS" type veth peer name "${E2E_ID}c" netns "$C_NS"
ip -n "$R_NS" link set "${E2E_ID}w" name wan0
ip -n "$C_NS" link set "${E2E_ID}c" name eth0
ip -n "$R_NS" addr add 10.78.0.1/24 dev wan0
ip -n "$C_NS" addr add 10.78.0.2/24 dev eth0
ip -n "$R_NS" link set wan0 up
ip -n "$C_NS" link set eth0 up
ip -n "$H_NS" route add default via 10.77.0.1
ip -n "$C_NS" route add 10.77.0.0/24 via 10.78.0.1
in_ns "$R_NS" sysctl -qw net.ipv4.ip_forward=1
# Nothing but the session from the gateway's MAC: no IPv6 chatter.
in_ns "$H_NS" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1

bpffs_private
# shellcheck disable=SC2034 # read by lib.sh's edp
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group cloud 10.78.0.2
allow edp-ssl,ntp to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=cloud.test -keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" \
	>"$E2E_TMP/req.log" 2>&1 || fail "openssl req: $(cat "$E2E_TMP/req.log")"

# A counter of the enforcement point that decides in MODE: XDP's drops by
# reason (both: XDP decides first), or with nft the rules with that comment.
drops() {
	local mode=$1 reason=$2
	if [ "$mode" = nft ]; then
		in_ns "$R_NS" nft -j list table inet edpgate | jq --arg c "$reason" \
			'[.nftables[] | select(.rule and .rule.comment == $c) | .rule.expr[] |
			  select(.counter) | .counter.packets] | add // 0'
	else
		edp -j stats | jq --arg r "$reason" '.global[$r].drop_packets // 0'
	fi
}

# arrived LINE: the server has printed LINE.
arrived() { grep -qx "$1" "$SRV_OUT"; }
# wait_arrived LINE SECONDS
wait_arrived() {
	for _ in $(seq $(($2 * 10))); do
		arrived "$1" && return 0
		sleep 0.1
	done
	return 1
}
say() { printf '%s\n' "$1" >&"$CLI_FD"; }

# session_start / session_stop: one s_server and one s_client, each with
# its stdin on a fifo we hold open (EOF would end them).
session_start() {
	local m=$1
	SRV_OUT=$E2E_TMP/srv.$m.out
	mkfifo "$E2E_TMP/srv.$m.in" "$E2E_TMP/cli.$m.in"
	exec {SRV_FD}<>"$E2E_TMP/srv.$m.in"
	exec {CLI_FD}<>"$E2E_TMP/cli.$m.in"
	# shellcheck disable=SC2016 # the inner bash expands its arguments
	bg in_ns "$C_NS" bash -c 'exec openssl s_server -accept 3199 -naccept 1 -quiet \
		-cert "$1" -key "$2" <"$3" >"$4" 2>"$4.err"' _ \
		"$E2E_TMP/cert.pem" "$E2E_TMP/key.pem" "$E2E_TMP/srv.$m.in" "$SRV_OUT"
	SRV_PID=$BG_PID
	for _ in $(seq 50); do
		in_ns "$C_NS" ss -Htln 'sport = :3199' | grep -q . && break
		sleep 0.1
	done
	# shellcheck disable=SC2016
	bg in_ns "$H_NS" bash -c 'exec openssl s_client -connect 10.78.0.2:3199 -quiet \
		-nocommands <"$1" >"$2" 2>&1' _ "$E2E_TMP/cli.$m.in" "$E2E_TMP/cli.$m.out"
	CLI_PID=$BG_PID
}
session_stop() {
	kill "$CLI_PID" "$SRV_PID" 2>/dev/null || true
	wait "$CLI_PID" "$SRV_PID" 2>/dev/null || true
	exec {CLI_FD}>&- {SRV_FD}>&-
}

for mode in $MODES; do
	echo "--- enforce $mode"
	case $mode in
	xdp | both) edp attach lan0 --mode native --enforce "$mode" >/dev/null ;;
	nft) edp attach lan0 --enforce nft >/dev/null ;;
	esac || fail "$mode: attach"
	edp gateway add "$GW" --name gw >/dev/null || fail "$mode: gateway add"
	session_start "$mode"

	say "$mode-before"
	wait_arrived "$mode-before" 10 ||
		fail "$mode: the TLS session carries no data: $(cat "$E2E_TMP/cli.$mode.out" "$SRV_OUT.err")"
	ok "$mode: TLS session from the enrolled gateway carries data"

	d0=$(drops "$mode" unknown_mac)
	edp gateway del gw >/dev/null || fail "$mode: gateway del"
	say "$mode-after-del"
	sleep $HOLD
	arrived "$mode-after-del" &&
		fail "$mode: a line written after 'gateway del' reached the server: the session lived on"
	d1=$(drops "$mode" unknown_mac)
	[ "$d1" -gt "$d0" ] || fail "$mode: unknown_mac drops did not move ($d0 -> $d1)"
	ok "$mode: after 'gateway del' nothing more reaches the server ($HOLD s; unknown_mac +$((d1 - d0)))"

	edp gateway add "$GW" --name gw >/dev/null || fail "$mode: gateway add again"
	wait_arrived "$mode-after-del" 20 ||
		fail "$mode: the held line never arrived after re-enrolment"
	say "$mode-readded"
	wait_arrived "$mode-readded" 10 || fail "$mode: no data after re-enrolment"
	ok "$mode: enrolled again, the retransmitted line arrives: it was held by the filter"

	s0=$(drops "$mode" service)
	edp gateway add "$GW" --name gw --services ntp --replace >/dev/null ||
		fail "$mode: gateway add --services ntp --replace"
	say "$mode-no-service"
	sleep $HOLD
	arrived "$mode-no-service" &&
		fail "$mode: a line written after losing edp-ssl reached the server"
	s1=$(drops "$mode" service)
	[ "$s1" -gt "$s0" ] || fail "$mode: service drops did not move ($s0 -> $s1)"
	ok "$mode: after losing edp-ssl nothing more reaches the server ($HOLD s; service +$((s1 - s0)))"

	edp gateway add "$GW" --name gw --replace >/dev/null || fail "$mode: gateway add --replace"
	wait_arrived "$mode-no-service" 20 || fail "$mode: the held line never arrived with edp-ssl back"
	ok "$mode: edp-ssl back, the held line arrives"

	session_stop
	edp gateway del gw >/dev/null || fail "$mode: gateway del (cleanup)"
	edp detach --all >/dev/null || fail "$mode: detach --all"
done
echo "PASS"
