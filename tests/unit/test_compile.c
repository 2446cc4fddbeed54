// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Policy compilation (loader/compile.c): the desired state both sinks are written from. */
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
#include "compile.h"
#include "rules.h"

static const char rules[] =
	"service a tcp 100-102\n"
	"service b udp 100\n"
	"service c tcp 200\n"
	"service d udp 300\n"		/* allowed nowhere */
	"group g1 x.example 10.0.0.0/8 192.0.2.1\n"
	"group g2 X.Example. 192.0.2.1 2001:db8::/32 absent.example\n"
	"group r @router\n"
	"allow a to g1\n"
	"allow b to g1,g2\n"
	"allow c to r\n"
	"defaults a\n"
	"unknown-mac pass\n"
	"non-ip drop\n";

static const char gateways[] =
	"gateway 00:40:9d:00:00:03 services b,c ip 192.0.2.50 vlan 12\n"
	"gateway 00:40:9d:00:00:01\n"
	"gateway 00:40:9d:00:00:02 services none ip 2001:db8::50\n";

static void load(struct edpg_policy *p)
{
	struct edpg_diags d = { 0 };

	assert_int_equal(edpg_rules_parse(p, "r", rules, strlen(rules), &d), 0);
	assert_int_equal(edpg_gateways_parse(p, "g", gateways, strlen(gateways), &d), 0);
	assert_int_equal(d.nerrors, 0);
	edpg_diags_free(&d);
}

static struct edpg_addr A(const char *s)
{
	struct edpg_addr a;

	if (edpg_addr_parse(s, &a, true))
		fail_msg("bad test address %s", s);
	return a;
}

static void expect_dst(const struct edpg_desired *w, size_t i, const char *addr, uint64_t groups)
{
	char buf[EDPG_ADDR_STRLEN];

	assert_true(i < w->ndsts);
	assert_int_equal(edpg_addr_format(&w->dsts[i].addr, buf, sizeof(buf)), 0);
	if (strcmp(buf, addr) || w->dsts[i].groups != groups)
		fail_msg("dst %zu: got %s groups %#llx, want %s groups %#llx", i, buf,
			 (unsigned long long)w->dsts[i].groups, addr, (unsigned long long)groups);
}

static void test_compile_full(void **state)
{
	struct edpg_addr xaddrs[] = { A("198.51.100.7"), A("192.0.2.1"), A("2001:db8::5") };
	struct edpg_addr other[] = { A("203.0.113.9") };
	struct edpg_resolved names[] = {
		{ .name = "X.EXAMPLE.", .addrs = xaddrs, .naddrs = 3 },
		{ .name = "unrelated.example", .addrs = other, .naddrs = 1 },
	};
	struct edpg_addr router[] = { A("192.168.1.1"), A("fe80::1") };
	struct edpg_desired *w = malloc(sizeof(*w));
	struct edpg_policy p;
	const uint64_t g1 = 1, g2 = 2, r = 4;

	(void)state;
	assert_non_null(w);
	load(&p);
	assert_int_equal(edpg_compile(&p, names, 2, router, 2, w), 0);

	assert_int_equal(w->flags, EDPG_F_UNKNOWN_MAC_PASS);

	/* Services, and (proto, port) -> id + 1 including the whole range. */
	assert_int_equal(w->nservices, 4);
	assert_string_equal(w->services[2].name, "c");
	assert_int_equal(w->ports[EDPG_PROTO_TCP][99], 0);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][100], 1);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][101], 1);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][102], 1);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][103], 0);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][100], 2);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][101], 0);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][200], 3);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][200], 0);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][300], 4);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][0], 0);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][65535], 0);

	/* Which groups each service may reach. */
	assert_int_equal(w->svc_groups[0], g1);
	assert_int_equal(w->svc_groups[1], g1 | g2);
	assert_int_equal(w->svc_groups[2], r);
	assert_int_equal(w->svc_groups[3], 0);

	assert_int_equal(w->ngroups, 3);
	assert_string_equal(w->group_names[0], "g1");
	assert_string_equal(w->group_names[1], "g2");
	assert_string_equal(w->group_names[2], "r");

	/*
	 * Destinations: unique, IPv4 before IPv6, by address then prefix;
	 * an address in several groups (literally or through a name) carries
	 * all their bits; @router adds the DHCP broadcast; the name nobody
	 * resolved adds nothing, the resolved name nobody uses adds nothing.
	 */
	assert_int_equal(w->ndsts, 8);
	expect_dst(w, 0, "10.0.0.0/8", g1);
	expect_dst(w, 1, "192.0.2.1", g1 | g2);
	expect_dst(w, 2, "192.168.1.1", r);
	expect_dst(w, 3, "198.51.100.7", g1 | g2);
	expect_dst(w, 4, "255.255.255.255", r);
	expect_dst(w, 5, "2001:db8::/32", g2);
	expect_dst(w, 6, "2001:db8::5", g1 | g2);
	expect_dst(w, 7, "fe80::1", r);

	/* Gateways sorted by MAC, bindings as flags. */
	assert_int_equal(w->ngws, 3);
	assert_int_equal(w->gws[0].mac[5], 1);
	assert_int_equal(w->gws[0].rec.services, 1);	/* defaults: a */
	assert_int_equal(w->gws[0].rec.flags, 0);
	assert_int_equal(w->gws[0].rec.slot, 0);
	assert_int_equal(w->gws[1].mac[5], 2);
	assert_int_equal(w->gws[1].rec.services, 0);
	assert_int_equal(w->gws[1].rec.flags, EDPG_GW_BIND_V6);
	assert_int_equal(w->gws[1].rec.ip6[0], 0x20);
	assert_int_equal(w->gws[1].rec.ip6[15], 0x50);
	assert_int_equal(w->gws[2].mac[5], 3);
	assert_int_equal(w->gws[2].rec.services, 0x6);
	assert_int_equal(w->gws[2].rec.flags, EDPG_GW_BIND_V4 | EDPG_GW_BIND_VLAN);
	assert_memory_equal(w->gws[2].rec.ip4, ((uint8_t[]){ 192, 0, 2, 50 }), 4);
	assert_int_equal(w->gws[2].rec.vlan, 12);

	edpg_desired_free(w);
	assert_null(w->gws);
	assert_null(w->dsts);
	free(w);
	edpg_policy_free(&p);
}

