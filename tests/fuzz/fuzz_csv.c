// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the Remote Manager CSV import (loader/csv.c): any
 * bytes either convert or are refused with positioned errors; what converts
 * parses as a gateways file, and every diagnostic, once pointed back into the
 * CSV, lies inside it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "rules.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_csv: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rules[] = "service s tcp 1\ngroup g 192.0.2.1\nallow s to g\ndefaults s\n";
	struct edpg_csv_origin *o = NULL;
	struct edpg_diags d = { 0 };
	struct edpg_policy p;
	size_t no = 0, len = 0, from, lines = 1;
	char *gen = NULL;
	int r;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	check(!edpg_rules_parse(&p, "r", rules, sizeof(rules) - 1, &d), "rules parse");
	r = edpg_csv_gateways("in.csv", (const char *)data, size, &gen, &len, &o, &no, &d);
	if (r == -ENOMEM)
		goto out;
	check(r == 0 || r == -EINVAL, "csv: 0 or -EINVAL");
	check(r == 0 || d.nerrors > 0, "csv: -EINVAL without an error");
	check(strlen(gen) == len, "generated text has no NUL");
	from = d.n;
	edpg_gateways_parse(&p, "in.csv", gen, len, &d);
	edpg_csv_remap(&d, from, o, no);
	for (size_t i = 0; i < d.n; i++) {
		if (strcmp(d.v[i].file, "in.csv"))
			continue;
		check(d.v[i].line >= 1 && (size_t)d.v[i].line <= lines, "diagnostic line inside the CSV");
		check(d.v[i].col >= 1, "diagnostic column");
	}
	if (!r && !d.nerrors)
		check(p.ngateways == no, "one gateway per generated line");
out:
	free(gen);
	free(o);
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	return 0;
}
