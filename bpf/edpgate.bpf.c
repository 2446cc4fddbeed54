// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate.bpf.c - the XDP data path.
 *
 * Every frame a LAN host sends to the router is parsed once, then judged in
 * the order the reasons are listed in bpf/edpgate.h: malformed, arp, nd,
 * non_ip, unknown_mac, binding, fragment, protocol, port, service,
 * destination, allow.  The policy lives in pinned maps keyed by a
 * generation byte (see edpgate.h); counters are per-CPU and per gateway
 * slot so the hot path never takes a lock or bounces a cache line.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "edpgate.h"
#include "shared_maps.bpf.h"
#include "parse.bpf.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* How often (ns) a destination's last_used stamp is rewritten: a store on
 * every packet would bounce the shared hash entry between CPUs. */
const volatile __u64 last_used_granularity_ns = 1000000000ULL;

/*
 * dry_run: the instance answers a question (explain, replay) and must leave
 * no trace in shared state: no last_used stamps in the (shared) destination
 * maps, no events, no pending records.  Its own counters still count, which
 * is how the caller reads the reason.
 */
const volatile __u32 dry_run = 0;

/*
 * coarse_clock: the loader clears it on kernels without
 * bpf_ktime_get_coarse_ns() (before 5.11; docs/kernel-floor.md).  The
 * verifier reads the frozen value and never walks the other call, so the
 * program loads on either, and the branch costs nothing at run time.
 */
const volatile __u32 coarse_clock = 1;

static __always_inline __u64 edpg_now(void)
{
	return coarse_clock ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns();
}

/*
 * Mutants: deliberate bugs, compiled in only with -DEDPG_MUTANT_...
 * (BPF_EXTRA_CFLAGS), so that tests/bpf/test_mutants.sh can show the
 * differential test catches them.  The normal build has none of it.
 *   EDPG_MUTANT_EXACT_DROP: an exact destination hit whose groups do not
 *     match the service drops, instead of falling through to the prefixes.
 *   EDPG_MUTANT_LINK_LOCAL: the source-binding exemption covers fe80::/9
 *     instead of fe80::/10.
 */
#ifdef EDPG_MUTANT_LINK_LOCAL
#define EDPG_LINK_LOCAL_MASK	0xff800000
#else
#define EDPG_LINK_LOCAL_MASK	0xffc00000
#endif

/* Drop events: at most ev_burst at once, then one per ev_interval_ns, per
 * gateway (and once more for all unknown MACs together), per CPU. */
const volatile __u64 ev_interval_ns = 100000000ULL;
const volatile __u64 ev_burst = 10;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EDPG_NR_GENS);
	__type(key, __u32);
	__type(value, struct edpg_config);
} edpg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EDPG_GW_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} edpg_gw_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EDPG_NR_GENS * 2 * EDPG_NR_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} edpg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct edpg_svc);
} edpg_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_DST);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory for the addresses there are */
	__type(key, struct edpg_dst4_key);
	__type(value, struct edpg_dst);
} edpg_dst4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_DST);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory for the addresses there are */
	__type(key, struct edpg_dst6_key);
	__type(value, struct edpg_dst);
} edpg_dst6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_CIDR);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct edpg_cidr4_key);
	__type(value, struct edpg_cidr);
} edpg_cidr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, EDPG_NR_GENS * EDPG_MAX_CIDR);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct edpg_cidr6_key);
	__type(value, struct edpg_cidr);
} edpg_cidr6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDPG_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct edpg_gw_hot);
} edpg_gw_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDPG_R_MAX);
	__type(key, __u32);
	__type(value, struct edpg_global);
} edpg_global SEC(".maps");

/* One row per slot at most, so never full (edpgate.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, EDPG_MAX_GATEWAYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory for the gateways that drop */
	__type(key, __u32);
	__type(value, struct edpg_gw_cold);
} edpg_gw_cold SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct edpg_ev_bucket);
} edpg_ev_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EDPG_EV_RING_SIZE);
} edpg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDPG_MAX_PENDING);
	__type(key, __u32);
	__type(value, struct edpg_pending);
} edpg_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EDPG_MAX_LEARN);
	__type(key, struct edpg_learn_key);
	__type(value, struct edpg_learn);
} edpg_learn SEC(".maps");

