/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * seen.h - which DNS name gave a gateway an address: the answers the
 * snooper saw, for every name the gateways asked, in the rules or not.
 *
 * `edpgate learn` joins it with the refused attempts of edpg_learn, so a
 * destination the rules lack is shown by the name the gateway used, and an
 * address no answer explains is shown as such (hard-coded in the gateway).
 *
 * Bounded: EDPG_SEEN_MAX entries, one per (gateway, address), the oldest
 * replaced first.  The daemon keeps it in STATE/dns.seen (one line per
 * entry: MAC ADDRESS NAME UNIXTIME), so it survives a restart and its
 * size on disk is bounded too (about 300 bytes a line at most).
 */
#ifndef EDPG_SEEN_H
#define EDPG_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define EDPG_SEEN_MAX	4096

struct edpg_seen_ent {
	uint8_t mac[6];
	struct edpg_addr addr;
	char name[EDPG_DNS_MAX];
	int64_t at;		/* wall-clock seconds of the answer */
};

struct edpg_seen {
	struct edpg_seen_ent *v;
	size_t n;
	bool dirty;		/* changed since the last save */
};

int edpg_seen_init(struct edpg_seen *s);
void edpg_seen_free(struct edpg_seen *s);
/* Record that @name answered @a to @mac at @at; the entry of that pair is
 * refreshed, else the oldest entry makes room when the table is full. */
int edpg_seen_note(struct edpg_seen *s, const uint8_t mac[6], const struct edpg_addr *a,
		   const char *name, int64_t at);
/*
 * Every address of a DNS answer (UDP payload, or TCP segment data with its
 * length prefixes) sent to @mac, under the name it asked: the answer's
 * question, CNAMEs followed.  Returns the addresses noted or -errno.
 */
int edpg_seen_answer(struct edpg_seen *s, const uint8_t mac[6], const uint8_t *data, size_t len,
		     bool tcp, int64_t at);
/* The entry for (@mac, @a), else the latest for @a from any gateway, else NULL. */
const struct edpg_seen_ent *edpg_seen_find(const struct edpg_seen *s, const uint8_t mac[6],
					   const struct edpg_addr *a);
/* Text form (the file), and back; a bad line is skipped, not fatal: the
 * table is a hint, and a damaged file must not stop the daemon. */
int edpg_seen_format(const struct edpg_seen *s, char **out, size_t *len);
int edpg_seen_parse(struct edpg_seen *s, const char *text, size_t len);
/* STATE/dns.seen: load (-ENOENT when absent) and save (atomic). */
int edpg_seen_load(struct edpg_seen *s, const char *state_dir);
int edpg_seen_save(struct edpg_seen *s, const char *state_dir);

#endif
