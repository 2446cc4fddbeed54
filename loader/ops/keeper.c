// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * keeper.c - the daemon's attachment keeper (see keeper.h).
 *
 * Needs CAP_BPF and CAP_NET_ADMIN only (loading, pinning on a root-owned
 * bpffs, links, tc, nft), which the daemon keeps.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "keeper.h"
#include "log.h"

/* The snooper's objects, held like the XDP program's so that pins
 * removed by hand are pinned again without loading anything. */
void edpg_keeper_hold_snooper(struct edpg_keeper *k)
{
	char path[PATH_MAX];

	if (!k->w)
		return;		/* not started yet: it holds them at start */

	for (int i = 0; i < EDPG_SNOOP_NPINS; i++) {
		if (k->snoop_fd[i] >= 0)
			close(k->snoop_fd[i]);
		snprintf(path, sizeof(path), "%s/%s", k->w->pin_dir, edpg_snoop_pins[i]);
		k->snoop_fd[i] = bpf_obj_get(path);
	}
}

void edpg_keeper_init(struct edpg_keeper *k, const struct edpg_where *w,
		      const struct edpg_ifaces *ifs)
{
	int err;

	memset(k, 0, sizeof(*k));
	k->w = w;
	k->ifs = ifs;
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		k->snoop_fd[i] = -1;
	/* Link events, so a deleted or re-created interface is seen at
	 * once (the once-a-second check would find it too: this is not
	 * load-bearing). */
	err = edpg_rtlink_open(&k->nl);
	if (err)
		edpg_warn("no rtnetlink link events (%s); interfaces are checked once a second",
			  strerror(-err));
	edpg_keeper_hold_snooper(k);
	k->check_now = true;
}

void edpg_keeper_free(struct edpg_keeper *k)
{
	edpg_rtlink_close(k->nl);
	for (int i = 0; i < EDPG_SNOOP_NPINS; i++)
		if (k->snoop_fd[i] >= 0)
			close(k->snoop_fd[i]);
	memset(k, 0, sizeof(*k));
}

int edpg_keeper_fd(const struct edpg_keeper *k)
{
	return k->nl ? edpg_rtlink_fd(k->nl) : -1;
}

static void on_link(void *ctx, const char *name, int ifindex, bool deleted, bool up)
{
	struct edpg_keeper *k = ctx;

	for (size_t i = 0; i < k->ifs->n; i++) {
		if (strcmp(k->ifs->v[i].name, name))
			continue;
		edpg_debug("rtnetlink: %s %s (ifindex %d, %s)", name,
			   deleted ? "deleted" : "changed", ifindex, up ? "up" : "down");
		k->check_now = k->link_event = true;
	}
}

void edpg_keeper_read_links(struct edpg_keeper *k)
{
	/* Events lost (ENOBUFS): look anyway. */
	if (k->nl && edpg_rtlink_read(k->nl, on_link, k))
		k->check_now = k->link_event = true;
}

bool edpg_keeper_due(struct edpg_keeper *k, uint64_t now)
{
	if (!k->check_now && now == k->last_check)
		return false;
	/* Said with each restore: the admin (and the tests) can tell a
	 * restore the link event brought at once from one of the poll. */
	k->event_check = k->link_event;
	k->link_event = false;
	k->check_now = false;
	k->last_check = now;
	return true;
}

static bool has_problem(const struct edpg_health *h, const struct edpg_problem *p)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->p[i].where, p->where) && !strcmp(h->p[i].code, p->code))
			return true;
	return false;
}

/* Each problem once when it appears, and once when it is gone. */
static void log_health(struct edpg_keeper *k, const struct edpg_health *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (!has_problem(&k->health, &h->p[i]))
			edpg_warn("%s", h->p[i].what);
	for (size_t i = 0; i < k->health.n; i++)
		if (!has_problem(h, &k->health.p[i]))
			edpg_info("resolved: %s", k->health.p[i].what);
	k->health = *h;
}

/* Under the lock: check again (a command may have restored it
 * meanwhile), then repair.  1 when @nb holds a new instance. */
