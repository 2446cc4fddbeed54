// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_datapath.c - the real XDP program, run on packet bytes through
 * BPF_PROG_TEST_RUN, checked against the ABI in bpf/edpgate.h.
 *
 * The maps are filled here with bpf_map_update_elem() straight from the ABI
 * (no loader code), so a loader bug cannot hide a data-path bug.  Each row
 * of the table is one cmocka test: it builds a frame, runs the program once
 * and asserts the verdict AND every counter: the global counter of the
 * expected reason/verdict moves by one packet and the frame's bytes, the
 * gateway's slot moves exactly as expected (drops[reason], svc[sid] or
 * nothing), and no other watched counter moves at all.
 *
 * Exit 77 when not root or when the kernel cannot load an XDP program at
 * all; any other failure (including a verifier rejection) fails the test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "edpgate.h"
#include "edpgate.skel.h"
#include "pkt.h"

/* An address of a test table; a typo fails the test where it is. */
#define ADDR4(s, out) assert_int_equal(pkt_addr4(s, out), 0)
#define ADDR6(s, out) assert_int_equal(pkt_addr6(s, out), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ROUND8(x) (((x) + 7) & ~(size_t)7)

/* ------------------------------------------------------------------ */
/* The policy fixture                                                  */
/* ------------------------------------------------------------------ */

enum { SVC_EDP_TLS = 0, SVC_EDP = 1, SVC_NTP = 2, SVC_WEB = 5, SVC_HIGH = 31 };
enum { G_DC = 0, G_NTP = 1, G_OTHER = 5, G_HIGH = 63 };
#define BIT(n) (1ULL << (n))

/* Source MACs; the index is what a row names in .src. */
enum { GW_A, GW_B, GW_C, GW_S, UNK, NR_MACS };

static const uint8_t macs[NR_MACS][6] = {
	[GW_A] = { 0x02, 0xed, 0, 0, 0, 0x0a },
	[GW_B] = { 0x02, 0xed, 0, 0, 0, 0x0b },
	[GW_C] = { 0x02, 0xed, 0, 0, 0, 0x0c },
	[GW_S] = { 0x02, 0xed, 0, 0, 0, 0x0d },
	[UNK] = { 0x02, 0xed, 0, 0, 0, 0x99 },
};
static const uint8_t router_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

#define SLOT_NONE 0xffffffffU	/* beyond edpg_gw_stats: the program must cope */

struct gw_fix {
	int mac;
	uint8_t gen;
	uint32_t slot;
	uint32_t services;
	uint32_t flags;
	uint16_t vlan;
	const char *ip4, *ip6;
};

/*
 * A: everything, no binding.  B: only EDP-TLS, bound to VLAN 100,
 * 10.0.0.42 and 2001:db8:100::42.  C: only NTP, bound to 10.0.0.12, in the
 * last slot.  S: a gateway whose slot has no stats entry.
 * Generation 1 is a different policy: A may only use EDP-TLS, B is not
 * enrolled, unknown MACs pass.
 */
static const struct gw_fix gws[] = {
	{ GW_A, 0, 7, BIT(SVC_EDP_TLS) | BIT(SVC_EDP) | BIT(SVC_NTP) | BIT(SVC_HIGH), 0, 0, NULL, NULL },
	{ GW_B, 0, 42, BIT(SVC_EDP_TLS), EDPG_GW_BIND_V4 | EDPG_GW_BIND_V6 | EDPG_GW_BIND_VLAN, 100,
	  "10.0.0.42", "2001:db8:100::42" },
	{ GW_C, 0, EDPG_MAX_GATEWAYS - 1, BIT(SVC_NTP), EDPG_GW_BIND_V4, 0, "10.0.0.12", NULL },
	{ GW_S, 0, SLOT_NONE, BIT(SVC_EDP_TLS), 0, 0, NULL, NULL },
	{ GW_A, 1, 7, BIT(SVC_EDP_TLS), 0, 0, NULL, NULL },
	{ GW_C, 1, EDPG_MAX_GATEWAYS - 1, BIT(SVC_NTP), EDPG_GW_BIND_V4, 0, "10.0.0.12", NULL },
};

/* The slots whose stats every row compares before and after. */
static const uint32_t watched_slots[] = { 0, 7, 42, EDPG_MAX_GATEWAYS - 1 };
#define NR_WATCHED ARRAY_SIZE(watched_slots)

struct port_fix {
	uint8_t gen, proto;
	uint16_t port;
	uint32_t value;		/* service id + 1 */
};

static const struct port_fix ports[] = {
	{ 0, EDPG_PROTO_TCP, 3199, SVC_EDP_TLS + 1 },
	{ 0, EDPG_PROTO_TCP, 3197, SVC_EDP + 1 },
	{ 0, EDPG_PROTO_UDP, 123, SVC_NTP + 1 },
	{ 0, EDPG_PROTO_TCP, 443, SVC_WEB + 1 },
	{ 0, EDPG_PROTO_TCP, 8443, SVC_HIGH + 1 },
	{ 0, EDPG_PROTO_TCP, 9999, EDPG_MAX_SERVICES + 1 },	/* corrupt: out of range */
	{ 1, EDPG_PROTO_TCP, 3199, SVC_EDP_TLS + 1 },
	{ 1, EDPG_PROTO_TCP, 3197, SVC_EDP + 1 },
};

struct svc_fix {
	uint8_t gen, sid;
	uint64_t groups;
};

static const struct svc_fix svcs[] = {
	{ 0, SVC_EDP_TLS, BIT(G_DC) | BIT(G_HIGH) },
	{ 0, SVC_EDP, BIT(G_DC) },
	{ 0, SVC_NTP, BIT(G_NTP) },
	{ 0, SVC_WEB, BIT(G_DC) },
	{ 0, SVC_HIGH, BIT(G_DC) },
	{ 1, SVC_EDP_TLS, BIT(G_DC) },
	{ 1, SVC_EDP, BIT(G_DC) },
};

/* Exact destinations; the index is what a row names in .touch (1-based). */
enum { D_NONE, D4_DC, D4_NTP, D4_OTHER, D4_NEW, D6_DC, D6_NTP, NR_DST };

struct dst_fix {
	uint8_t gen;
	const char *addr;	/* family by the presence of ':' */
	uint64_t groups;
};

static const struct dst_fix dsts[NR_DST] = {
	[D4_DC] = { 0, "198.51.100.10", BIT(G_DC) },
	[D4_NTP] = { 0, "192.0.2.123", BIT(G_NTP) },
	[D4_OTHER] = { 0, "198.51.100.99", BIT(G_OTHER) },
	[D4_NEW] = { 1, "198.51.100.77", BIT(G_DC) },
	[D6_DC] = { 0, "2001:db8:1::10", BIT(G_DC) },
	[D6_NTP] = { 0, "2001:db8:2::123", BIT(G_NTP) },
};

struct cidr_fix {
	uint8_t gen;
	const char *addr;
	uint8_t plen;
	uint64_t groups;
};

static const struct cidr_fix cidrs[] = {
	{ 0, "203.0.113.0", 24, BIT(G_DC) },
	{ 0, "198.18.0.0", 15, BIT(G_NTP) },
	{ 0, "10.99.0.0", 16, BIT(G_OTHER) },
	{ 0, "2001:db8:cc::", 48, BIT(G_HIGH) },
	{ 0, "2001:db8:99::", 48, BIT(G_OTHER) },
	{ 1, "100.64.0.0", 10, BIT(G_DC) },
};

/* Configuration flags per generation (a row may OR more in). */
static const uint32_t gen_flags[EDPG_NR_GENS] = { 0, EDPG_F_UNKNOWN_MAC_PASS };

/* ------------------------------------------------------------------ */
/* Test rows                                                           */
/* ------------------------------------------------------------------ */

enum l3 { L3_V4, L3_V6, L3_ARP, L3_RAW };
enum mut { M_NONE, M_IHL, M_VER, M_TOTLEN_ABS, M_TOTLEN_DELTA, M_PAYLEN_ABS,
	   M_PAYLEN_DELTA, M_DOFF, M_CUT_CONSISTENT };

struct row {
	const char *name;
	int src;		/* macs[] index */
	uint8_t ntags;
	uint16_t tpid[3];	/* 0 = 802.1Q */
	uint16_t vid[3];
	uint8_t l3;
	uint16_t ethertype;	/* L3_RAW */
	const char *s, *d;	/* NULL = a default of the family */
	uint8_t opt_words;	/* IPv4 options */
	uint16_t frag;		/* IPv4 flags|offset, or IPv6 fragment offset */
	uint8_t more;		/* IPv6 fragment M flag */
	uint8_t n_ext;		/* IPv6 extension header chain */
	uint8_t ext[10];
	uint8_t ext_units;	/* length units of each option header */
	uint8_t l4;		/* protocol number; 0 = TCP */
	uint16_t dport;		/* 0 = 3199 for TCP, 123 for UDP */
	uint8_t icmp_type;
	uint8_t nol4;		/* do not append an L4 header */
	uint16_t payload;	/* bytes after the L4 header */
	uint16_t pad_to;	/* Ethernet padding after pkt_finish() */
	uint8_t mut;
	int mut_val;
	uint8_t gen;		/* active generation for this row */
	uint32_t flags;		/* OR-ed into edpg_config[gen].flags */
	/* expected */
	int v;			/* EDPG_V_PASS / EDPG_V_DROP */
	int why;		/* enum edpg_reason */
	int sid;		/* service on allow */
	int touch;		/* exact destination whose last_used is set */
};

