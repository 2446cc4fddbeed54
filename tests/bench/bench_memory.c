// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_memory.c - the kernel memory of the data path's maps, by site size.
 *
 * For each site (N gateways, 4 x N exact addresses, half IPv4, half IPv6,
 * up to the capacity of a family) the program is loaded and pinned the way
 * `edpgate attach` does it (edpg_bpf_load_and_pin), once with the default
 * capacity (sized to the site: edpg_bpf_capacity_for) and once with
 * --max-gateways N when that differs, the site is written into the
 * live generation, and the kernel's own accounting of every map of the
 * program is read (the memlock line of the map's fdinfo, which the kernel
 * computes from what the map holds: for a hash without preallocation,
 * from the elements it has).
 *
 * What grows with the CPU count is computed from the map layout: a per-CPU
 * array holds max_entries x value size (rounded up to 8) for every
 * possible CPU; the figure for C CPUs is the measured total with the
 * per-CPU share for this machine's possible CPUs replaced by C's.
 *
 * Usage: bench_memory [-s SCALES] [-p PINROOT] [-m MD] [-S SUMMARY] [-j JSON]
 * Needs root and a bpffs at PINROOT's parent (default /sys/fs/bpf).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "edpgate.h"
#include "bpfmaps.h"

#define MAX_SCALES	8
#define MAX_MAPS	64
static const int cpu_counts[] = { 2, 4, 16 };
#define NR_CPU_COUNTS	(sizeof(cpu_counts) / sizeof(cpu_counts[0]))

struct map_mem {
	char name[BPF_OBJ_NAME_LEN];
	uint64_t memlock;
	uint64_t percpu_each;	/* per-CPU share for one CPU, 0 when not per-CPU */
};

struct sample {
	uint32_t gateways, addrs, capacity;
	bool dflt;		/* capacity is what attach gives without --max-gateways */
	uint64_t total;
	uint64_t percpu_each;
	int nmaps;
	struct map_mem maps[MAX_MAPS];
};

static int possible_cpus;

static uint64_t fdinfo_memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Every map the program references, as the kernel accounts it. */
static int measure(int prog_fd, struct sample *s)
{
	struct bpf_prog_info pi = {};
	__u32 ids[MAX_MAPS], len = sizeof(pi);

	pi.nr_map_ids = MAX_MAPS;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return -errno;
	s->nmaps = 0;
	s->total = s->percpu_each = 0;
	for (__u32 i = 0; i < pi.nr_map_ids && i < MAX_MAPS; i++) {
		struct bpf_map_info mi = {};
		struct map_mem *m = &s->maps[s->nmaps];
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			return -errno;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			close(fd);
			return -errno;
		}
		snprintf(m->name, sizeof(m->name), "%s", mi.name);
		m->memlock = fdinfo_memlock(fd);
		m->percpu_each = 0;
		if (mi.type == BPF_MAP_TYPE_PERCPU_ARRAY)
			m->percpu_each = (uint64_t)mi.max_entries * ((mi.value_size + 7) & ~7U);
		s->total += m->memlock;
		s->percpu_each += m->percpu_each;
		s->nmaps++;
		close(fd);
	}
	return 0;
}

static uint64_t at_cpus(const struct sample *s, int cpus)
{
	return s->total - s->percpu_each * possible_cpus + s->percpu_each * cpus;
}

/* One batched update, looping in case the kernel takes fewer at once. */
static int batch(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t done = 0;

	while (done < n) {
		uint32_t cnt = n - done;

		if (bpf_map_update_batch(fd, (const char *)keys + done * ksz,
					 (const char *)vals + done * vsz, &cnt, &o))
			return -errno;
		if (!cnt)
			return -EIO;
		done += cnt;
	}
	return 0;
}

/* The site, in the live generation (0 after a fresh load). */
static int fill(const struct edpg_bpf *b, uint32_t ngw, uint32_t naddr)
{
	uint32_t n4 = naddr / 2, n6 = naddr - naddr / 2;
	struct edpg_gw_key *gk = calloc(ngw, sizeof(*gk));
	struct edpg_gw *gv = calloc(ngw, sizeof(*gv));
	struct edpg_dst4_key *k4 = calloc(n4 ? n4 : 1, sizeof(*k4));
	struct edpg_dst6_key *k6 = calloc(n6 ? n6 : 1, sizeof(*k6));
	struct edpg_dst *dv = calloc(n6 > n4 ? n6 : n4 ? n4 : 1, sizeof(*dv));
	int err = -ENOMEM;

	if (!gk || !gv || !k4 || !k6 || !dv)
		goto out;
	for (uint32_t i = 0; i < ngw; i++) {
		gk[i].mac[0] = 0x00;
		gk[i].mac[1] = 0x40;
		gk[i].mac[2] = 0x9d;
		gk[i].mac[3] = i >> 16;
		gk[i].mac[4] = i >> 8;
		gk[i].mac[5] = i;
		gv[i].slot = i;
		gv[i].services = 1;
	}
	for (uint32_t i = 0; i < (n6 > n4 ? n6 : n4); i++)
		dv[i].groups = 1;
	for (uint32_t i = 0; i < n4; i++) {
		k4[i].addr[0] = 10;
		k4[i].addr[1] = i >> 16;
		k4[i].addr[2] = i >> 8;
		k4[i].addr[3] = i;
	}
	for (uint32_t i = 0; i < n6; i++) {
		k6[i].addr[0] = 0x20;
		k6[i].addr[1] = 0x01;
		k6[i].addr[13] = i >> 16;
		k6[i].addr[14] = i >> 8;
		k6[i].addr[15] = i;
	}
	err = batch(b->map_fd[EDPG_M_GATEWAYS], gk, sizeof(*gk), gv, sizeof(*gv), ngw);
	err = err ?: n4 ? batch(b->map_fd[EDPG_M_DST4], k4, sizeof(*k4), dv, sizeof(*dv), n4) : 0;
	err = err ?: n6 ? batch(b->map_fd[EDPG_M_DST6], k6, sizeof(*k6), dv, sizeof(*dv), n6) : 0;
out:
	free(gk);
	free(gv);
	free(k4);
	free(k6);
	free(dv);
	return err;
}

