// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fleet.c - the daemon's watcher and publisher threads (fleet.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "fleet.h"
#include "log.h"
#include "rules.h"
#include "site.h"
#include "state.h"

#define WATCH_MS	10000	/* one watch request, then a health read */
#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	8000
#define QUEUE_MAX	4096

struct edpg_fleet {
	struct edpg_store_conf c;
	char state_dir[PATH_MAX];
	pthread_t watcher, publisher;
	bool watcher_up, publisher_up;
	volatile int stop;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* watcher -> loop */
	bool gw_changed;
	struct edpg_learned *in;
	size_t nin, capin;
	/* loop -> publisher */
	struct edpg_learned *out;
	size_t nout, capout;
	/* the watcher's own */
	struct edpg_fleet_status st;
	char learned_prefix[512], own_prefix[700], ptr_key[512];
	char fleet_rules_key[512], site_rules_key[512];
	int64_t rules_rev[2];		/* mod revisions of the two rules keys seen */
};

static void msleep_stop(struct edpg_fleet *f, long ms)
{
	for (; ms > 0 && !f->stop; ms -= 100)
		usleep(100000);
}

static void notify(struct edpg_fleet *f)
{
	uint64_t one = 1;

	if (write(f->efd, &one, sizeof(one)) < 0)
		edpg_debug("fleet: eventfd: %s", strerror(errno));
}

static void status_write(struct edpg_fleet *f)
{
	char path[PATH_MAX], buf[1024];
	int n;

	edpg_state_path(path, sizeof(path), f->state_dir, EDPG_STATE_STORE);
	n = snprintf(buf, sizeof(buf),
		     "state %s\nsince %" PRId64 "\nrevision %" PRId64 "\ngeneration %s\nsite %s\nrouter %s\nresyncs %" PRIu64 "\nerror %s\n",
		     f->st.connected ? "connected" : "unreachable", f->st.since, f->st.revision,
		     f->st.gen[0] ? f->st.gen : "-", f->c.site, f->c.router, f->st.resyncs,
		     f->st.error[0] ? f->st.error : "-");
	if (edpg_write_atomic(path, buf, n))
		edpg_debug("fleet: cannot write %s", path);
}

static void set_state(struct edpg_fleet *f, bool connected, const char *err)
{
	bool changed = connected != f->st.connected || !f->st.since;

	snprintf(f->st.error, sizeof(f->st.error), "%s", err ? err : "");
	if (changed) {
		f->st.connected = connected;
		f->st.since = time(NULL);
		if (connected)
			edpg_info("store: connected to etcd, site %s at revision %" PRId64, f->c.site,
				  f->st.revision);
		else
			edpg_warn("store: etcd unreachable (%s); enforcing the last-known-good state, retrying",
				  err ? err : "?");
	}
	status_write(f);
}

/*
 * The site's gateways document to the local gateways file when it is
 * another than the file holds; under the state-dir lock, so a CLI
 * enrolment on this router never interleaves with it.
 */
static int apply_doc(struct edpg_fleet *f, const struct edpg_site_doc *d)
{
	char path[PATH_MAX], *cur = NULL;
	size_t clen = 0;
	int fd, err;

	edpg_state_path(path, sizeof(path), f->state_dir, EDPG_STATE_GATEWAYS);
	fd = edpg_lock(f->state_dir);
	if (fd < 0)
		return fd;
	err = edpg_read_file(path, &cur, &clen);
	if (err == -ENOENT)
		err = 0;
	if (!err && (!cur || clen != d->len || memcmp(cur, d->text, clen))) {
		err = edpg_write_atomic(path, d->text, d->len);
		if (!err) {
			pthread_mutex_lock(&f->mu);
			f->gw_changed = true;
			pthread_mutex_unlock(&f->mu);
			notify(f);
		}
	}
	edpg_unlock(fd);
	free(cur);
	if (!err)
		snprintf(f->st.gen, sizeof(f->st.gen), "%s", d->gen);
	return err;
}

/* "NAME TTL SOURCE" of another router's key under learned/. */
static void take_learned(struct edpg_fleet *f, const struct edpg_kv *kv)
{
	struct edpg_learned l = {};
	const char *a;
	char addr[64];
	int src;

	if (strncmp(kv->key, f->learned_prefix, strlen(f->learned_prefix)) ||
	    !strncmp(kv->key, f->own_prefix, strlen(f->own_prefix)))
		return;
	a = strrchr(kv->key, '/');
	if (!a || snprintf(addr, sizeof(addr), "%s", a + 1) >= (int)sizeof(addr) ||
	    edpg_addr_parse(addr, &l.addr, false) ||
	    sscanf(kv->val, "%255s %" SCNu32 " %d", l.name, &l.ttl, &src) != 3)
		return;
	l.source = src;
	pthread_mutex_lock(&f->mu);
	if (f->nin == f->capin && f->capin < QUEUE_MAX) {
		size_t cap = f->capin ? f->capin * 2 : 64;
		struct edpg_learned *v = realloc(f->in, cap * sizeof(*v));

		if (v) {
			f->in = v;
			f->capin = cap;
		}
	}
	if (f->nin < f->capin)
		f->in[f->nin++] = l;
	pthread_mutex_unlock(&f->mu);
}

