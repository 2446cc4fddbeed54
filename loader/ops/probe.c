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

#include "pkt.h"
#include "probe.h"

int edpg_verdict_run(const struct edpg_bpf *priv, struct edpg_global snap[EDPG_R_MAX],
		     const void *frame, size_t len, struct edpg_outcome *out)
{
	struct edpg_global now[EDPG_R_MAX];
	uint32_t retval = 0;
	int err;

	out->sid = -1;
	out->would = false;
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
		if (now[r].drop.packets != snap[r].drop.packets ||
		    now[r].would_drop.packets != snap[r].would_drop.packets) {
			out->verdict = EDPG_V_DROP;
			out->reason = r;
			out->would = now[r].would_drop.packets != snap[r].would_drop.packets;
			err = 0;
			break;
		}
	}
	memcpy(snap, now, sizeof(now));
	/* The counter is the truth about the reason; the return code must
	 * agree with it. */
	if (!err && (retval == XDP_PASS) != (out->verdict == EDPG_V_PASS || out->would))
		err = -EPROTO;
	return err;
}

/* ---- probe frames ------------------------------------------------------- */

int edpg_probe_build(const struct edpg_probe *p, uint8_t *buf, size_t cap, size_t *len)
{
	static const uint8_t router[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	bool v6 = p->src.family == AF_INET6;
	uint8_t l4 = p->proto == IPPROTO_TCP ? PKT_IP_TCP : PKT_IP_UDP;
	uint16_t l3 = v6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	struct pkt f;
	int err;

	if (p->src.family != p->dst.family)
		return -EAFNOSUPPORT;
	pkt_init(&f);
	pkt_eth(&f, router, p->src_mac, p->vlan >= 0 ? PKT_ETH_P_8021Q : l3);
	if (p->vlan >= 0)
		pkt_vlan(&f, p->vlan, l3);
	if (v6)
		pkt_ip6(&f, p->src.addr, p->dst.addr, l4);
	else
		pkt_ip4(&f, p->src.addr, p->dst.addr, l4, 0, 0x4000);	/* DF */
	if (l4 == PKT_IP_TCP) {
		pkt_tcp(&f, p->sport, p->dport);
	} else {
		uint8_t *ntp;

		pkt_udp(&f, p->sport, p->dport);
		ntp = pkt_bytes(&f, 48, 0);	/* an NTP request */
		if (ntp)
			ntp[0] = 0x23;		/* NTP v4, client */
	}
	err = pkt_finish(&f);
	/* The program ignores the L4 checksum; a reader of a dumped probe does not. */
	err = err ?: pkt_l4_csum(&f);
	if (!err && f.len < 60)
		pkt_bytes(&f, 60 - f.len, 0);	/* the minimum Ethernet frame */
	err = err ?: f.err;
	if (err)
		return err;
	if (cap < f.len)
		return -ENOSPC;
	memcpy(buf, f.data, f.len);
	*len = f.len;
	return 0;
}
