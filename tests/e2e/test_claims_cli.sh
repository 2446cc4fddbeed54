#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# CLI claims of the README, each on a real interface:
#  - attach --max-gateways N sizes the maps (read back with bpftool) and
#    the N+1th gateway (add, import, apply) is refused with a clear error,
#    with the gateways file, the nft table and the maps unchanged;
#  - attach --mode auto takes native XDP where the driver has it (veth)
#    and generic where it has not (a bridge, where --mode native fails);
#  - with -j, errors of several commands are {"error": "..."} on stdout
#    (nothing else there), and plain text on stderr without -j;
#  - the lock in the state directory serialises changing commands: while
#    another process holds it, two `gateway add` block on it (the kernel's
#    /proc/locks shows them waiting on the lock's inode), the gateways file
#    does not change, commands that only read the maps still answer; released, both
#    changes land, none lost.
. "$(dirname "$0")/lib.sh"
require_root
for c in jq bpftool nft flock; do command -v "$c" >/dev/null || skip "no $c"; done

GW=00:40:9d:00:00:01
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
pair_rules "$RULES"
topo_pair "$GW"
bpffs_private
ip -n "$R_NS" link add br0 type bridge
ip -n "$R_NS" link set br0 up

# ---- --mode auto ------------------------------------------------------------
# xdp_attach IFACE: the kernel's attach mode of its XDP program (1 driver, 2 generic)
xdp_attach() { ip -n "$R_NS" -j -d link show "$1" | jq -r '.[0].xdp.mode // "none"'; }
out=$(edp -j attach lan0 --mode auto --max-gateways 3) || fail "attach lan0 --mode auto: $out"
[ "$(jq -r .xdp_mode <<<"$out")" = native ] || fail "auto on a veth: $out"
[ "$(xdp_attach lan0)" = 1 ] || fail "lan0 not in driver mode: $(ip -n "$R_NS" -d link show lan0)"
set +e
out=$(edp attach br0 --mode native 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "native XDP on a bridge accepted (rc=$rc): $out"
[ "$(xdp_attach br0)" = none ] || fail "a failed attach left XDP on br0"
out=$(edp -j attach br0 --mode auto) || fail "attach br0 --mode auto: $out"
[ "$(jq -r .xdp_mode <<<"$out")" = generic ] || fail "auto on a bridge: $out"
[ "$(xdp_attach br0)" = 2 ] || fail "br0 not in generic mode: $(ip -n "$R_NS" -d link show br0)"
[ "$(edp -j status | jq -c '[.interfaces[] | [.name, .xdp_mode]]')" = '[["lan0","native"],["br0","generic"]]' ] ||
	fail "status: $(edp -j status | jq -c .interfaces)"
ok "--mode auto: native on the veth, generic on the bridge (where native is refused)"

# ---- --max-gateways -------------------------------------------------------
[ "$(edp -j status | jq .gateway_capacity)" = 3 ] || fail "status capacity: $(edp -j status | jq .gateway_capacity)"
max_entries() { bpftool -j map show pinned "$PIN_DIR/$1" | jq .max_entries; }
# Two policy generations of gateway records; one counter slot each.
[ "$(max_entries edpg_gateways)" = 6 ] && [ "$(max_entries edpg_gw_stats)" = 3 ] &&
	[ "$(max_entries edpg_gw_cold)" = 3 ] ||
	fail "maps not sized for 3: gateways $(max_entries edpg_gateways), gw_stats $(max_entries edpg_gw_stats), gw_cold $(max_entries edpg_gw_cold)"
for i in 1 2 3; do
	edp gateway add "00:40:9d:00:00:0$i" >/dev/null || fail "gateway $i of 3 refused"
done
snapshot() {
	{
		cat "$STATE_DIR/gateways"
		bpftool -j map dump pinned "$PIN_DIR/edpg_gateways" | jq -S -c 'sort_by(.key)'
		# every set's elements (the rules' counters move with traffic)
		in_ns "$R_NS" nft -j list table inet edpgate |
			jq -S -c '[.nftables[] | select(.set) | .set | {name, elem: ((.elem // []) | sort)}]'
	} | sha256sum
}
before=$(snapshot)
# refused CMD...: exit 1 and the capacity error, nothing changed
refused() {
	local rc=0 out
	out=$(edp "$@" 2>&1) || rc=$?
	[ $rc -eq 1 ] || fail "$* beyond the capacity: rc=$rc $out"
	grep -q "room for 3 (--max-gateways 3); nothing was changed" <<<"$out" || fail "$*: unclear error: $out"
	[ "$(snapshot)" = "$before" ] || fail "$* beyond the capacity changed the file, the maps or the table"
}
refused gateway add 00:40:9d:00:00:04
printf 'gateway 00:40:9d:00:01:01\n' >"$E2E_TMP/import"
refused gateway import "$E2E_TMP/import"
cp "$STATE_DIR/gateways" "$E2E_TMP/gateways.3"
echo "gateway 00:40:9d:00:01:02" >>"$STATE_DIR/gateways"
before_apply=$before
before=$(snapshot)
refused apply
edp verify >/dev/null 2>&1 || :	# (the file has 4: verify says so; the sinks are what count)
cp "$E2E_TMP/gateways.3" "$STATE_DIR/gateways"
[ "$(snapshot)" = "$before_apply" ] || fail "apply beyond the capacity touched the maps or the table"
edp verify >/dev/null || fail "verify after the refusals: $(edp verify 2>&1)"
edp gateway del 00:40:9d:00:00:03 >/dev/null || fail "gateway del at capacity"
edp gateway add 00:40:9d:00:00:04 >/dev/null || fail "a freed slot is not reused"
ok "--max-gateways 3: maps sized 6/3/3; a 4th by add, import, apply refused with nothing changed; a freed slot is reused"

# ---- -j errors --------------------------------------------------------------
# json_error CMD...: fails, stdout is only {"error": "..."} objects, stderr
# has no JSON; without -j the same message is on stderr and stdout is empty
json_error() {
	local o e rc=0
	o=$(edp -j "$@" 2>"$E2E_TMP/err") || rc=$?
	[ $rc -ne 0 ] || fail "-j $*: exit 0"
	jq -e -s 'length >= 1 and all(.[]; keys == ["error"] and (.error | type == "string" and length > 10))' \
		<<<"$o" >/dev/null 2>&1 || fail "-j $*: stdout is not {\"error\": ...}: '$o'"
	grep -q '"error"' "$E2E_TMP/err" && fail "-j $*: JSON on stderr"
	e=$(jq -r -s '.[0].error' <<<"$o")
	o=$(edp "$@" 2>"$E2E_TMP/err") && fail "$*: exit 0 without -j"
	[ -z "$o" ] || fail "$*: text error on stdout: $o"
	grep -qF "edpgate: $e" "$E2E_TMP/err" || fail "$*: stderr lacks '$e': $(cat "$E2E_TMP/err")"
	echo "    $* -> $e"
}
json_error gateway add 01:00:5e:00:00:01
json_error gateway show nosuch
json_error gateway del 00:40:9d:00:0e:0e
json_error doctor nosuch
json_error detach nosuch0
json_error attach nosuch0
json_error stats nosuch
json_error explain nosuch tcp 10.77.0.1 3199
json_error frobnicate
json_error gateway add 00:40:9d:00:00:05
echo 'frobnicate' >"$E2E_TMP/bad.rules"
json_error check "$E2E_TMP/bad.rules"
ok "-j errors: {\"error\": ...} on stdout for 11 commands, text on stderr without -j"

# ---- the lock ---------------------------------------------------------------
# Another process holds the lock until the test writes to a FIFO.
mkfifo "$E2E_TMP/release"
bg flock "$STATE_DIR/lock" sh -c 'echo held >"$1"; read -r _ <"$2"' sh "$E2E_TMP/held" "$E2E_TMP/release"
HOLDER=$BG_PID
for _ in $(seq 50); do [ -s "$E2E_TMP/held" ] && break; sleep 0.1; done
[ -s "$E2E_TMP/held" ] || fail "could not take the lock"
ino=$(stat -c %i "$STATE_DIR/lock")
# nsenter itself, not the edp function: a backgrounded function is a
# subshell, and $! would not be the process that waits.
edp_bg() {
	nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" "$@" >/dev/null 2>&1 &
}
edp_bg gateway del 00:40:9d:00:00:04
A_PID=$!
# waiting PID: the kernel lists PID as blocked on the lock's inode
waiting() { grep -E -q "^[0-9]+: +-> FLOCK +ADVISORY +WRITE +$1 [0-9a-f:]+:$ino " /proc/locks; }
for _ in $(seq 50); do waiting $A_PID && break; sleep 0.1; done
waiting $A_PID || { cat /proc/locks; fail "gateway del is not waiting on the lock"; }
edp_bg gateway add 00:40:9d:00:00:06 --name six
B_PID=$!
for _ in $(seq 50); do waiting $B_PID && break; sleep 0.1; done
waiting $B_PID || { cat /proc/locks; fail "gateway add is not waiting on the lock"; }
grep -q "^gateway 00:40:9d:00:00:04" "$STATE_DIR/gateways" && ! grep -q 00:40:9d:00:00:06 "$STATE_DIR/gateways" ||
	fail "the gateways file changed while the lock was held"
kill -0 $A_PID && kill -0 $B_PID || fail "a blocked command exited"
# Read-only commands do not take the lock.
# Commands that only read the maps do not take it (gateway list/show and
# verify do: they read the files a writer replaces).
for cmd in status stats doctor "dst list"; do
	# shellcheck disable=SC2086
	timeout 10 nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" -j $cmd >/dev/null || fail "$cmd blocked by the lock (or failed)"
done
echo >"$E2E_TMP/release"
wait $A_PID || fail "gateway del failed after the lock was released"
wait $B_PID || fail "gateway add failed after the lock was released"
wait "$HOLDER" 2>/dev/null || :
! grep -q 00:40:9d:00:00:04 "$STATE_DIR/gateways" && grep -q "^gateway 00:40:9d:00:00:06 name six" "$STATE_DIR/gateways" ||
	fail "after the release: not both changes in the file: $(cat "$STATE_DIR/gateways")"
edp verify >/dev/null || fail "verify after the serialised changes"
ok "lock: del and add wait on it (/proc/locks), the file unchanged meanwhile, read-only commands answer, both land after the release"

# Many writers at once: each reads, changes and rewrites the gateways file,
# so only the lock keeps one from overwriting another's change.
edp gateway del six >/dev/null
edp detach --all >/dev/null
pids=()
for i in $(seq 8); do
	edp gateway add "00:40:9d:00:02:0$i" >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent gateway add failed"; done
n=$(grep -c '^gateway 00:40:9d:00:02:0' "$STATE_DIR/gateways")
[ "$n" = 8 ] || fail "8 concurrent adds, $n in the file: $(cat "$STATE_DIR/gateways")"
ok "8 concurrent gateway adds: all 8 in the file"
