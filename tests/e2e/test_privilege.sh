#!/usr/bin/env bash
# Least privilege (issue 9):
#  - what edpgate writes is root's only: state dir 0700, state files and
#    the lock 0600 (an older install's 0755/0644 narrowed on the next
#    write, whatever the umask), pin dir 0700, pins 0600;
#  - a command lacking CAP_BPF / CAP_NET_ADMIN is refused with one clear
#    sentence and changes nothing; `check` needs no capability;
#  - read-only commands work with CAP_BPF alone against pins chmod'ed 0400
#    (no CAP_DAC_OVERRIDE either) and on a read-only bpffs;
#  - names and paths are validated, with messages;
#  - `edpgate run` keeps exactly CAP_BPF and CAP_NET_ADMIN
#    (effective, permitted, bounding), no_new_privs, and still works:
#    a SIGHUP applies a rules change, a gateway added by the CLI is in
#    the daemon's next push;
#  - its map-growing helper holds only what a growth needs, grows the maps
#    live when a reload brings more gateways than slots, and ends with it.
. "$(dirname "$0")/lib.sh"
require_root
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"

GW=02:78:00:00:00:02
GW2=02:78:00:00:00:03
topo_pair "$GW"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<-EOF2
	service edp-ssl tcp 3199
	group cloud 198.51.100.0/24
	allow edp-ssl to cloud
	defaults edp-ssl
EOF2
umask 022

# only CAPS ARGS...: edp with the bounding set (and so, for root, every
# set after exec) narrowed to CAPS, e.g. "-all,+bpf"
only() {
	local caps=$1
	shift
	in_ns "$R_NS" setpriv --bounding-set "$caps" --inh-caps -all "$EDPGATE" --pin-dir "$PIN_DIR" \
		--state-dir "$STATE_DIR" --rules "$RULES" "$@"
}
mode() { stat -c %a "$1"; }

# ---- modes ----------------------------------------------------------------
# An older install: a 0755 state dir holding a 0644 interfaces file.
mkdir -m 0755 "$STATE_DIR"
echo "# attached by edpgate: IFNAME XDPMODE ENFORCE IFINDEX" >"$STATE_DIR/interfaces"
chmod 0644 "$STATE_DIR/interfaces"
edp attach lan0 >/dev/null
edp gateway add "$GW" >/dev/null
[ "$(mode "$STATE_DIR")" = 700 ] || fail "state dir $(mode "$STATE_DIR"), want 700"
for f in interfaces gateways lock; do
	[ -e "$STATE_DIR/$f" ] || fail "no $f in the state dir"
	[ "$(mode "$STATE_DIR/$f")" = 600 ] || fail "$f is $(mode "$STATE_DIR/$f"), want 600"
	[ "$(stat -c %u "$STATE_DIR/$f")" = 0 ] || fail "$f not owned by root"
