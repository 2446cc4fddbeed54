/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * datapath.h - what the files of test_datapath share: the policy fixture
 * and the row table (datapath_cases.c), the plumbing that loads the
 * program and reads its counters (datapath_fix.c), and the tests of the
 * troubleshooting records (datapath_diag.c).
 */
#ifndef EDPG_TEST_DATAPATH_H
#define EDPG_TEST_DATAPATH_H

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

enum { SVC_EDP_TLS = 0, SVC_EDP = 1, SVC_NTP = 2, SVC_WEB = 5, SVC_HIGH = 31 };

enum { G_DC = 0, G_NTP = 1, G_OTHER = 5, G_HIGH = 63 };

#define BIT(n) (1ULL << (n))

/* Source MACs; the index is what a row names in .src. */
enum { GW_A, GW_B, GW_C, GW_S, UNK, NR_MACS };

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

#define NR_WATCHED 4

struct port_fix {
	uint8_t gen, proto;
	uint16_t port;
	uint32_t value;		/* service id + 1 */
};

struct svc_fix {
	uint8_t gen, sid;
	uint64_t groups;
};

/* Exact destinations; the index is what a row names in .touch (1-based). */
enum { D_NONE, D4_DC, D4_NTP, D4_OTHER, D4_NEW, D6_DC, D6_NTP, NR_DST };

struct dst_fix {
	uint8_t gen;
	const char *addr;	/* family by the presence of ':' */
	uint64_t groups;
};

struct cidr_fix {
	uint8_t gen;
	const char *addr;
	uint8_t plen;
	uint64_t groups;
};

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

union dst_key {
	struct edpg_dst4_key k4;
	struct edpg_dst6_key k6;
};

/* Counters summed over all CPUs (last_seen: the latest of them). */
struct snap {
	struct edpg_global g[EDPG_R_MAX];
	struct edpg_gw_stats gw[NR_WATCHED];
	uint64_t last_used[NR_DST];
};

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			char _m[256];                                          \
			snprintf(_m, sizeof(_m), __VA_ARGS__);                 \
			fail_msg("[%s] %s", name, _m);                         \
		}                                                              \
	} while (0)

/* datapath_cases.c: the fixture and the rows */
extern const uint8_t macs[NR_MACS][6];
extern const uint8_t router_mac[6];
extern const struct gw_fix gws[];
extern const size_t nr_gws;
extern const uint32_t watched_slots[NR_WATCHED];
extern const struct port_fix ports[];
extern const size_t nr_ports;
extern const struct svc_fix svcs[];
extern const size_t nr_svcs;
extern const struct dst_fix dsts[NR_DST];
extern const struct cidr_fix cidrs[];
extern const size_t nr_cidrs;
extern const uint32_t gen_flags[EDPG_NR_GENS];
extern const struct row rows[];
extern const size_t nr_rows;

/* datapath_audit.c */
void test_audit_rows(void **state);
void test_audit_gateway(void **state);
void test_learn(void **state);
void test_learn_bounded(void **state);

/* datapath_diag.c */
void test_dry_run(void **state);
void test_cold_row(void **state);
void test_gw_filter(void **state);
void test_events_rate_limit(void **state);
void test_pending(void **state);

/* datapath_fix.c: the program, its maps, one frame through it */
void clear_last_used(void);
void expect(const char *name, const uint8_t *frame, size_t len, int v, int why, int gw, int sid, int touch);
void fill_policy(void);
void must_update(struct bpf_map *m, const void *k, const void *v, const char *what);
void filter_mark(const uint8_t mac[6]);
/* expect(): a drop is expected as audit's would_drop (frame passed). */
extern int expect_would;
extern int nr_cpus;
extern int prog_fd;
void read_percpu(struct bpf_map *m, uint32_t key, void *buf);
/* @slot's drop records in the cold map @m (some instance's edpg_gw_cold),
 * merged over CPUs; zeros when the gateway has no cold row. */
struct edpg_gw_diag diag_in(struct bpf_map *m, uint32_t slot);
/* @slot's drop records and event bucket zeroed on every CPU, counts kept. */
void diag_reset(struct bpf_map *m, uint32_t slot);
int run_prog(const void *frame, size_t len, uint32_t *retval);
void set_ctl(uint32_t gen);
void set_flags(uint32_t gen, uint32_t flags);
extern struct edpgate *skel;
void take_snap(struct snap *s);
int watched_index(int mac, int gen);

/* test_datapath.c */
void build(const struct row *r, struct pkt *p);
void test_counters_accumulate(void **state);
void test_generation_flip(void **state);
void test_row(void **state);
void test_shorter_than_eth_hlen(void **state);
void test_truncation(void **state);

#endif
