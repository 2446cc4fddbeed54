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
 * DENY is `drop` with --enforce nft/both and `accept` with --enforce xdp.
 * With --enforce xdp the hooked base chains are left empty (XDP has
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
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft.h"

/* nftables datatype ids (nftables src/datatype.h), concatenations are
 * packed TYPE_BITS apart, first component highest. */
#define NFT_TYPE_IPADDR		7
#define NFT_TYPE_IP6ADDR	8
#define NFT_TYPE_ETHERADDR	9
#define NFT_TYPE_BITS		6

#define DESC_LEN	112
#define DUMP_BUF	32768

/* ---- batch buffer ------------------------------------------------------ */

struct edpg_nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq0;		/* sequence number of BATCH_BEGIN */
	size_t nall;		/* messages including BEGIN and END */
	char (*desc)[DESC_LEN];	/* indexed by seq - seq0 */
	size_t desc_cap;
};

static uint32_t next_seq;

static int batch_new(struct edpg_nft_batch **out)
{
	struct edpg_nft_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	if (!next_seq)
		next_seq = (uint32_t)time(NULL);
	b->seq0 = next_seq;
	*out = b;
	return 0;
}

/* Room for one more message of at most EDPG_NFT_MSG_MAX bytes, and its
 * description; returns the header, seq already assigned. */
static struct nlmsghdr *batch_reserve(struct edpg_nft_batch *b, const char *what)
{
	size_t need = b->len + EDPG_NFT_MSG_MAX + 8192;

	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return NULL;
		/* Attribute padding is never written: keep it zero so no
		 * heap garbage goes to the kernel. */
		memset(p + b->cap, 0, cap - b->cap);
		b->buf = p;
		b->cap = cap;
	}
	if (b->nall >= b->desc_cap) {
		size_t cap = b->desc_cap ? b->desc_cap * 2 : 64;
		void *p = realloc(b->desc, cap * DESC_LEN);

		if (!p)
			return NULL;
		b->desc = p;
		b->desc_cap = cap;
	}
	snprintf(b->desc[b->nall], DESC_LEN, "%s", what);
	return (struct nlmsghdr *)(b->buf + b->len);
}

static void batch_commit(struct edpg_nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->nall++;
}

static uint32_t batch_seq(const struct edpg_nft_batch *b)
{
	return b->seq0 + (uint32_t)b->nall;
}

/* Start a message of @type; the caller fills the payload and commits. */
static struct nlmsghdr *batch_msg(struct edpg_nft_batch *b, uint16_t type, uint16_t flags,
				  const char *what)
{
	struct nlmsghdr *nlh = batch_reserve(b, what);

	if (!nlh)
		return NULL;
	return nftnl_nlmsg_build_hdr((char *)nlh, type, NFPROTO_INET, flags | NLM_F_ACK,
				     batch_seq(b));
}

static int batch_begin(struct edpg_nft_batch *b)
{
	struct nlmsghdr *nlh = batch_reserve(b, "starting the transaction");

	if (!nlh)
		return -ENOMEM;
	nftnl_batch_begin((char *)nlh, batch_seq(b));
	batch_commit(b, nlh);
	return 0;
}

/* Close the batch; a batch with nothing between BEGIN and END is emptied
 * so that it is never sent. */
static int batch_end(struct edpg_nft_batch *b)
{
	struct nlmsghdr *nlh;

	if (b->nall <= 1) {
		b->len = 0;
		b->nall = 0;
		return 0;
	}
	nlh = batch_reserve(b, "committing the transaction");
	if (!nlh)
		return -ENOMEM;
	nftnl_batch_end((char *)nlh, batch_seq(b));
	batch_commit(b, nlh);
	next_seq = batch_seq(b) + 1;
	return 0;
}

size_t edpg_nft_batch_nmsgs(const struct edpg_nft_batch *b)
{
	return b->nall >= 2 ? b->nall - 2 : 0;
}

const void *edpg_nft_batch_data(const struct edpg_nft_batch *b)
{
	return b->buf;
}

size_t edpg_nft_batch_len(const struct edpg_nft_batch *b)
{
	return b->len;
}

const char *edpg_nft_batch_describe(const struct edpg_nft_batch *b, uint32_t seq)
{
	uint32_t i = seq - b->seq0;

	return i < b->nall ? b->desc[i] : NULL;
}

void edpg_nft_batch_free(struct edpg_nft_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->desc);
	free(b);
}

/* ---- sets and their elements -------------------------------------------- */

struct setdef {
	char name[64];
	uint32_t key_type, key_len, flags;
};

/* Fixed set indexes; services and groups follow. */
enum { S_GATEWAYS, S_BOUND4, S_BOUND6, S_BIND4, S_BIND6, S_FIXED };

static size_t set_svc(size_t s)
{
	return S_FIXED + s;
}

static size_t set_grp(const struct edpg_desired *d, size_t g, int v6)
{
	return S_FIXED + d->nservices + 2 * g + (v6 ? 1 : 0);
}

static size_t nsets_of(const struct edpg_desired *d)
{
	return S_FIXED + d->nservices + 2 * d->ngroups;
}

static void setdef_fill(struct setdef *sd, const char *name, uint32_t type, uint32_t len,
			uint32_t flags)
{
	snprintf(sd->name, sizeof(sd->name), "%s", name);
	sd->key_type = type;
	sd->key_len = len;
	sd->flags = flags;
}

static int setdefs_of(const struct edpg_desired *d, struct setdef **out)
{
	size_t n = nsets_of(d), i;
	struct setdef *sd = calloc(n, sizeof(*sd));
	char name[64];

	if (!sd)
		return -ENOMEM;
	setdef_fill(&sd[S_GATEWAYS], "gateways", NFT_TYPE_ETHERADDR, 6, 0);
	setdef_fill(&sd[S_BOUND4], "bound4", NFT_TYPE_ETHERADDR, 6, 0);
	setdef_fill(&sd[S_BOUND6], "bound6", NFT_TYPE_ETHERADDR, 6, 0);
	/* A concatenation key is each component padded to 4 bytes. */
	setdef_fill(&sd[S_BIND4], "bind4",
		    NFT_TYPE_ETHERADDR << NFT_TYPE_BITS | NFT_TYPE_IPADDR, 8 + 4, 0);
	setdef_fill(&sd[S_BIND6], "bind6",
		    NFT_TYPE_ETHERADDR << NFT_TYPE_BITS | NFT_TYPE_IP6ADDR, 8 + 16, 0);
	for (i = 0; i < d->nservices; i++) {
		snprintf(name, sizeof(name), "svc_%s", d->services[i].name);
		setdef_fill(&sd[set_svc(i)], name, NFT_TYPE_ETHERADDR, 6, 0);
	}
	for (i = 0; i < d->ngroups; i++) {
		snprintf(name, sizeof(name), "g_%s_v4", d->group_names[i]);
		setdef_fill(&sd[set_grp(d, i, 0)], name, NFT_TYPE_IPADDR, 4, NFT_SET_INTERVAL);
		snprintf(name, sizeof(name), "g_%s_v6", d->group_names[i]);
		setdef_fill(&sd[set_grp(d, i, 1)], name, NFT_TYPE_IP6ADDR, 16, NFT_SET_INTERVAL);
	}
	*out = sd;
	return 0;
}

struct elem {
	uint32_t set;
	struct edpg_nft_item it;
};

struct elist {
	struct elem *e;
	size_t n, cap;
};

