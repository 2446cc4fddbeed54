// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_diff.c - the differences between the live table and the desired one,
 * one line each, for verify.
 */
#include "nft_internal.h"

/* ---- diff -------------------------------------------------------------------- */


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

		nft_prefix_interval(it->key, alen, p, s, e, &he);
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
			nft_item_cmp(&live->items[i], &want->items[j]);

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
		const struct edpg_nft_set *ls = nft_state_set((struct edpg_nft_state *)live,
							  want->sets[i].name, NULL);

		if (!ls)
			line_add(&l, "set %s: missing", want->sets[i].name);
		else
			diff_set(&l, ls, &want->sets[i]);
	}
	for (i = 0; i < live->nsets; i++)
		if (!nft_state_set((struct edpg_nft_state *)want, live->sets[i].name, NULL))
			line_add(&l, "set %s: extra", live->sets[i].name);
	for (i = 0; i < want->nchains; i++) {
		const struct edpg_nft_chain *lc = nft_state_chain((struct edpg_nft_state *)live,
							      want->chains[i].name);

		if (!lc)
			line_add(&l, "chain %s: missing", want->chains[i].name);
		else
			diff_chain(&l, lc, &want->chains[i]);
	}
	for (i = 0; i < live->nchains; i++)
		if (!nft_state_chain((struct edpg_nft_state *)want, live->chains[i].name))
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
