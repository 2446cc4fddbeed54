/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fleet.h - `edpgate run` on a shared store: two threads beside the
 * daemon's loop, so the loop (and enforcement) never waits on etcd.
 *
 * The watcher reads the site's gateways, then watches P/sites/S/ from
 * the revision it read: a flipped gateways pointer is fetched whole and
 * written to the local gateways file (the last-known-good copy a reboot
 * without etcd enforces), and the loop reloads through the path SIGHUP
 * takes; the other routers' learned addresses are handed to the loop.
 * When etcd cannot be reached it retries with back-off (0.5 s doubling
 * to 8 s) while the loop keeps enforcing; on reconnect, and when its
 * revision was compacted, it reads everything again.  Its state goes
 * to STATE/store-status for status, doctor and the metrics.
 *
 * The publisher puts this router's learned addresses (resolved and
 * snooped) under P/sites/S/learned/ROUTER/ADDR, attached to a lease of
 * EDPG_FLEET_LEASE seconds it keeps alive: when the router dies they
 * vanish from etcd, while its HA peer holds them in its own table.
 */
#ifndef EDPG_FLEET_H
#define EDPG_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "storeconf.h"

#define EDPG_STATE_STORE	"store-status"
/* The rules data from the store (P/sites/S/rules, else P/fleet/rules),
 * checked before it is written: used instead of --rules' default. */
#define EDPG_STATE_STORE_RULES	"rules.store"
#define EDPG_FLEET_LEASE	30	/* s */

struct edpg_fleet;

struct edpg_learned {
	char name[256];
	struct edpg_addr addr;
	uint32_t ttl;
	int source;		/* enum edpg_dst_source */
};

int edpg_fleet_start(struct edpg_fleet **f, const struct edpg_store_conf *c,
		     const char *state_dir);
void edpg_fleet_stop(struct edpg_fleet *f);
/* Readable when there is news for edpg_fleet_take(). */
int edpg_fleet_fd(const struct edpg_fleet *f);
/* The news: @gateways set when the local gateways file (or the store's
 * rules file) changed; learned addresses of the other routers in @v
 * (malloc'd, @n of them). */
int edpg_fleet_take(struct edpg_fleet *f, bool *gateways, struct edpg_learned **v, size_t *n);
/* This router learned (or refreshed) @name -> @a: to etcd, in the background. */
void edpg_fleet_publish(struct edpg_fleet *f, const char *name, const struct edpg_addr *a,
			uint32_t ttl, int source);

/* STATE/store-status, for the read-only commands. */
struct edpg_fleet_status {
	bool present;		/* the daemon runs (ran) with a store */
	bool connected;
	int64_t since;		/* wall seconds of the last change of state */
	int64_t revision;	/* the store revision last seen */
	char gen[40];		/* the gateways generation applied */
	char site[128], router[128];
	char error[256];
	uint64_t resyncs;	/* full reads since start */
};
int edpg_fleet_status_read(const char *state_dir, struct edpg_fleet_status *s);

#endif
