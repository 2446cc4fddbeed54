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
# BENCH_PIN=0 (do not pin), BENCH_ROUNDS, BENCH_REPEAT (data path); the
# helper scripts scripts/bench-*.sh read their own (see their headers).
#
# To add a benchmark: define bench_NAME below (before "the run") and add
# NAME to BENCHES.
set -uo pipefail

BUILD=${1:-build}
[ $# -gt 0 ] && shift
OUT=$BUILD/bench

BENCHES=(datapath memory live ctl snoop fleet)
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

# Kernel memory of the maps at 16..65,536 gateways, with the default
# capacity and with --max-gateways sized to the site, measured here and
# computed for 2, 4 and 16 CPUs.  Loads and pins in a private bpffs.
bench_memory() {
	local bin=$BUILD/tests/bench/bench_memory tmp rc

	[ "$(id -u)" -eq 0 ] || { echo "bench memory: needs root" >&2; return 77; }
	if [ ! -x "$bin" ]; then
		echo "bench: $bin is missing; run 'make $bin'" >&2
		return 1
	fi
	tmp=$(mktemp -d) || return 1
	mount -t bpf bpf "$tmp" || { rmdir "$tmp"; return 1; }
	"$bin" -p "$tmp" -j "$OUT/memory.json" -m "$OUT/memory.md" -S "$OUT/memory.tsv"
	rc=$?
	umount "$tmp" && rmdir "$tmp"
	[ "$rc" -eq 0 ] || return "$rc"
	section_add "$OUT/memory.md"
	results_add memory "$OUT/memory.json"
	summary_add "$OUT/memory.tsv"
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

# Snoop-to-allow latency: 1,000 DNS answers, each with a new address, sent
# from a router netns to an enrolled gateway; each is timed from the TC
# egress hook (bpf_ktime_get_ns in the snooper) to the end of the push
# (nft transaction + BPF map update) in `edpgate run -v`.  Plus the wall
# time of `edpgate apply` resolving every shipped name (from a dnsmasq in
# the netns) and pushing.  Everything lives in two netns and a private
# bpffs, removed on return.
bench_snoop() {
	local ns=bsn$$ edp=$BUILD/edpgate tmp rc=0 dpid="" npid="" i n med p99 t0 t1 apply_ms
	local rules names

	[ "$(id -u)" -eq 0 ] || { echo "bench snoop: needs root" >&2; return 77; }
	command -v dnsmasq >/dev/null || { echo "bench snoop: no dnsmasq" >&2; return 77; }
	tmp=$(mktemp -d) || return 1
	mkdir "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs" || { rmdir "$tmp/bpffs"; rm -rf "$tmp"; return 1; }
	# shellcheck disable=SC2317 # called through the RETURN trap
	snoop_cleanup() {
		[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
		[ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
		ip netns del "$ns-r" 2>/dev/null
		ip netns del "$ns-h" 2>/dev/null
		umount "$tmp/bpffs" 2>/dev/null
		rm -rf "$tmp"
		trap - RETURN
	}
	trap snoop_cleanup RETURN
	ip netns add "$ns-r" && ip netns add "$ns-h" || return 1
	ip link add "${ns}r" netns "$ns-r" type veth peer name "${ns}h" netns "$ns-h" || return 1
	ip -n "$ns-r" link set "${ns}r" name lan0
	ip -n "$ns-h" link set "${ns}h" name eth0
	ip -n "$ns-h" link set eth0 address 00:40:9d:00:00:42
	ip -n "$ns-r" addr add 10.88.0.1/24 dev lan0
	# The answers come from .3: dnsmasq holds port 53 on .1.
	ip -n "$ns-r" addr add 10.88.0.3/24 dev lan0
	ip -n "$ns-h" addr add 10.88.0.2/24 dev eth0
	for i in r h; do ip -n "$ns-$i" link set lo up; done
	ip -n "$ns-r" link set lan0 up
	ip -n "$ns-h" link set eth0 up
	ip -n "$ns-r" neigh replace 10.88.0.2 lladdr 00:40:9d:00:00:42 dev lan0

	# The shipped rules, with the NTP group allowed enough addresses per
	# name for 1,000 distinct answers (no eviction in the figure).
	rules=$tmp/edpgate.rules
	sed 's/^group ntp grace 2048/group ntp max-addrs 1024 grace 2048/' rules/devicecloud.rules >"$rules"
	# The names, as edpgate reads them (dst list needs no attached program).
	names=$("$edp" -j --rules "$rules" --state-dir "$tmp/names" dst list 2>/dev/null |
		jq -r '.groups[].names[].name' | grep -v '^@' | grep '[a-z]$' | sort -u)
	{
		echo "no-resolv"; echo "no-hosts"; echo "bind-interfaces"
		echo "listen-address=10.88.0.1"; echo "local=/#/"; echo "pid-file="
		i=10
		for n in $names; do echo "host-record=$n,192.0.2.$i"; i=$((i + 1)); done
	} >"$tmp/dnsmasq.conf"
	ip netns exec "$ns-r" dnsmasq --keep-in-foreground --conf-file="$tmp/dnsmasq.conf" \
		>"$tmp/dnsmasq.log" 2>&1 &
	npid=$!
	sleep 0.5
	set -- nsenter --net="/var/run/netns/$ns-r" "$edp" --pin-dir "$tmp/bpffs/edpgate" \
		--state-dir "$tmp/state" --rules "$rules" --resolver 10.88.0.1
	"$@" attach lan0 >/dev/null 2>"$tmp/attach.log" || { cat "$tmp/attach.log" >&2; return 1; }
	"$@" gateway add 00:40:9d:00:00:42 >/dev/null 2>&1 || return 1
	# Resolution of every shipped name + full push, 5 times.
	: >"$tmp/apply.ms"
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"$@" apply >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >>"$tmp/apply.ms"
	done
	apply_ms=$(sort -n "$tmp/apply.ms" | sed -n 3p)

	"$@" -v run >"$tmp/run.log" 2>&1 &
	dpid=$!
	for i in $(seq 50); do grep -q "edpgate run:" "$tmp/run.log" && break; sleep 0.1; done
	sleep 1
	# 1,000 answers for 0.idigi.pool.ntp.org, 10.201.x.y each, 3 ms apart
	# (the figure is the latency of one answer, not of a queue), each after
	# the gateway's question (the daemon takes only answers to questions
	# it saw): one process, one socket in each namespace (setns between).
	NS_H="/var/run/netns/$ns-h" pin nsenter --net="/var/run/netns/$ns-r" /usr/bin/python3 - <<-'PY' || return 1
	import ctypes, os, socket, struct, time
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("10.88.0.3", 53))
	fd = os.open(os.environ["NS_H"], os.O_RDONLY)
	if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
	    raise OSError(ctypes.get_errno(), "setns")
	g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	g.bind(("10.88.0.2", 5353))
	q = b"".join(bytes([len(l)]) + l.encode() for l in "0.idigi.pool.ntp.org".split(".")) + b"\0"
	for i in range(1000):
	    g.sendto(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1),
	             ("10.88.0.3", 53))
	    m = struct.pack("!HHHHHH", i, 0x8180, 1, 1, 0, 0) + q + struct.pack("!HH", 1, 1)
	    m += struct.pack("!HHHIH", 0xc00c, 1, 1, 300, 4) + bytes([10, 201, i // 256, i % 256])
	    s.sendto(m, ("10.88.0.2", 5353))
	    time.sleep(0.003)
	PY
	for i in $(seq 50); do
		[ "$(grep -c 'snoop-to-map' "$tmp/run.log")" -ge 1000 ] && break
		sleep 0.1
	done
	sed -n 's/.*snoop-to-map \([0-9]*\) us/\1/p' "$tmp/run.log" | sort -n >"$tmp/lat"
	n=$(wc -l <"$tmp/lat")
	[ "$n" -gt 0 ] || { echo "bench snoop: no answer was snooped" >&2; tail "$tmp/run.log" >&2; return 1; }
	med=$(awk -v n="$n" 'NR == int((n + 1) / 2)' "$tmp/lat")
	p99=$(awk -v n="$n" 'NR == int(n * 0.99 + 0.999)' "$tmp/lat")
	{
		printf 'snoop\tsnooped answer -> address in BPF+nft, median (%s answers)\t%s us\t\t\n' "$n" "$med"
		printf 'snoop\tsnooped answer -> address in BPF+nft, p99\t%s us\t<= 2000 us\t%s\n' "$p99" \
			"$([ "$p99" -le 2000 ] && echo PASS || echo MISS)"
		printf 'snoop\tresolve all shipped names + full push (apply), median of 5\t%s ms\t\t\n' "$apply_ms"
	} >"$OUT/snoop.tsv"
	jq -n --argjson n "$n" --argjson med "$med" --argjson p99 "$p99" --argjson apply "$apply_ms" \
		'{answers: $n, median_us: $med, p99_us: $p99, goal_p99_us: 2000, apply_wall_ms: $apply}' \
		>"$OUT/snoop.json"
	{
		echo "## DNS snooping"
		echo
		echo "$n DNS answers, each with a new address for 0.idigi.pool.ntp.org, sent 3 ms apart"
		echo "from the router netns to an enrolled gateway; timed from the TC egress hook"
		echo "(bpf_ktime_get_ns) to the end of the push (one nft transaction and the BPF map"
		echo "update) in \`edpgate run\`: median $med us, p99 $p99 us (goal p99 <= 2000 us)."
		echo "\`edpgate apply\` (resolve every shipped name from a local dnsmasq, compile, full"
		echo "push): $apply_ms ms wall time (median of 5)."
		echo
	} >"$OUT/snoop.md"
	section_add "$OUT/snoop.md"
	results_add snoop "$OUT/snoop.json"
	summary_add "$OUT/snoop.tsv"
	return $rc
}

# Live traffic (scripts/bench-live.sh): pps received behind XDP_DROP,
# edpgate (XDP and --enforce nft) and nftables alone, side by side.
bench_live() {
	local rc

	[ -x "$BUILD/tests/bench/bench_live" ] || { echo "bench: $BUILD/tests/bench/bench_live is missing" >&2; return 1; }
	# The generator is pinned inside the script (the setup is not).
	if [ "${BENCH_PIN:-1}" != 0 ]; then
		BENCH_CPU=$BENCH_CPU bash scripts/bench-live.sh "$BUILD" "$OUT"
	else
		BENCH_CPU='' bash scripts/bench-live.sh "$BUILD" "$OUT"
	fi
	rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	section_add "$OUT/live.md"
	results_add live "$OUT/live.json"
	summary_add "$OUT/live.tsv"
}

# Control plane and memory (scripts/bench-ctl.sh): import, add, apply, nft
# push against nft -f, RSS of the daemon, kernel memory of the maps.
bench_ctl() {
	local rc

	pin bash scripts/bench-ctl.sh "$BUILD" "$OUT"
	rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	section_add "$OUT/ctl.md"
	results_add ctl "$OUT/ctl.json"
	summary_add "$OUT/ctl.tsv"
}

bench_fleet() {
	local rc

	bash scripts/bench-fleet.sh "$BUILD" "$OUT"
	rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	section_add "$OUT/fleet.md"
	results_add fleet "$OUT/fleet.json"
	summary_add "$OUT/fleet.tsv"
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
