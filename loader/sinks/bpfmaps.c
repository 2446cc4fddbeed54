// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpfmaps.c - the BPF sink's policy writer: a whole desired state
 * written into the idle generation and swapped in, or single gateways put
 * into the live one.  The objects are in bpf_object.c, the readers in
 * bpf_read.c, the upgrade in bpf_upgrade.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_internal.h"
#include "bpfmaps.h"
#include "log.h"

/* ---- policy writes ----------------------------------------------------- */

/* Collect every key of generation @gen (the byte at @gen_off) of a hash or
 * LPM map, so a whole generation can be deleted. */
int edpg_keys_of_gen(int fd, size_t ksz, size_t gen_off, uint32_t gen, void **keys, size_t *n)
{
	uint8_t cur[64], next[64];
	uint8_t *v = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		if (next[gen_off] == gen) {
			if (cnt == cap) {
				cap = cap ? cap * 2 : 256;
				tmp = realloc(v, cap * ksz);
				if (!tmp) {
					free(v);
					return -ENOMEM;
				}
				v = tmp;
			}
			memcpy(v + cnt * ksz, next, ksz);
			cnt++;
		}
		memcpy(cur, next, ksz);
		prev = cur;
	}
	if (errno != ENOENT) {
		free(v);
		return -errno;
	}
	*keys = v;
	*n = cnt;
	return 0;
}

static int delete_gen(int fd, size_t ksz, size_t gen_off, uint32_t gen)
{
	void *keys = NULL;
	size_t n = 0;
	int err;

	err = edpg_keys_of_gen(fd, ksz, gen_off, gen, &keys, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, (uint8_t *)keys + i * ksz) && errno != ENOENT) {
			err = -errno;
			break;
		}
	free(keys);
	return err;
}

const struct edpg_dst_layout edpg_dst_layouts[EDPG_M_MAX] = {
	[EDPG_M_DST4] = { sizeof(struct edpg_dst4_key), GEN_OFF(struct edpg_dst4_key, gen),
			  GEN_OFF(struct edpg_dst4_key, addr), AF_INET, false },
	[EDPG_M_DST6] = { sizeof(struct edpg_dst6_key), GEN_OFF(struct edpg_dst6_key, gen),
			  GEN_OFF(struct edpg_dst6_key, addr), AF_INET6, false },
	[EDPG_M_CIDR4] = { sizeof(struct edpg_cidr4_key), GEN_OFF(struct edpg_cidr4_key, gen),
			   GEN_OFF(struct edpg_cidr4_key, addr), AF_INET, true },
	[EDPG_M_CIDR6] = { sizeof(struct edpg_cidr6_key), GEN_OFF(struct edpg_cidr6_key, gen),
			   GEN_OFF(struct edpg_cidr6_key, addr), AF_INET6, true },
};

static int delete_generation(struct edpg_bpf *b, uint32_t gen)
{
	int err;

	err = delete_gen(b->map_fd[EDPG_M_GATEWAYS], sizeof(struct edpg_gw_key),
			 GEN_OFF(struct edpg_gw_key, gen), gen);
	for (int m = EDPG_M_DST4; m <= EDPG_M_CIDR6 && !err; m++)
		err = delete_gen(b->map_fd[m], edpg_dst_layouts[m].ksz, edpg_dst_layouts[m].gen_off, gen);
	return err;
}

/* Slots: a gateway keeps its counter slot for as long as it is enrolled.
 * The map of MAC -> slot is whatever the live generation says. */
struct live_slot {
	uint64_t mac;		/* the 6 bytes, big-endian: sorts as the text */
	uint32_t slot;
};

struct slots {
	uint8_t *used;		/* max_gateways bytes */
	uint32_t next;
	uint32_t *fresh;	/* allocated; counters zeroed by slots_zero() */
	size_t nfresh, capfresh;
	struct live_slot *live;	/* the generation's gateways, by MAC */
	size_t nlive;
	bool indexed;		/* live is the whole generation */
};

static uint64_t mac_key(const uint8_t mac[6])
{
	uint64_t k = 0;

	for (int i = 0; i < 6; i++)
		k = k << 8 | mac[i];
	return k;
}

static int live_cmp(const void *a, const void *b)
{
	const struct live_slot *x = a, *y = b;

	return x->mac < y->mac ? -1 : x->mac > y->mac;
}

