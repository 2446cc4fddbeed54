/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * refresh.h - when the daemon resolves each name again: when its shortest
 * TTL runs out (never sooner than a floor), not on a fixed poll; after a
 * failure sooner than a TTL, backing off.  A name that fails keeps its
 * addresses until they expire.
 */
#ifndef EDPG_REFRESH_H
#define EDPG_REFRESH_H

#include <stdint.h>

#include "names.h"
#include "resolver.h"

/* Retry delays after a failed resolution, and the default floor. */
#define EDPG_RETRY_MIN	5
#define EDPG_RETRY_MAX	300

struct edpg_refresh {
	uint64_t *due;		/* per name: next resolution (s) */
	uint32_t *retry;	/* per name: current retry delay */
	size_t n;
	uint32_t floor;		/* shortest refresh interval */
};

/* Every one of @nnames names due at @now (keeps @s->floor). */
int edpg_refresh_init(struct edpg_refresh *s, size_t nnames, uint64_t now);
void edpg_refresh_free(struct edpg_refresh *s);
/*
 * Resolve every name of @n due at @now with @rv and answer the table;
 * @clock gives the table time after the lookups.  Returns the number of
 * table changes or -errno.
 */
int edpg_refresh_run(struct edpg_refresh *s, struct edpg_names *n, struct edpg_resolver *rv,
		     uint64_t now, uint64_t (*clock)(void), edpg_names_log_fn log, void *ctx);
/* The earliest due time (UINT64_MAX: no name). */
uint64_t edpg_refresh_next(const struct edpg_refresh *s);

#endif
