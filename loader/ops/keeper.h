/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * keeper.h - the daemon's keeper of the attachment: once a second, and at
 * once when rtnetlink reports a recorded interface changed or gone, the
 * pins, links and snooper are checked (health.c); what went missing is
 * logged and restored, what cannot be restored is logged once, and
 * "resolved" when it comes right.
 */
#ifndef EDPG_KEEPER_H
#define EDPG_KEEPER_H

#include <stdbool.h>
#include <stdint.h>

#include "bpfmaps.h"
#include "health.h"
#include "pipeline.h"
#include "rtlink.h"
#include "state.h"

#define EDPG_REPAIR_RETRY	10	/* s: after a restore that did not work */

struct edpg_keeper {
	const struct edpg_where *w;
	const struct edpg_ifaces *ifs;	/* the daemon's recorded set */
	struct edpg_rtlink *nl;		/* NULL: no link events */
	bool check_now;			/* a recorded interface changed */
	bool link_event;		/* ... said by rtnetlink, not the poll */
	bool event_check;		/* this check was brought by one */
	uint64_t last_check;
	uint64_t repair_after;		/* no new attempt before (s) */
	struct edpg_health health;	/* problems already logged */
	int snoop_fd[EDPG_SNOOP_NPINS];	/* held, to pin again */
};

/* Link events on (a warning if not), the snooper's objects held. */
void edpg_keeper_init(struct edpg_keeper *k, const struct edpg_where *w,
		      const struct edpg_ifaces *ifs);
void edpg_keeper_free(struct edpg_keeper *k);
/* Hold the pinned snooper's objects anew: a growth of the maps switched
 * it, and a pin removed later must be pinned again with the new one. */
void edpg_keeper_hold_snooper(struct edpg_keeper *k);
/* The link-event fd to poll, -1 for none. */
int edpg_keeper_fd(const struct edpg_keeper *k);
/* Pending link events: a recorded interface's makes the check due now. */
void edpg_keeper_read_links(struct edpg_keeper *k);
/* Whether a check is due at @now (once a second, or at once after an event). */
bool edpg_keeper_due(struct edpg_keeper *k, uint64_t now);
/*
 * Check the attachment, log what changed, restore what can be restored.
 * @b is the instance the daemon holds, offered to the repair (with every
 * pin removed it is pinned again and keeps gateways and counters).
 * Returns 1 when a new instance replaced *@b and *@ifs (the caller opens
 * the snooper again and pushes the policy; *@reloaded: the program was
 * loaded again), 0 when nothing was replaced.
 */
int edpg_keeper_check(struct edpg_keeper *k, uint64_t now, struct edpg_bpf *b,
		      struct edpg_ifaces *ifs, bool *reloaded);
/*
 * Start-up with interfaces recorded and the pins missing (a reboot
 * empties bpffs): restore the recorded attachment into @b and @ifs.
 */
int edpg_keeper_restore_at_start(const struct edpg_where *w, struct edpg_ifaces *ifs,
				 struct edpg_bpf *b);

#endif
