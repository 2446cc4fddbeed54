#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench-fleet.sh BUILD OUT - the shared store: enrolment propagation and a
# simulated fleet, on a real 3-member etcd cluster (Debian etcd-server) in
# a private network namespace.
#
# Writes OUT/fleet.json, OUT/fleet.md, OUT/fleet.tsv (summary rows).
# Exit 0, 77 when it cannot run here, 1 on an error.
#
#  1. Propagation to a real router: one router (veth lan0, native XDP,
#     private bpffs) runs `edpgate run` on site bench-0; ENROLS (1,000)
#     enrolments one after another (each as `gateway add` does it: read the
#     site's list, add a line, chunks + pointer flip); each is timed from
#     the flip's answer to the gateway being in the router's BPF map
#     (bench_fleet polls it every 100 us): the watch, the fetch, the local
#     file, the daemon's reload and full push.  Baseline in the same run:
#     one etcd put round trip.
#  2. A simulated fleet: SITES (50) sites of GATEWAYS (200) gateways each
#     imported through the CLI, watched by one simulated router per site
#     (bench_fleet watch: the daemon's store threads, no XDP); then
#     FLEET_ENROLS (200) enrolments at sites in turn, each timed from its
#     flip to the site's router applying it.  Reported: the routers' RSS,
#     etcd's CPU time, RSS and database size over the run, and p50/p99.
#
# Environment: BENCH_FLEET_ENROLS, BENCH_FLEET_SITES, BENCH_FLEET_GATEWAYS,
# BENCH_FLEET_ENROLS2.
set -uo pipefail

BUILD=${1:?usage: bench-fleet.sh BUILD OUT}
OUT=${2:?usage: bench-fleet.sh BUILD OUT}
ENROLS=${BENCH_FLEET_ENROLS:-1000}
SITES=${BENCH_FLEET_SITES:-50}
NGW=${BENCH_FLEET_GATEWAYS:-200}
ENROLS2=${BENCH_FLEET_ENROLS2:-200}
EDPGATE=$(realpath "$BUILD/edpgate")
FLEET=$(realpath "$BUILD/tests/bench/bench_fleet")
P=bf$$
NS=$P-e
TMP=$(mktemp -d "${TMPDIR:-/tmp}/edpg-bench-fleet.XXXXXX")
PIDS=()
MOUNTED=""
NSES=()

cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "bench-fleet: $*" >&2; exit 1; }
for t in etcd etcdctl jq; do command -v $t >/dev/null || { echo "bench-fleet: no $t" >&2; exit 77; }; done
[ -x "$FLEET" ] || die "$FLEET not built"
mkdir -p "$OUT"

ip netns add "$NS" && NSES+=("$NS") || die "netns"
ip -n "$NS" link set lo up
CLUSTER=""
for i in 1 2 3; do
	ip -n "$NS" addr add 10.89.0.$i/32 dev lo
	CLUSTER+="${CLUSTER:+,}m$i=http://10.89.0.$i:2380"
done
URLS=http://10.89.0.1:2379,http://10.89.0.2:2379,http://10.89.0.3:2379
ETCD_PIDS=()
for i in 1 2 3; do
	nsenter --net=/var/run/netns/"$NS" etcd --name m$i --data-dir "$TMP/etcd$i" \
		--listen-client-urls http://10.89.0.$i:2379 --advertise-client-urls http://10.89.0.$i:2379 \
		--listen-peer-urls http://10.89.0.$i:2380 --initial-advertise-peer-urls http://10.89.0.$i:2380 \
		--initial-cluster "$CLUSTER" --initial-cluster-token "$P" --logger zap \
		--log-outputs "$TMP/etcd$i.log" &
	PIDS+=($!)
	ETCD_PIDS+=($!)
