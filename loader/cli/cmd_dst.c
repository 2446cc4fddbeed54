// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edpgate dst list: every destination group -> name -> address, with where
 * the address came from (resolved, snooped, static, cache), the TTL and
 * grace left, and when the data path last used it.
 *
 * It reads the address cache, which `edpgate run` rewrites after every
 * change (and attach/apply after every resolution), so it works from any
 * process while the daemon runs, and the live BPF maps for last-used
 * stamps, which are fresher than the cache's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "addrcache.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "names.h"
#include "rules.h"

static const char synopsis[] = "dst list";

static void print_entry(const struct edpg_cache_entry *e, const struct edpg_group *g,
			const struct edpg_bpf *b, int64_t now)
{
	int64_t used = e->last_used, expiry, ttl_left, grace_left;
	uint64_t ns = 0;
	char a[64];

	if (b && !edpg_bpf_dst_last_used(b, &e->addr, &ns) && ns &&
	    edpg_dp_time_to_wall(ns) > used)
		used = edpg_dp_time_to_wall(ns);
	expiry = (e->expires > used ? e->expires : used) + g->grace;
	ttl_left = e->expires > now ? e->expires - now : 0;
	grace_left = ttl_left ? g->grace : expiry > now ? expiry - now : 0;
	edpg_addr_format(&e->addr, a, sizeof(a));
	out_obj_open(NULL);
	out_str("address", "    %-40s", a);
	out_str("source", " %-9s", edpg_dst_source_name(e->source));
	out_uint("ttl", " ttl %llus,", e->ttl);
	out_int("ttl_left", " ttl left %llds,", ttl_left);
	out_int("grace_left", " grace left %llds,", grace_left);
	if (used) {
		out_int("last_used", NULL, used);
		out_text(" last used %llds ago\n", (long long)(now - used));
	} else {
		out_str("last_used", " never used\n", NULL);
	}
	out_obj_close();
}

int do_dst(int argc, char **argv)
{
	struct edpg_cache_entry *v = NULL;
	struct edpg_policy p;
	struct edpg_bpf b;
	char path[PATH_MAX];
	bool have_b;
	size_t n = 0;
	int64_t now = time(NULL);
	int err;

	if (argc != 2 || strcmp(argv[1], "list"))
		return usage_err(synopsis, "dst takes one subcommand: list");
	err = edpg_load_policy(&p, cli.rules, true);
	if (err)
		return EDPG_EXIT_FAIL;
	edpg_state_path(path, sizeof(path), cli.state_dir, EDPG_STATE_ADDRESSES);
	err = edpg_cache_load_entries(path, &v, &n);
	if (err && err != -ENOENT) {
		edpg_err(err, "cannot read the address cache %s", path);
		edpg_policy_free(&p);
		return EDPG_EXIT_FAIL;
	}
	/* Not attached is fine: the cache alone still answers. */
	have_b = !edpg_bpf_open_pinned(&b, cli.pin_dir);

	out_begin();
	out_obj_open(NULL);
	out_arr_open("groups");
	for (size_t g = 0; g < p.ngroups; g++) {
		const struct edpg_group *gr = &p.groups[g];

		out_obj_open(NULL);
		out_str("group", "%s", gr->name);
		out_uint("min_ttl", " (min-ttl %llus,", gr->min_ttl);
		out_uint("grace", " grace %llus,", gr->grace);
		out_uint("max_addrs", " at most %llu addresses per name)\n", gr->max_addrs);
		out_arr_open("names");
		for (size_t m = 0; m < gr->nmembers; m++) {
			const struct edpg_member *mb = &gr->members[m];
			char a[64];

			out_obj_open(NULL);
			if (mb->kind == EDPG_MEMBER_ROUTER) {
				out_str("name", "  %s", "@router");
				out_text(" (the attached interfaces' addresses)\n");
				out_obj_close();
				continue;
			}
			if (mb->kind == EDPG_MEMBER_ADDR) {
				edpg_addr_format(&mb->addr, a, sizeof(a));
				out_str("name", "  %s\n", a);
				out_arr_open("addresses");
				out_obj_open(NULL);
				out_str("address", "    %-40s", a);
				out_str("source", " %s\n", "static");
				out_obj_close();
				out_arr_close();
				out_obj_close();
				continue;
			}
			out_str("name", "  %s\n", mb->name);
			out_arr_open("addresses");
			for (size_t i = 0; i < n; i++) {
				if (strcasecmp(v[i].name, mb->name) ||
				    (v[i].group[0] && strcmp(v[i].group, gr->name)))
					continue;
				print_entry(&v[i], gr, have_b ? &b : NULL, now);
			}
			out_arr_close();
			out_obj_close();
		}
		out_arr_close();
		out_obj_close();
	}
	out_arr_close();
	out_obj_close();
	if (have_b)
		edpg_bpf_close(&b);
	free(v);
	edpg_policy_free(&p);
	return EDPG_EXIT_OK;
}
