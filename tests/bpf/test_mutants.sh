#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The differential test has teeth: each mutant (a deliberate bug compiled
# into the XDP program with -DEDPG_MUTANT_..., see bpf/edpgate.bpf.c) must
# make test_model FAIL by disagreeing with the model, at its default seed
# and frame count, as make test runs it.
#   EXACT_DROP   an exact destination hit whose groups do not match the
#                service drops instead of falling through to the prefixes
#   LINK_LOCAL   the IPv6 source-binding exemption widened to fe80::/9
# Each mutant builds into its own directory under $BUILD (default build),
# the program and the test together (the program is a skeleton in the
# library).  Run from the top of the tree: bash tests/bpf/test_mutants.sh
set -u
build=${BUILD:-build}
mutants=(EXACT_DROP LINK_LOCAL)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: BPF_PROG_TEST_RUN needs root"; exit 77; }

rc=0
for m in "${mutants[@]}"; do
	dir=$build/mutant-$m
	log=$dir/test_model.log
	mkdir -p "$dir"
	if ! make --no-print-directory -s BUILD="$dir" BPF_EXTRA_CFLAGS="-DEDPG_MUTANT_$m" \
		"$dir/tests/bpf/test_model" >"$dir/build.log" 2>&1; then
		tail -20 "$dir/build.log"
		echo "FAIL: mutant $m does not build (log: $dir/build.log)"
		rc=1
		continue
	fi
	"$dir/tests/bpf/test_model" >"$log" 2>&1
	st=$?
	# Caught means: it ran, and failed because the program and the model
	# disagreed (not because it could not load, or a generator check).
	if [ $st -ne 0 ] && grep -q '^DISAGREE' "$log" &&
	   ! grep -q ' 0 disagreements' "$log"; then
		echo "  ok: mutant $m caught: $(grep -o '[0-9]* disagreements' "$log")"
	else
		tail -20 "$log"
		echo "FAIL: mutant $m survived test_model (exit $st, log: $log)"
		rc=1
	fi
done
exit $rc