#define PASS .v = EDPG_V_PASS
#define DROP .v = EDPG_V_DROP
#define Q(v1) .ntags = 1, .vid = { v1 }
#define QQ(v1, v2) .ntags = 2, .tpid = { PKT_ETH_P_8021AD, PKT_ETH_P_8021Q }, .vid = { v1, v2 }
#define UDP .l4 = PKT_IP_UDP
#define V6 .l3 = L3_V6
#define ICMP6(t) .l3 = L3_V6, .l4 = PKT_IP_ICMPV6, .icmp_type = (t)

static const struct row rows[] = {
	/* ---- allow, exact and CIDR, IPv4 and IPv6 ---- */
	{ "v4 tcp/3199 exact dc", GW_A, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "v4 tcp/3197 exact dc", GW_A, .dport = 3197, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP,
	  .touch = D4_DC },
	{ "v4 udp/123 exact ntp", GW_A, UDP, .d = "192.0.2.123", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_NTP, .touch = D4_NTP },
	{ "v4 tcp/3199 cidr /24", GW_A, .d = "203.0.113.77", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS },
	{ "v4 udp/123 cidr /15 upper half", GW_A, UDP, .d = "198.19.255.1", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP },
	{ "v4 tcp/8443 service id 31", GW_A, .dport = 8443, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_HIGH, .touch = D4_DC },
	{ "v4 with payload", GW_A, .payload = 300, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v4 udp/123 padded to 60 bytes", GW_A, UDP, .d = "192.0.2.123", .pad_to = 60, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },
	{ "v6 tcp/3199 exact dc", GW_A, V6, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D6_DC },
	{ "v6 udp/123 exact ntp", GW_A, V6, UDP, .d = "2001:db8:2::123", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_NTP, .touch = D6_NTP },
	{ "v6 tcp/3199 cidr /48 in group 63", GW_A, V6, .d = "2001:db8:cc:ffff::5", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS },
	{ "gateway without a stats slot allowed", GW_S, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D4_DC },

	/* ---- destination ---- */
	{ "v4 tcp/3199 to the ntp exact address", GW_A, .d = "192.0.2.123", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v4 tcp/3199 exact address of an unpaired group", GW_A, .d = "198.51.100.99", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v4 tcp/3199 cidr of an unpaired group", GW_A, .d = "10.99.3.4", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v4 tcp/3199 next to the /24", GW_A, .d = "203.0.114.1", DROP, .why = EDPG_R_DESTINATION },
	{ "v4 tcp/3199 next to an exact address", GW_A, .d = "198.51.100.11", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v4 udp/123 past the /15", GW_A, UDP, .d = "198.20.0.1", DROP, .why = EDPG_R_DESTINATION },
	{ "v4 udp/123 to the dc cidr", GW_A, UDP, .d = "203.0.113.5", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v6 udp/123 to the dc exact address", GW_A, V6, UDP, DROP, .why = EDPG_R_DESTINATION },
	{ "v6 tcp/3199 next to the /48", GW_A, V6, .d = "2001:db8:cd::1", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v6 tcp/3199 cidr of an unpaired group", GW_A, V6, .d = "2001:db8:99::1", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "v6 tcp/3197 to group 63 (not paired with edp)", GW_A, V6, .dport = 3197,
	  .d = "2001:db8:cc::1", DROP, .why = EDPG_R_DESTINATION },

	/* ---- service: the per-gateway service set ---- */
	{ "B udp/123 without the ntp service", GW_B, Q(100), UDP, .s = "10.0.0.42",
	  .d = "192.0.2.123", DROP, .why = EDPG_R_SERVICE },
	{ "B tcp/3197 without the edp service", GW_B, Q(100), .dport = 3197, .s = "10.0.0.42",
	  DROP, .why = EDPG_R_SERVICE },
	{ "A tcp/443, a service no gateway has", GW_A, .dport = 443, DROP, .why = EDPG_R_SERVICE },
	{ "C tcp/3199 without edp-tls", GW_C, .s = "10.0.0.12", DROP, .why = EDPG_R_SERVICE },
	{ "C udp/123 allowed in the last slot", GW_C, UDP, .s = "10.0.0.12", .d = "192.0.2.123",
	  PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },

	/* ---- port ---- */
	{ "v4 tcp/80", GW_A, .dport = 80, DROP, .why = EDPG_R_PORT },
	{ "v4 udp/3199 (protocol matters)", GW_A, UDP, .dport = 3199, DROP, .why = EDPG_R_PORT },
	{ "v4 tcp/123 (protocol matters)", GW_A, .dport = 123, DROP, .why = EDPG_R_PORT },
	{ "v4 tcp/65535", GW_A, .dport = 65535, DROP, .why = EDPG_R_PORT },
	{ "v6 udp/53", GW_A, V6, UDP, .dport = 53, DROP, .why = EDPG_R_PORT },
	{ "port entry holding an out-of-range service id", GW_A, .dport = 9999, DROP,
	  .why = EDPG_R_PORT },
	{ "slotless gateway dropped (no stats)", GW_S, .dport = 80, DROP, .why = EDPG_R_PORT },

	/* ---- protocol ---- */
	{ "v4 icmp echo", GW_A, .l4 = PKT_IP_ICMP, .icmp_type = 8, DROP, .why = EDPG_R_PROTOCOL },
	{ "v4 icmp type 135 is not nd", GW_A, .l4 = PKT_IP_ICMP, .icmp_type = 135, DROP,
	  .why = EDPG_R_PROTOCOL },
	{ "v4 gre", GW_A, .l4 = 47, .nol4 = 1, .payload = 8, DROP, .why = EDPG_R_PROTOCOL },
	{ "v6 icmpv6 echo (128) is not nd", GW_A, ICMP6(128), DROP, .why = EDPG_R_PROTOCOL },
	{ "v6 icmpv6 132 is not nd", GW_A, ICMP6(132), DROP, .why = EDPG_R_PROTOCOL },
	{ "v6 icmpv6 138 is not nd", GW_A, ICMP6(138), DROP, .why = EDPG_R_PROTOCOL },
	{ "v6 no next header", GW_A, V6, .l4 = PKT_IP_NONE, .nol4 = 1, DROP,
	  .why = EDPG_R_PROTOCOL },

	/* ---- nd: before the MAC check, so from anyone ---- */
	{ "nd router solicitation 133", UNK, ICMP6(133), .s = "fe80::99", .d = "ff02::2", PASS,
	  .why = EDPG_R_ND },
	{ "nd router advertisement 134", UNK, ICMP6(134), PASS, .why = EDPG_R_ND },
	{ "nd neighbour solicitation 135", UNK, ICMP6(135), .s = "::", PASS, .why = EDPG_R_ND },
	{ "nd neighbour advertisement 136", GW_A, ICMP6(136), PASS, .why = EDPG_R_ND },
	{ "nd redirect 137", UNK, ICMP6(137), PASS, .why = EDPG_R_ND },
	{ "nd behind a vlan tag", UNK, Q(5), ICMP6(135), PASS, .why = EDPG_R_ND },
	{ "nd behind hop-by-hop", UNK, ICMP6(135), .n_ext = 1, .ext = { PKT_IP_HOPOPTS }, PASS,
	  .why = EDPG_R_ND },
	{ "nd from a spoofing bound gateway", GW_B, ICMP6(135), .s = "2001:db8:100::66", PASS,
	  .why = EDPG_R_ND },
	{ "icmpv6 echo from an unknown mac", UNK, ICMP6(128), DROP, .why = EDPG_R_UNKNOWN_MAC },
	{ "nd type in a non-first fragment", GW_A, ICMP6(135), .n_ext = 1,
	  .ext = { PKT_IP_FRAGMENT }, .frag = 2, DROP, .why = EDPG_R_FRAGMENT },

	/* ---- arp and non_ip ---- */
	{ "arp", UNK, .l3 = L3_ARP, PASS, .why = EDPG_R_ARP },
	{ "arp from a gateway on the wrong vlan", GW_B, .l3 = L3_ARP, Q(7), PASS, .why = EDPG_R_ARP },
	{ "arp behind two tags", GW_A, .l3 = L3_ARP, QQ(1, 2), PASS, .why = EDPG_R_ARP },
	{ "arp, Ethernet header only (EtherType is all that is judged)", UNK, .l3 = L3_ARP,
	  .nol4 = 1, PASS, .why = EDPG_R_ARP },
	{ "lldp dropped", GW_A, .l3 = L3_RAW, .ethertype = 0x88cc, .payload = 46, DROP,
	  .why = EDPG_R_NON_IP },
	{ "lldp, Ethernet header only (not truncated)", GW_A, .l3 = L3_RAW, .ethertype = 0x88cc,
	  DROP, .why = EDPG_R_NON_IP },
	{ "lldp passed with non_ip pass", UNK, .l3 = L3_RAW, .ethertype = 0x88cc, .payload = 46,
	  .flags = EDPG_F_NON_IP_PASS, PASS, .why = EDPG_R_NON_IP },
	{ "802.3 length field behind a tag", GW_A, Q(9), .l3 = L3_RAW, .ethertype = 0x0040,
	  .payload = 64, DROP, .why = EDPG_R_NON_IP },

	/* ---- unknown_mac ---- */
	{ "v4 from an unknown mac", UNK, DROP, .why = EDPG_R_UNKNOWN_MAC },
	{ "v6 from an unknown mac", UNK, V6, DROP, .why = EDPG_R_UNKNOWN_MAC },
	{ "unknown mac passed with unknown_mac pass", UNK, .flags = EDPG_F_UNKNOWN_MAC_PASS, PASS,
	  .why = EDPG_R_UNKNOWN_MAC },
	{ "unknown mac icmp passed with unknown_mac pass", UNK, .l4 = PKT_IP_ICMP,
	  .flags = EDPG_F_UNKNOWN_MAC_PASS, PASS, .why = EDPG_R_UNKNOWN_MAC },
	{ "non-first fragment from an unknown mac", UNK, .frag = 100, DROP,
	  .why = EDPG_R_UNKNOWN_MAC },

	/* ---- binding ---- */
	{ "B on its vlan and address", GW_B, Q(100), .s = "10.0.0.42", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "B untagged", GW_B, .s = "10.0.0.42", DROP, .why = EDPG_R_BINDING },
	{ "B on vlan 101", GW_B, Q(101), .s = "10.0.0.42", DROP, .why = EDPG_R_BINDING },
	{ "B double tag, outer 100", GW_B, QQ(100, 7), .s = "10.0.0.42", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "B double tag, inner 100 (outer id binds)", GW_B, QQ(7, 100), .s = "10.0.0.42", DROP,
	  .why = EDPG_R_BINDING },
	{ "B 802.1Q+802.1Q, outer 100", GW_B, .ntags = 2, .vid = { 100, 3 }, .s = "10.0.0.42",
	  PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "B spoofed v4 source", GW_B, Q(100), .s = "10.0.0.43", DROP, .why = EDPG_R_BINDING },
	{ "B v4 source 0.0.0.0 is exempt", GW_B, Q(100), .s = "0.0.0.0", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "B dhcp discover reaches the port check", GW_B, Q(100), UDP, .s = "0.0.0.0",
	  .d = "255.255.255.255", .dport = 67, DROP, .why = EDPG_R_PORT },
	{ "B v6 bound source", GW_B, Q(100), V6, .s = "2001:db8:100::42", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "B spoofed v6 source", GW_B, Q(100), V6, .s = "2001:db8:100::43", DROP,
	  .why = EDPG_R_BINDING },
	{ "B spoofed v6 source, last word", GW_B, Q(100), V6, .s = "2001:db8:100::1:42", DROP,
	  .why = EDPG_R_BINDING },
	{ "B v6 source :: is exempt", GW_B, Q(100), V6, .s = "::", PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "B v6 source fe80::1 is exempt", GW_B, Q(100), V6, .s = "fe80::1", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "B v6 source febf:ffff::1 is exempt (end of fe80::/10)", GW_B, Q(100), V6,
	  .s = "febf:ffff::1", PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "B v6 source fec0::1 is not link-local", GW_B, Q(100), V6, .s = "fec0::1", DROP,
	  .why = EDPG_R_BINDING },
	{ "B v6 source ::1 is not exempt", GW_B, Q(100), V6, .s = "::1", DROP,
	  .why = EDPG_R_BINDING },
	{ "B exempt source on the wrong vlan", GW_B, Q(5), .s = "0.0.0.0", DROP,
	  .why = EDPG_R_BINDING },
	{ "binding before fragment", GW_B, Q(100), .s = "10.9.9.9", .frag = 1, DROP,
	  .why = EDPG_R_BINDING },
	{ "binding before protocol", GW_B, Q(100), .s = "10.9.9.9", .l4 = PKT_IP_ICMP, DROP,
	  .why = EDPG_R_BINDING },
	{ "C bound v4 only: any v6 source", GW_C, V6, UDP, .s = "2001:db8:77::1",
	  .d = "2001:db8:2::123", PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D6_NTP },
	{ "C not vlan-bound: any tag", GW_C, Q(55), UDP, .s = "10.0.0.12", .d = "192.0.2.123",
	  PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },
	{ "C spoofed v4 source", GW_C, UDP, .s = "10.0.0.13", .d = "192.0.2.123", DROP,
	  .why = EDPG_R_BINDING },

	/* ---- fragments ---- */
	{ "v4 non-first fragment", GW_A, UDP, .frag = 1, DROP, .why = EDPG_R_FRAGMENT },
	{ "v4 last fragment at the largest offset", GW_A, .frag = 0x1fff, DROP,
	  .why = EDPG_R_FRAGMENT },
	{ "v4 non-first fragment with MF", GW_A, .frag = 0x2000 | 185, DROP,
	  .why = EDPG_R_FRAGMENT },
	{ "v4 non-first fragment without an L4 header", GW_A, .frag = 3, .nol4 = 1, DROP,
	  .why = EDPG_R_FRAGMENT },
	{ "v4 first fragment judged on L4: allowed", GW_A, .frag = 0x2000, .payload = 64, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "v4 first fragment judged on L4: port", GW_A, .frag = 0x2000, .dport = 80, DROP,
	  .why = EDPG_R_PORT },
	{ "v4 DF is not a fragment", GW_A, .frag = 0x4000, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "v6 non-first fragment", GW_A, V6, .n_ext = 1, .ext = { PKT_IP_FRAGMENT }, .frag = 1,
	  DROP, .why = EDPG_R_FRAGMENT },
	{ "v6 last fragment at the largest offset", GW_A, V6, .n_ext = 1,
	  .ext = { PKT_IP_FRAGMENT }, .frag = 8191, UDP, DROP, .why = EDPG_R_FRAGMENT },
	{ "v6 non-first fragment without an L4 header", GW_A, V6, .n_ext = 1,
	  .ext = { PKT_IP_FRAGMENT }, .frag = 9, .more = 1, .nol4 = 1, DROP,
	  .why = EDPG_R_FRAGMENT },
	{ "v6 first fragment judged on L4: allowed", GW_A, V6, .n_ext = 1,
	  .ext = { PKT_IP_FRAGMENT }, .more = 1, .payload = 64, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 first fragment judged on L4: destination", GW_A, V6, .n_ext = 1,
	  .ext = { PKT_IP_FRAGMENT }, .more = 1, .d = "2001:db8:dead::1", DROP,
	  .why = EDPG_R_DESTINATION },

	/* ---- vlan shapes ---- */
	{ "one 802.1Q tag", GW_A, Q(10), PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "one 802.1ad tag", GW_A, .ntags = 1, .tpid = { PKT_ETH_P_8021AD }, .vid = { 10 }, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "802.1ad + 802.1Q", GW_A, QQ(10, 20), PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "802.1ad + 802.1Q, v6 udp", GW_A, QQ(10, 20), V6, UDP, .d = "2001:db8:2::123", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D6_NTP },
	{ "three tags", GW_A, .ntags = 3, .tpid = { PKT_ETH_P_8021AD, PKT_ETH_P_8021Q,
	  PKT_ETH_P_8021Q }, .vid = { 1, 2, 3 }, DROP, .why = EDPG_R_MALFORMED },
	{ "three tags are not non_ip even with non_ip pass", UNK, .ntags = 3, .vid = { 1, 2, 3 },
	  .l3 = L3_RAW, .ethertype = 0x88cc, .payload = 46, .flags = EDPG_F_NON_IP_PASS, DROP,
	  .why = EDPG_R_MALFORMED },

	/* ---- IPv4 options ---- */
	{ "v4 ihl 6", GW_A, .opt_words = 1, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v4 ihl 10", GW_A, .opt_words = 5, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v4 ihl 15 udp", GW_A, .opt_words = 10, UDP, .d = "192.0.2.123", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },
	{ "v4 ihl 15, port read after the options", GW_A, .opt_words = 10, .dport = 80, DROP,
	  .why = EDPG_R_PORT },

	/* ---- IPv6 extension headers ---- */
	{ "v6 hop-by-hop", GW_A, V6, .n_ext = 1, .ext = { PKT_IP_HOPOPTS }, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 hop-by-hop, 24 bytes", GW_A, V6, .n_ext = 1, .ext = { PKT_IP_HOPOPTS },
	  .ext_units = 2, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 routing", GW_A, V6, .n_ext = 1, .ext = { PKT_IP_ROUTING }, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 destination options", GW_A, V6, UDP, .d = "2001:db8:2::123", .n_ext = 1,
	  .ext = { PKT_IP_DSTOPTS }, PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D6_NTP },
	{ "v6 fragment header, atomic", GW_A, V6, .n_ext = 1, .ext = { PKT_IP_FRAGMENT }, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 chain hop/dst/routing/frag/dst", GW_A, V6, .n_ext = 5,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_FRAGMENT,
		   PKT_IP_DSTOPTS }, .ext_units = 1, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 chain, port read after it", GW_A, V6, .n_ext = 4,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_FRAGMENT },
	  .dport = 80, DROP, .why = EDPG_R_PORT },
	{ "v6 chain of EDPG_MAX_IPV6_EXTHDR headers is walked", GW_A, V6,
	  .n_ext = EDPG_MAX_IPV6_EXTHDR,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_DSTOPTS,
		   PKT_IP_ROUTING, PKT_IP_DSTOPTS }, PASS, .why = EDPG_R_ALLOW,
	  .sid = SVC_EDP_TLS, .touch = D6_DC },
	{ "v6 chain longer than the bound", GW_A, V6, .n_ext = EDPG_MAX_IPV6_EXTHDR + 1,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_DSTOPTS,
		   PKT_IP_ROUTING, PKT_IP_DSTOPTS, PKT_IP_DSTOPTS }, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v6 chain longer than the bound from an unknown mac", UNK, V6, .n_ext = 8,
	  .ext = { 0, 60, 60, 60, 60, 60, 60, 60 }, DROP, .why = EDPG_R_MALFORMED },

	/* ---- malformed headers ---- */
	{ "v4 ihl 4", GW_A, .mut = M_IHL, .mut_val = 4, DROP, .why = EDPG_R_MALFORMED },
	{ "v4 ihl 0", GW_A, .mut = M_IHL, .mut_val = 0, DROP, .why = EDPG_R_MALFORMED },
	{ "v4 ihl 15, tot_len shorter than the header", GW_A, .mut = M_IHL, .mut_val = 15,
	  DROP, .why = EDPG_R_MALFORMED },
	{ "v4 version 6 under the IPv4 EtherType", GW_A, .mut = M_VER, .mut_val = 6, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v6 version 4 under the IPv6 EtherType", GW_A, V6, .mut = M_VER, .mut_val = 4, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v4 tot_len 19 < header", GW_A, .mut = M_TOTLEN_ABS, .mut_val = 19, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v4 tot_len 0", GW_A, .mut = M_TOTLEN_ABS, .mut_val = 0, DROP, .why = EDPG_R_MALFORMED },
	{ "v4 ihl 6, tot_len 20 < header", GW_A, .opt_words = 1, .mut = M_TOTLEN_ABS,
	  .mut_val = 20, DROP, .why = EDPG_R_MALFORMED },
	{ "v4 tot_len one past the frame", GW_A, .mut = M_TOTLEN_DELTA, .mut_val = 1, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v4 tot_len 65535", GW_A, .mut = M_TOTLEN_ABS, .mut_val = 65535, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "v4 tot_len shorter than the frame (padding) is fine", GW_A, .payload = 10,
	  .mut = M_TOTLEN_DELTA, .mut_val = -10, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v6 payload_len one past the frame", GW_A, V6, .mut = M_PAYLEN_DELTA, .mut_val = 1,
	  DROP, .why = EDPG_R_MALFORMED },
	{ "v6 payload_len 65535", GW_A, V6, .mut = M_PAYLEN_ABS, .mut_val = 65535, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "tcp doff 4", GW_A, .mut = M_DOFF, .mut_val = 4, DROP, .why = EDPG_R_MALFORMED },
	{ "tcp doff 0", GW_A, .mut = M_DOFF, .mut_val = 0, DROP, .why = EDPG_R_MALFORMED },
	{ "tcp doff 4 from an unknown mac", UNK, V6, .mut = M_DOFF, .mut_val = 4, DROP,
	  .why = EDPG_R_MALFORMED },
	{ "tcp doff 6 with its option word", GW_A, .payload = 4, .mut = M_DOFF, .mut_val = 6,
	  PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_DC },
	{ "icmpv6 without its 4-byte header", UNK, ICMP6(135), .mut = M_CUT_CONSISTENT,
	  .mut_val = 5, DROP, .why = EDPG_R_MALFORMED },
	/*
	 * Strict: a header must lie inside what the headers before it
	 * announce, not merely inside the frame (Ethernet padding is not
	 * part of the datagram).  See the report.
	 */
	{ "strict: udp header beyond v4 tot_len, in padding", GW_A, UDP, .d = "192.0.2.123",
	  .mut = M_TOTLEN_ABS, .mut_val = 20, DROP, .why = EDPG_R_MALFORMED },
	{ "strict: tcp header beyond v6 payload_len, in padding", GW_A, V6,
	  .mut = M_PAYLEN_ABS, .mut_val = 0, DROP, .why = EDPG_R_MALFORMED },
	{ "strict: tcp doff 15 with a 20-byte frame tail", GW_A, .mut = M_DOFF, .mut_val = 15,
	  DROP, .why = EDPG_R_MALFORMED },
	{ "strict: v6 hop-by-hop cut short, no next header", GW_A, V6, .n_ext = 1,
	  .ext = { PKT_IP_HOPOPTS }, .ext_units = 1, .l4 = PKT_IP_NONE, .nol4 = 1,
	  .mut = M_CUT_CONSISTENT, .mut_val = 8, DROP, .why = EDPG_R_MALFORMED },

	/* ---- generations: only keys of edpg_ctl[0].gen are live ---- */
	{ "gen 0: address only in gen 1", GW_A, .d = "198.51.100.77", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "gen 1: address only in gen 1", GW_A, .d = "198.51.100.77", .gen = 1, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS, .touch = D4_NEW },
	{ "gen 1: gen 0 exact address ignored", GW_A, .gen = 1, DROP, .why = EDPG_R_DESTINATION },
	{ "gen 1: gen 0 cidr ignored", GW_A, .d = "203.0.113.5", .gen = 1, DROP,
	  .why = EDPG_R_DESTINATION },
	{ "gen 1: cidr only in gen 1", GW_A, .d = "100.127.255.254", .gen = 1, PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS },
	{ "gen 0: cidr only in gen 1", GW_A, .d = "100.127.255.254", DROP,
	  .why = EDPG_R_DESTINATION },
	{ "gen 1: A lost the edp service", GW_A, .dport = 3197, .d = "198.51.100.77", .gen = 1,
	  DROP, .why = EDPG_R_SERVICE },
	{ "gen 1: no ntp port", GW_A, UDP, .d = "192.0.2.123", .gen = 1, DROP, .why = EDPG_R_PORT },
	{ "gen 1: B not enrolled, unknown macs pass", GW_B, Q(100), .s = "10.0.0.42", .gen = 1,
	  PASS, .why = EDPG_R_UNKNOWN_MAC },
	{ "gen 1: C keeps its slot and binding", GW_C, .s = "10.0.0.13", .gen = 1, DROP,
	  .why = EDPG_R_BINDING },
	{ "gen 1: no v6 exact addresses", GW_A, V6, .gen = 1, DROP, .why = EDPG_R_DESTINATION },
};

/* ------------------------------------------------------------------ */
/* Plumbing                                                            */
/* ------------------------------------------------------------------ */

static struct edpgate *skel;
static int nr_cpus;
static int prog_fd;

static uint64_t mono_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void must_update(struct bpf_map *m, const void *k, const void *v, const char *what)
{
	int err = bpf_map_update_elem(map_fd(m), k, v, BPF_ANY);

	if (err)
		fail_msg("filling %s: %s", what, strerror(-err));
}

static void set_ctl(uint32_t gen)
{
	struct edpg_ctl c = { .gen = gen };
	uint32_t zero = 0;

	must_update(skel->maps.edpg_ctl, &zero, &c, "edpg_ctl");
}

static void set_flags(uint32_t gen, uint32_t flags)
{
	struct edpg_config c = { .flags = flags };

	must_update(skel->maps.edpg_config, &gen, &c, "edpg_config");
}

union dst_key {
	struct edpg_dst4_key k4;
	struct edpg_dst6_key k6;
};

static void dst_key(int i, union dst_key *k, struct bpf_map **m)
{
	memset(k, 0, sizeof(*k));
	if (strchr(dsts[i].addr, ':')) {
		ADDR6(dsts[i].addr, k->k6.addr);
		k->k6.gen = dsts[i].gen;
		*m = skel->maps.edpg_dst6;
	} else {
		ADDR4(dsts[i].addr, k->k4.addr);
		k->k4.gen = dsts[i].gen;
		*m = skel->maps.edpg_dst4;
	}
}

static void fill_policy(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gws); i++) {
		struct edpg_gw_key k = { .gen = gws[i].gen };
		struct edpg_gw v = {
			.slot = gws[i].slot,
			.services = gws[i].services,
			.flags = gws[i].flags,
			.vlan = gws[i].vlan,
		};

		memcpy(k.mac, macs[gws[i].mac], 6);
		if (gws[i].ip4)
			ADDR4(gws[i].ip4, v.ip4);
		if (gws[i].ip6)
			ADDR6(gws[i].ip6, v.ip6);
		must_update(skel->maps.edpg_gateways, &k, &v, "edpg_gateways");
	}
	for (i = 0; i < ARRAY_SIZE(ports); i++) {
		uint32_t k = edpg_port_index(ports[i].gen, ports[i].proto, ports[i].port);

		must_update(skel->maps.edpg_ports, &k, &ports[i].value, "edpg_ports");
	}
	for (i = 0; i < ARRAY_SIZE(svcs); i++) {
		uint32_t k = svcs[i].gen * EDPG_MAX_SERVICES + svcs[i].sid;
		struct edpg_svc v = { .groups = svcs[i].groups };

		must_update(skel->maps.edpg_services, &k, &v, "edpg_services");
	}
	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v = { .groups = dsts[i].groups };
		struct bpf_map *m;

		dst_key(i, &k, &m);
		must_update(m, &k, &v, "edpg_dst");
	}
	for (i = 0; i < ARRAY_SIZE(cidrs); i++) {
		struct edpg_cidr v = { .groups = cidrs[i].groups };

		if (strchr(cidrs[i].addr, ':')) {
			struct edpg_cidr6_key k = { .prefixlen = 8 + cidrs[i].plen,
						    .gen = cidrs[i].gen };

			ADDR6(cidrs[i].addr, k.addr);
			must_update(skel->maps.edpg_cidr6, &k, &v, "edpg_cidr6");
		} else {
			struct edpg_cidr4_key k = { .prefixlen = 8 + cidrs[i].plen,
						    .gen = cidrs[i].gen };

			ADDR4(cidrs[i].addr, k.addr);
			must_update(skel->maps.edpg_cidr4, &k, &v, "edpg_cidr4");
		}
	}
	for (i = 0; i < EDPG_NR_GENS; i++)
		set_flags(i, gen_flags[i]);
	set_ctl(0);
}