static int elist_add(struct elist *l, uint32_t set, const void *key, size_t klen,
		     const void *end, int has_end)
{
	struct elem *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->e, cap * sizeof(*l->e));

		if (!p)
			return -ENOMEM;
		l->e = p;
		l->cap = cap;
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	e->set = set;
	memcpy(e->it.key, key, klen);
	if (has_end) {
		memcpy(e->it.end, end, klen);
		e->it.has_end = 1;
	}
	return 0;
}

static int item_cmp(const struct edpg_nft_item *a, const struct edpg_nft_item *b)
{
	int c = memcmp(a->key, b->key, sizeof(a->key));

	if (c)
		return c;
	if (a->has_end != b->has_end)
		return a->has_end < b->has_end ? -1 : 1;
	return memcmp(a->end, b->end, sizeof(a->end));
}

static int elem_cmp(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;

	if (a->set != b->set)
		return a->set < b->set ? -1 : 1;
	return item_cmp(&a->it, &b->it);
}

/*
 * The interval [start, end) covered by @addr/@plen in @len bytes; has_end
 * is 0 when the interval runs to the top of the address space (the kernel
 * takes a start without an end as "to the end").
 */
static void prefix_interval(const uint8_t *addr, size_t len, unsigned int plen,
			    uint8_t *start, uint8_t *end, int *has_end)
{
	unsigned int bits = len * 8, hb, i;
	int carry;

	if (plen > bits)
		plen = bits;
	for (i = 0; i < len; i++) {
		unsigned int keep = plen > i * 8 ? plen - i * 8 : 0;

		start[i] = keep >= 8 ? addr[i] : addr[i] & (uint8_t)(0xff << (8 - keep));
	}
	memcpy(end, start, len);
	if (plen == 0) {
		*has_end = 0;
		return;
	}
	/* end = start + 2^(bits - plen) */
	hb = bits - plen;
	i = len - 1 - hb / 8;
	carry = 1 << (hb % 8);
	for (;;) {
		int v = end[i] + carry;

		end[i] = (uint8_t)v;
		carry = v >> 8;
		if (!carry || i == 0)
			break;
		i--;
	}
	*has_end = !carry;
}

struct iv {
	uint8_t start[16], end[16];
	int has_end;
};

static int iv_cmp(const void *pa, const void *pb)
{
	const struct iv *a = pa, *b = pb;
	int c = memcmp(a->start, b->start, 16);

	if (c)
		return c;
	/* Same start: the wider one (open-ended, then larger end) first. */
	if (a->has_end != b->has_end)
		return a->has_end ? 1 : -1;
	return -memcmp(a->end, b->end, 16);
}

/* Every group's addresses of one family as non-overlapping intervals. */
static int group_elems(const struct edpg_desired *d, size_t g, int v6, struct elist *l)
{
	int family = v6 ? AF_INET6 : AF_INET;
	size_t len = v6 ? 16 : 4, n = 0, i;
	struct iv *ivs, *cur = NULL;
	int ret = 0;

	ivs = calloc(d->ndsts ? d->ndsts : 1, sizeof(*ivs));
	if (!ivs)
		return -ENOMEM;
	for (i = 0; i < d->ndsts; i++) {
		const struct edpg_want_dst *w = &d->dsts[i];

		if (w->addr.family != family || !(w->groups & (1ULL << g)))
			continue;
		prefix_interval(w->addr.addr, len, w->addr.plen, ivs[n].start, ivs[n].end,
				&ivs[n].has_end);
		n++;
	}
	qsort(ivs, n, sizeof(*ivs), iv_cmp);
	/* Prefixes either nest or are disjoint, so keeping only intervals
	 * that start at or after the current one's end drops the nested. */
	for (i = 0; i < n; i++) {
		if (cur && (!cur->has_end || memcmp(ivs[i].start, cur->end, len) < 0))
			continue;
		cur = &ivs[i];
		ret = elist_add(l, set_grp(d, g, v6), cur->start, len, cur->end, cur->has_end);
		if (ret)
			break;
	}
	free(ivs);
	return ret;
}

/* The whole element content of the table for @d, sorted. */
static int elems_of(const struct edpg_desired *d, struct elist *l)
{
	size_t i, s;
	int ret = 0;

	for (i = 0; i < d->ngws && !ret; i++) {
		const struct edpg_want_gw *g = &d->gws[i];
		uint8_t key[24] = { 0 };

		ret = elist_add(l, S_GATEWAYS, g->mac, 6, NULL, 0);
		for (s = 0; s < d->nservices && !ret; s++)
			if (g->rec.services & (1U << s))
				ret = elist_add(l, set_svc(s), g->mac, 6, NULL, 0);
		memcpy(key, g->mac, 6);
		if (!ret && (g->rec.flags & EDPG_GW_BIND_V4)) {
			memcpy(key + 8, g->rec.ip4, 4);
			ret = elist_add(l, S_BOUND4, g->mac, 6, NULL, 0);
			if (!ret)
				ret = elist_add(l, S_BIND4, key, 12, NULL, 0);
		}
		if (!ret && (g->rec.flags & EDPG_GW_BIND_V6)) {
			memcpy(key + 8, g->rec.ip6, 16);
			ret = elist_add(l, S_BOUND6, g->mac, 6, NULL, 0);
			if (!ret)
				ret = elist_add(l, S_BIND6, key, 24, NULL, 0);
		}
	}
	for (i = 0; i < d->ngroups && !ret; i++) {
		ret = group_elems(d, i, 0, l);
		if (!ret)
			ret = group_elems(d, i, 1, l);
	}
	if (!ret && l->n)	/* qsort(NULL, 0) is undefined */
		qsort(l->e, l->n, sizeof(*l->e), elem_cmp);
	return ret;
}

/* Upper bound of the netlink bytes one element takes in a list. */
static size_t elem_size(uint32_t klen)
{
	/* elem nest + key nest + value attr + flags attr */
	return 4 + 4 + 4 + ((klen + 3) & ~3U) + 8;
}

/* One element: NFTA_LIST_ELEM { KEY { DATA_VALUE }, FLAGS }. */
static void put_elem(struct nlmsghdr *nlh, const uint8_t *key, uint32_t klen, int end)
{
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, key);
	mnl_attr_nest_end(nlh, k);
	if (end)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	mnl_attr_nest_end(nlh, el);
}

/*
 * Messages adding (or deleting) elems[0..n) of one set, split so that no
 * message exceeds EDPG_NFT_MSG_MAX.  The element list is written with
 * libmnl directly: libnftnl 1.2.4 numbers the list entries 1, 2, 3, ...
 * instead of NFTA_LIST_ELEM, which the kernel ignores but which its own
 * parser then refuses, and we parse our batches back (tests, verify).
 */
