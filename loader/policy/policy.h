/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy.h - the in-memory rules data and the compiled desired state.
 *
 * rules text --(rules.c, pure)--> struct policy
 * struct policy + resolved names --(compile.c, pure)--> struct desired
 * struct desired --> bpf sink (bpfmaps.c) and nft sink (nft.c)
 *
 * One desired state feeds both sinks, which is what keeps the XDP maps and
 * the nftables table in agreement by construction.
 */
#ifndef EDPG_POLICY_H
#define EDPG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "edpgate.h"

#define EDPG_NAME_MAX	32	/* service, group and gateway names, incl. NUL */
#define EDPG_DNS_MAX	254	/* DNS name, incl. NUL */

enum edpg_action {
	EDPG_ACT_DROP = 0,
	EDPG_ACT_PASS = 1,
};

/* An IPv4 or IPv6 address with a prefix length (32/128 = exact). */
struct edpg_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; IPv4 uses the first 4 bytes */
	uint8_t plen;
};

struct edpg_service {
	char name[EDPG_NAME_MAX];
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port_lo;
	uint16_t port_hi;
	uint64_t groups;	/* from allow rules: groups it may reach */
	int line;		/* where it was declared, for messages */
};

enum edpg_member_kind {
	EDPG_MEMBER_NAME,	/* DNS name, resolved later */
	EDPG_MEMBER_ADDR,	/* literal address or CIDR */
	EDPG_MEMBER_ROUTER,	/* @router: the attached interfaces' addresses */
};

/*
 * The name is on the heap (edpg_policy_free frees it): a site's group of
 * 10,000 literal addresses then costs 10,000 small members, not 2.8 MB of
 * name buffers that every command parsing the rules had to fault in.
 */
struct edpg_member {
	enum edpg_member_kind kind;
	char *name;			/* EDPG_MEMBER_NAME, lower-case */
	struct edpg_addr addr;		/* EDPG_MEMBER_ADDR */
};

/* Defaults for name expiry (seconds). */
#define EDPG_DEF_MIN_TTL	60
#define EDPG_DEF_GRACE		300
#define EDPG_DEF_MAX_ADDRS	16

struct edpg_group {
	char name[EDPG_NAME_MAX];
	struct edpg_member *members;
	size_t nmembers;
	uint32_t min_ttl;
	uint32_t grace;
	uint32_t max_addrs;	/* per name */
	int line;
};

struct edpg_gateway {
	uint8_t mac[6];
	char name[EDPG_NAME_MAX];	/* "" when unnamed */
	uint32_t services;		/* bitmap of service ids */
	/*
	 * Enrolled without `services`: services is the rules' defaults, and
	 * the gateways file says so by leaving `services` out, so the next
	 * parse gives the defaults of that day's rules file.
	 */
	bool uses_defaults;
	bool has_ip4, has_ip6, has_vlan;
	/* `audit`: judged and counted, never dropped (edpgate.rules(5)). */
	bool audit;
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint16_t vlan;
};

struct edpg_policy {
	struct edpg_service services[EDPG_MAX_SERVICES];
	size_t nservices;
	struct edpg_group groups[EDPG_MAX_GROUPS];
	size_t ngroups;
	uint32_t default_services;	/* bitmap */
	enum edpg_action unknown_mac;
	enum edpg_action non_ip;
	struct edpg_gateway *gateways;
	size_t ngateways;
};

/* ---- compiled desired state ------------------------------------------ */

struct edpg_want_gw {
	uint8_t mac[6];
	struct edpg_gw rec;		/* rec.slot is assigned by the bpf sink */
};

struct edpg_want_dst {
	struct edpg_addr addr;		/* plen 32/128: exact; else CIDR */
	uint64_t groups;
};

struct edpg_desired {
	uint32_t flags;			/* EDPG_F_* */
	uint8_t nservices;
	struct edpg_service services[EDPG_MAX_SERVICES];
	uint64_t svc_groups[EDPG_MAX_SERVICES];
	/* ports[proto][port] = service id + 1, 0 = none; proto is EDPG_PROTO_* */
	uint8_t ports[2][EDPG_NR_PORTS];
	size_t ngroups;
	char group_names[EDPG_MAX_GROUPS][EDPG_NAME_MAX];
	struct edpg_want_gw *gws;	/* sorted by MAC */
	size_t ngws;
	struct edpg_want_dst *dsts;	/* sorted: family, addr, plen; unique */
	size_t ndsts;
	/* dsts belong to another desired state (edpg_compile_gateways_of):
	 * edpg_desired_free leaves them to it. */
	bool dsts_borrowed;
};

/* A name and the addresses it resolved to (compile input). */
struct edpg_resolved {
	const char *name;
	struct edpg_addr *addrs;	/* plen is full length */
	size_t naddrs;
};

#endif /* EDPG_POLICY_H */
