/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * daemon.h - the state and the steps of `edpgate run` (cmd_run.c keeps
 * the argv, the signals and the poll loop).
 *
 * The destination table of names.c is kept fresh (refresh.c: each name
 * resolved again when its TTL runs out; intake.c: snooped answers as they
 * pass; expiry.c with the data path's last_used stamps read every
 * second), every change goes to the sinks through edpg_sync(), and the
 * table is written to the address cache after every change
 * (cachewriter.c).  The attachment is kept by keeper.c.  The state-dir
 * lock is held only while pushing or restoring.
 */
#ifndef EDPG_DAEMON_H
#define EDPG_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cachewriter.h"
#include "fleet.h"
#include "grower.h"
#include "intake.h"
#include "keeper.h"
#include "names.h"
#include "pipeline.h"
#include "refresh.h"
#include "resolver.h"
#include "snoop.h"

struct edpg_daemon {
	struct edpg_where w;
	struct edpg_policy p;
	struct edpg_names n;
	struct edpg_desired *d;		/* what the sinks hold */
	struct edpg_bpf b;
	struct edpg_ifaces ifs;
	struct edpg_resolver *rv;
	struct edpg_snoop *snoop;
	struct edpg_intake in;
	struct edpg_refresh sched;
	struct edpg_keeper keeper;
	struct edpg_cache_writer *writer;	/* NULL: written inline */
	char cache[PATH_MAX];
	bool dirty;			/* table pushed, cache not yet written */
	uint64_t last_persist;
	uint64_t last_used_poll;
	bool push_again;		/* the push after a restore failed */
	struct edpg_seen seen;		/* answers the gateways got (learn) */
	uint64_t last_seen_save;
	struct edpg_fleet *fleet;	/* the shared store; NULL: none */
	struct edpg_grower grower;	/* grows the maps (fd -1: in-process) */
	bool from_peer;			/* applying another router's addresses */
	const char *local_rules;	/* the rules file when the store has none */
	char store_rules[PATH_MAX];
};

/* Before setup: nothing open (fds -1), @w and the schedule's floor set. */
void edpg_daemon_init(struct edpg_daemon *r, const struct edpg_where *w, uint32_t floor);
/* The policy, the program (restored when recorded and missing), the
 * cache, the first full push, the snooper, the resolver, the keeper. */
int edpg_daemon_setup(struct edpg_daemon *r);
void edpg_daemon_teardown(struct edpg_daemon *r);
/* Milliseconds until the next thing to do (at most one second). */
int edpg_daemon_timeout(const struct edpg_daemon *r);
/* The fds to poll: the snooper's ring (-1: none) and the link events. */
int edpg_daemon_snoop_fd(const struct edpg_daemon *r);
/* One wake-up's work; @links: the link-event fd is readable. */
void edpg_daemon_tick(struct edpg_daemon *r, bool links);
/* SIGHUP (or a failed push): the rules data again, all or nothing. */
int edpg_daemon_reload(struct edpg_daemon *r, const char *why);
/* The store's news (its fd was readable): a new gateways list is
 * reloaded, the other routers' learned addresses join the table. */
void edpg_daemon_fleet(struct edpg_daemon *r);
/* The table to the address cache (by the writer thread when there is one). */
int edpg_daemon_persist(struct edpg_daemon *r);

#endif
