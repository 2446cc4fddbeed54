// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate explain MAC tcp|udp DST PORT [--vlan ID] [--src ADDR]: what the
 * loaded program does with such a packet, and why.
 *
 * The answer comes from the real program, not from a model of it: the
 * packet runs through a private instance (BPF_PROG_TEST_RUN) that shares
 * the pinned policy maps and has counters of its own, loaded with dry_run
 * so it writes nothing shared (no last_used, no events, no pending).  The
 * reason is the private counter that moved.  The facts printed next to it
 * are read from the same live maps the program just used.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "addr.h"
#include "addrcache.h"
#include "cli.h"
#include "expiry.h"
#include "json.h"
#include "log.h"
#include "lookup.h"
#include "probe.h"
#include "rules.h"

static const char synopsis[] = "explain MAC|DEVICE-ID|NAME tcp|udp DST PORT [--vlan ID] [--src ADDR]";

static void print_when(const char *key, const char *fmt, int64_t wall)
{
	char ts[32];
	struct tm tm;

	if (wall <= 0) {
		out_str(key, fmt, NULL);
		return;
	}
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&(time_t){ wall }, &tm));
	out_str(key, fmt, ts);
}

static const char *why_text(int reason)
{
	switch (reason) {
	case EDPG_R_ALLOW: return "an enrolled gateway, a service it may use, a destination of that service";
	case EDPG_R_UNKNOWN_MAC: return "the source MAC is not enrolled (edpgate gateway add MAC)";
	case EDPG_R_BINDING: return "the gateway is bound to another VLAN or source address";
	case EDPG_R_PORT: return "no service of the rules uses this protocol and port";
	case EDPG_R_SERVICE: return "the gateway may not use the service of this port";
	case EDPG_R_DESTINATION: return "the destination is in no group the service may reach";
	case EDPG_R_MALFORMED: return "the packet could not be parsed";
	}
	return "";
}

/* Options and arguments into @pr; 0 or the usage exit code. */
static int parse_args(int argc, char **argv, struct edpg_probe *pr, bool *have_src)
{
	static const struct option opts[] = {
		{ "vlan", required_argument, NULL, 'V' },
		{ "src", required_argument, NULL, 'S' },
		{}
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 4095)
				return usage_err(synopsis, "--vlan '%s': want 0..4095", optarg);
			pr->vlan = v;
			break;
		case 'S':
			if (edpg_addr_parse(optarg, &pr->src, false))
				return usage_err(synopsis, "--src '%s': not an address", optarg);
			*have_src = true;
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (argc - optind != 4)
		return usage_err(synopsis, "explain takes a gateway, a protocol, a destination and a port");
	if (!strcmp(argv[optind + 1], "tcp"))
		pr->proto = IPPROTO_TCP;
	else if (!strcmp(argv[optind + 1], "udp"))
		pr->proto = IPPROTO_UDP;
	else
		return usage_err(synopsis, "protocol '%s': want tcp or udp", argv[optind + 1]);
	if (edpg_addr_parse(argv[optind + 2], &pr->dst, false))
		return usage_err(synopsis, "destination '%s': not an address", argv[optind + 2]);
	v = strtol(argv[optind + 3], &end, 10);
	if (*end || v < 1 || v > 65535)
		return usage_err(synopsis, "port '%s': want 1..65535", argv[optind + 3]);
	pr->dport = v;
	if (*have_src && pr->src.family != pr->dst.family)
		return usage_err(synopsis, "--src and the destination must be of one family");
	return 0;
}

/* Defaults a real packet of this gateway would carry: its bound source
 * address and VLAN, else an address that binds nothing (@rec NULL: not
 * enrolled). */
