// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * dnsmsg.c - DNS response parser (RFC 1035 4.1, RFC 2181, RFC 3596) for
 * answers snooped from the wire.  See dnsmsg.h for the contract; the input
 * is hostile, so every read is preceded by a bounds check against @len.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"

#define HDR_LEN		12
#define RR_FIXED	10	/* type, class, ttl, rdlength */
#define RR_MIN		(1 + RR_FIXED)	/* root owner name, no rdata */
#define NAME_WIRE_MAX	255	/* RFC 1035 2.3.4, length octets included */
#define LABEL_MAX	63
/*
 * Pointers already have to go strictly backwards, which ends every chain,
 * but a packet of pointers to pointers could still make us hop a few
 * thousand times per name; no real name needs more jumps than labels.
 */
#define MAX_JUMPS	127

#define F_QR		0x8000
#define F_TC		0x0200
#define CLASS_IN	1

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * Decode the (possibly compressed) name at *pos into @out.  *pos moves past
 * the part of the name stored in place.  Returns 0, 1 when the name is
 * well-formed but has a byte no host name carries (@out is then ""), or
 * -EBADMSG.
 *
 * A pointer must point before the start of the segment it is found in (the
 * name itself, or the place the previous pointer led to).  A compressor only
 * ever points at names written earlier, so real messages pass, and since
 * segment starts strictly decrease no loop is possible.
 */
static int read_name(const uint8_t *buf, size_t len, size_t *pos, char out[EDPG_DNS_MAX])
{
	size_t p = *pos, seg = *pos, end = 0, o = 0, wire = 1;
	bool jumped = false, odd = false;
	int jumps = 0;

	for (;;) {
		uint8_t c;

		if (p >= len)
			return -EBADMSG;
		c = buf[p];
		if ((c & 0xc0) == 0xc0) {
			size_t t;

			if (len - p < 2)
				return -EBADMSG;
			t = (size_t)(c & 0x3f) << 8 | buf[p + 1];
			/* Names start after the header: nothing real points into it. */
			if (t < HDR_LEN || t >= seg || ++jumps > MAX_JUMPS)
				return -EBADMSG;
			if (!jumped)
				end = p + 2;
			jumped = true;
			p = seg = t;
			continue;
		}
		/* 01 and 10 are the obsolete extended/reserved label types. */
		if (c > LABEL_MAX)
			return -EBADMSG;
		p++;
		if (!c)
			break;
		wire += c + 1;
		if (wire > NAME_WIRE_MAX || c > len - p)
			return -EBADMSG;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < c; i++) {
			char ch = (char)buf[p + i];

			if (buf[p + i] < 0x21 || buf[p + i] > 0x7e || ch == '.')
				odd = true;
			out[o++] = lower(ch);
		}
		p += c;
	}
	/* wire <= 255 bounds the text to 253 characters, so this fits. */
	out[o] = '\0';
	*pos = jumped ? end : p;
	if (odd) {
		out[0] = '\0';
		return 1;
	}
	return 0;
}

/*
 * Read one resource record at *pos.  *keep says whether it is an IN A, AAAA
 * or CNAME record with representable names, filled into @rr.  Malformed
 * records (an rdlength past the end, an A that is not 4 bytes, a CNAME whose
 * name does not end exactly at the end of its rdata) reject the message.
 */
