/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A Device Cloud shaped desired state, built by hand, for the nft tests. */
#ifndef EDPG_NFT_FIXTURE_H
#define EDPG_NFT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

void add_svc(struct edpg_desired *d, const char *name, int proto, uint16_t port, uint64_t groups);
/* Gateway 00:40:9d:NN:NN:NN, optionally bound to an IPv4 and/or IPv6 source. */
void add_gw(struct edpg_desired *d, uint32_t n, uint32_t services, const char *ip4,
	    const char *ip6);
void add_dst(struct edpg_desired *d, const char *a, int plen, uint64_t groups);
/* edp (tcp 3199) and edp_legacy (tcp 3197) to group dc, ntp (udp 123) to
 * group ntp; two gateways, six destinations; room for @maxgw gateways. */
struct edpg_desired *fixture(size_t maxgw);
void fixture_free(struct edpg_desired *d);

#endif
