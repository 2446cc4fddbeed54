// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Differential test: generated frames through the real XDP program
 * (BPF_PROG_TEST_RUN on a private instance filled the way `apply` fills
 * the live one: rules text -> parser -> compile -> maps) and through the
 * reference model (model.c), which must agree on verdict and reason for
 * every frame.
 *
 * One policy with gateways bound to addresses and VLANs, services with
 * port ranges, a service no rule allows, exact addresses, prefixes nested
 * across groups and an address in two groups, run twice: with unknown-mac
 * and non-ip dropped, then passed.  Frames: valid ones built from the
 * policy (VLAN stacks of 0-3 tags, IPv4 options and fragments, IPv6
 * extension chains, TCP/UDP/ICMP, padding), each of the first ones cut at
 * every length, mutations of valid ones (random bytes, then every header
 * field in turn: lengths, versions, next headers, offsets, ports), and
 * random bytes.
 *
 *   test_model [--frames N] [--seed S]   (seed printed)
 *
 * make test runs the default 200,000 frames (about 10 s); make fuzz runs
 * MODEL_FRAMES (2,000,000) with a new seed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "bpfmaps.h"
#include "compile.h"
#include "diag.h"
#include "edpgate.h"
#include "model.h"
#include "rules.h"

#define MAXF 600

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int percent)
{
	return below(100) < (uint32_t)percent;
}

/* ---- the policy, as the model sees it and as rules text ------------- */

static struct model_policy pol;

static void addr4(uint8_t *a, const char *s)
{
	inet_pton(AF_INET, s, a);
}

static void addr6(uint8_t *a, const char *s)
{
	inet_pton(AF_INET6, s, a);
}

static void net(int family, const char *s, int plen, int group)
{
	struct model_net *n = &pol.nets[pol.nnets++];

	n->family = family;
	if (family == 4)
		addr4(n->addr, s);
	else
		addr6(n->addr, s);
	n->plen = plen;
	n->group = group;
	if ((size_t)group + 1 > pol.ngroups)
		pol.ngroups = group + 1;
}

static void svc(const char *name, int proto, int lo, int hi, uint64_t groups)
{
	pol.svcs[pol.nsvcs++] = (struct model_svc){ name, proto, lo, hi, groups };
}

static struct model_gw *gw(uint8_t last, uint32_t services)
{
	struct model_gw *g = &pol.gws[pol.ngws++];

	memcpy(g->mac, (uint8_t[]){ 0x00, 0x40, 0x9d, 0x00, 0x00, last }, 6);
	g->services = services;
	return g;
}

static void build_policy(void)
{
	struct model_gw *g;

	/* groups: 0 cloud, 1 ntp, 2 dns, 3 web */
	net(4, "192.0.2.10", 32, 0);
	net(4, "192.0.2.11", 32, 0);
	net(4, "198.51.100.0", 24, 0);
	net(6, "2001:db8::10", 128, 0);
	net(6, "2001:db8:100::", 40, 0);
	net(4, "198.51.100.128", 25, 1);	/* nested in group 0's /24 */
	net(4, "203.0.113.5", 32, 1);
	net(6, "2001:db8:100:8000::", 49, 1);	/* nested in group 0's /40 */
	net(6, "2001:db8::123", 128, 1);
	net(4, "10.0.0.1", 32, 2);
	net(4, "10.0.0.0", 8, 2);
	net(6, "fd00::1", 128, 2);
	net(4, "192.0.2.10", 32, 3);		/* also in group 0 */
	net(4, "203.0.113.0", 28, 3);		/* holds group 1's .5 */
	net(6, "2001:db8::10", 128, 3);

	svc("edp-ssl", 6, 3199, 3199, 1 << 0);
	svc("edp", 6, 3197, 3197, 1 << 0);
	svc("ntp", 17, 123, 123, 1 << 1 | 1 << 0);
	svc("dns", 17, 53, 53, 1 << 2);
	svc("web", 6, 8000, 8100, 1 << 3 | 1 << 1);
	svc("orphan", 17, 9999, 9999, 0);	/* no allow rule */

	gw(1, 1 << 0 | 1 << 2);
	g = gw(2, 0x3f);
	g->bind4 = true;
	addr4(g->ip4, "10.1.0.20");
	g = gw(3, 1 << 0);
	g->bind6 = true;
	addr6(g->ip6, "2001:db8:99::2");
	g->bindvlan = true;
	g->vlan = 42;
	gw(4, 0);
	g = gw(5, 1 << 2 | 1 << 3 | 1 << 4);
	g->bindvlan = true;
	g->vlan = 7;
	g = gw(6, 0x3f);
	g->bind4 = g->bind6 = true;
	addr4(g->ip4, "10.1.0.25");
	addr6(g->ip6, "fd00::25");
}

