// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_datapath.c - ns/packet of the XDP data path, through BPF_PROG_TEST_RUN.
 *
 * Loads the real program and the empty floor program, fills the policy maps
 * directly through the ABI in bpf/edpgate.h, and times each verdict path with
 * bpf_prog_test_run_opts(repeat = N): the kernel runs the program N times on
 * the same frame and reports the average ns per run.
 *
 * Every (gateways, destinations) scale gets its own program instance: the
 * instances share the policy and counter maps (bpf_map__reuse_fd) and differ
 * only in which gateway hash and which destination hashes they use, so one
 * round can measure every scale back to back instead of refilling 65,536
 * entries between measurements.  All hashes are sized for full capacity,
 * as a deployed loader sizes them; only their population differs.
 *
 * Each round measures the floor next to every scale block, and every
 * figure is reported as the median, min and max over the rounds; ratios are
 * between medians taken in the same run.  Before timing a frame, one run
 * checks the verdict and the global reason counter, so a figure can never
 * silently belong to a different path than its label.
 *
 * Usage: bench_datapath [-r ROUNDS] [-n REPEAT] [-s SCALES] [-j JSON] [-m MD]
 *			 [-S SUMMARY_TSV] [-c CASES]
 * Exit: 0 (goals missed are reported, not failed), 77 when BPF is not
 * available, 1 on an error.
 */
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
#include "edpgate.skel.h"
#include "empty.skel.h"

#define MAX_SCALES	4
#define MAX_ROUNDS	64
#define MAX_ENTRIES	65536
#define FRAME_MAX	128

/* The goals of issue 2, printed next to the figures. */
#define GOAL_FLOOR_RATIO	2.2
#define GOAL_SCALE_RATIO	1.15

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

static const struct case_def cases[NR_CASES] = {
	[C_ALLOW4]   = { "allow_v4_tcp3199", "allowed IPv4 TCP 3199", 0, 0, 0,
			 EDPG_R_ALLOW, XDP_PASS },
	[C_ALLOW6]   = { "allow_v6_udp123", "allowed IPv6 UDP 123", 1, 0, 0,
			 EDPG_R_ALLOW, XDP_PASS },
	[C_UNKNOWN4] = { "unknown_mac_v4", "unknown_mac drop, IPv4", 0, 1, 0,
			 EDPG_R_UNKNOWN_MAC, XDP_DROP },
	[C_UNKNOWN6] = { "unknown_mac_v6", "unknown_mac drop, IPv6", 1, 1, 0,
			 EDPG_R_UNKNOWN_MAC, XDP_DROP },
	[C_DST4]     = { "destination_v4", "destination drop, IPv4", 0, 0, 1,
			 EDPG_R_DESTINATION, XDP_DROP },
	[C_DST6]     = { "destination_v6", "destination drop, IPv6", 1, 0, 1,
			 EDPG_R_DESTINATION, XDP_DROP },
};

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

static unsigned int nr_scales = 3;
static uint32_t scales[MAX_SCALES] = { 1, 1024, 65536 };
static unsigned int rounds = 7;
static uint32_t repeat = 1000000;

static struct inst insts[MAX_SCALES][MAX_SCALES];
static int selected[NR_CASES];		/* -c; all cases when not given */
#define MAX_SAMPLES	(MAX_ROUNDS * NR_CASES)
static struct empty *floor_skel;
static int floor_fd = -1;
static int nr_cpus;

/* kernel-reported ns/packet and wall-clock ns/packet, per round */
static double k_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
static double w_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
static double floor_k[MAX_SAMPLES];
static double floor_w[MAX_SAMPLES];
static unsigned int nr_floor;

