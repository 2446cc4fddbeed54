// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gateways.c - the gateways file: `gateway` lines (checked against the
 * services of the rules already parsed), duplicate MACs and names, and the
 * text the CLI writes back.  Driven by rules.c (edpg_gateways_parse).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "parse.h"

/* ---- gateway -------------------------------------------------------------- */

static bool gw_grow(struct ctx *c)
{
	struct edpg_policy *p = c->p;
	size_t cap, own;
	struct edpg_gateway *v;
	struct gwpos *pos;

	if (p->ngateways < c->gw_cap)
		return true;
	cap = c->gw_cap < 16 ? 16 : c->gw_cap * 2;
	v = realloc(p->gateways, cap * sizeof(*v));
	if (!v)
		goto oom;
	p->gateways = v;
	own = cap - c->gw_base;
	pos = realloc(c->gpos, own * sizeof(*pos));
	if (!pos)
		goto oom;
	c->gpos = pos;
	c->gw_cap = cap;
	return true;
oom:
	c->oom = true;
	return false;
}

void rp_stmt_gateway(struct ctx *c, const struct lline *l)
{
	struct edpg_policy *p = c->p;
	struct edpg_gateway g;
	struct gwpos pos = { 0 };
	bool mac_ok = false, seen_name = false, seen_svc = false, seen_vlan = false;
	bool seen_audit = false;
	char buf[EDPG_ADDR_STRLEN];
	const struct tok *t, *a;
	size_t i;
	int err;

	memset(&g, 0, sizeof(g));
	g.services = p->default_services;
	if (l->n < 2) {
		err_end(c, l, "expected a MAC address after 'gateway'");
		return;
	}
	t = &l->t[1];
	pos.line = t->line;
	pos.col = t->col;
	err = rp_tok_copy(t, buf, sizeof(buf)) ? edpg_mac_parse(buf, g.mac) : -EINVAL;
	if (err == -EDOM)
		err_at(c, t, "'%.*s%s' is a%s %s MAC address; enroll the gateway's own (unicast) MAC",
		       TQ(t), edpg_mac_reject_reason(g.mac)[0] == 'a' ? "n" : "",
		       edpg_mac_reject_reason(g.mac));
	else if (err == -ERANGE)
		err_at(c, t, "'%.*s%s' is a Device ID that does not encode a MAC; only a Device ID "
		       "of the form " EDPG_DEVID_FORM " names a gateway", TQ(t));
	else if (err)
		err_at(c, t, "invalid MAC address '%.*s%s' (use 00:40:9d:aa:bb:cc, "
		       "00-40-9D-AA-BB-CC, 0040.9daa.bbcc or the Device ID "
		       "00000000-00000000-00409DFF-FFAABBCC)", TQ(t));
	else
		mac_ok = true;

	for (i = 2; i < l->n;) {
		t = &l->t[i];
		/* `audit` is a word alone: the gateway is observed, not enforced. */
		if (rp_tok_is(t, "audit")) {
			if (seen_audit)
				err_at(c, t, "'audit' given twice");
			seen_audit = g.audit = true;
			i++;
			continue;
		}
		if (!rp_tok_is(t, "name") && !rp_tok_is(t, "services") && !rp_tok_is(t, "ip") &&
		    !rp_tok_is(t, "vlan")) {
			err_at(c, t, "unknown gateway option '%.*s%s' (expected name, services, ip, vlan or audit)",
			       TQ(t));
			i++;
			continue;
		}
		if (i + 1 >= l->n) {
			err_end(c, l, "expected a value after '%.*s%s'", TQ(t));
			break;
		}
		a = &l->t[i + 1];
		if (rp_tok_is(t, "name")) {
			uint8_t mac[6];

			if (seen_name)
				err_at(c, t, "'name' given twice");
			seen_name = true;
			pos.name_line = a->line;
			pos.name_col = a->col;
			if (!rp_valid_name(a))
				rp_err_name(c, a, "gateway");
			else if (rp_tok_copy(a, buf, sizeof(buf)) && edpg_mac_parse(buf, mac) != -EINVAL)
				err_at(c, a, "gateway name '%.*s%s' reads as a MAC address; choose "
				       "another so `gateway del NAME` is unambiguous", TQ(a));
			else
				rp_tok_copy(a, g.name, sizeof(g.name));
			i += 2;
		} else if (rp_tok_is(t, "services")) {
			if (seen_svc)
				err_at(c, t, "'services' given twice");
			seen_svc = true;
			i++;
			rp_parse_services(c, l, &i, &g.services);
		} else if (rp_tok_is(t, "ip")) {
			struct edpg_addr ad;

			err = rp_tok_copy(a, buf, sizeof(buf)) ? edpg_addr_parse(buf, &ad, false) : -EINVAL;
			if (err) {
				err_at(c, a, "invalid IP address '%.*s%s'%s", TQ(a),
				       memchr(a->s, '/', a->len) ? ": a bound source is one address, not a prefix" : "");
			} else if (ad.family == AF_INET ? g.has_ip4 : g.has_ip6) {
				err_at(c, a, "a gateway binds at most one IPv4 and one IPv6 address; "
				       "'%.*s%s' is a second %s one", TQ(a), rp_family_name(ad.family));
			} else if (ad.family == AF_INET) {
				g.has_ip4 = true;
				memcpy(g.ip4, ad.addr, 4);
			} else {
				g.has_ip6 = true;
				memcpy(g.ip6, ad.addr, 16);
			}
			i += 2;
		} else {
			unsigned long v;

			if (seen_vlan)
				err_at(c, t, "'vlan' given twice");
			seen_vlan = true;
			if (rp_parse_num(c, a, "VLAN id", 1, 4094, &v)) {
				g.has_vlan = true;
				g.vlan = v;
			}
			i += 2;
		}
	}
	if (!mac_ok)
		return;
	/* `services none` is an explicit (empty) list, not the defaults. */
	g.uses_defaults = !seen_svc;
	if (p->ngateways >= EDPG_MAX_GATEWAYS) {
		err_at(c, &l->t[1], "too many gateways (at most %d)", EDPG_MAX_GATEWAYS);
		return;
	}
	if (!gw_grow(c))
		return;
	c->gpos[p->ngateways - c->gw_base] = pos;
	p->gateways[p->ngateways++] = g;
}

