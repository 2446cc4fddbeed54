/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nft_internal.h - what the files of the nftables sink share: the batch
 * buffer, the set and element model, the read-back builder.  Internal to
 * loader/sinks/ (the table's layout is described in nft.c).
 */
#ifndef EDPG_NFT_INTERNAL_H
#define EDPG_NFT_INTERNAL_H
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nft.h"

/* nftables datatype ids (nftables src/datatype.h), concatenations are
 * packed TYPE_BITS apart, first component highest. */
#define NFT_TYPE_IPADDR		7
#define NFT_TYPE_IP6ADDR	8
#define NFT_TYPE_ETHERADDR	9
#define NFT_TYPE_BITS		6

#define DESC_LEN	112
#define DUMP_BUF	32768

struct edpg_nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq0;		/* sequence number of BATCH_BEGIN */
	size_t nall;		/* messages including BEGIN and END */
	char (*desc)[DESC_LEN];	/* indexed by seq - seq0 */
	size_t desc_cap;
};

struct setdef {
	char name[64];
	uint32_t key_type, key_len, flags;
};

struct elem {
	uint32_t set;
	struct edpg_nft_item it;
};

struct elist {
	struct elem *e;
	size_t n, cap;
};

struct iv {
	uint8_t start[16], end[16];
	int has_end;
};

struct port_info {
	uint32_t master;
	bool bridge_port;
};

/* ---- read-back ------------------------------------------------------------- */

struct raw_elem {
	uint8_t key[24];
	int end;
};

/* Growable state under construction. */
struct sbuild {
	struct edpg_nft_state *s;
	struct raw_elem **raw;	/* per set */
	size_t *nraw, *craw;
};

struct dump_ctx {
	struct sbuild *sb;
	int ret;
};

struct lines {
	char **v;
	size_t n;
	int ret;
};

/* Shared by the sink's files (each defined in one of them). */
int nft_batch_begin(struct edpg_nft_batch *b);
void nft_batch_commit(struct edpg_nft_batch *b, struct nlmsghdr *nlh);
int nft_batch_end(struct edpg_nft_batch *b);
struct nlmsghdr *nft_batch_msg(struct edpg_nft_batch *b, uint16_t type, uint16_t flags, const char *what);
int nft_batch_new(struct edpg_nft_batch **out);
int nft_elem_cmp(const void *pa, const void *pb);
int nft_elems_of(const struct edpg_desired *d, struct elist *l);
int nft_elist_add(struct elist *l, uint32_t set, const void *key, size_t klen, const void *end, int has_end);
int nft_emit_base_chain_rules(struct edpg_nft_batch *b, const char *chain, const struct edpg_nft_opts *o);
int nft_emit_chain(struct edpg_nft_batch *b, const char *name, int hook);
int nft_emit_decide_rules(struct edpg_nft_batch *b, const struct edpg_desired *d, int deny);
int nft_emit_elist(struct edpg_nft_batch *b, const struct setdef *sds, const struct elem *e, size_t n, int del);
int nft_emit_service_rules(struct edpg_nft_batch *b, const struct edpg_desired *d, const struct setdef *sds, size_t s, int deny);
int nft_emit_set(struct edpg_nft_batch *b, const struct setdef *sd, uint32_t id);
int nft_emit_table(struct edpg_nft_batch *b, uint16_t type, uint16_t flags, const char *what);
int nft_item_cmp(const struct edpg_nft_item *a, const struct edpg_nft_item *b);
size_t nft_nsets_of(const struct edpg_desired *d);
void nft_prefix_interval(const uint8_t *addr, size_t len, unsigned int plen, uint8_t *start, uint8_t *end, int *has_end);
size_t nft_set_grp(const struct edpg_desired *d, size_t g, int v6);
size_t nft_set_svc(size_t s);
int nft_setdefs_of(const struct edpg_desired *d, struct setdef **out);
int nft_sock_open(struct mnl_socket **out, size_t sndbuf, size_t rcvbuf);
struct edpg_nft_chain *nft_state_chain(struct edpg_nft_state *s, const char *name);
struct edpg_nft_set *nft_state_set(struct edpg_nft_state *s, const char *name, size_t *idx);

#endif
