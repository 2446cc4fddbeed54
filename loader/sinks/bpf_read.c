// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_read.c - the BPF sink's readers: the live generation, counters,
 * troubleshooting records and the verdict of a private instance, for the
 * commands above the sink (they never see a map).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpfmaps.h"
#include "log.h"
#include "edpgate.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#include "bpf_internal.h"

int edpg_bpf_active_gen(const struct edpg_bpf *b, uint32_t *gen)
{
	struct edpg_ctl ctl;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_CTL], &zero, &ctl))
		return -errno;
	*gen = ctl.gen & 1;
	return 0;
}

int edpg_bpf_gw_get(const struct edpg_bpf *b, const uint8_t mac[6], struct edpg_gw *out)
{
	struct edpg_gw_key k = {};
	uint32_t gen = 0;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	k.gen = gen;
	memcpy(k.mac, mac, 6);
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GATEWAYS], &k, out))
		return -errno;
	return 0;
}

/* ---- counters ---------------------------------------------------------- */

int edpg_bpf_gw_stats(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_stats *out)
{
	struct edpg_gw_stats *pc;
	int err = 0;

	pc = calloc(b->ncpus, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GW_STATS], &slot, pc)) {
		err = -errno;
		goto out;
	}
	for (int c = 0; c < b->ncpus; c++) {
		if (pc[c].last_seen > out->last_seen)
			out->last_seen = pc[c].last_seen;
		for (int r = 0; r < EDPG_R_MAX; r++)
			out->drops[r] += pc[c].drops[r];
		for (int s = 0; s < EDPG_MAX_SERVICES; s++) {
			out->svc[s].packets += pc[c].svc[s].packets;
			out->svc[s].bytes += pc[c].svc[s].bytes;
		}
	}
out:
	free(pc);
	return err;
}

int edpg_bpf_global(const struct edpg_bpf *b, struct edpg_global out[EDPG_R_MAX])
{
	struct edpg_global *pc;
	int err = 0;

	pc = calloc(b->ncpus, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	memset(out, 0, sizeof(*out) * EDPG_R_MAX);
	for (uint32_t r = 0; r < EDPG_R_MAX; r++) {
		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GLOBAL], &r, pc)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < b->ncpus; c++) {
			out[r].pass.packets += pc[c].pass.packets;
			out[r].pass.bytes += pc[c].pass.bytes;
			out[r].drop.packets += pc[c].drop.packets;
			out[r].drop.bytes += pc[c].drop.bytes;
		}
	}
	free(pc);
	return err;
}

/* ---- read back --------------------------------------------------------- */

static int push_dst(struct edpg_desired *out, size_t *cap, int family, const uint8_t *addr,
		    uint8_t plen, uint64_t groups)
{
	struct edpg_want_dst *w;

	if (out->ndsts == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;

		w = realloc(out->dsts, nc * sizeof(*w));
		if (!w)
			return -ENOMEM;
		out->dsts = w;
		*cap = nc;
	}
	w = &out->dsts[out->ndsts++];
	memset(w, 0, sizeof(*w));
	w->addr.family = family;
	w->addr.plen = plen;
	memcpy(w->addr.addr, addr, family == AF_INET ? 4 : 16);
	w->groups = groups;
	return 0;
}

/* The port table of one generation, in batches rather than 131,072 lookups. */
static int read_ports(const struct edpg_bpf *b, uint32_t gen, struct edpg_desired *out)
{
	const uint32_t n = EDPG_NR_GENS * 2 * EDPG_NR_PORTS;
	uint32_t *keys, *vals, batch = 0;
	__u32 count, done = 0;
	int err = 0;

	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n) {
		count = n - done;
		if (bpf_map_lookup_batch(b->map_fd[EDPG_M_PORTS], done ? &batch : NULL, &batch,
					 keys + done, vals + done, &count, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				goto out;
			}
			done += count;
			break;
		}
		done += count;
	}
	for (uint32_t i = 0; i < done; i++) {
		uint32_t k = keys[i], g = k / (2 * EDPG_NR_PORTS);

		if (g == gen)
			out->ports[k / EDPG_NR_PORTS % 2][k % EDPG_NR_PORTS] = vals[i];
	}
out:
	free(keys);
	free(vals);
	return err;
}

static int read_dsts(const struct edpg_bpf *b, int m, uint32_t gen, struct edpg_desired *out,
		     size_t *cap)
{
	const struct edpg_dst_layout *l = &edpg_dst_layouts[m];
	uint8_t *keys = NULL;
	size_t n = 0;
	int err;

	err = edpg_keys_of_gen(b->map_fd[m], l->ksz, l->gen_off, gen, (void **)&keys, &n);
	for (size_t i = 0; i < n && !err; i++) {
		const uint8_t *k = keys + i * l->ksz;
		struct edpg_dst v;	/* edpg_cidr is a prefix of it */
		uint8_t plen = l->family == AF_INET ? 32 : 128;

		if (bpf_map_lookup_elem(b->map_fd[m], k, &v))
			continue;	/* deleted meanwhile */
		if (l->lpm)
			plen = *(const uint32_t *)k - 8;
		err = push_dst(out, cap, l->family, k + l->addr_off, plen, v.groups);
	}
	free(keys);
	return err;
}

int edpg_bpf_read_live(const struct edpg_bpf *b, struct edpg_desired *out)
{
	size_t gcap = 0, dcap = 0;
	uint32_t gen = 0;
	int err;

	/* Caller zeroed *out (it is large and usually heap-allocated). */
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	{
		struct edpg_config cfg;

		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_CONFIG], &gen, &cfg))
			return -errno;
		out->flags = cfg.flags;
	}
	{
		struct edpg_gw_key k, cur, *prev = NULL;
		int fd = b->map_fd[EDPG_M_GATEWAYS];

		while (!bpf_map_get_next_key(fd, prev, &k)) {
			struct edpg_want_gw *w;

			cur = k;
			prev = &cur;
			if (k.gen != gen)
				continue;
			if (out->ngws == gcap) {
				gcap = gcap ? gcap * 2 : 64;
				w = realloc(out->gws, gcap * sizeof(*w));
				if (!w)
					return -ENOMEM;
				out->gws = w;
			}
			w = &out->gws[out->ngws];
			if (bpf_map_lookup_elem(fd, &k, &w->rec))
				continue;	/* deleted meanwhile */
			memcpy(w->mac, k.mac, 6);
			out->ngws++;
		}
	}
	for (uint32_t s = 0; s < EDPG_MAX_SERVICES; s++) {
		uint32_t k = gen * EDPG_MAX_SERVICES + s;
		struct edpg_svc v;

		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_SERVICES], &k, &v))
			return -errno;
		out->svc_groups[s] = v.groups;
	}
	err = read_ports(b, gen, out);
	if (err)
		return err;
	for (int m = EDPG_M_DST4; m <= EDPG_M_CIDR6 && !err; m++)
		err = read_dsts(b, m, gen, out, &dcap);
	return err;
}

int64_t edpg_dp_time_to_wall(uint64_t dp_ns)
{
	struct timespec mt, rt;
	int64_t now_mono;

	if (!dp_ns)
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &mt);
	clock_gettime(CLOCK_REALTIME, &rt);
	now_mono = (int64_t)mt.tv_sec * 1000000000LL + mt.tv_nsec;
	return rt.tv_sec - (now_mono - (int64_t)dp_ns) / 1000000000LL;
}
