// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * learn (loader/ops/learn.c): the rules lines `edpgate learn --rules`
 * prints must parse, with the rules they are pasted into, into a policy
 * that allows exactly what was refused.  So the test pastes them (the
 * defaults line as the comment suggests) and reads the policy back.
 */
#include <errno.h>
#include <netinet/in.h>
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
#include "learn.h"
#include "rules.h"

static const char rules[] =
	"service edp-ssl tcp 3199\n"
	"service ntp udp 123\n"
	"group devicecloud login.etherios.com\n"
	"group ntp time.etherios.com\n"
	"group learned-edp-ssl 192.0.2.1\n"	/* a name learn must not reuse */
	"allow edp-ssl to devicecloud\n"
	"allow ntp to ntp\n"
	"defaults edp-ssl,ntp\n";

static const char gateways[] =
	"gateway 00:40:9d:00:00:01 name gw1\n"
	"gateway 00:40:9d:00:00:02 name gw2 services edp-ssl\n";

static void parse(struct edpg_policy *p, const char *text)
{
	struct edpg_diags d = { 0 };
	int err = edpg_rules_parse(p, "r", text, strlen(text), &d);

	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].severity == EDPG_DIAG_ERROR)
			print_error("%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
	assert_int_equal(err, 0);
	assert_int_equal(edpg_gateways_parse(p, "g", gateways, strlen(gateways), &d), 0);
	edpg_diags_free(&d);
}

static struct edpg_learned L(const char *mac_last, uint8_t proto, uint16_t port, const char *addr,
			     const char *name, uint8_t reason)
{
	struct edpg_learned e = { .proto = proto, .port = port, .reason = reason, .count = 1 };

	assert_int_equal(edpg_mac_parse(mac_last, e.mac), 0);
	assert_int_equal(edpg_addr_parse(addr, &e.addr, false), 0);
	snprintf(e.name, sizeof(e.name), "%s", name);
	return e;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		if (!strncmp(s, line, n) && (s[n] == '\n' || s[n] == '\0'))
			return true;
	return false;
}

static const struct edpg_group *group(const struct edpg_policy *p, const char *name)
{
	int id = edpg_policy_group_id(p, name);

	assert_true(id >= 0);
	return &p->groups[id];
}

static bool member(const struct edpg_group *g, const char *s)
{
	for (size_t i = 0; i < g->nmembers; i++) {
		char a[EDPG_ADDR_STRLEN];

		if (g->members[i].kind == EDPG_MEMBER_NAME && !strcmp(g->members[i].name, s))
			return true;
		if (g->members[i].kind == EDPG_MEMBER_ADDR &&
		    !edpg_addr_format(&g->members[i].addr, a, sizeof(a)) && !strcmp(a, s))
			return true;
	}
	return false;
}

static void test_rules_paste_back(void **state)
{
	struct edpg_learned v[] = {
		/* a cloud host the rules lack, on a port they have */
		L("00:40:9d:00:00:01", IPPROTO_TCP, 3199, "198.51.100.99", "extra.lab", EDPG_R_DESTINATION),
		/* a port no service has, twice the same name */
		L("00:40:9d:00:00:01", IPPROTO_TCP, 8443, "203.0.113.5", "fw.example.com", EDPG_R_PORT),
		L("00:40:9d:00:00:02", IPPROTO_TCP, 8443, "203.0.113.6", "fw.example.com", EDPG_R_PORT),
		/* hard-coded: no name */
		L("00:40:9d:00:00:01", IPPROTO_UDP, 123, "192.0.2.77", "", EDPG_R_DESTINATION),
		/* allowed since: left out */
		L("00:40:9d:00:00:01", IPPROTO_TCP, 3199, "198.51.100.50", "gone.example", EDPG_R_DESTINATION),
	};
	struct edpg_policy p, q;
	char *out = NULL, *pasted, *defaults;
	size_t len = 0;
	FILE *f;
	int sid;

	(void)state;
	v[4].allowed_now = true;
	parse(&p, rules);
	edpg_learned_sort(v, 5);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(edpg_learn_rules(&p, v, 5, f), 0);
	fclose(f);

	assert_true(has_line(out, "group learned-edp-ssl-2 extra.lab"));
	assert_true(has_line(out, "allow edp-ssl to learned-edp-ssl-2"));
	assert_true(has_line(out, "service tcp-8443 tcp 8443"));
	assert_true(has_line(out, "group learned-tcp-8443 fw.example.com"));
	assert_true(has_line(out, "allow tcp-8443 to learned-tcp-8443"));
	assert_true(has_line(out, "group learned-ntp 192.0.2.77"));
	assert_non_null(strstr(out, "# 192.0.2.77: no snooped DNS answer gave it"));
	assert_non_null(strstr(out, "# gateway gw2 (00:40:9d:00:00:02) has its own services list, without tcp-8443"));
	assert_null(strstr(out, "gone.example"));
	defaults = strstr(out, "# defaults edp-ssl,ntp,tcp-8443\n");
	assert_non_null(defaults);

	/* Paste: the rules without their defaults line, the lines, and the
	 * defaults the comment gives. */
	pasted = malloc(strlen(rules) + len + 64);
	assert_non_null(pasted);
	strcpy(pasted, rules);
	*strstr(pasted, "defaults ") = '\0';
	strcat(pasted, out);
	strcat(pasted, "defaults edp-ssl,ntp,tcp-8443\n");
	parse(&q, pasted);
	sid = edpg_policy_service_id(&q, "tcp-8443");
	assert_true(sid >= 0);
	assert_int_equal(q.services[sid].proto, IPPROTO_TCP);
	assert_int_equal(q.services[sid].port_lo, 8443);
	assert_true(q.services[sid].groups & (1ULL << edpg_policy_group_id(&q, "learned-tcp-8443")));
	assert_true(member(group(&q, "learned-tcp-8443"), "fw.example.com"));
	assert_true(member(group(&q, "learned-edp-ssl-2"), "extra.lab"));
	assert_true(q.services[edpg_policy_service_id(&q, "edp-ssl")].groups &
		    (1ULL << edpg_policy_group_id(&q, "learned-edp-ssl-2")));
	assert_true(member(group(&q, "learned-ntp"), "192.0.2.77"));
	/* gw1 (defaults) now has the new service; gw2 (own list) has not. */
	assert_true(q.gateways[0].services & (1U << sid));
	assert_false(q.gateways[1].services & (1U << sid));
	edpg_policy_free(&q);
	edpg_policy_free(&p);
	free(pasted);
	free(out);
}

/* Nothing refused: only the header, and still valid rules text. */
static void test_rules_empty(void **state)
{
	struct edpg_policy p;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	parse(&p, rules);
	f = open_memstream(&out, &len);
	assert_int_equal(edpg_learn_rules(&p, NULL, 0, f), 0);
	fclose(f);
	assert_null(strstr(out, "\ngroup"));
	assert_null(strstr(out, "\nallow"));
	edpg_policy_free(&p);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_paste_back),
		cmocka_unit_test(test_rules_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