/* Counters summed over all CPUs (last_seen: the latest of them). */
struct snap {
	struct edpg_global g[EDPG_R_MAX];
	struct edpg_gw_stats gw[NR_WATCHED];
	uint64_t last_used[NR_DST];
};

static void read_percpu(struct bpf_map *m, uint32_t key, void *buf)
{
	int err = bpf_map_lookup_elem(map_fd(m), &key, buf);

	if (err)
		fail_msg("reading per-CPU %s[%u]: %s", bpf_map__name(m), key, strerror(-err));
}

static void take_snap(struct snap *s)
{
	size_t gsz = ROUND8(sizeof(struct edpg_global));
	size_t ssz = ROUND8(sizeof(struct edpg_gw_stats));
	uint8_t *buf = calloc(nr_cpus, ssz > gsz ? ssz : gsz);
	unsigned int i, r;
	int c;

	assert_non_null(buf);
	memset(s, 0, sizeof(*s));
	for (r = 0; r < EDPG_R_MAX; r++) {
		read_percpu(skel->maps.edpg_global, r, buf);
		for (c = 0; c < nr_cpus; c++) {
			const struct edpg_global *g = (const void *)(buf + c * gsz);

			s->g[r].pass.packets += g->pass.packets;
			s->g[r].pass.bytes += g->pass.bytes;
			s->g[r].drop.packets += g->drop.packets;
			s->g[r].drop.bytes += g->drop.bytes;
		}
	}
	for (i = 0; i < NR_WATCHED; i++) {
		read_percpu(skel->maps.edpg_gw_stats, watched_slots[i], buf);
		for (c = 0; c < nr_cpus; c++) {
			const struct edpg_gw_stats *st = (const void *)(buf + c * ssz);

			if (st->last_seen > s->gw[i].last_seen)
				s->gw[i].last_seen = st->last_seen;
			for (r = 0; r < EDPG_R_MAX; r++)
				s->gw[i].drops[r] += st->drops[r];
			for (r = 0; r < EDPG_MAX_SERVICES; r++) {
				s->gw[i].svc[r].packets += st->svc[r].packets;
				s->gw[i].svc[r].bytes += st->svc[r].bytes;
			}
		}
	}
	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v;
		struct bpf_map *m;

		dst_key(i, &k, &m);
		if (bpf_map_lookup_elem(map_fd(m), &k, &v))
			fail_msg("exact destination %s vanished", dsts[i].addr);
		s->last_used[i] = v.last_used;
	}
	free(buf);
}

