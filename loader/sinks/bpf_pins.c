// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_pins.c - the pins as the kernel sees them, and pinning again what
 * was unpinned behind edpgate's back.
 *
 * The pins are only names: a map whose pin was removed lives on while
 * the program uses it, and the program lives on while a link holds it.
 * So these first look for the live objects and pin them again (nothing
 * lost), and load the program anew only when it is really gone.  What is
 * wrong and what to repair is decided above the sink (ops/health.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "bpf_pins.h"
#include "log.h"
#include "snoop.h"

#define PROG_NAME "edpgate_xdp"

static const char *const snoop_maps[] = { EDPG_SNOOP_PIN_RB, EDPG_SNOOP_PIN_LOST };
const char *const edpg_snoop_pins[EDPG_SNOOP_NPINS] = {
	EDPG_SNOOP_PIN_PROG, EDPG_SNOOP_PIN_RB, EDPG_SNOOP_PIN_LOST, EDPG_SNOOP_PIN_PROG_Q,
};

static bool pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return access(path, F_OK) == 0;
}

void edpg_restored_add(struct edpg_restored *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n == EDPG_RESTORED_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->v[r->n++], sizeof(r->v[0]), fmt, ap);
	va_end(ap);
}

int edpg_bpf_link_read(const char *pin_dir, const char *ifname, struct edpg_bpf_link *out)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	memset(out, 0, sizeof(*out));
	edpg_bpf_link_path(path, sizeof(path), pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	close(fd);
	if (err)
		return err;
	out->id = info.id;
	out->prog_id = info.prog_id;
	out->ifindex = info.xdp.ifindex;
	return 0;
}

int edpg_bpf_xdp_prog_ids(int ifindex, uint32_t ids[3])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return -errno;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	return 0;
}

void edpg_bpf_prog_name(uint32_t id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(buf, len, "%s", info.name[0] ? info.name : "unnamed");
	close(fd);
}

/* A program's name, and whether it is the one we look for. */
static bool prog_is(int fd, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name);
}

static uint32_t obj_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * The program a pinned link of a recorded interface still holds: @held's
 * when it is that one (no privilege needed), else by id (CAP_SYS_ADMIN).
 * -EPERM when a link is live but its program out of reach: then nothing
 * may be reloaded over it.
 */
static int prog_from_links(const char *pin_dir, const struct edpg_ifaces *ifs,
			   const struct edpg_bpf *held, const char **from)
{
	uint32_t hid = held && held->prog_fd >= 0 ? obj_prog_id(held->prog_fd) : 0;
	int ret = -ENOENT;

	for (size_t i = 0; i < ifs->n; i++) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		char path[PATH_MAX];
		int lfd, fd;

		edpg_bpf_link_path(path, sizeof(path), pin_dir, ifs->v[i].name);
		lfd = bpf_obj_get(path);
		if (lfd < 0)
			continue;
		fd = -1;
		if (!bpf_obj_get_info_by_fd(lfd, &info, &len) && info.prog_id) {
			if (info.prog_id == hid)
				fd = dup(held->prog_fd);
			else
				fd = bpf_prog_get_fd_by_id(info.prog_id);
			if (fd < 0 && info.xdp.ifindex)
				ret = -errno;
		}
		close(lfd);
		if (fd >= 0 && prog_is(fd, PROG_NAME)) {
			*from = ifs->v[i].name;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

/* Pin again the maps of @held whose pins are missing (no privilege
 * needed: the daemon has them open). */
static int repin_held(const struct edpg_bpf *held, const char *pin_dir, struct edpg_restored *r)
{
	char path[PATH_MAX];

	for (int i = 0; i < EDPG_M_MAX; i++) {
		if (pinned(pin_dir, edpg_map_names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[i]);
		if (bpf_obj_pin(held->map_fd[i], path))
			return edpg_err(-errno, "cannot pin %s", path);
		edpg_restored_add(r, "map pin %s", edpg_map_names[i]);
	}
	return 0;
}

int edpg_prog_map_fd(int prog_fd, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64];

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	if (info.nr_map_ids > 64)
		return -E2BIG;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0 && (errno == EPERM || errno == EACCES))
			return -errno;	/* the caller says what to do */
		if (fd < 0)
			continue;
		/* The kernel keeps BPF_OBJ_NAME_LEN - 1 bytes of a name. */
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) &&
		    !strncmp(mi.name, name, sizeof(mi.name) - 1))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* Pin again every map of @names whose pin is missing, taken from the maps
 * @prog_fd uses (a map lives as long as a program using it). */
static int repin_maps(int prog_fd, const char *pin_dir, const char *const *names, size_t n,
		      struct edpg_restored *r)
{
	char path[PATH_MAX];
	int err = 0;

	for (size_t k = 0; k < n && !err; k++) {
		int fd;

		if (pinned(pin_dir, names[k]))
			continue;
		fd = edpg_prog_map_fd(prog_fd, names[k]);
		if (fd == -ENOENT)
			return edpg_err(fd, "map %s is not used by the running program; `edpgate detach --all` and attach again",
					names[k]);
		if (fd < 0)
			return fd;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[k]);
		if (bpf_obj_pin(fd, path))
			err = edpg_err(-errno, "cannot pin %s", path);
		else
			edpg_restored_add(r, "map pin %s", names[k]);
		close(fd);
	}
	return err;
}

