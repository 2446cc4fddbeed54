/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lookup.h - what a user's words name: gateways, service and group bits,
 * nearby MACs, address cache entries.
 */
#ifndef EDPG_LOOKUP_H
#define EDPG_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "policy.h"

/* Differing bits of two MACs (for "did you mean"). */
int edpg_mac_distance(const uint8_t a[6], const uint8_t b[6]);

struct edpg_cache_entry;
/* Entries of the address cache (STATE/addresses) for @a: the names and
 * sources behind a DNS-learned destination; with @retired, of the addresses
 * that left it (STATE/addresses.retired).  Caller frees *out. */
int edpg_addr_cache_find(const char *state_dir, bool retired, const struct edpg_addr *a,
			 struct edpg_cache_entry **out, size_t *n);

/*
 * The one lookup of a gateway a user names: MAC, Device ID or name.  NULL
 * when none, after logging why (not enrolled, or a Device ID that encodes
 * no MAC) and what to do.
 */
const struct edpg_gateway *edpg_gw_lookup(const struct edpg_policy *p, const char *arg);
const struct edpg_gateway *edpg_gw_by_mac(const struct edpg_policy *p, const uint8_t mac[6]);
/* "a,b,c" of the names of the set bits of @bits (services or groups). */
void edpg_svc_names(const struct edpg_policy *p, uint32_t bits, char *buf, size_t len);
void edpg_group_names(const struct edpg_policy *p, uint64_t bits, char *buf, size_t len);

#endif
