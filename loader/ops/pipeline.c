// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pipeline.c - the pipeline every policy-changing command runs:
 * rules data -> struct policy -> names -> compiled desired state (then
 * edpg_sync() for the sinks).  Paths and resolvers are parameters: this
 * is library code, the CLI's options reach it through struct edpg_where.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "compile.h"
#include "log.h"
#include "names.h"
#include "pipeline.h"
#include "rules.h"

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

int edpg_policy_load(struct edpg_policy *p, const char *rules_path, const char *state_dir,
		     bool quiet_warnings)
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
	edpg_state_path(gpath, sizeof(gpath), state_dir, EDPG_STATE_GATEWAYS);
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
int edpg_policy_names(const struct edpg_policy *p, const struct edpg_where *w, bool from_cache,
		      struct edpg_resolved **out, size_t *n)
{
	char cpath[PATH_MAX];

	edpg_state_path(cpath, sizeof(cpath), w->state_dir, EDPG_STATE_ADDRESSES);
	return edpg_names_resolve_once(p, cpath, from_cache, w->resolvers, w->nresolvers, out, n);
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

int edpg_desired_build(const struct edpg_policy *p, const struct edpg_where *w, bool from_cache,
		       struct edpg_desired **out)
{
	struct edpg_resolved *names = NULL;
	struct edpg_ifaces ifs;
	size_t nnames = 0;
	int err;

	err = edpg_ifaces_load(w->state_dir, &ifs);
	if (err)
		return edpg_err(err, "cannot read %s/" EDPG_STATE_INTERFACES, w->state_dir);
	err = edpg_policy_names(p, w, from_cache, &names, &nnames);
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

int edpg_bpf_open_live(struct edpg_bpf *b, const char *pin_dir)
{
	int err = edpg_bpf_open_pinned(b, pin_dir);

	if (err == -ENOENT)
		return edpg_err(err, "edpgate is not loaded (no pins in %s); run `edpgate attach IFACE` first",
				pin_dir);
	if (err)
		return edpg_err(err, "cannot open the pinned edpgate program in %s", pin_dir);
	return 0;
}
