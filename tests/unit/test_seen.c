// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The table of snooped answers learn names destinations by
 * (loader/names/seen.c): real answers in, the name asked out; bounded;
 * and the file form read back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "addr.h"
#include "dns_samples.h"
#include "seen.h"

static const uint8_t gw1[6] = { 0x00, 0x40, 0x9d, 0, 0, 1 };
static const uint8_t gw2[6] = { 0x00, 0x40, 0x9d, 0, 0, 2 };

static struct edpg_addr A(const char *s)
{
	struct edpg_addr a;

	if (edpg_addr_parse(s, &a, false))
		fail_msg("bad test address %s", s);
	return a;
}

/* The name recorded is the one asked, also at the end of a CNAME chain. */
static void test_answers(void **state)
{
	struct edpg_seen s;
	struct edpg_addr a = A("198.51.100.7"), l = A("192.0.2.10");
	const struct edpg_seen_ent *e;

	(void)state;
	assert_int_equal(edpg_seen_init(&s), 0);
	assert_int_equal(edpg_seen_answer(&s, gw1, a_login, sizeof(a_login), false, 100), 1);
	assert_int_equal(edpg_seen_answer(&s, gw1, cname_chain, sizeof(cname_chain), false, 101), 1);
	assert_int_equal(edpg_seen_answer(&s, gw2, tcp_a, sizeof(tcp_a), true, 102), 1);
	assert_int_equal(edpg_seen_answer(&s, gw1, nxdomain, sizeof(nxdomain), false, 103), 0);
	assert_true(edpg_seen_answer(&s, gw1, a_login, 5, false, 104) < 0);
	e = edpg_seen_find(&s, gw1, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "time.etherios.co.uk");
	e = edpg_seen_find(&s, gw1, &l);
	assert_non_null(e);
	assert_memory_equal(e->mac, gw1, 6);
	assert_string_equal(e->name, "login.etherios.com");
	/* another gateway's answer names it when its own has none */
	e = edpg_seen_find(&s, gw2, &a);
	assert_non_null(e);
	assert_string_equal(e->name, "time.etherios.co.uk");
	edpg_seen_free(&s);
}

/* Full: the oldest entry makes room; a refresh does not add one. */
static void test_bounded(void **state)
{
	struct edpg_seen s;
	struct edpg_addr a;
	char buf[32];

	(void)state;
	assert_int_equal(edpg_seen_init(&s), 0);
	for (int i = 0; i < EDPG_SEEN_MAX + 500; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		a = A(buf);
		assert_int_equal(edpg_seen_note(&s, gw1, &a, "x.example", 1000 + i), 0);
	}
	assert_int_equal(s.n, EDPG_SEEN_MAX);
	a = A("10.0.0.0");
	assert_null(edpg_seen_find(&s, gw1, &a));	/* the oldest went */
	a = A(buf);
	assert_non_null(edpg_seen_find(&s, gw1, &a));
	assert_int_equal(edpg_seen_note(&s, gw1, &a, "y.example", 99999), 0);
	assert_int_equal(s.n, EDPG_SEEN_MAX);
	assert_string_equal(edpg_seen_find(&s, gw1, &a)->name, "y.example");
	edpg_seen_free(&s);
}

/* The file form reads back whole; a damaged line is skipped. */
static void test_roundtrip(void **state)
{
	struct edpg_seen s, t;
	struct edpg_addr a = A("2001:db8::5"), b = A("192.0.2.9");
	char *text = NULL, *bad;
	size_t len;

	(void)state;
	assert_int_equal(edpg_seen_init(&s), 0);
	assert_int_equal(edpg_seen_note(&s, gw1, &a, "v6.example", 5), 0);
	assert_int_equal(edpg_seen_note(&s, gw2, &b, "v4.example", 6), 0);
	assert_int_equal(edpg_seen_format(&s, &text, &len), 0);
	bad = malloc(len + 64);
	assert_non_null(bad);
	memcpy(bad, text, len);
	strcpy(bad + len, "zz:zz nonsense here\n");
	assert_int_equal(edpg_seen_init(&t), 0);
	assert_int_equal(edpg_seen_parse(&t, bad, strlen(bad)), 0);
	assert_int_equal(t.n, 2);
	assert_false(t.dirty);
	assert_string_equal(edpg_seen_find(&t, gw1, &a)->name, "v6.example");
	assert_int_equal(edpg_seen_find(&t, gw2, &b)->at, 6);
	edpg_seen_free(&s);
	edpg_seen_free(&t);
	free(text);
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
