#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Benchmarks are called by name (bench_$name), not unreachable:
# shellcheck disable=SC2317
#
# bench.sh BUILD [NAME...] - run the benchmarks (all, or the NAMEs given),
# print a summary table, and write BUILD/bench/report.md and
# BUILD/bench/results.json.
#
# Each benchmark is a function bench_NAME listed in BENCHES.  It writes its
# own files under $OUT (NAME.json, NAME.md, NAME.tsv, plots) and hands them
# over with:
#   section_add FILE        a Markdown section of the report
#   results_add NAME FILE   a JSON document, stored as results.json's NAME key
#   summary_add FILE        summary rows: benchmark<TAB>figure<TAB>value<TAB>goal<TAB>result
# It returns 0, 77 when it cannot run here (skipped), anything else on error.
# Goals are reported PASS/MISS and never fail the run: performance is
# measured, not asserted.  Only a benchmark that breaks makes the run fail.
#
# Environment: BENCH_CPU (CPU to pin to; default the idlest one),
# BENCH_PIN=0 (do not pin), BENCH_ROUNDS, BENCH_REPEAT (data path).
set -uo pipefail

BUILD=${1:-build}
[ $# -gt 0 ] && shift
OUT=$BUILD/bench

BENCHES=(datapath)
[ $# -gt 0 ] && BENCHES=("$@")

SECTIONS=()
RESULT_NAMES=()
RESULT_FILES=()
STATUS=()
SUMMARY=$OUT/summary.tsv

section_add() { SECTIONS+=("$1"); }
results_add() { RESULT_NAMES+=("$1"); RESULT_FILES+=("$2"); }
summary_add() { cat "$1" >>"$SUMMARY"; }

# The CPU that was idle longest over half a second: on a shared machine
# pinning to a CPU that something else keeps busy is worse than not
# pinning at all.
idlest_cpu() {
	local a b
	a=$(awk '/^cpu[0-9]/ { print $1, $5 + $6 }' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu[0-9]/ { print $1, $5 + $6 }' /proc/stat)
	join <(echo "$a") <(echo "$b") |
		awk '{ d = $3 - $2; if (best == "" || d > max) { max = d; best = $1 } }
		     END { sub(/^cpu/, "", best); print best }'
}

# One CPU for every timed run: a test run executes on the calling CPU, and
# staying on one keeps its caches warm and its figures comparable between
# rounds instead of mixing two CPUs' states and migrations.
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null; then
	if [ -n "${BENCH_CPU:-}" ]; then
		PIN_NOTE="timed runs pinned to CPU $BENCH_CPU with taskset"
	else
		BENCH_CPU=$(idlest_cpu)
		BENCH_CPU=${BENCH_CPU:-0}
		PIN_NOTE="timed runs pinned to CPU $BENCH_CPU (the idlest at the start) with taskset"
	fi
	pin() { taskset -c "$BENCH_CPU" "$@"; }
else
	PIN_NOTE="timed runs not pinned to a CPU"
	pin() { "$@"; }
fi

# ---- benchmarks ----

# Data path through BPF_PROG_TEST_RUN: every verdict path at 1..65,536
# gateways x destinations, against the empty XDP program.
bench_datapath() {
	local bin=$BUILD/tests/bench/bench_datapath rc

	if [ ! -x "$bin" ]; then
		echo "bench: $bin is missing; run 'make $bin'" >&2
		return 1
	fi
	pin "$bin" -r "${BENCH_ROUNDS:-7}" -n "${BENCH_REPEAT:-1000000}" \
		-j "$OUT/datapath.json" -m "$OUT/datapath.md" -S "$OUT/datapath.tsv"
	rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	plot_datapath
	section_add "$OUT/datapath.md"
	results_add datapath "$OUT/datapath.json"
	summary_add "$OUT/datapath.tsv"
}

# ns/packet against N gateways = N destinations, one line per case.
plot_datapath() {
	local dat=$OUT/datapath_scale.dat png=datapath_scale.png cases plots="" c i=2

	command -v gnuplot >/dev/null || return 0
	# One column per case, in the JSON's order, then the floor.
	cases=$(jq -r '.scales[0] as $s | .cases[] |
		select(.gateways == $s and .destinations == $s) | .case' "$OUT/datapath.json")
	jq -r '.scales[] as $n | [$n, (.cases[] | select(.gateways == $n and
		.destinations == $n) | .median_ns), .floor.median_ns] | @tsv' \
		"$OUT/datapath.json" >"$dat" || return 0
	for c in $cases; do
		plots+="'$dat' using 1:$i with linespoints title '$c', "
		i=$((i + 1))
	done
	plots+="'$dat' using 1:$i with lines dashtype 2 title 'empty XDP (floor)'"
	gnuplot <<-EOF 2>/dev/null || return 0
		set terminal pngcairo size 900,540 noenhanced
		set output '$OUT/$png'
		set title 'edpgate data path, BPF_PROG_TEST_RUN (median of rounds)'
		set xlabel 'enrolled gateways = exact destinations per family'
		set ylabel 'ns/packet'
		set logscale x 2
		set yrange [0:*]
		set key outside right
		set grid
		plot $plots
	EOF
	printf '![data path ns/packet against scale](%s)\n\n' "$png" >>"$OUT/datapath.md"
}

# ---- the run ----

main() {
	local name rc i kernel cpu commit jqargs

	mkdir -p "$OUT" || exit 1
	rm -f "$OUT"/report.md "$OUT"/results.json "$SUMMARY"
	: >"$SUMMARY"

	for name in "${BENCHES[@]}"; do
		if ! declare -F "bench_$name" >/dev/null; then
			echo "bench: no benchmark '$name' (have: $(declare -F | sed -n 's/^declare -f bench_//p' | tr '\n' ' '))" >&2
			exit 1
		fi
	done
	for name in "${BENCHES[@]}"; do
		echo "=== bench $name ($PIN_NOTE)"
		"bench_$name"
		rc=$?
		case $rc in
		0) STATUS+=("$name: ok") ;;
		77) STATUS+=("$name: skipped") ;;
		*) STATUS+=("$name: FAILED (exit $rc)") ;;
		esac
		echo
	done

	kernel=$(uname -r)
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

	# results.json: a run header plus one key per benchmark.
	jqargs=(--arg kernel "$kernel" --arg cpu "$cpu" --arg commit "$commit"
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg pin "$PIN_NOTE"
		--argjson ncpu "$(nproc)")
	jq -n "${jqargs[@]}" '{run: {date: $date, commit: $commit, kernel: $kernel,
		cpu_model: $cpu, cpus: $ncpu, pinning: $pin}}' >"$OUT/results.json"
	for i in "${!RESULT_NAMES[@]}"; do
		jq --arg k "${RESULT_NAMES[$i]}" --slurpfile v "${RESULT_FILES[$i]}" \
			'.[$k] = $v[0]' "$OUT/results.json" >"$OUT/results.json.tmp" &&
			mv "$OUT/results.json.tmp" "$OUT/results.json"
	done

	{
		echo "# edpgate benchmark report"
		echo
		echo "Commit $commit, kernel $kernel, $(nproc) x $cpu; $PIN_NOTE."
		echo "Every figure is a median of several rounds with min and max; every ratio"
		echo "compares two figures taken in the same run. Goals are reported, not enforced."
		echo
		echo "## Summary"
		echo
		echo "| benchmark | figure | value | goal | result |"
		echo "|---|---|---|---|---|"
		sed 's/^/| /; s/\t/ | /g; s/$/ |/' "$SUMMARY"
		echo
		for i in "${STATUS[@]}"; do echo "- $i"; done
		echo
		for i in "${SECTIONS[@]}"; do cat "$i"; done
	} >"$OUT/report.md"

	echo "=== summary ($PIN_NOTE)"
	{
		printf 'benchmark\tfigure\tvalue\tgoal\tresult\n'
		cat "$SUMMARY"
	} | column -t -s $'\t'
	echo
	for i in "${STATUS[@]}"; do echo "  $i"; done
	echo "report: $OUT/report.md  figures: $OUT/results.json"

	for i in "${STATUS[@]}"; do
		case $i in *FAILED*) exit 1 ;; esac
	done
	exit 0
}

main
