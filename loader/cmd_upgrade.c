// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate upgrade: put this build's XDP program in place of the pinned one
 * without a gap.  The new program is loaded over the very maps the old one
 * uses (gateways, addresses, counters, events are kept), then every
 * pinned link is switched with one bpf_link_update() each: a frame is
 * judged by the old program or the new one, never by none.  A build whose
 * map layout differs is refused before anything changes.
 *
 * The DNS snooper (TC) is not replaced: it shares only the gateway table
 * and the control entry with the XDP program, which keep their layout.
 */
#include <errno.h>
#include <getopt.h>

#include "cli.h"
#include "json.h"
#include "log.h"
#include "state.h"

static const char synopsis[] = "upgrade";

int do_upgrade(int argc, char **argv)
{
	struct edpg_upgrade u;
	int err;

	if (getopt_long(argc, argv, "", (const struct option[]){ {} }, NULL) != -1 ||
	    optind != argc)
		return usage_err(synopsis, "upgrade takes no arguments");
	cli.lock_fd = edpg_lock(cli.state_dir);
	if (cli.lock_fd < 0)
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
	out_text("\n");
	out_obj_close();
	return EDPG_EXIT_OK;
}
