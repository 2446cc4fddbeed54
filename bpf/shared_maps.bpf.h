/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * shared_maps.bpf.h - the map definitions the XDP program and the DNS
 * snooper both use.  The snooper's copies are replaced by the pinned maps
 * (bpf_map__reuse_fd), which only works when type, key and value agree:
 * one definition keeps them agreeing.
 */
#ifndef EDPG_SHARED_MAPS_BPF_H
#define EDPG_SHARED_MAPS_BPF_H

#include "edpgate.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct edpg_ctl);
} edpg_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_GATEWAYS);
	/* Elements allocated as gateways are enrolled: preallocated, the
	 * capacity of two generations cost memory whether used or not. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct edpg_gw_key);
	__type(value, struct edpg_gw);
} edpg_gateways SEC(".maps");

#endif
