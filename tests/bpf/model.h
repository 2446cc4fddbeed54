/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * model.h - a reference model of the packet decision, for the differential
 * test (test_model.c).  Written from the specification (the verdict order
 * of bpf/edpgate.h, the rules grammar), for clarity, not speed: it shares
 * no code with the XDP program or the loader, and takes the policy as a
 * plain description rather than as compiled map entries.
 */
#ifndef EDPG_MODEL_H
#define EDPG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_GWS	16
#define MODEL_MAX_SVCS	8
#define MODEL_MAX_NETS	48

struct model_gw {
	uint8_t mac[6];
	uint32_t services;	/* bit i: services[i] */
	bool bind4, bind6, bindvlan;
	uint8_t ip4[4], ip6[16];
	uint16_t vlan;
	bool audit;		/* `audit`: its drops are counted, the frame passed */
};

struct model_svc {
	const char *name;
	int proto;		/* 6 or 17 */
	uint16_t lo, hi;	/* port range */
	uint64_t groups;	/* groups it may reach (allow rules) */
};

struct model_net {
	int family;		/* 4 or 6 */
	uint8_t addr[16];
	int plen;		/* 32 / 128: one address */
	int group;
};

struct model_policy {
	struct model_gw gws[MODEL_MAX_GWS];
	size_t ngws;
	struct model_svc svcs[MODEL_MAX_SVCS];
	size_t nsvcs;
	struct model_net nets[MODEL_MAX_NETS];
	size_t nnets;
	size_t ngroups;
	bool unknown_mac_pass, non_ip_pass;
};

struct model_result {
	bool pass;
	int reason;	/* enum edpg_reason */
	bool would;	/* a drop of an audited gateway: the frame passes */
};

struct model_result model_decide(const struct model_policy *p, const uint8_t *f, size_t len);

#endif
