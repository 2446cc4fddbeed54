#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# kill -9 at random points of `edpgate apply` and of `edpgate run`:
#  - each enforcement point (the XDP policy maps' active generation, read
#    with bpftool; the nft table, read with nft -j) holds the old policy or
#    the new one, never a mix;
#  - apply swaps nft first, then the BPF generation, so a kill between the
#    two leaves nft new and XDP old (each whole): the restart (apply run
#    again, or the daemon started again) re-pushes both and `verify`
#    passes;
#  - the state files parse and temporary files of killed writers go.
# Where the kills landed is printed: before any change, between the nft
# transaction and the generation swap, during the BPF build, after the
# swap but before the cleanup, after.
# KILL_ROUNDS (default 50) sets the number of kills of each command.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root
for c in bpftool jq nft dnsmasq; do
	command -v "$c" >/dev/null || skip "no $c"
done
ROUNDS=${KILL_ROUNDS:-50}

D_PID=
kill_cleanup() {
	local rc=$?
	set +e
	if [ -n "$D_PID" ]; then
		kill -9 "$D_PID" 2>/dev/null
		wait "$D_PID" 2>/dev/null
	fi
	# e2e_cleanup exits with the status it finds: the test's, not ours.
	(exit $rc)
	e2e_cleanup
}
trap kill_cleanup EXIT

topo_pair 00:40:9d:00:00:01
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
mkdir -p "$STATE_DIR"

# Two policies that differ in every map: services (and so every gateway's
# record, through the defaults), ports, exact and CIDR destinations, the
# global actions.
cat >"$E2E_TMP/a.rules" <<'EOF'
service edp-ssl tcp 3199
service edp     tcp 3197
service ntp     udp 123
group local 10.77.0.1 fd77::1
group elsewhere 192.0.2.0/24
group cloud grace 3600 cloud.edpg.test
allow edp-ssl,edp,ntp to local
allow edp-ssl to cloud
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
EOF
cat >"$E2E_TMP/b.rules" <<'EOF'
service edp-ssl tcp 3199
service mqtt    tcp 8883
service ntp     udp 123
group local 10.77.0.1 fd77::1 198.51.100.0/24 203.0.113.7 2001:db8::7
group elsewhere 192.0.2.0/25
group cloud grace 3600 cloud.edpg.test
allow edp-ssl,mqtt to local
allow ntp to elsewhere
allow edp-ssl,ntp to cloud
defaults edp-ssl,mqtt
unknown-mac drop
non-ip pass
EOF
cp "$E2E_TMP/a.rules" "$RULES"

# A resolver in the router's namespace for the daemon's name.
HOSTS=$E2E_TMP/hosts
echo "10.200.0.1 cloud.edpg.test" >"$HOSTS"
bg in_ns "$R_NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
	--listen-address=127.0.0.1 --bind-interfaces --port=53 --no-resolv --no-hosts \
	--addn-hosts="$HOSTS" --local-ttl=1 --user=root
DNS_PID=$BG_PID
edp() {
	in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" \
		--resolver 127.0.0.1 "$@"
}
with() {
	local r=$1
	shift
	in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$r" \
		--resolver 127.0.0.1 "$@"
}
for _ in $(seq 50); do
	in_ns "$R_NS" ss -lun | grep -q '127.0.0.1:53 ' && break
	sleep 0.1
done

# Many gateways: the apply then spends milliseconds in each sink.
for i in $(seq 300); do printf 'gateway 02:00:00:00:%02x:%02x\n' $((i / 256)) $((i % 256)); done \
	>"$STATE_DIR/gateways"
edp attach lan0 --mode native >/dev/null || fail "attach"

