// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sync.c - push a desired state to both sinks: the choice of delta or
 * full, the order (nft, then BPF) and the error messages, once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "sync.h"

static const char *const enforce_names[] = {
	[EDPG_ENFORCE_XDP] = "xdp",
	[EDPG_ENFORCE_NFT] = "nft",
	[EDPG_ENFORCE_BOTH] = "both",
	[EDPG_ENFORCE_AUDIT] = "audit",
};

int edpg_enforce_parse(const char *word, enum edpg_enforce *out)
{
	for (size_t i = 0; i < sizeof(enforce_names) / sizeof(enforce_names[0]); i++) {
		if (!strcmp(word, enforce_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *edpg_enforce_name(enum edpg_enforce e)
{
	return (size_t)e < sizeof(enforce_names) / sizeof(enforce_names[0]) ? enforce_names[e] : "?";
}

enum edpg_enforce edpg_enforce_of(const struct edpg_ifaces *ifs)
{
	enum edpg_enforce e = EDPG_ENFORCE_BOTH;

	/* Every interface shares one mode (attach refuses a second). */
	if (ifs->n)
		edpg_enforce_parse(ifs->v[0].enforce, &e);
	return e;
}

void edpg_nft_opts_from(const struct edpg_ifaces *ifs, struct edpg_nft_opts *o, const char **names)
{
	for (size_t i = 0; i < ifs->n; i++)
		names[i] = ifs->v[i].name;
	o->enforce = edpg_enforce_of(ifs);
	o->ifaces = names;
	o->nifaces = ifs->n;
}

uint32_t edpg_bpf_flags_for(const struct edpg_desired *d, const struct edpg_ifaces *ifs)
{
	return d->flags | (edpg_enforce_of(ifs) == EDPG_ENFORCE_AUDIT ? EDPG_F_AUDIT : 0);
}

static bool exact(const struct edpg_want_dst *w)
{
	return w->addr.plen == (w->addr.family == AF_INET ? 32 : 128);
}

/* The same gateway record, wherever the sink put it (slot). */
static bool rec_equal(const struct edpg_want_gw *a, const struct edpg_want_gw *b)
{
	struct edpg_gw x = a->rec, y = b->rec;

	x.slot = y.slot = 0;
	return !memcmp(a->mac, b->mac, 6) && !memcmp(&x, &y, sizeof(x));
}

/*
 * Whether @a and @b differ only in exact destinations and gateway
 * records: what a delta can carry.  A false "differ" only costs a full
 * push, so whole arrays are compared where fields would do.
 */
static bool delta_will_do(const struct edpg_desired *a, const struct edpg_desired *b)
{
	size_t i = 0, j = 0;

	if (a->flags != b->flags || a->nservices != b->nservices || a->ngroups != b->ngroups ||
	    memcmp(a->services, b->services, a->nservices * sizeof(a->services[0])) ||
	    memcmp(a->svc_groups, b->svc_groups, sizeof(a->svc_groups)) ||
	    memcmp(a->group_names, b->group_names, a->ngroups * sizeof(a->group_names[0])) ||
	    memcmp(a->ports, b->ports, sizeof(a->ports)))
		return false;
	/* CIDRs must match one for one (they live in interval maps that
	 * only a generation swap replaces). */
	for (;;) {
		while (i < a->ndsts && exact(&a->dsts[i]))
			i++;
		while (j < b->ndsts && exact(&b->dsts[j]))
			j++;
		if (i == a->ndsts || j == b->ndsts)
			return i == a->ndsts && j == b->ndsts;
		if (edpg_addr_cmp(&a->dsts[i].addr, &b->dsts[j].addr) ||
		    a->dsts[i].groups != b->dsts[j].groups)
			return false;
		i++;
		j++;
	}
}

/* One nft transaction: the whole table (@old NULL) or the element delta. */
static int push_nft(const struct edpg_sinks *s, const struct edpg_desired *old,
		    const struct edpg_desired *new, char *msg, size_t len)
{
	const char *names[EDPG_MAX_IFACES];
	struct edpg_nft_batch *batch = NULL;
	struct edpg_nft_opts no = {};
	int err;

	edpg_nft_opts_from(s->ifs, &no, names);
	err = old ? edpg_nft_build_delta(old, new, &no, &batch) :
		    edpg_nft_build_full(new, &no, &batch);
	if (err) {
		snprintf(msg, len, "cannot build the batch: %s", strerror(-err));
		return err;
	}
	if (edpg_nft_batch_nmsgs(batch))
		err = edpg_nft_send(batch, msg, len);
	edpg_nft_batch_free(batch);
	return err;
}

/* Exact destinations of @old -> @new, in place in the live generation:
 * one merge walk of the sorted lists. */
static int delta_dsts(struct edpg_bpf *b, const struct edpg_desired *old,
		      const struct edpg_desired *new, size_t *cnt)
{
	size_t i = 0, j = 0;
	int err = 0;

	if (old->dsts == new->dsts && old->ndsts == new->ndsts)
		return 0;	/* an enrolment: one list (edpg_compile_gateways_of) */
	while (!err && (i < old->ndsts || j < new->ndsts)) {
		const struct edpg_want_dst *o = i < old->ndsts ? &old->dsts[i] : NULL;
		const struct edpg_want_dst *n = j < new->ndsts ? &new->dsts[j] : NULL;
		int c = !o ? 1 : !n ? -1 : edpg_addr_cmp(&o->addr, &n->addr);

		if (c < 0 && exact(o)) {
			err = edpg_bpf_dst_del(b, &o->addr);
			(*cnt)++;
		} else if (c >= 0 && exact(n) && (c > 0 || o->groups != n->groups)) {
			/* Additions and group changes update in place: the key
			 * never disappears, so no packet meets a gap. */
			err = edpg_bpf_dst_put(b, &n->addr, n->groups);
			(*cnt)++;
		}
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

/* Gateway records of @old -> @new: the new and changed in one batched
 * update, then the ones that left (both lists are sorted by MAC). */
static int delta_gws(struct edpg_bpf *b, const struct edpg_desired *old,
		     const struct edpg_desired *new, size_t *cnt)
{
	struct edpg_want_gw *put;
	size_t nput = 0, j = 0;
	int err;

	put = malloc((new->ngws ? new->ngws : 1) * sizeof(*put));
	if (!put)
		return -ENOMEM;
	for (size_t i = 0; i < new->ngws; i++) {
		while (j < old->ngws && memcmp(old->gws[j].mac, new->gws[i].mac, 6) < 0)
			j++;
		if (j < old->ngws && rec_equal(&old->gws[j], &new->gws[i]))
			continue;
		put[nput++] = new->gws[i];
	}
	err = nput ? edpg_bpf_gw_put_many(b, put, nput) : 0;
	free(put);
	*cnt += nput;
	for (size_t i = 0, k = 0; i < old->ngws && !err; i++) {
		while (k < new->ngws && memcmp(new->gws[k].mac, old->gws[i].mac, 6) < 0)
			k++;
		if (k < new->ngws && !memcmp(new->gws[k].mac, old->gws[i].mac, 6))
			continue;
		err = edpg_bpf_gw_del(b, old->gws[i].mac);
		if (err == -ENOENT)
			err = 0;
		(*cnt)++;
	}
	return err;
}

/*
 * The part of @old -> @new the nft sink has to look at, in @o2 and @n2
 * (shallow copies; free their gws): the nft delta is the difference of
 * the two states' element sets, and a gateway's elements are its own
 * (keyed by its MAC), so a gateway the same on both sides adds the same
 * elements to both sets and drops out of the difference.  Destinations
 * are kept whole unless the two lists are the same (a group's interval
 * elements are made of all its addresses together).  An enrolment on a
 * site of 10,000 gateways and addresses then lists and sorts the
 * elements of the gateways that changed, not of the whole site.
 */
static int nft_pair(const struct edpg_desired *old, const struct edpg_desired *new,
		    struct edpg_desired *o2, struct edpg_desired *n2)
{
	size_t i = 0, j = 0;

	memcpy(o2, old, sizeof(*o2));
	memcpy(n2, new, sizeof(*n2));
	o2->gws = malloc((old->ngws ? old->ngws : 1) * sizeof(*o2->gws));
	n2->gws = malloc((new->ngws ? new->ngws : 1) * sizeof(*n2->gws));
	if (!o2->gws || !n2->gws) {
		free(o2->gws);
		free(n2->gws);
		return -ENOMEM;
	}
	o2->ngws = n2->ngws = 0;
	while (i < old->ngws || j < new->ngws) {
		int c = i >= old->ngws ? 1 : j >= new->ngws ? -1 :
			memcmp(old->gws[i].mac, new->gws[j].mac, 6);

		if (!c && rec_equal(&old->gws[i], &new->gws[j])) {
			i++;
			j++;
			continue;
		}
		if (c <= 0)
			o2->gws[o2->ngws++] = old->gws[i++];
		if (c >= 0)
			n2->gws[n2->ngws++] = new->gws[j++];
	}
	if (old->ndsts == new->ndsts && (old->dsts == new->dsts ||
	    !memcmp(old->dsts, new->dsts, old->ndsts * sizeof(*old->dsts))))
		o2->ndsts = n2->ndsts = 0;
	return 0;
}

/*
 * The delta; -EAGAIN when it cannot carry the change, or when a sink
 * refused it (the full push that follows says what is wrong, if anything
 * still is).  With no attached interface there is no nft table to change.
 */
static int sync_delta(const struct edpg_sinks *s, const struct edpg_desired *old,
		      const struct edpg_desired *new, struct edpg_sync_result *r)
{
	char msg[512] = "";
	int err = 0;

	if (!delta_will_do(old, new))
		return -EAGAIN;
	if (s->ifs->n) {
		struct edpg_desired *o2, *n2;

		o2 = malloc(sizeof(*o2));
		n2 = malloc(sizeof(*n2));
		err = o2 && n2 ? nft_pair(old, new, o2, n2) : -ENOMEM;
		if (!err) {
			err = push_nft(s, o2, n2, msg, sizeof(msg));
			free(o2->gws);
			free(n2->gws);
		} else {
			snprintf(msg, sizeof(msg), "%s", strerror(-err));
		}
		free(o2);
		free(n2);
	}
	if (err) {
		edpg_warn("nftables refused the delta (%s); pushing the whole policy", msg);
		return -EAGAIN;
	}
	err = delta_dsts(s->bpf, old, new, &r->ndsts);
	err = err ?: delta_gws(s->bpf, old, new, &r->ngws);
	if (err) {
		edpg_warn("the BPF delta failed (%s); pushing the whole policy", strerror(-err));
		return -EAGAIN;
	}
	return 0;
}

static int sync_full(const struct edpg_sinks *s, const struct edpg_desired *new,
		     const struct edpg_sync_opts *o)
{
	struct edpg_desired live;
	char msg[512] = "";
	int err;

	/* Before anything changes: a state with more gateways than the
	 * program has slots grows the maps, or is refused whole where they
	 * may not grow (the room check says how to make room). */
	err = edpg_bpf_make_room(s->bpf, s->pin_dir, s->ifs, new->ngws, s->grow, s->grow_arg);
	if (err)
		return err;
	err = push_nft(s, NULL, new, msg, sizeof(msg));
	if (err) {
		if (o->durable)
			return edpg_err(err, "nftables refused the update (%s); the live filter is as before, %s: fix the cause, then `edpgate apply` pushes it",
					msg, o->durable);
		return edpg_err(err, "nftables refused the update (%s); nothing was changed", msg);
	}
	/* The enforcement mode is the interfaces', not the rules': audit
	 * reaches the program as a flag of the generation it swaps in. */
	live = *new;
	live.flags = edpg_bpf_flags_for(new, s->ifs);
	err = edpg_bpf_apply(s->bpf, &live);
	if (err)
		return edpg_err(err, "the BPF maps were not updated; nftables already has the new policy%s%s: run `edpgate apply` again",
				o->durable ? ", " : "", o->durable ? o->durable : "");
	return 0;
}

int edpg_sync(const struct edpg_sinks *s, const struct edpg_desired *old,
	      const struct edpg_desired *new, const struct edpg_sync_opts *o,
	      struct edpg_sync_result *r)
{
	static const struct edpg_sync_opts defaults;
	struct edpg_sync_result dummy;
	int err = -EAGAIN;

	o = o ?: &defaults;
	r = r ?: &dummy;
	memset(r, 0, sizeof(*r));
	if (old && !o->full) {
		/* An enrolment from the store the slots cannot hold grows
		 * the maps first: the delta then finds its slots.  A partial
		 * state's count is not the site's: its caller made room. */
		err = o->delta_only ? 0 :
		      edpg_bpf_make_room(s->bpf, s->pin_dir, s->ifs, new->ngws, s->grow, s->grow_arg);
		if (err)
			return err;
		err = sync_delta(s, old, new, r);
	}
	if (err != -EAGAIN || o->delta_only)
		return err;
	r->full = true;
	r->ndsts = r->ngws = 0;
	return sync_full(s, new, o);
}
