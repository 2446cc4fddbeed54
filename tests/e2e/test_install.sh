#!/usr/bin/env bash
# make install into a DESTDIR: every file lands with its mode, an edited
# rules file survives a second install, both man pages lint clean, edpgate(8)
# names every subcommand and edpgate.rules(5) every statement of the grammar,
# the unit passes systemd-analyze verify, the completion completes; `edpgate
# up` attaches from a config file (idempotent, restores after the pins vanish
# as at a reboot, FILE:LINE:COL errors) with no capability beyond the unit's
# CapabilityBoundingSet; uninstall removes it.
. "$(dirname "$0")/lib.sh"
require_root

DEST=$E2E_TMP/root
# The tree's own build: installing must not rebuild anything.
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr >/dev/null ||
	fail "make install failed"

SBIN=$DEST/usr/sbin/edpgate
MAN=$DEST/usr/share/man/man8/edpgate.8
MAN5=$DEST/usr/share/man/man5/edpgate.rules.5
COMP=$DEST/usr/share/bash-completion/completions/edpgate
UNIT=$DEST/usr/lib/systemd/system/edpgate.service
RULES_ETC=$DEST/etc/edpgate/edpgate.rules
for f in "755 $SBIN" "644 $MAN" "644 $MAN5" "644 $COMP" "644 $UNIT" "644 $RULES_ETC"; do
	set -- $f
	[ -f "$2" ] || fail "install did not create $2"
	[ "$(stat -c %a "$2")" = "$1" ] || fail "$2 has mode $(stat -c %a "$2"), want $1"
done
cmp -s "$RULES_ETC" "$ROOT/rules/devicecloud.rules" || fail "installed rules differ from the shipped ones"
n=$(find "$DEST" -type f | wc -l)
[ "$n" -eq 6 ] || fail "install created $n files, want 6: $(find "$DEST" -type f)"
grep -q "^ExecStart=/usr/sbin/edpgate run$" "$UNIT" || fail "unit does not run /usr/sbin/edpgate"
grep -q "@" "$UNIT" && fail "unit has an unsubstituted @VAR@: $(grep @ "$UNIT")"
"$SBIN" --help | grep -q "^usage: edpgate" || fail "installed binary does not run"
ok "install: 6 files with their modes, unit paths filled in, binary runs"

echo "# site edit" >>"$RULES_ETC"
cp "$RULES_ETC" "$E2E_TMP/edited"
out=$(make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr)
cmp -s "$RULES_ETC" "$E2E_TMP/edited" || fail "second install overwrote the edited rules"
cmp -s "$RULES_ETC.dist" "$ROOT/rules/devicecloud.rules" || fail "shipped rules not put beside as .dist"
grep -q "kept the edited" <<<"$out" || fail "second install did not say it kept the rules: $out"
ok "second install keeps the edited rules, ships edpgate.rules.dist beside it"

for m in "$MAN" "$MAN5"; do
	lint=$(mandoc -T lint -W warning "$m" 2>&1) || fail "mandoc -T lint $m: $lint"
	[ -z "$lint" ] || fail "mandoc -T lint $m: $lint"
	warn=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	[ -z "$warn" ] || fail "man --warnings $m: $warn"
done
ok "edpgate(8) and edpgate.rules(5) lint clean (mandoc -T lint, man --warnings)"

# edpgate.rules(5) is where the grammar lives: every statement of the three
# files has its entry, and edpgate(8) points there instead of repeating it.
for kw in service group allow defaults unknown-mac non-ip gateway; do
	grep -q "^\.It Ic $kw\b" "$MAN5" || fail "statement $kw is not in edpgate.rules(5)"
done
for w in mode enforce max-gateways; do
	grep -q "^IFACE .*\[$w " "$MAN5" || fail "interfaces-file word $w is not in edpgate.rules(5)"
done
grep -q "^\.Xr edpgate.rules 5" "$MAN" || fail "edpgate(8) does not point to edpgate.rules(5)"
grep -q "^\.It Ic service" "$MAN" && fail "edpgate(8) repeats the grammar of edpgate.rules(5)"
ok "edpgate.rules(5) has every statement of the three files; edpgate(8) points to it"