static void clear_last_used(void)
{
	unsigned int i;

	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v = { .groups = dsts[i].groups };
		struct bpf_map *m;

		dst_key(i, &k, &m);
		must_update(m, &k, &v, "edpg_dst");
	}
}

/* Run the program once on a frame: 0 and the XDP return code, or -errno. */
static int run_prog(const void *frame, size_t len, uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = frame,
		    .data_size_in = len,
		    .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	*retval = opts.retval;
	return 0;
}

/* The gateway slot the program will find for a MAC in a generation. */
static int watched_index(int mac, int gen)
{
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(gws); i++) {
		if (gws[i].mac != mac || gws[i].gen != gen)
			continue;
		for (j = 0; j < NR_WATCHED; j++)
			if (watched_slots[j] == gws[i].slot)
				return j;
	}
	return -1;
}

static const char *const reason_names[EDPG_R_MAX] = {
	"allow", "arp", "nd", "non_ip", "unknown_mac", "malformed", "binding",
	"fragment", "protocol", "port", "service", "destination",
};

static const char *xdp_name(uint32_t rc)
{
	switch (rc) {
	case XDP_ABORTED: return "XDP_ABORTED";
	case XDP_DROP: return "XDP_DROP";
	case XDP_PASS: return "XDP_PASS";
	case XDP_TX: return "XDP_TX";
	case XDP_REDIRECT: return "XDP_REDIRECT";
	}
	return "XDP_?";
}

