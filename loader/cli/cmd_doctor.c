// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate doctor [MAC|DEVICE-ID|NAME]: "why is this gateway not connecting?" answered
 * from what the data path recorded: per-gateway counters, last-seen times,
 * the last drop of each reason (address, port) and the pending MACs.
 *
 * Every finding says what is wrong, what to do, and the counters it rests
 * on, so an admin can check the claim with `edpgate stats`.  The checks
 * follow the Digi knowledge-base article the product grew from: NTP must
 * be open or an XBee Gateway / X2e never connects; 3197 is plain EDP of
 * old firmware; my.idigi.* names are deprecated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "addr.h"
#include "addrcache.h"
#include "cli.h"
#include "dptime.h"
#include "fleet.h"
#include "json.h"
#include "kernel_report.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"

static const char synopsis[] = "doctor [MAC|DEVICE-ID|NAME]";

struct cite {
	const char *key;
	uint64_t v;
};

static size_t nfindings;

/* One finding: who, what, the fix, an optional detail, the counters. */
static void finding(const char *who, const char *devid, const char *id, const char *msg,
		    const char *fix, const char *detail, const struct cite *c, size_t nc)
{
	char fmt[96];

	nfindings++;
	out_obj_open(NULL);
	out_str("gateway", "%s", who);
	out_str("device_id", " %s", devid);
	out_text(": ");
	out_str("finding", "%s\n", id);
	out_str("problem", "  problem: %s\n", msg);
	if (detail)
		out_str("detail", "  seen:    %s\n", detail);
	out_str("fix", "  fix:     %s\n", fix);
	out_text("  based on:");
	out_obj_open("counters");
	for (size_t i = 0; i < nc; i++) {
		snprintf(fmt, sizeof(fmt), " %s=%%llu", c[i].key);
		out_uint(c[i].key, fmt, c[i].v);
	}
	out_obj_close();
	out_text("\n");
	out_obj_close();
}

/* The service of the rules that covers (proto, port), or -1. */
static int svc_of(const struct edpg_policy *p, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (p->services[i].proto == proto && p->services[i].port_lo <= port &&
		    port <= p->services[i].port_hi)
			return i;
	return -1;
}

static void rec_addr(const struct edpg_drop_rec *r, char *out, size_t len)
{
	if (!inet_ntop(r->family == 6 ? AF_INET6 : AF_INET, r->addr, out, len))
		snprintf(out, len, "?");
}

/* A drop record of @proto/@port among the service-stage reasons. */
static const struct edpg_drop_rec *drop_to(const struct edpg_gw_diag *dg, uint8_t proto,
					   uint16_t port, int *reason)
{
	static const int rs[] = { EDPG_R_PORT, EDPG_R_SERVICE, EDPG_R_DESTINATION };
	const struct edpg_drop_rec *best = NULL;

	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		const struct edpg_drop_rec *r = &dg->last[rs[i] - EDPG_DIAG_FIRST];

		if (r->ts && r->proto == proto && r->port == port && (!best || r->ts > best->ts)) {
			best = r;
			*reason = rs[i];
		}
	}
	return best;
}

static void check_cloud_destination(const struct edpg_drop_rec *r, const char *who,
				    const char *devid, uint64_t drops)
{
	struct edpg_addr x = { .family = r->family == 6 ? AF_INET6 : AF_INET };
	struct cite c[] = { { "drops.destination", drops } };
	struct edpg_cache_entry *ce = NULL, *old = NULL;
	char a[64], detail[768], fix[1024], when[32];
	size_t nce = 0, nold = 0, off;

	x.plen = x.family == AF_INET ? 32 : 128;
	memcpy(x.addr, r->addr, 16);
	rec_addr(r, a, sizeof(a));
	off = snprintf(detail, sizeof(detail), "tcp/%u to %s dropped", r->port, a);
	if (!edpg_addr_cache_find(cli.state_dir, true, &x, &old, &nold) && nold) {
		/* The latest record of the address; its group is where it was allowed. */
		const struct edpg_cache_entry *e = &old[nold - 1];
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&(time_t){ e->expires }, &tm));
		snprintf(detail + off, sizeof(detail) - off, "; %s returned it until %s (%lld s ago)",
			 e->name, when, (long long)(time(NULL) - e->expires));
		snprintf(fix, sizeof(fix),
			 "restart the gateway's Remote Manager connection (or power-cycle it) so it resolves %s again; to keep a retired address allowed as long as a client may cache it, raise `grace` of group %s (devicecloud.rules ships 86400 s, the Cloud Connector's 24 h), then `edpgate apply`",
			 e->name, e->group[0] ? e->group : "devicecloud");
		finding(who, devid, "cloud_address_retired",
			"the gateway reconnects to an address a Device Cloud name returned earlier but no longer does: it still holds the old address",
			fix, detail, c, 1);
		goto out;
	}
	if (!edpg_addr_cache_find(cli.state_dir, false, &x, &ce, &nce))
		for (size_t i = 0; i < nce && off < sizeof(detail); i++)
			off += snprintf(detail + off, sizeof(detail) - off, "%s %s",
					i ? "," : "; names seen for it:", ce[i].name);
	finding(who, devid, "cloud_destination",
		"the gateway connects to a Device Cloud address that is not in the cloud group",
		"the gateway uses a Device Cloud host name the rules lack (a newer Remote Manager host, or a redirect): add it to the devicecloud group, then `edpgate apply`",
		detail, c, 1);
