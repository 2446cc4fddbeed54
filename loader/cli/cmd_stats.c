// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate stats [MAC|DEVICE-ID|NAME] [--interval SEC] [--format text|prometheus]:
 * allowed packets/bytes per service and drops per reason for each enrolled
 * gateway, then the global counters per reason (which is where unknown MACs
 * show up: they have no slot).
 *
 * --interval redraws per-second rates until Ctrl-C (text), or prints one
 * JSON document per interval (-j).  --format prometheus prints the
 * node_exporter textfile format, for a cron job writing
 * /var/lib/node_exporter/textfile/edpgate.prom.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "dptime.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"

static const char synopsis[] = "stats [MAC|DEVICE-ID|NAME] [--interval SEC] [--format text|prometheus]";

/* One reading of every counter stats shows. */
struct reading {
	struct edpg_global glob[EDPG_R_MAX];
	struct edpg_ev_bucket ev_unknown;
	size_t n;
	struct gw_reading {
		const struct edpg_gateway *g;
		bool live;
		struct edpg_gw_stats st;
		uint64_t suppressed;
	} *gw;
	struct timespec at;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool selected(const struct edpg_gateway *g, const char *filter)
{
	uint8_t mac[6];

	if (!filter)
		return true;
	if (!edpg_mac_parse(filter, mac))
		return !memcmp(g->mac, mac, 6);
	return g->name[0] && !strcmp(g->name, filter);
}

static int take(const struct edpg_policy *p, const struct edpg_bpf *b, const char *filter,
		struct reading *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->gw = calloc(p->ngateways ? p->ngateways : 1, sizeof(*r->gw));
	if (!r->gw)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &r->at);
	err = edpg_bpf_global(b, r->glob);
	if (err)
		return err;
	edpg_bpf_ev_global(b, &r->ev_unknown);
	for (size_t i = 0; i < p->ngateways; i++) {
		struct gw_reading *w = &r->gw[r->n];
		struct edpg_gw_diag dg;
		struct edpg_gw rec;

		if (!selected(&p->gateways[i], filter))
			continue;
		w->g = &p->gateways[i];
		w->live = !edpg_bpf_gw_get(b, w->g->mac, &rec) &&
			  !edpg_bpf_gw_stats(b, rec.slot, &w->st);
		if (w->live && !edpg_bpf_gw_diag(b, rec.slot, &dg))
			w->suppressed = dg.ev.suppressed;
		r->n++;
	}
	return 0;
}

/* ---- text and JSON ---- */

static void print_totals(const struct edpg_policy *p, const struct reading *r, bool global)
{
	char ts[32];

	out_begin();
	out_obj_open(NULL);
	out_arr_open("gateways");
	for (size_t i = 0; i < r->n; i++) {
		const struct gw_reading *w = &r->gw[i];
		char mac[EDPG_MAC_STRLEN], devid[EDPG_DEVID_STRLEN];

		edpg_mac_format(w->g->mac, mac);
		edpg_devid_format(w->g->mac, devid);
		out_obj_open(NULL);
		out_str("mac", "gateway %s", mac);
		out_str("device_id", " %s", devid);
		out_str("name", " (%s)", w->g->name[0] ? w->g->name : NULL);
		out_bool("live", " live %s", w->live);
		out_str("last_seen", ", last seen %s", edpg_dp_time_str(w->st.last_seen, ts, sizeof(ts)));
		out_uint("events_suppressed", ", events suppressed %llu\n", w->suppressed);
		out_arr_open("allowed");
		for (size_t s = 0; s < p->nservices; s++) {
			if (!(w->g->services & (1U << s)) && !w->st.svc[s].packets)
				continue;
			out_obj_open(NULL);
			out_str("service", "  allow %-12s", p->services[s].name);
			out_uint("packets", " %12llu pkts", w->st.svc[s].packets);
			out_uint("bytes", " %14llu bytes\n", w->st.svc[s].bytes);
			out_obj_close();
		}
		out_arr_close();
		out_obj_open("drops");
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++) {
			out_text("  drop  %-12s", edpg_reason_names[rr]);
			out_uint(edpg_reason_names[rr], " %12llu pkts\n", w->st.drops[rr]);
		}
		out_obj_close();
		/* Audit: judged a drop, passed.  Text shows them when there are
		 * any; JSON always has the object. */
		out_obj_open("would_drop");
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++) {
			if (!edpg_json && !w->st.would_drop[rr])
				continue;
			out_text("  would_drop %-7s", edpg_reason_names[rr]);
			out_uint(edpg_reason_names[rr], " %12llu pkts (audit: passed)\n",
				 w->st.would_drop[rr]);
		}
		out_obj_close();
		out_obj_close();
	}
	out_arr_close();
	if (global) {
		out_text("global (all frames, by reason):\n");
		out_obj_open("global");
		for (int rr = 0; rr < EDPG_R_MAX; rr++) {
			out_obj_open(edpg_reason_names[rr]);
			out_text("  %-12s", edpg_reason_names[rr]);
			out_uint("pass_packets", " pass %12llu pkts", r->glob[rr].pass.packets);
			out_uint("pass_bytes", " %14llu bytes", r->glob[rr].pass.bytes);
			out_uint("drop_packets", "  drop %12llu pkts", r->glob[rr].drop.packets);
			out_uint("drop_bytes", " %14llu bytes", r->glob[rr].drop.bytes);
			out_uint("would_drop_packets", r->glob[rr].would_drop.packets ?
				 "  would_drop %llu pkts" : NULL, r->glob[rr].would_drop.packets);
			out_uint("would_drop_bytes", NULL, r->glob[rr].would_drop.bytes);
			out_text("\n");
			out_obj_close();
		}
		out_obj_close();
		out_uint("unknown_mac_events_suppressed", "unknown-MAC events suppressed %llu\n",
			 r->ev_unknown.suppressed);
	}
	out_obj_close();
}

