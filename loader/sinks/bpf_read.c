// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf_read.c - the BPF sink's readers: the live generation, counters,
 * troubleshooting records and the verdict of a private instance, for the
 * commands above the sink (they never see a map).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "bpf_internal.h"
#include "bpfmaps.h"
#include "log.h"

int edpg_bpf_active_gen(const struct edpg_bpf *b, uint32_t *gen)
{
	struct edpg_ctl ctl;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_CTL], &zero, &ctl))
		return -errno;
	*gen = ctl.gen & 1;
	return 0;
}

int edpg_bpf_gw_key(const struct edpg_bpf *b, const uint8_t mac[6], struct edpg_gw_key *k)
{
	uint32_t gen = 0;
	int err = edpg_bpf_active_gen(b, &gen);

	if (err)
		return err;
	memset(k, 0, sizeof(*k));
	k->gen = gen;
	memcpy(k->mac, mac, 6);
	return 0;
}

int edpg_bpf_gw_get(const struct edpg_bpf *b, const uint8_t mac[6], struct edpg_gw *out)
{
	struct edpg_gw_key k;
	int err;

	err = edpg_bpf_gw_key(b, mac, &k);
	if (err)
		return err;
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GATEWAYS], &k, out))
		return -errno;
	return 0;
}

/* ---- counters ---------------------------------------------------------- */

void edpg_gw_stats_add(struct edpg_gw_stats *to, const struct edpg_gw_stats *from)
{
	if (from->last_seen > to->last_seen)
		to->last_seen = from->last_seen;
	for (int r = 0; r < EDPG_R_MAX; r++) {
		to->drops[r] += from->drops[r];
		to->would_drop[r] += from->would_drop[r];
	}
	for (int s = 0; s < EDPG_MAX_SERVICES; s++) {
		to->svc[s].packets += from->svc[s].packets;
		to->svc[s].bytes += from->svc[s].bytes;
	}
}

/*
 * A gateway's counters summed over the CPUs: its hot row, its cold row
 * when it has one (edpgate.h: only a gateway that dropped or used a
 * service beyond the first EDPG_SVC_HOT), and what a growth carried for
 * its slot (@carry_fd -1: none).  By fd, so the tests' own instances
 * read through the same code.
 */
int edpg_gw_totals(int hot_fd, int cold_fd, int carry_fd, int ncpus, uint32_t slot,
		   struct edpg_gw_stats *out)
{
	struct edpg_gw_hot *hot;
	struct edpg_gw_cold *cold;
	struct edpg_gw_stats carried;
	bool has_cold = true;
	int err = 0;

	memset(out, 0, sizeof(*out));
	hot = calloc(ncpus, sizeof(*hot));
	cold = calloc(ncpus, sizeof(*cold));
	if (!hot || !cold) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(hot_fd, &slot, hot)) {
		err = -errno;
		goto out;
	}
	if (bpf_map_lookup_elem(cold_fd, &slot, cold)) {
		if (errno != ENOENT) {
			err = -errno;
			goto out;
		}
		has_cold = false;
	}
	for (int c = 0; c < ncpus; c++) {
		if (hot[c].last_seen > out->last_seen)
			out->last_seen = hot[c].last_seen;
		for (int s = 0; s < EDPG_SVC_HOT; s++) {
			out->svc[s].packets += hot[c].svc[s].packets;
			out->svc[s].bytes += hot[c].svc[s].bytes;
		}
		if (!has_cold)
			continue;
		for (int r = 0; r < EDPG_R_MAX; r++) {
			out->drops[r] += cold[c].drops[r];
			out->would_drop[r] += cold[c].would_drop[r];
		}
		for (int s = 0; s < EDPG_MAX_SERVICES - EDPG_SVC_HOT; s++) {
			out->svc[EDPG_SVC_HOT + s].packets += cold[c].svc[s].packets;
			out->svc[EDPG_SVC_HOT + s].bytes += cold[c].svc[s].bytes;
		}
	}
	/* What the instances before the last growth counted on this slot. */
	if (carry_fd >= 0) {
		if (!bpf_map_lookup_elem(carry_fd, &slot, &carried))
			edpg_gw_stats_add(out, &carried);
		else if (errno != ENOENT)
			err = -errno;
	}
out:
	free(hot);
	free(cold);
	return err;
}

int edpg_bpf_gw_stats(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_stats *out)
{
	return edpg_gw_totals(b->map_fd[EDPG_M_GW_STATS], b->map_fd[EDPG_M_GW_COLD], b->carry_fd,
			      b->ncpus, slot, out);
}

