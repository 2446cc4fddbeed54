// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * seen.c - the table of DNS answers the gateways were given (see seen.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "dnsmsg.h"
#include "seen.h"
#include "state.h"

int edpg_seen_init(struct edpg_seen *s)
{
	memset(s, 0, sizeof(*s));
	s->v = calloc(EDPG_SEEN_MAX, sizeof(*s->v));
	return s->v ? 0 : -ENOMEM;
}

void edpg_seen_free(struct edpg_seen *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool same_addr(const struct edpg_addr *a, const struct edpg_addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

int edpg_seen_note(struct edpg_seen *s, const uint8_t mac[6], const struct edpg_addr *a,
		   const char *name, int64_t at)
{
	struct edpg_seen_ent *e = NULL;
	size_t i, oldest = 0;

	if (strlen(name) >= EDPG_DNS_MAX)
		return -EINVAL;
	/* A linear walk: answers to gateways come a few a second, and 4096
	 * entries are a few microseconds. */
	for (i = 0; i < s->n; i++) {
		if (!memcmp(s->v[i].mac, mac, 6) && same_addr(&s->v[i].addr, a)) {
			e = &s->v[i];
			break;
		}
		if (s->v[i].at < s->v[oldest].at)
			oldest = i;
	}
	if (!e)
		e = s->n < EDPG_SEEN_MAX ? &s->v[s->n++] : &s->v[oldest];
	memcpy(e->mac, mac, 6);
	e->addr = *a;
	e->addr.plen = a->family == AF_INET ? 32 : 128;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->at = at;
	s->dirty = true;
	return 0;
}

static int seen_msg(struct edpg_seen *s, const uint8_t mac[6], const uint8_t *msg, size_t len,
		    int64_t at)
{
	struct edpg_addr *addrs = NULL;
	uint32_t *ttls = NULL;
	struct edpg_dns_msg m;
	size_t n = 0;
	int err;

	err = edpg_dns_parse(msg, len, &m);
	if (err)
		return err;
	if (m.rcode == 0 && m.qname[0])
		err = edpg_dns_addresses(&m, m.qname, &addrs, &ttls, &n);
	for (size_t i = 0; i < n && !err; i++)
		err = edpg_seen_note(s, mac, &addrs[i], m.qname, at);
	free(addrs);
	free(ttls);
	edpg_dns_msg_free(&m);
	return err ? err : (int)n;
}

int edpg_seen_answer(struct edpg_seen *s, const uint8_t mac[6], const uint8_t *data, size_t len,
		     bool tcp, int64_t at)
{
	const uint8_t *msg;
	size_t off = 0, mlen;
	int err, n = 0;

	if (!tcp)
		return seen_msg(s, mac, data, len, at);
	while (!(err = edpg_dns_tcp_next(data, len, &off, &msg, &mlen))) {
		err = seen_msg(s, mac, msg, mlen, at);
		if (err < 0)
			return err;
		n += err;
	}
	return err == -ENOENT || n ? n : err;
}

const struct edpg_seen_ent *edpg_seen_find(const struct edpg_seen *s, const uint8_t mac[6],
					   const struct edpg_addr *a)
{
	const struct edpg_seen_ent *any = NULL;

	for (size_t i = 0; i < s->n; i++) {
		if (!same_addr(&s->v[i].addr, a))
			continue;
		if (!memcmp(s->v[i].mac, mac, 6))
			return &s->v[i];
		if (!any || s->v[i].at > any->at)
			any = &s->v[i];
	}
	return any;
}

int edpg_seen_format(const struct edpg_seen *s, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	fputs("# edpgate: DNS answers the gateways were given (edpgate learn); MAC ADDRESS NAME TIME\n",
	      f);
	for (size_t i = 0; i < s->n; i++) {
		char mac[EDPG_MAC_STRLEN], a[EDPG_ADDR_STRLEN];

		edpg_mac_format(s->v[i].mac, mac);
		edpg_addr_format(&s->v[i].addr, a, sizeof(a));
		fprintf(f, "%s %s %s %lld\n", mac, a, s->v[i].name, (long long)s->v[i].at);
	}
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int edpg_seen_parse(struct edpg_seen *s, const char *text, size_t len)
{
	char *copy = strndup(text, len), *line, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line && !err; line = strtok_r(NULL, "\n", &save)) {
		char mac_s[32], addr_s[64], name[EDPG_DNS_MAX];
		struct edpg_addr a;
		long long at;
		uint8_t mac[6];

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s %63s %253s %lld", mac_s, addr_s, name, &at) != 4 ||
		    edpg_mac_parse(mac_s, mac) || edpg_addr_parse(addr_s, &a, false))
			continue;
		err = edpg_seen_note(s, mac, &a, name, at);
	}
	free(copy);
	s->dirty = false;
	return err;
}

int edpg_seen_load(struct edpg_seen *s, const char *state_dir)
{
	char path[4096], *text;
	size_t len;
	int err;

	err = edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_DNS_SEEN);
	if (err)
		return err;
	err = edpg_read_file(path, &text, &len);
	if (err)
		return err;
	err = edpg_seen_parse(s, text, len);
	free(text);
	return err;
}

int edpg_seen_save(struct edpg_seen *s, const char *state_dir)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	int err;

	err = edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_DNS_SEEN);
	err = err ?: edpg_seen_format(s, &text, &len);
	err = err ?: edpg_write_atomic(path, text, len);
	free(text);
	if (!err)
		s->dirty = false;
	return err;
}
