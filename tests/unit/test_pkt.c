// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The packet builder (loader/util/pkt.c): lengths and the IPv4, TCP and UDP checksums. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pkt.h"

static const uint8_t a[6] = { 0x02, 0, 0, 0, 0, 1 }, b[6] = { 0x00, 0x40, 0x9d, 0, 0, 2 };

/* An independent check: the ones' complement sum over the pseudo-header and
 * the segment, checksum included, is 0xffff. */
static uint16_t verify(const uint8_t *pseudo_addrs, size_t alen, uint8_t proto,
		       const uint8_t *l4, size_t l4len)
{
	uint32_t s = proto + l4len;
	size_t i;

	for (i = 0; i < alen; i += 2)
		s += pseudo_addrs[i] << 8 | pseudo_addrs[i + 1];
	for (i = 0; i + 1 < l4len; i += 2)
		s += l4[i] << 8 | l4[i + 1];
	if (l4len & 1)
		s += l4[l4len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void test_v4_tcp(void **state)
{
	uint8_t s4[4] = { 10, 0, 0, 2 }, d4[4] = { 198, 51, 100, 10 };
	struct pkt p;

	(void)state;
	pkt_init(&p);
	pkt_eth(&p, a, b, PKT_ETH_P_IP);
	pkt_ip4(&p, s4, d4, PKT_IP_TCP, 0, 0x4000);
	pkt_tcp(&p, 40000, 3199);
	assert_int_equal(pkt_finish(&p), 0);
	assert_int_equal(pkt_l4_csum(&p), 0);
	assert_int_equal(p.len, 54);
	assert_int_equal(ntohs(((struct pkt_ip4 *)(p.data + 14))->tot_len), 40);
	assert_int_equal(pkt_csum(p.data + 14, 20), 0);	/* header checksum valid */
	assert_int_equal(verify(p.data + 14 + 12, 8, PKT_IP_TCP, p.data + 34, 20), 0xffff);
	/* A corrupted byte no longer adds up. */
	p.data[40]++;
	assert_int_not_equal(verify(p.data + 14 + 12, 8, PKT_IP_TCP, p.data + 34, 20), 0xffff);
}

static void test_v6_udp_vlan(void **state)
{
	uint8_t s6[16] = { 0xfd, [15] = 2 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x21 };
	struct pkt p;

	(void)state;
	pkt_init(&p);
	pkt_eth(&p, a, b, PKT_ETH_P_8021Q);
	pkt_vlan(&p, 42, PKT_ETH_P_IPV6);
	pkt_ip6(&p, s6, d6, PKT_IP_UDP);
	pkt_udp(&p, 40000, 123);
	*(uint8_t *)pkt_bytes(&p, 47, 0) = 0x23;	/* odd length: the last byte padded */
	assert_int_equal(pkt_finish(&p), 0);
	assert_int_equal(pkt_l4_csum(&p), 0);
	assert_int_equal(ntohs(((struct pkt_udp *)(p.data + 58))->len), 55);
	assert_int_equal(verify(p.data + 18 + 8, 32, PKT_IP_UDP, p.data + 58, 55), 0xffff);
	/* Nothing to sum without an L4 header. */
	pkt_init(&p);
	pkt_eth(&p, a, b, PKT_ETH_P_ARP);
	assert_int_equal(pkt_l4_csum(&p), -EINVAL);
}

static void test_addr(void **state)
{
	uint8_t x[16];

	(void)state;
	assert_int_equal(pkt_addr4("192.0.2.1", x), 0);
	assert_int_equal(pkt_addr4("192.0.2", x), -EINVAL);
	assert_int_equal(pkt_addr6("2001:db8::1", x), 0);
	assert_int_equal(pkt_addr6("2001:db8:::1", x), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_tcp),
		cmocka_unit_test(test_v6_udp_vlan),
		cmocka_unit_test(test_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