static int bench_err(int err, const char *what)
{
	fprintf(stderr, "bench_datapath: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return err;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* The verifier log and libbpf's progress lines would drown the table. */
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- addresses: gateway i, destination i, and the ones that are in no map ---- */

/* Digi's OUI 00:40:9d, gateway index in the low three bytes. */
static void gw_mac(uint32_t i, uint8_t mac[6])
{
	mac[0] = 0x00;
	mac[1] = 0x40;
	mac[2] = 0x9d;
	mac[3] = i >> 16;
	mac[4] = i >> 8;
	mac[5] = i;
}

/* Same OUI, byte 3 = 0xff: above every enrolled index (< 65,536). */
static void unknown_mac(uint32_t r, uint8_t mac[6])
{
	gw_mac(0xff0000 | (r * 7919u & 0xffff), mac);
}

/* RFC 2544 benchmarking space: 198.18.0.0/16 enrolled, 198.19.0.0/16 not. */
static void dst4(uint32_t i, int miss, uint8_t a[4])
{
	a[0] = 198;
	a[1] = miss ? 19 : 18;
	a[2] = i >> 8;
	a[3] = i;
}

/* RFC 5180 benchmarking space: 2001:2::/64 enrolled, 2001:2:0:1::/64 not. */
static void dst6(uint32_t i, int miss, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[3] = 0x02;
	a[7] = miss ? 1 : 0;
	a[14] = i >> 8;
	a[15] = i;
}

/*
 * The enrolled entry a round's frame uses at scale n: away from both ends
 * of the insertion order and different every round, so no single hash
 * bucket (or its position in a bucket chain) decides a figure.
 */
static uint32_t target(uint32_t n, unsigned int r)
{
	return n == 1 ? 0 : (n / 2 + r * 7919u) % n;
}

/* ---- frames ---- */

static uint16_t csum16(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/*
 * IPv4: a 60-byte TCP SYN to port 3199 (the minimum Ethernet frame, as a
 * TLS connection opens).  IPv6: an NTP client request, UDP 123 with its
 * 48-byte payload.  Checksums of L4 are left 0: the program never reads them.
 */
static void build_frame(struct frame *f, int v6, const uint8_t src[6], const uint8_t *daddr)
{
	static const uint8_t router[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint8_t *p = f->b;

	memset(f, 0, sizeof(*f));
	memcpy(p, router, 6);
	memcpy(p + 6, src, 6);
	if (!v6) {
		uint8_t *ip = p + 14, *th = ip + 20;

		put16(p + 12, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, 40);
		put16(ip + 6, 0x4000);		/* DF */
		ip[8] = 64;
		ip[9] = 6;			/* TCP */
		ip[12] = 192;
		ip[13] = 168;
		ip[14] = 1;
		ip[15] = 10;
		memcpy(ip + 16, daddr, 4);
		put16(ip + 10, csum16(ip, 20));
		put16(th, 40000);
		put16(th + 2, 3199);
		th[12] = 5 << 4;
		th[13] = 0x02;			/* SYN */
		put16(th + 14, 64240);
		f->len = 60;			/* 54 bytes of headers + padding */
	} else {
		uint8_t *ip = p + 14, *uh = ip + 40;

		put16(p + 12, 0x86dd);
		ip[0] = 0x60;
		put16(ip + 4, 8 + 48);
		ip[6] = 17;			/* UDP */
		ip[7] = 64;
		ip[8] = 0xfd;			/* fd00::10 */
		ip[23] = 0x10;
		memcpy(ip + 24, daddr, 16);
		put16(uh, 40000);
		put16(uh + 2, 123);
		put16(uh + 4, 8 + 48);
		uh[8] = 0x23;			/* NTPv4, client mode */
		f->len = 14 + 40 + 8 + 48;
	}
}

/* The frame of one case in round r at gateway scale gn, destination scale dn. */
static void case_frame(struct frame *f, int c, uint32_t gn, uint32_t dn, unsigned int r)
{
	const struct case_def *d = &cases[c];
	uint8_t mac[6], addr[16];
	uint32_t di = target(dn, r);

	if (d->unknown_mac)
		unknown_mac(r, mac);
	else
		gw_mac(target(gn, r), mac);
	if (d->dst_miss)
		di = r * 7919u & 0xffff;
	if (d->v6)
		dst6(di, d->dst_miss, addr);
	else
		dst4(di, d->dst_miss, addr);
	build_frame(f, d->v6, mac, addr);
}

/* ---- loading: one instance per scale pair, sharing maps ---- */

static const char *const shared_maps[] = {
	EDPG_MAP_CTL, EDPG_MAP_CONFIG, EDPG_MAP_PORTS, EDPG_MAP_SERVICES,
	EDPG_MAP_CIDR4, EDPG_MAP_CIDR6, EDPG_MAP_GW_STATS, EDPG_MAP_GLOBAL,
};

static int is_shared(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(shared_maps) / sizeof(shared_maps[0]); i++)
		if (!strcmp(name, shared_maps[i]))
			return 1;
	return 0;
}

static int map_fd_of(struct inst *in, const char *name)
{
	return bpf_map__fd(bpf_object__find_map_by_name(in->skel->obj, name));
}

/*
 * Instance (gi, di) owns what nobody loaded before it: (0, 0) owns every
 * map, (gi, 0) its gateway hash, (0, di) its destination hashes; everything
 * else is reused, so loading in row order always finds its donors.
 */
static int load_inst(unsigned int gi, unsigned int di)
{
	struct inst *in = &insts[gi][di];
	struct bpf_map *m;
	int err;

	in->skel = edpgate__open();
	if (!in->skel)
		return bench_err(-errno, "cannot open the edpgate BPF object");
	/* Full capacity, as the loader sizes them (edpgate.h). */
	err = bpf_map__set_max_entries(in->skel->maps.edpg_gateways,
				       EDPG_NR_GENS * EDPG_MAX_GATEWAYS);
	err = err ?: bpf_map__set_max_entries(in->skel->maps.edpg_gw_stats, EDPG_MAX_GATEWAYS);
	err = err ?: bpf_map__set_max_entries(in->skel->maps.edpg_dst4, EDPG_NR_GENS * EDPG_MAX_DST);
	err = err ?: bpf_map__set_max_entries(in->skel->maps.edpg_dst6, EDPG_NR_GENS * EDPG_MAX_DST);
	if (err)
		return bench_err(err, "cannot size the maps");

	bpf_object__for_each_map(m, in->skel->obj) {
		const char *name = bpf_map__name(m);
		struct inst *donor = NULL;

		if (!strcmp(name, EDPG_MAP_GATEWAYS))
			donor = di ? &insts[gi][0] : NULL;
		else if (!strcmp(name, EDPG_MAP_DST4) || !strcmp(name, EDPG_MAP_DST6))
			donor = gi ? &insts[0][di] : NULL;
		else if (is_shared(name))
			donor = gi || di ? &insts[0][0] : NULL;
		if (!donor)
			continue;
		err = bpf_map__reuse_fd(m, map_fd_of(donor, name));
		if (err)
			return bench_err(err, "cannot share a map between instances");
	}
	err = edpgate__load(in->skel);
	if (err)
		return err;
	in->prog_fd = bpf_program__fd(in->skel->progs.edpgate_xdp);
	return 0;
}

/* ---- filling the maps through the ABI ---- */

static int update(int fd, const void *k, const void *v, const char *what)
{
	if (bpf_map_update_elem(fd, k, v, BPF_ANY))
		return bench_err(-errno, what);
	return 0;
}

/* Generation 0 active; the three Device Cloud services and their groups. */
static int fill_policy(struct inst *in)
{
	struct edpg_ctl ctl = { .gen = 0 };
	struct edpg_config cfg = { .flags = 0 };
	static const struct { uint32_t proto, port, sid; uint64_t groups; } svc[] = {
		{ EDPG_PROTO_TCP, 3199, SID_EDP_TLS, GROUP_DC },
		{ EDPG_PROTO_TCP, 3197, SID_EDP, GROUP_DC },
		{ EDPG_PROTO_UDP, 123, SID_NTP, GROUP_NTP },
	};
	uint32_t zero = 0;
	size_t i;
	int err;

	err = update(map_fd_of(in, EDPG_MAP_CTL), &zero, &ctl, "edpg_ctl");
	err = err ?: update(map_fd_of(in, EDPG_MAP_CONFIG), &zero, &cfg, "edpg_config");
	for (i = 0; i < sizeof(svc) / sizeof(svc[0]) && !err; i++) {
		uint32_t idx = edpg_port_index(0, svc[i].proto, svc[i].port);
		uint32_t val = svc[i].sid + 1;
		struct edpg_svc s = { .groups = svc[i].groups };

		err = update(map_fd_of(in, EDPG_MAP_PORTS), &idx, &val, "edpg_ports");
		idx = 0 * EDPG_MAX_SERVICES + svc[i].sid;
		err = err ?: update(map_fd_of(in, EDPG_MAP_SERVICES), &idx, &s, "edpg_services");
	}
	return err;
}

/* One batched update per map, looping in case the kernel takes fewer. */
static int update_batch(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			uint32_t n, const char *what)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t done = 0;

	while (done < n) {
		uint32_t count = n - done;

		if (bpf_map_update_batch(fd, (const char *)keys + (size_t)done * ksz,
					 (const char *)vals + (size_t)done * vsz, &count, &opts))
			return bench_err(-errno, what);
		if (!count)
			return bench_err(-EIO, what);
		done += count;
	}
	return 0;
}

/* Gateways 0..n-1, slot i, every service, no bindings. */
static int fill_gateways(int fd, uint32_t n)
{
	struct edpg_gw_key *k = calloc(n, sizeof(*k));
	struct edpg_gw *v = calloc(n, sizeof(*v));
	uint32_t i;
	int err = -ENOMEM;

	if (!k || !v)
		goto out;
	for (i = 0; i < n; i++) {
		gw_mac(i, k[i].mac);
		k[i].gen = 0;
		v[i].slot = i;
		v[i].services = 1U << SID_EDP_TLS | 1U << SID_EDP | 1U << SID_NTP;
	}
	err = update_batch(fd, k, sizeof(*k), v, sizeof(*v), n, "edpg_gateways batch");
out:
	free(k);
	free(v);
	return err;
}

/* Destinations 0..n-1 of each family, in both groups. */
static int fill_dsts(int fd4, int fd6, uint32_t n)
{
	struct edpg_dst4_key *k4 = calloc(n, sizeof(*k4));
	struct edpg_dst6_key *k6 = calloc(n, sizeof(*k6));
	struct edpg_dst *v = calloc(n, sizeof(*v));
	uint32_t i;
	int err = -ENOMEM;

	if (!k4 || !k6 || !v)
		goto out;
	for (i = 0; i < n; i++) {
		dst4(i, 0, k4[i].addr);
		dst6(i, 0, k6[i].addr);
		v[i].groups = GROUP_DC | GROUP_NTP;
	}
	err = update_batch(fd4, k4, sizeof(*k4), v, sizeof(*v), n, "edpg_dst4 batch");
	err = err ?: update_batch(fd6, k6, sizeof(*k6), v, sizeof(*v), n, "edpg_dst6 batch");
out:
	free(k4);
	free(k6);
	free(v);
	return err;
}

/* ---- running ---- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run(int prog_fd, const struct frame *f, uint32_t rep, uint32_t *retval,
	       double *kern, double *wall)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = f->b,
		    .data_size_in = f->len,
		    .repeat = rep);
	double t0 = now_ns();

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	if (wall)
		*wall = (now_ns() - t0) / rep;
	if (kern)
		*kern = opts.duration;
	*retval = opts.retval;
	return 0;
}

/* Packets counted for a reason on one side, summed over CPUs. */
static int global_count(int fd, uint32_t reason, uint32_t xdp, uint64_t *out)
{
	struct edpg_global *v = calloc(nr_cpus, sizeof(*v));
	int i, err = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &reason, v)) {
		err = -errno;
		goto out;
	}
	*out = 0;
	for (i = 0; i < nr_cpus; i++)
		*out += xdp == XDP_PASS ? v[i].pass.packets : v[i].drop.packets;
out:
	free(v);
	return err;
}

