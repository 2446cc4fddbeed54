// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_object.c - the BPF sink's objects: load the program, pin it and its
 * maps, open the pins again, attach interfaces.
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
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "bpf_internal.h"
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
	[EDPG_M_GW_FILTER] = EDPG_MAP_GW_FILTER,
	[EDPG_M_PORTS] = EDPG_MAP_PORTS,
	[EDPG_M_SERVICES] = EDPG_MAP_SERVICES,
	[EDPG_M_DST4] = EDPG_MAP_DST4,
	[EDPG_M_DST6] = EDPG_MAP_DST6,
	[EDPG_M_CIDR4] = EDPG_MAP_CIDR4,
	[EDPG_M_CIDR6] = EDPG_MAP_CIDR6,
	[EDPG_M_GW_STATS] = EDPG_MAP_GW_STATS,
	[EDPG_M_GLOBAL] = EDPG_MAP_GLOBAL,
	[EDPG_M_GW_COLD] = EDPG_MAP_GW_COLD,
	[EDPG_M_EV_GLOBAL] = EDPG_MAP_EV_GLOBAL,
	[EDPG_M_EVENTS] = EDPG_MAP_EVENTS,
	[EDPG_M_PENDING] = EDPG_MAP_PENDING,
	[EDPG_M_LEARN] = EDPG_MAP_LEARN,
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
bool edpg_is_policy_map(int id)
{
	return id < EDPG_M_GW_STATS;
}

struct bpf_map *edpg_skel_map(struct edpgate *s, int id)
{
	return bpf_object__find_map_by_name(s->obj, edpg_map_names[id]);
}

void edpg_bpf_reset(struct edpg_bpf *b)
{
	memset(b, 0, sizeof(*b));
	b->prog_fd = -1;
	b->carry_fd = -1;
	for (int i = 0; i < EDPG_M_MAX; i++)
		b->map_fd[i] = -1;
	b->ncpus = libbpf_num_possible_cpus();
}

void edpg_bpf_init(struct edpg_bpf *b)
{
	edpg_bpf_reset(b);
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
	/* Never the skeleton's: bpf_grow.c creates it. */
	if (b->carry_fd >= 0)
		close(b->carry_fd);
	edpg_bpf_reset(b);
}

int edpg_bpf_fill_info(struct edpg_bpf *b)
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

bool edpg_pins_rdonly;

/*
 * A map pin of this build is missing while a program is pinned.  When
 * the program has such a map, only its pin went (attach pins it again:
 * -ENOENT, as for a missing pin); when it has none, it was loaded by a
 * build with another set of maps, and writing to it as if it were this
 * build's would leave the change out of the filter: -EPROTO, said here.
 */
static int missing_map(int prog_fd, const char *pin_dir, const char *name)
{
	int fd = edpg_prog_map_fd(prog_fd, name);

	if (fd >= 0) {
		close(fd);
		return -ENOENT;
	}
	if (fd != -ENOENT)
		return -ENOENT;	/* cannot tell: as before */
	return edpg_err(-EPROTO, "the program pinned in %s has no map %s: it was loaded by an edpgate with another map layout; use that build, or `edpgate detach --all` and attach with this one (gateways and addresses come back from the state directory; counters restart from zero)",
			pin_dir, name);
}

int edpg_bpf_open_raw(struct edpg_bpf *b, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	char path[PATH_MAX];
	int err = 0;

	edpg_bpf_reset(b);
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
			if (err == -ENOENT && b->prog_fd >= 0)
				err = missing_map(b->prog_fd, pin_dir, edpg_map_names[i]);
			goto out;
		}
	}
	/* Absent until the maps first grow. */
	snprintf(path, sizeof(path), "%s/%s", pin_dir, EDPG_CARRY_PIN);
	b->carry_fd = edpg_pins_rdonly ? bpf_obj_get_opts(path, &ro) : bpf_obj_get(path);
	if (b->carry_fd < 0 && errno != ENOENT) {
		err = -errno;
		goto out;
	}
	err = edpg_bpf_fill_info(b);
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

	err = edpg_bpf_open_raw(b, pin_dir);
	if (err)
		return err;
	s = edpgate__open();
	if (!s)
		return edpg_err(-errno, "cannot open the BPF object");
	err = edpg_layout_check(s, b, false);
	edpgate__destroy(s);
	if (err) {
		edpg_err(err, "the program pinned in %s was loaded by an edpgate with another map layout; use that build, or `edpgate detach --all` and attach with this one",
			 pin_dir);
		edpg_bpf_close(b);
	}
	return err;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

