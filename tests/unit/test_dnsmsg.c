// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_dnsmsg.c - the DNS response parser on answers captured from dnsmasq
 * (dns_samples.h), and on hand-built hostile messages: cuts, pointer loops,
 * forward pointers, long labels, overrunning records, CNAME loops.
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

#include "dnsmsg.h"
#include "unit/dns_samples.h"

#define SAMPLE(x) { #x, x, sizeof(x) }
static const struct {
	const char *name;
	const uint8_t *buf;
	size_t len;
} samples[] = {
	SAMPLE(a_login), SAMPLE(aaaa_login), SAMPLE(cname_chain), SAMPLE(cname_chain6),
	SAMPLE(multi_ttl), SAMPLE(upper_case), SAMPLE(nxdomain), SAMPLE(cname2),
	SAMPLE(edns_a),
};

static void assert_addr(const struct edpg_addr *a, const char *text)
{
	uint8_t want[16] = { 0 };
	int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(fam, text, want), 1);
	assert_int_equal(a->family, fam);
	assert_int_equal(a->plen, fam == AF_INET ? 32 : 128);
	assert_memory_equal(a->addr, want, fam == AF_INET ? 4 : 16);
}

/* Addresses of @name in @buf: exactly the @n given ("addr", ttl) pairs in order. */
static void check_addrs(const uint8_t *buf, size_t len, const char *name, size_t n, ...)
{
	struct edpg_dns_msg m;
	struct edpg_addr *a;
	uint32_t *ttl;
	size_t cnt;
	va_list ap;

	assert_int_equal(edpg_dns_parse(buf, len, &m), 0);
	assert_int_equal(edpg_dns_addresses(&m, name, &a, &ttl, &cnt), 0);
	assert_int_equal(cnt, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		assert_addr(&a[i], va_arg(ap, const char *));
		assert_int_equal(ttl[i], va_arg(ap, unsigned int));
	}
	va_end(ap);
	free(a);
	free(ttl);
	edpg_dns_msg_free(&m);
}

static void test_a(void **state)
{
	struct edpg_dns_msg m;

	(void)state;
	assert_int_equal(edpg_dns_parse(a_login, sizeof(a_login), &m), 0);
	assert_int_equal(m.id, 0x1234);
	assert_true(m.response);
	assert_false(m.truncated);
	assert_int_equal(m.rcode, 0);
	assert_string_equal(m.qname, "login.etherios.com");
	assert_int_equal(m.qtype, EDPG_DNS_T_A);
	assert_int_equal(m.nanswers, 1);
	/* The owner is a pointer to the question's name. */
	assert_string_equal(m.answers[0].name, "login.etherios.com");
	assert_int_equal(m.answers[0].type, EDPG_DNS_T_A);
	assert_int_equal(m.answers[0].ttl, 600);
	assert_addr(&m.answers[0].addr, "192.0.2.10");
	edpg_dns_msg_free(&m);
	check_addrs(a_login, sizeof(a_login), "login.etherios.com", 1, "192.0.2.10", 600);
	/* Case and the root dot do not matter; another name has nothing. */
	check_addrs(a_login, sizeof(a_login), "Login.Etherios.COM.", 1, "192.0.2.10", 600);
	check_addrs(a_login, sizeof(a_login), "login.etherios.co.uk", 0);
}

static void test_aaaa(void **state)
{
	(void)state;
	check_addrs(aaaa_login, sizeof(aaaa_login), "login.etherios.com", 1, "2001:db8::10", 600);
}