# ---- reading the enforcement points -----------------------------------
# One bpftool process reads every policy map plus the port table entries
# of the ports either policy names (the whole table is 262144 entries).
le32() { printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24)); }
BATCH=$E2E_TMP/bpftool.batch
{
	for m in edpg_ctl edpg_config edpg_gateways edpg_services edpg_dst4 edpg_dst6 edpg_cidr4 edpg_cidr6; do
		echo "map dump pinned $PIN_DIR/$m"
	done
	for g in 0 1; do
		for proto in 0 1; do
			for port in 1 53 123 3197 3199 8883; do
				echo "map lookup pinned $PIN_DIR/edpg_ports key $(le32 $(((g * 2 + proto) * 65536 + port)))"
			done
		done
	done
} >"$BATCH"
# -> "GEN LEFTOVERS POLICYJSON": the active generation, how many entries of
# the other one exist (an apply killed mid-build or before its cleanup),
# and the active generation's content without the generation bit, the
# gateway stats slots or the last-used stamps (data, not policy).
cat >"$E2E_TMP/bpf.jq" <<'EOF'
[.[].output] as $o
| ($o[0][0].formatted.value.gen) as $g
| def gen_of: .formatted.key.gen;
  def ours: map(select(gen_of == $g));
  def others: map(select(gen_of != $g)) | length;
  def dsts: ours | map({k: (.formatted.key | del(.gen)), g: .formatted.value.groups}) | sort;
{
  gen: $g,
  left: ([$o[2], $o[4], $o[5], $o[6], $o[7]] | map(others) | add),
  policy: {
    flags: ($o[1] | map(select(.formatted.key == $g)) | .[0].formatted.value.flags),
    gateways: ($o[2] | ours | map([.formatted.key.mac, (.formatted.value | del(.slot))]) | sort),
    services: ($o[3] | map(select(.formatted.key >= $g * 32 and .formatted.key < $g * 32 + 32))
               | sort_by(.formatted.key) | map(.formatted.value.groups)),
    dst4: ($o[4] | dsts), dst6: ($o[5] | dsts), cidr4: ($o[6] | dsts), cidr6: ($o[7] | dsts),
    ports: ($o[8:] | map(.formatted | select((.key / 131072 | floor) == $g) | [.key % 131072, .value]))
  }
}
| "\(.gen) \(.left) \(.policy | tojson)"
EOF
# bpf_state: sets B_GEN, B_LEFT, B_HASH
bpf_state() {
	local line
	line=$(bpftool -j batch file "$BATCH" | jq -r -f "$E2E_TMP/bpf.jq") || fail "cannot read the maps"
	B_GEN=${line%% *}
	line=${line#* }
	B_LEFT=${line%% *}
	B_HASH=$(sha256sum <<<"${line#* }" | cut -c1-16)
	# Kept by hash, to show what differs when a check fails.
	[ -e "$E2E_TMP/bpf.$B_HASH" ] || jq . <<<"${line#* }" >"$E2E_TMP/bpf.$B_HASH"
}
# nft_state: sets N_HASH (the table without handles, set elements sorted)
# and counters zeroed (traffic, not policy).
nft_state() {
	local t
	t=$(in_ns "$R_NS" nft -j list table inet edpgate 2>/dev/null |
		jq -S '[.nftables[] | select(has("metainfo") | not) | map_values(del(.handle))
			| if .rule then .rule.expr |= map(if .counter then .counter = {} else . end) else . end
			| if .set.elem then .set.elem |= sort else . end]') || t="no table"
	N_HASH=$(sha256sum <<<"$t" | cut -c1-16)
	[ -e "$E2E_TMP/nft.$N_HASH" ] || printf '%s\n' "$t" >"$E2E_TMP/nft.$N_HASH"
}
snap() { bpf_state; nft_state; }

# The state files parse: the rules and gateways files (check), the address
# cache (dst list reads it), the interfaces file still names lan0.
state_whole() {
	edp check >"$E2E_TMP/check.out" 2>&1 || { cat "$E2E_TMP/check.out" "$STATE_DIR/gateways" >&2; fail "$1: the gateways file does not parse"; }
	edp -j dst list >/dev/null 2>&1 || fail "$1: the address cache does not parse"
	grep -q '^lan0 native both [0-9]' "$STATE_DIR/interfaces" || fail "$1: the interfaces file lost lan0"
}
# Temporary files of dead writers (the daemon's cache writer may be busy).
tmp_files() { find "$STATE_DIR" -name '*.tmp.*' ! -name "*.tmp.${D_PID:-none}" | wc -l; }

# A fractional sleep without forking (the kill must land within
# milliseconds): read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
usleep() { read -r -t "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))" -u "$SLEEP_FD" || :; }
now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }

declare -A COUNT
landed() {
	# $1 = killed before it exited (0/1); old/new hashes in OB ON NB NN
	local where
	if [ "$B_HASH" != "$OB" ] && [ "$B_HASH" != "$NB" ]; then
		for h in "$OB" "$NB" "$B_HASH"; do
			jq -c '{gen: "'"$B_GEN/$B_LEFT"'", gateways: (.gateways | length), flags, services, dst4, cidr4, ports}' "$E2E_TMP/bpf.$h" >&2
		done
		fail "$2: the XDP policy is neither the old nor the new one (a mix)"
	fi
	if [ "$N_HASH" != "$ON" ] && [ "$N_HASH" != "$NN" ]; then
		diff "$E2E_TMP/nft.$ON" "$E2E_TMP/nft.$N_HASH" | head -20 >&2
		diff "$E2E_TMP/nft.$NN" "$E2E_TMP/nft.$N_HASH" | head -20 >&2
		fail "$2: the nft table is neither the old nor the new one (a mix)"
	fi
	if [ "$OB" = "$NB" ] || [ "$ON" = "$NN" ]; then
		where="no-change"
	elif [ "$B_HASH" = "$OB" ] && [ "$N_HASH" = "$ON" ]; then
		where="before any change"
	elif [ "$B_HASH" = "$OB" ] && [ "$B_LEFT" -eq 0 ]; then
		where="nft new, BPF not yet written"
	elif [ "$B_HASH" = "$OB" ]; then
		where="nft new, during the BPF build"
	elif [ "$N_HASH" = "$ON" ]; then
		fail "$2: XDP has the new policy and nft the old one: nft must go first"
	elif [ "$B_LEFT" -gt 0 ]; then
		where="after the swap, before the cleanup"
	else
		where="after (all done)"
	fi
	[ "$1" = 1 ] || where="$where [exited before the kill]"
	COUNT[$where]=$((${COUNT[$where]:-0} + 1))
}
show_counts() {
	local k
	for k in "${!COUNT[@]}"; do printf '       %3d  %s\n' "${COUNT[$k]}" "$k"; done | sort -k2
	inside=0
	for k in "${!COUNT[@]}"; do
		case $k in "before any change"* | "after (all done)"* | no-change*) ;; *) inside=$((inside + COUNT[$k])) ;; esac
	done
}

# ---- 1. kill -9 of apply ----------------------------------------------
with "$E2E_TMP/a.rules" apply >/dev/null || fail "apply a"
snap
A_B=$B_HASH A_N=$N_HASH
with "$E2E_TMP/b.rules" apply >/dev/null || fail "apply b"
snap
B_B=$B_HASH B_N=$N_HASH
[ "$A_B" != "$B_B" ] && [ "$A_N" != "$B_N" ] || fail "the two policies read back the same"
# How long an apply takes, to spread the kills over it.
# (The shortest of five: the machine may be busy with other work.)
T_APPLY=
for _ in 1 2 3 4 5; do
	t0=$(now_us)
	with "$E2E_TMP/a.rules" apply >/dev/null
	t=$(($(now_us) - t0))
	[ -n "$T_APPLY" ] && [ "$T_APPLY" -le $t ] || T_APPLY=$t
done
echo "  apply takes ~$((T_APPLY / 1000)) ms; kills at random 0..$((T_APPLY / 1000)) ms"
cur=a
for i in $(seq "$ROUNDS"); do
	if [ $cur = a ]; then nxt=b OB=$A_B ON=$A_N NB=$B_B NN=$B_N; else nxt=a OB=$B_B ON=$B_N NB=$A_B NN=$A_N; fi
	delay=$(((RANDOM * 32768 + RANDOM) % T_APPLY))
	# nsenter itself, not the in_ns function: a backgrounded function is
	# a subshell, and killing it would leave edpgate running.
	nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$E2E_TMP/$nxt.rules" --resolver 127.0.0.1 apply >/dev/null 2>&1 &
	pid=$!
	usleep "$delay"
	alive=0
	kill -9 $pid 2>/dev/null && alive=1
	wait $pid 2>/dev/null || :
	snap
	landed $alive "apply round $i, kill at ${delay}us"
	state_whole "apply round $i"
	# The restart: the same apply again.
	with "$E2E_TMP/$nxt.rules" apply >/dev/null || fail "apply round $i: re-run failed"
	# (verify compares both sinks with the rules: the new policy, whole.)
	with "$E2E_TMP/$nxt.rules" verify >/dev/null || fail "apply round $i: verify after the re-run"
	[ "$(tmp_files)" -eq 0 ] || fail "apply round $i: temporary files left: $(find "$STATE_DIR" -name '*.tmp.*')"
	cur=$nxt
done
echo "  where $ROUNDS kills of apply landed:"
show_counts
[ "$inside" -gt 0 ] || fail "no kill landed inside an apply: the test did not test it"
ok "kill -9 of apply x$ROUNDS: XDP and nft each old or new, re-run + verify pass, state files whole"

# A kill inside the atomic write itself is rare (microseconds on this
# file system), so the sweep is checked directly too: a temporary file of
# a dead PID goes with the next locked command, one of a live PID stays.
true &
dead=$!
wait $dead
echo "gateway 02:00:00:00:ff:ff" >"$STATE_DIR/gateways.tmp.$dead"
echo junk >"$STATE_DIR/addresses.tmp.$$"
with "$E2E_TMP/$cur.rules" verify >/dev/null || fail "verify with temporary files around"
[ ! -e "$STATE_DIR/gateways.tmp.$dead" ] || fail "a dead writer's temporary file was not removed"
[ -e "$STATE_DIR/addresses.tmp.$$" ] || fail "a live writer's temporary file was removed"
rm "$STATE_DIR/addresses.tmp.$$"
ok "temporary files of dead writers are removed, those of live ones kept"