/* One run of the frame must take the labelled path: verdict and reason. */
static int verify(struct inst *in, int c, const struct frame *f, uint32_t gn, uint32_t dn)
{
	const struct case_def *d = &cases[c];
	int fd = map_fd_of(in, EDPG_MAP_GLOBAL);
	uint64_t before, after;
	uint32_t rv;
	int err;

	err = global_count(fd, d->reason, d->xdp, &before);
	err = err ?: run(in->prog_fd, f, 1, &rv, NULL, NULL);
	err = err ?: global_count(fd, d->reason, d->xdp, &after);
	if (err)
		return bench_err(err, "verification run");
	if (rv != d->xdp || after != before + 1) {
		fprintf(stderr, "bench_datapath: %s at %u gateways x %u destinations: "
			"returned %u (want %u), reason counter moved by %llu (want 1)\n",
			d->name, gn, dn, rv, d->xdp, (unsigned long long)(after - before));
		return -EPROTO;
	}
	return 0;
}

/*
 * One round: per case, a floor sample and then every scale pair back to
 * back, so the figures a scale ratio compares are taken within a second of
 * each other.  Odd rounds walk the scales backwards, so load that drifts
 * during a round does not always favour the same end.
 */
static int measure_round(unsigned int r)
{
	unsigned int n = nr_scales * nr_scales, i;
	struct frame f;
	uint32_t rv;
	int c, err;

	for (c = 0; c < NR_CASES; c++) {
		if (!selected[c])
			continue;
		case_frame(&f, c, scales[0], scales[0], r);
		err = run(floor_fd, &f, repeat, &rv, &floor_k[nr_floor], &floor_w[nr_floor]);
		if (err)
			return bench_err(err, "floor run");
		nr_floor++;
		for (i = 0; i < n; i++) {
			unsigned int p = r & 1 ? n - 1 - i : i;
			unsigned int gi = p / nr_scales, di = p % nr_scales;
			struct inst *in = &insts[gi][di];

			case_frame(&f, c, scales[gi], scales[di], r);
			err = verify(in, c, &f, scales[gi], scales[di]);
			if (err)
				return err;
			err = run(in->prog_fd, &f, repeat, &rv, &k_ns[c][gi][di][r],
				  &w_ns[c][gi][di][r]);
			if (err)
				return bench_err(err, "timed run");
		}
	}
	return 0;
}

