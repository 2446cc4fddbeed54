// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_datapath.c - the real XDP program, run on packet bytes through
 * BPF_PROG_TEST_RUN, checked against the ABI in bpf/edpgate.h.
 *
 * The maps are filled here with bpf_map_update_elem() straight from the ABI
 * (no loader code), so a loader bug cannot hide a data-path bug.  Each row
 * of the table is one cmocka test: it builds a frame, runs the program once
 * and asserts the verdict AND every counter: the global counter of the
 * expected reason/verdict moves by one packet and the frame's bytes, the
 * gateway's slot moves exactly as expected (drops[reason], svc[sid] or
 * nothing), and no other watched counter moves at all.
 *
 * Exit 77 when not root or when the kernel cannot load an XDP program at
 * all; any other failure (including a verifier rejection) fails the test.
 */
#include "datapath.h"

/* ------------------------------------------------------------------ */
/* Building a row's frame                                              */
/* ------------------------------------------------------------------ */

static uint16_t l3_ethertype(const struct row *r)
{
	switch (r->l3) {
	case L3_V4: return PKT_ETH_P_IP;
	case L3_V6: return PKT_ETH_P_IPV6;
	case L3_ARP: return PKT_ETH_P_ARP;
	}
	return r->ethertype;
}

void build(const struct row *r, struct pkt *p)
{
	uint8_t l4 = r->l4 ? r->l4 : PKT_IP_TCP;
	uint16_t et = l3_ethertype(r);
	uint8_t s[16], d[16];
	unsigned int i;

	pkt_init(p);
	pkt_eth(p, router_mac, macs[r->src],
		r->ntags ? (r->tpid[0] ? r->tpid[0] : PKT_ETH_P_8021Q) : et);
	for (i = 0; i < r->ntags; i++) {
		uint16_t next = et;

		if (i + 1 < r->ntags)
			next = r->tpid[i + 1] ? r->tpid[i + 1] : PKT_ETH_P_8021Q;
		pkt_vlan(p, r->vid[i], next);
	}

	switch (r->l3) {
	case L3_V4:
		ADDR4(r->s ? r->s : "10.0.0.10", s);
		ADDR4(r->d ? r->d : "198.51.100.10", d);
		pkt_ip4(p, s, d, l4, r->opt_words, r->frag);
		break;
	case L3_V6:
		ADDR6(r->s ? r->s : "2001:db8:100::10", s);
		ADDR6(r->d ? r->d : "2001:db8:1::10", d);
		pkt_ip6(p, s, d, r->n_ext ? r->ext[0] : l4);
		for (i = 0; i < r->n_ext; i++) {
			uint8_t next = i + 1 < r->n_ext ? r->ext[i + 1] : l4;

			if (r->ext[i] == PKT_IP_FRAGMENT)
				pkt_ip6_frag(p, r->frag, r->more, next);
			else
				pkt_ip6_ext(p, r->ext[i], r->ext_units, next);
		}
		break;
	case L3_ARP:
		if (!r->nol4) {
			ADDR4("10.0.0.10", s);
			ADDR4("10.0.0.1", d);
			pkt_arp(p, macs[r->src], s, d);
		}
		break;
	}

	if ((r->l3 == L3_V4 || r->l3 == L3_V6) && !r->nol4) {
		switch (l4) {
		case PKT_IP_TCP:
			pkt_tcp(p, 40000, r->dport ? r->dport : 3199);
			break;
		case PKT_IP_UDP:
			pkt_udp(p, 40000, r->dport ? r->dport : 123);
			break;
		default:
			pkt_icmp(p, r->icmp_type, 0);
			break;
		}
	}
	pkt_bytes(p, r->payload, 0x5a);
	assert_int_equal(pkt_finish(p), 0);

	switch (r->mut) {
	case M_IHL:
		p->data[p->ip4_off] = (p->data[p->ip4_off] & 0xf0) | r->mut_val;
		break;
	case M_VER: {
		int off = p->ip4_off >= 0 ? p->ip4_off : p->ip6_off;

		p->data[off] = (p->data[off] & 0x0f) | r->mut_val << 4;
		break;
	}
	case M_TOTLEN_ABS:
		((struct pkt_ip4 *)(p->data + p->ip4_off))->tot_len = htons(r->mut_val);
		break;
	case M_TOTLEN_DELTA:
		((struct pkt_ip4 *)(p->data + p->ip4_off))->tot_len =
			htons(p->len - p->ip4_off + r->mut_val);
		break;
	case M_PAYLEN_ABS:
		((struct pkt_ip6 *)(p->data + p->ip6_off))->payload_len = htons(r->mut_val);
		break;
	case M_PAYLEN_DELTA:
		((struct pkt_ip6 *)(p->data + p->ip6_off))->payload_len =
			htons(p->len - p->ip6_off - sizeof(struct pkt_ip6) + r->mut_val);
		break;
	case M_DOFF:
		((struct pkt_tcp *)(p->data + p->l4_off))->doff_res = r->mut_val << 4;
		break;
	case M_CUT_CONSISTENT:
		p->len -= r->mut_val;
		pkt_set_ip_len(p, p->len);
		break;
	}
	if (r->pad_to > p->len)
		pkt_bytes(p, r->pad_to - p->len, 0);
}