/*
 * Which slots the generation's gateways hold (@mark), and with @index
 * their MAC -> slot pairs, sorted for slots_find().  Read with batched
 * lookups: a lookup per gateway is 10,000 syscalls for an import of
 * 10,000; for one gateway it is one, cheaper than sorting the site.
 */
static int slots_load(struct edpg_bpf *b, uint32_t gen, struct slots *sl, bool mark, bool index)
{
	const __u32 chunk = 1024;
	struct edpg_gw_key *keys = NULL;
	struct edpg_gw *vals = NULL;
	struct live_slot *nl;
	size_t cap = 0;
	__u64 batch = 0;
	bool first = true, last = false;
	int fd = b->map_fd[EDPG_M_GATEWAYS];
	int err = 0;

	sl->used = calloc(b->max_gateways, 1);
	sl->next = 0;
	keys = calloc(chunk, sizeof(*keys));
	vals = calloc(chunk, sizeof(*vals));
	if (!sl->used || !keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!last) {
		__u32 n = chunk;

		if (bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &n, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				goto out;
			}
			last = true;	/* n holds the final entries */
		}
		first = false;
		for (__u32 i = 0; i < n; i++) {
			if (keys[i].gen != gen || vals[i].slot >= b->max_gateways)
				continue;
			if (mark)
				sl->used[vals[i].slot] = 1;
			if (!index)
				continue;
			if (sl->nlive == cap) {
				cap = cap ? 2 * cap : 1024;
				nl = realloc(sl->live, cap * sizeof(*nl));
				if (!nl) {
					err = -ENOMEM;
					goto out;
				}
				sl->live = nl;
			}
			sl->live[sl->nlive].mac = mac_key(keys[i].mac);
			sl->live[sl->nlive++].slot = vals[i].slot;
		}
	}
	if (sl->nlive)
		qsort(sl->live, sl->nlive, sizeof(*sl->live), live_cmp);
	sl->indexed = index;
out:
	free(keys);
	free(vals);
	if (err) {
		free(sl->used);
		free(sl->live);
		sl->used = NULL;
		sl->live = NULL;
		sl->nlive = 0;
	}
	return err;
}

static int lookup_slot(struct edpg_bpf *b, const uint8_t mac[6], uint32_t gen, uint32_t *slot)
{
	struct edpg_gw_key k = { .gen = gen };
	struct edpg_gw v;

	memcpy(k.mac, mac, 6);
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GATEWAYS], &k, &v))
		return -errno;
	*slot = v.slot;
	return 0;
}

/* @mac's slot in generation @gen: from the index slots_load() made, else
 * from the map; -ENOENT: not there. */
static int slots_find(struct edpg_bpf *b, const struct slots *sl, uint32_t gen,
		      const uint8_t mac[6], uint32_t *slot)
{
	struct live_slot k = { .mac = mac_key(mac) }, *hit;

	if (!sl->indexed) {
		int err = lookup_slot(b, mac, gen, slot);

		return err ?: *slot < b->max_gateways ? 0 : -ENOENT;
	}

	hit = sl->nlive ? bsearch(&k, sl->live, sl->nlive, sizeof(k), live_cmp) : NULL;
	if (!hit)
		return -ENOENT;
	*slot = hit->slot;
	return 0;
}

/* @n slots of the per-CPU array @fd set to @zero, @chunk slots a call. */
static int zero_slots(int fd, const uint32_t *slots, size_t n, const void *zero, size_t chunk)
{
	for (size_t i = 0; i < n; i += chunk) {
		__u32 cnt = n - i < chunk ? n - i : chunk;

		if (!bpf_map_update_batch(fd, &slots[i], zero, &cnt, NULL))
			continue;
		/* Kernels without batch ops on arrays: one slot at a time. */
		if (errno != EINVAL && errno != EOPNOTSUPP && errno != 524)
			return -errno;
		for (size_t k = i; k < n; k++)
			if (bpf_map_update_elem(fd, &slots[k], zero, BPF_ANY))
				return -errno;
		return 0;
	}
	return 0;
}

/*
 * The rows of the slot-keyed hash @fd (the cold rows, the carry) whose
 * slot is marked in @fresh: deleted.  Walked by key, not by fresh slot:
 * the hash holds only the gateways that dropped (or were carried), so an
 * import of 10,000 fresh slots is not 10,000 deletes of absent rows.
 */
