// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * resolver.c - concurrent A/AAAA resolution with TTLs on a c-ares channel.
 *
 * Every name gets two queries (A, AAAA) sent at once; one poll() loop drives
 * the channel with ares_process_fd() until every query has called back or
 * the call's deadline passes (then the rest are cancelled and report
 * -ETIMEDOUT), so a dead resolver costs one timeout, not one per name.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dnsmsg.h"
#include "log.h"
#include "resolver.h"

/* More addresses than this for one name and family are dropped: the
 * per-name cap is far lower and a DNS answer over UDP rarely holds more. */
#define MAX_ADDRS	64

struct edpg_resolver {
	ares_channel ch;
	int timeout_ms;
};

struct query {
	struct edpg_name_result *res;
	char name[EDPG_DNS_MAX];	/* as asked, without a trailing dot */
	int family;
	int status;		/* ARES_* */
	size_t *pending;
};

int edpg_resolver_parse_server(const char *s, int *family, uint8_t addr[16], uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *p = NULL, *end;
	size_t hl;

	*port = 53;
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hl = end - s - 1;
		s++;
		if (end[1] == ':')
			p = end + 2;
		*family = AF_INET6;
	} else if (strchr(s, ':') != strrchr(s, ':')) {
		/* Two colons or more: a bare IPv6 address, no port. */
		hl = strlen(s);
		*family = AF_INET6;
	} else {
		end = strchr(s, ':');
		hl = end ? (size_t)(end - s) : strlen(s);
		if (end)
			p = end + 1;
		*family = AF_INET;
	}
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(*family, host, addr) != 1)
		return -EINVAL;
	if (p) {
		char *e;
		unsigned long v;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &e, 10);
		if (errno || *e || !v || v > 65535)
			return -EINVAL;
		*port = (uint16_t)v;
	}
	return 0;
}

static int set_servers(ares_channel ch, const char *const *servers, size_t n)
{
	struct ares_addr_port_node *nodes;
	int err = 0, rc;

	nodes = calloc(n, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint8_t a[16];
		uint16_t port;
		int fam;

		err = edpg_resolver_parse_server(servers[i], &fam, a, &port);
		if (err) {
			err = edpg_err(-EINVAL, "bad resolver address '%s': want ADDR, ADDR:PORT or [V6ADDR]:PORT",
				       servers[i] ? servers[i] : "");
			goto out;
		}
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
		nodes[i].family = fam;
		if (fam == AF_INET)
			memcpy(&nodes[i].addr.addr4, a, 4);
		else
			memcpy(&nodes[i].addr.addr6, a, 16);
		nodes[i].udp_port = port;
		nodes[i].tcp_port = port;
	}
	rc = ares_set_servers_ports(ch, nodes);
	if (rc != ARES_SUCCESS)
		err = edpg_err(rc == ARES_ENOMEM ? -ENOMEM : -EIO, "cannot set resolvers: %s",
			       ares_strerror(rc));
out:
	free(nodes);
	return err;
}

int edpg_resolver_new(struct edpg_resolver **r, const char *const *servers, size_t nservers,
		      int timeout_ms)
{
	struct ares_options o = { 0 };
	struct edpg_resolver *res;
	int rc, err = 0;

	*r = NULL;
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	res->timeout_ms = timeout_ms > 0 ? timeout_ms : EDPG_RESOLVER_DEF_TIMEOUT_MS;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		free(res);
		return edpg_err(-EIO, "c-ares: %s", ares_strerror(rc));
	}
	/*
	 * Two tries per server, the second with twice the first's timeout
	 * (c-ares doubles it per round): a third of the deadline for the
	 * first try lets both fit in it.  ares_query() never appends search
	 * domains, so a name means exactly itself.
	 */
	o.timeout = res->timeout_ms / 3 > 0 ? res->timeout_ms / 3 : 1;
	o.tries = 2;
	rc = ares_init_options(&res->ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		err = edpg_err(rc == ARES_ENOMEM ? -ENOMEM : -EIO, "c-ares: %s", ares_strerror(rc));
		res->ch = NULL;
		goto out;
	}
	if (servers && nservers)
		err = set_servers(res->ch, servers, nservers);
