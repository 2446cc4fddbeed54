#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# edpgate on the lab of real hosts (scripts/lab.sh), with real clients and
# servers, in three enforcement modes on one lab: native XDP, generic XDP
# and --enforce nft (no XDP: the nft mirror alone decides).  In each mode:
#  - every flow of tests/e2e/lab_flows.sh gives its expected outcome and
#    moves its counter (BPF counters from `edpgate -j stats`; in nft mode
#    the nft rule counters, whose comments name the same reasons), and the
#    outcomes are identical across the modes;
#  - `edpgate verify` passes;
#  - enrolment while traffic flows: a probe loop from the not-enrolled
#    rogue host fails, passes from the first probe after `gateway add`,
#    fails again from the first probe after `gateway del`;
#  - an established TLS session on 3199 survives an `apply`;
#  - XDP modes: a gateway bound to VLAN 42 passes tagged and is dropped as
#    `binding` untagged; --enforce nft does not check VLANs (nftables sees
#    the frame after its tag is gone): `gateway add --vlan` warns, `verify`
#    has a note, and untagged frames of the bound gateway pass.
# At the end the suite tears everything down and checks nothing is left.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EDPGATE=${EDPGATE:-$ROOT/build/edpgate}
export TMPDIR=${TMPDIR:-/tmp}

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in ip nsenter setsid ss dnsmasq chronyd openssl socat jq nft; do
	command -v "$c" >/dev/null || { echo "skip: no $c"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }
[ -x "$EDPGATE" ] || { echo "FAIL: $EDPGATE not built"; exit 1; }

LAB=lfl$$
MODES=${LAB_MODES:-native generic nft}
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
# check DESCRIPTION: judge the last lf_run.
check() {
	if [ "$LF_OK" = 0 ]; then
		ok "$1: $LF_OBS, $LF_COUNTER moved by $LF_DELTA"
	else
		bad "$1: $LF_OBS (want $LF_EXPECT), $LF_COUNTER moved by $LF_DELTA"
	fi
}
expect() {
	local want=$1 what=$2 rc
	shift 2
	"$@" >/dev/null
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what"; else bad "$what (exit $rc, want $want)"; fi
}

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -f "$LF_LOG" ]; then
		echo "--- edpgate log (last 20 lines)"
		tail -20 "$LF_LOG"
		echo "--- probe log (last 30 lines)"
		tail -30 "$LAB_RUN/probe.log" 2>/dev/null
	fi
	lf_down
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What the host had before, to tell what we leave behind.
veths_before=$(ip -o link show type veth | wc -l)
host_table_before=$(nft list table inet edpgate >/dev/null 2>&1 && echo yes || echo no)

start=$(date +%s)
lf_up || { echo "FAIL lab up"; exit 1; }
lab_pids=$(awk '{print $2}' "$LAB_RUN/pids")