/* ---- statistics and output ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct stats stats_of(const double *v, unsigned int n)
{
	double s[MAX_SAMPLES];
	struct stats st;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	st.min = s[0];
	st.max = s[n - 1];
	st.median = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return st;
}

/*
 * Case c at scale (gi, di) against the same case at the baseline scale:
 * the median of per-round ratios, each between two figures taken back to
 * back, so load that changes between rounds cancels out.
 */
static double scale_ratio(int c, unsigned int gi, unsigned int di)
{
	double v[MAX_ROUNDS];
	unsigned int r;

	for (r = 0; r < rounds; r++)
		v[r] = k_ns[c][gi][di][r] / k_ns[c][0][0][r];
	return stats_of(v, rounds).median;
}

static void json_samples(FILE *j, const double *v, unsigned int n)
{
	unsigned int i;

	fputc('[', j);
	for (i = 0; i < n; i++)
		fprintf(j, "%s%.2f", i ? ", " : "", v[i]);
	fputc(']', j);
}

static const char *verdict(int ok)
{
	return ok ? "PASS" : "MISS";
}

static int cpu_note(char *buf, size_t len)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1)
		return snprintf(buf, len, "pinned to CPU %d", sched_getcpu());
	return snprintf(buf, len, "not pinned (ran on CPU %d at the end)", sched_getcpu());
}

