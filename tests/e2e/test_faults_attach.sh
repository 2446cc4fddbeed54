#!/usr/bin/env bash
# Faults around the attachment, with real traffic (an enrolled gateway and
# an unknown MAC behind the same veth): one map pin removed, the link pin
# removed, every pin removed, the interface down and up, the interface
# deleted and re-created, the link detached behind edpgate's back, another
# XDP program in its place.  After each fault `status` (text and -j) and
# `verify` name exactly what is wrong; then `attach` restores it, and in a
# second round the daemon (`edpgate run`) does, logging what it found and
# what it restored; afterwards the unknown MAC is blocked again, the
# gateway passes and verify is clean.
#
# Enforcement is XDP only (the nft chains stay empty), so traffic shows
# whether the XDP program really filters: while it is gone the unknown MAC
# gets through.
. "$(dirname "$0")/lib.sh"
require_root
for c in socat jq bpftool setpriv; do command -v "$c" >/dev/null || skip "no $c"; done

GW=00:40:9d:00:00:01
UNK=00:40:9d:00:00:99
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
LOG=$E2E_TMP/run.log
pair_rules "$RULES"

topo_pair "$GW"
netns_add U_NS u
bpffs_private

# The unknown MAC: a macvlan on the host's eth0, moved into its own netns
# (same wire, its own address).  Re-created with the veth.
add_unknown() {
	ip -n "$H_NS" link add "${E2E_ID}u" link eth0 type macvlan mode bridge
	ip -n "$H_NS" link set "${E2E_ID}u" address "$UNK" netns "$U_NS"
	ip -n "$U_NS" addr add 10.77.0.3/24 dev "${E2E_ID}u"
	ip -n "$U_NS" link set "${E2E_ID}u" up
}
add_unknown

# The veth again, same names, addresses and MAC (after `ip link del lan0`).
recreate_pair() {
	ip link add "${E2E_ID}l" netns "$R_NS" type veth peer name "${E2E_ID}h" netns "$H_NS"
	ip -n "$R_NS" link set "${E2E_ID}l" name lan0
	ip -n "$H_NS" link set "${E2E_ID}h" name eth0
	ip -n "$H_NS" link set eth0 address "$GW"
	ip -n "$R_NS" addr add 10.77.0.1/24 dev lan0
	ip -n "$H_NS" addr add 10.77.0.2/24 dev eth0
	ip -n "$R_NS" link set lan0 up
	ip -n "$H_NS" link set eth0 up
	add_unknown
}

bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for _ in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "no baseline connectivity (gateway)"
tcp_ok "$U_NS" 10.77.0.1 3199 || fail "no baseline connectivity (unknown MAC)"

# filtered: the gateway passes, the unknown MAC is dropped.
filtered() {
	tcp_ok "$H_NS" 10.77.0.1 3199 || fail "$1: the enrolled gateway cannot reach 3199"
	tcp_ok "$U_NS" 10.77.0.1 3199 && fail "$1: the unknown MAC reached 3199"
	ok "$1: gateway passes, unknown MAC dropped"
}
# unfiltered: the fault really took the XDP program off the interface.
unfiltered() {
	tcp_ok "$U_NS" 10.77.0.1 3199 || fail "$1: the unknown MAC is still dropped (fault had no effect?)"
}

# expect_fault WHAT PHRASE JQ: status and verify report PHRASE; status -j
# satisfies JQ; verify exits 1 and -j lists the same problem.
expect_fault() {
	local what=$1 phrase=$2 jqx=$3 out rc
	out=$(edp status 2>&1) || fail "$what: status failed: $out"
	grep -qF -- "$phrase" <<<"$out" || fail "$what: status does not say '$phrase':
$out"
	edp -j status | jq -e "$jqx" >/dev/null || fail "$what: status -j fails '$jqx':
$(edp -j status)"
	set +e
	out=$(edp verify 2>&1); rc=$?
	set -e
	[ $rc -eq 1 ] || fail "$what: verify exit $rc, want 1:
$out"
	grep -qF -- "$phrase" <<<"$out" || fail "$what: verify does not say '$phrase':
$out"
	out=$(edp -j verify 2>/dev/null) || true
	jq -e --arg p "$phrase" \
		'.in_sync == false and ([.differences[].what | select(contains($p))] | length) == 1' <<<"$out" >/dev/null ||
		fail "$what: verify -j does not list '$phrase'"
	ok "$what: status and verify say \"$phrase\""
}