static uint64_t rate(uint64_t a, uint64_t b, double secs)
{
	return b > a && secs > 0 ? (uint64_t)((b - a) / secs + 0.5) : 0;
}

/* Per-second rates between two readings of the same gateways. */
static void print_rates(const struct edpg_policy *p, const struct reading *a,
			const struct reading *b, bool global)
{
	double secs = (b->at.tv_sec - a->at.tv_sec) + (b->at.tv_nsec - a->at.tv_nsec) / 1e9;
	time_t now = time(NULL);
	char ts[32];
	struct tm tm;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	if (!edpg_json && isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	out_begin();
	out_obj_open(NULL);
	out_str("time", "%s", ts);
	out_text(" (per second; Ctrl-C to stop)\n");
	out_arr_open("gateways");
	for (size_t i = 0; i < b->n && i < a->n; i++) {
		const struct gw_reading *x = &a->gw[i], *y = &b->gw[i];
		char mac[EDPG_MAC_STRLEN], devid[EDPG_DEVID_STRLEN];

		edpg_mac_format(y->g->mac, mac);
		edpg_devid_format(y->g->mac, devid);
		out_obj_open(NULL);
		out_str("mac", "gateway %s", mac);
		out_str("device_id", " %s", devid);
		out_str("name", " (%s)\n", y->g->name[0] ? y->g->name : NULL);
		out_arr_open("allowed");
		for (size_t s = 0; s < p->nservices; s++) {
			if (!(y->g->services & (1U << s)) && !y->st.svc[s].packets)
				continue;
			out_obj_open(NULL);
			out_str("service", "  allow %-12s", p->services[s].name);
			out_uint("pps", " %10llu pps", rate(x->st.svc[s].packets, y->st.svc[s].packets, secs));
			out_uint("bps", " %12llu B/s\n", rate(x->st.svc[s].bytes, y->st.svc[s].bytes, secs));
			out_obj_close();
		}
		out_arr_close();
		out_obj_open("drops_pps");
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++) {
			uint64_t v = rate(x->st.drops[rr], y->st.drops[rr], secs);

			if (!edpg_json && !v)
				continue;
			out_text("  drop  %-12s", edpg_reason_names[rr]);
			out_uint(edpg_reason_names[rr], " %10llu pps\n", v);
		}
		out_obj_close();
		out_obj_open("would_drop_pps");
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++) {
			uint64_t v = rate(x->st.would_drop[rr], y->st.would_drop[rr], secs);

			if (!edpg_json && !v)
				continue;
			out_text("  would_drop %-7s", edpg_reason_names[rr]);
			out_uint(edpg_reason_names[rr], " %10llu pps\n", v);
		}
		out_obj_close();
		out_obj_close();
	}
	out_arr_close();
	if (global) {
		out_text("global:\n");
		out_obj_open("global_pps");
		for (int rr = 0; rr < EDPG_R_MAX; rr++) {
			out_obj_open(edpg_reason_names[rr]);
			out_text("  %-12s", edpg_reason_names[rr]);
			out_uint("pass", " pass %10llu pps",
				 rate(a->glob[rr].pass.packets, b->glob[rr].pass.packets, secs));
			out_uint("drop", "  drop %10llu pps",
				 rate(a->glob[rr].drop.packets, b->glob[rr].drop.packets, secs));
			out_uint("would_drop", "  would_drop %10llu pps\n",
				 rate(a->glob[rr].would_drop.packets, b->glob[rr].would_drop.packets, secs));
			out_obj_close();
		}
		out_obj_close();
	}
	out_obj_close();
	out_end();
}

