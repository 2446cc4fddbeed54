// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Differential test: generated frames through the real XDP program
 * (BPF_PROG_TEST_RUN on a private instance filled the way `apply` fills
 * the live one: rules text -> parser -> compile -> maps) and through the
 * reference model (model.c), which must agree on verdict and reason for
 * every frame.
 *
 * A new random policy every --per-policy frames (2000): services with
 * ports and port ranges (some no rule allows), groups mixing addresses
 * and prefixes of both families, nested, covering and shared across
 * groups, an address of one group inside another group's prefix with a
 * service reaching only each, gateways with and without services and
 * bindings (IPv4, IPv6, VLAN), unknown-mac and non-ip either way.
 *
 * Frames are aimed at the policy (an enrolled gateway, one of its
 * services, a member that service reaches, its bound address and VLAN;
 * each choice sometimes not), so that a fifth or more are allowed; two of
 * each policy are cut at every length, from 0 bytes; others are mutated
 * (random bytes, then every header field in turn: lengths, versions, next
 * headers, offsets, ports), or random bytes.  Frames under 14 bytes are
 * offered to the program too; the kernel refuses them (as it does to any
 * XDP program), which is counted and printed.
 *
 *   test_model [--frames N] [--per-policy K] [--seed S|random]
 *
 * The seed is fixed (1) unless given, and printed, so a failure
 * reproduces.  make test runs the default 200,000 frames (about 10 s);
 * make fuzz runs MODEL_FRAMES (2,000,000) with --seed random.  The test
 * fails on any disagreement, on a reason decided fewer than once in 1000
 * frames, or under 20 % of frames allowed.  tests/bpf/test_mutants.sh
 * shows it catches two planted bugs.  The instance is loaded as explain
 * and replay load theirs (dry_run), and its own maps are read for what a
 * dry instance must not write (check_dry).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfmaps.h"
#include "compile.h"
#include "probe.h"
#include "edpgate.h"
#include "model.h"
#include "rules.h"

#define MAXF 600

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int percent)
{
	return below(100) < (uint32_t)percent;
}

/* ---- a random policy, as the model sees it and as rules text -------- */

static struct model_policy pol;
static char svc_names[MODEL_MAX_SVCS][8];

static int bits_of(int family)
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
static void randomize_host(uint8_t *a, int family, int plen)
{
	for (int i = plen; i < bits_of(family); i++)
		if (chance(50))
			a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

/* Where fresh prefixes come from: few enough that they meet. */
static void fresh_base(uint8_t *a, int family)
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

static void gen_policy(void)
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
	}
}

static void rules_text(char *out, size_t len, char *gws, size_t glen)
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
		go += snprintf(gws + go, glen - go, "\n");
	}
}

/* Parse, compile and push the policy into the private instance. */
static int load_policy(struct edpg_bpf *b)
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

/* ---- frames ---------------------------------------------------------- */

struct frame {
	uint8_t b[MAXF];
	size_t len;
	/* where the headers are, for field mutations (0 = none) */
	size_t l3, l4, ext;
	int family, proto;
};

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd();
}

static const unsigned int ports[] = {
	3199, 3197, 3198, 123, 124, 53, 8000, 8050, 8100, 7999, 8101, 9999, 0, 65535, 443,
};

/* A source MAC: mostly an enrolled gateway's (its index), else not (-1). */
static int pick_mac(uint8_t *mac)
{
	uint32_t c = below(30);
	int i = (int)below(pol.ngws);

	memcpy(mac, pol.gws[i].mac, 6);
	if (c == 27)
		mac[5] ^= 1 << below(8);	/* a near miss (or another gateway) */
	else if (c == 28)
		mac[3] = 0x80 + below(100);	/* another Digi */
	else if (c == 29)
		fill(mac, 6);
	else
		return i;
	for (size_t k = 0; k < pol.ngws; k++)
		if (!memcmp(pol.gws[k].mac, mac, 6))
			return (int)k;
	return -1;
}

/* Does service @svc reach the group of member @n? */
static bool reaches(int svc, const struct model_net *n)
{
	return svc >= 0 && (pol.svcs[svc].groups >> n->group & 1);
}

/* The family of a destination aimed at the policy: that of a member the
 * service reaches, mostly. */