static int hash_rows_drop(int fd, const uint8_t *fresh, uint32_t nslots)
{
	__u32 key, next, *del = NULL, *nd;
	size_t n = 0, cap = 0;
	int err = 0;

	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &key) {
		key = next;
		if (key >= nslots || !fresh[key])
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			nd = realloc(del, cap * sizeof(*del));
			if (!nd) {
				err = -ENOMEM;
				goto out;
			}
			del = nd;
		}
		del[n++] = key;
	}
	if (errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, &del[i]) && errno != ENOENT) {
			err = -errno;
			break;
		}
out:
	free(del);
	return err;
}

/*
 * A fresh slot's counters and drop records are emptied (they may hold a
 * deleted gateway's; doctor must not blame a new gateway for an old one's
 * drops), before any gateway record points at it.  The hot rows in
 * batches (an import of 10,000 was 10,000 syscalls one slot at a time);
 * the cold rows and the carry by walking their few keys.
 */
static int slots_zero(struct edpg_bpf *b, struct slots *sl)
{
	size_t vsz = ROUND8(sizeof(struct edpg_gw_hot)) * b->ncpus;
	size_t chunk = 65536 / vsz ? 65536 / vsz : 1;
	uint8_t *fresh = NULL;
	void *zero;
	int err;

	if (!sl->nfresh)
		return 0;
	zero = calloc(chunk, vsz);
	fresh = calloc(b->max_gateways, 1);
	if (!zero || !fresh) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sl->nfresh; i++)
		if (sl->fresh[i] < b->max_gateways)
			fresh[sl->fresh[i]] = 1;
	err = zero_slots(b->map_fd[EDPG_M_GW_STATS], sl->fresh, sl->nfresh, zero, chunk);
	err = err ?: hash_rows_drop(b->map_fd[EDPG_M_GW_COLD], fresh, b->max_gateways);
	/* And what a growth carried for the deleted gateway (bpf_grow.c). */
	if (!err && b->carry_fd >= 0)
		err = hash_rows_drop(b->carry_fd, fresh, b->max_gateways);
	if (!err)
		sl->nfresh = 0;
out:
	free(zero);
	free(fresh);
	return err;
}

static void slots_free(struct slots *sl)
{
	free(sl->used);
	free(sl->fresh);
	free(sl->live);
	sl->used = NULL;
	sl->fresh = NULL;
	sl->live = NULL;
	sl->nlive = 0;
	sl->indexed = false;
}

/* A free slot, marked used and listed for slots_zero(). */
static int slot_alloc(struct edpg_bpf *b, struct slots *sl, uint32_t *slot)
{
	for (; sl->next < b->max_gateways; sl->next++) {
		if (sl->used[sl->next])
			continue;
		if (sl->nfresh == sl->capfresh) {
			size_t cap = sl->capfresh ? 2 * sl->capfresh : 64;
			uint32_t *f = realloc(sl->fresh, cap * sizeof(*f));

			if (!f)
				return -ENOMEM;
			sl->fresh = f;
			sl->capfresh = cap;
		}
		sl->used[sl->next] = 1;
		*slot = sl->next;
		sl->fresh[sl->nfresh++] = *slot;
		return 0;
	}
	return edpg_err(-ENOSPC, "no free gateway slot (capacity %u); delete gateways, or `edpgate detach --all` and attach again with a larger --max-gateways",
			b->max_gateways);
}

/*
 * Checked before anything is written: found only when the slots run out,
 * the gateways file (written first) and the nft table (pushed first) would
 * already name gateways the maps cannot hold.
 */
int edpg_bpf_room(const struct edpg_bpf *b, size_t ngws)
{
	if (ngws <= b->max_gateways)
		return 0;
	edpg_err(0, "%zu gateways, but the loaded program has room for %u (--max-gateways %u); nothing was changed: delete gateways, or `edpgate detach --all` and attach again with a larger --max-gateways",
		 ngws, b->max_gateways, b->max_gateways);
	return -ENOSPC;
}

