// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * names.c - the live destination table.
 *
 * Everything that decides (expiry, refresh, cap) is expiry.c; this file
 * ties it to the policy's groups, the snooped answers (dnsmsg.c), the
 * cache file (addrcache.c).  It touches no sink: a change reaches them as
 * two compiled desired states handed to edpg_sync() (sync.c), so the
 * daemon's pushes and a full `apply` can never disagree about what a
 * table means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "addrcache.h"
#include "compile.h"
#include "dnsmsg.h"
#include "log.h"
#include "names.h"

/* strcasecmp with a trailing dot on either side ignored. */
static bool name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && !strncasecmp(a, b, la);
}

uint64_t edpg_names_groups_of(const struct edpg_policy *p, const char *name)
{
	uint64_t g = 0;

	for (size_t i = 0; i < p->ngroups; i++)
		for (size_t m = 0; m < p->groups[i].nmembers; m++)
			if (p->groups[i].members[m].kind == EDPG_MEMBER_NAME &&
			    name_eq(p->groups[i].members[m].name, name))
				g |= 1ULL << i;
	return g;
}

int edpg_names_index(const struct edpg_names *n, const char *name)
{
	for (size_t i = 0; i < n->nnames; i++)
		if (name_eq(n->names[i], name))
			return i;
	return -ENOENT;
}

int edpg_names_init(struct edpg_names *n, const struct edpg_policy *p, int64_t wall_off)
{
	memset(n, 0, sizeof(*n));
	n->p = p;
	n->wall_off = wall_off;
	edpg_dst_table_init(&n->t);
	for (size_t g = 0; g < p->ngroups; g++) {
		const struct edpg_group *gr = &p->groups[g];
		struct edpg_dst_params pa = {
			.min_ttl = gr->min_ttl, .grace = gr->grace, .max_addrs = gr->max_addrs,
		};

		edpg_dst_set_params(&n->t, g, &pa);
		for (size_t m = 0; m < gr->nmembers; m++) {
			const char **t;

			if (gr->members[m].kind != EDPG_MEMBER_NAME ||
			    edpg_names_index(n, gr->members[m].name) >= 0)
				continue;
			t = realloc(n->names, (n->nnames + 1) * sizeof(*t));
			if (!t)
				goto nomem;
			n->names = t;
			n->names[n->nnames++] = gr->members[m].name;
		}
	}
	n->confirmed = calloc(n->nnames ? n->nnames : 1, sizeof(*n->confirmed));
	if (!n->confirmed)
		goto nomem;
	return 0;
nomem:
	edpg_names_free(n);
	return -ENOMEM;
}

void edpg_names_free(struct edpg_names *n)
{
	edpg_dst_table_free(&n->t);
	free(n->names);
	free(n->confirmed);
	free(n->retired);
	memset(n, 0, sizeof(*n));
}

static int64_t to_wall(const struct edpg_names *n, uint64_t t);

