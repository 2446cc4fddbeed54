// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The capture reader of `replay` on hand-made files: pcap in both byte
 * orders and both time resolutions, pcapng with several sections of either
 * byte order, interfaces, enhanced and simple packet blocks, blocks it
 * skips; and every kind of damage, each with the offset it names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pcapfile.h"

struct buf {
	uint8_t b[4096];
	size_t n;
	bool be;	/* write big-endian */
};

static void put8(struct buf *b, uint8_t v)
{
	b->b[b->n++] = v;
}

static void put16(struct buf *b, uint16_t v)
{
	if (b->be) {
		put8(b, v >> 8);
		put8(b, v);
	} else {
		put8(b, v);
		put8(b, v >> 8);
	}
}

static void put32(struct buf *b, uint32_t v)
{
	if (b->be) {
		put16(b, v >> 16);
		put16(b, v);
	} else {
		put16(b, v);
		put16(b, v >> 16);
	}
}

static void putn(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

/* A 60-byte frame whose bytes say which frame it is. */
static void frame(uint8_t *f, size_t n, uint8_t tag)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (uint8_t)(tag + i);
}

static void pcap_hdr(struct buf *b, uint32_t magic, uint32_t linktype)
{
	put32(b, magic);
	put16(b, 2);
	put16(b, 4);
	put32(b, 0);
	put32(b, 0);
	put32(b, 65535);
	put32(b, linktype);
}

static void pcap_rec(struct buf *b, uint32_t incl, uint32_t orig, uint8_t tag)
{
	uint8_t f[256];

	put32(b, 1700000000);
	put32(b, 5);
	put32(b, incl);
	put32(b, orig);
	frame(f, incl, tag);
	putn(b, f, incl);
}

static void expect_frame(struct edpg_pcap *r, uint32_t caplen, uint32_t len, uint8_t tag)
{
	struct edpg_pcap_frame f;
	uint8_t want[256];

	assert_int_equal(edpg_pcap_next(r, &f), 1);
	assert_int_equal(f.caplen, caplen);
	assert_int_equal(f.len, len);
	frame(want, caplen, tag);
	assert_memory_equal(f.data, want, caplen);
}

static void expect_end(struct edpg_pcap *r)
{
	struct edpg_pcap_frame f;

	assert_int_equal(edpg_pcap_next(r, &f), 0);
}

static void expect_error(struct edpg_pcap *r, const char *msg)
{
	struct edpg_pcap_frame f;

	assert_int_equal(edpg_pcap_next(r, &f), -EINVAL);
	assert_string_equal(r->err, msg);
}

static void test_pcap_both_orders(void **state)
{
	static const struct {
		bool be;
		uint32_t magic;
	} v[] = { { false, 0xa1b2c3d4 }, { true, 0xa1b2c3d4 }, { false, 0xa1b23c4d }, { true, 0xa1b23c4d } };
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf b = { .be = v[i].be };
		struct edpg_pcap r;

		pcap_hdr(&b, v[i].magic, 1);
		pcap_rec(&b, 60, 60, 1);
		pcap_rec(&b, 14, 1514, 2);	/* snaplen cut it */
		pcap_rec(&b, 0, 0, 3);
		assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
		expect_frame(&r, 60, 60, 1);
		expect_frame(&r, 14, 1514, 2);
		expect_frame(&r, 0, 0, 3);
		expect_end(&r);
		assert_int_equal(r.nframes, 3);
	}
}

static void test_pcap_damage(void **state)
{
	struct buf b = {};
	struct edpg_pcap r;
	(void)state;

	assert_int_equal(edpg_pcap_open(&r, b.b, 0), -EINVAL);
	assert_string_equal(r.err, "offset 0: too short for a capture (0 bytes)");

	put32(&b, 0x12345678);
	assert_int_equal(edpg_pcap_open(&r, b.b, 8), -EINVAL);
	assert_string_equal(r.err, "offset 0: magic 0x12345678 is neither pcap nor pcapng");

	b.n = 0;
	pcap_hdr(&b, 0xa1b2c3d4, 113);	/* Linux cooked (SLL) */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), -EINVAL);
	assert_string_equal(r.err, "offset 20: link type 113, want Ethernet (1): capture on the LAN interface itself, not `any`");
	assert_int_equal(edpg_pcap_open(&r, b.b, 20), -EINVAL);
	assert_string_equal(r.err, "offset 0: pcap header cut short (20 of 24 bytes)");

	b.n = 0;
	pcap_hdr(&b, 0xa1b2c3d4, 1);
	pcap_rec(&b, 60, 60, 1);
	pcap_rec(&b, 60, 60, 2);
	/* cut in the second frame's data, and in its record header */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n - 1), 0);
	expect_frame(&r, 60, 60, 1);
	expect_error(&r, "offset 100: frame 2: 60 bytes, but only 59 left in the file");
	assert_int_equal(edpg_pcap_open(&r, b.b, 24 + 76 + 10), 0);
	expect_frame(&r, 60, 60, 1);
	expect_error(&r, "offset 100: frame 2: record header cut short (10 bytes left)");

	b.n = 0;
	pcap_hdr(&b, 0xa1b2c3d4, 1);
	pcap_rec(&b, 60, 50, 1);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 32: frame 1: 60 bytes captured of 50 on the wire");

	b.n = 0;
	pcap_hdr(&b, 0xa1b2c3d4, 1);
	put32(&b, 0);
	put32(&b, 0);
	put32(&b, 0xfffffff0);	/* would wrap a careless bound */
	put32(&b, 0xfffffff0);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 32: frame 1: 4294967280 captured bytes, more than any snaplen");
}

