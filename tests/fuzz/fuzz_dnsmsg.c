// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the DNS response and question parsers.  The input is parsed as a
 * UDP message and, framed, as a TCP stream.  Whatever parses must hold the
 * parser's promises: lower-case bounded names, A/AAAA with full-length
 * prefixes, and an address lookup that ends (no CNAME loop spins).
 * ASan/UBSan catch out-of-bounds reads and leaks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"

/* UBSan only reports by default; a finding must fail the fuzz run. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_dnsmsg: %s\n", what);
		abort();
	}
}

static void check_name(const char *s)
{
	size_t l = strnlen(s, EDPG_DNS_MAX);

	check(l < EDPG_DNS_MAX, "name not terminated");
	for (size_t i = 0; i < l; i++)
		check(s[i] > 0x20 && s[i] < 0x7f && !(s[i] >= 'A' && s[i] <= 'Z'),
		      "name has an upper-case or unprintable byte");
}

static void lookup(const struct edpg_dns_msg *m, const char *name)
{
	struct edpg_addr *a;
	uint32_t *ttl;
	size_t n;
	int err;

	err = edpg_dns_addresses(m, name, &a, &ttl, &n);
	check(err == 0 || err == -ELOOP || err == -EINVAL || err == -ENOMEM, "addresses return");
	check(err == 0 || (!a && !n), "addresses error leaves output");
	for (size_t i = 0; i < n; i++)
		check((a[i].family == AF_INET && a[i].plen == 32) ||
		      (a[i].family == AF_INET6 && a[i].plen == 128), "address family/plen");
	free(a);
	free(ttl);
}

static void question(const uint8_t *buf, size_t len)
{
	char qname[EDPG_DNS_MAX];
	uint16_t id, qtype;
	int err;

	err = edpg_dns_parse_query(buf, len, &id, qname, &qtype);
	check(err == 0 || err == -EINVAL || err == -EBADMSG, "parse_query return");
	if (!err) {
		check_name(qname);
		check(qname[0], "question for the root");
	}
}

static void one(const uint8_t *buf, size_t len)
{
	struct edpg_dns_msg m;
	int err;

	question(buf, len);
	err = edpg_dns_parse(buf, len, &m);
	check(err == 0 || err == -EINVAL || err == -EBADMSG || err == -ENOMEM, "parse return");
	if (err) {
		check(!m.answers && !m.nanswers, "parse error leaves answers");
		return;
	}
	check(m.response, "not a response");
	check(m.rcode == 0 || !m.nanswers, "answers with a non-zero rcode");
	check_name(m.qname);
	for (size_t i = 0; i < m.nanswers; i++) {
		const struct edpg_dns_rr *rr = &m.answers[i];

		check_name(rr->name);
		check(rr->name[0], "answer owned by the root");
		check(rr->ttl <= EDPG_DNS_MAX_TTL, "ttl above the cap");
		if (rr->type == EDPG_DNS_T_CNAME) {
			check_name(rr->target);
			check(rr->target[0], "empty CNAME target");
		} else {
			check(rr->type == EDPG_DNS_T_A || rr->type == EDPG_DNS_T_AAAA, "kept type");
		}
		if (i < 4)
			lookup(&m, rr->name);
	}
	if (m.qname[0])
		lookup(&m, m.qname);
	edpg_dns_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	size_t off = 0, mlen;
	int err;

	one(data, size);
	while ((err = edpg_dns_tcp_next(data, size, &off, &msg, &mlen)) == 0) {
		check(msg >= data + 2 && msg + mlen <= data + size, "frame bounds");
		one(msg, mlen);
	}
	check(err == -ENOENT || err == -EBADMSG, "tcp_next return");
	return 0;
}
