// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpfmaps.c - the BPF sink.
 *
 * The program and its maps are pinned under the pin directory so that every
 * later command (gateway add, stats, verify, ...) works on the live state
 * through the pins and never reloads the program.  Interfaces are attached
 * with a bpf_link pinned next to them: the attachment survives the CLI and
 * is removed by unpinning.
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

const char *const edpg_map_names[EDPG_M_MAX] = {
	[EDPG_M_CTL] = EDPG_MAP_CTL,
	[EDPG_M_CONFIG] = EDPG_MAP_CONFIG,
	[EDPG_M_GATEWAYS] = EDPG_MAP_GATEWAYS,
	[EDPG_M_PORTS] = EDPG_MAP_PORTS,
	[EDPG_M_SERVICES] = EDPG_MAP_SERVICES,
	[EDPG_M_DST4] = EDPG_MAP_DST4,
	[EDPG_M_DST6] = EDPG_MAP_DST6,
	[EDPG_M_CIDR4] = EDPG_MAP_CIDR4,
	[EDPG_M_CIDR6] = EDPG_MAP_CIDR6,
	[EDPG_M_GW_STATS] = EDPG_MAP_GW_STATS,
	[EDPG_M_GLOBAL] = EDPG_MAP_GLOBAL,
	[EDPG_M_GW_DIAG] = EDPG_MAP_GW_DIAG,
	[EDPG_M_EV_GLOBAL] = EDPG_MAP_EV_GLOBAL,
	[EDPG_M_EVENTS] = EDPG_MAP_EVENTS,
	[EDPG_M_PENDING] = EDPG_MAP_PENDING,
};

const char *const edpg_reason_names[EDPG_R_MAX] = {
	[EDPG_R_ALLOW] = "allow",
	[EDPG_R_ARP] = "arp",
	[EDPG_R_ND] = "nd",
	[EDPG_R_NON_IP] = "non_ip",
	[EDPG_R_UNKNOWN_MAC] = "unknown_mac",
	[EDPG_R_MALFORMED] = "malformed",
	[EDPG_R_BINDING] = "binding",
	[EDPG_R_FRAGMENT] = "fragment",
	[EDPG_R_PROTOCOL] = "protocol",
	[EDPG_R_PORT] = "port",
	[EDPG_R_SERVICE] = "service",
	[EDPG_R_DESTINATION] = "destination",
};

/* Maps that hold policy (shared with a private instance); the rest are
 * counters. */
static bool is_policy_map(int id)
{
	return id < EDPG_M_GW_STATS;
}

static struct bpf_map *skel_map(struct edpgate *s, int id)
{
	return bpf_object__find_map_by_name(s->obj, edpg_map_names[id]);
}

static void bpf_init(struct edpg_bpf *b)
{
	memset(b, 0, sizeof(*b));
	b->prog_fd = -1;
	for (int i = 0; i < EDPG_M_MAX; i++)
		b->map_fd[i] = -1;
	b->ncpus = libbpf_num_possible_cpus();
}

void edpg_bpf_close(struct edpg_bpf *b)
{
	if (b->skel) {
		/* fds belong to the skeleton */
		edpgate__destroy(b->skel);
	} else {
		if (b->prog_fd >= 0)
			close(b->prog_fd);
		for (int i = 0; i < EDPG_M_MAX; i++)
			if (b->map_fd[i] >= 0)
				close(b->map_fd[i]);
	}
	bpf_init(b);
}

static int fill_info(struct edpg_bpf *b)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(b->map_fd[EDPG_M_GW_STATS], &info, &len);
	if (err)
		return -errno;
	b->max_gateways = info.max_entries;
	if (b->ncpus <= 0)
		return b->ncpus ? b->ncpus : -EINVAL;
	return 0;
}

static int layout_check(struct edpgate *s, const struct edpg_bpf *b, bool deep);

bool edpg_pins_rdonly;