/*
 * An enrolment compiles the site once: the state before it is the new one
 * with the old gateways (edpg_compile_gateways_of).  That must be exactly
 * what compiling the old policy gives, sorted gateways whatever the order
 * of the policy's list, and a duplicate MAC still refused.
 */
static void test_compile_gateways_of(void **state)
{
	struct edpg_addr router[] = { A("192.168.1.1") };
	struct edpg_desired full, base, of;
	struct edpg_gateway extra = { .mac = { 0x00, 0x40, 0x9d, 0, 0, 0x02 }, .services = 1 };
	struct edpg_policy p, q;

	(void)state;
	load(&p);
	load(&q);
	/* q: one gateway fewer (the policy before an enrolment), unsorted. */
	q.gateways[1] = q.gateways[2];
	q.ngateways = 2;
	assert_int_equal(edpg_compile(&p, NULL, 0, router, 1, &base), 0);
	assert_int_equal(edpg_compile(&q, NULL, 0, router, 1, &full), 0);
	assert_int_equal(edpg_compile_gateways_of(&base, &q, &of), 0);

	assert_int_equal(of.ngws, 2);
	assert_int_equal(full.ngws, 2);
	assert_memory_equal(of.gws, full.gws, 2 * sizeof(*of.gws));
	assert_int_equal(of.gws[0].mac[5], 2);
	assert_int_equal(of.gws[1].mac[5], 3);
	/* Everything else is the base's, the destinations not copied. */
	assert_ptr_equal(of.dsts, base.dsts);
	assert_int_equal(of.ndsts, full.ndsts);
	assert_memory_equal(of.dsts, full.dsts, full.ndsts * sizeof(*full.dsts));
	assert_memory_equal(of.ports, full.ports, sizeof(full.ports));
	assert_int_equal(of.flags, full.flags);
	edpg_desired_free(&of);
	assert_non_null(base.dsts);	/* borrowed, left to base */

	/* A duplicate MAC is refused, nothing left allocated. */
	q.gateways[1] = extra;
	q.gateways[0] = extra;
	assert_int_equal(edpg_compile_gateways_of(&base, &q, &of), -EINVAL);
	assert_null(of.gws);

	edpg_desired_free(&base);
	edpg_desired_free(&full);
	edpg_policy_free(&p);
	edpg_policy_free(&q);
}

