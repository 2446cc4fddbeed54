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
#include <sys/types.h>

#include "addr.h"
#include "parse.h"
#include "prefault.h"

/* ---- gateway -------------------------------------------------------------- */

/* Room for @cap gateways in all (c->gpos for those past gw_base). */
static bool gw_resize(struct ctx *c, size_t cap)
{
	struct edpg_policy *p = c->p;
	struct edpg_gateway *v;
	struct gwpos *pos;

	v = edpg_realloc_prefault(p->gateways, p->ngateways * sizeof(*v), cap * sizeof(*v));
	if (!v)
		goto oom;
	p->gateways = v;
	pos = edpg_realloc_prefault(c->gpos, (p->ngateways - c->gw_base) * sizeof(*pos),
				    (cap - c->gw_base) * sizeof(*pos));
	if (!pos)
		goto oom;
	c->gpos = pos;
	c->gw_cap = cap;
	return true;
oom:
	c->oom = true;
	return false;
}

static bool gw_grow(struct ctx *c)
{
	if (c->p->ngateways < c->gw_cap)
		return true;
	return gw_resize(c, c->gw_cap < 16 ? 16 : c->gw_cap * 2);
}

/*
 * A gateway is one line at least, so the lines of the text bound how many
 * it adds: sized once, the array of a site of 10,000 is not grown (and
 * copied) a dozen times.  Lines past the limit are errors, not gateways.
 */
void rp_gateways_reserve(struct ctx *c, const char *text, size_t len)
{
	const char *s = text, *end = text + len;
	size_t lines = 1, room;

	room = c->gw_base < EDPG_MAX_GATEWAYS ? EDPG_MAX_GATEWAYS - c->gw_base : 0;
	while (lines < room && s < end && (s = memchr(s, '\n', end - s))) {
		lines++;
		s++;
	}
	if (lines > room)
		lines = room;
	if (lines && c->gw_base + lines > c->gw_cap)
		gw_resize(c, c->gw_base + lines);
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
			/* edpg_mac_parse takes these lengths only: skip the copy otherwise. */
			else if ((a->len == 14 || a->len == 17 || a->len == EDPG_DEVID_STRLEN - 1) &&
				 rp_tok_copy(a, buf, sizeof(buf)) && edpg_mac_parse(buf, mac) != -EINVAL)
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

static uint32_t gw_mac_hash(const uint8_t mac[6])
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | mac[i];
	return (uint32_t)((v * 0x9e3779b97f4a7c15ULL) >> 32);
}

/* FNV-1a, then mixed: names like gw1..gw10000 differ in the last bytes. */
static uint32_t gw_name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h ^= h >> 15;
	return h * 0x2c1b3c6du;
}

/*
 * The gateway before @i with @i's MAC (or name, @by_name), else -1; @i is
 * entered when it is the first.  Open addressing: slots hold index + 1.
 */
static ssize_t gw_seen(const struct edpg_policy *p, uint32_t *slot, uint32_t mask, size_t i,
		       bool by_name)
{
	const struct edpg_gateway *g = &p->gateways[i];
	uint32_t h = (by_name ? gw_name_hash(g->name) : gw_mac_hash(g->mac)) & mask;

	for (; slot[h]; h = (h + 1) & mask) {
		const struct edpg_gateway *o = &p->gateways[slot[h] - 1];

		if (by_name ? !strcmp(o->name, g->name) : !memcmp(o->mac, g->mac, 6))
			return slot[h] - 1;
	}
	slot[h] = i + 1;
	return -1;
}

static bool gw_macs_ascending(const struct edpg_policy *p)
{
	for (size_t i = 1; i < p->ngateways; i++)
		if (memcmp(p->gateways[i - 1].mac, p->gateways[i].mac, 6) >= 0)
			return false;
	return true;
}

/*
 * Duplicate MACs and names, reported at the later gateway against the first
 * one, O(n): a hash of MACs (none needed when they ascend, as in the file
 * edpgate writes) and one of names.  Every message is at its own position
 * (the sort by position orders them), so the order they are found in does
 * not show.
 */
void rp_check_gateway_dups(struct ctx *c)
{
	struct edpg_policy *p = c->p;
	uint32_t *slot, size = 16;
	size_t i;
	ssize_t first;
	char mac[EDPG_MAC_STRLEN];
	bool macs_unique;

	if (p->ngateways - c->gw_base == 0)
		return;
	/* At most two thirds full. */
	while (size < p->ngateways + p->ngateways / 2)
		size <<= 1;
	slot = calloc(size, sizeof(*slot));
	if (!slot) {
		c->oom = true;
		return;
	}
	edpg_prefault(slot, size * sizeof(*slot));
	macs_unique = gw_macs_ascending(p);
	for (i = 0; i < p->ngateways && !macs_unique; i++) {
		const struct gwpos *pos;

		first = gw_seen(p, slot, size - 1, i, false);
		if (first < 0 || i < c->gw_base)
			continue;
		pos = &c->gpos[i - c->gw_base];
		edpg_mac_format(p->gateways[i].mac, mac);
		if ((size_t)first >= c->gw_base)
			rp_diag(c, EDPG_DIAG_ERROR, pos->line, pos->col,
			     "duplicate gateway %s (first enrolled at line %d)", mac,
			     c->gpos[first - c->gw_base].line);
		else
			rp_diag(c, EDPG_DIAG_ERROR, pos->line, pos->col,
			     "gateway %s is already enrolled", mac);
	}
	if (!macs_unique)
		memset(slot, 0, size * sizeof(*slot));
	for (i = 0; i < p->ngateways; i++) {
		const struct gwpos *pos;

		if (!p->gateways[i].name[0])
			continue;
		first = gw_seen(p, slot, size - 1, i, true);
		if (first < 0 || i < c->gw_base)
			continue;
		pos = &c->gpos[i - c->gw_base];
		if ((size_t)first >= c->gw_base)
			rp_diag(c, EDPG_DIAG_ERROR, pos->name_line, pos->name_col,
			     "duplicate gateway name '%s' (first used at line %d)", p->gateways[i].name,
			     c->gpos[first - c->gw_base].name_line);
		else
			rp_diag(c, EDPG_DIAG_ERROR, pos->name_line, pos->name_col,
			     "gateway name '%s' is already in use", p->gateways[i].name);
	}
	free(slot);
}