static int open_pinned_raw(struct edpg_bpf *b, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	char path[PATH_MAX];
	int err = 0;

	bpf_init(b);
	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	b->prog_fd = bpf_obj_get(path);
	if (b->prog_fd < 0) {
		err = -errno;
		/* Program pins open read-write only; readers need the maps. */
		if (!(edpg_pins_rdonly && (err == -EACCES || err == -EPERM || err == -EROFS)))
			goto out;
		err = 0;
	}
	for (int i = 0; i < EDPG_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[i]);
		b->map_fd[i] = edpg_pins_rdonly ? bpf_obj_get_opts(path, &ro) : bpf_obj_get(path);
		if (b->map_fd[i] < 0) {
			err = -errno;
			goto out;
		}
	}
	err = fill_info(b);
out:
	if (err)
		edpg_bpf_close(b);
	return err;
}

/*
 * The pinned instance, checked against this build's map layout: after an
 * install of a build with another layout every command refuses to touch
 * the old maps (writing entries of the wrong size or shape into them
 * would corrupt the live policy) until `edpgate upgrade` is refused too
 * and the site starts afresh.
 */
int edpg_bpf_open_pinned(struct edpg_bpf *b, const char *pin_dir)
{
	struct edpgate *s;
	int err;

	err = open_pinned_raw(b, pin_dir);
	if (err)
		return err;
	s = edpgate__open();
	if (!s)
		return edpg_err(-errno, "cannot open the BPF object");
	err = layout_check(s, b, false);
	edpgate__destroy(s);
	if (err) {
		edpg_err(err, "the program pinned in %s was loaded by an edpgate with another map layout; use that build, or `edpgate detach --all` and attach with this one",
			 pin_dir);
		edpg_bpf_close(b);
	}
	return err;
}

/* The pin directory must live on a bpffs; mount the conventional one if
 * the system has not (a router without systemd often has none). */
static int ensure_bpffs(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct statfs st;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return edpg_err(-EINVAL, "pin dir %s: must be a directory on a bpffs", pin_dir);
	*slash = '\0';
	if (statfs(parent, &st))
		return edpg_err(-errno, "pin dir %s: cannot stat %s", pin_dir, parent);
	if ((unsigned long)st.f_type == BPF_FS_MAGIC)
		goto mkdir;
	if (strcmp(parent, "/sys/fs/bpf") ||
	    mount("bpf", parent, "bpf", 0, "mode=0700"))
		return edpg_err(-ENOTSUP, "%s is not a bpffs; mount one with `mount -t bpf bpf %s`",
				parent, parent);
mkdir:
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return edpg_err(-errno, "cannot create pin dir %s", pin_dir);
	return 0;
}

static int open_skel(struct edpgate **out, const struct edpg_load_opts *o)
{
	uint32_t gws = o && o->max_gateways ? o->max_gateways : EDPG_MAX_GATEWAYS;
	uint32_t dst = o && o->max_dst ? o->max_dst : EDPG_MAX_DST;
	struct edpgate *s;
	int err;

	s = edpgate__open();
	if (!s)
		return -errno;
	err = bpf_map__set_max_entries(s->maps.edpg_gateways, EDPG_NR_GENS * gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_gw_stats, gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_gw_diag, gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_dst4, EDPG_NR_GENS * dst);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_dst6, EDPG_NR_GENS * dst);
	if (err) {
		edpgate__destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

static void take_fds(struct edpg_bpf *b, struct edpgate *s)
{
	b->skel = s;
	b->prog_fd = bpf_program__fd(s->progs.edpgate_xdp);
	for (int i = 0; i < EDPG_M_MAX; i++)
		b->map_fd[i] = bpf_map__fd(skel_map(s, i));
}

int edpg_bpf_load_and_pin(struct edpg_bpf *b, const char *pin_dir, const struct edpg_load_opts *o)
{
	struct edpgate *s = NULL;
	char path[PATH_MAX];
	int err;

	bpf_init(b);
	err = ensure_bpffs(pin_dir);
	if (err)
		return err;
	err = open_skel(&s, o);
	if (err)
		return edpg_err(err, "cannot open the BPF object");
	err = edpgate__load(s);
	if (err) {
		edpgate__destroy(s);
		return edpg_err(err, "the kernel refused the XDP program (run with -v for the verifier log)");
	}
	take_fds(b, s);
	err = fill_info(b);
	if (err)
		goto out;
	for (int i = 0; i < EDPG_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[i]);
		err = bpf_obj_pin(b->map_fd[i], path);
		if (err) {
			err = edpg_err(-errno, "cannot pin %s", path);
			goto out;
		}
	}
	/* The program pin goes last: its presence means "fully pinned". */
	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	if (bpf_obj_pin(b->prog_fd, path))
		err = edpg_err(-errno, "cannot pin %s", path);
out:
	if (err) {
		edpg_bpf_unpin_all(pin_dir);
		edpg_bpf_close(b);
	}
	return err;
}

