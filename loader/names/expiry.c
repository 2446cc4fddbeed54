// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * expiry.c - expiry arithmetic and the table of dynamic destinations.  See
 * expiry.h for the rule.  The table is a flat array: a site has a few
 * dozen names with a handful of addresses each, so a linear scan is both
 * simpler and faster than a hash for the sizes that occur.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "expiry.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

const char *edpg_dst_source_name(enum edpg_dst_source s)
{
	switch (s) {
	case SRC_RESOLVED:
		return "resolved";
	case SRC_SNOOPED:
		return "snooped";
	case SRC_STATIC:
		return "static";
	case SRC_CACHE:
		return "cache";
	}
	return "?";
}

void edpg_dst_table_init(struct edpg_dst_table *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t g = 0; g < EDPG_MAX_GROUPS; g++) {
		t->params[g].min_ttl = EDPG_DEF_MIN_TTL;
		t->params[g].grace = EDPG_DEF_GRACE;
		t->params[g].max_addrs = EDPG_DEF_MAX_ADDRS;
	}
}

void edpg_dst_table_free(struct edpg_dst_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

static bool group_ok(int group)
{
	return group >= 0 && group < EDPG_MAX_GROUPS;
}

int edpg_dst_set_params(struct edpg_dst_table *t, int group, const struct edpg_dst_params *p)
{
	if (!group_ok(group))
		return -EINVAL;
	t->params[group] = *p;
	return 0;
}

uint64_t edpg_dst_expiry(const struct edpg_dst_entry *e, const struct edpg_dst_params *p)
{
	uint64_t base = e->expires_ttl;

	if (e->source == SRC_STATIC)
		return UINT64_MAX;
	/* last_used == 0 means never: with a monotonic clock "now" can be
	 * smaller than the grace shortly after boot, and 0 + grace would
	 * then keep an address nobody ever used. */
	if (e->last_used > base)
		base = e->last_used;
	return sat_add(base, p->grace);
}

bool edpg_dst_alive(const struct edpg_dst_entry *e, const struct edpg_dst_params *p,
		    uint64_t now)
{
	return now < edpg_dst_expiry(e, p);
}

bool edpg_dst_in_use(const struct edpg_dst_entry *e, const struct edpg_dst_params *p,
		     uint64_t now)
{
	return e->last_used && now < sat_add(e->last_used, p->grace);
}

static bool same_addr(const struct edpg_addr *a, const struct edpg_addr *b)
{
	size_t l = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && !memcmp(a->addr, b->addr, l);
}

struct edpg_dst_entry *edpg_dst_find(struct edpg_dst_table *t, int group, const char *name,
				     const struct edpg_addr *addr)
{
	for (size_t i = 0; i < t->n; i++) {
		struct edpg_dst_entry *e = &t->v[i];

		if (e->group == group && same_addr(&e->addr, addr) && !strcasecmp(e->name, name))
			return e;
	}
	return NULL;
}

int edpg_dst_add(struct edpg_dst_table *t, int group, const char *name,
		 const struct edpg_addr *addr, enum edpg_dst_source source, uint32_t ttl,
		 uint64_t now)
{
	const struct edpg_dst_params *p;
	struct edpg_dst_entry *e;
	uint64_t exp;

	if (!group_ok(group) || !name || strlen(name) >= EDPG_DNS_MAX)
		return -EINVAL;
	p = &t->params[group];
	exp = sat_add(now, ttl > p->min_ttl ? ttl : p->min_ttl);

	e = edpg_dst_find(t, group, name, addr);
	if (e) {
		e->seen = now;
		e->ttl = ttl;
		/* A cached or snooped answer can carry less of its TTL than
		 * the one we already hold: extend, never shorten. */
		if (exp > e->expires_ttl)
			e->expires_ttl = exp;
		if (e->source != SRC_STATIC)
			e->source = source;
		return 0;
	}

	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct edpg_dst_entry *v = realloc(t->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = ncap;
	}
	e = &t->v[t->n++];
	memset(e, 0, sizeof(*e));
	e->addr = *addr;
	strcpy(e->name, name);
	e->group = group;
	e->source = source;
	e->seen = now;
	e->ttl = ttl;
	e->expires_ttl = exp;
	return 1;
}

size_t edpg_dst_used(struct edpg_dst_table *t, const struct edpg_addr *addr, uint64_t when)
{
	size_t cnt = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (!same_addr(&t->v[i].addr, addr))
			continue;
		if (when > t->v[i].last_used)
			t->v[i].last_used = when;
		cnt++;
	}
	return cnt;
}