static void rules_text(char *out, size_t len, char *gws, size_t glen)
{
	char a[INET6_ADDRSTRLEN];
	size_t o = 0, go = 0;

	for (size_t i = 0; i < pol.nsvcs; i++) {
		const struct model_svc *s = &pol.svcs[i];

		o += snprintf(out + o, len - o, "service %s %s %u", s->name, s->proto == 6 ? "tcp" : "udp",
			      s->lo);
		o += s->hi != s->lo ? snprintf(out + o, len - o, "-%u\n", s->hi) :
			snprintf(out + o, len - o, "\n");
	}
	for (size_t g = 0; g < pol.ngroups; g++) {
		o += snprintf(out + o, len - o, "group g%zu", g);
		for (size_t i = 0; i < pol.nnets; i++) {
			const struct model_net *n = &pol.nets[i];

			if ((size_t)n->group != g)
				continue;
			inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, a, sizeof(a));
			o += snprintf(out + o, len - o, " %s", a);
			if (n->plen != (n->family == 4 ? 32 : 128))
				o += snprintf(out + o, len - o, "/%d", n->plen);
		}
		o += snprintf(out + o, len - o, "\n");
	}
	for (size_t i = 0; i < pol.nsvcs; i++) {
		if (!pol.svcs[i].groups)
			continue;
		o += snprintf(out + o, len - o, "allow %s to", pol.svcs[i].name);
		for (size_t g = 0, first = 1; g < pol.ngroups; g++)
			if (pol.svcs[i].groups >> g & 1) {
				o += snprintf(out + o, len - o, "%sg%zu", first ? " " : ",", g);
				first = 0;
			}
		o += snprintf(out + o, len - o, "\n");
	}
	o += snprintf(out + o, len - o, "unknown-mac %s\nnon-ip %s\n",
		      pol.unknown_mac_pass ? "pass" : "drop", pol.non_ip_pass ? "pass" : "drop");

	for (size_t i = 0; i < pol.ngws; i++) {
		const struct model_gw *g = &pol.gws[i];
		bool any = false;

		go += snprintf(gws + go, glen - go, "gateway %02x:%02x:%02x:%02x:%02x:%02x services",
			       g->mac[0], g->mac[1], g->mac[2], g->mac[3], g->mac[4], g->mac[5]);
		for (size_t s = 0; s < pol.nsvcs; s++)
			if (g->services >> s & 1) {
				go += snprintf(gws + go, glen - go, "%s%s", any ? "," : " ", pol.svcs[s].name);
				any = true;
			}
		if (!any)
			go += snprintf(gws + go, glen - go, " none");
		if (g->bind4)
			go += snprintf(gws + go, glen - go, " ip %s", inet_ntop(AF_INET, g->ip4, a, sizeof(a)));
		if (g->bind6)
			go += snprintf(gws + go, glen - go, " ip %s", inet_ntop(AF_INET6, g->ip6, a, sizeof(a)));
		if (g->bindvlan)
			go += snprintf(gws + go, glen - go, " vlan %u", g->vlan);
		go += snprintf(gws + go, glen - go, "\n");
	}
}

