// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate upgrade: put this build's XDP program in place of the pinned one
 * without a gap.  The new program is loaded over the very maps the old one
 * uses (gateways, addresses, counters, events are kept), then every
 * pinned link is switched with one bpf_link_update() each: a frame is
 * judged by the old program or the new one, never by none.  A build whose
 * map layout differs is refused before anything changes.
 *
 * The DNS snooper (TC) is then replaced the same way when its code
 * differs: loaded over the pinned ring buffer, lost counter and gateway
 * table, and each interface's cls_bpf filter switched in place.
 */
#include <errno.h>
#include <getopt.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "snoop.h"
#include "state.h"

static const char synopsis[] = "upgrade";

int do_upgrade(int argc, char **argv)
{
	struct edpg_snoop_upgrade su = {};
	struct edpg_upgrade u;
	struct edpg_ifaces ifs;
	struct edpg_bpf b;
	int err;

	if (getopt_long(argc, argv, "", (const struct option[]){ {} }, NULL) != -1 ||
	    optind != argc)
		return usage_err(synopsis, "upgrade takes no arguments");
	if (cli_lock())
		return EDPG_EXIT_FAIL;
	err = edpg_bpf_upgrade(cli.pin_dir, &u);
	if (err == -ENOENT) {
		/* Nothing pinned (first boot, --enforce nft): nothing to
		 * replace; `attach` loads this build. */
		out_begin();
		out_obj_open(NULL);
		out_bool("pinned", "nothing is pinned in ", false);
		out_str("pin_dir", "%s; nothing to upgrade\n", cli.pin_dir);
		out_obj_close();
		return EDPG_EXIT_OK;
	}
	if (err)
		return EDPG_EXIT_FAIL;
	if (cli_ifaces(&ifs))
		return EDPG_EXIT_FAIL;
	/* The maps the XDP program now runs on; the snooper shares two. */
	err = edpg_bpf_open_pinned(&b, cli.pin_dir);
	if (err)
		return EDPG_EXIT_FAIL;
	err = edpg_snoop_upgrade(&b, cli.pin_dir, &ifs, false, &su);
	edpg_bpf_close(&b);
	if (err)
		return EDPG_EXIT_FAIL;
	out_begin();
	out_obj_open(NULL);
	out_bool("upgraded", u.same ? "already running this build: " : "upgraded: ", !u.same);
	out_uint("old_prog_id", "program %llu", u.old_id);
	out_str("old_tag", " (tag %s)", u.old_tag);
	if (!u.same) {
		out_uint("new_prog_id", " -> %llu", u.new_id);
		out_str("new_tag", " (tag %s)", u.new_tag);
		out_uint("links", ", %llu links switched", u.nlinks);
		out_text("; maps, gateways, addresses and counters kept");
	}
	if (su.upgraded) {
		out_str("snoop_old_tag", "; DNS snooper %s", su.old_tag);
		out_str("snoop_new_tag", " -> %s", su.new_tag);
		out_uint("snoop_ifaces", " on %llu interfaces", su.nifaces);
	}
	out_text("\n");
	out_obj_close();
	return EDPG_EXIT_OK;
}
