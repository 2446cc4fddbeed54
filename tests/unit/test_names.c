// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_names.c - the destination table of names.c and the cache format of
 * addrcache.c: snooped answers (real dnsmasq bytes, CNAME chain, TCP
 * framing, garbage) land in every group listing the name, refresh in place,
 * the per-name cap, last-known-good cache entries kept until their name is
 * confirmed, both cache formats, and the cache round trip through wall
 * time.  No kernel needed.
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
#include <unistd.h>
#include <cmocka.h>

#include "addr.h"
#include "addrcache.h"
#include "names.h"
#include "rules.h"
#include "unit/dns_samples.h"

static const char rules[] =
	"service edp-ssl tcp 3199\n"
	"service ntp udp 123\n"
	"group devicecloud login.etherios.com login.etherios.co.uk\n"
	"group ntp min-ttl 10 grace 100 max-addrs 2 time.etherios.co.uk 0.idigi.pool.ntp.org\n"
	"group eu login.etherios.co.uk 192.0.2.0/24\n"
	"allow edp-ssl to devicecloud\n"
	"allow edp-ssl to eu\n"
	"allow ntp to ntp\n";

static struct edpg_policy pol;

static int setup(void **state)
{
	struct edpg_diags d = { 0 };

	(void)state;
	assert_int_equal(edpg_rules_parse(&pol, "t.rules", rules, strlen(rules), &d), 0);
	edpg_diags_free(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	edpg_policy_free(&pol);
	return 0;
}

static struct edpg_addr ip(const char *s)
{
	struct edpg_addr a = { 0 };

	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	a.plen = a.family == AF_INET ? 32 : 128;
	assert_int_equal(inet_pton(a.family, s, a.addr), 1);
	return a;
}

static int gid(const char *name)
{
	return edpg_policy_group_id(&pol, name);
}

static void test_snooped_cname(void **state)
{
	struct edpg_names n;
	struct edpg_addr a = ip("198.51.100.7");
	struct edpg_dst_entry *e;

	(void)state;
	assert_int_equal(edpg_names_init(&n, &pol, 0), 0);
	/* time.etherios.co.uk -> CNAME 0.idigi.pool.ntp.org -> A, TTL 150. */
	assert_int_equal(edpg_names_snooped(&n, NULL, NULL, 0, cname_chain, sizeof(cname_chain), false, 1000,
					    NULL, NULL), 1);
	assert_int_equal(n.t.n, 1);
	e = edpg_dst_find(&n.t, gid("ntp"), "time.etherios.co.uk", &a);
	assert_non_null(e);
	assert_int_equal(e->source, SRC_SNOOPED);
	assert_int_equal(e->ttl, 150);
	assert_int_equal(e->expires_ttl, 1150);
	/* Seen again later: refreshed in place, not a second entry. */
	assert_int_equal(edpg_names_snooped(&n, NULL, NULL, 0, cname_chain, sizeof(cname_chain), false, 2000,
					    NULL, NULL), 0);
	assert_int_equal(n.t.n, 1);
	assert_int_equal(e->expires_ttl, 2150);
	/* NXDOMAIN, a name of no group, garbage: nothing added. */
	assert_int_equal(edpg_names_snooped(&n, NULL, NULL, 0, nxdomain, sizeof(nxdomain), false, 2000, NULL,
					    NULL), 0);
	assert_true(edpg_names_snooped(&n, NULL, NULL, 0, (const uint8_t *)"garbage!", 8, false, 2000, NULL,
				       NULL) < 0);
	assert_true(edpg_names_snooped(&n, NULL, NULL, 0, cname_chain, sizeof(cname_chain) - 3, false, 2000,
				       NULL, NULL) < 0);
	assert_int_equal(n.t.n, 1);
	edpg_names_free(&n);
}

static void test_snooped_tcp_two_groups(void **state)
{
	struct edpg_names n;
	struct edpg_resolved *r;
	struct edpg_addr a = ip("192.0.2.11");
	size_t nr;

	(void)state;
	assert_int_equal(edpg_names_init(&n, &pol, 0), 0);
	/* login.etherios.co.uk is in devicecloud and eu: one entry each. */
	assert_int_equal(edpg_names_snooped(&n, NULL, NULL, 0, tcp_a, sizeof(tcp_a), true, 10, NULL, NULL), 2);
	assert_non_null(edpg_dst_find(&n.t, gid("devicecloud"), "login.etherios.co.uk", &a));
	assert_non_null(edpg_dst_find(&n.t, gid("eu"), "login.etherios.co.uk", &a));
	/* The compile input lists the address once for the name. */
	assert_int_equal(edpg_names_resolved(&n, &r, &nr), 0);
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(r[i].name, "login.etherios.co.uk"))
			assert_int_equal(r[i].naddrs, 1);
		else
			assert_int_equal(r[i].naddrs, 0);
	for (size_t i = 0; i < nr; i++) {
		free((char *)r[i].name);
		free(r[i].addrs);
	}
	free(r);
	edpg_names_free(&n);
}