/*
 * Which global reason/verdict moved between two snapshots: the first one
 * found, for the failure message (so a wrong reason reads as "got port").
 */
static void describe_moved(const struct snap *a, const struct snap *b, char *out, size_t n)
{
	unsigned int r;

	snprintf(out, n, "no global counter moved");
	for (r = 0; r < EDPG_R_MAX; r++) {
		if (b->g[r].pass.packets != a->g[r].pass.packets) {
			snprintf(out, n, "got pass %s", reason_names[r]);
			return;
		}
		if (b->g[r].drop.packets != a->g[r].drop.packets) {
			snprintf(out, n, "got drop %s", reason_names[r]);
			return;
		}
	}
}

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			char _m[256];                                          \
			snprintf(_m, sizeof(_m), __VA_ARGS__);                 \
			fail_msg("[%s] %s", name, _m);                         \
		}                                                              \
	} while (0)

/*
 * Run one frame and assert the verdict and every watched counter.
 * gw: the watched_slots index of the gateway whose stats must move (-1:
 * none may).  touch: exact destination whose last_used must be set.
 */
static void expect(const char *name, const uint8_t *frame, size_t len, int v, int why,
		   int gw, int sid, int touch)
{
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *e;
	int gw_stage = why == EDPG_R_ALLOW || why >= EDPG_R_BINDING;
	uint32_t want = v == EDPG_V_PASS ? XDP_PASS : XDP_DROP, rc = 0;
	uint64_t t0, t1;
	unsigned int i, r;
	char moved[64];
	int err;

	assert_non_null(a);
	assert_non_null(b);
	clear_last_used();
	take_snap(a);
	t0 = mono_coarse_ns();
	err = run_prog(frame, len, &rc);
	t1 = mono_coarse_ns();
	CHECK(err == 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	take_snap(b);
	describe_moved(a, b, moved, sizeof(moved));
	CHECK(rc == want, "verdict %s, want %s %s (%s)", xdp_name(rc),
	      v == EDPG_V_PASS ? "pass" : "drop", reason_names[why], moved);

	if (v == EDPG_V_PASS)
		CHECK(b->g[why].pass.packets == a->g[why].pass.packets + 1,
		      "want pass %s (%s)", reason_names[why], moved);
	else
		CHECK(b->g[why].drop.packets == a->g[why].drop.packets + 1,
		      "want drop %s (%s)", reason_names[why], moved);

	/* Expected = before + exactly this packet's effect. */
	e = a;
	if (v == EDPG_V_PASS) {
		e->g[why].pass.packets++;
		e->g[why].pass.bytes += len;
	} else {
		e->g[why].drop.packets++;
		e->g[why].drop.bytes += len;
	}
	if (gw >= 0 && gw_stage) {
		if (why == EDPG_R_ALLOW) {
			e->gw[gw].svc[sid].packets++;
			e->gw[gw].svc[sid].bytes += len;
		} else {
			e->gw[gw].drops[why]++;
		}
	}
	for (r = 0; r < EDPG_R_MAX; r++) {
		CHECK(!memcmp(&e->g[r], &b->g[r], sizeof(e->g[r])),
		      "global %s: pass %llu/%llu B drop %llu/%llu B, want pass %llu/%llu B drop %llu/%llu B (want %s %s)",
		      reason_names[r],
		      (unsigned long long)b->g[r].pass.packets, (unsigned long long)b->g[r].pass.bytes,
		      (unsigned long long)b->g[r].drop.packets, (unsigned long long)b->g[r].drop.bytes,
		      (unsigned long long)e->g[r].pass.packets, (unsigned long long)e->g[r].pass.bytes,
		      (unsigned long long)e->g[r].drop.packets, (unsigned long long)e->g[r].drop.bytes,
		      v == EDPG_V_PASS ? "pass" : "drop", reason_names[why]);
	}
	for (i = 0; i < NR_WATCHED; i++) {
		int seen = (int)i == gw && gw_stage;

		for (r = 0; r < EDPG_R_MAX; r++)
			CHECK(e->gw[i].drops[r] == b->gw[i].drops[r],
			      "slot %u drops[%s] = %llu, want %llu", watched_slots[i],
			      reason_names[r], (unsigned long long)b->gw[i].drops[r],
			      (unsigned long long)e->gw[i].drops[r]);
		for (r = 0; r < EDPG_MAX_SERVICES; r++)
			CHECK(!memcmp(&e->gw[i].svc[r], &b->gw[i].svc[r], sizeof(b->gw[i].svc[r])),
			      "slot %u svc[%u] = %llu pkts/%llu B, want %llu/%llu",
			      watched_slots[i], r, (unsigned long long)b->gw[i].svc[r].packets,
			      (unsigned long long)b->gw[i].svc[r].bytes,
			      (unsigned long long)e->gw[i].svc[r].packets,
			      (unsigned long long)e->gw[i].svc[r].bytes);
		if (seen)
			CHECK(b->gw[i].last_seen >= t0 && b->gw[i].last_seen <= t1,
			      "slot %u last_seen %llu not within the run [%llu, %llu]",
			      watched_slots[i], (unsigned long long)b->gw[i].last_seen,
			      (unsigned long long)t0, (unsigned long long)t1);
		else
			CHECK(b->gw[i].last_seen == a->gw[i].last_seen,
			      "slot %u last_seen moved for a frame that is not its", watched_slots[i]);
	}
	for (i = 1; i < NR_DST; i++) {
		if ((int)i == touch)
			CHECK(b->last_used[i] >= t0 && b->last_used[i] <= t1,
			      "last_used of %s = %llu, not within the run", dsts[i].addr,
			      (unsigned long long)b->last_used[i]);
		else
			CHECK(b->last_used[i] == 0, "last_used of %s set (%llu), want untouched",
			      dsts[i].addr, (unsigned long long)b->last_used[i]);
	}
	free(a);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Building a row's frame                                              */
/* ------------------------------------------------------------------ */

static uint16_t l3_ethertype(const struct row *r)
{
	switch (r->l3) {
	case L3_V4: return PKT_ETH_P_IP;
	case L3_V6: return PKT_ETH_P_IPV6;
	case L3_ARP: return PKT_ETH_P_ARP;
	}
	return r->ethertype;
}

static void build(const struct row *r, struct pkt *p)
{
	uint8_t l4 = r->l4 ? r->l4 : PKT_IP_TCP;
	uint16_t et = l3_ethertype(r);
	uint8_t s[16], d[16];
	unsigned int i;

	pkt_init(p);
	pkt_eth(p, router_mac, macs[r->src],
		r->ntags ? (r->tpid[0] ? r->tpid[0] : PKT_ETH_P_8021Q) : et);
	for (i = 0; i < r->ntags; i++) {
		uint16_t next = et;

		if (i + 1 < r->ntags)
			next = r->tpid[i + 1] ? r->tpid[i + 1] : PKT_ETH_P_8021Q;
		pkt_vlan(p, r->vid[i], next);
	}

	switch (r->l3) {
	case L3_V4:
		ADDR4(r->s ? r->s : "10.0.0.10", s);
		ADDR4(r->d ? r->d : "198.51.100.10", d);
		pkt_ip4(p, s, d, l4, r->opt_words, r->frag);
		break;
	case L3_V6:
		ADDR6(r->s ? r->s : "2001:db8:100::10", s);
		ADDR6(r->d ? r->d : "2001:db8:1::10", d);
		pkt_ip6(p, s, d, r->n_ext ? r->ext[0] : l4);
		for (i = 0; i < r->n_ext; i++) {
			uint8_t next = i + 1 < r->n_ext ? r->ext[i + 1] : l4;

			if (r->ext[i] == PKT_IP_FRAGMENT)
				pkt_ip6_frag(p, r->frag, r->more, next);
			else
				pkt_ip6_ext(p, r->ext[i], r->ext_units, next);
		}
		break;
	case L3_ARP:
		if (!r->nol4) {
			ADDR4("10.0.0.10", s);
			ADDR4("10.0.0.1", d);
			pkt_arp(p, macs[r->src], s, d);
		}
		break;
	}

	if ((r->l3 == L3_V4 || r->l3 == L3_V6) && !r->nol4) {
		switch (l4) {
		case PKT_IP_TCP:
			pkt_tcp(p, 40000, r->dport ? r->dport : 3199);
			break;
		case PKT_IP_UDP:
			pkt_udp(p, 40000, r->dport ? r->dport : 123);
			break;
		default:
			pkt_icmp(p, r->icmp_type, 0);
			break;
		}
	}
	pkt_bytes(p, r->payload, 0x5a);
	assert_int_equal(pkt_finish(p), 0);

	switch (r->mut) {
	case M_IHL:
		p->data[p->ip4_off] = (p->data[p->ip4_off] & 0xf0) | r->mut_val;
		break;
	case M_VER: {
		int off = p->ip4_off >= 0 ? p->ip4_off : p->ip6_off;

		p->data[off] = (p->data[off] & 0x0f) | r->mut_val << 4;
		break;
	}
	case M_TOTLEN_ABS:
		((struct pkt_ip4 *)(p->data + p->ip4_off))->tot_len = htons(r->mut_val);
		break;
	case M_TOTLEN_DELTA:
		((struct pkt_ip4 *)(p->data + p->ip4_off))->tot_len =
			htons(p->len - p->ip4_off + r->mut_val);
		break;
	case M_PAYLEN_ABS:
		((struct pkt_ip6 *)(p->data + p->ip6_off))->payload_len = htons(r->mut_val);
		break;
	case M_PAYLEN_DELTA:
		((struct pkt_ip6 *)(p->data + p->ip6_off))->payload_len =
			htons(p->len - p->ip6_off - sizeof(struct pkt_ip6) + r->mut_val);
		break;
	case M_DOFF:
		((struct pkt_tcp *)(p->data + p->l4_off))->doff_res = r->mut_val << 4;
		break;
	case M_CUT_CONSISTENT:
		p->len -= r->mut_val;
		pkt_set_ip_len(p, p->len);
		break;
	}
	if (r->pad_to > p->len)
		pkt_bytes(p, r->pad_to - p->len, 0);
}

static void set_row_context(const struct row *r)
{
	set_ctl(r->gen);
	set_flags(r->gen, gen_flags[r->gen] | r->flags);
}

static void restore_context(const struct row *r)
{
	set_flags(r->gen, gen_flags[r->gen]);
	set_ctl(0);
}

static void test_row(void **state)
{
	const struct row *r = *state;
	struct pkt p;

	build(r, &p);
	set_row_context(r);
	expect(r->name, p.data, p.len, r->v, r->why, watched_index(r->src, r->gen), r->sid,
	       r->touch);
	restore_context(r);
}

/* ------------------------------------------------------------------ */
/* Tests outside the table                                             */
/* ------------------------------------------------------------------ */

/* The kernel refuses XDP test input shorter than an Ethernet header. */
static void test_shorter_than_eth_hlen(void **state)
{
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint8_t frame[14] = { 0 };
	uint32_t rc;
	size_t len;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	take_snap(a);
	for (len = 0; len < sizeof(frame); len++) {
		int err = run_prog(frame, len, &rc);

		if (err != -EINVAL)
			fail_msg("%zu-byte frame: BPF_PROG_TEST_RUN returned %d, want -EINVAL",
				 len, err);
	}
	take_snap(b);
	assert_memory_equal(a->g, b->g, sizeof(a->g));
	free(a);
	free(b);
}

/*
 * Truncation.  The rule tested: a frame whose EtherType chain (directly or
 * behind up to two VLAN tags) announces IPv4 or IPv6 is malformed when it
 * ends before the end of any header the program needs - a VLAN tag, the
 * IP header with its options or extension headers, the TCP (20 bytes) or
 * UDP (8) header, the first 4 bytes of ICMPv6 - or before the end the IP
 * length field announces.  (A frame that ends right after the Ethernet
 * header of any other EtherType is *complete* as far as the program is
 * concerned: see the "Ethernet header only" rows.)
 *
 * Each shape is cut at every length from ETH_HLEN to full - 1 twice:
 * "cut" keeps the IP length fields of the full frame (a frame cut short in
 * transit: the length check catches it), "consistent" rewrites them to the
 * cut (a sender that lies consistently: only the per-header bounds checks
 * catch it).
 */
static const struct row shapes[] = {
	{ "v4 tcp ihl 7", GW_A, .opt_words = 2, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v4 udp 802.1ad+802.1Q", GW_A, QQ(10, 20), UDP, .d = "192.0.2.123", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },
	{ "v6 tcp 802.1Q hop/dst/routing/frag chain", GW_A, Q(3), V6, .n_ext = 4,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_FRAGMENT },
	  .ext_units = 1, .more = 1, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D6_DC },
	{ "v6 udp hop-by-hop 16 bytes", GW_A, V6, UDP, .d = "2001:db8:2::123", .n_ext = 1,
	  .ext = { PKT_IP_HOPOPTS }, .ext_units = 1, PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP,
	  .touch = D6_NTP },
	{ "v6 nd from an unknown mac", UNK, ICMP6(135), PASS, .why = EDPG_R_ND },
	{ "v4 non-first fragment", GW_A, .frag = 5, DROP, .why = EDPG_R_FRAGMENT },
};

/* Shapes whose consistent cuts are all malformed: the L4 header is
 * parsed to its end (ND and non-first fragments are judged on less). */
static int consistent_ok(const struct row *r)
{
	return r->why == EDPG_R_ALLOW;
}

static void test_truncation(void **state)
{
	unsigned int i, frames = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		const struct row *r = &shapes[i];
		struct pkt full, cut;
		char name[160];
		size_t len;

		build(r, &full);
		snprintf(name, sizeof(name), "%s: full %zu bytes", r->name, full.len);
		expect(name, full.data, full.len, r->v, r->why, watched_index(r->src, 0), r->sid,
		       r->touch);
		for (len = 14; len < full.len; len++) {
			snprintf(name, sizeof(name), "%s: cut at %zu of %zu", r->name, len,
				 full.len);
			expect(name, full.data, len, EDPG_V_DROP, EDPG_R_MALFORMED, -1, 0, 0);
			frames++;
			if (!consistent_ok(r))
				continue;
			cut = full;
			cut.len = len;
			pkt_set_ip_len(&cut, len);
			snprintf(name, sizeof(name), "%s: consistent cut at %zu of %zu", r->name,
				 len, full.len);
			expect(name, cut.data, cut.len, EDPG_V_DROP, EDPG_R_MALFORMED, -1, 0, 0);
			frames++;
		}
	}
	print_message("%u truncated frames, all malformed\n", frames);
}

/* Flipping edpg_ctl switches the policy for the very next packet, both
 * ways, without touching any other map. */
static void test_generation_flip(void **state)
{
	static const struct row r = { "flip", GW_A, .d = "198.51.100.77" };
	struct pkt p;
	int slot = watched_index(GW_A, 0);

	(void)state;
	build(&r, &p);
	set_ctl(1);
	expect("flip to gen 1", p.data, p.len, EDPG_V_PASS, EDPG_R_ALLOW, slot, SVC_EDP_TLS,
	       D4_NEW);
	set_ctl(0);
	expect("flip back to gen 0", p.data, p.len, EDPG_V_DROP, EDPG_R_DESTINATION, slot, 0, 0);
	/* Only the low bit selects: a counter-style generation works too. */
	set_ctl(3);
	expect("gen 3 acts as gen 1", p.data, p.len, EDPG_V_PASS, EDPG_R_ALLOW, slot, SVC_EDP_TLS,
	       D4_NEW);
	set_ctl(0);
}

/* Counters accumulate across packets and bytes are the frame length. */
static void test_counters_accumulate(void **state)
{
	static const struct row r = { "acc", GW_A, .payload = 100 };
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	int slot = watched_index(GW_A, 0);
	struct pkt p;
	uint32_t rc;
	int n;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	build(&r, &p);
	take_snap(a);
	for (n = 0; n < 5; n++) {
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_PASS);
	}
	take_snap(b);
	assert_int_equal(b->g[EDPG_R_ALLOW].pass.packets - a->g[EDPG_R_ALLOW].pass.packets, 5);
	assert_int_equal(b->g[EDPG_R_ALLOW].pass.bytes - a->g[EDPG_R_ALLOW].pass.bytes,
			 5 * p.len);
	assert_int_equal(b->gw[slot].svc[SVC_EDP_TLS].packets -
			 a->gw[slot].svc[SVC_EDP_TLS].packets, 5);
	assert_int_equal(b->gw[slot].svc[SVC_EDP_TLS].bytes - a->gw[slot].svc[SVC_EDP_TLS].bytes,
			 5 * p.len);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Troubleshooting records: events, rate limit, pending, dry_run       */
/* ------------------------------------------------------------------ */

/* Per-CPU buckets: every run of these tests must land on one CPU. */
static void pin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void unpin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE && c < nr_cpus; c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct evs {
	int n;
	struct edpg_event last;
	struct edpg_event all[64];
};

static int ev_cb(void *ctx, void *data, size_t size)
{
	struct evs *e = ctx;

	assert_int_equal(size, sizeof(struct edpg_event));
	memcpy(&e->last, data, sizeof(e->last));
	if (e->n < 64)
		memcpy(&e->all[e->n], data, sizeof(e->last));
	e->n++;
	return 0;
}

static void zero_percpu(struct bpf_map *m, uint32_t key, size_t vsz)
{
	void *z = calloc(nr_cpus, ROUND8(vsz));

	assert_non_null(z);
	must_update(m, &key, z, bpf_map__name(m));
	free(z);
}

/* The drop records of @slot in @m (some instance's edpg_gw_diag), summed
 * over CPUs. */
static struct edpg_gw_diag diag_in(struct bpf_map *m, uint32_t slot)
{
	size_t sz = ROUND8(sizeof(struct edpg_gw_diag));
	uint8_t *buf = calloc(nr_cpus, sz);
	struct edpg_gw_diag d = {};

	assert_non_null(buf);
	read_percpu(m, slot, buf);
	for (int c = 0; c < nr_cpus; c++) {
		const struct edpg_gw_diag *x = (const void *)(buf + c * sz);

		d.ev.suppressed += x->ev.suppressed;
		for (int r = 0; r < EDPG_DIAG_NR; r++)
			if (x->last[r].ts > d.last[r].ts)
				d.last[r] = x->last[r];
	}
	free(buf);
	return d;
}

static struct edpg_gw_diag diag_sum(uint32_t slot)
{
	return diag_in(skel->maps.edpg_gw_diag, slot);
}

/*
 * A flood of drops from one gateway yields ev_burst events, then none;
 * the rest are counted as suppressed and the next event after a refill
 * carries that count.  Each event and the drop record name the packet.
 */
static void test_events_rate_limit(void **state)
{
	static const struct row r = { "ev", GW_A, .d = "198.51.100.99", .dport = 3199 };
	struct ring_buffer *rb;
	struct evs ev = {};
	struct edpg_gw_diag d;
	uint8_t want_d[4];
	struct pkt p;
	uint32_t rc;
	int i;

	(void)state;
	pin_cpu();
	rb = ring_buffer__new(bpf_map__fd(skel->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);	/* events of earlier tests */
	ev.n = 0;
	zero_percpu(skel->maps.edpg_gw_diag, 7, sizeof(struct edpg_gw_diag));
	build(&r, &p);
	for (i = 0; i < 30; i++) {
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_DROP);
	}
	ring_buffer__consume(rb);
	/* Burst 10; at most one refill if the runs straddled 100 ms. */
	assert_in_range(ev.n, 10, 11);
	ADDR4("198.51.100.99", want_d);
	assert_memory_equal(ev.last.mac, macs[GW_A], 6);
	assert_int_equal(ev.last.reason, EDPG_R_DESTINATION);
	assert_int_equal(ev.last.slot, 7);
	assert_int_equal(ev.last.dport, 3199);
	assert_int_equal(ev.last.proto, 6);
	assert_int_equal(ev.last.family, 4);
	assert_memory_equal(ev.last.daddr, want_d, 4);
	d = diag_sum(7);
	assert_int_equal(d.ev.suppressed, 30 - ev.n);
	assert_int_equal(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].port, 3199);
	assert_memory_equal(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].addr, want_d, 4);
	assert_true(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].ts != 0);

	/* After a refill the next event reports what was suppressed. */
	usleep(150 * 1000);
	ev.n = 0;
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.last.suppressed, d.ev.suppressed);

	/* Allowed packets never make events. */
	{
		static const struct row ok = { "ok", GW_A, .dport = 3199 };
		struct pkt q;

		build(&ok, &q);
		ev.n = 0;
		assert_int_equal(run_prog(q.data, q.len, &rc), 0);
		assert_int_equal(rc, XDP_PASS);
		ring_buffer__consume(rb);
		assert_int_equal(ev.n, 0);
	}
	ring_buffer__free(rb);
	unpin_cpu();
}

