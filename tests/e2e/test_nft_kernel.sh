#!/usr/bin/env bash
# The nft sink against the kernel: build/tests/unit/test_nft_kernel creates
# its own private network namespace (unshare), applies the table through
# libnftnl, reads it back with the real `nft -j` + jq, checks deltas, a
# 20,000-element set, verify before/after tampering with `nft delete
# element`, and an error reported in words.  The host ruleset is never
# touched; the namespace and its table vanish with the process.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/tests/unit/test_nft_kernel

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null && command -v jq >/dev/null || { echo "SKIP: needs nft and jq"; exit 77; }
# `make e2e` does not build unit binaries; build just this one.
make -C "$ROOT" --no-print-directory -s "build/tests/unit/test_nft_kernel" >/dev/null
# Belt and braces: also run it in a namespace of its own from the outside.
exec unshare --net "$BIN"
