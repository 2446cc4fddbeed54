// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpfdst.c - single destinations of the live generation: the in-place
 * writes of a delta (no swap) and the data path's last_used stamps.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "bpfmaps.h"

/* The map and key of @a in generation @gen. */
static int dst_key(const struct edpg_bpf *b, uint32_t gen, const struct edpg_addr *a, int *fd,
		   uint8_t key[20])
{
	memset(key, 0, 20);
	if (a->family == AF_INET) {
		struct edpg_dst4_key *k = (void *)key;

		memcpy(k->addr, a->addr, 4);
		k->gen = gen;
		*fd = b->map_fd[EDPG_M_DST4];
	} else if (a->family == AF_INET6) {
		struct edpg_dst6_key *k = (void *)key;

		memcpy(k->addr, a->addr, 16);
		k->gen = gen;
		*fd = b->map_fd[EDPG_M_DST6];
	} else {
		return -EINVAL;
	}
	return 0;
}

static int live_key(const struct edpg_bpf *b, const struct edpg_addr *a, int *fd, uint8_t key[20])
{
	uint32_t gen = 0;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	return err ?: dst_key(b, gen, a, fd, key);
}

int edpg_bpf_dst_put(struct edpg_bpf *b, const struct edpg_addr *a, uint64_t groups)
{
	struct edpg_dst v = { .groups = groups }, old;
	uint8_t key[20];
	int fd, err;

	err = live_key(b, a, &fd, key);
	if (err)
		return err;
	/* In place: the data path's last_used stamp must survive, and the
	 * key never disappears, so no packet meets a gap. */
	if (!bpf_map_lookup_elem(fd, key, &old))
		v.last_used = old.last_used;
	if (bpf_map_update_elem(fd, key, &v, BPF_ANY))
		return -errno;
	return 0;
}

int edpg_bpf_dst_del(struct edpg_bpf *b, const struct edpg_addr *a)
{
	uint8_t key[20];
	int fd, err;

	err = live_key(b, a, &fd, key);
	if (err)
		return err;
	if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
		return -errno;
	return 0;
}

int edpg_bpf_dst_last_used(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *ns)
{
	struct edpg_dst v;
	uint8_t key[20];
	int fd, err;

	err = live_key(b, a, &fd, key);
	if (err)
		return err;
	if (bpf_map_lookup_elem(fd, key, &v))
		return -errno;
	*ns = v.last_used;
	return 0;
}

int edpg_bpf_dst_last_used_many(const struct edpg_bpf *b, const struct edpg_addr *a, size_t n,
				uint64_t *ns)
{
	uint32_t gen = 0;
	int err;

	/* One generation read for all of them, one lookup each. */
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct edpg_dst v;
		uint8_t key[20];
		int fd;

		ns[i] = 0;
		if (!dst_key(b, gen, &a[i], &fd, key) && !bpf_map_lookup_elem(fd, key, &v))
			ns[i] = v.last_used;
	}
	return 0;
}
