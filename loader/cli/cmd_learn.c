// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate learn [MAC|DEVICE-ID|NAME] [--since DURATION] [--rules]: what the
 * enrolled gateways tried and were refused (or, audited, would have been),
 * by the DNS name they asked for, and with --rules the rules lines that
 * would allow it.
 *
 * The attempts are the data path's edpg_learn records (bounded, written
 * only when an event is granted); the names are the snooped answers the
 * daemon keeps in STATE/dns.seen.  An address no answer explains is listed
 * as such: the gateway has it hard-coded.  learn never edits the rules.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "cli.h"
#include "json.h"
#include "learn.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"
#include "seen.h"

static const char synopsis[] = "learn [MAC|DEVICE-ID|NAME] [--since DURATION] [--rules]";

/* 90, 90s, 15m, 2h, 7d -> seconds; -1 when it is none of those. */
static int64_t parse_duration(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	int64_t unit = 1;

	if (end == s || v < 0)
		return -1;
	if (*end == 'm')
		unit = 60;
	else if (*end == 'h')
		unit = 3600;
	else if (*end == 'd')
		unit = 86400;
	else if (*end && *end != 's')
		return -1;
	if (*end && end[1])
		return -1;
	return v > INT64_MAX / unit ? -1 : v * unit;
}

static const char *wall_str(int64_t t, char *buf, size_t len)
{
	time_t tt = t;
	struct tm tm;

	if (!t)
		return NULL;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	return buf;
}

/*
 * Whether the live policy allows the attempt now (the rules changed since
 * it was refused): the gateway has the port's service and the service
 * reaches the address, exactly or by prefix.  Read from the maps, so it is
 * what the data path would do, not what the rules file says.
 */
static bool allowed_now(const struct edpg_bpf *b, const struct edpg_learned *e)
{
	uint64_t groups, exact = 0, cidr = 0;
	struct edpg_gw rec;
	int sid = -1;

	if (edpg_bpf_gw_get(b, e->mac, &rec) || edpg_bpf_port_service(b, e->proto, e->port, &sid) ||
	    sid < 0 || !(rec.services & (1U << sid)) || edpg_bpf_service_groups(b, sid, &groups) ||
	    edpg_bpf_dst_groups(b, &e->addr, &exact, &cidr))
		return false;
	return (exact | cidr) & groups;
}

/* The records of edpg_learn, named and filtered, into *out. */
static int collect(const struct edpg_bpf *b, const struct edpg_seen *seen, const uint8_t *only,
		   int64_t since, struct edpg_learned **out, size_t *n)
{
	struct edpg_learn_ent *raw = NULL;
	struct edpg_learned *v;
	int64_t now = time(NULL);
	size_t nraw = 0;
	int err;

	*n = 0;
	err = edpg_bpf_learn_list(b, &raw, &nraw);
	if (err)
		return err;
	v = calloc(nraw ? nraw : 1, sizeof(*v));
	if (!v) {
		free(raw);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nraw; i++) {
		const struct edpg_learn_ent *r = &raw[i];
		struct edpg_learned *e = &v[*n];
		const struct edpg_seen_ent *s;

		if (only && memcmp(r->k.mac, only, 6))
			continue;
		e->last = edpg_dp_time_to_wall(r->l.last_seen);
		if (since >= 0 && e->last < now - since)
			continue;
		memcpy(e->mac, r->k.mac, 6);
		e->proto = r->k.proto;
		e->port = r->k.dport;
		e->addr.family = r->k.family == 6 ? AF_INET6 : AF_INET;
		e->addr.plen = r->k.family == 6 ? 128 : 32;
		memcpy(e->addr.addr, r->k.daddr, r->k.family == 6 ? 16 : 4);
		e->first = edpg_dp_time_to_wall(r->l.first_seen);
		e->count = r->l.count;
		e->reason = r->l.reason;
		e->would = r->l.would;
		s = edpg_seen_find(seen, e->mac, &e->addr);
		if (s)
			snprintf(e->name, sizeof(e->name), "%s", s->name);
		e->allowed_now = allowed_now(b, e);
		(*n)++;
	}
	free(raw);
	edpg_learned_sort(v, *n);
	*out = v;
	return 0;
}

