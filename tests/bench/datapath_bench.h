/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * datapath_bench.h - what bench_datapath.c shares with its report
 * (datapath_report.c): the cases, the scales and every sample taken.
 */
#ifndef EDPG_BENCH_DATAPATH_H
#define EDPG_BENCH_DATAPATH_H
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "edpgate.h"
#include "pkt.h"
#include "edpgate.skel.h"
#include "empty.skel.h"

#define MAX_SCALES	4
#define MAX_ROUNDS	64
#define MAX_ENTRIES	65536
#define FRAME_MAX	128
#define MAX_SAMPLES	(MAX_ROUNDS * NR_CASES)

/* The goals of issue 2, printed next to the figures. */
#define GOAL_FLOOR_RATIO	2.2
#define GOAL_SCALE_RATIO	1.15
/* Issue 18: allowed IPv4, ns above the empty program. */
#define GOAL_ABOVE_FLOOR_NS	25.0

enum bench_case {
	C_ALLOW4,
	C_ALLOW6,
	C_UNKNOWN4,
	C_UNKNOWN6,
	C_DST4,
	C_DST6,
	NR_CASES,
};

struct case_def {
	const char *name;
	const char *label;
	int v6;			/* IPv6 UDP 123, else IPv4 TCP 3199 */
	int unknown_mac;	/* source MAC is not enrolled */
	int dst_miss;		/* destination is in no group */
	uint32_t reason;
	uint32_t xdp;
};

extern const struct case_def cases[NR_CASES];

/* Services as devicecloud.rules has them; groups: bit 0 Device Cloud, bit 1 NTP. */
#define SID_EDP_TLS	0	/* TCP 3199 */
#define SID_EDP		1	/* TCP 3197 */
#define SID_NTP		2	/* UDP 123 */
#define GROUP_DC	(1ULL << 0)
#define GROUP_NTP	(1ULL << 1)

struct frame {
	uint8_t b[FRAME_MAX];
	uint32_t len;
};

struct stats {
	double median, min, max;
};

struct inst {
	struct edpgate *skel;
	int prog_fd;
};

extern unsigned int nr_scales;
extern uint32_t scales[MAX_SCALES];
extern unsigned int rounds;
extern uint32_t repeat;
extern int selected[NR_CASES];
extern double k_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
extern double w_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
extern double floor_k[MAX_SAMPLES];
extern double floor_w[MAX_SAMPLES];
extern unsigned int nr_floor;

int bench_err(int err, const char *what);
int report(const char *json_path, const char *md_path, const char *sum_path);

#endif