out:
	if (err) {
		edpg_resolver_free(res);
		return err;
	}
	*r = res;
	return 0;
}

void edpg_resolver_free(struct edpg_resolver *r)
{
	if (!r)
		return;
	if (r->ch)
		ares_destroy(r->ch);
	ares_library_cleanup();
	free(r);
}

static int add_answer(struct edpg_name_result *res, int family, const void *addr, uint32_t ttl)
{
	struct edpg_answer *t;
	size_t l = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < res->nanswers; i++) {
		struct edpg_answer *a = &res->answers[i];

		if (a->addr.family == family && !memcmp(a->addr.addr, addr, l)) {
			if (ttl > a->ttl)
				a->ttl = ttl;
			return 0;
		}
	}
	t = realloc(res->answers, (res->nanswers + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	res->answers = t;
	t += res->nanswers++;
	memset(t, 0, sizeof(*t));
	t->addr.family = family;
	t->addr.plen = family == AF_INET ? 32 : 128;
	memcpy(t->addr.addr, addr, l);
	t->ttl = ttl;
	return 0;
}

/*
 * The answer is read by dnsmsg.c, the parser the snooped answers go
 * through (and the fuzzer), not by ares_parse_a_reply(): c-ares checks the
 * id, the question and the server's address, but takes a message without
 * QR (a query echoed back with records in it) as an answer and lets a CNAME
 * loop name addresses.  One parser means one meaning of "an address for
 * this name": the answer section only, reached from the question through
 * CNAMEs, at the minimum TTL along the chain, TTLs >= 2^31 as 0 and capped
 * at EDPG_DNS_MAX_TTL.  An answer that is no answer is a server problem
 * (-EAGAIN), never "no such name".
 */
static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	struct edpg_addr *addrs = NULL;
	struct edpg_dns_msg m;
	uint32_t *ttls = NULL;
	size_t n = 0;
	int rc, err = 0;

	(void)timeouts;
	(*q->pending)--;
	q->status = status;
	if (status != ARES_SUCCESS)
		return;
	if (alen < 0 || edpg_dns_parse(abuf, alen, &m)) {
		q->status = ARES_EBADRESP;
		return;
	}
	if (m.qtype != (q->family == AF_INET ? EDPG_DNS_T_A : EDPG_DNS_T_AAAA) ||
	    strcasecmp(m.qname, q->name)) {
		rc = ARES_EBADRESP;
		goto out;
	}
	err = edpg_dns_addresses(&m, q->name, &addrs, &ttls, &n);
	if (err) {
		rc = err == -ENOMEM ? ARES_ENOMEM : ARES_EBADRESP;
		goto out;
	}
	rc = ARES_ENODATA;
	for (size_t i = 0; i < n && i < MAX_ADDRS && !err; i++) {
		if (addrs[i].family != q->family)
			continue;
		err = add_answer(q->res, q->family, addrs[i].addr, ttls[i]);
		rc = err ? ARES_ENOMEM : ARES_SUCCESS;
	}
out:
	q->status = rc;
	free(addrs);
	free(ttls);
	edpg_dns_msg_free(&m);
}

static int ares_to_errno(int st)
{
	switch (st) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return -ENOENT;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:	/* our deadline */
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	case ARES_ENOMEM:
		return -ENOMEM;
	case ARES_EBADNAME:
		return -EINVAL;
	default:		/* SERVFAIL, REFUSED, FORMERR, a bad answer... */
		return -EAGAIN;
	}
}

/* A name's status from its two queries: any address wins; otherwise a
 * server problem beats "no such name" (the name may well exist). */
