// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The rules data parser (loader/rules.c): every error class at its exact position. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int parse(struct edpg_policy *p, const char *text, struct edpg_diags *d)
{
	return edpg_rules_parse(p, "t.rules", text, strlen(text), d);
}

static void dump(const struct edpg_diags *d)
{
	char buf[512];
	size_t i;

	for (i = 0; i < d->n; i++) {
		edpg_diags_format(&d->v[i], buf, sizeof(buf));
		print_message("  %s\n", buf);
	}
}

/* Diagnostic @i is @sev at @line:@col and its message contains @sub. */
static void expect(const struct edpg_diags *d, size_t i, int sev, int line, int col, const char *sub)
{
	if (i >= d->n || d->v[i].severity != sev || d->v[i].line != line || d->v[i].col != col ||
	    !strstr(d->v[i].msg, sub)) {
		dump(d);
		fail_msg("diag %zu: want %s %d:%d '%s'", i, sev ? "error" : "warning", line, col, sub);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	assert_non_null(f);
	buf = malloc(1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static uint32_t svc_bits(const struct edpg_policy *p, const char *list)
{
	char tmp[256], *save, *s;
	uint32_t bits = 0;
	int id;

	snprintf(tmp, sizeof(tmp), "%s", list);
	for (s = strtok_r(tmp, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		id = edpg_policy_service_id(p, s);
		assert_true(id >= 0);
		bits |= 1U << id;
	}
	return bits;
}

/* ---- the shipped policy ------------------------------------------------- */

static void test_shipped_rules(void **state)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	const struct edpg_group *g;
	size_t len;
	char *text = slurp("rules/devicecloud.rules", &len);
	int id, ntp;

	(void)state;
	assert_int_equal(edpg_rules_parse(&p, "rules/devicecloud.rules", text, len, &d), 0);
	/* Only the two deprecated my.idigi.* names are warned about. */
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 2);
	assert_non_null(strstr(d.v[0].msg, "my.idigi.com"));
	assert_non_null(strstr(d.v[1].msg, "my.idigi.co.uk"));

	id = edpg_policy_service_id(&p, "edp");
	assert_true(id >= 0);
	assert_int_equal(p.services[id].proto, IPPROTO_TCP);
	assert_int_equal(p.services[id].port_lo, 3197);
	assert_int_equal(p.services[id].port_hi, 3197);
	id = edpg_policy_service_id(&p, "edp-ssl");
	assert_true(id >= 0);
	assert_int_equal(p.services[id].proto, IPPROTO_TCP);
	assert_int_equal(p.services[id].port_lo, 3199);
	ntp = edpg_policy_service_id(&p, "ntp");
	assert_true(ntp >= 0);
	assert_int_equal(p.services[ntp].proto, IPPROTO_UDP);
	assert_int_equal(p.services[ntp].port_lo, 123);
	id = edpg_policy_service_id(&p, "dns");
	assert_int_equal(p.services[id].proto, IPPROTO_UDP);
	assert_int_equal(p.services[id].port_lo, 53);
	id = edpg_policy_service_id(&p, "dns-tcp");
	assert_int_equal(p.services[id].proto, IPPROTO_TCP);
	assert_int_equal(p.services[id].port_lo, 53);
	id = edpg_policy_service_id(&p, "dhcp");
	assert_int_equal(p.services[id].proto, IPPROTO_UDP);
	assert_int_equal(p.services[id].port_lo, 67);

	/* 3197 only on request: old NDS firmware. */
	assert_int_equal(p.default_services, svc_bits(&p, "edp-ssl,ntp,dns,dns-tcp,dhcp"));
	assert_int_equal(p.unknown_mac, EDPG_ACT_DROP);
	assert_int_equal(p.non_ip, EDPG_ACT_DROP);

	id = edpg_policy_group_id(&p, "devicecloud");
	assert_true(id >= 0);
	g = &p.groups[id];
	/* The article's four names, then today's Remote Manager names. */
	assert_int_equal(g->nmembers, 9);
	assert_string_equal(g->members[0].name, "login.etherios.com");
	assert_string_equal(g->members[1].name, "login.etherios.co.uk");
	assert_string_equal(g->members[2].name, "my.idigi.com");
	assert_string_equal(g->members[3].name, "my.idigi.co.uk");
	assert_string_equal(g->members[4].name, "edp12.devicecloud.com");
	assert_string_equal(g->members[5].name, "devicecloud.digi.com");
	assert_string_equal(g->members[6].name, "remotemanager.digi.com");
	assert_string_equal(g->members[7].name, "my.devicecloud.com");
	assert_string_equal(g->members[8].name, "devicecloud-uk.digi.com");
	/* A Cloud Connector caches the cloud address for up to 24 h. */
	assert_true(g->grace >= 86400);
	assert_int_equal(p.services[edpg_policy_service_id(&p, "edp")].groups, 1ULL << id);
	assert_int_equal(p.services[edpg_policy_service_id(&p, "edp-ssl")].groups, 1ULL << id);

	id = edpg_policy_group_id(&p, "ntp");
	g = &p.groups[id];
	assert_int_equal(g->nmembers, 7);
	assert_string_equal(g->members[0].name, "time.etherios.com");
	assert_string_equal(g->members[5].name, "3.idigi.pool.ntp.org");
	assert_string_equal(g->members[6].name, "time.devicecloud.com");
	assert_true(g->grace >= 2048);	/* NTP polls up to every 1024 s */
	assert_int_equal(p.services[ntp].groups, 1ULL << id);

	id = edpg_policy_group_id(&p, "router");
	g = &p.groups[id];
	assert_int_equal(g->nmembers, 1);
	assert_int_equal(g->members[0].kind, EDPG_MEMBER_ROUTER);
	assert_int_equal(p.services[edpg_policy_service_id(&p, "dhcp")].groups, 1ULL << id);
	assert_int_equal(p.services[edpg_policy_service_id(&p, "dns")].groups, 1ULL << id);

	edpg_policy_free(&p);
	edpg_diags_free(&d);
	free(text);
}

/* The article alone: the same services, only its names. */
static void test_legacy_rules(void **state)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	size_t len;
	char *text = slurp("rules/legacy.rules", &len);
	const struct edpg_group *g;

	(void)state;
	assert_int_equal(edpg_rules_parse(&p, "rules/legacy.rules", text, len, &d), 0);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(p.nservices, 6);
	g = &p.groups[edpg_policy_group_id(&p, "devicecloud")];
	assert_int_equal(g->nmembers, 4);
	assert_string_equal(g->members[3].name, "my.idigi.co.uk");
	assert_int_equal(p.groups[edpg_policy_group_id(&p, "ntp")].nmembers, 6);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	free(text);
}

/*
 * The optional blocks at the end of the shipped file must parse once
 * uncommented: an admin who enables them gets EDP over 443 to its own
 * group and SM/UDP to the cloud group, and nothing else changes.
 */
static void test_shipped_optional(void **state)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	size_t len, n = 0;
	char *text = slurp("rules/devicecloud.rules", &len);
	int id, g443;

	(void)state;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "#service ", 9) || !strncmp(l, "#group ", 7) || !strncmp(l, "#allow ", 7)) {
			*l = ' ';
			n++;
		}
	}
	assert_int_equal(n, 5);
	assert_int_equal(edpg_rules_parse(&p, "uncommented", text, len, &d), 0);
	assert_int_equal(d.nerrors, 0);
	id = edpg_policy_service_id(&p, "edp-443");
	assert_true(id >= 0);
	assert_int_equal(p.services[id].port_lo, 443);
	g443 = edpg_policy_group_id(&p, "devicecloud-443");
	assert_string_equal(p.groups[g443].members[0].name, "2my.devicecloud.com");
	assert_int_equal(p.services[id].groups, 1ULL << g443);
	id = edpg_policy_service_id(&p, "sm-udp");
	assert_int_equal(p.services[id].proto, IPPROTO_UDP);
	assert_int_equal(p.services[id].port_lo, 3297);
	assert_int_equal(p.services[id].groups, 1ULL << edpg_policy_group_id(&p, "devicecloud"));
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	free(text);
}

