/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * site.h - what edpgate keeps in etcd, and how (the key layout).
 *
 *   P/fleet/rules                     the fleet's rules file (optional)
 *   P/sites/S/rules                   a per-site override (optional)
 *   P/sites/S/gateways                the pointer: "edpgate-gateways 1 GEN N LEN SUM"
 *   P/sites/S/gwdoc/GEN/000000..N-1   the site's gateways file, in N chunks
 *   P/sites/S/learned/ROUTER/ADDR     "NAME TTL SOURCE", under ROUTER's lease
 *
 * The gateways are the gateways-file text (so every word of its grammar
 * is stored as is), cut into chunks far below etcd's request limit
 * (1.5 MiB by default), written under a new generation GEN first; then one
 * transaction flips the pointer (if nobody flipped it since it was read)
 * and deletes the previous generation.  A watcher of the pointer reads the
 * chunks at the revision of the flip: it sees the whole old list or the
 * whole new one, never half of an import, whatever its size, and the
 * transaction has two operations (far from etcd's 128).
 */
#ifndef EDPG_SITE_H
#define EDPG_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "storeconf.h"

#define EDPG_SITE_CHUNK		(256 * 1024)	/* bytes of text per chunk */

/* P/sites/S/@what (or P/@what with a NULL site) into @buf. */
int edpg_site_key(char *buf, size_t len, const struct edpg_store_conf *c, const char *site,
		  const char *what);

struct edpg_site_doc {
	char *text;		/* NUL-terminated; "" when the site has none yet */
	size_t len;
	int64_t mod_rev;	/* of the pointer; 0 = no pointer yet */
	int64_t rev;		/* the store's revision it was read at */
	char gen[40];
};

/* The site's gateways at @rev (0: now). */
int edpg_site_gateways_get(struct edpg_etcd *e, const struct edpg_store_conf *c, int64_t rev,
			   struct edpg_site_doc *d);
/*
 * Replace the site's gateways by @text, if the pointer is still at
 * @base's mod_rev (-ESTALE otherwise: read again and redo the change).
 * @new_rev: the revision of the flip.
 */
int edpg_site_gateways_put(struct edpg_etcd *e, const struct edpg_store_conf *c,
			   const struct edpg_site_doc *base, const char *text, size_t len,
			   int64_t *new_rev);
void edpg_site_doc_free(struct edpg_site_doc *d);

/* The pointer's value, and its parsing (pure; unit-tested). */
uint64_t edpg_site_sum(const char *text, size_t len);
int edpg_site_ptr_format(char *buf, size_t len, const char *gen, size_t nchunks, size_t tlen,
			 uint64_t sum);
int edpg_site_ptr_parse(const char *s, char *gen, size_t genlen, size_t *nchunks, size_t *tlen,
			uint64_t *sum);

#endif
