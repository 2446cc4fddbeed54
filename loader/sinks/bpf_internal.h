/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bpf_internal.h - what the files of the BPF sink share among themselves
 * (objects, policy writer, readers, upgrade).  Nothing outside
 * loader/sinks/ includes it: the commands reach the maps only through
 * bpfmaps.h.
 */
#ifndef EDPG_BPF_INTERNAL_H
#define EDPG_BPF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfmaps.h"

struct edpgate;
struct bpf_map;

/* Per-CPU values are laid out 8-byte aligned by the kernel. */
#define ROUND8(x) (((x) + 7) & ~(size_t)7)

#define GEN_OFF(type, field) __builtin_offsetof(type, field)

/* The four destination maps differ only in key layout: describe it. */
struct edpg_dst_layout {
	size_t ksz, gen_off, addr_off;
	int family;
	bool lpm;
};

/* Indexed by EDPG_M_DST4..EDPG_M_CIDR6 (bpfmaps.c). */
extern const struct edpg_dst_layout edpg_dst_layouts[EDPG_M_MAX];

/* bpfmaps.c: every key of generation @gen (the byte at @gen_off) of a
 * hash or LPM map; caller frees *keys. */
int edpg_keys_of_gen(int fd, size_t ksz, size_t gen_off, uint32_t gen, void **keys, size_t *n);

/* bpf_read.c: @from's counters added into @to (last_seen: the later). */
void edpg_gw_stats_add(struct edpg_gw_stats *to, const struct edpg_gw_stats *from);
/* A slot's counters read from the maps by fd (bpf_read.c). */
int edpg_gw_totals(int hot_fd, int cold_fd, int carry_fd, int ncpus, uint32_t slot,
		   struct edpg_gw_stats *out);

/* bpf_object.c */
/* Maps that hold policy (shared with a private instance); the rest are
 * counters. */
bool edpg_is_policy_map(int id);
struct bpf_map *edpg_skel_map(struct edpgate *s, int id);
/* Every fd -1, nothing owned. */
void edpg_bpf_reset(struct edpg_bpf *b);
/* Open the pins without checking their layout (the upgrade checks it
 * member by member itself). */
int edpg_bpf_open_raw(struct edpg_bpf *b, const char *pin_dir);
/* This build's skeleton opened (not loaded), sized by @o. */
int edpg_skel_open(struct edpgate **out, const struct edpg_load_opts *o);
/* @b takes the fds of loaded skeleton @s (and owns @s). */
void edpg_bpf_take_fds(struct edpg_bpf *b, struct edpgate *s);
/* Capacity and CPU count of the maps @b holds. */
int edpg_bpf_fill_info(struct edpg_bpf *b);
/* The gateways-map key of @mac in the live generation. */
int edpg_bpf_gw_key(const struct edpg_bpf *b, const uint8_t mac[6], struct edpg_gw_key *k);

/* bpf_pins.c */
/* An fd of the map named @name that program @prog_fd uses; -ENOENT when
 * it uses none of that name, else -errno. */
int edpg_prog_map_fd(int prog_fd, const char *name);

/* bpf_upgrade.c */
/* Whether the pinned maps of @b have the layout of skeleton @s: their
 * types and sizes, and with @deep their BTF member by member. */
int edpg_layout_check(struct edpgate *s, const struct edpg_bpf *b, bool deep);
/* Every pinned XDP link of @pin_dir onto program @new_fd, then @new_fd
 * pinned as `prog`; on an error the links are put back. */
int edpg_bpf_swing_all(const char *pin_dir, int new_fd, struct edpg_upgrade *u);
/* Every pinned XDP link of @pin_dir that runs another program put back
 * on @prog_fd (a switch cut short before `prog` was pinned); how many. */
int edpg_bpf_links_back(const char *pin_dir, int prog_fd);

#endif
