/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe.h - the verdict probe: one frame through a private instance of
 * the real program (explain, replay), and the frames it asks about.
 */
#ifndef EDPG_PROBE_H
#define EDPG_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bpfmaps.h"
#include "policy.h"

struct edpg_outcome {
	int verdict;		/* EDPG_V_PASS / EDPG_V_DROP */
	int reason;		/* enum edpg_reason */
	int sid;		/* service counted on allow, -1 otherwise */
	bool would;		/* a drop that audit passed (would_drop) */
};

/*
 * One frame through a private instance (edpg_bpf_load_private: its own
 * counters, dry_run) and the reason read from its counters.  @snap holds
 * the instance's global counters between calls (zero it first).  Frames
 * shorter than an Ethernet header are `malformed` without a run: the
 * kernel refuses them.
 */
int edpg_verdict_run(const struct edpg_bpf *priv, struct edpg_global snap[EDPG_R_MAX],
		     const void *frame, size_t len, struct edpg_outcome *out);

struct edpg_probe {
	uint8_t src_mac[6];
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	struct edpg_addr src, dst;	/* same family */
	uint16_t sport, dport;
	int vlan;		/* -1 = untagged */
};

/* Build a TCP SYN or a UDP datagram for @p into @buf; 0 and *len. */
int edpg_probe_build(const struct edpg_probe *p, uint8_t *buf, size_t cap, size_t *len);

#endif