int edpg_bpf_global(const struct edpg_bpf *b, struct edpg_global out[EDPG_R_MAX])
{
	struct edpg_global *pc;
	int err = 0;

	pc = calloc(b->ncpus, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	memset(out, 0, sizeof(*out) * EDPG_R_MAX);
	for (uint32_t r = 0; r < EDPG_R_MAX; r++) {
		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_GLOBAL], &r, pc)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < b->ncpus; c++) {
			out[r].pass.packets += pc[c].pass.packets;
			out[r].pass.bytes += pc[c].pass.bytes;
			out[r].drop.packets += pc[c].drop.packets;
			out[r].drop.bytes += pc[c].drop.bytes;
			out[r].would_drop.packets += pc[c].would_drop.packets;
			out[r].would_drop.bytes += pc[c].would_drop.bytes;
		}
	}
	free(pc);
	return err;
}

/* ---- read back --------------------------------------------------------- */

static int push_dst(struct edpg_desired *out, size_t *cap, int family, const uint8_t *addr,
		    uint8_t plen, uint64_t groups)
{
	struct edpg_want_dst *w;

	if (out->ndsts == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;

		w = realloc(out->dsts, nc * sizeof(*w));
		if (!w)
			return -ENOMEM;
		out->dsts = w;
		*cap = nc;
	}
	w = &out->dsts[out->ndsts++];
	memset(w, 0, sizeof(*w));
	w->addr.family = family;
	w->addr.plen = plen;
	memcpy(w->addr.addr, addr, family == AF_INET ? 4 : 16);
	w->groups = groups;
	return 0;
}

/* The port table of one generation, in batches rather than 131,072 lookups. */
static int read_ports(const struct edpg_bpf *b, uint32_t gen, struct edpg_desired *out)
{
	const uint32_t n = EDPG_NR_GENS * 2 * EDPG_NR_PORTS;
	uint32_t *keys, *vals, batch = 0;
	__u32 count, done = 0;
	int err = 0;

	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n) {
		count = n - done;
		if (bpf_map_lookup_batch(b->map_fd[EDPG_M_PORTS], done ? &batch : NULL, &batch,
					 keys + done, vals + done, &count, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				goto out;
			}
			done += count;
			break;
		}
		done += count;
	}
	for (uint32_t i = 0; i < done; i++) {
		uint32_t k = keys[i], g = k / (2 * EDPG_NR_PORTS);

		if (g == gen)
			out->ports[k / EDPG_NR_PORTS % 2][k % EDPG_NR_PORTS] = vals[i];
	}
out:
	free(keys);
	free(vals);
	return err;
}

static int read_dsts(const struct edpg_bpf *b, int m, uint32_t gen, struct edpg_desired *out,
		     size_t *cap)
{
	const struct edpg_dst_layout *l = &edpg_dst_layouts[m];
	uint8_t *keys = NULL;
	size_t n = 0;
	int err;

	err = edpg_keys_of_gen(b->map_fd[m], l->ksz, l->gen_off, gen, (void **)&keys, &n);
	for (size_t i = 0; i < n && !err; i++) {
		const uint8_t *k = keys + i * l->ksz;
		struct edpg_dst v;	/* edpg_cidr is a prefix of it */
		uint8_t plen = l->family == AF_INET ? 32 : 128;

		if (bpf_map_lookup_elem(b->map_fd[m], k, &v))
			continue;	/* deleted meanwhile */
		if (l->lpm)
			plen = *(const uint32_t *)k - 8;
		err = push_dst(out, cap, l->family, k + l->addr_off, plen, v.groups);
	}
	free(keys);
	return err;
}

int edpg_bpf_read_live(const struct edpg_bpf *b, struct edpg_desired *out)
{
	size_t gcap = 0, dcap = 0;
	uint32_t gen = 0;
	int err;

	/* Caller zeroed *out (it is large and usually heap-allocated). */
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	{
		struct edpg_config cfg;

		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_CONFIG], &gen, &cfg))
			return -errno;
		/* What the loader adds for the data path is no policy. */
		out->flags = cfg.flags & ~EDPG_F_LOADER_ONLY;
	}
	{
		struct edpg_gw_key k, cur, *prev = NULL;
		int fd = b->map_fd[EDPG_M_GATEWAYS];

		while (!bpf_map_get_next_key(fd, prev, &k)) {
			struct edpg_want_gw *w;

			cur = k;
			prev = &cur;
			if (k.gen != gen)
				continue;
			if (out->ngws == gcap) {
				gcap = gcap ? gcap * 2 : 64;
				w = realloc(out->gws, gcap * sizeof(*w));
				if (!w)
					return -ENOMEM;
				out->gws = w;
			}
			w = &out->gws[out->ngws];
			if (bpf_map_lookup_elem(fd, &k, &w->rec))
				continue;	/* deleted meanwhile */
			memcpy(w->mac, k.mac, 6);
			out->ngws++;
		}
	}
	for (uint32_t s = 0; s < EDPG_MAX_SERVICES; s++) {
		uint32_t k = gen * EDPG_MAX_SERVICES + s;
		struct edpg_svc v;

		if (bpf_map_lookup_elem(b->map_fd[EDPG_M_SERVICES], &k, &v))
			return -errno;
		out->svc_groups[s] = v.groups;
	}
	err = read_ports(b, gen, out);
	if (err)
		return err;
	for (int m = EDPG_M_DST4; m <= EDPG_M_CIDR6 && !err; m++)
		err = read_dsts(b, m, gen, out, &dcap);
	return err;
}