/* The records of @mac in its slot of @m (some instance's edpg_pending),
 * summed over CPUs. */
static struct edpg_pending pending_in(struct bpf_map *m, const uint8_t mac[6], bool *found)
{
	size_t sz = ROUND8(sizeof(struct edpg_pending));
	uint8_t *buf = calloc(nr_cpus, sz);
	uint32_t slot = edpg_pending_slot(mac);
	struct edpg_pending s = {};

	assert_non_null(buf);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(m), &slot, buf), 0);
	*found = false;
	for (int c = 0; c < nr_cpus; c++) {
		const struct edpg_pending *x = (const void *)(buf + c * sz);

		if (!x->packets || memcmp(x->mac, mac, 6))
			continue;
		*found = true;
		s.packets += x->packets;
		if (x->last_seen > s.last_seen) {
			s.last_seen = x->last_seen;
			s.last_port = x->last_port;
			s.last_proto = x->last_proto;
		}
		if (x->first_seen && (!s.first_seen || x->first_seen < s.first_seen))
			s.first_seen = x->first_seen;
	}
	free(buf);
	return s;
}

static struct edpg_pending pending_of(const uint8_t mac[6], bool *found)
{
	return pending_in(skel->maps.edpg_pending, mac, found);
}

static struct edpg_pending pending_sum(int mac, bool *found)
{
	return pending_of(macs[mac], found);
}

