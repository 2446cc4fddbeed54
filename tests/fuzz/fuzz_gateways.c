// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the gateways-file parser, against the shipped rules
 * (rules/devicecloud.rules, or $EDPG_FUZZ_RULES): the services a real site
 * has.  What parses is formatted and parsed back and must give the very
 * same gateways (the file edpgate rewrites on every add must mean what it
 * meant); every diagnostic has a position.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "state.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct edpg_policy rules;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_gateways: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = getenv("EDPG_FUZZ_RULES") ?: "rules/devicecloud.rules";
	struct edpg_diags d = { 0 };
	char *text;
	size_t len;

	(void)argc;
	(void)argv;
	if (edpg_read_file(path, &text, &len)) {
		fprintf(stderr, "fuzz_gateways: cannot read %s (run from the source tree or set EDPG_FUZZ_RULES)\n",
			path);
		exit(1);
	}
	check(!edpg_rules_parse(&rules, path, text, len, &d), "the shipped rules parse");
	free(text);
	edpg_diags_free(&d);
	return 0;
}

/* A policy with the shipped rules' services and no gateways. */
static void fresh(struct edpg_policy *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->services, rules.services, sizeof(p->services));
	p->nservices = rules.nservices;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edpg_diags d = { 0 };
	struct edpg_policy p, q;
	char *txt = NULL, line[512];
	size_t len = 0;
	int r;

	fresh(&p);
	r = edpg_gateways_parse(&p, "fuzz.gateways", (const char *)data, size, &d);
	check(r == 0 || r == -EINVAL || r == -ENOMEM, "return value");
	check((r == -EINVAL) == (d.nerrors > 0), "error count vs return");
	for (size_t i = 0; i < d.n; i++)
		check(edpg_diags_format(&d.v[i], line, sizeof(line)) > 0 && d.v[i].line > 0 &&
		      d.v[i].col > 0, "diagnostic position");
	if (!r && !edpg_gateways_format(&p, &txt, &len)) {
		fresh(&q);
		check(!edpg_gateways_parse(&q, "fuzz.out", txt, len, &d), "formatted file parses");
		check(q.ngateways == p.ngateways, "round trip count");
		/* Formatting sorts by MAC: find each one. */
		for (size_t i = 0; i < p.ngateways; i++) {
			const struct edpg_gateway *a = &p.gateways[i], *b = NULL;

			for (size_t j = 0; j < q.ngateways && !b; j++)
				if (!memcmp(q.gateways[j].mac, a->mac, 6))
					b = &q.gateways[j];
			check(b != NULL, "gateway lost in the round trip");
			/* Same defaults on both sides, so also the same services. */
			check(!strcmp(a->name, b->name) && a->services == b->services &&
			      a->uses_defaults == b->uses_defaults &&
			      a->has_ip4 == b->has_ip4 && a->has_ip6 == b->has_ip6 &&
			      a->has_vlan == b->has_vlan && (!a->has_ip4 || !memcmp(a->ip4, b->ip4, 4)) &&
			      (!a->has_ip6 || !memcmp(a->ip6, b->ip6, 16)) &&
			      (!a->has_vlan || a->vlan == b->vlan), "gateway changed in the round trip");
		}
		free(txt);
		edpg_policy_free(&q);
	}
	edpg_policy_free(&p);
	edpg_diags_free(&d);
	return 0;
}
