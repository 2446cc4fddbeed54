#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-ctl.sh BUILD OUT - control plane and memory of a site with 10,000
# gateways and 10,000 destination addresses, through the real CLI.
#
# Writes OUT/ctl.json (every sample), OUT/ctl.md, OUT/ctl.tsv (summary rows),
# OUT/memory_scale.png.  Exit 0, 77 when it cannot run here, 1 on an error.
#
# In a private network namespace (one veth, lan0) with a private bpffs, each
# round starts from nothing and times, with bench_exec (fork to reaped exit:
# the process start is part of every figure, as an administrator pays it):
#   attach lan0 --mode native; apply (10,000 addresses, no gateway);
#   gateway import of 10,000 gateways; apply again (the full site);
#   GW_ADDS single `gateway add` (process start to maps and nft updated);
#   /bin/true (what any process start costs on this machine, for scale).
# Then, on the full site: edpgate's nft push against `nft -f` of the same
# table (bench_nftpush), the RSS of `edpgate run`, and the kernel memory of
# the maps (bpftool bytes_memlock) at several --max-gateways.
#
# The 10,000 addresses are literals in the rules file (5,000 IPv4, 5,000
# IPv6): a benchmark cannot depend on a DNS server holding 10,000 answers.
#
# Environment: BENCH_CTL_ROUNDS (5), BENCH_CTL_ADDS (10 per round),
# BENCH_CTL_GATEWAYS (10000), BENCH_CTL_ADDRESSES (10000).
set -uo pipefail

BUILD=${1:?usage: bench-ctl.sh BUILD OUT}
OUT=${2:?usage: bench-ctl.sh BUILD OUT}
ROUNDS=${BENCH_CTL_ROUNDS:-5}
ADDS=${BENCH_CTL_ADDS:-10}
NGW=${BENCH_CTL_GATEWAYS:-10000}
NADDR=${BENCH_CTL_ADDRESSES:-10000}
EDPGATE=$(realpath "$BUILD/edpgate")
EXEC=$(realpath "$BUILD/tests/bench/bench_exec")
PUSH=$(realpath "$BUILD/tests/bench/bench_nftpush")
P=bc$$
NS=$P-r
TMP=$(mktemp -d "${TMPDIR:-/tmp}/edpg-bench-ctl.XXXXXX")
MOUNTED=""
HAVE_NS=""
RUN_PID=""

cleanup() {
	set +e
	if [ -n "$RUN_PID" ]; then
		kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	fi
	[ -n "$HAVE_NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench-ctl: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "bench-ctl: SKIP: needs root"; exit 77; }
for f in "$EDPGATE" "$EXEC" "$PUSH"; do
	[ -x "$f" ] || die "$f is missing; run make"
done
command -v nft >/dev/null && command -v jq >/dev/null && command -v bpftool >/dev/null ||
	{ echo "bench-ctl: SKIP: needs nft, jq and bpftool"; exit 77; }

mkdir -p "$TMP/bpffs" "$OUT" || exit 1
mount -t bpf bpf "$TMP/bpffs" || die "cannot mount a bpffs"
MOUNTED=$TMP/bpffs
ip netns add "$NS" || die "cannot create netns $NS"
HAVE_NS=1
ip -n "$NS" link set lo up
ip -n "$NS" link add lan0 type veth peer name peer0
ip -n "$NS" addr add 10.77.0.1/24 dev lan0
ip -n "$NS" link set lan0 up
ip -n "$NS" link set peer0 up

in_ns() { nsenter --net="/var/run/netns/$NS" "$@"; }

PIN=$TMP/bpffs/edpgate
STATE=$TMP/state
RULES=$TMP/site.rules
{
	echo "service edp-ssl tcp 3199"
	echo "service edp     tcp 3197"
	echo "service ntp     udp 123"
	printf 'group cloud'
	awk -v n="$NADDR" 'BEGIN {
		for (i = 0; i < n / 2; i++)
			printf " \\\n\t10.%d.%d.%d", 100 + int(i / 65536), int(i / 256) % 256, i % 256
		for (; i < n; i++)
			printf " \\\n\tfd99::%x", i
		print ""
	}'
	echo "allow edp-ssl,edp,ntp to cloud"
	echo "defaults edp-ssl,ntp"
	echo "unknown-mac drop"
	echo "non-ip drop"
} >"$RULES"
GWFILE=$TMP/gateways.import
awk -v n="$NGW" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "gateway 02:00:00:%02x:%02x:%02x name gw%d\n", int(i / 65536), int(i / 256) % 256, i % 256, i
}' >"$GWFILE"

