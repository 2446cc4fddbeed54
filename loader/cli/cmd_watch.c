// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate watch [MAC|DEVICE-ID|NAME] [--count N] [--timeout SEC]: live drop events
 * from the data path's ring buffer, one line (or one JSON object) each.
 *
 * The data path rate-limits events per gateway and for unknown MACs
 * together (token buckets in bpf/edpgate.bpf.c); each event carries how
 * many of its bucket's events were suppressed before it, so a flood shows
 * as "+N suppressed" instead of overloading the router or this reader.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "addr.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"

static const char synopsis[] = "watch [MAC|DEVICE-ID|NAME] [--count N] [--timeout SEC]";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct watch {
	const struct edpg_policy *p;
	bool filter;
	uint8_t mac[6];
	uint64_t seen, max;
};

static void fmt_addr(int family, const uint8_t *a, char *out, size_t len)
{
	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, out, len))
		snprintf(out, len, "?");
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	if (p == IPPROTO_TCP)
		return "tcp";
	if (p == IPPROTO_UDP)
		return "udp";
	if (p == IPPROTO_ICMP)
		return "icmp";
	if (p == IPPROTO_ICMPV6)
		return "icmpv6";
	snprintf(buf, len, "ip%u", p);
	return buf;
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct watch *w = ctx;
	const struct edpg_event *e = data;
	const struct edpg_gateway *g;
	char ts[32], mac[EDPG_MAC_STRLEN], s[64], d[64], pb[8], devid[EDPG_DEVID_STRLEN];
	int64_t wall;
	struct tm tm;

	if (size < sizeof(*e))
		return 0;
	if (w->filter && memcmp(e->mac, w->mac, 6))
		return 0;
	wall = edpg_dp_time_to_wall(e->ts);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ wall }, &tm));
	edpg_mac_format(e->mac, mac);
	g = edpg_gw_by_mac(w->p, e->mac);
	fmt_addr(e->family, e->saddr, s, sizeof(s));
	fmt_addr(e->family, e->daddr, d, sizeof(d));
	out_begin();
	out_obj_open(NULL);
	out_str("time", "%s", ts);
	edpg_devid_format(e->mac, devid);
	out_str("mac", " %s", mac);
	out_str("device_id", " %s", devid);
	out_str("gateway", " (%s)", g ? (g->name[0] ? g->name : mac) : NULL);
	out_str("src", " %s", s);
	out_uint("sport", ":%llu", e->sport);
	out_str("dst", " -> %s", d);
	out_uint("dport", ":%llu", e->dport);
	out_str("proto", " %s", proto_name(e->proto, pb, sizeof(pb)));
	if (e->vlan)
		out_uint("vlan", " vlan %llu", e->vlan);
	else
		out_str("vlan", NULL, NULL);
	out_str("reason", " %s", e->reason < EDPG_R_MAX ? edpg_reason_names[e->reason] : "?");
	/* Audit: the same judgement, but the frame went through. */
	out_str("verdict", (e->flags & EDPG_EV_F_WOULD) ? " [%s: audit, passed]" : NULL,
		(e->flags & EDPG_EV_F_WOULD) ? "would_drop" : "drop");
	if (e->suppressed)
		out_text(" (+%u suppressed)", e->suppressed);
	out_uint("suppressed", NULL, e->suppressed);
	out_text("\n");
	out_obj_close();
	out_end();	/* one document per event: the reader is a pipe */
	w->seen++;
	if (w->max && w->seen >= w->max)
		stop = 1;
	return 0;
}

int do_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{}
	};
	struct watch w = {};
	struct edpg_bpf_events *ev = NULL;
	struct edpg_policy p;
	struct edpg_bpf b;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec t0, t;
	long timeout = 0;
	int c, err, ret = EDPG_EXIT_FAIL;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			w.max = strtoull(optarg, &end, 10);
			if (*end || !w.max)
				return usage_err(synopsis, "--count '%s': want a positive number", optarg);
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*end || timeout <= 0)
				return usage_err(synopsis, "--timeout '%s': want seconds", optarg);
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (argc - optind > 1)
		return usage_err(synopsis, "watch takes at most one MAC, Device ID or name");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	w.p = &p;
	if (argc - optind == 1) {
		const struct edpg_gateway *g;

		w.filter = true;
		if (edpg_mac_parse(argv[optind], w.mac)) {
			g = edpg_gw_lookup(&p, argv[optind]);
			if (!g)
				goto out_policy;
			memcpy(w.mac, g->mac, 6);
		}
	}
	if (edpg_open_live(&b))
		goto out_policy;
	err = edpg_bpf_events_open(&b, on_event, &w, &ev);
	if (err) {
		edpg_err(err, "cannot read the drop events");
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		err = edpg_bpf_events_poll(ev, 200);
		if (err < 0 && err != -EINTR) {
			edpg_err(err, "reading the drop events");
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout && t.tv_sec - t0.tv_sec >= timeout)
			break;
	}
	ret = EDPG_EXIT_OK;
out:
	edpg_bpf_events_close(ev);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
