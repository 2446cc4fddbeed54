#!/usr/bin/env bash
# A fleet on a real 3-member etcd cluster (Debian etcd-server, in its own
# namespace, stopped by PID): site plant-a has an HA pair of routers (ra,
# rb, each with its LAN, a gateway host gw1, a TLS "cloud" on 3199 and a
# chronyd on the pool address), site plant-b has only an admin host.
# Checks, in order:
#  - `gateway add` on ra is enforced by ra and rb (TCP and a real TLS
#    handshake from each LAN) and is in rb's local gateways file (the
#    last-known-good copy);
#  - an NTP pool address snooped on ra (the daemons' own resolver is dead)
#    is published under ra's lease and a real NTP exchange passes rb; ra's
#    daemon killed: the lease expires and rb still carries NTP and TLS;
#  - a real Prometheus scrapes both routers: edpgate_allowed_packets_total
#    {site=...} equals each router's counters, the alert rules load;
#  - the fleet's rules from etcd in force on both, a site admin's override
#    wins, broken rules are refused and change nothing;
#  - RBAC: plant-a's router credentials cannot write plant-b's gateways
#    (refused, nothing changes) nor enrol at their own site;
#  - a 10,000-gateway import arrives whole (2 chunks, one pointer flip),
#    each daemon's helper growing the maps live;
#  - the etcd leader killed, rb cut off from etcd for PARTITION_S seconds
#    (default 60): enforcement never stops, status/doctor/metrics say
#    unreachable, the change made meanwhile (and a compaction) arrive
#    after, verify passes on both; a compaction past a connected router's
#    watch revision makes it read everything again;
#  - TLS client certificates towards an etcd that requires them.
. "$(dirname "$0")/lib.sh"
require_root
for t in etcd etcdctl; do command -v $t >/dev/null || fail "$t missing (scripts/deps.sh)"; done

PARTITION_S=${PARTITION_S:-60}
GW1=00:40:9d:00:00:01
GW2=00:40:9d:00:00:02
P=/edpgate-e2e
bpffs_private
PIN_ROOT=$PIN_DIR
mkdir -p "$PIN_ROOT"
RULES=$E2E_TMP/edpgate.rules
# The pair's rules, and a pool name the gateways resolve through the router.
cat >"$RULES" <<'RULES_EOF'
service edp-ssl tcp 3199
service ntp     udp 123
service dns     udp 53
group local 10.77.0.1
group ntp 0.idigi.pool.ntp.org
allow edp-ssl,ntp to local
allow ntp to ntp
allow dns to local
defaults edp-ssl,ntp,dns
unknown-mac drop
non-ip drop
RULES_EOF
POOL_ADDR=10.66.0.5

# ---- etcd: three members on the store namespace's loopback -------------
netns_add E_NS store
CLUSTER=""
for i in 1 2 3; do
	ip -n "$E_NS" addr add 10.88.0.$i/32 dev lo
	CLUSTER+="${CLUSTER:+,}m$i=http://10.88.0.$i:2380"
done
URLS=http://10.88.0.1:2379,http://10.88.0.2:2379,http://10.88.0.3:2379
declare -A ETCD_PID
start_member() {
	local i=$1 state=$2
	bg in_ns "$E_NS" etcd --name m$i --data-dir "$E2E_TMP/etcd$i" \
		--listen-client-urls http://10.88.0.$i:2379 --advertise-client-urls http://10.88.0.$i:2379 \
		--listen-peer-urls http://10.88.0.$i:2380 --initial-advertise-peer-urls http://10.88.0.$i:2380 \
		--initial-cluster "$CLUSTER" --initial-cluster-state "$state" \
		--initial-cluster-token "$E2E_ID" --logger zap --log-outputs "$E2E_TMP/etcd$i.log"
	ETCD_PID[$i]=$BG_PID
}
for i in 1 2 3; do start_member $i new; done
ectl() { in_ns "$E_NS" env ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=5s --endpoints "$URLS" "$@"; }
root_ectl() { ectl --user root:rootpw "$@"; }
wait_for 30 ectl endpoint health >/dev/null 2>&1 || fail "etcd cluster not healthy: $(tail -5 "$E2E_TMP/etcd1.log")"
ok "3-member etcd cluster up"

