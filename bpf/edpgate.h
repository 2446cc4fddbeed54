/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * edpgate.h - the ABI shared by the XDP program and the edpgate loader.
 *
 * Everything here crosses the kernel/user boundary through BPF maps, so it
 * holds only fixed-width fields and every struct size is pinned by a
 * _Static_assert: a change that moves a field is a compile error on both
 * sides rather than a silent misread of a pinned map.
 *
 * Atomic apply: every policy map key carries a generation bit.  The program
 * reads the active generation once per packet from edpg_ctl and looks up
 * only keys of that generation; `edpgate apply` fills the inactive
 * generation, flips edpg_ctl in one array update, then removes the old
 * generation.  A packet therefore sees the old policy or the new one, never
 * a mix.
 */
#ifndef EDPGATE_H
#define EDPGATE_H

#include <linux/types.h>

/* Capacity defaults; the maps are resized at load time from the loader. */
#define EDPG_MAX_GATEWAYS	65536
#define EDPG_MAX_SERVICES	32
#define EDPG_MAX_GROUPS		64
#define EDPG_MAX_DST		65536	/* exact addresses per family */
#define EDPG_MAX_CIDR		4096	/* static prefixes per family */
#define EDPG_NR_GENS		2
#define EDPG_NR_PORTS		65536
#define EDPG_MAX_VLAN_DEPTH	2
#define EDPG_MAX_IPV6_EXTHDR	6

/*
 * Reasons: the public vocabulary of counters, JSON and the CLI.  Keep the
 * names in edpg_reason_names (loader) in the same order.
 */
enum edpg_reason {
	EDPG_R_ALLOW = 0,
	EDPG_R_ARP,
	EDPG_R_ND,
	EDPG_R_NON_IP,
	EDPG_R_UNKNOWN_MAC,
	EDPG_R_MALFORMED,
	EDPG_R_BINDING,
	EDPG_R_FRAGMENT,
	EDPG_R_PROTOCOL,
	EDPG_R_PORT,
	EDPG_R_SERVICE,
	EDPG_R_DESTINATION,
	EDPG_R_MAX,
};

enum edpg_verdict {
	EDPG_V_DROP = 0,
	EDPG_V_PASS = 1,
};

/* edpg_config.flags */
#define EDPG_F_UNKNOWN_MAC_PASS	(1U << 0)
#define EDPG_F_NON_IP_PASS	(1U << 1)
/* Audit (`--enforce audit`): every frame is judged and counted under its
 * reason, and a frame that would be dropped is counted as would_drop and
 * passed.  Set by the loader from the enforcement mode, not the rules. */
#define EDPG_F_AUDIT		(1U << 2)
/* The generation has no static prefix of that family (edpg_cidr4/6): the
 * data path skips the LPM lookup on a destination miss.  Set by the
 * loader when it writes a generation (prefixes are only ever written
 * there), never shown as policy.  Negative on purpose: a config written
 * without them means "look", which is always right. */
#define EDPG_F_NO_CIDR4		(1U << 3)
#define EDPG_F_NO_CIDR6		(1U << 4)
#define EDPG_F_LOADER_ONLY	(EDPG_F_NO_CIDR4 | EDPG_F_NO_CIDR6)

/* edpg_gw.flags */
#define EDPG_GW_BIND_V4		(1U << 0)
#define EDPG_GW_BIND_V6		(1U << 1)
#define EDPG_GW_BIND_VLAN	(1U << 2)
/* This gateway alone is audited (`gateway add --audit`): its would-be
 * drops are counted as would_drop and passed, the others are enforced. */
#define EDPG_GW_AUDIT		(1U << 3)

/* edpg_ctl: array[1], the active generation. */
struct edpg_ctl {
	__u32 gen;
	__u32 pad;
};

/* edpg_config: array[EDPG_NR_GENS], per-generation global actions. */
/*
 * EDPG_ABI_TEST_PAD exists only so tests/e2e/test_upgrade.sh can build an
 * edpgate whose map layout differs from the running one's (an upgrade to
 * it must be refused).  Always 0 in a real build.
 */
#ifndef EDPG_ABI_TEST_PAD
#define EDPG_ABI_TEST_PAD 0
#endif