static int read_rr(const uint8_t *buf, size_t len, size_t *pos, struct edpg_dns_rr *rr,
		   bool *keep)
{
	size_t p = *pos, rd;
	uint16_t cls, rdlen;
	int odd, err;

	*keep = false;
	memset(rr, 0, sizeof(*rr));
	odd = read_name(buf, len, &p, rr->name);
	if (odd < 0)
		return odd;
	if (len - p < RR_FIXED)
		return -EBADMSG;
	rr->type = be16(buf + p);
	cls = be16(buf + p + 2);
	rr->ttl = be32(buf + p + 4);
	rdlen = be16(buf + p + 8);
	p += RR_FIXED;
	if (rdlen > len - p)
		return -EBADMSG;
	rd = p;
	p += rdlen;
	*pos = p;
	/* RFC 2181 8: a TTL with the top bit set is treated as zero. */
	if (rr->ttl > INT32_MAX)
		rr->ttl = 0;
	else if (rr->ttl > EDPG_DNS_MAX_TTL)
		rr->ttl = EDPG_DNS_MAX_TTL;
	/* Other classes reuse type numbers with other layouts (and OPT puts
	 * the UDP size in the class field): only IN data is looked at. */
	if (cls != CLASS_IN)
		return 0;

	switch (rr->type) {
	case EDPG_DNS_T_A:
		if (rdlen != 4)
			return -EBADMSG;
		rr->addr.family = AF_INET;
		rr->addr.plen = 32;
		memcpy(rr->addr.addr, buf + rd, 4);
		break;
	case EDPG_DNS_T_AAAA:
		if (rdlen != 16)
			return -EBADMSG;
		rr->addr.family = AF_INET6;
		rr->addr.plen = 128;
		memcpy(rr->addr.addr, buf + rd, 16);
		break;
	case EDPG_DNS_T_CNAME:
		err = read_name(buf, len, &rd, rr->target);
		if (err < 0)
			return err;
		if (rd != p)
			return -EBADMSG;
		if (err > 0 || !rr->target[0])
			return 0;
		break;
	default:
		return 0;
	}
	*keep = !odd && rr->name[0];
	return 0;
}

static int push_rr(struct edpg_dns_msg *m, size_t *cap, const struct edpg_dns_rr *rr)
{
	if (m->nanswers == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct edpg_dns_rr *t = realloc(m->answers, ncap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		m->answers = t;
		*cap = ncap;
	}
	m->answers[m->nanswers++] = *rr;
	return 0;
}

int edpg_dns_parse(const uint8_t *buf, size_t len, struct edpg_dns_msg *out)
{
	struct edpg_dns_rr rr;
	size_t pos = HDR_LEN, cap = 0, nrr;
	uint16_t flags, qd, an;
	int err;

	memset(out, 0, sizeof(*out));
	if (!buf || len < HDR_LEN)
		return -EBADMSG;
	out->id = be16(buf);
	flags = be16(buf + 2);
	if (!(flags & F_QR) || ((flags >> 11) & 0xf) != 0)
		return -EINVAL;
	out->response = true;
	out->truncated = flags & F_TC;
	out->rcode = flags & 0xf;
	qd = be16(buf + 4);
	an = be16(buf + 6);
	nrr = (size_t)an + be16(buf + 8) + be16(buf + 10);
	if (qd != 1)
		return -EBADMSG;

	err = read_name(buf, len, &pos, out->qname);
	if (err)
		return err < 0 ? err : -EBADMSG;
	if (len - pos < 4)
		return -EBADMSG;
	out->qtype = be16(buf + pos);
	pos += 4;
	/* Counts that cannot fit are a lie: refuse before looping on them. */
	if (nrr > (len - pos) / RR_MIN)
		return -EBADMSG;

	/* Answers, then authority and additional, which are only checked. */
	for (size_t i = 0; i < nrr; i++) {
		bool keep;

		err = read_rr(buf, len, &pos, &rr, &keep);
		if (err)
			goto out;
		if (keep && i < an && out->rcode == 0) {
			err = push_rr(out, &cap, &rr);
			if (err)
				goto out;
		}
	}
	if (pos != len)
		err = -EBADMSG;
out:
	if (err)
		edpg_dns_msg_free(out);
	return err;
}

int edpg_dns_parse_query(const uint8_t *buf, size_t len, uint16_t *id,
			 char qname[EDPG_DNS_MAX], uint16_t *qtype)
{
	size_t pos = HDR_LEN;
	uint16_t flags;
	int err;

	if (!buf || len < HDR_LEN)
		return -EBADMSG;
	flags = be16(buf + 2);
	if ((flags & F_QR) || ((flags >> 11) & 0xf) != 0)
		return -EINVAL;
	if (be16(buf + 4) != 1 || be16(buf + 6) != 0)
		return -EBADMSG;
	err = read_name(buf, len, &pos, qname);
	if (err)
		return err < 0 ? err : -EBADMSG;
	if (!qname[0] || len - pos < 4 || be16(buf + pos + 2) != CLASS_IN)
		return -EBADMSG;
	*id = be16(buf);
	*qtype = be16(buf + pos);
	return 0;
}

void edpg_dns_msg_free(struct edpg_dns_msg *m)
{
	if (!m)
		return;
	free(m->answers);
	m->answers = NULL;
	m->nanswers = 0;
}

/* Lower-case @name without its trailing dot into @out; -EINVAL if too long. */
static int norm_name(const char *name, char out[EDPG_DNS_MAX])
{
	size_t l;

	if (!name)
		return -EINVAL;
	l = strlen(name);
	if (l && name[l - 1] == '.')
		l--;
	if (!l || l >= EDPG_DNS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < l; i++)
		out[i] = lower(name[i]);
	out[l] = '\0';
	return 0;
}

static int add_addr(struct edpg_addr **v, uint32_t **ttls, size_t *n, size_t *cap,
		    const struct edpg_addr *a, uint32_t ttl)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i].family == a->family && !memcmp((*v)[i].addr, a->addr, 16)) {
			if (ttl > (*ttls)[i])
				(*ttls)[i] = ttl;
			return 0;
		}
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct edpg_addr *nv = realloc(*v, ncap * sizeof(*nv));
		uint32_t *nt;

		if (!nv)
			return -ENOMEM;
		*v = nv;
		nt = realloc(*ttls, ncap * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		*ttls = nt;
		*cap = ncap;
	}
	(*v)[*n] = *a;
	(*ttls)[*n] = ttl;
	(*n)++;
	return 0;
}

