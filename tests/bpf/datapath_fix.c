// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * datapath_fix.c - test_datapath's plumbing: load the program, fill its
 * maps from the fixture, run a frame, read and compare the counters.
 */
#include "bpf_internal.h"
#include "datapath.h"

/* ------------------------------------------------------------------ */
/* Plumbing                                                            */
/* ------------------------------------------------------------------ */

struct edpgate *skel;
int nr_cpus;
int prog_fd;
int expect_would;

static uint64_t mono_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

void must_update(struct bpf_map *m, const void *k, const void *v, const char *what)
{
	int err = bpf_map_update_elem(map_fd(m), k, v, BPF_ANY);

	if (err)
		fail_msg("filling %s: %s", what, strerror(-err));
}

void set_ctl(uint32_t gen)
{
	struct edpg_ctl c = { .gen = gen };
	uint32_t zero = 0;

	must_update(skel->maps.edpg_ctl, &zero, &c, "edpg_ctl");
}

void set_flags(uint32_t gen, uint32_t flags)
{
	struct edpg_config c = { .flags = flags };

	must_update(skel->maps.edpg_config, &gen, &c, "edpg_config");
}

static void dst_key(int i, union dst_key *k, struct bpf_map **m)
{
	memset(k, 0, sizeof(*k));
	if (strchr(dsts[i].addr, ':')) {
		ADDR6(dsts[i].addr, k->k6.addr);
		k->k6.gen = dsts[i].gen;
		*m = skel->maps.edpg_dst6;
	} else {
		ADDR4(dsts[i].addr, k->k4.addr);
		k->k4.gen = dsts[i].gen;
		*m = skel->maps.edpg_dst4;
	}
}

/* The loader's half of an enrolment the data path relies on (edpgate.h). */
void filter_mark(const uint8_t mac[6])
{
	uint32_t bit = edpg_gw_filter_bit(mac), w = bit >> 6;
	int fd = bpf_map__fd(skel->maps.edpg_gw_filter);
	uint64_t word;

	assert_int_equal(bpf_map_lookup_elem(fd, &w, &word), 0);
	word |= 1ULL << (bit & 63);
	must_update(skel->maps.edpg_gw_filter, &w, &word, "edpg_gw_filter");
}

void fill_policy(void)
{
	unsigned int i;

	for (i = 0; i < nr_gws; i++) {
		struct edpg_gw_key k = { .gen = gws[i].gen };
		struct edpg_gw v = {
			.slot = gws[i].slot,
			.services = gws[i].services,
			.flags = gws[i].flags,
			.vlan = gws[i].vlan,
		};

		memcpy(k.mac, macs[gws[i].mac], 6);
		if (gws[i].ip4)
			ADDR4(gws[i].ip4, v.ip4);
		if (gws[i].ip6)
			ADDR6(gws[i].ip6, v.ip6);
		filter_mark(k.mac);
		must_update(skel->maps.edpg_gateways, &k, &v, "edpg_gateways");
	}
	for (i = 0; i < nr_ports; i++) {
		uint32_t k = edpg_port_index(ports[i].gen, ports[i].proto, ports[i].port);

		must_update(skel->maps.edpg_ports, &k, &ports[i].value, "edpg_ports");
	}
	for (i = 0; i < nr_svcs; i++) {
		uint32_t k = svcs[i].gen * EDPG_MAX_SERVICES + svcs[i].sid;
		struct edpg_svc v = { .groups = svcs[i].groups };

		must_update(skel->maps.edpg_services, &k, &v, "edpg_services");
	}
	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v = { .groups = dsts[i].groups };
		struct bpf_map *m;

		dst_key(i, &k, &m);
		must_update(m, &k, &v, "edpg_dst");
	}
	for (i = 0; i < nr_cidrs; i++) {
		struct edpg_cidr v = { .groups = cidrs[i].groups };

		if (strchr(cidrs[i].addr, ':')) {
			struct edpg_cidr6_key k = { .prefixlen = 8 + cidrs[i].plen,
						    .gen = cidrs[i].gen };

			ADDR6(cidrs[i].addr, k.addr);
			must_update(skel->maps.edpg_cidr6, &k, &v, "edpg_cidr6");
		} else {
			struct edpg_cidr4_key k = { .prefixlen = 8 + cidrs[i].plen,
						    .gen = cidrs[i].gen };

			ADDR4(cidrs[i].addr, k.addr);
			must_update(skel->maps.edpg_cidr4, &k, &v, "edpg_cidr4");
		}
	}
	for (i = 0; i < EDPG_NR_GENS; i++)
		set_flags(i, gen_flags[i]);
	set_ctl(0);
}