struct gw_sort {
	const struct edpg_gateway *g;
	size_t idx;
};

static int gw_mac_cmp(const void *a, const void *b)
{
	const struct gw_sort *x = a, *y = b;
	int r = memcmp(x->g->mac, y->g->mac, 6);

	return r ? r : x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int gw_name_cmp(const void *a, const void *b)
{
	const struct gw_sort *x = a, *y = b;
	int r = strcmp(x->g->name, y->g->name);

	return r ? r : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Duplicate MACs and names, reported at the later gateway, O(n log n). */
void rp_check_gateway_dups(struct ctx *c)
{
	struct edpg_policy *p = c->p;
	struct gw_sort *v;
	size_t i, n = 0, first;
	char mac[EDPG_MAC_STRLEN];

	if (p->ngateways - c->gw_base == 0)
		return;
	v = malloc(p->ngateways * sizeof(*v));
	if (!v) {
		c->oom = true;
		return;
	}
	for (i = 0; i < p->ngateways; i++)
		v[i] = (struct gw_sort){ &p->gateways[i], i };
	qsort(v, p->ngateways, sizeof(*v), gw_mac_cmp);
	for (i = 1, first = 0; i < p->ngateways; i++) {
		const struct gwpos *pos;

		if (memcmp(v[i].g->mac, v[first].g->mac, 6)) {
			first = i;
			continue;
		}
		if (v[i].idx < c->gw_base)
			continue;
		pos = &c->gpos[v[i].idx - c->gw_base];
		edpg_mac_format(v[i].g->mac, mac);
		if (v[first].idx >= c->gw_base)
			rp_diag(c, EDPG_DIAG_ERROR, pos->line, pos->col,
			     "duplicate gateway %s (first enrolled at line %d)", mac,
			     c->gpos[v[first].idx - c->gw_base].line);
		else
			rp_diag(c, EDPG_DIAG_ERROR, pos->line, pos->col,
			     "gateway %s is already enrolled", mac);
	}
	for (i = 0; i < p->ngateways; i++)
		if (p->gateways[i].name[0])
			v[n++] = (struct gw_sort){ &p->gateways[i], i };
	qsort(v, n, sizeof(*v), gw_name_cmp);
	for (i = 1, first = 0; i < n; i++) {
		const struct gwpos *pos;

		if (strcmp(v[i].g->name, v[first].g->name)) {
			first = i;
			continue;
		}
		if (v[i].idx < c->gw_base)
			continue;
		pos = &c->gpos[v[i].idx - c->gw_base];
		if (v[first].idx >= c->gw_base)
			rp_diag(c, EDPG_DIAG_ERROR, pos->name_line, pos->name_col,
			     "duplicate gateway name '%s' (first used at line %d)", v[i].g->name,
			     c->gpos[v[first].idx - c->gw_base].name_line);
		else
			rp_diag(c, EDPG_DIAG_ERROR, pos->name_line, pos->name_col,
			     "gateway name '%s' is already in use", v[i].g->name);
	}
	free(v);
}

/* ---- output and cleanup --------------------------------------------------- */

static int gw_ptr_cmp(const void *a, const void *b)
{
	const struct edpg_gateway *const *x = a, *const *y = b;

	return memcmp((*x)->mac, (*y)->mac, 6);
}

/* The text under construction: appends that grow it by doubling. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->n + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_ip(struct sbuf *b, int family, const uint8_t *addr)
{
	struct edpg_addr ad = { .family = family, .plen = family == AF_INET ? 32 : 128 };
	char a[EDPG_ADDR_STRLEN];

	memcpy(ad.addr, addr, family == AF_INET ? 4 : 16);
	if (edpg_addr_format(&ad, a, sizeof(a)))
		b->oom = true;	/* cannot happen for a full-length address */
	sb_str(b, " ip ");
	sb_str(b, a);
}

/*
 * Written on every enrolment, for the whole site: plain appends, not one
 * fprintf per field (3.6 ms of a `gateway add` on a site of 10,000).
 */
int edpg_gateways_format(const struct edpg_policy *p, char **out, size_t *len)
{
	static const char head[] =
		"# edpgate enrolled gateways, one per line (grammar: edpgate.rules(5)).\n"
		"# Written by `edpgate gateway add|del`; edit with care.\n";
	const struct edpg_gateway **v = NULL;
	struct sbuf b = {};
	size_t i, s;
	bool sorted = true;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (p->ngateways) {
		v = malloc(p->ngateways * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (i = 0; i < p->ngateways; i++) {
		v[i] = &p->gateways[i];
		if (i && memcmp(v[i - 1]->mac, v[i]->mac, 6) > 0)
			sorted = false;
	}
	if (!sorted)
		qsort(v, p->ngateways, sizeof(*v), gw_ptr_cmp);
	sb_put(&b, head, sizeof(head) - 1);
	for (i = 0; i < p->ngateways; i++) {
		const struct edpg_gateway *g = v[i];
		const char *sep = " services ";
		char mac[EDPG_MAC_STRLEN], num[16];

		if (p->nservices < 32 && g->services >> p->nservices) {
			err = -EINVAL;	/* a service id the policy does not define */
			goto out;
		}
		edpg_mac_format(g->mac, mac);
		sb_str(&b, "gateway ");
		sb_str(&b, mac);
		if (g->name[0]) {
			sb_str(&b, " name ");
			sb_str(&b, g->name);
		}
		/* No `services`: the next parse gives the rules' defaults of that day. */
		if (!g->uses_defaults && !g->services)
			sb_str(&b, " services none");
		for (s = 0; s < p->nservices && !g->uses_defaults; s++) {
			if (!(g->services & (1U << s)))
				continue;
			sb_str(&b, sep);
			sb_str(&b, p->services[s].name);
			sep = ",";
		}
		if (g->has_ip4)
			sb_ip(&b, AF_INET, g->ip4);
		if (g->has_ip6)
			sb_ip(&b, AF_INET6, g->ip6);
		if (g->has_vlan) {
			snprintf(num, sizeof(num), " vlan %u", g->vlan);
			sb_str(&b, num);
		}
		if (g->audit)
			sb_str(&b, " audit");
		sb_put(&b, "\n", 1);
	}
	if (b.oom) {
		err = -ENOMEM;
		goto out;
	}
	*out = b.p;
	*len = b.n;
	b.p = NULL;
out:
	free(b.p);
	free(v);
	return err;
}
