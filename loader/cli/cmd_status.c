// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate status: what is attached, in which mode, whether the kernel still
 * agrees with the record (health.c: pins, links, interfaces), and the live
 * policy size.  Problems are listed with what to run; the exit code stays
 * 0 (status reports, verify judges).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile.h"
#include "health.h"
#include "json.h"
#include "log.h"

static const char synopsis[] = "status";

static void print_interfaces(const struct edpg_ifaces *ifs, const struct edpg_health *h)
{
	out_arr_open("interfaces");
	for (size_t i = 0; i < ifs->n; i++) {
		const struct edpg_if_health *ih = &h->ifs[i];

		out_obj_open(NULL);
		out_str("name", "interface %s:", ifs->v[i].name);
		out_str("xdp_mode", " xdp %s,", ifs->v[i].xdp_mode);
		out_str("enforce", " enforce %s,", ifs->v[i].enforce);
		out_bool("linked", " link pinned %s", edpg_bpf_is_attached(cli.pin_dir, ifs->v[i].name));
		out_bool("exists", NULL, ih->ifindex != 0);
		out_int("ifindex", ih->ifindex ? " (ifindex %lld" : " (no such interface", ih->ifindex);
		out_bool("up", ih->ifindex ? (ih->up ? ", up" : ", down") : NULL, ih->up);
		out_str("link", ", link %s", edpg_link_state_name(ih->link));
		out_uint("link_id", NULL, ih->link_id);
		out_uint("foreign_prog_id", ih->foreign_id ? ", foreign XDP program %llu" : NULL,
			 ih->foreign_id);
		out_bool("snooper", ", snooper %s", ih->snooper);
		out_bool("snooper_questions", ", questions %s)\n", ih->snooper_q);
		out_obj_close();
	}
	out_arr_close();
	if (!ifs->n)
		out_text("no interface attached\n");
}

static void print_problems(const struct edpg_health *h)
{
	out_bool("healthy", h->n ? NULL : "", h->n == 0);
	out_arr_open("problems");
	for (size_t i = 0; i < h->n; i++) {
		out_obj_open(NULL);
		out_str("where", "problem: ", h->p[i].where);
		out_str("code", NULL, h->p[i].code);
		out_str("what", "%s\n", h->p[i].what);
		out_obj_close();
	}
	out_arr_close();
}

int do_status(int argc, char **argv)
{
	struct edpg_desired *live = NULL;
	struct edpg_health h;
	struct edpg_ifaces ifs;
	struct edpg_bpf b;
	size_t nsvc = 0, ngroups = 0, n4 = 0, n6 = 0;
	uint64_t groups = 0;
	uint32_t gen = 0;
	int err, ret = EDPG_EXIT_FAIL;

	(void)argv;
	if (argc != 1)
		return usage_err(synopsis, "status takes no arguments");
	if (cli_ifaces(&ifs))
		return EDPG_EXIT_FAIL;
	edpg_health_check(cli.pin_dir, &ifs, &h);
	err = edpg_bpf_open_pinned(&b, cli.pin_dir);
	if (err == -ENOENT) {
		/* Not loaded, or loaded with pins missing: say which. */
		out_begin();
		out_obj_open(NULL);
		out_bool("loaded", h.prog_pinned ? "loaded: %s (pins incomplete)\n" :
			 ifs.n ? "loaded: %s\n" : "loaded: %s (run `edpgate attach IFACE`)\n",
			 h.prog_pinned);
		print_interfaces(&ifs, &h);
		print_problems(&h);
		out_obj_close();
		return EDPG_EXIT_OK;
	}
	if (err)
		return edpg_err(err, "cannot open the pins in %s", cli.pin_dir), EDPG_EXIT_FAIL;
	live = calloc(1, sizeof(*live));
	if (!live)
		goto out;
	err = edpg_bpf_active_gen(&b, &gen);
	err = err ?: edpg_bpf_read_live(&b, live);
	if (err) {
		edpg_err(err, "cannot read the live policy");
		goto out;
	}
	for (int s = 0; s < EDPG_MAX_SERVICES; s++)
		groups |= live->svc_groups[s];
	/* Services in use are the ids the port table maps to. */
	for (int p = 0; p < 2; p++)
		for (int port = 0; port < EDPG_NR_PORTS; port++)
			if (live->ports[p][port] > nsvc)
				nsvc = live->ports[p][port];
	for (uint64_t g = groups; g; g &= g - 1)
		ngroups++;
	for (size_t i = 0; i < live->ndsts; i++)
		live->dsts[i].addr.family == AF_INET ? n4++ : n6++;

	out_begin();
	out_obj_open(NULL);
	out_bool("loaded", "loaded: %s", true);
	out_str("pin_dir", " (pins in %s)\n", cli.pin_dir);
	print_interfaces(&ifs, &h);
	print_problems(&h);
	out_uint("generation", "policy generation %llu: ", gen);
	out_uint("gateways", "%llu gateways, ", live->ngws);
	out_uint("services", "%llu services, ", nsvc);
	out_uint("groups", "%llu groups reachable, ", ngroups);
	out_uint("addresses_v4", "%llu IPv4 and ", n4);
	out_uint("addresses_v6", "%llu IPv6 destinations\n", n6);
	out_uint("gateway_capacity", "gateway capacity %llu\n", edpg_bpf_capacity(&b));
	cli_store_print_status();
	out_obj_close();
	ret = EDPG_EXIT_OK;
out:
	edpg_desired_put(live);
	edpg_bpf_close(&b);
	return ret;
}