static int emit_elems(struct edpg_nft_batch *b, const struct setdef *sd, const struct elem *e,
		      size_t n, int del)
{
	size_t per = elem_size(sd->key_len) * ((sd->flags & NFT_SET_INTERVAL) ? 2 : 1);
	size_t chunk = (EDPG_NFT_MSG_MAX - 512) / per, i, j;

	for (i = 0; i < n; i += chunk) {
		size_t m = n - i < chunk ? n - i : chunk;
		struct nlmsghdr *nlh;
		struct nlattr *list;
		char what[DESC_LEN];

		snprintf(what, sizeof(what), "%s %zu element%s %s set %s", del ? "removing" : "adding",
			 m, m == 1 ? "" : "s", del ? "from" : "to", sd->name);
		nlh = batch_msg(b, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
				del ? 0 : NLM_F_CREATE, what);
		if (!nlh)
			return -ENOMEM;
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, EDPG_NFT_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, sd->name);
		list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		for (j = i; j < i + m; j++) {
			put_elem(nlh, e[j].it.key, sd->key_len, 0);
			if (e[j].it.has_end)
				put_elem(nlh, e[j].it.end, sd->key_len, 1);
		}
		mnl_attr_nest_end(nlh, list);
		if (nlh->nlmsg_len > EDPG_NFT_MSG_MAX)
			return -EMSGSIZE;	/* elem_size() is wrong: a bug */
		batch_commit(b, nlh);
	}
	return 0;
}

/* One message list per run of elements of the same set. */
static int emit_elist(struct edpg_nft_batch *b, const struct setdef *sds, const struct elem *e,
		      size_t n, int del)
{
	size_t i = 0, j;
	int ret;

	while (i < n) {
		for (j = i; j < n && e[j].set == e[i].set; j++)
			;
		ret = emit_elems(b, &sds[e[i].set], e + i, j - i, del);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/* ---- rules ---------------------------------------------------------------- */

static void x_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void x_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void x_cmp8(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
	x_cmp(r, NFT_REG_1, op, &v, 1);
}

static void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
		      uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_rule_add_expr(r, e);
}

static void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, int inv)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, inv ? NFT_LOOKUP_F_INV : 0);
	nftnl_rule_add_expr(r, e);
}

static void x_bitwise(struct nftnl_rule *r, const void *mask, const void *xor, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_BOOL);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	nftnl_rule_add_expr(r, e);
}

static void x_range(struct nftnl_rule *r, const void *from, const void *to, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
	nftnl_rule_add_expr(r, e);
}

static void x_counter(struct nftnl_rule *r)
{
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
}

static void x_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	nftnl_rule_add_expr(r, e);
}

static void x_nfproto(struct nftnl_rule *r, uint8_t proto)
{
	x_meta(r, NFT_META_NFPROTO);
	x_cmp8(r, NFT_CMP_EQ, proto);
}

/* ether saddr into @dreg, only on Ethernet interfaces (the dependency nft
 * itself adds for `ether` in the inet family). */
static void x_ether_saddr(struct nftnl_rule *r, uint32_t dreg)
{
	uint16_t arphrd_ether = 1;	/* ARPHRD_ETHER, host order like meta */

	x_meta(r, NFT_META_IIFTYPE);
	x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &arphrd_ether, sizeof(arphrd_ether));
	x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, dreg);
}

static struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, EDPG_NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

/* Finish @r with a counter, @verdict and a comment, then add it. */
static int rule_emit(struct edpg_nft_batch *b, struct nftnl_rule *r, int verdict,
		     const char *target, const char *comment)
{
	struct nftnl_udata_buf *ud;
	struct nlmsghdr *nlh;
	char what[DESC_LEN];
	int ret = 0;

	if (!r)
		return -ENOMEM;
	x_counter(r);
	x_verdict(r, verdict, target);
	ud = nftnl_udata_buf_alloc(256);
	if (!ud) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
			    nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	snprintf(what, sizeof(what), "adding rule \"%s\" to chain %s", comment,
		 nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what);
	if (!nlh) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_commit(b, nlh);
out:
	nftnl_rule_free(r);
	return ret;
}

static int emit_chain(struct edpg_nft_batch *b, const char *name, int hook)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	char what[DESC_LEN];

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, EDPG_NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		/* Just before the usual filter chains (priority 0) so that
		 * the mirror decides before any site rule accepts. */
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -1);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	snprintf(what, sizeof(what), "creating chain %s", name);
	nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what);
	if (!nlh) {
		nftnl_chain_free(c);
		return -ENOMEM;
	}
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_commit(b, nlh);
	return 0;
}

static int emit_set(struct edpg_nft_batch *b, const struct setdef *sd, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	char what[DESC_LEN];

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, EDPG_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, sd->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sd->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sd->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, sd->flags);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	snprintf(what, sizeof(what), "creating set %s", sd->name);
	nlh = batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, what);
	if (!nlh) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_commit(b, nlh);
	return 0;
}

static int emit_table(struct edpg_nft_batch *b, uint16_t type, uint16_t flags, const char *what)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, EDPG_NFT_TABLE);
	nlh = batch_msg(b, type, flags, what);
	if (!nlh) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_commit(b, nlh);
	return 0;
}

static int emit_base_chain_rules(struct edpg_nft_batch *b, const char *chain,
				 const struct edpg_nft_opts *o)
{
	struct nftnl_rule *r;
	size_t i;
	int ret = 0;

	/*
	 * --enforce xdp: XDP has decided before a packet gets here, so the
	 * hooked chains stay empty (policy accept).  Running the mirrored
	 * decision anyway, even with accept verdicts, put conntrack and the
	 * whole rule walk on every forwarded packet (make bench: allowed
	 * traffic was no faster than --enforce nft).  The decision chains
	 * are still in the table, unhooked, for `nft list` and verify.
	 */
	if (o->enforce == EDPG_ENFORCE_XDP)
		return 0;
	/*
	 * No `ct state established,related accept` first: it let a session
	 * live on after its gateway was deleted or lost the service, where
	 * XDP cuts it at the next frame (tests/e2e/test_session_cut.sh).
	 */
	for (i = 0; i < o->nifaces && !ret; i++) {
		char name[IFNAMSIZ] = { 0 };

		snprintf(name, sizeof(name), "%s", o->ifaces[i]);
		r = rule_new(chain);
		if (r) {
			x_meta(r, NFT_META_IIFNAME);
			x_cmp(r, NFT_REG_1, NFT_CMP_EQ, name, sizeof(name));
		}
		ret = rule_emit(b, r, NFT_JUMP, "lan_decide", "LAN interface");
	}
	return ret;
}