# ---- 2. kill -9 of run ------------------------------------------------
LOG=$E2E_TMP/run.log
cp "$E2E_TMP/$cur.rules" "$RULES"
# Fewer gateways: the daemon's pushes are what is killed here, and each
# round reads both sinks twice.  Their services are named, from the ones
# both a.rules and b.rules define, so they are the same under either
# policy; gateways without `services` would follow each file's defaults
# (edp-ssl,ntp or edp-ssl,mqtt) instead.
head -n 30 "$STATE_DIR/gateways" | sed 's/$/ services edp-ssl,ntp/' >"$E2E_TMP/gateways"
mv "$E2E_TMP/gateways" "$STATE_DIR/gateways"
edp apply >/dev/null || fail "apply before run"
start_daemon() {
	: >"$LOG"
	nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" -v --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" \
		--rules "$RULES" --resolver 127.0.0.1 run --resolve-floor 1 >>"$LOG" 2>&1 &
	D_PID=$!
}
# verify passes, and (after a DNS change) the new address is enforced
settled() {
	kill -0 "$D_PID" 2>/dev/null || { cat "$LOG" >&2; fail "the daemon exited"; }
	edp verify >/dev/null 2>&1 || return 1
	[ -z "${WANT_ADDR:-}" ] || in_ns "$R_NS" nft list table inet edpgate | grep -qw "$WANT_ADDR"
}
wait_settled() {
	local _
	for _ in $(seq 200); do settled && return 0; usleep 50000; done
	cat "$LOG" >&2
	fail "$1: verify does not pass after the restart"
}
start_daemon
WANT_ADDR=10.200.0.1
wait_settled "first start"
snap
SB=$B_HASH SN=$N_HASH	# the settled state: the next round's "old"
addr_n=1 gw_n=0
unset COUNT
declare -A COUNT
for i in $(seq "$ROUNDS"); do
	# 1 in 5 a DNS change (these wait for the next resolution), 1 in 5
	# an enrolment then a reload, the others a reload.
	kind=$((i % 5))
	[ $kind -gt 2 ] && kind=0
	if [ $kind = 2 ]; then
		# A gateway enrolled by the CLI while the daemon runs, then a reload.
		gw_n=$((gw_n + 1))
		edp gateway add "$(printf '02:00:00:01:%02x:%02x' $((gw_n / 256)) $((gw_n % 256)))" \
			--services edp-ssl,ntp >/dev/null ||
			fail "run round $i: gateway add"
		snap
		SB=$B_HASH SN=$N_HASH
	fi
	OB=$SB ON=$SN
	case $kind in
	0 | 2)
		[ $cur = a ] && cur=b || cur=a
		cp "$E2E_TMP/$cur.rules" "$RULES.new"
		mv "$RULES.new" "$RULES"
		kill -HUP "$D_PID"
		# A reload does not start a process: shorter than an apply.
		delay=$(((RANDOM * 32768 + RANDOM) % (T_APPLY * 3 / 5)))
		;;
	1)
		# The name answers a new address: re-resolved within a second.
		addr_n=$((addr_n + 1))
		WANT_ADDR=10.200.$((addr_n / 250)).$((addr_n % 250 + 1))
		echo "$WANT_ADDR cloud.edpg.test" >"$HOSTS"
		kill -HUP "$DNS_PID"
		delay=$(((RANDOM * 32768 + RANDOM) % 1200000))
		;;
	esac
	usleep "$delay"
	kill -9 "$D_PID"
	wait "$D_PID" 2>/dev/null || :
	D_PID=
	snap
	KB=$B_HASH KN=$N_HASH KL=$B_LEFT
	state_whole "run round $i"
	start_daemon
	wait_settled "run round $i"
	[ "$(tmp_files)" -eq 0 ] || fail "run round $i: temporary files left: $(find "$STATE_DIR" -name '*.tmp.*')"
	snap
	NB=$B_HASH NN=$N_HASH SB=$B_HASH SN=$N_HASH
	B_HASH=$KB N_HASH=$KN B_LEFT=$KL
	landed 1 "run round $i (kind $kind, kill at ${delay}us)"
done
kill -TERM "$D_PID"
wait "$D_PID" || fail "the daemon did not exit cleanly on SIGTERM"
D_PID=
[ "$(tmp_files)" -eq 0 ] || fail "temporary files left: $(find "$STATE_DIR" -name '*.tmp.*')"
echo "  where $ROUNDS kills of run landed (reloads, DNS changes, enrolments):"
show_counts
[ "$inside" -gt 0 ] || fail "no kill landed inside a push of the daemon: the test did not test it"
ok "kill -9 of run x$ROUNDS: XDP and nft each old or new, restart + verify pass, state files whole"