static int pick_family(int svc)
{
	size_t cand[MODEL_MAX_NETS], nc = 0;

	for (size_t i = 0; i < pol.nnets; i++)
		if (reaches(svc, &pol.nets[i]))
			cand[nc++] = i;
	if (nc && chance(90))
		return pol.nets[cand[below(nc)]].family;
	return chance(55) ? 4 : 6;
}

/*
 * A destination of @family: inside a member the service reaches, inside
 * any member, just outside one (the last prefix bit flipped), at a
 * prefix's edges, or anywhere.
 */
static void pick_dst(uint8_t *a, int family, int svc)
{
	size_t cand[MODEL_MAX_NETS], any[MODEL_MAX_NETS], nc = 0, na = 0;
	const struct model_net *n;
	uint32_t c = below(100);

	for (size_t i = 0; i < pol.nnets; i++) {
		if (pol.nets[i].family != family)
			continue;
		any[na++] = i;
		if (reaches(svc, &pol.nets[i]))
			cand[nc++] = i;
	}
	memset(a, 0, 16);
	if (!na || c >= 94) {
		fresh_base(a, family);
		if (chance(50))
			fill(a, family == 4 ? 4 : 16);
		else
			randomize_host(a, family, 8);
		return;
	}
	n = &pol.nets[nc && c < 80 ? cand[below(nc)] : any[below(na)]];
	memcpy(a, n->addr, 16);
	c = below(100);
	if (c < 80) {
		randomize_host(a, family, n->plen);
	} else if (c < 88) {
		/* the last address; the first is n->addr itself */
		for (int i = n->plen; i < bits_of(family); i++)
			a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	} else if (c < 94) {
		randomize_host(a, family, n->plen);
		a[(n->plen - 1) / 8] ^= (uint8_t)(0x80 >> ((n->plen - 1) % 8));
	}
}

/* A source address: the gateway's bound one mostly, else the exempt ones
 * (0.0.0.0, ::, link-local), their neighbours, another gateway's, any. */
static void pick_src(uint8_t *a, int family, int gw)
{
	const struct model_gw *g = gw >= 0 ? &pol.gws[gw] : NULL;
	const struct model_gw *o = &pol.gws[below(pol.ngws)];
	uint32_t c = below(100);

	memset(a, 0, 16);
	if (family == 4) {
		if (g && g->bind4 && c < 80)
			memcpy(a, g->ip4, 4);
		else if (c < 85)
			;	/* 0.0.0.0 */
		else if (c < 92 && o->bind4)
			memcpy(a, o->ip4, 4);
		else
			fill(a, 4);
		return;
	}
	if (g && g->bind6 && c < 75) {
		memcpy(a, g->ip6, 16);
	} else if (c < 80) {
		;	/* :: */
	} else if (c < 92) {
		/* fe00::/8 around fe80::/10: inside, next to it, either side */
		a[0] = 0xfe;
		a[1] = chance(50) ? 0x80 + below(0x40) : rnd();
		randomize_host(a, 6, 16);
	} else if (c < 96 && o->bind6) {
		memcpy(a, o->ip6, 16);
	} else {
		fill(a, 16);
	}
}

/* A service aimed at: one of the gateway's mostly. */
static int pick_svc(int gw)
{
	uint32_t mine = gw >= 0 ? pol.gws[gw].services : 0;

	if (!pol.nsvcs || chance(5))
		return -1;
	if (mine && chance(90)) {
		int s;

		do
			s = (int)below(pol.nsvcs);
		while (!(mine >> s & 1));
		return s;
	}
	return (int)below(pol.nsvcs);
}

static unsigned int pick_port(int svc)
{
	const struct model_svc *sv;
	uint32_t c = below(100);

	if (svc < 0 || c >= 95)
		return chance(50) ? ports[below(sizeof(ports) / sizeof(ports[0]))] : below(65536);
	sv = &pol.svcs[svc];
	if (c < 89)
		return sv->lo + below(sv->hi - sv->lo + 1);
	if (c < 92)
		return (sv->lo - 1) & 0xffff;
	return (sv->hi + 1) & 0xffff;
}