static int run_one(const char *pin_dir, struct sample *s)
{
	struct edpg_load_opts lo = { .max_gateways = s->capacity };
	struct edpg_bpf b;
	int err;

	edpg_bpf_init(&b);
	err = edpg_bpf_load_and_pin(&b, pin_dir, &lo);
	if (err)
		return err;
	err = fill(&b, s->gateways, s->addrs);
	if (err)
		fprintf(stderr, "bench_memory: cannot write %u gateways / %u addresses: %s\n",
			s->gateways, s->addrs, strerror(-err));
	err = err ?: measure(b.prog_fd, s);
	edpg_bpf_close(&b);
	edpg_bpf_unpin_all(pin_dir);
	rmdir(pin_dir);
	return err;
}

static double mib(uint64_t v)
{
	return v / 1048576.0;
}

static const char *verdict(double v, double limit)
{
	return v <= limit ? "PASS" : "MISS";
}

/* The report section: one row per sample, its three largest maps. */
static void write_md(FILE *md, const struct sample *ss, int ns)
{
	fprintf(md, "## Kernel memory of the maps\n\n");
	fprintf(md, "The program loaded and pinned as `edpgate attach` does it, the site written into the live generation (N gateways, 4 x N exact addresses half IPv4 half IPv6, at most %u per family), then the kernel's own accounting of every map of the program (fdinfo `memlock`).  "
		"This machine has %d possible CPUs; the columns for 2, 4 and 16 CPUs replace the per-CPU arrays' share (max_entries x value size x CPUs) by that CPU count's.  "
		"*default* is the capacity `attach` gives without `--max-gateways` (room for 1.5 times the site, a power of two, %u..%u; it grows with the site); *fixed* is `--max-gateways N`.\n\n",
		EDPG_MAX_DST, possible_cpus, EDPG_MIN_CAPACITY, EDPG_MAX_GATEWAYS);
	fprintf(md, "| gateways | addresses | capacity | MiB here | 2 CPUs | 4 CPUs | 16 CPUs | largest maps here (MiB) |\n");
	fprintf(md, "|---:|---:|---|---:|---:|---:|---:|---|\n");
	for (int i = 0; i < ns; i++) {
		const struct sample *s = &ss[i];
		int top[3] = { -1, -1, -1 };

		for (int m = 0; m < s->nmaps; m++)
			for (int t = 0; t < 3; t++)
				if (top[t] < 0 || s->maps[m].memlock > s->maps[top[t]].memlock) {
					memmove(&top[t + 1], &top[t], (2 - t) * sizeof(int));
					top[t] = m;
					break;
				}
		fprintf(md, "| %u | %u | %s %u | %.1f | %.1f | %.1f | %.1f |", s->gateways, s->addrs,
			s->dflt ? "default" : "fixed", s->capacity,
			mib(s->total), mib(at_cpus(s, 2)), mib(at_cpus(s, 4)), mib(at_cpus(s, 16)));
		for (int t = 0; t < 3; t++)
			if (top[t] >= 0)
				fprintf(md, " %s %.1f%s", s->maps[top[t]].name, mib(s->maps[top[t]].memlock),
					t < 2 ? "," : "");
		fprintf(md, " |\n");
	}
	fprintf(md, "\n");
}