edp() { in_ns "$EDPGATE" --pin-dir "$PIN" --state-dir "$STATE" --rules "$RULES" "$@"; }

SAMPLES=$TMP/samples.tsv	# figure round wall_ns maxrss_kib
: >"$SAMPLES"

# timed FIGURE ROUND CMD...: one bench_exec sample; the command must succeed.
timed() {
	local fig=$1 r=$2 out ns kib rc
	shift 2
	out=$(in_ns "$EXEC" "$@") || return 1
	read -r ns kib rc <<<"$out"
	if [ "$rc" != 0 ]; then
		echo "bench-ctl: $fig: '$*' exited $rc" >&2
		return 1
	fi
	printf '%s\t%s\t%s\t%s\n' "$fig" "$r" "$ns" "$kib" >>"$SAMPLES"
}
E=("$EDPGATE" --pin-dir "$PIN" --state-dir "$STATE" --rules "$RULES")

reset_site() {
	edp detach --all >/dev/null 2>&1
	rm -rf "$STATE" "$PIN"
}

HAVE_IMPORT=1
"$EDPGATE" --help 2>&1 | grep -q 'gateway .*import' || HAVE_IMPORT=0
for ((r = 0; r < ROUNDS; r++)); do
	echo " round $((r + 1))/$ROUNDS"
	reset_site
	timed attach "$r" "${E[@]}" attach lan0 --mode native || die "attach failed"
	timed apply_addresses "$r" "${E[@]}" apply || die "apply failed"
	if [ "$HAVE_IMPORT" = 1 ]; then
		timed import "$r" "${E[@]}" gateway import "$GWFILE" || die "gateway import failed"
	else
		# Without bulk enrolment, the gateways file is written directly.
		mkdir -p "$STATE"
		cp "$GWFILE" "$STATE/gateways"
	fi
	timed apply_site "$r" "${E[@]}" apply || die "apply of the full site failed"
	for ((i = 0; i < ADDS; i++)); do
		timed gateway_add "$r" "${E[@]}" gateway add "$(printf '02:01:00:00:%02x:%02x' "$r" "$i")" ||
			die "gateway add failed"
	done
	for ((i = 0; i < 3; i++)); do
		timed true "$r" /bin/true || die "/bin/true failed"
	done
done

