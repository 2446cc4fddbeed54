// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_grow.c - gateway capacity sized to the site, grown under a live link.
 *
 * The per-CPU counter array edpg_gw_stats costs its whole max_entries on
 * every possible CPU whether a slot is used or not (4.5 MiB per CPU at
 * 65,536 slots), and the preallocated gateway table twice its slots.  So
 * without --max-gateways the maps start with room for the site and at
 * least half as much again and, when an enrolment needs more, a second
 * instance sized the same way is loaded beside the live one: every map
 * that does not depend on the capacity is the live one itself (addresses,
 * ports, services, ctl, events, pending, learn: reused, not copied); the
 * gateway records and the counters are copied; then each XDP link is
 * switched to the new program in one bpf_link_update() (a frame is judged
 * by the old instance or the new one, never by none) and the pins are
 * renamed over the old ones.  The DNS snooper, which reads the gateway
 * table, is switched to the new table the same way.
 *
 * The old counters are carried after the switch, once the old program
 * has finished its last frame (see build_carry()).
 *
 * The new maps are pinned as NAME_new before the switch and renamed over
 * NAME after it.  A growth killed in between leaves NAME_new pins behind;
 * the next holder of the state lock finishes it (the pinned program uses
 * them: the switch was done; the snooper is switched again) or drops them
 * (it was not): edpg_bpf_finish_growth().  Killed within those ~10 ms
 * after the switch, the counters of the old maps are not carried.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_features.h"
#include "bpf_internal.h"
#include "log.h"
#include "snoop.h"
#include "state.h"
#include "edpgate.skel.h"

/* The maps whose size is the gateway capacity: new ones on growth. */
static bool sized_by_capacity(int id)
{
	return id == EDPG_M_GATEWAYS || id == EDPG_M_GW_STATS || id == EDPG_M_GW_COLD;
}

uint32_t edpg_bpf_capacity_for(size_t ngws)
{
	uint32_t cap = EDPG_MIN_CAPACITY;

	/* 1.5x, not 2x: the growth of an import of 10,000 creates 16,384
	 * slots instead of 32,768, half the per-CPU rows to allocate, and
	 * the next growth is still 6,000 enrolments away. */
	while (cap < EDPG_MAX_GATEWAYS && cap < ngws + ngws / 2)
		cap *= 2;
	return cap;
}

/*
 * Every entry of @from into @to, @chunk entries per batched call (both
 * hashes and arrays answer batches since 5.6; the floor is 5.10).  For a
 * per-CPU map @vsz is the whole row, every possible CPU's value.  @fix,
 * when given, rewrites each chunk's values before they are written.
 */
static int copy_entries(int from, int to, size_t ksz, size_t vsz,
			void (*fix)(void *vals, size_t len))
{
	const __u32 chunk = 256;
	void *keys, *vals;
	__u64 batch = 0;
	bool first = true, last = false;
	int err = 0;

	keys = calloc(chunk, ksz);
	vals = calloc(chunk, vsz);
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!last) {
		__u32 n = chunk;

		if (bpf_map_lookup_batch(from, first ? NULL : &batch, &batch, keys, vals, &n, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				goto out;
			}
			last = true;	/* n holds the final entries */
		}
		first = false;
		if (fix)
			fix(vals, (size_t)n * vsz);
		if (n && bpf_map_update_batch(to, keys, vals, &n, NULL)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* Pin @fd as @pin_dir/@name_new (bpffs refuses a dot in a name). */
static int pin_tmp(int fd, const char *pin_dir, const char *name)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/%s_new", pin_dir, name);
	unlink(tmp);	/* left by a growth cut short */
	if (bpf_obj_pin(fd, tmp))
		return edpg_err(-errno, "cannot pin %s", tmp);
	return 0;
}

/* The pins a growth replaces: the capacity-sized maps and the carry. */
static const char *grown_pin(int i)
{
	if (i == EDPG_M_MAX)
		return EDPG_CARRY_PIN;
	return sized_by_capacity(i) ? edpg_map_names[i] : NULL;
}

static void unpin_tmp(const char *pin_dir)
{
	char tmp[PATH_MAX];

	for (int i = 0; i <= EDPG_M_MAX; i++) {
		if (!grown_pin(i))
			continue;
		snprintf(tmp, sizeof(tmp), "%s/%s_new", pin_dir, grown_pin(i));
		unlink(tmp);
	}
}

/*
 * NAME_new over NAME.  No carry_new (its counters could not be summed):
 * the old carry stays, still right for the same slots.
 */
static int rename_tmp(const char *pin_dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	for (int i = 0; i <= EDPG_M_MAX; i++) {
		if (!grown_pin(i))
			continue;
		snprintf(tmp, sizeof(tmp), "%s/%s_new", pin_dir, grown_pin(i));
		snprintf(path, sizeof(path), "%s/%s", pin_dir, grown_pin(i));
		if (rename(tmp, path) && !(i == EDPG_M_MAX && errno == ENOENT))
			return edpg_err(-errno, "cannot rename %s to %s", tmp, path);
	}
	return 0;
}

/*
 * The old instance's counters, frozen once the old program finished its
 * last frame, into a new carry map (with what the old one carried):
 * never added into the new counters, which the new program is counting
 * into by then (a read-modify-write of a live per-CPU row loses the
 * frames counted between the read and the write: 80 of them in a 5 Mpps
 * flow).  Readers add carry and counters (edpg_bpf_gw_stats()).  Rows
 * never used cost nothing: the hash allocates per entry.
 */
static int build_carry(const struct edpg_bpf *old, int *carry_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	static const struct edpg_gw_stats zero;
	struct edpg_gw_stats sum;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, EDPG_CARRY_PIN, sizeof(__u32), sizeof(sum),
			    EDPG_MAX_GATEWAYS, &mo);
	if (fd < 0)
		return -errno;
	for (__u32 k = 0; k < old->max_gateways && !err; k++) {
		/* With what the old carry held for the slot. */
		err = edpg_bpf_gw_stats(old, k, &sum);
		if (err || !memcmp(&sum, &zero, sizeof(sum)))
			continue;
		if (bpf_map_update_elem(fd, &k, &sum, BPF_NOEXIST))
			err = -errno;
	}
	if (err) {
		close(fd);
		return err;
	}
	*carry_fd = fd;
	return 0;
}