out:
	free(ce);
	free(old);
}

/* No frame from @g has reached the filter: a typo'd MAC close to a pending one, or the wiring. */
static void check_never_seen(const struct edpg_gateway *g, const char *who, const char *devid,
			     const struct edpg_pending_ent *pend, size_t npend,
			     const struct edpg_global *glob)
{
	const struct edpg_pending_ent *best = NULL;
	char detail[512], mac[EDPG_MAC_STRLEN], a[EDPG_MAC_STRLEN];
	int bd = 49;
	struct cite c[] = {
		{ "last_seen", 0 },
		{ "global.unknown_mac.drop_packets", glob[EDPG_R_UNKNOWN_MAC].drop.packets },
		{ "pending_macs", npend },
	};

	edpg_mac_format(g->mac, mac);
	for (size_t i = 0; i < npend; i++) {
		int dd = edpg_mac_distance(pend[i].mac, g->mac);

		if (dd < bd) {
			bd = dd;
			best = &pend[i];
		}
	}
	if (best) {
		edpg_mac_format(best->mac, a);
		snprintf(detail, sizeof(detail),
			 "unknown MAC %s (%d bit%s from %s) tried tcp/udp port %u %llu times",
			 a, bd, bd == 1 ? "" : "s", mac, best->p.last_port,
			 (unsigned long long)best->p.packets);
	}
	finding(who, devid, "never_seen",
		"no frame from this MAC has reached the filter",
		best && bd <= 8 ? "check the MAC: a close one is trying Device Cloud (typo? `edpgate gateway add --pending MAC`)"
				: "check the cabling, the VLAN and that edpgate is attached to the LAN interface the gateway is on; check the MAC on the gateway's label",
		best ? detail : NULL, c, 3);
}