done
ectl() { nsenter --net=/var/run/netns/"$NS" env ETCDCTL_API=3 etcdctl --dial-timeout=1s --endpoints "$URLS" "$@"; }
for _ in $(seq 100); do ectl endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
ectl endpoint health >/dev/null 2>&1 || die "etcd not healthy"
in_e() { nsenter --net=/var/run/netns/"$NS" "$@"; }
words() { echo "etcd $URLS prefix /bench site $1"; }
# etcd's CPU seconds (utime + stime of the three members) and RSS (KiB).
etcd_cpu() { for p in "${ETCD_PIDS[@]}"; do awk '{ print $14 + $15 }' /proc/$p/stat; done | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.2f", s / hz }'; }
etcd_rss() { for p in "${ETCD_PIDS[@]}"; do awk '/^VmRSS/ { print $2 }' /proc/$p/status; done | awk '{ s += $1 } END { print s }'; }
etcd_db() { ectl endpoint status -w json | jq '[.[].Status.dbSize] | max'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# pcts FILE: p50 p99 max of the numbers in FILE (one per line), in ms
pcts() { sort -n "$1" | awk '{ v[NR] = $1 } END { i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; printf "%.2f %.2f %.2f %d", v[i50] / 1000, v[i99] / 1000, v[NR] / 1000, NR }'; }

# ---- baseline: an enrolment's own etcd round trips, no router waiting ----
in_e "$FLEET" enrol "$(words baseline)" 50 >"$TMP/baseline.out" || die "baseline enrolments"
awk '$1 == "COMMIT" { if (prev) print $4 - prev; prev = $4 }' "$TMP/baseline.out" >"$TMP/baseline.us"
read -r base50 base99 _ _ <<<"$(pcts "$TMP/baseline.us")"

# ---- 1. a real router -----------------------------------------------------
R=$P-r
ip netns add "$R" && NSES+=("$R") || die "netns"
ip -n "$R" link set lo up
ip link add "${P}l" netns "$R" type veth peer name "${P}p" netns "$R"
ip -n "$R" link set "${P}l" name lan0
ip -n "$R" link set lan0 up
ip -n "$R" link set "${P}p" up
ip link add "${P}s" netns "$R" type veth peer name "${P}t" netns "$NS"
ip -n "$R" addr add 10.89.1.2/24 dev "${P}s"
ip -n "$NS" addr add 10.89.1.1/24 dev "${P}t"
ip -n "$R" link set "${P}s" up
ip -n "$NS" link set "${P}t" up
ip -n "$R" route add 10.89.0.0/24 via 10.89.1.1
mkdir -p "$TMP/bpffs" && mount -t bpf bpf "$TMP/bpffs" && MOUNTED=$TMP/bpffs || die "bpffs"
PIN=$TMP/bpffs/edpgate
cat >"$TMP/rules" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
group local 10.77.0.1
allow edp-ssl,ntp to local
defaults edp-ssl,ntp
RULES_EOF
rp() { nsenter --net=/var/run/netns/"$R" "$EDPGATE" --pin-dir "$PIN" --state-dir "$TMP/r" --rules "$TMP/rules" --conf /dev/null --store "$(words bench-0) router r0" "$@"; }
mkdir -p "$TMP/r"
rp attach lan0 --mode native >/dev/null || die "attach"
# Not through rp (a function run in the background is a subshell): $! must
# be the daemon itself, for its RSS and the kill.
nsenter --net=/var/run/netns/"$R" "$EDPGATE" --pin-dir "$PIN" --state-dir "$TMP/r" --rules "$TMP/rules" \
	--conf /dev/null --store "$(words bench-0) router r0" run >"$TMP/run.log" 2>&1 &
RUN_PID=$!
PIDS+=($RUN_PID)
for _ in $(seq 100); do grep -q "^state connected" "$TMP/r/store-status" 2>/dev/null && break; sleep 0.1; done
grep -q "^state connected" "$TMP/r/store-status" || die "the router does not connect: $(tail -3 "$TMP/run.log")"
cpu0=$(etcd_cpu)
in_e "$FLEET" enrol "$(words bench-0)" "$ENROLS" "$PIN" >"$TMP/enrol.out" || die "enrolments"
cpu1=$(etcd_cpu)
awk '$1 == "ENFORCED" { print $4 }' "$TMP/enrol.out" >"$TMP/enrol.us"
read -r p50 p99 pmax n <<<"$(pcts "$TMP/enrol.us")"
run_rss=$(awk '/^VmRSS/ { print $2 }' /proc/$RUN_PID/status)
kill "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
rp detach --all >/dev/null 2>&1

# ---- 2. a simulated fleet -------------------------------------------------
for s in $(seq 0 $((SITES - 1))); do
	python3 - "$TMP/site$s.gw" "$s" "$NGW" <<'PY_EOF'
import sys
path, s, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(n):
        f.write("gateway 00:04:f3:%02x:%02x:%02x name s%d-gw%d\n" % (s, i >> 8, i & 255, s, i))
PY_EOF
	mkdir -p "$TMP/admin$s"
	in_e "$EDPGATE" --pin-dir "$TMP/none" --state-dir "$TMP/admin$s" --rules "$TMP/rules" --conf /dev/null \
		--store "$(words sim-$s)" gateway import "$TMP/site$s.gw" >/dev/null || die "import at sim-$s"
done
cpu2=$(etcd_cpu)
for s in $(seq 0 $((SITES - 1))); do
	nsenter --net=/var/run/netns/"$NS" "$FLEET" watch "$(words sim-$s) router sim-r$s" "$TMP/sim$s" \
		>"$TMP/watch$s.out" 2>&1 &
	PIDS+=($!)
	WPIDS[$s]=$!
done
for s in $(seq 0 $((SITES - 1))); do
	for _ in $(seq 300); do grep -q "^APPLIED sim-$s $NGW " "$TMP/watch$s.out" && break; sleep 0.1; done
	grep -q "^APPLIED sim-$s $NGW " "$TMP/watch$s.out" || die "simulated router $s never got its $NGW gateways"
done
cpu3=$(etcd_cpu)
: >"$TMP/sim.us"
for k in $(seq 0 $((ENROLS2 - 1))); do
	s=$((k % SITES))
	in_e "$FLEET" enrol "$(words sim-$s)" 1 >"$TMP/one.out" || die "enrolment at sim-$s"
	t=$(awk '$1 == "COMMIT" { print $4 }' "$TMP/one.out")
	want=$((NGW + k / SITES + 1))
	for _ in $(seq 500); do
		a=$(awk -v n="$want" '$1 == "APPLIED" && $3 == n { print $4 }' "$TMP/watch$s.out")
		[ -n "$a" ] && break
		sleep 0.01
	done
	[ -n "$a" ] || die "sim-$s never applied enrolment $want"
	echo $((a - t)) >>"$TMP/sim.us"
done
cpu4=$(etcd_cpu)
read -r s50 s99 smax sn <<<"$(pcts "$TMP/sim.us")"
rss_list=$(for s in $(seq 0 $((SITES - 1))); do awk '/^VmRSS/ { print $2 }' /proc/${WPIDS[$s]}/status; done)
rss_avg=$(awk '{ s += $1 } END { printf "%.0f", s / NR }' <<<"$rss_list")
rss_max=$(sort -n <<<"$rss_list" | tail -1)
db=$(etcd_db)
mem=$(etcd_rss)
keys=$(ectl get --prefix /bench --keys-only | grep -c .)

jq -n --argjson n "$n" --argjson p50 "$p50" --argjson p99 "$p99" --argjson pmax "$pmax" \
	--argjson b50 "$base50" --argjson b99 "$base99" --argjson run_rss "$run_rss" \
	--argjson sites "$SITES" --argjson ngw "$NGW" --argjson sn "$sn" --argjson s50 "$s50" \
	--argjson s99 "$s99" --argjson smax "$smax" --argjson rss_avg "$rss_avg" --argjson rss_max "$rss_max" \
	--argjson db "$db" --argjson mem "$mem" --argjson keys "$keys" \
	--argjson cpu_enrol "$(sub $cpu1 $cpu0)" --argjson cpu_import "$(sub $cpu2 $cpu1)" \
	--argjson cpu_watch "$(sub $cpu3 $cpu2)" --argjson cpu_sim "$(sub $cpu4 $cpu3)" '
	{router: {enrolments: $n, propagation_ms: {p50: $p50, p99: $p99, max: $pmax},
		  baseline_put_ms: {p50: $b50, p99: $b99, what: "one enrolment alone: its reads and writes to etcd, no router waiting"}, run_rss_kib: $run_rss, etcd_cpu_s: $cpu_enrol},
	 fleet: {sites: $sites, gateways_per_site: $ngw, enrolments: $sn,
		 propagation_ms: {p50: $s50, p99: $s99, max: $smax},
		 router_rss_kib: {avg: $rss_avg, max: $rss_max},
		 etcd: {db_bytes: $db, rss_kib: $mem, keys: $keys, cpu_s_import: $cpu_import,
			cpu_s_first_sync: $cpu_watch, cpu_s_enrolments: $cpu_sim}}}' >"$OUT/fleet.json" ||
	die "cannot write the figures"

jq -r '
	def pf(c): if c then "PASS" else "MISS" end;
	"fleet\tenrolment to a real router'"'"'s map, p50 / p99 of \(.router.enrolments) (an enrolment alone, no router: \(.router.baseline_put_ms.p50) ms)\t\(.router.propagation_ms.p50) / \(.router.propagation_ms.p99) ms\tp99 <= 500 ms\t\(pf(.router.propagation_ms.p99 <= 500))",
	"fleet\tRSS of edpgate run with a store (\(.router.enrolments) gateways)\t\(.router.run_rss_kib / 1024 * 100 | round / 100) MiB\t-\t-",
	"fleet\t\(.fleet.sites) sites x \(.fleet.gateways_per_site): propagation p50 / p99 of \(.fleet.enrolments)\t\(.fleet.propagation_ms.p50) / \(.fleet.propagation_ms.p99) ms\tp99 <= 500 ms\t\(pf(.fleet.propagation_ms.p99 <= 500))",
	"fleet\tsimulated router RSS (store threads), avg / max\t\(.fleet.router_rss_kib.avg / 1024 * 100 | round / 100) / \(.fleet.router_rss_kib.max / 1024 * 100 | round / 100) MiB\t-\t-",
	"fleet\tetcd: db size, RSS (3 members), keys\t\(.fleet.etcd.db_bytes / 1048576 * 100 | round / 100) MiB, \(.fleet.etcd.rss_kib / 1024 | round) MiB, \(.fleet.etcd.keys)\t-\t-",
	"fleet\tetcd CPU s (3 members): \(.router.enrolments) enrolments / import / first sync / \(.fleet.enrolments) enrolments\t\(.router.etcd_cpu_s) / \(.fleet.etcd.cpu_s_import) / \(.fleet.etcd.cpu_s_first_sync) / \(.fleet.etcd.cpu_s_enrolments)\t-\t-"
' "$OUT/fleet.json" >"$OUT/fleet.tsv"
{
	echo "## fleet: enrolment propagation through etcd"
	echo
	echo "A real 3-member etcd cluster; figures of this run:"
	echo
	echo "| figure | value | goal | result |"
	echo "|---|---|---|---|"
	cut -f2- "$OUT/fleet.tsv" | sed 's/\t/ | /g; s/^/| /; s/$/ |/'
} >"$OUT/fleet.md"
cat "$OUT/fleet.md"