int64_t edpg_dp_time_to_wall(uint64_t dp_ns)
{
	struct timespec mt, rt;
	int64_t now_mono;

	if (!dp_ns)
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &mt);
	clock_gettime(CLOCK_REALTIME, &rt);
	now_mono = (int64_t)mt.tv_sec * 1000000000LL + mt.tv_nsec;
	return rt.tv_sec - (now_mono - (int64_t)dp_ns) / 1000000000LL;
}

/* ---- troubleshooting records ---------------------------------------------
 *
 * The records are per-CPU (the data path never shares a cache line on a
 * drop), so every reader here merges the CPUs: counts add up, "last"
 * records are the one with the latest time.
 */

static int lookup_percpu(const struct edpg_bpf *b, int m, const void *key, size_t vsz,
			 void **out)
{
	void *v = calloc(b->ncpus, ROUND8(vsz));

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(b->map_fd[m], key, v)) {
		int err = -errno;

		free(v);
		return err;
	}
	*out = v;
	return 0;
}

static void bucket_add(struct edpg_ev_bucket *to, const struct edpg_ev_bucket *from)
{
	to->suppressed += from->suppressed;
	to->pending += from->pending;
	if (from->ts > to->ts)
		to->ts = from->ts;
}

int edpg_bpf_gw_diag(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_diag *out)
{
	struct edpg_gw_cold *pc = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = lookup_percpu(b, EDPG_M_GW_COLD, &slot, sizeof(*pc), (void **)&pc);
	if (err == -ENOENT)
		return 0;	/* no drop yet: no cold row */
	if (err)
		return err;
	for (int c = 0; c < b->ncpus; c++) {
		const struct edpg_gw_diag *d = &pc[c].diag;

		bucket_add(&out->ev, &d->ev);
		for (int r = 0; r < EDPG_DIAG_NR; r++)
			if (d->last[r].ts > out->last[r].ts)
				out->last[r] = d->last[r];
	}
	free(pc);
	return 0;
}

int edpg_bpf_ev_global(const struct edpg_bpf *b, struct edpg_ev_bucket *out)
{
	struct edpg_ev_bucket *pc = NULL;
	uint32_t zero = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = lookup_percpu(b, EDPG_M_EV_GLOBAL, &zero, sizeof(*pc), (void **)&pc);
	if (err)
		return err;
	for (int c = 0; c < b->ncpus; c++)
		bucket_add(out, &pc[c]);
	free(pc);
	return 0;
}

static int pending_cmp(const void *a, const void *b)
{
	const struct edpg_pending_ent *x = a, *y = b;

	if (x->p.last_seen != y->p.last_seen)
		return x->p.last_seen > y->p.last_seen ? -1 : 1;
	return memcmp(x->mac, y->mac, 6);
}

/* One CPU's record of @slot into the list: merged with the same MAC's
 * record from another CPU (a MAC always lands in the same slot, so only
 * the entries from @first on can hold it), else appended. */
static int pending_merge(struct edpg_pending_ent **v, size_t *cnt, size_t *cap, size_t first,
			 const struct edpg_pending *p)
{
	struct edpg_pending_ent *e = NULL, *tmp;

	for (size_t i = first; i < *cnt && !e; i++)
		if (!memcmp((*v)[i].mac, p->mac, 6))
			e = &(*v)[i];
	if (!e) {
		if (*cnt == *cap) {
			*cap = *cap ? *cap * 2 : 32;
			tmp = realloc(*v, *cap * sizeof(**v));
			if (!tmp)
				return -ENOMEM;
			*v = tmp;
		}
		e = &(*v)[(*cnt)++];
		memset(e, 0, sizeof(*e));
		memcpy(e->mac, p->mac, 6);
		memcpy(e->p.mac, p->mac, 6);
	}
	e->p.packets += p->packets;
	if (p->first_seen && (!e->p.first_seen || p->first_seen < e->p.first_seen))
		e->p.first_seen = p->first_seen;
	if (p->last_seen >= e->p.last_seen) {
		e->p.last_seen = p->last_seen;
		e->p.last_port = p->last_port;
		e->p.last_proto = p->last_proto;
		e->p.vlan = p->vlan;
	}
	return 0;
}

