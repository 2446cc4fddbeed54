// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate stats [MAC|NAME]: allowed packets/bytes per service and drops per
 * reason for each enrolled gateway, then the global counters per reason
 * (which is where unknown MACs show up: they have no slot).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "rules.h"

static const char synopsis[] = "stats [MAC|NAME]";

static void print_time(const char *key, uint64_t dp_ns)
{
	int64_t w = edpg_dp_time_to_wall(dp_ns);
	char ts[32];
	struct tm tm;

	if (!w) {
		out_str(key, " %s", NULL);
		return;
	}
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ w }, &tm));
	out_str(key, " %s", ts);
}

static void print_gateway(const struct edpg_policy *p, const struct edpg_gateway *g,
			  const struct edpg_bpf *b)
{
	struct edpg_gw_stats st = {};
	struct edpg_gw rec;
	char mac[18];
	bool live;

	edpg_mac_format(g->mac, mac);
	live = !edpg_bpf_gw_get(b, g->mac, &rec) && !edpg_bpf_gw_stats(b, rec.slot, &st);
	out_obj_open(NULL);
	out_str("mac", "gateway %s", mac);
	out_str("name", " (%s)", g->name[0] ? g->name : NULL);
	out_bool("live", " live %s", live);
	out_text(", last seen");
	print_time("last_seen", st.last_seen);
	out_text("\n");
	out_arr_open("allowed");
	for (size_t s = 0; s < p->nservices; s++) {
		if (!(g->services & (1U << s)) && !st.svc[s].packets)
			continue;
		out_obj_open(NULL);
		out_str("service", "  allow %-12s", p->services[s].name);
		out_uint("packets", " %12llu pkts", st.svc[s].packets);
		out_uint("bytes", " %14llu bytes\n", st.svc[s].bytes);
		out_obj_close();
	}
	out_arr_close();
	out_obj_open("drops");
	for (int r = EDPG_R_BINDING; r < EDPG_R_MAX; r++) {
		out_text("  drop  %-12s", edpg_reason_names[r]);
		out_uint(edpg_reason_names[r], " %12llu pkts\n", st.drops[r]);
	}
	out_obj_close();
	out_obj_close();
}

int do_stats(int argc, char **argv)
{
	struct edpg_global glob[EDPG_R_MAX];
	const char *filter = NULL;
	struct edpg_policy p;
	struct edpg_bpf b;
	uint8_t mac[6];
	bool by_mac, found = false;
	int err, ret = EDPG_EXIT_FAIL;

	if (argc > 2)
		return usage_err(synopsis, "stats takes at most one MAC or name");
	if (argc == 2)
		filter = argv[1];
	by_mac = filter && !edpg_mac_parse(filter, mac);
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	err = edpg_open_live(&b);
	if (err)
		goto out_policy;
	err = edpg_bpf_global(&b, glob);
	if (err) {
		edpg_err(err, "cannot read the counters");
		goto out;
	}
	out_begin();
	out_obj_open(NULL);
	out_arr_open("gateways");
	for (size_t i = 0; i < p.ngateways; i++) {
		const struct edpg_gateway *g = &p.gateways[i];

		if (filter && !(by_mac ? !memcmp(g->mac, mac, 6) : !strcmp(g->name, filter)))
			continue;
		found = true;
		print_gateway(&p, g, &b);
	}
	out_arr_close();
	if (filter && !found) {
		out_obj_close();
		out_end();
		edpg_err(-ENOENT, "no enrolled gateway '%s' (see `edpgate gateway list`)", filter);
		goto out;
	}
	if (!filter) {
		out_text("global (all frames, by reason):\n");
		out_obj_open("global");
		for (int r = 0; r < EDPG_R_MAX; r++) {
			out_obj_open(edpg_reason_names[r]);
			out_text("  %-12s", edpg_reason_names[r]);
			out_uint("pass_packets", " pass %12llu pkts", glob[r].pass.packets);
			out_uint("pass_bytes", " %14llu bytes", glob[r].pass.bytes);
			out_uint("drop_packets", "  drop %12llu pkts", glob[r].drop.packets);
			out_uint("drop_bytes", " %14llu bytes\n", glob[r].drop.bytes);
			out_obj_close();
		}
		out_obj_close();
	}
	out_obj_close();
	ret = EDPG_EXIT_OK;
out:
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