static int write_ports(struct edpg_bpf *b, const struct edpg_desired *d, uint32_t gen)
{
	const uint32_t n = 2 * EDPG_NR_PORTS;
	uint32_t *keys, *vals;
	__u32 count = n;
	int err = 0;

	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t p = 0; p < 2; p++)
		for (uint32_t port = 0; port < EDPG_NR_PORTS; port++) {
			keys[p * EDPG_NR_PORTS + port] = edpg_port_index(gen, p, port);
			vals[p * EDPG_NR_PORTS + port] = d->ports[p][port];
		}
	/* One syscall for the whole table of this generation. */
	if (bpf_map_update_batch(b->map_fd[EDPG_M_PORTS], keys, vals, &count, NULL))
		err = -errno;
out:
	free(keys);
	free(vals);
	return err;
}

static int write_dst(struct edpg_bpf *b, const struct edpg_want_dst *w, uint32_t gen,
		     uint32_t oldgen)
{
	int err = 0;

	if (w->addr.family == AF_INET && w->addr.plen == 32) {
		struct edpg_dst4_key k = { .gen = gen }, ok = { .gen = oldgen };
		struct edpg_dst v = { .groups = w->groups }, ov;

		memcpy(k.addr, w->addr.addr, 4);
		memcpy(ok.addr, w->addr.addr, 4);
		/* last_used survives the swap: the grace logic needs it. */
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_DST4], &ok, &ov))
			v.last_used = ov.last_used;
		err = bpf_map_update_elem(b->map_fd[EDPG_M_DST4], &k, &v, BPF_ANY);
	} else if (w->addr.family == AF_INET6 && w->addr.plen == 128) {
		struct edpg_dst6_key k = { .gen = gen }, ok = { .gen = oldgen };
		struct edpg_dst v = { .groups = w->groups }, ov;

		memcpy(k.addr, w->addr.addr, 16);
		memcpy(ok.addr, w->addr.addr, 16);
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_DST6], &ok, &ov))
			v.last_used = ov.last_used;
		err = bpf_map_update_elem(b->map_fd[EDPG_M_DST6], &k, &v, BPF_ANY);
	} else if (w->addr.family == AF_INET) {
		struct edpg_cidr4_key k = { .prefixlen = 8 + w->addr.plen, .gen = gen };
		struct edpg_cidr v = { .groups = w->groups };

		memcpy(k.addr, w->addr.addr, 4);
		err = bpf_map_update_elem(b->map_fd[EDPG_M_CIDR4], &k, &v, BPF_ANY);
	} else {
		struct edpg_cidr6_key k = { .prefixlen = 8 + w->addr.plen, .gen = gen };
		struct edpg_cidr v = { .groups = w->groups };

		memcpy(k.addr, w->addr.addr, 16);
		err = bpf_map_update_elem(b->map_fd[EDPG_M_CIDR6], &k, &v, BPF_ANY);
	}
	return err ? -errno : 0;
}

/* A site's worth of bits is read and written as whole-array batches. */
#define FILTER_BATCH_FROM	32

static int filter_word_set(int fd, uint32_t bit)
{
	uint32_t w = bit >> 6;
	uint64_t word;

	if (bpf_map_lookup_elem(fd, &w, &word))
		return -errno;
	if (word & 1ULL << (bit & 63))
		return 0;
	word |= 1ULL << (bit & 63);
	return bpf_map_update_elem(fd, &w, &word, BPF_ANY) ? -errno : 0;
}

/*
 * Set the edpg_gw_filter bits of @n gateways (edpgate.h) before their
 * records are written: the data path never looks up a MAC whose bit is
 * clear.  Read, or, write back: the state lock (edpg_lock) makes this
 * process the only writer, the data path only reads, and a word is one
 * aligned 8-byte store, so a reader sees it before or after, and a bit
 * once set stays set either way.  Only words that change are written.
 */