static void set_row_context(const struct row *r)
{
	set_ctl(r->gen);
	set_flags(r->gen, gen_flags[r->gen] | r->flags);
}

static void restore_context(const struct row *r)
{
	set_flags(r->gen, gen_flags[r->gen]);
	set_ctl(0);
}

void test_row(void **state)
{
	const struct row *r = *state;
	struct pkt p;

	build(r, &p);
	set_row_context(r);
	expect(r->name, p.data, p.len, r->v, r->why, watched_index(r->src, r->gen), r->sid,
	       r->touch);
	restore_context(r);
}

/* ------------------------------------------------------------------ */
/* Tests outside the table                                             */
/* ------------------------------------------------------------------ */

/* The kernel refuses XDP test input shorter than an Ethernet header. */
void test_shorter_than_eth_hlen(void **state)
{
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint8_t frame[14] = { 0 };
	uint32_t rc;
	size_t len;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	take_snap(a);
	for (len = 0; len < sizeof(frame); len++) {
		int err = run_prog(frame, len, &rc);

		if (err != -EINVAL)
			fail_msg("%zu-byte frame: BPF_PROG_TEST_RUN returned %d, want -EINVAL",
				 len, err);
	}
	take_snap(b);
	assert_memory_equal(a->g, b->g, sizeof(a->g));
	free(a);
	free(b);
}

/*
 * Truncation.  The rule tested: a frame whose EtherType chain (directly or
 * behind up to two VLAN tags) announces IPv4 or IPv6 is malformed when it
 * ends before the end of any header the program needs - a VLAN tag, the
 * IP header with its options or extension headers, the TCP (20 bytes) or
 * UDP (8) header, the first 4 bytes of ICMPv6 - or before the end the IP
 * length field announces.  (A frame that ends right after the Ethernet
 * header of any other EtherType is *complete* as far as the program is
 * concerned: see the "Ethernet header only" rows.)
 *
 * Each shape is cut at every length from ETH_HLEN to full - 1 twice:
 * "cut" keeps the IP length fields of the full frame (a frame cut short in
 * transit: the length check catches it), "consistent" rewrites them to the
 * cut (a sender that lies consistently: only the per-header bounds checks
 * catch it).
 */
static const struct row shapes[] = {
	{ "v4 tcp ihl 7", GW_A, .opt_words = 2, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D4_DC },
	{ "v4 udp 802.1ad+802.1Q", GW_A, QQ(10, 20), UDP, .d = "192.0.2.123", PASS,
	  .why = EDPG_R_ALLOW, .sid = SVC_NTP, .touch = D4_NTP },
	{ "v6 tcp 802.1Q hop/dst/routing/frag chain", GW_A, Q(3), V6, .n_ext = 4,
	  .ext = { PKT_IP_HOPOPTS, PKT_IP_DSTOPTS, PKT_IP_ROUTING, PKT_IP_FRAGMENT },
	  .ext_units = 1, .more = 1, PASS, .why = EDPG_R_ALLOW, .sid = SVC_EDP_TLS,
	  .touch = D6_DC },
	{ "v6 udp hop-by-hop 16 bytes", GW_A, V6, UDP, .d = "2001:db8:2::123", .n_ext = 1,
	  .ext = { PKT_IP_HOPOPTS }, .ext_units = 1, PASS, .why = EDPG_R_ALLOW, .sid = SVC_NTP,
	  .touch = D6_NTP },
	{ "v6 nd from an unknown mac", UNK, ICMP6(135), PASS, .why = EDPG_R_ND },
	{ "v4 non-first fragment", GW_A, .frag = 5, DROP, .why = EDPG_R_FRAGMENT },
};

/* Shapes whose consistent cuts are all malformed: the L4 header is
 * parsed to its end (ND and non-first fragments are judged on less). */
static int consistent_ok(const struct row *r)
{
	return r->why == EDPG_R_ALLOW;
}

