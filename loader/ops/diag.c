// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * diag.c - reading the data path's troubleshooting records and asking a
 * private instance of the real program what it does with a frame.
 *
 * The records are per-CPU (the data path never shares a cache line on a
 * drop), so every reader here merges the CPUs: counts add up, "last"
 * records are the one with the latest time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "addrcache.h"
#include "diag.h"
#include "log.h"
#include "rules.h"

#define ROUND8(x) (((x) + 7) & ~(size_t)7)

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

int edpg_diag_gw(const struct edpg_bpf *b, uint32_t slot, struct edpg_gw_diag *out)
{
	struct edpg_gw_diag *pc = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = lookup_percpu(b, EDPG_M_GW_DIAG, &slot, sizeof(*pc), (void **)&pc);
	if (err)
		return err;
	for (int c = 0; c < b->ncpus; c++) {
		bucket_add(&out->ev, &pc[c].ev);
		for (int r = 0; r < EDPG_DIAG_NR; r++)
			if (pc[c].last[r].ts > out->last[r].ts)
				out->last[r] = pc[c].last[r];
	}
	free(pc);
	return 0;
}

int edpg_diag_ev_global(const struct edpg_bpf *b, struct edpg_ev_bucket *out)
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

int edpg_pending_list(const struct edpg_bpf *b, struct edpg_pending_ent **out, size_t *n)
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
int edpg_pending_del(const struct edpg_bpf *b, const uint8_t mac[6])
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

int edpg_mac_distance(const uint8_t a[6], const uint8_t b[6])
{
	int d = 0;

	for (int i = 0; i < 6; i++)
		d += __builtin_popcount(a[i] ^ b[i]);
	return d;
}

/* ---- one frame through a private instance ------------------------------ */

static int read_global(const struct edpg_bpf *b, struct edpg_global g[EDPG_R_MAX])
{
	return edpg_bpf_global(b, g);
}

int edpg_verdict_run(const struct edpg_bpf *priv, struct edpg_global snap[EDPG_R_MAX],
		     const void *frame, size_t len, struct edpg_outcome *out)
{
	struct edpg_global now[EDPG_R_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = 1);
	int err;

	out->sid = -1;
	if (len < 14) {
		out->verdict = EDPG_V_DROP;
		out->reason = EDPG_R_MALFORMED;
		return 0;
	}
	err = bpf_prog_test_run_opts(priv->prog_fd, &o);
	if (err)
		return err < 0 ? err : -EINVAL;
	err = read_global(priv, now);
	if (err)
		return err;
	err = -EPROTO;	/* no counter moved: not the program we know */
	for (int r = 0; r < EDPG_R_MAX; r++) {
		if (now[r].pass.packets != snap[r].pass.packets) {
			out->verdict = EDPG_V_PASS;
			out->reason = r;
			err = 0;
			break;
		}
		if (now[r].drop.packets != snap[r].drop.packets) {
			out->verdict = EDPG_V_DROP;
			out->reason = r;
			err = 0;
			break;
		}
	}
	memcpy(snap, now, sizeof(now));
	/* The counter is the truth about the reason; the return code must
	 * agree with it. */
	if (!err && (o.retval == XDP_PASS) != (out->verdict == EDPG_V_PASS))
		err = -EPROTO;
	return err;
}

/* ---- probe frames ------------------------------------------------------- */

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

int edpg_probe_build(const struct edpg_probe *p, uint8_t *buf, size_t cap, size_t *len)
{
	static const uint8_t router[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	size_t l4len = p->proto == IPPROTO_TCP ? 20 : 8 + 48;	/* UDP: an NTP request */
	size_t off = 12, l3len, need;
	bool v6 = p->src.family == AF_INET6;
	uint8_t *l3, *l4;
	uint32_t sum;

	if (p->src.family != p->dst.family)
		return -EAFNOSUPPORT;
	l3len = (v6 ? 40 : 20) + l4len;
	need = 14 + (p->vlan >= 0 ? 4 : 0) + l3len;
	if (need < 60)
		need = 60;
	if (cap < need)
		return -ENOSPC;
	memset(buf, 0, need);
	memcpy(buf, router, 6);
	memcpy(buf + 6, p->src_mac, 6);
	if (p->vlan >= 0) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, p->vlan & 0x0fff);
		off += 4;
	}
	put16(buf + off, v6 ? 0x86dd : 0x0800);
	l3 = buf + off + 2;
	if (v6) {
		l3[0] = 0x60;
		put16(l3 + 4, l4len);
		l3[6] = p->proto;
		l3[7] = 64;
		memcpy(l3 + 8, p->src.addr, 16);
		memcpy(l3 + 24, p->dst.addr, 16);
		l4 = l3 + 40;
	} else {
		l3[0] = 0x45;
		put16(l3 + 2, l3len);
		l3[6] = 0x40;	/* DF */
		l3[8] = 64;
		l3[9] = p->proto;
		memcpy(l3 + 12, p->src.addr, 4);
		memcpy(l3 + 16, p->dst.addr, 4);
		put16(l3 + 10, ~csum_add(0, l3, 20));
		l4 = l3 + 20;
	}
	put16(l4, p->sport);
	put16(l4 + 2, p->dport);
	if (p->proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = 0x02;	/* SYN */
		put16(l4 + 14, 64240);
	} else {
		put16(l4 + 4, l4len);
		l4[8] = 0x23;	/* NTP v4, client */
	}
	/* Pseudo-header checksum: the program ignores it, a reader of a
	 * dumped probe does not. */
	if (v6) {
		sum = csum_add(0, l3 + 8, 32) + l4len + p->proto;
	} else {
		sum = csum_add(0, l3 + 12, 8) + l4len + p->proto;
	}
	sum = csum_add(sum, l4, l4len);
	put16(l4 + (p->proto == IPPROTO_TCP ? 16 : 6), ~sum ? ~sum : 0xffff);
	*len = need;
	return 0;
}

