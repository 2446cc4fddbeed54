// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Remote Manager CSV exports as gateways (loader/csv.c), through the gateways parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"
#include "rules.h"

static const char rules[] = "service edp-ssl tcp 3199\ngroup dc x.example\n"
			    "allow edp-ssl to dc\ndefaults edp-ssl\n";

/* Parse @csv as an import does; the policy's gateways and the diagnostics. */
static int import(const char *csv, struct edpg_policy *p, struct edpg_diags *d)
{
	struct edpg_csv_origin *o = NULL;
	size_t no = 0, len, from;
	char *gen = NULL;
	int err, cerr;

	assert_int_equal(edpg_rules_parse(p, "r", rules, strlen(rules), d), 0);
	cerr = edpg_csv_gateways("inv.csv", csv, strlen(csv), &gen, &len, &o, &no, d);
	assert_int_not_equal(cerr, -ENOMEM);
	from = d->n;
	err = edpg_gateways_parse(p, "inv.csv", gen, len, d);
	edpg_csv_remap(d, from, o, no);
	edpg_diags_sort(d->v, d->n);
	free(gen);
	free(o);
	return err ?: cerr;
}

static void expect_diag(const struct edpg_diags *d, size_t i, int line, int col, const char *msg)
{
	assert_true(i < d->n);
	if (d->v[i].line != line || d->v[i].col != col || !strstr(d->v[i].msg, msg))
		fail_msg("diag %zu: %d:%d '%s', want %d:%d '%s'", i, d->v[i].line, d->v[i].col,
			 d->v[i].msg, line, col, msg);
}

/* A spreadsheet's export: BOM, CRLF, quoted fields with commas, doubled
 * quotes and a line break, unknown columns, a blank line, blanks around. */
static void test_export(void **state)
{
	static const uint8_t m0[6] = { 0x00, 0x40, 0x9d, 0x58, 0x17, 0x5b };
	static const uint8_t m2[6] = { 0x00, 0x40, 0x9d, 0x00, 0x00, 0x02 };
	const char *csv = "\xef\xbb\xbf" "Device ID,Name,Group,\"Notes, free\"\r\n"
			  "00000000-00000000-00409DFF-FF58175B,boiler-1,/plant,\"a \"\"b\"\", c\r\nd\"\r\n"
			  "00000000-00000000-0004F3FF-FF000001,,/plant,x\r\n"
			  "\r\n"
			  "\"00000000-00000000-00409dff-ff000002\", press ,/,y\r\n";
	struct edpg_diags d = {};
	struct edpg_policy p;

	(void)state;
	assert_int_equal(import(csv, &p, &d), 0);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(p.ngateways, 3);
	assert_memory_equal(p.gateways[0].mac, m0, 6);
	assert_string_equal(p.gateways[0].name, "boiler-1");
	assert_string_equal(p.gateways[1].name, "");
	assert_memory_equal(p.gateways[2].mac, m2, 6);
	assert_string_equal(p.gateways[2].name, "press");
	assert_true(p.gateways[2].uses_defaults);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

/* Every problem, at the CSV's own line and column, in order. */
static void test_errors(void **state)
{
	const char *csv = "Name,MAC,Device ID\n"					/* 1 */
			  "a,00:40:9d:00:00:09,\n"					/* 2 */
			  "Boiler Room,00:40:9d:00:00:0a,\n"				/* 3 */
			  "b,00:40:9d:00:00:0x,\n"					/* 4 */
			  "c,00:40:9d:00:00:09,\n"					/* 5 */
			  "d,00:40:9d:00:00:12,00000000-00000000-00409DFF-FF000011\n"	/* 6 */
			  "e,,00010000-00000000-00409DFF-FF000011\n"			/* 7 */
			  "f,,\n"							/* 8 */
			  "g\n"								/* 9 */
			  "a,00:40:9d:00:00:0e,\n"					/* 10 */
			  "\"h\"x,00:40:9d:00:00:0f,\n"					/* 11 */
			  "i,0\"0,\n"							/* 12 */
			  "j,\"00:40:9d:00:00:10\n";					/* 13 */
	struct edpg_diags d = {};
	struct edpg_policy p;

	(void)state;
	assert_int_equal(import(csv, &p, &d), -EINVAL);
	expect_diag(&d, 0, 3, 1, "'Boiler Room' is not a gateway name");
	expect_diag(&d, 1, 4, 3, "invalid MAC address '00:40:9d:00:00:0x'");
	expect_diag(&d, 2, 5, 3, "duplicate gateway 00:40:9d:00:00:09 (first enrolled at line 2)");
	expect_diag(&d, 3, 6, 3, "MAC '00:40:9d:00:00:12' is not the one Device ID");
	expect_diag(&d, 4, 7, 4, "does not encode a MAC");
	expect_diag(&d, 5, 8, 1, "this record has no Device ID");
	expect_diag(&d, 6, 9, 1, "this record has 1 field(s); the header row has at least 3");
	expect_diag(&d, 7, 10, 1, "duplicate gateway name 'a' (first used at line 2)");
	expect_diag(&d, 8, 11, 4, "text after the closing quote");
	expect_diag(&d, 9, 12, 4, "'\"' inside an unquoted field");
	expect_diag(&d, 10, 13, 3, "unterminated quoted field");
	assert_int_equal(d.nerrors, 11);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
}

static void test_header(void **state)
{
	static const char *const bad[] = { "", "\n\n", "Serial,Foo\n1,2\n", "MAC,mac address\n" };
	static const char *const msg[] = { "no header row", "no header row", "no 'Device ID' or 'MAC' column",
					   "given twice" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct edpg_diags d = {};
		struct edpg_policy p;

		assert_int_equal(import(bad[i], &p, &d), -EINVAL);
		if (!d.n || !strstr(d.v[0].msg, msg[i]))
			fail_msg("'%s': %s", bad[i], d.n ? d.v[0].msg : "no diagnostic");
		edpg_policy_free(&p);
		edpg_diags_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