# ---- RBAC: admin of plant-a, router role of plant-a, admin of plant-b ----
ectl user add root:rootpw >/dev/null
ectl role add root >/dev/null 2>&1 || true
ectl user grant-role root root >/dev/null
for s in a b; do
	ectl role add admin-$s >/dev/null
	ectl role grant-permission admin-$s --prefix=true readwrite "$P/sites/plant-$s/" >/dev/null
	ectl user add admin-$s:adminpw-$s >/dev/null
	ectl user grant-role admin-$s admin-$s >/dev/null
done
# A router reads its site and the fleet rules, writes only learned/.
ectl role add router-a >/dev/null
ectl role grant-permission router-a --prefix=true read "$P/sites/plant-a/" >/dev/null
ectl role grant-permission router-a --prefix=true read "$P/fleet/" >/dev/null
ectl role grant-permission router-a --prefix=true readwrite "$P/sites/plant-a/learned/" >/dev/null
for r in ra rb; do
	ectl user add $r:pw-$r >/dev/null
	ectl user grant-role $r router-a >/dev/null
done
ectl auth enable >/dev/null
for u in admin-a admin-b ra rb; do
	pw=$(case $u in admin-*) echo "adminpw-${u#admin-}" ;; *) echo "pw-$u" ;; esac)
	printf '%s\n' "$pw" >"$E2E_TMP/$u.pw"
	chmod 600 "$E2E_TMP/$u.pw"
done
ok "auth on: roles admin-a, admin-b, router-a"

# ---- two routers of plant-a, each with a LAN and a gateway host ---------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=cloud \
	-keyout "$E2E_TMP/cloud.key" -out "$E2E_TMP/cloud.pem" 2>/dev/null || fail "cloud certificate"
declare -A RNS HNS
for r in ra rb; do
	n=$([ $r = ra ] && echo 1 || echo 2)
	netns_add rns $r
	netns_add hns h$r
	RNS[$r]=$rns
	HNS[$r]=$hns
	ip link add "${E2E_ID}${r}l" netns "$rns" type veth peer name "${E2E_ID}${r}h" netns "$hns"
	ip -n "$rns" link set "${E2E_ID}${r}l" name lan0
	ip -n "$hns" link set "${E2E_ID}${r}h" name eth0
	ip -n "$hns" link set eth0 address $GW1
	ip -n "$rns" addr add 10.77.0.1/24 dev lan0
	ip -n "$hns" addr add 10.77.0.2/24 dev eth0
	ip -n "$rns" link set lan0 up
	ip -n "$hns" link set eth0 up
	# The router's link towards etcd.
	ip link add "${E2E_ID}${r}s" netns "$rns" type veth peer name "${E2E_ID}${r}e" netns "$E_NS"
	ip -n "$rns" link set "${E2E_ID}${r}s" name st0
	ip -n "$rns" addr add 10.88.$n.2/24 dev st0
	ip -n "$E_NS" addr add 10.88.$n.1/24 dev "${E2E_ID}${r}e"
	ip -n "$rns" link set st0 up
	ip -n "$E_NS" link set "${E2E_ID}${r}e" up
	ip -n "$rns" route add 10.88.0.0/24 via 10.88.$n.1
	mkdir -p "$E2E_TMP/$r"
	cat >"$E2E_TMP/$r/edpgate.conf" <<CONF_EOF
# the shared store of this router
store etcd $URLS prefix $P site plant-a router $r
store user $r password-file $E2E_TMP/$r.pw
CONF_EOF
	# Device Cloud's EDP over TLS, as the lab's cloud serves it.
	bg in_ns "$rns" openssl s_server -accept 10.77.0.1:3199 -cert "$E2E_TMP/cloud.pem" \
		-key "$E2E_TMP/cloud.key" -quiet
	bg in_ns "$rns" socat TCP-LISTEN:3197,reuseaddr,fork,bind=10.77.0.1 SYSTEM:true
	# The pool's NTP server, reached through either router (a real chronyd).
	ip -n "$rns" addr add $POOL_ADDR/32 dev lo
	ip -n "$hns" route add default via 10.77.0.1
	cat >"$E2E_TMP/$r/chrony.conf" <<CHRONY_EOF
