// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_nft.c - the nft sink's batches, built into a buffer and parsed back
 * with libnftnl (no kernel): table, sets, elements (exact and CIDR
 * intervals), chains, rules, deltas, splitting, and the diff text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "nft.h"
#include "nft_fixture.h"

static const char *const lan[] = { "lan0", "wlan0" };
static const struct edpg_nft_opts opts = { .ifaces = lan, .nifaces = 2,
					   .enforce = EDPG_ENFORCE_BOTH };

/* ---- parsing a batch back ------------------------------------------------- */

struct pelem {
	char set[64];
	uint8_t key[24];
	uint32_t klen;
	int end;
	uint16_t type;		/* NFT_MSG_NEWSETELEM / DELSETELEM */
};

struct parsed {
	size_t nmsgs;		/* all, BEGIN and END included */
	uint16_t types[4096];
	uint32_t seqs[4096];
	size_t maxlen;		/* longest message */
	size_t msg_elems[4096];	/* elements in each message */
	char msg_set[4096][16];
	char tables[8][32];
	uint16_t table_types[8];
	size_t ntables;
	struct nftnl_set *sets[256];
	size_t nsets;
	struct pelem *elems;
	size_t nelems;
	size_t elem_msgs;
	struct nftnl_chain *chains[64];
	size_t nchains;
	struct nftnl_rule *rules[512];
	size_t nrules;
};

static size_t elem_count(const struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	size_t n = 0;

	while (nftnl_set_elems_iter_next(it))
		n++;
	nftnl_set_elems_iter_destroy(it);
	return n;
}

static struct parsed *parse(const struct edpg_nft_batch *b)
{
	const struct nlmsghdr *nlh = edpg_nft_batch_data(b);
	int len = (int)edpg_nft_batch_len(b);
	struct parsed *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->elems = calloc(100000, sizeof(*p->elems));
	assert_non_null(p->elems);
	for (; len > 0 && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		uint16_t t = nlh->nlmsg_type;

		assert_true(p->nmsgs < 4096);
		p->types[p->nmsgs] = t;
		p->seqs[p->nmsgs++] = nlh->nlmsg_seq;
		if (nlh->nlmsg_len > p->maxlen)
			p->maxlen = nlh->nlmsg_len;
		if (t == NFNL_MSG_BATCH_BEGIN || t == NFNL_MSG_BATCH_END)
			continue;
		assert_int_equal(NFNL_SUBSYS_ID(t), NFNL_SUBSYS_NFTABLES);
		/* every message asks for an ack so errors map back to it */
		assert_true(nlh->nlmsg_flags & NLM_F_ACK);
		switch (NFNL_MSG_TYPE(t)) {
		case NFT_MSG_NEWTABLE:
		case NFT_MSG_DELTABLE: {
			struct nftnl_table *tb = nftnl_table_alloc();

			assert_int_equal(nftnl_table_nlmsg_parse(nlh, tb), 0);
			assert_int_equal(nftnl_table_get_u32(tb, NFTNL_TABLE_FAMILY), NFPROTO_INET);
			snprintf(p->tables[p->ntables], 32, "%s", nftnl_table_get_str(tb, NFTNL_TABLE_NAME));
			p->table_types[p->ntables++] = NFNL_MSG_TYPE(t);
			nftnl_table_free(tb);
			break;
		}
		case NFT_MSG_NEWSET:
			p->sets[p->nsets] = nftnl_set_alloc();
			assert_int_equal(nftnl_set_nlmsg_parse(nlh, p->sets[p->nsets]), 0);
			p->nsets++;
			break;
		case NFT_MSG_NEWSETELEM:
		case NFT_MSG_DELSETELEM: {
			struct nftnl_set *s = nftnl_set_alloc();
			struct nftnl_set_elems_iter *it;
			struct nftnl_set_elem *e;

			assert_int_equal(nftnl_set_elems_nlmsg_parse(nlh, s), 0);
			it = nftnl_set_elems_iter_create(s);
			while ((e = nftnl_set_elems_iter_next(it))) {
				struct pelem *pe = &p->elems[p->nelems++];
				const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &pe->klen);

				snprintf(pe->set, sizeof(pe->set), "%s", nftnl_set_get_str(s, NFTNL_SET_NAME));
				memcpy(pe->key, k, pe->klen);
				pe->end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
					  (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
					   NFT_SET_ELEM_INTERVAL_END);
				pe->type = NFNL_MSG_TYPE(t);
			}
			nftnl_set_elems_iter_destroy(it);
			p->msg_elems[p->nmsgs - 1] = elem_count(s);
			snprintf(p->msg_set[p->nmsgs - 1], 16, "%s", nftnl_set_get_str(s, NFTNL_SET_NAME));
			nftnl_set_free(s);
			p->elem_msgs++;
			break;
		}
		case NFT_MSG_NEWCHAIN:
			p->chains[p->nchains] = nftnl_chain_alloc();
			assert_int_equal(nftnl_chain_nlmsg_parse(nlh, p->chains[p->nchains]), 0);
			p->nchains++;
			break;
		case NFT_MSG_NEWRULE:
			assert_true(p->nrules < 512);
			p->rules[p->nrules] = nftnl_rule_alloc();
			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, p->rules[p->nrules]), 0);
			p->nrules++;
			break;
		default:
			fail_msg("unexpected message type %u", NFNL_MSG_TYPE(t));
		}
	}
	assert_int_equal(len, 0);
	return p;
}