static int emit_decide_rules(struct edpg_nft_batch *b, const struct edpg_desired *d, int deny)
{
	static const char *const ch = "lan_decide";
	uint8_t zero16[16] = { 0 };
	struct nftnl_rule *r;
	unsigned int proto, port;
	int ret;

	/* nd: router/neighbour solicitation and advertisement, redirect */
	r = rule_new(ch);
	if (r) {
		uint8_t lo = 133, hi = 137;

		x_nfproto(r, NFPROTO_IPV6);
		x_meta(r, NFT_META_L4PROTO);
		x_cmp8(r, NFT_CMP_EQ, IPPROTO_ICMPV6);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		x_range(r, &lo, &hi, 1);
	}
	ret = rule_emit(b, r, NF_ACCEPT, NULL, "nd");
	if (ret)
		return ret;

	r = rule_new(ch);
	if (r) {
		x_ether_saddr(r, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "gateways", 1);
	}
	ret = rule_emit(b, r, (d->flags & EDPG_F_UNKNOWN_MAC_PASS) ? NF_ACCEPT : deny, NULL,
			"unknown_mac");
	if (ret)
		return ret;

	/* binding, IPv4: 0.0.0.0 is DHCP, not spoofing */
	r = rule_new(ch);
	if (r) {
		x_nfproto(r, NFPROTO_IPV4);
		x_ether_saddr(r, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "bound4", 0);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
		x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero16, 4);
		x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_02);
		x_lookup(r, NFT_REG_1, "bind4", 1);
	}
	ret = rule_emit(b, r, deny, NULL, "binding");
	if (ret)
		return ret;

	/* binding, IPv6: :: (DAD) and fe80::/10 (link-local) are allowed */
	r = rule_new(ch);
	if (r) {
		uint8_t ll_mask[2] = { 0xff, 0xc0 }, ll[2] = { 0xfe, 0x80 };

		x_nfproto(r, NFPROTO_IPV6);
		x_ether_saddr(r, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "bound6", 0);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero16, 16);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 2, NFT_REG_1);
		x_bitwise(r, ll_mask, zero16, 2);
		x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, ll, 2);
		x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG32_02);
		x_lookup(r, NFT_REG_1, "bind6", 1);
	}
	ret = rule_emit(b, r, deny, NULL, "binding");
	if (ret)
		return ret;

	/* fragment: IPv4 fragment offset != 0 */
	r = rule_new(ch);
	if (r) {
		uint16_t off = htons(0x1fff);

		x_nfproto(r, NFPROTO_IPV4);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 6, 2, NFT_REG_1);
		x_bitwise(r, &off, zero16, 2);
		x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero16, 2);
	}
	ret = rule_emit(b, r, deny, NULL, "fragment");
	if (ret)
		return ret;

	/* fragment: IPv6 fragment header with offset != 0 */
	r = rule_new(ch);
	if (r) {
		uint16_t off = htons(0xfff8);
		struct nftnl_expr *e = nftnl_expr_alloc("exthdr");

		x_nfproto(r, NFPROTO_IPV6);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
		nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, IPPROTO_FRAGMENT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_IPV6);
		nftnl_rule_add_expr(r, e);
		x_bitwise(r, &off, zero16, 2);
		x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, zero16, 2);
	}
	ret = rule_emit(b, r, deny, NULL, "fragment");
	if (ret)
		return ret;

	r = rule_new(ch);
	if (r) {
		x_meta(r, NFT_META_L4PROTO);
		x_cmp8(r, NFT_CMP_NEQ, IPPROTO_TCP);
		x_cmp8(r, NFT_CMP_NEQ, IPPROTO_UDP);
	}
	ret = rule_emit(b, r, deny, NULL, "protocol");
	if (ret)
		return ret;

	/* port: one rule per run of ports mapping to the same service, taken
	 * from the same ports[] table the XDP program indexes. */
	for (proto = 0; proto < 2; proto++) {
		for (port = 0; port < EDPG_NR_PORTS;) {
			unsigned int v = d->ports[proto][port], end = port;
			char target[64], comment[64];
			uint16_t lo, hi;

			while (end + 1 < EDPG_NR_PORTS && d->ports[proto][end + 1] == v)
				end++;
			if (!v || v > d->nservices) {
				port = end + 1;
				continue;
			}
			snprintf(target, sizeof(target), "chk_%s", d->services[v - 1].name);
			snprintf(comment, sizeof(comment), "service %s", d->services[v - 1].name);
			lo = htons((uint16_t)port);
			hi = htons((uint16_t)end);
			r = rule_new(ch);
			if (r) {
				x_meta(r, NFT_META_L4PROTO);
				x_cmp8(r, NFT_CMP_EQ, proto == EDPG_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP);
				x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
				if (port == end)
					x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &lo, 2);
				else
					x_range(r, &lo, &hi, 2);
			}
			ret = rule_emit(b, r, NFT_GOTO, target, comment);
			if (ret)
				return ret;
			port = end + 1;
		}
	}
	return rule_emit(b, rule_new(ch), deny, NULL, "port");
}

static int emit_service_rules(struct edpg_nft_batch *b, const struct edpg_desired *d,
			      const struct setdef *sds, size_t s, int deny)
{
	char chain[64];
	struct nftnl_rule *r;
	size_t g;
	int ret;

	snprintf(chain, sizeof(chain), "chk_%s", d->services[s].name);
	r = rule_new(chain);
	if (r) {
		x_ether_saddr(r, NFT_REG_1);
		x_lookup(r, NFT_REG_1, sds[set_svc(s)].name, 1);
	}
	ret = rule_emit(b, r, deny, NULL, "service");
	for (g = 0; g < d->ngroups && !ret; g++) {
		char comment[64];

		if (!(d->svc_groups[s] & (1ULL << g)))
			continue;
		snprintf(comment, sizeof(comment), "group %s", d->group_names[g]);
		r = rule_new(chain);
		if (r) {
			x_nfproto(r, NFPROTO_IPV4);
			x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
			x_lookup(r, NFT_REG_1, sds[set_grp(d, g, 0)].name, 0);
		}
		ret = rule_emit(b, r, NF_ACCEPT, NULL, comment);
		if (ret)
			break;
		r = rule_new(chain);
		if (r) {
			x_nfproto(r, NFPROTO_IPV6);
			x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1);
			x_lookup(r, NFT_REG_1, sds[set_grp(d, g, 1)].name, 0);
		}
		ret = rule_emit(b, r, NF_ACCEPT, NULL, comment);
	}
	if (!ret)
		ret = rule_emit(b, rule_new(chain), deny, NULL, "destination");
	return ret;
}

int edpg_nft_build_full(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			struct edpg_nft_batch **out)
{
	int deny = o->enforce == EDPG_ENFORCE_XDP ? NF_ACCEPT : NF_DROP;
	struct edpg_nft_batch *b = NULL;
	struct setdef *sds = NULL;
	struct elist l = { 0 };
	size_t i;
	int ret;

	*out = NULL;
	ret = batch_new(&b);
	if (ret)
		return ret;
	ret = setdefs_of(d, &sds);
	if (!ret)
		ret = elems_of(d, &l);
	if (!ret)
		ret = batch_begin(b);
	/* add + delete + add: one transaction whether or not it existed */
	if (!ret)
		ret = emit_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet edpgate");
	if (!ret)
		ret = emit_table(b, NFT_MSG_DELTABLE, 0, "removing the old table inet edpgate");
	if (!ret)
		ret = emit_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet edpgate");
	for (i = 0; i < nsets_of(d) && !ret; i++)
		ret = emit_set(b, &sds[i], (uint32_t)i + 1);
	if (!ret)
		ret = emit_elist(b, sds, l.e, l.n, 0);
	if (!ret)
		ret = emit_chain(b, "lan_decide", -1);
	for (i = 0; i < d->nservices && !ret; i++) {
		char name[64];

		snprintf(name, sizeof(name), "chk_%s", d->services[i].name);
		ret = emit_chain(b, name, -1);
	}
	if (!ret)
		ret = emit_chain(b, "lan_forward", NF_INET_FORWARD);
	if (!ret)
		ret = emit_chain(b, "lan_input", NF_INET_LOCAL_IN);
	for (i = 0; i < d->nservices && !ret; i++)
		ret = emit_service_rules(b, d, sds, i, deny);
	if (!ret)
		ret = emit_decide_rules(b, d, deny);
	if (!ret)
		ret = emit_base_chain_rules(b, "lan_forward", o);
	if (!ret)
		ret = emit_base_chain_rules(b, "lan_input", o);
	if (!ret)
		ret = batch_end(b);
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
	ret = batch_new(&b);
	if (ret)
		return ret;
	ret = setdefs_of(new, &sds);
	if (!ret)
		ret = elems_of(old, &lo);
	if (!ret)
		ret = elems_of(new, &ln);
	/* Both lists are sorted: one merge walk gives both differences. */
	while (!ret && (i < lo.n || j < ln.n)) {
		int c = i >= lo.n ? 1 : j >= ln.n ? -1 : elem_cmp(&lo.e[i], &ln.e[j]);
		const struct elem *e = c < 0 ? &lo.e[i] : &ln.e[j];

		if (c < 0)
			ret = elist_add(&del, e->set, e->it.key, sizeof(e->it.key), e->it.end,
					e->it.has_end);
		else if (c > 0)
			ret = elist_add(&add, e->set, e->it.key, sizeof(e->it.key), e->it.end,
					e->it.has_end);
		i += c <= 0;
		j += c >= 0;
	}
	if (!ret)
		ret = batch_begin(b);
	/* Removals first: a new interval may overlap one that goes away. */
	if (!ret)
		ret = emit_elist(b, sds, del.e, del.n, 1);
	if (!ret)
		ret = emit_elist(b, sds, add.e, add.n, 0);
	if (!ret)
		ret = batch_end(b);
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
	ret = batch_new(&b);
	if (!ret)
		ret = batch_begin(b);
	if (!ret)
		ret = emit_table(b, NFT_MSG_DELTABLE, 0, "removing table inet edpgate");
	if (!ret)
		ret = batch_end(b);
	if (ret) {
		edpg_nft_batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

/* ---- talking to the kernel ---------------------------------------------- */

static int sock_open(struct mnl_socket **out, size_t sndbuf, size_t rcvbuf)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1, fd, v, ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(nl);
		return ret;
	}
	/* Error strings from the kernel, and no echo of our (large)
	 * messages in every error. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	fd = mnl_socket_get_fd(nl);
	/* The whole batch goes in one sendmsg (one skb = one transaction),
	 * so the send buffer must hold it; the FORCE variants pass the
	 * sysctl limits as root. */
	v = sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)sndbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	v = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	*out = nl;
	return 0;
}

