// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fleet.c - the CLI's side of the shared store (store/): the
 * configuration from edpgate.conf and the flags, and the two hooks of
 * enrolment.  Without a `store` line none of this does anything: the
 * gateways file of the state directory is the truth, as it always was.
 *
 * With a store, the site's gateways in etcd are the truth and the local
 * gateways file is the router's last-known-good copy of them:
 *   cli_store_pull()    before an enrolment loads the policy: the site's
 *                       list from etcd becomes the local file, so the
 *                       change is made to what the site holds;
 *   cli_store_commit()  the new list to etcd (compare-and-swap on the
 *                       revision pulled) before the local file and the
 *                       sinks, the same "durable first" order as before:
 *                       a refused or failed write changes nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "etcd.h"
#include "fleet.h"
#include "json.h"
#include "log.h"
#include "site.h"
#include "state.h"

static struct {
	struct edpg_etcd *e;
	struct edpg_site_doc base;	/* what was pulled: the CAS base */
	bool pulled;
	bool resynced;			/* the pull changed the local file */
} st;

int cli_store_configure(const char *conf, bool conf_given, const char *words, const char *site)
{
	struct edpg_store_conf *c = &cli.store;
	char *text = NULL;
	size_t len;
	int err;

	err = edpg_read_file(conf, &text, &len);
	if (err == -ENOENT && !conf_given)
		err = 0;	/* no configuration file: no store */
	else if (err)
		return edpg_err(err, "cannot read the configuration file %s", conf);
	if (text)
		err = edpg_store_conf_parse(c, conf, text);
	free(text);
	if (!err && words) {
		char line[4096];

		snprintf(line, sizeof(line), "store %s", words);
		err = edpg_store_conf_parse(c, "--store", line);
	}
	if (err)
		return err;
	if (site) {
		if (!c->configured)
			return edpg_err(-EINVAL, "--site %s: no store is configured (a `store` line in %s, or --store)",
					site, conf);
		if (strlen(site) >= sizeof(c->site) || strchr(site, '/') || !*site)
			return edpg_err(-EINVAL, "--site '%s' is no site name", site);
		strcpy(c->site, site);
	}
	return edpg_store_conf_finish(c, conf);
}

void cli_store_rules(void)
{
	static char path[PATH_MAX];

	cli.local_rules = cli.rules;
	if (!cli.store.configured)
		return;
	edpg_state_path(path, sizeof(path), cli.state_dir, EDPG_STATE_STORE_RULES);
	if (!access(path, R_OK))
		cli.rules = path;
}

static int store_open(void)
{
	int err;

	if (st.e)
		return 0;
	err = edpg_etcd_open(&st.e, &cli.store);
	if (err)
		return edpg_err(err, "cannot set up the etcd client");
	return 0;
}

int cli_store_pull(void)
{
	char path[PATH_MAX], *local = NULL;
	size_t llen = 0;
	int err;

	if (!cli.store.configured)
		return 0;
	err = store_open();
	if (err)
		return err;
	err = edpg_site_gateways_get(st.e, &cli.store, 0, &st.base);
	if (err)
		return edpg_err(err, "cannot read the gateways of site %s from etcd: %s; nothing was changed",
				cli.store.site, edpg_etcd_error(st.e));
	st.pulled = true;
	edpg_gateways_path(path, sizeof(path));
	err = edpg_read_file(path, &local, &llen);
	if (err && err != -ENOENT)
		return edpg_err(err, "cannot read %s", path);
	if (!local || llen != st.base.len || memcmp(local, st.base.text, llen)) {
		/* This router was behind (its daemon not running?): the
		 * store's list, then a full push of the change. */
		err = edpg_write_atomic(path, st.base.text, st.base.len);
		if (err)
			edpg_err(err, "cannot write %s; %s", path, edpg_write_hint(err));
		st.resynced = true;
	}
	free(local);
	return err;
}

