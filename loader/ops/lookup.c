// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lookup.c - what a user's words name: a gateway by MAC, Device ID or
 * name, the names behind service and group bits, the nearest MAC for a
 * "did you mean", the address cache entries behind an address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "addrcache.h"
#include "log.h"
#include "lookup.h"
#include "rules.h"
#include "state.h"

int edpg_mac_distance(const uint8_t a[6], const uint8_t b[6])
{
	int d = 0;

	for (int i = 0; i < 6; i++)
		d += __builtin_popcount(a[i] ^ b[i]);
	return d;
}

int edpg_addr_cache_find(const char *state_dir, bool retired, const struct edpg_addr *a,
			 struct edpg_cache_entry **out, size_t *n)
{
	struct edpg_cache_entry *v = NULL;
	char path[4096];
	size_t cnt = 0, k = 0;
	int err;

	*out = NULL;
	*n = 0;
	edpg_state_path(path, sizeof(path), state_dir,
			retired ? EDPG_STATE_RETIRED : EDPG_STATE_ADDRESSES);
	err = edpg_cache_load_entries(path, &v, &cnt);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (size_t i = 0; i < cnt; i++) {
		struct edpg_addr x = v[i].addr;

		x.plen = a->plen;
		if (!edpg_addr_cmp(&x, a))
			v[k++] = v[i];
	}
	if (!k) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = k;
	return 0;
}

const struct edpg_gateway *edpg_gw_by_mac(const struct edpg_policy *p, const uint8_t mac[6])
{
	for (size_t i = 0; i < p->ngateways; i++)
		if (!memcmp(p->gateways[i].mac, mac, 6))
			return &p->gateways[i];
	return NULL;
}

const struct edpg_gateway *edpg_gw_lookup(const struct edpg_policy *p, const char *arg)
{
	int i = edpg_policy_find_gateway(p, arg);

	char msg[512];

	if (i == -ERANGE) {
		edpg_err(-EINVAL, "%s", edpg_mac_parse_msg(arg, i, msg, sizeof(msg)));
		return NULL;
	}
	if (i < 0) {
		edpg_err(-ENOENT, "no enrolled gateway '%s' (give its MAC, Device ID or name; see `edpgate gateway list`, `edpgate gateway pending`)",
			 arg);
		return NULL;
	}
	return &p->gateways[i];
}

static void names_of(char *buf, size_t len, uint64_t bits, size_t n, const char *(*name)(const struct edpg_policy *, size_t),
		     const struct edpg_policy *p)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 64 && off < len; i++) {
		if (!(bits & (1ULL << i)))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? "," : "",
				i < n ? name(p, i) : "?");
	}
}

static const char *svc_name(const struct edpg_policy *p, size_t i)
{
	return p->services[i].name;
}

static const char *group_name(const struct edpg_policy *p, size_t i)
{
	return p->groups[i].name;
}

void edpg_svc_names(const struct edpg_policy *p, uint32_t bits, char *buf, size_t len)
{
	names_of(buf, len, bits, p->nservices, svc_name, p);
}

void edpg_group_names(const struct edpg_policy *p, uint64_t bits, char *buf, size_t len)
{
	names_of(buf, len, bits, p->ngroups, group_name, p);
}
