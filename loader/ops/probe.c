// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * probe.c - the verdict probe of explain and replay: a frame built for a
 * question ("may this gateway reach that address on that port?") run
 * through a private instance of the real program, and the reason read
 * from that instance's counters.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include "probe.h"

int edpg_verdict_run(const struct edpg_bpf *priv, struct edpg_global snap[EDPG_R_MAX],
		     const void *frame, size_t len, struct edpg_outcome *out)
{
	struct edpg_global now[EDPG_R_MAX];
	uint32_t retval = 0;
	int err;

	out->sid = -1;
	if (len < 14) {
		out->verdict = EDPG_V_DROP;
		out->reason = EDPG_R_MALFORMED;
		return 0;
	}
	err = edpg_bpf_test_run(priv, frame, len, &retval);
	if (err)
		return err;
	err = edpg_bpf_global(priv, now);
	if (err)
		return err;
	err = -EPROTO;	/* no counter moved: not the program we know */
	for (int r = 0; r < EDPG_R_MAX; r++) {
		if (now[r].pass.packets != snap[r].pass.packets) {
			out->verdict = EDPG_V_PASS;
			out->reason = r;
			err = 0;
			break;
		}
		if (now[r].drop.packets != snap[r].drop.packets) {
			out->verdict = EDPG_V_DROP;
			out->reason = r;
			err = 0;
			break;
		}
	}
	memcpy(snap, now, sizeof(now));
	/* The counter is the truth about the reason; the return code must
	 * agree with it. */
	if (!err && (retval == XDP_PASS) != (out->verdict == EDPG_V_PASS))
		err = -EPROTO;
	return err;
}

/* ---- probe frames ------------------------------------------------------- */

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

int edpg_probe_build(const struct edpg_probe *p, uint8_t *buf, size_t cap, size_t *len)
{
	static const uint8_t router[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	size_t l4len = p->proto == IPPROTO_TCP ? 20 : 8 + 48;	/* UDP: an NTP request */
	size_t off = 12, l3len, need;
	bool v6 = p->src.family == AF_INET6;
	uint8_t *l3, *l4;
	uint32_t sum;

	if (p->src.family != p->dst.family)
		return -EAFNOSUPPORT;
	l3len = (v6 ? 40 : 20) + l4len;
	need = 14 + (p->vlan >= 0 ? 4 : 0) + l3len;
	if (need < 60)
		need = 60;
	if (cap < need)
		return -ENOSPC;
	memset(buf, 0, need);
	memcpy(buf, router, 6);
	memcpy(buf + 6, p->src_mac, 6);
	if (p->vlan >= 0) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, p->vlan & 0x0fff);
		off += 4;
	}
	put16(buf + off, v6 ? 0x86dd : 0x0800);
	l3 = buf + off + 2;
	if (v6) {
		l3[0] = 0x60;
		put16(l3 + 4, l4len);
		l3[6] = p->proto;
		l3[7] = 64;
		memcpy(l3 + 8, p->src.addr, 16);
		memcpy(l3 + 24, p->dst.addr, 16);
		l4 = l3 + 40;
	} else {
		l3[0] = 0x45;
		put16(l3 + 2, l3len);
		l3[6] = 0x40;	/* DF */
		l3[8] = 64;
		l3[9] = p->proto;
		memcpy(l3 + 12, p->src.addr, 4);
		memcpy(l3 + 16, p->dst.addr, 4);
		put16(l3 + 10, ~csum_add(0, l3, 20));
		l4 = l3 + 20;
	}
	put16(l4, p->sport);
	put16(l4 + 2, p->dport);
	if (p->proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = 0x02;	/* SYN */
		put16(l4 + 14, 64240);
	} else {
		put16(l4 + 4, l4len);
		l4[8] = 0x23;	/* NTP v4, client */
	}
	/* Pseudo-header checksum: the program ignores it, a reader of a
	 * dumped probe does not. */
	if (v6) {
		sum = csum_add(0, l3 + 8, 32) + l4len + p->proto;
	} else {
		sum = csum_add(0, l3 + 12, 8) + l4len + p->proto;
	}
	sum = csum_add(sum, l4, l4len);
	put16(l4 + (p->proto == IPPROTO_TCP ? 16 : 6), ~sum ? ~sum : 0xffff);
	*len = need;
	return 0;
}