# Every subcommand the binary lists is documented and completed.
cmds=$("$SBIN" --help | sed -n '/^commands:/,$p' | awk 'NR > 1 && NF { print $1 }' | sort -u)
[ "$(wc -w <<<"$cmds")" -ge 15 ] || fail "could not read the subcommands from --help: $cmds"
. /usr/share/bash-completion/bash_completion
. "$COMP"
# complete WORD...: COMPREPLY for the last word, sorted, on one line
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_edpgate
	printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}
all=$(complete_words "$SBIN" "")
for c in $cmds; do
	grep -q "^\.It Cm $c\b" "$MAN" || fail "subcommand $c is not in the man page"
	grep -qw "$c" <<<"$all" || fail "subcommand $c is not completed (got: $all)"
done
ok "all $(wc -w <<<"$cmds") subcommands are in edpgate(8) and in the completion"

[ "$(complete_words "$SBIN" gateway "")" = "add del import list pending show" ] ||
	fail "gateway completes to '$(complete_words "$SBIN" gateway "")'"
[ "$(complete_words "$SBIN" attach lo --mode "")" = "auto generic native" ] ||
	fail "--mode completes to '$(complete_words "$SBIN" attach lo --mode "")'"
[ "$(complete_words "$SBIN" -j sta)" = "stats status" ] || fail "sta completes to '$(complete_words "$SBIN" -j sta)'"
grep -qw lo <<<"$(complete_words "$SBIN" attach "")" || fail "attach does not complete interface names"
[ "$(complete_words "$SBIN" gateway import --format "")" = "csv gateways" ] ||
	fail "gateway import --format completes to '$(complete_words "$SBIN" gateway import --format "")'"
[ "$(complete_words "$SBIN" stats --format "")" = "prometheus text" ] ||
	fail "stats --format completes to '$(complete_words "$SBIN" stats --format "")'"
mkdir -p "$E2E_TMP/cstate"
"$SBIN" --rules "$ROOT/rules/devicecloud.rules" --state-dir "$E2E_TMP/cstate" \
	gateway add 00:40:9d:00:00:09 --name boiler >/dev/null 2>&1 || fail "gateway add (no kernel) failed"
got=$(complete_words "$SBIN" --rules "$ROOT/rules/devicecloud.rules" --state-dir "$E2E_TMP/cstate" gateway del "")
[ "$got" = "00:40:9d:00:00:09 boiler" ] || fail "gateway del completes to '$got'"
ok "completion: gateway verbs, --mode values, prefixes, interfaces, enrolled MACs and names"

# The unit, with its paths pointed into DESTDIR so verify can check them.
sed "s|/usr/sbin/|$DEST/usr/sbin/|g; s|/etc/edpgate|$DEST/etc/edpgate|g" "$UNIT" >"$E2E_TMP/edpgate.service"
echo lan0 >"$DEST/etc/edpgate/interfaces"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (scripts/deps.sh installs systemd)"
v=$(systemd-analyze verify --man=no "$E2E_TMP/edpgate.service" 2>&1) || fail "systemd-analyze verify: $v"
[ -z "$v" ] || fail "systemd-analyze verify: $v"
ok "systemd-analyze verify: no complaint about the unit"

# `up` from a config file, in a namespace, limited to the unit's bounding set.
GW1=00:40:9d:00:00:01
topo_pair 02:00:00:00:00:99	# the LAN host is not enrolled
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
group local 10.77.0.1
allow edp-ssl to local
defaults edp-ssl
unknown-mac drop
RULES_EOF
bounded() {
	in_ns "$R_NS" setpriv --bounding-set=-all,+bpf,+perfmon,+net_admin,+sys_admin \
		"$SBIN" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" "$@"
}
bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for i in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "no baseline connectivity"