int edpg_bpf_load_private(struct edpg_bpf *out, const struct edpg_bpf *share,
			  const struct edpg_load_opts *o)
{
	struct edpg_load_opts lo = {};
	struct edpgate *s = NULL;
	int err;

	bpf_init(out);
	if (o)
		lo = *o;
	if (share)
		lo.max_gateways = share->max_gateways;
	err = open_skel(&s, &lo);
	if (err)
		return edpg_err(err, "cannot open the BPF object");
	if (share) {
		for (int i = 0; i < EDPG_M_MAX && !err; i++)
			if (is_policy_map(i))
				err = bpf_map__reuse_fd(skel_map(s, i), share->map_fd[i]);
		if (err) {
			edpgate__destroy(s);
			return edpg_err(err, "cannot share the pinned policy maps");
		}
	}
	/* A private instance answers questions: no last_used stamps in the
	 * shared destination maps, no events, no pending records; and it
	 * needs no room for events. */
	s->rodata->dry_run = 1;
	err = bpf_map__set_max_entries(s->maps.edpg_events, 4096);
	if (err) {
		edpgate__destroy(s);
		return edpg_err(err, "cannot size the private event ring");
	}
	err = edpgate__load(s);
	if (err) {
		edpgate__destroy(s);
		return edpg_err(err, "the kernel refused the XDP program");
	}
	take_fds(out, s);
	err = fill_info(out);
	if (err)
		edpg_bpf_close(out);
	return err;
}

int edpg_bpf_unpin_all(const char *pin_dir)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d;
	int err = 0;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(pin_dir) && !err)
		err = -errno;
	return err;
}

/*
 * bpffs refuses names with a '.', and VLAN interfaces are "lan0.42":
 * percent-encode '.' (and '%' itself, so the mapping stays one to one).
 */
void edpg_bpf_link_path(char *path, size_t len, const char *pin_dir, const char *ifname)
{
	char enc[3 * IFNAMSIZ + 1];
	size_t o = 0;

	for (const char *c = ifname; *c && o + 4 <= sizeof(enc); c++) {
		if (*c == '.' || *c == '%')
			o += snprintf(enc + o, sizeof(enc) - o, "%%%02x", *c);
		else
			enc[o++] = *c;
	}
	enc[o] = '\0';
	snprintf(path, len, "%s/link_%s", pin_dir, enc);
}

bool edpg_bpf_is_attached(const char *pin_dir, const char *ifname)
{
	char path[PATH_MAX];

	edpg_bpf_link_path(path, sizeof(path), pin_dir, ifname);
	return access(path, F_OK) == 0;
}

static int link_xdp(int prog_fd, int ifindex, enum edpg_xdp_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);

	lo.flags = mode == EDPG_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	return bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
}

