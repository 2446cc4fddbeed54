#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Names under fire: a DNS server that lies (tests/e2e/hostile_dns.py) is the
# only resolver of `edpgate apply` and `edpgate run`, and forged answers go
# out of the LAN interface past the snooper.  Every address a lie carries is
# in 203.0.113.0/24; the good ones are 192.0.2.x.  After every step:
#   - no 203.0.113.x in `dst list`, the nft sets or the BPF dst map (any
#     generation): nothing that is not an answer for a rules name is added;
#   - the good addresses are still there while within their expiry.
#  1. apply against every kind of lie (garbage, cut, lying counts, > 512
#     bytes without TC, TC then lying TCP lengths / 70 KiB / a hang, wrong
#     id, wrong source port, wrong question, not a response, records for
#     names not asked, A records only in authority/additional, dangling
#     CNAME, CNAME loop, CNAME chain from another name), TTL 0, TTL >= 2^31
#     and a huge legal TTL (capped);
#  2. run: resolver lying or silent -> good addresses kept until
#     max(ttl, min-ttl) + grace, then removed; the resolver honest again ->
#     re-added;
#  3. the snooper: forged answers for names not in the rules, poisoning
#     shapes, a CNAME loop, garbage, well-formed answers to no question the
#     gateway asked (or with the wrong id or port) -> nothing added; the
#     answer to a question the gateway asked -> added;
#  4. WAN down at boot: run with the resolver unreachable and a cache ->
#     cached addresses enforced and kept; the resolver back -> refreshed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip "needs jq"
command -v bpftool >/dev/null || skip "needs bpftool"
[ -x /usr/bin/python3 ] || skip "needs /usr/bin/python3"

GWMAC=02:00:00:00:0f:01
topo_pair "$GWMAC"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
MODE=$E2E_TMP/dns.mode
DNSLOG=$E2E_TMP/dns.log
LOG=$E2E_TMP/run.log
PORT=5300
RESOLVER=127.0.0.1:$PORT
HOSTILE=$ROOT/tests/e2e/hostile_dns.py

rules() {	# rules MIN_TTL GRACE
	cat >"$RULES" <<-EOF
	service edp-ssl tcp 3199
	service dns udp 53
	group cloud min-ttl $1 grace $2 a.edpg.test b.edpg.test
	group router @router
	allow edp-ssl to cloud
	allow dns to router
	defaults edp-ssl,dns
	unknown-mac drop
	non-ip drop
	EOF
}
rules 1 600

edpr() { edp --resolver "$RESOLVER" "$@"; }
mode() { echo "$*" >"$MODE"; }

# ---- what the tables hold ------------------------------------------------
dst_addrs() {	# every address of dst list, one a line
	edp -j dst list | jq -r '.groups[].names[]?.addresses[]?.address' | sort -u
}
nft_text() { in_ns "$R_NS" nft list table inet edpgate; }
bpf_dst() {	# every address in the BPF dst map (any generation), one a line
	bpftool -j map dump pinned "$PIN_DIR/edpg_dst4" | jq -r '.[] | .formatted.key.addr | map(tostring) | join(".")'
}
in_all() {	# in_all ADDR: in dst list, the nft set and the BPF map
	local d n b
	d=$(dst_addrs) n=$(nft_text) b=$(bpf_dst)
	grep -qx -- "$1" <<<"$d" || { echo "$1 not in dst list" >&2; return 1; }
	grep -qw -- "$1" <<<"$n" || { echo "$1 not in the nft table" >&2; return 1; }
	grep -qx -- "$1" <<<"$b" || { echo "$1 not in the BPF dst map" >&2; return 1; }
}
in_none() {
	local d n b
	d=$(dst_addrs) n=$(nft_text) b=$(bpf_dst)
	! grep -qx -- "$1" <<<"$d" && ! grep -qw -- "$1" <<<"$n" && ! grep -qx -- "$1" <<<"$b"
}
no_lies() {	# no_lies WHAT: no 203.0.113.x anywhere
	local d n b
	d=$(dst_addrs) n=$(nft_text) b=$(bpf_dst)
	! grep -q '^203\.0\.113\.' <<<"$d" || fail "$1: dst list holds a lie: $(grep '^203' <<<"$d")"
	! grep -q '203\.0\.113\.' <<<"$n" || fail "$1: the nft table holds a lie"
	! grep -q '^203\.0\.113\.' <<<"$b" || fail "$1: the BPF dst map holds a lie"
}
ttl_of() {	# ttl_of ADDR: the TTL dst list shows
	edp -j dst list | jq -r --arg a "$1" '[.groups[].names[]?.addresses[]? | select(.address == $a) | .ttl][0]'
}
queries() { grep -c "^udp\|^tcp" "$DNSLOG" 2>/dev/null || true; }

