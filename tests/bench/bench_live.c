// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_live.c - the tools of the live-traffic benchmark (scripts/bench-live.sh).
 *
 *   bench_live gen DEV SECONDS FRAME-OPTIONS
 *	Sends 64-byte frames (60 bytes + the FCS a veth does not carry) out of
 *	DEV for SECONDS: the XDP_TX generator (bpf/trafficgen.bpf.c) run with
 *	BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES, ingress_ifindex =
 *	DEV, so every repetition is transmitted into DEV's veth peer.  Prints
 *	"SENT NS": frames handed to the kernel and the nanoseconds it took.
 *	SENT is for the report only; the benchmark counts at the receiver.
 *	FRAME-OPTIONS: -s SRCMAC -d DSTMAC -S SRCIP -D DSTIP [-p tcp|udp] [-P PORT]
 *	[-f STOPFILE]: stop early, between two test-run calls, once STOPFILE
 *	exists; SENT is then exact (a signal would cut a call short at a
 *	count nobody knows), which is what tests/e2e/test_load.sh counts on.
 *   bench_live sink PINDIR DEV
 *	Attaches the counting XDP_DROP sink (bpf/sink.bpf.c) to DEV with a
 *	bpf_link pinned as PINDIR/link_DEV, its counter as PINDIR/count_DEV.
 *	Removing both pins detaches it.
 *   bench_live count MAP
 *	Prints the sum over CPUs of the pinned per-CPU u64 counter MAP[0].
 *   bench_live edpg PINDIR REASON pass|drop
 *	Prints edpgate's own packet count for REASON (an EDPG_R_* number) from
 *	the pinned edpg_global map, summed over CPUs.
 *
 * Exit: 0, 1 on an error, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "edpgate.h"
#include "pkt.h"
#include "sink.skel.h"
#include "trafficgen.skel.h"

#define FRAME_LEN	60
#define GEN_REPEAT	(1U << 18)	/* frames per test-run call */
#define GEN_BATCH	64		/* frames per page-pool batch */

static const char *stop_file;		/* gen -f */

static int err_ret(int err, const char *what)
{
	fprintf(stderr, "bench_live: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: bench_live gen DEV SECONDS -s SRCMAC -d DSTMAC -S SRCIP -D DSTIP [-p tcp|udp] [-P PORT]\n"
		"                      [-f STOPFILE]\n"
		"       bench_live sink PINDIR DEV\n"
		"       bench_live count MAP\n"
		"       bench_live edpg PINDIR REASON pass|drop\n");
	return 2;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}

/*
 * IPv4 with a valid header checksum (the router's stack checks it before
 * forwarding; pkt_finish writes it), TTL 64, and a TCP SYN or a UDP
 * datagram to PORT; L4 checksums stay 0: neither filter nor forwarding
 * reads them.
 */
static int build_frame(int argc, char **argv, uint8_t f[FRAME_LEN])
{
	uint8_t smac[6], dmac[6], saddr[4], daddr[4];
	int c, have = 0, udp = 0;
	unsigned long port = 3199;
	struct pkt p;

	while ((c = getopt(argc, argv, "s:d:S:D:p:P:f:")) != -1) {
		switch (c) {
		case 'f':
			stop_file = optarg;
			break;
		case 's':
			if (parse_mac(optarg, smac))
				return -EINVAL;
			have |= 1;
			break;
		case 'd':
			if (parse_mac(optarg, dmac))
				return -EINVAL;
			have |= 2;
			break;
		case 'S':
			if (pkt_addr4(optarg, saddr))
				return -EINVAL;
			have |= 4;
			break;
		case 'D':
			if (pkt_addr4(optarg, daddr))
				return -EINVAL;
			have |= 8;
			break;
		case 'p':
			if (strcmp(optarg, "tcp") && strcmp(optarg, "udp"))
				return -EINVAL;
			udp = !strcmp(optarg, "udp");
			break;
		case 'P':
			port = strtoul(optarg, NULL, 10);
			if (port < 1 || port > 65535)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	if (have != 15 || optind != argc)
		return -EINVAL;
	pkt_init(&p);
	pkt_eth(&p, dmac, smac, PKT_ETH_P_IP);
	pkt_ip4(&p, saddr, daddr, udp ? PKT_IP_UDP : PKT_IP_TCP, 0, 0x4000);	/* DF */
	if (udp)
		pkt_udp(&p, 40000, port);
	else
		pkt_tcp(&p, 40000, port);
	pkt_bytes(&p, FRAME_LEN - p.len, 0);	/* fill the minimum frame: 46 bytes of IP */
	if (pkt_finish(&p) || p.len != FRAME_LEN)
		return -EINVAL;
	memcpy(f, p.data, FRAME_LEN);
	return 0;
}

static int do_gen(int argc, char **argv)
{
	struct xdp_md ctx_in = {};
	uint8_t frame[FRAME_LEN];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = frame,
		    .data_size_in = sizeof(frame),
		    .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in),
		    .repeat = GEN_REPEAT,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = GEN_BATCH);
	struct trafficgen *skel;
	unsigned long long sent = 0;
	double secs, t0, t1;
	int fd, err = 0;

	if (argc < 3)
		return usage();
	/* The kernel wants the context to describe the frame: data_end = its length. */
	ctx_in.data_end = sizeof(frame);
	ctx_in.ingress_ifindex = if_nametoindex(argv[1]);
	if (!ctx_in.ingress_ifindex)
		return err_ret(-errno, argv[1]);
	secs = strtod(argv[2], NULL);
	if (secs <= 0 || secs > 600)
		return usage();
	optind = 3;
	if (build_frame(argc, argv, frame))
		return usage();

	skel = trafficgen__open();
	if (!skel)
		return err_ret(-errno, "cannot open the generator");
	/* The headers it restores in every frame (see trafficgen.bpf.c). */
	memcpy((void *)skel->rodata->frame_hdr, frame, sizeof(skel->rodata->frame_hdr));
	err = trafficgen__load(skel);
	if (err) {
		err = err_ret(err, "cannot load the generator");
		goto out;
	}
	fd = bpf_program__fd(skel->progs.edpgate_trafficgen);
	t0 = now_ns();
	do {
		if (bpf_prog_test_run_opts(fd, &opts)) {
			err = err_ret(-errno, "live-frames test run");
			goto out;
		}
		sent += GEN_REPEAT;
		t1 = now_ns();
		if (stop_file && !access(stop_file, F_OK))
			break;
	} while (t1 - t0 < secs * 1e9);
	printf("%llu %.0f\n", sent, t1 - t0);
out:
	trafficgen__destroy(skel);
	return err;
}