/* ---- output and cleanup --------------------------------------------------- */

static int gw_ptr_cmp(const void *a, const void *b)
{
	const struct edpg_gateway *const *x = a, *const *y = b;

	return memcmp((*x)->mac, (*y)->mac, 6);
}

/*
 * @p's gateways in MAC order, as pointers: the run in order at the start
 * (a site's list, then the gateway just added at its end) kept, the rest
 * sorted on its own and merged in, the run's own first on equal MACs.
 */
static const struct edpg_gateway **gw_sorted_view(const struct edpg_policy *p)
{
	const struct edpg_gateway **v, **tail;
	size_t n = p->ngateways, k = n ? 1 : 0, r, w = n, i;

	while (k < n && memcmp(p->gateways[k - 1].mac, p->gateways[k].mac, 6) <= 0)
		k++;
	r = n - k;
	v = malloc((n + r) * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < n; i++)
		v[i] = &p->gateways[i];
	tail = v + n;
	memcpy(tail, v + k, r * sizeof(*tail));
	qsort(tail, r, sizeof(*tail), gw_ptr_cmp);
	while (r) {
		if (k && memcmp(v[k - 1]->mac, tail[r - 1]->mac, 6) > 0)
			v[--w] = v[--k];
		else
			v[--w] = tail[--r];
	}
	return v;
}

/*
 * The text under construction: sized up front (edpg_gateways_format), so
 * the appends never move it; sb_put still grows it should the size be
 * short.
 */
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

/* The most one gateway's line can take, with @svc_max for any service list. */
static size_t gw_line_max(const struct edpg_gateway *g, size_t svc_max)
{
	size_t n = sizeof("gateway ") - 1 + EDPG_MAC_STRLEN - 1 + 1;

	if (g->name[0])
		n += sizeof(" name ") - 1 + strnlen(g->name, sizeof(g->name));
	if (!g->uses_defaults)
		n += svc_max;
	if (g->has_ip4)
		n += sizeof(" ip ") - 1 + sizeof("255.255.255.255") - 1;
	if (g->has_ip6)
		n += sizeof(" ip ") - 1 + EDPG_ADDR_STRLEN;
	if (g->has_vlan)
		n += sizeof(" vlan 65535") - 1;
	if (g->audit)
		n += sizeof(" audit") - 1;
	return n;
}

/*
 * Written on every enrolment, for the whole site: plain appends into a
 * buffer sized once, not one fprintf per field (3.6 ms of a `gateway add`
 * on a site of 10,000), nor one that doubles (and is copied) a dozen times.
 */
int edpg_gateways_format(const struct edpg_policy *p, char **out, size_t *len)
{
	static const char head[] =
		"# edpgate enrolled gateways, one per line (grammar: edpgate.rules(5)).\n"
		"# Written by `edpgate gateway add|del`; edit with care.\n";
	const struct edpg_gateway **v = NULL;
	struct sbuf b = {};
	size_t i, s, svc_max = sizeof(" services none") - 1, list = sizeof(" services ") - 1;
	bool sorted = true;
	int err = 0;

	*out = NULL;
	*len = 0;
	for (s = 0; s < p->nservices && s < 32; s++)
		list += strnlen(p->services[s].name, sizeof(p->services[s].name)) + 1;
	if (list > svc_max)
		svc_max = list;
	b.cap = sizeof(head);
	for (i = 0; i < p->ngateways; i++) {
		b.cap += gw_line_max(&p->gateways[i], svc_max);
		if (i && memcmp(p->gateways[i - 1].mac, p->gateways[i].mac, 6) > 0)
			sorted = false;
	}
	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	edpg_prefault(b.p, b.cap);
	/* The file edpgate wrote is sorted: only a changed list needs sorting. */
	if (!sorted) {
		v = gw_sorted_view(p);
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
	}
	sb_put(&b, head, sizeof(head) - 1);
	for (i = 0; i < p->ngateways; i++) {
		const struct edpg_gateway *g = v ? v[i] : &p->gateways[i];
		const char *sep = " services ";
		char mac[EDPG_MAC_STRLEN], num[16];

		if (p->nservices < 32 && g->services >> p->nservices) {
			err = -EINVAL;	/* a service id the policy does not define */
			goto out;
		}
		edpg_mac_format(g->mac, mac);
		sb_put(&b, "gateway ", sizeof("gateway ") - 1);
		sb_put(&b, mac, EDPG_MAC_STRLEN - 1);
		if (g->name[0]) {
			sb_put(&b, " name ", sizeof(" name ") - 1);
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