static void parsed_free(struct parsed *p)
{
	size_t i;

	for (i = 0; i < p->nsets; i++)
		nftnl_set_free(p->sets[i]);
	for (i = 0; i < p->nchains; i++)
		nftnl_chain_free(p->chains[i]);
	for (i = 0; i < p->nrules; i++)
		nftnl_rule_free(p->rules[i]);
	free(p->elems);
	free(p);
}

static const struct nftnl_set *find_set(const struct parsed *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nsets; i++)
		if (!strcmp(nftnl_set_get_str(p->sets[i], NFTNL_SET_NAME), name))
			return p->sets[i];
	return NULL;
}

/* The elements of @set as text: "a", "a-end" pairs by interval flag. */
static char *elems_text(const struct parsed *p, const char *set, uint16_t type)
{
	static char out[4096];
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < p->nelems; i++) {
		const struct pelem *e = &p->elems[i];
		char a[64];

		if (strcmp(e->set, set) || e->type != type)
			continue;
		if (e->klen == 4)
			inet_ntop(AF_INET, e->key, a, sizeof(a));
		else if (e->klen == 16)
			inet_ntop(AF_INET6, e->key, a, sizeof(a));
		else if (e->klen == 6)
			snprintf(a, sizeof(a), "%02x:%02x:%02x:%02x:%02x:%02x", e->key[0], e->key[1],
				 e->key[2], e->key[3], e->key[4], e->key[5]);
		else if (e->klen == 12)
			snprintf(a, sizeof(a), "%02x:%02x . %u.%u.%u.%u", e->key[4], e->key[5],
				 e->key[8], e->key[9], e->key[10], e->key[11]);
		else
			snprintf(a, sizeof(a), "len%u", e->klen);
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s%s", n ? " " : "",
				      e->end ? "end:" : "", a);
	}
	return out;
}

static size_t chain_rules(const struct parsed *p, const char *chain, struct nftnl_rule **out)
{
	size_t i, n = 0;

	for (i = 0; i < p->nrules; i++)
		if (!strcmp(nftnl_rule_get_str(p->rules[i], NFTNL_RULE_CHAIN), chain))
			out[n++] = p->rules[i];
	return n;
}

/* Whether @r has an expression called @name ("ct", "lookup", ...). */
static bool rule_has_expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	bool found = false;

	while ((e = nftnl_expr_iter_next(it)))
		found |= !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name);
	nftnl_expr_iter_destroy(it);
	return found;
}

