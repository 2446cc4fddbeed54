// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate attach IFACE: load (or reuse) the pinned program, fill its maps
 * and the nft table from the rules data, then attach.  The policy is in
 * place before the first frame is judged, so attaching never opens a
 * window with an empty (drop-all) or stale policy.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "nft.h"
#include "privilege.h"
#include "rules.h"
#include "snoop.h"
#include "sync.h"

static const char synopsis[] =
	"attach IFACE [--mode native|generic|auto] [--enforce xdp|nft|both|audit] [--max-gateways N]";

static const char *mode_name(enum edpg_xdp_mode m)
{
	return m == EDPG_XDP_NATIVE ? "native" : m == EDPG_XDP_GENERIC ? "generic" : "auto";
}

/*
 * attach of an interface the interfaces file already lists: put back what
 * went missing behind our back (pins, the link, the snooper; see
 * health.c), refill the maps and the table from the rules data, and say
 * what was restored.  With nothing missing it is a double attach.
 */
static int restore(struct edpg_ifaces *ifs, const char *ifname)
{
	struct edpg_desired *d = NULL;
	struct edpg_restored r;
	struct edpg_health h;
	struct edpg_policy p;
	struct edpg_bpf b;
	int err, ret = EDPG_EXIT_FAIL;

	edpg_health_check(cli.pin_dir, ifs, &h);
	if (!edpg_health_needs_repair(&h, ifname)) {
		for (size_t i = 0; i < h.n; i++)
			if (!strcmp(h.p[i].where, ifname))
				return edpg_err(-EEXIST, "%s is attached and nothing is missing, but %s",
						ifname, h.p[i].what), EDPG_EXIT_FAIL;
		return edpg_err(-EEXIST, "%s is already attached and nothing is missing; `edpgate detach %s` first",
				ifname, ifname), EDPG_EXIT_FAIL;
	}
	if (edpg_load_policy(&p, cli.rules, false))
		return EDPG_EXIT_FAIL;
	err = edpg_health_repair(cli.pin_dir, ifs, ifname, NULL, &b, &r);
	if (err)
		goto out_policy;
	/* The ifindex and mode of the re-created link. */
	err = edpg_ifaces_save(cli.state_dir, ifs);
	if (err) {
		edpg_err(err, "cannot write %s/" EDPG_STATE_INTERFACES, cli.state_dir);
		goto out;
	}
	/* Maps loaded anew are empty, and a removed table is gone: both
	 * from the rules data, the gateways and the address cache. */
	err = edpg_build_desired(&p, true, &d);
	err = err ?: edpg_push_full(&b, d, ifs);
	if (err)
		goto out;
	out_begin();
	out_obj_open(NULL);
	out_str("interface", "restored %s: ", ifname);
	out_arr_open("restored");
	for (size_t i = 0; i < r.n; i++)
		out_str(NULL, i + 1 < r.n ? "%s, " : "%s", r.v[i]);
	out_arr_close();
	out_text(r.n ? "; " : "policy pushed again; ");
	out_bool("counters_reset", r.reloaded ? "counters restarted from zero, " : NULL,
		 r.reloaded);
	out_uint("gateways", "%llu gateways, ", d->ngws);
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

struct attach_args {
	enum edpg_xdp_mode mode;
	const char *enforce, *ifname;
	bool enforce_given;
	struct edpg_load_opts lo;
};

/* argv into @a; -1 when they are fine, else the exit code. */
static int attach_args(int argc, char **argv, struct attach_args *a)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "enforce", required_argument, NULL, 'e' },
		{ "max-gateways", required_argument, NULL, 'g' },
		{}
	};
	char *end;
	int c;

	*a = (struct attach_args){ .mode = EDPG_XDP_AUTO, .enforce = "both" };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "native"))
				a->mode = EDPG_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				a->mode = EDPG_XDP_GENERIC;
			else if (!strcmp(optarg, "auto"))
				a->mode = EDPG_XDP_AUTO;
			else
				return usage_err(synopsis, "--mode must be native, generic or auto");
			break;
		case 'e':
			if (edpg_enforce_parse(optarg, &(enum edpg_enforce){ 0 }))
				return usage_err(synopsis, "--enforce must be xdp, nft, both or audit");
			a->enforce = optarg;
			a->enforce_given = true;
			break;
		case 'g':
			a->lo.max_gateways = strtoul(optarg, &end, 10);
			if (*end || a->lo.max_gateways < 1 || a->lo.max_gateways > 1U << 20)
				return usage_err(synopsis, "--max-gateways must be 1..1048576");
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_err(synopsis, "attach takes exactly one interface");
	a->ifname = argv[optind];
	if (edpg_check_ifname(a->ifname, true))
		return EDPG_EXIT_USAGE;
	return -1;
}

