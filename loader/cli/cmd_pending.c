// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate gateway pending: MACs the data path dropped as unknown_mac while
 * they tried a Device Cloud or NTP port, or DNS from a Digi OUI (see
 * bpf/edpgate.h) - most likely gateways someone plugged in and did not
 * enrol yet.
 * edpgate gateway add --pending MAC: enrol one of them with the default
 * services (the ordinary `gateway add`), then forget it as pending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "dptime.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"

static const char syn_list[] = "gateway pending";
static const char syn_add[] = "gateway add --pending MAC|DEVICE-ID";

static void print_entry(const struct edpg_pending_ent *e)
{
	char mac[EDPG_MAC_STRLEN], ts[32], devid[EDPG_DEVID_STRLEN];

	edpg_mac_format(e->mac, mac);
	edpg_devid_format(e->mac, devid);
	out_obj_open(NULL);
	out_str("mac", "%s", mac);
	out_str("device_id", " %s", devid);
	out_bool("digi_oui", " digi %-3s", edpg_mac_is_digi(e->mac));
	out_uint("packets", " %8llu pkts", e->p.packets);
	out_str("first_seen", "  first %s", edpg_dp_time_str(e->p.first_seen, ts, sizeof(ts)));
	out_str("last_seen", "  last %s", edpg_dp_time_str(e->p.last_seen, ts, sizeof(ts)));
	out_str("last_proto", "  %s", e->p.last_proto == IPPROTO_TCP ? "tcp" : "udp");
	out_uint("last_port", "/%llu", e->p.last_port);
	if (e->p.vlan)
		out_uint("vlan", " vlan %llu", e->p.vlan);
	else
		out_str("vlan", NULL, NULL);
	out_text("\n");
	out_obj_close();
}

int gateway_pending(int argc, char **argv)
{
	struct edpg_pending_ent *v = NULL;
	struct edpg_policy p;
	struct edpg_bpf b;
	size_t n = 0, shown = 0;
	int err, ret = EDPG_EXIT_FAIL;

	(void)argv;
	if (argc != 1)
		return usage_err(syn_list, "gateway pending takes no arguments");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	if (edpg_open_live(&b))
		goto out_policy;
	err = edpg_bpf_pending_list(&b, &v, &n);
	if (err) {
		edpg_err(err, "cannot read the pending MACs");
		goto out;
	}
	out_begin();
	out_arr_open(NULL);
	for (size_t i = 0; i < n; i++) {
		/* Enrolled since it was recorded: not pending any more. */
		if (edpg_gw_by_mac(&p, v[i].mac))
			continue;
		print_entry(&v[i]);
		shown++;
	}
	out_arr_close();
	if (!shown)
		out_text("no unknown MAC has tried a Device Cloud or NTP port (or DNS from a Digi OUI)\n");
	else
		out_text("enrol one with `edpgate gateway add --pending MAC`\n");
	ret = EDPG_EXIT_OK;
out:
	free(v);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}

int gateway_pending_add(int argc, char **argv)
{
	struct edpg_pending_ent *v = NULL;
	struct edpg_bpf b;
	uint8_t mac[6];
	struct edpg_gateway g = {};
	struct edpg_policy p;
	char msg[512];
	int err;
	bool found = false;
	size_t n = 0;
	int ret;

	/* argv: add --pending MAC */
	if (argc != 3)
		return usage_err(syn_add, "gateway add --pending takes one MAC (see `edpgate gateway pending`)");
	err = edpg_mac_parse(argv[2], mac);
	if (err)
		return usage_err(syn_add, "%s", edpg_mac_parse_msg(argv[2], err, msg, sizeof(msg)));
	if (edpg_open_live(&b))
		return EDPG_EXIT_FAIL;
	if (!edpg_bpf_pending_list(&b, &v, &n))
		for (size_t i = 0; i < n && !found; i++)
			found = !memcmp(v[i].mac, mac, 6);
	free(v);
	if (!found) {
		edpg_bpf_close(&b);
		edpg_err(-ENOENT, "%s is not pending (see `edpgate gateway pending`); enrol it with `edpgate gateway add %s`",
			 argv[2], argv[2]);
		return EDPG_EXIT_FAIL;
	}
	/* The ordinary enrolment with the default services: one code path. */
	ret = EDPG_EXIT_FAIL;
	if (cli_lock() || cli_store_pull() || edpg_load_policy(&p, cli.rules, true))
		goto out;
	memcpy(g.mac, mac, 6);
	g.services = p.default_services;
	g.uses_defaults = true;
	ret = gateway_enrol(&p, &g, false);
	edpg_policy_free(&p);
	if (ret == EDPG_EXIT_OK)
		edpg_bpf_pending_del(&b, mac);
out:
	edpg_bpf_close(&b);
	return ret;
}