struct edpg_config {
	__u32 flags;
	__u32 pad;
	__u8 test_pad[EDPG_ABI_TEST_PAD];
};

/* edpg_gateways: hash, enrolled gateway by source MAC. Padded to 8 bytes. */
struct edpg_gw_key {
	__u8 mac[6];
	__u8 gen;
	__u8 pad;
};

struct edpg_gw {
	__u32 slot;		/* index into edpg_gw_stats; stable across gens */
	__u32 services;		/* bitmap of service ids this gateway may use */
	__u32 flags;		/* EDPG_GW_BIND_* */
	__u16 vlan;		/* bound outer VLAN id (EDPG_GW_BIND_VLAN) */
	__u16 pad;
	__u8 ip4[4];		/* bound IPv4 source, network order */
	__u8 ip6[16];		/* bound IPv6 source */
};

/*
 * edpg_gw_filter: array of EDPG_GW_FILTER_WORDS __u64 words, one bit per
 * hash of a source MAC (edpg_gw_filter_bit()); the loader sets a MAC's bit
 * before its edpg_gateways record exists.  A clear bit proves the MAC is
 * not enrolled, so the unknown-MAC path - the one a flooding LAN host
 * drives - skips the gateway hash lookup (a hash and a bucket walk, the
 * largest cost of that path) for one inlined array load.  A set bit proves
 * nothing and the hash decides, so a stale bit (a deleted gateway) costs
 * a lookup, never a verdict.  Bits are never cleared while the maps live:
 * clearing one would race with a gateway of the same bit being enrolled.
 * 2^20 bits (128 KiB, shared by the CPUs): at 256 gateways 0.02% of
 * unknown MACs still pay the lookup, at 65,536 about 6%.
 */
#define EDPG_GW_FILTER_BITS	20
#define EDPG_GW_FILTER_WORDS	(1U << (EDPG_GW_FILTER_BITS - 6))

/* Multiplicative hashing of the 48-bit MAC: the top bits of the product
 * depend on every byte, so a site whose gateways share an OUI and count
 * up in the last byte still spreads over the words. */
static inline __u32 edpg_gw_filter_bit(const __u8 mac[6])
{
	__u64 v = (__u64)mac[0] << 40 | (__u64)mac[1] << 32 | (__u64)mac[2] << 24 |
		  (__u64)mac[3] << 16 | (__u64)mac[4] << 8 | mac[5];

	return (__u32)((v * 0x9e3779b97f4a7c15ULL) >> (64 - EDPG_GW_FILTER_BITS));
}

/*
 * edpg_ports: array[EDPG_NR_GENS * 2 * EDPG_NR_PORTS] of __u32, indexed by
 * edpg_port_index(); value is service id + 1, 0 = no service.  A direct
 * index costs one bounded array access instead of a hash or a loop over
 * port ranges.
 */
#define EDPG_PROTO_TCP	0
#define EDPG_PROTO_UDP	1

static inline __u32 edpg_port_index(__u32 gen, __u32 proto, __u32 port)
{
	return (gen * 2 + proto) * EDPG_NR_PORTS + port;
}

/* edpg_services: array[EDPG_NR_GENS * EDPG_MAX_SERVICES]: allowed groups. */
struct edpg_svc {
	__u64 groups;		/* bitmap of destination groups */
};

/* edpg_dst4 / edpg_dst6: hash, exact destination addresses. */
struct edpg_dst4_key {
	__u8 addr[4];
	__u8 gen;
	__u8 pad[3];
};

struct edpg_dst6_key {
	__u8 addr[16];
	__u8 gen;
	__u8 pad[3];
};

struct edpg_dst {
	__u64 groups;		/* bitmap of destination groups */
	__u64 last_used;	/* CLOCK_MONOTONIC_COARSE ns of last allowed packet */
};

/*
 * edpg_cidr4 / edpg_cidr6: LPM tries of static prefixes.  The generation is
 * the first byte of the matched data, so prefixlen = 8 + prefix length.
 */
struct edpg_cidr4_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[4];
	__u8 pad[3];
};

struct edpg_cidr6_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16];
	__u8 pad[3];
};

