// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * site.c - the site's gateways in etcd: chunks, then one pointer flip
 * (site.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "site.h"

#define PTR_MAGIC "edpgate-gateways 1"

int edpg_site_key(char *buf, size_t len, const struct edpg_store_conf *c, const char *site,
		  const char *what)
{
	int n = site ? snprintf(buf, len, "%s/sites/%s/%s", c->prefix, site, what) :
		       snprintf(buf, len, "%s/%s", c->prefix, what);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* FNV-1a, 64 bits: a torn or mixed read is caught, not an attacker. */
uint64_t edpg_site_sum(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int edpg_site_ptr_format(char *buf, size_t len, const char *gen, size_t nchunks, size_t tlen,
			 uint64_t sum)
{
	int n = snprintf(buf, len, PTR_MAGIC " %s %zu %zu %016" PRIx64 "\n", gen, nchunks, tlen,
			 sum);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int edpg_site_ptr_parse(const char *s, char *gen, size_t genlen, size_t *nchunks, size_t *tlen,
			uint64_t *sum)
{
	char g[64];
	int end = 0;

	if (strncmp(s, PTR_MAGIC " ", sizeof(PTR_MAGIC)))
		return -EPROTO;
	s += sizeof(PTR_MAGIC);
	if (sscanf(s, "%63[0-9a-f-] %zu %zu %" SCNx64 "%n", g, nchunks, tlen, sum, &end) != 4 ||
	    (s[end] && s[end] != '\n') || strlen(g) >= genlen ||
	    *nchunks != (*tlen + EDPG_SITE_CHUNK - 1) / EDPG_SITE_CHUNK)
		return -EPROTO;
	strcpy(gen, g);
	return 0;
}

void edpg_site_doc_free(struct edpg_site_doc *d)
{
	free(d->text);
	memset(d, 0, sizeof(*d));
}

int edpg_site_gateways_get(struct edpg_etcd *e, const struct edpg_store_conf *c, int64_t rev,
			   struct edpg_site_doc *d)
{
	char key[512], what[128];
	struct edpg_kvs ptr = {}, ch = {};
	size_t nchunks, tlen, off = 0;
	uint64_t sum;
	int err;

	memset(d, 0, sizeof(*d));
	err = edpg_site_key(key, sizeof(key), c, c->site, "gateways");
	err = err ?: edpg_etcd_range(e, key, false, rev, &ptr);
	if (err)
		return err;
	d->rev = ptr.rev;
	if (!ptr.n) {
		/* No site document yet: no gateway enrolled. */
		d->text = strdup("");
		err = d->text ? 0 : -ENOMEM;
		goto out;
	}
	d->mod_rev = ptr.v[0].mod_rev;
	err = edpg_site_ptr_parse(ptr.v[0].val, d->gen, sizeof(d->gen), &nchunks, &tlen, &sum);
	if (err) {
		fprintf(stderr, "edpgate: error: %s holds no gateways pointer this edpgate reads\n", key);
		goto out;
	}
	snprintf(what, sizeof(what), "gwdoc/%s/", d->gen);
	err = edpg_site_key(key, sizeof(key), c, c->site, what);
	/* At the pointer's answer revision: the chunks of exactly that flip. */
	err = err ?: edpg_etcd_range(e, key, true, ptr.rev, &ch);
	if (err)
		goto out;
	d->text = malloc(tlen + 1);
	if (!d->text) {
		err = -ENOMEM;
		goto out;
	}
	/* Keys sort by their zero-padded index. */
	for (size_t i = 0; i < ch.n && ch.n == nchunks; i++) {
		if (off + ch.v[i].len > tlen)
			break;
		memcpy(d->text + off, ch.v[i].val, ch.v[i].len);
		off += ch.v[i].len;
	}
	d->text[off] = '\0';
	d->len = off;
	if (ch.n != nchunks || off != tlen || edpg_site_sum(d->text, off) != sum) {
		fprintf(stderr, "edpgate: error: the gateways of site %s in the store are not whole (generation %s: %zu of %zu chunks, %zu of %zu bytes)\n",
			c->site, d->gen, ch.n, nchunks, off, tlen);
		err = -EPROTO;
	}
out:
	edpg_kvs_free(&ptr);
	edpg_kvs_free(&ch);
	if (err)
		edpg_site_doc_free(d);
	return err;
}

int edpg_site_gateways_put(struct edpg_etcd *e, const struct edpg_store_conf *c,
			   const struct edpg_site_doc *base, const char *text, size_t len,
			   int64_t *new_rev)
{
	char pkey[512], ckey[512], oldp[512], gen[40], what[160], val[256];
	size_t nchunks = (len + EDPG_SITE_CHUNK - 1) / EDPG_SITE_CHUNK;
	struct edpg_etcd_put put;
	struct timespec ts;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Unique per writer and instant: two writers never share chunks. */
	snprintf(gen, sizeof(gen), "%llx-%x-%lx", (unsigned long long)ts.tv_sec,
		 (unsigned)ts.tv_nsec, (unsigned long)getpid());
	err = edpg_site_key(pkey, sizeof(pkey), c, c->site, "gateways");
	if (err)
		return err;
	for (size_t i = 0; i < nchunks; i++) {
		size_t n = len - i * EDPG_SITE_CHUNK;

		snprintf(what, sizeof(what), "gwdoc/%s/%06zu", gen, i);
		err = edpg_site_key(ckey, sizeof(ckey), c, c->site, what);
		err = err ?: edpg_etcd_put(e, ckey, text + i * EDPG_SITE_CHUNK,
					   n > EDPG_SITE_CHUNK ? EDPG_SITE_CHUNK : n, 0);
		if (err)
			goto undo;
	}
	err = edpg_site_ptr_format(val, sizeof(val), gen, nchunks, len, edpg_site_sum(text, len));
	if (err)
		goto undo;
	put = (struct edpg_etcd_put){ pkey, val, strlen(val) };
	if (base->gen[0]) {
		snprintf(what, sizeof(what), "gwdoc/%s/", base->gen);
		err = edpg_site_key(oldp, sizeof(oldp), c, c->site, what);
		if (err)
			goto undo;
	}
	err = edpg_etcd_txn_cas(e, pkey, base->mod_rev, &put, 1, base->gen[0] ? oldp : NULL,
				new_rev);
	/* Any other failure of the transaction may have flipped it: keep. */
	if (err != -ESTALE)
		return err;
undo:
	/* Chunks no pointer names: best effort, they are invisible anyway. */
	snprintf(what, sizeof(what), "gwdoc/%s/", gen);
	if (!edpg_site_key(ckey, sizeof(ckey), c, c->site, what))
		edpg_etcd_delete(e, ckey, true);
	return err;
}