int edpg_bpf_attach(struct edpg_bpf *b, const char *pin_dir, const char *ifname,
		    enum edpg_xdp_mode mode, enum edpg_xdp_mode *used)
{
	char path[PATH_MAX];
	int ifindex, fd, err = 0;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return edpg_err(-ENODEV, "no interface named %s", ifname);
	if (edpg_bpf_is_attached(pin_dir, ifname))
		return edpg_err(-EEXIST, "%s is already attached; `edpgate detach %s` first", ifname,
				ifname);
	if (mode == EDPG_XDP_AUTO) {
		fd = link_xdp(b->prog_fd, ifindex, EDPG_XDP_NATIVE);
		*used = EDPG_XDP_NATIVE;
		if (fd < 0) {
			edpg_debug("native XDP on %s failed (%s), trying generic", ifname,
				   strerror(errno));
			fd = link_xdp(b->prog_fd, ifindex, EDPG_XDP_GENERIC);
			*used = EDPG_XDP_GENERIC;
		}
	} else {
		fd = link_xdp(b->prog_fd, ifindex, mode);
		*used = mode;
	}
	if (fd < 0) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			return edpg_err(err, "%s already runs another XDP program; remove it first (ip link set %s xdp off)",
					ifname, ifname);
		return edpg_err(err, "cannot attach XDP to %s%s", ifname,
				mode == EDPG_XDP_NATIVE ? " in native mode (try --mode generic)" : "");
	}
	edpg_bpf_link_path(path, sizeof(path), pin_dir, ifname);
	if (bpf_obj_pin(fd, path))
		err = edpg_err(-errno, "cannot pin %s", path);
	close(fd);	/* the pin holds the link now (or, on error, nothing) */
	return err;
}

int edpg_bpf_detach(const char *pin_dir, const char *ifname)
{
	char path[PATH_MAX];

	edpg_bpf_link_path(path, sizeof(path), pin_dir, ifname);
	/* Removing the last reference to the link detaches the program. */
	if (unlink(path))
		return -errno;
	return 0;
}

/* ---- policy writes ----------------------------------------------------- */

int edpg_bpf_active_gen(const struct edpg_bpf *b, uint32_t *gen)
{
	struct edpg_ctl ctl;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_CTL], &zero, &ctl))
		return -errno;
	*gen = ctl.gen & 1;
	return 0;
}

/* Collect every key of generation @gen (the byte at @gen_off) of a hash or
 * LPM map, so a whole generation can be deleted. */
static int keys_of_gen(int fd, size_t ksz, size_t gen_off, uint32_t gen, void **keys, size_t *n)
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

	err = keys_of_gen(fd, ksz, gen_off, gen, &keys, &n);
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

#define GEN_OFF(type, field) __builtin_offsetof(type, field)

/* The four destination maps differ only in key layout: describe it. */
struct dst_layout {
	size_t ksz, gen_off, addr_off;
	int family;
	bool lpm;
};

static const struct dst_layout dst_layouts[] = {
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
		err = delete_gen(b->map_fd[m], dst_layouts[m].ksz, dst_layouts[m].gen_off, gen);
	return err;
}

/* Slots: a gateway keeps its counter slot for as long as it is enrolled.
 * The map of MAC -> slot is whatever the live generation says. */
struct slots {
	uint8_t *used;		/* max_gateways bytes */
	uint32_t next;
};

/*
 * Which slots the generation's gateways hold.  Read with batched lookups:
 * walking 10,000 gateways key by key is 20,000 syscalls, and this runs
 * on every `gateway add`.
 */
static int slots_load(struct edpg_bpf *b, uint32_t gen, struct slots *sl)
{
	const __u32 chunk = 1024;
	struct edpg_gw_key *keys = NULL;
	struct edpg_gw *vals = NULL;
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
		for (__u32 i = 0; i < n; i++)
			if (keys[i].gen == gen && vals[i].slot < b->max_gateways)
				sl->used[vals[i].slot] = 1;
	}
out:
	free(keys);
	free(vals);
	if (err) {
		free(sl->used);
		sl->used = NULL;
	}
	return err;
}

