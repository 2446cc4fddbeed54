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