/*
 * The rules data of the store: the site's override, else the fleet's.
 * Parsed first (a broken one is refused and logged, the old rules stay),
 * then written to STATE/rules.store under the lock; none at all leaves
 * the local rules file in charge.  The daemon reloads either way.
 */
static int sync_rules(struct edpg_fleet *f, struct edpg_etcd *e)
{
	struct edpg_kvs site = {}, fleet = {};
	const struct edpg_kv *kv;
	char path[PATH_MAX], *cur = NULL;
	bool changed = false;
	int64_t revs[2];
	size_t clen = 0;
	int err, fd;

	err = edpg_etcd_range(e, f->site_rules_key, false, 0, &site);
	err = err ?: edpg_etcd_range(e, f->fleet_rules_key, false, 0, &fleet);
	if (err)
		goto out;
	revs[0] = site.n ? site.v[0].mod_rev : 0;
	revs[1] = fleet.n ? fleet.v[0].mod_rev : 0;
	if (revs[0] == f->rules_rev[0] && revs[1] == f->rules_rev[1])
		goto out;
	kv = site.n ? &site.v[0] : fleet.n ? &fleet.v[0] : NULL;
	edpg_state_path(path, sizeof(path), f->state_dir, EDPG_STATE_STORE_RULES);
	if (kv) {
		struct edpg_policy p = {};
		struct edpg_diags d = {};
		int perr = edpg_rules_parse(&p, kv->key, kv->val, kv->len, &d);

		if (perr || d.nerrors) {
			char line[1024];

			for (size_t i = 0; i < d.n; i++) {
				edpg_diags_format(&d.v[i], line, sizeof(line));
				edpg_warn("%s", line);
			}
			edpg_warn("store: the rules in %s are invalid; keeping the rules in force", kv->key);
		}
		edpg_diags_free(&d);
		edpg_policy_free(&p);
		if (perr || d.nerrors) {
			memcpy(f->rules_rev, revs, sizeof(revs));	/* said once */
			goto out;
		}
	}
	fd = edpg_lock(f->state_dir);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	edpg_read_file(path, &cur, &clen);	/* absent: NULL */
	if (kv && (!cur || clen != kv->len || memcmp(cur, kv->val, clen))) {
		err = edpg_write_atomic(path, kv->val, kv->len);
		changed = !err;
	} else if (!kv && cur) {
		err = unlink(path) ? -errno : 0;
		changed = !err;
	}
	edpg_unlock(fd);
	if (changed) {
		edpg_info("store: rules from %s", kv ? kv->key : "the local file (none in the store)");
		pthread_mutex_lock(&f->mu);
		f->gw_changed = true;
		pthread_mutex_unlock(&f->mu);
		notify(f);
	}
	if (!err)
		memcpy(f->rules_rev, revs, sizeof(revs));
out:
	free(cur);
	edpg_kvs_free(&site);
	edpg_kvs_free(&fleet);
	return err;
}

/* Everything again: the gateways and the other routers' addresses. */
static int resync(struct edpg_fleet *f, struct edpg_etcd *e)
{
	struct edpg_site_doc d;
	struct edpg_kvs kvs;
	int err;

	/* The rules first: the gateways are parsed against them. */
	err = sync_rules(f, e);
	err = err ?: edpg_site_gateways_get(e, &f->c, 0, &d);
	if (err)
		return err;
	f->st.revision = d.rev;
	err = apply_doc(f, &d);
	edpg_site_doc_free(&d);
	if (err)
		return err;
	err = edpg_etcd_range(e, f->learned_prefix, true, f->st.revision, &kvs);
	if (err)
		return err;
	for (size_t i = 0; i < kvs.n; i++)
		take_learned(f, &kvs.v[i]);
	if (kvs.n)
		notify(f);
	edpg_kvs_free(&kvs);
	f->st.resyncs++;
	return 0;
}

struct watch_state {
	struct edpg_fleet *f;
	bool ptr_changed;
};

