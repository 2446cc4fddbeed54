// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctx.c - the pipeline every policy-changing command runs:
 * rules data -> struct policy -> names -> compiled desired state -> sinks.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "compile.h"
#include "log.h"
#include "nft.h"
#include "names.h"
#include "rules.h"

void edpg_gateways_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/gateways", cli.state_dir);
}

static void cache_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/addresses", cli.state_dir);
}

static void print_diags(const struct edpg_diags *d, bool quiet_warnings)
{
	char line[1024];

	for (size_t i = 0; i < d->n; i++) {
		if (quiet_warnings && !d->v[i].severity)
			continue;
		edpg_diags_format(&d->v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
}

int edpg_load_policy(struct edpg_policy *p, const char *rules_path, bool quiet_warnings)
{
	struct edpg_diags d = {};
	char gpath[PATH_MAX];
	char *text = NULL;
	size_t len;
	int err;

	memset(p, 0, sizeof(*p));
	err = edpg_read_file(rules_path, &text, &len);
	if (err)
		return edpg_err(err, "cannot read rules file %s (install one: `install -D rules/devicecloud.rules %s`, or pass --rules FILE)",
				rules_path, rules_path);
	err = edpg_rules_parse(p, rules_path, text, len, &d);
	free(text);
	text = NULL;
	if (err)
		goto out;
	edpg_gateways_path(gpath, sizeof(gpath));
	err = edpg_read_file(gpath, &text, &len);
	if (err == -ENOENT) {
		err = 0;	/* no gateway enrolled yet */
		goto out;
	}
	if (err) {
		err = edpg_err(err, "cannot read gateways file %s", gpath);
		goto out;
	}
	err = edpg_gateways_parse(p, gpath, text, len, &d);
out:
	print_diags(&d, quiet_warnings);
	if (err == -EINVAL)
		edpg_err(0, "%zu error(s) in the rules data; nothing was changed", d.nerrors);
	else if (err && err != -ENOENT && d.nerrors == 0)
		edpg_err(err, "cannot parse the rules data");
	edpg_diags_free(&d);
	free(text);
	if (err)
		edpg_policy_free(p);
	return err;
}

void edpg_resolved_free(struct edpg_resolved *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)r[i].name);
		free(r[i].addrs);
	}
	free(r);
}

/*
 * The table of names.c does the work: cache first, one resolution, a name
 * that fails keeps its cached addresses, an address within its expiry is
 * never dropped, and the result becomes the cache (with TTLs and sources).
 */
int edpg_resolve_policy(const struct edpg_policy *p, bool from_cache,
			struct edpg_resolved **out, size_t *n)
{
	char cpath[PATH_MAX];

	cache_path(cpath, sizeof(cpath));
	return edpg_names_resolve_once(p, cpath, from_cache, cli.resolvers, cli.nresolvers,
				       out, n);
}

