// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * datapath_diag.c - test_datapath's tests of the troubleshooting records:
 * events and their rate limit, pending MACs, and the dry-run instance.
 */
#include "datapath.h"

/* ------------------------------------------------------------------ */
/* Troubleshooting records: events, rate limit, pending, dry_run       */
/* ------------------------------------------------------------------ */

/* Per-CPU buckets: every run of these tests must land on one CPU. */
static void pin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void unpin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE && c < nr_cpus; c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct evs {
	int n;
	struct edpg_event last;
	struct edpg_event all[64];
};

static int ev_cb(void *ctx, void *data, size_t size)
{
	struct evs *e = ctx;

	assert_int_equal(size, sizeof(struct edpg_event));
	memcpy(&e->last, data, sizeof(e->last));
	if (e->n < 64)
		memcpy(&e->all[e->n], data, sizeof(e->last));
	e->n++;
	return 0;
}

static void zero_percpu(struct bpf_map *m, uint32_t key, size_t vsz)
{
	void *z = calloc(nr_cpus, ROUND8(vsz));

	assert_non_null(z);
	must_update(m, &key, z, bpf_map__name(m));
	free(z);
}

static struct edpg_gw_diag diag_sum(uint32_t slot)
{
	return diag_in(skel->maps.edpg_gw_cold, slot);
}

/*
 * The cold row is what makes the counters fit a small router: a gateway
 * that only passes frames of the first EDPG_SVC_HOT services has none;
 * its first frame of a higher service or first drop makes it, and those
 * are counted there, not in the hot row.
 */
void test_cold_row(void **state)
{
	static const struct row ok = { "hot", GW_A, .d = "198.51.100.10" };
	static const struct row high = { "svc 31", GW_A, .d = "198.51.100.10", .dport = 8443 };
	static const struct row bad = { "drop", GW_A, .d = "198.51.100.99" };
	int fd = bpf_map__fd(skel->maps.edpg_gw_cold);
	struct edpg_gw_cold *rows = calloc(nr_cpus, sizeof(*rows));
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint32_t slot = 7, rc, w = 1;	/* watched_slots[1] */
	uint64_t n = 0;
	struct pkt p;

	(void)state;
	assert_non_null(rows);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(watched_slots[w], slot);
	pin_cpu();
	bpf_map_delete_elem(fd, &slot);	/* earlier tests' drops */
	take_snap(a);
	build(&ok, &p);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_PASS);
	}
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, rows), -ENOENT);
	take_snap(b);
	assert_int_equal(b->gw[w].svc[SVC_EDP_TLS].packets - a->gw[w].svc[SVC_EDP_TLS].packets, 5);

	build(&high, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_PASS);
	build(&bad, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, rows), 0);
	for (int c = 0; c < nr_cpus; c++)
		n += rows[c].svc[SVC_HIGH - EDPG_SVC_HOT].packets +
		     rows[c].drops[EDPG_R_DESTINATION];
	assert_int_equal(n, 2);
	take_snap(a);
	assert_int_equal(a->gw[w].svc[SVC_HIGH].packets - b->gw[w].svc[SVC_HIGH].packets, 1);
	assert_int_equal(a->gw[w].drops[EDPG_R_DESTINATION] - b->gw[w].drops[EDPG_R_DESTINATION], 1);
	free(rows);
	free(a);
	free(b);
}

/*
 * edpg_gw_filter: an enrolled gateway whose bit is clear is judged
 * unknown_mac (the data path did not ask the gateway hash), and is itself
 * again once the bit is back: the filter is on the path, and the fixture
 * (like the loader) sets the bit of every gateway it enrols.
 */
void test_gw_filter(void **state)
{
	static const struct row ok = { "allowed", GW_A, .d = "198.51.100.10" };
	uint32_t bit = edpg_gw_filter_bit(macs[GW_A]), w = bit >> 6, rc;
	int fd = bpf_map__fd(skel->maps.edpg_gw_filter);
	uint64_t word, cleared;
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pkt p;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	pin_cpu();
	assert_int_equal(bpf_map_lookup_elem(fd, &w, &word), 0);
	assert_true(word & 1ULL << (bit & 63));
	build(&ok, &p);

	cleared = word & ~(1ULL << (bit & 63));
	must_update(skel->maps.edpg_gw_filter, &w, &cleared, "edpg_gw_filter");
	take_snap(a);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	take_snap(b);
	must_update(skel->maps.edpg_gw_filter, &w, &word, "edpg_gw_filter");
	assert_int_equal(rc, XDP_DROP);
	assert_int_equal(b->g[EDPG_R_UNKNOWN_MAC].drop.packets -
			 a->g[EDPG_R_UNKNOWN_MAC].drop.packets, 1);

	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	take_snap(a);
	assert_int_equal(rc, XDP_PASS);
	assert_int_equal(a->g[EDPG_R_ALLOW].pass.packets - b->g[EDPG_R_ALLOW].pass.packets, 1);
	free(a);
	free(b);
}

