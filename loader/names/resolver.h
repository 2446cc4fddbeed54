/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * resolver.h - TTL-aware resolution of the destination names, with c-ares.
 *
 * getaddrinfo() hides TTLs and resolves one name at a time; the daemon needs
 * each address's TTL (to refresh at expiry rather than on a fixed poll) and
 * all names at once (a lookup round trip per name adds up on a slow WAN).
 * One c-ares channel sends the A and AAAA queries of every name together and
 * a single poll() loop collects the answers, so N names cost one round trip.
 */
#ifndef EDPG_RESOLVER_H
#define EDPG_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Whole-call deadline of edpg_resolver_resolve() when 0 is given. */
#define EDPG_RESOLVER_DEF_TIMEOUT_MS	5000

struct edpg_resolver;

/*
 * @servers: NULL/0 uses the system's (resolv.conf); otherwise each one is
 * "ADDR", "ADDR:PORT", "[V6ADDR]:PORT" or a bare IPv6 address, tried in
 * order.  @timeout_ms bounds one edpg_resolver_resolve() call (<= 0: the
 * default).  Returns 0, -EINVAL for a server that does not parse (logged),
 * -ENOMEM, or -EIO when c-ares cannot be set up.
 */
int edpg_resolver_new(struct edpg_resolver **r, const char *const *servers, size_t nservers,
		      int timeout_ms);
void edpg_resolver_free(struct edpg_resolver *r);

struct edpg_answer {
	struct edpg_addr addr;		/* plen 32/128 */
	uint32_t ttl;			/* minimum along the CNAME chain */
};

struct edpg_name_result {
	const char *name;		/* the caller's string, not copied */
	/*
	 * 0: answers (possibly only one family); -ENOENT: NXDOMAIN or no
	 * A/AAAA; -ETIMEDOUT, -ECONNREFUSED, -EAGAIN (SERVFAIL, REFUSED, a bad
	 * answer): server trouble, keep what you had; -EINVAL: not a name.
	 */
	int status;
	struct edpg_answer *answers;
	size_t nanswers;
};

/*
 * Resolve A and AAAA of @names[0..n-1] (CNAMEs followed) into @out[0..n-1].
 * One name failing does not fail the others: see each status.  Returns 0
 * once every name has a status (free with edpg_name_results_free()), or
 * -ENOMEM / -EIO when the call itself failed (@out then needs no freeing).
 */
int edpg_resolver_resolve(struct edpg_resolver *r, const char *const *names, size_t n,
			  struct edpg_name_result *out);
void edpg_name_results_free(struct edpg_name_result *res, size_t n);

/* Parse one server string as edpg_resolver_new() does (exposed for tests
 * and the CLI's argument check).  @family is AF_INET or AF_INET6, @addr
 * 4 or 16 bytes, @port 53 unless given.  0 or -EINVAL. */
int edpg_resolver_parse_server(const char *s, int *family, uint8_t addr[16], uint16_t *port);

#endif
