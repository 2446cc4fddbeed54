#!/usr/bin/env bash
# kernel-floor.sh OBJ...: the minimum kernel each BPF program in OBJ needs.
#
# Reads from each object the helpers every program calls (llvm-objdump -d),
# the map types of .maps (BTF, bpftool), the program's ELF section (its
# program type and the way the loader attaches it) and the sections that
# need kernel support (.rodata), looks each up in the table of
# docs/kernel-floor.md (one cited row per feature) and prints, per program,
# the kernel it needs and the feature that sets it.  Fails when a program
# needs more than the floor the README states, or uses a feature the table
# does not list.  A helper with a fallback (table column 5: "ID SWITCH")
# does not count, provided the object also calls helper ID and carries the
# .rodata switch SWITCH that the loader sets after probing the kernel.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
table=$root/docs/kernel-floor.md
readme=$root/README.md
[ $# -gt 0 ] || { echo "usage: $0 OBJ.bpf.o..." >&2; exit 2; }

objdump=$(command -v llvm-objdump || true)
[ -n "$objdump" ] || { echo "kernel-floor: llvm-objdump missing (scripts/deps.sh installs llvm)" >&2; exit 1; }

# The floor the README states (docs/kernel-floor.md must say the same);
# KERNEL_FLOOR=X.Y checks against another (tests/floor uses it).
floor=$(sed -n 's/.*\*\*Linux \([0-9][0-9.]*\) or later\*\*.*/\1/p' "$readme" | head -1)
[ -n "$floor" ] || { echo "kernel-floor: README.md states no floor ('**Linux X.Y or later**')" >&2; exit 1; }
doc_floor=$(sed -n 's/.*\*\*Linux \([0-9][0-9.]*\) or later\*\*.*/\1/p' "$table" | head -1)
[ "$doc_floor" = "$floor" ] ||
	{ echo "kernel-floor: README says $floor, docs/kernel-floor.md says ${doc_floor:-nothing}" >&2; exit 1; }
floor=${KERNEL_FLOOR:-$floor}

# Table rows as "kind|what|name|since|fallback" (cells trimmed).
rows=$(awk -F'|' 'NF >= 8 && $2 ~ /^ *(helper|map|prog|attach|section) *$/ {
	for (i = 2; i <= 6; i++) { gsub(/^ +| +$/, "", $i) }
	if ($7 ~ /^ *$/) { print "kernel-floor: row without a source: " $0 > "/dev/stderr"; bad = 1 }
	print $2 "|" $3 "|" $4 "|" $5 "|" $6 } END { exit bad }' "$table")

# lookup KIND WHAT -> "name|since|fallback", or nothing
lookup() {
	awk -F'|' -v k="$1" -v w="$2" '$1 == k && $2 == w { print $3 "|" $4 "|" $5; exit }' <<<"$rows"
}

# vercmp A B: prints the larger of two kernel versions
vermax() { printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1; }

bad=0
fail() { echo "kernel-floor: $*" >&2; bad=$((bad + 1)); }

for obj in "$@"; do
	[ -f "$obj" ] || { fail "$obj: no such object (run make first)"; continue; }
	base=$(basename "$obj")
	# program name, section, and every helper it calls ("prog SEC NAME" and
	# "call NAME ID"); subprograms in .text count for every program.
	calls=$("$objdump" -d "$obj" | awk '
		/^Disassembly of section / { sec = $4; sub(/:$/, "", sec); next }
		/^[0-9a-f]+ <[^>]*>:$/ {
			name = $2; gsub(/[<>:]/, "", name)
			if (name ~ /^LBB/) next
			cur = (sec == ".text") ? "(subprograms)" : name
			if (sec != ".text") print "prog", sec, name
			next }
		/\tcall / {
			# the second byte holds src_reg in its high nibble:
			# 0 a helper, 1 a BPF-to-BPF call, 2 a kfunc
			src = substr($3, 1, 1)
			if (src == "0") print "call", cur, $NF
			else if (src == "2") print "kfunc", cur, $NF }')
	maps=$(bpftool -j btf dump file "$obj" | jq -r '
		(.types | map({key: (.id | tostring), value: .}) | from_entries) as $t
		| .types[] | select(.kind == "DATASEC" and .name == ".maps") | .vars[]
		| $t[(.type_id | tostring)] as $var
		| $t[($var.type_id | tostring)].members[] | select(.name == "type")
		| $t[(.type_id | tostring)] as $ptr
		| "\($var.name) \($t[($ptr.type_id | tostring)].nr_elems)"')
	rodata_vars=$(bpftool -j btf dump file "$obj" | jq -r '
		(.types | map({key: (.id | tostring), value: .}) | from_entries) as $t
		| .types[] | select(.kind == "DATASEC" and .name == ".rodata") | .vars[]
		| $t[(.type_id | tostring)].name')
	has_rodata=$(readelf -SW "$obj" | awk '$2 == ".rodata" || $3 == ".rodata" { print 1; exit }')

	# Object-wide needs: its maps and sections (a program loads with all
	# of its object's maps).
	obj_need=0 obj_why="nothing"
	while read -r mname mtype; do
		[ -n "$mname" ] || continue
		r=$(lookup map "$mtype")
		[ -n "$r" ] || { fail "$base: map $mname has type $mtype, which docs/kernel-floor.md does not list"; continue; }
		IFS='|' read -r n since _ <<<"$r"
		if [ "$(vermax "$obj_need" "$since")" != "$obj_need" ]; then obj_need=$since obj_why="map $mname ($n, $since)"; fi
	done <<<"$maps"
	if [ -n "$has_rodata" ]; then
		r=$(lookup section .rodata)
		[ -n "$r" ] || fail "$base: section .rodata is not in docs/kernel-floor.md"
		IFS='|' read -r n since _ <<<"$r"
		if [ "$(vermax "$obj_need" "$since")" != "$obj_need" ]; then obj_need=$since obj_why="section .rodata ($n, $since)"; fi
	fi

	while read -r _ sec prog; do
		[ -n "$prog" ] || continue
		need=$obj_need why=$obj_why optional=""
		for kind in prog attach; do
			r=$(lookup $kind "$sec")
			[ -n "$r" ] || { fail "$base: program $prog in section '$sec' has no '$kind' row in docs/kernel-floor.md"; continue; }
			IFS='|' read -r n since _ <<<"$r"
			if [ "$(vermax "$need" "$since")" != "$need" ]; then need=$since why="$kind $n ($since)"; fi
		done
		if grep -q "^kfunc \($prog\|(subprograms)\) " <<<"$calls"; then
			fail "$base: $prog calls a kfunc; kfuncs are not in docs/kernel-floor.md"
		fi
		ids=$(awk -v p="$prog" '$1 == "call" && ($2 == p || $2 == "(subprograms)") { print $3 }' <<<"$calls" | sort -un)
		for id in $ids; do
			r=$(lookup helper "$id")
			[ -n "$r" ] || { fail "$base: $prog calls helper $id, which docs/kernel-floor.md does not list"; continue; }
			IFS='|' read -r n since fb <<<"$r"
			if [ -n "$fb" ]; then
				read -r fb_id fb_switch <<<"$fb"
				grep -qx "$fb_id" <<<"$ids" ||
					fail "$base: $prog calls $n ($since) without its fallback helper $fb_id"
				grep -qx "$fb_switch" <<<"$rodata_vars" ||
					fail "$base: $prog calls $n ($since) but has no .rodata switch '$fb_switch'"
				optional="$optional, $n ($since) only where the kernel has it"
				continue
			fi
			if [ "$(vermax "$need" "$since")" != "$need" ]; then need=$since why="helper $n ($since)"; fi
		done
		printf '%-18s %-22s needs Linux %-5s set by %s%s\n' "$base" "$prog" "$need" "$why" "$optional"
		if [ "$(vermax "$need" "$floor")" != "$floor" ]; then
			fail "$base: $prog needs Linux $need ($why), above the floor $floor the README states; raise the floor (README, docs/kernel-floor.md) or add a fallback"
		fi
	done < <(grep '^prog ' <<<"$calls")
done

if [ $bad -ne 0 ]; then
	echo "kernel-floor: $bad problem(s)" >&2
	exit 1
fi
echo "kernel-floor: every program loads on Linux $floor or later (the README's floor)"
