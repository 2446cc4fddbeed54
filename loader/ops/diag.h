/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * diag.h - the troubleshooting side of the BPF sink: drop records, event
 * buckets, pending (unknown) MACs, and running one frame through a private
 * instance of the real program to learn its verdict and reason.
 */
#ifndef EDPG_DIAG_H
#define EDPG_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfmaps.h"
#include "policy.h"

/* A gateway's drop records and event bucket, merged over CPUs: counts
 * summed, for each reason the record with the latest time. */
int edpg_diag_gw(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_diag *out);
/* The unknown-MAC event bucket, summed over CPUs. */
int edpg_diag_ev_global(const struct edpg_bpf *b, struct edpg_ev_bucket *out);

struct edpg_pending_ent {
	uint8_t mac[6];
	struct edpg_pending p;	/* merged over CPUs */
};

/* Unknown MACs that tried a known port, latest first; caller frees *out. */
int edpg_pending_list(const struct edpg_bpf *b, struct edpg_pending_ent **out, size_t *n);
int edpg_pending_del(const struct edpg_bpf *b, const uint8_t mac[6]);
/* Differing bits of two MACs (for "did you mean"). */
int edpg_mac_distance(const uint8_t a[6], const uint8_t b[6]);

struct edpg_outcome {
	int verdict;		/* EDPG_V_PASS / EDPG_V_DROP */
	int reason;		/* enum edpg_reason */
	int sid;		/* service counted on allow, -1 otherwise */
};

/*
 * One frame through a private instance (edpg_bpf_load_private: its own
 * counters, dry_run) and the reason read from its counters.  @snap holds
 * the instance's global counters between calls (zero it first).  Frames
 * shorter than an Ethernet header are `malformed` without a run: the
 * kernel refuses them.
 */
int edpg_verdict_run(const struct edpg_bpf *priv, struct edpg_global snap[EDPG_R_MAX],
		     const void *frame, size_t len, struct edpg_outcome *out);

struct edpg_probe {
	uint8_t src_mac[6];
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	struct edpg_addr src, dst;	/* same family */
	uint16_t sport, dport;
	int vlan;		/* -1 = untagged */
};

/* Build a TCP SYN or a UDP datagram for @p into @buf; 0 and *len. */
int edpg_probe_build(const struct edpg_probe *p, uint8_t *buf, size_t cap, size_t *len);

/* "2024-01-02T03:04:05Z" from a data-path time (NULL when 0). */
const char *edpg_dp_time_str(uint64_t dp_ns, char *buf, size_t len);
/* Seconds since a data-path time (-1 when 0). */
int64_t edpg_dp_age(uint64_t dp_ns);



struct edpg_cache_entry;
/* Entries of the address cache (STATE/addresses) for @a: the names and
 * sources behind a DNS-learned destination; with @retired, of the addresses
 * that left it (STATE/addresses.retired).  Caller frees *out. */
int edpg_addr_cache_find(const char *state_dir, bool retired, const struct edpg_addr *a,
			 struct edpg_cache_entry **out, size_t *n);
/* Live destination groups of @a in the active generation: exact entry and
 * longest static prefix (0 when none). */
int edpg_dst_groups(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *exact,
		    uint64_t *cidr);
/* Service id (or -1) the active generation maps (proto, port) to. */
int edpg_port_service(const struct edpg_bpf *b, uint8_t proto, uint16_t port, int *sid);
/* Groups the live service @sid may reach. */
int edpg_service_groups(const struct edpg_bpf *b, int sid, uint64_t *groups);

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
