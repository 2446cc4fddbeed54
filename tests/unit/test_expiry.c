// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_expiry.c - the expiry rule at its boundaries: the exact second an
 * address goes, grace, min-ttl above the TTL, data-path use extending it,
 * refresh in place, and the per-name cap's eviction order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "expiry.h"

static struct edpg_addr ip(const char *s)
{
	struct edpg_addr a = { 0 };

	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	a.plen = a.family == AF_INET ? 32 : 128;
	assert_int_equal(inet_pton(a.family, s, a.addr), 1);
	return a;
}

static void table(struct edpg_dst_table *t, uint32_t min_ttl, uint32_t grace, uint32_t max)
{
	struct edpg_dst_params p = { .min_ttl = min_ttl, .grace = grace, .max_addrs = max };

	edpg_dst_table_init(t);
	assert_int_equal(edpg_dst_set_params(t, 0, &p), 0);
}

static void test_defaults(void **state)
{
	struct edpg_dst_table t;
	struct edpg_dst_params p = { 0 };

	(void)state;
	edpg_dst_table_init(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.params[EDPG_MAX_GROUPS - 1].min_ttl, EDPG_DEF_MIN_TTL);
	assert_int_equal(t.params[0].grace, EDPG_DEF_GRACE);
	assert_int_equal(t.params[3].max_addrs, EDPG_DEF_MAX_ADDRS);
	assert_int_equal(edpg_dst_set_params(&t, -1, &p), -EINVAL);
	assert_int_equal(edpg_dst_set_params(&t, EDPG_MAX_GROUPS, &p), -EINVAL);
	assert_int_equal(edpg_dst_add(&t, EDPG_MAX_GROUPS, "x", &(struct edpg_addr){ .family = AF_INET },
				      SRC_RESOLVED, 1, 1), -EINVAL);
	assert_string_equal(edpg_dst_source_name(SRC_SNOOPED), "snooped");
	assert_string_equal(edpg_dst_source_name(SRC_CACHE), "cache");
	edpg_dst_table_free(&t);
}

static void test_ttl_and_grace(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr a = ip("198.51.100.7");
	struct edpg_dst_entry *e;

	(void)state;
	table(&t, 60, 300, 16);
	assert_int_equal(edpg_dst_add(&t, 0, "0.idigi.pool.ntp.org", &a, SRC_RESOLVED, 150, 1000), 1);
	e = edpg_dst_find(&t, 0, "0.idigi.pool.ntp.org", &a);
	assert_non_null(e);
	assert_int_equal(e->seen, 1000);
	assert_int_equal(e->ttl, 150);
	assert_int_equal(e->expires_ttl, 1150);
	/* 1000 + 150 + 300: alive at 1449, gone at exactly 1450. */
	assert_int_equal(edpg_dst_expiry(e, &t.params[0]), 1450);
	assert_true(edpg_dst_alive(e, &t.params[0], 1449));
	assert_false(edpg_dst_alive(e, &t.params[0], 1450));

	/* Without grace the TTL alone: gone at exactly 1150. */
	t.params[0].grace = 0;
	assert_true(edpg_dst_alive(e, &t.params[0], 1149));
	assert_false(edpg_dst_alive(e, &t.params[0], 1150));
	edpg_dst_table_free(&t);
}

static void test_min_ttl(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr a = ip("192.0.2.10");
	struct edpg_dst_entry *e;

	(void)state;
	/* A TTL of 5 s is stretched to the 60 s floor. */
	table(&t, 60, 10, 16);
	assert_int_equal(edpg_dst_add(&t, 0, "login.etherios.com", &a, SRC_RESOLVED, 5, 1000), 1);
	e = edpg_dst_find(&t, 0, "login.etherios.com", &a);
	assert_int_equal(e->ttl, 5);
	assert_int_equal(e->expires_ttl, 1060);
	assert_int_equal(edpg_dst_expiry(e, &t.params[0]), 1070);
	assert_true(edpg_dst_alive(e, &t.params[0], 1069));
	assert_false(edpg_dst_alive(e, &t.params[0], 1070));
	/* TTL 0 as well. */
	assert_int_equal(edpg_dst_add(&t, 0, "x.example", &a, SRC_RESOLVED, 0, 1000), 1);
	assert_int_equal(edpg_dst_find(&t, 0, "x.example", &a)->expires_ttl, 1060);
	/* A TTL above the floor is used as is. */
	assert_int_equal(edpg_dst_add(&t, 0, "y.example", &a, SRC_RESOLVED, 61, 1000), 1);
	assert_int_equal(edpg_dst_find(&t, 0, "y.example", &a)->expires_ttl, 1061);
	edpg_dst_table_free(&t);
}