struct edpg_cidr {
	__u64 groups;
};

struct edpg_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * A gateway's counters live in two maps, by who writes them:
 *
 * edpg_gw_stats: per-CPU array indexed by gateway slot, what every allowed
 * frame writes (one array lookup, no allocation, no shared cache line).
 * Only the first EDPG_SVC_HOT services have their counter here: a site
 * uses three (EDP over TLS, plain EDP, NTP), and a per-CPU row is paid
 * for every slot on every possible CPU, used or not (at 65,536 slots the
 * 32 services cost 32 MiB per CPU, this row 4.5 MiB).
 *
 * edpg_gw_cold: per-CPU hash by slot, allocated on a gateway's first drop
 * or first frame of a service beyond the first EDPG_SVC_HOT: drop counts,
 * drop records, and the other services' counters.  A healthy site of
 * three services has none.
 */
#define EDPG_SVC_HOT		4

struct edpg_gw_hot {
	__u64 last_seen;	/* CLOCK_MONOTONIC_COARSE ns */
	struct edpg_counter svc[EDPG_SVC_HOT];
};

/* edpg_global: per-CPU array[EDPG_R_MAX], every verdict by reason. */
struct edpg_global {
	struct edpg_counter pass;
	struct edpg_counter drop;
	struct edpg_counter would_drop;	/* judged a drop, passed (audit) */
};

/*
 * Troubleshooting records (`edpgate watch`, `doctor`, `gateway pending`).
 * They are written on drop paths only, so the allowed path costs nothing.
 */

/*
 * Event rate limit: a token bucket kept as "credit" in nanoseconds, so the
 * data path adds elapsed time and subtracts a fixed cost without a
 * division.  One event costs ev_interval_ns of credit; the credit is capped
 * at ev_burst events.  Buckets are per CPU (no shared cache line in a
 * flood), so the limit scales with the CPUs that receive the flood.
 */
struct edpg_ev_bucket {
	__u64 ts;		/* data-path time of the last refill */
	__u64 credit;		/* ns of credit */
	__u64 suppressed;	/* events not sent, total */
	__u64 pending;		/* events not sent since the last one sent */
};

/* The last drop of one reason: what doctor needs to name the cause. */
struct edpg_drop_rec {
	__u64 ts;		/* data-path time, 0 = never */
	__u8 addr[16];		/* destination; the source for `binding` */
	__u16 port;		/* destination port, host order */
	__u8 proto;		/* IPPROTO_* */
	__u8 family;		/* 4 or 6 */
	__u16 vlan;		/* outer VLAN id, 0 = untagged */
	__u8 would;		/* 1: audited, the frame was passed */
	__u8 pad;
};

/* Reasons with a per-gateway drop record: binding .. destination. */
#define EDPG_DIAG_FIRST		EDPG_R_BINDING
#define EDPG_DIAG_NR		(EDPG_R_MAX - EDPG_R_BINDING)

/* The troubleshooting half of edpg_gw_cold. */
struct edpg_gw_diag {
	struct edpg_ev_bucket ev;
	struct edpg_drop_rec last[EDPG_DIAG_NR];
};

/* edpg_gw_cold: per-CPU hash, slot -> what a gateway's drops write. */
struct edpg_gw_cold {
	__u64 drops[EDPG_R_MAX];
	__u64 would_drop[EDPG_R_MAX];	/* judged a drop, passed (audit) */
	struct edpg_counter svc[EDPG_MAX_SERVICES - EDPG_SVC_HOT];
	struct edpg_gw_diag diag;
};

/*
 * A gateway's counters as userspace reads them: its edpg_gw_stats and
 * edpg_gw_cold rows summed over the CPUs (edpg_bpf_gw_stats()).  Never a
 * map value of the program: the carry of a growth holds it (bpf_grow.c).
 */
struct edpg_gw_stats {
	__u64 last_seen;	/* CLOCK_MONOTONIC_COARSE ns */
	__u64 drops[EDPG_R_MAX];
	__u64 would_drop[EDPG_R_MAX];	/* judged a drop, passed (audit) */
	struct edpg_counter svc[EDPG_MAX_SERVICES];
};