static void build_l4(struct frame *fr, size_t at, int proto, int family, unsigned int dport)
{
	size_t n;

	fr->l4 = at;
	fr->proto = proto;
	if (proto == 6) {
		int opt = chance(20) ? 4 * (1 + below(3)) : 0;

		fill(fr->b + at, 20 + opt);
		fr->b[at + 12] = (uint8_t)((5 + opt / 4) << 4);
		n = 20 + opt;
	} else if (proto == 17) {
		fill(fr->b + at, 8);
		n = 8;
	} else if (proto == 58 || proto == 1) {
		static const uint8_t types[] = { 128, 129, 133, 134, 135, 136, 137, 138, 1, 3 };

		fill(fr->b + at, 8);
		fr->b[at] = family == 6 && chance(70) ? types[below(sizeof(types))] : rnd();
		n = 8;
	} else {
		fill(fr->b + at, 8);
		n = 8;
	}
	if (proto == 6 || proto == 17)
		put16(fr->b + at + 2, dport);
	n += below(3) ? 0 : below(40);	/* payload */
	fill(fr->b + at + (proto == 6 ? (fr->b[at + 12] >> 4) * 4 : 8), n - (proto == 6 ?
		(fr->b[at + 12] >> 4) * 4 : 8));
	fr->len = at + n;
}

static int pick_proto(int family, int svc)
{
	uint32_t c = below(100);

	if (svc >= 0 && c < 88)
		return pol.svcs[svc].proto;
	/* ICMP often enough that neighbour discovery is decided plenty */
	c = below(100);
	if (c < 35)
		return 6;
	if (c < 70)
		return 17;
	if (c < 94)
		return family == 6 ? 58 : 1;
	return rnd() & 0xff;
}

/*
 * A frame aimed at the policy: from a gateway (mostly enrolled), for one
 * of its services, to a member that service reaches, from its bound
 * address and VLAN; each choice sometimes not.  It parses, mostly.
 */
static void build_valid(struct frame *fr)
{
	size_t o = 14, l3;
	int tags = below(100) < 70 ? 0 : below(100) < 62 ? 1 : below(100) < 80 ? 2 : 3;
	uint32_t kind = below(100);
	int gw, svc, family;
	const struct model_gw *g;

	memset(fr, 0, sizeof(*fr));
	fill(fr->b, 6);
	gw = pick_mac(fr->b + 6);
	g = gw >= 0 ? &pol.gws[gw] : NULL;
	svc = pick_svc(gw);
	family = pick_family(svc);
	if (g && g->bindvlan && chance(85) && !tags)
		tags = chance(80) ? 1 : 2;
	for (int t = 0; t < tags; t++) {
		unsigned int vid = t == 0 && g && g->bindvlan && chance(85) ? g->vlan :
				   chance(30) ? pol.gws[below(pol.ngws)].vlan : below(4096);

		put16(fr->b + o - 2, chance(70) ? 0x8100 : 0x88a8);
		put16(fr->b + o, (below(8) << 13) | vid);
		o += 4;
	}
	l3 = o;
	fr->l3 = l3;
	if (kind < 92 && family == 4) {
		int ihl = chance(80) ? 5 : 5 + below(4), proto = pick_proto(4, svc);
		size_t tot;

		fr->family = 4;
		put16(fr->b + o - 2, 0x0800);
		fill(fr->b + l3, ihl * 4);
		fr->b[l3] = (uint8_t)(0x40 | ihl);
		fr->b[l3 + 9] = proto;
		put16(fr->b + l3 + 6, chance(94) ? (chance(50) ? 0x4000 : 0) : chance(50) ? 0x2000 :
			      below(0x2000) | (rnd() & 0xe000));
		pick_src(fr->b + l3 + 12, 4, gw);
		pick_dst(fr->b + l3 + 16, 4, svc);
		build_l4(fr, l3 + ihl * 4, proto, 4, pick_port(svc));
		tot = fr->len - l3;
		put16(fr->b + l3 + 2, tot);
	} else if (kind < 92) {
		int next = pick_proto(6, svc), n = chance(75) ? 0 : 1 + below(7);
		size_t at = l3 + 40;
		uint8_t *prev;

		fr->family = 6;
		put16(fr->b + o - 2, 0x86dd);
		fill(fr->b + l3, 40);
		fr->b[l3] = 0x60 | (fr->b[l3] & 0x0f);
		pick_src(fr->b + l3 + 8, 6, gw);
		pick_dst(fr->b + l3 + 24, 6, svc);
		prev = fr->b + l3 + 6;
		if (n)
			fr->ext = at;
		for (int i = 0; i < n; i++) {
			static const uint8_t ext[] = { 0, 43, 60, 44 };
			uint8_t t = ext[below(4)];

			*prev = t;
			fill(fr->b + at, 8);
			if (t == 44) {
				/* mostly first fragments, some later ones */
				put16(fr->b + at + 2, chance(75) ? (rnd() & 1) : (1 + below(8000)) << 3);
				fr->b[at + 1] = 0;
				prev = fr->b + at;
				at += 8;
			} else {
				int hl = chance(80) ? 0 : below(3);

				fill(fr->b + at, (hl + 1) * 8);
				fr->b[at + 1] = hl;
				prev = fr->b + at;
				at += (hl + 1) * 8;
			}
		}
		*prev = next;
		build_l4(fr, at, next, 6, pick_port(svc));
		put16(fr->b + l3 + 4, fr->len - l3 - 40);
	} else if (kind < 96) {
		fr->family = 0;
		put16(fr->b + o - 2, 0x0806);
		fill(fr->b + o, 28);
		fr->len = o + 28;
	} else {
		static const unsigned int types[] = { 0x88cc, 0x8863, 0x0805, 0x9000, 0x0600 };

		put16(fr->b + o - 2, chance(70) ? types[below(5)] : rnd() & 0xffff);
		fill(fr->b + o, 46);
		fr->len = o + 46;
	}
	/* link padding past the IP length */
	if (chance(15)) {
		size_t pad = 1 + below(20);

		fill(fr->b + fr->len, pad);
		fr->len += pad;
	}
}