static void test_cname_chain(void **state)
{
	struct edpg_dns_msg m;

	(void)state;
	assert_int_equal(edpg_dns_parse(cname_chain, sizeof(cname_chain), &m), 0);
	assert_int_equal(m.nanswers, 2);
	assert_int_equal(m.answers[0].type, EDPG_DNS_T_CNAME);
	assert_string_equal(m.answers[0].name, "time.etherios.co.uk");
	assert_string_equal(m.answers[0].target, "0.idigi.pool.ntp.org");
	assert_int_equal(m.answers[0].ttl, 3600);
	/* Owned by a pointer into the CNAME's rdata. */
	assert_string_equal(m.answers[1].name, "0.idigi.pool.ntp.org");
	edpg_dns_msg_free(&m);
	/* The chain's TTL is its shortest link: min(3600, 150). */
	check_addrs(cname_chain, sizeof(cname_chain), "time.etherios.co.uk", 1, "198.51.100.7", 150);
	check_addrs(cname_chain, sizeof(cname_chain), "0.idigi.pool.ntp.org", 1, "198.51.100.7", 150);
	check_addrs(cname_chain6, sizeof(cname_chain6), "time.etherios.co.uk", 1, "2001:db8::7", 150);
	/* Two hops: time.etherios.com -> time.etherios.co.uk -> 0.idigi.pool.ntp.org. */
	check_addrs(cname2, sizeof(cname2), "time.etherios.com", 1, "198.51.100.7", 150);
	check_addrs(cname2, sizeof(cname2), "time.etherios.co.uk", 1, "198.51.100.7", 150);
}

static void test_cname_ttl_min(void **state)
{
	uint8_t b[sizeof(cname2)];

	(void)state;
	/* The first CNAME's TTL (900 at offset 41) lowered to 30 bounds the address. */
	memcpy(b, cname2, sizeof(b));
	assert_int_equal(b[43] << 8 | b[44], 900);
	b[43] = 0;
	b[44] = 30;
	check_addrs(b, sizeof(b), "time.etherios.com", 1, "198.51.100.7", 30);
	/* ...but not for a name that joins the chain after it. */
	check_addrs(b, sizeof(b), "time.etherios.co.uk", 1, "198.51.100.7", 150);
}

static void test_multi_ttl(void **state)
{
	(void)state;
	check_addrs(multi_ttl, sizeof(multi_ttl), "my.idigi.com", 2,
		    "203.0.113.1", 120, "203.0.113.2", 60);
}

static void test_lowercase(void **state)
{
	struct edpg_dns_msg m;

	(void)state;
	assert_int_equal(edpg_dns_parse(upper_case, sizeof(upper_case), &m), 0);
	assert_string_equal(m.qname, "login.etherios.com");
	assert_string_equal(m.answers[0].name, "login.etherios.com");
	edpg_dns_msg_free(&m);
	check_addrs(upper_case, sizeof(upper_case), "LOGIN.etherios.com", 1, "192.0.2.10", 600);
}

static void test_nxdomain(void **state)
{
	struct edpg_dns_msg m;

	(void)state;
	assert_int_equal(edpg_dns_parse(nxdomain, sizeof(nxdomain), &m), 0);
	assert_int_equal(m.rcode, EDPG_DNS_RCODE_NXDOMAIN);
	assert_string_equal(m.qname, "nosuch.etherios.com");
	assert_int_equal(m.nanswers, 0);
	edpg_dns_msg_free(&m);
	check_addrs(nxdomain, sizeof(nxdomain), "nosuch.etherios.com", 0);
}

static void test_edns(void **state)
{
	(void)state;
	/* The OPT record in the additional section is walked and ignored. */
	check_addrs(edns_a, sizeof(edns_a), "login.etherios.co.uk", 1, "192.0.2.11", 300);
}

static void test_tcp(void **state)
{
	uint8_t two[2 * sizeof(tcp_a)];
	const uint8_t *msg;
	size_t off = 0, mlen;

	(void)state;
	assert_int_equal(edpg_dns_tcp_next(tcp_a, sizeof(tcp_a), &off, &msg, &mlen), 0);
	assert_int_equal(mlen, sizeof(tcp_a) - 2);
	assert_ptr_equal(msg, tcp_a + 2);
	check_addrs(msg, mlen, "login.etherios.co.uk", 1, "192.0.2.11", 300);
	assert_int_equal(edpg_dns_tcp_next(tcp_a, sizeof(tcp_a), &off, &msg, &mlen), -ENOENT);

	/* Two messages in one segment; then a cut frame. */
	memcpy(two, tcp_a, sizeof(tcp_a));
	memcpy(two + sizeof(tcp_a), tcp_a, sizeof(tcp_a));
	off = 0;
	assert_int_equal(edpg_dns_tcp_next(two, sizeof(two), &off, &msg, &mlen), 0);
	assert_int_equal(edpg_dns_tcp_next(two, sizeof(two), &off, &msg, &mlen), 0);
	assert_int_equal(off, sizeof(two));
	assert_int_equal(edpg_dns_tcp_next(two, sizeof(two), &off, &msg, &mlen), -ENOENT);
	for (size_t cut = 1; cut < sizeof(tcp_a); cut++) {
		off = 0;
		assert_int_equal(edpg_dns_tcp_next(tcp_a, cut, &off, &msg, &mlen), -EBADMSG);
		assert_int_equal(off, 0);
	}
	/* A zero-length frame is not a message. */
	off = 0;
	assert_int_equal(edpg_dns_tcp_next((const uint8_t *)"\0\0", 2, &off, &msg, &mlen), -EBADMSG);
}

