#!/usr/bin/env bash
# The kernel floor check (scripts/kernel-floor.sh) on the shipped BPF
# objects passes and names each program's need; and it fails where it must:
# a program above the stated floor, a helper the table does not list, and a
# fallback helper called without its alternative and switch.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

objs=("$BUILD/bpf/edpgate.bpf.o" "$BUILD/bpf/snoop.bpf.o")
out=$(bash "$ROOT/scripts/kernel-floor.sh" "${objs[@]}" 2>&1) || fail "the shipped objects fail the floor: $out"
echo "$out"
for p in edpgate_xdp edpgate_snoop edpgate_snoop_q; do
	grep -q "^[^ ]* *$p  *needs Linux [0-9]" <<<"$out" || fail "no floor printed for $p"
done
grep -q 'edpgate_xdp .*needs Linux 5.9 .*bpf_link.*bpf_ktime_get_coarse_ns (5.11) only where the kernel has it' <<<"$out" ||
	fail "edpgate_xdp: want 5.9 set by the XDP bpf_link, the coarse clock optional"
ok "the shipped programs are within the README's floor, each named with its need"

# Below the XDP link's 5.9, the same objects must fail, naming why.
out=$(KERNEL_FLOOR=5.8 bash "$ROOT/scripts/kernel-floor.sh" "${objs[@]}" 2>&1) && fail "passed under a 5.8 floor: $out"
grep -q 'edpgate_xdp needs Linux 5.9 (attach bpf_link.*above the floor 5.8' <<<"$out" || fail "5.8 floor: $out"
grep -q 'edpgate_snoop' <<<"$(grep 'above the floor' <<<"$out")" && fail "snoop (5.8) reported above a 5.8 floor: $out"
ok "a floor below a program's need fails naming the program and the feature"

# Tiny programs: one calls a helper the table lacks (bpf_ktime_get_tai_ns,
# 6.1), one calls the coarse clock with no fallback and no switch.
cat >"$tmp/new.bpf.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int newer(struct xdp_md *ctx) { return bpf_ktime_get_tai_ns() & 1 ? XDP_PASS : XDP_DROP; }
SEC("xdp") int coarse(struct xdp_md *ctx) { return bpf_ktime_get_coarse_ns() & 1 ? XDP_PASS : XDP_DROP; }
char LICENSE[] SEC("license") = "GPL";
C
clang -O2 -g -target bpf -I/usr/include/"$(gcc -dumpmachine)" -c "$tmp/new.bpf.c" -o "$tmp/new.bpf.o" ||
	fail "cannot build the test object"
out=$(bash "$ROOT/scripts/kernel-floor.sh" "$tmp/new.bpf.o" 2>&1) && fail "a helper not in the table passed: $out"
grep -q 'newer calls helper 208, which docs/kernel-floor.md does not list' <<<"$out" || fail "unlisted helper: $out"
grep -q 'coarse calls bpf_ktime_get_coarse_ns (5.11) without its fallback helper 5' <<<"$out" || fail "no fallback: $out"
grep -q "coarse calls bpf_ktime_get_coarse_ns (5.11) but has no .rodata switch 'coarse_clock'" <<<"$out" ||
	fail "no switch: $out"
ok "a helper the table lacks, and a fallback helper without its alternative, fail"

# The run-time probes (loader/sinks/bpf_features.c) ask for every required
# row of the table: each helper (but the optional one, probed for the
# clock switch), map type and program type, and the XDP link.
src=$ROOT/loader/sinks/bpf_features.c
missing=$(awk -F'|' '$2 ~ /^ *(helper|map|prog) *$/ {
	k = $2; n = $4; f = $6; gsub(/ /, "", k); gsub(/ /, "", n); gsub(/ /, "", f)
	if (k == "helper") { sub(/^bpf_/, "", n); n = "BPF_FUNC_" n }
	print n }' "$ROOT/docs/kernel-floor.md" | while read -r sym; do
		grep -q "\b$sym\b" "$src" || echo "$sym"
	done)
[ -z "$missing" ] || fail "bpf_features.c does not probe: $(xargs <<<"$missing")"
grep -q 'K_XDP_LINK, 0, 0, "XDP bpf_link' "$src" || fail "bpf_features.c does not probe the XDP link"
ok "the run-time probes ask for every feature of the table"