bool cli_store_resynced(void)
{
	return st.resynced;
}

int cli_store_commit(const char *text, size_t len)
{
	int64_t rev = 0;
	int err;

	if (!cli.store.configured)
		return 0;
	if (!st.pulled)
		return edpg_err(-EINVAL, "internal: an enrolment without the store's list");
	err = edpg_site_gateways_put(st.e, &cli.store, &st.base, text, len, &rev);
	if (err == -ESTALE)
		return edpg_err(err, "the gateways of site %s changed in etcd while this command ran; nothing was changed, run it again",
				cli.store.site);
	if (err == -EACCES)
		return edpg_err(err, "etcd refused to change the gateways of site %s with these credentials (%s); nothing was changed",
				cli.store.site, edpg_etcd_error(st.e));
	if (err)
		return edpg_err(err, "cannot write the gateways of site %s to etcd: %s; nothing was changed unless etcd says otherwise (`edpgate gateway list`)",
				cli.store.site, edpg_etcd_error(st.e));
	edpg_debug("site %s: gateways at revision %lld", cli.store.site, (long long)rev);
	return 0;
}

void cli_store_close(void)
{
	edpg_site_doc_free(&st.base);
	edpg_etcd_close(st.e);
	st.e = NULL;
}

void cli_store_print_status(void)
{
	struct edpg_fleet_status st;

	if (edpg_fleet_status_read(cli.state_dir, &st)) {
		if (cli.store.configured)
			out_str("store", "store: %s (`edpgate run` has not reported yet)\n", "configured");
		return;
	}
	out_obj_open("store");
	out_str("site", "store: site %s", st.site);
	out_str("router", ", router %s: ", st.router);
	out_str("state", "%s", st.connected ? "connected" : "unreachable");
	out_int("since", " since %lld", st.since);
	out_int("revision", ", revision %lld", st.revision);
	out_str("generation", ", gateways generation %s", st.gen);
	out_uint("resyncs", ", %llu full reads", st.resyncs);
	out_str("error", st.error[0] ? " (%s)" : NULL, st.error[0] ? st.error : NULL);
	out_text("\n");
	out_obj_close();
}

/* The store's gauges for `stats --format prometheus` (none without a store). */
void cli_store_print_prometheus(void)
{
	struct edpg_fleet_status st;
	const char *site = cli.store.site, *router = cli.store.router;

	if (!cli.store.configured)
		return;
	if (edpg_fleet_status_read(cli.state_dir, &st))
		st = (struct edpg_fleet_status){};
	/* Names are [A-Za-z0-9._-] (storeconf.c): no escaping needed. */
	printf("# HELP edpgate_store_up 1 if `edpgate run` reaches etcd, 0 if not (or not running).\n"
	       "# TYPE edpgate_store_up gauge\n"
	       "edpgate_store_up{site=\"%s\",router=\"%s\"} %d\n", site, router, st.connected);
	printf("# HELP edpgate_store_revision The etcd revision of the site the router has applied.\n"
	       "# TYPE edpgate_store_revision gauge\n"
	       "edpgate_store_revision{site=\"%s\",router=\"%s\"} %lld\n", site, router,
	       (long long)st.revision);
	printf("# HELP edpgate_store_resyncs_total Full reads of the site (start, reconnect, compaction).\n"
	       "# TYPE edpgate_store_resyncs_total counter\n"
	       "edpgate_store_resyncs_total{site=\"%s\",router=\"%s\"} %llu\n", site, router,
	       (unsigned long long)st.resyncs);
	printf("# HELP edpgate_gateways_generation_info The site's gateways generation the router enforces.\n"
	       "# TYPE edpgate_gateways_generation_info gauge\n"
	       "edpgate_gateways_generation_info{site=\"%s\",router=\"%s\",generation=\"%s\"} 1\n",
	       site, router, st.gen[0] ? st.gen : "none");
}
