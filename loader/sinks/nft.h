/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nft.h - the nftables sink: mirror a compiled desired state into the
 * table `inet edpgate` through libnftnl + libmnl, and read it back.
 *
 * Building a batch does no I/O (so it is unit-testable byte for byte);
 * sending it is one netlink batch = one nftables transaction.
 */
#ifndef EDPG_NFT_H
#define EDPG_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define EDPG_NFT_TABLE		"edpgate"
/*
 * Largest netlink message we build.  The element list is one nested
 * attribute whose length field is 16 bits, so a message must stay below
 * 64 KiB; keep a margin for the headers around the list.
 */
#define EDPG_NFT_MSG_MAX	(60 * 1024)

#ifndef EDPG_HAVE_ENFORCE
#define EDPG_HAVE_ENFORCE
/* Who decides: chosen at attach (`--enforce xdp|nft|both|audit`). */
enum edpg_enforce {
	EDPG_ENFORCE_XDP,	/* XDP decides; nft chains count and accept */
	EDPG_ENFORCE_NFT,	/* nft decides (no XDP program) */
	EDPG_ENFORCE_BOTH,	/* both decide: defence in depth (default) */
	EDPG_ENFORCE_AUDIT,	/* nobody drops: XDP judges, counts would_drop, passes */
};
#endif

struct edpg_nft_opts {
	const char *const *ifaces;	/* attached LAN interface names */
	size_t nifaces;
	enum edpg_enforce enforce;
};

struct edpg_nft_batch;

/* Whole table in one transaction: (re)create table, sets, elements, chains. */
int edpg_nft_build_full(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			struct edpg_nft_batch **out);
/*
 * Only the element changes from @old to @new (gateways, addresses).  When
 * anything structural differs (services, ports, groups, flags) it falls
 * back to a full batch, which is still one transaction.  An unchanged
 * state gives a batch with zero messages that edpg_nft_send() never sends.
 */
int edpg_nft_build_delta(const struct edpg_desired *old, const struct edpg_desired *new,
			 const struct edpg_nft_opts *o, struct edpg_nft_batch **out);
/* Batch that removes the table (detach --all). */
int edpg_nft_build_delete(struct edpg_nft_batch **out);

/* Messages between BATCH_BEGIN and BATCH_END (0 = nothing to send). */
size_t edpg_nft_batch_nmsgs(const struct edpg_nft_batch *b);
/* The raw netlink bytes, BEGIN..END included (empty when nmsgs is 0). */
const void *edpg_nft_batch_data(const struct edpg_nft_batch *b);
size_t edpg_nft_batch_len(const struct edpg_nft_batch *b);
/* Words for the message with sequence number @seq, NULL if not ours. */
const char *edpg_nft_batch_describe(const struct edpg_nft_batch *b, uint32_t seq);
void edpg_nft_batch_free(struct edpg_nft_batch *b);

/*
 * Send as one transaction and read every ack.  On failure @err gets e.g.
 * "adding 3 elements to set g_ntp_v4: No such file or directory".
 * Returns 0 or -errno (of the first failing message).
 */
int edpg_nft_send(struct edpg_nft_batch *b, char *err, size_t errlen);

/*
 * VLAN binding is XDP's alone: the inet hooks see a frame after its tag
 * is gone.  With --enforce nft, how many gateways of @d are bound to a
 * VLAN that nothing checks; @msg (if not 0) gets a sentence naming the
 * first one and what to do.  0 in the other modes.
 */
size_t edpg_nft_vlan_unchecked(const struct edpg_desired *d, const struct edpg_nft_opts *o,
			       char *msg, size_t len);

/* Remove the table; -ENOENT when there is none. */
int edpg_nft_delete_table(void);

/*
 * What the inet hooks cannot see: frames bridged between the ports of a
 * Linux bridge reach forward/input (if at all, through br_netfilter) with
 * the bridge's name as iifname, never a port's.  Returns 1 when @ifname
 * is a port of a bridge (whose name goes to @bridge), 0 when not, or
 * -errno (-ENODEV: no such interface).
 */
int edpg_nft_bridge_port(const char *ifname, char *bridge, size_t len);

/* ---- read-back -------------------------------------------------------- */

/* One element as the table sees it: an exact key, or an interval. */
struct edpg_nft_item {
	uint8_t key[24];	/* concatenations are at most 8 + 16 bytes */
	uint8_t end[16];	/* exclusive interval end (interval sets) */
	uint8_t has_end;	/* 0: exact or open-ended to the top */
};

struct edpg_nft_set {
	char name[64];
	uint32_t key_type;	/* nft datatype id (concatenations packed) */
	uint32_t key_len;
	uint32_t flags;		/* NFT_SET_* */
	struct edpg_nft_item *items;	/* sorted */
	size_t nitems;
};

struct edpg_nft_chain {
	char name[64];
	char hook[16];		/* "" for a regular chain */
	int prio;
	uint32_t policy;	/* NF_ACCEPT / NF_DROP (base chains) */
	char **rules;		/* normalised text of each rule, in order */
	size_t nrules;
};

struct edpg_nft_state {
	bool table;		/* the table exists */
	struct edpg_nft_set *sets;
	size_t nsets;
	struct edpg_nft_chain *chains;
	size_t nchains;
};

/* Read table, sets, elements, chains and rules from the kernel. */
int edpg_nft_read(struct edpg_nft_state **out);
/* The state a batch would leave behind (parses its messages back). */
int edpg_nft_state_from_batch(const struct edpg_nft_batch *b, struct edpg_nft_state **out);
void edpg_nft_state_free(struct edpg_nft_state *s);
/* Text lines for every difference (live vs want); *ndiffs 0 = in sync. */
int edpg_nft_diff(const struct edpg_nft_state *live, const struct edpg_nft_state *want,
		  char ***diffs, size_t *ndiffs);
/* Read the kernel table and diff it against what @d and @o produce. */
int edpg_nft_verify(const struct edpg_desired *d, const struct edpg_nft_opts *o,
		    char ***diffs, size_t *ndiffs);
void edpg_nft_diffs_free(char **diffs, size_t ndiffs);

#endif