static void unpin(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	unlink(path);
}

/* The gateway capacity of a surviving counter map, so a reload keeps it. */
static uint32_t old_capacity(const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	uint32_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_map_names[EDPG_M_GW_STATS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		n = info.max_entries;
	close(fd);
	return n;
}

int edpg_bpf_repin(const char *pin_dir, const struct edpg_ifaces *ifs,
			 const struct edpg_bpf *held, struct edpg_bpf *b, struct edpg_restored *r)
{
	struct edpg_load_opts lo = {};
	const char *from = NULL;
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno != ENOENT)
		return edpg_err(-errno, "cannot open %s", path);
	if (fd < 0) {
		fd = prog_from_links(pin_dir, ifs, held, &from);
		if (fd == -EPERM || fd == -EACCES)
			return edpg_err(fd, "an XDP link is live but its program cannot be reached to pin it again (needs CAP_SYS_ADMIN)");
		if (fd >= 0) {
			if (bpf_obj_pin(fd, path)) {
				err = edpg_err(-errno, "cannot pin %s", path);
				close(fd);
				return err;
			}
			edpg_restored_add(r, "program pin prog (from the link of %s)", from);
		}
	}
	/* The daemon still holds the instance whose pins were removed:
	 * pinning it again keeps the gateways and the counters. */
	if (fd < 0 && held && held->prog_fd >= 0 && prog_is(held->prog_fd, PROG_NAME)) {
		fd = dup(held->prog_fd);
		if (fd >= 0 && bpf_obj_pin(fd, path)) {
			err = edpg_err(-errno, "cannot pin %s", path);
			close(fd);
			return err;
		}
		if (fd >= 0) {
			r->from_held = true;
			edpg_restored_add(r, "program pin prog (from the instance the daemon holds)");
		}
	}
	if (fd >= 0) {
		if (held && held->prog_fd >= 0 && obj_prog_id(fd) == obj_prog_id(held->prog_fd))
			err = repin_held(held, pin_dir, r);
		else
			err = repin_maps(fd, pin_dir, edpg_map_names, EDPG_M_MAX, r);
		close(fd);
		if (err == -EPERM || err == -EACCES)
			return edpg_err(err, "the maps of the running program cannot be reached to pin them again (needs CAP_SYS_ADMIN)");
		if (err)
			return err;
		return edpg_bpf_open_pinned(b, pin_dir);
	}
	/*
	 * The program is gone (no pin, no link holds it): whatever pins are
	 * left belong to a dead instance.  The snooper shares its gateway
	 * map, so it goes too and is loaded again with the new maps.
	 */
	lo.max_gateways = old_capacity(pin_dir);
	for (int i = 0; i < EDPG_M_MAX; i++)
		unpin(pin_dir, edpg_map_names[i]);
	unpin(pin_dir, EDPG_CARRY_PIN);
	unpin(pin_dir, EDPG_SNOOP_PIN_PROG);
	for (size_t i = 0; i < 2; i++)
		unpin(pin_dir, snoop_maps[i]);
	for (size_t i = 0; i < ifs->n; i++) {
		edpg_bpf_link_path(path, sizeof(path), pin_dir, ifs->v[i].name);
		unlink(path);
	}
	err = edpg_bpf_load_and_pin(b, pin_dir, &lo);
	if (err)
		return err;
	r->reloaded = true;
	edpg_restored_add(r, "program and maps loaded again (the old ones were gone; counters restart from zero)");
	return 0;
}

int edpg_snoop_repin(const char *pin_dir, const struct edpg_held *held, bool reloaded,
			  struct edpg_restored *r, bool *reattach)
{
	char path[PATH_MAX];
	int fd, err;

	*reattach = false;
	/* The held snooper shares the held instance's maps: only while that
	 * one is still the live one. */
	for (int i = 0; held && !reloaded && i < EDPG_SNOOP_NPINS; i++) {
		if (held->snoop_fd[i] < 0 || pinned(pin_dir, edpg_snoop_pins[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, edpg_snoop_pins[i]);
		if (bpf_obj_pin(held->snoop_fd[i], path))
			return edpg_err(-errno, "cannot pin %s", path);
		edpg_restored_add(r, "snooper pin %s", edpg_snoop_pins[i]);
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, EDPG_SNOOP_PIN_PROG);
	fd = bpf_obj_get(path);
	/* The question program shares no map a pin could be found from:
	 * without its pin (removed, or an older instance that had none) the
	 * snooper is loaded again, both sides. */
	if (fd >= 0 && !pinned(pin_dir, EDPG_SNOOP_PIN_PROG_Q)) {
		close(fd);
		unlink(path);
		edpg_restored_add(r, "DNS snooper loaded again (its question program was not pinned)");
		fd = -1;
		errno = ENOENT;
	}
	if (fd >= 0) {
		err = repin_maps(fd, pin_dir, snoop_maps, 2, r);
		close(fd);
		if (!err)
			return 0;
		/* Its maps out of reach: a new snooper costs only the
		 * answers in flight. */
		unlink(path);
	} else if (errno != ENOENT) {
		return edpg_err(-errno, "cannot open %s", path);
	}
	for (size_t i = 0; i < 2; i++)
		unpin(pin_dir, snoop_maps[i]);
	*reattach = true;
	return 0;
}
