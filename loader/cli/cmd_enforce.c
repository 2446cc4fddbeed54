// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate enforce [xdp|both|audit]: show or switch the enforcement mode of
 * the attached interfaces, live.
 *
 * The point is the safe rollout: attach with --enforce audit, read stats,
 * doctor and learn until nothing a gateway needs would be dropped, then
 * `edpgate enforce both`.  The switch is one full push: the nft table in
 * one transaction (audit leaves the hooked chains empty, both fills them),
 * then one BPF generation swap that clears or sets EDPG_F_AUDIT.  Every
 * frame meets the old mode or the new one; nft changes first, so going to
 * `both` a frame is dropped by nft a moment before XDP would drop it too,
 * and going to `audit` XDP still enforces a moment after nft stopped: there
 * is no instant where neither enforces what the old mode enforced.  The
 * program, its maps and so its counters are untouched.
 *
 * nft and the others differ in whether XDP is attached at all, which is
 * not a switch but a detach and an attach: that is refused with the words.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "json.h"
#include "log.h"
#include "rules.h"
#include "sync.h"

static const char synopsis[] = "enforce [xdp|both|audit]";

static int show(const struct edpg_ifaces *ifs)
{
	out_begin();
	out_obj_open(NULL);
	out_str("enforce", "%s", ifs->n ? ifs->v[0].enforce : NULL);
	out_text(ifs->n ? "\n" : "nothing is attached\n");
	out_arr_open("interfaces");
	for (size_t i = 0; i < ifs->n; i++)
		out_str(NULL, "  %s\n", ifs->v[i].name);
	out_arr_close();
	out_obj_close();
	out_end();
	return EDPG_EXIT_OK;
}

int edpg_enforce_switch(struct edpg_ifaces *ifs, const char *mode)
{
	enum edpg_enforce from = edpg_enforce_of(ifs), to;
	struct edpg_desired *d = NULL;
	struct edpg_ifaces old = *ifs;
	struct edpg_policy p;
	struct edpg_bpf b;
	int err;

	if (edpg_enforce_parse(mode, &to))
		return edpg_err(-EINVAL, "unknown enforcement mode '%s' (want xdp, both or audit)", mode);
	if (!ifs->n)
		return edpg_err(-ENOENT, "nothing is attached: `edpgate attach IFACE --enforce %s`", mode);
	if (from == to) {
		edpg_info("the interfaces already enforce in mode %s; nothing changed", mode);
		return 0;
	}
	if (from == EDPG_ENFORCE_NFT || to == EDPG_ENFORCE_NFT)
		return edpg_err(-EOPNOTSUPP, "switching %s %s decides whether XDP is attached at all: `edpgate detach --all`, then `edpgate attach IFACE --enforce %s`",
				to == EDPG_ENFORCE_NFT ? "to" : "from", "nft", mode);
	err = edpg_load_policy(&p, cli.rules, true);
	if (err)
		return err;
	err = edpg_open_live(&b);
	if (err)
		goto out_policy;
	for (size_t i = 0; i < ifs->n; i++)
		snprintf(ifs->v[i].enforce, sizeof(ifs->v[i].enforce), "%s", mode);
	err = edpg_build_desired(&p, true, &d);
	if (err)
		goto out;
	/* The interfaces file first: the daemon's next full push must
	 * already see the new mode, or it would put the old one back. */
	err = edpg_ifaces_save(cli.state_dir, ifs);
	if (err) {
		edpg_err(err, "cannot write %s/" EDPG_STATE_INTERFACES, cli.state_dir);
		goto out;
	}
	err = edpg_push_full(&b, d, ifs);
	if (err) {
		*ifs = old;
		edpg_ifaces_save(cli.state_dir, ifs);
		edpg_push_full(&b, d, ifs);
		goto out;
	}
	edpg_info("%s -> %s on %zu interface%s; counters carry on", edpg_enforce_name(from), mode,
		  ifs->n, ifs->n == 1 ? "" : "s");
out:
	if (d) {
		edpg_desired_free(d);
		free(d);
	}
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return err;
}

int do_enforce(int argc, char **argv)
{
	struct edpg_ifaces ifs;

	if (argc > 2)
		return usage_err(synopsis, "enforce takes at most one mode");
	if (argc == 2 && argv[1][0] == '-')
		return usage_err(synopsis, "unknown option '%s'", argv[1]);
	if (argc == 2 && cli_lock())
		return EDPG_EXIT_FAIL;
	if (cli_ifaces(&ifs))
		return EDPG_EXIT_FAIL;
	if (argc == 1)
		return show(&ifs);
	if (edpg_enforce_switch(&ifs, argv[1]))
		return EDPG_EXIT_FAIL;
	return show(&ifs);
}