/*
 * The data path's clock: CLOCK_MONOTONIC_COARSE (CLOCK_MONOTONIC where
 * the kernel lacks the coarse helper, edpg_now()), read through a per-CPU
 * cache keyed by jiffies.  The coarse clock moves only on a tick, so within
 * one jiffy its value is known; bpf_jiffies64() is inlined by the verifier
 * (one load) while the helper call costs more than a hash lookup on a
 * paravirtual machine.  Not pinned, not part of the ABI: each program
 * instance keeps its own.
 */
struct clock_cache {
	__u64 jiffies;
	__u64 ns;
	__u64 known;	/* ns is the clock's value for this jiffy */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} edpg_clock SEC(".maps");

static __always_inline __u64 clock_now(void)
{
	struct clock_cache *c;
	__u32 zero = 0;
	__u64 j, ns;

	c = bpf_map_lookup_elem(&edpg_clock, &zero);
	if (!c)
		return edpg_now();
	j = bpf_jiffies64();
	if (c->jiffies == j && c->known)
		return c->ns;
	ns = edpg_now();
	/*
	 * The tick bumps jiffies before it advances the clock (on the CPU
	 * that keeps time), so a value read in jiffy j may still be j - 1's.
	 * It is j's when it moved since a read in j, or since a read in
	 * j - 1 (one tick, one advance; wrong only if every read of j - 1
	 * and the first of j fell in that window of a few us).  After a gap
	 * of jiffies without a read the value is unknown and the clock is
	 * read again until it moves or the next jiffy comes: caching it
	 * once handed out a last_seen a tick older than a clock read made
	 * before the packet.
	 */
	c->known = (c->jiffies == j || c->jiffies + 1 == j) && ns != c->ns;
	c->jiffies = j;
	c->ns = ns;
	return ns;
}

/* What the parser learnt about a frame; judged after parsing is complete. */
struct pkt {
	void *data_end;
	__u8 *src_mac;
	__u16 proto;		/* EtherType after the VLAN tags, host order */
	__u16 vlan;		/* outer VLAN id, 0 = untagged */
	__u8 l4proto;
	__u8 nonfirst_frag;
	__u16 dport;
	void *l3;
};

/*
 * The verdict, counted under its reason.  @would: audited, so a drop is
 * counted as would_drop and the frame passes; the reason is the real one
 * either way, which is what makes audit a faithful rehearsal.
 */
static __always_inline int count(__u32 reason, int verdict, __u64 len, int would)
{
	struct edpg_global *g = bpf_map_lookup_elem(&edpg_global, &reason);

	if (g) {
		struct edpg_counter *c = verdict == EDPG_V_PASS ? &g->pass :
					 would ? &g->would_drop : &g->drop;

		c->packets++;
		c->bytes += len;
	}
	return verdict == EDPG_V_PASS || would ? XDP_PASS : XDP_DROP;
}

/* What a drop record or event needs to know about the frame. */
struct dinfo {
	__u8 *mac;
	void *l3;
	__u16 h_proto;
	__u16 vlan;
	__u16 sport;
	__u16 dport;
	__u8 l4proto;
	__u8 would;		/* audited: the drop is counted, the frame passed */
	__u32 slot;
	__u64 now;
};

/* Token bucket in ns of credit (see struct edpg_ev_bucket): no division. */
static __always_inline int ev_take(struct edpg_ev_bucket *b, __u64 now)
{
	__u64 cap = ev_burst * ev_interval_ns;
	__u64 credit = b->credit + (now - b->ts);

	if (credit > cap || now < b->ts)
		credit = cap;
	b->ts = now;
	if (credit < ev_interval_ns) {
		b->credit = credit;
		b->suppressed++;
		b->pending++;
		return 0;
	}
	b->credit = credit - ev_interval_ns;
	return 1;
}

/*
 * What `edpgate learn` reads: a gateway's refused (port, destination), for
 * the reasons the rules can change.  Called only when the bucket granted
 * an event, so its cost is bounded by the event limit.
 */
