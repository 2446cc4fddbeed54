// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * oneshot.c - attach's and apply's resolution: the table of names.c
 * filled from the cache and one round of the resolver.  Apart from
 * names.c so the table logic links (and fuzzes) without c-ares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "names.h"
#include "resolver.h"

/* ---- one-shot resolution (attach, apply) -------------------------------- */

int edpg_names_resolve_once(const struct edpg_policy *p, const char *cache_path, bool from_cache,
			    const char *const *servers, size_t nservers,
			    struct edpg_resolved **out, size_t *nout)
{
	struct edpg_name_result *res = NULL;
	struct edpg_resolver *rv = NULL;
	struct edpg_names n;
	uint64_t now = time(NULL);
	int err;

	err = edpg_names_init(&n, p, 0);
	if (err)
		return err;
	/* The cache first: whatever happens to DNS below, yesterday's
	 * addresses are there. */
	err = edpg_names_load_cache(&n, cache_path, now);
	if (err && err != -ENOENT)
		edpg_warn("address cache %s unreadable: %s", cache_path, strerror(-err));
	err = 0;
	if (from_cache || !n.nnames)
		goto done;

	res = calloc(n.nnames, sizeof(*res));
	if (!res) {
		err = -ENOMEM;
		goto out;
	}
	err = edpg_resolver_new(&rv, servers, nservers, 0);
	if (err) {
		err = edpg_err(err, "cannot set up the resolver");
		goto out;
	}
	/* All names in one round trip: c-ares runs them concurrently. */
	err = edpg_resolver_resolve(rv, n.names, n.nnames, res);
	if (err) {
		err = edpg_err(err, "name resolution failed");
		goto out;
	}
	for (size_t i = 0; i < n.nnames && !err; i++) {
		struct edpg_addr *a;
		uint32_t *ttls;

		if (res[i].status || !res[i].nanswers) {
			size_t kept = 0;

			for (size_t k = 0; k < n.t.n; k++)
				kept += edpg_names_index(&n, n.t.v[k].name) == (int)i;
			edpg_warn("%s: %s; %s", n.names[i],
				  res[i].status == -ENOENT || !res[i].status ? "no such name" :
				  strerror(-res[i].status),
				  kept ? "keeping its cached addresses" :
					 "it allows nothing until it resolves");
			continue;
		}
		a = calloc(res[i].nanswers, sizeof(*a));
		ttls = calloc(res[i].nanswers, sizeof(*ttls));
		if (!a || !ttls) {
			err = -ENOMEM;
		} else {
			for (size_t k = 0; k < res[i].nanswers; k++) {
				a[k] = res[i].answers[k].addr;
				ttls[k] = res[i].answers[k].ttl;
			}
			err = edpg_names_answer(&n, n.names[i], a, ttls, res[i].nanswers,
						SRC_RESOLVED, now, NULL, NULL);
			err = err < 0 ? err : 0;
		}
		free(a);
		free(ttls);
	}
	if (err)
		goto out;
	/* Cached addresses of names that answered go once their expiry has
	 * run out; those still within it stay (an answer that left them out
	 * does not cut a flow the address still carries). */
	err = edpg_names_expire(&n, now, NULL, NULL);
	if (err < 0)
		goto out;
	err = edpg_names_save_cache(&n, cache_path);
	if (err) {
		err = edpg_err(err, "cannot write the address cache %s", cache_path);
		goto out;
	}
done:
	err = edpg_names_resolved(&n, out, nout);
out:
	if (res)
		edpg_name_results_free(res, n.nnames);
	edpg_resolver_free(rv);
	edpg_names_free(&n);
	return err;
}

