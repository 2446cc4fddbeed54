// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate detach IFACE|--all.  Detaching one interface keeps the pinned
 * maps (enrolment and counters) for the others; --all removes the table,
 * every link and every pin.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "compile.h"
#include "json.h"
#include "log.h"
#include "nft.h"
#include "privilege.h"
#include "rules.h"
#include "snoop.h"

static const char synopsis[] = "detach IFACE|--all";

static int detach_all(struct edpg_ifaces *ifs)
{
	char path[PATH_MAX];
	int err, ret = 0;

	for (size_t i = 0; i < ifs->n; i++) {
		err = edpg_bpf_detach(cli.pin_dir, ifs->v[i].name);
		if (err && err != -ENOENT)
			ret = edpg_err(err, "cannot detach %s", ifs->v[i].name);
		err = edpg_snoop_detach(ifs->v[i].name);
		if (err && err != -ENOENT && err != -ENODEV)
			ret = edpg_err(err, "cannot remove the DNS snooper from %s", ifs->v[i].name);
	}
	err = edpg_nft_delete_table();
	if (err && err != -ENOENT)
		ret = edpg_err(err, "cannot delete table inet edpgate");
	err = edpg_bpf_unpin_all(cli.pin_dir);
	if (err)
		ret = edpg_err(err, "cannot remove the pins in %s", cli.pin_dir);
	edpg_state_path(path, sizeof(path), cli.state_dir, EDPG_STATE_INTERFACES);
	if (unlink(path) && errno != ENOENT)
		ret = edpg_err(-errno, "cannot remove %s", path);
	return ret;
}

int do_detach(int argc, char **argv)
{
	struct edpg_desired *d = NULL;
	struct edpg_ifaces ifs;
	struct edpg_policy p;
	struct edpg_bpf b;
	const char *ifname;
	size_t i;
	int err;

	if (argc != 2)
		return usage_err(synopsis, "detach takes one interface or --all");
	ifname = argv[1];
	/* The interface may be gone already: detach cleans up after it. */
	if (strcmp(ifname, "--all") && edpg_check_ifname(ifname, false))
		return EDPG_EXIT_USAGE;
	if (cli_lock())
		return EDPG_EXIT_FAIL;
	if (cli_ifaces(&ifs))
		return EDPG_EXIT_FAIL;

	if (!strcmp(ifname, "--all")) {
		size_t n = ifs.n;

		if (detach_all(&ifs))
			return EDPG_EXIT_FAIL;
		out_begin();
		out_obj_open(NULL);
		out_uint("detached", "detached %llu interface(s); table and pins removed\n", n);
		out_obj_close();
		return EDPG_EXIT_OK;
	}

	for (i = 0; i < ifs.n && strcmp(ifs.v[i].name, ifname); i++)
		;
	if (i == ifs.n)
		return edpg_err(-ENOENT, "%s is not attached (see `edpgate status`)", ifname),
		       EDPG_EXIT_FAIL;
	err = edpg_bpf_detach(cli.pin_dir, ifname);
	if (err && err != -ENOENT)
		return edpg_err(err, "cannot detach %s", ifname), EDPG_EXIT_FAIL;
	err = edpg_snoop_detach(ifname);
	if (err && err != -ENOENT && err != -ENODEV)
		return edpg_err(err, "cannot remove the DNS snooper from %s", ifname), EDPG_EXIT_FAIL;
	memmove(&ifs.v[i], &ifs.v[i + 1], (ifs.n - i - 1) * sizeof(ifs.v[0]));
	ifs.n--;
	err = edpg_ifaces_save(cli.state_dir, &ifs);
	if (err)
		return edpg_err(err, "cannot write %s/" EDPG_STATE_INTERFACES, cli.state_dir), EDPG_EXIT_FAIL;

	/* The nft chains name the interfaces: rewrite them without this one. */
	if (ifs.n == 0) {
		err = edpg_nft_delete_table();
		if (err && err != -ENOENT)
			return edpg_err(err, "cannot delete table inet edpgate"), EDPG_EXIT_FAIL;
	} else {
		err = edpg_load_policy(&p, cli.rules, true);
		if (err)
			return EDPG_EXIT_FAIL;
		err = edpg_open_live(&b);
		if (!err) {
			err = edpg_build_desired(&p, true, &d);
			err = err ?: edpg_push_full(&b, d, &ifs);
			edpg_bpf_close(&b);
		}
		if (d) {
			edpg_desired_free(d);
			free(d);
		}
		edpg_policy_free(&p);
		if (err)
			return EDPG_EXIT_FAIL;
	}
	out_begin();
	out_obj_open(NULL);
	out_str("detached", "detached %s", ifname);
	out_uint("remaining", "; %llu interface(s) still attached\n", ifs.n);
	out_obj_close();
	return EDPG_EXIT_OK;
}
