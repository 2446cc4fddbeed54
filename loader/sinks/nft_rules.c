// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_rules.c - the chains and rules of the table (the XDP decision in
 * nftables terms; see nft.c for the layout).
 */
#include "nft_internal.h"

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
	nlh = nft_batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what);
	if (!nlh) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nft_batch_commit(b, nlh);
out:
	nftnl_rule_free(r);
	return ret;
}

int nft_emit_chain(struct edpg_nft_batch *b, const char *name, int hook)
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
	nlh = nft_batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what);
	if (!nlh) {
		nftnl_chain_free(c);
		return -ENOMEM;
	}
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nft_batch_commit(b, nlh);
	return 0;
}

int nft_emit_set(struct edpg_nft_batch *b, const struct setdef *sd, uint32_t id)
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
	nlh = nft_batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, what);
	if (!nlh) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	nft_batch_commit(b, nlh);
	return 0;
}

int nft_emit_table(struct edpg_nft_batch *b, uint16_t type, uint16_t flags, const char *what)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, EDPG_NFT_TABLE);
	nlh = nft_batch_msg(b, type, flags, what);
	if (!nlh) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	nft_batch_commit(b, nlh);
	return 0;
}

int nft_emit_base_chain_rules(struct edpg_nft_batch *b, const char *chain,
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
	if (o->enforce == EDPG_ENFORCE_XDP || o->enforce == EDPG_ENFORCE_AUDIT)
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

/* binding: a gateway bound to a source address sends from it (both families). */
static int emit_binding_rules(struct edpg_nft_batch *b, const char *ch, int deny)
{
	uint8_t zero16[16] = { 0 };
	struct nftnl_rule *r;
	int ret;

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
	return 0;
}

/* fragment: a non-first fragment has no port to judge (both families). */
static int emit_fragment_rules(struct edpg_nft_batch *b, const char *ch, int deny)
{
	uint8_t zero16[16] = { 0 };
	struct nftnl_rule *r;
	int ret;

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
	return 0;
}

/* port -> service: one rule per run of ports, then the port drop. */
static int emit_port_rules(struct edpg_nft_batch *b, const struct edpg_desired *d,
			   const char *ch, int deny)
{
	unsigned int proto, port;
	struct nftnl_rule *r;
	int ret;

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

int nft_emit_decide_rules(struct edpg_nft_batch *b, const struct edpg_desired *d, int deny)
{
	static const char *const ch = "lan_decide";
	struct nftnl_rule *r;
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

	/* A gateway enrolled with `audit` is observed, not enforced: XDP
	 * counts its would-be drops by reason; here it is simply accepted. */
	r = rule_new(ch);
	if (r) {
		x_ether_saddr(r, NFT_REG_1);
		x_lookup(r, NFT_REG_1, "audit", 0);
	}
	ret = rule_emit(b, r, NF_ACCEPT, NULL, "audit");
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

	ret = emit_binding_rules(b, ch, deny);
	ret = ret ?: emit_fragment_rules(b, ch, deny);
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

	return emit_port_rules(b, d, ch, deny);
}

int nft_emit_service_rules(struct edpg_nft_batch *b, const struct edpg_desired *d,
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
		x_lookup(r, NFT_REG_1, sds[nft_set_svc(s)].name, 1);
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
			x_lookup(r, NFT_REG_1, sds[nft_set_grp(d, g, 0)].name, 0);
		}
		ret = rule_emit(b, r, NF_ACCEPT, NULL, comment);
		if (ret)
			break;
		r = rule_new(chain);
		if (r) {
			x_nfproto(r, NFPROTO_IPV6);
			x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1);
			x_lookup(r, NFT_REG_1, sds[nft_set_grp(d, g, 1)].name, 0);
		}
		ret = rule_emit(b, r, NF_ACCEPT, NULL, comment);
	}
	if (!ret)
		ret = rule_emit(b, rule_new(chain), deny, NULL, "destination");
	return ret;
}