static int zero_slot(struct edpg_bpf *b, uint32_t slot)
{
	size_t sz = sizeof(struct edpg_gw_stats) * b->ncpus;
	void *zero = calloc(1, sz);
	int err = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(b->map_fd[EDPG_M_GW_STATS], &slot, zero, BPF_ANY))
		err = -errno;
	/* Drop records too: doctor must not blame a new gateway for an old
	 * one's drops (edpg_gw_diag is smaller than edpg_gw_stats). */
	if (!err && bpf_map_update_elem(b->map_fd[EDPG_M_GW_DIAG], &slot, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

/* A fresh slot has its counters zeroed: they may hold a deleted gateway's. */
static int slot_alloc(struct edpg_bpf *b, struct slots *sl, uint32_t *slot)
{
	for (; sl->next < b->max_gateways; sl->next++) {
		if (!sl->used[sl->next]) {
			sl->used[sl->next] = 1;
			*slot = sl->next;
			return zero_slot(b, *slot);
		}
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

int edpg_bpf_apply(struct edpg_bpf *b, const struct edpg_desired *d)
{
	struct slots sl = {};
	uint32_t gen = 0, ng, zero = 0;
	struct edpg_config cfg = { .flags = d->flags };
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
	sl.used = calloc(b->max_gateways, 1);
	if (!sl.used) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->ngws; i++) {
		uint32_t slot = UINT32_MAX;

		if (!lookup_slot(b, d->gws[i].mac, gen, &slot) && slot < b->max_gateways)
			sl.used[slot] = 1;
	}
	for (size_t i = 0; i < d->ngws && !err; i++) {
		struct edpg_gw_key k = { .gen = ng };
		struct edpg_gw v = d->gws[i].rec;

		memcpy(k.mac, d->gws[i].mac, 6);
		if (lookup_slot(b, k.mac, gen, &v.slot) || v.slot >= b->max_gateways)
			err = slot_alloc(b, &sl, &v.slot);
		if (!err && bpf_map_update_elem(b->map_fd[EDPG_M_GATEWAYS], &k, &v, BPF_ANY))
			err = edpg_err(-errno, "cannot write gateway %zu of %zu", i + 1, d->ngws);
	}
	if (err)
		goto out;
	for (uint32_t s = 0; s < EDPG_MAX_SERVICES && !err; s++) {
		uint32_t k = ng * EDPG_MAX_SERVICES + s;
		struct edpg_svc v = { .groups = s < d->nservices ? d->svc_groups[s] : 0 };

		if (bpf_map_update_elem(b->map_fd[EDPG_M_SERVICES], &k, &v, BPF_ANY))
			err = -errno;
	}
	err = err ?: write_ports(b, d, ng);
	for (size_t i = 0; i < d->ndsts && !err; i++)
		err = write_dst(b, &d->dsts[i], ng, gen);
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
	free(sl.used);
	return err;
}

int edpg_bpf_gw_put(struct edpg_bpf *b, const struct edpg_want_gw *g)
{
	struct edpg_gw_key k = {};
	struct edpg_gw v = g->rec;
	struct slots sl = {};
	uint32_t gen = 0;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	k.gen = gen;
	memcpy(k.mac, g->mac, 6);
	if (lookup_slot(b, g->mac, gen, &v.slot) || v.slot >= b->max_gateways) {
		err = slots_load(b, gen, &sl);
		err = err ?: slot_alloc(b, &sl, &v.slot);
		free(sl.used);
		if (err)
			return err;
	}
	if (bpf_map_update_elem(b->map_fd[EDPG_M_GATEWAYS], &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int edpg_bpf_gw_del(struct edpg_bpf *b, const uint8_t mac[6])
{
	struct edpg_gw_key k = {};
	uint32_t gen = 0;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	k.gen = gen;
	memcpy(k.mac, mac, 6);
	if (bpf_map_delete_elem(b->map_fd[EDPG_M_GATEWAYS], &k))
		return -errno;
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
	const struct dst_layout *l = &dst_layouts[m];
	uint8_t *keys = NULL;
	size_t n = 0;
	int err;

	err = keys_of_gen(b->map_fd[m], l->ksz, l->gen_off, gen, (void **)&keys, &n);
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
	err = slots_load(b, gen, &sl);
	for (size_t i = 0; i < n && !err; i++) {
		keys[i].gen = gen;
		memcpy(keys[i].mac, v[i].mac, 6);
		vals[i] = v[i].rec;
		if (lookup_slot(b, v[i].mac, gen, &vals[i].slot) || vals[i].slot >= b->max_gateways)
			err = slot_alloc(b, &sl, &vals[i].slot);
	}
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
	free(sl.used);
	free(keys);
	free(vals);
	return err;
}

/* ---- map layout and upgrade --------------------------------------------- */

#define UPGRADE_MAX_LINKS 64

static void link_pin_path(char *path, size_t len, const char *pin_dir, const char *name)
{
	if ((size_t)snprintf(path, len, "%s/%s", pin_dir, name) >= len)
		path[0] = '\0';	/* no such pin: bpf_obj_get() fails cleanly */
}

/* Skip typedefs and qualifiers. */
static const struct btf_type *btf_peel(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_typedef(t) || btf_is_mod(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/*
 * Compare the BTF of one key or value type of map @map in the pinned
 * instance (@ob, @oid) and this build (@nb, @nid): kind, size, and for a
 * struct each member's name, offset and size.  Equal sizes are not
 * enough: a field moved or retyped inside a struct of the same size
 * would make the new program read the old entries wrongly.
 */
static int btf_diff(const char *map, const char *what, const struct btf *ob, __u32 oid,
		    const struct btf *nb, __u32 nid)
{
	const struct btf_type *o = btf_peel(ob, oid), *n = btf_peel(nb, nid);
	const struct btf_member *om, *nm;
	int bad = 0;

	if (!o || !n)
		return 0;	/* no BTF to compare: the sizes were */
	if (btf_kind(o) != btf_kind(n) || btf__resolve_size(ob, oid) != btf__resolve_size(nb, nid)) {
		edpg_err(-EPROTO, "%s %s: type changed (%lld -> %lld bytes)", map, what,
			 (long long)btf__resolve_size(ob, oid), (long long)btf__resolve_size(nb, nid));
		return 1;
	}
	if (!btf_is_composite(o))
		return 0;
	om = btf_members(o);
	nm = btf_members(n);
	for (int i = 0; i < btf_vlen(o) || i < btf_vlen(n); i++) {
		const char *on = i < btf_vlen(o) ? btf__name_by_offset(ob, om[i].name_off) : "(none)";
		const char *nn = i < btf_vlen(n) ? btf__name_by_offset(nb, nm[i].name_off) : "(none)";
		__u32 oo = i < btf_vlen(o) ? btf_member_bit_offset(o, i) / 8 : 0;
		__u32 no = i < btf_vlen(n) ? btf_member_bit_offset(n, i) / 8 : 0;
		long long os = i < btf_vlen(o) ? btf__resolve_size(ob, om[i].type) : -1;
		long long ns = i < btf_vlen(n) ? btf__resolve_size(nb, nm[i].type) : -1;

		if (strcmp(on, nn) || oo != no || os != ns) {
			edpg_err(-EPROTO, "%s %s: member %d is '%s' at byte %u (%lld bytes) in the pinned program, '%s' at byte %u (%lld bytes) in this build",
				 map, what, i, on, oo, os, nn, no, ns);
			bad++;
		}
	}
	return bad;
}

/*
 * Does every pinned map of @b have the layout this build's object @s
 * expects?  Type, key and value size and flags always; with @deep also
 * the BTF of keys and values, member by member (needs the kernel's BTF of
 * the pinned program: CAP_SYS_ADMIN).  max_entries may differ: it is the
 * site's sizing, kept across an upgrade.  Prints each difference;
 * -EPROTO when there is any.
 */
static int layout_check(struct edpgate *s, const struct edpg_bpf *b, bool deep)
{
	const struct btf *nbtf = bpf_object__btf(s->obj);
	struct btf *obtf = NULL;
	int bad = 0;

	for (int i = 0; i < EDPG_M_MAX; i++) {
		struct bpf_map *m = skel_map(s, i);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *name = edpg_map_names[i];

		if (bpf_obj_get_info_by_fd(b->map_fd[i], &info, &len))
			return edpg_err(-errno, "cannot read the pinned map %s", name);
		if (info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) || info.map_flags != bpf_map__map_flags(m)) {
			edpg_err(-EPROTO, "%s: pinned as type %u, key %u, value %u bytes, flags %#x; this build has type %u, key %u, value %u bytes, flags %#x",
				 name, info.type, info.key_size, info.value_size, info.map_flags,
				 bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				 bpf_map__map_flags(m));
			bad++;
			continue;
		}
		if (!deep || !info.btf_id || !nbtf)
			continue;
		if (!obtf) {
			obtf = btf__load_from_kernel_by_id(info.btf_id);
			if (!obtf)
				return edpg_err(-errno, "cannot read the BTF of the pinned program");
		}
		bad += btf_diff(name, "key", obtf, info.btf_key_type_id, nbtf,
				bpf_map__btf_key_type_id(m));
		bad += btf_diff(name, "value", obtf, info.btf_value_type_id, nbtf,
				bpf_map__btf_value_type_id(m));
	}
	btf__free(obtf);
	return bad ? -EPROTO : 0;
}

int edpg_bpf_prog_ident(int fd, uint32_t *id, char tag[17])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (id)
		*id = info.id;
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		sprintf(tag + 2 * i, "%02x", info.tag[i]);
	return 0;
}

/* Swing one pinned link from whatever program it runs now to @new_fd,
 * atomically and only if that is still the program it ran when read
 * (BPF_F_REPLACE).  Returns the fd of the program it ran, for a rollback. */
static int link_swing(const char *path, int new_fd, int *was_fd)
{
	LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = BPF_F_REPLACE);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int lfd, err = 0;

	*was_fd = -1;
	lfd = bpf_obj_get(path);
	if (lfd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(lfd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_LINK_TYPE_XDP || !info.xdp.ifindex) {
		err = -ENOLINK;	/* defunct: attach restores it */
		goto out;
	}
	*was_fd = bpf_prog_get_fd_by_id(info.prog_id);
	if (*was_fd < 0) {
		err = -errno;
		goto out;
	}
	uo.old_prog_fd = *was_fd;
	if (bpf_link_update(lfd, new_fd, &uo))
		err = -errno;
out:
	close(lfd);
	return err;
}

int edpg_bpf_upgrade(const char *pin_dir, struct edpg_upgrade *u)
{
	struct edpg_bpf old;
	struct edpgate *s = NULL;
	char path[PATH_MAX], tmp[PATH_MAX];
	int was[UPGRADE_MAX_LINKS];
	char links[UPGRADE_MAX_LINKS][NAME_MAX + 1];
	size_t nl = 0, swung = 0;
	struct dirent *de;
	DIR *d;
	int err, new_fd;

	memset(u, 0, sizeof(*u));
	err = open_pinned_raw(&old, pin_dir);
	if (err)
		return err;
	err = edpg_bpf_prog_ident(old.prog_fd, &u->old_id, u->old_tag);
	if (err)
		goto out;
	s = edpgate__open();
	if (!s) {
		err = edpg_err(-errno, "cannot open the BPF object");
		goto out;
	}
	err = layout_check(s, &old, true);
	if (err) {
		edpg_err(err, "this build changed the layout of the pinned maps, so it cannot take over their entries; nothing was changed. Keep the running build, or start afresh with `edpgate detach --all` and `edpgate attach IFACE` (gateways and addresses come back from the state directory; counters restart from zero)");
		goto out;
	}
	/* Every map: gateways, addresses, counters, events, pending MACs
	 * stay as they are; only the code changes. */
	for (int i = 0; i < EDPG_M_MAX && !err; i++)
		err = bpf_map__reuse_fd(skel_map(s, i), old.map_fd[i]);
	if (err) {
		edpg_err(err, "cannot reuse the pinned maps");
		goto out;
	}
	err = edpgate__load(s);
	if (err) {
		edpg_err(err, "the kernel refused this build's XDP program (run with -v for the verifier log); nothing was changed");
		goto out;
	}
	new_fd = bpf_program__fd(s->progs.edpgate_xdp);
	err = edpg_bpf_prog_ident(new_fd, &u->new_id, u->new_tag);
	if (err)
		goto out;

	d = opendir(pin_dir);
	if (!d) {
		err = -errno;
		goto out;
	}
	while ((de = readdir(d)) && nl < UPGRADE_MAX_LINKS)
		if (!strncmp(de->d_name, "link_", 5))
			snprintf(links[nl++], sizeof(links[0]), "%s", de->d_name);
	closedir(d);

	u->same = !strcmp(u->old_tag, u->new_tag);
	if (u->same) {
		/* Same code: nothing to swap unless a link still runs a
		 * program other than the pinned one (an upgrade cut short). */
		bool stray = false;

		for (size_t i = 0; i < nl; i++) {
			struct bpf_link_info li = {};
			__u32 len = sizeof(li);
			int lfd;

			link_pin_path(path, sizeof(path), pin_dir, links[i]);
			lfd = bpf_obj_get(path);
			if (lfd >= 0 && !bpf_obj_get_info_by_fd(lfd, &li, &len) && li.xdp.ifindex &&
			    li.prog_id != u->old_id)
				stray = true;
			if (lfd >= 0)
				close(lfd);
		}
		if (!stray) {
			u->new_id = u->old_id;
			goto out;
		}
		u->same = false;
	}

	for (swung = 0; swung < nl; swung++) {
		link_pin_path(path, sizeof(path), pin_dir, links[swung]);
		err = link_swing(path, new_fd, &was[swung]);
		if (err == -ENOLINK) {
			edpg_warn("%s is defunct (its interface is gone or it was detached); `edpgate attach IFACE` restores it",
				  path);
			err = 0;
			continue;
		}
		if (err) {
			edpg_err(err, "cannot switch %s to the new program", path);
			break;
		}
		u->nlinks++;
	}
	/* The new program pinned under a temporary name, then renamed over
	 * the old pin: a crash leaves one whole `prog` pin, never none. */
	if (!err) {
		snprintf(path, sizeof(path), "%s/prog", pin_dir);
		/* bpffs refuses names with a dot. */
		snprintf(tmp, sizeof(tmp), "%s/prog_new", pin_dir);
		unlink(tmp);
		if (bpf_obj_pin(new_fd, tmp) || rename(tmp, path)) {
			err = edpg_err(-errno, "cannot pin the new program as %s", path);
			unlink(tmp);
		}
	}
	if (err) {
		/* Put every switched link back on the program it ran. */
		for (size_t i = 0; i < swung; i++) {
			int dummy;

			if (was[i] < 0)
				continue;
			link_pin_path(path, sizeof(path), pin_dir, links[i]);
			if (link_swing(path, was[i], &dummy))
				edpg_warn("could not put %s back on the old program", path);
			if (dummy >= 0)
				close(dummy);
		}
	}
	for (size_t i = 0; i < swung && i < nl; i++)
		if (was[i] >= 0)
			close(was[i]);
out:
	if (s)
		edpgate__destroy(s);
	edpg_bpf_close(&old);
	return err;
}