/* What the three parts of the report share. */
struct rep {
	unsigned int last;
	struct stats fl, flw;
	struct stats (*st)[MAX_SCALES][MAX_SCALES];
	const char *kernel, *cpu;
	FILE *md, *sum;
};

/* The table of every case at every scale, on stdout and in the markdown. */
static void report_table(const struct rep *r)
{
	const struct stats fl = r->fl;
	unsigned int gi, di;

	printf("Data path, BPF_PROG_TEST_RUN: %u rounds x %u runs per figure, kernel %s, %s\n",
	       rounds, repeat, r->kernel, r->cpu);
	printf("ns/packet as the kernel reports it (integer average per run): median, min, max "
	       "over rounds;\nx 1-entry = median of per-round ratios to the %u x %u case\n\n",
	       scales[0], scales[0]);
	printf("%-22s %8s %8s %9s %7s %7s %8s %9s\n", "case", "gateways", "dests",
	       "median ns", "min", "max", "x floor", "x 1-entry");
	printf("%-22s %8s %8s %9.1f %7.1f %7.1f %8.2f %9s\n", "empty XDP (floor)", "-", "-",
	       fl.median, fl.min, fl.max, 1.0, "-");
	if (r->md) {
		fprintf(r->md, "## Data path: BPF_PROG_TEST_RUN\n\n");
		fprintf(r->md, "The real XDP program, maps filled through the ABI, each figure the "
			"median of %u rounds of `bpf_prog_test_run_opts(repeat = %u)` "
			"(the kernel's average ns per run, an integer), with min and max. "
			"Kernel %s, %s.\n\n"
			"- The floor is the empty XDP program, sampled before every case "
			"block (%u samples); *x floor* is a case's median over the floor's.\n"
			"- *x 1-entry* is the median over rounds of the case at that scale "
			"divided by the same case at %u gateway x %u destination, both "
			"measured back to back in the same round.\n"
			"- Every hash is sized for full capacity (2 generations x 65,536); "
			"only its population changes. Each round uses a different enrolled "
			"MAC and address from the middle of the insertion order.\n"
			"- A test run repeats one frame, so its lookups hit a warm cache: "
			"the cost of cold hash buckets belongs to the live-traffic benchmark.\n\n",
			rounds, repeat, r->kernel, r->cpu, nr_floor, scales[0], scales[0]);
		fprintf(r->md, "| case | gateways | destinations | median ns | min | max | x floor | x 1-entry |\n");
		fprintf(r->md, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
		fprintf(r->md, "| empty XDP (floor) | - | - | %.1f | %.0f | %.0f | 1.00 | - |\n",
			fl.median, fl.min, fl.max);
	}
	for (int c = 0; c < NR_CASES; c++) {
		if (!selected[c])
			continue;
		for (gi = 0; gi < nr_scales; gi++) {
			for (di = 0; di < nr_scales; di++) {
				const struct stats *s = &r->st[c][gi][di];
				double rf = s->median / fl.median;
				double rs = scale_ratio(c, gi, di);

				printf("%-22s %8u %8u %9.1f %7.1f %7.1f %8.2f %9.2f\n",
				       cases[c].name, scales[gi], scales[di], s->median, s->min,
				       s->max, rf, rs);
				if (r->md)
					fprintf(r->md, "| %s | %u | %u | %.1f | %.0f | %.0f | %.2f | %.2f |\n",
						cases[c].label, scales[gi], scales[di], s->median,
						s->min, s->max, rf, rs);
			}
		}
	}
}

/* The goals: printed, in the markdown and the summary; never failed. */
static void report_goals(const struct rep *r)
{
	unsigned int last = r->last, gi;
	double ratio;
	int ok;

	printf("\nGoals (reported, never failed):\n");
	if (r->md)
		fprintf(r->md, "\n| goal | figure | limit | result |\n|---|---:|---:|---|\n");
	/* At the baseline scale and at the largest one. */
	for (gi = 0; gi <= last && selected[C_ALLOW4]; gi += last ? last : 1) {
		ratio = r->st[C_ALLOW4][gi][gi].median / r->fl.median;
		ok = ratio <= GOAL_FLOOR_RATIO;
		printf("  allowed IPv4 at %u gw x %u dst <= %.2fx floor: %.2fx  %s\n",
		       scales[gi], scales[gi], GOAL_FLOOR_RATIO, ratio, verdict(ok));
		if (r->md)
			fprintf(r->md, "| allowed IPv4, %u gateways x %u destinations, vs floor | "
				"%.2fx | %.2fx | %s |\n", scales[gi], scales[gi], ratio,
				GOAL_FLOOR_RATIO, verdict(ok));
		if (r->sum)
			fprintf(r->sum, "datapath\tallowed IPv4 (%u gw x %u dst) vs empty XDP\t"
				"%.1f ns = %.2fx floor (%.1f ns)\t<= %.2fx\t%s\n", scales[gi],
				scales[gi], r->st[C_ALLOW4][gi][gi].median, ratio, r->fl.median,
				GOAL_FLOOR_RATIO, verdict(ok));
	}
	for (int c = 0; c < NR_CASES && last; c++) {
		if (!selected[c])
			continue;
		ratio = scale_ratio(c, last, last);
		ok = ratio <= GOAL_SCALE_RATIO;
		printf("  %-18s %u gw x %u dst <= %.2fx the %u x %u case: %.2fx  %s\n",
		       cases[c].name, scales[last], scales[last], GOAL_SCALE_RATIO, scales[0],
		       scales[0], ratio, verdict(ok));
		if (r->md)
			fprintf(r->md, "| %s, %u x %u vs %u x %u | %.2fx | %.2fx | %s |\n",
				cases[c].label, scales[last], scales[last], scales[0], scales[0],
				ratio, GOAL_SCALE_RATIO, verdict(ok));
		if (r->sum)
			fprintf(r->sum, "datapath\t%s: %u gw x %u dst vs %u x %u\t"
				"%.1f vs %.1f ns: %.2fx\t<= %.2fx\t%s\n", cases[c].label,
				scales[last], scales[last], scales[0], scales[0],
				r->st[c][last][last].median, r->st[c][0][0].median, ratio,
				GOAL_SCALE_RATIO, verdict(ok));
	}
	if (r->sum)
		for (int c = 0; c < NR_CASES; c++)
			if (c != C_ALLOW4 && selected[c])
				fprintf(r->sum, "datapath\t%s (%u gw x %u dst)\t%.1f ns = %.2fx floor\t-\t-\n",
					cases[c].label, scales[last], scales[last],
					r->st[c][last][last].median,
					r->st[c][last][last].median / r->fl.median);
	if (r->md)
		fputc('\n', r->md);
}

/* Every figure and every sample. */
static void report_json(const struct rep *r, FILE *j)
{
	unsigned int last = r->last, gi, di;
	const char *sep;
	double ratio;

	fprintf(j, "{\n  \"method\": \"bpf_prog_test_run_opts\",\n  \"unit\": \"ns/packet\",\n"
		"  \"kernel\": \"%s\",\n  \"cpu\": \"%s\",\n  \"rounds\": %u,\n  \"repeat\": %u,\n"
		"  \"scales\": [", r->kernel, r->cpu, rounds, repeat);
	for (gi = 0; gi < nr_scales; gi++)
		fprintf(j, "%s%u", gi ? ", " : "", scales[gi]);
	fprintf(j, "],\n  \"floor\": {\"median_ns\": %.2f, \"min_ns\": %.2f, \"max_ns\": %.2f, "
		"\"wall_median_ns\": %.2f, \"samples_ns\": ", r->fl.median, r->fl.min, r->fl.max,
		r->flw.median);
	json_samples(j, floor_k, nr_floor);
	fprintf(j, ", \"wall_samples_ns\": ");
	json_samples(j, floor_w, nr_floor);
	fprintf(j, "},\n  \"cases\": [");
	sep = "\n";
	for (int c = 0; c < NR_CASES; c++) {
		if (!selected[c])
			continue;
		for (gi = 0; gi < nr_scales; gi++) {
			for (di = 0; di < nr_scales; di++) {
				const struct stats *s = &r->st[c][gi][di];
				struct stats w = stats_of(w_ns[c][gi][di], rounds);

				fprintf(j, "%s    {\"case\": \"%s\", \"reason\": \"%s\", \"verdict\": \"%s\", "
					"\"gateways\": %u, \"destinations\": %u, \"median_ns\": %.2f, "
					"\"min_ns\": %.2f, \"max_ns\": %.2f, \"ratio_to_floor\": %.4f, "
					"\"ratio_to_1_entry\": %.4f, \"wall_median_ns\": %.2f, \"samples_ns\": ",
					sep, cases[c].name,
					cases[c].reason == EDPG_R_ALLOW ? "allow" :
					cases[c].reason == EDPG_R_UNKNOWN_MAC ? "unknown_mac" : "destination",
					cases[c].xdp == XDP_PASS ? "pass" : "drop", scales[gi], scales[di],
					s->median, s->min, s->max, s->median / r->fl.median,
					scale_ratio(c, gi, di), w.median);
				json_samples(j, k_ns[c][gi][di], rounds);
				fprintf(j, ", \"wall_samples_ns\": ");
				json_samples(j, w_ns[c][gi][di], rounds);
				fputc('}', j);
				sep = ",\n";
			}
		}
	}
	fprintf(j, "\n  ],\n  \"goals\": [");
	sep = "\n";
	for (gi = 0; gi <= last && selected[C_ALLOW4]; gi += last ? last : 1) {
		ratio = r->st[C_ALLOW4][gi][gi].median / r->fl.median;
		fprintf(j, "%s    {\"goal\": \"allowed IPv4 <= %.2fx floor\", \"gateways\": %u, "
			"\"destinations\": %u, \"ratio\": %.4f, \"limit\": %.2f, \"pass\": %s}",
			sep, GOAL_FLOOR_RATIO, scales[gi], scales[gi], ratio, GOAL_FLOOR_RATIO,
			ratio <= GOAL_FLOOR_RATIO ? "true" : "false");
		sep = ",\n";
	}
	for (int c = 0; c < NR_CASES && last; c++) {
		if (!selected[c])
			continue;
		ratio = scale_ratio(c, last, last);
		fprintf(j, "%s    {\"goal\": \"%s at %u x %u <= %.2fx the %u x %u case\", "
			"\"case\": \"%s\", \"ratio\": %.4f, \"limit\": %.2f, \"pass\": %s}",
			sep, cases[c].name, scales[last], scales[last], GOAL_SCALE_RATIO, scales[0],
			scales[0], cases[c].name, ratio, GOAL_SCALE_RATIO,
			ratio <= GOAL_SCALE_RATIO ? "true" : "false");
		sep = ",\n";
	}
	fprintf(j, "\n  ]\n}\n");
}

static int report(const char *json_path, const char *md_path, const char *sum_path)
{
	static struct stats st[NR_CASES][MAX_SCALES][MAX_SCALES];
	char cpu[64], kernel[128] = "?";
	struct rep r = { .last = nr_scales - 1, .st = st, .kernel = kernel, .cpu = cpu };
	FILE *j = NULL;
	struct utsname u;
	int err = 0;

	r.fl = stats_of(floor_k, nr_floor);
	r.flw = stats_of(floor_w, nr_floor);
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%s", u.release);
	cpu_note(cpu, sizeof(cpu));
	for (int c = 0; c < NR_CASES; c++)
		for (unsigned int gi = 0; gi < nr_scales; gi++)
			for (unsigned int di = 0; di < nr_scales; di++)
				st[c][gi][di] = stats_of(k_ns[c][gi][di], rounds);

	if (json_path && !(j = fopen(json_path, "w")))
		return bench_err(-errno, json_path);
	if (md_path && !(r.md = fopen(md_path, "w"))) {
		err = bench_err(-errno, md_path);
		goto out;
	}
	if (sum_path && !(r.sum = fopen(sum_path, "w"))) {
		err = bench_err(-errno, sum_path);
		goto out;
	}
	report_table(&r);
	report_goals(&r);
	if (j)
		report_json(&r, j);
out:
	if (j && fclose(j) && !err)
		err = bench_err(-errno, json_path);
	if (r.md && fclose(r.md) && !err)
		err = bench_err(-errno, md_path);
	if (r.sum && fclose(r.sum) && !err)
		err = bench_err(-errno, sum_path);
	return err;
}

/* "allow_v4_tcp3199,destination_v6": the cases to run. */
static int parse_cases(const char *s)
{
	char *list = strdup(s), *tok, *save = NULL;
	int c, err = 0;

	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		for (c = 0; c < NR_CASES; c++)
			if (!strcmp(tok, cases[c].name))
				break;
		if (c == NR_CASES)
			err = -EINVAL;
		else
			selected[c] = 1;
	}
	free(list);
	return err;
}