static void check_gateway(const struct edpg_policy *p, const struct edpg_gateway *g,
			  const struct edpg_bpf *b, const struct edpg_pending_ent *pend, size_t npend,
			  const struct edpg_global *glob, bool audit_all)
{
	char who[64], mac[EDPG_MAC_STRLEN], detail[512], a[64], key[64], devid[EDPG_DEVID_STRLEN];
	int tls = svc_of(p, IPPROTO_TCP, EDPG_PORT_EDP_TLS);
	int edp = svc_of(p, IPPROTO_TCP, EDPG_PORT_EDP);
	int ntp = svc_of(p, IPPROTO_UDP, EDPG_PORT_NTP);
	struct edpg_gw_stats st = {};
	struct edpg_gw_diag dg = {};
	const struct edpg_drop_rec *r;
	struct edpg_gw rec;
	uint64_t tls_ok, ntp_ok, edp_ok;
	int reason = 0;

	edpg_mac_format(g->mac, mac);
	edpg_devid_format(g->mac, devid);
	snprintf(who, sizeof(who), "%s%s%s%s", mac, g->name[0] ? " (" : "", g->name,
		 g->name[0] ? ")" : "");
	if (edpg_bpf_gw_get(b, g->mac, &rec) || edpg_bpf_gw_stats(b, rec.slot, &st) ||
	    edpg_bpf_gw_diag(b, rec.slot, &dg)) {
		finding(who, devid, "not_live", "enrolled in the state dir but not in the loaded program",
			"run `edpgate apply`", NULL, NULL, 0);
		return;
	}

	/*
	 * One gateway audited among enforced ones: say so first, then read
	 * its would-be drops as drops, so the findings below say what
	 * enforcing it would break.
	 */
	if (g->audit || audit_all) {
		uint64_t n = 0;

		for (int i = EDPG_R_BINDING; i < EDPG_R_MAX; i++) {
			n += st.would_drop[i];
			st.drops[i] += st.would_drop[i];
		}
		if (g->audit && !audit_all) {
			struct cite c[] = { { "would_drop.packets", n } };

			finding(who, devid, "gateway_audit",
				"this gateway is audited: its frames are judged and counted but never dropped (the findings below are what enforcing it would drop)",
				"when `edpgate learn` shows nothing it needs would be dropped, enrol it again without --audit (`edpgate gateway add MAC ... --replace`)",
				NULL, c, 1);
		}
	}

	/* Never seen: the frames do not reach this interface with this MAC. */
	if (!st.last_seen) {
		check_never_seen(g, who, devid, pend, npend, glob);
		return;
	}

	tls_ok = tls >= 0 ? st.svc[tls].packets : 0;
	ntp_ok = ntp >= 0 ? st.svc[ntp].packets : 0;
	edp_ok = edp >= 0 ? st.svc[edp].packets : 0;

	/* NTP: without it an XBee Gateway / X2e never reaches Connected and
	 * an X2/X4 shows a 1970 clock. */
	/* Cumulative allowed NTP does not clear a fresh NTP drop: the rules
	 * may have changed since (there is no per-service "last allowed"). */
	r = drop_to(&dg, IPPROTO_UDP, EDPG_PORT_NTP, &reason);
	if (r && (!ntp_ok || edpg_dp_age(r->ts) < 3600)) {
		struct cite c[] = {
			{ "allowed.edp_tls.packets", tls_ok },
			{ "allowed.ntp.packets", 0 },
			{ key, st.drops[reason] },
		};

		snprintf(key, sizeof(key), "drops.%s", edpg_reason_names[reason]);
		rec_addr(r, a, sizeof(a));
		snprintf(detail, sizeof(detail), "udp/123 to %s dropped (%s) %lld s ago", a,
			 edpg_reason_names[reason], (long long)edpg_dp_age(r->ts));
		finding(who, devid, "ntp_blocked",
			tls_ok ? "Device Cloud (TLS 3199) is allowed but NTP is dropped: an XBee Gateway / X2e will not connect, an X2/X4 shows a 1970 clock"
			       : "NTP is dropped: an XBee Gateway / X2e will not connect, an X2/X4 shows a 1970 clock",
			reason == EDPG_R_SERVICE ? "give the gateway the ntp service (`edpgate gateway add MAC --services ...,ntp --replace`)"
			: reason == EDPG_R_PORT ? "the rules have no ntp service: add `service ntp udp 123` and `allow ntp to ntp`, then `edpgate apply`"
			: "the ntp group lacks this server: fix the ntp group of the rules (time.etherios.com, *.idigi.pool.ntp.org), then `edpgate apply`",
			detail, c, 3);
	}

	/* 3197: plain EDP, old firmware. */
	r = drop_to(&dg, IPPROTO_TCP, EDPG_PORT_EDP, &reason);
	if (edp_ok || r) {
		struct cite c[] = {
			{ "allowed.edp.packets", edp_ok },
			{ key, r ? st.drops[reason] : 0 },
		};

		snprintf(key, sizeof(key), "drops.%s", r ? edpg_reason_names[reason] : "service");
		finding(who, devid, "plain_edp",
			"the gateway uses tcp/3197, plain EDP without TLS (old NDS firmware)",
			"update the firmware and use 3199 (EDP over TLS); or allow `edp` for this gateway",
			r ? "tcp/3197 dropped" : "tcp/3197 allowed", c, 2);
	}

	/*
	 * EDP to an address not in the cloud group.  Either the address is one
	 * a cloud name returned earlier (the gateway still holds it: a Cloud
	 * Connector caches it up to 24 h and retries it without resolving
	 * again), or the gateway uses a host name the rules lack.
	 */
	r = &dg.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST];
	if (r->ts && r->proto == IPPROTO_TCP &&
	    (r->port == EDPG_PORT_EDP_TLS || r->port == EDPG_PORT_EDP))
		check_cloud_destination(r, who, devid, st.drops[EDPG_R_DESTINATION]);

	/* Binding: the source address or VLAN changed. */
	if (st.drops[EDPG_R_BINDING]) {
		struct cite c[] = { { "drops.binding", st.drops[EDPG_R_BINDING] } };

		r = &dg.last[EDPG_R_BINDING - EDPG_DIAG_FIRST];
		detail[0] = '\0';
		if (r->ts) {
			rec_addr(r, a, sizeof(a));
			snprintf(detail, sizeof(detail), "last from %s vlan %u", a, r->vlan);
		}
		finding(who, devid, "binding",
			"frames come from another source address or VLAN than the gateway is bound to",
			"the address changed (DHCP lease?): give the gateway a fixed lease, or re-bind it with `edpgate gateway add MAC --ip NEW --replace`",
			r->ts ? detail : NULL, c, 1);
	}
}