/* edpg_events: ring buffer of drop events. */
struct edpg_event {
	__u64 ts;		/* data-path time */
	__u32 slot;		/* gateway slot, EDPG_EV_NO_SLOT for unknown MACs */
	__u8 reason;		/* enum edpg_reason */
	__u8 proto;		/* IPPROTO_* (0 when not IP) */
	__u8 family;		/* 4 or 6 */
	__u8 flags;		/* EDPG_EV_F_* */
	__u8 mac[6];		/* source MAC */
	__u16 vlan;
	__u16 sport;		/* host order */
	__u16 dport;
	__u32 suppressed;	/* events this bucket suppressed before this one */
	__u8 saddr[16];
	__u8 daddr[16];
};

#define EDPG_EV_NO_SLOT		0xffffffffU
#define EDPG_EV_F_WOULD		(1U << 0)	/* audited: judged a drop, passed */
#define EDPG_EV_RING_SIZE	(256 * 1024)

/*
 * edpg_pending: unknown MACs that tried a Device Cloud or NTP port
 * (below): candidates for enrolment.  A per-CPU array used as a
 * direct-mapped cache, slot edpg_pending_slot(mac): on the unknown-MAC
 * path (a flood from a rogue host runs through it) an array slot costs a
 * fraction of an LRU hash lookup.  A MAC landing on a slot another MAC
 * holds takes it over; the loader merges the CPUs' copies by MAC.
 * packets == 0 marks an empty slot.
 */
struct edpg_pending {
	__u64 first_seen;	/* data-path time */
	__u64 last_seen;
	__u64 packets;
	__u8 mac[6];
	__u16 last_port;
	__u8 last_proto;
	__u8 pad;
	__u16 vlan;
	__u32 pad2;
};

#define EDPG_PENDING_BITS	10
#define EDPG_MAX_PENDING	(1U << EDPG_PENDING_BITS)

/* Multiplicative hashing: the top bits of the product mix every byte,
 * the vendor's OUI too (a site's gateways often share one). */
static inline __u32 edpg_pending_slot(const __u8 mac[6])
{
	__u32 lo = (__u32)mac[2] << 24 | (__u32)mac[3] << 16 | (__u32)mac[4] << 8 | mac[5];
	__u32 hi = (__u32)mac[0] << 8 | mac[1];

	return ((lo ^ hi * 0x85ebca6bU) * 0x9e3779b1U) >> (32 - EDPG_PENDING_BITS);
}

/*
 * What makes an unknown MAC "pending": Device Cloud and NTP ports from any
 * MAC, and DNS from a MAC of a Digi OUI.  A Cloud Connector resolves the
 * cloud name before anything else, so an unenrolled one never gets as far
 * as 3199 (its DNS query is dropped first); DNS from any PC, though, must
 * not make it a pending gateway.
 */
#define EDPG_PORT_EDP		3197
#define EDPG_PORT_EDP_TLS	3199
#define EDPG_PORT_NTP		123
#define EDPG_PORT_DNS		53

/* Digi's Ethernet OUIs: 00:40:9D Digi International, 00:04:F3 FS
 * Forth-Systeme (ConnectCore).  00:13:A2 is the XBee 64-bit radio address
 * prefix, never an Ethernet source MAC, so it is not one of them. */
static inline int edpg_mac_is_digi(const __u8 mac[6])
{
	return mac[0] == 0x00 && ((mac[1] == 0x40 && mac[2] == 0x9d) ||
				  (mac[1] == 0x04 && mac[2] == 0xf3));
}

/*
 * edpg_learn: what enrolled gateways tried and were (or, audited, would
 * have been) refused for a reason the rules can change (port, service,
 * destination): the raw material of `edpgate learn`.  An LRU hash of a
 * fixed size, so a host trying 100,000 destinations evicts its own oldest
 * entries and cannot grow it.  It is written only when the gateway's
 * event bucket grants an event (see edpg_ev_bucket), never per packet: a
 * flood costs the data path nothing more than the event limit already
 * does, and `count` is the number of recorded attempts, not of packets.
 */
#define EDPG_MAX_LEARN		4096