static void test_last_used(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr a = ip("198.51.100.7"), b = ip("2001:db8::7");
	struct edpg_dst_entry *e;
	const struct edpg_dst_params *p;

	(void)state;
	/* The NTP case: TTL 150, grace 1100 (> the 1024 s max poll). */
	table(&t, 60, 1100, 16);
	p = &t.params[0];
	assert_int_equal(edpg_dst_add(&t, 0, "ntp", &a, SRC_SNOOPED, 150, 1000), 1);
	e = edpg_dst_find(&t, 0, "ntp", &a);
	assert_int_equal(edpg_dst_expiry(e, p), 2250);
	/* Never used: not in use, whatever "now" is (even below grace). */
	assert_false(edpg_dst_in_use(e, p, 5));
	assert_false(edpg_dst_in_use(e, p, 1000));

	/* Use before the TTL ran out does not shorten anything. */
	assert_int_equal(edpg_dst_used(&t, &a, 1100), 1);
	assert_int_equal(edpg_dst_expiry(e, p), 2250);
	/* Use after it extends: 3000 + 1100, gone at exactly 4100. */
	assert_int_equal(edpg_dst_used(&t, &a, 3000), 1);
	assert_int_equal(e->last_used, 3000);
	assert_int_equal(edpg_dst_expiry(e, p), 4100);
	assert_true(edpg_dst_alive(e, p, 4099));
	assert_false(edpg_dst_alive(e, p, 4100));
	assert_true(edpg_dst_in_use(e, p, 4099));
	assert_false(edpg_dst_in_use(e, p, 4100));
	/* A stale report does not move last_used back. */
	edpg_dst_used(&t, &a, 2000);
	assert_int_equal(e->last_used, 3000);
	/* Another address is not touched. */
	assert_int_equal(edpg_dst_used(&t, &b, 5000), 0);
	assert_int_equal(e->last_used, 3000);

	/* Use is per address: every name and group carrying it is extended. */
	assert_int_equal(edpg_dst_add(&t, 0, "other", &a, SRC_RESOLVED, 150, 1000), 1);
	assert_int_equal(edpg_dst_add(&t, 2, "ntp", &a, SRC_RESOLVED, 150, 1000), 1);
	assert_int_equal(edpg_dst_used(&t, &a, 3500), 3);
	assert_int_equal(edpg_dst_find(&t, 2, "ntp", &a)->last_used, 3500);
	edpg_dst_table_free(&t);
}

static void test_refresh(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr a = ip("192.0.2.10");
	struct edpg_dst_entry *e;

	(void)state;
	table(&t, 60, 300, 16);
	assert_int_equal(edpg_dst_add(&t, 0, "login.etherios.com", &a, SRC_CACHE, 600, 1000), 1);
	/* Seen again later: extended in place, same entry, not a new one. */
	assert_int_equal(edpg_dst_add(&t, 0, "Login.Etherios.COM", &a, SRC_RESOLVED, 600, 1500), 0);
	assert_int_equal(t.n, 1);
	e = edpg_dst_find(&t, 0, "login.etherios.com", &a);
	assert_int_equal(e->seen, 1500);
	assert_int_equal(e->expires_ttl, 2100);
	assert_int_equal(e->source, SRC_RESOLVED);
	/* A snooped answer from a cache with 20 s left never shortens it. */
	assert_int_equal(edpg_dst_add(&t, 0, "login.etherios.com", &a, SRC_SNOOPED, 20, 1600), 0);
	assert_int_equal(e->expires_ttl, 2100);
	assert_int_equal(e->seen, 1600);
	assert_int_equal(e->ttl, 20);
	assert_int_equal(e->source, SRC_SNOOPED);
	/* The same address for another name or group is its own entry. */
	assert_int_equal(edpg_dst_add(&t, 0, "login.etherios.co.uk", &a, SRC_RESOLVED, 1, 1600), 1);
	assert_int_equal(edpg_dst_add(&t, 1, "login.etherios.com", &a, SRC_RESOLVED, 1, 1600), 1);
	assert_int_equal(t.n, 3);

	/* A static entry stays static and never expires. */
	assert_int_equal(edpg_dst_add(&t, 3, "", &a, SRC_STATIC, 0, 0), 1);
	assert_int_equal(edpg_dst_add(&t, 3, "", &a, SRC_RESOLVED, 5, 10), 0);
	e = edpg_dst_find(&t, 3, "", &a);
	assert_int_equal(e->source, SRC_STATIC);
	assert_int_equal(edpg_dst_expiry(e, &t.params[3]), UINT64_MAX);
	edpg_dst_table_free(&t);
}

