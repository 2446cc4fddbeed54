// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctx.c - the global options as the library's parameters: the pipeline
 * (ops/pipeline.c) and the sync (sinks/sync.c) read no global.
 */
#include <stdio.h>

#include "cli.h"
#include "log.h"

struct edpg_where edpg_cli_where(void)
{
	return (struct edpg_where){
		.rules = cli.rules,
		.state_dir = cli.state_dir,
		.pin_dir = cli.pin_dir,
		.resolvers = cli.resolvers,
		.nresolvers = cli.nresolvers,
	};
}

void edpg_gateways_path(char *buf, size_t len)
{
	edpg_state_path(buf, len, cli.state_dir, EDPG_STATE_GATEWAYS);
}

int edpg_load_policy(struct edpg_policy *p, const char *rules_path, bool quiet_warnings)
{
	return edpg_policy_load(p, rules_path, cli.state_dir, quiet_warnings);
}

int edpg_build_desired(const struct edpg_policy *p, bool from_cache, struct edpg_desired **out)
{
	struct edpg_where w = edpg_cli_where();

	return edpg_desired_build(p, &w, from_cache, out);
}

int edpg_push_full(struct edpg_bpf *b, const struct edpg_desired *d, const struct edpg_ifaces *ifs)
{
	struct edpg_sinks s = { .bpf = b, .ifs = ifs, .pin_dir = cli.pin_dir };

	return edpg_sync(&s, NULL, d, NULL, NULL);
}

int edpg_open_live(struct edpg_bpf *b)
{
	return edpg_bpf_open_live(b, cli.pin_dir);
}

int cli_lock(void)
{
	struct edpg_ifaces ifs;

	cli.lock_fd = edpg_lock(cli.state_dir);
	if (cli.lock_fd < 0)
		return cli.lock_fd;
	/* A growth of the maps killed midway is ours to finish now. */
	if (!edpg_ifaces_load(cli.state_dir, &ifs))
		edpg_bpf_finish_growth(cli.pin_dir, &ifs);
	return 0;
}

int cli_ifaces(struct edpg_ifaces *ifs)
{
	int err = edpg_ifaces_load(cli.state_dir, ifs);

	if (err)
		edpg_err(err, "cannot read %s/" EDPG_STATE_INTERFACES, cli.state_dir);
	return err;
}