mode good 300
: >"$DNSLOG"
bg in_ns "$R_NS" /usr/bin/python3 "$HOSTILE" serve 127.0.0.1 $PORT "$MODE" "$DNSLOG"
DNS_PID=$BG_PID
wait_for 5 grep -q ready "$DNSLOG" || fail "hostile DNS server did not start: $(cat "$E2E_TMP/bg.log")"

edpr attach lan0 >/dev/null || fail "attach"
edp gateway add $GWMAC --name gw >/dev/null || fail "gateway add"
in_all 192.0.2.1 || fail "192.0.2.1 not in every table: $(dst_addrs)"
in_all 192.0.2.2 || fail "192.0.2.2 not in every table: $(dst_addrs)"
ok "honest answers: 192.0.2.1 and .2 in dst list, nft and BPF"

# ---- 1. apply against every lie -------------------------------------------
for m in garbage header_only cut counts rdlen big_udp "tc short" "tc long" "tc huge" "tc hang" \
	wrong_id wrong_q wrong_q_rules wrong_port not_response poison sections \
	cname_dangling cname_loop cname_other silent; do
	mode "$m"
	before=$(queries)
	edpr apply >"$E2E_TMP/apply.out" 2>&1 || fail "apply failed against '$m': $(cat "$E2E_TMP/apply.out")"
	[ "$(queries)" -gt "$before" ] || fail "'$m': the resolver was never asked"
	no_lies "$m"
	for a in 192.0.2.1 192.0.2.2; do
		in_all $a || fail "'$m': $a went within its expiry: $(dst_addrs)"
	done
	edp verify >/dev/null || fail "'$m': verify fails"
done
ok "apply against 21 kinds of lies: nothing added, nothing within its expiry removed"
grep -q '^tcp tc' "$DNSLOG" || fail "TC never made the resolver retry over TCP"

# A > 512-byte answer over TCP after TC is a real answer: taken (a third
# name, whose only way in is that TCP answer).
mode tc good
sed -i 's/^group cloud .*/& c.edpg.test/' "$RULES"
edpr apply >"$E2E_TMP/apply.out" 2>&1 || fail "apply (tc good): $(cat "$E2E_TMP/apply.out")"
no_lies "tc good"
in_all 192.0.2.3 || fail "TC then a big TCP answer: the good answer was not taken: $(cat "$E2E_TMP/apply.out"; tail "$DNSLOG")"
rules 1 600
ok "TC then a 1.6 KB TCP answer: taken"

# TTLs: 0 reads as min-ttl, >= 2^31 as 0 (RFC 2181 8), a huge legal one is
# capped at a day so a name is asked again and a lie cannot pin an address.
mode good 300
edpr apply >/dev/null 2>&1 || fail "apply"
for t in 0 2147483648 4294967295; do
	mode ttl $t
	edpr apply >/dev/null 2>&1 || fail "apply with TTL $t"
	[ "$(ttl_of 192.0.2.1)" = 0 ] || fail "TTL $t shows as $(ttl_of 192.0.2.1), want 0"