int edpg_bpf_pending_list(const struct edpg_bpf *b, struct edpg_pending_ent **out, size_t *n)
{
	struct edpg_pending_ent *v = NULL;
	size_t cnt = 0, cap = 0, sz = ROUND8(sizeof(struct edpg_pending));
	int fd = b->map_fd[EDPG_M_PENDING];
	uint32_t *keys, batch, nread = 0;
	uint8_t *pc;
	int err = 0;

	/* Every slot of every CPU in a few batched calls, not one per slot
	 * (`stats --interval` reads this each second). */
	keys = calloc(EDPG_MAX_PENDING, sizeof(*keys));
	pc = calloc((size_t)EDPG_MAX_PENDING * b->ncpus, sz);
	if (!keys || !pc) {
		err = -ENOMEM;
		goto out;
	}
	while (nread < EDPG_MAX_PENDING) {
		__u32 count = EDPG_MAX_PENDING - nread;

		err = bpf_map_lookup_batch(fd, nread ? &batch : NULL, &batch, keys + nread,
					   pc + (size_t)nread * b->ncpus * sz, &count, NULL);
		nread += count;
		if (err == -ENOENT) {	/* the last slot was read */
			err = 0;
			break;
		}
		if (err)
			goto out;
	}
	for (uint32_t i = 0; i < nread && !err; i++) {
		size_t first = cnt;

		for (int c = 0; c < b->ncpus && !err; c++) {
			const struct edpg_pending *p = (const void *)(pc + ((size_t)i * b->ncpus + c) * sz);

			if (p->packets)
				err = pending_merge(&v, &cnt, &cap, first, p);
		}
	}
	if (!err && cnt)
		qsort(v, cnt, sizeof(*v), pending_cmp);
out:
	free(keys);
	free(pc);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* The MAC's records on every CPU emptied (a racing frame may write one
 * again: it is then still pending, which it is). -ENOENT: none held. */
int edpg_bpf_pending_del(const struct edpg_bpf *b, const uint8_t mac[6])
{
	size_t sz = ROUND8(sizeof(struct edpg_pending));
	uint32_t slot = edpg_pending_slot(mac);
	int fd = b->map_fd[EDPG_M_PENDING];
	bool found = false;
	uint8_t *pc;
	int err = 0;

	pc = calloc(b->ncpus, sz);
	if (!pc)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &slot, pc)) {
		err = -errno;
		goto out;
	}
	for (int c = 0; c < b->ncpus; c++) {
		struct edpg_pending *p = (void *)(pc + c * sz);

		if (p->packets && !memcmp(p->mac, mac, 6)) {
			memset(p, 0, sizeof(*p));
			found = true;
		}
	}
	if (!found)
		err = -ENOENT;
	else if (bpf_map_update_elem(fd, &slot, pc, BPF_ANY))
		err = -errno;
out:
	free(pc);
	return err;
}

/* ---- facts for explain and doctor --------------------------------------- */

int edpg_bpf_dst_groups(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *exact,
		    uint64_t *cidr)
{
	uint32_t gen = 0;
	struct edpg_dst d;
	struct edpg_cidr c;
	int err;

	*exact = *cidr = 0;
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	if (a->family == AF_INET) {
		struct edpg_dst4_key k = { .gen = gen };
		struct edpg_cidr4_key ck = { .prefixlen = 8 + 32, .gen = gen };

		memcpy(k.addr, a->addr, 4);
		memcpy(ck.addr, a->addr, 4);
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_DST4], &k, &d))
			*exact = d.groups;
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_CIDR4], &ck, &c))
			*cidr = c.groups;
	} else {
		struct edpg_dst6_key k = { .gen = gen };
		struct edpg_cidr6_key ck = { .prefixlen = 8 + 128, .gen = gen };

		memcpy(k.addr, a->addr, 16);
		memcpy(ck.addr, a->addr, 16);
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_DST6], &k, &d))
			*exact = d.groups;
		if (!bpf_map_lookup_elem(b->map_fd[EDPG_M_CIDR6], &ck, &c))
			*cidr = c.groups;
	}
	return 0;
}