/* Unknown MACs trying Device Cloud or NTP ports are remembered; other
 * ports are not; an unknown-MAC event names no slot; a MAC on a slot
 * another one holds takes it over, one on another slot leaves it be. */
static void test_pending_dns(void)
{
	static const struct row dns_u = { "du", UNK, UDP, .dport = 53, .s = "10.0.0.66" };
	static const struct row dns_t = { "dt", UNK, .dport = 53 };
	static const uint8_t pc[6] = { 0x02, 0xed, 0, 0, 1, 0x99 };
	static const uint8_t digi[6] = { 0x00, 0x40, 0x9d, 0, 1, 0x99 };
	static const uint8_t cc[6] = { 0x00, 0x04, 0xf3, 0, 1, 0x99 };
	struct edpg_pending s;
	bool found;
	uint32_t rc;
	struct pkt p;

	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(pc), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(digi), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(cc), sizeof(struct edpg_pending));
	build(&dns_u, &p);
	memcpy(p.data + 6, pc, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	pending_of(pc, &found);
	assert_false(found);
	memcpy(p.data + 6, digi, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	s = pending_of(digi, &found);
	assert_true(found);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.last_port, 53);
	assert_int_equal(s.last_proto, 17);
	build(&dns_t, &p);
	memcpy(p.data + 6, cc, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(cc, &found);
	assert_true(found);
	assert_int_equal(s.last_proto, 6);
}

static void test_pending(void **state)
{
	static const struct row tls = { "p", UNK, .dport = 3199 };
	static const struct row web = { "w", UNK, .dport = 80 };
	static const struct row ntp = { "n", UNK, UDP, .s = "10.0.0.66" };
	uint8_t same[6], other[6];
	struct ring_buffer *rb;
	struct edpg_pending s;
	struct evs ev = {};
	struct pkt p;
	bool found;
	uint32_t rc;
	int i;

	(void)state;
	pin_cpu();
	/* Two more unknown MACs: one on UNK's slot, one on another. */
	memcpy(same, macs[UNK], 6);
	for (i = 1; i < 65536; i++) {
		same[3] = i >> 8;
		same[4] = i;
		if (edpg_pending_slot(same) == edpg_pending_slot(macs[UNK]))
			break;
	}
	assert_int_not_equal(i, 65536);
	memcpy(other, macs[UNK], 6);
	other[5]++;
	assert_int_not_equal(edpg_pending_slot(other), edpg_pending_slot(macs[UNK]));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(macs[UNK]), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(other), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_ev_global, 0, sizeof(struct edpg_ev_bucket));
	rb = ring_buffer__new(bpf_map__fd(skel->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	ev.n = 0;

	build(&web, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	pending_sum(UNK, &found);
	assert_false(found);

	build(&tls, &p);
	for (i = 0; i < 3; i++)
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_sum(UNK, &found);
	assert_true(found);
	assert_int_equal(s.packets, 3);
	assert_int_equal(s.last_port, 3199);
	assert_int_equal(s.last_proto, 6);
	assert_true(s.first_seen && s.first_seen <= s.last_seen);

	build(&ntp, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_sum(UNK, &found);
	assert_int_equal(s.packets, 4);
	assert_int_equal(s.last_port, 123);
	assert_int_equal(s.last_proto, 17);

	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 5);
	assert_int_equal(ev.last.slot, EDPG_EV_NO_SLOT);
	assert_int_equal(ev.last.reason, EDPG_R_UNKNOWN_MAC);
	assert_memory_equal(ev.last.mac, macs[UNK], 6);

	/* Another slot: UNK's record stays. */
	build(&tls, &p);
	memcpy(p.data + 6, other, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(other, &found);
	assert_true(found);
	assert_int_equal(s.packets, 1);
	s = pending_sum(UNK, &found);
	assert_true(found);
	assert_int_equal(s.packets, 4);
	/* The same slot: taken over, counted from one. */
	memcpy(p.data + 6, same, 6);
	for (i = 0; i < 2; i++)
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(same, &found);
	assert_true(found);
	assert_int_equal(s.packets, 2);
	assert_int_equal(s.last_port, 3199);
	pending_sum(UNK, &found);
	assert_false(found);

	/* DNS: pending from a Digi OUI (a Cloud Connector resolves the cloud
	 * name first), over UDP and TCP; never from any other MAC. */
	test_pending_dns();
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	unpin_cpu();
}

/*
 * A dry_run instance sharing the policy maps (what explain and replay
 * load) judges like the live one but writes nothing shared: no last_used
 * in the shared destination maps, and no events, pending or drop records.
 * The events, pending and drop records are read from the dry instance's
 * own maps, the ones it would write: the live instance's are not shared
 * with it, so they stay empty whatever the dry instance does.
 */
static void test_dry_run(void **state)
{
	static const struct row ok = { "ok", GW_A, .dport = 3199 };
	static const struct row unk = { "u", UNK, .dport = 3199 };
	static const struct row bad = { "d", GW_A, .d = "198.51.100.99" };
	struct bpf_map *shared[] = {
		skel->maps.edpg_ctl, skel->maps.edpg_config, skel->maps.edpg_gateways,
		skel->maps.edpg_ports, skel->maps.edpg_services, skel->maps.edpg_dst4,
		skel->maps.edpg_dst6, skel->maps.edpg_cidr4, skel->maps.edpg_cidr6,
	};
	struct edpgate *dry;
	struct ring_buffer *rb;
	struct evs ev = {};
	struct edpg_pending before, after;
	struct edpg_gw_diag dd;
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pkt p;
	bool found;
	unsigned int i;
	int fd;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	dry = edpgate__open();
	assert_non_null(dry);
	for (i = 0; i < ARRAY_SIZE(shared); i++)
		assert_int_equal(bpf_map__reuse_fd(bpf_object__find_map_by_name(dry->obj,
						   bpf_map__name(shared[i])),
						   bpf_map__fd(shared[i])), 0);
	dry->rodata->dry_run = 1;
	assert_int_equal(edpgate__load(dry), 0);
	fd = bpf_program__fd(dry->progs.edpgate_xdp);
	rb = ring_buffer__new(bpf_map__fd(dry->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);

	clear_last_used();
	before = pending_sum(UNK, &found);
	take_snap(a);
	{
		const struct row *rows3[] = { &ok, &unk, &bad };
		const uint32_t want[] = { XDP_PASS, XDP_DROP, XDP_DROP };

		for (i = 0; i < 3; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

			build(rows3[i], &p);
			o.data_in = p.data;
			o.data_size_in = p.len;
			assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
			assert_int_equal(o.retval, want[i]);
		}
	}
	take_snap(b);
	after = pending_sum(UNK, &found);
	/* The live instance's counters and the shared last_used: untouched. */
	assert_memory_equal(a, b, sizeof(*a));
	assert_int_equal(before.packets, after.packets);
	/* Its own maps: the unknown MAC tried 3199, which a live instance
	 * records as pending; GW_A's destination drop would be its last drop
	 * record; both drops would be events. */
	pending_in(dry->maps.edpg_pending, macs[UNK], &found);
	assert_false(found);
	dd = diag_in(dry->maps.edpg_gw_diag, gws[0].slot);	/* GW_A */
	for (i = 0; i < EDPG_DIAG_NR; i++)
		assert_int_equal(dd.last[i].ts, 0);
	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 0);
	/* Its own counters did count: that is how explain reads the reason. */
	{
		size_t gsz = ROUND8(sizeof(struct edpg_global));
		uint8_t *buf = calloc(nr_cpus, gsz);
		uint32_t r = EDPG_R_DESTINATION;
		uint64_t n = 0;

		assert_non_null(buf);
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(dry->maps.edpg_global), &r, buf), 0);
		for (int c = 0; c < nr_cpus; c++)
			n += ((struct edpg_global *)(buf + c * gsz))->drop.packets;
		assert_int_equal(n, 1);
		free(buf);
	}
	ring_buffer__free(rb);
	edpgate__destroy(dry);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
	int err;

	(void)state;
	skel = edpgate__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "edpgate__open_and_load: %s\n", strerror(-err));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.edpgate_xdp);
	fill_policy();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	edpgate__destroy(skel);
	skel = NULL;
	return 0;
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_shorter_than_eth_hlen),
		cmocka_unit_test(test_generation_flip),
		cmocka_unit_test(test_counters_accumulate),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_events_rate_limit),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_dry_run),
	};
	size_t n = ARRAY_SIZE(rows) + ARRAY_SIZE(fixed), i;
	struct CMUnitTest *tests;
	int rc;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) != 1) {
		fprintf(stderr, "SKIP: this kernel cannot load XDP programs\n");
		return 77;
	}
	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus <= 0) {
		fprintf(stderr, "libbpf_num_possible_cpus: %s\n", strerror(-nr_cpus));
		return 1;
	}

	tests = calloc(n, sizeof(*tests));
	if (!tests)
		return 1;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		tests[i].name = rows[i].name;
		tests[i].test_func = test_row;
		tests[i].initial_state = (void *)&rows[i];
	}
	memcpy(tests + ARRAY_SIZE(rows), fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("datapath", tests, n, group_setup, group_teardown);
	free(tests);
	return rc ? 1 : 0;
}