static __always_inline void learn_note(const struct dinfo *di, __u32 reason)
{
	struct edpg_learn_key k = {};
	struct edpg_learn *l, nl = {};

	if (di->slot == EDPG_EV_NO_SLOT || reason < EDPG_R_PORT || reason > EDPG_R_DESTINATION)
		return;
	__builtin_memcpy(k.mac, di->mac, 6);
	k.dport = di->dport;
	k.proto = di->l4proto;
	if (di->h_proto == ETH_P_IP) {
		struct iphdr *ip = di->l3;

		k.family = 4;
		__builtin_memcpy(k.daddr, &ip->daddr, 4);
	} else {
		struct ipv6hdr *ip6 = di->l3;

		k.family = 6;
		__builtin_memcpy(k.daddr, &ip6->daddr, 16);
	}
	l = bpf_map_lookup_elem(&edpg_learn, &k);
	if (l) {
		/* Shared between CPUs; a lost increment under a race is
		 * an attempt not counted, never a wrong entry. */
		l->last_seen = di->now;
		l->count++;
		l->reason = reason;
		l->would = di->would;
		return;
	}
	nl.first_seen = nl.last_seen = di->now;
	nl.count = 1;
	nl.reason = reason;
	nl.would = di->would;
	bpf_map_update_elem(&edpg_learn, &k, &nl, BPF_ANY);
}

static __always_inline void ev_emit(struct edpg_ev_bucket *b, const struct dinfo *di,
				    __u32 reason)
{
	struct edpg_event *e;

	if (!ev_take(b, di->now))
		return;
	learn_note(di, reason);
	e = bpf_ringbuf_reserve(&edpg_events, sizeof(*e), 0);
	if (!e) {
		/* The reader is behind: that is suppression too. */
		b->suppressed++;
		b->pending++;
		return;
	}
	e->ts = di->now;
	e->slot = di->slot;
	e->reason = reason;
	e->proto = di->l4proto;
	e->flags = di->would ? EDPG_EV_F_WOULD : 0;
	__builtin_memcpy(e->mac, di->mac, 6);
	e->vlan = di->vlan;
	e->sport = di->sport;
	e->dport = di->dport;
	e->suppressed = b->pending;
	b->pending = 0;
	if (di->h_proto == ETH_P_IP) {
		struct iphdr *ip = di->l3;

		e->family = 4;
		__builtin_memset(e->saddr, 0, 16);
		__builtin_memset(e->daddr, 0, 16);
		__builtin_memcpy(e->saddr, &ip->saddr, 4);
		__builtin_memcpy(e->daddr, &ip->daddr, 4);
	} else {
		struct ipv6hdr *ip6 = di->l3;

		e->family = 6;
		__builtin_memcpy(e->saddr, &ip6->saddr, 16);
		__builtin_memcpy(e->daddr, &ip6->daddr, 16);
	}
	bpf_ringbuf_submit(e, 0);
}

/* The zeros a gateway's cold row starts from: too large for the stack. */
static const struct edpg_gw_cold cold_zero;

/*
 * The gateway's cold row, allocated on its first drop (or first frame of
 * a service beyond EDPG_SVC_HOT): once per slot, then one lookup.  NULL
 * only when the kernel cannot allocate; the verdict stands regardless.
 */
static __always_inline struct edpg_gw_cold *cold_row(__u32 slot)
{
	struct edpg_gw_cold *c = bpf_map_lookup_elem(&edpg_gw_cold, &slot);

	if (c)
		return c;
	/* BPF_NOEXIST: another CPU may have just made it; either row is it. */
	bpf_map_update_elem(&edpg_gw_cold, &slot, &cold_zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&edpg_gw_cold, &slot);
}

/* The last drop per reason and the gateway's event: drop path only. */
static __always_inline void gw_note(struct edpg_gw_diag *dg, const struct dinfo *di,
				    __u32 reason)
{
	struct edpg_drop_rec *r;
	__u32 i = reason - EDPG_DIAG_FIRST;

	if (dry_run || i >= EDPG_DIAG_NR)
		return;
	r = &dg->last[i];
	r->ts = di->now;
	r->port = di->dport;
	r->proto = di->l4proto;
	r->vlan = di->vlan;
	r->would = di->would;
	if (di->h_proto == ETH_P_IP) {
		struct iphdr *ip = di->l3;

		r->family = 4;
		__builtin_memcpy(r->addr, reason == EDPG_R_BINDING ? &ip->saddr : &ip->daddr, 4);
	} else {
		struct ipv6hdr *ip6 = di->l3;

		r->family = 6;
		if (reason == EDPG_R_BINDING)
			__builtin_memcpy(r->addr, &ip6->saddr, 16);
		else
			__builtin_memcpy(r->addr, &ip6->daddr, 16);
	}
	ev_emit(&dg->ev, di, reason);
}