/*
 * An add or a delete compiles only the gateway it changes: the base
 * (services, ports, groups, flags) must be the whole compile's, with that
 * gateway's record as the whole compile makes it and no destination, or
 * the delta built from it would differ from the site's.
 */
static void test_compile_base(void **state)
{
	struct edpg_addr router[] = { A("192.168.1.1") };
	struct edpg_desired full, one, none;
	struct edpg_gateway bad;
	struct edpg_policy p;
	size_t k;

	(void)state;
	load(&p);
	assert_int_equal(edpg_compile(&p, NULL, 0, router, 1, &full), 0);
	assert_int_equal(edpg_compile_base(&p, &p.gateways[1], 1, &one), 0);
	assert_int_equal(one.ngws, 1);
	for (k = 0; k < full.ngws && memcmp(full.gws[k].mac, p.gateways[1].mac, 6); k++)
		;
	assert_true(k < full.ngws);
	assert_memory_equal(&one.gws[0], &full.gws[k], sizeof(one.gws[0]));
	assert_null(one.dsts);
	assert_int_equal(one.ndsts, 0);
	assert_int_equal(one.flags, full.flags);
	assert_int_equal(one.nservices, full.nservices);
	assert_memory_equal(one.services, full.services, full.nservices * sizeof(full.services[0]));
	assert_memory_equal(one.svc_groups, full.svc_groups, sizeof(full.svc_groups));
	assert_int_equal(one.ngroups, full.ngroups);
	assert_memory_equal(one.group_names, full.group_names,
			    full.ngroups * sizeof(full.group_names[0]));
	assert_memory_equal(one.ports, full.ports, sizeof(full.ports));

	/* The other side of an addition: the same base, no gateway. */
	assert_int_equal(edpg_compile_gateways(&one, NULL, 0, &none), 0);
	assert_int_equal(none.ngws, 0);
	assert_memory_equal(none.ports, full.ports, sizeof(full.ports));
	edpg_desired_free(&none);

	/* A service the rules do not define is refused, nothing left. */
	bad = p.gateways[0];
	bad.services = 1U << p.nservices;
	edpg_desired_free(&one);
	assert_int_equal(edpg_compile_base(&p, &bad, 1, &one), -EINVAL);
	assert_null(one.gws);
	assert_int_equal(one.ngws, 0);

	edpg_desired_free(&full);
	edpg_policy_free(&p);
}

static void test_compile_no_names(void **state)
{
	struct edpg_desired *w = malloc(sizeof(*w));
	struct edpg_policy p;

	(void)state;
	assert_non_null(w);
	load(&p);
	p.non_ip = EDPG_ACT_PASS;
	p.unknown_mac = EDPG_ACT_DROP;
	/* Without names or router addresses only literals and the broadcast remain. */
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), 0);
	assert_int_equal(w->flags, EDPG_F_NON_IP_PASS);
	assert_int_equal(w->ndsts, 4);
	expect_dst(w, 0, "10.0.0.0/8", 1);
	expect_dst(w, 1, "192.0.2.1", 3);
	expect_dst(w, 2, "255.255.255.255", 4);
	expect_dst(w, 3, "2001:db8::/32", 2);
	edpg_desired_free(w);
	free(w);
	edpg_policy_free(&p);
}