int edpg_bpf_follow(struct edpg_bpf *b, const char *pin_dir)
{
	char path[PATH_MAX];
	struct edpg_bpf nb;
	uint32_t pinned;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[EDPG_M_GATEWAYS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;	/* gone: the keeper's check restores it */
	pinned = map_id(fd);
	close(fd);
	if (!pinned || pinned == map_id(b->map_fd[EDPG_M_GATEWAYS]))
		return 0;
	err = edpg_bpf_open_pinned(&nb, pin_dir);
	if (err)
		return err;
	edpg_bpf_close(b);
	*b = nb;
	return 1;
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

int edpg_skel_open(struct edpgate **out, const struct edpg_load_opts *o)
{
	uint32_t gws = o && o->max_gateways ? o->max_gateways : EDPG_MAX_GATEWAYS;
	uint32_t dst = o && o->max_dst ? o->max_dst : EDPG_MAX_DST;
	struct edpgate *s;
	int err;

	s = edpgate__open();
	if (!s)
		return -errno;
	/* The clock the kernel has (bpf_features.c; edpgate.bpf.c). */
	s->rodata->coarse_clock = edpg_kfeat_coarse_clock();
	err = bpf_map__set_max_entries(s->maps.edpg_gateways, EDPG_NR_GENS * gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_gw_stats, gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_gw_cold, gws);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_dst4, EDPG_NR_GENS * dst);
	err = err ?: bpf_map__set_max_entries(s->maps.edpg_dst6, EDPG_NR_GENS * dst);
	if (err) {
		edpgate__destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

void edpg_bpf_take_fds(struct edpg_bpf *b, struct edpgate *s)
{
	b->skel = s;
	b->prog_fd = bpf_program__fd(s->progs.edpgate_xdp);
	for (int i = 0; i < EDPG_M_MAX; i++)
		b->map_fd[i] = bpf_map__fd(edpg_skel_map(s, i));
}

int edpg_bpf_load_and_pin(struct edpg_bpf *b, const char *pin_dir, const struct edpg_load_opts *o)
{
	struct edpgate *s = NULL;
	char path[PATH_MAX];
	int err;

	edpg_bpf_reset(b);
	err = edpg_kfeat_require();
	err = err ?: ensure_bpffs(pin_dir);
	if (err)
		return err;
	err = edpg_skel_open(&s, o);
	if (err)
		return edpg_err(err, "cannot open the BPF object");
	err = edpgate__load(s);
	if (err) {
		edpgate__destroy(s);
		return edpg_err(err, "the kernel refused the XDP program (run with -v for the verifier log)");
	}
	edpg_bpf_take_fds(b, s);
	err = edpg_bpf_fill_info(b);
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

	edpg_bpf_reset(out);
	if (o)
		lo = *o;
	if (share)
		lo.max_gateways = share->max_gateways;
	err = edpg_kfeat_require();
	if (err)
		return err;
	err = edpg_skel_open(&s, &lo);
	if (err)
		return edpg_err(err, "cannot open the BPF object");
	if (share) {
		for (int i = 0; i < EDPG_M_MAX && !err; i++)
			if (edpg_is_policy_map(i))
				err = bpf_map__reuse_fd(edpg_skel_map(s, i), share->map_fd[i]);
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
	edpg_bpf_take_fds(out, s);
	err = edpg_bpf_fill_info(out);
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