CONF=$E2E_TMP/interfaces
printf '# LAN side\nlan0 mode native\nlan0x mode fast\n' >"$CONF"
set +e
out=$(bounded up --config "$CONF" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "$CONF:3:12: error: bad value 'fast'" <<<"$out" ||
	fail "bad config line: rc=$rc '$out'"
[ -e "$PIN_DIR/prog" ] && fail "a bad config attached something"
ok "a bad config line is FILE:LINE:COL and attaches nothing"

printf '# LAN side\nlan0 mode native  enforce both\n' >"$CONF"
bounded -j up --config "$CONF" >"$E2E_TMP/up1.json" || fail "up failed: $(cat "$E2E_TMP/up1.json")"
[ "$(jq -r '.[0].interface' "$E2E_TMP/up1.json")" = lan0 ] || fail "up -j: $(cat "$E2E_TMP/up1.json")"
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' || fail "no XDP program on lan0 after up"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "unknown MAC reached 3199 after up"
prog=$(bpftool -j prog show pinned "$PIN_DIR/prog" | jq .id)
bounded -j up --config "$CONF" >"$E2E_TMP/up2.json" || fail "second up failed"
[ "$(jq -r '.[0].unchanged' "$E2E_TMP/up2.json")" = true ] || fail "second up: $(cat "$E2E_TMP/up2.json")"
[ "$(bpftool -j prog show pinned "$PIN_DIR/prog" | jq .id)" = "$prog" ] || fail "second up reloaded the program"
bounded upgrade | grep -q "already running this build" || fail "upgrade (the unit's second start step): $(bounded upgrade 2>&1)"
ok "up attaches lan0 (unknown MAC dropped); again: unchanged, same program id $prog; upgrade: nothing to do"

# A reboot empties bpffs while STATE/interfaces still lists lan0.
bounded gateway add $GW1 --name gw1 >/dev/null
umount "$E2E_TMP/bpffs"
mount -t bpf bpf "$E2E_TMP/bpffs"
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' && fail "XDP still on lan0 with the pins gone"
bounded up --config "$CONF" >"$E2E_TMP/up3.txt" || fail "up after the pins vanished failed"
grep -q "restored lan0" "$E2E_TMP/up3.txt" || fail "up did not restore: $(cat "$E2E_TMP/up3.txt")"
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' || fail "no XDP on lan0 after the restore"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "unknown MAC reached 3199 after the restore"
bounded -j gateway list | jq -e '.[0].live == true' >/dev/null || fail "gw1 not live after the restore"
bounded verify >/dev/null || fail "verify after the restore: $(bounded verify 2>&1)"
ok "after the pins vanish (as at boot) up restores lan0 with gw1 live; verify passes"

# The daemon starts under the same bounding set and keeps enforcing.
bg in_ns "$R_NS" setpriv --bounding-set=-all,+bpf,+perfmon,+net_admin,+sys_admin \
	"$SBIN" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" run
RUN_PID=$BG_PID
sleep 1
kill -0 "$RUN_PID" 2>/dev/null || fail "run died under the unit's bounding set: $(tail -5 "$E2E_TMP/bg.log")"
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$RUN_PID/status")
# CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39
[ $((0x$bnd & ~((1 << 12) | (1 << 21) | (1 << 38) | (1 << 39)))) -eq 0 ] || fail "CapBnd $bnd beyond the unit's set"
kill -HUP "$RUN_PID"
sleep 0.5
kill -0 "$RUN_PID" 2>/dev/null || fail "run died on SIGHUP (ExecReload)"
kill -TERM "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
ip -n "$R_NS" -d link show lan0 | grep -q 'prog/xdp' || fail "stopping run removed the filter"
ok "run works within the bounding set, survives SIGHUP, leaves the filter enforcing on SIGTERM"
"$SBIN" --pin-dir "$PIN_DIR" --state-dir "$STATE_DIR" --rules "$RULES" detach --all >/dev/null

make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr >/dev/null || fail "make uninstall failed"
left=$(find "$DEST" -type f | sort)
want=$(printf '%s\n' "$DEST/etc/edpgate/edpgate.rules" "$DEST/etc/edpgate/interfaces" | sort)
[ "$left" = "$want" ] || fail "uninstall left: $left"
ok "uninstall removes everything but the site's configuration"