/* The goal rows of issue 18, at the default capacity. */
static void write_summary(FILE *sum, const struct sample *ss, int ns)
{
	for (int i = 0; i < ns; i++) {
		const struct sample *s = &ss[i];

		if (!s->dflt)
			continue;
		if (s->gateways == 256) {
			fprintf(sum, "memory\tkernel memory, default capacity, %u gateways / %u addresses, this machine (%d CPUs)\t%.1f MiB\t<= 8 MiB\t%s\n",
				s->gateways, s->addrs, possible_cpus, mib(s->total),
				verdict(mib(s->total), 8));
			fprintf(sum, "memory\tsame, computed for 16 CPUs\t%.1f MiB\t<= 16 MiB\t%s\n",
				mib(at_cpus(s, 16)), verdict(mib(at_cpus(s, 16)), 16));
		} else if (s->gateways == 65536) {
			fprintf(sum, "memory\tkernel memory, %u gateways, this machine (%d CPUs)\t%.1f MiB\t<= 64 MiB\t%s\n",
				s->gateways, possible_cpus, mib(s->total),
				verdict(mib(s->total), 64));
		}
	}
	for (int i = 0; i < ns; i++)
		if (!ss[i].dflt && ss[i].capacity == 256)
			fprintf(sum, "memory\t256 gateways with --max-gateways 256, this machine / 16 CPUs\t%.1f / %.1f MiB\t-\t-\n",
				mib(ss[i].total), mib(at_cpus(&ss[i], 16)));
}

static void write_json(FILE *js, const struct sample *ss, int ns)
{
	fprintf(js, "{\"possible_cpus\": %d, \"samples\": [", possible_cpus);
	for (int i = 0; i < ns; i++) {
		const struct sample *s = &ss[i];

		fprintf(js, "%s{\"gateways\": %u, \"addresses\": %u, \"capacity\": %u, \"bytes\": %llu, \"bytes_at_cpus\": {",
			i ? ", " : "", s->gateways, s->addrs,
			s->capacity, (unsigned long long)s->total);
		for (size_t c = 0; c < NR_CPU_COUNTS; c++)
			fprintf(js, "%s\"%d\": %llu", c ? ", " : "", cpu_counts[c],
				(unsigned long long)at_cpus(s, cpu_counts[c]));
		fprintf(js, "}, \"maps\": {");
		for (int m = 0; m < s->nmaps; m++)
			fprintf(js, "%s\"%s\": %llu", m ? ", " : "", s->maps[m].name,
				(unsigned long long)s->maps[m].memlock);
		fprintf(js, "}}");
	}
	fprintf(js, "]}\n");
}

int main(int argc, char **argv)
{
	uint32_t scales[MAX_SCALES] = { 16, 256, 4096, 65536 };
	const char *pinroot = "/sys/fs/bpf", *md_path = NULL, *sum_path = NULL, *json_path = NULL;
	struct sample *ss = NULL;
	int nscales = 4, ns = 0, opt, err = 0;
	char pin_dir[256];
	FILE *md = stdout, *sum = NULL, *js = NULL;

	while ((opt = getopt(argc, argv, "s:p:m:S:j:h")) != -1) {
		switch (opt) {
		case 's': {
			char *tok, *save = NULL;

			nscales = 0;
			for (tok = strtok_r(optarg, ",", &save); tok && nscales < MAX_SCALES;
			     tok = strtok_r(NULL, ",", &save))
				scales[nscales++] = strtoul(tok, NULL, 10);
			break;
		}
		case 'p':
			pinroot = optarg;
			break;
		case 'm':
			md_path = optarg;
			break;
		case 'S':
			sum_path = optarg;
			break;
		case 'j':
			json_path = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_memory [-s SCALES] [-p PINROOT] [-m MD] [-S SUMMARY] [-j JSON]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	possible_cpus = libbpf_num_possible_cpus();
	if (possible_cpus <= 0) {
		fprintf(stderr, "bench_memory: cannot count the possible CPUs\n");
		return 1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s/edpg-bench-mem-%d", pinroot, (int)getpid());
	ss = calloc(2 * nscales, sizeof(*ss));
	if (!ss)
		return 1;
	for (int i = 0; i < nscales && !err; i++) {
		for (int c = 0; c < 2 && !err; c++) {
			struct sample *s = &ss[ns];
			uint32_t cap = c ? scales[i] : edpg_bpf_capacity_for(scales[i]);
			uint32_t per_family = 2 * scales[i];

			s->gateways = scales[i];
			if (per_family > EDPG_MAX_DST)
				per_family = EDPG_MAX_DST;
			s->addrs = 2 * per_family;
			s->capacity = cap;
			s->dflt = !c;
			if (c && cap == edpg_bpf_capacity_for(scales[i]))
				continue;	/* the same as the default */
			err = run_one(pin_dir, s);
			if (err)
				fprintf(stderr, "bench_memory: %u gateways: %s\n", s->gateways,
					strerror(-err));
			else
				ns++;
		}
	}
	if (err) {
		free(ss);
		return 1;
	}
	if (md_path && !(md = fopen(md_path, "w")))
		md = stdout;
	write_md(md, ss, ns);
	if (sum_path && (sum = fopen(sum_path, "w"))) {
		write_summary(sum, ss, ns);
		fclose(sum);
	}
	if (json_path && (js = fopen(json_path, "w"))) {
		write_json(js, ss, ns);
		fclose(js);
	}
	if (md != stdout)
		fclose(md);
	free(ss);
	return 0;
}
