/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef EDPG_ADDRCACHE_H
#define EDPG_ADDRCACHE_H

#include "policy.h"

#include <stdint.h>

#include "expiry.h"
#include "state.h"

/*
 * The address cache (STATE/addresses): the last-known-good addresses of
 * every name, one per line.  Two formats are read:
 *
 *   NAME ADDR                                         (the first version)
 *   NAME ADDR GROUP SOURCE TTL SEEN EXPIRES LASTUSED  (written now)
 *
 * SEEN, EXPIRES (seen + max(ttl, min-ttl)) and LASTUSED are wall-clock
 * seconds ("-" = never): the cache must mean the same thing after a reboot,
 * when the monotonic clock starts again.  A damaged line loses one address,
 * never the file.
 */
int edpg_cache_load(const char *path, struct edpg_resolved **out, size_t *n);

/*
 * Beside the cache, PATH.retired holds the addresses that left it (expired
 * or evicted), in the same format, EXPIRES being when each left: what a
 * name returned earlier, for `doctor` (EDPG_RETIRED_SUFFIX, state.h).
 */
int edpg_cache_save(const char *path, const struct edpg_resolved *r, size_t n);

struct edpg_cache_entry {
	char name[EDPG_DNS_MAX];
	char group[EDPG_NAME_MAX];	/* "" in the first format */
	struct edpg_addr addr;
	enum edpg_dst_source source;	/* SRC_CACHE in the first format */
	uint32_t ttl;
	int64_t seen, expires, last_used;	/* wall-clock seconds, 0 = never */
};

/* Pure: parse cache text (both formats); *out malloc'ed, *n entries. */
int edpg_cache_parse(const char *text, struct edpg_cache_entry **out, size_t *n);
/* Pure: the text of @n entries in the current format (malloc'ed). */
int edpg_cache_format(const struct edpg_cache_entry *v, size_t n, char **out, size_t *len);
/* Source by name ("resolved", ...); -EINVAL when unknown. */
int edpg_cache_source_parse(const char *s, enum edpg_dst_source *out);
int edpg_cache_load_entries(const char *path, struct edpg_cache_entry **out, size_t *n);
/* Atomic: readers see the old file or the new one. */
int edpg_cache_save_entries(const char *path, const struct edpg_cache_entry *v, size_t n);

#endif
