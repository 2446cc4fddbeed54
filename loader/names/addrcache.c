// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * addrcache.c - the on-disk cache of the last answers for every name, so
 * a router that boots with the WAN down, or a resolver outage, still
 * enforces the addresses it knew.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "addrcache.h"
#include "state.h"

static int push_addr(struct edpg_addr **v, size_t *n, const struct edpg_addr *a)
{
	struct edpg_addr *t;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].family == a->family && !memcmp((*v)[i].addr, a->addr, 16))
			return 0;
	t = realloc(*v, (*n + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	*v = t;
	t[(*n)++] = *a;
	return 0;
}

int edpg_cache_load(const char *path, struct edpg_resolved **out, size_t *n)
{
	struct edpg_resolved *r = NULL, *t;
	char *buf = NULL, *line, *save = NULL;
	size_t len, cnt = 0;
	int err;

	*out = NULL;
	*n = 0;
	err = edpg_read_file(path, &buf, &len);
	if (err)
		return err;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[EDPG_DNS_MAX], addr[64];
		struct edpg_addr a;
		size_t i;

		if (line[0] == '#' || sscanf(line, "%253s %63s", name, addr) != 2 ||
		    edpg_addr_parse(addr, &a, false))
			continue;	/* a damaged line loses one address, not all */
		for (i = 0; i < cnt && strcmp(r[i].name, name); i++)
			;
		if (i == cnt) {
			t = realloc(r, (cnt + 1) * sizeof(*r));
			if (!t) {
				err = -ENOMEM;
				goto out;
			}
			r = t;
			memset(&r[cnt], 0, sizeof(r[cnt]));
			r[cnt].name = strdup(name);
			if (!r[cnt].name) {
				err = -ENOMEM;
				goto out;
			}
			cnt++;
		}
		err = push_addr(&r[i].addrs, &r[i].naddrs, &a);
		if (err)
			goto out;
	}
out:
	free(buf);
	if (err) {
		for (size_t i = 0; i < cnt; i++) {
			free((char *)r[i].name);
			free(r[i].addrs);
		}
		free(r);
		return err;
	}
	*out = r;
	*n = cnt;
	return 0;
}

int edpg_cache_save(const char *path, const struct edpg_resolved *r, size_t n)
{
	size_t cap = 4096, off = 0;
	char *buf, *t;
	int err;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	off = snprintf(buf, cap, "# edpgate address cache: NAME ADDRESS (last answers)\n");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < r[i].naddrs; j++) {
			char a[64];

			if (off + EDPG_DNS_MAX + 72 > cap) {
				cap *= 2;
				t = realloc(buf, cap);
				if (!t) {
					free(buf);
					return -ENOMEM;
				}
				buf = t;
			}
			edpg_addr_format(&r[i].addrs[j], a, sizeof(a));
			off += snprintf(buf + off, cap - off, "%s %s\n", r[i].name, a);
		}
	err = edpg_write_atomic(path, buf, off);
	free(buf);
	return err;
}

/* ---- the current format: with group, source, TTL and times ------------ */

int edpg_cache_source_parse(const char *s, enum edpg_dst_source *out)
{
	static const enum edpg_dst_source all[] = { SRC_RESOLVED, SRC_SNOOPED, SRC_STATIC,
						    SRC_CACHE };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, edpg_dst_source_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

static int parse_time(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!strcmp(s, "-")) {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_line(const char *line, struct edpg_cache_entry *e)
{
	char name[EDPG_DNS_MAX], addr[64], group[EDPG_NAME_MAX], src[16];
	char seen[24], exp[24], used[24];
	unsigned long ttl;
	int k;

	memset(e, 0, sizeof(*e));
	k = sscanf(line, "%253s %63s %31s %15s %lu %23s %23s %23s", name, addr, group, src, &ttl,
		   seen, exp, used);
	if (k != 2 && k != 8)
		return -EINVAL;
	if (edpg_addr_parse(addr, &e->addr, false) ||
	    (e->addr.plen != 32 && e->addr.plen != 128))
		return -EINVAL;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->source = SRC_CACHE;
	if (k == 2)
		return 0;
	if (edpg_cache_source_parse(src, &e->source) || ttl > UINT32_MAX ||
	    parse_time(seen, &e->seen) || parse_time(exp, &e->expires) ||
	    parse_time(used, &e->last_used))
		return -EINVAL;
	snprintf(e->group, sizeof(e->group), "%s", strcmp(group, "-") ? group : "");
	e->ttl = ttl;
	return 0;
}

int edpg_cache_parse(const char *text, struct edpg_cache_entry **out, size_t *n)
{
	struct edpg_cache_entry *v = NULL, *t;
	size_t cnt = 0, cap = 0;
	const char *p = text, *nl;
	char line[1024];
	int err = 0;

	*out = NULL;
	*n = 0;
	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		size_t l;

		nl = strchr(p, '\n');
		l = nl ? (size_t)(nl - p) : strlen(p);
		if (l == 0 || p[0] == '#' || l >= sizeof(line))
			continue;
		memcpy(line, p, l);
		line[l] = '\0';
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			t = realloc(v, cap * sizeof(*v));
			if (!t) {
				err = -ENOMEM;
				goto out;
			}
			v = t;
		}
		if (parse_line(line, &v[cnt]))
			continue;	/* a damaged line loses one address, not all */
		cnt++;
	}
out:
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void fmt_time(char *buf, size_t len, int64_t t)
{
	if (t <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", (long long)t);
}

int edpg_cache_format(const struct edpg_cache_entry *v, size_t n, char **out, size_t *len)
{
	static const char head[] =
		"# edpgate address cache: NAME ADDRESS GROUP SOURCE TTL SEEN EXPIRES LASTUSED\n"
		"# (times: wall-clock seconds; written by edpgate, read at attach and daemon start)\n";
	size_t cap = sizeof(head) + n * (EDPG_DNS_MAX + EDPG_NAME_MAX + 160), off;
	char *buf;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	off = snprintf(buf, cap, "%s", head);
	for (size_t i = 0; i < n; i++) {
		char a[64], s[24], x[24], u[24];

		edpg_addr_format(&v[i].addr, a, sizeof(a));
		fmt_time(s, sizeof(s), v[i].seen);
		fmt_time(x, sizeof(x), v[i].expires);
		fmt_time(u, sizeof(u), v[i].last_used);
		off += snprintf(buf + off, cap - off, "%s %s %s %s %u %s %s %s\n", v[i].name, a,
				v[i].group[0] ? v[i].group : "-",
				edpg_dst_source_name(v[i].source), v[i].ttl, s, x, u);
	}
	*out = buf;
	*len = off;
	return 0;
}

int edpg_cache_load_entries(const char *path, struct edpg_cache_entry **out, size_t *n)
{
	char *buf = NULL;
	size_t len;
	int err;

	*out = NULL;
	*n = 0;
	err = edpg_read_file(path, &buf, &len);
	if (err)
		return err;
	err = edpg_cache_parse(buf, out, n);
	free(buf);
	return err;
}

int edpg_cache_save_entries(const char *path, const struct edpg_cache_entry *v, size_t n)
{
	char *buf = NULL;
	size_t len;
	int err;

	err = edpg_cache_format(v, n, &buf, &len);
	if (err)
		return err;
	err = edpg_write_atomic(path, buf, len);
	free(buf);
	return err;
}
