#!/usr/bin/env bash
# gateway import: 10,000 gateways in one change (file, one nft transaction,
# batched map update); a bad line anywhere changes nothing and is reported
# at FILE:LINE:COL; identical lines are no-ops, conflicting ones need
# --replace; an imported gateway passes traffic and can be deleted alone.
# A Remote Manager CSV export of 10,000 Device IDs imports the same way.
. "$(dirname "$0")/lib.sh"
require_root
command -v jq >/dev/null || skip "needs jq"

N=10000
HOSTMAC=02:00:00:00:00:07	# gateway 7 of the file is the LAN host
topo_pair "$HOSTMAC"
bpffs_private
STATE_DIR=$E2E_TMP/state
RULES=$E2E_TMP/edpgate.rules
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service edp     tcp 3197
service ntp     udp 123
group local 10.77.0.1 fd77::1
allow edp-ssl,edp,ntp to local
defaults edp-ssl,ntp
unknown-mac drop
non-ip drop
RULES_EOF

# gw<i>: MAC 02:00:00:00:HH:LL; every 3rd only edp, the rest the defaults
# (edp-ssl,ntp); every 5th bound to an IPv4 source, every 7th to an IPv6
# one.  gw7 is the LAN host: IPv6-bound only, so its IPv4 traffic is free.
GWFILE=$E2E_TMP/gateways.import
awk -v n=$N 'BEGIN {
	print "# bulk enrolment test file"
	for (i = 1; i <= n; i++) {
		line = sprintf("gateway 02:00:00:00:%02x:%02x name gw%d", int(i / 256), i % 256, i)
		if (i % 3 == 0) line = line " services edp"
		if (i % 5 == 0) line = line sprintf(" ip 10.78.%d.%d", int(i / 250), i % 250)
		if (i % 7 == 0) line = line sprintf(" ip fd78::%x", i)
		print line
	}
}' >"$GWFILE"
[ "$(grep -c '^gateway' "$GWFILE")" -eq $N ] || fail "test file generation"

bg in_ns "$R_NS" socat TCP-LISTEN:3199,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
for i in $(seq 50); do tcp_ok "$H_NS" 10.77.0.1 3199 && break; sleep 0.1; done
tcp_ok "$H_NS" 10.77.0.1 3199 || fail "no baseline connectivity"

edp attach lan0 --mode native >/dev/null || fail "attach"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "unknown host MAC passed before the import"

# The import itself, timed (reported, not asserted: CI machines vary).
TIMEFORMAT=%R
t=$( { time edp gateway import "$GWFILE" >"$E2E_TMP/imp.out" 2>"$E2E_TMP/imp.err"; } 2>&1 ) ||
	fail "import failed: $(cat "$E2E_TMP/imp.err")"
grep -q "^$GWFILE: $N enrolled, 0 replaced, 0 unchanged" "$E2E_TMP/imp.out" || fail "import output: $(cat "$E2E_TMP/imp.out")"
ok "imported $N gateways in ${t}s (file + nft + maps)"

[ "$(edp -j gateway list | jq length)" -eq $N ] || fail "gateway list does not hold $N"
[ "$(grep -c '^gateway' "$STATE_DIR/gateways")" -eq $N ] || fail "gateways file does not hold $N"
nft_count() {	# nft_count SET: elements of a set, read by the real nft
	in_ns "$R_NS" nft -j list set inet edpgate "$1" | jq '[.nftables[] | select(.set) | .set.elem // [] | .[]] | length'
}
[ "$(nft_count gateways)" -eq $N ] || fail "nft set gateways has $(nft_count gateways), want $N"
# every gateway not in the edp-only third has edp-ssl (the defaults)
want_ssl=$((N - N / 3))
[ "$(nft_count svc_edp-ssl)" -eq $want_ssl ] || fail "svc_edp-ssl has $(nft_count svc_edp-ssl), want $want_ssl"
[ "$(nft_count bind4)" -eq $((N / 5)) ] || fail "bind4 has $(nft_count bind4), want $((N / 5))"
[ "$(nft_count bind6)" -eq $((N / 7)) ] || fail "bind6 has $(nft_count bind6), want $((N / 7))"
gen=$(bpftool -j map lookup pinned "$PIN_DIR/edpg_ctl" key 0 0 0 0 | jq '.formatted.value.gen')
bpftool -j map dump pinned "$PIN_DIR/edpg_gateways" >"$E2E_TMP/gwmap.json"
live=$(jq --argjson g "$gen" '[.[] | select(.formatted.key.gen == $g)] | length' "$E2E_TMP/gwmap.json")
[ "$live" -eq $N ] || fail "BPF map holds $live gateways of generation $gen, want $N"
slots=$(jq --argjson g "$gen" '[.[] | select(.formatted.key.gen == $g) | .formatted.value.slot] | unique | length' \
	"$E2E_TMP/gwmap.json")