int edpg_dns_addresses(const struct edpg_dns_msg *m, const char *name,
		       struct edpg_addr **out, uint32_t **ttls, size_t *n)
{
	/* Names already on the chain: the start and one per hop. */
	char chain[EDPG_DNS_MAX_CHAIN + 1][EDPG_DNS_MAX];
	struct edpg_addr *v = NULL;
	uint32_t *t = NULL, minttl = UINT32_MAX;
	size_t cnt = 0, cap = 0, hops = 0;
	int err;

	*out = NULL;
	*ttls = NULL;
	*n = 0;
	err = norm_name(name, chain[0]);
	if (err)
		return err;
	if (m->rcode)
		return 0;

	for (;;) {
		const char *cur = chain[hops];
		const struct edpg_dns_rr *cname = NULL;

		for (size_t i = 0; i < m->nanswers; i++) {
			const struct edpg_dns_rr *rr = &m->answers[i];

			if (strcmp(rr->name, cur))
				continue;
			if (rr->type == EDPG_DNS_T_CNAME) {
				/* Two CNAMEs for one owner are illegal
				 * (RFC 2181 10.1): follow the first. */
				if (!cname)
					cname = rr;
				continue;
			}
			err = add_addr(&v, &t, &cnt, &cap, &rr->addr,
				       rr->ttl < minttl ? rr->ttl : minttl);
			if (err)
				goto out;
		}
		if (!cname)
			break;
		if (hops == EDPG_DNS_MAX_CHAIN) {
			err = -ELOOP;
			goto out;
		}
		for (size_t h = 0; h <= hops; h++) {
			if (!strcmp(chain[h], cname->target)) {
				err = -ELOOP;
				goto out;
			}
		}
		if (cname->ttl < minttl)
			minttl = cname->ttl;
		memcpy(chain[++hops], cname->target, EDPG_DNS_MAX);
	}
out:
	if (err) {
		free(v);
		free(t);
		return err;
	}
	*out = v;
	*ttls = t;
	*n = cnt;
	return 0;
}

int edpg_dns_tcp_next(const uint8_t *buf, size_t len, size_t *off,
		      const uint8_t **msg, size_t *mlen)
{
	size_t l;

	if (*off >= len)
		return *off == len ? -ENOENT : -EBADMSG;
	if (len - *off < 2)
		return -EBADMSG;
	l = be16(buf + *off);
	if (!l || l > len - *off - 2)
		return -EBADMSG;
	*msg = buf + *off + 2;
	*mlen = l;
	*off += 2 + l;
	return 0;
}
