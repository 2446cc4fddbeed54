#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Names that stay right, in the lab (scripts/lab.sh), with edpgate in the
# router's netns on a private bpffs:
#  1. snooping: a second dnsmasq on the router (10.99.0.2) hands out a
#     DIFFERENT address for 0.idigi.pool.ntp.org than the one edpgate
#     resolved (like a pool does); the gateway's own lookup, then NTP to
#     that address, works only because `edpgate run` snooped the answer
#     (shipped rules file);
#  2. SIGTERM leaves the filter enforcing;
#  3. cache restored with the WAN down: detach --all, attach with the
#     resolver unreachable and wan0 down -> the cached (snooped) address
#     is enforced;
#  4. resolver stopped -> resolved addresses kept until max(ttl, min-ttl) +
#     grace, then removed; an address in use by a live NTP exchange
#     outlives its TTL (small TTLs in a test rules file);
#  5. SIGHUP with a broken rules file keeps the old policy; a good one is
#     taken.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
for c in dnsmasq chronyd openssl socat nft; do
	command -v "$c" >/dev/null || skip "no $c"
done

export LAB=nm$$ LAB_VLAN=0
LAB_SH=$ROOT/scripts/lab.sh
lab_cleanup() {
	set +e
	[ -n "${D_PID:-}" ] && kill "$D_PID" 2>/dev/null && wait "$D_PID" 2>/dev/null
	[ -n "${DNS2_PID:-}" ] && kill "$DNS2_PID" 2>/dev/null && wait "$DNS2_PID" 2>/dev/null
	bash "$LAB_SH" down >/dev/null 2>&1
	e2e_cleanup
}
trap lab_cleanup EXIT
bash "$LAB_SH" up >/dev/null || fail "lab up"
. "$ROOT/scripts/lab-probe.sh"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cp "$ROOT/rules/devicecloud.rules" "$RULES"
RESOLVER=10.99.0.1
POOL=0.idigi.pool.ntp.org
LOG=$E2E_TMP/run.log

edp() {
	lab_exec router "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" --resolver "$RESOLVER" "$@"
}
# (Output captured first: grep -q closing the pipe early would fail it.)
in_set() {
	local out
	out=$(lab_exec router nft list set inet edpgate g_ntp_v4 2>/dev/null) || return 1
	grep -qw -- "$1" <<<"$out"
}
not_in_set() { ! in_set "$1"; }
start_daemon() {
	: >"$LOG"
	# nsenter execs edpgate: $! is the daemon itself, for the signals.
	nsenter --net="/var/run/netns/$LAB-router" "$EDPGATE" -v --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" --resolver "$RESOLVER" run >"$LOG" 2>&1 &
	D_PID=$!
	wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "daemon did not start"; }
}
stop_daemon() {
	kill -TERM "$D_PID"
	local rc=0
	wait "$D_PID" || rc=$?
	[ $rc = 0 ] || { cat "$LOG"; fail "daemon exit status $rc on SIGTERM"; }
	D_PID=
}

# The second DNS server: the pool name answers another address (the
# cloud's .99 also runs the NTP server), with a short TTL; 1. and 2.idigi
# get addresses (.12, .13: NTP runs on every cloud address) that no answer
# with the lab's 60 s TTL ever gave to the ntp group.
start_dns2() {
	cat >"$E2E_TMP/dns2.conf" <<-EOF2
	no-resolv
	no-hosts
	bind-interfaces
	listen-address=10.99.0.2
	port=53
	local-ttl=2
	local=/#/
	pid-file=
	host-record=$POOL,198.51.100.99
	host-record=1.idigi.pool.ntp.org,198.51.100.12
	host-record=2.idigi.pool.ntp.org,198.51.100.13
	EOF2
	nsenter --net="/var/run/netns/$LAB-router" dnsmasq --keep-in-foreground --conf-file="$E2E_TMP/dns2.conf" \
		>"$E2E_TMP/dns2.log" 2>&1 &
	DNS2_PID=$!
	wait_for 5 lab_resolve router $POOL >/dev/null 2>&1 || true
	LAB_DNS=10.99.0.2 wait_for 5 lab_resolve router $POOL >/dev/null ||
		fail "second dnsmasq did not come up"
}
lab_exec router ip addr add 10.99.0.2/24 dev lan0
start_dns2

# ---- 1. snooping (shipped rules) --------------------------------------
edp attach lan0 >/dev/null || fail "attach"
edp gateway add 00:40:9d:00:00:01 --name gw1 >/dev/null || fail "gateway add"
in_set 198.51.100.21 || fail "edpgate did not resolve $POOL to .21 itself"
in_set 198.51.100.99 && fail ".99 allowed before any answer carried it"
tc_out=$(lab_exec router tc filter show dev lan0 egress)
grep -q edpgate_snoop <<<"$tc_out" || fail "no snooper on lan0 egress"
start_daemon
probe_ntp gw1 198.51.100.99 && fail "NTP to .99 passed before the gateway's lookup"
got=$(LAB_DNS=10.99.0.2 lab_resolve gw1 $POOL) || fail "gateway lookup failed"
[ "$got" = 198.51.100.99 ] || fail "gateway got '$got', want 198.51.100.99"
wait_for 3 in_set 198.51.100.99 || { cat "$LOG"; fail "snooped address not in the nft set"; }
probe_ntp gw1 198.51.100.99 || fail "NTP to the snooped address blocked"
logged "added 198.51.100.99 to ntp ($POOL, snooped, ttl 2s)" ||
	{ cat "$LOG"; fail "no log line for the snooped address"; }