/* One header field of @fr set to a value chosen to hurt. */
static void mutate_field(struct frame *fr)
{
	static const unsigned int v16[] = { 0, 1, 7, 8, 19, 20, 39, 40, 41, 0xffff, 0x8000, 0x7fff };
	uint32_t c = below(12);
	uint8_t *b = fr->b;

	switch (c) {
	case 0:	/* the ethertype or a VLAN's inner type */
		put16(b + 12 + 4 * below(3), (const unsigned int[]){ 0x8100, 0x88a8, 0x0800, 0x86dd,
								     0x0806, rnd() & 0xffff }[below(6)]);
		break;
	case 1:
		if (fr->family == 4)
			b[fr->l3] = (uint8_t)(below(16) << 4 | below(16));	/* version, ihl */
		else if (fr->family == 6)
			b[fr->l3] = (uint8_t)(below(16) << 4);
		break;
	case 2:	/* IPv4 total length / IPv6 payload length */
		if (fr->family)
			put16(b + fr->l3 + (fr->family == 4 ? 2 : 4),
			      chance(50) ? v16[below(12)] : (fr->len - fr->l3) + below(9) - 4);
		break;
	case 3:	/* protocol / next header */
		if (fr->family)
			b[fr->l3 + (fr->family == 4 ? 9 : 6)] =
				(const uint8_t[]){ 0, 6, 17, 43, 44, 58, 60, 1, 59 }[below(9)];
		break;
	case 4:	/* fragment fields */
		if (fr->family == 4)
			put16(b + fr->l3 + 6, rnd());
		else if (fr->ext)
			put16(b + fr->ext + 2, rnd());
		break;
	case 5:	/* an extension header's length or next header */
		if (fr->ext)
			b[fr->ext + below(2)] = chance(50) ? rnd() : below(4);
		break;
	case 6:	/* TCP data offset */
		if (fr->l4 && fr->proto == 6)
			b[fr->l4 + 12] = (uint8_t)(below(16) << 4);
		break;
	case 7:	/* destination port */
		if (fr->l4)
			put16(b + fr->l4 + 2, pick_port(pick_svc(-1)));
		break;
	case 8:	/* source address */
		if (fr->family == 4)
			pick_src(b + fr->l3 + 12, 4, (int)below(pol.ngws));
		else if (fr->family == 6)
			pick_src(b + fr->l3 + 8, 6, (int)below(pol.ngws));
		break;
	case 9:	/* destination address */
		if (fr->family)
			pick_dst(b + fr->l3 + (fr->family == 4 ? 16 : 24), fr->family, pick_svc(-1));
		break;
	case 10:	/* the source MAC */
		pick_mac(b + 6);
		break;
	default:	/* ICMPv6 type */
		if (fr->l4)
			b[fr->l4] = 128 + below(12);
		break;
	}
}

