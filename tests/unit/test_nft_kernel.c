// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_nft_kernel.c - the nft sink against the real kernel, read back with
 * the real `nft -j` (an independent reader) and jq.
 *
 * Runs inside a private network namespace it creates itself, so the host
 * ruleset is never touched and nothing needs cleaning up: the namespace,
 * and the table in it, vanish when the process exits.  Exits 77 (skipped)
 * when not root or when nft/jq are missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nft.h"
#include "nft_fixture.h"

static const char *const lan[] = { "lan0" };
static const struct edpg_nft_opts opts = { .ifaces = lan, .nifaces = 1,
					   .enforce = EDPG_ENFORCE_BOTH };

/* Output of a shell command run in this namespace, trailing newline cut. */
static char *sh(const char *fmt, ...)
{
	static char out[1 << 20];
	char cmd[1024];
	size_t n = 0, r;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	pclose(f);
	out[n] = '\0';
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
}

/* Elements of a set as nft -j shows them, one compact JSON array. */
static char *nft_elems(const char *set)
{
	return sh("nft -j list set inet edpgate %s | jq -c '[.nftables[] | select(.set) | .set.elem // [] | .[]]'",
		  set);
}

static void apply(const struct edpg_desired *d, const struct edpg_nft_opts *o)
{
	struct edpg_nft_batch *b;
	char err[256];

	assert_int_equal(edpg_nft_build_full(d, o, &b), 0);
	assert_int_equal(edpg_nft_send(b, err, sizeof(err)), 0);
	edpg_nft_batch_free(b);
}

static void test_full_apply_read_by_nft(void **state)
{
	struct edpg_desired *d = fixture(4);

	(void)state;
	apply(d, &opts);
	assert_string_equal(nft_elems("gateways"), "[\"00:40:9d:00:00:01\",\"00:40:9d:00:00:02\"]");
	assert_string_equal(nft_elems("svc_edp"), "[\"00:40:9d:00:00:01\",\"00:40:9d:00:00:02\"]");
	assert_string_equal(nft_elems("svc_edp_legacy"), "[\"00:40:9d:00:00:02\"]");
	assert_string_equal(nft_elems("bound4"), "[\"00:40:9d:00:00:01\"]");
	assert_string_equal(nft_elems("bind4"),
			    "[{\"concat\":[\"00:40:9d:00:00:01\",\"192.168.1.10\"]}]");
	assert_string_equal(nft_elems("bind6"), "[{\"concat\":[\"00:40:9d:00:00:02\",\"fd00::2\"]}]");
	assert_string_equal(nft_elems("g_dc_v4"), "[\"52.1.2.3\",\"52.1.2.4\"]");
	assert_string_equal(nft_elems("g_ntp_v4"),
			    "[{\"prefix\":{\"addr\":\"10.9.0.0\",\"len\":16}},\"52.1.2.4\"]");
	assert_string_equal(nft_elems("g_dc_v6"), "[\"2001:db8::1\"]");
	assert_string_equal(nft_elems("g_ntp_v6"), "[{\"prefix\":{\"addr\":\"2001:db8:1::\",\"len\":48}}]");
	/* hooks and policy as the independent reader sees them */
	assert_string_equal(sh("nft -j list chains inet | jq -c '[.nftables[] | select(.chain.table == \"edpgate\") | .chain | select(.hook) | [.name, .hook, .prio, .policy]]'"),
			    "[[\"lan_forward\",\"forward\",-1,\"accept\"],[\"lan_input\",\"input\",-1,\"accept\"]]");
	/* in both/nft mode the decision chain ends in drop, and the
	 * unknown-MAC rule drops */
	assert_string_equal(sh("nft -j list chain inet edpgate lan_decide | jq -c '[.nftables[] | select(.rule) | .rule | select(.comment == \"port\" or .comment == \"unknown_mac\") | .expr[-1]]'"),
			    "[{\"drop\":null},{\"drop\":null}]");
	fixture_free(d);
}

static void test_xdp_mode_accepts(void **state)
{
	struct edpg_nft_opts o = opts;
	struct edpg_desired *d = fixture(4);

	(void)state;
	o.enforce = EDPG_ENFORCE_XDP;
	apply(d, &o);
	assert_string_equal(sh("nft -j list table inet edpgate | jq -c '[.nftables[] | select(.rule) | .rule | .expr[-1] | keys[0]] | unique'"),
			    "[\"accept\",\"goto\"]");
	/* XDP decides: the hooked chains are empty, the mirror is unhooked */
	assert_string_equal(sh("nft -j list table inet edpgate | jq -c '[.nftables[] | select(.rule) | .rule | select(.chain == \"lan_forward\" or .chain == \"lan_input\")] | length'"),
			    "0");
	/* the sets are all there in xdp mode too */
	assert_string_equal(nft_elems("g_dc_v4"), "[\"52.1.2.3\",\"52.1.2.4\"]");
	fixture_free(d);
}

static void test_delta_shows_up(void **state)
{
	struct edpg_desired *d = fixture(4), *n = fixture(4);
	struct edpg_nft_batch *b;
	char err[256];

	(void)state;
	apply(d, &opts);
	add_gw(n, 3, 4, NULL, NULL);		/* new gateway, ntp only */
	n->dsts[3].groups = 1;			/* 52.1.2.4 leaves group ntp */
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	assert_int_equal(edpg_nft_batch_nmsgs(b), 3);	/* del g_ntp_v4, add gateways, svc_ntp */
	assert_int_equal(edpg_nft_send(b, err, sizeof(err)), 0);
	edpg_nft_batch_free(b);
	assert_string_equal(nft_elems("gateways"),
			    "[\"00:40:9d:00:00:01\",\"00:40:9d:00:00:02\",\"00:40:9d:00:00:03\"]");
	assert_string_equal(nft_elems("svc_ntp"),
			    "[\"00:40:9d:00:00:01\",\"00:40:9d:00:00:02\",\"00:40:9d:00:00:03\"]");
	assert_string_equal(nft_elems("g_ntp_v4"), "[{\"prefix\":{\"addr\":\"10.9.0.0\",\"len\":16}}]");
	assert_string_equal(nft_elems("g_dc_v4"), "[\"52.1.2.3\",\"52.1.2.4\"]");
	fixture_free(d);
	fixture_free(n);
}