pidfile $E2E_TMP/$r/chronyd.pid
driftfile $E2E_TMP/$r/chrony.drift
cmdport 0
bindcmdaddress /
bindaddress $POOL_ADDR
local stratum 8
allow all
CHRONY_EOF
	bg in_ns "$rns" chronyd -x -d -u root -f "$E2E_TMP/$r/chrony.conf"
done
# r ROUTER ARGS...: edpgate on ROUTER with its own dirs and configuration
r() {
	local r=$1
	shift
	in_ns "${RNS[$r]}" "$EDPGATE" --pin-dir "$PIN_ROOT/$r" --state-dir "$E2E_TMP/$r/state" \
		--rules "$RULES" --conf "$E2E_TMP/$r/edpgate.conf" "$@"
}
# admin SITE ARGS...: the CLI on an admin host (the store namespace), no filter
admin() {
	local s=$1
	shift
	in_ns "$E_NS" "$EDPGATE" --pin-dir "$PIN_ROOT/admin-$s" --state-dir "$E2E_TMP/admin-$s" \
		--rules "$RULES" --conf /dev/null \
		--store "etcd $URLS prefix $P site plant-$s user admin-$s password-file $E2E_TMP/admin-$s.pw" "$@"
}
reaches() { tcp_ok "${HNS[$1]}" 10.77.0.1 3199; }
# tls_ok ROUTER: a real TLS handshake with the cloud from the gateway behind ROUTER
tls_ok() {
	in_ns "${HNS[$1]}" timeout 5 openssl s_client -connect 10.77.0.1:3199 -brief </dev/null 2>&1 |
		grep -q "CONNECTION ESTABLISHED"
}
declare -A RUN_PID
start_run() {
	bg in_ns "${RNS[$1]}" "$EDPGATE" --pin-dir "$PIN_ROOT/$1" --state-dir "$E2E_TMP/$1/state" \
		--rules "$RULES" --conf "$E2E_TMP/$1/edpgate.conf" --resolver 10.77.0.9 run
	RUN_PID[$1]=$BG_PID
}
store_state() { sed -n 's/^state //p' "$E2E_TMP/$1/state/store-status" 2>/dev/null; }
state_is() { [ "$(store_state "$1")" = "$2" ]; }

for r in ra rb; do
	r $r attach lan0 --mode native >/dev/null || fail "attach on $r"
	start_run $r
done
for r in ra rb; do
	wait_for 20 state_is $r connected || fail "$r not connected: $(cat "$E2E_TMP/$r/state/store-status" 2>&1; tail -5 "$E2E_TMP/bg.log")"
	wait_for 5 bash -c "! $(declare -f tcp_ok in_ns); ! tcp_ok ${HNS[$r]} 10.77.0.1 3199" ||
		fail "unenrolled gateway reaches 3199 through $r"
done
ok "ra and rb run, connected to etcd; the unenrolled gateway is dropped on both"

# ---- enrolment on ra (with the site admin's credentials) -----------------
r ra --store "user admin-a password-file $E2E_TMP/admin-a.pw" gateway add $GW1 --name gw1 >/dev/null ||
	fail "gateway add on ra"
wait_for 10 reaches ra || fail "gw1 not enforced on ra"
wait_for 10 reaches rb || fail "gw1 enrolled on ra not enforced on rb: $(tail -5 "$E2E_TMP/bg.log")"
tls_ok ra && tls_ok rb || fail "no TLS handshake of gw1 through ra and rb"
grep -q "^gateway $GW1 name gw1" "$E2E_TMP/rb/state/gateways" || fail "rb's local copy lacks gw1"
ok "gateway add on ra: enforced by ra and rb, rb's last-known-good file has it"

# ---- an NTP pool address snooped on ra is allowed on rb -----------------
# ra's dnsmasq answers the gateways; the daemons' own resolver is dead, so
# the address can only be learned from the gateway's answer on ra.
bg in_ns "${RNS[ra]}" dnsmasq -k --no-resolv --no-hosts --bind-interfaces --listen-address=10.77.0.1 \
	--port 53 --address=/0.idigi.pool.ntp.org/$POOL_ADDR --pid-file="$E2E_TMP/ra/dnsmasq.pid" \
	--user=root --conf-file=/dev/null
