/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bpf_features.h - what the running kernel offers of what edpgate's BPF
 * programs need, probed with libbpf's feature probes before anything is
 * loaded.  The needs and the kernel each appeared in are those of
 * docs/kernel-floor.md (tests/floor checks the two lists agree).
 */
#ifndef EDPG_BPF_FEATURES_H
#define EDPG_BPF_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The oldest kernel edpgate supports (README, docs/kernel-floor.md). */
#define EDPG_KERNEL_FLOOR "5.10"

#define EDPG_KFEAT_MAX 32

struct edpg_kfeat {
	char release[65];	/* uname -r */
	int nmissing;		/* required features the kernel lacks */
	const char *missing[EDPG_KFEAT_MAX];	/* "the BPF ring buffer map (5.8)" */
	bool coarse_clock;	/* bpf_ktime_get_coarse_ns (5.11) is there */
	int err;		/* < 0: a probe could not run (e.g. -EPERM) */
};

/*
 * Probe once per process (later calls return the first answer).  Never
 * fails: a probe that cannot run leaves f->err set and counts nothing as
 * missing, so the load itself then reports what the kernel says.
 */
const struct edpg_kfeat *edpg_kfeat_probe(void);

/*
 * Before a load: 0 when the kernel has everything the programs need;
 * otherwise one line naming what is missing and the floor, and
 * -EOPNOTSUPP.
 */
int edpg_kfeat_require(void);

/* Forget the first answer (unit tests probe several made-up kernels). */
void edpg_kfeat_reset(void);

/* The value of the data path's coarse_clock switch for this kernel. */
bool edpg_kfeat_coarse_clock(void);

#endif
