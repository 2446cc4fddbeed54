// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * model.c - the packet decision, as the specification states it.
 *
 * Order (bpf/edpgate.h): malformed, arp, nd, non_ip, unknown_mac, binding,
 * fragment, protocol, port, service, destination, allow.  Parsing rules:
 * up to two VLAN tags (the outer id counts; a third is malformed); IPv4
 * with its options, its total length within the frame; IPv6 with at most
 * six hop-by-hop / routing / destination-options / fragment headers, each
 * within the payload length; TCP and UDP headers of first fragments within
 * the IP packet (bytes past the IP length are link padding).
 *
 * Everything is an offset into the frame compared with its length; no
 * pointer arithmetic, no code shared with the program.
 */
#include <string.h>

#include "edpgate.h"
#include "model.h"

static struct model_result verdict(bool pass, int reason)
{
	return (struct model_result){ .pass = pass, .reason = reason };
}

static struct model_result drop(int reason)
{
	return verdict(false, reason);
}

/* Once the gateway is known its own `audit` decides: judged the same,
 * but a drop passes. */
static struct model_result gw_drop(const struct model_gw *gw, int reason)
{
	struct model_result r = drop(reason);

	r.would = gw->audit;
	return r;
}

static unsigned int be16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static bool is_ext(int nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

/* Is @a inside @n (same family)? */
static bool in_net(const struct model_net *n, int family, const uint8_t *a)
{
	int full = n->plen / 8, rest = n->plen % 8;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, a, full))
		return false;
	if (rest && ((n->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff))
		return false;
	return true;
}

/* The L4 header of a first fragment: -1 malformed, 1 neighbour discovery, 0 else. */
static int l4_check(const uint8_t *f, size_t len, size_t l4, size_t l3_end, int proto,
		    int family, unsigned int *dport)
{
	if (proto == 6) {
		if (l4 + 20 > len || f[l4 + 12] >> 4 < 5 || l4 + (f[l4 + 12] >> 4) * 4 > l3_end)
			return -1;
		*dport = be16(f + l4 + 2);
	} else if (proto == 17) {
		if (l4 + 8 > l3_end)
			return -1;
		*dport = be16(f + l4 + 2);
	} else if (proto == 58 && family == 6) {
		if (l4 + 4 > l3_end)
			return -1;
		if (f[l4] >= 133 && f[l4] <= 137)
			return 1;
	}
	return 0;
}

/* Bindings: VLAN, then the source address. */
static bool binding_ok(const struct model_gw *gw, int family, const uint8_t *src,
		       unsigned int vlan)
{
	if (gw->bindvlan && gw->vlan != vlan)
		return false;
	if (family == 4 && gw->bind4) {
		static const uint8_t any[4];

		/* 0.0.0.0: a DHCP client without a lease */
		if (memcmp(src, any, 4) && memcmp(src, gw->ip4, 4))
			return false;
	}
	if (family == 6 && gw->bind6) {
		static const uint8_t any[16];
		bool link_local = src[0] == 0xfe && (src[1] & 0xc0) == 0x80;

		/* :: (DAD) and fe80::/10 cannot be routed on */
		if (memcmp(src, any, 16) && !link_local && memcmp(src, gw->ip6, 16))
			return false;
	}
	return true;
}

struct model_result model_decide(const struct model_policy *p, const uint8_t *f, size_t len)
{
	size_t off = 14, l3, l3_end, l4;
	unsigned int type, vlan = 0;
	int tags = 0, proto, family;
	bool nonfirst = false;
	const uint8_t *src, *dst;
	unsigned int dport = 0;
	const struct model_gw *gw = NULL;
	int svc = -1;

