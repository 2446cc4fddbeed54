/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef EDPG_ADDRCACHE_H
#define EDPG_ADDRCACHE_H

#include "policy.h"

/* The address cache: "NAME ADDR" lines, last successful resolution. */
int edpg_cache_load(const char *path, struct edpg_resolved **out, size_t *n);
int edpg_cache_save(const char *path, const struct edpg_resolved *r, size_t n);

#endif
