#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The systemd unit's sandbox, exercised: every command the installed unit
# runs (each ExecStartPre, ExecStart, ExecReload, and the stop: SIGTERM to
# the main process, KillMode=process) runs under the unit's own settings,
# read from the installed unit file, and does its job: `up` attaches from
# /etc/edpgate/interfaces, `upgrade` passes, `run` keeps enforcing and
# reloads on the ExecReload line, the stop leaves the filter in place.
#
# Without systemd as PID 1 the settings are reproduced with a mount
# namespace (unshare), setpriv and ulimit:
#   CapabilityBoundingSet     setpriv --bounding-set
#   NoNewPrivileges           setpriv --no-new-privs
#   ProtectSystem=strict      every mount read-only but /dev, /proc, /sys
#   ReadWritePaths            ... and those (here /sys/fs/bpf: the test's bpffs)
#   StateDirectory(+Mode)     /var/lib/NAME writable, created with the mode
#   ProtectHome               empty read-only /home, /root, /run/user
#   PrivateTmp                fresh /tmp and /var/tmp
#   PrivateDevices            a /dev with only null, zero, full, random, urandom, tty
#   ProtectKernelModules      /usr/lib/modules hidden (CAP_SYS_MODULE is not in the set)
#   ProtectKernelLogs         /proc/kmsg hidden (/dev/kmsg is not in the private /dev)
#   ProtectControlGroups      /sys/fs/cgroup read-only
#   UMask                     umask
#   LimitMEMLOCK              ulimit -l
#   ProtectHostname           a UTS namespace (and the seccomp filter below)
# and the seccomp-based ones (RestrictAddressFamilies, RestrictNamespaces,
# RestrictRealtime, RestrictSUIDSGID, LockPersonality,
# MemoryDenyWriteExecute, SystemCallArchitectures, ProtectClock,
# ProtectHostname) with a filter seccomp_exec.py builds from the unit's
# values (x86_64; elsewhere they are listed as not reproduced).  A setting
# the test does not know fails it, so a new one cannot go unexercised.  The installed tree is laid over /usr and /etc (read-only
# overlays), so the unit's paths are used as they are.  The sandbox itself
# is checked (capabilities, read-only paths) and shown to bite: `up` with
# CAP_BPF left out of the set fails.
. "$(dirname "$0")/lib.sh"
require_root
for c in unshare setpriv nsenter jq socat bpftool; do command -v "$c" >/dev/null || skip "no $c"; done

DEST=$E2E_TMP/root
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr >/dev/null || fail "make install failed"
UNIT=$(find "$DEST" -name edpgate.service)
[ -f "$UNIT" ] || fail "install did not create the unit"

# unit_values KEY: the values of KEY= in [Service], one per line, in order
unit_values() {
	awk -v k="$1" '/^\[/ { s = ($0 == "[Service]") } s && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$UNIT"
}
unit_value() { unit_values "$1" | tail -n 1; }

# ---- the settings ---------------------------------------------------------
SECCOMP_KEYS="RestrictAddressFamilies RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality MemoryDenyWriteExecute SystemCallArchitectures ProtectClock ProtectHostname"
# What the unit runs and how systemd treats it, not sandboxing:
NOT_SANDBOX="Type ExecStartPre ExecStart ExecReload Restart RestartSec KillMode"
SANDBOX="CapabilityBoundingSet NoNewPrivileges ProtectSystem ReadWritePaths StateDirectory StateDirectoryMode ProtectHome PrivateTmp PrivateDevices ProtectKernelModules ProtectKernelLogs ProtectControlGroups UMask LimitMEMLOCK"
for k in $(awk '/^\[/ { s = ($0 == "[Service]") } s && /^[A-Za-z]+=/ { sub(/=.*/, ""); print }' "$UNIT" | sort -u); do
	case " $SECCOMP_KEYS $NOT_SANDBOX $SANDBOX " in
	*" $k "*) ;;
	*) fail "the unit sets $k=$(unit_value "$k"), which this test does not reproduce: teach it" ;;
	esac