/* ---- every error class, one per input --------------------------------- */

struct bad {
	const char *text;
	int line, col;
	const char *msg;
};

static const struct bad rule_errors[] = {
	{ "frob x\n", 1, 1, "unknown keyword 'frob'" },
	{ "Service a tcp 1\n", 1, 1, "unknown keyword" },
	{ "service a tcp 1\nservice a udp 2\n", 2, 9, "duplicate service 'a' (first defined at line 1)" },
	{ "group g x.com\ngroup g y.com\n", 2, 7, "duplicate group 'g'" },
	{ "allow nope to g\ngroup g x.com\n", 1, 7, "undefined service 'nope'" },
	{ "service a tcp 1\nallow a to nope\n", 2, 12, "undefined group 'nope'" },
	{ "service a tcp 0\n", 1, 15, "port '0' is out of range (1-65535)" },
	{ "service a tcp 65536\n", 1, 15, "out of range" },
	{ "service a tcp 99999999999\n", 1, 15, "out of range" },
	{ "service a tcp 20-10\n", 1, 15, "low port is above the high port" },
	{ "service a tcp 1x\n", 1, 15, "invalid port '1x'" },
	{ "service a tcp -5\n", 1, 15, "invalid port range" },
	{ "service a tcp 10-2x\n", 1, 18, "invalid port '2x'" },
	{ "service a tcp 10-0\n", 1, 18, "port '0' is out of range" },
	{ "service a tcp\n", 1, 14, "expected a port" },
	{ "service a\n", 1, 10, "expected tcp or udp" },
	{ "service\n", 1, 8, "expected a service name" },
	{ "service a sctp 1\n", 1, 11, "expected tcp or udp, got 'sctp'" },
	{ "service 1a tcp 1\n", 1, 9, "invalid service name '1a'" },
	{ "service a.b tcp 1\n", 1, 9, "invalid service name" },
	{ "service abcdefghijabcdefghijabcdefghijab tcp 1\n", 1, 9, "invalid service name" },
	{ "service none tcp 1\n", 1, 9, "reserved" },
	{ "service a tcp 1-10\nservice b tcp 10-20\n", 2, 15, "overlap service 'a'" },
	{ "service a udp 50-60\nservice b udp 40-50\n", 2, 15, "overlap" },
	{ "service a tcp 1 extra\n", 1, 17, "unexpected 'extra'" },
	{ "group g 10.0.0.1/8\n", 1, 9, "host bits set in '10.0.0.1/8' (the network is 10.0.0.0/8)" },
	{ "group g 2001:db8::1/32\n", 1, 9, "the network is 2001:db8::/32" },
	{ "group g 10.0.0.0/33\n", 1, 9, "prefix length" },
	{ "group g 300.1.1.1\n", 1, 9, "invalid address '300.1.1.1'" },
	{ "group g fe80::1::2\n", 1, 9, "invalid address" },
	{ "group g 1.2.3\n", 1, 9, "invalid address" },
	{ "group g\n", 1, 8, "needs at least one member" },
	{ "group g grace\n", 1, 14, "expected a number of seconds after 'grace'" },
	{ "group g grace x a.com\n", 1, 15, "invalid grace 'x'" },
	{ "group g max-addrs 0 a.com\n", 1, 19, "out of range (1-1024)" },
	{ "group g grace 1 grace 2 a.com\n", 1, 17, "'grace' given twice" },
	{ "group g a.com grace 5\n", 1, 15, "must come before" },
	{ "group g a..com\n", 1, 11, "empty label" },
	{ "group g a.c$m\n", 1, 12, "invalid character '$'" },
	{ "group g a.0123456789012345678901234567890123456789012345678901234567890123.com\n", 1, 74,
	  "longer than 63" },
	{ "group g @foo\n", 1, 9, "only @ member is @router" },
	{ "group 9 a.com\n", 1, 7, "invalid group name" },
	{ "unknown-mac maybe\n", 1, 13, "expected drop or pass, got 'maybe'" },
	{ "non-ip\n", 1, 7, "expected drop or pass" },
	{ "non-ip drop drop\n", 1, 13, "unexpected 'drop'" },
	{ "unknown-mac drop\nunknown-mac pass\n", 2, 1, "already given at line 1" },
	{ "defaults\n", 1, 9, "expected a service list" },
	{ "service a tcp 1\ndefaults a\ndefaults a\n", 3, 1, "'defaults' already given at line 2" },
	{ "service a tcp 1\nallow a g\ngroup g x.com\n", 2, 9, "expected 'to'" },
	{ "service a tcp 1\nallow a\n", 2, 8, "expected 'to'" },
	{ "service a tcp 1\nallow a to\n", 2, 11, "expected a group list" },
	{ "allow\n", 1, 6, "expected a service list" },
	{ "service a tcp 1\ndefaults a,,a\n", 2, 12, "empty service name" },
	{ "service a tcp 1\ndefaults ,a\n", 2, 10, "empty service name" },
	{ "service a tcp 1\ndefaults a,\n", 2, 12, "expected a service name after ','" },
	{ "gateway 00:40:9d:aa:bb:cc\n", 1, 1, "belong in the gateways file" },
	{ "service a tcp 1 \\ x\n", 1, 17, "stray '\\'" },
	{ "service a tcp 1\001\n", 1, 16, "invalid character 0x01" },
};