/*
 * A flood of drops from one gateway yields ev_burst events, then none;
 * the rest are counted as suppressed and the next event after a refill
 * carries that count.  Each event and the drop record name the packet.
 */
void test_events_rate_limit(void **state)
{
	static const struct row r = { "ev", GW_A, .d = "198.51.100.99", .dport = 3199 };
	struct ring_buffer *rb;
	struct evs ev = {};
	struct edpg_gw_diag d;
	uint8_t want_d[4];
	struct pkt p;
	uint32_t rc;
	int i;

	(void)state;
	pin_cpu();
	rb = ring_buffer__new(bpf_map__fd(skel->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);	/* events of earlier tests */
	ev.n = 0;
	diag_reset(skel->maps.edpg_gw_cold, 7);
	build(&r, &p);
	for (i = 0; i < 30; i++) {
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_DROP);
	}
	ring_buffer__consume(rb);
	/* Burst 10; at most one refill if the runs straddled 100 ms. */
	assert_in_range(ev.n, 10, 11);
	ADDR4("198.51.100.99", want_d);
	assert_memory_equal(ev.last.mac, macs[GW_A], 6);
	assert_int_equal(ev.last.reason, EDPG_R_DESTINATION);
	assert_int_equal(ev.last.slot, 7);
	assert_int_equal(ev.last.dport, 3199);
	assert_int_equal(ev.last.proto, 6);
	assert_int_equal(ev.last.family, 4);
	assert_memory_equal(ev.last.daddr, want_d, 4);
	d = diag_sum(7);
	assert_int_equal(d.ev.suppressed, 30 - ev.n);
	assert_int_equal(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].port, 3199);
	assert_memory_equal(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].addr, want_d, 4);
	assert_true(d.last[EDPG_R_DESTINATION - EDPG_DIAG_FIRST].ts != 0);

	/* After a refill the next event reports what was suppressed. */
	usleep(150 * 1000);
	ev.n = 0;
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.last.suppressed, d.ev.suppressed);

	/* Allowed packets never make events. */
	{
		static const struct row ok = { "ok", GW_A, .dport = 3199 };
		struct pkt q;

		build(&ok, &q);
		ev.n = 0;
		assert_int_equal(run_prog(q.data, q.len, &rc), 0);
		assert_int_equal(rc, XDP_PASS);
		ring_buffer__consume(rb);
		assert_int_equal(ev.n, 0);
	}
	ring_buffer__free(rb);
	unpin_cpu();
}

/* The records of @mac in its slot of @m (some instance's edpg_pending),
 * summed over CPUs. */
static struct edpg_pending pending_in(struct bpf_map *m, const uint8_t mac[6], bool *found)
{
	size_t sz = ROUND8(sizeof(struct edpg_pending));
	uint8_t *buf = calloc(nr_cpus, sz);
	uint32_t slot = edpg_pending_slot(mac);
	struct edpg_pending s = {};

	assert_non_null(buf);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(m), &slot, buf), 0);
	*found = false;
	for (int c = 0; c < nr_cpus; c++) {
		const struct edpg_pending *x = (const void *)(buf + c * sz);

		if (!x->packets || memcmp(x->mac, mac, 6))
			continue;
		*found = true;
		s.packets += x->packets;
		if (x->last_seen > s.last_seen) {
			s.last_seen = x->last_seen;
			s.last_port = x->last_port;
			s.last_proto = x->last_proto;
		}
		if (x->first_seen && (!s.first_seen || x->first_seen < s.first_seen))
			s.first_seen = x->first_seen;
	}
	free(buf);
	return s;
}