static int name_status(const struct edpg_name_result *res, int st4, int st6)
{
	int e4 = ares_to_errno(st4), e6 = ares_to_errno(st6);

	if (res->nanswers)
		return 0;
	if (e4 == -ENOMEM || e6 == -ENOMEM)
		return -ENOMEM;
	if (e4 && e4 != -ENOENT)
		return e4;
	if (e6 && e6 != -ENOENT)
		return e6;
	return -ENOENT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drive the channel until nothing is pending or @deadline (ms) passes. */
static int run_loop(ares_channel ch, size_t *pending, int64_t deadline)
{
	while (*pending) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval maxtv, tv, *tvp;
		int64_t left = deadline - now_ms();
		int bits, nfd = 0, rc, ms;

		if (left <= 0) {
			/* Calls every outstanding callback with ARES_ECANCELLED. */
			ares_cancel(ch);
			break;
		}
		bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;

			/* Not c-ares' ARES_GETSOCK_* macros: they shift a
			 * signed 1 into bit 31 for the last socket (UB). */
			if ((unsigned int)bits & (1U << i))
				ev |= POLLIN;
			if ((unsigned int)bits & (1U << (i + ARES_GETSOCK_MAXNUM)))
				ev |= POLLOUT;
			if (!ev)
				continue;
			pfd[nfd].fd = socks[i];
			pfd[nfd].events = ev;
			pfd[nfd].revents = 0;
			nfd++;
		}
		maxtv.tv_sec = left / 1000;
		maxtv.tv_usec = (left % 1000) * 1000;
		tvp = ares_timeout(ch, &maxtv, &tv);
		ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
		rc = poll(pfd, nfd, ms);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return edpg_err(-errno, "resolver: poll");
		}
		if (!rc) {
			/* Nothing to read: let c-ares retry or time queries out. */
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < nfd; i++) {
			/* An error (ICMP port unreachable...) is reported on
			 * the next read, which is how c-ares learns it. */
			bool rd = pfd[i].revents & (POLLIN | POLLERR | POLLHUP);
			bool wr = pfd[i].revents & POLLOUT;

			if (rd || wr)
				ares_process_fd(ch, rd ? pfd[i].fd : ARES_SOCKET_BAD,
						wr ? pfd[i].fd : ARES_SOCKET_BAD);
		}
	}
	return 0;
}

int edpg_resolver_resolve(struct edpg_resolver *r, const char *const *names, size_t n,
			  struct edpg_name_result *out)
{
	struct query *q = NULL;
	size_t pending = 0;
	int err = 0;

	memset(out, 0, n * sizeof(*out));
	if (!n)
		return 0;
	q = calloc(2 * n, sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out[i].name = names[i];
		for (int k = 0; k < 2; k++) {
			struct query *qq = &q[2 * i + k];

			qq->res = &out[i];
			qq->family = k ? AF_INET6 : AF_INET;
			qq->pending = &pending;
			qq->status = ARES_EBADNAME;
			if (names[i] && strlen(names[i]) < EDPG_DNS_MAX) {
				size_t l = strlen(names[i]);

				if (l && names[i][l - 1] == '.')
					l--;
				memcpy(qq->name, names[i], l);
				qq->name[l] = '\0';
			}
		}
		if (!names[i] || !*names[i] || strlen(names[i]) >= EDPG_DNS_MAX)
			continue;
		/* Counted before the call: c-ares may call back from inside it. */
		pending += 2;
		ares_query(r->ch, names[i], 1 /* IN */, 1 /* A */, on_answer, &q[2 * i]);
		ares_query(r->ch, names[i], 1 /* IN */, 28 /* AAAA */, on_answer, &q[2 * i + 1]);
	}
	err = run_loop(r->ch, &pending, now_ms() + r->timeout_ms);
	if (pending) {
		/* Only after a poll failure: no callback may outlive @q. */
		ares_cancel(r->ch);
	}
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++)
		out[i].status = name_status(&out[i], q[2 * i].status, q[2 * i + 1].status);
out:
	if (err)
		edpg_name_results_free(out, n);
	free(q);
	return err;
}

void edpg_name_results_free(struct edpg_name_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(res[i].answers);
		res[i].answers = NULL;
		res[i].nanswers = 0;
	}
}