static void test_rule_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rule_errors); i++) {
		const struct bad *b = &rule_errors[i];
		struct edpg_diags d = { 0 };
		struct edpg_policy p;
		int r;

		r = parse(&p, b->text, &d);
		if (r != -EINVAL || d.nerrors != 1) {
			dump(&d);
			fail_msg("case %zu (%s): ret %d, %zu errors", i, b->text, r, d.nerrors);
		}
		expect(&d, 0, EDPG_DIAG_ERROR, b->line, b->col, b->msg);
		assert_string_equal(d.v[0].file, "t.rules");
		edpg_policy_free(&p);
		edpg_diags_free(&d);
	}
}

static void test_all_errors_reported_in_order(void **state)
{
	const char *text =
		"service edp tcp 3197\n"
		"group late x.example\n"
		"allow edp,nope to cloud,nowhere\n"	/* undefined service and group */
		"service edp udp 5\n"		/* duplicate */
		"group cloud my.idigi.com 10.0.0.1/8\n"	/* warning + host bits */
		"bogus\n"
		"unknown-mac sometimes\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;

	(void)state;
	assert_int_equal(parse(&p, text, &d), -EINVAL);
	assert_int_equal(d.nerrors, 6);
	assert_int_equal(d.nwarnings, 1);
	/* Sorted by position although found in two passes. */
	expect(&d, 0, EDPG_DIAG_ERROR, 3, 11, "undefined service 'nope'");
	expect(&d, 1, EDPG_DIAG_ERROR, 3, 25, "undefined group 'nowhere'");
	expect(&d, 2, EDPG_DIAG_ERROR, 4, 9, "duplicate service 'edp'");
	expect(&d, 3, EDPG_DIAG_WARNING, 5, 13, "my.idigi.com");
	expect(&d, 4, EDPG_DIAG_ERROR, 5, 26, "host bits");
	expect(&d, 5, EDPG_DIAG_ERROR, 6, 1, "unknown keyword 'bogus'");
	expect(&d, 6, EDPG_DIAG_ERROR, 7, 13, "expected drop or pass");
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_diag_format(void **state)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	char buf[256];

	(void)state;
	assert_int_equal(parse(&p, "group g my.idigi.co.uk\nnope\n", &d), -EINVAL);
	assert_int_equal(d.n, 2);
	edpg_diags_format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "t.rules:1:9: warning: 'my.idigi.co.uk' is deprecated: Digi asks "
			    "gateways to move to login.etherios.* (kept so gateways still "
			    "configured with it can connect)");
	edpg_diags_format(&d.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "t.rules:2:1: error: unknown keyword 'nope' (expected service, "
			    "group, allow, defaults, unknown-mac or non-ip)");
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