/* Parse, compile and push the policy into the private instance. */
static int load_policy(struct edpg_bpf *b)
{
	static char rules[8192], gws[4096];
	struct edpg_diags dg = { 0 };
	struct edpg_desired *d;
	struct edpg_policy p;
	char line[512];
	int err;

	rules_text(rules, sizeof(rules), gws, sizeof(gws));
	err = edpg_rules_parse(&p, "model.rules", rules, strlen(rules), &dg);
	err = err ?: edpg_gateways_parse(&p, "model.gateways", gws, strlen(gws), &dg);
	for (size_t i = 0; i < dg.n; i++) {
		edpg_diags_format(&dg.v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	edpg_diags_free(&dg);
	if (err) {
		fprintf(stderr, "the policy text does not parse:\n%s%s", rules, gws);
		return err;
	}
	d = calloc(1, sizeof(*d));
	err = d ? edpg_compile(&p, NULL, 0, NULL, 0, d) : -ENOMEM;
	err = err ?: edpg_bpf_apply(b, d);
	if (d)
		edpg_desired_free(d);
	free(d);
	edpg_policy_free(&p);
	return err;
}

/* ---- frames ---------------------------------------------------------- */

struct frame {
	uint8_t b[MAXF];
	size_t len;
	/* where the headers are, for field mutations (0 = none) */
	size_t l3, l4, ext;
	int family, proto;
};

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd();
}

static void pick_mac(uint8_t *mac)
{
	uint32_t c = below(10);

	memcpy(mac, pol.gws[below(pol.ngws)].mac, 6);
	if (c == 7)
		mac[5] ^= 1 << below(8);	/* a near miss */
	else if (c == 8)
		mac[5] = 0x80 + below(100);	/* another Digi */
	else if (c == 9)
		fill(mac, 6);
}

static const char *const dst4[] = {
	"192.0.2.10", "192.0.2.11", "192.0.2.12", "198.51.100.1", "198.51.100.127", "198.51.100.128",
	"198.51.100.255", "198.51.101.0", "203.0.113.5", "203.0.113.6", "203.0.113.15",
	"203.0.113.16", "10.0.0.1", "10.200.3.4", "11.0.0.0", "9.255.255.255", "8.8.8.8",
};
static const char *const dst6[] = {
	"2001:db8::10", "2001:db8::11", "2001:db8::123", "2001:db8:100::1", "2001:db8:100:7fff::1",
	"2001:db8:100:8000::1", "2001:db8:100:ffff::1", "2001:db8:101::1", "fd00::1", "fd00::2",
	"2001:db8:99::2", "ff02::1",
};
static const char *const src4[] = { "10.1.0.20", "10.1.0.25", "10.1.0.21", "0.0.0.0", "192.0.2.10" };
static const char *const src6[] = {
	"2001:db8:99::2", "fd00::25", "fd00::26", "::", "fe80::1", "febf::1", "fec0::1", "2001:db8:99::3",
};
static const unsigned int ports[] = {
	3199, 3197, 3198, 123, 124, 53, 8000, 8050, 8100, 7999, 8101, 9999, 0, 65535, 443,
};

static void build_l4(struct frame *fr, size_t at, int proto, int family)
{
	size_t n;

	fr->l4 = at;
	fr->proto = proto;
	if (proto == 6) {
		int opt = chance(20) ? 4 * (1 + below(3)) : 0;

		fill(fr->b + at, 20 + opt);
		fr->b[at + 12] = (uint8_t)((5 + opt / 4) << 4);
		n = 20 + opt;
	} else if (proto == 17) {
		fill(fr->b + at, 8);
		n = 8;
	} else if (proto == 58 || proto == 1) {
		static const uint8_t types[] = { 128, 129, 133, 134, 135, 136, 137, 138, 1, 3 };

		fill(fr->b + at, 8);
		fr->b[at] = family == 6 && chance(70) ? types[below(sizeof(types))] : rnd();
		n = 8;
	} else {
		fill(fr->b + at, 8);
		n = 8;
	}
	if (proto == 6 || proto == 17)
		put16(fr->b + at + 2, chance(85) ? ports[below(sizeof(ports) / sizeof(ports[0]))] :
			      below(65536));
	n += below(3) ? 0 : below(40);	/* payload */
	fill(fr->b + at + (proto == 6 ? (fr->b[at + 12] >> 4) * 4 : 8), n - (proto == 6 ?
		(fr->b[at + 12] >> 4) * 4 : 8));
	fr->len = at + n;
}

static int pick_proto(int family)
{
	uint32_t c = below(100);

	if (c < 44)
		return 6;
	if (c < 88)
		return 17;
	if (c < 95)
		return family == 6 ? 58 : 1;
	return rnd() & 0xff;
}

/* A frame the policy has an opinion about: it parses, mostly. */
static void build_valid(struct frame *fr)
{
	size_t o = 14, l3;
	int tags = below(100) < 60 ? 0 : below(100) < 62 ? 1 : below(100) < 80 ? 2 : 3;
	uint32_t kind = below(100);

	memset(fr, 0, sizeof(*fr));
	fill(fr->b, 6);
	pick_mac(fr->b + 6);
	for (int t = 0; t < tags; t++) {
		unsigned int vid = chance(50) ? (chance(50) ? 42 : 7) : below(4096);

		put16(fr->b + o - 2, chance(70) ? 0x8100 : 0x88a8);
		put16(fr->b + o, (below(8) << 13) | vid);
		o += 4;
	}
	l3 = o;
	fr->l3 = l3;
	if (kind < 58) {
		int ihl = chance(80) ? 5 : 5 + below(4), proto = pick_proto(4);
		size_t tot;

		fr->family = 4;
		put16(fr->b + o - 2, 0x0800);
		fill(fr->b + l3, ihl * 4);
		fr->b[l3] = (uint8_t)(0x40 | ihl);
		fr->b[l3 + 9] = proto;
		put16(fr->b + l3 + 6, chance(90) ? (chance(50) ? 0x4000 : 0) : chance(50) ? 0x2000 :
			      below(0x2000) | (rnd() & 0xe000));
		inet_pton(AF_INET, src4[below(sizeof(src4) / sizeof(src4[0]))], fr->b + l3 + 12);
		if (chance(10))
			fill(fr->b + l3 + 12, 4);
		inet_pton(AF_INET, dst4[below(sizeof(dst4) / sizeof(dst4[0]))], fr->b + l3 + 16);
		build_l4(fr, l3 + ihl * 4, proto, 4);
		tot = fr->len - l3;
		put16(fr->b + l3 + 2, tot);
	} else if (kind < 92) {
		int next = pick_proto(6), n = chance(65) ? 0 : 1 + below(7);
		size_t at = l3 + 40;
		uint8_t *prev;

		fr->family = 6;
		put16(fr->b + o - 2, 0x86dd);
		fill(fr->b + l3, 40);
		fr->b[l3] = 0x60 | (fr->b[l3] & 0x0f);
		inet_pton(AF_INET6, src6[below(sizeof(src6) / sizeof(src6[0]))], fr->b + l3 + 8);
		inet_pton(AF_INET6, dst6[below(sizeof(dst6) / sizeof(dst6[0]))], fr->b + l3 + 24);
		prev = fr->b + l3 + 6;
		if (n)
			fr->ext = at;
		for (int i = 0; i < n; i++) {
			static const uint8_t ext[] = { 0, 43, 60, 44 };
			uint8_t t = ext[below(4)];

			*prev = t;
			fill(fr->b + at, 8);
			if (t == 44) {
				/* mostly first fragments, some later ones */
				put16(fr->b + at + 2, chance(75) ? (rnd() & 1) : (1 + below(8000)) << 3);
				fr->b[at + 1] = 0;
				prev = fr->b + at;
				at += 8;
			} else {
				int hl = chance(80) ? 0 : below(3);

				fill(fr->b + at, (hl + 1) * 8);
				fr->b[at + 1] = hl;
				prev = fr->b + at;
				at += (hl + 1) * 8;
			}
		}
		*prev = next;
		build_l4(fr, at, next, 6);
		put16(fr->b + l3 + 4, fr->len - l3 - 40);
	} else if (kind < 96) {
		fr->family = 0;
		put16(fr->b + o - 2, 0x0806);
		fill(fr->b + o, 28);
		fr->len = o + 28;
	} else {
		static const unsigned int types[] = { 0x88cc, 0x8863, 0x0805, 0x9000, 0x0600 };

		put16(fr->b + o - 2, chance(70) ? types[below(5)] : rnd() & 0xffff);
		fill(fr->b + o, 46);
		fr->len = o + 46;
	}
	/* link padding past the IP length */
	if (chance(15)) {
		size_t pad = 1 + below(20);

		fill(fr->b + fr->len, pad);
		fr->len += pad;
	}
}

/* One header field of @fr set to a value chosen to hurt. */
static void mutate_field(struct frame *fr)
{
	static const unsigned int v16[] = { 0, 1, 7, 8, 19, 20, 39, 40, 41, 0xffff, 0x8000, 0x7fff };
	uint32_t c = below(12);
	uint8_t *b = fr->b;

	switch (c) {
	case 0:	/* the ethertype or a VLAN's inner type */
		put16(b + 12 + 4 * below(3), (const unsigned int[]){ 0x8100, 0x88a8, 0x0800, 0x86dd,
								     0x0806, rnd() & 0xffff }[below(6)]);
		break;
	case 1:
		if (fr->family == 4)
			b[fr->l3] = (uint8_t)(below(16) << 4 | below(16));	/* version, ihl */
		else if (fr->family == 6)
			b[fr->l3] = (uint8_t)(below(16) << 4);
		break;
	case 2:	/* IPv4 total length / IPv6 payload length */
		if (fr->family)
			put16(b + fr->l3 + (fr->family == 4 ? 2 : 4),
			      chance(50) ? v16[below(12)] : (fr->len - fr->l3) + below(9) - 4);
		break;
	case 3:	/* protocol / next header */
		if (fr->family)
			b[fr->l3 + (fr->family == 4 ? 9 : 6)] =
				(const uint8_t[]){ 0, 6, 17, 43, 44, 58, 60, 1, 59 }[below(9)];
		break;
	case 4:	/* fragment fields */
		if (fr->family == 4)
			put16(b + fr->l3 + 6, rnd());
		else if (fr->ext)
			put16(b + fr->ext + 2, rnd());
		break;
	case 5:	/* an extension header's length or next header */
		if (fr->ext)
			b[fr->ext + below(2)] = chance(50) ? rnd() : below(4);
		break;
	case 6:	/* TCP data offset */
		if (fr->l4 && fr->proto == 6)
			b[fr->l4 + 12] = (uint8_t)(below(16) << 4);
		break;
	case 7:	/* destination port */
		if (fr->l4)
			put16(b + fr->l4 + 2, ports[below(sizeof(ports) / sizeof(ports[0]))]);
		break;
	case 8:	/* source address */
		if (fr->family == 4)
			inet_pton(AF_INET, src4[below(sizeof(src4) / sizeof(src4[0]))], b + fr->l3 + 12);
		else if (fr->family == 6)
			inet_pton(AF_INET6, src6[below(sizeof(src6) / sizeof(src6[0]))], b + fr->l3 + 8);
		break;
	case 9:	/* destination address */
		if (fr->family == 4)
			inet_pton(AF_INET, dst4[below(sizeof(dst4) / sizeof(dst4[0]))], b + fr->l3 + 16);
		else if (fr->family == 6)
			inet_pton(AF_INET6, dst6[below(sizeof(dst6) / sizeof(dst6[0]))], b + fr->l3 + 24);
		break;
	case 10:	/* the source MAC */
		pick_mac(b + 6);
		break;
	default:	/* ICMPv6 type */
		if (fr->l4)
			b[fr->l4] = 128 + below(12);
		break;
	}
}

static void mutate(struct frame *fr)
{
	uint32_t c = below(10);

	if (c < 4) {
		for (uint32_t n = 1 + below(3); n; n--)
			fr->b[below(fr->len)] = rnd();
	} else if (c < 8) {
		for (uint32_t n = 1 + below(2); n; n--)
			mutate_field(fr);
	} else if (c < 9) {
		fr->len = below(fr->len + 1);
	} else {
		size_t more = 1 + below(40);

		if (fr->len + more <= MAXF) {
			fill(fr->b + fr->len, more);
			fr->len += more;
		}
	}
}

/* ---- the comparison -------------------------------------------------- */

static void hexdump(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x%s", b[i], i % 16 == 15 || i + 1 == len ? "\n" : " ");
}

struct run {
	struct edpg_bpf b;
	struct edpg_global snap[EDPG_R_MAX];
	uint64_t n, per_reason[EDPG_R_MAX], disagree;
};

static int judge(struct run *r, const uint8_t *f, size_t len, const char *what)
{
	struct model_result m = model_decide(&pol, f, len);
	struct edpg_outcome o;
	int err;

	err = edpg_verdict_run(&r->b, r->snap, f, len, &o);
	if (err) {
		fprintf(stderr, "test run failed: %s\n", strerror(-err));
		return err;
	}
	r->n++;
	r->per_reason[o.reason]++;
	if ((o.verdict == EDPG_V_PASS) != m.pass || o.reason != m.reason) {
		if (r->disagree++ < 5) {
			fprintf(stderr, "DISAGREE (%s frame, %zu bytes): program %s/%s, model %s/%s\n", what,
				len, o.verdict == EDPG_V_PASS ? "pass" : "drop", edpg_reason_names[o.reason],
				m.pass ? "pass" : "drop", edpg_reason_names[m.reason]);
			hexdump(f, len);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{}
	};
	uint64_t frames = 200000, seed = (uint64_t)time(NULL);
	struct edpg_load_opts lo = { .max_gateways = 64, .max_dst = 256 };
	struct run r = {};
	struct timespec t0, t1;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			frames = strtoull(optarg, NULL, 0);
		else if (c == 's')
			seed = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	rng_state = seed ? seed : 1;
	printf("test_model: %llu frames, --seed %llu\n", (unsigned long long)frames,
	       (unsigned long long)seed);
	libbpf_set_print(NULL);
	build_policy();
	if (edpg_bpf_load_private(&r.b, NULL, &lo)) {
		fprintf(stderr, "cannot load the XDP program (needs root)\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int round = 0; round < 2 && !err; round++) {
		uint64_t end = frames * (round + 1) / 2, cut = 0;

		pol.unknown_mac_pass = pol.non_ip_pass = round == 1;
		err = load_policy(&r.b);
		err = err ?: edpg_bpf_global(&r.b, r.snap);
		if (err) {
			fprintf(stderr, "cannot load the policy: %s\n", strerror(-err));
			break;
		}
		while (r.n < end && !err) {
			struct frame fr;
			uint32_t c = below(100);

			build_valid(&fr);
			if (cut < 500) {
				/* truncation at every byte of a valid frame */
				cut++;
				for (size_t l = 0; l <= fr.len && !err; l++)
					err = judge(&r, fr.b, l, "cut");
			} else if (c < 45) {
				err = judge(&r, fr.b, fr.len, "valid");
			} else if (c < 90) {
				mutate(&fr);
				if (chance(30))
					mutate(&fr);
				err = judge(&r, fr.b, fr.len, "mutated");
			} else {
				fr.len = below(120);
				fill(fr.b, fr.len);
				if (chance(50) && fr.len >= 14)
					put16(fr.b + 12, (const unsigned int[]){ 0x0800, 0x86dd, 0x8100,
										 0x88a8 }[below(4)]);
				if (chance(50) && fr.len >= 12)
					pick_mac(fr.b + 6);
				err = judge(&r, fr.b, fr.len, "random");
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	edpg_bpf_close(&r.b);
	if (err)
		return 1;
	printf("%llu frames in %.1f s, %llu disagreements; by the program's reason:",
	       (unsigned long long)r.n,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)r.disagree);
	for (int i = 0; i < EDPG_R_MAX; i++)
		printf(" %s %llu", edpg_reason_names[i], (unsigned long long)r.per_reason[i]);
	printf("\n");
	/* A generator that stopped reaching a reason would make agreement
	 * cheap: every reason must have been decided many times. */
	for (int i = 0; i < EDPG_R_MAX; i++)
		if (r.per_reason[i] < r.n / 1000) {
			fprintf(stderr, "reason %s decided only %llu times: the generator misses it\n",
				edpg_reason_names[i], (unsigned long long)r.per_reason[i]);
			return 1;
		}
	return r.disagree ? 1 : 0;
}