/* Remember that @e left the table at @now; the oldest record goes first. */
static void retire(struct edpg_names *n, const struct edpg_dst_entry *e, uint64_t now)
{
	struct edpg_cache_entry *r;
	size_t k = 0;

	if (!n->retired) {
		n->retired = calloc(EDPG_RETIRED_MAX, sizeof(*n->retired));
		if (!n->retired)
			return;	/* a diagnosis aid: losing it loses no policy */
	}
	/* One record per (name, address): the latest. */
	for (size_t i = 0; i < n->nretired; i++)
		if (strcmp(n->retired[i].name, e->name) || edpg_addr_cmp(&n->retired[i].addr, &e->addr))
			n->retired[k++] = n->retired[i];
	n->nretired = k;
	if (n->nretired == EDPG_RETIRED_MAX)
		memmove(n->retired, n->retired + 1, --n->nretired * sizeof(*n->retired));
	r = &n->retired[n->nretired++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", e->name);
	snprintf(r->group, sizeof(r->group), "%s", n->p->groups[e->group].name);
	r->addr = e->addr;
	r->source = e->source;
	r->ttl = e->ttl;
	r->seen = to_wall(n, e->seen);
	r->expires = to_wall(n, now);
	r->last_used = to_wall(n, e->last_used);
}

static void log_removed(struct edpg_names *n, enum edpg_names_change ch,
			const struct edpg_dst_entry *v, size_t cnt, uint64_t now,
			edpg_names_log_fn log, void *ctx)
{
	for (size_t i = 0; i < cnt; i++) {
		retire(n, &v[i], now);
		if (log)
			log(ctx, ch, n, &v[i], now);
	}
}

int edpg_names_answer(struct edpg_names *n, const char *name, const struct edpg_addr *addrs,
		      const uint32_t *ttls, size_t na, enum edpg_dst_source src, uint64_t now,
		      edpg_names_log_fn log, void *ctx)
{
	uint64_t groups = edpg_names_groups_of(n->p, name);
	int idx = edpg_names_index(n, name), changes = 0, err;

	if (!groups || idx < 0)
		return -ENOENT;
	/* The table keeps the policy's spelling of the name. */
	name = n->names[idx];
	for (int g = 0; g < EDPG_MAX_GROUPS; g++) {
		struct edpg_dst_entry *gone = NULL;
		size_t ngone = 0;

		if (!(groups & (1ULL << g)))
			continue;
		for (size_t i = 0; i < na; i++) {
			err = edpg_dst_add(&n->t, g, name, &addrs[i], src, ttls[i], now);
			if (err < 0)
				return err;
			changes += err;
			if (log)
				log(ctx, err ? EDPG_CH_ADDED : EDPG_CH_REFRESHED, n,
				    edpg_dst_find(&n->t, g, name, &addrs[i]), now);
		}
		err = edpg_dst_evict(&n->t, g, name, now, &gone, &ngone);
		if (err)
			return err;
		log_removed(n, EDPG_CH_EVICTED, gone, ngone, now, log, ctx);
		changes += ngone;
		free(gone);
	}
	if (na)
		n->confirmed[idx] = true;
	return changes;
}

/* The question @m answers, used up; false when none was asked. */
static bool take_question(struct edpg_questions *qs, const uint8_t mac[6], uint16_t port,
			  const struct edpg_dns_msg *m, uint64_t now)
{
	for (size_t i = 0; i < EDPG_MAX_QUESTIONS; i++) {
		struct edpg_question *q = &qs->v[i];

		if (!q->until || q->until < now || q->id != m->id || q->port != port ||
		    q->qtype != m->qtype || memcmp(q->mac, mac, 6) || strcmp(q->qname, m->qname))
			continue;
		/* A TC answer is followed by the same question over TCP,
		 * which comes with its own entry; either way one answer. */
		q->until = 0;
		return true;
	}
	return false;
}

static int snooped_msg(struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		       uint16_t port, const uint8_t *msg, size_t len, uint64_t now,
		       edpg_names_log_fn log, void *ctx)
{
	struct edpg_dns_msg m;
	struct edpg_addr *addrs = NULL;
	uint32_t *ttls = NULL;
	size_t na = 0;
	int err;

	err = edpg_dns_parse(msg, len, &m);
	if (err)
		return err;
	if (m.rcode || !edpg_names_groups_of(n->p, m.qname))
		goto out;	/* not about a name of ours: nothing to do */
	if (qs && !take_question(qs, mac, port, &m, now)) {
		err = -EPERM;	/* forged, or its question went unseen */
		goto out;
	}
	err = edpg_dns_addresses(&m, m.qname, &addrs, &ttls, &na);
	if (!err && na)
		err = edpg_names_answer(n, m.qname, addrs, ttls, na, SRC_SNOOPED, now, log, ctx);
out:
	free(addrs);
	free(ttls);
	edpg_dns_msg_free(&m);
	return err;
}

int edpg_names_snooped(struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		       uint16_t port, const uint8_t *data, size_t len, bool tcp, uint64_t now,
		       edpg_names_log_fn log, void *ctx)
{
	const uint8_t *msg;
	size_t off = 0, mlen;
	int err, changes = 0;

	if (!tcp)
		return snooped_msg(n, qs, mac, port, data, len, now, log, ctx);
	/* A segment usually holds whole messages; one cut at the end of the
	 * segment is left to the resolver. */
	while (!(err = edpg_dns_tcp_next(data, len, &off, &msg, &mlen))) {
		err = snooped_msg(n, qs, mac, port, msg, mlen, now, log, ctx);
		if (err < 0)
			return err;
		changes += err;
	}
	return err == -ENOENT || changes ? changes : err;
}

static int asked_msg(const struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		     uint16_t port, const uint8_t *msg, size_t len, uint64_t now)
{
	struct edpg_question *q;
	char qname[EDPG_DNS_MAX];
	uint16_t id, qtype;
	int err;

	err = edpg_dns_parse_query(msg, len, &id, qname, &qtype);
	if (err)
		return err;
	if (!edpg_names_groups_of(n->p, qname))
		return 0;
	q = &qs->v[qs->next];
	qs->next = (qs->next + 1) % EDPG_MAX_QUESTIONS;
	memcpy(q->qname, qname, sizeof(q->qname));
	memcpy(q->mac, mac, 6);
	q->id = id;
	q->qtype = qtype;
	q->port = port;
	q->until = now + EDPG_QUESTION_LIFE;
	return 1;
}

int edpg_names_asked(const struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		     uint16_t port, const uint8_t *data, size_t len, bool tcp, uint64_t now)
{
	const uint8_t *msg;
	size_t off = 0, mlen;
	int err, kept = 0;

	if (!tcp)
		return asked_msg(n, qs, mac, port, data, len, now);
	while (!(err = edpg_dns_tcp_next(data, len, &off, &msg, &mlen))) {
		err = asked_msg(n, qs, mac, port, msg, mlen, now);
		if (err < 0)
			return err;
		kept += err;
	}
	return err == -ENOENT || kept ? kept : err;
}

void edpg_names_used(struct edpg_names *n, const struct edpg_addr *addr, uint64_t when)
{
	edpg_dst_used(&n->t, addr, when);
}

/* A cache entry whose name no answer has confirmed yet: last-known-good. */
static bool protected(const struct edpg_names *n, const struct edpg_dst_entry *e)
{
	int idx;

	if (e->source == SRC_STATIC)
		return true;
	if (e->source != SRC_CACHE)
		return false;
	idx = edpg_names_index(n, e->name);
	return idx < 0 || !n->confirmed[idx];
}

int edpg_names_expire(struct edpg_names *n, uint64_t now, edpg_names_log_fn log, void *ctx)
{
	struct edpg_dst_entry *gone;
	size_t j = 0, k = 0;

	gone = malloc((n->t.n ? n->t.n : 1) * sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	for (size_t i = 0; i < n->t.n; i++) {
		const struct edpg_dst_entry *e = &n->t.v[i];

		if (protected(n, e) || edpg_dst_alive(e, &n->t.params[e->group], now))
			n->t.v[j++] = *e;
		else
			gone[k++] = *e;
	}
	n->t.n = j;
	log_removed(n, EDPG_CH_EXPIRED, gone, k, now, log, ctx);
	free(gone);
	return k;
}

uint64_t edpg_names_next_expiry(const struct edpg_names *n)
{
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < n->t.n; i++) {
		const struct edpg_dst_entry *e = &n->t.v[i];
		uint64_t x;

		if (protected(n, e))
			continue;
		x = edpg_dst_expiry(e, &n->t.params[e->group]);
		if (x < best)
			best = x;
	}
	return best;
}

static int addr_cmp_q(const void *a, const void *b)
{
	return edpg_addr_cmp(a, b);
}

int edpg_names_resolved(const struct edpg_names *n, struct edpg_resolved **out, size_t *nout)
{
	struct edpg_resolved *r;

	*out = NULL;
	*nout = 0;
	r = calloc(n->nnames ? n->nnames : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n->nnames; i++) {
		r[i].name = strdup(n->names[i]);
		r[i].addrs = calloc(n->t.n ? n->t.n : 1, sizeof(*r[i].addrs));
		if (!r[i].name || !r[i].addrs)
			goto nomem;
		for (size_t k = 0; k < n->t.n; k++)
			if (name_eq(n->t.v[k].name, n->names[i]))
				r[i].addrs[r[i].naddrs++] = n->t.v[k].addr;
		/* The same address under several groups: sort, then unique
		 * (a pairwise check would be quadratic in a big pool). */
		if (r[i].naddrs > 1) {
			size_t u = 1;

			qsort(r[i].addrs, r[i].naddrs, sizeof(*r[i].addrs), addr_cmp_q);
			for (size_t k = 1; k < r[i].naddrs; k++)
				if (edpg_addr_cmp(&r[i].addrs[k], &r[i].addrs[u - 1]))
					r[i].addrs[u++] = r[i].addrs[k];
			r[i].naddrs = u;
		}
	}
	*out = r;
	*nout = n->nnames;
	return 0;
nomem:
	for (size_t i = 0; i < n->nnames; i++) {
		free((char *)r[i].name);
		free(r[i].addrs);
	}
	free(r);
	return -ENOMEM;
}

/* A reload: every entry keeps its times and source, the confirmations
 * carry over; entries of names the new policy lacks go. */
int edpg_names_carry_over(struct edpg_names *n, const struct edpg_names *old)
{
	for (size_t i = 0; i < old->t.n; i++) {
		const struct edpg_dst_entry *e = &old->t.v[i];
		uint64_t groups = edpg_names_groups_of(n->p, e->name);
		int idx = edpg_names_index(n, e->name), oidx = edpg_names_index(old, e->name);

		if (idx < 0)
			continue;
		if (oidx >= 0 && old->confirmed[oidx])
			n->confirmed[idx] = true;
		for (int g = 0; g < EDPG_MAX_GROUPS; g++) {
			struct edpg_dst_entry *ne;
			int err;

			if (!(groups & (1ULL << g)))
				continue;
			err = edpg_dst_add(&n->t, g, n->names[idx], &e->addr, e->source, e->ttl,
					   e->seen);
			if (err < 0)
				return err;
			ne = edpg_dst_find(&n->t, g, n->names[idx], &e->addr);
			if (e->expires_ttl > ne->expires_ttl)
				ne->expires_ttl = e->expires_ttl;
			if (e->last_used > ne->last_used)
				ne->last_used = e->last_used;
		}
	}
	return 0;
}

/* ---- the cache file ---------------------------------------------------- */

static int64_t to_wall(const struct edpg_names *n, uint64_t t)
{
	return t ? (int64_t)t + n->wall_off : 0;
}

/* Wall seconds back to table seconds; a time before the table clock's
 * zero (e.g. before this boot) becomes 1, "long ago". */
static uint64_t from_wall(const struct edpg_names *n, int64_t w)
{
	if (w <= 0)
		return 0;
	return w - n->wall_off > 0 ? (uint64_t)(w - n->wall_off) : 1;
}

/* The retired records beside the cache at @path; none when it is missing or damaged. */
static void load_retired(struct edpg_names *n, const char *path)
{
	struct edpg_cache_entry *v = NULL;
	char rp[4096];
	size_t cnt = 0, skip;

	snprintf(rp, sizeof(rp), "%s" EDPG_RETIRED_SUFFIX, path);
	if (edpg_cache_load_entries(rp, &v, &cnt) || !cnt) {
		free(v);
		return;
	}
	free(n->retired);
	n->retired = calloc(EDPG_RETIRED_MAX, sizeof(*n->retired));
	skip = cnt > EDPG_RETIRED_MAX ? cnt - EDPG_RETIRED_MAX : 0;
	n->nretired = n->retired ? cnt - skip : 0;
	if (n->retired)
		memcpy(n->retired, v + skip, n->nretired * sizeof(*v));
	free(v);
}

int edpg_names_load_cache(struct edpg_names *n, const char *path, uint64_t now)
{
	struct edpg_cache_entry *v = NULL;
	size_t cnt = 0;
	int err;

	err = edpg_cache_load_entries(path, &v, &cnt);
	if (err)
		return err;
	for (size_t i = 0; i < cnt && !err; i++) {
		uint64_t groups = edpg_names_groups_of(n->p, v[i].name);
		int idx = edpg_names_index(n, v[i].name);

		if (idx < 0)
			continue;	/* no longer in the rules */
		for (int g = 0; g < EDPG_MAX_GROUPS && !err; g++) {
			struct edpg_dst_entry *e;

			if (!(groups & (1ULL << g)))
				continue;
			err = edpg_dst_add(&n->t, g, n->names[idx], &v[i].addr, SRC_CACHE,
					   v[i].ttl, now);
			if (err < 0)
				break;
			err = 0;
			e = edpg_dst_find(&n->t, g, n->names[idx], &v[i].addr);
			/* The first format has no times: it expires as if just
			 * seen.  Otherwise keep what the file says. */
			if (v[i].expires) {
				e->seen = from_wall(n, v[i].seen);
				e->expires_ttl = from_wall(n, v[i].expires);
			}
			e->last_used = from_wall(n, v[i].last_used);
		}
	}
	free(v);
	if (!err)
		load_retired(n, path);
	return err;
}

int edpg_names_save_cache(const struct edpg_names *n, const char *path)
{
	char *buf = NULL;
	size_t len;
	int err;

	err = edpg_names_cache_text(n, &buf, &len);
	if (err)
		return err;
	err = edpg_write_atomic(path, buf, len);
	free(buf);
	if (!err && n->retired) {
		char rp[4096];

		snprintf(rp, sizeof(rp), "%s" EDPG_RETIRED_SUFFIX, path);
		err = edpg_cache_save_entries(rp, n->retired, n->nretired);
	}
	return err;
}

int edpg_names_cache_text(const struct edpg_names *n, char **out, size_t *len)
{
	struct edpg_cache_entry *v;
	int err;

	v = calloc(n->t.n ? n->t.n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n->t.n; i++) {
		const struct edpg_dst_entry *e = &n->t.v[i];

		snprintf(v[i].name, sizeof(v[i].name), "%s", e->name);
		snprintf(v[i].group, sizeof(v[i].group), "%s", n->p->groups[e->group].name);
		v[i].addr = e->addr;
		v[i].source = e->source;
		v[i].ttl = e->ttl;
		v[i].seen = to_wall(n, e->seen);
		v[i].expires = to_wall(n, e->expires_ttl);
		v[i].last_used = to_wall(n, e->last_used);
	}
	err = edpg_cache_format(v, n->t.n, out, len);
	free(v);
	return err;
}

/* ---- the data path's stamps --------------------------------------------- */

void edpg_names_used_stamps(struct edpg_names *n, const uint64_t *ns)
{
	/* Written to each entry only (edpg_dst_used would rescan the table
	 * for every address). */
	for (size_t i = 0; i < n->t.n; i++) {
		struct edpg_dst_entry *e = &n->t.v[i];
		uint64_t s = ns[i] / 1000000000ULL;

		if (ns[i] && s > e->last_used)
			e->last_used = s;
	}
}
