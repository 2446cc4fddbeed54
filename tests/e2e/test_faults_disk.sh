#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# A full or read-only state directory during `gateway add`, `del` and
# `import`: the command fails saying which file, why and what to do; the
# live maps and the nft table are byte-identical, the gateways file too,
# and no temporary file is left.  Read-only commands keep working on a
# read-only state directory.  Once the space is back (or the directory
# writable) the same commands work and do change the filter.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
for c in bpftool nft; do
	command -v "$c" >/dev/null || skip "no $c"
done

topo_pair 00:40:9d:00:00:01
bpffs_private
# The state directory on its own small file system, to fill and to remount.
STATE_DIR=$E2E_TMP/state
mkdir -p "$STATE_DIR"
mount -t tmpfs -o size=256k,mode=0755 "${E2E_ID}state" "$STATE_DIR"
E2E_MOUNTS+=("$STATE_DIR")
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group local 10.77.0.1 fd77::1
allow edp-ssl,ntp to local
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
EOF

edp attach lan0 --mode native >/dev/null || fail "attach"
edp gateway add 00:40:9d:00:00:01 --name gw1 >/dev/null || fail "gateway add gw1"
edp gateway add 00:40:9d:00:00:02 --name gw2 >/dev/null || fail "gateway add gw2"
printf 'gateway 00:40:9d:00:00:21 name imp1\ngateway 00:40:9d:00:00:22 name imp2\n' >"$E2E_TMP/import.gw"
edp verify >/dev/null || fail "verify before the faults"

# The live policy, byte for byte: every policy map except the 262144-entry
# port table (no gateway command writes it), and the nft table with
# counters left out (traffic, not policy).
live() {
	for m in edpg_ctl edpg_config edpg_gateways edpg_services edpg_dst4 edpg_dst6 edpg_cidr4 edpg_cidr6; do
		echo "== $m"
		bpftool map dump pinned "$PIN_DIR/$m"
	done
	echo "== nft"
	in_ns "$R_NS" nft list table inet edpgate | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
}

# must_fail LABEL EXPECT...: the command fails with exit 1, its message
# names the gateways file and contains every EXPECT; nothing changed.
must_fail() {
	local label=$1 rc=0 out e
	shift 1
	live >"$E2E_TMP/live.before"
	cp "$STATE_DIR/gateways" "$E2E_TMP/gateways.before"
	out=$(edp "${CMD[@]}" 2>&1) || rc=$?
	[ $rc -eq 1 ] || fail "$label: exit $rc, want 1: $out"
	grep -qF "$STATE_DIR/gateways" <<<"$out" || fail "$label: the message does not name the file: $out"
	for e in "$@"; do
		grep -qF -- "$e" <<<"$out" || fail "$label: the message lacks '$e': $out"
	done
	live >"$E2E_TMP/live.after"
	cmp -s "$E2E_TMP/live.before" "$E2E_TMP/live.after" || {
		diff "$E2E_TMP/live.before" "$E2E_TMP/live.after" | head -20 >&2
		fail "$label: the live maps or the nft table changed"
	}
	cmp -s "$E2E_TMP/gateways.before" "$STATE_DIR/gateways" || fail "$label: the gateways file changed"
	[ -z "$(find "$STATE_DIR" -name '*.tmp.*')" ] || fail "$label: a temporary file is left"
	echo "       $label: $(grep -F "$STATE_DIR/gateways" <<<"$out" | head -1)"
}

# ---- 1. disk full -----------------------------------------------------
dd if=/dev/zero of="$STATE_DIR/fill" bs=4k 2>/dev/null && fail "the tmpfs did not fill up"
CMD=(gateway add 00:40:9d:00:00:99 --name gw9)
must_fail "add, disk full" "No space left on device" "nothing was changed" "free space"
CMD=(gateway del gw1)
must_fail "del, disk full" "No space left on device" "nothing was changed" "free space"
CMD=(gateway import "$E2E_TMP/import.gw")
must_fail "import, disk full" "No space left on device" "nothing was changed" "free space"
edp verify >/dev/null || fail "verify on a full state directory"
ok "disk full: add, del and import fail saying so; maps, nft table and gateways file unchanged"

rm "$STATE_DIR/fill"
live >"$E2E_TMP/live.before"
edp gateway add 00:40:9d:00:00:99 --name gw9 >/dev/null || fail "add after freeing space"
live >"$E2E_TMP/live.after"
cmp -s "$E2E_TMP/live.before" "$E2E_TMP/live.after" && fail "a working add did not change the live maps"
grep -q 00:40:9d:00:00:99 "$STATE_DIR/gateways" || fail "gw9 not in the gateways file"
ok "space freed: the same add works and changes the live maps"

# ---- 2. read-only -----------------------------------------------------
mount -o remount,ro "$STATE_DIR"
touch "$STATE_DIR/probe" 2>/dev/null && fail "the state directory is still writable"
CMD=(gateway add 00:40:9d:00:00:98 --name gw8)
must_fail "add, read-only" "Read-only file system" "nothing was changed" "remount it read-write"
CMD=(gateway del gw9)
must_fail "del, read-only" "Read-only file system" "nothing was changed" "remount it read-write"
CMD=(gateway import "$E2E_TMP/import.gw")
must_fail "import, read-only" "Read-only file system" "nothing was changed" "remount it read-write"
[ "$(edp -j gateway list | jq length)" -eq 3 ] || fail "gateway list on a read-only state directory"
edp verify >/dev/null || fail "verify on a read-only state directory"
ok "read-only: add, del and import fail saying so, nothing changed; list and verify work"

mount -o remount,rw "$STATE_DIR"
edp gateway del gw9 >/dev/null || fail "del after remounting read-write"
edp gateway import "$E2E_TMP/import.gw" >/dev/null || fail "import after remounting read-write"
[ "$(edp -j gateway list | jq length)" -eq 4 ] || fail "del + import did not land"
edp verify >/dev/null || fail "verify after the faults"
ok "writable again: del and import work, verify passes"