/*
 * Move the entries marked in @kill to a new array in *removed and compact
 * the table, keeping the order of the rest.  The array is allocated before
 * anything moves, so -ENOMEM leaves the table untouched.
 */
static int take(struct edpg_dst_table *t, const bool *kill, size_t nkill,
		struct edpg_dst_entry **removed, size_t *nremoved)
{
	struct edpg_dst_entry *out = NULL;
	size_t j = 0, k = 0;

	*removed = NULL;
	*nremoved = 0;
	if (!nkill)
		return 0;
	out = malloc(nkill * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		if (kill[i])
			out[k++] = t->v[i];
		else
			t->v[j++] = t->v[i];
	}
	t->n = j;
	*removed = out;
	*nremoved = k;
	return 0;
}

int edpg_dst_expire(struct edpg_dst_table *t, uint64_t now,
		    struct edpg_dst_entry **removed, size_t *nremoved)
{
	size_t nkill = 0;
	bool *kill;
	int err;

	*removed = NULL;
	*nremoved = 0;
	if (!t->n)
		return 0;
	kill = calloc(t->n, sizeof(*kill));
	if (!kill)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		const struct edpg_dst_entry *e = &t->v[i];

		if (group_ok(e->group) && !edpg_dst_alive(e, &t->params[e->group], now)) {
			kill[i] = true;
			nkill++;
		}
	}
	err = take(t, kill, nkill, removed, nremoved);
	free(kill);
	return err;
}

/* Whether @a should be evicted before @b: unused first, then the one
 * seen longest ago; among used ones, the least recently used. */
static bool evict_before(const struct edpg_dst_entry *a, bool a_used,
			 const struct edpg_dst_entry *b, bool b_used)
{
	if (a_used != b_used)
		return !a_used;
	if (a_used && a->last_used != b->last_used)
		return a->last_used < b->last_used;
	return a->seen < b->seen;
}

int edpg_dst_evict(struct edpg_dst_table *t, int group, const char *name, uint64_t now,
		   struct edpg_dst_entry **removed, size_t *nremoved)
{
	const struct edpg_dst_params *p;
	size_t count = 0, nkill = 0;
	bool *kill;
	int err;

	*removed = NULL;
	*nremoved = 0;
	if (!group_ok(group) || !name)
		return -EINVAL;
	p = &t->params[group];
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].group == group && t->v[i].source != SRC_STATIC &&
		    !strcasecmp(t->v[i].name, name))
			count++;
	if (!p->max_addrs || count <= p->max_addrs)
		return 0;

	kill = calloc(t->n, sizeof(*kill));
	if (!kill)
		return -ENOMEM;
	/* A name has at most a few dozen entries: pick the victims one by one. */
	while (count - nkill > p->max_addrs) {
		size_t best = t->n;
		bool best_used = false;

		for (size_t i = 0; i < t->n; i++) {
			const struct edpg_dst_entry *e = &t->v[i];
			bool used;

			if (kill[i] || e->group != group || e->source == SRC_STATIC ||
			    strcasecmp(e->name, name))
				continue;
			used = edpg_dst_in_use(e, p, now);
			if (best == t->n || evict_before(e, used, &t->v[best], best_used)) {
				best = i;
				best_used = used;
			}
		}
		kill[best] = true;
		nkill++;
	}
	err = take(t, kill, nkill, removed, nremoved);
	free(kill);
	return err;
}

uint64_t edpg_dst_next_expiry(const struct edpg_dst_table *t)
{
	uint64_t min = UINT64_MAX;

	for (size_t i = 0; i < t->n; i++) {
		const struct edpg_dst_entry *e = &t->v[i];
		uint64_t x;

		if (!group_ok(e->group))
			continue;
		x = edpg_dst_expiry(e, &t->params[e->group]);
		if (x < min)
			min = x;
	}
	return min;
}