/*
 * The instance the new interface joins: the pinned one; or, when the pins
 * of attached interfaces went missing, those restored (rather than a
 * second instance loaded over them); or a new one (*loaded).
 */
static int open_instance(struct edpg_ifaces *ifs, const char *ifname,
			 const struct edpg_load_opts *lo, struct edpg_bpf *b, bool *loaded)
{
	int err = edpg_bpf_open_pinned(b, cli.pin_dir);

	*loaded = false;
	if (err == -ENOENT && ifs->n) {
		struct edpg_restored r;

		err = edpg_health_repair(cli.pin_dir, ifs, ifname, NULL, b, &r);
		for (size_t i = 0; i < r.n && !err; i++)
			edpg_info("restored %s", r.v[i]);
	} else if (err == -ENOENT) {
		err = edpg_bpf_load_and_pin(b, cli.pin_dir, lo);
		*loaded = !err;
	} else if (err) {
		edpg_err(err, "cannot open the pinned program in %s", cli.pin_dir);
	}
	return err;
}

/* XDP on @a->ifname (not with --enforce nft), then the DNS snooper; @rec gets the mode. */
static int hook_up(struct edpg_bpf *b, const struct attach_args *a, struct edpg_iface *rec)
{
	enum edpg_xdp_mode used = EDPG_XDP_AUTO;
	int err = 0;

	if (strcmp(a->enforce, "nft")) {
		err = edpg_bpf_attach(b, cli.pin_dir, a->ifname, a->mode, &used);
		if (!err)
			snprintf(rec->xdp_mode, sizeof(rec->xdp_mode), "%s", mode_name(used));
	}
	/* The DNS answers gateways get, so the daemon allows what they were given. */
	if (!err) {
		err = edpg_snoop_attach(b, cli.pin_dir, a->ifname);
		if (err)
			edpg_bpf_detach(cli.pin_dir, a->ifname);
	}
	return err;
}

/*
 * A bridge port's frames never reach the inet hooks under the port's name
 * (bridged ones, through br_netfilter, carry the bridge's), so nft rules
 * for it would never match: refuse --enforce nft rather than leave the
 * port open.  XDP on the port sees every frame before the bridge.
 */
static int bridge_port_check(const char *ifname, const char *enforce)
{
	char br[IF_NAMESIZE + 16];

	if (edpg_nft_bridge_port(ifname, br, sizeof(br)) != 1)
		return 0;
	if (!strcmp(enforce, "nft"))
		return edpg_err(-EOPNOTSUPP, "%s is a port of bridge %s: --enforce nft cannot filter it (nftables' inet hooks never see a bridge port); attach %s itself if the gateways' traffic is routed, or use --enforce xdp|both on %s for a transparent bridge",
				ifname, br, br, ifname);
	if (!strcmp(enforce, "both"))
		edpg_warn("%s is a port of bridge %s: nftables' inet hooks never see its frames, so XDP alone decides on it",
			  ifname, br);
	return 0;
}

/* VLAN binding is XDP's alone: say so when --enforce nft leaves one unchecked. */
static void warn_vlan_unchecked(const struct edpg_desired *d, const struct edpg_ifaces *ifs)
{
	const char *names[EDPG_MAX_IFACES];
	struct edpg_nft_opts no;
	char msg[320];

	edpg_nft_opts_from(ifs, &no, names);
	if (edpg_nft_vlan_unchecked(d, &no, msg, sizeof(msg)))
		edpg_warn("%s", msg);
}

