/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bpf_pins.h - the BPF sink's pins as the kernel sees them (links, the
 * programs on an interface) and pinning again what was unpinned behind
 * edpgate's back.  The decisions are ops/health.c's.
 */
#ifndef EDPG_BPF_PINS_H
#define EDPG_BPF_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfmaps.h"
#include "state.h"

/*
 * What a long-running caller (the daemon) has open.  When the pins are
 * gone these are pinned again as they are: nothing is loaded, nothing is
 * lost, and no privilege beyond CAP_BPF is needed (reaching objects by id
 * needs CAP_SYS_ADMIN, loading a program CAP_PERFMON too).
 */
/* The snooper's pins: answer program, ring buffer, lost counter,
 * question program. */
#define EDPG_SNOOP_NPINS 4

struct edpg_held {
	const struct edpg_bpf *bpf;
	int snoop_fd[EDPG_SNOOP_NPINS];	/* edpg_snoop_pins order; -1 = none */
};

/* The snooper's pins, in edpg_held.snoop_fd order. */
extern const char *const edpg_snoop_pins[EDPG_SNOOP_NPINS];

#define EDPG_RESTORED_MAX 40

struct edpg_restored {
	size_t n;
	char v[EDPG_RESTORED_MAX][96];
	bool reloaded;		/* program loaded anew: counters restarted */
	bool from_held;		/* pinned again from the caller's instance */
};

/* One line of what was restored (dropped beyond EDPG_RESTORED_MAX). */
void edpg_restored_add(struct edpg_restored *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct edpg_bpf_link {
	uint32_t id, prog_id;
	uint32_t ifindex;	/* 0: defunct (detached or interface gone) */
};

/* The XDP link pinned for @ifname; -ENOENT when none is pinned. */
int edpg_bpf_link_read(const char *pin_dir, const char *ifname, struct edpg_bpf_link *out);
/* Ids of the XDP programs on @ifindex (driver, generic, offload; 0 = none). */
int edpg_bpf_xdp_prog_ids(int ifindex, uint32_t ids[3]);
/* Name of the program @id ("?" when out of reach). */
void edpg_bpf_prog_name(uint32_t id, char *buf, size_t len);

/*
 * The program and its maps: pinned again if alive (from the pins, a link
 * of @ifs, or @held), loaded anew into @b if not (r->reloaded).  On
 * success @b is open on the pins.
 */
int edpg_bpf_repin(const char *pin_dir, const struct edpg_ifaces *ifs,
		   const struct edpg_bpf *held, struct edpg_bpf *b, struct edpg_restored *r);
/*
 * The snooper: its maps pinned again (from @held's or the live program),
 * or its pins removed when its program is gone; *reattach then says it
 * must be loaded and attached to every interface again.
 */
int edpg_snoop_repin(const char *pin_dir, const struct edpg_held *held, bool reloaded,
		     struct edpg_restored *r, bool *reattach);

#endif
