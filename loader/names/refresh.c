// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * refresh.c - the daemon's resolution schedule (see refresh.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refresh.h"

int edpg_refresh_init(struct edpg_refresh *s, size_t nnames, uint64_t now)
{
	edpg_refresh_free(s);
	s->due = calloc(nnames ? nnames : 1, sizeof(*s->due));
	s->retry = calloc(nnames ? nnames : 1, sizeof(*s->retry));
	if (!s->due || !s->retry)
		return -ENOMEM;
	s->n = nnames;
	for (size_t i = 0; i < nnames; i++)
		s->due[i] = now;
	return 0;
}

void edpg_refresh_free(struct edpg_refresh *s)
{
	free(s->due);
	free(s->retry);
	s->due = NULL;
	s->retry = NULL;
	s->n = 0;
}

uint64_t edpg_refresh_next(const struct edpg_refresh *s)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < s->n; i++)
		if (s->due[i] < next)
			next = s->due[i];
	return next;
}

/* Keep what we have (it expires on its own); try again sooner than a
 * TTL, backing off. */
static void failed(struct edpg_refresh *s, size_t i, const char *name, int status, uint64_t now)
{
	s->retry[i] = s->retry[i] ? s->retry[i] * 2 : EDPG_RETRY_MIN;
	if (s->retry[i] > EDPG_RETRY_MAX)
		s->retry[i] = EDPG_RETRY_MAX;
	s->due[i] = now + s->retry[i];
	edpg_warn("%s: %s; keeping its addresses until they expire, next try in %us", name,
		  status == -ENOENT || !status ? "no such name" : strerror(-status), s->retry[i]);
}

/* One name's answer into the table; changes or -errno. */
static int answered(struct edpg_refresh *s, size_t i, struct edpg_names *n, const char *name,
		    const struct edpg_name_result *res, uint64_t now, edpg_names_log_fn log,
		    void *ctx)
{
	uint32_t minttl = UINT32_MAX;
	struct edpg_addr a[64];
	uint32_t t[64];
	size_t na = 0;
	int c;

	for (size_t q = 0; q < res->nanswers && na < 64; q++, na++) {
		a[na] = res->answers[q].addr;
		t[na] = res->answers[q].ttl;
		if (t[na] < minttl)
			minttl = t[na];
	}
	c = edpg_names_answer(n, name, a, t, na, SRC_RESOLVED, now, log, ctx);
	if (c < 0)
		return c;
	s->retry[i] = 0;
	/* Ask again when the answer's TTL runs out. */
	s->due[i] = now + (minttl > s->floor ? minttl : s->floor);
	return c;
}

int edpg_refresh_run(struct edpg_refresh *s, struct edpg_names *n, struct edpg_resolver *rv,
		     uint64_t now, uint64_t (*clock)(void), edpg_names_log_fn log, void *ctx)
{
	struct edpg_name_result *res = NULL;
	const char **names = NULL;
	size_t *idx = NULL, k = 0;
	int err = 0, changes = 0;

	for (size_t i = 0; i < s->n; i++)
		k += s->due[i] <= now;
	if (!k)
		return 0;
	names = calloc(k, sizeof(*names));
	idx = calloc(k, sizeof(*idx));
	res = calloc(k, sizeof(*res));
	if (!names || !idx || !res) {
		err = -ENOMEM;
		goto out;
	}
	k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->due[i] <= now) {
			idx[k] = i;
			names[k++] = n->names[i];
		}
	err = edpg_resolver_resolve(rv, names, k, res);
	if (err) {
		free(res);
		res = NULL;
		goto out;
	}
	now = clock();	/* the lookups took time */
	for (size_t j = 0; j < k && err >= 0; j++) {
		if (res[j].status || !res[j].nanswers) {
			failed(s, idx[j], names[j], res[j].status, now);
			continue;
		}
		err = answered(s, idx[j], n, names[j], &res[j], now, log, ctx);
		changes += err > 0 ? err : 0;
	}
	err = err < 0 ? err : changes;
out:
	if (res)
		edpg_name_results_free(res, k);
	free(names);
	free(idx);
	return err;
}