static void test_every_truncation(void **state)
{
	uint8_t *b;

	(void)state;
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		for (size_t len = 0; len < samples[s].len; len++) {
			struct edpg_dns_msg m;
			int err;

			/* A heap copy of exactly @len bytes, so a read past the
			 * cut would be a real overrun under ASan/valgrind. */
			b = malloc(len ? len : 1);
			assert_non_null(b);
			memcpy(b, samples[s].buf, len);
			err = edpg_dns_parse(b, len, &m);
			if (err != -EBADMSG)
				fail_msg("%s cut at %zu: %d", samples[s].name, len, err);
			assert_null(m.answers);
			free(b);
		}
		/* One byte too many is no better. */
		b = malloc(samples[s].len + 1);
		assert_non_null(b);
		memcpy(b, samples[s].buf, samples[s].len);
		b[samples[s].len] = 0;
		{
			struct edpg_dns_msg m;

			assert_int_equal(edpg_dns_parse(b, samples[s].len + 1, &m), -EBADMSG);
		}
		free(b);
	}
}

/* ---- hand-built messages ------------------------------------------------ */

struct mb {
	uint8_t b[1024];
	size_t n;
};

static void put8(struct mb *m, unsigned int v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct mb *m, unsigned int v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put32(struct mb *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* "a.b.c" as labels, uncompressed, root-terminated. */
static void putname(struct mb *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		put8(m, l);
		for (size_t i = 0; i < l; i++)
			put8(m, name[i]);
		name += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

static void putptr(struct mb *m, unsigned int off)
{
	put16(m, 0xc000 | off);
}

/* Response header and the question "q.example A"; returns the qname offset. */
static size_t header(struct mb *m, unsigned int an)
{
	m->n = 0;
	put16(m, 0xbeef);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	putname(m, "q.example");
	put16(m, EDPG_DNS_T_A);
	put16(m, 1);
	return 12;
}

static void rr_fixed(struct mb *m, unsigned int type, uint32_t ttl, unsigned int rdlen)
{
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
}

static void rr_a(struct mb *m, uint32_t ttl, const uint8_t ip[4])
{
	rr_fixed(m, EDPG_DNS_T_A, ttl, 4);
	for (int i = 0; i < 4; i++)
		put8(m, ip[i]);
}

static int parse(const struct mb *m)
{
	struct edpg_dns_msg msg;
	int err = edpg_dns_parse(m->b, m->n, &msg);

	if (!err)
		edpg_dns_msg_free(&msg);
	return err;
}

static const uint8_t ip1[4] = { 192, 0, 2, 1 };

static void test_handbuilt_ok(void **state)
{
	struct mb m;
	size_t a1;

	(void)state;
	/* Baseline for the builder: a pointer to a pointer to the question is
	 * fine as long as each one points before the segment it sits in. */
	header(&m, 2);
	a1 = m.n;
	putptr(&m, 12);
	rr_a(&m, 10, ip1);
	putptr(&m, a1);
	rr_fixed(&m, 16 /* TXT */, 10, 3);
	put8(&m, 2);
	put8(&m, 'h');
	put8(&m, 'i');
	check_addrs(m.b, m.n, "q.example", 1, "192.0.2.1", 10);

	/* A TTL with the top bit set reads as 0 (RFC 2181 8). */
	header(&m, 1);
	putptr(&m, 12);
	rr_a(&m, 0x80000000u, ip1);
	check_addrs(m.b, m.n, "q.example", 1, "192.0.2.1", 0);
	/* The largest legal TTL is capped at a day; the cap itself is kept. */
	header(&m, 1);
	putptr(&m, 12);
	rr_a(&m, 0x7fffffffu, ip1);
	check_addrs(m.b, m.n, "q.example", 1, "192.0.2.1", EDPG_DNS_MAX_TTL);
	header(&m, 1);
	putptr(&m, 12);
	rr_a(&m, EDPG_DNS_MAX_TTL, ip1);
	check_addrs(m.b, m.n, "q.example", 1, "192.0.2.1", EDPG_DNS_MAX_TTL);

	/* A query is not a response. */
	header(&m, 0);
	m.b[2] = 0x01;
	assert_int_equal(parse(&m), -EINVAL);
	/* Nor is a NOTIFY (opcode 4) answer. */
	header(&m, 0);
	m.b[2] = 0x80 | 4 << 3;
	assert_int_equal(parse(&m), -EINVAL);
	/* TC is reported. */
	header(&m, 0);
	m.b[2] |= 0x02;
	{
		struct edpg_dns_msg msg;

		assert_int_equal(edpg_dns_parse(m.b, m.n, &msg), 0);
		assert_true(msg.truncated);
		edpg_dns_msg_free(&msg);
	}
}

static void test_pointer_abuse(void **state)
{
	struct mb m;
	size_t at;

	(void)state;
	/* A pointer to itself. */
	header(&m, 1);
	at = m.n;
	putptr(&m, at);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);

	/* A forward pointer (to the answer's rdata). */
	header(&m, 1);
	putptr(&m, m.n + 12);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);

	/* A loop where every pointer points backwards: "x" then a pointer
	 * back to the "x" label, which would spin forever. */
	header(&m, 1);
	at = m.n;
	put8(&m, 1);
	put8(&m, 'x');
	putptr(&m, at);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);

	/* Two pointers into each other's segments. */
	header(&m, 2);
	at = m.n;
	put8(&m, 1);
	put8(&m, 'a');
	putptr(&m, at + 4);	/* forward: rejected at once */
	rr_a(&m, 10, ip1);
	put8(&m, 1);
	put8(&m, 'b');
	putptr(&m, at);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);

	/* A pointer whose second byte is missing. */
	header(&m, 1);
	put8(&m, 0xc0);
	assert_int_equal(parse(&m), -EBADMSG);

	/* A pointer in the question pointing into the header. */
	m.n = 0;
	put16(&m, 1);
	put16(&m, 0x8180);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	putptr(&m, 4);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(parse(&m), -EBADMSG);
}

