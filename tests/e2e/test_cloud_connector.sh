#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# A real gateway client through edpgate: Digi's ANSI C Cloud Connector (the
# EDP client Digi ships for devices; test equipment, built here from
# ${EDPG_CLOUD_CONNECTOR:-../shared/cloud-connector} and never part of the
# project) runs as the gateway software on the lab's gw1 (scripts/lab.sh),
# resolves edp12.devicecloud.com through the lab DNS and connects over the
# router, where edpgate filters the LAN side, to tests/e2e/edp_cloud.py on
# TCP 3199, which logs what reaches it.
#
#  1. Enrolled by Device ID, in each enforcement mode (xdp, nft, both): the
#     server completes the TLS handshake, receives the EDP version message
#     and the Device ID of gw1's MAC; gw1's DNS and edp-ssl counters move.
#  2. Not enrolled (gw2): nothing of it reaches the server; its lookup is
#     dropped as unknown_mac and lists it in `gateway pending` with its
#     Device ID (DNS from a Digi OUI), and once it holds the address, so
#     does its 3199 connect.
#  3. The cloud name moves from A to B while the client holds A.  The
#     client never resolves again after a failed connect (it caches the
#     address for 24 h) and retries every 30 s.  The promise of the shipped
#     rules: an address a cloud name returned stays allowed for the
#     devicecloud group's grace (86400 s, the client's cache lifetime)
#     after the name last returned it, so the retry to A gets through once
#     A's TTL has run out and only the grace holds it.  With a test copy of
#     the rules whose grace is 5 s, A is removed once that passes, the
#     retry is dropped as destination and `doctor` says why.
#
# Wall time about 105 s, most of it the client's own 30 s retry timer and
# the 60 s TTL the shipped rules honour at least.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
require_root
for c in ip nsenter setsid unshare mount jq gcc patch; do
	command -v "$c" >/dev/null || fail "$c not found; run 'bash scripts/deps.sh'"
done

CC_SRC=${EDPG_CLOUD_CONNECTOR:-$ROOT/../shared/cloud-connector}
cc_tars=("$CC_SRC"/cc_ansic-*.tar.gz)
if [ ! -f "$CC_SRC/build.sh" ] || [ ! -f "${cc_tars[0]}" ]; then
	fail "Digi's Cloud Connector (build.sh and the cc_ansic tarball) is not in '$CC_SRC':" \
		"put the shared/ directory beside the repository, or set EDPG_CLOUD_CONNECTOR=DIR"
fi

CLOUD_NAME=edp12.devicecloud.com
A=198.51.100.30
B=198.51.100.31
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Build first: a missing compiler or header fails before any lab exists.
CC_BIN=$E2E_TMP/cc/cc_edp_tls
WORK="$E2E_TMP/ccbuild" OUT="$E2E_TMP/cc" CLOUD_URL=$CLOUD_NAME \
	bash "$CC_SRC/build.sh" >"$E2E_TMP/ccbuild.log" 2>&1 ||
	{ tail -20 "$E2E_TMP/ccbuild.log" >&2; fail "building the Cloud Connector failed (libssl-dev? run 'bash scripts/deps.sh')"; }
ok "Cloud Connector built from ${cc_tars[0]##*/}"

# The lab: no s_server on 3199 (edp_cloud.py takes the port, one address
# per process), and a 5 s TTL on its answers so the short-grace case need
# not wait out the lab's usual 60 s.
export LAB=cc$$ LAB_TLS_SERVER=0 LAB_DNS_TTL=5
# shellcheck source=tests/e2e/lab_flows.sh
. "$ROOT/tests/e2e/lab_flows.sh"

cc_exit() {
	local rc=$? pid f
	set +e
	if [ $rc -ne 0 ]; then
		for f in "$E2E_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $(basename "$f") (last 15 lines)"
			tail -15 "$f"
		done
		[ -f "$LF_LOG" ] && { echo "--- edpgate log (last 15 lines)"; tail -15 "$LF_LOG"; }
	fi
	# Our clients and servers first, while their namespaces still exist.
	for pid in "${E2E_PIDS[@]}"; do
		kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	E2E_PIDS=()
	lf_down
	(exit $rc)
	e2e_cleanup
}
trap cc_exit EXIT