int do_attach(int argc, char **argv)
{
	struct edpg_desired *d = NULL;
	struct edpg_ifaces ifs, old;
	const char *enforce, *ifname;
	struct edpg_load_opts lo;
	struct attach_args a;
	struct edpg_policy p;
	struct edpg_bpf b;
	bool loaded = false;
	int err, ret = EDPG_EXIT_FAIL;

	ret = attach_args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	ret = EDPG_EXIT_FAIL;
	enforce = a.enforce;
	ifname = a.ifname;

	if (cli_lock())
		return EDPG_EXIT_FAIL;
	if (cli_ifaces(&ifs))
		return EDPG_EXIT_FAIL;
	for (size_t i = 0; i < ifs.n; i++) {
		if (strcmp(ifs.v[i].name, ifname))
			continue;
		/* Attached already, asked for another mode: the live switch
		 * (`edpgate enforce`), not a second attach. */
		if (a.enforce_given && strcmp(ifs.v[i].enforce, enforce))
			return edpg_enforce_switch(&ifs, enforce) ? EDPG_EXIT_FAIL : EDPG_EXIT_OK;
		return restore(&ifs, ifname);
	}
	for (size_t i = 0; i < ifs.n; i++) {
		if (strcmp(ifs.v[i].enforce, enforce))
			return edpg_err(-EINVAL, "%s is attached with --enforce %s; all interfaces share one enforcement mode (`edpgate enforce %s` switches them all)",
					ifs.v[i].name, ifs.v[i].enforce, enforce), EDPG_EXIT_FAIL;
	}
	if (ifs.n == EDPG_MAX_IFACES)
		return edpg_err(-ENOSPC, "at most %d interfaces", EDPG_MAX_IFACES), EDPG_EXIT_FAIL;
	if (bridge_port_check(ifname, enforce))
		return EDPG_EXIT_FAIL;

	err = edpg_load_policy(&p, cli.rules, false);
	if (err)
		return EDPG_EXIT_FAIL;

	/* Without --max-gateways the maps start sized to the site and
	 * grow with it (bpf_grow.c); with it they keep that capacity. */
	lo = a.lo;
	if (!lo.max_gateways)
		lo.max_gateways = edpg_bpf_capacity_for(p.ngateways);
	err = open_instance(&ifs, ifname, &lo, &b, &loaded);
	if (err)
		goto out_policy;
	if (loaded)
		ifs.max_gateways = a.lo.max_gateways;

	old = ifs;
	snprintf(ifs.v[ifs.n].name, sizeof(ifs.v[ifs.n].name), "%s", ifname);
	snprintf(ifs.v[ifs.n].enforce, sizeof(ifs.v[ifs.n].enforce), "%s", enforce);
	snprintf(ifs.v[ifs.n].xdp_mode, sizeof(ifs.v[ifs.n].xdp_mode), "none");
	ifs.v[ifs.n].ifindex = if_nametoindex(ifname);
	ifs.n++;
	/* The interface list feeds @router, so save it before compiling. */
	err = edpg_ifaces_save(cli.state_dir, &ifs);
	if (err) {
		edpg_err(err, "cannot write %s/" EDPG_STATE_INTERFACES, cli.state_dir);
		goto out;
	}
	err = edpg_build_desired(&p, false, &d);
	err = err ?: edpg_push_full(&b, d, &ifs);
	if (!err)
		warn_vlan_unchecked(d, &ifs);
	err = err ?: hook_up(&b, &a, &ifs.v[ifs.n - 1]);
	err = err ?: edpg_ifaces_save(cli.state_dir, &ifs);
	if (err) {
		/* Put back what was there: the old interface list and table. */
		edpg_ifaces_save(cli.state_dir, &old);
		if (old.n == 0) {
			edpg_nft_delete_table();
			if (loaded)
				edpg_bpf_unpin_all(cli.pin_dir);
		}
		goto out;
	}
	out_begin();
	out_obj_open(NULL);
	out_str("interface", "attached %s: ", ifname);
	out_str("xdp_mode", "xdp %s, ", ifs.v[ifs.n - 1].xdp_mode);
	out_str("enforce", "enforce %s, ", enforce);
	out_uint("gateways", "%llu gateways, ", d->ngws);
	out_uint("destinations", "%llu destinations\n", d->ndsts);
	out_obj_close();
	ret = EDPG_EXIT_OK;
out:
	if (d) {
		edpg_desired_free(d);
		free(d);
	}
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