static void test_labels(void **state)
{
	struct mb m;
	char name[300];

	(void)state;
	/* Label length 64 (top bits 01: an extended label type). */
	header(&m, 1);
	put8(&m, 64);
	for (int i = 0; i < 64; i++)
		put8(&m, 'a');
	put8(&m, 0);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);
	/* Label type 10. */
	header(&m, 1);
	put8(&m, 0x80);
	put8(&m, 0);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);

	/* 63-byte labels: four of them are 257 bytes on the wire, too long;
	 * three plus a 61-byte one are 255, the longest legal name. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	header(&m, 1);
	putname(&m, name);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);
	name[253] = '\0';
	header(&m, 1);
	putname(&m, name);
	rr_a(&m, 10, ip1);
	check_addrs(m.b, m.n, name, 1, "192.0.2.1", 10);
	/* Too long by compression: the same labels behind a pointer. */
	header(&m, 2);
	{
		size_t at = m.n;

		putname(&m, name);
		rr_a(&m, 10, ip1);
		put8(&m, 1);
		put8(&m, 'z');
		putptr(&m, at);
		rr_a(&m, 10, ip1);
	}
	assert_int_equal(parse(&m), -EBADMSG);

	/* A name with a dot inside a label is skipped, not confused with
	 * "evil.q.example". */
	header(&m, 1);
	put8(&m, 6);
	for (const char *s = "evil.q"; *s; s++)
		put8(&m, *s);
	put8(&m, 7);
	for (const char *s = "example"; *s; s++)
		put8(&m, *s);
	put8(&m, 0);
	rr_a(&m, 10, ip1);
	check_addrs(m.b, m.n, "evil.q.example", 0);
}

