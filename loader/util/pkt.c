// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pkt.c - the packet builder behind pkt.h.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->ip4_off = -1;
	p->ip6_off = -1;
	p->l4_off = -1;
	p->udp_off = -1;
}

/* Reserve n zeroed bytes at the end of the frame. */
static void *push(struct pkt *p, size_t n)
{
	void *h;

	if (p->err || p->len + n > sizeof(p->data)) {
		p->err = -ENOSPC;
		return NULL;
	}
	h = p->data + p->len;
	memset(h, 0, n);
	p->len += n;
	return h;
}

struct pkt_eth *pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
			uint16_t next)
{
	struct pkt_eth *e = push(p, sizeof(*e));

	if (!e)
		return NULL;
	memcpy(e->dst, dst, 6);
	memcpy(e->src, src, 6);
	e->proto = htons(next);
	return e;
}

struct pkt_vlan *pkt_vlan(struct pkt *p, uint16_t vid, uint16_t next)
{
	struct pkt_vlan *v = push(p, sizeof(*v));

	if (!v)
		return NULL;
	/* PCP 3 in the top bits: the parser must mask them off the id. */
	v->tci = htons(3 << 13 | (vid & 0x0fff));
	v->proto = htons(next);
	return v;
}

struct pkt_ip4 *pkt_ip4(struct pkt *p, const uint8_t src[4], const uint8_t dst[4],
			uint8_t next, unsigned int opt_words, uint16_t frag_off)
{
	size_t off = p->len;
	struct pkt_ip4 *ip = push(p, sizeof(*ip) + opt_words * 4);
	uint8_t *opt;

	if (!ip)
		return NULL;
	ip->ver_ihl = 4 << 4 | ((5 + opt_words) & 0x0f);
	ip->id = htons(0x1234);
	ip->frag_off = htons(frag_off);
	ip->ttl = 64;
	ip->protocol = next;
	memcpy(ip->saddr, src, 4);
	memcpy(ip->daddr, dst, 4);
	/* NOPs then end-of-options: a valid option area of any size. */
	opt = (uint8_t *)(ip + 1);
	if (opt_words) {
		memset(opt, 1, opt_words * 4);
		opt[opt_words * 4 - 1] = 0;
	}
	p->ip4_off = off;
	p->l4_off = p->len;
	return ip;
}

struct pkt_ip6 *pkt_ip6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16],
			uint8_t next)
{
	size_t off = p->len;
	struct pkt_ip6 *ip6 = push(p, sizeof(*ip6));

	if (!ip6)
		return NULL;
	ip6->ver_tc_flow = htonl(6U << 28);
	ip6->nexthdr = next;
	ip6->hop_limit = 64;
	memcpy(ip6->saddr, src, 16);
	memcpy(ip6->daddr, dst, 16);
	p->ip6_off = off;
	p->l4_off = p->len;
	return ip6;
}

struct pkt_ip6_opt *pkt_ip6_ext(struct pkt *p, uint8_t type, unsigned int units,
				uint8_t next)
{
	size_t n = (1 + units) * 8;
	struct pkt_ip6_opt *h = push(p, n);
	uint8_t *area;

	if (!h)
		return NULL;
	h->nexthdr = next;
	h->hdrlen = units;
	area = (uint8_t *)(h + 1);
	if (type != PKT_IP_ROUTING) {
		/* One PadN option covering the whole area. */
		area[0] = 1;
		area[1] = n - 4;
	}
	/* Routing: type 0, segments left 0 (all zero) - ignored by nodes. */
	p->l4_off = p->len;
	return h;
}

struct pkt_ip6_frag *pkt_ip6_frag(struct pkt *p, uint16_t offset, int more, uint8_t next)
{
	struct pkt_ip6_frag *f = push(p, sizeof(*f));

	if (!f)
		return NULL;
	f->nexthdr = next;
	f->frag_off = htons(offset << 3 | (more ? 1 : 0));
	f->id = htonl(0xed9a7e);
	p->l4_off = p->len;
	return f;
}

struct pkt_tcp *pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	struct pkt_tcp *t = push(p, sizeof(*t));

	if (!t)
		return NULL;
	t->source = htons(sport);
	t->dest = htons(dport);
	t->seq = htonl(1);
	t->doff_res = 5 << 4;
	t->flags = 0x02;	/* SYN */
	t->window = htons(65535);
	return t;
}

struct pkt_udp *pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	size_t off = p->len;
	struct pkt_udp *u = push(p, sizeof(*u));

	if (!u)
		return NULL;
	u->source = htons(sport);
	u->dest = htons(dport);
	p->udp_off = off;
	return u;
}