static int filter_mark(struct edpg_bpf *b, const struct edpg_want_gw *v, size_t n)
{
	int fd = b->map_fd[EDPG_M_GW_FILTER];
	uint64_t *words = NULL, *nw = NULL;
	uint32_t *keys = NULL, *nk = NULL;
	__u32 count = EDPG_GW_FILTER_WORDS, next, nchanged = 0;
	int err = 0;

	if (n > FILTER_BATCH_FROM) {
		words = calloc(EDPG_GW_FILTER_WORDS, sizeof(*words));
		keys = calloc(EDPG_GW_FILTER_WORDS, sizeof(*keys));
		nw = calloc(EDPG_GW_FILTER_WORDS, sizeof(*nw));
		nk = calloc(EDPG_GW_FILTER_WORDS, sizeof(*nk));
		if (!words || !keys || !nw || !nk) {
			err = -ENOMEM;
			goto out;
		}
		err = bpf_map_lookup_batch(fd, NULL, &next, keys, words, &count, NULL);
		/* ENOENT: the array ended within the batch, as it must. */
		if ((!err || err == -ENOENT) && count == EDPG_GW_FILTER_WORDS) {
			err = 0;
			memcpy(nw, words, EDPG_GW_FILTER_WORDS * sizeof(*nw));
			for (size_t i = 0; i < n; i++) {
				uint32_t bit = edpg_gw_filter_bit(v[i].mac);

				nw[bit >> 6] |= 1ULL << (bit & 63);
			}
			for (uint32_t w = 0; w < EDPG_GW_FILTER_WORDS; w++) {
				if (nw[w] == words[w])
					continue;
				nk[nchanged] = w;
				nw[nchanged++] = nw[w];
			}
			if (nchanged && bpf_map_update_batch(fd, nk, nw, &nchanged, NULL))
				err = -errno;
			goto out;
		}
		/* Kernels without batch ops on arrays: a word at a time. */
		err = 0;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = filter_word_set(fd, edpg_gw_filter_bit(v[i].mac));
out:
	free(words);
	free(keys);
	free(nw);
	free(nk);
	return err;
}

int edpg_bpf_apply(struct edpg_bpf *b, const struct edpg_desired *d)
{
	struct slots sl = {};
	uint32_t gen = 0, ng, zero = 0;
	struct edpg_config cfg = { .flags = d->flags | EDPG_F_LOADER_ONLY };
	struct edpg_ctl ctl;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return edpg_err(err, "cannot read the active generation");
	ng = gen ^ 1;

	/* 1. The inactive generation may hold leftovers of a crashed apply. */
	err = delete_generation(b, ng);
	if (err)
		return edpg_err(err, "cannot clear the inactive policy generation");

	/* 2. Build the new policy in the inactive generation. */
	/* Slots of gateways that stay are kept; only they count as used. */
	err = slots_load(b, gen, &sl, false, true);
	if (err)
		goto out;
	for (size_t i = 0; i < d->ngws; i++) {
		uint32_t slot;

		if (!slots_find(b, &sl, gen, d->gws[i].mac, &slot))
			sl.used[slot] = 1;
	}
	err = filter_mark(b, d->gws, d->ngws);
	if (err) {
		err = edpg_err(err, "cannot write %s (the old policy stays live)", EDPG_MAP_GW_FILTER);
		goto out;
	}
	for (size_t i = 0; i < d->ngws && !err; i++) {
		struct edpg_gw_key k = { .gen = ng };
		struct edpg_gw v = d->gws[i].rec;

		memcpy(k.mac, d->gws[i].mac, 6);
		if (slots_find(b, &sl, gen, k.mac, &v.slot))
			err = slot_alloc(b, &sl, &v.slot);
		if (!err && bpf_map_update_elem(b->map_fd[EDPG_M_GATEWAYS], &k, &v, BPF_ANY))
			err = edpg_err(-errno, "cannot write gateway %zu of %zu", i + 1, d->ngws);
	}
	/* The generation is not live yet: zeroed before the switch. */
	err = err ?: slots_zero(b, &sl);
	if (err)
		goto out;
	for (uint32_t s = 0; s < EDPG_MAX_SERVICES && !err; s++) {
		uint32_t k = ng * EDPG_MAX_SERVICES + s;
		struct edpg_svc v = { .groups = s < d->nservices ? d->svc_groups[s] : 0 };

		if (bpf_map_update_elem(b->map_fd[EDPG_M_SERVICES], &k, &v, BPF_ANY))
			err = -errno;
	}
	err = err ?: write_ports(b, d, ng);
	for (size_t i = 0; i < d->ndsts && !err; i++) {
		const struct edpg_addr *a = &d->dsts[i].addr;

		err = write_dst(b, &d->dsts[i], ng, gen);
		/* A prefix of a family: the data path must look in its trie. */
		if (a->family == AF_INET && a->plen < 32)
			cfg.flags &= ~EDPG_F_NO_CIDR4;
		else if (a->family == AF_INET6 && a->plen < 128)
			cfg.flags &= ~EDPG_F_NO_CIDR6;
	}
	if (!err && bpf_map_update_elem(b->map_fd[EDPG_M_CONFIG], &ng, &cfg, BPF_ANY))
		err = -errno;
	if (err) {
		err = edpg_err(err, "cannot write the new policy (the old one stays live)");
		goto out;
	}

	/* 3. One array store flips every CPU to the new generation. */
	ctl.gen = ng;
	ctl.pad = 0;
	if (bpf_map_update_elem(b->map_fd[EDPG_M_CTL], &zero, &ctl, BPF_ANY)) {
		err = edpg_err(-errno, "cannot switch to the new policy (the old one stays live)");
		goto out;
	}

	/* 4. The old generation is garbage now; a failure here is harmless
	 * (the next apply clears it first). */
	if (delete_generation(b, gen))
		edpg_warn("could not remove the previous policy generation; the next apply will");
out:
	slots_free(&sl);
	return err;
}

int edpg_bpf_gw_put(struct edpg_bpf *b, const struct edpg_want_gw *g)
{
	struct edpg_gw v = g->rec;
	struct edpg_gw_key k;
	struct slots sl = {};
	int err;

	err = edpg_bpf_gw_key(b, g->mac, &k);
	if (err)
		return err;
	if (lookup_slot(b, g->mac, k.gen, &v.slot) || v.slot >= b->max_gateways) {
		err = slots_load(b, k.gen, &sl, true, false);
		err = err ?: slot_alloc(b, &sl, &v.slot);
		err = err ?: slots_zero(b, &sl);
		slots_free(&sl);
		if (err)
			return err;
	}
	err = filter_mark(b, g, 1);
	if (err)
		return err;
	if (bpf_map_update_elem(b->map_fd[EDPG_M_GATEWAYS], &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int edpg_bpf_gw_del(struct edpg_bpf *b, const uint8_t mac[6])
{
	struct edpg_gw_key k;
	int err;

	err = edpg_bpf_gw_key(b, mac, &k);
	if (err)
		return err;
	if (bpf_map_delete_elem(b->map_fd[EDPG_M_GATEWAYS], &k))
		return -errno;
	return 0;
}

/*
 * Many gateways into the live generation (bulk enrolment): the slot map
 * is read once, not once per gateway, and the records go to the kernel in
 * one bpf_map_update_batch() call.  Gateways already live keep their slot
 * (and so their counters); new ones get a free slot with zeroed counters.
 */
int edpg_bpf_gw_put_many(struct edpg_bpf *b, const struct edpg_want_gw *v, size_t n)
{
	struct edpg_gw_key *keys = NULL;
	struct edpg_gw *vals = NULL;
	struct slots sl = {};
	uint32_t gen = 0;
	__u32 count = n;
	int err;

	if (!n)
		return 0;
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	/* An index of the site pays from a few dozen gateways on. */
	err = slots_load(b, gen, &sl, true, n > 32);
	for (size_t i = 0; i < n && !err; i++) {
		keys[i].gen = gen;
		memcpy(keys[i].mac, v[i].mac, 6);
		vals[i] = v[i].rec;
		if (slots_find(b, &sl, gen, v[i].mac, &vals[i].slot))
			err = slot_alloc(b, &sl, &vals[i].slot);
	}
	/* Before any record points at them: the generation is live. */
	err = err ?: slots_zero(b, &sl);
	err = err ?: filter_mark(b, v, n);
	if (err)
		goto out;
	if (!bpf_map_update_batch(b->map_fd[EDPG_M_GATEWAYS], keys, vals, &count, NULL))
		goto out;
	err = -errno;
	/* Kernels without batch ops on hash maps: one update per gateway. */
	if (err != -EINVAL && err != -EOPNOTSUPP && err != -524)
		goto out;
	err = 0;
	for (size_t i = 0; i < n && !err; i++)
		if (bpf_map_update_elem(b->map_fd[EDPG_M_GATEWAYS], &keys[i], &vals[i], BPF_ANY))
			err = -errno;
out:
	slots_free(&sl);
	free(keys);
	free(vals);
	return err;
}