/* "1,1024,65536": ascending, each 1..65,536; the first is the baseline. */
static int parse_scales(const char *s)
{
	char *end;
	unsigned long v;

	nr_scales = 0;
	while (*s) {
		if (nr_scales == MAX_SCALES)
			return -E2BIG;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || v < 1 || v > MAX_ENTRIES ||
		    (nr_scales && v <= scales[nr_scales - 1]))
			return -EINVAL;
		scales[nr_scales++] = v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	return nr_scales ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_datapath [-r ROUNDS] [-n REPEAT] [-s SCALES] [-j JSON] [-m MD] "
		"[-S SUMMARY]\n"
		"                      [-c CASES]\n"
		"  -r ROUNDS   rounds per figure (default 7, at most %d)\n"
		"  -n REPEAT   runs per BPF_PROG_TEST_RUN call (default 1000000)\n"
		"  -s SCALES   ascending gateway/destination counts (default 1,1024,65536)\n"
		"  -j JSON     write every figure and sample as JSON\n"
		"  -m MD       write the report section as Markdown\n"
		"  -S SUMMARY  write goal rows as tab-separated lines\n"
		"  -c CASES    comma-separated cases to run (default all):", MAX_ROUNDS);
	for (int c = 0; c < NR_CASES; c++)
		fprintf(f, " %s", cases[c].name);
	fputc('\n', f);
}

