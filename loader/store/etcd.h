/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * etcd.h - an etcd v3 client over its documented JSON gateway (the
 * grpc-gateway of etcd >= 3.4: POST /v3/kv/range, /v3/kv/put, /v3/kv/txn,
 * /v3/watch, /v3/lease/grant, /v3/lease/keepalive, /v3/auth/authenticate;
 * keys and values base64), with libcurl and json-c.
 *
 * One handle is used by one thread.  Requests go to the current endpoint
 * and, when it cannot be reached, to the next ones in turn; every call
 * returns 0 or -errno and leaves a sentence in edpg_etcd_error():
 *   -EHOSTUNREACH  no endpoint answered
 *   -EACCES        the credentials may not do that (etcd RBAC)
 *   -ENODATA       the revision asked for was compacted
 *   -ESTALE        a transaction's compare failed (someone changed it)
 *   -EPROTO        an answer that is not what the API documents
 */
#ifndef EDPG_ETCD_H
#define EDPG_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storeconf.h"

struct edpg_etcd;

struct edpg_kv {
	char *key;
	char *val;		/* NUL-terminated for convenience */
	size_t len;
	int64_t mod_rev, create_rev, lease;
};

struct edpg_kvs {
	struct edpg_kv *v;
	size_t n;
	int64_t rev;		/* the store's revision the answer is from */
};

int edpg_etcd_open(struct edpg_etcd **e, const struct edpg_store_conf *c);
void edpg_etcd_close(struct edpg_etcd *e);
const char *edpg_etcd_error(const struct edpg_etcd *e);
/* Cap on one request (ms); the default suits a CLI (5 s). */
void edpg_etcd_set_timeout(struct edpg_etcd *e, long ms);

/* @key alone (@prefix false) or every key under it, at @rev (0: now). */
int edpg_etcd_range(struct edpg_etcd *e, const char *key, bool prefix, int64_t rev,
		    struct edpg_kvs *out);
void edpg_kvs_free(struct edpg_kvs *k);
int edpg_etcd_put(struct edpg_etcd *e, const char *key, const void *val, size_t len,
		  int64_t lease);
int edpg_etcd_delete(struct edpg_etcd *e, const char *key, bool prefix);

/* One put of a transaction. */
struct edpg_etcd_put {
	const char *key;
	const void *val;
	size_t len;
};

/*
 * One transaction: if @key's mod_revision is @expect (0: the key does not
 * exist), the @puts and the deletion of every key under @del_prefix
 * (NULL: none); -ESTALE when the compare fails.  @rev: the revision
 * of the change.
 */
int edpg_etcd_txn_cas(struct edpg_etcd *e, const char *key, int64_t expect,
		      const struct edpg_etcd_put *puts, size_t nputs, const char *del_prefix,
		      int64_t *rev);

int edpg_etcd_lease_grant(struct edpg_etcd *e, int64_t ttl, int64_t *id);
/* -ENOENT: the lease is gone (expired): grant a new one. */
int edpg_etcd_lease_keepalive(struct edpg_etcd *e, int64_t id);

enum edpg_etcd_ev { EDPG_ETCD_PUT, EDPG_ETCD_DELETE };

/*
 * A watch's news: @nev events of revision up to @rev (0 events: the watch
 * was created, or progress).  Return non-zero to stop the watch.
 */
typedef int (*edpg_etcd_watch_fn)(void *ctx, int64_t rev, const enum edpg_etcd_ev *types,
				  const struct edpg_kv *kvs, size_t nev);

/*
 * Watch @key (or the keys under it: @prefix) from @start_rev for at most
 * @ms milliseconds; returns 0 when the time is up or @fn stopped it,
 * -ENODATA when @start_rev was compacted (resynchronise in full), or
 * another error.  @stop (may be NULL) is polled: non-zero ends it early.
 */
int edpg_etcd_watch(struct edpg_etcd *e, const char *key, bool prefix, int64_t start_rev,
		    long ms, edpg_etcd_watch_fn fn, void *ctx, volatile int *stop);

/* Base64 (RFC 4648, with padding): malloc'd, NUL-terminated. */
char *edpg_b64_encode(const void *buf, size_t len);
int edpg_b64_decode(const char *s, char **out, size_t *len);

#endif
