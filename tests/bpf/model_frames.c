// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * model_frames.c - frames for test_model: aimed at the current policy,
 * valid, cut, mutated field by field, or random.
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

/* ---- frames ---------------------------------------------------------- */


void put16(uint8_t *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd();
}

static const unsigned int ports[] = {
	3199, 3197, 3198, 123, 124, 53, 8000, 8050, 8100, 7999, 8101, 9999, 0, 65535, 443,
};

/* A source MAC: mostly an enrolled gateway's (its index), else not (-1). */
int pick_mac(uint8_t *mac)
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
void build_valid(struct frame *fr)
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

void mutate(struct frame *fr)
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