static void probe_defaults(struct edpg_probe *pr, bool have_src, const struct edpg_gw *rec)
{
	if (!have_src) {
		pr->src.family = pr->dst.family;
		if (pr->dst.family == AF_INET && rec && (rec->flags & EDPG_GW_BIND_V4))
			memcpy(pr->src.addr, rec->ip4, 4);
		else if (pr->dst.family == AF_INET6 && rec && (rec->flags & EDPG_GW_BIND_V6))
			memcpy(pr->src.addr, rec->ip6, 16);
		else if (pr->dst.family == AF_INET)
			inet_pton(AF_INET, "192.0.2.1", pr->src.addr);
		else
			inet_pton(AF_INET6, "2001:db8::1", pr->src.addr);
		pr->src.plen = pr->dst.family == AF_INET ? 32 : 128;
	}
	if (pr->vlan < 0 && rec && (rec->flags & EDPG_GW_BIND_VLAN))
		pr->vlan = rec->vlan;
}

/* The gateway as the live maps hold it (@rec NULL: not enrolled). */
static void print_gateway(const struct edpg_policy *p, const struct edpg_gateway *g,
			  const struct edpg_gw *rec)
{
	char buf[256], a[EDPG_ADDR_STRLEN];

	out_obj_open("gateway");
	out_bool("enrolled", "gateway: enrolled %s", rec != NULL);
	out_str("name", " name %s", g && g->name[0] ? g->name : NULL);
	if (rec) {
		edpg_svc_names(p, rec->services, buf, sizeof(buf));
		out_uint("slot", " slot %llu", rec->slot);
		out_str("services", " services %s", buf);
		out_text("\n  bindings:");
		if (rec->flags & EDPG_GW_BIND_VLAN)
			out_uint("vlan", " vlan %llu", rec->vlan);
		else
			out_str("vlan", NULL, NULL);
		if (rec->flags & EDPG_GW_BIND_V4) {
			struct edpg_addr x = { .family = AF_INET, .plen = 32 };

			memcpy(x.addr, rec->ip4, 4);
			edpg_addr_format(&x, a, sizeof(a));
			out_str("ip4", " ip4 %s", a);
		} else {
			out_str("ip4", NULL, NULL);
		}
		if (rec->flags & EDPG_GW_BIND_V6) {
			struct edpg_addr x = { .family = AF_INET6, .plen = 128 };

			memcpy(x.addr, rec->ip6, 16);
			edpg_addr_format(&x, a, sizeof(a));
			out_str("ip6", " ip6 %s", a);
		} else {
			out_str("ip6", NULL, NULL);
		}
		if (!(rec->flags & (EDPG_GW_BIND_VLAN | EDPG_GW_BIND_V4 | EDPG_GW_BIND_V6)))
			out_text(" none");
	}
	out_text("\n");
	out_obj_close();
}

/* The service the live maps give the port, and whether this gateway may
 * use it (@rec NULL: not enrolled). */
static void print_service(const struct edpg_bpf *live, const struct edpg_policy *p,
			  const struct edpg_probe *pr, const struct edpg_gw *rec)
{
	uint64_t sgroups = 0;
	char buf[256];
	int err, sid = -1;

	err = edpg_bpf_port_service(live, pr->proto, pr->dport, &sid);
	out_obj_open("service");
	if (!err && sid >= 0) {
		edpg_bpf_service_groups(live, sid, &sgroups);
		edpg_group_names(p, sgroups, buf, sizeof(buf));
		out_str("name", "service: %s", (size_t)sid < p->nservices ? p->services[sid].name : "?");
		out_bool("gateway_may_use", ", this gateway may use it: %s",
			 rec && (rec->services & (1U << sid)));
		out_str("groups", "; it may reach %s\n", buf[0] ? buf : NULL);
	} else {
		out_str("name", "service: %s (no service uses this port)\n", NULL);
	}
	out_obj_close();
}

/* The destination's groups in the live maps and the names it was
 * learned as. */