struct pkt_icmp *pkt_icmp(struct pkt *p, uint8_t type, uint8_t code)
{
	struct pkt_icmp *i = push(p, sizeof(*i));

	if (!i)
		return NULL;
	i->type = type;
	i->code = code;
	return i;
}

struct pkt_arp *pkt_arp(struct pkt *p, const uint8_t sha[6], const uint8_t spa[4],
			const uint8_t tpa[4])
{
	struct pkt_arp *a = push(p, sizeof(*a));

	if (!a)
		return NULL;
	a->htype = htons(1);
	a->ptype = htons(PKT_ETH_P_IP);
	a->hlen = 6;
	a->plen = 4;
	a->oper = htons(1);
	memcpy(a->sha, sha, 6);
	memcpy(a->spa, spa, 4);
	memcpy(a->tpa, tpa, 4);
	return a;
}

void *pkt_bytes(struct pkt *p, size_t n, uint8_t b)
{
	uint8_t *d = push(p, n);

	if (d)
		memset(d, b, n);
	return d;
}


/* Ones' complement sum of a byte range, not folded, added to @sum. */
static uint32_t sum16(uint32_t sum, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t pkt_csum(const void *buf, size_t len)
{
	return htons(~fold(sum16(0, buf, len)) & 0xffff);
}

int pkt_l4_csum(struct pkt *p)
{
	uint32_t sum;
	size_t l4len;
	uint8_t proto;
	size_t field;	/* offset of the checksum in the frame */
	uint16_t c;

	if (p->err || p->l4_off < 0)
		return -EINVAL;
	if (p->ip4_off >= 0) {
		const struct pkt_ip4 *ip = (const void *)(p->data + p->ip4_off);

		l4len = ntohs(ip->tot_len) - (p->l4_off - p->ip4_off);
		proto = ip->protocol;
		sum = sum16(0, ip->saddr, 8);
	} else if (p->ip6_off >= 0) {
		const struct pkt_ip6 *ip6 = (const void *)(p->data + p->ip6_off);

		l4len = ntohs(ip6->payload_len) - (p->l4_off - p->ip6_off - sizeof(*ip6));
		proto = ip6->nexthdr;
		sum = sum16(0, ip6->saddr, 32);
	} else {
		return -EINVAL;
	}
	if (proto == PKT_IP_TCP)
		field = p->l4_off + offsetof(struct pkt_tcp, check);
	else if (proto == PKT_IP_UDP)
		field = p->l4_off + offsetof(struct pkt_udp, check);
	else
		return -EINVAL;
	if (p->l4_off + l4len > p->len)
		return -EINVAL;
	memset(p->data + field, 0, 2);
	sum = sum16(sum + l4len + proto, p->data + p->l4_off, l4len);
	c = ~fold(sum);
	/* UDP sends a computed 0 as all ones (0 means "none"). */
	c = c ? c : 0xffff;
	p->data[field] = c >> 8;
	p->data[field + 1] = c;
	return 0;
}

static void ip4_csum(struct pkt *p)
{
	struct pkt_ip4 *ip = (struct pkt_ip4 *)(p->data + p->ip4_off);
	size_t hlen = (ip->ver_ihl & 0x0f) * 4;

	if (p->ip4_off + hlen > p->len)
		return;
	ip->check = 0;
	ip->check = pkt_csum(ip, hlen);
}

int pkt_finish(struct pkt *p)
{
	if (p->err)
		return p->err;
	pkt_set_ip_len(p, p->len);
	if (p->udp_off >= 0)
		((struct pkt_udp *)(p->data + p->udp_off))->len = htons(p->len - p->udp_off);
	return 0;
}

void pkt_set_ip_len(struct pkt *p, size_t len)
{
	if (p->ip4_off >= 0 && len >= p->ip4_off + sizeof(struct pkt_ip4)) {
		struct pkt_ip4 *ip = (struct pkt_ip4 *)(p->data + p->ip4_off);

		ip->tot_len = htons(len - p->ip4_off);
		ip4_csum(p);
	}
	if (p->ip6_off >= 0 && len >= p->ip6_off + sizeof(struct pkt_ip6)) {
		struct pkt_ip6 *ip6 = (struct pkt_ip6 *)(p->data + p->ip6_off);

		ip6->payload_len = htons(len - p->ip6_off - sizeof(*ip6));
	}
}

int pkt_addr4(const char *s, void *out)
{
	return inet_pton(AF_INET, s, out) == 1 ? 0 : -EINVAL;
}

int pkt_addr6(const char *s, void *out)
{
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}