static void test_expire(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr a = ip("192.0.2.1"), b = ip("192.0.2.2"), c = ip("2001:db8::3");
	struct edpg_dst_entry *rm;
	size_t n;

	(void)state;
	table(&t, 0, 100, 16);
	edpg_dst_add(&t, 0, "n", &a, SRC_RESOLVED, 10, 1000);	/* gone at 1110 */
	edpg_dst_add(&t, 0, "n", &b, SRC_RESOLVED, 20, 1000);	/* gone at 1120 */
	edpg_dst_add(&t, 0, "n", &c, SRC_RESOLVED, 10, 1000);	/* used: 1150 + 100 */
	edpg_dst_add(&t, 0, "", &a, SRC_STATIC, 0, 1000);
	edpg_dst_used(&t, &c, 1150);
	assert_int_equal(edpg_dst_next_expiry(&t), 1110);

	assert_int_equal(edpg_dst_expire(&t, 1109, &rm, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rm);
	assert_int_equal(t.n, 4);

	assert_int_equal(edpg_dst_expire(&t, 1110, &rm, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rm[0].name, "n");
	assert_memory_equal(rm[0].addr.addr, a.addr, 4);
	free(rm);
	assert_int_equal(t.n, 3);
	assert_null(edpg_dst_find(&t, 0, "n", &a));
	/* The static entry with the same address stays. */
	assert_non_null(edpg_dst_find(&t, 0, "", &a));
	assert_int_equal(edpg_dst_next_expiry(&t), 1120);

	/* Far in the future only the static entry is left. */
	assert_int_equal(edpg_dst_expire(&t, 1249, &rm, &n), 0);
	assert_int_equal(n, 1);
	free(rm);
	assert_non_null(edpg_dst_find(&t, 0, "n", &c));
	assert_int_equal(edpg_dst_expire(&t, 1250, &rm, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(rm[0].addr.addr, c.addr, 16);
	free(rm);
	assert_int_equal(edpg_dst_expire(&t, UINT64_MAX - 1, &rm, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(edpg_dst_next_expiry(&t), UINT64_MAX);
	edpg_dst_table_free(&t);
}

static void test_cap(void **state)
{
	struct edpg_dst_table t;
	struct edpg_addr v[6];
	struct edpg_dst_entry *rm;
	char s[32];
	size_t n;

	(void)state;
	table(&t, 60, 300, 3);
	for (int i = 0; i < 6; i++) {
		snprintf(s, sizeof(s), "203.0.113.%d", i + 1);
		v[i] = ip(s);
	}
	/* Five addresses for the pool name, seen at 1001..1005; the oldest
	 * one (v0) carries a live flow. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(edpg_dst_add(&t, 0, "pool", &v[i], SRC_SNOOPED, 150, 1001 + i), 1);
	edpg_dst_used(&t, &v[0], 1010);
	/* Another name and a static entry of the group do not count. */
	edpg_dst_add(&t, 0, "other", &v[5], SRC_RESOLVED, 150, 900);
	edpg_dst_add(&t, 0, "pool", &v[5], SRC_STATIC, 0, 900);

	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 1020, &rm, &n), 0);
	/* Unused and oldest first: v1 and v2 go, the used v0 stays. */
	assert_int_equal(n, 2);
	assert_memory_equal(rm[0].addr.addr, v[1].addr, 4);
	assert_memory_equal(rm[1].addr.addr, v[2].addr, 4);
	free(rm);
	assert_non_null(edpg_dst_find(&t, 0, "pool", &v[0]));
	assert_non_null(edpg_dst_find(&t, 0, "pool", &v[3]));
	assert_non_null(edpg_dst_find(&t, 0, "pool", &v[4]));
	assert_non_null(edpg_dst_find(&t, 0, "other", &v[5]));
	assert_non_null(edpg_dst_find(&t, 0, "pool", &v[5]));

	/* At the cap nothing goes. */
	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 1020, &rm, &n), 0);
	assert_int_equal(n, 0);

	/* Refreshing v3 makes v4 the oldest unused one. */
	edpg_dst_add(&t, 0, "pool", &v[3], SRC_SNOOPED, 150, 1030);
	edpg_dst_add(&t, 0, "pool", &v[1], SRC_SNOOPED, 150, 1031);
	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 1031, &rm, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(rm[0].addr.addr, v[4].addr, 4);
	free(rm);

	/* Once v0's use is older than the grace it is unused and the oldest. */
	edpg_dst_add(&t, 0, "pool", &v[2], SRC_SNOOPED, 150, 1400);
	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 1310, &rm, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(rm[0].addr.addr, v[0].addr, 4);
	free(rm);

	/* All in use: the least recently used goes. */
	t.params[0].max_addrs = 1;
	edpg_dst_used(&t, &v[1], 1500);
	edpg_dst_used(&t, &v[2], 1450);
	edpg_dst_used(&t, &v[3], 1490);
	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 1500, &rm, &n), 0);
	assert_int_equal(n, 2);
	free(rm);
	assert_non_null(edpg_dst_find(&t, 0, "pool", &v[1]));
	assert_null(edpg_dst_find(&t, 0, "pool", &v[2]));
	assert_null(edpg_dst_find(&t, 0, "pool", &v[3]));

	/* max_addrs 0: no cap. */
	t.params[0].max_addrs = 0;
	for (int i = 0; i < 6; i++)
		edpg_dst_add(&t, 0, "pool", &v[i], SRC_SNOOPED, 150, 2000);
	assert_int_equal(edpg_dst_evict(&t, 0, "pool", 2000, &rm, &n), 0);
	assert_int_equal(n, 0);
	edpg_dst_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ttl_and_grace),
		cmocka_unit_test(test_min_ttl),
		cmocka_unit_test(test_last_used),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