struct edpg_learn_key {
	__u8 mac[6];
	__u16 dport;		/* host order */
	__u8 daddr[16];		/* IPv4 in the first 4 bytes */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;		/* 4 or 6 */
	__u8 pad[2];
};

struct edpg_learn {
	__u64 first_seen;	/* data-path time */
	__u64 last_seen;
	__u64 count;		/* recorded attempts */
	__u8 reason;		/* last reason: port, service or destination */
	__u8 would;		/* 1: the last one was audited (passed) */
	__u8 pad[6];
};

/* Map names: the pin file names under the pin directory. */
#define EDPG_MAP_CTL		"edpg_ctl"
#define EDPG_MAP_CONFIG		"edpg_config"
#define EDPG_MAP_GATEWAYS	"edpg_gateways"
#define EDPG_MAP_PORTS		"edpg_ports"
#define EDPG_MAP_SERVICES	"edpg_services"
#define EDPG_MAP_DST4		"edpg_dst4"
#define EDPG_MAP_DST6		"edpg_dst6"
#define EDPG_MAP_CIDR4		"edpg_cidr4"
#define EDPG_MAP_CIDR6		"edpg_cidr6"
#define EDPG_MAP_GW_STATS	"edpg_gw_stats"
#define EDPG_MAP_GLOBAL		"edpg_global"
#define EDPG_MAP_GW_COLD	"edpg_gw_cold"
#define EDPG_MAP_EV_GLOBAL	"edpg_ev_global"
#define EDPG_MAP_EVENTS		"edpg_events"
#define EDPG_MAP_PENDING	"edpg_pending"
#define EDPG_MAP_LEARN		"edpg_learn"
#define EDPG_MAP_GW_FILTER	"edpg_gw_filter"
#define EDPG_PROG_NAME		"edpgate_xdp"

_Static_assert(sizeof(struct edpg_ctl) == 8, "edpg_ctl");
_Static_assert(sizeof(struct edpg_config) == 8 + EDPG_ABI_TEST_PAD, "edpg_config");
_Static_assert(sizeof(struct edpg_gw_key) == 8, "edpg_gw_key");
_Static_assert(sizeof(struct edpg_gw) == 36, "edpg_gw");
_Static_assert(sizeof(struct edpg_svc) == 8, "edpg_svc");
_Static_assert(sizeof(struct edpg_dst4_key) == 8, "edpg_dst4_key");
_Static_assert(sizeof(struct edpg_dst6_key) == 20, "edpg_dst6_key");
_Static_assert(sizeof(struct edpg_dst) == 16, "edpg_dst");
_Static_assert(sizeof(struct edpg_cidr4_key) == 12, "edpg_cidr4_key");
_Static_assert(sizeof(struct edpg_cidr6_key) == 24, "edpg_cidr6_key");
_Static_assert(sizeof(struct edpg_gw_hot) == 8 + 16 * EDPG_SVC_HOT, "edpg_gw_hot");
_Static_assert(sizeof(struct edpg_gw_stats) == 8 + 16 * EDPG_R_MAX + 16 * EDPG_MAX_SERVICES,
	       "edpg_gw_stats");
_Static_assert(sizeof(struct edpg_global) == 48, "edpg_global");
_Static_assert(sizeof(struct edpg_ev_bucket) == 32, "edpg_ev_bucket");
_Static_assert(sizeof(struct edpg_drop_rec) == 32, "edpg_drop_rec");
_Static_assert(sizeof(struct edpg_gw_diag) == 32 + 32 * EDPG_DIAG_NR, "edpg_gw_diag");
_Static_assert(sizeof(struct edpg_gw_cold) == 16 * EDPG_R_MAX +
	       16 * (EDPG_MAX_SERVICES - EDPG_SVC_HOT) + sizeof(struct edpg_gw_diag),
	       "edpg_gw_cold");
_Static_assert(sizeof(struct edpg_event) == 64, "edpg_event");
_Static_assert(sizeof(struct edpg_pending) == 40, "edpg_pending");
_Static_assert(sizeof(struct edpg_learn_key) == 28, "edpg_learn_key");
_Static_assert(sizeof(struct edpg_learn) == 32, "edpg_learn");

#endif /* EDPGATE_H */