/* The kernel's own words for an error, if it sent any. */
static const char *ext_ack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

int edpg_nft_send(struct edpg_nft_batch *b, char *err, size_t errlen)
{
	size_t expect = b->nall >= 2 ? b->nall - 2 : 0, got = 0, nerr = 0;
	struct mnl_socket *nl = NULL;
	char *buf = NULL;
	int ret, first = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!edpg_nft_batch_nmsgs(b))
		return 0;	/* an empty change sends nothing */
	ret = sock_open(&nl, b->len + 65536, expect * 1024 + 262144);
	if (ret) {
		if (err)
			snprintf(err, errlen, "opening a netfilter netlink socket: %s", strerror(-ret));
		return ret;
	}
	buf = malloc(MNL_SOCKET_BUFFER_SIZE * 8);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (mnl_socket_sendto(nl, b->buf, b->len) != (ssize_t)b->len) {
		ret = -errno;
		if (err)
			snprintf(err, errlen, "sending the nftables transaction (%zu bytes): %s",
				 b->len, strerror(errno));
		goto out;
	}
	/*
	 * The kernel processes the batch inside sendmsg and queues one ack
	 * per message (errors included) before it returns; read them all.
	 * After an error keep draining without waiting so that the first
	 * error (the cause; later ones are often its consequence) is known.
	 */
	while (got < expect) {
		struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		if (poll(&p, 1, nerr ? 0 : 5000) <= 0)
			break;
		n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 8);
		if (n < 0) {
			if (!first)
				first = -errno;
			break;
		}
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;
			const char *what, *kmsg;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			got++;
			e = mnl_nlmsg_get_payload(nlh);
			if (!e->error)
				continue;
			if (nerr++)
				continue;
			first = e->error;
			what = edpg_nft_batch_describe(b, nlh->nlmsg_seq);
			kmsg = ext_ack_msg(nlh);
			if (err)
				snprintf(err, errlen, "%s: %s%s%s%s", what ? what : "nftables transaction",
					 strerror(-e->error), kmsg ? " (" : "", kmsg ? kmsg : "",
					 kmsg ? ")" : "");
		}
	}
	if (!first && got < expect) {
		first = -ETIMEDOUT;
		if (err)
			snprintf(err, errlen, "nftables transaction: %zu of %zu messages acknowledged",
				 got, expect);
	}
	if (nerr > 1 && err) {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, " (and %zu more error%s)", nerr - 1,
			 nerr > 2 ? "s" : "");
	}
	ret = first;
out:
	free(buf);
	mnl_socket_close(nl);
	return ret;
}

int edpg_nft_delete_table(void)
{
	struct edpg_nft_batch *b;
	char err[256];
	int ret;

	ret = edpg_nft_build_delete(&b);
	if (ret)
		return ret;
	ret = edpg_nft_send(b, err, sizeof(err));
	edpg_nft_batch_free(b);
	return ret;
}

/* ---- what the inet hooks can see ------------------------------------------ */

size_t edpg_nft_vlan_unchecked(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			       char *msg, size_t len)
{
	const struct edpg_want_gw *first = NULL;
	size_t i, n = 0;

	if (o->enforce != EDPG_ENFORCE_NFT)
		return 0;
	for (i = 0; i < d->ngws; i++) {
		if (!(d->gws[i].rec.flags & EDPG_GW_BIND_VLAN))
			continue;
		if (!n++)
			first = &d->gws[i];
	}
	if (n && msg && len)
		snprintf(msg, len, "%zu gateway%s bound to a VLAN (%02x:%02x:%02x:%02x:%02x:%02x to VLAN %u%s): with --enforce nft the VLAN is not checked, because nftables sees a frame after its tag is gone; VLAN binding needs XDP (--enforce xdp|both)",
			 n, n == 1 ? "" : "s", first->mac[0], first->mac[1], first->mac[2],
			 first->mac[3], first->mac[4], first->mac[5], first->rec.vlan,
			 n > 1 ? ", ..." : "");
	return n;
}

struct port_info {
	uint32_t master;
	bool bridge_port;
};

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct port_info *pi = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_SLAVE_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 &&
	    !strcmp(mnl_attr_get_str(a), "bridge"))
		pi->bridge_port = true;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct port_info *pi = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			pi->master = mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		mnl_attr_parse_nested(a, linkinfo_cb, pi);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, data);
	return MNL_CB_OK;
}

int edpg_nft_bridge_port(const char *ifname, char *bridge, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], name[IF_NAMESIZE];
	unsigned int idx = if_nametoindex(ifname);
	struct port_info pi = { 0 };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	uint32_t seq = (uint32_t)time(NULL);
	ssize_t n;
	int ret;

	if (!idx)
		return -ENODEV;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)idx;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), link_cb, &pi);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	if (pi.bridge_port && pi.master) {
		if (!if_indextoname(pi.master, name))
			snprintf(name, sizeof(name), "ifindex %u", pi.master);
		snprintf(bridge, len, "%s", name);
		ret = 1;
	}
out:
	mnl_socket_close(nl);
	return ret;
}

/* ---- read-back ------------------------------------------------------------- */

struct raw_elem {
	uint8_t key[24];
	int end;
};

/* Growable state under construction. */
struct sbuild {
	struct edpg_nft_state *s;
	struct raw_elem **raw;	/* per set */
	size_t *nraw, *craw;
};

static struct edpg_nft_set *state_set(struct edpg_nft_state *s, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < s->nsets; i++) {
		if (!strcmp(s->sets[i].name, name)) {
			if (idx)
				*idx = i;
			return &s->sets[i];
		}
	}
	return NULL;
}

