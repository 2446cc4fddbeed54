// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the rules parser: the input is parsed as a rules
 * file, then (against whatever services that produced) as a gateways file;
 * when both parse, the gateways are formatted and parsed back, which must
 * succeed, and the policy is compiled.  ASan/UBSan catch memory errors;
 * the assertions catch a parser that disagrees with its own output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "rules.h"

/* UBSan findings must fail the run, not scroll by in the log. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_rules: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p, q;
	struct edpg_desired *want;
	char *txt = NULL, line[512];
	size_t len = 0, i;
	int r1, r2;

	r1 = edpg_rules_parse(&p, "fuzz.rules", (const char *)data, size, &d);
	r2 = edpg_gateways_parse(&p, "fuzz.gateways", (const char *)data, size, &d);
	check(r1 == 0 || r1 == -EINVAL || r1 == -ENOMEM, "rules_parse return");
	check(r2 == 0 || r2 == -EINVAL || r2 == -ENOMEM, "gateways_parse return");
	check((r1 == -EINVAL || r2 == -EINVAL) == (d.nerrors > 0), "error count vs return");
	for (i = 0; i < d.n; i++)
		check(edpg_diags_format(&d.v[i], line, sizeof(line)) > 0 && d.v[i].line > 0 &&
		      d.v[i].col > 0, "diagnostic position");

	/* Formatting what parsed must give text that parses to the same gateways. */
	if (!r2 && !edpg_gateways_format(&p, &txt, &len)) {
		memset(&q, 0, sizeof(q));
		memcpy(q.services, p.services, sizeof(q.services));
		q.nservices = p.nservices;
		check(!edpg_gateways_parse(&q, "fuzz.out", txt, len, &d), "format output reparses");
		check(q.ngateways == p.ngateways, "round trip count");
		free(txt);
		free(q.gateways);
	}
	if (!r1 && !r2) {
		want = malloc(sizeof(*want));
		if (want) {
			check(!edpg_compile(&p, NULL, 0, NULL, 0, want), "compile of a parsed policy");
			edpg_desired_free(want);
			free(want);
		}
	}
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	return 0;
}