	/* ---- parse ---- */
	if (len < 14)
		return drop(EDPG_R_MALFORMED);
	type = be16(f + 12);
	while (type == 0x8100 || type == 0x88a8) {
		if (tags == 2 || off + 4 > len)
			return drop(EDPG_R_MALFORMED);
		if (tags == 0)
			vlan = be16(f + off) & 0x0fff;
		type = be16(f + off + 2);
		off += 4;
		tags++;
	}
	l3 = off;
	if (type == 0x0800) {
		unsigned int ihl, tot;

		family = 4;
		if (l3 + 20 > len || f[l3] >> 4 != 4 || (f[l3] & 15) < 5)
			return drop(EDPG_R_MALFORMED);
		ihl = (f[l3] & 15) * 4;
		tot = be16(f + l3 + 2);
		if (tot < ihl || l3 + tot > len)
			return drop(EDPG_R_MALFORMED);
		l3_end = l3 + tot;
		proto = f[l3 + 9];
		nonfirst = (be16(f + l3 + 6) & 0x1fff) != 0;
		src = f + l3 + 12;
		dst = f + l3 + 16;
		l4 = l3 + ihl;
	} else if (type == 0x86dd) {
		int n;

		family = 6;
		if (l3 + 40 > len || f[l3] >> 4 != 6 || l3 + 40 + be16(f + l3 + 4) > len)
			return drop(EDPG_R_MALFORMED);
		l3_end = l3 + 40 + be16(f + l3 + 4);
		src = f + l3 + 8;
		dst = f + l3 + 24;
		proto = f[l3 + 6];
		l4 = l3 + 40;
		for (n = 0; n < 6 && is_ext(proto); n++) {
			if (proto == 44) {
				if (l4 + 8 > l3_end)
					return drop(EDPG_R_MALFORMED);
				if (be16(f + l4 + 2) & 0xfff8)
					nonfirst = true;
				proto = f[l4];
				l4 += 8;
			} else {
				size_t hl;

				if (l4 + 2 > len)
					return drop(EDPG_R_MALFORMED);
				hl = (f[l4 + 1] + 1) * 8;
				if (l4 + hl > l3_end)
					return drop(EDPG_R_MALFORMED);
				proto = f[l4];
				l4 += hl;
			}
		}
		if (is_ext(proto))
			return drop(EDPG_R_MALFORMED);
	} else if (type == 0x0806) {
		return verdict(true, EDPG_R_ARP);
	} else {
		return verdict(p->non_ip_pass, EDPG_R_NON_IP);
	}

	if (!nonfirst) {
		int r = l4_check(f, len, l4, l3_end, proto, family, &dport);

		if (r < 0)
			return drop(EDPG_R_MALFORMED);
		if (r > 0)
			return verdict(true, EDPG_R_ND);
	}

	/* ---- who is it ---- */
	for (size_t i = 0; i < p->ngws && !gw; i++)
		if (!memcmp(p->gws[i].mac, f + 6, 6))
			gw = &p->gws[i];
	if (!gw)
		return verdict(p->unknown_mac_pass, EDPG_R_UNKNOWN_MAC);

	if (!binding_ok(gw, family, src, vlan))
		return gw_drop(gw, EDPG_R_BINDING);

	if (nonfirst)
		return gw_drop(gw, EDPG_R_FRAGMENT);
	if (proto != 6 && proto != 17)
		return gw_drop(gw, EDPG_R_PROTOCOL);

	for (size_t i = 0; i < p->nsvcs && svc < 0; i++)
		if (p->svcs[i].proto == proto && dport >= p->svcs[i].lo && dport <= p->svcs[i].hi)
			svc = (int)i;
	if (svc < 0)
		return gw_drop(gw, EDPG_R_PORT);
	if (!(gw->services & (1U << svc)))
		return gw_drop(gw, EDPG_R_SERVICE);

	/* Allowed when any group the service may reach holds the address,
	 * as one address or inside a prefix. */
	for (size_t i = 0; i < p->nnets; i++)
		if ((p->svcs[svc].groups >> p->nets[i].group & 1) && in_net(&p->nets[i], family, dst))
			return verdict(true, EDPG_R_ALLOW);
	return gw_drop(gw, EDPG_R_DESTINATION);
}