static struct edpg_nft_chain *state_chain(struct edpg_nft_state *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nchains; i++)
		if (!strcmp(s->chains[i].name, name))
			return &s->chains[i];
	return NULL;
}

static int sb_add_set(struct sbuild *sb, const struct nftnl_set *ns)
{
	struct edpg_nft_state *s = sb->s;
	struct edpg_nft_set *set;
	void *p;

	p = realloc(s->sets, (s->nsets + 1) * sizeof(*s->sets));
	if (!p)
		return -ENOMEM;
	s->sets = p;
	p = realloc(sb->raw, (s->nsets + 1) * sizeof(*sb->raw));
	if (!p)
		return -ENOMEM;
	sb->raw = p;
	p = realloc(sb->nraw, (s->nsets + 1) * sizeof(*sb->nraw));
	if (!p)
		return -ENOMEM;
	sb->nraw = p;
	p = realloc(sb->craw, (s->nsets + 1) * sizeof(*sb->craw));
	if (!p)
		return -ENOMEM;
	sb->craw = p;
	set = &s->sets[s->nsets];
	memset(set, 0, sizeof(*set));
	snprintf(set->name, sizeof(set->name), "%s", nftnl_set_get_str(ns, NFTNL_SET_NAME));
	set->key_type = nftnl_set_get_u32(ns, NFTNL_SET_KEY_TYPE);
	set->key_len = nftnl_set_get_u32(ns, NFTNL_SET_KEY_LEN);
	set->flags = nftnl_set_get_u32(ns, NFTNL_SET_FLAGS);
	sb->raw[s->nsets] = NULL;
	sb->nraw[s->nsets] = sb->craw[s->nsets] = 0;
	s->nsets++;
	return 0;
}

static int sb_add_elems(struct sbuild *sb, struct nftnl_set *ns)
{
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *se;
	size_t idx;
	int ret = 0;

	if (!state_set(sb->s, nftnl_set_get_str(ns, NFTNL_SET_NAME), &idx))
		return 0;	/* elements of a set we do not know: ignore */
	it = nftnl_set_elems_iter_create(ns);
	if (!it)
		return -ENOMEM;
	while ((se = nftnl_set_elems_iter_next(it))) {
		struct raw_elem *r;
		uint32_t klen = 0;
		const void *k;

		if (sb->nraw[idx] == sb->craw[idx]) {
			size_t cap = sb->craw[idx] ? sb->craw[idx] * 2 : 64;
			void *p = realloc(sb->raw[idx], cap * sizeof(**sb->raw));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			sb->raw[idx] = p;
			sb->craw[idx] = cap;
		}
		r = &sb->raw[idx][sb->nraw[idx]];
		memset(r, 0, sizeof(*r));
		k = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY, &klen);
		if (k)
			memcpy(r->key, k, klen < sizeof(r->key) ? klen : sizeof(r->key));
		if (nftnl_set_elem_is_set(se, NFTNL_SET_ELEM_FLAGS))
			r->end = !!(nftnl_set_elem_get_u32(se, NFTNL_SET_ELEM_FLAGS) &
				    NFT_SET_ELEM_INTERVAL_END);
		sb->nraw[idx]++;
	}
	nftnl_set_elems_iter_destroy(it);
	return ret;
}

static int sb_add_chain(struct sbuild *sb, const struct nftnl_chain *c)
{
	struct edpg_nft_state *s = sb->s;
	struct edpg_nft_chain *ch;
	void *p;

	if (strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), EDPG_NFT_TABLE))
		return 0;
	p = realloc(s->chains, (s->nchains + 1) * sizeof(*s->chains));
	if (!p)
		return -ENOMEM;
	s->chains = p;
	ch = &s->chains[s->nchains++];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		uint32_t h = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);

		snprintf(ch->hook, sizeof(ch->hook), "%s",
			 h == NF_INET_FORWARD ? "forward" : h == NF_INET_LOCAL_IN ? "input" : "other");
		ch->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		/* A base chain flipped to `policy drop` changes every verdict. */
		ch->policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ?
			     nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
	}
	return 0;
}

/* A rule as comparable text: no handle, counters zeroed, comment kept. */
static int sb_add_rule(struct sbuild *sb, struct nftnl_rule *r)
{
	struct edpg_nft_chain *ch;
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	char text[4096], raw[4096];
	const uint8_t *ud;
	uint32_t udlen = 0;
	const char *p2;
	size_t n;
	void *p;

	if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), EDPG_NFT_TABLE))
		return 0;
	ch = state_chain(sb->s, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (!ch)
		return 0;
	nftnl_rule_unset(r, NFTNL_RULE_HANDLE);
	nftnl_rule_unset(r, NFTNL_RULE_POSITION);
	nftnl_rule_unset(r, NFTNL_RULE_ID);
	it = nftnl_expr_iter_create(r);
	if (!it)
		return -ENOMEM;
	while ((e = nftnl_expr_iter_next(it))) {
		if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter")) {
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 0);
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 0);
		}
	}
	nftnl_expr_iter_destroy(it);
	/* One line: "[comment] [ expr ] [ expr ] ..." without the raw
	 * userdata dump libnftnl appends. */
	n = 0;
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
	if (ud && udlen > 2 && ud[0] == NFTNL_UDATA_RULE_COMMENT && ud[1] + 2U <= udlen)
		n = snprintf(text, sizeof(text), "\"%.*s\"", (int)strnlen((const char *)ud + 2, ud[1]),
			     (const char *)ud + 2);
	nftnl_rule_snprintf(raw, sizeof(raw), r, NFTNL_OUTPUT_DEFAULT, 0);
	/* (unsetting NFTNL_RULE_USERDATA instead would leave libnftnl 1.2.4
	 * printing the freed buffer) */
	p2 = strstr(raw, "\n  userdata = {");
	if (p2)
		*(char *)p2 = '\0';
	for (p2 = strchr(raw, '\n'); p2 && n < sizeof(text) - 2; p2++) {
		if (*p2 == '\n') {
			while (p2[1] == ' ')
				p2++;
			if (p2[1])
				text[n++] = ' ';
			continue;
		}
		if (!*p2)
			break;
		text[n++] = *p2;
	}
	text[n] = '\0';
	p = realloc(ch->rules, (ch->nrules + 1) * sizeof(*ch->rules));
	if (!p)
		return -ENOMEM;
	ch->rules = p;
	ch->rules[ch->nrules] = strdup(text);
	if (!ch->rules[ch->nrules])
		return -ENOMEM;
	ch->nrules++;
	return 0;
}

static int raw_cmp(const void *pa, const void *pb)
{
	const struct raw_elem *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, sizeof(a->key));

	if (c)
		return c;
	return b->end - a->end;	/* an end closes the previous interval first */
}

static int item_qcmp(const void *a, const void *b)
{
	return item_cmp(a, b);
}

/* Raw kernel elements -> items; interval sets pair each start with the
 * end that follows it. */
