#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# arm64: `make ARCH=arm64` cross-builds the loader against Debian's arm64
# libraries (multiarch) into $BUILD/arm64; `file` says the binary is an
# aarch64 ELF; its BPF objects are byte for byte those of the native build
# (BPF bytecode has no host architecture: both are built by the same clang
# from the same sources and UAPI headers); the arm64 unit tests and
# `edpgate check` of every shipped rules file (and of a broken one, which
# must fail at its line and column) run under qemu-aarch64-static.
#
# Left out under qemu: test_nft_kernel, which talks to the kernel's
# nf_tables over netlink; qemu-user refuses NETLINK_NETFILTER sockets
# (EPROTONOSUPPORT), so it runs natively only (unit and e2e suites).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ARM=$BUILD/arm64
QEMU=${QEMU:-qemu-aarch64-static}
QEMU_ONLY_NATIVE="test_nft_kernel"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
command -v "$QEMU" >/dev/null || fail "no $QEMU (scripts/deps.sh installs qemu-user-static)"

make -s -C "$ROOT" --no-print-directory BUILD="$BUILD" all >/dev/null || fail "native build"
make -s -C "$ROOT" --no-print-directory ARCH=arm64 BUILD="$ARM" all unit-bins >/dev/null ||
	fail "make ARCH=arm64 (cross toolchain and :arm64 libraries: scripts/deps.sh)"

what=$(file -b "$ARM/edpgate")
grep -q 'ELF 64-bit LSB .*ARM aarch64' <<<"$what" || fail "build/arm64/edpgate is not an aarch64 ELF: $what"
ok "make ARCH=arm64: edpgate is $(cut -d, -f1-2 <<<"$what")"

n=0
for o in "$BUILD"/bpf/*.bpf.o; do
	b=$(basename "$o")
	cmp -s "$o" "$ARM/bpf/$b" || fail "$b differs between the native and the arm64 build"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "no BPF objects compared"
ok "the $n BPF objects are identical in both builds ($(cd "$BUILD/bpf" && sha256sum edpgate.bpf.o | cut -c1-16)... edpgate.bpf.o)"

pass=0
for t in "$ARM"/tests/unit/test_*; do
	name=$(basename "$t")
	case " $QEMU_ONLY_NATIVE " in *" $name "*) continue ;; esac
	file -b "$t" | grep -q 'ARM aarch64' || fail "$name is not an aarch64 binary"
	if ! out=$("$QEMU" "$t" 2>&1); then
		echo "$out" | tail -20
		fail "arm64 $name under qemu"
	fi
	pass=$((pass + 1))
done
[ "$pass" -ge 10 ] || fail "only $pass arm64 unit tests ran"
ok "$pass arm64 unit tests pass under $QEMU"

for r in "$ROOT"/rules/*.rules; do
	out=$("$QEMU" "$ARM/edpgate" check "$r" 2>/dev/null) || fail "arm64 edpgate check $r"
	grep -q ': ok: ' <<<"$out" || fail "arm64 edpgate check $r: $out"
	native=$("$BUILD/edpgate" check "$r" 2>/dev/null)
	[ "$out" = "$native" ] || fail "arm64 and native check differ on $r: '$out' vs '$native'"
	echo "   $out"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'service edp-ssl tcp 3199\nallow edp-ssl to nowhere\n' >"$tmp/bad.rules"
if out=$("$QEMU" "$ARM/edpgate" check "$tmp/bad.rules" 2>&1); then
	fail "arm64 edpgate check passed a broken file: $out"
fi
grep -q "bad.rules:2:[0-9]*: " <<<"$out" || fail "arm64 check of a broken file: no FILE:LINE:COL: $out"
ok "arm64 edpgate check: the shipped rules as natively, a broken file refused at its position"

# The arm64 package: cross-built by dpkg-buildpackage -aarm64, lint-clean,
# for arm64, with the aarch64 binary and the same Depends as the native one.
make -s -C "$ROOT" --no-print-directory deb ARCH=arm64 BUILD="$ARM" >"$tmp/deb.log" 2>&1 ||
	{ tail -30 "$tmp/deb.log"; fail "make deb ARCH=arm64"; }
ver=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
deb=$ARM/deb/edpgate_${ver}_arm64.deb
[ -f "$deb" ] || fail "make deb ARCH=arm64 made no $deb"
[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || fail "$deb: Architecture $(dpkg-deb -f "$deb" Architecture)"
lintian --fail-on error "$deb" >"$tmp/lint" 2>&1 || { cat "$tmp/lint"; fail "lintian $deb"; }
! grep -q '^E:' "$tmp/lint" || fail "lintian errors: $(grep '^E:' "$tmp/lint")"
dpkg-deb -x "$deb" "$tmp/x"
file -b "$tmp/x/usr/sbin/edpgate" | grep -q 'ARM aarch64' || fail "the arm64 package's binary is not aarch64"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libnftnl11 libmnl0 libc-ares2 libc6; do
	grep -qE "(^|, )$lib( |,|$)" <<<"$deps" || fail "arm64 Depends lacks $lib: $deps"
done
ok "make deb ARCH=arm64: $(basename "$deb"), lintian clean of errors, aarch64 binary, Depends: $deps"
