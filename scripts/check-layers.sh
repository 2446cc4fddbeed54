#!/usr/bin/env bash
# check-layers.sh BUILD: loader/ is a stack of layers, one folder each; this
# reads every object's undefined symbols (nm -u) and fails when a layer
# reaches upward or uses a library it may not.
#
#   rank  layer    what it is                                may also use
#   ----  -------  ----------------------------------------  ---------------------------
#   0     util     log, JSON, state files, privileges, pcap   libc
#   1     policy   rules/gateways/CSV parsers, compile        libc only (pure, fuzzed)
#   2     names    resolver, DNS parser, table, cache         libc, c-ares
#   2     store    etcd client (JSON gateway), key layout     libc, libcurl, json-c
#   3     sinks    BPF object and maps, nft, snooper, sync    libc, libbpf, libmnl, libnftnl
#   4     ops      health/keeper, verdict probe, pending      libc, libbpf (no map, ring
#                                                             buffer or netlink calls)
#   5     cli      main, one file per subcommand              libc (the kernel only
#                                                             through sinks/ and ops/)
#
# A layer uses its own folder and those of lower rank; util and policy are
# both at the bottom (neither uses the other), names and store side by side
# above them (neither uses the other either).  Outside sinks/, no code reads
# a field of struct edpg_bpf: callers hold it and pass it to the sink.
set -euo pipefail
export LC_ALL=C	# one collation for sort and join

build=${1:-build}
obj=$build/loader
[ -d "$obj" ] || { echo "check-layers: no objects in $obj (run make first)" >&2; exit 1; }
# The objects of today's sources only (a stale one of a removed file is no layer's).
cd "$(dirname "$0")/.."
objs=()
for c in loader/*/*.c; do
	o=$obj/${c#loader/}
	o=${o%.c}.o
	[ -f "$o" ] || { echo "check-layers: $o missing (run make first)" >&2; exit 1; }
	objs+=("$o")
done

declare -A rank=([util]=0 [policy]=0 [names]=2 [store]=2 [sinks]=3 [ops]=4 [cli]=5)
# External symbols each layer must not reference (extended regex).
ban_kernel='^(bpf_|btf__|ring_buffer__|libbpf_|perf_buffer__|mnl_|nftnl_)'
ban_maps='^(bpf_map_|bpf_map__|ring_buffer__|perf_buffer__|mnl_|nftnl_)'

libc=$(gcc -print-file-name=libc.so.6)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Who defines what, among our objects.
for o in "${objs[@]}"; do
	l=$(basename "$(dirname "$o")")
	nm -g --defined-only "$o" | awk -v l="$l" 'NF == 3 { print $3, l }'
done | sort -u >"$tmp/defs"
nm -D --defined-only "$libc" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/libc"

bad=0
report() {
	echo "check-layers: $1" >&2
	bad=$((bad + 1))
}

for o in "${objs[@]}"; do
	l=$(basename "$(dirname "$o")")
	[ -n "${rank[$l]:-}" ] || { report "$o: folder '$l' is no layer (add it to the table)"; continue; }
	nm -u "$o" | awk '{ print $2 }' | sort -u >"$tmp/undef"
	while read -r sym owner; do
		[ "$owner" = "$l" ] && continue
		if [ "$l" = util ] || [ "$l" = policy ] || [ "${rank[$owner]}" -ge "${rank[$l]}" ]; then
			report "${o#"$build"/}: $l uses $sym of $owner (a layer uses only those below it)"
		fi
	done < <(join "$tmp/undef" "$tmp/defs")
	# What no loader object defines comes from a library.
	join -v 1 "$tmp/undef" <(cut -d' ' -f1 "$tmp/defs") >"$tmp/ext"
	case $l in
	policy)
		# libc only: the parsers are fuzzed and unit-tested alone.
		while read -r sym; do
			grep -qx -- "$sym" "$tmp/libc" || report "${o#"$build"/}: policy uses $sym, which is not libc"
		done <"$tmp/ext" ;;
	names | store | cli)
		while read -r sym; do
			report "${o#"$build"/}: $l uses $sym directly (the kernel is reached through sinks/)"
		done < <(grep -E "$ban_kernel" "$tmp/ext" || true) ;;
	ops)
		while read -r sym; do
			report "${o#"$build"/}: ops uses $sym (map, ring buffer and netlink calls live in sinks/)"
		done < <(grep -E "$ban_maps" "$tmp/ext" || true) ;;
	esac
	# The store's libraries stay in store/: the layers above call it.
	case $l in
	store) ;;
	*)
		while read -r sym; do
			report "${o#"$build"/}: $l uses $sym (etcd is reached through store/)"
		done < <(grep -E '^(curl_|json_)' "$tmp/ext" || true) ;;
	esac
done

# The BPF sink is a boundary: struct edpg_bpf is held by callers but read
# only inside sinks/ (its fields: prog_fd, map_fd, skel, ncpus).
while read -r hit; do
	report "$hit: a field of struct edpg_bpf outside sinks/ (use the sink's functions)"
done < <(grep -nE '(->|\.)(prog_fd|map_fd|skel|ncpus)\b' loader/{util,policy,names,ops,cli}/*.[ch] |
	cut -d: -f1,2 || true)

n=${#objs[@]}
if [ $bad -ne 0 ]; then
	echo "check-layers: $bad violation(s) in $n objects" >&2
	exit 1
fi
echo "check-layers: $n objects in ${#rank[@]} layers, no violation"