static void mutate(struct frame *fr)
{
	uint32_t c = below(10);

	if (c < 4) {
		for (uint32_t n = 1 + below(3); n; n--)
			fr->b[below(fr->len)] = rnd();
	} else if (c < 8) {
		for (uint32_t n = 1 + below(2); n; n--)
			mutate_field(fr);
	} else if (c < 9) {
		fr->len = below(fr->len + 1);
	} else {
		size_t more = 1 + below(40);

		if (fr->len + more <= MAXF) {
			fill(fr->b + fr->len, more);
			fr->len += more;
		}
	}
}

/* ---- the comparison -------------------------------------------------- */

static void hexdump(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x%s", b[i], i % 16 == 15 || i + 1 == len ? "\n" : " ");
}

struct run {
	struct edpg_bpf b;
	struct edpg_global snap[EDPG_R_MAX];
	uint64_t n, per_reason[EDPG_R_MAX], disagree, pass, policies;
	uint64_t refused, short_ran;	/* frames under 14 bytes */
	uint64_t policy_disagree;	/* disagreements of the current policy */
};

/* The policy a disagreement happened under, once per policy. */
static void print_policy(struct run *r)
{
	static char rules[8192], gws[4096];

	if (r->policy_disagree++)
		return;
	rules_text(rules, sizeof(rules), gws, sizeof(gws));
	fprintf(stderr, "--- policy %llu (rules, then gateways):\n%s%s---\n",
		(unsigned long long)r->policies, rules, gws);
}

/*
 * A frame shorter than an Ethernet header, offered to the program as it
 * is and behind XDP metadata (which counts toward the kernel's minimum).
 * Returns 1 when the kernel refuses both (EINVAL: no XDP program can be
 * given such a frame, by a driver or a test run), 0 when the program ran
 * and @o holds what it counted, or -errno.
 */
static int short_run(struct run *r, const uint8_t *f, size_t len, struct edpg_outcome *o)
{
	struct edpg_global now[EDPG_R_MAX];
	uint8_t buf[32 + 14] = { 0 };
	struct xdp_md md = {};
	int err;

	for (int meta = 0; meta <= 16; meta += 16) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = buf, .data_size_in = meta + len,
			    .repeat = 1);

		md.data = meta;
		md.data_end = meta + len;
		memcpy(buf + meta, f, len);
		if (meta) {
			t.ctx_in = &md;
			t.ctx_size_in = sizeof(md);
		}
		err = bpf_prog_test_run_opts(r->b.prog_fd, &t);
		if (!err)
			break;
		if (err != -EINVAL)
			return err;
	}
	if (err)
		return 1;
	err = edpg_bpf_global(&r->b, now);
	if (err)
		return err;
	o->sid = -1;
	err = -EPROTO;
	for (int i = 0; i < EDPG_R_MAX && err; i++) {
		if (now[i].pass.packets != r->snap[i].pass.packets ||
		    now[i].drop.packets != r->snap[i].drop.packets) {
			o->verdict = now[i].pass.packets != r->snap[i].pass.packets ?
				     EDPG_V_PASS : EDPG_V_DROP;
			o->reason = i;
			err = 0;
		}
	}
	memcpy(r->snap, now, sizeof(now));
	return err;
}

static int judge(struct run *r, const uint8_t *f, size_t len, const char *what)
{
	struct model_result m = model_decide(&pol, f, len);
	struct edpg_outcome o;
	int err;

	if (len < 14) {
		err = short_run(r, f, len, &o);
		if (err == 1) {
			/* Refused: what reaches no program has no verdict to
			 * compare; the model must call it malformed all the
			 * same. */
			r->refused++;
			if (m.pass || m.reason != EDPG_R_MALFORMED) {
				fprintf(stderr, "the model passes a %zu-byte frame\n", len);
				r->disagree++;
			}
			return 0;
		}
	} else {
		err = edpg_verdict_run(&r->b, r->snap, f, len, &o);
	}
	if (err) {
		fprintf(stderr, "test run failed: %s\n", strerror(-err));
		return err;
	}
	r->n++;
	r->short_ran += len < 14;
	r->per_reason[o.reason]++;
	r->pass += o.verdict == EDPG_V_PASS;
	if ((o.verdict == EDPG_V_PASS) != m.pass || o.reason != m.reason) {
		if (r->disagree++ < 5) {
			print_policy(r);
			fprintf(stderr, "DISAGREE (%s frame, %zu bytes): program %s/%s, model %s/%s\n", what,
				len, o.verdict == EDPG_V_PASS ? "pass" : "drop", edpg_reason_names[o.reason],
				m.pass ? "pass" : "drop", edpg_reason_names[m.reason]);
			hexdump(f, len);
		}
	}
	return 0;
}