static __always_inline int gw_drop(const struct dinfo *di, __u32 reason, __u64 len)
{
	struct edpg_gw_cold *c = cold_row(di->slot);

	if (c && reason < EDPG_R_MAX) {
		if (di->would)
			c->would_drop[reason]++;
		else
			c->drops[reason]++;
		gw_note(&c->diag, di, reason);
	}
	return count(reason, EDPG_V_DROP, len, di->would);
}

/*
 * Whether @mac may be enrolled (edpg_gw_filter in edpgate.h): 0 proves it
 * is not, and the gateway hash need not be asked.  An array lookup the
 * verifier inlines; a missing word (never: the key is masked) means ask.
 */
static __always_inline int gw_maybe(const __u8 *mac)
{
	__u32 bit = edpg_gw_filter_bit(mac), w = bit >> 6;
	__u64 *word = bpf_map_lookup_elem(&edpg_gw_filter, &w);

	return !word || ((*word >> (bit & 63)) & 1);
}

/* Byte by byte: a memcmp call does not exist in BPF. */
static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) |
		 (a[3] ^ b[3]) | (a[4] ^ b[4]) | (a[5] ^ b[5]));
}

/*
 * An unknown MAC trying a Device Cloud or NTP port is a
 * gateway waiting to be enrolled: remember it.  The map is per-CPU, so a
 * flood from one MAC never bounces a cache line; userspace sums it.
 */
static __always_inline void unknown_note(struct dinfo *di, __u8 nonfirst)
{
	struct edpg_ev_bucket *b;
	__u32 zero = 0;

	if (dry_run)
		return;
	di->now = clock_now();
	/* The ports of the article, not of the rules (DNS or DHCP from any
	 * PC must not make it a pending gateway), and DNS from a Digi OUI
	 * (a Cloud Connector resolves the cloud name first; see edpgate.h). */
	if (!nonfirst && ((di->l4proto == IPPROTO_TCP && (di->dport == EDPG_PORT_EDP_TLS ||
							  di->dport == EDPG_PORT_EDP)) ||
			  (di->l4proto == IPPROTO_UDP && di->dport == EDPG_PORT_NTP) ||
			  (di->dport == EDPG_PORT_DNS && edpg_mac_is_digi(di->mac) &&
			   (di->l4proto == IPPROTO_UDP || di->l4proto == IPPROTO_TCP)))) {
		__u32 k = edpg_pending_slot(di->mac);
		struct edpg_pending *p = bpf_map_lookup_elem(&edpg_pending, &k);

		if (p) {
			/* This CPU's copy: no other writer.  Another MAC's
			 * slot (or an empty one) is taken over. */
			if (!p->packets || !mac_eq(p->mac, di->mac)) {
				__builtin_memcpy(p->mac, di->mac, 6);
				p->first_seen = di->now;
				p->packets = 0;
			}
			p->last_seen = di->now;
			p->packets++;
			p->last_port = di->dport;
			p->last_proto = di->l4proto;
			p->vlan = di->vlan;
		}
	}
	b = bpf_map_lookup_elem(&edpg_ev_global, &zero);
	if (b)
		ev_emit(b, di, EDPG_R_UNKNOWN_MAC);
}

/* Walk IPv6 extension headers (at most EDPG_MAX_IPV6_EXTHDR of them, each
 * within the packet's payload length); returns the L4 protocol, the
 * offset of its header and whether this is a non-first fragment, or -1
 * when a header is truncated or the chain is too long. */