# ---------------------------------------------------------------------
# Enrolment while traffic flows.  A loop of one-packet NTP probes (1 s
# timeout, 0.2 s apart) from rogue, each logged as "start end rc" in ns.
probe_loop() {
	local s r
	while [ ! -e "$LF_DIR/loop.stop" ]; do
		s=$(date +%s%N)
		if PROBE_TIMEOUT=1 lf_ntp_once rogue 198.51.100.20; then r=0; else r=1; fi
		echo "$s $(date +%s%N) $r" >>"$LF_DIR/loop.log"
		sleep 0.2
	done
}
# wait_probes N AFTER: until N probes that started after AFTER have ended.
wait_probes() {
	local i
	for i in $(seq 100); do
		[ "$(awk -v t="$2" '$1 > t' "$LF_DIR/loop.log" | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# probes FROM TO RC: how many probes ran wholly within FROM..TO with RC.
probes() {
	awk -v a="$1" -v b="$2" -v rc="$3" '$1 > a && $2 < b && $3 == rc' \
		"$LF_DIR/loop.log" | wc -l
}
enrol_live() {
	local mode=$1 t_add0 t_add1 t_del0 t_del1 first n before after key
	rm -f "$LF_DIR/loop.stop" "$LF_DIR/loop.log"
	: >"$LF_DIR/loop.log"
	lf_bg probe_loop
	local loop=$LF_BG
	wait_probes 2 0
	t_add0=$(date +%s%N)
	lab_edp gateway add "$ROGUE_MAC" --name rogue >/dev/null || bad "$mode: gateway add rogue"
	t_add1=$(date +%s%N)
	wait_probes 3 "$t_add1"
	t_del0=$(date +%s%N)
	key=$(_lf_key global.unknown_mac "$mode")
	lf_counters "$mode" >"$LF_DIR/before"
	lab_edp gateway del rogue >/dev/null || bad "$mode: gateway del rogue"
	t_del1=$(date +%s%N)
	wait_probes 2 "$t_del1"
	touch "$LF_DIR/loop.stop"
	wait "$loop"
	lf_counters "$mode" >"$LF_DIR/after"

	n=$(probes 0 "$t_add0" 1)
	if [ "$n" -ge 2 ] && [ "$(probes 0 "$t_add0" 0)" -eq 0 ]; then
		ok "$mode: live enrolment: rogue's NTP probes fail before 'gateway add' ($n)"
	else
		bad "$mode: live enrolment: before add: $n failed, $(probes 0 "$t_add0" 0) passed"
	fi
	first=$(awk -v t="$t_add1" '$1 > t {print $3; exit}' "$LF_DIR/loop.log")
	n=$(probes "$t_add1" "$t_del0" 0)
	if [ "$first" = 0 ] && [ "$n" -ge 3 ] && [ "$(probes "$t_add1" "$t_del0" 1)" -eq 0 ]; then
		ok "$mode: live enrolment: the first probe after 'gateway add' passes, and every one after ($n)"
	else
		bad "$mode: live enrolment: after add: first rc '$first', $n passed, $(probes "$t_add1" "$t_del0" 1) failed"
	fi
	first=$(awk -v t="$t_del1" '$1 > t {print $3; exit}' "$LF_DIR/loop.log")
	n=$(probes "$t_del1" 99999999999999999999 1)
	if [ "$first" = 1 ] && [ "$n" -ge 2 ] && [ "$(probes "$t_del1" 99999999999999999999 0)" -eq 0 ]; then
		ok "$mode: live enrolment: probes fail from the first one after 'gateway del' ($n)"
	else
		bad "$mode: live enrolment: after del: first rc '$first', $n failed"
	fi
	before=$(_lf_get "$LF_DIR/before" "$key")
	after=$(_lf_get "$LF_DIR/after" "$key")
	if [ $((after - before)) -ge 2 ]; then
		ok "$mode: after 'gateway del' rogue counts as $key again (+$((after - before)))"
	else
		bad "$mode: after 'gateway del': $key moved by $((after - before)), want >= 2"
	fi
}

# ---------------------------------------------------------------------
# An established TLS session across `apply`: s_client (kept open through
# a fifo) handshakes, the policy is re-applied, then an HTTP request goes
# over the same session and s_server -www answers it.
tls_across_apply() {
	local mode=$1 i gen0 gen1 fd key before after
	mkfifo "$LF_DIR/tls.in"
	exec {fd}<>"$LF_DIR/tls.in"
	# Not through lf_bg: an asynchronous command inside a function would
	# get /dev/null as its stdin instead of the fifo.
	nsenter --net="/var/run/netns/$LAB-gw1" openssl s_client \
		-connect 198.51.100.10:3199 -servername login.etherios.com \
		-verify_hostname login.etherios.com -CAfile "$LAB_CA" \
		-verify_return_error -brief \
		<&"$fd" >"$LF_DIR/tls.out" 2>"$LF_DIR/tls.err" &
	local cli=$!
	LF_PIDS+=("$cli")
	for i in $(seq 100); do	# up to 10 s: a loaded machine is slow to start s_client
		grep -q '^CONNECTION ESTABLISHED' "$LF_DIR/tls.err" && break
		sleep 0.1
	done
	if grep -q '^CONNECTION ESTABLISHED' "$LF_DIR/tls.err"; then
		ok "$mode: TLS session to login.etherios.com:3199 established"
	else
		bad "$mode: TLS session not established: $(head -3 "$LF_DIR/tls.err")"
	fi
	gen0=$(lab_edp -j status | jq .generation)
	lab_edp apply >/dev/null || bad "$mode: apply"
	gen1=$(lab_edp -j status | jq .generation)
	if [ "$mode" != nft ]; then
		if [ "$gen1" != "$gen0" ]; then
			ok "$mode: apply swapped the policy generation ($gen0 -> $gen1)"
		else
			bad "$mode: apply left generation $gen0"
		fi
	fi
	key=$(_lf_key gw1.allow.edp-ssl "$mode")
	lf_counters "$mode" >"$LF_DIR/before"
	printf 'GET / HTTP/1.0\r\n\r\n' >&"$fd"
	for i in $(seq 30); do
		grep -q '^HTTP/1.0 200' "$LF_DIR/tls.out" && break
		sleep 0.1
	done
	if grep -q '^HTTP/1.0 200' "$LF_DIR/tls.out"; then
		ok "$mode: the TLS session still carries data after apply (HTTP 200 over it)"
	else
		bad "$mode: no answer over the TLS session after apply"
	fi
	lf_counters "$mode" >"$LF_DIR/after"
	# Every packet of the session is judged, by XDP or by the nft rules
	# (no conntrack fast path), so the allow counter moves in every mode.
	before=$(_lf_get "$LF_DIR/before" "$key")
	after=$(_lf_get "$LF_DIR/after" "$key")
	if [ $((after - before)) -ge 1 ]; then
		ok "$mode: the session's packets after apply pass as $key (+$((after - before)))"
	else
		bad "$mode: $key did not move for the session after apply"
	fi
	exec {fd}>&-
	kill "$cli" 2>/dev/null
	wait "$cli" 2>/dev/null
	rm -f "$LF_DIR/tls.in"
}

# ---------------------------------------------------------------------
# VLAN binding (XDP only).
vlan_binding() {
	local mode=$1
	lab_edp gateway add "$GW1_MAC" --name gw1 --vlan 42 --replace >/dev/null ||
		bad "$mode: gateway add gw1 --vlan 42 --replace"
	lf_run "gw1 bound to VLAN 42: tagged TLS" reached gw1.allow.edp-ssl">="1 "$mode" \
		probe_tls gw1 login.etherios.com 10.99.42.11
	check "$mode: gw1 bound to VLAN 42: tagged TLS"
	lf_run "gw1 bound to VLAN 42: one untagged NTP packet" blocked gw1.drop.binding=1 "$mode" \
		lf_ntp_once gw1 198.51.100.20
	check "$mode: gw1 bound to VLAN 42: one untagged NTP packet"
	lf_run "gw1 bound to VLAN 42: untagged TLS" blocked gw1.drop.binding">="1 "$mode" \
		probe_tls gw1 login.etherios.com
	check "$mode: gw1 bound to VLAN 42: untagged TLS"
	notes=$(lab_edp -j verify | jq '.notes | length')
	if [ "$notes" = 0 ]; then
		ok "$mode: verify has no note about the VLAN binding (XDP enforces it)"
	else
		bad "$mode: verify notes with XDP enforcing: $notes"
	fi
	lab_edp gateway add "$GW1_MAC" --name gw1 --replace >/dev/null ||
		bad "$mode: gateway add gw1 --replace (unbind)"
	lf_run "gw1 unbound again: untagged TLS" reached gw1.allow.edp-ssl">="1 "$mode" \
		probe_tls gw1 login.etherios.com
	check "$mode: gw1 unbound again: untagged TLS"
}

# VLAN binding with --enforce nft: not enforced, and said so.  The inet
# hooks see a frame after its tag is gone (here on lan0.42), so nothing
# can compare the VLAN with the gateway's binding.  What the README
# claims: `gateway add --vlan` warns, `verify` passes with a note, and the
# untagged frames of the bound gateway pass like the tagged ones.
vlan_unchecked_nft() {
	local mode=nft notes
	lab_edp gateway add "$GW1_MAC" --name gw1 --vlan 42 --replace >/dev/null ||
		bad "$mode: gateway add gw1 --vlan 42 --replace"
	if grep -q "with --enforce nft the VLAN is not checked" "$LF_DIR/edp.err"; then
		ok "$mode: gateway add --vlan warns that nft does not check the VLAN"
	else
		bad "$mode: gateway add --vlan gave no warning: $(cat "$LF_DIR/edp.err")"
	fi
	notes=$(lab_edp -j verify | jq -r '.notes[]')
	if [[ $notes == *"to VLAN 42"*"VLAN binding needs XDP"* ]]; then
		ok "$mode: verify notes the unchecked VLAN binding"
	else
		bad "$mode: verify note: '$notes'"
	fi
	lf_run "gw1 bound to VLAN 42: tagged TLS" reached gw1.allow.edp-ssl">="1 "$mode" \
		probe_tls gw1 login.etherios.com 10.99.42.11
	check "$mode: gw1 bound to VLAN 42: tagged TLS"
	lf_run "gw1 bound to VLAN 42: untagged TLS (VLAN not checked by nft)" reached \
		gw1.allow.edp-ssl">="1 "$mode" probe_tls gw1 login.etherios.com
	check "$mode: gw1 bound to VLAN 42: untagged TLS passes (VLAN not checked by nft)"
	lab_edp gateway add "$GW1_MAC" --name gw1 --replace >/dev/null ||
		bad "$mode: gateway add gw1 --replace (unbind)"
	if grep -q "VLAN is not checked" "$LF_DIR/edp.err"; then
		bad "$mode: warning after unbinding"
	fi
	notes=$(lab_edp -j verify | jq '.notes | length')
	if [ "$notes" = 0 ]; then ok "$mode: unbound: no note"; else bad "$mode: unbound: $notes notes"; fi
}

# ---------------------------------------------------------------------
declare -A outcome
first_mode=1
for mode in $MODES; do
	echo "--- mode $mode"
	lf_attach "$mode" >/dev/null || { bad "$mode: attach"; continue; }
	if [ $first_mode = 1 ]; then
		lf_enroll >/dev/null || bad "enrol gw1 and gw2"
		first_mode=0
	fi
	expect 0 "$mode: verify passes after attach" lab_edp verify
	for i in "${!LAB_FLOWS[@]}"; do
		lf_run_flow "$i" "$mode" || { bad "$mode: flow $i could not run"; continue; }
		check "$mode: $LF_NAME"
		outcome[$mode:$i]=$LF_OBS
	done
	if [ "$mode" = nft ]; then vlan_unchecked_nft; else vlan_binding "$mode"; fi
	enrol_live "$mode"
	tls_across_apply "$mode"
	expect 0 "$mode: verify passes after the changes" lab_edp verify
done

# The same outcome for every flow in every mode: the nft mirror decides
# like the data path.
# shellcheck disable=SC2086 # a list of words
set -- $MODES
if [ $# -gt 1 ]; then
	diffs=0
	for i in "${!LAB_FLOWS[@]}"; do
		for mode in "$@"; do
			if [ "${outcome[$mode:$i]:-none}" != "${outcome[$1:$i]:-none}" ]; then
				bad "flow '$(lf_flow_field "$i" 1)': $1 ${outcome[$1:$i]:-none}, $mode ${outcome[$mode:$i]:-none}"
				diffs=$((diffs + 1))
			fi
		done
	done
	[ $diffs = 0 ] && ok "all ${#LAB_FLOWS[@]} flows: identical outcomes in modes: $MODES"
fi

# ---------------------------------------------------------------------
# Tear down, then check nothing is left.
our_pids=("${LF_PIDS[@]}")
lf_down
if ip netns list | grep -q "^$LAB-"; then bad "namespaces $LAB-* left"; else ok "no namespace $LAB-* left"; fi
veths=$(ip -o link show type veth | wc -l)
if [ "$veths" -le "$veths_before" ]; then ok "no veth left on the host"; else bad "veths on the host: $veths_before -> $veths"; fi
if grep -q "$LF_DIR" /proc/mounts; then bad "bpffs still mounted in $LF_DIR"; else ok "no bpffs mount left"; fi
if [ -e "$LF_DIR" ] || [ -e "$LAB_RUN" ]; then bad "run dirs left ($LF_DIR, $LAB_RUN)"; else ok "no pin dir or run dir left"; fi
host_table=$(nft list table inet edpgate >/dev/null 2>&1 && echo yes || echo no)
if [ "$host_table" = "$host_table_before" ]; then ok "no nft table left in the host namespace"; else bad "host nft table inet edpgate: $host_table_before -> $host_table"; fi
alive=0
for p in $lab_pids "${our_pids[@]}"; do
	st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
	[ "$st" = Z ] || alive=$((alive + 1))
done
if [ $alive = 0 ]; then ok "no process we started is left"; else bad "$alive process(es) we started are still running"; fi

echo "lab flows: $(($(date +%s) - start)) s"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