done
for f in "$STATE_DIR"/*; do	# the address cache and whatever else
	[ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f"), want 600"
done
[ "$(mode "$PIN_DIR")" = 700 ] || fail "pin dir $(mode "$PIN_DIR"), want 700"
npins=0
for p in "$PIN_DIR"/*; do
	[ "$(mode "$p")" = 600 ] || fail "pin $p is $(mode "$p"), want 600"
	npins=$((npins + 1))
done
[ "$npins" -ge 5 ] || fail "only $npins pins in $PIN_DIR"
ok "state dir 700, state files and lock 600 (old 755/644 narrowed), pin dir 700, $npins pins 600"

# ---- refusals -------------------------------------------------------------
refused() {	# refused CAPS WANT-MESSAGE ARGS...
	local caps=$1 want=$2 rc=0
	shift 2
	only "$caps" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" = 1 ] || fail "'$*' with $caps: exit $rc, want 1"
	grep -qF -- "$want" "$E2E_TMP/err" || { cat "$E2E_TMP/err"; fail "'$*': want '$want'"; }
}
refused -all,+bpf "edpgate attach needs CAP_BPF and CAP_NET_ADMIN (run as root); this process lacks CAP_NET_ADMIN" attach lan0
refused -all,+net_admin "edpgate apply needs CAP_BPF and CAP_NET_ADMIN (run as root); this process lacks CAP_BPF" apply
refused -all "this process lacks CAP_BPF and CAP_NET_ADMIN" gateway add "$GW2"
refused -all,+bpf "edpgate gateway del needs CAP_BPF and CAP_NET_ADMIN" gateway del "$GW"
refused -all,+bpf "edpgate run needs CAP_BPF and CAP_NET_ADMIN" run
refused -all "edpgate stats needs CAP_BPF (run as root); this process lacks CAP_BPF" stats
refused -all "edpgate status needs CAP_BPF" status
refused -all "edpgate gateway list needs CAP_BPF" gateway list
edp gateway show "$GW2" >/dev/null 2>&1 && fail "a refused gateway add enrolled $GW2"
only -all check >/dev/null || fail "check refused without capabilities"
ok "commands lacking capabilities refused with a message, nothing changed; check needs none"

# ---- read-only access to the pins ----------------------------------------
ro_cmds() {	# ro_cmds CAPS WHAT
	only "$1" stats "$GW" | grep -qi "$GW" || fail "stats with $2"
	only "$1" -j status | jq -e '.loaded == true and .gateways == 1' >/dev/null || fail "status with $2"
	only "$1" dst list | grep -q 198.51.100.0/24 || fail "dst list with $2"
	only "$1" gateway list | grep -qi "$GW" || fail "gateway list with $2"
	only "$1" gateway show "$GW" >/dev/null || fail "gateway show with $2"
	only "$1" gateway pending >/dev/null || fail "gateway pending with $2"
	only "$1" doctor >/dev/null || fail "doctor with $2"
}
chmod 0400 "$PIN_DIR"/*
ro_cmds -all,+bpf "CAP_BPF only, pins 0400"
chmod 0600 "$PIN_DIR"/*
mount -o remount,ro "$E2E_TMP/bpffs"
ro_cmds -all,+bpf "CAP_BPF only, bpffs read-only"
mount -o remount,rw "$E2E_TMP/bpffs"
ok "stats, status, dst list, gateway list/show/pending, doctor with CAP_BPF alone and read-only pins"

# ---- validation -----------------------------------------------------------
invalid() {	# invalid WANT-MESSAGE ARGS...
	local want=$1 rc=0
	shift
	in_ns "$R_NS" "$EDPGATE" "$@" >/dev/null 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" = 2 ] || fail "'$*': exit $rc, want 2"
	grep -qF -- "$want" "$E2E_TMP/err" || { cat "$E2E_TMP/err"; fail "'$*': want '$want'"; }
}
P=(--pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES")
invalid "'a/b' is not a valid interface name: it contains '/'" "${P[@]}" attach a/b
invalid "'lan0 x' is not a valid interface name" "${P[@]}" attach "lan0 x"
invalid "is not a valid interface name: it is longer than 15 characters" "${P[@]}" attach abcdefghijklmnop
invalid "no interface named 'nosuch0' (see \`ip link\`)" "${P[@]}" attach nosuch0
invalid "'../x' is not a valid interface name" "${P[@]}" detach ../x
invalid "--state-dir 'state': it must be an absolute path" --pin-dir "$PIN_DIR" --state-dir state status
invalid "--state-dir '/var/../tmp': it contains a '..' component" --pin-dir "$PIN_DIR" --state-dir /var/../tmp status
invalid "--pin-dir '$E2E_TMP' is not on a bpffs" --pin-dir "$E2E_TMP" --state-dir "$STATE_DIR" status
invalid "--pin-dir 'pins': it must be an absolute path" --pin-dir pins --state-dir "$STATE_DIR" status
invalid "invalid name 'x;reboot': letters, digits" "${P[@]}" gateway add "$GW2" --name 'x;reboot'
# shellcheck disable=SC2016 # the point: a literal $(id) reaches no shell
invalid "invalid name '\$(id)'" "${P[@]}" gateway add "$GW2" --name '$(id)'
invalid "invalid MAC '02:78:00:00:00:0g'" "${P[@]}" gateway add 02:78:00:00:00:0g
edp gateway show "$GW2" >/dev/null 2>&1 && fail "an invalid gateway add enrolled $GW2"
ok "interface names, gateway names and MACs, --state-dir and --pin-dir validated with messages"

# ---- the daemon's capabilities -------------------------------------------
LOG=$E2E_TMP/run.log
setsid nsenter --net="/var/run/netns/$R_NS" "$EDPGATE" -v "${P[@]}" run >"$LOG" 2>&1 &
D_PID=$!
E2E_PIDS+=("$D_PID")
for _ in $(seq 100); do grep -q "edpgate run:" "$LOG" && break; sleep 0.1; done
grep -q "edpgate run:" "$LOG" || { cat "$LOG"; fail "daemon did not start"; }
want=$(printf '%016x' $(((1 << 39) | (1 << 12))))	# bpf, net_admin
for _ in $(seq 50); do
	[ "$(awk '/^CapEff:/ { print $2 }' "/proc/$D_PID/status")" = "$want" ] && break
	sleep 0.1
done
for s in CapEff CapPrm CapBnd; do
	got=$(awk -v s="$s:" '$1 == s { print $2 }' "/proc/$D_PID/status")
	[ "$got" = "$want" ] || fail "daemon $s $got, want $want"
done
for s in CapInh CapAmb; do
	got=$(awk -v s="$s:" '$1 == s { print $2 }' "/proc/$D_PID/status")
	[ "$got" = 0000000000000000 ] || fail "daemon $s $got, want none"
done
[ "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$D_PID/status")" = 1 ] || fail "daemon without no_new_privs"
ok "daemon keeps CAP_BPF and CAP_NET_ADMIN only (CapEff=CapPrm=CapBnd=$want), no_new_privs"

# Its map-growing helper: the one child, with what a load and a link
# switch need, and nothing of the daemon's open but the socket to it.
H_PID=$(xargs <"/proc/$D_PID/task/$D_PID/children")
[ -n "$H_PID" ] && [ "$(wc -w <<<"$H_PID")" -eq 1 ] || fail "daemon children '$H_PID', want its one helper"
want_h=$(printf '%016x' $(((1 << 39) | (1 << 38) | (1 << 21) | (1 << 12))))	# bpf, perfmon, sys_admin, net_admin
for s in CapEff CapPrm CapBnd; do
	got=$(awk -v s="$s:" '$1 == s { print $2 }' "/proc/$H_PID/status")
	[ "$got" = "$want_h" ] || fail "helper $s $got, want $want_h"
done
[ "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$H_PID/status")" = 1 ] || fail "helper without no_new_privs"
fds=$(ls "/proc/$H_PID/fd" | sort -n | tr '\n' ' ')
[ "$fds" = "0 1 2 3 " ] || fail "helper holds fds '$fds', want 0 1 2 3"
ok "its helper: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_NET_ADMIN, no_new_privs, fds 0-3 only"

# SIGHUP applies a rules change; the daemon's push carries a CLI-added gateway.
echo "group cloud2 203.0.113.0/24" >>"$RULES"
echo "allow edp-ssl to cloud2" >>"$RULES"
kill -HUP "$D_PID"
for _ in $(seq 50); do edp dst list 2>/dev/null | grep -q 203.0.113.0/24 && edp verify >/dev/null 2>&1 && break; sleep 0.1; done
edp verify >/dev/null || { cat "$LOG"; fail "verify after SIGHUP with the reduced daemon"; }
edp -j status | jq -e '.addresses_v4 >= 2' >/dev/null || { cat "$LOG"; fail "SIGHUP rules change not live"; }
edp gateway add "$GW2" >/dev/null
kill -HUP "$D_PID"
sleep 0.5
edp verify >/dev/null || { cat "$LOG"; fail "verify after gateway add + SIGHUP"; }
edp -j status | jq -e '.gateways == 2' >/dev/null || fail "the daemon's push lost the CLI-added gateway"
grep -qi "operation not permitted\|cannot drop" "$LOG" && { cat "$LOG"; fail "EPERM in the daemon's log"; }
kill -0 "$D_PID" || { cat "$LOG"; fail "daemon died"; }
ok "reduced daemon: SIGHUP applies a rules change, keeps a CLI-added gateway, no EPERM"

# More gateways than the 64 slots the program was loaded with, from the
# gateways file (as a restored backup, or the store, brings them): the
# reduced daemon grows the maps live through its helper.
for i in $(seq 0 99); do printf 'gateway 02:79:00:00:00:%02x\n' "$i"; done >>"$STATE_DIR/gateways"
kill -HUP "$D_PID"
for _ in $(seq 50); do edp -j status 2>/dev/null | jq -e '.gateways == 102' >/dev/null && break; sleep 0.1; done
grep -q "gateway capacity 64 -> 256 for 102 gateways (1 links switched" "$LOG" || { cat "$LOG"; fail "the reduced daemon did not grow the maps"; }
edp verify >/dev/null || { cat "$LOG"; fail "verify after the daemon's growth"; }
edp -j status | jq -e '.gateways == 102' >/dev/null || fail "102 gateways not live after the growth"
kill -0 "$H_PID" || fail "the helper died in the growth"
kill -TERM "$D_PID"
for _ in $(seq 50); do kill -0 "$H_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$H_PID" 2>/dev/null && fail "the helper outlived the daemon"
ok "the reduced daemon grew 64 -> 256 slots through its helper for 102 gateways; verify passes; the helper ends with it"
echo PASS