done
mode ttl 2147483647
edpr apply >/dev/null 2>&1 || fail "apply with TTL 2^31-1"
[ "$(ttl_of 192.0.2.1)" = 86400 ] || fail "TTL 2^31-1 shows as $(ttl_of 192.0.2.1), want the 86400 cap"
no_lies "ttl"
ok "TTL 0 and >= 2^31 read as 0, 2^31-1 capped at 86400"

# ---- 2. run: the resolver lies, then is honest again ---------------------
rules 1 3
start_daemon() {
	: >"$LOG"
	setsid nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" -v --pin-dir "$PIN_DIR" \
		--state-dir "$STATE_DIR" --rules "$RULES" --resolver "$RESOLVER" run --resolve-floor 1 \
		>"$LOG" 2>&1 &
	D_PID=$!
	E2E_PIDS+=("$D_PID")
	wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "daemon did not start"; }
}
stop_daemon() {
	local rc=0
	kill -TERM "$D_PID"
	wait "$D_PID" || rc=$?
	[ $rc = 0 ] || { cat "$LOG"; fail "daemon exit status $rc on SIGTERM"; }
}
mode good 1 10
start_daemon
wait_for 10 in_all 192.0.2.11 2>/dev/null || { cat "$LOG"; fail "daemon did not resolve a.edpg.test"; }
# Asked again every second (TTL 1, --resolve-floor 1): from now on the
# answer carries no address of the name (records for other names only).
mode poison
t0=$(date +%s)
sleep 2
in_all 192.0.2.11 || { cat "$LOG"; fail "192.0.2.11 removed before max(ttl, min-ttl) + grace"; }
no_lies "run, poisoned answers"
gone() { in_none 192.0.2.11; }
wait_for 12 gone || { cat "$LOG"; fail "192.0.2.11 never expired"; }
t1=$(date +%s)
logged "removed 192.0.2.11 from cloud (a.edpg.test, expired)" || { cat "$LOG"; fail "no log line for the expiry"; }
no_lies "run, poisoned answers"
ok "run, resolver lying: 192.0.2.11 kept within its expiry, removed after ($((t1 - t0)) s), no lie added"
mode good 300 10
wait_for 30 in_all 192.0.2.11 2>/dev/null || { cat "$LOG"; fail "192.0.2.11 not re-added once the resolver is honest"; }
ok "run, resolver honest again: re-added"

# ---- 3. forged answers past the snooper -----------------------------------
# The snooper takes an answer only when it answers a question it saw the
# gateway ask (same MAC, port, id, name, type).
forge() {	# forge MODE NAME PORT [ID]: one answer from the router's port 53 to the gateway
	in_ns "$R_NS" /usr/bin/python3 "$HOSTILE" forge "$1" "$2" 10.77.0.2 "$3" "${4:-0x1234}"
}
ask() {	# ask NAME SRCPORT ID: the gateway asks the router's port 53
	in_ns "$H_NS" /usr/bin/python3 "$HOSTILE" ask "$1" 10.77.0.1 53 "$2" "$3"
}
for hook in egress ingress; do
	tc_out=$(in_ns "$R_NS" tc filter show dev lan0 $hook)
	grep -q edpgate_snoop <<<"$tc_out" || fail "no snooper on lan0 $hook"
done
forge lie evil.test 40000
forge wrong_q a.edpg.test 40000
for m in poison sections cname_dangling cname_loop cname_other garbage cut counts rdlen header_only \
	not_response; do
	forge "$m" a.edpg.test 40000
done
# Well-formed answers for a rules name that no question asked for: one out
# of the blue, then for a question asked (nothing listens on the router's
# port 53) but with the wrong id, and to the wrong port.
forge lie a.edpg.test 40000
ask a.edpg.test 40001 0x1111 >/dev/null
forge lie a.edpg.test 40001 0x2222
forge lie a.edpg.test 40002 0x1111
# Poisoning shapes that do answer a question the gateway asked: their
# content is what is refused.
i=0
for m in poison sections cname_dangling cname_loop cname_other; do
	i=$((i + 1))
	ask a.edpg.test $((40010 + i)) $((0x5000 + i)) >/dev/null
	forge "$m" a.edpg.test $((40010 + i)) $((0x5000 + i))