static void test_compile_shipped(void **state)
{
	struct edpg_addr login[] = { A("192.0.2.10") }, pool[] = { A("192.0.2.123"), A("2001:db8::123") };
	struct edpg_resolved names[] = {
		{ .name = "login.etherios.com", .addrs = login, .naddrs = 1 },
		{ .name = "0.idigi.pool.ntp.org", .addrs = pool, .naddrs = 2 },
	};
	struct edpg_addr router[] = { A("192.168.7.1") };
	struct edpg_desired *w = malloc(sizeof(*w));
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	char *text;
	size_t len;
	FILE *f;
	int edp, ssl, ntp, dns, dhcp;

	(void)state;
	assert_non_null(w);
	f = fopen("rules/devicecloud.rules", "r");
	assert_non_null(f);
	text = malloc(1 << 16);
	len = fread(text, 1, 1 << 16, f);
	fclose(f);
	assert_int_equal(edpg_rules_parse(&p, "devicecloud.rules", text, len, &d), 0);
	assert_int_equal(edpg_compile(&p, names, 2, router, 1, w), 0);
	edp = edpg_policy_service_id(&p, "edp") + 1;
	ssl = edpg_policy_service_id(&p, "edp-ssl") + 1;
	ntp = edpg_policy_service_id(&p, "ntp") + 1;
	dns = edpg_policy_service_id(&p, "dns") + 1;
	dhcp = edpg_policy_service_id(&p, "dhcp") + 1;
	assert_int_equal(w->ports[EDPG_PROTO_TCP][3197], edp);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][3199], ssl);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][123], ntp);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][53], dns);
	assert_int_equal(w->ports[EDPG_PROTO_UDP][67], dhcp);
	assert_int_equal(w->ports[EDPG_PROTO_TCP][123], 0);
	assert_int_equal(w->flags, 0);
	/* Device Cloud, NTP pool (v4 + v6), router, broadcast. */
	assert_int_equal(w->ndsts, 5);
	expect_dst(w, 0, "192.0.2.10", 1ULL << edpg_policy_group_id(&p, "devicecloud"));
	expect_dst(w, 1, "192.0.2.123", 1ULL << edpg_policy_group_id(&p, "ntp"));
	expect_dst(w, 2, "192.168.7.1", 1ULL << edpg_policy_group_id(&p, "router"));
	/* NTP may not reach Device Cloud and EDP may not reach the NTP servers. */
	assert_int_equal(w->svc_groups[ntp - 1] & w->svc_groups[ssl - 1], 0);
	edpg_desired_free(w);
	free(w);
	free(text);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

/* compile is pure and takes hand-built policies too: it checks what the parser guarantees. */
static void test_compile_rejects_inconsistent(void **state)
{
	struct edpg_desired *w = malloc(sizeof(*w));
	struct edpg_addr bad = { .family = AF_UNIX };
	struct edpg_resolved names[] = { { .name = "x.example", .addrs = &bad, .naddrs = 1 } };
	struct edpg_policy p;

	(void)state;
	assert_non_null(w);

	load(&p);
	p.services[1].proto = IPPROTO_TCP;	/* b now overlaps a on tcp/100 */
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), -EINVAL);
	assert_null(w->gws);
	assert_null(w->dsts);
	assert_int_equal(w->ndsts, 0);
	edpg_policy_free(&p);

	load(&p);
	memcpy(p.gateways[1].mac, p.gateways[0].mac, 6);
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), -EINVAL);
	edpg_policy_free(&p);

	load(&p);
	p.gateways[0].services = 1U << 20;	/* no such service */
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), -EINVAL);
	edpg_policy_free(&p);

	load(&p);
	assert_int_equal(edpg_compile(&p, names, 1, NULL, 0, w), -EINVAL);
	edpg_policy_free(&p);
	free(w);
}

static void test_compile_too_many_cidrs(void **state)
{
	struct edpg_desired *w = malloc(sizeof(*w));
	struct edpg_policy p;
	size_t i;

	(void)state;
	assert_non_null(w);
	memset(&p, 0, sizeof(p));
	p.ngroups = 1;
	strcpy(p.groups[0].name, "big");
	p.groups[0].nmembers = EDPG_MAX_CIDR + 1;
	p.groups[0].members = calloc(EDPG_MAX_CIDR + 1, sizeof(struct edpg_member));
	assert_non_null(p.groups[0].members);
	for (i = 0; i <= EDPG_MAX_CIDR; i++) {
		struct edpg_member *m = &p.groups[0].members[i];

		m->kind = EDPG_MEMBER_ADDR;
		m->addr.family = AF_INET;
		m->addr.plen = 24;
		m->addr.addr[0] = 10;
		m->addr.addr[1] = i >> 8;
		m->addr.addr[2] = i & 0xff;
	}
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), -E2BIG);
	p.groups[0].nmembers = EDPG_MAX_CIDR;
	assert_int_equal(edpg_compile(&p, NULL, 0, NULL, 0, w), 0);
	assert_int_equal(w->ndsts, EDPG_MAX_CIDR);
	edpg_desired_free(w);
	free(w);
	edpg_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_full),
		cmocka_unit_test(test_compile_gateways_of),
		cmocka_unit_test(test_compile_base),
		cmocka_unit_test(test_compile_no_names),
		cmocka_unit_test(test_compile_shipped),
		cmocka_unit_test(test_compile_rejects_inconsistent),
		cmocka_unit_test(test_compile_too_many_cidrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