/* ---- what parses ------------------------------------------------------- */

static void test_continuation_and_comments(void **state)
{
	const char *text =
		"# a comment line\n"
		"   \t\r\n"
		"service a tcp 1-1024 # after tokens\n"
		"service b udp 5#no blank needed\n"
		"group g a.example.com \\\n"
		"    b..com  # error on the continued line\n"
		"allow a \\   # a comment after the backslash\n"
		"  ,b \\\n"
		"  to g\r\n"
		"group h min-ttl 5 \\\n"
		"\\\n"
		"   c.example\n"
		"non-ip nope\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	int a, b, g, h;

	(void)state;
	assert_int_equal(parse(&p, text, &d), -EINVAL);
	assert_int_equal(d.nerrors, 2);
	/* Continued lines keep their physical line and column. */
	expect(&d, 0, EDPG_DIAG_ERROR, 6, 7, "empty label");
	expect(&d, 1, EDPG_DIAG_ERROR, 13, 8, "expected drop or pass");
	a = edpg_policy_service_id(&p, "a");
	b = edpg_policy_service_id(&p, "b");
	g = edpg_policy_group_id(&p, "g");
	h = edpg_policy_group_id(&p, "h");
	assert_true(a >= 0 && b >= 0 && g >= 0 && h >= 0);
	assert_int_equal(p.services[a].port_lo, 1);
	assert_int_equal(p.services[a].port_hi, 1024);
	assert_int_equal(p.services[b].port_lo, 5);
	assert_int_equal(p.groups[g].nmembers, 1);
	assert_string_equal(p.groups[g].members[0].name, "a.example.com");
	assert_int_equal(p.services[a].groups, 1ULL << g);
	assert_int_equal(p.services[b].groups, 1ULL << g);
	assert_int_equal(p.groups[h].min_ttl, 5);
	assert_int_equal(p.groups[h].nmembers, 1);
	assert_int_equal(p.groups[h].members[0].kind, EDPG_MEMBER_NAME);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_members_and_options(void **state)
{
	const char *text =
		"group g min-ttl 0 grace 604800 max-addrs 7 Login.Etherios.COM. 192.0.2.1 \\\n"
		"   10.0.0.0/8 2001:db8::/32 2001:DB8::1 @router 192.0.2.1 MY.IDIGI.COM\n"
		"group d x.example\n"
		"unknown-mac pass\n"
		"non-ip pass\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	const struct edpg_group *g;

	(void)state;
	assert_int_equal(parse(&p, text, &d), 0);
	assert_int_equal(d.nwarnings, 2);
	expect(&d, 0, EDPG_DIAG_WARNING, 2, 49, "already a member");
	expect(&d, 1, EDPG_DIAG_WARNING, 2, 59, "'my.idigi.com' is deprecated");
	g = &p.groups[0];
	assert_int_equal(g->min_ttl, 0);
	assert_int_equal(g->grace, 604800);
	assert_int_equal(g->max_addrs, 7);
	assert_int_equal(g->nmembers, 7);
	/* Names are stored lower-case, without the root dot. */
	assert_string_equal(g->members[0].name, "login.etherios.com");
	assert_int_equal(g->members[1].kind, EDPG_MEMBER_ADDR);
	assert_int_equal(g->members[1].addr.plen, 32);
	assert_int_equal(g->members[2].addr.plen, 8);
	assert_int_equal(g->members[3].addr.plen, 32);
	assert_int_equal(g->members[4].addr.plen, 128);
	assert_int_equal(g->members[5].kind, EDPG_MEMBER_ROUTER);
	assert_string_equal(g->members[6].name, "my.idigi.com");
	/* Defaults when no option is given. */
	assert_int_equal(p.groups[1].min_ttl, EDPG_DEF_MIN_TTL);
	assert_int_equal(p.groups[1].grace, EDPG_DEF_GRACE);
	assert_int_equal(p.groups[1].max_addrs, EDPG_DEF_MAX_ADDRS);
	assert_int_equal(p.unknown_mac, EDPG_ACT_PASS);
	assert_int_equal(p.non_ip, EDPG_ACT_PASS);
	assert_int_equal(p.default_services, 0);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_ports_and_lists(void **state)
{
	const char *text =
		"allow a, b ,c to g,h\n"	/* forward references */
		"service a tcp 1-10\n"
		"service b udp 1-10\n"		/* same ports, other protocol */
		"service c tcp 11-65535\n"
		"group g x.example\n"
		"group h y.example\n"
		"defaults c ,a\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;

	(void)state;
	assert_int_equal(parse(&p, text, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(p.nservices, 3);
	assert_int_equal(p.services[2].port_hi, 65535);
	assert_int_equal(p.services[0].groups, 3);
	assert_int_equal(p.services[1].groups, 3);
	assert_int_equal(p.services[2].groups, 3);
	assert_int_equal(p.default_services, 0x5);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_limits(void **state)
{
	char text[8192];
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i < EDPG_MAX_SERVICES + 1; i++)
		n += snprintf(text + n, sizeof(text) - n, "service s%d tcp %d\n", i, 1000 + i);
	for (i = 0; i < EDPG_MAX_GROUPS + 1; i++)
		n += snprintf(text + n, sizeof(text) - n, "group g%d x%d.example\n", i, i);
	assert_int_equal(parse(&p, text, &d), -EINVAL);
	assert_int_equal(d.nerrors, 2);
	expect(&d, 0, EDPG_DIAG_ERROR, 33, 9, "too many services (at most 32)");
	expect(&d, 1, EDPG_DIAG_ERROR, 33 + 65, 7, "too many groups (at most 64)");
	assert_int_equal(p.nservices, EDPG_MAX_SERVICES);
	assert_int_equal(p.ngroups, EDPG_MAX_GROUPS);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_empty_and_garbage(void **state)
{
	static const char nul[] = "service a tcp 1\n\0service b tcp 2\nservice c tcp 3";
	static const char garbage[] = "\\\n\\\\\n#\n\xff\xfe service\n,,,\n\0\0\0";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;

	(void)state;
	assert_int_equal(edpg_rules_parse(&p, "e", "", 0, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(p.nservices, 0);
	assert_int_equal(p.unknown_mac, EDPG_ACT_DROP);
	edpg_policy_free(&p);
	assert_int_equal(edpg_rules_parse(&p, "e", NULL, 0, &d), 0);
	edpg_policy_free(&p);
	/* A continuation at the very end of the text is harmless. */
	assert_int_equal(edpg_rules_parse(&p, "e", "non-ip pass \\", 13, &d), 0);
	assert_int_equal(p.non_ip, EDPG_ACT_PASS);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	/* A NUL byte is an error at its position, not the end of the text. */
	assert_int_equal(edpg_rules_parse(&p, "n", nul, sizeof(nul) - 1, &d), -EINVAL);
	assert_int_equal(d.nerrors, 1);
	expect(&d, 0, EDPG_DIAG_ERROR, 2, 1, "invalid character 0x00");
	assert_int_equal(p.nservices, 2);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	assert_int_equal(edpg_rules_parse(&p, "g", garbage, sizeof(garbage) - 1, &d), -EINVAL);
	assert_true(d.nerrors >= 3);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

/* ---- gateways file ----------------------------------------------------- */

static const char gw_rules[] =
	"service a tcp 1\nservice b udp 2\nservice c tcp 3\ndefaults a,b\n";

static void rules_for_gateways(struct edpg_policy *p)
{
	struct edpg_diags d = { 0 };

	assert_int_equal(parse(p, gw_rules, &d), 0);
	edpg_diags_free(&d);
}

static const struct bad gw_errors[] = {
	{ "gateway 00:40:9d:aa:bb\n", 1, 9, "invalid MAC address '00:40:9d:aa:bb'" },
	{ "gateway 01:40:9d:aa:bb:cc\n", 1, 9, "is a multicast MAC address" },
	{ "gateway 0000.0000.0000\n", 1, 9, "is an all-zero MAC address" },
	{ "gateway FF-FF-FF-FF-FF-FF\n", 1, 9, "is a broadcast MAC address" },
	{ "gateway\n", 1, 8, "expected a MAC address" },
	{ "gateway 00:40:9d:aa:bb:cc services c,d\n", 1, 38, "undefined service 'd'" },
	{ "gateway 00:40:9d:aa:bb:cc services\n", 1, 35, "expected a value after 'services'" },
	{ "gateway 00:40:9d:aa:bb:cc name 1x\n", 1, 32, "invalid gateway name '1x'" },
	{ "gateway 00:40:9d:aa:bb:cc name ab-cd-ef-01-02-03\n", 1, 32, "reads as a MAC address" },
	{ "gateway 00:40:9d:aa:bb:cc name x name y\n", 1, 34, "'name' given twice" },
	{ "gateway 00:40:9d:aa:bb:cc ip 10.0.0.1 ip 10.0.0.2\n", 1, 42, "at most one IPv4" },
	{ "gateway 00:40:9d:aa:bb:cc ip ::1 ip ::2\n", 1, 37, "second IPv6" },
	{ "gateway 00:40:9d:aa:bb:cc ip 10.0.0.0/24\n", 1, 30, "not a prefix" },
	{ "gateway 00:40:9d:aa:bb:cc ip foo\n", 1, 30, "invalid IP address 'foo'" },
	{ "gateway 00:40:9d:aa:bb:cc vlan 0\n", 1, 32, "VLAN id '0' is out of range (1-4094)" },
	{ "gateway 00:40:9d:aa:bb:cc vlan 4095\n", 1, 32, "out of range" },
	{ "gateway 00:40:9d:aa:bb:cc vlan 1 vlan 2\n", 1, 34, "'vlan' given twice" },
	{ "gateway 00:40:9d:aa:bb:cc vlan\n", 1, 31, "expected a value after 'vlan'" },
	{ "gateway 00:40:9d:aa:bb:cc color\n", 1, 27, "unknown gateway option 'color'" },
	{ "gateway 00:40:9d:aa:bb:cc\ngateway 00-40-9D-AA-BB-CC\n", 2, 9,
	  "duplicate gateway 00:40:9d:aa:bb:cc (first enrolled at line 1)" },
	{ "gateway 00:40:9d:aa:bb:cc name x\ngateway 00:40:9d:aa:bb:cd name x\n", 2, 32,
	  "duplicate gateway name 'x' (first used at line 1)" },
	{ "service d tcp 4\n", 1, 1, "only 'gateway' lines" },
	{ "defaults a\n", 1, 1, "only 'gateway' lines" },
};

static void test_gateway_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(gw_errors); i++) {
		const struct bad *b = &gw_errors[i];
		struct edpg_diags d = { 0 };
		struct edpg_policy p;
		int r;

		rules_for_gateways(&p);
		r = edpg_gateways_parse(&p, "gw", b->text, strlen(b->text), &d);
		if (r != -EINVAL || d.nerrors != 1) {
			dump(&d);
			fail_msg("case %zu (%s): ret %d, %zu errors", i, b->text, r, d.nerrors);
		}
		expect(&d, 0, EDPG_DIAG_ERROR, b->line, b->col, b->msg);
		/* Reported against the gateways file, not the rules file. */
		assert_string_equal(d.v[0].file, "gw");
		edpg_policy_free(&p);
		edpg_diags_free(&d);
	}
}

static void test_gateways_parse(void **state)
{
	const char *text =
		"# enrolled\n"
		"gateway 00:40:9d:aa:bb:02 name boiler-room services c , a ip 192.0.2.20 \\\n"
		"        ip 2001:DB8::20 vlan 10\n"
		"gateway 0040.9DAA.BB01\n"
		"gateway 00-40-9d-aa-bb-03 vlan 4094 services none name quiet\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	const struct edpg_gateway *g;

	(void)state;
	rules_for_gateways(&p);
	assert_int_equal(edpg_gateways_parse(&p, "gw", text, strlen(text), &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(p.ngateways, 3);
	g = &p.gateways[0];
	assert_memory_equal(g->mac, ((uint8_t[]){ 0, 0x40, 0x9d, 0xaa, 0xbb, 2 }), 6);
	assert_string_equal(g->name, "boiler-room");
	assert_int_equal(g->services, svc_bits(&p, "a,c"));
	assert_true(g->has_ip4 && g->has_ip6 && g->has_vlan);
	assert_memory_equal(g->ip4, ((uint8_t[]){ 192, 0, 2, 20 }), 4);
	assert_int_equal(g->ip6[0], 0x20);
	assert_int_equal(g->ip6[15], 0x20);
	assert_int_equal(g->vlan, 10);
	assert_false(g->uses_defaults);
	g = &p.gateways[1];
	assert_string_equal(g->name, "");
	/* No `services`: the rules' defaults, and it says so. */
	assert_int_equal(g->services, svc_bits(&p, "a,b"));
	assert_true(g->uses_defaults);
	assert_false(g->has_ip4 || g->has_ip6 || g->has_vlan);
	g = &p.gateways[2];
	assert_int_equal(g->services, 0);
	/* `services none` is an explicit empty list, not the defaults. */
	assert_false(g->uses_defaults);
	assert_int_equal(g->vlan, 4094);

	assert_int_equal(edpg_policy_find_gateway(&p, "00:40:9D:AA:BB:01"), 1);
	assert_int_equal(edpg_policy_find_gateway(&p, "0040.9daa.bb03"), 2);
	assert_int_equal(edpg_policy_find_gateway(&p, "quiet"), 2);
	assert_int_equal(edpg_policy_find_gateway(&p, "loud"), -ENOENT);
	assert_int_equal(edpg_policy_find_gateway(&p, "00:40:9d:aa:bb:04"), -ENOENT);
	assert_int_equal(edpg_policy_service_id(&p, "zzz"), -ENOENT);

	/* A second parse (e.g. `gateway add` building a line) checks against the first. */
	text = "gateway 00:40:9d:aa:bb:01 name boiler-room\n";
	assert_int_equal(edpg_gateways_parse(&p, "cmdline", text, strlen(text), &d), -EINVAL);
	assert_int_equal(d.nerrors, 2);
	expect(&d, 0, EDPG_DIAG_ERROR, 1, 9, "gateway 00:40:9d:aa:bb:01 is already enrolled");
	expect(&d, 1, EDPG_DIAG_ERROR, 1, 32, "gateway name 'boiler-room' is already in use");
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_gateways_round_trip(void **state)
{
	const char *text =
		"gateway 00-40-9D-AA-BB-CC services c,a ip 2001:db8::20 name z-last vlan 7 ip 192.0.2.20\n"
		"gateway 02:00:00:00:00:01 services none\n"
		"gateway 0040.9daa.bb01 name first\n"
		"gateway 00:40:9d:aa:bb:ff ip fe80::1\n";
	/* Without `services` in, without `services` out: they follow the defaults. */
	const char *want =
		"gateway 00:40:9d:aa:bb:01 name first\n"
		"gateway 00:40:9d:aa:bb:cc name z-last services a,c ip 192.0.2.20 ip 2001:db8::20 vlan 7\n"
		"gateway 00:40:9d:aa:bb:ff ip fe80::1\n"
		"gateway 02:00:00:00:00:01 services none\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p, q;
	char *out, *out2;
	size_t len, len2, i;
	int j;

	(void)state;
	rules_for_gateways(&p);
	assert_int_equal(edpg_gateways_parse(&p, "gw", text, strlen(text), &d), 0);
	assert_int_equal(edpg_gateways_format(&p, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	/* Comment header, then one sorted line per gateway. */
	assert_non_null(strstr(out, want));
	assert_int_equal(out[0], '#');

	/*
	 * Parse what was written, with other defaults (none): the explicit
	 * lists stay, the gateways that use the defaults get the new ones.
	 */
	assert_int_equal(parse(&q, "service a tcp 1\nservice b udp 2\nservice c tcp 3\n", &d), 0);
	assert_int_equal(edpg_gateways_parse(&q, "gw2", out, len, &d), 0);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(q.ngateways, p.ngateways);
	for (i = 0; i < p.ngateways; i++) {
		const struct edpg_gateway *a = &p.gateways[i], *b;

		for (j = 0; j < (int)q.ngateways; j++)
			if (!memcmp(q.gateways[j].mac, a->mac, 6))
				break;
		assert_true(j < (int)q.ngateways);
		b = &q.gateways[j];
		assert_string_equal(a->name, b->name);
		assert_int_equal(a->uses_defaults, b->uses_defaults);
		assert_int_equal(b->services, a->uses_defaults ? q.default_services : a->services);
		assert_int_equal(a->has_ip4, b->has_ip4);
		assert_int_equal(a->has_ip6, b->has_ip6);
		assert_int_equal(a->has_vlan, b->has_vlan);
		assert_memory_equal(a->ip4, b->ip4, 4);
		assert_memory_equal(a->ip6, b->ip6, 16);
		assert_int_equal(a->vlan, b->vlan);
	}
	assert_int_equal(edpg_gateways_format(&q, &out2, &len2), 0);
	assert_string_equal(out, out2);

	/* A service id the policy does not define cannot be written. */
	p.gateways[0].services |= 1U << 9;
	free(out2);
	assert_int_equal(edpg_gateways_format(&p, &out2, &len2), -EINVAL);
	assert_null(out2);
	free(out);
	edpg_policy_free(&p);
	edpg_policy_free(&q);
	edpg_diags_free(&d);

	/* No gateways: just the header. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(edpg_gateways_format(&p, &out, &len), 0);
	assert_null(strstr(out, "gateway 0"));
	free(out);
}

/* The gateways in @text (a gateways file) parsed against the rules @rules. */
static void parse_both(struct edpg_policy *p, const char *rules, const char *text,
		       struct edpg_diags *d)
{
	assert_int_equal(parse(p, rules, d), 0);
	if (edpg_gateways_parse(p, "gw", text, strlen(text), d)) {
		dump(d);
		fail_msg("the gateways file does not parse:\n%s", text);
	}
}

static const struct edpg_gateway *gw_of(const struct edpg_policy *p, const char *mac)
{
	int i = edpg_policy_find_gateway(p, mac);

	assert_true(i >= 0);
	return &p->gateways[i];
}

/*
 * A gateway enrolled without `services` follows the rules' defaults across
 * rewrites of the gateways file: a change of `defaults` reaches it, and a
 * service only the old defaults named can leave the rules file.
 */
static void test_gateways_follow_defaults(void **state)
{
	const char *rules1 =
		"service edp-ssl tcp 3199\nservice edp tcp 3197\nservice ntp udp 123\n"
		"defaults edp-ssl,edp,ntp\n";
	/* Other defaults, and the services in another order: ids move too. */
	const char *rules2 =
		"service ntp udp 123\nservice edp tcp 3197\nservice edp-ssl tcp 3199\n"
		"defaults ntp\n";
	/* `edp` gone: only the defaults of rules1 named it. */
	const char *rules3 =
		"service edp-ssl tcp 3199\nservice ntp udp 123\ndefaults edp-ssl,ntp\n";
	const char *text =
		"gateway 00:40:9d:aa:bb:01 name follows\n"
		"gateway 00:40:9d:aa:bb:02 name pinned services edp-ssl,ntp\n"
		"gateway 00:40:9d:aa:bb:03 name same-as-defaults services edp-ssl,edp,ntp\n"
		"gateway 00:40:9d:aa:bb:04 name quiet services none\n";
	/* What is left of it once the gateway that names edp is deleted. */
	const char *no_edp =
		"gateway 00:40:9d:aa:bb:01 name follows\n"
		"gateway 00:40:9d:aa:bb:02 name pinned services edp-ssl,ntp\n"
		"gateway 00:40:9d:aa:bb:04 name quiet services none\n";
	struct edpg_diags d = { 0 };
	struct edpg_policy p, q;
	char *out, *out2;
	size_t len, len2;

	(void)state;
	parse_both(&p, rules1, text, &d);
	assert_true(gw_of(&p, "follows")->uses_defaults);
	assert_int_equal(gw_of(&p, "follows")->services, svc_bits(&p, "edp-ssl,edp,ntp"));
	assert_false(gw_of(&p, "same-as-defaults")->uses_defaults);
	assert_int_equal(edpg_gateways_format(&p, &out, &len), 0);
	/* The line without services round-trips without services ... */
	assert_non_null(strstr(out, "gateway 00:40:9d:aa:bb:01 name follows\n"));
	/* ... and explicit lists are written out, also one equal to the defaults. */
	assert_non_null(strstr(out, "gateway 00:40:9d:aa:bb:02 name pinned services edp-ssl,ntp\n"));
	assert_non_null(strstr(out, "gateway 00:40:9d:aa:bb:03 name same-as-defaults services edp-ssl,edp,ntp\n"));
	assert_non_null(strstr(out, "gateway 00:40:9d:aa:bb:04 name quiet services none\n"));

	/* New defaults in the rules text: the rewritten file gives them. */
	parse_both(&q, rules2, out, &d);
	assert_true(gw_of(&q, "follows")->uses_defaults);
	assert_int_equal(gw_of(&q, "follows")->services, svc_bits(&q, "ntp"));
	assert_int_equal(gw_of(&q, "pinned")->services, svc_bits(&q, "edp-ssl,ntp"));
	assert_int_equal(gw_of(&q, "same-as-defaults")->services, svc_bits(&q, "edp-ssl,edp,ntp"));
	assert_int_equal(gw_of(&q, "quiet")->services, 0);
	/* Written again under rules2: still following the defaults. */
	assert_int_equal(edpg_gateways_format(&q, &out2, &len2), 0);
	assert_non_null(strstr(out2, "gateway 00:40:9d:aa:bb:01 name follows\n"));
	free(out2);
	edpg_policy_free(&q);

	/*
	 * A rules file without `edp`: the gateway that got it from the old
	 * defaults parses; one that names it still does not (an explicit
	 * list is the operator's, never edited behind their back).
	 */
	parse_both(&q, rules3, no_edp, &d);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(gw_of(&q, "follows")->services, svc_bits(&q, "edp-ssl,ntp"));
	edpg_policy_free(&q);
	assert_int_equal(parse(&q, rules3, &d), 0);
	assert_int_equal(edpg_gateways_parse(&q, "gw", out, len, &d), -EINVAL);
	/* Line 5: after the two comment lines of the header. */
	expect(&d, 0, EDPG_DIAG_ERROR, 5, 66, "undefined service 'edp'");
	edpg_policy_free(&q);
	edpg_diags_free(&d);

	/* `gateway add` without --services builds the gateway this way. */
	p.gateways[1].uses_defaults = true;
	p.gateways[1].services = p.default_services;
	free(out);
	assert_int_equal(edpg_gateways_format(&p, &out, &len), 0);
	assert_non_null(strstr(out, "gateway 00:40:9d:aa:bb:02 name pinned\n"));
	free(out);
	edpg_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_rules),
		cmocka_unit_test(test_legacy_rules),
		cmocka_unit_test(test_shipped_optional),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_all_errors_reported_in_order),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_continuation_and_comments),
		cmocka_unit_test(test_members_and_options),
		cmocka_unit_test(test_ports_and_lists),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_gateway_errors),
		cmocka_unit_test(test_gateways_parse),
		cmocka_unit_test(test_gateways_round_trip),
		cmocka_unit_test(test_gateways_follow_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