static int repair_locked(struct edpg_keeper *k, struct edpg_bpf *b, struct edpg_ifaces *ifs,
			 struct edpg_bpf *nb, struct edpg_restored *rs)
{
	struct edpg_held held = { .bpf = b };
	struct edpg_health h;
	int err;

	edpg_bpf_init(nb);
	err = edpg_ifaces_load(k->w->state_dir, ifs);
	if (!err)
		edpg_health_check(k->w->pin_dir, ifs, &h);
	if (err || !edpg_health_needs_repair(&h, NULL))
		return 0;
	memcpy(held.snoop_fd, k->snoop_fd, sizeof(held.snoop_fd));
	err = edpg_health_repair(k->w->pin_dir, ifs, NULL, &held, nb, rs);
	for (size_t i = 0; i < rs->n; i++)
		edpg_info("restored %s%s", rs->v[i], k->event_check ? " (on a link event)" : "");
	if (edpg_bpf_has_prog(nb) && edpg_ifaces_save(k->w->state_dir, ifs))
		edpg_warn("cannot write %s/" EDPG_STATE_INTERFACES, k->w->state_dir);
	return err;
}

static bool ifaces_differ(const struct edpg_ifaces *a, const struct edpg_ifaces *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].enforce, b->v[i].enforce))
			return true;
	return false;
}

int edpg_keeper_check(struct edpg_keeper *k, uint64_t now, struct edpg_bpf *b,
		      struct edpg_ifaces *ifs, bool *reloaded)
{
	struct edpg_restored rs = {};
	struct edpg_ifaces nifs;
	struct edpg_health h;
	struct edpg_bpf nb;
	int err, fd;

	*reloaded = false;
	if (edpg_ifaces_load(k->w->state_dir, &nifs))
		return 0;
	/* attach, detach and `enforce` change the file under the lock and
	 * push themselves; the daemon's own later full pushes must build
	 * from the same interfaces and mode, or they would undo them. */
	if (ifaces_differ(ifs, &nifs)) {
		edpg_info("the attached interfaces or their mode changed: now %s%s",
			  nifs.n ? nifs.v[0].enforce : "none", nifs.n ? "" : " attached");
		*ifs = nifs;
	}
	edpg_health_check(k->w->pin_dir, &nifs, &h);
	log_health(k, &h);
	if (!edpg_health_needs_repair(&h, NULL) || now < k->repair_after)
		return 0;
	fd = edpg_lock(k->w->state_dir);
	if (fd < 0)
		return 0;
	err = repair_locked(k, b, &nifs, &nb, &rs);
	edpg_unlock(fd);
	if (err) {
		k->repair_after = now + EDPG_REPAIR_RETRY;
		edpg_warn("could not restore everything (%s); trying again in %ds", strerror(-err),
			  EDPG_REPAIR_RETRY);
	}
	if (!edpg_bpf_has_prog(&nb))
		return 0;
	edpg_bpf_close(b);
	*b = nb;
	*ifs = nifs;
	*reloaded = rs.reloaded;
	/* The snooper's objects may be new ones; and say "resolved" at once. */
	edpg_keeper_hold_snooper(k);
	k->check_now = true;
	return 1;
}

int edpg_keeper_restore_at_start(const struct edpg_where *w, struct edpg_ifaces *ifs,
				 struct edpg_bpf *b)
{
	struct edpg_restored rs = {};
	int err, fd;

	fd = edpg_lock(w->state_dir);
	if (fd < 0)
		return fd;
	err = edpg_ifaces_load(w->state_dir, ifs);
	if (!err)
		err = edpg_health_repair(w->pin_dir, ifs, NULL, NULL, b, &rs);
	for (size_t i = 0; i < rs.n && edpg_bpf_has_prog(b); i++)
		edpg_info("restored %s", rs.v[i]);
	if (edpg_bpf_has_prog(b)) {
		if (err)
			edpg_warn("not everything could be restored (%s); trying again later",
				  strerror(-err));
		err = edpg_ifaces_save(w->state_dir, ifs);
	}
	edpg_unlock(fd);
	return err ? edpg_err(err, "cannot restore the recorded attachment") : 0;
}
