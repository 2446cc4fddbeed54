// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The nft tests' fixture: shared by test_nft (batches parsed back) and
 * test_nft_kernel (the same state through a real kernel). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nft_fixture.h"

void add_svc(struct edpg_desired *d, const char *name, int proto, uint16_t port,
		    uint64_t groups)
{
	struct edpg_service *s = &d->services[d->nservices];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->proto = proto == EDPG_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	s->port_lo = s->port_hi = port;
	d->svc_groups[d->nservices] = groups;
	d->ports[proto][port] = ++d->nservices;
}

void add_gw(struct edpg_desired *d, uint32_t n, uint32_t services, const char *ip4,
		   const char *ip6)
{
	struct edpg_want_gw *g = &d->gws[d->ngws++];

	memset(g, 0, sizeof(*g));
	g->mac[1] = 0x40;
	g->mac[2] = 0x9d;
	g->mac[3] = (uint8_t)(n >> 16);
	g->mac[4] = (uint8_t)(n >> 8);
	g->mac[5] = (uint8_t)n;
	g->rec.services = services;
	if (ip4) {
		g->rec.flags |= EDPG_GW_BIND_V4;
		inet_pton(AF_INET, ip4, g->rec.ip4);
	}
	if (ip6) {
		g->rec.flags |= EDPG_GW_BIND_V6;
		inet_pton(AF_INET6, ip6, g->rec.ip6);
	}
}

void add_dst(struct edpg_desired *d, const char *a, int plen, uint64_t groups)
{
	struct edpg_want_dst *w = &d->dsts[d->ndsts++];

	memset(w, 0, sizeof(*w));
	w->addr.family = strchr(a, ':') ? AF_INET6 : AF_INET;
	inet_pton(w->addr.family, a, w->addr.addr);
	w->addr.plen = (uint8_t)plen;
	w->groups = groups;
}

struct edpg_desired *fixture(size_t maxgw)
{
	struct edpg_desired *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->gws = calloc(maxgw, sizeof(*d->gws));
	d->dsts = calloc(16, sizeof(*d->dsts));
	assert_non_null(d->gws);
	assert_non_null(d->dsts);
	snprintf(d->group_names[0], EDPG_NAME_MAX, "dc");
	snprintf(d->group_names[1], EDPG_NAME_MAX, "ntp");
	d->ngroups = 2;
	add_svc(d, "edp", EDPG_PROTO_TCP, 3199, 1);
	add_svc(d, "edp_legacy", EDPG_PROTO_TCP, 3197, 1);
	add_svc(d, "ntp", EDPG_PROTO_UDP, 123, 2);
	add_gw(d, 1, 1 | 4, "192.168.1.10", NULL);
	add_gw(d, 2, 7, NULL, "fd00::2");
	add_dst(d, "10.9.0.0", 16, 2);
	add_dst(d, "10.9.1.1", 32, 2);
	add_dst(d, "52.1.2.3", 32, 1);
	add_dst(d, "52.1.2.4", 32, 1 | 2);
	add_dst(d, "2001:db8::1", 128, 1);
	add_dst(d, "2001:db8:1::", 48, 2);
	return d;
}

void fixture_free(struct edpg_desired *d)
{
	free(d->gws);
	free(d->dsts);
	free(d);
}