/* ---- Prometheus textfile ---- */

/* Label values: \, " and newline escaped (exposition format). */
static void prom_label(const char *key, const char *v, bool first)
{
	printf("%s%s=\"", first ? "" : ",", key);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", stdout);
		else
			putchar(*v);
	}
	putchar('"');
}

static void prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_gw(const char *metric, const struct gw_reading *w, const char *k2,
		    const char *v2, unsigned long long v)
{
	char mac[EDPG_MAC_STRLEN], devid[EDPG_DEVID_STRLEN];

	edpg_mac_format(w->g->mac, mac);
	edpg_devid_format(w->g->mac, devid);
	printf("%s{", metric);
	prom_label("gateway", mac, true);
	prom_label("device_id", devid, false);
	prom_label("name", w->g->name, false);
	/* A fleet's series apart: which site and router counted them. */
	if (cli.store.configured) {
		prom_label("site", cli.store.site, false);
		prom_label("router", cli.store.router, false);
	}
	if (k2)
		prom_label(k2, v2, false);
	printf("} %llu\n", v);
}

/* A series of the whole router (verdict and reason, or none), with the
 * fleet's site and router labels when there is a store, as prom_gw's. */
static void prom_router(const char *metric, const char *verdict, const char *reason,
			unsigned long long v)
{
	bool first = true;

	printf("%s", metric);
	if (!verdict && !cli.store.configured) {
		printf(" %llu\n", v);
		return;
	}
	putchar('{');
	if (verdict) {
		prom_label("verdict", verdict, true);
		prom_label("reason", reason, false);
		first = false;
	}
	if (cli.store.configured) {
		prom_label("site", cli.store.site, first);
		prom_label("router", cli.store.router, false);
	}
	printf("} %llu\n", v);
}

static void print_prometheus(const struct edpg_policy *p, const struct reading *r, size_t npend)
{
	prom_head("edpgate_allowed_packets_total", "counter",
		  "Packets a gateway sent that edpgate allowed, by service.");
	for (size_t i = 0; i < r->n; i++)
		for (size_t s = 0; s < p->nservices; s++)
			prom_gw("edpgate_allowed_packets_total", &r->gw[i], "service",
				p->services[s].name, r->gw[i].st.svc[s].packets);
	prom_head("edpgate_allowed_bytes_total", "counter",
		  "Bytes (Ethernet frames) a gateway sent that edpgate allowed, by service.");
	for (size_t i = 0; i < r->n; i++)
		for (size_t s = 0; s < p->nservices; s++)
			prom_gw("edpgate_allowed_bytes_total", &r->gw[i], "service",
				p->services[s].name, r->gw[i].st.svc[s].bytes);
	prom_head("edpgate_dropped_packets_total", "counter",
		  "Packets of a gateway that edpgate dropped, by reason.");
	for (size_t i = 0; i < r->n; i++)
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++)
			prom_gw("edpgate_dropped_packets_total", &r->gw[i], "reason",
				edpg_reason_names[rr], r->gw[i].st.drops[rr]);
	prom_head("edpgate_would_drop_packets_total", "counter",
		  "Packets of a gateway that edpgate judged a drop and passed (audit), by reason.");
	for (size_t i = 0; i < r->n; i++)
		for (int rr = EDPG_R_BINDING; rr < EDPG_R_MAX; rr++)
			prom_gw("edpgate_would_drop_packets_total", &r->gw[i], "reason",
				edpg_reason_names[rr], r->gw[i].st.would_drop[rr]);
	prom_head("edpgate_gateway_last_seen_seconds", "gauge",
		  "Unix time of the gateway's last frame, 0 if never seen.");
	for (size_t i = 0; i < r->n; i++)
		prom_gw("edpgate_gateway_last_seen_seconds", &r->gw[i], NULL, NULL,
			(unsigned long long)edpg_dp_time_to_wall(r->gw[i].st.last_seen));
	prom_head("edpgate_gateway_live", "gauge",
		  "1 if the gateway is enrolled in the loaded program.");
	for (size_t i = 0; i < r->n; i++)
		prom_gw("edpgate_gateway_live", &r->gw[i], NULL, NULL, r->gw[i].live);
	prom_head("edpgate_events_suppressed_total", "counter",
		  "Drop events of a gateway not sent to `edpgate watch` (rate limit).");
	for (size_t i = 0; i < r->n; i++)
		prom_gw("edpgate_events_suppressed_total", &r->gw[i], NULL, NULL,
			r->gw[i].suppressed);
	prom_head("edpgate_packets_total", "counter",
		  "Every frame edpgate judged, by verdict and reason (unknown MACs are here).");
	for (int rr = 0; rr < EDPG_R_MAX; rr++) {
		prom_router("edpgate_packets_total", "pass", edpg_reason_names[rr],
			    r->glob[rr].pass.packets);
		prom_router("edpgate_packets_total", "drop", edpg_reason_names[rr],
			    r->glob[rr].drop.packets);
		prom_router("edpgate_packets_total", "would_drop", edpg_reason_names[rr],
			    r->glob[rr].would_drop.packets);
	}
	prom_head("edpgate_bytes_total", "counter",
		  "Bytes of every frame edpgate judged, by verdict and reason.");
	for (int rr = 0; rr < EDPG_R_MAX; rr++) {
		prom_router("edpgate_bytes_total", "pass", edpg_reason_names[rr],
			    r->glob[rr].pass.bytes);
		prom_router("edpgate_bytes_total", "drop", edpg_reason_names[rr],
			    r->glob[rr].drop.bytes);
		prom_router("edpgate_bytes_total", "would_drop", edpg_reason_names[rr],
			    r->glob[rr].would_drop.bytes);
	}
	prom_head("edpgate_unknown_mac_events_suppressed_total", "counter",
		  "Drop events of unknown MACs not sent to `edpgate watch` (rate limit).");
	prom_router("edpgate_unknown_mac_events_suppressed_total", NULL, NULL,
		    r->ev_unknown.suppressed);
	prom_head("edpgate_pending_macs", "gauge",
		  "Unknown MACs that tried Device Cloud or NTP ports (edpgate gateway pending).");
	prom_router("edpgate_pending_macs", NULL, NULL, npend);
	cli_store_print_prometheus();
}

