/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef EDPG_RESOLVE_H
#define EDPG_RESOLVE_H

#include "policy.h"

/*
 * Resolve one DNS name to its IPv4 and IPv6 addresses with the system
 * resolver.  0 with *n == 0 when the name has no address; -errno when the
 * resolver failed (the caller keeps what it had).
 */
int edpg_resolve_name(const char *name, struct edpg_addr **out, size_t *n);

/* The address cache: "NAME ADDR" lines, last successful resolution. */
int edpg_cache_load(const char *path, struct edpg_resolved **out, size_t *n);
int edpg_cache_save(const char *path, const struct edpg_resolved *r, size_t n);

#endif