# ntp_ok ROUTER: a real NTP measurement (chronyd -Q) from the gateway behind ROUTER
ntp_ok() {
	in_ns "${HNS[$1]}" timeout 6 chronyd -Q -t 5 "server $POOL_ADDR iburst minpoll -6 maxpoll -6" \
		"pidfile $E2E_TMP/$1/probe.pid" "cmdport 0" "bindcmdaddress /" >/dev/null 2>&1
}
ntp_ok rb && fail "NTP to the pool address passes rb before anyone learned it"
lookup() {
	in_ns "${HNS[$1]}" /usr/bin/python3 - "$2" <<'PY_EOF'
import socket, struct, sys
name = sys.argv[1]
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("10.77.0.1", 53))
a = s.recv(512)
sys.exit(0 if struct.unpack(">H", a[6:8])[0] > 0 else 1)
PY_EOF
}
wait_for 10 lookup ra 0.idigi.pool.ntp.org || fail "the gateway behind ra cannot resolve the pool name"
wait_for 10 ntp_ok ra || fail "NTP to the snooped pool address blocked on ra"
k=$(root_ectl get "$P/sites/plant-a/learned/ra/$POOL_ADDR" -w json | jq -r '.kvs[0].lease // empty')
[ -n "$k" ] && [ "$k" != 0 ] || fail "ra did not publish $POOL_ADDR under a lease"
wait_for 20 ntp_ok rb || fail "the address snooped on ra is not allowed on rb"
ok "$POOL_ADDR snooped on ra: published under ra's lease, a real NTP exchange passes rb"
kill -9 "${RUN_PID[ra]}"
wait_for 40 bash -c "[ -z \"\$($(declare -f in_ns ectl root_ectl); E_NS=$E_NS URLS=$URLS; root_ectl get --prefix '$P/sites/plant-a/learned/ra/' --keys-only)\" ]" ||
	fail "ra's learned addresses outlived its lease"
ntp_ok rb || fail "rb dropped the pool address when ra died"
tls_ok rb || fail "rb stopped carrying gw1's TLS to 3199 when ra died"
ok "ra killed: its lease expired, rb still carries gw1's real NTP and TLS flows without re-enrolment"
start_run ra
wait_for 20 state_is ra connected || fail "ra not connected again"

# ---- a real Prometheus scrapes both routers ------------------------------
SCRAPE_PIDS=()
promtool check rules "$ROOT/docs/fleet/edpgate-alerts.yml" >/dev/null || fail "promtool rejects the alert rules"
for r in ra rb; do
	n=$([ $r = ra ] && echo 1 || echo 2)
	# The textfile output served over HTTP (what node_exporter's textfile
	# collector or a metrics proxy would do); the request is read first.
	cat >"$E2E_TMP/$r/metrics.sh" <<SH_EOF
while IFS= read -r l && [ -n "\${l%\$'\\r'}" ]; do :; done
printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain; version=0.0.4\\r\\n\\r\\n'
exec $EDPGATE --pin-dir $PIN_ROOT/$r --state-dir $E2E_TMP/$r/state --rules $RULES --conf $E2E_TMP/$r/edpgate.conf stats --format prometheus
SH_EOF
	bg in_ns "${RNS[$r]}" socat TCP-LISTEN:9101,reuseaddr,fork,bind=10.88.$n.2 EXEC:"bash $E2E_TMP/$r/metrics.sh"
	SCRAPE_PIDS+=("$BG_PID")
done
ip -n "$E_NS" addr add 10.88.0.100/32 dev lo
cat >"$E2E_TMP/prometheus.yml" <<PROM_EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$ROOT/docs/fleet/edpgate-alerts.yml" ]
scrape_configs:
  - job_name: edpgate
    honor_labels: true
    static_configs:
      - { targets: [ "10.88.1.2:9101" ], labels: { site: plant-a, router: ra } }
      - { targets: [ "10.88.2.2:9101" ], labels: { site: plant-a, router: rb } }
