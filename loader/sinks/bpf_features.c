// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_features.c - probe the running kernel for what the BPF programs need
 * (docs/kernel-floor.md), before anything is loaded: an old kernel then
 * gets one line naming what it lacks and the floor, not a verifier dump.
 *
 * Program types, map types and helpers are asked with libbpf's probes,
 * which load a tiny program or create a tiny map.  The XDP bpf_link has no
 * such probe that does not attach something: it is taken from the kernel
 * release (5.9), and on an older release from the kernel's own BTF (a
 * distribution may have backported it; struct bpf_xdp_link came with it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "log.h"

enum kind { K_PROG, K_MAP, K_HELPER, K_XDP_LINK };

struct need {
	enum kind kind;
	int prog_type;		/* K_PROG, and the program a K_HELPER is called from */
	int id;			/* map type or helper ID */
	const char *what;	/* with the kernel it came in, for messages */
};

/* What edpgate.bpf.c and snoop.bpf.o use, as docs/kernel-floor.md lists it. */
static const struct need needs[] = {
	{ K_PROG, BPF_PROG_TYPE_XDP, 0, "XDP programs (BPF_PROG_TYPE_XDP, 4.8)" },
	{ K_PROG, BPF_PROG_TYPE_SCHED_CLS, 0, "tc programs (BPF_PROG_TYPE_SCHED_CLS, 4.1)" },
	{ K_MAP, 0, BPF_MAP_TYPE_HASH, "hash maps (BPF_MAP_TYPE_HASH, 3.19)" },
	{ K_MAP, 0, BPF_MAP_TYPE_ARRAY, "array maps (BPF_MAP_TYPE_ARRAY, 3.19)" },
	{ K_MAP, 0, BPF_MAP_TYPE_PERCPU_HASH, "per-CPU hash maps (BPF_MAP_TYPE_PERCPU_HASH, 4.6)" },
	{ K_MAP, 0, BPF_MAP_TYPE_PERCPU_ARRAY, "per-CPU arrays (BPF_MAP_TYPE_PERCPU_ARRAY, 4.6)" },
	{ K_MAP, 0, BPF_MAP_TYPE_LRU_HASH, "LRU hash maps (BPF_MAP_TYPE_LRU_HASH, 4.10)" },
	{ K_MAP, 0, BPF_MAP_TYPE_LPM_TRIE, "LPM tries (BPF_MAP_TYPE_LPM_TRIE, 4.11)" },
	{ K_MAP, 0, BPF_MAP_TYPE_RINGBUF, "the BPF ring buffer (BPF_MAP_TYPE_RINGBUF, 5.8)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_map_lookup_elem, "bpf_map_lookup_elem (3.19)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_map_update_elem, "bpf_map_update_elem (3.19)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_ktime_get_ns, "bpf_ktime_get_ns (4.1)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_jiffies64, "bpf_jiffies64 (5.5)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve (5.8)" },
	{ K_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_ringbuf_submit, "bpf_ringbuf_submit (5.8)" },
	{ K_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_ringbuf_discard, "bpf_ringbuf_discard (5.8)" },
	{ K_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_load_bytes, "bpf_skb_load_bytes (4.5)" },
	{ K_XDP_LINK, 0, 0, "XDP bpf_link attachment (BPF_LINK_CREATE with BPF_XDP, 5.9)" },
};

static struct edpg_kfeat feat;
static bool probed;

/* 1, 0, or -errno, from the release numbers alone: @rel >= @maj.@min? */
static int release_at_least(const char *rel, int maj, int min)
{
	int a, b;

	if (sscanf(rel, "%d.%d", &a, &b) != 2)
		return -EINVAL;
	return a > maj || (a == maj && b >= min);
}

static int probe_xdp_link(const char *rel)
{
	struct btf *vmlinux;
	int ret = release_at_least(rel, 5, 9);

	if (ret != 0)
		return ret;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return 0;	/* no BTF to say otherwise: the release stands */
	ret = btf__find_by_name_kind(vmlinux, "bpf_xdp_link", BTF_KIND_STRUCT) > 0;
	btf__free(vmlinux);
	return ret;
}

/* 1 present, 0 absent, < 0 the probe could not run. */
static int probe_one(const struct need *n, const char *rel)
{
	switch (n->kind) {
	case K_PROG:
		return libbpf_probe_bpf_prog_type(n->prog_type, NULL);
	case K_MAP:
		return libbpf_probe_bpf_map_type(n->id, NULL);
	case K_HELPER:
		return libbpf_probe_bpf_helper(n->prog_type, n->id, NULL);
	case K_XDP_LINK:
		return probe_xdp_link(rel);
	}
	return -EINVAL;
}

const struct edpg_kfeat *edpg_kfeat_probe(void)
{
	struct utsname u;
	int ret;

	if (probed)
		return &feat;
	probed = true;
	if (uname(&u) == 0)
		snprintf(feat.release, sizeof(feat.release), "%s", u.release);
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		ret = probe_one(&needs[i], feat.release);
		if (ret < 0 && !feat.err)
			feat.err = ret;
		if (ret == 0 && feat.nmissing < EDPG_KFEAT_MAX)
			feat.missing[feat.nmissing++] = needs[i].what;
	}
	/* Unknown counts as absent: bpf_ktime_get_ns loads everywhere. */
	ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_ktime_get_coarse_ns, NULL);
	feat.coarse_clock = ret == 1;
	if (ret < 0 && !feat.err)
		feat.err = ret;
	return &feat;
}

void edpg_kfeat_reset(void)
{
	memset(&feat, 0, sizeof(feat));
	probed = false;
}

int edpg_kfeat_require(void)
{
	const struct edpg_kfeat *f = edpg_kfeat_probe();
	char list[1024] = "";
	size_t len = 0;

	if (!f->nmissing)
		return 0;
	for (int i = 0; i < f->nmissing && len < sizeof(list); i++)
		len += snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", f->missing[i]);
	return edpg_err(-EOPNOTSUPP, "kernel %s lacks %s; edpgate needs Linux " EDPG_KERNEL_FLOOR
			" or later (docs/kernel-floor.md), nothing was loaded", f->release, list);
}

bool edpg_kfeat_coarse_clock(void)
{
	return edpg_kfeat_probe()->coarse_clock;
}