void read_percpu(struct bpf_map *m, uint32_t key, void *buf)
{
	int err = bpf_map_lookup_elem(map_fd(m), &key, buf);

	if (err)
		fail_msg("reading per-CPU %s[%u]: %s", bpf_map__name(m), key, strerror(-err));
}

/* @slot's cold row, every CPU's copy; false when it has none. */
static bool cold_read(struct bpf_map *m, uint32_t slot, struct edpg_gw_cold *rows)
{
	if (!bpf_map_lookup_elem(map_fd(m), &slot, rows))
		return true;
	if (errno != ENOENT)
		fail_msg("reading %s[%u]: %s", bpf_map__name(m), slot, strerror(errno));
	return false;
}

struct edpg_gw_diag diag_in(struct bpf_map *m, uint32_t slot)
{
	struct edpg_gw_cold *rows = calloc(nr_cpus, sizeof(*rows));
	struct edpg_gw_diag d = {};

	assert_non_null(rows);
	if (cold_read(m, slot, rows)) {
		for (int c = 0; c < nr_cpus; c++) {
			const struct edpg_gw_diag *x = &rows[c].diag;

			d.ev.suppressed += x->ev.suppressed;
			for (int r = 0; r < EDPG_DIAG_NR; r++)
				if (x->last[r].ts > d.last[r].ts)
					d.last[r] = x->last[r];
		}
	}
	free(rows);
	return d;
}

void diag_reset(struct bpf_map *m, uint32_t slot)
{
	struct edpg_gw_cold *rows = calloc(nr_cpus, sizeof(*rows));

	assert_non_null(rows);
	if (cold_read(m, slot, rows)) {
		for (int c = 0; c < nr_cpus; c++)
			memset(&rows[c].diag, 0, sizeof(rows[c].diag));
		if (bpf_map_update_elem(map_fd(m), &slot, rows, BPF_EXIST))
			fail_msg("resetting %s[%u]: %s", bpf_map__name(m), slot, strerror(errno));
	}
	free(rows);
}

void take_snap(struct snap *s)
{
	size_t gsz = ROUND8(sizeof(struct edpg_global));
	uint8_t *buf = calloc(nr_cpus, gsz);
	unsigned int i, r;
	int c;

	assert_non_null(buf);
	memset(s, 0, sizeof(*s));
	for (r = 0; r < EDPG_R_MAX; r++) {
		read_percpu(skel->maps.edpg_global, r, buf);
		for (c = 0; c < nr_cpus; c++) {
			const struct edpg_global *g = (const void *)(buf + c * gsz);

			s->g[r].pass.packets += g->pass.packets;
			s->g[r].pass.bytes += g->pass.bytes;
			s->g[r].drop.packets += g->drop.packets;
			s->g[r].drop.bytes += g->drop.bytes;
			s->g[r].would_drop.packets += g->would_drop.packets;
			s->g[r].would_drop.bytes += g->would_drop.bytes;
		}
	}
	/* Through the loader's reader: hot and cold rows, as `stats` sees them. */
	for (i = 0; i < NR_WATCHED; i++) {
		int err = edpg_gw_totals(bpf_map__fd(skel->maps.edpg_gw_stats),
					 bpf_map__fd(skel->maps.edpg_gw_cold), -1, nr_cpus,
					 watched_slots[i], &s->gw[i]);

		if (err)
			fail_msg("reading the counters of slot %u: %s", watched_slots[i],
				 strerror(-err));
	}
	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v;
		struct bpf_map *m;

		dst_key(i, &k, &m);
		if (bpf_map_lookup_elem(map_fd(m), &k, &v))
			fail_msg("exact destination %s vanished", dsts[i].addr);
		s->last_used[i] = v.last_used;
	}
	free(buf);
}

