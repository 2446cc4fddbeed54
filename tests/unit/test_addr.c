// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* MAC and IP address text forms (loader/addr.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "addr.h"

static void test_mac_forms(void **state)
{
	static const uint8_t want[6] = { 0x00, 0x40, 0x9d, 0xaa, 0xbb, 0xcc };
	static const char *const ok[] = {
		"00:40:9d:aa:bb:cc", "00-40-9D-AA-BB-CC", "0040.9daa.bbcc", "00:40:9D:aA:Bb:cc",
		"0040.9DAA.BBCC",
	};
	char out[EDPG_MAC_STRLEN];
	uint8_t mac[6];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(mac, 0x55, sizeof(mac));
		assert_int_equal(edpg_mac_parse(ok[i], mac), 0);
		assert_memory_equal(mac, want, 6);
		edpg_mac_format(mac, out);
		assert_string_equal(out, "00:40:9d:aa:bb:cc");
	}
}

static void test_mac_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"", "00:40:9d:aa:bb", "00:40:9d:aa:bb:cc:dd", "00:40:9d:aa:bb:c", "0:40:9d:aa:bb:cc0",
		"00:40-9d:aa:bb:cc", "00-40:9d-aa-bb-cc", "00:40:9d:aa:bb:cg", "00.40.9d.aa.bb.cc",
		"0040:9daa:bbcc", "0040.9daa.bbc", "0040.9daa.bbccd", "00409daabbcc", " 00:40:9d:aa:bb:cc",
		"00:40:9d:aa:bb:cc ", "+0:40:9d:aa:bb:cc", "0x40.9daa.bbcc",
	};
	uint8_t mac[6];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (edpg_mac_parse(bad[i], mac) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_mac_not_unicast(void **state)
{
	uint8_t mac[6];

	(void)state;
	assert_int_equal(edpg_mac_parse("01:00:5e:00:00:01", mac), -EDOM);
	assert_string_equal(edpg_mac_reject_reason(mac), "multicast");
	assert_int_equal(edpg_mac_parse("33-33-00-00-00-01", mac), -EDOM);
	assert_int_equal(edpg_mac_parse("ff:ff:ff:ff:ff:ff", mac), -EDOM);
	assert_string_equal(edpg_mac_reject_reason(mac), "broadcast");
	assert_int_equal(edpg_mac_parse("0000.0000.0000", mac), -EDOM);
	assert_string_equal(edpg_mac_reject_reason(mac), "all-zero");
	/* Locally administered unicast (bit 1) is a fine gateway MAC. */
	assert_int_equal(edpg_mac_parse("02:00:00:00:00:01", mac), 0);
	assert_null(edpg_mac_reject_reason(mac));
}

static void fmt(const char *in, bool prefix, const char *want)
{
	char out[EDPG_ADDR_STRLEN];
	struct edpg_addr a;

	if (edpg_addr_parse(in, &a, prefix))
		fail_msg("'%s' rejected", in);
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* Remote Manager Device IDs: only the MAC-derived form names a gateway. */
static void test_device_id(void **state)
{
	static const uint8_t want[6] = { 0x00, 0x40, 0x9d, 0x58, 0x17, 0x5b };
	static const char *const not_mac[] = {
		/* IMEI/ESN/serial based, or MAC-shaped with the wrong filler */
		"00010000-00000000-00409DFF-FF58175B", "00000000-00000001-00409DFF-FF58175B",
		"00000000-00000000-00409DFE-FF58175B", "00000000-00000000-00409DFF-FE58175B",
		"00000000-00000000-00409D00-0058175B",
	};
	static const char *const syntax[] = {
		"00000000-00000000-00409DFF-FF58175", "00000000-00000000-00409DFF-FF58175BB",
		"00000000:00000000:00409DFF:FF58175B", "00000000-00000000-00409DFF-FF58175G",
		"000000000-0000000-00409DFF-FF58175B", "00000000-00000000-00409DFFFF58175B-",
	};
	char out[EDPG_DEVID_STRLEN], msg[512];
	uint8_t mac[6];

	(void)state;
	assert_int_equal(edpg_mac_parse("00000000-00000000-00409DFF-FF58175B", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(edpg_mac_parse("00000000-00000000-00409dff-ff58175b", mac), 0);
	assert_memory_equal(mac, want, 6);
	edpg_devid_format(want, out);
	assert_string_equal(out, "00000000-00000000-00409DFF-FF58175B");
	edpg_devid_format((const uint8_t[6]){ 0x00, 0x04, 0xf3, 0x0a, 0xbc, 0xde }, out);
	assert_string_equal(out, "00000000-00000000-0004F3FF-FF0ABCDE");
	for (size_t i = 0; i < sizeof(not_mac) / sizeof(not_mac[0]); i++)
		if (edpg_mac_parse(not_mac[i], mac) != -ERANGE)
			fail_msg("'%s' not refused as a non-MAC Device ID", not_mac[i]);
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		if (edpg_mac_parse(syntax[i], mac) != -EINVAL)
			fail_msg("'%s' accepted", syntax[i]);
	/* A MAC-derived Device ID of a multicast MAC is refused like the MAC. */
	assert_int_equal(edpg_mac_parse("00000000-00000000-01005EFF-FF000001", mac), -EDOM);
	/* The message names the expected form. */
	edpg_mac_parse_msg(not_mac[0], -ERANGE, msg, sizeof(msg));
	assert_non_null(strstr(msg, EDPG_DEVID_FORM));
}

/* Digi's OUIs; the XBee 64-bit radio prefix 00:13:A2 is not an Ethernet OUI. */
static void test_digi_oui(void **state)
{
	(void)state;
	assert_true(edpg_mac_is_digi((const uint8_t[6]){ 0x00, 0x40, 0x9d, 1, 2, 3 }));
	assert_true(edpg_mac_is_digi((const uint8_t[6]){ 0x00, 0x04, 0xf3, 1, 2, 3 }));
	assert_false(edpg_mac_is_digi((const uint8_t[6]){ 0x00, 0x13, 0xa2, 1, 2, 3 }));
	assert_false(edpg_mac_is_digi((const uint8_t[6]){ 0x02, 0x40, 0x9d, 1, 2, 3 }));
}

static void test_addr_parse_ok(void **state)
{
	struct edpg_addr a;

	(void)state;
	assert_int_equal(edpg_addr_parse("192.0.2.1", &a, false), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.plen, 32);
	assert_memory_equal(a.addr, ((uint8_t[]){ 192, 0, 2, 1 }), 4);
	assert_int_equal(edpg_addr_parse("2001:db8::1", &a, false), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.plen, 128);
	assert_int_equal(a.addr[0], 0x20);
	assert_int_equal(a.addr[15], 1);
	assert_int_equal(edpg_addr_parse("10.0.0.0/8", &a, true), 0);
	assert_int_equal(a.plen, 8);
	assert_int_equal(edpg_addr_parse("0.0.0.0/0", &a, true), 0);
	assert_int_equal(a.plen, 0);
	assert_int_equal(edpg_addr_parse("::/0", &a, true), 0);
	assert_int_equal(edpg_addr_parse("2001:db8::/32", &a, true), 0);
	assert_int_equal(a.plen, 32);

	fmt("192.0.2.1", false, "192.0.2.1");
	fmt("192.0.2.1/32", true, "192.0.2.1");
	fmt("10.0.0.0/8", true, "10.0.0.0/8");
	fmt("2001:0DB8:0:0:0:0:0:1", false, "2001:db8::1");
	fmt("2001:db8::1/128", true, "2001:db8::1");
	fmt("2001:db8::/32", true, "2001:db8::/32");
	fmt("::ffff:192.0.2.1", false, "::ffff:192.0.2.1");
}

static void test_addr_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/", "1.2.3.4/x",
		"1.2.3.4/-1", "1.2.3.4/08", "1.2.3.4/1000", "fe80::1::2", "fe80::1%eth0", "/8",
		"example.com", "2001:db8::/+3", "1.2.3.4//8", "01.2.3.4",
		"aaaa:bbbb:cccc:dddd:eeee:ffff:1111:2222:3333",
	};
	struct edpg_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (edpg_addr_parse(bad[i], &a, true) != -EINVAL)
			fail_msg("'%s' not -EINVAL", bad[i]);
	}
	/* A prefix where a single address is wanted. */
	assert_int_equal(edpg_addr_parse("10.0.0.1/32", &a, false), -EINVAL);
	assert_int_equal(edpg_addr_parse("10.0.0.0/33", &a, true), -ERANGE);
	assert_int_equal(edpg_addr_parse("::/129", &a, true), -ERANGE);
}

static void test_addr_host_bits(void **state)
{
	char out[EDPG_ADDR_STRLEN];
	struct edpg_addr a;

	(void)state;
	/* -EDOM, and @a holds the network so a message can suggest it. */
	assert_int_equal(edpg_addr_parse("10.1.2.3/8", &a, true), -EDOM);
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.0/8");
	assert_int_equal(edpg_addr_parse("192.0.2.129/25", &a, true), -EDOM);
	assert_int_equal(edpg_addr_parse("192.0.2.128/25", &a, true), 0);
	assert_int_equal(edpg_addr_parse("2001:db8::1/64", &a, true), -EDOM);
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "2001:db8::/64");
	assert_int_equal(edpg_addr_parse("2001:db8:8000::/33", &a, true), 0);
	assert_int_equal(edpg_addr_parse("2001:db8:8000::/32", &a, true), -EDOM);
}