int do_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{}
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct reading a = {}, b2 = {};
	const char *filter = NULL;
	char fmac[EDPG_MAC_STRLEN];
	struct edpg_policy p;
	struct edpg_bpf b;
	bool prom = false;
	long interval = 0;
	int c, err, ret = EDPG_EXIT_FAIL;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			interval = strtol(optarg, &end, 10);
			if (*end || interval < 1 || interval > 3600)
				return usage_err(synopsis, "--interval '%s': want 1..3600 seconds", optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "prometheus"))
				prom = true;
			else if (strcmp(optarg, "text"))
				return usage_err(synopsis, "--format '%s': want text or prometheus", optarg);
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (argc - optind > 1)
		return usage_err(synopsis, "stats takes at most one MAC, Device ID or name");
	if (argc - optind == 1)
		filter = argv[optind];
	if (prom && (interval || edpg_json))
		return usage_err(synopsis, "--format prometheus is one snapshot, without --interval or -j");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	if (filter) {
		/* Whichever way it was named, select it by its MAC. */
		const struct edpg_gateway *g = edpg_gw_lookup(&p, filter);

		if (!g)
			goto out_policy;
		edpg_mac_format(g->mac, fmac);
		filter = fmac;
	}
	err = edpg_open_live(&b);
	if (err)
		goto out_policy;
	err = take(&p, &b, filter, &a);
	if (err) {
		edpg_err(err, "cannot read the counters");
		goto out;
	}
	if (filter && !a.n) {
		edpg_err(-ENOENT, "no enrolled gateway '%s' (see `edpgate gateway list`)", filter);
		goto out;
	}
	if (prom) {
		struct edpg_pending_ent *v = NULL;
		size_t n = 0;

		edpg_bpf_pending_list(&b, &v, &n);
		free(v);
		print_prometheus(&p, &a, n);
		ret = EDPG_EXIT_OK;
		goto out;
	}
	if (!interval) {
		print_totals(&p, &a, !filter);
		ret = EDPG_EXIT_OK;
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		struct timespec d = { .tv_sec = interval };

		/* A signal cuts the sleep short: stop without a last line. */
		if (nanosleep(&d, NULL) && stop)
			break;
		err = take(&p, &b, filter, &b2);
		if (err) {
			edpg_err(err, "cannot read the counters");
			goto out;
		}
		print_rates(&p, &a, &b2, !filter);
		free(a.gw);
		a = b2;
		b2.gw = NULL;
	}
	ret = EDPG_EXIT_OK;
out:
	free(a.gw);
	free(b2.gw);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
