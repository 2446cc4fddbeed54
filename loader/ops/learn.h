/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * learn.h - `edpgate learn`: what the gateways tried and were (or,
 * audited, would have been) refused, by the name they asked for, and the
 * rules lines that would allow it.
 *
 * Pure: the refused attempts come from edpg_learn (the data path) and the
 * names from the snooped answers (seen.h), joined by cmd_learn.c; here they
 * are ordered and turned into rules text, which a unit test parses back.
 */
#ifndef EDPG_LEARN_H
#define EDPG_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

struct edpg_learned {
	uint8_t mac[6];
	uint8_t proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	uint16_t port;
	struct edpg_addr addr;		/* exact */
	char name[EDPG_DNS_MAX];	/* the name that gave the address; "" none */
	uint64_t count;			/* recorded attempts */
	int64_t first, last;		/* wall-clock seconds */
	uint8_t reason;			/* port, service or destination */
	bool would;			/* the last one was audited (passed) */
	bool allowed_now;		/* the live policy allows it since */
};

/* By name (those without one last), then protocol, port, address, MAC. */
void edpg_learned_sort(struct edpg_learned *v, size_t n);

/*
 * Rules lines that would allow every attempt of @v under @p: a `service`
 * for a port no service has, a `group learned-SERVICE` of the names (or
 * bare addresses, said to be hard-coded) and an `allow`, plus comments for
 * what lives outside the rules file (a gateway's own services list, the
 * defaults line to extend).  Attempts the live policy allows since are
 * left out.  Never touches a file.  0 or -ENOMEM/-ENOSPC.
 */
int edpg_learn_rules(const struct edpg_policy *p, const struct edpg_learned *v, size_t n,
		     FILE *f);

#endif