/* ---- the private instance writes nothing it would share -------------- */

static int count_event(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(uint64_t *)ctx)++;
	return 0;
}

/*
 * test_model loads its instance as explain and replay do
 * (edpg_bpf_load_private: dry_run), and has sent it unknown MACs on the
 * Device Cloud and NTP ports and drops of every reason from enrolled
 * gateways.  Read that instance's own maps, the ones it would write: no
 * last_used stamp in the destination maps (which explain shares with the
 * live instance), no pending record, no drop record, no event.
 */
static int check_dry(const struct edpg_bpf *b, bool whole)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t psz = (sizeof(struct edpg_pending) + 7) & ~7UL;
	size_t dsz = (sizeof(struct edpg_gw_diag) + 7) & ~7UL;
	uint8_t *buf = calloc(ncpu, psz > dsz ? psz : dsz);
	uint8_t key[sizeof(struct edpg_dst6_key)], next[sizeof(key)];
	struct ring_buffer *rb = NULL;
	uint64_t stamped = 0, pending = 0, records = 0, events = 0;
	struct edpg_dst d;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (int m = EDPG_M_DST4; m <= EDPG_M_DST6; m++) {
		void *prev = NULL;

		while (!bpf_map_get_next_key(b->map_fd[m], prev, next)) {
			memcpy(key, next, sizeof(key));
			prev = key;
			if (!bpf_map_lookup_elem(b->map_fd[m], key, &d) && d.last_used)
				stamped++;
		}
	}
	if (!whole)
		goto report;
	for (uint32_t k = 0; k < EDPG_MAX_PENDING; k++) {
		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_PENDING], &k, buf))
			continue;
		for (int c = 0; c < ncpu; c++)
			pending += ((struct edpg_pending *)(buf + c * psz))->packets != 0;
	}
	for (uint32_t k = 0; k < b->max_gateways; k++) {
		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GW_DIAG], &k, buf))
			continue;
		for (int c = 0; c < ncpu; c++)
			for (int i = 0; i < EDPG_DIAG_NR; i++)
				records += ((struct edpg_gw_diag *)(buf + c * dsz))->last[i].ts != 0;
	}
	rb = ring_buffer__new(b->map_fd[EDPG_M_EVENTS], count_event, &events, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "cannot read the instance's event ring: %s\n", strerror(errno));
		goto out;
	}
	ring_buffer__consume(rb);
report:
	if (stamped || pending || records || events) {
		fprintf(stderr, "the dry_run instance wrote: %llu last_used stamps, %llu pending records, "
			"%llu drop records, %llu events\n", (unsigned long long)stamped,
			(unsigned long long)pending, (unsigned long long)records,
			(unsigned long long)events);
		err = -EPERM;
	}
out:
	ring_buffer__free(rb);
	free(buf);
	return err;
}

/* One frame of the mix: aimed, aimed then mutated, or random bytes. */
static int one_frame(struct run *r)
{
	struct frame fr;
	uint32_t c = below(100);

	build_valid(&fr);
	if (c < 70)
		return judge(r, fr.b, fr.len, "valid");
	if (c < 92) {
		mutate(&fr);
		if (chance(30))
			mutate(&fr);
		return judge(r, fr.b, fr.len, "mutated");
	}
	fr.len = below(120);
	fill(fr.b, fr.len);
	if (chance(50) && fr.len >= 14)
		put16(fr.b + 12, (const unsigned int[]){ 0x0800, 0x86dd, 0x8100, 0x88a8 }[below(4)]);
	if (chance(50) && fr.len >= 12)
		pick_mac(fr.b + 6);
	return judge(r, fr.b, fr.len, "random");
}