/* The question @answer answers: its header with QR and the counts reset,
 * and its question section (uncompressed at offset 12 in the samples). */
static size_t question_of(const uint8_t *answer, uint8_t *q)
{
	size_t p = 12;

	while (answer[p])
		p += answer[p] + 1;
	p += 1 + 4;
	memcpy(q, answer, p);
	q[2] = 0x01;	/* QR=0, RD */
	q[3] = 0x00;
	memset(q + 4, 0, 8);
	q[5] = 1;	/* one question */
	return p;
}

static void test_snooped_needs_question(void **state)
{
	const uint8_t gw[6] = { 0x00, 0x40, 0x9d, 0, 0, 1 }, other[6] = { 0x00, 0x40, 0x9d, 0, 0, 2 };
	struct edpg_questions *qs = calloc(1, sizeof(*qs));
	struct edpg_names n;
	uint8_t q[300], lie[sizeof(cname_chain)];
	size_t ql;

	(void)state;
	assert_non_null(qs);
	assert_int_equal(edpg_names_init(&n, &pol, 0), 0);
	/* Nobody asked: the answer is refused. */
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40000, cname_chain, sizeof(cname_chain),
					    false, 1000, NULL, NULL), -EPERM);
	assert_int_equal(n.t.n, 0);
	/* The gateway asks from port 40000. */
	ql = question_of(cname_chain, q);
	assert_int_equal(edpg_names_asked(&n, qs, gw, 40000, q, ql, false, 1000), 1);
	/* An answer is not a question; a question of another name is not kept. */
	assert_true(edpg_names_asked(&n, qs, gw, 40000, cname_chain, sizeof(cname_chain), false,
				     1000) < 0);
	/* Wrong gateway, wrong port, wrong id: refused. */
	assert_int_equal(edpg_names_snooped(&n, qs, other, 40000, cname_chain, sizeof(cname_chain),
					    false, 1001, NULL, NULL), -EPERM);
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40001, cname_chain, sizeof(cname_chain),
					    false, 1001, NULL, NULL), -EPERM);
	memcpy(lie, cname_chain, sizeof(lie));
	lie[1] ^= 1;
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40000, lie, sizeof(lie), false, 1001, NULL,
					    NULL), -EPERM);
	/* Too late: refused. */
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40000, cname_chain, sizeof(cname_chain),
					    false, 1000 + EDPG_QUESTION_LIFE + 1, NULL, NULL), -EPERM);
	assert_int_equal(n.t.n, 0);
	/* In time: taken, once. */
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40000, cname_chain, sizeof(cname_chain),
					    false, 1002, NULL, NULL), 1);
	assert_int_equal(n.t.n, 1);
	assert_int_equal(edpg_names_snooped(&n, qs, gw, 40000, cname_chain, sizeof(cname_chain),
					    false, 1003, NULL, NULL), -EPERM);
	/* A question of no rules name is not kept: its answer was no business anyway. */
	q[13] ^= 0x20;	/* still a name, just not the same letters */
	q[14] = 'z';
	assert_int_equal(edpg_names_asked(&n, qs, gw, 40000, q, ql, false, 1004), 0);
	edpg_names_free(&n);
	free(qs);
}

static void test_cap(void **state)
{
	struct edpg_names n;
	struct edpg_addr a[3] = { ip("198.51.100.1"), ip("198.51.100.2"), ip("198.51.100.3") };
	uint32_t ttl[3] = { 60, 60, 60 };

	(void)state;
	assert_int_equal(edpg_names_init(&n, &pol, 0), 0);
	/* max-addrs 2: three adds and one eviction. */
	assert_int_equal(edpg_names_answer(&n, "0.idigi.pool.ntp.org", a, ttl, 3, SRC_RESOLVED, 5,
					   NULL, NULL), 4);
	assert_int_equal(n.t.n, 2);
	assert_int_equal(edpg_names_answer(&n, "not.in.a.group", a, ttl, 1, SRC_RESOLVED, 5,
					   NULL, NULL), -ENOENT);
	edpg_names_free(&n);
}

