// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * snoop.bpf.c - DNS-answer snooping on the LAN interface's TC hooks.
 *
 * A DNS answer (UDP or TCP source port 53) that the router sends to an
 * enrolled gateway is copied into a ring buffer, so the daemon can allow
 * exactly the addresses the gateway was given (pool names hand out
 * different servers on every query).  The gateway is recognised by the
 * destination MAC in the XDP program's edpg_gateways map of the live
 * generation: the loader makes this object share the pinned edpg_ctl and
 * edpg_gateways maps (bpf_map__reuse_fd), so enrolment needs no second map.
 *
 * The questions (UDP or TCP destination port 53) an enrolled gateway sends,
 * seen on the ingress hook by edpgate_snoop_q, go into the same ring: the
 * daemon takes an answer only when it answers one of them (same gateway,
 * port, id and question), so a forged answer that nobody asked for, routed
 * in from outside or sent by another host, adds nothing.
 *
 * The program never drops or changes a frame: it always returns
 * TC_ACT_UNSPEC, which lets any other filter on the hook decide.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "edpgate.h"
#include "shared_maps.bpf.h"
#include "parse.bpf.h"
#include "snoop_abi.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* edpg_ctl and edpg_gateways (shared_maps.bpf.h) are the pinned maps, reused. */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EDPG_SNOOP_RB_SIZE);
} edpg_snoop_rb SEC(".maps");

/* Answers lost because the ring was full (the daemon reports it). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} edpg_snoop_lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&edpg_snoop_lost, &zero);

	if (v)
		*v += 1;
}

/*
 * @query: a frame from a gateway to port 53 (a question, TC ingress), else
 * a frame to a gateway from port 53 (an answer, TC egress).
 */
static __always_inline int snoop(struct __sk_buff *skb, const int query)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct edpg_gw_key gk = {};
	struct edpg_snoop_event *ev;
	struct edpg_ctl *ctl;
	struct hdrs h = {};
	__u32 zero = 0, off, l4;
	__u64 len;
	__u16 port;
	__u8 ipproto;

	/*
	 * Cheap tests first: the port, then the gateway.  Every frame a
	 * gateway sends passes the ingress hook, and all but its DNS
	 * questions leave at the port test, a few loads, instead of after a
	 * gateway hash lookup.
	 */
	/* The tags as the XDP program reads them. */
	if (parse_eth(&h, eth, end))
		return TC_ACT_UNSPEC;
	/* An offset the verifier can bound (a pointer difference it cannot). */
	off = sizeof(*eth) + 4 * h.ntags;

	if (h.h_proto == ETH_P_IP) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return TC_ACT_UNSPEC;
		/* A later fragment carries no port; a first fragment only
		 * part of the answer: both are left to the resolver. */
		if (ip->frag_off & bpf_htons(0x3fff))
			return TC_ACT_UNSPEC;
		ipproto = ip->protocol;
		off += ip->ihl * 4;
	} else if (h.h_proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return TC_ACT_UNSPEC;
		/* No extension headers: a router's own DNS answers have none. */
		ipproto = ip6->nexthdr;
		off += sizeof(*ip6);
	} else {
		return TC_ACT_UNSPEC;
	}

	if (ipproto == IPPROTO_UDP) {
		struct udphdr *uh = data + off;

		if ((void *)(uh + 1) > end || (query ? uh->dest : uh->source) != bpf_htons(53))
			return TC_ACT_UNSPEC;
		port = bpf_ntohs(query ? uh->source : uh->dest);
		l4 = sizeof(*uh);
	} else if (ipproto == IPPROTO_TCP) {
		struct tcphdr *th = data + off;

		if ((void *)(th + 1) > end || (query ? th->dest : th->source) != bpf_htons(53) ||
		    th->doff < 5)
			return TC_ACT_UNSPEC;
		port = bpf_ntohs(query ? th->source : th->dest);
		l4 = th->doff * 4;
	} else {
		return TC_ACT_UNSPEC;
	}
	/* DNS, to or from a gateway of the live generation. */
	ctl = bpf_map_lookup_elem(&edpg_ctl, &zero);
	if (!ctl)
		return TC_ACT_UNSPEC;
	__builtin_memcpy(gk.mac, query ? eth->h_source : eth->h_dest, 6);
	gk.gen = ctl->gen & 1;
	if (!bpf_map_lookup_elem(&edpg_gateways, &gk))
		return TC_ACT_UNSPEC;
	off += l4;
	if (off >= skb->len)
		return TC_ACT_UNSPEC;	/* a bare TCP ACK */
	/* 64-bit: the bound checked below is on the whole register. */
	len = skb->len - off;
	if (len > EDPG_SNOOP_MAX)
		len = EDPG_SNOOP_MAX;	/* the parser rejects a cut message */

	ev = bpf_ringbuf_reserve(&edpg_snoop_rb, sizeof(*ev), 0);
	if (!ev) {
		count_lost();
		return TC_ACT_UNSPEC;
	}
	ev->ts = bpf_ktime_get_ns();
	ev->ifindex = skb->ifindex;
	ev->tcp = ipproto == IPPROTO_TCP;
	ev->query = query;
	ev->pad[0] = ev->pad[1] = 0;
	__builtin_memcpy(ev->mac, gk.mac, 6);
	ev->port = port;
	/* Bounded for the verifier: 1..EDPG_SNOOP_MAX, checked on the very
	 * register passed (the barrier stops clang from testing a copy). */
	asm volatile("" : "+r"(len));
	if (len < 1 || len > EDPG_SNOOP_MAX ||
	    bpf_skb_load_bytes(skb, off, ev->data, len)) {
		bpf_ringbuf_discard(ev, 0);
		return TC_ACT_UNSPEC;
	}
	ev->len = len;
	bpf_ringbuf_submit(ev, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int edpgate_snoop(struct __sk_buff *skb)
{
#ifdef EDPG_BUILD_TAG
	/* A snooper differing in code alone, for tests/e2e/test_upgrade.sh;
	 * r0 is set again below. */
	asm volatile("r0 = %[t]" : : [t] "i"(EDPG_BUILD_TAG) : "r0");
#endif
	return snoop(skb, 0);
}

/* On the LAN interface's ingress: the questions the answers must match. */
SEC("tc")
int edpgate_snoop_q(struct __sk_buff *skb)
{
	return snoop(skb, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