static void test_rdata(void **state)
{
	static const uint8_t six[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct mb m;

	(void)state;
	/* rdlength past the end. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_A, 10, 200);
	for (int i = 0; i < 4; i++)
		put8(&m, 1);
	assert_int_equal(parse(&m), -EBADMSG);
	/* Unknown type with an overrunning rdlength. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, 99, 10, 2);
	put8(&m, 0);
	assert_int_equal(parse(&m), -EBADMSG);
	/* A of 5 bytes, AAAA of 4. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_A, 10, 5);
	for (int i = 0; i < 5; i++)
		put8(&m, 1);
	assert_int_equal(parse(&m), -EBADMSG);
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_AAAA, 10, 4);
	for (int i = 0; i < 4; i++)
		put8(&m, 1);
	assert_int_equal(parse(&m), -EBADMSG);
	/* A proper AAAA. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_AAAA, 10, 16);
	for (int i = 0; i < 16; i++)
		put8(&m, six[i]);
	check_addrs(m.b, m.n, "q.example", 1, "2001:db8::", 10);
	/* A CNAME whose name does not fill its rdata. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_CNAME, 10, 5);
	putname(&m, "t");
	put16(&m, 0);
	assert_int_equal(parse(&m), -EBADMSG);
	/* A CNAME whose name runs past its rdata into the next bytes. */
	header(&m, 1);
	putptr(&m, 12);
	rr_fixed(&m, EDPG_DNS_T_CNAME, 10, 2);
	putname(&m, "tt");
	assert_int_equal(parse(&m), -EBADMSG);
	/* An answer count that cannot fit. */
	header(&m, 0xffff);
	putptr(&m, 12);
	rr_a(&m, 10, ip1);
	assert_int_equal(parse(&m), -EBADMSG);
}

static void put_cname(struct mb *m, const char *from, const char *to, uint32_t ttl)
{
	struct mb t = { .n = 0 };

	putname(m, from);
	putname(&t, to);
	rr_fixed(m, EDPG_DNS_T_CNAME, ttl, t.n);
	memcpy(m->b + m->n, t.b, t.n);
	m->n += t.n;
}

static void test_cname_loops(void **state)
{
	struct edpg_dns_msg msg;
	struct edpg_addr *a;
	uint32_t *ttl;
	size_t n;
	char from[16], to[16];
	struct mb m;

	(void)state;
	/* a -> b -> a, and an A for b that must not be returned. */
	header(&m, 3);
	put_cname(&m, "a.example", "b.example", 10);
	put_cname(&m, "b.example", "a.example", 10);
	putname(&m, "b.example");
	rr_a(&m, 10, ip1);
	assert_int_equal(edpg_dns_parse(m.b, m.n, &msg), 0);
	assert_int_equal(edpg_dns_addresses(&msg, "a.example", &a, &ttl, &n), -ELOOP);
	assert_null(a);
	assert_int_equal(n, 0);
	edpg_dns_msg_free(&msg);

	/* A chain of exactly EDPG_DNS_MAX_CHAIN hops works; one more does not. */
	for (int len = EDPG_DNS_MAX_CHAIN; len <= EDPG_DNS_MAX_CHAIN + 1; len++) {
		header(&m, len + 1);
		for (int i = 0; i < len; i++) {
			snprintf(from, sizeof(from), "n%d.example", i);
			snprintf(to, sizeof(to), "n%d.example", i + 1);
			put_cname(&m, from, to, 100 - i);
		}
		putname(&m, to);
		rr_a(&m, 1000, ip1);
		if (len == EDPG_DNS_MAX_CHAIN) {
			check_addrs(m.b, m.n, "n0.example", 1, "192.0.2.1", 100 - len + 1);
		} else {
			assert_int_equal(edpg_dns_parse(m.b, m.n, &msg), 0);
			assert_int_equal(edpg_dns_addresses(&msg, "n0.example", &a, &ttl, &n), -ELOOP);
			edpg_dns_msg_free(&msg);
		}
	}

	/* Bad names for the lookup itself. */
	header(&m, 0);
	assert_int_equal(edpg_dns_parse(m.b, m.n, &msg), 0);
	assert_int_equal(edpg_dns_addresses(&msg, "", &a, &ttl, &n), -EINVAL);
	assert_int_equal(edpg_dns_addresses(&msg, NULL, &a, &ttl, &n), -EINVAL);
	edpg_dns_msg_free(&msg);
}

static void test_garbage(void **state)
{
	uint8_t b[512];
	unsigned int seed = 12345;

	(void)state;
	/* Random bytes behind a plausible header, and random bit flips of the
	 * samples: whatever comes back, it must be a clean 0 or -errno. */
	for (int iter = 0; iter < 20000; iter++) {
		struct edpg_dns_msg m;
		size_t len, s = iter % (sizeof(samples) / sizeof(samples[0]));
		int err;

		if (iter & 1) {
			len = samples[s].len;
			memcpy(b, samples[s].buf, len);
			for (int k = 0; k < 1 + iter % 4; k++)
				b[rand_r(&seed) % len] ^= 1 << (rand_r(&seed) % 8);
		} else {
			len = 12 + rand_r(&seed) % 200;
			for (size_t i = 0; i < len; i++)
				b[i] = rand_r(&seed);
			b[2] = 0x81;
			b[3] = 0x80;
			b[4] = 0;
			b[5] = 1;
		}
		err = edpg_dns_parse(b, len, &m);
		assert_true(err == 0 || err == -EBADMSG || err == -EINVAL);
		if (!err) {
			struct edpg_addr *a;
			uint32_t *ttl;
			size_t n;

			err = edpg_dns_addresses(&m, m.qname[0] ? m.qname : "x", &a, &ttl, &n);
			assert_true(err == 0 || err == -ELOOP);
			free(a);
			free(ttl);
			edpg_dns_msg_free(&m);
		}
	}
}

static void test_parse_query(void **state)
{
	/* id 0xbeef, RD, one question: A? Login.Etherios.COM, then an OPT. */
	static const uint8_t q[] = {
		0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		5, 'L', 'o', 'g', 'i', 'n', 8, 'E', 't', 'h', 'e', 'r', 'i', 'o', 's',
		3, 'C', 'O', 'M', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t b[sizeof(q)];
	char name[EDPG_DNS_MAX];
	uint16_t id, qtype;

	(void)state;
	assert_int_equal(edpg_dns_parse_query(q, sizeof(q), &id, name, &qtype), 0);
	assert_int_equal(id, 0xbeef);
	assert_int_equal(qtype, EDPG_DNS_T_A);
	assert_string_equal(name, "login.etherios.com");
	/* An answer is not a question. */
	memcpy(b, q, sizeof(b));
	b[2] |= 0x80;
	assert_int_equal(edpg_dns_parse_query(b, sizeof(b), &id, name, &qtype), -EINVAL);
	/* Nor is a question carrying answers, or two questions. */
	memcpy(b, q, sizeof(b));
	b[7] = 1;
	assert_int_equal(edpg_dns_parse_query(b, sizeof(b), &id, name, &qtype), -EBADMSG);
	memcpy(b, q, sizeof(b));
	b[5] = 2;
	assert_int_equal(edpg_dns_parse_query(b, sizeof(b), &id, name, &qtype), -EBADMSG);
	/* Cut anywhere in the question: malformed. */
	for (size_t l = 0; l < 36; l++)
		assert_int_equal(edpg_dns_parse_query(q, l, &id, name, &qtype), -EBADMSG);
	/* Class CH: not ours. */
	memcpy(b, q, sizeof(b));
	b[35] = 3;
	assert_int_equal(edpg_dns_parse_query(b, sizeof(b), &id, name, &qtype), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a),
		cmocka_unit_test(test_aaaa),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_ttl_min),
		cmocka_unit_test(test_multi_ttl),
		cmocka_unit_test(test_lowercase),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_handbuilt_ok),
		cmocka_unit_test(test_pointer_abuse),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_rdata),
		cmocka_unit_test(test_cname_loops),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_parse_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