static struct edpg_pending pending_of(const uint8_t mac[6], bool *found)
{
	return pending_in(skel->maps.edpg_pending, mac, found);
}

static struct edpg_pending pending_sum(int mac, bool *found)
{
	return pending_of(macs[mac], found);
}

/* Unknown MACs trying Device Cloud or NTP ports are remembered; other
 * ports are not; an unknown-MAC event names no slot; a MAC on a slot
 * another one holds takes it over, one on another slot leaves it be. */
static void test_pending_dns(void)
{
	static const struct row dns_u = { "du", UNK, UDP, .dport = 53, .s = "10.0.0.66" };
	static const struct row dns_t = { "dt", UNK, .dport = 53 };
	static const uint8_t pc[6] = { 0x02, 0xed, 0, 0, 1, 0x99 };
	static const uint8_t digi[6] = { 0x00, 0x40, 0x9d, 0, 1, 0x99 };
	static const uint8_t cc[6] = { 0x00, 0x04, 0xf3, 0, 1, 0x99 };
	struct edpg_pending s;
	bool found;
	uint32_t rc;
	struct pkt p;

	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(pc), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(digi), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(cc), sizeof(struct edpg_pending));
	build(&dns_u, &p);
	memcpy(p.data + 6, pc, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	pending_of(pc, &found);
	assert_false(found);
	memcpy(p.data + 6, digi, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	s = pending_of(digi, &found);
	assert_true(found);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.last_port, 53);
	assert_int_equal(s.last_proto, 17);
	build(&dns_t, &p);
	memcpy(p.data + 6, cc, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(cc, &found);
	assert_true(found);
	assert_int_equal(s.last_proto, 6);
}

void test_pending(void **state)
{
	static const struct row tls = { "p", UNK, .dport = 3199 };
	static const struct row web = { "w", UNK, .dport = 80 };
	static const struct row ntp = { "n", UNK, UDP, .s = "10.0.0.66" };
	uint8_t same[6], other[6];
	struct ring_buffer *rb;
	struct edpg_pending s;
	struct evs ev = {};
	struct pkt p;
	bool found;
	uint32_t rc;
	int i;

	(void)state;
	pin_cpu();
	/* Two more unknown MACs: one on UNK's slot, one on another. */
	memcpy(same, macs[UNK], 6);
	for (i = 1; i < 65536; i++) {
		same[3] = i >> 8;
		same[4] = i;
		if (edpg_pending_slot(same) == edpg_pending_slot(macs[UNK]))
			break;
	}
	assert_int_not_equal(i, 65536);
	memcpy(other, macs[UNK], 6);
	other[5]++;
	assert_int_not_equal(edpg_pending_slot(other), edpg_pending_slot(macs[UNK]));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(macs[UNK]), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_pending, edpg_pending_slot(other), sizeof(struct edpg_pending));
	zero_percpu(skel->maps.edpg_ev_global, 0, sizeof(struct edpg_ev_bucket));
	rb = ring_buffer__new(bpf_map__fd(skel->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	ev.n = 0;

	build(&web, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	pending_sum(UNK, &found);
	assert_false(found);

	build(&tls, &p);
	for (i = 0; i < 3; i++)
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_sum(UNK, &found);
	assert_true(found);
	assert_int_equal(s.packets, 3);
	assert_int_equal(s.last_port, 3199);
	assert_int_equal(s.last_proto, 6);
	assert_true(s.first_seen && s.first_seen <= s.last_seen);

	build(&ntp, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_sum(UNK, &found);
	assert_int_equal(s.packets, 4);
	assert_int_equal(s.last_port, 123);
	assert_int_equal(s.last_proto, 17);

	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 5);
	assert_int_equal(ev.last.slot, EDPG_EV_NO_SLOT);
	assert_int_equal(ev.last.reason, EDPG_R_UNKNOWN_MAC);
	assert_memory_equal(ev.last.mac, macs[UNK], 6);

	/* Another slot: UNK's record stays. */
	build(&tls, &p);
	memcpy(p.data + 6, other, 6);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(other, &found);
	assert_true(found);
	assert_int_equal(s.packets, 1);
	s = pending_sum(UNK, &found);
	assert_true(found);
	assert_int_equal(s.packets, 4);
	/* The same slot: taken over, counted from one. */
	memcpy(p.data + 6, same, 6);
	for (i = 0; i < 2; i++)
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	s = pending_of(same, &found);
	assert_true(found);
	assert_int_equal(s.packets, 2);
	assert_int_equal(s.last_port, 3199);
	pending_sum(UNK, &found);
	assert_false(found);

	/* DNS: pending from a Digi OUI (a Cloud Connector resolves the cloud
	 * name first), over UDP and TCP; never from any other MAC. */
	test_pending_dns();
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	unpin_cpu();
}

/*
 * A dry_run instance sharing the policy maps (what explain and replay
 * load) judges like the live one but writes nothing shared: no last_used
 * in the shared destination maps, and no events, pending or drop records.
 * The events, pending and drop records are read from the dry instance's
 * own maps, the ones it would write: the live instance's are not shared
 * with it, so they stay empty whatever the dry instance does.
 */
void test_dry_run(void **state)
{
	static const struct row ok = { "ok", GW_A, .dport = 3199 };
	static const struct row unk = { "u", UNK, .dport = 3199 };
	static const struct row bad = { "d", GW_A, .d = "198.51.100.99" };
	struct bpf_map *shared[] = {
		skel->maps.edpg_ctl, skel->maps.edpg_config, skel->maps.edpg_gateways,
		skel->maps.edpg_gw_filter, skel->maps.edpg_ports, skel->maps.edpg_services, skel->maps.edpg_dst4,
		skel->maps.edpg_dst6, skel->maps.edpg_cidr4, skel->maps.edpg_cidr6,
	};
	struct edpgate *dry;
	struct ring_buffer *rb;
	struct evs ev = {};
	struct edpg_pending before, after;
	struct edpg_gw_diag dd;
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pkt p;
	bool found;
	unsigned int i;
	int fd;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	dry = edpgate__open();
	assert_non_null(dry);
	for (i = 0; i < ARRAY_SIZE(shared); i++)
		assert_int_equal(bpf_map__reuse_fd(bpf_object__find_map_by_name(dry->obj,
						   bpf_map__name(shared[i])),
						   bpf_map__fd(shared[i])), 0);
	dry->rodata->dry_run = 1;
	assert_int_equal(edpgate__load(dry), 0);
	fd = bpf_program__fd(dry->progs.edpgate_xdp);
	rb = ring_buffer__new(bpf_map__fd(dry->maps.edpg_events), ev_cb, &ev, NULL);
	assert_non_null(rb);

	clear_last_used();
	before = pending_sum(UNK, &found);
	take_snap(a);
	{
		const struct row *rows3[] = { &ok, &unk, &bad };
		const uint32_t want[] = { XDP_PASS, XDP_DROP, XDP_DROP };

		for (i = 0; i < 3; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

			build(rows3[i], &p);
			o.data_in = p.data;
			o.data_size_in = p.len;
			assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
			assert_int_equal(o.retval, want[i]);
		}
	}
	take_snap(b);
	after = pending_sum(UNK, &found);
	/* The live instance's counters and the shared last_used: untouched. */
	assert_memory_equal(a, b, sizeof(*a));
	assert_int_equal(before.packets, after.packets);
	/* Its own maps: the unknown MAC tried 3199, which a live instance
	 * records as pending; GW_A's destination drop would be its last drop
	 * record; both drops would be events. */
	pending_in(dry->maps.edpg_pending, macs[UNK], &found);
	assert_false(found);
	dd = diag_in(dry->maps.edpg_gw_cold, gws[0].slot);	/* GW_A */
	for (i = 0; i < EDPG_DIAG_NR; i++)
		assert_int_equal(dd.last[i].ts, 0);
	ring_buffer__consume(rb);
	assert_int_equal(ev.n, 0);
	/* Its own counters did count: that is how explain reads the reason. */
	{
		size_t gsz = ROUND8(sizeof(struct edpg_global));
		uint8_t *buf = calloc(nr_cpus, gsz);
		uint32_t r = EDPG_R_DESTINATION;
		uint64_t n = 0;

		assert_non_null(buf);
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(dry->maps.edpg_global), &r, buf), 0);
		for (int c = 0; c < nr_cpus; c++)
			n += ((struct edpg_global *)(buf + c * gsz))->drop.packets;
		assert_int_equal(n, 1);
		free(buf);
	}
	ring_buffer__free(rb);
	edpgate__destroy(dry);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------ */