/*
 * The cold rows go to the new instance with their counts zeroed: the drop
 * records are the last ones (copied, not added), the counts go to the
 * carry with the rest (build_carry()), never counted twice.  @len bytes
 * of whole rows, every CPU's.
 */
static void cold_keep_records(void *vals, size_t len)
{
	struct edpg_gw_cold *v = vals;

	for (size_t i = 0; i < len / sizeof(*v); i++) {
		struct edpg_gw_diag d = v[i].diag;

		memset(&v[i], 0, sizeof(v[i]));
		v[i].diag = d;
	}
}

/* The old program's last frames: a grace period of RCU, under which XDP
 * runs (MEMBARRIER_CMD_GLOBAL waits for one). */
static int old_prog_done(void)
{
	return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) ? -errno : 0;
}

int edpg_bpf_grow(struct edpg_bpf *b, const char *pin_dir, const struct edpg_ifaces *ifs,
		  uint32_t cap, struct edpg_grown *g)
{
	struct edpg_load_opts lo = { .max_gateways = cap };
	struct edpg_snoop_upgrade su;
	struct edpg_upgrade u = {};
	struct edpgate *s = NULL;
	struct edpg_bpf nb;
	int err;

	memset(g, 0, sizeof(*g));
	g->old_cap = b->max_gateways;
	g->new_cap = cap;
	err = edpg_kfeat_require();
	err = err ?: edpg_skel_open(&s, &lo);
	for (int i = 0; i < EDPG_M_MAX && !err; i++)
		if (!sized_by_capacity(i))
			err = bpf_map__reuse_fd(edpg_skel_map(s, i), b->map_fd[i]);
	err = err ?: edpgate__load(s);
	if (err) {
		edpg_err(err, "cannot load a second instance with room for %u gateways", cap);
		goto out;
	}
	/* The records before any frame meets the new program; the drop
	 * records too (the last ones, not counts: copied, not added). */
	err = copy_entries(b->map_fd[EDPG_M_GATEWAYS], bpf_map__fd(s->maps.edpg_gateways),
			   sizeof(struct edpg_gw_key), sizeof(struct edpg_gw), NULL);
	err = err ?: copy_entries(b->map_fd[EDPG_M_GW_COLD], bpf_map__fd(s->maps.edpg_gw_cold),
				  sizeof(__u32), sizeof(struct edpg_gw_cold) * b->ncpus,
				  cold_keep_records);
	if (err) {
		edpg_err(err, "cannot copy the gateways and their counters to the larger maps");
		goto out;
	}
	for (int i = 0; i < EDPG_M_MAX && !err; i++)
		if (sized_by_capacity(i))
			err = pin_tmp(bpf_map__fd(edpg_skel_map(s, i)), pin_dir, edpg_map_names[i]);
	if (err)
		goto out;
	/* From here a frame meets the new maps: the switch, then the names. */
	err = edpg_bpf_swing_all(pin_dir, bpf_program__fd(s->progs.edpgate_xdp), &u);
	if (err)
		goto out;	/* the links are back on the old program */
	g->nlinks = u.nlinks;
	edpg_bpf_reset(&nb);
	edpg_bpf_take_fds(&nb, s);
	s = NULL;
	/*
	 * Past the switch nothing is undone: what is left is done here, or
	 * by the next holder of the lock if this process dies
	 * (edpg_bpf_finish_growth()).  The snooper first, while the new
	 * gateway table is only ours to name.
	 */
	err = edpg_bpf_fill_info(&nb);
	err = err ?: edpg_snoop_upgrade(&nb, pin_dir, ifs, true, &su);
	if (err)
		edpg_warn("the maps grew, but the DNS snooper still reads the old gateway table: `edpgate detach --all` and `attach` again");
	g->snoop_ifaces = su.nifaces;
	/* The counters after the old program's last frame, before the
	 * pins name the new maps (readers see the old ones until then). */
	err = old_prog_done();
	err = err ?: build_carry(b, &nb.carry_fd);
	err = err ?: pin_tmp(nb.carry_fd, pin_dir, EDPG_CARRY_PIN);
	if (err) {
		edpg_warn("the gateways' counters could not be carried to the larger maps (%s)",
			  strerror(-err));
		/* The old carry is still right for the same slots. */
		if (nb.carry_fd < 0 && b->carry_fd >= 0)
			nb.carry_fd = dup(b->carry_fd);
	}
	err = rename_tmp(pin_dir);
	edpg_bpf_close(b);
	*b = nb;
	return err;
out:
	unpin_tmp(pin_dir);
	if (s)
		edpgate__destroy(s);
	return err;
}