/* The verdict of a rule's final immediate, e.g. "drop", "goto chk_edp". */
static char *rule_verdict(struct nftnl_rule *r)
{
	static char out[96];
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e, *last = NULL;
	int v;

	while ((e = nftnl_expr_iter_next(it)))
		last = e;
	nftnl_expr_iter_destroy(it);
	assert_non_null(last);
	assert_string_equal(nftnl_expr_get_str(last, NFTNL_EXPR_NAME), "immediate");
	v = (int)nftnl_expr_get_u32(last, NFTNL_EXPR_IMM_VERDICT);
	snprintf(out, sizeof(out), "%s%s%s",
		 v == NF_DROP ? "drop" : v == NF_ACCEPT ? "accept" : v == NFT_JUMP ? "jump" :
		 v == NFT_GOTO ? "goto" : "?",
		 nftnl_expr_is_set(last, NFTNL_EXPR_IMM_CHAIN) ? " " : "",
		 nftnl_expr_is_set(last, NFTNL_EXPR_IMM_CHAIN) ?
		 nftnl_expr_get_str(last, NFTNL_EXPR_IMM_CHAIN) : "");
	return out;
}

/* Names of the lookups and whether each rule has a counter. */
static void rule_check(struct nftnl_rule *r, const char *want_lookups)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	char lookups[256] = "";
	struct nftnl_expr *e;
	int counter = 0;

	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (!strcmp(name, "counter"))
			counter = 1;
		if (!strcmp(name, "lookup")) {
			size_t l = strlen(lookups);

			snprintf(lookups + l, sizeof(lookups) - l, "%s%s%s", l ? " " : "",
				 nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV ? "!" : "",
				 nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET));
		}
	}
	nftnl_expr_iter_destroy(it);
	assert_true(counter);
	assert_string_equal(lookups, want_lookups);
}

static struct edpg_nft_batch *full(const struct edpg_desired *d, const struct edpg_nft_opts *o)
{
	struct edpg_nft_batch *b;