/* my.idigi.* is deprecated: flag it when the data path used its addresses. */
static void check_idigi(const struct edpg_bpf *b)
{
	struct edpg_cache_entry *v = NULL;
	char path[4096], a[EDPG_ADDR_STRLEN], detail[512];
	uint32_t gen = 0;
	size_t n = 0;

	edpg_state_path(path, sizeof(path), cli.state_dir, EDPG_STATE_ADDRESSES);
	if (edpg_cache_load_entries(path, &v, &n) || edpg_bpf_active_gen(b, &gen)) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct edpg_dst d = {};
		int found;

		if (strncmp(v[i].name, "my.idigi.", 9))
			continue;
		found = !edpg_bpf_dst_get(b, &v[i].addr, &d);
		if (!found || !d.last_used)
			continue;
		edpg_addr_format(&v[i].addr, a, sizeof(a));
		snprintf(detail, sizeof(detail), "%s (%s) used %lld s ago", v[i].name, a,
			 (long long)edpg_dp_age(d.last_used));
		{
			struct cite c[] = { { "destination.last_used_age_s",
					      (uint64_t)edpg_dp_age(d.last_used) } };

			finding("all", NULL, "idigi_deprecated",
				"a gateway still connects to a deprecated my.idigi.* name",
				"point the gateway at login.etherios.com (or .co.uk) in its Remote Manager settings",
				detail, c, 1);
		}
		break;
	}
	free(v);
}

/* The daemon's view of the shared store (STATE/store-status, fleet.c). */
static void check_store(void)
{
	struct edpg_fleet_status st;
	char detail[400];

	if (edpg_fleet_status_read(cli.state_dir, &st) || st.connected)
		return;
	snprintf(detail, sizeof(detail), "since %lld (unix time), last revision %lld: %s",
		 (long long)st.since, (long long)st.revision, st.error[0] ? st.error : "not yet connected");
	finding("all", NULL, "store_unreachable",
		"`edpgate run` cannot reach etcd: this router enforces its last-known-good gateways and learns no enrolment",
		"check the `store` lines of edpgate.conf, the network path and the credentials towards the etcd endpoints; the daemon retries on its own",
		detail, NULL, 0);
}

int do_doctor(int argc, char **argv)
{
	struct edpg_global glob[EDPG_R_MAX];
	struct edpg_pending_ent *pend = NULL;
	const struct edpg_gateway *one = NULL;
	struct edpg_ifaces ifs;
	uint64_t would = 0;
	bool audit;
	struct edpg_policy p;
	struct edpg_bpf b;
	size_t npend = 0;
	int err, ret = EDPG_EXIT_FAIL;

	if (argc > 2)
		return usage_err(synopsis, "doctor takes at most one MAC, Device ID or name");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	if (argc == 2) {
		one = edpg_gw_lookup(&p, argv[1]);
		if (!one)
			goto out_policy;
	}
	if (edpg_open_live(&b))
		goto out_policy;
	err = edpg_bpf_global(&b, glob);
	err = err ?: edpg_bpf_pending_list(&b, &pend, &npend);
	if (err) {
		edpg_err(err, "cannot read the counters");
		goto out;
	}
	nfindings = 0;
	audit = !cli_ifaces(&ifs) && edpg_enforce_of(&ifs) == EDPG_ENFORCE_AUDIT;
	out_begin();
	out_obj_open(NULL);
	cli_kernel_report();
	out_arr_open("findings");
	/* Before anything else: nothing here is enforced. */
	for (size_t i = 0; audit && i < ifs.n; i++) {
		struct cite c[] = { { "would_drop.packets", would } };
		char msg[128];

		for (int r = 0; r < EDPG_R_MAX && !i; r++)
			would += glob[r].would_drop.packets;
		c[0].v = would;
		snprintf(msg, sizeof(msg), "nothing is enforced on %s (audit mode): every frame is judged and counted, none is dropped",
			 ifs.v[i].name);
		finding(ifs.v[i].name, NULL, "audit_mode", msg,
			"read `edpgate stats` (would_drop) and `edpgate learn`; when nothing a gateway needs would be dropped, `edpgate enforce both`",
			NULL, c, 1);
	}
	for (size_t i = 0; i < p.ngateways; i++)
		if (!one || one == &p.gateways[i])
			check_gateway(&p, &p.gateways[i], &b, pend, npend, glob, audit);
	if (!one) {
		check_idigi(&b);
		check_store();
	}
	out_arr_close();
	if (!one && npend) {
		out_text("%zu unknown MAC(s) tried Device Cloud or NTP: see `edpgate gateway pending`\n",
			 npend);
	}
	out_uint("pending_macs", NULL, npend);
	if (!nfindings)
		out_text("no problems found in the counters\n");
	out_obj_close();
	ret = EDPG_EXIT_OK;
out:
	free(pend);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