int edpg_router_addrs(const struct edpg_ifaces *ifs, struct edpg_addr **out, size_t *n)
{
	struct ifaddrs *ifa = NULL, *i;
	struct edpg_addr *v = NULL, *t;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		struct edpg_addr a = {};
		bool ours = false;

		if (!i->ifa_addr)
			continue;
		for (size_t k = 0; k < ifs->n && !ours; k++) {
			/* "lan0" also owns its VLAN sub-interfaces "lan0.42". */
			size_t l = strlen(ifs->v[k].name);

			ours = !strncmp(i->ifa_name, ifs->v[k].name, l) &&
			       (i->ifa_name[l] == '\0' || i->ifa_name[l] == '.');
		}
		if (!ours)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a.family = AF_INET;
			a.plen = 32;
			memcpy(a.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			a.family = AF_INET6;
			a.plen = 128;
			memcpy(a.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		t = realloc(v, (cnt + 1) * sizeof(*v));
		if (!t) {
			free(v);
			freeifaddrs(ifa);
			return -ENOMEM;
		}
		v = t;
		v[cnt++] = a;
	}
	freeifaddrs(ifa);
	*out = v;
	*n = cnt;
	return 0;
}

int edpg_compile_for(const struct edpg_policy *p, const struct edpg_ifaces *ifs,
		     const struct edpg_resolved *names, size_t nnames, struct edpg_desired **out)
{
	struct edpg_addr *router = NULL;
	struct edpg_desired *d;
	size_t nrouter = 0;
	int err;

	*out = NULL;
	err = edpg_router_addrs(ifs, &router, &nrouter);
	if (err)
		return err;
	d = calloc(1, sizeof(*d));
	if (!d) {
		err = -ENOMEM;
		goto out;
	}
	err = edpg_compile(p, names, nnames, router, nrouter, d);
	if (err) {
		free(d);
		goto out;
	}
	*out = d;
out:
	free(router);
	return err;
}

int edpg_build_desired(const struct edpg_policy *p, bool from_cache, struct edpg_desired **out)
{
	struct edpg_resolved *names = NULL;
	struct edpg_ifaces ifs;
	size_t nnames = 0;
	int err;

	err = edpg_ifaces_load(cli.state_dir, &ifs);
	if (err)
		return edpg_err(err, "cannot read %s/interfaces", cli.state_dir);
	err = edpg_resolve_policy(p, from_cache, &names, &nnames);
	if (err)
		return err;
	err = edpg_compile_for(p, &ifs, names, nnames, out);
	if (err)
		edpg_err(err, "cannot compile the policy");
	edpg_resolved_free(names, nnames);
	return err;
}

void edpg_desired_put(struct edpg_desired *d)
{
	if (!d)
		return;
	edpg_desired_free(d);
	free(d);
}

int edpg_open_live(struct edpg_bpf *b)
{
	int err = edpg_bpf_open_pinned(b, cli.pin_dir);

	if (err == -ENOENT)
		return edpg_err(err, "edpgate is not loaded (no pins in %s); run `edpgate attach IFACE` first",
				cli.pin_dir);
	if (err)
		return edpg_err(err, "cannot open the pinned edpgate program in %s", cli.pin_dir);
	return 0;
}

/* nft options from the attached interfaces. */
int edpg_nft_opts_from(const struct edpg_ifaces *ifs, struct edpg_nft_opts *o, const char **names)
{
	o->enforce = EDPG_ENFORCE_BOTH;
	for (size_t i = 0; i < ifs->n; i++) {
		names[i] = ifs->v[i].name;
		if (!strcmp(ifs->v[i].enforce, "xdp"))
			o->enforce = EDPG_ENFORCE_XDP;
		else if (!strcmp(ifs->v[i].enforce, "nft"))
			o->enforce = EDPG_ENFORCE_NFT;
	}
	o->ifaces = names;
	o->nifaces = ifs->n;
	return 0;
}

int edpg_push_full(struct edpg_bpf *b, const struct edpg_desired *d, const struct edpg_ifaces *ifs)
{
	const char *names[EDPG_MAX_IFACES];
	struct edpg_nft_batch *batch = NULL;
	struct edpg_nft_opts o = {};
	char msg[512] = "";
	int err;

	err = edpg_bpf_room(b, d->ngws);
	if (err)
		return err;
	edpg_nft_opts_from(ifs, &o, names);
	/*
	 * nft first: its transaction is all-or-nothing, so if the kernel
	 * refuses it the BPF maps have not been touched either.
	 */
	err = edpg_nft_build_full(d, &o, &batch);
	if (err)
		return edpg_err(err, "cannot build the nftables batch");
	err = edpg_nft_send(batch, msg, sizeof(msg));
	edpg_nft_batch_free(batch);
	if (err)
		return edpg_err(err, "nftables refused the update (%s); nothing was changed", msg);
	err = edpg_bpf_apply(b, d);
	if (err)
		return edpg_err(err, "the BPF maps were not updated; nftables already has the new policy, run `edpgate apply` again");
	return 0;
}
