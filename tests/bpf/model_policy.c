// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * model_policy.c - the random stream and a random policy for test_model,
 * as the model sees it and as rules text the real parser reads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "edpgate.h"
#include "model_gen.h"
#include "rules.h"

uint64_t rng_state;

uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

bool chance(int percent)
{
	return below(100) < (uint32_t)percent;
}

/* ---- a random policy, as the model sees it and as rules text -------- */

struct model_policy pol;
char svc_names[MODEL_MAX_SVCS][8];

int bits_of(int family)
{
	return family == 4 ? 32 : 128;
}

/* Clear the bits of @a past @plen. */
static void mask(uint8_t *a, int family, int plen)
{
	for (int i = 0; i < bits_of(family); i++)
		if (i >= plen)
			a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* Random bits past @plen (the host part). */
void randomize_host(uint8_t *a, int family, int plen)
{
	for (int i = plen; i < bits_of(family); i++)
		if (chance(50))
			a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

/* Where fresh prefixes come from: few enough that they meet. */
void fresh_base(uint8_t *a, int family)
{
	static const char *const b4[] = { "198.51.100.0", "203.0.113.0", "10.0.0.0", "192.0.2.0" };
	static const char *const b6[] = { "2001:db8::", "2001:db8:100::", "fd00::" };

	memset(a, 0, 16);
	if (family == 4)
		inet_pton(AF_INET, b4[below(4)], a);
	else
		inet_pton(AF_INET6, b6[below(3)], a);
}

static bool net_exists(int family, const uint8_t *a, int plen, int group)
{
	for (size_t i = 0; i < pol.nnets; i++) {
		const struct model_net *n = &pol.nets[i];

		if (n->group == group && n->family == family && n->plen == plen &&
		    !memcmp(n->addr, a, 16))
			return true;
	}
	return false;
}

static bool add_net(int family, const uint8_t *a, int plen, int group)
{
	struct model_net *n;

	if (pol.nnets == MODEL_MAX_NETS || net_exists(family, a, plen, group))
		return false;
	n = &pol.nets[pol.nnets++];
	n->family = family;
	memcpy(n->addr, a, 16);
	mask(n->addr, family, plen);
	n->plen = plen;
	n->group = group;
	return true;
}

/* A prefix length: one address half the time, else shortish. */
static int pick_plen(int family)
{
	if (chance(45))
		return bits_of(family);
	return family == 4 ? 8 + below(24) : 16 + below(chance(70) ? 56 : 112);
}

/*
 * A member of @group: a fresh one near the few bases, or one drawn from a
 * member of any group: nested in it (down to one address), covering it,
 * or the same one (an address in two groups).
 */
static void gen_net(int group)
{
	uint8_t a[16];
	int family, plen;

	if (pol.nnets && chance(55)) {
		const struct model_net *from = &pol.nets[below(pol.nnets)];
		uint32_t how = below(10);

		family = from->family;
		memcpy(a, from->addr, 16);
		if (how < 6 && from->plen < bits_of(family)) {
			plen = from->plen + 1 + below(bits_of(family) - from->plen);
			if (chance(50))
				plen = bits_of(family);
			randomize_host(a, family, from->plen);
		} else if (how < 8 && from->plen > 8) {
			plen = 8 + below(from->plen - 8);
		} else {
			plen = from->plen;
		}
	} else {
		family = chance(55) ? 4 : 6;
		fresh_base(a, family);
		plen = pick_plen(family);
		randomize_host(a, family, family == 4 ? 16 : 40);
	}
	add_net(family, a, plen, group);
}

static bool ports_free(int proto, unsigned int lo, unsigned int hi)
{
	for (size_t i = 0; i < pol.nsvcs; i++)
		if (pol.svcs[i].proto == proto && lo <= pol.svcs[i].hi && hi >= pol.svcs[i].lo)
			return false;
	return true;
}

static uint64_t random_groups(void)
{
	uint64_t g = 0;

	for (size_t i = 0; i < pol.ngroups; i++)
		if (chance(35))
			g |= 1ULL << i;
	if (!g && chance(80))
		g = 1ULL << below(pol.ngroups);
	return g;
}

/*
 * An exact address in one group inside a prefix of another, and two
 * services: one reaching only the prefix's group, one only the address's.
 * A frame of the first to that address hits the exact entry, whose groups
 * do not match, and must fall through to the prefix.
 */
static void plant_exact_in_prefix(void)
{
	size_t pi, tries;
	int ga, gb, s1, s2;
	uint8_t a[16];
	const struct model_net *pn = NULL;

	if (pol.ngroups < 2 || pol.nsvcs < 2)
		return;
	for (tries = 0; tries < 20 && !pn; tries++) {
		pi = below(pol.nnets);
		if (pol.nets[pi].plen < bits_of(pol.nets[pi].family))
			pn = &pol.nets[pi];
	}
	if (!pn)
		return;
	ga = pn->group;
	gb = (ga + 1 + below(pol.ngroups - 1)) % pol.ngroups;
	memcpy(a, pn->addr, 16);
	randomize_host(a, pn->family, pn->plen);
	if (!add_net(pn->family, a, bits_of(pn->family), gb))
		return;
	s1 = below(pol.nsvcs);
	s2 = (s1 + 1 + below(pol.nsvcs - 1)) % pol.nsvcs;
	pol.svcs[s1].groups = (pol.svcs[s1].groups | 1ULL << ga) & ~(1ULL << gb);
	pol.svcs[s2].groups = (pol.svcs[s2].groups | 1ULL << gb) & ~(1ULL << ga);
}

static void gen_src(struct model_gw *g, int family)
{
	uint8_t a[16];

	fresh_base(a, family);
	randomize_host(a, family, family == 4 ? 8 : 64);
	if (family == 4) {
		g->bind4 = true;
		memcpy(g->ip4, a, 4);
	} else {
		g->bind6 = true;
		memcpy(g->ip6, a, 16);
	}
}

void gen_policy(void)
{
	static const unsigned int wk[] = { 3199, 3197, 123, 53, 443, 8000, 1, 65535 };
	uint32_t want;

	memset(&pol, 0, sizeof(pol));
	pol.unknown_mac_pass = chance(50);
	pol.non_ip_pass = chance(50);

	pol.ngroups = 1 + below(6);
	for (size_t g = 0; g < pol.ngroups; g++)
		for (uint32_t n = 1 + below(5); n; n--)
			gen_net(g);
	/* Every group has a member: a group line needs one. */
	for (size_t g = 0; g < pol.ngroups; g++) {
		bool has = false;

		for (size_t i = 0; i < pol.nnets; i++)
			has |= (size_t)pol.nets[i].group == g;
		if (!has) {
			uint8_t a[16];

			fresh_base(a, 4);
			a[3] = (uint8_t)(g + 1);
			add_net(4, a, 32, g);
		}
	}

	want = 1 + below(MODEL_MAX_SVCS);
	for (uint32_t tries = 0; pol.nsvcs < want && tries < 50; tries++) {
		int proto = chance(55) ? 6 : 17;
		unsigned int lo = chance(50) ? wk[below(8)] : 1 + below(65535), hi = lo;
		struct model_svc *sv;

		if (chance(40))
			hi = lo + below(chance(80) ? 20 : 3000);
		if (hi > 65535)
			hi = 65535;
		if (!ports_free(proto, lo, hi))
			continue;
		sv = &pol.svcs[pol.nsvcs];
		snprintf(svc_names[pol.nsvcs], sizeof(svc_names[0]), "s%zu", pol.nsvcs);
		*sv = (struct model_svc){ svc_names[pol.nsvcs], proto, lo, hi, random_groups() };
		pol.nsvcs++;
	}
	if (chance(80))
		plant_exact_in_prefix();

	pol.ngws = 1 + below(MODEL_MAX_GWS);
	for (size_t i = 0; i < pol.ngws; i++) {
		struct model_gw *g = &pol.gws[i];
		uint32_t c = below(10);

		memcpy(g->mac, (uint8_t[]){ 0x00, 0x40, 0x9d, 0x00, (uint8_t)below(2), (uint8_t)i }, 6);
		if (c == 0)
			g->services = 0;
		else if (c < 3)
			g->services = (1U << pol.nsvcs) - 1;
		else
			g->services = rnd() & ((1U << pol.nsvcs) - 1);
		if (chance(30))
			gen_src(g, 4);
		if (chance(30))
			gen_src(g, 6);
		if (chance(25)) {
			g->bindvlan = true;
			g->vlan = 1 + below(4094);
		}
		g->audit = chance(20);
	}
}

void rules_text(char *out, size_t len, char *gws, size_t glen)
{
	char a[INET6_ADDRSTRLEN];
	size_t o = 0, go = 0;

	for (size_t i = 0; i < pol.nsvcs; i++) {
		const struct model_svc *s = &pol.svcs[i];

		o += snprintf(out + o, len - o, "service %s %s %u", s->name, s->proto == 6 ? "tcp" : "udp",
			      s->lo);
		o += s->hi != s->lo ? snprintf(out + o, len - o, "-%u\n", s->hi) :
			snprintf(out + o, len - o, "\n");
	}
	for (size_t g = 0; g < pol.ngroups; g++) {
		o += snprintf(out + o, len - o, "group g%zu", g);
		for (size_t i = 0; i < pol.nnets; i++) {
			const struct model_net *n = &pol.nets[i];

			if ((size_t)n->group != g)
				continue;
			inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, a, sizeof(a));
			o += snprintf(out + o, len - o, " %s", a);
			if (n->plen != (n->family == 4 ? 32 : 128))
				o += snprintf(out + o, len - o, "/%d", n->plen);
		}
		o += snprintf(out + o, len - o, "\n");
	}
	for (size_t i = 0; i < pol.nsvcs; i++) {
		if (!pol.svcs[i].groups)
			continue;
		o += snprintf(out + o, len - o, "allow %s to", pol.svcs[i].name);
		for (size_t g = 0, first = 1; g < pol.ngroups; g++)
			if (pol.svcs[i].groups >> g & 1) {
				o += snprintf(out + o, len - o, "%sg%zu", first ? " " : ",", g);
				first = 0;
			}
		o += snprintf(out + o, len - o, "\n");
	}
	o += snprintf(out + o, len - o, "unknown-mac %s\nnon-ip %s\n",
		      pol.unknown_mac_pass ? "pass" : "drop", pol.non_ip_pass ? "pass" : "drop");

	for (size_t i = 0; i < pol.ngws; i++) {
		const struct model_gw *g = &pol.gws[i];
		bool any = false;

		go += snprintf(gws + go, glen - go, "gateway %02x:%02x:%02x:%02x:%02x:%02x services",
			       g->mac[0], g->mac[1], g->mac[2], g->mac[3], g->mac[4], g->mac[5]);
		for (size_t s = 0; s < pol.nsvcs; s++)
			if (g->services >> s & 1) {
				go += snprintf(gws + go, glen - go, "%s%s", any ? "," : " ", pol.svcs[s].name);
				any = true;
			}
		if (!any)
			go += snprintf(gws + go, glen - go, " none");
		if (g->bind4)
			go += snprintf(gws + go, glen - go, " ip %s", inet_ntop(AF_INET, g->ip4, a, sizeof(a)));
		if (g->bind6)
			go += snprintf(gws + go, glen - go, " ip %s", inet_ntop(AF_INET6, g->ip6, a, sizeof(a)));
		if (g->bindvlan)
			go += snprintf(gws + go, glen - go, " vlan %u", g->vlan);
		if (g->audit)
			go += snprintf(gws + go, glen - go, " audit");
		go += snprintf(gws + go, glen - go, "\n");
	}
}

/* Parse, compile and push the policy into the private instance. */
int load_policy(struct edpg_bpf *b)
{
	static char rules[8192], gws[4096];
	struct edpg_diags dg = { 0 };
	struct edpg_desired *d;
	struct edpg_policy p;
	char line[512];
	int err;

	rules_text(rules, sizeof(rules), gws, sizeof(gws));
	err = edpg_rules_parse(&p, "model.rules", rules, strlen(rules), &dg);
	err = err ?: edpg_gateways_parse(&p, "model.gateways", gws, strlen(gws), &dg);
	/* Warnings (an address in two groups) are expected here. */
	for (size_t i = 0; err && i < dg.n; i++) {
		edpg_diags_format(&dg.v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	edpg_diags_free(&dg);
	if (err) {
		fprintf(stderr, "the policy text does not parse:\n%s%s", rules, gws);
		return err;
	}
	d = calloc(1, sizeof(*d));
	err = d ? edpg_compile(&p, NULL, 0, NULL, 0, d) : -ENOMEM;
	err = err ?: edpg_bpf_apply(b, d);
	if (d)
		edpg_desired_free(d);
	free(d);
	edpg_policy_free(&p);
	return err;
}
