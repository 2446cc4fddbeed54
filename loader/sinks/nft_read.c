// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_read.c - read the live table back (or parse a built batch) into
 * the same model, for verify and the tests.
 */
#include "nft_internal.h"

struct edpg_nft_set *nft_state_set(struct edpg_nft_state *s, const char *name, size_t *idx)
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

struct edpg_nft_chain *nft_state_chain(struct edpg_nft_state *s, const char *name)
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

	if (!nft_state_set(sb->s, nftnl_set_get_str(ns, NFTNL_SET_NAME), &idx))
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
	ch = nft_state_chain(sb->s, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
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
	return nft_item_cmp(a, b);
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
	ret = nft_sock_open(&nl, 65536, 1 << 20);
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
