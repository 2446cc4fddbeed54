/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * compile.h - policy + resolved names -> the one desired state both sinks
 * (BPF maps, nftables) are written from.  Pure: no I/O.
 */
#ifndef EDPG_COMPILE_H
#define EDPG_COMPILE_H

#include <stddef.h>

#include "policy.h"

/*
 * Fill *out (~130 KiB: heap-allocate it) from @p.  @names are the resolved
 * DNS names (matched case-insensitively, a trailing dot ignored; a member
 * name absent from @names contributes no address); @router the addresses of
 * the attached LAN interfaces for @router members (255.255.255.255, the
 * DHCP broadcast, is added here).  Resolved and router addresses are exact
 * (plen 32/128) whatever their plen says.
 * Returns 0, -EINVAL (inconsistent policy: overlapping ports, duplicate MAC,
 * bad address family, service id out of range), -E2BIG (more addresses than
 * the maps hold) or -ENOMEM.  On error *out is left empty (zeroed).
 */
int edpg_compile(const struct edpg_policy *p, const struct edpg_resolved *names, size_t nnames,
		 const struct edpg_addr *router, size_t nrouter, struct edpg_desired *out);
/*
 * @base with the gateways of @p in place of its own: what edpg_compile()
 * gives for @p when @p and @base's policy differ only in gateways (an
 * enrolment), without compiling and sorting the site's destinations
 * again.  @out borrows @base's destinations: free it before @base.
 */
int edpg_compile_gateways_of(const struct edpg_desired *base, const struct edpg_policy *p,
			     struct edpg_desired *out);
/*
 * What every state compiled from @p has (services, ports, groups, flags)
 * with the gateways @gws (@n) and no destination.  With
 * edpg_compile_gateways() it gives the two sides of an enrolment's delta
 * (only the gateways that changed) without compiling the site; never a
 * state to push whole.
 */
int edpg_compile_base(const struct edpg_policy *p, const struct edpg_gateway *gws, size_t n,
		      struct edpg_desired *out);
/* @base with the gateways @gws (@n) in place of its own; @out borrows
 * @base's destinations (free it before @base). */
int edpg_compile_gateways(const struct edpg_desired *base, const struct edpg_gateway *gws,
			  size_t n, struct edpg_desired *out);
/* Frees gws and dsts (unless borrowed); leaves them NULL and their counts 0. */
void edpg_desired_free(struct edpg_desired *d);

#endif