static void test_verify_names_tampering(void **state)
{
	struct edpg_desired *d = fixture(4);
	char **diffs;
	size_t n;

	(void)state;
	apply(d, &opts);
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &n), 0);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "unexpected diff: %s\n", diffs[i]);
	assert_int_equal(n, 0);
	edpg_nft_diffs_free(diffs, n);

	assert_string_equal(sh("nft delete element inet edpgate g_dc_v4 '{ 52.1.2.3 }' 2>&1; "
			       "nft delete element inet edpgate svc_edp '{ 00:40:9d:00:00:02 }' 2>&1; "
			       "nft add element inet edpgate g_ntp_v6 '{ 2001:db8:9::/64 }' 2>&1"), "");
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(diffs[0], "set svc_edp: missing element 00:40:9d:00:00:02");
	assert_string_equal(diffs[1], "set g_dc_v4: missing element 52.1.2.3");
	assert_string_equal(diffs[2], "set g_ntp_v6: extra element 2001:db8:9::/64");
	edpg_nft_diffs_free(diffs, n);

	/* a rule and a chain changed behind our back */
	sh("nft add rule inet edpgate lan_decide counter accept; nft add chain inet edpgate mine");
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &n), 0);
	assert_int_equal(n, 5);
	assert_non_null(strstr(diffs[3], "chain lan_decide: extra rule"));
	assert_string_equal(diffs[4], "chain mine: extra");
	edpg_nft_diffs_free(diffs, n);

	/* re-apply heals everything */
	apply(d, &opts);
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &n), 0);
	assert_int_equal(n, 0);
	edpg_nft_diffs_free(diffs, n);

	/* no table at all */
	assert_int_equal(edpg_nft_delete_table(), 0);
	assert_int_equal(edpg_nft_delete_table(), -ENOENT);
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(diffs[0], "table inet edpgate: missing");
	edpg_nft_diffs_free(diffs, n);
	fixture_free(d);
}

static void test_20000_elements(void **state)
{
	struct edpg_desired *d = fixture(20002), *n;
	struct edpg_nft_batch *b;
	char **diffs;
	size_t nd, i;

	(void)state;
	d->ngws = 0;
	for (i = 0; i < 20000; i++)
		add_gw(d, (uint32_t)i + 16, 1, NULL, NULL);
	apply(d, &opts);
	assert_string_equal(sh("nft -j list set inet edpgate gateways | jq '[.nftables[] | select(.set) | .set.elem[]] | length'"),
			    "20000");
	assert_string_equal(sh("nft -j list set inet edpgate svc_edp | jq '[.nftables[] | select(.set) | .set.elem[]] | length'"),
			    "20000");
	assert_int_equal(edpg_nft_verify(d, &opts, &diffs, &nd), 0);
	assert_int_equal(nd, 0);
	edpg_nft_diffs_free(diffs, nd);

	/* removing all of them is a delta of many split messages */
	n = fixture(4);
	n->ngws = 0;
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	assert_true(edpg_nft_batch_nmsgs(b) >= 4);
	assert_int_equal(edpg_nft_send(b, NULL, 0), 0);
	edpg_nft_batch_free(b);
	assert_string_equal(nft_elems("gateways"), "[]");
	fixture_free(n);
	fixture_free(d);
}

static void test_error_in_words(void **state)
{
	struct edpg_desired *d = fixture(4), *n = fixture(4);
	struct edpg_nft_batch *b;
	char err[256];

	(void)state;
	apply(d, &opts);
	/* the set g_ntp_v4 is gone: a delta touching it must fail, name
	 * the message, and leave the rest of the transaction unapplied */
	assert_string_equal(sh("nft delete rule inet edpgate chk_ntp handle $(nft -a list chain inet edpgate chk_ntp | awk '/g_ntp_v4/ {print $NF}') 2>&1; "
			       "nft delete set inet edpgate g_ntp_v4 2>&1"), "");
	add_gw(n, 3, 1, NULL, NULL);
	add_dst(n, "10.10.0.1", 32, 2);
	assert_int_equal(edpg_nft_build_delta(d, n, &opts, &b), 0);
	assert_int_equal(edpg_nft_send(b, err, sizeof(err)), -ENOENT);
	edpg_nft_batch_free(b);
	assert_string_equal(err, "adding 1 element to set g_ntp_v4: No such file or directory");
	assert_string_equal(nft_elems("gateways"), "[\"00:40:9d:00:00:01\",\"00:40:9d:00:00:02\"]");
	fixture_free(d);
	fixture_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_apply_read_by_nft),
		cmocka_unit_test(test_xdp_mode_accepts),
		cmocka_unit_test(test_delta_shows_up),
		cmocka_unit_test(test_verify_names_tampering),
		cmocka_unit_test(test_20000_elements),
		cmocka_unit_test(test_error_in_words),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root for a private network namespace\n");
		return 77;
	}
	if (system("nft --version >/dev/null 2>&1 && jq --version >/dev/null 2>&1")) {
		fprintf(stderr, "skip: needs nft and jq\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "skip: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