static int on_events(void *ctx, int64_t rev, const enum edpg_etcd_ev *types,
		     const struct edpg_kv *kvs, size_t nev)
{
	struct watch_state *w = ctx;
	bool learned = false;

	for (size_t i = 0; i < nev; i++) {
		if (!strcmp(kvs[i].key, w->f->ptr_key) || !strcmp(kvs[i].key, w->f->site_rules_key))
			w->ptr_changed = true;
		else if (types[i] == EDPG_ETCD_PUT) {
			take_learned(w->f, &kvs[i]);
			learned = true;
		}
	}
	if (learned)
		notify(w->f);
	/*
	 * Only events move the watch revision: the header of "created" or
	 * of a progress message is the store's, including changes of other
	 * sites this watch was never sent.  A quiet site's router thus
	 * watches from an older revision and, after a compaction, reads
	 * everything again once; never does it skip an event.
	 */
	if (nev && rev > w->f->st.revision)
		w->f->st.revision = rev;
	/* A new gateways list: leave the watch, fetch it, watch again. */
	return w->ptr_changed;
}

static void *watcher(void *arg)
{
	struct edpg_fleet *f = arg;
	struct edpg_etcd *e = NULL;
	long backoff = BACKOFF_MIN_MS;
	char site_prefix[512];
	bool synced = false;
	int err;

	if (edpg_etcd_open(&e, &f->c))
		return NULL;
	edpg_site_key(site_prefix, sizeof(site_prefix), &f->c, f->c.site, "");
	while (!f->stop) {
		struct watch_state w = { .f = f };

		if (!synced) {
			err = resync(f, e);
			if (err) {
				set_state(f, false, edpg_etcd_error(e));
				msleep_stop(f, backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			synced = true;
			backoff = BACKOFF_MIN_MS;
			set_state(f, true, NULL);
		}
		err = edpg_etcd_watch(e, site_prefix, true, f->st.revision + 1, WATCH_MS, on_events,
				      &w, &f->stop);
		if (err == -ENODATA) {
			edpg_warn("store: revision %" PRId64 " was compacted; resynchronising in full",
				  f->st.revision);
			synced = false;
			continue;
		}
		if (!err && !w.ptr_changed) {
			/* A quiet watch proves nothing about the link: one
			 * small read does (and catches a missed flip). */
			struct edpg_kvs k;

			edpg_etcd_set_timeout(e, 2000);
			err = edpg_etcd_range(e, f->ptr_key, false, 0, &k);
			/* The fleet's rules are outside the site's watch. */
			err = err ?: sync_rules(f, e);
			edpg_etcd_set_timeout(e, 5000);
			if (!err) {
				char gen[40] = "";
				size_t a, b;
				uint64_t s;

				if (k.n && !edpg_site_ptr_parse(k.v[0].val, gen, sizeof(gen), &a, &b, &s) &&
				    strcmp(gen, f->st.gen))
					w.ptr_changed = true;
				edpg_kvs_free(&k);
			}
		}
		if (!err && w.ptr_changed) {
			struct edpg_site_doc d;

			err = sync_rules(f, e);
			err = err ?: edpg_site_gateways_get(e, &f->c, 0, &d);
			if (!err) {
				if (d.rev > f->st.revision)
					f->st.revision = d.rev;
				err = apply_doc(f, &d);
				edpg_site_doc_free(&d);
				if (!err)
					status_write(f);
			}
		}
		if (err && !f->stop) {
			set_state(f, false, edpg_etcd_error(e));
			/* Whatever happened meanwhile: read it all again. */
			synced = false;
			msleep_stop(f, backoff);
		}
	}
	edpg_etcd_close(e);
	return NULL;
}

static void *publisher(void *arg)
{
	struct edpg_fleet *f = arg;
	struct edpg_etcd *e = NULL;
	struct edpg_learned *batch = NULL;
	int64_t lease = 0;
	time_t last_keep = 0;

	if (edpg_etcd_open(&e, &f->c))
		return NULL;
	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		struct timespec ts;
		size_t n;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!f->nout)
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		batch = f->out;
		n = f->nout;
		f->out = NULL;
		f->nout = f->capout = 0;
		pthread_mutex_unlock(&f->mu);
		if (lease && time(NULL) - last_keep >= EDPG_FLEET_LEASE / 3) {
			if (edpg_etcd_lease_keepalive(e, lease) == -ENOENT)
				lease = 0;	/* expired while cut off: a new one */
			else
				last_keep = time(NULL);
		}
		if (n && !lease && !edpg_etcd_lease_grant(e, EDPG_FLEET_LEASE, &lease))
			last_keep = time(NULL);
		for (size_t i = 0; i < n && lease; i++) {
			char key[800], a[64], val[320];
			int len;

			edpg_addr_format(&batch[i].addr, a, sizeof(a));
			snprintf(key, sizeof(key), "%s%s", f->own_prefix, a);
			len = snprintf(val, sizeof(val), "%s %" PRIu32 " %d", batch[i].name,
				       batch[i].ttl, batch[i].source);
			if (edpg_etcd_put(e, key, val, len, lease))
				edpg_debug("store: cannot publish %s: %s", a, edpg_etcd_error(e));
		}
		/* Unreachable: what was learned meanwhile is not published
		 * (the peer learns it itself, or at the next refresh). */
		free(batch);
		batch = NULL;
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	edpg_etcd_close(e);
	return NULL;
}

int edpg_fleet_start(struct edpg_fleet **out, const struct edpg_store_conf *c,
		     const char *state_dir)
{
	struct edpg_fleet *f;
	int err;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->c = *c;
	snprintf(f->state_dir, sizeof(f->state_dir), "%s", state_dir);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	err = f->efd < 0 ? -errno : 0;
	err = err ?: edpg_site_key(f->ptr_key, sizeof(f->ptr_key), c, c->site, "gateways");
	err = err ?: edpg_site_key(f->learned_prefix, sizeof(f->learned_prefix), c, c->site,
				   "learned/");
	err = err ?: edpg_site_key(f->site_rules_key, sizeof(f->site_rules_key), c, c->site, "rules");
	err = err ?: edpg_site_key(f->fleet_rules_key, sizeof(f->fleet_rules_key), c, NULL,
				   "fleet/rules");
	if (!err) {
		snprintf(f->own_prefix, sizeof(f->own_prefix), "%s%s/", f->learned_prefix, c->router);
		f->st.since = 0;
		status_write(f);
		err = -pthread_create(&f->watcher, NULL, watcher, f);
		f->watcher_up = !err;
	}
	if (!err) {
		err = -pthread_create(&f->publisher, NULL, publisher, f);
		f->publisher_up = !err;
	}
	if (err) {
		edpg_fleet_stop(f);
		return edpg_err(err, "cannot start the store threads");
	}
	edpg_info("store: site %s, router %s, etcd %s%s", c->site, c->router, c->urls[0],
		  c->nurls > 1 ? " (and more)" : "");
	*out = f;
	return 0;
}

void edpg_fleet_stop(struct edpg_fleet *f)
{
	if (!f)
		return;
	f->stop = 1;
	pthread_mutex_lock(&f->mu);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->watcher_up)
		pthread_join(f->watcher, NULL);
	if (f->publisher_up)
		pthread_join(f->publisher, NULL);
	if (f->efd >= 0)
		close(f->efd);
	free(f->in);
	free(f->out);
	free(f);
}