	assert_int_equal(edpg_nft_build_full(d, o, &b), 0);
	assert_non_null(b);
	return b;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_batch_frame(void **state)
{
	struct edpg_desired *d = fixture(4);
	struct edpg_nft_batch *b = full(d, &opts);
	struct parsed *p = parse(b);
	size_t i;

	(void)state;
	assert_int_equal(p->types[0], NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(p->types[p->nmsgs - 1], NFNL_MSG_BATCH_END);
	assert_int_equal(edpg_nft_batch_nmsgs(b), p->nmsgs - 2);
	/* one sequence number per message, and words for each */
	for (i = 1; i < p->nmsgs; i++)
		assert_int_equal(p->seqs[i], p->seqs[0] + i);
	assert_string_equal(edpg_nft_batch_describe(b, p->seqs[1]), "creating table inet edpgate");
	assert_null(edpg_nft_batch_describe(b, p->seqs[0] + (uint32_t)p->nmsgs));
	/* add, delete, add: works whether or not the table exists */
	assert_int_equal(p->ntables, 3);
	assert_int_equal(p->table_types[0], NFT_MSG_NEWTABLE);
	assert_int_equal(p->table_types[1], NFT_MSG_DELTABLE);
	assert_int_equal(p->table_types[2], NFT_MSG_NEWTABLE);
	assert_string_equal(p->tables[2], "edpgate");
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_sets(void **state)
{
	static const char *const names[] = {
		"gateways", "bound4", "bound6", "bind4", "bind6", "audit", "svc_edp",
		"svc_edp_legacy", "svc_ntp", "g_dc_v4", "g_dc_v6", "g_ntp_v4", "g_ntp_v6",
	};
	struct edpg_desired *d = fixture(4);
	struct edpg_nft_batch *b = full(d, &opts);
	struct parsed *p = parse(b);
	const struct nftnl_set *s;
	size_t i;

	(void)state;
	assert_int_equal(p->nsets, 13);
	for (i = 0; i < 13; i++)
		assert_non_null(find_set(p, names[i]));
	s = find_set(p, "gateways");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 9);	/* ether_addr */
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 6);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), 0);
	s = find_set(p, "bind4");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 9 << 6 | 7);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 12);
	s = find_set(p, "bind6");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 24);
	s = find_set(p, "g_ntp_v6");
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), 8);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 16);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), NFT_SET_INTERVAL);
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_elements(void **state)
{
	struct edpg_desired *d = fixture(4);
	struct edpg_nft_batch *b = full(d, &opts);
	struct parsed *p = parse(b);
	uint16_t add = NFT_MSG_NEWSETELEM;

	(void)state;
	assert_string_equal(elems_text(p, "gateways", add), "00:40:9d:00:00:01 00:40:9d:00:00:02");
	assert_string_equal(elems_text(p, "svc_edp_legacy", add), "00:40:9d:00:00:02");
	assert_string_equal(elems_text(p, "svc_ntp", add), "00:40:9d:00:00:01 00:40:9d:00:00:02");
	assert_string_equal(elems_text(p, "bound4", add), "00:40:9d:00:00:01");
	assert_string_equal(elems_text(p, "bind4", add), "00:01 . 192.168.1.10");
	assert_string_equal(elems_text(p, "bound6", add), "00:40:9d:00:00:02");
	/* exact addresses are one-address intervals ... */
	assert_string_equal(elems_text(p, "g_dc_v4", add),
			    "52.1.2.3 end:52.1.2.4 52.1.2.4 end:52.1.2.5");
	/* ... CIDRs end after their last address, nested ones collapse */
	assert_string_equal(elems_text(p, "g_ntp_v4", add),
			    "10.9.0.0 end:10.10.0.0 52.1.2.4 end:52.1.2.5");
	assert_string_equal(elems_text(p, "g_dc_v6", add), "2001:db8::1 end:2001:db8::2");
	assert_string_equal(elems_text(p, "g_ntp_v6", add), "2001:db8:1:: end:2001:db8:2::");
	/* no element for empty sets, nothing removed in a full batch */
	assert_string_equal(elems_text(p, "bind6", NFT_MSG_DELSETELEM), "");
	assert_string_equal(elems_text(p, "audit", add), "");
	parsed_free(p);
	edpg_nft_batch_free(b);

	/* a gateway enrolled with `audit` is an element of its own set */
	d->gws[1].rec.flags |= EDPG_GW_AUDIT;
	b = full(d, &opts);
	p = parse(b);
	assert_string_equal(elems_text(p, "audit", add), "00:40:9d:00:00:02");
	assert_string_equal(elems_text(p, "gateways", add), "00:40:9d:00:00:01 00:40:9d:00:00:02");
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_interval_edges(void **state)
{
	struct edpg_desired *d = fixture(4);
	struct edpg_nft_batch *b;
	struct parsed *p;

	(void)state;
	d->ndsts = 0;
	add_dst(d, "0.0.0.0", 0, 1);		/* everything: no end element */
	add_dst(d, "255.255.255.255", 32, 2);	/* the top address: no end */
	add_dst(d, "10.0.0.5", 24, 2);		/* host bits are masked */
	add_dst(d, "::", 0, 2);
	b = full(d, &opts);
	p = parse(b);
	assert_string_equal(elems_text(p, "g_dc_v4", NFT_MSG_NEWSETELEM), "0.0.0.0");
	assert_string_equal(elems_text(p, "g_ntp_v4", NFT_MSG_NEWSETELEM),
			    "10.0.0.0 end:10.0.1.0 255.255.255.255");
	assert_string_equal(elems_text(p, "g_ntp_v6", NFT_MSG_NEWSETELEM), "::");
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_chains_and_rules(void **state)
{
	struct edpg_desired *d = fixture(4);
	struct edpg_nft_batch *b = full(d, &opts);
	struct parsed *p = parse(b);
	struct nftnl_rule *r[64];
	size_t i, n;

	(void)state;
	assert_int_equal(p->nchains, 6);
	for (i = 0; i < p->nchains; i++) {
		const char *name = nftnl_chain_get_str(p->chains[i], NFTNL_CHAIN_NAME);

		assert_null(strstr(name, "fwd"));
		if (!strcmp(name, "lan_forward") || !strcmp(name, "lan_input")) {
			assert_int_equal(nftnl_chain_get_u32(p->chains[i], NFTNL_CHAIN_HOOKNUM),
					 !strcmp(name, "lan_forward") ? NF_INET_FORWARD : NF_INET_LOCAL_IN);
			assert_int_equal(nftnl_chain_get_s32(p->chains[i], NFTNL_CHAIN_PRIO), -1);
			assert_int_equal(nftnl_chain_get_u32(p->chains[i], NFTNL_CHAIN_POLICY), NF_ACCEPT);
			assert_string_equal(nftnl_chain_get_str(p->chains[i], NFTNL_CHAIN_TYPE), "filter");
		} else {
			assert_false(nftnl_chain_is_set(p->chains[i], NFTNL_CHAIN_HOOKNUM));
		}
	}

	/* base chains: one jump per LAN interface and nothing else; no
	 * `ct state established accept` that would let a deleted gateway's
	 * open session live on, and no ct expression anywhere in the table */
	n = chain_rules(p, "lan_forward", r);
	assert_int_equal(n, 2);
	assert_string_equal(rule_verdict(r[0]), "jump lan_decide");
	assert_string_equal(rule_verdict(r[1]), "jump lan_decide");
	assert_int_equal(chain_rules(p, "lan_input", r), 2);
	for (i = 0; i < p->nrules; i++)
		assert_false(rule_has_expr(p->rules[i], "ct"));

	/* the decision, in the XDP order */
	n = chain_rules(p, "lan_decide", r);
	assert_int_equal(n, 12);
	assert_string_equal(rule_verdict(r[0]), "accept");		/* nd */
	rule_check(r[1], "audit");
	assert_string_equal(rule_verdict(r[1]), "accept");		/* audited gateways */
	rule_check(r[2], "!gateways");
	assert_string_equal(rule_verdict(r[2]), "drop");		/* unknown_mac */
	rule_check(r[3], "bound4 !bind4");
	assert_string_equal(rule_verdict(r[3]), "drop");		/* binding */
	rule_check(r[4], "bound6 !bind6");
	assert_string_equal(rule_verdict(r[5]), "drop");		/* fragment */
	assert_string_equal(rule_verdict(r[6]), "drop");
	assert_string_equal(rule_verdict(r[7]), "drop");		/* protocol */
	/* ports in table order: tcp 3197, tcp 3199, udp 123 */
	assert_string_equal(rule_verdict(r[8]), "goto chk_edp_legacy");
	assert_string_equal(rule_verdict(r[9]), "goto chk_edp");
	assert_string_equal(rule_verdict(r[10]), "goto chk_ntp");
	rule_check(r[11], "");
	assert_string_equal(rule_verdict(r[11]), "drop");		/* port */

	n = chain_rules(p, "chk_ntp", r);
	assert_int_equal(n, 4);
	rule_check(r[0], "!svc_ntp");
	assert_string_equal(rule_verdict(r[0]), "drop");		/* service */
	rule_check(r[1], "g_ntp_v4");
	assert_string_equal(rule_verdict(r[1]), "accept");
	rule_check(r[2], "g_ntp_v6");
	assert_string_equal(rule_verdict(r[3]), "drop");		/* destination */
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_modes_and_flags(void **state)
{
	struct edpg_nft_opts o = opts;
	struct edpg_desired *d = fixture(4);
	struct nftnl_rule *r[64];
	struct edpg_nft_batch *b;
	struct parsed *p;
	size_t i, n;

	(void)state;
	/* --enforce xdp and audit: same table, nothing drops, and the
	 * hooked chains are empty (XDP decides, or nobody does) */
	for (int m = 0; m < 2; m++) {
		o.enforce = m ? EDPG_ENFORCE_AUDIT : EDPG_ENFORCE_XDP;
		b = full(d, &o);
		p = parse(b);
		assert_int_equal(p->nsets, 13);
		for (i = 0; i < p->nrules; i++)
			assert_null(strstr(rule_verdict(p->rules[i]), "drop"));
		assert_int_equal(chain_rules(p, "lan_forward", r), 0);
		assert_int_equal(chain_rules(p, "lan_input", r), 0);
		parsed_free(p);
		edpg_nft_batch_free(b);
	}

	/* unknown-mac pass accepts even with --enforce nft */
	o.enforce = EDPG_ENFORCE_NFT;
	d->flags = EDPG_F_UNKNOWN_MAC_PASS;
	b = full(d, &o);
	p = parse(b);
	n = chain_rules(p, "lan_decide", r);
	assert_string_equal(rule_verdict(r[1]), "accept");
	assert_string_equal(rule_verdict(r[n - 1]), "drop");
	parsed_free(p);
	edpg_nft_batch_free(b);

	/* a port range is one range rule */
	d->ports[EDPG_PROTO_UDP][124] = 3;
	d->ports[EDPG_PROTO_UDP][125] = 3;
	b = full(d, &o);
	p = parse(b);
	assert_int_equal(chain_rules(p, "lan_decide", r), n);
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
}

static void test_delta_only_changes(void **state)
{
	struct edpg_desired *d = fixture(4), *n = fixture(4);
	struct edpg_nft_batch *b;
	struct parsed *p;

	(void)state;
	add_gw(n, 3, 4, "192.168.1.30", NULL);	/* new gateway, ntp, bound */
	n->gws[1].rec.services = 1 | 4;		/* gw 2 loses edp_legacy */
	n->dsts[3].groups = 1;			/* 52.1.2.4 leaves group ntp */
	add_dst(n, "52.1.2.9", 32, 1);
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	p = parse(b);
	assert_int_equal(p->ntables + p->nsets + p->nchains + p->nrules, 0);
	assert_string_equal(elems_text(p, "svc_edp_legacy", NFT_MSG_DELSETELEM), "00:40:9d:00:00:02");
	assert_string_equal(elems_text(p, "g_ntp_v4", NFT_MSG_DELSETELEM), "52.1.2.4 end:52.1.2.5");
	assert_string_equal(elems_text(p, "gateways", NFT_MSG_NEWSETELEM), "00:40:9d:00:00:03");
	assert_string_equal(elems_text(p, "svc_ntp", NFT_MSG_NEWSETELEM), "00:40:9d:00:00:03");
	assert_string_equal(elems_text(p, "bound4", NFT_MSG_NEWSETELEM), "00:40:9d:00:00:03");
	assert_string_equal(elems_text(p, "bind4", NFT_MSG_NEWSETELEM), "00:03 . 192.168.1.30");
	assert_string_equal(elems_text(p, "g_dc_v4", NFT_MSG_NEWSETELEM), "52.1.2.9 end:52.1.2.10");
	/* nothing else: unchanged elements are never re-sent */
	assert_int_equal(p->nelems, 1 + 2 + 1 + 1 + 1 + 1 + 2);
	/* removals come before additions */
	assert_int_equal(NFNL_MSG_TYPE(p->types[1]), NFT_MSG_DELSETELEM);
	assert_int_equal(NFNL_MSG_TYPE(p->types[p->nmsgs - 2]), NFT_MSG_NEWSETELEM);
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
	fixture_free(n);
}

static void test_delta_empty_and_refresh(void **state)
{
	struct edpg_desired *d = fixture(4), *n = fixture(4);
	struct edpg_nft_batch *b;
	char err[64] = "x";

	(void)state;
	/* the same addresses (a TTL refresh) and a nested address that
	 * changes nothing in the interval set: no message at all */
	add_dst(n, "10.9.7.7", 32, 2);
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	assert_int_equal(edpg_nft_batch_nmsgs(b), 0);
	assert_int_equal(edpg_nft_batch_len(b), 0);
	/* sending an empty batch does nothing (no socket, no privilege) */
	assert_int_equal(edpg_nft_send(b, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	edpg_nft_batch_free(b);
	fixture_free(d);
	fixture_free(n);
}

static void test_delta_structural_is_full(void **state)
{
	struct edpg_desired *d = fixture(4), *n = fixture(4);
	struct edpg_nft_batch *b;
	struct parsed *p;

	(void)state;
	n->ports[EDPG_PROTO_TCP][3199] = 0;	/* a service port went away */
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	p = parse(b);
	assert_int_equal(p->ntables, 3);
	assert_int_equal(p->nsets, 13);
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
	fixture_free(n);
}

static void test_split_20000(void **state)
{
	struct edpg_desired *d = fixture(20000), *e = fixture(4);
	struct edpg_nft_batch *b;
	struct parsed *p;
	size_t i, ngw = 0, nsvc = 0;
	char want[64];

	(void)state;
	d->ngws = 0;
	for (i = 0; i < 20000; i++)
		add_gw(d, (uint32_t)i + 16, 1, NULL, NULL);
	d->ndsts = 0;
	b = full(d, &opts);
	p = parse(b);
	assert_true(p->maxlen < 64 * 1024);
	assert_true(p->maxlen <= EDPG_NFT_MSG_MAX);
	for (i = 0; i < p->nelems; i++) {
		ngw += !strcmp(p->elems[i].set, "gateways");
		nsvc += !strcmp(p->elems[i].set, "svc_edp");
	}
	assert_int_equal(ngw, 20000);
	assert_int_equal(nsvc, 20000);
	/* 2 x 20000 elements of ~24 bytes cannot fit in fewer than 16 */
	assert_true(p->elem_msgs >= 16);
	/* each description counts exactly the elements of its message */
	for (i = 0; i < p->nmsgs; i++) {
		if (!p->msg_elems[i])
			continue;
		snprintf(want, sizeof(want), "adding %zu elements to set %s", p->msg_elems[i],
			 p->msg_set[i]);
		assert_string_equal(edpg_nft_batch_describe(b, p->seqs[i]), want);
	}
	parsed_free(p);
	edpg_nft_batch_free(b);

	/* and removing them all is a split delta too */
	e->ngws = 0;
	e->ndsts = 0;
	d->ndsts = 0;
	assert_int_equal(edpg_nft_build_delta(d, e, &opts, &b), 0);
	p = parse(b);
	assert_true(p->maxlen < 64 * 1024);
	assert_int_equal(p->nelems, 40000);
	parsed_free(p);
	edpg_nft_batch_free(b);
	fixture_free(d);
	fixture_free(e);
}

static void test_diff_text(void **state)
{
	struct edpg_desired *d = fixture(4), *l = fixture(4);
	struct edpg_nft_state *want, *live;
	struct edpg_nft_opts o = opts;
	struct edpg_nft_batch *b;
	char **diffs;
	size_t n;

	(void)state;
	b = full(d, &opts);
	assert_int_equal(edpg_nft_state_from_batch(b, &want), 0);
	edpg_nft_batch_free(b);
	assert_true(want->table);
	assert_int_equal(want->nsets, 13);
	assert_int_equal(want->nchains, 6);

	/* the same state: no difference */
	b = full(d, &opts);
	assert_int_equal(edpg_nft_state_from_batch(b, &live), 0);
	edpg_nft_batch_free(b);
	assert_int_equal(edpg_nft_diff(live, want, &diffs, &n), 0);
	assert_int_equal(n, 0);
	edpg_nft_diffs_free(diffs, n);
	edpg_nft_state_free(live);

	/* live lacks one address, has an extra gateway and another mode */
	l->dsts[2] = l->dsts[5];
	l->ndsts--;
	add_gw(l, 9, 0, NULL, NULL);
	o.enforce = EDPG_ENFORCE_XDP;
	b = full(l, &o);
	assert_int_equal(edpg_nft_state_from_batch(b, &live), 0);
	edpg_nft_batch_free(b);
	assert_int_equal(edpg_nft_diff(live, want, &diffs, &n), 0);
	assert_true(n >= 3);
	assert_string_equal(diffs[0], "set gateways: extra element 00:40:9d:00:00:09");
	assert_string_equal(diffs[1], "set g_dc_v4: missing element 52.1.2.3");
	/* xdp mode: the unknown_mac rule accepts instead of dropping */
	assert_non_null(strstr(diffs[2], "chain lan_decide: rule 3 differs: \"unknown_mac\""));
	assert_non_null(strstr(diffs[2], "accept ], want"));
	edpg_nft_diffs_free(diffs, n);
	edpg_nft_state_free(live);

	/* no table */
	live = calloc(1, sizeof(*live));
	assert_int_equal(edpg_nft_diff(live, want, &diffs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(diffs[0], "table inet edpgate: missing");
	edpg_nft_diffs_free(diffs, n);
	edpg_nft_state_free(live);
	edpg_nft_state_free(want);
	fixture_free(d);
	fixture_free(l);
}

static void test_delete_batch(void **state)
{
	struct edpg_nft_batch *b;
	struct parsed *p;

	(void)state;
	assert_int_equal(edpg_nft_build_delete(&b), 0);
	p = parse(b);
	assert_int_equal(p->nmsgs, 3);
	assert_int_equal(p->ntables, 1);
	assert_int_equal(p->table_types[0], NFT_MSG_DELTABLE);
	parsed_free(p);
	edpg_nft_batch_free(b);
}

/* VLAN binding is XDP's alone: only --enforce nft leaves it unchecked,
 * and the sentence names the gateway, its VLAN and what to do. */
static void test_vlan_unchecked(void **state)
{
	struct edpg_nft_opts o = opts;
	struct edpg_desired *d = fixture(4);
	char msg[320];

	(void)state;
	o.enforce = EDPG_ENFORCE_NFT;
	assert_int_equal(edpg_nft_vlan_unchecked(d, &o, msg, sizeof(msg)), 0);
	d->gws[1].rec.flags |= EDPG_GW_BIND_VLAN;
	d->gws[1].rec.vlan = 42;
	assert_int_equal(edpg_nft_vlan_unchecked(d, &o, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "1 gateway bound to a VLAN (00:40:9d:00:00:02 to VLAN 42)"));
	assert_non_null(strstr(msg, "--enforce xdp|both"));
	o.enforce = EDPG_ENFORCE_BOTH;
	assert_int_equal(edpg_nft_vlan_unchecked(d, &o, msg, sizeof(msg)), 0);
	o.enforce = EDPG_ENFORCE_XDP;
	assert_int_equal(edpg_nft_vlan_unchecked(d, &o, msg, sizeof(msg)), 0);
	fixture_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_frame),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_interval_edges),
		cmocka_unit_test(test_chains_and_rules),
		cmocka_unit_test(test_modes_and_flags),
		cmocka_unit_test(test_delta_only_changes),
		cmocka_unit_test(test_delta_empty_and_refresh),
		cmocka_unit_test(test_delta_structural_is_full),
		cmocka_unit_test(test_split_20000),
		cmocka_unit_test(test_diff_text),
		cmocka_unit_test(test_delete_batch),
		cmocka_unit_test(test_vlan_unchecked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