static void print_destination(const struct edpg_bpf *live, const struct edpg_policy *p,
			      const struct edpg_addr *dst)
{
	struct edpg_cache_entry *ce = NULL;
	uint64_t exact = 0, cidr = 0;
	size_t nce = 0;
	char buf[256];

	edpg_bpf_dst_groups(live, dst, &exact, &cidr);
	out_obj_open("destination");
	edpg_group_names(p, exact, buf, sizeof(buf));
	out_str("exact_groups", "destination: exact entry in %s", buf[0] ? buf : NULL);
	edpg_group_names(p, cidr, buf, sizeof(buf));
	out_str("cidr_groups", ", prefix in %s\n", buf[0] ? buf : NULL);
	if (!edpg_addr_cache_find(cli.state_dir, false, dst, &ce, &nce)) {
		out_arr_open("learned");
		for (size_t i = 0; i < nce; i++) {
			out_obj_open(NULL);
			out_str("name", "  learned as %s", ce[i].name);
			out_str("group", " (group %s)", ce[i].group[0] ? ce[i].group : NULL);
			out_str("source", " source %s", edpg_dst_source_name(ce[i].source));
			out_uint("ttl", " ttl %llu", ce[i].ttl);
			print_when("expires", " expires %s\n", ce[i].expires);
			out_obj_close();
		}
		out_arr_close();
		free(ce);
	}
	out_obj_close();
}

int do_explain(int argc, char **argv)
{
	const struct edpg_gateway *g = NULL;
	struct edpg_global snap[EDPG_R_MAX];
	struct edpg_bpf live, priv;
	struct edpg_outcome res = {};
	struct edpg_probe pr = { .vlan = -1, .sport = 40000 };
	struct edpg_policy p;
	struct edpg_gw rec;
	bool have_src = false, enrolled;
	char a[EDPG_ADDR_STRLEN], mac[EDPG_MAC_STRLEN];
	uint8_t frame[128];
	size_t flen;
	int err, ret;

	ret = parse_args(argc, argv, &pr, &have_src);
	if (ret)
		return ret;
	ret = EDPG_EXIT_FAIL;

	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	if (edpg_mac_parse(argv[optind], pr.src_mac)) {
		g = edpg_gw_lookup(&p, argv[optind]);
		if (!g)
			goto out_policy;
		memcpy(pr.src_mac, g->mac, 6);
	} else {
		g = edpg_gw_by_mac(&p, pr.src_mac);
	}
	if (edpg_open_live(&live))
		goto out_policy;
	enrolled = !edpg_bpf_gw_get(&live, pr.src_mac, &rec);
	probe_defaults(&pr, have_src, enrolled ? &rec : NULL);
	err = edpg_probe_build(&pr, frame, sizeof(frame), &flen);
	if (err) {
		edpg_err(err, "cannot build the packet");
		goto out_live;
	}
	err = edpg_bpf_load_private(&priv, &live, NULL);
	if (err)
		goto out_live;
	err = edpg_bpf_global(&priv, snap);
	err = err ?: edpg_verdict_run(&priv, snap, frame, flen, &res);
	edpg_bpf_close(&priv);
	if (err) {
		edpg_err(err, "the test run of the loaded program failed");
		goto out_live;
	}

	out_begin();
	out_obj_open(NULL);
	edpg_mac_format(pr.src_mac, mac);
	out_str("verdict", "verdict: %s", res.verdict == EDPG_V_PASS ? "pass" : "drop");
	out_str("reason", " (%s)", edpg_reason_names[res.reason]);
	/* In audit the program judges a drop and passes the frame. */
	out_bool("audited", res.would ? " [audit: would_drop, the frame %.0spasses]" : NULL, res.would);
	out_text("\n  %s\n", why_text(res.reason));
	out_obj_open("packet");
	out_str("mac", "packet: from %s", mac);
	edpg_addr_format(&pr.src, a, sizeof(a));
	out_str("src", " %s", a);
	edpg_addr_format(&pr.dst, a, sizeof(a));
	out_str("dst", " -> %s", a);
	out_str("proto", " %s", pr.proto == IPPROTO_TCP ? "tcp" : "udp");
	out_uint("port", "/%llu", pr.dport);
	if (pr.vlan >= 0)
		out_int("vlan", " vlan %lld", pr.vlan);
	else
		out_str("vlan", NULL, NULL);
	out_text("\n");
	out_obj_close();

	print_gateway(&p, g, enrolled ? &rec : NULL);
	print_service(&live, &p, &pr, enrolled ? &rec : NULL);
	print_destination(&live, &p, &pr.dst);
	out_obj_close();
	ret = EDPG_EXIT_OK;
out_live:
	edpg_bpf_close(&live);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