/* Whether program @prog_fd uses the map @map_fd. */
static bool prog_uses(int prog_fd, int map_fd)
{
	struct bpf_prog_info info = {};
	struct bpf_map_info mi = {};
	__u32 len = sizeof(info), mlen = sizeof(mi), ids[64];

	if (bpf_obj_get_info_by_fd(map_fd, &mi, &mlen) ||
	    bpf_obj_get_info_by_fd(prog_fd, &info, &len) || info.nr_map_ids > 64)
		return false;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return false;
	for (__u32 i = 0; i < info.nr_map_ids; i++)
		if (ids[i] == mi.id)
			return true;
	return false;
}

int edpg_bpf_finish_growth(const char *pin_dir, const struct edpg_ifaces *ifs)
{
	struct edpg_snoop_upgrade su;
	struct edpg_bpf b;
	char path[PATH_MAX];
	int mfd, pfd;
	bool done;

	snprintf(path, sizeof(path), "%s/%s_new", pin_dir, edpg_map_names[EDPG_M_GATEWAYS]);
	mfd = bpf_obj_get(path);
	if (mfd < 0)
		return 0;	/* the common case: no growth cut short */
	snprintf(path, sizeof(path), "%s/prog", pin_dir);
	pfd = bpf_obj_get(path);
	done = pfd >= 0 && prog_uses(pfd, mfd);
	close(mfd);
	if (!done) {
		/* `prog` is pinned after every link is switched: cut short
		 * in between, some links run the new program.  Back onto the
		 * pinned one (whose maps the pins hold) before the new maps go. */
		int back = pfd >= 0 ? edpg_bpf_links_back(pin_dir, pfd) : 0;

		if (pfd >= 0)
			close(pfd);
		if (back < 0)
			return edpg_err(back, "a growth of the maps was cut short during the switch and its links cannot be put back; `edpgate detach --all` and `attach` again");
		unpin_tmp(pin_dir);
		edpg_warn("a growth of the maps was cut short before the switch%s; its maps are dropped",
			  back ? " of every link: those switched are back on the pinned program" : "");
		return 0;
	}
	close(pfd);
	edpg_warn("a growth of the maps was cut short after the switch; finishing it (the counters of that moment may be short)");
	if (rename_tmp(pin_dir))
		return -EIO;
	/* The snooper may still read the old gateway table. */
	if (edpg_bpf_open_raw(&b, pin_dir))
		return -EIO;
	if (edpg_snoop_upgrade(&b, pin_dir, ifs, true, &su))
		edpg_warn("the DNS snooper still reads the old gateway table: `edpgate detach --all` and `attach` again");
	edpg_bpf_close(&b);
	return 0;
}

int edpg_bpf_make_room(struct edpg_bpf *b, const char *pin_dir, const struct edpg_ifaces *ifs,
		       size_t ngws, edpg_grow_fn grow, void *grow_arg)
{
	struct edpg_grown g;
	uint32_t cap;
	int err;

	if (ngws <= b->max_gateways || !pin_dir || !ifs || ifs->max_gateways ||
	    b->max_gateways >= EDPG_MAX_GATEWAYS || ngws > EDPG_MAX_GATEWAYS)
		return edpg_bpf_room(b, ngws);
	cap = edpg_bpf_capacity_for(ngws);
	g.old_cap = b->max_gateways;
	if (grow) {
		err = grow(grow_arg, cap, &g);
		/* The pins hold the grown instance now: hold it too. */
		if (!err && edpg_bpf_follow(b, pin_dir) <= 0)
			err = -EIO;
	} else {
		err = edpg_bpf_grow(b, pin_dir, ifs, cap, &g);
	}
	if (err)
		return edpg_err(err, "%zu gateways do not fit the %u slots of the loaded program and it could not grow; nothing was changed",
				ngws, g.old_cap);
	edpg_info("gateway capacity %u -> %u for %zu gateways (%zu links switched, counters kept)",
		  g.old_cap, g.new_cap, ngws, g.nlinks);
	return 0;
}
