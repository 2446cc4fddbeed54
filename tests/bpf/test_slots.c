// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Counter slots (loader/sinks/bpfmaps.c): a gateway given a slot starts
 * from zero counters and drop records, whatever a deleted gateway left
 * there, on each of the three ways in (gateway add, import, apply), also
 * when the zeroing takes several batches; a gateway that stays keeps its
 * slot and its counters; a slot nobody took is left alone.  The "old
 * gateway's" counters are written straight into the per-CPU maps, on
 * every CPU.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "bpfmaps.h"
#include "policy.h"

#define CAP 128		/* 100 fresh slots: three batches of zeroing on 2 CPUs */

static struct edpg_bpf b;

/* Every CPU's stats and drop records of @slot, as a deleted gateway's. */
static void dirty(uint32_t slot, uint64_t v)
{
	struct edpg_gw_hot *st = calloc(b.ncpus, sizeof(*st));
	struct edpg_gw_cold *cd = calloc(b.ncpus, sizeof(*cd));

	assert_non_null(st);
	assert_non_null(cd);
	for (int c = 0; c < b.ncpus; c++) {
		st[c].last_seen = v;
		st[c].svc[0].packets = v;
		cd[c].drops[EDPG_R_PORT] = v;
		cd[c].diag.ev.suppressed = v;
		cd[c].diag.last[0].ts = v;
	}
	assert_int_equal(bpf_map_update_elem(b.map_fd[EDPG_M_GW_STATS], &slot, st, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(b.map_fd[EDPG_M_GW_COLD], &slot, cd, BPF_ANY), 0);
	free(st);
	free(cd);
}

/* The summed counters of @slot: its drops of `port`, or 0 when clean. */
static uint64_t reading(uint32_t slot)
{
	struct edpg_gw_stats st;
	struct edpg_gw_diag dg;

	assert_int_equal(edpg_bpf_gw_stats(&b, slot, &st), 0);
	assert_int_equal(edpg_bpf_gw_diag(&b, slot, &dg), 0);
	/* All or nothing: a half-zeroed slot is a failure too. */
	if (st.drops[EDPG_R_PORT] || st.last_seen || st.svc[0].packets ||
	    dg.ev.suppressed || dg.last[0].ts) {
		assert_int_equal(st.drops[EDPG_R_PORT], b.ncpus * dg.last[0].ts);
		assert_int_not_equal(st.last_seen, 0);
	}
	return st.drops[EDPG_R_PORT];
}

static struct edpg_want_gw gw(unsigned int i)
{
	struct edpg_want_gw g = { .mac = { 0x02, 0, 0, 0, i >> 8, i & 0xff } };

	g.rec.services = 1;
	return g;
}

static uint32_t slot_of(unsigned int i)
{
	struct edpg_want_gw g = gw(i);
	struct edpg_gw rec;

	assert_int_equal(edpg_bpf_gw_get(&b, g.mac, &rec), 0);
	assert_true(rec.slot < CAP);
	return rec.slot;
}

static void test_slots(void **state)
{
	struct edpg_desired *d = calloc(1, sizeof(*d));
	struct edpg_want_gw many[100];
	bool taken[CAP] = { false };
	uint32_t s1, kept;

	(void)state;
	assert_non_null(d);
	assert_int_equal(edpg_bpf_apply(&b, d), 0);	/* a live generation, no gateway */
	for (uint32_t s = 0; s < CAP; s++)
		dirty(s, 7);

	/* gateway add: one slot, zeroed */
	d->gws = calloc(CAP, sizeof(*d->gws));
	assert_non_null(d->gws);
	d->gws[0] = gw(1);
	assert_int_equal(edpg_bpf_gw_put(&b, &d->gws[0]), 0);
	s1 = slot_of(1);
	taken[s1] = true;
	assert_int_equal(reading(s1), 0);

	/* gateway import: 100 fresh slots in three batches, all zeroed */
	for (unsigned int i = 0; i < 100; i++)
		many[i] = gw(100 + i);
	assert_int_equal(edpg_bpf_gw_put_many(&b, many, 100), 0);
	for (unsigned int i = 0; i < 100; i++) {
		uint32_t s = slot_of(100 + i);

		assert_false(taken[s]);
		taken[s] = true;
		if (reading(s))
			fail_msg("gateway %u of the import: slot %u holds an old gateway's counters", i, s);
	}
	/* the slots nobody took still hold what they held */
	for (uint32_t s = 0; s < CAP; s++)
		if (!taken[s])
			assert_int_equal(reading(s), 7 * b.ncpus);

	/* apply: gateway 1 stays (its counters with it), one arrives; every
	 * other slot (the import's gateways leave) holds old counters */
	for (uint32_t s = 0; s < CAP; s++)
		dirty(s, s == s1 ? 5 : 9);
	d->gws[0] = gw(1);
	d->gws[1] = gw(2);
	d->ngws = 2;
	assert_int_equal(edpg_bpf_apply(&b, d), 0);
	kept = slot_of(1);
	assert_int_equal(kept, s1);
	assert_int_equal(reading(kept), 5 * b.ncpus);
	assert_int_equal(reading(slot_of(2)), 0);

	free(d->gws);
	free(d);
}

/* The set bits of @f's edpg_gw_filter; whether @mac's is one of them. */
static unsigned int filter_bits(const struct edpg_bpf *f, const uint8_t *mac, bool *has)
{
	uint32_t want = mac ? edpg_gw_filter_bit(mac) : 0;
	unsigned int n = 0;

	for (uint32_t w = 0; w < EDPG_GW_FILTER_WORDS; w++) {
		uint64_t word;

		assert_int_equal(bpf_map_lookup_elem(f->map_fd[EDPG_M_GW_FILTER], &w, &word), 0);
		n += __builtin_popcountll(word);
		if (mac && w == want >> 6)
			*has = word & 1ULL << (want & 63);
	}
	return n;
}

static int bit_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * edpg_gw_filter: every way in (apply, add, import, each below and above
 * the batch threshold) sets the bit of each gateway before its record is
 * live, and nothing else: the array holds exactly the bits of the MACs
 * enrolled.  A deletion leaves its bit (clearing could race an
 * enrolment sharing it): a lookup more, never a verdict.
 */
static void test_filter(void **state)
{
	static const unsigned int first[] = { 1000, 2000, 3000, 4000 };
	static const unsigned int count[] = { 40, 1, 3, 60 };
	struct edpg_load_opts lo = { .max_gateways = CAP, .max_dst = 16 };
	struct edpg_want_gw g[104];
	struct edpg_desired d = {};
	uint32_t bits[104];
	struct edpg_bpf f;
	unsigned int n = 0, distinct = 0;
	bool has = false;

	(void)state;
	assert_int_equal(edpg_bpf_load_private(&f, NULL, &lo), 0);
	assert_int_equal(filter_bits(&f, NULL, NULL), 0);
	for (unsigned int r = 0; r < 4; r++)
		for (unsigned int i = 0; i < count[r]; i++)
			g[n++] = gw(first[r] + i);
	d.gws = g;
	d.ngws = 40;
	assert_int_equal(edpg_bpf_apply(&f, &d), 0);
	assert_int_equal(edpg_bpf_gw_put(&f, &g[40]), 0);
	assert_int_equal(edpg_bpf_gw_put_many(&f, &g[41], 3), 0);
	assert_int_equal(edpg_bpf_gw_put_many(&f, &g[44], 60), 0);

	for (unsigned int i = 0; i < n; i++) {
		has = false;
		filter_bits(&f, g[i].mac, &has);
		if (!has)
			fail_msg("gateway %u is enrolled but its filter bit is clear", i);
		bits[i] = edpg_gw_filter_bit(g[i].mac);
	}
	qsort(bits, n, sizeof(bits[0]), bit_cmp);
	for (unsigned int i = 0; i < n; i++)
		distinct += !i || bits[i] != bits[i - 1];
	assert_int_equal(filter_bits(&f, NULL, NULL), distinct);

	assert_int_equal(edpg_bpf_gw_del(&f, g[40].mac), 0);
	d.ngws = 40;
	assert_int_equal(edpg_bpf_apply(&f, &d), 0);
	assert_int_equal(filter_bits(&f, NULL, NULL), distinct);
	edpg_bpf_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_filter),
	};
	struct edpg_load_opts lo = { .max_gateways = CAP, .max_dst = 16 };
	int ret;

	libbpf_set_print(NULL);
	if (edpg_bpf_load_private(&b, NULL, &lo)) {
		fprintf(stderr, "cannot load the XDP program (needs root)\n");
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	edpg_bpf_close(&b);
	return ret;
}