PROM_EOF
bg in_ns "$E_NS" prometheus --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
	--web.listen-address=10.88.0.100:9090
SCRAPE_PIDS+=("$BG_PID")
promq() {
	in_ns "$E_NS" curl -sf --max-time 5 http://10.88.0.100:9090/api/v1/query --data-urlencode "query=$1"
}
# Lab counters: a few more connections of gw1 through each router, then quiet.
for i in 1 2 3; do reaches ra; reaches rb; done
cli_allowed() {
	r "$1" stats --format prometheus |
		awk '/^edpgate_allowed_packets_total/ && /service="edp-ssl"/ && /site="plant-a"/ { s += $NF } END { print s + 0 }'
}
for r in ra rb; do
	want=$(cli_allowed $r)
	[ "$want" -gt 0 ] || fail "no allowed packets counted on $r"
	q="sum(edpgate_allowed_packets_total{site=\"plant-a\",router=\"$r\",service=\"edp-ssl\"})"
	wait_for 60 bash -c "$(declare -f in_ns promq); E_NS=$E_NS; [ \"\$(promq '$q' | jq -r '.data.result[0].value[1] // empty')\" = $want ]" ||
		fail "Prometheus has $(promq "$q" | jq -c .data.result) for $r, the router counts $want"
done
nrules=$(in_ns "$E_NS" curl -sf http://10.88.0.100:9090/api/v1/rules | jq '[.data.groups[].rules[]] | length')
[ "$nrules" -eq 6 ] || fail "Prometheus loaded $nrules alert rules, want 6"
up=$(promq 'sum(edpgate_store_up{site="plant-a"})' | jq -r '.data.result[0].value[1]')
[ "$up" = 2 ] || fail "edpgate_store_up of plant-a sums to $up"
# Not during the 10,000-gateway part: every scrape formats them all.
for pid in "${SCRAPE_PIDS[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
ok "Prometheus scrapes ra and rb: edpgate_allowed_packets_total{site=\"plant-a\"} is each router's count, 6 alert rules loaded, store up on both"

# ---- the fleet's rules, a site's override, a broken one -------------------
# The same rules, plus plain EDP (3197) for every gateway by default.
sed 's/^defaults .*/defaults edp-ssl,edp,ntp,dns/; s/^allow edp-ssl,ntp to local/allow edp-ssl,edp,ntp to local/' "$RULES" |
	sed '1i service edp     tcp 3197' >"$E2E_TMP/fleet.rules"
edp_ok() { in_ns "${HNS[$1]}" timeout 3 bash -c "exec 3<>/dev/tcp/10.77.0.1/3197" 2>/dev/null; }
edp_blocked() { ! edp_ok "$1"; }
edp_ok ra && fail "3197 passes ra under the local rules"
root_ectl put "$P/fleet/rules" <"$E2E_TMP/fleet.rules" >/dev/null || fail "put of the fleet rules"
for r in ra rb; do
	wait_for 30 edp_ok $r || fail "the fleet's rules (3197 for all) not in force on $r: $(tail -3 "$E2E_TMP/bg.log")"
	cmp -s "$E2E_TMP/fleet.rules" "$E2E_TMP/$r/state/rules.store" || fail "$r's rules.store is not the fleet's rules"
done
ok "rules put at $P/fleet/rules: in force on ra and rb (3197 passes), kept locally as rules.store"
in_ns "$E_NS" env ETCDCTL_API=3 etcdctl --endpoints "$URLS" --user admin-a:adminpw-a put "$P/sites/plant-a/rules" <"$RULES" >/dev/null ||
	fail "the site admin cannot put the site's rules"
for r in ra rb; do wait_for 30 edp_blocked $r || fail "the site's override not in force on $r"; done
ok "a site override at $P/sites/plant-a/rules (by the site admin) wins: 3197 dropped again on both"
printf 'service edp-ssl tcp 3199\nallow edp-ssl to nowhere\n' |
	root_ectl put "$P/sites/plant-a/rules" >/dev/null || fail "put of broken rules"
wait_for 30 grep -q "are invalid; keeping the rules in force" "$E2E_TMP/bg.log" || fail "broken rules not refused"
reaches ra && reaches rb && edp_blocked ra || fail "broken rules changed what is enforced"
cmp -s "$RULES" "$E2E_TMP/rb/state/rules.store" || fail "broken rules reached rb's rules.store"
root_ectl del "$P/sites/plant-a/rules" >/dev/null
for r in ra rb; do
	wait_for 30 edp_ok $r || fail "back to the fleet's rules on $r"
	r $r verify >/dev/null || fail "verify on $r under the fleet's rules: $(r $r verify 2>&1 | tail -3)"
done
ok "broken rules refused (logged, nothing changed); override deleted: the fleet's rules again, verify passes"

# ---- RBAC ---------------------------------------------------------------
before=$(root_ectl get --prefix "$P/sites/plant-b/" -w json | jq -c '[.kvs[]?.mod_revision]')
set +e
out=$(r ra --site plant-b gateway add $GW2 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "router credentials of plant-a wrote plant-b's gateways"
grep -qi "refused\|permission" <<<"$out" || fail "no clear refusal: $out"
after=$(root_ectl get --prefix "$P/sites/plant-b/" -w json | jq -c '[.kvs[]?.mod_revision]')
[ "$before" = "$after" ] || fail "plant-b changed: $before -> $after"
set +e
out=$(r ra gateway add $GW2 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "a router's own credentials enrolled a gateway"
admin b gateway add $GW2 --name other-site >/dev/null || fail "admin of plant-b cannot enrol at plant-b"
set +e
admin b --site plant-a gateway add 00:40:9d:00:00:09 >/dev/null 2>&1 && fail "admin of plant-b enrolled at plant-a"
set -e
grep -q "$GW2" "$E2E_TMP/ra/state/gateways" && fail "plant-b's gateway reached plant-a"
ok "RBAC: plant-a's router cannot write plant-b (nothing changed) nor enrol; plant-b's admin only plant-b"

# ---- a 10,000-gateway import: one flip, the whole list arrives -----------
python3 - "$E2E_TMP/big.gw" <<'PY_EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write("gateway 00:04:f3:%02x:%02x:%02x name big-%05d\n" % (i >> 16 & 255, i >> 8 & 255, i & 255, i))
PY_EOF
admin a gateway import "$E2E_TMP/big.gw" >/dev/null || fail "import of 10,000 gateways"
ptr=$(root_ectl get "$P/sites/plant-a/gateways" --print-value-only)
nch=$(awk '{ print $4 }' <<<"$ptr")
[ "$nch" -ge 2 ] || fail "10,000 gateways in $nch chunk(s): '$ptr'"
for r in ra rb; do
	wait_for 30 bash -c "[ \$(grep -c '^gateway ' '$E2E_TMP/$r/state/gateways') -eq 10001 ]" ||
		fail "$r did not get the whole import: $(grep -c '^gateway ' "$E2E_TMP/$r/state/gateways")"
	wait_for 60 bash -c "$(declare -f in_ns r); RNS[$r]=${RNS[$r]}; EDPGATE=$EDPGATE PIN_ROOT=$PIN_ROOT E2E_TMP=$E2E_TMP RULES=$RULES; r $r verify >/dev/null 2>&1" ||
		fail "verify on $r after the import: $(r $r verify 2>&1 | tail -3)"
done
# Both daemons grew their maps (sized for 1 gateway) through their
# helpers: the daemons themselves cannot load a program.
ngrow=$(grep -c "gateway capacity 64 -> 16384 for 10001 gateways" "$E2E_TMP/bg.log")
[ "$ngrow" -eq 2 ] || fail "$ngrow growths logged for the import, want one per router: $(grep -i "capacity\|grow" "$E2E_TMP/bg.log" | tail -5)"
ok "10,000 gateways imported as $nch chunks and one pointer flip; both routers grew to 16384 slots and hold 10,001"

# ---- the etcd leader killed ----------------------------------------------
leader=$(root_ectl endpoint status -w json |
	jq -r '.[] | select(.Status.leader == .Status.header.member_id) | .Endpoint')
li=$(sed -E 's|http://10\.88\.0\.([0-9]+):2379|\1|' <<<"$leader")
[ -n "${ETCD_PID[$li]:-}" ] || fail "no leader found ($leader)"
kill -9 "${ETCD_PID[$li]}"
wait_for 20 bash -c "$(declare -f in_ns ectl root_ectl); E_NS=$E_NS URLS=$URLS; root_ectl endpoint status -w json 2>/dev/null | jq -e '[.[] | select(.Status.leader == .Status.header.member_id)] | length == 1' >/dev/null" ||
	fail "no new leader after killing member $li"
reaches ra && reaches rb || fail "enforcement stopped when the etcd leader died"
ok "etcd leader (member $li) killed: a new one elected, both routers enforce"

# ---- rb cut off from etcd for PARTITION_S seconds -------------------------
in_ns "${RNS[rb]}" nft -f - <<'NFT_EOF'
table inet e2e_partition {
	chain out { type filter hook output priority 0; ip daddr 10.88.0.0/24 drop; }
}
NFT_EOF
t0=$(date +%s)
wait_for 40 state_is rb unreachable || fail "rb does not say etcd is unreachable: t0 $t0 now $(date +%s) $(cat "$E2E_TMP/rb/state/store-status"; tail -5 "$E2E_TMP/bg.log")"
reaches rb || fail "rb stopped enforcing gw1 while cut off from etcd"
r rb status | grep -q "store: site plant-a, router rb: unreachable" || fail "status on rb: $(r rb status)"
r rb -j doctor | jq -e '.findings[] | select(.finding == "store_unreachable")' >/dev/null ||
	fail "doctor on rb does not say the store is unreachable"
# Into a file first: with 10,001 gateways the output is megabytes, and a
# `grep -q` that stops reading at its match would fail stats (pipefail).
r rb stats --format prometheus >"$E2E_TMP/rb.prom" || fail "stats --format prometheus on rb failed"
grep -qx 'edpgate_store_up{site="plant-a",router="rb"} 0' "$E2E_TMP/rb.prom" ||
	fail "rb's metrics do not say the store is down: $(grep '^edpgate_store' "$E2E_TMP/rb.prom")"
# Meanwhile the site changes: gw1 deleted (on ra), and a compaction.
r ra --store "user admin-a password-file $E2E_TMP/admin-a.pw" gateway del gw1 >/dev/null ||
	fail "gateway del on ra with the leader dead"
wait_for 10 bash -c "! $(declare -f tcp_ok in_ns); ! tcp_ok ${HNS[ra]} 10.77.0.1 3199" || fail "ra still passes the deleted gw1"
rev=$(root_ectl get "$P/none" -w json | jq -r .header.revision)
root_ectl compact "$rev" >/dev/null || fail "compaction at $rev"
while [ $(($(date +%s) - t0)) -lt "$PARTITION_S" ]; do
	reaches rb || fail "rb stopped enforcing its last-known-good state during the partition"
	sleep 5
done
grep -q "^gateway $GW1" "$E2E_TMP/rb/state/gateways" || fail "rb's last-known-good lost gw1 during the partition"
ok "rb cut off ${PARTITION_S}s: said unreachable, kept enforcing its last-known-good (gw1 passes), ra applied the delete"
resyncs=$(sed -n 's/^resyncs //p' "$E2E_TMP/rb/state/store-status")
in_ns "${RNS[rb]}" nft delete table inet e2e_partition
wait_for 30 state_is rb connected || fail "rb does not reconnect"
wait_for 20 bash -c "! $(declare -f tcp_ok in_ns); ! tcp_ok ${HNS[rb]} 10.77.0.1 3199" || fail "the delete made during the partition never reached rb"
grep -q "^gateway $GW1" "$E2E_TMP/rb/state/gateways" && fail "rb's file still has gw1"
[ "$(sed -n 's/^resyncs //p' "$E2E_TMP/rb/state/store-status")" -gt "$resyncs" ] || fail "rb did not read everything again"
for r in ra rb; do
	r $r verify >/dev/null || fail "verify on $r after the partition: $(r $r verify 2>&1 | tail -3)"
done
ok "healed: rb read the site again past the compaction, gw1 is dropped on rb too, verify passes on both"

# ---- compaction past a connected router's watch revision ------------------
resyncs=$(sed -n 's/^resyncs //p' "$E2E_TMP/ra/state/store-status")
for i in 1 2 3; do admin b gateway add 00:40:9d:00:01:0$i >/dev/null || fail "plant-b change $i"; done
rev=$(root_ectl get "$P/none" -w json | jq -r .header.revision)
root_ectl compact "$rev" >/dev/null || fail "compaction at $rev"
# ra's next watch (within 10 s) starts before the compacted revision.
wait_for 30 bash -c "[ \$(sed -n 's/^resyncs //p' '$E2E_TMP/ra/state/store-status') -gt $resyncs ]" ||
	fail "ra did not resynchronise after its watch revision was compacted"
admin a gateway add $GW1 --name gw1 >/dev/null || fail "gw1 enrolled again"
grep -q "was compacted; resynchronising in full" "$E2E_TMP/bg.log" || fail "the compaction is not logged"
wait_for 20 reaches ra || fail "gw1 enrolled after the compaction not enforced on ra"
wait_for 20 reaches rb || fail "gw1 enrolled after the compaction not enforced on rb"
ok "a compaction past the watch revision: a full read, logged, and the next enrolment arrives"

# ---- TLS: client certificates towards an etcd that requires them ----------
T=$E2E_TMP/tls
mkdir -p "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=e2e-etcd-ca -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || fail "CA"
cert() {	# cert NAME EXT
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
		-extfile <(printf '%s\n' "$2") -out "$T/$1.pem" 2>/dev/null
}
cert server "subjectAltName=IP:10.88.0.50" || fail "server certificate"
cert client "extendedKeyUsage=clientAuth" || fail "client certificate"
chmod 600 "$T"/*.key
ip -n "$E_NS" addr add 10.88.0.50/32 dev lo
bg in_ns "$E_NS" etcd --name tls --data-dir "$E2E_TMP/etcd-tls" \
	--listen-client-urls https://10.88.0.50:2379 --advertise-client-urls https://10.88.0.50:2379 \
	--listen-peer-urls http://10.88.0.50:2380 --initial-advertise-peer-urls http://10.88.0.50:2380 \
	--initial-cluster tls=http://10.88.0.50:2380 --cert-file "$T/server.pem" --key-file "$T/server.key" \
	--client-cert-auth --trusted-ca-file "$T/ca.pem" --logger zap --log-outputs "$E2E_TMP/etcd-tls.log"
tls_ectl() {
	in_ns "$E_NS" env ETCDCTL_API=3 etcdctl --dial-timeout=1s --endpoints https://10.88.0.50:2379 \
		--cacert "$T/ca.pem" --cert "$T/client.pem" --key "$T/client.key" "$@"
}
wait_for 30 tls_ectl endpoint health >/dev/null 2>&1 || fail "TLS etcd not healthy: $(tail -3 "$E2E_TMP/etcd-tls.log")"
# tls_admin "MORE STORE WORDS" ARGS...: the admin CLI towards the TLS etcd
tls_admin() {
	local more=$1
	shift
	in_ns "$E_NS" "$EDPGATE" --pin-dir "$PIN_ROOT/admin-t" --state-dir "$E2E_TMP/admin-t" \
		--rules "$RULES" --conf /dev/null --store "etcd https://10.88.0.50:2379 prefix $P site plant-t ca $T/ca.pem $more" "$@"
}
set +e
out=$(tls_admin "" gateway add $GW2 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "enrolment without a client certificate accepted"
[ -z "$(tls_ectl get --prefix "$P/sites/plant-t/" --keys-only)" ] || fail "something was written without a certificate"
tls_admin "cert $T/client.pem key $T/client.key" gateway add $GW2 --name tls-gw >/dev/null ||
	fail "enrolment with the client certificate: $(tls_admin "cert $T/client.pem key $T/client.key" gateway add $GW2 2>&1)"
tls_ectl get --prefix "$P/sites/plant-t/gwdoc/" --print-value-only | grep -q "^gateway $GW2 name tls-gw" ||
	fail "the enrolment is not in the TLS etcd"
ok "TLS: an etcd requiring client certificates refuses the CLI without one (nothing written) and takes its enrolment with one"