static void test_addr_format_limits(void **state)
{
	struct edpg_addr a = { .family = AF_INET, .addr = { 10 }, .plen = 8 };
	char out[8];

	(void)state;
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), -ENOSPC);
	a.plen = 33;
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), -EINVAL);
	a.family = AF_UNIX;
	assert_int_equal(edpg_addr_format(&a, out, sizeof(out)), -EINVAL);
}

static void test_addr_cmp(void **state)
{
	struct edpg_addr a, b;

	(void)state;
	assert_int_equal(edpg_addr_parse("10.0.0.0/8", &a, true), 0);
	assert_int_equal(edpg_addr_parse("10.0.0.0/16", &b, true), 0);
	assert_true(edpg_addr_cmp(&a, &b) < 0);
	assert_int_equal(edpg_addr_parse("9.255.255.255", &b, true), 0);
	assert_true(edpg_addr_cmp(&a, &b) > 0);
	assert_int_equal(edpg_addr_parse("::", &b, true), 0);
	assert_true(edpg_addr_cmp(&a, &b) < 0);	/* every IPv4 sorts before IPv6 */
	assert_int_equal(edpg_addr_cmp(&b, &b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_forms),
		cmocka_unit_test(test_mac_syntax_errors),
		cmocka_unit_test(test_mac_not_unicast),
		cmocka_unit_test(test_device_id),
		cmocka_unit_test(test_digi_oui),
		cmocka_unit_test(test_addr_parse_ok),
		cmocka_unit_test(test_addr_parse_errors),
		cmocka_unit_test(test_addr_host_bits),
		cmocka_unit_test(test_addr_format_limits),
		cmocka_unit_test(test_addr_cmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
