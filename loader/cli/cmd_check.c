// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* edpgate check [FILE]: validate the rules data without touching anything. */
#include <stdio.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "rules.h"

static const char synopsis[] = "check [FILE]";

int do_check(int argc, char **argv)
{
	const char *path = cli.rules;
	struct edpg_policy p;
	size_t nmembers = 0;
	int err;

	if (argc > 2)
		return usage_err(synopsis, "too many arguments");
	if (argc == 2)
		path = argv[1];
	err = edpg_load_policy(&p, path, false);
	if (err)
		return EDPG_EXIT_FAIL;
	for (size_t g = 0; g < p.ngroups; g++)
		nmembers += p.groups[g].nmembers;
	out_begin();
	out_obj_open(NULL);
	out_str("file", "%s: ok: ", path);
	out_uint("services", "%llu services, ", p.nservices);
	out_uint("groups", "%llu groups ", p.ngroups);
	out_uint("members", "(%llu members), ", nmembers);
	out_uint("gateways", "%llu gateways\n", p.ngateways);
	out_obj_close();
	edpg_policy_free(&p);
	return EDPG_EXIT_OK;
}