static char *tmpfile_with(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/edpg-test-names.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_cache_kept_until_confirmed(void **state)
{
	struct edpg_names n;
	struct edpg_addr a = ip("198.51.100.7");
	uint32_t ttl = 60;
	char *path;

	(void)state;
	/* The first format: name and address only. */
	path = tmpfile_with("# old cache\n0.idigi.pool.ntp.org 198.51.100.9\nbogus line\n"
			    "gone.example 192.0.2.1\n");
	assert_int_equal(edpg_names_init(&n, &pol, 0), 0);
	assert_int_equal(edpg_names_load_cache(&n, path, 1000), 0);
	unlink(path);
	assert_int_equal(n.t.n, 1);	/* gone.example is in no group */
	assert_int_equal(n.t.v[0].source, SRC_CACHE);
	/* WAN down for a long time: the unconfirmed cache entry stays. */
	assert_int_equal(edpg_names_expire(&n, 1000000, NULL, NULL), 0);
	assert_int_equal(edpg_names_next_expiry(&n), UINT64_MAX);
	/* The name answers (another address): the cached one now expires
	 * normally, and its expiry (1000 + 10 + 100) is long past. */
	assert_int_equal(edpg_names_answer(&n, "0.idigi.pool.ntp.org", &a, &ttl, 1, SRC_RESOLVED,
					   1000000, NULL, NULL), 1);
	assert_int_equal(edpg_names_expire(&n, 1000001, NULL, NULL), 1);
	assert_int_equal(n.t.n, 1);
	assert_memory_equal(n.t.v[0].addr.addr, a.addr, 4);
	/* ... which goes at 1000000 + max(60, 10) + grace 100. */
	assert_int_equal(edpg_names_next_expiry(&n), 1000160);
	assert_int_equal(edpg_names_expire(&n, 1000159, NULL, NULL), 0);
	assert_int_equal(edpg_names_expire(&n, 1000160, NULL, NULL), 1);
	edpg_names_free(&n);
}

static void test_cache_round_trip(void **state)
{
	struct edpg_cache_entry *v;
	struct edpg_names n, m;
	struct edpg_addr a = ip("2001:db8::7");
	uint32_t ttl = 150;
	char *path;
	size_t cnt;

	(void)state;
	/* Table clock = monotonic seconds; wall = t + 1,700,000,000. */
	assert_int_equal(edpg_names_init(&n, &pol, 1700000000), 0);
	assert_int_equal(edpg_names_answer(&n, "time.etherios.co.uk", &a, &ttl, 1, SRC_SNOOPED,
					   50, NULL, NULL), 1);
	n.t.v[0].last_used = 60;
	path = tmpfile_with("");
	assert_int_equal(edpg_names_save_cache(&n, path), 0);
	assert_int_equal(edpg_cache_load_entries(path, &v, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_string_equal(v[0].name, "time.etherios.co.uk");
	assert_string_equal(v[0].group, "ntp");
	assert_int_equal(v[0].source, SRC_SNOOPED);
	assert_int_equal(v[0].ttl, 150);
	assert_int_equal(v[0].seen, 1700000050);
	assert_int_equal(v[0].expires, 1700000200);
	assert_int_equal(v[0].last_used, 1700000060);
	free(v);
	/* Read back by a process whose clock started elsewhere (a reboot). */
	assert_int_equal(edpg_names_init(&m, &pol, 1700000000 - 1000), 0);
	assert_int_equal(edpg_names_load_cache(&m, path, 1100), 0);
	unlink(path);
	assert_int_equal(m.t.n, 1);
	assert_int_equal(m.t.v[0].source, SRC_CACHE);
	assert_int_equal(m.t.v[0].seen, 1050);
	assert_int_equal(m.t.v[0].expires_ttl, 1200);
	assert_int_equal(m.t.v[0].last_used, 1060);
	edpg_names_free(&m);
	edpg_names_free(&n);
}

/*
 * Addresses that leave the table are remembered (newest last, one record
 * per name and address, bounded) beside the cache, for `doctor`: a Cloud
 * Connector keeps reconnecting to the address it resolved earlier.
 */
static void test_retired(void **state)
{
	struct edpg_cache_entry *v;
	struct edpg_names n, m;
	struct edpg_addr a = ip("198.51.100.10"), b = ip("198.51.100.11");
	uint32_t ttl = 60;
	char *path, rp[128];
	size_t cnt;

	(void)state;
	assert_int_equal(edpg_names_init(&n, &pol, 1700000000), 0);
	assert_int_equal(edpg_names_answer(&n, "login.etherios.com", &a, &ttl, 1, SRC_RESOLVED, 10,
					   NULL, NULL), 1);
	assert_int_equal(n.nretired, 0);
	/* The name moves to b; a expires at 10 + 60 + grace 300. */
	assert_int_equal(edpg_names_answer(&n, "login.etherios.com", &b, &ttl, 1, SRC_RESOLVED, 20,
					   NULL, NULL), 1);
	assert_int_equal(edpg_names_expire(&n, 369, NULL, NULL), 0);
	assert_int_equal(n.nretired, 0);
	assert_int_equal(edpg_names_expire(&n, 370, NULL, NULL), 1);
	assert_int_equal(n.nretired, 1);
	assert_string_equal(n.retired[0].name, "login.etherios.com");
	assert_string_equal(n.retired[0].group, "devicecloud");
	assert_int_equal(edpg_addr_cmp(&n.retired[0].addr, &a), 0);
	assert_int_equal(n.retired[0].expires, 1700000370);
	/* Saved beside the cache and read back. */
	path = tmpfile_with("");
	assert_int_equal(edpg_names_save_cache(&n, path), 0);
	snprintf(rp, sizeof(rp), "%s" EDPG_RETIRED_SUFFIX, path);
	assert_int_equal(edpg_cache_load_entries(rp, &v, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(v[0].expires, 1700000370);
	free(v);
	assert_int_equal(edpg_names_init(&m, &pol, 1700000000), 0);
	assert_int_equal(edpg_names_load_cache(&m, path, 400), 0);
	assert_int_equal(m.nretired, 1);
	assert_int_equal(m.t.n, 1);	/* b, not the retired a */
	assert_int_equal(edpg_addr_cmp(&m.t.v[0].addr, &b), 0);
	unlink(rp);
	unlink(path);
	edpg_names_free(&m);
	/* Bounded: the oldest record goes first (this name is in two groups). */
	for (int i = 0; i < EDPG_RETIRED_MAX + 5; i++) {
		struct edpg_addr x = ip("203.0.113.1");

		x.addr[2] = i >> 8;
		x.addr[3] = i & 0xff;
		assert_int_equal(edpg_names_answer(&n, "login.etherios.co.uk", &x, &ttl, 1,
						   SRC_RESOLVED, 1000 + 1000 * i, NULL, NULL), 2);
		assert_true(edpg_names_expire(&n, 1000 + 1000 * i + 999, NULL, NULL) >= 1);
	}
	assert_int_equal(n.nretired, EDPG_RETIRED_MAX);
	assert_int_equal(n.retired[EDPG_RETIRED_MAX - 1].addr.addr[3], (EDPG_RETIRED_MAX + 4) & 0xff);
	edpg_names_free(&n);
}

static void test_cache_text(void **state)
{
	static const char text[] =
		"# comment\n"
		"login.etherios.com 192.0.2.10\n"
		"time.etherios.co.uk 2001:db8::7 ntp snooped 150 1700000050 1700000200 -\n"
		"x.example 192.0.2.300\n"			/* bad address */
		"y.example 192.0.2.1 ntp weird 1 - - -\n"	/* bad source */
		"z.example 192.0.2.0/24\n"			/* not an exact address */
		"w.example 192.0.2.1 ntp cache 1 - -\n";	/* cut */
	struct edpg_cache_entry *v, *w;
	size_t n, m, len;
	char *out;

	(void)state;
	assert_int_equal(edpg_cache_parse(text, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "login.etherios.com");
	assert_string_equal(v[0].group, "");
	assert_int_equal(v[0].source, SRC_CACHE);
	assert_int_equal(v[0].expires, 0);
	assert_int_equal(v[1].source, SRC_SNOOPED);
	assert_int_equal(v[1].last_used, 0);
	assert_int_equal(edpg_cache_format(v, n, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	assert_int_equal(edpg_cache_parse(out, &w, &m), 0);
	assert_int_equal(m, n);
	assert_memory_equal(v[1].addr.addr, w[1].addr.addr, 16);
	assert_int_equal(w[1].expires, 1700000200);
	assert_string_equal(w[1].group, "ntp");
	free(out);
	free(v);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snooped_cname),
		cmocka_unit_test(test_snooped_tcp_two_groups),
		cmocka_unit_test(test_snooped_needs_question),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_cache_kept_until_confirmed),
		cmocka_unit_test(test_cache_round_trip),
		cmocka_unit_test(test_retired),
		cmocka_unit_test(test_cache_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