done
yes_is() { [ "$(unit_value "$1")" = "$2" ] || fail "the unit has $1=$(unit_value "$1"); this test reproduces $1=$2"; }
yes_is NoNewPrivileges yes
yes_is ProtectSystem strict
yes_is ProtectHome yes
yes_is PrivateTmp yes
yes_is PrivateDevices yes
yes_is ProtectKernelModules yes
yes_is ProtectKernelLogs yes
yes_is ProtectControlGroups yes
CAPS=$(unit_value CapabilityBoundingSet)
BSET=-all
for c in $CAPS; do
	c=${c#CAP_}
	BSET="$BSET,+${c,,}"
done
STATE=$(unit_value StateDirectory)
STATE_MODE=$(unit_value StateDirectoryMode)
UMASK=$(unit_value UMask)
MEMLOCK=$(unit_value LimitMEMLOCK)
[ "$MEMLOCK" = infinity ] && MEMLOCK=unlimited
if ! (ulimit -l "$MEMLOCK") 2>/dev/null; then
	# Raising it needs CAP_SYS_RESOURCE, which this process may lack; a
	# lower limit is the stricter test (on kernels >= 5.11 BPF memory is
	# charged to the memory cgroup, not to RLIMIT_MEMLOCK).
	echo "  (cannot raise RLIMIT_MEMLOCK to $MEMLOCK here: the sandbox keeps $(ulimit -l))"
	MEMLOCK=$(ulimit -l)
fi
RW_PATHS=$(unit_value ReadWritePaths)
[ "$RW_PATHS" = /sys/fs/bpf ] || fail "ReadWritePaths=$RW_PATHS: this test maps only /sys/fs/bpf (onto its own bpffs)"
[ -n "$STATE" ] && [ -n "$STATE_MODE" ] && [ -n "$UMASK" ] || fail "StateDirectory, StateDirectoryMode or UMask missing"
echo "  sandbox: bounding set $CAPS; no new privileges; read-only system but /var/lib/$STATE ($STATE_MODE) and $RW_PATHS; umask $UMASK; memlock $MEMLOCK"
# The seccomp settings, as the unit words them, for seccomp_exec.py.
SECCOMP_ARGS=
if [ "$(uname -m)" = x86_64 ] && [ -x /usr/bin/python3 ]; then
	for k in $SECCOMP_KEYS; do
		v=$(unit_value "$k")
		[ -z "$v" ] || SECCOMP_ARGS+=${SECCOMP_ARGS:+$'\n'}"$k=$v"
	done
	echo "  seccomp: $(tr '\n' ';' <<<"$SECCOMP_ARGS")"
else
	echo "  not reproduced on $(uname -m) (seccomp_exec.py knows x86_64): $SECCOMP_KEYS"
fi
ps -p 1 -o comm= | grep -qx systemd &&
	echo "  (systemd is PID 1 here; the test still uses the namespace equivalent: it needs no unit loaded)"

# ---- the lab ----------------------------------------------------------------
GW=00:40:9d:00:00:01
topo_pair "$GW"
bpffs_private
bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for _ in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "no baseline connectivity"

# The site's configuration in the installed tree (seen at /etc/edpgate).
cat >"$DEST/etc/edpgate/edpgate.rules" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group local 10.77.0.1
allow edp-ssl,ntp to local
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF
echo "lan0 mode native enforce both" >"$DEST/etc/edpgate/interfaces"
# /var/lib as an overlay whose upper layer is the test's: the state
# directory is readable from here, the rest of /var/lib is the host's.
VARLIB=$E2E_TMP/varlib
mkdir -p "$VARLIB/upper" "$VARLIB/work"
# The pins (bpffs_private's mount, bound onto /sys/fs/bpf inside).
BPFFS=${PIN_DIR%/*}
echo "gateway $GW name gw1" >"$E2E_TMP/gateways"

# sandboxed [-b BSET] CMD...: CMD in the router's netns under the unit's
# settings.  nsenter, unshare and setpriv exec, so $! of a backgrounded
# call is CMD itself (the unit's $MAINPID).
SETUP='
set -e
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$DEST/usr:/usr" /usr
mount -t overlay overlay -o "lowerdir=$DEST/etc:/etc" /etc
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$VARLIB/upper,workdir=$VARLIB/work" /var/lib
# StateDirectory: created by "systemd" with its mode, writable.
if [ ! -d "/var/lib/$STATE" ]; then
	mkdir -m "$STATE_MODE" "/var/lib/$STATE"
	# (the gateways file, as an admin would have enrolled)
	(umask "$UMASK"; cp "$GATEWAYS" "/var/lib/$STATE/gateways")
fi
mount --bind "/var/lib/$STATE" "/var/lib/$STATE"
mount --bind "$BPFFS" "$RW_PATHS"
# ProtectSystem=strict: every mount read-only but the API file systems and
# the writable paths.
awk "{ print \$5 }" /proc/self/mountinfo | sort -u | while read -r mp; do
	case $mp in
	/proc | /proc/* | /dev | /dev/* | /sys | /sys/*) continue ;;
	"/var/lib/$STATE") continue ;;
	esac
	mount -o remount,bind,ro "$mp"
done
mount -o remount,bind,ro /sys/fs/cgroup	# ProtectControlGroups
for d in /home /root /run/user; do	# ProtectHome
	[ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$d"
done
mount -t tmpfs -o mode=1777 tmpfs /tmp	# PrivateTmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
# PrivateDevices: only the pseudo devices.
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mkdir /dev/shm /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -o remount,ro /dev
mount --bind /dev/null /proc/kmsg	# ProtectKernelLogs
[ -d /usr/lib/modules ] && mount -t tmpfs -o ro tmpfs /usr/lib/modules	# ProtectKernelModules
umask "$UMASK"
ulimit -l "$MEMLOCK"
seccomp=()
if [ -n "$SECCOMP_ARGS" ]; then
	mapfile -t args <<<"$SECCOMP_ARGS"	# one setting a line
	seccomp=(/usr/bin/python3 "$SECCOMP_PY" "${args[@]}" --)
fi
exec setpriv --no-new-privs --bounding-set "$SANDBOX_BSET" -- "${seccomp[@]}" "$@"
'
sandboxed() {
	local bset=$BSET
	if [ "$1" = -b ]; then
		bset=$2
		shift 2
	fi
	DEST=$DEST VARLIB=$VARLIB STATE=$STATE STATE_MODE=$STATE_MODE UMASK=$UMASK MEMLOCK=$MEMLOCK \
		GATEWAYS=$E2E_TMP/gateways BPFFS=$BPFFS RW_PATHS=$RW_PATHS SANDBOX_BSET=$bset \
		SECCOMP_PROBE=$SECCOMP_PROBE SECCOMP_ARGS=$SECCOMP_ARGS SECCOMP_PY=$ROOT/tests/e2e/seccomp_exec.py \
		nsenter --net="/var/run/netns/$R_NS" unshare --mount --uts --propagation private \
		bash -c "$SETUP" sandbox "$@"
}
SDIR=$VARLIB/upper/$STATE	# the state directory, seen from here
# unit_cmd LINE: an Exec line of the unit as argv ($MAINPID substituted)
unit_cmd() { local l=${1//\$MAINPID/${MAINPID:-}}; read -r -a CMD <<<"$l"; }

# ---- the sandbox is what the unit says ------------------------------------
# What the seccomp settings forbid, each tried.  (The clock is not: if the
# filter failed, it would be set.  The host name is safe: the sandbox has
# its own UTS namespace.)
SECCOMP_PROBE='
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
def call(name, f):
    try:
        r = f()
        e = ctypes.get_errno() if r == -1 or r == ctypes.c_void_p(-1).value else 0
    except OSError as x:
        e = x.errno
    print("seccomp", name, errno.errorcode.get(e, "ok"))
def sock(fam, typ):
    socket.socket(fam, typ).close()
call("af_packet", lambda: sock(socket.AF_PACKET, socket.SOCK_RAW))
call("af_inet", lambda: sock(socket.AF_INET, socket.SOCK_DGRAM))
call("af_netlink", lambda: sock(socket.AF_NETLINK, socket.SOCK_RAW))
call("mmap_wx", lambda: libc.mmap(None, 4096, 7, 0x22, -1, 0))
call("unshare_net", lambda: libc.unshare(0x40000000))
call("personality", lambda: libc.personality(8))
call("sethostname", lambda: libc.sethostname(b"x", 1))
open("/tmp/suid", "w").close()
call("chmod_suid", lambda: os.chmod("/tmp/suid", 0o4755))
'
probe=$(sandboxed sh -c '
	grep -E "^(NoNewPrivs|CapBnd|CapEff)" /proc/self/status
	echo "umask $(umask)"
	echo "memlock $(ulimit -l)"
	# (a directory: bpffs holds no regular files)
	for f in /etc/x /usr/x /var/lib/x /var/lib/edpgate/x /tmp/x /sys/fs/bpf/x /root/x /sys/fs/cgroup/x; do
		if mkdir "$f" 2>/dev/null; then echo "writable $f"; rmdir "$f"; else echo "readonly $f"; fi
	done
	ls /dev | tr "\n" " "; echo
	echo "home $(find /home /root -mindepth 1 | wc -l)"
	test -e /etc/edpgate/interfaces && echo "condition ok"
	[ -z "$SECCOMP_ARGS" ] || /usr/bin/python3 -c "$SECCOMP_PROBE"
') || fail "the sandbox does not start: $probe"
want_bnd=0
for c in $CAPS; do
	case $c in
	CAP_NET_ADMIN) n=12 ;; CAP_SYS_ADMIN) n=21 ;; CAP_PERFMON) n=38 ;; CAP_BPF) n=39 ;;
	*) fail "capability $c: add its number here" ;;
	esac
	want_bnd=$((want_bnd | (1 << n)))
done
want_bnd=$(printf '%016x' $want_bnd)
grep -q "^NoNewPrivs:	1$" <<<"$probe" || fail "no_new_privs not set: $probe"
grep -q "^CapBnd:	$want_bnd$" <<<"$probe" || fail "bounding set, want $want_bnd: $probe"
grep -q "^CapEff:	$want_bnd$" <<<"$probe" || fail "effective set, want $want_bnd: $probe"
grep -q "^umask 0*${UMASK#0}$" <<<"$probe" || fail "umask: $probe"
grep -q "^memlock $MEMLOCK$" <<<"$probe" || fail "memlock: $probe"
for f in /etc/x /usr/x /var/lib/x /root/x /sys/fs/cgroup/x; do
	grep -qx "readonly $f" <<<"$probe" || fail "$f writable in the sandbox: $probe"
done
for f in /var/lib/edpgate/x /tmp/x /sys/fs/bpf/x; do
	grep -qx "writable $f" <<<"$probe" || fail "$f not writable in the sandbox: $probe"
done
grep -qx "fd full null pts random shm stderr stdin stdout tty urandom zero " <<<"$probe" || fail "/dev: $probe"
grep -qx "home 0" <<<"$probe" || fail "/home or /root not empty: $probe"
grep -qx "condition ok" <<<"$probe" || fail "ConditionPathExists: no /etc/edpgate/interfaces in the sandbox"
if [ -n "$SECCOMP_ARGS" ]; then
	for want in "af_packet EAFNOSUPPORT" "af_inet ok" "af_netlink ok" "mmap_wx EPERM" "unshare_net EPERM" \
		"personality EPERM" "sethostname EPERM" "chmod_suid EPERM"; do
		grep -qx "seccomp $want" <<<"$probe" || fail "seccomp: want $want: $(grep seccomp <<<"$probe")"
	done
	echo "  seccomp probe: $(grep seccomp <<<"$probe" | cut -d' ' -f2- | tr '\n' ',')"
fi
[ "$(stat -c %a "$SDIR")" = "${STATE_MODE#0}" ] || fail "state directory mode $(stat -c %a "$SDIR"), want $STATE_MODE"
ok "the sandbox: bounding and effective set $want_bnd, no_new_privs, /etc /usr /var/lib /root read-only, state dir and pins writable, private /tmp and /dev"

# It bites: without CAP_NET_ADMIN (which nothing else in the set stands
# in for, as CAP_SYS_ADMIN does for CAP_BPF) the unit's first command
# cannot attach.
unit_cmd "$(unit_values ExecStartPre | head -n 1)"
set +e
out=$(sandboxed -b "${BSET/,+net_admin/}" "${CMD[@]}" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "${CMD[*]} attached without CAP_NET_ADMIN: $out"
grep -q "CAP_NET_ADMIN" <<<"$out" || fail "without CAP_NET_ADMIN, the error does not say so: $out"
ip -n "$R_NS" -d link show lan0 | grep -q prog/xdp && fail "XDP attached without CAP_NET_ADMIN"
ok "without CAP_NET_ADMIN in the set: '${CMD[*]}' refused ($(head -n 1 <<<"$out"))"

# ---- ExecStartPre, ExecStart ----------------------------------------------
n=0
while read -r line; do
	unit_cmd "$line"
	out=$(sandboxed "${CMD[@]}" 2>&1) || fail "ExecStartPre=${line} fails in the sandbox: $out"
	n=$((n + 1))
	echo "    ExecStartPre=$line: $(head -n 1 <<<"$out")"
done < <(unit_values ExecStartPre)
[ $n -ge 1 ] || fail "no ExecStartPre read from the unit"
ip -n "$R_NS" -d link show lan0 | grep -q prog/xdp || fail "lan0 has no XDP program after ExecStartPre"
[ -e "$PIN_DIR/prog" ] || fail "nothing pinned on the test's bpffs"
for f in "$SDIR"/*; do
	case $f in *.tmp.*) continue ;; esac
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f") (UMask=$UMASK)"
done
ok "ExecStartPre x$n in the sandbox: lan0 attached, pins on /sys/fs/bpf, state files 0600"

LOG=$E2E_TMP/run.log
unit_cmd "$(unit_value ExecStart)"
DEST=$DEST VARLIB=$VARLIB STATE=$STATE STATE_MODE=$STATE_MODE UMASK=$UMASK MEMLOCK=$MEMLOCK \
	GATEWAYS=$E2E_TMP/gateways BPFFS=$BPFFS RW_PATHS=$RW_PATHS SANDBOX_BSET=$BSET \
	SECCOMP_ARGS=$SECCOMP_ARGS SECCOMP_PY=$ROOT/tests/e2e/seccomp_exec.py \
	setsid nsenter --net="/var/run/netns/$R_NS" unshare --mount --uts --propagation private \
	bash -c "$SETUP" sandbox "${CMD[@]}" >"$LOG" 2>&1 &
MAINPID=$!
E2E_PIDS+=("$MAINPID")
wait_for 10 logged "edpgate run:" || { cat "$LOG"; fail "ExecStart=$(unit_value ExecStart) did not start in the sandbox"; }
[ "$(cat "/proc/$MAINPID/comm")" = edpgate ] || fail "\$MAINPID is not edpgate: $(cat "/proc/$MAINPID/comm")"
grep -q "^NoNewPrivs:	1$" "/proc/$MAINPID/status" || fail "the daemon runs without no_new_privs"
[ -z "$SECCOMP_ARGS" ] || grep -q "^Seccomp:	2$" "/proc/$MAINPID/status" || fail "the daemon runs without the seccomp filter"
# The filter: the enrolled gateway passes, another MAC is dropped.
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gw1 cannot reach 3199 under the sandboxed daemon"
ip -n "$H_NS" link set eth0 address 02:00:00:00:00:99
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "an unknown MAC passes"
ip -n "$H_NS" link set eth0 address "$GW"
kill -0 "$MAINPID" || { cat "$LOG"; fail "the daemon exited"; }
ok "ExecStart=$(unit_value ExecStart) runs in the sandbox: gw1 passes, an unknown MAC is dropped"

# ---- ExecReload ---------------------------------------------------------------
unit_cmd "$(unit_value ExecReload)"
out=$(sandboxed "${CMD[@]}" 2>&1) || fail "ExecReload=$(unit_value ExecReload) fails in the sandbox: $out"
wait_for 10 logged "reloaded:" || { cat "$LOG"; fail "the daemon did not reload on ExecReload"; }
logged "SIGHUP: reloading" || { cat "$LOG"; fail "the reload was not the SIGHUP"; }
kill -0 "$MAINPID" || { cat "$LOG"; fail "the daemon exited on the reload"; }
ok "ExecReload=$(unit_value ExecReload) in the sandbox: the daemon reloads"

# ---- stop (KillMode=process: SIGTERM to the main process) ------------------
[ "$(unit_value KillMode)" = process ] || fail "KillMode=$(unit_value KillMode): this test stops with SIGTERM to \$MAINPID"
kill -TERM "$MAINPID"
rc=0
wait "$MAINPID" || rc=$?
[ $rc -eq 0 ] || { cat "$LOG"; fail "the daemon exit status $rc on SIGTERM"; }
ip -n "$H_NS" link set eth0 address 02:00:00:00:00:99
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "the filter stopped enforcing when the service stopped"
ip -n "$H_NS" link set eth0 address "$GW"
# A restart: the ExecStartPre lines again change nothing.
while read -r line; do
	unit_cmd "$line"
	out=$(sandboxed "${CMD[@]}" 2>&1) || fail "ExecStartPre=${line} fails on a restart: $out"
done < <(unit_values ExecStartPre)
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "gw1 cannot reach 3199 after the restart's ExecStartPre"
ok "stop: SIGTERM exits 0, the filter keeps enforcing; the ExecStartPre lines of a restart pass again"

# Leave no XDP program behind on the shared bpffs mount's side.
in_ns "$R_NS" "$EDPGATE" --pin-dir "$PIN_DIR" --state-dir "$SDIR" \
	--rules "$DEST/etc/edpgate/edpgate.rules" detach --all >/dev/null || :