static __always_inline int ipv6_walk(void *data_end, void *l3_end, struct ipv6hdr *ip6,
				     __u8 *l4proto, void **l4, __u8 *nonfirst)
{
	__u8 nh = ip6->nexthdr;
	__u8 *p = (__u8 *)(ip6 + 1);
	int i;

#pragma unroll
	for (i = 0; i < EDPG_MAX_IPV6_EXTHDR; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			__u32 hlen;

			if (p + 2 > (__u8 *)data_end)
				return -1;
			hlen = (p[1] + 1) * 8;
			if ((void *)p + hlen > l3_end)
				return -1;
			nh = p[0];
			p += hlen;
		} else if (nh == IPPROTO_FRAGMENT) {
			if (p + 8 > (__u8 *)data_end || (void *)(p + 8) > l3_end)
				return -1;
			nh = p[0];
			/* offset is the upper 13 bits of bytes 2-3 */
			if ((((__u16)p[2] << 8 | p[3]) & 0xfff8) != 0)
				*nonfirst = 1;
			p += 8;
		} else {
			break;
		}
	}
	/* Still an extension header after the bound: refuse to guess. */
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	    nh == IPPROTO_FRAGMENT)
		return -1;
	*l4proto = nh;
	*l4 = p;
	return 0;
}

static __always_inline int parse_ipv4(struct hdrs *h, void *data_end)
{
	struct iphdr *ip = h->l3;
	__u32 hlen;

	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
		return -1;
	hlen = ip->ihl * 4;
	if (bpf_ntohs(ip->tot_len) < hlen || (void *)ip + bpf_ntohs(ip->tot_len) > data_end)
		return -1;
	h->l3_end = (void *)ip + bpf_ntohs(ip->tot_len);
	h->l4proto = ip->protocol;
	if (ip->frag_off & bpf_htons(0x1fff))
		h->nonfirst = 1;
	h->l4 = (void *)ip + hlen;
	return 0;
}

static __always_inline int parse_ipv6(struct hdrs *h, void *data_end)
{
	struct ipv6hdr *ip6 = h->l3;

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6 ||
	    (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > data_end)
		return -1;
	h->l3_end = (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len);
	return ipv6_walk(data_end, h->l3_end, ip6, &h->l4proto, &h->l4, &h->nonfirst);
}

/*
 * L4 headers of first fragments only: later ones carry none.  Each header
 * must fit in the IP packet, not just in the frame: bytes after the IP
 * length are link padding, not a header.  -1 when malformed, 1 for
 * neighbour discovery (passed), 0 otherwise.
 */
static __always_inline int parse_l4(struct hdrs *h, void *data_end)
{
	if (h->nonfirst)
		return 0;
	if (h->l4proto == IPPROTO_TCP) {
		struct tcphdr *th = h->l4;

		if ((void *)(th + 1) > data_end || th->doff < 5 ||
		    (void *)th + th->doff * 4 > h->l3_end)
			return -1;
		h->dport = bpf_ntohs(th->dest);
		h->sport = bpf_ntohs(th->source);
	} else if (h->l4proto == IPPROTO_UDP) {
		struct udphdr *uh = h->l4;

		if ((void *)(uh + 1) > data_end || (void *)(uh + 1) > h->l3_end)
			return -1;
		h->dport = bpf_ntohs(uh->dest);
		h->sport = bpf_ntohs(uh->source);
	} else if (h->l4proto == IPPROTO_ICMPV6 && h->h_proto == ETH_P_IPV6) {
		__u8 *icmp = h->l4;

		if ((void *)(icmp + 4) > data_end || (void *)(icmp + 4) > h->l3_end)
			return -1;
		/* Router/neighbour solicitation, advertisement and
		 * redirect: without them IPv6 does not work at all. */
		if (icmp[0] >= 133 && icmp[0] <= 137)
			return 1;
	}
	return 0;
}

/* Whether the frame breaks the gateway's VLAN or source-address binding. */
static __always_inline int binding_broken(const struct edpg_gw *gw, const struct hdrs *h)
{
	if ((gw->flags & EDPG_GW_BIND_VLAN) && gw->vlan != h->vlan)
		return 1;
	if (h->h_proto == ETH_P_IP) {
		struct iphdr *ip = h->l3;

		/* 0.0.0.0 is a DHCP client without a lease, not a spoof. */
		return (gw->flags & EDPG_GW_BIND_V4) && ip->saddr != 0 &&
		       ip->saddr != *(__u32 *)gw->ip4;
	} else {
		struct ipv6hdr *ip6 = h->l3;
		__u32 *s = ip6->saddr.in6_u.u6_addr32;
		__u32 *b = (__u32 *)gw->ip6;

		/* :: (DAD) and fe80::/10 (link-local) cannot be routed on,
		 * so they are no spoofing risk for routed flows. */
		return (gw->flags & EDPG_GW_BIND_V6) &&
		       !(s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0) &&
		       (bpf_ntohl(s[0]) & EDPG_LINK_LOCAL_MASK) != 0xfe800000 &&
		       (s[0] != b[0] || s[1] != b[1] || s[2] != b[2] || s[3] != b[3]);
	}
}