# stop PID: end one of our background processes (its group) now.
stop() {
	local p keep=()
	kill -- -"$1" 2>/dev/null || kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in "${E2E_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	E2E_PIDS=("${keep[@]}")
}

# server_start ADDR: edp_cloud.py on ADDR:3199 in the cloud; SRV[ADDR]=pid.
declare -A SRV
server_start() {
	local _
	bg in_ns "$LAB-cloud" "$PY" "$ROOT/tests/e2e/edp_cloud.py" --listen "$1" \
		--cert "$LAB_CA" --key "$LAB_KEY" --log "$E2E_TMP/server-$1.log"
	SRV[$1]=$BG_PID
	for _ in $(seq 50); do
		[ -n "$(lab_exec cloud ss -Hltn "src = $1 and sport = :3199")" ] && return 0
		sleep 0.1
	done
	fail "edp_cloud.py did not come up on $1:3199"
}
server_stop() {
	stop "${SRV[$1]}"
	unset "SRV[$1]"
}

# cc_start HOST LOG [URL]: the Cloud Connector as HOST's gateway software.
# Its MAC (so its Device ID) is HOST's eth0; glibc's resolver reads a
# resolv.conf naming the lab DNS, bind-mounted in a private mount
# namespace so the host's file is untouched.  Sets CC_PID.
cc_start() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	bg in_ns "$LAB-$1" env CC_IFACE=eth0 CC_CA_FILE="$LAB_CA" \
		CC_CLOUD_URL="${3:-$CLOUD_NAME}" unshare -m sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec "$2" >>"$3" 2>&1' \
		sh "$LAB_RUN/resolv.conf" "$CC_BIN" "$E2E_TMP/$2"
	CC_PID=$BG_PID
}

# mark FILE: its line count now; since FILE MARK: the lines added after it;
# seen FILE MARK REGEX: one of them matches (grep reads them all: no
# SIGPIPE for tail under pipefail).
mark() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
since() { tail -n +$(($2 + 1)) "$1" 2>/dev/null; }
seen() { since "$1" "$2" | grep -E "$3" >/dev/null; }
# wait_seen FILE MARK REGEX SECONDS: until a line after MARK matches.
wait_seen() {
	local end=$((SECONDS + $4))
	while [ $SECONDS -lt $end ]; do
		seen "$1" "$2" "$3" && return 0
		sleep 0.2
	done
	return 1
}