ok "gateway's own lookup then NTP works because the answer was snooped"
# The daemon writes the cache at most once a second.
dst_has_snooped() {
	local out
	out=$(edp -j dst list 2>/dev/null)
	grep -q '"address":"198.51.100.99","source":"snooped"' <<<"$out"
}
wait_for 3 dst_has_snooped ||
	fail "dst list does not show the snooped address"
edp verify >/dev/null || fail "verify: BPF and nft disagree after the snooped add"
ok "dst list shows it as snooped; verify passes"

stop_daemon
probe_ntp gw1 198.51.100.99 || fail "filter stopped allowing after SIGTERM"
probe_tcp rogue 198.51.100.10 3199 && fail "rogue passes after SIGTERM"
ok "SIGTERM: daemon exits 0, filter keeps enforcing"

# ---- 3. cache restored with the WAN down ------------------------------
edp detach --all >/dev/null || fail "detach --all"
tc_out=$(lab_exec router tc filter show dev lan0 egress)
grep -q edpgate_snoop <<<"$tc_out" && fail "detach left the snooper on lan0"
lab_exec router ip link set wan0 down
RESOLVER=127.0.0.1:1 edp attach lan0 >/dev/null 2>"$E2E_TMP/attach.err" ||
	{ cat "$E2E_TMP/attach.err"; fail "attach with the resolver unreachable"; }
in_set 198.51.100.99 || fail "cached snooped address not enforced after attach with WAN down"
in_set 198.51.100.21 || fail "cached resolved address not enforced after attach with WAN down"
lab_exec router ip link set wan0 up
lab_exec router ip route add default dev wan0 2>/dev/null || true
wait_for 5 probe_ntp gw1 198.51.100.99 || fail "NTP to the cached address blocked"
ok "WAN down + resolver unreachable: yesterday's addresses enforced"

# ---- 4. expiry with small TTLs ----------------------------------------
sed -e 's/^group ntp grace 2048/group ntp min-ttl 1 grace 5/' \
	"$ROOT/rules/devicecloud.rules" >"$RULES"
grep -q 'min-ttl 1 grace 5' "$RULES" || fail "test rules not written"
RESOLVER=10.99.0.2
start_daemon
wait_for 5 in_set 198.51.100.12 || { cat "$LOG"; fail "1.idigi not resolved via dns2"; }
wait_for 5 in_set 198.51.100.13 || fail "2.idigi not resolved via dns2"
# A live NTP exchange with .23 for the whole window; nothing talks to .22.
(for i in $(seq 14); do probe_ntp gw1 198.51.100.13 >/dev/null 2>&1; sleep 0.5; done) &
NTP_PID=$!
E2E_PIDS+=("$NTP_PID")
kill "$DNS2_PID"; wait "$DNS2_PID" 2>/dev/null; DNS2_PID=
t0=$(date +%s)
sleep 3
in_set 198.51.100.12 || fail ".12 removed before max(ttl, min-ttl) + grace"
ok "resolver stopped: address kept within its expiry"
wait_for 10 not_in_set 198.51.100.12 ||
	fail ".12 never expired"
t1=$(date +%s)
[ $((t1 - t0)) -le 12 ] || fail ".12 expired after $((t1 - t0)) s, want <= ttl+grace"
logged "removed 198.51.100.12 from ntp (1.idigi.pool.ntp.org, expired)" ||
	fail "no log line for the expiry"
ok "resolver stopped: address removed after expiry + grace ($((t1 - t0)) s)"
# .13 was resolved with .12 and would have gone with it; two more seconds.
sleep 2
in_set 198.51.100.13 || { cat "$LOG"; fail "address in use expired with its TTL"; }
probe_ntp gw1 198.51.100.13 || fail "NTP to the address in use blocked"
ok "address in use by a live NTP exchange outlives its TTL"
wait "$NTP_PID" 2>/dev/null || true

# ---- 5. SIGHUP ---------------------------------------------------------
cp "$RULES" "$E2E_TMP/good.rules"
echo "group broken min-ttl nope" >>"$RULES"
kill -HUP "$D_PID"
wait_for 5 logged "keeping the old policy" || { cat "$LOG"; fail "broken SIGHUP not reported"; }
kill -0 "$D_PID" || fail "daemon died on a broken rules file"
probe_tls gw1 198.51.100.10 || fail "old policy not kept after a broken SIGHUP"
probe_ntp gw1 198.51.100.13 || fail "NTP blocked after a broken SIGHUP"
ok "SIGHUP with a broken rules file keeps the old policy"
sed -e 's/^allow ntp to ntp$//' "$E2E_TMP/good.rules" >"$RULES"
kill -HUP "$D_PID"
wait_for 5 logged "reloaded:" || { cat "$LOG"; fail "good SIGHUP not taken"; }
probe_ntp gw1 198.51.100.13 && fail "new policy (no NTP) not enforced after SIGHUP"
ok "SIGHUP with a good rules file takes the new policy"
stop_daemon
edp detach --all >/dev/null || fail "detach --all"
echo "PASS"