[ "$slots" -eq $N ] || fail "$N gateways share $slots counter slots"
edp verify >/dev/null || fail "verify after the import: $(edp verify 2>&1 | head)"
ok "$N in gateway list, gateways file, nft sets (gateways/svc/bind4/bind6), BPF map with distinct slots; verify passes"

tcp_ok "$H_NS" 10.77.0.1 3199 || fail "imported gateway gw7 ($HOSTMAC) cannot reach 3199"
ok "imported gateway gw7 passes traffic"

snapshot() {
	sha256sum "$STATE_DIR/gateways"
	in_ns "$R_NS" nft -j list table inet edpgate | jq -S '[.nftables[] | select(.set) | .set | {name, elem}]'
	bpftool -j map dump pinned "$PIN_DIR/edpg_gateways" | jq -S 'sort_by(.key)'
}
before=$(snapshot | sha256sum)

# The same file again: every line identical to what is enrolled.
out=$(edp gateway import "$GWFILE") || fail "re-import of the same file failed"
grep -q "0 enrolled, 0 replaced, $N unchanged" <<<"$out" || fail "re-import: $out"
[ "$(snapshot | sha256sum)" = "$before" ] || fail "an identical re-import changed something"
ok "re-importing the same file is a no-op"

# One bad MAC on line 5000 (the file's first line is a comment).
BAD=$E2E_TMP/bad.import
sed '5000s/^gateway 02:00:00:00:\(..\):\(..\)/gateway 02:00:00:00:\1:zz/' "$GWFILE" >"$BAD"
sed -n 5000p "$BAD" | grep -q ':zz ' || fail "bad file generation"
set +e
out=$(edp gateway import "$BAD" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "bad file: rc=$rc"
grep -q "^$BAD:5000:9: error: invalid MAC" <<<"$out" || fail "bad MAC not reported at $BAD:5000:9: $out"
[ "$(snapshot | sha256sum)" = "$before" ] || fail "a failed import changed the file, nft or the map"
ok "bad MAC on line 5000 reported as FILE:5000:9, nothing changed"

# New gateways plus one conflicting line: refused whole without --replace.
CONF=$E2E_TMP/conflict.import
printf 'gateway 02:00:01:00:00:01 name newgw1\ngateway 02:00:01:00:00:02\ngateway %s name gw7 services edp\n' \
	"$HOSTMAC" >"$CONF"
set +e
out=$(edp gateway import "$CONF" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "conflicting import: rc=$rc"
grep -q "^$CONF:3:9: .*already enrolled" <<<"$out" && grep -q -- "--replace" <<<"$out" ||
	fail "conflict not reported at line 3 with a --replace hint: $out"
[ "$(snapshot | sha256sum)" = "$before" ] || fail "a refused import changed something"
ok "a line that conflicts with an enrolled gateway refuses the whole file"

out=$(edp gateway import --replace "$CONF") || fail "import --replace failed"
grep -q "2 enrolled, 1 replaced, 0 unchanged" <<<"$out" || fail "import --replace: $out"
[ "$(edp -j gateway show gw7 | jq -r .services)" = edp ] || fail "gw7 not replaced"
[ "$(edp -j gateway show newgw1 | jq -r .live)" = true ] || fail "newgw1 not live"
[ "$(edp -j gateway list | jq length)" -eq $((N + 2)) ] || fail "list after --replace"
tcp_ok "$H_NS" 10.77.0.1 3199 && fail "gw7 still reaches 3199 (edp-ssl) after being replaced with edp only"
edp verify >/dev/null || fail "verify after import --replace"
ok "--replace replaces gw7 (now edp only: 3199 dropped), adds 2, verify passes"

# One imported gateway deleted alone.
edp gateway del gw4242 >/dev/null || fail "gateway del gw4242"
[ "$(edp -j gateway list | jq length)" -eq $((N + 1)) ] || fail "list after del"
in_ns "$R_NS" nft -j list set inet edpgate gateways |
	jq -e '[.nftables[] | select(.set) | .set.elem[]] | index("02:00:00:00:10:92") == null' >/dev/null ||
	fail "gw4242 still in the nft gateways set"
[ "$(nft_count gateways)" -eq $((N + 1)) ] || fail "nft gateways count after del"
edp verify >/dev/null || fail "verify after del"
ok "gateway del of an imported gateway: list, nft and maps follow, verify passes"

# A Remote Manager inventory export: CSV with a header row, CRLF, quoted
# fields holding commas and doubled quotes, columns edpgate does not use.
# Device IDs of the Digi OUI 00:40:9d; every 2nd row named.
CSV=$E2E_TMP/inventory.csv
awk -v n=$N 'BEGIN {
	printf "Device ID,Name,Group,Firmware Version,\"Description, free\"\r\n"
	for (i = 1; i <= n; i++)
		printf "00000000-00000000-00409DFF-FF%02X%02X%02X,%s,/plant-7,3.2.1,\"line %d, \"\"boiler\"\"\"\r\n",
			int(i / 65536), int(i / 256) % 256, i % 256, (i % 2 ? "" : "rm" i), i
}' >"$CSV"
out=$(edp gateway import --format csv "$CSV") || fail "CSV import failed: $out"
grep -q "^$CSV: $N enrolled, 0 replaced, 0 unchanged" <<<"$out" || fail "CSV import output: $out"
[ "$(edp -j gateway list | jq length)" -eq $((2 * N + 1)) ] || fail "list after the CSV import"
[ "$(nft_count gateways)" -eq $((2 * N + 1)) ] || fail "nft gateways count after the CSV import"
[ "$(edp -j gateway show 00000000-00000000-00409DFF-FF000102 | jq -r '.mac + " " + .name')" = "00:40:9d:00:01:02 rm258" ] ||
	fail "gateway show by Device ID after the CSV import"
edp verify >/dev/null || fail "verify after the CSV import"
ok "CSV export of $N Device IDs in one import: list, nft and verify agree; show by Device ID"

# One bad row (a Device ID that encodes no MAC, record 7001 = line 7002):
# the whole import fails at FILE:LINE:COL and nothing changes.
before=$(snapshot | sha256sum)
BADCSV=$E2E_TMP/bad.csv
sed '7002s/^\(00000000-00000000-00409DFF-\)FF/\1FE/' "$CSV" >"$BADCSV"
sed -n 7002p "$BADCSV" | grep -q '^00000000-00000000-00409DFF-FE' || fail "bad CSV generation"
set +e
out=$(edp gateway import --format csv "$BADCSV" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "bad CSV: rc=$rc"
grep -q "^$BADCSV:7002:1: error: .*does not encode a MAC.*00000000-00000000-MMMMMMFF-FFMMMMMM" <<<"$out" ||
	fail "bad Device ID not reported at $BADCSV:7002:1: $out"
[ "$(snapshot | sha256sum)" = "$before" ] || fail "a failed CSV import changed the file, nft or the map"
ok "a bad row of the CSV (line 7002) fails the whole import at FILE:7002:1, nothing changed"

edp detach --all >/dev/null || fail "detach --all"
in_ns "$R_NS" nft list table inet edpgate >/dev/null 2>&1 && fail "table left after detach --all"
ok "detach --all"
