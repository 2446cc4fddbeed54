/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.h - the one packet builder: the frames `explain` runs through the
 * program, the BPF_PROG_TEST_RUN tests and the benchmarks' frames.
 *
 * Frames are built front to back into a fixed buffer, one header per call;
 * every call names the protocol of the header that follows it, the way the
 * wire format does.  pkt_finish() then writes the length fields (IPv4 total
 * length, IPv6 payload length, UDP length) and the IPv4 header checksum, so
 * a test only spells out what it wants to be *wrong*, by mutating the
 * finished bytes through the recorded header offsets.
 *
 * The structs are __packed wire images: no struct here relies on the
 * compiler's layout of the kernel UAPI headers.
 */
#ifndef EDPG_PKT_H
#define EDPG_PKT_H

#include <stddef.h>
#include <stdint.h>

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#define PKT_MAX		1024

#define PKT_ETH_P_IP	0x0800
#define PKT_ETH_P_ARP	0x0806
#define PKT_ETH_P_8021Q	0x8100
#define PKT_ETH_P_8021AD 0x88a8
#define PKT_ETH_P_IPV6	0x86dd

#define PKT_IP_HOPOPTS	0
#define PKT_IP_ICMP	1
#define PKT_IP_TCP	6
#define PKT_IP_UDP	17
#define PKT_IP_ROUTING	43
#define PKT_IP_FRAGMENT	44
#define PKT_IP_ICMPV6	58
#define PKT_IP_NONE	59
#define PKT_IP_DSTOPTS	60

struct pkt_eth {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t proto;		/* network order */
} __packed;

struct pkt_vlan {
	uint16_t tci;
	uint16_t proto;
} __packed;

struct pkt_ip4 {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;
	uint8_t ttl;
	uint8_t protocol;
	uint16_t check;
	uint8_t saddr[4];
	uint8_t daddr[4];
} __packed;

struct pkt_ip6 {
	uint32_t ver_tc_flow;
	uint16_t payload_len;
	uint8_t nexthdr;
	uint8_t hop_limit;
	uint8_t saddr[16];
	uint8_t daddr[16];
} __packed;

/* Hop-by-hop, routing and destination options share this opening. */
struct pkt_ip6_opt {
	uint8_t nexthdr;
	uint8_t hdrlen;		/* in 8-octet units, not counting the first 8 */
} __packed;

struct pkt_ip6_frag {
	uint8_t nexthdr;
	uint8_t reserved;
	uint16_t frag_off;	/* offset << 3 | M */
	uint32_t id;
} __packed;

struct pkt_tcp {
	uint16_t source;
	uint16_t dest;
	uint32_t seq;
	uint32_t ack_seq;
	uint8_t doff_res;	/* doff << 4 */
	uint8_t flags;
	uint16_t window;
	uint16_t check;
	uint16_t urg_ptr;
} __packed;

struct pkt_udp {
	uint16_t source;
	uint16_t dest;
	uint16_t len;
	uint16_t check;
} __packed;

struct pkt_icmp {
	uint8_t type;
	uint8_t code;
	uint16_t check;
	uint32_t rest;
} __packed;

struct pkt_arp {
	uint16_t htype;
	uint16_t ptype;
	uint8_t hlen;
	uint8_t plen;
	uint16_t oper;
	uint8_t sha[6];
	uint8_t spa[4];
	uint8_t tha[6];
	uint8_t tpa[4];
} __packed;

_Static_assert(sizeof(struct pkt_eth) == 14, "pkt_eth");
_Static_assert(sizeof(struct pkt_vlan) == 4, "pkt_vlan");
_Static_assert(sizeof(struct pkt_ip4) == 20, "pkt_ip4");
_Static_assert(sizeof(struct pkt_ip6) == 40, "pkt_ip6");
_Static_assert(sizeof(struct pkt_ip6_frag) == 8, "pkt_ip6_frag");
_Static_assert(sizeof(struct pkt_tcp) == 20, "pkt_tcp");
_Static_assert(sizeof(struct pkt_udp) == 8, "pkt_udp");
_Static_assert(sizeof(struct pkt_icmp) == 8, "pkt_icmp");
_Static_assert(sizeof(struct pkt_arp) == 28, "pkt_arp");

/*
 * A frame under construction.  Offsets are -1 until the header is added;
 * the tests use them to corrupt a finished frame in one place.
 */
struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
	int ip4_off;
	int ip6_off;
	int l4_off;
	int udp_off;
	int err;		/* -ENOSPC once a push did not fit */
};

void pkt_init(struct pkt *p);

/* Each push appends one header and returns a pointer to it (NULL when the
 * buffer is full; p->err is then set and later pushes are no-ops). */
struct pkt_eth *pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
			uint16_t next);
struct pkt_vlan *pkt_vlan(struct pkt *p, uint16_t vid, uint16_t next);
/* opt_words: IPv4 option words (IHL = 5 + opt_words), filled with NOPs and
 * an end-of-options byte; frag_off is the host-order flags|offset field. */
struct pkt_ip4 *pkt_ip4(struct pkt *p, const uint8_t src[4], const uint8_t dst[4],
			uint8_t next, unsigned int opt_words, uint16_t frag_off);
struct pkt_ip6 *pkt_ip6(struct pkt *p, const uint8_t src[16], const uint8_t dst[16],
			uint8_t next);
/* Hop-by-hop or destination options (type PKT_IP_HOPOPTS/DSTOPTS, padded
 * with PadN so the option area is valid) or a routing header (type
 * PKT_IP_ROUTING, segments left 0 so any node ignores it), of
 * (1 + units) * 8 bytes. */
struct pkt_ip6_opt *pkt_ip6_ext(struct pkt *p, uint8_t type, unsigned int units,
				uint8_t next);
/* offset in 8-octet units; more = the M flag. */
struct pkt_ip6_frag *pkt_ip6_frag(struct pkt *p, uint16_t offset, int more, uint8_t next);
struct pkt_tcp *pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport);
struct pkt_udp *pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
/* ICMP (IPv4) or ICMPv6: the first 8 bytes are the same shape. */
struct pkt_icmp *pkt_icmp(struct pkt *p, uint8_t type, uint8_t code);
struct pkt_arp *pkt_arp(struct pkt *p, const uint8_t sha[6], const uint8_t spa[4],
			const uint8_t tpa[4]);
/* Append n bytes of value b (payload or Ethernet padding). */
void *pkt_bytes(struct pkt *p, size_t n, uint8_t b);

/*
 * Write the length fields from the frame as built so far (so call it
 * before appending Ethernet padding) and the IPv4 header checksum.
 * Returns 0 or p->err.
 */
int pkt_finish(struct pkt *p);

/* The TCP or UDP checksum, pseudo-header included, of a finished frame
 * (the data path never reads it; a capture reader does).  0 or -EINVAL. */
int pkt_l4_csum(struct pkt *p);

/* Rewrite the IP length field as if the frame ended at byte `len`, for
 * frames that are truncated consistently rather than cut off in transit. */
void pkt_set_ip_len(struct pkt *p, size_t len);

/* The internet checksum of a byte range, folded, in network order. */
uint16_t pkt_csum(const void *buf, size_t len);

/* Parse "a.b.c.d" or an IPv6 address: -EINVAL on a typo. */
int pkt_addr4(const char *s, void *out);
int pkt_addr6(const char *s, void *out);

#endif /* EDPG_PKT_H */
