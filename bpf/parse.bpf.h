/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * parse.bpf.h - header parsing shared by the XDP program and the DNS
 * snooper: both walk Ethernet and up to EDPG_MAX_VLAN_DEPTH tags the same
 * way, so a frame the filter sees as VLAN 42 is VLAN 42 to the snooper too.
 * Include after the kernel and libbpf headers and edpgate.h.
 */
#ifndef EDPG_PARSE_BPF_H
#define EDPG_PARSE_BPF_H

/* What the parse helpers found; l4 and the ports only when there is one. */
struct hdrs {
	void *l3, *l3_end, *l4;
	__u16 h_proto;		/* after the VLAN tags */
	__u16 vlan;		/* outer tag's id, 0 when untagged */
	__u16 sport, dport;
	__u8 l4proto;
	__u8 nonfirst;		/* a non-first fragment: no L4 header */
	__u8 ntags;		/* VLAN tags before l3 */
};

/* Ethernet and up to EDPG_MAX_VLAN_DEPTH tags; -1 when malformed. */
static __always_inline int parse_eth(struct hdrs *h, struct ethhdr *eth, void *data_end)
{
	int i;

	if ((void *)(eth + 1) > data_end)
		return -1;
	h->h_proto = bpf_ntohs(eth->h_proto);
	h->l3 = eth + 1;
#pragma unroll
	for (i = 0; i < EDPG_MAX_VLAN_DEPTH; i++) {
		__u16 *tag = h->l3;

		if (h->h_proto != ETH_P_8021Q && h->h_proto != ETH_P_8021AD)
			break;
		if ((void *)(tag + 2) > data_end)
			return -1;
		if (i == 0)
			h->vlan = bpf_ntohs(tag[0]) & 0x0fff;
		h->h_proto = bpf_ntohs(tag[1]);
		h->l3 = tag + 2;
		h->ntags = i + 1;
	}
	/* A third tag is not something a gateway sends; don't let it pass as
	 * "non-IP" when non-IP is allowed. */
	if (h->h_proto == ETH_P_8021Q || h->h_proto == ETH_P_8021AD)
		return -1;
	return 0;
}

#endif
