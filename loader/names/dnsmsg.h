/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dnsmsg.h - a DNS response parser for answers snooped from the wire.
 *
 * Pure: no I/O, no logging, no global state, so the fuzzer links this file
 * alone.  Everything it reads comes from an untrusted packet: every length is
 * checked, compression pointers may only point backwards (strictly before
 * the name segment that contains them), the number of jumps is bounded and
 * a message whose records overrun it is rejected as a whole rather than
 * half-used.
 *
 * Names are returned in lower case, dotted, without the trailing dot (the
 * root is "").  A name with a label no host name can carry (a '.', a space,
 * a control or non-ASCII byte) is well-formed DNS but cannot match a name of
 * the rules data: records owned by or pointing to such a name are skipped;
 * a question with such a name rejects the message.
 */
#ifndef EDPG_DNSMSG_H
#define EDPG_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define EDPG_DNS_T_A		1
#define EDPG_DNS_T_CNAME	5
#define EDPG_DNS_T_AAAA		28

#define EDPG_DNS_RCODE_NXDOMAIN	3

/*
 * The longest TTL believed (a day, as resolvers' default cache-max-ttl): a
 * name is asked again at least this often, and an answer, true or forged,
 * cannot keep an address for decades.
 */
#define EDPG_DNS_MAX_TTL	86400

/* CNAME hops edpg_dns_addresses() follows before it calls the chain a loop. */
#define EDPG_DNS_MAX_CHAIN	16

/* One A, AAAA or CNAME record of the answer section (class IN). */
struct edpg_dns_rr {
	char name[EDPG_DNS_MAX];
	uint16_t type;
	uint32_t ttl;			/* RFC 2181 8: > 2^31-1 reads as 0;
				 * capped at EDPG_DNS_MAX_TTL */
	struct edpg_addr addr;		/* A/AAAA, plen 32/128 */
	char target[EDPG_DNS_MAX];	/* CNAME */
};

struct edpg_dns_msg {
	uint16_t id;
	bool response;			/* always true on success */
	uint8_t rcode;
	bool truncated;			/* TC: the answer may be incomplete */
	char qname[EDPG_DNS_MAX];
	uint16_t qtype;
	struct edpg_dns_rr *answers;	/* only when rcode == 0 */
	size_t nanswers;
};

/*
 * Parse one DNS message (UDP payload, or a TCP message without its length
 * prefix).  Only responses (QR=1, opcode QUERY) with exactly one question are
 * accepted.  For an rcode other than 0 (NXDOMAIN, SERVFAIL...) the header and
 * question are returned with no answers.  Every section is walked so a
 * message cut anywhere, or with bytes after its last record, is rejected.
 *
 * Returns 0 (free @out with edpg_dns_msg_free()), -EINVAL when it is not a
 * response to a standard query, -EBADMSG when malformed, -ENOMEM.  On error
 * @out holds nothing that needs freeing.
 */
int edpg_dns_parse(const uint8_t *buf, size_t len, struct edpg_dns_msg *out);
void edpg_dns_msg_free(struct edpg_dns_msg *m);

/*
 * Parse a question a client sent (QR=0, opcode QUERY, exactly one
 * question, no answers): its id, name (lower case, dotted) and type.
 * Whatever follows the question (an EDNS OPT record) is not read.
 * Returns 0, -EINVAL when it is not a standard query, -EBADMSG.
 */
int edpg_dns_parse_query(const uint8_t *buf, size_t len, uint16_t *id,
			 char qname[EDPG_DNS_MAX], uint16_t *qtype);

/*
 * Every A/AAAA of the answer section that belongs to @name (case and a
 * trailing dot do not matter), directly or through a chain of CNAMEs, each
 * with the minimum TTL along its chain (an address is only good as long as
 * every link to it is).  Duplicates are merged keeping the longer TTL.
 * *out and *ttls are malloc'ed arrays of *n entries (NULL when *n == 0).
 *
 * Returns 0 (also when there is no address: NXDOMAIN, no data), -ELOOP for a
 * CNAME loop or a chain longer than EDPG_DNS_MAX_CHAIN, -EINVAL for a bad
 * @name, -ENOMEM.
 */
int edpg_dns_addresses(const struct edpg_dns_msg *m, const char *name,
		       struct edpg_addr **out, uint32_t **ttls, size_t *n);

/*
 * DNS over TCP (RFC 1035 4.2.2): each message is preceded by its length in
 * two bytes.  Take the message starting at *off of @buf; on success *msg and
 * *mlen describe it and *off moves past it.  Returns 0, -ENOENT when *off is
 * at the end of @buf, -EBADMSG when what is left is a cut or empty frame.
 */
int edpg_dns_tcp_next(const uint8_t *buf, size_t len, size_t *off,
		      const uint8_t **msg, size_t *mlen);

#endif
