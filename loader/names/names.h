/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * names.h - the live destination table: every (group, name, address) that
 * DNS resolution, snooped answers or the last-known-good cache put there,
 * with its expiry (expiry.c).  Pure data: no sink, no libbpf, no netlink.
 *
 * Times in the table are seconds of one clock chosen by the caller (the
 * daemon: CLOCK_MONOTONIC, which the data path's last_used stamps also
 * use; one-shot commands: the wall clock).  @wall_off converts them for the
 * cache file, which holds wall-clock seconds: wall = t + wall_off.
 *
 * Cached entries are the last-known-good answers: until their name is
 * confirmed (resolved, or seen in a snooped answer) they never expire, so
 * a router that boots with the WAN down keeps enforcing them.  Once the
 * name is confirmed they expire like any other entry.
 */
#ifndef EDPG_NAMES_H
#define EDPG_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrcache.h"
#include "expiry.h"
#include "policy.h"
#include "state.h"

struct edpg_names {
	const struct edpg_policy *p;
	struct edpg_dst_table t;
	int64_t wall_off;
	/* The policy's DNS names (pointers into p), and per name whether an
	 * answer confirmed it since the table was made. */
	const char **names;
	bool *confirmed;
	size_t nnames;
	/*
	 * Addresses that left the table (expired or evicted), oldest first,
	 * at most EDPG_RETIRED_MAX; `expires` is when each left.  A Cloud
	 * Connector keeps using the address it resolved for up to 24 h, so
	 * `doctor` needs to tell "still holds an address the name returned
	 * earlier" from "connects to a host the rules lack".
	 */
	struct edpg_cache_entry *retired;
	size_t nretired;
};

#define EDPG_RETIRED_MAX 256

/*
 * The DNS questions gateways asked lately (seen by the snooper on the LAN
 * ingress), for names of the policy: an answer is taken only when it
 * answers one of them, from the same gateway MAC and port, with the same
 * id, name and type.  The oldest is overwritten when the ring is full; a
 * question is good for EDPG_QUESTION_LIFE seconds and for one answer.
 */
#define EDPG_MAX_QUESTIONS	512
#define EDPG_QUESTION_LIFE	15

struct edpg_question {
	char qname[EDPG_DNS_MAX];
	uint64_t until;		/* table seconds; 0 = free or used */
	uint16_t id;
	uint16_t qtype;
	uint16_t port;
	uint8_t mac[6];
};

struct edpg_questions {
	struct edpg_question v[EDPG_MAX_QUESTIONS];
	size_t next;
};

/* What changed, for the one log line per change. */
enum edpg_names_change {
	EDPG_CH_ADDED,
	EDPG_CH_REFRESHED,
	EDPG_CH_EXPIRED,
	EDPG_CH_EVICTED,
};

typedef void (*edpg_names_log_fn)(void *ctx, enum edpg_names_change ch,
				  const struct edpg_names *n, const struct edpg_dst_entry *e,
				  uint64_t now);

/* Table for @p (kept by pointer: it must outlive the table). */
int edpg_names_init(struct edpg_names *n, const struct edpg_policy *p, int64_t wall_off);
void edpg_names_free(struct edpg_names *n);
/* Index of @name among the policy's names (case-insensitive, a trailing
 * dot ignored), or -ENOENT. */
int edpg_names_index(const struct edpg_names *n, const char *name);
/* Bitmap of the groups that list @name. */
uint64_t edpg_names_groups_of(const struct edpg_policy *p, const char *name);

/*
 * @na answers (@addrs with @ttls) for @name from @src at @now: added to or
 * refreshed in every group that lists @name, then each group's cap applied.
 * Confirms the name.  Returns the number of entries added or evicted (0 =
 * nothing the sinks need to see), -ENOENT for a name of no group, -errno.
 */
int edpg_names_answer(struct edpg_names *n, const char *name, const struct edpg_addr *addrs,
		      const uint32_t *ttls, size_t na, enum edpg_dst_source src, uint64_t now,
		      edpg_names_log_fn log, void *ctx);
/*
 * A snooped DNS payload: one message (UDP) or length-prefixed messages
 * (TCP segment).  Answers whose question is a name of a group are added as
 * SRC_SNOOPED.  With @qs, only an answer to a question in @qs sent from
 * @mac port @port counts (the question is used up); without, any answer
 * does (a snooper that sees no questions).  Returns changes as
 * edpg_names_answer() (summed), 0 for an answer about other names,
 * -EPERM for an answer to no question asked, -EBADMSG/-EINVAL for what is
 * not a good answer.
 */
int edpg_names_snooped(struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		       uint16_t port, const uint8_t *data, size_t len, bool tcp, uint64_t now,
		       edpg_names_log_fn log, void *ctx);
/*
 * A snooped question payload from @mac port @port (UDP message or TCP
 * segment): each question for a name of the policy goes into @qs.
 * Returns the number kept, -EBADMSG/-EINVAL for what is not a question.
 */
int edpg_names_asked(const struct edpg_names *n, struct edpg_questions *qs, const uint8_t mac[6],
		     uint16_t port, const uint8_t *data, size_t len, bool tcp, uint64_t now);
/* The data path used @addr at @when (table seconds). */
void edpg_names_used(struct edpg_names *n, const struct edpg_addr *addr, uint64_t when);
/* Remove entries gone at @now (unconfirmed cache entries stay).  Number
 * removed or -ENOMEM. */
int edpg_names_expire(struct edpg_names *n, uint64_t now, edpg_names_log_fn log, void *ctx);
/* Earliest expiry of an entry that can expire (UINT64_MAX: none). */
uint64_t edpg_names_next_expiry(const struct edpg_names *n);

/* Copy the entries of @old (a table of the previous policy) into @n (a
 * table for a new one), for the names @n's policy still lists. */
int edpg_names_carry_over(struct edpg_names *n, const struct edpg_names *old);

/* Compile input: every name with its addresses in the table. */
int edpg_names_resolved(const struct edpg_names *n, struct edpg_resolved **out, size_t *nout);

/* The cache <-> the table.  Loading adds every cached address of a name
 * the policy still lists, to every group listing it, as SRC_CACHE. */
int edpg_names_load_cache(struct edpg_names *n, const char *path, uint64_t now);
int edpg_names_save_cache(const struct edpg_names *n, const char *path);
/* The cache file's text for the table (malloc'ed), without writing it. */
int edpg_names_cache_text(const struct edpg_names *n, char **out, size_t *len);

/*
 * Attach/apply: cache first, then one resolution of every name (unless
 * @from_cache); answers are added, a name that fails keeps its cached
 * addresses, and an address still within its expiry is never dropped.  The
 * result is saved as the cache (unless @from_cache) and returned as
 * compile input.
 */
int edpg_names_resolve_once(const struct edpg_policy *p, const char *cache_path, bool from_cache,
			    const char *const *servers, size_t nservers,
			    struct edpg_resolved **out, size_t *nout);

/*
 * The data path's last_used stamps (CLOCK_MONOTONIC_COARSE ns, 0 = none),
 * @ns[i] for entry i of the table (n->t.v): the daemon's table clock must
 * be CLOCK_MONOTONIC.  A stamp only ever moves an entry's last_used on.
 */
void edpg_names_used_stamps(struct edpg_names *n, const uint64_t *ns);

#endif
