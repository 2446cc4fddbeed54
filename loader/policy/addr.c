// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse @ndigits hex digits per group, @ngroups groups separated by @sep.
 * Each group is exactly @ndigits long: "0:40:9d:..." is rejected because
 * a dropped digit is far more often a typo than an intended short form.
 */
static int parse_groups(const char *s, int ngroups, int ndigits, char sep, uint8_t *mac)
{
	int g, i, nib = 0;

	for (g = 0; g < ngroups; g++) {
		if (g && *s++ != sep)
			return -EINVAL;
		for (i = 0; i < ndigits; i++, s++) {
			int v = hexval(*s);

			if (v < 0)
				return -EINVAL;
			if (nib & 1)
				mac[nib / 2] |= v;
			else
				mac[nib / 2] = v << 4;
			nib++;
		}
	}
	return *s ? -EINVAL : 0;
}

const char *edpg_mac_reject_reason(const uint8_t mac[6])
{
	static const uint8_t zero[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (!memcmp(mac, zero, 6))
		return "all-zero";
	if (!memcmp(mac, bcast, 6))
		return "broadcast";
	if (mac[0] & 1)
		return "multicast";
	return NULL;
}

/*
 * A Remote Manager Device ID: four groups of eight hex digits.  Only the
 * MAC-derived form 00000000-00000000-MMMMMMFF-FFMMMMMM names a MAC (the
 * others come from an IMEI, ESN or a serial number); -ERANGE for those.
 */
static int devid_parse(const char *s, uint8_t mac[6])
{
	uint8_t b[16];
	int err = 0;

	for (int g = 0; g < 4 && !err; g++) {
		char grp[9];

		memcpy(grp, s + 9 * g, 8);
		grp[8] = '\0';
		if (g < 3 && s[9 * g + 8] != '-')
			return -EINVAL;
		err = parse_groups(grp, 1, 8, '-', b + 4 * g);
	}
	if (err)
		return err;
	for (int i = 0; i < 8; i++)
		if (b[i])
			return -ERANGE;
	if (b[11] != 0xff || b[12] != 0xff)
		return -ERANGE;
	memcpy(mac, b + 8, 3);
	memcpy(mac + 3, b + 13, 3);
	return 0;
}

int edpg_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	size_t n = strnlen(s, EDPG_DEVID_STRLEN);
	int err;

	if (n == 17 && (s[2] == ':' || s[2] == '-'))
		err = parse_groups(s, 6, 2, s[2], m);
	else if (n == 14 && s[4] == '.')
		err = parse_groups(s, 3, 4, '.', m);
	else if (n == EDPG_DEVID_STRLEN - 1)
		err = devid_parse(s, m);
	else
		err = -EINVAL;
	if (err)
		return err;
	memcpy(mac, m, 6);
	/* A source MAC is always unicast; enrolling anything else is a typo. */
	return edpg_mac_reject_reason(m) ? -EDOM : 0;
}

const char *edpg_mac_parse_msg(const char *arg, int err, char *buf, size_t len)
{
	if (err == -EDOM)
		snprintf(buf, len, "'%s' is a multicast, broadcast or all-zero MAC; a gateway has a unicast one",
			 arg);
	else if (err == -ERANGE)
		snprintf(buf, len, "'%s' is a Device ID that does not encode a MAC; gateways are enrolled by MAC, so only a Device ID of the form %s (the MAC's first three bytes, FFFF, its last three) names one",
			 arg, EDPG_DEVID_FORM);
	else
		snprintf(buf, len, "invalid MAC '%s' (use 00:40:9d:aa:bb:cc, 00-40-9D-AA-BB-CC, 0040.9daa.bbcc, or the Device ID 00000000-00000000-00409DFF-FFAABBCC)",
			 arg);
	return buf;
}

void edpg_devid_format(const uint8_t mac[6], char out[EDPG_DEVID_STRLEN])
{
	snprintf(out, EDPG_DEVID_STRLEN, "00000000-00000000-%02X%02X%02XFF-FF%02X%02X%02X",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* "%02x:..." by hand: the gateways file formats one MAC a line, and
 * snprintf was most of writing a site's 10,000. */
void edpg_mac_format(const uint8_t mac[6], char out[EDPG_MAC_STRLEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 6; i++) {
		out[3 * i] = hex[mac[i] >> 4];
		out[3 * i + 1] = hex[mac[i] & 0xf];
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}

int edpg_addr_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

bool edpg_addr_mask(struct edpg_addr *a)
{
	int bits = edpg_addr_bits(a->family), i;
	bool dirty = false;

	for (i = 0; i < bits / 8; i++) {
		int keep = (int)a->plen - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (a->addr[i] & ~mask)
			dirty = true;
		a->addr[i] &= mask;
	}
	return dirty;
}

int edpg_addr_parse(const char *s, struct edpg_addr *a, bool allow_prefix)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct edpg_addr r;
	int bits;

	memset(&r, 0, sizeof(r));
	if (!alen || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	/* The family is chosen by the text, so "1.2.3.4" is never read as v6. */
	r.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(r.family, buf, r.addr) != 1)
		return -EINVAL;
	bits = edpg_addr_bits(r.family);
	r.plen = bits;
	if (slash) {
		const char *q = slash + 1;
		unsigned int v = 0;

		if (!allow_prefix)
			return -EINVAL;
		/* Decimal, 1-3 digits, no sign and no leading zeros. */
		if (!*q || strlen(q) > 3 || (q[0] == '0' && q[1]))
			return -EINVAL;
		for (; *q; q++) {
			if (*q < '0' || *q > '9')
				return -EINVAL;
			v = v * 10 + (*q - '0');
		}
		if (v > (unsigned int)bits)
			return -ERANGE;
		r.plen = v;
	}
	*a = r;
	return edpg_addr_mask(a) ? -EDOM : 0;
}

int edpg_addr_format(const struct edpg_addr *a, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	int bits = edpg_addr_bits(a->family), n;

	if (!bits || a->plen > bits)
		return -EINVAL;
	if (!inet_ntop(a->family, a->addr, buf, sizeof(buf)))
		return -EINVAL;
	if (a->plen == bits)
		n = snprintf(out, len, "%s", buf);
	else
		n = snprintf(out, len, "%s/%u", buf, a->plen);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int edpg_addr_cmp(const struct edpg_addr *a, const struct edpg_addr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, edpg_addr_bits(a->family) / 8);
	if (r)
		return r;
	return a->plen < b->plen ? -1 : a->plen > b->plen;
}
