// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nft_batch.c - the batch buffer: netlink messages of one nftables transaction,
 * built without I/O (so unit tests read them back byte for byte).
 */
#include "nft_internal.h"

/* ---- batch buffer ------------------------------------------------------ */


static uint32_t next_seq;

int nft_batch_new(struct edpg_nft_batch **out)
{
	struct edpg_nft_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	if (!next_seq)
		next_seq = (uint32_t)time(NULL);
	b->seq0 = next_seq;
	*out = b;
	return 0;
}

/* Room for one more message of at most EDPG_NFT_MSG_MAX bytes, and its
 * description; returns the header, seq already assigned. */
static struct nlmsghdr *batch_reserve(struct edpg_nft_batch *b, const char *what)
{
	size_t need = b->len + EDPG_NFT_MSG_MAX + 8192;

	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return NULL;
		/* Attribute padding is never written: keep it zero so no
		 * heap garbage goes to the kernel. */
		memset(p + b->cap, 0, cap - b->cap);
		b->buf = p;
		b->cap = cap;
	}
	if (b->nall >= b->desc_cap) {
		size_t cap = b->desc_cap ? b->desc_cap * 2 : 64;
		void *p = realloc(b->desc, cap * DESC_LEN);

		if (!p)
			return NULL;
		b->desc = p;
		b->desc_cap = cap;
	}
	snprintf(b->desc[b->nall], DESC_LEN, "%s", what);
	return (struct nlmsghdr *)(b->buf + b->len);
}

void nft_batch_commit(struct edpg_nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->nall++;
}

static uint32_t batch_seq(const struct edpg_nft_batch *b)
{
	return b->seq0 + (uint32_t)b->nall;
}

/* Start a message of @type; the caller fills the payload and commits. */
struct nlmsghdr *nft_batch_msg(struct edpg_nft_batch *b, uint16_t type, uint16_t flags,
				  const char *what)
{
	struct nlmsghdr *nlh = batch_reserve(b, what);

	if (!nlh)
		return NULL;
	return nftnl_nlmsg_build_hdr((char *)nlh, type, NFPROTO_INET, flags | NLM_F_ACK,
				     batch_seq(b));
}

int nft_batch_begin(struct edpg_nft_batch *b)
{
	struct nlmsghdr *nlh = batch_reserve(b, "starting the transaction");

	if (!nlh)
		return -ENOMEM;
	nftnl_batch_begin((char *)nlh, batch_seq(b));
	nft_batch_commit(b, nlh);
	return 0;
}

/* Close the batch; a batch with nothing between BEGIN and END is emptied
 * so that it is never sent. */
int nft_batch_end(struct edpg_nft_batch *b)
{
	struct nlmsghdr *nlh;

	if (b->nall <= 1) {
		b->len = 0;
		b->nall = 0;
		return 0;
	}
	nlh = batch_reserve(b, "committing the transaction");
	if (!nlh)
		return -ENOMEM;
	nftnl_batch_end((char *)nlh, batch_seq(b));
	nft_batch_commit(b, nlh);
	next_seq = batch_seq(b) + 1;
	return 0;
}

size_t edpg_nft_batch_nmsgs(const struct edpg_nft_batch *b)
{
	return b->nall >= 2 ? b->nall - 2 : 0;
}

const void *edpg_nft_batch_data(const struct edpg_nft_batch *b)
{
	return b->buf;
}

size_t edpg_nft_batch_len(const struct edpg_nft_batch *b)
{
	return b->len;
}

const char *edpg_nft_batch_describe(const struct edpg_nft_batch *b, uint32_t seq)
{
	uint32_t i = seq - b->seq0;

	return i < b->nall ? b->desc[i] : NULL;
}

void edpg_nft_batch_free(struct edpg_nft_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->desc);
	free(b);
}
