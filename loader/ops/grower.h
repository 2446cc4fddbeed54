/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * grower.h - the daemon's helper that grows the gateway maps.
 *
 * A growth loads a second instance of the program and switches the live
 * links to it (bpf_grow.c).  The verifier accepts the program only with
 * CAP_PERFMON (packet pointers are subtracted), and switching a link
 * reads its program by id (CAP_SYS_ADMIN): more than a daemon parsing DNS
 * answers off the wire should hold.  So `edpgate run` forks this helper
 * before it drops its capabilities.  The helper keeps only what a growth
 * needs, closes every other file, reads nothing but a slot count from its
 * socket, and dies with the daemon.  The daemon asks it under the state
 * lock and then follows the new pins.
 */
#ifndef EDPG_GROWER_H
#define EDPG_GROWER_H

#include <stdint.h>
#include <sys/types.h>

#include "bpfmaps.h"
#include "privilege.h"

#define EDPG_GROW_CAPS	(EDPG_CAP(CAP_BPF) | EDPG_CAP(CAP_PERFMON) | \
			 EDPG_CAP(CAP_NET_ADMIN) | EDPG_CAP(CAP_SYS_ADMIN))

struct edpg_grower {
	pid_t pid;		/* 0: not started */
	int fd;			/* -1: not started */
};

void edpg_grower_init(struct edpg_grower *gr);
/* Fork the helper for the instance pinned at @pin_dir, whose interfaces
 * are recorded in @state_dir.  Before the caller drops capabilities. */
int edpg_grower_start(struct edpg_grower *gr, const char *pin_dir, const char *state_dir);
/* An edpg_grow_fn: grow the pinned maps to @cap slots, in the helper. */
int edpg_grower_grow(void *grower, uint32_t cap, struct edpg_grown *g);
void edpg_grower_stop(struct edpg_grower *gr);

#endif
