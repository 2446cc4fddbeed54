// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_elems.c - the sets of the table and their elements, from a desired
 * state: one sorted element list per state, so a delta is a set difference.
 */
#include "nft_internal.h"

/* ---- sets and their elements -------------------------------------------- */


/* Fixed set indexes; services and groups follow. */
enum { S_GATEWAYS, S_BOUND4, S_BOUND6, S_BIND4, S_BIND6, S_AUDIT, S_FIXED };

size_t nft_set_svc(size_t s)
{
	return S_FIXED + s;
}

size_t nft_set_grp(const struct edpg_desired *d, size_t g, int v6)
{
	return S_FIXED + d->nservices + 2 * g + (v6 ? 1 : 0);
}

size_t nft_nsets_of(const struct edpg_desired *d)
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

int nft_setdefs_of(const struct edpg_desired *d, struct setdef **out)
{
	size_t n = nft_nsets_of(d), i;
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
	setdef_fill(&sd[S_AUDIT], "audit", NFT_TYPE_ETHERADDR, 6, 0);
	for (i = 0; i < d->nservices; i++) {
		snprintf(name, sizeof(name), "svc_%s", d->services[i].name);
		setdef_fill(&sd[nft_set_svc(i)], name, NFT_TYPE_ETHERADDR, 6, 0);
	}
	for (i = 0; i < d->ngroups; i++) {
		snprintf(name, sizeof(name), "g_%s_v4", d->group_names[i]);
		setdef_fill(&sd[nft_set_grp(d, i, 0)], name, NFT_TYPE_IPADDR, 4, NFT_SET_INTERVAL);
		snprintf(name, sizeof(name), "g_%s_v6", d->group_names[i]);
		setdef_fill(&sd[nft_set_grp(d, i, 1)], name, NFT_TYPE_IP6ADDR, 16, NFT_SET_INTERVAL);
	}
	*out = sd;
	return 0;
}



int nft_elist_add(struct elist *l, uint32_t set, const void *key, size_t klen,
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

int nft_item_cmp(const struct edpg_nft_item *a, const struct edpg_nft_item *b)
{
	int c = memcmp(a->key, b->key, sizeof(a->key));

	if (c)
		return c;
	if (a->has_end != b->has_end)
		return a->has_end < b->has_end ? -1 : 1;
	return memcmp(a->end, b->end, sizeof(a->end));
}

int nft_elem_cmp(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;

	if (a->set != b->set)
		return a->set < b->set ? -1 : 1;
	return nft_item_cmp(&a->it, &b->it);
}

/*
 * The interval [start, end) covered by @addr/@plen in @len bytes; has_end
 * is 0 when the interval runs to the top of the address space (the kernel
 * takes a start without an end as "to the end").
 */
void nft_prefix_interval(const uint8_t *addr, size_t len, unsigned int plen,
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
		nft_prefix_interval(w->addr.addr, len, w->addr.plen, ivs[n].start, ivs[n].end,
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
		ret = nft_elist_add(l, nft_set_grp(d, g, v6), cur->start, len, cur->end, cur->has_end);
		if (ret)
			break;
	}
	free(ivs);
	return ret;
}

/* The whole element content of the table for @d, sorted. */
int nft_elems_of(const struct edpg_desired *d, struct elist *l)
{
	size_t i, s;
	int ret = 0;

	for (i = 0; i < d->ngws && !ret; i++) {
		const struct edpg_want_gw *g = &d->gws[i];
		uint8_t key[24] = { 0 };

		ret = nft_elist_add(l, S_GATEWAYS, g->mac, 6, NULL, 0);
		for (s = 0; s < d->nservices && !ret; s++)
			if (g->rec.services & (1U << s))
				ret = nft_elist_add(l, nft_set_svc(s), g->mac, 6, NULL, 0);
		memcpy(key, g->mac, 6);
		if (!ret && (g->rec.flags & EDPG_GW_BIND_V4)) {
			memcpy(key + 8, g->rec.ip4, 4);
			ret = nft_elist_add(l, S_BOUND4, g->mac, 6, NULL, 0);
			if (!ret)
				ret = nft_elist_add(l, S_BIND4, key, 12, NULL, 0);
		}
		if (!ret && (g->rec.flags & EDPG_GW_BIND_V6)) {
			memcpy(key + 8, g->rec.ip6, 16);
			ret = nft_elist_add(l, S_BOUND6, g->mac, 6, NULL, 0);
			if (!ret)
				ret = nft_elist_add(l, S_BIND6, key, 24, NULL, 0);
		}
		if (!ret && (g->rec.flags & EDPG_GW_AUDIT))
			ret = nft_elist_add(l, S_AUDIT, g->mac, 6, NULL, 0);
	}
	for (i = 0; i < d->ngroups && !ret; i++) {
		ret = group_elems(d, i, 0, l);
		if (!ret)
			ret = group_elems(d, i, 1, l);
	}
	if (!ret && l->n)	/* qsort(NULL, 0) is undefined */
		qsort(l->e, l->n, sizeof(*l->e), nft_elem_cmp);
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
		nlh = nft_batch_msg(b, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
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
		nft_batch_commit(b, nlh);
	}
	return 0;
}

/* One message list per run of elements of the same set. */
int nft_emit_elist(struct edpg_nft_batch *b, const struct setdef *sds, const struct elem *e,
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