void clear_last_used(void)
{
	unsigned int i;

	for (i = 1; i < NR_DST; i++) {
		union dst_key k;
		struct edpg_dst v = { .groups = dsts[i].groups };
		struct bpf_map *m;

		dst_key(i, &k, &m);
		must_update(m, &k, &v, "edpg_dst");
	}
}

/* Run the program once on a frame: 0 and the XDP return code, or -errno. */
int run_prog(const void *frame, size_t len, uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = frame,
		    .data_size_in = len,
		    .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	*retval = opts.retval;
	return 0;
}

/* The gateway slot the program will find for a MAC in a generation. */
int watched_index(int mac, int gen)
{
	unsigned int i, j;

	for (i = 0; i < nr_gws; i++) {
		if (gws[i].mac != mac || gws[i].gen != gen)
			continue;
		for (j = 0; j < NR_WATCHED; j++)
			if (watched_slots[j] == gws[i].slot)
				return j;
	}
	return -1;
}

static const char *const reason_names[EDPG_R_MAX] = {
	"allow", "arp", "nd", "non_ip", "unknown_mac", "malformed", "binding",
	"fragment", "protocol", "port", "service", "destination",
};

static const char *xdp_name(uint32_t rc)
{
	switch (rc) {
	case XDP_ABORTED: return "XDP_ABORTED";
	case XDP_DROP: return "XDP_DROP";
	case XDP_PASS: return "XDP_PASS";
	case XDP_TX: return "XDP_TX";
	case XDP_REDIRECT: return "XDP_REDIRECT";
	}
	return "XDP_?";
}

/*
 * Which global reason/verdict moved between two snapshots: the first one
 * found, for the failure message (so a wrong reason reads as "got port").
 */
static void describe_moved(const struct snap *a, const struct snap *b, char *out, size_t n)
{
	unsigned int r;

	snprintf(out, n, "no global counter moved");
	for (r = 0; r < EDPG_R_MAX; r++) {
		if (b->g[r].pass.packets != a->g[r].pass.packets) {
			snprintf(out, n, "got pass %s", reason_names[r]);
			return;
		}
		if (b->g[r].drop.packets != a->g[r].drop.packets) {
			snprintf(out, n, "got drop %s", reason_names[r]);
			return;
		}
		if (b->g[r].would_drop.packets != a->g[r].would_drop.packets) {
			snprintf(out, n, "got would_drop %s", reason_names[r]);
			return;
		}
	}
}

/*
 * Run one frame and assert the verdict and every watched counter.
 * gw: the watched_slots index of the gateway whose stats must move (-1:
 * none may).  touch: exact destination whose last_used must be set.
 * With expect_would set, a drop is expected as audit's: counted as
 * would_drop under the same reason, and the frame passed.
 */