int main(int argc, char **argv)
{
	const char *json = NULL, *md = NULL, *sum = NULL;
	unsigned int gi, di, r;
	int opt, c, any_case = 0, err = 0;

	while ((opt = getopt(argc, argv, "r:n:s:j:m:S:c:h")) != -1) {
		switch (opt) {
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			repeat = strtoul(optarg, NULL, 10);
			break;
		case 's':
			if (parse_scales(optarg)) {
				usage(stderr);
				return 1;
			}
			break;
		case 'c':
			if (parse_cases(optarg)) {
				usage(stderr);
				return 1;
			}
			any_case = 1;
			break;
		case 'j':
			json = optarg;
			break;
		case 'm':
			md = optarg;
			break;
		case 'S':
			sum = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1) {
		usage(stderr);
		return 1;
	}
	for (c = 0; c < NR_CASES && !any_case; c++)
		selected[c] = 1;
	libbpf_set_print(libbpf_quiet);
	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus < 1) {
		bench_err(nr_cpus, "cannot count CPUs");
		return 1;
	}

	floor_skel = empty__open_and_load();
	if (!floor_skel) {
		err = -errno;
		if (err == -EPERM || err == -EACCES) {
			fprintf(stderr, "bench_datapath: SKIP: cannot load BPF programs (%s); "
				"run as root\n", strerror(-err));
			return 77;
		}
		bench_err(err, "cannot load the empty XDP program");
		goto out;
	}
	floor_fd = bpf_program__fd(floor_skel->progs.edpgate_empty);

	for (gi = 0; gi < nr_scales && !err; gi++)
		for (di = 0; di < nr_scales && !err; di++)
			err = load_inst(gi, di);
	if (err) {
		bench_err(err, "cannot load the edpgate XDP program");
		goto out;
	}
	err = fill_policy(&insts[0][0]);
	for (gi = 0; gi < nr_scales && !err; gi++)
		err = fill_gateways(map_fd_of(&insts[gi][0], EDPG_MAP_GATEWAYS), scales[gi]);
	for (di = 0; di < nr_scales && !err; di++)
		err = fill_dsts(map_fd_of(&insts[0][di], EDPG_MAP_DST4),
				map_fd_of(&insts[0][di], EDPG_MAP_DST6), scales[di]);
	if (err)
		goto out;

	for (r = 0; r < rounds && !err; r++)
		err = measure_round(r);
	if (!err)
		err = report(json, md, sum);
out:
	for (gi = 0; gi < MAX_SCALES; gi++)
		for (di = 0; di < MAX_SCALES; di++)
			edpgate__destroy(insts[gi][di].skel);
	empty__destroy(floor_skel);
	return err ? 1 : 0;
}
