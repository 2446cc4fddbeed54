/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * expiry.h - how long a resolved or snooped address stays allowed.
 *
 * An address is kept while
 *
 *     now < seen + max(ttl, min_ttl) + grace     (its DNS answer, stretched)
 *  or now < last_used + grace                    (the data path used it lately)
 *
 * so a flow that outlives the TTL (an NTP client polling every 1024 s, a
 * long EDP session) is not cut, and a resolver that answers with tiny TTLs
 * does not make addresses flap.  Being seen again extends the entry in place
 * (never shortens it): the sinks update the element rather than delete and
 * re-add it.  A cap per name bounds what a hostile or broken resolver can
 * push into the maps; the oldest unused address goes first.
 *
 * Pure: times are seconds passed in by the caller, from whatever clock it
 * uses (the data path's last-used times are CLOCK_MONOTONIC-based, so the
 * daemon uses that one); nothing here reads a clock.
 */
#ifndef EDPG_EXPIRY_H
#define EDPG_EXPIRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

enum edpg_dst_source {
	SRC_RESOLVED,		/* our own lookup */
	SRC_SNOOPED,		/* an answer a gateway received */
	SRC_STATIC,		/* a literal in the rules: never expires */
	SRC_CACHE,		/* last-known-good cache, until confirmed */
};

struct edpg_dst_entry {
	struct edpg_addr addr;
	char name[EDPG_DNS_MAX];
	int group;
	enum edpg_dst_source source;
	uint64_t seen;		/* last time an answer carried it */
	uint64_t expires_ttl;	/* seen + max(ttl, min_ttl), never moved back */
	uint32_t ttl;		/* as last answered */
	uint64_t last_used;	/* data path; 0 = never */
};

/* Per-group knobs (from the rules data). */
struct edpg_dst_params {
	uint32_t min_ttl;
	uint32_t grace;
	uint32_t max_addrs;	/* per name; 0 = no cap */
};

struct edpg_dst_table {
	struct edpg_dst_entry *v;
	size_t n, cap;
	struct edpg_dst_params params[EDPG_MAX_GROUPS];
};

const char *edpg_dst_source_name(enum edpg_dst_source s);

/* Every group starts with EDPG_DEF_MIN_TTL / EDPG_DEF_GRACE / EDPG_DEF_MAX_ADDRS. */
void edpg_dst_table_init(struct edpg_dst_table *t);
void edpg_dst_table_free(struct edpg_dst_table *t);
/* 0 or -EINVAL for a group outside 0..EDPG_MAX_GROUPS-1. */
int edpg_dst_set_params(struct edpg_dst_table *t, int group, const struct edpg_dst_params *p);

/*
 * When @e stops being allowed: max(expires_ttl, last_used) + grace, the
 * first second at which it is gone.  UINT64_MAX for a static entry.
 */
uint64_t edpg_dst_expiry(const struct edpg_dst_entry *e, const struct edpg_dst_params *p);
/* Whether @e is still allowed at @now (now < expiry). */
bool edpg_dst_alive(const struct edpg_dst_entry *e, const struct edpg_dst_params *p,
		    uint64_t now);
/* Whether the data path used @e within the grace window before @now. */
bool edpg_dst_in_use(const struct edpg_dst_entry *e, const struct edpg_dst_params *p,
		     uint64_t now);

/* The entry for (@group, @name, @addr), or NULL. */
struct edpg_dst_entry *edpg_dst_find(struct edpg_dst_table *t, int group, const char *name,
				     const struct edpg_addr *addr);

/*
 * @addr answered for @name of @group with @ttl at @now.  A new entry is
 * added; a known one has seen/ttl updated and its TTL expiry extended (a
 * shorter answer never shortens it); its source becomes @source unless it
 * is static.  Returns 1 when added, 0 when refreshed, -EINVAL (bad group or
 * name), -ENOMEM.  Does not apply the cap: call edpg_dst_evict() after the
 * additions for a name.
 */
int edpg_dst_add(struct edpg_dst_table *t, int group, const char *name,
		 const struct edpg_addr *addr, enum edpg_dst_source source, uint32_t ttl,
		 uint64_t now);

/*
 * The data path reports @addr used at @when: every entry with that address
 * (any name, any group) gets last_used = max(last_used, when).  Returns the
 * number of entries touched.
 */
size_t edpg_dst_used(struct edpg_dst_table *t, const struct edpg_addr *addr, uint64_t when);

/*
 * Remove the entries that are no longer alive at @now.  Removed entries are
 * returned in *removed (malloc'ed, *nremoved of them, NULL when none) so the
 * caller can delete them from the sinks.  0 or -ENOMEM (then nothing is
 * removed).
 */
int edpg_dst_expire(struct edpg_dst_table *t, uint64_t now,
		    struct edpg_dst_entry **removed, size_t *nremoved);

/*
 * Bring (@group, @name) down to its group's max_addrs: unused entries go
 * first, oldest seen first; if every entry is in use, the least recently
 * used go.  Static entries neither count nor go.  Output as for expire.
 */
int edpg_dst_evict(struct edpg_dst_table *t, int group, const char *name, uint64_t now,
		   struct edpg_dst_entry **removed, size_t *nremoved);

/* The earliest expiry over the table (UINT64_MAX when nothing expires). */
uint64_t edpg_dst_next_expiry(const struct edpg_dst_table *t);

#endif
