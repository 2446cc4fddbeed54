// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * datapath_audit.c - test_datapath's tests of audit and learn: every row
 * of the table again with the interface set in audit, then with one
 * gateway in audit among enforced ones, and the learn records a refused
 * attempt leaves.
 *
 * Audit is only worth having if it judges exactly as enforcement does, so
 * the rows are not restated: each row runs unchanged and must give the
 * same reason, with a drop counted as would_drop and the frame passed.
 */
#include "datapath.h"

static void run_row(const struct row *r, uint32_t extra_flags, int would)
{
	struct pkt p;

	build(r, &p);
	set_ctl(r->gen);
	set_flags(r->gen, gen_flags[r->gen] | r->flags | extra_flags);
	expect_would = would;
	expect(r->name, p.data, p.len, r->v, r->why, watched_index(r->src, r->gen), r->sid,
	       r->touch);
	expect_would = 0;
	set_flags(r->gen, gen_flags[r->gen]);
	set_ctl(0);
}

/* --enforce audit: every drop of the table becomes a would_drop. */
void test_audit_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < nr_rows; i++)
		run_row(&rows[i], EDPG_F_AUDIT, rows[i].v == EDPG_V_DROP);
}

static void gw_flags(int mac, uint8_t gen, uint32_t set)
{
	struct edpg_gw_key k = { .gen = gen };
	struct edpg_gw v;

	memcpy(k.mac, macs[mac], 6);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.edpg_gateways), &k, &v), 0);
	v.flags |= set;
	must_update(skel->maps.edpg_gateways, &k, &v, "edpg_gateways");
}

/*
 * `gateway add --audit` on GW_A in generation 0: only its own verdicts
 * (binding onwards, once it is identified) become would_drop; the same
 * MAC in generation 1, every other gateway and every frame judged before
 * the gateway is known (malformed, non-IP) are enforced as before.
 */
void test_audit_gateway(void **state)
{
	(void)state;
	gw_flags(GW_A, 0, EDPG_GW_AUDIT);
	for (size_t i = 0; i < nr_rows; i++) {
		const struct row *r = &rows[i];

		run_row(r, 0, r->v == EDPG_V_DROP && r->src == GW_A && r->gen == 0 &&
			      r->why >= EDPG_R_BINDING);
	}
	fill_policy();
}

static int ev_cb(void *ctx, void *data, size_t size)
{
	struct edpg_event *last = ctx;

	assert_int_equal(size, sizeof(*last));
	memcpy(last, data, sizeof(*last));
	return 0;
}

static int learn_get(const char *daddr, uint16_t dport, struct edpg_learn *out)
{
	struct edpg_learn_key k = { .dport = dport, .proto = IPPROTO_TCP, .family = 4 };

	memcpy(k.mac, macs[GW_A], 6);
	ADDR4(daddr, k.daddr);
	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.edpg_learn), &k, out) ? -errno : 0;
}

/* A fresh event bucket for GW_A (slot 7) on every CPU. */
static void bucket_reset(void)
{
	diag_reset(skel->maps.edpg_gw_cold, 7);
}

/*
 * Learn: a refused (port, destination) of an enrolled gateway is recorded
 * with its reason, audited or not, and counted per attempt; what no rules
 * line can change (binding, unknown MACs) and what is allowed is not.
 */
void test_learn(void **state)
{
	static const struct row dst = { "learn dst", GW_A, .d = "198.51.100.77", .dport = 3199 };
	static const struct row port = { "learn port", GW_A, .d = "198.51.100.78", .dport = 8080 };
	static const struct row ok = { "learn ok", GW_A, .dport = 3199 };
	static const struct row unk = { "learn unknown", UNK, .d = "198.51.100.79", .dport = 3199 };
	struct edpg_event last = {};
	struct ring_buffer *rb;
	struct edpg_learn l;
	struct pkt p;
	uint32_t rc;

	(void)state;
	bucket_reset();
	/* The rows before this test left their own records. */
	{
		struct edpg_learn_key k;
		int fd = bpf_map__fd(skel->maps.edpg_learn);

		while (!bpf_map_get_next_key(fd, NULL, &k))
			assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.edpg_events), ev_cb, &last, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);

	/* Enforced: dropped, recorded with would = 0. */
	build(&dst, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_DROP);
	assert_int_equal(learn_get("198.51.100.77", 3199, &l), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.reason, EDPG_R_DESTINATION);
	assert_int_equal(l.would, 0);
	assert_true(l.first_seen != 0 && l.last_seen == l.first_seen);
	ring_buffer__consume(rb);
	assert_int_equal(last.flags, 0);

	/* Audited: passed, the same entry counts on, would = 1, and the
	 * event says it was audited. */
	set_flags(0, gen_flags[0] | EDPG_F_AUDIT);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_PASS);
	assert_int_equal(learn_get("198.51.100.77", 3199, &l), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.would, 1);
	ring_buffer__consume(rb);
	assert_int_equal(last.flags & EDPG_EV_F_WOULD, EDPG_EV_F_WOULD);
	assert_int_equal(last.reason, EDPG_R_DESTINATION);

	/* A port no service has: recorded under `port`. */
	build(&port, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(learn_get("198.51.100.78", 8080, &l), 0);
	assert_int_equal(l.reason, EDPG_R_PORT);
	set_flags(0, gen_flags[0]);

	/* Allowed and unknown-MAC frames leave nothing. */
	build(&ok, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	assert_int_equal(rc, XDP_PASS);
	build(&unk, &p);
	assert_int_equal(run_prog(p.data, p.len, &rc), 0);
	{
		struct edpg_learn_key k = {}, next;
		int n = 0;

		while (!bpf_map_get_next_key(bpf_map__fd(skel->maps.edpg_learn), n ? &k : NULL, &next)) {
			assert_memory_equal(next.mac, macs[GW_A], 6);
			k = next;
			n++;
		}
		assert_int_equal(n, 2);
	}
	ring_buffer__free(rb);
}

/*
 * Bounded: 5,000 distinct refused destinations, each granted an event (the
 * bucket is refilled before every frame, as if they came slowly), leave at
 * most EDPG_MAX_LEARN records, and the latest is among them (least
 * recently used first out).
 */
void test_learn_bounded(void **state)
{
	static const struct row r = { "learn bounded", GW_A, .d = "198.51.0.0", .dport = 3199 };
	int fd = bpf_map__fd(skel->maps.edpg_learn);
	struct edpg_learn_key k, next;
	struct edpg_learn l;
	char daddr[32];
	struct pkt p;
	uint32_t rc;
	int i, n = 0;

	(void)state;
	for (i = 0; i < 5000; i++) {
		struct row x = r;

		snprintf(daddr, sizeof(daddr), "198.51.%d.%d", i >> 8, i & 255);
		x.d = daddr;
		build(&x, &p);
		bucket_reset();
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_DROP);
	}
	while (!bpf_map_get_next_key(fd, n ? &k : NULL, &next)) {
		k = next;
		n++;
	}
	assert_true(n > 0 && n <= EDPG_MAX_LEARN);
	assert_int_equal(learn_get(daddr, 3199, &l), 0);
	assert_int_equal(l.count, 1);
}