void expect(const char *name, const uint8_t *frame, size_t len, int v, int why,
		   int gw, int sid, int touch)
{
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *e;
	int gw_stage = why == EDPG_R_ALLOW || why >= EDPG_R_BINDING;
	int would = v == EDPG_V_DROP && expect_would;
	uint32_t want = v == EDPG_V_PASS || would ? XDP_PASS : XDP_DROP, rc = 0;
	uint64_t t0, t1;
	unsigned int i, r;
	char moved[64];
	int err;

	assert_non_null(a);
	assert_non_null(b);
	clear_last_used();
	take_snap(a);
	t0 = mono_coarse_ns();
	err = run_prog(frame, len, &rc);
	t1 = mono_coarse_ns();
	CHECK(err == 0, "BPF_PROG_TEST_RUN failed: %s", strerror(-err));
	take_snap(b);
	describe_moved(a, b, moved, sizeof(moved));
	CHECK(rc == want, "verdict %s, want %s %s (%s)", xdp_name(rc),
	      v == EDPG_V_PASS ? "pass" : would ? "would_drop" : "drop", reason_names[why], moved);

	if (v == EDPG_V_PASS)
		CHECK(b->g[why].pass.packets == a->g[why].pass.packets + 1,
		      "want pass %s (%s)", reason_names[why], moved);
	else if (would)
		CHECK(b->g[why].would_drop.packets == a->g[why].would_drop.packets + 1,
		      "want would_drop %s (%s)", reason_names[why], moved);
	else
		CHECK(b->g[why].drop.packets == a->g[why].drop.packets + 1,
		      "want drop %s (%s)", reason_names[why], moved);

	/* Expected = before + exactly this packet's effect. */
	e = a;
	if (v == EDPG_V_PASS) {
		e->g[why].pass.packets++;
		e->g[why].pass.bytes += len;
	} else if (would) {
		e->g[why].would_drop.packets++;
		e->g[why].would_drop.bytes += len;
	} else {
		e->g[why].drop.packets++;
		e->g[why].drop.bytes += len;
	}
	if (gw >= 0 && gw_stage) {
		if (why == EDPG_R_ALLOW) {
			e->gw[gw].svc[sid].packets++;
			e->gw[gw].svc[sid].bytes += len;
		} else if (would) {
			e->gw[gw].would_drop[why]++;
		} else {
			e->gw[gw].drops[why]++;
		}
	}
	for (r = 0; r < EDPG_R_MAX; r++) {
		CHECK(!memcmp(&e->g[r], &b->g[r], sizeof(e->g[r])),
		      "global %s: pass %llu/%llu B drop %llu/%llu B, want pass %llu/%llu B drop %llu/%llu B (want %s %s)",
		      reason_names[r],
		      (unsigned long long)b->g[r].pass.packets, (unsigned long long)b->g[r].pass.bytes,
		      (unsigned long long)b->g[r].drop.packets, (unsigned long long)b->g[r].drop.bytes,
		      (unsigned long long)e->g[r].pass.packets, (unsigned long long)e->g[r].pass.bytes,
		      (unsigned long long)e->g[r].drop.packets, (unsigned long long)e->g[r].drop.bytes,
		      v == EDPG_V_PASS ? "pass" : "drop", reason_names[why]);
	}
	for (i = 0; i < NR_WATCHED; i++) {
		int seen = (int)i == gw && gw_stage;

		for (r = 0; r < EDPG_R_MAX; r++) {
			CHECK(e->gw[i].drops[r] == b->gw[i].drops[r],
			      "slot %u drops[%s] = %llu, want %llu", watched_slots[i],
			      reason_names[r], (unsigned long long)b->gw[i].drops[r],
			      (unsigned long long)e->gw[i].drops[r]);
			CHECK(e->gw[i].would_drop[r] == b->gw[i].would_drop[r],
			      "slot %u would_drop[%s] = %llu, want %llu", watched_slots[i],
			      reason_names[r], (unsigned long long)b->gw[i].would_drop[r],
			      (unsigned long long)e->gw[i].would_drop[r]);
		}
		for (r = 0; r < EDPG_MAX_SERVICES; r++)
			CHECK(!memcmp(&e->gw[i].svc[r], &b->gw[i].svc[r], sizeof(b->gw[i].svc[r])),
			      "slot %u svc[%u] = %llu pkts/%llu B, want %llu/%llu",
			      watched_slots[i], r, (unsigned long long)b->gw[i].svc[r].packets,
			      (unsigned long long)b->gw[i].svc[r].bytes,
			      (unsigned long long)e->gw[i].svc[r].packets,
			      (unsigned long long)e->gw[i].svc[r].bytes);
		if (seen)
			CHECK(b->gw[i].last_seen >= t0 && b->gw[i].last_seen <= t1,
			      "slot %u last_seen %llu not within the run [%llu, %llu]",
			      watched_slots[i], (unsigned long long)b->gw[i].last_seen,
			      (unsigned long long)t0, (unsigned long long)t1);
		else
			CHECK(b->gw[i].last_seen == a->gw[i].last_seen,
			      "slot %u last_seen moved for a frame that is not its", watched_slots[i]);
	}
	for (i = 1; i < NR_DST; i++) {
		if ((int)i == touch)
			CHECK(b->last_used[i] >= t0 && b->last_used[i] <= t1,
			      "last_used of %s = %llu, not within the run", dsts[i].addr,
			      (unsigned long long)b->last_used[i]);
		else
			CHECK(b->last_used[i] == 0, "last_used of %s set (%llu), want untouched",
			      dsts[i].addr, (unsigned long long)b->last_used[i]);
	}
	free(a);
	free(b);
}
