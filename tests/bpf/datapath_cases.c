// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * datapath_cases.c - the policy fixture of test_datapath and its table of
 * rows, one frame each with the verdict and reason it must get.
 */
#include "datapath.h"

/* ------------------------------------------------------------------ */
/* The policy fixture                                                  */
/* ------------------------------------------------------------------ */

const uint8_t macs[NR_MACS][6] = {
	[GW_A] = { 0x02, 0xed, 0, 0, 0, 0x0a },
	[GW_B] = { 0x02, 0xed, 0, 0, 0, 0x0b },
	[GW_C] = { 0x02, 0xed, 0, 0, 0, 0x0c },
	[GW_S] = { 0x02, 0xed, 0, 0, 0, 0x0d },
	[UNK] = { 0x02, 0xed, 0, 0, 0, 0x99 },
};
const uint8_t router_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

/*
 * A: everything, no binding.  B: only EDP-TLS, bound to VLAN 100,
 * 10.0.0.42 and 2001:db8:100::42.  C: only NTP, bound to 10.0.0.12, in the
 * last slot.  S: a gateway whose slot has no stats entry.
 * Generation 1 is a different policy: A may only use EDP-TLS, B is not
 * enrolled, unknown MACs pass.
 */
const struct gw_fix gws[] = {
	{ GW_A, 0, 7, BIT(SVC_EDP_TLS) | BIT(SVC_EDP) | BIT(SVC_NTP) | BIT(SVC_HIGH), 0, 0, NULL, NULL },
	{ GW_B, 0, 42, BIT(SVC_EDP_TLS), EDPG_GW_BIND_V4 | EDPG_GW_BIND_V6 | EDPG_GW_BIND_VLAN, 100,
	  "10.0.0.42", "2001:db8:100::42" },
	{ GW_C, 0, EDPG_MAX_GATEWAYS - 1, BIT(SVC_NTP), EDPG_GW_BIND_V4, 0, "10.0.0.12", NULL },
	{ GW_S, 0, SLOT_NONE, BIT(SVC_EDP_TLS), 0, 0, NULL, NULL },
	{ GW_A, 1, 7, BIT(SVC_EDP_TLS), 0, 0, NULL, NULL },
	{ GW_C, 1, EDPG_MAX_GATEWAYS - 1, BIT(SVC_NTP), EDPG_GW_BIND_V4, 0, "10.0.0.12", NULL },
};

/* The slots whose stats every row compares before and after. */
const uint32_t watched_slots[NR_WATCHED] = { 0, 7, 42, EDPG_MAX_GATEWAYS - 1 };

const struct port_fix ports[] = {
	{ 0, EDPG_PROTO_TCP, 3199, SVC_EDP_TLS + 1 },
	{ 0, EDPG_PROTO_TCP, 3197, SVC_EDP + 1 },
	{ 0, EDPG_PROTO_UDP, 123, SVC_NTP + 1 },
	{ 0, EDPG_PROTO_TCP, 443, SVC_WEB + 1 },
	{ 0, EDPG_PROTO_TCP, 8443, SVC_HIGH + 1 },
	{ 0, EDPG_PROTO_TCP, 9999, EDPG_MAX_SERVICES + 1 },	/* corrupt: out of range */
	{ 1, EDPG_PROTO_TCP, 3199, SVC_EDP_TLS + 1 },
	{ 1, EDPG_PROTO_TCP, 3197, SVC_EDP + 1 },
};

const struct svc_fix svcs[] = {
	{ 0, SVC_EDP_TLS, BIT(G_DC) | BIT(G_HIGH) },
	{ 0, SVC_EDP, BIT(G_DC) },
	{ 0, SVC_NTP, BIT(G_NTP) },
	{ 0, SVC_WEB, BIT(G_DC) },
	{ 0, SVC_HIGH, BIT(G_DC) },
	{ 1, SVC_EDP_TLS, BIT(G_DC) },
	{ 1, SVC_EDP, BIT(G_DC) },
};

const struct dst_fix dsts[NR_DST] = {
	[D4_DC] = { 0, "198.51.100.10", BIT(G_DC) },
	[D4_NTP] = { 0, "192.0.2.123", BIT(G_NTP) },
	[D4_OTHER] = { 0, "198.51.100.99", BIT(G_OTHER) },
	[D4_NEW] = { 1, "198.51.100.77", BIT(G_DC) },
	[D6_DC] = { 0, "2001:db8:1::10", BIT(G_DC) },
	[D6_NTP] = { 0, "2001:db8:2::123", BIT(G_NTP) },
};

const struct cidr_fix cidrs[] = {
	{ 0, "203.0.113.0", 24, BIT(G_DC) },
	{ 0, "198.18.0.0", 15, BIT(G_NTP) },
	{ 0, "10.99.0.0", 16, BIT(G_OTHER) },
	{ 0, "2001:db8:cc::", 48, BIT(G_HIGH) },
	{ 0, "2001:db8:99::", 48, BIT(G_OTHER) },
	{ 1, "100.64.0.0", 10, BIT(G_DC) },
};

/* Configuration flags per generation (a row may OR more in). */
const uint32_t gen_flags[EDPG_NR_GENS] = { 0, EDPG_F_UNKNOWN_MAC_PASS };

/* ------------------------------------------------------------------ */
/* Test rows                                                           */
/* ------------------------------------------------------------------ */

const struct row rows[] = {
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

/* The tables' lengths, for the files that see only their declarations. */
const size_t nr_gws = ARRAY_SIZE(gws);
const size_t nr_ports = ARRAY_SIZE(ports);
const size_t nr_svcs = ARRAY_SIZE(svcs);
const size_t nr_cidrs = ARRAY_SIZE(cidrs);
const size_t nr_rows = ARRAY_SIZE(rows);