static int sb_finish(struct sbuild *sb)
{
	size_t i, j;

	for (i = 0; i < sb->s->nsets; i++) {
		struct edpg_nft_set *set = &sb->s->sets[i];
		struct raw_elem *r = sb->raw[i];
		size_t n = sb->nraw[i];
		struct edpg_nft_item *pending = NULL;

		set->items = calloc(n ? n : 1, sizeof(*set->items));
		if (!set->items)
			return -ENOMEM;
		if (n)	/* r may be NULL then: qsort(NULL, 0) is undefined */
			qsort(r, n, sizeof(*r), raw_cmp);
		for (j = 0; j < n; j++) {
			if (!(set->flags & NFT_SET_INTERVAL)) {
				memcpy(set->items[set->nitems++].key, r[j].key, sizeof(r[j].key));
				continue;
			}
			if (r[j].end) {
				/* a stray end (e.g. nft's leading 0 end) carries nothing */
				if (pending) {
					memcpy(pending->end, r[j].key, sizeof(pending->end));
					pending->has_end = 1;
					pending = NULL;
				}
				continue;
			}
			pending = &set->items[set->nitems++];
			memcpy(pending->key, r[j].key, sizeof(pending->key));
		}
		qsort(set->items, set->nitems, sizeof(*set->items), item_qcmp);
	}
	return 0;
}

static void sb_free_raw(struct sbuild *sb)
{
	size_t i;

	for (i = 0; sb->raw && i < sb->s->nsets; i++)
		free(sb->raw[i]);
	free(sb->raw);
	free(sb->nraw);
	free(sb->craw);
}

void edpg_nft_state_free(struct edpg_nft_state *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->nsets; i++)
		free(s->sets[i].items);
	for (i = 0; i < s->nchains; i++) {
		for (j = 0; j < s->chains[i].nrules; j++)
			free(s->chains[i].rules[j]);
		free(s->chains[i].rules);
	}
	free(s->sets);
	free(s->chains);
	free(s);
}

/* Feed one NEW* message (from a batch or a dump) into the state. */
static int sb_feed(struct sbuild *sb, const struct nlmsghdr *nlh)
{
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	int ret = 0;

	switch (type) {
	case NFT_MSG_NEWTABLE:
		sb->s->table = true;
		break;
	case NFT_MSG_NEWSET: {
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s)
			return -ENOMEM;
		ret = nftnl_set_nlmsg_parse(nlh, s) < 0 ? -EINVAL : 0;
		if (!ret && !strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), EDPG_NFT_TABLE))
			ret = sb_add_set(sb, s);
		nftnl_set_free(s);
		break;
	}
	case NFT_MSG_NEWSETELEM: {
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s)
			return -ENOMEM;
		ret = nftnl_set_elems_nlmsg_parse(nlh, s) < 0 ? -EINVAL : 0;
		if (!ret)
			ret = sb_add_elems(sb, s);
		nftnl_set_free(s);
		break;
	}
	case NFT_MSG_NEWCHAIN: {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (!c)
			return -ENOMEM;
		ret = nftnl_chain_nlmsg_parse(nlh, c) < 0 ? -EINVAL : 0;
		if (!ret)
			ret = sb_add_chain(sb, c);
		nftnl_chain_free(c);
		break;
	}
	case NFT_MSG_NEWRULE: {
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r)
			return -ENOMEM;
		ret = nftnl_rule_nlmsg_parse(nlh, r) < 0 ? -EINVAL : 0;
		if (!ret)
			ret = sb_add_rule(sb, r);
		nftnl_rule_free(r);
		break;
	}
	default:
		break;
	}
	return ret;
}

static int sb_init(struct sbuild *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->s = calloc(1, sizeof(*sb->s));
	return sb->s ? 0 : -ENOMEM;
}

static int sb_done(struct sbuild *sb, int ret, struct edpg_nft_state **out)
{
	if (!ret)
		ret = sb_finish(sb);
	sb_free_raw(sb);
	if (ret) {
		edpg_nft_state_free(sb->s);
		return ret;
	}
	*out = sb->s;
	return 0;
}

int edpg_nft_state_from_batch(const struct edpg_nft_batch *b, struct edpg_nft_state **out)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
	int len = (int)b->len, ret = 0;
	struct sbuild sb;

	*out = NULL;
	ret = sb_init(&sb);
	if (ret)
		return ret;
	for (; b->len && mnl_nlmsg_ok(nlh, len) && !ret; nlh = mnl_nlmsg_next(nlh, &len)) {
		/* The full batch deletes the table before recreating it. */
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELTABLE &&
		    NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES) {
			sb_free_raw(&sb);
			edpg_nft_state_free(sb.s);
			ret = sb_init(&sb);
			continue;
		}
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES)
			ret = sb_feed(&sb, nlh);
	}
	return sb_done(&sb, ret, out);
}

struct dump_ctx {
	struct sbuild *sb;
	int ret;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;

	c->ret = sb_feed(c->sb, nlh);
	return c->ret ? MNL_CB_ERROR : MNL_CB_OK;
}

/* One GET request and all its answers. */
static int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, struct sbuild *sb)
{
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	struct dump_ctx c = { .sb = sb };
	char *buf;
	int ret;

	buf = malloc(DUMP_BUF);
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, DUMP_BUF);

		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, dump_cb, &c);
		if (ret <= MNL_CB_STOP)
			break;
	}
	ret = ret < 0 ? (c.ret ? c.ret : -errno) : 0;
out:
	free(buf);
	return ret;
}

int edpg_nft_read(struct edpg_nft_state **out)
{
	char hdr[8192] = { 0 };
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct sbuild sb;
	uint32_t seq = (uint32_t)time(NULL);
	size_t i, nsets;
	int ret;

	*out = NULL;
	ret = sb_init(&sb);
	if (ret)
		return ret;
	ret = sock_open(&nl, 65536, 1 << 20);
	if (ret)
		goto out;

	{
		struct nftnl_table *t = nftnl_table_alloc();

		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, EDPG_NFT_TABLE);
		nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq++);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		ret = nl_request(nl, nlh, &sb);
		if (ret == -ENOENT) {
			ret = 0;	/* no table: an empty state */
			goto out;
		}
		if (ret)
			goto out;
	}
	{
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s) {
			ret = -ENOMEM;
			goto out;
		}
		nftnl_set_set_str(s, NFTNL_SET_TABLE, EDPG_NFT_TABLE);
		nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
					    seq++);
		nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		ret = nl_request(nl, nlh, &sb);
		if (ret)
			goto out;
	}
	nsets = sb.s->nsets;
	for (i = 0; i < nsets; i++) {
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s) {
			ret = -ENOMEM;
			goto out;
		}
		nftnl_set_set_str(s, NFTNL_SET_TABLE, EDPG_NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, sb.s->sets[i].name);
		nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_GETSETELEM, NFPROTO_INET,
					    NLM_F_DUMP | NLM_F_ACK, seq++);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		ret = nl_request(nl, nlh, &sb);
		if (ret)
			goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, seq++);
	ret = nl_request(nl, nlh, &sb);
	if (ret)
		goto out;
	{
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, EDPG_NFT_TABLE);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nlh = nftnl_nlmsg_build_hdr(hdr, NFT_MSG_GETRULE, NFPROTO_INET,
					    NLM_F_DUMP | NLM_F_ACK, seq++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		ret = nl_request(nl, nlh, &sb);
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return sb_done(&sb, ret, out);
}

/* ---- diff -------------------------------------------------------------------- */

struct lines {
	char **v;
	size_t n;
	int ret;
};

static void __attribute__((format(printf, 2, 3))) line_add(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	char *s;
	void *p;

	if (l->ret)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		va_end(ap);
		l->ret = -ENOMEM;
		return;
	}
	va_end(ap);
	p = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!p) {
		free(s);
		l->ret = -ENOMEM;
		return;
	}
	l->v = p;
	l->v[l->n++] = s;
}