void test_truncation(void **state)
{
	unsigned int i, frames = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		const struct row *r = &shapes[i];
		struct pkt full, cut;
		char name[160];
		size_t len;

		build(r, &full);
		snprintf(name, sizeof(name), "%s: full %zu bytes", r->name, full.len);
		expect(name, full.data, full.len, r->v, r->why, watched_index(r->src, 0), r->sid,
		       r->touch);
		for (len = 14; len < full.len; len++) {
			snprintf(name, sizeof(name), "%s: cut at %zu of %zu", r->name, len,
				 full.len);
			expect(name, full.data, len, EDPG_V_DROP, EDPG_R_MALFORMED, -1, 0, 0);
			frames++;
			if (!consistent_ok(r))
				continue;
			cut = full;
			cut.len = len;
			pkt_set_ip_len(&cut, len);
			snprintf(name, sizeof(name), "%s: consistent cut at %zu of %zu", r->name,
				 len, full.len);
			expect(name, cut.data, cut.len, EDPG_V_DROP, EDPG_R_MALFORMED, -1, 0, 0);
			frames++;
		}
	}
	print_message("%u truncated frames, all malformed\n", frames);
}

/* Flipping edpg_ctl switches the policy for the very next packet, both
 * ways, without touching any other map. */
void test_generation_flip(void **state)
{
	static const struct row r = { "flip", GW_A, .d = "198.51.100.77" };
	struct pkt p;
	int slot = watched_index(GW_A, 0);

	(void)state;
	build(&r, &p);
	set_ctl(1);
	expect("flip to gen 1", p.data, p.len, EDPG_V_PASS, EDPG_R_ALLOW, slot, SVC_EDP_TLS,
	       D4_NEW);
	set_ctl(0);
	expect("flip back to gen 0", p.data, p.len, EDPG_V_DROP, EDPG_R_DESTINATION, slot, 0, 0);
	/* Only the low bit selects: a counter-style generation works too. */
	set_ctl(3);
	expect("gen 3 acts as gen 1", p.data, p.len, EDPG_V_PASS, EDPG_R_ALLOW, slot, SVC_EDP_TLS,
	       D4_NEW);
	set_ctl(0);
}

/* Counters accumulate across packets and bytes are the frame length. */
void test_counters_accumulate(void **state)
{
	static const struct row r = { "acc", GW_A, .payload = 100 };
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	int slot = watched_index(GW_A, 0);
	struct pkt p;
	uint32_t rc;
	int n;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	build(&r, &p);
	take_snap(a);
	for (n = 0; n < 5; n++) {
		assert_int_equal(run_prog(p.data, p.len, &rc), 0);
		assert_int_equal(rc, XDP_PASS);
	}
	take_snap(b);
	assert_int_equal(b->g[EDPG_R_ALLOW].pass.packets - a->g[EDPG_R_ALLOW].pass.packets, 5);
	assert_int_equal(b->g[EDPG_R_ALLOW].pass.bytes - a->g[EDPG_R_ALLOW].pass.bytes,
			 5 * p.len);
	assert_int_equal(b->gw[slot].svc[SVC_EDP_TLS].packets -
			 a->gw[slot].svc[SVC_EDP_TLS].packets, 5);
	assert_int_equal(b->gw[slot].svc[SVC_EDP_TLS].bytes - a->gw[slot].svc[SVC_EDP_TLS].bytes,
			 5 * p.len);
	free(a);
	free(b);
}

static int group_setup(void **state)
{
	int err;

	(void)state;
	skel = edpgate__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "edpgate__open_and_load: %s\n", strerror(-err));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.edpgate_xdp);
	fill_policy();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	edpgate__destroy(skel);
	skel = NULL;
	return 0;
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_shorter_than_eth_hlen),
		cmocka_unit_test(test_generation_flip),
		cmocka_unit_test(test_counters_accumulate),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_cold_row),
		cmocka_unit_test(test_gw_filter),
		cmocka_unit_test(test_events_rate_limit),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_audit_rows),
		cmocka_unit_test(test_audit_gateway),
		cmocka_unit_test(test_learn),
		cmocka_unit_test(test_learn_bounded),
	};
	size_t n = nr_rows + ARRAY_SIZE(fixed), i;
	struct CMUnitTest *tests;
	int rc;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) != 1) {
		fprintf(stderr, "SKIP: this kernel cannot load XDP programs\n");
		return 77;
	}
	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus <= 0) {
		fprintf(stderr, "libbpf_num_possible_cpus: %s\n", strerror(-nr_cpus));
		return 1;
	}

	tests = calloc(n, sizeof(*tests));
	if (!tests)
		return 1;
	for (i = 0; i < nr_rows; i++) {
		tests[i].name = rows[i].name;
		tests[i].test_func = test_row;
		tests[i].initial_state = (void *)&rows[i];
	}
	memcpy(tests + nr_rows, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("datapath", tests, n, group_setup, group_teardown);
	free(tests);
	return rc ? 1 : 0;
}