/* An exact address of the live generation reachable by @groups; its use is stamped. */
static __always_inline int exact_hit(struct edpg_dst *d, __u64 groups, __u64 now)
{
	if (!d || !(d->groups & groups))
		return 0;
	if (!dry_run && now - d->last_used >= last_used_granularity_ns)
		d->last_used = now;
	return 1;
}

/* Destination: exact addresses first, then static prefixes (when the
 * generation has any of that family: EDPG_F_NO_CIDR4/6). */
static __always_inline int dst_allowed(const struct hdrs *h, __u32 gen, __u64 groups, __u64 now,
				       __u32 flags)
{
	struct edpg_cidr *c;
	struct edpg_dst *d;

	if (h->h_proto == ETH_P_IP) {
		struct iphdr *ip = h->l3;
		struct edpg_dst4_key k = { .gen = gen };
		struct edpg_cidr4_key ck = { .prefixlen = 8 + 32, .gen = gen };

		__builtin_memcpy(k.addr, &ip->daddr, 4);
		d = bpf_map_lookup_elem(&edpg_dst4, &k);
		if (exact_hit(d, groups, now))
			return 1;
#ifdef EDPG_MUTANT_EXACT_DROP
		if (d)
			return 0;
#endif
		if (flags & EDPG_F_NO_CIDR4)
			return 0;
		__builtin_memcpy(ck.addr, &ip->daddr, 4);
		c = bpf_map_lookup_elem(&edpg_cidr4, &ck);
	} else {
		struct ipv6hdr *ip6 = h->l3;
		struct edpg_dst6_key k = { .gen = gen };
		struct edpg_cidr6_key ck = { .prefixlen = 8 + 128, .gen = gen };

		__builtin_memcpy(k.addr, &ip6->daddr, 16);
		d = bpf_map_lookup_elem(&edpg_dst6, &k);
		if (exact_hit(d, groups, now))
			return 1;
#ifdef EDPG_MUTANT_EXACT_DROP
		if (d)
			return 0;
#endif
		if (flags & EDPG_F_NO_CIDR6)
			return 0;
		__builtin_memcpy(ck.addr, &ip6->daddr, 16);
		c = bpf_map_lookup_elem(&edpg_cidr6, &ck);
	}
	return c && (c->groups & groups);
}

SEC("xdp")
int edpgate_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	struct edpg_gw_hot *st = NULL;
	struct hdrs h = {};
	struct edpg_config *cfg;
	struct edpg_ctl *ctl;
	struct edpg_gw_key gk;
	struct edpg_gw *gw;
	struct edpg_svc *svc;
	struct dinfo di;
	__u32 zero = 0, gen, idx, sid, *sp;
	__u64 now;
	int r;

#ifdef EDPG_BUILD_TAG
	/* A build that differs from the tree's in code alone (its program
	 * tag), for tests/e2e/test_upgrade.sh; r0 is set again below. */
	asm volatile("r0 = %[t]" : : [t] "i"(EDPG_BUILD_TAG) : "r0");