static void print_list(const struct edpg_policy *p, const struct edpg_learned *v, size_t n)
{
	const char *group = NULL;

	out_begin();
	out_obj_open(NULL);
	out_arr_open("refused");
	for (size_t i = 0; i < n; i++) {
		const struct edpg_learned *e = &v[i];
		const struct edpg_gateway *g = NULL;
		char mac[EDPG_MAC_STRLEN], devid[EDPG_DEVID_STRLEN], a[EDPG_ADDR_STRLEN], ts[32];

		for (size_t k = 0; k < p->ngateways && !g; k++)
			if (!memcmp(p->gateways[k].mac, e->mac, 6))
				g = &p->gateways[k];
		if (!group || strcmp(group, e->name)) {
			group = e->name;
			out_text(e->name[0] ? "%s\n" : "no DNS answer gave these (hard-coded in the gateway?)\n",
				 e->name);
		}
		edpg_mac_format(e->mac, mac);
		edpg_devid_format(e->mac, devid);
		edpg_addr_format(&e->addr, a, sizeof(a));
		out_obj_open(NULL);
		out_str("name", NULL, e->name[0] ? e->name : NULL);
		out_str("gateway_name", "  %s", g && g->name[0] ? g->name : mac);
		out_str("gateway", g && g->name[0] ? " (%s)" : NULL, mac);
		out_str("device_id", NULL, devid);
		out_str("protocol", " %s", e->proto == IPPROTO_TCP ? "tcp" : "udp");
		out_uint("port", "/%llu", e->port);
		out_str("address", " -> %s", a);
		out_str("reason", "  %s", e->reason < EDPG_R_MAX ? edpg_reason_names[e->reason] : "?");
		out_uint("count", ", %llu attempts", e->count);
		out_str("first", NULL, wall_str(e->first, ts, sizeof(ts)));
		out_str("last", ", last %s", wall_str(e->last, ts, sizeof(ts)));
		out_str("verdict", e->would ? " (%s: audit passed it)" : NULL,
			e->would ? "would_drop" : "drop");
		out_bool("allowed_now", e->allowed_now ? " (allowed now%.0s)" : NULL, e->allowed_now);
		out_text("\n");
		out_obj_close();
	}
	out_arr_close();
	if (!n)
		out_text("no refused attempt recorded%s\n", " (attempts are recorded while attached)");
	out_obj_close();
	out_end();
}

int do_learn(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "rules", no_argument, NULL, 'r' },
		{}
	};
	struct edpg_learned *v = NULL;
	const struct edpg_gateway *g;
	struct edpg_seen seen = {};
	const uint8_t *only = NULL;
	int64_t since = -1;
	bool rules = false;
	struct edpg_policy p;
	struct edpg_bpf b;
	size_t n = 0;
	int c, err, ret = EDPG_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			since = parse_duration(optarg);
			if (since < 0)
				return usage_err(synopsis, "--since '%s': want seconds or 15m, 2h, 7d", optarg);
			break;
		case 'r':
			rules = true;
			break;
		default:
			return usage_err(synopsis, "unknown option");
		}
	}
	if (argc - optind > 1)
		return usage_err(synopsis, "learn takes at most one MAC, Device ID or name");
	if (rules && edpg_json)
		return usage_err(synopsis, "--rules prints rules text, not JSON");
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	if (argc - optind == 1) {
		g = edpg_gw_lookup(&p, argv[optind]);
		if (!g)
			goto out_policy;
		only = g->mac;
	}
	err = edpg_seen_init(&seen);
	if (!err) {
		err = edpg_seen_load(&seen, cli.state_dir);
		if (err == -ENOENT)
			err = 0;
		else if (err)
			edpg_warn("%s/" EDPG_STATE_DNS_SEEN " unreadable (%s): no names shown",
				  cli.state_dir, strerror(-err));
		err = 0;
	}
	if (err) {
		edpg_err(err, "out of memory");
		goto out_policy;
	}
	err = edpg_open_live(&b);
	if (err)
		goto out_seen;
	err = collect(&b, &seen, only, since, &v, &n);
	if (err) {
		edpg_err(err, "cannot read the learn records");
		goto out;
	}
	if (rules) {
		err = edpg_learn_rules(&p, v, n, stdout);
		if (err) {
			edpg_err(err, "cannot write the rules: more services than a rules file holds");
			goto out;
		}
	} else {
		print_list(&p, v, n);
	}
	ret = EDPG_EXIT_OK;
out:
	free(v);
	edpg_bpf_close(&b);
out_seen:
	edpg_seen_free(&seen);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