done
# A real exchange: the gateway asks, the router's server answers.  The ring
# is read in order: once its address is in, every lie before it was read.
echo "good 300 20" >"$E2E_TMP/dns2.mode"
: >"$E2E_TMP/dns2.log"
bg in_ns "$R_NS" /usr/bin/python3 "$HOSTILE" serve 10.77.0.1 53 "$E2E_TMP/dns2.mode" "$E2E_TMP/dns2.log"
wait_for 5 grep -q ready "$E2E_TMP/dns2.log" || fail "second DNS server did not start"
got=$(ask a.edpg.test 40003 0x3333)
[ "$got" = 192.0.2.21 ] || fail "the gateway's question got '$got', want 192.0.2.21"
wait_for 5 in_all 192.0.2.21 2>/dev/null || { cat "$LOG"; fail "the snooper did not take the answer to a question"; }
logged "added 192.0.2.21 to cloud (a.edpg.test, snooped" || { cat "$LOG"; fail "no log line for the snooped answer"; }
no_lies "forged answers"
for p in 40001 40002; do
	[ "$(grep -c "port $p: it answers no question the gateway asked" "$LOG")" -eq 1 ] ||
		{ cat "$LOG"; fail "the answer to port $p was not refused as answering no question"; }
done
grep -q "port 4001[1-5]: it answers no question" "$LOG" &&
	{ cat "$LOG"; fail "an answer to a question asked was refused as answering none"; }
in_all 192.0.2.11 || fail "a good address went while forged answers came"
ok "snooper: 21 forged answers (other names, poisoning, CNAME loop, garbage, no question asked, wrong id or port) ignored, a real one taken"
stop_daemon

# ---- 4. WAN down at boot ---------------------------------------------------
kill -- -"$DNS_PID"
wait "$DNS_PID" 2>/dev/null || true
edp detach --all >/dev/null || fail "detach --all"
edpr attach lan0 >/dev/null 2>"$E2E_TMP/attach.err" ||
	{ cat "$E2E_TMP/attach.err"; fail "attach with the resolver unreachable"; }
for a in 192.0.2.11 192.0.2.12 192.0.2.21; do
	in_all $a || fail "cached $a not enforced after attach with the resolver down"
done
start_daemon
sleep 3
for a in 192.0.2.11 192.0.2.12 192.0.2.21; do
	in_all $a || { cat "$LOG"; fail "cached $a dropped by run with the resolver down"; }
done
logged "keeping its addresses" || { cat "$LOG"; fail "run did not say it keeps the cached addresses"; }
ok "WAN down at boot: cached addresses enforced by attach and kept by run"
mode good 300 30
: >"$DNSLOG"
bg in_ns "$R_NS" /usr/bin/python3 "$HOSTILE" serve 127.0.0.1 $PORT "$MODE" "$DNSLOG"
DNS_PID=$BG_PID
wait_for 30 in_all 192.0.2.31 2>/dev/null || { cat "$LOG"; fail "not refreshed once the resolver is back"; }
wait_for 5 in_all 192.0.2.32 2>/dev/null || { cat "$LOG"; fail "b.edpg.test not refreshed once the resolver is back"; }
for a in 192.0.2.11 192.0.2.12 192.0.2.21; do
	in_all $a || { cat "$LOG"; fail "$a within its expiry dropped by the refresh"; }
done
no_lies "refresh"
ok "resolver back: names refreshed (192.0.2.31, .32), addresses within their expiry kept"
stop_daemon
edp detach --all >/dev/null || fail "detach --all"
echo "PASS"