#endif
	ctl = bpf_map_lookup_elem(&edpg_ctl, &zero);
	if (!ctl)
		return XDP_ABORTED;
	gen = ctl->gen & 1;
	cfg = bpf_map_lookup_elem(&edpg_config, &gen);
	if (!cfg)
		return XDP_ABORTED;

	/* Audit of the whole interface set; one gateway can be audited too
	 * (EDPG_GW_AUDIT), which only its own verdicts can know. */
	di.would = !!(cfg->flags & EDPG_F_AUDIT);

	/* ---- parse: any truncated or invalid header is `malformed` ---- */
	if (parse_eth(&h, eth, data_end))
		return count(EDPG_R_MALFORMED, EDPG_V_DROP, len, di.would);
	if (h.h_proto == ETH_P_IP)
		r = parse_ipv4(&h, data_end);
	else if (h.h_proto == ETH_P_IPV6)
		r = parse_ipv6(&h, data_end);
	else if (h.h_proto == ETH_P_ARP)
		return count(EDPG_R_ARP, EDPG_V_PASS, len, 0);
	else
		return count(EDPG_R_NON_IP, cfg->flags & EDPG_F_NON_IP_PASS ?
			     EDPG_V_PASS : EDPG_V_DROP, len, di.would);
	r = r ?: parse_l4(&h, data_end);
	if (r < 0)
		return count(EDPG_R_MALFORMED, EDPG_V_DROP, len, di.would);
	if (r > 0)
		return count(EDPG_R_ND, EDPG_V_PASS, len, 0);

	/* ---- who is it ---- */
	__builtin_memcpy(gk.mac, eth->h_source, 6);
	gk.gen = gen;
	gk.pad = 0;
	gw = gw_maybe(eth->h_source) ? bpf_map_lookup_elem(&edpg_gateways, &gk) : NULL;
	di.mac = eth->h_source;
	di.l3 = h.l3;
	di.h_proto = h.h_proto;
	di.vlan = h.vlan;
	di.sport = h.sport;
	di.dport = h.dport;
	di.l4proto = h.l4proto;
	di.slot = EDPG_EV_NO_SLOT;
	di.now = 0;
	if (!gw) {
		if (cfg->flags & EDPG_F_UNKNOWN_MAC_PASS)
			return count(EDPG_R_UNKNOWN_MAC, EDPG_V_PASS, len, 0);
		unknown_note(&di, h.nonfirst);
		return count(EDPG_R_UNKNOWN_MAC, EDPG_V_DROP, len, di.would);
	}
	di.would |= !!(gw->flags & EDPG_GW_AUDIT);
	/*
	 * One clock read per packet, and the coarse clock through the
	 * per-jiffy cache (clock_now): a tick of resolution is plenty for
	 * "last seen" and grace periods.
	 */
	now = clock_now();
	idx = gw->slot;
	di.slot = idx;
	di.now = now;
	st = bpf_map_lookup_elem(&edpg_gw_stats, &idx);
	if (st)
		st->last_seen = now;

	/* ---- anti-spoofing, then what kind of packet ---- */
	if (binding_broken(gw, &h))
		return gw_drop(&di, EDPG_R_BINDING, len);
	if (h.nonfirst)
		return gw_drop(&di, EDPG_R_FRAGMENT, len);
	if (h.l4proto != IPPROTO_TCP && h.l4proto != IPPROTO_UDP)
		return gw_drop(&di, EDPG_R_PROTOCOL, len);

	/* ---- (protocol, port) -> service ---- */
	idx = edpg_port_index(gen, h.l4proto == IPPROTO_TCP ? EDPG_PROTO_TCP : EDPG_PROTO_UDP,
			      h.dport);
	sp = bpf_map_lookup_elem(&edpg_ports, &idx);
	if (!sp || *sp == 0 || *sp > EDPG_MAX_SERVICES)
		return gw_drop(&di, EDPG_R_PORT, len);
	/* The mask, not the compare above, is what the verifier can use:
	 * clang folds the compare away. */
	sid = (*sp - 1) & (EDPG_MAX_SERVICES - 1);
	if (!(gw->services & (1U << sid)))
		return gw_drop(&di, EDPG_R_SERVICE, len);
	idx = gen * EDPG_MAX_SERVICES + sid;
	svc = bpf_map_lookup_elem(&edpg_services, &idx);
	if (!svc || !dst_allowed(&h, gen, svc->groups, now, cfg->flags))
		return gw_drop(&di, EDPG_R_DESTINATION, len);

	if (sid < EDPG_SVC_HOT) {
		if (st) {
			st->svc[sid].packets++;
			st->svc[sid].bytes += len;
		}
	} else {
		struct edpg_gw_cold *c = cold_row(di.slot);

		if (c) {
			sid = (sid - EDPG_SVC_HOT) & (EDPG_MAX_SERVICES - 1);
			if (sid < EDPG_MAX_SERVICES - EDPG_SVC_HOT) {
				c->svc[sid].packets++;
				c->svc[sid].bytes += len;
			}
		}
	}
	return count(EDPG_R_ALLOW, EDPG_V_PASS, len, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
