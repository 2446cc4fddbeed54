// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "compile.h"
#include "prefault.h"

struct dst_vec {
	struct edpg_want_dst *v;
	size_t n, cap;
};

static int dst_push(struct dst_vec *dv, const struct edpg_addr *a, bool exact, uint64_t groups)
{
	struct edpg_want_dst *w;
	int bits = edpg_addr_bits(a->family);

	if (!bits || a->plen > bits)
		return -EINVAL;
	if (dv->n == dv->cap) {
		size_t cap = dv->cap ? dv->cap * 2 : 64;
		struct edpg_want_dst *v = edpg_realloc_prefault(dv->v, dv->n * sizeof(*v),
								cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dv->v = v;
		dv->cap = cap;
	}
	w = &dv->v[dv->n++];
	memset(w, 0, sizeof(*w));
	w->addr.family = a->family;
	memcpy(w->addr.addr, a->addr, bits / 8);
	w->addr.plen = exact ? bits : a->plen;
	/* A stray host bit would make two spellings of one prefix differ. */
	edpg_addr_mask(&w->addr);
	w->groups = groups;
	return 0;
}

/* "Name." and "NAME" are the name "name". */
static bool name_eq(const char *member, const char *resolved)
{
	size_t a = strlen(member), b = strlen(resolved);

	if (a && member[a - 1] == '.')
		a--;
	if (b && resolved[b - 1] == '.')
		b--;
	return a == b && !strncasecmp(member, resolved, a);
}

static int dst_cmp(const void *a, const void *b)
{
	const struct edpg_want_dst *x = a, *y = b;

	return edpg_addr_cmp(&x->addr, &y->addr);
}

static int gw_cmp(const void *a, const void *b)
{
	const struct edpg_want_gw *x = a, *y = b;

	return memcmp(x->mac, y->mac, 6);
}

static int add_group_dsts(struct dst_vec *dv, const struct edpg_group *g, uint64_t bit,
			  const struct edpg_resolved *names, size_t nnames,
			  const struct edpg_addr *router, size_t nrouter)
{
	static const struct edpg_addr bcast = {
		.family = AF_INET, .addr = { 255, 255, 255, 255 }, .plen = 32,
	};
	size_t m, i, k;
	int err = 0;

	for (m = 0; m < g->nmembers && !err; m++) {
		const struct edpg_member *mb = &g->members[m];

		switch (mb->kind) {
		case EDPG_MEMBER_ADDR:
			err = dst_push(dv, &mb->addr, false, bit);
			break;
		case EDPG_MEMBER_ROUTER:
			/* DHCP DISCOVER goes to the broadcast address, renewals to the router. */
			err = dst_push(dv, &bcast, true, bit);
			for (i = 0; i < nrouter && !err; i++)
				err = dst_push(dv, &router[i], true, bit);
			break;
		case EDPG_MEMBER_NAME:
			for (i = 0; i < nnames && !err; i++) {
				if (!names[i].name || !name_eq(mb->name, names[i].name))
					continue;
				for (k = 0; k < names[i].naddrs && !err; k++)
					err = dst_push(dv, &names[i].addrs[k], true, bit);
			}
			break;
		default:
			err = -EINVAL;
		}
	}
	return err;
}

/*
 * Room for the destinations the groups give, as near as a count without
 * matching names can say (each name member as all the names' addresses,
 * when there are few): a site's 10,000 addresses are then not pushed into
 * an array that doubles a dozen times.  dst_push grows it if need be.
 */
static int dsts_reserve(struct dst_vec *dv, const struct edpg_policy *p,
			const struct edpg_resolved *names, size_t nnames, size_t nrouter)
{
	struct edpg_want_dst *v;
	size_t n = 0, all = 0, i, m;

	for (i = 0; i < nnames; i++)
		all += names[i].naddrs;
	for (i = 0; i < p->ngroups; i++) {
		const struct edpg_group *g = &p->groups[i];

		for (m = 0; m < g->nmembers; m++)
			n += g->members[m].kind == EDPG_MEMBER_ADDR ? 1 :
			     g->members[m].kind == EDPG_MEMBER_ROUTER ? 1 + nrouter :
			     all < 64 ? all : 1;
	}
	if (n <= dv->cap)
		return 0;
	v = edpg_realloc_prefault(dv->v, dv->n * sizeof(*v), n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	dv->v = v;
	dv->cap = n;
	return 0;
}

/* Does prefix @outer (shorter) contain prefix @inner? */
static bool prefix_covers(const struct edpg_addr *outer, const struct edpg_addr *inner)
{
	int full = outer->plen / 8, rest = outer->plen % 8;

	if (outer->family != inner->family || outer->plen >= inner->plen ||
	    memcmp(outer->addr, inner->addr, full))
		return false;
	return !rest || !((outer->addr[full] ^ inner->addr[full]) & (0xff << (8 - rest)) & 0xff);
}

/*
 * Sort, then merge equal (family, addr, plen) entries by OR-ing their
 * groups.  Then a prefix inherits the groups of every shorter prefix that
 * contains it: the data path's LPM lookup returns only the longest match,
 * so 198.51.100.128/25 of group B inside 198.51.100.0/24 of group A must
 * carry A too, or a service allowed to A would be refused there (found by
 * the differential test, tests/bpf/test_model.c).  nft needs no such
 * thing (one interval set per group) and drops nested intervals itself.
 */
static int dsts_finish(struct dst_vec *dv)
{
	size_t i, n = 0, exact[2] = { 0 }, cidr[2] = { 0 };

	/* Rules list addresses in order more often than not: check first. */
	for (i = 1; i < dv->n && dst_cmp(&dv->v[i - 1], &dv->v[i]) <= 0; i++)
		;
	if (i < dv->n)
		qsort(dv->v, dv->n, sizeof(*dv->v), dst_cmp);
	for (i = 0; i < dv->n; i++) {
		if (n && !edpg_addr_cmp(&dv->v[n - 1].addr, &dv->v[i].addr)) {
			dv->v[n - 1].groups |= dv->v[i].groups;
			continue;
		}
		dv->v[n++] = dv->v[i];
	}
	dv->n = n;
	for (i = 0; i < n; i++) {
		struct edpg_want_dst *w = &dv->v[i];

		if (w->addr.plen == edpg_addr_bits(w->addr.family))
			continue;	/* exact: a miss falls through to the prefixes */
		for (size_t j = 0; j < n; j++)
			if (prefix_covers(&dv->v[j].addr, &w->addr))
				w->groups |= dv->v[j].groups;
	}
	for (i = 0; i < n; i++) {
		int f = dv->v[i].addr.family == AF_INET6;

		if (dv->v[i].addr.plen == edpg_addr_bits(dv->v[i].addr.family))
			exact[f]++;
		else
			cidr[f]++;
	}
	if (exact[0] > EDPG_MAX_DST || exact[1] > EDPG_MAX_DST ||
	    cidr[0] > EDPG_MAX_CIDR || cidr[1] > EDPG_MAX_CIDR)
		return -E2BIG;
	return 0;
}

static bool gws_sorted(const struct edpg_want_gw *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp(v[i - 1].mac, v[i].mac, 6) >= 0)
			return false;
	return true;
}

/*
 * Sort @v: a run in order, then the rest (an enrolment is the site's
 * sorted list and the gateway added at its end) sorted on its own and
 * merged in from the back, the run's own first on equal MACs.  O(n) for
 * `gateway add`, where sorting the whole list was most of the compile.
 */
static int gws_merge_tail(struct edpg_want_gw *v, size_t n)
{
	struct edpg_want_gw *tail;
	size_t k = 1, r, w = n;

	while (k < n && memcmp(v[k - 1].mac, v[k].mac, 6) < 0)
		k++;
	if (k >= n)
		return 0;
	r = n - k;
	tail = malloc(r * sizeof(*tail));
	if (!tail)
		return -ENOMEM;
	memcpy(tail, v + k, r * sizeof(*tail));
	qsort(tail, r, sizeof(*tail), gw_cmp);
	while (r) {
		if (k && memcmp(v[k - 1].mac, tail[r - 1].mac, 6) > 0)
			v[--w] = v[--k];
		else
			v[--w] = tail[--r];
	}
	free(tail);
	return 0;
}

/* The gateways @gws (@n) into out->gws, sorted by MAC; -EINVAL on a
 * duplicate MAC or a service id out->nservices does not cover. */
static int compile_gws(const struct edpg_gateway *gws, size_t n, struct edpg_desired *out)
{
	size_t i;

	if (n) {
		out->gws = calloc(n, sizeof(*out->gws));
		if (!out->gws)
			return -ENOMEM;
		edpg_prefault(out->gws, n * sizeof(*out->gws));
	}
	for (i = 0; i < n; i++) {
		const struct edpg_gateway *g = &gws[i];
		struct edpg_want_gw *w = &out->gws[i];

		if (out->nservices < 32 && g->services >> out->nservices)
			return -EINVAL;
		memcpy(w->mac, g->mac, 6);
		w->rec.services = g->services;
		if (g->has_ip4) {
			w->rec.flags |= EDPG_GW_BIND_V4;
			memcpy(w->rec.ip4, g->ip4, 4);
		}
		if (g->has_ip6) {
			w->rec.flags |= EDPG_GW_BIND_V6;
			memcpy(w->rec.ip6, g->ip6, 16);
		}
		if (g->has_vlan) {
			w->rec.flags |= EDPG_GW_BIND_VLAN;
			w->rec.vlan = g->vlan;
		}
		if (g->audit)
			w->rec.flags |= EDPG_GW_AUDIT;
	}
	out->ngws = n;
	/* The gateways file is written sorted: most of the time there is
	 * nothing to sort (and qsort's scratch copy is not free). */
	if (gws_sorted(out->gws, out->ngws))
		return 0;
	if (gws_merge_tail(out->gws, out->ngws))
		return -ENOMEM;
	for (i = 1; i < out->ngws; i++)
		if (!memcmp(out->gws[i - 1].mac, out->gws[i].mac, 6))
			return -EINVAL;
	return 0;
}

/* What every state of @p has, whatever its gateways and destinations. */
static int compile_base(const struct edpg_policy *p, struct edpg_desired *out)
{
	size_t i;

	/* 130 kB, most of it the port table: one call, not a fault a page. */
	edpg_prefault(out, sizeof(*out));
	memset(out, 0, sizeof(*out));
	if (p->nservices > EDPG_MAX_SERVICES || p->ngroups > EDPG_MAX_GROUPS ||
	    p->ngateways > EDPG_MAX_GATEWAYS)
		return -EINVAL;

	out->flags = (p->unknown_mac == EDPG_ACT_PASS ? EDPG_F_UNKNOWN_MAC_PASS : 0) |
		     (p->non_ip == EDPG_ACT_PASS ? EDPG_F_NON_IP_PASS : 0);

	out->nservices = p->nservices;
	for (i = 0; i < p->nservices; i++) {
		const struct edpg_service *s = &p->services[i];
		int proto = s->proto == IPPROTO_TCP ? EDPG_PROTO_TCP :
			    s->proto == IPPROTO_UDP ? EDPG_PROTO_UDP : -1;
		uint32_t port;

		out->services[i] = *s;
		/* Only allow rules to groups that exist reach the data path. */
		out->svc_groups[i] = s->groups &
			(p->ngroups >= 64 ? ~0ULL : (1ULL << p->ngroups) - 1);
		if (proto < 0 || s->port_lo > s->port_hi)
			return -EINVAL;
		for (port = s->port_lo; s->port_lo && port <= s->port_hi; port++) {
			/* The parser rejects overlaps; a hand-built policy may not. */
			if (out->ports[proto][port])
				return -EINVAL;
			out->ports[proto][port] = i + 1;
		}
	}
	out->ngroups = p->ngroups;
	for (i = 0; i < p->ngroups; i++) {
		memcpy(out->group_names[i], p->groups[i].name, EDPG_NAME_MAX);
		out->group_names[i][EDPG_NAME_MAX - 1] = '\0';
	}
	return 0;
}

int edpg_compile(const struct edpg_policy *p, const struct edpg_resolved *names, size_t nnames,
		 const struct edpg_addr *router, size_t nrouter, struct edpg_desired *out)
{
	struct dst_vec dv = { 0 };
	size_t i;
	int err;

	err = compile_base(p, out);
	if (err)
		goto out;
	err = dsts_reserve(&dv, p, names, nnames, nrouter);
	if (err)
		goto out;
	for (i = 0; i < p->ngroups; i++) {
		err = add_group_dsts(&dv, &p->groups[i], 1ULL << i, names, nnames, router, nrouter);
		if (err)
			goto out;
	}
	err = dsts_finish(&dv);
	if (err)
		goto out;

	err = compile_gws(p->gateways, p->ngateways, out);
	if (err)
		goto out;
	out->dsts = dv.v;
	out->ndsts = dv.n;
	dv.v = NULL;
out:
	free(dv.v);
	if (err) {
		edpg_desired_free(out);
		memset(out, 0, sizeof(*out));
	}
	return err;
}

int edpg_compile_base(const struct edpg_policy *p, const struct edpg_gateway *gws, size_t n,
		      struct edpg_desired *out)
{
	int err;

	err = compile_base(p, out);
	err = err ?: compile_gws(gws, n, out);
	if (err) {
		edpg_desired_free(out);
		memset(out, 0, sizeof(*out));
	}
	return err;
}

int edpg_compile_gateways(const struct edpg_desired *base, const struct edpg_gateway *gws,
			  size_t n, struct edpg_desired *out)
{
	int err;

	edpg_prefault(out, sizeof(*out));
	*out = *base;
	out->gws = NULL;
	out->ngws = 0;
	out->dsts_borrowed = true;
	err = compile_gws(gws, n, out);
	if (err) {
		edpg_desired_free(out);
		memset(out, 0, sizeof(*out));
	}
	return err;
}

int edpg_compile_gateways_of(const struct edpg_desired *base, const struct edpg_policy *p,
			     struct edpg_desired *out)
{
	return edpg_compile_gateways(base, p->gateways, p->ngateways, out);
}

void edpg_desired_free(struct edpg_desired *d)
{
	free(d->gws);
	if (!d->dsts_borrowed)
		free(d->dsts);
	d->gws = NULL;
	d->dsts = NULL;
	d->ngws = 0;
	d->ndsts = 0;
}