static uint64_t fresh_seed(void)
{
	struct timespec ts;
	uint64_t s = 0;
	FILE *f = fopen("/dev/urandom", "r");

	if (!f || fread(&s, sizeof(s), 1, f) != 1) {
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	}
	if (f)
		fclose(f);
	return s;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "per-policy", required_argument, NULL, 'k' },
		{}
	};
	/* A fixed seed: a failure of make test reproduces as it is. */
	uint64_t frames = 200000, seed = 1, per_policy = 2000;
	struct edpg_load_opts lo = { .max_gateways = 64, .max_dst = 256 };
	struct run r = {};
	struct timespec t0, t1;
	double allow_share;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			frames = strtoull(optarg, NULL, 0);
		else if (c == 's')
			seed = strcmp(optarg, "random") ? strtoull(optarg, NULL, 0) : fresh_seed();
		else if (c == 'k')
			per_policy = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (!per_policy)
		per_policy = 1;
	rng_state = seed ? seed : 1;
	printf("test_model: %llu frames, a new policy every %llu, --seed %llu\n",
	       (unsigned long long)frames, (unsigned long long)per_policy, (unsigned long long)seed);
	fflush(stdout);
	libbpf_set_print(NULL);
	if (edpg_bpf_load_private(&r.b, NULL, &lo)) {
		fprintf(stderr, "cannot load the XDP program (needs root)\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (r.n < frames && !err) {
		uint64_t end = r.n + per_policy;

		gen_policy();
		r.policies++;
		r.policy_disagree = 0;
		err = load_policy(&r.b);
		err = err ?: edpg_bpf_global(&r.b, r.snap);
		if (err) {
			fprintf(stderr, "cannot load policy %llu: %s\n", (unsigned long long)r.policies,
				strerror(-err));
			break;
		}
		/* Two frames of each policy cut at every length, from nothing
		 * (under an Ethernet header too) to the whole frame. */
		for (int k = 0; k < 2 && !err; k++) {
			struct frame fr;

			build_valid(&fr);
			for (size_t l = 0; l <= fr.len && !err; l++)
				err = judge(&r, fr.b, l, "cut");
		}
		while (r.n < end && r.n < frames && !err)
			err = one_frame(&r);
		/* the destination maps are refilled by the next policy */
		err = err ?: check_dry(&r.b, r.n >= frames);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	edpg_bpf_close(&r.b);
	if (err)
		return 1;
	allow_share = r.n ? 100.0 * r.per_reason[EDPG_R_ALLOW] / r.n : 0;
	printf("%llu frames under %llu policies in %.1f s, %llu disagreements; %.1f %% allowed, "
	       "%.1f %% passed; by the program's reason:",
	       (unsigned long long)r.n, (unsigned long long)r.policies,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)r.disagree, allow_share, r.n ? 100.0 * r.pass / r.n : 0);
	for (int i = 0; i < EDPG_R_MAX; i++)
		printf(" %s %llu", edpg_reason_names[i], (unsigned long long)r.per_reason[i]);
	printf("\nframes under 14 bytes: %llu judged by the program, %llu refused by the kernel "
	       "(as it refuses them to every XDP program)\n",
	       (unsigned long long)r.short_ran, (unsigned long long)r.refused);
	if (r.disagree) {
		fprintf(stderr, "the program and the model disagree: reproduce with --seed %llu --frames %llu "
			"--per-policy %llu\n", (unsigned long long)seed, (unsigned long long)frames,
			(unsigned long long)per_policy);
		return 1;
	}
	/* A generator that stopped reaching a reason, or stopped aiming at
	 * the policy, would make agreement cheap: every reason must have
	 * been decided many times, and a fifth of the frames allowed. */
	for (int i = 0; i < EDPG_R_MAX; i++)
		if (r.per_reason[i] < r.n / 1000) {
			fprintf(stderr, "reason %s decided only %llu times: the generator misses it\n",
				edpg_reason_names[i], (unsigned long long)r.per_reason[i]);
			return 1;
		}
	if (allow_share < 20) {
		fprintf(stderr, "only %.1f %% of the frames allowed: the generator no longer aims at the "
			"policy\n", allow_share);
		return 1;
	}
	return 0;
}
