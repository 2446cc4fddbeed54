// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft.c - the nftables sink: the compiled desired state as table
 * `inet edpgate`, programmed through libnftnl + libmnl.
 *
 * Layout of the table (what `nft list table inet edpgate` shows):
 *
 *   sets  gateways        ether_addr                 every enrolled MAC
 *         svc_<service>   ether_addr                 gateways allowed <service>
 *         bound4, bound6  ether_addr                 gateways with a bound source
 *         bind4           ether_addr . ipv4_addr     the bound (MAC, source) pairs
 *         bind6           ether_addr . ipv6_addr
 *         audit           ether_addr                 gateways enrolled with `audit`
 *         g_<group>_v4    ipv4_addr, flags interval  exact addresses and CIDRs
 *         g_<group>_v6    ipv6_addr, flags interval
 *
 *   chain lan_forward  hook forward prio -1 policy accept   routed traffic
 *   chain lan_input    hook input   prio -1 policy accept   traffic to the router
 *         iifname "<lan>" jump lan_decide                   one rule per LAN iface
 *
 *   There is no `ct state established accept` in front: XDP judges every
 *   frame, so a gateway deleted (or one that loses a service) has its open
 *   session cut at the next packet, and nft must do the same rather than
 *   let conntrack carry the session on.  Every packet of a LAN interface
 *   walks lan_decide; its work is set lookups (gateways, svc_*, the
 *   groups' interval sets) plus a handful of compares, the same per packet
 *   whatever the number of gateways or addresses.  Traffic towards the LAN
 *   (answers from the cloud) has another iifname and is never judged,
 *   exactly like XDP, which sees only what the LAN sends.
 *
 *   chain lan_decide   the XDP decision, in the XDP order:
 *         nd            icmpv6 type 133-137 accept
 *         audit         ether saddr @audit accept   (gateways enrolled with `audit`)
 *         unknown_mac   ether saddr != @gateways  DENY  (accept if unknown-mac pass)
 *         binding       ether saddr @bound4, ip saddr != 0.0.0.0,
 *                       ether saddr . ip saddr != @bind4  DENY   (and v6: not ::, not fe80::/10)
 *         fragment      ip frag-off & 0x1fff != 0 DENY; IPv6 fragment header offset != 0 DENY
 *         protocol      meta l4proto != tcp, != udp  DENY
 *         port          meta l4proto P th dport LO[-HI] goto chk_<service>  (one per port run)
 *                       DENY
 *   chain chk_<service>
 *         service       ether saddr != @svc_<service>  DENY
 *         destination   ip daddr @g_<group>_v4 accept; ip6 daddr @g_<group>_v6 accept
 *                       (for every group the service may reach)  DENY
 *
 * DENY is `drop` with --enforce nft/both and `accept` with --enforce
 * xdp/audit.  With --enforce xdp or audit the hooked base chains are left
 * empty (XDP has
 * already decided; walking the mirror would only cost every forwarded
 * packet conntrack and the rules), so the decision chains are an unhooked
 * mirror for `nft list` and verify.  Every rule has a counter and a
 * comment naming the XDP drop reason it mirrors.
 *
 * What cannot be mirrored, and why that is sound:
 *  - ARP and other non-IP frames never reach the inet forward/input hooks
 *    (they are neither routed nor delivered to the IP stack), so the
 *    non-IP action is XDP's alone.
 *  - VLAN binding: in forward/input the tag is gone and the VLAN is only
 *    visible as an interface name we do not know; XDP enforces it.  With
 *    --enforce nft nothing does, which edpg_nft_vlan_unchecked() words
 *    for attach, gateway add and verify.
 *  - Bridge ports: bridged frames reach forward/input (through
 *    br_netfilter) as the bridge, never as a port, so attach refuses
 *    --enforce nft on a port (edpg_nft_bridge_port()).
 *  - Fragments: when conntrack is active in the namespace (NAT, other
 *    rules) it reassembles before forward/input and the fragment rules
 *    rarely fire; without it they drop non-first fragments like XDP.
 *
 * Transactions: a full apply is one batch: add table, delete table, add
 * table (so it works whether or not the table existed and leaves no stale
 * set behind), then sets, elements, chains, rules.  Deltas only add and
 * remove elements.  Both are derived from one sorted element list per
 * desired state, so a delta is exactly the set difference of two such
 * lists and an element present in both (an address whose TTL was
 * refreshed) is never touched.  Interval elements are (start, end) pairs;
 * nested CIDRs in one group collapse into the outermost one because the
 * kernel refuses overlapping intervals.
 */
#include "nft_internal.h"


int edpg_nft_build_full(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			struct edpg_nft_batch **out)
{
	int deny = o->enforce == EDPG_ENFORCE_XDP || o->enforce == EDPG_ENFORCE_AUDIT ?
		   NF_ACCEPT : NF_DROP;
	struct edpg_nft_batch *b = NULL;
	struct setdef *sds = NULL;
	struct elist l = { 0 };
	size_t i;
	int ret;

	*out = NULL;
	ret = nft_batch_new(&b);
	if (ret)
		return ret;
	ret = nft_setdefs_of(d, &sds);
	if (!ret)
		ret = nft_elems_of(d, &l);
	if (!ret)
		ret = nft_batch_begin(b);
	/* add + delete + add: one transaction whether or not it existed */
	if (!ret)
		ret = nft_emit_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet edpgate");
	if (!ret)
		ret = nft_emit_table(b, NFT_MSG_DELTABLE, 0, "removing the old table inet edpgate");
	if (!ret)
		ret = nft_emit_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet edpgate");
	for (i = 0; i < nft_nsets_of(d) && !ret; i++)
		ret = nft_emit_set(b, &sds[i], (uint32_t)i + 1);
	if (!ret)
		ret = nft_emit_elist(b, sds, l.e, l.n, 0);
	if (!ret)
		ret = nft_emit_chain(b, "lan_decide", -1);
	for (i = 0; i < d->nservices && !ret; i++) {
		char name[64];

		snprintf(name, sizeof(name), "chk_%s", d->services[i].name);
		ret = nft_emit_chain(b, name, -1);
	}
	if (!ret)
		ret = nft_emit_chain(b, "lan_forward", NF_INET_FORWARD);
	if (!ret)
		ret = nft_emit_chain(b, "lan_input", NF_INET_LOCAL_IN);
	for (i = 0; i < d->nservices && !ret; i++)
		ret = nft_emit_service_rules(b, d, sds, i, deny);
	if (!ret)
		ret = nft_emit_decide_rules(b, d, deny);
	if (!ret)
		ret = nft_emit_base_chain_rules(b, "lan_forward", o);
	if (!ret)
		ret = nft_emit_base_chain_rules(b, "lan_input", o);
	if (!ret)
		ret = nft_batch_end(b);
	free(sds);
	free(l.e);
	if (ret) {
		edpg_nft_batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

/* Anything a delta cannot express: sets, chains or rules would change. */
static bool same_structure(const struct edpg_desired *a, const struct edpg_desired *b)
{
	size_t i;

	if (a->flags != b->flags || a->nservices != b->nservices || a->ngroups != b->ngroups)
		return false;
	for (i = 0; i < a->nservices; i++) {
		if (strcmp(a->services[i].name, b->services[i].name) ||
		    a->svc_groups[i] != b->svc_groups[i])
			return false;
	}
	for (i = 0; i < a->ngroups; i++)
		if (strcmp(a->group_names[i], b->group_names[i]))
			return false;
	return !memcmp(a->ports, b->ports, sizeof(a->ports));
}

int edpg_nft_build_delta(const struct edpg_desired *old, const struct edpg_desired *new,
			 const struct edpg_nft_opts *o, struct edpg_nft_batch **out)
{
	struct elist lo = { 0 }, ln = { 0 }, add = { 0 }, del = { 0 };
	struct edpg_nft_batch *b = NULL;
	struct setdef *sds = NULL;
	size_t i = 0, j = 0;
	int ret;

	*out = NULL;
	if (!same_structure(old, new))
		return edpg_nft_build_full(new, o, out);
	ret = nft_batch_new(&b);
	if (ret)
		return ret;
	ret = nft_setdefs_of(new, &sds);
	if (!ret)
		ret = nft_elems_of(old, &lo);
	if (!ret)
		ret = nft_elems_of(new, &ln);
	/* Both lists are sorted: one merge walk gives both differences. */
	while (!ret && (i < lo.n || j < ln.n)) {
		int c = i >= lo.n ? 1 : j >= ln.n ? -1 : nft_elem_cmp(&lo.e[i], &ln.e[j]);
		const struct elem *e = c < 0 ? &lo.e[i] : &ln.e[j];

		if (c < 0)
			ret = nft_elist_add(&del, e->set, e->it.key, sizeof(e->it.key), e->it.end,
					e->it.has_end);
		else if (c > 0)
			ret = nft_elist_add(&add, e->set, e->it.key, sizeof(e->it.key), e->it.end,
					e->it.has_end);
		i += c <= 0;
		j += c >= 0;
	}
	if (!ret)
		ret = nft_batch_begin(b);
	/* Removals first: a new interval may overlap one that goes away. */
	if (!ret)
		ret = nft_emit_elist(b, sds, del.e, del.n, 1);
	if (!ret)
		ret = nft_emit_elist(b, sds, add.e, add.n, 0);
	if (!ret)
		ret = nft_batch_end(b);
	free(sds);
	free(lo.e);
	free(ln.e);
	free(add.e);
	free(del.e);
	if (ret) {
		edpg_nft_batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

int edpg_nft_build_delete(struct edpg_nft_batch **out)
{
	struct edpg_nft_batch *b = NULL;
	int ret;

	*out = NULL;
	ret = nft_batch_new(&b);
	if (!ret)
		ret = nft_batch_begin(b);
	if (!ret)
		ret = nft_emit_table(b, NFT_MSG_DELTABLE, 0, "removing table inet edpgate");
	if (!ret)
		ret = nft_batch_end(b);
	if (ret) {
		edpg_nft_batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}