/* pcapng blocks */
static void shb(struct buf *b)
{
	put32(b, 0x0a0d0d0a);
	put32(b, 28);
	put32(b, 0x1a2b3c4d);
	put16(b, 1);
	put16(b, 0);
	put32(b, 0xffffffff);	/* section length: unknown */
	put32(b, 0xffffffff);
	put32(b, 28);
}

static void idb(struct buf *b, uint16_t link, uint32_t snap)
{
	put32(b, 1);
	put32(b, 20);
	put16(b, link);
	put16(b, 0);
	put32(b, snap);
	put32(b, 20);
}

static void epb(struct buf *b, uint32_t ifc, uint32_t cap, uint32_t orig, uint8_t tag)
{
	uint32_t pad = (4 - cap % 4) % 4, len = 32 + cap + pad;
	uint8_t f[256];

	put32(b, 6);
	put32(b, len);
	put32(b, ifc);
	put32(b, 0);
	put32(b, 0);
	put32(b, cap);
	put32(b, orig);
	frame(f, cap, tag);
	putn(b, f, cap);
	for (uint32_t i = 0; i < pad; i++)
		put8(b, 0);
	put32(b, len);
}

static void spb(struct buf *b, uint32_t orig, uint32_t stored, uint8_t tag)
{
	uint32_t pad = (4 - stored % 4) % 4, len = 16 + stored + pad;
	uint8_t f[256];

	put32(b, 3);
	put32(b, len);
	put32(b, orig);
	frame(f, stored, tag);
	putn(b, f, stored);
	for (uint32_t i = 0; i < pad; i++)
		put8(b, 0);
	put32(b, len);
}

static void other_block(struct buf *b)
{
	put32(b, 5);	/* interface statistics */
	put32(b, 16);
	put32(b, 0);
	put32(b, 16);
}

static void test_pcapng_sections(void **state)
{
	struct buf b = {};
	struct edpg_pcap r;
	(void)state;

	shb(&b);
	idb(&b, 1, 0);
	epb(&b, 0, 61, 61, 1);
	other_block(&b);
	spb(&b, 60, 60, 2);
	/* a second section, big-endian, two interfaces */
	b.be = true;
	shb(&b);
	idb(&b, 1, 0);
	idb(&b, 1, 40);
	epb(&b, 1, 40, 1514, 3);
	epb(&b, 0, 14, 14, 4);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_frame(&r, 61, 61, 1);
	expect_frame(&r, 60, 60, 2);
	expect_frame(&r, 40, 1514, 3);
	expect_frame(&r, 14, 14, 4);
	expect_end(&r);
}

static void test_pcapng_simple_block_snaplen(void **state)
{
	struct buf b = {};
	struct edpg_pcap r;
	(void)state;

	/* A simple packet block holds min(original length, snaplen). */
	shb(&b);
	idb(&b, 1, 20);
	spb(&b, 1514, 20, 5);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_frame(&r, 20, 1514, 5);
	expect_end(&r);
}

static void test_pcapng_damage(void **state)
{
	struct buf b = {};
	struct edpg_pcap r;
	size_t at;
	(void)state;

	shb(&b);
	b.b[8] = 0x99;	/* byte-order magic */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), -EINVAL);
	assert_string_equal(r.err, "offset 8: section header with byte-order magic 0x1a2b3c99");

	b.n = 0;
	shb(&b);
	epb(&b, 0, 60, 60, 1);	/* no interface described */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 36: frame 1: interface 0, but the section describes 0");

	b.n = 0;
	shb(&b);
	idb(&b, 113, 0);
	epb(&b, 0, 60, 60, 1);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 56: frame 1: interface 0 has link type 113, want Ethernet (1)");

	b.n = 0;
	shb(&b);
	idb(&b, 1, 0);
	at = b.n;
	epb(&b, 0, 60, 60, 1);
	b.b[at + 4] = 90;	/* length not a multiple of 4 */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 52: block length 90 (type 0x6) is not a multiple of 4 of at least 12");
	b.b[at + 4] = 96;	/* trailer says 92 */
	b.n += 4;
	memset(b.b + b.n - 4, 0, 4);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 140: block length 0 at its end, 96 at its start");
	b.b[at + 4] = 200;	/* past the end of the file */
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 52: block of 200 bytes, but only 96 left in the file");

	b.n = 0;
	shb(&b);
	idb(&b, 1, 0);
	at = b.n;
	epb(&b, 0, 60, 60, 1);
	b.b[at + 20] = 61;	/* captured length past its block */
	b.b[at + 24] = 61;
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n), 0);
	expect_error(&r, "offset 56: frame 1: 61 captured bytes do not fit its block of 92");

	b.n = 0;
	shb(&b);
	idb(&b, 1, 0);
	epb(&b, 0, 60, 60, 1);
	assert_int_equal(edpg_pcap_open(&r, b.b, b.n - 5), 0);
	expect_error(&r, "offset 52: block of 92 bytes, but only 87 left in the file");
	assert_int_equal(edpg_pcap_open(&r, b.b, 48 + 8), 0);
	expect_error(&r, "offset 48: block cut short (8 bytes left)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_both_orders),
		cmocka_unit_test(test_pcap_damage),
		cmocka_unit_test(test_pcapng_sections),
		cmocka_unit_test(test_pcapng_simple_block_snaplen),
		cmocka_unit_test(test_pcapng_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