# ---- edpgate's nft push against nft -f of the same table ----
echo " nft push vs nft -f"
in_ns "$PUSH" -r "$RULES" -s "$STATE" || die "bench_nftpush (first push) failed"
in_ns nft list table inet edpgate >"$TMP/table.nft" || die "cannot list the table"
: >"$TMP/empty.nft"
NFT_ELEMS=$(in_ns nft -j list table inet edpgate | jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add')
in_ns "$PUSH" -r "$RULES" -s "$STATE" -f "$TMP/table.nft" -e "$TMP/empty.nft" -n "$ROUNDS" >"$TMP/push.txt" ||
	die "bench_nftpush failed"
r=0
while read -r te tn t0; do
	printf 'nft_push_edpgate\t%s\t%s\t0\nnft_f\t%s\t%s\t0\nnft_f_empty\t%s\t%s\t0\n' \
		"$r" "$te" "$r" "$tn" "$r" "$t0" >>"$SAMPLES"
	r=$((r + 1))
done <"$TMP/push.txt"
edp apply >/dev/null || die "apply after the push benchmark failed"

# ---- memory: the daemon's RSS, the maps' kernel memory ----
echo " memory"
RUN_RSS=null RUN_HWM=null RUN_NOTE="edpgate run is not available; apply's peak RSS is the figure"
if "$EDPGATE" --help 2>&1 | grep -q '^  run'; then
	# nsenter execs the CLI in place: $! is edpgate's own PID.
	nsenter --net="/var/run/netns/$NS" "${E[@]}" run >"$TMP/run.log" 2>&1 &
	RUN_PID=$!
	# Settled when its RSS stops growing for a second (at most 10 s).
	prev=0
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		kill -0 "$RUN_PID" 2>/dev/null || break
		cur=$(awk '/^VmRSS/ { print $2 }' "/proc/$RUN_PID/status" 2>/dev/null)
		[ -n "$cur" ] && [ "$i" -ge 3 ] && [ "$cur" = "$prev" ] && break
		prev=${cur:-0}
	done
	if kill -0 "$RUN_PID" 2>/dev/null && [ "$(cat "/proc/$RUN_PID/comm")" = edpgate ]; then
		RUN_RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$RUN_PID/status")
		RUN_HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$RUN_PID/status")
		RUN_NOTE="edpgate run, settled: VmRSS (VmHWM = its peak)"
		kill "$RUN_PID" 2>/dev/null
		wait "$RUN_PID" 2>/dev/null
	else
		RUN_NOTE="edpgate run exited early ($(tail -n 2 "$TMP/run.log" | tr '\n' ' ')); apply's peak RSS is the figure"
	fi
	RUN_PID=""
fi

# maps_memlock PINDIR: [{name, max_entries, bytes_memlock}] of the pinned maps
maps_memlock() {
	local f
	for f in "$1"/*; do
		bpftool -j map show pinned "$f" 2>/dev/null
	done | jq -s '[.[] | select(.bytes_memlock) | {name, type, max_entries, bytes_memlock}]'
}
SITE_MAPS=$(maps_memlock "$PIN")
# Kernel memory against capacity: attach with --max-gateways N, nothing enrolled.
MEMSCALE='[]'
for cap in 1024 8192 65536; do
	rm -rf "$TMP/st_$cap"
	in_ns "$EDPGATE" --pin-dir "$TMP/bpffs/m$cap" --state-dir "$TMP/st_$cap" --rules "$RULES" \
		attach peer0 --mode generic --enforce xdp --max-gateways "$cap" >/dev/null 2>&1 ||
		{ echo "bench-ctl: attach --max-gateways $cap failed; no memory scale" >&2; break; }
	m=$(maps_memlock "$TMP/bpffs/m$cap")
	MEMSCALE=$(jq --argjson m "$m" --argjson cap "$cap" '. + [{max_gateways: $cap, total: ([$m[].bytes_memlock] | add),
		gateway_maps: ([$m[] | select(.name == "edpg_gateways" or .name == "edpg_gw_stats") | .bytes_memlock] | add),
		maps: $m}]' <<<"$MEMSCALE")
	in_ns "$EDPGATE" --pin-dir "$TMP/bpffs/m$cap" --state-dir "$TMP/st_$cap" --rules "$RULES" \
		detach peer0 >/dev/null 2>&1
	rm -rf "$TMP/bpffs/m$cap"
done

# ---- figures ----
jq -R -s --argjson rounds "$ROUNDS" --argjson ngw "$NGW" --argjson naddr "$NADDR" \
	--argjson site_maps "$SITE_MAPS" --argjson memscale "$MEMSCALE" \
	--argjson run_rss "$RUN_RSS" --argjson run_hwm "$RUN_HWM" --arg run_note "$RUN_NOTE" \
	--argjson nft_elems "${NFT_ELEMS:-0}" --argjson have_import "$HAVE_IMPORT" '
	def med: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def st: {median: med, min: min, max: max, n: length};
	(split("\n") | map(select(length > 0) | split("\t") |
		{fig: .[0], round: (.[1] | tonumber), ns: (.[2] | tonumber), kib: (.[3] | tonumber)})) as $s |
	def ms($f): [$s[] | select(.fig == $f) | .ns / 1e6] | if length > 0 then st + {samples_ms: .} else null end;
	def kib($f): [$s[] | select(.fig == $f) | .kib] | if length > 0 then st else null end;
	def rratio($x; $y): [range(0; $rounds) as $i |
		([$s[] | select(.fig == $x and .round == $i) | .ns] | add) /
		([$s[] | select(.fig == $y and .round == $i) | .ns] | add)] | st;
	($memscale | if length >= 2 then
		((.[-1].total - .[0].total) / (.[-1].max_gateways - .[0].max_gateways) * 1000) else null end) as $per1k |
	{gateways: $ngw, addresses: $naddr, rounds: $rounds, nft_elements: $nft_elems,
	 times_ms: {attach: ms("attach"), apply_addresses: ms("apply_addresses"),
		    import: (if $have_import == 1 then ms("import") else null end),
		    apply_site: ms("apply_site"), gateway_add: ms("gateway_add"),
		    process_start_bin_true: ms("true"),
		    nft_push_edpgate: ms("nft_push_edpgate"), nft_f: ms("nft_f"),
		    nft_f_empty: ms("nft_f_empty")},
	 nft_push_ratio: rratio("nft_push_edpgate"; "nft_f"),
	 peak_rss_kib: {apply_addresses: kib("apply_addresses"), import: kib("import"),
			apply_site: kib("apply_site"), gateway_add: kib("gateway_add")},
	 run: {rss_kib: $run_rss, hwm_kib: $run_hwm, note: $run_note},
	 maps: {site: {total_bytes: ([$site_maps[].bytes_memlock] | add), maps: $site_maps},
		by_capacity: $memscale, bytes_per_1000_gateways_capacity: $per1k}}
	' "$SAMPLES" >"$OUT/ctl.json" || die "cannot compute the figures"

# Goals: [name, figure, limit, pass] rows.
jq -r '
	def f2: . * 100 | round / 100;
	def pf(c): if c then "PASS" else "MISS" end;
	.times_ms as $t |
	(if $t.import then "ctl\tgateway import of \(.gateways) (incl. nft)\t\($t.import.median | f2) ms\t<= 100 ms\t\(pf($t.import.median <= 100))"
	 else "ctl\tgateway import of \(.gateways)\tn/a (no gateway import)\t<= 100 ms\tn/a" end),
	"ctl\tgateway add, process start to maps+nft (median of \($t.gateway_add.n))\t\($t.gateway_add.median | f2) ms (bin/true: \($t.process_start_bin_true.median | f2) ms)\t<= 12 ms\t\(pf($t.gateway_add.median <= 12))",
	"ctl\tapply with \(.addresses) addresses\t\($t.apply_addresses.median | f2) ms\t< 1000 ms\t\(pf($t.apply_addresses.median < 1000))",
	"ctl\tapply, \(.gateways) gateways + \(.addresses) addresses\t\($t.apply_site.median | f2) ms\t-\t-",
	"ctl\tnft push (\(.nft_elements) elements): edpgate / nft -f\t\($t.nft_push_edpgate.median | f2) vs \($t.nft_f.median | f2) ms: \(.nft_push_ratio.median | f2)x\t<= 1.0x\t\(pf(.nft_push_ratio.median <= 1.0))",
	(if .run.rss_kib then "ctl\tRSS of edpgate run (\(.gateways) gw + \(.addresses) addr)\t\(.run.rss_kib / 1024 | f2) MiB (peak \(.run.hwm_kib / 1024 | f2))\t<= 16 MiB\t\(pf(.run.rss_kib <= 16384))"
	 else "ctl\tpeak RSS of apply (\(.gateways) gw + \(.addresses) addr; no run daemon)\t\(.peak_rss_kib.apply_site.median / 1024 | f2) MiB\t<= 16 MiB\t\(pf(.peak_rss_kib.apply_site.median <= 16384))" end),
	"ctl\tkernel memory of the maps (site)\t\(.maps.site.total_bytes / 1048576 | f2) MiB\t-\t-",
	(if .maps.bytes_per_1000_gateways_capacity then "ctl\tmap memory per 1,000 gateways of capacity\t\(.maps.bytes_per_1000_gateways_capacity / 1024 | f2) KiB\t-\t-" else empty end)
' "$OUT/ctl.json" >"$OUT/ctl.tsv"

plot_memory() {
	local dat=$TMP/mem.dat
	command -v gnuplot >/dev/null || return 0
	jq -r '.maps.by_capacity[] | [.max_gateways, .total / 1048576, .gateway_maps / 1048576] | @tsv' \
		"$OUT/ctl.json" >"$dat"
	[ -s "$dat" ] || return 0
	gnuplot <<-EOF 2>/dev/null || return 0
		set terminal pngcairo size 900,540 noenhanced
		set output '$OUT/memory_scale.png'
		set title 'edpgate BPF maps: kernel memory (bpftool bytes_memlock) against --max-gateways'
		set xlabel 'gateway capacity (--max-gateways)'
		set ylabel 'MiB'
		set logscale x 2
		set yrange [0:*]
		set key left top
		set grid
		plot '$dat' using 1:2 with linespoints title 'all maps', \
		     '$dat' using 1:3 with linespoints title 'edpg_gateways + edpg_gw_stats'
	EOF
	echo '![kernel memory of the maps against capacity](memory_scale.png)'
}

{
	echo "## Control plane and memory"
	echo
	echo "A site of $NGW gateways and $NADDR destination addresses (literals in the rules file,"
	echo "half IPv4, half IPv6), through the real CLI in a private namespace with native XDP on a veth."
	echo "Each of $ROUNDS rounds starts from nothing. Times are fork to reaped exit (bench_exec):"
	echo "they include the process start, which on this machine costs what \`/bin/true\` shows."
	echo
	echo "| step | median ms | min | max | samples | peak RSS (MiB, median) |"
	echo "|---|---:|---:|---:|---:|---:|"
	jq -r '
		def f2: . * 100 | round / 100;
		[["attach lan0 --mode native", "attach", "attach"],
		 ["apply, \(.addresses) addresses, no gateway", "apply_addresses", "apply_addresses"],
		 ["gateway import of \(.gateways) (file, nft, maps)", "import", "import"],
		 ["apply, \(.gateways) gateways + \(.addresses) addresses", "apply_site", "apply_site"],
		 ["gateway add (one more gateway)", "gateway_add", "gateway_add"],
		 ["/bin/true (process start on this machine)", "process_start_bin_true", ""],
		 ["nft push in edpgate (build + transaction, in process)", "nft_push_edpgate", ""],
		 ["nft -f of the same table (a process)", "nft_f", ""],
		 ["nft -f of an empty file (nft start-up)", "nft_f_empty", ""]][] as $row |
		.times_ms[$row[1]] as $t | .peak_rss_kib[$row[2]] as $k |
		if $t then "| \($row[0]) | \($t.median | f2) | \($t.min | f2) | \($t.max | f2) | \($t.n) | \(if $k then ($k.median / 1024 | f2) else "-" end) |"
		else "| \($row[0]) | n/a | | | | |" end' "$OUT/ctl.json"
	echo
	jq -r 'def f2: . * 100 | round / 100;
		"The nft comparison creates the same table (\(.nft_elements) set elements plus the chains) from none, " +
		"alternating edpgate and `nft -f` in each round; its ratio is the median of per-round ratios: " +
		"**\(.nft_push_ratio.median | f2)x** (min \(.nft_push_ratio.min | f2), max \(.nft_push_ratio.max | f2)). " +
		"edpgate is timed in process, `nft -f` as a process; nft'"'"'s start-up alone is the empty-file row.\n\n" +
		"Memory: \(.run.note): " +
		(if .run.rss_kib then "**\(.run.rss_kib / 1024 | f2) MiB** (peak \(.run.hwm_kib / 1024 | f2) MiB)" else "see the peak RSS column" end) +
		". Kernel memory of the site'"'"'s maps (bpftool bytes_memlock): **\(.maps.site.total_bytes / 1048576 | f2) MiB**; " +
		"the maps are sized by capacity (--max-gateways), not by the number enrolled:\n"' "$OUT/ctl.json"
	echo
	echo "| --max-gateways | all maps (MiB) | edpg_gateways + edpg_gw_stats (MiB) |"
	echo "|---:|---:|---:|"
	jq -r '.maps.by_capacity[] | "| \(.max_gateways) | \(.total / 1048576 * 100 | round / 100) | \(.gateway_maps / 1048576 * 100 | round / 100) |"' "$OUT/ctl.json"
	jq -r 'if .maps.bytes_per_1000_gateways_capacity then "\nPer 1,000 gateways of capacity: **\(.maps.bytes_per_1000_gateways_capacity / 1024 | round) KiB** of kernel memory (slope between the smallest and the largest capacity).\n" else "" end' "$OUT/ctl.json"
	echo
	echo "| map (site) | type | max_entries | bytes_memlock |"
	echo "|---|---|---:|---:|"
	jq -r '.maps.site.maps[] | "| \(.name) | \(.type) | \(.max_entries) | \(.bytes_memlock) |"' "$OUT/ctl.json"
	echo
	plot_memory
	echo
} >"$OUT/ctl.md"
exit 0
