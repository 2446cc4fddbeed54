#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The Debian package, on this machine:
#  - `make deb` builds edpgate_VERSION_ARCH.deb; lintian reports no error;
#    Depends names the libraries the binary links (libbpf, libnftnl, libmnl,
#    c-ares, json-c, libc, and libcurl, loaded for a store) and Build-Depends
#    the -dev packages the build uses;
#    /etc/edpgate/edpgate.rules is its one conffile;
#  - apt installs it: every file with its mode, /var/lib/edpgate 0700, no
#    /etc/edpgate/interfaces, so the unit's conditions fail (systemd would
#    skip it: not started) until an interface is configured;
#  - the installed binary checks the shipped rules and runs a lab flow set
#    (scripts/lab.sh, native XDP): every flow as expected, `doctor` reports
#    the kernel with nothing missing;
#  - an edited rules file survives a reinstall; `dpkg -r` takes down an
#    attached filter (in a namespace of its own), removes the program and
#    keeps the configuration and the state; `dpkg -P` removes
#    those too; afterwards no file of the package is left on the machine.
# It refuses to run (fails) where edpgate is already installed, rather than
# overwrite it.  The lab runs in its own namespaces and bpffs, so the
# host's network, nft ruleset and /sys/fs/bpf are never touched.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export TMPDIR=${TMPDIR:-/tmp}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in dpkg dpkg-deb apt-get lintian systemd-analyze; do
	command -v "$c" >/dev/null || { echo "FAIL: no $c (scripts/deps.sh installs it)"; exit 1; }
done

# The paths the package owns or its scripts and debhelper's create.
TRACES=(/usr/sbin/edpgate /etc/edpgate /var/lib/edpgate /lib/systemd/system/edpgate.service
	/usr/share/man/man8/edpgate.8.gz /usr/share/man/man5/edpgate.rules.5.gz
	/usr/share/bash-completion/completions/edpgate /usr/share/doc/edpgate
	/etc/systemd/system/multi-user.target.wants/edpgate.service
	/var/lib/systemd/deb-systemd-helper-enabled/edpgate.service
	/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/edpgate.service)
traces() {
	local p
	for p in "${TRACES[@]}"; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done
	ls /var/lib/dpkg/info/edpgate.* 2>/dev/null
	return 0
}
if dpkg-query -W edpgate >/dev/null 2>&1 || [ -n "$(traces)" ]; then
	echo "FAIL: edpgate is already on this machine ($(traces | xargs)); this test installs and purges the package, so it will not run over it"
	exit 1
fi

LAB=dpk$$
EDPGATE=/usr/sbin/edpgate
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
# dpkg and apt wait for the package lock (another apt run on the machine).
APT=(apt-get -qq -o DPkg::Lock::Timeout=300)
dpkg_locked() { wait_lock dpkg "$@"; }
wait_lock() {
	local i
	for i in $(seq 300); do
		"$@" >"$TMPDIR/$LAB.dpkg.log" 2>&1 && return 0
		grep -q 'lock' "$TMPDIR/$LAB.dpkg.log" || { cat "$TMPDIR/$LAB.dpkg.log"; return 1; }
		sleep 1
	done
	cat "$TMPDIR/$LAB.dpkg.log"
	return 1
}