int edpg_fleet_fd(const struct edpg_fleet *f)
{
	return f ? f->efd : -1;
}

int edpg_fleet_take(struct edpg_fleet *f, bool *gateways, struct edpg_learned **v, size_t *n)
{
	uint64_t x;

	if (read(f->efd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&f->mu);
	*gateways = f->gw_changed;
	f->gw_changed = false;
	*v = f->in;
	*n = f->nin;
	f->in = NULL;
	f->nin = f->capin = 0;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void edpg_fleet_publish(struct edpg_fleet *f, const char *name, const struct edpg_addr *a,
			uint32_t ttl, int source)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->nout == f->capout && f->capout < QUEUE_MAX) {
		size_t cap = f->capout ? f->capout * 2 : 64;
		struct edpg_learned *v = realloc(f->out, cap * sizeof(*v));

		if (v) {
			f->out = v;
			f->capout = cap;
		}
	}
	if (f->nout < f->capout) {
		struct edpg_learned *l = &f->out[f->nout++];

		snprintf(l->name, sizeof(l->name), "%s", name);
		l->addr = *a;
		l->ttl = ttl;
		l->source = source;
	}
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int edpg_fleet_status_read(const char *state_dir, struct edpg_fleet_status *s)
{
	char path[PATH_MAX], *text = NULL, *save = NULL;
	size_t len;
	int err;

	memset(s, 0, sizeof(*s));
	edpg_state_path(path, sizeof(path), state_dir, EDPG_STATE_STORE);
	err = edpg_read_file(path, &text, &len);
	if (err)
		return err;
	s->present = true;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, ' ');

		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(l, "state"))
			s->connected = !strcmp(v, "connected");
		else if (!strcmp(l, "since"))
			s->since = strtoll(v, NULL, 10);
		else if (!strcmp(l, "revision"))
			s->revision = strtoll(v, NULL, 10);
		else if (!strcmp(l, "resyncs"))
			s->resyncs = strtoull(v, NULL, 10);
		else if (!strcmp(l, "generation"))
			snprintf(s->gen, sizeof(s->gen), "%s", v);
		else if (!strcmp(l, "site"))
			snprintf(s->site, sizeof(s->site), "%s", v);
		else if (!strcmp(l, "router"))
			snprintf(s->router, sizeof(s->router), "%s", v);
		else if (!strcmp(l, "error"))
			snprintf(s->error, sizeof(s->error), "%s", strcmp(v, "-") ? v : "");
	}
	free(text);
	return 0;
}
