// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate apply: parse, compile and push the whole rules data.  The BPF
 * side swaps generations and nftables takes one transaction, so the data
 * path sees the old policy or the new one; any error changes nothing.
 */
#include <stdlib.h>

#include "cli.h"
#include "compile.h"
#include "json.h"
#include "log.h"
#include "rules.h"

static const char synopsis[] = "apply";

int do_apply(int argc, char **argv)
{
	struct edpg_desired *d = NULL;
	struct edpg_bpf b;
	struct edpg_ifaces ifs;
	struct edpg_policy p;
	uint32_t gen = 0;
	int err, ret = EDPG_EXIT_FAIL;

	(void)argv;
	if (argc > 1)
		return usage_err(synopsis, "apply takes no arguments");
	if (cli_lock())
		return EDPG_EXIT_FAIL;
	err = edpg_load_policy(&p, cli.rules, true);
	if (err)
		return EDPG_EXIT_FAIL;
	err = edpg_open_live(&b);
	if (err)
		goto out_policy;
	err = edpg_ifaces_load(cli.state_dir, &ifs);
	err = err ?: edpg_build_desired(&p, false, &d);
	err = err ?: edpg_push_full(&b, d, &ifs);
	if (err)
		goto out;
	edpg_bpf_active_gen(&b, &gen);
	out_begin();
	out_obj_open(NULL);
	out_uint("generation", "applied: generation %llu, ", gen);
	out_uint("gateways", "%llu gateways, ", d->ngws);
	out_uint("services", "%llu services, ", d->nservices);
	out_uint("destinations", "%llu destinations\n", d->ndsts);
	out_obj_close();
	ret = EDPG_EXIT_OK;
out:
	edpg_desired_put(d);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