healthy() {
	edp verify >/dev/null 2>&1 || fail "$1: verify fails after the restore: $(edp verify 2>&1)"
	edp -j status | jq -e '.healthy and (.problems | length == 0) and
		.interfaces[0].link == "ok" and .interfaces[0].snooper and .interfaces[0].snooper_questions and
		.interfaces[0].up' >/dev/null ||
		fail "$1: status not healthy: $(edp status)"
}

# restore_attach WHAT PHRASE...: attach says it restored each PHRASE.
restore_attach() {
	local what=$1 out
	shift
	out=$(edp attach lan0 2>&1) || fail "$what: attach did not restore: $out"
	for p in "$@"; do
		grep -qF -- "$p" <<<"$out" || fail "$what: attach does not say it restored '$p': $out"
	done
	healthy "$what"
	filtered "$what, restored by attach"
}

edp attach lan0 --mode native --enforce xdp >/dev/null || fail "attach"
edp gateway add "$GW" --name gw1 >/dev/null || fail "gateway add"
filtered "attached"
healthy "attached"
set +e
out=$(edp attach lan0 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "lan0 is already attached and nothing is missing" <<<"$out" ||
	fail "a double attach was not refused (rc=$rc): $out"
ok "a true double attach is refused"

link_id() { bpftool -j link show pinned "$PIN_DIR/link_lan0" | jq .id; }

# ---- restored by attach -------------------------------------------------

# 1. One map pin removed: the program still runs with the map; attach pins
#    it again from the running program (nothing lost).
rm "$PIN_DIR/edpg_dst4"
filtered "map pin removed (still enforcing)"
expect_fault "map pin removed" "map pin edpg_dst4 missing" \
	'.loaded and (.healthy | not) and .problems[0].code == "map_pin_missing"'
restore_attach "map pin removed" "map pin edpg_dst4"

# 2. The link pin removed: the link is gone, so is the filter.
rm "$PIN_DIR/link_lan0"
unfiltered "link pin removed"
expect_fault "link pin removed" \
	"lan0: recorded as attached (native) but no XDP link is pinned; run \`edpgate attach lan0\`" \
	'.interfaces[0].link == "not_pinned" and (.interfaces[0].linked | not) and .problems[0].code == "link_not_pinned"'
restore_attach "link pin removed" "XDP link on lan0 (native)"

# 3. Every pin removed: program, maps and link gone; attach loads the
#    program again and refills the maps (gateway included) from the files.
rm "$PIN_DIR"/*
unfiltered "all pins removed"
expect_fault "all pins removed" "nothing is pinned in $PIN_DIR (the pins were removed)" \
	'(.loaded | not) and .problems[0].code == "pins_gone" and .interfaces[0].link == "not_pinned"'
restore_attach "all pins removed" "program and maps loaded again" "XDP link on lan0 (native)" "DNS snooper on lan0"
edp -j gateway show gw1 | jq -e .live >/dev/null || fail "gw1 not live after the reload"

# 4. Down and up: the link survives; status and verify say it is down.
ip -n "$R_NS" link set lan0 down
expect_fault "lan0 down" "lan0 is down; the filter stays attached" \
	'(.interfaces[0].up | not) and .interfaces[0].link == "ok" and .problems[0].code == "iface_down"'
ip -n "$R_NS" link set lan0 up
healthy "lan0 up again"
filtered "lan0 up again (nothing to restore)"

# 5. Deleted and re-created: the link turns defunct (ifindex 0).
old_ifindex=$(edp -j status | jq '.interfaces[0].ifindex')
ip -n "$R_NS" link del lan0
expect_fault "lan0 deleted" "lan0 does not exist: interface was deleted (ifindex $old_ifindex gone)" \
	'(.interfaces[0].exists | not) and .problems[0].code == "iface_missing"'
set +e
out=$(edp attach lan0 2>&1); rc=$?
set -e
[ $rc -ne 0 ] && grep -qF "no interface named 'lan0'" <<<"$out" || fail "attach of a deleted interface: rc=$rc $out"
recreate_pair
unfiltered "lan0 re-created"
expect_fault "lan0 re-created" "link to lan0 is defunct: interface was deleted (ifindex $old_ifindex gone" \
	'.interfaces[0].link == "defunct" and .interfaces[0].ifindex != '"$old_ifindex"' and (.interfaces[0].snooper | not) and .problems[0].code == "link_defunct_deleted"'
restore_attach "lan0 re-created" "XDP link on lan0 (native)" "DNS snooper on lan0"
for _ in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done

# 6. Detached behind our back: the pinned link is defunct.  (Detaching
#    through netlink is refused while a link holds the hook.)
in_ns "$R_NS" bpftool net detach xdp dev lan0 2>/dev/null && fail "netlink detach of a bpf_link succeeded"
id=$(link_id)
bpftool link detach id "$id"
unfiltered "link detached"
expect_fault "link detached" "link to lan0 is defunct: the program was detached behind edpgate's back (link id $id)" \
	'.interfaces[0].link == "defunct" and .interfaces[0].link_id == '"$id"' and .problems[0].code == "link_defunct_detached"'
restore_attach "link detached" "XDP link on lan0 (native)"

# 7. The snooper's question program unpinned: nothing else holds it by a
#    pin, so attach loads the snooper again, both sides.
rm "$PIN_DIR/snoop_prog_q"
expect_fault "question program pin removed" "snooper pin snoop_prog_q missing" \
	'.problems[0].code == "snooper_pin_missing" and .interfaces[0].snooper_questions'
restore_attach "question program pin removed" "DNS snooper loaded again" "DNS snooper on lan0"
[ -e "$PIN_DIR/snoop_prog_q" ] || fail "attach did not pin the question program again"

# 8. The snooper's ingress (question) filter deleted by hand: without it
#    answers cannot be matched to questions.
snoop_q_del() { in_ns "$R_NS" tc filter del dev lan0 ingress pref $((0xedb0)); }
snoop_q_del
expect_fault "question side detached" "lan0: the DNS snooper's question side is not attached" \
	'.interfaces[0].snooper and (.interfaces[0].snooper_questions | not) and .problems[0].code == "snooper_q_missing"'
restore_attach "question side detached" "DNS snooper on lan0"

# Another tool's XDP program on lan0.  iproute2 creates its tc/globals pin
# directory on the bpffs it finds, so it runs with a throwaway bpffs of its
# own mount namespace: the host's /sys/fs/bpf stays as it was.
foreign_xdp() {
	in_ns "$R_NS" unshare -m --propagation private sh -c \
		'mount -t bpf bpf /sys/fs/bpf && exec ip link set lan0 xdpdrv obj "$1" sec xdp' \
		sh "$ROOT/build/bpf/empty.bpf.o"
}

# 9. Another XDP program in our place: reported, attach refuses to replace
#    it, and restores once it is removed.
bpftool link detach id "$(link_id)"
foreign_xdp
foreign=$(ip -n "$R_NS" -j -d link show lan0 | jq '.[0].xdp.prog.id')
expect_fault "another XDP program" "lan0 runs another XDP program (id $foreign" \
	'.interfaces[0].foreign_prog_id == '"$foreign"' and ([.problems[].code] | index("foreign_xdp")) != null'
set +e
out=$(edp attach lan0 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -qF "lan0 runs another XDP program (id $foreign); remove it" <<<"$out" ||
	fail "attach over another program: rc=$rc $out"
[ "$(ip -n "$R_NS" -j -d link show lan0 | jq '.[0].xdp.prog.id')" = "$foreign" ] || fail "attach replaced the other program"
ok "another XDP program: attach refuses to replace it"
in_ns "$R_NS" ip link set lan0 xdp off
restore_attach "another XDP program removed" "XDP link on lan0 (native)"

# ---- restored by the daemon ---------------------------------------------

# daemon_restores WHAT PHRASE...: the daemon logs each PHRASE (what it
# found, what it restored), verify passes again, traffic is filtered.
daemon_restores() {
	local what=$1
	shift
	for p in "$@"; do
		wait_for 10 logged "$p" || { cat "$LOG"; fail "$what: the daemon did not log '$p'"; }
	done
	wait_for 10 edp verify >/dev/null 2>&1 || { cat "$LOG"; fail "$what: verify fails: $(edp verify 2>&1)"; }
	healthy "$what"
	filtered "$what, restored by the daemon"
	: >"$LOG"
}
gw_packets() { edp -j stats gw1 | jq '[.gateways[0].allowed[] | .packets] | add'; }

# Only CAP_BPF and CAP_NET_ADMIN, what the daemon keeps after start-up:
# every restore below must work without loading a program (CAP_PERFMON)
# or reaching objects by id (CAP_SYS_ADMIN).
setsid nsenter --net="/var/run/netns/$R_NS" setpriv --bounding-set -all,+bpf,+net_admin "$EDPGATE" -v --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
	--rules "$RULES" run >>"$LOG" 2>&1 &	# appending: the test empties it
D_PID=$!
E2E_PIDS+=("$D_PID")
wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "daemon did not start"; }
: >"$LOG"

rm "$PIN_DIR/edpg_dst4"
daemon_restores "map pin removed" "map pin edpg_dst4 missing" "restored map pin edpg_dst4"

rm "$PIN_DIR/snoop_prog_q"
daemon_restores "question program pin removed" "restored snooper pin snoop_prog_q"

snoop_q_del
daemon_restores "question side detached" "the DNS snooper's question side is not attached" \
	"restored DNS snooper on lan0"

rm "$PIN_DIR/link_lan0"
daemon_restores "link pin removed" "restored XDP link on lan0 (native)"

# The daemon holds the instance: pinned again, gateways and counters kept.
before=$(gw_packets)
rm "$PIN_DIR"/*
daemon_restores "all pins removed" "restored XDP link on lan0 (native)"
after=$(gw_packets)
[ "$after" -gt "$before" ] || fail "counters lost with the pins: $before packets before, $after after"
ok "all pins removed: the daemon's instance pinned again, counters kept ($before -> $after packets)"

ip -n "$R_NS" link set lan0 down
wait_for 10 logged "lan0 is down; the filter stays attached" || { cat "$LOG"; fail "daemon did not log lan0 down"; }
ip -n "$R_NS" link set lan0 up
daemon_restores "lan0 down and up" "resolved: lan0 is down"

old_ifindex=$(edp -j status | jq '.interfaces[0].ifindex')
ip -n "$R_NS" link del lan0
wait_for 10 logged "lan0 does not exist: interface was deleted (ifindex $old_ifindex gone)" ||
	{ cat "$LOG"; fail "daemon did not log lan0 deleted"; }
recreate_pair
daemon_restores "lan0 re-created" "restored XDP link on lan0 (native)" "restored DNS snooper on lan0" \
	"resolved: lan0 does not exist"
for _ in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done

id=$(link_id)
bpftool link detach id "$id"
daemon_restores "link detached" "link to lan0 is defunct: the program was detached behind edpgate's back (link id $id)" \
	"restored XDP link on lan0 (native)"

# Another program in our place: logged, left alone (the daemon may win the
# race to the free hook: then detach again).
for _ in $(seq 5); do
	bpftool link detach id "$(link_id)"
	foreign_xdp 2>/dev/null && break
done
foreign=$(ip -n "$R_NS" -j -d link show lan0 | jq '.[0].xdp.prog.id')
[ "$(ip -n "$R_NS" -j -d link show lan0 | jq -r '.[0].xdp.prog.name')" = edpgate_empty ] ||
	fail "could not put another XDP program on lan0"
wait_for 10 logged "lan0 runs another XDP program (id $foreign" || { cat "$LOG"; fail "daemon did not log the other program"; }
sleep 2.5	# two checks of the daemon
[ "$(ip -n "$R_NS" -j -d link show lan0 | jq '.[0].xdp.prog.id')" = "$foreign" ] || fail "the daemon replaced the other program"
ok "another XDP program: logged and left alone by the daemon"
in_ns "$R_NS" ip link set lan0 xdp off
daemon_restores "another XDP program removed" "restored XDP link on lan0 (native)"

kill -TERM "$D_PID"
rc=0
wait "$D_PID" || rc=$?
[ $rc -eq 0 ] || { cat "$LOG"; fail "daemon exit status $rc on SIGTERM"; }
ok "daemon exits cleanly"
