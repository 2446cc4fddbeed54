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
#include "datapath_bench.h"

const struct case_def cases[NR_CASES] = {
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

unsigned int nr_scales = 3;
uint32_t scales[MAX_SCALES] = { 1, 1024, 65536 };
unsigned int rounds = 7;
uint32_t repeat = 1000000;

static struct inst insts[MAX_SCALES][MAX_SCALES];
int selected[NR_CASES];		/* -c; all cases when not given */
static struct empty *floor_skel;
static int floor_fd = -1;
static int nr_cpus;

/* kernel-reported ns/packet and wall-clock ns/packet, per round */
double k_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
double w_ns[NR_CASES][MAX_SCALES][MAX_SCALES][MAX_ROUNDS];
double floor_k[MAX_SAMPLES];
double floor_w[MAX_SAMPLES];
unsigned int nr_floor;

int bench_err(int err, const char *what)
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

/*
 * IPv4: a 60-byte TCP SYN to port 3199 (the minimum Ethernet frame, as a
 * TLS connection opens).  IPv6: an NTP client request, UDP 123 with its
 * 48-byte payload.  Checksums of L4 are left 0: the program never reads them.
 */
static void build_frame(struct frame *f, int v6, const uint8_t src[6], const uint8_t *daddr)
{
	static const uint8_t router[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t src4[4] = { 192, 168, 1, 10 };
	static const uint8_t src6[16] = { 0xfd, [15] = 0x10 };	/* fd00::10 */
	struct pkt p;

	pkt_init(&p);
	if (!v6) {
		pkt_eth(&p, router, src, PKT_ETH_P_IP);
		pkt_ip4(&p, src4, daddr, PKT_IP_TCP, 0, 0x4000);	/* DF */
		pkt_tcp(&p, 40000, 3199);
		pkt_finish(&p);
		pkt_bytes(&p, 60 - p.len, 0);	/* padding to the minimum frame */
	} else {
		pkt_eth(&p, router, src, PKT_ETH_P_IPV6);
		pkt_ip6(&p, src6, daddr, PKT_IP_UDP);
		pkt_udp(&p, 40000, 123);
		*(uint8_t *)pkt_bytes(&p, 48, 0) = 0x23;	/* NTPv4, client mode */
		pkt_finish(&p);
	}
	memset(f, 0, sizeof(*f));
	memcpy(f->b, p.data, p.len);
	f->len = p.len;
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

		if (!strcmp(name, EDPG_MAP_GATEWAYS) || !strcmp(name, EDPG_MAP_GW_FILTER))
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
	/* As the loader writes it for this policy: no static prefixes. */
	struct edpg_config cfg = { .flags = EDPG_F_NO_CIDR4 | EDPG_F_NO_CIDR6 };
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
/* Gateways 0..n-1 and, as the loader does first, their filter bits. */
static int fill_gateways(int fd, int filter_fd, uint32_t n)
{
	uint64_t *words = calloc(EDPG_GW_FILTER_WORDS, sizeof(*words));
	uint32_t *wk = calloc(EDPG_GW_FILTER_WORDS, sizeof(*wk));
	struct edpg_gw_key *k = calloc(n, sizeof(*k));
	struct edpg_gw *v = calloc(n, sizeof(*v));
	uint32_t i;
	int err = -ENOMEM;

	if (!k || !v || !words || !wk)
		goto out;
	for (i = 0; i < n; i++) {
		uint32_t bit;

		gw_mac(i, k[i].mac);
		k[i].gen = 0;
		v[i].slot = i;
		v[i].services = 1U << SID_EDP_TLS | 1U << SID_EDP | 1U << SID_NTP;
		bit = edpg_gw_filter_bit(k[i].mac);
		words[bit >> 6] |= 1ULL << (bit & 63);
	}
	for (i = 0; i < EDPG_GW_FILTER_WORDS; i++)
		wk[i] = i;
	err = update_batch(filter_fd, wk, sizeof(*wk), words, sizeof(*words),
			   EDPG_GW_FILTER_WORDS, "edpg_gw_filter batch");
	err = err ?: update_batch(fd, k, sizeof(*k), v, sizeof(*v), n, "edpg_gateways batch");
out:
	free(words);
	free(wk);
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
		err = fill_gateways(map_fd_of(&insts[gi][0], EDPG_MAP_GATEWAYS),
				    map_fd_of(&insts[gi][0], EDPG_MAP_GW_FILTER), scales[gi]);
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