static void fmt_addr(char *out, size_t len, const uint8_t *a, uint32_t type)
{
	switch (type) {
	case NFT_TYPE_ETHERADDR:
		snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
		break;
	case NFT_TYPE_IPADDR:
		inet_ntop(AF_INET, a, out, (socklen_t)len);
		break;
	case NFT_TYPE_IP6ADDR:
		inet_ntop(AF_INET6, a, out, (socklen_t)len);
		break;
	default:
		snprintf(out, len, "?");
	}
}

/* An item in nft's own notation: mac, mac . addr, addr, addr/plen, lo-hi. */
static void fmt_item(char *out, size_t len, const struct edpg_nft_set *set,
		     const struct edpg_nft_item *it)
{
	uint32_t t = set->key_type, alen;
	char a[48], bb[48];
	unsigned int p;

	if (t >> NFT_TYPE_BITS) {
		fmt_addr(a, sizeof(a), it->key, t >> NFT_TYPE_BITS);
		fmt_addr(bb, sizeof(bb), it->key + 8, t & ((1U << NFT_TYPE_BITS) - 1));
		snprintf(out, len, "%s . %s", a, bb);
		return;
	}
	fmt_addr(a, sizeof(a), it->key, t);
	if (!(set->flags & NFT_SET_INTERVAL)) {
		snprintf(out, len, "%s", a);
		return;
	}
	alen = set->key_len;
	for (p = alen * 8 + 1; p-- > 0;) {
		uint8_t s[16], e[16];
		int he;

		prefix_interval(it->key, alen, p, s, e, &he);
		if (memcmp(s, it->key, alen))
			break;	/* not aligned for a shorter prefix either */
		if (he == it->has_end && (!he || !memcmp(e, it->end, alen))) {
			if (p == alen * 8)
				snprintf(out, len, "%s", a);
			else
				snprintf(out, len, "%s/%u", a, p);
			return;
		}
	}
	if (it->has_end) {
		uint8_t last[16];
		int i;

		memcpy(last, it->end, alen);
		for (i = (int)alen - 1; i >= 0 && last[i]-- == 0; i--)
			;
		fmt_addr(bb, sizeof(bb), last, t);
	} else {
		memset(bb, 0, sizeof(bb));
		snprintf(bb, sizeof(bb), "%s", t == NFT_TYPE_IPADDR ? "255.255.255.255" :
			 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	}
	snprintf(out, len, "%s-%s", a, bb);
}

static void diff_set(struct lines *l, const struct edpg_nft_set *live, const struct edpg_nft_set *want)
{
	size_t i = 0, j = 0;
	char txt[160];

	if (live->key_type != want->key_type || live->key_len != want->key_len ||
	    live->flags != want->flags) {
		line_add(l, "set %s: type differs (key type %u len %u flags 0x%x, want %u len %u flags 0x%x)",
			 want->name, live->key_type, live->key_len, live->flags, want->key_type,
			 want->key_len, want->flags);
		return;
	}
	while (i < live->nitems || j < want->nitems) {
		int c = i >= live->nitems ? 1 : j >= want->nitems ? -1 :
			item_cmp(&live->items[i], &want->items[j]);

		if (c < 0) {
			fmt_item(txt, sizeof(txt), want, &live->items[i]);
			line_add(l, "set %s: extra element %s", want->name, txt);
		} else if (c > 0) {
			fmt_item(txt, sizeof(txt), want, &want->items[j]);
			line_add(l, "set %s: missing element %s", want->name, txt);
		}
		i += c <= 0;
		j += c >= 0;
	}
}

static void diff_chain(struct lines *l, const struct edpg_nft_chain *live,
		       const struct edpg_nft_chain *want)
{
	size_t i, n = live->nrules > want->nrules ? live->nrules : want->nrules;

	if (strcmp(live->hook, want->hook) || live->prio != want->prio)
		line_add(l, "chain %s: hook %s priority %d, want hook %s priority %d", want->name,
			 live->hook[0] ? live->hook : "none", live->prio,
			 want->hook[0] ? want->hook : "none", want->prio);
	if (live->policy != want->policy)
		line_add(l, "chain %s: policy %s, want %s", want->name,
			 live->policy == NF_DROP ? "drop" : "accept",
			 want->policy == NF_DROP ? "drop" : "accept");
	for (i = 0; i < n; i++) {
		if (i >= live->nrules)
			line_add(l, "chain %s: missing rule %zu: %s", want->name, i + 1, want->rules[i]);
		else if (i >= want->nrules)
			line_add(l, "chain %s: extra rule %zu: %s", want->name, i + 1, live->rules[i]);
		else if (strcmp(live->rules[i], want->rules[i]))
			line_add(l, "chain %s: rule %zu differs: %s, want %s", want->name, i + 1,
				 live->rules[i], want->rules[i]);
	}
}

int edpg_nft_diff(const struct edpg_nft_state *live, const struct edpg_nft_state *want,
		  char ***diffs, size_t *ndiffs)
{
	struct lines l = { 0 };
	size_t i;

	*diffs = NULL;
	*ndiffs = 0;
	if (want->table && !live->table) {
		line_add(&l, "table inet %s: missing", EDPG_NFT_TABLE);
		goto out;
	}
	for (i = 0; i < want->nsets; i++) {
		const struct edpg_nft_set *ls = state_set((struct edpg_nft_state *)live,
							  want->sets[i].name, NULL);

		if (!ls)
			line_add(&l, "set %s: missing", want->sets[i].name);
		else
			diff_set(&l, ls, &want->sets[i]);
	}
	for (i = 0; i < live->nsets; i++)
		if (!state_set((struct edpg_nft_state *)want, live->sets[i].name, NULL))
			line_add(&l, "set %s: extra", live->sets[i].name);
	for (i = 0; i < want->nchains; i++) {
		const struct edpg_nft_chain *lc = state_chain((struct edpg_nft_state *)live,
							      want->chains[i].name);

		if (!lc)
			line_add(&l, "chain %s: missing", want->chains[i].name);
		else
			diff_chain(&l, lc, &want->chains[i]);
	}
	for (i = 0; i < live->nchains; i++)
		if (!state_chain((struct edpg_nft_state *)want, live->chains[i].name))
			line_add(&l, "chain %s: extra", live->chains[i].name);
out:
	if (l.ret) {
		edpg_nft_diffs_free(l.v, l.n);
		return l.ret;
	}
	*diffs = l.v;
	*ndiffs = l.n;
	return 0;
}

void edpg_nft_diffs_free(char **diffs, size_t ndiffs)
{
	size_t i;

	for (i = 0; i < ndiffs; i++)
		free(diffs[i]);
	free(diffs);
}

int edpg_nft_verify(const struct edpg_desired *d, const struct edpg_nft_opts *o,
		    char ***diffs, size_t *ndiffs)
{
	struct edpg_nft_state *live = NULL, *want = NULL;
	struct edpg_nft_batch *b = NULL;
	int ret;

	*diffs = NULL;
	*ndiffs = 0;
	ret = edpg_nft_build_full(d, o, &b);
	if (!ret)
		ret = edpg_nft_state_from_batch(b, &want);
	if (!ret)
		ret = edpg_nft_read(&live);
	if (!ret)
		ret = edpg_nft_diff(live, want, diffs, ndiffs);
	edpg_nft_state_free(live);
	edpg_nft_state_free(want);
	edpg_nft_batch_free(b);
	return ret;
}
