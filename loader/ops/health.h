/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * health.h - is what the interfaces file records still true in the
 * kernel?  Pins removed by hand, an interface down or deleted and
 * re-created, a link detached behind our back or another XDP program in
 * our place: found by edpg_health_check() (for status, verify and the
 * daemon), put right where possible by edpg_health_repair() (for attach
 * and the daemon).
 */
#ifndef EDPG_HEALTH_H
#define EDPG_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf_pins.h"
#include "bpfmaps.h"
#include "state.h"

enum edpg_link_state {
	EDPG_LINK_OK,
	EDPG_LINK_NOT_WANTED,	/* --enforce nft: no XDP link expected */
	EDPG_LINK_NOT_PINNED,
	EDPG_LINK_DEFUNCT,	/* pinned, but attached to no interface */
	EDPG_LINK_ELSEWHERE,	/* pinned, attached to another ifindex */
	EDPG_LINK_UNREADABLE,
};

struct edpg_if_health {
	int ifindex;		/* now; 0 = no such interface */
	bool up;
	enum edpg_link_state link;
	uint32_t link_id, link_prog_id, link_ifindex;
	uint32_t foreign_id;	/* another XDP program on the interface */
	bool snooper;		/* answer side (egress) */
	bool snooper_q;		/* question side (ingress) */
};

struct edpg_problem {
	char where[24];		/* "pins" or the interface */
	char code[24];		/* stable, for scripts (-j) */
	char what[320];
};

#define EDPG_HEALTH_MAX	64

struct edpg_health {
	bool prog_pinned;
	bool any_pinned;
	size_t nifs;
	struct edpg_if_health ifs[EDPG_MAX_IFACES];
	size_t n;
	struct edpg_problem p[EDPG_HEALTH_MAX];
};

const char *edpg_link_state_name(enum edpg_link_state s);

/* Compare @ifs with the pins and the interfaces of this netns. */
int edpg_health_check(const char *pin_dir, const struct edpg_ifaces *ifs, struct edpg_health *h);
/* Whether a problem is one edpg_health_repair() can put right (an
 * interface that is down, missing or taken by another program is not). */
bool edpg_problem_repairable(const struct edpg_problem *p);
/* Problems repair can fix that concern the shared pins or @ifname (any
 * interface not held by another XDP program when NULL). */
bool edpg_health_needs_repair(const struct edpg_health *h, const char *ifname);

/*
 * Re-create what is missing: pins of objects still alive are pinned
 * again from the running program (no counter is lost); when the program
 * itself is gone it is loaded and pinned again; missing or defunct links
 * are re-created (of @only, or of every recorded interface when NULL)
 * and the snooper re-attached.  @held (may be NULL): objects the caller
 * has open, pinned again if their pins are gone.  Updates the
 * ifindex and mode of @ifs; the caller saves @ifs and pushes the policy
 * into the maps of @b.  With @only, the first error fails the whole;
 * without, an interface that cannot be restored is skipped (its error
 * returned) and @b is open whenever the shared part worked
 * (edpg_bpf_has_prog(b)).  Under the state-dir lock.
 */
int edpg_health_repair(const char *pin_dir, struct edpg_ifaces *ifs, const char *only,
		       const struct edpg_held *held, struct edpg_bpf *b, struct edpg_restored *r);

#endif