cleanup() {
	local rc=$?
	set +e
	lf_down
	if dpkg-query -W edpgate >/dev/null 2>&1; then
		dpkg_locked --purge edpgate
	fi
	rm -f "$TMPDIR/$LAB.dpkg.log"
	[ -z "$(traces)" ] || echo "FAIL left behind: $(traces | xargs)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------
# Build and lint.
if ! make -s -C "$ROOT" deb >"$TMPDIR/$LAB.build.log" 2>&1; then
	cat "$TMPDIR/$LAB.build.log"
	rm -f "$TMPDIR/$LAB.build.log"
	echo "FAIL make deb"
	exit 1
fi
rm -f "$TMPDIR/$LAB.build.log"
arch=$(dpkg --print-architecture)
ver=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
DEB=$ROOT/build/deb/edpgate_${ver}_${arch}.deb
[ -f "$DEB" ] || { bad "no $DEB"; exit 1; }
ok "make deb: $(basename "$DEB")"

lintian --fail-on error "$DEB" >"$TMPDIR/$LAB.lint" 2>&1
rc=$?
lint=$(grep -v 'running with root privileges' "$TMPDIR/$LAB.lint")
rm -f "$TMPDIR/$LAB.lint"
if [ "$rc" -eq 0 ] && ! grep -q '^E:' <<<"$lint"; then ok "lintian: no error${lint:+ ($(grep -c '^[WI]:' <<<"$lint") warnings/notes)}"
else bad "lintian: $lint"; fi

deps=$(dpkg-deb -f "$DEB" Depends)
# libcurl4 is loaded with dlopen when a store is configured (loader/store/
# etcd.c), so no NEEDED entry brings it: Depends must name it.
for lib in libbpf1 libnftnl11 libmnl0 libc-ares2 libc6 libjson-c5 libcurl4; do
	grep -qE "(^|, )$lib( |,|$)" <<<"$deps" || bad "Depends lacks $lib: $deps"
done
# Every library the binary links is in Depends, through its package.
dpkg-deb -x "$DEB" "$TMPDIR/$LAB.x"
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for so in $(objdump -p "$TMPDIR/$LAB.x/usr/sbin/edpgate" | awk '$1 == "NEEDED" { print $2 }'); do
	pkg=$(dpkg -S "/usr/lib/$ma/$so" "/lib/$ma/$so" 2>/dev/null | head -1 | cut -d: -f1)
	if [ -z "$pkg" ] || ! grep -qE "(^|, )$pkg( |,|$)" <<<"$deps"; then
		bad "the binary links $so (package ${pkg:-?}) but Depends is: $deps"
	fi
done
rm -rf "$TMPDIR/$LAB.x"
bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$ROOT/debian/control")
for dev in libbpf-dev libnftnl-dev libmnl-dev libc-ares-dev libelf-dev zlib1g-dev libjson-c-dev libcurl4-openssl-dev clang:native llvm:native bpftool:native; do
	grep -q "$dev" <<<"$bdeps" || bad "Build-Depends lacks $dev"
done
(cd "$ROOT" && dpkg-checkbuilddeps) || bad "dpkg-checkbuilddeps: Build-Depends not met here"
[ "$(dpkg-deb -f "$DEB" Architecture)" = "$arch" ] || bad "Architecture is not $arch"
conff=$(dpkg-deb -I "$DEB" conffiles)
[ "$conff" = /etc/edpgate/edpgate.rules ] || bad "conffiles: '$conff', want /etc/edpgate/edpgate.rules"
[ $fails -eq 0 ] && ok "Depends: $deps; Build-Depends met; conffile: $conff"

# ---------------------------------------------------------------------
# Install (apt: it resolves Depends like on a fresh router).
if ! "${APT[@]}" install -y --no-install-recommends "$DEB" >"$TMPDIR/$LAB.dpkg.log" 2>&1; then
	cat "$TMPDIR/$LAB.dpkg.log"
	bad "apt-get install $DEB"
	exit 1
fi
for f in "755 /usr/sbin/edpgate" "644 /lib/systemd/system/edpgate.service" \
	"644 /etc/edpgate/edpgate.rules" "644 /usr/share/man/man8/edpgate.8.gz" \
	"644 /usr/share/man/man5/edpgate.rules.5.gz" "644 /usr/share/bash-completion/completions/edpgate" \
	"700 /var/lib/edpgate"; do
	# shellcheck disable=SC2086 # two words: mode and path
	set -- $f
	[ -e "$2" ] || { bad "install did not create $2"; continue; }
	[ "$(stat -c %a "$2")" = "$1" ] || bad "$2 has mode $(stat -c %a "$2"), want $1"
done
cmp -s /etc/edpgate/edpgate.rules "$ROOT/rules/devicecloud.rules" || bad "installed rules differ from rules/devicecloud.rules"
grep -q '^ExecStart=/usr/sbin/edpgate run$' /lib/systemd/system/edpgate.service || bad "the unit does not run /usr/sbin/edpgate"
[ "$(man -w edpgate 2>/dev/null)" = /usr/share/man/man8/edpgate.8.gz ] || bad "man edpgate does not find the page"
[ $fails -eq 0 ] && ok "installed: files and modes, /var/lib/edpgate 0700"

# Not started without an interface: the unit's conditions, evaluated by
# systemd itself, fail until /etc/edpgate/interfaces exists.
unit_conditions() {
	local -a c
	mapfile -t c < <(grep '^Condition' /lib/systemd/system/edpgate.service)
	[ ${#c[@]} -gt 0 ] || { echo "the unit has no Condition"; return 2; }
	systemd-analyze condition "${c[@]}" >/dev/null 2>&1
}
[ ! -e /etc/edpgate/interfaces ] || bad "the package ships /etc/edpgate/interfaces"
unit_conditions && bad "with no interface configured the unit's conditions pass (it would start)"
echo 'lan0 mode native' >/etc/edpgate/interfaces
unit_conditions || bad "with an interface configured the unit's conditions fail"
rm /etc/edpgate/interfaces
[ $fails -eq 0 ] && ok "the unit's conditions: skipped with no interface configured, met with one"

# ---------------------------------------------------------------------
# The installed binary: check, then the lab.
if out=$("$EDPGATE" check /etc/edpgate/edpgate.rules 2>/dev/null) && grep -q ': ok: ' <<<"$out"; then
	ok "installed edpgate check: $out"
else
	bad "installed edpgate check: $out"
fi

LF_RULES=/etc/edpgate/edpgate.rules
if ! lf_up; then bad "lab up"; exit 1; fi
if lf_attach native >/dev/null && lf_enroll >/dev/null; then
	n=0
	for i in "${!LAB_FLOWS[@]}"; do
		lf_run_flow "$i" native || { bad "flow $i could not run"; continue; }
		if [ "$LF_OK" = 0 ]; then n=$((n + 1)); else bad "$LF_NAME: $LF_OBS (want $LF_EXPECT), $LF_COUNTER moved by $LF_DELTA"; fi
	done
	[ "$n" -eq "${#LAB_FLOWS[@]}" ] && ok "installed binary, native XDP: all $n lab flows as expected"
	lab_edp verify >/dev/null || bad "verify with the installed binary"
	doc=$(lab_edp -j doctor) || bad "doctor with the installed binary"
	if jq -e --arg r "$(uname -r)" '.kernel.release == $r and .kernel.floor == "5.10" and (.kernel.missing | length) == 0' \
		<<<"$doc" >/dev/null; then
		ok "doctor: kernel $(uname -r), floor 5.10, nothing missing"
	else
		bad "doctor's kernel block: $(jq -c .kernel <<<"$doc" 2>/dev/null || echo "$doc")"
	fi
else
	bad "attach and enrol with the installed binary"
fi
lf_down

# ---------------------------------------------------------------------
# Conffile, remove, purge.
echo "# site edit" >>/etc/edpgate/edpgate.rules
cp /etc/edpgate/edpgate.rules "$TMPDIR/$LAB.edited"
dpkg_locked --force-confold -i "$DEB" || bad "reinstall"
if cmp -s /etc/edpgate/edpgate.rules "$TMPDIR/$LAB.edited"; then
	ok "reinstall keeps the edited rules"
else
	bad "reinstall replaced the edited rules"
fi
echo 'lan0 mode native' >/etc/edpgate/interfaces
echo state >/var/lib/edpgate/marker

# dpkg -r with a filter attached: prerm takes it down, since the command
# that manages it goes.  In a mount and network namespace of its own, with
# its own bpffs on /sys/fs/bpf, so the host's are never touched.
export -f wait_lock dpkg_locked
export LAB TMPDIR
# shellcheck disable=SC2016 # expanded by the inner shell
out=$(unshare --mount --net --propagation private bash -c '
	mount -t bpf bpf /sys/fs/bpf && ip link set lo up || exit 1
	err=$(/usr/sbin/edpgate attach lo --mode generic 2>&1 >/dev/null) || { echo "attach lo: $err"; exit 1; }
	if [ ! -s /var/lib/edpgate/interfaces ] || [ ! -e /sys/fs/bpf/edpgate/prog ] ||
		! ip -d link show lo | grep -q "prog/xdp"; then
		echo "attach lo did not take"; exit 1
	fi
	dpkg_locked -r edpgate || { echo "dpkg -r failed"; exit 1; }
	[ ! -e /sys/fs/bpf/edpgate ] || { echo "pins left: $(ls /sys/fs/bpf/edpgate | xargs)"; exit 1; }
	! ip -d link show lo | grep -q "prog/xdp" || { echo "XDP left on lo"; exit 1; }
	! nft list table inet edpgate >/dev/null 2>&1 || { echo "nft table left"; exit 1; }
	[ ! -e /var/lib/edpgate/interfaces ] || { echo "the record of attached interfaces left"; exit 1; }
	echo detached' 2>&1)
[ "$out" = detached ] || bad "dpkg -r with a filter attached: $out"
[ "$(dpkg-query -W -f='${Status}' edpgate 2>/dev/null)" = "deinstall ok config-files" ] ||
	bad "after dpkg -r the status is '$(dpkg-query -W -f='${Status}' edpgate 2>/dev/null)'"
for p in /usr/sbin/edpgate /lib/systemd/system/edpgate.service /usr/share/man/man8/edpgate.8.gz; do
	[ -e "$p" ] && bad "dpkg -r left $p"
done
cmp -s /etc/edpgate/edpgate.rules "$TMPDIR/$LAB.edited" || bad "dpkg -r did not keep the edited rules"
[ -f /etc/edpgate/interfaces ] || bad "dpkg -r removed /etc/edpgate/interfaces"
if [ ! -f /var/lib/edpgate/marker ] || [ "$(stat -c %a /var/lib/edpgate)" != 700 ]; then
	bad "dpkg -r did not keep /var/lib/edpgate"
fi
rm -f "$TMPDIR/$LAB.edited"
[ $fails -eq 0 ] && ok "dpkg -r: filter taken down; program gone; rules, interfaces and state kept"

dpkg_locked -P edpgate || bad "dpkg -P"
dpkg-query -W edpgate >/dev/null 2>&1 && bad "dpkg -P: the package is still known to dpkg"
left=$(traces)
if [ -z "$left" ]; then
	ok "dpkg -P: configuration and state gone, no file of the package left"
else
	bad "dpkg -P left: $(xargs <<<"$left")"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
