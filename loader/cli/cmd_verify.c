// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate verify: read the pinned BPF maps and the nft table back and
 * compare both with the desired state compiled from the rules data (with
 * the addresses of the last apply, from the address cache, so a DNS
 * rotation since then is not reported as drift), and the recorded
 * attachment with the kernel's (health.c: pins, links, interfaces).  Exit
 * 1 on any difference.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "compile.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "nft.h"
#include "rules.h"

static const char synopsis[] = "verify";

struct diffs {
	size_t n;
};

static void diff(struct diffs *d, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void diff(struct diffs *d, const char *where, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_obj_open(NULL);
	out_str("where", "%s: ", where);
	out_str("what", "%s\n", msg);
	out_obj_close();
	d->n++;
}

static const struct edpg_want_gw *find_gw(const struct edpg_desired *s, const uint8_t mac[6])
{
	for (size_t i = 0; i < s->ngws; i++)
		if (!memcmp(s->gws[i].mac, mac, 6))
			return &s->gws[i];
	return NULL;
}

static const struct edpg_want_dst *find_dst(const struct edpg_desired *s, const struct edpg_addr *a)
{
	for (size_t i = 0; i < s->ndsts; i++)
		if (s->dsts[i].addr.family == a->family && s->dsts[i].addr.plen == a->plen &&
		    !memcmp(s->dsts[i].addr.addr, a->addr, a->family == AF_INET ? 4 : 16))
			return &s->dsts[i];
	return NULL;
}

static bool gw_same(const struct edpg_gw *a, const struct edpg_gw *b)
{
	return a->services == b->services && a->flags == b->flags &&
	       (!(a->flags & EDPG_GW_BIND_VLAN) || a->vlan == b->vlan) &&
	       (!(a->flags & EDPG_GW_BIND_V4) || !memcmp(a->ip4, b->ip4, 4)) &&
	       (!(a->flags & EDPG_GW_BIND_V6) || !memcmp(a->ip6, b->ip6, 16));
}

static void diff_bpf(struct diffs *df, const struct edpg_desired *want,
		     const struct edpg_desired *live, const struct edpg_ifaces *ifs)
{
	uint32_t want_flags = edpg_bpf_flags_for(want, ifs);
	char mac[18], a[64];

	if (want_flags != live->flags)
		diff(df, "bpf", "actions differ: flags %#x, want %#x", live->flags, want_flags);
	for (size_t i = 0; i < want->ngws; i++) {
		const struct edpg_want_gw *l = find_gw(live, want->gws[i].mac);

		edpg_mac_format(want->gws[i].mac, mac);
		if (!l)
			diff(df, "bpf", "missing gateway %s", mac);
		else if (!gw_same(&l->rec, &want->gws[i].rec))
			diff(df, "bpf", "gateway %s differs (services %#x flags %#x, want %#x %#x)",
			     mac, l->rec.services, l->rec.flags, want->gws[i].rec.services,
			     want->gws[i].rec.flags);
	}
	for (size_t i = 0; i < live->ngws; i++) {
		if (find_gw(want, live->gws[i].mac))
			continue;
		edpg_mac_format(live->gws[i].mac, mac);
		diff(df, "bpf", "extra gateway %s", mac);
	}
	for (int s = 0; s < EDPG_MAX_SERVICES; s++) {
		uint64_t w = s < want->nservices ? want->svc_groups[s] : 0;

		if (live->svc_groups[s] != w)
			diff(df, "bpf", "service %d reaches groups %#llx, want %#llx", s,
			     (unsigned long long)live->svc_groups[s], (unsigned long long)w);
	}
	for (int p = 0; p < 2; p++)
		for (int port = 0; port < EDPG_NR_PORTS; port++)
			if (live->ports[p][port] != want->ports[p][port])
				diff(df, "bpf", "%s port %d maps to service %d, want %d",
				     p == EDPG_PROTO_TCP ? "tcp" : "udp", port,
				     live->ports[p][port] - 1, want->ports[p][port] - 1);
	for (size_t i = 0; i < want->ndsts; i++) {
		const struct edpg_want_dst *l = find_dst(live, &want->dsts[i].addr);

		edpg_addr_format(&want->dsts[i].addr, a, sizeof(a));
		if (!l)
			diff(df, "bpf", "missing destination %s", a);
		else if (l->groups != want->dsts[i].groups)
			diff(df, "bpf", "destination %s in groups %#llx, want %#llx", a,
			     (unsigned long long)l->groups, (unsigned long long)want->dsts[i].groups);
	}
	for (size_t i = 0; i < live->ndsts; i++) {
		if (find_dst(want, &live->dsts[i].addr))
			continue;
		edpg_addr_format(&live->dsts[i].addr, a, sizeof(a));
		diff(df, "bpf", "extra destination %s", a);
	}
}

int do_verify(int argc, char **argv)
{
	struct edpg_desired *want = NULL, *live = NULL;
	const char *names[EDPG_MAX_IFACES];
	struct edpg_nft_opts o = {};
	struct edpg_ifaces ifs;
	struct edpg_health h;
	struct edpg_policy p;
	struct edpg_bpf b;
	struct diffs df = {};
	bool readable;
	char **nd = NULL;
	size_t nnd = 0;
	char vmsg[320];
	int err, ret = EDPG_EXIT_FAIL;

	(void)argv;
	if (argc != 1)
		return usage_err(synopsis, "verify takes no arguments");
	if (cli_lock())
		return EDPG_EXIT_FAIL;
	if (edpg_load_policy(&p, cli.rules, true))
		return EDPG_EXIT_FAIL;
	err = edpg_ifaces_load(cli.state_dir, &ifs);
	if (err) {
		edpg_err(err, "cannot read %s/" EDPG_STATE_INTERFACES, cli.state_dir);
		goto out_policy;
	}
	edpg_health_check(cli.pin_dir, &ifs, &h);
	/* With pins missing the maps cannot all be opened: report that
	 * (and the table) instead of stopping at the first missing pin. */
	err = edpg_bpf_open_pinned(&b, cli.pin_dir);
	if (err && !(err == -ENOENT && h.n)) {
		err = edpg_open_live(&b);
		if (err)
			goto out_policy;
	}
	readable = !err;
	err = edpg_build_desired(&p, true, &want);
	if (err)
		goto out;
	live = calloc(1, sizeof(*live));
	if (!live)
		goto out;
	err = readable ? edpg_bpf_read_live(&b, live) : 0;
	if (err) {
		edpg_err(err, "cannot read the BPF maps back");
		goto out;
	}
	edpg_nft_opts_from(&ifs, &o, names);
	if (ifs.n) {
		err = edpg_nft_verify(want, &o, &nd, &nnd);
		if (err) {
			edpg_err(err, "cannot read table inet edpgate back");
			goto out;
		}
	}
	out_begin();
	out_obj_open(NULL);
	out_arr_open("differences");
	for (size_t i = 0; i < h.n; i++) {
		out_obj_open(NULL);
		out_str("where", "%s: ", h.p[i].where);
		out_str("code", NULL, h.p[i].code);
		out_str("what", "%s\n", h.p[i].what);
		out_obj_close();
		df.n++;
	}
	if (readable)
		diff_bpf(&df, want, live, &ifs);
	else
		diff(&df, "bpf", "the maps cannot be read back (pins missing): not compared");
	for (size_t i = 0; i < nnd; i++)
		diff(&df, "nft", "%s", nd[i]);
	out_arr_close();
	out_bool("in_sync", df.n ? NULL : "in sync: BPF maps and nftables match the rules data\n",
		 df.n == 0);
	/* Not a difference (the table is as built), but not enforced either. */
	out_arr_open("notes");
	if (ifs.n && edpg_nft_vlan_unchecked(want, &o, vmsg, sizeof(vmsg)))
		out_str(NULL, "note: %s\n", vmsg);
	out_arr_close();
	out_uint("gateways", NULL, want->ngws);
	out_uint("destinations", NULL, want->ndsts);
	if (h.n)
		out_text("%zu difference(s); `edpgate attach IFACE` restores what is missing, `edpgate apply` rewrites the maps and the table from the rules data\n",
			 df.n);
	else if (df.n)
		out_text("%zu difference(s); `edpgate apply` rewrites both from the rules data\n", df.n);
	out_obj_close();
	ret = df.n ? EDPG_EXIT_FAIL : EDPG_EXIT_OK;
out:
	edpg_nft_diffs_free(nd, nnd);
	edpg_desired_put(want);
	edpg_desired_put(live);
	edpg_bpf_close(&b);
out_policy:
	edpg_policy_free(&p);
	return ret;
}