static int do_sink(int argc, char **argv)
{
	char path[PATH_MAX];
	struct bpf_link *link = NULL;
	struct sink *skel;
	int ifindex, err = 1;

	if (argc != 3)
		return usage();
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex)
		return err_ret(-errno, argv[2]);
	skel = sink__open_and_load();
	if (!skel)
		return err_ret(-errno, "cannot load the sink");
	link = bpf_program__attach_xdp(skel->progs.edpgate_sink, ifindex);
	if (!link) {
		err_ret(-errno, "cannot attach the sink");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/count_%s", argv[1], argv[2]);
	if (bpf_map__pin(skel->maps.sink_count, path)) {
		err_ret(-errno, path);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/link_%s", argv[1], argv[2]);
	if (bpf_link__pin(link, path)) {
		err_ret(-errno, path);
		snprintf(path, sizeof(path), "%s/count_%s", argv[1], argv[2]);
		unlink(path);
		goto out;
	}
	err = 0;
out:
	/* The pinned link keeps the program attached after we exit. */
	bpf_link__destroy(link);
	sink__destroy(skel);
	return err;
}

static int sum_percpu(int fd, uint32_t key, size_t vsz, size_t off, unsigned long long *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, err = 0;
	uint8_t *v;

	if (ncpu < 1)
		return ncpu;
	v = calloc(ncpu, vsz);
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		err = -errno;
		goto out;
	}
	*out = 0;
	for (i = 0; i < ncpu; i++) {
		uint64_t x;

		memcpy(&x, v + (size_t)i * vsz + off, sizeof(x));
		*out += x;
	}
out:
	free(v);
	return err;
}

static int do_count(int argc, char **argv)
{
	unsigned long long n;
	int fd, err;

	if (argc != 2)
		return usage();
	fd = bpf_obj_get(argv[1]);
	if (fd < 0)
		return err_ret(-errno, argv[1]);
	err = sum_percpu(fd, 0, sizeof(uint64_t), 0, &n);
	close(fd);
	if (err)
		return err_ret(err, argv[1]);
	printf("%llu\n", n);
	return 0;
}

static int do_edpg(int argc, char **argv)
{
	char path[PATH_MAX];
	unsigned long long n;
	unsigned long reason;
	size_t off;
	int fd, err;

	if (argc != 4)
		return usage();
	reason = strtoul(argv[2], NULL, 10);
	if (reason >= EDPG_R_MAX)
		return usage();
	if (!strcmp(argv[3], "pass"))
		off = offsetof(struct edpg_global, pass.packets);
	else if (!strcmp(argv[3], "drop"))
		off = offsetof(struct edpg_global, drop.packets);
	else
		return usage();
	snprintf(path, sizeof(path), "%s/%s", argv[1], EDPG_MAP_GLOBAL);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return err_ret(-errno, path);
	err = sum_percpu(fd, reason, sizeof(struct edpg_global), off, &n);
	close(fd);
	if (err)
		return err_ret(err, path);
	printf("%llu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	libbpf_set_print(libbpf_quiet);
	if (!strcmp(argv[1], "gen"))
		return do_gen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sink"))
		return do_sink(argc - 1, argv + 1);
	if (!strcmp(argv[1], "count"))
		return do_count(argc - 1, argv + 1);
	if (!strcmp(argv[1], "edpg"))
		return do_edpg(argc - 1, argv + 1);
	return usage();
}
