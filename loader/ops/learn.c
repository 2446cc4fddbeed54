// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * learn.c - order the refused attempts and write the rules that would
 * allow them (see learn.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "learn.h"
#include "rules.h"

static int learned_cmp(const void *pa, const void *pb)
{
	const struct edpg_learned *a = pa, *b = pb;
	int c;

	if (!a->name[0] != !b->name[0])
		return a->name[0] ? -1 : 1;
	c = strcmp(a->name, b->name);
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	c = edpg_addr_cmp(&a->addr, &b->addr);
	return c ? c : memcmp(a->mac, b->mac, 6);
}

void edpg_learned_sort(struct edpg_learned *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), learned_cmp);
}

/* One service the learned attempts need, and the group it will reach. */
struct need {
	char svc[EDPG_NAME_MAX];
	char group[EDPG_NAME_MAX];
	int sid;			/* -1: a service to add */
	uint8_t proto;
	uint16_t port;
	char **members;			/* names or bare addresses, unique */
	bool *bare;
	size_t nmembers;
};

#define LEARN_MAX_NEEDS	EDPG_MAX_SERVICES

static int service_of(const struct edpg_policy *p, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (p->services[i].proto == proto && port >= p->services[i].port_lo &&
		    port <= p->services[i].port_hi)
			return (int)i;
	return -1;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

/* @base, or @base-2 .. -9 when the rules already use it. */
static void fresh_name(char *out, const char *base, int (*taken)(const struct edpg_policy *, const char *),
		       const struct edpg_policy *p)
{
	snprintf(out, EDPG_NAME_MAX, "%.*s", EDPG_NAME_MAX - 1, base);
	for (int i = 2; i <= 9 && taken(p, out) >= 0; i++)
		snprintf(out, EDPG_NAME_MAX, "%.*s-%d", EDPG_NAME_MAX - 3, base, i);
}

static int add_member(struct need *nd, const char *m, bool bare)
{
	char **v;
	bool *b;

	for (size_t i = 0; i < nd->nmembers; i++)
		if (!strcmp(nd->members[i], m))
			return 0;
	v = realloc(nd->members, (nd->nmembers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	nd->members = v;
	b = realloc(nd->bare, (nd->nmembers + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	nd->bare = b;
	v[nd->nmembers] = strdup(m);
	if (!v[nd->nmembers])
		return -ENOMEM;
	b[nd->nmembers++] = bare;
	return 0;
}

static struct need *need_for(const struct edpg_policy *p, struct need *needs, size_t *nn,
			     const struct edpg_learned *e)
{
	int sid = service_of(p, e->proto, e->port);
	char base[64];
	struct need *nd;

	for (size_t i = 0; i < *nn; i++)
		if (sid >= 0 ? needs[i].sid == sid :
			       needs[i].sid < 0 && needs[i].proto == e->proto && needs[i].port == e->port)
			return &needs[i];
	if (*nn == LEARN_MAX_NEEDS)
		return NULL;
	nd = &needs[(*nn)++];
	memset(nd, 0, sizeof(*nd));
	nd->sid = sid;
	nd->proto = e->proto;
	nd->port = e->port;
	if (sid >= 0) {
		snprintf(nd->svc, sizeof(nd->svc), "%s", p->services[sid].name);
	} else {
		snprintf(base, sizeof(base), "%s-%u", proto_name(e->proto), e->port);
		fresh_name(nd->svc, base, edpg_policy_service_id, p);
	}
	snprintf(base, sizeof(base), "learned-%s", nd->svc);
	fresh_name(nd->group, base, edpg_policy_group_id, p);
	return nd;
}

/* The gateway of @mac in @p, or NULL (deleted since). */
static const struct edpg_gateway *gw_of(const struct edpg_policy *p, const uint8_t mac[6])
{
	for (size_t i = 0; i < p->ngateways; i++)
		if (!memcmp(p->gateways[i].mac, mac, 6))
			return &p->gateways[i];
	return NULL;
}

/* ",name" onto a comma list (a list of service names always fits). */
static void list_add(char *buf, size_t size, const char *name)
{
	size_t l = strlen(buf), k = strlen(name);

	if (l + k + 2 > size)
		return;
	if (l)
		buf[l++] = ',';
	memcpy(buf + l, name, k + 1);
}

/* Comments for the gateways that lack a needed service: the rules file
 * cannot give it to them, the defaults line or their own list does. */
static void gateway_notes(const struct edpg_policy *p, const struct edpg_learned *v, size_t n,
			  const struct need *needs, size_t nn, FILE *f)
{
	char defaults[EDPG_MAX_SERVICES * (EDPG_NAME_MAX + 1) * 2] = "";
	bool extend = false;

	for (size_t i = 0; i < p->nservices; i++)
		if (p->default_services & (1U << i))
			list_add(defaults, sizeof(defaults), p->services[i].name);
	for (size_t k = 0; k < nn; k++) {
		const struct need *nd = &needs[k];
		bool defaults_need = false;

		for (size_t i = 0; i < n; i++) {
			const struct edpg_gateway *g = gw_of(p, v[i].mac);
			char mac[EDPG_MAC_STRLEN];

			if (!g || v[i].allowed_now || (nd->sid >= 0 ? service_of(p, v[i].proto, v[i].port) != nd->sid :
					  v[i].proto != nd->proto || v[i].port != nd->port))
				continue;
			if (nd->sid >= 0 && (g->services & (1U << nd->sid)))
				continue;
			if (g->uses_defaults) {
				defaults_need = true;
				continue;
			}
			edpg_mac_format(g->mac, mac);
			fprintf(f, "# gateway %s%s%s%s has its own services list, without %s: add it there (gateways file)\n",
				g->name[0] ? g->name : mac, g->name[0] ? " (" : "",
				g->name[0] ? mac : "", g->name[0] ? ")" : "", nd->svc);
		}
		if (defaults_need) {
			list_add(defaults, sizeof(defaults), nd->svc);
			extend = true;
		}
	}
	if (extend)
		fprintf(f, "# gateways enrolled without `services` get new services from the defaults line;\n"
			   "# replace it with:\n# defaults %s\n", defaults);
}

int edpg_learn_rules(const struct edpg_policy *p, const struct edpg_learned *v, size_t n,
		     FILE *f)
{
	struct need needs[LEARN_MAX_NEEDS];
	size_t nn = 0;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		struct need *nd;
		char a[EDPG_ADDR_STRLEN];

		if (v[i].allowed_now)
			continue;
		nd = need_for(p, needs, &nn, &v[i]);
		if (!nd) {
			err = -ENOSPC;
			break;
		}
		if (v[i].name[0]) {
			err = add_member(nd, v[i].name, false);
		} else {
			edpg_addr_format(&v[i].addr, a, sizeof(a));
			err = add_member(nd, a, true);
		}
	}
	if (!err) {
		fprintf(f, "# edpgate learn --rules: what the gateways were refused, as rules lines.\n"
			   "# Review them, add them to the rules file, then `edpgate check` and `edpgate apply`.\n");
		for (size_t k = 0; k < nn; k++) {
			const struct need *nd = &needs[k];

			if (nd->sid < 0)
				fprintf(f, "service %s %s %u\n", nd->svc, proto_name(nd->proto), nd->port);
			for (size_t m = 0; m < nd->nmembers; m++)
				if (nd->bare[m])
					fprintf(f, "# %s: no snooped DNS answer gave it: an address hard-coded in the gateway?\n",
						nd->members[m]);
			fprintf(f, "group %s", nd->group);
			for (size_t m = 0; m < nd->nmembers; m++)
				fprintf(f, " %s", nd->members[m]);
			fprintf(f, "\nallow %s to %s\n", nd->svc, nd->group);
		}
		gateway_notes(p, v, n, needs, nn, f);
	}
	for (size_t k = 0; k < nn; k++) {
		for (size_t m = 0; m < needs[k].nmembers; m++)
			free(needs[k].members[m]);
		free(needs[k].members);
		free(needs[k].bare);
	}
	return err;
}