const char *edpg_dp_time_str(uint64_t dp_ns, char *buf, size_t len)
{
	int64_t w = edpg_dp_time_to_wall(dp_ns);
	struct tm tm;

	if (!w)
		return NULL;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ w }, &tm));
	return buf;
}

int64_t edpg_dp_age(uint64_t dp_ns)
{
	struct timespec mt;
	int64_t now;

	if (!dp_ns)
		return -1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &mt);
	now = (int64_t)mt.tv_sec * 1000000000LL + mt.tv_nsec;
	return now > (int64_t)dp_ns ? (now - (int64_t)dp_ns) / 1000000000LL : 0;
}

/* ---- facts for explain and doctor --------------------------------------- */

int edpg_addr_cache_find(const char *state_dir, bool retired, const struct edpg_addr *a,
			 struct edpg_cache_entry **out, size_t *n)
{
	struct edpg_cache_entry *v = NULL;
	char path[4096];
	size_t cnt = 0, k = 0;
	int err;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/addresses%s", state_dir, retired ? EDPG_RETIRED_SUFFIX : "");
	err = edpg_cache_load_entries(path, &v, &cnt);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (size_t i = 0; i < cnt; i++) {
		struct edpg_addr x = v[i].addr;

		x.plen = a->plen;
		if (!edpg_addr_cmp(&x, a))
			v[k++] = v[i];
	}
	if (!k) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = k;
	return 0;
}

int edpg_dst_groups(const struct edpg_bpf *b, const struct edpg_addr *a, uint64_t *exact,
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

int edpg_port_service(const struct edpg_bpf *b, uint8_t proto, uint16_t port, int *sid)
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

int edpg_service_groups(const struct edpg_bpf *b, int sid, uint64_t *groups)
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

const struct edpg_gateway *edpg_gw_by_mac(const struct edpg_policy *p, const uint8_t mac[6])
{
	for (size_t i = 0; i < p->ngateways; i++)
		if (!memcmp(p->gateways[i].mac, mac, 6))
			return &p->gateways[i];
	return NULL;
}

const struct edpg_gateway *edpg_gw_lookup(const struct edpg_policy *p, const char *arg)
{
	int i = edpg_policy_find_gateway(p, arg);

	char msg[512];

	if (i == -ERANGE) {
		edpg_err(-EINVAL, "%s", edpg_mac_parse_msg(arg, i, msg, sizeof(msg)));
		return NULL;
	}
	if (i < 0) {
		edpg_err(-ENOENT, "no enrolled gateway '%s' (give its MAC, Device ID or name; see `edpgate gateway list`, `edpgate gateway pending`)",
			 arg);
		return NULL;
	}
	return &p->gateways[i];
}

static void names_of(char *buf, size_t len, uint64_t bits, size_t n, const char *(*name)(const struct edpg_policy *, size_t),
		     const struct edpg_policy *p)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 64 && off < len; i++) {
		if (!(bits & (1ULL << i)))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? "," : "",
				i < n ? name(p, i) : "?");
	}
}

static const char *svc_name(const struct edpg_policy *p, size_t i)
{
	return p->services[i].name;
}

static const char *group_name(const struct edpg_policy *p, size_t i)
{
	return p->groups[i].name;
}

void edpg_svc_names(const struct edpg_policy *p, uint32_t bits, char *buf, size_t len)
{
	names_of(buf, len, bits, p->nservices, svc_name, p);
}

void edpg_group_names(const struct edpg_policy *p, uint64_t bits, char *buf, size_t len)
{
	names_of(buf, len, bits, p->ngroups, group_name, p);
}