# cloud_dns ADDR: the cloud name answers ADDR only (dnsmasq rereads the
# file on the rename), once the lab DNS says so.
cloud_dns() {
	local _
	echo "$1 $CLOUD_NAME" >"$LAB_RUN/cloud.hosts"
	mv -f "$LAB_RUN/cloud.hosts" "$LAB_HOSTS_D/cloud"
	for _ in $(seq 50); do
		[ "$(lab_resolve router "$CLOUD_NAME" A 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "the lab DNS does not answer $CLOUD_NAME -> $1"
}

# counter MODE KEY: from a fresh lf_counters snapshot.
counter() {
	lf_counters "$1" >"$E2E_TMP/counters" || fail "cannot read the counters"
	_lf_get "$E2E_TMP/counters" "$(_lf_key "$2" "$1")"
}

# dst_entry ADDR: the devicecloud group's entry for ADDR under the cloud
# name in `dst list -j` (empty when it has none).
dst_entry() {
	lab_edp -j dst list | jq -c --arg n "$CLOUD_NAME" --arg a "$1" '
	  .. | objects | select(.name? == $n) | .addresses[]? | select(.address == $a)'
}

lf_up || fail "the lab did not come up"
lab_exec cloud ip addr add "$A/24" dev wan0
lab_exec cloud ip addr add "$B/24" dev wan0
GW1_DID=00000000-00000000-00409DFF-FF000001
GW2_DID=00000000-00000000-00409DFF-FF000002
cloud_dns "$A"
server_start "$A"
SA=$E2E_TMP/server-$A.log

# ---------------------------------------------------------------------
# 1. Enrolled by Device ID, each enforcement mode.
for mode in xdp nft both; do
	if lab_edp status 2>/dev/null | grep '^interface' >/dev/null; then
		lab_edp detach --all >/dev/null || fail "$mode: detach --all"
	fi
	lab_edp attach lan0 --enforce "$mode" >/dev/null || fail "$mode: attach lan0 --enforce $mode"
	t_attach=$SECONDS
	if [ "$mode" = xdp ]; then
		lab_edp gateway add "$GW1_DID" --name gw1 >/dev/null || fail "gateway add $GW1_DID"
		[ "$(lab_edp -j gateway show gw1 | jq -r '.mac + " " + .device_id')" = "$GW1_MAC $GW1_DID" ] ||
			fail "gateway add by Device ID did not enrol $GW1_MAC"
		ok "gateway add $GW1_DID enrols $GW1_MAC (gw1)"
	fi
	tls0=$(counter "$mode" gw1.allow.edp-ssl)
	dns0=$(counter "$mode" gw1.allow.dns)
	m=$(mark "$SA")
	t0=$(date +%s%N)
	cc_start gw1 "cc-gw1-$mode.log"
	wait_seen "$SA" "$m" "^device_id $GW1_DID from $GW1_IP:" 20 ||
		fail "$mode: the server did not get gw1's Device ID"
	ms=$((($(date +%s%N) - t0) / 1000000))
	seen "$SA" "$m" "^handshake complete from $GW1_IP:[0-9]+ to $A:3199 TLSv1 " ||
		fail "$mode: no TLS 1.0 handshake from gw1 at the server"
	seen "$SA" "$m" "^edp version 2 from $GW1_IP:" ||
		fail "$mode: the server did not get the EDP version message"
	tls1=$(counter "$mode" gw1.allow.edp-ssl)
	dns1=$(counter "$mode" gw1.allow.dns)
	if [ $((tls1 - tls0)) -lt 1 ] || [ $((dns1 - dns0)) -lt 1 ]; then
		fail "$mode: counters: edp-ssl +$((tls1 - tls0)), dns +$((dns1 - dns0)); want both >= 1"
	fi
	ok "$mode: Cloud Connector on gw1 resolved $CLOUD_NAME via the lab DNS, TLS 1.0 handshake and EDP version + Device ID $GW1_DID at $A:3199 within $ms ms; counters edp-ssl +$((tls1 - tls0)), dns +$((dns1 - dns0))"
	# The last mode's session stays up for the rotation below.
	if [ "$mode" != both ]; then
		stop "$CC_PID"
	fi
done
GW1_CC=$CC_PID
CC_LOG=$E2E_TMP/cc-gw1-both.log

# ---------------------------------------------------------------------
# 2. Not enrolled: gw2 runs the same client.
unk0=$(counter both global.unknown_mac)
m=$(mark "$SA")
cc_start gw2 cc-gw2-name.log
wait_seen "$E2E_TMP/cc-gw2-name.log" 0 "app_load_mac_addr: MAC 00:40:9D:00:00:02" 10 ||
	fail "the client on gw2 did not start"
for _ in $(seq 50); do
	[ $(($(counter both global.unknown_mac) - unk0)) -ge 1 ] && break
	sleep 0.1
done
unk1=$(counter both global.unknown_mac)
[ $((unk1 - unk0)) -ge 1 ] || fail "gw2's lookup was not dropped as unknown_mac"
stop "$CC_PID"
# The real client with the cloud name never gets past DNS when not
# enrolled, so it never tries 3199: pending lists it from its DNS query,
# because its MAC is of a Digi OUI.
p=$(lab_edp -j gateway pending | jq -c --arg m "$GW2_MAC" '.[] | select(.mac == $m)')
[ -n "$p" ] || fail "gw2 ($GW2_MAC), stuck at DNS, not in gateway pending"
[ "$(jq -r '.device_id + " " + (.digi_oui|tostring) + " " + (.last_port|tostring)' <<<"$p")" = \
	"$GW2_DID true 53" ] || fail "gateway pending shows gw2 (by name) as $p"
pend0=$(lab_edp -j gateway pending | jq length)
# A gateway that holds the address (configured with it, or cached from
# before) tries 3199 at once.
cc_start gw2 cc-gw2-addr.log "$A"
for _ in $(seq 50); do
	lab_edp -j gateway pending | jq -e --arg m "$GW2_MAC" 'any(.mac == $m and .last_port == 3199)' >/dev/null && break
	sleep 0.1
done
p=$(lab_edp -j gateway pending | jq -c --arg m "$GW2_MAC" '.[] | select(.mac == $m)')
[ -n "$p" ] || fail "gw2 ($GW2_MAC) not in gateway pending after its 3199 connect"
[ "$(jq -r '.device_id + " " + (.digi_oui|tostring) + " " + (.last_port|tostring)' <<<"$p")" = \
	"$GW2_DID true 3199" ] || fail "gateway pending shows gw2 as $p"
[ "$(lab_edp -j doctor | jq .pending_macs)" -ge 1 ] || fail "doctor does not count the pending MAC"
unk2=$(counter both global.unknown_mac)
stop "$CC_PID"
seen "$SA" "$m" "from $GW2_IP:" && fail "gw2 reached the server: $(since "$SA" "$m" | head -3)"
ok "not enrolled: gw2's lookup dropped as unknown_mac (+$((unk1 - unk0))) and listed in pending (udp/53); holding $A its 3199 connects dropped (+$((unk2 - unk1))) and listed in pending ($GW2_DID, digi_oui, tcp/3199); pending $pend0 -> $(lab_edp -j gateway pending | jq length); nothing from gw2 reached the server"

# ---------------------------------------------------------------------
# 3a (first half). Break gw1's session: the client resolves again at once
# (A: the name has not moved yet), finds A refusing and now holds A.  It
# retries every 30 s from then; A's TTL (the shipped min-ttl, 60 s) ends 60
# s after the last resolution that returned it, the attach.  Breaking at
# least 8 s after the attach puts the second retry after that, with a
# margin, so the test need not wait for a third.
while [ $((SECONDS - t_attach)) -lt 8 ]; do sleep 0.5; done
m=$(mark "$CC_LOG")
t_break=$SECONDS
server_stop "$A"
wait_seen "$CC_LOG" "$m" "connect\(\) failed, errno 111" 10 ||
	fail "the client did not try A again after its session broke"
seen "$CC_LOG" "$m" "dns_resolve_name: ip address = \[$A\]" ||
	fail "the client did not resolve again after its session broke"
ok "session broken: the client resolved $CLOUD_NAME again ($A) and was refused; it now holds $A"
cc_resolves=$(grep -c dns_resolve_name "$CC_LOG")

# The name moves to B; edpgate resolves again.
server_start "$B"
SB=$E2E_TMP/server-$B.log
cloud_dns "$B"
lab_edp apply >/dev/null || fail "apply after the move"
[ -n "$(dst_entry "$B")" ] || fail "B ($B) not allowed after apply"
[ -n "$(dst_entry "$A")" ] || fail "A ($A) removed as soon as the name stopped returning it"
ok "$CLOUD_NAME now answers $B only; edpgate allows $B and still $A"

# ---------------------------------------------------------------------
# 3a (second half).  Wait until A's TTL has run out, so only the
# devicecloud group's grace keeps it; then A serves again and the client's
# own retry, to A without resolving, must get through.
e=
for _ in $(seq 90); do
	e=$(dst_entry "$A")
	[ -n "$e" ] || fail "A ($A) removed before the grace ran out"
	[ "$(jq .ttl_left <<<"$e")" = 0 ] && break
	sleep 1
done
[ "$(jq .ttl_left <<<"$e")" = 0 ] || fail "A's TTL did not run out: $e"
# Expiry is judged when edpgate resolves again (apply here, the daemon in
# production): A must survive it on the grace alone.
lab_edp apply >/dev/null || fail "apply after A's TTL ran out"
e=$(dst_entry "$A")
[ -n "$e" ] || fail "apply removed A once its TTL ran out: the grace did not hold it"
grace_left=$(jq .grace_left <<<"$e")
[ "$grace_left" -gt 86000 ] || fail "A has $grace_left s of grace left; the promise is 86400 s"
ok "A's TTL has run out; the shipped grace keeps it allowed ($grace_left s left of 86400)"
ma=$(mark "$SA")
mb=$(mark "$SB")
tls0=$(counter both gw1.allow.edp-ssl)
server_start "$A"
wait_seen "$SA" "$ma" "^device_id $GW1_DID from $GW1_IP:" 70 ||
	fail "the client's retry to A did not get through"
seen "$SA" "$ma" "^handshake complete from $GW1_IP:" || fail "no handshake at A"
[ "$(grep -c dns_resolve_name "$CC_LOG")" = "$cc_resolves" ] ||
	fail "the client resolved the name again; this case needs it to hold A"
seen "$SB" "$mb" "from $GW1_IP:" && fail "gw1 went to B; it should have held A"
tls1=$(counter both gw1.allow.edp-ssl)
[ $((tls1 - tls0)) -ge 1 ] || fail "gw1.allow.edp-ssl did not move for the reconnect"
ok "address rotation: the client's retry to $A, $((SECONDS - t_break)) s after the break and without resolving again, completed its handshake (edp-ssl +$((tls1 - tls0)))"

# ---------------------------------------------------------------------
# 3b. The same with a devicecloud grace of 5 s and TTLs honoured from 1 s.
SHORT=$E2E_TMP/short-grace.rules
sed 's/^group devicecloud grace 86400 /group devicecloud min-ttl 1 grace 5 /' \
	"$ROOT/rules/devicecloud.rules" >"$SHORT"
grep -q '^group devicecloud min-ttl 1 grace 5 ' "$SHORT" ||
	fail "rules/devicecloud.rules has no 'group devicecloud grace 86400' line to shorten"
LF_RULES=$SHORT
# Back to A, so the client takes A when its session breaks; then hold A.
cloud_dns "$A"
lab_edp apply >/dev/null || fail "apply of the short-grace rules"
m=$(mark "$CC_LOG")
server_stop "$A"
wait_seen "$CC_LOG" "$m" "connect\(\) failed, errno 111" 10 ||
	fail "the client did not try A again after its session broke"
seen "$CC_LOG" "$m" "dns_resolve_name: ip address = \[$A\]" ||
	fail "the client did not resolve A after its session broke"
t_refused=$SECONDS
cloud_dns "$B"
lab_edp apply >/dev/null || fail "apply after the second move"
server_start "$A"
# A goes once its 5 s TTL and 5 s grace have run out (apply expires it).
for _ in $(seq 30); do
	sleep 1
	lab_edp apply >/dev/null || fail "apply"
	[ -z "$(dst_entry "$A")" ] && break
done
[ -z "$(dst_entry "$A")" ] || fail "A still allowed well after its grace of 5 s"
[ -n "$(dst_entry "$B")" ] || fail "B not allowed"
ok "grace 5 s: A removed once its TTL and grace ran out; B stays"
ma=$(mark "$SA")
d0=$(counter both gw1.drop.destination)
d1=$d0
for _ in $(seq 45); do
	d1=$(counter both gw1.drop.destination)
	[ $((d1 - d0)) -ge 1 ] && break
	sleep 1
done
[ $((d1 - d0)) -ge 1 ] || fail "the client's retry to A was not dropped as destination"
seen "$SA" "$ma" "from $GW1_IP:" && fail "gw1 reached A after its grace: $(since "$SA" "$ma" | head -2)"
f=$(lab_edp -j doctor gw1 | jq -c '.findings[] | select(.finding == "cloud_address_retired")')
[ -n "$f" ] || fail "doctor has no cloud_address_retired finding: $(lab_edp doctor gw1)"
jq -e --arg a "$A" --arg n "$CLOUD_NAME" '(.detail | contains($a) and contains($n)) and
	(.fix | contains("grace"))' <<<"$f" >/dev/null ||
	fail "doctor's finding does not name $A, $CLOUD_NAME and the grace: $f"
ok "grace 5 s: the client's retry to $A, $((SECONDS - t_refused)) s after it was refused, dropped as destination (+$((d1 - d0))), never reached the server; doctor: cloud_address_retired ($(jq -r .detail <<<"$f"))"

stop "$GW1_CC"
echo "cloud connector: $SECONDS s"