int edpg_bpf_port_service(const struct edpg_bpf *b, uint8_t proto, uint16_t port, int *sid)
{
	uint32_t gen = 0, k, v = 0;
	int err;

	*sid = -1;
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	k = edpg_port_index(gen, proto == IPPROTO_TCP ? EDPG_PROTO_TCP : EDPG_PROTO_UDP, port);
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_PORTS], &k, &v))
		return -errno;
	if (v && v <= EDPG_MAX_SERVICES)
		*sid = v - 1;
	return 0;
}

int edpg_bpf_service_groups(const struct edpg_bpf *b, int sid, uint64_t *groups)
{
	uint32_t gen = 0, k;
	struct edpg_svc v;
	int err;

	*groups = 0;
	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	k = gen * EDPG_MAX_SERVICES + sid;
	if (bpf_map_lookup_elem(b->map_fd[EDPG_M_SERVICES], &k, &v))
		return -errno;
	*groups = v.groups;
	return 0;
}

/*
 * One frame through @b's program (BPF_PROG_TEST_RUN, nothing sent):
 * the XDP return code in *retval.
 */
int edpg_bpf_test_run(const struct edpg_bpf *b, const void *frame, size_t len, uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(b->prog_fd, &o);
	if (err)
		return err < 0 ? err : -EINVAL;
	*retval = o.retval;
	return 0;
}

int edpg_bpf_dst_get(const struct edpg_bpf *b, const struct edpg_addr *a, struct edpg_dst *out)
{
	uint32_t gen = 0;
	int err;

	err = edpg_bpf_active_gen(b, &gen);
	if (err)
		return err;
	if (a->family == AF_INET) {
		struct edpg_dst4_key k = { .gen = gen };

		memcpy(k.addr, a->addr, 4);
		err = bpf_map_lookup_elem(b->map_fd[EDPG_M_DST4], &k, out);
	} else {
		struct edpg_dst6_key k = { .gen = gen };

		memcpy(k.addr, a->addr, 16);
		err = bpf_map_lookup_elem(b->map_fd[EDPG_M_DST6], &k, out);
	}
	return err ? -errno : 0;
}

/* ---- drop events ---------------------------------------------------------- */

struct edpg_bpf_events {
	struct ring_buffer *rb;
	edpg_bpf_event_fn fn;
	void *ctx;
};

/* libbpf's callback takes a mutable record; ours a const one. */
static int event_trampoline(void *ctx, void *data, size_t len)
{
	struct edpg_bpf_events *ev = ctx;

	return ev->fn(ev->ctx, data, len);
}

int edpg_bpf_events_open(const struct edpg_bpf *b, edpg_bpf_event_fn fn, void *ctx,
			 struct edpg_bpf_events **out)
{
	struct edpg_bpf_events *ev;
	int err;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->fn = fn;
	ev->ctx = ctx;
	ev->rb = ring_buffer__new(b->map_fd[EDPG_M_EVENTS], event_trampoline, ev, NULL);
	if (!ev->rb) {
		err = -errno;
		free(ev);
		return err;
	}
	*out = ev;
	return 0;
}

int edpg_bpf_events_poll(struct edpg_bpf_events *ev, int timeout_ms)
{
	return ring_buffer__poll(ev->rb, timeout_ms);
}

void edpg_bpf_events_close(struct edpg_bpf_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev);
}

/* ---- libbpf's own messages ---------------------------------------------- */

static int log_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* The verifier log is long; only -v wants it. */
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !log_verbose) ||
	    (level == LIBBPF_WARN && !log_verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void edpg_bpf_set_log(int verbose)
{
	log_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

uint32_t edpg_bpf_capacity(const struct edpg_bpf *b)
{
	return b->max_gateways;
}

bool edpg_bpf_has_prog(const struct edpg_bpf *b)
{
	return b->prog_fd >= 0;
}

/* ---- learn ---------------------------------------------------------------- */

int edpg_bpf_learn_list(const struct edpg_bpf *b, struct edpg_learn_ent **out, size_t *n)
{
	struct edpg_learn_key k, next;
	struct edpg_learn_ent *v;
	int fd = b->map_fd[EDPG_M_LEARN];
	size_t cnt = 0;
	bool first = true;

	/* The map is small (EDPG_MAX_LEARN) and read on demand: one walk
	 * of its keys.  An entry evicted during the walk is simply absent. */
	v = calloc(EDPG_MAX_LEARN, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (cnt < EDPG_MAX_LEARN && !bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		if (bpf_map_lookup_elem(fd, &k, &v[cnt].l))
			continue;
		v[cnt].k = k;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}
